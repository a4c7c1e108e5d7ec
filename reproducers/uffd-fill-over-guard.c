// SPDX-License-Identifier: GPL-2.0
/*
 * uffd-fill-over-guard: UFFDIO_COPY and UFFDIO_CONTINUE map a page over a
 * guard marker.
 *
 * Three ranges, each with a guard on its page 1: private anonymous
 * memory and a shared memfd hole, both registered for missing faults,
 * and a shared memfd whose page cache is full, registered for minor
 * faults.  UFFDIO_COPY onto the first two guards and UFFDIO_CONTINUE
 * onto the third must fail with EEXIST, as UFFDIO_ZEROPAGE, UFFDIO_POISON
 * and UFFDIO_MOVE do, and leave the guard.  Where the bug is, the call
 * succeeds: the guard marker is replaced by a present page (a new anon
 * page, a new page in the memfd's page cache, or the cached page), and
 * an access there no longer raises SIGSEGV.
 */
#include "repro.h"

/*
 * 1 if the guard on @addr is gone after @what: pagemap shows a present
 * page, or no guard marker.
 */
static int guard_lost(int pagemap, const char *what, char *addr, int ret,
		      long long progress)
{
	const char *how = ret ? strerror(errno) : "succeeded";
	uint64_t e = pagemap_entry(pagemap, addr);

	printf("%s onto a guard: %s, progress %lld, pagemap %#llx\n", what,
	       how, progress,
	       (unsigned long long)e);
	return (e & PM_PRESENT) || !(e & PM_GUARD);
}

int main(void)
{
	size_t ps = getpagesize(), i;
	int uffd, fd, pagemap, ret, seen = 0;
	char *anon, *shm, *minor, *src;
	struct uffdio_copy copy;
	struct uffdio_continue cont;

	pagemap = open("/proc/self/pagemap", O_RDONLY);
	if (pagemap < 0)
		cannot("/proc/self/pagemap");
	src = mmap(NULL, ps, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED)
		cannot("mmap()");
	memset(src, 'S', ps);

	/* Private anonymous memory, missing mode (guards since 6.13). */
	uffd = uffd_with(0);
	anon = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (anon == MAP_FAILED)
		cannot("mmap()");
	if (uffd_register(uffd, anon, 2 * ps, UFFDIO_REGISTER_MODE_MISSING))
		cannot("UFFDIO_REGISTER_MODE_MISSING");
	if (madvise(anon + ps, ps, MADV_GUARD_INSTALL))
		cannot("MADV_GUARD_INSTALL");
	copy = (struct uffdio_copy){ .dst = (uintptr_t)(anon + ps),
				     .src = (uintptr_t)src, .len = ps };
	ret = ioctl(uffd, UFFDIO_COPY, &copy);
	seen |= guard_lost(pagemap, "anon UFFDIO_COPY", anon + ps, ret,
			   copy.copy);
	close(uffd);

	/* A hole of a shared memfd, missing mode (guards since 6.15). */
	uffd = uffd_with(UFFD_FEATURE_MISSING_SHMEM);
	fd = memfd_create("repro", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 2 * ps))
		cannot("memfd_create()");
	shm = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (shm == MAP_FAILED)
		cannot("mmap() of a memfd");
	if (uffd_register(uffd, shm, 2 * ps, UFFDIO_REGISTER_MODE_MISSING))
		cannot("UFFDIO_REGISTER_MODE_MISSING on shmem");
	if (madvise(shm + ps, ps, MADV_GUARD_INSTALL))
		cannot("MADV_GUARD_INSTALL on a memfd");
	copy = (struct uffdio_copy){ .dst = (uintptr_t)(shm + ps),
				     .src = (uintptr_t)src, .len = ps };
	ret = ioctl(uffd, UFFDIO_COPY, &copy);
	seen |= guard_lost(pagemap, "memfd UFFDIO_COPY", shm + ps, ret,
			   copy.copy);
	close(uffd);

	/* A shared memfd with its page cache full, minor mode. */
	uffd = uffd_with(UFFD_FEATURE_MINOR_SHMEM);
	fd = memfd_create("repro", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, 2 * ps))
		cannot("memfd_create()");
	for (i = 0; i < 2; i++)
		if (pwrite(fd, "C", 1, i * ps) != 1)
			cannot("pwrite() to a memfd");
	minor = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (minor == MAP_FAILED)
		cannot("mmap() of a memfd");
	if (uffd_register(uffd, minor, 2 * ps, UFFDIO_REGISTER_MODE_MINOR))
		cannot("UFFDIO_REGISTER_MODE_MINOR on shmem");
	if (madvise(minor + ps, ps, MADV_GUARD_INSTALL))
		cannot("MADV_GUARD_INSTALL on a memfd");
	cont = (struct uffdio_continue){
		.range = { .start = (uintptr_t)(minor + ps), .len = ps } };
	ret = ioctl(uffd, UFFDIO_CONTINUE, &cont);
	seen |= guard_lost(pagemap, "memfd UFFDIO_CONTINUE", minor + ps, ret,
			   cont.mapped);
	close(uffd);

	if (seen) {
		printf("bug: UFFDIO_COPY/UFFDIO_CONTINUE replaced a guard marker with a page\n");
		return REPRO_SEEN;
	}
	printf("not seen: every fill onto a guard was refused and the guards stayed\n");
	return REPRO_NOT_SEEN;
}
