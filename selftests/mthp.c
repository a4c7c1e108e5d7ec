// SPDX-License-Identifier: GPL-2.0
/*
 * Markers inside one large anonymous folio: a 64 KiB mTHP, which arm64
 * maps with contiguous PTEs (one contpte block) and x86-64 with plain
 * ones.  A guard installed in its middle, or uffd-wp protection of part
 * of it, must break the block up: the page it concerns changes, every
 * other page keeps its frame and its data, and the module's scan, which
 * reads entry by entry through ptep_get(), shows each page as it is.  A
 * fork() copies the guard with the folio's entries, and the child's writes
 * beside it copy only the pages written.  Each result is checked by
 * behaviour (data, signals, uffd messages, reads from outside) and by the
 * scan, and the scan's frames against pagemap's.
 *
 * Where the module reports contiguous PTEs (PTMARK_FEAT_CONT_PTE, arm64:
 * ptmark_mthp_contpte()), each case also checks the contiguous bit of
 * every page still mapped: on all 16 of a freshly faulted folio, and on
 * none once an entry of the block was changed alone (arm64 unfolds the
 * whole block before it changes one entry of it, and folds it again only
 * when a single entry set completes 16 matching ones).  Elsewhere those
 * checks become "no page shows the bit"; nothing else of a case depends
 * on it.
 */
#include <errno.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ptmark_lib.h"

#define FOLIO_SIZE PTMARK_MTHP_SIZE

FIXTURE(mthp) {
	int fd;
	size_t psize, nr;	/* a page; pages in the folio */
	bool set;		/* the mTHP setting is to be restored */
	char old[16];
	char *p;		/* the folio's first page */
	uint64_t pfn;		/* and its frame */
	bool cont;		/* the folio is mapped as a contpte block */
};

/* The frame pagemap gives @addr, 0 when it maps none. */
static uint64_t pagemap_pfn(const void *addr)
{
	uint64_t pm;

	if (pagemap_read(addr, 1, &pm) || !(pm & PM_PRESENT))
		return 0;
	return pm & PM_PFN_MASK;
}

/* Unmap the range and restore the mTHP setting, each once. */
static void mthp_undo(FIXTURE_DATA(mthp) *self)
{
	if (self->p != MAP_FAILED)
		munmap(self->p, 2 * FOLIO_SIZE);
	self->p = MAP_FAILED;
	if (self->set)
		ptmark_thp_size_restore(FOLIO_SIZE, self->old);
	self->set = false;
}

/*
 * A fresh 64 KiB-aligned anonymous range of two folios' size, mTHP of
 * 64 KiB always on while the first store faults the first folio in whole,
 * each of its pages then stamped.
 */
FIXTURE_SETUP(mthp)
{
	bool mapped;
	size_t i;

	self->p = MAP_FAILED;
	self->set = false;
	PTMARK_REQUIRE_DEVICE(self->fd);
	self->psize = sysconf(_SC_PAGESIZE);
	self->nr = FOLIO_SIZE / self->psize;
	ASSERT_EQ(0, ptmark_thp_size_set(FOLIO_SIZE, "always", self->old,
					 sizeof(self->old)));
	self->set = true;
	self->p = mmap_aligned(2 * FOLIO_SIZE, FOLIO_SIZE, PROT_READ | PROT_WRITE);
	mapped = self->p != MAP_FAILED;
	self->pfn = 0;
	if (mapped) {
		for (i = 0; i < self->nr; i++)
			memset(self->p + i * self->psize,
			       ptmark_stamp(PTMARK_BY_MEM, i), self->psize);
		self->pfn = pagemap_pfn(self->p);
	}
	/*
	 * The harness runs no teardown after a set-up that failed: the
	 * mTHP setting must not stay "always" for the cases after.
	 */
	if (!self->pfn) {
		mthp_undo(self);
		ASSERT_TRUE(mapped) TH_LOG("no aligned %lu KiB mapping",
					   2 * FOLIO_SIZE / 1024);
		ASSERT_NE(0, self->pfn)
			TH_LOG("the folio's first page is not present after the stores");
	}
	self->cont = ptmark_mthp_contpte(self->fd);
}

FIXTURE_TEARDOWN(mthp)
{
	mthp_undo(self);
	close(self->fd);
}

/*
 * Page @i of the folio, by the scan: present in the folio's frame i, and
 * by pagemap: the same frame.  A page moved to another frame, or shown
 * with the frame of the block's head, fails here.
 */
static bool page_kept(struct __test_metadata *_metadata,
		      FIXTURE_DATA(mthp) *self,
		      const struct ptmark_record *r, size_t i)
{
	bool ok = true;

	if (r->kind != PTMARK_KIND_PRESENT || !(r->bits & PTMARK_BIT_ANON) ||
	    r->pfn != self->pfn + i) {
		TH_LOG("page %zu: scan kind %u bits %#x pfn %#llx, wanted present anon pfn %#llx",
		       i, r->kind, r->bits, (unsigned long long)r->pfn,
		       (unsigned long long)(self->pfn + i));
		ok = false;
	}
	if (pagemap_pfn(self->p + i * self->psize) != self->pfn + i) {
		TH_LOG("page %zu: pagemap pfn %#llx, wanted %#llx", i,
		       (unsigned long long)pagemap_pfn(self->p + i * self->psize),
		       (unsigned long long)(self->pfn + i));
		ok = false;
	}
	return ok;
}

/*
 * The contiguous bit of every page of the folio the scan @recs shows
 * present: @block says whether the folio is still one contpte block.
 * Where the kernel maps none (self->cont false), no page may show it.
 */
static bool cont_is(struct __test_metadata *_metadata,
		    FIXTURE_DATA(mthp) *self, const struct ptmark_record *recs,
		    bool block, const char *when)
{
	bool want = self->cont && block, ok = true;
	size_t i;

	for (i = 0; i < self->nr; i++) {
		if (recs[i].kind != PTMARK_KIND_PRESENT ||
		    !!(recs[i].bits & PTMARK_BIT_CONT) == want)
			continue;
		TH_LOG("%s: page %zu %s the contiguous bit (bits %#x)", when, i,
		       want ? "lacks" : "shows", recs[i].bits);
		ok = false;
	}
	return ok;
}

/* Does every byte of page @i still hold the stamp the set-up wrote? */
static bool page_stamped(FIXTURE_DATA(mthp) *self, size_t i)
{
	unsigned char want = ptmark_stamp(PTMARK_BY_MEM, i);
	const unsigned char *q = (unsigned char *)self->p + i * self->psize;
	size_t k;

	for (k = 0; k < self->psize; k++)
		if (q[k] != want)
			return false;
	return true;
}

/*
 * The fault mapped one 64 KiB folio, naturally aligned: the scan shows
 * every page of it present, large, written, each in its own frame of the
 * folio, as pagemap does; on arm64 (contiguous bit reported) all 16 with
 * the contiguous bit, one contpte block.
 */
TEST_F(mthp, scan_sees_each_page_of_the_folio)
{
	struct ptmark_record recs[64];
	size_t i;

	ASSERT_GE(64, self->nr);
	ASSERT_EQ(0, self->pfn % self->nr)
		TH_LOG("the first page's frame %#llx is no 64 KiB folio's head",
		       (unsigned long long)self->pfn);
	ASSERT_EQ(0, ptmark_scan_dense(self->fd, self->p, self->nr, recs));
	for (i = 0; i < self->nr; i++) {
		EXPECT_TRUE(page_kept(_metadata, self, &recs[i], i));
		EXPECT_EQ(PTMARK_BIT_LARGE | PTMARK_BIT_WRITE | PTMARK_BIT_DIRTY,
			  recs[i].bits & (PTMARK_BIT_LARGE | PTMARK_BIT_WRITE |
					  PTMARK_BIT_DIRTY))
			TH_LOG("page %zu: bits %#x", i, recs[i].bits);
		EXPECT_TRUE(page_stamped(self, i));
	}
	EXPECT_TRUE(cont_is(_metadata, self, recs, true, "the fresh folio"));
}

/*
 * A guard installed on one page in the middle of the folio: that page
 * faults as a guard and shows as a guard marker; all the others keep
 * their frames and data, and on arm64 (contiguous bit reported) lose
 * the contiguous bit: zapping the one entry unfolded the block.  Removing
 * the guard leaves that page empty, and a read of it then gets zeroes, not
 * the old data.
 */
TEST_F(mthp, guard_inside_folio)
{
	size_t i, g = self->nr / 2;
	struct ptmark_record recs[64];
	char *page = self->p + g * self->psize;
	char val;

	if (madvise(page, self->psize, MADV_GUARD_INSTALL)) {
		if (errno == EINVAL)
			SKIP(return, "kernel lacks MADV_GUARD_INSTALL (EINVAL)");
		ASSERT_EQ(0, -errno);
	}
	ASSERT_EQ(0, probe_handlers_install());
	EXPECT_EQ(SIGSEGV, probe_read(page, &val));
	EXPECT_TRUE(probe_hit_guard(page));
	ASSERT_EQ(0, ptmark_scan_dense(self->fd, self->p, self->nr, recs));
	for (i = 0; i < self->nr; i++) {
		if (i == g) {
			EXPECT_EQ(PTMARK_KIND_MARKER, recs[i].kind);
			EXPECT_EQ(PTMARK_MARKER_GUARD, recs[i].marker);
			EXPECT_EQ(0, pagemap_pfn(page));
			continue;
		}
		EXPECT_TRUE(page_kept(_metadata, self, &recs[i], i));
		EXPECT_TRUE(page_stamped(self, i)) TH_LOG("page %zu", i);
	}
	EXPECT_TRUE(cont_is(_metadata, self, recs, false, "a guard inside"));

	ASSERT_EQ(0, madvise(page, self->psize, MADV_GUARD_REMOVE));
	ASSERT_EQ(0, ptmark_scan_dense(self->fd, page, 1, recs));
	EXPECT_EQ(PTMARK_KIND_NONE, recs[0].kind);
	EXPECT_EQ(0, probe_read(page, &val));
	EXPECT_EQ(0, val);
	for (i = 0; i < self->nr; i++)
		if (i != g)
			EXPECT_TRUE(page_stamped(self, i)) TH_LOG("page %zu", i);
}

/* What a child forked with the folio needs to know of it. */
struct guard_child {
	char *p;
	size_t psize, nr, g;	/* a page; pages in the folio; the guarded one */
};

/*
 * Does every page of the folio but the guarded one hold, in the child,
 * what it should: the set-up's stamp, or the child's own where @wrote?
 * 'd' when so, else 'A' plus the first page that does not.
 */
static char guard_child_data(const struct guard_child *gc, bool wrote)
{
	const unsigned char *q;
	unsigned char want;
	size_t i, k;

	for (i = 0; i < gc->nr; i++) {
		if (i == gc->g)
			continue;
		want = ptmark_stamp(wrote && (i == gc->g - 1 || i == gc->g + 1) ?
				    PTMARK_BY_CHILD : PTMARK_BY_MEM, i);
		q = (unsigned char *)gc->p + i * gc->psize;
		for (k = 0; k < gc->psize; k++)
			if (q[k] != want)
				return 'A' + i;
	}
	return 'd';
}

/*
 * The child's requests, one byte back each: 'r' reads the guarded page
 * ('G' when that faults as a guard does), 'e' hands it to write(2) into
 * a pipe of the child's own ('E' when that fails with EFAULT), 'd'
 * checks the data of the others (guard_child_data()), 'w' writes the
 * pages either side of the guard ('w').  Its own reads, where one from
 * outside (process_vm_readv()) would pin the pages and so unshare them.
 */
static void guard_child_serve(void *arg, int cmd, int ack)
{
	const struct guard_child *gc = arg;
	char *page = gc->p + gc->g * gc->psize;
	bool wrote = false;
	char req, out, val;
	int sink[2];

	if (pipe(sink))
		sink[1] = -1;
	while (read(cmd, &req, 1) == 1) {
		switch (req) {
		case 'r':
			out = probe_read(page, &val) == SIGSEGV &&
			      probe_hit_guard(page) ? 'G' : 'n';
			break;
		case 'e':
			out = write(sink[1], page, 1) == -1 && errno == EFAULT ?
			      'E' : 'n';
			break;
		case 'd':
			out = guard_child_data(gc, wrote);
			break;
		default:
			memset(page - gc->psize,
			       ptmark_stamp(PTMARK_BY_CHILD, gc->g - 1), gc->psize);
			memset(page + gc->psize,
			       ptmark_stamp(PTMARK_BY_CHILD, gc->g + 1), gc->psize);
			wrote = true;
			out = 'w';
		}
		if (write(ack, &out, 1) != 1)
			break;
	}
	_exit(0);
}

/* Ask the child @req: its answer, 0 when it gave none. */
static char child_ask(struct served_child *c, char req)
{
	char out = 0;

	if (write(c->cmd, &req, 1) != 1 || read(c->ack, &out, 1) != 1)
		return 0;
	return out;
}

/*
 * The folio in the child, by the scan through @pidfd: a guard marker at
 * page @guard alone (none if @guard is past the folio); the pages in
 * @copies copies of their own (small, exclusive folios), every other page
 * the parent's frame, large and shared; the contiguous bit against
 * @block.
 */
static bool child_folio_ok(struct __test_metadata *_metadata,
			   FIXTURE_DATA(mthp) *self, int pidfd, size_t guard,
			   unsigned long copies, bool block)
{
	struct ptmark_record recs[64];
	bool ok = true, copy;
	size_t i;

	if (ptmark_scan_dense_of(self->fd, pidfd, self->p, self->nr, recs)) {
		TH_LOG("the scan of the child failed");
		return false;
	}
	for (i = 0; i < self->nr; i++) {
		const struct ptmark_record *r = &recs[i];
		const char *want;
		bool good;

		copy = copies & (1UL << i);
		if (i == guard) {
			want = "a guard marker";
			good = r->kind == PTMARK_KIND_MARKER &&
			       r->marker == PTMARK_MARKER_GUARD;
		} else {
			want = copy ? "a copy in a small exclusive folio" :
				      "the parent's frame, large, shared";
			good = r->kind == PTMARK_KIND_PRESENT &&
			       (r->bits & PTMARK_BIT_ANON) &&
			       (r->pfn == self->pfn + i) != copy &&
			       !(r->bits & PTMARK_BIT_LARGE) == copy &&
			       !!(r->bits & PTMARK_BIT_EXCLUSIVE) == copy;
		}
		if (good)
			continue;
		TH_LOG("child page %zu: kind %u marker %#x bits %#x pfn %#llx, wanted %s (the folio's frame %#llx)",
		       i, r->kind, r->marker, r->bits,
		       (unsigned long long)r->pfn, want,
		       (unsigned long long)(self->pfn + i));
		ok = false;
	}
	return cont_is(_metadata, self, recs, block, "the child") && ok;
}

/*
 * The child of the guard case: the guard at @g, its two neighbours copies
 * when @copied, no contiguous bit (the parent's block was unfolded by the
 * guard, and fork copies the entries as they are).
 */
static bool guarded_child_ok(struct __test_metadata *_metadata,
			     FIXTURE_DATA(mthp) *self, int pidfd, size_t g,
			     bool copied)
{
	return child_folio_ok(_metadata, self, pidfd, g,
			      copied ? 5UL << (g - 1) : 0, false);
}

/*
 * fork() of the folio with a guard in its middle.  The child's copy of
 * the page tables has the guard at that page alone (a read there is
 * SIGSEGV, a system call handed it and process_vm_readv() of it EFAULT,
 * the scan of the child names a guard there and nowhere else); every
 * other page shares the parent's frame and holds its data.  The child's writes beside the guard copy
 * those two pages alone, and leave the parent's guard, frames and data as
 * they were; removing the parent's guard leaves the child's.
 */
TEST_F(mthp, guard_inside_folio_across_fork)
{
	size_t i, g = self->nr / 2;
	struct guard_child gc = { self->p, self->psize, self->nr, g };
	char val, *page = self->p + g * self->psize;
	struct iovec local = { .iov_base = &val, .iov_len = 1 };
	struct iovec remote = { .iov_base = page, .iov_len = 1 };
	struct ptmark_record recs[64];
	struct served_child c;
	int pidfd, status;

	if (madvise(page, self->psize, MADV_GUARD_INSTALL)) {
		if (errno == EINVAL)
			SKIP(return, "kernel lacks MADV_GUARD_INSTALL (EINVAL)");
		ASSERT_EQ(0, -errno);
	}
	ASSERT_EQ(0, probe_handlers_install());
	ASSERT_EQ(0, served_child_start(&c, guard_child_serve, &gc));
	pidfd = pidfd_of(c.pid);
	ASSERT_LE(0, pidfd);

	EXPECT_TRUE(guarded_child_ok(_metadata, self, pidfd, g, false));
	EXPECT_EQ('G', child_ask(&c, 'r'));
	EXPECT_EQ('E', child_ask(&c, 'e'));
	EXPECT_EQ(-1, process_vm_readv(c.pid, &local, 1, &remote, 1, 0));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ('d', child_ask(&c, 'd'));
	/* Reading changed nothing. */
	EXPECT_TRUE(guarded_child_ok(_metadata, self, pidfd, g, false));

	EXPECT_EQ('w', child_ask(&c, 'w'));
	EXPECT_TRUE(guarded_child_ok(_metadata, self, pidfd, g, true));
	EXPECT_EQ('G', child_ask(&c, 'r'));
	EXPECT_EQ('d', child_ask(&c, 'd'));

	/* The parent's folio is as it was, its guard too. */
	ASSERT_EQ(0, ptmark_scan_dense(self->fd, self->p, self->nr, recs));
	for (i = 0; i < self->nr; i++) {
		if (i == g) {
			EXPECT_EQ(PTMARK_KIND_MARKER, recs[i].kind);
			EXPECT_EQ(PTMARK_MARKER_GUARD, recs[i].marker);
			continue;
		}
		EXPECT_TRUE(page_kept(_metadata, self, &recs[i], i));
		EXPECT_TRUE(page_stamped(self, i)) TH_LOG("page %zu", i);
	}
	EXPECT_TRUE(cont_is(_metadata, self, recs, false, "the parent"));
	EXPECT_EQ(SIGSEGV, probe_read(page, &val));
	EXPECT_TRUE(probe_hit_guard(page));

	/* Each process has its own guard. */
	ASSERT_EQ(0, madvise(page, self->psize, MADV_GUARD_REMOVE));
	EXPECT_EQ(0, probe_read(page, &val));
	EXPECT_EQ(0, val);
	EXPECT_TRUE(guarded_child_ok(_metadata, self, pidfd, g, true));
	EXPECT_EQ('G', child_ask(&c, 'r'));

	close(pidfd);
	status = served_child_stop(&c);
	EXPECT_TRUE(status >= 0 && WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("the child's status %#x", status);
}

/*
 * uffd-wp protection of four pages in the middle of the folio: exactly
 * those show the uffd-wp bit and lose the write bit, every page keeps its
 * frame, and on arm64 (contiguous bit reported) none keeps the
 * contiguous bit: protecting part of the block unfolded it; a store to a
 * page outside goes through, a store to one inside waits for the
 * write-protect fault's resolution, and then lands.
 */
TEST_F(mthp, uffd_wp_part_of_folio)
{
	size_t i, first = self->nr / 4, n = 4, in = first + 1;
	struct ptmark_record recs[64];
	struct writer out_w, in_w;
	struct uffd_msg msg;
	int uffd, ret;
	bool wp;

	uffd = uffd_open(0);
	if (uffd == -ENOSYS || uffd == -EPERM)
		SKIP(return, "no userfaultfd (%s)", strerror(-uffd));
	ASSERT_LE(0, uffd);
	ret = uffd_register(uffd, self->p, FOLIO_SIZE, UFFDIO_REGISTER_MODE_WP);
	if (ret == -EINVAL) {
		close(uffd);
		SKIP(return, "userfaultfd lacks write protection of anonymous memory");
	}
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, uffd_writeprotect(uffd, self->p + first * self->psize,
				       n * self->psize,
				       UFFDIO_WRITEPROTECT_MODE_WP));

	ASSERT_EQ(0, ptmark_scan_dense(self->fd, self->p, self->nr, recs));
	for (i = 0; i < self->nr; i++) {
		wp = i >= first && i < first + n;
		EXPECT_TRUE(page_kept(_metadata, self, &recs[i], i));
		EXPECT_EQ(wp, !!(recs[i].bits & PTMARK_BIT_UFFD_WP))
			TH_LOG("page %zu: bits %#x", i, recs[i].bits);
		EXPECT_EQ(!wp, !!(recs[i].bits & PTMARK_BIT_WRITE))
			TH_LOG("page %zu: bits %#x", i, recs[i].bits);
	}
	EXPECT_TRUE(cont_is(_metadata, self, recs, false, "part protected"));

	ASSERT_EQ(0, writer_start(&out_w, self->p, 0x5a));
	EXPECT_TRUE(writer_done_within(&out_w, 5000));
	pthread_join(out_w.thread, NULL);
	ASSERT_EQ(0, writer_start(&in_w, self->p + in * self->psize, 0x6b));
	EXPECT_FALSE(writer_done_within(&in_w, 300))
		TH_LOG("a store to a write-protected page did not wait");
	ASSERT_EQ(1, uffd_read_msg(uffd, 5000, &msg));
	EXPECT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);
	EXPECT_TRUE(msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP);
	EXPECT_EQ((uintptr_t)(self->p + in * self->psize),
		  msg.arg.pagefault.address & ~(uint64_t)(self->psize - 1));
	ASSERT_EQ(0, uffd_writeprotect(uffd, self->p + in * self->psize,
				       self->psize, 0));
	EXPECT_TRUE(writer_done_within(&in_w, 5000));
	pthread_join(in_w.thread, NULL);
	EXPECT_EQ(0x5a, self->p[0]);
	EXPECT_EQ(0x6b, self->p[in * self->psize]);
	ASSERT_EQ(0, ptmark_scan_dense(self->fd, self->p + in * self->psize, 1,
				       recs));
	EXPECT_EQ(0, recs[0].bits & PTMARK_BIT_UFFD_WP);
	EXPECT_TRUE(recs[0].bits & PTMARK_BIT_WRITE);
	EXPECT_EQ(self->pfn + in, recs[0].pfn);
	close(uffd);
}

/*
 * The folio by the scan, each page checked by page_kept() and for the
 * write bit (@ro: read-only pages, by index) and its data; and the
 * contiguous bit against @block.
 */
static void folio_check(struct __test_metadata *_metadata,
			FIXTURE_DATA(mthp) *self, size_t ro_first, size_t ro_n,
			bool block, const char *when)
{
	struct ptmark_record recs[64];
	size_t i;
	bool ro;

	ASSERT_EQ(0, ptmark_scan_dense(self->fd, self->p, self->nr, recs));
	for (i = 0; i < self->nr; i++) {
		ro = i >= ro_first && i < ro_first + ro_n;
		EXPECT_TRUE(page_kept(_metadata, self, &recs[i], i))
			TH_LOG("%s", when);
		EXPECT_EQ(!ro, !!(recs[i].bits & PTMARK_BIT_WRITE))
			TH_LOG("%s: page %zu: bits %#x", when, i, recs[i].bits);
		EXPECT_TRUE(page_stamped(self, i))
			TH_LOG("%s: page %zu", when, i);
	}
	EXPECT_TRUE(cont_is(_metadata, self, recs, block, when));
}

/*
 * mprotect(PROT_READ) of four pages in the middle of the folio: they
 * lose the write bit (a store there is SIGSEGV), the others keep it,
 * every page its frame and data; on arm64 (contiguous bit reported) no
 * page keeps the contiguous bit, the block unfolded to change part of
 * it, and making the four writable again does not fold it back.
 */
TEST_F(mthp, mprotect_part_of_folio)
{
	size_t first = self->nr / 4, n = 4;
	char *part = self->p + first * self->psize;

	ASSERT_EQ(0, mprotect(part, n * self->psize, PROT_READ));
	folio_check(_metadata, self, first, n, false, "part read-only");
	ASSERT_EQ(0, probe_handlers_install());
	EXPECT_EQ(SIGSEGV, probe_write(part + self->psize, 0x77));
	EXPECT_EQ(0, probe_write(self->p, ptmark_stamp(PTMARK_BY_MEM, 0)));

	ASSERT_EQ(0, mprotect(part, n * self->psize, PROT_READ | PROT_WRITE));
	folio_check(_metadata, self, 0, 0, false, "part writable again");
}

/*
 * mprotect(PROT_READ) of the whole folio, one contpte block on arm64:
 * every page loses the write bit and keeps its frame and data; on arm64
 * (contiguous bit reported) all 16 keep the contiguous bit, since the
 * block changed as a whole, and again when it is made writable.
 */
TEST_F(mthp, mprotect_whole_folio)
{
	ASSERT_EQ(0, mprotect(self->p, FOLIO_SIZE, PROT_READ));
	folio_check(_metadata, self, 0, self->nr, true, "read-only");
	ASSERT_EQ(0, probe_handlers_install());
	EXPECT_EQ(SIGSEGV, probe_write(self->p + self->psize, 0x77));

	ASSERT_EQ(0, mprotect(self->p, FOLIO_SIZE, PROT_READ | PROT_WRITE));
	folio_check(_metadata, self, 0, 0, true, "writable again");
}

/* The child of fork_of_folio: 'w' writes page 1 with its own stamp. */
static void fork_child_serve(void *arg, int cmd, int ack)
{
	const struct guard_child *gc = arg;
	char req, out;

	while (read(cmd, &req, 1) == 1) {
		memset(gc->p + gc->psize, ptmark_stamp(PTMARK_BY_CHILD, 1),
		       gc->psize);
		out = 'w';
		if (write(ack, &out, 1) != 1)
			break;
	}
	_exit(0);
}

/*
 * fork() of the whole folio: parent and child map the same frames, read-
 * only in both, and on arm64 (contiguous bit reported) both as a contpte
 * block, since fork write-protects and copies the block's entries as a
 * whole.  The child's write to page 1 copies that page alone and unfolds
 * the child's block, not the parent's; the parent's own write to page 2
 * then copies that page (the child still maps the folio) and unfolds the
 * parent's block.
 */
TEST_F(mthp, fork_of_folio)
{
	struct guard_child gc = { self->p, self->psize, self->nr, 0 };
	struct ptmark_record recs[64];
	struct served_child c;
	int pidfd, status;

	ASSERT_EQ(0, served_child_start(&c, fork_child_serve, &gc));
	pidfd = pidfd_of(c.pid);
	ASSERT_LE(0, pidfd);

	EXPECT_TRUE(child_folio_ok(_metadata, self, pidfd, SIZE_MAX, 0, true));
	folio_check(_metadata, self, 0, self->nr, true, "parent after fork");

	EXPECT_EQ('w', child_ask(&c, 'w'));
	EXPECT_TRUE(child_folio_ok(_metadata, self, pidfd, SIZE_MAX, 1UL << 1,
				   false));
	folio_check(_metadata, self, 0, self->nr, true,
		    "parent after the child's write");

	memset(self->p + 2 * self->psize, ptmark_stamp(PTMARK_BY_MEM, 2),
	       self->psize);
	ASSERT_EQ(0, ptmark_scan_dense(self->fd, self->p, self->nr, recs));
	EXPECT_TRUE(cont_is(_metadata, self, recs, false,
			    "parent after its own write"));
	EXPECT_TRUE(recs[2].bits & PTMARK_BIT_WRITE);
	EXPECT_TRUE(page_stamped(self, 1));
	EXPECT_TRUE(child_folio_ok(_metadata, self, pidfd, SIZE_MAX, 1UL << 1,
				   false));

	close(pidfd);
	status = served_child_stop(&c);
	EXPECT_TRUE(status >= 0 && WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("the child's status %#x", status);
}

int main(int argc, char **argv)
{
	if (!ptmark_only_listing(argc, argv)) {
		if (access(PTMARK_MTHP_ENABLED, W_OK)) {
			ksft_print_header();
			ksft_exit_skip("kernel lacks 64 KiB anonymous mTHP (no %s)\n",
				       PTMARK_MTHP_ENABLED);
		}
		ptmark_require_module(0, NULL);
	}
	return ptmark_harness_run(argc, argv, NULL);
}
