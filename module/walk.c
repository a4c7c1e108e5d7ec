// SPDX-License-Identifier: GPL-2.0
/*
 * The page-table walker: classify every page of a user range.
 *
 * Only exported and inline kernel interfaces are used, so the walk is
 * written out level by level rather than through walk_page_range().  It
 * follows the rules the kernel's own lockless-then-locked walkers follow:
 *
 *  - the mmap lock is held for read, so no VMA and no upper-level table
 *    goes away under us;
 *  - a PTE table may still be freed (khugepaged collapse, empty-table
 *    reclaim) by a path that does not take the mmap lock, but only after an
 *    RCU grace period: read the PMD locklessly under rcu_read_lock(), take
 *    the PTE lock the PMD points at, and start again if the PMD changed;
 *  - PMD and PUD leaves are read under their page-table lock, which is
 *    what splitting, zapping and migration hold while they change them;
 *  - a hugetlb VMA's PMD table may be shared with other mms, and once
 *    huge_pmd_unshare() took it from this mm the last sharer can free it:
 *    the walk holds the file's i_mmap_rwsem for read over a hugetlb VMA.
 *
 * Nothing is allocated, faulted in or split; an empty upper level costs one
 * read however much address space it covers.
 */
#include <linux/hugetlb.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/module.h>
#include <linux/pgtable.h>
#include <linux/rcupdate.h>
#include <linux/sched/signal.h>
#include <linux/shmem_fs.h>

#include "compat.h"
#include "ptmark.h"

/*
 * A test hook: sleep this long between the PMD entries of a walk, where
 * the walk may sleep anyway, so that a race test can put a concurrent
 * change of the page tables (a PMD unshare) between two reads of one
 * table.  Capped at 100 ms; 0, the default, is off: a cond_resched()
 * every PTMARK_WALK_RESCHED entries.
 */
static unsigned int walk_delay_us;
module_param(walk_delay_us, uint, 0600);
MODULE_PARM_DESC(walk_delay_us,
		 "Test hook: microseconds to sleep between PMD entries of a walk (0: off, at most 100000)");

/* PMD entries walked between two chances to reschedule. */
#define PTMARK_WALK_RESCHED	16

static void ptmark_walk_pause(unsigned int *since)
{
	if (!ptmark_test_delay(READ_ONCE(walk_delay_us)) &&
	    ++*since == PTMARK_WALK_RESCHED) {
		*since = 0;
		cond_resched();
	}
}

static bool ptmark_can_extend(const struct ptmark_walk *w,
			      const struct ptmark_record *last,
			      unsigned long addr, const struct ptmark_record *r)
{
	if (w->dense || last->start < w->run_floor)
		return false;
	if (last->start + last->nr_pages * PAGE_SIZE != addr)
		return false;
	if (last->kind != r->kind || last->marker != r->marker ||
	    last->bits != r->bits || last->vma_flags != w->vma_flags ||
	    last->as_flags != w->as_flags)
		return false;
	if (!last->pfn && !r->pfn)
		return true;
	return last->pfn && r->pfn == last->pfn + last->nr_pages;
}

/*
 * A compact state word (PTMARK_C_* in the uapi) of a kind, PTMARK_C_MARKER_*
 * bits and the PTMARK_BIT_* bits already masked by the walk's bits_mask.
 */
static inline u32 ptmark_compact_word(u32 kind, u32 marker, u32 bits)
{
	return (kind & 0xf) | marker << 4 | bits << 8;
}

/* The compact state word of @r. */
static u32 ptmark_compact_state(const struct ptmark_walk *w,
				const struct ptmark_record *r)
{
	u32 marker = r->marker & (PTMARK_MARKER_UFFD_WP |
				  PTMARK_MARKER_POISONED |
				  PTMARK_MARKER_GUARD);

	if (r->marker & PTMARK_MARKER_UNKNOWN)
		marker |= PTMARK_C_MARKER_UNKNOWN;
	return ptmark_compact_word(r->kind, marker, r->bits & w->bits_mask);
}

/*
 * Hand @nr pages from @addr in the state @r describes to the walk's sink
 * (@r's start, nr_pages, vma_flags and as_flags are filled in here).
 * Returns @nr, or 0 if the sink refused them: the walk stops there.
 */
static unsigned long ptmark_sink_run(struct ptmark_walk *w,
				     unsigned long addr, unsigned long nr,
				     struct ptmark_record *r)
{
	r->start = addr;
	r->nr_pages = nr;
	r->vma_flags = w->vma_flags;
	r->as_flags = w->as_flags;
	r->reserved = 0;
	if (!w->sink(w, r)) {
		w->full = true;
		w->next = addr;
		return 0;
	}
	w->next = addr + nr * PAGE_SIZE;
	return nr;
}

/*
 * A run in state @state handed to the walk's sink: what the word keeps of
 * a record, no pfn.  Returns the pages taken, @nr or 0, as ptmark_emit().
 */
static unsigned long ptmark_sink_state(struct ptmark_walk *w,
				       unsigned long addr, unsigned long nr,
				       u32 state)
{
	u32 marker = PTMARK_C_MARKER(state);
	struct ptmark_record r = {
		.kind = PTMARK_C_KIND(state),
		.marker = marker & ~PTMARK_C_MARKER_UNKNOWN,
		.bits = PTMARK_C_BITS(state),
	};

	if (marker & PTMARK_C_MARKER_UNKNOWN)
		r.marker |= PTMARK_MARKER_UNKNOWN;
	return ptmark_sink_run(w, addr, nr, &r);
}

/*
 * Compact words for @nr pages from @addr in state @state: a state word
 * for the first page unless it continues the last one, then repeat words
 * for the rest.  Returns the pages recorded, as ptmark_emit() does.
 */
static unsigned long ptmark_emit_state(struct ptmark_walk *w,
				       unsigned long addr, unsigned long nr,
				       u32 state)
{
	unsigned long done = 0, n;

	if (w->sink)
		return ptmark_sink_state(w, addr, nr, state);
	if (!w->c_open || state != w->c_state) {
		if (w->nr == w->cap) {
			w->full = true;
			goto out;
		}
		w->words[w->nr++] = state;
		w->c_state = state;
		w->c_repeat = UINT_MAX;
		w->c_open = true;
		done = 1;
	}
	while (done < nr) {
		if (w->c_repeat == UINT_MAX ||
		    PTMARK_C_COUNT(w->words[w->c_repeat]) == PTMARK_C_COUNT_MAX) {
			if (w->nr == w->cap) {
				w->full = true;
				break;
			}
			w->c_repeat = w->nr;
			w->words[w->nr++] = PTMARK_C_REPEAT;
		}
		n = min_t(unsigned long, nr - done, PTMARK_C_COUNT_MAX -
			  PTMARK_C_COUNT(w->words[w->c_repeat]));
		w->words[w->c_repeat] += n;
		done += n;
	}
out:
	w->next = addr + done * PAGE_SIZE;
	return done;
}

/*
 * Record @nr pages from @addr in the state @r describes (its start,
 * nr_pages, vma_flags and as_flags are filled in here).  Returns the pages
 * recorded; fewer than @nr means the buffer is full and the walk stops.
 */
static unsigned long ptmark_emit(struct ptmark_walk *w, unsigned long addr,
				 unsigned long nr, struct ptmark_record *r)
{
	struct ptmark_record *rec;
	unsigned long done = 0;

	if (w->words)
		return ptmark_emit_state(w, addr, nr,
					 ptmark_compact_state(w, r));
	if (!w->show_pfn || w->sink)
		r->pfn = 0;
	r->bits &= w->bits_mask;

	if (w->sink)
		return ptmark_sink_run(w, addr, nr, r);

	if (w->nr && ptmark_can_extend(w, &w->recs[w->nr - 1], addr, r)) {
		w->recs[w->nr - 1].nr_pages += nr;
		done = nr;
	}

	while (done < nr) {
		if (w->nr == w->cap) {
			w->full = true;
			break;
		}
		rec = &w->recs[w->nr++];
		*rec = *r;
		rec->start = addr + done * PAGE_SIZE;
		rec->pfn = r->pfn ? r->pfn + done : 0;
		rec->nr_pages = w->dense ? 1 : nr - done;
		rec->vma_flags = w->vma_flags;
		rec->as_flags = w->as_flags;
		rec->reserved = 0;
		done += rec->nr_pages;
	}
	w->next = addr + done * PAGE_SIZE;
	return done;
}

static void ptmark_emit_kind(struct ptmark_walk *w, unsigned long addr,
			     unsigned long end, enum ptmark_kind kind)
{
	struct ptmark_record r = { .kind = kind };

	ptmark_emit(w, addr, (end - addr) >> PAGE_SHIFT, &r);
}

static u64 ptmark_vma_flags(struct vm_area_struct *vma)
{
	static const struct {
		unsigned long vm;
		u64 flag;
	} map[] = {
		{ VM_READ,		PTMARK_VMA_READ },
		{ VM_WRITE,		PTMARK_VMA_WRITE },
		{ VM_EXEC,		PTMARK_VMA_EXEC },
		{ VM_SHARED,		PTMARK_VMA_SHARED },
		{ VM_PFNMAP,		PTMARK_VMA_PFNMAP },
		{ VM_IO,		PTMARK_VMA_IO },
		{ VM_MIXEDMAP,		PTMARK_VMA_MIXEDMAP },
		{ VM_HUGETLB,		PTMARK_VMA_HUGETLB },
		{ VM_LOCKED,		PTMARK_VMA_LOCKED },
		{ VM_LOCKONFAULT,	PTMARK_VMA_LOCKONFAULT },
		{ VM_UFFD_MISSING,	PTMARK_VMA_UFFD_MISSING },
		{ VM_UFFD_WP,		PTMARK_VMA_UFFD_WP },
		{ VM_UFFD_MINOR,	PTMARK_VMA_UFFD_MINOR },
		{ VM_WIPEONFORK,	PTMARK_VMA_WIPEONFORK },
		{ VM_DONTCOPY,		PTMARK_VMA_DONTCOPY },
		{ VM_HUGEPAGE,		PTMARK_VMA_HUGEPAGE },
		{ VM_NOHUGEPAGE,	PTMARK_VMA_NOHUGEPAGE },
		{ VM_SOFTDIRTY,		PTMARK_VMA_SOFTDIRTY },
		{ VM_SEQ_READ,		PTMARK_VMA_SEQ_READ },
		{ VM_RAND_READ,		PTMARK_VMA_RAND_READ },
		{ VM_UFFD_RWP,		PTMARK_VMA_UFFD_RWP },
	};
	u64 flags = 0;
	int i;

	for (i = 0; i < ARRAY_SIZE(map); i++)
		if (map[i].vm && (vma->vm_flags & map[i].vm))
			flags |= map[i].flag;

	if (!vma->vm_file)
		flags |= PTMARK_VMA_ANON;
	else if (shmem_mapping(vma->vm_file->f_mapping))
		flags |= PTMARK_VMA_SHMEM;
	else
		flags |= PTMARK_VMA_FILE;
	return flags;
}

static void ptmark_enter_vma(struct ptmark_walk *w, struct vm_area_struct *vma)
{
	struct ptmark_record *rec, header;

	w->run_floor = vma->vm_start;
	w->vma_flags = ptmark_vma_flags(vma);
	w->as_flags = vma->vm_file ?
		ptmark_compat_as_flags(vma->vm_file->f_mapping) : 0;

	/* Once per VMA, even when a full buffer splits its walk in two. */
	if (!w->vma_headers || w->last_header == vma->vm_start)
		return;
	if (!w->sink && w->nr == w->cap) {
		w->full = true;
		return;
	}
	rec = w->sink ? &header : &w->recs[w->nr];
	memset(rec, 0, sizeof(*rec));
	rec->kind = PTMARK_KIND_VMA_HEADER;
	rec->start = vma->vm_start;
	rec->nr_pages = vma_pages(vma);
	/*
	 * In a COW pfnmap (the module's own MAP_PRIVATE mapping among them)
	 * vm_pgoff is the pfn of the memory behind it: pfns' rule applies.
	 */
	rec->pfn = w->show_pfn ? vma->vm_pgoff : 0;
	rec->vma_flags = w->vma_flags;
	rec->as_flags = w->as_flags;
	if (w->sink && !w->sink(w, rec)) {
		w->full = true;
		return;
	}
	if (!w->sink)
		w->nr++;
	w->last_header = vma->vm_start;
}

enum ptmark_level { PTMARK_PTE, PTMARK_PMD, PTMARK_PUD };

/* The bits only a look at the folio can tell. */
#define PTMARK_FOLIO_BITS	(PTMARK_BIT_ANON | PTMARK_BIT_FILE | \
				 PTMARK_BIT_EXCLUSIVE | \
				 PTMARK_BIT_MAYBE_PINNED | PTMARK_BIT_LARGE | \
				 PTMARK_BIT_HUGE_ZEROPAGE)

/* The VMAs whose non-special entries may still map a pfn without a page. */
static inline bool ptmark_vma_raw_pfns(struct vm_area_struct *vma)
{
	return vma->vm_flags & (VM_PFNMAP | VM_MIXEDMAP);
}

/*
 * The PTMARK_BIT_* of a present leaf mapping @pfn that its own access bits
 * do not tell: its level, and what it maps.  The caller holds the lock of
 * the table the leaf is in, so a folio it maps stays mapped (and
 * allocated) meanwhile.  @raw_pfns is ptmark_vma_raw_pfns(@vma), and the
 * folio is looked at only if @need_folio: both are the caller's so that a
 * loop over a table reads them once.
 */
static __always_inline u32
ptmark_present_bits(struct vm_area_struct *vma, unsigned long pfn,
		    bool special, bool raw_pfns, bool need_folio,
		    enum ptmark_level level)
{
	struct folio *folio;
	struct page *page;
	u32 bits = 0;

	if (level == PTMARK_PMD)
		bits |= PTMARK_BIT_PMD;
	else if (level == PTMARK_PUD)
		bits |= PTMARK_BIT_PUD;

	if (is_zero_pfn(pfn))
		return bits | PTMARK_BIT_ZEROPAGE;
	/*
	 * A special entry has no folio we may look at, except that newer
	 * kernels map the huge zero folio with a special PMD too.  Outside
	 * VM_PFNMAP/VM_MIXEDMAP a non-special entry always has a struct page
	 * (the rule vm_normal_page() follows), so pfn_valid(), which is not
	 * cheap, is asked only there.
	 */
	if ((special && !(level == PTMARK_PMD && vma_is_anonymous(vma))) ||
	    (raw_pfns && !pfn_valid(pfn)))
		return bits | PTMARK_BIT_SPECIAL;
	/* Nothing asked for needs the folio: spare the cache misses. */
	if (!need_folio)
		return bits;

	page = pfn_to_page(pfn);
	folio = page_folio(page);
	if (folio_test_anon(folio)) {
		bits |= PTMARK_BIT_ANON;
		if (PageAnonExclusive(page))
			bits |= PTMARK_BIT_EXCLUSIVE;
	} else if (folio->mapping) {
		bits |= PTMARK_BIT_FILE;
	} else if (level == PTMARK_PMD && vma_is_anonymous(vma)) {
		/* Only the huge zero folio is PMD-mapped in anon memory
		 * without being anon itself.
		 */
		return bits | PTMARK_BIT_HUGE_ZEROPAGE;
	} else if (special) {
		return bits | PTMARK_BIT_SPECIAL;
	}
	if (folio_maybe_dma_pinned(folio))
		bits |= PTMARK_BIT_MAYBE_PINNED;
	if (folio_test_large(folio))
		bits |= PTMARK_BIT_LARGE;
	return bits;
}

static __always_inline void
ptmark_classify_present(const struct ptmark_walk *w, struct vm_area_struct *vma,
			unsigned long pfn, bool special, enum ptmark_level level,
			struct ptmark_record *r)
{
	r->kind = PTMARK_KIND_PRESENT;
	r->marker = 0;
	r->pfn = pfn;
	r->bits |= ptmark_present_bits(vma, pfn, special,
				       ptmark_vma_raw_pfns(vma), w->need_folio,
				       level);
}

/*
 * The fields of @r a classification sets; ptmark_emit() fills in the rest.
 * Not a memset(): this runs for every mapped page.
 */
static inline void ptmark_record_reset(struct ptmark_record *r)
{
	r->pfn = 0;
	r->marker = 0;
	r->bits = 0;
}

#define PTMARK_VMA_ACCESS	(PTMARK_VMA_READ | PTMARK_VMA_WRITE | \
				 PTMARK_VMA_EXEC)

/*
 * What the uffd bit and a PROT_NONE entry of the walk's VMA stand for.
 * The uffd bit (read as PTMARK_BIT_UFFD_WP) is write protection's, but in
 * a VMA registered for read-write protection it is RWP's, present or not.
 * A present PROT_NONE entry is RWP's when it carries the bit there, NUMA
 * hinting's when it does not and the VMA allows access, and otherwise the
 * VMA's own lack of access: mm/memory.c tells its faults apart the same
 * way.
 */
static __always_inline u32 ptmark_uffd_bits(const struct ptmark_walk *w,
					    u32 bits)
{
	if ((bits & PTMARK_BIT_UFFD_WP) &&
	    (w->vma_flags & PTMARK_VMA_UFFD_RWP))
		bits ^= PTMARK_BIT_UFFD_WP | PTMARK_BIT_UFFD_RWP;
	if ((bits & (PTMARK_BIT_PROTNONE | PTMARK_BIT_UFFD_RWP)) ==
	    PTMARK_BIT_PROTNONE && (w->vma_flags & PTMARK_VMA_ACCESS))
		bits |= PTMARK_BIT_NUMA_HINT;
	return bits;
}

/* The PTMARK_BIT_* a present PTE's own bits tell, in the walk's VMA. */
static __always_inline u32 ptmark_pte_bits(const struct ptmark_walk *w,
					   pte_t pte)
{
	u32 bits = 0;

	if (pte_write(pte))
		bits |= PTMARK_BIT_WRITE;
	if (pte_dirty(pte))
		bits |= PTMARK_BIT_DIRTY;
	if (pte_young(pte))
		bits |= PTMARK_BIT_YOUNG;
	if (pte_soft_dirty(pte))
		bits |= PTMARK_BIT_SOFT_DIRTY;
	if (ptmark_pte_uffd_wp(pte))
		bits |= PTMARK_BIT_UFFD_WP;
	if (pte_protnone(pte))
		bits |= PTMARK_BIT_PROTNONE;
	if (ptmark_compat_pte_cont(pte))
		bits |= PTMARK_BIT_CONT;
	return ptmark_uffd_bits(w, bits);
}

static __always_inline void
ptmark_classify_pte(const struct ptmark_walk *w, struct vm_area_struct *vma,
		    pte_t pte, struct ptmark_record *r)
{
	ptmark_record_reset(r);
	if (pte_none(pte)) {
		r->kind = PTMARK_KIND_NONE;
		return;
	}
	if (!pte_present(pte)) {
		ptmark_classify_swap_pte(pte, r);
		r->bits = ptmark_uffd_bits(w, r->bits);
		return;
	}
	r->bits = ptmark_pte_bits(w, pte);
	ptmark_classify_present(w, vma, pte_pfn(pte), pte_special(pte),
				PTMARK_PTE, r);
}

/*
 * The PMD leaf @pmd, read from @pmdp under its lock.  A non-present one is
 * decoded as what its VMA puts there: a hugetlb entry is a PTE, anything
 * else a PMD swap entry.
 */
static void ptmark_classify_pmd(const struct ptmark_walk *w,
				struct vm_area_struct *vma, pmd_t *pmdp,
				pmd_t pmd, struct ptmark_record *r)
{
	ptmark_record_reset(r);
	if (!pmd_present(pmd)) {
		if (is_vm_hugetlb_page(vma))
			ptmark_classify_swap_pte(ptmark_huge_slot_get(pmdp), r);
		else
			ptmark_classify_swap_pmd(pmd, r);
		r->bits = ptmark_uffd_bits(w, r->bits);
		return;
	}
	if (pmd_write(pmd))
		r->bits |= PTMARK_BIT_WRITE;
	if (pmd_dirty(pmd))
		r->bits |= PTMARK_BIT_DIRTY;
	if (pmd_young(pmd))
		r->bits |= PTMARK_BIT_YOUNG;
	if (pmd_soft_dirty(pmd))
		r->bits |= PTMARK_BIT_SOFT_DIRTY;
	if (ptmark_pmd_uffd_wp(pmd))
		r->bits |= PTMARK_BIT_UFFD_WP;
	if (pmd_protnone(pmd))
		r->bits |= PTMARK_BIT_PROTNONE;
	r->bits = ptmark_uffd_bits(w, r->bits);
	ptmark_classify_present(w, vma, pmd_pfn(pmd),
				ptmark_compat_pmd_special(pmd),
				PTMARK_PMD, r);
}

/*
 * The PUD leaf @pud, read from @pudp under its lock.  hugetlb's entries
 * are PTEs at this level too, as its own walkers read them (and the only
 * non-present ones here); any other PUD leaf, a huge pfnmap, exists only
 * where the architecture has PUD-sized transparent huge pages.
 */
static void ptmark_classify_pud(const struct ptmark_walk *w,
				struct vm_area_struct *vma, pud_t *pudp,
				pud_t pud, struct ptmark_record *r)
{
	ptmark_record_reset(r);
	if (is_vm_hugetlb_page(vma)) {
		pte_t pte = ptmark_huge_slot_get(pudp);

		if (!pte_present(pte)) {
			ptmark_classify_swap_pte(pte, r);
			r->bits = ptmark_uffd_bits(w, r->bits);
			return;
		}
		if (pte_write(pte))
			r->bits |= PTMARK_BIT_WRITE;
		if (pte_dirty(pte))
			r->bits |= PTMARK_BIT_DIRTY;
		if (pte_young(pte))
			r->bits |= PTMARK_BIT_YOUNG;
		ptmark_classify_present(w, vma, pte_pfn(pte), false,
					PTMARK_PUD, r);
		return;
	}
#ifdef CONFIG_HAVE_ARCH_TRANSPARENT_HUGEPAGE_PUD
	if (pud_present(pud)) {
		if (pud_write(pud))
			r->bits |= PTMARK_BIT_WRITE;
		if (pud_dirty(pud))
			r->bits |= PTMARK_BIT_DIRTY;
		if (pud_young(pud))
			r->bits |= PTMARK_BIT_YOUNG;
		ptmark_classify_present(w, vma, pud_pfn(pud),
					ptmark_compat_pud_special(pud),
					PTMARK_PUD, r);
		return;
	}
#endif
	r->kind = PTMARK_KIND_RAW;
}

/* A leaf covering [leaf_start, ...) of which [addr, end) is wanted. */
static void ptmark_emit_leaf(struct ptmark_walk *w, unsigned long leaf_start,
			     unsigned long addr, unsigned long end,
			     struct ptmark_record *r)
{
	if (r->pfn)
		r->pfn += (addr - leaf_start) >> PAGE_SHIFT;
	ptmark_emit(w, addr, (end - addr) >> PAGE_SHIFT, r);
}

/*
 * ptmark_walk_ptes() for compact words, and for a sink, where a page is
 * nothing but its state word: neighbours in the same state are counted
 * here and emitted as one run, a non-present entry equal to the one
 * before it (the markers of a guard stripe) takes that one's word without
 * being decoded again, and a present entry with the protection bits of
 * the last one decoded takes that one's access bits.  Only what the pfn
 * tells, the folio's part, is looked up for every page.  A sink's walk
 * has no room for words (cap 0): every run goes to ptmark_emit_state(),
 * and from there to the sink.
 */
static void ptmark_walk_ptes_compact(struct ptmark_walk *w,
				     struct vm_area_struct *vma, pte_t *ptep,
				     unsigned long addr, unsigned long end)
{
	bool raw_pfns = ptmark_vma_raw_pfns(vma), need_folio = w->need_folio;
	unsigned long run_addr = addr, run = 0, nr;
	u32 state, run_state = 0, swp_state = 0, prot_bits = 0;
	u32 mask = w->bits_mask;
	pteval_t swp_val = 0;	/* never a non-present, non-none entry */
	pgprot_t prot = __pgprot(0);	/* never that of a present entry */
	bool prot_special = false;
	struct ptmark_record r;

	for (; addr != end; ptep += nr, addr += nr * PAGE_SIZE) {
		pte_t pte = ptep_get(ptep);

		nr = 1;
		if (pte_none(pte)) {
			while (addr + nr * PAGE_SIZE != end &&
			       pte_none(ptep_get(ptep + nr)))
				nr++;
			state = PTMARK_KIND_NONE;
		} else if (pte_present(pte)) {
			if (pgprot_val(pte_pgprot(pte)) != pgprot_val(prot)) {
				prot = pte_pgprot(pte);
				prot_bits = ptmark_pte_bits(w, pte);
				prot_special = pte_special(pte);
			}
			state = prot_bits |
				ptmark_present_bits(vma, pte_pfn(pte),
						    prot_special, raw_pfns,
						    need_folio, PTMARK_PTE);
			state = ptmark_compact_word(PTMARK_KIND_PRESENT, 0,
						    state & mask);
		} else if (pte_val(pte) == swp_val) {
			state = swp_state;
		} else {
			ptmark_classify_pte(w, vma, pte, &r);
			state = ptmark_compact_state(w, &r);
			swp_val = pte_val(pte);
			swp_state = state;
		}
		if (run && state == run_state) {
			run += nr;
			continue;
		}
		/*
		 * A one-page run in a new state, as in a stripe: one word.
		 * w->next is left to the ptmark_emit_state() that always
		 * comes last.
		 */
		if (run == 1 && (!w->c_open || run_state != w->c_state) &&
		    w->nr < w->cap) {
			w->words[w->nr++] = run_state;
			w->c_state = run_state;
			w->c_repeat = UINT_MAX;
			w->c_open = true;
		} else if (run &&
			   ptmark_emit_state(w, run_addr, run, run_state) != run) {
			return;
		}
		run_addr = addr;
		run_state = state;
		run = nr;
	}
	if (run)
		ptmark_emit_state(w, run_addr, run, run_state);
}

/* The caller holds the PTE table's lock and the RCU read lock. */
static void ptmark_walk_ptes(struct ptmark_walk *w, struct vm_area_struct *vma,
			     pmd_t pmdval, unsigned long addr, unsigned long end)
{
	struct ptmark_record r;
	pte_t *ptep;

	ptep = pte_offset_kernel(&pmdval, addr);
	if (w->words || w->sink) {
		ptmark_walk_ptes_compact(w, vma, ptep, addr, end);
		return;
	}
	while (addr != end) {
		pte_t pte = ptep_get(ptep);
		unsigned long nr = 1;

		/* Empty entries are the common case: record them as one. */
		if (pte_none(pte)) {
			while (addr + nr * PAGE_SIZE != end &&
			       pte_none(ptep_get(ptep + nr)))
				nr++;
		}
		ptmark_classify_pte(w, vma, pte, &r);
		if (ptmark_emit(w, addr, nr, &r) != nr)
			break;
		ptep += nr;
		addr += nr * PAGE_SIZE;
	}
}

/*
 * One PMD's worth of [addr, end).  Returns true to retry the PMD because
 * it changed between the lockless look and the lock.
 */
static bool ptmark_walk_pmd_entry(struct ptmark_walk *w,
				  struct vm_area_struct *vma, pmd_t *pmdp,
				  unsigned long addr, unsigned long end)
{
	struct ptmark_record r;
	spinlock_t *ptl;	/* of the PMD, or of the PTE table */
	pmd_t pmdval;

	/*
	 * The PMD table itself stays under the mmap lock: only a PTE table
	 * it points to needs the RCU read lock, taken once one is seen.
	 */
	pmdval = pmdp_get_lockless(pmdp);
	if (pmd_none(pmdval)) {
		ptmark_emit_kind(w, addr, end, PTMARK_KIND_NONE);
		return false;
	}

	if (!pmd_present(pmdval) || pmd_leaf(pmdval)) {
		ptl = pmd_lock(w->mm, pmdp);
		pmdval = pmdp_get(pmdp);
		if (pmd_none(pmdval) ||
		    (pmd_present(pmdval) && !pmd_leaf(pmdval))) {
			/* Zapped or split meanwhile: look again. */
			spin_unlock(ptl);
			return true;
		}
		ptmark_classify_pmd(w, vma, pmdp, pmdval, &r);
		ptmark_emit_leaf(w, addr & PMD_MASK, addr, end, &r);
		spin_unlock(ptl);
		return false;
	}

	if (unlikely(pmd_bad(pmdval))) {
		ptmark_emit_kind(w, addr, end, PTMARK_KIND_RAW);
		return false;
	}

	rcu_read_lock();
	if (unlikely(!pmd_same(pmdval, pmdp_get_lockless(pmdp)))) {
		rcu_read_unlock();
		return true;
	}
	ptl = pte_lockptr(w->mm, &pmdval);
	spin_lock(ptl);
	if (unlikely(!pmd_same(pmdval, pmdp_get_lockless(pmdp)))) {
		spin_unlock(ptl);
		rcu_read_unlock();
		return true;
	}
	ptmark_walk_ptes(w, vma, pmdval, addr, end);
	spin_unlock(ptl);
	rcu_read_unlock();
	return false;
}

static void ptmark_walk_pmds(struct ptmark_walk *w, struct vm_area_struct *vma,
			     pud_t *pudp, unsigned long addr, unsigned long end)
{
	pmd_t *pmdp = pmd_offset(pudp, addr);
	unsigned int since = 0;
	unsigned long next;

	do {
		next = pmd_addr_end(addr, end);
		/*
		 * Runs of empty PMDs, most of a sparse reservation, are one
		 * emit: the PMD table cannot go away under the mmap lock, so
		 * its entries may be read without the RCU dance.
		 */
		if (pmd_none(pmdp_get_lockless(pmdp))) {
			while (next != end &&
			       pmd_none(pmdp_get_lockless(pmdp + 1))) {
				pmdp++;
				next = pmd_addr_end(next, end);
			}
			ptmark_emit_kind(w, addr, next, PTMARK_KIND_NONE);
		} else {
			while (ptmark_walk_pmd_entry(w, vma, pmdp, addr, next))
				atomic64_inc(&ptmark_stats.walk_retries);
		}
		if (w->full)
			return;
		if (fatal_signal_pending(current)) {
			w->err = -EINTR;
			w->full = true;
			return;
		}
		ptmark_walk_pause(&since);
	} while (pmdp++, addr = next, addr != end);
}

static void ptmark_walk_puds(struct ptmark_walk *w, struct vm_area_struct *vma,
			     p4d_t *p4dp, unsigned long addr, unsigned long end)
{
	pud_t *pudp = pud_offset(p4dp, addr);
	struct ptmark_record r;
	unsigned long next;
	spinlock_t *ptl;	/* of the PUD leaf */
	pud_t pud;

	do {
		next = pud_addr_end(addr, end);
		pud = pudp_get(pudp);
		if (pud_none(pud)) {
			ptmark_emit_kind(w, addr, next, PTMARK_KIND_NONE);
		} else if (!pud_present(pud) || pud_leaf(pud)) {
			ptl = pud_lock(w->mm, pudp);
			pud = pudp_get(pudp);
			if (pud_none(pud)) {
				ptmark_emit_kind(w, addr, next, PTMARK_KIND_NONE);
			} else if (pud_present(pud) && !pud_leaf(pud)) {
				spin_unlock(ptl);
				ptmark_walk_pmds(w, vma, pudp, addr, next);
				goto advance;
			} else {
				ptmark_classify_pud(w, vma, pudp, pud, &r);
				ptmark_emit_leaf(w, addr & PUD_MASK, addr, next,
						 &r);
			}
			spin_unlock(ptl);
		} else if (unlikely(pud_bad(pud))) {
			ptmark_emit_kind(w, addr, next, PTMARK_KIND_RAW);
		} else {
			ptmark_walk_pmds(w, vma, pudp, addr, next);
		}
advance:
		if (w->full)
			return;
	} while (pudp++, addr = next, addr != end);
}

static void ptmark_walk_p4ds(struct ptmark_walk *w, struct vm_area_struct *vma,
			     pgd_t *pgdp, unsigned long addr, unsigned long end)
{
	p4d_t *p4dp = p4d_offset(pgdp, addr);
	unsigned long next;
	p4d_t p4d;

	do {
		next = p4d_addr_end(addr, end);
		p4d = p4dp_get(p4dp);
		if (p4d_none(p4d))
			ptmark_emit_kind(w, addr, next, PTMARK_KIND_NONE);
		else if (unlikely(p4d_bad(p4d)))
			ptmark_emit_kind(w, addr, next, PTMARK_KIND_RAW);
		else
			ptmark_walk_puds(w, vma, p4dp, addr, next);
		if (w->full)
			return;
	} while (p4dp++, addr = next, addr != end);
}

static void ptmark_walk_vma(struct ptmark_walk *w, struct vm_area_struct *vma,
			    unsigned long addr, unsigned long end)
{
	pgd_t *pgdp = pgd_offset(w->mm, addr);
	unsigned long next;
	pgd_t pgd;

	do {
		next = pgd_addr_end(addr, end);
		pgd = pgdp_get(pgdp);
		if (pgd_none(pgd))
			ptmark_emit_kind(w, addr, next, PTMARK_KIND_NONE);
		else if (unlikely(pgd_bad(pgd)))
			ptmark_emit_kind(w, addr, next, PTMARK_KIND_RAW);
		else
			ptmark_walk_p4ds(w, vma, pgdp, addr, next);
		if (w->full)
			return;
	} while (pgdp++, addr = next, addr != end);
}

/*
 * The kernel's own walkers keep a shared PMD table from being unshared
 * under them with the hugetlb VMA lock, which is not exported.  The file's
 * i_mmap_rwsem excludes huge_pmd_unshare() as well (it asserts the rwsem
 * held for write), and mm/rmap.c orders it below the mmap lock and above
 * the page-table locks, as it is taken here.
 */
static void ptmark_walk_vma_locked(struct ptmark_walk *w,
				   struct vm_area_struct *vma,
				   unsigned long addr, unsigned long end)
{
	struct address_space *mapping = NULL;

	if (is_vm_hugetlb_page(vma) && vma->vm_file)
		mapping = vma->vm_file->f_mapping;
	if (mapping)
		i_mmap_lock_read(mapping);
	ptmark_walk_vma(w, vma, addr, end);
	if (mapping)
		i_mmap_unlock_read(mapping);
}

/*
 * A walk lets the mmap lock go, if anyone waits for it, after this many
 * PMDs of a VMA (16 MiB with 4 KiB pages): a scan of any size keeps
 * neither the target's mmap() nor its faults waiting for longer than a
 * piece of it takes.  A hugetlb VMA is walked one huge page a piece, its
 * file's i_mmap_rwsem taken for each: truncation and hole punching of
 * the file, which take it for write, wait for one huge page at most.
 */
#define PTMARK_WALK_CHUNK_PMDS	8

static unsigned long ptmark_walk_piece(struct vm_area_struct *vma)
{
	if (is_vm_hugetlb_page(vma))
		return vma_kernel_pagesize(vma);
	return PTMARK_WALK_CHUNK_PMDS * PMD_SIZE;
}

/*
 * Between two pieces of a walk: let the lock go if a writer (or a reader
 * behind one) waits, or the CPU is wanted, and take it again.  0, or
 * -EINTR on a fatal signal with the lock not held.
 */
static int ptmark_walk_yield(struct ptmark_walk *w)
{
	if (!mmap_lock_is_contended(w->mm) && !need_resched())
		return 0;
	mmap_read_unlock(w->mm);
	cond_resched();
	return mmap_read_lock_killable(w->mm);
}

/**
 * ptmark_walk - classify [w->next, end) into w->recs, or w->sink
 * @w: the walk; w->next is where to start and is advanced
 * @end: page-aligned end of the range
 *
 * Stops when @end is reached or w->recs is full, or w->sink refused a run
 * (w->full).  Takes the mmap lock for read itself, and lets it go between
 * pieces of PTMARK_WALK_CHUNK_PMDS when someone waits for it.  Returns 0,
 * or -EINTR on a fatal signal.
 */
int ptmark_walk(struct ptmark_walk *w, unsigned long end)
{
	struct vm_area_struct *vma;
	unsigned long from = w->next, stop, chunk, piece;
	int err;

	if (!w->bits_mask)
		w->bits_mask = PTMARK_BIT_ALL;
	w->need_folio = w->bits_mask & PTMARK_FOLIO_BITS;

	err = mmap_read_lock_killable(w->mm);
	if (err)
		return err;

	w->full = false;
	while (w->next < end && !w->full) {
		vma = find_vma(w->mm, w->next);
		if (!vma || vma->vm_start >= end || vma->vm_start > w->next) {
			unsigned long gap_end = vma ? min(vma->vm_start, end) : end;

			/* Two gaps are never adjacent: no floor needed. */
			w->run_floor = 0;
			w->vma_flags = 0;
			w->as_flags = 0;
			ptmark_emit_kind(w, w->next, gap_end, PTMARK_KIND_UNMAPPED);
			continue;
		}
		ptmark_enter_vma(w, vma);
		if (w->full)
			break;
		stop = min(vma->vm_end, end);
		piece = ptmark_walk_piece(vma);
		chunk = ALIGN_DOWN(w->next, piece) + piece;
		if (chunk > w->next && chunk < stop)
			stop = chunk;
		ptmark_walk_vma_locked(w, vma, w->next, stop);
		/* The VMA is looked up again after a yield: it may be gone. */
		if (!w->full && w->next < end) {
			err = ptmark_walk_yield(w);
			if (err) {
				w->err = err;
				goto out;
			}
		}
	}
	mmap_read_unlock(w->mm);
out:
	atomic64_add((w->next - from) >> PAGE_SHIFT, &ptmark_stats.pages_scanned);
	return w->err;
}

/*
 * Make room after a flush: keep only the last record, which a further
 * walk may still extend.
 */
void ptmark_walk_keep_last(struct ptmark_walk *w)
{
	if (w->nr > 1)
		w->recs[0] = w->recs[w->nr - 1];
	w->nr = min(w->nr, 1U);
}
