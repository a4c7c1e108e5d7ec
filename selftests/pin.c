// SPDX-License-Identifier: GPL-2.0
/*
 * Pins of user pages through the module's pin sessions, which call the
 * kernel's own pin_user_pages*(), and through io_uring fixed buffers.
 *
 * What the kernel promises (Documentation/core-api/pin_user_pages.rst and
 * the COW rework that made R/O FOLL_LONGTERM pins reliable): after a
 * FOLL_LONGTERM pin, R/O or R/W, and after any R/W pin, the pinned page is
 * the page the process maps, and stays so when the process writes through
 * its mapping - in a private (COW) mapping the pin first breaks COW
 * (FAULT_FLAG_UNSHARE for R/O), so the page becomes an exclusive anon
 * page, never the shared zeropage; in a shared mapping it is the page-cache
 * page.  A short-term R/O pin promises that only where nothing is shared
 * to begin with (an exclusive anon page, a shared mapping).
 *
 * Every backing runs every way of pinning, and each cell is checked by
 * behaviour (a write through the mapping is what the pinned page reads
 * back) and by the scan (anon/file, exclusive, maybe-pinned, and whether
 * the pinned page is still the one mapped before and after the write).
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ptmark_lib.h"

#define SMALL_PAGES	4
#define THP_ENABLED	"/sys/kernel/mm/transparent_hugepage/enabled"
#define THP_ZERO_PAGE	"/sys/kernel/mm/transparent_hugepage/use_zero_page"

static long page;
static size_t pmd = 2UL << 20;

enum backing {
	ANON,			/* written: exclusive anon pages */
	ANON_SHARED,		/* written, then shared with a live child */
	ANON_PREV_SHARED,	/* written, shared with a child that is gone */
	ZEROPAGE,		/* read: the shared zeropage */
	HUGE_ZEROPAGE,		/* read in a THP range: the huge zeropage */
	UNPOPULATED,		/* never touched */
	THP,			/* written in a THP range: one PMD-mapped THP */
	MEMFD,
	EXT4,			/* an O_TMPFILE on ext4 */
	HUGETLB,		/* a 2 MiB hugetlb memfd */
};

FIXTURE(pin) {
	int dev;
	int sess;
	int fd;			/* the file mapped, -1 for anon */
	char *p;
	size_t len, nr;
	pid_t sharer;		/* ANON_SHARED's child */
	int sharer_pipe;	/* closing it lets the child go */
	char *want;		/* what the range holds, page by page */
	char *buf;
	__u8 *states;
	struct ptmark_record *recs;
};

/* The mapping's backing (for the case filter), and the state of it. */
FIXTURE_VARIANT(pin) {
	const struct ptmark_backing *mapping;
	enum backing backing;
	int map;		/* MAP_PRIVATE or MAP_SHARED */
};

BACKED_FIXTURE(pin);

FIXTURE_VARIANT_ADD(pin, anon_exclusive) {
	.mapping = &ptmark_backings[BK_ANON],
	.backing = ANON, .map = MAP_PRIVATE,
};

FIXTURE_VARIANT_ADD(pin, anon_shared_after_fork) {
	.mapping = &ptmark_backings[BK_ANON],
	.backing = ANON_SHARED, .map = MAP_PRIVATE,
};

FIXTURE_VARIANT_ADD(pin, anon_previously_shared) {
	.mapping = &ptmark_backings[BK_ANON],
	.backing = ANON_PREV_SHARED, .map = MAP_PRIVATE,
};

FIXTURE_VARIANT_ADD(pin, zeropage) {
	.mapping = &ptmark_backings[BK_ANON],
	.backing = ZEROPAGE, .map = MAP_PRIVATE,
};

FIXTURE_VARIANT_ADD(pin, huge_zeropage) {
	.mapping = &ptmark_backings[BK_ANON_THP],
	.backing = HUGE_ZEROPAGE, .map = MAP_PRIVATE,
};

FIXTURE_VARIANT_ADD(pin, unpopulated) {
	.mapping = &ptmark_backings[BK_ANON],
	.backing = UNPOPULATED, .map = MAP_PRIVATE,
};

FIXTURE_VARIANT_ADD(pin, thp) {
	.mapping = &ptmark_backings[BK_ANON_THP],
	.backing = THP, .map = MAP_PRIVATE,
};

FIXTURE_VARIANT_ADD(pin, memfd_private) {
	.mapping = &ptmark_backings[BK_MEMFD_PRIVATE],
	.backing = MEMFD, .map = MAP_PRIVATE,
};

FIXTURE_VARIANT_ADD(pin, memfd_shared) {
	.mapping = &ptmark_backings[BK_MEMFD],
	.backing = MEMFD, .map = MAP_SHARED,
};

FIXTURE_VARIANT_ADD(pin, ext4_private) {
	.mapping = &ptmark_backings[BK_EXT4_PRIVATE],
	.backing = EXT4, .map = MAP_PRIVATE,
};

FIXTURE_VARIANT_ADD(pin, ext4_shared) {
	.mapping = &ptmark_backings[BK_EXT4_SHARED],
	.backing = EXT4, .map = MAP_SHARED,
};

FIXTURE_VARIANT_ADD(pin, hugetlb_private) {
	.mapping = &ptmark_backings[BK_HUGETLB_PRIVATE],
	.backing = HUGETLB, .map = MAP_PRIVATE,
};

FIXTURE_VARIANT_ADD(pin, hugetlb_shared) {
	.mapping = &ptmark_backings[BK_HUGETLB],
	.backing = HUGETLB, .map = MAP_SHARED,
};

static bool is_huge(enum backing b)
{
	return b == HUGE_ZEROPAGE || b == THP || b == HUGETLB;
}

static bool is_file(enum backing b)
{
	return b == MEMFD || b == EXT4 || b == HUGETLB;
}

/* Page i of a pattern: every byte is seed + i. */
static void fill(char *p, size_t nr, char seed)
{
	size_t i;

	for (i = 0; i < nr; i++)
		memset(p + i * page, seed + i, page);
}

/* Is "[never]" the THP mode, or is use_zero_page off (for zero)? */
static const char *thp_unusable(bool zero)
{
	char *text = read_text_file(THP_ENABLED);
	const char *why = NULL;

	if (!text || strstr(text, "[never]"))
		why = "THP disabled (transparent_hugepage/enabled)";
	free(text);
	if (why || !zero)
		return why;
	text = read_text_file(THP_ZERO_PAGE);
	if (!text || text[0] != '1')
		why = "huge zeropage disabled (transparent_hugepage/use_zero_page)";
	free(text);
	return why;
}

/* Read every page of the range, so that each is mapped. */
static void touch_read(const char *p, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++)
		(void)*(const volatile char *)(p + i * page);
}

/* The file behind a file backing, holding pattern 'f'; -1 with a reason. */
static int backing_file(enum backing b, size_t len, char *why, size_t why_len)
{
	char *tmp;
	int fd;

	if (b == HUGETLB) {
		fd = memfd_sized("ptmark-pin-hugetlb", MFD_HUGETLB, len);
		if (fd < 0) {
			snprintf(why, why_len, "no hugetlb memfd: %s",
				 strerror(errno));
			return -1;
		}
		if (fallocate(fd, 0, 0, len)) {
			snprintf(why, why_len, "no free 2 MiB huge page: %s",
				 strerror(errno));
			close(fd);
			return -1;
		}
		/* hugetlbfs has no write(): fill it through a shared map. */
		tmp = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		if (tmp == MAP_FAILED) {
			snprintf(why, why_len, "hugetlb mmap: %s", strerror(errno));
			close(fd);
			return -1;
		}
		fill(tmp, len / page, 'f');
		munmap(tmp, len);
		return fd;
	}

	fd = b == EXT4 ? ptmark_ext4_tmpfile(0) :
			 memfd_sized("ptmark-pin", 0, 0);
	if (fd < 0) {
		if (b == EXT4)
			ptmark_ext4_dir(why, why_len);
		else
			snprintf(why, why_len, "memfd: %s", strerror(errno));
		return -1;
	}
	tmp = malloc(len);
	if (!tmp || pwrite(fd, memset(tmp, 0, len), len, 0) != (ssize_t)len) {
		snprintf(why, why_len, "writing the file failed");
		free(tmp);
		close(fd);
		return -1;
	}
	fill(tmp, len / page, 'f');
	if (pwrite(fd, tmp, len, 0) != (ssize_t)len) {
		snprintf(why, why_len, "writing the file failed");
		close(fd);
		fd = -1;
	}
	free(tmp);
	return fd;
}

/*
 * A child that waits until its pipe is closed, keeping what fork() shared
 * with it shared until then.
 */
static pid_t waiting_child(int *pipe_out)
{
	int fds[2];
	pid_t pid;
	char c;

	if (pipe(fds))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(fds[1]);
		_exit(read(fds[0], &c, 1) < 0);
	}
	close(fds[0]);
	*pipe_out = fds[1];
	return pid;
}

/* A waiting_child() and a pin session on its memory, through its pidfd. */
struct remote {
	pid_t child;
	int pipe_fd, pidfd, session;
};

static void remote_open(struct __test_metadata *_metadata, int dev,
			struct remote *r)
{
	r->child = waiting_child(&r->pipe_fd);
	ASSERT_LT(0, r->child);
	r->pidfd = pidfd_of(r->child);
	ASSERT_LE(0, r->pidfd);
	r->session = ptmark_pin_session(dev, r->pidfd);
	ASSERT_LE(0, r->session);
}

/* Let the child exit, and reap it: the session outlives it. */
static void remote_child_exit(struct __test_metadata *_metadata,
			      struct remote *r)
{
	close(r->pipe_fd);
	ASSERT_EQ(r->child, waitpid(r->child, NULL, 0));
}

FIXTURE_SETUP(pin)
{
	char why[PTMARK_WHY_LEN];
	enum backing b = variant->backing;
	const char *no_thp;
	pid_t pid;

	self->dev = -1;
	self->fd = -1;
	self->sess = -1;
	self->sharer = 0;
	self->sharer_pipe = -1;
	self->p = MAP_FAILED;
	PTMARK_REQUIRE_DEVICE(self->dev);
	page = sysconf(_SC_PAGESIZE);
	self->len = is_huge(b) ? pmd : SMALL_PAGES * page;
	self->nr = self->len / page;
	self->want = calloc(1, self->len);
	self->buf = malloc(self->len);
	self->states = malloc(self->nr);
	self->recs = calloc(self->nr, sizeof(*self->recs));
	ASSERT_TRUE(self->want && self->buf && self->states && self->recs);

	if (b == THP || b == HUGE_ZEROPAGE) {
		no_thp = thp_unusable(b == HUGE_ZEROPAGE);
		if (no_thp)
			SKIP(return, "%s", no_thp);
	}
	if (is_file(b)) {
		self->fd = backing_file(b, self->len, why, sizeof(why));
		if (self->fd < 0)
			SKIP(return, "%s", why);
		self->p = mmap(NULL, self->len, PROT_READ | PROT_WRITE,
			       variant->map, self->fd, 0);
		ASSERT_NE(MAP_FAILED, self->p);
		fill(self->want, self->nr, 'f');
		touch_read(self->p, self->nr);
	} else {
		self->p = mmap_aligned(self->len, is_huge(b) ? pmd : page,
				       PROT_READ | PROT_WRITE);
		ASSERT_NE(MAP_FAILED, self->p);
		ASSERT_EQ(0, madvise(self->p, self->len,
				     is_huge(b) ? MADV_HUGEPAGE : MADV_NOHUGEPAGE));
		if (b == ZEROPAGE || b == HUGE_ZEROPAGE) {
			touch_read(self->p, self->nr);
		} else if (b != UNPOPULATED) {
			fill(self->p, self->nr, 'a');
			fill(self->want, self->nr, 'a');
		}
	}
	if (b == ANON_SHARED) {
		self->sharer = waiting_child(&self->sharer_pipe);
		ASSERT_LT(0, self->sharer);
	} else if (b == ANON_PREV_SHARED) {
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid)
			_exit(0);
		ASSERT_EQ(pid, waitpid(pid, NULL, 0));
	}

	/* The backing must be what the variant says before anything is pinned. */
	ASSERT_EQ(0, ptmark_scan_dense(self->dev, self->p, self->nr, self->recs));
	if (b == THP && !(self->recs[0].bits & PTMARK_BIT_PMD))
		SKIP(return, "no THP for a MADV_HUGEPAGE write fault");
	if (b == HUGE_ZEROPAGE &&
	    !(self->recs[0].bits & PTMARK_BIT_HUGE_ZEROPAGE))
		SKIP(return, "a THP read fault did not map the huge zeropage");
	if (b == ZEROPAGE && !(self->recs[0].bits & PTMARK_BIT_ZEROPAGE))
		SKIP(return, "read faults do not map the shared zeropage");

	self->sess = ptmark_pin_session(self->dev, -1);
	ASSERT_LE(0, self->sess) TH_LOG("%s", strerror(-self->sess));
}

FIXTURE_TEARDOWN(pin)
{
	if (self->sess >= 0)
		close(self->sess);
	if (self->sharer > 0) {
		close(self->sharer_pipe);
		waitpid(self->sharer, NULL, 0);
	}
	if (self->p != MAP_FAILED)
		munmap(self->p, self->len);
	if (self->fd >= 0)
		close(self->fd);
	/* Nothing a test pinned outlives its session. */
	if (self->sess >= 0) {
		EXPECT_EQ(0, ptmark_stat("pin_sessions"));
		EXPECT_EQ(0, ptmark_stat("pinned_pages"));
	}
	free(self->want);
	free(self->buf);
	free(self->states);
	free(self->recs);
	if (self->dev >= 0)
		close(self->dev);
}

/* The errno a pin with @flags must fail with on this backing, or 0. */
static int pin_refusal(const FIXTURE_VARIANT(pin) *variant, __u32 flags)
{
	/*
	 * A writable long-term pin of a file that needs dirty tracking
	 * (anything with writeback, so ext4, but not shmem or hugetlbfs) in
	 * a shared mapping would let the device write behind the
	 * filesystem's back: GUP refuses it, since 6.5 ("mm/gup: disallow
	 * FOLL_LONGTERM GUP-nonfast writing to file-backed mappings"); 6.1
	 * still pins it.
	 */
	if (variant->backing == EXT4 && variant->map == MAP_SHARED &&
	    (flags & PTMARK_PIN_F_WRITE) && (flags & PTMARK_PIN_F_LONGTERM) &&
	    kernel_gup_refuses_longterm_file_writes())
		return -EFAULT;
	return 0;
}

/*
 * Does a R/O long-term pin unshare what a private mapping shares?  Since
 * 6.2 (the COW rework's "reliable R/O long-term pinning in COW
 * mappings") it does for everything: the zeropages, page cache, hugetlb.
 * 6.1, the suite's floor, unshares only anonymous pages; elsewhere its
 * R/O long-term pin is what a short-term one is.
 */
static bool ro_longterm_unshares(const FIXTURE_VARIANT(pin) *variant)
{
	if (kernel_ro_longterm_pin_unshares())
		return true;
	return variant->map == MAP_SHARED || variant->backing == ANON ||
	       variant->backing == ANON_SHARED ||
	       variant->backing == ANON_PREV_SHARED || variant->backing == THP;
}

#define RO_LONGTERM_SKIP	"R/O long-term pins do not unshare page cache or zeropages before 6.2 (reliable R/O long-term pinning in COW mappings)"

/*
 * Does the kernel promise that the pinned page is the mapped page, now
 * and after a write through the mapping?  For long-term pins and write
 * pins, always.  A short-term R/O pin does not break COW, so it promises
 * that only where there is nothing to share: a shared mapping or a page
 * that already is exclusive anon.  Elsewhere (the zeropages, pages shared
 * with or inherited from a child, page cache in a private mapping) the
 * next write may well replace the page under it; that is the documented
 * behaviour, not something to assert either way.
 */
static bool coherence_promised(const FIXTURE_VARIANT(pin) *variant,
			       __u32 flags)
{
	if (flags & PTMARK_PIN_F_WRITE)
		return true;
	if ((flags & PTMARK_PIN_F_LONGTERM) && ro_longterm_unshares(variant))
		return true;
	return variant->map == MAP_SHARED || variant->backing == ANON ||
	       variant->backing == THP;
}

static size_t count_bits(const struct ptmark_record *recs, size_t nr,
			 __u32 bits)
{
	size_t i, n = 0;

	for (i = 0; i < nr; i++)
		n += (recs[i].bits & bits) == bits;
	return n;
}

/* The scan of a range whose pinned pages are the mapped ones. */
static void expect_pinned_and_mapped(struct __test_metadata *_metadata,
				     FIXTURE_DATA(pin) *self,
				     const FIXTURE_VARIANT(pin) *variant,
				     const char *when)
{
	__u32 want = PTMARK_BIT_MAYBE_PINNED;
	__u32 never = PTMARK_BIT_ZEROPAGE | PTMARK_BIT_HUGE_ZEROPAGE;
	size_t i;

	if (variant->map == MAP_PRIVATE) {
		want |= PTMARK_BIT_ANON | PTMARK_BIT_EXCLUSIVE;
		never |= PTMARK_BIT_FILE;
	} else {
		want |= PTMARK_BIT_FILE;
		never |= PTMARK_BIT_ANON | PTMARK_BIT_EXCLUSIVE;
	}
	ASSERT_EQ(0, ptmark_scan_dense(self->dev, self->p, self->nr, self->recs));
	for (i = 0; i < self->nr; i++) {
		const struct ptmark_record *r = &self->recs[i];

		EXPECT_EQ(PTMARK_KIND_PRESENT, r->kind) TH_LOG("%s: page %zu", when, i);
		EXPECT_EQ(want, r->bits & want)
			TH_LOG("%s: page %zu bits %#x", when, i, r->bits);
		EXPECT_EQ(0, r->bits & never)
			TH_LOG("%s: page %zu bits %#x", when, i, r->bits);
		if (_metadata->exit_code != KSFT_PASS)
			break;
	}
}

/* Every pinned page of the range is the page mapped there now. */
static void expect_same_pages(struct __test_metadata *_metadata,
			      FIXTURE_DATA(pin) *self, const char *when)
{
	struct ptmark_pin_compare c;

	ASSERT_EQ(0, ptmark_pin_compare(self->sess, self->p, self->len,
					self->states, &c));
	EXPECT_EQ(self->nr, c.nr_same) TH_LOG("%s: %u different, %u not mapped",
					      when, c.nr_different,
					      c.nr_not_mapped);
	EXPECT_EQ(PTMARK_PIN_SAME, self->states[0]);
	EXPECT_EQ(PTMARK_PIN_SAME, self->states[self->nr - 1]);
}

/* The pinned pages hold exactly @want. */
static void expect_pinned_data(struct __test_metadata *_metadata,
			       FIXTURE_DATA(pin) *self, const char *want,
			       const char *when)
{
	ASSERT_EQ(0, ptmark_pin_read(self->sess, self->p, self->len, self->buf));
	EXPECT_EQ(0, memcmp(self->buf, want, self->len)) TH_LOG("%s", when);
}

/* Once released, no page of the range is pinned by anyone. */
static void expect_unpinned(struct __test_metadata *_metadata,
			    FIXTURE_DATA(pin) *self, long long pinned_before)
{
	EXPECT_EQ(pinned_before, ptmark_stat("pinned_pages"));
	ASSERT_EQ(0, ptmark_scan_dense(self->dev, self->p, self->nr, self->recs));
	EXPECT_EQ(0, count_bits(self->recs, self->nr, PTMARK_BIT_MAYBE_PINNED));
}

/* One cell: pin the whole range with @flags and hold the kernel to it. */
static void check_pin(struct __test_metadata *_metadata,
		      FIXTURE_DATA(pin) *self,
		      const FIXTURE_VARIANT(pin) *variant, __u32 flags)
{
	long long pinned = ptmark_stat("pinned_pages");
	int refusal = pin_refusal(variant, flags);

	ASSERT_LE(0, pinned);
	ASSERT_EQ(refusal, ptmark_pin(self->sess, self->p, self->len, flags));
	if (refusal) {
		expect_unpinned(_metadata, self, pinned);
		return;
	}
	EXPECT_EQ(pinned + self->nr, ptmark_stat("pinned_pages"));
	expect_pinned_data(_metadata, self, self->want, "at pin time");

	if (coherence_promised(variant, flags)) {
		expect_pinned_and_mapped(_metadata, self, variant, "pinned");
		expect_same_pages(_metadata, self, "pinned");
		fill(self->p, self->nr, 'w');
		fill(self->want, self->nr, 'w');
		expect_same_pages(_metadata, self, "after the write");
		expect_pinned_and_mapped(_metadata, self, variant,
					 "after the write");
		expect_pinned_data(_metadata, self, self->want,
				   "after the write");
	}

	ASSERT_EQ(0, ptmark_unpin(self->sess, self->p, self->len));
	expect_unpinned(_metadata, self, pinned);
}

TEST_F(pin, ro_longterm_gup)
{
	check_pin(_metadata, self, variant, PTMARK_PIN_F_LONGTERM);
}

TEST_F(pin, ro_longterm_gup_fast)
{
	check_pin(_metadata, self, variant,
		  PTMARK_PIN_F_LONGTERM | PTMARK_PIN_F_FAST);
}

TEST_F(pin, rw_longterm_gup)
{
	check_pin(_metadata, self, variant,
		  PTMARK_PIN_F_LONGTERM | PTMARK_PIN_F_WRITE);
}

TEST_F(pin, rw_longterm_gup_fast)
{
	check_pin(_metadata, self, variant, PTMARK_PIN_F_LONGTERM |
		  PTMARK_PIN_F_WRITE | PTMARK_PIN_F_FAST);
}

TEST_F(pin, ro_shortterm_gup)
{
	check_pin(_metadata, self, variant, 0);
}

TEST_F(pin, ro_shortterm_gup_fast)
{
	check_pin(_metadata, self, variant, PTMARK_PIN_F_FAST);
}

TEST_F(pin, rw_shortterm_gup)
{
	check_pin(_metadata, self, variant, PTMARK_PIN_F_WRITE);
}

TEST_F(pin, rw_shortterm_gup_fast)
{
	check_pin(_metadata, self, variant,
		  PTMARK_PIN_F_WRITE | PTMARK_PIN_F_FAST);
}

/*
 * Pinned before a fork: the child must not share the pinned anon pages
 * (fork copies them for it), so the parent's pages stay exclusive and its
 * writes still reach the pinned pages while the child's writes do not.
 * In a shared mapping parent and child write the same pinned page.
 */
TEST_F(pin, pinned_before_fork)
{
	int status;
	pid_t pid;

	if (!ro_longterm_unshares(variant))
		SKIP(return, RO_LONGTERM_SKIP);
	ASSERT_EQ(0, ptmark_pin(self->sess, self->p, self->len,
				PTMARK_PIN_F_LONGTERM));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		fill(self->p, self->nr, 'c');
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	if (variant->map == MAP_SHARED)
		fill(self->want, self->nr, 'c');
	expect_pinned_data(_metadata, self, self->want, "after the child wrote");
	expect_same_pages(_metadata, self, "after fork");
	expect_pinned_and_mapped(_metadata, self, variant, "after fork");

	fill(self->p, self->nr, 'p');
	fill(self->want, self->nr, 'p');
	expect_same_pages(_metadata, self, "after the parent wrote");
	expect_pinned_data(_metadata, self, self->want, "after the parent wrote");
	ASSERT_EQ(0, ptmark_unpin(self->sess, self->p, self->len));
	expect_unpinned(_metadata, self, 0);
}

/* Install a guard marker on page @i: 0, or -1 with errno. */
static int guard_page(FIXTURE_DATA(pin) *self, size_t i)
{
	return madvise(self->p + i * page, page, MADV_GUARD_INSTALL);
}

static bool is_guard(const struct ptmark_record *r)
{
	return r->kind == PTMARK_KIND_MARKER && (r->marker & PTMARK_MARKER_GUARD);
}

/*
 * A guard marker inside the range: GUP faults on it (EFAULT, like a
 * hole), the pin fails as a whole and nothing of the range stays pinned,
 * by GUP and by GUP-fast, which falls back to GUP there.
 */
CASE_NEEDS(pin, guard_inside_range, PB_GUARD | NEEDS_GUARD, 0)
TEST_F(pin, guard_inside_range)
{
	const __u32 modes[] = { PTMARK_PIN_F_LONGTERM,
				PTMARK_PIN_F_LONGTERM | PTMARK_PIN_F_FAST,
				PTMARK_PIN_F_WRITE,
				PTMARK_PIN_F_WRITE | PTMARK_PIN_F_FAST };
	size_t guard = self->nr / 2, i;

	ASSERT_EQ(0, guard_page(self, guard));
	for (i = 0; i < ARRAY_SIZE(modes); i++) {
		EXPECT_EQ(-EFAULT, ptmark_pin(self->sess, self->p, self->len,
					      modes[i])) TH_LOG("mode %#x", modes[i]);
		expect_unpinned(_metadata, self, 0);
		EXPECT_TRUE(is_guard(&self->recs[guard]));
		EXPECT_EQ(-ENOENT, ptmark_pin_compare(self->sess, self->p,
						      page, self->states, NULL));
	}
}

/* A guard marker right after the range changes nothing about the pin. */
CASE_NEEDS(pin, guard_next_to_range, PB_GUARD | NEEDS_GUARD, 0)
TEST_F(pin, guard_next_to_range)
{
	size_t nr = self->nr - 1;
	struct ptmark_pin_compare c;

	ASSERT_EQ(0, guard_page(self, nr));
	ASSERT_EQ(0, ptmark_pin(self->sess, self->p, nr * page,
				PTMARK_PIN_F_LONGTERM));
	fill(self->p, nr, 'w');
	ASSERT_EQ(0, ptmark_pin_compare(self->sess, self->p, nr * page,
					self->states, &c));
	EXPECT_EQ(nr, c.nr_same);
	fill(self->want, nr, 'w');
	ASSERT_EQ(0, ptmark_pin_read(self->sess, self->p, nr * page, self->buf));
	EXPECT_EQ(0, memcmp(self->buf, self->want, nr * page));
	ASSERT_EQ(0, ptmark_scan_dense(self->dev, self->p, self->nr, self->recs));
	EXPECT_TRUE(is_guard(&self->recs[nr]));
	EXPECT_EQ(nr, count_bits(self->recs, nr, PTMARK_BIT_MAYBE_PINNED));
	ASSERT_EQ(0, ptmark_unpin(self->sess, self->p, nr * page));
	expect_unpinned(_metadata, self, 0);
	EXPECT_TRUE(is_guard(&self->recs[nr]));
}

/* Pages uffd-wp protected: by their entry's bit, or by a uffd-wp marker. */
static size_t count_protected(const struct ptmark_record *recs, size_t nr)
{
	size_t i, n = 0;

	for (i = 0; i < nr; i++)
		n += (recs[i].bits & PTMARK_BIT_UFFD_WP) ||
		     (recs[i].kind == PTMARK_KIND_MARKER &&
		      (recs[i].marker & PTMARK_MARKER_UFFD_WP));
	return n;
}

/* The uffd features a WP registration of this backing needs. */
static __u64 wp_features(enum backing b)
{
	__u64 f = UFFD_FEATURE_PAGEFAULT_FLAG_WP;

	if (is_file(b))
		f |= UFFD_FEATURE_WP_HUGETLBFS_SHMEM;
	if (b == UNPOPULATED)
		f |= UFFD_FEATURE_WP_UNPOPULATED;
	return f;
}

/*
 * A uffd-wp protected range: a R/O long-term pin breaks COW with an
 * unshare fault, which is no write and must not reach the handler, and
 * the page it installs must keep the protection, so that the next write
 * still does.
 */
CASE_NEEDS(pin, uffd_wp_protection_survives_pin, PB_UFFD_WP, 0)
TEST_F(pin, uffd_wp_protection_survives_pin)
{
	struct uffd_msg msg;
	struct writer w;
	int uffd, ret;

	uffd = uffd_open(wp_features(variant->backing));
	if (uffd < 0)
		SKIP(return, "kernel lacks the uffd-wp features this backing needs");
	if (!ro_longterm_unshares(variant)) {
		close(uffd);
		SKIP(return, RO_LONGTERM_SKIP);
	}
	ASSERT_EQ(0, uffd_register(uffd, self->p, self->len,
				   UFFDIO_REGISTER_MODE_WP));
	ASSERT_EQ(0, uffd_writeprotect(uffd, self->p, self->len,
				       UFFDIO_WRITEPROTECT_MODE_WP));
	ASSERT_EQ(0, ptmark_scan_dense(self->dev, self->p, self->nr, self->recs));
	ASSERT_EQ(self->nr, count_protected(self->recs, self->nr));

	ASSERT_EQ(0, ptmark_pin(self->sess, self->p, self->len,
				PTMARK_PIN_F_LONGTERM));
	EXPECT_EQ(0, uffd_read_msg(uffd, 0, &msg));
	expect_pinned_and_mapped(_metadata, self, variant, "pinned");
	if (ptmark_misobserve("huge-zero-unshare"))
		self->recs[0].bits &= ~PTMARK_BIT_ANON;
	/* The bug's symptom: a new anonymous THP, PMD-mapped, unprotected. */
	if (variant->backing == HUGE_ZEROPAGE &&
	    (self->recs[0].bits & (PTMARK_BIT_PMD | PTMARK_BIT_ANON)) ==
	    (PTMARK_BIT_PMD | PTMARK_BIT_ANON) &&
	    !count_protected(self->recs, self->nr))
		KERNEL_BUG("huge-zero-unshare-uffdwp",
			   "the THP that replaced the protected huge zeropage has no uffd-wp bit");
	EXPECT_EQ(self->nr, count_protected(self->recs, self->nr));
	expect_same_pages(_metadata, self, "pinned");

	ASSERT_EQ(0, writer_start(&w, self->p, 'u'));
	ret = uffd_read_msg(uffd, 5000, &msg);
	EXPECT_EQ(1, ret) TH_LOG("the write raised no uffd-wp fault");
	if (ret == 1) {
		EXPECT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);
		EXPECT_TRUE(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP);
		EXPECT_EQ((uintptr_t)self->p,
			  msg.arg.pagefault.address & ~(page - 1));
	}
	ASSERT_EQ(0, uffd_writeprotect(uffd, self->p, self->len, 0));
	ASSERT_EQ(0, pthread_join(w.thread, NULL));
	expect_same_pages(_metadata, self, "after the write");
	self->want[0] = 'u';
	expect_pinned_data(_metadata, self, self->want, "after the write");
	ASSERT_EQ(0, ptmark_unpin(self->sess, self->p, self->len));
	close(uffd);
	if (variant->backing == HUGE_ZEROPAGE)
		KERNEL_BUG_NOT_SEEN("huge-zero-unshare-uffdwp");
}

/* Give a pin someone else holds up to a second to go. */
static void wait_unpinned(FIXTURE_DATA(pin) *self)
{
	int tries;

	for (tries = 0; tries < 100; tries++) {
		if (ptmark_scan_dense(self->dev, self->p, self->nr, self->recs) ||
		    !count_bits(self->recs, self->nr, PTMARK_BIT_MAYBE_PINNED))
			return;
		usleep(10000);
	}
}

/* io_uring write of len bytes from fixed buffer 0 at p into fd: res. */
static int uring_write_fixed(struct io_uring *ring, int fd, void *p,
			     size_t len)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_write_fixed(sqe, fd, p, len, 0, 0);
	return uring_submit_one(ring);
}

/*
 * io_uring fixed buffers are R/W long-term pins (FOLL_WRITE |
 * FOLL_LONGTERM): a write through the mapping after registration must be
 * what a write from the buffer puts in a file.  Before 6.5 io_uring
 * itself refused buffers in file mappings other than shmem and hugetlbfs
 * (EOPNOTSUPP), whatever the mapping; since, it leaves that to GUP.
 */
TEST_F(pin, io_uring_fixed_buffer)
{
	struct iovec iov = { .iov_base = self->p, .iov_len = self->len };
	int refusal = pin_refusal(variant, PTMARK_PIN_F_WRITE |
					   PTMARK_PIN_F_LONGTERM);
	struct io_uring ring;
	int out, ret;

	if (variant->backing == EXT4 && !kernel_gup_refuses_longterm_file_writes())
		refusal = -EOPNOTSUPP;

	ret = io_uring_queue_init(4, &ring, 0);
	if (ret)
		SKIP(return, "io_uring unavailable: %s", strerror(-ret));
	out = memfd_sized("ptmark-pin-out", 0, 0);
	ASSERT_LE(0, out);
	ASSERT_EQ(refusal, io_uring_register_buffers(&ring, &iov, 1));
	if (refusal) {
		expect_unpinned(_metadata, self, 0);
		goto out;
	}
	expect_pinned_and_mapped(_metadata, self, variant, "registered");

	fill(self->p, self->nr, 'w');
	fill(self->want, self->nr, 'w');
	EXPECT_EQ((int)self->len, uring_write_fixed(&ring, out, self->p,
						    self->len));
	EXPECT_EQ((ssize_t)self->len, pread(out, self->buf, self->len, 0));
	EXPECT_EQ(0, memcmp(self->buf, self->want, self->len));

	ASSERT_EQ(0, io_uring_unregister_buffers(&ring));
	/*
	 * The last reference to the buffer may be the finished request's,
	 * which io_uring may drop just after posting its completion.
	 */
	wait_unpinned(self);
	expect_unpinned(_metadata, self, 0);
out:
	io_uring_queue_exit(&ring);
	close(out);
}

/* ---- sessions and bad input -------------------------------------------- */

FIXTURE(session) {
	int dev;
	int sess;
	char *p;
	size_t len;
	struct ptmark_record recs[8];
	__u8 states[8];
};

FIXTURE_SETUP(session)
{
	self->dev = -1;
	self->sess = -1;
	self->p = MAP_FAILED;
	PTMARK_REQUIRE_DEVICE(self->dev);
	page = sysconf(_SC_PAGESIZE);
	self->len = 8 * page;
	self->p = mmap(NULL, self->len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->p);
	fill(self->p, 8, 'a');
	self->sess = ptmark_pin_session(self->dev, -1);
	ASSERT_LE(0, self->sess) TH_LOG("%s", strerror(-self->sess));
}

FIXTURE_TEARDOWN(session)
{
	if (self->sess >= 0)
		close(self->sess);
	if (self->p != MAP_FAILED)
		munmap(self->p, self->len);
	if (self->sess >= 0) {
		EXPECT_EQ(0, ptmark_stat("pin_sessions"));
		EXPECT_EQ(0, ptmark_stat("pinned_pages"));
	}
	if (self->dev >= 0)
		close(self->dev);
}

/* Pages of [p, p + nr pages) the scan shows maybe-pinned. */
static size_t maybe_pinned(struct __test_metadata *_metadata,
			   FIXTURE_DATA(session) *self, const char *p,
			   size_t nr)
{
	EXPECT_EQ(0, ptmark_scan_dense(self->dev, p, nr, self->recs));
	return count_bits(self->recs, nr, PTMARK_BIT_MAYBE_PINNED);
}

/* The session fd: close-on-exec, one count in stats, gone when closed. */
TEST_F(session, fd_and_counters)
{
	struct ptmark_pin_open o = { .size = sizeof(o) };
	int flags = fcntl(self->sess, F_GETFD);

	EXPECT_TRUE(flags & FD_CLOEXEC);
	EXPECT_EQ(1, ptmark_stat("pin_sessions"));
	ASSERT_EQ(0, ioctl(self->dev, PTMARK_IOC_PIN, &o));
	EXPECT_EQ(PTMARK_PIN_MAX_PAGES, o.max_pages);
	EXPECT_EQ(2, ptmark_stat("pin_sessions"));
	ASSERT_EQ(0, ptmark_pin(o.fd, self->p, 3 * page, PTMARK_PIN_F_LONGTERM));
	EXPECT_EQ(3, ptmark_stat("pinned_pages"));
	EXPECT_EQ(3, maybe_pinned(_metadata, self, self->p, 8));
	close(o.fd);
	EXPECT_EQ(1, ptmark_stat("pin_sessions"));
	EXPECT_EQ(0, ptmark_stat("pinned_pages"));
	EXPECT_EQ(0, maybe_pinned(_metadata, self, self->p, 8));
	/* The session's own ioctls are not the device's, and vice versa. */
	EXPECT_EQ(-1, ioctl(self->sess, PTMARK_IOC_INFO, &o));
	EXPECT_EQ(ENOTTY, errno);
}

/* Arguments a pin session refuses, each leaving nothing pinned. */
TEST_F(session, bad_arguments)
{
	struct ptmark_pin_range r = { .size = sizeof(r) };
	struct {
		struct ptmark_pin_range r;
		__u64 unknown;
	} big = { { .size = sizeof(big), .len = page } };
	struct ptmark_pin_open o = { .size = sizeof(o), .flags = 1U << 31 };
	uintptr_t top = ~(uintptr_t)0 & ~(page - 1);
	struct ptmark_pin_read rd = {
		.size = sizeof(rd), .start = (uintptr_t)self->p, .len = page,
		.buf = (uintptr_t)self->p, .flags = 1,
	};

	EXPECT_EQ(-EINVAL, ptmark_pin(self->sess, self->p, page, 1U << 31));
	EXPECT_EQ(-EINVAL, ptmark_pin(self->sess, self->p + 1, page, 0));
	EXPECT_EQ(-EINVAL, ptmark_pin(self->sess, self->p, page + 1, 0));
	EXPECT_EQ(-EINVAL, ptmark_pin(self->sess, self->p, 0, 0));
	EXPECT_EQ(-EINVAL, ptmark_pin(self->sess, (void *)top, 2 * page, 0));
	EXPECT_EQ(-EINVAL, ptmark_pin(self->sess, (void *)(1UL << 62),
				      page, 0));
	r.size = 8;
	EXPECT_EQ(-1, ioctl(self->sess, PTMARK_PIN_IOC_PIN, &r));
	EXPECT_EQ(EINVAL, errno);
	big.r.start = (uintptr_t)self->p;
	big.unknown = 1;
	EXPECT_EQ(-1, ioctl(self->sess, PTMARK_PIN_IOC_PIN, &big));
	EXPECT_EQ(E2BIG, errno);
	EXPECT_EQ(-1, ioctl(self->dev, PTMARK_IOC_PIN, &o));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, ioctl(self->sess, PTMARK_PIN_IOC_PIN, NULL));
	EXPECT_EQ(EFAULT, errno);

	/* Nothing is pinned: read, compare and release find nothing. */
	EXPECT_EQ(-ENOENT, ptmark_pin_read(self->sess, self->p, page,
					   self->p + 4 * page));
	EXPECT_EQ(-ENOENT, ptmark_pin_compare(self->sess, self->p, page,
					      self->states, NULL));
	EXPECT_EQ(-ENOENT, ptmark_unpin(self->sess, self->p, page));
	EXPECT_EQ(0, ptmark_stat("pinned_pages"));

	/* Read and release take only what was pinned, as it was pinned. */
	ASSERT_EQ(0, ptmark_pin(self->sess, self->p, 2 * page, 0));
	EXPECT_EQ(-1, ioctl(self->sess, PTMARK_PIN_IOC_READ, &rd));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-ENOENT, ptmark_pin_read(self->sess, self->p, 3 * page,
					   self->p + 4 * page));
	EXPECT_EQ(-EFAULT, ptmark_pin_read(self->sess, self->p, page, NULL));
	EXPECT_EQ(-ENOENT, ptmark_unpin(self->sess, self->p, page));
	EXPECT_EQ(-ENOENT, ptmark_unpin(self->sess, self->p + page, page));
	EXPECT_EQ(0, ptmark_unpin(self->sess, self->p, 2 * page));
	EXPECT_EQ(0, ptmark_stat("pinned_pages"));
}

/*
 * A session holds at most PTMARK_PIN_MAX_PAGES: more is ENOSPC, checked
 * before anything is pinned.
 */
TEST_F(session, too_large)
{
	size_t max = PTMARK_PIN_MAX_PAGES;
	char *big = mmap(NULL, (max + 1) * page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	ASSERT_NE(MAP_FAILED, big);
	EXPECT_EQ(-ENOSPC, ptmark_pin(self->sess, big, (max + 1) * page, 0));
	EXPECT_EQ(0, ptmark_stat("pinned_pages"));
	ASSERT_EQ(0, ptmark_pin(self->sess, self->p, page, 0));
	EXPECT_EQ(-ENOSPC, ptmark_pin(self->sess, big, max * page, 0));
	EXPECT_EQ(1, ptmark_stat("pinned_pages"));
	munmap(big, (max + 1) * page);
}

/*
 * One session refuses ranges that overlap its own (EEXIST); separate
 * sessions pin the same pages independently, and the pages stay pinned
 * until the last of them lets go.
 */
TEST_F(session, overlapping_ranges_and_sessions)
{
	int other;

	ASSERT_EQ(0, ptmark_pin(self->sess, self->p, 2 * page, 0));
	EXPECT_EQ(-EEXIST, ptmark_pin(self->sess, self->p + page, 2 * page, 0));
	EXPECT_EQ(-EEXIST, ptmark_pin(self->sess, self->p, 2 * page, 0));
	EXPECT_EQ(-EEXIST, ptmark_pin(self->sess, self->p, 8 * page, 0));
	EXPECT_EQ(0, ptmark_pin(self->sess, self->p + 2 * page, page, 0));
	EXPECT_EQ(3, ptmark_stat("pinned_pages"));

	other = ptmark_pin_session(self->dev, -1);
	ASSERT_LE(0, other);
	ASSERT_EQ(0, ptmark_pin(other, self->p, 4 * page,
				PTMARK_PIN_F_LONGTERM));
	EXPECT_EQ(7, ptmark_stat("pinned_pages"));
	EXPECT_EQ(4, maybe_pinned(_metadata, self, self->p, 8));
	close(self->sess);
	self->sess = -1;
	EXPECT_EQ(4, maybe_pinned(_metadata, self, self->p, 8));
	EXPECT_EQ(4, ptmark_stat("pinned_pages"));
	close(other);
	EXPECT_EQ(0, maybe_pinned(_metadata, self, self->p, 8));
	EXPECT_EQ(0, ptmark_stat("pinned_pages"));
	EXPECT_EQ(0, ptmark_stat("pin_sessions"));
}

/* A hole in the range: EFAULT, and the mapped part is not left pinned. */
TEST_F(session, hole_in_range)
{
	const __u32 modes[] = { 0, PTMARK_PIN_F_FAST, PTMARK_PIN_F_LONGTERM,
				PTMARK_PIN_F_LONGTERM | PTMARK_PIN_F_FAST };
	size_t i;

	ASSERT_EQ(0, munmap(self->p + 2 * page, page));
	for (i = 0; i < ARRAY_SIZE(modes); i++) {
		EXPECT_EQ(-EFAULT, ptmark_pin(self->sess, self->p, 4 * page,
					      modes[i])) TH_LOG("mode %#x", modes[i]);
		EXPECT_EQ(0, ptmark_stat("pinned_pages"));
		EXPECT_EQ(0, maybe_pinned(_metadata, self, self->p, 2));
	}
}

/*
 * VM_PFNMAP | VM_IO mappings (mmap of /dev/ptmark) have no pages GUP may
 * take: it refuses the VMA, shared or private, even where a private one
 * holds an anon page COW put there.  GUP-fast never looks at the VMA:
 * it refuses the raw pfns for their special PTEs, and then falls back to
 * GUP, but takes such a COWed page as the ordinary anon page it is.
 */
TEST_F(session, pfnmap_refused)
{
	const __u32 modes[] = { 0, PTMARK_PIN_F_FAST, PTMARK_PIN_F_LONGTERM,
				PTMARK_PIN_F_LONGTERM | PTMARK_PIN_F_FAST,
				PTMARK_PIN_F_WRITE | PTMARK_PIN_F_FAST };
	const int maps[] = { MAP_SHARED, MAP_PRIVATE };
	size_t i, m;

	for (m = 0; m < ARRAY_SIZE(maps); m++) {
		char *pfn = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
				 maps[m], self->dev, 0);
		bool cowed = maps[m] == MAP_PRIVATE;

		ASSERT_NE(MAP_FAILED, pfn);
		pfn[0] = 'x';
		for (i = 0; i < ARRAY_SIZE(modes); i++) {
			bool fast = modes[i] & PTMARK_PIN_F_FAST;

			EXPECT_EQ(-EFAULT, ptmark_pin(self->sess, pfn, 2 * page,
						      modes[i]))
				TH_LOG("map %d mode %#x", maps[m], modes[i]);
			EXPECT_EQ(-EFAULT, ptmark_pin(self->sess, pfn + page,
						      page, modes[i]));
			EXPECT_EQ(cowed && fast ? 0 : -EFAULT,
				  ptmark_pin(self->sess, pfn, page, modes[i]))
				TH_LOG("map %d mode %#x", maps[m], modes[i]);
			if (cowed && fast) {
				EXPECT_EQ(1, ptmark_stat("pinned_pages"));
				EXPECT_EQ(1, maybe_pinned(_metadata, self, pfn, 1));
				EXPECT_EQ(0, ptmark_unpin(self->sess, pfn, page));
			}
			EXPECT_EQ(0, ptmark_stat("pinned_pages"));
		}
		munmap(pfn, 2 * page);
	}
}

/* Pinning needs /dev/ptmark open for writing. */
TEST_F(session, read_only_device_refused)
{
	int ro = open(PTMARK_DEVICE, O_RDONLY | O_CLOEXEC);

	ASSERT_LE(0, ro);
	EXPECT_EQ(-EBADF, ptmark_pin_session(ro, -1));
	EXPECT_EQ(1, ptmark_stat("pin_sessions"));
	close(ro);
}

/*
 * A session on another process (pidfd) pins its pages with
 * pin_user_pages_remote(); GUP-fast can only walk the caller's own mm.
 * When the target exits, its pinned pages stay pinned until released,
 * and new pins and comparisons say ESRCH.
 */
TEST_F(session, remote_target_and_its_exit)
{
	struct ptmark_pin_compare c;
	struct remote r;
	char *want = malloc(2 * page);

	ASSERT_NE(NULL, want);
	fill(want, 2, 'a');
	remote_open(_metadata, self->dev, &r);

	EXPECT_EQ(-EINVAL, ptmark_pin(r.session, self->p, page, PTMARK_PIN_F_FAST));
	ASSERT_EQ(0, ptmark_pin(r.session, self->p, 2 * page, PTMARK_PIN_F_LONGTERM));
	ASSERT_EQ(0, ptmark_pin_compare(r.session, self->p, 2 * page, self->states,
					&c));
	EXPECT_EQ(2, c.nr_same);
	ASSERT_EQ(0, ptmark_pin_read(r.session, self->p, 2 * page, self->p + 4 * page));
	EXPECT_EQ(0, memcmp(self->p + 4 * page, want, 2 * page));
	/* The child's pinned pages are its own, not ours. */
	EXPECT_EQ(0, maybe_pinned(_metadata, self, self->p, 2));

	remote_child_exit(_metadata, &r);
	EXPECT_EQ(2, ptmark_stat("pinned_pages"));
	EXPECT_EQ(-ESRCH, ptmark_pin(r.session, self->p + 2 * page, page, 0));
	EXPECT_EQ(-ESRCH, ptmark_pin_compare(r.session, self->p, 2 * page,
					     self->states, NULL));
	ASSERT_EQ(0, ptmark_pin_read(r.session, self->p, 2 * page, self->p + 4 * page));
	EXPECT_EQ(0, memcmp(self->p + 4 * page, want, 2 * page));
	EXPECT_EQ(0, ptmark_unpin(r.session, self->p, 2 * page));
	EXPECT_EQ(0, ptmark_stat("pinned_pages"));
	close(r.session);
	close(r.pidfd);
	free(want);
}

/* No session on a process that has exited, zombie or reaped. */
TEST_F(session, pidfd_of_exited_process)
{
	pid_t pid;
	int pidfd = pidfd_of_zombie(&pid);

	ASSERT_LE(0, pidfd);
	EXPECT_EQ(-ESRCH, ptmark_pin_session(self->dev, pidfd));
	ASSERT_EQ(pid, waitpid(pid, NULL, 0));
	EXPECT_EQ(-ESRCH, ptmark_pin_session(self->dev, pidfd));
	EXPECT_EQ(-EBADF, ptmark_pin_session(self->dev, self->dev));
	EXPECT_EQ(1, ptmark_stat("pin_sessions"));
	close(pidfd);
}

/*
 * After dropping from root to nobody, holding the device open, a process
 * may still pin its own pages but not another process's: that needs the
 * access a scan of it needs.
 */
TEST_F(session, target_without_access)
{
	int pipe_fd, pidfd, status;
	pid_t target, checker;

	if (geteuid() != 0)
		SKIP(return, "needs root to drop to another user");
	target = waiting_child(&pipe_fd);
	ASSERT_LT(0, target);
	pidfd = pidfd_of(target);
	ASSERT_LE(0, pidfd);

	checker = fork();
	ASSERT_LE(0, checker);
	if (!checker) {
		int own;

		if (become_nobody())
			_exit(2);
		if (ptmark_pin_session(self->dev, pidfd) != -EACCES)
			_exit(3);
		own = ptmark_pin_session(self->dev, -1);
		if (own < 0 || ptmark_pin(own, self->p, page, 0))
			_exit(4);
		_exit(0);
	}
	ASSERT_EQ(checker, waitpid(checker, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, ptmark_stat("pinned_pages"));
	close(pipe_fd);
	ASSERT_EQ(target, waitpid(target, NULL, 0));
	close(pidfd);
}

/*
 * The module cannot go while a session is open, even with /dev/ptmark
 * itself closed; the session's pins keep working meanwhile.
 */
TEST_F(session, rmmod_refused_while_session_open)
{
	const char *ko = getenv("PTMARK_KO");
	int ret;

	if (!ko)
		SKIP(return, "PTMARK_KO (path of ptmark.ko) not set");
	ASSERT_EQ(0, ptmark_pin(self->sess, self->p, page, PTMARK_PIN_F_LONGTERM));
	close(self->dev);
	self->dev = -1;
	ret = ptmark_module_unload();
	if (ret == 0)
		ptmark_module_load(ko, "");
	EXPECT_EQ(-EWOULDBLOCK, ret);
	EXPECT_EQ(0, ptmark_pin_compare(self->sess, self->p, page, self->states,
					NULL));
	EXPECT_EQ(PTMARK_PIN_SAME, self->states[0]);
	self->dev = ptmark_open();
	ASSERT_LE(0, self->dev);
}

/* Run last: nothing any test pinned is still pinned. */
TEST(nothing_left_pinned)
{
	int fd;

	PTMARK_REQUIRE_DEVICE(fd);
	EXPECT_EQ(0, ptmark_stat("pin_sessions"));
	EXPECT_EQ(0, ptmark_stat("pinned_pages"));
	close(fd);
}

/*
 * Pins are charged like io_uring's fixed buffers: to the pinning user's
 * locked memory within its RLIMIT_MEMLOCK (ENOMEM beyond, over all its
 * sessions), and they show in the target's VmPin.  A child with a limit
 * of 4 pages and no CAP_IPC_LOCK (uid 1000) pins our pages through two
 * sessions we opened on ourselves.
 */
#define MEMLOCK_PAGES	4
#define MEMLOCK_UID	1000

/* VmPin of process @pid in kB, -1 if none. */
static long vm_pin_kb(pid_t pid)
{
	char path[64], *text, *line;
	long kb = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	text = read_text_file(path);
	for (line = text; line && *line; line = text_next_line(line))
		if (sscanf(line, "VmPin: %ld kB", &kb) == 1)
			break;
	free(text);
	return kb;
}

TEST_F(session, pins_charged_to_memlock)
{
	struct rlimit lim = {
		.rlim_cur = MEMLOCK_PAGES * page,
		.rlim_max = MEMLOCK_PAGES * page,
	};
	pid_t pid, us = getpid();
	long kb = page / 1024;
	int status, other;

	other = ptmark_pin_session(self->dev, -1);
	ASSERT_LE(0, other);
	ASSERT_EQ(0, vm_pin_kb(us));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (setrlimit(RLIMIT_MEMLOCK, &lim) ||
		    setresgid(MEMLOCK_UID, MEMLOCK_UID, MEMLOCK_UID) ||
		    setresuid(MEMLOCK_UID, MEMLOCK_UID, MEMLOCK_UID))
			_exit(2);
		/* One range past the limit is refused whole. */
		EXPECT_EQ(-ENOMEM, ptmark_pin(self->sess, self->p,
					      (MEMLOCK_PAGES + 1) * page, 0))
			TH_LOG("module: a pin beyond RLIMIT_MEMLOCK was not refused");
		EXPECT_EQ(0, vm_pin_kb(us));
		/* Up to the limit: charged, and shown as the target's. */
		EXPECT_EQ(0, ptmark_pin(self->sess, self->p,
					(MEMLOCK_PAGES - 1) * page,
					PTMARK_PIN_F_LONGTERM));
		EXPECT_EQ((MEMLOCK_PAGES - 1) * kb, vm_pin_kb(us))
			TH_LOG("module: pins missing from the target's VmPin");
		EXPECT_EQ(0, ptmark_pin(other, self->p + 4 * page, page, 0));
		EXPECT_EQ(MEMLOCK_PAGES * kb, vm_pin_kb(us));
		/* The limit is the user's, over every session. */
		EXPECT_EQ(-ENOMEM, ptmark_pin(self->sess, self->p + 6 * page,
					      page, 0));
		EXPECT_EQ(-ENOMEM, ptmark_pin(other, self->p + 6 * page,
					      page, 0));
		/* Released pages are uncharged. */
		EXPECT_EQ(0, ptmark_unpin(other, self->p + 4 * page, page));
		EXPECT_EQ((MEMLOCK_PAGES - 1) * kb, vm_pin_kb(us));
		EXPECT_EQ(0, ptmark_pin(self->sess, self->p + 6 * page, page,
					0));
		EXPECT_EQ(0, ptmark_unpin(self->sess, self->p,
					  (MEMLOCK_PAGES - 1) * page));
		EXPECT_EQ(kb, vm_pin_kb(us));
		_exit(_metadata->exit_code == KSFT_PASS ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* What the child left pinned goes with the session that holds it. */
	EXPECT_EQ(kb, vm_pin_kb(us));
	close(self->sess);
	self->sess = -1;
	EXPECT_EQ(0, vm_pin_kb(us));
	close(other);
	EXPECT_EQ(0, ptmark_stat("pin_sessions"));
	EXPECT_EQ(0, ptmark_stat("pinned_pages"));
}

/*
 * A session on another process charges the pins to the process that
 * opened it, which holds them, as io_uring charges a ring's buffers to
 * its creator: our VmPin, not the target's.  They outlive the target and
 * stay charged to us until released.
 */
TEST_F(session, remote_pins_charged_to_opener)
{
	struct remote r;
	long kb = page / 1024;
	pid_t us = getpid();

	remote_open(_metadata, self->dev, &r);
	ASSERT_EQ(0, vm_pin_kb(us));

	ASSERT_EQ(0, ptmark_pin(r.session, self->p, 2 * page,
				PTMARK_PIN_F_LONGTERM));
	EXPECT_EQ(2 * kb, vm_pin_kb(us))
		TH_LOG("module: a remote pin is not in the opener's VmPin");
	EXPECT_EQ(0, vm_pin_kb(r.child))
		TH_LOG("module: a remote pin is charged to its target");
	EXPECT_EQ(2, ptmark_stat("pinned_pages"));

	remote_child_exit(_metadata, &r);
	EXPECT_EQ(2 * kb, vm_pin_kb(us));
	EXPECT_EQ(2, ptmark_stat("pinned_pages"));
	EXPECT_EQ(0, ptmark_unpin(r.session, self->p, 2 * page));
	EXPECT_EQ(0, vm_pin_kb(us));
	EXPECT_EQ(0, ptmark_stat("pinned_pages"));
	close(r.session);
	close(r.pidfd);
}

PTMARK_GENERATED_TEST()

PTMARK_MODULE_HARNESS_MAIN(NULL)
