/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Declarations shared by the files of ptmark.ko.
 */
#ifndef _PTMARK_H
#define _PTMARK_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/delay.h>
#include <linux/minmax.h>
#include <linux/mm_types.h>
#include <linux/types.h>
#include <linux/ptmark.h>

/* Counters shown in debugfs "stats"; one per event worth knowing about. */
struct ptmark_stats {
	atomic64_t ioctls;
	atomic64_t ioctl_errors;
	atomic64_t scans;
	atomic64_t pages_scanned;
	atomic64_t walk_retries;
	atomic64_t markers_installed;
	atomic64_t markers_removed;
	atomic64_t pfnmaps;	/* live /dev/ptmark mappings */
	atomic64_t pin_sessions;	/* open pin sessions */
	atomic64_t pinned_pages;	/* pages they hold pinned */
};

extern struct ptmark_stats ptmark_stats;

/* The longest sleep a test-hook parameter (walk_delay_us, fill_delay_us) asks. */
#define PTMARK_TEST_DELAY_MAX_US	100000U

/*
 * Sleep as long as test-hook parameter value @us says, capped; returns
 * whether it slept (0, the default, is off).
 */
static inline bool ptmark_test_delay(unsigned int us)
{
	us = min(us, PTMARK_TEST_DELAY_MAX_US);
	if (likely(!us))
		return false;
	usleep_range(us, us + us / 4 + 1);
	return true;
}

u64 ptmark_features(void);

/* One line per PTMARK_FEAT_* bit, named as debugfs "features" shows it. */
struct ptmark_feature_name {
	u64 bit;
	const char *name;
};

extern const struct ptmark_feature_name ptmark_feature_names[];

int ptmark_copy_args(void *karg, size_t ksize, size_t minsize,
		     const void __user *uarg);
int ptmark_copy_out(void __user *uarg, const void *karg, size_t ksize);
long ptmark_count_ioctl(long ret);

/*
 * A page-table walk in progress: records for [start, next) are in
 * recs[0..nr), runs extended in place while they can be.
 */
struct ptmark_walk {
	struct mm_struct *mm;
	bool dense;		/* one record per page */
	bool show_pfn;		/* caller may see pfns */
	bool need_folio;	/* bits_mask has bits read from the folio */
	u32 bits_mask;		/* PTMARK_BIT_* to report */
	struct ptmark_record *recs;
	/* PTMARK_SCAN_COMPACT: words instead of records. */
	u32 *words;
	u32 c_state;		/* the last state word */
	unsigned int c_repeat;	/* index of its repeat word, or UINT_MAX */
	bool c_open;		/* c_state may still be extended */
	unsigned int nr;	/* records (or words) in recs (words) */
	unsigned int cap;	/* room in recs (words) */
	bool full;		/* a page did not fit: stop */
	int err;
	unsigned long next;	/* first address not yet recorded */
	/* debugfs: a header record before each VMA's runs. */
	bool vma_headers;
	unsigned long last_header;
	/* The VMA (or gap) being walked: records never cross it. */
	unsigned long run_floor;
	u64 vma_flags;
	u32 as_flags;
	/*
	 * Instead of records: each run, and each VMA header, handed to
	 * @sink as it is walked (a run may continue the last one handed
	 * over), without pfns (a header's pgoff stays); false from it stops
	 * the walk before that run, as a full buffer does, and a later walk
	 * starts with it again.
	 */
	bool (*sink)(struct ptmark_walk *w, const struct ptmark_record *r);
};

/*
 * Not a kind userspace sees: in a debugfs snapshot, a record announcing a
 * VMA (start, nr_pages and vma_flags are the VMA's, pfn its pgoff).
 */
#define PTMARK_KIND_VMA_HEADER	0xffff

int ptmark_walk(struct ptmark_walk *w, unsigned long end);
void ptmark_walk_keep_last(struct ptmark_walk *w);

/*
 * What a request does to the mm it names (module/target.c says what each
 * needs of another process).
 */
#define PTMARK_ACCESS_READ	BIT(0)	/* looks: pagemap's rule */
#define PTMARK_ACCESS_WRITE	BIT(1)	/* changes: ptrace-attach's */

struct file;

struct mm_struct *ptmark_get_mm_self(void);
/* The mm behind @pidfd if the caller, and @file's opener, may @access it. */
struct mm_struct *ptmark_get_mm_pidfd_as(struct file *file, int pidfd,
					 unsigned int access);
/* The same without a device fd (netlink, debugfs): the caller decides. */
struct mm_struct *ptmark_get_mm_pidfd(int pidfd, unsigned int access);
struct mm_struct *ptmark_get_mm_pid(pid_t nr);
/*
 * The same, and the pid it found in the initial pid namespace in *@nr (a
 * label for events: looking the fd up again could find another process).
 */
struct mm_struct *ptmark_get_mm_pidfd_nr(struct file *file, int pidfd,
					 unsigned int access, pid_t *nr);
int ptmark_may_change(struct file *file);
bool ptmark_may_see_pfns(struct file *file);

long ptmark_ioc_scan(struct file *file, void __user *uarg);
long ptmark_ioc_unmovable(struct file *file, void __user *uarg);
void ptmark_unmovable_init(void);
void ptmark_unmovable_exit(void);
long ptmark_ioc_marker(struct file *file, void __user *uarg);
long ptmark_ioc_pin(struct file *dev, void __user *uarg);
bool ptmark_inject_allowed(void);
int ptmark_mmap(struct file *file, struct vm_area_struct *vma);

void ptmark_debugfs_init(void);
void ptmark_debugfs_exit(void);

int ptmark_netlink_init(void);
void ptmark_netlink_exit(void);
void ptmark_netlink_notify_marker(const struct ptmark_marker *args,
				  pid_t pid, u64 nr_pages, long err);
void ptmark_netlink_notify_pin(pid_t pid, unsigned long start,
			       unsigned long nr_pages, bool unpin);

#endif /* _PTMARK_H */
