/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A libmnl client of the ptmark generic netlink family, shared by
 * ptmarkctl and the selftests: open the family, send a request, run the
 * replies (dumps of any length) through a callback, and keep the kernel's
 * extack message of a failure.
 */
#ifndef _PTMARK_NL_H
#define _PTMARK_NL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <libmnl/libmnl.h>
#include <linux/genetlink.h>
#include <linux/ptmark.h>
#include <linux/ptmark_netlink.h>

struct ptmark_nl {
	struct mnl_socket *sock;
	uint16_t family;		/* genetlink id of "ptmark" */
	uint32_t events_group;		/* multicast id of "events" */
	uint32_t portid, seq;
	unsigned long datagrams;	/* received by the last ptmark_nl_run() */
	char error[256];		/* extack message of the last failure */
};

/* Room for any request (and any datagram of a dump). */
#define PTMARK_NL_BUF	65536

/*
 * Open a socket and look the family up: 0, or -errno (-ENOENT when the
 * family is not registered: ptmark.ko not loaded).
 */
int ptmark_nl_open(struct ptmark_nl *nl);
void ptmark_nl_close(struct ptmark_nl *nl);

/* A request of @cmd (NLM_F_REQUEST, and NLM_F_DUMP with @dump) in @buf. */
struct nlmsghdr *ptmark_nl_request(struct ptmark_nl *nl, void *buf,
				   uint8_t cmd, bool dump);

/*
 * Send @req and feed every reply message to @cb until the ack or the end
 * of the dump: 0, or -errno of the kernel (its extack text in nl->error),
 * of @cb returning MNL_CB_ERROR, or of the socket.
 */
int ptmark_nl_run(struct ptmark_nl *nl, struct nlmsghdr *req, mnl_cb_t cb,
		  void *data);

/*
 * A ptes-get or vma-get request for the process @pid (or, with @pid 0,
 * the one behind @pidfd) over [start, start + len), the whole address
 * space when @len is 0.
 */
struct nlmsghdr *ptmark_nl_target_request(struct ptmark_nl *nl, void *buf,
					  uint8_t cmd, pid_t pid, int pidfd,
					  uint64_t start, uint64_t len);

/* Join the "events" group: 0 or -errno. */
int ptmark_nl_join_events(struct ptmark_nl *nl);

/*
 * Wait up to @timeout_ms for multicast messages and run those that came
 * through @cb: how many, or -errno.
 */
int ptmark_nl_events(struct ptmark_nl *nl, int timeout_ms, mnl_cb_t cb,
		     void *data);

/* The attributes of a genetlink message, tb[0..max]: 0 or -EINVAL. */
int ptmark_nl_parse(const struct nlmsghdr *nlh, const struct nlattr **tb,
		    unsigned int max);

/* An NLA_UINT attribute (4 or 8 bytes), 0 when absent. */
uint64_t ptmark_nl_uint(const struct nlattr *attr);

/* A ptes-get reply as the record PTMARK_IOC_SCAN would give: 0 or -EINVAL. */
int ptmark_nl_record(const struct nlmsghdr *nlh, struct ptmark_record *rec);

/* A vma-get reply. */
struct ptmark_nl_vma {
	uint64_t start, end, pgoff, vma_flags;
	uint32_t as_flags;
	uint64_t count[PTMARK_A_VMA_OTHER + 1];	/* by PTMARK_A_VMA_* */
};

int ptmark_nl_vma(const struct nlmsghdr *nlh, struct ptmark_nl_vma *vma);

#endif /* _PTMARK_NL_H */
