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

/*
 * userfaultfd read-write protection (7.3), for uapi headers older than
 * that: the suite probes the running kernel, whatever it was built with.
 */
#ifndef UFFD_FEATURE_RWP
#define UFFD_FEATURE_RWP		(1 << 17)
#define UFFD_FEATURE_RWP_ASYNC		(1 << 18)
#define UFFDIO_REGISTER_MODE_RWP	((__u64)1 << 3)
#define UFFD_PAGEFAULT_FLAG_RWP		(1 << 3)
#define _UFFDIO_RWPROTECT		(0x09)
#define _UFFDIO_SET_MODE		(0x0A)
#define UFFDIO_RWPROTECT_MODE_RWP	((__u64)1 << 0)
#define UFFDIO_RWPROTECT_MODE_DONTWAKE	((__u64)1 << 1)
struct uffdio_rwprotect {
	struct uffdio_range range;
	__u64 mode;
};

struct uffdio_set_mode {
	__u64 enable;
	__u64 disable;
};

#define UFFDIO_RWPROTECT	_IOWR(UFFDIO, _UFFDIO_RWPROTECT, \
				      struct uffdio_rwprotect)
#define UFFDIO_SET_MODE		_IOW(UFFDIO, _UFFDIO_SET_MODE, \
				     struct uffdio_set_mode)
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

/*
 * A page of a test's picture: the letter the module's debugfs map gives
 * the record (ptmark_map_char(): 'G' guard marker, 'W' uffd-wp marker,
 * 'B' both, 'K' other marker, 'S' swap, 'M' migration, 'X' hwpoison,
 * 'p' pfnmap entry...), but 'P' for a present page of any kind (A F T Z H)
 * and '.' for no VMA as for none.  Pictures add class letters of their
 * own only where no map letter says it ('-' anything but a guard).
 */
char ptmark_record_char(const struct ptmark_record *r);

/*
 * The module's view of nr_pages pages from addr in the caller's mm, one
 * ptmark_record_char() a page: map gets nr_pages characters and a NUL.
 * -ENODEV when the module is not loaded, else -errno of the scan.
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

/* ---- page contents ------------------------------------------------------ */

/* Who wrote a page last, for ptmark_stamp(). */
enum ptmark_writer {
	PTMARK_BY_FILE = 1,	/* the file's own data, written by the set-up */
	PTMARK_BY_MEM,		/* the test, through the mapping */
	PTMARK_BY_CHILD,	/* a forked child, through its mapping */
};

/*
 * The byte every byte of page @idx (of a file, or of a mapping) holds when
 * @by wrote it last: never zero (an untouched page), and never another
 * writer's for the same page, so that reading a page says who wrote it.
 */
static inline unsigned char ptmark_stamp(enum ptmark_writer by, size_t idx)
{
	unsigned char v = by * 0x45 + idx * 0x9d + 0x11;

	return v ? v : 1;
}

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
 * The bracketed choice of a sysfs "a [b] c" file's @text, cut out in
 * place; NULL if there is none (or no text).
 */
char *sysfs_choice(char *text);

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

/* The median of @n (> 0) figures @v, which it sorts in place. */
double median_of(double *v, int n);

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
 * bits works), else 47 bits, the top page never being user space; on
 * arm64 52, 48 or 39 bits, as the kernel was configured.
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

/*
 * uffd_open() of a context that handles kernel-mode faults too (GUP on
 * the process's behalf: O_DIRECT, process_vm_readv(), pins), which
 * UFFD_USER_MODE_ONLY would fail: without it, the syscall wants
 * CAP_SYS_PTRACE or vm.unprivileged_userfaultfd; else /dev/userfaultfd.
 */
int uffd_open_kernel_faults(__u64 features);

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

/* The userfaultfd ioctls that resolve a fault by filling pages. */
enum uffd_fill {
	FILL_COPY,
	FILL_ZEROPAGE,
	FILL_POISON,
	FILL_MOVE,
	FILL_CONTINUE,
	NR_UFFD_FILLS
};

/* Each one's name, and its bit in UFFDIO_REGISTER's ioctls. */
extern const struct uffd_fill_op {
	const char *name;
	int nr;
} uffd_fills[NR_UFFD_FILLS];

/*
 * Fill [@dst, @dst + @len) by @how, UFFDIO_COPY and UFFDIO_MOVE taking
 * the pages from @src; with @wp, UFFDIO_COPY and UFFDIO_CONTINUE map them
 * write-protected.  0 or -errno; *progress is what the ioctl wrote back:
 * the bytes it filled, or -errno.
 */
int uffd_fill(int uffd, enum uffd_fill how, void *dst, const void *src,
	      size_t len, bool wp, long long *progress);

/*
 * UFFDIO_RWPROTECT of [addr, addr + len) with UFFDIO_RWPROTECT_MODE_*
 * @mode (no MODE_RWP: unprotect, and wake unless MODE_DONTWAKE): 0 or
 * -errno.
 */
int uffd_rwprotect(int uffd, const void *addr, size_t len, __u64 mode);

/* UFFDIO_SET_MODE turning the features @enable on, @disable off: 0 or -errno. */
int uffd_set_mode(int uffd, __u64 enable, __u64 disable);

/* 1 with a message read within @timeout_ms, 0 with none, or -errno. */
int uffd_read_msg(int uffd, int timeout_ms, struct uffd_msg *msg);

/* @msg in words, for a test's log: @buf. */
const char *uffd_msg_text(const struct uffd_msg *msg, char *buf, size_t len);

/* A thread waiting for one userfaultfd message (an event), for pthread_join(). */
struct uffd_event_reader {
	pthread_t thread;
	int uffd;
	int timeout_ms;
	struct uffd_msg msg;
	bool got;	/* a message arrived within timeout_ms */
};

/* Start it on @uffd: pthread_create()'s result. */
int uffd_event_reader_start(struct uffd_event_reader *r, int uffd,
			    int timeout_ms);

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

/* ---- a thread taking this process's mmap lock for write, timed ------- */

/*
 * Between lock_waiter_start() and lock_waiter_stop(), a thread maps and
 * unmaps one page over and over, each call one take of the mmap write
 * lock, and keeps the longest wait and the number of takes.
 */
struct lock_waiter {
	pthread_t thread;
	atomic_bool stop;
	double worst_ms;
	unsigned long takes;
};

/* Start it: pthread_create()'s result. */
int lock_waiter_start(struct lock_waiter *w);

/* Stop it and wait for it; its figures are final after. */
void lock_waiter_stop(struct lock_waiter *w);

/* ---- a forked child serving requests over two pipes ------------------ */

/*
 * The child runs @serve(@arg, cmd, ack): it reads its requests from the
 * cmd fd and answers on the ack fd, and must _exit(); each end closes on
 * exec.
 */
struct served_child {
	pid_t pid;
	int cmd;	/* the parent's write end of the requests */
	int ack;	/* the parent's read end of the answers */
};

/* Fork it: 0, or -errno with nothing left open. */
int served_child_start(struct served_child *c,
		       void (*serve)(void *arg, int cmd, int ack), void *arg);

/* Close both pipes (the child sees EOF) and reap it: its wait status, or -errno. */
int served_child_stop(struct served_child *c);

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
 * The running kernel's release as KERNEL_VERSION(major, minor).  The
 * suite decides by probing; these helpers are the only version tests it
 * makes, each for a behaviour that changed with no feature userspace can
 * ask for (the behaviour is what the test checks), named after the
 * upstream change.  A distribution kernel that backports one of them
 * answers wrong here, and the test that asks says so by failing.
 */
#define KERNEL_VERSION(major, minor)	(((major) << 8) | (minor))
int kernel_version(void);

/*
 * 6.2, the COW rework's "reliable R/O long-term pinning in COW mappings":
 * a R/O FOLL_LONGTERM pin unshares whatever a private mapping shares
 * (zeropages, page cache, hugetlb), not only anonymous pages.
 */
bool kernel_ro_longterm_pin_unshares(void);

/*
 * 6.5, "mm/gup: disallow FOLL_LONGTERM GUP-nonfast writing to file-backed
 * mappings": GUP refuses a writable long-term pin of a shared mapping of
 * a file that needs dirty tracking (ext4), and io_uring stopped refusing
 * such buffers itself (EOPNOTSUPP) to leave it to GUP.
 */
bool kernel_gup_refuses_longterm_file_writes(void);

/*
 * 6.12, walks of special mappings through folio_walk_start(): move_pages()
 * status says -ENOENT for a raw pfn (was -EFAULT, from follow_page()), and
 * io_uring pins fixed buffers with pin_user_pages_fast().
 */
bool kernel_walks_pfnmaps_by_folio(void);

/*
 * 6.2, walk_page_vma() without walk_page_test(): smaps and its peers read
 * a VM_PFNMAP VMA's page tables instead of skipping the VMA whole.
 */
bool kernel_page_walks_read_pfnmaps(void);

/*
 * mincore() of a VM_PFNMAP VMA: 7.0 walks it with walk_page_range_vma()
 * (every mapped entry resident: 1); 6.12 and before hand the VMA to the
 * pte_hole callback (nothing resident: 0).  -1 between, where the suite
 * has not measured it.
 */
int kernel_mincore_of_pfnmap(void);

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

/*
 * Watch the kernel log for a message: ptmark_kmsg_watch() opens /dev/kmsg
 * after its last record and re-arms every WARN_ONCE() of the kernel
 * (debugfs's clear_warn_once), so that a warning printed earlier in this
 * boot prints again; an fd, or -errno.  ptmark_kmsg_saw() reads the
 * records printed since and says whether each string of the
 * NULL-terminated @needles (at most 64) is in one of them.
 */
int ptmark_kmsg_watch(void);
bool ptmark_kmsg_saw(int fd, const char *const *needles);

/*
 * The pages of a region for a thread stack of the caller's own with a
 * one-page guard at its low end: @pages, or more if the C library's
 * smallest thread stack (sysconf(_SC_THREAD_STACK_MIN): glibc's is 16 KiB
 * on x86-64, 128 KiB on arm64) does not fit in @pages - 1.
 */
size_t ptmark_guarded_stack_pages(size_t pages);

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

/* ---- backings ----------------------------------------------------------- */

/*
 * What a backing is, and what the kernel lets userspace do with it, as
 * bits: a test names the bits it needs (CASE_NEEDS()), and its case on a
 * backing without them is never generated.
 */
#define PB_ANON		(1u << 0)	/* private anonymous memory */
#define PB_FILE		(1u << 1)	/* a file behind the mapping: an fd */
#define PB_SHMEM	(1u << 2)	/* that file is shmem (memfd, tmpfs) */
#define PB_HUGETLB	(1u << 3)	/* that file is on hugetlbfs */
#define PB_EXT4		(1u << 4)	/* that file is on ext4, a disk fs */
#define PB_SHARED	(1u << 5)	/* mapped MAP_SHARED */
#define PB_WRITABLE	(1u << 6)	/* mapped PROT_WRITE */
#define PB_THP		(1u << 7)	/* PMD-sized THP folios (anon, tmpfs) */
#define PB_PFNMAP	(1u << 8)	/* VM_PFNMAP|VM_IO: /dev/ptmark */
#define PB_GUARD	(1u << 9)	/* guard markers may go in */
#define PB_UFFD_MISSING	(1u << 10)	/* userfaultfd missing mode covers it */
#define PB_UFFD_MINOR	(1u << 11)	/* ... and minor mode */
#define PB_UFFD_WP	(1u << 12)	/* ... and synchronous write-protect */
#define PB_PUNCH	(1u << 13)	/* fallocate(PUNCH_HOLE) frees its pages */
#define PB_UFFD_RWP	(1u << 14)	/* userfaultfd read-write protection */
#define PB_MTHP		(1u << 15)	/* 64 KiB anonymous mTHP folios */
/* The backing's bits. */
#define PB_ALL		0xffffu

/*
 * What a case needs of the kernel, beyond its backing, in CASE_NEEDS()
 * and FIXTURE_NEEDS() beside the PB_* bits; the case filter asks the
 * kernel (probe_kernel()) and the module (its features word).  A program
 * may add bits of its own from NEEDS_PROGRAM up, which its check
 * function (ptmark_harness_run()) answers.
 */
#define NEEDS_GUARD		(1u << 16)	/* MADV_GUARD_INSTALL on the backing */
#define NEEDS_GUARD_IOCTL	(1u << 17)	/* ptmark's guard ioctl */
#define NEEDS_NETLINK		(1u << 18)	/* ptmark's genetlink family */
#define NEEDS_UNMOVABLE		(1u << 19)	/* AS_INACCESSIBLE or AS_UNMOVABLE */
#define NEEDS_UFFD_WP_MARKER	(1u << 20)	/* uffd-wp PTE markers */
#define NEEDS_PROGRAM		(1u << 24)

enum ptmark_backing_id {
	BK_ANON,
	BK_ANON_THP,
	BK_MEMFD,
	BK_MEMFD_PRIVATE,
	BK_HUGE_TMPFS,
	BK_HUGETLB,
	BK_HUGETLB_PRIVATE,
	BK_EXT4_SHARED,
	BK_EXT4_PRIVATE,
	BK_EXT4_RDONLY,
	BK_PFNMAP,
	BK_ANON_MTHP,
	BK_NR,
};

struct ptmark_backing {
	enum ptmark_backing_id id;
	const char *name;	/* the variant's name: anon, memfd, ext4_shared... */
	const char *desc;	/* for messages: "anonymous", "ext4 MAP_SHARED" */
	unsigned int caps;	/* PB_* */
};

/* Every backing the suite knows, by enum ptmark_backing_id. */
extern const struct ptmark_backing ptmark_backings[BK_NR];

/*
 * One FIXTURE_VARIANT_ADD() of @fixture per backing, named after it: the
 * variant struct's first member is "const struct ptmark_backing *backing".
 */
#define BACKING_VARIANT(fixture, name, id)				\
	FIXTURE_VARIANT_ADD(fixture, name) {				\
		.backing = &ptmark_backings[id],			\
	}

/* The backing of that name, NULL if none is. */
const struct ptmark_backing *ptmark_backing_by_name(const char *name);

/*
 * A fixture whose variants are not named after backings, but whose
 * variant struct starts with "const struct ptmark_backing *backing" (a
 * backing and a state of it, say): BACKED_FIXTURE(fixture) tells the case
 * filter to take each variant's backing from there.
 */
void ptmark_register_backed_fixture(const char *fixture);
bool ptmark_fixture_is_backed(const char *fixture);

#define BACKED_FIXTURE(fixture_name)					\
	static void __attribute__((constructor))			\
	_ptmark_backed_##fixture_name(void)				\
	{								\
		ptmark_register_backed_fixture(#fixture_name);		\
	}

/* Has backing @b every bit of @bits? */
static inline bool backing_has(const struct ptmark_backing *b, unsigned int bits)
{
	return (b->caps & bits) == bits;
}

/*
 * Can a test that needs @needs and rules out @excludes run on @b: has it
 * every bit of @needs, and not every bit of @excludes (0: nothing ruled
 * out)?  PB_EXT4 | PB_SHARED rules out shared ext4 mappings only.
 */
static inline bool ptmark_backing_fits(const struct ptmark_backing *b,
				       unsigned int needs, unsigned int excludes)
{
	needs &= PB_ALL;
	excludes &= PB_ALL;
	return backing_has(b, needs) && !(excludes && backing_has(b, excludes));
}

/*
 * Why this machine cannot give backing @b, in @why, or NULL: no ext4
 * directory, no huge pages reserved, no transparent huge pages, no
 * ptmark.ko for a pfnmap.  A fixed text: the same machine says the same.
 */
const char *ptmark_backing_unavailable(const struct ptmark_backing *b,
				       char *why, size_t len);

/*
 * A file of @len bytes for backing @b (memfd, huge tmpfs, hugetlb memfd or
 * ext4 temporary file), opened read-write: the fd, or -1 with errno set
 * (and -1 with errno 0 for a backing without a file).
 */
int ptmark_backing_fd(const struct ptmark_backing *b, size_t len);

/*
 * Map @len bytes of backing @b from offset @off of file @fd (ignored
 * without a file) with @prot, PROT_WRITE dropped where the backing is not
 * writable: at @at (MAP_FIXED) or, when @at is NULL, anywhere on an @align
 * boundary (0: the backing's own, a PMD for THP and a huge page for
 * hugetlb backings); MADV_HUGEPAGE for anonymous THP.  MAP_FAILED with
 * errno set on failure.
 */
void *ptmark_backing_mmap(const struct ptmark_backing *b, int fd, void *at,
			  size_t len, int prot, off_t off, size_t align);

/* ---- anonymous mTHP and khugepaged ------------------------------------- */

/* The mTHP folio size BK_ANON_MTHP maps, and its sysfs switch. */
#define PTMARK_MTHP_SIZE	(64UL << 10)
#define PTMARK_MTHP_ENABLED	\
	"/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled"

/*
 * Does the module on @fd show a naturally aligned PTMARK_MTHP_SIZE folio,
 * mapped whole by PTEs, as one contiguous block (PTMARK_BIT_CONT on each
 * of its pages)?  Where it reports PTMARK_FEAT_CONT_PTE (arm64's contpte)
 * and a block is that size: 16 PTEs of 4 KiB pages.  Elsewhere (x86-64)
 * no page shows the bit, and the checks of contiguity are not made.
 */
bool ptmark_mthp_contpte(int fd);

/*
 * Set the switch of anonymous THPs of @size bytes (64 KiB, a PMD's) to
 * @mode ("always", "madvise", "never"), keeping its old choice in @saved
 * (at least 16 bytes) for ptmark_thp_size_restore(): 0 or -errno,
 * -ENOENT where the kernel has no switch for that size.  Every set must
 * be restored.
 */
int ptmark_thp_size_set(size_t size, const char *mode, char *saved,
			size_t len);
int ptmark_thp_size_restore(size_t size, const char *saved);

/*
 * Make khugepaged scan every 10 ms (or with @restore put its timers
 * back); its completed passes over all mms.  -errno / -1 on failure.
 */
int ptmark_khugepaged_quick(bool restore);
long long ptmark_khugepaged_full_scans(void);

/* ---- protection across splits and collapses of large folios ----------- */

/*
 * One PMD-sized, PMD-aligned region of a large-folio anonymous backing
 * (BK_ANON_THP: one PMD-mapped THP; BK_ANON_MTHP: 64 KiB folios mapped
 * by PTEs), registered with a userfaultfd for write protection or for
 * read-write protection, and what each of its pages must be: where it is
 * mapped now, its state, its data, whether a PMD maps it.  The cases
 * (enum ptmark_lp_case) split the region every way the kernel splits such
 * a mapping, or collapse it, or fork it, and check each page twice: by
 * the module's scan, and by an access of every page (a protected one
 * traps with the mode's fault message and waits until resolved; others go
 * through; each reads the data it should).  After a fork both processes'
 * pages are checked so, the child's scanned through its pidfd and swept
 * by the child itself.
 *
 * States, as ptmark_lp_state() names a scan record:
 *   P  present, protected (WP: uffd-wp, not writable; RWP: protnone and
 *      uffd-rwp)      u  present, unprotected     V  uffd-wp yet writable
 *   S  swap entry, protected     s  swap entry, unprotected
 *   N  no entry      -  no VMA   M  migration entry   ?  anything else
 */
enum ptmark_prot_mode { PTMARK_PROT_WP, PTMARK_PROT_RWP };

enum ptmark_lp_case {
	LP_SPLIT_UNPROTECT,	/* unprotect part of a protected folio */
	LP_SPLIT_MPROTECT,	/* mprotect() part read-only, then back */
	LP_SPLIT_DONTNEED,	/* MADV_DONTNEED of part */
	LP_SPLIT_MREMAP,	/* mremap() part elsewhere (EVENT_REMAP) */
	LP_SPLIT_MUNMAP,	/* munmap() part */
	LP_SPLIT_MIGRATE,	/* move_pages() part to the other node */
	LP_SWAP_OUT,		/* MADV_PAGEOUT, then unprotect part of the swap */
	LP_COLLAPSE,		/* MADV_COLLAPSE refused, then done */
	LP_KHUGEPAGED,		/* khugepaged leaves it, then collapses */
	LP_FORK_EVENT,		/* fork() with part of each 64 KiB protected, */
	LP_FORK_NO_EVENT,	/* with and without UFFD_FEATURE_EVENT_FORK */
};

struct ptmark_lp_page {
	char *addr;		/* where it is mapped now */
	char state;		/* what it must be, as above */
	signed char pmd;	/* present: 1 PMD-mapped, 0 by a PTE, -1 either */
	unsigned char data;	/* what it must hold */
};

/* Where the access sweep of every page says how far it got (ptmark_lib.c). */
struct ptmark_lp_sweep;

struct ptmark_lp {
	const struct ptmark_backing *b;
	enum ptmark_prot_mode mode;
	int ptmark;		/* /dev/ptmark */
	int uffd;
	int pidfd;		/* whose pages are checked: -1 ours, or a child's */
	struct served_child *child;	/* who sweeps them: NULL a thread of ours */
	struct ptmark_lp_sweep *sweep;	/* shared with such a child */
	size_t psize;		/* a page */
	size_t nr;		/* pages in the region */
	size_t folio;		/* pages of a folio at set-up */
	char *mem;		/* the region */
	char *moved;		/* where LP_SPLIT_MREMAP moved its part */
	size_t moved_len;
	bool mthp_set, pmd_set, khugepaged_set;
	char mthp_saved[16], pmd_saved[16];
	struct ptmark_lp_page *pg;
	char why[1024];		/* the failure or skip of the last call */
};

/*
 * Set the region up on backing @b in @mode: 0, 1 to skip (the reason in
 * lp->why: no module, a kernel without the backing or mode), or -1 with
 * lp->why saying what went wrong; the large folios are checked to be
 * there (a PMD leaf, or 64 KiB folios) before anything is protected.
 * ptmark_lp_teardown() always, after either (a second call does
 * nothing).
 */
int ptmark_lp_setup(struct ptmark_lp *lp, const struct ptmark_backing *b,
		    enum ptmark_prot_mode mode);
void ptmark_lp_teardown(struct ptmark_lp *lp);

/* Run case @c over the region: 0, 1 to skip, -1 failed; why in lp->why. */
int ptmark_lp_run(struct ptmark_lp *lp, enum ptmark_lp_case c);

/* ---- known kernel bugs and races --------------------------------------- */

/*
 * A known kernel bug, by its ID in Documentation/kernel-bugs.rst, seen
 * with exactly the symptom written there: XFAIL "kernel-bug ID: message"
 * (a test that already failed stays failed), and the test ends.  Any other
 * wrong outcome is an ordinary failure.  Whether the kernel under test is
 * expected to have the bug is for the verdict to say
 * (selftests/expected/<kernel>.bugs), not the test.  The reason goes where
 * the harness's SKIP() puts its own.
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
 * The end of a passing test that looked for kernel bug @id where it can
 * happen, deterministically: XPASS, so that a fixed kernel shows as fixed.
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

/*
 * A race test counts the windows it really hit: the rounds in which both
 * sides met where the behaviour under test can go wrong (a read fault
 * between a punch's two unmaps, an install while a collapse held the
 * table).  Rounds that missed prove nothing, so only after @need hits may
 * the test pass, or say that a bug was not seen.  Hits may be counted
 * from any thread.
 */
struct ptmark_race {
	const char *windows;	/* what a hit is, plural: "re-faults after a punch" */
	unsigned long need;	/* hits the race must reach */
	atomic_ulong hits;
	unsigned long rounds;	/* tries, for the log */
};

#define PTMARK_RACE(_windows, _need)	{ .windows = (_windows), .need = (_need) }

static inline void ptmark_race_hit(struct ptmark_race *race)
{
	atomic_fetch_add(&race->hits, 1);
}

static inline unsigned long ptmark_race_hits(struct ptmark_race *race)
{
	return atomic_load(&race->hits);
}

/*
 * Fail the test, "race not exercised", unless @race hit its windows
 * @race->need times.
 */
#define RACE_EXERCISED(race)						\
	do {								\
		unsigned long __hits = ptmark_race_hits(race);		\
		TH_LOG("race: %lu %s in %lu rounds (%lu needed)",	\
		       __hits, (race)->windows, (race)->rounds,		\
		       (race)->need);					\
		if (__hits < (race)->need) {				\
			snprintf(_metadata->results->reason,		\
				 sizeof(_metadata->results->reason),	\
				 "race not exercised: %lu of %lu %s",	\
				 __hits, (race)->need, (race)->windows); \
			_metadata->exit_code = KSFT_FAIL;		\
			return;						\
		}							\
	} while (0)

/*
 * The end of a race test that looked for kernel bug @id and did not see
 * it: XPASS naming the windows it hit, or a failure if it hit too few.
 */
#define KERNEL_BUG_NOT_SEEN_IN_RACE(id, race)				\
	do {								\
		RACE_EXERCISED(race);					\
		if (_metadata->exit_code == KSFT_PASS) {		\
			snprintf(_metadata->results->reason,		\
				 sizeof(_metadata->results->reason),	\
				 "kernel-bug %s not seen in %lu %s", id, \
				 ptmark_race_hits(race), (race)->windows); \
			_metadata->exit_code = KSFT_XPASS;		\
		}							\
	} while (0)

/*
 * The suite's own test hook: PTMARK_MISOBSERVE="point,point..." makes
 * each named observation point, where a test tells a known bug's symptom
 * from other wrong outcomes, see another wrong outcome instead of what
 * the kernel did.  The test must then fail, never report the bug: how
 * make check's verdict is shown to raise an XFAIL on the exact symptom
 * alone.  Unset, it is always false.
 */
bool ptmark_misobserve(const char *point);

/* ---- generating only the cases that can apply -------------------------- */

/*
 * What a test needs of its backing: the case of a test on a backing that
 * lacks a bit of @needs, or has every bit of @excludes (when not 0), is
 * never generated (anonymous memory has no file to truncate).  Put it
 * before the TEST_F it describes.
 */
struct ptmark_case_needs {
	const char *fixture;
	const char *test;
	unsigned int needs;
	unsigned int excludes;
	struct ptmark_case_needs *next;
};

void ptmark_register_needs(struct ptmark_case_needs *n);

/*
 * What every test of a fixture needs (a test's own CASE_NEEDS() takes
 * its place).
 */
#define FIXTURE_NEEDS(fixture_name, _needs)				\
	static struct ptmark_case_needs					\
		_ptmark_needs_##fixture_name = {			\
		.fixture = #fixture_name, .needs = (_needs),		\
	};								\
	static void __attribute__((constructor))			\
	_ptmark_register_needs_##fixture_name(void)			\
	{								\
		ptmark_register_needs(&_ptmark_needs_##fixture_name);	\
	}

#define CASE_NEEDS(fixture_name, test_name, _needs, _excludes)		\
	static struct ptmark_case_needs					\
		_ptmark_needs_##fixture_name##_##test_name = {		\
		.fixture = #fixture_name, .test = #test_name,		\
		.needs = (_needs), .excludes = (_excludes),		\
	};								\
	static void __attribute__((constructor))			\
	_ptmark_register_needs_##fixture_name##_##test_name(void)	\
	{								\
		ptmark_register_needs(					\
			&_ptmark_needs_##fixture_name##_##test_name);	\
	}

/* The CASE_NEEDS() of a test, else its FIXTURE_NEEDS(), else NULL. */
const struct ptmark_case_needs *ptmark_case_needs_of(const char *fixture,
						     const char *test);

/*
 * Why this kernel (and module) cannot give a case on backing @b (NULL:
 * a case without one) the NEEDS_* bits of @needs, or NULL.
 */
const char *ptmark_needs_unmet(const struct ptmark_backing *b,
			       unsigned int needs);

/* The features word of the loaded ptmark.ko, 0 without one. */
__u64 ptmark_module_features(void);


/*
 * Note that the cases of variant (or fixture) @name were left out for
 * @why; ptmark_not_generated() says what was left out, by reason:
 * "WHY: name, name; WHY: name", "" when nothing was.
 */
void ptmark_note_not_generated(const char *name, const char *why);
const char *ptmark_not_generated(void);

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

/*
 * A program's own word on whether a case can apply on this kernel: why a
 * test that needs @needs (CASE_NEEDS(), 0 without) cannot run on backing
 * @b here (NULL: a case without a backing, asked only when @needs has
 * program bits), or NULL.
 */
typedef const char *(*ptmark_case_check)(const struct ptmark_backing *b,
					 unsigned int needs);

/*
 * Run the cases that can apply, and only them: of the cases the
 * arguments select, those whose backing (a variant named after a backing
 * of ptmark_backings[]) has what their CASE_NEEDS() asks, and is usable
 * here (ptmark_backing_unavailable(), then @check, which may be NULL).
 * They run under the harness's "-r FIXTURE.VARIANT.TEST" selection, so
 * the plan counts them alone; what was left out for this machine or
 * kernel is named by the all_cases_generated case.  When no case is left,
 * the program skips as a whole: "1..0 # SKIP" with the reasons, exit
 * KSFT_SKIP.  A help or list request goes to the harness as it is.
 */
static inline int ptmark_harness_run(int argc, char **argv,
				     ptmark_case_check check)
{
	struct __fixture_variant_metadata no_variant = { .name = "" };
	struct __fixture_variant_metadata *v;
	const struct ptmark_case_needs *needs;
	const struct ptmark_backing *b;
	struct __fixture_metadata *f;
	struct __test_metadata *t;
	char **args, why[PTMARK_WHY_LEN];
	const char *gone;
	int i, n = 1;

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "-l"))
			return test_harness_run(argc, argv);
	args = calloc(1 + 2 * 65536, sizeof(*args));
	if (!args)
		ksft_exit_fail_msg("no memory for the case list\n");
	args[0] = argv[0];
	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-d"))
			args[n++] = argv[i];
	for (f = __fixture_list; f; f = f->next) {
		for (v = f->variant ?: &no_variant; v; v = v->next) {
			b = ptmark_fixture_is_backed(f->name) && v->data ?
			    *(const struct ptmark_backing *const *)v->data :
			    ptmark_backing_by_name(v->name);
			for (t = f->tests; t; t = t->next) {
				if (!test_enabled(argc, argv, f, v, t))
					continue;
				needs = ptmark_case_needs_of(f->name, t->name);
				if (b && needs && !ptmark_backing_fits(b, needs->needs,
								      needs->excludes))
					continue;
				gone = b ? ptmark_backing_unavailable(b, why, sizeof(why)) : NULL;
				if (!gone && needs)
					gone = ptmark_needs_unmet(b, needs->needs);
				if (!gone && check && (b || (needs && needs->needs >= NEEDS_PROGRAM)))
					gone = check(b, needs ? needs->needs : 0);
				if (gone) {
					ptmark_note_not_generated(v->name[0] ? v->name : f->name,
								  gone);
					continue;
				}
				if (n + 2 > 1 + 2 * 65536)
					ksft_exit_fail_msg("too many cases\n");
				if (asprintf(&args[n + 1], "%s.%s%s%s", f->name,
					     v->name, v->name[0] ? "." : "",
					     t->name) < 0)
					ksft_exit_fail_msg("no memory for the case list\n");
				args[n] = "-r";
				n += 2;
			}
		}
	}
	if (n == 1 || (n == 2 && !strcmp(args[1], "-d"))) {
		ksft_print_header();
		ksft_exit_skip("%s\n", ptmark_not_generated()[0] ?
			       ptmark_not_generated() : "no case selected");
	}
	atexit(ptmark_exit_skip_if_all_skipped);
	return test_harness_run(n, args);
}

/*
 * The case that says what this run left out for this machine or kernel:
 * SKIP naming each variant (or fixture) not generated and why, else a
 * pass.  Once in each program whose cases the filter may leave out.
 */
#define PTMARK_GENERATED_TEST()						\
	TEST(all_cases_generated)					\
	{								\
		if (ptmark_not_generated()[0])				\
			SKIP(return, "not generated: %s",		\
			     ptmark_not_generated());			\
	}

/*
 * Before the harness runs: skip the whole program ("1..0 # SKIP") when
 * ptmark.ko is not loaded, or lacks every feature of @any (0: none
 * needed), saying @why.
 */
static inline void ptmark_require_module(__u64 any, const char *why)
{
	int fd = ptmark_open();

	if (fd >= 0)
		close(fd);
	if (fd < 0 || (any && !(ptmark_module_features() & any))) {
		ksft_print_header();
		ksft_exit_skip("%s\n", fd < 0 ? "ptmark.ko not loaded" : why);
	}
}

/*
 * Whether the harness was only asked to list the cases (-l) or for its
 * usage (-h): that needs no module.
 */
static inline bool ptmark_only_listing(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-l") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

/* main() with ptmark_harness_run() and the program's @check (or NULL). */
#define PTMARK_HARNESS_MAIN(check)					\
	int main(int argc, char **argv)					\
	{								\
		return ptmark_harness_run(argc, argv, check);		\
	}

/* The same for a program every case of which needs ptmark.ko. */
#define PTMARK_MODULE_HARNESS_MAIN(check)				\
	int main(int argc, char **argv)					\
	{								\
		if (!ptmark_only_listing(argc, argv))			\
			ptmark_require_module(0, NULL);			\
		return ptmark_harness_run(argc, argv, check);		\
	}

/*
 * The test of a ptmark_lp_run() case on fixture @self->lp: a skip or a
 * failure with its reason.
 */
#define PTMARK_LP_CASE(lp, c)						\
	do {								\
		int __r = ptmark_lp_run(lp, c);				\
		if (__r > 0)						\
			SKIP(return, "%s", (lp)->why);			\
		ASSERT_EQ(0, __r) TH_LOG("%s", (lp)->why);		\
	} while (0)

/*
 * FIXTURE_SETUP() of such a fixture.  The harness runs no teardown after
 * a set-up that skipped or failed, so such a one undoes itself here: the
 * THP switches it set must not stay set for the cases and programs after.
 */
#define PTMARK_LP_SETUP(lp, backing, mode)				\
	do {								\
		int __r = ptmark_lp_setup(lp, backing, mode);		\
		if (__r)						\
			ptmark_lp_teardown(lp);				\
		if (__r > 0)						\
			SKIP(return, "%s", (lp)->why);			\
		ASSERT_EQ(0, __r) TH_LOG("%s", (lp)->why);		\
	} while (0)
/* One test of PTMARK_LP_TESTS(). */
#define PTMARK_LP_TEST(f, name, c, timeout)				\
	TEST_F_TIMEOUT(f, name, timeout)				\
	{								\
		PTMARK_LP_CASE(&self->lp, c);				\
	}

/*
 * Fixture @f over a PMD-mapped anonymous THP and 64 KiB mTHP folios,
 * protected in @mode (PTMARK_PROT_WP or PTMARK_PROT_RWP), and its eleven
 * ptmark_lp_run() cases: uffd_wp's and rwp's large-folio splits,
 * collapses and forks.
 */
#define PTMARK_LP_TESTS(f, mode)					\
	FIXTURE(f) {							\
		struct ptmark_lp lp;					\
	};								\
	FIXTURE_VARIANT(f) {						\
		const struct ptmark_backing *backing;			\
	};								\
	BACKING_VARIANT(f, anon_thp, BK_ANON_THP);			\
	BACKING_VARIANT(f, anon_mthp, BK_ANON_MTHP);			\
	FIXTURE_SETUP(f)						\
	{								\
		PTMARK_LP_SETUP(&self->lp, variant->backing, mode);	\
	}								\
	FIXTURE_TEARDOWN(f)						\
	{								\
		ptmark_lp_teardown(&self->lp);				\
	}								\
	PTMARK_LP_TEST(f, split_by_partial_unprotect, LP_SPLIT_UNPROTECT, 90) \
	PTMARK_LP_TEST(f, split_by_partial_mprotect, LP_SPLIT_MPROTECT, 90) \
	PTMARK_LP_TEST(f, split_by_partial_dontneed, LP_SPLIT_DONTNEED, 90) \
	PTMARK_LP_TEST(f, split_by_partial_mremap, LP_SPLIT_MREMAP, 90)	\
	PTMARK_LP_TEST(f, split_by_partial_munmap, LP_SPLIT_MUNMAP, 90)	\
	PTMARK_LP_TEST(f, split_by_partial_migration, LP_SPLIT_MIGRATE, 90) \
	PTMARK_LP_TEST(f, swap_out, LP_SWAP_OUT, 90)			\
	PTMARK_LP_TEST(f, madv_collapse, LP_COLLAPSE, 90)		\
	PTMARK_LP_TEST(f, khugepaged_collapse, LP_KHUGEPAGED, 180)	\
	PTMARK_LP_TEST(f, fork_with_event, LP_FORK_EVENT, 120)		\
	PTMARK_LP_TEST(f, fork_without_event, LP_FORK_NO_EVENT, 120)
#endif /* __KSELFTEST_HARNESS_H */

#endif /* _PTMARK_LIB_H */
