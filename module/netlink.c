// SPDX-License-Identifier: GPL-2.0
/*
 * The generic netlink family "ptmark", described by
 * Documentation/netlink/specs/ptmark.yaml (the attribute and command
 * numbers are its uapi header, linux/ptmark_netlink.h):
 *
 *   features-get	do: ABI version, features word and feature names
 *   ptes-get		dump: the records PTMARK_IOC_SCAN gives, one message
 *			each, for a range of any size
 *   vma-get		dump: one summary per VMA, pages counted per kind,
 *			and on request the VMA's guard runs before it
 *   marker-ntf		event on the "events" group: markers installed or
 *			removed through PTMARK_IOC_MARKER
 *   pin-ntf		event on the same group: a pin session pinned a range
 *			or let it go (released, or the session ended)
 *
 * Both dumps drive the ioctl's walker, ptmark_walk(), and resume where
 * the last message ended: the walk state lives between the dump's calls,
 * the target's mm with it (held by mmgrab(), its pages only while it is
 * walked).  ptes-get walks a batch of records at a time, so a dump of the
 * whole address space costs one batch of memory however many messages it
 * takes; vma-get keeps no records at all, its walk counting each run
 * into the VMA's summary as it goes.
 *
 * Access.  The ioctls are reached through /dev/ptmark, a root-only node;
 * the family's equivalent of that gate is GENL_ADMIN_PERM on the ops that
 * read a process.  Past that gate every read goes through
 * ptmark_nl_get_target(), which finds the mm with the very functions the
 * ioctls use, so a target the ioctl may not scan is refused here the same
 * way, and pfns, and the VMA offsets that are pfns in a COW pfnmap, are
 * shown only to CAP_SYS_ADMIN as there.  The events group, which shows
 * any process's ranges, needs CAP_SYS_ADMIN besides CAP_NET_ADMIN to
 * join.  The family has no ops that change memory: those stay ioctls.
 */
#include <linux/capability.h>
#include <linux/file.h>
#include <linux/mm.h>
#include <linux/pid.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/utsname.h>
#include <net/genetlink.h>
#include <linux/ptmark_netlink.h>

#include "compat.h"
#include "ptmark.h"

#if PTMARK_HAVE_NETLINK

/* Records walked per mmap-lock hold; a dump message takes ~100 bytes each. */
#define PTMARK_NL_BATCH		512

/* What a read op needs besides access to the target (see above). */
#define PTMARK_NL_READ_FLAGS	GENL_ADMIN_PERM

enum ptmark_nl_mcgrp {
	PTMARK_NL_MCGRP_EVENTS,
};

static const struct genl_multicast_group ptmark_nl_mcgrps[] = {
	/*
	 * Events name other processes' pids and ranges, which a dump shows
	 * only to a caller that may read them (CAP_SYS_PTRACE); a group can
	 * only ask for CAP_NET_ADMIN and CAP_SYS_ADMIN at join, so it asks
	 * both: no listener learns more than a scan by /dev/ptmark's opener
	 * (CAP_SYS_ADMIN) would show it.
	 */
	[PTMARK_NL_MCGRP_EVENTS] = {
		.name = PTMARK_MCGRP_EVENTS,
		.flags = GENL_MCAST_CAP_NET_ADMIN | GENL_MCAST_CAP_SYS_ADMIN,
	},
};

static struct genl_family ptmark_nl_family;

/* ---- features ---------------------------------------------------------- */

static int ptmark_nl_put_features(struct sk_buff *msg)
{
	const struct ptmark_feature_name *f;
	u64 have = ptmark_features();
	struct nlattr *nest;

	if (nla_put_u32(msg, PTMARK_A_FEATURES_ABI, PTMARK_ABI_VERSION) ||
	    nla_put_uint(msg, PTMARK_A_FEATURES_FEATURES, have) ||
	    nla_put_u32(msg, PTMARK_A_FEATURES_PAGE_SIZE, PAGE_SIZE) ||
	    nla_put_u32(msg, PTMARK_A_FEATURES_PMD_SIZE, PMD_SIZE) ||
	    nla_put_string(msg, PTMARK_A_FEATURES_RELEASE,
			   init_utsname()->release))
		return -EMSGSIZE;

	for (f = ptmark_feature_names; f->name; f++) {
		nest = nla_nest_start(msg, PTMARK_A_FEATURES_FEATURE);
		if (!nest ||
		    nla_put_string(msg, PTMARK_A_FEATURE_NAME, f->name) ||
		    nla_put_uint(msg, PTMARK_A_FEATURE_BIT, f->bit) ||
		    nla_put_u8(msg, PTMARK_A_FEATURE_SUPPORTED, !!(have & f->bit)))
			return -EMSGSIZE;
		nla_nest_end(msg, nest);
	}
	return 0;
}

static int ptmark_nl_features_doit(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	hdr = genlmsg_put_reply(msg, info, &ptmark_nl_family, 0,
				PTMARK_CMD_FEATURES_GET);
	if (!hdr || ptmark_nl_put_features(msg)) {
		nlmsg_free(msg);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);
}

/* ---- the target of a read --------------------------------------------- */

/* Where the four request attributes sit in an op's attribute set. */
struct ptmark_nl_req {
	unsigned int pid, pidfd, start, len;
};

static const struct ptmark_nl_req ptmark_nl_ptes_req = {
	PTMARK_A_PTES_PID, PTMARK_A_PTES_PIDFD, PTMARK_A_PTES_START,
	PTMARK_A_PTES_LEN,
};

static const struct ptmark_nl_req ptmark_nl_vma_req = {
	PTMARK_A_VMA_PID, PTMARK_A_VMA_PIDFD, PTMARK_A_VMA_START,
	PTMARK_A_VMA_LEN,
};

/*
 * The one place a read finds its target: the mm of the process named by
 * a pid or a pidfd, with the ioctls' own lookup and access check.
 */
static struct mm_struct *ptmark_nl_get_target(struct nlattr *pid,
					      struct nlattr *pidfd,
					      struct netlink_ext_ack *extack)
{
	struct nlattr *which = pid ?: pidfd;
	struct mm_struct *mm;

	if (!pid == !pidfd) {
		NL_SET_ERR_MSG(extack, "name the target by exactly one of pid and pidfd");
		return ERR_PTR(-EINVAL);
	}
	mm = pid ? ptmark_get_mm_pid(nla_get_u32(pid)) :
		   ptmark_get_mm_pidfd(nla_get_s32(pidfd), PTMARK_ACCESS_READ);
	if (!IS_ERR(mm))
		return mm;

	switch (PTR_ERR(mm)) {
	case -ESRCH:
		NL_SET_ERR_MSG_ATTR(extack, which, "no such process, or it has no memory");
		break;
	case -EACCES:
		NL_SET_ERR_MSG_ATTR(extack, which, "no access to the target's memory");
		break;
	case -EBADF:
		NL_SET_ERR_MSG_ATTR(extack, which, "not a pidfd");
		break;
	}
	return mm;
}

/* [start, end) of a request: page-aligned, inside the user address space. */
static int ptmark_nl_get_range(struct nlattr **tb,
			       const struct ptmark_nl_req *req,
			       struct mm_struct *mm, unsigned long *startp,
			       unsigned long *endp, struct netlink_ext_ack *extack)
{
	struct nlattr *a_start = tb[req->start], *a_len = tb[req->len];
	u64 start = a_start ? nla_get_uint(a_start) : 0;
	u64 len;

	if (!PAGE_ALIGNED(start)) {
		NL_SET_ERR_MSG_ATTR(extack, a_start, "start is not page-aligned");
		return -EINVAL;
	}
	if (start >= mm->task_size) {
		NL_SET_ERR_MSG_ATTR(extack, a_start, "start is past the user address space");
		return -EINVAL;
	}
	len = a_len ? nla_get_uint(a_len) : mm->task_size - start;
	if (!len || !PAGE_ALIGNED(len)) {
		NL_SET_ERR_MSG_ATTR(extack, a_len, "len is 0 or not page-aligned");
		return -EINVAL;
	}
	if (start + len < start || start + len > mm->task_size) {
		NL_SET_ERR_MSG_ATTR(extack, a_len, "range ends past the user address space");
		return -EINVAL;
	}
	*startp = start;
	*endp = start + len;
	return 0;
}

/* ---- dumps ------------------------------------------------------------- */

/* Pages of one VMA by kind, indexed by their PTMARK_A_VMA_* attribute. */
struct ptmark_nl_vma_sum {
	bool open;			/* a VMA is being counted */
	bool run_open;			/* [guard_start, guard_end) not queued */
	struct ptmark_record vma;	/* its header record */
	unsigned long guard_start;	/* the last guard run seen */
	unsigned long guard_end;
	u64 count[PTMARK_A_VMA_OTHER + 1];
};

/* The PTMARK_BIT_* ptmark_nl_vma_count() reads. */
#define PTMARK_NL_VMA_BITS	(PTMARK_BIT_MAYBE_PINNED | PTMARK_BIT_PMD | \
				 PTMARK_BIT_PUD | PTMARK_BIT_UFFD_WP)

/*
 * Guard runs a vma-get message carries at most: it fits the smallest
 * buffer a dump is given (NLMSG_GOODSIZE) with room to spare.
 */
#define PTMARK_NL_GUARD_RUNS	128

/*
 * Guard runs vma-get queues before it stops its walk to send them, four
 * messages' worth: each stop costs a new walk (the mmap lock, the VMA
 * looked up again, the tables walked down to the run the sink refused).
 */
#define PTMARK_NL_GUARD_QUEUE	(4 * PTMARK_NL_GUARD_RUNS)

struct ptmark_nl_dump {
	struct ptmark_walk w;		/* w.mm is mmgrab()ed */
	unsigned long end;
	unsigned int sent;		/* records of w.recs already used */
	/* vma-get only */
	struct ptmark_nl_vma_sum sum;
	bool want_runs;			/* send the guard runs too */
	bool closing;			/* a header ended the VMA counted */
	unsigned int nr_runs;		/* queued in runs[] */
	unsigned int sent_runs;		/* of those, already sent */
	u64 *runs;			/* PTMARK_NL_GUARD_QUEUE (start, end) */
};

struct ptmark_nl_ctx {
	struct ptmark_nl_dump *dump;
};

static struct ptmark_nl_ctx *ptmark_nl_ctx(struct netlink_callback *cb)
{
	BUILD_BUG_ON(sizeof(struct ptmark_nl_ctx) > sizeof(cb->ctx));
	return (struct ptmark_nl_ctx *)cb->ctx;
}

static bool ptmark_nl_vma_sink(struct ptmark_walk *w,
			       const struct ptmark_record *r);

static int ptmark_nl_dump_start(struct netlink_callback *cb,
				const struct ptmark_nl_req *req, bool dense,
				bool summary, bool want_runs)
{
	struct nlattr **tb = genl_info_dump(cb)->attrs;
	struct ptmark_nl_dump *dump;
	unsigned long start, end;
	struct mm_struct *mm;
	int err;

	mm = ptmark_nl_get_target(tb[req->pid], tb[req->pidfd], cb->extack);
	if (IS_ERR(mm))
		return PTR_ERR(mm);
	err = ptmark_nl_get_range(tb, req, mm, &start, &end, cb->extack);
	if (err)
		goto out_mm;

	err = -ENOMEM;
	dump = kzalloc_obj(*dump, GFP_KERNEL);
	if (!dump)
		goto out_mm;
	if (summary) {
		/*
		 * vma-get: runs are counted as they are walked, not kept, by
		 * the bits ptmark_nl_vma_count() looks at alone, each VMA's
		 * after a header.
		 */
		dump->w.sink = ptmark_nl_vma_sink;
		dump->w.vma_headers = true;
		dump->w.bits_mask = PTMARK_NL_VMA_BITS;
		if (want_runs) {
			dump->runs = kvmalloc_array(2 * PTMARK_NL_GUARD_QUEUE,
						    sizeof(*dump->runs),
						    GFP_KERNEL);
			if (!dump->runs) {
				kfree(dump);
				goto out_mm;
			}
		}
	} else {
		dump->w.recs = kvmalloc_array(PTMARK_NL_BATCH,
					      sizeof(*dump->w.recs), GFP_KERNEL);
		if (!dump->w.recs) {
			kfree(dump);
			goto out_mm;
		}
		dump->w.cap = PTMARK_NL_BATCH;
	}
	dump->w.dense = dense;
	dump->w.show_pfn = capable(CAP_SYS_ADMIN);
	dump->w.last_header = -1UL;
	dump->w.next = start;
	dump->end = end;
	dump->want_runs = want_runs;
	/* Keep the mm, not its pages, between the dump's calls. */
	mmgrab(mm);
	dump->w.mm = mm;
	ptmark_nl_ctx(cb)->dump = dump;
	err = 0;
out_mm:
	mmput(mm);
	return err;
}

static int ptmark_nl_dump_done(struct netlink_callback *cb)
{
	struct ptmark_nl_dump *dump = ptmark_nl_ctx(cb)->dump;

	if (dump) {
		mmdrop(dump->w.mm);
		kvfree(dump->w.recs);
		kvfree(dump->runs);
		kfree(dump);
	}
	return 0;
}

/* The next batch of records into dump->w, after dump->w.next. */
static int ptmark_nl_walk(struct ptmark_nl_dump *dump)
{
	int err;

	if (!mmget_not_zero(dump->w.mm))
		return -ESRCH;	/* the target has exited */
	err = ptmark_walk(&dump->w, dump->end);
	mmput(dump->w.mm);
	return err;
}

static void *ptmark_nl_dump_put(struct sk_buff *skb,
				struct netlink_callback *cb, u8 cmd)
{
	return genlmsg_put(skb, NETLINK_CB(cb->skb).portid,
			   cb->nlh->nlmsg_seq, &ptmark_nl_family, NLM_F_MULTI,
			   cmd);
}

static int ptmark_nl_put_record(struct sk_buff *skb,
				struct netlink_callback *cb,
				const struct ptmark_record *r)
{
	void *hdr = ptmark_nl_dump_put(skb, cb, PTMARK_CMD_PTES_GET);

	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_uint(skb, PTMARK_A_PTES_START, r->start) ||
	    nla_put_uint(skb, PTMARK_A_PTES_NR_PAGES, r->nr_pages) ||
	    nla_put_uint(skb, PTMARK_A_PTES_PFN, r->pfn) ||
	    nla_put_uint(skb, PTMARK_A_PTES_VMA_FLAGS, r->vma_flags) ||
	    nla_put_u32(skb, PTMARK_A_PTES_KIND, r->kind) ||
	    nla_put_u32(skb, PTMARK_A_PTES_MARKER, r->marker) ||
	    nla_put_u32(skb, PTMARK_A_PTES_BITS, r->bits) ||
	    nla_put_u32(skb, PTMARK_A_PTES_AS_FLAGS, r->as_flags)) {
		genlmsg_cancel(skb, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(skb, hdr);
	return 0;
}

static int ptmark_nl_ptes_start(struct netlink_callback *cb)
{
	struct nlattr **tb = genl_info_dump(cb)->attrs;

	return ptmark_nl_dump_start(cb, &ptmark_nl_ptes_req,
				    nla_get_flag(tb[PTMARK_A_PTES_DENSE]),
				    false, false);
}

/*
 * Records go out as PTMARK_IOC_SCAN hands them over: all but the last of
 * a batch, which the next batch may still extend, until the range ends.
 */
static int ptmark_nl_ptes_dumpit(struct sk_buff *skb,
				 struct netlink_callback *cb)
{
	struct ptmark_nl_dump *dump = ptmark_nl_ctx(cb)->dump;
	struct ptmark_walk *w = &dump->w;
	unsigned int ready;
	bool walked;
	int err;

	for (;;) {
		walked = w->next == dump->end;
		ready = walked ? w->nr : (w->nr ? w->nr - 1 : 0);
		for (; dump->sent < ready; dump->sent++) {
			err = ptmark_nl_put_record(skb, cb, &w->recs[dump->sent]);
			if (err)
				return skb->len ?: err;
		}
		if (walked)
			return 0;
		ptmark_walk_keep_last(w);
		dump->sent = 0;
		err = ptmark_nl_walk(dump);
		if (err)
			return err;
	}
}

static void ptmark_nl_vma_count(struct ptmark_nl_vma_sum *sum,
				const struct ptmark_record *r)
{
	u64 *c = sum->count, n = r->nr_pages;

	c[PTMARK_A_VMA_PAGES] += n;
	switch (r->kind) {
	case PTMARK_KIND_NONE:
		c[PTMARK_A_VMA_NONE] += n;
		break;
	case PTMARK_KIND_PRESENT:
		c[PTMARK_A_VMA_PRESENT] += n;
		if (r->bits & PTMARK_BIT_MAYBE_PINNED)
			c[PTMARK_A_VMA_PINNED] += n;
		if (r->bits & (PTMARK_BIT_PMD | PTMARK_BIT_PUD))
			c[PTMARK_A_VMA_HUGE] += n;
		break;
	case PTMARK_KIND_SWAP:
		c[PTMARK_A_VMA_SWAP] += n;
		break;
	case PTMARK_KIND_MIGRATION:
		c[PTMARK_A_VMA_MIGRATION] += n;
		break;
	case PTMARK_KIND_DEVICE_PRIVATE:
	case PTMARK_KIND_DEVICE_EXCLUSIVE:
		c[PTMARK_A_VMA_DEVICE] += n;
		break;
	case PTMARK_KIND_HWPOISON:
		c[PTMARK_A_VMA_HWPOISON] += n;
		break;
	case PTMARK_KIND_MARKER:
		if (r->marker & PTMARK_MARKER_GUARD) {
			c[PTMARK_A_VMA_GUARD] += n;
			if (sum->guard_end != r->start) {
				c[PTMARK_A_VMA_GUARD_RANGES]++;
				sum->guard_start = r->start;
				sum->run_open = true;
			}
			sum->guard_end = r->start + n * PAGE_SIZE;
		}
		if (r->marker & PTMARK_MARKER_UFFD_WP)
			c[PTMARK_A_VMA_UFFD_WP_MARKER] += n;
		if (r->marker & PTMARK_MARKER_POISONED)
			c[PTMARK_A_VMA_POISON_MARKER] += n;
		if (r->marker & PTMARK_MARKER_UNKNOWN)
			c[PTMARK_A_VMA_OTHER] += n;
		break;
	default:
		c[PTMARK_A_VMA_OTHER] += n;
		break;
	}
	if (r->bits & PTMARK_BIT_UFFD_WP)
		c[PTMARK_A_VMA_UFFD_WP] += n;
}

static int ptmark_nl_put_vma(struct sk_buff *skb, struct netlink_callback *cb,
			     const struct ptmark_nl_vma_sum *sum)
{
	const struct ptmark_record *v = &sum->vma;
	void *hdr = ptmark_nl_dump_put(skb, cb, PTMARK_CMD_VMA_GET);
	unsigned int a;

	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_uint(skb, PTMARK_A_VMA_START, v->start) ||
	    nla_put_uint(skb, PTMARK_A_VMA_END, v->start + v->nr_pages * PAGE_SIZE) ||
	    /* 0 unless the caller may see pfns: see ptmark_enter_vma(). */
	    nla_put_uint(skb, PTMARK_A_VMA_PGOFF, v->pfn) ||
	    nla_put_uint(skb, PTMARK_A_VMA_VMA_FLAGS, v->vma_flags) ||
	    nla_put_u32(skb, PTMARK_A_VMA_AS_FLAGS, v->as_flags))
		goto cancel;
	for (a = PTMARK_A_VMA_PAGES; a <= PTMARK_A_VMA_OTHER; a++)
		if (nla_put_uint(skb, a, sum->count[a]))
			goto cancel;
	genlmsg_end(skb, hdr);
	return 0;
cancel:
	genlmsg_cancel(skb, hdr);
	return -EMSGSIZE;
}

/*
 * Send the queued guard runs of the VMA being counted, if any, at most
 * PTMARK_NL_GUARD_RUNS a message.  A message that does not fit is sent
 * by the next call, in the next buffer, after those already sent.
 */
static int ptmark_nl_put_runs(struct sk_buff *skb, struct netlink_callback *cb,
			      struct ptmark_nl_dump *dump)
{
	unsigned int n;
	void *hdr;

	while (dump->sent_runs < dump->nr_runs) {
		n = min_t(unsigned int, dump->nr_runs - dump->sent_runs,
			  PTMARK_NL_GUARD_RUNS);
		hdr = ptmark_nl_dump_put(skb, cb, PTMARK_CMD_VMA_GET);
		if (!hdr)
			return -EMSGSIZE;
		if (nla_put_uint(skb, PTMARK_A_VMA_START, dump->sum.vma.start) ||
		    nla_put(skb, PTMARK_A_VMA_GUARD_RUNS,
			    n * 2 * sizeof(dump->runs[0]),
			    &dump->runs[2 * dump->sent_runs])) {
			genlmsg_cancel(skb, hdr);
			return -EMSGSIZE;
		}
		genlmsg_end(skb, hdr);
		dump->sent_runs += n;
	}
	dump->nr_runs = 0;
	dump->sent_runs = 0;
	return 0;
}

/* Queue the last guard run seen, which no later run extends: room was made. */
static void ptmark_nl_queue_run(struct ptmark_nl_dump *dump)
{
	struct ptmark_nl_vma_sum *sum = &dump->sum;

	if (!dump->want_runs || !sum->run_open)
		return;
	dump->runs[2 * dump->nr_runs] = sum->guard_start;
	dump->runs[2 * dump->nr_runs + 1] = sum->guard_end;
	dump->nr_runs++;
	sum->run_open = false;
}

/*
 * The VMA being counted is complete: its last guard runs, then its
 * summary.  Each step is done once, so that a call that ran out of room
 * can be repeated in the next message buffer.
 */
static int ptmark_nl_vma_close(struct sk_buff *skb, struct netlink_callback *cb,
			       struct ptmark_nl_dump *dump)
{
	int err = 0;

	if (dump->sum.run_open && dump->nr_runs == PTMARK_NL_GUARD_QUEUE)
		err = ptmark_nl_put_runs(skb, cb, dump);
	if (!err) {
		ptmark_nl_queue_run(dump);
		err = ptmark_nl_put_runs(skb, cb, dump);
	}
	if (!err)
		err = ptmark_nl_put_vma(skb, cb, &dump->sum);
	if (!err)
		dump->sum.open = false;
	return err;
}

static bool ptmark_nl_is_guard(const struct ptmark_record *r)
{
	return r->kind == PTMARK_KIND_MARKER &&
	       (r->marker & PTMARK_MARKER_GUARD);
}

/*
 * vma-get's sink (see struct ptmark_walk), called by the walk with the
 * target's mmap lock and maybe a page-table lock held: counts a run into
 * its VMA's summary.  What needs room in the message, a full queue of
 * guard runs or a VMA that the next one's header completes, it leaves to
 * ptmark_nl_vma_dumpit() by refusing the run, unchanged, which the walk
 * hands over again once that is done.
 */
static bool ptmark_nl_vma_sink(struct ptmark_walk *w,
			       const struct ptmark_record *r)
{
	struct ptmark_nl_dump *dump = container_of(w, struct ptmark_nl_dump, w);
	struct ptmark_nl_vma_sum *sum = &dump->sum;

	if (r->kind == PTMARK_KIND_VMA_HEADER) {
		if (sum->open) {
			dump->closing = true;
			return false;
		}
		memset(sum, 0, sizeof(*sum));
		sum->open = true;
		sum->vma = *r;
		return true;
	}
	if (r->kind == PTMARK_KIND_UNMAPPED || !sum->open)
		return true;
	/* A run that does not extend the last one ends it. */
	if (ptmark_nl_is_guard(r) && r->start != sum->guard_end) {
		if (dump->want_runs && sum->run_open &&
		    dump->nr_runs == PTMARK_NL_GUARD_QUEUE)
			return false;
		ptmark_nl_queue_run(dump);
	}
	ptmark_nl_vma_count(sum, r);
	return true;
}

static int ptmark_nl_vma_start(struct netlink_callback *cb)
{
	struct nlattr **tb = genl_info_dump(cb)->attrs;

	return ptmark_nl_dump_start(cb, &ptmark_nl_vma_req, false, true,
				    nla_get_flag(tb[PTMARK_A_VMA_WANT_GUARD_RUNS]));
}

/*
 * The walk counts runs as it goes; between walks go out what the sink
 * left: a full queue of guard runs, and a VMA's last runs and summary
 * once the next header, or the end of the range, completes it.
 */
static int ptmark_nl_vma_dumpit(struct sk_buff *skb,
				struct netlink_callback *cb)
{
	struct ptmark_nl_dump *dump = ptmark_nl_ctx(cb)->dump;
	bool walked;
	int err;

	for (;;) {
		if (dump->nr_runs == PTMARK_NL_GUARD_QUEUE) {
			err = ptmark_nl_put_runs(skb, cb, dump);
			if (err)
				return skb->len ?: err;
		}
		walked = dump->w.next == dump->end;
		if (dump->closing || (walked && dump->sum.open)) {
			err = ptmark_nl_vma_close(skb, cb, dump);
			if (err)
				return skb->len ?: err;
			dump->closing = false;
		}
		if (walked)
			return 0;
		err = ptmark_nl_walk(dump);
		if (err)
			return err;
	}
}

/* ---- events ------------------------------------------------------------ */

/* A new message of event @cmd, or NULL when nobody listens or memory is short. */
static struct sk_buff *ptmark_nl_event_new(u8 cmd, void **hdr)
{
	struct sk_buff *msg;

	if (!genl_has_listeners(&ptmark_nl_family, &init_net,
				PTMARK_NL_MCGRP_EVENTS))
		return NULL;
	msg = genlmsg_new(NLMSG_GOODSIZE, GFP_KERNEL);
	if (!msg)
		return NULL;
	*hdr = genlmsg_put(msg, 0, 0, &ptmark_nl_family, 0, cmd);
	if (!*hdr) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

/* Send what ptmark_nl_event_new() began, unless its attributes did not fit. */
static void ptmark_nl_event_send(struct sk_buff *msg, void *hdr, bool full)
{
	if (full) {
		nlmsg_free(msg);
		return;
	}
	genlmsg_end(msg, hdr);
	genlmsg_multicast(&ptmark_nl_family, msg, 0, PTMARK_NL_MCGRP_EVENTS,
			  GFP_KERNEL);
}

/**
 * ptmark_netlink_notify_marker - tell the "events" group about a marker request
 * @args: the request, as PTMARK_IOC_MARKER took it
 * @pid: the process it was about, in the initial pid namespace
 * @nr_pages: the pages the request reports
 * @err: 0, or the error the request ends with
 */
void ptmark_netlink_notify_marker(const struct ptmark_marker *args,
				  pid_t pid, u64 nr_pages, long err)
{
	struct sk_buff *msg;
	void *hdr;
	bool full;

	/*
	 * An event names one range; a vectored call (start is the array)
	 * has no such range to name, and sends none.
	 */
	if (args->flags & PTMARK_MARKER_F_VECTOR)
		return;
	msg = ptmark_nl_event_new(PTMARK_CMD_MARKER_NTF, &hdr);
	if (!msg)
		return;
	full = nla_put_u32(msg, PTMARK_A_EVENT_PID, pid) ||
	       nla_put_uint(msg, PTMARK_A_EVENT_START, args->start) ||
	       nla_put_uint(msg, PTMARK_A_EVENT_LEN, PAGE_ALIGN(args->len)) ||
	       nla_put_u32(msg, PTMARK_A_EVENT_MARKER, args->marker) ||
	       ((args->flags & PTMARK_MARKER_F_REMOVE) &&
		nla_put_flag(msg, PTMARK_A_EVENT_REMOVE)) ||
	       nla_put_uint(msg, PTMARK_A_EVENT_NR_PAGES, nr_pages) ||
	       nla_put_s32(msg, PTMARK_A_EVENT_ERROR, err);
	ptmark_nl_event_send(msg, hdr, full);
}

/**
 * ptmark_netlink_notify_pin - tell the "events" group about a pinned range
 * @pid: the session's target, in the initial pid namespace
 * @start: first address of the range
 * @nr_pages: its pages, all pinned or all unpinned
 * @unpin: the range was released (by PTMARK_PIN_IOC_RELEASE or the end
 *	of its session), else it was pinned
 */
void ptmark_netlink_notify_pin(pid_t pid, unsigned long start,
			       unsigned long nr_pages, bool unpin)
{
	struct sk_buff *msg;
	void *hdr;
	bool full;

	msg = ptmark_nl_event_new(PTMARK_CMD_PIN_NTF, &hdr);
	if (!msg)
		return;
	full = nla_put_u32(msg, PTMARK_A_EVENT_PID, pid) ||
	       nla_put_uint(msg, PTMARK_A_EVENT_START, start) ||
	       nla_put_uint(msg, PTMARK_A_EVENT_LEN, nr_pages << PAGE_SHIFT) ||
	       (unpin && nla_put_flag(msg, PTMARK_A_EVENT_REMOVE)) ||
	       nla_put_uint(msg, PTMARK_A_EVENT_NR_PAGES, nr_pages);
	ptmark_nl_event_send(msg, hdr, full);
}

/* ---- the family -------------------------------------------------------- */

static const struct nla_policy ptmark_nl_ptes_policy[PTMARK_A_PTES_DENSE + 1] = {
	[PTMARK_A_PTES_PID]	= NLA_POLICY_MIN(NLA_U32, 1),
	[PTMARK_A_PTES_PIDFD]	= NLA_POLICY_MIN(NLA_S32, 0),
	[PTMARK_A_PTES_START]	= { .type = NLA_UINT },
	[PTMARK_A_PTES_LEN]	= { .type = NLA_UINT },
	[PTMARK_A_PTES_DENSE]	= { .type = NLA_FLAG },
};

/* Reply attributes have no policy: strict validation refuses them. */
static const struct nla_policy ptmark_nl_vma_policy[PTMARK_A_VMA_MAX + 1] = {
	[PTMARK_A_VMA_PID]	= NLA_POLICY_MIN(NLA_U32, 1),
	[PTMARK_A_VMA_PIDFD]	= NLA_POLICY_MIN(NLA_S32, 0),
	[PTMARK_A_VMA_START]	= { .type = NLA_UINT },
	[PTMARK_A_VMA_LEN]	= { .type = NLA_UINT },
	[PTMARK_A_VMA_WANT_GUARD_RUNS] = { .type = NLA_FLAG },
};

static const struct genl_split_ops ptmark_nl_ops[] = {
	{
		.cmd	= PTMARK_CMD_FEATURES_GET,
		.doit	= ptmark_nl_features_doit,
		.flags	= GENL_CMD_CAP_DO,
	},
	{
		.cmd	= PTMARK_CMD_PTES_GET,
		.start	= ptmark_nl_ptes_start,
		.dumpit	= ptmark_nl_ptes_dumpit,
		.done	= ptmark_nl_dump_done,
		.policy	= ptmark_nl_ptes_policy,
		.maxattr = ARRAY_SIZE(ptmark_nl_ptes_policy) - 1,
		.flags	= PTMARK_NL_READ_FLAGS | GENL_CMD_CAP_DUMP,
	},
	{
		.cmd	= PTMARK_CMD_VMA_GET,
		.start	= ptmark_nl_vma_start,
		.dumpit	= ptmark_nl_vma_dumpit,
		.done	= ptmark_nl_dump_done,
		.policy	= ptmark_nl_vma_policy,
		.maxattr = ARRAY_SIZE(ptmark_nl_vma_policy) - 1,
		.flags	= PTMARK_NL_READ_FLAGS | GENL_CMD_CAP_DUMP,
	},
};

static struct genl_family ptmark_nl_family __ro_after_init = {
	.name		= PTMARK_FAMILY_NAME,
	.version	= PTMARK_FAMILY_VERSION,
	.module		= THIS_MODULE,
	.parallel_ops	= true,
	.split_ops	= ptmark_nl_ops,
	.n_split_ops	= ARRAY_SIZE(ptmark_nl_ops),
	.resv_start_op	= PTMARK_CMD_MAX + 1,
	.mcgrps		= ptmark_nl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(ptmark_nl_mcgrps),
};

int ptmark_netlink_init(void)
{
	return genl_register_family(&ptmark_nl_family);
}

void ptmark_netlink_exit(void)
{
	genl_unregister_family(&ptmark_nl_family);
}

#else /* !PTMARK_HAVE_NETLINK: no family, "netlink no" in features */

int ptmark_netlink_init(void)
{
	return 0;
}

void ptmark_netlink_exit(void)
{
}

void ptmark_netlink_notify_marker(const struct ptmark_marker *args,
				  pid_t pid, u64 nr_pages, long err)
{
}

void ptmark_netlink_notify_pin(pid_t pid, unsigned long start,
			       unsigned long nr_pages, bool unpin)
{
}

#endif /* PTMARK_HAVE_NETLINK */
