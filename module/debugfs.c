// SPDX-License-Identifier: GPL-2.0
/*
 * /sys/kernel/debug/ptmark/: text a person reads and a test diffs.
 *
 *   features	one "name yes|no" line per PTMARK_FEAT_* bit
 *   stats	one "name value" line per counter
 */
#include <linux/debugfs.h>
#include <linux/seq_file.h>

#include "ptmark.h"

static struct dentry *ptmark_debugfs_dir;

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
	return 0;
}
DEFINE_SHOW_ATTRIBUTE(stats);

int ptmark_debugfs_init(void)
{
	ptmark_debugfs_dir = debugfs_create_dir("ptmark", NULL);
	if (IS_ERR(ptmark_debugfs_dir))
		return PTR_ERR(ptmark_debugfs_dir);

	debugfs_create_file("features", 0400, ptmark_debugfs_dir, NULL,
			    &features_fops);
	debugfs_create_file("stats", 0400, ptmark_debugfs_dir, NULL,
			    &stats_fops);
	return 0;
}

void ptmark_debugfs_exit(void)
{
	debugfs_remove_recursive(ptmark_debugfs_dir);
}
