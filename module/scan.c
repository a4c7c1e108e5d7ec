// SPDX-License-Identifier: GPL-2.0
/*
 * PTMARK_IOC_SCAN: classify a range of a process's pages into records.
 *
 * The walk fills a kernel buffer with the mmap lock held, and the buffer
 * goes to userspace only after the lock is dropped: a fault on the user
 * buffer may need that very lock.
 */
#include <linux/instrumented.h>
#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "ptmark.h"

/* Records, or compact words, walked per mmap-lock hold. */
#define PTMARK_SCAN_BATCH	4096
#define PTMARK_SCAN_BATCH_WORDS	65536
#define PTMARK_SCAN_STACK_WORDS	32

/*
 * A batch to the caller's array: copy_to_user()'s checks, then 8-byte
 * stores.  Where the CPU has ERMS, copy_to_user() is one rep movsb, and
 * QEMU's TCG, where these tests run without KVM, emulates that a byte at
 * a time: about 4 ns a byte, a fifth of a striped compact scan.
 */
static int ptmark_put_batch(void __user *dst, const void *src, size_t len)
{
	check_object_size(src, len, true);
	instrument_copy_to_user(dst, src, len);
	if (!user_access_begin(dst, len))
		return -EFAULT;
	unsafe_copy_to_user(dst, src, len, efault);
	user_access_end();
	return 0;
efault:
	user_access_end();
	return -EFAULT;
}

/*
 * Compact words: every batch is flushed whole, and the next one starts
 * with a state word, so that the caller's array never has to be read back.
 * The first batch goes through a few words on the stack: most ranges that
 * are one state, or a few runs (a THP range, a sparse reservation), need
 * no more, and no buffer is allocated for them.
 */
static long ptmark_scan_compact(struct ptmark_walk *w, unsigned long end,
				u32 __user *uwords, u32 room, u32 *written)
{
	u32 first[PTMARK_SCAN_STACK_WORDS];
	u32 *buf = NULL, batch = ARRAY_SIZE(first);
	long ret = 0;

	w->words = first;
	while (w->next < end && *written < room) {
		if (w->words == first && *written) {
			batch = min_t(u32, room - *written,
				      PTMARK_SCAN_BATCH_WORDS);
			buf = kvmalloc_array(batch, sizeof(*buf), GFP_KERNEL);
			if (!buf)
				return -ENOMEM;
			w->words = buf;
		}
		w->nr = 0;
		w->c_open = false;
		w->cap = min_t(u32, room - *written, batch);
		ret = ptmark_walk(w, end);
		if (ret)
			break;
		if (ptmark_put_batch(uwords + *written, w->words,
				     w->nr * sizeof(*w->words))) {
			ret = -EFAULT;
			break;
		}
		*written += w->nr;
	}
	kvfree(buf);
	return ret;
}

long ptmark_ioc_scan(struct file *file, void __user *uarg)
{
	struct ptmark_walk w = { };
	struct ptmark_record __user *urecs;
	struct ptmark_scan args;
	unsigned long end, written = 0;
	struct mm_struct *mm;
	bool done = false;
	long ret;

	ret = ptmark_copy_args(&args, sizeof(args), PTMARK_SCAN_SIZE_VER0, uarg);
	if (ret)
		return ret;
	if (args.flags & ~PTMARK_SCAN_FLAGS)
		return -EINVAL;
	if ((args.flags & PTMARK_SCAN_COMPACT) &&
	    (args.flags & PTMARK_SCAN_DENSE))
		return -EINVAL;
	if ((args.bits_mask & ~PTMARK_BIT_ALL) || args.reserved)
		return -EINVAL;
	if (!args.nr_records || !args.len)
		return -EINVAL;
	if (!PAGE_ALIGNED(args.start) || !PAGE_ALIGNED(args.len))
		return -EINVAL;
	if (args.start + args.len < args.start)
		return -EINVAL;
	urecs = u64_to_user_ptr(args.records);

	mm = args.flags & PTMARK_SCAN_PIDFD ?
		ptmark_get_mm_pidfd_as(file, args.pidfd, PTMARK_ACCESS_READ) :
		ptmark_get_mm_self();
	if (IS_ERR(mm))
		return PTR_ERR(mm);
	if (args.start + args.len > mm->task_size) {
		ret = -EINVAL;
		goto out_mm;
	}
	end = args.start + args.len;

	w.mm = mm;
	w.dense = args.flags & PTMARK_SCAN_DENSE;
	w.show_pfn = ptmark_may_see_pfns(file);
	w.bits_mask = args.bits_mask;
	w.next = args.start;

	if (args.flags & PTMARK_SCAN_COMPACT) {
		u32 words = 0;

		atomic64_inc(&ptmark_stats.scans);
		ret = ptmark_scan_compact(&w, end, u64_to_user_ptr(args.records),
					  args.nr_records, &words);
		if (ret)
			goto out_mm;
		args.nr_records = words;
		args.next = w.next;
		ret = ptmark_copy_out(uarg, &args, sizeof(args));
		goto out_mm;
	}
	w.recs = kvmalloc_array(min_t(u32, args.nr_records, PTMARK_SCAN_BATCH),
				sizeof(*w.recs), GFP_KERNEL);
	if (!w.recs) {
		ret = -ENOMEM;
		goto out_mm;
	}

	atomic64_inc(&ptmark_stats.scans);
	while (!done) {
		unsigned long room = args.nr_records - written;
		unsigned int flush;

		w.cap = min_t(unsigned long, room, PTMARK_SCAN_BATCH);
		ret = ptmark_walk(&w, end);
		if (ret)
			goto out_free;

		/*
		 * Finished, or the caller's array is full: hand over all.
		 * Otherwise keep the last record back, the next batch may
		 * extend it.
		 */
		done = w.next == end || w.nr == room;
		flush = done ? w.nr : w.nr - 1;
		if (ptmark_put_batch(urecs + written, w.recs,
				     flush * sizeof(*w.recs))) {
			ret = -EFAULT;
			goto out_free;
		}
		written += flush;
		if (!done)
			ptmark_walk_keep_last(&w);
	}

	args.nr_records = written;
	args.next = w.next;
	ret = ptmark_copy_out(uarg, &args, sizeof(args));
out_free:
	kvfree(w.recs);
out_mm:
	mmput(mm);
	return ret;
}
