/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Declarations shared by the files of ptmark.ko.
 */
#ifndef _PTMARK_H
#define _PTMARK_H

#include <linux/atomic.h>
#include <linux/types.h>
#include <linux/ptmark.h>

/* Counters shown in debugfs "stats"; one per event worth knowing about. */
struct ptmark_stats {
	atomic64_t ioctls;
	atomic64_t ioctl_errors;
};

extern struct ptmark_stats ptmark_stats;

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

int ptmark_debugfs_init(void);
void ptmark_debugfs_exit(void);

#endif /* _PTMARK_H */
