// SPDX-License-Identifier: GPL-2.0
/*
 * mmap() of /dev/ptmark: a VM_PFNMAP | VM_IO mapping of pages the module
 * owns, MAP_SHARED or MAP_PRIVATE.
 *
 * It is the pfnmap a test needs without real device memory: page walkers
 * and GUP must treat its entries as pfns with no folio behind them, and in
 * a MAP_PRIVATE one a write breaks COW into an ordinary anonymous folio
 * that lives beside the raw pfn entries.
 *
 * remap_pfn_range() of a COW mapping must cover the whole VMA with one
 * contiguous run of pfns, so each mapping gets one zeroed block of up to
 * PTMARK_PFNMAP_MAX_ORDER pages.  The block is freed when the last VMA
 * holding it (splits count) is closed.
 *
 * The huge kind (PTMARK_MMAP_OFF_HUGE) maps nothing at mmap time: faults
 * fill it, through huge_fault with a special PMD leaf where a whole
 * aligned PMD of the block fits in the VMA, else through fault with a
 * special PTE.  Its block is PMD-aligned physically (the buddy allocator
 * aligns a block to its order) and the page offset of the VMA says where
 * in the block each address lies, which keeps that right across mremap()
 * and splits.
 */
#include <linux/fs.h>
#include <linux/gfp.h>
#include <linux/kref.h>
#include <linux/mm.h>
#include <linux/slab.h>

#include "compat.h"
#include "ptmark.h"

/* 1 MiB with 4 KiB pages: plenty for tests, easy on the allocator. */
#define PTMARK_PFNMAP_MAX_ORDER	8

struct ptmark_pfnmap {
	struct kref ref;
	struct page *pages;
	unsigned int order;
};

static void ptmark_pfnmap_free(struct kref *ref)
{
	struct ptmark_pfnmap *pm = container_of(ref, struct ptmark_pfnmap, ref);

	__free_pages(pm->pages, pm->order);
	kfree(pm);
	atomic64_dec(&ptmark_stats.pfnmaps);
}

static void ptmark_pfnmap_open(struct vm_area_struct *vma)
{
	struct ptmark_pfnmap *pm = vma->vm_private_data;

	kref_get(&pm->ref);
}

static void ptmark_pfnmap_close(struct vm_area_struct *vma)
{
	struct ptmark_pfnmap *pm = vma->vm_private_data;

	kref_put(&pm->ref, ptmark_pfnmap_free);
}

static const struct vm_operations_struct ptmark_pfnmap_ops = {
	.open	= ptmark_pfnmap_open,
	.close	= ptmark_pfnmap_close,
};

#define PTMARK_PGOFF_HUGE	(PTMARK_MMAP_OFF_HUGE >> PAGE_SHIFT)

/* The block's pfn for page offset @pgoff, or 0 if the block has none. */
static unsigned long ptmark_pfnmap_pfn(struct ptmark_pfnmap *pm,
				       pgoff_t pgoff, unsigned long nr)
{
	pgoff_t idx = pgoff - PTMARK_PGOFF_HUGE;

	if (pgoff < PTMARK_PGOFF_HUGE || idx >= (1UL << pm->order) ||
	    nr > (1UL << pm->order) - idx)
		return 0;
	return page_to_pfn(pm->pages) + idx;
}

static vm_fault_t ptmark_pfnmap_fault(struct vm_fault *vmf)
{
	unsigned long pfn = ptmark_pfnmap_pfn(vmf->vma->vm_private_data,
					      vmf->pgoff, 1);

	if (!pfn)
		return VM_FAULT_SIGBUS;
	return vmf_insert_pfn(vmf->vma, vmf->address, pfn);
}

#if PTMARK_HAVE_HUGE_PFNMAP
/*
 * A PMD leaf needs the whole PMD inside the VMA and a PMD-aligned pfn
 * under it (mremap() can move the mapping to where the two disagree);
 * anything else falls back to PTEs.
 */
static vm_fault_t ptmark_pfnmap_huge_fault(struct vm_fault *vmf,
					   unsigned int order)
{
	struct vm_area_struct *vma = vmf->vma;
	unsigned long addr = vmf->address & PMD_MASK;
	unsigned long pfn;

	if (order != PMD_ORDER || addr < vma->vm_start ||
	    vma->vm_end - addr < PMD_SIZE)
		return VM_FAULT_FALLBACK;
	pfn = ptmark_pfnmap_pfn(vma->vm_private_data,
				vma->vm_pgoff +
				((addr - vma->vm_start) >> PAGE_SHIFT),
				PTRS_PER_PMD);
	if (!pfn || !IS_ALIGNED(pfn, PTRS_PER_PMD))
		return VM_FAULT_FALLBACK;
	return ptmark_compat_insert_pfn_pmd(vmf, pfn,
					    vmf->flags & FAULT_FLAG_WRITE);
}
#endif

static const struct vm_operations_struct ptmark_pfnmap_huge_ops = {
	.open		= ptmark_pfnmap_open,
	.close		= ptmark_pfnmap_close,
	.fault		= ptmark_pfnmap_fault,
#if PTMARK_HAVE_HUGE_PFNMAP
	.huge_fault	= ptmark_pfnmap_huge_fault,
#endif
};

/* The 4 KiB kind: everything mapped now, COW mappings allowed. */
static int ptmark_mmap_4k(struct vm_area_struct *vma,
			  struct ptmark_pfnmap *pm)
{
	/* Sets VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_DONTDUMP. */
	return remap_pfn_range(vma, vma->vm_start, page_to_pfn(pm->pages),
			       vma->vm_end - vma->vm_start, vma->vm_page_prot);
}

int ptmark_mmap(struct file *file, struct vm_area_struct *vma)
{
	unsigned long size = vma->vm_end - vma->vm_start;
	bool huge = vma->vm_pgoff == PTMARK_PGOFF_HUGE;
	struct ptmark_pfnmap *pm;
	unsigned int order;
	int err;

	/* Offsets only name the kind; each mapping gets a fresh block. */
	if (vma->vm_pgoff && !huge)
		return -EINVAL;
	order = get_order(size);
	if (huge) {
		/*
		 * vmf_insert_pfn() and vmf_insert_pfn_pmd() BUG on COW
		 * mappings: there a pfn could only be told from a COW
		 * folio by the linear vm_pgoff rule remap_pfn_range() sets.
		 */
		if ((vma->vm_flags & (VM_SHARED | VM_MAYWRITE)) == VM_MAYWRITE)
			return -EINVAL;
		if (!IS_ALIGNED(size, PMD_SIZE) || size > PTMARK_MMAP_HUGE_MAX)
			return -EINVAL;
	} else if (order > PTMARK_PFNMAP_MAX_ORDER) {
		return -EINVAL;
	}

	pm = kzalloc_obj(*pm, GFP_KERNEL);
	if (!pm)
		return -ENOMEM;
	pm->order = order;
	pm->pages = alloc_pages(GFP_KERNEL | __GFP_ZERO | __GFP_NOWARN, order);
	if (!pm->pages) {
		kfree(pm);
		return -ENOMEM;
	}
	kref_init(&pm->ref);
	atomic64_inc(&ptmark_stats.pfnmaps);

	if (huge) {
		/* What remap_pfn_range() sets, for the fault-time kind. */
		vm_flags_set(vma, VM_PFNMAP | VM_IO | VM_DONTEXPAND |
			     VM_DONTDUMP);
		err = 0;
	} else {
		err = ptmark_mmap_4k(vma, pm);
	}
	if (err) {
		kref_put(&pm->ref, ptmark_pfnmap_free);
		return err;
	}
	vma->vm_private_data = pm;
	vma->vm_ops = huge ? &ptmark_pfnmap_huge_ops : &ptmark_pfnmap_ops;
	return 0;
}
