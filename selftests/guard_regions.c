// SPDX-License-Identifier: GPL-2.0
/*
 * Guard regions: madvise(MADV_GUARD_INSTALL) and madvise(MADV_GUARD_REMOVE).
 *
 * A guard region is not a VMA.  Installing one zaps whatever the range
 * maps and writes a guard PTE marker into each page table entry; touching
 * such an entry raises SIGSEGV, and only MADV_GUARD_REMOVE, munmap() and
 * process exit take markers away.  Everything else that walks or rewrites
 * page tables - zap, reclaim, fork, mremap, mprotect, truncation, GUP,
 * fault-around, readahead, khugepaged - has to step around the markers.
 * This suite checks that it does, and that the kernel refuses markers
 * where it must (mlock, hugetlb, VM_PFNMAP/VM_IO and other special VMAs).
 *
 * Every test runs over each backing that can have its behaviour
 * (anonymous, THP anonymous, memfd, huge tmpfs, and ext4 files mapped
 * MAP_SHARED, MAP_PRIVATE and read-only), with markers from madvise().
 * process_madvise() is the same kernel path; its own rules (vectors,
 * remote targets) have tests of their own here, and the ptmark ioctl's
 * markers are held against madvise()'s, backing by backing, in the marker
 * suite.  Each step is judged twice: by behaviour (signals, errno, data)
 * with access_pattern_is(), and by page-table state from
 * /proc/self/pagemap - and, when ptmark.ko is loaded, from the module's
 * own walk - with guard_pattern_is().
 *
 * Facts asserted here were read from mm/madvise.c, mm/memory.c,
 * mm/khugepaged.c, mm/mincore.c, mm/process_vm_access.c, mm/migrate.c,
 * fs/proc/base.c and fs/proc/task_mmu.c; the comments say which rule a
 * step relies on.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <linux/userfaultfd.h>
#include <liburing.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ptmark_lib.h"

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP	4
#endif
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE	0x0010
#endif
#ifndef __NR_process_madvise
#define __NR_process_madvise	440
#endif
#ifndef __NR_mseal
#define __NR_mseal		462
#endif

/* Longest pattern a test builds: three huge-variant regions. */
#define PAT_MAX			4096

/* What the running kernel and machine offer; probed once in main(). */
static size_t page_size;
static size_t pmd_size;
static size_t pmd_pages;
static struct kernel_probe kernel;

FIXTURE(guard) {
	const struct ptmark_backing *b;
	int pidfd;		/* process_madvise() target: ourselves */
	int fd;			/* maps the backing; -1 for anonymous memory */
	int rwfd;		/* read-write fd on the same file */
	size_t nr;		/* pages in a standard region */
	size_t file_pages;	/* file size */
	size_t filled_pages;	/* leading file pages holding the file stamp */
	int prot;		/* PROT_READ, plus PROT_WRITE where writable */
};

FIXTURE_VARIANT(guard) {
	const struct ptmark_backing *backing;
};

BACKING_VARIANT(guard, anon, BK_ANON);
BACKING_VARIANT(guard, anon_thp, BK_ANON_THP);
BACKING_VARIANT(guard, memfd, BK_MEMFD);
BACKING_VARIANT(guard, huge_tmpfs, BK_HUGE_TMPFS);
BACKING_VARIANT(guard, ext4_shared, BK_EXT4_SHARED);
BACKING_VARIANT(guard, ext4_private, BK_EXT4_PRIVATE);
BACKING_VARIANT(guard, ext4_rdonly, BK_EXT4_RDONLY);

/* Shorthands for what the variant's backing is. */
#define IS(bits)	backing_has(self->b, (bits))
#define IS_BACKING(which)	(self->b->id == (which))

/* ---------------------------------------------------------------------
 * Page contents: ptmark_stamp() of who wrote a page last - the file
 * set-up, the test through the mapping, a forked child - and of its file
 * page index.
 */

static unsigned char file_byte(FIXTURE_DATA(guard) *self, size_t idx)
{
	return idx < self->filled_pages ? ptmark_stamp(PTMARK_BY_FILE, idx) : 0;
}

/*
 * Resolve the backing-dependent content classes of an access pattern:
 * 'p' primed (written through a writable mapping, else the file's own
 * data), 'u' untouched (zero for anonymous memory, else file data) and
 * 'z' what a zapped page shows when faulted back in: zero for anonymous
 * memory, the data written through a shared writable mapping, and the
 * file data for private and read-only mappings, whose private copies the
 * zap threw away.
 */
static char concrete_class(FIXTURE_DATA(guard) *self, char c)
{
	switch (c) {
	case 'p':
		return IS(PB_WRITABLE) ? 'm' : 'f';
	case 'u':
		return IS(PB_FILE) ? 'f' : '0';
	case 'z':
		if (!IS(PB_FILE))
			return '0';
		return IS(PB_SHARED) && IS(PB_WRITABLE) ? 'm' : 'f';
	}
	return c;
}

/* The byte every byte of the page should hold, or -1 for no check. */
static int class_byte(FIXTURE_DATA(guard) *self, char c, size_t idx)
{
	switch (c) {
	case 'f':
		return file_byte(self, idx);
	case 'm':
		return ptmark_stamp(PTMARK_BY_MEM, idx);
	case 'c':
		return ptmark_stamp(PTMARK_BY_CHILD, idx);
	case '0':
		return 0;
	}
	return -1;
}

/* Name the content of a readable page in the pattern alphabet. */
static char classify_page(FIXTURE_DATA(guard) *self, const char *page, size_t idx,
			  char want)
{
	static const char classes[] = "mfc0";
	unsigned char first = page[0];
	size_t i;

	for (i = 1; i < page_size; i++)
		if ((unsigned char)page[i] != first)
			return '#';
	if (class_byte(self, want, idx) == first)
		return want;
	for (i = 0; i < sizeof(classes) - 1; i++)
		if (class_byte(self, classes[i], idx) == first)
			return classes[i];
	return '#';
}

/* Write the primed content: stamps through a writable mapping, else read. */
static void prime_pages(FIXTURE_DATA(guard) *self, char *addr, size_t n, size_t pgoff)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char *page = addr + i * page_size;

		if (IS(PB_WRITABLE))
			memset(page, ptmark_stamp(PTMARK_BY_MEM, pgoff + i), page_size);
		else
			(void)*(volatile char *)page;
	}
}

/* ---------------------------------------------------------------------
 * Patterns: one character per page.
 */
static void pattern_fill(char *pat, size_t n, char c)
{
	memset(pat, c, n);
	pat[n] = '\0';
}

static void pattern_mark(char *pat, size_t from, size_t n, char c)
{
	memset(pat + from, c, n);
}

/* Copy the guards of pattern from, with other everywhere else. */
static void guards_then(char *to, const char *from, char other)
{
	size_t i;

	for (i = 0; from[i]; i++)
		to[i] = from[i] == 'G' ? 'G' : other;
	to[i] = '\0';
}

/*
 * The guard layout most tests use: lone guards at pages 1 and 3, a pair
 * straddling the middle (the PMD boundary in the huge variants) and one
 * near the end, so that each guard has unguarded neighbours.
 */
static void layout(FIXTURE_DATA(guard) *self, char *pat, char guard, char other)
{
	size_t mid = self->nr / 2;
	const size_t guards[] = { 1, 3, mid - 1, mid, self->nr - 2 };
	size_t i;

	pattern_fill(pat, self->nr, other);
	for (i = 0; i < ARRAY_SIZE(guards); i++)
		pat[guards[i]] = guard;
}

/* ---------------------------------------------------------------------
 * The page-table oracle.
 */
static char pagemap_state(uint64_t entry, char want)
{
	bool guard;

	/* Without PM_GUARD_REGION, a guard can only be told by absence. */
	if (kernel.pagemap_guard)
		guard = entry & PM_GUARD_REGION;
	else
		guard = want == 'G' && !(entry & PM_PRESENT);
	if (guard)
		return 'G';
	if (entry & PM_PRESENT)
		return 'P';
	if (entry & PM_SWAP)
		return 'S';
	return '.';
}

/*
 * Say where two page patterns part: the count, and for the first few
 * pages that differ their index, both states and the raw pagemap entry.
 * A whole huge-region pattern is too long for one readable line.
 */
static void log_mismatch(struct __test_metadata *_metadata, const char *what,
			 const void *addr, const char *want, const char *seen,
			 const uint64_t *pm)
{
	size_t n = strlen(want), i, bad = 0;

	for (i = 0; i < n; i++) {
		if (want[i] == seen[i])
			continue;
		if (++bad <= 8)
			TH_LOG("%s at %p page %zu: want %c seen %c (pagemap %#018llx)",
			       what, addr, i, want[i], seen[i],
			       (unsigned long long)pm[i]);
	}
	if (n <= 64) {
		TH_LOG("%s at %p want %s", what, addr, want);
		TH_LOG("%s at %p seen %s", what, addr, seen);
	}
	TH_LOG("%s at %p: %zu of %zu pages differ", what, addr, bad, n);
}

/*
 * Check the page tables of strlen(pattern) pages from addr:
 *   'G' guard marker         'P' present page, no marker
 *   '.' nothing at all       'S' swap entry, no marker
 *   '-' anything but a guard marker
 *   'U' a present page or nothing (a huge tmpfs PMD mapping dropped)
 * from /proc/self/pagemap, and from ptmark's own walk when the module
 * offers one, which must agree with pagemap page by page.
 */
static bool guard_pattern_is(struct __test_metadata *_metadata,
			     const void *addr, const char *pattern)
{
	size_t n = strlen(pattern), i;
	uint64_t *pm = calloc(n, sizeof(*pm));
	char *seen = calloc(n + 1, 1);
	char *module = calloc(n + 1, 1);
	bool ok = false;
	int ret;

	ret = pm && seen && module ? pagemap_read(addr, n, pm) : -ENOMEM;
	if (ret) {
		TH_LOG("cannot read /proc/self/pagemap: %s", strerror(-ret));
		goto out;
	}
	for (i = 0; i < n; i++) {
		seen[i] = pagemap_state(pm[i], pattern[i]);
		if ((pattern[i] == '-' && seen[i] != 'G') ||
		    (pattern[i] == 'U' && strchr("P.", seen[i])))
			seen[i] = pattern[i];
	}
	ok = !strcmp(pattern, seen);
	if (!ok)
		log_mismatch(_metadata, "pagemap", addr, pattern, seen, pm);

	ret = ptmark_page_map(addr, n, module);
	if (ret == 0) {
		for (i = 0; i < n; i++)
			seen[i] = pagemap_state(pm[i], pattern[i]);
		if (strcmp(seen, module)) {
			log_mismatch(_metadata, "ptmark map", addr, seen,
				     module, pm);
			ok = false;
		}
	} else if (ret != -ENODEV && ret != -EOPNOTSUPP) {
		TH_LOG("ptmark_page_map: %s", strerror(-ret));
		ok = false;
	}
out:
	free(pm);
	free(seen);
	free(module);
	return ok;
}

/*
 * Check behaviour page by page against the pattern:
 *   'G' guard: a read raises SIGSEGV (SEGV_MAPERR at that very address),
 *       and so does a write where the backing is writable
 *   'g' guard, checked by reading only (the region is not writable now)
 *   'B' a read raises SIGBUS (beyond the end of the file)
 *   'm' 'f' 'c' '0'  readable, and every byte is the mem / file / child
 *       stamp / zero
 *   'p' 'u' 'z'  the same, resolved per backing by concrete_class()
 *   '?' readable, any content          '~' not touched at all
 *   '#' readable, but in none of the classes above: mixed bytes, or
 *       another page's stamp
 * Pages are read, so their page-table state may change; check that first.
 * pgoff is the file page index of addr, which the stamps depend on.
 */
static bool access_pattern_is(struct __test_metadata *_metadata,
			      FIXTURE_DATA(guard) *self, char *addr, const char *pattern,
			      size_t pgoff)
{
	size_t n = strlen(pattern), i;
	char *want = strdup(pattern);
	char *seen = calloc(n + 1, 1);
	bool ok;

	if (!want || !seen) {
		free(want);
		free(seen);
		return false;
	}
	for (i = 0; i < n; i++) {
		char *page = addr + i * page_size;
		char c, v;
		int sig;

		c = concrete_class(self, pattern[i]);
		want[i] = c;
		if (c == '~') {
			seen[i] = '~';
			continue;
		}
		sig = probe_read(page, &v);
		if (c == 'G' || c == 'g') {
			if (sig && probe_hit_guard(page)) {
				seen[i] = c;
				if (c == 'G' && IS(PB_WRITABLE) &&
				    (!probe_write(page, 0x5a) ||
				     !probe_hit_guard(page)))
					seen[i] = 'W';
				continue;
			}
		}
		if (sig) {
			seen[i] = sig == SIGBUS ? 'B' :
				  probe_hit_guard(page) ? 'G' : 'S';
			continue;
		}
		seen[i] = c == '?' ? '?' : classify_page(self, page, pgoff + i, c);
	}
	ok = !strcmp(want, seen);
	if (!ok) {
		TH_LOG("access at %p want %s", addr, want);
		TH_LOG("access at %p seen %s", addr, seen);
	}
	free(want);
	free(seen);
	return ok;
}

/*
 * Both oracles for one region, page-table state first.
 *
 * Huge tmpfs folios are unmapped whole rather than split into PTEs when
 * a guard lands in their PMD (__split_huge_pmd_locked() zaps non-anonymous
 * PMDs) or when the folio itself is split (a file folio is not remapped
 * after a split), so there a page expected mapped ('P') may legitimately
 * be unmapped ('U'), never anything else; the thp_* tests check that
 * behaviour exactly.
 */
static bool region_is(struct __test_metadata *_metadata, FIXTURE_DATA(guard) *self,
		      char *addr, const char *pt, const char *acc, size_t pgoff)
{
	char *relaxed = strdup(pt), *c;
	bool ok;

	if (!relaxed)
		return false;
	for (c = relaxed; IS_BACKING(BK_HUGE_TMPFS) && *c; c++)
		if (*c == 'P')
			*c = 'U';
	ok = guard_pattern_is(_metadata, addr, relaxed) &&
	     access_pattern_is(_metadata, self, addr, acc, pgoff);
	free(relaxed);
	return ok;
}

/* ---------------------------------------------------------------------
 * Installing and removing markers.
 */

/* madvise() of guard advice: 0, or -1 with errno. */
static int guard_apply(void *addr, size_t len, bool install)
{
	return madvise(addr, len, install ? MADV_GUARD_INSTALL : MADV_GUARD_REMOVE);
}

static int guard_install(void *addr, size_t pages)
{
	return guard_apply(addr, pages * page_size, true);
}

static int guard_remove(void *addr, size_t pages)
{
	return guard_apply(addr, pages * page_size, false);
}

/* Install (or remove) one call per run of 'G' in the pattern. */
static bool apply_pattern(struct __test_metadata *_metadata, FIXTURE_DATA(guard) *self,
			  char *addr, const char *pat, bool install)
{
	size_t n = strlen(pat), i = 0, run;

	while (i < n) {
		if (pat[i] != 'G') {
			i++;
			continue;
		}
		for (run = 0; i + run < n && pat[i + run] == 'G'; run++)
			;
		if (guard_apply(addr + i * page_size, run * page_size,
				install)) {
			TH_LOG("%s of pages %zu-%zu: %s",
			       install ? "install" : "remove", i, i + run - 1,
			       strerror(errno));
			return false;
		}
		i += run;
	}
	return true;
}

/* ---------------------------------------------------------------------
 * Mappings.
 */

/* A PROT_NONE placeholder of len bytes starting on a PMD boundary. */
static char *reserve_aligned(size_t len)
{
	return mmap_aligned(len, pmd_size, PROT_NONE);
}

/*
 * Map n pages of the backing from file page pgoff, at 'at' (MAP_FIXED) or
 * anywhere PMD-aligned when 'at' is NULL.  PROT_WRITE is dropped where
 * the backing is read-only.
 */
static char *map_backing(FIXTURE_DATA(guard) *self, char *at, size_t n, int prot,
			 size_t pgoff)
{
	return ptmark_backing_mmap(self->b, self->fd, at, n * page_size, prot,
				   pgoff * page_size, pmd_size);
}

static char *map_region(FIXTURE_DATA(guard) *self, size_t n)
{
	return map_backing(self, NULL, n, self->prot, 0);
}

/*
 * The start of most tests: a standard region, primed, with the standard
 * layout of guards installed and both oracles checked.  pt and acc return
 * the patterns the region now shows.
 */
static char *guarded_region(struct __test_metadata *_metadata, FIXTURE_DATA(guard) *self,
			    char *pt, char *acc)
{
	char *p = map_region(self, self->nr);

	ASSERT_NE(MAP_FAILED, p);
	prime_pages(self, p, self->nr, 0);
	layout(self, pt, 'G', '-');
	ASSERT_TRUE(apply_pattern(_metadata, self, p, pt, true));
	layout(self, pt, 'G', 'P');
	layout(self, acc, 'G', 'p');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
	return p;
}

/* ---------------------------------------------------------------------
 * /proc readers.
 */

/* Exit code of a child, 128 + signal if killed, -1 if wait failed. */
static int wait_child(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

/* Number of pages the pagemap shows present in [addr, addr + n pages). */
static long present_pages(const void *addr, size_t n)
{
	uint64_t *pm = calloc(n, sizeof(*pm));
	long count = 0;
	size_t i;

	if (!pm || pagemap_read(addr, n, pm)) {
		free(pm);
		return -1;
	}
	for (i = 0; i < n; i++)
		count += !!(pm[i] & PM_PRESENT);
	free(pm);
	return count;
}

/*
 * PAGEMAP_SCAN [addr, addr + n pages) for pages in category (inverted:
 * pages not in it) and draw the result: 'X' for a page reported, '.'
 * otherwise.  Returns the number of regions reported, or -1 with errno.
 */
static long scan_pattern(const void *addr, size_t n, uint64_t category,
			 bool inverted, char *out)
{
	struct page_region regions[64];
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = (uintptr_t)addr,
		.end = (uintptr_t)addr + n * page_size,
		.vec = (uintptr_t)regions,
		.vec_len = ARRAY_SIZE(regions),
		.return_mask = category,
	};
	long ret, i;

	if (inverted) {
		arg.category_inverted = category;
		arg.category_mask = category;
	} else {
		arg.category_anyof_mask = category;
	}
	ret = pagemap_scan_self(&arg);
	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	if (arg.walk_end != arg.end) {
		errno = ERANGE;
		return -1;
	}
	pattern_fill(out, n, '.');
	for (i = 0; i < ret; i++) {
		size_t from = (regions[i].start - arg.start) / page_size;
		size_t len = (regions[i].end - regions[i].start) / page_size;

		/* Inverted matches report the category bit clear. */
		if (regions[i].categories != (inverted ? 0 : category)) {
			errno = EBADMSG;
			return -1;
		}
		pattern_mark(out, from, len, 'X');
	}
	return ret;
}

/* ---------------------------------------------------------------------
 * Fixture.
 */

/* Fill the leading pages with their file stamps; the rest stays a hole. */
static int fill_file(FIXTURE_DATA(guard) *self)
{
	char *page = malloc(page_size);
	size_t i;
	int ret = 0;

	if (!page)
		return -1;
	for (i = 0; !ret && i < self->filled_pages; i++) {
		memset(page, file_byte(self, i), page_size);
		if (pwrite(self->rwfd, page, page_size, i * page_size) !=
		    (ssize_t)page_size)
			ret = -1;
	}
	free(page);
	return ret;
}

/* The backing's file, filled: 0, or -1 with errno. */
static int open_backing(FIXTURE_DATA(guard) *self)
{
	if (!IS(PB_FILE))
		return 0;
	self->file_pages = 4 * (self->nr > pmd_pages ? self->nr : pmd_pages);
	/* Data behind two regions; the huge variant settles for one (speed). */
	self->filled_pages = IS(PB_THP) ? self->nr : 2 * self->nr;
	self->rwfd = ptmark_backing_fd(self->b, self->file_pages * page_size);
	if (self->rwfd < 0 || fill_file(self))
		return -1;
	self->fd = IS(PB_WRITABLE) ? self->rwfd : reopen_fd(self->rwfd, O_RDONLY);
	return self->fd < 0 ? -1 : 0;
}

FIXTURE_SETUP(guard)
{
	self->b = variant->backing;
	self->fd = -1;
	self->rwfd = -1;
	self->nr = IS(PB_THP) ? 2 * pmd_pages : 16;
	self->prot = PROT_READ | (IS(PB_WRITABLE) ? PROT_WRITE : 0);
	ASSERT_EQ(0, probe_handlers_install());
	ASSERT_EQ(0, open_backing(self))
		TH_LOG("cannot make the %s file: %s", self->b->desc,
		       strerror(errno));
	self->pidfd = pidfd_of(getpid());
	ASSERT_LE(0, self->pidfd);
}

FIXTURE_TEARDOWN(guard)
{
	if (self->fd >= 0 && self->fd != self->rwfd)
		close(self->fd);
	if (self->rwfd >= 0)
		close(self->rwfd);
	if (self->pidfd >= 0)
		close(self->pidfd);
}

/* ---------------------------------------------------------------------
 * Installing and removing.
 */

/* Guards fault on read and write; writes around them land as usual. */
TEST_F(guard, install_faults_on_read_and_write)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = guarded_region(_metadata, self, pt, acc);
	size_t i;

	if (IS(PB_WRITABLE)) {
		for (i = 0; i < self->nr; i++)
			if (pt[i] != 'G')
				ASSERT_EQ(0, probe_write(p + i * page_size + 7,
							 ptmark_stamp(PTMARK_BY_CHILD, i)));
		/* Only byte 7 changed: the page reads as mixed ('#'). */
		layout(self, acc, 'G', '#');
	}
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/* Removal unblocks the pages; what they show is what a zap leaves. */
TEST_F(guard, remove_restores_access)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = guarded_region(_metadata, self, pt, acc);

	ASSERT_EQ(0, guard_remove(p, self->nr));
	/* Removal clears markers only; it populates nothing. */
	layout(self, pt, '.', 'P');
	layout(self, acc, 'z', 'p');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/* Installing again, or over a wider range, keeps every marker. */
TEST_F(guard, install_is_idempotent)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = guarded_region(_metadata, self, pt, acc);

	ASSERT_TRUE(apply_pattern(_metadata, self, p, pt, true));
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));

	/* Existing markers are counted as done, the rest zapped and marked. */
	ASSERT_EQ(0, guard_install(p, self->nr));
	pattern_fill(pt, self->nr, 'G');
	pattern_fill(acc, self->nr, 'G');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
	ASSERT_EQ(0, guard_install(p, self->nr));
	ASSERT_TRUE(guard_pattern_is(_metadata, p, pt));
}

/* Removal zaps nothing: mapped pages stay mapped, with their data. */
TEST_F(guard, remove_is_nondestructive)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = map_region(self, self->nr);

	ASSERT_NE(MAP_FAILED, p);
	prime_pages(self, p, self->nr, 0);
	ASSERT_EQ(0, guard_remove(p, self->nr));
	ASSERT_EQ(0, guard_remove(p, self->nr));
	pattern_fill(pt, self->nr, 'P');
	pattern_fill(acc, self->nr, 'p');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));

	/* Removing part of the guards leaves the others alone. */
	layout(self, pt, 'G', '-');
	ASSERT_TRUE(apply_pattern(_metadata, self, p, pt, true));
	ASSERT_EQ(0, guard_remove(p, 2));
	ASSERT_EQ(0, guard_remove(p, 2));
	layout(self, pt, 'G', 'P');
	pt[1] = '.';
	layout(self, acc, 'G', 'p');
	acc[1] = 'z';
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/*
 * Under a marker the file keeps its data: the zap drops only the PTE (and
 * a private copy), never page-cache content, as reads through the fd show.
 */
CASE_NEEDS(guard, file_data_survives_under_markers, PB_FILE, 0)
TEST_F(guard, file_data_survives_under_markers)
{
	char pt[PAT_MAX], acc[PAT_MAX], *buf;
	char *p;
	size_t i;

	p = guarded_region(_metadata, self, pt, acc);
	buf = malloc(page_size);
	ASSERT_NE(NULL, buf);
	for (i = 0; i < self->nr; i++) {
		int want = class_byte(self, concrete_class(self, 'z'), i);

		if (pt[i] != 'G')
			continue;
		ASSERT_EQ((ssize_t)page_size,
			  pread(self->fd, buf, page_size, i * page_size));
		EXPECT_EQ(want, (unsigned char)buf[0]) TH_LOG("page %zu", i);
		EXPECT_EQ(want, (unsigned char)buf[page_size - 1]);
	}
	free(buf);
	ASSERT_TRUE(guard_pattern_is(_metadata, p, pt));
}

/* Argument rules are madvise()'s: alignment, rounding, overflow, holes. */
TEST_F(guard, install_validates_arguments)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = map_region(self, self->nr);

	ASSERT_NE(MAP_FAILED, p);
	prime_pages(self, p, self->nr, 0);

	errno = 0;
	EXPECT_EQ(-1, guard_apply(p + 1, page_size, true));
	EXPECT_EQ(EINVAL, errno);
	/* A length that rounds up to nothing wrapped around: EINVAL. */
	errno = 0;
	EXPECT_EQ(-1, guard_apply(p, (size_t)-1, true));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, guard_apply(p, 0, true));
	pattern_fill(pt, self->nr, 'P');
	ASSERT_TRUE(guard_pattern_is(_metadata, p, pt));

	/* The length is rounded up to whole pages. */
	EXPECT_EQ(0, guard_apply(p, page_size + 1, true));
	pattern_mark(pt, 0, 2, 'G');
	pattern_fill(acc, self->nr, 'p');
	pattern_mark(acc, 0, 2, 'G');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
	EXPECT_EQ(0, guard_apply(p, page_size + 1, false));

	/* Nothing mapped at all: ENOMEM. */
	ASSERT_EQ(0, munmap(p, self->nr * page_size));
	errno = 0;
	EXPECT_EQ(-1, guard_install(p, self->nr));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(0, vmas_in_range(p, self->nr * page_size));
}

/*
 * A hole in the range does not stop the walk: every mapped part is
 * guarded and the call still reports ENOMEM (madvise_walk_vmas() notes
 * the gap and carries on).
 */
TEST_F(guard, install_over_hole_guards_mapped_parts)
{
	size_t a = self->nr / 4, b = self->nr / 2;
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = map_region(self, self->nr);

	ASSERT_NE(MAP_FAILED, p);
	prime_pages(self, p, self->nr, 0);
	ASSERT_EQ(0, munmap(p + a * page_size, (b - a) * page_size));

	errno = 0;
	EXPECT_EQ(-1, guard_install(p, self->nr));
	EXPECT_EQ(ENOMEM, errno);
	pattern_fill(pt, a, 'G');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, pt, 0));
	pattern_fill(pt, self->nr - b, 'G');
	ASSERT_TRUE(region_is(_metadata, self, p + b * page_size, pt, pt, b));
	EXPECT_EQ(0, vmas_in_range(p + a * page_size, (b - a) * page_size));

	/* Starting inside the hole: the same rule. */
	ASSERT_EQ(0, guard_remove(p, a));
	ASSERT_EQ(0, guard_remove(p + b * page_size, self->nr - b));
	errno = 0;
	EXPECT_EQ(-1, guard_install(p + (a + 1) * page_size,
				    self->nr - a - 1));
	EXPECT_EQ(ENOMEM, errno);
	pattern_fill(pt, a, '.');
	pattern_fill(acc, a, 'z');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
	pattern_fill(pt, self->nr - b, 'G');
	ASSERT_TRUE(region_is(_metadata, self, p + b * page_size, pt, pt, b));
}

/* Removal over a hole likewise clears every mapped part, with ENOMEM. */
TEST_F(guard, remove_over_hole_clears_mapped_parts)
{
	size_t a = self->nr / 4, b = self->nr / 2;
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = map_region(self, self->nr);

	ASSERT_NE(MAP_FAILED, p);
	prime_pages(self, p, self->nr, 0);
	ASSERT_EQ(0, munmap(p + a * page_size, (b - a) * page_size));
	ASSERT_EQ(0, guard_install(p, a));
	ASSERT_EQ(0, guard_install(p + b * page_size, self->nr - b));

	errno = 0;
	EXPECT_EQ(-1, guard_remove(p, self->nr));
	EXPECT_EQ(ENOMEM, errno);
	pattern_fill(pt, a, '.');
	pattern_fill(acc, a, 'z');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
	pattern_fill(pt, self->nr - b, '.');
	pattern_fill(acc, self->nr - b, 'z');
	ASSERT_TRUE(region_is(_metadata, self, p + b * page_size, pt, acc, b));
}

/* One call covers several VMAs, and splits none of them. */
TEST_F(guard, install_spans_vmas)
{
	size_t third = self->nr / 3, len = self->nr * page_size;
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = map_region(self, self->nr);

	ASSERT_NE(MAP_FAILED, p);
	prime_pages(self, p, self->nr, 0);
	/* A flag only the middle third has keeps three VMAs apart. */
	ASSERT_EQ(0, madvise(p + third * page_size, third * page_size,
			     MADV_DONTDUMP));
	ASSERT_EQ(3, vmas_in_range(p, len));

	ASSERT_EQ(0, guard_install(p, self->nr));
	pattern_fill(pt, self->nr, 'G');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, pt, 0));
	EXPECT_EQ(3, vmas_in_range(p, len));

	ASSERT_EQ(0, guard_remove(p, self->nr));
	pattern_fill(pt, self->nr, '.');
	pattern_fill(acc, self->nr, 'z');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
	EXPECT_EQ(3, vmas_in_range(p, len));
}

/*
 * The walk stops at the first VMA that refuses: VMAs before it are
 * guarded, the refusing one and those after it are left untouched.
 */
TEST_F(guard, install_stops_at_locked_vma)
{
	size_t a = self->nr / 4, b = self->nr / 2;
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = map_region(self, self->nr);

	ASSERT_NE(MAP_FAILED, p);
	prime_pages(self, p, self->nr, 0);
	ASSERT_EQ(0, mlock(p + a * page_size, (b - a) * page_size))
		TH_LOG("mlock: %s", strerror(errno));
	ASSERT_EQ(3, vmas_in_range(p, self->nr * page_size));

	errno = 0;
	EXPECT_EQ(-1, guard_install(p, self->nr));
	EXPECT_EQ(EINVAL, errno);
	pattern_fill(pt, self->nr, 'P');
	pattern_mark(pt, 0, a, 'G');
	pattern_fill(acc, self->nr, 'p');
	pattern_mark(acc, 0, a, 'G');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/* ---------------------------------------------------------------------
 * mlock, munmap, mprotect and the VMA splits and merges they cause.
 */

/*
 * Installing zaps, which a locked VMA must never suffer: install is
 * refused with EINVAL (is_valid_guard_vma() without allow_locked), and
 * nothing is zapped - whether the lock populated the range or not.
 */
TEST_F(guard, mlock_refuses_install)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = map_region(self, self->nr);
	char *q;

	ASSERT_NE(MAP_FAILED, p);
	prime_pages(self, p, self->nr, 0);
	ASSERT_EQ(0, mlock(p, self->nr * page_size))
		TH_LOG("mlock: %s", strerror(errno));
	errno = 0;
	EXPECT_EQ(-1, guard_install(p + page_size, 1));
	EXPECT_EQ(EINVAL, errno);
	pattern_fill(pt, self->nr, 'P');
	pattern_fill(acc, self->nr, 'p');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));

	/* Lock-on-fault is VM_LOCKED too, even with nothing faulted in. */
	q = map_region(self, self->nr);
	ASSERT_NE(MAP_FAILED, q);
	ASSERT_EQ(0, mlock2(q, self->nr * page_size, MLOCK_ONFAULT));
	errno = 0;
	EXPECT_EQ(-1, guard_install(q, self->nr));
	EXPECT_EQ(EINVAL, errno);
	pattern_fill(pt, self->nr, '.');
	ASSERT_TRUE(guard_pattern_is(_metadata, q, pt));

	/* Unlocked again, the same range takes markers. */
	ASSERT_EQ(0, munlock(q, self->nr * page_size));
	ASSERT_EQ(0, guard_install(q, self->nr));
	pattern_fill(pt, self->nr, 'G');
	ASSERT_TRUE(region_is(_metadata, self, q, pt, pt, 0));
}

/*
 * Locking a guarded range locks the VMA but then fails to populate it:
 * mlock() faults pages in until the first guard, whose -EFAULT it
 * reports as ENOMEM (__mm_populate() without ignore_errors).  That first
 * fault is a read fault on shared file mappings, whose fault-around may
 * map more of the cached file.  Removal is allowed on the locked VMA,
 * since it zaps nothing.
 */
TEST_F(guard, mlock_allows_remove)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = guarded_region(_metadata, self, pt, acc);
	char around;

	ASSERT_EQ(0, madvise(p, self->nr * page_size, MADV_DONTNEED));
	errno = 0;
	ASSERT_EQ(-1, mlock(p, self->nr * page_size));
	ASSERT_EQ(ENOMEM, errno);
	EXPECT_TRUE(smaps_has_vmflag(p, "lo"));
	around = IS(PB_FILE) && IS(PB_SHARED) ? '-' : '.';
	layout(self, pt, 'G', around);
	pt[0] = 'P';
	ASSERT_TRUE(guard_pattern_is(_metadata, p, pt));

	ASSERT_EQ(0, guard_remove(p, self->nr));
	EXPECT_TRUE(smaps_has_vmflag(p, "lo"));
	pattern_fill(pt, self->nr, around);
	pt[0] = 'P';
	pattern_fill(acc, self->nr, 'z');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/*
 * A guarded VMA can be locked, and then holds guards that cannot be
 * installed again.  mlockall(MCL_CURRENT) ignores populate errors
 * (mm_populate()), unlike mlock(): it returns 0, having locked the VMA
 * and populated it up to its first guard.  MCL_ONFAULT and MLOCK_ONFAULT
 * lock without populating and return 0 too.  MADV_GUARD_INSTALL then
 * refuses the VMA with EINVAL, over a none entry or a guard alike
 * (is_valid_guard_vma(): its zap must never meet locked pages), while
 * MADV_GUARD_REMOVE works; unlocked, the VMA takes guards again.  This is
 * by design (the check's comment: "A user could lock after setting a
 * guard range but that's fine"), so a process restored from a
 * checkpoint must get its guards back before its memory is locked.
 */
TEST_F(guard, mlockall_locks_guarded_vma)
{
	char pt[PAT_MAX], acc[PAT_MAX], want[PAT_MAX];
	char *p = guarded_region(_metadata, self, pt, acc);
	size_t len = self->nr * page_size;
	char around;

	ASSERT_EQ(0, madvise(p, len, MADV_DONTNEED));
	ASSERT_EQ(0, mlockall(MCL_CURRENT))
		TH_LOG("mlockall: %s", strerror(errno));
	EXPECT_TRUE(smaps_has_vmflag(p, "lo"));
	around = IS(PB_FILE) && IS(PB_SHARED) ? '-' : '.';
	layout(self, want, 'G', around);
	want[0] = 'P';
	ASSERT_TRUE(guard_pattern_is(_metadata, p, want));
	/* Page 2 is none (or cached), page 1 a guard: both refused. */
	errno = 0;
	EXPECT_EQ(-1, guard_install(p + 2 * page_size, 1));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(-1, guard_install(p + page_size, 1));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_TRUE(guard_pattern_is(_metadata, p, want));

	ASSERT_EQ(0, munlockall());
	EXPECT_FALSE(smaps_has_vmflag(p, "lo"));
	ASSERT_EQ(0, guard_install(p + 2 * page_size, 1));
	want[2] = 'G';
	ASSERT_TRUE(guard_pattern_is(_metadata, p, want));

	/* Lock-on-fault populates nothing, and fails on nothing. */
	ASSERT_EQ(0, mlockall(MCL_CURRENT | MCL_ONFAULT))
		TH_LOG("mlockall: %s", strerror(errno));
	EXPECT_TRUE(smaps_has_vmflag(p, "lo"));
	ASSERT_TRUE(guard_pattern_is(_metadata, p, want));
	errno = 0;
	EXPECT_EQ(-1, guard_install(p + 4 * page_size, 1));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, guard_remove(p + 2 * page_size, 1));
	want[2] = '.';
	ASSERT_TRUE(guard_pattern_is(_metadata, p, want));
	ASSERT_EQ(0, munlockall());

	ASSERT_EQ(0, mlock2(p, len, MLOCK_ONFAULT));
	EXPECT_TRUE(smaps_has_vmflag(p, "lo"));
	ASSERT_TRUE(guard_pattern_is(_metadata, p, want));
	errno = 0;
	EXPECT_EQ(-1, guard_install(p + 2 * page_size, 1));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, munlock(p, len));
	ASSERT_EQ(0, guard_install(p + 2 * page_size, 1));
	want[2] = 'G';
	ASSERT_TRUE(guard_pattern_is(_metadata, p, want));
}

/* munmap() drops markers: a new mapping in their place is clean. */
TEST_F(guard, munmap_drops_markers)
{
	size_t mid = self->nr / 2;
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = guarded_region(_metadata, self, pt, acc);

	ASSERT_EQ(0, munmap(p, mid * page_size));
	ASSERT_EQ(p, map_backing(self, p, mid, self->prot, 0));
	pattern_mark(pt, 0, mid, '.');
	pattern_mark(acc, 0, mid, 'z');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/* mmap(MAP_FIXED) over guards unmaps them just as munmap() does. */
TEST_F(guard, map_fixed_replaces_markers)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = guarded_region(_metadata, self, pt, acc);

	ASSERT_EQ(p, map_backing(self, p, self->nr, self->prot, 0));
	pattern_fill(pt, self->nr, '.');
	pattern_fill(acc, self->nr, 'z');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/* Protection changes rewrite PTEs but leave markers as they are. */
TEST_F(guard, mprotect_keeps_markers)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = guarded_region(_metadata, self, pt, acc);
	size_t len = self->nr * page_size;

	ASSERT_EQ(0, mprotect(p, len, PROT_NONE));
	/* PROT_NONE PTEs still count as present for pagemap. */
	ASSERT_TRUE(guard_pattern_is(_metadata, p, pt));

	ASSERT_EQ(0, mprotect(p, len, PROT_READ));
	layout(self, acc, 'g', 'p');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));

	ASSERT_EQ(0, mprotect(p, len, self->prot));
	layout(self, acc, 'G', 'p');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/*
 * Installing splits no VMA; an mprotect() split keeps the markers in
 * every part, and undoing it merges the parts back into one VMA.
 */
TEST_F(guard, mprotect_split_merge_keeps_markers)
{
	size_t mid = self->nr / 2, len = self->nr * page_size;
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = guarded_region(_metadata, self, pt, acc);

	EXPECT_EQ(1, vmas_in_range(p, len));
	ASSERT_EQ(0, mprotect(p + 2 * page_size, (mid - 1) * page_size,
			      PROT_NONE));
	EXPECT_EQ(3, vmas_in_range(p, len));
	ASSERT_TRUE(guard_pattern_is(_metadata, p, pt));
	pattern_mark(acc, 2, mid - 1, '~');
	ASSERT_TRUE(access_pattern_is(_metadata, self, p, acc, 0));

	ASSERT_EQ(0, mprotect(p + 2 * page_size, (mid - 1) * page_size,
			      self->prot));
	EXPECT_EQ(1, vmas_in_range(p, len));
	layout(self, acc, 'G', 'p');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/* A guarded VMA still merges with a compatible new neighbour. */
TEST_F(guard, guarded_vma_merges_with_neighbour)
{
	size_t n = self->nr, len = n * page_size;
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = map_region(self, 2 * n);

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, munmap(p + len, len));
	prime_pages(self, p, n, 0);
	layout(self, pt, 'G', '-');
	ASSERT_TRUE(apply_pattern(_metadata, self, p, pt, true));

	ASSERT_EQ(p + len, map_backing(self, p + len, n, self->prot, n));
	EXPECT_EQ(1, vmas_in_range(p, 2 * len));
	layout(self, pt, 'G', 'P');
	layout(self, acc, 'G', 'p');
	pattern_fill(pt + n, n, '.');
	pattern_fill(acc + n, n, 'u');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/* Markers go into PROT_NONE VMAs and fault once access is allowed. */
TEST_F(guard, prot_none_accepts_markers)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = map_backing(self, NULL, self->nr, PROT_NONE, 0);

	ASSERT_NE(MAP_FAILED, p);
	layout(self, pt, 'G', '.');
	ASSERT_TRUE(apply_pattern(_metadata, self, p, pt, true));
	ASSERT_TRUE(guard_pattern_is(_metadata, p, pt));
	ASSERT_EQ(0, mprotect(p, self->nr * page_size, self->prot));
	layout(self, acc, 'G', 'u');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/* ---------------------------------------------------------------------
 * Zapping, reclaim and population.
 */

/* MADV_DONTNEED zaps everything but the markers. */
TEST_F(guard, dontneed_keeps_markers)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = guarded_region(_metadata, self, pt, acc);

	ASSERT_EQ(0, madvise(p, self->nr * page_size, MADV_DONTNEED));
	layout(self, pt, 'G', '.');
	layout(self, acc, 'G', 'z');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/*
 * MADV_FREE is for anonymous memory: there it keeps the markers (the
 * lazily freed neighbours stay mapped until reclaim, so their content
 * may read back either way); elsewhere it fails with EINVAL and changes
 * nothing.
 */
TEST_F(guard, free_keeps_markers)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = guarded_region(_metadata, self, pt, acc);

	if (IS(PB_FILE)) {
		errno = 0;
		EXPECT_EQ(-1, madvise(p, self->nr * page_size, MADV_FREE));
		EXPECT_EQ(EINVAL, errno);
	} else {
		ASSERT_EQ(0, madvise(p, self->nr * page_size, MADV_FREE));
		layout(self, acc, 'G', '?');
	}
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/* MADV_COLD only deactivates: markers and mapped neighbours stay. */
TEST_F(guard, cold_keeps_markers)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = guarded_region(_metadata, self, pt, acc);

	ASSERT_EQ(0, madvise(p, self->nr * page_size, MADV_COLD));
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/* MADV_PAGEOUT reclaims around markers without losing one, or any data. */
TEST_F(guard, pageout_keeps_markers)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = guarded_region(_metadata, self, pt, acc);

	if (IS(PB_FILE))
		ASSERT_EQ(0, fsync(self->rwfd));
	ASSERT_EQ(0, madvise(p, self->nr * page_size, MADV_PAGEOUT));
	layout(self, pt, 'G', '-');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/*
 * Paging out swap-backed neighbours.  Anonymous pages (private file
 * copies included) become swap entries beside the markers when there is
 * swap, and stay mapped when there is none.  Shmem pages are unmapped
 * either way - reclaim unmaps before it tries to write out, and without
 * swap shmem_writeout() just keeps them in the page cache.
 */
CASE_NEEDS(guard, pageout_swaps_anon_neighbours, 0, PB_EXT4 | PB_SHARED)
TEST_F(guard, pageout_swaps_anon_neighbours)
{
	bool shmem = IS_BACKING(BK_MEMFD) || IS_BACKING(BK_HUGE_TMPFS);
	bool swapping;
	char pt[PAT_MAX], acc[PAT_MAX], seen[PAT_MAX];
	size_t i, left = 0, nr = self->nr;
	uint64_t *pm;
	char *p;

	p = guarded_region(_metadata, self, pt, acc);
	ASSERT_EQ(0, madvise(p, nr * page_size, MADV_PAGEOUT));

	pm = calloc(nr, sizeof(*pm));
	ASSERT_NE(NULL, pm);
	ASSERT_EQ(0, pagemap_read(p, nr, pm));
	for (i = 0; i < nr; i++)
		seen[i] = pagemap_state(pm[i], pt[i]);
	seen[nr] = '\0';
	free(pm);
	swapping = swap_active();
	TH_LOG("after MADV_PAGEOUT, swap %s: %s", swapping ? "on" : "off",
	       seen);
	if (shmem) {
		layout(self, pt, 'G', '.');
	} else if (swapping) {
		/* Reclaim may fail for some pages, but not for all of them. */
		for (i = 0; i < nr; i++) {
			if (pt[i] != 'G' && seen[i] == 'S')
				pt[i] = 'S';
			left += pt[i] == 'S';
		}
		EXPECT_LT(0, left);
	}
	ASSERT_TRUE(guard_pattern_is(_metadata, p, pt));
	ASSERT_TRUE(access_pattern_is(_metadata, self, p, acc, 0));
}

/* Clean file pages next to markers are reclaimed; the markers stay. */
CASE_NEEDS(guard, pageout_reclaims_file_neighbours, PB_EXT4 | PB_SHARED, 0)
TEST_F(guard, pageout_reclaims_file_neighbours)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	unsigned char *vec;
	char *p;
	size_t i;

	p = guarded_region(_metadata, self, pt, acc);
	ASSERT_EQ(0, fsync(self->rwfd));
	ASSERT_EQ(0, madvise(p, self->nr * page_size, MADV_PAGEOUT));
	layout(self, pt, 'G', '.');
	ASSERT_TRUE(guard_pattern_is(_metadata, p, pt));
	/* Gone from the page cache too: reclaimed, not just unmapped. */
	vec = calloc(self->nr, 1);
	ASSERT_NE(NULL, vec);
	ASSERT_EQ(0, mincore(p, self->nr * page_size, vec));
	for (i = 0; i < self->nr; i++)
		if (pt[i] != 'G')
			EXPECT_EQ(0, vec[i] & 1) TH_LOG("page %zu", i);
	free(vec);
	ASSERT_TRUE(access_pattern_is(_metadata, self, p, acc, 0));
}

/*
 * Populating faults pages in one by one and stops at the first guard with
 * EFAULT (the marker's VM_FAULT_SIGSEGV becomes -EFAULT in GUP): pages
 * before it are mapped, the guard stays a guard.
 */
static void check_populate_stops(struct __test_metadata *_metadata,
				 FIXTURE_DATA(guard) *self, int advice)
{
	size_t g = self->nr / 2;
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = map_region(self, self->nr);

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, guard_install(p + g * page_size, 1));
	errno = 0;
	EXPECT_EQ(-1, madvise(p, self->nr * page_size, advice));
	EXPECT_EQ(EFAULT, errno);
	pattern_fill(pt, self->nr, '-');
	pattern_mark(pt, 0, g, 'P');
	pt[g] = 'G';
	ASSERT_TRUE(guard_pattern_is(_metadata, p, pt));

	/* Around the guard, population works. */
	ASSERT_EQ(0, madvise(p + (g + 1) * page_size,
			     (self->nr - g - 1) * page_size, advice));
	pattern_fill(pt, self->nr, 'P');
	pt[g] = 'G';
	pattern_fill(acc, self->nr, 'u');
	acc[g] = 'G';
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

TEST_F(guard, populate_read_stops_at_guard)
{
	check_populate_stops(_metadata, self, MADV_POPULATE_READ);
}

CASE_NEEDS(guard, populate_write_stops_at_guard, PB_WRITABLE, 0)
TEST_F(guard, populate_write_stops_at_guard)
{
	check_populate_stops(_metadata, self, MADV_POPULATE_WRITE);
}

/*
 * Readahead hints around markers: MADV_SEQUENTIAL, MADV_WILLNEED (swap-in
 * readahead for anonymous memory, page-cache readahead for files) and
 * readahead(2) fill caches but map nothing over a marker.
 */
TEST_F(guard, willneed_and_sequential_keep_markers)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = guarded_region(_metadata, self, pt, acc);
	size_t len = self->nr * page_size;

	ASSERT_EQ(0, madvise(p, len, MADV_DONTNEED));
	ASSERT_EQ(0, madvise(p, len, MADV_SEQUENTIAL));
	ASSERT_EQ(0, madvise(p, len, MADV_WILLNEED));
	if (IS(PB_FILE))
		ASSERT_EQ(0, readahead(self->fd, 0, len));
	layout(self, pt, 'G', '-');
	layout(self, acc, 'G', 'z');
	/* The access check reads the neighbours in ascending order. */
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
	layout(self, pt, 'G', 'P');
	ASSERT_TRUE(guard_pattern_is(_metadata, p, pt));
	ASSERT_EQ(0, madvise(p, len, MADV_NORMAL));
}

/* Page cache filled before the install: the install still takes over. */
CASE_NEEDS(guard, readahead_before_install, PB_FILE, 0)
TEST_F(guard, readahead_before_install)
{
	size_t len;
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p;

	len = self->nr * page_size;
	p = map_region(self, self->nr);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, readahead(self->fd, 0, len));
	ASSERT_EQ(0, madvise(p, len, MADV_WILLNEED));
	ASSERT_EQ(0, madvise(p, len, MADV_POPULATE_READ));
	layout(self, pt, 'G', '-');
	ASSERT_TRUE(apply_pattern(_metadata, self, p, pt, true));
	layout(self, pt, 'G', 'P');
	layout(self, acc, 'G', 'u');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/*
 * Which of the first 16 pages one read fault on page 1 maps in a fresh,
 * unguarded region: the fault-around window ('P'), measured rather than
 * read from debugfs, which may be absent or locked down.
 */
static bool fault_around_window(FIXTURE_DATA(guard) *self, char *window)
{
	char *q = map_region(self, self->nr);
	uint64_t pm[16];
	size_t i;
	char v;

	if (q == MAP_FAILED || probe_read(q + page_size, &v) ||
	    pagemap_read(q, 16, pm))
		return false;
	for (i = 0; i < 16; i++)
		window[i] = pm[i] & PM_PRESENT ? 'P' : '.';
	window[16] = '\0';
	munmap(q, self->nr * page_size);
	return true;
}

/*
 * A read fault maps the cached pages around it (filemap_map_pages()),
 * but only into empty entries: with guards on every even page, the
 * fault on page 1 maps the same window as in an unguarded region minus
 * the markers, and every marker survives.
 */
CASE_NEEDS(guard, fault_around_skips_markers, PB_FILE, 0)
TEST_F(guard, fault_around_skips_markers)
{
	char pt[PAT_MAX], acc[PAT_MAX], window[17];
	size_t i;
	char *p;
	char v;

	/* The set-up wrote the file, so all of it is in the page cache. */
	ASSERT_TRUE(fault_around_window(self, window));
	TH_LOG("fault-around window: %s", window);
	p = map_region(self, self->nr);
	ASSERT_NE(MAP_FAILED, p);
	pattern_fill(pt, self->nr, '-');
	pattern_fill(acc, self->nr, 'u');
	for (i = 0; i < 16; i += 2) {
		ASSERT_EQ(0, guard_install(p + i * page_size, 1));
		pt[i] = 'G';
		acc[i] = 'G';
		pt[i + 1] = window[i + 1];
	}
	ASSERT_EQ(0, probe_read(p + page_size, &v));
	ASSERT_TRUE(guard_pattern_is(_metadata, p, pt));
	ASSERT_TRUE(access_pattern_is(_metadata, self, p, acc, 0));
}

/* ---------------------------------------------------------------------
 * mremap(): markers travel with the page tables.
 */

/* The old range of a moved region must be gone. */
static bool range_unmapped(const void *addr, size_t pages)
{
	return vmas_in_range(addr, pages * page_size) == 0;
}

/* A moved region has its markers at the same offsets; the old range is gone. */
TEST_F(guard, mremap_move_carries_markers)
{
	size_t len = self->nr * page_size;
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = guarded_region(_metadata, self, pt, acc);
	char *dst = reserve_aligned(len);

	ASSERT_NE(MAP_FAILED, dst);
	ASSERT_EQ(dst, mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst));
	EXPECT_TRUE(range_unmapped(p, self->nr));
	ASSERT_TRUE(region_is(_metadata, self, dst, pt, acc, 0));
}

/*
 * Guards on both sides of a PMD boundary move intact, both when whole
 * page tables can be moved (source and destination PMD-aligned) and when
 * every entry has to be moved on its own (destination misaligned).
 */
TEST_F(guard, mremap_move_across_pmd_boundary)
{
	size_t n = 2 * pmd_pages, len = n * page_size;
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = map_region(self, n);
	char *aligned, *skewed;

	ASSERT_NE(MAP_FAILED, p);
	prime_pages(self, p, n, 0);
	/* Guards at both ends and on both sides of the PMD boundary. */
	pattern_fill(pt, n, '-');
	pt[0] = 'G';
	pattern_mark(pt, pmd_pages - 1, 2, 'G');
	pt[n - 1] = 'G';
	guards_then(acc, pt, 'p');
	ASSERT_TRUE(apply_pattern(_metadata, self, p, pt, true));
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));

	aligned = reserve_aligned(len);
	ASSERT_NE(MAP_FAILED, aligned);
	ASSERT_EQ(aligned, mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
				  aligned));
	EXPECT_TRUE(range_unmapped(p, n));
	ASSERT_TRUE(region_is(_metadata, self, aligned, pt, acc, 0));

	skewed = reserve_aligned(len + pmd_size);
	ASSERT_NE(MAP_FAILED, skewed);
	skewed += 5 * page_size;
	ASSERT_EQ(skewed, mremap(aligned, len, len,
				 MREMAP_MAYMOVE | MREMAP_FIXED, skewed));
	EXPECT_TRUE(range_unmapped(aligned, n));
	ASSERT_TRUE(region_is(_metadata, self, skewed, pt, acc, 0));
}

/* Growing keeps the markers and adds clean pages, in place or moved. */
TEST_F(guard, mremap_expand_keeps_markers)
{
	size_t n = self->nr, len = n * page_size;
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = map_region(self, 2 * n);
	char *dst;

	/* Keep room right behind the region, then grow into it. */
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, munmap(p + len, len));
	prime_pages(self, p, n, 0);
	layout(self, pt, 'G', 'P');
	ASSERT_TRUE(apply_pattern(_metadata, self, p, pt, true));
	ASSERT_EQ(p, mremap(p, len, 2 * len, 0));
	layout(self, pt, 'G', 'P');
	layout(self, acc, 'G', 'p');
	pattern_fill(pt + n, n, '.');
	pattern_fill(acc + n, n, 'u');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));

	dst = reserve_aligned(3 * len);
	ASSERT_NE(MAP_FAILED, dst);
	ASSERT_EQ(dst, mremap(p, 2 * len, 3 * len,
			      MREMAP_MAYMOVE | MREMAP_FIXED, dst));
	EXPECT_TRUE(range_unmapped(p, 2 * n));
	layout(self, pt, 'G', 'P');
	pattern_fill(pt + n, 2 * n, '.');
	pattern_mark(pt, n, n, 'P');
	layout(self, acc, 'G', 'p');
	pattern_fill(acc + n, 2 * n, 'u');
	ASSERT_TRUE(region_is(_metadata, self, dst, pt, acc, 0));
}

/* Shrinking unmaps the tail, markers included; regrowing finds none. */
TEST_F(guard, mremap_shrink_drops_tail_markers)
{
	size_t n = self->nr, half = n / 2, len = n * page_size;
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = guarded_region(_metadata, self, pt, acc);

	ASSERT_EQ(p, mremap(p, len, half * page_size, 0));
	EXPECT_TRUE(range_unmapped(p + half * page_size, n - half));
	ASSERT_EQ(p, mremap(p, half * page_size, len, 0));
	pattern_mark(pt, half, n - half, '.');
	pattern_mark(acc, half, n - half, 'z');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/*
 * MREMAP_DONTUNMAP moves the page tables, markers included, and leaves
 * the old range mapped but empty.
 */
TEST_F(guard, mremap_dontunmap_moves_markers)
{
	size_t len = self->nr * page_size;
	char pt[PAT_MAX], acc[PAT_MAX], old_pt[PAT_MAX], old_acc[PAT_MAX];
	char *p = guarded_region(_metadata, self, pt, acc);
	char *dst = reserve_aligned(len);

	ASSERT_NE(MAP_FAILED, dst);
	ASSERT_EQ(dst, mremap(p, len, len, MREMAP_MAYMOVE | MREMAP_FIXED |
			      MREMAP_DONTUNMAP, dst));
	ASSERT_TRUE(region_is(_metadata, self, dst, pt, acc, 0));
	pattern_fill(old_pt, self->nr, '.');
	pattern_fill(old_acc, self->nr, 'z');
	ASSERT_TRUE(region_is(_metadata, self, p, old_pt, old_acc, 0));
}

/* ---------------------------------------------------------------------
 * fork().
 */

/*
 * The child gets copies of the markers (copy_nonpresent_pte() copies
 * guard markers always).  Its neighbours may be unmapped: fork skips
 * copying entries a fault can rebuild.
 */
TEST_F(guard, fork_child_inherits_markers)
{
	char pt[PAT_MAX], acc[PAT_MAX], child_pt[PAT_MAX];
	char *p = guarded_region(_metadata, self, pt, acc);
	pid_t pid;

	layout(self, child_pt, 'G', '-');
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(region_is(_metadata, self, p, child_pt, acc, 0) ? 0 : 1);
	ASSERT_EQ(0, wait_child(pid));
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/* The child's markers are its own: removing them leaves the parent's. */
TEST_F(guard, fork_child_remove_leaves_parent)
{
	char pt[PAT_MAX], acc[PAT_MAX], child_pt[PAT_MAX], child_acc[PAT_MAX];
	char *p = guarded_region(_metadata, self, pt, acc);
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (guard_remove(p, self->nr))
			_exit(2);
		layout(self, child_pt, '.', '-');
		layout(self, child_acc, 'z', 'p');
		_exit(region_is(_metadata, self, p, child_pt, child_acc, 0) ?
		      0 : 1);
	}
	ASSERT_EQ(0, wait_child(pid));
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/*
 * The child writes every neighbour of the guards: private backings copy
 * on write and the parent keeps its data; shared backings show the
 * child's writes to the parent.  Markers stay on both sides.
 */
CASE_NEEDS(guard, fork_cow_of_neighbours, PB_WRITABLE, 0)
TEST_F(guard, fork_cow_of_neighbours)
{
	char pt[PAT_MAX], acc[PAT_MAX], child_pt[PAT_MAX], child_acc[PAT_MAX];
	char *p;
	pid_t pid;

	p = guarded_region(_metadata, self, pt, acc);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		size_t i;

		for (i = 0; i < self->nr; i++)
			if (pt[i] != 'G')
				memset(p + i * page_size, ptmark_stamp(PTMARK_BY_CHILD, i),
				       page_size);
		layout(self, child_pt, 'G', 'P');
		layout(self, child_acc, 'G', 'c');
		_exit(region_is(_metadata, self, p, child_pt, child_acc, 0) ?
		      0 : 1);
	}
	ASSERT_EQ(0, wait_child(pid));
	layout(self, acc, 'G', IS(PB_SHARED) ? 'c' : 'p');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/*
 * MADV_WIPEONFORK (anonymous only): the child's copy of the VMA starts
 * empty - no pages, no markers - while the parent keeps both.
 */
CASE_NEEDS(guard, fork_wipeonfork_drops_markers, PB_ANON, 0)
TEST_F(guard, fork_wipeonfork_drops_markers)
{
	char pt[PAT_MAX], acc[PAT_MAX], child_pt[PAT_MAX], child_acc[PAT_MAX];
	char *p;
	pid_t pid;

	p = guarded_region(_metadata, self, pt, acc);
	ASSERT_EQ(0, madvise(p, self->nr * page_size, MADV_WIPEONFORK));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		pattern_fill(child_pt, self->nr, '.');
		pattern_fill(child_acc, self->nr, '0');
		_exit(region_is(_metadata, self, p, child_pt, child_acc, 0) ?
		      0 : 1);
	}
	ASSERT_EQ(0, wait_child(pid));
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/* ---------------------------------------------------------------------
 * userfaultfd.
 */

struct toucher {
	char *addr;
	char val;
	int sig;
};

static void *touch_page(void *arg)
{
	struct toucher *t = arg;

	t->sig = probe_read(t->addr, &t->val);
	return NULL;
}

/*
 * Touch page (file index idx) from a thread; the fault must reach the
 * userfaultfd as a missing-page event, and UFFDIO_COPY resolves it with
 * the mem stamp.
 */
static bool uffd_reports_fault(struct __test_metadata *_metadata, int uffd,
			       char *page, size_t idx)
{
	struct toucher t = { .addr = page };
	struct uffdio_copy copy = {
		.dst = (uintptr_t)page,
		.len = page_size,
	};
	struct uffd_msg msg;
	pthread_t thread;
	bool ok = false;
	char *src;

	src = malloc(page_size);
	if (!src || pthread_create(&thread, NULL, touch_page, &t)) {
		free(src);
		return false;
	}
	memset(src, ptmark_stamp(PTMARK_BY_MEM, idx), page_size);
	copy.src = (uintptr_t)src;
	if (uffd_read_msg(uffd, 2000, &msg) != 1) {
		TH_LOG("no userfaultfd event for %p", page);
	} else if (msg.event != UFFD_EVENT_PAGEFAULT ||
		   (msg.arg.pagefault.address & ~(page_size - 1)) !=
		   (uintptr_t)page) {
		TH_LOG("event %u at %llx, wanted a page fault at %p", msg.event,
		       (unsigned long long)msg.arg.pagefault.address, page);
	} else {
		ok = true;
	}
	/* Resolve whatever happened so that the thread can finish. */
	if (ioctl(uffd, UFFDIO_COPY, &copy) && errno != EEXIST)
		ok = false;
	pthread_join(thread, NULL);
	free(src);
	return ok && t.sig == 0 && (unsigned char)t.val == ptmark_stamp(PTMARK_BY_MEM, idx);
}

/*
 * In a range registered for missing faults, a guard still raises SIGSEGV
 * and queues no event (the marker is handled before any missing-page
 * path), while an empty neighbour is reported - and so is the former
 * guard once its marker is removed.
 */
CASE_NEEDS(guard, uffd_missing_guard_segv_no_event, PB_UFFD_MISSING, 0)
TEST_F(guard, uffd_missing_guard_segv_no_event)
{
	struct uffdio_api api = { .api = UFFD_API };
	char pt[PAT_MAX], acc[PAT_MAX];
	struct uffd_msg msg;
	size_t hole;
	int uffd;
	char *p;

	uffd = uffd_new_fd();
	if (uffd < 0)
		SKIP(return, "userfaultfd unavailable: %s", strerror(-uffd));
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	/* A page is "missing" only if the page cache lacks it: use a hole. */
	hole = IS(PB_FILE) ? self->file_pages - self->nr : 0;
	p = map_backing(self, NULL, self->nr, self->prot, hole);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, uffd_register(uffd, p, self->nr * page_size,
				   UFFDIO_REGISTER_MODE_MISSING));

	layout(self, pt, 'G', '.');
	ASSERT_TRUE(apply_pattern(_metadata, self, p, pt, true));
	layout(self, acc, 'G', '~');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, hole));
	errno = 0;
	EXPECT_EQ(-1, read(uffd, &msg, sizeof(msg)));
	EXPECT_EQ(EAGAIN, errno);

	EXPECT_TRUE(uffd_reports_fault(_metadata, uffd, p + 2 * page_size,
				       hole + 2));
	ASSERT_EQ(0, guard_remove(p + page_size, 1));
	EXPECT_TRUE(uffd_reports_fault(_metadata, uffd, p + page_size,
				       hole + 1));
	pattern_mark(pt, 1, 2, 'P');
	ASSERT_TRUE(guard_pattern_is(_metadata, p, pt));
	close(uffd);
}

enum fill_result {
	FILL_STOPPED,	/* stopped at the guard, as it must */
	FILL_THROUGH,	/* filled every page, the guard's too */
	FILL_WRONG,	/* anything else (logged) */
};

/*
 * @how of @pages pages at @dst, where page @at holds the first guard.
 * A fill must stop there: EEXIST with -EEXIST as its progress when the
 * guard is the first page, else EAGAIN with the @at pages before it
 * done, as for any page that is not empty.  A fill that goes through
 * counts as such only if the guard is gone from pagemap too.
 */
static enum fill_result fill_onto_guard(struct __test_metadata *_metadata,
					int uffd, enum uffd_fill how, char *dst,
					char *src, size_t pages, size_t at)
{
	long long done;
	int ret;

	ret = uffd_fill(uffd, how, dst, src, pages * page_size, false, &done);
	if (done > 0)
		done /= page_size;
	if (ret == 0 && done == (long long)pages)
		return guard_pattern_is(_metadata, dst + at * page_size, "-") ?
		       FILL_THROUGH : FILL_WRONG;
	if (ret == -EEXIST && !at && done == -EEXIST)
		return FILL_STOPPED;
	if (ret == -EAGAIN && at && done == (long long)at)
		return FILL_STOPPED;
	TH_LOG("%s of %zu pages at %p, guard at page %zu: %s, progress %lld",
	       uffd_fills[how].name, pages, dst, at,
	       ret ? strerror(-ret) : "no error", done);
	return FILL_WRONG;
}

/* Fill @pages source pages with the mem stamps of file pages from @pgoff. */
static void stamp_source(char *src, size_t pages, size_t pgoff)
{
	size_t i;

	for (i = 0; i < pages; i++)
		memset(src + i * page_size, ptmark_stamp(PTMARK_BY_MEM, pgoff + i), page_size);
}

/* Add @what to the list of fills that went through a guard. */
static void note_through(char *list, size_t len, const char *what)
{
	size_t used = strlen(list);

	snprintf(list + used, len - used, "%s%s", used ? ", " : "", what);
}

/*
 * A range registered for missing faults, page 0 filled by UFFDIO_COPY
 * (which also gives anonymous memory the anon_vma markers need), with a
 * guard on each of pages 1-4 and 7.  A guard is not an empty page:
 * UFFDIO_ZEROPAGE, UFFDIO_POISON, UFFDIO_MOVE and UFFDIO_COPY, each onto
 * a guard of its own, refuse it with EEXIST, and a copy over none, guard,
 * none (pages 6-8) fills the first page and stops.  Once its guard is
 * removed, page 4 takes the copy.
 */
CASE_NEEDS(guard, uffd_fill_refuses_guard, PB_UFFD_MISSING, 0)
TEST_F(guard, uffd_fill_refuses_guard)
{
	const enum uffd_fill single[] = {
		FILL_ZEROPAGE, FILL_POISON, FILL_MOVE, FILL_COPY,
	};
	const size_t n = 10;
	char through[128] = "";
	enum fill_result r;
	char *p, *src, *mv;
	size_t hole, i;
	long long done;
	__u64 ioctls;
	int uffd;

	uffd = uffd_open(0);
	if (uffd < 0)
		SKIP(return, "userfaultfd unavailable: %s", strerror(-uffd));
	/* Missing pages are holes of the file: use its last pages. */
	hole = IS(PB_FILE) ? self->file_pages - n : 0;
	p = map_backing(self, NULL, n, self->prot, hole);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, uffd_register_ioctls(uffd, p, n * page_size,
					  UFFDIO_REGISTER_MODE_MISSING, &ioctls));
	src = mmap(NULL, 3 * page_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, src);
	mv = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, mv);
	memset(mv, ptmark_stamp(PTMARK_BY_CHILD, 0), page_size);

	stamp_source(src, 1, hole);
	ASSERT_EQ(0, uffd_fill(uffd, FILL_COPY, p, src, page_size, false,
			       &done));
	ASSERT_EQ((long long)page_size, done);
	ASSERT_EQ(0, guard_install(p + page_size, 4));
	ASSERT_EQ(0, guard_install(p + 7 * page_size, 1));
	ASSERT_TRUE(guard_pattern_is(_metadata, p, "-GGGG..G.."));

	for (i = 0; i < ARRAY_SIZE(single); i++) {
		enum uffd_fill how = single[i];
		char *dst = p + (i + 1) * page_size;

		/* UFFDIO_MOVE moves anonymous pages between private VMAs. */
		if (how == FILL_MOVE && IS(PB_FILE))
			continue;
		/* Every kernel with guard markers offers these here. */
		ASSERT_TRUE(ioctls & (1ULL << uffd_fills[how].nr))
			TH_LOG("%s not offered on %s", uffd_fills[how].name,
			       self->b->desc);
		stamp_source(src, 1, hole + i + 1);
		r = fill_onto_guard(_metadata, uffd, how, dst,
				    how == FILL_MOVE ? mv : src, 1, 0);
		if (how == FILL_POISON && ptmark_misobserve("uffd-fill"))
			r = FILL_THROUGH;
		ASSERT_NE(FILL_WRONG, r);
		if (r != FILL_THROUGH)
			continue;
		/*
		 * The bug's symptom is a copy, or a zeropage of shmem, mapping
		 * over the guard; anything else going through is another bug.
		 */
		EXPECT_TRUE(how == FILL_COPY ||
			    (how == FILL_ZEROPAGE && IS(PB_SHMEM)))
			TH_LOG("%s went through a guard on %s",
			       uffd_fills[how].name, self->b->desc);
		note_through(through, sizeof(through), uffd_fills[how].name);
	}
	/* The page UFFDIO_MOVE did not take is still its source's. */
	if (!through[0])
		EXPECT_EQ(ptmark_stamp(PTMARK_BY_CHILD, 0), (unsigned char)mv[0]);

	stamp_source(src, 3, hole + 6);
	r = fill_onto_guard(_metadata, uffd, FILL_COPY, p + 6 * page_size,
			    src, 3, 1);
	ASSERT_NE(FILL_WRONG, r);
	if (r == FILL_THROUGH)
		note_through(through, sizeof(through), "UFFDIO_COPY across");
	if (through[0])
		KERNEL_BUG("uffd-fill-over-guard",
			   "%s went through guards on %s", through,
			   self->b->desc);

	ASSERT_EQ(0, guard_remove(p + 4 * page_size, 1));
	stamp_source(src, 1, hole + 4);
	ASSERT_EQ(0, uffd_fill(uffd, FILL_COPY, p + 4 * page_size, src,
			       page_size, false, &done));
	ASSERT_EQ((long long)page_size, done);
	ASSERT_TRUE(region_is(_metadata, self, p, "PGGGP.PG..", "mGGGm~mG~~",
			      hole));
	KERNEL_BUG_NOT_SEEN("uffd-fill-over-guard");
	close(uffd);
}

/*
 * The same for minor faults: in a range registered for them, whose
 * pages are all in the page cache, UFFDIO_CONTINUE maps a cached page
 * but refuses a guard (page 1) with EEXIST, and a continue over none,
 * guard, none (pages 3-5) maps the first page and stops.  Once its guard
 * is removed, page 1 takes the continue.
 */
CASE_NEEDS(guard, uffd_continue_refuses_guard, PB_UFFD_MINOR, 0)
TEST_F(guard, uffd_continue_refuses_guard)
{
	const size_t n = 8;
	char through[128] = "";
	enum fill_result r;
	long long done;
	int uffd;
	char *p;

	uffd = uffd_open(UFFD_FEATURE_MINOR_SHMEM);
	if (uffd == -EOPNOTSUPP)
		SKIP(return, "kernel lacks UFFD_FEATURE_MINOR_SHMEM");
	if (uffd < 0)
		SKIP(return, "userfaultfd unavailable: %s", strerror(-uffd));
	p = map_backing(self, NULL, n, self->prot, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, uffd_register(uffd, p, n * page_size,
				   UFFDIO_REGISTER_MODE_MINOR));
	ASSERT_LE(n, self->filled_pages);

	ASSERT_EQ(0, uffd_fill(uffd, FILL_CONTINUE, p, NULL, page_size, false,
			       &done));
	ASSERT_EQ((long long)page_size, done);
	ASSERT_EQ(0, guard_install(p + page_size, 1));
	ASSERT_EQ(0, guard_install(p + 4 * page_size, 1));
	ASSERT_TRUE(guard_pattern_is(_metadata, p, "-G..G..."));

	r = fill_onto_guard(_metadata, uffd, FILL_CONTINUE, p + page_size,
			    NULL, 1, 0);
	ASSERT_NE(FILL_WRONG, r);
	if (r == FILL_THROUGH)
		note_through(through, sizeof(through), "UFFDIO_CONTINUE");
	r = fill_onto_guard(_metadata, uffd, FILL_CONTINUE, p + 3 * page_size,
			    NULL, 3, 1);
	ASSERT_NE(FILL_WRONG, r);
	if (r == FILL_THROUGH)
		note_through(through, sizeof(through), "UFFDIO_CONTINUE across");
	if (through[0])
		KERNEL_BUG("uffd-fill-over-guard",
			   "%s went through guards on %s", through,
			   self->b->desc);

	ASSERT_EQ(0, guard_remove(p + page_size, 1));
	ASSERT_EQ(0, uffd_fill(uffd, FILL_CONTINUE, p + page_size, NULL,
			       page_size, false, &done));
	ASSERT_EQ((long long)page_size, done);
	ASSERT_TRUE(region_is(_metadata, self, p, "PP.PG...", "ff~fG~~~", 0));
	KERNEL_BUG_NOT_SEEN("uffd-fill-over-guard");
	close(uffd);
}

/* ---------------------------------------------------------------------
 * The file under the mapping changes: truncation, hole punch, seals.
 */

/*
 * Truncation unmaps the pages beyond the new end of file but keeps the
 * markers there (only munmap-style zaps drop markers): a guard beyond
 * EOF still raises SIGSEGV, its neighbours SIGBUS.  Growing the file
 * back brings zeros, around the same markers.
 */
CASE_NEEDS(guard, truncate_keeps_markers, PB_FILE, 0)
TEST_F(guard, truncate_keeps_markers)
{
	size_t half = self->nr / 2, i;
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p;

	p = guarded_region(_metadata, self, pt, acc);
	ASSERT_EQ(0, ftruncate(self->rwfd, half * page_size));
	for (i = half; i < self->nr; i++) {
		if (pt[i] == 'G')
			continue;
		pt[i] = '.';
		acc[i] = 'B';
	}
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));

	ASSERT_EQ(0, ftruncate(self->rwfd, self->file_pages * page_size));
	for (i = half; i < self->nr; i++)
		if (pt[i] != 'G')
			acc[i] = '0';
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/*
 * After freeing file pages [from, to) under a guarded region: where the
 * page cache backs the mapping, neighbours are unmapped and read zero;
 * private copies survive (a punch does not unmap COWed pages).  The
 * markers stay either way.
 */
static void check_punched(struct __test_metadata *_metadata, FIXTURE_DATA(guard) *self,
			  char *p, char *pt, char *acc, size_t from, size_t to)
{
	size_t i;

	for (i = from; i < to && !IS_BACKING(BK_EXT4_PRIVATE); i++) {
		if (pt[i] == 'G')
			continue;
		pt[i] = '.';
		acc[i] = '0';
	}
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/* fallocate(PUNCH_HOLE) over guarded pages keeps the markers. */
CASE_NEEDS(guard, hole_punch_keeps_markers, PB_PUNCH, 0)
TEST_F(guard, hole_punch_keeps_markers)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p;

	p = guarded_region(_metadata, self, pt, acc);
	ASSERT_EQ(0, fallocate(self->rwfd, FALLOC_FL_PUNCH_HOLE |
			       FALLOC_FL_KEEP_SIZE, 2 * page_size,
			       (self->nr - 4) * page_size));
	check_punched(_metadata, self, p, pt, acc, 2, self->nr - 2);
}

/* MADV_REMOVE punches through the mapping, with the same result. */
CASE_NEEDS(guard, madv_remove_keeps_markers, PB_FILE | PB_SHARED | PB_WRITABLE, 0)
TEST_F(guard, madv_remove_keeps_markers)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p;

	p = guarded_region(_metadata, self, pt, acc);
	ASSERT_EQ(0, madvise(p + 2 * page_size, (self->nr - 4) * page_size,
			     MADV_REMOVE));
	check_punched(_metadata, self, p, pt, acc, 2, self->nr - 2);
}

/*
 * A write-sealed memfd mapped read-only still takes guards: the install
 * checks (is_valid_guard_vma()) look at VM_SPECIAL, VM_HUGETLB and
 * VM_LOCKED only, never at seals or VM_WRITE, and a marker changes our
 * page tables, never the file.  The seal holds throughout.
 */
CASE_NEEDS(guard, memfd_write_seal_allows_markers, PB_SHMEM, PB_THP)
TEST_F(guard, memfd_write_seal_allows_markers)
{
	size_t len = self->nr * page_size, i;
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p, *page;
	int fd;

	fd = memfd_create("ptmark-sealed", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, len));
	page = malloc(page_size);
	ASSERT_NE(NULL, page);
	for (i = 0; i < self->nr; i++) {
		memset(page, file_byte(self, i), page_size);
		ASSERT_EQ((ssize_t)page_size,
			  pwrite(fd, page, page_size, i * page_size));
	}
	ASSERT_EQ(0, fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE));
	EXPECT_EQ(MAP_FAILED, mmap(NULL, len, PROT_READ | PROT_WRITE,
				   MAP_SHARED, fd, 0));
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);

	layout(self, pt, 'G', '.');
	ASSERT_TRUE(apply_pattern(_metadata, self, p, pt, true));
	layout(self, acc, 'g', 'f');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
	ASSERT_EQ(0, guard_remove(p, self->nr));
	pattern_fill(acc, self->nr, 'f');
	ASSERT_TRUE(access_pattern_is(_metadata, self, p, acc, 0));

	errno = 0;
	EXPECT_EQ(-1, mprotect(p, len, PROT_READ | PROT_WRITE));
	EXPECT_EQ(EACCES, errno);
	errno = 0;
	EXPECT_EQ(-1, pwrite(fd, page, page_size, 0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(F_SEAL_WRITE, fcntl(fd, F_GET_SEALS));
	free(page);
	close(fd);
}

/* ---------------------------------------------------------------------
 * Zero pages, THP collapse and splitting.
 */

/* move_pages(nodes == NULL) status of each page; false if unusable. */
static bool page_nodes(void *addr, size_t n, int *status)
{
	void **pages = calloc(n, sizeof(*pages));
	size_t i;
	long ret;

	if (!pages)
		return false;
	for (i = 0; i < n; i++)
		pages[i] = (char *)addr + i * page_size;
	ret = move_pages(0, n, pages, NULL, status, 0);
	free(pages);
	return ret == 0;
}

/*
 * Read faults on anonymous memory map the shared zeropage (the huge one
 * for THP, where use_zero_page allows it; a guard splits that PMD into
 * small zeropage entries): do_anonymous_page() does so everywhere but
 * where mm_forbids_zeropage() (s390 KVM guests, not a machine this suite
 * runs on).  Guards among them split nothing but their own entries, and
 * the neighbours remain zeropage mappings: PAGEMAP_SCAN PAGE_IS_PFNZERO
 * says so, and move_pages() reports them -EFAULT (zero page) while the
 * guards are -ENOENT (no page at all).
 */
CASE_NEEDS(guard, zeropage_neighbours, PB_ANON, 0)
TEST_F(guard, zeropage_neighbours)
{
	char pt[PAT_MAX], acc[PAT_MAX], want[PAT_MAX], seen[PAT_MAX];
	int *status;
	char *p;
	size_t i;

	p = map_region(self, self->nr);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, madvise(p, self->nr * page_size, MADV_POPULATE_READ));
	layout(self, pt, 'G', 'P');
	ASSERT_TRUE(apply_pattern(_metadata, self, p, pt, true));
	ASSERT_TRUE(guard_pattern_is(_metadata, p, pt));

	ASSERT_LE(0, scan_pattern(p, self->nr, PAGE_IS_PFNZERO, false, seen))
		TH_LOG("PAGEMAP_SCAN: %s", strerror(errno));
	layout(self, want, '.', 'X');
	EXPECT_STREQ(want, seen);
	status = calloc(self->nr, sizeof(*status));
	ASSERT_NE(NULL, status);
	ASSERT_TRUE(page_nodes(p, self->nr, status))
		TH_LOG("move_pages: %s", strerror(errno));
	for (i = 0; i < self->nr; i++) {
		EXPECT_EQ(pt[i] == 'G' ? -ENOENT : -EFAULT, status[i])
			TH_LOG("page %zu", i);
	}
	free(status);

	layout(self, acc, 'G', '0');
	ASSERT_TRUE(access_pattern_is(_metadata, self, p, acc, 0));
	ASSERT_EQ(0, guard_remove(p, self->nr));
	pattern_fill(acc, self->nr, '0');
	ASSERT_TRUE(access_pattern_is(_metadata, self, p, acc, 0));
}

/* kB of PMD-mapped THP in the VMA holding addr. */
static long pmd_mapped_kb(FIXTURE_DATA(guard) *self, const void *addr)
{
	return smaps_kb(addr, IS(PB_FILE) ? "ShmemPmdMapped:" :
			"AnonHugePages:");
}

/*
 * MADV_COLLAPSE of [p, p + len): 0 or its errno.  EAGAIN is
 * collapse_file() meeting dirty pages or pages still in a per-CPU LRU
 * batch: transient, so write back and ask again, three times.
 */
static int collapse_retrying(char *p, size_t len)
{
	int i;

	for (i = 0; i < 3; i++) {
		if (!madvise(p, len, MADV_COLLAPSE))
			return 0;
		if (errno != EAGAIN)
			return errno;
		sync();
	}
	return EAGAIN;
}

/*
 * Map what a collapse can take: a private file mapping's written pages
 * are anonymous copies, which no file THP can replace, so read those in.
 */
static char prime_for_collapse(FIXTURE_DATA(guard) *self, char *p, size_t n,
			       size_t pgoff)
{
	size_t i;

	if (!IS(PB_FILE) || IS(PB_SHARED)) {
		prime_pages(self, p, n, pgoff);
		return 'p';
	}
	for (i = 0; i < n; i++)
		(void)*(volatile char *)(p + i * page_size);
	return 'u';
}

/*
 * MADV_COLLAPSE refuses a range holding guards.  For anonymous memory
 * the scan counts markers as non-present entries and the swap-in step
 * then faults on one (VM_FAULT_SIGSEGV), ending in SCAN_FAIL, which
 * madvise_collapse_errno() turns into EINVAL; file ranges fail when the
 * collapsed folio cannot be mapped over non-present entries
 * (SCAN_PTE_NON_PRESENT, EINVAL as well).  The same kind of range
 * without guards collapses, so the guards are what stops it.
 */
TEST_F(guard, collapse_refuses_guarded_range)
{
	size_t n = pmd_pages, len = n * page_size;
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p, data;
	int err;

	if (access("/sys/kernel/mm/transparent_hugepage", F_OK))
		SKIP(return, "kernel without transparent huge pages");
	/* First, the same kind of range without guards must collapse. */
	p = map_backing(self, NULL, n, self->prot, n);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, madvise(p, len, MADV_NOHUGEPAGE));
	prime_for_collapse(self, p, n, n);
	ASSERT_EQ(0, madvise(p, len, MADV_HUGEPAGE));
	err = collapse_retrying(p, len);
	if (err == EAGAIN && IS(PB_EXT4))
		SKIP(return, "MADV_COLLAPSE of an ext4 range kept failing with EAGAIN");
	/* Some kernels (6.18) cannot collapse a writable ext4 range at all. */
	if (err == EINVAL && IS(PB_EXT4))
		SKIP(return, "kernel cannot collapse ext4 file ranges (MADV_COLLAPSE: EINVAL)");
	ASSERT_EQ(0, err) TH_LOG("MADV_COLLAPSE without guards: %s",
				 strerror(err));
	ASSERT_EQ(0, munmap(p, len));

	p = map_backing(self, NULL, n, self->prot, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, madvise(p, len, MADV_NOHUGEPAGE));
	data = prime_for_collapse(self, p, n, 0);
	pattern_fill(pt, n, 'P');
	pt[1] = 'G';
	pt[n / 2] = 'G';
	pt[n - 1] = 'G';
	guards_then(acc, pt, data);
	ASSERT_TRUE(apply_pattern(_metadata, self, p, pt, true));
	ASSERT_EQ(0, madvise(p, len, MADV_HUGEPAGE));

	EXPECT_EQ(EINVAL, collapse_retrying(p, len));
	/*
	 * For files, collapse_file() may already have replaced the small
	 * folios in the page cache - unmapping them - before the step that
	 * maps the new folio sees the markers and gives up.
	 */
	if (IS(PB_FILE))
		guards_then(pt, pt, '-');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
	EXPECT_EQ(0, pmd_mapped_kb(self, p));
}

/*
 * A guard installed into a PMD-mapped THP splits the mapping and zaps
 * just its own page: anonymous neighbours stay mapped by PTEs, while a
 * file THP's PMD is dropped whole (the neighbours refault from the page
 * cache).  Either way all data stays.
 */
CASE_NEEDS(guard, thp_install_splits_only_mapping, PB_THP, 0)
TEST_F(guard, thp_install_splits_only_mapping)
{
	size_t g = pmd_pages / 2;
	char pt[PAT_MAX], acc[PAT_MAX];
	long before;
	char *p;

	p = map_region(self, self->nr);
	ASSERT_NE(MAP_FAILED, p);
	prime_pages(self, p, self->nr, 0);
	before = pmd_mapped_kb(self, p);
	ASSERT_EQ((long)(2 * pmd_size >> 10), before)
		TH_LOG("the region is not PMD-mapped");

	ASSERT_EQ(0, guard_install(p + g * page_size, 1));
	EXPECT_EQ((long)(pmd_size >> 10), pmd_mapped_kb(self, p));
	pattern_fill(pt, self->nr, 'P');
	pattern_mark(pt, 0, pmd_pages, IS(PB_FILE) ? '.' : 'P');
	pt[g] = 'G';
	pattern_fill(acc, self->nr, 'p');
	acc[g] = 'G';
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/* Removal over a PMD-mapped THP has nothing to do and splits nothing. */
CASE_NEEDS(guard, thp_remove_keeps_pmd_mapping, PB_THP, 0)
TEST_F(guard, thp_remove_keeps_pmd_mapping)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	long before;
	char *p;

	p = map_region(self, self->nr);
	ASSERT_NE(MAP_FAILED, p);
	prime_pages(self, p, self->nr, 0);
	before = pmd_mapped_kb(self, p);
	ASSERT_EQ((long)(2 * pmd_size >> 10), before)
		TH_LOG("the region is not PMD-mapped");
	ASSERT_EQ(0, guard_remove(p, self->nr));
	EXPECT_EQ(before, pmd_mapped_kb(self, p));
	pattern_fill(pt, self->nr, 'P');
	pattern_fill(acc, self->nr, 'p');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

struct collapse_race {
	char *p;
	atomic_bool stop;
	atomic_long collapses;
};

static void *collapse_loop(void *arg)
{
	struct collapse_race *r = arg;

	while (!atomic_load(&r->stop))
		if (!madvise(r->p, pmd_size, MADV_COLLAPSE))
			atomic_fetch_add(&r->collapses, 1);
	return NULL;
}

/* At least this long, and on until the race hit often enough... */
#define COLLAPSE_RACE_SECONDS	4
#define COLLAPSE_RACE_HITS	20
/* ...but no longer than this: then it was not exercised. */
#define COLLAPSE_RACE_MAX_SECONDS	30

/*
 * MADV_COLLAPSE of the first PMD, over and over, while one of its pages
 * has its guard removed, is touched and gets its guard back: every
 * install that returns 0 leaves a guard.  A PTE-mapped file THP is
 * collapsed by try_collapse_pte_mapped_thp(), which clears the PTEs,
 * drops their lock and later frees the table without looking again: a
 * guard installed into the table in between is lost (collapse-drops-
 * guard, a huge tmpfs bug).  Anonymous collapse holds the mmap lock for
 * write, so there the race must never lose a guard.  A hit is an install
 * during which a collapse succeeded.
 */
CASE_NEEDS(guard, collapse_races_install, PB_THP, 0)
TEST_F(guard, collapse_races_install)
{
	struct ptmark_race race = PTMARK_RACE("installs a collapse overlapped",
					      COLLAPSE_RACE_HITS);
	struct collapse_race r = { 0 };
	char pt[PAT_MAX], acc[PAT_MAX], *g, v;
	struct timespec t0, t;
	pthread_t thread;
	long before;
	int sig = 0;

	r.p = map_region(self, self->nr);
	ASSERT_NE(MAP_FAILED, r.p);
	prime_pages(self, r.p, self->nr, 0);
	g = r.p + 7 * page_size;

	ASSERT_EQ(0, pthread_create(&thread, NULL, collapse_loop, &r));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		race.rounds++;
		ASSERT_EQ(0, guard_remove(g, 1));
		if (race.rounds & 1)
			ASSERT_EQ(0, probe_read(g, &v));
		before = atomic_load(&r.collapses);
		ASSERT_EQ(0, guard_install(g, 1));
		if (atomic_load(&r.collapses) != before)
			ptmark_race_hit(&race);
		sig = probe_read(g, &v);
		if (ptmark_misobserve("collapse-race"))
			sig = SIGBUS;
		if (!sig || !probe_hit_guard(g))
			break;
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (t.tv_sec - t0.tv_sec < COLLAPSE_RACE_SECONDS ||
		 (ptmark_race_hits(&race) < race.need &&
		  t.tv_sec - t0.tv_sec < COLLAPSE_RACE_MAX_SECONDS));
	atomic_store(&r.stop, true);
	pthread_join(thread, NULL);
	TH_LOG("%lu rounds, %ld collapses", race.rounds,
	       atomic_load(&r.collapses));

	/* The bug's symptom: the install said 0 and the page reads. */
	if (!sig && IS(PB_FILE)) {
		uint64_t e = 0;

		ASSERT_EQ(0, pagemap_read(g, 1, &e));
		KERNEL_BUG("collapse-drops-guard",
			   "MADV_GUARD_INSTALL returned 0 in round %lu under MADV_COLLAPSE of %s, and the page then read without a fault (pagemap %#llx): guard lost",
			   race.rounds, self->b->desc, (unsigned long long)e);
	}
	ASSERT_NE(0, sig) TH_LOG("guard lost in round %lu", race.rounds);
	ASSERT_TRUE(sig == SIGSEGV && probe_hit_guard(g))
		TH_LOG("round %lu: signal %d, not a guard's SIGSEGV at %p",
		       race.rounds, sig, g);
	pattern_fill(pt, self->nr, '-');
	pt[7] = 'G';
	pattern_fill(acc, self->nr, 'p');
	acc[7] = 'G';
	ASSERT_TRUE(region_is(_metadata, self, r.p, pt, acc, 0));
	if (IS(PB_FILE))
		KERNEL_BUG_NOT_SEEN_IN_RACE("collapse-drops-guard", &race);
	else
		RACE_EXERCISED(&race);
}

/* A range over several page tables gets every marker, none beyond. */
TEST_F(guard, install_across_page_tables)
{
	size_t n = 3 * pmd_pages, from = pmd_pages - 3, count = pmd_pages + 6;
	char pt[PAT_MAX], seen[PAT_MAX];
	char *p = map_region(self, n);

	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, guard_install(p + from * page_size, count));
	pattern_fill(pt, n, '.');
	pattern_mark(pt, from, count, 'G');
	ASSERT_TRUE(guard_pattern_is(_metadata, p, pt));
	if (kernel.scan_guard) {
		EXPECT_EQ(1, scan_pattern(p, n, PAGE_IS_GUARD, false, seen));
		pattern_fill(pt, n, '.');
		pattern_mark(pt, from, count, 'X');
		EXPECT_STREQ(pt, seen);
	}
	ASSERT_EQ(0, guard_remove(p, n));
	pattern_fill(pt, n, '.');
	ASSERT_TRUE(guard_pattern_is(_metadata, p, pt));
}

/* ---------------------------------------------------------------------
 * What /proc reports.
 */

/*
 * pagemap flags exactly the guard pages with PM_GUARD_REGION; a marker
 * is a non-present, swap-type entry (pte_to_pagemap_entry() sets
 * PM_SWAP for every non-present entry) with no page, hence no PM_FILE.
 */
TEST_F(guard, pagemap_reports_exact_guards)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	uint64_t *pm;
	char *p;
	size_t i;

	if (!kernel.pagemap_guard)
		SKIP(return, "kernel does not report PM_GUARD_REGION in pagemap");
	p = guarded_region(_metadata, self, pt, acc);
	pm = calloc(self->nr, sizeof(*pm));
	ASSERT_NE(NULL, pm);
	ASSERT_EQ(0, pagemap_read(p, self->nr, pm));
	for (i = 0; i < self->nr; i++) {
		uint64_t flags = pm[i] & (PM_PRESENT | PM_SWAP | PM_FILE |
					  PM_GUARD_REGION);

		/* Neighbours are present; file pages also carry PM_FILE. */
		if (pt[i] != 'G')
			flags &= ~PM_FILE;
		EXPECT_EQ(pt[i] == 'G' ? PM_SWAP | PM_GUARD_REGION : PM_PRESENT,
			  flags)
			TH_LOG("page %zu entry %#llx", i,
			       (unsigned long long)pm[i]);
	}
	ASSERT_EQ(0, guard_remove(p, self->nr));
	ASSERT_EQ(0, pagemap_read(p, self->nr, pm));
	for (i = 0; i < self->nr; i++)
		EXPECT_EQ(0, pm[i] & PM_GUARD_REGION);
	free(pm);
}

/*
 * PAGEMAP_SCAN with PAGE_IS_GUARD returns exactly the guard runs
 * (adjacent guards as one region), and its inverse exactly the rest.
 */
TEST_F(guard, pagemap_scan_reports_exact_guards)
{
	char pt[PAT_MAX], acc[PAT_MAX], want[PAT_MAX], seen[PAT_MAX];
	char *p;

	if (!kernel.scan_guard)
		SKIP(return, "kernel lacks PAGEMAP_SCAN PAGE_IS_GUARD");
	p = guarded_region(_metadata, self, pt, acc);
	EXPECT_EQ(4, scan_pattern(p, self->nr, PAGE_IS_GUARD, false, seen));
	layout(self, want, 'X', '.');
	EXPECT_STREQ(want, seen);
	EXPECT_EQ(5, scan_pattern(p, self->nr, PAGE_IS_GUARD, true, seen));
	layout(self, want, '.', 'X');
	EXPECT_STREQ(want, seen);

	ASSERT_EQ(0, guard_remove(p, self->nr));
	EXPECT_EQ(0, scan_pattern(p, self->nr, PAGE_IS_GUARD, false, seen));
}

/*
 * smaps: Rss follows the zap (exactly the pages still mapped, per
 * pagemap).  Kernels with the "gu" VmFlag mark a VMA that ever had a
 * guard and keep the mark after removal, as the kernel cannot know the
 * last marker went.
 */
TEST_F(guard, smaps_accounts_zapped_pages)
{
	size_t kb = page_size >> 10;
	char pt[PAT_MAX];
	char *p = map_region(self, self->nr);
	bool flagged;

	ASSERT_NE(MAP_FAILED, p);
	prime_pages(self, p, self->nr, 0);
	EXPECT_EQ((long)(self->nr * kb), smaps_kb(p, "Rss:"));
	EXPECT_FALSE(smaps_has_vmflag(p, "gu"));

	layout(self, pt, 'G', '-');
	ASSERT_TRUE(apply_pattern(_metadata, self, p, pt, true));
	EXPECT_EQ(present_pages(p, self->nr) * (long)kb, smaps_kb(p, "Rss:"));
	if (!IS_BACKING(BK_HUGE_TMPFS))
		EXPECT_EQ((long)((self->nr - 5) * kb), smaps_kb(p, "Rss:"));
	flagged = smaps_has_vmflag(p, "gu");

	ASSERT_EQ(0, guard_remove(p, self->nr));
	EXPECT_EQ(present_pages(p, self->nr) * (long)kb, smaps_kb(p, "Rss:"));
	EXPECT_TRUE(!flagged || smaps_has_vmflag(p, "gu"));
	if (!flagged)
		TH_LOG("kernel shows no \"gu\" VmFlag for guarded VMAs");
	layout(self, pt, '.', '-');
	ASSERT_TRUE(guard_pattern_is(_metadata, p, pt));
}

/* ---------------------------------------------------------------------
 * Mappings that refuse markers.
 */

/* Install and removal both refuse with EINVAL; the mapping is untouched. */
static void check_refuses_markers(struct __test_metadata *_metadata,
				  char *p, size_t len, const char *what)
{
	errno = 0;
	EXPECT_EQ(-1, guard_apply(p, len, true)) TH_LOG("%s", what);
	EXPECT_EQ(EINVAL, errno) TH_LOG("%s", what);
	errno = 0;
	EXPECT_EQ(-1, guard_apply(p, len, false)) TH_LOG("%s", what);
	EXPECT_EQ(EINVAL, errno) TH_LOG("%s", what);
}

/*
 * hugetlb VMAs refuse markers (VM_HUGETLB in is_valid_guard_vma()),
 * private anonymous and shared memfd ones alike.
 */
TEST(hugetlb_refuses_markers)
{
	size_t huge = ptmark_hugetlb_size();
	char why[PTMARK_WHY_LEN];
	char *p, *q;
	int fd;

	if (ptmark_backing_unavailable(&ptmark_backings[BK_HUGETLB], why,
				       sizeof(why)))
		SKIP(return, "%s", why);
	p = mmap(NULL, huge, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	fd = ptmark_backing_fd(&ptmark_backings[BK_HUGETLB], huge);
	ASSERT_LE(0, fd);
	q = mmap(NULL, huge, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, q);
	close(fd);
	memset(p, 0x3c, huge);
	memset(q, 0x3d, huge);
	check_refuses_markers(_metadata, p, page_size, "hugetlb MAP_PRIVATE");
	check_refuses_markers(_metadata, q, page_size, "hugetlb memfd");
	EXPECT_EQ(0x3c, p[0]);
	EXPECT_EQ(0x3c, p[huge - 1]);
	EXPECT_EQ(0x3d, q[0]);
	EXPECT_EQ(0x3d, q[huge - 1]);
}

/*
 * The kernel's special mappings are VM_SPECIAL ([vvar] is VM_PFNMAP |
 * VM_IO, and every special mapping is VM_DONTEXPAND): markers refused,
 * and the vDSO keeps working.  (ptmark's own VM_PFNMAP mappings are the
 * pfnmap suite's.)
 */
TEST(special_mappings_refuse_markers)
{
	char *text = read_text_file("/proc/self/maps");
	unsigned long start, end;
	struct timespec ts;
	int found = 0;
	char *line;

	ASSERT_NE(NULL, text);
	for (line = text; line; line = text_next_line(line)) {
		char *nl = strchr(line, '\n');

		if (nl)
			*nl = '\0';
		if ((strstr(line, "[vdso]") || strstr(line, "[vvar")) &&
		    sscanf(line, "%lx-%lx", &start, &end) == 2) {
			check_refuses_markers(_metadata, (char *)start,
					      end - start, line);
			found++;
		}
		if (nl)
			*nl = '\n';
	}
	free(text);
	/* x86-64 and arm64 map a vDSO into every process. */
	ASSERT_LT(0, found);
	EXPECT_EQ(0, clock_gettime(CLOCK_MONOTONIC, &ts));
}

/* ---------------------------------------------------------------------
 * The kernel touching guarded user memory on our behalf.
 *
 * Most of these use page 3 (a guard) and page 2 (its unguarded
 * neighbour) of the standard layout.
 */

/* A memfd holding n pages of byte v, for I/O sources and sinks. */
static int data_memfd(size_t n, int v)
{
	int fd = memfd_create("ptmark-data", MFD_CLOEXEC);
	char *page = malloc(page_size);
	size_t i;

	if (fd < 0 || !page) {
		free(page);
		return -1;
	}
	memset(page, v, page_size);
	for (i = 0; i < n; i++)
		if (pwrite(fd, page, page_size, i * page_size) !=
		    (ssize_t)page_size) {
			close(fd);
			fd = -1;
			break;
		}
	free(page);
	return fd;
}

static int uring_rw(struct io_uring *ring, bool write, int fd, void *buf,
		    size_t len, off_t off)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe)
		return -EBUSY;
	if (write)
		io_uring_prep_write(sqe, fd, buf, len, off);
	else
		io_uring_prep_read(sqe, fd, buf, len, off);
	return uring_submit_one(ring);
}

/*
 * io_uring copies to and from user memory like read(2)/write(2): into or
 * out of a guard page fails with -EFAULT and moves nothing; a buffer that
 * runs into a guard transfers up to it.
 */
TEST_F(guard, io_uring_rw_on_guard_efault)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	struct io_uring ring;
	struct stat st;
	int src, sink, ret;
	char *p;

	ret = io_uring_queue_init(4, &ring, 0);
	if (ret)
		SKIP(return, "io_uring unavailable: %s", strerror(-ret));
	p = guarded_region(_metadata, self, pt, acc);
	src = data_memfd(2, 0xa5);
	sink = memfd_create("ptmark-sink", MFD_CLOEXEC);
	ASSERT_LE(0, src);
	ASSERT_LE(0, sink);

	if (IS(PB_WRITABLE)) {
		EXPECT_EQ(-EFAULT, uring_rw(&ring, false, src, p + 3 * page_size,
					    page_size, 0));
		EXPECT_EQ((int)page_size / 2,
			  uring_rw(&ring, false, src,
				   p + 2 * page_size + page_size / 2,
				   page_size, 0));
		acc[2] = '#';
	}
	EXPECT_EQ(-EFAULT, uring_rw(&ring, true, sink, p + 3 * page_size,
				    page_size, 0));
	ASSERT_EQ(0, fstat(sink, &st));
	EXPECT_EQ(0, st.st_size);
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
	io_uring_queue_exit(&ring);
}

/*
 * Registering fixed buffers pins them; a buffer over a guard cannot be
 * pinned and registration fails with -EFAULT.  (A shared mapping of a
 * disk filesystem's file cannot be pinned long-term for writing at all,
 * writable_file_mapping_allowed(), nor can a read-only one.)
 */
CASE_NEEDS(guard, io_uring_fixed_buffer_over_guard_refused, 0, PB_EXT4 | PB_SHARED)
TEST_F(guard, io_uring_fixed_buffer_over_guard_refused)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	struct io_uring ring;
	struct iovec iov;
	int ret;
	char *p;

	ret = io_uring_queue_init(4, &ring, 0);
	if (ret)
		SKIP(return, "io_uring unavailable: %s", strerror(-ret));
	p = guarded_region(_metadata, self, pt, acc);

	/* The unguarded page alone must be pinnable for this to mean much. */
	iov.iov_base = p + 4 * page_size;
	iov.iov_len = page_size;
	ASSERT_EQ(0, io_uring_register_buffers(&ring, &iov, 1));
	ASSERT_EQ(0, io_uring_unregister_buffers(&ring));

	iov.iov_base = p + 2 * page_size;
	iov.iov_len = 2 * page_size;
	EXPECT_EQ(-EFAULT, io_uring_register_buffers(&ring, &iov, 1));
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
	io_uring_queue_exit(&ring);
}

/*
 * O_DIRECT pins the user pages for the device: a guard page can be
 * neither the target of a read nor the source of a write (EFAULT), and
 * the file is left as it was.
 */
TEST_F(guard, o_direct_on_guard_efault)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p, *check;
	int fd;

	PTMARK_REQUIRE_EXT4();
	fd = ptmark_ext4_tmpfile(O_DIRECT);
	ASSERT_LE(0, fd) TH_LOG("O_DIRECT file: %s", strerror(errno));
	p = guarded_region(_metadata, self, pt, acc);
	ASSERT_EQ((ssize_t)page_size, pwrite(fd, p + 2 * page_size, page_size, 0));

	errno = 0;
	EXPECT_EQ(-1, pwrite(fd, p + 3 * page_size, page_size, 0));
	EXPECT_EQ(EFAULT, errno);
	if (IS(PB_WRITABLE)) {
		errno = 0;
		EXPECT_EQ(-1, pread(fd, p + 3 * page_size, page_size, 0));
		EXPECT_EQ(EFAULT, errno);
		ASSERT_EQ((ssize_t)page_size,
			  pread(fd, p + 4 * page_size, page_size, 0));
		acc[4] = '#';
	}
	check = aligned_alloc(page_size, page_size);
	ASSERT_NE(NULL, check);
	ASSERT_EQ((ssize_t)page_size, pread(fd, check, page_size, 0));
	EXPECT_EQ(0, memcmp(check, p + 2 * page_size, page_size));
	free(check);
	close(fd);
	/* Page 4 now holds page 2's data: neither stamp of page 4. */
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/*
 * process_vm_readv()/writev() on ourselves pin page by page and stop at
 * the guard: a range starting before it transfers the pages before it
 * (partial count), one starting on it fails with EFAULT.
 */
TEST_F(guard, process_vm_rw_stops_at_guard)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = guarded_region(_metadata, self, pt, acc);
	char *buf = malloc(2 * page_size);
	struct iovec local = { .iov_base = buf, .iov_len = 2 * page_size };
	struct iovec remote = { .iov_len = 2 * page_size };
	pid_t me = getpid();

	ASSERT_NE(NULL, buf);
	remote.iov_base = p + 2 * page_size;
	EXPECT_EQ((ssize_t)page_size, process_vm_readv(me, &local, 1, &remote,
						       1, 0));
	EXPECT_EQ(0, memcmp(buf, p + 2 * page_size, page_size));
	remote.iov_base = p + 3 * page_size;
	errno = 0;
	EXPECT_EQ(-1, process_vm_readv(me, &local, 1, &remote, 1, 0));
	EXPECT_EQ(EFAULT, errno);

	if (IS(PB_WRITABLE)) {
		memset(buf, ptmark_stamp(PTMARK_BY_CHILD, 2), 2 * page_size);
		remote.iov_base = p + 2 * page_size;
		EXPECT_EQ((ssize_t)page_size,
			  process_vm_writev(me, &local, 1, &remote, 1, 0));
		remote.iov_base = p + 3 * page_size;
		errno = 0;
		EXPECT_EQ(-1, process_vm_writev(me, &local, 1, &remote, 1, 0));
		EXPECT_EQ(EFAULT, errno);
		acc[2] = 'c';
	}
	free(buf);
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/*
 * /proc/pid/mem goes through access_remote_vm(): reads and writes stop at
 * the guard with a partial count, and one that starts on it gets EIO
 * (mem_rw() turns "nothing copied" into -EIO), FOLL_FORCE or not.
 */
TEST_F(guard, proc_mem_stops_at_guard)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = guarded_region(_metadata, self, pt, acc);
	char *buf = malloc(2 * page_size);
	off_t page2 = (uintptr_t)p + 2 * page_size;
	int fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);

	ASSERT_NE(NULL, buf);
	ASSERT_LE(0, fd);
	EXPECT_EQ((ssize_t)page_size, pread(fd, buf, 2 * page_size, page2));
	EXPECT_EQ(0, memcmp(buf, p + 2 * page_size, page_size));
	errno = 0;
	EXPECT_EQ(-1, pread(fd, buf, page_size, page2 + page_size));
	EXPECT_EQ(EIO, errno);
	errno = 0;
	EXPECT_EQ(-1, pwrite(fd, buf, page_size, page2 + page_size));
	EXPECT_EQ(EIO, errno);
	if (IS(PB_WRITABLE)) {
		memset(buf, ptmark_stamp(PTMARK_BY_CHILD, 2), 2 * page_size);
		EXPECT_EQ((ssize_t)page_size,
			  pwrite(fd, buf, 2 * page_size, page2));
		acc[2] = 'c';
	}
	close(fd);
	free(buf);
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/* A tracer can neither peek nor poke a word of a guard page: EIO. */
TEST_F(guard, ptrace_peek_poke_guard_eio)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = guarded_region(_metadata, self, pt, acc);
	long word;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL))
			_exit(2);
		raise(SIGSTOP);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, NULL, WUNTRACED));

	errno = 0;
	word = ptrace(PTRACE_PEEKDATA, pid, p + 2 * page_size, NULL);
	EXPECT_EQ(0, errno);
	EXPECT_EQ(0x0101010101010101UL *
		  class_byte(self, concrete_class(self, 'p'), 2),
		  (unsigned long)word);
	errno = 0;
	EXPECT_EQ(-1, ptrace(PTRACE_PEEKDATA, pid, p + 3 * page_size, NULL));
	EXPECT_EQ(EIO, errno);
	errno = 0;
	EXPECT_EQ(-1, ptrace(PTRACE_POKEDATA, pid, p + 3 * page_size, 0L));
	EXPECT_EQ(EIO, errno);

	kill(pid, SIGKILL);
	EXPECT_EQ(128 + SIGKILL, wait_child(pid));
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/* read(2) into and write(2) out of guarded buffers stop at the guard. */
TEST_F(guard, read_write_syscalls_stop_at_guard)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = guarded_region(_metadata, self, pt, acc);
	int src = data_memfd(2, ptmark_stamp(PTMARK_BY_CHILD, 2));
	int sink = memfd_create("ptmark-sink", MFD_CLOEXEC);
	struct stat st;

	ASSERT_LE(0, src);
	ASSERT_LE(0, sink);
	if (IS(PB_WRITABLE)) {
		errno = 0;
		EXPECT_EQ(-1, pread(src, p + 3 * page_size, page_size, 0));
		EXPECT_EQ(EFAULT, errno);
		EXPECT_EQ((ssize_t)page_size,
			  pread(src, p + 2 * page_size, 2 * page_size, 0));
		acc[2] = 'c';
	}
	errno = 0;
	EXPECT_EQ(-1, write(sink, p + 3 * page_size, page_size));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ((ssize_t)page_size, write(sink, p + 2 * page_size,
					    2 * page_size));
	ASSERT_EQ(0, fstat(sink, &st));
	EXPECT_EQ((off_t)page_size, st.st_size);
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/* ---------------------------------------------------------------------
 * Concurrency.
 */
struct race {
	FIXTURE_DATA(guard) *self;
	char *p;
	const char *pt;			/* 'G' pages are toggled */
	atomic_bool stop;
	struct ptmark_race faults;	/* a hit: a guard fault of a worker */
	atomic_long bad;		/* wrong data or stray faults */
	atomic_long toggles;
	atomic_long toggle_errors;
};

static void *race_toggler(void *arg)
{
	struct race *r = arg;
	bool install = true;
	size_t i;

	while (!atomic_load(&r->stop)) {
		for (i = 0; r->pt[i]; i++)
			if (r->pt[i] == 'G' &&
			    guard_apply(r->p + i * page_size, page_size,
					install))
				atomic_fetch_add(&r->toggle_errors, 1);
		install = !install;
		atomic_fetch_add(&r->toggles, 1);
	}
	return NULL;
}

/*
 * Workers touch random pages.  Outside the toggled set every access must
 * succeed and see the primed data; inside it an access either succeeds
 * or faults as a guard at exactly the address touched.
 */
static void *race_worker(void *arg)
{
	struct race *r = arg;
	FIXTURE_DATA(guard) *self = r->self;
	unsigned int seed = (uintptr_t)&seed;
	size_t n = strlen(r->pt);

	while (!atomic_load(&r->stop)) {
		size_t i = rand_r(&seed) % n;
		char *addr = r->p + i * page_size + rand_r(&seed) % page_size;
		unsigned char want = class_byte(self,
						concrete_class(self, 'p'), i);
		char v;
		int sig = probe_read(addr, &v);

		if (r->pt[i] == 'G') {
			if (sig && !probe_hit_guard(addr))
				atomic_fetch_add(&r->bad, 1);
			else if (sig)
				ptmark_race_hit(&r->faults);
			continue;
		}
		if (sig || (unsigned char)v != want)
			atomic_fetch_add(&r->bad, 1);
		else if (IS(PB_WRITABLE) && probe_write(addr, v))
			atomic_fetch_add(&r->bad, 1);
	}
	return NULL;
}

/* Pages khugepaged has collapsed since boot, -1 if it does not say. */
static long long khugepaged_collapsed(void)
{
	char *text = read_text_file("/sys/kernel/mm/transparent_hugepage/khugepaged/pages_collapsed");
	long long n = text ? strtoll(text, NULL, 10) : -1;

	free(text);
	return n;
}

/*
 * One thread installs and removes guards while two others fault all
 * around them, for a bounded time: no data is corrupted, and no thread
 * faults anywhere but on a guard.  A hit is a guard fault.
 */
TEST_F(guard, threads_race_install_remove)
{
	struct race r = {
		.self = self,
		.faults = PTMARK_RACE("guard faults while guards came and went", 1),
	};
	struct timespec delay = { .tv_nsec = 200 * 1000 * 1000 };
	char pt[PAT_MAX], acc[PAT_MAX];
	long long collapsed = khugepaged_collapsed();
	pthread_t threads[3];
	int i;

	r.p = guarded_region(_metadata, self, pt, acc);
	r.pt = pt;
	ASSERT_EQ(0, pthread_create(&threads[0], NULL, race_toggler, &r));
	for (i = 1; i < 3; i++)
		ASSERT_EQ(0, pthread_create(&threads[i], NULL, race_worker, &r));
	/*
	 * At least the delay, and on until both sides have had a go: on a
	 * loaded machine (TCG, shared cores) a thread may not run at all in
	 * 200 ms.  Ten seconds is where "may not run" becomes "is stuck".
	 */
	for (i = 0; i < 50; i++) {
		nanosleep(&delay, NULL);
		if (atomic_load(&r.toggles) && ptmark_race_hits(&r.faults))
			break;
	}
	atomic_store(&r.stop, true);
	for (i = 0; i < 3; i++)
		pthread_join(threads[i], NULL);

	r.faults.rounds = atomic_load(&r.toggles);
	EXPECT_EQ(0, atomic_load(&r.bad));
	EXPECT_EQ(0, atomic_load(&r.toggle_errors));
	EXPECT_LT(0, atomic_load(&r.toggles));
	RACE_EXERCISED(&r.faults);

	/* Settle: every toggled page guarded again, neighbours intact. */
	ASSERT_TRUE(apply_pattern(_metadata, self, r.p, pt, true));
	for (i = 0; pt[i]; i++) {
		long long collapsed_now = khugepaged_collapsed();
		bool readable;
		char v;

		if (pt[i] != 'G')
			continue;
		readable = !probe_read(r.p + i * page_size, &v);
		/* A guard that reads with no collapse to blame. */
		if (ptmark_misobserve("khugepaged-race")) {
			readable = true;
			collapsed_now = collapsed;
		}
		if (!readable)
			continue;
		/*
		 * khugepaged collapsing the PTE-mapped huge tmpfs folios the
		 * faults left behind throws away a guard installed meanwhile
		 * (collapse_races_install makes that race on purpose): that
		 * bug only where khugepaged has collapsed pages meanwhile.
		 */
		if (IS_BACKING(BK_HUGE_TMPFS) && collapsed_now > collapsed)
			KERNEL_BUG("collapse-drops-guard",
				   "page %d of huge tmpfs read without a fault after its guard was installed again, while khugepaged collapsed pages",
				   i);
		ASSERT_FALSE(readable)
			TH_LOG("page %d: guard installed again, yet readable", i);
	}
	layout(self, pt, 'G', '-');
	ASSERT_TRUE(region_is(_metadata, self, r.p, pt, acc, 0));
}

/* ---------------------------------------------------------------------
 * More interfaces around markers.
 */

/*
 * A guard fault is decided before any fault handling: it allocates no
 * page, no page table entry next to it, and no file block.
 */
TEST_F(guard, guard_fault_allocates_nothing)
{
	size_t hole = self->file_pages - self->nr;
	char pt[PAT_MAX], acc[PAT_MAX];
	struct stat before, after;
	char *p;

	/* File backings: map a part of the file that is still a hole. */
	p = map_backing(self, NULL, self->nr, self->prot,
			IS(PB_FILE) ? hole : 0);
	ASSERT_NE(MAP_FAILED, p);
	layout(self, pt, 'G', '.');
	ASSERT_TRUE(apply_pattern(_metadata, self, p, pt, true));
	if (IS(PB_FILE))
		ASSERT_EQ(0, fstat(self->rwfd, &before));
	layout(self, acc, 'G', '~');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, hole));
	EXPECT_EQ(0, smaps_kb(p, "Rss:"));
	if (IS(PB_FILE)) {
		ASSERT_EQ(0, fstat(self->rwfd, &after));
		EXPECT_EQ(before.st_blocks, after.st_blocks);
	}
}

/*
 * process_madvise() may advise another process only with a few hints
 * (process_madvise_remote_valid()); guard advice on a remote process is
 * EINVAL, even for a privileged caller, and changes nothing there.
 */
TEST_F(guard, remote_process_madvise_refused)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = map_region(self, self->nr);
	size_t len = self->nr * page_size;
	int go[2], pidfd;
	pid_t pid;
	char c;

	ASSERT_NE(MAP_FAILED, p);
	prime_pages(self, p, self->nr, 0);
	ASSERT_EQ(0, pipe(go));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (read(go[0], &c, 1) != 1)
			_exit(2);
		/* fork() need not copy entries a fault can rebuild. */
		pattern_fill(pt, self->nr, '-');
		pattern_fill(acc, self->nr, 'p');
		_exit(region_is(_metadata, self, p, pt, acc, 0) ? 0 : 1);
	}
	pidfd = pidfd_of(pid);
	ASSERT_LE(0, pidfd);
	EXPECT_EQ(-EINVAL, process_madvise_range(pidfd, p, len,
						 MADV_GUARD_INSTALL));
	EXPECT_EQ(-EINVAL, process_madvise_range(pidfd, p, len,
						 MADV_GUARD_REMOVE));
	ASSERT_EQ(1, write(go[1], "x", 1));
	EXPECT_EQ(0, wait_child(pid));
	close(pidfd);
}

/*
 * process_madvise() with several iovecs installs each range, returning
 * the total; it stops at the first range that fails and returns what it
 * advised before it.
 */
TEST_F(guard, process_madvise_vector_ranges)
{
	size_t mid = self->nr / 2, ps = page_size;
	char pt[PAT_MAX], acc[PAT_MAX];
	struct iovec iov[4];
	char *p;

	p = map_region(self, self->nr);
	ASSERT_NE(MAP_FAILED, p);
	prime_pages(self, p, self->nr, 0);
	iov[0] = (struct iovec){ p + 1 * ps, ps };
	iov[1] = (struct iovec){ p + 3 * ps, ps };
	iov[2] = (struct iovec){ p + (mid - 1) * ps, 2 * ps };
	iov[3] = (struct iovec){ p + (self->nr - 2) * ps, ps };
	EXPECT_EQ((long)(5 * ps), syscall(__NR_process_madvise, self->pidfd,
					  iov, 4, MADV_GUARD_INSTALL, 0));
	layout(self, pt, 'G', 'P');
	layout(self, acc, 'G', 'p');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
	EXPECT_EQ((long)(5 * ps), syscall(__NR_process_madvise, self->pidfd,
					  iov, 4, MADV_GUARD_REMOVE, 0));

	/* A locked range in the middle: only the first range is advised. */
	ASSERT_EQ(0, mlock(p + 4 * ps, ps))
		TH_LOG("mlock: %s", strerror(errno));
	iov[0] = (struct iovec){ p, ps };
	iov[1] = (struct iovec){ p + 4 * ps, ps };
	iov[2] = (struct iovec){ p + (self->nr - 1) * ps, ps };
	EXPECT_EQ((long)ps, syscall(__NR_process_madvise, self->pidfd, iov, 3,
				    MADV_GUARD_INSTALL, 0));
	pattern_fill(pt, self->nr, '-');
	pt[0] = 'G';
	pattern_fill(acc, self->nr, '?');
	acc[0] = 'G';
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/*
 * mincore() treats a marker like an empty entry and asks the page cache
 * (mincore_pte_range()): anonymous guards are not resident, file guards
 * report whether the file page is cached - until that page is punched.
 */
TEST_F(guard, mincore_reports_cache_under_markers)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = guarded_region(_metadata, self, pt, acc);
	unsigned char *vec = calloc(self->nr, 1);
	size_t i;

	ASSERT_NE(NULL, vec);
	ASSERT_EQ(0, mincore(p, self->nr * page_size, vec));
	for (i = 0; i < self->nr; i++) {
		EXPECT_EQ(pt[i] != 'G' || IS(PB_FILE), vec[i] & 1)
			TH_LOG("page %zu", i);
	}
	if (IS(PB_FILE)) {
		ASSERT_EQ(0, fallocate(self->rwfd, FALLOC_FL_PUNCH_HOLE |
				       FALLOC_FL_KEEP_SIZE, 3 * page_size,
				       page_size));
		ASSERT_EQ(0, mincore(p, self->nr * page_size, vec));
		EXPECT_EQ(0, vec[3] & 1);
		EXPECT_EQ(1, vec[1] & 1);
	}
	free(vec);
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

/* Clearing referenced and soft-dirty bits walks past markers untouched. */
TEST_F(guard, clear_refs_keeps_markers)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = guarded_region(_metadata, self, pt, acc);
	int fd = open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC);

	ASSERT_LE(0, fd);
	ASSERT_EQ(1, write(fd, "1", 1));
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
	/* "4" clears soft-dirty bits (a no-op where none are tracked). */
	ASSERT_EQ(1, write(fd, "4", 1)) TH_LOG("clear_refs 4: %s", strerror(errno));
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
	close(fd);
}

/*
 * move_pages() sees no page behind a marker (-ENOENT) and migrates the
 * neighbours around it; the markers stay.  Where migration fails, the
 * second query (nodes == NULL) says where each page really is.
 */
TEST_F(guard, move_pages_reports_guards_absent)
{
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p;
	void **pages;
	int *status, *nodes, target;
	size_t i;
	long ret;

	if (numa_available() < 0)
		SKIP(return, "no NUMA support");
	p = guarded_region(_metadata, self, pt, acc);
	pages = calloc(self->nr, sizeof(*pages));
	status = calloc(self->nr, sizeof(*status));
	nodes = calloc(self->nr, sizeof(*nodes));
	ASSERT_TRUE(pages && status && nodes);
	ASSERT_TRUE(page_nodes(p, self->nr, status));
	for (i = 0; i < self->nr; i++) {
		EXPECT_TRUE(pt[i] == 'G' ? status[i] == -ENOENT : status[i] >= 0)
			TH_LOG("page %zu status %d", i, status[i]);
	}

	target = (status[0] + 1) % (numa_max_node() + 1);
	for (i = 0; i < self->nr; i++) {
		pages[i] = p + i * page_size;
		nodes[i] = target;
	}
	ret = move_pages(0, self->nr, pages, nodes, status, MPOL_MF_MOVE);
	ASSERT_LE(0, ret);
	/*
	 * A page the kernel could not isolate just then (a THP being split
	 * or under reclaim) says -EBUSY and is not counted in the return
	 * value; it stays where it was.  A guard page is never a page.
	 */
	for (i = 0; ret == 0 && i < self->nr; i++) {
		EXPECT_TRUE(pt[i] == 'G' ? status[i] == -ENOENT :
			    status[i] == target || status[i] == -EBUSY)
			TH_LOG("page %zu status %d", i, status[i]);
		nodes[i] = status[i];
	}
	ASSERT_TRUE(page_nodes(p, self->nr, status));
	for (i = 0; i < self->nr; i++) {
		EXPECT_TRUE(pt[i] == 'G' ? status[i] == -ENOENT :
			    status[i] >= 0 && (ret || nodes[i] == -EBUSY ||
						status[i] == target))
			TH_LOG("page %zu status %d", i, status[i]);
	}
	TH_LOG("moved to node %d, %ld not migrated", target, ret);
	free(pages);
	free(status);
	free(nodes);
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
}

struct stack_probe {
	char *guard;		/* the guard page under the stack */
	int sig;
	int code;
	void *addr;
};

/* Never reached: it only keeps the recursion below formally finite. */
static volatile unsigned long recurse_limit = ULONG_MAX;

/* Burn stack, a kilobyte a call, until something stops us. */
static int __attribute__((noinline)) recurse(unsigned long depth)
{
	volatile char frame[1024];

	frame[0] = depth;
	if (depth >= recurse_limit)
		return 0;
	return recurse(depth + 1) + frame[sizeof(frame) - 1];
}

static void overflow(void *arg)
{
	recurse(0);
}

static void *overflow_thread(void *arg)
{
	struct stack_probe *sp = arg;
	stack_t alt = { .ss_size = 4 * SIGSTKSZ };

	alt.ss_sp = malloc(alt.ss_size);
	if (!alt.ss_sp || sigaltstack(&alt, NULL))
		return NULL;
	/* The SIGSEGV is handled on the alternate stack: ours is full. */
	sp->sig = probe_call(overflow, NULL);
	sp->code = last_fault.code;
	sp->addr = last_fault.addr;
	alt.ss_flags = SS_DISABLE;
	sigaltstack(&alt, NULL);
	free(alt.ss_sp);
	return NULL;
}

/*
 * The use guards are made for: a thread stack in the region with a
 * guard page below it.  Overflowing the stack hits the guard, and the
 * SIGSEGV is delivered on the alternate stack at an address in the guard.
 * The stack is the standard region less the guard, or the C library's
 * smallest thread stack if that is more (ptmark_guarded_stack_pages()).
 */
CASE_NEEDS(guard, stack_overflow_hits_guard, PB_WRITABLE, 0)
TEST_F(guard, stack_overflow_hits_guard)
{
	struct stack_probe sp = { .sig = 0 };
	size_t nr = ptmark_guarded_stack_pages(self->nr);
	char pt[PAT_MAX];
	pthread_attr_t attr;
	pthread_t thread;
	char *p;

	ASSERT_GT(PAT_MAX, nr);
	if (IS(PB_FILE))
		ASSERT_GE(self->file_pages, nr);
	p = map_region(self, nr);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, guard_install(p, 1));
	sp.guard = p;
	ASSERT_EQ(0, pthread_attr_init(&attr));
	ASSERT_EQ(0, pthread_attr_setstack(&attr, p + page_size,
					   (nr - 1) * page_size));
	ASSERT_EQ(0, pthread_create(&thread, &attr, overflow_thread, &sp));
	ASSERT_EQ(0, pthread_join(thread, NULL));
	pthread_attr_destroy(&attr);

	EXPECT_EQ(SIGSEGV, sp.sig);
	EXPECT_EQ(SEGV_MAPERR, sp.code);
	EXPECT_TRUE((char *)sp.addr >= p && (char *)sp.addr < p + page_size)
		TH_LOG("fault at %p, guard at %p", sp.addr, p);
	pattern_fill(pt, nr, '-');
	pt[0] = 'G';
	ASSERT_TRUE(guard_pattern_is(_metadata, p, pt));
}

/*
 * mseal()ed VMAs refuse discards only where the caller could not write
 * the memory anyway: guard install (a discard) is allowed on sealed
 * writable memory and on every file mapping, but EPERM on sealed
 * read-only anonymous memory (can_madvise_modify()).  Removal discards
 * nothing and is always allowed.
 */
TEST_F(guard, mseal_rules)
{
	size_t len = self->nr * page_size;
	char pt[PAT_MAX], acc[PAT_MAX];
	char *p = map_region(self, self->nr);
	char *q;

	ASSERT_NE(MAP_FAILED, p);
	prime_pages(self, p, self->nr, 0);
	if (syscall(__NR_mseal, p, len, 0)) {
		ASSERT_EQ(ENOSYS, errno);
		SKIP(return, "kernel lacks mseal()");
	}
	layout(self, pt, 'G', '-');
	ASSERT_TRUE(apply_pattern(_metadata, self, p, pt, true));
	layout(self, pt, 'G', 'P');
	layout(self, acc, 'G', 'p');
	ASSERT_TRUE(region_is(_metadata, self, p, pt, acc, 0));
	ASSERT_EQ(0, guard_remove(p, self->nr));

	q = map_backing(self, NULL, self->nr, PROT_READ, 0);
	ASSERT_NE(MAP_FAILED, q);
	ASSERT_EQ(0, madvise(q, len, MADV_POPULATE_READ));
	ASSERT_EQ(0, syscall(__NR_mseal, q, len, 0));
	pattern_fill(pt, self->nr, 'P');
	/* q shows the same file as p, so what p wrote through, if shared. */
	pattern_fill(acc, self->nr, 'z');
	if (IS(PB_FILE)) {
		ASSERT_EQ(0, guard_install(q, 1));
		pt[0] = 'G';
		acc[0] = 'g';
	} else {
		errno = 0;
		EXPECT_EQ(-1, guard_install(q, 1));
		EXPECT_EQ(EPERM, errno);
	}
	ASSERT_TRUE(region_is(_metadata, self, q, pt, acc, 0));
	ASSERT_EQ(0, guard_remove(q, self->nr));
	pt[0] = IS(PB_FILE) ? '.' : 'P';
	acc[0] = 'z';
	ASSERT_TRUE(region_is(_metadata, self, q, pt, acc, 0));
}

/* ---------------------------------------------------------------------
 * What the machine offers, probed once before the tests fork.
 */

/*
 * Guard markers came to anonymous memory in 6.13 and to file mappings in
 * 6.15: a kernel between the two generates no file-backed case.
 */
static const char *guard_backing_unavailable(const struct ptmark_backing *b,
					     unsigned int needs)
{
	if ((b->caps & PB_FILE) && kernel.guard_file)
		return "kernel lacks guard regions on file mappings (EINVAL)";
	return NULL;
}

PTMARK_GENERATED_TEST()

int main(int argc, char **argv)
{
	page_size = sysconf(_SC_PAGESIZE);
	pmd_size = ptmark_pmd_size();
	pmd_pages = pmd_size / page_size;
	probe_kernel(&kernel);
	if (kernel.guard) {
		ksft_print_header();
		ksft_exit_skip("kernel lacks MADV_GUARD_INSTALL (%s)\n",
			       kernel.guard == -EINVAL ? "EINVAL" :
			       strerror(-kernel.guard));
	}
	ksft_print_msg("pagemap PM_GUARD_REGION: %s; PAGEMAP_SCAN PAGE_IS_GUARD: %s; swap %s\n",
		       kernel.pagemap_guard ? "yes" :
		       "no, pagemap checks see guards only as absent pages",
		       kernel.scan_guard ? "yes" : "no",
		       swap_active() ? "active" : "off");
	return ptmark_harness_run(argc, argv, guard_backing_unavailable);
}
