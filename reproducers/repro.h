/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the stand-alone reproducers share: a userfaultfd, a memfd, and
 * /proc/self/pagemap.  Each reproducer needs nothing else - no ptmark.ko,
 * no test harness - so it can go to a kernel list as it is.
 *
 * Exit status: 0 the bug did not show, 1 it did, 4 this kernel cannot
 * run the reproducer (the reason on stdout), 3 a race reproducer that
 * could not make its race happen often enough to say "not seen".
 */
#ifndef _PTMARK_REPRO_H
#define _PTMARK_REPRO_H

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#define REPRO_NOT_SEEN	0
#define REPRO_SEEN	1
#define REPRO_CANNOT	4
#define REPRO_NOT_EXERCISED	3

/*
 * Windows a race reproducer must hit (rounds in which both sides met
 * where the bug can happen) before it may say the bug did not show.
 */
#define REPRO_RACE_HITS	20

/*
 * The end of a race reproducer that did not see its bug: "not seen in N
 * WINDOWS" and REPRO_NOT_SEEN, or REPRO_NOT_EXERCISED when it hit fewer
 * than REPRO_RACE_HITS windows.
 */
static inline int race_not_seen(unsigned long hits, const char *windows,
				unsigned long rounds, double seconds)
{
	if (hits < REPRO_RACE_HITS) {
		printf("race not exercised: %lu of %d %s (%lu rounds in %.1f s)\n",
		       hits, REPRO_RACE_HITS, windows, rounds, seconds);
		return REPRO_NOT_EXERCISED;
	}
	printf("not seen in %lu %s (%lu rounds in %.1f s)\n", hits, windows,
	       rounds, seconds);
	return REPRO_NOT_SEEN;
}

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL	102
#define MADV_GUARD_REMOVE	103
#endif

#define PM_PRESENT	(1ULL << 63)
#define PM_UFFD_WP	(1ULL << 57)
#define PM_GUARD	(1ULL << 58)

static inline void __attribute__((noreturn)) cannot(const char *what)
{
	printf("cannot reproduce here: %s: %s\n", what, strerror(errno));
	exit(REPRO_CANNOT);
}

/* A userfaultfd with @features, or exit REPRO_CANNOT. */
static inline int uffd_with(__u64 features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		cannot("userfaultfd()");
	if (ioctl(fd, UFFDIO_API, &api))
		cannot("UFFDIO_API with the features needed");
	return fd;
}

/* Register [addr, addr + len) with UFFDIO_REGISTER_MODE_* @mode: ioctl's. */
static inline int uffd_register(int uffd, void *addr, size_t len, __u64 mode)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = mode,
	};

	return ioctl(uffd, UFFDIO_REGISTER, &reg);
}

/* Register [addr, addr + len) for write-protect faults. */
static inline void uffd_register_wp(int uffd, void *addr, size_t len)
{
	if (uffd_register(uffd, addr, len, UFFDIO_REGISTER_MODE_WP))
		cannot("UFFDIO_REGISTER_MODE_WP on shmem");
}

static inline int uffd_protect(int uffd, void *addr, size_t len, int on)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = on ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	return ioctl(uffd, UFFDIO_WRITEPROTECT, &wp);
}

/* A memfd of @pages pages, each filled, mapped shared; *fd gets the fd. */
static inline char *memfd_pages(size_t pages, int *fd)
{
	size_t ps = getpagesize(), i;
	char *mem;

	*fd = memfd_create("repro", MFD_CLOEXEC);
	if (*fd < 0 || ftruncate(*fd, pages * ps))
		cannot("memfd_create()");
	mem = mmap(NULL, pages * ps, PROT_READ | PROT_WRITE, MAP_SHARED,
		   *fd, 0);
	if (mem == MAP_FAILED)
		cannot("mmap() of a memfd");
	for (i = 0; i < pages; i++)
		memset(mem + i * ps, 'a' + i, ps);
	return mem;
}

/* The pagemap entry of the page at @addr. */
static inline uint64_t pagemap_entry(int pagemap, const void *addr)
{
	uint64_t e = 0;
	off_t off = (uintptr_t)addr / getpagesize() * sizeof(e);

	if (pread(pagemap, &e, sizeof(e), off) != sizeof(e)) {
		perror("pread /proc/self/pagemap");
		exit(2);
	}
	return e;
}

static inline double seconds_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) + (t.tv_nsec - t0->tv_nsec) / 1e9;
}

#endif /* _PTMARK_REPRO_H */
