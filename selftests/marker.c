// SPDX-License-Identifier: GPL-2.0
/*
 * PTMARK_IOC_MARKER: markers the module installs must be indistinguishable
 * from the ones the kernel makes itself.
 *
 * Guard markers are held against madvise(MADV_GUARD_INSTALL) and
 * process_madvise() on identical mappings of every backing: the same page
 * tables (dense scans, pfns aside), the same pagemap bits, the same
 * behaviour on access, across fork and after removal.  uffd-wp markers are
 * held against those the kernel leaves when it zaps a write-protected page,
 * including the userfault a write to them raises.  Around that: the VMA
 * rules, argument validation, pidfd targets, injection (the module is
 * reloaded with inject=1 for it) and installs racing page faults.
 *
 * Page pictures in the logs use ptmark_record_char(), the debugfs map's
 * letters: 'G' guard marker, 'W' uffd-wp marker, 'B' both, 'K' other
 * markers, 'P' present (any kind), '.' none/unmapped.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ptmark_lib.h"

#define TAINT_USER_BIT		6

#define NR_PAGES		16
/* Mappings compared with one another at most. */
#define MAX_MAPS		3
/* Pages scan_picture() takes at most. */
#define MAX_PICTURE		64
/* Guarded pages of the differential tests: runs of 1, 3, 2 and 1. */
static const char guard_picture[NR_PAGES + 1] = "PGPGGGPPGGPPPPPG";
/* Write-protected pages of the uffd-wp tests. */
static const char wp_picture[NR_PAGES + 1] = "W.WWW..W......WW";

static size_t psize;

static void __attribute__((constructor)) init_page_size(void)
{
	psize = sysconf(_SC_PAGESIZE);
}

/* -- backings ------------------------------------------------------------- */

/* The backings here: ptmark_backings[] by enum ptmark_backing_id. */
#define IS(b, bits)	backing_has(&ptmark_backings[b], (bits))

/* What the file behind page @i holds, and what the tests write there. */
static char file_byte(size_t i)
{
	return ptmark_stamp(PTMARK_BY_FILE, i);
}

static char mem_byte(size_t i)
{
	return ptmark_stamp(PTMARK_BY_MEM, i);
}

static bool backing_writable(enum ptmark_backing_id b)
{
	return IS(b, PB_WRITABLE);
}

/* Page @i before any guard: what the test wrote, or the file's data. */
static char data_byte(enum ptmark_backing_id b, size_t i)
{
	return backing_writable(b) ? mem_byte(i) : file_byte(i);
}

/* Page @i read again after a guard zapped it and went away. */
static char refault_byte(enum ptmark_backing_id b, size_t i)
{
	if (!IS(b, PB_FILE))
		return 0;
	if (IS(b, PB_SHARED | PB_WRITABLE))
		return mem_byte(i);	/* the page cache kept the write */
	return file_byte(i);		/* the private copy is gone */
}

/*
 * A file of @nr pages for backing @b, page i filled with file_byte(i),
 * opened read-only for a read-only backing.  The fd, or -errno.
 */
static int make_file(enum ptmark_backing_id b, size_t nr)
{
	char *buf;
	int fd, ro;
	size_t i;

	fd = ptmark_backing_fd(&ptmark_backings[b], 0);
	if (fd < 0)
		return -errno;

	buf = malloc(nr * psize);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	for (i = 0; i < nr; i++)
		memset(buf + i * psize, file_byte(i), psize);
	if (pwrite(fd, buf, nr * psize, 0) != (ssize_t)(nr * psize)) {
		free(buf);
		close(fd);
		return -EIO;
	}
	free(buf);

	if (IS(b, PB_WRITABLE))
		return fd;
	ro = reopen_fd(fd, O_RDONLY);
	close(fd);
	return ro < 0 ? -errno : ro;
}

/*
 * Map @nr pages of backing @b, at @fixed if not NULL; the address, or
 * NULL with errno set.
 */
static char *map_backing_at(enum ptmark_backing_id b, size_t nr, char *fixed)
{
	int fd = -1;
	char *p;

	if (IS(b, PB_FILE)) {
		fd = make_file(b, nr);
		if (fd < 0) {
			errno = -fd;
			return NULL;
		}
	}
	p = ptmark_backing_mmap(&ptmark_backings[b], fd, fixed, nr * psize,
				PROT_READ | PROT_WRITE, 0, 0);
	if (fd >= 0)
		close(fd);
	return p == MAP_FAILED ? NULL : p;
}

static char *map_backing(enum ptmark_backing_id b, size_t nr)
{
	return map_backing_at(b, nr, NULL);
}

/*
 * @n mappings of @nr pages of @b, each with an unmapped page before and
 * after it: they never merge into one VMA, nothing else lands in a hole
 * punched into them, and each starts life without an anon_vma.  0, or
 * -errno with nothing left mapped.
 */
static int map_apart(enum ptmark_backing_id b, size_t nr, size_t n, char **maps)
{
	size_t slot = nr + 1, k;
	char *base;
	int err;

	base = mmap(NULL, (n * slot + 1) * psize, PROT_NONE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	for (k = 0; k < n; k++) {
		maps[k] = base + (k * slot + 1) * psize;
		if (!map_backing_at(b, nr, maps[k])) {
			err = -errno;
			munmap(base, (n * slot + 1) * psize);
			return err;
		}
		munmap(maps[k] - psize, psize);
	}
	munmap(base + n * slot * psize, psize);
	return 0;
}

/* Map every page: write mem_byte(i) where allowed, read otherwise. */
static void populate(enum ptmark_backing_id b, char *p, size_t nr)
{
	size_t i;

	for (i = 0; i < nr; i++) {
		if (backing_writable(b))
			memset(p + i * psize, mem_byte(i), psize);
		else
			(void)*(volatile char *)(p + i * psize);
	}
}

/* Whether each of the @n bytes at @p is @c. */
static bool bytes_are(const char *p, size_t n, char c)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != c)
			return false;
	return true;
}

static bool page_is(const char *p, char c)
{
	return bytes_are(p, psize, c);
}

static char *map_hugetlb(size_t *len)
{
	char *p;

	*len = ptmark_hugetlb_size();
	if (!*len)
		return NULL;
	p = mmap(NULL, *len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

/* -- scans and pictures --------------------------------------------------- */

static void picture_of(const struct ptmark_record *recs, size_t nr,
		       char *pic)
{
	size_t i;

	for (i = 0; i < nr; i++)
		pic[i] = ptmark_record_char(&recs[i]);
	pic[nr] = '\0';
}

/* The picture of @nr pages at @addr (of @pidfd, or ours when < 0). */
static int scan_picture(int fd, int pidfd, const void *addr, size_t nr,
			char *pic)
{
	struct ptmark_record recs[MAX_PICTURE];
	int ret;

	if (nr > MAX_PICTURE)
		return -E2BIG;
	ret = ptmark_scan_dense_of(fd, pidfd, addr, nr, recs);
	if (!ret)
		picture_of(recs, nr, pic);
	return ret;
}

/* @picture with every 'from' turned into 'to'. */
static void picture_swap(const char *picture, char from, char to, char *out)
{
	size_t i;

	for (i = 0; picture[i]; i++)
		out[i] = picture[i] == from ? to : picture[i];
	out[i] = '\0';
}

static size_t picture_count(const char *picture, char c)
{
	size_t i, n = 0;

	for (i = 0; picture[i]; i++)
		n += picture[i] == c;
	return n;
}

/*
 * Two mappings' pages in the same page-table state: everything a record
 * says but the pfn and the contiguous bit.  Whether arm64 maps a large
 * folio with one contpte block depends on the mapping's virtual
 * alignment, which differs from mapping to mapping.
 */
static bool same_state(const struct ptmark_record *a,
		       const struct ptmark_record *b)
{
	return a->kind == b->kind && a->marker == b->marker &&
	       (a->bits & ~PTMARK_BIT_CONT) == (b->bits & ~PTMARK_BIT_CONT) &&
	       a->vma_flags == b->vma_flags && a->as_flags == b->as_flags;
}

/* Dense scans of @nr pages of each of @n mappings into @recs. */
static int scan_maps(int fd, char *const maps[], size_t n, size_t nr,
		     struct ptmark_record (*recs)[NR_PAGES])
{
	size_t m;
	int ret;

	if (nr > NR_PAGES)
		return -E2BIG;
	for (m = 0; m < n; m++) {
		ret = ptmark_scan_dense_of(fd, -1, maps[m], nr, recs[m]);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Records of @n mappings (@who took them): each shows @want, and each
 * matches the first page by page in everything but pfns.
 */
static void expect_records_alike(struct __test_metadata *_metadata,
				 struct ptmark_record (*recs)[NR_PAGES],
				 const char *const names[], size_t n,
				 size_t nr, const char *want, const char *who)
{
	const struct ptmark_record *a, *b;
	char pic[NR_PAGES + 1];
	size_t m, i;

	for (m = 0; m < n; m++) {
		picture_of(recs[m], nr, pic);
		EXPECT_STREQ(want, pic)
			TH_LOG("%s, scanned by %s", names[m], who);
		for (i = 0; m && i < nr; i++) {
			a = &recs[0][i];
			b = &recs[m][i];
			EXPECT_TRUE(same_state(a, b))
				TH_LOG("%s: page %zu: %s kind %u marker %#x bits %#x vma %#llx, %s kind %u marker %#x bits %#x vma %#llx",
				       who, i, names[0], a->kind, a->marker,
				       a->bits, (unsigned long long)a->vma_flags,
				       names[m], b->kind, b->marker, b->bits,
				       (unsigned long long)b->vma_flags);
		}
	}
}

/* Scan the mappings here and expect_records_alike() them. */
static void expect_scans_alike(struct __test_metadata *_metadata, int fd,
			       char *const maps[], const char *const names[],
			       size_t n, size_t nr, const char *want)
{
	struct ptmark_record recs[MAX_MAPS][NR_PAGES];

	ASSERT_GE(MAX_MAPS, n);
	ASSERT_EQ(0, scan_maps(fd, maps, n, nr, recs));
	expect_records_alike(_metadata, recs, names, n, nr, want, "us");
}

/* The child forked here must not outlive a test that failed. */
static void die_with_parent(pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
}

/*
 * scan_maps() in a child forked now: what fork() gave it.  The child
 * scans itself and sends its records back.
 */
static int scan_maps_in_child(int fd, char *const maps[], size_t n,
			      size_t nr, struct ptmark_record (*recs)[NR_PAGES])
{
	size_t want = n * sizeof(*recs), got = 0;
	pid_t parent = getpid(), pid;
	int pipefd[2], status;
	ssize_t ret = 0;

	if (pipe(pipefd))
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		die_with_parent(parent);
		close(pipefd[0]);
		if (scan_maps(fd, maps, n, nr, recs) ||
		    write(pipefd[1], recs, want) != (ssize_t)want)
			_exit(1);
		_exit(0);
	}
	close(pipefd[1]);
	while (got < want) {
		ret = read(pipefd[0], (char *)recs + got, want - got);
		if (ret <= 0)
			break;
		got += ret;
	}
	close(pipefd[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		return -ECHILD;
	return got == want ? 0 : -EIO;
}

/* The pagemap entries of @nr pages at @addr with the pfns masked out. */
static int pagemap_flags(const void *addr, size_t nr, uint64_t *flags)
{
	size_t i;
	int ret;

	ret = pagemap_read(addr, nr, flags);
	for (i = 0; !ret && i < nr; i++)
		flags[i] &= PM_FLAGS_MASK;
	return ret;
}

/*
 * pagemap of each mapping: the same flags page by page as the first, and
 * @bit set exactly on the pages that are @marked in @picture (@bit 0:
 * the kernel does not report it).
 */
static void expect_pagemaps_alike(struct __test_metadata *_metadata,
				  char *const maps[], const char *const names[],
				  size_t n, const char *picture, char marked,
				  uint64_t bit)
{
	uint64_t ref[NR_PAGES], flags[NR_PAGES];
	size_t m, i, nr = strlen(picture);

	for (m = 0; m < n; m++) {
		ASSERT_EQ(0, pagemap_flags(maps[m], nr, m ? flags : ref));
		for (i = 0; i < nr; i++) {
			uint64_t f = m ? flags[i] : ref[i];

			if (bit)
				EXPECT_EQ(picture[i] == marked, !!(f & bit))
					TH_LOG("%s page %zu pagemap %#llx",
					       names[m], i,
					       (unsigned long long)f);
			if (m)
				EXPECT_EQ(ref[i], flags[i])
					TH_LOG("page %zu: %s %#llx, %s %#llx",
					       i, names[0],
					       (unsigned long long)ref[i],
					       names[m],
					       (unsigned long long)flags[i]);
		}
	}
}

/* -- guard installers ----------------------------------------------------- */

enum installer { BY_MADVISE, BY_PROCESS_MADVISE, BY_PTMARK, NR_INSTALLERS };

static const char *const installer_name[NR_INSTALLERS] = {
	"madvise", "process_madvise", "ptmark",
};

/*
 * Install (or remove) guard markers on [addr, addr + len) with @how.
 * Returns what the ptmark ioctl reports as nr_pages, 0 for the madvise
 * calls when they succeed, or -errno.
 */
static long guard_by(enum installer how, void *addr, size_t len, bool install)
{
	int advice = install ? MADV_GUARD_INSTALL : MADV_GUARD_REMOVE;
	long ret;
	int pidfd;

	switch (how) {
	case BY_MADVISE:
		return madvise(addr, len, advice) ? -errno : 0;
	case BY_PROCESS_MADVISE:
		pidfd = pidfd_of(getpid());
		if (pidfd < 0)
			return -errno;
		ret = process_madvise_range(pidfd, addr, len, advice);
		close(pidfd);
		return ret;
	default:
		return ptmark_guard(addr, len, install);
	}
}

/* What guard_by() must return when @nr_pages were handled. */
static long guard_report(enum installer how, size_t nr_pages)
{
	return how == BY_PTMARK ? (long)nr_pages : 0;
}

/*
 * The next run of @c in @picture at or after *@pos: its length, 0 when
 * there is none; *@pos is set to its first page.
 */
static size_t next_run(const char *picture, char c, size_t *pos)
{
	size_t i = *pos, n = 0;

	while (picture[i] && picture[i] != c)
		i++;
	while (picture[i + n] == c)
		n++;
	*pos = i;
	return n;
}

/*
 * Install guards with @how over each run of 'G' in @picture at @p, one
 * call a run; the ioctl must report each run whole.
 */
static void guard_runs(struct __test_metadata *_metadata, enum installer how,
		       char *p, const char *picture)
{
	size_t i, run;

	for (i = 0; (run = next_run(picture, 'G', &i)); i += run) {
		EXPECT_EQ(guard_report(how, run),
			  guard_by(how, p + i * psize, run * psize, true))
			TH_LOG("%s: install on pages %zu-%zu",
			       installer_name[how], i, i + run - 1);
	}
}

static bool have(const struct ptmark_info *info, __u64 feature)
{
	return info->features & feature;
}

/*
 * Skip unless guards can be installed with the ioctl on @b, naming what
 * is missing: guards in the kernel (6.13), file guards (6.15), or the
 * module's support for them.
 */
#define REQUIRE_GUARD_IOCTL(info, b)					\
	do {								\
		if (!have(info, PTMARK_FEAT_GUARD))			\
			SKIP(return, "no PTMARK_FEAT_GUARD: kernel lacks MADV_GUARD_INSTALL"); \
		if (!have(info, PTMARK_FEAT_GUARD_IOCTL))		\
			SKIP(return, "no PTMARK_FEAT_GUARD_IOCTL"); \
		if ((b) != BK_ANON &&				\
		    !have(info, PTMARK_FEAT_GUARD_FILE))		\
			SKIP(return, "no PTMARK_FEAT_GUARD_FILE: kernel lacks guards in file-backed memory"); \
	} while (0)

/* -- guards: ptmark against madvise and process_madvise ------------------- */

FIXTURE_NEEDS(guard_diff, NEEDS_GUARD | NEEDS_GUARD_IOCTL)

FIXTURE(guard_diff) {
	int fd;
	struct ptmark_info info;
	char *map[NR_INSTALLERS];
};

FIXTURE_VARIANT(guard_diff) {
	enum ptmark_backing_id backing;
};

FIXTURE_VARIANT_ADD(guard_diff, anon) {
	.backing = BK_ANON,
};

FIXTURE_VARIANT_ADD(guard_diff, memfd) {
	.backing = BK_MEMFD,
};

FIXTURE_VARIANT_ADD(guard_diff, ext4_shared) {
	.backing = BK_EXT4_SHARED,
};

FIXTURE_VARIANT_ADD(guard_diff, ext4_private) {
	.backing = BK_EXT4_PRIVATE,
};

FIXTURE_VARIANT_ADD(guard_diff, ext4_rdonly) {
	.backing = BK_EXT4_RDONLY,
};

FIXTURE_SETUP(guard_diff)
{
	int i, err;

	PTMARK_REQUIRE_DEVICE(self->fd);
	ASSERT_EQ(0, ptmark_get_info(self->fd, &self->info));
	REQUIRE_GUARD_IOCTL(&self->info, variant->backing);
	ASSERT_EQ(0, probe_handlers_install());
	if (IS(variant->backing, PB_EXT4))
		PTMARK_REQUIRE_EXT4();
	err = map_apart(variant->backing, NR_PAGES, NR_INSTALLERS, self->map);
	ASSERT_EQ(0, err);
	for (i = 0; i < NR_INSTALLERS; i++)
		populate(variant->backing, self->map[i], NR_PAGES);
}

FIXTURE_TEARDOWN(guard_diff)
{
	int i;

	for (i = 0; i < NR_INSTALLERS; i++)
		if (self->map[i])
			munmap(self->map[i], NR_PAGES * psize);
	close(self->fd);
}

/* Every installer puts the guard pattern into its own mapping. */
static void install_pattern(struct __test_metadata *_metadata,
			    FIXTURE_DATA(guard_diff) *self)
{
	int i;

	for (i = 0; i < NR_INSTALLERS; i++)
		guard_runs(_metadata, i, self->map[i], guard_picture);
}

/*
 * Each page of each mapping behaves as @picture says: a guarded page
 * raises SIGSEGV at its own address on read and (where writable) on
 * write.  Any other page holds what it held before (@removed false), or
 * (@removed true) what madvise leaves in a page whose guard
 * guard_picture put there and removal took away.
 */
static void expect_behaviour(struct __test_metadata *_metadata,
			     FIXTURE_DATA(guard_diff) *self, enum ptmark_backing_id b,
			     const char *picture, bool removed)
{
	size_t m, i;
	char val;

	for (m = 0; m < NR_INSTALLERS; m++) {
		for (i = 0; i < NR_PAGES; i++) {
			char *page = self->map[m] + i * psize;
			bool refault = removed && guard_picture[i] == 'G';
			char want = refault ? refault_byte(b, i) :
					      data_byte(b, i);

			if (picture[i] != 'G') {
				EXPECT_EQ(0, probe_read(page, &val));
				EXPECT_TRUE(page_is(page, want))
					TH_LOG("%s page %zu holds %#x, not %#x",
					       installer_name[m], i,
					       (unsigned char)page[0],
					       (unsigned char)want);
				continue;
			}
			EXPECT_EQ(SIGSEGV, probe_read(page, &val))
				TH_LOG("%s page %zu read", installer_name[m],
				       i);
			EXPECT_EQ(page, last_fault.addr);
			if (!backing_writable(b))
				continue;
			val = 1;
			EXPECT_EQ(SIGSEGV, probe_write(page + psize - 1, val))
				TH_LOG("%s page %zu write", installer_name[m],
				       i);
			EXPECT_EQ(page + psize - 1, last_fault.addr);
		}
	}
}

/*
 * The same page tables, pagemap and behaviour whoever installed the
 * guards; a second install over the same runs changes nothing and is
 * reported whole again.
 */
TEST_F(guard_diff, install_matches_madvise)
{
	uint64_t pm_guard = have(&self->info, PTMARK_FEAT_PAGEMAP_GUARD) ?
			    PM_GUARD_REGION : 0;

	install_pattern(_metadata, self);
	expect_scans_alike(_metadata, self->fd, self->map, installer_name,
			   NR_INSTALLERS, NR_PAGES, guard_picture);
	expect_pagemaps_alike(_metadata, self->map, installer_name,
			      NR_INSTALLERS, guard_picture, 'G', pm_guard);

	install_pattern(_metadata, self);
	expect_scans_alike(_metadata, self->fd, self->map, installer_name,
			   NR_INSTALLERS, NR_PAGES, guard_picture);

	expect_behaviour(_metadata, self, variant->backing, guard_picture,
			 false);
}

/*
 * fork() must copy the page tables of a VMA with guards even where
 * nothing else would make it (shared and read-only file mappings): the
 * kernel marks such VMAs VM_MAYBE_GUARD, and the ioctl must too.
 */
TEST_F(guard_diff, fork_keeps_guards)
{
	struct ptmark_record recs[NR_INSTALLERS][NR_PAGES];

	install_pattern(_metadata, self);
	ASSERT_EQ(0, scan_maps_in_child(self->fd, self->map, NR_INSTALLERS,
					NR_PAGES, recs));
	expect_records_alike(_metadata, recs, installer_name, NR_INSTALLERS,
			     NR_PAGES, guard_picture, "the child");
	expect_scans_alike(_metadata, self->fd, self->map, installer_name,
			   NR_INSTALLERS, NR_PAGES, guard_picture);
}

/*
 * Removing over the whole range clears exactly the guards (the ioctl
 * counts them), leaves the other pages mapped, and the guarded pages
 * read back what madvise's do: zeroes, the page cache or the file.
 */
TEST_F(guard_diff, remove_matches_madvise)
{
	size_t nr_guards = picture_count(guard_picture, 'G');
	char removed[NR_PAGES + 1], refaulted[NR_PAGES + 1];
	enum installer how;

	install_pattern(_metadata, self);
	for (how = 0; how < NR_INSTALLERS; how++) {
		EXPECT_EQ(guard_report(how, nr_guards),
			  guard_by(how, self->map[how], NR_PAGES * psize,
				   false))
			TH_LOG("installer %d: remove", how);
	}
	picture_swap(guard_picture, 'G', '.', removed);
	expect_scans_alike(_metadata, self->fd, self->map, installer_name,
			   NR_INSTALLERS, NR_PAGES, removed);
	expect_pagemaps_alike(_metadata, self->map, installer_name,
			      NR_INSTALLERS, removed, 'G', 0);

	/* Removing again finds nothing to remove. */
	for (how = 0; how < NR_INSTALLERS; how++) {
		EXPECT_EQ(guard_report(how, 0),
			  guard_by(how, self->map[how], NR_PAGES * psize,
				   false));
	}

	expect_behaviour(_metadata, self, variant->backing, removed, true);
	picture_swap(removed, '.', 'P', refaulted);
	expect_scans_alike(_metadata, self->fd, self->map, installer_name,
			   NR_INSTALLERS, NR_PAGES, refaulted);
}

/* -- guards: the VMA rules ------------------------------------------------ */

FIXTURE_NEEDS(guard, NEEDS_GUARD | NEEDS_GUARD_IOCTL)

FIXTURE(guard) {
	int fd;
	struct ptmark_info info;
};

FIXTURE_SETUP(guard)
{
	PTMARK_REQUIRE_DEVICE(self->fd);
	ASSERT_EQ(0, ptmark_get_info(self->fd, &self->info));
}

FIXTURE_TEARDOWN(guard)
{
	close(self->fd);
}

/*
 * The ioctl works exactly when the module says it does, and otherwise
 * answers EOPNOTSUPP for install and remove alike.
 */
CASE_NEEDS(guard, eopnotsupp_without_feature, 0, 0)
TEST_F(guard, eopnotsupp_without_feature)
{
	bool ok = have(&self->info, PTMARK_FEAT_GUARD_IOCTL);
	char *p = map_backing(BK_ANON, 2);

	ASSERT_NE(NULL, p);
	if (ok)
		EXPECT_TRUE(have(&self->info, PTMARK_FEAT_GUARD));
	EXPECT_EQ(ok ? 2 : -EOPNOTSUPP, ptmark_guard(p, 2 * psize, true));
	EXPECT_EQ(ok ? 2 : -EOPNOTSUPP, ptmark_guard(p, 2 * psize, false));
	munmap(p, 2 * psize);
}

/* hugetlb VMAs take no guards, from madvise or the ioctl. */
TEST_F(guard, hugetlb_refused)
{
	size_t len;
	char *p;

	REQUIRE_GUARD_IOCTL(&self->info, BK_ANON);
	p = map_hugetlb(&len);
	if (!p)
		SKIP(return, "no free 2 MiB huge page (boot with hugepages=)");
	p[0] = 1;
	EXPECT_EQ(-EINVAL, guard_by(BY_MADVISE, p, len, true));
	EXPECT_EQ(-EINVAL, guard_by(BY_PTMARK, p, len, true));
	EXPECT_EQ(-EINVAL, guard_by(BY_PTMARK, p, len, false));
	EXPECT_EQ(1, p[0]);
	munmap(p, len);
}

/* Tests that hold one ptmark mapping against one madvise mapping. */
static const enum installer pair[] = { BY_MADVISE, BY_PTMARK };
static const char *const pair_name[] = { "madvise", "ptmark" };

/*
 * mlock()ed VMAs refuse installs, which would have to zap locked pages,
 * but guards already there may be removed.
 */
TEST_F(guard, mlocked_install_refused_remove_allowed)
{
	char *p[2];
	int k;

	REQUIRE_GUARD_IOCTL(&self->info, BK_ANON);
	ASSERT_EQ(0, map_apart(BK_ANON, 4, 2, p));
	for (k = 0; k < 2; k++) {
		/* Guards on the first two pages, then lock the lot. */
		EXPECT_EQ(guard_report(pair[k], 2),
			  guard_by(pair[k], p[k], 2 * psize, true));
		ASSERT_EQ(0, mlock2(p[k], 4 * psize, MLOCK_ONFAULT));
	}
	expect_scans_alike(_metadata, self->fd, p, pair_name, 2, 4, "GG..");
	for (k = 0; k < 2; k++) {
		EXPECT_EQ(-EINVAL, guard_by(pair[k], p[k] + 2 * psize, psize,
					    true))
			TH_LOG("%s", pair_name[k]);
		EXPECT_EQ(guard_report(pair[k], 2),
			  guard_by(pair[k], p[k], 4 * psize, false))
			TH_LOG("%s", pair_name[k]);
	}
	expect_scans_alike(_metadata, self->fd, p, pair_name, 2, 4, "....");
	for (k = 0; k < 2; k++)
		munmap(p[k], 4 * psize);
}

TEST_F(guard, pfnmap_refused)
{
	struct ptmark_record rec;
	char *p;

	REQUIRE_GUARD_IOCTL(&self->info, BK_ANON);
	p = mmap(NULL, 2 * psize, PROT_READ | PROT_WRITE, MAP_SHARED,
		 self->fd, 0);
	if (p == MAP_FAILED)
		SKIP(return, "no VM_PFNMAP source: mmap of %s: %s",
		     PTMARK_DEVICE, strerror(errno));
	ASSERT_EQ(0, ptmark_scan_dense_of(self->fd, -1, p, 1, &rec));
	ASSERT_TRUE(rec.vma_flags & PTMARK_VMA_PFNMAP);
	EXPECT_EQ(-EINVAL, guard_by(BY_MADVISE, p, 2 * psize, true));
	EXPECT_EQ(-EINVAL, guard_by(BY_PTMARK, p, 2 * psize, true));
	EXPECT_EQ(-EINVAL, guard_by(BY_PTMARK, p, 2 * psize, false));
	munmap(p, 2 * psize);
}

/*
 * A range with holes: both madvise and the ioctl do every mapped part and
 * then say ENOMEM; the ioctl still reports the pages it did.  Holes at
 * the start, in the middle and at the end.
 */
TEST_F(guard, holes_enomem_after_mapped_parts)
{
	static const char *const layouts[] = {
		"..PPPPPPPP", "PPPP..PPPP", "PPPPPPPP..",
	};
	size_t nr = 10, l, i, k;
	char installed[16], *p[2];
	__u64 done;

	REQUIRE_GUARD_IOCTL(&self->info, BK_ANON);
	for (l = 0; l < ARRAY_SIZE(layouts); l++) {
		size_t mapped = picture_count(layouts[l], 'P');

		ASSERT_EQ(0, map_apart(BK_ANON, nr, 2, p));
		for (k = 0; k < 2; k++)
			for (i = 0; i < nr; i++)
				if (layouts[l][i] == '.')
					ASSERT_EQ(0, munmap(p[k] + i * psize,
							    psize));

		EXPECT_EQ(-ENOMEM, guard_by(BY_MADVISE, p[0], nr * psize,
					    true))
			TH_LOG("madvise, layout %s", layouts[l]);
		EXPECT_EQ(-ENOMEM, ptmark_marker_fd(self->fd, -1, p[1], nr * psize,
					       PTMARK_MARKER_GUARD, 0, &done))
			TH_LOG("ptmark, layout %s", layouts[l]);
		EXPECT_EQ(mapped, done);
		picture_swap(layouts[l], 'P', 'G', installed);
		expect_scans_alike(_metadata, self->fd, p, pair_name, 2, nr,
				   installed);

		EXPECT_EQ(-ENOMEM, guard_by(BY_MADVISE, p[0], nr * psize,
					    false));
		EXPECT_EQ(-ENOMEM, ptmark_marker_fd(self->fd, -1, p[1], nr * psize,
					       PTMARK_MARKER_GUARD,
					       PTMARK_MARKER_F_REMOVE, &done));
		EXPECT_EQ(mapped, done);
		expect_scans_alike(_metadata, self->fd, p, pair_name, 2, nr,
				   "..........");
		for (k = 0; k < 2; k++)
			munmap(p[k], nr * psize);
	}
}

/* PROT_NONE anonymous memory takes guards from madvise, so from the ioctl. */
TEST_F(guard, prot_none_anon_matches_madvise)
{
	char *p[2], val;
	int k;

	REQUIRE_GUARD_IOCTL(&self->info, BK_ANON);
	ASSERT_EQ(0, probe_handlers_install());
	ASSERT_EQ(0, map_apart(BK_ANON, 4, 2, p));
	for (k = 0; k < 2; k++) {
		ASSERT_EQ(0, mprotect(p[k], 4 * psize, PROT_NONE));
		EXPECT_EQ(guard_report(pair[k], 4),
			  guard_by(pair[k], p[k], 4 * psize, true))
			TH_LOG("%s", pair_name[k]);
	}
	expect_scans_alike(_metadata, self->fd, p, pair_name, 2, 4, "GGGG");

	for (k = 0; k < 2; k++) {
		ASSERT_EQ(0, mprotect(p[k], 4 * psize, PROT_READ));
		EXPECT_EQ(SIGSEGV, probe_read(p[k] + psize, &val))
			TH_LOG("%s", pair_name[k]);
		EXPECT_EQ(guard_report(pair[k], 4),
			  guard_by(pair[k], p[k], 4 * psize, false));
	}
	expect_scans_alike(_metadata, self->fd, p, pair_name, 2, 4, "....");
	for (k = 0; k < 2; k++)
		munmap(p[k], 4 * psize);
}

struct uffd_toucher {
	volatile char *addr;
	char val;
};

static void *touch_byte(void *arg)
{
	struct uffd_toucher *t = arg;

	t->val = *t->addr;
	return NULL;
}

/*
 * Anonymous memory registered for missing-page userfaults and never
 * touched: madvise puts guards there without faulting anything in, but
 * the module could give the VMA its anon_vma only by faulting, and that
 * fault belongs to the handler.  The ioctl refuses (EOPNOTSUPP) and
 * leaves the VMA exactly as it was: still registered (scan and smaps),
 * nothing mapped, and its first touch a missing-page event.  Once the
 * handler has resolved that, the VMA has its anon_vma and the ioctl works.
 */
TEST_F(guard, uffd_missing_fresh_anon_refused)
{
	struct uffdio_zeropage zero = { .range.len = psize };
	struct ptmark_record rec;
	struct uffd_toucher t;
	struct uffd_msg msg;
	pthread_t thread;
	char pic[5], *p[2];
	__u64 done;
	int uffd, k;

	REQUIRE_GUARD_IOCTL(&self->info, BK_ANON);
	uffd = uffd_open(0);
	if (uffd < 0)
		SKIP(return, "no userfaultfd: %s", strerror(-uffd));
	ASSERT_EQ(0, map_apart(BK_ANON, 4, 2, p));
	for (k = 0; k < 2; k++) {
		ASSERT_EQ(0, uffd_register(uffd, p[k], 4 * psize,
					   UFFDIO_REGISTER_MODE_MISSING));
	}
	EXPECT_EQ(0, guard_by(BY_MADVISE, p[0], 4 * psize, true));
	ASSERT_EQ(0, scan_picture(self->fd, -1, p[0], 4, pic));
	EXPECT_STREQ("GGGG", pic);

	EXPECT_EQ(-EOPNOTSUPP, ptmark_marker_fd(self->fd, -1, p[1], 4 * psize,
					       PTMARK_MARKER_GUARD, 0, &done))
		TH_LOG("module: ptmark_prepare_anon() faulted a uffd VMA");
	EXPECT_EQ(0, done);
	ASSERT_EQ(0, scan_picture(self->fd, -1, p[1], 4, pic));
	EXPECT_STREQ("....", pic);
	ASSERT_EQ(0, ptmark_scan_dense_of(self->fd, -1, p[1], 1, &rec));
	EXPECT_TRUE(rec.vma_flags & PTMARK_VMA_UFFD_MISSING);
	EXPECT_TRUE(smaps_has_vmflag(p[1], "um"));
	EXPECT_EQ(0, uffd_read_msg(uffd, 0, &msg));

	/* The first touch is still the handler's. */
	t.addr = p[1] + psize;
	t.val = 1;
	ASSERT_EQ(0, pthread_create(&thread, NULL, touch_byte, &t));
	EXPECT_EQ(1, uffd_read_msg(uffd, 10000, &msg));
	EXPECT_EQ(UFFD_EVENT_PAGEFAULT, msg.event);
	EXPECT_EQ((uintptr_t)t.addr, msg.arg.pagefault.address & ~(psize - 1));
	zero.range.start = (uintptr_t)t.addr;
	EXPECT_EQ(0, ioctl(uffd, UFFDIO_ZEROPAGE, &zero));
	ASSERT_EQ(0, pthread_join(thread, NULL));
	EXPECT_EQ(0, t.val);

	EXPECT_EQ(0, ptmark_marker_fd(self->fd, -1, p[1], 4 * psize,
				      PTMARK_MARKER_GUARD, 0, &done));
	EXPECT_EQ(4, done);
	ASSERT_EQ(0, scan_picture(self->fd, -1, p[1], 4, pic));
	EXPECT_STREQ("GGGG", pic);
	for (k = 0; k < 2; k++)
		munmap(p[k], 4 * psize);
	close(uffd);
}

/*
 * With 64 KiB anonymous mTHP always on, the fault that gives a fresh VMA
 * its anon_vma may map a whole 64 KiB folio; guarding one page must leave
 * nothing else of it mapped.  The VMA is put into the PTE table of a used
 * neighbour (apart from it, so the two do not merge), so that the fault
 * fills that table rather than a PMD.
 */
TEST_F(guard, mthp_prepare_leaves_nothing_mapped)
{
	static const char mthp[] =
		"/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled";
	const size_t nr = 32, pmd = 2UL << 20;
	char pic[33], want[33], *text, *old, *base, *p;
	__u64 done;
	int ret;

	REQUIRE_GUARD_IOCTL(&self->info, BK_ANON);
	text = read_text_file(mthp);
	old = sysfs_choice(text);
	if (!old) {
		free(text);
		SKIP(return, "no 64 KiB anonymous mTHP (%s)", mthp);
	}
	base = mmap_aligned(pmd, pmd, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, base);
	base[0] = 1;
	ASSERT_EQ(0, munmap(base + psize, pmd - psize));
	p = mmap(base + 16 * psize, nr * psize, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	ASSERT_EQ(base + 16 * psize, p);

	ASSERT_EQ(0, write_text_file(mthp, "always"));
	ret = ptmark_marker_fd(self->fd, -1, p + 17 * psize, psize,
			       PTMARK_MARKER_GUARD, 0, &done);
	EXPECT_EQ(0, write_text_file(mthp, old));
	free(text);
	EXPECT_EQ(0, ret);
	EXPECT_EQ(1, done);
	memset(want, '.', nr);
	want[17] = 'G';
	want[nr] = '\0';
	ASSERT_EQ(0, scan_picture(self->fd, -1, p, nr, pic));
	EXPECT_STREQ(want, pic)
		TH_LOG("module: pages of the prepare fault's folio left mapped");
	EXPECT_EQ(0, smaps_kb(p, "Rss:"));
	munmap(base, psize);
	munmap(p, nr * psize);
}

/*
 * A guard the ioctl puts into a PMD-mapped THP splits the mapping as
 * madvise's does (an anonymous PMD is remapped by PTEs, a huge tmpfs one
 * dropped whole): the same records page by page and the same PMD-mapped
 * kB.  guard_regions checks madvise's side of it, behaviour included.
 */
TEST_F(guard, thp_split_matches_madvise)
{
	static const enum ptmark_backing_id ids[] = { BK_ANON_THP, BK_HUGE_TMPFS };
	size_t pmd = ptmark_pmd_size(), nr = pmd / psize, i, k, g = nr / 2;
	struct ptmark_record *recs[2];
	char why[PTMARK_WHY_LEN];
	const char *field;
	char *map[2];
	int fd;

	REQUIRE_GUARD_IOCTL(&self->info, BK_ANON);
	for (i = 0; i < ARRAY_SIZE(ids); i++)
		if (ptmark_backing_unavailable(&ptmark_backings[ids[i]], why,
					       sizeof(why)))
			SKIP(return, "%s: %s", ptmark_backings[ids[i]].name, why);
	recs[0] = calloc(2 * nr, sizeof(**recs));
	ASSERT_NE(NULL, recs[0]);
	recs[1] = recs[0] + nr;
	for (i = 0; i < ARRAY_SIZE(ids); i++) {
		const struct ptmark_backing *b = &ptmark_backings[ids[i]];

		field = backing_has(b, PB_FILE) ? "ShmemPmdMapped:" : "AnonHugePages:";
		for (k = 0; k < 2; k++) {
			fd = ptmark_backing_fd(b, pmd);
			map[k] = ptmark_backing_mmap(b, fd, NULL, pmd,
						     PROT_READ | PROT_WRITE, 0, 0);
			ASSERT_NE(MAP_FAILED, map[k]);
			if (fd >= 0)
				close(fd);
			memset(map[k], 0x5a, pmd);
			ASSERT_EQ((long)(pmd >> 10), smaps_kb(map[k], field))
				TH_LOG("%s not PMD-mapped", b->name);
		}
		ASSERT_EQ(0, madvise(map[0] + g * psize, psize, MADV_GUARD_INSTALL));
		ASSERT_EQ(1, ptmark_guard(map[1] + g * psize, psize, true));
		EXPECT_EQ(smaps_kb(map[0], field), smaps_kb(map[1], field));
		for (k = 0; k < 2; k++)
			ASSERT_EQ(0, ptmark_scan_dense(self->fd, map[k], nr, recs[k]));
		for (k = 0; k < nr; k++) {
			EXPECT_EQ(recs[0][k].kind, recs[1][k].kind)
				TH_LOG("%s page %zu", b->name, k);
			EXPECT_EQ(recs[0][k].marker, recs[1][k].marker)
				TH_LOG("%s page %zu", b->name, k);
			EXPECT_EQ(recs[0][k].bits & ~PTMARK_BIT_YOUNG,
				  recs[1][k].bits & ~PTMARK_BIT_YOUNG)
				TH_LOG("%s page %zu", b->name, k);
		}
		EXPECT_EQ(PTMARK_KIND_MARKER, recs[1][g].kind);
		for (k = 0; k < 2; k++)
			munmap(map[k], pmd);
	}
	free(recs[0]);
}

/* A guard put into a child through its pidfd is the child's alone. */
TEST_F(guard, pidfd_installs_into_child)
{
	int pipefd[2], pidfd, status;
	char pic[8], go = 1;
	pid_t pid, parent;
	__u64 done;
	char *p;

	REQUIRE_GUARD_IOCTL(&self->info, BK_ANON);
	p = map_backing(BK_ANON, 4);
	ASSERT_NE(NULL, p);
	populate(BK_ANON, p, 4);
	ASSERT_EQ(0, pipe(pipefd));
	parent = getpid();
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		die_with_parent(parent);
		close(pipefd[1]);
		if (read(pipefd[0], &go, 1) != 1)
			_exit(2);
		/* The guard the parent put here must kill us. */
		_exit(*(volatile char *)(p + 2 * psize) == mem_byte(2) ? 3 : 4);
	}
	pidfd = pidfd_of(pid);
	ASSERT_LE(0, pidfd);

	EXPECT_EQ(0, ptmark_marker_fd(self->fd, pidfd, p + 2 * psize, 2 * psize,
				 PTMARK_MARKER_GUARD, 0, &done));
	EXPECT_EQ(2, done);
	EXPECT_EQ(0, ptmark_marker_fd(self->fd, pidfd, p + 3 * psize, psize,
				 PTMARK_MARKER_GUARD, PTMARK_MARKER_F_REMOVE,
				 &done));
	EXPECT_EQ(1, done);
	ASSERT_EQ(0, scan_picture(self->fd, pidfd, p, 4, pic));
	EXPECT_STREQ("PPG.", pic);
	ASSERT_EQ(0, scan_picture(self->fd, -1, p, 4, pic));
	EXPECT_STREQ("PPPP", pic);

	ASSERT_EQ(1, write(pipefd[1], &go, 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV)
		TH_LOG("child status %#x", status);
	close(pidfd);
	close(pipefd[0]);
	close(pipefd[1]);
	munmap(p, 4 * psize);
}

/* -- uffd-wp markers: ptmark against the kernel's own --------------------- */

FIXTURE(uffd_wp) {
	int fd;
	int uffd;
	char *map[2];
};

FIXTURE_VARIANT(uffd_wp) {
	enum ptmark_backing_id backing;
	__u64 features;
	const char *feature_names;
	bool async;	/* WP faults resolved by the kernel, no messages */
};

FIXTURE_VARIANT_ADD(uffd_wp, memfd) {
	.backing = BK_MEMFD,
	.features = UFFD_FEATURE_WP_HUGETLBFS_SHMEM,
	.feature_names = "UFFD_FEATURE_WP_HUGETLBFS_SHMEM",
};

/* Only asynchronous WP may register file memory that is not shmem. */
FIXTURE_VARIANT_ADD(uffd_wp, ext4_shared) {
	.backing = BK_EXT4_SHARED,
	.features = UFFD_FEATURE_WP_ASYNC,
	.feature_names = "UFFD_FEATURE_WP_ASYNC",
	.async = true,
};

/* Whose markers map[] holds. */
enum { BY_KERNEL, BY_IOCTL };
static const char *const maker_name[] = { "kernel", "ptmark" };

FIXTURE_SETUP(uffd_wp)
{
	struct ptmark_info info;
	int i;

	self->uffd = -1;
	PTMARK_REQUIRE_DEVICE(self->fd);
	ASSERT_EQ(0, ptmark_get_info(self->fd, &info));
	if (!have(&info, PTMARK_FEAT_UFFD_WP_MARKER))
		SKIP(return, "no PTMARK_FEAT_UFFD_WP_MARKER: kernel lacks CONFIG_PTE_MARKER_UFFD_WP");
	self->uffd = uffd_open(variant->features);
	if (self->uffd == -EOPNOTSUPP)
		SKIP(return, "userfaultfd lacks %s", variant->feature_names);
	ASSERT_LE(0, self->uffd);
	ASSERT_EQ(0, probe_handlers_install());
	if (IS(variant->backing, PB_EXT4))
		PTMARK_REQUIRE_EXT4();
	for (i = 0; i < 2; i++) {
		self->map[i] = map_backing(variant->backing, NR_PAGES);
		ASSERT_NE(NULL, self->map[i]);
		ASSERT_EQ(0, uffd_register(self->uffd, self->map[i],
					   NR_PAGES * psize,
					   UFFDIO_REGISTER_MODE_WP));
	}
}

FIXTURE_TEARDOWN(uffd_wp)
{
	int i;

	for (i = 0; i < 2; i++)
		if (self->map[i])
			munmap(self->map[i], NR_PAGES * psize);
	if (self->uffd >= 0)
		close(self->uffd);
	close(self->fd);
}

/*
 * uffd-wp markers on the 'W' pages of wp_picture in both mappings: the
 * kernel's from write-protecting mapped pages and zapping them, ptmark's
 * from the ioctl on the same pages after the same zap.
 */
static void make_wp_markers(struct __test_metadata *_metadata,
			    FIXTURE_DATA(uffd_wp) *self)
{
	size_t i, run, m;

	for (m = 0; m < 2; m++)
		for (i = 0; i < NR_PAGES; i++)
			(void)*(volatile char *)(self->map[m] + i * psize);
	for (i = 0; (run = next_run(wp_picture, 'W', &i)); i += run) {
		ASSERT_EQ(0, uffd_writeprotect(self->uffd,
					       self->map[BY_KERNEL] + i * psize,
					       run * psize,
					       UFFDIO_WRITEPROTECT_MODE_WP));
	}
	for (m = 0; m < 2; m++) {
		ASSERT_EQ(0, madvise(self->map[m], NR_PAGES * psize,
				     MADV_DONTNEED));
	}
	for (i = 0; (run = next_run(wp_picture, 'W', &i)); i += run) {
		EXPECT_EQ(run, ptmark_marker(-1, self->map[BY_IOCTL] + i * psize,
					     run * psize,
					     PTMARK_MARKER_UFFD_WP, 0))
			TH_LOG("pages %zu-%zu", i, i + run - 1);
	}
}

/*
 * The same markers and pagemap bits; a read fault on one maps the page
 * write-protected in both and leaves its neighbours markers.
 */
TEST_F(uffd_wp, markers_match_kernel)
{
	struct ptmark_record rec;
	char want[NR_PAGES + 1], val;
	int m;

	make_wp_markers(_metadata, self);
	expect_scans_alike(_metadata, self->fd, self->map, maker_name, 2,
			   NR_PAGES, wp_picture);
	expect_pagemaps_alike(_metadata, self->map, maker_name, 2, wp_picture,
			      'W', PM_UFFD_WP);

	for (m = 0; m < 2; m++) {
		EXPECT_EQ(0, probe_read(self->map[m], &val));
		EXPECT_EQ(file_byte(0), val);
		ASSERT_EQ(0, ptmark_scan_dense_of(self->fd, -1, self->map[m], 1, &rec));
		EXPECT_EQ(PTMARK_BIT_UFFD_WP,
			  rec.bits & (PTMARK_BIT_UFFD_WP | PTMARK_BIT_WRITE))
			TH_LOG("%s: bits %#x after a read fault",
			       maker_name[m], rec.bits);
	}
	memcpy(want, wp_picture, sizeof(want));
	want[0] = 'P';
	expect_scans_alike(_metadata, self->fd, self->map, maker_name, 2,
			   NR_PAGES, want);
}

/*
 * Write to a marker page from a second thread and resolve it as a WP
 * handler does.  Synchronous WP: exactly one UFFD_EVENT_PAGEFAULT with
 * UFFD_PAGEFAULT_FLAG_WP|WRITE at the page, identical for both kinds of
 * marker.  Asynchronous WP: the kernel resolves it and says nothing.
 */
TEST_F(uffd_wp, write_faults_like_kernel)
{
	const size_t page = 2;	/* a 'W' page */
	struct uffd_msg msg[2], extra;
	char want[NR_PAGES + 1];
	struct timespec until;
	int m;

	ASSERT_EQ('W', wp_picture[page]);
	make_wp_markers(_metadata, self);
	for (m = 0; m < 2; m++) {
		char *p = self->map[m] + page * psize;
		struct writer w;

		memset(&msg[m], 0, sizeof(msg[m]));
		ASSERT_EQ(0, writer_start(&w, p, mem_byte(page)));
		if (!variant->async) {
			EXPECT_EQ(1, uffd_read_msg(self->uffd, 10000, &msg[m]))
				TH_LOG("%s: no userfault for the write",
				       maker_name[m]);
			EXPECT_EQ(UFFD_EVENT_PAGEFAULT, msg[m].event);
			EXPECT_EQ(UFFD_PAGEFAULT_FLAG_WP |
				  UFFD_PAGEFAULT_FLAG_WRITE,
				  msg[m].arg.pagefault.flags);
			EXPECT_EQ((uintptr_t)p, msg[m].arg.pagefault.address);
			EXPECT_EQ(0, uffd_writeprotect(self->uffd, p, psize, 0));
		}
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += 10;
		ASSERT_EQ(0, pthread_timedjoin_np(w.thread, NULL, &until))
			TH_LOG("%s: the writer never finished", maker_name[m]);
		EXPECT_EQ(0, uffd_read_msg(self->uffd, 0, &extra))
			TH_LOG("%s: a second userfault, flags %#llx",
			       maker_name[m],
			       (unsigned long long)extra.arg.pagefault.flags);
		EXPECT_EQ(mem_byte(page), p[0]);
		EXPECT_TRUE(bytes_are(p + 1, psize - 1, file_byte(page)));
	}
	EXPECT_EQ(msg[BY_KERNEL].event, msg[BY_IOCTL].event);
	EXPECT_EQ(msg[BY_KERNEL].arg.pagefault.flags,
		  msg[BY_IOCTL].arg.pagefault.flags);
	memcpy(want, wp_picture, sizeof(want));
	want[page] = 'P';
	expect_scans_alike(_metadata, self->fd, self->map, maker_name, 2,
			   NR_PAGES, want);
}

/*
 * The ioctl puts uffd-wp markers on none PTEs only: mapped pages keep
 * their PTE untouched and are not counted; a second call counts the
 * markers already there; removal counts what it cleared.
 */
TEST_F(uffd_wp, present_pages_left_alone)
{
	static const char mapped[NR_PAGES + 1] = "P..P.PP........P";
	size_t nr_none = picture_count(mapped, '.'), i;
	struct ptmark_record recs[NR_PAGES];
	char *p = self->map[BY_IOCTL];
	char want[NR_PAGES + 1], pic[NR_PAGES + 1];

	for (i = 0; i < NR_PAGES; i++)
		if (mapped[i] == 'P')
			(void)*(volatile char *)(p + i * psize);
	ASSERT_EQ(0, scan_picture(self->fd, -1, p, NR_PAGES, pic));
	ASSERT_STREQ(mapped, pic);

	picture_swap(mapped, '.', 'W', want);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(nr_none, ptmark_marker(-1, p, NR_PAGES * psize,
						 PTMARK_MARKER_UFFD_WP, 0));
		ASSERT_EQ(0, ptmark_scan_dense_of(self->fd, -1, p, NR_PAGES, recs));
		picture_of(recs, NR_PAGES, pic);
		EXPECT_STREQ(want, pic);
	}
	for (i = 0; i < NR_PAGES; i++)
		if (mapped[i] == 'P')
			EXPECT_EQ(0, recs[i].bits & PTMARK_BIT_UFFD_WP);

	EXPECT_EQ(nr_none, ptmark_marker(-1, p, NR_PAGES * psize,
					 PTMARK_MARKER_UFFD_WP,
					 PTMARK_MARKER_F_REMOVE));
	ASSERT_EQ(0, scan_picture(self->fd, -1, p, NR_PAGES, pic));
	EXPECT_STREQ(mapped, pic);
}

/*
 * uffd-wp markers only go where the kernel would leave them: not into
 * anonymous memory (where zapping drops them), not where nobody
 * registered for WP, not into hugetlb.
 */
TEST(uffd_wp_refused_vmas)
{
	const __u32 remove = PTMARK_MARKER_F_REMOVE;
	struct ptmark_info info;
	char *anon, *shmem, *huge;
	size_t huge_len;
	int fd, uffd;

	PTMARK_REQUIRE_DEVICE(fd);
	ASSERT_EQ(0, ptmark_get_info(fd, &info));
	if (!have(&info, PTMARK_FEAT_UFFD_WP_MARKER))
		SKIP(return, "no PTMARK_FEAT_UFFD_WP_MARKER: kernel lacks CONFIG_PTE_MARKER_UFFD_WP");
	uffd = uffd_open(UFFD_FEATURE_WP_HUGETLBFS_SHMEM);
	if (uffd < 0)
		SKIP(return, "userfaultfd lacks UFFD_FEATURE_WP_HUGETLBFS_SHMEM");

	anon = map_backing(BK_ANON, 2);
	ASSERT_NE(NULL, anon);
	ASSERT_EQ(0, uffd_register(uffd, anon, 2 * psize,
				   UFFDIO_REGISTER_MODE_WP));
	EXPECT_EQ(-EINVAL, ptmark_marker(-1, anon, 2 * psize,
					 PTMARK_MARKER_UFFD_WP, 0));
	EXPECT_EQ(-EINVAL, ptmark_marker(-1, anon, 2 * psize,
					 PTMARK_MARKER_UFFD_WP, remove));

	shmem = map_backing(BK_MEMFD, 2);
	ASSERT_NE(NULL, shmem);
	EXPECT_EQ(-EINVAL, ptmark_marker(-1, shmem, 2 * psize,
					 PTMARK_MARKER_UFFD_WP, 0));
	EXPECT_EQ(-EINVAL, ptmark_marker(-1, shmem, 2 * psize,
					 PTMARK_MARKER_UFFD_WP, remove));

	/* The test VM reserves huge pages; a kernel without hugetlbfs has none. */
	if (ptmark_hugetlb_size()) {
		huge = map_hugetlb(&huge_len);
		ASSERT_NE(NULL, huge) TH_LOG("MAP_HUGETLB: %s", strerror(errno));
		ASSERT_EQ(0, uffd_register(uffd, huge, huge_len,
					   UFFDIO_REGISTER_MODE_WP));
		EXPECT_EQ(-EINVAL, ptmark_marker(-1, huge, huge_len,
						 PTMARK_MARKER_UFFD_WP, 0));
		munmap(huge, huge_len);
	}
	munmap(anon, 2 * psize);
	munmap(shmem, 2 * psize);
	close(uffd);
	close(fd);
}

/* -- argument validation -------------------------------------------------- */

FIXTURE(args) {
	int fd;
	struct ptmark_info info;
	char *p;
	long ok;	/* what the valid request returns */
};

FIXTURE_SETUP(args)
{
	PTMARK_REQUIRE_DEVICE(self->fd);
	ASSERT_EQ(0, ptmark_get_info(self->fd, &self->info));
	self->p = map_backing(BK_ANON, 4);
	ASSERT_NE(NULL, self->p);
	self->ok = have(&self->info, PTMARK_FEAT_GUARD_IOCTL) ? 1 : -EOPNOTSUPP;
}

FIXTURE_TEARDOWN(args)
{
	munmap(self->p, 4 * psize);
	close(self->fd);
}

/* One guard on the first page: every case below breaks it one way. */
static struct ptmark_marker valid_request(const char *p)
{
	struct ptmark_marker req = {
		.size = sizeof(req),
		.marker = PTMARK_MARKER_GUARD,
		.start = (uintptr_t)p,
		.len = psize,
	};

	return req;
}

/* The ioctl on @req as it is: nr_pages, or -errno. */
static long marker_raw(int fd, struct ptmark_marker *req)
{
	if (ioctl(fd, PTMARK_IOC_MARKER, req))
		return -errno;
	return req->nr_pages;
}

/* The ioctl on an argument that is not a request at all. */
static int marker_bad_arg(int fd, unsigned long arg)
{
	return ioctl(fd, PTMARK_IOC_MARKER, arg) ? -errno : 0;
}

/* The valid request with one field changed must fail with @err. */
#define EXPECT_BROKEN(field, value, err)				\
	do {								\
		struct ptmark_marker __req = valid_request(self->p);	\
		__req.field = (value);					\
		EXPECT_EQ(-(err), marker_raw(self->fd, &__req))		\
			TH_LOG("%s = %s", #field, #value);		\
	} while (0)

TEST_F(args, unknown_flags_and_markers)
{
	struct ptmark_marker req = valid_request(self->p);

	ASSERT_EQ(self->ok, marker_raw(self->fd, &req));
	EXPECT_BROKEN(flags, 1U << 4, EINVAL);
	EXPECT_BROKEN(flags, 1U << 31, EINVAL);
	EXPECT_BROKEN(marker, 0, EINVAL);
	EXPECT_BROKEN(marker, 1U << 3, EINVAL);
	EXPECT_BROKEN(marker, PTMARK_MARKER_UNKNOWN, EINVAL);
	EXPECT_BROKEN(marker, PTMARK_MARKER_GUARD | PTMARK_MARKER_UFFD_WP,
		      EINVAL);
	/* Poisoned markers and combinations are for injection only. */
	EXPECT_BROKEN(marker, PTMARK_MARKER_POISONED, EINVAL);
	EXPECT_BROKEN(marker, PTMARK_MARKER_GUARD | PTMARK_MARKER_POISONED,
		      EINVAL);
}

/* The length of a request: what madvise() makes of it, nr_pages or -errno. */
static long marker_len(struct __test_metadata *_metadata,
		       FIXTURE_DATA(args) *self, __u64 len)
{
	struct ptmark_marker req = valid_request(self->p);

	req.len = len;
	return marker_raw(self->fd, &req);
}

/*
 * The range rules are madvise()'s: the start must be page aligned, the
 * length is rounded up to whole pages and 0 does nothing, and a range
 * that wraps is refused.
 */
CASE_NEEDS(args, bad_ranges, NEEDS_GUARD_IOCTL, 0)
TEST_F(args, bad_ranges)
{
	if (self->ok < 0)
		SKIP(return, "no PTMARK_FEAT_GUARD_IOCTL on this kernel");
	EXPECT_EQ(0, marker_len(_metadata, self, 0));
	EXPECT_EQ(1, marker_len(_metadata, self, psize / 2));
	EXPECT_EQ(2, marker_len(_metadata, self, psize + 1));
	EXPECT_EQ(2, ptmark_guard(self->p, 2 * psize, false));
	EXPECT_EQ(-EINVAL, marker_len(_metadata, self, -(__u64)psize / 2));
	EXPECT_BROKEN(start, (uintptr_t)self->p + 1, EINVAL);
	EXPECT_BROKEN(start, (uintptr_t)self->p + psize / 2, EINVAL);
	/* start + len wraps around, to 0 and beyond it. */
	EXPECT_BROKEN(start, -(__u64)psize, EINVAL);
	{
		struct ptmark_marker req = valid_request(self->p);

		req.start = -(__u64)psize;
		req.len = 2 * psize;
		EXPECT_EQ(-EINVAL, marker_raw(self->fd, &req));
	}
}

/*
 * Ranges past the end of the user address space (with 4- or 5-level
 * paging alike) are EINVAL, not "unmapped" (ENOMEM) as a range inside it
 * is.  Checked with uffd-wp markers, which stock kernels have too.
 */
TEST_F(args, beyond_task_size)
{
	static const struct {
		__u64 start, len;
		int err;
	} ranges[] = {
		{ 1ULL << 56, 4096, EINVAL },
		{ (1ULL << 56) - 4096, 2 * 4096, EINVAL },
		{ 0xffff800000000000ULL, 4096, EINVAL },
		{ 0x10000, 4096, ENOMEM },	/* below mmap_min_addr */
	};
	struct ptmark_marker req = valid_request(self->p);
	size_t i;

	if (!have(&self->info, PTMARK_FEAT_UFFD_WP_MARKER))
		SKIP(return, "no PTMARK_FEAT_UFFD_WP_MARKER: kernel lacks CONFIG_PTE_MARKER_UFFD_WP");
	ASSERT_EQ(4096, psize);
	for (i = 0; i < ARRAY_SIZE(ranges); i++) {
		req.marker = PTMARK_MARKER_UFFD_WP;
		req.start = ranges[i].start;
		req.len = ranges[i].len;
		EXPECT_EQ(-ranges[i].err, marker_raw(self->fd, &req))
			TH_LOG("start %#llx len %#llx",
			       (unsigned long long)req.start,
			       (unsigned long long)req.len);
	}
}

/* The extensible-struct rules, as for every ptmark ioctl. */
TEST_F(args, struct_sizes)
{
	struct {
		struct ptmark_marker req;
		__u64 tail;
	} big;

	EXPECT_BROKEN(size, 0, EINVAL);
	EXPECT_BROKEN(size, PTMARK_MARKER_SIZE_VER0 - 1, EINVAL);
	EXPECT_BROKEN(size, psize + 8, EINVAL);

	big.req = valid_request(self->p);
	big.req.size = sizeof(big);
	big.tail = 0;
	EXPECT_EQ(self->ok, marker_raw(self->fd, &big.req));
	big.tail = 1;
	EXPECT_EQ(-E2BIG, marker_raw(self->fd, &big.req));
}

/*
 * Pointers the module cannot read give EFAULT.  One it can read but not
 * write back to gives EFAULT too, after doing the work, like madvise()
 * the work is not undone.
 */
TEST_F(args, bad_pointers)
{
	struct ptmark_marker *ro;
	char pic[4];

	EXPECT_EQ(-EFAULT, marker_bad_arg(self->fd, 0));
	EXPECT_EQ(-EFAULT, marker_bad_arg(self->fd, 8));
	ASSERT_EQ(0, mprotect(self->p + 3 * psize, psize, PROT_NONE));
	EXPECT_EQ(-EFAULT, marker_bad_arg(self->fd,
					  (uintptr_t)self->p + 3 * psize));

	ro = (struct ptmark_marker *)(self->p + 2 * psize);
	*ro = valid_request(self->p);
	ASSERT_EQ(0, mprotect(ro, psize, PROT_READ));
	EXPECT_EQ(self->ok > 0 ? -EFAULT : self->ok, marker_raw(self->fd, ro));
	ASSERT_EQ(0, scan_picture(self->fd, -1, self->p, 1, pic));
	EXPECT_STREQ(self->ok > 0 ? "G" : ".", pic);
}

/*
 * Naming the target: a descriptor that is no pidfd is EBADF, a process
 * that exited is ESRCH, zombie or reaped.  uffd-wp markers again, so that
 * stock kernels get this far.
 */
TEST_F(args, pidfd_errors)
{
	const __u32 wp = PTMARK_MARKER_UFFD_WP;
	int memfd, closed, pidfd;
	siginfo_t info;
	__u64 done;
	pid_t pid;

	if (!have(&self->info, PTMARK_FEAT_UFFD_WP_MARKER))
		SKIP(return, "no PTMARK_FEAT_UFFD_WP_MARKER: kernel lacks CONFIG_PTE_MARKER_UFFD_WP");
	EXPECT_EQ(-EBADF, ptmark_marker_fd(self->fd, -1, self->p, psize, wp,
				      PTMARK_MARKER_F_PIDFD, &done));
	EXPECT_EQ(-EBADF, ptmark_marker_fd(self->fd, self->fd, self->p, psize, wp,
				      0, &done));
	memfd = memfd_create("ptmark-not-a-pidfd", MFD_CLOEXEC);
	ASSERT_LE(0, memfd);
	EXPECT_EQ(-EBADF, ptmark_marker_fd(self->fd, memfd, self->p, psize, wp, 0,
				      &done));
	closed = dup(memfd);
	ASSERT_LE(0, closed);
	close(closed);
	EXPECT_EQ(-EBADF, ptmark_marker_fd(self->fd, closed, self->p, psize, wp, 0,
				      &done));
	close(memfd);

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(0);
	pidfd = pidfd_of(pid);
	ASSERT_LE(0, pidfd);
	ASSERT_EQ(0, waitid(P_PIDFD, pidfd, &info, WEXITED | WNOWAIT));
	EXPECT_EQ(-ESRCH, ptmark_marker_fd(self->fd, pidfd, self->p, psize, wp, 0,
				      &done))
		TH_LOG("zombie");
	ASSERT_EQ(pid, waitpid(pid, NULL, 0));
	EXPECT_EQ(-ESRCH, ptmark_marker_fd(self->fd, pidfd, self->p, psize, wp, 0,
				      &done))
		TH_LOG("reaped");
	close(pidfd);
}

/* -- injection ------------------------------------------------------------ */

#define ALL_MARKERS	(PTMARK_MARKER_UFFD_WP | PTMARK_MARKER_POISONED | \
			 PTMARK_MARKER_GUARD)

/* Reload ptmark.ko with @params; nothing may hold the device open. */
static int reload_ptmark(const char *ko, const char *params)
{
	return ptmark_module_unload() ?: ptmark_module_load(ko, params);
}

static unsigned long kernel_taint(void)
{
	char *text = read_text_file("/proc/sys/kernel/tainted");
	unsigned long taint = text ? strtoul(text, NULL, 10) : ~0UL;

	free(text);
	return taint;
}

/* Without the module parameter: EPERM, and the kernel stays untainted. */
TEST(inject_refused_without_param)
{
	struct ptmark_info info;
	unsigned long taint;
	char pic[4], *p;
	__u64 done;
	int fd;

	PTMARK_REQUIRE_DEVICE(fd);
	ASSERT_EQ(0, ptmark_get_info(fd, &info));
	EXPECT_FALSE(have(&info, PTMARK_FEAT_INJECT));
	p = map_backing(BK_ANON, 2);
	ASSERT_NE(NULL, p);
	taint = kernel_taint();
	EXPECT_EQ(-EPERM, ptmark_marker_fd(fd, -1, p, 2 * psize,
				      PTMARK_MARKER_GUARD,
				      PTMARK_MARKER_F_INJECT, &done));
	EXPECT_EQ(-EPERM, ptmark_marker_fd(fd, -1, p, 2 * psize, ALL_MARKERS,
				      PTMARK_MARKER_F_INJECT, &done));
	EXPECT_EQ(taint, kernel_taint());
	ASSERT_EQ(0, scan_picture(fd, -1, p, 2, pic));
	EXPECT_STREQ("..", pic);
	munmap(p, 2 * psize);
	close(fd);
}

FIXTURE(inject) {
	char ko[PTMARK_WHY_LEN];
	int fd;
	struct ptmark_info info;
	bool reloaded;
};

/*
 * Only the reload happens here: a setup that fails or skips gets no
 * teardown, and the module must not stay loaded with inject=1.
 */
FIXTURE_SETUP(inject)
{
	int fd;

	self->fd = -1;
	if (!ptmark_ko_path(self->ko, sizeof(self->ko)))
		SKIP(return, "%s", self->ko);
	PTMARK_REQUIRE_DEVICE(fd);
	close(fd);
	ASSERT_EQ(0, reload_ptmark(self->ko, "inject=1"));
	self->reloaded = true;
}

FIXTURE_TEARDOWN(inject)
{
	struct ptmark_info info;
	int fd;

	if (self->fd >= 0)
		close(self->fd);
	if (!self->reloaded)
		return;
	EXPECT_EQ(0, reload_ptmark(self->ko, ""));
	fd = ptmark_open();
	EXPECT_LE(0, fd);
	if (fd < 0)
		return;
	EXPECT_EQ(0, ptmark_get_info(fd, &info));
	EXPECT_FALSE(have(&info, PTMARK_FEAT_INJECT));
	close(fd);
}

/*
 * Open the reloaded device and check it says so; skip where the kernel
 * has no uffd-wp PTE markers, the one marker every injection test uses.
 */
#define REQUIRE_INJECT(self)						\
	do {								\
		__u64 __done;						\
		char *__p = map_backing(BK_ANON, 1);		\
		int __ret;						\
									\
		(self)->fd = ptmark_open();				\
		ASSERT_LE(0, (self)->fd);				\
		ASSERT_EQ(0, ptmark_get_info((self)->fd, &(self)->info)); \
		ASSERT_TRUE(have(&(self)->info, PTMARK_FEAT_INJECT));	\
		ASSERT_NE(NULL, __p);					\
		__ret = ptmark_marker_fd((self)->fd, -1, __p, psize,	\
				    PTMARK_MARKER_UFFD_WP,		\
				    PTMARK_MARKER_F_INJECT, &__done);	\
		munmap(__p, psize);					\
		if (__ret == -EOPNOTSUPP)				\
			SKIP(return, "marker injection into anonymous memory unsupported: kernel lacks uffd-wp PTE markers, or has no marker anonymous memory may hold"); \
		ASSERT_EQ(0, __ret);					\
	} while (0)

/* Anonymous memory that has had a page, so it has an anon_vma. */
static char *map_used_anon(size_t nr)
{
	char *p = map_backing(BK_ANON, nr);

	if (p) {
		p[0] = 1;
		madvise(p, nr * psize, MADV_DONTNEED);
	}
	return p;
}

/* Can marker combination @m be injected: the kernel has all its kinds? */
static bool injectable(const struct ptmark_info *info, __u32 m)
{
	return (!(m & PTMARK_MARKER_POISONED) ||
		have(info, PTMARK_FEAT_POISON_MARKER)) &&
	       (!(m & PTMARK_MARKER_GUARD) || have(info, PTMARK_FEAT_GUARD));
}

/*
 * Inject marker combination m into page m of @p, for m = 1..7: EOPNOTSUPP
 * for poisoned and guard markers where the kernel has none.
 */
static void inject_combinations(struct __test_metadata *_metadata, int fd,
				const struct ptmark_info *info, char *p)
{
	__u64 done;
	__u32 m;

	for (m = 1; m <= ALL_MARKERS; m++) {
		bool ok = injectable(info, m);

		EXPECT_EQ(ok ? 0 : -EOPNOTSUPP,
			  ptmark_marker_fd(fd, -1, p + m * psize, psize, m,
				      PTMARK_MARKER_F_INJECT, &done))
			TH_LOG("marker %#x", m);
		if (ok)
			EXPECT_EQ(1, done) TH_LOG("marker %#x", m);
	}
}

/* Injection taints the kernel (TAINT_USER), once used. */
TEST_F(inject, taints_kernel)
{
	unsigned long before = kernel_taint();

	REQUIRE_INJECT(self);
	if (before & (1UL << TAINT_USER_BIT))
		TH_LOG("TAINT_USER was set already: this proves less");
	EXPECT_TRUE(kernel_taint() & (1UL << TAINT_USER_BIT));
}

/*
 * Every combination of markers goes into none PTEs of anonymous memory
 * and shows in the scan as it went in; one removal of all kinds clears
 * them all.
 */
TEST_F(inject, every_combination_into_anon)
{
	struct ptmark_record recs[8];
	__u64 done, nr_injected = 0;
	__u32 m, all = 0;
	char *p;

	REQUIRE_INJECT(self);
	p = map_used_anon(8);
	ASSERT_NE(NULL, p);
	inject_combinations(_metadata, self->fd, &self->info, p);
	ASSERT_EQ(0, ptmark_scan_dense_of(self->fd, -1, p, 8, recs));
	EXPECT_EQ(PTMARK_KIND_NONE, recs[0].kind);
	for (m = 1; m <= ALL_MARKERS; m++) {
		if (!injectable(&self->info, m)) {
			EXPECT_EQ(PTMARK_KIND_NONE, recs[m].kind);
			continue;
		}
		nr_injected++;
		all |= m;
		EXPECT_EQ(PTMARK_KIND_MARKER, recs[m].kind);
		EXPECT_EQ(m, recs[m].marker);
	}

	EXPECT_EQ(0, ptmark_marker_fd(self->fd, -1, p, 8 * psize, all,
				 PTMARK_MARKER_F_INJECT | PTMARK_MARKER_F_REMOVE,
				 &done));
	EXPECT_EQ(nr_injected, done);
	ASSERT_EQ(0, ptmark_scan_dense_of(self->fd, -1, p, 8, recs));
	for (m = 0; m < 8; m++)
		EXPECT_EQ(PTMARK_KIND_NONE, recs[m].kind) TH_LOG("page %u", m);
	munmap(p, 8 * psize);
}

/* An injected guard behaves as a real one: SIGSEGV, until removed. */
CASE_NEEDS(inject, guard_segfaults_until_removed, NEEDS_GUARD, 0)
TEST_F(inject, guard_segfaults_until_removed)
{
	__u64 done;
	char *p, val;
	int i;

	REQUIRE_INJECT(self);
	if (!have(&self->info, PTMARK_FEAT_GUARD))
		SKIP(return, "no PTMARK_FEAT_GUARD: kernel lacks MADV_GUARD_INSTALL");
	ASSERT_EQ(0, probe_handlers_install());
	p = map_used_anon(4);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, ptmark_marker_fd(self->fd, -1, p, 4 * psize,
				 PTMARK_MARKER_GUARD, PTMARK_MARKER_F_INJECT,
				 &done));
	EXPECT_EQ(4, done);
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(SIGSEGV, probe_read(p + i * psize, &val));
		EXPECT_EQ(p + i * psize, last_fault.addr);
	}
	EXPECT_EQ(0, ptmark_marker_fd(self->fd, -1, p, 4 * psize,
				 PTMARK_MARKER_GUARD,
				 PTMARK_MARKER_F_INJECT | PTMARK_MARKER_F_REMOVE,
				 &done));
	EXPECT_EQ(4, done);
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(0, probe_read(p + i * psize, &val));
		EXPECT_EQ(0, val);
	}
	munmap(p, 4 * psize);
}

/*
 * Anonymous memory that never had a page: the module gives the VMA its
 * anon_vma by faulting a page in at the start of the range, and the
 * injected marker must still land on that page.
 */
CASE_NEEDS(inject, guard_into_fresh_anon_vma, NEEDS_GUARD, 0)
TEST_F(inject, guard_into_fresh_anon_vma)
{
	char pic[5], *p;
	__u64 done;

	REQUIRE_INJECT(self);
	if (!have(&self->info, PTMARK_FEAT_GUARD))
		SKIP(return, "no PTMARK_FEAT_GUARD: kernel lacks MADV_GUARD_INSTALL");
	p = map_backing(BK_ANON, 4);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, ptmark_marker_fd(self->fd, -1, p, 4 * psize,
				 PTMARK_MARKER_GUARD, PTMARK_MARKER_F_INJECT,
				 &done));
	EXPECT_EQ(4, done)
		TH_LOG("module: the page ptmark_prepare_anon() faults in stays");
	ASSERT_EQ(0, scan_picture(self->fd, -1, p, 4, pic));
	EXPECT_STREQ("GGGG", pic);
	munmap(p, 4 * psize);
}

TEST_F(inject, hugetlb_refused)
{
	size_t len;
	__u64 done;
	char *p;

	REQUIRE_INJECT(self);
	p = map_hugetlb(&len);
	if (!p)
		SKIP(return, "no free 2 MiB huge page (boot with hugepages=)");
	EXPECT_EQ(-EINVAL, ptmark_marker_fd(self->fd, -1, p, len,
				       injectable(&self->info, ALL_MARKERS) ?
				       ALL_MARKERS : PTMARK_MARKER_UFFD_WP,
				       PTMARK_MARKER_F_INJECT, &done));
	EXPECT_EQ(have(&self->info, PTMARK_FEAT_GUARD) ? -EINVAL : -EOPNOTSUPP,
		  ptmark_marker_fd(self->fd, -1, p, psize, PTMARK_MARKER_GUARD,
				   PTMARK_MARKER_F_INJECT, &done));
	munmap(p, len);
}

/* Nor does injection write into a driver's mapping (VM_PFNMAP | VM_IO). */
TEST_F(inject, pfnmap_refused)
{
	struct ptmark_record rec;
	__u64 done;
	char *p;

	REQUIRE_INJECT(self);
	p = mmap(NULL, 2 * psize, PROT_READ | PROT_WRITE, MAP_PRIVATE,
		 self->fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, ptmark_scan_dense_of(self->fd, -1, p, 1, &rec));
	ASSERT_TRUE(rec.vma_flags & PTMARK_VMA_PFNMAP);
	EXPECT_EQ(-EINVAL, ptmark_marker_fd(self->fd, -1, p, 2 * psize,
					    PTMARK_MARKER_UFFD_WP,
					    PTMARK_MARKER_F_INJECT, &done));
	EXPECT_EQ(0, done);
	munmap(p, 2 * psize);
}

/*
 * Markers left in place go away with the memory: copied by fork and torn
 * down at the child's exit, unmapped by the parent.  The VM runner fails
 * the run on any kernel splat this causes.
 */
TEST_F(inject, unmap_and_exit_with_markers)
{
	char pic[9], *p;
	int status;
	pid_t pid;

	REQUIRE_INJECT(self);
	p = map_used_anon(8);
	ASSERT_NE(NULL, p);
	inject_combinations(_metadata, self->fd, &self->info, p);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(0);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ASSERT_EQ(0, munmap(p, 8 * psize));
	ASSERT_EQ(0, scan_picture(self->fd, -1, p, 8, pic));
	EXPECT_STREQ("........", pic);
}

/*
 * Injection racing a huge-page fault.  The module's fill_delay_us hook
 * sleeps between finding a PMD empty and filling it; a write fault in
 * the same PMD must not map a THP meanwhile, or apply_to_page_range()
 * meets a PMD leaf (a WARN, and EINVAL or ENOMEM from the call).  The
 * VMA write lock keeps per-VMA-lock faults out; 6.12 went without it
 * before "module: marker: write-lock VMAs on every kernel".
 */
#define FILL_DELAY		"/sys/module/ptmark/parameters/fill_delay_us"
#define THP_RACE_ROUNDS		48
#define THP_RACE_DELAY_US	"20000"

struct thp_faulter {
	char *p;
	size_t pmd;
	int round;
	bool stop;
	pthread_barrier_t go, done;
};

/* Each round, write the first page of PMD @round: a THP fault. */
static void *thp_fault_loop(void *arg)
{
	struct thp_faulter *f = arg;

	for (;;) {
		pthread_barrier_wait(&f->go);
		if (f->stop)
			return NULL;
		f->p[f->round * f->pmd] = 1;
		pthread_barrier_wait(&f->done);
	}
}

/*
 * How one round ended, from the scan of its PMD: 'I' the injection won
 * (a small page at 0, markers behind it), 'F' the fault did (one PMD leaf,
 * nothing injected), '?' anything else.
 */
static char thp_round_outcome(const struct ptmark_record *recs, size_t nr,
			      __u64 done)
{
	size_t i;

	if (done == 0) {
		for (i = 0; i < nr; i++)
			if (recs[i].kind != PTMARK_KIND_PRESENT ||
			    !(recs[i].bits & PTMARK_BIT_PMD))
				return '?';
		return 'F';
	}
	if (done != nr - 1 || recs[0].kind != PTMARK_KIND_PRESENT ||
	    (recs[0].bits & PTMARK_BIT_PMD))
		return '?';
	for (i = 1; i < nr; i++)
		if (recs[i].kind != PTMARK_KIND_MARKER ||
		    recs[i].marker != PTMARK_MARKER_UFFD_WP)
			return '?';
	return 'I';
}

TEST_F_TIMEOUT(inject, uffd_wp_vs_thp_fault, 300)
{
	size_t pmd = ptmark_pmd_size(), nr = pmd / psize;
	struct thp_faulter f = { .pmd = pmd };
	char outcome[THP_RACE_ROUNDS + 1] = "";
	struct ptmark_record *recs;
	int i, ret, nr_f = 0, nr_i = 0;
	pthread_t thread;
	__u64 done;

	REQUIRE_INJECT(self);
	if (!have(&self->info, PTMARK_FEAT_THP))
		SKIP(return, "no PTMARK_FEAT_THP: kernel without transparent huge pages");
	f.p = mmap_aligned(THP_RACE_ROUNDS * pmd, pmd, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, f.p);
	ASSERT_EQ(0, madvise(f.p, THP_RACE_ROUNDS * pmd, MADV_HUGEPAGE));
	f.p[0] = 1;
	if (smaps_kb(f.p, "AnonHugePages:") * 1024 != (long)pmd) {
		munmap(f.p, THP_RACE_ROUNDS * pmd);
		SKIP(return, "the kernel maps no THP on a write fault in MADV_HUGEPAGE memory (transparent_hugepage/enabled)");
	}
	ASSERT_EQ(0, madvise(f.p, pmd, MADV_DONTNEED));
	recs = calloc(nr, sizeof(*recs));
	ASSERT_NE(NULL, recs);
	ASSERT_EQ(0, pthread_barrier_init(&f.go, NULL, 2));
	ASSERT_EQ(0, pthread_barrier_init(&f.done, NULL, 2));
	ASSERT_EQ(0, pthread_create(&thread, NULL, thp_fault_loop, &f));
	ASSERT_EQ(0, write_text_file(FILL_DELAY, THP_RACE_DELAY_US));

	for (i = 0; i < THP_RACE_ROUNDS; i++) {
		char *pmd_start = f.p + i * pmd;

		f.round = i;
		pthread_barrier_wait(&f.go);
		ret = ptmark_marker_fd(self->fd, -1, pmd_start + psize,
				       pmd - psize, PTMARK_MARKER_UFFD_WP,
				       PTMARK_MARKER_F_INJECT, &done);
		pthread_barrier_wait(&f.done);
		EXPECT_EQ(0, ret) TH_LOG("round %d: %s", i, strerror(-ret));
		if (ret)
			break;
		ASSERT_EQ(0, ptmark_scan_dense_of(self->fd, -1, pmd_start, nr,
						  recs));
		outcome[i] = thp_round_outcome(recs, nr, done);
		outcome[i + 1] = '\0';
		EXPECT_NE('?', outcome[i])
			TH_LOG("round %d: %llu injected; page 0 kind %u bits %#x, page 1 kind %u marker %#x",
			       i, (unsigned long long)done, recs[0].kind,
			       recs[0].bits, recs[1].kind, recs[1].marker);
		nr_f += outcome[i] == 'F';
		nr_i += outcome[i] == 'I';
	}
	write_text_file(FILL_DELAY, "0");
	f.stop = true;
	pthread_barrier_wait(&f.go);
	pthread_join(thread, NULL);
	TH_LOG("%d rounds: the fault won %d, the injection %d: %s", i, nr_f,
	       nr_i, outcome);
	free(recs);
	munmap(f.p, THP_RACE_ROUNDS * pmd);
}

/* -- installs racing page faults ------------------------------------------ */

#define RACE_PAGES	64
#define RACE_SECONDS	2

/*
 * What page @i is for, by its index modulo 8: 'G' guarded and unguarded
 * by the installer and read by the toucher; '0' and '1' written by
 * faulter 0 and 1; 'q' quiet neighbours of the guards, left alone.
 */
static char race_role(size_t i)
{
	return "GGq0011q"[i % 8];
}

struct race {
	enum ptmark_backing_id backing;
	char *p;
	volatile int stop;
};

struct faulter {
	struct race *race;
	char role;
	unsigned long rounds, bad, signals;
};

struct toucher {
	struct race *race;
	unsigned long reads, segvs, bad;
};

/* What a faulted-in guarded page reads when no guard is there. */
static char race_fresh_byte(enum ptmark_backing_id b, size_t i)
{
	return b == BK_ANON ? 0 : file_byte(i);
}

/*
 * Write and read back the faulter's own pages, zapping them now and then
 * so that they fault in again: all while guards come and go next door.
 * Never a signal, never a wrong byte.
 */
static void *fault_own_pages(void *arg)
{
	struct faulter *f = arg;
	struct race *r = f->race;
	char val, got;
	size_t i;

	while (!r->stop) {
		val = (char)(f->rounds | 1);
		for (i = 0; i < RACE_PAGES; i++) {
			char *page = r->p + i * psize;

			if (race_role(i) != f->role)
				continue;
			if (probe_write(page, val) || probe_read(page, &got)) {
				f->signals++;
				return NULL;
			}
			f->bad += got != val;
			if (f->rounds % 8 != 7)
				continue;
			madvise(page, psize, MADV_DONTNEED);
			if (probe_read(page, &got)) {
				f->signals++;
				return NULL;
			}
			/* The page cache keeps shmem data; anon starts over. */
			f->bad += got != (r->backing == BK_ANON ? 0 : val);
		}
		f->rounds++;
	}
	return NULL;
}

/* Read the guarded pages: SIGSEGV at the page, or what a fresh one holds. */
static void *touch_guarded_pages(void *arg)
{
	struct toucher *t = arg;
	struct race *r = t->race;
	size_t i;
	char got;

	while (!r->stop) {
		for (i = 0; i < RACE_PAGES; i++) {
			char *page = r->p + i * psize;

			if (race_role(i) != 'G')
				continue;
			switch (probe_read(page, &got)) {
			case 0:
				t->reads++;
				t->bad += got != race_fresh_byte(r->backing, i);
				break;
			case SIGSEGV:
				t->segvs++;
				t->bad += last_fault.addr != page;
				break;
			default:
				t->bad++;
			}
		}
	}
	return NULL;
}

FIXTURE_NEEDS(race, NEEDS_GUARD | NEEDS_GUARD_IOCTL)

FIXTURE(race) {
	int fd;
	struct race race;
};

FIXTURE_VARIANT(race) {
	enum ptmark_backing_id backing;
};

FIXTURE_VARIANT_ADD(race, anon) {
	.backing = BK_ANON,
};

FIXTURE_VARIANT_ADD(race, memfd) {
	.backing = BK_MEMFD,
};

FIXTURE_SETUP(race)
{
	struct ptmark_info info;
	size_t i;

	PTMARK_REQUIRE_DEVICE(self->fd);
	ASSERT_EQ(0, ptmark_get_info(self->fd, &info));
	REQUIRE_GUARD_IOCTL(&info, variant->backing);
	ASSERT_EQ(0, probe_handlers_install());
	self->race.backing = variant->backing;
	self->race.p = map_backing(variant->backing, RACE_PAGES);
	ASSERT_NE(NULL, self->race.p);
	for (i = 0; i < RACE_PAGES; i++)
		if (race_role(i) == 'q')
			memset(self->race.p + i * psize, mem_byte(i), psize);
}

FIXTURE_TEARDOWN(race)
{
	if (self->race.p)
		munmap(self->race.p, RACE_PAGES * psize);
	close(self->fd);
}

/*
 * One round of the installer: guard every 'G' pair, check the page
 * tables show exactly those guards, remove them.  Returns the number of
 * things that went wrong.
 */
static unsigned long guard_round(int fd, char *p)
{
	char pic[RACE_PAGES + 1];
	unsigned long bad = 0;
	size_t i;

	for (i = 0; i < RACE_PAGES; i += 8)
		bad += ptmark_guard(p + i * psize, 2 * psize, true) != 2;
	if (scan_picture(fd, -1, p, RACE_PAGES, pic))
		return bad + 1;
	for (i = 0; i < RACE_PAGES; i++)
		bad += (pic[i] == 'G') != (race_role(i) == 'G');
	for (i = 0; i < RACE_PAGES; i += 8)
		bad += ptmark_guard(p + i * psize, 2 * psize, false) != 2;
	return bad;
}

/*
 * Guards installed and removed through the ioctl in a loop while other
 * threads fault pages right next to them and read the guarded ones.
 * Pages that are never guarded never see a signal or lose data; the
 * guarded ones fault with SIGSEGV at themselves or read fresh.
 */
TEST_F_TIMEOUT(race, install_remove_vs_faults, 60)
{
	struct faulter f[2] = {
		{ .race = &self->race, .role = '0' },
		{ .race = &self->race, .role = '1' },
	};
	struct toucher t = { .race = &self->race };
	unsigned long rounds = 0, bad = 0;
	pthread_t threads[3];
	char pic[RACE_PAGES + 1];
	time_t end;
	size_t i;

	ASSERT_GE(MAX_PICTURE, RACE_PAGES);
	ASSERT_EQ(0, pthread_create(&threads[0], NULL, fault_own_pages, &f[0]));
	ASSERT_EQ(0, pthread_create(&threads[1], NULL, fault_own_pages, &f[1]));
	ASSERT_EQ(0, pthread_create(&threads[2], NULL, touch_guarded_pages,
				    &t));
	end = time(NULL) + RACE_SECONDS;
	while (time(NULL) < end) {
		bad += guard_round(self->fd, self->race.p);
		rounds++;
	}
	self->race.stop = 1;
	for (i = 0; i < 3; i++)
		pthread_join(threads[i], NULL);

	TH_LOG("%lu installer rounds, faulters %lu/%lu rounds, toucher %lu reads %lu SIGSEGVs",
	       rounds, f[0].rounds, f[1].rounds, t.reads, t.segvs);
	EXPECT_EQ(0, bad);
	for (i = 0; i < 2; i++) {
		EXPECT_EQ(0, f[i].signals) TH_LOG("faulter %zu", i);
		EXPECT_EQ(0, f[i].bad) TH_LOG("faulter %zu", i);
		EXPECT_LT(0, f[i].rounds);
	}
	EXPECT_EQ(0, t.bad);
	EXPECT_LT(0, t.segvs);
	EXPECT_LT(0, rounds);

	ASSERT_EQ(0, scan_picture(self->fd, -1, self->race.p, RACE_PAGES, pic));
	for (i = 0; i < RACE_PAGES; i++) {
		if (race_role(i) != 'q')
			continue;
		EXPECT_EQ('P', pic[i]) TH_LOG("quiet page %zu", i);
		EXPECT_TRUE(page_is(self->race.p + i * psize, mem_byte(i)))
			TH_LOG("quiet page %zu", i);
	}
}

/* -- many ranges in one call ------------------------------------------------ */

/* Ranges of one page at each page of @p that @picture marks 'G'. */
static size_t vector_of(const char *picture, char *p, struct ptmark_range *vec)
{
	size_t i, n = 0;

	for (i = 0; picture[i]; i++) {
		if (picture[i] != 'G')
			continue;
		vec[n].start = (uintptr_t)(p + i * psize);
		vec[n].len = psize;
		n++;
	}
	return n;
}

/*
 * One vectored call does what one madvise() a range does, range by range,
 * and removal undoes it the same way; a zero-length range is a no-op that
 * still counts as done.
 */
TEST_F(guard, vector_installs_and_removes_each_range)
{
	static const char picture[] = "G.GG...G.G..GGGG";
	struct ptmark_range vec[17];
	size_t nr = strlen(picture), n, i;
	__u64 pages, ranges;
	char pic[MAX_PICTURE + 1], want[MAX_PICTURE + 1];
	char *p;

	REQUIRE_GUARD_IOCTL(&self->info, BK_ANON);
	ASSERT_EQ(0, probe_handlers_install());
	p = map_backing(BK_ANON, nr);
	ASSERT_NE(NULL, p);
	populate(BK_ANON, p, nr);
	n = vector_of(picture, p, vec);
	vec[n].start = (uintptr_t)p;
	vec[n++].len = 0;

	ASSERT_EQ(0, ptmark_marker_vec(self->fd, vec, n, PTMARK_MARKER_GUARD,
				       0, &pages, &ranges));
	EXPECT_EQ(picture_count(picture, 'G'), pages);
	EXPECT_EQ(n, ranges);
	ASSERT_EQ(0, scan_picture(self->fd, -1, p, nr, pic));
	picture_swap(picture, '.', 'P', want);
	EXPECT_STREQ(want, pic);
	for (i = 0; i < nr; i++) {
		char c;

		if (picture[i] == 'G') {
			EXPECT_EQ(SIGSEGV, probe_read(p + i * psize, &c));
			EXPECT_TRUE(probe_hit_guard(p + i * psize));
		} else {
			EXPECT_EQ(0, probe_read(p + i * psize, &c));
			EXPECT_EQ(mem_byte(i), c) TH_LOG("page %zu", i);
		}
	}

	ASSERT_EQ(0, ptmark_marker_vec(self->fd, vec, n, PTMARK_MARKER_GUARD,
				       PTMARK_MARKER_F_REMOVE, &pages,
				       &ranges));
	EXPECT_EQ(picture_count(picture, 'G'), pages);
	EXPECT_EQ(n, ranges);
	ASSERT_EQ(0, scan_picture(self->fd, -1, p, nr, pic));
	for (i = 0; i < nr; i++) {
		EXPECT_EQ(picture[i] == 'G' ? '.' : 'P', pic[i])
			TH_LOG("page %zu", i);
	}
	munmap(p, nr * psize);
}

/*
 * The call stops at the first range that fails: the ranges before it are
 * done, nr_ranges is its index, nr_pages counts what was done of it (the
 * mapped parts around a hole, as madvise() does them), and no range after
 * it is touched.
 */
TEST_F(guard, vector_stops_at_the_failing_range)
{
	struct ptmark_range vec[4];
	__u64 pages, ranges;
	char pic[MAX_PICTURE + 1];
	char *p;

	REQUIRE_GUARD_IOCTL(&self->info, BK_ANON);
	p = map_backing(BK_ANON, 12);
	ASSERT_NE(NULL, p);

	/* An unaligned third range. */
	vec[0] = (struct ptmark_range){ (uintptr_t)p, psize };
	vec[1] = (struct ptmark_range){ (uintptr_t)(p + 2 * psize), psize };
	vec[2] = (struct ptmark_range){ (uintptr_t)(p + 4 * psize) + 1, psize };
	vec[3] = (struct ptmark_range){ (uintptr_t)(p + 6 * psize), psize };
	EXPECT_EQ(-EINVAL, ptmark_marker_vec(self->fd, vec, 4,
					     PTMARK_MARKER_GUARD, 0, &pages,
					     &ranges));
	EXPECT_EQ(2, ranges);
	EXPECT_EQ(2, pages);
	ASSERT_EQ(0, scan_picture(self->fd, -1, p, 12, pic));
	EXPECT_STREQ("G.G.........", pic);
	ASSERT_EQ(0, madvise(p, 12 * psize, MADV_GUARD_REMOVE));

	/* A hole in the second range: its mapped parts are still done. */
	ASSERT_EQ(0, munmap(p + 5 * psize, psize));
	vec[0] = (struct ptmark_range){ (uintptr_t)p, 2 * psize };
	vec[1] = (struct ptmark_range){ (uintptr_t)(p + 4 * psize), 3 * psize };
	vec[2] = (struct ptmark_range){ (uintptr_t)(p + 8 * psize), psize };
	EXPECT_EQ(-ENOMEM, ptmark_marker_vec(self->fd, vec, 3,
					     PTMARK_MARKER_GUARD, 0, &pages,
					     &ranges));
	EXPECT_EQ(1, ranges);
	EXPECT_EQ(4, pages);
	ASSERT_EQ(0, scan_picture(self->fd, -1, p, 12, pic));
	EXPECT_STREQ("GG..G.G.....", pic);
	munmap(p, 12 * psize);
}

/*
 * The vector's own limits: too many ranges is E2BIG, a caller that does
 * not know nr_ranges may not ask for a vector, an unreadable array is
 * EFAULT with nothing done, and an empty vector is a no-op.
 */
TEST_F(guard, vector_limits)
{
	struct ptmark_range vec = { 0, 0 };
	struct ptmark_marker req;
	__u64 pages, ranges;
	char pic[MAX_PICTURE + 1];
	char *p;

	REQUIRE_GUARD_IOCTL(&self->info, BK_ANON);
	p = map_backing(BK_ANON, 4);
	ASSERT_NE(NULL, p);
	vec.start = (uintptr_t)p;
	vec.len = psize;

	EXPECT_EQ(-E2BIG, ptmark_marker_vec(self->fd, &vec,
					    PTMARK_MARKER_VEC_MAX + 1ULL,
					    PTMARK_MARKER_GUARD, 0, &pages,
					    &ranges));
	EXPECT_EQ(-EFAULT, ptmark_marker_vec(self->fd, (void *)16, 1,
					     PTMARK_MARKER_GUARD, 0, &pages,
					     &ranges));
	EXPECT_EQ(0, ranges);
	EXPECT_EQ(0, pages);
	EXPECT_EQ(0, ptmark_marker_vec(self->fd, &vec, 0, PTMARK_MARKER_GUARD,
				       0, &pages, &ranges));
	EXPECT_EQ(0, ranges);
	EXPECT_EQ(0, pages);

	req = (struct ptmark_marker){
		.size = PTMARK_MARKER_SIZE_VER0,
		.flags = PTMARK_MARKER_F_VECTOR,
		.marker = PTMARK_MARKER_GUARD,
		.start = (uintptr_t)&vec,
		.len = 1,
	};
	EXPECT_EQ(-1, ioctl(self->fd, PTMARK_IOC_MARKER, &req));
	EXPECT_EQ(EINVAL, errno);

	ASSERT_EQ(0, scan_picture(self->fd, -1, p, 4, pic));
	EXPECT_STREQ("....", pic);
	munmap(p, 4 * psize);
}

/*
 * Ranges of a vector that share one PTE table are filled in one pass over
 * it; that must not change what any range gets.  A vector of awkward
 * ranges (ascending runs, a step back, a repeat, an empty one, one across
 * a PMD boundary, one across two VMAs, some in a read-only VMA) does to a
 * mapping exactly what the same ranges do, one call each, to its twin:
 * the same markers, the same pages counted, the data around them kept.
 */
#define TWIN_RO_FIRST	700
#define TWIN_RO_END	800

static const struct { unsigned int page, nr; } twin_ranges[] = {
	{ 500, 1 }, { 502, 1 }, { 504, 2 }, { 503, 1 }, { 503, 1 },
	{ 506, 0 }, { 508, 8 }, { 520, 1 }, { 522, 1 }, { 690, 1 },
	{ 698, 4 }, { 710, 1 }, { 712, 1 }, { 801, 1 }, { 803, 3 },
	{ 0, 1 }, { 2, 1 }, { 1000, 24 },
};

/* Whether twin page @i is written: blocks of 16, every other one. */
static bool twin_written(size_t i)
{
	return !(i / 16 % 2);
}

/*
 * Two PMDs of anon memory, half written (twin_written()), pages 700-799
 * read-only; NULL if not.  Both kinds of neighbour matter: an empty
 * entry between two ranges would take a marker, a mapped one would only
 * make the install retry.
 */
static char *map_twin(size_t pmd)
{
	char *p = mmap_aligned(2 * pmd, pmd, PROT_READ | PROT_WRITE);
	size_t i;

	if (p == MAP_FAILED || madvise(p, 2 * pmd, MADV_NOHUGEPAGE))
		return NULL;
	for (i = 0; i < 2 * pmd / psize; i++)
		if (twin_written(i))
			memset(p + i * psize, mem_byte(i), psize);
	if (mprotect(p + TWIN_RO_FIRST * psize,
		     (TWIN_RO_END - TWIN_RO_FIRST) * psize, PROT_READ))
		return NULL;
	return p;
}

static void twin_compare(struct __test_metadata *_metadata, int fd,
			 const char *a, const char *b, size_t nr,
			 struct ptmark_record *ra, struct ptmark_record *rb)
{
	size_t i, bad = 0;

	ASSERT_EQ(0, ptmark_scan_dense_of(fd, -1, a, nr, ra));
	ASSERT_EQ(0, ptmark_scan_dense_of(fd, -1, b, nr, rb));
	for (i = 0; i < nr; i++) {
		if (ra[i].kind == rb[i].kind && ra[i].marker == rb[i].marker)
			continue;
		if (bad++ < 4)
			TH_LOG("page %zu: vector kind %u marker %#x, one by one kind %u marker %#x",
			       i, ra[i].kind, ra[i].marker, rb[i].kind,
			       rb[i].marker);
		if (ra[i].kind == PTMARK_KIND_PRESENT && twin_written(i) &&
		    !page_is(a + i * psize, mem_byte(i)))
			TH_LOG("page %zu: data lost", i);
	}
	EXPECT_EQ(0, bad);
}

TEST_F(guard, vector_matches_range_by_range)
{
	size_t pmd = ptmark_pmd_size(), nr = 2 * pmd / psize, i;
	size_t n = ARRAY_SIZE(twin_ranges), guarded = 0;
	struct ptmark_range vec[ARRAY_SIZE(twin_ranges)];
	struct ptmark_record *ra, *rb;
	__u64 pages, ranges, one, sum;
	__u32 flags;
	char *a, *b;
	int pass;

	REQUIRE_GUARD_IOCTL(&self->info, BK_ANON);
	ASSERT_EQ(1024, nr) TH_LOG("the ranges assume 512 pages a PMD");
	a = map_twin(pmd);
	b = map_twin(pmd);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	ra = calloc(nr, sizeof(*ra));
	rb = calloc(nr, sizeof(*rb));
	ASSERT_NE(NULL, ra);
	ASSERT_NE(NULL, rb);
	for (i = 0; i < n; i++) {
		vec[i].start = (uintptr_t)(a + twin_ranges[i].page * psize);
		vec[i].len = twin_ranges[i].nr * psize;
	}

	for (pass = 0; pass < 2; pass++) {
		flags = pass ? PTMARK_MARKER_F_REMOVE : 0;
		ASSERT_EQ(0, ptmark_marker_vec(self->fd, vec, n,
					       PTMARK_MARKER_GUARD, flags,
					       &pages, &ranges));
		EXPECT_EQ(n, ranges);
		for (i = 0, sum = 0; i < n; i++) {
			EXPECT_EQ(0, ptmark_marker_fd(self->fd, -1,
					b + twin_ranges[i].page * psize,
					twin_ranges[i].nr * psize,
					PTMARK_MARKER_GUARD, flags, &one))
				TH_LOG("range %zu", i);
			sum += one;
		}
		EXPECT_EQ(sum, pages) TH_LOG("%s", pass ? "remove" : "install");
		twin_compare(_metadata, self->fd, a, b, nr, ra, rb);
		for (i = 0, guarded = 0; i < nr; i++)
			guarded += ra[i].kind == PTMARK_KIND_MARKER;
		EXPECT_EQ(pass ? 0 : 52, guarded);
	}
	for (i = 0; i < nr; i++) {
		EXPECT_TRUE(ra[i].kind != PTMARK_KIND_PRESENT ||
			    (twin_written(i) &&
			     page_is(a + i * psize, mem_byte(i))))
			TH_LOG("page %zu", i);
	}
	free(ra);
	free(rb);
	munmap(a, 2 * pmd);
	munmap(b, 2 * pmd);
}

/*
 * A group of ranges that fails (here: no memory for the PTE table they
 * share) is done again range by range, so the call still stops at the
 * first failing range with what came before it done: one range in a
 * populated PMD, then three in a PMD that has no table yet.
 */
TEST_F(guard, vector_group_failure_stops_at_its_first_range)
{
	size_t pmd = ptmark_pmd_size();
	struct ptmark_range vec[4];
	__u64 pages = ~0ULL, ranges = ~0ULL;
	char pic[5], *p;
	int err, i;

	REQUIRE_GUARD_IOCTL(&self->info, BK_ANON);
	p = mmap_aligned(2 * pmd, pmd, PROT_READ | PROT_WRITE);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, madvise(p, 2 * pmd, MADV_NOHUGEPAGE));
	memset(p, 1, psize);
	vec[0] = (struct ptmark_range){ (uintptr_t)p, psize };
	for (i = 1; i < 4; i++)
		vec[i] = (struct ptmark_range){
			(uintptr_t)(p + pmd + 2 * i * psize), psize };

	err = ptmark_fail_page_alloc(true);
	if (err == -ENOENT) {
		munmap(p, 2 * pmd);
		SKIP(return, "no fail_page_alloc in debugfs (CONFIG_FAIL_PAGE_ALLOC)");
	}
	if (!err)
		err = ptmark_marker_vec(self->fd, vec, 4, PTMARK_MARKER_GUARD,
					0, &pages, &ranges);
	ASSERT_EQ(0, ptmark_fail_page_alloc(false));
	EXPECT_EQ(-ENOMEM, err);
	EXPECT_EQ(1, ranges);
	EXPECT_EQ(1, pages);
	ASSERT_EQ(0, scan_picture(self->fd, -1, p, 1, pic));
	EXPECT_STREQ("G", pic);
	ASSERT_EQ(0, scan_picture(self->fd, -1, p + pmd + 2 * psize, 4, pic));
	EXPECT_STREQ("....", pic);

	ASSERT_EQ(0, ptmark_marker_vec(self->fd, vec, 4, PTMARK_MARKER_GUARD,
				       0, &pages, &ranges));
	EXPECT_EQ(4, ranges);
	EXPECT_EQ(4, pages);
	ASSERT_EQ(0, scan_picture(self->fd, -1, p + pmd + 2 * psize, 4, pic));
	EXPECT_STREQ("G.G.", pic);
	munmap(p, 2 * pmd);
}

/*
 * More ranges than one batch (the lock is dropped between batches): every
 * other page of 12000 gets its marker, and nothing else does.
 */
TEST_F(guard, vector_spans_batches)
{
	const size_t nr = 12000, n = nr / 2;
	struct ptmark_range *vec = calloc(n, sizeof(*vec));
	struct ptmark_record *recs = calloc(nr, sizeof(*recs));
	__u64 pages, ranges;
	size_t i;
	char *p;

	REQUIRE_GUARD_IOCTL(&self->info, BK_ANON);
	ASSERT_NE(NULL, vec);
	ASSERT_NE(NULL, recs);
	p = map_backing(BK_ANON, nr);
	ASSERT_NE(NULL, p);
	for (i = 0; i < n; i++) {
		vec[i].start = (uintptr_t)(p + 2 * i * psize);
		vec[i].len = psize;
	}
	ASSERT_EQ(0, ptmark_marker_vec(self->fd, vec, n, PTMARK_MARKER_GUARD,
				       0, &pages, &ranges));
	EXPECT_EQ(n, pages);
	EXPECT_EQ(n, ranges);
	ASSERT_EQ(0, ptmark_scan_dense(self->fd, p, nr, recs));
	for (i = 0; i < nr; i++) {
		bool guarded = recs[i].kind == PTMARK_KIND_MARKER &&
			       recs[i].marker == PTMARK_MARKER_GUARD;

		EXPECT_EQ(i % 2 == 0, guarded) TH_LOG("page %zu", i);
		if ((i % 2 == 0) != guarded)
			break;
	}
	munmap(p, nr * psize);
	free(vec);
	free(recs);
}

/*
 * -- guards: a range of any size ---------------------------------------------
 *
 * An install holds the target's mmap lock for write.  However large its
 * range, another thread must get that lock, and a kill must end the call,
 * within a bound: the module lets the lock go every 32 page tables.  The
 * fill_delay_us hook makes each empty PMD cost HOLD_DELAY_US, so that a
 * 2 GiB install takes over four seconds on any machine, KVM or TCG, and a
 * module that keeps the lock for the whole range cannot pass.  The bound
 * is wide (a hold is 32 x 4 ms, the rest is a busy TCG host descheduling
 * the waiter: 650 ms was seen in CI) but still a quarter of the call.
 */
#define BIG_FILL_DELAY		"/sys/module/ptmark/parameters/fill_delay_us"
#define BIG_RANGE		(2UL << 30)
#define HOLD_DELAY_US		"4000"
/* Another thread's mmap()+munmap() waits at most this long ... */
#define LOCK_BOUND_MS		1000
/* ... and a killed installer is gone within this. */
#define KILL_BOUND_MS		1000

FIXTURE_NEEDS(big_range, NEEDS_GUARD | NEEDS_GUARD_IOCTL)

FIXTURE(big_range) {
	int fd;
	struct ptmark_info info;
};

FIXTURE_SETUP(big_range)
{
	PTMARK_REQUIRE_DEVICE(self->fd);
	ASSERT_EQ(0, ptmark_get_info(self->fd, &self->info));
}

FIXTURE_TEARDOWN(big_range)
{
	write_text_file(BIG_FILL_DELAY, "0");
	close(self->fd);
}

/* A reservation of @len, nothing populated: every PMD empty. */
static char *reserve(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/*
 * One install over BIG_RANGE, as one range or as a vector of one range,
 * while another thread takes the lock: that thread never waits longer
 * than LOCK_BOUND_MS, in a call that lasts far longer.
 */
TEST_F(big_range, install_lets_others_take_the_lock)
{
	static const char *const how[] = { "one range", "a vector" };
	struct ptmark_range vec;
	struct lock_waiter taker;
	__u64 pages, ranges;
	double t0, took;
	int k, ret;
	char *p;

	REQUIRE_GUARD_IOCTL(&self->info, BK_ANON);
	ASSERT_EQ(0, write_text_file(BIG_FILL_DELAY, HOLD_DELAY_US));
	for (k = 0; k < 2; k++) {
		p = reserve(BIG_RANGE);
		ASSERT_NE(NULL, p);
		/* The anon_vma comes first: its fault is no part of this. */
		p[0] = 1;
		ASSERT_EQ(0, lock_waiter_start(&taker));
		usleep(20000);
		t0 = monotonic_ms();
		if (k == 0) {
			ret = ptmark_marker_fd(self->fd, -1, p, BIG_RANGE,
					       PTMARK_MARKER_GUARD, 0, &pages);
		} else {
			vec.start = (uintptr_t)p;
			vec.len = BIG_RANGE;
			ret = ptmark_marker_vec(self->fd, &vec, 1,
						PTMARK_MARKER_GUARD, 0, &pages,
						&ranges);
		}
		took = monotonic_ms() - t0;
		lock_waiter_stop(&taker);
		EXPECT_EQ(0, ret) TH_LOG("%s: %s", how[k], strerror(-ret));
		EXPECT_EQ(BIG_RANGE / psize, pages) TH_LOG("%s", how[k]);
		TH_LOG("%s: install of 2 GiB took %.0f ms; the other thread took the lock %lu times, waiting at most %.0f ms",
		       how[k], took, taker.takes, taker.worst_ms);
		/* Only a call longer than the bound can tell. */
		EXPECT_LT(2 * LOCK_BOUND_MS, took) TH_LOG("%s", how[k]);
		EXPECT_LT(taker.worst_ms, LOCK_BOUND_MS) TH_LOG("%s", how[k]);
		EXPECT_LT(5, taker.takes) TH_LOG("%s", how[k]);
		munmap(p, BIG_RANGE);
	}
}

/* A kill ends an install of any size within KILL_BOUND_MS. */
TEST_F(big_range, install_ends_on_kill)
{
	int pipefd[2], status;
	double t0, took;
	pid_t pid;
	char *p, c;

	REQUIRE_GUARD_IOCTL(&self->info, BK_ANON);
	ASSERT_EQ(0, write_text_file(BIG_FILL_DELAY, HOLD_DELAY_US));
	p = reserve(BIG_RANGE);
	ASSERT_NE(NULL, p);
	p[0] = 1;
	ASSERT_EQ(0, pipe(pipefd));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		__u64 pages;

		close(pipefd[0]);
		c = 1;
		if (write(pipefd[1], &c, 1) != 1)
			_exit(2);
		ptmark_marker_fd(self->fd, -1, p, BIG_RANGE,
				 PTMARK_MARKER_GUARD, 0, &pages);
		/* Whole: the kill came too late to tell anything. */
		_exit(3);
	}
	close(pipefd[1]);
	ASSERT_EQ(1, read(pipefd[0], &c, 1));
	close(pipefd[0]);
	/* Well inside the call, which takes about two seconds. */
	usleep(300000);
	t0 = monotonic_ms();
	ASSERT_EQ(0, kill(pid, SIGKILL));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	took = monotonic_ms() - t0;
	TH_LOG("the killed installer was gone after %.0f ms", took);
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		TH_LOG("child status %#x", status);
	EXPECT_LT(took, KILL_BOUND_MS);
	munmap(p, BIG_RANGE);
}

PTMARK_GENERATED_TEST()

PTMARK_MODULE_HARNESS_MAIN(NULL)
