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
 * The kernel's only user, guest_memfd, sets the flag on an inode of its
 * own filesystem that it has just made, together with a gfp mask without
 * __GFP_MOVABLE, so that no folio of the file is ever allocated where only
 * movable memory may go (ZONE_MOVABLE, CMA) and none predates the flag.
 * ptmark follows it, with an internal tmpfs mount of its own:
 *  - CREATE makes a fresh memfd-like file on that mount, flags it before
 *    anyone else can see it, and installs a descriptor for it (O_RDWR,
 *    O_CLOEXEC);
 *  - SET and CLEAR take only files of that mount (EINVAL otherwise).
 *    CLEAR undoes exactly what CREATE or SET did: the flag, the
 *    AS_UNEVICTABLE that came with it, and __GFP_MOVABLE.  SET flags a
 *    cleared file again only while it has size 0 and no page cache or
 *    swap entries (EBUSY otherwise).  The size is what makes the check
 *    hold: growing a shmem file takes the inode lock SET holds, and
 *    neither a fault nor fallocate(KEEP_SIZE) nor write(2) adds a folio
 *    without it or past EOF, so no folio can slip in between the check
 *    and the flag.
 *
 * The flag changes what the file does for everyone who has it open or
 * mapped, which is why no file ptmark did not make can get it:
 *  - partial truncation and hole punching no longer zero the cut-off part
 *    of a folio (AS_INACCESSIBLE): after ftruncate() down to a size that
 *    is not page-aligned and up again, or a punch inside a page, the old
 *    bytes read back where zeroes are due.  guest_memfd never exposes
 *    such a folio; a memfd or tmpfs file of someone else's would, to every
 *    sharer.  On ptmark's own files this is the documented behaviour, and
 *    the selftests hold the kernel to it;
 *  - mapping_set_inaccessible() sets AS_UNEVICTABLE too, and the folios
 *    are unmovable and unevictable without being charged to anyone's
 *    RLIMIT_MEMLOCK, as guest_memfd's are: hence CAP_SYS_ADMIN;
 *  - a file of another mount could carry AS_UNEVICTABLE for a reason of
 *    its own (SHM_LOCK, a tmpfs mounted noswap) that CLEAR would have to
 *    tell apart from the flag's; on ptmark's mount nothing else sets it.
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
#include <linux/mount.h>
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
/* ptmark's internal tmpfs: CREATE's files, the only ones SET takes. */
static struct vfsmount *ptmark_unmovable_mnt;

static bool ptmark_own_mapping(struct address_space *mapping)
{
	return !IS_ERR_OR_NULL(ptmark_unmovable_mnt) &&
	       mapping->host->i_sb == ptmark_unmovable_mnt->mnt_sb;
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
 * Can SET flag @mapping, one of ptmark's own?  0 when it already is
 * (nothing to do) or may be; under the inode lock, which keeps the answer
 * true until the flag is set.
 */
static int ptmark_may_set_unmovable(struct address_space *mapping)
{
	if (ptmark_compat_mapping_unmovable(mapping))
		return 0;
	if (i_size_read(mapping->host) || !mapping_empty(mapping))
		return -EBUSY;
	return 0;
}

/*
 * Clear the flag and the AS_UNEVICTABLE that came with it, and give the
 * folios to come their movable mask back.  A mapping without the flag is
 * left alone.  Folios allocated meanwhile stay where they are, which is
 * where movable ones may go too.
 */
static void ptmark_clear_unmovable(struct address_space *mapping)
{
	if (!ptmark_compat_mapping_unmovable(mapping))
		return;
	ptmark_compat_clear_unmovable(mapping);
	mapping_set_gfp_mask(mapping, mapping_gfp_mask(mapping) | __GFP_MOVABLE);
	mapping_clear_unevictable(mapping);
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
		flags &= ~(PTMARK_AS_UNMOVABLE_FLAG | PTMARK_AS_UNEVICTABLE);
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
	if (args->op != PTMARK_UNMOVABLE_QUERY && !ptmark_own_mapping(mapping))
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
	if (IS_ERR(ptmark_unmovable_mnt))
		return PTR_ERR(ptmark_unmovable_mnt);
	fd = get_unused_fd_flags(O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fd;
	file = ptmark_compat_shmem_file_noreserve(ptmark_unmovable_mnt,
						  "ptmark-unmovable");
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

/*
 * The mount CREATE's files live on.  Without it the module still loads,
 * and CREATE answers with the error.  tmpfs is built in, so the type needs
 * no reference held.  Files outlive the module: each holds the mount, and
 * the superblock goes with the last of them.
 */
void ptmark_unmovable_init(void)
{
	struct file_system_type *type;

	/* Without CONFIG_SHMEM "tmpfs" is ramfs, whose files are not shmem. */
	type = IS_ENABLED(CONFIG_SHMEM) ? get_fs_type("tmpfs") : NULL;
	ptmark_unmovable_mnt = type ? kern_mount(type) : ERR_PTR(-EOPNOTSUPP);
}

void ptmark_unmovable_exit(void)
{
	if (!IS_ERR(ptmark_unmovable_mnt))
		kern_unmount(ptmark_unmovable_mnt);
}
#else
void ptmark_unmovable_init(void)
{
}

void ptmark_unmovable_exit(void)
{
}

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
