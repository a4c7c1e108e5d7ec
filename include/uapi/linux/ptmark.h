/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * ptmark: install and inspect special page-table states of user memory.
 *
 * The ABI of /dev/ptmark.  Every ioctl argument is an extensible struct
 * whose first field is its size as the caller was built: the module
 * accepts any size from the first published one up, zero-filling what an
 * older caller does not pass and refusing (E2BIG) non-zero bytes it does
 * not know, as clone3() and openat2() do.  The size bits encoded in the
 * ioctl number are ignored for the same reason.
 */
#ifndef _UAPI_LINUX_PTMARK_H
#define _UAPI_LINUX_PTMARK_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define PTMARK_DEVICE		"/dev/ptmark"
#define PTMARK_ABI_VERSION	1

/*
 * Features of the running kernel, as the module found them when it was
 * built against it.  A clear bit means the kernel lacks the feature and
 * the ioctls needing it answer -EOPNOTSUPP.
 */
#define PTMARK_FEAT_GUARD		(1ULL << 0)  /* MADV_GUARD_INSTALL, anon */
#define PTMARK_FEAT_GUARD_FILE		(1ULL << 1)  /* guards on file/shmem/RO */
#define PTMARK_FEAT_UFFD_WP		(1ULL << 2)  /* userfaultfd wr-protect */
#define PTMARK_FEAT_UFFD_WP_MARKER	(1ULL << 3)  /* uffd-wp PTE markers */
#define PTMARK_FEAT_POISON_MARKER	(1ULL << 4)  /* poisoned PTE markers */
#define PTMARK_FEAT_PAGEMAP_SCAN	(1ULL << 5)  /* PAGEMAP_SCAN ioctl */
#define PTMARK_FEAT_PAGEMAP_GUARD	(1ULL << 6)  /* PM_GUARD_REGION bit */
#define PTMARK_FEAT_SOFT_DIRTY		(1ULL << 7)
#define PTMARK_FEAT_THP			(1ULL << 8)
#define PTMARK_FEAT_MIGRATION		(1ULL << 9)
#define PTMARK_FEAT_AS_UNMOVABLE	(1ULL << 10) /* mapping flag, ~6.8 */
#define PTMARK_FEAT_AS_INACCESSIBLE	(1ULL << 11) /* mapping flag, 6.11+ */
#define PTMARK_FEAT_HUGETLB		(1ULL << 12)

/**
 * struct ptmark_info - what the module and the running kernel support
 * @size:	(in) sizeof(struct ptmark_info) as the caller knows it
 * @abi:	(out) PTMARK_ABI_VERSION of the module
 * @features:	(out) PTMARK_FEAT_* bits
 * @page_size:	(out) PAGE_SIZE of the kernel
 * @pmd_size:	(out) bytes mapped by one PMD leaf (THP size)
 * @release:	(out) utsname release of the running kernel, NUL terminated
 */
struct ptmark_info {
	__u32 size;
	__u32 abi;
	__u64 features;
	__u32 page_size;
	__u32 pmd_size;
	char release[64];
};

#define PTMARK_INFO_SIZE_VER0	88

#define PTMARK_IOC_MAGIC	0xBB
#define PTMARK_IOC_INFO		_IOWR(PTMARK_IOC_MAGIC, 0x00, struct ptmark_info)

#endif /* _UAPI_LINUX_PTMARK_H */
