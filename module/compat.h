/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels ptmark builds against is decided
 * here and nowhere else: the rest of the module tests PTMARK_HAVE_*
 * macros and calls the ptmark_compat_*() helpers.
 *
 * Prefer testing for the thing itself (a uapi macro, a config option)
 * over a version number; a version test is used only where the kernel
 * exposes nothing to test, and then says which release it stands for.
 */
#ifndef _PTMARK_COMPAT_H
#define _PTMARK_COMPAT_H

#include <linux/version.h>
#include <linux/mman.h>
#include <linux/fs.h>
#include <linux/pagemap.h>
#include <uapi/linux/userfaultfd.h>

/* madvise(MADV_GUARD_INSTALL) on anonymous memory: 6.13. */
#ifdef MADV_GUARD_INSTALL
#define PTMARK_HAVE_GUARD		1
#else
#define PTMARK_HAVE_GUARD		0
#endif

/*
 * Guard regions on file-backed, shmem and read-only mappings: 6.15.  The
 * uapi did not change, so only the release tells.
 */
#if PTMARK_HAVE_GUARD && LINUX_VERSION_CODE >= KERNEL_VERSION(6, 15, 0)
#define PTMARK_HAVE_GUARD_FILE		1
#else
#define PTMARK_HAVE_GUARD_FILE		0
#endif

/* pagemap PM_GUARD_REGION came with PAGEMAP_SCAN's PAGE_IS_GUARD. */
#ifdef PAGE_IS_GUARD
#define PTMARK_HAVE_PAGEMAP_GUARD	1
#else
#define PTMARK_HAVE_PAGEMAP_GUARD	0
#endif

#ifdef PAGEMAP_SCAN
#define PTMARK_HAVE_PAGEMAP_SCAN	1
#else
#define PTMARK_HAVE_PAGEMAP_SCAN	0
#endif

#if defined(CONFIG_USERFAULTFD) && defined(CONFIG_HAVE_ARCH_USERFAULTFD_WP)
#define PTMARK_HAVE_UFFD_WP		1
#else
#define PTMARK_HAVE_UFFD_WP		0
#endif

#ifdef CONFIG_PTE_MARKER_UFFD_WP
#define PTMARK_HAVE_UFFD_WP_MARKER	1
#else
#define PTMARK_HAVE_UFFD_WP_MARKER	0
#endif

/* UFFDIO_POISON and its PTE marker: 6.6. */
#ifdef UFFDIO_POISON
#define PTMARK_HAVE_POISON_MARKER	1
#else
#define PTMARK_HAVE_POISON_MARKER	0
#endif

#ifdef CONFIG_MEM_SOFT_DIRTY
#define PTMARK_HAVE_SOFT_DIRTY		1
#else
#define PTMARK_HAVE_SOFT_DIRTY		0
#endif

#ifdef CONFIG_TRANSPARENT_HUGEPAGE
#define PTMARK_HAVE_THP			1
#else
#define PTMARK_HAVE_THP			0
#endif

#ifdef CONFIG_MIGRATION
#define PTMARK_HAVE_MIGRATION		1
#else
#define PTMARK_HAVE_MIGRATION		0
#endif

#ifdef CONFIG_HUGETLB_PAGE
#define PTMARK_HAVE_HUGETLB		1
#else
#define PTMARK_HAVE_HUGETLB		0
#endif

/*
 * Unmovable address spaces.  AS_UNMOVABLE came with guest_memfd in 6.8;
 * AS_INACCESSIBLE, which migration and compaction also honour, replaced
 * it in 6.11.  Both are enum values, so only the release tells.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 11, 0)
#define PTMARK_HAVE_AS_INACCESSIBLE	1
#define PTMARK_HAVE_AS_UNMOVABLE	0
#elif LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
#define PTMARK_HAVE_AS_INACCESSIBLE	0
#define PTMARK_HAVE_AS_UNMOVABLE	1
#else
#define PTMARK_HAVE_AS_INACCESSIBLE	0
#define PTMARK_HAVE_AS_UNMOVABLE	0
#endif

#endif /* _PTMARK_COMPAT_H */
