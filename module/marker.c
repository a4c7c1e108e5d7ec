// SPDX-License-Identifier: GPL-2.0
/*
 * PTMARK_IOC_MARKER: install and remove PTE markers.
 *
 * Guard markers keep the contract of MADV_GUARD_INSTALL/REMOVE: the same
 * VMAs are refused, mapped pages are zapped before the markers go in,
 * markers already there count as installed, and a hole in the range gives
 * -ENOMEM once the mapped parts are done.  uffd-wp markers go only on none
 * PTEs of a shmem or file VMA registered for write protection: the state
 * the kernel itself leaves behind when it zaps a protected PTE.
 *
 * With the "inject" module parameter set, PTMARK_MARKER_F_INJECT writes
 * any combination of markers into none PTEs of any VMA but hugetlb ones,
 * so that mm developers can watch fault, zap, fork, mremap, pagemap and
 * reclaim meet markers where the kernel would never put them.  That can
 * break the kernel's assumptions by design, so it taints the kernel.
 *
 * The kernel's page walker is not available to modules; page tables are
 * filled with apply_to_page_range(), which allocates missing tables but
 * cannot cope with a PMD leaf.  So this takes the mmap lock for write and
 * (where the kernel lets modules) write-locks each VMA, so that no fault,
 * and no khugepaged collapse, can map a huge page between the zap that
 * clears the range and the installation of the markers; leaves found in
 * the range are zapped (guard) or skipped (uffd-wp, remove) PMD by PMD.
 * That is a heavier lock than madvise() takes, and the price of doing the
 * same job from outside mm/.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/uaccess.h>
#include <linux/userfaultfd_k.h>

#include "compat.h"
#include "ptmark.h"

static bool inject;
module_param(inject, bool, 0600);
MODULE_PARM_DESC(inject,
		 "Allow PTMARK_MARKER_F_INJECT: markers anywhere (taints the kernel)");

bool ptmark_inject_allowed(void)
{
	return READ_ONCE(inject);
}

/* Installing markers into one PTE table, under its lock. */
struct ptmark_fill {
	struct mm_struct *mm;
	pte_marker want;	/* kernel PTE_MARKER_* bits */
	bool remove;
	unsigned long done;	/* pages now carrying (or freed of) @want */
	unsigned long busy;	/* pages mapped or holding other entries */
};

/* Kernel marker bits of @pte, 0 if it is no marker. */
static pte_marker ptmark_pte_marker(pte_t pte)
{
	struct ptmark_record r;

	if (pte_none(pte) || pte_present(pte))
		return 0;
	ptmark_classify_swap_pte(pte, &r);
	if (r.kind != PTMARK_KIND_MARKER)
		return 0;
	return ptmark_compat_kernel_marker(r.marker);
}

static int ptmark_fill_pte(pte_t *ptep, unsigned long addr, void *data)
{
	struct ptmark_fill *fill = data;
	pte_t pte = ptep_get(ptep);
	pte_marker have = ptmark_pte_marker(pte);

	if (fill->remove) {
		if (!(have & fill->want))
			return 0;
		have &= ~fill->want;
		if (have)
			set_pte_at(fill->mm, addr, ptep, make_pte_marker(have));
		else
			pte_clear(fill->mm, addr, ptep);
		fill->done++;
		return 0;
	}

	if (pte_none(pte)) {
		set_pte_at(fill->mm, addr, ptep, make_pte_marker(fill->want));
		fill->done++;
	} else if (have == fill->want) {
		fill->done++;
	} else {
		fill->busy++;
	}
	return 0;
}

enum ptmark_pmd_state { PTMARK_PMD_NONE, PTMARK_PMD_TABLE, PTMARK_PMD_LEAF };

/*
 * What maps the PMD of @addr: nothing, a PTE table, or a leaf (including a
 * non-present PMD entry such as a THP migration entry).
 * apply_to_page_range() must never meet a leaf.
 */
static enum ptmark_pmd_state ptmark_pmd_state(struct mm_struct *mm,
					      unsigned long addr)
{
	pgd_t *pgd = pgd_offset(mm, addr);
	p4d_t *p4d;
	pud_t *pud, pudval;
	pmd_t pmd;

	if (pgd_none(pgdp_get(pgd)))
		return PTMARK_PMD_NONE;
	p4d = p4d_offset(pgd, addr);
	if (p4d_none(p4dp_get(p4d)))
		return PTMARK_PMD_NONE;
	pud = pud_offset(p4d, addr);
	pudval = pudp_get(pud);
	if (pud_none(pudval))
		return PTMARK_PMD_NONE;
	if (pud_leaf(pudval) || !pud_present(pudval))
		return PTMARK_PMD_LEAF;
	pmd = pmdp_get(pmd_offset(pud, addr));
	if (pmd_none(pmd))
		return PTMARK_PMD_NONE;
	if (pmd_leaf(pmd) || !pmd_present(pmd))
		return PTMARK_PMD_LEAF;
	return PTMARK_PMD_TABLE;
}

/*
 * Fill (or clear) markers over [start, end) of @vma, PMD by PMD, leaving
 * out PMDs mapped by leaves, and for removal PMDs with no table.  Returns
 * -errno, or 0 with fill->busy saying whether something was in the way.
 */
static int ptmark_fill_range(struct vm_area_struct *vma, unsigned long start,
			     unsigned long end, struct ptmark_fill *fill)
{
	unsigned long addr, next;
	int err;

	for (addr = start; addr < end; addr = next) {
		next = pmd_addr_end(addr, end);
		switch (ptmark_pmd_state(vma->vm_mm, addr)) {
		case PTMARK_PMD_LEAF:
			fill->busy += (next - addr) >> PAGE_SHIFT;
			continue;
		case PTMARK_PMD_NONE:
			if (fill->remove)
				continue;
			break;
		case PTMARK_PMD_TABLE:
			break;
		}
		err = apply_to_page_range(vma->vm_mm, addr, next - addr,
					  ptmark_fill_pte, fill);
		if (err)
			return err;
	}
	return 0;
}

/* Zaps needed before guard markers fit, as madvise() allows itself. */
#define PTMARK_GUARD_RETRIES	3

static int ptmark_guard_install(struct vm_area_struct *vma, unsigned long start,
				unsigned long end, struct ptmark_fill *fill)
{
	unsigned long done = fill->done;
	int i, err;

	for (i = 0; i < PTMARK_GUARD_RETRIES; i++) {
		fill->done = done;
		fill->busy = 0;
		err = ptmark_fill_range(vma, start, end, fill);
		if (err || !fill->busy)
			return err;
		ptmark_compat_zap(vma, start, end - start);
	}
	return -EAGAIN;
}

/*
 * An anonymous VMA gets page tables only together with its anon_vma, and
 * anon_vma_prepare() is not exported: a forced write fault through GUP is
 * the exported way to give it one, and the page it maps is zapped at once.
 * A userfaultfd-armed VMA would hand that fault to userspace, which this
 * ioctl cannot wait for; with the mmap lock held for write and the VMA
 * write-locked nobody else can fault meanwhile, so the uffd flags are
 * lifted for the one fault and put back.
 */
static int ptmark_prepare_anon(struct vm_area_struct *vma, unsigned long addr)
{
	vm_flags_t uffd = vma->vm_flags & __VM_UFFD_FLAGS;
	unsigned long start, end;
	bool table;
	struct page *page;
	long got;

	if (!vma_is_anonymous(vma) || vma->anon_vma)
		return 0;
	table = ptmark_pmd_state(vma->vm_mm, addr) == PTMARK_PMD_TABLE;
	if (uffd)
		vm_flags_clear(vma, uffd);
	got = get_user_pages_remote(vma->vm_mm, addr, 1,
				    FOLL_WRITE | FOLL_FORCE, &page, NULL);
	if (uffd)
		vm_flags_set(vma, uffd);
	if (got < 0)
		return got;
	put_page(page);
	/*
	 * Where no PTE table was, the fault may have mapped a whole THP.
	 * Without an anon_vma before it the VMA held no anonymous page there,
	 * a huge zero page at most, so zapping the PMD loses nothing; in a
	 * table, only the faulted page goes and zero-page neighbours stay.
	 */
	start = addr;
	end = addr + PAGE_SIZE;
	if (!table) {
		start = max(vma->vm_start, addr & PMD_MASK);
		end = min(vma->vm_end, (addr & PMD_MASK) + PMD_SIZE);
	}
	ptmark_compat_zap(vma, start, end - start);
	return vma->anon_vma ? 0 : -ENOMEM;
}

struct ptmark_marker_req {
	u32 marker;
	bool remove;
	bool inject;
};

/* Whether @vma may take (or give up) the markers of @req, as -errno. */
static int ptmark_marker_vma_ok(struct vm_area_struct *vma,
				const struct ptmark_marker_req *req)
{
	if (req->inject)
		return is_vm_hugetlb_page(vma) ? -EINVAL : 0;

	if (req->marker == PTMARK_MARKER_GUARD) {
		vm_flags_t refused = VM_SPECIAL | VM_HUGETLB;

		/* Locked pages may not be zapped; removing is harmless. */
		if (!req->remove)
			refused |= VM_LOCKED;
		if (vma->vm_flags & refused)
			return -EINVAL;
		if (!vma_is_anonymous(vma) && !PTMARK_HAVE_GUARD_FILE)
			return -EINVAL;
		/* mseal(): no discarding read-only anonymous memory. */
		if (!req->remove && (vma->vm_flags & VM_SEALED) &&
		    vma_is_anonymous(vma) && !(vma->vm_flags & VM_WRITE))
			return -EPERM;
		return 0;
	}

	/* uffd-wp markers: shmem or file memory registered for WP only. */
	if (vma_is_anonymous(vma) || is_vm_hugetlb_page(vma) ||
	    !userfaultfd_wp(vma))
		return -EINVAL;
	return 0;
}

static int ptmark_marker_vma(struct vm_area_struct *vma, unsigned long start,
			     unsigned long end,
			     const struct ptmark_marker_req *req,
			     struct ptmark_fill *fill)
{
	int err;

	err = ptmark_marker_vma_ok(vma, req);
	if (err)
		return err;
	ptmark_compat_vma_start_write(vma);

	if (req->remove)
		return ptmark_fill_range(vma, start, end, fill);

	if (req->marker & PTMARK_MARKER_GUARD) {
		err = ptmark_prepare_anon(vma, start);
		if (err)
			return err;
		ptmark_compat_set_maybe_guard(vma);
	}
	if (req->marker == PTMARK_MARKER_GUARD && !req->inject)
		return ptmark_guard_install(vma, start, end, fill);

	/* uffd-wp and injected markers go on none PTEs only. */
	fill->busy = 0;
	return ptmark_fill_range(vma, start, end, fill);
}

static long ptmark_marker_range(struct mm_struct *mm, unsigned long start,
				unsigned long end,
				const struct ptmark_marker_req *req,
				unsigned long *nr_pages)
{
	struct ptmark_fill fill = {
		.mm = mm,
		.want = ptmark_compat_kernel_marker(req->marker),
		.remove = req->remove,
	};
	struct vm_area_struct *vma;
	unsigned long addr = start;
	bool hole = false;
	int err = 0;

	err = mmap_write_lock_killable(mm);
	if (err)
		return err;
	while (addr < end) {
		vma = find_vma(mm, addr);
		if (!vma || vma->vm_start >= end) {
			hole = true;
			break;
		}
		if (vma->vm_start > addr)
			hole = true;
		addr = max(addr, vma->vm_start);
		err = ptmark_marker_vma(vma, addr, min(end, vma->vm_end), req,
					&fill);
		if (err)
			break;
		addr = vma->vm_end;
	}
	mmap_write_unlock(mm);

	*nr_pages = fill.done;
	if (!err && hole)
		err = -ENOMEM;
	return err;
}

long ptmark_ioc_marker(struct file *file, void __user *uarg)
{
	struct ptmark_marker_req req = { };
	struct ptmark_marker args;
	struct mm_struct *mm;
	unsigned long nr_pages = 0;
	u64 len;
	long ret;

	/* Installing and removing alike change the target's memory. */
	ret = ptmark_may_change(file);
	if (ret)
		return ret;
	ret = ptmark_copy_args(&args, sizeof(args), PTMARK_MARKER_SIZE_VER0,
			       uarg);
	if (ret)
		return ret;
	if (args.flags & ~PTMARK_MARKER_FLAGS)
		return -EINVAL;
	/* madvise()'s rules: aligned start, length rounded up, 0 is a no-op. */
	if (!PAGE_ALIGNED(args.start))
		return -EINVAL;
	len = PAGE_ALIGN(args.len);
	if ((args.len && !len) || args.start + len < args.start)
		return -EINVAL;

	req.marker = args.marker;
	req.remove = args.flags & PTMARK_MARKER_F_REMOVE;
	req.inject = args.flags & PTMARK_MARKER_F_INJECT;
	if (req.inject) {
		if (!ptmark_inject_allowed())
			return -EPERM;
		if (!req.marker || req.marker & ~(PTMARK_MARKER_GUARD |
						  PTMARK_MARKER_UFFD_WP |
						  PTMARK_MARKER_POISONED))
			return -EINVAL;
	} else if (req.marker != PTMARK_MARKER_GUARD &&
		   req.marker != PTMARK_MARKER_UFFD_WP) {
		return -EINVAL;
	}

	/* Every marker asked for must exist in this kernel. */
	if ((req.marker & PTMARK_MARKER_GUARD) &&
	    !(PTMARK_HAVE_GUARD && PTMARK_HAVE_VMA_START_WRITE))
		return -EOPNOTSUPP;
	if ((req.marker & PTMARK_MARKER_UFFD_WP) && !PTMARK_HAVE_UFFD_WP_MARKER)
		return -EOPNOTSUPP;
	if ((req.marker & PTMARK_MARKER_POISONED) && !PTMARK_HAVE_POISON_MARKER)
		return -EOPNOTSUPP;
	/* Without a VMA write lock only uffd-wp VMAs are safe from THPs. */
	if (req.inject && !PTMARK_HAVE_VMA_START_WRITE)
		return -EOPNOTSUPP;

	mm = args.flags & PTMARK_MARKER_F_PIDFD ?
		ptmark_get_mm_pidfd_as(file, args.pidfd, PTMARK_ACCESS_WRITE) :
		ptmark_get_mm_self();
	if (IS_ERR(mm))
		return PTR_ERR(mm);
	if (args.start + len > mm->task_size) {
		ret = -EINVAL;
		goto out;
	}
	if (!len)
		goto done;

	if (req.inject) {
		pr_warn_once("marker injection used: kernel tainted\n");
		add_taint(TAINT_USER, LOCKDEP_STILL_OK);
	}

	ret = ptmark_marker_range(mm, args.start, args.start + len, &req,
				  &nr_pages);
	if (req.remove)
		atomic64_add(nr_pages, &ptmark_stats.markers_removed);
	else
		atomic64_add(nr_pages, &ptmark_stats.markers_installed);
done:
	args.nr_pages = nr_pages;
	/* Like madvise(), an error still leaves what was done reported. */
	if (ptmark_copy_out(uarg, &args, sizeof(args)) && !ret)
		ret = -EFAULT;
out:
	mmput(mm);
	return ret;
}
