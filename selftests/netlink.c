// SPDX-License-Identifier: GPL-2.0
/*
 * The "ptmark" generic netlink family, and ptmarkctl on top of it.
 *
 * The dump must be the scan: on every backing, the records of ptes-get
 * are those PTMARK_IOC_SCAN gives for the same range, run for run and in
 * dense mode page for page, and vma-get's counts are the scan's records
 * summed.  Dumps of thousands of records span many messages and still
 * agree; a stopped child's whole address space agrees too.  Marker
 * requests show up on the "events" group; malformed requests are refused
 * with an extack message; who may dump whom is who may scan whom.  Then
 * ptmarkctl, run as a user runs it, against children of known layout: a
 * guarded region, and threads whose stacks carry guard pages.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#include "kselftest_harness.h"
#include "ptmark_lib.h"
#include "ptmark_nl.h"

static size_t page;
static size_t pmd_pages;

/* Records of a dump, up to @cap of them. */
struct recs {
	struct ptmark_record *r;
	size_t nr, cap;
};

static int add_record(const struct nlmsghdr *nlh, void *data)
{
	struct recs *rs = data;

	if (rs->nr == rs->cap) {
		errno = ENOSPC;
		return MNL_CB_ERROR;
	}
	if (ptmark_nl_record(nlh, &rs->r[rs->nr])) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	rs->nr++;
	return MNL_CB_OK;
}

static void recs_init(struct recs *rs, size_t cap)
{
	rs->r = calloc(cap, sizeof(*rs->r));
	rs->nr = 0;
	rs->cap = cap;
}

/* ptes-get of @pid (or @pidfd with @pid 0); @len 0: everything. */
static int nl_ptes(struct ptmark_nl *nl, pid_t pid, int pidfd, uint64_t start,
		   uint64_t len, bool dense, struct recs *rs)
{
	static char buf[PTMARK_NL_BUF];
	struct nlmsghdr *nlh;

	nlh = ptmark_nl_target_request(nl, buf, PTMARK_CMD_PTES_GET, pid, pidfd,
				       start, len);
	if (dense)
		mnl_attr_put(nlh, PTMARK_A_PTES_DENSE, 0, NULL);
	rs->nr = 0;
	return ptmark_nl_run(nl, nlh, add_record, rs);
}

static int add_vma(const struct nlmsghdr *nlh, void *data)
{
	struct ptmark_nl_vma *v = data;

	if (v->end) {	/* one VMA expected, and one only */
		errno = E2BIG;
		return MNL_CB_ERROR;
	}
	return ptmark_nl_vma(nlh, v) ? MNL_CB_ERROR : MNL_CB_OK;
}

/* vma-get of our own [start, start + len), which one VMA must hold. */
static int nl_one_vma(struct ptmark_nl *nl, const void *start, size_t len,
		      struct ptmark_nl_vma *v)
{
	static char buf[PTMARK_NL_BUF];

	memset(v, 0, sizeof(*v));
	return ptmark_nl_run(nl, ptmark_nl_target_request(nl, buf,
			     PTMARK_CMD_VMA_GET, getpid(), -1,
			     (uintptr_t)start, len), add_vma, v);
}

/* PTMARK_IOC_SCAN of the whole range at once: records, or -errno. */
static long ioctl_scan(int fd, int pidfd, uint64_t start, uint64_t len,
		       bool dense, struct recs *rs)
{
	struct ptmark_scan scan = {
		.size = sizeof(scan),
		.flags = (dense ? PTMARK_SCAN_DENSE : 0) |
			 (pidfd >= 0 ? PTMARK_SCAN_PIDFD : 0),
		.pidfd = pidfd,
		.nr_records = rs->cap,
		.start = start,
		.len = len,
		.records = (uintptr_t)rs->r,
	};

	rs->nr = 0;
	if (ioctl(fd, PTMARK_IOC_SCAN, &scan))
		return -errno;
	if (scan.next != start + len)
		return -ENOSPC;
	rs->nr = scan.nr_records;
	return rs->nr;
}

/* Are the two record lists the same?  The first difference is logged. */
static bool same_records(struct __test_metadata *_metadata,
			 const struct recs *scan, const struct recs *dump)
{
	size_t i;

	for (i = 0; i < scan->nr && i < dump->nr; i++) {
		const struct ptmark_record *a = &scan->r[i], *b = &dump->r[i];

		if (memcmp(a, b, sizeof(*a))) {
			TH_LOG("record %zu: scan %llx+%llu kind %u marker %x bits %x vma %llx pfn %llx, dump %llx+%llu kind %u marker %x bits %x vma %llx pfn %llx",
			       i, a->start, a->nr_pages, a->kind, a->marker,
			       a->bits, a->vma_flags, a->pfn, b->start,
			       b->nr_pages, b->kind, b->marker, b->bits,
			       b->vma_flags, b->pfn);
			return false;
		}
	}
	if (scan->nr != dump->nr) {
		TH_LOG("scan has %zu records, dump %zu", scan->nr, dump->nr);
		return false;
	}
	return true;
}

/* Skip unless the module is loaded; the family and the device then. */
/* Skip where the module registers no family (the device fd @fd asked). */
#define REQUIRE_NETLINK_FEATURE(fd)					\
	do {								\
		struct ptmark_info __info;				\
		ASSERT_EQ(0, ptmark_get_info(fd, &__info));		\
		if (!(__info.features & PTMARK_FEAT_NETLINK))		\
			SKIP(return, "no PTMARK_FEAT_NETLINK: kernel lacks genetlink split ops and NLA_UINT (6.7)"); \
	} while (0)

#define REQUIRE_FAMILY(nl, fd)						\
	do {								\
		int __ret;						\
		PTMARK_REQUIRE_DEVICE(fd);				\
		REQUIRE_NETLINK_FEATURE(fd);				\
		__ret = ptmark_nl_open(nl);				\
		ASSERT_EQ(0, __ret) TH_LOG("family: %s", strerror(-__ret)); \
	} while (0)

/* The family, in its events group, and guard markers ptmark can install. */
#define REQUIRE_MARKER_EVENTS(nl, fd)					\
	do {								\
		struct ptmark_info __info;				\
		REQUIRE_FAMILY(nl, fd);					\
		ASSERT_EQ(0, ptmark_get_info(fd, &__info));		\
		if (!(__info.features & PTMARK_FEAT_GUARD_IOCTL))	\
			SKIP(return, "kernel lacks guard markers ptmark can install (guard_ioctl)"); \
		ASSERT_EQ(0, ptmark_nl_join_events(nl));		\
	} while (0)

static bool guard_works(void *p)
{
	return !madvise(p, page, MADV_GUARD_INSTALL);
}

/*
 * @pages read-write anonymous pages between two PROT_NONE pages, so that
 * their VMA merges with nothing and a listing shows exactly it.
 */
static char *isolated_region(size_t pages)
{
	char *p = mmap(NULL, (pages + 2) * page, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return p;
	if (mprotect(p + page, pages * page, PROT_READ | PROT_WRITE) ||
	    madvise(p + page, pages * page, MADV_NOHUGEPAGE)) {
		munmap(p, (pages + 2) * page);
		return MAP_FAILED;
	}
	return p + page;
}

/* ---------------------------------------------------------------------
 * The dump is the scan, on every backing.
 */

FIXTURE_NEEDS(backing, NEEDS_NETLINK)

FIXTURE(backing) {
	struct ptmark_nl nl;
	int dev, fd;
	char *p;
	size_t nr;
};

FIXTURE_VARIANT(backing) {
	const struct ptmark_backing *backing;
};

BACKING_VARIANT(backing, anon, BK_ANON);
BACKING_VARIANT(backing, anon_thp, BK_ANON_THP);
BACKING_VARIANT(backing, memfd, BK_MEMFD);
BACKING_VARIANT(backing, huge_tmpfs, BK_HUGE_TMPFS);
BACKING_VARIANT(backing, ext4_shared, BK_EXT4_SHARED);
BACKING_VARIANT(backing, ext4_private, BK_EXT4_PRIVATE);
BACKING_VARIANT(backing, pfnmap, BK_PFNMAP);

FIXTURE_SETUP(backing)
{
	const struct ptmark_backing *b = variant->backing;
	bool huge = backing_has(b, PB_THP);
	size_t i;

	self->fd = -1;
	self->p = MAP_FAILED;
	REQUIRE_FAMILY(&self->nl, self->dev);
	self->nr = huge ? 2 * pmd_pages : 64;
	if (backing_has(b, PB_FILE)) {
		self->fd = ptmark_backing_fd(b, self->nr * page);
		ASSERT_LE(0, self->fd);
	}
	/* PMD-aligned, whatever the backing, as the scan's runs are. */
	self->p = ptmark_backing_mmap(b, backing_has(b, PB_PFNMAP) ? self->dev :
				      self->fd, NULL, self->nr * page,
				      PROT_READ | PROT_WRITE, 0,
				      pmd_pages * page);
	ASSERT_NE(MAP_FAILED, self->p);

	/* A mix: written, read, untouched, and (where allowed) guarded. */
	for (i = 0; i < self->nr; i++) {
		char *q = self->p + i * page;

		if (huge && i < pmd_pages)
			*q = 1;
		else if (i % 4 == 0)
			*q = 1;
		else if (i % 4 == 1)
			(void)*(volatile char *)q;
		else if (i % 8 == 3 && backing_has(b, PB_GUARD))
			guard_works(q);
	}
}

FIXTURE_TEARDOWN(backing)
{
	if (self->p != MAP_FAILED)
		munmap(self->p, self->nr * page);
	if (self->fd >= 0)
		close(self->fd);
	ptmark_nl_close(&self->nl);
}

TEST_F(backing, dump_equals_scan)
{
	uint64_t start = (uintptr_t)self->p, len = self->nr * page;
	struct recs scan, dump;
	bool dense;

	recs_init(&scan, self->nr);
	recs_init(&dump, self->nr);
	for (dense = false; ; dense = true) {
		ASSERT_LT(0, ioctl_scan(self->dev, -1, start, len, dense, &scan));
		ASSERT_EQ(0, nl_ptes(&self->nl, getpid(), -1, start, len, dense,
				     &dump)) TH_LOG("%s", self->nl.error);
		ASSERT_TRUE(same_records(_metadata, &scan, &dump))
			TH_LOG("%s", dense ? "dense" : "runs");
		if (dense)
			break;
	}
	ASSERT_EQ(self->nr, dump.nr);
	free(scan.r);
	free(dump.r);
}

/* vma-get's counts are the scan's records, summed. */
TEST_F(backing, vma_summary_sums_the_scan)
{
	uint64_t want[PTMARK_A_VMA_OTHER + 1] = { 0 };
	struct ptmark_nl_vma v;
	struct recs scan;
	size_t i;

	recs_init(&scan, self->nr);
	ASSERT_LT(0, ioctl_scan(self->dev, -1, (uintptr_t)self->p,
				self->nr * page, false, &scan));
	for (i = 0; i < scan.nr; i++) {
		const struct ptmark_record *r = &scan.r[i];

		want[PTMARK_A_VMA_PAGES] += r->nr_pages;
		if (r->kind == PTMARK_KIND_PRESENT) {
			want[PTMARK_A_VMA_PRESENT] += r->nr_pages;
			if (r->bits & PTMARK_BIT_PMD)
				want[PTMARK_A_VMA_HUGE] += r->nr_pages;
		} else if (r->kind == PTMARK_KIND_NONE) {
			want[PTMARK_A_VMA_NONE] += r->nr_pages;
		} else if (r->kind == PTMARK_KIND_MARKER) {
			want[PTMARK_A_VMA_GUARD] += r->nr_pages;
			want[PTMARK_A_VMA_GUARD_RANGES]++;
		}
	}
	ASSERT_EQ(0, nl_one_vma(&self->nl, self->p, self->nr * page, &v))
		TH_LOG("%s", self->nl.error);
	for (i = PTMARK_A_VMA_PAGES; i <= PTMARK_A_VMA_OTHER; i++)
		if (i != PTMARK_A_VMA_PINNED && i != PTMARK_A_VMA_UFFD_WP &&
		    i != PTMARK_A_VMA_UFFD_WP_MARKER)
			EXPECT_EQ(want[i], v.count[i]) TH_LOG("count attribute %zu", i);
	EXPECT_EQ(self->nr, v.count[PTMARK_A_VMA_PAGES]);
	EXPECT_EQ(scan.r[0].vma_flags, v.vma_flags);
	free(scan.r);
}

/* ---------------------------------------------------------------------
 * Dumps of any size.
 */

#define MANY_PAGES	4096

/* Every other page written: one record a page, thousands of messages' worth. */
CASE_NEEDS(global, dump_spans_many_messages, NEEDS_NETLINK, 0)
TEST(dump_spans_many_messages)
{
	struct recs scan, dump;
	struct ptmark_nl nl;
	int dev, dense;
	size_t i;
	char *p;

	REQUIRE_FAMILY(&nl, dev);
	p = mmap(NULL, MANY_PAGES * page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, madvise(p, MANY_PAGES * page, MADV_NOHUGEPAGE));
	for (i = 0; i < MANY_PAGES; i += 2)
		p[i * page] = 1;

	recs_init(&scan, MANY_PAGES);
	recs_init(&dump, MANY_PAGES);
	for (dense = 0; dense < 2; dense++) {
		ASSERT_EQ(MANY_PAGES, ioctl_scan(dev, -1, (uintptr_t)p,
						 MANY_PAGES * page, dense, &scan));
		ASSERT_EQ(0, nl_ptes(&nl, getpid(), -1, (uintptr_t)p,
				     MANY_PAGES * page, dense, &dump))
			TH_LOG("%s", nl.error);
		ASSERT_TRUE(same_records(_metadata, &scan, &dump));
		/* ~100 bytes a record: no single datagram holds them. */
		ASSERT_LT(4, nl.datagrams) TH_LOG("%lu datagrams", nl.datagrams);
	}
	ptmark_nl_close(&nl);
	munmap(p, MANY_PAGES * page);
}

/*
 * vma-get with want-guard-runs: before the VMA's summary, messages that
 * carry the VMA's guard runs, merged, as the scan shows them; without
 * the flag, none.
 */
struct guard_reply {
	uint64_t *runs;
	size_t nr_runs, cap, summaries, runs_msgs, runs_after_summary;
	uint64_t vma_start;
};

static int add_guard_reply(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[PTMARK_A_VMA_MAX + 1];
	struct guard_reply *g = data;
	const struct nlattr *a;
	size_t n;

	if (ptmark_nl_parse(nlh, tb, PTMARK_A_VMA_MAX))
		return MNL_CB_ERROR;
	a = tb[PTMARK_A_VMA_GUARD_RUNS];
	if (!a) {
		g->summaries++;
		return MNL_CB_OK;
	}
	g->runs_msgs++;
	if (g->summaries)
		g->runs_after_summary++;
	if (!tb[PTMARK_A_VMA_START] || tb[PTMARK_A_VMA_END] ||
	    ptmark_nl_uint(tb[PTMARK_A_VMA_START]) != g->vma_start ||
	    mnl_attr_get_payload_len(a) % 16)
		return MNL_CB_ERROR;
	n = mnl_attr_get_payload_len(a) / 16;
	if (g->nr_runs + n > g->cap)
		return MNL_CB_ERROR;
	memcpy(g->runs + 2 * g->nr_runs, mnl_attr_get_payload(a), n * 16);
	g->nr_runs += n;
	return MNL_CB_OK;
}

#define RUNS_PAGES	(3 * 1000)

CASE_NEEDS(global, vma_guard_runs_are_the_scans, NEEDS_NETLINK | NEEDS_GUARD, 0)
TEST(vma_guard_runs_are_the_scans)
{
	static char buf[PTMARK_NL_BUF];
	struct guard_reply g = { 0 };
	struct nlmsghdr *nlh;
	struct ptmark_nl nl;
	struct recs scan;
	size_t i, nr = 0;
	uint64_t *want;
	int dev, with;
	char *p;

	REQUIRE_FAMILY(&nl, dev);
	p = isolated_region(RUNS_PAGES);
	ASSERT_NE(MAP_FAILED, p);
	/*
	 * Runs of one and two pages between written pages: thousands of
	 * records, so that runs meet the walk's batch boundaries.
	 */
	for (i = 0; i + 3 <= RUNS_PAGES; i += 3) {
		p[i * page] = 1;
		ASSERT_EQ(0, madvise(p + (i + 1) * page, page,
				     MADV_GUARD_INSTALL));
		if ((i / 3) % 2)
			ASSERT_EQ(0, madvise(p + (i + 2) * page, page,
					     MADV_GUARD_INSTALL));
	}
	recs_init(&scan, RUNS_PAGES);
	ASSERT_LT(0, ioctl_scan(dev, -1, (uintptr_t)p, RUNS_PAGES * page,
				false, &scan));
	want = calloc(2 * RUNS_PAGES, sizeof(*want));
	g.cap = RUNS_PAGES;
	g.runs = calloc(2 * g.cap, sizeof(*g.runs));
	ASSERT_TRUE(want && g.runs);
	for (i = 0; i < scan.nr; i++) {
		const struct ptmark_record *r = &scan.r[i];

		if (r->kind != PTMARK_KIND_MARKER ||
		    !(r->marker & PTMARK_MARKER_GUARD))
			continue;
		if (nr && want[2 * nr - 1] == r->start) {
			want[2 * nr - 1] += r->nr_pages * page;
			continue;
		}
		want[2 * nr] = r->start;
		want[2 * nr + 1] = r->start + r->nr_pages * page;
		nr++;
	}
	ASSERT_EQ(RUNS_PAGES / 3, nr);

	for (with = 0; with < 2; with++) {
		memset(g.runs, 0, 2 * g.cap * sizeof(*g.runs));
		g.nr_runs = g.summaries = g.runs_msgs = 0;
		g.runs_after_summary = 0;
		g.vma_start = (uintptr_t)p;
		nlh = ptmark_nl_target_request(&nl, buf, PTMARK_CMD_VMA_GET,
					       getpid(), -1, (uintptr_t)p,
					       RUNS_PAGES * page);
		if (with)
			mnl_attr_put(nlh, PTMARK_A_VMA_WANT_GUARD_RUNS, 0, NULL);
		ASSERT_EQ(0, ptmark_nl_run(&nl, nlh, add_guard_reply, &g))
			TH_LOG("%s", nl.error);
		EXPECT_EQ(1, g.summaries);
		EXPECT_EQ(0, g.runs_after_summary);
		if (!with) {
			EXPECT_EQ(0, g.runs_msgs);
			continue;
		}
		/* Far more runs than one message carries. */
		EXPECT_LT(1, g.runs_msgs);
		ASSERT_EQ(nr, g.nr_runs);
		EXPECT_EQ(0, memcmp(want, g.runs, 2 * nr * sizeof(*want)));
	}
	free(want);
	free(g.runs);
	free(scan.r);
	ptmark_nl_close(&nl);
	munmap(p - page, (RUNS_PAGES + 2) * page);
	close(dev);
}

/* A child that reports ready and then does nothing until killed. */
static pid_t idle_child(void)
{
	int pipefd[2];
	pid_t pid;
	char c;

	if (pipe(pipefd))
		return -1;
	pid = fork();
	if (!pid) {
		close(pipefd[0]);
		if (write(pipefd[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(pipefd[1]);
	if (pid > 0 && read(pipefd[0], &c, 1) != 1) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(pipefd[0]);
	return pid;
}

static void reap(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* The whole address space by default, as the scan of all of it says. */
CASE_NEEDS(global, whole_space_of_idle_child, NEEDS_NETLINK, 0)
TEST(whole_space_of_idle_child)
{
	struct recs scan, dump;
	struct ptmark_nl nl;
	int dev, pidfd;
	uint64_t end;
	pid_t child;

	REQUIRE_FAMILY(&nl, dev);
	child = idle_child();
	ASSERT_LT(0, child);
	pidfd = pidfd_of(child);
	ASSERT_LE(0, pidfd);

	recs_init(&scan, 1 << 16);
	recs_init(&dump, 1 << 16);
	ASSERT_EQ(0, nl_ptes(&nl, 0, pidfd, 0, 0, false, &dump))
		TH_LOG("%s", nl.error);
	ASSERT_LT(2, dump.nr);
	EXPECT_EQ(0, dump.r[0].start);
	EXPECT_EQ(PTMARK_KIND_UNMAPPED, dump.r[dump.nr - 1].kind);
	end = dump.r[dump.nr - 1].start + dump.r[dump.nr - 1].nr_pages * page;
	ASSERT_LT(0, ioctl_scan(dev, pidfd, 0, end, false, &scan));
	EXPECT_TRUE(same_records(_metadata, &scan, &dump));
	/* By pid, the same. */
	ASSERT_EQ(0, nl_ptes(&nl, child, -1, 0, 0, false, &dump));
	EXPECT_TRUE(same_records(_metadata, &scan, &dump));
	reap(child);
	close(pidfd);
	ptmark_nl_close(&nl);
}

/* A known layout, counted per kind; guard runs counted as runs. */
CASE_NEEDS(global, vma_summary_of_known_layout, NEEDS_NETLINK, 0)
TEST(vma_summary_of_known_layout)
{
	struct ptmark_nl_vma v;
	struct ptmark_nl nl;
	bool guards;
	int dev, i;
	char *p;

	REQUIRE_FAMILY(&nl, dev);
	close(dev);
	p = mmap(NULL, 32 * page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, madvise(p, 32 * page, MADV_NOHUGEPAGE));
	for (i = 0; i < 8; i++)
		p[i * page] = 1;
	for (i = 24; i < 32; i++)
		(void)*(volatile char *)(p + i * page);
	guards = guard_works(p + 16 * page);
	if (guards) {
		ASSERT_TRUE(guard_works(p + 17 * page));
		ASSERT_TRUE(guard_works(p + 20 * page));
	}

	ASSERT_EQ(0, nl_one_vma(&nl, p, 32 * page, &v)) TH_LOG("%s", nl.error);
	EXPECT_LE(v.start, (uintptr_t)p);
	EXPECT_LE((uintptr_t)p + 32 * page, v.end);
	EXPECT_EQ(32, v.count[PTMARK_A_VMA_PAGES]);
	EXPECT_EQ(16, v.count[PTMARK_A_VMA_PRESENT]);
	EXPECT_EQ(guards ? 3 : 0, v.count[PTMARK_A_VMA_GUARD]);
	EXPECT_EQ(guards ? 2 : 0, v.count[PTMARK_A_VMA_GUARD_RANGES]);
	EXPECT_EQ(guards ? 13 : 16, v.count[PTMARK_A_VMA_NONE]);
	EXPECT_EQ(0, v.count[PTMARK_A_VMA_SWAP]);
	EXPECT_EQ(0, v.count[PTMARK_A_VMA_PINNED]);
	EXPECT_TRUE(v.vma_flags & PTMARK_VMA_ANON);
	ptmark_nl_close(&nl);
	munmap(p, 32 * page);
}

/* ---------------------------------------------------------------------
 * Events.
 */

struct event {
	uint32_t pid, marker;
	uint64_t start, len, nr_pages;
	bool remove;
	int32_t error;
	int seen, malformed;
};

/* An event of @cmd into @ev; others are not counted. */
static int event_of(const struct nlmsghdr *nlh, struct event *ev, uint8_t cmd)
{
	const struct nlattr *tb[PTMARK_A_EVENT_MAX + 1];
	const struct genlmsghdr *genl = mnl_nlmsg_get_payload(nlh);

	if (genl->cmd != cmd || ptmark_nl_parse(nlh, tb, PTMARK_A_EVENT_MAX))
		return MNL_CB_OK;
	ev->seen++;
	/* Only the attributes the spec lists for the event, all of them. */
	if (!tb[PTMARK_A_EVENT_PID] || !tb[PTMARK_A_EVENT_START] ||
	    !tb[PTMARK_A_EVENT_LEN] || !tb[PTMARK_A_EVENT_NR_PAGES] ||
	    !tb[PTMARK_A_EVENT_MARKER] != (cmd == PTMARK_CMD_PIN_NTF) ||
	    !tb[PTMARK_A_EVENT_ERROR] != (cmd == PTMARK_CMD_PIN_NTF)) {
		ev->malformed++;
		return MNL_CB_OK;
	}
	ev->pid = mnl_attr_get_u32(tb[PTMARK_A_EVENT_PID]);
	ev->start = ptmark_nl_uint(tb[PTMARK_A_EVENT_START]);
	ev->len = ptmark_nl_uint(tb[PTMARK_A_EVENT_LEN]);
	ev->remove = tb[PTMARK_A_EVENT_REMOVE];
	ev->nr_pages = ptmark_nl_uint(tb[PTMARK_A_EVENT_NR_PAGES]);
	if (cmd == PTMARK_CMD_MARKER_NTF) {
		ev->marker = mnl_attr_get_u32(tb[PTMARK_A_EVENT_MARKER]);
		ev->error = (int32_t)mnl_attr_get_u32(tb[PTMARK_A_EVENT_ERROR]);
	}
	return MNL_CB_OK;
}

static int on_event(const struct nlmsghdr *nlh, void *data)
{
	return event_of(nlh, data, PTMARK_CMD_MARKER_NTF);
}

static int on_pin_event(const struct nlmsghdr *nlh, void *data)
{
	return event_of(nlh, data, PTMARK_CMD_PIN_NTF);
}

/* One marker request through the ioctl, and the one event it makes. */
static void check_event(struct __test_metadata *_metadata,
			struct ptmark_nl *nl, int dev, int pidfd, pid_t pid,
			char *p, size_t pages, uint32_t marker, bool remove,
			long want_pages)
{
	struct event ev = { 0 };
	__u64 nr;
	int ret;

	ret = ptmark_marker_fd(dev, pidfd, p, pages * page, marker,
			       remove ? PTMARK_MARKER_F_REMOVE : 0, &nr);
	ASSERT_EQ(0, ret) TH_LOG("marker ioctl: %s", strerror(-ret));
	ASSERT_EQ(want_pages, nr);
	ASSERT_EQ(1, ptmark_nl_events(nl, 2000, on_event, &ev));
	ASSERT_EQ(1, ev.seen);
	ASSERT_EQ(0, ev.malformed);
	EXPECT_EQ(pid, ev.pid);
	EXPECT_EQ((uintptr_t)p, ev.start);
	EXPECT_EQ(pages * page, ev.len);
	EXPECT_EQ(marker, ev.marker);
	EXPECT_EQ(remove, ev.remove);
	EXPECT_EQ(want_pages, ev.nr_pages);
	EXPECT_EQ(0, ev.error);
}

CASE_NEEDS(global, marker_events_guard, NEEDS_NETLINK | NEEDS_GUARD_IOCTL, 0)
TEST(marker_events_guard)
{
	struct event ev = { 0 };
	struct ptmark_nl nl;
	int dev, pidfd;
	__u64 nr;
	pid_t child;
	char *p;

	REQUIRE_MARKER_EVENTS(&nl, dev);
	p = mmap(NULL, 8 * page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);

	check_event(_metadata, &nl, dev, -1, getpid(), p + 2 * page, 3,
		    PTMARK_MARKER_GUARD, false, 3);
	check_event(_metadata, &nl, dev, -1, getpid(), p + 2 * page, 3,
		    PTMARK_MARKER_GUARD, true, 3);

	/* A child's memory, through its pidfd: the child's pid. */
	child = idle_child();
	ASSERT_LT(0, child);
	pidfd = pidfd_of(child);
	ASSERT_LE(0, pidfd);
	check_event(_metadata, &nl, dev, pidfd, child, p, 1,
		    PTMARK_MARKER_GUARD, false, 1);
	reap(child);
	close(pidfd);

	/* Refused before anything changed: no event. */
	ASSERT_EQ(-EINVAL, ptmark_marker_fd(dev, -1, p + 1, page,
					    PTMARK_MARKER_GUARD, 0, &nr));
	EXPECT_EQ(0, ptmark_nl_events(&nl, 200, on_event, &ev));
	munmap(p, 8 * page);
	ptmark_nl_close(&nl);
}

/*
 * An event names the process the request acted on, even while the pidfd
 * number it came through is made to name another process: one thread
 * moves two children's pidfds onto the same number, over and over, while
 * the other guards a range through that number.  The range is mapped in
 * child A only, so an install that worked acted on A and one that failed
 * on B: the event must say so.  A module that looks the number up again
 * to label its events gets it wrong about every other time the number
 * changed during the request.
 */
struct flip {
	int fd, pidfd[2];
	atomic_ulong flips;
	atomic_bool stop;
};

static void *flipper(void *arg)
{
	struct flip *f = arg;
	int i = 0;

	/* A dup2() that fails (EBUSY) moves nothing; the next one may. */
	while (!atomic_load(&f->stop))
		if (dup2(f->pidfd[i ^= 1], f->fd) == f->fd)
			atomic_fetch_add(&f->flips, 1);
	return NULL;
}

#define LABEL_PAGES	256
/*
 * At least LABEL_ROUNDS requests, and more until LABEL_WINDOWS of them
 * had the number moved under them: on a busy host the mover may get the
 * CPU seldom (10 windows in 400 requests were seen).  LABEL_MS bounds it.
 */
#define LABEL_ROUNDS	400
#define LABEL_WINDOWS	100
#define LABEL_MS	30000

CASE_NEEDS(global, marker_event_pid_is_the_target, NEEDS_NETLINK | NEEDS_GUARD_IOCTL, 0)
TEST(marker_event_pid_is_the_target)
{
	struct ptmark_race race = PTMARK_RACE("requests the pidfd moved under", 20);
	struct flip f = { .fd = -1 };
	unsigned long before;
	struct ptmark_nl nl;
	pid_t child[2];
	pthread_t thread;
	int dev, ret, i, wrong = 0;
	double t0;
	bool remove = false;
	__u64 nr;
	char *p;

	REQUIRE_MARKER_EVENTS(&nl, dev);
	p = mmap(NULL, LABEL_PAGES * page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	child[0] = idle_child();		/* has the range */
	munmap(p, LABEL_PAGES * page);
	child[1] = idle_child();		/* has not */
	ASSERT_LT(0, child[0]);
	ASSERT_LT(0, child[1]);
	for (i = 0; i < 2; i++) {
		f.pidfd[i] = pidfd_of(child[i]);
		ASSERT_LE(0, f.pidfd[i]);
	}
	f.fd = dup(f.pidfd[0]);
	ASSERT_LE(0, f.fd);
	ASSERT_EQ(0, pthread_create(&thread, NULL, flipper, &f));

	t0 = monotonic_ms();
	for (i = 0; i < LABEL_ROUNDS ||
		    (ptmark_race_hits(&race) < LABEL_WINDOWS &&
		     monotonic_ms() - t0 < LABEL_MS); i++) {
		struct event ev = { 0 };
		pid_t want;

		before = atomic_load(&f.flips);
		ret = ptmark_marker_fd(dev, f.fd, p, LABEL_PAGES * page,
				       PTMARK_MARKER_GUARD,
				       remove ? PTMARK_MARKER_F_REMOVE : 0, &nr);
		if (atomic_load(&f.flips) != before)
			ptmark_race_hit(&race);
		race.rounds++;
		if (!ret)
			remove = !remove;
		want = child[ret ? 1 : 0];
		/* A request that failed may have sent no event. */
		if (ptmark_nl_events(&nl, ret ? 100 : 2000, on_event, &ev) < 0 ||
		    ev.seen > 1 || (!ret && ev.seen != 1)) {
			EXPECT_EQ(!ret, ev.seen) TH_LOG("round %d", i);
			break;
		}
		if (!ev.seen)
			continue;
		if (ev.malformed || ev.error != ret) {
			EXPECT_EQ(0, ev.malformed);
			EXPECT_EQ(ret, ev.error);
			break;
		}
		if (ev.pid != (uint32_t)want && !wrong++)
			TH_LOG("round %d: the request acted on %d, its event names %u",
			       i, want, ev.pid);
	}
	atomic_store(&f.stop, true);
	pthread_join(thread, NULL);
	for (i = 0; i < 2; i++) {
		reap(child[i]);
		close(f.pidfd[i]);
	}
	close(f.fd);
	ptmark_nl_close(&nl);
	close(dev);
	EXPECT_EQ(0, wrong) TH_LOG("%d of %d events named the wrong process",
				   wrong, i);
	RACE_EXERCISED(&race);
}

CASE_NEEDS(global, marker_events_uffd_wp, NEEDS_NETLINK, 0)
TEST(marker_events_uffd_wp)
{
	struct ptmark_nl nl;
	int dev, fd, uffd;
	char *p;

	REQUIRE_FAMILY(&nl, dev);
	uffd = uffd_open(UFFD_FEATURE_WP_HUGETLBFS_SHMEM);
	if (uffd < 0)
		SKIP(return, "userfaultfd lacks UFFD_FEATURE_WP_HUGETLBFS_SHMEM (%s)",
		     strerror(-uffd));
	ASSERT_EQ(0, ptmark_nl_join_events(&nl));
	fd = memfd_create("ptmark-netlink-wp", MFD_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, 4 * page));
	p = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, uffd_register(uffd, p, 4 * page, UFFDIO_REGISTER_MODE_WP));

	check_event(_metadata, &nl, dev, -1, getpid(), p, 4,
		    PTMARK_MARKER_UFFD_WP, false, 4);
	check_event(_metadata, &nl, dev, -1, getpid(), p, 4,
		    PTMARK_MARKER_UFFD_WP, true, 4);
	munmap(p, 4 * page);
	close(fd);
	close(uffd);
	ptmark_nl_close(&nl);
}

/* The one pin-ntf event a pin-session call made. */
static void expect_pin_event(struct __test_metadata *_metadata,
			     struct ptmark_nl *nl, pid_t pid, const char *p,
			     size_t pages, bool remove)
{
	struct event ev = { 0 };

	ASSERT_EQ(1, ptmark_nl_events(nl, 2000, on_pin_event, &ev));
	ASSERT_EQ(1, ev.seen);
	ASSERT_EQ(0, ev.malformed);
	EXPECT_EQ(pid, ev.pid);
	EXPECT_EQ((uintptr_t)p, ev.start);
	EXPECT_EQ(pages * page, ev.len);
	EXPECT_EQ(pages, ev.nr_pages);
	EXPECT_EQ(remove, ev.remove);
}

CASE_NEEDS(global, pin_events, NEEDS_NETLINK, 0)
TEST(pin_events)
{
	struct ptmark_info info;
	struct event ev = { 0 };
	struct ptmark_nl nl;
	int dev, sess, pidfd;
	pid_t child;
	char *p;

	REQUIRE_FAMILY(&nl, dev);
	ASSERT_EQ(0, ptmark_get_info(dev, &info));
	if (!(info.features & PTMARK_FEAT_PIN))
		SKIP(return, "module has no pin sessions (PTMARK_FEAT_PIN)");
	ASSERT_EQ(0, ptmark_nl_join_events(&nl));
	p = mmap(NULL, 8 * page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 1, 8 * page);

	/* Pinned, refused (no event), released. */
	sess = ptmark_pin_session(dev, -1);
	ASSERT_LE(0, sess);
	EXPECT_EQ(0, ptmark_nl_events(&nl, 200, on_pin_event, &ev));
	ASSERT_EQ(0, ptmark_pin(sess, p, 4 * page, PTMARK_PIN_F_WRITE));
	expect_pin_event(_metadata, &nl, getpid(), p, 4, false);
	ASSERT_EQ(-EEXIST, ptmark_pin(sess, p + 3 * page, 2 * page, 0));
	ASSERT_EQ(-ENOENT, ptmark_unpin(sess, p, 2 * page));
	EXPECT_EQ(0, ptmark_nl_events(&nl, 200, on_pin_event, &ev));
	ASSERT_EQ(0, ptmark_unpin(sess, p, 4 * page));
	expect_pin_event(_metadata, &nl, getpid(), p, 4, true);

	/* What a session still holds goes with it: one event per range. */
	ASSERT_EQ(0, ptmark_pin(sess, p + 4 * page, 2 * page, 0));
	expect_pin_event(_metadata, &nl, getpid(), p + 4 * page, 2, false);
	ASSERT_EQ(0, ptmark_pin(sess, p + 7 * page, page, PTMARK_PIN_F_LONGTERM));
	expect_pin_event(_metadata, &nl, getpid(), p + 7 * page, 1, false);
	close(sess);
	ev = (struct event){ 0 };
	EXPECT_EQ(2, ptmark_nl_events(&nl, 2000, on_pin_event, &ev));
	EXPECT_EQ(2, ev.seen);
	EXPECT_EQ(0, ev.malformed);
	EXPECT_TRUE(ev.remove);

	/* A child's pages, through its pidfd: the child's pid. */
	child = idle_child();
	ASSERT_LT(0, child);
	pidfd = pidfd_of(child);
	ASSERT_LE(0, pidfd);
	sess = ptmark_pin_session(dev, pidfd);
	ASSERT_LE(0, sess);
	ASSERT_EQ(0, ptmark_pin(sess, p + page, page, 0));
	expect_pin_event(_metadata, &nl, child, p + page, 1, false);
	close(sess);
	expect_pin_event(_metadata, &nl, child, p + page, 1, true);
	reap(child);
	close(pidfd);

	/* Marker listeners see none of it, and pin listeners no markers. */
	ev = (struct event){ 0 };
	sess = ptmark_pin_session(dev, -1);
	ASSERT_LE(0, sess);
	ASSERT_EQ(0, ptmark_pin(sess, p, page, 0));
	EXPECT_EQ(1, ptmark_nl_events(&nl, 2000, on_event, &ev));
	EXPECT_EQ(0, ev.seen);
	close(sess);
	EXPECT_EQ(1, ptmark_nl_events(&nl, 2000, on_event, &ev));
	EXPECT_EQ(0, ev.seen);
	close(dev);
	munmap(p, 8 * page);
	ptmark_nl_close(&nl);
}

/* ---------------------------------------------------------------------
 * Malformed requests.
 */

/* An attribute of a malformed request: its type, payload size and value. */
struct bad_attr {
	uint16_t type, size;
	uint64_t value;
};

#define PID_ATTR	{ PTMARK_A_PTES_PID, 4, 0 }	/* 0: our own pid */
#define PAGE_OF_DATA	0x400000ULL			/* page-aligned */

static const struct bad_request {
	const char *what;
	int err;
	const char *extack;	/* a part of the message required */
	struct bad_attr attrs[3];
} bad_requests[] = {
	{ "no target", EINVAL, "exactly one of pid and pidfd", { } },
	{ "pid and pidfd", EINVAL, "exactly one of pid and pidfd",
	  { PID_ATTR, { PTMARK_A_PTES_PIDFD, 4, 0 } } },
	{ "u32 in 8 bytes", EINVAL, "", { { PTMARK_A_PTES_PID, 8, 1 } } },
	{ "u32 in 4000 bytes", EINVAL, "", { { PTMARK_A_PTES_PID, 4000, 1 } } },
	{ "unknown attribute", EINVAL, "", { PID_ATTR, { 200, 4, 1 } } },
	{ "reply-only attribute", EINVAL, "",
	  { PID_ATTR, { PTMARK_A_PTES_KIND, 4, 1 } } },
	{ "pid 0", ERANGE, "", { { PTMARK_A_PTES_PID, 4, 0x100000000ULL } } },
	{ "pidfd -1", ERANGE, "", { { PTMARK_A_PTES_PIDFD, 4, 0xffffffff } } },
	{ "unaligned start", EINVAL, "start is not page-aligned",
	  { PID_ATTR, { PTMARK_A_PTES_START, 8, PAGE_OF_DATA + 1 } } },
	{ "empty range", EINVAL, "len is 0 or not page-aligned",
	  { PID_ATTR, { PTMARK_A_PTES_START, 8, PAGE_OF_DATA },
	    { PTMARK_A_PTES_LEN, 8, 0 } } },
	{ "wrapping range", EINVAL, "past the user address space",
	  { PID_ATTR, { PTMARK_A_PTES_START, 8, PAGE_OF_DATA },
	    { PTMARK_A_PTES_LEN, 8, -4096ULL } } },
	{ "start past the address space", EINVAL, "past the user address space",
	  { PID_ATTR, { PTMARK_A_PTES_START, 8, 1ULL << 62 } } },
	{ "no such pid", ESRCH, "no such process",
	  { { PTMARK_A_PTES_PID, 4, INT_MAX } } },
	{ "pidfd of no process", EBADF, "not a pidfd",
	  { { PTMARK_A_PTES_PIDFD, 4, 0 } } },	/* fd 0: not a pidfd */
};

/*
 * The ptes-get request of @bad.  A pid of value 0 stands for our own; pid
 * 0 itself is a value whose low 32 bits, all a 4-byte attribute keeps,
 * are 0.
 */
static struct nlmsghdr *bad_request(struct ptmark_nl *nl, void *buf,
				    const struct bad_request *bad)
{
	static char payload[4000];
	struct nlmsghdr *nlh = ptmark_nl_request(nl, buf, PTMARK_CMD_PTES_GET,
						 true);
	const struct bad_attr *a;
	uint64_t v;

	for (a = bad->attrs; a < bad->attrs + 3 && a->size; a++) {
		v = a->value;
		if (a->type == PTMARK_A_PTES_PID && !v)
			v = getpid();
		memset(payload, 0, a->size);
		memcpy(payload, &v, a->size < 8 ? a->size : 8);
		mnl_attr_put(nlh, a->type, a->size, payload);
	}
	return nlh;
}

CASE_NEEDS(global, malformed_requests_refused, NEEDS_NETLINK, 0)
TEST(malformed_requests_refused)
{
	static char buf[PTMARK_NL_BUF];
	const struct bad_request *bad;
	struct ptmark_nl nl;
	struct recs rs;
	int dev, ret;

	REQUIRE_FAMILY(&nl, dev);
	close(dev);
	recs_init(&rs, 16);
	for (bad = bad_requests; bad < bad_requests + ARRAY_SIZE(bad_requests);
	     bad++) {
		rs.nr = 0;
		ret = ptmark_nl_run(&nl, bad_request(&nl, buf, bad), add_record,
				    &rs);
		EXPECT_EQ(-bad->err, ret)
			TH_LOG("%s: got %s", bad->what, strerror(-ret));
		EXPECT_EQ(0, rs.nr) TH_LOG("%s", bad->what);
		EXPECT_NE(0, nl.error[0]) TH_LOG("%s: no extack message", bad->what);
		EXPECT_NE(NULL, strstr(nl.error, bad->extack))
			TH_LOG("%s: extack \"%s\", want \"%s\"", bad->what,
			       nl.error, bad->extack);
	}
	free(rs.r);
	ptmark_nl_close(&nl);
}

/* ---------------------------------------------------------------------
 * Who may dump whom.
 */

/*
 * As a process loses capabilities, the dump refuses exactly what the scan
 * refuses: another process without CAP_SYS_PTRACE; pfns without
 * CAP_SYS_ADMIN.  CAP_NET_ADMIN is the family's own gate (the ioctl's is
 * the device node, already open here).
 */
CASE_NEEDS(global, permissions_match_the_ioctl, NEEDS_NETLINK, 0)
TEST(permissions_match_the_ioctl)
{
	struct recs scan, dump;
	struct ptmark_nl nl;
	int dev, pidfd;
	pid_t child;
	char *p;

	REQUIRE_FAMILY(&nl, dev);
	p = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 1, 4 * page);
	child = idle_child();
	ASSERT_LT(0, child);
	pidfd = pidfd_of(child);
	ASSERT_LE(0, pidfd);
	recs_init(&scan, 1 << 16);
	recs_init(&dump, 1 << 16);

	/* Root: both see the child, and pfns. */
	ASSERT_LT(0, ioctl_scan(dev, pidfd, (uintptr_t)p, 4 * page, true, &scan));
	ASSERT_EQ(0, nl_ptes(&nl, child, -1, (uintptr_t)p, 4 * page, true, &dump));
	ASSERT_TRUE(same_records(_metadata, &scan, &dump));
	ASSERT_LT(0, ioctl_scan(dev, -1, (uintptr_t)p, 4 * page, true, &scan));
	ASSERT_EQ(0, nl_ptes(&nl, getpid(), -1, (uintptr_t)p, 4 * page, true, &dump));
	ASSERT_TRUE(same_records(_metadata, &scan, &dump));
	ASSERT_NE(0, dump.r[0].pfn);

	ASSERT_EQ(0, drop_capability(CAP_SYS_PTRACE));
	EXPECT_EQ(-EACCES, ioctl_scan(dev, pidfd, (uintptr_t)p, page, false, &scan));
	EXPECT_EQ(-EACCES, nl_ptes(&nl, 0, pidfd, (uintptr_t)p, page, false, &dump));
	EXPECT_NE(NULL, strstr(nl.error, "no access"));
	EXPECT_EQ(-EACCES, nl_ptes(&nl, child, -1, (uintptr_t)p, page, false, &dump));
	EXPECT_LT(0, ioctl_scan(dev, -1, (uintptr_t)p, 4 * page, true, &scan));
	EXPECT_EQ(0, nl_ptes(&nl, getpid(), -1, (uintptr_t)p, 4 * page, true, &dump));
	EXPECT_TRUE(same_records(_metadata, &scan, &dump));

	/*
	 * pfns follow the credentials a device fd was opened with, as
	 * pagemap's do; a netlink request has no fd, so the caller's own
	 * count.  An fd opened after the drop is the like-for-like one.
	 */
	ASSERT_EQ(0, drop_capability(CAP_SYS_ADMIN));
	close(dev);
	dev = ptmark_open();
	ASSERT_LE(0, dev);
	ASSERT_LT(0, ioctl_scan(dev, -1, (uintptr_t)p, 4 * page, true, &scan));
	ASSERT_EQ(0, nl_ptes(&nl, getpid(), -1, (uintptr_t)p, 4 * page, true, &dump));
	EXPECT_TRUE(same_records(_metadata, &scan, &dump));
	EXPECT_EQ(0, scan.r[0].pfn);
	EXPECT_EQ(0, dump.r[0].pfn);
	EXPECT_EQ(PTMARK_KIND_PRESENT, dump.r[0].kind);

	ASSERT_EQ(0, drop_capability(CAP_NET_ADMIN));
	EXPECT_EQ(-EPERM, nl_ptes(&nl, getpid(), -1, (uintptr_t)p, page, false, &dump));
	EXPECT_LT(0, ioctl_scan(dev, -1, (uintptr_t)p, page, false, &scan));

	reap(child);
	close(pidfd);
	free(scan.r);
	free(dump.r);
	ptmark_nl_close(&nl);
}

/*
 * What a dump leaks beyond pfns.  The pgoff of a COW pfnmap (a private
 * mapping of /dev/ptmark) is the pfn behind it: vma-get shows it only to
 * CAP_SYS_ADMIN, as the scan shows pfns and debugfs shows pgoffs.  The
 * events group names any process's ranges, which a dump shows only to a
 * caller that may read that process: joining it needs CAP_SYS_ADMIN
 * besides CAP_NET_ADMIN, and a listener that did join before dropping it
 * keeps what it had (the kernel checks at join, as for every group).
 * Each caller kind in turn: root, root without CAP_SYS_ADMIN, root
 * without CAP_SYS_ADMIN and CAP_SYS_PTRACE, and without CAP_NET_ADMIN.
 */
CASE_NEEDS(global, pgoff_and_events_need_cap_sys_admin, NEEDS_NETLINK, 0)
TEST(pgoff_and_events_need_cap_sys_admin)
{
	struct ptmark_nl nl, listener;
	struct ptmark_nl_vma v;
	uint64_t pfn;
	int dev, ret;
	char *p;

	REQUIRE_FAMILY(&nl, dev);
	p = mmap(NULL, page, PROT_READ, MAP_PRIVATE, dev, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, nl_one_vma(&nl, p, page, &v));
	pfn = v.pgoff;
	EXPECT_NE(0, pfn) TH_LOG("root: no pgoff for the private pfnmap");
	ASSERT_EQ(0, ptmark_nl_open(&listener));
	EXPECT_EQ(0, ptmark_nl_join_events(&listener));
	ptmark_nl_close(&listener);

	/* Without CAP_SYS_ADMIN: no pgoff, no events. */
	ASSERT_EQ(0, drop_capability(CAP_SYS_ADMIN));
	ASSERT_EQ(0, nl_one_vma(&nl, p, page, &v));
	EXPECT_EQ(0, v.pgoff)
		TH_LOG("module: pgoff %#llx (the pfn) shown without CAP_SYS_ADMIN",
		       (unsigned long long)v.pgoff);
	EXPECT_EQ((uintptr_t)p, v.start);
	ASSERT_EQ(0, ptmark_nl_open(&listener));
	ret = ptmark_nl_join_events(&listener);
	EXPECT_EQ(-EPERM, ret)
		TH_LOG("module: events joined without CAP_SYS_ADMIN: %s",
		       strerror(-ret));
	ptmark_nl_close(&listener);

	/* Without CAP_SYS_PTRACE too: still none. */
	ASSERT_EQ(0, drop_capability(CAP_SYS_PTRACE));
	ASSERT_EQ(0, nl_one_vma(&nl, p, page, &v));
	EXPECT_EQ(0, v.pgoff);
	ASSERT_EQ(0, ptmark_nl_open(&listener));
	EXPECT_EQ(-EPERM, ptmark_nl_join_events(&listener));
	ptmark_nl_close(&listener);

	/* Without CAP_NET_ADMIN, the family's own gate, nothing at all. */
	ASSERT_EQ(0, drop_capability(CAP_NET_ADMIN));
	EXPECT_EQ(-EPERM, nl_one_vma(&nl, p, page, &v));
	ASSERT_EQ(0, ptmark_nl_open(&listener));
	EXPECT_EQ(-EPERM, ptmark_nl_join_events(&listener));
	ptmark_nl_close(&listener);

	munmap(p, page);
	close(dev);
	ptmark_nl_close(&nl);
}

/* ---------------------------------------------------------------------
 * ptmarkctl, end to end.
 */

static char ptmarkctl[512];

/*
 * Run ptmarkctl with @args; its output in *out (free it): stdout and
 * stderr, or with @stdout_only stdout alone (what a JSON reader gets).
 */
static int vrun_ptmarkctl(char **out, bool stdout_only, const char *fmt,
			  va_list ap)
{
	char cmd[2048], *buf = NULL;
	size_t len = 0, cap = 0, n;
	FILE *f;
	int status;

	n = snprintf(cmd, sizeof(cmd), "%s ", ptmarkctl);
	vsnprintf(cmd + n, sizeof(cmd) - n, fmt, ap);
	strncat(cmd, stdout_only ? " 2>/dev/null" : " 2>&1",
		sizeof(cmd) - strlen(cmd) - 1);
	f = popen(cmd, "r");
	if (!f)
		return -1;
	do {
		if (cap - len < 4096) {
			cap = cap ? 2 * cap : 65536;
			buf = realloc(buf, cap);
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
	} while (n);
	buf[len] = '\0';
	status = pclose(f);
	*out = buf;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128;
}

static int run_ptmarkctl(char **out, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vrun_ptmarkctl(out, false, fmt, ap);
	va_end(ap);
	return ret;
}

static int run_ptmarkctl_stdout(char **out, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vrun_ptmarkctl(out, true, fmt, ap);
	va_end(ap);
	return ret;
}

/*
 * JSON, strictly enough to catch a document cut short or two run
 * together: one value at *@p, whitespace around it skipped.  The end of
 * the value, or NULL.
 */
static const char *json_value(const char *p, int depth)
{
	char close;

	p += strspn(p, " \t\r\n");
	if (depth > 64)
		return NULL;
	switch (*p) {
	case '{':
	case '[':
		close = *p == '{' ? '}' : ']';
		p += 1 + strspn(p + 1, " \t\r\n");
		if (*p == close)
			return p + 1;
		for (;;) {
			if (close == '}') {
				if (*p != '"')
					return NULL;
				p = json_value(p, depth + 1);
				if (!p)
					return NULL;
				p += strspn(p, " \t\r\n");
				if (*p++ != ':')
					return NULL;
			}
			p = json_value(p, depth + 1);
			if (!p)
				return NULL;
			p += strspn(p, " \t\r\n");
			if (*p == close)
				return p + 1;
			if (*p++ != ',')
				return NULL;
			p += strspn(p, " \t\r\n");
		}
	case '"':
		for (p++; *p != '"'; p++) {
			if (!*p || (unsigned char)*p < 0x20)
				return NULL;
			if (*p == '\\' && !*++p)
				return NULL;
		}
		return p + 1;
	case 't':
		return strncmp(p, "true", 4) ? NULL : p + 4;
	case 'f':
		return strncmp(p, "false", 5) ? NULL : p + 5;
	case 'n':
		return strncmp(p, "null", 4) ? NULL : p + 4;
	default:
		if (*p != '-' && (*p < '0' || *p > '9'))
			return NULL;
		return p + 1 + strspn(p + 1, "0123456789.eE+-");
	}
}

/* Is @s exactly one JSON document (and a newline or other whitespace)? */
static bool json_document(const char *s)
{
	const char *end = json_value(s, 0);

	return end && !end[strspn(end, " \t\r\n")];
}

/* The number of lines of @s. */
static int lines_of(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

#define REQUIRE_PTMARKCTL()						\
	do {								\
		if (access(ptmarkctl, X_OK))				\
			SKIP(return, "no ptmarkctl next to the tests (%s)", ptmarkctl); \
	} while (0)

/* The same for a test of the read commands, which speak the family. */
#define REQUIRE_PTMARKCTL_NETLINK(fd)					\
	do {								\
		REQUIRE_PTMARKCTL();					\
		REQUIRE_NETLINK_FEATURE(fd);				\
	} while (0)

/*
 * A child with a region of known layout: 16 pages, the first 4 written,
 * pages 8, 9 and 12 guarded where the kernel can; below it a PROT_NONE
 * page, above it a hole.
 */
struct layout_child {
	pid_t pid;
	char *p;	/* the region: same address in the child */
	bool guards;
};

static int layout_child(struct layout_child *c)
{
	char *p = isolated_region(16);
	int pipefd[2], i;
	char ok;

	if (p == MAP_FAILED || pipe(pipefd))
		return -1;
	c->p = p;
	c->pid = fork();
	if (!c->pid) {
		munmap(p + 16 * page, page);
		for (i = 0; i < 4; i++)
			p[i * page] = 1;
		ok = guard_works(p + 8 * page) && guard_works(p + 9 * page) &&
		     guard_works(p + 12 * page);
		if (write(pipefd[1], &ok, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(pipefd[1]);
	if (c->pid < 0 || read(pipefd[0], &ok, 1) != 1)
		return -1;
	close(pipefd[0]);
	munmap(p - page, 18 * page);
	c->guards = ok;
	return 0;
}

CASE_NEEDS(global, ptmarkctl_maps_and_dump_of_known_layout, NEEDS_NETLINK, 0)
TEST(ptmarkctl_maps_and_dump_of_known_layout)
{
	struct layout_child c;
	char want[512], *out;
	uintptr_t a;
	int dev, i;

	PTMARK_REQUIRE_DEVICE(dev);
	REQUIRE_PTMARKCTL_NETLINK(dev);
	close(dev);
	ASSERT_EQ(0, layout_child(&c));
	a = (uintptr_t)c.p;

	ASSERT_EQ(0, run_ptmarkctl(&out, "maps %d", c.pid)) TH_LOG("%s", out);
	/* uffd-wp counts the bit and wp-mark the markers, as in JSON. */
	EXPECT_EQ(0, strncmp(out, "address ", 8)) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "    guard  uffd-wp  wp-mark   pinned name\n"))
		TH_LOG("%s", out);
	snprintf(want, sizeof(want), "%016lx-%016lx rw-p %8zu %8d %8d %8d %8d %8d %8d \n",
		 a, a + 16 * page, 16 * page / 1024, 4, 0, c.guards ? 3 : 0,
		 0, 0, 0);
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("want '%s' in:\n%s", want, out);
	if (c.guards) {
		snprintf(want, sizeof(want),
			 "  guard %016lx-%016lx 2 pages\n  guard %016lx-%016lx 1 pages\n",
			 a + 8 * page, a + 10 * page, a + 12 * page, a + 13 * page);
		EXPECT_NE(NULL, strstr(out, want)) TH_LOG("want '%s' in:\n%s", want, out);
	}
	free(out);

	ASSERT_EQ(0, run_ptmarkctl_stdout(&out, "--json maps %d", c.pid)) TH_LOG("%s", out);
	EXPECT_TRUE(json_document(out)) TH_LOG("%s", out);
	snprintf(want, sizeof(want),
		 "{\"start\":\"0x%lx\",\"end\":\"0x%lx\",\"perms\":\"rw-p\"", a,
		 a + 16 * page);
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("want '%s' in:\n%s", want, out);
	/* A VMA's flags have the name they have in dump's records. */
	EXPECT_NE(NULL, strstr(out, ",\"vma_flags\":[\"read\",\"write\",")) TH_LOG("%s", out);
	EXPECT_EQ(NULL, strstr(out, "\"flags\":")) TH_LOG("%s", out);
	if (c.guards) {
		snprintf(want, sizeof(want),
			 "\"guard\":3,\"uffd_wp_marker\":0,\"poison_marker\":0,\"uffd_wp\":0,\"pinned\":0,\"huge\":0,\"other\":0,\"guard_ranges\":[{\"start\":\"0x%lx\",\"end\":\"0x%lx\",\"pages\":2},{\"start\":\"0x%lx\",\"end\":\"0x%lx\",\"pages\":1}]}",
			 a + 8 * page, a + 10 * page, a + 12 * page, a + 13 * page);
		EXPECT_NE(NULL, strstr(out, want)) TH_LOG("want '%s' in:\n%s", want, out);
	}
	free(out);

	ASSERT_EQ(0, run_ptmarkctl(&out, "--map dump %d %lx-%lx", c.pid, a,
				   a + 16 * page)) TH_LOG("%s", out);
	snprintf(want, sizeof(want), "\n%016lx %s\n", a,
		 c.guards ? "AAAA....GG..G..." : "AAAA............");
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("want '%s' in:\n%s", want, out);
	free(out);

	/* Pfns split runs where they are not consecutive: --dense is exact. */
	ASSERT_EQ(0, run_ptmarkctl(&out, "--dense dump %d %lx-%lx", c.pid, a,
				   a + 16 * page)) TH_LOG("%s", out);
	for (i = 0; i < 4; i++) {
		snprintf(want, sizeof(want), "\n%016lx-%016lx 1 present write,",
			 a + i * page, a + (i + 1) * page);
		EXPECT_NE(NULL, strstr(out, want)) TH_LOG("want '%s' in:\n%s", want, out);
	}
	free(out);
	if (c.guards) {
		ASSERT_EQ(0, run_ptmarkctl(&out, "dump %d %lx-%lx", c.pid, a,
					   a + 16 * page)) TH_LOG("%s", out);
		snprintf(want, sizeof(want), "\n%016lx-%016lx 2 marker guard\n",
			 a + 8 * page, a + 10 * page);
		EXPECT_NE(NULL, strstr(out, want)) TH_LOG("want '%s' in:\n%s", want, out);
		free(out);
	}

	ASSERT_EQ(0, run_ptmarkctl_stdout(&out, "--json --dense dump %d %lx-%lx", c.pid,
					  a, a + 16 * page)) TH_LOG("%s", out);
	EXPECT_TRUE(json_document(out)) TH_LOG("%s", out);
	snprintf(want, sizeof(want),
		 "{\"start\":\"0x%lx\",\"end\":\"0x%lx\",\"pages\":1,\"kind\":\"present\",\"char\":\"A\"",
		 a, a + page);
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("want '%s' in:\n%s", want, out);
	free(out);
	reap(c.pid);
}

/*
 * More guard runs in one VMA than any fixed table holds: 5000 single
 * guard pages, every other page of a region, as 5000 guarded thread
 * stacks merged into one mapping are.  maps lists every one, the last
 * included, in text and JSON.
 */
#define MANY_RUNS	5000

CASE_NEEDS(global, ptmarkctl_maps_lists_every_guard_run, NEEDS_NETLINK | NEEDS_GUARD, 0)
TEST(ptmarkctl_maps_lists_every_guard_run)
{
	char want[256], *out, *p;
	uintptr_t a, last;
	int dev, pipefd[2], i;
	pid_t pid;
	char ok;

	PTMARK_REQUIRE_DEVICE(dev);
	REQUIRE_PTMARKCTL_NETLINK(dev);
	close(dev);
	p = isolated_region(2 * MANY_RUNS);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		ok = 1;
		for (i = 0; i < MANY_RUNS && ok; i++)
			ok = !madvise(p + (2 * i + 1) * page, page, MADV_GUARD_INSTALL);
		if (write(pipefd[1], &ok, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(pipefd[1]);
	ASSERT_EQ(1, read(pipefd[0], &ok, 1));
	close(pipefd[0]);
	munmap(p - page, (2 * MANY_RUNS + 2) * page);
	ASSERT_EQ(1, ok);
	a = (uintptr_t)p;
	last = a + (2 * MANY_RUNS - 1) * page;

	ASSERT_EQ(0, run_ptmarkctl(&out, "maps %d", pid)) TH_LOG("%.2000s", out);
	snprintf(want, sizeof(want), "%016lx-%016lx rw-p %8zu %8d %8d %8d ",
		 a, a + 2 * MANY_RUNS * page, 2 * MANY_RUNS * page / 1024, 0,
		 0, MANY_RUNS);
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("want '%s' in:\n%.2000s", want, out);
	snprintf(want, sizeof(want), "\n  guard %016lx-%016lx 1 pages\n",
		 last, last + page);
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("want '%s' in the listing", want);
	free(out);

	ASSERT_EQ(0, run_ptmarkctl_stdout(&out, "--json maps %d", pid));
	EXPECT_TRUE(json_document(out));
	snprintf(want, sizeof(want), ",{\"start\":\"0x%lx\",\"end\":\"0x%lx\",\"pages\":1}]}",
		 last, last + page);
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("want '%s' in the document", want);
	free(out);
	reap(pid);
}

/* guard install and remove through ptmarkctl, or the kernel's "no". */
TEST(ptmarkctl_guard_install_remove)
{
	struct ptmark_record recs[16];
	struct ptmark_info info;
	struct layout_child c;
	char *out;
	int dev, pidfd, i;
	uintptr_t a;

	PTMARK_REQUIRE_DEVICE(dev);
	REQUIRE_PTMARKCTL();
	ASSERT_EQ(0, ptmark_get_info(dev, &info));
	ASSERT_EQ(0, layout_child(&c));
	a = (uintptr_t)c.p;
	pidfd = pidfd_of(c.pid);
	ASSERT_LE(0, pidfd);

	if (!(info.features & PTMARK_FEAT_GUARD_IOCTL)) {
		EXPECT_EQ(1, run_ptmarkctl(&out, "guard install %d %lx-%lx",
					   c.pid, a, a + page));
		EXPECT_NE(NULL, strstr(out, "(EOPNOTSUPP): this kernel lacks guard markers"))
			TH_LOG("%s", out);
		free(out);
		reap(c.pid);
		return;
	}
	ASSERT_EQ(0, run_ptmarkctl(&out, "guard install %d %lx-%lx", c.pid,
				   a + 2 * page, a + 6 * page)) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "4 pages marked")) TH_LOG("%s", out);
	free(out);
	ASSERT_EQ(0, ptmark_scan_dense_of(dev, pidfd, c.p, 16, recs));
	for (i = 2; i < 6; i++)
		EXPECT_EQ('G', ptmark_record_char(&recs[i]));
	ASSERT_EQ(0, run_ptmarkctl(&out, "guard remove %d %lx-%lx", c.pid,
				   a + 2 * page, a + 4 * page)) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "2 pages cleared")) TH_LOG("%s", out);
	free(out);
	ASSERT_EQ(0, ptmark_scan_dense_of(dev, pidfd, c.p, 16, recs));
	EXPECT_EQ('.', ptmark_record_char(&recs[2]));
	EXPECT_EQ('.', ptmark_record_char(&recs[3]));
	EXPECT_EQ('G', ptmark_record_char(&recs[4]));
	/* A hole in the range: ENOMEM, named. */
	EXPECT_EQ(1, run_ptmarkctl(&out, "guard install %d %lx-%lx", c.pid,
				   a + 15 * page, a + 17 * page));
	EXPECT_NE(NULL, strstr(out, "(ENOMEM): the range has unmapped holes"))
		TH_LOG("%s", out);
	free(out);
	close(pidfd);
	reap(c.pid);
}

/* ptmarkctl started with @args, its stdout and stderr on *fd: its pid. */
static pid_t spawn_ptmarkctl(int *fd, const char *fmt, ...)
{
	char args[1024];
	int pipefd[2];
	va_list ap;
	pid_t pid;

	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	if (pipe(pipefd))
		return -1;
	pid = fork();
	if (!pid) {
		dup2(pipefd[1], 1);
		dup2(pipefd[1], 2);
		close(pipefd[0]);
		execl("/bin/sh", "sh", "-c", args, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	*fd = pipefd[0];
	return pid;
}

/* Read @fd into @buf (NUL-terminated) until it holds @want or 10 s pass. */
static bool read_until(int fd, char *buf, size_t size, const char *want)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t len = strlen(buf);
	ssize_t n;

	while (!strstr(buf, want)) {
		if (len + 1 >= size || poll(&pfd, 1, 10000) != 1)
			return false;
		n = read(fd, buf + len, size - len - 1);
		if (n <= 0)
			return false;
		len += n;
		buf[len] = '\0';
	}
	return true;
}

/* Bit i set for each of the first 32 records that is maybe-pinned. */
static unsigned int pinned_mask(const struct ptmark_record *recs, int nr)
{
	unsigned int mask = 0;
	int i;

	for (i = 0; i < nr && i < 32; i++)
		if (recs[i].bits & PTMARK_BIT_MAYBE_PINNED)
			mask |= 1U << i;
	return mask;
}

/* pin holds a session on a live process until told; monitor sees it. */
CASE_NEEDS(global, ptmarkctl_pin_and_monitor, NEEDS_NETLINK, 0)
TEST(ptmarkctl_pin_and_monitor)
{
	char mon_out[4096] = "", pin_out[4096] = "", want[256], *out;
	struct ptmark_record recs[16];
	struct ptmark_info info;
	int dev, pidfd, mon_fd, pin_fd, status;
	struct layout_child c;
	pid_t mon, pin;
	uintptr_t a;

	PTMARK_REQUIRE_DEVICE(dev);
	REQUIRE_PTMARKCTL_NETLINK(dev);
	ASSERT_EQ(0, ptmark_get_info(dev, &info));
	if (!(info.features & PTMARK_FEAT_PIN))
		SKIP(return, "module has no pin sessions (PTMARK_FEAT_PIN)");
	ASSERT_EQ(0, layout_child(&c));
	a = (uintptr_t)c.p;
	pidfd = pidfd_of(c.pid);
	ASSERT_LE(0, pidfd);

	mon = spawn_ptmarkctl(&mon_fd, "exec %s --count 2 --for 60 monitor",
			      ptmarkctl);
	ASSERT_LT(0, mon);
	ASSERT_TRUE(read_until(mon_fd, mon_out, sizeof(mon_out), "listening"))
		TH_LOG("%s", mon_out);

	pin = spawn_ptmarkctl(&pin_fd, "exec %s --write pin %d %lx-%lx",
			      ptmarkctl, c.pid, a, a + 4 * page);
	ASSERT_LT(0, pin);
	snprintf(want, sizeof(want), "pin %d %lx-%lx: 4 pages pinned, write; holding them until SIGINT or SIGTERM\n",
		 c.pid, a, a + 4 * page);
	ASSERT_TRUE(read_until(pin_fd, pin_out, sizeof(pin_out), want))
		TH_LOG("want '%s', got '%s'", want, pin_out);

	/* Held while ptmarkctl waits: in the page tables and in maps. */
	ASSERT_EQ(0, ptmark_scan_dense_of(dev, pidfd, c.p, 16, recs));
	EXPECT_EQ(0xf, pinned_mask(recs, 16));
	ASSERT_EQ(0, run_ptmarkctl(&out, "maps %d", c.pid)) TH_LOG("%s", out);
	snprintf(want, sizeof(want), "%016lx-%016lx rw-p %8zu %8d %8d %8d %8d %8d %8d",
		 a, a + 16 * page, 16 * page / 1024, 4, 0, c.guards ? 3 : 0, 0, 0, 4);
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("want '%s' in:\n%s", want, out);
	free(out);

	ASSERT_EQ(0, kill(pin, SIGTERM));
	ASSERT_EQ(pin, waitpid(pin, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status)) TH_LOG("status %x", status);
	snprintf(want, sizeof(want), "pin %d %lx-%lx: released\n", c.pid, a,
		 a + 4 * page);
	EXPECT_TRUE(read_until(pin_fd, pin_out, sizeof(pin_out), want))
		TH_LOG("want '%s', got '%s'", want, pin_out);
	close(pin_fd);
	ASSERT_EQ(0, ptmark_scan_dense_of(dev, pidfd, c.p, 16, recs));
	EXPECT_EQ(0, pinned_mask(recs, 16));

	/* The monitor printed both events and stopped at its count. */
	snprintf(want, sizeof(want),
		 "pin %d %016lx-%016lx 4 pages pinned\npin %d %016lx-%016lx 4 pages unpinned\n",
		 c.pid, a, a + 4 * page, c.pid, a, a + 4 * page);
	EXPECT_TRUE(read_until(mon_fd, mon_out, sizeof(mon_out), want))
		TH_LOG("want '%s', got '%s'", want, mon_out);
	ASSERT_EQ(mon, waitpid(mon, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status)) TH_LOG("status %x", status);
	close(mon_fd);

	/* A range GUP cannot pin whole: nothing held, the errno named. */
	EXPECT_EQ(1, run_ptmarkctl(&out, "--for 0 pin %d %lx-%lx", c.pid,
				   a + 15 * page, a + 17 * page));
	EXPECT_NE(NULL, strstr(out, "(EFAULT)")) TH_LOG("%s", out);
	free(out);
	EXPECT_EQ(2, run_ptmarkctl(&out, "--json pin %d %lx-%lx", c.pid, a,
				   a + page));
	free(out);
	EXPECT_EQ(2, run_ptmarkctl(&out, "--longterm maps %d", c.pid));
	free(out);
	EXPECT_EQ(2, run_ptmarkctl(&out, "--count 1 pin %d %lx-%lx", c.pid, a,
				   a + page));
	free(out);
	/* --for 0: pinned and let go at once. */
	ASSERT_EQ(0, run_ptmarkctl(&out, "--for 0 --longterm pin %d %lx-%lx",
				   c.pid, a, a + 2 * page)) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "2 pages pinned, long-term; holding them for 0 s\n"))
		TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, ": released\n")) TH_LOG("%s", out);
	free(out);
	close(pidfd);
	close(dev);
	reap(c.pid);
}

TEST(ptmarkctl_usage_and_errors)
{
	static const char *const cmds[] = {
		"features", "maps", "dump", "guard", "uffd-wp-marker",
		"unmovable", "pin", "monitor", "help",
	};
	struct ptmark_info info;
	char *out, *more, want[128];
	unsigned int i;
	int dev;

	PTMARK_REQUIRE_DEVICE(dev);
	REQUIRE_PTMARKCTL();
	ASSERT_EQ(0, ptmark_get_info(dev, &info));
	close(dev);
	EXPECT_EQ(0, run_ptmarkctl(&out, "--help"));
	EXPECT_NE(NULL, strstr(out, "usage: ptmarkctl"));
	free(out);
	EXPECT_EQ(2, run_ptmarkctl(&out, ""));
	free(out);
	EXPECT_EQ(2, run_ptmarkctl(&out, "frobnicate"));
	free(out);
	EXPECT_EQ(2, run_ptmarkctl(&out, "maps notapid"));
	free(out);
	EXPECT_EQ(2, run_ptmarkctl(&out, "dump 1 1000-1001"));
	free(out);
	EXPECT_EQ(2, run_ptmarkctl(&out, "--map maps 1"));
	free(out);

	/* help, help CMD and CMD help, as ip(8) and bpftool(8) have them. */
	EXPECT_EQ(0, run_ptmarkctl(&out, "help"));
	EXPECT_EQ(0, strncmp(out, "usage: ptmarkctl ", 17)) TH_LOG("%s", out);
	for (i = 0; i < ARRAY_SIZE(cmds); i++) {
		snprintf(want, sizeof(want), "] %s", cmds[i]);
		snprintf(want + 64, sizeof(want) - 64, "ptmarkctl %s ", cmds[i]);
		EXPECT_TRUE(strstr(out, want) || strstr(out, want + 64))
			TH_LOG("want '%s' in:\n%s", cmds[i], out);
	}
	free(out);
	EXPECT_EQ(0, run_ptmarkctl(&out, "help dump"));
	EXPECT_NE(NULL, strstr(out, "--dense")) TH_LOG("%s", out);
	EXPECT_EQ(0, run_ptmarkctl(&more, "dump help"));
	EXPECT_STREQ(out, more);
	free(more);
	EXPECT_EQ(0, run_ptmarkctl(&more, "dump --help"));
	EXPECT_STREQ(out, more);
	free(more);
	free(out);
	EXPECT_EQ(2, run_ptmarkctl(&out, "help frobnicate"));
	free(out);
	EXPECT_EQ(0, run_ptmarkctl(&out, "--version"));
	snprintf(want, sizeof(want), "(ptmark ABI %d)\n", PTMARK_ABI_VERSION);
	EXPECT_EQ(0, strncmp(out, "ptmarkctl ", 10)) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("want '%s' in:\n%s", want, out);
	free(out);
	EXPECT_EQ(0, run_ptmarkctl(&out, "-V"));
	free(out);

	/* A usage error is one line, saying where help is. */
	EXPECT_EQ(2, run_ptmarkctl(&out, "maps notapid"));
	EXPECT_EQ(1, lines_of(out)) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "(see 'ptmarkctl help maps')")) TH_LOG("%s", out);
	free(out);
	EXPECT_EQ(2, run_ptmarkctl(&out, "--frobnicate maps 1"));
	EXPECT_EQ(1, lines_of(out)) TH_LOG("%s", out);
	free(out);
	/* With --json, an error object on stdout, and never a document. */
	EXPECT_EQ(2, run_ptmarkctl_stdout(&out, "--json maps notapid"));
	EXPECT_TRUE(json_document(out)) TH_LOG("%s", out);
	EXPECT_EQ(0, strncmp(out, "{\"error\":", 9)) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "\"exit\":2}")) TH_LOG("%s", out);
	free(out);
	/* --dense makes a record a page: of the whole space, no. */
	EXPECT_EQ(2, run_ptmarkctl_stdout(&out, "--json --dense dump %d", getpid()));
	EXPECT_TRUE(json_document(out)) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "\"error\":\"--dense dump needs a START-END range\""))
		TH_LOG("%s", out);
	free(out);
	EXPECT_EQ(2, run_ptmarkctl(&out, "--dense --map dump %d", getpid()));
	free(out);

	if (!(info.features & PTMARK_FEAT_NETLINK)) {
		/* The read commands say why they cannot work here. */
		EXPECT_EQ(1, run_ptmarkctl(&out, "features"));
		EXPECT_NE(NULL, strstr(out, "(ENOENT): this kernel lacks genetlink split ops"))
			TH_LOG("%s", out);
		free(out);
		EXPECT_EQ(1, run_ptmarkctl_stdout(&out, "--json features"));
		EXPECT_TRUE(json_document(out)) TH_LOG("%s", out);
		EXPECT_NE(NULL, strstr(out, "\"errno\":\"ENOENT\",\"exit\":1}"))
			TH_LOG("%s", out);
		free(out);
		EXPECT_EQ(1, run_ptmarkctl(&out, "monitor"));
		EXPECT_NE(NULL, strstr(out, "(feature netlink: no)")) TH_LOG("%s", out);
		free(out);
		return;
	}
	EXPECT_EQ(1, run_ptmarkctl(&out, "maps %d", INT_MAX));
	EXPECT_NE(NULL, strstr(out, "(ESRCH): no such process")) TH_LOG("%s", out);
	free(out);
	EXPECT_EQ(1, run_ptmarkctl_stdout(&out, "--json maps %d", INT_MAX));
	EXPECT_TRUE(json_document(out)) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "\"errno\":\"ESRCH\",\"exit\":1}")) TH_LOG("%s", out);
	free(out);
	EXPECT_EQ(0, run_ptmarkctl(&out, "features"));
	EXPECT_NE(NULL, strstr(out, "\nguard_ioctl ")) TH_LOG("%s", out);
	free(out);
	EXPECT_EQ(0, run_ptmarkctl_stdout(&out, "--json features"));
	EXPECT_NE(NULL, strstr(out, "\"guard_ioctl\":")) TH_LOG("%s", out);
	EXPECT_TRUE(json_document(out)) TH_LOG("%s", out);
	EXPECT_EQ(1, lines_of(out)) TH_LOG("%s", out);
	/* --pretty: the same document, a member a line. */
	EXPECT_EQ(0, run_ptmarkctl_stdout(&more, "--pretty features"));
	EXPECT_TRUE(json_document(more)) TH_LOG("%s", more);
	EXPECT_LT(10, lines_of(more)) TH_LOG("%s", more);
	EXPECT_NE(NULL, strstr(more, "\n    \"guard_ioctl\": ")) TH_LOG("%s", more);
	free(more);
	free(out);
}

/* ---------------------------------------------------------------------
 * Thread stacks.
 */

#define NR_THREADS	4
/* Pages of each own stack with its guard: 32, or what arm64's glibc needs. */
#define STACK_PAGES	ptmark_guarded_stack_pages(32)

static pthread_barrier_t threads_up;

struct thread_stack {
	uintptr_t addr;		/* lowest address of the stack */
	size_t size, guard;	/* as pthread_getattr_np() reports them */
};

static void *stack_thread(void *arg)
{
	struct thread_stack *ts = arg;
	pthread_attr_t attr;
	void *addr;

	if (!pthread_getattr_np(pthread_self(), &attr)) {
		pthread_attr_getstack(&attr, &addr, &ts->size);
		pthread_attr_getguardsize(&attr, &ts->guard);
		ts->addr = (uintptr_t)addr;
		pthread_attr_destroy(&attr);
	}
	pthread_barrier_wait(&threads_up);
	for (;;)
		pause();
	return NULL;
}

/*
 * A child with NR_THREADS threads on stacks of its own, carved out of one
 * mapping, each with a guard page installed at its low end (as glibc
 * 2.42+ guards its stacks), and NR_THREADS threads on glibc's default
 * stacks; what pthread_getattr_np() says of each comes back by pipe.
 */
static pid_t threaded_child(struct thread_stack *own, struct thread_stack *dflt,
			    uintptr_t *region, bool *guarded)
{
	int pipefd[2];
	pid_t pid;

	if (pipe(pipefd))
		return -1;
	pid = fork();
	if (!pid) {
		struct thread_stack o[NR_THREADS] = { 0 }, d[NR_THREADS] = { 0 };
		char *stacks = isolated_region(NR_THREADS * STACK_PAGES);
		pthread_attr_t attr;
		pthread_t t;
		bool ok = true;
		int i;

		if (stacks == MAP_FAILED)
			_exit(1);
		pthread_barrier_init(&threads_up, NULL, 2 * NR_THREADS + 1);
		for (i = 0; i < NR_THREADS; i++) {
			char *s = stacks + i * STACK_PAGES * page;

			ok = ok && guard_works(s);
			pthread_attr_init(&attr);
			/* The usable stack starts above its guard page. */
			if (pthread_attr_setstack(&attr, s + page,
						  (STACK_PAGES - 1) * page) ||
			    pthread_create(&t, &attr, stack_thread, &o[i]) ||
			    pthread_create(&t, NULL, stack_thread, &d[i]))
				_exit(1);
			pthread_attr_destroy(&attr);
		}
		pthread_barrier_wait(&threads_up);
		if (write(pipefd[1], o, sizeof(o)) != sizeof(o) ||
		    write(pipefd[1], d, sizeof(d)) != sizeof(d) ||
		    write(pipefd[1], &stacks, sizeof(stacks)) != sizeof(stacks) ||
		    write(pipefd[1], &ok, sizeof(ok)) != sizeof(ok))
			_exit(1);
		for (;;)
			pause();
	}
	close(pipefd[1]);
	if (pid < 0 ||
	    read(pipefd[0], own, NR_THREADS * sizeof(*own)) != NR_THREADS * sizeof(*own) ||
	    read(pipefd[0], dflt, NR_THREADS * sizeof(*dflt)) != NR_THREADS * sizeof(*dflt) ||
	    read(pipefd[0], region, sizeof(*region)) != sizeof(*region) ||
	    read(pipefd[0], guarded, sizeof(*guarded)) != sizeof(*guarded)) {
		if (pid > 0)
			reap(pid);
		pid = -1;
	}
	close(pipefd[0]);
	return pid;
}

/*
 * Does the maps listing @out have a line "START-END ---p" (@tail is the
 * "-END ---p" part) whose START is at most @lo?  A PROT_NONE guard may
 * have merged with a PROT_NONE neighbour below it.
 */
static bool none_vma_covers(const char *out, const char *tail, uintptr_t lo)
{
	const char *t = strstr(out, tail);
	unsigned long start;

	return t && t - out >= 16 && sscanf(t - 16, "%16lx", &start) == 1 &&
	       start <= lo;
}

CASE_NEEDS(global, ptmarkctl_maps_finds_thread_stack_guards, NEEDS_NETLINK | NEEDS_GUARD, 0)
TEST(ptmarkctl_maps_finds_thread_stack_guards)
{
	struct thread_stack own[NR_THREADS], dflt[NR_THREADS];
	size_t len = NR_THREADS * STACK_PAGES * page;
	char want[256], *out;
	uintptr_t region;
	bool guarded;
	pid_t child;
	int dev, i;

	PTMARK_REQUIRE_DEVICE(dev);
	REQUIRE_PTMARKCTL_NETLINK(dev);
	close(dev);
	child = threaded_child(own, dflt, &region, &guarded);
	ASSERT_LT(0, child);
	ASSERT_EQ(0, run_ptmarkctl(&out, "maps %d", child)) TH_LOG("%s", out);

	/* glibc's stacks: a guard of pthread_attr_getguardsize() below each,
	 * a PROT_NONE VMA (glibc < 2.42) or guard markers (2.42+).
	 */
	for (i = 0; i < NR_THREADS; i++) {
		uintptr_t lo = dflt[i].addr - dflt[i].guard;
		char vma[128], marks[128];

		ASSERT_NE(0, dflt[i].guard);
		ASSERT_EQ(0, dflt[i].guard % page);
		snprintf(vma, sizeof(vma), "-%016lx ---p", dflt[i].addr);
		snprintf(marks, sizeof(marks), "  guard %016lx-%016lx %zu pages\n",
			 lo, dflt[i].addr, dflt[i].guard / page);
		EXPECT_TRUE(none_vma_covers(out, vma, lo) || strstr(out, marks))
			TH_LOG("thread %d: no guard of %zu bytes below %lx in:\n%s",
			       i, dflt[i].guard, dflt[i].addr, out);
	}

	if (!guarded) {
		free(out);
		reap(child);
		SKIP(return, "kernel lacks MADV_GUARD_INSTALL for own thread stacks");
	}
	/* Ours: one rw-p VMA, a one-page guard at each stack's low end. */
	snprintf(want, sizeof(want), "%016lx-%016lx rw-p %8zu", region,
		 region + len, len / 1024);
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("want '%s' in:\n%s", want, out);
	for (i = 0; i < NR_THREADS; i++) {
		uintptr_t g = region + i * STACK_PAGES * page;

		EXPECT_EQ(g + page, own[i].addr);
		snprintf(want, sizeof(want), "  guard %016lx-%016lx 1 pages\n",
			 g, g + page);
		EXPECT_NE(NULL, strstr(out, want)) TH_LOG("want '%s' in:\n%s", want, out);
	}
	free(out);
	reap(child);
}

static void __attribute__((constructor)) netlink_init(void)
{
	char self[400];
	ssize_t n;

	page = sysconf(_SC_PAGESIZE);
	pmd_pages = (2UL << 20) / page;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		snprintf(ptmarkctl, sizeof(ptmarkctl), "%s/ptmarkctl",
			 dirname(self));
	}
}

PTMARK_GENERATED_TEST()

PTMARK_MODULE_HARNESS_MAIN(NULL)
