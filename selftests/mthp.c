// SPDX-License-Identifier: GPL-2.0
/*
 * Markers inside one large anonymous folio: a 64 KiB mTHP, which arm64
 * maps with contiguous PTEs (one contpte block) and x86-64 with plain
 * ones.  A guard installed in its middle, or uffd-wp protection of part
 * of it, must break the block up: the page it concerns changes, every
 * other page keeps its frame and its data, and the module's scan, which
 * reads entry by entry through ptep_get(), shows each page as it is.  Each
 * result is checked by behaviour (data, signals, uffd messages) and by
 * the scan, and the scan's frames against pagemap's.
 */
#include <errno.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
};

/* The frame pagemap gives @addr, 0 when it maps none. */
static uint64_t pagemap_pfn(const void *addr)
{
	uint64_t pm;

	if (pagemap_read(addr, 1, &pm) || !(pm & PM_PRESENT))
		return 0;
	return pm & PM_PFN_MASK;
}

/*
 * A fresh 64 KiB-aligned anonymous range of two folios' size, mTHP of
 * 64 KiB always on while the first store faults the first folio in whole,
 * each of its pages then stamped.
 */
FIXTURE_SETUP(mthp)
{
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
	ASSERT_NE(MAP_FAILED, self->p);
	for (i = 0; i < self->nr; i++)
		memset(self->p + i * self->psize,
		       ptmark_stamp(PTMARK_BY_MEM, i), self->psize);
	self->pfn = pagemap_pfn(self->p);
	ASSERT_NE(0, self->pfn);
}

FIXTURE_TEARDOWN(mthp)
{
	if (self->p != MAP_FAILED)
		munmap(self->p, 2 * FOLIO_SIZE);
	if (self->set)
		ptmark_thp_size_restore(FOLIO_SIZE, self->old);
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
 * folio, as pagemap does.
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
}

/*
 * A guard installed on one page in the middle of the folio: that page
 * faults as a guard and shows as a guard marker; all the others keep
 * their frames and data.  Removing the guard leaves that page empty, and
 * a read of it then gets zeroes, not the old data.
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

	ASSERT_EQ(0, madvise(page, self->psize, MADV_GUARD_REMOVE));
	ASSERT_EQ(0, ptmark_scan_dense(self->fd, page, 1, recs));
	EXPECT_EQ(PTMARK_KIND_NONE, recs[0].kind);
	EXPECT_EQ(0, probe_read(page, &val));
	EXPECT_EQ(0, val);
	for (i = 0; i < self->nr; i++)
		if (i != g)
			EXPECT_TRUE(page_stamped(self, i)) TH_LOG("page %zu", i);
}

/*
 * uffd-wp protection of four pages in the middle of the folio: exactly
 * those show the uffd-wp bit and lose the write bit, every page keeps its
 * frame; a store to a page outside goes through, a store to one inside
 * waits for the write-protect fault's resolution, and then lands.
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
