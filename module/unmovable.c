// SPDX-License-Identifier: GPL-2.0
/*
 * PTMARK_IOC_UNMOVABLE: set, clear and query the unmovable flag of a
 * shmem file's address space.
 *
 * Folios of an "unmovable" address space are not migrated: in 7.3,
 * move_to_new_folio() (mm/migrate.c) answers -EOPNOTSUPP for them, and the
 * compaction migrate scanner (isolate_migratepages_block() in
 * mm/compaction.c) does not isolate them when they sit on the unevictable
 * LRU.  6.8 to 6.10 call the flag AS_UNMOVABLE; from 6.11 AS_INACCESSIBLE
 * carries the meaning, and it also makes truncate_inode_partial_folio()
 * (mm/truncate.c) skip zeroing the cut-off part of a partial folio.  The
 * kernel's only user, guest_memfd, sets the flag on an inode it has just
 * made; ptmark sets it on a live shmem file so that migration, compaction
 * and truncation can be pointed at such folios from userspace.
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
 *  - The folios stop being movable for memory offlining, CMA and
 *    compaction.  That is the point for a test file, but not for the page
 *    cache of a file other users read.
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
 * Wait for migrations of @mapping's folios that may have tested the flag
 * before it was set.  Migration holds the source folio's lock from the
 * test in move_to_new_folio() until the folio has been replaced, and the
 * destination's until it is mapped: once each folio now in the page cache
 * has been locked once, no move that missed the flag is still under way.
 */
static void ptmark_wait_for_migrations(struct address_space *mapping)
{
	struct folio_batch fbatch;
	pgoff_t index = 0;
	unsigned int i;

	folio_batch_init(&fbatch);
	while (filemap_get_folios(mapping, &index, ULONG_MAX, &fbatch)) {
		for (i = 0; i < folio_batch_count(&fbatch); i++) {
			folio_lock(fbatch.folios[i]);
			folio_unlock(fbatch.folios[i]);
		}
		folio_batch_release(&fbatch);
		cond_resched();
	}
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
 * Set the flag, and with it AS_UNEVICTABLE (again, should SHM_UNLOCK have
 * taken that away meanwhile).
 */
static void ptmark_set_unmovable(struct address_space *mapping)
{
	bool was_set = ptmark_compat_mapping_unmovable(mapping);

	ptmark_compat_set_unmovable(mapping);
	/*
	 * A folio isolated for migration before this point is tested again
	 * under its lock before it is moved: it fails from now on, or its
	 * move is waited for here.
	 */
	if (!was_set)
		ptmark_wait_for_migrations(mapping);
}

/*
 * Clear the flag and the AS_UNEVICTABLE that came with it, unless shmem
 * wants that for a reason of its own.  A mapping without the flag is left
 * alone: its AS_UNEVICTABLE, if any, is not ours.
 */
static void ptmark_clear_unmovable(struct address_space *mapping)
{
	struct inode *inode = mapping->host;

	if (!ptmark_compat_mapping_unmovable(mapping))
		return;
	ptmark_compat_clear_unmovable(mapping);
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

	if (op == PTMARK_UNMOVABLE_SET) {
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
	long ret;

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
	args->flag = PTMARK_AS_UNMOVABLE_FLAG;
	args->as_flags = ptmark_as_flags_after(mapping, args->op);
	ret = ptmark_copy_out(uarg, args, sizeof(*args));
	if (!ret && args->op == PTMARK_UNMOVABLE_SET)
		ptmark_set_unmovable(mapping);
	else if (!ret && args->op == PTMARK_UNMOVABLE_CLEAR)
		ptmark_clear_unmovable(mapping);
	inode_unlock(inode);
	return ret;
}
#else
static long ptmark_unmovable_op(struct file *file,
				struct ptmark_unmovable *args,
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
	    args.op != PTMARK_UNMOVABLE_CLEAR)
		return -EINVAL;
	if (args.op != PTMARK_UNMOVABLE_QUERY) {
		ret = ptmark_may_change(dev);
		if (ret)
			return ret;
	}
	if (!PTMARK_HAVE_UNMOVABLE_FLAG)
		return -EOPNOTSUPP;

	file = fget(args.fd);
	if (!file)
		return -EBADF;
	ret = ptmark_unmovable_op(file, &args, uarg);
	fput(file);
	return ret;
}
