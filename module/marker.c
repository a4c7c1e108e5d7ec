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
 * any combination of markers into none PTEs of any VMA but hugetlb and
 * VM_SPECIAL (pfnmap, I/O, mixed-map, driver-fixed) ones, so that mm
 * developers can watch fault, zap, fork, mremap, pagemap and reclaim meet
 * markers where the kernel would never put them.  That can
 * break the kernel's assumptions by design, so it taints the kernel.
 *
 * The kernel's page walker is not available to modules; page tables are
 * filled with apply_to_page_range(), which allocates missing tables but
 * cannot cope with a PMD leaf.  So this takes the mmap lock for write and
 * write-locks each VMA, so that no fault, and no khugepaged collapse, can
 * map a huge page between the zap that clears the range and the
 * installation of the markers; leaves found in the range are zapped
 * (guard) or skipped (uffd-wp, remove) PMD by PMD.
 * That is a heavier lock than madvise() takes, and the price of doing the
 * same job from outside mm/; so it is let go, and a fatal signal heeded,
 * every PTMARK_HOLD_PMDS page tables, whatever the size of the range.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
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

/*
 * A test hook: sleep this long between finding a PMD empty and filling it,
 * so that a race test can have a fault try to map a huge page there in
 * between; the VMA write lock is what keeps it out.  Capped at 100 ms; 0,
 * the default, is off.
 */
static unsigned int fill_delay_us;
module_param(fill_delay_us, uint, 0600);
MODULE_PARM_DESC(fill_delay_us,
		 "Test hook: microseconds to sleep between finding a PMD empty and filling it (0: off, at most 100000)");

/* Installing markers into one PTE table, under its lock. */
struct ptmark_fill {
	struct mm_struct *mm;
	pte_marker want;	/* kernel PTE_MARKER_* bits */
	bool remove;
	unsigned long done;	/* pages now carrying (or freed of) @want */
	unsigned long busy;	/* pages mapped or holding other entries */
	/*
	 * Ranges of a vector sharing one PTE table, when the fill covers
	 * them all at once: the entries between them are left alone.
	 */
	const struct ptmark_range *vec, *vec_cur;
	unsigned int vec_nr;
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
			ptmark_compat_set_nonpresent_pte(fill->mm, addr, ptep,
							 make_pte_marker(have));
		else
			pte_clear(fill->mm, addr, ptep);
		fill->done++;
		return 0;
	}

	if (pte_none(pte)) {
		ptmark_compat_set_nonpresent_pte(fill->mm, addr, ptep,
						 make_pte_marker(fill->want));
		fill->done++;
	} else if (have == fill->want) {
		fill->done++;
	} else {
		fill->busy++;
	}
	return 0;
}

/* ptmark_fill_pte() for the entries inside fill->vec's ranges only. */
static int ptmark_fill_pte_vec(pte_t *ptep, unsigned long addr, void *data)
{
	struct ptmark_fill *fill = data;
	const struct ptmark_range *last = fill->vec + fill->vec_nr - 1;

	while (fill->vec_cur < last &&
	       addr >= fill->vec_cur->start + PAGE_ALIGN(fill->vec_cur->len))
		fill->vec_cur++;
	if (addr < fill->vec_cur->start)
		return 0;
	return ptmark_fill_pte(ptep, addr, data);
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
			ptmark_test_delay(READ_ONCE(fill_delay_us));
			break;
		case PTMARK_PMD_TABLE:
			break;
		}
		fill->vec_cur = fill->vec;
		err = apply_to_page_range(vma->vm_mm, addr, next - addr,
					  fill->vec ? ptmark_fill_pte_vec :
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
		if (fill->vec) {
			unsigned int k;

			for (k = 0; k < fill->vec_nr; k++)
				ptmark_compat_zap(vma, fill->vec[k].start,
						  PAGE_ALIGN(fill->vec[k].len));
		} else {
			ptmark_compat_zap(vma, start, end - start);
		}
	}
	return -EAGAIN;
}

/*
 * An anonymous VMA gets page tables only together with its anon_vma (fork
 * copies the tables of an anonymous VMA only if it has one), and neither
 * anon_vma_prepare() nor madvise() is exported: a forced write fault
 * through GUP is the exported way to give it one.
 *
 * That fault is refused (EOPNOTSUPP) in a VMA registered with userfaultfd:
 * in MISSING mode it belongs to the handler, and lifting the registration
 * for it would edit the flags of a VMA behind its userfaultfd context;
 * madvise(MADV_GUARD_INSTALL) itself, or any first touch, does the job.
 *
 * The fault may map a large folio (mTHP, or a PMD THP): everything it
 * mapped is zapped again, the whole folio clipped to the VMA.  That loses
 * nothing: without an anon_vma before it no anonymous folio, and so no
 * data, could be mapped anywhere in the VMA, and the folio was a fresh
 * zero-filled one.
 */
static int ptmark_prepare_anon(struct vm_area_struct *vma, unsigned long addr)
{
	unsigned long start, end;
	struct folio *folio;
	struct page *page;
	long got;

	if (!vma_is_anonymous(vma) || vma->anon_vma)
		return 0;
	if (userfaultfd_armed(vma))
		return -EOPNOTSUPP;
	got = get_user_pages_remote(vma->vm_mm, addr, 1,
				    FOLL_WRITE | FOLL_FORCE, &page, NULL);
	/* One page asked for: anything but one is no page to use. */
	if (got != 1)
		return got < 0 ? got : -EFAULT;
	/*
	 * Our reference keeps the folio from being split or freed until it
	 * is unmapped; a fresh folio is mapped at its natural alignment.
	 */
	folio = page_folio(page);
	start = addr - folio_page_idx(folio, page) * PAGE_SIZE;
	end = start + folio_size(folio);
	start = max(start, vma->vm_start);
	end = min(end, vma->vm_end);
	ptmark_compat_zap(vma, start, end - start);
	put_page(page);
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
	/* Not even injection writes into entries a driver owns. */
	if (req->inject) {
		if (vma->vm_flags & (VM_HUGETLB | VM_SPECIAL))
			return -EINVAL;
		/* Nor a state the kernel takes for corruption. */
		if (vma_is_anonymous(vma) && !PTMARK_HAVE_ANON_MARKERS)
			return -EOPNOTSUPP;
		return 0;
	}

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

/*
 * The mmap write lock is let go after every PTMARK_HOLD_PMDS page tables
 * filled or cleared (and after every PTMARK_HOLD_PMDS ranges of a vector),
 * so that a range of any size neither keeps the target's other threads
 * out of their address space nor ignores a kill for longer than that:
 * 64 MiB of address space a hold, with 4 KiB pages.  madvise() works in
 * such pieces too, under the read lock.
 */
#define PTMARK_HOLD_PMDS	32

/* One call's hold of the target's mmap write lock. */
struct ptmark_hold {
	struct mm_struct *mm;
	unsigned int left;	/* PMDs this hold may still fill */
	bool locked;
};

static int ptmark_hold_take(struct ptmark_hold *h)
{
	int err = mmap_write_lock_killable(h->mm);

	if (err)
		return err;
	h->locked = true;
	h->left = PTMARK_HOLD_PMDS;
	return 0;
}

static void ptmark_hold_drop(struct ptmark_hold *h)
{
	if (h->locked)
		mmap_write_unlock(h->mm);
	h->locked = false;
}

/*
 * Before the next piece of work: once this hold has done its share, let
 * the lock go, stop on a fatal signal (-EINTR), give the CPU and the lock
 * to whoever waits, and take it again.  VMAs found before may be gone
 * after; the caller looks them up again.
 */
static int ptmark_hold_renew(struct ptmark_hold *h)
{
	if (h->left)
		return 0;
	ptmark_hold_drop(h);
	if (fatal_signal_pending(current))
		return -EINTR;
	cond_resched();
	return ptmark_hold_take(h);
}

/* PMDs [start, end) meets: page tables a fill of it may touch. */
static unsigned long ptmark_pmds(unsigned long start, unsigned long end)
{
	return ((end - 1) >> PMD_SHIFT) - (start >> PMD_SHIFT) + 1;
}

/*
 * One range, under @h (held on entry, maybe not on return: see
 * ptmark_hold_renew()), in pieces of at most what a hold may do, each
 * inside one VMA; adds to *nr_pages what each piece did.
 */
static int ptmark_marker_range_held(struct ptmark_hold *h,
				    unsigned long start, unsigned long end,
				    const struct ptmark_marker_req *req,
				    unsigned long *nr_pages)
{
	struct vm_area_struct *vma;
	unsigned long addr = start, stop, limit;
	bool hole = false;
	int err = 0;

	while (addr < end) {
		struct ptmark_fill fill = {
			.mm = h->mm,
			.want = ptmark_compat_kernel_marker(req->marker),
			.remove = req->remove,
		};

		err = ptmark_hold_renew(h);
		if (err)
			break;
		vma = find_vma(h->mm, addr);
		if (!vma || vma->vm_start >= end) {
			hole = true;
			break;
		}
		if (vma->vm_start > addr)
			hole = true;
		addr = max(addr, vma->vm_start);
		stop = min(end, vma->vm_end);
		limit = ALIGN_DOWN(addr, PMD_SIZE) + h->left * PMD_SIZE;
		if (limit > addr && limit < stop)
			stop = limit;
		h->left -= min_t(unsigned long, h->left,
				 ptmark_pmds(addr, stop));
		err = ptmark_marker_vma(vma, addr, stop, req, &fill);
		*nr_pages += fill.done;
		if (err)
			break;
		addr = stop;
	}

	if (!err && hole)
		err = -ENOMEM;
	return err;
}

static long ptmark_marker_range(struct mm_struct *mm, unsigned long start,
				unsigned long end,
				const struct ptmark_marker_req *req,
				unsigned long *nr_pages)
{
	struct ptmark_hold h = { .mm = mm };
	int err;

	err = ptmark_hold_take(&h);
	if (err)
		return err;
	err = ptmark_marker_range_held(&h, start, end, req, nr_pages);
	ptmark_hold_drop(&h);
	return err;
}

/*
 * madvise()'s rules for one range: aligned start, length rounded up to
 * pages, 0 a no-op, nothing past the address space.  Sets *end.
 */
static int ptmark_marker_check_range(struct mm_struct *mm, u64 start, u64 len,
				     unsigned long *end)
{
	u64 alen = PAGE_ALIGN(len);

	if (!PAGE_ALIGNED(start) || (len && !alen) || start + alen < start ||
	    start + alen > mm->task_size)
		return -EINVAL;
	*end = start + alen;
	return 0;
}

/* Ranges copied in at once, before the mmap lock is taken. */
#define PTMARK_VEC_BATCH	4096

/*
 * How many ranges from @vec on (at most @n) can be filled together: each
 * non-empty and valid, in address order without overlap, all inside one
 * VMA and one PMD, so that one pass over one PTE table, under its lock
 * taken once, does them all.  0 or 1 means one at a time.
 */
static unsigned int ptmark_vec_group(struct mm_struct *mm,
				     const struct ptmark_range *vec,
				     unsigned int n,
				     struct vm_area_struct **vmap)
{
	struct vm_area_struct *vma;
	unsigned long end, pmd_end, prev_end;
	unsigned int k;

	if (n < 2 || !vec[0].len ||
	    ptmark_marker_check_range(mm, vec[0].start, vec[0].len, &end))
		return 0;
	vma = find_vma(mm, vec[0].start);
	if (!vma || vma->vm_start > vec[0].start || end > vma->vm_end)
		return 0;
	pmd_end = pmd_addr_end(vec[0].start, vma->vm_end);
	if (end > pmd_end)
		return 0;
	prev_end = end;
	for (k = 1; k < n; k++) {
		const struct ptmark_range *r = &vec[k];

		if (!r->len || r->start < prev_end ||
		    ptmark_marker_check_range(mm, r->start, r->len, &end) ||
		    end > pmd_end)
			break;
		prev_end = end;
	}
	*vmap = vma;
	return k;
}

/* The @g ranges of a ptmark_vec_group() at once; adds to *nr_pages. */
static int ptmark_marker_group_locked(struct vm_area_struct *vma,
				      const struct ptmark_range *vec,
				      unsigned int g,
				      const struct ptmark_marker_req *req,
				      unsigned long *nr_pages)
{
	struct ptmark_fill fill = {
		.mm = vma->vm_mm,
		.want = ptmark_compat_kernel_marker(req->marker),
		.remove = req->remove,
		.vec = vec,
		.vec_nr = g,
	};
	unsigned long end = vec[g - 1].start + PAGE_ALIGN(vec[g - 1].len);
	int err;

	err = ptmark_marker_vma(vma, vec[0].start, end, req, &fill);
	if (!err)
		*nr_pages += fill.done;
	return err;
}

/*
 * PTMARK_MARKER_F_VECTOR: @nr ranges from @uvec, in order.  Each batch is
 * copied in before the mmap lock is taken, since a fault on the array may
 * need that lock; within a batch the lock, and each VMA's write lock, are
 * taken once a hold (PTMARK_HOLD_PMDS).  Stops at the first range that
 * fails: *nr_ranges ranges are done, and *nr_pages counts the failing
 * one's done part too.
 */
static long ptmark_marker_vector(struct mm_struct *mm,
				 const struct ptmark_range __user *uvec,
				 u64 nr, const struct ptmark_marker_req *req,
				 unsigned long *nr_pages, u64 *nr_ranges)
{
	struct ptmark_hold h = { .mm = mm };
	struct ptmark_range *vec;
	unsigned long end;
	u64 done = 0;
	u32 i, n;
	long err = 0;

	vec = kvmalloc_array(min_t(u64, nr, PTMARK_VEC_BATCH), sizeof(*vec),
			     GFP_KERNEL);
	if (!vec)
		return -ENOMEM;

	while (!err && done < nr) {
		n = min_t(u64, nr - done, PTMARK_VEC_BATCH);
		if (copy_from_user(vec, uvec + done, n * sizeof(*vec))) {
			err = -EFAULT;
			break;
		}
		err = ptmark_hold_take(&h);
		if (err)
			break;
		for (i = 0; i < n && !err; i++) {
			struct ptmark_range *r = &vec[i];
			struct vm_area_struct *vma;
			unsigned int g;

			err = ptmark_hold_renew(&h);
			if (err)
				break;
			/*
			 * A group that fails is done again range by range,
			 * which finds the failing range and how far it got:
			 * markers a group put in count as done then.
			 */
			g = ptmark_vec_group(mm, r, n - i, &vma);
			if (g > 1 && !ptmark_marker_group_locked(vma, r, g, req,
								 nr_pages)) {
				h.left--;
				done += g;
				i += g - 1;
				continue;
			}
			err = ptmark_marker_check_range(mm, r->start, r->len,
							&end);
			if (!err && r->len)
				err = ptmark_marker_range_held(&h, r->start,
							       end, req,
							       nr_pages);
			if (!err)
				done++;
		}
		ptmark_hold_drop(&h);
		if (!err && fatal_signal_pending(current))
			err = -EINTR;
	}
	kvfree(vec);
	*nr_ranges = done;
	return err;
}

long ptmark_ioc_marker(struct file *file, void __user *uarg)
{
	struct ptmark_marker_req req = { };
	struct ptmark_marker args;
	struct mm_struct *mm;
	unsigned long nr_pages = 0, end;
	u64 nr_ranges = 0;
	bool vector;
	pid_t pid;
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
	vector = args.flags & PTMARK_MARKER_F_VECTOR;
	if (vector) {
		/* Only a caller that knows nr_ranges may ask for a vector. */
		if (args.size < PTMARK_MARKER_SIZE_VER1)
			return -EINVAL;
		if (args.len > PTMARK_MARKER_VEC_MAX)
			return -E2BIG;
	}

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
	if ((req.marker & PTMARK_MARKER_GUARD) && !PTMARK_HAVE_GUARD)
		return -EOPNOTSUPP;
	if ((req.marker & PTMARK_MARKER_UFFD_WP) && !PTMARK_HAVE_UFFD_WP_MARKER)
		return -EOPNOTSUPP;
	if ((req.marker & PTMARK_MARKER_POISONED) && !PTMARK_HAVE_POISON_MARKER)
		return -EOPNOTSUPP;

	pid = task_tgid_nr(current);
	mm = args.flags & PTMARK_MARKER_F_PIDFD ?
		ptmark_get_mm_pidfd_nr(file, args.pidfd, PTMARK_ACCESS_WRITE,
				       &pid) :
		ptmark_get_mm_self();
	if (IS_ERR(mm))
		return PTR_ERR(mm);
	if (!vector) {
		ret = ptmark_marker_check_range(mm, args.start, args.len, &end);
		if (ret)
			goto out;
	}
	if (!args.len)
		goto done;

	if (req.inject) {
		pr_warn_once("marker injection used: kernel tainted\n");
		add_taint(TAINT_USER, LOCKDEP_STILL_OK);
	}

	if (vector)
		ret = ptmark_marker_vector(mm, u64_to_user_ptr(args.start),
					   args.len, &req, &nr_pages,
					   &nr_ranges);
	else
		ret = ptmark_marker_range(mm, args.start, end, &req,
					  &nr_pages);
	if (req.remove)
		atomic64_add(nr_pages, &ptmark_stats.markers_removed);
	else
		atomic64_add(nr_pages, &ptmark_stats.markers_installed);
	ptmark_netlink_notify_marker(&args, pid, nr_pages, ret);
done:
	args.nr_pages = nr_pages;
	args.nr_ranges = nr_ranges;
	/* Like madvise(), an error still leaves what was done reported. */
	if (ptmark_copy_out(uarg, &args, sizeof(args)) && !ret)
		ret = -EFAULT;
out:
	mmput(mm);
	return ret;
}
