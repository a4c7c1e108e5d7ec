// SPDX-License-Identifier: GPL-2.0
/*
 * Unmovable address spaces: PTMARK_IOC_UNMOVABLE puts the flag guest_memfd
 * relies on (AS_INACCESSIBLE from 6.11, AS_UNMOVABLE in 6.8 to 6.10) on a
 * shmem file of its own before its first page - a new one it makes
 * (CREATE), or one of those emptied and cleared (SET) - and these tests
 * hold the module and the kernel to what that means:
 *
 *  - move_pages(2), mbind(2) with MPOL_MF_MOVE and migrate_pages(2) leave
 *    the file's folios where they are, with the results mm/migrate.c and
 *    mm/mempolicy.c give for folios that fail to move; the same file
 *    without the flag, or with it cleared again, migrates;
 *  - compaction (vm.compact_memory) does not move them;
 *  - truncation, hole punching and refaulting racing compaction and
 *    migration of such folios, whose mapping only the folio lock keeps
 *    alive, leave no kernel splat;
 *  - partial truncation no longer zeroes the cut-off bytes (AS_INACCESSIBLE,
 *    mm/truncate.c) - the reason SET and CLEAR refuse every file the
 *    module did not make, memfds and tmpfs files included;
 *  - SET refuses a file that has a size or pages, CLEAR gives back
 *    exactly what the flag took, and the ioctl refuses what is not a
 *    regular shmem file and bad arguments, leaving nothing changed when
 *    it fails.
 *
 * Where pages are is judged three ways: by what the migration call
 * returns, by move_pages(nodes = NULL), and by the pfns ptmark's scan
 * shows root.  A move_pages() that fails to migrate returns the number of
 * pages left behind and writes no status for them (do_pages_move() in 7.3),
 * so its status array alone proves nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/magic.h>
#include <numa.h>
#include <numaif.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ptmark_lib.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE	23
#endif
#ifndef MFD_HUGETLB
#define MFD_HUGETLB		0x0004U
#endif

/* Pages of the region each migration test moves. */
#define NR_PAGES		64
/* Pages of the file the race tests churn, and how long each runs. */
#define STRESS_PAGES		256
#define STRESS_SECONDS		6
/* What move_pages() status entries hold until the kernel writes them. */
#define STATUS_UNWRITTEN	(-4242)
/* Bits in the node masks passed to mbind() and migrate_pages(). */
#define MASK_BITS		(8 * sizeof(unsigned long))

static size_t page_size(void)
{
	return sysconf(_SC_PAGESIZE);
}

/* A new memfd with the flag on from birth (CREATE): the fd or -errno. */
static int flagged_memfd(int dev)
{
	struct ptmark_unmovable u;
	int ret = ptmark_unmovable_op(dev, -1, PTMARK_UNMOVABLE_CREATE, &u);

	return ret ? ret : u.fd;
}

/*
 * A file CREATE made, its flag cleared again: empty, the only kind SET
 * takes.  The fd or -errno.
 */
static int cleared_memfd(int dev)
{
	int fd = flagged_memfd(dev), ret;

	if (fd < 0)
		return fd;
	ret = ptmark_unmovable_op(dev, fd, PTMARK_UNMOVABLE_CLEAR, NULL);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

/* A new memfd without it: the fd or -errno. */
static int plain_memfd(const char *name)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

/* PTMARK_AS_* of @fd's address space, or -errno. */
static long as_flags_of(int dev, int fd)
{
	struct ptmark_unmovable u;
	int ret = ptmark_unmovable_op(dev, fd, PTMARK_UNMOVABLE_QUERY, &u);

	return ret ? ret : (long)u.as_flags;
}

static int set_flag(int dev, int fd, bool on)
{
	return ptmark_unmovable_op(dev, fd, on ? PTMARK_UNMOVABLE_SET :
				   PTMARK_UNMOVABLE_CLEAR, NULL);
}

/* The PTMARK_AS_* bit the module must answer with on this kernel. */
static __u32 expected_flag(const struct ptmark_info *info)
{
	if (info->features & PTMARK_FEAT_AS_INACCESSIBLE)
		return PTMARK_AS_INACCESSIBLE;
	if (info->features & PTMARK_FEAT_AS_UNMOVABLE)
		return PTMARK_AS_UNMOVABLE;
	return 0;
}

/*
 * Set @flag_out to the kernel's unmovable bit, or skip the test when the
 * kernel has none - after checking the ioctl says so.
 */
#define REQUIRE_UNMOVABLE(dev, flag_out)				\
	do {								\
		struct ptmark_info __info;				\
		int __fd;						\
									\
		ASSERT_EQ(0, ptmark_get_info(dev, &__info));		\
		(flag_out) = expected_flag(&__info);			\
		if (!(flag_out)) {					\
			__fd = memfd_create("ptmark-noflag", MFD_CLOEXEC); \
			ASSERT_LE(0, __fd);				\
			ASSERT_EQ(-EOPNOTSUPP,				\
				  ptmark_unmovable_op(dev, __fd,		\
					       PTMARK_UNMOVABLE_QUERY, NULL)); \
			close(__fd);					\
			SKIP(return, "kernel has neither AS_INACCESSIBLE nor AS_UNMOVABLE"); \
		}							\
	} while (0)

/* A memfd of nr pages mapped MAP_SHARED, and arrays for looking at it. */
struct region {
	int fd;
	char *addr;
	size_t nr;
	void **pages;
	int *nodes;
	int *status;
	uint64_t *pfns;
};

/* The region of the memfd @fd (plain_memfd(), flagged_memfd()), or -errno. */
static int region_create(struct region *r, int fd, size_t nr)
{
	size_t i;

	memset(r, 0, sizeof(*r));
	r->fd = fd;
	if (r->fd < 0)
		return fd;
	r->nr = nr;
	if (ftruncate(r->fd, nr * page_size()))
		return -errno;
	r->addr = mmap(NULL, nr * page_size(), PROT_READ | PROT_WRITE,
		       MAP_SHARED, r->fd, 0);
	if (r->addr == MAP_FAILED) {
		r->addr = NULL;
		return -errno;
	}
	r->pages = calloc(nr, sizeof(*r->pages));
	r->nodes = calloc(nr, sizeof(*r->nodes));
	r->status = calloc(nr, sizeof(*r->status));
	r->pfns = calloc(nr, sizeof(*r->pfns));
	if (!r->pages || !r->nodes || !r->status || !r->pfns)
		return -ENOMEM;
	for (i = 0; i < nr; i++)
		r->pages[i] = r->addr + i * page_size();
	return 0;
}

static void region_destroy(struct region *r)
{
	if (r->addr)
		munmap(r->addr, r->nr * page_size());
	if (r->fd > 0)
		close(r->fd);
	free(r->pages);
	free(r->nodes);
	free(r->status);
	free(r->pfns);
	memset(r, 0, sizeof(*r));
}

/* mbind() [@addr, @addr + @len) to @node with @flags; 0 or -errno. */
static int bind_to_node_flags(void *addr, size_t len, int node,
			      unsigned int flags)
{
	unsigned long mask = 1UL << node;

	if (mbind(addr, len, MPOL_BIND, &mask, MASK_BITS, flags))
		return -errno;
	return 0;
}

static int bind_to_node(void *addr, size_t len, int node)
{
	return bind_to_node_flags(addr, len, node, 0);
}

static int region_bind(struct region *r, int node, unsigned int flags)
{
	return bind_to_node_flags(r->addr, r->nr * page_size(), node, flags);
}

static void region_touch(struct region *r, size_t i)
{
	r->addr[i * page_size()] = (char)(i + 1);
}

/* Fault every page of the region in on @node; 0 or -errno. */
static int region_fault_on(struct region *r, int node)
{
	size_t i;
	int ret = region_bind(r, node, 0);

	for (i = 0; !ret && i < r->nr; i++)
		region_touch(r, i);
	return ret;
}

/* Pages of @r on @node by move_pages(nodes = NULL), or -errno. */
static long pages_on_node(struct region *r, int node)
{
	long on = 0;
	size_t i;

	if (move_pages(0, r->nr, r->pages, NULL, r->status, 0))
		return -errno;
	for (i = 0; i < r->nr; i++)
		on += r->status[i] == node;
	return on;
}

/*
 * The pfn of every page of @r from ptmark's scan (root sees pfns); 0, or
 * -errno, -EIO when a page is not mapped.
 */
static int region_pfns(int dev, struct region *r, uint64_t *pfns)
{
	struct ptmark_record *recs = calloc(r->nr, sizeof(*recs));
	size_t i;
	int ret;

	if (!recs)
		return -ENOMEM;
	ret = ptmark_scan_dense(dev, r->addr, r->nr, recs);
	for (i = 0; !ret && i < r->nr; i++) {
		if (recs[i].kind != PTMARK_KIND_PRESENT || !recs[i].pfn)
			ret = -EIO;
		pfns[i] = recs[i].pfn;
	}
	free(recs);
	return ret;
}

static size_t same_pfns(const uint64_t *a, const uint64_t *b, size_t nr)
{
	size_t i, same = 0;

	for (i = 0; i < nr; i++)
		same += a[i] == b[i];
	return same;
}

/* Counter @name of /proc/vmstat, or -1. */
static long long vmstat(const char *name)
{
	return text_file_value("/proc/vmstat", name);
}

/* ------------------------------------------------------------------ */

FIXTURE(unmovable) {
	int dev;
	__u32 flag;
	struct region r;	/* ptmark's, cleared, with a size: no SET */
	struct region f;	/* flagged from birth */
	int empty;		/* ptmark's, cleared, size 0: SET takes it */
};

FIXTURE_SETUP(unmovable)
{
	PTMARK_REQUIRE_DEVICE(self->dev);
	REQUIRE_UNMOVABLE(self->dev, self->flag);
	ASSERT_EQ(0, region_create(&self->r, cleared_memfd(self->dev),
				   NR_PAGES));
	ASSERT_EQ(0, region_create(&self->f, flagged_memfd(self->dev),
				   NR_PAGES));
	self->empty = cleared_memfd(self->dev);
	ASSERT_LE(0, self->empty);
}

FIXTURE_TEARDOWN(unmovable)
{
	close(self->empty);
	region_destroy(&self->f);
	region_destroy(&self->r);
	close(self->dev);
}

/*
 * SET, QUERY and CLEAR answer with the kernel's bit and the address
 * space's flags after the operation; SET on an empty file brings
 * AS_UNEVICTABLE along, as the kernel's setter does, CLEAR takes it away
 * again, and repeating either changes nothing.
 */
TEST_F(unmovable, set_query_clear)
{
	const __u32 both = self->flag | PTMARK_AS_UNEVICTABLE;
	struct ptmark_unmovable u;
	int round;

	ASSERT_EQ(0, ptmark_unmovable_op(self->dev, self->empty,
				  PTMARK_UNMOVABLE_QUERY, &u));
	EXPECT_EQ(self->flag, u.flag);
	EXPECT_EQ(0, u.as_flags);

	for (round = 0; round < 2; round++) {
		ASSERT_EQ(0, ptmark_unmovable_op(self->dev, self->empty,
					  PTMARK_UNMOVABLE_SET, &u));
		EXPECT_EQ(sizeof(u), u.size);
		EXPECT_EQ(self->empty, u.fd);
		EXPECT_EQ(PTMARK_UNMOVABLE_SET, u.op);
		EXPECT_EQ(self->flag, u.flag);
		EXPECT_EQ(both, u.as_flags);
		EXPECT_EQ(0, u.reserved);
		EXPECT_EQ(both, as_flags_of(self->dev, self->empty));
	}
	for (round = 0; round < 2; round++) {
		ASSERT_EQ(0, ptmark_unmovable_op(self->dev, self->empty,
					  PTMARK_UNMOVABLE_CLEAR, &u));
		EXPECT_EQ(self->flag, u.flag);
		EXPECT_EQ(0, u.as_flags);
		EXPECT_EQ(0, as_flags_of(self->dev, self->empty));
	}
}

/* The flag belongs to the file: another open of it sees it too. */
TEST_F(unmovable, flag_belongs_to_file)
{
	int fd;

	fd = reopen_fd(self->empty, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, set_flag(self->dev, fd, true));
	EXPECT_EQ(self->flag | PTMARK_AS_UNEVICTABLE,
		  as_flags_of(self->dev, self->empty));
	ASSERT_EQ(0, set_flag(self->dev, self->empty, false));
	EXPECT_EQ(0, as_flags_of(self->dev, fd));
	close(fd);
}

/*
 * The scan reports the flag in as_flags of every record of the VMA; once
 * CLEARed, the flag cannot come back on a file with pages.
 */
TEST_F(unmovable, scan_shows_flag)
{
	struct ptmark_record recs[NR_PAGES];
	long want;
	int round;
	size_t i;

	for (i = 0; i < NR_PAGES; i++)
		region_touch(&self->f, i);
	for (round = 0; round < 2; round++) {
		want = as_flags_of(self->dev, self->f.fd);
		ASSERT_EQ(round ? 0 : self->flag | PTMARK_AS_UNEVICTABLE, want);
		ASSERT_EQ(0, ptmark_scan_dense(self->dev, self->f.addr,
					       NR_PAGES, recs));
		for (i = 0; i < NR_PAGES; i++) {
			ASSERT_EQ(PTMARK_KIND_PRESENT, recs[i].kind);
			ASSERT_EQ(want, recs[i].as_flags)
				TH_LOG("page %zu, round %d", i, round);
		}
		ASSERT_EQ(0, set_flag(self->dev, self->f.fd, false));
		EXPECT_EQ(-EBUSY, set_flag(self->dev, self->f.fd, true));
	}
}

/*
 * CREATE gives a new descriptor (O_RDWR, close-on-exec) of an empty
 * regular tmpfs file, flagged already, that takes everything a memfd
 * takes: ftruncate, mmap, fallocate, read and write.
 */
TEST_F(unmovable, create_makes_flagged_memfd)
{
	const __u32 both = self->flag | PTMARK_AS_UNEVICTABLE;
	struct ptmark_unmovable u;
	struct statfs sfs;
	struct stat st;
	char *p, c = 0;
	int fd;

	ASSERT_EQ(0, ptmark_unmovable_op(self->dev, -1,
					 PTMARK_UNMOVABLE_CREATE, &u));
	fd = u.fd;
	ASSERT_LE(0, fd);
	EXPECT_EQ(sizeof(u), u.size);
	EXPECT_EQ(PTMARK_UNMOVABLE_CREATE, u.op);
	EXPECT_EQ(self->flag, u.flag);
	EXPECT_EQ(both, u.as_flags);
	EXPECT_EQ(both, as_flags_of(self->dev, fd));
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD));
	EXPECT_EQ(O_RDWR, fcntl(fd, F_GETFL) & O_ACCMODE);
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_TRUE(S_ISREG(st.st_mode));
	EXPECT_EQ(0, st.st_size);
	ASSERT_EQ(0, fstatfs(fd, &sfs));
	EXPECT_EQ(TMPFS_MAGIC, sfs.f_type);

	ASSERT_EQ(0, ftruncate(fd, 2 * page_size()));
	ASSERT_EQ(0, fallocate(fd, 0, 0, page_size()));
	p = mmap(NULL, 2 * page_size(), PROT_READ | PROT_WRITE, MAP_SHARED,
		 fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	p[page_size()] = 'x';
	ASSERT_EQ(1, pread(fd, &c, 1, page_size()));
	EXPECT_EQ('x', c);
	ASSERT_EQ(1, pwrite(fd, "y", 1, 0));
	EXPECT_EQ('y', p[0]);
	EXPECT_EQ(both, as_flags_of(self->dev, fd));
	munmap(p, 2 * page_size());
	close(fd);
}

/*
 * SET refuses (EBUSY) a file that has a size, pages, or pages beyond a
 * zero size, and changes nothing then, by the ioctl's word and by the
 * scan; once truncated to nothing the file takes the flag.
 */
TEST_F(unmovable, set_refuses_file_with_size_or_pages)
{
	struct ptmark_record recs[NR_PAGES];
	size_t i;

	/* A size and no page yet. */
	EXPECT_EQ(-EBUSY, set_flag(self->dev, self->r.fd, true));
	EXPECT_EQ(0, as_flags_of(self->dev, self->r.fd));

	for (i = 0; i < NR_PAGES; i++)
		region_touch(&self->r, i);
	EXPECT_EQ(-EBUSY, set_flag(self->dev, self->r.fd, true));
	EXPECT_EQ(0, as_flags_of(self->dev, self->r.fd));
	ASSERT_EQ(0, ptmark_scan_dense(self->dev, self->r.addr, NR_PAGES,
				       recs));
	for (i = 0; i < NR_PAGES; i++) {
		EXPECT_EQ(PTMARK_KIND_PRESENT, recs[i].kind);
		EXPECT_EQ(0, recs[i].as_flags) TH_LOG("page %zu", i);
	}

	/* Size 0, a page past EOF. */
	ASSERT_EQ(0, fallocate(self->empty, FALLOC_FL_KEEP_SIZE, 0,
			       page_size()));
	EXPECT_EQ(-EBUSY, set_flag(self->dev, self->empty, true));
	EXPECT_EQ(0, as_flags_of(self->dev, self->empty));

	ASSERT_EQ(0, ftruncate(self->r.fd, 0));
	EXPECT_EQ(0, set_flag(self->dev, self->r.fd, true));
	EXPECT_EQ(self->flag | PTMARK_AS_UNEVICTABLE,
		  as_flags_of(self->dev, self->r.fd));
}

/* A read-only open may look, but not change how the file behaves. */
TEST_F(unmovable, readonly_fd_cannot_change)
{
	int ro;

	ro = reopen_fd(self->empty, O_RDONLY);
	ASSERT_LE(0, ro);
	EXPECT_EQ(0, as_flags_of(self->dev, ro));
	EXPECT_EQ(-EPERM, set_flag(self->dev, ro, true));
	EXPECT_EQ(0, as_flags_of(self->dev, self->empty));

	ASSERT_EQ(0, set_flag(self->dev, self->empty, true));
	EXPECT_EQ(-EPERM, set_flag(self->dev, ro, false));
	EXPECT_EQ(self->flag | PTMARK_AS_UNEVICTABLE, as_flags_of(self->dev, ro));
	close(ro);
}

/*
 * The reply is the only thing that can fail after validation: with it in
 * a read-only page the ioctl says EFAULT, and neither SET nor CLEAR may
 * have happened, nor may CREATE have left a descriptor.
 */
TEST_F(unmovable, reply_fault_changes_nothing)
{
	const __u32 both = self->flag | PTMARK_AS_UNEVICTABLE;
	struct ptmark_unmovable *u;
	int on, fds;

	u = mmap(NULL, page_size(), PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, u);
	for (on = 1; on >= 0; on--) {
		ASSERT_EQ(0, mprotect(u, page_size(), PROT_READ | PROT_WRITE));
		u->size = sizeof(*u);
		u->fd = self->empty;
		u->op = on ? PTMARK_UNMOVABLE_SET : PTMARK_UNMOVABLE_CLEAR;
		ASSERT_EQ(0, mprotect(u, page_size(), PROT_READ));
		errno = 0;
		EXPECT_EQ(-1, ioctl(self->dev, PTMARK_IOC_UNMOVABLE, u));
		EXPECT_EQ(EFAULT, errno);
		EXPECT_EQ(on ? 0 : both, as_flags_of(self->dev, self->empty));
		/* Now really make it so, for the opposite test next round. */
		ASSERT_EQ(0, set_flag(self->dev, self->empty, on));
	}

	/* A CREATE that cannot answer leaves no descriptor behind. */
	ASSERT_EQ(0, mprotect(u, page_size(), PROT_READ | PROT_WRITE));
	fds = open_fd_count();
	u->size = sizeof(*u);
	u->fd = -1;
	u->op = PTMARK_UNMOVABLE_CREATE;
	ASSERT_EQ(0, mprotect(u, page_size(), PROT_READ));
	errno = 0;
	EXPECT_EQ(-1, ioctl(self->dev, PTMARK_IOC_UNMOVABLE, u));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(fds, open_fd_count());
	munmap(u, page_size());
}

/* Raw ioctl with @u as is; errno or 0. */
static int raw_unmovable(int dev, void *u)
{
	return ioctl(dev, PTMARK_IOC_UNMOVABLE, u) ? errno : 0;
}

/*
 * Extensible-struct and field rules: too small, unknown ops, reserved
 * bits, an unknown non-zero tail, bad pointers - and nothing changed.
 */
TEST_F(unmovable, bad_arguments)
{
	static const __u32 bad_ops[] = { 4, 0x80000000u, ~0u };
	struct {
		struct ptmark_unmovable u;
		char tail[8];
	} big;
	struct ptmark_unmovable u;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(bad_ops); i++) {
		u = (struct ptmark_unmovable){ .size = sizeof(u),
			.fd = self->r.fd, .op = bad_ops[i] };
		EXPECT_EQ(EINVAL, raw_unmovable(self->dev, &u))
			TH_LOG("op %#x", bad_ops[i]);
	}

	u = (struct ptmark_unmovable){ .size = sizeof(u), .fd = self->empty,
		.op = PTMARK_UNMOVABLE_SET, .reserved = 1 };
	EXPECT_EQ(EINVAL, raw_unmovable(self->dev, &u));

	/* CREATE's fd is an answer only: a caller's value is refused. */
	u = (struct ptmark_unmovable){ .size = sizeof(u), .fd = self->empty,
		.op = PTMARK_UNMOVABLE_CREATE };
	EXPECT_EQ(EINVAL, raw_unmovable(self->dev, &u));
	u.op = PTMARK_UNMOVABLE_SET;

	u.reserved = 0;
	u.size = PTMARK_UNMOVABLE_SIZE_VER0 - 1;
	EXPECT_EQ(EINVAL, raw_unmovable(self->dev, &u));
	u.size = 0;
	EXPECT_EQ(EINVAL, raw_unmovable(self->dev, &u));

	memset(&big, 0, sizeof(big));
	big.u = (struct ptmark_unmovable){ .size = sizeof(big),
		.fd = self->empty, .op = PTMARK_UNMOVABLE_SET };
	big.tail[3] = 1;
	EXPECT_EQ(E2BIG, raw_unmovable(self->dev, &big));

	EXPECT_EQ(EFAULT, raw_unmovable(self->dev, NULL));
	EXPECT_EQ(0, as_flags_of(self->dev, self->empty));

	/* A larger struct with a zero tail is a newer caller: fine. */
	big.tail[3] = 0;
	EXPECT_EQ(0, raw_unmovable(self->dev, &big));
	EXPECT_EQ(self->flag | PTMARK_AS_UNEVICTABLE, big.u.as_flags);
	EXPECT_EQ(0, big.tail[3]);
}

TEST_F(unmovable, bad_fds)
{
	int fd;

	EXPECT_EQ(-EBADF, ptmark_unmovable_op(self->dev, -1, PTMARK_UNMOVABLE_SET,
				       NULL));
	EXPECT_EQ(-EBADF, ptmark_unmovable_op(self->dev, INT_MAX,
				       PTMARK_UNMOVABLE_QUERY, NULL));

	fd = dup(self->r.fd);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, close(fd));
	EXPECT_EQ(-EBADF, ptmark_unmovable_op(self->dev, fd, PTMARK_UNMOVABLE_SET,
				       NULL));

	/* An O_PATH descriptor names the file but opens nothing. */
	fd = reopen_fd(self->r.fd, O_PATH);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-EBADF, ptmark_unmovable_op(self->dev, fd, PTMARK_UNMOVABLE_SET,
				       NULL));
	close(fd);
	EXPECT_EQ(0, as_flags_of(self->dev, self->r.fd));
}

/* Every op on @fd fails with EINVAL. */
static bool refused(int dev, int fd)
{
	return ptmark_unmovable_op(dev, fd, PTMARK_UNMOVABLE_QUERY, NULL) == -EINVAL &&
	       ptmark_unmovable_op(dev, fd, PTMARK_UNMOVABLE_SET, NULL) == -EINVAL &&
	       ptmark_unmovable_op(dev, fd, PTMARK_UNMOVABLE_CLEAR, NULL) == -EINVAL;
}

/*
 * What is not a regular shmem file is refused: a pipe, device nodes (on
 * devtmpfs, itself shmem), a tmpfs directory, a hugetlbfs memfd.
 */
TEST_F(unmovable, refuses_non_shmem)
{
	struct statfs sfs;
	int pipefd[2], fd;

	ASSERT_EQ(0, pipe(pipefd));
	EXPECT_TRUE(refused(self->dev, pipefd[0])) TH_LOG("pipe");
	EXPECT_TRUE(refused(self->dev, pipefd[1])) TH_LOG("pipe");
	close(pipefd[0]);
	close(pipefd[1]);

	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_TRUE(refused(self->dev, fd)) TH_LOG("/dev/null");
	close(fd);

	EXPECT_TRUE(refused(self->dev, self->dev)) TH_LOG(PTMARK_DEVICE);

	fd = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	/* The test VM mounts a tmpfs on /tmp: a shmem directory. */
	ASSERT_EQ(0, fstatfs(fd, &sfs));
	ASSERT_EQ(TMPFS_MAGIC, sfs.f_type);
	EXPECT_TRUE(refused(self->dev, fd)) TH_LOG("/tmp directory");
	close(fd);

	/* A kernel without hugetlbfs has no such file to refuse. */
	if (!ptmark_hugetlb_size())
		return;
	fd = memfd_create("ptmark-hugetlb", MFD_CLOEXEC | MFD_HUGETLB);
	ASSERT_LE(0, fd) TH_LOG("hugetlb memfd: %s", strerror(errno));
	EXPECT_TRUE(refused(self->dev, fd)) TH_LOG("hugetlb memfd");
	close(fd);
}

/* A regular file of a disk filesystem is refused (the module says why). */
TEST_F(unmovable, refuses_ext4_file)
{
	int fd;

	PTMARK_REQUIRE_EXT4();
	fd = ptmark_ext4_tmpfile(0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ftruncate(fd, page_size()));
	EXPECT_TRUE(refused(self->dev, fd));
	close(fd);
}

/*
 * Partial truncation and hole punching zero the cut-off part of a page
 * (truncate_inode_partial_folio()), except in an AS_INACCESSIBLE mapping:
 * there the old bytes stay, and show again when the file grows.  Returns
 * the byte at offset 200 after cutting at 100, or -errno.
 */
enum cut { CUT_TRUNCATE, CUT_PUNCH };

static int byte_after_cut(int dev, bool flagged, enum cut cut)
{
	unsigned char *buf = malloc(page_size()), b = 0;
	int fd, ret = 0;

	fd = flagged ? flagged_memfd(dev) : plain_memfd("ptmark-cut");
	if (fd < 0 || !buf) {
		free(buf);
		return fd < 0 ? fd : -ENOMEM;
	}
	memset(buf, 0xaa, page_size());
	if (pwrite(fd, buf, page_size(), 0) != (ssize_t)page_size())
		ret = -errno;
	if (!ret && cut == CUT_TRUNCATE &&
	    (ftruncate(fd, 100) || ftruncate(fd, page_size())))
		ret = -errno;
	if (!ret && cut == CUT_PUNCH &&
	    fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 100, 200))
		ret = -errno;
	if (!ret && pread(fd, &b, 1, 200) != 1)
		ret = -EIO;
	close(fd);
	free(buf);
	return ret ? ret : b;
}

TEST_F(unmovable, partial_cut_keeps_bytes)
{
	static const char * const names[] = { "truncate", "punch" };
	enum cut cut;

	if (self->flag != PTMARK_AS_INACCESSIBLE)
		SKIP(return, "only AS_INACCESSIBLE changes truncation");
	for (cut = CUT_TRUNCATE; cut <= CUT_PUNCH; cut++) {
		EXPECT_EQ(0, byte_after_cut(self->dev, false, cut))
			TH_LOG("%s, no flag", names[cut]);
		EXPECT_EQ(0xaa, byte_after_cut(self->dev, true, cut))
			TH_LOG("%s, flagged", names[cut]);
	}
}

/*
 * Folios that reached the LRU while the mapping was unevictable sit on
 * the unevictable list; CLEAR must move them back (the kernel counts each
 * in unevictable_pgs_rescued), or reclaim would never see them again.
 */
TEST_F(unmovable, clear_rescues_unevictable_folios)
{
	long long rescued;
	size_t i;

	if (vmstat("unevictable_pgs_rescued") < 0)
		SKIP(return, "no unevictable_pgs_rescued in /proc/vmstat");
	if (numa_available() < 0 ||
	    (move_pages(0, 0, NULL, NULL, NULL, 0) && errno == ENOSYS))
		SKIP(return, "no move_pages(2) to drain the LRU caches with");

	for (i = 0; i < NR_PAGES; i++)
		region_touch(&self->f, i);
	/*
	 * New folios wait in per-CPU batches before they reach an LRU list;
	 * move_pages() drains them all (lru_cache_disable()).  Moving each
	 * page to the node it is on migrates nothing.
	 */
	ASSERT_EQ(0, move_pages(0, NR_PAGES, self->f.pages, NULL,
				self->f.nodes, 0));
	ASSERT_EQ(0, move_pages(0, NR_PAGES, self->f.pages, self->f.nodes,
				self->f.status, MPOL_MF_MOVE));

	rescued = vmstat("unevictable_pgs_rescued");
	ASSERT_EQ(0, set_flag(self->dev, self->f.fd, false));
	EXPECT_LE(rescued + NR_PAGES, vmstat("unevictable_pgs_rescued"));
}

/*
 * The flag would change what a file does for everyone who has it open or
 * mapped: SET and CLEAR refuse (EINVAL) every shmem file the module did
 * not make, an empty memfd here (a tmpfs mount's file and a SysV segment
 * below), and QUERY still answers for it.  Nothing changed, by the
 * ioctl's word, by the scan of a mapping, and by what the memfd does:
 * its partial truncation zeroes.
 */
TEST_F(unmovable, set_takes_only_its_own_files)
{
	struct ptmark_record rec;
	int memfd;
	char *p;

	memfd = plain_memfd("ptmark-not-ours");
	ASSERT_LE(0, memfd);
	EXPECT_EQ(-EINVAL, set_flag(self->dev, memfd, true))
		TH_LOG("SET took a memfd ptmark did not make");
	EXPECT_EQ(0, as_flags_of(self->dev, memfd));
	EXPECT_EQ(-EINVAL, set_flag(self->dev, memfd, false));
	EXPECT_EQ(0, as_flags_of(self->dev, memfd));

	ASSERT_EQ(0, ftruncate(memfd, page_size()));
	p = mmap(NULL, page_size(), PROT_READ | PROT_WRITE, MAP_SHARED,
		 memfd, 0);
	ASSERT_NE(MAP_FAILED, p);
	memset(p, 0xaa, page_size());
	ASSERT_EQ(0, ptmark_scan_dense(self->dev, p, 1, &rec));
	EXPECT_EQ(PTMARK_KIND_PRESENT, rec.kind);
	EXPECT_EQ(0, rec.as_flags);
	ASSERT_EQ(0, ftruncate(memfd, 100));
	ASSERT_EQ(0, ftruncate(memfd, page_size()));
	EXPECT_EQ(0, p[200]) TH_LOG("partial truncation left the old bytes");
	munmap(p, page_size());
	close(memfd);
}

/*
 * Nor does it take a file whose AS_UNEVICTABLE is someone else's: a tmpfs
 * mounted noswap keeps its files unevictable, and neither SET nor CLEAR
 * may touch that.
 */
TEST_F(unmovable, refuses_noswap_tmpfs_file)
{
	char dir[] = "/tmp/ptmark-noswap.XXXXXX";
	char path[sizeof(dir) + 8];
	int fd;

	ASSERT_NE(NULL, mkdtemp(dir));
	if (mount("ptmark", dir, "tmpfs", 0, "noswap,size=1m")) {
		int err = errno;

		rmdir(dir);
		SKIP(return, "no noswap tmpfs: %s", strerror(err));
	}
	snprintf(path, sizeof(path), "%s/f", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ASSERT_LE(0, fd);
	EXPECT_EQ(PTMARK_AS_UNEVICTABLE, as_flags_of(self->dev, fd));
	EXPECT_EQ(-EINVAL, set_flag(self->dev, fd, true));
	EXPECT_EQ(PTMARK_AS_UNEVICTABLE, as_flags_of(self->dev, fd));
	EXPECT_EQ(-EINVAL, set_flag(self->dev, fd, false));
	EXPECT_EQ(PTMARK_AS_UNEVICTABLE, as_flags_of(self->dev, fd));
	close(fd);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
}

/*
 * A SysV segment (opened through /proc/self/map_files) is not ptmark's:
 * SET and CLEAR refuse it and leave SHM_LOCK's AS_UNEVICTABLE as it is,
 * for SHM_UNLOCK to take away.
 */
TEST_F(unmovable, refuses_shm_segment)
{
	size_t len = 4 * page_size();
	char path[96];
	char *p;
	int id, fd;

	id = shmget(IPC_PRIVATE, len, IPC_CREAT | 0600);
	ASSERT_LE(0, id);
	p = shmat(id, NULL, 0);
	ASSERT_NE((void *)-1, p);
	ASSERT_EQ(0, shmctl(id, IPC_RMID, NULL));
	if (shmctl(id, SHM_LOCK, NULL))
		SKIP(return, "SHM_LOCK: %s", strerror(errno));
	snprintf(path, sizeof(path), "/proc/self/map_files/%lx-%lx",
		 (unsigned long)p, (unsigned long)p + len);
	fd = open(path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("%s: %s", path, strerror(errno));

	EXPECT_EQ(PTMARK_AS_UNEVICTABLE, as_flags_of(self->dev, fd));
	EXPECT_EQ(-EINVAL, set_flag(self->dev, fd, true));
	EXPECT_EQ(PTMARK_AS_UNEVICTABLE, as_flags_of(self->dev, fd));
	EXPECT_EQ(-EINVAL, set_flag(self->dev, fd, false));
	EXPECT_EQ(PTMARK_AS_UNEVICTABLE, as_flags_of(self->dev, fd));
	ASSERT_EQ(0, shmctl(id, SHM_UNLOCK, NULL));
	EXPECT_EQ(0, as_flags_of(self->dev, fd));
	close(fd);
	shmdt(p);
}

struct pfn_page {
	uint64_t pfn;
	char *addr;
};

static int compare_pfn(const void *a, const void *b)
{
	uint64_t x = ((const struct pfn_page *)a)->pfn;
	uint64_t y = ((const struct pfn_page *)b)->pfn;

	return x < y ? -1 : x > y;
}

/*
 * The @k mapped pages of the @nr at @addr with the lowest pfns, lowest
 * first, into @low; 0 or -errno.
 */
static int lowest_pages(int dev, char *addr, size_t nr, size_t k, char **low)
{
	struct ptmark_record *recs = calloc(nr, sizeof(*recs));
	struct pfn_page *pages = calloc(nr, sizeof(*pages));
	size_t i;
	int ret;

	ret = recs && pages ? ptmark_scan_dense(dev, addr, nr, recs) : -ENOMEM;
	for (i = 0; !ret && i < nr; i++) {
		/* Swapped-out pages sort last. */
		pages[i].pfn = recs[i].kind == PTMARK_KIND_PRESENT ?
			       recs[i].pfn : UINT64_MAX;
		pages[i].addr = addr + i * page_size();
	}
	if (!ret)
		qsort(pages, nr, sizeof(*pages), compare_pfn);
	for (i = 0; !ret && i < k; i++)
		low[i] = pages[i].addr;
	free(recs);
	free(pages);
	return ret;
}

/*
 * Free @page and fault in page @i of @r, which the allocator then takes
 * from the page just freed: it waits on this CPU's free lists, first in
 * line.  Freeing a page at a time matters: many frees in a row go back
 * to the buddy allocator.
 */
static int fault_in_place_of(struct region *r, size_t i, char *page)
{
	if (madvise(page, page_size(), MADV_DONTNEED))
		return -errno;
	region_touch(r, i);
	return 0;
}

/*
 * Compaction moves pages from the low end of a zone to free pages found
 * from its high end, in pageblocks that are not wholly free.  So the test
 * fills most of node 0, puts its pages in place of the lowest pages of
 * the fill, the flagged and the unflagged file in turn with anonymous
 * pages it frees again, and then frees half of every PMD-sized block of
 * the fill (a pageblock on x86-64) for compaction to move pages into.
 * The flagged folios must stay; their unflagged twins must move, some at
 * least.  The flagged file is allocated the way guest_memfd's is, without
 * __GFP_MOVABLE: its pages come from unmovable pageblocks, not from the
 * freed anonymous ones, and stay wherever they landed.
 */
TEST_F_TIMEOUT(unmovable, compaction_keeps_flagged_folios, 180)
{
	const size_t chunk = ptmark_pmd_size(), spare = 256UL << 20;
	struct region control, holes;
	long long free_bytes, scanned;
	size_t fill_len, i, moved;
	uint64_t *after;
	cpu_set_t cpus;
	char **low;
	char *fill;

	if (geteuid())
		SKIP(return, "needs root for compaction and pfns");
	if (numa_available() < 0 ||
	    access("/sys/devices/system/node/node0/compact", W_OK))
		SKIP(return, "no per-node compaction (CONFIG_COMPACTION, NUMA)");
	ASSERT_LT(0, numa_node_size64(0, &free_bytes));
	if (free_bytes < (long long)(spare + 16 * chunk))
		SKIP(return, "node 0 has only %lld MiB free", free_bytes >> 20);
	fill_len = (free_bytes - spare) & ~(chunk - 1);

	/* Free and fault on one CPU, whose free lists are used first. */
	CPU_ZERO(&cpus);
	CPU_SET(sched_getcpu(), &cpus);
	ASSERT_EQ(0, sched_setaffinity(0, sizeof(cpus), &cpus));

	fill = mmap(NULL, fill_len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, fill);
	ASSERT_EQ(0, region_create(&control, plain_memfd("ptmark-control"),
				   NR_PAGES));
	ASSERT_EQ(0, region_create(&holes, plain_memfd("ptmark-holes"),
				   NR_PAGES));
	after = calloc(NR_PAGES, sizeof(*after));
	low = calloc(3 * NR_PAGES, sizeof(*low));
	ASSERT_NE(NULL, after);
	ASSERT_NE(NULL, low);
	ASSERT_EQ(0, bind_to_node(fill, fill_len, 0));
	ASSERT_EQ(0, region_bind(&self->f, 0, 0));
	ASSERT_EQ(0, region_bind(&control, 0, 0));
	ASSERT_EQ(0, region_bind(&holes, 0, 0));
	ASSERT_EQ(0, madvise(fill, fill_len, MADV_NOHUGEPAGE));
	ASSERT_EQ(0, madvise(fill, fill_len, MADV_POPULATE_WRITE));
	ASSERT_EQ(0, lowest_pages(self->dev, fill, fill_len / page_size(),
				  3 * NR_PAGES, low));

	for (i = 0; i < NR_PAGES; i++) {
		ASSERT_EQ(0, fault_in_place_of(&self->f, i, low[3 * i]));
		ASSERT_EQ(0, fault_in_place_of(&control, i, low[3 * i + 1]));
		ASSERT_EQ(0, fault_in_place_of(&holes, i, low[3 * i + 2]));
	}
	ASSERT_EQ(0, fallocate(holes.fd, FALLOC_FL_PUNCH_HOLE |
			       FALLOC_FL_KEEP_SIZE, 0, NR_PAGES * page_size()));
	for (i = 0; i < fill_len; i += chunk) {
		ASSERT_EQ(0, madvise(fill + i + chunk / 2, chunk / 2,
				     MADV_DONTNEED));
	}
	ASSERT_EQ(0, region_pfns(self->dev, &self->f, self->f.pfns));
	ASSERT_EQ(0, region_pfns(self->dev, &control, control.pfns));

	scanned = vmstat("compact_migrate_scanned");
	ASSERT_EQ(0, write_text_file("/sys/devices/system/node/node0/compact",
				     "1\n"));
	/* Proof that compaction ran at all. */
	if (scanned >= 0)
		EXPECT_LT(scanned, vmstat("compact_migrate_scanned"));

	ASSERT_EQ(0, region_pfns(self->dev, &self->f, after));
	EXPECT_EQ(NR_PAGES, same_pfns(self->f.pfns, after, NR_PAGES));
	ASSERT_EQ(0, region_pfns(self->dev, &control, after));
	moved = NR_PAGES - same_pfns(control.pfns, after, NR_PAGES);
	TH_LOG("compaction moved %zu of %d unflagged pages, pfns %#llx-%#llx",
	       moved, NR_PAGES, (unsigned long long)control.pfns[0],
	       (unsigned long long)control.pfns[NR_PAGES - 1]);
	/* The control shows that compaction did reach pages placed so. */
	EXPECT_LT(0, moved);

	free(after);
	free(low);
	region_destroy(&control);
	region_destroy(&holes);
	munmap(fill, fill_len);
}

/* ------------------------------------------------------------------ */

/*
 * The race tests: threads cut, regrow, punch and refault the flagged
 * file while others compact memory and move_pages() its pages back and
 * forth, for STRESS_SECONDS.  Any unexpected error stops them all.
 */
struct stress {
	int dev;
	struct region *r;
	atomic_bool stop;
	atomic_int err;
	atomic_ulong sets;	/* SETs that took */
	char what[64];
	pthread_mutex_t lock;
};

static void stress_fail(struct stress *s, const char *what, int err)
{
	pthread_mutex_lock(&s->lock);
	if (!atomic_load(&s->err)) {
		snprintf(s->what, sizeof(s->what), "%s", what);
		atomic_store(&s->err, err ? err : -1);
	}
	pthread_mutex_unlock(&s->lock);
	atomic_store(&s->stop, true);
}

static bool stress_running(struct stress *s)
{
	return !atomic_load(&s->stop);
}

static off_t random_offset(unsigned int *seed, size_t size)
{
	return (off_t)rand_r(seed) % size;
}

/*
 * Each stressor does one round of its work; a false return (after
 * stress_fail()) ends its thread.
 */

/*
 * Cut the file anywhere (mostly mid-page), one time in four to nothing,
 * which lets a SET in, then grow it back.
 */
static bool stress_truncate(struct stress *s, unsigned int *seed)
{
	size_t size = s->r->nr * page_size();
	off_t to = rand_r(seed) % 4 ? random_offset(seed, size) : 0;

	if (ftruncate(s->r->fd, to))
		stress_fail(s, "ftruncate down", errno);
	else if (ftruncate(s->r->fd, size))
		stress_fail(s, "ftruncate up", errno);
	return stress_running(s);
}

/* Punch an unaligned hole and allocate it again. */
static bool stress_punch(struct stress *s, unsigned int *seed)
{
	size_t size = s->r->nr * page_size();
	off_t off = random_offset(seed, size);
	off_t len = 1 + random_offset(seed, size - off);

	if (fallocate(s->r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      off, len))
		stress_fail(s, "punch hole", errno);
	else if (fallocate(s->r->fd, FALLOC_FL_KEEP_SIZE, off, len))
		stress_fail(s, "fallocate", errno);
	return stress_running(s);
}

/*
 * Map the pages again.  Past a concurrent EOF this fails with EFAULT (the
 * SIGBUS a touch would get), which is expected.
 */
static bool stress_fault(struct stress *s, unsigned int *seed)
{
	if (madvise(s->r->addr, s->r->nr * page_size(), MADV_POPULATE_WRITE) &&
	    errno != EFAULT)
		stress_fail(s, "MADV_POPULATE_WRITE", errno);
	return stress_running(s);
}

static bool stress_compact(struct stress *s, unsigned int *seed)
{
	int ret = write_text_file("/proc/sys/vm/compact_memory", "1\n");

	if (ret)
		stress_fail(s, "compact_memory", -ret);
	return stress_running(s);
}

/*
 * Move every page to node 0 or 1 at random.  Pages past EOF or being
 * truncated fail in their status entries; the call itself must not.
 */
static bool stress_move(struct stress *s, unsigned int *seed)
{
	size_t i;

	for (i = 0; i < s->r->nr; i++)
		s->r->nodes[i] = rand_r(seed) & 1;
	if (move_pages(0, s->r->nr, s->r->pages, s->r->nodes, s->r->status,
		       MPOL_MF_MOVE) < 0)
		stress_fail(s, "move_pages", errno);
	return stress_running(s);
}

/* SET takes only while the file is cut to nothing, EBUSY otherwise. */
static bool stress_toggle(struct stress *s, unsigned int *seed)
{
	bool on = rand_r(seed) & 1;
	int ret = set_flag(s->dev, s->r->fd, on);

	if (on && !ret)
		atomic_fetch_add(&s->sets, 1);
	else if (ret && !(on && ret == -EBUSY))
		stress_fail(s, on ? "SET" : "CLEAR", -ret);
	return stress_running(s);
}

struct stressor {
	const char *name;
	bool (*round)(struct stress *s, unsigned int *seed);
	struct stress *s;
	unsigned int seed;
	unsigned long rounds;
	pthread_t thread;
};

static void *stressor_thread(void *arg)
{
	struct stressor *st = arg;

	while (stress_running(st->s) && st->round(st->s, &st->seed))
		st->rounds++;
	return NULL;
}

/*
 * Run the churn for @seconds: move_pages() with @migrate, the flag
 * toggler with @toggle.  Returns 0 or the first error; @summary gets the
 * rounds each stressor did.
 */
static int run_stress(struct stress *s, bool migrate, bool toggle,
		      unsigned int seconds, char *summary, size_t len)
{
	struct stressor st[] = {
		{ "truncate", stress_truncate },
		{ "punch", stress_punch },
		{ "fault", stress_fault },
		{ "compact", stress_compact },
		{ "move_pages", migrate ? stress_move : NULL },
		{ "toggle", toggle ? stress_toggle : NULL },
	};
	size_t i, used = 0;

	pthread_mutex_init(&s->lock, NULL);
	for (i = 0; i < ARRAY_SIZE(st); i++) {
		st[i].s = s;
		st[i].seed = i + 1;
		if (st[i].round &&
		    pthread_create(&st[i].thread, NULL, stressor_thread, &st[i])) {
			stress_fail(s, "pthread_create", EAGAIN);
			st[i].round = NULL;
		}
	}
	for (i = 0; i < seconds * 10 && stress_running(s); i++)
		usleep(100000);
	atomic_store(&s->stop, true);
	summary[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(st); i++) {
		if (!st[i].round)
			continue;
		pthread_join(st[i].thread, NULL);
		used += snprintf(summary + used, len - used, " %s %lu",
				 st[i].name, st[i].rounds);
		if (used >= len)
			used = len - 1;
	}
	pthread_mutex_destroy(&s->lock);
	return atomic_load(&s->err);
}

/*
 * Refill the whole file, then try to move every page to the other node:
 * returns what move_pages() returns, or -errno.
 */
static long refill_and_move_away(struct region *r)
{
	size_t i;

	if (ftruncate(r->fd, r->nr * page_size()) ||
	    madvise(r->addr, r->nr * page_size(), MADV_POPULATE_WRITE) ||
	    move_pages(0, r->nr, r->pages, NULL, r->status, 0))
		return -errno;
	for (i = 0; i < r->nr; i++) {
		if (r->status[i] < 0)
			return r->status[i];
		r->nodes[i] = !r->status[i];
	}
	return move_pages(0, r->nr, r->pages, r->nodes, r->status,
			  MPOL_MF_MOVE);
}

FIXTURE(race) {
	int dev;
	__u32 flag;
	struct region r;
	struct stress s;
	const char *no_migration;
	char summary[160];
};

FIXTURE_SETUP(race)
{
	PTMARK_REQUIRE_DEVICE(self->dev);
	REQUIRE_UNMOVABLE(self->dev, self->flag);
	if (geteuid())
		SKIP(return, "needs root for vm.compact_memory");
	if (access("/proc/sys/vm/compact_memory", W_OK))
		SKIP(return, "no vm.compact_memory (CONFIG_COMPACTION)");
	self->no_migration = ptmark_no_numa_migration();
	if (self->no_migration)
		TH_LOG("without move_pages(): %s", self->no_migration);
	ASSERT_EQ(0, region_create(&self->r, flagged_memfd(self->dev),
				   STRESS_PAGES));
	self->s.dev = self->dev;
	self->s.r = &self->r;
}

FIXTURE_TEARDOWN(race)
{
	region_destroy(&self->r);
	close(self->dev);
}

/*
 * Truncation racing compaction and migration of flagged folios; after the
 * storm the file is still flagged, and none of its pages moves.
 */
TEST_F_TIMEOUT(race, truncate_vs_compaction_and_migration, 120)
{
	ASSERT_EQ(0, run_stress(&self->s, !self->no_migration, false,
				STRESS_SECONDS, self->summary,
				sizeof(self->summary)))
		TH_LOG("%s: %s", self->s.what, strerror(self->s.err));
	TH_LOG("rounds:%s", self->summary);
	EXPECT_EQ(self->flag | PTMARK_AS_UNEVICTABLE,
		  as_flags_of(self->dev, self->r.fd));
	if (!self->no_migration)
		EXPECT_EQ(STRESS_PAGES, refill_and_move_away(&self->r));
}

/*
 * The same with the flag cleared and set again all along, SET taking
 * only when the file is empty; once cleared for good every page migrates.
 */
TEST_F_TIMEOUT(race, toggle_vs_truncation_and_migration, 120)
{
	ASSERT_EQ(0, run_stress(&self->s, !self->no_migration, true,
				STRESS_SECONDS, self->summary,
				sizeof(self->summary)))
		TH_LOG("%s: %s", self->s.what, strerror(self->s.err));
	TH_LOG("rounds:%s, SETs taken %lu", self->summary,
	       atomic_load(&self->s.sets));
	ASSERT_EQ(0, set_flag(self->dev, self->r.fd, false));
	EXPECT_EQ(0, as_flags_of(self->dev, self->r.fd));
	if (!self->no_migration)
		EXPECT_EQ(0, refill_and_move_away(&self->r));
}

/* ------------------------------------------------------------------ */

/*
 * The three ways userspace migrates pages, each against a region faulted
 * on node 0 and sent to node 1.
 */
enum method { BY_MOVE_PAGES, BY_MBIND, BY_MIGRATE_PAGES };

FIXTURE(migrate) {
	int dev;
	__u32 flag;
	struct region r;
	long baseline;
};

FIXTURE_VARIANT(migrate) {
	enum method method;
};

FIXTURE_VARIANT_ADD(migrate, move_pages) {
	.method = BY_MOVE_PAGES,
};

FIXTURE_VARIANT_ADD(migrate, mbind) {
	.method = BY_MBIND,
};

FIXTURE_VARIANT_ADD(migrate, migrate_pages) {
	.method = BY_MIGRATE_PAGES,
};

static long migrate_pages_0_to_1(void)
{
	unsigned long from = 1UL << 0, to = 1UL << 1;
	long ret = migrate_pages(0, MASK_BITS, &from, &to);

	return ret < 0 ? -errno : ret;
}

/*
 * Send @r to node 1 by @method; what the call returns, or -errno.
 * migrate_pages(2) moves the whole process: run as root
 * (MPOL_MF_MOVE_ALL) it counts every page of node 0 it could not move.
 */
static long migrate_region(struct region *r, enum method method)
{
	size_t i;
	long ret;

	switch (method) {
	case BY_MOVE_PAGES:
		for (i = 0; i < r->nr; i++) {
			r->nodes[i] = 1;
			r->status[i] = STATUS_UNWRITTEN;
		}
		ret = move_pages(0, r->nr, r->pages, r->nodes, r->status,
				 MPOL_MF_MOVE);
		return ret < 0 ? -errno : ret;
	case BY_MBIND:
		return region_bind(r, 1, MPOL_MF_MOVE | MPOL_MF_STRICT);
	case BY_MIGRATE_PAGES:
		return migrate_pages_0_to_1();
	}
	return -EINVAL;
}

/*
 * What @method returns when @stuck pages of the region cannot move, read
 * from 7.3: move_pages() the number not migrated; mbind() with
 * MPOL_MF_STRICT EIO for any; migrate_pages() the pages not migrated,
 * added to the @baseline of the rest of the process.
 */
static long expected_result(enum method method, size_t stuck, long baseline)
{
	switch (method) {
	case BY_MOVE_PAGES:
		return stuck;
	case BY_MBIND:
		return stuck ? -EIO : 0;
	case BY_MIGRATE_PAGES:
		return baseline + stuck;
	}
	return -EINVAL;
}

FIXTURE_SETUP(migrate)
{
	PTMARK_REQUIRE_DEVICE(self->dev);
	REQUIRE_UNMOVABLE(self->dev, self->flag);
	PTMARK_REQUIRE_TWO_NODES();
	if (geteuid())
		SKIP(return, "needs root to see pfns");
	/*
	 * migrate_pages() reports the process's other unmovable pages of
	 * node 0 too: count them first, once everything movable has gone.
	 */
	if (variant->method == BY_MIGRATE_PAGES) {
		ASSERT_LE(0, migrate_pages_0_to_1());
		self->baseline = migrate_pages_0_to_1();
		ASSERT_LE(0, self->baseline);
	}
}

FIXTURE_TEARDOWN(migrate)
{
	region_destroy(&self->r);
	close(self->dev);
}

enum flagging {
	NO_FLAG,		/* the control */
	FLAG_BEFORE_FAULT,	/* a CREATEd file, as guest_memfd's */
	SET_AFTER_FAULT,	/* CREATEd and cleared: SET refused, pages */
	FLAG_CLEARED,		/* CREATEd, cleared after the faults */
};

static void migration_case(struct __test_metadata *_metadata,
			   FIXTURE_DATA(migrate) *self,
			   const FIXTURE_VARIANT(migrate) *variant,
			   enum flagging flagging)
{
	bool flagged = flagging == FLAG_BEFORE_FAULT ||
		       flagging == FLAG_CLEARED;
	bool stuck = flagging == FLAG_BEFORE_FAULT;
	struct region *r = &self->r;
	uint64_t *after;
	size_t i;

	ASSERT_EQ(0, region_create(r, flagged ? flagged_memfd(self->dev) :
				   flagging == SET_AFTER_FAULT ?
					cleared_memfd(self->dev) :
					plain_memfd("ptmark-migrate"),
				   NR_PAGES));
	after = calloc(r->nr, sizeof(*after));
	ASSERT_NE(NULL, after);
	ASSERT_EQ(0, region_fault_on(r, 0));
	if (flagging == SET_AFTER_FAULT) {
		ASSERT_EQ(-EBUSY, set_flag(self->dev, r->fd, true));
		ASSERT_EQ(0, as_flags_of(self->dev, r->fd));
	}
	if (flagging == FLAG_CLEARED) {
		ASSERT_EQ(0, set_flag(self->dev, r->fd, false));
		ASSERT_EQ(0, as_flags_of(self->dev, r->fd));
	}
	ASSERT_EQ(r->nr, pages_on_node(r, 0));
	ASSERT_EQ(0, region_pfns(self->dev, r, r->pfns));

	EXPECT_EQ(expected_result(variant->method, stuck ? r->nr : 0,
				  self->baseline),
		  migrate_region(r, variant->method));
	if (variant->method == BY_MOVE_PAGES) {
		/* Stuck pages get no status; moved ones their node. */
		for (i = 0; i < r->nr; i++) {
			EXPECT_EQ(stuck ? STATUS_UNWRITTEN : 1, r->status[i])
				TH_LOG("status of page %zu", i);
		}
	}

	EXPECT_EQ(r->nr, pages_on_node(r, stuck ? 0 : 1));
	ASSERT_EQ(0, region_pfns(self->dev, r, after));
	EXPECT_EQ(stuck ? r->nr : 0, same_pfns(r->pfns, after, r->nr));
	free(after);
}

TEST_F(migrate, unflagged_moves)
{
	migration_case(_metadata, self, variant, NO_FLAG);
}

TEST_F(migrate, flagged_before_fault_stays)
{
	migration_case(_metadata, self, variant, FLAG_BEFORE_FAULT);
}

/* The refused SET left the file as it was: its pages still move. */
TEST_F(migrate, set_after_fault_refused_moves)
{
	migration_case(_metadata, self, variant, SET_AFTER_FAULT);
}

TEST_F(migrate, cleared_moves)
{
	migration_case(_metadata, self, variant, FLAG_CLEARED);
}

int main(int argc, char **argv)
{
	if (!ptmark_only_listing(argc, argv))
		ptmark_require_module(PTMARK_FEAT_AS_INACCESSIBLE |
				      PTMARK_FEAT_AS_UNMOVABLE,
				      "kernel has neither AS_INACCESSIBLE nor AS_UNMOVABLE");
	return ptmark_harness_run(argc, argv, NULL);
}
