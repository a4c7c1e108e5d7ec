// SPDX-License-Identifier: GPL-2.0
/*
 * The module itself: its device node, its features word, the debugfs
 * files that mirror it, the extensible-struct rules of its ioctls, and
 * that it unloads and reloads cleanly.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ptmark_lib.h"


static const struct {
	uint64_t bit;
	const char *name;
} feature_names[] = {
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
};

#define NR_FEATURES (sizeof(feature_names) / sizeof(feature_names[0]))

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
	EXPECT_EQ(2u << 20, self->info.pmd_size);
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
	EXPECT_EQ(NR_FEATURES, lines);

	for (i = 0; i < NR_FEATURES; i++) {
		bool have = self->info.features & feature_names[i].bit;

		known |= feature_names[i].bit;
		ASSERT_TRUE(text_lookup(text, feature_names[i].name, value,
					sizeof(value)))
			TH_LOG("feature %s missing from debugfs",
			       feature_names[i].name);
		EXPECT_STREQ(have ? "yes" : "no", value)
			TH_LOG("feature %s", feature_names[i].name);
	}
	EXPECT_EQ(0, self->info.features & ~known);
	free(text);
}

/*
 * The features word must be honest about the kernel: check the ones
 * userspace can observe directly against what the kernel does.
 */
TEST_F(dev, features_match_kernel_behaviour)
{
	long page = sysconf(_SC_PAGESIZE);
	struct pm_scan_arg scan = { .size = sizeof(scan) };
	bool have, kernel_has;
	char *p;
	int fd;

	p = mmap(NULL, page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	kernel_has = madvise(p, page, MADV_GUARD_INSTALL) == 0;
	have = self->info.features & PTMARK_FEAT_GUARD;
	EXPECT_EQ(kernel_has, have) TH_LOG("guard: madvise says %d", kernel_has);
	munmap(p, page);

	fd = memfd_create("ptmark", MFD_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, page));
	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	kernel_has = madvise(p, page, MADV_GUARD_INSTALL) == 0;
	have = self->info.features & PTMARK_FEAT_GUARD_FILE;
	EXPECT_EQ(kernel_has, have) TH_LOG("guard_file: madvise says %d",
					   kernel_has);
	munmap(p, page);
	close(fd);

	/* An empty PAGEMAP_SCAN: EINVAL-free only where the ioctl exists. */
	fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	kernel_has = ioctl(fd, PAGEMAP_SCAN, &scan) == 0 || errno != ENOTTY;
	have = self->info.features & PTMARK_FEAT_PAGEMAP_SCAN;
	EXPECT_EQ(kernel_has, have);
	close(fd);

	have = self->info.features & PTMARK_FEAT_THP;
	EXPECT_EQ(access("/sys/kernel/mm/transparent_hugepage", F_OK) == 0,
		  have);
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
		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(2);
		if (open(PTMARK_DEVICE, O_RDWR) >= 0)
			_exit(3);
		_exit(errno == EACCES ? 0 : 4);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

static int delete_module(const char *name, unsigned int flags)
{
	return syscall(SYS_delete_module, name, flags);
}

static int load_module(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -1;
	ret = syscall(SYS_finit_module, fd, "", 0);
	close(fd);
	return ret;
}

/*
 * The module cannot go while a file is open on it, goes cleanly once
 * the last one closes (device and debugfs gone with it), and comes back.
 */
TEST(unload_and_reload)
{
	const char *ko = getenv("PTMARK_KO");
	struct ptmark_info info;
	int fd;

	if (!ko)
		SKIP(return, "PTMARK_KO (path of ptmark.ko) not set");
	PTMARK_REQUIRE_DEVICE(fd);

	errno = 0;
	EXPECT_EQ(-1, delete_module("ptmark", O_NONBLOCK));
	EXPECT_EQ(EWOULDBLOCK, errno);
	EXPECT_EQ(0, ptmark_get_info(fd, &info));
	close(fd);

	ASSERT_EQ(0, delete_module("ptmark", O_NONBLOCK));
	EXPECT_EQ(-ENOENT, ptmark_open());
	EXPECT_EQ(-1, access(PTMARK_DEBUGFS, F_OK));

	ASSERT_EQ(0, load_module(ko));
	fd = ptmark_open();
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, ptmark_get_info(fd, &info));
	close(fd);
}

TEST_HARNESS_MAIN
