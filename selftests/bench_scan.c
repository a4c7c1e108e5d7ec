// SPDX-License-Identifier: GPL-2.0
/*
 * bench_scan [REPS]: how fast PTMARK_IOC_SCAN reads page tables, against
 * the kernel's two other ways of reading them, /proc/self/pagemap and its
 * PAGEMAP_SCAN ioctl.
 *
 * Five ranges of this process, each read completely by each method REPS
 * times (default 5), and again (at most 10 * REPS times) until the
 * readings of the range add up to MIN_RANGE_SECONDS, so that neither a
 * timer tick nor a busy host decides a quick range; best time reported:
 *
 *   (a) 1 GiB of anonymous memory, every page written (less if the
 *       machine lacks the memory: the size used is printed);
 *   (b) a 64 GiB MAP_NORESERVE reservation with one page written per
 *       2 MiB, so mostly empty page tables;
 *   (c) as (a), then every other page guarded (skipped without guard
 *       regions);
 *   (d) a 1 TiB MAP_NORESERVE reservation with one page written per
 *       32 MiB: as many page tables as (b) over 16 times the range, so
 *       what a scan costs beyond the tables shows (pagemap, whose output
 *       grows with the range, reads it once);
 *   (e) as (a) but MADV_HUGEPAGE, so mapped by PMD leaves where THP is
 *       enabled (the THP pages found are printed).
 *
 * All memory but (e) is MADV_NOHUGEPAGE, so every page has its own
 * entry.  The methods, each told to report the state of every page:
 *
 *   ptmark        PTMARK_IOC_SCAN, 65536 records per call, continuing
 *                 at .next; runs of equal pages merge, pfns shown (root);
 *   compact       PTMARK_IOC_SCAN with PTMARK_SCAN_COMPACT, all bits,
 *                 1 Mi words per call: four bytes a page where states
 *                 alternate, eight a run;
 *   compact/nf    the same with only the bits page tables tell, so the
 *                 walk reads no struct page: the difference to "compact"
 *                 is what folio lookups cost (not a rival to pagemap,
 *                 which reports file and exclusive bits);
 *   pagemap       pread() of /proc/self/pagemap in 4 MiB chunks;
 *   PAGEMAP_SCAN  the ioctl with category_anyof_mask PRESENT | SWAPPED |
 *                 PFNZERO | GUARD (every page holding anything: the rest
 *                 are empty, as the gaps between regions say) and every
 *                 category in return_mask, 65536 regions per call,
 *                 continuing at walk_end.
 *
 * Each method must count the same present pages, or the range's test
 * fails.  Output is kselftest TAP; the figures are "bench:" lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kselftest.h"
#include "ptmark_lib.h"

#ifndef PAGE_IS_ACCESSED
#define PAGE_IS_ACCESSED	(1 << 9)
#endif

#define MiB			(1ULL << 20)
#define GiB			(1ULL << 30)
#define SPARSE_SIZE		(64 * GiB)
#define SPARSE_STRIDE		(2 * MiB)
#define PTMARK_BATCH		65536
#define COMPACT_WORDS		(1 << 20)
#define HUGE_SPARSE_SIZE	(1024 * GiB)
#define HUGE_SPARSE_STRIDE	(32 * MiB)
#define PAGEMAP_CHUNK		(4 * MiB)
#define SCAN_REGIONS		65536
/* Repeat a range's methods until they took this long, REPS at least. */
#define MIN_RANGE_SECONDS	2.0
/* Left to the kernel and everything else when sizing range (a). */
#define MEM_RESERVE		(320 * MiB)

enum method { PTMARK, COMPACT, NO_FOLIO, PAGEMAP, PM_SCAN, NR_METHODS };

static const char * const method_names[NR_METHODS] = {
	"ptmark", "compact", "compact/nf", "pagemap", "PAGEMAP_SCAN",
};

/* The bits a page table alone tells: "compact/nf" reads no struct page. */
#define NO_FOLIO_BITS	(PTMARK_BIT_WRITE | PTMARK_BIT_DIRTY | \
			 PTMARK_BIT_YOUNG | PTMARK_BIT_SOFT_DIRTY | \
			 PTMARK_BIT_UFFD_WP | PTMARK_BIT_ZEROPAGE | \
			 PTMARK_BIT_SPECIAL | PTMARK_BIT_PMD | PTMARK_BIT_PUD)

/* One full read of a range: how long it took and what it found. */
struct reading {
	double seconds;
	uint64_t present;	/* pages found present */
	uint64_t items;		/* records, entries or regions returned */
	uint64_t calls;		/* syscalls it took */
};

static size_t page_size;
static int ptmark_fd, pagemap_fd;
static struct ptmark_record *records;
static __u32 *words;
static uint64_t *entries;
static struct page_region *regions;
/* PAGEMAP_SCAN categories this kernel knows (probed on first use). */
static uint64_t scan_anyof = PAGE_IS_PRESENT | PAGE_IS_SWAPPED |
			     PAGE_IS_PFNZERO | PAGE_IS_GUARD;
static uint64_t scan_return = PAGE_IS_WPALLOWED | PAGE_IS_WRITTEN |
			      PAGE_IS_FILE | PAGE_IS_PRESENT |
			      PAGE_IS_SWAPPED | PAGE_IS_PFNZERO |
			      PAGE_IS_HUGE | PAGE_IS_SOFT_DIRTY |
			      PAGE_IS_GUARD | PAGE_IS_ACCESSED;

static int read_with_ptmark(uint64_t start, uint64_t end, struct reading *r)
{
	uint64_t cursor = start;
	uint32_t i;

	while (cursor < end) {
		struct ptmark_scan s = {
			.size = sizeof(s),
			.nr_records = PTMARK_BATCH,
			.start = cursor,
			.len = end - cursor,
			.records = (uintptr_t)records,
		};

		if (ioctl(ptmark_fd, PTMARK_IOC_SCAN, &s))
			return -errno;
		for (i = 0; i < s.nr_records; i++)
			if (records[i].kind == PTMARK_KIND_PRESENT)
				r->present += records[i].nr_pages;
		r->items += s.nr_records;
		r->calls++;
		cursor = s.next;
	}
	return 0;
}

static int read_with_compact(uint64_t start, uint64_t end, __u32 bits_mask,
			     struct reading *r)
{
	uint64_t cursor = start;
	bool present = false;
	uint32_t i;

	while (cursor < end) {
		struct ptmark_scan s = {
			.size = sizeof(s),
			.flags = PTMARK_SCAN_COMPACT,
			.nr_records = COMPACT_WORDS,
			.start = cursor,
			.len = end - cursor,
			.records = (uintptr_t)words,
			.bits_mask = bits_mask,
		};

		if (ioctl(ptmark_fd, PTMARK_IOC_SCAN, &s))
			return -errno;
		for (i = 0; i < s.nr_records; i++) {
			if (!(words[i] & PTMARK_C_REPEAT)) {
				present = PTMARK_C_KIND(words[i]) ==
					  PTMARK_KIND_PRESENT;
				r->present += present;
			} else if (present) {
				r->present += PTMARK_C_COUNT(words[i]);
			}
		}
		r->items += s.nr_records;
		r->calls++;
		cursor = s.next;
	}
	return 0;
}

static int read_with_pagemap(uint64_t start, uint64_t end, struct reading *r)
{
	uint64_t addr, i, n;
	int ret;

	for (addr = start; addr < end; addr += n * page_size) {
		n = (end - addr) / page_size;
		if (n > PAGEMAP_CHUNK / sizeof(*entries))
			n = PAGEMAP_CHUNK / sizeof(*entries);
		ret = pagemap_pread(pagemap_fd, (void *)(uintptr_t)addr, n,
				    entries);
		if (ret)
			return ret;
		for (i = 0; i < n; i++)
			r->present += !!(entries[i] & PM_PRESENT);
		r->items += n;
		r->calls++;
	}
	return 0;
}

static long pagemap_scan(uint64_t start, uint64_t end, uint64_t *walk_end)
{
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = start,
		.end = end,
		.vec = (uintptr_t)regions,
		.vec_len = SCAN_REGIONS,
		.category_anyof_mask = scan_anyof,
		.return_mask = scan_return,
	};
	long ret = ioctl(pagemap_fd, PAGEMAP_SCAN, &arg);

	*walk_end = arg.walk_end;
	return ret < 0 ? -errno : ret;
}

static int read_with_pagemap_scan(uint64_t start, uint64_t end,
				  struct reading *r)
{
	uint64_t cursor = start;
	long i, n;

	while (cursor < end) {
		n = pagemap_scan(cursor, end, &cursor);
		if (n < 0)
			return n;
		/*
		 * A walk that flushed its bounce buffer on the way may leave
		 * a stale walk_end behind (seen on 6.18 and 7.3): going on
		 * from there would report regions twice.  Room to spare
		 * means the walk reached the end; otherwise go on after the
		 * last region returned, if that is further.
		 */
		if (n < SCAN_REGIONS)
			cursor = end;
		else if (regions[n - 1].end > cursor)
			cursor = regions[n - 1].end;
		for (i = 0; i < n; i++)
			if (regions[i].categories & PAGE_IS_PRESENT)
				r->present += (regions[i].end -
					       regions[i].start) / page_size;
		r->items += n;
		r->calls++;
	}
	return 0;
}

/*
 * Kernels before PAGE_IS_GUARD (and PAGE_IS_ACCESSED) refuse categories
 * they do not know: ask only for what this one has.
 */
static int probe_pagemap_scan(uint64_t start)
{
	uint64_t end;

	if (pagemap_scan(start, start + page_size, &end) >= 0)
		return 0;
	scan_anyof &= ~PAGE_IS_GUARD;
	scan_return &= ~(PAGE_IS_GUARD | PAGE_IS_ACCESSED);
	return pagemap_scan(start, start + page_size, &end) < 0 ? -errno : 0;
}

static int read_range(enum method m, uint64_t start, uint64_t end,
		      struct reading *r)
{
	double t0 = monotonic_ms();
	int ret;

	memset(r, 0, sizeof(*r));
	switch (m) {
	case PTMARK:
		ret = read_with_ptmark(start, end, r);
		break;
	case COMPACT:
		ret = read_with_compact(start, end, 0, r);
		break;
	case NO_FOLIO:
		ret = read_with_compact(start, end, NO_FOLIO_BITS, r);
		break;
	case PAGEMAP:
		ret = read_with_pagemap(start, end, r);
		break;
	default:
		ret = read_with_pagemap_scan(start, end, r);
		break;
	}
	r->seconds = (monotonic_ms() - t0) / 1e3;
	return ret;
}

static double faster(double a, double b)
{
	return a < b ? a : b;
}

/*
 * Read [start, end) by every method @reps times (pagemap only
 * @pagemap_reps times), print the best times and the ratios, and pass the
 * range's test if all methods agree on the present pages.
 */
static void bench_range(const char *name, const char *what, char *start,
			uint64_t len, int reps, int pagemap_reps)
{
	uint64_t s = (uintptr_t)start, e = s + len, pages = len / page_size;
	struct reading best[NR_METHODS], r;
	double kernel, ours, spent = 0;
	bool agree = true;
	int m, i, ret;

	/*
	 * Methods take turns within each repetition, so that a busy host
	 * slows them alike rather than whichever ran while it was busy.
	 */
	for (i = 0; i < reps || (spent < MIN_RANGE_SECONDS && i < 10 * reps);
	     i++) {
		for (m = 0; m < NR_METHODS; m++) {
			if (m == PAGEMAP && i >= pagemap_reps)
				continue;
			ret = read_range(m, s, e, &r);
			if (ret) {
				ksft_test_result_fail("%s: %s: %s\n", name,
						      method_names[m],
						      strerror(-ret));
				return;
			}
			if (!i || r.seconds < best[m].seconds)
				best[m] = r;
			spent += r.seconds;
		}
	}

	ksft_print_msg("bench: %s %s, %llu pages, %d repetitions\n", name,
		       what, (unsigned long long)pages, i);
	for (m = 0; m < NR_METHODS; m++) {
		ksft_print_msg("bench:   %-13s %9.2f ms %9.2f Mpages/s %9llu items %6llu calls %9llu present\n",
			       method_names[m], best[m].seconds * 1e3,
			       pages / best[m].seconds / 1e6,
			       (unsigned long long)best[m].items,
			       (unsigned long long)best[m].calls,
			       (unsigned long long)best[m].present);
		agree &= best[m].present == best[PTMARK].present;
	}
	kernel = faster(best[PAGEMAP].seconds, best[PM_SCAN].seconds);
	ours = faster(best[PTMARK].seconds, best[COMPACT].seconds);
	ksft_print_msg("bench:   vs pagemap: ptmark %.2fx compact %.2fx   vs PAGEMAP_SCAN: ptmark %.2fx compact %.2fx\n",
		       best[PAGEMAP].seconds / best[PTMARK].seconds,
		       best[PAGEMAP].seconds / best[COMPACT].seconds,
		       best[PM_SCAN].seconds / best[PTMARK].seconds,
		       best[PM_SCAN].seconds / best[COMPACT].seconds);
	ksft_print_msg("bench:   best ptmark format vs faster kernel method: %.2fx; folio lookups %.0f%% of compact\n",
		       kernel / ours,
		       100 * (1 - best[NO_FOLIO].seconds / best[COMPACT].seconds));
	ksft_test_result(agree, "%s: methods agree on present pages\n", name);
}

/* @len bytes of anonymous memory without THP, every page written; NULL on failure. */
static char *map_written(uint64_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (madvise(p, len, MADV_NOHUGEPAGE) ||
	    madvise(p, len, MADV_POPULATE_WRITE)) {
		munmap(p, len);
		return NULL;
	}
	return p;
}

/* The size of ranges (a) and (c): 1 GiB, or what memory allows. */
static uint64_t dense_size(void)
{
	long long kb = text_file_value("/proc/meminfo", "MemAvailable:");
	uint64_t avail = kb > 0 ? kb * 1024ULL : 0, len = GiB;

	if (avail && avail < len + MEM_RESERVE)
		len = avail > MEM_RESERVE + 64 * MiB ? avail - MEM_RESERVE :
						       64 * MiB;
	return len & ~(SPARSE_STRIDE - 1);
}

static void bench_dense(uint64_t len, int reps)
{
	char what[64];
	char *p = map_written(len);

	if (!p) {
		ksft_test_result_fail("(a): %llu MiB: %s\n",
				      (unsigned long long)(len / MiB),
				      strerror(errno));
		return;
	}
	snprintf(what, sizeof(what), "%llu MiB anon, all written",
		 (unsigned long long)(len / MiB));
	bench_range("(a)", what, p, len, reps, reps);
	munmap(p, len);
}

static void bench_sparse(int reps)
{
	uint64_t off;
	char *p = mmap(NULL, SPARSE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED || madvise(p, SPARSE_SIZE, MADV_NOHUGEPAGE)) {
		ksft_test_result_fail("(b): %s\n", strerror(errno));
		return;
	}
	for (off = 0; off < SPARSE_SIZE; off += SPARSE_STRIDE)
		p[off] = 1;
	bench_range("(b)", "64 GiB NORESERVE, one page written per 2 MiB", p,
		    SPARSE_SIZE, reps, reps);
	munmap(p, SPARSE_SIZE);
}

static void bench_guarded(uint64_t len, int reps, bool have_guard)
{
	char what[64];
	uint64_t off;
	char *p;

	if (!have_guard) {
		ksft_test_result_skip("(c): kernel without MADV_GUARD_INSTALL\n");
		return;
	}
	p = map_written(len);
	if (!p) {
		ksft_test_result_fail("(c): %s\n", strerror(errno));
		return;
	}
	for (off = page_size; off < len; off += 2 * page_size) {
		if (madvise(p + off, page_size, MADV_GUARD_INSTALL)) {
			ksft_test_result_fail("(c): MADV_GUARD_INSTALL: %s\n",
					      strerror(errno));
			munmap(p, len);
			return;
		}
	}
	snprintf(what, sizeof(what), "%llu MiB anon, every other page guarded",
		 (unsigned long long)(len / MiB));
	bench_range("(c)", what, p, len, reps, reps);
	munmap(p, len);
}

static void bench_huge_sparse(int reps)
{
	uint64_t off;
	char *p = mmap(NULL, HUGE_SPARSE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED ||
	    madvise(p, HUGE_SPARSE_SIZE, MADV_NOHUGEPAGE)) {
		ksft_test_result_fail("(d): %s\n", strerror(errno));
		return;
	}
	for (off = 0; off < HUGE_SPARSE_SIZE; off += HUGE_SPARSE_STRIDE)
		p[off] = 1;
	bench_range("(d)", "1 TiB NORESERVE, one page written per 32 MiB", p,
		    HUGE_SPARSE_SIZE, reps, 1);
	munmap(p, HUGE_SPARSE_SIZE);
}

static void bench_thp(uint64_t len, int reps)
{
	char what[80];
	char *p = mmap_aligned(len, SPARSE_STRIDE, PROT_READ | PROT_WRITE);
	uint64_t thp;

	if (p == MAP_FAILED || madvise(p, len, MADV_HUGEPAGE) ||
	    madvise(p, len, MADV_POPULATE_WRITE)) {
		ksft_test_result_fail("(e): %s\n", strerror(errno));
		return;
	}
	thp = text_file_value("/proc/meminfo", "AnonHugePages:");
	snprintf(what, sizeof(what), "%llu MiB anon, MADV_HUGEPAGE, written (AnonHugePages %llu kB)",
		 (unsigned long long)(len / MiB), (unsigned long long)thp);
	bench_range("(e)", what, p, len, reps, reps);
	munmap(p, len);
}

int main(int argc, char **argv)
{
	int reps = argc > 1 ? atoi(argv[1]) : 5;
	struct ptmark_info info;
	uint64_t len;

	ksft_print_header();
	ksft_set_plan(5);
	page_size = sysconf(_SC_PAGESIZE);
	if (reps < 1)
		ksft_exit_fail_msg("usage: %s [REPS >= 1]\n", argv[0]);

	ptmark_fd = ptmark_open();
	if (ptmark_fd < 0)
		ksft_exit_skip("ptmark.ko not loaded (%s: %s)\n", PTMARK_DEVICE,
			       strerror(-ptmark_fd));
	if (ptmark_get_info(ptmark_fd, &info))
		ksft_exit_fail_msg("PTMARK_IOC_INFO: %s\n", strerror(errno));
	if (!(info.features & PTMARK_FEAT_PAGEMAP_SCAN))
		ksft_exit_skip("kernel without PAGEMAP_SCAN\n");
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	records = calloc(PTMARK_BATCH, sizeof(*records));
	words = calloc(COMPACT_WORDS, sizeof(*words));
	entries = malloc(PAGEMAP_CHUNK);
	regions = calloc(SCAN_REGIONS, sizeof(*regions));
	if (pagemap_fd < 0 || !records || !words || !entries || !regions)
		ksft_exit_fail_msg("setup: %s\n", strerror(errno));
	if (probe_pagemap_scan((uintptr_t)records & ~(page_size - 1)))
		ksft_exit_fail_msg("PAGEMAP_SCAN: %s\n", strerror(errno));

	len = dense_size();
	ksft_print_msg("bench: %s, at least %d repetitions, best time; PAGEMAP_SCAN anyof %#llx return %#llx\n",
		       info.release, reps, (unsigned long long)scan_anyof,
		       (unsigned long long)scan_return);
	bench_dense(len, reps);
	bench_sparse(reps);
	bench_guarded(len, reps, info.features & PTMARK_FEAT_GUARD);
	bench_huge_sparse(reps);
	bench_thp(len, reps);
	ksft_finished();
}
