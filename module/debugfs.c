// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/debug/ptmark/: text a person reads and a test diffs.
 *
 *   features	one "name yes|no" line per PTMARK_FEAT_* bit
 *   stats	one "name value" line per counter
 *   target	write "PID [START-END]" (hex addresses) to choose what the
 *		dumps show; reads back the current choice
 *   ptes	the target's range as runs: a "vma" line per VMA, then one
 *		line per run of pages in the same state
 *   map	the same range one character per page, 64 to a line
 *
 * Documentation/ptmark.rst explains every field.  A dump is a snapshot
 * taken when the file is opened; reads then page through it.  A dump
 * covers at most PTMARK_DUMP_MAX_PAGES pages inside VMAs (holes between
 * them are one line each, whatever their size) and PTMARK_DUMP_MAX_RECORDS
 * runs; its header line says so and a "# truncated at" line ends a dump
 * that was cut short.  VMA offsets and pfns are shown only to a reader
 * that opened the file with CAP_SYS_ADMIN.
 */
#include <linux/capability.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/sched/mm.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "ptmark.h"

static struct dentry *ptmark_debugfs_dir;

/* What "target" names; the dumps look it up again at every open. */
static DEFINE_MUTEX(ptmark_target_lock);
static pid_t ptmark_target_pid;
static unsigned long ptmark_target_start, ptmark_target_end;

/* A dump larger than this is cut short, with a line saying so. */
#define PTMARK_DUMP_MAX_PAGES	BIT(20)		/* 4 GiB of 4 KiB pages */
#define PTMARK_DUMP_MAX_RECORDS	BIT(14)
#define PTMARK_DUMP_BATCH	1024
/* Output bytes a record can take, beyond the map's characters. */
#define PTMARK_DUMP_LINE_MAX	384

static int features_show(struct seq_file *m, void *v)
{
	const struct ptmark_feature_name *f;
	u64 have = ptmark_features();

	for (f = ptmark_feature_names; f->name; f++)
		seq_printf(m, "%s %s\n", f->name, have & f->bit ? "yes" : "no");
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(features);

static int stats_show(struct seq_file *m, void *v)
{
	seq_printf(m, "ioctls %lld\n", atomic64_read(&ptmark_stats.ioctls));
	seq_printf(m, "ioctl_errors %lld\n",
		   atomic64_read(&ptmark_stats.ioctl_errors));
	seq_printf(m, "scans %lld\n", atomic64_read(&ptmark_stats.scans));
	seq_printf(m, "pages_scanned %lld\n",
		   atomic64_read(&ptmark_stats.pages_scanned));
	seq_printf(m, "walk_retries %lld\n",
		   atomic64_read(&ptmark_stats.walk_retries));
	seq_printf(m, "markers_installed %lld\n",
		   atomic64_read(&ptmark_stats.markers_installed));
	seq_printf(m, "markers_removed %lld\n",
		   atomic64_read(&ptmark_stats.markers_removed));
	seq_printf(m, "pfnmaps %lld\n", atomic64_read(&ptmark_stats.pfnmaps));
	seq_printf(m, "pin_sessions %lld\n",
		   atomic64_read(&ptmark_stats.pin_sessions));
	seq_printf(m, "pinned_pages %lld\n",
		   atomic64_read(&ptmark_stats.pinned_pages));
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(stats);

/* ---- target ----------------------------------------------------------- */

static int target_show(struct seq_file *m, void *v)
{
	mutex_lock(&ptmark_target_lock);
	if (!ptmark_target_pid)
		seq_puts(m, "none\n");
	else if (ptmark_target_end)
		seq_printf(m, "%d %lx-%lx\n", ptmark_target_pid,
			   ptmark_target_start, ptmark_target_end);
	else
		seq_printf(m, "%d\n", ptmark_target_pid);
	mutex_unlock(&ptmark_target_lock);
	return 0;
}

static int target_open(struct inode *inode, struct file *file)
{
	return single_open(file, target_show, NULL);
}

/* "PID" or "PID START-END"; addresses in hex, page-aligned, START < END. */
static ssize_t target_write(struct file *file, const char __user *ubuf,
			    size_t count, loff_t *ppos)
{
	unsigned long start = 0, end = 0;
	char buf[64], *range;
	int pid, ret;

	if (count >= sizeof(buf))
		return -EINVAL;
	if (copy_from_user(buf, ubuf, count))
		return -EFAULT;
	buf[count] = '\0';
	strim(buf);

	range = strchr(buf, ' ');
	if (range)
		*range++ = '\0';
	ret = kstrtoint(buf, 10, &pid);
	if (ret)
		return ret;
	if (pid <= 0)
		return -EINVAL;
	if (range) {
		char *dash = strchr(skip_spaces(range), '-');

		if (!dash)
			return -EINVAL;
		*dash = '\0';
		if (kstrtoul(skip_spaces(range), 16, &start) ||
		    kstrtoul(dash + 1, 16, &end))
			return -EINVAL;
		if (!PAGE_ALIGNED(start) || !PAGE_ALIGNED(end) || start >= end)
			return -EINVAL;
	}

	mutex_lock(&ptmark_target_lock);
	ptmark_target_pid = pid;
	ptmark_target_start = start;
	ptmark_target_end = end;
	mutex_unlock(&ptmark_target_lock);
	return count;
}

static const struct file_operations target_fops = {
	.owner		= THIS_MODULE,
	.open		= target_open,
	.read		= seq_read,
	.llseek		= seq_lseek,
	.write		= target_write,
	.release	= single_release,
};

/* ---- snapshots -------------------------------------------------------- */

struct ptmark_snapshot {
	pid_t pid;
	unsigned long start, end;	/* what was asked */
	unsigned long next;		/* where the walk stopped */
	unsigned long pages;		/* pages inside VMAs walked */
	bool show_pgoff;		/* the reader may see vm_pgoff */
	struct ptmark_record *recs;
	unsigned long nr;
};

static int ptmark_grow(struct ptmark_walk *w, unsigned long want)
{
	struct ptmark_record *bigger;

	bigger = kvmalloc_array(want, sizeof(*bigger), GFP_KERNEL);
	if (!bigger)
		return -ENOMEM;
	if (w->nr)
		memcpy(bigger, w->recs, w->nr * sizeof(*bigger));
	kvfree(w->recs);
	w->recs = bigger;
	w->cap = want;
	return 0;
}

/*
 * Where [start, *end) of @mm holds PTMARK_DUMP_MAX_PAGES pages inside
 * VMAs: *end is lowered to there, if it holds more.  That bounds the walk.
 */
static int ptmark_dump_limit(struct mm_struct *mm, unsigned long start,
			     unsigned long *end)
{
	unsigned long left = PTMARK_DUMP_MAX_PAGES, from, to, nr;
	struct vm_area_struct *vma;
	struct vma_iterator vmi;
	int err;

	vma_iter_init(&vmi, mm, start);
	err = mmap_read_lock_killable(mm);
	if (err)
		return err;
	for_each_vma_range(vmi, vma, *end) {
		from = max(vma->vm_start, start);
		to = min(vma->vm_end, *end);
		nr = (to - from) >> PAGE_SHIFT;
		if (nr >= left) {
			*end = from + left * PAGE_SIZE;
			break;
		}
		left -= nr;
	}
	mmap_read_unlock(mm);
	return 0;
}

/*
 * Cut the records at PTMARK_DUMP_MAX_PAGES pages inside VMAs, which the
 * walk may still exceed if VMAs grew after ptmark_dump_limit() looked.
 */
static void ptmark_snapshot_trim(struct ptmark_snapshot *snap)
{
	struct ptmark_record *r;
	unsigned long i, room;

	snap->pages = 0;
	for (i = 0; i < snap->nr; i++) {
		r = &snap->recs[i];
		if (r->kind == PTMARK_KIND_VMA_HEADER ||
		    r->kind == PTMARK_KIND_UNMAPPED)
			continue;
		room = PTMARK_DUMP_MAX_PAGES - snap->pages;
		if (r->nr_pages > room) {
			r->nr_pages = room;
			snap->pages += room;
			snap->next = r->start + room * PAGE_SIZE;
			snap->nr = room ? i + 1 : i;
			return;
		}
		snap->pages += r->nr_pages;
	}
}

static int ptmark_snapshot_take(struct ptmark_snapshot *snap, bool admin)
{
	struct ptmark_walk w = {
		.show_pfn = admin,
		.vma_headers = true,
		.last_header = -1UL,
	};
	unsigned long end;
	struct mm_struct *mm;
	int ret;

	mutex_lock(&ptmark_target_lock);
	snap->pid = ptmark_target_pid;
	snap->start = ptmark_target_start;
	snap->end = ptmark_target_end;
	mutex_unlock(&ptmark_target_lock);
	if (!snap->pid)
		return -ENOENT;

	mm = ptmark_get_mm_pid(snap->pid);
	if (IS_ERR(mm))
		return PTR_ERR(mm);
	if (!snap->end || snap->end > mm->task_size)
		snap->end = mm->task_size;
	ret = -EINVAL;
	if (snap->start >= snap->end)
		goto out;

	snap->show_pgoff = admin;
	end = snap->end;
	ret = ptmark_dump_limit(mm, snap->start, &end);
	if (ret)
		goto out;

	w.mm = mm;
	w.next = snap->start;
	do {
		ret = -E2BIG;
		if (w.cap >= PTMARK_DUMP_MAX_RECORDS)
			break;
		ret = ptmark_grow(&w, w.cap ? 2 * w.cap : PTMARK_DUMP_BATCH);
		if (ret)
			break;
		ret = ptmark_walk(&w, end);
	} while (!ret && w.next < end);

	/* A dump cut short still shows what it has. */
	if (ret == -E2BIG || ret == 0) {
		snap->recs = w.recs;
		snap->nr = w.nr;
		snap->next = w.next;
		ptmark_snapshot_trim(snap);
		ret = 0;
	} else {
		kvfree(w.recs);
	}
out:
	mmput(mm);
	return ret;
}

static const char *ptmark_kind_names[PTMARK_KIND_COUNT] = {
	[PTMARK_KIND_UNMAPPED]		= "unmapped",
	[PTMARK_KIND_NONE]		= "none",
	[PTMARK_KIND_PRESENT]		= "present",
	[PTMARK_KIND_SWAP]		= "swap",
	[PTMARK_KIND_MIGRATION]		= "migration",
	[PTMARK_KIND_DEVICE_PRIVATE]	= "device-private",
	[PTMARK_KIND_DEVICE_EXCLUSIVE]	= "device-exclusive",
	[PTMARK_KIND_HWPOISON]		= "hwpoison",
	[PTMARK_KIND_MARKER]		= "marker",
	[PTMARK_KIND_RAW]		= "raw",
};

static const char * const ptmark_bit_names[] = {
	"write", "dirty", "young", "soft-dirty", "uffd-wp", "exclusive",
	"anon", "file", "zeropage", "huge-zeropage", "special",
	"maybe-pinned", "large", "pmd", "pud", "uffd-rwp", "protnone",
	"numa-hint", "cont",
};

static const char * const ptmark_marker_names[] = {
	"uffd-wp", "poisoned", "guard",
};

static const char * const ptmark_vma_names[] = {
	"read", "write", "exec", "shared", "anon", "file", "shmem", "pfnmap",
	"io", "mixedmap", "hugetlb", "locked", "lockonfault", "uffd-missing",
	"uffd-wp", "uffd-minor", "wipeonfork", "dontcopy", "hugepage",
	"nohugepage", "softdirty", "seq-read", "rand-read", "uffd-rwp",
};

static const char * const ptmark_as_names[] = {
	"unmovable", "inaccessible", "unevictable",
};

/* Names of the set bits of @bits, joined by ',' ("-" if none). */
static void ptmark_print_bits(struct seq_file *m, u64 bits,
			      const char * const *names, unsigned int nr_names)
{
	bool first = true;
	unsigned int i;

	for (i = 0; i < 64; i++) {
		if (!(bits & BIT_ULL(i)))
			continue;
		if (!first)
			seq_putc(m, ',');
		if (i < nr_names)
			seq_puts(m, names[i]);
		else
			seq_printf(m, "bit%u", i);
		first = false;
	}
	if (first)
		seq_putc(m, '-');
}

/*
 * A VMA line.  Its pgoff is the pfn of the memory behind a COW pfnmap (the
 * module's own among them), so like pfns it is shown to CAP_SYS_ADMIN only.
 */
static void ptmark_print_vma(struct seq_file *m,
			     const struct ptmark_snapshot *snap,
			     const struct ptmark_record *r)
{
	u64 f = r->vma_flags;

	seq_printf(m, "vma %016llx-%016llx %c%c%c%c ",
		   r->start, r->start + r->nr_pages * PAGE_SIZE,
		   f & PTMARK_VMA_READ ? 'r' : '-',
		   f & PTMARK_VMA_WRITE ? 'w' : '-',
		   f & PTMARK_VMA_EXEC ? 'x' : '-',
		   f & PTMARK_VMA_SHARED ? 's' : 'p');
	if (snap->show_pgoff)
		seq_printf(m, "pgoff=%llx flags=", r->pfn);
	else
		seq_puts(m, "pgoff=- flags=");
	ptmark_print_bits(m, f, ptmark_vma_names, ARRAY_SIZE(ptmark_vma_names));
	seq_puts(m, " as=");
	ptmark_print_bits(m, r->as_flags, ptmark_as_names,
			  ARRAY_SIZE(ptmark_as_names));
	seq_putc(m, '\n');
}

static void ptmark_print_run(struct seq_file *m, const struct ptmark_record *r)
{
	seq_printf(m, "%016llx-%016llx %llu %s", r->start,
		   r->start + r->nr_pages * PAGE_SIZE, r->nr_pages,
		   r->kind < PTMARK_KIND_COUNT ? ptmark_kind_names[r->kind] : "?");
	if (r->kind == PTMARK_KIND_MARKER) {
		seq_putc(m, ' ');
		ptmark_print_bits(m, r->marker, ptmark_marker_names,
				  ARRAY_SIZE(ptmark_marker_names));
	}
	if (r->kind != PTMARK_KIND_UNMAPPED && r->kind != PTMARK_KIND_NONE &&
	    r->kind != PTMARK_KIND_MARKER) {
		seq_putc(m, ' ');
		ptmark_print_bits(m, r->bits, ptmark_bit_names,
				  ARRAY_SIZE(ptmark_bit_names));
	}
	if (r->pfn)
		seq_printf(m, " pfn=%llx", r->pfn);
	seq_putc(m, '\n');
}

static void ptmark_print_head(struct seq_file *m, const char *what,
			      const struct ptmark_snapshot *snap)
{
	seq_printf(m, "# ptmark %s pid %d range %016lx-%016lx limit %lu pages %lu runs\n",
		   what, snap->pid, snap->start, snap->end,
		   PTMARK_DUMP_MAX_PAGES, PTMARK_DUMP_MAX_RECORDS);
}

static void ptmark_print_tail(struct seq_file *m,
			      const struct ptmark_snapshot *snap)
{
	if (snap->next < snap->end)
		seq_printf(m, "# truncated at %016lx: the limit of %lu pages or %lu runs\n",
			   snap->next, PTMARK_DUMP_MAX_PAGES,
			   PTMARK_DUMP_MAX_RECORDS);
}

static int ptes_show(struct seq_file *m, void *v)
{
	struct ptmark_snapshot *snap = m->private;
	unsigned long i;

	ptmark_print_head(m, "ptes", snap);
	for (i = 0; i < snap->nr; i++) {
		const struct ptmark_record *r = &snap->recs[i];

		if (r->kind == PTMARK_KIND_VMA_HEADER)
			ptmark_print_vma(m, snap, r);
		else
			ptmark_print_run(m, r);
		cond_resched();
	}
	ptmark_print_tail(m, snap);
	return 0;
}

#define PTMARK_MAP_WIDTH	64

static int map_show(struct seq_file *m, void *v)
{
	struct ptmark_snapshot *snap = m->private;
	unsigned long i, col = 0;
	u64 page;

	ptmark_print_head(m, "map", snap);
	seq_puts(m, "# _ unmapped  . none  A anon  F file  T pmd/pud-mapped  Z zeropage  H huge zeropage  p pfnmap/special\n");
	seq_puts(m, "# S swap  M migration  D device  X hwpoison  G guard  W uffd-wp marker  B guard+uffd-wp  K other marker  ? raw\n");
	for (i = 0; i < snap->nr; i++) {
		const struct ptmark_record *r = &snap->recs[i];
		char c = ptmark_map_char(r);

		if (r->kind == PTMARK_KIND_VMA_HEADER) {
			if (col)
				seq_putc(m, '\n');
			col = 0;
			ptmark_print_vma(m, snap, r);
			continue;
		}
		if (r->kind == PTMARK_KIND_UNMAPPED) {
			if (col)
				seq_putc(m, '\n');
			col = 0;
			seq_printf(m, "%016llx-%016llx unmapped (%llu pages)\n",
				   r->start, r->start + r->nr_pages * PAGE_SIZE,
				   r->nr_pages);
			continue;
		}
		for (page = 0; page < r->nr_pages; page++) {
			if (!col)
				seq_printf(m, "%016llx ",
					   r->start + page * PAGE_SIZE);
			seq_putc(m, c);
			if (++col == PTMARK_MAP_WIDTH) {
				seq_putc(m, '\n');
				col = 0;
				cond_resched();
			}
		}
		cond_resched();
	}
	if (col)
		seq_putc(m, '\n');
	ptmark_print_tail(m, snap);
	return 0;
}

static int ptmark_dump_open(struct file *file,
			    int (*show)(struct seq_file *, void *))
{
	struct ptmark_snapshot *snap;
	size_t size;
	int ret;

	snap = kzalloc_obj(*snap, GFP_KERNEL);
	if (!snap)
		return -ENOMEM;
	/* Whoever opened the file reads it: its credentials decide. */
	ret = ptmark_snapshot_take(snap, file_ns_capable(file, &init_user_ns,
							 CAP_SYS_ADMIN));
	/* Records and pages are both bounded, and so is the text. */
	if (!ret) {
		size = PAGE_SIZE + snap->nr * PTMARK_DUMP_LINE_MAX;
		if (show == map_show)
			size += snap->pages + snap->pages / PTMARK_MAP_WIDTH * 20;
		ret = single_open_size(file, show, snap, size);
	}
	if (ret) {
		kvfree(snap->recs);
		kfree(snap);
	}
	return ret;
}

static int ptmark_dump_release(struct inode *inode, struct file *file)
{
	struct ptmark_snapshot *snap = ((struct seq_file *)file->private_data)->private;

	kvfree(snap->recs);
	kfree(snap);
	return single_release(inode, file);
}

static int ptes_open(struct inode *inode, struct file *file)
{
	return ptmark_dump_open(file, ptes_show);
}

static int map_open(struct inode *inode, struct file *file)
{
	return ptmark_dump_open(file, map_show);
}

static const struct file_operations ptes_fops = {
	.owner		= THIS_MODULE,
	.open		= ptes_open,
	.read		= seq_read,
	.llseek		= seq_lseek,
	.release	= ptmark_dump_release,
};

static const struct file_operations map_fops = {
	.owner		= THIS_MODULE,
	.open		= map_open,
	.read		= seq_read,
	.llseek		= seq_lseek,
	.release	= ptmark_dump_release,
};

/*
 * The debugfs rule: its return values are never checked.  Without debugfs
 * (debugfs=off, CONFIG_DEBUG_FS unset) the directory is an error pointer,
 * the files are not made and the removal ignores it: the module works,
 * with nothing to show here.
 */
void ptmark_debugfs_init(void)
{
	ptmark_debugfs_dir = debugfs_create_dir("ptmark", NULL);
	debugfs_create_file("features", 0400, ptmark_debugfs_dir, NULL,
			    &features_fops);
	debugfs_create_file("stats", 0400, ptmark_debugfs_dir, NULL,
			    &stats_fops);
	debugfs_create_file("target", 0600, ptmark_debugfs_dir, NULL,
			    &target_fops);
	debugfs_create_file("ptes", 0400, ptmark_debugfs_dir, NULL,
			    &ptes_fops);
	debugfs_create_file("map", 0400, ptmark_debugfs_dir, NULL,
			    &map_fops);
}

void ptmark_debugfs_exit(void)
{
	debugfs_remove_recursive(ptmark_debugfs_dir);
}
