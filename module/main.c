// SPDX-License-Identifier: GPL-2.0
/*
 * ptmark: install and inspect special page-table states of user memory.
 *
 * This file owns the misc device /dev/ptmark, the ioctl dispatch and the
 * features word; each verb lives in a file of its own.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/string.h>
#include <linux/uaccess.h>
#include <linux/utsname.h>

#include "compat.h"
#include "ptmark.h"

struct ptmark_stats ptmark_stats;

const struct ptmark_feature_name ptmark_feature_names[] = {
	{ PTMARK_FEAT_GUARD,		"guard" },
	{ PTMARK_FEAT_GUARD_FILE,	"guard_file" },
	{ PTMARK_FEAT_UFFD_WP,		"uffd_wp" },
	{ PTMARK_FEAT_UFFD_WP_MARKER,	"uffd_wp_marker" },
	{ PTMARK_FEAT_POISON_MARKER,	"poison_marker" },
	{ PTMARK_FEAT_PAGEMAP_SCAN,	"pagemap_scan" },
	{ PTMARK_FEAT_PAGEMAP_GUARD,	"pagemap_guard" },
	{ PTMARK_FEAT_SOFT_DIRTY,	"soft_dirty" },
	{ PTMARK_FEAT_THP,		"thp" },
	{ PTMARK_FEAT_MIGRATION,	"migration" },
	{ PTMARK_FEAT_AS_UNMOVABLE,	"as_unmovable" },
	{ PTMARK_FEAT_AS_INACCESSIBLE,	"as_inaccessible" },
	{ PTMARK_FEAT_HUGETLB,		"hugetlb" },
	{ PTMARK_FEAT_GUARD_IOCTL,	"guard_ioctl" },
	{ PTMARK_FEAT_INJECT,		"inject" },
	{ PTMARK_FEAT_PIN,		"pin" },
	{ PTMARK_FEAT_HUGE_PFNMAP,	"huge_pfnmap" },
	{ PTMARK_FEAT_NETLINK,		"netlink" },
	{ PTMARK_FEAT_UFFD_RWP,		"uffd_rwp" },
	{ PTMARK_FEAT_CONT_PTE,		"cont_pte" },
	{ }
};

u64 ptmark_features(void)
{
	u64 f = 0;

	if (PTMARK_HAVE_GUARD)
		f |= PTMARK_FEAT_GUARD;
	if (PTMARK_HAVE_GUARD_FILE)
		f |= PTMARK_FEAT_GUARD_FILE;
	if (PTMARK_HAVE_UFFD_WP)
		f |= PTMARK_FEAT_UFFD_WP;
	if (PTMARK_HAVE_UFFD_WP_MARKER)
		f |= PTMARK_FEAT_UFFD_WP_MARKER;
	if (PTMARK_HAVE_POISON_MARKER)
		f |= PTMARK_FEAT_POISON_MARKER;
	if (PTMARK_HAVE_PAGEMAP_SCAN)
		f |= PTMARK_FEAT_PAGEMAP_SCAN;
	if (PTMARK_HAVE_PAGEMAP_GUARD)
		f |= PTMARK_FEAT_PAGEMAP_GUARD;
	if (PTMARK_HAVE_SOFT_DIRTY)
		f |= PTMARK_FEAT_SOFT_DIRTY;
	if (PTMARK_HAVE_THP)
		f |= PTMARK_FEAT_THP;
	if (PTMARK_HAVE_MIGRATION)
		f |= PTMARK_FEAT_MIGRATION;
	if (PTMARK_HAVE_AS_UNMOVABLE)
		f |= PTMARK_FEAT_AS_UNMOVABLE;
	if (PTMARK_HAVE_AS_INACCESSIBLE)
		f |= PTMARK_FEAT_AS_INACCESSIBLE;
	if (PTMARK_HAVE_HUGETLB)
		f |= PTMARK_FEAT_HUGETLB;
	if (PTMARK_HAVE_GUARD)
		f |= PTMARK_FEAT_GUARD_IOCTL;
	if (ptmark_inject_allowed())
		f |= PTMARK_FEAT_INJECT;
	/* pin_user_pages*() are exported by every kernel ptmark supports. */
	f |= PTMARK_FEAT_PIN;
	if (PTMARK_HAVE_HUGE_PFNMAP)
		f |= PTMARK_FEAT_HUGE_PFNMAP;
	if (PTMARK_HAVE_NETLINK)
		f |= PTMARK_FEAT_NETLINK;
	if (ptmark_compat_uffd_rwp())
		f |= PTMARK_FEAT_UFFD_RWP;
	if (PTMARK_HAVE_CONT_PTE)
		f |= PTMARK_FEAT_CONT_PTE;
	return f;
}

/*
 * Copy an extensible ioctl struct in.  Its first field is the __u32 size
 * the caller was built with: anything from @minsize up is accepted, the
 * tail the caller does not know is zero-filled, and a tail we do not know
 * must be zero (copy_struct_from_user() says -E2BIG otherwise).
 */
int ptmark_copy_args(void *karg, size_t ksize, size_t minsize,
		     const void __user *uarg)
{
	u32 usize;

	if (get_user(usize, (const u32 __user *)uarg))
		return -EFAULT;
	if (usize < minsize || usize > PAGE_SIZE)
		return -EINVAL;
	return copy_struct_from_user(karg, ksize, uarg, usize);
}

/* Copy a struct back out, no more of it than the caller said it knows. */
int ptmark_copy_out(void __user *uarg, const void *karg, size_t ksize)
{
	u32 usize;

	if (get_user(usize, (const u32 __user *)uarg))
		return -EFAULT;
	if (copy_to_user(uarg, karg, min_t(size_t, usize, ksize)))
		return -EFAULT;
	return 0;
}

/* Count an ioctl of /dev/ptmark or of a session in "stats"; returns @ret. */
long ptmark_count_ioctl(long ret)
{
	atomic64_inc(&ptmark_stats.ioctls);
	if (ret < 0)
		atomic64_inc(&ptmark_stats.ioctl_errors);
	return ret;
}

static long ptmark_ioc_info(void __user *uarg)
{
	struct ptmark_info info;
	int ret;

	ret = ptmark_copy_args(&info, sizeof(info), PTMARK_INFO_SIZE_VER0,
			       uarg);
	if (ret)
		return ret;

	info.abi = PTMARK_ABI_VERSION;
	info.features = ptmark_features();
	info.page_size = PAGE_SIZE;
	info.pmd_size = PMD_SIZE;
	strscpy(info.release, init_utsname()->release, sizeof(info.release));
	return ptmark_copy_out(uarg, &info, sizeof(info));
}

/*
 * The size bits of an ioctl number are not part of the match: the struct
 * carries its own size so that it can grow without a new number.
 */
#define PTMARK_IOC_MATCH(cmd)	((cmd) & ~(_IOC_SIZEMASK << _IOC_SIZESHIFT))

static long ptmark_ioctl(struct file *file, unsigned int cmd,
			 unsigned long arg)
{
	void __user *uarg = (void __user *)arg;
	long ret;

	switch (PTMARK_IOC_MATCH(cmd)) {
	case PTMARK_IOC_MATCH(PTMARK_IOC_INFO):
		ret = ptmark_ioc_info(uarg);
		break;
	case PTMARK_IOC_MATCH(PTMARK_IOC_SCAN):
		ret = ptmark_ioc_scan(file, uarg);
		break;
	case PTMARK_IOC_MATCH(PTMARK_IOC_MARKER):
		ret = ptmark_ioc_marker(file, uarg);
		break;
	case PTMARK_IOC_MATCH(PTMARK_IOC_UNMOVABLE):
		ret = ptmark_ioc_unmovable(file, uarg);
		break;
	case PTMARK_IOC_MATCH(PTMARK_IOC_PIN):
		ret = ptmark_ioc_pin(file, uarg);
		break;
	default:
		return -ENOTTY;
	}

	return ptmark_count_ioctl(ret);
}

static const struct file_operations ptmark_fops = {
	.owner		= THIS_MODULE,
	.unlocked_ioctl	= ptmark_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.mmap		= ptmark_mmap,
	.get_unmapped_area = PTMARK_GET_UNMAPPED_AREA,
};

static struct miscdevice ptmark_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= "ptmark",
	.fops	= &ptmark_fops,
	.mode	= 0600,
};

static int __init ptmark_init(void)
{
	int ret;

	ptmark_debugfs_init();
	ptmark_unmovable_init();

	ret = ptmark_netlink_init();
	if (ret)
		goto out_unmovable;

	ret = misc_register(&ptmark_misc);
	if (ret)
		goto out_netlink;
	pr_info("loaded, abi %d, features %#llx\n", PTMARK_ABI_VERSION,
		ptmark_features());
	return 0;

out_netlink:
	ptmark_netlink_exit();
out_unmovable:
	ptmark_unmovable_exit();
	ptmark_debugfs_exit();
	return ret;
}

static void __exit ptmark_exit(void)
{
	misc_deregister(&ptmark_misc);
	ptmark_netlink_exit();
	ptmark_unmovable_exit();
	ptmark_debugfs_exit();
}

module_init(ptmark_init);
module_exit(ptmark_exit);

MODULE_DESCRIPTION("Install and inspect special page-table states of user memory");
/* A test module: a splat while it is loaded carries the test taint. */
MODULE_INFO(test, "Y");
MODULE_LICENSE("GPL");
