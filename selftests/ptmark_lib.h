/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the ptmark selftests.
 *
 * Whatever more than one suite needs lives here, so that every suite
 * probes the kernel the same way and skips by the same rule with the same
 * words.  The macros at the end need kselftest_harness.h included first.
 */
#ifndef _PTMARK_LIB_H
#define _PTMARK_LIB_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <linux/fs.h>
#include <linux/userfaultfd.h>
#include <linux/ptmark.h>

/* madvise() advice newer than the C library's headers may know. */
#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT		21
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE		25
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL	102
#endif
#ifndef MADV_GUARD_REMOVE
#define MADV_GUARD_REMOVE	103
#endif

/* Came with PM_GUARD_REGION, later than some uapi headers know. */
#ifndef PAGE_IS_GUARD
#define PAGE_IS_GUARD		(1 << 8)
#endif

/* /proc/pid/pagemap entry bits (Documentation/admin-guide/mm/pagemap.rst). */
#define PM_PFN_MASK		((1ULL << 55) - 1)
#define PM_FLAGS_MASK		(~PM_PFN_MASK)
#define PM_SOFT_DIRTY		(1ULL << 55)
#define PM_MMAP_EXCLUSIVE	(1ULL << 56)
#define PM_UFFD_WP		(1ULL << 57)
#define PM_GUARD_REGION		(1ULL << 58)
#define PM_FILE			(1ULL << 61)
#define PM_SWAP			(1ULL << 62)
#define PM_PRESENT		(1ULL << 63)

#ifndef ARRAY_SIZE
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#endif

#define PTMARK_DEBUGFS	"/sys/kernel/debug/ptmark"

/* Room for any reason a helper here gives for a skip. */
#define PTMARK_WHY_LEN	512

/* ---- the module --------------------------------------------------------- */

/* Open /dev/ptmark; -errno when it cannot be opened. */
int ptmark_open(void);

/* PTMARK_IOC_INFO with the current struct size; -errno on failure. */
int ptmark_get_info(int fd, struct ptmark_info *info);

/* One PTMARK_FEAT_* bit and its name in debugfs "features". */
struct ptmark_feature {
	__u64 bit;
	const char *name;
};

/* Every feature the uapi header defines, in bit order. */
extern const struct ptmark_feature ptmark_features[];
extern const size_t ptmark_nr_features;

/*
 * insmod @ko (compressed too, where the kernel decompresses modules) with
 * @params, and rmmod ptmark without waiting: 0 or -errno.
 */
int ptmark_module_load(const char *ko, const char *params);
int ptmark_module_unload(void);

/*
 * The ptmark.ko to load, in @path: $PTMARK_KO when set, else the first
 * of /lib/modules/$(uname -r)/{updates/dkms,updates,extra}/ptmark.ko[.xz,
 * .zst,.gz] (the order modprobe would pick them in).  NULL when there is
 * none, with the reason in @path.
 */
const char *ptmark_ko_path(char *path, size_t len);

/* Value of counter @name in debugfs "stats", or -1 if not there. */
long long ptmark_stat(const char *name);

/*
 * PTMARK_IOC_SCAN in dense mode over nr_pages pages from addr of the
 * caller (pidfd < 0) or of the process behind pidfd: recs gets exactly
 * one record a page.  -errno on failure, -EIO if the module returned
 * anything but one record a page for all of them.
 */
int ptmark_scan_dense_of(int fd, int pidfd, const void *addr, size_t nr_pages,
			 struct ptmark_record *recs);

/* ptmark_scan_dense_of() of the caller's own pages. */
int ptmark_scan_dense(int fd, const void *addr, size_t nr_pages,
		      struct ptmark_record *recs);

/*
 * PTMARK_IOC_SCAN in the compact format over nr_pages pages from addr of
 * the caller, with @bits_mask, in calls of at most @room words, decoded:
 * states[i] gets the state word of page i.  *calls and *words (either may
 * be NULL) get the calls and words it took.  0, -errno of a call, or -EIO
 * when the words break the format: a call not starting with a state word,
 * words for more pages than the call's range, or .next not where they end.
 */
int ptmark_scan_compact(int fd, const void *addr, size_t nr_pages,
			__u32 bits_mask, size_t room, __u32 *states,
			size_t *calls, size_t *words);

/* The compact state word of what @r describes, as @bits_mask reports it. */
__u32 ptmark_compact_state_of(const struct ptmark_record *r, __u32 bits_mask);

/* The character ptmark_page_map() uses for a record. */
char ptmark_record_char(const struct ptmark_record *r);

/*
 * The module's view of nr_pages pages from addr in the caller's mm, one
 * character a page: 'G' guard marker, 'W' uffd-wp marker, 'M' other
 * marker, 'P' present, 'S' swap entry, '.' none or no VMA, '?' anything
 * else.  map gets nr_pages characters and a NUL.  -ENODEV when the module
 * is not loaded, else -errno of the scan.
 */
int ptmark_page_map(const void *addr, size_t nr_pages, char *map);

/*
 * PTMARK_IOC_MARKER through fd on the caller (pidfd < 0) or on the process
 * behind pidfd: 0 or -errno, with the nr_pages the module reported in
 * *nr_pages either way (~0 if it wrote none back).
 */
int ptmark_marker_fd(int fd, int pidfd, const void *addr, size_t len,
		     __u32 marker, __u32 flags, __u64 *nr_pages);

/*
 * PTMARK_IOC_MARKER with PTMARK_MARKER_F_VECTOR over @n ranges of the
 * caller: 0 or -errno, with what the module reported in *nr_pages and
 * *nr_ranges either way (~0 where it wrote nothing back).
 */
int ptmark_marker_vec(int fd, const struct ptmark_range *vec, size_t n,
		      __u32 marker, __u32 flags, __u64 *nr_pages,
		      __u64 *nr_ranges);

/*
 * PTMARK_IOC_MARKER on [addr, addr + len) of the caller (pidfd < 0) or of
 * the process behind pidfd.  Returns the nr_pages the module reports, or
 * -errno; -ENODEV when the module is not loaded.
 */
long ptmark_marker(int pidfd, const void *addr, size_t len, __u32 marker,
		   __u32 flags);

/*
 * Install (or remove) guard markers with the module's ioctl, the third
 * installer beside madvise() and process_madvise().  Returns the number of
 * pages the module reports, or -errno; -ENODEV when the module is not
 * loaded, -EOPNOTSUPP when it (or the kernel) cannot.
 */
long ptmark_guard(const void *addr, size_t len, bool install);

/*
 * PTMARK_IOC_UNMOVABLE @op on @fd (-1 for CREATE) through the device fd
 * @dev: 0 or -errno, the module's reply in *@reply when @reply is set.
 */
int ptmark_unmovable_op(int dev, int fd, __u32 op,
			struct ptmark_unmovable *reply);

/*
 * PTMARK_IOC_PIN: a new pin session on the caller (pidfd < 0) or on the
 * process behind pidfd; the session fd, or -errno.
 */
int ptmark_pin_session(int fd, int pidfd);

/* Pin [addr, addr + len) in a session with PTMARK_PIN_F_*: 0 or -errno. */
int ptmark_pin(int session, const void *addr, size_t len, __u32 flags);

/* Release a range ptmark_pin() pinned: 0 or -errno. */
int ptmark_unpin(int session, const void *addr, size_t len);

/* What the pinned pages of [addr, addr + len) hold, into buf: 0 or -errno. */
int ptmark_pin_read(int session, const void *addr, size_t len, void *buf);

/*
 * Each pinned page of [addr, addr + len) against the page mapped there
 * now: PTMARK_PIN_SAME/DIFFERENT/NOT_MAPPED a page in states, the counts
 * in *out (when not NULL); 0 or -errno.
 */
int ptmark_pin_compare(int session, const void *addr, size_t len,
		       __u8 *states, struct ptmark_pin_compare *out);

/* ---- files and /proc ---------------------------------------------------- */

/*
 * A new open file description of the file behind fd, through
 * /proc/self/fd, with open flags (O_CLOEXEC added); -1 and errno on failure.
 */
int reopen_fd(int fd, int flags);

/*
 * Read a whole (small) file into a NUL-terminated malloc()ed buffer;
 * NULL with errno set on failure.
 */
char *read_text_file(const char *path);

/*
 * Value of "name value" in a debugfs-style text (one pair per line);
 * false if the name is not there.
 */
bool text_lookup(const char *text, const char *name, char *value,
		 size_t value_len);

/* The line after @line of a text, NULL when it was the last. */
char *text_next_line(char *line);

/*
 * The number after @name in the "name value" file @path (/proc/meminfo,
 * /proc/vmstat, debugfs "stats"), or -1 if it is not there.
 */
long long text_file_value(const char *path, const char *name);

/* Write @text to the (sysfs, proc) file @path: 0, -errno, -EIO if short. */
int write_text_file(const char *path, const char *text);

/* How many descriptors the process has open (/proc/self/fd), or -errno. */
int open_fd_count(void);

/* Is a swap device active (/proc/swaps lists one)? */
bool swap_active(void);

/* How many VMAs intersect [addr, addr + len) (/proc/self/maps), or -1. */
int vmas_in_range(const void *addr, size_t len);

/*
 * The /proc/self/smaps block of the VMA holding addr, NUL-terminated in a
 * malloc()ed copy; NULL if there is none.
 */
char *smaps_block(const void *addr);

/* Field @name ("Rss:") of the VMA holding addr in kB, or -1. */
long smaps_kb(const void *addr, const char *name);

/* Does the VMA holding addr carry VmFlags mnemonic @flag? */
bool smaps_has_vmflag(const void *addr, const char *flag);

/* The /proc/self/numa_maps line of the VMA starting at @addr; free() it. */
char *numa_maps_line(const void *addr);

/* Milliseconds of CLOCK_MONOTONIC. */
double monotonic_ms(void);

/* ---- the machine's geometry --------------------------------------------- */

/*
 * What a PMD maps (2 MiB on x86-64 with 4 KiB pages): the kernel's
 * hpage_pmd_size, else a page of page-table entries' worth of pages.
 */
size_t ptmark_pmd_size(void);

/* The default hugetlb page size (/proc/meminfo), 0 without hugetlb. */
size_t ptmark_hugetlb_size(void);

/*
 * The end of this process's user address space, found by mapping: on
 * x86-64 56 bits up with five-level paging (where a mapping above 47
 * bits works), else 47 bits, the top page never being user space.
 */
uint64_t ptmark_user_space_end(void);

/* ---- pagemap ------------------------------------------------------------ */

/*
 * The pagemap entries of nr pages from addr into out, from the pagemap
 * file open at fd (ours or another process's): 0, or -errno, -EIO on a
 * short read.
 */
int pagemap_pread(int fd, const void *addr, size_t nr, uint64_t *out);

/* pagemap_pread() from our own /proc/self/pagemap. */
int pagemap_read(const void *addr, size_t nr, uint64_t *out);

/* PAGEMAP_SCAN on our own pagemap: the regions found, or -errno. */
long pagemap_scan_self(struct pm_scan_arg *arg);

/* ---- memory ------------------------------------------------------------- */

/*
 * A private anonymous mapping (MAP_NORESERVE) of len bytes starting on an
 * @align boundary (a power of two); MAP_FAILED on failure.
 */
void *mmap_aligned(size_t len, size_t align, int prot);

/*
 * A file on a huge=always tmpfs of its own, for huge shmem folios whatever
 * the machine's shmem_enabled says.  The tmpfs is made with the mount API
 * and never attached anywhere: no mount point, no private namespace, which
 * a chroot could not give.  The fd, or -1 with the skip reason in @why.
 */
int ptmark_huge_tmpfs_fd(char *why, size_t len);

/*
 * memfd_create(name, MFD_CLOEXEC | flags) of len bytes: the fd, or -1 with
 * errno set.
 */
int memfd_sized(const char *name, unsigned int flags, size_t len);

/*
 * The directory ext4-backed tests make their files in: $PTMARK_EXT4 if
 * set, else the first writable ext4 one of /var/tmp and the directory the
 * program is installed in.  NULL when there is none, with why in @why:
 * "no ext4 directory: DIR: REASON[; DIR: REASON] (set PTMARK_EXT4)", a
 * tmpfs named as such.
 */
const char *ptmark_ext4_dir(char *why, size_t len);

/*
 * An unlinked file (O_TMPFILE | O_RDWR | O_CLOEXEC | @flags) in
 * ptmark_ext4_dir(): the fd, or -1 with errno set (ENOENT without the
 * directory).
 */
int ptmark_ext4_tmpfile(int flags);

/* ---- processes ---------------------------------------------------------- */

/*
 * A pidfd of a child that exited at once and is left a zombie (the
 * caller reaps *pid with waitpid()), or -1 with errno set.
 */
int pidfd_of_zombie(pid_t *pid);

/* Drop from root to nobody (uid and gid 65534): 0 or -errno. */
int become_nobody(void);

/* A pidfd of process @pid, or -1 with errno set. */
int pidfd_of(pid_t pid);

/*
 * Drop capability @cap (CAP_*) from the effective, permitted and
 * inheritable sets of the calling thread for good: 0 or -errno.
 */
int drop_capability(int cap);

/*
 * process_madvise() of one range of the process behind @pidfd: 0 when
 * all of it was advised, -EIO when only part was, else -errno.
 */
int process_madvise_range(int pidfd, void *addr, size_t len, int advice);

/* ---- userfaultfd -------------------------------------------------------- */

/*
 * A fresh, not yet initialised userfaultfd for user-mode faults, from the
 * syscall or else /dev/userfaultfd; -errno when there is none.
 */
int uffd_new_fd(void);

/*
 * A non-blocking userfaultfd from uffd_new_fd(), its UFFDIO_API done with
 * exactly @features: the fd, -EOPNOTSUPP when the kernel lacks one of
 * them, else -errno.
 */
int uffd_open(__u64 features);

/* UFFDIO_REGISTER of [addr, addr + len) in @mode: 0 or -errno. */
int uffd_register(int uffd, const void *addr, size_t len, __u64 mode);

/*
 * uffd_register(), and the ioctls the kernel then offers on the range
 * (1 << _UFFDIO_COPY and so on) into *ioctls.
 */
int uffd_register_ioctls(int uffd, const void *addr, size_t len, __u64 mode,
			 __u64 *ioctls);

/*
 * UFFDIO_WRITEPROTECT of [addr, addr + len) with UFFDIO_WRITEPROTECT_MODE_*
 * @mode (no MODE_WP: resolve): 0 or -errno.
 */
int uffd_writeprotect(int uffd, const void *addr, size_t len, __u64 mode);

/* 1 with a message read within @timeout_ms, 0 with none, or -errno. */
int uffd_read_msg(int uffd, int timeout_ms, struct uffd_msg *msg);

/* ---- a thread doing one store, which a protected page makes wait ------ */

struct writer {
	pthread_t thread;
	volatile char *addr;
	char value;
	atomic_int tid;		/* gettid() of the thread */
	atomic_bool done;
};

/* Start a thread storing @value at @addr: pthread_create()'s result. */
int writer_start(struct writer *w, char *addr, char value);

/* Has the store of writer_start() finished within @ms milliseconds? */
bool writer_done_within(struct writer *w, int ms);

/* ---- io_uring ----------------------------------------------------------- */

struct io_uring;

/*
 * Submit the queued SQE and wait for its completion: the CQE's res, or
 * -errno from io_uring itself.
 */
int uring_submit_one(struct io_uring *ring);

/* ---- touching memory that may fault ------------------------------------- */

/* The fault a probe's access raised, if it raised one, in this thread. */
struct probe_fault {
	int signo;	/* 0 when the access went through */
	int code;	/* si_code */
	void *addr;	/* si_addr */
};

extern __thread struct probe_fault last_fault;

/*
 * Catch SIGSEGV and SIGBUS for the probes (on the alternate stack, where
 * a thread has one); 0 or -errno.  A fault no probe is waiting for is not
 * swallowed: the handler restores the default action and returns, the
 * access faults again, and the process dies of the signal.
 */
int probe_handlers_install(void);

/* Run fn(arg): 0 when it returned, else the signal it raised. */
int probe_call(void (*fn)(void *arg), void *arg);

/* Read (write) one byte: 0 when that worked, else the signal raised. */
int probe_read(const volatile char *p, char *val);
int probe_write(volatile char *p, char val);

/*
 * Did the last probe fault the way a guard marker faults: SIGSEGV with
 * SEGV_MAPERR at @p (the marker's VM_FAULT_SIGSEGV, as the arch fault
 * handler reports it)?
 */
bool probe_hit_guard(const void *p);

/* ---- what the kernel offers --------------------------------------------- */

/*
 * The running kernel's release as KERNEL_VERSION(major, minor), for the
 * few behaviours that changed with no feature to test for: the
 * selftests' counterpart of module/compat.h, and the only version test
 * the suite makes.  0 if uname() fails.
 */
#define KERNEL_VERSION(major, minor)	(((major) << 8) | (minor))
int kernel_version(void);

/*
 * The running kernel's features as userspace sees them, each found one
 * way for every suite; probe_kernel() fills it.
 */
struct kernel_probe {
	int guard;		/* 0, or -errno of MADV_GUARD_INSTALL on anon */
	int guard_file;		/* the same on a memfd (6.15) */
	bool pagemap_guard;	/* pagemap shows a guard PM_GUARD_REGION */
	bool scan_guard;	/* PAGEMAP_SCAN reports it PAGE_IS_GUARD */
	bool pagemap_scan;	/* PAGEMAP_SCAN reports a present page */
	bool soft_dirty;	/* pagemap shows a new page PM_SOFT_DIRTY */
	int uffd;		/* 0, or -errno of a userfaultfd's UFFDIO_API */
	__u64 uffd_features;	/* what that UFFDIO_API offered */
	bool thp;		/* /sys/kernel/mm/transparent_hugepage exists */
	bool hugetlb;		/* a MFD_HUGETLB memfd can be made */
};

void probe_kernel(struct kernel_probe *k);

/*
 * Hold a probe_kernel() result against the features word of ptmark.ko,
 * feature by feature wherever userspace can tell: -ENODEV when the module
 * is not loaded, else how many observations disagree, each named in @why.
 */
int probe_disagreements(const struct kernel_probe *k, char *why, size_t len);

/*
 * Make a TAP directive's text of @reason: a '#' would start another
 * directive and a newline end the line, so both become spaces.
 */
void tap_reason_clean(char *reason);

/* ---- harness macros ----------------------------------------------------- */

/*
 * Skip the current test, naming why, when the module is not loaded:
 * everything that needs ptmark.ko runs in the test VM only.
 */
#define PTMARK_REQUIRE_DEVICE(fd_out)					\
	do {								\
		int __fd = ptmark_open();				\
		if (__fd < 0)						\
			SKIP(return, "ptmark.ko not loaded (%s: %s)",	\
			     PTMARK_DEVICE, strerror(-__fd));		\
		(fd_out) = __fd;					\
	} while (0)

/* Skip the current test when there is no ext4 directory to work in. */
#define PTMARK_REQUIRE_EXT4()						\
	do {								\
		char __why[PTMARK_WHY_LEN];				\
		if (!ptmark_ext4_dir(__why, sizeof(__why)))		\
			SKIP(return, "%s", __why);			\
	} while (0)

/*
 * Why this machine cannot migrate pages between NUMA nodes 0 and 1, or
 * NULL when it can: both nodes need memory, and the kernel move_pages(2)
 * and migrate_pages(2) (CONFIG_NUMA_MIGRATION in 7.x).
 */
const char *ptmark_no_numa_migration(void);

/* Skip the current test when pages cannot move between nodes 0 and 1. */
#define PTMARK_REQUIRE_TWO_NODES()					\
	do {								\
		const char *__why = ptmark_no_numa_migration();		\
		if (__why)						\
			SKIP(return, "%s", __why);			\
	} while (0)

/*
 * Arm fail_page_alloc (CONFIG_FAIL_PAGE_ALLOC, configured in debugfs) so
 * that every page allocation of the calling thread fails, sleeping ones
 * included, and of no other task; or disarm it.  0, -ENOENT when the
 * kernel has no fail_page_alloc, else -errno.  A thread forked or
 * cloned while armed inherits the arming: disarm first.
 */
int ptmark_fail_page_alloc(bool arm);

/* Skip the current test when nothing could be swapped out. */
#define PTMARK_REQUIRE_SWAP()						\
	do {								\
		if (!swap_active())					\
			SKIP(return, "no active swap device (/proc/swaps)"); \
	} while (0)

/*
 * The test whose probe decides what a suite runs: with the module loaded,
 * the probe must see the kernel as the module's features word describes
 * it, or one of the two is wrong and the suite runs the wrong tests.
 */
#define PTMARK_PROBE_AGREES_WITH_MODULE(kprobe)				\
	do {								\
		char __why[PTMARK_WHY_LEN];				\
		int __n = probe_disagreements(kprobe, __why,		\
					      sizeof(__why));		\
		if (__n == -ENODEV)					\
			SKIP(return, "ptmark.ko not loaded");		\
		ASSERT_EQ(0, __n)					\
			TH_LOG("probe and module disagree: %s", __why); \
	} while (0)

/*
 * A known kernel bug, by its ID in Documentation/kernel-bugs.rst, seen
 * with exactly its symptom: XFAIL with "kernel-bug ID: message" (a test
 * that already failed stays failed), and the test ends.
 */
#define KERNEL_BUG(id, fmt, ...)					\
	do {								\
		char *__r = _metadata->results->reason;			\
		size_t __len = sizeof(_metadata->results->reason);	\
		int __n = snprintf(__r, __len, "kernel-bug %s: ", id);	\
		snprintf(__r + __n, __len - __n, fmt, ##__VA_ARGS__);	\
		tap_reason_clean(__r);					\
		TH_LOG("%s", __r);					\
		if (_metadata->exit_code == KSFT_PASS)			\
			_metadata->exit_code = KSFT_XFAIL;		\
		return;							\
	} while (0)

/*
 * The end of a passing test that looked for kernel bug @id on a backing
 * where it can happen: XPASS, so that a fixed kernel shows as fixed.
 */
#define KERNEL_BUG_NOT_SEEN(id)						\
	do {								\
		if (_metadata->exit_code == KSFT_PASS) {		\
			snprintf(_metadata->results->reason,		\
				 sizeof(_metadata->results->reason),	\
				 "kernel-bug %s not seen", id);		\
			_metadata->exit_code = KSFT_XPASS;		\
		}							\
	} while (0)

#ifdef __KSELFTEST_HARNESS_H
/*
 * The harness exits 0 when every test skipped, which a kselftest runner
 * reports as a pass: make that exit KSFT_SKIP.  The harness's own exit()
 * at the end runs this; test processes leave with _exit() and do not, and
 * before the last result is counted the skips cannot cover the plan.
 */
static inline void ptmark_exit_skip_if_all_skipped(void)
{
	if (ksft_plan && ksft_cnt.ksft_xskip == ksft_plan) {
		fflush(stdout);
		_exit(KSFT_SKIP);
	}
}

/* test_harness_run(), exiting KSFT_SKIP when nothing but skips ran. */
static inline int ptmark_harness_run(int argc, char **argv)
{
	atexit(ptmark_exit_skip_if_all_skipped);
	return test_harness_run(argc, argv);
}

/* TEST_HARNESS_MAIN with ptmark_harness_run(). */
#define PTMARK_HARNESS_MAIN						\
	int main(int argc, char **argv)					\
	{								\
		return ptmark_harness_run(argc, argv);			\
	}
#endif /* __KSELFTEST_HARNESS_H */

#endif /* _PTMARK_LIB_H */
