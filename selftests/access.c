// SPDX-License-Identifier: GPL-2.0
/*
 * Who may do what through /dev/ptmark: the access model of
 * Documentation/ptmark.rst ("Access"), verb by verb, for every kind of
 * caller the model tells apart.
 *
 *  - Looking (INFO, SCAN, unmovable QUERY) needs the fd only; pfns show
 *    when the fd's opener had CAP_SYS_ADMIN, as with /proc/pid/pagemap.
 *  - Changing anything (MARKER install and remove, unmovable SET, CLEAR,
 *    CREATE) needs the fd open for writing (EBADF) and its opener's
 *    CAP_SYS_ADMIN (EPERM), whoever holds the fd now.
 *  - Another process needs CAP_SYS_PTRACE of both the caller and the
 *    opener (EACCES, as mm_access() answers), and to be written to,
 *    CAP_SYS_NICE as process_madvise() asks (EPERM).  ptmark cannot read
 *    dumpability or ask the LSM, so it gives no uid-match access: a
 *    caller's own other process is refused too, stricter than ptrace.
 *  - A pidfd of a process that is gone answers ESRCH, a file that is no
 *    pidfd EBADF.
 *
 * Each verb runs in a child that takes the case's credentials and gets
 * the device fd over a unix socket (SCM_RIGHTS), or opens it itself; the
 * exact errno comes back as its exit status.  After every call the state
 * is checked: markers exist exactly where a call succeeded, a flag
 * changed only where it did, no descriptor appeared where CREATE failed.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ptmark_lib.h"

#define NR_PAGES	4
/* An unprivileged caller, and a user it shares nothing with. */
#define USER_ID		1000
#define OTHER_ID	1001

/* Exit statuses of a child beyond the errno it reports. */
#define CHILD_STATE_WRONG	250	/* the call left the wrong state */
#define CHILD_NO_USERNS		251	/* unshare(CLONE_NEWUSER) failed */
#define CHILD_SETUP_FAILED	252

/* A verb's answer when it worked but the scan showed no pfns. */
#define NO_PFNS			(-ENODATA)

enum caller {
	AS_ROOT,
	AS_ROOT_NO_ADMIN,	/* root without CAP_SYS_ADMIN */
	AS_USER,		/* uid and gid USER_ID, no capabilities */
	AS_USERNS,		/* root of a new user namespace */
};

enum fd_source {
	PASSED_RW,		/* opened O_RDWR by the test (root), passed */
	PASSED_RO,		/* opened O_RDONLY by the test, passed */
	OPENED_BY_CALLER,	/* O_RDWR, by the caller with its credentials */
};

FIXTURE(access) {
	int dev;		/* the test's own, O_RDWR as root */
	int dev_ro;
	bool guards;		/* the kernel takes guard markers by ioctl */
	char *mem;		/* populated, private: every process's copy */
	char *guarded;		/* guard markers put there before each fork */
	int plain_memfd;	/* empty, unflagged */
	int cleared_memfd;	/* empty, made by CREATE, flag cleared */
	int flagged_memfd;	/* empty, flagged by CREATE */
	bool has_flag;		/* the kernel has an unmovable flag */
	int create_err;		/* what that CREATE answered */
};

FIXTURE_VARIANT(access) {
	enum caller caller;
	enum fd_source source;
	/* What the model grants this case. */
	bool writable;		/* the fd is open for writing */
	bool opener_admin;	/* its opener had CAP_SYS_ADMIN */
	bool opener_ptrace;	/* ... and CAP_SYS_PTRACE */
	bool caller_ptrace;	/* the caller has CAP_SYS_PTRACE */
	bool caller_nice;	/* ... and CAP_SYS_NICE */
};

FIXTURE_VARIANT_ADD(access, root_rw) {
	.caller = AS_ROOT, .source = PASSED_RW, .writable = true,
	.opener_admin = true, .opener_ptrace = true,
	.caller_ptrace = true, .caller_nice = true,
};

FIXTURE_VARIANT_ADD(access, root_ro) {
	.caller = AS_ROOT, .source = PASSED_RO,
	.opener_admin = true, .opener_ptrace = true,
	.caller_ptrace = true, .caller_nice = true,
};

/* A passed fd lends its opener's rights over the holder's own memory. */
FIXTURE_VARIANT_ADD(access, user_passed_rw) {
	.caller = AS_USER, .source = PASSED_RW, .writable = true,
	.opener_admin = true, .opener_ptrace = true,
};

FIXTURE_VARIANT_ADD(access, user_passed_ro) {
	.caller = AS_USER, .source = PASSED_RO,
	.opener_admin = true, .opener_ptrace = true,
};

/* The opener's capabilities count, not the holder's ... */
FIXTURE_VARIANT_ADD(access, opener_without_admin) {
	.caller = AS_ROOT_NO_ADMIN, .source = OPENED_BY_CALLER,
	.writable = true, .opener_ptrace = true,
	.caller_ptrace = true, .caller_nice = true,
};

/* ... so dropping CAP_SYS_ADMIN after the open takes nothing away. */
FIXTURE_VARIANT_ADD(access, admin_dropped_after_open) {
	.caller = AS_ROOT_NO_ADMIN, .source = PASSED_RW, .writable = true,
	.opener_admin = true, .opener_ptrace = true,
	.caller_ptrace = true, .caller_nice = true,
};

/* Capabilities in a user namespace are not the initial namespace's. */
FIXTURE_VARIANT_ADD(access, userns_opened) {
	.caller = AS_USERNS, .source = OPENED_BY_CALLER, .writable = true,
};

FIXTURE_VARIANT_ADD(access, userns_passed_rw) {
	.caller = AS_USERNS, .source = PASSED_RW, .writable = true,
	.opener_admin = true, .opener_ptrace = true,
};

static size_t page_size(void)
{
	return sysconf(_SC_PAGESIZE);
}

static size_t mem_len(void)
{
	return NR_PAGES * page_size();
}

/* Guard markers among the NR_PAGES pages at @addr of @pidfd (or ours). */
static int markers_of(int dev, int pidfd, const void *addr)
{
	struct ptmark_record recs[NR_PAGES];
	int i, n = 0, ret;

	ret = ptmark_scan_dense_of(dev, pidfd, addr, NR_PAGES, recs);
	if (ret)
		return ret;
	for (i = 0; i < NR_PAGES; i++)
		n += recs[i].kind == PTMARK_KIND_MARKER &&
		     (recs[i].marker & PTMARK_MARKER_GUARD);
	return n;
}

static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	char byte = 'f';
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	/*
	 * The child may have exited already (no user namespaces): its
	 * status says so, and a closed peer must not kill us with SIGPIPE.
	 */
	return sendmsg(sock, &msg, MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	char byte;
	struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1)
		return -errno;
	c = CMSG_FIRSTHDR(&msg);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -EBADMSG;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

static int become_user(uid_t id)
{
	if (setgroups(0, NULL) || setresgid(id, id, id) ||
	    setresuid(id, id, id))
		return -errno;
	return 0;
}

/*
 * Root of a new user namespace, mapped to root outside so that it can
 * open the root-only device: every capability there, none outside.
 */
static int enter_userns(void)
{
	if (unshare(CLONE_NEWUSER))
		return -CHILD_NO_USERNS;
	if (write_text_file("/proc/self/setgroups", "deny\n") ||
	    write_text_file("/proc/self/uid_map", "0 0 1\n") ||
	    write_text_file("/proc/self/gid_map", "0 0 1\n"))
		return -CHILD_SETUP_FAILED;
	return 0;
}

static int take_credentials(enum caller caller)
{
	switch (caller) {
	case AS_ROOT:
		return 0;
	case AS_ROOT_NO_ADMIN:
		return drop_capability(CAP_SYS_ADMIN);
	case AS_USER:
		return become_user(USER_ID);
	case AS_USERNS:
		return enter_userns();
	}
	return -EINVAL;
}

/* What a verb is handed in the child. */
struct call {
	int dev;
	int pidfd;
	FIXTURE_DATA(access) *self;
};

/* A verb: 0 or -errno, or -CHILD_STATE_WRONG. */
typedef int (*verb_fn)(struct call *c);

/*
 * Run @fn in a child with the variant's credentials and device fd;
 * returns what it returned, or -CHILD_NO_USERNS / -CHILD_SETUP_FAILED.
 */
static int run_as(FIXTURE_DATA(access) *self,
		  const FIXTURE_VARIANT(access) *variant, int pidfd,
		  verb_fn fn)
{
	struct call c = { .pidfd = pidfd, .self = self };
	int sv[2], status, ret;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -CHILD_SETUP_FAILED;
	pid = fork();
	if (pid < 0)
		return -CHILD_SETUP_FAILED;
	if (!pid) {
		close(sv[0]);
		ret = take_credentials(variant->caller);
		if (ret)
			_exit(ret == -CHILD_NO_USERNS ? CHILD_NO_USERNS :
			      CHILD_SETUP_FAILED);
		if (variant->source == OPENED_BY_CALLER)
			c.dev = open(PTMARK_DEVICE, O_RDWR | O_CLOEXEC);
		else
			c.dev = recv_fd(sv[1]);
		if (c.dev < 0)
			_exit(CHILD_SETUP_FAILED);
		_exit(-fn(&c));
	}
	close(sv[1]);
	if (variant->source != OPENED_BY_CALLER)
		send_fd(sv[0], variant->source == PASSED_RW ? self->dev :
							    self->dev_ro);
	close(sv[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -CHILD_SETUP_FAILED;
	return -WEXITSTATUS(status);
}

/* ---- the verbs ---------------------------------------------------------- */

static int verb_info(struct call *c)
{
	struct ptmark_info info;

	return ptmark_get_info(c->dev, &info);
}

static int verb_scan(struct call *c)
{
	struct ptmark_record recs[NR_PAGES];

	return ptmark_scan_dense(c->dev, c->self->mem, NR_PAGES, recs);
}

static int verb_scan_pfns(struct call *c)
{
	struct ptmark_record recs[NR_PAGES];
	int ret = ptmark_scan_dense(c->dev, c->self->mem, NR_PAGES, recs);

	if (ret)
		return ret;
	if (recs[0].kind != PTMARK_KIND_PRESENT)
		return -CHILD_STATE_WRONG;
	return recs[0].pfn ? 0 : NO_PFNS;
}

/* Markers on our own copy, there afterwards exactly if the call worked. */
static int verb_guard(struct call *c)
{
	__u64 nr;
	int ret = ptmark_marker_fd(c->dev, -1, c->self->mem, mem_len(),
				   PTMARK_MARKER_GUARD, 0, &nr);

	if (markers_of(c->dev, -1, c->self->mem) != (ret ? 0 : NR_PAGES))
		return -CHILD_STATE_WRONG;
	return ret;
}

/* The markers the test left in place: gone afterwards exactly if it worked. */
static int verb_unguard(struct call *c)
{
	int before = markers_of(c->dev, -1, c->self->guarded);
	__u64 nr;
	int ret = ptmark_marker_fd(c->dev, -1, c->self->guarded, mem_len(),
				   PTMARK_MARKER_GUARD, PTMARK_MARKER_F_REMOVE,
				   &nr);

	if (markers_of(c->dev, -1, c->self->guarded) != (ret ? before : 0))
		return -CHILD_STATE_WRONG;
	return ret;
}

static int verb_scan_remote(struct call *c)
{
	struct ptmark_record recs[NR_PAGES];

	return ptmark_scan_dense_of(c->dev, c->pidfd, c->self->mem, NR_PAGES,
				    recs);
}

static int verb_guard_remote(struct call *c)
{
	__u64 nr;

	return ptmark_marker_fd(c->dev, c->pidfd, c->self->mem, mem_len(),
				PTMARK_MARKER_GUARD, 0, &nr);
}

static int verb_query(struct call *c)
{
	return ptmark_unmovable_op(c->dev, c->self->plain_memfd,
				   PTMARK_UNMOVABLE_QUERY, NULL);
}

static int verb_set(struct call *c)
{
	return ptmark_unmovable_op(c->dev, c->self->cleared_memfd,
				   PTMARK_UNMOVABLE_SET, NULL);
}

static int verb_clear(struct call *c)
{
	return ptmark_unmovable_op(c->dev, c->self->flagged_memfd,
				   PTMARK_UNMOVABLE_CLEAR, NULL);
}

/* A new descriptor afterwards exactly if the call worked. */
static int verb_create(struct call *c)
{
	struct ptmark_unmovable u;
	int before = open_fd_count();
	int ret = ptmark_unmovable_op(c->dev, -1, PTMARK_UNMOVABLE_CREATE, &u);

	if (open_fd_count() != before + !ret)
		return -CHILD_STATE_WRONG;
	if (!ret && fcntl(u.fd, F_GETFD) != FD_CLOEXEC)
		return -CHILD_STATE_WRONG;
	return ret;
}

/* ---- what the model says ------------------------------------------------ */

static int may_change(const FIXTURE_VARIANT(access) *v)
{
	if (!v->writable)
		return -EBADF;
	return v->opener_admin ? 0 : -EPERM;
}

/* Another, live process: may it be read (@write false) or written? */
static int may_reach(const FIXTURE_VARIANT(access) *v, bool write)
{
	if (!v->opener_ptrace || !v->caller_ptrace)
		return -EACCES;
	return write && !v->caller_nice ? -EPERM : 0;
}

static const char *errname(int ret)
{
	switch (-ret) {
	case 0:
		return "success";
	case CHILD_STATE_WRONG:
		return "wrong state after the call";
	case CHILD_SETUP_FAILED:
		return "child setup failed";
	}
	return strerror(-ret);
}

/* Run @fn as the variant: it must answer @want. */
#define EXPECT_VERB(want, fn, pidfd)					\
	do {								\
		int __got = run_as(self, variant, pidfd, fn);		\
		EXPECT_EQ(want, __got)					\
			TH_LOG("%s: %s, want %s", #fn, errname(__got),	\
			       errname(want));				\
	} while (0)

static int verb_nothing(struct call *c)
{
	return 0;
}

FIXTURE_SETUP(access)
{
	struct ptmark_info info;
	struct ptmark_unmovable u;

	PTMARK_REQUIRE_DEVICE(self->dev);
	if (geteuid())
		SKIP(return, "needs root to take other users' credentials");
	if (variant->caller == AS_USERNS &&
	    run_as(self, variant, -1, verb_nothing) == -CHILD_NO_USERNS)
		SKIP(return, "kernel without user namespaces (unshare(CLONE_NEWUSER) fails)");
	self->dev_ro = open(PTMARK_DEVICE, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, self->dev_ro);
	ASSERT_EQ(0, ptmark_get_info(self->dev, &info));
	self->guards = info.features & PTMARK_FEAT_GUARD_IOCTL;

	self->mem = mmap(NULL, mem_len(), PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->mem);
	memset(self->mem, 1, mem_len());
	self->guarded = mmap(NULL, mem_len(), PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->guarded);
	if (self->guards)
		ASSERT_EQ(NR_PAGES, ptmark_marker(-1, self->guarded, mem_len(),
						  PTMARK_MARKER_GUARD, 0));

	self->plain_memfd = memfd_create("ptmark-access", MFD_CLOEXEC);
	ASSERT_LE(0, self->plain_memfd);
	self->has_flag = info.features & (PTMARK_FEAT_AS_INACCESSIBLE |
					  PTMARK_FEAT_AS_UNMOVABLE);
	self->flagged_memfd = -1;
	self->cleared_memfd = -1;
	if (self->has_flag)
		self->create_err = ptmark_unmovable_op(self->dev, -1,
						       PTMARK_UNMOVABLE_CREATE,
						       &u);
	if (self->has_flag && !self->create_err)
		self->flagged_memfd = u.fd;
	if (self->has_flag && !self->create_err)
		self->create_err = ptmark_unmovable_op(self->dev, -1,
						       PTMARK_UNMOVABLE_CREATE,
						       &u);
	if (self->has_flag && !self->create_err) {
		self->cleared_memfd = u.fd;
		self->create_err = ptmark_unmovable_op(self->dev, u.fd,
						       PTMARK_UNMOVABLE_CLEAR,
						       NULL);
	}
}

FIXTURE_TEARDOWN(access)
{
	if (self->flagged_memfd >= 0)
		close(self->flagged_memfd);
	if (self->cleared_memfd >= 0)
		close(self->cleared_memfd);
	close(self->plain_memfd);
	munmap(self->guarded, mem_len());
	munmap(self->mem, mem_len());
	close(self->dev_ro);
	close(self->dev);
}

/* INFO, SCAN and MARKER on the caller's own memory. */
TEST_F(access, own_memory)
{
	int change = may_change(variant);
	int marker = change ?: self->guards ? 0 : -EOPNOTSUPP;

	EXPECT_VERB(0, verb_info, -1);
	EXPECT_VERB(0, verb_scan, -1);
	EXPECT_VERB(variant->opener_admin ? 0 : NO_PFNS, verb_scan_pfns, -1);
	EXPECT_VERB(marker, verb_guard, -1);
	EXPECT_VERB(marker, verb_unguard, -1);
	/* The test's own copy kept everything. */
	EXPECT_EQ(0, markers_of(self->dev, -1, self->mem));
	EXPECT_EQ(self->guards ? NR_PAGES : 0,
		  markers_of(self->dev, -1, self->guarded));
}

/* The unmovable flag: the files keep their flags unless a call worked. */
CASE_NEEDS(access, unmovable, NEEDS_UNMOVABLE, 0)
TEST_F(access, unmovable)
{
	__u32 flag = PTMARK_AS_INACCESSIBLE | PTMARK_AS_UNMOVABLE;
	int change = may_change(variant);
	struct ptmark_unmovable u;

	if (!self->has_flag)
		SKIP(return, "kernel has neither AS_INACCESSIBLE nor AS_UNMOVABLE");
	ASSERT_EQ(0, self->create_err) TH_LOG("CREATE and CLEAR as root");
	EXPECT_VERB(0, verb_query, -1);

	EXPECT_VERB(change, verb_set, -1);
	ASSERT_EQ(0, ptmark_unmovable_op(self->dev, self->cleared_memfd,
					 PTMARK_UNMOVABLE_QUERY, &u));
	EXPECT_EQ(change ? 0 : u.flag | PTMARK_AS_UNEVICTABLE, u.as_flags);

	EXPECT_VERB(change, verb_clear, -1);
	ASSERT_EQ(0, ptmark_unmovable_op(self->dev, self->flagged_memfd,
					 PTMARK_UNMOVABLE_QUERY, &u));
	EXPECT_EQ(change ? u.flag | PTMARK_AS_UNEVICTABLE : 0, u.as_flags);
	EXPECT_NE(0, u.flag & flag);

	EXPECT_VERB(change, verb_create, -1);
}

/* ---- other processes ---------------------------------------------------- */

enum target_kind {
	OTHER_USER,	/* runs as OTHER_ID */
	SAME_USER,	/* runs as USER_ID, the unprivileged caller's own */
	NOT_DUMPABLE,	/* root, prctl(PR_SET_DUMPABLE, 0) */
	ZOMBIE,		/* exited, not yet waited for */
	REAPED,		/* exited and waited for */
	NOT_A_PIDFD,	/* a memfd where the pidfd goes */
	NR_TARGETS
};

static const char * const target_names[] = {
	"other user", "same user", "not dumpable", "zombie", "reaped",
	"not a pidfd",
};

struct target {
	pid_t pid;
	int pidfd;
};

/*
 * A process of @kind sharing the test's memory layout (it is forked with
 * the populated region): the pidfd, its pid in @t; 0 or -errno.
 */
static int target_start(struct target *t, enum target_kind kind)
{
	int ready[2], ret = 0;
	siginfo_t info;
	char byte;

	t->pid = -1;
	t->pidfd = -1;
	if (kind == NOT_A_PIDFD) {
		t->pidfd = memfd_create("ptmark-not-a-pidfd", MFD_CLOEXEC);
		return t->pidfd < 0 ? -errno : 0;
	}
	if (pipe2(ready, O_CLOEXEC))
		return -errno;
	t->pid = fork();
	if (t->pid < 0)
		return -errno;
	if (!t->pid) {
		if (kind == OTHER_USER)
			ret = become_user(OTHER_ID);
		else if (kind == SAME_USER)
			/* Dumpable again: ptrace would let USER_ID in. */
			ret = become_user(USER_ID) ?:
			      prctl(PR_SET_DUMPABLE, 1) ? -errno : 0;
		else if (kind == NOT_DUMPABLE)
			ret = prctl(PR_SET_DUMPABLE, 0) ? -errno : 0;
		if (ret || write(ready[1], "r", 1) != 1)
			_exit(1);
		if (kind == ZOMBIE || kind == REAPED)
			_exit(0);
		for (;;)
			pause();
	}
	close(ready[1]);
	if (read(ready[0], &byte, 1) != 1)
		ret = -ECHILD;
	close(ready[0]);
	t->pidfd = pidfd_of(t->pid);
	if (t->pidfd < 0)
		return -errno;
	if (kind == ZOMBIE &&
	    waitid(P_PID, t->pid, &info, WEXITED | WNOWAIT))
		return -errno;
	if (kind == REAPED) {
		if (waitpid(t->pid, NULL, 0) != t->pid)
			return -errno;
		t->pid = -1;
	}
	return ret;
}

static void target_stop(struct target *t)
{
	if (t->pid > 0) {
		kill(t->pid, SIGKILL);
		waitpid(t->pid, NULL, 0);
	}
	close(t->pidfd);
}

/* What reaching @kind gives before the access rule is asked, or 0. */
static int target_error(enum target_kind kind)
{
	switch (kind) {
	case ZOMBIE:
	case REAPED:
		return -ESRCH;
	case NOT_A_PIDFD:
		return -EBADF;
	default:
		return 0;
	}
}

/*
 * SCAN and MARKER on each kind of other process.  A live target's copy
 * of the region carries markers afterwards exactly if the MARKER call
 * worked (the test looks as root, and takes them away again).
 */
TEST_F(access, other_processes)
{
	enum target_kind kind;
	struct target t;
	int want, live;

	for (kind = 0; kind < NR_TARGETS; kind++) {
		TH_LOG("target: %s", target_names[kind]);
		ASSERT_EQ(0, target_start(&t, kind));
		live = !target_error(kind);

		want = target_error(kind) ?: may_reach(variant, false);
		EXPECT_VERB(want, verb_scan_remote, t.pidfd);

		want = may_change(variant);
		if (!want && !self->guards)
			want = -EOPNOTSUPP;
		if (!want)
			want = target_error(kind) ?: may_reach(variant, true);
		EXPECT_VERB(want, verb_guard_remote, t.pidfd);
		if (live) {
			EXPECT_EQ(want ? 0 : NR_PAGES,
				  markers_of(self->dev, t.pidfd, self->mem));
			ptmark_marker(t.pidfd, self->mem, mem_len(),
				      PTMARK_MARKER_GUARD,
				      PTMARK_MARKER_F_REMOVE);
		}
		target_stop(&t);
	}
}

PTMARK_GENERATED_TEST()

PTMARK_MODULE_HARNESS_MAIN(NULL)
