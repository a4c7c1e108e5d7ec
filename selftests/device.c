// SPDX-License-Identifier: GPL-2.0
/*
 * The module itself: its device node, its features word, the debugfs
 * files that mirror it, the extensible-struct rules of its ioctls, and
 * that it unloads and reloads cleanly.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ptmark_lib.h"

FIXTURE(dev) {
	int fd;
	struct ptmark_info info;
};

FIXTURE_SETUP(dev)
{
	PTMARK_REQUIRE_DEVICE(self->fd);
	ASSERT_EQ(0, ptmark_get_info(self->fd, &self->info));
}

FIXTURE_TEARDOWN(dev)
{
	close(self->fd);
}

/* A root-only character device, as DESIGN.md promises. */
TEST_F(dev, node_is_root_only_chardev)
{
	struct stat st;

	ASSERT_EQ(0, stat(PTMARK_DEVICE, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0600, st.st_mode & 07777);
	EXPECT_EQ(0, st.st_uid);
}

TEST_F(dev, info_describes_running_kernel)
{
	struct utsname uts;

	ASSERT_EQ(0, uname(&uts));
	EXPECT_EQ(PTMARK_ABI_VERSION, self->info.abi);
	EXPECT_EQ(sysconf(_SC_PAGESIZE), self->info.page_size);
	EXPECT_EQ(ptmark_pmd_size(), self->info.pmd_size);
	EXPECT_STREQ(uts.release, self->info.release);
	EXPECT_EQ(sizeof(struct ptmark_info), self->info.size);
}

/*
 * debugfs "features" says the same as the ioctl: every known feature
 * exactly once, "yes" exactly for the bits set, and no bit the
 * header does not name.
 */
TEST_F(dev, features_match_debugfs)
{
	char *text = read_text_file(PTMARK_DEBUGFS "/features");
	uint64_t known = 0;
	unsigned int lines = 0;
	char value[16];
	size_t i;

	ASSERT_NE(NULL, text);
	for (i = 0; i < strlen(text); i++)
		lines += text[i] == '\n';
	EXPECT_EQ(ptmark_nr_features, lines);

	for (i = 0; i < ptmark_nr_features; i++) {
		bool have = self->info.features & ptmark_features[i].bit;

		known |= ptmark_features[i].bit;
		ASSERT_TRUE(text_lookup(text, ptmark_features[i].name, value,
					sizeof(value)))
			TH_LOG("feature %s missing from debugfs",
			       ptmark_features[i].name);
		EXPECT_STREQ(have ? "yes" : "no", value)
			TH_LOG("feature %s", ptmark_features[i].name);
	}
	EXPECT_EQ(0, self->info.features & ~known);
	free(text);
}

/*
 * The features word must be honest about the kernel: every feature
 * userspace can observe, probed as the suites probe it before they
 * decide what to run.
 */
TEST_F(dev, features_match_kernel_behaviour)
{
	struct kernel_probe kernel;

	probe_kernel(&kernel);
	PTMARK_PROBE_AGREES_WITH_MODULE(&kernel);
}

TEST_F(dev, unknown_ioctl_is_enotty)
{
	char buf[64] = { 0 };

	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, _IOWR(PTMARK_IOC_MAGIC, 0x7f, buf), buf));
	EXPECT_EQ(ENOTTY, errno);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, _IOWR('x', 0x00, buf), buf));
	EXPECT_EQ(ENOTTY, errno);
	/* The info verb with the wrong direction bits is a different ioctl. */
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, _IO(PTMARK_IOC_MAGIC, 0x00)));
	EXPECT_EQ(ENOTTY, errno);
}

/* The extensible-struct rules: size bounds, zero tails, bad pointers. */
TEST_F(dev, info_size_rules)
{
	struct {
		struct ptmark_info info;
		char tail[32];
	} big;
	struct ptmark_info small;

	memset(&small, 0, sizeof(small));
	small.size = PTMARK_INFO_SIZE_VER0 - 1;
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, PTMARK_IOC_INFO, &small));
	EXPECT_EQ(EINVAL, errno);

	small.size = 1 << 20;
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, PTMARK_IOC_INFO, &small));
	EXPECT_EQ(EINVAL, errno);

	/* A newer caller's larger struct: fine while the tail is zero ... */
	memset(&big, 0, sizeof(big));
	big.info.size = sizeof(big);
	EXPECT_EQ(0, ioctl(self->fd, PTMARK_IOC_INFO, &big));
	EXPECT_EQ(PTMARK_ABI_VERSION, big.info.abi);
	EXPECT_EQ(0, big.tail[0]);

	/* ... and refused when it asks for something we do not know. */
	memset(&big, 0, sizeof(big));
	big.info.size = sizeof(big);
	big.tail[5] = 1;
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, PTMARK_IOC_INFO, &big));
	EXPECT_EQ(E2BIG, errno);

	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, PTMARK_IOC_INFO, NULL));
	EXPECT_EQ(EFAULT, errno);
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->fd, PTMARK_IOC_INFO, (void *)8));
	EXPECT_EQ(EFAULT, errno);
}

/* Each ioctl counts once, and a failed one once more as an error. */
TEST_F(dev, stats_count_ioctls)
{
	long long calls = ptmark_stat("ioctls");
	long long errors = ptmark_stat("ioctl_errors");
	struct ptmark_info info;

	ASSERT_LE(0, calls);
	ASSERT_LE(0, errors);
	ASSERT_EQ(0, ptmark_get_info(self->fd, &info));
	EXPECT_EQ(calls + 1, ptmark_stat("ioctls"));
	EXPECT_EQ(errors, ptmark_stat("ioctl_errors"));
	EXPECT_EQ(-1, ioctl(self->fd, PTMARK_IOC_INFO, NULL));
	EXPECT_EQ(calls + 2, ptmark_stat("ioctls"));
	EXPECT_EQ(errors + 1, ptmark_stat("ioctl_errors"));
}

/* An unprivileged user cannot open the device at all. */
TEST_F(dev, non_root_open_refused)
{
	int status;
	pid_t pid;

	if (geteuid() != 0)
		SKIP(return, "needs root to drop to another user");
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (become_nobody())
			_exit(2);
		if (open(PTMARK_DEVICE, O_RDWR) >= 0)
			_exit(3);
		_exit(errno == EACCES ? 0 : 4);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/*
 * The module cannot go while a file is open on it, goes cleanly once
 * the last one closes (device and debugfs gone with it), and comes back.
 */
TEST(unload_and_reload)
{
	char ko[PTMARK_WHY_LEN];
	struct ptmark_info info;
	int fd;

	if (!ptmark_ko_path(ko, sizeof(ko)))
		SKIP(return, "%s", ko);
	PTMARK_REQUIRE_DEVICE(fd);

	EXPECT_EQ(-EWOULDBLOCK, ptmark_module_unload());
	EXPECT_EQ(0, ptmark_get_info(fd, &info));
	close(fd);

	ASSERT_EQ(0, ptmark_module_unload());
	EXPECT_EQ(-ENOENT, ptmark_open());
	EXPECT_EQ(-1, access(PTMARK_DEBUGFS, F_OK));

	ASSERT_EQ(0, ptmark_module_load(ko, ""));
	fd = ptmark_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, ptmark_get_info(fd, &info));
	close(fd);
}

PTMARK_HARNESS_MAIN(NULL)
