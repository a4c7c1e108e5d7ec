// SPDX-License-Identifier: GPL-2.0
/*
 * pfnmap mappings from mmap() of /dev/ptmark: what the scan reports for
 * raw pfn entries and for the anonymous folios COW puts beside them in a
 * MAP_PRIVATE mapping, and that guard regions refuse such VMAs.
 */
#include <errno.h>
#include <fcntl.h>
#include <numaif.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ptmark_lib.h"

#define NR_PAGES	8

FIXTURE(pfnmap) {
	int fd;
	long page;
	char *p;
	struct ptmark_record recs[NR_PAGES];
};

FIXTURE_VARIANT(pfnmap) {
	int flags;
};

FIXTURE_VARIANT_ADD(pfnmap, shared) {
	.flags = MAP_SHARED,
};

FIXTURE_VARIANT_ADD(pfnmap, private) {
	.flags = MAP_PRIVATE,
};

FIXTURE_SETUP(pfnmap)
{
	PTMARK_REQUIRE_DEVICE(self->fd);
	self->page = sysconf(_SC_PAGESIZE);
	self->p = mmap(NULL, NR_PAGES * self->page, PROT_READ | PROT_WRITE,
		       variant->flags, self->fd, 0);
	ASSERT_NE(MAP_FAILED, self->p);
}

FIXTURE_TEARDOWN(pfnmap)
{
	munmap(self->p, NR_PAGES * self->page);
	close(self->fd);
}

/* Scan the mapping; every record must lie in a PFNMAP|IO VMA. */
static void scan_pfnmap(struct __test_metadata *_metadata,
			FIXTURE_DATA(pfnmap) *self)
{
	int i;

	ASSERT_EQ(0, ptmark_scan_dense(self->fd, self->p, NR_PAGES, self->recs));
	for (i = 0; i < NR_PAGES; i++) {
		EXPECT_EQ(PTMARK_VMA_PFNMAP | PTMARK_VMA_IO,
			  self->recs[i].vma_flags &
			  (PTMARK_VMA_PFNMAP | PTMARK_VMA_IO));
		EXPECT_EQ(PTMARK_KIND_PRESENT, self->recs[i].kind);
	}
}

/* A raw pfn entry: present, special, no folio, so neither anon nor file. */
static bool is_raw_pfn(const struct ptmark_record *r)
{
	return r->kind == PTMARK_KIND_PRESENT &&
	       (r->bits & PTMARK_BIT_SPECIAL) &&
	       !(r->bits & (PTMARK_BIT_ANON | PTMARK_BIT_FILE));
}

/* remap_pfn_range() fills every PTE at mmap time, zeroed pages. */
TEST_F(pfnmap, entries_are_special_pfns)
{
	int i;

	scan_pfnmap(_metadata, self);
	for (i = 0; i < NR_PAGES; i++) {
		EXPECT_TRUE(is_raw_pfn(&self->recs[i])) TH_LOG("page %d", i);
		EXPECT_EQ(0, self->p[i * self->page]);
	}
	/* One contiguous block: consecutive pfns (as root). */
	for (i = 1; self->recs[0].pfn && i < NR_PAGES; i++)
		EXPECT_EQ(self->recs[0].pfn + i, self->recs[i].pfn);
}

/*
 * A write to a MAP_PRIVATE pfnmap breaks COW: that page becomes an
 * ordinary exclusive anon folio, its neighbours stay raw pfns.  In a
 * MAP_SHARED one the write lands in the module's page.
 */
TEST_F(pfnmap, write_breaks_cow_only_when_private)
{
	int i;

	self->p[3 * self->page] = 'x';
	scan_pfnmap(_metadata, self);
	for (i = 0; i < NR_PAGES; i++) {
		const struct ptmark_record *r = &self->recs[i];

		if (i == 3 && variant->flags == MAP_PRIVATE) {
			EXPECT_FALSE(r->bits & PTMARK_BIT_SPECIAL);
			EXPECT_TRUE(r->bits & PTMARK_BIT_ANON);
			EXPECT_TRUE(r->bits & PTMARK_BIT_EXCLUSIVE);
			EXPECT_TRUE(r->bits & PTMARK_BIT_WRITE);
		} else {
			EXPECT_TRUE(is_raw_pfn(r)) TH_LOG("page %d", i);
		}
	}
	EXPECT_EQ('x', self->p[3 * self->page]);
}

/* Guard regions refuse VM_PFNMAP/VM_IO VMAs, from madvise and ptmark. */
TEST_F(pfnmap, guard_install_refused)
{
	struct ptmark_info info;
	long ret;

	ASSERT_EQ(0, ptmark_get_info(self->fd, &info));
	if (!(info.features & PTMARK_FEAT_GUARD))
		SKIP(return, "kernel lacks MADV_GUARD_INSTALL");
	errno = 0;
	EXPECT_EQ(-1, madvise(self->p, self->page, MADV_GUARD_INSTALL));
	EXPECT_EQ(EINVAL, errno);
	ret = ptmark_guard(self->p, self->page, true);
	EXPECT_EQ(info.features & PTMARK_FEAT_GUARD_IOCTL ? -EINVAL : -EOPNOTSUPP,
		  ret);
	scan_pfnmap(_metadata, self);
	EXPECT_TRUE(is_raw_pfn(&self->recs[0]));
}

/*
 * move_pages() status query on pfn entries: there is no folio to report,
 * so the kernel says -ENOENT, as for a page not present, for each raw pfn
 * page; a COW'd page of a private mapping is a normal page on a real node.
 */
TEST_F(pfnmap, move_pages_status)
{
	void *pages[NR_PAGES];
	int status[NR_PAGES];
	int pfn_status;
	int i;

	if (variant->flags == MAP_PRIVATE)
		self->p[0] = 'x';
	for (i = 0; i < NR_PAGES; i++) {
		pages[i] = self->p + i * self->page;
		status[i] = 12345;
	}
	ASSERT_EQ(0, move_pages(0, NR_PAGES, pages, NULL, status, 0))
		TH_LOG("move_pages: %s", strerror(errno));
	/*
	 * A pfn without a page is no page: -ENOENT where the kernel looks
	 * with folio_walk (6.12 on), -EFAULT where follow_page() did (6.1).
	 * Either way every such page of the mapping gets the same answer.
	 */
	pfn_status = status[variant->flags == MAP_PRIVATE ? 1 : 0];
	EXPECT_TRUE(pfn_status == -ENOENT || pfn_status == -EFAULT)
		TH_LOG("status %d for a pfn", pfn_status);
	for (i = 0; i < NR_PAGES; i++) {
		if (i == 0 && variant->flags == MAP_PRIVATE) {
			EXPECT_LE(0, status[i]);
		} else {
			EXPECT_EQ(pfn_status, status[i]) TH_LOG("page %d", i);
		}
	}
}

/* Bad mmap requests: an offset, or more than the module hands out. */
TEST(pfnmap_bad_requests)
{
	long page = sysconf(_SC_PAGESIZE);
	void *p;
	int fd;

	PTMARK_REQUIRE_DEVICE(fd);
	p = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, page);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, 1024 * page, PROT_READ, MAP_SHARED, fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	close(fd);
}

PTMARK_HARNESS_MAIN
