/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the ptmark selftests.
 */
#ifndef _PTMARK_LIB_H
#define _PTMARK_LIB_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/mman.h>
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

#define PTMARK_DEBUGFS	"/sys/kernel/debug/ptmark"

/* Open /dev/ptmark; -errno when it cannot be opened. */
int ptmark_open(void);

/* PTMARK_IOC_INFO with the current struct size; -errno on failure. */
int ptmark_get_info(int fd, struct ptmark_info *info);

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

/* Value of counter @name in debugfs "stats", or -1 if not there. */
long long ptmark_stat(const char *name);

/*
 * A fresh, not yet initialised userfaultfd for user-mode faults, from the
 * syscall or else /dev/userfaultfd; -errno when there is none.
 */
int uffd_new_fd(void);

/*
 * PTMARK_IOC_SCAN in dense mode over nr_pages pages from addr of the
 * caller: recs gets exactly one record a page.  -errno on failure, -EIO
 * if the module returned anything but one record a page for all of them.
 */
int ptmark_scan_dense(int fd, const void *addr, size_t nr_pages,
		      struct ptmark_record *recs);

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

#endif /* _PTMARK_LIB_H */
