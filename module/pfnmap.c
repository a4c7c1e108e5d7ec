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

int ptmark_mmap(struct file *file, struct vm_area_struct *vma)
{
	unsigned long size = vma->vm_end - vma->vm_start;
	struct ptmark_pfnmap *pm;
	unsigned int order;
	int err;

	/* Offsets mean nothing here; only a fresh block is handed out. */
	if (vma->vm_pgoff)
		return -EINVAL;
	order = get_order(size);
	if (order > PTMARK_PFNMAP_MAX_ORDER)
		return -EINVAL;

	pm = kzalloc_obj(*pm, GFP_KERNEL);
	if (!pm)
		return -ENOMEM;
	pm->order = order;
	pm->pages = alloc_pages(GFP_KERNEL | __GFP_ZERO, order);
	if (!pm->pages) {
		kfree(pm);
		return -ENOMEM;
	}
	kref_init(&pm->ref);
	atomic64_inc(&ptmark_stats.pfnmaps);

	/* Sets VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_DONTDUMP. */
	err = remap_pfn_range(vma, vma->vm_start, page_to_pfn(pm->pages), size,
			      vma->vm_page_prot);
	if (err) {
		kref_put(&pm->ref, ptmark_pfnmap_free);
		return err;
	}
	vma->vm_private_data = pm;
	vma->vm_ops = &ptmark_pfnmap_ops;
	return 0;
}
