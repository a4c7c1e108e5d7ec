// SPDX-License-Identifier: GPL-2.0
/*
 * PTMARK_IOC_UNMOVABLE: make, set, clear and query the unmovable flag of a
 * shmem file's address space.
 *
 * Folios of an "unmovable" address space are not migrated: in 7.3,
 * move_to_new_folio() (mm/migrate.c) answers -EOPNOTSUPP for them, and the
 * compaction migrate scanner (isolate_migratepages_block() in
 * mm/compaction.c) does not isolate them when they sit on the unevictable
 * LRU.  6.8 to 6.10 call the flag AS_UNMOVABLE; from 6.11 AS_INACCESSIBLE
 * carries the meaning, and it also makes truncate_inode_partial_folio()
 * (mm/truncate.c) skip zeroing the cut-off part of a partial folio.
 *
 * The kernel's only user, guest_memfd, sets the flag on an inode it has
 * just made, together with a gfp mask without __GFP_MOVABLE, so that no
 * folio of the file is ever allocated where only movable memory may go
 * (ZONE_MOVABLE, CMA) and none predates the flag.  ptmark follows it:
 *  - CREATE makes a fresh memfd-like shmem file, flags it before anyone
 *    else can see it, and installs a descriptor for it (O_RDWR, O_CLOEXEC);
 *  - SET flags an existing file only while it has size 0 and no page
 *    cache or swap entries (EBUSY otherwise).  The size is what makes the
 *    check hold: growing a shmem file takes the inode lock SET holds, and
 *    neither a fault nor fallocate(KEEP_SIZE) nor write(2) adds a folio
 *    without it or past EOF, so no folio can slip in between the check and
 *    the flag.  A file that is mapped but empty is accepted for the same
 *    reason: its mappings cannot fault anything in until it grows.
 *  - CLEAR undoes exactly what SET or CREATE did: the flag, the
 *    AS_UNEVICTABLE that came with it unless shmem keeps that for a reason
 *    of its own, and __GFP_MOVABLE, which SET only ever finds set.
 *
 * Only regular shmem files (memfd, tmpfs) are accepted, because only there
 * is every side effect of the flag harmless to someone else:
 *  - mapping_set_inaccessible() sets AS_UNEVICTABLE too, as SHM_LOCK does
 *    for shmem.  On a disk filesystem it would instead make the clean,
 *    written-back page cache of the file unreclaimable, and the flag lives
 *    in the in-core inode only: evicting the inode would drop it silently.
 *  - With the flag, partial truncation and hole punching leave the old
 *    bytes in the cut-off part of the folio.  A disk filesystem relying on
 *    the page cache to zero them would write them back past EOF and show
 *    them again when the file grows; for shmem the bytes only stay in the
 *    caller's own memory.
 *  - The folios are unmovable and unevictable without being charged to
 *    anyone's RLIMIT_MEMLOCK, as guest_memfd's are: hence CAP_SYS_ADMIN.
 *  - A block device file's f_mapping is the whole disk's page cache.  It
 *    is not shmem's, and neither is a pipe's, a device node's or a tmpfs
 *    directory's (7.3 gives shmem_aops to regular files and long symlinks
 *    only); the S_ISREG test keeps them out should that ever change.
 *  - hugetlbfs and guest_memfd (kvm_gmem_aops in 7.3) are not shmem, so a
 *    CLEAR can never strip the flag from a guest_memfd, which relies on it.
 *
 * SET and CLEAR change a mapping that is live.  They hold the inode lock,
 * which orders them with each other and with truncation and fallocate, the
 * way memfd seals are changed.  The flag bits themselves are atomic bit
 * operations, as the kernel's own helpers are.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/pagemap.h>
#include <linux/sched.h>
#include <linux/shmem_fs.h>
#include <linux/swap.h>
#include <linux/uaccess.h>
/* struct folio_batch: in pagevec.h in 6.12, folio_batch.h in 7.3. */
#include <linux/writeback.h>

#include "compat.h"
#include "ptmark.h"

#define PTMARK_HAVE_UNMOVABLE_FLAG \
	(PTMARK_HAVE_AS_INACCESSIBLE || PTMARK_HAVE_AS_UNMOVABLE)

#if PTMARK_HAVE_UNMOVABLE_FLAG
/*
 * Does shmem itself want @inode's folios kept off the evictable LRU?  It
 * does for a SHM_LOCKed segment (reachable through /proc/pid/map_files)
 * and on a tmpfs mounted noswap; CLEAR must leave AS_UNEVICTABLE alone
 * then.  The superblock of a shmem inode always carries a shmem_sb_info
 * (SHMEM_SB() is private to mm/shmem.c).
 */
static bool ptmark_shmem_keeps_unevictable(struct inode *inode)
{
	struct shmem_sb_info *sbinfo = inode->i_sb->s_fs_info;

	return (READ_ONCE(SHMEM_I(inode)->flags) & PTMARK_SHMEM_LOCKED) ||
	       sbinfo->noswap;
}

/*
 * Folios added to the LRU while the mapping was unevictable sit on the
 * unevictable list, which reclaim never scans: move them back, as
 * SHM_UNLOCK does.  Stop if someone made the mapping unevictable again.
 */
static void ptmark_rescue_folios(struct address_space *mapping)
{
	struct folio_batch fbatch;
	pgoff_t index = 0;

	folio_batch_init(&fbatch);
	while (!mapping_unevictable(mapping) &&
	       filemap_get_folios(mapping, &index, ULONG_MAX, &fbatch)) {
		check_move_unevictable_folios(&fbatch);
		folio_batch_release(&fbatch);
		cond_resched();
	}
}

/*
 * Flag @mapping the way guest_memfd flags its own: the setter brings
 * AS_UNEVICTABLE along, and the folios to come are allocated where
 * unmovable memory may go.  The mapping has no folio yet.
 */
static void ptmark_make_unmovable(struct address_space *mapping)
{
	mapping_set_gfp_mask(mapping,
			     mapping_gfp_mask(mapping) & ~__GFP_MOVABLE);
	ptmark_compat_set_unmovable(mapping);
}

/*
 * Can SET flag @mapping?  0 when it already is (nothing to do) or may be;
 * under the inode lock, which keeps the answer true until the flag is set.
 */
static int ptmark_may_set_unmovable(struct address_space *mapping)
{
	if (ptmark_compat_mapping_unmovable(mapping))
		return 0;
	if (i_size_read(mapping->host) || !mapping_empty(mapping))
		return -EBUSY;
	/*
	 * shmem gives every file it makes for userspace a movable mask;
	 * a file without one is some driver's, and CLEAR could not tell
	 * what to give back.
	 */
	if (!(mapping_gfp_mask(mapping) & __GFP_MOVABLE))
		return -EINVAL;
	return 0;
}

/*
 * Clear the flag, the AS_UNEVICTABLE that came with it unless shmem
 * wants that for a reason of its own, and give the folios to come their
 * movable mask back.  A mapping without the flag is left alone: its
 * AS_UNEVICTABLE, if any, is not ours.  Folios allocated meanwhile stay
 * where they are, which is where movable ones may go too.
 */
static void ptmark_clear_unmovable(struct address_space *mapping)
{
	struct inode *inode = mapping->host;

	if (!ptmark_compat_mapping_unmovable(mapping))
		return;
	ptmark_compat_clear_unmovable(mapping);
	mapping_set_gfp_mask(mapping, mapping_gfp_mask(mapping) | __GFP_MOVABLE);
	if (ptmark_shmem_keeps_unevictable(inode))
		return;

	mapping_clear_unevictable(mapping);
	/*
	 * SHM_LOCK sets its inode flag before AS_UNEVICTABLE and does not
	 * take the inode lock: had it just run, the bit cleared above was
	 * its own, and it is put back.
	 */
	smp_mb__after_atomic();
	if (ptmark_shmem_keeps_unevictable(inode))
		mapping_set_unevictable(mapping);
	else
		ptmark_rescue_folios(mapping);
}

/* PTMARK_AS_* of @mapping once @op is done; under the inode lock. */
static u32 ptmark_as_flags_after(struct address_space *mapping, u32 op)
{
	u32 flags = ptmark_compat_as_flags(mapping);

	if (op == PTMARK_UNMOVABLE_SET && !(flags & PTMARK_AS_UNMOVABLE_FLAG)) {
		flags |= PTMARK_AS_UNMOVABLE_FLAG | PTMARK_AS_UNEVICTABLE;
	} else if (op == PTMARK_UNMOVABLE_CLEAR &&
		   (flags & PTMARK_AS_UNMOVABLE_FLAG)) {
		flags &= ~PTMARK_AS_UNMOVABLE_FLAG;
		if (!ptmark_shmem_keeps_unevictable(mapping->host))
			flags &= ~PTMARK_AS_UNEVICTABLE;
	}
	return flags;
}

static long ptmark_unmovable_op(struct file *file,
				struct ptmark_unmovable *args,
				void __user *uarg)
{
	struct address_space *mapping = file->f_mapping;
	struct inode *inode = mapping->host;
	long ret = 0;

	if (!S_ISREG(inode->i_mode) || !shmem_mapping(mapping))
		return -EINVAL;
	/* Changing how every user of the file behaves needs write access. */
	if (args->op != PTMARK_UNMOVABLE_QUERY && !(file->f_mode & FMODE_WRITE))
		return -EPERM;

	/*
	 * The reply goes out before the change is made: a fault on it, the
	 * one error left, then leaves the address space as it was.  Neither
	 * SET nor CLEAR can fail once started, and the inode lock keeps
	 * another caller's change from slipping in between.  Faulting on the
	 * reply with the inode lock held is the order write(2) uses too.
	 */
	inode_lock(inode);
	if (args->op == PTMARK_UNMOVABLE_SET)
		ret = ptmark_may_set_unmovable(mapping);
	if (!ret) {
		args->flag = PTMARK_AS_UNMOVABLE_FLAG;
		args->as_flags = ptmark_as_flags_after(mapping, args->op);
		ret = ptmark_copy_out(uarg, args, sizeof(*args));
	}
	if (!ret && args->op == PTMARK_UNMOVABLE_SET &&
	    !ptmark_compat_mapping_unmovable(mapping))
		ptmark_make_unmovable(mapping);
	else if (!ret && args->op == PTMARK_UNMOVABLE_CLEAR)
		ptmark_clear_unmovable(mapping);
	inode_unlock(inode);
	return ret;
}

/*
 * CREATE: a new shmem file, flagged before it has a descriptor.  The fd
 * is installed last, once the reply is out: until then nothing but this
 * function knows of the file, and a failure takes it back whole.
 */
static long ptmark_unmovable_create(struct ptmark_unmovable *args,
				    void __user *uarg)
{
	struct file *file;
	long ret;
	int fd;

	if (args->fd != -1)
		return -EINVAL;
	fd = get_unused_fd_flags(O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fd;
	file = ptmark_compat_shmem_file_noreserve("ptmark-unmovable");
	if (IS_ERR(file)) {
		put_unused_fd(fd);
		return PTR_ERR(file);
	}
	/* What memfd_create() gives its files beyond shmem's defaults. */
	file->f_mode |= FMODE_LSEEK | FMODE_PREAD | FMODE_PWRITE;
	file->f_flags |= O_LARGEFILE;
	ptmark_make_unmovable(file->f_mapping);

	args->fd = fd;
	args->flag = PTMARK_AS_UNMOVABLE_FLAG;
	args->as_flags = ptmark_compat_as_flags(file->f_mapping);
	ret = ptmark_copy_out(uarg, args, sizeof(*args));
	if (ret) {
		fput(file);
		put_unused_fd(fd);
		return ret;
	}
	fd_install(fd, file);
	return 0;
}
#else
static long ptmark_unmovable_op(struct file *file,
				struct ptmark_unmovable *args,
				void __user *uarg)
{
	return -EOPNOTSUPP;
}

static long ptmark_unmovable_create(struct ptmark_unmovable *args,
				    void __user *uarg)
{
	return -EOPNOTSUPP;
}
#endif /* PTMARK_HAVE_UNMOVABLE_FLAG */

long ptmark_ioc_unmovable(struct file *dev, void __user *uarg)
{
	struct ptmark_unmovable args;
	struct file *file;
	long ret;

	ret = ptmark_copy_args(&args, sizeof(args), PTMARK_UNMOVABLE_SIZE_VER0,
			       uarg);
	if (ret)
		return ret;
	if (args.reserved)
		return -EINVAL;
	if (args.op != PTMARK_UNMOVABLE_QUERY &&
	    args.op != PTMARK_UNMOVABLE_SET &&
	    args.op != PTMARK_UNMOVABLE_CLEAR &&
	    args.op != PTMARK_UNMOVABLE_CREATE)
		return -EINVAL;
	if (args.op != PTMARK_UNMOVABLE_QUERY) {
		ret = ptmark_may_change(dev);
		if (ret)
			return ret;
	}
	if (!PTMARK_HAVE_UNMOVABLE_FLAG)
		return -EOPNOTSUPP;
	if (args.op == PTMARK_UNMOVABLE_CREATE)
		return ptmark_unmovable_create(&args, uarg);

	file = fget(args.fd);
	if (!file)
		return -EBADF;
	ret = ptmark_unmovable_op(file, &args, uarg);
	fput(file);
	return ret;
}
