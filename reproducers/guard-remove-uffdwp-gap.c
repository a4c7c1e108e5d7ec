// SPDX-License-Identifier: GPL-2.0
/*
 * guard-remove-uffdwp-gap: MADV_GUARD_REMOVE leaves a page of a uffd-wp
 * protected shmem range unprotected.
 *
 * Two pages of a memfd, registered for uffd-wp; page 1 gets a guard,
 * then both are write-protected, then the guard is removed.  Page 1 now
 * lies in a protected range of a shmem mapping, where protection outlives
 * the page itself (a uffd-wp marker): pagemap must show PM_UFFD_WP for
 * it.  Where the bug is, the guard's removal leaves a none PTE and a
 * write to page 1 would not reach the uffd-wp handler.
 */
#include "repro.h"

int main(void)
{
	size_t ps = getpagesize();
	int uffd, fd, pagemap;
	uint64_t e;
	char *mem;

	uffd = uffd_with(UFFD_FEATURE_WP_HUGETLBFS_SHMEM);
	mem = memfd_pages(2, &fd);
	pagemap = open("/proc/self/pagemap", O_RDONLY);
	if (pagemap < 0)
		cannot("/proc/self/pagemap");
	uffd_register_wp(uffd, mem, 2 * ps);
	/* Guard regions on shmem came in 6.15. */
	if (madvise(mem + ps, ps, MADV_GUARD_INSTALL))
		cannot("MADV_GUARD_INSTALL on a memfd");
	if (uffd_protect(uffd, mem, 2 * ps, 1))
		cannot("UFFDIO_WRITEPROTECT");
	if (madvise(mem + ps, ps, MADV_GUARD_REMOVE))
		cannot("MADV_GUARD_REMOVE");

	e = pagemap_entry(pagemap, mem + ps);
	if (!(e & (PM_UFFD_WP | PM_PRESENT))) {
		printf("bug: after MADV_GUARD_REMOVE, page 1 of a write-protected memfd range is unprotected (pagemap %#llx)\n",
		       (unsigned long long)e);
		return REPRO_SEEN;
	}
	printf("not seen: page 1 kept its protection (pagemap %#llx)\n",
	       (unsigned long long)e);
	return REPRO_NOT_SEEN;
}
