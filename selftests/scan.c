// SPDX-License-Identifier: GPL-2.0
/*
 * PTMARK_IOC_SCAN: the page-table scan, judged against what each test did
 * to its memory and against /proc/pid/pagemap.
 *
 * Every state a test creates - anonymous pages, PMD-mapped THP, the shared
 * and the huge zero page, shmem and ext4 pages mapped shared and private,
 * swap entries, hugetlb, guard markers and uffd-wp markers - is scanned
 * one record a page and held against pagemap page by page wherever both
 * report something (present, swap, file, exclusive, uffd-wp, guard,
 * soft-dirty, pfn), then against the state the test expects.  The rest
 * covers the argument checks, continuing through a small buffer, how
 * pages merge into runs and where runs must split, VMA flags, scanning
 * another process through a pidfd and who may, the debugfs dumps of the
 * same walk, a scan racing with mapping changes, and a scan of the whole
 * user address space.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/userfaultfd.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ptmark_lib.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE	0x100000
#endif

#define THP_ENABLED	"/sys/kernel/mm/transparent_hugepage/enabled"
#define THP_ZERO_PAGE	"/sys/kernel/mm/transparent_hugepage/use_zero_page"

#define ALL_BITS	0xffffffffU
#define KNOWN_BITS	PTMARK_BIT_ALL
#define KNOWN_MARKERS	(PTMARK_MARKER_UFFD_WP | PTMARK_MARKER_POISONED | \
			 PTMARK_MARKER_GUARD | PTMARK_MARKER_UNKNOWN)

/* Bits no page of memory a test wrote or read itself may carry. */
#define NOT_PLAIN	(PTMARK_BIT_ZEROPAGE | PTMARK_BIT_HUGE_ZEROPAGE | \
			 PTMARK_BIT_SPECIAL | PTMARK_BIT_PUD | \
			 PTMARK_BIT_UFFD_WP | PTMARK_BIT_MAYBE_PINNED | \
			 PTMARK_BIT_UFFD_RWP | PTMARK_BIT_PROTNONE | \
			 PTMARK_BIT_NUMA_HINT)

/* Shared by the fixtures: each test runs in a process of its own. */
static struct {
	int fd;			/* /dev/ptmark */
	int pagemap;		/* /proc/self/pagemap */
	struct ptmark_info info;
	size_t page;		/* PAGE_SIZE */
	size_t pmd;		/* bytes one PMD leaf maps */
	char thp_restore[16];	/* THP mode to put back, "" if untouched */
} env;

static bool have(uint64_t feature)
{
	return env.info.features & feature;
}

/* The part of fixture setup after PTMARK_REQUIRE_DEVICE() opened env.fd. */
static void env_init(struct __test_metadata *_metadata)
{
	ASSERT_EQ(0, ptmark_get_info(env.fd, &env.info));
	env.page = env.info.page_size;
	env.pmd = env.info.pmd_size;
	env.pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, env.pagemap);
	env.thp_restore[0] = '\0';
}

static void env_fini(void)
{
	if (env.thp_restore[0])
		write_text_file(THP_ENABLED, env.thp_restore);
	if (env.pagemap > 0)
		close(env.pagemap);
	if (env.fd > 0)
		close(env.fd);
}

/* ---- mapping and touching memory ------------------------------------- */

/*
 * @nr private anonymous pages with MADV_NOHUGEPAGE, so that every fault
 * maps one small page whatever the THP settings.
 */
static char *map_small_pages(struct __test_metadata *_metadata, size_t nr)
{
	char *p = mmap(NULL, nr * env.page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, madvise(p, nr * env.page, MADV_NOHUGEPAGE));
	return p;
}

/* A private anonymous range of @len bytes starting on a PMD boundary. */
static char *map_pmd_aligned(struct __test_metadata *_metadata, size_t len)
{
	char *p = mmap_aligned(len, env.pmd, PROT_READ | PROT_WRITE);

	ASSERT_NE(MAP_FAILED, p);
	return p;
}

static void write_page(char *base, size_t i)
{
	base[i * env.page] = (char)(i + 1);
}

static char read_page(const char *base, size_t i)
{
	return *(volatile const char *)(base + i * env.page);
}

static void *page_addr(const void *base, size_t i)
{
	return (char *)base + i * env.page;
}

/* ---- calling the ioctl ------------------------------------------------ */

static struct ptmark_scan scan_req(uint32_t flags, int pidfd, uint64_t start,
				   uint64_t len, struct ptmark_record *recs,
				   uint32_t nr)
{
	struct ptmark_scan s = {
		.size = sizeof(s),
		.flags = flags,
		.pidfd = pidfd,
		.nr_records = nr,
		.start = start,
		.len = len,
		.records = (uintptr_t)recs,
	};

	return s;
}

/* PTMARK_IOC_SCAN; 0 or -errno, the module's answers left in @s. */
static int do_scan(struct ptmark_scan *s)
{
	return ioctl(env.fd, PTMARK_IOC_SCAN, s) ? -errno : 0;
}

/* Scan flags naming @pidfd's process, or the caller for -1. */
static uint32_t target_flags(int pidfd)
{
	return pidfd >= 0 ? PTMARK_SCAN_PIDFD : 0;
}

/*
 * What is wrong with one record on its own, NULL if nothing: a kind and
 * bits it defines, at least a page, a zero reserved field, VMA flags
 * exactly outside gaps, a marker exactly for marker entries and a pfn only
 * for entries that refer to one.
 */
static const char *record_problem(const struct ptmark_record *r)
{
	if (r->kind >= PTMARK_KIND_COUNT)
		return "unknown kind";
	if (!r->nr_pages)
		return "no pages";
	if (r->reserved)
		return "reserved field set";
	if (r->start % env.page)
		return "unaligned start";
	if (r->bits & ~KNOWN_BITS)
		return "unknown bits";
	if (r->marker & ~KNOWN_MARKERS)
		return "unknown marker bits";
	if ((r->kind == PTMARK_KIND_UNMAPPED) != !r->vma_flags)
		return "VMA flags not exactly outside gaps";
	if (r->kind == PTMARK_KIND_UNMAPPED && (r->bits || r->as_flags))
		return "gap with bits or address-space flags";
	if ((r->kind == PTMARK_KIND_MARKER) != !!r->marker)
		return "marker not exactly on marker entries";
	if ((r->bits & PTMARK_BIT_UFFD_WP) && (r->bits & PTMARK_BIT_UFFD_RWP))
		return "the uffd bit named both uffd-wp and uffd-rwp";
	if ((r->bits & PTMARK_BIT_UFFD_RWP) &&
	    !(r->vma_flags & PTMARK_VMA_UFFD_RWP))
		return "uffd-rwp outside a uffd-rwp VMA";
	if ((r->bits & (PTMARK_BIT_PROTNONE | PTMARK_BIT_NUMA_HINT)) &&
	    r->kind != PTMARK_KIND_PRESENT)
		return "protnone or numa-hint on an entry that is not present";
	if ((r->bits & PTMARK_BIT_NUMA_HINT) &&
	    (!(r->bits & PTMARK_BIT_PROTNONE) ||
	     (r->bits & PTMARK_BIT_UFFD_RWP)))
		return "numa-hint without protnone, or with uffd-rwp";
	if ((r->bits & PTMARK_BIT_CONT) && !have(PTMARK_FEAT_CONT_PTE))
		return "cont on a kernel without contiguous PTEs";
	if ((r->bits & PTMARK_BIT_CONT) &&
	    (r->kind != PTMARK_KIND_PRESENT ||
	     (r->bits & (PTMARK_BIT_PMD | PTMARK_BIT_PUD))))
		return "cont on an entry that is not a present PTE";
	if ((r->kind == PTMARK_KIND_NONE || r->kind == PTMARK_KIND_MARKER) &&
	    r->bits)
		return "bits on an empty or marker entry";
	if (r->pfn && r->kind != PTMARK_KIND_PRESENT &&
	    r->kind != PTMARK_KIND_MIGRATION &&
	    r->kind != PTMARK_KIND_DEVICE_PRIVATE &&
	    r->kind != PTMARK_KIND_DEVICE_EXCLUSIVE)
		return "pfn on an entry without one";
	return NULL;
}

/*
 * Do @nr records tile [*cursor, end) from its start, each well-formed and
 * each beginning where the one before ended?  Advances *cursor past them;
 * says what is wrong in @why otherwise.
 */
static bool records_tile(const struct ptmark_record *recs, size_t nr,
			 uint64_t *cursor, uint64_t end, char *why, size_t len)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		const struct ptmark_record *r = &recs[i];
		const char *problem = record_problem(r);

		if (!problem && r->start != *cursor)
			problem = "does not start where the previous run ended";
		if (!problem && r->nr_pages > (end - *cursor) / env.page)
			problem = "runs past the end of the range";
		if (problem) {
			snprintf(why, len,
				 "record %zu {%#llx + %llu pages, kind %u, marker %#x, bits %#x, vma %#llx, reserved %u}: %s (expected start %#llx)",
				 i, (unsigned long long)r->start,
				 (unsigned long long)r->nr_pages, r->kind,
				 r->marker, r->bits,
				 (unsigned long long)r->vma_flags, r->reserved,
				 problem, (unsigned long long)*cursor);
			return false;
		}
		*cursor += r->nr_pages * env.page;
	}
	return true;
}

/* All records of one complete scan, as scan_all() gathered them. */
struct scan_result {
	struct ptmark_record *recs;	/* malloc()ed */
	size_t nr;
	size_t calls;			/* ioctls it took */
	char why[256];			/* what was inconsistent */
};

/*
 * Scan [start, start + len) completely with room for @batch records per
 * call, continuing at .next each time.  Returns 0, the -errno of a failed
 * call, or -EPROTO (saying why in res->why) when an answer is inconsistent
 * on its own: no record, more records than room, .next not where the last
 * record ends, or records that do not tile the range.
 */
static int scan_all(struct scan_result *res, uint32_t flags, int pidfd,
		    uint64_t start, uint64_t len, uint32_t batch)
{
	uint64_t cursor = start, end = start + len;
	struct ptmark_record *buf;
	int ret = 0;

	memset(res, 0, sizeof(*res));
	buf = malloc(batch * sizeof(*buf));
	if (!buf)
		return -ENOMEM;
	while (cursor < end) {
		struct ptmark_scan s = scan_req(flags, pidfd, cursor,
						end - cursor, buf, batch);
		struct ptmark_record *grown;

		ret = do_scan(&s);
		if (ret)
			break;
		res->calls++;
		ret = -EPROTO;
		if (!s.nr_records || s.nr_records > batch) {
			snprintf(res->why, sizeof(res->why),
				 "call %zu returned %u records for room of %u",
				 res->calls, s.nr_records, batch);
			break;
		}
		if (!records_tile(buf, s.nr_records, &cursor, end, res->why,
				  sizeof(res->why)))
			break;
		if (s.next != cursor) {
			snprintf(res->why, sizeof(res->why),
				 "call %zu: .next %#llx but its records end at %#llx",
				 res->calls, (unsigned long long)s.next,
				 (unsigned long long)cursor);
			break;
		}
		grown = realloc(res->recs,
				(res->nr + s.nr_records) * sizeof(*grown));
		if (!grown) {
			ret = -ENOMEM;
			break;
		}
		res->recs = grown;
		memcpy(res->recs + res->nr, buf, s.nr_records * sizeof(*buf));
		res->nr += s.nr_records;
		ret = 0;
	}
	free(buf);
	return ret;
}

/* scan_all() that must succeed; the caller frees res->recs. */
static void scan_merged(struct __test_metadata *_metadata,
			struct scan_result *res, const void *addr, size_t nr)
{
	int ret = scan_all(res, 0, -1, (uintptr_t)addr, nr * env.page, 4096);

	ASSERT_EQ(0, ret) TH_LOG("scan: %s %s", strerror(-ret), res->why);
}

/* ---- what a page should be -------------------------------------------- */

/*
 * Why ptmark's record of one page and that page's pagemap entry disagree,
 * or NULL where they agree on everything both report.  Pagemap's rules
 * (fs/proc/task_mmu.c): every non-present entry, markers included, is
 * "swap"; "file" is any folio that is not anonymous, and none at all for
 * the zero pages and pfn mappings (but 6.12 still calls the huge zero
 * page a file page: it took pmd_page() for a folio); soft-dirty is the
 * entry's bit or the VMA's; "exclusive" means the page is mapped exactly
 * once, which an anon-exclusive page is and a page without a folio never
 * is.
 */
static const char *pagemap_disagreement(const struct ptmark_record *r,
					uint64_t pm)
{
	bool present = r->kind == PTMARK_KIND_PRESENT;
	bool nonpresent = r->kind >= PTMARK_KIND_SWAP &&
			  r->kind != PTMARK_KIND_RAW;
	bool uffd_wp = (r->bits & PTMARK_BIT_UFFD_WP) ||
		       (r->marker & PTMARK_MARKER_UFFD_WP);
	bool soft_dirty = (r->bits & PTMARK_BIT_SOFT_DIRTY) ||
			  (r->vma_flags & PTMARK_VMA_SOFTDIRTY);
	bool no_folio = r->bits & (PTMARK_BIT_ZEROPAGE |
				   PTMARK_BIT_HUGE_ZEROPAGE |
				   PTMARK_BIT_SPECIAL);

	if (!!(pm & PM_PRESENT) != present)
		return "present (bit 63)";
	if (!!(pm & PM_SWAP) != nonpresent)
		return "swap (bit 62)";
	if (!!(pm & PM_SOFT_DIRTY) != soft_dirty)
		return "soft-dirty (bit 55)";
	if (!!(pm & PM_UFFD_WP) != uffd_wp)
		return "uffd-wp (bit 57)";
	if (have(PTMARK_FEAT_PAGEMAP_GUARD) &&
	    !!(pm & PM_GUARD_REGION) != !!(r->marker & PTMARK_MARKER_GUARD))
		return "guard region (bit 58)";
	if (present) {
		if ((pm & PM_PFN_MASK) != r->pfn)
			return "pfn (bits 0-54)";
		if (!!(pm & PM_FILE) != !!(r->bits & PTMARK_BIT_FILE) &&
		    !(r->bits & PTMARK_BIT_HUGE_ZEROPAGE))
			return "file page (bit 61)";
		if ((r->bits & PTMARK_BIT_ANON) &&
		    (r->bits & PTMARK_BIT_EXCLUSIVE) &&
		    !(pm & PM_MMAP_EXCLUSIVE))
			return "anon-exclusive page not mapped exclusively (bit 56)";
		if (no_folio && (pm & PM_MMAP_EXCLUSIVE))
			return "page without a folio mapped exclusively (bit 56)";
	} else if (r->kind != PTMARK_KIND_MIGRATION) {
		if (pm & (PM_FILE | PM_MMAP_EXCLUSIVE))
			return "file or exclusive without a page (bits 61, 56)";
		if (!nonpresent && (pm & PM_PFN_MASK))
			return "pfn or swap offset without an entry";
	}
	return NULL;
}

/*
 * Scan @nr pages from @addr one record a page - of @pidfd's process, or
 * ours for -1 - and hold each record against the page's entry in
 * @pagemap (that process's /proc/pid/pagemap): every page on which they
 * disagree is logged and fails the test.  Returns the records (free()).
 */
static struct ptmark_record *scan_vs_pagemap(struct __test_metadata *_metadata,
					     int pidfd, int pagemap,
					     const void *addr, size_t nr)
{
	struct ptmark_record *recs = calloc(nr, sizeof(*recs));
	uint64_t *pm = calloc(nr, sizeof(*pm));
	struct ptmark_scan s;
	size_t i, bad = 0;

	ASSERT_NE(NULL, recs);
	ASSERT_NE(NULL, pm);
	s = scan_req(PTMARK_SCAN_DENSE | target_flags(pidfd), pidfd,
		     (uintptr_t)addr, nr * env.page, recs, nr);
	ASSERT_EQ(0, do_scan(&s));
	ASSERT_EQ(nr, s.nr_records);
	ASSERT_EQ(s.start + s.len, s.next);
	ASSERT_EQ(0, pagemap_pread(pagemap, addr, nr, pm));

	for (i = 0; i < nr; i++) {
		const struct ptmark_record *r = &recs[i];
		const char *why;

		ASSERT_EQ((uintptr_t)page_addr(addr, i), r->start);
		ASSERT_EQ(1, r->nr_pages);
		why = record_problem(r) ?: pagemap_disagreement(r, pm[i]);
		if (!why)
			continue;
		bad++;
		TH_LOG("page %zu (%#llx): %s: ptmark kind %u marker %#x bits %#x pfn %#llx vma %#llx; pagemap %#018llx",
		       i, (unsigned long long)r->start, why, r->kind,
		       r->marker, r->bits, (unsigned long long)r->pfn,
		       (unsigned long long)r->vma_flags,
		       (unsigned long long)pm[i]);
	}
	EXPECT_EQ(0, bad);
	free(pm);
	return recs;
}

/* scan_vs_pagemap() of our own pages. */
static struct ptmark_record *scan_self(struct __test_metadata *_metadata,
				       const void *addr, size_t nr)
{
	return scan_vs_pagemap(_metadata, -1, env.pagemap, addr, nr);
}

/* A state a test expects pages in: exact kind and marker, bits in part. */
struct page_state {
	const char *name;
	uint16_t kind;
	uint16_t marker;
	uint32_t set;		/* bits every such page has */
	uint32_t clear;		/* bits none has */
};

static const struct page_state anon_written = {
	"anonymous page written", PTMARK_KIND_PRESENT, 0,
	PTMARK_BIT_ANON | PTMARK_BIT_EXCLUSIVE | PTMARK_BIT_WRITE |
	PTMARK_BIT_DIRTY,
	PTMARK_BIT_FILE | PTMARK_BIT_LARGE | PTMARK_BIT_PMD | NOT_PLAIN,
};

static const struct page_state zero_page = {
	"shared zeropage", PTMARK_KIND_PRESENT, 0, PTMARK_BIT_ZEROPAGE,
	PTMARK_BIT_WRITE | PTMARK_BIT_DIRTY | PTMARK_BIT_ANON |
	PTMARK_BIT_FILE | PTMARK_BIT_EXCLUSIVE | PTMARK_BIT_HUGE_ZEROPAGE |
	PTMARK_BIT_SPECIAL | PTMARK_BIT_LARGE | PTMARK_BIT_PMD,
};

static const struct page_state no_entry = {
	"no entry", PTMARK_KIND_NONE, 0, 0, ALL_BITS,
};

static const struct page_state unmapped = {
	"no VMA", PTMARK_KIND_UNMAPPED, 0, 0, ALL_BITS,
};

static const struct page_state guard_marker = {
	"guard marker", PTMARK_KIND_MARKER, PTMARK_MARKER_GUARD, 0, ALL_BITS,
};

static const struct page_state uffd_wp_marker = {
	"uffd-wp marker", PTMARK_KIND_MARKER, PTMARK_MARKER_UFFD_WP, 0,
	ALL_BITS,
};

/* Fail the test for each of @count pages from @first not in state @want. */
static void expect_pages(struct __test_metadata *_metadata,
			 const struct ptmark_record *recs, size_t first,
			 size_t count, const struct page_state *want)
{
	size_t i, bad = 0;

	for (i = first; i < first + count; i++) {
		const struct ptmark_record *r = &recs[i];

		if (r->kind == want->kind && r->marker == want->marker &&
		    (r->bits & want->set) == want->set &&
		    !(r->bits & want->clear))
			continue;
		bad++;
		TH_LOG("page %zu: want %s (kind %u marker %#x bits +%#x -%#x), got kind %u marker %#x bits %#x",
		       i, want->name, want->kind, want->marker, want->set,
		       want->clear, r->kind, r->marker, r->bits);
	}
	EXPECT_EQ(0, bad);
}

/*
 * Do @count pages from @first map consecutive pfns starting at a multiple
 * of @align?  (Trivially so while pfns are hidden: then all are 0.)
 */
static void expect_consecutive_pfns(struct __test_metadata *_metadata,
				    const struct ptmark_record *recs,
				    size_t first, size_t count, size_t align)
{
	size_t i;

	EXPECT_EQ(0, recs[first].pfn % align);
	for (i = first + 1; i < first + count; i++)
		if (recs[i].pfn != recs[first].pfn + (i - first))
			break;
	EXPECT_EQ(first + count, i) TH_LOG("pfn of page %zu breaks the run", i);
}

/* ---- the machine -------------------------------------------------------- */

/*
 * Make sure MADV_HUGEPAGE regions get THPs: switch the global mode from
 * "never" to "madvise" (the fixture puts it back).  False if THP is off.
 */
static bool thp_allowed(void)
{
	char *mode = read_text_file(THP_ENABLED);
	bool ok = false;

	if (!mode)
		return false;
	if (!strstr(mode, "[never]")) {
		ok = true;
	} else if (!write_text_file(THP_ENABLED, "madvise")) {
		snprintf(env.thp_restore, sizeof(env.thp_restore), "never");
		ok = true;
	}
	free(mode);
	return ok;
}

/* Keep this thread on the CPU it runs on, so LRU batches drain locally. */
static void stay_on_this_cpu(void)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(sched_getcpu(), &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* ---- the fixture of most tests ------------------------------------------ */

FIXTURE(scan) {
};

FIXTURE_SETUP(scan)
{
	PTMARK_REQUIRE_DEVICE(env.fd);
	env_init(_metadata);
}

/* The walk's test hook: see walk_delay_us in module/walk.c. */
#define WALK_DELAY	"/sys/module/ptmark/parameters/walk_delay_us"

FIXTURE_TEARDOWN(scan)
{
	/* A race test that failed must not leave the walk slowed down. */
	if (!access(WALK_DELAY, W_OK))
		write_text_file(WALK_DELAY, "0");
	env_fini();
}

/* ---- page states, each held against pagemap ---------------------------- */

/* Written pages are anon-exclusive, read ones the zeropage, others empty. */
TEST_F(scan, anon_written_read_untouched)
{
	char *p = map_small_pages(_metadata, 8);
	struct ptmark_record *recs;
	size_t i;

	for (i = 0; i < 4; i++)
		write_page(p, i);
	read_page(p, 4);
	read_page(p, 5);

	recs = scan_self(_metadata, p, 8);
	expect_pages(_metadata, recs, 0, 4, &anon_written);
	expect_pages(_metadata, recs, 4, 2, &zero_page);
	expect_pages(_metadata, recs, 6, 2, &no_entry);
	/* There is one shared zeropage. */
	EXPECT_EQ(recs[4].pfn, recs[5].pfn);
	EXPECT_EQ(PTMARK_VMA_READ | PTMARK_VMA_WRITE | PTMARK_VMA_ANON |
		  PTMARK_VMA_NOHUGEPAGE,
		  recs[0].vma_flags & ~PTMARK_VMA_SOFTDIRTY);
	free(recs);
}

/* A write fault in a MADV_HUGEPAGE PMD maps a THP with one PMD leaf. */
TEST_F(scan, thp_is_pmd_mapped)
{
	size_t nr = env.pmd / env.page;
	struct ptmark_record *recs;
	struct scan_result res;
	char *p;

	if (!have(PTMARK_FEAT_THP) || !thp_allowed())
		SKIP(return, "THP not available");
	p = map_pmd_aligned(_metadata, env.pmd);
	ASSERT_EQ(0, madvise(p, env.pmd, MADV_HUGEPAGE));
	memset(p, 1, env.pmd);
	if (smaps_kb(p, "AnonHugePages:") * 1024 != (long)env.pmd)
		SKIP(return, "the kernel did not allocate a THP (smaps AnonHugePages %ld kB)",
		     smaps_kb(p, "AnonHugePages:"));

	recs = scan_self(_metadata, p, nr);
	expect_pages(_metadata, recs, 0, nr, &(struct page_state){
		"PMD-mapped THP", PTMARK_KIND_PRESENT, 0,
		PTMARK_BIT_ANON | PTMARK_BIT_EXCLUSIVE | PTMARK_BIT_WRITE |
		PTMARK_BIT_DIRTY | PTMARK_BIT_LARGE | PTMARK_BIT_PMD,
		PTMARK_BIT_FILE | NOT_PLAIN });
	expect_consecutive_pfns(_metadata, recs, 0, nr, nr);
	free(recs);

	/* Merged, the leaf is one run. */
	scan_merged(_metadata, &res, p, nr);
	ASSERT_EQ(1, res.nr);
	EXPECT_EQ(nr, res.recs[0].nr_pages);
	EXPECT_TRUE(res.recs[0].bits & PTMARK_BIT_PMD);
	free(res.recs);
}

/* A read fault there maps the huge zero page, also with a PMD leaf. */
TEST_F(scan, huge_zeropage_on_read_fault)
{
	size_t nr = env.pmd / env.page;
	struct ptmark_record *recs;
	char *use, *p;

	if (!have(PTMARK_FEAT_THP) || !thp_allowed())
		SKIP(return, "THP not available");
	use = read_text_file(THP_ZERO_PAGE);
	if (!use || atoi(use) != 1) {
		free(use);
		SKIP(return, "%s is not 1", THP_ZERO_PAGE);
	}
	free(use);
	p = map_pmd_aligned(_metadata, env.pmd);
	ASSERT_EQ(0, madvise(p, env.pmd, MADV_HUGEPAGE));
	read_page(p, 7);

	recs = scan_self(_metadata, p, nr);
	expect_pages(_metadata, recs, 0, nr, &(struct page_state){
		"huge zeropage", PTMARK_KIND_PRESENT, 0,
		PTMARK_BIT_HUGE_ZEROPAGE | PTMARK_BIT_PMD,
		PTMARK_BIT_WRITE | PTMARK_BIT_DIRTY | PTMARK_BIT_ANON |
		PTMARK_BIT_FILE | PTMARK_BIT_EXCLUSIVE | PTMARK_BIT_ZEROPAGE |
		PTMARK_BIT_SPECIAL | PTMARK_BIT_PUD });
	expect_consecutive_pfns(_metadata, recs, 0, nr, nr);
	free(recs);
}

/* Written pages go out to swap entries that remember they were exclusive. */
TEST_F(scan, swapped_out_pages)
{
	const size_t nr = 8, written = 6;
	struct ptmark_record *recs;
	uint64_t pm[8];
	size_t i, tries;
	char *p;

	PTMARK_REQUIRE_SWAP();
	/* MADV_PAGEOUT drains only this CPU's batch of new LRU pages. */
	stay_on_this_cpu();
	p = map_small_pages(_metadata, nr);
	for (i = 0; i < written; i++)
		memset(page_addr(p, i), 0x5a + i, env.page);
	read_page(p, written);

	for (tries = 0; tries < 10; tries++) {
		if (madvise(p, nr * env.page, MADV_PAGEOUT))
			SKIP(return, "MADV_PAGEOUT: %s", strerror(errno));
		ASSERT_EQ(0, pagemap_pread(env.pagemap, p, nr, pm));
		for (i = 0; i < written && (pm[i] & PM_SWAP); i++)
			;
		if (i == written)
			break;
	}
	ASSERT_EQ(written, i) TH_LOG("page %zu not swapped out: pagemap %#llx",
				     i, (unsigned long long)pm[i]);

	recs = scan_self(_metadata, p, nr);
	expect_pages(_metadata, recs, 0, written, &(struct page_state){
		"swap entry", PTMARK_KIND_SWAP, 0, PTMARK_BIT_EXCLUSIVE,
		ALL_BITS & ~(PTMARK_BIT_EXCLUSIVE | PTMARK_BIT_SOFT_DIRTY) });
	expect_pages(_metadata, recs, written, 1, &zero_page);
	expect_pages(_metadata, recs, written + 1, 1, &no_entry);
	free(recs);

	/* A write swaps the page back in as this process's own again. */
	EXPECT_EQ(0x5a, read_page(p, 0));
	write_page(p, 0);
	recs = scan_self(_metadata, p, 1);
	expect_pages(_metadata, recs, 0, 1, &anon_written);
	free(recs);
}

/*
 * Migration caught mid-flight.  migrate_pages_batch() replaces a whole
 * batch of folios (up to a PMD's worth) by migration entries before it
 * copies the first, so a thread moving hundreds of small pages back and
 * forth between the nodes keeps entries in place for the scan to meet.
 * Each must be named after the kind the kernel gave it: a writable
 * anonymous page's a migration write entry (write bit), a read-only one
 * this process alone maps a read-exclusive entry (exclusive bit), a
 * shared file page mapped read-only a read entry (neither), and no other
 * kind or bit anywhere; the data is intact after.  A race:
 * each kind must be met, or the test fails "race not exercised".
 */
#define MIGRATE_PAGES		256	/* of each kind: 768 in a batch */
#define MIGRATE_MS		60000

enum { MIG_WRITE, MIG_READ_EXCLUSIVE, MIG_READ, MIG_KINDS };

struct mover {
	pthread_t thread;
	void **addrs;
	size_t nr;
	atomic_bool stop;
	atomic_long moves;
	int err;
};

static void *mover_main(void *arg)
{
	struct mover *m = arg;
	int *nodes = calloc(m->nr, sizeof(*nodes));
	int *status = calloc(m->nr, sizeof(*status));
	int node = 1;
	size_t i;

	if (!nodes || !status)
		m->err = ENOMEM;
	while (!m->err && !atomic_load(&m->stop)) {
		for (i = 0; i < m->nr; i++)
			nodes[i] = node;
		if (move_pages(0, m->nr, m->addrs, nodes, status,
			       MPOL_MF_MOVE) < 0)
			m->err = errno;
		atomic_fetch_add(&m->moves, 1);
		node = !node;
	}
	free(nodes);
	free(status);
	return NULL;
}

TEST_F_TIMEOUT(scan, migration_entries_mid_flight, 180)
{
	static const char *const names[MIG_KINDS] = {
		"migration write entries", "migration read-exclusive entries",
		"migration read entries",
	};
	static const uint32_t bits[MIG_KINDS] = {
		PTMARK_BIT_WRITE, PTMARK_BIT_EXCLUSIVE, 0,
	};
	struct ptmark_race race[MIG_KINDS];
	struct ptmark_record *recs;
	struct mover m = { 0 };
	char *region[MIG_KINDS];
	double end;
	size_t k, i;
	int fd;

	PTMARK_REQUIRE_TWO_NODES();
	if (!have(PTMARK_FEAT_MIGRATION))
		SKIP(return, "ptmark.ko names no migration entries here");
	for (k = 0; k < MIG_KINDS; k++)
		race[k] = (struct ptmark_race)PTMARK_RACE(names[k], 1);
	region[MIG_WRITE] = map_small_pages(_metadata, MIGRATE_PAGES);
	region[MIG_READ_EXCLUSIVE] = map_small_pages(_metadata, MIGRATE_PAGES);
	fd = memfd_sized("ptmark-migrate", 0, MIGRATE_PAGES * env.page);
	ASSERT_LE(0, fd);
	region[MIG_READ] = mmap(NULL, MIGRATE_PAGES * env.page, PROT_READ,
				MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, region[MIG_READ]);
	for (i = 0; i < MIGRATE_PAGES; i++) {
		write_page(region[MIG_WRITE], i);
		write_page(region[MIG_READ_EXCLUSIVE], i);
		read_page(region[MIG_READ], i);
	}
	ASSERT_EQ(0, mprotect(region[MIG_READ_EXCLUSIVE],
			      MIGRATE_PAGES * env.page, PROT_READ));
	m.nr = MIG_KINDS * MIGRATE_PAGES;
	m.addrs = calloc(m.nr, sizeof(*m.addrs));
	recs = calloc(MIGRATE_PAGES, sizeof(*recs));
	ASSERT_NE(NULL, m.addrs);
	ASSERT_NE(NULL, recs);
	for (k = 0; k < MIG_KINDS; k++)
		for (i = 0; i < MIGRATE_PAGES; i++)
			m.addrs[k * MIGRATE_PAGES + i] = page_addr(region[k], i);

	ASSERT_EQ(0, pthread_create(&m.thread, NULL, mover_main, &m));
	end = monotonic_ms() + MIGRATE_MS;
	for (k = 0; monotonic_ms() < end; k = (k + 1) % MIG_KINDS) {
		for (i = 0; i < MIG_KINDS; i++)
			if (ptmark_race_hits(&race[i]) < race[i].need)
				break;
		if (i == MIG_KINDS)
			break;
		race[k].rounds++;
		ASSERT_EQ(0, ptmark_scan_dense(env.fd, region[k], MIGRATE_PAGES,
					       recs));
		for (i = 0; i < MIGRATE_PAGES; i++) {
			const struct ptmark_record *r = &recs[i];

			if (r->kind == PTMARK_KIND_PRESENT)
				continue;
			ASSERT_EQ(PTMARK_KIND_MIGRATION, r->kind)
				TH_LOG("page %zu of the %s kind: kind %u bits %#x",
				       i, names[k], r->kind, r->bits);
			ASSERT_EQ(bits[k], r->bits &
				  (PTMARK_BIT_WRITE | PTMARK_BIT_EXCLUSIVE))
				TH_LOG("page %zu, one of the %s: bits %#x",
				       i, names[k], r->bits);
			ASSERT_EQ(0, r->bits & ~(PTMARK_BIT_WRITE |
						 PTMARK_BIT_EXCLUSIVE |
						 PTMARK_BIT_SOFT_DIRTY))
				TH_LOG("page %zu, one of the %s: bits %#x",
				       i, names[k], r->bits);
			ptmark_race_hit(&race[k]);
		}
	}
	atomic_store(&m.stop, true);
	pthread_join(m.thread, NULL);
	ASSERT_EQ(0, m.err) TH_LOG("move_pages: %s", strerror(m.err));
	TH_LOG("%ld move_pages() calls", atomic_load(&m.moves));
	for (i = 0; i < MIGRATE_PAGES; i++) {
		ASSERT_EQ((char)(i + 1), read_page(region[MIG_WRITE], i));
		ASSERT_EQ((char)(i + 1), read_page(region[MIG_READ_EXCLUSIVE], i));
	}
	for (k = 0; k < MIG_KINDS; k++)
		RACE_EXERCISED(&race[k]);
	free(recs);
	free(m.addrs);
	close(fd);
}

/*
 * UFFDIO_POISON (6.6) leaves a poisoned PTE marker where the page was
 * missing: the scan names it a marker with the poisoned bit alone, the
 * page beside it stays empty, and an access raises SIGBUS.
 */
TEST_F(scan, poison_marker_from_uffdio_poison)
{
	struct uffdio_poison poison = { .mode = 0 };
	struct ptmark_record recs[2];
	char *p = map_small_pages(_metadata, 2);
	__u64 ioctls;
	char c;
	int uffd;

	uffd = uffd_open(UFFD_FEATURE_POISON);
	if (uffd == -EOPNOTSUPP)
		SKIP(return, "kernel lacks UFFD_FEATURE_POISON");
	ASSERT_LE(0, uffd) TH_LOG("userfaultfd: %s", strerror(-uffd));
	ASSERT_EQ(0, uffd_register_ioctls(uffd, p, 2 * env.page,
					  UFFDIO_REGISTER_MODE_MISSING,
					  &ioctls));
	ASSERT_NE(0, ioctls & (1ULL << _UFFDIO_POISON));
	poison.range.start = (uintptr_t)p;
	poison.range.len = env.page;
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_POISON, &poison))
		TH_LOG("UFFDIO_POISON: %s", strerror(errno));
	ASSERT_EQ((__s64)env.page, poison.updated);
	ASSERT_EQ(0, ptmark_scan_dense(env.fd, p, 2, recs));
	ASSERT_EQ(PTMARK_KIND_MARKER, recs[0].kind);
	ASSERT_EQ(PTMARK_MARKER_POISONED, recs[0].marker);
	ASSERT_EQ('K', ptmark_map_char(&recs[0]));
	ASSERT_EQ(PTMARK_KIND_NONE, recs[1].kind);
	ASSERT_EQ(0, probe_handlers_install());
	ASSERT_EQ(SIGBUS, probe_read(p, &c));
	close(uffd);
}

/* madvise(MADV_HWPOISON)'s errno, 0 if it worked: the page is poisoned. */
static int hwpoison_errno;

static void hwpoison_page(void *p)
{
	hwpoison_errno = madvise(p, sysconf(_SC_PAGESIZE), MADV_HWPOISON) ?
			 errno : 0;
}

/*
 * MADV_HWPOISON (CONFIG_MEMORY_FAILURE) takes a written anonymous page
 * out of service: its PTE becomes a hardware-poison entry, which the
 * scan names hwpoison, and an access raises SIGBUS.  memory_failure()
 * may already signal the caller, which probe_call() catches.
 */
TEST_F(scan, hwpoison_entry_from_madv_hwpoison)
{
	struct ptmark_record recs[2];
	char *p = map_small_pages(_metadata, 2), c;
	int sig;

	write_page(p, 0);
	write_page(p, 1);
	ASSERT_EQ(0, probe_handlers_install());
	hwpoison_errno = -1;
	sig = probe_call(hwpoison_page, p);
	ASSERT_TRUE(sig == 0 || sig == SIGBUS) TH_LOG("signal %d", sig);
	if (!sig && hwpoison_errno == EINVAL)
		SKIP(return, "kernel lacks MADV_HWPOISON (CONFIG_MEMORY_FAILURE)");
	if (!sig)
		ASSERT_EQ(0, hwpoison_errno) TH_LOG("MADV_HWPOISON: %s",
						    strerror(hwpoison_errno));
	ASSERT_EQ(0, ptmark_scan_dense(env.fd, p, 2, recs));
	ASSERT_EQ(PTMARK_KIND_HWPOISON, recs[0].kind);
	ASSERT_EQ('X', ptmark_map_char(&recs[0]));
	ASSERT_EQ(PTMARK_KIND_PRESENT, recs[1].kind);
	ASSERT_EQ(SIGBUS, probe_read(p, &c));
}

/* MAP_HUGETLB memory is one PMD leaf of a hugetlb VMA. */
TEST_F(scan, hugetlb_is_pmd_mapped)
{
	size_t nr = env.pmd / env.page;
	struct ptmark_record *recs;
	char *p;

	if (!have(PTMARK_FEAT_HUGETLB))
		SKIP(return, "no hugetlb support");
	p = mmap(NULL, env.pmd, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (p == MAP_FAILED)
		SKIP(return, "no free huge page: %s", strerror(errno));
	memset(p, 1, env.pmd);

	recs = scan_self(_metadata, p, nr);
	expect_pages(_metadata, recs, 0, nr, &(struct page_state){
		"hugetlb page", PTMARK_KIND_PRESENT, 0,
		PTMARK_BIT_ANON | PTMARK_BIT_WRITE | PTMARK_BIT_DIRTY |
		PTMARK_BIT_LARGE | PTMARK_BIT_PMD,
		PTMARK_BIT_FILE | NOT_PLAIN });
	expect_consecutive_pfns(_metadata, recs, 0, nr, nr);
	EXPECT_TRUE(recs[0].vma_flags & PTMARK_VMA_HUGETLB);
	free(recs);
}

/* Guard markers replace pages, and MADV_DONTNEED leaves them be. */
CASE_NEEDS(scan, guard_markers, NEEDS_GUARD, 0)
TEST_F(scan, guard_markers)
{
	static const size_t guarded[] = { 2, 3, 6 };
	const size_t nr = 8;
	struct ptmark_record *recs;
	char *p;
	size_t i;

	if (!have(PTMARK_FEAT_GUARD))
		SKIP(return, "kernel without MADV_GUARD_INSTALL");
	p = map_small_pages(_metadata, nr);
	for (i = 0; i < nr; i++)
		write_page(p, i);
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, madvise(page_addr(p, guarded[i]), env.page,
				     MADV_GUARD_INSTALL));
	}

	recs = scan_self(_metadata, p, nr);
	expect_pages(_metadata, recs, 0, 2, &anon_written);
	expect_pages(_metadata, recs, 2, 2, &guard_marker);
	expect_pages(_metadata, recs, 4, 2, &anon_written);
	expect_pages(_metadata, recs, 6, 1, &guard_marker);
	expect_pages(_metadata, recs, 7, 1, &anon_written);
	free(recs);

	ASSERT_EQ(0, madvise(p, nr * env.page, MADV_DONTNEED));
	recs = scan_self(_metadata, p, nr);
	expect_pages(_metadata, recs, 0, 2, &no_entry);
	expect_pages(_metadata, recs, 2, 2, &guard_marker);
	expect_pages(_metadata, recs, 4, 2, &no_entry);
	expect_pages(_metadata, recs, 6, 1, &guard_marker);
	expect_pages(_metadata, recs, 7, 1, &no_entry);
	free(recs);
}

/*
 * Soft-dirty: clear_refs "4" clears it on every entry and VMA; a write
 * sets it again on the page written only.
 */
TEST_F(scan, soft_dirty_after_clear_refs)
{
	struct ptmark_record *recs;
	char *p;
	size_t i;

	if (!have(PTMARK_FEAT_SOFT_DIRTY))
		SKIP(return, "kernel without soft-dirty tracking");
	p = map_small_pages(_metadata, 4);
	for (i = 0; i < 4; i++)
		write_page(p, i);
	ASSERT_EQ(0, write_text_file("/proc/self/clear_refs", "4"));
	write_page(p, 1);

	recs = scan_self(_metadata, p, 4);
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(PTMARK_KIND_PRESENT, recs[i].kind);
		EXPECT_EQ(i == 1, !!(recs[i].bits & PTMARK_BIT_SOFT_DIRTY))
			TH_LOG("page %zu", i);
		EXPECT_FALSE(recs[i].vma_flags & PTMARK_VMA_SOFTDIRTY);
	}
	free(recs);
}

/*
 * uffd-wp on shmem: UFFDIO_WRITEPROTECT leaves markers in the holes and
 * the bit on mapped pages; zapping a protected page leaves a marker; a
 * read fault on a marker maps the page still protected, and only it.
 */
TEST_F(scan, uffd_wp_markers_on_shmem)
{
	const struct page_state protected_page = {
		"wr-protected shmem page", PTMARK_KIND_PRESENT, 0,
		PTMARK_BIT_FILE | PTMARK_BIT_UFFD_WP,
		PTMARK_BIT_WRITE | PTMARK_BIT_ANON | PTMARK_BIT_EXCLUSIVE |
		PTMARK_BIT_ZEROPAGE | PTMARK_BIT_SPECIAL,
	};
	const size_t nr = 8;
	size_t len = nr * env.page;
	struct ptmark_record *recs;
	struct scan_result res;
	int memfd, uffd;
	char *p;

	if (!have(PTMARK_FEAT_UFFD_WP_MARKER))
		SKIP(return, "kernel without uffd-wp PTE markers");
	uffd = uffd_open(UFFD_FEATURE_WP_HUGETLBFS_SHMEM);
	if (uffd < 0)
		SKIP(return, "userfaultfd with WP_HUGETLBFS_SHMEM: %s",
		     strerror(-uffd));
	memfd = memfd_create("ptmark-scan", MFD_CLOEXEC);
	ASSERT_LE(0, memfd);
	ASSERT_EQ(0, ftruncate(memfd, len));
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	ASSERT_NE(MAP_FAILED, p);
	write_page(p, 0);
	write_page(p, 1);
	ASSERT_EQ(0, uffd_register(uffd, p, len, UFFDIO_REGISTER_MODE_WP));
	ASSERT_EQ(0, uffd_writeprotect(uffd, p, len,
				       UFFDIO_WRITEPROTECT_MODE_WP));

	recs = scan_self(_metadata, p, nr);
	expect_pages(_metadata, recs, 0, 2, &protected_page);
	expect_pages(_metadata, recs, 2, nr - 2, &uffd_wp_marker);
	EXPECT_EQ(PTMARK_VMA_READ | PTMARK_VMA_WRITE | PTMARK_VMA_SHARED |
		  PTMARK_VMA_SHMEM | PTMARK_VMA_UFFD_WP,
		  recs[0].vma_flags & ~PTMARK_VMA_SOFTDIRTY);
	free(recs);

	ASSERT_EQ(0, madvise(p, 2 * env.page, MADV_DONTNEED));
	scan_merged(_metadata, &res, p, nr);
	ASSERT_EQ(1, res.nr);
	EXPECT_EQ(nr, res.recs[0].nr_pages);
	EXPECT_EQ(PTMARK_KIND_MARKER, res.recs[0].kind);
	EXPECT_EQ(PTMARK_MARKER_UFFD_WP, res.recs[0].marker);
	free(res.recs);

	EXPECT_EQ(1, read_page(p, 0));
	read_page(p, 4);
	recs = scan_self(_metadata, p, nr);
	expect_pages(_metadata, recs, 0, 1, &protected_page);
	expect_pages(_metadata, recs, 1, 3, &uffd_wp_marker);
	expect_pages(_metadata, recs, 4, 1, &protected_page);
	expect_pages(_metadata, recs, 5, 3, &uffd_wp_marker);
	free(recs);
	close(uffd);
	close(memfd);
}

/* With WP_UNPOPULATED, anonymous holes get uffd-wp markers too. */
TEST_F(scan, uffd_wp_markers_on_unpopulated_anon)
{
	struct ptmark_record *recs;
	char *p;
	int uffd;

	if (!have(PTMARK_FEAT_UFFD_WP_MARKER))
		SKIP(return, "kernel without uffd-wp PTE markers");
	uffd = uffd_open(UFFD_FEATURE_WP_UNPOPULATED);
	if (uffd < 0)
		SKIP(return, "kernel lacks UFFD_FEATURE_WP_UNPOPULATED");
	p = map_small_pages(_metadata, 4);
	write_page(p, 0);
	ASSERT_EQ(0, uffd_register(uffd, p, 4 * env.page,
				   UFFDIO_REGISTER_MODE_WP));
	ASSERT_EQ(0, uffd_writeprotect(uffd, p, 4 * env.page,
				       UFFDIO_WRITEPROTECT_MODE_WP));

	recs = scan_self(_metadata, p, 4);
	expect_pages(_metadata, recs, 0, 1, &(struct page_state){
		"wr-protected anonymous page", PTMARK_KIND_PRESENT, 0,
		PTMARK_BIT_ANON | PTMARK_BIT_EXCLUSIVE | PTMARK_BIT_UFFD_WP,
		PTMARK_BIT_WRITE | PTMARK_BIT_FILE | PTMARK_BIT_ZEROPAGE });
	expect_pages(_metadata, recs, 1, 3, &uffd_wp_marker);
	free(recs);
	close(uffd);
}

/* ---- file-backed memory ------------------------------------------------- */

FIXTURE(backed) {
	int file;
};

FIXTURE_VARIANT(backed) {
	const struct ptmark_backing *backing;
};

BACKING_VARIANT(backed, memfd, BK_MEMFD);
BACKING_VARIANT(backed, memfd_private, BK_MEMFD_PRIVATE);
BACKING_VARIANT(backed, ext4_shared, BK_EXT4_SHARED);
BACKING_VARIANT(backed, ext4_private, BK_EXT4_PRIVATE);

#define BACKED_PAGES	4

FIXTURE_SETUP(backed)
{
	char *data;
	size_t i;

	PTMARK_REQUIRE_DEVICE(env.fd);
	env_init(_metadata);
	self->file = ptmark_backing_fd(variant->backing, 0);
	ASSERT_LE(0, self->file);
	/* Data in the page cache, so that no page is a hole. */
	data = malloc(BACKED_PAGES * env.page);
	ASSERT_NE(NULL, data);
	for (i = 0; i < BACKED_PAGES * env.page; i++)
		data[i] = 0x11 + i / env.page;
	ASSERT_EQ(BACKED_PAGES * env.page,
		  write(self->file, data, BACKED_PAGES * env.page));
	free(data);
}

FIXTURE_TEARDOWN(backed)
{
	if (self->file > 0)
		close(self->file);
	env_fini();
}

static char *map_backed(struct __test_metadata *_metadata,
			const struct ptmark_backing *b, int file)
{
	char *p = ptmark_backing_mmap(b, file, NULL, BACKED_PAGES * env.page,
				      PROT_READ | PROT_WRITE, 0, 0);

	ASSERT_NE(MAP_FAILED, p);
	return p;
}

/*
 * Pages 0 and 2 read, then 1 and 3 written: every page ends up mapped
 * (fault-around may map some early, which changes nothing).  Read pages
 * are page-cache pages, and read-only in a private mapping; a shared one
 * may map them writable, and dirty since the file data is (mm/memory.c
 * set_pte_range()), and a fault may map a whole large folio at once.
 * Written pages are the page-cache pages when shared, private anonymous
 * copies when private.
 */
TEST_F(backed, read_and_written_pages)
{
	const bool shared = backing_has(variant->backing, PB_SHARED);
	const struct page_state read_state = {
		"page-cache page read", PTMARK_KIND_PRESENT, 0, PTMARK_BIT_FILE,
		PTMARK_BIT_ANON | PTMARK_BIT_EXCLUSIVE | PTMARK_BIT_PMD |
		NOT_PLAIN | (shared ? 0 : PTMARK_BIT_WRITE | PTMARK_BIT_DIRTY),
	};
	const struct page_state shared_written = {
		"page-cache page written", PTMARK_KIND_PRESENT, 0,
		PTMARK_BIT_FILE | PTMARK_BIT_WRITE | PTMARK_BIT_DIRTY,
		PTMARK_BIT_ANON | PTMARK_BIT_EXCLUSIVE | PTMARK_BIT_PMD |
		NOT_PLAIN,
	};
	uint64_t vma_flags = PTMARK_VMA_READ | PTMARK_VMA_WRITE |
		(backing_has(variant->backing, PB_EXT4) ? PTMARK_VMA_FILE :
		 PTMARK_VMA_SHMEM) | (shared ? PTMARK_VMA_SHARED : 0);
	struct ptmark_record *recs;
	char *p = map_backed(_metadata, variant->backing, self->file);
	size_t i;

	EXPECT_EQ(0x11, read_page(p, 0));
	EXPECT_EQ(0x13, read_page(p, 2));
	write_page(p, 1);
	write_page(p, 3);

	recs = scan_self(_metadata, p, BACKED_PAGES);
	for (i = 0; i < BACKED_PAGES; i += 2) {
		expect_pages(_metadata, recs, i, 1, &read_state);
		expect_pages(_metadata, recs, i + 1, 1,
			     shared ? &shared_written : &anon_written);
	}
	for (i = 0; i < BACKED_PAGES; i++) {
		EXPECT_EQ(vma_flags, recs[i].vma_flags & ~PTMARK_VMA_SOFTDIRTY)
			TH_LOG("page %zu", i);
	}
	free(recs);
}

/* A guard marker takes a file page's place; its neighbours stay mapped. */
CASE_NEEDS(backed, guard_marker_in_file_mapping, NEEDS_GUARD, 0)
TEST_F(backed, guard_marker_in_file_mapping)
{
	struct ptmark_record *recs;
	char *p;
	size_t i;

	if (!have(PTMARK_FEAT_GUARD_FILE))
		SKIP(return, "kernel without guard regions in file mappings");
	p = map_backed(_metadata, variant->backing, self->file);
	for (i = 0; i < BACKED_PAGES; i++)
		read_page(p, i);
	ASSERT_EQ(0, madvise(page_addr(p, 1), env.page, MADV_GUARD_INSTALL));

	recs = scan_self(_metadata, p, BACKED_PAGES);
	for (i = 0; i < BACKED_PAGES; i++) {
		if (i == 1) {
			expect_pages(_metadata, recs, i, 1, &guard_marker);
			continue;
		}
		EXPECT_EQ(PTMARK_KIND_PRESENT, recs[i].kind);
		EXPECT_TRUE(recs[i].bits & PTMARK_BIT_FILE);
	}
	free(recs);
}

/* ---- arguments ---------------------------------------------------------- */

/* The errno of one scan of our own pages, 0 if it worked. */
static int scan_errno(uint32_t flags, uint64_t start, uint64_t len,
		      struct ptmark_record *recs, uint32_t nr)
{
	struct ptmark_scan s = scan_req(flags, -1, start, len, recs, nr);

	return -do_scan(&s);
}

TEST_F(scan, bad_ranges_are_einval)
{
	struct ptmark_record recs[4];
	char *p = map_small_pages(_metadata, 2);
	uint64_t a = (uintptr_t)p, ps = env.page, top = ptmark_user_space_end();
	const struct {
		const char *what;
		uint64_t start, len;
	} cases[] = {
		{ "unaligned start", a + 1, ps },
		{ "unaligned start, by half a page", a + ps / 2, ps },
		{ "zero length", a, 0 },
		{ "unaligned length", a, ps + 1 },
		{ "length below a page", a, 1 },
		{ "wrapping around", -ps, 2 * ps },
		{ "huge length wrapping", a, -a },
		{ "end a page past user space", top - ps, 2 * ps },
		{ "start at the end of user space", top, ps },
		{ "past 56-bit user space", (1ULL << 56) - ps, 2 * ps },
		{ "kernel half", 0xffff800000000000ULL, ps },
		{ "non-canonical", 1ULL << 60, ps },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		EXPECT_EQ(EINVAL, scan_errno(0, cases[i].start, cases[i].len,
					     recs, 4))
			TH_LOG("%s", cases[i].what);
	}
	EXPECT_EQ(0, scan_errno(0, a, 2 * ps, recs, 4));
	/* The last page of user space is fine. */
	EXPECT_EQ(0, scan_errno(0, top - ps, ps, recs, 4));
	EXPECT_EQ(top - ps, recs[0].start);
	EXPECT_EQ(1, recs[0].nr_pages);
}

/* Records go only to memory the caller may write, all of them. */
TEST_F(scan, bad_records_pointer_is_efault)
{
	char *p = map_small_pages(_metadata, 4), *ro, *edge;
	uint64_t len = 4 * env.page;

	write_page(p, 0);
	write_page(p, 2);
	ro = mmap(NULL, 2 * env.page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		  -1, 0);
	ASSERT_NE(MAP_FAILED, ro);

	EXPECT_EQ(EFAULT, scan_errno(0, (uintptr_t)p, len, NULL, 4));
	EXPECT_EQ(EFAULT, scan_errno(0, (uintptr_t)p, len, (void *)8, 4));
	EXPECT_EQ(EFAULT, scan_errno(0, (uintptr_t)p, len,
				     (void *)0xffffffff81000000ULL, 4));
	EXPECT_EQ(EFAULT, scan_errno(0, (uintptr_t)p, len, (void *)ro, 4));

	/* Room for one record before a read-only page, but two needed. */
	ASSERT_EQ(0, mprotect(ro, env.page, PROT_READ | PROT_WRITE));
	edge = ro + env.page - sizeof(struct ptmark_record);
	EXPECT_EQ(EFAULT, scan_errno(PTMARK_SCAN_DENSE, (uintptr_t)p, len,
				     (void *)edge, 4));
	/* The same with room for just that one record is fine. */
	EXPECT_EQ(0, scan_errno(PTMARK_SCAN_DENSE, (uintptr_t)p, len,
				(void *)edge, 1));

	/* The argument struct itself. */
	errno = 0;
	EXPECT_EQ(-1, ioctl(env.fd, PTMARK_IOC_SCAN, NULL));
	EXPECT_EQ(EFAULT, errno);
}

TEST_F(scan, zero_records_is_einval)
{
	struct ptmark_record rec;
	char *p = map_small_pages(_metadata, 1);

	EXPECT_EQ(EINVAL, scan_errno(0, (uintptr_t)p, env.page, &rec, 0));
	EXPECT_EQ(EINVAL, scan_errno(0, (uintptr_t)p, env.page, NULL, 0));
}

TEST_F(scan, unknown_flags_are_einval)
{
	struct ptmark_record rec;
	char *p = map_small_pages(_metadata, 1);
	uint32_t bit;

	for (bit = 1; bit; bit <<= 1) {
		if (bit & PTMARK_SCAN_FLAGS)
			continue;
		EXPECT_EQ(EINVAL, scan_errno(bit, (uintptr_t)p, env.page,
					     &rec, 1))
			TH_LOG("flag %#x", bit);
	}
	EXPECT_EQ(0, scan_errno(PTMARK_SCAN_DENSE, (uintptr_t)p, env.page,
				&rec, 1));
}

/* The extensible-struct rules, for the scan's argument. */
TEST_F(scan, argument_size_rules)
{
	struct {
		struct ptmark_scan s;
		uint64_t tail[2];
	} big;
	struct ptmark_record rec;
	char *p = map_small_pages(_metadata, 1);
	struct ptmark_scan s;

	s = scan_req(0, -1, (uintptr_t)p, env.page, &rec, 1);
	s.size = PTMARK_SCAN_SIZE_VER0 - 1;
	EXPECT_EQ(-EINVAL, do_scan(&s));
	s.size = 0;
	EXPECT_EQ(-EINVAL, do_scan(&s));
	s.size = 1 << 20;
	EXPECT_EQ(-EINVAL, do_scan(&s));

	/* A newer caller's struct is fine while its tail is zero... */
	memset(&big, 0, sizeof(big));
	big.s = scan_req(0, -1, (uintptr_t)p, env.page, &rec, 1);
	big.s.size = sizeof(big);
	EXPECT_EQ(0, do_scan(&big.s));
	EXPECT_EQ(1, big.s.nr_records);
	EXPECT_EQ((uintptr_t)p + env.page, big.s.next);
	EXPECT_EQ(0, big.tail[0]);

	/* ... and refused when the tail asks for something unknown. */
	big.tail[1] = 1;
	EXPECT_EQ(-E2BIG, do_scan(&big.s));
}

/* ---- runs ----------------------------------------------------------------- */

/*
 * A range in many states: written, zeropage, empty, a hole, a read-only
 * VMA, and guard markers where the kernel has them.  Returns its start;
 * *nr gets its pages.
 */
static char *map_mixed_range(struct __test_metadata *_metadata, size_t *nr)
{
	char *p = map_small_pages(_metadata, 16);
	size_t i;

	for (i = 0; i < 3; i++)
		write_page(p, i);
	read_page(p, 3);
	read_page(p, 4);
	ASSERT_EQ(0, munmap(page_addr(p, 7), env.page));
	ASSERT_EQ(0, mprotect(page_addr(p, 8), 2 * env.page, PROT_READ));
	read_page(p, 9);
	for (i = 10; i < 16; i++)
		write_page(p, i);
	if (have(PTMARK_FEAT_GUARD)) {
		ASSERT_EQ(0, madvise(page_addr(p, 12), 3 * env.page,
				     MADV_GUARD_INSTALL));
	}
	*nr = 16;
	return p;
}

/*
 * With room for one record a call, each call returns exactly one, .next
 * continues right after it, and the records are exactly those one big
 * buffer gets: runs are complete whatever the buffer.
 */
TEST_F(scan, one_record_buffer_continues_exactly)
{
	struct scan_result big, small, two;
	size_t nr, i;
	char *p = map_mixed_range(_metadata, &nr);
	int ret;

	scan_merged(_metadata, &big, p, nr);
	ret = scan_all(&small, 0, -1, (uintptr_t)p, nr * env.page, 1);
	ASSERT_EQ(0, ret) TH_LOG("%s %s", strerror(-ret), small.why);
	ret = scan_all(&two, 0, -1, (uintptr_t)p, nr * env.page, 2);
	ASSERT_EQ(0, ret) TH_LOG("%s %s", strerror(-ret), two.why);

	/*
	 * Written, zeropage, empty, hole, RO empty, RO zero, written, and
	 * where the kernel has guards: guard, written.
	 */
	EXPECT_LE(have(PTMARK_FEAT_GUARD) ? 9 : 7, big.nr);
	EXPECT_EQ(1, big.calls);
	EXPECT_EQ(big.nr, small.calls);
	ASSERT_EQ(big.nr, small.nr);
	ASSERT_EQ(big.nr, two.nr);
	EXPECT_EQ((big.nr + 1) / 2, two.calls);
	for (i = 0; i < big.nr; i++) {
		EXPECT_EQ(0, memcmp(&big.recs[i], &small.recs[i],
				    sizeof(big.recs[i])))
			TH_LOG("record %zu differs: %#llx+%llu kind %u vs %#llx+%llu kind %u",
			       i, (unsigned long long)big.recs[i].start,
			       (unsigned long long)big.recs[i].nr_pages,
			       big.recs[i].kind,
			       (unsigned long long)small.recs[i].start,
			       (unsigned long long)small.recs[i].nr_pages,
			       small.recs[i].kind);
		EXPECT_EQ(0, memcmp(&big.recs[i], &two.recs[i],
				    sizeof(big.recs[i])));
	}
	free(big.recs);
	free(small.recs);
	free(two.recs);
}

/* ---- the compact format --------------------------------------------------- */

/*
 * Compact words say of every page what a dense scan says of it, as far as
 * the format carries (kind, marker, bits), whatever room each call has:
 * a call ends on a whole page and the next starts with a state word.
 */
TEST_F(scan, compact_matches_dense_records)
{
	static const size_t rooms[] = { 1, 2, 3, 7, 4096 };
	struct ptmark_record recs[16];
	__u32 states[16];
	size_t nr, i, r, calls;
	char *p = map_mixed_range(_metadata, &nr);
	int ret;

	ASSERT_EQ(0, ptmark_scan_dense(env.fd, p, nr, recs));
	for (r = 0; r < ARRAY_SIZE(rooms); r++) {
		ret = ptmark_scan_compact(env.fd, p, nr, 0, rooms[r], states,
					  &calls, NULL);
		ASSERT_EQ(0, ret) TH_LOG("room %zu: %s", rooms[r],
					 strerror(-ret));
		if (rooms[r] == 1)
			EXPECT_EQ(nr, calls);
		for (i = 0; i < nr; i++) {
			EXPECT_EQ(ptmark_compact_state_of(&recs[i], 0),
				  states[i])
				TH_LOG("room %zu page %zu: kind %u marker %#x bits %#x, word %#x",
				       rooms[r], i, recs[i].kind,
				       recs[i].marker, recs[i].bits,
				       states[i]);
		}
	}
	munmap(p, nr * env.page);
}

/*
 * What the words cost: a run of equal pages is two words however long it
 * is, even across VMAs (the format has no VMA fields), and pages that
 * alternate are one word each.
 */
TEST_F(scan, compact_runs_and_stripes)
{
	const size_t nr = 64;
	__u32 states[64];
	size_t i, calls, words;
	char *p = map_small_pages(_metadata, nr);

	/* Three VMAs, no entries: one state word and one repeat word. */
	ASSERT_EQ(0, mprotect(page_addr(p, 16), 16 * env.page, PROT_READ));
	ASSERT_EQ(0, ptmark_scan_compact(env.fd, p, nr, 0, 4096, states,
					 &calls, &words));
	EXPECT_EQ(1, calls);
	EXPECT_EQ(2, words);
	for (i = 0; i < nr; i++)
		EXPECT_EQ(PTMARK_KIND_NONE, states[i]) TH_LOG("page %zu", i);

	/* Every other page written: a state word a page, no repeats. */
	ASSERT_EQ(0, mprotect(p, nr * env.page, PROT_READ | PROT_WRITE));
	for (i = 0; i < nr; i += 2)
		write_page(p, i);
	ASSERT_EQ(0, ptmark_scan_compact(env.fd, p, nr, 0, 4096, states,
					 &calls, &words));
	EXPECT_EQ(nr, words);
	for (i = 0; i < nr; i++) {
		EXPECT_EQ(i % 2 ? PTMARK_KIND_NONE : PTMARK_KIND_PRESENT,
			  PTMARK_C_KIND(states[i])) TH_LOG("page %zu", i);
	}
	munmap(p, nr * env.page);
}

/*
 * Neighbouring present pages get their own words when they differ only in
 * their access bits or only in their folio.  The compact walk decodes a
 * PTE's protection bits again only when they change: each change below
 * must show, and so must a pinned page between two that are not.
 *
 * All pages are written, then write-protected by clear_refs "4"; page 5 is
 * written again and made old by clear_refs "1"; pages 1, 2, 4 and 7 are
 * written again after that (the write fault makes them young); page 4 is
 * pinned.  The young bits come from faults: clear_refs "1" does not flush
 * the TLB, so an access through a cached translation need not set them.
 */
TEST_F(scan, compact_neighbours_keep_their_own_bits)
{
	const __u32 checked = PTMARK_BIT_WRITE | PTMARK_BIT_SOFT_DIRTY |
			      PTMARK_BIT_YOUNG | PTMARK_BIT_MAYBE_PINNED |
			      PTMARK_BIT_ANON | PTMARK_BIT_EXCLUSIVE;
	const size_t nr = 8;
	struct ptmark_record recs[8];
	__u32 states[8], want;
	size_t i;
	char *p;
	int sess;

	if (!have(PTMARK_FEAT_SOFT_DIRTY))
		SKIP(return, "kernel without soft-dirty tracking");
	if (!have(PTMARK_FEAT_PIN))
		SKIP(return, "module has no pin sessions (PTMARK_FEAT_PIN)");
	p = map_small_pages(_metadata, nr);
	for (i = 0; i < nr; i++)
		write_page(p, i);
	ASSERT_EQ(0, write_text_file("/proc/self/clear_refs", "4"));
	write_page(p, 5);
	ASSERT_EQ(0, write_text_file("/proc/self/clear_refs", "1"));
	write_page(p, 1);
	write_page(p, 2);
	write_page(p, 4);
	write_page(p, 7);
	sess = ptmark_pin_session(env.fd, -1);
	ASSERT_LE(0, sess);
	ASSERT_EQ(0, ptmark_pin(sess, page_addr(p, 4), env.page, 0));

	ASSERT_EQ(0, ptmark_scan_dense(env.fd, p, nr, recs));
	ASSERT_EQ(0, ptmark_scan_compact(env.fd, p, nr, 0, 4096, states,
					 NULL, NULL));
	for (i = 0; i < nr; i++) {
		EXPECT_EQ(ptmark_compact_state_of(&recs[i], 0), states[i])
			TH_LOG("page %zu: bits %#x, word %#x", i, recs[i].bits,
			       states[i]);
		want = PTMARK_BIT_ANON | PTMARK_BIT_EXCLUSIVE;
		if (i != 0 && i != 3 && i != 6)
			want |= PTMARK_BIT_WRITE | PTMARK_BIT_SOFT_DIRTY;
		if (i != 0 && i != 3 && i != 5 && i != 6)
			want |= PTMARK_BIT_YOUNG;
		if (i == 4)
			want |= PTMARK_BIT_MAYBE_PINNED;
		EXPECT_EQ(PTMARK_KIND_PRESENT, PTMARK_C_KIND(states[i]));
		EXPECT_EQ(want, PTMARK_C_BITS(states[i]) & checked)
			TH_LOG("page %zu: word %#x", i, states[i]);
	}
	EXPECT_EQ(0, ptmark_unpin(sess, page_addr(p, 4), env.page));
	close(sess);
	munmap(p, nr * env.page);
}

/*
 * @bits_mask reports only the bits asked for, in records and words alike;
 * a mask without the folio's bits still tells present pages, zeropages
 * and markers apart.
 */
TEST_F(scan, bits_mask_reports_only_what_is_asked)
{
	const __u32 mask = PTMARK_BIT_WRITE | PTMARK_BIT_ZEROPAGE;
	struct ptmark_record recs[16];
	struct ptmark_scan s;
	__u32 states[16];
	size_t nr, i;
	char *p = map_mixed_range(_metadata, &nr);

	s = scan_req(PTMARK_SCAN_DENSE, -1, (uintptr_t)p, nr * env.page, recs,
		     nr);
	s.bits_mask = mask;
	ASSERT_EQ(0, do_scan(&s));
	ASSERT_EQ(nr, s.nr_records);
	ASSERT_EQ(0, ptmark_scan_compact(env.fd, p, nr, mask, 4096, states,
					 NULL, NULL));
	for (i = 0; i < nr; i++) {
		EXPECT_EQ(0, recs[i].bits & ~mask) TH_LOG("page %zu", i);
		EXPECT_EQ(ptmark_compact_state_of(&recs[i], mask), states[i])
			TH_LOG("page %zu", i);
	}
	/* Pages 0-2 written, 3-4 read (zeropage): only those bits show. */
	EXPECT_EQ(PTMARK_BIT_WRITE, recs[0].bits);
	EXPECT_EQ(PTMARK_BIT_ZEROPAGE, recs[3].bits);
	EXPECT_EQ(PTMARK_KIND_PRESENT, recs[3].kind);
	munmap(p, nr * env.page);
}

TEST_F(scan, compact_bad_arguments)
{
	__u32 words[4];
	char *p = map_small_pages(_metadata, 1);
	struct ptmark_scan s;

	s = scan_req(PTMARK_SCAN_COMPACT | PTMARK_SCAN_DENSE, -1,
		     (uintptr_t)p, env.page, (void *)words, 4);
	EXPECT_EQ(-EINVAL, do_scan(&s));
	s = scan_req(PTMARK_SCAN_COMPACT, -1, (uintptr_t)p, env.page,
		     (void *)words, 4);
	s.bits_mask = PTMARK_BIT_ALL + 1;
	EXPECT_EQ(-EINVAL, do_scan(&s));
	s.bits_mask = 0;
	s.reserved = 1;
	EXPECT_EQ(-EINVAL, do_scan(&s));
	s.reserved = 0;
	s.nr_records = 0;
	EXPECT_EQ(-EINVAL, do_scan(&s));
	s.nr_records = 4;
	s.records = 16;
	EXPECT_EQ(-EFAULT, do_scan(&s));
	s.records = (uintptr_t)words;
	EXPECT_EQ(0, do_scan(&s));
	EXPECT_EQ(1, s.nr_records);
	EXPECT_EQ((uintptr_t)p + env.page, s.next);
	munmap(p, env.page);
}

/*
 * Words, like records, go only to memory the caller may write, all of
 * them: a batch that does not fit whole is EFAULT, not half written.
 */
TEST_F(scan, bad_words_pointer_is_efault)
{
	char *p = map_small_pages(_metadata, 3), *ro, *edge;
	uint64_t len = 3 * env.page;
	struct ptmark_scan s;

	/* Written, empty, written: three state words. */
	write_page(p, 0);
	write_page(p, 2);
	ro = mmap(NULL, 2 * env.page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
		  -1, 0);
	ASSERT_NE(MAP_FAILED, ro);

	s = scan_req(PTMARK_SCAN_COMPACT, -1, (uintptr_t)p, len, NULL, 4);
	EXPECT_EQ(-EFAULT, do_scan(&s));
	s = scan_req(PTMARK_SCAN_COMPACT, -1, (uintptr_t)p, len,
		     (void *)0xffffffff81000000ULL, 4);
	EXPECT_EQ(-EFAULT, do_scan(&s));
	s = scan_req(PTMARK_SCAN_COMPACT, -1, (uintptr_t)p, len, (void *)ro,
		     4);
	EXPECT_EQ(-EFAULT, do_scan(&s));

	/* Room for one word before a read-only page, but three needed. */
	ASSERT_EQ(0, mprotect(ro, env.page, PROT_READ | PROT_WRITE));
	edge = ro + env.page - sizeof(__u32);
	s = scan_req(PTMARK_SCAN_COMPACT, -1, (uintptr_t)p, len, (void *)edge,
		     4);
	EXPECT_EQ(-EFAULT, do_scan(&s));
	/* The same with room for just that one word is fine. */
	s = scan_req(PTMARK_SCAN_COMPACT, -1, (uintptr_t)p, len, (void *)edge,
		     1);
	ASSERT_EQ(0, do_scan(&s));
	EXPECT_EQ(1, s.nr_records);
	EXPECT_EQ((uintptr_t)p + env.page, s.next);
	EXPECT_EQ(PTMARK_KIND_PRESENT, PTMARK_C_KIND(*(__u32 *)edge));
	munmap(ro, 2 * env.page);
	munmap(p, len);
}

/*
 * The whole user address space is mostly one unmapped gap of more pages
 * than one repeat word counts: the words still describe every page once,
 * with full repeat words where a run is that long.
 */
TEST_F_TIMEOUT(scan, compact_whole_address_space, 120)
{
	const size_t room = 4096;
	__u32 *w = malloc(room * sizeof(*w));
	uint64_t cursor = 0, pages = 0, top = ptmark_user_space_end();
	bool full_repeat = false;
	size_t i;

	ASSERT_NE(NULL, w);
	while (cursor < top) {
		struct ptmark_scan s = scan_req(PTMARK_SCAN_COMPACT, -1, cursor,
						top - cursor,
						(void *)w, room);
		uint64_t call_pages = 0;

		ASSERT_EQ(0, do_scan(&s));
		ASSERT_LT(0, s.nr_records);
		ASSERT_EQ(0, w[0] & PTMARK_C_REPEAT);
		for (i = 0; i < s.nr_records; i++) {
			if (!(w[i] & PTMARK_C_REPEAT)) {
				call_pages++;
				continue;
			}
			ASSERT_LT(0, PTMARK_C_COUNT(w[i]));
			call_pages += PTMARK_C_COUNT(w[i]);
			full_repeat |= PTMARK_C_COUNT(w[i]) ==
				       PTMARK_C_COUNT_MAX;
		}
		ASSERT_EQ(cursor + call_pages * env.page, s.next);
		pages += call_pages;
		cursor = s.next;
	}
	EXPECT_EQ(top / env.page, pages);
	EXPECT_TRUE(full_repeat);
	free(w);
}

/* Sixteen guard markers are one run, between the runs around them. */
CASE_NEEDS(scan, guard_pages_merge_into_one_run, NEEDS_GUARD, 0)
TEST_F(scan, guard_pages_merge_into_one_run)
{
	struct scan_result res;
	char *p;

	if (!have(PTMARK_FEAT_GUARD))
		SKIP(return, "kernel without MADV_GUARD_INSTALL");
	p = map_small_pages(_metadata, 18);
	write_page(p, 0);
	ASSERT_EQ(0, madvise(page_addr(p, 1), 16 * env.page,
			     MADV_GUARD_INSTALL));

	scan_merged(_metadata, &res, p, 18);
	ASSERT_EQ(3, res.nr);
	EXPECT_EQ(PTMARK_KIND_PRESENT, res.recs[0].kind);
	EXPECT_EQ(1, res.recs[0].nr_pages);
	EXPECT_EQ((uintptr_t)page_addr(p, 1), res.recs[1].start);
	EXPECT_EQ(16, res.recs[1].nr_pages);
	EXPECT_EQ(PTMARK_KIND_MARKER, res.recs[1].kind);
	EXPECT_EQ(PTMARK_MARKER_GUARD, res.recs[1].marker);
	EXPECT_EQ(0, res.recs[1].bits);
	EXPECT_EQ(0, res.recs[1].pfn);
	EXPECT_EQ(PTMARK_KIND_NONE, res.recs[2].kind);
	EXPECT_EQ(1, res.recs[2].nr_pages);
	free(res.recs);
}

/* Check a two-record scan: two runs of two pages in @kind. */
static void expect_two_runs(struct __test_metadata *_metadata,
			    const struct scan_result *res, const char *p,
			    uint16_t kind)
{
	ASSERT_EQ(2, res->nr);
	EXPECT_EQ((uintptr_t)p, res->recs[0].start);
	EXPECT_EQ(2, res->recs[0].nr_pages);
	EXPECT_EQ(kind, res->recs[0].kind);
	EXPECT_EQ((uintptr_t)page_addr(p, 2), res->recs[1].start);
	EXPECT_EQ(2, res->recs[1].nr_pages);
	EXPECT_EQ(kind, res->recs[1].kind);
}

/*
 * A run never crosses into the next VMA: not where the flags differ, and
 * not where they are the same but the VMAs are two (two memfds).
 */
TEST_F(scan, runs_split_at_vma_boundaries)
{
	uint64_t shmem_flags = PTMARK_VMA_READ | PTMARK_VMA_WRITE |
			       PTMARK_VMA_SHARED | PTMARK_VMA_SHMEM;
	struct scan_result res;
	char *p = map_small_pages(_metadata, 4), *q;
	int a, b;

	ASSERT_EQ(0, mprotect(page_addr(p, 2), 2 * env.page, PROT_READ));
	scan_merged(_metadata, &res, p, 4);
	expect_two_runs(_metadata, &res, p, PTMARK_KIND_NONE);
	EXPECT_EQ(PTMARK_VMA_READ | PTMARK_VMA_WRITE | PTMARK_VMA_ANON |
		  PTMARK_VMA_NOHUGEPAGE,
		  res.recs[0].vma_flags & ~PTMARK_VMA_SOFTDIRTY);
	EXPECT_EQ(PTMARK_VMA_READ | PTMARK_VMA_ANON | PTMARK_VMA_NOHUGEPAGE,
		  res.recs[1].vma_flags & ~PTMARK_VMA_SOFTDIRTY);
	free(res.recs);

	a = memfd_create("ptmark-a", MFD_CLOEXEC);
	b = memfd_create("ptmark-b", MFD_CLOEXEC);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
	ASSERT_EQ(0, ftruncate(a, 2 * env.page));
	ASSERT_EQ(0, ftruncate(b, 2 * env.page));
	q = mmap(NULL, 4 * env.page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	ASSERT_NE(MAP_FAILED, q);
	ASSERT_EQ(q, mmap(q, 2 * env.page, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_FIXED, a, 0));
	ASSERT_EQ(page_addr(q, 2),
		  mmap(page_addr(q, 2), 2 * env.page, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_FIXED, b, 0));
	scan_merged(_metadata, &res, q, 4);
	expect_two_runs(_metadata, &res, q, PTMARK_KIND_NONE);
	EXPECT_EQ(shmem_flags, res.recs[0].vma_flags & ~PTMARK_VMA_SOFTDIRTY);
	EXPECT_EQ(res.recs[0].vma_flags, res.recs[1].vma_flags);
	free(res.recs);
	close(a);
	close(b);
}

/* A hole between VMAs is one UNMAPPED run with no VMA flags at all. */
TEST_F(scan, unmapped_gap_has_no_vma_flags)
{
	struct ptmark_record *recs;
	struct scan_result res;
	char *p = map_small_pages(_metadata, 5);

	ASSERT_EQ(0, munmap(page_addr(p, 2), 2 * env.page));
	scan_merged(_metadata, &res, p, 5);
	ASSERT_EQ(3, res.nr);
	EXPECT_EQ(PTMARK_KIND_NONE, res.recs[0].kind);
	EXPECT_EQ(2, res.recs[0].nr_pages);
	EXPECT_NE(0, res.recs[0].vma_flags);
	EXPECT_EQ(PTMARK_KIND_UNMAPPED, res.recs[1].kind);
	EXPECT_EQ((uintptr_t)page_addr(p, 2), res.recs[1].start);
	EXPECT_EQ(2, res.recs[1].nr_pages);
	EXPECT_EQ(0, res.recs[1].vma_flags);
	EXPECT_EQ(0, res.recs[1].as_flags);
	EXPECT_EQ(PTMARK_KIND_NONE, res.recs[2].kind);
	EXPECT_EQ(1, res.recs[2].nr_pages);
	EXPECT_EQ(res.recs[0].vma_flags, res.recs[2].vma_flags);
	free(res.recs);

	recs = scan_self(_metadata, p, 5);
	expect_pages(_metadata, recs, 2, 2, &unmapped);
	free(recs);
}

/* ---- VMA flags ---------------------------------------------------------- */

enum vma_setup {
	VS_NONE, VS_MLOCK, VS_MLOCK_ONFAULT, VS_HUGEPAGE, VS_NOHUGEPAGE,
	VS_WIPEONFORK, VS_DONTFORK, VS_SEQUENTIAL, VS_RANDOM, VS_UFFD_WP,
	VS_UFFD_MISSING,
};

struct vma_case {
	const char *name;
	int prot;
	int flags;		/* mmap() flags; MAP_SHARED with a file */
	bool memfd, ext4;	/* backing file, else anonymous */
	enum vma_setup setup;
	uint64_t want;		/* PTMARK_VMA_* but SOFTDIRTY */
};

#define RW	(PROT_READ | PROT_WRITE)
#define V_RW	(PTMARK_VMA_READ | PTMARK_VMA_WRITE)
#define V_ANON	(V_RW | PTMARK_VMA_ANON)

static const struct vma_case vma_cases[] = {
	{ "anon private", RW, MAP_PRIVATE, .want = V_ANON },
	{ "anon read+exec", PROT_READ | PROT_EXEC, MAP_PRIVATE,
	  .want = PTMARK_VMA_READ | PTMARK_VMA_EXEC | PTMARK_VMA_ANON },
	{ "anon shared", RW, MAP_SHARED,
	  .want = V_RW | PTMARK_VMA_SHARED | PTMARK_VMA_SHMEM },
	{ "memfd shared", RW, MAP_SHARED, .memfd = true,
	  .want = V_RW | PTMARK_VMA_SHARED | PTMARK_VMA_SHMEM },
	{ "memfd private", PROT_READ, MAP_PRIVATE, .memfd = true,
	  .want = PTMARK_VMA_READ | PTMARK_VMA_SHMEM },
	{ "ext4 shared", RW, MAP_SHARED, .ext4 = true,
	  .want = V_RW | PTMARK_VMA_SHARED | PTMARK_VMA_FILE },
	{ "ext4 private", RW, MAP_PRIVATE, .ext4 = true,
	  .want = V_RW | PTMARK_VMA_FILE },
	{ "mlock", RW, MAP_PRIVATE, .setup = VS_MLOCK,
	  .want = V_ANON | PTMARK_VMA_LOCKED },
	{ "mlock on fault", RW, MAP_PRIVATE, .setup = VS_MLOCK_ONFAULT,
	  .want = V_ANON | PTMARK_VMA_LOCKED | PTMARK_VMA_LOCKONFAULT },
	{ "MADV_HUGEPAGE", RW, MAP_PRIVATE, .setup = VS_HUGEPAGE,
	  .want = V_ANON | PTMARK_VMA_HUGEPAGE },
	{ "MADV_NOHUGEPAGE", RW, MAP_PRIVATE, .setup = VS_NOHUGEPAGE,
	  .want = V_ANON | PTMARK_VMA_NOHUGEPAGE },
	{ "MADV_WIPEONFORK", RW, MAP_PRIVATE, .setup = VS_WIPEONFORK,
	  .want = V_ANON | PTMARK_VMA_WIPEONFORK },
	{ "MADV_DONTFORK", RW, MAP_PRIVATE, .setup = VS_DONTFORK,
	  .want = V_ANON | PTMARK_VMA_DONTCOPY },
	{ "MADV_SEQUENTIAL", RW, MAP_PRIVATE, .setup = VS_SEQUENTIAL,
	  .want = V_ANON | PTMARK_VMA_SEQ_READ },
	{ "MADV_RANDOM", RW, MAP_PRIVATE, .setup = VS_RANDOM,
	  .want = V_ANON | PTMARK_VMA_RAND_READ },
	{ "uffd wp", RW, MAP_PRIVATE, .setup = VS_UFFD_WP,
	  .want = V_ANON | PTMARK_VMA_UFFD_WP },
	{ "uffd missing", RW, MAP_PRIVATE, .setup = VS_UFFD_MISSING,
	  .want = V_ANON | PTMARK_VMA_UFFD_MISSING },
};

/* Apply @setup to the page at @p; 0, or -errno (-ENOTSUP: skip the case). */
static int vma_setup(void *p, enum vma_setup setup, int *uffd)
{
	static const int advice[] = {
		[VS_HUGEPAGE] = MADV_HUGEPAGE,
		[VS_NOHUGEPAGE] = MADV_NOHUGEPAGE,
		[VS_WIPEONFORK] = MADV_WIPEONFORK,
		[VS_DONTFORK] = MADV_DONTFORK,
		[VS_SEQUENTIAL] = MADV_SEQUENTIAL,
		[VS_RANDOM] = MADV_RANDOM,
	};

	switch (setup) {
	case VS_NONE:
		return 0;
	case VS_MLOCK:
		return mlock(p, env.page) ? -errno : 0;
	case VS_MLOCK_ONFAULT:
		return syscall(__NR_mlock2, p, env.page, MLOCK_ONFAULT) ?
			-errno : 0;
	case VS_UFFD_WP:
	case VS_UFFD_MISSING:
		*uffd = uffd_open(0);
		if (*uffd < 0)
			return -ENOTSUP;
		return uffd_register(*uffd, p, env.page,
				     setup == VS_UFFD_WP ?
				     UFFDIO_REGISTER_MODE_WP :
				     UFFDIO_REGISTER_MODE_MISSING);
	default:
		if ((setup == VS_HUGEPAGE || setup == VS_NOHUGEPAGE) &&
		    !have(PTMARK_FEAT_THP))
			return -ENOTSUP;
		return madvise(p, env.page, advice[setup]) ? -errno : 0;
	}
}

/*
 * Each VMA flag ptmark reports, on a one-page VMA made to have it: the
 * flags must be exactly those (soft-dirty aside: a new VMA has it exactly
 * when the kernel tracks soft-dirty at all).
 */
TEST_F(scan, vma_flags_reflect_each_vma)
{
	uint64_t soft_dirty = have(PTMARK_FEAT_SOFT_DIRTY) ?
			      PTMARK_VMA_SOFTDIRTY : 0;
	char why[PTMARK_WHY_LEN];
	size_t i, checked = 0;

	for (i = 0; i < ARRAY_SIZE(vma_cases); i++) {
		const struct vma_case *c = &vma_cases[i];
		int file = -1, uffd = -1, ret;
		struct ptmark_record rec;
		void *p;

		if (c->ext4) {
			if (!ptmark_ext4_dir(why, sizeof(why))) {
				TH_LOG("%s: %s", c->name, why);
				continue;
			}
			file = ptmark_ext4_tmpfile(0);
			ASSERT_LE(0, file) TH_LOG("%s", c->name);
		} else if (c->memfd) {
			file = memfd_create("ptmark-vma", MFD_CLOEXEC);
			ASSERT_LE(0, file);
		}
		if (file >= 0)
			ASSERT_EQ(0, ftruncate(file, env.page));
		p = mmap(NULL, env.page, c->prot,
			 c->flags | (file < 0 ? MAP_ANONYMOUS : 0), file, 0);
		ASSERT_NE(MAP_FAILED, p) TH_LOG("%s", c->name);
		ret = vma_setup(p, c->setup, &uffd);
		if (ret == -ENOTSUP) {
			TH_LOG("%s: not supported here", c->name);
		} else {
			ASSERT_EQ(0, ret) TH_LOG("%s: %s", c->name,
						 strerror(-ret));
			ASSERT_EQ(0, scan_errno(0, (uintptr_t)p, env.page,
						&rec, 1));
			EXPECT_EQ(c->want | soft_dirty, rec.vma_flags)
				TH_LOG("%s", c->name);
			checked++;
		}
		munmap(p, env.page);
		if (uffd >= 0)
			close(uffd);
		if (file >= 0)
			close(file);
	}
	EXPECT_LE(10, checked);
}

/* ---- other processes ------------------------------------------------------ */

/*
 * A forked child: page 0 written before the fork (shared by both, so
 * exclusive in neither), page 1 written and page 2 read by the child
 * only, page 3 untouched.  The scan through the child's pidfd agrees
 * with its pagemap; ours still shows page 1 empty.
 */
TEST_F(scan, pidfd_scans_another_process)
{
	struct ptmark_record *recs;
	int ready[2], done[2], pidfd, pagemap;
	char path[64], c;
	pid_t pid;
	char *p = map_small_pages(_metadata, 4);

	write_page(p, 0);
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(done));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		/* Only the parent's end: EOF if it dies before saying done. */
		close(done[1]);
		write_page(p, 1);
		read_page(p, 2);
		if (write(ready[1], "r", 1) != 1)
			_exit(1);
		_exit(read(done[0], &c, 1) == 1 ? 0 : 1);
	}
	close(done[0]);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	pidfd = pidfd_of(pid);
	ASSERT_LE(0, pidfd);
	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid);
	pagemap = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, pagemap);

	recs = scan_vs_pagemap(_metadata, pidfd, pagemap, p, 4);
	expect_pages(_metadata, recs, 0, 1, &(struct page_state){
		"page shared with the parent", PTMARK_KIND_PRESENT, 0,
		PTMARK_BIT_ANON, PTMARK_BIT_EXCLUSIVE | PTMARK_BIT_WRITE |
		PTMARK_BIT_FILE | NOT_PLAIN });
	expect_pages(_metadata, recs, 1, 1, &anon_written);
	expect_pages(_metadata, recs, 2, 1, &zero_page);
	expect_pages(_metadata, recs, 3, 1, &no_entry);
	free(recs);

	recs = scan_self(_metadata, p, 4);
	EXPECT_EQ(PTMARK_KIND_PRESENT, recs[0].kind);
	EXPECT_FALSE(recs[0].bits & PTMARK_BIT_EXCLUSIVE);
	expect_pages(_metadata, recs, 1, 3, &no_entry);
	free(recs);

	ASSERT_EQ(1, write(done[1], "d", 1));
	ASSERT_EQ(pid, waitpid(pid, NULL, 0));
	close(pagemap);
	close(pidfd);
}

/* Scan errnos as a process that keeps env.fd reports them back. */
struct access_report {
	int self_plain;		/* no pidfd */
	int self_pidfd;		/* its own pidfd */
	int other;		/* another process's pidfd */
};

/*
 * After dropping from root to nobody, a process with the device still
 * open may scan itself, by pidfd too, but not another process: that needs
 * CAP_SYS_PTRACE, which the switch of uids took away.
 */
TEST_F(scan, pidfd_of_another_process_needs_ptrace_cap)
{
	struct access_report *rep;
	struct ptmark_record rec;
	struct ptmark_scan s;
	int ready[2], status, pidfd;
	pid_t target, checker;
	char *p = map_small_pages(_metadata, 1);
	char c;

	if (geteuid() != 0)
		SKIP(return, "needs root to drop to another user");
	rep = mmap(NULL, sizeof(*rep), PROT_READ | PROT_WRITE,
		   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, rep);
	ASSERT_EQ(0, pipe(ready));
	target = fork();
	ASSERT_LE(0, target);
	if (!target) {
		close(ready[1]);
		_exit(read(ready[0], &c, 1) < 0);
	}
	close(ready[0]);
	pidfd = pidfd_of(target);
	ASSERT_LE(0, pidfd);

	/* Root may. */
	s = scan_req(PTMARK_SCAN_PIDFD, pidfd, (uintptr_t)p, env.page, &rec, 1);
	EXPECT_EQ(0, do_scan(&s));
	EXPECT_EQ(PTMARK_KIND_NONE, rec.kind);

	checker = fork();
	ASSERT_LE(0, checker);
	if (!checker) {
		int self;

		if (become_nobody())
			_exit(2);
		self = pidfd_of(getpid());
		rep->self_plain = scan_errno(0, (uintptr_t)p, env.page, &rec, 1);
		s = scan_req(PTMARK_SCAN_PIDFD, self, (uintptr_t)p, env.page,
			     &rec, 1);
		rep->self_pidfd = -do_scan(&s);
		s = scan_req(PTMARK_SCAN_PIDFD, pidfd, (uintptr_t)p, env.page,
			     &rec, 1);
		rep->other = -do_scan(&s);
		_exit(0);
	}
	ASSERT_EQ(checker, waitpid(checker, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, rep->self_plain);
	EXPECT_EQ(0, rep->self_pidfd);
	EXPECT_EQ(EACCES, rep->other);

	close(ready[1]);
	ASSERT_EQ(target, waitpid(target, NULL, 0));
	close(pidfd);
}

/* A process that has exited has no memory to scan: zombie or reaped. */
TEST_F(scan, pidfd_of_exited_process_is_esrch)
{
	struct ptmark_record rec;
	char *p = map_small_pages(_metadata, 1);
	struct ptmark_scan s;
	pid_t pid;
	int pidfd = pidfd_of_zombie(&pid);

	ASSERT_LE(0, pidfd);

	s = scan_req(PTMARK_SCAN_PIDFD, pidfd, (uintptr_t)p, env.page, &rec, 1);
	EXPECT_EQ(-ESRCH, do_scan(&s));
	ASSERT_EQ(pid, waitpid(pid, NULL, 0));
	s = scan_req(PTMARK_SCAN_PIDFD, pidfd, (uintptr_t)p, env.page, &rec, 1);
	EXPECT_EQ(-ESRCH, do_scan(&s));
	close(pidfd);
}

/* Only a pidfd names a process: anything else is EBADF. */
TEST_F(scan, pidfd_that_is_no_pidfd_is_ebadf)
{
	struct ptmark_record rec;
	char *p = map_small_pages(_metadata, 1);
	int efd = eventfd(0, EFD_CLOEXEC);
	int dir = open("/proc/self", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int closed = dup(efd);
	const struct {
		const char *what;
		int fd;
	} cases[] = {
		{ "eventfd", efd },
		{ "/proc/self directory", dir },
		{ "pagemap", env.pagemap },
		{ "/dev/ptmark", env.fd },
		{ "closed fd", closed },
		{ "-1", -1 },
		{ "INT_MIN", -2147483647 - 1 },
	};
	size_t i;

	ASSERT_LE(0, efd);
	ASSERT_LE(0, dir);
	ASSERT_LE(0, closed);
	close(closed);
	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		struct ptmark_scan s = scan_req(PTMARK_SCAN_PIDFD, cases[i].fd,
						(uintptr_t)p, env.page, &rec, 1);

		EXPECT_EQ(-EBADF, do_scan(&s)) TH_LOG("%s", cases[i].what);
	}
	close(dir);
	close(efd);
}

/* Drop CAP_SYS_ADMIN (effective and permitted) from this process. */
/*
 * Pfns are for an opener with CAP_SYS_ADMIN only.  A child that drops it
 * still sees them through the device fd it opened before, and through one
 * opened after the drop sees every page as before but with pfn 0 - as its
 * own pagemap, opened after the drop, shows them too.
 */
TEST_F(scan, pfn_hidden_without_cap_sys_admin)
{
	char *p = map_small_pages(_metadata, 3);
	int status;
	pid_t pid;

	if (geteuid() != 0)
		SKIP(return, "needs CAP_SYS_ADMIN to begin with");
	write_page(p, 0);
	read_page(p, 1);

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct ptmark_record *with, *without;
		size_t i;

		/* Our pagemap, not the parent's; it decides about pfns at open(). */
		close(env.pagemap);
		env.pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
		with = scan_self(_metadata, p, 3);
		EXPECT_NE(0, with[0].pfn);
		EXPECT_NE(0, with[1].pfn);

		ASSERT_EQ(0, drop_capability(CAP_SYS_ADMIN));
		free(with);
		with = scan_self(_metadata, p, 3);
		EXPECT_NE(0, with[0].pfn) TH_LOG("an fd opened before the drop");
		close(env.pagemap);
		env.pagemap = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
		close(env.fd);
		env.fd = open(PTMARK_DEVICE, O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, env.fd);
		without = scan_self(_metadata, p, 3);
		for (i = 0; i < 3; i++) {
			EXPECT_EQ(0, without[i].pfn);
			EXPECT_EQ(with[i].kind, without[i].kind);
			EXPECT_EQ(with[i].bits, without[i].bits);
		}
		_exit(_metadata->exit_code == KSFT_PASS ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/* ---- debugfs ---------------------------------------------------------------- */

static const char * const kind_names[PTMARK_KIND_COUNT] = {
	"unmapped", "none", "present", "swap", "migration", "device-private",
	"device-exclusive", "hwpoison", "marker", "raw",
};

static int write_target(const char *text)
{
	return write_text_file(PTMARK_DEBUGFS "/target", text);
}

/* The rest of the line after @prefix at the start of a line, or NULL. */
static const char *line_after(const char *text, const char *prefix)
{
	size_t len = strlen(prefix);
	const char *line;

	for (line = text; line && *line; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (!strncmp(line, prefix, len))
			return line + len;
	}
	return NULL;
}

/*
 * Point debugfs at our @nr pages from @p and check the dumps: "target"
 * reads back what was written, "map" shows the pages as @want_map (one
 * character a page), and "ptes" has a line for every run of a merged
 * scan, naming its range, pages and kind.  Returns the ptes text (free()).
 */
static char *check_debugfs_dumps(struct __test_metadata *_metadata,
				 const char *p, size_t nr,
				 const char *want_map)
{
	unsigned long start = (uintptr_t)p, end = start + nr * env.page;
	char target[64], prefix[64], *text;
	struct scan_result res;
	const char *rest;
	size_t i;

	snprintf(target, sizeof(target), "%d %lx-%lx", getpid(), start, end);
	ASSERT_EQ(0, write_target(target));
	text = read_text_file(PTMARK_DEBUGFS "/target");
	ASSERT_NE(NULL, text);
	strcat(target, "\n");
	EXPECT_STREQ(target, text);
	free(text);

	text = read_text_file(PTMARK_DEBUGFS "/map");
	ASSERT_NE(NULL, text) TH_LOG("map: %s", strerror(errno));
	snprintf(prefix, sizeof(prefix), "%016lx ", start);
	rest = line_after(text, prefix);
	ASSERT_NE(NULL, rest) TH_LOG("no map line for %s in:\n%s", prefix, text);
	EXPECT_EQ(0, strncmp(rest, want_map, strlen(want_map)));
	EXPECT_EQ('\n', rest[strlen(want_map)])
		TH_LOG("map line %.*s, want %s", (int)strcspn(rest, "\n"), rest,
		       want_map);
	free(text);

	text = read_text_file(PTMARK_DEBUGFS "/ptes");
	ASSERT_NE(NULL, text) TH_LOG("ptes: %s", strerror(errno));
	scan_merged(_metadata, &res, p, nr);
	for (i = 0; i < res.nr; i++) {
		const struct ptmark_record *r = &res.recs[i];

		snprintf(prefix, sizeof(prefix), "%016llx-%016llx %llu %s",
			 (unsigned long long)r->start,
			 (unsigned long long)(r->start + r->nr_pages * env.page),
			 (unsigned long long)r->nr_pages, kind_names[r->kind]);
		EXPECT_NE(NULL, line_after(text, prefix))
			TH_LOG("no ptes line %s in:\n%s", prefix, text);
	}
	free(res.recs);
	return text;
}

/* Written pages, an empty one and a zeropage, as the dumps show them. */
TEST_F(scan, debugfs_dumps_match_scan)
{
	char *p = map_small_pages(_metadata, 4);
	char *ptes;

	write_page(p, 0);
	write_page(p, 1);
	read_page(p, 3);
	ptes = check_debugfs_dumps(_metadata, p, 4, "AA.Z");
	EXPECT_NE(NULL, strstr(ptes, " present write,dirty,"));
	EXPECT_NE(NULL, strstr(ptes, " none\n"));
	EXPECT_NE(NULL, strstr(ptes, "zeropage"));
	EXPECT_NE(NULL, strstr(ptes, "vma "));
	free(ptes);
}

/* Two written pages then two guards: "AAGG", and a "marker guard" run. */
CASE_NEEDS(scan, debugfs_dumps_show_guards, NEEDS_GUARD, 0)
TEST_F(scan, debugfs_dumps_show_guards)
{
	char *p, *ptes, prefix[64];

	if (!have(PTMARK_FEAT_GUARD))
		SKIP(return, "kernel without MADV_GUARD_INSTALL");
	p = map_small_pages(_metadata, 4);
	write_page(p, 0);
	write_page(p, 1);
	ASSERT_EQ(0, madvise(page_addr(p, 2), 2 * env.page,
			     MADV_GUARD_INSTALL));
	ptes = check_debugfs_dumps(_metadata, p, 4, "AAGG");
	snprintf(prefix, sizeof(prefix), "%016lx-%016lx 2 marker guard\n",
		 (unsigned long)(uintptr_t)page_addr(p, 2),
		 (unsigned long)(uintptr_t)page_addr(p, 4));
	EXPECT_NE(NULL, strstr(ptes, prefix)) TH_LOG("no %s in:\n%s", prefix, ptes);
	free(ptes);
}

/* Read a debugfs dump in full; NULL on failure.  *ms gets how long it took. */
static char *read_dump(const char *name, double *ms)
{
	char path[64];
	double t0 = monotonic_ms();
	char *text;

	snprintf(path, sizeof(path), PTMARK_DEBUGFS "/%s", name);
	text = read_text_file(path);
	*ms = monotonic_ms() - t0;
	return text;
}

#define TIB		(1UL << 40)
#define DUMP_MAX_MS	5000.0

/*
 * A 1 TiB PROT_NONE reservation is 2^28 pages: "map" would be a quarter
 * of a gigabyte of characters.  Dumps stop at their documented page
 * limit, in bounded time, and say where - for an explicit range and for
 * the default one, the whole address space.
 */
TEST_F_TIMEOUT(scan, debugfs_huge_reservation_is_bounded, 120)
{
	static const char * const dumps[] = { "map", "ptes" };
	char target[64], *p, *text, *head;
	unsigned int i, whole;
	double ms;

	p = mmap(NULL, TIB, PROT_NONE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	for (whole = 0; whole < 2; whole++) {
		if (whole)
			snprintf(target, sizeof(target), "%d", getpid());
		else
			snprintf(target, sizeof(target), "%d %lx-%lx", getpid(),
				 (unsigned long)(uintptr_t)p,
				 (unsigned long)(uintptr_t)p + TIB);
		ASSERT_EQ(0, write_target(target));
		for (i = 0; i < ARRAY_SIZE(dumps); i++) {
			text = read_dump(dumps[i], &ms);
			ASSERT_NE(NULL, text)
				TH_LOG("%s of %s: %s", dumps[i], target,
				       strerror(errno));
			TH_LOG("%s of %s: %zu bytes in %.0f ms", dumps[i],
			       target, strlen(text), ms);
			EXPECT_GT(DUMP_MAX_MS, ms);
			head = strchr(text, '\n');
			ASSERT_NE(NULL, head);
			*head = '\0';
			EXPECT_NE(NULL, strstr(text, " limit 1048576 pages "))
				TH_LOG("header: %s", text);
			EXPECT_NE(NULL, strstr(head + 1, "\n# truncated at "));
			EXPECT_GT(8UL << 20, strlen(head + 1));
			free(text);
		}
	}
	munmap(p, TIB);
}

/* The vma line's pgoff=, for the VMA starting at @p in a ptes dump. */
static char *ptes_pgoff(const char *ptes, const void *p)
{
	char prefix[64];
	const char *rest;

	snprintf(prefix, sizeof(prefix), "vma %016lx-",
		 (unsigned long)(uintptr_t)p);
	rest = line_after(ptes, prefix);
	rest = rest ? strstr(rest, " pgoff=") : NULL;
	return rest ? strndup(rest + 7, strcspn(rest + 7, " \n")) : NULL;
}

/*
 * The pgoff of a COW pfnmap is the pfn behind it: vma lines show pgoff
 * only to a reader who opened the dump with CAP_SYS_ADMIN, like pfns.
 */
TEST_F(scan, debugfs_pgoff_needs_cap_sys_admin)
{
	char target[32], *p, *ptes, *pgoff;
	int status;
	pid_t pid;
	double ms;

	if (geteuid() != 0)
		SKIP(return, "needs CAP_SYS_ADMIN to begin with");
	p = mmap(NULL, env.page, PROT_READ | PROT_WRITE, MAP_PRIVATE, env.fd,
		 0);
	ASSERT_NE(MAP_FAILED, p);
	snprintf(target, sizeof(target), "%d", getpid());
	ASSERT_EQ(0, write_target(target));
	ptes = read_dump("ptes", &ms);
	ASSERT_NE(NULL, ptes);
	pgoff = ptes_pgoff(ptes, p);
	ASSERT_NE(NULL, pgoff) TH_LOG("no vma line for %p in:\n%s", p, ptes);
	EXPECT_STRNE("-", pgoff);
	EXPECT_NE(0, strtoul(pgoff, NULL, 16)) TH_LOG("pgoff=%s", pgoff);
	free(pgoff);
	free(ptes);

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		ASSERT_EQ(0, drop_capability(CAP_SYS_ADMIN));
		ptes = read_dump("ptes", &ms);
		ASSERT_NE(NULL, ptes);
		pgoff = ptes_pgoff(ptes, p);
		ASSERT_NE(NULL, pgoff);
		EXPECT_STREQ("-", pgoff) TH_LOG("module: pgoff shown without CAP_SYS_ADMIN");
		EXPECT_EQ(NULL, strstr(ptes, " pfn="));
		_exit(_metadata->exit_code == KSFT_PASS ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	munmap(p, env.page);
}

/* Malformed targets are refused and leave the last good one in place. */
TEST_F(scan, debugfs_bad_target_is_einval)
{
	static const char * const bad[] = {
		"abc", "0", "-1", "1 1000", "1 2000-1000", "1 1000-1000",
		"1 1001-2000", "1 1000-2001", "1 x-2000", "1 1000-y",
		"1 1000-2000-3000", "1x",
		"1 1000-2000 and then far more than a target line could ever hold, so E",
	};
	char good[32], *text;
	size_t i;
	pid_t pid;

	snprintf(good, sizeof(good), "%d 1000-3000", getpid());
	ASSERT_EQ(0, write_target(good));
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		EXPECT_EQ(-EINVAL, write_target(bad[i])) TH_LOG("\"%s\"", bad[i]);
	}
	text = read_text_file(PTMARK_DEBUGFS "/target");
	ASSERT_NE(NULL, text);
	strcat(good, "\n");
	EXPECT_STREQ(good, text);
	free(text);

	/* A target that has gone: the dumps cannot open. */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(0);
	ASSERT_EQ(pid, waitpid(pid, NULL, 0));
	snprintf(good, sizeof(good), "%d", pid);
	ASSERT_EQ(0, write_target(good));
	errno = 0;
	EXPECT_EQ(NULL, read_text_file(PTMARK_DEBUGFS "/ptes"));
	EXPECT_EQ(ESRCH, errno);
}

/* ---- scanning while the mm changes ------------------------------------------- */

#define RACE_CHUNKS	4
#define RACE_SECONDS	2

struct race {
	char *window;			/* RACE_CHUNKS PMD-sized chunks */
	size_t len;
	atomic_bool stop;		/* set by the mutator when time is up */
	atomic_bool failed;		/* set by the scanner as it gives up */
	unsigned long scans, mutations;
	int error;			/* -errno of a failed scan */
	char why[256];			/* first bad answer */
};

/*
 * Scan the window again and again, merged through a 7-record buffer and
 * dense through a bigger one, checking that every answer tiles it; stop
 * at the first failure, leaving it in r->error or r->why.
 */
static void race_scan_loop(struct race *r)
{
	static struct ptmark_record recs[512];
	uint64_t start = (uintptr_t)r->window, end = start + r->len;

	while (!atomic_load(&r->stop)) {
		uint32_t flags = r->scans % 2 ? PTMARK_SCAN_DENSE : 0;
		uint32_t room = flags ? 512 : 7;
		uint64_t cursor = start;

		while (cursor < end) {
			struct ptmark_scan s = scan_req(flags, -1, cursor,
							end - cursor, recs,
							room);
			int ret = do_scan(&s);

			if (ret) {
				r->error = ret;
				return;
			}
			if (!s.nr_records || s.nr_records > room) {
				snprintf(r->why, sizeof(r->why),
					 "%u records for room of %u",
					 s.nr_records, room);
				return;
			}
			if (!records_tile(recs, s.nr_records, &cursor, end,
					  r->why, sizeof(r->why)))
				return;
			if (s.next != cursor) {
				snprintf(r->why, sizeof(r->why),
					 ".next %#llx, records end at %#llx",
					 (unsigned long long)s.next,
					 (unsigned long long)cursor);
				return;
			}
		}
		r->scans++;
	}
}

static void *race_scanner(void *arg)
{
	struct race *r = arg;

	race_scan_loop(r);
	if (r->error || r->why[0])
		atomic_store(&r->failed, true);
	return NULL;
}

/*
 * One random change to the window; failures are part of the game.  The
 * slow changes (a THP fault, a collapse, a fork) come one time in 16
 * each, so that many cheap ones run in between.
 */
static void race_mutate(struct race *r, unsigned int *seed)
{
	size_t chunk = env.pmd, pages = chunk / env.page;
	char *c = r->window + (rand_r(seed) % RACE_CHUNKS) * chunk;
	char *d = r->window + (rand_r(seed) % RACE_CHUNKS) * chunk;
	char *pg = c + (rand_r(seed) % pages) * env.page;
	size_t i, n = 1 + rand_r(seed) % 32;
	pid_t pid;

	if (pg + n * env.page > c + chunk)
		n = (c + chunk - pg) / env.page;
	switch (rand_r(seed) % 16) {
	case 0:
		if (mmap(c, chunk, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
		    MAP_FAILED)
			break;
		madvise(c, chunk, MADV_HUGEPAGE);
		for (i = 0; i < pages; i += 1 + rand_r(seed) % 16)
			c[i * env.page] = 1;
		break;
	case 1:
		madvise(c, chunk, MADV_COLLAPSE);
		break;
	case 2:
		pid = fork();
		if (!pid)
			_exit(0);
		if (pid > 0)
			waitpid(pid, NULL, 0);
		break;
	case 3 ... 4:
		munmap(pg, n * env.page);
		break;
	case 5:
		if (c != d)
			mremap(c, chunk, chunk, MREMAP_MAYMOVE | MREMAP_FIXED,
			       d);
		break;
	case 6 ... 8:
		madvise(pg, n * env.page, MADV_DONTNEED);
		break;
	case 9 ... 10:
		mprotect(pg, n * env.page, rand_r(seed) % 2 ? PROT_READ :
			 PROT_READ | PROT_WRITE);
		break;
	case 11 ... 12:
		madvise(pg, n * env.page, rand_r(seed) % 2 ?
			MADV_GUARD_INSTALL : MADV_GUARD_REMOVE);
		break;
	default:
		/* Fault pages in where they are mapped and writable. */
		mprotect(pg, n * env.page, PROT_READ | PROT_WRITE);
		for (i = 0; i < n; i++)
			madvise(page_addr(pg, i), env.page,
				MADV_POPULATE_WRITE);
		break;
	}
	r->mutations++;
}

/*
 * One thread scans a window in a loop while this one maps, unmaps,
 * mremaps, forks, zaps, collapses, mprotects and guards inside it for
 * RACE_SECONDS: every scan must succeed and tile the window exactly.
 */
TEST_F_TIMEOUT(scan, scan_races_with_mm_changes, 60)
{
	struct race r = { .len = RACE_CHUNKS * env.pmd };
	long long retries = ptmark_stat("walk_retries");
	unsigned int seed = 1;
	struct timespec t0, t;
	pthread_t scanner;

	r.window = map_pmd_aligned(_metadata, r.len);
	ASSERT_EQ(0, pthread_create(&scanner, NULL, race_scanner, &r));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		race_mutate(&r, &seed);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec < RACE_SECONDS &&
		 !atomic_load(&r.failed));
	atomic_store(&r.stop, true);
	ASSERT_EQ(0, pthread_join(scanner, NULL));
	munmap(r.window, r.len);

	EXPECT_EQ(0, r.error) TH_LOG("scan failed: %s", strerror(-r.error));
	EXPECT_STREQ("", r.why);
	EXPECT_LT(0, r.scans);
	EXPECT_LT(0, r.mutations);
	TH_LOG("%lu complete scans during %lu changes, %lld walk retries",
	       r.scans, r.mutations, ptmark_stat("walk_retries") - retries);
}

/* ---- shared hugetlb PMD tables ------------------------------------------ */

#define PUD_BYTES	(1UL << 30)
#define UNSHARE_SECONDS	3

struct unshare_race {
	char *map;		/* the 1 GiB mapping, PUD aligned */
	atomic_bool stop;
};

/* Keep the first huge page faulted in, so that its PMD table is shared. */
static void *unshare_toucher(void *arg)
{
	struct unshare_race *r = arg;

	while (!atomic_load(&r->stop))
		madvise(r->map, env.pmd, MADV_POPULATE_WRITE);
	return NULL;
}

/*
 * The other sharer: map the file at the same PUD-aligned address, fault
 * the page in (sharing our PMD table or giving us its own), punch it out
 * (which unshares the table from one of the two mms) and unmap, which
 * frees the table if we were the one unshared.
 */
static void unshare_child(char *map, int fd)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		if (mmap(map, PUD_BYTES, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED | MAP_NORESERVE, fd, 0) != map)
			_exit(2);
		madvise(map, env.pmd, MADV_POPULATE_WRITE);
		fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
			  env.pmd);
		munmap(map, PUD_BYTES);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec < UNSHARE_SECONDS);
	_exit(0);
}

/*
 * Whether the kernel really shares the PMD table of @map (1 GiB, PUD
 * aligned, its first huge page faulted in) with another mm: a child maps
 * the file at the same address and faults the first page, which makes it
 * use our table (huge_pmd_share()); we then fault the second page, and
 * the child must see it present without touching it.  1 shared, 0 not,
 * -1 when there is no second huge page to try with.
 */
static int pmd_table_shared(char *map, int fd)
{
	int go[2], ready[2], status, ret;
	uint64_t pme = 0;
	char c = 0;
	pid_t pid;

	if (pipe(go))
		return -1;
	if (pipe(ready)) {
		close(go[0]);
		close(go[1]);
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		close(go[0]);
		close(go[1]);
		close(ready[0]);
		close(ready[1]);
		return -1;
	}
	if (pid == 0) {
		if (mmap(map, PUD_BYTES, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED | MAP_NORESERVE, fd, 0) != map ||
		    madvise(map, env.pmd, MADV_POPULATE_WRITE))
			_exit(2);
		if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(2);
		if (pagemap_read(map + env.pmd, 1, &pme))
			_exit(2);
		_exit(c == 1 && (pme & PM_PRESENT) ? 0 : 1);
	}
	close(go[0]);
	close(ready[1]);
	if (read(ready[0], &c, 1) == 1)
		c = madvise(map + env.pmd, env.pmd, MADV_POPULATE_WRITE) ? 2 : 1;
	if (write(go[1], &c, 1) != 1)
		c = 0;
	close(go[1]);
	close(ready[0]);
	ret = waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	      WEXITSTATUS(status) <= 1 ? !WEXITSTATUS(status) : -1;
	if (c == 2)
		ret = -1;
	fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, env.pmd,
		  env.pmd);
	return ret;
}

/*
 * Scan a 1 GiB shared hugetlb mapping whose PMD table another process
 * shares, while that process keeps unsharing it (hole punch) and freeing
 * it (munmap).  The walker holds the file's i_mmap_rwsem for read, as
 * huge_pmd_unshare() needs it for write: without that it can read a freed
 * table (KASAN reports the use after free; the VM verdict fails the run).
 * Every scan must succeed and give sane records.
 */
TEST_F_TIMEOUT(scan, hugetlb_scan_races_pmd_unshare, 60)
{
	struct unshare_race r = { 0 };
	struct ptmark_record recs[16];
	unsigned long scans = 0;
	const char *why = NULL;
	struct timespec t0, t;
	pthread_t toucher;
	int fd, status, shared;
	char *reserve;
	unsigned int i;
	pid_t pid;

	if (!have(PTMARK_FEAT_HUGETLB))
		SKIP(return, "no hugetlb support");
	fd = memfd_create("ptmark-unshare", MFD_HUGETLB | MFD_CLOEXEC);
	if (fd < 0)
		SKIP(return, "no MFD_HUGETLB memfd: %s", strerror(errno));
	ASSERT_EQ(0, ftruncate(fd, PUD_BYTES));
	reserve = mmap_aligned(PUD_BYTES, PUD_BYTES, PROT_NONE);
	ASSERT_NE(MAP_FAILED, reserve);
	r.map = mmap(reserve, PUD_BYTES, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_FIXED | MAP_NORESERVE, fd, 0);
	ASSERT_EQ(reserve, r.map);
	if (madvise(r.map, env.pmd, MADV_POPULATE_WRITE))
		SKIP(return, "no free huge page: %s", strerror(errno));
	/* The race below can only fail where the table is really shared. */
	shared = pmd_table_shared(r.map, fd);
	if (shared < 0)
		SKIP(return, "two free huge pages needed to see PMD sharing");
	ASSERT_EQ(1, shared)
		TH_LOG("a page we faulted is not present in the other mm: PMD table not shared (no CONFIG_HUGETLB_PMD_PAGE_TABLE_SHARING?)");

	/*
	 * Make the walk sleep between PMD entries, so that an unshare and a
	 * free can land between two reads of the table: that is where a
	 * walk without the lock reads freed memory.
	 */
	ASSERT_EQ(0, write_text_file(WALK_DELAY, "50000"));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		unshare_child(r.map, fd);
	ASSERT_EQ(0, pthread_create(&toucher, NULL, unshare_toucher, &r));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		struct ptmark_scan s = scan_req(0, -1, (uintptr_t)r.map,
						PUD_BYTES, recs,
						ARRAY_SIZE(recs));

		ASSERT_EQ(0, do_scan(&s));
		for (i = 0; i < s.nr_records && !why; i++) {
			why = record_problem(&recs[i]);
			if (!why && recs[i].kind != PTMARK_KIND_NONE &&
			    recs[i].kind != PTMARK_KIND_PRESENT)
				why = "neither none nor present";
		}
		ASSERT_EQ(NULL, why) TH_LOG("record %u: %s", i - 1, why);
		scans++;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec < UNSHARE_SECONDS + 1);
	write_text_file(WALK_DELAY, "0");
	atomic_store(&r.stop, true);
	ASSERT_EQ(0, pthread_join(toucher, NULL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	TH_LOG("%lu scans", scans);
	munmap(r.map, PUD_BYTES);
	close(fd);
}

/* ---- the whole address space ------------------------------------------------- */

#define MAX_VMAS	1024

struct vma_list {
	size_t nr;
	uint64_t start[MAX_VMAS], end[MAX_VMAS];
};

/* Our VMAs from /proc/self/maps, in address order; false on failure. */
static bool read_own_vmas(struct vma_list *v)
{
	char *text = read_text_file("/proc/self/maps"), *line;
	unsigned long s, e;

	v->nr = 0;
	for (line = text; line && *line && v->nr < MAX_VMAS;
	     line = strchr(line, '\n') + 1) {
		if (sscanf(line, "%lx-%lx", &s, &e) == 2) {
			v->start[v->nr] = s;
			v->end[v->nr++] = e;
		}
		if (!strchr(line, '\n'))
			break;
	}
	free(text);
	return v->nr > 0 && v->nr < MAX_VMAS;
}

/*
 * Does @r agree with the VMAs: a VMA's run inside that one VMA, a gap's
 * run exactly the space between two VMAs (clipped to [lo, hi))?
 */
static bool record_fits_vmas(const struct ptmark_record *r,
			     const struct vma_list *v, uint64_t lo,
			     uint64_t hi)
{
	uint64_t s = r->start, e = s + r->nr_pages * env.page;
	uint64_t gap_start = lo, gap_end = hi;
	size_t i;

	for (i = 0; i < v->nr; i++) {
		if (s >= v->start[i] && s < v->end[i])
			return r->kind != PTMARK_KIND_UNMAPPED &&
			       e <= v->end[i];
		if (v->end[i] <= s && v->end[i] > gap_start)
			gap_start = v->end[i];
		if (v->start[i] > s && v->start[i] < gap_end)
			gap_end = v->start[i];
	}
	return r->kind == PTMARK_KIND_UNMAPPED && s == gap_start &&
	       e == gap_end;
}

/* Touch the stack deep down now, so it does not grow during the scan. */
static void __attribute__((noinline)) grow_stack(void)
{
	volatile char deep[256 << 10];

	memset((char *)deep, 0, sizeof(deep));
}

/* The record among @nr covering @addr, or NULL. */
static const struct ptmark_record *record_at(const struct ptmark_record *recs,
					     size_t nr, const void *addr)
{
	uint64_t a = (uintptr_t)addr;
	size_t i;

	for (i = 0; i < nr; i++)
		if (a >= recs[i].start &&
		    a < recs[i].start + recs[i].nr_pages * env.page)
			return &recs[i];
	return NULL;
}

/*
 * Scan all of [mmap_min_addr, top of user space) of ourselves through a
 * 16-record buffer: it must end, tile the range, agree with
 * /proc/self/maps on every VMA and gap, and find what the test mapped.
 */
TEST_F_TIMEOUT(scan, whole_user_address_space, 300)
{
	static struct ptmark_record recs[16];
	static struct vma_list vmas;
	enum { PROBE_EMPTY, PROBE_WRITTEN, PROBE_HOLE, PROBE_STACK, PROBES };
	const struct ptmark_record *seen[PROBES] = { NULL };
	struct ptmark_record found[PROBES];
	const void *probe[PROBES];
	uint64_t lo, cursor, calls = 0, records = 0;
	uint64_t end = ptmark_user_space_end();
	char why[256] = "", *min_addr, *p, *q;
	int on_stack = 1;
	size_t i;

	min_addr = read_text_file("/proc/sys/vm/mmap_min_addr");
	lo = min_addr ? strtoull(min_addr, NULL, 10) : 0;
	free(min_addr);
	if (lo < 0x10000)
		lo = 0x10000;
	lo = (lo + env.page - 1) & ~(uint64_t)(env.page - 1);

	p = map_small_pages(_metadata, 3);
	write_page(p, 1);
	q = map_small_pages(_metadata, 3);
	ASSERT_EQ(0, munmap(page_addr(q, 1), env.page));
	probe[PROBE_EMPTY] = p;
	probe[PROBE_WRITTEN] = page_addr(p, 1);
	probe[PROBE_HOLE] = page_addr(q, 1);
	probe[PROBE_STACK] = &on_stack;
	grow_stack();
	ASSERT_TRUE(read_own_vmas(&vmas));

	for (cursor = lo; cursor < end; calls++) {
		struct ptmark_scan s = scan_req(0, -1, cursor,
						end - cursor, recs,
						16);

		ASSERT_LT(calls, 1000000) TH_LOG("no end in sight at %#llx",
						 (unsigned long long)cursor);
		ASSERT_EQ(0, do_scan(&s));
		ASSERT_LE(1, s.nr_records);
		ASSERT_GE(16, s.nr_records);
		ASSERT_TRUE(records_tile(recs, s.nr_records, &cursor,
					 end, why, sizeof(why)))
			TH_LOG("%s", why);
		ASSERT_EQ(cursor, s.next);
		for (i = 0; i < s.nr_records; i++) {
			EXPECT_TRUE(record_fits_vmas(&recs[i], &vmas, lo,
						     end))
				TH_LOG("run %#llx+%llu kind %u vs /proc/self/maps",
				       (unsigned long long)recs[i].start,
				       (unsigned long long)recs[i].nr_pages,
				       recs[i].kind);
		}
		for (i = 0; i < PROBES; i++) {
			const struct ptmark_record *r =
				record_at(recs, s.nr_records, probe[i]);

			if (r) {
				found[i] = *r;
				seen[i] = &found[i];
			}
		}
		records += s.nr_records;
	}
	ASSERT_EQ(end, cursor);
	TH_LOG("%llu runs from %llu calls", (unsigned long long)records,
	       (unsigned long long)calls);

	for (i = 0; i < PROBES; i++) {
		ASSERT_NE(NULL, seen[i]) TH_LOG("probe %zu not seen", i);
	}
	EXPECT_EQ(PTMARK_KIND_NONE, found[PROBE_EMPTY].kind);
	EXPECT_EQ(PTMARK_KIND_PRESENT, found[PROBE_WRITTEN].kind);
	EXPECT_TRUE(found[PROBE_WRITTEN].bits & PTMARK_BIT_ANON);
	EXPECT_EQ((uintptr_t)probe[PROBE_WRITTEN], found[PROBE_WRITTEN].start);
	EXPECT_EQ(1, found[PROBE_WRITTEN].nr_pages);
	EXPECT_EQ(PTMARK_KIND_UNMAPPED, found[PROBE_HOLE].kind);
	EXPECT_EQ((uintptr_t)probe[PROBE_HOLE], found[PROBE_HOLE].start);
	EXPECT_EQ(1, found[PROBE_HOLE].nr_pages);
	EXPECT_EQ(PTMARK_KIND_PRESENT, found[PROBE_STACK].kind);
}

/*
 * A scan holds the target's mmap lock for read.  However long it takes, a
 * writer of the address space (mmap(), munmap()) must get the lock within
 * a bound: the walk lets it go between pieces of 8 PMDs when someone
 * waits (a reader may take it back before a woken writer runs; the
 * rwsem's handoff ends that after one more piece).  walk_delay_us makes
 * each of 128 populated PMDs cost 20 ms, so that one call takes over two
 * and a half seconds on any machine, and a walk that keeps the lock
 * throughout cannot pass.  A piece holds the lock 160 ms; the bound leaves
 * room for a busy TCG host descheduling the writer.
 */
#define YIELD_PMDS		128
#define YIELD_DELAY_US		"20000"
#define YIELD_BOUND_MS		1000

TEST_F(scan, long_scan_lets_writers_take_the_lock)
{
	size_t nr = YIELD_PMDS * (env.pmd / env.page), i;
	struct lock_waiter writer;
	struct scan_result res;
	double t0, took;
	char *p;
	int ret;

	p = map_pmd_aligned(_metadata, YIELD_PMDS * env.pmd);
	ASSERT_EQ(0, madvise(p, YIELD_PMDS * env.pmd, MADV_NOHUGEPAGE));
	for (i = 0; i < YIELD_PMDS; i++)
		p[i * env.pmd] = 1;
	ASSERT_EQ(0, write_text_file(WALK_DELAY, YIELD_DELAY_US));
	ASSERT_EQ(0, lock_waiter_start(&writer));
	usleep(20000);
	t0 = monotonic_ms();
	ret = scan_all(&res, 0, -1, (uintptr_t)p, nr * env.page, 4096);
	took = monotonic_ms() - t0;
	lock_waiter_stop(&writer);
	write_text_file(WALK_DELAY, "0");
	ASSERT_EQ(0, ret) TH_LOG("scan: %s %s", strerror(-ret), res.why);
	TH_LOG("a scan of %d populated PMDs took %.0f ms in %zu calls; the writer took the lock %lu times, waiting at most %.0f ms",
	       YIELD_PMDS, took, res.calls, writer.takes, writer.worst_ms);
	EXPECT_EQ(2 * YIELD_PMDS, res.nr);
	EXPECT_EQ(1, res.calls);
	/* Only a call longer than the bound can tell. */
	EXPECT_LT(2 * YIELD_BOUND_MS, took);
	EXPECT_LT(writer.worst_ms, YIELD_BOUND_MS);
	EXPECT_LT(5, writer.takes);
	free(res.recs);
	munmap(p, YIELD_PMDS * env.pmd);
}

/*
 * A hugetlb walk holds the file's i_mmap_rwsem, which truncation takes
 * for write.  The walk takes it one huge page at a time: with each huge
 * page slowed to 100 ms (walk_delay_us, its cap), a truncation of the
 * file while a scan of 8 of them runs must be done within TRUNC_BOUND_MS,
 * where a walk holding the rwsem for the whole VMA keeps it 800 ms.
 */
#define TRUNC_PAGES		8
#define TRUNC_BOUND_MS		400

struct slow_scan {
	char *p;
	size_t len;
	int ret;
	double took_ms;
};

static void *scan_slowly(void *arg)
{
	struct slow_scan *sc = arg;
	struct scan_result res;
	double t0 = monotonic_ms();

	sc->ret = scan_all(&res, 0, -1, (uintptr_t)sc->p, sc->len, 4096);
	sc->took_ms = monotonic_ms() - t0;
	free(res.recs);
	return NULL;
}

TEST_F(scan, hugetlb_walk_lets_truncation_in)
{
	struct slow_scan sc = { 0 };
	pthread_t thread;
	double t0, took;
	int fd;

	if (!have(PTMARK_FEAT_HUGETLB))
		SKIP(return, "no hugetlb support");
	fd = memfd_create("ptmark-trunc", MFD_HUGETLB | MFD_CLOEXEC);
	if (fd < 0)
		SKIP(return, "no MFD_HUGETLB memfd: %s", strerror(errno));
	sc.len = TRUNC_PAGES * env.pmd;
	ASSERT_EQ(0, ftruncate(fd, sc.len));
	sc.p = mmap(NULL, sc.len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, sc.p);
	ASSERT_EQ(0, madvise(sc.p, sc.len, MADV_POPULATE_WRITE))
		TH_LOG("%d free huge pages needed: %s", TRUNC_PAGES,
		       strerror(errno));

	ASSERT_EQ(0, write_text_file(WALK_DELAY, "100000"));
	ASSERT_EQ(0, pthread_create(&thread, NULL, scan_slowly, &sc));
	usleep(250000);
	t0 = monotonic_ms();
	ASSERT_EQ(0, ftruncate(fd, 0));
	took = monotonic_ms() - t0;
	pthread_join(thread, NULL);
	write_text_file(WALK_DELAY, "0");
	TH_LOG("truncation during a slow hugetlb scan took %.0f ms; the scan %.0f ms",
	       took, sc.took_ms);
	EXPECT_EQ(0, sc.ret);
	EXPECT_LT(took, TRUNC_BOUND_MS);
	munmap(sc.p, sc.len);
	close(fd);
}

/* ---- paths neither suite reached (Documentation/coverage.rst) ------------ */

/*
 * A private mapping of a memfd with page 0 a private copy and page 1 the
 * file's page: what a hole punch may and may not take.  Returns the
 * mapping (2 pages); *memfd gets the file.
 */
static char *private_copy_over_memfd(struct __test_metadata *_metadata,
				     int *memfd)
{
	char *p;
	int fd;

	fd = memfd_create("ptmark-cov", MFD_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1, pwrite(fd, "f", 1, env.page - 1));
	ASSERT_EQ(1, pwrite(fd, "f", 1, 2 * env.page - 1));
	p = mmap(NULL, 2 * env.page, PROT_READ | PROT_WRITE, MAP_PRIVATE,
		 fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	*memfd = fd;
	return p;
}

/*
 * zap_nonpresent_ptes(), a swap entry when the zap spares COW pages
 * (!should_zap_cows()): a hole punch unmaps the file's pages from every
 * mapping, but the swapped-out private copy of a MAP_PRIVATE mapping is
 * the process's own and must stay, swap entry and data.
 */
TEST_F(scan, punch_keeps_swapped_private_copy)
{
	struct ptmark_record *recs;
	uint64_t pm;
	size_t tries;
	int memfd;
	char *p;

	PTMARK_REQUIRE_SWAP();
	/* MADV_PAGEOUT drains only this CPU's batch of new LRU pages. */
	stay_on_this_cpu();
	p = private_copy_over_memfd(_metadata, &memfd);
	memset(p, 'c', env.page);
	EXPECT_EQ('f', p[2 * env.page - 1]);
	for (tries = 0; tries < 10; tries++) {
		ASSERT_EQ(0, madvise(p, env.page, MADV_PAGEOUT));
		ASSERT_EQ(0, pagemap_pread(env.pagemap, p, 1, &pm));
		if (pm & PM_SWAP)
			break;
	}
	ASSERT_TRUE(pm & PM_SWAP) TH_LOG("the private copy was not swapped out: pagemap %#llx",
					 (unsigned long long)pm);

	ASSERT_EQ(0, fallocate(memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       0, 2 * env.page));
	recs = scan_self(_metadata, p, 2);
	expect_pages(_metadata, recs, 0, 1, &(struct page_state){
		"swapped private copy", PTMARK_KIND_SWAP, 0, 0,
		ALL_BITS & ~(PTMARK_BIT_EXCLUSIVE | PTMARK_BIT_SOFT_DIRTY) });
	expect_pages(_metadata, recs, 1, 1, &no_entry);
	free(recs);
	/* The copy comes back from swap; the file's page is a hole now. */
	EXPECT_EQ('c', p[0]);
	EXPECT_EQ('c', p[env.page - 1]);
	EXPECT_EQ(0, p[2 * env.page - 1]);
	munmap(p, 2 * env.page);
	close(memfd);
}

/* A poison marker (UFFDIO_POISON) on page 0 of @p: 0 or a skip's reason. */
static const char *poison_first_page(struct __test_metadata *_metadata,
				     char *p, size_t len, int *uffd)
{
	struct uffdio_poison poison = { .mode = 0 };
	__u64 ioctls;

	*uffd = uffd_open(UFFD_FEATURE_POISON);
	if (*uffd == -EOPNOTSUPP)
		return "kernel lacks UFFD_FEATURE_POISON";
	if (*uffd < 0) {
		TH_LOG("userfaultfd: %s", strerror(-*uffd));
		return "";
	}
	if (uffd_register_ioctls(*uffd, p, len, UFFDIO_REGISTER_MODE_MISSING,
				 &ioctls) ||
	    !(ioctls & (1ULL << _UFFDIO_POISON)))
		return "";
	poison.range.start = (uintptr_t)p;
	poison.range.len = env.page;
	if (ioctl(*uffd, UFFDIO_POISON, &poison) ||
	    poison.updated != (__s64)env.page) {
		TH_LOG("UFFDIO_POISON: %s", strerror(errno));
		return "";
	}
	return NULL;
}

static const struct page_state poison_marker = {
	"poison marker", PTMARK_KIND_MARKER, PTMARK_MARKER_POISONED, 0,
	ALL_BITS,
};

/* The scan of @p's first two pages: a poison marker, then no entry. */
static void expect_poison_then_none(struct __test_metadata *_metadata,
				    char *p)
{
	struct ptmark_record *recs = scan_self(_metadata, p, 2);

	expect_pages(_metadata, recs, 0, 1, &poison_marker);
	expect_pages(_metadata, recs, 1, 1, &no_entry);
	free(recs);
}

/*
 * zap_nonpresent_ptes(), a poison marker when the zap spares COW pages:
 * a UFFDIO_POISON marker in a MAP_PRIVATE mapping of a memfd belongs to
 * the mapping, not to the file, so a hole punch leaves it and the page
 * still raises SIGBUS; the file's page beside it goes.
 */
TEST_F(scan, punch_keeps_private_poison_marker)
{
	const char *why;
	int memfd, uffd;
	char *p, c;

	p = private_copy_over_memfd(_metadata, &memfd);
	why = poison_first_page(_metadata, p, 2 * env.page, &uffd);
	if (why && *why)
		SKIP(return, "%s", why);
	ASSERT_EQ(NULL, why);
	/* Only now: fault-around would have mapped page 0 too. */
	EXPECT_EQ('f', p[2 * env.page - 1]);

	ASSERT_EQ(0, fallocate(memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			       0, 2 * env.page));
	expect_poison_then_none(_metadata, p);
	ASSERT_EQ(0, probe_handlers_install());
	EXPECT_EQ(SIGBUS, probe_read(p, &c));
	close(uffd);
	munmap(p, 2 * env.page);
	close(memfd);
}

/*
 * change_softleaf_pte(), a poison marker: mprotect() leaves it as it is
 * (any access must still raise SIGBUS), whichever way the protection
 * goes, and a missing page beside it stays missing.
 */
TEST_F(scan, mprotect_keeps_poison_marker)
{
	char *p = map_small_pages(_metadata, 2);
	const char *why;
	int uffd;
	char c;

	why = poison_first_page(_metadata, p, 2 * env.page, &uffd);
	if (why && *why)
		SKIP(return, "%s", why);
	ASSERT_EQ(NULL, why);

	ASSERT_EQ(0, mprotect(p, 2 * env.page, PROT_READ));
	expect_poison_then_none(_metadata, p);
	ASSERT_EQ(0, mprotect(p, 2 * env.page, PROT_READ | PROT_WRITE));
	expect_poison_then_none(_metadata, p);
	ASSERT_EQ(0, probe_handlers_install());
	EXPECT_EQ(SIGBUS, probe_read(p, &c));
	close(uffd);
}

/* PAGEMAP_SCAN of @nr pages from @p: the regions of written pages. */
static long written_regions(const void *p, size_t nr, struct page_region *vec,
			    size_t vec_len)
{
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = (uintptr_t)p,
		.end = (uintptr_t)p + nr * env.page,
		.vec = (uintptr_t)vec,
		.vec_len = vec_len,
		.category_mask = PAGE_IS_WRITTEN,
		.return_mask = PAGE_IS_WRITTEN,
	};

	return pagemap_scan_self(&arg);
}

/*
 * make_uffd_wp_pte(), a none entry and a swap entry: PAGEMAP_SCAN's
 * write-protecting walk (PM_SCAN_WP_MATCHING, no output) over an async
 * uffd-wp range whose page 1 was zapped and page 2 swapped out after
 * registration must protect those too: a uffd-wp marker in the hole,
 * the uffd-wp bit on the swap entry.  Then no page reads as written,
 * and writing pages 1 and 2 makes exactly them written again, page 2
 * with its data from swap.
 */
TEST_F(scan, wp_scan_protects_zapped_and_swapped_pages)
{
	struct pm_scan_arg wp = { .size = sizeof(wp) };
	struct page_region vec[4];
	struct ptmark_record *recs;
	size_t i, tries;
	uint64_t pm;
	int uffd;
	char *p;

	PTMARK_REQUIRE_SWAP();
	if (!have(PTMARK_FEAT_PAGEMAP_SCAN))
		SKIP(return, "kernel lacks PAGEMAP_SCAN");
	uffd = uffd_open(UFFD_FEATURE_WP_ASYNC | UFFD_FEATURE_WP_UNPOPULATED);
	if (uffd < 0)
		SKIP(return, "kernel lacks UFFD_FEATURE_WP_ASYNC with WP_UNPOPULATED: %s",
		     strerror(-uffd));
	/* MADV_PAGEOUT drains only this CPU's batch of new LRU pages. */
	stay_on_this_cpu();
	p = map_small_pages(_metadata, 4);
	for (i = 0; i < 4; i++)
		memset(page_addr(p, i), 'a' + i, env.page);
	ASSERT_EQ(0, uffd_register(uffd, p, 4 * env.page,
				   UFFDIO_REGISTER_MODE_WP));
	ASSERT_EQ(0, madvise(page_addr(p, 1), env.page, MADV_DONTNEED));
	for (tries = 0; tries < 10; tries++) {
		ASSERT_EQ(0, madvise(page_addr(p, 2), env.page, MADV_PAGEOUT));
		ASSERT_EQ(0, pagemap_pread(env.pagemap, page_addr(p, 2), 1, &pm));
		if (pm & PM_SWAP)
			break;
	}
	ASSERT_TRUE(pm & PM_SWAP) TH_LOG("page 2 was not swapped out: pagemap %#llx",
					 (unsigned long long)pm);
	recs = scan_self(_metadata, p, 4);
	expect_pages(_metadata, recs, 1, 1, &no_entry);
	EXPECT_FALSE(recs[2].bits & PTMARK_BIT_UFFD_WP);
	free(recs);
	ASSERT_EQ(1, written_regions(p, 4, vec, ARRAY_SIZE(vec)));

	wp.start = (uintptr_t)p;
	wp.end = (uintptr_t)page_addr(p, 4);
	wp.flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC;
	wp.category_mask = PAGE_IS_WRITTEN;
	wp.return_mask = PAGE_IS_WRITTEN;
	ASSERT_LE(0, pagemap_scan_self(&wp));

	recs = scan_self(_metadata, p, 4);
	expect_pages(_metadata, recs, 0, 1, &(struct page_state){
		"wr-protected anonymous page", PTMARK_KIND_PRESENT, 0,
		PTMARK_BIT_ANON | PTMARK_BIT_UFFD_WP,
		PTMARK_BIT_WRITE | PTMARK_BIT_FILE });
	expect_pages(_metadata, recs, 1, 1, &uffd_wp_marker);
	expect_pages(_metadata, recs, 2, 1, &(struct page_state){
		"wr-protected swap entry", PTMARK_KIND_SWAP, 0,
		PTMARK_BIT_UFFD_WP, PTMARK_BIT_FILE });
	free(recs);
	EXPECT_EQ(0, written_regions(p, 4, vec, ARRAY_SIZE(vec)));

	p[env.page + 1] = 'x';
	p[2 * env.page + 1] = 'x';
	EXPECT_EQ(0, read_page(p, 1));
	EXPECT_EQ('c', read_page(p, 2));
	ASSERT_EQ(1, written_regions(p, 4, vec, ARRAY_SIZE(vec)));
	EXPECT_EQ((uintptr_t)page_addr(p, 1), vec[0].start);
	EXPECT_EQ((uintptr_t)page_addr(p, 3), vec[0].end);
	close(uffd);
}

/*
 * The child's part of forced_write_into_clean_thp_is_soft_dirty: attach
 * to @pid (our parent), store @word at @addr with PTRACE_POKEDATA, which
 * writes with FOLL_FORCE as a debugger does, and detach.  0 or an errno
 * (100: the tracee did not stop).
 */
static int poke_as_debugger(pid_t pid, void *addr, long word)
{
	int status;

	if (ptrace(PTRACE_ATTACH, pid, NULL, NULL))
		return errno;
	if (waitpid(pid, &status, __WALL) != pid || !WIFSTOPPED(status))
		return 100;
	if (ptrace(PTRACE_POKEDATA, pid, addr, (void *)word))
		return errno;
	if (ptrace(PTRACE_DETACH, pid, NULL, NULL))
		return errno;
	return 0;
}

/*
 * can_follow_write_pmd(), the write fault soft-dirty asks for: a
 * FOLL_FORCE write (a debugger's PTRACE_POKEDATA) into a read-only THP
 * that clear_refs made clean must not write through the clean PMD but
 * fault first, so the THP stays one read-only PMD leaf, now soft-dirty,
 * with the word in it.  MADV_DONTFORK keeps the THP ours alone while the
 * child that pokes it exists.
 */
TEST_F(scan, forced_write_into_clean_thp_is_soft_dirty)
{
	size_t nr = env.pmd / env.page;
	struct ptmark_record *recs;
	long word, want;
	int status;
	pid_t pid;
	char *p;

	if (!have(PTMARK_FEAT_THP) || !thp_allowed())
		SKIP(return, "THP not available");
	if (!have(PTMARK_FEAT_SOFT_DIRTY))
		SKIP(return, "kernel without soft-dirty tracking");
	p = map_pmd_aligned(_metadata, env.pmd);
	ASSERT_EQ(0, madvise(p, env.pmd, MADV_HUGEPAGE));
	memset(p, 1, env.pmd);
	if (smaps_kb(p, "AnonHugePages:") * 1024 != (long)env.pmd)
		SKIP(return, "the kernel did not allocate a THP (smaps AnonHugePages %ld kB)",
		     smaps_kb(p, "AnonHugePages:"));
	ASSERT_EQ(0, madvise(p, env.pmd, MADV_DONTFORK));
	ASSERT_EQ(0, mprotect(p, env.pmd, PROT_READ));
	ASSERT_EQ(0, write_text_file("/proc/self/clear_refs", "4"));
	recs = scan_self(_metadata, p, 1);
	EXPECT_FALSE(recs[0].bits & PTMARK_BIT_SOFT_DIRTY);
	free(recs);

	memcpy(&want, page_addr(p, 3), sizeof(want));
	want ^= 0x5a;
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(poke_as_debugger(getppid(), page_addr(p, 3), want));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status)) TH_LOG("PTRACE_POKEDATA: %s",
						 strerror(WEXITSTATUS(status)));
	memcpy(&word, page_addr(p, 3), sizeof(word));
	EXPECT_EQ(want, word);

	recs = scan_self(_metadata, p, nr);
	expect_pages(_metadata, recs, 0, nr, &(struct page_state){
		"read-only soft-dirty PMD-mapped THP", PTMARK_KIND_PRESENT, 0,
		PTMARK_BIT_ANON | PTMARK_BIT_EXCLUSIVE | PTMARK_BIT_LARGE |
		PTMARK_BIT_PMD | PTMARK_BIT_SOFT_DIRTY,
		PTMARK_BIT_WRITE | PTMARK_BIT_FILE | NOT_PLAIN });
	EXPECT_FALSE(recs[0].vma_flags & PTMARK_VMA_SOFTDIRTY);
	free(recs);
}

PTMARK_GENERATED_TEST()

PTMARK_MODULE_HARNESS_MAIN(NULL)
