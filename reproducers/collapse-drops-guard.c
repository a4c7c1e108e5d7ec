// SPDX-License-Identifier: GPL-2.0
/*
 * collapse-drops-guard: a guard installed while a PTE-mapped huge tmpfs
 * folio is collapsed back to a PMD mapping is thrown away with the page
 * table it went into.
 *
 * One PMD of a huge=always tmpfs file, mapped shared and PTE-mapped (a
 * guard split its PMD mapping).  One thread collapses it (MADV_COLLAPSE,
 * which takes the path khugepaged takes for such folios); the other
 * removes the guard on one page, touches the page every other round
 * and puts the guard back.  MADV_GUARD_INSTALL must leave a guard whenever it returns 0.
 * Where the bug is, try_collapse_pte_mapped_thp() cleared the PTEs and
 * dropped their lock before the guard went into the emptied table, then
 * took the table out of the PMD without looking at it again: the guard
 * is gone, and the page reads fine through the new PMD mapping.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <linux/mount.h>

#include "repro.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE	25
#endif

#define PMD_SIZE	(2UL << 20)
#define SECONDS		20

static char *region;
static atomic_bool stop;

/* A file on a private huge=always tmpfs mount, or exit REPRO_CANNOT. */
static int huge_tmpfs_file(void)
{
	int fs, mnt, fd;

	fs = syscall(__NR_fsopen, "tmpfs", FSOPEN_CLOEXEC);
	if (fs < 0)
		cannot("fsopen(tmpfs)");
	if (syscall(__NR_fsconfig, fs, FSCONFIG_SET_STRING, "huge", "always",
		    0) ||
	    syscall(__NR_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0))
		cannot("a huge=always tmpfs");
	mnt = syscall(__NR_fsmount, fs, FSMOUNT_CLOEXEC, 0);
	if (mnt < 0)
		cannot("fsmount()");
	fd = openat(mnt, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0)
		cannot("O_TMPFILE on huge tmpfs");
	close(mnt);
	close(fs);
	return fd;
}

static sigjmp_buf segv_jmp;

static void on_segv(int sig)
{
	siglongjmp(segv_jmp, sig);
}

/* Whether a read of @addr raises SIGSEGV, as a guard makes it. */
static bool read_faults(const char *addr)
{
	struct sigaction sa = { .sa_handler = on_segv }, old;
	bool faulted = true;

	sigaction(SIGSEGV, &sa, &old);
	if (!sigsetjmp(segv_jmp, 1)) {
		*(volatile const char *)addr;
		faulted = false;
	}
	sigaction(SIGSEGV, &old, NULL);
	return faulted;
}

static void *collapser(void *arg)
{
	atomic_long *collapses = arg;

	while (!atomic_load(&stop))
		if (!madvise(region, PMD_SIZE, MADV_COLLAPSE))
			atomic_fetch_add(collapses, 1);
	return NULL;
}

int main(void)
{
	size_t ps = getpagesize();
	char *guard, *reserve;
	struct timespec t0;
	atomic_long collapses = 0;
	long rounds = 0, before;
	unsigned long met = 0;
	int fd, pagemap, ret = REPRO_NOT_SEEN;
	pthread_t thread;
	uint64_t e;

	pagemap = open("/proc/self/pagemap", O_RDONLY);
	if (pagemap < 0)
		cannot("/proc/self/pagemap");
	fd = huge_tmpfs_file();
	if (ftruncate(fd, PMD_SIZE))
		cannot("ftruncate()");
	reserve = mmap(NULL, 2 * PMD_SIZE, PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (reserve == MAP_FAILED)
		cannot("mmap()");
	region = (char *)(((uintptr_t)reserve + PMD_SIZE - 1) & ~(PMD_SIZE - 1));
	if (mmap(region, PMD_SIZE, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, fd, 0) != region)
		cannot("mmap() of the huge tmpfs file");
	memset(region, 'x', PMD_SIZE);
	if (!(pagemap_entry(pagemap, region) & PM_PRESENT))
		cannot("the file's page stays unmapped");
	guard = region + 7 * ps;
	if (madvise(guard, ps, MADV_GUARD_INSTALL))
		cannot("MADV_GUARD_INSTALL on huge tmpfs");
	if (!(pagemap_entry(pagemap, guard) & PM_GUARD))
		cannot("no guard bit in pagemap (6.15+)");
	if (madvise(guard, ps, MADV_GUARD_REMOVE) ||
	    madvise(region, PMD_SIZE, MADV_COLLAPSE))
		cannot("MADV_COLLAPSE of a huge tmpfs folio");

	if (pthread_create(&thread, NULL, collapser, &collapses))
		cannot("pthread_create()");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (seconds_since(&t0) < SECONDS ||
	       (met < REPRO_RACE_HITS && seconds_since(&t0) < 3 * SECONDS)) {
		rounds++;
		if (madvise(guard, ps, MADV_GUARD_REMOVE)) {
			perror("MADV_GUARD_REMOVE");
			exit(2);
		}
		/* Half the rounds map the page first, half leave it none. */
		if (rounds & 1)
			*(volatile char *)guard;
		before = atomic_load(&collapses);
		if (madvise(guard, ps, MADV_GUARD_INSTALL)) {
			perror("MADV_GUARD_INSTALL");
			exit(2);
		}
		/* A collapse finished while the install ran: they met. */
		if (atomic_load(&collapses) != before)
			met++;
		e = pagemap_entry(pagemap, guard);
		if (!(e & PM_GUARD)) {
			printf("round %ld: MADV_GUARD_INSTALL returned 0, then pagemap %#llx: guard lost\n",
			       rounds, (unsigned long long)e);
			ret = REPRO_SEEN;
			break;
		}
	}
	atomic_store(&stop, true);
	pthread_join(thread, NULL);
	if (ret == REPRO_SEEN)
		printf("with the collapses done: pagemap %#llx, a read %s\n",
		       (unsigned long long)pagemap_entry(pagemap, guard),
		       read_faults(guard) ? "raises SIGSEGV" :
		       "goes through: the page is unguarded");
	if (ret == REPRO_NOT_SEEN)
		return race_not_seen(met, "installs a collapse overlapped",
				     rounds, seconds_since(&t0));
	printf("%ld rounds, %ld collapses in %.1f s: bug seen\n", rounds,
	       atomic_load(&collapses), seconds_since(&t0));
	return ret;
}
