// SPDX-License-Identifier: GPL-2.0
/*
 * userfaultfd read-write protection (RWP, UFFDIO_REGISTER_MODE_RWP).
 *
 * An RWP-protected page stays mapped, PROT_NONE as NUMA hinting makes it,
 * with the uffd bit that write protection uses elsewhere: any access to
 * it raises a fault the handler sees as UFFD_PAGEFAULT_FLAG_RWP (sync
 * mode) or that the kernel resolves itself (UFFD_FEATURE_RWP_ASYNC).
 * Protection follows the page into its swap and migration entries and
 * across fork and mremap where the uffd context does, and is dropped, as
 * Documentation/admin-guide/mm/userfaultfd.rst says, with the PTE itself
 * (MADV_DONTNEED, hole punch): there is no RWP marker.
 *
 * Every case checks what an access does (blocks with its message, goes
 * through, the data it sees) and what ptmark.ko's scan names each unit:
 *
 *   R  present, RWP-protected (protnone and uffd-rwp)
 *   P  present and accessible
 *   n  present, protnone for a VMA without access (plain PROT_NONE)
 *   h  present, NUMA-hinting protnone
 *   w  present with the uffd bit read as write protection
 *   S  swap entry carrying RWP protection, s without
 *   M  migration entry carrying RWP protection, m without
 *   N  no entry    G  guard marker    W  uffd-wp marker    ?  anything else
 *
 * Facts asserted here were read from mm/userfaultfd.c, mm/memory.c, mm/gup.c,
 * mm/mprotect.c, mm/mremap.c, mm/huge_memory.c, mm/hugetlb.c, mm/migrate.c,
 * mm/rmap.c and fs/proc/task_mmu.c of 7.3; comments name the rule a step
 * relies on.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/userfaultfd.h>
#include <liburing.h>
#include <numaif.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ptmark_lib.h"

#ifndef PAGE_IS_ACCESSED
#define PAGE_IS_ACCESSED	(1 << 9)
#endif

/* Units in a region: pages, or PMD-sized THPs and huge pages. */
#define NR_UNITS		8
#define NR_HUGE_UNITS		3
/* How long a message, or an access that must not block, may take (TCG). */
#define WAIT_MS			2000
/* How long a trapped access is watched for completing when it must not. */
#define STILL_BLOCKED_MS	100

static size_t page_size;
static struct kernel_probe kernel;

FIXTURE(rwp) {
	const struct ptmark_backing *b;
	int ptmark;		/* /dev/ptmark */
	int io;			/* what an access other than the CPU's goes through */
	char *bounce;		/* a page for O_DIRECT's other side and pin reads */
	int fd;			/* backing file; -1 for anonymous memory */
	int uffd;		/* registered for RWP over the whole region */
	size_t unit;		/* bytes one unit covers */
	size_t pages_per_unit;
	size_t nr;		/* units in the region */
	size_t len;
	char *mem;
};

FIXTURE_VARIANT(rwp) {
	const struct ptmark_backing *backing;
};

BACKING_VARIANT(rwp, anon, BK_ANON);
BACKING_VARIANT(rwp, anon_thp, BK_ANON_THP);
BACKING_VARIANT(rwp, memfd, BK_MEMFD);
BACKING_VARIANT(rwp, hugetlb, BK_HUGETLB);

FIXTURE_NEEDS(rwp, PB_UFFD_RWP);

typedef FIXTURE_DATA(rwp) rwp_t;

static int numa_knobs_set(bool restore);

#define FILE_BACKED(self)	backing_has((self)->b, PB_FILE)
#define HUGETLB_BACKED(self)	backing_has((self)->b, PB_HUGETLB)
#define THP_BACKED(self)	backing_has((self)->b, PB_THP)

static char *unit_ptr(rwp_t *self, size_t u)
{
	return self->mem + u * self->unit;
}

/* What unit @u holds before any test writes: distinct, never zero. */
static char fill_of(size_t u)
{
	return 'a' + u;
}

/* ---------------------------------------------------------------------
 * The scan's view.
 */
static char record_state(const struct ptmark_record *r)
{
	const __u32 prot = PTMARK_BIT_PROTNONE | PTMARK_BIT_UFFD_RWP |
			   PTMARK_BIT_NUMA_HINT | PTMARK_BIT_UFFD_WP;
	__u32 b = r->bits & prot;

	switch (r->kind) {
	case PTMARK_KIND_NONE:
		return 'N';
	case PTMARK_KIND_PRESENT:
		if (b == (PTMARK_BIT_PROTNONE | PTMARK_BIT_UFFD_RWP))
			return 'R';
		if (b == PTMARK_BIT_PROTNONE)
			return 'n';
		if (b == (PTMARK_BIT_PROTNONE | PTMARK_BIT_NUMA_HINT))
			return 'h';
		if (b == PTMARK_BIT_UFFD_WP)
			return 'w';
		return b ? '?' : 'P';
	case PTMARK_KIND_SWAP:
		if (b & ~PTMARK_BIT_UFFD_RWP)
			return '?';
		return b ? 'S' : 's';
	case PTMARK_KIND_MIGRATION:
		if (b & ~PTMARK_BIT_UFFD_RWP)
			return '?';
		return b ? 'M' : 'm';
	case PTMARK_KIND_MARKER:
		if (r->marker == PTMARK_MARKER_GUARD)
			return 'G';
		if (r->marker == PTMARK_MARKER_UFFD_WP)
			return 'W';
		return '?';
	default:
		return '?';
	}
}

/*
 * The state of each of @n units from @addr of the process behind @pidfd
 * (-1: this one) into @out, NUL-terminated: a unit whose pages disagree
 * is '!'.  *pmd (if not NULL) says whether the first unit's first page
 * is mapped by a PMD leaf.  0 or -errno.
 */
static int unit_states_of(rwp_t *self, int pidfd, const char *addr, size_t n,
			  char *out, bool *pmd)
{
	size_t pages = n * self->pages_per_unit, u, i;
	struct ptmark_record *recs = calloc(pages, sizeof(*recs));
	int ret;

	if (!recs)
		return -ENOMEM;
	ret = ptmark_scan_dense_of(self->ptmark, pidfd, addr, pages, recs);
	for (u = 0; !ret && u < n; u++) {
		const struct ptmark_record *r = &recs[u * self->pages_per_unit];

		out[u] = record_state(r);
		for (i = 1; i < self->pages_per_unit; i++)
			if (record_state(&r[i]) != out[u])
				out[u] = '!';
	}
	out[n] = '\0';
	if (!ret && pmd)
		*pmd = recs[0].bits & PTMARK_BIT_PMD;
	free(recs);
	return ret;
}

static void assert_states_of(struct __test_metadata *_metadata, rwp_t *self,
			     int pidfd, const char *addr, const char *want,
			     const char *when)
{
	size_t n = strlen(want);
	char seen[NR_UNITS + 1];

	ASSERT_EQ(0, unit_states_of(self, pidfd, addr, n, seen, NULL));
	ASSERT_STREQ(want, seen) TH_LOG("unit states %s", when);
}

/* The states of the first units of the region, as a string: "RRPR". */
#define ASSERT_UNITS(want, when)					\
	assert_states_of(_metadata, self, -1, self->mem, want, when)

/* @c repeated for every unit of the region. */
static const char *all_units(rwp_t *self, char c)
{
	static char s[NR_UNITS + 1];

	memset(s, c, self->nr);
	s[self->nr] = '\0';
	return s;
}

/* ---------------------------------------------------------------------
 * userfaultfd.
 */

/* A userfaultfd with RWP and @more features, or a failed assertion. */
static int open_rwp_uffd(struct __test_metadata *_metadata, __u64 more)
{
	int uffd = uffd_open(UFFD_FEATURE_RWP | UFFD_FEATURE_THREAD_ID | more);

	EXPECT_LE(0, uffd) TH_LOG("UFFDIO_API with RWP and %#llx: %s",
				  (unsigned long long)more, strerror(-uffd));
	return uffd;
}

static void register_rwp(struct __test_metadata *_metadata, int uffd,
			 const void *addr, size_t len)
{
	__u64 ioctls;

	ASSERT_EQ(0, uffd_register_ioctls(uffd, addr, len,
					  UFFDIO_REGISTER_MODE_RWP, &ioctls));
	/* RWPROTECT is offered on RWP ranges, and on them alone. */
	ASSERT_NE(0, ioctls & (1ULL << _UFFDIO_RWPROTECT));
}

static void protect(struct __test_metadata *_metadata, rwp_t *self,
		    size_t first, size_t n, bool on)
{
	ASSERT_EQ(0, uffd_rwprotect(self->uffd, unit_ptr(self, first),
				    n * self->unit,
				    on ? UFFDIO_RWPROTECT_MODE_RWP : 0));
}

static int uffd_unregister_all(int uffd, const void *addr, size_t len)
{
	struct uffdio_range range = { .start = (uintptr_t)addr, .len = len };

	return ioctl(uffd, UFFDIO_UNREGISTER, &range) ? -errno : 0;
}

/* Swap the fixture's userfaultfd for one with RWP and @more features. */
static void reopen_uffd(struct __test_metadata *_metadata, rwp_t *self,
			__u64 more)
{
	close(self->uffd);
	self->uffd = open_rwp_uffd(_metadata, more);
	ASSERT_LE(0, self->uffd);
	register_rwp(_metadata, self->uffd, self->mem, self->len);
}

/*
 * The same for a context that takes kernel-mode faults too (the suite's
 * are UFFD_USER_MODE_ONLY).  Closing the old context unprotected every
 * unit.
 */
static void reopen_uffd_kernel_faults(struct __test_metadata *_metadata,
				      rwp_t *self, __u64 more)
{
	close(self->uffd);
	self->uffd = uffd_open_kernel_faults(UFFD_FEATURE_RWP |
					     UFFD_FEATURE_THREAD_ID | more);
	ASSERT_LE(0, self->uffd) TH_LOG("userfaultfd for kernel faults: %s",
					strerror(-self->uffd));
	register_rwp(_metadata, self->uffd, self->mem, self->len);
}

/* ---------------------------------------------------------------------
 * A thread making one access, which a protected page makes wait.
 */

/*
 * How an access reaches the page: the CPU, or the kernel through GUP on
 * the thread's behalf (self->io is what it goes through).  A "write"
 * through GUP is one with FOLL_WRITE: the page is the destination.
 */
enum access_path {
	BY_CPU,		/* a load or a store */
	BY_VM_RW,	/* process_vm_readv() / process_vm_writev() on itself */
	BY_DIRECT_IO,	/* O_DIRECT pwrite() from the page / pread() into it */
	BY_PIN,		/* ptmark's GUP-fast long-term pin, read through it */
	BY_URING,	/* io_uring fixed buffer registration: a write pin */
	BY_PROC_MEM,	/* pread() / pwrite() of /proc/self/mem */
};

static const char *const path_names[] = {
	[BY_CPU] = "CPU", [BY_VM_RW] = "process_vm_rw",
	[BY_DIRECT_IO] = "O_DIRECT", [BY_PIN] = "long-term pin",
	[BY_URING] = "io_uring fixed buffer", [BY_PROC_MEM] = "/proc/self/mem",
};

struct access {
	pthread_t thread;
	volatile char *addr;
	bool write;
	char value;		/* stored, or what was read */
	enum access_path path;
	int io;			/* the path's fd */
	char *bounce;		/* a page the path may use */
	int err;		/* 0, or the errno the path's call failed with */
	atomic_int tid;
	atomic_bool done;
};

/* One page at addr through GUP: 0 or -errno. */
static int access_by_gup(struct access *a)
{
	char *page = (char *)((uintptr_t)a->addr & ~(uintptr_t)(page_size - 1));
	struct iovec local = { .iov_base = &a->value, .iov_len = 1 };
	struct iovec remote = { .iov_base = (void *)a->addr, .iov_len = 1 };
	__u32 flags = PTMARK_PIN_F_FAST | PTMARK_PIN_F_LONGTERM;
	struct io_uring ring;
	ssize_t n;
	int ret;

	switch (a->path) {
	case BY_VM_RW:
		n = a->write ? process_vm_writev(getpid(), &local, 1, &remote, 1, 0) :
			       process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
		return n == 1 ? 0 : n < 0 ? -errno : -EIO;
	case BY_DIRECT_IO:
		if (a->write) {
			memset(a->bounce, a->value, page_size);
			if (pwrite(a->io, a->bounce, page_size, 0) != (ssize_t)page_size)
				return -errno;
			n = pread(a->io, page, page_size, 0);
		} else {
			n = pwrite(a->io, page, page_size, 0);
			if (n == (ssize_t)page_size &&
			    pread(a->io, a->bounce, page_size, 0) != (ssize_t)page_size)
				return -errno;
			a->value = a->bounce[0];
		}
		return n == (ssize_t)page_size ? 0 : n < 0 ? -errno : -EIO;
	case BY_PIN:
		ret = ptmark_pin(a->io, page, page_size,
				 flags | (a->write ? PTMARK_PIN_F_WRITE : 0));
		if (ret)
			return ret;
		ret = ptmark_pin_read(a->io, page, page_size, a->bounce);
		a->value = a->bounce[(uintptr_t)a->addr - (uintptr_t)page];
		if (ptmark_unpin(a->io, page, page_size) && !ret)
			ret = -EIO;
		return ret;
	case BY_URING:
		ret = io_uring_queue_init(2, &ring, 0);
		if (ret)
			return ret;
		local.iov_base = page;
		local.iov_len = page_size;
		ret = io_uring_register_buffers(&ring, &local, 1);
		if (!ret)
			ret = io_uring_unregister_buffers(&ring);
		io_uring_queue_exit(&ring);
		return ret;
	case BY_PROC_MEM:
		n = a->write ? pwrite(a->io, &a->value, 1, (uintptr_t)a->addr) :
			       pread(a->io, &a->value, 1, (uintptr_t)a->addr);
		return n == 1 ? 0 : n < 0 ? -errno : -EIO;
	default:
		return -EINVAL;
	}
}

static void *access_main(void *arg)
{
	struct access *a = arg;

	atomic_store(&a->tid, gettid());
	if (a->path != BY_CPU)
		a->err = -access_by_gup(a);
	else if (a->write)
		*a->addr = a->value;
	else
		a->value = *a->addr;
	atomic_store(&a->done, true);
	return NULL;
}

static int access_start_by(rwp_t *self, struct access *a,
			   enum access_path path, char *addr, bool write,
			   char value)
{
	a->addr = addr;
	a->write = write;
	a->value = value;
	a->path = path;
	a->io = self ? self->io : -1;
	a->bounce = self ? self->bounce : NULL;
	a->err = 0;
	atomic_store(&a->tid, 0);
	atomic_store(&a->done, false);
	return pthread_create(&a->thread, NULL, access_main, a);
}


static bool access_done_within(struct access *a, int ms)
{
	double end = monotonic_ms() + ms;

	while (!atomic_load(&a->done)) {
		if (monotonic_ms() > end)
			return false;
		usleep(1000);
	}
	return true;
}

/*
 * The one message an access at @addr by @tid raises on a protected page:
 * an RWP fault, with the write flag exactly for a write.
 */
static void assert_rwp_msg(struct __test_metadata *_metadata,
			   const struct uffd_msg *msg, const char *addr,
			   bool write, pid_t tid)
{
	__u64 flags = UFFD_PAGEFAULT_FLAG_RWP |
		      (write ? UFFD_PAGEFAULT_FLAG_WRITE : 0);
	char text[96];

	ASSERT_EQ(UFFD_EVENT_PAGEFAULT, msg->event)
		TH_LOG("%s", uffd_msg_text(msg, text, sizeof(text)));
	ASSERT_EQ(flags, msg->arg.pagefault.flags)
		TH_LOG("%s", uffd_msg_text(msg, text, sizeof(text)));
	ASSERT_EQ((uintptr_t)addr, msg->arg.pagefault.address)
		TH_LOG("%s", uffd_msg_text(msg, text, sizeof(text)));
	if (tid)
		ASSERT_EQ(tid, (pid_t)msg->arg.pagefault.feat.ptid)
			TH_LOG("%s", uffd_msg_text(msg, text, sizeof(text)));
}

/*
 * Start an access of unit @u that must trap: its message read and
 * checked, the thread still blocked a while later, the unit still 'R'.
 * The caller resolves it.
 */
static void access_trapped_start_by(struct __test_metadata *_metadata,
				    rwp_t *self, enum access_path path,
				    struct access *a, size_t u, bool write,
				    char value)
{
	char *addr = unit_ptr(self, u);
	char seen[2];
	struct uffd_msg msg;

	ASSERT_EQ(0, access_start_by(self, a, path, addr, write, value));
	ASSERT_EQ(1, uffd_read_msg(self->uffd, WAIT_MS, &msg))
		TH_LOG("no RWP fault message for unit %zu by %s", u,
		       path_names[path]);
	assert_rwp_msg(_metadata, &msg, addr, write, atomic_load(&a->tid));
	ASSERT_FALSE(access_done_within(a, STILL_BLOCKED_MS))
		TH_LOG("the access of unit %zu by %s went through unresolved",
		       u, path_names[path]);
	ASSERT_EQ(0, unit_states_of(self, -1, addr, 1, seen, NULL));
	ASSERT_EQ('R', seen[0]) TH_LOG("unit %zu while its access waits", u);
}

static void access_trapped_start(struct __test_metadata *_metadata,
				 rwp_t *self, struct access *a, size_t u,
				 bool write, char value)
{
	access_trapped_start_by(_metadata, self, BY_CPU, a, u, write, value);
}

/*
 * What an ended access of unit @u saw and left: the path's call
 * succeeded, a read (and a pin, which reads through the pin) saw @want,
 * the unit holds @want.  An io_uring registration reads nothing.
 */
static void access_check(struct __test_metadata *_metadata, rwp_t *self,
			 struct access *a, size_t u, char want)
{
	ASSERT_EQ(0, a->err) TH_LOG("unit %zu by %s: %s", u,
				    path_names[a->path], strerror(a->err));
	if (!a->write || a->path == BY_PIN)
		ASSERT_EQ(want, a->value) TH_LOG("unit %zu read by %s", u,
						 path_names[a->path]);
	ASSERT_EQ(want, unit_ptr(self, u)[0]) TH_LOG("unit %zu holds", u);
}

/* The trapped access of unit @u ends once resolved: what it saw. */
static void access_finish(struct __test_metadata *_metadata, rwp_t *self,
			  struct access *a, size_t u, char want)
{
	ASSERT_TRUE(access_done_within(a, WAIT_MS))
		TH_LOG("the access of unit %zu still waits", u);
	pthread_join(a->thread, NULL);
	access_check(_metadata, self, a, u, want);
}

/* An access of unit @u by @path that traps, resolved by unprotecting it. */
static void assert_trapped_by(struct __test_metadata *_metadata, rwp_t *self,
			      enum access_path path, size_t u, bool write,
			      char value, char want)
{
	struct access a;

	access_trapped_start_by(_metadata, self, path, &a, u, write, value);
	protect(_metadata, self, u, 1, false);
	access_finish(_metadata, self, &a, u, want);
}

static void assert_trapped(struct __test_metadata *_metadata, rwp_t *self,
			   size_t u, bool write, char value, char want)
{
	assert_trapped_by(_metadata, self, BY_CPU, u, write, value, want);
}

/*
 * An access of unit @u by @path that must not block: it has ended when
 * this returns what it left queued (uffd_read_msg(): 1 with *msg, 0
 * none); a->value has what a read saw.  One still blocked after WAIT_MS
 * is let go and fails the test.
 */
static int access_unblocked_by(struct __test_metadata *_metadata, rwp_t *self,
			       enum access_path path, struct access *a,
			       size_t u, bool write, char value,
			       struct uffd_msg *msg)
{
	char text[96];

	ASSERT_EQ(0, access_start_by(self, a, path, unit_ptr(self, u), write,
				     value));
	if (!access_done_within(a, WAIT_MS)) {
		if (uffd_read_msg(self->uffd, 0, msg) == 1)
			TH_LOG("unit %zu raised %s", u,
			       uffd_msg_text(msg, text, sizeof(text)));
		/* Let the thread go before failing. */
		protect(_metadata, self, u, 1, false);
		ASSERT_TRUE(access_done_within(a, WAIT_MS));
		pthread_join(a->thread, NULL);
		ASSERT_TRUE(0) TH_LOG("the access of unit %zu by %s was trapped",
				      u, path_names[path]);
	}
	pthread_join(a->thread, NULL);
	return uffd_read_msg(self->uffd, 0, msg);
}

static int access_unblocked(struct __test_metadata *_metadata, rwp_t *self,
			    struct access *a, size_t u, bool write, char value,
			    struct uffd_msg *msg)
{
	return access_unblocked_by(_metadata, self, BY_CPU, a, u, write, value,
				   msg);
}

/* An access of unit @u by @path that goes through with no message. */
static void assert_free_by(struct __test_metadata *_metadata, rwp_t *self,
			   enum access_path path, size_t u, bool write,
			   char value, char want)
{
	struct uffd_msg msg;
	struct access a;
	char text[96];

	ASSERT_EQ(0, access_unblocked_by(_metadata, self, path, &a, u, write,
					 value, &msg))
		TH_LOG("unit %zu by %s raised %s", u, path_names[path],
		       uffd_msg_text(&msg, text, sizeof(text)));
	access_check(_metadata, self, &a, u, want);
}

static void assert_free(struct __test_metadata *_metadata, rwp_t *self,
			size_t u, bool write, char value, char want)
{
	assert_free_by(_metadata, self, BY_CPU, u, write, value, want);
}

/* ---------------------------------------------------------------------
 * The fixture: every unit written, the region registered for RWP.
 */
FIXTURE_SETUP(rwp)
{
	bool pmd;
	size_t u;

	self->b = variant->backing;
	self->fd = -1;
	self->io = -1;
	self->bounce = NULL;
	self->uffd = -1;
	self->mem = MAP_FAILED;
	self->ptmark = ptmark_open();
	ASSERT_LE(0, self->ptmark);
	self->unit = page_size;
	self->nr = NR_UNITS;
	if (HUGETLB_BACKED(self) || THP_BACKED(self)) {
		self->unit = HUGETLB_BACKED(self) ? ptmark_hugetlb_size() :
						    ptmark_pmd_size();
		self->nr = NR_HUGE_UNITS;
	}
	if (HUGETLB_BACKED(self))
		ASSERT_LE((long long)self->nr,
			  text_file_value("/proc/meminfo", "HugePages_Free:"))
			TH_LOG("fewer free huge pages than units");
	self->pages_per_unit = self->unit / page_size;
	self->len = self->nr * self->unit;
	if (FILE_BACKED(self)) {
		self->fd = ptmark_backing_fd(self->b, self->len);
		ASSERT_LE(0, self->fd) TH_LOG("%s file: %s", self->b->desc,
					      strerror(errno));
	}
	self->mem = ptmark_backing_mmap(self->b, self->fd, NULL, self->len,
					PROT_READ | PROT_WRITE, 0, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	for (u = 0; u < self->nr; u++)
		memset(unit_ptr(self, u), fill_of(u), self->unit);
	if (THP_BACKED(self)) {
		char seen[NR_UNITS + 1];

		ASSERT_EQ(0, unit_states_of(self, -1, self->mem, 1, seen, &pmd));
		ASSERT_TRUE(pmd) TH_LOG("the THP backing got no PMD leaf");
	}
	self->uffd = open_rwp_uffd(_metadata, 0);
	ASSERT_LE(0, self->uffd);
	register_rwp(_metadata, self->uffd, self->mem, self->len);
}

FIXTURE_TEARDOWN(rwp)
{
	numa_knobs_set(true);
	if (self->io >= 0)
		close(self->io);
	free(self->bounce);
	if (self->uffd >= 0)
		close(self->uffd);
	if (self->mem != MAP_FAILED)
		munmap(self->mem, self->len);
	if (self->fd >= 0)
		close(self->fd);
	if (self->ptmark >= 0)
		close(self->ptmark);
}

/* ---------------------------------------------------------------------
 * Tests.
 */

/*
 * Registration: the VMA carries VM_UFFD_RWP (the scan's uffd-rwp VMA flag,
 * smaps' "ur"); nothing is protected until UFFDIO_RWPROTECT; WP and RWP
 * share the uffd bit and are refused together in one call (EINVAL); a
 * second registration that would drop RWP is refused until the range is
 * unregistered (EBUSY); a WP range offers no RWPROTECT and refuses it.
 */
TEST_F(rwp, register_modes)
{
	struct ptmark_record rec;
	int wp;

	ASSERT_EQ(0, ptmark_scan_dense(self->ptmark, self->mem, 1, &rec));
	ASSERT_NE(0, rec.vma_flags & PTMARK_VMA_UFFD_RWP);
	ASSERT_EQ(0, rec.vma_flags & PTMARK_VMA_UFFD_WP);
	ASSERT_TRUE(smaps_has_vmflag(self->mem, "ur"));
	ASSERT_UNITS(all_units(self, 'P'), "registered, not protected");
	assert_free(_metadata, self, 0, false, 0, fill_of(0));

	ASSERT_EQ(-EINVAL, uffd_register(self->uffd, self->mem, self->len,
					 UFFDIO_REGISTER_MODE_RWP |
					 UFFDIO_REGISTER_MODE_WP));
	ASSERT_EQ(-EBUSY, uffd_register(self->uffd, self->mem, self->len,
					UFFDIO_REGISTER_MODE_WP));
	/* The refusals left the registration as it was. */
	ASSERT_EQ(0, ptmark_scan_dense(self->ptmark, self->mem, 1, &rec));
	ASSERT_NE(0, rec.vma_flags & PTMARK_VMA_UFFD_RWP);

	wp = uffd_open(UFFD_FEATURE_PAGEFAULT_FLAG_WP);
	ASSERT_LE(0, wp);
	ASSERT_EQ(0, uffd_unregister_all(self->uffd, self->mem, self->len));
	ASSERT_EQ(0, uffd_register(wp, self->mem, self->len,
				   UFFDIO_REGISTER_MODE_WP));
	ASSERT_EQ(-ENOENT, uffd_rwprotect(wp, self->mem, self->len,
					  UFFDIO_RWPROTECT_MODE_RWP));
	ASSERT_UNITS(all_units(self, 'P'), "WP-registered after RWPROTECT");
	close(wp);
}

/*
 * A read of a protected unit blocks with an RWP fault, no write flag;
 * the scan names every protected unit 'R' (protnone and uffd-rwp, never
 * uffd-wp) and, on THP, still a PMD leaf.  Unprotecting wakes the reader,
 * which reads what the unit held; only that unit became accessible.
 */
TEST_F(rwp, read_traps)
{
	char seen[NR_UNITS + 1];
	bool pmd;

	protect(_metadata, self, 0, self->nr, true);
	ASSERT_UNITS(all_units(self, 'R'), "protected");
	ASSERT_EQ(0, unit_states_of(self, -1, self->mem, 1, seen, &pmd));
	ASSERT_EQ(THP_BACKED(self) || HUGETLB_BACKED(self), pmd);
	assert_trapped(_metadata, self, 0, false, 0, fill_of(0));
	assert_states_of(_metadata, self, -1, self->mem, "PR",
			 "after unit 0's read was resolved");
	assert_trapped(_metadata, self, self->nr - 1, false, 0,
		       fill_of(self->nr - 1));
}

/* A write traps with the write flag too, and lands once resolved. */
TEST_F(rwp, write_traps)
{
	protect(_metadata, self, 0, self->nr, true);
	assert_trapped(_metadata, self, 1, true, 'W', 'W');
	assert_states_of(_metadata, self, -1, self->mem, "RPR",
			 "after unit 1's write was resolved");
	/* Resolved, the unit is writable again without a fault. */
	assert_free(_metadata, self, 1, true, 'X', 'X');
}

/*
 * Unprotecting with DONTWAKE makes the unit accessible at once but leaves
 * the blocked thread waiting until UFFDIO_WAKE; protecting with DONTWAKE
 * is refused.
 */
TEST_F(rwp, unprotect_dontwake)
{
	struct uffdio_range range;
	struct access a;

	protect(_metadata, self, 0, self->nr, true);
	ASSERT_EQ(-EINVAL, uffd_rwprotect(self->uffd, self->mem, self->len,
					  UFFDIO_RWPROTECT_MODE_RWP |
					  UFFDIO_RWPROTECT_MODE_DONTWAKE));
	access_trapped_start(_metadata, self, &a, 0, false, 0);
	ASSERT_EQ(0, uffd_rwprotect(self->uffd, self->mem, self->unit,
				    UFFDIO_RWPROTECT_MODE_DONTWAKE));
	assert_states_of(_metadata, self, -1, self->mem, "PR",
			 "unprotected without waking");
	ASSERT_FALSE(access_done_within(&a, STILL_BLOCKED_MS))
		TH_LOG("DONTWAKE woke the reader");
	range.start = (uintptr_t)self->mem;
	range.len = self->unit;
	ASSERT_EQ(0, ioctl(self->uffd, UFFDIO_WAKE, &range));
	access_finish(_metadata, self, &a, 0, fill_of(0));
}

/*
 * Unit 1 has no entry between protected units 0 and 2 (@when): its
 * access goes through with no message, reads @want, and leaves an
 * accessible entry; its neighbours stay protected.
 */
static void assert_unit1_open(struct __test_metadata *_metadata, rwp_t *self,
			      char want, const char *when)
{
	assert_states_of(_metadata, self, -1, self->mem, "RNR", when);
	assert_free(_metadata, self, 1, false, 0, want);
	assert_states_of(_metadata, self, -1, self->mem, "RPR",
			 "after unit 1's access");
}

/*
 * Protection is of present entries only: a unit with none is not made
 * protected, its first access populates it through the missing path, and
 * the new entry is accessible.
 */
TEST_F(rwp, unpopulated_stays_open)
{
	ASSERT_EQ(0, madvise(unit_ptr(self, 1), self->unit, MADV_DONTNEED));
	protect(_metadata, self, 0, self->nr, true);
	assert_unit1_open(_metadata, self, FILE_BACKED(self) ? fill_of(1) : 0,
			  "protected over a zapped unit");
}

/*
 * The documented drops: MADV_DONTNEED of a protected unit takes its
 * protection with the PTE (no RWP marker), and the next access goes
 * through, to a zero page for anonymous memory, to the kept page cache
 * for a file.
 */
TEST_F(rwp, dontneed_drops_protection)
{
	protect(_metadata, self, 0, self->nr, true);
	ASSERT_EQ(0, madvise(unit_ptr(self, 1), self->unit, MADV_DONTNEED));
	assert_unit1_open(_metadata, self, FILE_BACKED(self) ? fill_of(1) : 0,
			  "after MADV_DONTNEED of unit 1");
}

/* The same for a hole punched in the file: the page and protection go. */
CASE_NEEDS(rwp, punch_drops_protection, PB_UFFD_RWP | PB_PUNCH, 0)
TEST_F(rwp, punch_drops_protection)
{
	protect(_metadata, self, 0, self->nr, true);
	ASSERT_EQ(0, fallocate(self->fd, FALLOC_FL_PUNCH_HOLE |
			       FALLOC_FL_KEEP_SIZE, self->unit, self->unit));
	assert_unit1_open(_metadata, self, 0, "after punching unit 1");
}

/*
 * PAGEMAP_SCAN's PAGE_IS_ACCESSED of an RWP VMA: the units whose
 * protection an access cleared; pagemap's PM_UFFD_WP bit is the uffd bit
 * itself, set exactly on the units still protected.
 */
static void assert_accessed(struct __test_metadata *_metadata, rwp_t *self,
			    const char *want)
{
	struct page_region regions[NR_UNITS * 2];
	struct pm_scan_arg arg = {
		.size = sizeof(arg),
		.start = (uintptr_t)self->mem,
		.end = (uintptr_t)self->mem + self->len,
		.vec = (uintptr_t)regions,
		.vec_len = ARRAY_SIZE(regions),
		.category_mask = PAGE_IS_ACCESSED,
		.return_mask = PAGE_IS_ACCESSED,
	};
	char seen[NR_UNITS + 1];
	uint64_t pme;
	long n, i;
	size_t u;

	memset(seen, '-', self->nr);
	seen[self->nr] = '\0';
	n = pagemap_scan_self(&arg);
	ASSERT_LE(0, n) TH_LOG("PAGEMAP_SCAN: %s", strerror(errno));
	for (i = 0; i < n; i++)
		for (u = 0; u < self->nr; u++)
			if ((uintptr_t)unit_ptr(self, u) >= regions[i].start &&
			    (uintptr_t)unit_ptr(self, u) < regions[i].end)
				seen[u] = 'a';
	ASSERT_STREQ(want, seen) TH_LOG("PAGEMAP_SCAN PAGE_IS_ACCESSED");
	for (u = 0; u < self->nr; u++) {
		ASSERT_EQ(0, pagemap_read(unit_ptr(self, u), 1, &pme));
		ASSERT_EQ(want[u] != 'a', !!(pme & PM_UFFD_WP))
			TH_LOG("pagemap PM_UFFD_WP of unit %zu: %#llx", u,
			       (unsigned long long)pme);
	}
}

/*
 * Async mode: an access of a protected unit goes through with no message,
 * and the kernel clears that unit's protection, which the scan and
 * PAGEMAP_SCAN's PAGE_IS_ACCESSED both show; untouched units stay
 * protected.
 */
TEST_F(rwp, async_restores)
{
	reopen_uffd(_metadata, self, UFFD_FEATURE_RWP_ASYNC);
	protect(_metadata, self, 0, self->nr, true);
	assert_accessed(_metadata, self, all_units(self, '-'));
	assert_free(_metadata, self, 0, false, 0, fill_of(0));
	assert_free(_metadata, self, 1, true, 'Z', 'Z');
	assert_states_of(_metadata, self, -1, self->mem,
			 "PPR", "after two accesses");
	{
		char want[NR_UNITS + 1];

		memset(want, '-', self->nr);
		want[self->nr] = '\0';
		want[0] = want[1] = 'a';
		assert_accessed(_metadata, self, want);
	}
}

/*
 * Sync mode's PAGE_IS_ACCESSED: a unit whose trapped access the handler
 * resolved is reported, the others not.
 */
TEST_F(rwp, pagemap_reports_protection)
{
	char want[NR_UNITS + 1];

	protect(_metadata, self, 0, self->nr, true);
	assert_accessed(_metadata, self, all_units(self, '-'));
	assert_trapped(_metadata, self, 1, false, 0, fill_of(1));
	memset(want, '-', self->nr);
	want[self->nr] = '\0';
	want[1] = 'a';
	assert_accessed(_metadata, self, want);
}

/*
 * UFFDIO_SET_MODE: turning RWP_ASYNC on wakes a reader blocked in sync
 * mode, whose retried fault the kernel resolves itself; turning it off
 * makes the next access trap again.  Enabling a feature the context did
 * not negotiate, or one not toggleable, is refused.
 */
TEST_F(rwp, set_mode_switches)
{
	struct uffd_msg msg;
	struct access a;
	int wp;

	protect(_metadata, self, 0, self->nr, true);
	access_trapped_start(_metadata, self, &a, 0, false, 0);
	ASSERT_EQ(0, uffd_set_mode(self->uffd, UFFD_FEATURE_RWP_ASYNC, 0));
	access_finish(_metadata, self, &a, 0, fill_of(0));
	ASSERT_EQ(0, uffd_read_msg(self->uffd, 0, &msg));
	assert_states_of(_metadata, self, -1, self->mem, "PR",
			 "after the switch to async");
	assert_free(_metadata, self, 1, false, 0, fill_of(1));

	ASSERT_EQ(0, uffd_set_mode(self->uffd, 0, UFFD_FEATURE_RWP_ASYNC));
	protect(_metadata, self, 0, self->nr, true);
	assert_trapped(_metadata, self, 1, true, 'Y', 'Y');

	ASSERT_EQ(-EINVAL, uffd_set_mode(self->uffd, UFFD_FEATURE_RWP_ASYNC,
					 UFFD_FEATURE_RWP_ASYNC));
	ASSERT_EQ(-EINVAL, uffd_set_mode(self->uffd, UFFD_FEATURE_EVENT_FORK, 0));
	wp = uffd_open(UFFD_FEATURE_PAGEFAULT_FLAG_WP);
	ASSERT_LE(0, wp);
	ASSERT_EQ(-EINVAL, uffd_set_mode(wp, UFFD_FEATURE_RWP_ASYNC, 0));
	close(wp);
}

/*
 * Reclaim of anonymous memory: the swap entry of a protected page carries
 * the uffd bit (the scan's 'S', swap with uffd-rwp) and swap-in restores
 * PROT_NONE, so the first access after it still traps, and reads what the
 * page held.
 */
CASE_NEEDS(rwp, swap_keeps_protection, PB_UFFD_RWP | PB_ANON, 0)
TEST_F(rwp, swap_keeps_protection)
{
	char seen[NR_UNITS + 1];
	int tries;

	PTMARK_REQUIRE_SWAP();
	protect(_metadata, self, 0, self->nr, true);
	for (tries = 0; tries < 3; tries++) {
		ASSERT_EQ(0, madvise(self->mem, self->len, MADV_PAGEOUT));
		ASSERT_EQ(0, unit_states_of(self, -1, self->mem, self->nr,
					    seen, NULL));
		if (!strcmp(seen, all_units(self, 'S')))
			break;
	}
	ASSERT_UNITS(all_units(self, 'S'), "after MADV_PAGEOUT");
	assert_trapped(_metadata, self, 0, false, 0, fill_of(0));
	/* Swapped in by the write itself, straight from the entry. */
	assert_trapped(_metadata, self, 1, true, 'Q', 'Q');
	assert_states_of(_metadata, self, -1, self->mem,
			 "PPS", "after two accesses");
}

/*
 * Reclaim of shmem: Documentation/admin-guide/mm/userfaultfd.rst says
 * "Protection is preserved across page reclaim".  A reclaimed shmem page
 * leaves no swap entry in the page table (its swap entry is the file's),
 * so whatever the kernel keeps there, the first access after reclaim must
 * still trap, and read what the page held.  Known kernel bug
 * rwp-shmem-reclaim: try_to_unmap_one() clears a file folio's PTE and
 * keeps a marker for uffd-wp VMAs only, so every unit is a none PTE and
 * the read goes through, unreported, with the old data.  A unit left
 * 'R' was not reclaimed at all: that proves nothing, and fails.  Where
 * the protection held, the page table keeps it in a uffd marker, as
 * uffd-wp does (kernel-patches/ patch 06): every unit 'W'.
 */
CASE_NEEDS(rwp, shmem_reclaim_keeps_protection, PB_UFFD_RWP | PB_SHMEM, 0)
TEST_F(rwp, shmem_reclaim_keeps_protection)
{
	char seen[NR_UNITS + 1], text[96];
	struct uffd_msg msg;
	struct access a;
	int tries, ret;

	PTMARK_REQUIRE_SWAP();
	protect(_metadata, self, 0, self->nr, true);
	for (tries = 0; tries < 3; tries++) {
		ASSERT_EQ(0, madvise(self->mem, self->len, MADV_PAGEOUT));
		ASSERT_EQ(0, unit_states_of(self, -1, self->mem, self->nr,
					    seen, NULL));
		if (!strchr(seen, 'R'))
			break;
	}
	TH_LOG("after MADV_PAGEOUT: %s", seen);
	ASSERT_EQ(NULL, strchr(seen, 'R'))
		TH_LOG("a protected unit was not reclaimed");
	if (ptmark_misobserve("rwp-reclaim-scan"))
		seen[0] = '?';
	if (!strcmp(seen, all_units(self, 'N'))) {
		/* None PTEs hold no protection: the read must not block. */
		ret = access_unblocked(_metadata, self, &a, 0, false, 0, &msg);
		if (ptmark_misobserve("rwp-reclaim-read"))
			a.value = fill_of(1);
		if (ret == 0 && a.value == fill_of(0))
			KERNEL_BUG("rwp-shmem-reclaim",
				   "the protected units are none PTEs after MADV_PAGEOUT and a read of unit 0 went through unreported with its old data");
		ASSERT_EQ(0, ret) TH_LOG("unit 0 raised %s",
					 uffd_msg_text(&msg, text, sizeof(text)));
		ASSERT_EQ(fill_of(0), a.value) TH_LOG("unit 0 read");
	}
	ASSERT_STREQ(all_units(self, 'W'), seen)
		TH_LOG("unit states after MADV_PAGEOUT");
	assert_trapped(_metadata, self, 0, false, 0, fill_of(0));
	KERNEL_BUG_NOT_SEEN("rwp-shmem-reclaim");
}

/*
 * Migration to the other node: the migration entry carries the uffd bit
 * and the new PTE is PROT_NONE again; the data moved with the page.
 */
TEST_F(rwp, migration_keeps_protection)
{
	int status[NR_UNITS], nodes[NR_UNITS], target;
	void *addrs[NR_UNITS];
	size_t u;
	long ret;

	PTMARK_REQUIRE_TWO_NODES();
	protect(_metadata, self, 0, self->nr, true);
	for (u = 0; u < self->nr; u++)
		addrs[u] = unit_ptr(self, u);
	ASSERT_EQ(0, move_pages(0, self->nr, addrs, NULL, status, 0));
	ASSERT_LE(0, status[0]);
	target = !status[0];
	for (u = 0; u < self->nr; u++)
		nodes[u] = target;
	ret = move_pages(0, self->nr, addrs, nodes, status, MPOL_MF_MOVE);
	ASSERT_LE(0, ret) TH_LOG("move_pages: %s", strerror(errno));
	for (u = 0; u < self->nr; u++) {
		ASSERT_TRUE(status[u] == target || status[u] == -EBUSY)
			TH_LOG("unit %zu status %d", u, status[u]);
	}
	ASSERT_EQ(target, status[0]) TH_LOG("unit 0 did not move");
	ASSERT_UNITS(all_units(self, 'R'), "after migration");
	/* The query itself does not fault: status says the new node. */
	ASSERT_EQ(0, move_pages(0, 1, addrs, NULL, status, 0));
	ASSERT_EQ(target, status[0]);
	assert_trapped(_metadata, self, 0, false, 0, fill_of(0));
	assert_trapped(_metadata, self, 1, true, 'M', 'M');
}

/*
 * mprotect() keeps RWP protection: a protected unit made read-only and
 * then writable again is still protnone with the uffd bit, and traps.
 */
TEST_F(rwp, mprotect_keeps_protection)
{
	protect(_metadata, self, 0, self->nr, true);
	ASSERT_EQ(0, mprotect(self->mem, self->len, PROT_READ));
	ASSERT_UNITS(all_units(self, 'R'), "made read-only");
	assert_trapped(_metadata, self, 0, false, 0, fill_of(0));
	ASSERT_EQ(0, mprotect(self->mem, self->len, PROT_READ | PROT_WRITE));
	assert_states_of(_metadata, self, -1, self->mem, "PR",
			 "made writable again");
	assert_trapped(_metadata, self, 1, true, 'R', 'R');
}

/*
 * A VMA made PROT_NONE: its present entries are protnone without the
 * uffd bit meaning anything, named plain PROT_NONE ('n'), never RWP or
 * NUMA hinting; unprotected units too.
 */
TEST_F(rwp, prot_none_is_not_rwp)
{
	protect(_metadata, self, 1, 1, true);
	ASSERT_EQ(0, mprotect(self->mem, self->unit, PROT_NONE));
	/* Unit 1 is another VMA now, still readable-writable and RWP. */
	assert_states_of(_metadata, self, -1, self->mem, "nR",
			 "unit 0 PROT_NONE, unit 1 protected");
	ASSERT_EQ(0, mprotect(self->mem, self->unit, PROT_READ | PROT_WRITE));
	assert_states_of(_metadata, self, -1, self->mem, "PR",
			 "unit 0 accessible again");
}

/*
 * WP and RWP side by side in one process: the uffd bit of a WP range's
 * protected page is named uffd-wp, the RWP range's uffd-rwp, and each
 * range's fault carries its own flag.
 */
TEST_F(rwp, wp_beside_rwp)
{
	struct ptmark_record rec;
	struct uffd_msg msg;
	struct writer w;
	int wp;

	protect(_metadata, self, 0, self->nr, true);
	wp = uffd_open(UFFD_FEATURE_PAGEFAULT_FLAG_WP);
	ASSERT_LE(0, wp);
	ASSERT_EQ(0, uffd_unregister_all(self->uffd, unit_ptr(self, 1),
					 self->len - self->unit));
	/* Unregistering restored the PTEs: no RWP left there. */
	assert_states_of(_metadata, self, -1, self->mem, "RP",
			 "after unregistering all but unit 0");
	ASSERT_EQ(0, uffd_register(wp, unit_ptr(self, 1), self->unit,
				   UFFDIO_REGISTER_MODE_WP));
	ASSERT_EQ(0, uffd_writeprotect(wp, unit_ptr(self, 1), self->unit,
				       UFFDIO_WRITEPROTECT_MODE_WP));
	assert_states_of(_metadata, self, -1, self->mem, "Rw",
			 "RWP unit 0, WP unit 1");
	ASSERT_EQ(0, ptmark_scan_dense(self->ptmark, unit_ptr(self, 1), 1, &rec));
	ASSERT_NE(0, rec.vma_flags & PTMARK_VMA_UFFD_WP);
	ASSERT_EQ(0, rec.vma_flags & PTMARK_VMA_UFFD_RWP);

	ASSERT_EQ(0, writer_start(&w, unit_ptr(self, 1), 'V'));
	ASSERT_EQ(1, uffd_read_msg(wp, WAIT_MS, &msg));
	ASSERT_EQ(UFFD_PAGEFAULT_FLAG_WP | UFFD_PAGEFAULT_FLAG_WRITE,
		  msg.arg.pagefault.flags);
	ASSERT_EQ(0, uffd_writeprotect(wp, unit_ptr(self, 1), self->unit, 0));
	ASSERT_TRUE(writer_done_within(&w, WAIT_MS));
	pthread_join(w.thread, NULL);
	assert_trapped(_metadata, self, 0, false, 0, fill_of(0));
	close(wp);
}

/*
 * A guard installed over protected units zaps them to guard markers (the
 * protection goes with the PTEs); removing the guard leaves none entries,
 * whose next access goes through unprotected.
 */
CASE_NEEDS(rwp, guard_over_protection, PB_UFFD_RWP | PB_GUARD | NEEDS_GUARD, 0)
TEST_F(rwp, guard_over_protection)
{
	protect(_metadata, self, 0, self->nr, true);
	ASSERT_EQ(0, madvise(unit_ptr(self, 1), self->unit,
			     MADV_GUARD_INSTALL));
	assert_states_of(_metadata, self, -1, self->mem, "RGR",
			 "guard over unit 1");
	ASSERT_EQ(SIGSEGV, probe_read(unit_ptr(self, 1), &(char){ 0 }));
	ASSERT_TRUE(probe_hit_guard(unit_ptr(self, 1)));
	ASSERT_EQ(0, madvise(unit_ptr(self, 1), self->unit, MADV_GUARD_REMOVE));
	assert_states_of(_metadata, self, -1, self->mem, "RNR",
			 "guard removed");
	assert_free(_metadata, self, 1, false, 0,
		    FILE_BACKED(self) ? fill_of(1) : 0);
	assert_trapped(_metadata, self, 0, false, 0, fill_of(0));
}

/*
 * Unregistering restores every protected PTE (the documented cleanup),
 * and the VMA loses the flag.
 */
TEST_F(rwp, unregister_restores)
{
	struct ptmark_record rec;

	protect(_metadata, self, 0, self->nr, true);
	ASSERT_EQ(0, uffd_unregister_all(self->uffd, self->mem, self->len));
	ASSERT_UNITS(all_units(self, 'P'), "after UFFDIO_UNREGISTER");
	ASSERT_EQ(0, ptmark_scan_dense(self->ptmark, self->mem, 1, &rec));
	ASSERT_EQ(0, rec.vma_flags & PTMARK_VMA_UFFD_RWP);
	assert_free(_metadata, self, 0, true, 'U', 'U');
}

/* ---------------------------------------------------------------------
 * fork and mremap.
 */

/* A forked child that accesses its copy of the region on request. */
struct child {
	struct served_child s;	/* requests: struct child_cmd; answers: the byte each access saw */
	int pidfd;
};

struct child_cmd {
	long unit;		/* -1: exit */
	int write;
	char value;
};

static void child_main(void *arg, int cmd, int result)
{
	rwp_t *self = arg;
	struct child_cmd c;
	volatile char *p;
	char v;

	while (read(cmd, &c, sizeof(c)) == sizeof(c) && c.unit >= 0) {
		p = unit_ptr(self, c.unit);
		if (c.write)
			*p = c.value;
		v = *p;
		if (write(result, &v, 1) != 1)
			break;
	}
	_exit(0);
}

static void child_start(struct __test_metadata *_metadata, rwp_t *self,
			struct child *c)
{
	ASSERT_EQ(0, served_child_start(&c->s, child_main, self));
	c->pidfd = pidfd_of(c->s.pid);
	ASSERT_LE(0, c->pidfd);
}

/* Ask the child to access unit @u: 0 or -errno. */
static int child_access(struct child *c, size_t u, bool store, char value)
{
	struct child_cmd cmd = { .unit = u, .write = store, .value = value };

	return write(c->s.cmd, &cmd, sizeof(cmd)) == sizeof(cmd) ? 0 : -errno;
}

/* 1 and the byte the child's access saw within @ms, 0 if none yet. */
static int child_result(struct child *c, int ms, char *v)
{
	struct pollfd pfd = { .fd = c->s.ack, .events = POLLIN };

	if (poll(&pfd, 1, ms) != 1)
		return 0;
	return read(c->s.ack, v, 1) == 1;
}

static void child_stop(struct __test_metadata *_metadata, struct child *c)
{
	int status = served_child_stop(&c->s);

	close(c->pidfd);
	ASSERT_TRUE(status >= 0 && WIFEXITED(status) && !WEXITSTATUS(status));
}

/*
 * fork without UFFD_FEATURE_EVENT_FORK: the child's VMA is not registered.
 * Anonymous memory has its page tables copied, and __copy_present_ptes()
 * (copy_huge_pmd() for a THP) gives the child accessible entries without
 * the uffd bit; a shared file mapping's are not copied at all
 * (vma_needs_copy() asks the child's VMA, which has no uffd flag left).
 * Either way the child's accesses go through.  The parent's units stay
 * protected, and a child's write to a private copy leaves its data alone.
 */
TEST_F(rwp, fork_without_event)
{
	struct ptmark_record rec;
	struct uffd_msg msg;
	struct child c;
	char v;

	protect(_metadata, self, 0, self->nr, true);
	child_start(_metadata, self, &c);
	assert_states_of(_metadata, self, c.pidfd, self->mem,
			 all_units(self, FILE_BACKED(self) ? 'N' : 'P'),
			 "in the child");
	ASSERT_EQ(0, ptmark_scan_dense_of(self->ptmark, c.pidfd, self->mem, 1,
					  &rec));
	ASSERT_EQ(0, rec.vma_flags & PTMARK_VMA_UFFD_RWP);
	ASSERT_EQ(0, child_access(&c, 0, false, 0));
	ASSERT_EQ(1, child_result(&c, WAIT_MS, &v))
		TH_LOG("the child's read was blocked");
	ASSERT_EQ(fill_of(0), v);
	ASSERT_EQ(0, child_access(&c, 1, true, 'C'));
	ASSERT_EQ(1, child_result(&c, WAIT_MS, &v))
		TH_LOG("the child's write was blocked");
	ASSERT_EQ('C', v);
	ASSERT_EQ(0, uffd_read_msg(self->uffd, 0, &msg));
	ASSERT_UNITS(all_units(self, 'R'), "in the parent");
	assert_trapped(_metadata, self, 1, false, 0,
		       FILE_BACKED(self) ? 'C' : fill_of(1));
	child_stop(_metadata, &c);
}

/*
 * fork with UFFD_FEATURE_EVENT_FORK: the child gets a userfaultfd of its
 * own (the event's ufd) and keeps every unit protected; its access
 * blocks and reaches that userfaultfd, not the parent's.
 */
TEST_F(rwp, fork_with_event)
{
	struct uffd_event_reader r;
	struct uffd_msg msg;
	struct child c;
	char v;

	reopen_uffd(_metadata, self, UFFD_FEATURE_EVENT_FORK);
	protect(_metadata, self, 0, self->nr, true);
	ASSERT_EQ(0, uffd_event_reader_start(&r, self->uffd, 5 * WAIT_MS));
	/* fork() waits in dup_userfaultfd_complete() for the event's reader. */
	child_start(_metadata, self, &c);
	pthread_join(r.thread, NULL);
	ASSERT_TRUE(r.got);
	ASSERT_EQ(UFFD_EVENT_FORK, r.msg.event);
	ASSERT_LE(0, (int)r.msg.arg.fork.ufd);

	assert_states_of(_metadata, self, c.pidfd, self->mem,
			 all_units(self, 'R'), "in the child");
	ASSERT_EQ(0, child_access(&c, 0, false, 0));
	ASSERT_EQ(1, uffd_read_msg(r.msg.arg.fork.ufd, WAIT_MS, &msg))
		TH_LOG("no RWP fault on the child's userfaultfd");
	assert_rwp_msg(_metadata, &msg, self->mem, false, 0);
	ASSERT_EQ(0, child_result(&c, STILL_BLOCKED_MS, &v))
		TH_LOG("the child's read went through unresolved");
	ASSERT_EQ(0, uffd_read_msg(self->uffd, 0, &msg));
	ASSERT_EQ(0, uffd_rwprotect(r.msg.arg.fork.ufd, self->mem, self->unit,
				    0));
	ASSERT_EQ(1, child_result(&c, WAIT_MS, &v));
	ASSERT_EQ(fill_of(0), v);
	assert_states_of(_metadata, self, c.pidfd, self->mem, "PR",
			 "in the child after its read");
	ASSERT_UNITS(all_units(self, 'R'), "in the parent");
	child_stop(_metadata, &c);
	close(r.msg.arg.fork.ufd);
}

/* Move the region to a fresh address aligned to its unit. */
static void move_region(struct __test_metadata *_metadata, rwp_t *self)
{
	size_t span = self->len + self->unit;
	char *spot, *dst;

	spot = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, spot);
	dst = (char *)(((uintptr_t)spot + self->unit - 1) &
		       ~(uintptr_t)(self->unit - 1));
	if (dst > spot)
		munmap(spot, dst - spot);
	if (dst + self->len < spot + span)
		munmap(dst + self->len, spot + span - dst - self->len);
	dst = mremap(self->mem, self->len, self->len,
		     MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	ASSERT_NE(MAP_FAILED, dst) TH_LOG("mremap: %s", strerror(errno));
	self->mem = dst;
}

/*
 * mremap with UFFD_FEATURE_EVENT_REMAP: the context follows the move and
 * so does protection (move_ptes() keeps the entries); the fault reports
 * the new address.
 */
TEST_F(rwp, mremap_with_event)
{
	struct uffd_event_reader r;

	reopen_uffd(_metadata, self, UFFD_FEATURE_EVENT_REMAP);
	protect(_metadata, self, 0, self->nr, true);
	ASSERT_EQ(0, uffd_event_reader_start(&r, self->uffd, 5 * WAIT_MS));
	move_region(_metadata, self);
	pthread_join(r.thread, NULL);
	ASSERT_TRUE(r.got);
	ASSERT_EQ(UFFD_EVENT_REMAP, r.msg.event);
	ASSERT_EQ((uintptr_t)self->mem, r.msg.arg.remap.to);
	ASSERT_UNITS(all_units(self, 'R'), "after the move");
	assert_trapped(_metadata, self, 0, false, 0, fill_of(0));
	assert_trapped(_metadata, self, 1, true, 'm', 'm');
}

/*
 * mremap without the event: the moved VMA leaves the context, and
 * move_ptes() makes its RWP entries accessible without the uffd bit.
 */
TEST_F(rwp, mremap_without_event)
{
	struct ptmark_record rec;

	protect(_metadata, self, 0, self->nr, true);
	move_region(_metadata, self);
	ASSERT_UNITS(all_units(self, 'P'), "after the move");
	ASSERT_EQ(0, ptmark_scan_dense(self->ptmark, self->mem, 1, &rec));
	ASSERT_EQ(0, rec.vma_flags & PTMARK_VMA_UFFD_RWP);
	assert_free(_metadata, self, 0, false, 0, fill_of(0));
	assert_free(_metadata, self, 1, true, 'f', 'f');
}

/* ---------------------------------------------------------------------
 * NUMA hinting beside RWP.
 */
#define NUMA_SYSCTL		"/proc/sys/kernel/numa_balancing"
#define NUMA_DEBUGFS		"/sys/kernel/debug/sched/numa_balancing/"
/* How long NUMA balancing gets to mark an unprotected unit (TCG is slow). */
#define NUMA_HINT_MS		60000

struct numa_knob {
	const char *path;
	const char *value;
	char saved[32];
};

/*
 * Scanning on, and quick: a task's scans come every scan_period_min_ms at
 * first, and no later than scan_period_max_ms however its faults adapt
 * the period (the default maximum is a minute).
 */
static struct numa_knob numa_knobs[] = {
	{ NUMA_SYSCTL, "1" },
	{ NUMA_DEBUGFS "scan_delay_ms", "10" },
	{ NUMA_DEBUGFS "scan_period_max_ms", "100" },
	{ NUMA_DEBUGFS "scan_period_min_ms", "10" },
};

/*
 * Set (or with @restore put back, last set first) the knobs that make
 * scanning quick.  The teardown restores too: a failed assertion must not
 * leave NUMA balancing on for the next case.
 */
static int numa_knobs_set(bool restore)
{
	struct numa_knob *k;
	char *text;
	int ret;

	if (restore) {
		for (k = numa_knobs + ARRAY_SIZE(numa_knobs); k-- > numa_knobs;) {
			if (k->saved[0])
				write_text_file(k->path, k->saved);
			k->saved[0] = '\0';
		}
		return 0;
	}
	for (k = numa_knobs; k < numa_knobs + ARRAY_SIZE(numa_knobs); k++) {
		text = read_text_file(k->path);
		if (!text)
			return -errno;
		snprintf(k->saved, sizeof(k->saved), "%s", text);
		free(text);
		ret = write_text_file(k->path, k->value);
		if (ret)
			return ret;
	}
	return 0;
}

#define PTMARK_REQUIRE_NUMA_BALANCING()					\
	do {								\
		if (access(NUMA_SYSCTL, F_OK) && errno == ENOENT)	\
			SKIP(return, "kernel lacks NUMA balancing (no %s)", \
			     NUMA_SYSCTL);				\
	} while (0)

static void numa_knobs_on(struct __test_metadata *_metadata)
{
	int ret;

	ret = numa_knobs_set(false);
	if (ret) {
		numa_knobs_set(true);
		ASSERT_EQ(0, ret) TH_LOG("NUMA balancing knobs: %s",
					 strerror(-ret));
	}
}

/* A /proc/vmstat NUMA balancing counter. */
static long long numa_stat(const char *name)
{
	return text_file_value("/proc/vmstat", name);
}

/* Burn this thread's CPU time for about @ms: NUMA scans follow it. */
static void spin_ms(int ms)
{
	double end = monotonic_ms() + ms;
	volatile unsigned long n = 0;

	while (monotonic_ms() < end)
		n++;
}

/*
 * A thread burning CPU time, whose NUMA scans run beside the test's.  It
 * also makes the process multi-threaded: folio_can_map_prot_numa() leaves
 * alone the folios of a single-threaded process on the node it runs on.
 */
struct spinner {
	pthread_t thread;
	atomic_bool stop;
};

static void *spinner_main(void *arg)
{
	struct spinner *sp = arg;

	while (!atomic_load(&sp->stop))
		spin_ms(5);
	return NULL;
}

/*
 * Wait, burning CPU time, until NUMA balancing has made an unprotected
 * unit NUMA-hinting; meanwhile every unit must be what @prot says
 * (protected: 'R'; not: 'P' or 'h').  The first hinted unit, -1 if none
 * was in @ms (@seen then has the last states); a unit of another state
 * fails the test.
 */
static long wait_numa_hint(struct __test_metadata *_metadata, rwp_t *self,
			   const bool *prot, int ms, char *seen)
{
	double end = monotonic_ms() + ms;
	size_t u;

	do {
		spin_ms(20);
		ASSERT_EQ(0, unit_states_of(self, -1, self->mem, self->nr,
					    seen, NULL));
		for (u = 0; u < self->nr; u++) {
			ASSERT_TRUE(prot[u] ? seen[u] == 'R' :
				    seen[u] == 'P' || seen[u] == 'h')
				TH_LOG("%s unit %zu under NUMA balancing: %s",
				       prot[u] ? "protected" : "unprotected",
				       u, seen);
		}
		for (u = 0; u < self->nr; u++)
			if (seen[u] == 'h')
				return u;
	} while (monotonic_ms() < end);
	return -1;
}

/*
 * A NUMA-hinted unit's access: a NUMA hinting fault, never taken for an
 * RWP one: it goes through with no message, counts in numa_hint_faults,
 * and leaves the unit accessible (or, @scanning, perhaps NUMA-hinted
 * again already).
 */
static void assert_numa_fault(struct __test_metadata *_metadata, rwp_t *self,
			      size_t u, bool scanning)
{
	long long faults = numa_stat("numa_hint_faults");
	char seen[2];

	ASSERT_LE(0, faults) TH_LOG("no numa_hint_faults in /proc/vmstat");
	assert_free(_metadata, self, u, false, 0, fill_of(u));
	ASSERT_LT(faults, numa_stat("numa_hint_faults"))
		TH_LOG("the access of NUMA-hinted unit %zu took no NUMA hinting fault",
		       u);
	ASSERT_EQ(0, unit_states_of(self, -1, unit_ptr(self, u), 1, seen, NULL));
	ASSERT_TRUE(seen[0] == 'P' || (scanning && seen[0] == 'h'))
		TH_LOG("unit %zu after its NUMA fault: %c", u, seen[0]);
}

/*
 * NUMA balancing makes present entries PROT_NONE too, without the uffd
 * bit.  With it on, the task's own scans must leave RWP-protected units
 * alone (still 'R', the uffd bit kept: change_pte_range() skips a protnone
 * entry), and mark unprotected ones NUMA-hinting ('h', never 'R'): that
 * the scans ran at all numa_pte_updates shows.  A spinning thread keeps
 * the process multi-threaded: folio_can_map_prot_numa() leaves a
 * single-threaded task's pages on its own node unhinted (the arm64 VM
 * kept the task there every time).  An access of a hinted unit is a NUMA
 * fault, not an RWP one; an access of a protected unit still traps.
 */
CASE_NEEDS(rwp, numa_hint_is_not_rwp, PB_UFFD_RWP | PB_ANON, 0)
TEST_F_TIMEOUT(rwp, numa_hint_is_not_rwp, 180)
{
	bool prot[NR_UNITS] = { 0 };
	char seen[NR_UNITS + 1];
	struct spinner sp = { 0 };
	long long updates;
	long hinted;
	size_t u;

	PTMARK_REQUIRE_TWO_NODES();
	PTMARK_REQUIRE_NUMA_BALANCING();
	for (u = 0; u < self->nr / 2; u++)
		prot[u] = true;
	protect(_metadata, self, 0, self->nr / 2, true);
	updates = numa_stat("numa_pte_updates");
	ASSERT_LE(0, updates) TH_LOG("no numa_pte_updates in /proc/vmstat");
	numa_knobs_on(_metadata);
	ASSERT_EQ(0, pthread_create(&sp.thread, NULL, spinner_main, &sp));
	hinted = wait_numa_hint(_metadata, self, prot, NUMA_HINT_MS, seen);
	atomic_store(&sp.stop, true);
	pthread_join(sp.thread, NULL);
	numa_knobs_set(true);
	TH_LOG("under NUMA balancing: %s", seen);
	ASSERT_LE(0, hinted) TH_LOG("NUMA balancing marked no unit in %d ms",
				    NUMA_HINT_MS);
	ASSERT_LT(updates, numa_stat("numa_pte_updates"));
	assert_numa_fault(_metadata, self, hinted, false);
	assert_trapped(_metadata, self, 0, false, 0, fill_of(0));
}

/* ---------------------------------------------------------------------
 * Plain PROT_NONE outside any userfaultfd: the scan's third protnone.
 */
TEST(plain_prot_none)
{
	struct ptmark_record rec;
	int fd = ptmark_open();
	char *p;

	ASSERT_LE(0, fd);
	p = mmap(NULL, page_size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	p[0] = 1;
	ASSERT_EQ(0, ptmark_scan_dense(fd, p, 1, &rec));
	ASSERT_EQ(PTMARK_KIND_PRESENT, rec.kind);
	ASSERT_EQ(0, rec.bits & (PTMARK_BIT_PROTNONE | PTMARK_BIT_UFFD_RWP |
				 PTMARK_BIT_NUMA_HINT));
	ASSERT_EQ(0, mprotect(p, page_size, PROT_NONE));
	ASSERT_EQ(0, ptmark_scan_dense(fd, p, 1, &rec));
	ASSERT_EQ(PTMARK_KIND_PRESENT, rec.kind);
	ASSERT_EQ(PTMARK_BIT_PROTNONE,
		  rec.bits & (PTMARK_BIT_PROTNONE | PTMARK_BIT_UFFD_RWP |
			      PTMARK_BIT_NUMA_HINT | PTMARK_BIT_UFFD_WP));
	munmap(p, page_size);
	close(fd);
}

/* ---------------------------------------------------------------------
 * NUMA balancing racing protection.
 */

/*
 * A spinning thread keeps task_numa_work() changing the region's entries
 * while the test, unit by unit, protects the unprotected units and
 * unprotects the protected ones, round after round.  Throughout, the scan
 * must name every protected unit RWP ('R': NUMA scanning skips a protnone
 * entry, and protecting a NUMA-hinted one adds the uffd bit) and every
 * other one accessible or NUMA-hinted ('P' or 'h').  A unit protected
 * while NUMA-hinted must trap with its RWP fault (a NUMA fault taken for
 * it would let the access through and lose the protection), and an
 * access of a unit NUMA-hinted while registered for RWP must be a NUMA
 * fault (an RWP fault taken for it would block).  The windows are the
 * units protected while NUMA-hinted.
 */
CASE_NEEDS(rwp, numa_hint_races_protection, PB_UFFD_RWP | PB_ANON, 0)
TEST_F_TIMEOUT(rwp, numa_hint_races_protection, 300)
{
	struct ptmark_race race = PTMARK_RACE("units protected while NUMA-hinted", 4);
	bool prot[NR_UNITS] = { 0 }, was_hinted[NR_UNITS];
	char seen[NR_UNITS + 1];
	struct spinner sp = { 0 };
	struct uffd_msg msg;
	double end;
	long hinted;
	size_t u;

	PTMARK_REQUIRE_TWO_NODES();
	PTMARK_REQUIRE_NUMA_BALANCING();
	for (u = 0; u < self->nr; u += 2)
		prot[u] = true;
	for (u = 0; u < self->nr; u += 2)
		protect(_metadata, self, u, 1, true);
	numa_knobs_on(_metadata);
	ASSERT_EQ(0, pthread_create(&sp.thread, NULL, spinner_main, &sp));
	end = monotonic_ms() + 2 * NUMA_HINT_MS;
	while (ptmark_race_hits(&race) < 2 * race.need &&
	       monotonic_ms() < end) {
		race.rounds++;
		hinted = wait_numa_hint(_metadata, self, prot, 100, seen);
		for (u = 0; u < self->nr; u++) {
			was_hinted[u] = seen[u] == 'h';
			protect(_metadata, self, u, 1, !prot[u]);
			prot[u] = !prot[u];
		}
		wait_numa_hint(_metadata, self, prot, 0, seen);
		for (u = 0; u < self->nr; u++)
			if (prot[u] && was_hinted[u])
				ptmark_race_hit(&race);
		if (hinted < 0)
			continue;
		/* Unit @hinted was NUMA-hinted and is protected now. */
		assert_trapped(_metadata, self, hinted, false, 0,
			       fill_of(hinted));
		protect(_metadata, self, hinted, 1, true);
		for (u = 0; u < self->nr; u++)
			if (seen[u] == 'h') {
				assert_numa_fault(_metadata, self, u, true);
				break;
			}
	}
	atomic_store(&sp.stop, true);
	pthread_join(sp.thread, NULL);
	numa_knobs_set(true);
	ASSERT_EQ(0, uffd_read_msg(self->uffd, 0, &msg))
		TH_LOG("a message nobody's access raised: event %#x", msg.event);
	RACE_EXERCISED(&race);
}

/* ---------------------------------------------------------------------
 * The kernel's own accesses: GUP on protected pages.
 */

/* What @path needs: its fd in self->io, a page in self->bounce. */
static void path_open(struct __test_metadata *_metadata, rwp_t *self,
		      enum access_path path)
{
	self->bounce = aligned_alloc(page_size, page_size);
	ASSERT_NE(NULL, self->bounce);
	switch (path) {
	case BY_DIRECT_IO:
		self->io = ptmark_ext4_tmpfile(O_DIRECT);
		ASSERT_LE(0, self->io) TH_LOG("O_DIRECT file: %s",
					      strerror(errno));
		break;
	case BY_PIN:
		self->io = ptmark_pin_session(self->ptmark, -1);
		ASSERT_LE(0, self->io) TH_LOG("pin session: %s",
					      strerror(-self->io));
		break;
	case BY_PROC_MEM:
		self->io = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, self->io);
		break;
	default:
		break;
	}
}

/* What a write by @path leaves in the unit: a pin writes nothing. */
static char path_written(enum access_path path, char value, char before)
{
	return path == BY_PIN || path == BY_URING ? before : value;
}

/*
 * GUP on a protected page: gup_can_follow_protnone() refuses to follow a
 * protnone entry of an accessible VM_UFFD_RWP VMA whatever the caller's
 * FOLL_HONOR_NUMA_FAULT, so GUP faults, in kernel mode.  A context opened
 * with UFFD_USER_MODE_ONLY (the suite's) makes handle_userfault() fail
 * such a fault at once: the call fails, EFAULT (EIO for /proc/self/mem,
 * whose mem_rw() says so when nothing was copied), with no message, the
 * unit still protected and its data untouched.
 */
static void assert_gup_refused(struct __test_metadata *_metadata, rwp_t *self,
			       enum access_path path, size_t u, bool write)
{
	struct uffd_msg msg;
	struct access a;
	char seen[2], text[96];

	ASSERT_EQ(0, access_unblocked_by(_metadata, self, path, &a, u, write,
					 'r', &msg))
		TH_LOG("unit %zu by %s raised %s", u, path_names[path],
		       uffd_msg_text(&msg, text, sizeof(text)));
	ASSERT_EQ(path == BY_PROC_MEM ? EIO : EFAULT, a.err)
		TH_LOG("unit %zu by %s: %s", u, path_names[path],
		       strerror(a.err));
	ASSERT_EQ(0, unit_states_of(self, -1, unit_ptr(self, u), 1, seen, NULL));
	ASSERT_EQ('R', seen[0]) TH_LOG("unit %zu after the refused access", u);
}

/* Reads (but for io_uring, which pins FOLL_WRITE alone), then writes. */
static void gup_refused(struct __test_metadata *_metadata, rwp_t *self,
			enum access_path path)
{
	protect(_metadata, self, 0, self->nr, true);
	if (path != BY_URING)
		assert_gup_refused(_metadata, self, path, 0, false);
	assert_gup_refused(_metadata, self, path, 1, true);
	protect(_metadata, self, 0, self->nr, false);
	ASSERT_EQ(fill_of(0), unit_ptr(self, 0)[0]);
	ASSERT_EQ(fill_of(1), unit_ptr(self, 1)[0]);
}

/*
 * A context that takes kernel-mode faults: every path here but
 * /proc/self/mem may drop the mmap lock for the fault (FOLL_UNLOCKABLE:
 * pin_user_pages_fast() for O_DIRECT, io_uring and ptmark's GUP-fast pin,
 * pin_user_pages_remote() with @locked for process_vm_rw), so in sync mode
 * the caller blocks with an RWP fault, FOLL_WRITE's with the write flag,
 * as a CPU access would, until the handler unprotects; then the call
 * completes with the page's data.  Unprotected, the unit takes the same
 * access with no fault.
 */
static void gup_traps(struct __test_metadata *_metadata, rwp_t *self,
		      enum access_path path)
{
	path_open(_metadata, self, path);
	gup_refused(_metadata, self, path);
	reopen_uffd_kernel_faults(_metadata, self, 0);
	protect(_metadata, self, 0, self->nr, true);
	if (path != BY_URING)
		assert_trapped_by(_metadata, self, path, 0, false, 0,
				  fill_of(0));
	assert_trapped_by(_metadata, self, path, 1, true, 'g',
			  path_written(path, 'g', fill_of(1)));
	assert_states_of(_metadata, self, -1, self->mem,
			 path == BY_URING ? "RPR" : "PPR", "after the accesses");
	assert_free_by(_metadata, self, path, 1, true, 'k',
		       path_written(path, 'k', fill_of(1)));
}

/*
 * Async mode: the kernel resolves the same fault itself (do_uffd_rwp()
 * restores the entry) and the call goes through with no message, leaving
 * the unit accessible, as PAGEMAP_SCAN's PAGE_IS_ACCESSED shows too.
 */
static void gup_restores(struct __test_metadata *_metadata, rwp_t *self,
			 enum access_path path)
{
	char want[NR_UNITS + 1];

	path_open(_metadata, self, path);
	reopen_uffd(_metadata, self, UFFD_FEATURE_RWP_ASYNC);
	protect(_metadata, self, 0, self->nr, true);
	if (path != BY_URING)
		assert_free_by(_metadata, self, path, 0, false, 0, fill_of(0));
	assert_free_by(_metadata, self, path, 1, true, 'j',
		       path_written(path, 'j', fill_of(1)));
	assert_states_of(_metadata, self, -1, self->mem,
			 path == BY_URING ? "RPR" : "PPR", "after the accesses");
	memset(want, '-', self->nr);
	want[self->nr] = '\0';
	want[1] = 'a';
	if (path != BY_URING)
		want[0] = 'a';
	assert_accessed(_metadata, self, want);
}

TEST_F(rwp, gup_vm_rw_traps)
{
	gup_traps(_metadata, self, BY_VM_RW);
}

TEST_F(rwp, gup_vm_rw_restores)
{
	gup_restores(_metadata, self, BY_VM_RW);
}

TEST_F(rwp, gup_direct_io_traps)
{
	PTMARK_REQUIRE_EXT4();
	gup_traps(_metadata, self, BY_DIRECT_IO);
}

TEST_F(rwp, gup_direct_io_restores)
{
	PTMARK_REQUIRE_EXT4();
	gup_restores(_metadata, self, BY_DIRECT_IO);
}

/* Long-term pins: ptmark's GUP-fast pin (read through it), and io_uring. */
TEST_F(rwp, gup_pin_traps)
{
	gup_traps(_metadata, self, BY_PIN);
}

TEST_F(rwp, gup_pin_restores)
{
	gup_restores(_metadata, self, BY_PIN);
}

TEST_F(rwp, gup_uring_fixed_traps)
{
	gup_traps(_metadata, self, BY_URING);
}

TEST_F(rwp, gup_uring_fixed_restores)
{
	gup_restores(_metadata, self, BY_URING);
}

/*
 * /proc/self/mem reaches the page through access_remote_vm(), whose GUP
 * cannot drop the mmap lock.  A user-mode-only context refuses its fault
 * as it does every GUP's.  (A context taking kernel faults would get it
 * without FAULT_FLAG_ALLOW_RETRY, which handle_userfault() fails too, with
 * a stack dump under CONFIG_DEBUG_VM: not something a run may print.)  In
 * async mode the fault never needs to drop the lock, and the read and the
 * write go through, the unit left accessible.
 */
TEST_F(rwp, gup_proc_mem_refused)
{
	path_open(_metadata, self, BY_PROC_MEM);
	gup_refused(_metadata, self, BY_PROC_MEM);
}

TEST_F(rwp, gup_proc_mem_restores)
{
	gup_restores(_metadata, self, BY_PROC_MEM);
}

/* ---------------------------------------------------------------------
 * Truncation, the third documented drop.
 */

/*
 * Shrinking the file unmaps and frees the units past the new size, their
 * protection with them; grown back, those units are holes, whose access
 * goes through with no message, to zeroes.  Unit 0, within the size the
 * file kept, stays protected.
 */
CASE_NEEDS(rwp, truncate_drops_protection, PB_UFFD_RWP | PB_FILE, 0)
TEST_F(rwp, truncate_drops_protection)
{
	char want[NR_UNITS + 1];

	protect(_metadata, self, 0, self->nr, true);
	ASSERT_EQ(0, ftruncate(self->fd, self->unit));
	ASSERT_EQ(0, ftruncate(self->fd, self->len));
	memset(want, 'N', self->nr);
	want[self->nr] = '\0';
	want[0] = 'R';
	ASSERT_UNITS(want, "after truncating to one unit and back");
	assert_free(_metadata, self, 1, false, 0, 0);
	assert_free(_metadata, self, self->nr - 1, true, 't', 't');
	want[1] = 'P';
	want[self->nr - 1] = 'P';
	ASSERT_UNITS(want, "after the accesses past the old end");
	assert_trapped(_metadata, self, 0, false, 0, fill_of(0));
}

/* ---------------------------------------------------------------------
 * Huge tmpfs.
 */

/*
 * A PMD-mapped huge tmpfs folio, registered for RWP and protected: the
 * documentation says RWP works on shmem and protects the present entries,
 * so every page must stay protected, however the kernel maps it, and a
 * read must trap.
 * Known kernel bug rwp-shmem-thp-protect: change_pmd_range() splits a
 * file PMD for UFFDIO_RWPROTECT (pgtable_split_needed()), and splitting a
 * file PMD only zaps it; WP then puts markers in the empty table, RWP has
 * none, so every page of the folio is left without an entry and the read
 * goes through, unreported, with the old data.  Any other outcome (some
 * pages mapped, a read that blocks over none entries, a message, other
 * data) is a plain failure.  Where the protection held, each page is
 * protnone with the uffd bit, or a uffd marker (the protection of a page
 * the kernel unmapped, kernel-patches/ patch 07): 'R' or 'W'.
 */
TEST(huge_tmpfs_pmd_protected)
{
	const struct ptmark_backing *b = &ptmark_backings[BK_HUGE_TMPFS];
	size_t pmd = ptmark_pmd_size(), pages = pmd / page_size, i, none = 0;
	char why[PTMARK_WHY_LEN], text[96];
	struct ptmark_record *recs;
	struct uffd_msg msg;
	struct access a;
	int dev, fd, uffd;
	char *mem;

	if (ptmark_backing_unavailable(b, why, sizeof(why)))
		SKIP(return, "%s", why);
	dev = ptmark_open();
	ASSERT_LE(0, dev);
	recs = calloc(pages, sizeof(*recs));
	ASSERT_NE(NULL, recs);
	fd = ptmark_backing_fd(b, pmd);
	ASSERT_LE(0, fd) TH_LOG("huge tmpfs file: %s", strerror(errno));
	mem = ptmark_backing_mmap(b, fd, NULL, pmd, PROT_READ | PROT_WRITE, 0, 0);
	ASSERT_NE(MAP_FAILED, mem);
	memset(mem, 'H', pmd);
	ASSERT_EQ(0, ptmark_scan_dense(dev, mem, 1, recs));
	ASSERT_TRUE(recs[0].kind == PTMARK_KIND_PRESENT &&
		    (recs[0].bits & PTMARK_BIT_PMD))
		TH_LOG("the huge tmpfs folio is not PMD-mapped");
	uffd = uffd_open(UFFD_FEATURE_RWP | UFFD_FEATURE_THREAD_ID);
	ASSERT_LE(0, uffd);
	ASSERT_EQ(0, uffd_register(uffd, mem, pmd, UFFDIO_REGISTER_MODE_RWP));
	ASSERT_EQ(0, uffd_rwprotect(uffd, mem, pmd, UFFDIO_RWPROTECT_MODE_RWP));

	ASSERT_EQ(0, ptmark_scan_dense(dev, mem, pages, recs));
	if (ptmark_misobserve("rwp-thp-scan"))
		recs[1].kind = PTMARK_KIND_NONE;
	for (i = 0; i < pages; i++)
		none += recs[i].kind == PTMARK_KIND_NONE;
	if (none == pages) {
		/* No entry holds protection: the read must not block. */
		ASSERT_EQ(0, access_start_by(NULL, &a, BY_CPU, mem, false, 0));
		if (!access_done_within(&a, WAIT_MS)) {
			uffd_rwprotect(uffd, mem, pmd, 0);
			ASSERT_TRUE(access_done_within(&a, WAIT_MS));
			pthread_join(a.thread, NULL);
			ASSERT_TRUE(0) TH_LOG("a read blocked over none entries");
		}
		pthread_join(a.thread, NULL);
		ASSERT_EQ(0, uffd_read_msg(uffd, 0, &msg))
			TH_LOG("the read raised %s",
			       uffd_msg_text(&msg, text, sizeof(text)));
		ASSERT_EQ('H', a.value);
		KERNEL_BUG("rwp-shmem-thp-protect",
			   "UFFDIO_RWPROTECT left no entry in the PMD-mapped huge tmpfs range and a read went through unreported with its old data");
	}
	for (i = 0; i < pages; i++) {
		/* In braces: the harness logs a failed assertion after it. */
		ASSERT_TRUE(record_state(&recs[i]) == 'R' ||
			    record_state(&recs[i]) == 'W')
			TH_LOG("page %zu after UFFDIO_RWPROTECT: kind %u bits %#x marker %#x",
			       i, recs[i].kind, recs[i].bits, recs[i].marker);
	}
	ASSERT_EQ(0, access_start_by(NULL, &a, BY_CPU, mem, false, 0));
	ASSERT_EQ(1, uffd_read_msg(uffd, WAIT_MS, &msg))
		TH_LOG("no RWP fault for the protected folio");
	assert_rwp_msg(_metadata, &msg, mem, false, atomic_load(&a.tid));
	ASSERT_EQ(0, uffd_rwprotect(uffd, mem, pmd, 0));
	ASSERT_TRUE(access_done_within(&a, WAIT_MS));
	pthread_join(a.thread, NULL);
	ASSERT_EQ('H', a.value);
	munmap(mem, pmd);
	close(uffd);
	close(fd);
	close(dev);
	free(recs);
	KERNEL_BUG_NOT_SEEN("rwp-shmem-thp-protect");
}

/* ---------------------------------------------------------------------
 * Large anonymous folios split, collapsed and forked: a PMD-mapped THP
 * and 64 KiB mTHP folios, the cases of uffd_wp's uffd_wp_thp in RWP
 * mode.  An RWP-protected page is protnone with the uffd bit; every split
 * (partial unprotect, mprotect(), MADV_DONTNEED, mremap(), munmap(),
 * migration of part, swap-out) must keep exactly the protected pages so,
 * a collapse must refuse a range holding one (the uffd bit is the one
 * SCAN_PTE_UFFD looks for), and a fork must copy them so into the child
 * with the fork event and not at all without; each page checked by the
 * scan and by a read of it (ptmark_lp_run()).
 */
PTMARK_LP_TESTS(rwp_thp, PTMARK_PROT_RWP)

FIXTURE_NEEDS(rwp_thp, PB_UFFD_RWP);

PTMARK_GENERATED_TEST()

int main(int argc, char **argv)
{
	page_size = sysconf(_SC_PAGESIZE);
	if (ptmark_only_listing(argc, argv))
		return ptmark_harness_run(argc, argv, NULL);
	probe_kernel(&kernel);
	if (kernel.uffd || !(kernel.uffd_features & UFFD_FEATURE_RWP)) {
		ksft_print_header();
		if (kernel.uffd)
			ksft_exit_skip("no userfaultfd: %s\n",
				       strerror(-kernel.uffd));
		ksft_exit_skip("kernel lacks UFFD_FEATURE_RWP (userfaultfd read-write protection)\n");
	}
	if (probe_handlers_install())
		ksft_exit_fail_msg("probe handlers failed\n");
	ptmark_require_module(PTMARK_FEAT_UFFD_RWP,
			      "ptmark.ko has no PTMARK_FEAT_UFFD_RWP");
	ksft_print_msg("userfaultfd features %#llx; swap %s\n",
		       (unsigned long long)kernel.uffd_features,
		       swap_active() ? "active" : "off");
	return ptmark_harness_run(argc, argv, NULL);
}
