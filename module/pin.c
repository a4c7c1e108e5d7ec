// SPDX-License-Identifier: GPL-2.0
/*
 * PTMARK_IOC_PIN: pin sessions, thin drivers around the kernel's own
 * pin_user_pages*() so that tests can hold pages the way a DMA driver
 * does and then ask whether the pinned page is still the mapped one.
 *
 * A session is an anonymous-inode file.  It remembers the mm it was
 * opened for (a grab, not a user reference, so that it never keeps an
 * exited process's memory mapped) and a list of pinned ranges, each with
 * the pages pin_user_pages*() returned.  Everything is unpinned when a
 * range is released or the file goes away; the file's fops hold a module
 * reference, so rmmod cannot run while a session exists.  Each range
 * pinned and each range let go (released, or dropped with its session)
 * is a pin-ntf event of the netlink family.
 *
 * The comparison of pinned and mapped pages reads the page tables with
 * the scan's walker and compares pfns inside the module: callers only
 * learn same or different.
 *
 * Pins are accounted as io_uring accounts its fixed buffers: every page a
 * session holds is charged to the user who pinned it (user_struct
 * locked_vm, against that caller's RLIMIT_MEMLOCK unless it has
 * CAP_IPC_LOCK: -ENOMEM beyond), and shows in the pinned_vm (VmPin in
 * /proc/pid/status) of the process that opened the session, whose mm the
 * session grabs for that as io_uring grabs its ring's creator's.  The
 * charge follows the range, not the target: pins stay until they are
 * released or the session ends, also after the target exits (a pin holds
 * pages, not the mm, and the kernel offers a module no hook on the exit
 * of an mm but MMU notifiers, which not every kernel has), and they stay
 * charged to those who hold them.  Sessions, forks and passed descriptors
 * can never hold more than their users' limits.
 */
#include <linux/anon_inodes.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "compat.h"
#include "ptmark.h"

struct ptmark_pinned {
	struct list_head node;
	unsigned long start;
	unsigned long nr_pages;
	struct page **pages;
	struct user_struct *user;	/* charged with nr_pages, or NULL */
};

struct ptmark_pin_session {
	struct mutex lock;		/* ranges and nr_pages */
	struct mm_struct *mm;		/* the target's, mmgrab()bed */
	struct mm_struct *acct_mm;	/* the opener's, mmgrab()bed */
	struct list_head ranges;	/* struct ptmark_pinned */
	unsigned long nr_pages;
	pid_t pid;			/* of the target, for events */
};

/*
 * Charge @nr pinned pages to the caller, as io_uring charges its buffers:
 * to its user's locked_vm, within its RLIMIT_MEMLOCK, unless it may lock
 * memory without limit.  0 with pr->user set (a reference) or left NULL
 * (nothing charged), or -ENOMEM.  user_struct has a locked_vm wherever
 * the kernel has networking, as every kernel ptmark is built for has;
 * without it only CAP_IPC_LOCK may pin through a session.
 */
#ifdef CONFIG_NET
static int ptmark_pin_charge(struct ptmark_pinned *pr, unsigned long nr)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	struct user_struct *user = current_user();
	long cur;

	if (capable(CAP_IPC_LOCK))
		return 0;
	cur = atomic_long_read(&user->locked_vm);
	do {
		if (nr > limit || (unsigned long)cur > limit - nr)
			return -ENOMEM;
	} while (!atomic_long_try_cmpxchg(&user->locked_vm, &cur, cur + nr));
	pr->user = get_uid(user);
	return 0;
}

static void ptmark_pin_uncharge(struct ptmark_pinned *pr)
{
	if (!pr->user)
		return;
	atomic_long_sub(pr->nr_pages, &pr->user->locked_vm);
	free_uid(pr->user);
	pr->user = NULL;
}
#else
static int ptmark_pin_charge(struct ptmark_pinned *pr, unsigned long nr)
{
	return capable(CAP_IPC_LOCK) ? 0 : -ENOMEM;
}

static void ptmark_pin_uncharge(struct ptmark_pinned *pr)
{
}
#endif

static void ptmark_pinned_free(struct ptmark_pin_session *s,
			       struct ptmark_pinned *pr)
{
	ptmark_netlink_notify_pin(s->pid, pr->start, pr->nr_pages, true);
	unpin_user_pages(pr->pages, pr->nr_pages);
	atomic64_sub(pr->nr_pages, &s->acct_mm->pinned_vm);
	ptmark_pin_uncharge(pr);
	atomic64_sub(pr->nr_pages, &ptmark_stats.pinned_pages);
	kvfree(pr->pages);
	kfree(pr);
}

/* A page-aligned, non-empty range below @mm's task size. */
static int ptmark_pin_check_range(struct mm_struct *mm, u64 start, u64 len)
{
	if (!len || !PAGE_ALIGNED(start) || !PAGE_ALIGNED(len))
		return -EINVAL;
	if (start + len < start || start + len > mm->task_size)
		return -EINVAL;
	return 0;
}

/* The pinned range holding all of [start, start + len), or NULL. */
static struct ptmark_pinned *ptmark_pin_find(struct ptmark_pin_session *s,
					     u64 start, u64 len)
{
	struct ptmark_pinned *pr;

	list_for_each_entry(pr, &s->ranges, node) {
		unsigned long end = pr->start + pr->nr_pages * PAGE_SIZE;

		if (start >= pr->start && start + len <= end)
			return pr;
	}
	return NULL;
}

static bool ptmark_pin_overlaps(struct ptmark_pin_session *s, u64 start,
				u64 len)
{
	struct ptmark_pinned *pr;

	list_for_each_entry(pr, &s->ranges, node) {
		unsigned long end = pr->start + pr->nr_pages * PAGE_SIZE;

		if (start < end && pr->start < start + len)
			return true;
	}
	return false;
}

/* GUP proper, the mmap lock held for read. */
static long ptmark_pin_gup(struct mm_struct *mm, unsigned long start,
			   unsigned long nr, unsigned int gup_flags,
			   struct page **pages)
{
	if (mm == current->mm)
		return pin_user_pages(start, nr, gup_flags, pages);
	return pin_user_pages_remote(mm, start, nr, gup_flags, pages, NULL);
}

/*
 * Pin all of @nr pages from @start into @pages, or none: the kernel may
 * pin fewer than asked (it stops where it meets something it cannot pin)
 * and says why only when asked again from there.
 */
static long ptmark_pin_pages(struct ptmark_pin_session *s, unsigned long start,
			     unsigned long nr, unsigned int gup_flags,
			     bool fast, struct page **pages)
{
	unsigned long done = 0;
	long got = 0;

	while (done < nr) {
		unsigned long addr = start + done * PAGE_SIZE;

		if (fast) {
			got = pin_user_pages_fast(addr, nr - done, gup_flags,
						  pages + done);
		} else {
			got = mmap_read_lock_killable(s->mm);
			if (got)
				break;
			got = ptmark_pin_gup(s->mm, addr, nr - done, gup_flags,
					     pages + done);
			mmap_read_unlock(s->mm);
		}
		if (got <= 0) {
			got = got ?: -EFAULT;
			break;
		}
		done += got;
	}
	if (done == nr)
		return 0;
	unpin_user_pages(pages, done);
	return got;
}

static long ptmark_pin_ioc_pin(struct ptmark_pin_session *s, void __user *uarg)
{
	struct ptmark_pin_range args;
	unsigned int gup_flags = 0;
	struct ptmark_pinned *pr;
	unsigned long nr;
	bool fast;
	long ret;

	ret = ptmark_copy_args(&args, sizeof(args), PTMARK_PIN_RANGE_SIZE_VER0,
			       uarg);
	if (ret)
		return ret;
	if (args.flags & ~PTMARK_PIN_FLAGS)
		return -EINVAL;
	ret = ptmark_pin_check_range(s->mm, args.start, args.len);
	if (ret)
		return ret;
	/* GUP-fast walks current->mm, whoever the session is for. */
	fast = args.flags & PTMARK_PIN_F_FAST;
	if (fast && current->mm != s->mm)
		return -EINVAL;
	if (args.flags & PTMARK_PIN_F_WRITE)
		gup_flags |= FOLL_WRITE;
	if (args.flags & PTMARK_PIN_F_LONGTERM)
		gup_flags |= FOLL_LONGTERM;
	nr = args.len >> PAGE_SHIFT;

	pr = kzalloc_obj(*pr, GFP_KERNEL);
	if (!pr)
		return -ENOMEM;
	pr->start = args.start;
	pr->nr_pages = nr;

	/* A pin may wait for a fault for long: let a kill end the wait. */
	ret = mutex_lock_killable(&s->lock);
	if (ret) {
		kfree(pr);
		return ret;
	}
	if (nr > PTMARK_PIN_MAX_PAGES - s->nr_pages) {
		ret = -ENOSPC;
		goto out_unlock;
	}
	if (ptmark_pin_overlaps(s, args.start, args.len)) {
		ret = -EEXIST;
		goto out_unlock;
	}
	/* Only a live mm can be pinned; the grab keeps just the struct. */
	if (!mmget_not_zero(s->mm)) {
		ret = -ESRCH;
		goto out_unlock;
	}
	ret = ptmark_pin_charge(pr, nr);
	if (ret)
		goto out_mmput;
	pr->pages = kvmalloc_array(nr, sizeof(*pr->pages), GFP_KERNEL);
	ret = pr->pages ? ptmark_pin_pages(s, args.start, nr, gup_flags, fast,
					   pr->pages) : -ENOMEM;
	if (ret)
		ptmark_pin_uncharge(pr);
out_mmput:
	mmput(s->mm);
	if (ret)
		goto out_unlock;

	list_add_tail(&pr->node, &s->ranges);
	s->nr_pages += nr;
	atomic64_add(nr, &s->acct_mm->pinned_vm);
	atomic64_add(nr, &ptmark_stats.pinned_pages);
	args.nr_pages = s->nr_pages;
	mutex_unlock(&s->lock);
	ptmark_netlink_notify_pin(s->pid, args.start, nr, false);
	/* The pins stay even if the caller cannot read the answer. */
	return ptmark_copy_out(uarg, &args, sizeof(args));

out_unlock:
	mutex_unlock(&s->lock);
	kvfree(pr->pages);
	kfree(pr);
	return ret;
}

static long ptmark_pin_ioc_release(struct ptmark_pin_session *s,
				   void __user *uarg)
{
	struct ptmark_pin_range args;
	struct ptmark_pinned *pr;
	long ret;

	ret = ptmark_copy_args(&args, sizeof(args), PTMARK_PIN_RANGE_SIZE_VER0,
			       uarg);
	if (ret)
		return ret;
	if (args.flags)
		return -EINVAL;
	ret = ptmark_pin_check_range(s->mm, args.start, args.len);
	if (ret)
		return ret;

	ret = mutex_lock_killable(&s->lock);
	if (ret)
		return ret;
	pr = ptmark_pin_find(s, args.start, args.len);
	if (!pr || pr->start != args.start ||
	    pr->nr_pages != args.len >> PAGE_SHIFT) {
		mutex_unlock(&s->lock);
		return -ENOENT;
	}
	list_del(&pr->node);
	s->nr_pages -= pr->nr_pages;
	args.nr_pages = s->nr_pages;
	mutex_unlock(&s->lock);
	ptmark_pinned_free(s, pr);
	return ptmark_copy_out(uarg, &args, sizeof(args));
}

static long ptmark_pin_ioc_read(struct ptmark_pin_session *s,
				void __user *uarg)
{
	struct ptmark_pin_read args;
	struct ptmark_pinned *pr;
	unsigned long i, first;
	char __user *ubuf;
	void *bounce;
	long ret;

	ret = ptmark_copy_args(&args, sizeof(args), PTMARK_PIN_READ_SIZE_VER0,
			       uarg);
	if (ret)
		return ret;
	if (args.flags)
		return -EINVAL;
	ret = ptmark_pin_check_range(s->mm, args.start, args.len);
	if (ret)
		return ret;
	ubuf = u64_to_user_ptr(args.buf);
	bounce = kmalloc(PAGE_SIZE, GFP_KERNEL);
	if (!bounce)
		return -ENOMEM;

	ret = mutex_lock_killable(&s->lock);
	if (ret)
		goto out_free;
	pr = ptmark_pin_find(s, args.start, args.len);
	if (!pr) {
		ret = -ENOENT;
		goto out;
	}
	first = (args.start - pr->start) >> PAGE_SHIFT;
	for (i = 0; i < args.len >> PAGE_SHIFT; i++) {
		/* A user fault must not happen under a kmap. */
		memcpy_from_page(bounce, pr->pages[first + i], 0, PAGE_SIZE);
		if (copy_to_user(ubuf + i * PAGE_SIZE, bounce, PAGE_SIZE)) {
			ret = -EFAULT;
			break;
		}
	}
out:
	mutex_unlock(&s->lock);
out_free:
	kfree(bounce);
	return ret;
}

/* What the walk found at one pinned page's address. */
static u8 ptmark_pin_state(const struct ptmark_record *r, struct page *page)
{
	if (r->kind != PTMARK_KIND_PRESENT || !r->pfn)
		return PTMARK_PIN_NOT_MAPPED;
	return r->pfn == page_to_pfn(page) ? PTMARK_PIN_SAME :
					     PTMARK_PIN_DIFFERENT;
}

static long ptmark_pin_ioc_compare(struct ptmark_pin_session *s,
				   void __user *uarg)
{
	struct ptmark_pin_compare args;
	struct ptmark_walk w = { };
	struct ptmark_pinned *pr;
	unsigned long i, nr, first;
	u8 *states = NULL;
	long ret;

	ret = ptmark_copy_args(&args, sizeof(args),
			       PTMARK_PIN_COMPARE_SIZE_VER0, uarg);
	if (ret)
		return ret;
	if (args.flags || args.reserved)
		return -EINVAL;
	ret = ptmark_pin_check_range(s->mm, args.start, args.len);
	if (ret)
		return ret;
	nr = args.len >> PAGE_SHIFT;
	if (nr > PTMARK_PIN_MAX_PAGES)
		return -ENOENT;

	w.recs = kvmalloc_array(nr, sizeof(*w.recs), GFP_KERNEL);
	states = kvmalloc(nr, GFP_KERNEL);
	if (!w.recs || !states) {
		ret = -ENOMEM;
		goto out_free;
	}
	w.mm = s->mm;
	w.dense = true;
	w.show_pfn = true;	/* compared here, never copied out */
	w.cap = nr;
	w.next = args.start;

	ret = mutex_lock_killable(&s->lock);
	if (ret)
		goto out_free;
	pr = ptmark_pin_find(s, args.start, args.len);
	if (!pr) {
		ret = -ENOENT;
		goto out_unlock;
	}
	if (!mmget_not_zero(s->mm)) {
		ret = -ESRCH;
		goto out_unlock;
	}
	ret = ptmark_walk(&w, args.start + args.len);
	mmput(s->mm);
	if (ret)
		goto out_unlock;
	if (w.nr != nr) {
		ret = -EIO;
		goto out_unlock;
	}
	args.nr_same = 0;
	args.nr_different = 0;
	args.nr_not_mapped = 0;
	first = (args.start - pr->start) >> PAGE_SHIFT;
	for (i = 0; i < nr; i++) {
		states[i] = ptmark_pin_state(&w.recs[i], pr->pages[first + i]);
		if (states[i] == PTMARK_PIN_SAME)
			args.nr_same++;
		else if (states[i] == PTMARK_PIN_DIFFERENT)
			args.nr_different++;
		else
			args.nr_not_mapped++;
	}
	mutex_unlock(&s->lock);

	if (copy_to_user(u64_to_user_ptr(args.states), states, nr))
		ret = -EFAULT;
	else
		ret = ptmark_copy_out(uarg, &args, sizeof(args));
	goto out_free;

out_unlock:
	mutex_unlock(&s->lock);
out_free:
	kvfree(states);
	kvfree(w.recs);
	return ret;
}

/* The size bits of the number are not matched, as on /dev/ptmark. */
#define PTMARK_PIN_IOC_MATCH(cmd)	((cmd) & ~(_IOC_SIZEMASK << _IOC_SIZESHIFT))

static long ptmark_pin_ioctl(struct file *file, unsigned int cmd,
			     unsigned long arg)
{
	struct ptmark_pin_session *s = file->private_data;
	void __user *uarg = (void __user *)arg;
	long ret;

	switch (PTMARK_PIN_IOC_MATCH(cmd)) {
	case PTMARK_PIN_IOC_MATCH(PTMARK_PIN_IOC_PIN):
		ret = ptmark_pin_ioc_pin(s, uarg);
		break;
	case PTMARK_PIN_IOC_MATCH(PTMARK_PIN_IOC_READ):
		ret = ptmark_pin_ioc_read(s, uarg);
		break;
	case PTMARK_PIN_IOC_MATCH(PTMARK_PIN_IOC_COMPARE):
		ret = ptmark_pin_ioc_compare(s, uarg);
		break;
	case PTMARK_PIN_IOC_MATCH(PTMARK_PIN_IOC_RELEASE):
		ret = ptmark_pin_ioc_release(s, uarg);
		break;
	default:
		return -ENOTTY;
	}

	return ptmark_count_ioctl(ret);
}

static int ptmark_pin_release(struct inode *inode, struct file *file)
{
	struct ptmark_pin_session *s = file->private_data;
	struct ptmark_pinned *pr, *next;

	list_for_each_entry_safe(pr, next, &s->ranges, node)
		ptmark_pinned_free(s, pr);
	mmdrop(s->acct_mm);
	mmdrop(s->mm);
	mutex_destroy(&s->lock);
	kfree(s);
	atomic64_dec(&ptmark_stats.pin_sessions);
	return 0;
}

static const struct file_operations ptmark_pin_fops = {
	.owner		= THIS_MODULE,
	.release	= ptmark_pin_release,
	.unlocked_ioctl	= ptmark_pin_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
};

long ptmark_ioc_pin(struct file *dev, void __user *uarg)
{
	struct ptmark_pin_session *s;
	struct ptmark_pin_open args;
	struct mm_struct *mm;
	struct file *file;
	pid_t pid;
	int fd;
	long ret;

	ret = ptmark_copy_args(&args, sizeof(args), PTMARK_PIN_OPEN_SIZE_VER0,
			       uarg);
	if (ret)
		return ret;
	if (args.flags & ~PTMARK_PIN_OPEN_FLAGS)
		return -EINVAL;
	/*
	 * Pinning changes the target's memory (COW is broken, holes are
	 * filled, pages stop moving): a write-level request.
	 */
	ret = ptmark_may_change(dev);
	if (ret)
		return ret;
	/* The opener's pinned_vm is charged: a kernel thread has none. */
	if (!current->mm)
		return -EINVAL;
	pid = task_tgid_nr(current);
	mm = args.flags & PTMARK_PIN_OPEN_F_PIDFD ?
		ptmark_get_mm_pidfd_nr(dev, args.pidfd, PTMARK_ACCESS_WRITE,
				       &pid) :
		ptmark_get_mm_self();
	if (IS_ERR(mm))
		return PTR_ERR(mm);

	s = kzalloc_obj(*s, GFP_KERNEL);
	if (!s) {
		mmput(mm);
		return -ENOMEM;
	}
	mutex_init(&s->lock);
	INIT_LIST_HEAD(&s->ranges);
	mmgrab(mm);
	mmput(mm);
	s->mm = mm;
	mmgrab(current->mm);
	s->acct_mm = current->mm;
	s->pid = pid;

	atomic64_inc(&ptmark_stats.pin_sessions);
	fd = get_unused_fd_flags(O_CLOEXEC);
	if (fd < 0) {
		ret = fd;
		goto out_free;
	}
	args.fd = fd;
	args.max_pages = PTMARK_PIN_MAX_PAGES;
	ret = ptmark_copy_out(uarg, &args, sizeof(args));
	if (ret) {
		put_unused_fd(fd);
		goto out_free;
	}
	file = anon_inode_getfile("[ptmark-pin]", &ptmark_pin_fops, s, O_RDWR);
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		ret = PTR_ERR(file);
		goto out_free;
	}
	/* From here on the release of the file frees the session. */
	fd_install(fd, file);
	return 0;

out_free:
	atomic64_dec(&ptmark_stats.pin_sessions);
	mmdrop(s->acct_mm);
	mmdrop(mm);
	kfree(s);
	return ret;
}
