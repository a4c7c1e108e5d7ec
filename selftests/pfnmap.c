// SPDX-License-Identifier: GPL-2.0
/*
 * pfnmap mappings from mmap() of /dev/ptmark, and every path of the kernel
 * that meets them: what the scan reports for raw pfn entries and for the
 * anonymous folios COW puts beside them in a MAP_PRIVATE mapping, and what
 * move_pages(), /proc (pagemap, smaps, numa_maps, mem), process_vm_readv(),
 * mincore(), madvise(), mprotect(), mremap(), munmap(), fork(), io_uring
 * and module unloading make of them.
 *
 * Each test runs over three mappings: 4 KiB pfns (remap_pfn_range() PTEs)
 * shared and private, and huge ones (special PMD leaves inserted at fault
 * time), shared.  A private huge pfnmap cannot exist: every MAP_PRIVATE
 * file mapping may become writable (VM_MAYWRITE), the kernel inserts
 * pfns into no mapping a write could COW, and so the module refuses it
 * (pfnmap_bad_requests).  Where a test writes, it checks the state
 * before and after the write.
 *
 * Raw pfns of both sizes must look alike everywhere except in the scan's
 * PMD bit; a path where they differ is a kernel finding.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <numaif.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ptmark_lib.h"

/* Pages of a 4 KiB pfnmap; a huge one is two PMDs. */
#define NR_PAGES	8
#define HUGE_PMDS	2
/* The page a write COWs in a private mapping, and where data is put. */
#define COW_PAGE	3

FIXTURE(pfnmap) {
	int fd;
	long page;
	size_t nr;	/* pages mapped */
	size_t len;
	bool pmd_leaves;	/* the kernel maps the huge kind with PMDs */
	bool cow;	/* a write breaks COW */
	struct ptmark_info info;
	char *p;
	struct ptmark_record *recs;
};

FIXTURE_VARIANT(pfnmap) {
	int flags;
	bool huge;
};

FIXTURE_VARIANT_ADD(pfnmap, shared) {
	.flags = MAP_SHARED,
};

FIXTURE_VARIANT_ADD(pfnmap, private) {
	.flags = MAP_PRIVATE,
};

FIXTURE_VARIANT_ADD(pfnmap, huge_shared) {
	.flags = MAP_SHARED,
	.huge = true,
};

static char *map_pfnmap(FIXTURE_DATA(pfnmap) *self,
			const FIXTURE_VARIANT(pfnmap) *variant)
{
	return mmap(NULL, self->len, PROT_READ | PROT_WRITE, variant->flags,
		    self->fd,
		    variant->huge ? PTMARK_MMAP_OFF_HUGE : PTMARK_MMAP_OFF_4K);
}

/* Fault every page in by reading it: the huge kind maps nothing at mmap. */
static void touch_pages(const char *p, size_t nr, long page)
{
	size_t i;

	for (i = 0; i < nr; i++)
		(void)*(const volatile char *)(p + i * page);
}

FIXTURE_SETUP(pfnmap)
{
	PTMARK_REQUIRE_DEVICE(self->fd);
	ASSERT_EQ(0, ptmark_get_info(self->fd, &self->info));
	ASSERT_EQ(0, probe_handlers_install());
	self->page = sysconf(_SC_PAGESIZE);
	self->nr = variant->huge ? HUGE_PMDS * self->info.pmd_size / self->page
				 : NR_PAGES;
	self->len = self->nr * self->page;
	self->pmd_leaves = variant->huge &&
			   (self->info.features & PTMARK_FEAT_HUGE_PFNMAP);
	self->cow = variant->flags == MAP_PRIVATE;
	self->recs = calloc(self->nr, sizeof(*self->recs));
	ASSERT_NE(NULL, self->recs);
	self->p = map_pfnmap(self, variant);
	ASSERT_NE(MAP_FAILED, self->p) TH_LOG("mmap: %s", strerror(errno));
	touch_pages(self->p, self->nr, self->page);
}

FIXTURE_TEARDOWN(pfnmap)
{
	if (self->p != MAP_FAILED)
		munmap(self->p, self->len);
	free(self->recs);
	if (self->fd >= 0)
		close(self->fd);
}

/* Scan @nr pages at @addr into self->recs. */
static int scan_at(FIXTURE_DATA(pfnmap) *self, const void *addr, size_t nr)
{
	return ptmark_scan_dense(self->fd, addr, nr, self->recs);
}

/* A raw pfn entry: present, special, no folio, so neither anon nor file. */
static bool is_raw_pfn(const struct ptmark_record *r)
{
	return r->kind == PTMARK_KIND_PRESENT &&
	       (r->bits & PTMARK_BIT_SPECIAL) &&
	       !(r->bits & (PTMARK_BIT_ANON | PTMARK_BIT_FILE));
}

static bool is_cow_folio(const struct ptmark_record *r)
{
	return r->kind == PTMARK_KIND_PRESENT &&
	       (r->bits & PTMARK_BIT_ANON) && !(r->bits & PTMARK_BIT_SPECIAL);
}

/*
 * Every page of [addr, +nr) is a raw pfn inside a PFNMAP|IO VMA, mapped
 * by a PMD leaf exactly when @pmd, with consecutive pfns (as root) from
 * the first; except @cow_page (-1: none), which must be a COW folio.
 */
static void expect_pfns(struct __test_metadata *_metadata,
			FIXTURE_DATA(pfnmap) *self, const char *addr,
			size_t nr, bool pmd, long cow_page)
{
	const struct ptmark_record *r = self->recs;
	size_t i, first = cow_page == 0;

	ASSERT_EQ(0, scan_at(self, addr, nr));
	for (i = 0; i < nr; i++) {
		EXPECT_EQ(PTMARK_VMA_PFNMAP | PTMARK_VMA_IO,
			  r[i].vma_flags & (PTMARK_VMA_PFNMAP | PTMARK_VMA_IO));
		if ((long)i == cow_page) {
			EXPECT_TRUE(is_cow_folio(&r[i])) TH_LOG("page %zu", i);
			continue;
		}
		EXPECT_TRUE(is_raw_pfn(&r[i]))
			TH_LOG("page %zu kind %u bits %#x", i, r[i].kind,
			       r[i].bits);
		EXPECT_EQ(pmd, !!(r[i].bits & PTMARK_BIT_PMD))
			TH_LOG("page %zu", i);
		if (r[first].pfn)
			EXPECT_EQ(r[first].pfn + i - first, r[i].pfn)
				TH_LOG("page %zu", i);
	}
}

/* The state right after setup: all raw, PMD leaves for the huge kind. */
static void expect_all_raw(struct __test_metadata *_metadata,
			   FIXTURE_DATA(pfnmap) *self)
{
	expect_pfns(_metadata, self, self->p, self->nr, self->pmd_leaves, -1);
}

/*
 * Write 'x' to COW_PAGE: a COW folio in a private mapping, the module's
 * page in a shared one.  Returns the page a scan must then show as a COW
 * folio, or -1.
 */
static long write_cow_page(FIXTURE_DATA(pfnmap) *self)
{
	self->p[COW_PAGE * self->page] = 'x';
	return self->cow ? COW_PAGE : -1;
}

static char *page_at(FIXTURE_DATA(pfnmap) *self, size_t i)
{
	return self->p + i * self->page;
}

/* The node the kernel reports for the folio at @addr. */
static int node_of(void *addr)
{
	int node = -1;

	if (get_mempolicy(&node, NULL, 0, addr, MPOL_F_NODE | MPOL_F_ADDR))
		return -errno;
	return node;
}

/* Every page filled (huge: by faults), zeroed, one block. */
TEST_F(pfnmap, entries_are_special_pfns)
{
	size_t i;

	expect_all_raw(_metadata, self);
	for (i = 0; i < self->nr; i++)
		ASSERT_EQ(0, *page_at(self, i)) TH_LOG("page %zu", i);
	/* A huge block is PMD-aligned physically (as root). */
	if (self->pmd_leaves && self->recs[0].pfn)
		EXPECT_EQ(0, self->recs[0].pfn %
			  (self->info.pmd_size / self->page));
	/*
	 * ...and so is the address thp_get_unmapped_area() chose, where the
	 * module maps PMD leaves (a kernel without PMD pfnmaps gets 4 KiB
	 * entries at any address).
	 */
	if (self->pmd_leaves)
		EXPECT_EQ(0, (uintptr_t)self->p % self->info.pmd_size);
}

/*
 * A write to a private 4 KiB pfnmap breaks COW (wp_page_copy()): that
 * page becomes an ordinary exclusive anon folio, its neighbours stay raw
 * pfns.  A shared mapping takes the write in the module's page, and a
 * huge PMD leaf stays one (wp_huge_pmd() calls huge_fault, which
 * re-inserts the same pfn writable).
 */
TEST_F(pfnmap, write_breaks_cow_only_when_private)
{
	long cow = write_cow_page(self);

	expect_pfns(_metadata, self, self->p, self->nr, self->pmd_leaves, cow);
	if (cow >= 0) {
		EXPECT_TRUE(self->recs[cow].bits & PTMARK_BIT_EXCLUSIVE);
		EXPECT_TRUE(self->recs[cow].bits & PTMARK_BIT_WRITE);
	}
	EXPECT_EQ('x', *page_at(self, COW_PAGE));
}

/* Guard regions refuse VM_PFNMAP/VM_IO VMAs, from madvise and ptmark. */
CASE_NEEDS(pfnmap, guard_install_refused, NEEDS_GUARD, 0)
TEST_F(pfnmap, guard_install_refused)
{
	long ret;

	if (!(self->info.features & PTMARK_FEAT_GUARD))
		SKIP(return, "kernel lacks MADV_GUARD_INSTALL");
	/* madvise_guard_install(): VM_SPECIAL VMAs answer -EINVAL. */
	errno = 0;
	EXPECT_EQ(-1, madvise(self->p, self->page, MADV_GUARD_INSTALL));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, madvise(self->p, self->page, MADV_GUARD_REMOVE));
	EXPECT_EQ(EINVAL, errno);
	ret = ptmark_guard(self->p, self->page, true);
	EXPECT_EQ(self->info.features & PTMARK_FEAT_GUARD_IOCTL ?
		  -EINVAL : -EOPNOTSUPP, ret);
	expect_all_raw(_metadata, self);
}

/*
 * move_pages(nodes=NULL) reaches folio_walk_start() (do_pages_stat_array):
 * a raw pfn, PTE or PMD, has no folio (vm_normal_page() and
 * vm_normal_page_pmd() say NULL for special entries), so -ENOENT, as for
 * a page not present; a COW folio is a normal page on its node.  Before
 * 6.12 do_pages_stat_array() asked follow_page(FOLL_GET | FOLL_DUMP)
 * instead, whose no_page_table() answers -EFAULT for a page it finds no
 * struct page for in a VMA without a ->fault handler, as the module's
 * pfnmaps are (measured on 6.1).
 */
TEST_F(pfnmap, move_pages_status)
{
	void **pages = calloc(self->nr, sizeof(*pages));
	int *status = calloc(self->nr, sizeof(*status));
	int none = kernel_walks_pfnmaps_by_folio() ? -ENOENT : -EFAULT;
	int round, node;
	long cow = -1;
	size_t i;

	ASSERT_NE(NULL, pages);
	ASSERT_NE(NULL, status);
	for (round = 0; round < 2; round++) {
		if (round)
			cow = write_cow_page(self);
		for (i = 0; i < self->nr; i++) {
			pages[i] = page_at(self, i);
			status[i] = 12345;
		}
		ASSERT_EQ(0, move_pages(0, self->nr, pages, NULL, status, 0))
			TH_LOG("move_pages: %s", strerror(errno));
		for (i = 0; i < self->nr; i++) {
			if ((long)i != cow) {
				EXPECT_EQ(none, status[i])
					TH_LOG("round %d page %zu", round, i);
				continue;
			}
			node = node_of(pages[i]);
			EXPECT_LE(0, node);
			EXPECT_EQ(node, status[i]);
		}
	}
	free(pages);
	free(status);
}

/*
 * move_pages() with nodes migrates nothing in a pfnmap: before
 * folio_walk_start() is asked, add_folio_for_migration() refuses VMAs
 * vma_migratable() rejects (VM_IO | VM_PFNMAP), so every page's status is
 * -EFAULT, the COW folio's too, which stays on its node.
 * get_mempolicy(MPOL_F_NODE | MPOL_F_ADDR) finds a node through GUP-fast
 * (lookup_node()): a COW folio has one, a raw pfn falls to slow GUP,
 * which refuses the VMA: EFAULT.
 */
TEST_F(pfnmap, move_pages_migrate_refused)
{
	long cow = write_cow_page(self);
	void *pages[NR_PAGES];
	int nodes[NR_PAGES], status[NR_PAGES];
	int home = cow < 0 ? 0 : node_of(page_at(self, cow));
	size_t i;

	EXPECT_EQ(-EFAULT, node_of(self->p));
	ASSERT_LE(0, home);
	for (i = 0; i < NR_PAGES; i++) {
		pages[i] = page_at(self, i);
		nodes[i] = !home;
		status[i] = 12345;
	}
	ASSERT_EQ(0, move_pages(0, NR_PAGES, pages, nodes, status,
				MPOL_MF_MOVE))
		TH_LOG("move_pages: %s", strerror(errno));
	for (i = 0; i < NR_PAGES; i++)
		EXPECT_EQ(-EFAULT, status[i]) TH_LOG("page %zu", i);
	if (cow >= 0)
		EXPECT_EQ(home, node_of(page_at(self, cow)));
	expect_pfns(_metadata, self, self->p, self->nr, self->pmd_leaves, cow);
	EXPECT_EQ('x', *page_at(self, COW_PAGE));
}

/* PAGEMAP_SCAN's regions of present pages in [addr, +len), or -errno. */
static long scan_present(const void *addr, size_t len)
{
	struct page_region regions[4];
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = (uintptr_t)addr,
		.end = (uintptr_t)addr + len,
		.vec = (uintptr_t)regions,
		.vec_len = ARRAY_SIZE(regions),
		.category_anyof_mask = PAGE_IS_PRESENT,
		.return_mask = PAGE_IS_PRESENT,
	};

	return pagemap_scan_self(&arg);
}

/*
 * pagemap_read() walks with walk_page_range(), whose walk_page_test()
 * hands a VM_PFNMAP VMA to pagemap_pte_hole(): every page reads as not
 * present, no pfn, not exclusive - the COW folio too, which pagemap
 * therefore misses.  Only PM_SOFT_DIRTY of a VM_SOFTDIRTY VMA may show.
 * PAGEMAP_SCAN's pagemap_scan_test_walk() skips VM_PFNMAP VMAs whole: no
 * present region.
 */
TEST_F(pfnmap, pagemap_reports_nothing)
{
	uint64_t *pm = calloc(self->nr, sizeof(*pm));
	int round;
	size_t i;

	ASSERT_NE(NULL, pm);
	for (round = 0; round < 2; round++) {
		if (round)
			write_cow_page(self);
		ASSERT_EQ(0, pagemap_read(self->p, self->nr, pm));
		for (i = 0; i < self->nr; i++) {
			EXPECT_EQ(0, pm[i] & ~PM_SOFT_DIRTY)
				TH_LOG("round %d page %zu: %#llx", round, i,
				       (unsigned long long)pm[i]);
		}
		if (self->info.features & PTMARK_FEAT_PAGEMAP_SCAN)
			EXPECT_EQ(0, scan_present(self->p, self->len))
				TH_LOG("round %d", round);
	}
	free(pm);
}

/* Rss and Anonymous of smaps_rollup in kB, read twice to settle the heap. */
static void rollup_kb(long *rss, long *anon)
{
	int i;

	for (i = 0; i < 2; i++) {
		*rss = text_file_value("/proc/self/smaps_rollup", "Rss:");
		*anon = text_file_value("/proc/self/smaps_rollup",
					"Anonymous:");
	}
}

/*
 * smaps walks with walk_page_vma(), which has no walk_page_test(): the
 * page tables of a pfnmap are read, raw pfns (PTE or PMD) have no page
 * to account (vm_normal_page{,_pmd}() NULL), and a COW folio counts as
 * anonymous Rss, dirty and private, in smaps and smaps_rollup alike.
 * THPeligible is the huge_fault handler's: thp_vma_allowable_orders()
 * with TVA_SMAPS trusts a VMA that has one, on kernels that map PMD
 * pfnmaps at all (before, VM_NO_KHUGEPAGED ruled out every VM_PFNMAP).
 * Until 6.2 walk_page_vma() did ask walk_page_test(), which skips
 * VM_PFNMAP VMAs whole: a COW folio counted nowhere (measured on 6.1).
 */
static bool pfnmap_walks_skip_vma(void)
{
	return !kernel_page_walks_read_pfnmaps();
}

TEST_F(pfnmap, smaps_counts_only_cow_folios)
{
	long rss0, anon0, rss1, anon1, cow;
	int eligible = self->pmd_leaves &&
		       (self->info.features & PTMARK_FEAT_THP);

	EXPECT_EQ(0, smaps_kb(self->p, "Rss:"));
	EXPECT_EQ(0, smaps_kb(self->p, "Anonymous:"));
	EXPECT_EQ(eligible, smaps_kb(self->p, "THPeligible:"));
	rollup_kb(&rss0, &anon0);
	cow = write_cow_page(self);
	rollup_kb(&rss1, &anon1);
	if (cow < 0 || pfnmap_walks_skip_vma()) {
		EXPECT_EQ(0, smaps_kb(self->p, "Rss:"));
		EXPECT_EQ(0, smaps_kb(self->p, "Anonymous:"));
		return;
	}
	EXPECT_EQ(self->page / 1024, smaps_kb(self->p, "Rss:"));
	EXPECT_EQ(self->page / 1024, smaps_kb(self->p, "Anonymous:"));
	EXPECT_EQ(self->page / 1024, smaps_kb(self->p, "Private_Dirty:"));
	EXPECT_EQ(self->page / 1024, rss1 - rss0);
	EXPECT_EQ(self->page / 1024, anon1 - anon0);
}

/*
 * numa_maps walks with walk_page_vma() too, and gather_pte_stats() asks
 * vm_normal_page() (gather_pmd_stats(): vm_normal_page_pmd()): raw pfns
 * count nowhere, a COW folio as one anon, dirty page on its node (not
 * even that where walk_page_vma() skips the VMA, as smaps says above).
 */
TEST_F(pfnmap, numa_maps_counts_only_cow_folios)
{
	char *line = numa_maps_line(self->p), want[32];
	long cow;

	ASSERT_NE(NULL, line);
	EXPECT_EQ(NULL, strstr(line, "anon="));
	EXPECT_EQ(NULL, strstr(line, "mapped=")) TH_LOG("%s", line);
	EXPECT_EQ(NULL, strstr(line, " N")) TH_LOG("%s", line);
	free(line);
	cow = write_cow_page(self);
	line = numa_maps_line(self->p);
	ASSERT_NE(NULL, line);
	if (cow < 0 || pfnmap_walks_skip_vma()) {
		EXPECT_EQ(NULL, strstr(line, " N")) TH_LOG("%s", line);
	} else {
		EXPECT_NE(NULL, strstr(line, " anon=1 ")) TH_LOG("%s", line);
		EXPECT_NE(NULL, strstr(line, " dirty=1 ")) TH_LOG("%s", line);
		snprintf(want, sizeof(want), " N%d=1",
			 node_of(page_at(self, cow)));
		EXPECT_NE(NULL, strstr(line, want)) TH_LOG("%s", line);
	}
	free(line);
}

/*
 * /proc/pid/mem: mem_rw() -> access_remote_vm() pins with FOLL_FORCE,
 * and check_vma_flags() refuses VM_IO | VM_PFNMAP VMAs whole (-EFAULT),
 * COW folios included; with no vm_ops->access to fall back on nothing is
 * copied, which mem_rw() reports as EIO, reading and writing.
 */
TEST_F(pfnmap, proc_mem_refused)
{
	int mem = open("/proc/self/mem", O_RDWR);
	char buf[16];
	int round;

	ASSERT_LE(0, mem);
	for (round = 0; round < 2; round++) {
		if (round)
			write_cow_page(self);
		errno = 0;
		EXPECT_EQ(-1, pread(mem, buf, sizeof(buf),
				    (uintptr_t)page_at(self, COW_PAGE)));
		EXPECT_EQ(EIO, errno);
		errno = 0;
		EXPECT_EQ(-1, pwrite(mem, "y", 1, (uintptr_t)self->p));
		EXPECT_EQ(EIO, errno);
	}
	close(mem);
	EXPECT_EQ(0, *self->p);
}

/*
 * process_vm_readv() pins the remote pages (pin_user_pages_remote()),
 * which check_vma_flags() refuses for VM_IO | VM_PFNMAP: EFAULT before a
 * byte is copied, COW folio or not.
 */
TEST_F(pfnmap, process_vm_readv_refused)
{
	char buf[16];
	struct iovec local = { .iov_base = buf, .iov_len = sizeof(buf) };
	struct iovec remote = { .iov_len = sizeof(buf) };
	int round;

	for (round = 0; round < 2; round++) {
		if (round)
			write_cow_page(self);
		remote.iov_base = page_at(self, COW_PAGE);
		errno = 0;
		EXPECT_EQ(-1, process_vm_readv(getpid(), &local, 1, &remote, 1,
					       0));
		EXPECT_EQ(EFAULT, errno);
	}
}

/*
 * mincore() of a file VMA the caller may write walks its page tables,
 * and how it meets a pfnmap changed: 7.x walks the VMA with
 * walk_page_range_vma(), which has no walk_page_test(), so every mapped
 * entry - raw PTE, raw PMD or COW folio - is resident (1); 6.12 used
 * walk_page_range(), whose walk_page_test() hands a VM_PFNMAP VMA to the
 * pte_hole callback, which asks the page cache of /dev/ptmark: nothing
 * there, 0 for every page.  Either way, all pages of one pfnmap agree.
 */
TEST_F(pfnmap, mincore)
{
	unsigned char *vec = calloc(self->nr, 1);
	int resident = kernel_mincore_of_pfnmap(), round;
	unsigned char want;
	size_t i;

	ASSERT_NE(NULL, vec);
	for (round = 0; round < 2; round++) {
		if (round)
			write_cow_page(self);
		memset(vec, 0xff, self->nr);
		ASSERT_EQ(0, mincore(self->p, self->len, vec));
		want = vec[0];
		if (resident >= 0)
			EXPECT_EQ(resident, want);
		for (i = 0; i < self->nr; i++) {
			EXPECT_EQ(want, vec[i])
				TH_LOG("round %d page %zu", round, i);
		}
	}
	free(vec);
}

/*
 * madvise() advice that would zap or reclaim pages refuses pfnmaps:
 * DONTNEED (madvise_dontneed_free_valid_vma(): VM_PFNMAP forbidden), COLD
 * and PAGEOUT (can_madv_lru_vma()), all EINVAL, and nothing changes.
 */
TEST_F(pfnmap, madvise_refused)
{
	static const int advice[] = {
		MADV_DONTNEED, MADV_COLD, MADV_PAGEOUT,
	};
	long cow = write_cow_page(self);
	size_t i;

	for (i = 0; i < ARRAY_SIZE(advice); i++) {
		errno = 0;
		EXPECT_EQ(-1, madvise(self->p, self->len, advice[i]))
			TH_LOG("advice %d", advice[i]);
		EXPECT_EQ(EINVAL, errno) TH_LOG("advice %d", advice[i]);
	}
	expect_pfns(_metadata, self, self->p, self->nr, self->pmd_leaves, cow);
	EXPECT_EQ('x', *page_at(self, COW_PAGE));
}

/*
 * mlock() leaves pfnmaps alone and succeeds: mlock_fixup() sets no
 * VM_LOCKED on a VM_SPECIAL VMA and __mm_populate() skips VM_IO |
 * VM_PFNMAP.  MADV_POPULATE_{READ,WRITE} go through GUP, whose
 * check_vma_flags() refuses the VMA, reported as "incompatible mapping"
 * for FOLL_MADV_POPULATE (__get_user_pages()): EINVAL.  MAP_POPULATE's
 * __mm_populate() skips the VMA silently: a 4 KiB pfnmap is full anyway
 * (remap_pfn_range()), the huge kind stays empty until touched.
 */
TEST_F(pfnmap, mlock_and_populate_skip_pfnmaps)
{
	size_t i;
	char *q;

	ASSERT_EQ(0, mlock(self->p, self->len));
	EXPECT_FALSE(smaps_has_vmflag(self->p, "lo"));
	EXPECT_EQ(0, munlock(self->p, self->len));
	expect_all_raw(_metadata, self);

	errno = 0;
	EXPECT_EQ(-1, madvise(self->p, self->len, MADV_POPULATE_READ));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, madvise(self->p, self->len, MADV_POPULATE_WRITE));
	EXPECT_EQ(EINVAL, errno);

	q = mmap(NULL, self->len, PROT_READ | PROT_WRITE,
		 variant->flags | MAP_POPULATE, self->fd,
		 variant->huge ? PTMARK_MMAP_OFF_HUGE : PTMARK_MMAP_OFF_4K);
	ASSERT_NE(MAP_FAILED, q);
	if (variant->huge) {
		ASSERT_EQ(0, scan_at(self, q, self->nr));
		for (i = 0; i < self->nr; i++) {
			EXPECT_EQ(PTMARK_KIND_NONE, self->recs[i].kind)
				TH_LOG("page %zu", i);
		}
	} else {
		expect_pfns(_metadata, self, q, self->nr, false, -1);
	}
	munmap(q, self->len);
}

/*
 * mprotect() of the whole mapping rewrites its leaves in place
 * (change_huge_pmd() for a PMD: the range covers it whole), so a PMD
 * stays a PMD, now read-only: writes fault SIGSEGV, reads work.  Of one
 * page it splits the VMA, and __split_huge_pmd() just clears a special
 * PMD (it has no folio to remap): the rest of that PMD faults back in as
 * PTEs onto the same pfns, the other PMD stays.
 */
TEST_F(pfnmap, mprotect)
{
	long cow = write_cow_page(self);
	size_t per_pmd = self->info.pmd_size / self->page;
	size_t i, rest = self->pmd_leaves ? per_pmd - 2 : self->nr - 2;
	char *hole = page_at(self, 1);
	__u64 pfn0;

	ASSERT_EQ(0, mprotect(self->p, self->len, PROT_READ));
	expect_pfns(_metadata, self, self->p, self->nr, self->pmd_leaves, cow);
	pfn0 = self->recs[0].pfn;
	for (i = 0; i < self->nr; i++) {
		EXPECT_FALSE(self->recs[i].bits & PTMARK_BIT_WRITE)
			TH_LOG("page %zu", i);
	}
	EXPECT_EQ(SIGSEGV, probe_write(self->p, 'y'));
	EXPECT_EQ(0, *self->p);

	ASSERT_EQ(0, mprotect(hole, self->page, PROT_NONE));
	EXPECT_EQ(3, vmas_in_range(self->p, self->len));
	EXPECT_EQ(SIGSEGV, probe_read(hole, &(char){ 0 }));
	if (self->pmd_leaves) {
		ASSERT_EQ(0, scan_at(self, self->p, self->nr));
		for (i = 0; i < per_pmd; i++) {
			EXPECT_EQ(PTMARK_KIND_NONE, self->recs[i].kind)
				TH_LOG("page %zu", i);
		}
		for (; i < self->nr; i++) {
			EXPECT_TRUE(self->recs[i].bits & PTMARK_BIT_PMD)
				TH_LOG("page %zu", i);
		}
		touch_pages(self->p, 1, self->page);
		touch_pages(page_at(self, 2), rest, self->page);
	}
	expect_pfns(_metadata, self, page_at(self, 2), rest, false,
		    cow >= 2 ? cow - 2 : -1);
	if (pfn0 && cow != 2)
		EXPECT_EQ(pfn0 + 2, self->recs[0].pfn);
}

/*
 * mremap() moves a pfnmap's entries as they are (move_page_tables(),
 * move_huge_pmd() for a PMD leaf when both ends are PMD-aligned): the
 * pfns, a COW folio and the data follow the move, nothing is left at the
 * old address, and the block still belongs to the mapping.
 */
TEST_F(pfnmap, mremap_move)
{
	char *dst = mmap_aligned(self->len, self->info.pmd_size, PROT_NONE);
	long cow = write_cow_page(self);
	long pfnmaps = ptmark_stat("pfnmaps");
	char *q;

	ASSERT_NE(MAP_FAILED, dst);
	q = mremap(self->p, self->len, self->len,
		   MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	ASSERT_EQ(dst, q) TH_LOG("mremap: %s", strerror(errno));
	self->p = q;
	expect_pfns(_metadata, self, q, self->nr, self->pmd_leaves, cow);
	EXPECT_EQ('x', q[COW_PAGE * self->page]);
	EXPECT_EQ(pfnmaps, ptmark_stat("pfnmaps"));
}

/*
 * mremap() to an address that is not PMD-aligned cannot move a PMD leaf:
 * move_page_tables() splits it, which for a special PMD clears it, so
 * the huge kind arrives empty and refaults as PTEs (its pfns are no
 * longer PMD-aligned under PMD-aligned addresses, so huge_fault falls
 * back) onto the same block, data intact.  PTEs move as they are.
 */
TEST_F(pfnmap, mremap_move_unaligned)
{
	char *dst = mmap_aligned(self->len + self->info.pmd_size,
				 self->info.pmd_size, PROT_NONE);
	long cow = write_cow_page(self);
	size_t i;
	char *q;

	ASSERT_NE(MAP_FAILED, dst);
	dst += self->page;
	q = mremap(self->p, self->len, self->len,
		   MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	ASSERT_EQ(dst, q) TH_LOG("mremap: %s", strerror(errno));
	self->p = q;
	if (self->pmd_leaves) {
		ASSERT_EQ(0, scan_at(self, q, self->nr));
		for (i = 0; i < self->nr; i++) {
			EXPECT_EQ(PTMARK_KIND_NONE, self->recs[i].kind)
				TH_LOG("page %zu", i);
		}
	}
	EXPECT_EQ('x', q[COW_PAGE * self->page]);
	touch_pages(q, self->nr, self->page);
	expect_pfns(_metadata, self, q, self->nr, false, cow);
}

/*
 * A pfnmap cannot grow: remap_pfn_range() and the huge kind both set
 * VM_DONTEXPAND, and vma_to_resize() answers EFAULT for it.  It can
 * shrink: mremap() unmaps the tail, which for the huge kind is the second
 * PMD whole, so the first stays a PMD leaf.
 */
TEST_F(pfnmap, mremap_expand_refused_shrink_works)
{
	long cow = write_cow_page(self);
	size_t keep = self->nr / 2;
	char *q;

	errno = 0;
	q = mremap(self->p, self->len, 2 * self->len, MREMAP_MAYMOVE);
	EXPECT_EQ(MAP_FAILED, q);
	EXPECT_EQ(EFAULT, errno);

	q = mremap(self->p, self->len, keep * self->page, 0);
	ASSERT_EQ(self->p, q) TH_LOG("mremap: %s", strerror(errno));
	expect_pfns(_metadata, self, q, keep,
		    self->pmd_leaves, cow < (long)keep ? cow : -1);
	ASSERT_EQ(0, scan_at(self, q + keep * self->page, self->nr - keep));
	EXPECT_EQ(PTMARK_KIND_UNMAPPED, self->recs[0].kind);
	munmap(self->p, keep * self->page);
	self->p = MAP_FAILED;
}

/*
 * munmap() of one page inside a PMD leaf splits the VMA and the PMD:
 * __split_huge_pmd() clears a special PMD, the pages around the hole
 * fault back in as PTEs onto the same pfns (the VMAs' page offsets say
 * where), the other PMD stays a leaf.  The block lives on in both halves
 * and is freed with the last of them.
 */
TEST_F(pfnmap, munmap_splits)
{
	long pfnmaps = ptmark_stat("pfnmaps");
	size_t hole = 1, head_end = self->pmd_leaves ?
		self->info.pmd_size / self->page : self->nr;
	bool shared = variant->flags == MAP_SHARED;
	size_t i;
	__u64 pfn0;

	if (shared)
		*page_at(self, 2) = 'd';
	ASSERT_EQ(0, scan_at(self, self->p, self->nr));
	pfn0 = self->recs[0].pfn;
	ASSERT_EQ(0, munmap(page_at(self, hole), self->page));
	EXPECT_EQ(2, vmas_in_range(self->p, self->len));
	ASSERT_EQ(0, scan_at(self, self->p, self->nr));
	EXPECT_EQ(PTMARK_KIND_UNMAPPED, self->recs[hole].kind);
	for (i = 0; i < head_end; i++) {
		if (i == hole)
			continue;
		EXPECT_EQ(self->pmd_leaves ? PTMARK_KIND_NONE :
			  PTMARK_KIND_PRESENT, self->recs[i].kind)
			TH_LOG("page %zu", i);
	}
	for (; i < self->nr; i++) {
		EXPECT_TRUE(self->recs[i].bits & PTMARK_BIT_PMD)
			TH_LOG("page %zu", i);
	}

	/* The halves refault onto the same block. */
	if (shared)
		EXPECT_EQ('d', *page_at(self, 2));
	touch_pages(self->p, 1, self->page);
	touch_pages(page_at(self, hole + 1), head_end - hole - 1, self->page);
	expect_pfns(_metadata, self, page_at(self, hole + 1),
		    head_end - hole - 1, false, -1);
	if (pfn0)
		EXPECT_EQ(pfn0 + hole + 1, self->recs[0].pfn);
	EXPECT_EQ(pfnmaps, ptmark_stat("pfnmaps"));
	munmap(self->p, self->page);
	EXPECT_EQ(pfnmaps, ptmark_stat("pfnmaps"));
	munmap(page_at(self, hole + 1), self->len - (hole + 1) * self->page);
	self->p = MAP_FAILED;
	EXPECT_EQ(pfnmaps - 1, ptmark_stat("pfnmaps"));
}

/* Child checks of fork(); each failure is one bit of the exit status. */
static int child_checks(FIXTURE_DATA(pfnmap) *self, long cow)
{
	const struct ptmark_record *r = self->recs;
	int bad = 0;
	size_t i;

	if (scan_at(self, self->p, self->nr))
		return 1;
	for (i = 0; i < self->nr; i++) {
		if ((long)i == cow) {
			/* Shared with the parent now: not exclusive. */
			if (!is_cow_folio(&r[i]) ||
			    (r[i].bits & (PTMARK_BIT_EXCLUSIVE |
					  PTMARK_BIT_WRITE)))
				bad |= 2;
		} else if (!is_raw_pfn(&r[i]) ||
			   self->pmd_leaves != !!(r[i].bits & PTMARK_BIT_PMD)) {
			bad |= 4;
		}
	}
	if (*page_at(self, COW_PAGE) != 'x')
		bad |= 8;
	*page_at(self, COW_PAGE) = 'c';
	return bad;
}

/*
 * fork() copies pfnmap page tables (vma_needs_copy(): VM_PFNMAP): PTEs
 * by copy_pte_range(), a special PMD by copy_huge_pmd(), which keeps it
 * a PMD leaf; a COW folio becomes shared and write-protected in both.
 * The child sees the parent's data; its write lands in the module's page
 * when shared and in a new COW folio of its own when private.
 */
TEST_F(pfnmap, fork)
{
	long cow = write_cow_page(self);
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(child_checks(self, cow));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(variant->flags == MAP_SHARED ? 'c' : 'x',
		  *page_at(self, COW_PAGE));
	expect_pfns(_metadata, self, self->p, self->nr, self->pmd_leaves, cow);
}

/*
 * io_uring fixed buffers pin with FOLL_WRITE | FOLL_LONGTERM through
 * pin_user_pages_fast().  GUP-fast leaves special PTEs and PMDs to the
 * slow path, and check_vma_flags() refuses VM_IO | VM_PFNMAP VMAs:
 * EFAULT for a raw pfn of either size.  A COW folio is another matter:
 * GUP-fast sees no VMA, only a normal anon PTE, and pins it - the
 * registration succeeds, the folio is maybe-pinned until it is
 * unregistered, though slow GUP (process_vm_readv, /proc/pid/mem)
 * refuses the same page.  On 6.1, the suite's floor, io_pin_pages()
 * pinned with pin_user_pages() under the mmap lock instead: slow GUP,
 * which refuses the COW folio's VMA as well, EFAULT (6.12, the next
 * kernel the suite runs on, pins through GUP-fast).
 */
TEST_F(pfnmap, io_uring_buffer)
{
	bool fast = kernel_walks_pfnmaps_by_folio();
	struct iovec iov = { .iov_len = self->page };
	struct io_uring ring;
	long cow;
	int ret;

	ret = io_uring_queue_init(4, &ring, 0);
	if (ret == -ENOSYS)
		SKIP(return, "kernel lacks io_uring");
	ASSERT_EQ(0, ret);
	iov.iov_base = page_at(self, COW_PAGE);
	EXPECT_EQ(-EFAULT, io_uring_register_buffers(&ring, &iov, 1));
	cow = write_cow_page(self);
	ret = io_uring_register_buffers(&ring, &iov, 1);
	if (cow < 0 || !fast) {
		EXPECT_EQ(-EFAULT, ret);
	} else {
		EXPECT_EQ(0, ret);
		expect_pfns(_metadata, self, self->p, self->nr, false, cow);
		EXPECT_TRUE(self->recs[cow].bits & PTMARK_BIT_MAYBE_PINNED);
		EXPECT_EQ(0, io_uring_unregister_buffers(&ring));
	}
	io_uring_queue_exit(&ring);
	expect_pfns(_metadata, self, self->p, self->nr, self->pmd_leaves, cow);
	if (cow >= 0)
		EXPECT_FALSE(self->recs[cow].bits & PTMARK_BIT_MAYBE_PINNED);
}

/*
 * The module cannot go while a mapping of it lives: the VMA holds the
 * file, the file the module (delete_module() says EWOULDBLOCK), even with
 * every descriptor closed, and the block is still counted.  Unmapping
 * frees the block (pfnmaps back), and then the module unloads and comes
 * back.
 */
TEST_F(pfnmap, unload_while_mapped_refused)
{
	const char *ko = getenv("PTMARK_KO");
	long pfnmaps = ptmark_stat("pfnmaps");

	if (!ko)
		SKIP(return, "PTMARK_KO (path of ptmark.ko) not set");
	ASSERT_LE(1, pfnmaps);
	write_cow_page(self);
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(-EWOULDBLOCK, ptmark_module_unload());
	EXPECT_EQ(pfnmaps, ptmark_stat("pfnmaps"));
	EXPECT_EQ(0, *self->p);

	ASSERT_EQ(0, munmap(self->p, self->len));
	self->p = MAP_FAILED;
	EXPECT_EQ(pfnmaps - 1, ptmark_stat("pfnmaps"));
	if (pfnmaps == 1) {
		ASSERT_EQ(0, ptmark_module_unload());
		ASSERT_EQ(0, ptmark_module_load(ko, ""));
	}
	self->fd = ptmark_open();
	ASSERT_LE(0, self->fd);
}

/*
 * Bad mmap requests: an offset naming no kind, a 4 KiB one larger than
 * the module hands out, a huge one not of whole PMDs or too large, and a
 * huge COW mapping (vmf_insert_pfn{,_pmd}() BUG on those).
 */
TEST(pfnmap_bad_requests)
{
	long page = sysconf(_SC_PAGESIZE);
	struct ptmark_info info;
	size_t pmd;
	void *p;
	int fd;

	PTMARK_REQUIRE_DEVICE(fd);
	ASSERT_EQ(0, ptmark_get_info(fd, &info));
	pmd = info.pmd_size;
	p = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, page);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, 1024 * page, PROT_READ, MAP_SHARED, fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, pmd + page, PROT_READ, MAP_SHARED, fd,
		 PTMARK_MMAP_OFF_HUGE);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, PTMARK_MMAP_HUGE_MAX + pmd, PROT_READ, MAP_SHARED, fd,
		 PTMARK_MMAP_OFF_HUGE);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	p = mmap(NULL, pmd, PROT_READ, MAP_PRIVATE, fd, PTMARK_MMAP_OFF_HUGE);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	close(fd);
}

PTMARK_GENERATED_TEST()

PTMARK_MODULE_HARNESS_MAIN(NULL)
