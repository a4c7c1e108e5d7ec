/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * ptmark: install and inspect special page-table states of user memory.
 *
 * The ABI of /dev/ptmark.  Every ioctl argument is an extensible struct
 * whose first field is its size as the caller was built: the module
 * accepts any size from the first published one up, zero-filling what an
 * older caller does not pass and refusing (E2BIG) non-zero bytes it does
 * not know, as clone3() and openat2() do.  The size bits encoded in the
 * ioctl number are ignored for the same reason.
 *
 * Access (Documentation/ptmark.rst, "Access"): INFO, SCAN and the QUERY of
 * UNMOVABLE work through any fd of the device.  Everything that changes
 * state (MARKER, UNMOVABLE SET, CLEAR and CREATE) needs the fd open for
 * writing (EBADF) and CAP_SYS_ADMIN of the fd's opener, not of its holder
 * (EPERM).  A pidfd target other than the caller needs CAP_SYS_PTRACE of
 * both the caller and the opener (EACCES), and to be written to,
 * CAP_SYS_NICE of the caller (EPERM); a target that has exited is ESRCH.
 */
#ifndef _UAPI_LINUX_PTMARK_H
#define _UAPI_LINUX_PTMARK_H

#include <linux/ioctl.h>
#include <linux/types.h>

#define PTMARK_DEVICE		"/dev/ptmark"
#define PTMARK_ABI_VERSION	1

/*
 * Features of the running kernel, as the module found them when it was
 * built against it.  A clear bit means the kernel lacks the feature and
 * the ioctls needing it answer -EOPNOTSUPP.
 */
#define PTMARK_FEAT_GUARD		(1ULL << 0)  /* MADV_GUARD_INSTALL, anon */
#define PTMARK_FEAT_GUARD_FILE		(1ULL << 1)  /* guards on file/shmem/RO */
#define PTMARK_FEAT_UFFD_WP		(1ULL << 2)  /* userfaultfd wr-protect */
#define PTMARK_FEAT_UFFD_WP_MARKER	(1ULL << 3)  /* uffd-wp PTE markers */
#define PTMARK_FEAT_POISON_MARKER	(1ULL << 4)  /* poisoned PTE markers */
#define PTMARK_FEAT_PAGEMAP_SCAN	(1ULL << 5)  /* PAGEMAP_SCAN ioctl */
#define PTMARK_FEAT_PAGEMAP_GUARD	(1ULL << 6)  /* PM_GUARD_REGION bit */
#define PTMARK_FEAT_SOFT_DIRTY		(1ULL << 7)
#define PTMARK_FEAT_THP			(1ULL << 8)
#define PTMARK_FEAT_MIGRATION		(1ULL << 9)
#define PTMARK_FEAT_AS_UNMOVABLE	(1ULL << 10) /* mapping flag, ~6.8 */
#define PTMARK_FEAT_AS_INACCESSIBLE	(1ULL << 11) /* mapping flag, 6.11+ */
#define PTMARK_FEAT_HUGETLB		(1ULL << 12)
#define PTMARK_FEAT_GUARD_IOCTL		(1ULL << 13) /* PTMARK_IOC_MARKER guards */
#define PTMARK_FEAT_INJECT		(1ULL << 14) /* "inject" param is set */
#define PTMARK_FEAT_PIN			(1ULL << 15) /* PTMARK_IOC_PIN sessions */
#define PTMARK_FEAT_HUGE_PFNMAP		(1ULL << 16) /* PMD leaves in pfnmaps */
#define PTMARK_FEAT_NETLINK		(1ULL << 17) /* the "ptmark" genl family */
#define PTMARK_FEAT_UFFD_RWP		(1ULL << 18) /* userfaultfd rw-protect */
#define PTMARK_FEAT_CONT_PTE		(1ULL << 19) /* PTMARK_BIT_CONT is told */

/**
 * struct ptmark_info - what the module and the running kernel support
 * @size:	(in) sizeof(struct ptmark_info) as the caller knows it
 * @abi:	(out) PTMARK_ABI_VERSION of the module
 * @features:	(out) PTMARK_FEAT_* bits
 * @page_size:	(out) PAGE_SIZE of the kernel
 * @pmd_size:	(out) bytes mapped by one PMD leaf (THP size)
 * @release:	(out) utsname release of the running kernel, NUL terminated
 */
struct ptmark_info {
	__u32 size;
	__u32 abi;
	__u64 features;
	__u32 page_size;
	__u32 pmd_size;
	char release[64];
};

#define PTMARK_INFO_SIZE_VER0	88

/*
 * Scanning page tables.  Each page of the range is classified into one
 * kind; runs of pages that agree in everything (kind, bits, marker, VMA
 * and mapping flags, and consecutive pfns where pfns are shown) make one
 * record.  A record never crosses a VMA boundary.
 */
enum ptmark_kind {
	PTMARK_KIND_UNMAPPED = 0,	/* no VMA covers the page */
	PTMARK_KIND_NONE,		/* VMA, but no entry */
	PTMARK_KIND_PRESENT,		/* maps a page (or a pfn) */
	PTMARK_KIND_SWAP,		/* swap entry */
	PTMARK_KIND_MIGRATION,		/* migration entry */
	PTMARK_KIND_DEVICE_PRIVATE,	/* device-private entry */
	PTMARK_KIND_DEVICE_EXCLUSIVE,	/* device-exclusive entry */
	PTMARK_KIND_HWPOISON,		/* hardware-poison entry */
	PTMARK_KIND_MARKER,		/* PTE marker, see PTMARK_MARKER_* */
	PTMARK_KIND_RAW,		/* an entry ptmark cannot classify */
	PTMARK_KIND_COUNT
};

/* PTE marker bits (struct ptmark_record.marker), any combination. */
#define PTMARK_MARKER_UFFD_WP		(1U << 0)
#define PTMARK_MARKER_POISONED		(1U << 1)
#define PTMARK_MARKER_GUARD		(1U << 2)
#define PTMARK_MARKER_UNKNOWN		(1U << 15) /* bits ptmark does not know */

/* Entry bits (struct ptmark_record.bits); which apply depends on the kind. */
#define PTMARK_BIT_WRITE		(1U << 0)  /* present, migration, device */
#define PTMARK_BIT_DIRTY		(1U << 1)  /* present */
#define PTMARK_BIT_YOUNG		(1U << 2)  /* present */
#define PTMARK_BIT_SOFT_DIRTY		(1U << 3)  /* present, swap, migration */
#define PTMARK_BIT_UFFD_WP		(1U << 4)  /* present, swap, migration */
#define PTMARK_BIT_EXCLUSIVE		(1U << 5)  /* anon-exclusive page/entry */
#define PTMARK_BIT_ANON			(1U << 6)  /* present: anonymous folio */
#define PTMARK_BIT_FILE			(1U << 7)  /* present: page-cache folio */
#define PTMARK_BIT_ZEROPAGE		(1U << 8)  /* present: shared zeropage */
#define PTMARK_BIT_HUGE_ZEROPAGE	(1U << 9)  /* present: huge zeropage */
#define PTMARK_BIT_SPECIAL		(1U << 10) /* present: no folio (pfnmap) */
#define PTMARK_BIT_MAYBE_PINNED		(1U << 11) /* folio maybe DMA-pinned */
#define PTMARK_BIT_LARGE		(1U << 12) /* folio of more than a page */
#define PTMARK_BIT_PMD			(1U << 13) /* mapped by a PMD leaf */
#define PTMARK_BIT_PUD			(1U << 14) /* mapped by a PUD leaf */
/*
 * Present, swap, migration: the uffd bit in a VMA registered for uffd
 * read-write protection (UFFDIO_REGISTER_MODE_RWP), where it stands for
 * RWP protection (UFFD_WP is never set there): a present entry with it
 * is PROTNONE too, a swap or migration entry with it comes back PROTNONE.
 */
#define PTMARK_BIT_UFFD_RWP		(1U << 15)
/*
 * Present, but no access allowed (pte_protnone()): with UFFD_RWP an
 * RWP-protected page, with NUMA_HINT a NUMA-hinting one, alone a page of a
 * VMA without access (mprotect(PROT_NONE)).
 */
#define PTMARK_BIT_PROTNONE		(1U << 16)
/* Present: PROTNONE in an accessible VMA for NUMA balancing's faults. */
#define PTMARK_BIT_NUMA_HINT		(1U << 17)
/*
 * Present, mapped by a PTE: the entry carries the architecture's
 * contiguous hint, so that the TLB may cache its whole aligned block as
 * one (arm64's PTE_CONT: a contpte block of a large folio).  Only where
 * PTMARK_FEAT_CONT_PTE says the kernel has such a bit; never elsewhere.
 */
#define PTMARK_BIT_CONT			(1U << 18)

/* VMA flags (struct ptmark_record.vma_flags); 0 for unmapped records. */
#define PTMARK_VMA_READ			(1ULL << 0)
#define PTMARK_VMA_WRITE		(1ULL << 1)
#define PTMARK_VMA_EXEC			(1ULL << 2)
#define PTMARK_VMA_SHARED		(1ULL << 3)
#define PTMARK_VMA_ANON			(1ULL << 4)  /* no file behind it */
#define PTMARK_VMA_FILE			(1ULL << 5)  /* file-backed, not shmem */
#define PTMARK_VMA_SHMEM		(1ULL << 6)
#define PTMARK_VMA_PFNMAP		(1ULL << 7)
#define PTMARK_VMA_IO			(1ULL << 8)
#define PTMARK_VMA_MIXEDMAP		(1ULL << 9)
#define PTMARK_VMA_HUGETLB		(1ULL << 10)
#define PTMARK_VMA_LOCKED		(1ULL << 11)
#define PTMARK_VMA_LOCKONFAULT		(1ULL << 12)
#define PTMARK_VMA_UFFD_MISSING		(1ULL << 13)
#define PTMARK_VMA_UFFD_WP		(1ULL << 14)
#define PTMARK_VMA_UFFD_MINOR		(1ULL << 15)
#define PTMARK_VMA_WIPEONFORK		(1ULL << 16)
#define PTMARK_VMA_DONTCOPY		(1ULL << 17)
#define PTMARK_VMA_HUGEPAGE		(1ULL << 18)
#define PTMARK_VMA_NOHUGEPAGE		(1ULL << 19)
#define PTMARK_VMA_SOFTDIRTY		(1ULL << 20)
#define PTMARK_VMA_SEQ_READ		(1ULL << 21)
#define PTMARK_VMA_RAND_READ		(1ULL << 22)
#define PTMARK_VMA_UFFD_RWP		(1ULL << 23)

/* Flags of the address space behind the VMA (struct ptmark_record.as_flags). */
#define PTMARK_AS_UNMOVABLE		(1U << 0)
#define PTMARK_AS_INACCESSIBLE		(1U << 1)
#define PTMARK_AS_UNEVICTABLE		(1U << 2)

/**
 * struct ptmark_record - one run of pages in the same page-table state
 * @start:	first address of the run
 * @nr_pages:	pages in the run
 * @pfn:	pfn of the first page for present, migration and device
 *		entries (consecutive for the rest of the run); 0 otherwise,
 *		and always 0 unless the device fd's opener had CAP_SYS_ADMIN
 * @vma_flags:	PTMARK_VMA_* of the VMA the run lies in
 * @kind:	enum ptmark_kind
 * @marker:	PTMARK_MARKER_* for PTMARK_KIND_MARKER, else 0
 * @bits:	PTMARK_BIT_*
 * @as_flags:	PTMARK_AS_* of the VMA's file mapping
 * @reserved:	0
 */
struct ptmark_record {
	__u64 start;
	__u64 nr_pages;
	__u64 pfn;
	__u64 vma_flags;
	__u16 kind;
	__u16 marker;
	__u32 bits;
	__u32 as_flags;
	__u32 reserved;
};

/*
 * The one character a page of a record stands for in the debugfs "map"
 * dump and in ptmarkctl's --map view:
 *
 *   _ unmapped  . none  A anon  F file  T pmd/pud-mapped  Z zeropage
 *   H huge zeropage  p pfnmap/special  S swap  M migration  D device
 *   X hwpoison  G guard  W uffd-wp marker  B guard+uffd-wp  K other marker
 *   ? raw
 */
static inline char ptmark_map_char(const struct ptmark_record *r)
{
	switch (r->kind) {
	case PTMARK_KIND_UNMAPPED:
		return '_';
	case PTMARK_KIND_NONE:
		return '.';
	case PTMARK_KIND_PRESENT:
		if (r->bits & PTMARK_BIT_ZEROPAGE)
			return 'Z';
		if (r->bits & PTMARK_BIT_HUGE_ZEROPAGE)
			return 'H';
		if (r->bits & PTMARK_BIT_SPECIAL)
			return 'p';
		if (r->bits & (PTMARK_BIT_PMD | PTMARK_BIT_PUD))
			return 'T';
		return r->bits & PTMARK_BIT_ANON ? 'A' : 'F';
	case PTMARK_KIND_SWAP:
		return 'S';
	case PTMARK_KIND_MIGRATION:
		return 'M';
	case PTMARK_KIND_DEVICE_PRIVATE:
	case PTMARK_KIND_DEVICE_EXCLUSIVE:
		return 'D';
	case PTMARK_KIND_HWPOISON:
		return 'X';
	case PTMARK_KIND_MARKER:
		if (r->marker == PTMARK_MARKER_GUARD)
			return 'G';
		if (r->marker == PTMARK_MARKER_UFFD_WP)
			return 'W';
		if (r->marker == (PTMARK_MARKER_GUARD | PTMARK_MARKER_UFFD_WP))
			return 'B';
		return 'K';
	default:
		return '?';
	}
}

/* Scan the process of @pidfd instead of the caller. */
#define PTMARK_SCAN_PIDFD		(1U << 0)
/* One record per page: no runs (tests compare page by page). */
#define PTMARK_SCAN_DENSE		(1U << 1)
/* Compact words instead of records; see PTMARK_C_* below. */
#define PTMARK_SCAN_COMPACT		(1U << 2)
#define PTMARK_SCAN_FLAGS		(PTMARK_SCAN_PIDFD | PTMARK_SCAN_DENSE | \
					 PTMARK_SCAN_COMPACT)

/* Every PTMARK_BIT_* there is; what @bits_mask 0 stands for. */
#define PTMARK_BIT_ALL			((1U << 19) - 1)

/*
 * The compact format (PTMARK_SCAN_COMPACT): @records points to __u32
 * words and @nr_records counts words.  Pages are described in address
 * order, every page of [@start, @next) exactly once, with no VMA fields and
 * no pfns:
 *
 *  - a state word (bit 31 clear) describes the next page: its kind in bits
 *    0-3, its marker in bits 4-7 (PTMARK_C_MARKER_*), its PTMARK_BIT_*
 *    bits (as far as @bits_mask asks for them) in bits 8-26;
 *  - a repeat word (bit 31 set) says that as many more pages as its low 31
 *    bits count are in the state of the last state word.
 *
 * A page-sized stripe of alternating states costs four bytes a page, a
 * run of equal pages eight bytes however long it is, and runs do cross
 * VMA boundaries.  The first word of every call is a state word.
 */
#define PTMARK_C_REPEAT			(1U << 31)
#define PTMARK_C_COUNT_MAX		(PTMARK_C_REPEAT - 1)
#define PTMARK_C_KIND(w)		((w) & 0xfU)
#define PTMARK_C_MARKER(w)		(((w) >> 4) & 0xfU)
#define PTMARK_C_BITS(w)		(((w) >> 8) & PTMARK_BIT_ALL)
#define PTMARK_C_COUNT(w)		((w) & PTMARK_C_COUNT_MAX)
/* Marker bits of a state word: PTMARK_MARKER_* but UNKNOWN in bit 3. */
#define PTMARK_C_MARKER_UNKNOWN		(1U << 3)

/**
 * struct ptmark_scan - classify every page of a range
 * @size:	(in) sizeof(struct ptmark_scan) as the caller knows it
 * @flags:	(in) PTMARK_SCAN_*
 * @pidfd:	(in) target process with PTMARK_SCAN_PIDFD; stands for
 *		reading /proc/pid/pagemap, and needs CAP_SYS_PTRACE of the
 *		caller and of the device fd's opener
 * @nr_records:	(in) room in @records; (out) records written
 * @start:	(in) page-aligned start of the range
 * @len:	(in) page-aligned length, > 0, inside the user address space
 * @records:	(in) user pointer to struct ptmark_record[@nr_records]
 * @next:	(out) first address not reported: @start + @len when the
 *		whole range fit, else where to continue
 * @bits_mask:	(in) the PTMARK_BIT_* to report, in records and compact
 *		words alike; 0 means PTMARK_BIT_ALL.  Leaving out bits lets
 *		more pages merge into one run, and leaving out every bit
 *		that needs the folio (ANON, FILE, EXCLUSIVE, MAYBE_PINNED,
 *		LARGE, HUGE_ZEROPAGE) spares the walk looking at folios.
 * @reserved:	(in) 0
 */
struct ptmark_scan {
	__u32 size;
	__u32 flags;
	__s32 pidfd;
	__u32 nr_records;
	__u64 start;
	__u64 len;
	__u64 records;
	__u64 next;
	__u32 bits_mask;
	__u32 reserved;
};

#define PTMARK_SCAN_SIZE_VER0	48
#define PTMARK_SCAN_SIZE_VER1	56	/* adds bits_mask */

/* Flags of struct ptmark_marker. */
#define PTMARK_MARKER_F_PIDFD		(1U << 0) /* target is @pidfd */
#define PTMARK_MARKER_F_REMOVE		(1U << 1) /* remove instead of install */
/* Skip the VMA rules; needs the "inject" module parameter. */
#define PTMARK_MARKER_F_INJECT		(1U << 2)
/* @start points to struct ptmark_range[@len]: many ranges in one call. */
#define PTMARK_MARKER_F_VECTOR		(1U << 3)
#define PTMARK_MARKER_FLAGS		(PTMARK_MARKER_F_PIDFD | \
					 PTMARK_MARKER_F_REMOVE | \
					 PTMARK_MARKER_F_INJECT | \
					 PTMARK_MARKER_F_VECTOR)

/* Most ranges one PTMARK_MARKER_F_VECTOR call takes (E2BIG beyond). */
#define PTMARK_MARKER_VEC_MAX		(1U << 20)

/**
 * struct ptmark_range - one range of a PTMARK_MARKER_F_VECTOR call
 * @start:	page-aligned start
 * @len:	length, rounded up to whole pages; 0 does nothing
 */
struct ptmark_range {
	__u64 start;
	__u64 len;
};

/**
 * struct ptmark_marker - install or remove PTE markers on a range
 * @size:	(in) sizeof(struct ptmark_marker) as the caller knows it
 * @flags:	(in) PTMARK_MARKER_F_*
 * @pidfd:	(in) target process with PTMARK_MARKER_F_PIDFD; stands for
 *		ptrace-attach, and needs CAP_SYS_PTRACE of the caller and of
 *		the device fd's opener, and CAP_SYS_NICE of the caller
 * @marker:	(in) PTMARK_MARKER_GUARD or PTMARK_MARKER_UFFD_WP; with
 *		PTMARK_MARKER_F_INJECT any non-empty set of PTMARK_MARKER_*
 *		bits but UNKNOWN
 * @start:	(in) page-aligned start
 * @len:	(in) length, rounded up to whole pages; 0 does nothing
 * @nr_pages:	(out) install: pages of the range that carry the marker
 *		afterwards; remove: markers removed
 * @nr_ranges:	(out) with PTMARK_MARKER_F_VECTOR: ranges done completely
 *		(the call stops at the first range that fails, whose index
 *		this is then; @nr_pages counts its done part too)
 *
 * With PTMARK_MARKER_F_VECTOR, @start is a user pointer to an array of
 * @len struct ptmark_range, each treated as one call would treat it, in
 * order; the mmap lock is taken once per batch of ranges, not per range.
 * The struct must then be at least PTMARK_MARKER_SIZE_VER1 bytes.
 *
 * Guard markers follow MADV_GUARD_INSTALL/REMOVE of the running kernel:
 * the same range and VMA rules (mseal() included), pages already mapped
 * are zapped first, holes in the range give -ENOMEM after the mapped parts
 * are done.  uffd-wp markers go
 * only on none PTEs of a shmem or file VMA registered for uffd write
 * protection, the state the kernel leaves when it zaps a protected PTE.
 * Installing and removing alike need the device fd open for writing and
 * CAP_SYS_ADMIN of its opener.
 */
struct ptmark_marker {
	__u32 size;
	__u32 flags;
	__s32 pidfd;
	__u32 marker;
	__u64 start;
	__u64 len;
	__u64 nr_pages;
	__u64 nr_ranges;
};

#define PTMARK_MARKER_SIZE_VER0		40
#define PTMARK_MARKER_SIZE_VER1		48	/* adds nr_ranges */

/* Operations of PTMARK_IOC_UNMOVABLE. */
#define PTMARK_UNMOVABLE_QUERY		0
#define PTMARK_UNMOVABLE_SET		1
#define PTMARK_UNMOVABLE_CLEAR		2
#define PTMARK_UNMOVABLE_CREATE		3

/**
 * struct ptmark_unmovable - the unmovable flag of a file's address space
 * @size:	(in) sizeof(struct ptmark_unmovable) as the caller knows it
 * @fd:		(in) QUERY: a regular shmem file (memfd, tmpfs); SET,
 *		CLEAR: a file CREATE made, open for writing (EPERM); other
 *		files are refused (EINVAL).  CREATE: (in) -1, (out) the new
 *		file
 * @op:		(in) PTMARK_UNMOVABLE_*
 * @flag:	(out) the PTMARK_AS_* bit this kernel uses to mean
 *		"unmovable" (PTMARK_AS_INACCESSIBLE or PTMARK_AS_UNMOVABLE)
 * @as_flags:	(out) PTMARK_AS_* of the address space after @op
 * @reserved:	(in) 0
 *
 * The flag goes on a file before its first page, as guest_memfd puts it
 * on its own, and with it the file's pages are allocated only where
 * unmovable memory may go (never ZONE_MOVABLE or CMA):
 *  - CREATE makes a new, empty shmem file (O_RDWR, O_CLOEXEC; it can be
 *    mmap()ed, ftruncate()d and fallocate()d like a memfd) with the flag
 *    already set, and returns its descriptor in @fd;
 *  - CLEAR undoes exactly what CREATE or SET did (the flag, the
 *    PTMARK_AS_UNEVICTABLE that came with it, the pages' placement), on a
 *    flagged file at any time;
 *  - SET flags such a file again only while it has size 0 and no pages
 *    (EBUSY otherwise); on a flagged file it does nothing;
 *  - QUERY changes nothing.
 * While flagged with PTMARK_AS_INACCESSIBLE a file no longer zeroes the
 * cut-off part of a page on a partial ftruncate() or hole punch: the old
 * bytes read back where zeroes are due (after shrinking to a size that is
 * not page-aligned and growing again, or inside the punched range).  That
 * is why SET and CLEAR take no file the module did not make: on a memfd
 * or tmpfs file of someone else's, every sharer would see it.
 * All but QUERY need the device fd open for writing and CAP_SYS_ADMIN of
 * its opener.
 */
struct ptmark_unmovable {
	__u32 size;
	__s32 fd;
	__u32 op;
	__u32 flag;
	__u32 as_flags;
	__u32 reserved;
};

#define PTMARK_UNMOVABLE_SIZE_VER0	24

/*
 * Pin sessions.  PTMARK_IOC_PIN returns a new file descriptor, a session
 * that holds pages pinned through the kernel's own pin_user_pages*() (the
 * pins a driver doing DMA takes) until they are released, the session is
 * closed, or its last holder exits.  Its mm is fixed when it is opened.
 * The module cannot be unloaded while a session is open.
 *
 * A session holds at most PTMARK_PIN_MAX_PAGES pages, in ranges that do
 * not overlap; a pin that would hold more fails with ENOSPC, one that
 * overlaps a range the session holds with EEXIST.  Opening one is a
 * write-level operation: /dev/ptmark must be open for writing (EBADF)
 * by a CAP_SYS_ADMIN opener (EPERM), and a pidfd target must be one the
 * caller may change, as for markers (CAP_SYS_PTRACE: EACCES; and
 * CAP_SYS_NICE: EPERM; ESRCH once it has exited).  Every pinned page is
 * charged to the pinning user's RLIMIT_MEMLOCK unless it has
 * CAP_IPC_LOCK (ENOMEM beyond) and shows in the VmPin of the process that
 * opened the session, until released or the session ends: a target's
 * exit leaves them pinned.
 */
#define PTMARK_PIN_MAX_PAGES		4096

/* Flags of struct ptmark_pin_open. */
#define PTMARK_PIN_OPEN_F_PIDFD		(1U << 0) /* target is @pidfd */
#define PTMARK_PIN_OPEN_FLAGS		PTMARK_PIN_OPEN_F_PIDFD

/**
 * struct ptmark_pin_open - open a pin session (PTMARK_IOC_PIN)
 * @size:	(in) sizeof(struct ptmark_pin_open) as the caller knows it
 * @flags:	(in) PTMARK_PIN_OPEN_F_*
 * @pidfd:	(in) target process with PTMARK_PIN_OPEN_F_PIDFD
 * @fd:		(out) the session, O_CLOEXEC
 * @max_pages:	(out) PTMARK_PIN_MAX_PAGES of the module
 */
struct ptmark_pin_open {
	__u32 size;
	__u32 flags;
	__s32 pidfd;
	__s32 fd;
	__u64 max_pages;
};

#define PTMARK_PIN_OPEN_SIZE_VER0	24

/* Flags of PTMARK_PIN_IOC_PIN: the FOLL_* flags the pin is taken with. */
#define PTMARK_PIN_F_WRITE		(1U << 0) /* FOLL_WRITE */
#define PTMARK_PIN_F_LONGTERM		(1U << 1) /* FOLL_LONGTERM */
/* pin_user_pages_fast() (GUP-fast), only when the session is the caller's. */
#define PTMARK_PIN_F_FAST		(1U << 2)
#define PTMARK_PIN_FLAGS		(PTMARK_PIN_F_WRITE | \
					 PTMARK_PIN_F_LONGTERM | \
					 PTMARK_PIN_F_FAST)

/**
 * struct ptmark_pin_range - pin or release one range of a session
 * @size:	(in) sizeof(struct ptmark_pin_range) as the caller knows it
 * @flags:	(in) PTMARK_PIN_F_* for PTMARK_PIN_IOC_PIN, 0 for RELEASE
 * @start:	(in) page-aligned start
 * @len:	(in) page-aligned length, > 0; RELEASE takes exactly a range
 *		PIN made (ENOENT otherwise)
 * @nr_pages:	(out) pages the session holds afterwards
 *
 * Without PTMARK_PIN_F_FAST the pin is pin_user_pages() (the caller's mm)
 * or pin_user_pages_remote() (a pidfd target) under the mmap lock.  A
 * range the kernel cannot pin completely (a hole, a guard marker, a
 * VM_PFNMAP or VM_IO mapping) fails with the kernel's errno, typically
 * EFAULT, and leaves nothing of it pinned.
 */
struct ptmark_pin_range {
	__u32 size;
	__u32 flags;
	__u64 start;
	__u64 len;
	__u64 nr_pages;
};

#define PTMARK_PIN_RANGE_SIZE_VER0	32

/**
 * struct ptmark_pin_read - copy out what pinned pages hold now
 * @size:	(in) sizeof(struct ptmark_pin_read) as the caller knows it
 * @flags:	(in) 0
 * @start:	(in) page-aligned start, inside one pinned range (ENOENT)
 * @len:	(in) page-aligned length, > 0, inside the same range
 * @buf:	(in) user pointer to @len bytes
 */
struct ptmark_pin_read {
	__u32 size;
	__u32 flags;
	__u64 start;
	__u64 len;
	__u64 buf;
};

#define PTMARK_PIN_READ_SIZE_VER0	32

/* What struct ptmark_pin_compare says of each page. */
#define PTMARK_PIN_SAME			1 /* the pinned page is mapped there */
#define PTMARK_PIN_DIFFERENT		2 /* another page is mapped there */
#define PTMARK_PIN_NOT_MAPPED		3 /* no page is mapped there */

/**
 * struct ptmark_pin_compare - is each pinned page still the mapped one?
 * @size:	(in) sizeof(struct ptmark_pin_compare) as the caller knows it
 * @flags:	(in) 0
 * @start:	(in) page-aligned start, inside one pinned range (ENOENT)
 * @len:	(in) page-aligned length, > 0, inside the same range
 * @states:	(in) user pointer to __u8[@len / page size]; (out) one
 *		PTMARK_PIN_SAME/DIFFERENT/NOT_MAPPED a page
 * @nr_same:	(out) pages PTMARK_PIN_SAME
 * @nr_different: (out) pages PTMARK_PIN_DIFFERENT
 * @nr_not_mapped: (out) pages PTMARK_PIN_NOT_MAPPED
 * @reserved:	(in) 0
 *
 * No pfn leaves the module: the answer is the same for every caller.
 */
struct ptmark_pin_compare {
	__u32 size;
	__u32 flags;
	__u64 start;
	__u64 len;
	__u64 states;
	__u32 nr_same;
	__u32 nr_different;
	__u32 nr_not_mapped;
	__u32 reserved;
};

#define PTMARK_PIN_COMPARE_SIZE_VER0	48

/*
 * mmap() of /dev/ptmark makes a VM_PFNMAP | VM_IO mapping of zeroed pages
 * the module owns; the file offset says which kind:
 *
 * PTMARK_MMAP_OFF_4K: remap_pfn_range() at mmap time, every page mapped
 * by a special PTE, at most 1 MiB, MAP_SHARED or MAP_PRIVATE (where a
 * write breaks COW into an anonymous folio).
 *
 * PTMARK_MMAP_OFF_HUGE: filled at fault time, by a special PMD leaf
 * wherever a whole naturally aligned PMD of the block fits in the VMA,
 * else by special PTEs.  The length is a multiple of pmd_size (struct
 * ptmark_info), at most PTMARK_MMAP_HUGE_MAX; the block is physically
 * contiguous and PMD-aligned, and so is the address mmap() chooses.
 * Without PTMARK_FEAT_HUGE_PFNMAP every page gets a PTE.  A COW mapping
 * (MAP_PRIVATE of a file opened for writing) is refused with EINVAL: the
 * kernel inserts pfns only into mappings no write can COW.
 */
#define PTMARK_MMAP_OFF_4K	0ULL
#define PTMARK_MMAP_OFF_HUGE	(1ULL << 30)
#define PTMARK_MMAP_HUGE_MAX	(4ULL << 20)

#define PTMARK_IOC_MAGIC	0xBB
#define PTMARK_IOC_INFO		_IOWR(PTMARK_IOC_MAGIC, 0x00, struct ptmark_info)
#define PTMARK_IOC_SCAN		_IOWR(PTMARK_IOC_MAGIC, 0x01, struct ptmark_scan)
#define PTMARK_IOC_MARKER	_IOWR(PTMARK_IOC_MAGIC, 0x02, struct ptmark_marker)
#define PTMARK_IOC_UNMOVABLE	_IOWR(PTMARK_IOC_MAGIC, 0x03, struct ptmark_unmovable)
#define PTMARK_IOC_PIN		_IOWR(PTMARK_IOC_MAGIC, 0x04, struct ptmark_pin_open)

/* On a pin session's fd. */
#define PTMARK_PIN_IOC_PIN	_IOWR(PTMARK_IOC_MAGIC, 0x10, struct ptmark_pin_range)
#define PTMARK_PIN_IOC_READ	_IOWR(PTMARK_IOC_MAGIC, 0x11, struct ptmark_pin_read)
#define PTMARK_PIN_IOC_COMPARE	_IOWR(PTMARK_IOC_MAGIC, 0x12, struct ptmark_pin_compare)
#define PTMARK_PIN_IOC_RELEASE	_IOWR(PTMARK_IOC_MAGIC, 0x13, struct ptmark_pin_range)

#endif /* _UAPI_LINUX_PTMARK_H */
