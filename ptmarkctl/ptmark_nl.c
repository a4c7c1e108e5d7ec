// SPDX-License-Identifier: GPL-2.0
/*
 * The libmnl side of the ptmark genetlink family: see ptmark_nl.h.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>

#include "ptmark_nl.h"

/* ptmark_nl_target_request() fills both sets with the same numbers. */
_Static_assert((int)PTMARK_A_PTES_PID == (int)PTMARK_A_VMA_PID &&
	       (int)PTMARK_A_PTES_PIDFD == (int)PTMARK_A_VMA_PIDFD &&
	       (int)PTMARK_A_PTES_START == (int)PTMARK_A_VMA_START &&
	       (int)PTMARK_A_PTES_LEN == (int)PTMARK_A_VMA_LEN,
	       "ptes and vma requests differ");

static struct nlmsghdr *genl_request(void *buf, uint16_t type, uint8_t cmd,
				     uint8_t version, uint16_t flags,
				     uint32_t seq)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct genlmsghdr *genl;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	genl = mnl_nlmsg_put_extra_header(nlh, sizeof(*genl));
	genl->cmd = cmd;
	genl->version = version;
	return nlh;
}

struct nlmsghdr *ptmark_nl_request(struct ptmark_nl *nl, void *buf,
				   uint8_t cmd, bool dump)
{
	return genl_request(buf, nl->family, cmd, PTMARK_FAMILY_VERSION,
			    NLM_F_ACK | (dump ? NLM_F_DUMP : 0), ++nl->seq);
}

struct nlmsghdr *ptmark_nl_target_request(struct ptmark_nl *nl, void *buf,
					  uint8_t cmd, pid_t pid, int pidfd,
					  uint64_t start, uint64_t len)
{
	struct nlmsghdr *nlh = ptmark_nl_request(nl, buf, cmd, true);

	if (pid)
		mnl_attr_put_u32(nlh, PTMARK_A_PTES_PID, pid);
	else
		mnl_attr_put_u32(nlh, PTMARK_A_PTES_PIDFD, pidfd);
	if (len) {
		mnl_attr_put_u64(nlh, PTMARK_A_PTES_START, start);
		mnl_attr_put_u64(nlh, PTMARK_A_PTES_LEN, len);
	}
	return nlh;
}

/* The extack message after @offset bytes of an error or done payload. */
static int extack_attr(const struct nlattr *attr, void *data)
{
	struct ptmark_nl *nl = data;

	if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
	    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
		snprintf(nl->error, sizeof(nl->error), "%s",
			 mnl_attr_get_str(attr));
	return MNL_CB_OK;
}

static void extack_parse(struct ptmark_nl *nl, const struct nlmsghdr *nlh,
			 unsigned int offset)
{
	if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) &&
	    mnl_nlmsg_get_payload_len(nlh) > offset)
		mnl_attr_parse(nlh, offset, extack_attr, nl);
}

/*
 * Replies to one request: the caller's callback and data for its
 * messages, the socket's state for the error and done messages.
 */
struct run_state {
	struct ptmark_nl *nl;
	mnl_cb_t cb;
	void *data;
};

static int on_data(const struct nlmsghdr *nlh, void *data)
{
	struct run_state *st = data;

	return st->cb ? st->cb(nlh, st->data) : MNL_CB_OK;
}

static int on_error(const struct nlmsghdr *nlh, void *data)
{
	const struct nlmsgerr *err = mnl_nlmsg_get_payload(nlh);
	struct run_state *st = data;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*err)) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (!err->error)
		return MNL_CB_STOP;
	/* NETLINK_CAP_ACK: only the request's header is echoed. */
	extack_parse(st->nl, nlh, sizeof(*err));
	errno = -err->error;
	return MNL_CB_ERROR;
}

/* The end of a dump carries the dump's error, if it failed. */
static int on_done(const struct nlmsghdr *nlh, void *data)
{
	struct run_state *st = data;
	int err;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(err))
		return MNL_CB_STOP;
	memcpy(&err, mnl_nlmsg_get_payload(nlh), sizeof(err));
	if (!err)
		return MNL_CB_STOP;
	extack_parse(st->nl, nlh, sizeof(err));
	errno = -err;
	return MNL_CB_ERROR;
}

static const mnl_cb_t ctl_cbs[NLMSG_MIN_TYPE] = {
	[NLMSG_ERROR] = on_error,
	[NLMSG_DONE] = on_done,
};

int ptmark_nl_run(struct ptmark_nl *nl, struct nlmsghdr *req, mnl_cb_t cb,
		  void *data)
{
	static char buf[PTMARK_NL_BUF];
	struct run_state st = { nl, cb, data };
	uint32_t seq = req->nlmsg_seq;
	ssize_t len;
	int ret;

	nl->error[0] = '\0';
	nl->datagrams = 0;
	if (mnl_socket_sendto(nl->sock, req, req->nlmsg_len) < 0)
		return -errno;
	do {
		len = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
		if (len < 0)
			return -errno;
		nl->datagrams++;
		errno = 0;
		ret = mnl_cb_run2(buf, len, seq, nl->portid, on_data, &st,
				  (mnl_cb_t *)ctl_cbs, NLMSG_MIN_TYPE);
	} while (ret > MNL_CB_STOP);
	if (ret < 0)
		return errno ? -errno : -EIO;
	return 0;
}

/* Family id and group ids from a CTRL_CMD_GETFAMILY reply. */
static int family_group(const struct nlattr *attr, void *data)
{
	struct ptmark_nl *nl = data;
	const struct nlattr *a, *name = NULL, *id = NULL;

	mnl_attr_for_each_nested(a, attr) {
		if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GRP_NAME)
			name = a;
		else if (mnl_attr_get_type(a) == CTRL_ATTR_MCAST_GRP_ID)
			id = a;
	}
	if (name && id && !strcmp(mnl_attr_get_str(name), PTMARK_MCGRP_EVENTS))
		nl->events_group = mnl_attr_get_u32(id);
	return MNL_CB_OK;
}

static int family_attr(const struct nlattr *attr, void *data)
{
	struct ptmark_nl *nl = data;

	switch (mnl_attr_get_type(attr)) {
	case CTRL_ATTR_FAMILY_ID:
		nl->family = mnl_attr_get_u16(attr);
		break;
	case CTRL_ATTR_MCAST_GROUPS:
		mnl_attr_parse_nested(attr, family_group, nl);
		break;
	}
	return MNL_CB_OK;
}

static int family_reply(const struct nlmsghdr *nlh, void *data)
{
	return mnl_attr_parse(nlh, sizeof(struct genlmsghdr), family_attr, data);
}

int ptmark_nl_open(struct ptmark_nl *nl)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh;
	int on = 1, ret;

	memset(nl, 0, sizeof(*nl));
	nl->seq = time(NULL);
	nl->sock = mnl_socket_open(NETLINK_GENERIC);
	if (!nl->sock)
		return -errno;
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	nl->portid = mnl_socket_get_portid(nl->sock);
	/* Errors with the kernel's message, without the request echoed. */
	if (mnl_socket_setsockopt(nl->sock, NETLINK_EXT_ACK, &on, sizeof(on)) ||
	    mnl_socket_setsockopt(nl->sock, NETLINK_CAP_ACK, &on, sizeof(on)))
		goto fail;

	nlh = genl_request(buf, GENL_ID_CTRL, CTRL_CMD_GETFAMILY, 1, NLM_F_ACK,
			   ++nl->seq);
	mnl_attr_put_strz(nlh, CTRL_ATTR_FAMILY_NAME, PTMARK_FAMILY_NAME);
	ret = ptmark_nl_run(nl, nlh, family_reply, nl);
	if (ret) {
		ptmark_nl_close(nl);
		return ret;
	}
	if (!nl->family) {
		ptmark_nl_close(nl);
		return -ENOENT;
	}
	return 0;
fail:
	ret = -errno;
	ptmark_nl_close(nl);
	return ret;
}

void ptmark_nl_close(struct ptmark_nl *nl)
{
	if (nl->sock)
		mnl_socket_close(nl->sock);
	nl->sock = NULL;
}

int ptmark_nl_join_events(struct ptmark_nl *nl)
{
	if (!nl->events_group)
		return -ENOENT;
	if (mnl_socket_setsockopt(nl->sock, NETLINK_ADD_MEMBERSHIP,
				  &nl->events_group, sizeof(nl->events_group)))
		return -errno;
	return 0;
}

int ptmark_nl_events(struct ptmark_nl *nl, int timeout_ms, mnl_cb_t cb,
		     void *data)
{
	static char buf[PTMARK_NL_BUF];
	struct pollfd pfd = { .fd = mnl_socket_get_fd(nl->sock), .events = POLLIN };
	int n = 0, ret;
	ssize_t len;

	for (;;) {
		ret = poll(&pfd, 1, n ? 0 : timeout_ms);
		if (ret < 0)
			return -errno;
		if (!ret)
			return n;
		len = mnl_socket_recvfrom(nl->sock, buf, sizeof(buf));
		if (len < 0)
			return -errno;
		if (mnl_cb_run(buf, len, 0, 0, cb, data) < 0)
			return -errno;
		n++;
	}
}

struct parse_state {
	const struct nlattr **tb;
	unsigned int max;
};

static int parse_attr(const struct nlattr *attr, void *data)
{
	struct parse_state *st = data;
	unsigned int type = mnl_attr_get_type(attr);

	if (type <= st->max)
		st->tb[type] = attr;
	return MNL_CB_OK;
}

int ptmark_nl_parse(const struct nlmsghdr *nlh, const struct nlattr **tb,
		    unsigned int max)
{
	struct parse_state st = { tb, max };

	memset(tb, 0, (max + 1) * sizeof(*tb));
	if (mnl_attr_parse(nlh, sizeof(struct genlmsghdr), parse_attr, &st) < 0)
		return -EINVAL;
	return 0;
}

uint64_t ptmark_nl_uint(const struct nlattr *attr)
{
	if (!attr)
		return 0;
	if (mnl_attr_get_payload_len(attr) == sizeof(uint32_t))
		return mnl_attr_get_u32(attr);
	return mnl_attr_get_u64(attr);
}

int ptmark_nl_record(const struct nlmsghdr *nlh, struct ptmark_record *rec)
{
	const struct nlattr *tb[PTMARK_A_PTES_MAX + 1];

	if (ptmark_nl_parse(nlh, tb, PTMARK_A_PTES_MAX) ||
	    !tb[PTMARK_A_PTES_START] || !tb[PTMARK_A_PTES_NR_PAGES] ||
	    !tb[PTMARK_A_PTES_KIND])
		return -EINVAL;
	memset(rec, 0, sizeof(*rec));
	rec->start = ptmark_nl_uint(tb[PTMARK_A_PTES_START]);
	rec->nr_pages = ptmark_nl_uint(tb[PTMARK_A_PTES_NR_PAGES]);
	rec->pfn = ptmark_nl_uint(tb[PTMARK_A_PTES_PFN]);
	rec->vma_flags = ptmark_nl_uint(tb[PTMARK_A_PTES_VMA_FLAGS]);
	rec->kind = mnl_attr_get_u32(tb[PTMARK_A_PTES_KIND]);
	if (tb[PTMARK_A_PTES_MARKER])
		rec->marker = mnl_attr_get_u32(tb[PTMARK_A_PTES_MARKER]);
	if (tb[PTMARK_A_PTES_BITS])
		rec->bits = mnl_attr_get_u32(tb[PTMARK_A_PTES_BITS]);
	if (tb[PTMARK_A_PTES_AS_FLAGS])
		rec->as_flags = mnl_attr_get_u32(tb[PTMARK_A_PTES_AS_FLAGS]);
	return 0;
}

int ptmark_nl_vma(const struct nlmsghdr *nlh, struct ptmark_nl_vma *vma)
{
	const struct nlattr *tb[PTMARK_A_VMA_MAX + 1];
	unsigned int a;

	if (ptmark_nl_parse(nlh, tb, PTMARK_A_VMA_MAX) ||
	    !tb[PTMARK_A_VMA_START] || !tb[PTMARK_A_VMA_END])
		return -EINVAL;
	memset(vma, 0, sizeof(*vma));
	vma->start = ptmark_nl_uint(tb[PTMARK_A_VMA_START]);
	vma->end = ptmark_nl_uint(tb[PTMARK_A_VMA_END]);
	vma->pgoff = ptmark_nl_uint(tb[PTMARK_A_VMA_PGOFF]);
	vma->vma_flags = ptmark_nl_uint(tb[PTMARK_A_VMA_VMA_FLAGS]);
	if (tb[PTMARK_A_VMA_AS_FLAGS])
		vma->as_flags = mnl_attr_get_u32(tb[PTMARK_A_VMA_AS_FLAGS]);
	for (a = PTMARK_A_VMA_PAGES; a <= PTMARK_A_VMA_OTHER; a++)
		vma->count[a] = ptmark_nl_uint(tb[a]);
	return 0;
}
