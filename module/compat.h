/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every difference between the kernels ptmark builds against is decided
 * here and nowhere else: the rest of the module tests PTMARK_HAVE_*
 * macros and calls the ptmark_compat_*() helpers.
 *
 * Each is decided by testing for the thing itself (a macro, a config
 * option, or what module/probe.mk found in the kernel's headers), never
 * by the version number, so that a backport counts as much as a release.
 */
#ifndef _PTMARK_COMPAT_H
#define _PTMARK_COMPAT_H

#include <linux/mman.h>
#include <linux/fs.h>
#include <linux/pagemap.h>
#include <linux/mm.h>
#include <linux/page_table_check.h>
#include <linux/shmem_fs.h>
#include <linux/swap.h>
#include <linux/swapops.h>
#include <uapi/linux/userfaultfd.h>
#include <uapi/linux/magic.h>

/*
 * 7.x describes non-present entries with softleaf_t (linux/leafops.h);
 * older kernels have no such header (probe.mk looks for it).
 */
#include <linux/mm_inline.h>
#if PTMARK_PROBE_LEAFOPS
#include <linux/leafops.h>
#define PTMARK_HAVE_SOFTLEAF		1
#else
#define PTMARK_HAVE_SOFTLEAF		0
#endif

#include "ptmark.h"

/*
 * Before 6.12 (6.1 is the floor): the page-table readers and the GUP and
 * VMA-flag interfaces of later kernels, as module/probe.mk found them in
 * the headers built against.  Old kernels read page-table entries with
 * READ_ONCE(), which is what the generic readers do.
 */
#if !PTMARK_PROBE_PUDP_GET
static inline pud_t pudp_get(pud_t *pudp)
{
	return READ_ONCE(*pudp);
}

static inline p4d_t p4dp_get(p4d_t *p4dp)
{
	return READ_ONCE(*p4dp);
}

static inline pgd_t pgdp_get(pgd_t *pgdp)
{
	return READ_ONCE(*pgdp);
}
#endif

#if !PTMARK_PROBE_PMDP_GET
static inline pmd_t pmdp_get(pmd_t *pmdp)
{
	return READ_ONCE(*pmdp);
}
#endif

/*
 * Before pmdp_get_lockless() was generic, only 32-bit PAE (which this
 * module does not build for) needed a split read of a PMD: a 64-bit one
 * is read in one access, as pmdp_get() does.
 */
#if !PTMARK_PROBE_PMDP_GET_LOCKLESS
static inline pmd_t pmdp_get_lockless(pmd_t *pmdp)
{
	return pmdp_get(pmdp);
}
#endif

/* The ptmark genetlink family needs split ops and NLA_UINT: 6.7. */
#if PTMARK_PROBE_GENL_INFO_DUMP && PTMARK_PROBE_NLA_UINT
#define PTMARK_HAVE_NETLINK		1
#else
#define PTMARK_HAVE_NETLINK		0
#endif

#if PTMARK_PROBE_GUP_REMOTE_VMAS
#define get_user_pages_remote(mm, start, nr, gup_flags, pages, locked)	\
	((get_user_pages_remote)(mm, start, nr, gup_flags, pages, NULL, locked))
/* The vmas argument left the pin_user_pages*() family in the same series. */
#define pin_user_pages_remote(mm, start, nr, gup_flags, pages, locked)	\
	((pin_user_pages_remote)(mm, start, nr, gup_flags, pages, NULL, locked))
#define pin_user_pages(start, nr, gup_flags, pages)			\
	((pin_user_pages)(start, nr, gup_flags, pages, NULL))
#endif

/*
 * Without vm_flags_set() there are no VMA locks either: the flags are
 * written under the mmap write lock, as that kernel's own drivers write
 * them in their mmap handlers (the huge pfnmap's is one).
 */
#if !PTMARK_PROBE_VM_FLAGS_SET
static inline void vm_flags_set(struct vm_area_struct *vma, vm_flags_t flags)
{
	mmap_assert_write_locked(vma->vm_mm);
	vma->vm_flags |= flags;
}

static inline void vm_flags_clear(struct vm_area_struct *vma, vm_flags_t flags)
{
	mmap_assert_write_locked(vma->vm_mm);
	vma->vm_flags &= ~flags;
}
#endif

/* mseal(): 6.10.  Without it nothing is sealed. */
#ifndef VM_SEALED
#define VM_SEALED			VM_NONE
#endif

/* madvise(MADV_GUARD_INSTALL) on anonymous memory: 6.13. */
#ifdef MADV_GUARD_INSTALL
#define PTMARK_HAVE_GUARD		1
#else
#define PTMARK_HAVE_GUARD		0
#endif

/*
 * Guard markers in file-backed, shmem and read-only mappings.  madvise()
 * takes them from 6.15, but until the kernel tracked such VMAs with
 * VM_MAYBE_GUARD it made fork copy their page tables by giving them an
 * anon_vma, which a module cannot do to a shared mapping: there a child
 * would lose the guards, and khugepaged could free the table holding
 * them.  So the ioctl guards file memory only where the kernel has the
 * flag (and ptmark_compat_set_maybe_guard() sets it), decided by the
 * flag itself, not by the release.
 */
#if PTMARK_HAVE_GUARD && defined(VM_MAYBE_GUARD)
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

/*
 * userfaultfd read-write protection (7.3): the build's option, and then at
 * run time page tables that can carry the uffd bit, the two things the
 * kernel asks before it offers UFFD_FEATURE_RWP.
 */
#ifdef CONFIG_USERFAULTFD_RWP
#define PTMARK_HAVE_UFFD_RWP		1
#define ptmark_compat_uffd_rwp()	pgtable_supports_uffd()
#else
#define PTMARK_HAVE_UFFD_RWP		0
#define ptmark_compat_uffd_rwp()	false
#endif
/* 7.3 defines it VM_NONE without the option; older kernels not at all. */
#ifndef VM_UFFD_RWP
#define VM_UFFD_RWP			VM_NONE
#endif

/*
 * The contiguous hint of a user PTE.  arm64 with CONFIG_ARM64_CONTPTE
 * gives each naturally aligned block of a large folio's pages PTE_CONT,
 * all of whose entries the TLB may then hold as one; its ptep_get() ORs
 * the access and dirty bits of the block into the entry it returns and
 * keeps PTE_CONT there, so pte_cont() of that entry tells whether the
 * page is mapped as part of such a block.  Other architectures' user
 * PTEs have no such bit (or, as arm64 before contpte, never set it
 * outside hugetlb, whose contiguous entries this walk does not read).
 */
#ifdef CONFIG_ARM64_CONTPTE
#define PTMARK_HAVE_CONT_PTE		1
#else
#define PTMARK_HAVE_CONT_PTE		0
#endif

static inline bool ptmark_compat_pte_cont(pte_t pte)
{
#if PTMARK_HAVE_CONT_PTE
	return pte_cont(pte);
#else
	return false;
#endif
}

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

/*
 * May anonymous memory hold a PTE marker at all?  Poison markers (6.6)
 * made it so; before, a marker was uffd-wp's, for file memory only, and
 * the fault path WARNs on one in an anonymous VMA (handle_pte_marker() of
 * 6.1) and kills the task, so no injection may put one there.
 */
#define PTMARK_HAVE_ANON_MARKERS	(PTMARK_HAVE_POISON_MARKER || \
					 PTMARK_HAVE_GUARD)

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
 * Unmovable address spaces: AS_UNMOVABLE came with guest_memfd in 6.8;
 * AS_INACCESSIBLE, which migration and compaction also honour, replaced
 * it in 6.11 (probe.mk reads the enum in linux/pagemap.h).
 */
#define PTMARK_HAVE_AS_INACCESSIBLE	PTMARK_PROBE_AS_INACCESSIBLE
#define PTMARK_HAVE_AS_UNMOVABLE	\
	(PTMARK_PROBE_AS_UNMOVABLE && !PTMARK_PROBE_AS_INACCESSIBLE)

/*
 * The uffd-wp bit of PTEs, PMDs and swap PTEs became the generic "uffd"
 * bit in 7.x, announced by pgtable_supports_uffd().
 */
#ifdef pgtable_supports_uffd
#define ptmark_pte_uffd_wp(pte)		pte_uffd(pte)
#define ptmark_pmd_uffd_wp(pmd)		pmd_uffd(pmd)
#define ptmark_pte_swp_uffd_wp(pte)	pte_swp_uffd(pte)
#define ptmark_pmd_swp_uffd_wp(pmd)	pmd_swp_uffd(pmd)
#else
#define ptmark_pte_uffd_wp(pte)		pte_uffd_wp(pte)
#define ptmark_pmd_uffd_wp(pmd)		pmd_uffd_wp(pmd)
#define ptmark_pte_swp_uffd_wp(pte)	pte_swp_uffd_wp(pte)
#define ptmark_pmd_swp_uffd_wp(pmd)	pmd_swp_uffd_wp(pmd)
#endif

/* PTE marker bits as the kernel names them: markers came in 5.19. */
static inline u16 ptmark_marker_bits(unsigned long kernel_marker)
{
	u16 bits = 0;

	if (kernel_marker & PTE_MARKER_UFFD_WP)
		bits |= PTMARK_MARKER_UFFD_WP;
	kernel_marker &= ~PTE_MARKER_UFFD_WP;
#ifdef PTE_MARKER_POISONED
	if (kernel_marker & PTE_MARKER_POISONED)
		bits |= PTMARK_MARKER_POISONED;
	kernel_marker &= ~PTE_MARKER_POISONED;
#endif
#ifdef PTE_MARKER_GUARD
	if (kernel_marker & PTE_MARKER_GUARD)
		bits |= PTMARK_MARKER_GUARD;
	kernel_marker &= ~PTE_MARKER_GUARD;
#endif
	if (kernel_marker)
		bits |= PTMARK_MARKER_UNKNOWN;
	return bits;
}

/* The reverse: kernel PTE_MARKER_* bits for PTMARK_MARKER_* bits. */
static inline pte_marker ptmark_compat_kernel_marker(u32 bits)
{
	pte_marker m = 0;

	if (bits & PTMARK_MARKER_UFFD_WP)
		m |= PTE_MARKER_UFFD_WP;
#ifdef PTE_MARKER_POISONED
	if (bits & PTMARK_MARKER_POISONED)
		m |= PTE_MARKER_POISONED;
#endif
#ifdef PTE_MARKER_GUARD
	if (bits & PTMARK_MARKER_GUARD)
		m |= PTE_MARKER_GUARD;
#endif
	return m;
}

/*
 * The kind, marker and pfn (migration and device entries) of the entry
 * a non-present page-table entry holds, as the kernel decoded it from the
 * entry of its level.  7.x spells this with softleaf_t, older kernels
 * with swp_entry_t and is_*_entry().
 */
#if PTMARK_HAVE_SOFTLEAF
static inline void ptmark_classify_leaf(softleaf_t entry,
					struct ptmark_record *r)
{
	r->pfn = 0;
	r->marker = 0;
	r->bits = 0;
	switch (softleaf_type(entry)) {
	case SOFTLEAF_SWAP:
		r->kind = PTMARK_KIND_SWAP;
		break;
	case SOFTLEAF_MIGRATION_READ_EXCLUSIVE:
		r->bits |= PTMARK_BIT_EXCLUSIVE;
		fallthrough;
	case SOFTLEAF_MIGRATION_READ:
	case SOFTLEAF_MIGRATION_WRITE:
		r->kind = PTMARK_KIND_MIGRATION;
		if (softleaf_is_migration_write(entry))
			r->bits |= PTMARK_BIT_WRITE;
		r->pfn = softleaf_to_pfn(entry);
		break;
	case SOFTLEAF_DEVICE_PRIVATE_READ:
	case SOFTLEAF_DEVICE_PRIVATE_WRITE:
		r->kind = PTMARK_KIND_DEVICE_PRIVATE;
		if (softleaf_is_device_private_write(entry))
			r->bits |= PTMARK_BIT_WRITE;
		r->pfn = softleaf_to_pfn(entry);
		break;
	case SOFTLEAF_DEVICE_EXCLUSIVE:
		r->kind = PTMARK_KIND_DEVICE_EXCLUSIVE;
		r->pfn = softleaf_to_pfn(entry);
		break;
	case SOFTLEAF_HWPOISON:
		r->kind = PTMARK_KIND_HWPOISON;
		break;
	case SOFTLEAF_MARKER:
		r->kind = PTMARK_KIND_MARKER;
		r->marker = ptmark_marker_bits(softleaf_to_marker(entry));
		break;
	default:
		r->kind = PTMARK_KIND_RAW;
		break;
	}
}
#else
static inline void ptmark_classify_leaf(swp_entry_t entry,
					struct ptmark_record *r)
{
	r->pfn = 0;
	r->marker = 0;
	r->bits = 0;
	if (!non_swap_entry(entry)) {
		r->kind = PTMARK_KIND_SWAP;
	} else if (is_migration_entry(entry)) {
		r->kind = PTMARK_KIND_MIGRATION;
		if (is_writable_migration_entry(entry))
			r->bits |= PTMARK_BIT_WRITE;
		if (is_readable_exclusive_migration_entry(entry))
			r->bits |= PTMARK_BIT_EXCLUSIVE;
		r->pfn = swp_offset_pfn(entry);
	} else if (is_device_private_entry(entry)) {
		r->kind = PTMARK_KIND_DEVICE_PRIVATE;
		if (is_writable_device_private_entry(entry))
			r->bits |= PTMARK_BIT_WRITE;
		r->pfn = swp_offset_pfn(entry);
	} else if (is_device_exclusive_entry(entry)) {
		r->kind = PTMARK_KIND_DEVICE_EXCLUSIVE;
		r->pfn = swp_offset_pfn(entry);
	} else if (is_hwpoison_entry(entry)) {
		r->kind = PTMARK_KIND_HWPOISON;
	} else if (is_pte_marker_entry(entry)) {
		r->kind = PTMARK_KIND_MARKER;
		r->marker = ptmark_marker_bits(pte_marker_get(entry));
	} else {
		r->kind = PTMARK_KIND_RAW;
	}
}
#endif

/*
 * Classify a non-present, non-none PTE: the entry it holds and the bits
 * the PTE itself carries beside it.
 */
static inline void ptmark_classify_swap_pte(pte_t pte, struct ptmark_record *r)
{
#if PTMARK_HAVE_SOFTLEAF
	ptmark_classify_leaf(softleaf_from_pte(pte), r);
#else
	ptmark_classify_leaf(pte_to_swp_entry(pte), r);
#endif
	if (r->kind == PTMARK_KIND_MARKER)
		return;
	if (pte_swp_soft_dirty(pte))
		r->bits |= PTMARK_BIT_SOFT_DIRTY;
	if (ptmark_pte_swp_uffd_wp(pte))
		r->bits |= PTMARK_BIT_UFFD_WP;
	if (r->kind == PTMARK_KIND_SWAP && pte_swp_exclusive(pte))
		r->bits |= PTMARK_BIT_EXCLUSIVE;
}

/*
 * Classify a non-present PMD outside hugetlb: a THP migration entry (or
 * in 7.x a device-private one), in the PMD's own swap-entry format, read
 * with the kernel's PMD conversion.  PMD-level swap and marker entries do
 * not exist, so the entry carries no exclusive bit of its own.
 */
static inline void ptmark_classify_swap_pmd(pmd_t pmd, struct ptmark_record *r)
{
#if PTMARK_HAVE_SOFTLEAF
	ptmark_classify_leaf(softleaf_from_pmd(pmd), r);
#else
	ptmark_classify_leaf(pmd_to_swp_entry(pmd), r);
#endif
	if (pmd_swp_soft_dirty(pmd))
		r->bits |= PTMARK_BIT_SOFT_DIRTY;
	if (ptmark_pmd_swp_uffd_wp(pmd))
		r->bits |= PTMARK_BIT_UFFD_WP;
}

/*
 * hugetlb keeps a PTE in the PMD or PUD slot that maps a huge page: its
 * walkers cast the slot to a pte_t pointer and read it with
 * huge_ptep_get(), which no architecture exports.  For a non-present
 * entry, the only kind read through here, that is ptep_get() of the slot
 * on x86-64 and arm64 alike (s390, whose huge entries have a segment
 * table's format, would need its own conversion).  The caller holds the
 * slot's lock.
 */
static inline pte_t ptmark_huge_slot_get(void *slot)
{
	return ptep_get((pte_t *)slot);
}

/*
 * Keeping page faults out of a VMA while its page tables are edited.
 * With per-VMA locks a fault may take only the VMA's lock, so the VMA is
 * write-locked with vma_start_write().  Every driver's mmap handler
 * reaches that inline through vm_flags_set(), so any kernel with per-VMA
 * locks lets a module call it: inline over the VMA's rwsem in 6.12, over
 * the exported __vma_start_write() in 7.x.  Without per-VMA locks every
 * fault takes the mmap lock, which the callers here hold for write.
 */
static inline void ptmark_compat_vma_start_write(struct vm_area_struct *vma)
{
#ifdef CONFIG_PER_VMA_LOCK
	vma_start_write(vma);
#endif
}

/* Unmap pages of a range of one VMA: zap_vma_range() since 7.0. */
static inline void ptmark_compat_zap(struct vm_area_struct *vma,
				     unsigned long start, unsigned long size)
{
#if PTMARK_PROBE_ZAP_VMA_RANGE
	zap_vma_range(vma, start, size);
#elif PTMARK_PROBE_ZAP_PAGE_RANGE
	/* 6.1 exports only the zap that may span VMAs; this range does not. */
	zap_page_range(vma, start, size);
#else
	zap_page_range_single(vma, start, size, NULL);
#endif
}

/*
 * A VMA with guard markers must have its page tables copied at fork even
 * when it is file-backed: 7.x tracks that with VM_MAYBE_GUARD, set the way
 * madvise() sets it.
 */
static inline void ptmark_compat_set_maybe_guard(struct vm_area_struct *vma)
{
#ifdef VM_MAYBE_GUARD
	vma_set_atomic_flag(vma, VMA_MAYBE_GUARD_BIT);
#endif
}

/* kzalloc_obj(): typed allocation helpers arrived in 7.0. */
#ifndef kzalloc_obj
#define kzalloc_obj(obj, gfp)	kzalloc(sizeof(obj), gfp)
#endif

/* PTMARK_AS_* of an address space. */
static inline u32 ptmark_compat_as_flags(struct address_space *mapping)
{
	u32 flags = 0;

	if (mapping_unevictable(mapping))
		flags |= PTMARK_AS_UNEVICTABLE;
#if PTMARK_HAVE_AS_INACCESSIBLE
	if (mapping_inaccessible(mapping))
		flags |= PTMARK_AS_INACCESSIBLE;
#endif
#if PTMARK_HAVE_AS_UNMOVABLE
	if (mapping_unmovable(mapping))
		flags |= PTMARK_AS_UNMOVABLE;
#endif
	return flags;
}

/* Special (no struct page to look at) PMD and PUD leaves: 6.12. */
static inline bool ptmark_compat_pmd_special(pmd_t pmd)
{
#ifdef CONFIG_ARCH_SUPPORTS_PMD_PFNMAP
	return pmd_special(pmd);
#else
	return false;
#endif
}

static inline bool ptmark_compat_pud_special(pud_t pud)
{
#ifdef CONFIG_ARCH_SUPPORTS_PUD_PFNMAP
	return pud_special(pud);
#else
	return false;
#endif
}

/*
 * Huge pfnmaps: a huge_fault handler inserting special PMD leaves, which
 * walkers and GUP tell from folios by pmd_special() (6.12).  The pfn is a
 * pfn_t until 7.x dropped that type (and linux/pfn_t.h) for a bare
 * unsigned long; probe.mk reads which one vmf_insert_pfn_pmd() takes.
 */
#if defined(CONFIG_ARCH_SUPPORTS_PMD_PFNMAP) && \
	defined(CONFIG_TRANSPARENT_HUGEPAGE)
#define PTMARK_HAVE_HUGE_PFNMAP		1
#else
#define PTMARK_HAVE_HUGE_PFNMAP		0
#endif

#if PTMARK_HAVE_HUGE_PFNMAP
#if PTMARK_PROBE_INSERT_PFN_PMD_PFN_T
#include <linux/pfn_t.h>

static inline vm_fault_t ptmark_compat_insert_pfn_pmd(struct vm_fault *vmf,
						      unsigned long pfn,
						      bool write)
{
	return vmf_insert_pfn_pmd(vmf, __pfn_to_pfn_t(pfn, PFN_DEV), write);
}
#else
static inline vm_fault_t ptmark_compat_insert_pfn_pmd(struct vm_fault *vmf,
						      unsigned long pfn,
						      bool write)
{
	return vmf_insert_pfn_pmd(vmf, pfn, write);
}
#endif
/* PMD-aligned addresses for mappings that huge faults fill. */
#define PTMARK_GET_UNMAPPED_AREA	thp_get_unmapped_area
#else
#define PTMARK_GET_UNMAPPED_AREA	NULL
#endif

/*
 * The address-space flag that stops migration, as the running kernel
 * spells it.  Both setters also set AS_UNEVICTABLE, on which compaction
 * relies to check the flag only for unevictable folios.  Neither kernel
 * has a helper to clear it: guest_memfd never does, so clear_bit() on
 * mapping->flags is the honest equivalent of the test_bit() the kernel's
 * own mapping_inaccessible() and mapping_unmovable() do.
 */
#if PTMARK_HAVE_AS_INACCESSIBLE
#define PTMARK_AS_UNMOVABLE_FLAG	PTMARK_AS_INACCESSIBLE

static inline bool ptmark_compat_mapping_unmovable(struct address_space *m)
{
	return mapping_inaccessible(m);
}

static inline void ptmark_compat_set_unmovable(struct address_space *m)
{
	mapping_set_inaccessible(m);
}

static inline void ptmark_compat_clear_unmovable(struct address_space *m)
{
	clear_bit(AS_INACCESSIBLE, &m->flags);
}
#elif PTMARK_HAVE_AS_UNMOVABLE
#define PTMARK_AS_UNMOVABLE_FLAG	PTMARK_AS_UNMOVABLE

static inline bool ptmark_compat_mapping_unmovable(struct address_space *m)
{
	return mapping_unmovable(m);
}

static inline void ptmark_compat_set_unmovable(struct address_space *m)
{
	mapping_set_unmovable(m);
}

static inline void ptmark_compat_clear_unmovable(struct address_space *m)
{
	clear_bit(AS_UNMOVABLE, &m->flags);
}
#endif

/*
 * An empty, unlinked shmem file on @mnt that charges its pages as they
 * come, as a memfd does: shmem_file_setup_with_mnt() takes vma_flags_t
 * where mk_vma_flags() exists (7.3), VM_* flags before (6.12).
 */
static inline struct file *
ptmark_compat_shmem_file_noreserve(struct vfsmount *mnt, const char *name)
{
#ifdef mk_vma_flags
	return shmem_file_setup_with_mnt(mnt, name, 0,
					 mk_vma_flags(VMA_NORESERVE_BIT));
#else
	return shmem_file_setup_with_mnt(mnt, name, 0, VM_NORESERVE);
#endif
}

/*
 * The pid behind a pidfd, NULL if @file is none.  Since 6.9 pidfds live on
 * pidfs (whose magic number came with it) and the inode carries the pid;
 * before, they were anonymous inodes named "[pidfd]" with the pid in
 * private_data.
 */
static inline struct pid *ptmark_pidfd_pid(struct file *file)
{
#ifdef PID_FS_MAGIC
	if (file_inode(file)->i_sb->s_magic != PID_FS_MAGIC)
		return NULL;
	return file_inode(file)->i_private;
#else
	if (strcmp(file->f_path.dentry->d_name.name, "[pidfd]"))
		return NULL;
	return file->private_data;
#endif
}

/*
 * Store a non-present entry (a PTE marker, or another non-present value)
 * over a non-present one, under the PTE lock, as set_pte_at() would.
 *
 * set_pte_at() itself cannot be used from a module on every kernel: with
 * CONFIG_DEBUG_VM, arm64 inlines into it a check of valid-to-valid updates
 * that calls pgattr_change_is_safe(), which is not exported, so the module
 * does not link.  That check has nothing to look at here (neither the old
 * entry nor the new one is valid), and a non-present entry is never part
 * of a contiguous (contpte) block, so set_pte() after the page table check
 * hook is the whole of what set_pte_at() does for such an entry: on x86-64,
 * and wherever the generic set_ptes() is used, it is set_pte_at() line for
 * line.  The hook went from one entry to several with set_ptes() (6.6)
 * and took the address too after 6.12; module/probe.mk tells which the
 * kernel has.
 */
static inline void ptmark_compat_set_nonpresent_pte(struct mm_struct *mm,
						    unsigned long addr,
						    pte_t *ptep, pte_t pte)
{
	VM_WARN_ON_ONCE(pte_present(pte) || pte_present(ptep_get(ptep)));
#if PTMARK_PROBE_PTC_PTES_SET_ADDR
	page_table_check_ptes_set(mm, addr, ptep, pte, 1);
#elif PTMARK_PROBE_PTC_PTES_SET
	page_table_check_ptes_set(mm, ptep, pte, 1);
#else
	page_table_check_pte_set(mm, addr, ptep, pte);
#endif
	set_pte(ptep, pte);
}

#endif /* _PTMARK_COMPAT_H */
