// SPDX-License-Identifier: GPL-2.0
/*
 * The collection's first program: what the others need of the machine.
 * It loads ptmark.ko when it is not loaded yet (from $PTMARK_KO, or where
 * make install or DKMS put it) and names the directory the ext4-backed
 * tests will use, so that a kselftest runner's log says up front why
 * later tests skip.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ptmark_lib.h"

/* /dev/ptmark answers PTMARK_IOC_INFO, loaded here if need be. */
TEST(module_loaded)
{
	char ko[PTMARK_WHY_LEN];
	struct ptmark_info info;
	int fd = ptmark_open();
	int ret;

	if (fd < 0) {
		if (!ptmark_ko_path(ko, sizeof(ko)))
			SKIP(return, "%s", ko);
		ret = ptmark_module_load(ko, "");
		ASSERT_EQ(0, ret) TH_LOG("loading %s: %s", ko, strerror(-ret));
		fd = ptmark_open();
		ASSERT_LE(0, fd) TH_LOG("%s loaded, but %s: %s", ko,
					PTMARK_DEVICE, strerror(-fd));
		TH_LOG("loaded %s", ko);
	}
	ASSERT_EQ(0, ptmark_get_info(fd, &info));
	EXPECT_EQ(PTMARK_ABI_VERSION, info.abi);
	TH_LOG("ptmark ABI %u on %s, features %#llx", info.abi, info.release,
	       (unsigned long long)info.features);
	close(fd);
}

/* A file can be made and unlinked in the ext4 test directory. */
TEST(ext4_directory)
{
	char why[PTMARK_WHY_LEN];
	const char *dir = ptmark_ext4_dir(why, sizeof(why));
	int fd;

	if (!dir)
		SKIP(return, "%s", why);
	fd = ptmark_ext4_tmpfile(0);
	ASSERT_LE(0, fd) TH_LOG("O_TMPFILE in %s: %s", dir, strerror(errno));
	ASSERT_EQ(1, write(fd, "x", 1));
	close(fd);
	TH_LOG("ext4 tests use %s", dir);
}

PTMARK_HARNESS_MAIN(NULL)
