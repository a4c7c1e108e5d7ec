// SPDX-License-Identifier: GPL-2.0
/*
 * uffdwp-punch-race: uffd-wp protection lost when a hole punch races
 * read faults on shmem.
 *
 * Two pages of a memfd are registered for uffd-wp and write-protected.
 * One thread reads them over and over while the main thread punches them
 * out again and again.  After every punch each page must still be
 * protected: a uffd-wp marker, or a page the reader faulted back in
 * read-only with the uffd-wp bit; pagemap shows PM_UFFD_WP for both.  A
 * page without it is a none PTE in a protected range, and the next write
 * there would go in without a uffd-wp fault.
 *
 * Usage: uffdwp-punch-race [SECONDS]   (default 10; stops at the first hit)
 */
#include <pthread.h>
#include <stdatomic.h>

#include "repro.h"

#define PAGES 2

static char *mem;
static size_t ps;
static atomic_bool stop;

static void *reader(void *arg)
{
	size_t i;

	while (!atomic_load(&stop))
		for (i = 0; i < PAGES; i++)
			(void)*(volatile char *)(mem + i * ps);
	return arg;
}

int main(int argc, char **argv)
{
	double limit = argc > 1 ? atof(argv[1]) : 10;
	unsigned long punches = 0, met = 0;
	int uffd, fd, pagemap, seen = -1;
	struct timespec t0;
	pthread_t thread;
	uint64_t e = 0;
	size_t i;

	ps = getpagesize();
	uffd = uffd_with(UFFD_FEATURE_WP_HUGETLBFS_SHMEM);
	mem = memfd_pages(PAGES, &fd);
	pagemap = open("/proc/self/pagemap", O_RDONLY);
	if (pagemap < 0)
		cannot("/proc/self/pagemap");
	uffd_register_wp(uffd, mem, PAGES * ps);
	if (uffd_protect(uffd, mem, PAGES * ps, 1))
		cannot("UFFDIO_WRITEPROTECT");

	pthread_create(&thread, NULL, reader, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (seen < 0 && (seconds_since(&t0) < limit ||
			    (met < REPRO_RACE_HITS && seconds_since(&t0) < 3 * limit))) {
		if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			      0, PAGES * ps))
			cannot("fallocate(PUNCH_HOLE)");
		punches++;
		for (i = 0; i < PAGES && seen < 0; i++) {
			e = pagemap_entry(pagemap, mem + i * ps);
			if (!(e & PM_UFFD_WP))
				seen = i;
		}
		/* The reader mapped a punched page again: its faults met the punch. */
		for (i = 0; i < PAGES; i++)
			if (pagemap_entry(pagemap, mem + i * ps) & PM_PRESENT) {
				met++;
				break;
			}
	}
	atomic_store(&stop, true);
	pthread_join(thread, NULL);

	if (seen >= 0) {
		printf("bug: after punch %lu page %d of a write-protected memfd range lost its uffd-wp protection (pagemap %#llx)\n",
		       punches, seen, (unsigned long long)e);
		return REPRO_SEEN;
	}
	return race_not_seen(met, "punches the reader's faults met", punches,
			     seconds_since(&t0));
}
