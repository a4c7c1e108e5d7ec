// SPDX-License-Identifier: GPL-2.0
/*
 * fuzz: random calls of every /dev/ptmark ioctl against live mappings of
 * every backing while other threads fault, unmap, mremap, fork and exit,
 * then unloading the module with calls in flight.
 *
 * Seeded and bounded: PTMARK_FUZZ_SEED (default: from the clock),
 * PTMARK_FUZZ_CALLS (default FUZZ_CALLS) and PTMARK_FUZZ_SECONDS (default
 * FUZZ_SECONDS), whichever bound comes first.  The seed is printed first;
 * each thread draws from its own generator seeded from it, so a seed
 * replays the same calls, though not the same interleaving.  `make fuzz`
 * runs it alone in the dev VM for 10^6 calls.
 *
 * Every call's arguments are hostile: sizes around and beyond the struct,
 * unknown flags and markers, unaligned, empty, wrapping and kernel
 * ranges, bad pointers, pidfds of ourselves, of a live child, of an
 * exited one and of things that are no pidfd.  Calls that could change
 * memory (markers) stay inside the arena, a set of PMD-sized slots the
 * mutators keep remapping with anonymous, THP, shmem, private memfd,
 * ext4, hugetlb, /dev/ptmark pfnmap (shared and private), PROT_NONE and
 * userfaultfd-registered (missing with SIGBUS, async write-protect)
 * memory; every other address the fuzzer passes is one the kernel must
 * refuse before touching anything.  Answers are checked for sanity (what
 * a success says about itself); the VM run fails on any kernel report.
 *
 * A new ioctl is one more entry in verbs[] with a function filling its
 * struct.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "ptmark_lib.h"

#define FUZZ_CALLS	1000000
#define FUZZ_SECONDS	45
#define FUZZ_TIMEOUT	7200	/* the harness's; the bounds above rule */

#define SLOT_SIZE	(2UL << 20)
#define NR_SLOTS	24
#define ARENA_SIZE	(NR_SLOTS * SLOT_SIZE)
#define PFNMAP_PAGES	16
#define MAX_RECORDS	256
#define MAX_RANGES	64
#define NR_CALLERS	2
#define NR_MUTATORS	2
#define MUTATOR_NAP_US	2000
#define MAX_ERRNO	160

static size_t psize;

/*
 * What an arena slot holds: the library's backings (their files made by
 * ptmark_backing_fd(), one each, shared by the slots at offsets of their
 * own), and states no backing table has: PROT_NONE, ranges registered
 * with userfaultfd.
 */
enum backing {
	B_ANON, B_THP, B_SHMEM, B_MEMFD_PRIVATE, B_EXT4, B_HUGETLB,
	B_PFNMAP_SHARED, B_PFNMAP_PRIVATE, B_PROT_NONE, B_UFFD_MISSING,
	B_UFFD_WP, NR_BACKINGS
};

/* Descriptors a call may name for a pidfd: see pick_pidfd(). */
enum { PID_SELF, PID_CHILD, PID_EXITED, PID_NOT_PIDFD, NR_PIDFDS };

struct fuzz {
	char *arena;
	int dev;		/* /dev/ptmark, shared by all threads */
	int shmem, ext4, hugetlb;	/* files behind the slots, -1 if none */
	int uffd_missing, uffd_wp;	/* -1 where the kernel has none */
	struct ptmark_info info;
	atomic_int pidfd[NR_PIDFDS];
	atomic_int child;	/* pid of the live target child */
	atomic_bool stop;
	atomic_ulong calls, budget;
	atomic_ulong mutations;
	double deadline_ms;
	pthread_mutex_t lock;	/* the counters below */
	unsigned long verb_calls[8], verb_ok[8];
	unsigned long errnos[8][MAX_ERRNO];
	char anomaly[256];	/* the first insane answer, "" if none */
};

struct thread {
	struct fuzz *f;
	bool forked;		/* in a forked child: touch no lock */
	uint64_t rng;
	pthread_t id;
	char *buf;		/* 2 pages, the second PROT_NONE */
	struct ptmark_record *recs;
	struct ptmark_range *vec;	/* MAX_RANGES, for vector calls */
};

/* xorshift64*: small, fast and reproducible from the seed. */
static uint64_t rnd(struct thread *t)
{
	t->rng ^= t->rng >> 12;
	t->rng ^= t->rng << 25;
	t->rng ^= t->rng >> 27;
	return t->rng * 0x2545f4914f6cdd1dULL;
}

static uint64_t below(struct thread *t, uint64_t n)
{
	return n ? rnd(t) % n : 0;
}

static bool chance(struct thread *t, unsigned int percent)
{
	return below(t, 100) < percent;
}

static void note_anomaly(struct thread *t, const char *fmt, ...)
{
	struct fuzz *f = t->f;
	va_list ap;

	if (t->forked)
		return;
	pthread_mutex_lock(&f->lock);
	if (!f->anomaly[0]) {
		va_start(ap, fmt);
		vsnprintf(f->anomaly, sizeof(f->anomaly), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&f->lock);
}

/* ---- addresses ------------------------------------------------------------ */

/* A page-aligned range inside the arena, up to two slots long. */
static void arena_range(struct thread *t, __u64 *start, __u64 *len)
{
	uint64_t pages = ARENA_SIZE / psize;
	uint64_t first = below(t, pages);
	uint64_t nr = 1 + below(t, chance(t, 80) ? 32 : 2 * SLOT_SIZE / psize);

	if (first + nr > pages)
		nr = pages - first;
	*start = (uintptr_t)t->f->arena + first * psize;
	*len = nr * psize;
}

/*
 * A range the kernel must refuse before it touches any memory: unaligned,
 * wrapping, beyond the user address space, or empty.
 */
static void refused_range(struct thread *t, __u64 *start, __u64 *len)
{
	switch (below(t, 6)) {
	case 0:
		*start = (uintptr_t)t->f->arena + 1 + below(t, psize - 1);
		*len = psize;
		break;
	case 1:
		*start = (uintptr_t)t->f->arena;
		*len = -(uint64_t)*start + below(t, 4) * psize;
		break;
	case 2:
		*start = 0x800000000000ULL - below(t, 2) * psize;
		*len = (1 + below(t, 16)) * psize;
		break;
	case 3:
		*start = 0xffff800000000000ULL + below(t, 1 << 20) * psize;
		*len = psize;
		break;
	case 4:
		*start = (uintptr_t)t->f->arena;
		*len = -psize;
		break;
	default:
		*start = (uintptr_t)t->f->arena + below(t, NR_SLOTS) * SLOT_SIZE;
		*len = 0;
		break;
	}
}

/* Anything at all: for the read-only scan, the whole address space. */
static void any_range(struct thread *t, __u64 *start, __u64 *len)
{
	if (chance(t, 60)) {
		arena_range(t, start, len);
	} else if (chance(t, 50)) {
		refused_range(t, start, len);
	} else {
		*start = below(t, 0x800000000000ULL / psize) * psize;
		*len = (1 + below(t, 1 << 16)) * psize;
	}
}

static int pick_pidfd(struct thread *t)
{
	switch (below(t, 8)) {
	case 0:
		return -1;
	case 1:
		return 0x7fffffff;
	case 2:
		return t->f->dev;
	default:
		return atomic_load(&t->f->pidfd[below(t, NR_PIDFDS)]);
	}
}

/* A size field: mostly right, else too small, too big, or absurd. */
static uint32_t pick_size(struct thread *t, uint32_t size, uint32_t ver0)
{
	switch (below(t, 16)) {
	case 0:
		return below(t, ver0);
	case 1:
		return size + 8 * (1 + below(t, 8));
	case 2:
		return psize + 1 + below(t, 1 << 20);
	case 3:
		return ver0;
	default:
		return size;
	}
}

/* ---- the verbs ------------------------------------------------------------ */

/*
 * A verb fills its struct at @arg (room for a page) with random values,
 * and checks what a successful call wrote back.
 */
typedef void (*fill_fn)(struct thread *t, void *arg);
typedef void (*check_fn)(struct thread *t, const void *arg);

static void fill_info(struct thread *t, void *arg)
{
	struct ptmark_info *a = arg;

	a->size = pick_size(t, sizeof(*a), PTMARK_INFO_SIZE_VER0);
}

static void check_info(struct thread *t, const void *arg)
{
	const struct ptmark_info *a = arg;

	if (a->size >= sizeof(*a) && (a->abi != PTMARK_ABI_VERSION ||
				      a->page_size != psize))
		note_anomaly(t, "info: abi %u page_size %u", a->abi,
			     a->page_size);
}

static void fill_scan(struct thread *t, void *arg)
{
	struct ptmark_scan *a = arg;
	uint32_t flags = below(t, PTMARK_SCAN_FLAGS + 1);

	if (chance(t, 5))
		flags |= 1U << below(t, 32);
	a->size = pick_size(t, sizeof(*a), PTMARK_SCAN_SIZE_VER0);
	a->flags = flags;
	a->pidfd = pick_pidfd(t);
	any_range(t, &a->start, &a->len);
	a->nr_records = below(t, MAX_RECORDS + 1);
	switch (below(t, 10)) {
	case 0:
		a->records = 0;
		break;
	case 1:
		/* Our PROT_NONE page: every write must fault cleanly. */
		a->records = (uintptr_t)t->buf + psize;
		break;
	case 2:
		a->records = 0xffff800000000000ULL;
		break;
	case 3:
		/* Into the arena, which is ours to scribble over. */
		a->records = (uintptr_t)t->f->arena +
			     below(t, NR_SLOTS - 1) * SLOT_SIZE;
		break;
	default:
		a->records = (uintptr_t)t->recs;
		break;
	}
	a->next = rnd(t);
}

static void check_scan(struct thread *t, const void *arg)
{
	const struct ptmark_scan *a = arg;
	uint32_t i;

	if (a->size < PTMARK_SCAN_SIZE_VER0)
		return;
	if (a->nr_records > MAX_RECORDS || a->next < a->start ||
	    a->next > a->start + a->len) {
		note_anomaly(t, "scan: %u records, next %llx of %llx+%llx",
			     a->nr_records, (unsigned long long)a->next,
			     (unsigned long long)a->start,
			     (unsigned long long)a->len);
		return;
	}
	if (a->records != (uintptr_t)t->recs)
		return;
	if (a->flags & PTMARK_SCAN_COMPACT) {
		const uint32_t *w = (const uint32_t *)t->recs;

		/* Words: a state word first, no empty repeat. */
		for (i = 0; i < a->nr_records; i++)
			if ((!i && (w[i] & PTMARK_C_REPEAT)) ||
			    ((w[i] & PTMARK_C_REPEAT) && !PTMARK_C_COUNT(w[i])) ||
			    (!(w[i] & PTMARK_C_REPEAT) &&
			     PTMARK_C_KIND(w[i]) >= PTMARK_KIND_COUNT))
				note_anomaly(t, "scan: word %u is %#x", i, w[i]);
		return;
	}
	for (i = 0; i < a->nr_records; i++)
		if (t->recs[i].kind >= PTMARK_KIND_COUNT ||
		    !t->recs[i].nr_pages || t->recs[i].reserved)
			note_anomaly(t, "scan: record %u kind %u pages %llu",
				     i, t->recs[i].kind,
				     (unsigned long long)t->recs[i].nr_pages);
}

/* The range of one marker call, or of one entry of a vector. */
static void marker_range(struct thread *t, __u64 *start, __u64 *len)
{
	if (chance(t, 85))
		arena_range(t, start, len);
	else
		refused_range(t, start, len);
}

/*
 * A vector call reads its ranges from @start: never let that be memory
 * whose contents are random (the arena holds scan records, and so the
 * addresses of our own stacks and heap), or the fuzzer guards itself.
 * The ranges are the thread's own, made like a single call's.
 */
static void fill_vector(struct thread *t, struct ptmark_marker *a)
{
	uint32_t i, nr = below(t, MAX_RANGES + 1);

	for (i = 0; i < nr; i++)
		marker_range(t, &t->vec[i].start, &t->vec[i].len);
	switch (below(t, 10)) {
	case 0:
		/* Room for 1-4 ranges before PROT_NONE, 1-8 asked for. */
		a->start = (uintptr_t)t->buf + psize -
			   sizeof(*t->vec) * (1 + below(t, 4));
		a->len = 1 + below(t, 8);
		break;
	case 1:
		a->start = chance(t, 50) ? 0 : 0xffff800000000000ULL;
		a->len = below(t, 4);
		break;
	case 2:
		a->start = (uintptr_t)t->vec;
		a->len = PTMARK_MARKER_VEC_MAX + below(t, 1ULL << 40);
		break;
	default:
		a->start = (uintptr_t)t->vec;
		a->len = nr;
		break;
	}
}

static void fill_marker(struct thread *t, void *arg)
{
	static const uint32_t markers[] = {
		PTMARK_MARKER_GUARD, PTMARK_MARKER_UFFD_WP,
		PTMARK_MARKER_POISONED,
		PTMARK_MARKER_GUARD | PTMARK_MARKER_UFFD_WP,
		PTMARK_MARKER_GUARD | PTMARK_MARKER_POISONED |
		PTMARK_MARKER_UFFD_WP,
		PTMARK_MARKER_UNKNOWN, 0,
	};
	struct ptmark_marker *a = arg;
	uint32_t flags = below(t, PTMARK_MARKER_FLAGS + 1);

	/* Injection only where the module allows it; EPERM otherwise. */
	if (!(t->f->info.features & PTMARK_FEAT_INJECT) && chance(t, 90))
		flags &= ~PTMARK_MARKER_F_INJECT;
	if (chance(t, 5))
		flags |= 1U << below(t, 32);
	a->size = pick_size(t, sizeof(*a), PTMARK_MARKER_SIZE_VER0);
	a->flags = flags;
	a->pidfd = pick_pidfd(t);
	a->marker = chance(t, 95) ? markers[below(t, ARRAY_SIZE(markers))] :
				    (uint32_t)rnd(t);
	/*
	 * Every fault on an injected poison marker is a memory-failure kill
	 * the kernel logs ("MCE: Killing ..."): keep them rare, so that the
	 * log stays readable and the calls go to the other paths.
	 */
	if ((a->marker & PTMARK_MARKER_POISONED) && chance(t, 90))
		a->marker = (a->marker & ~PTMARK_MARKER_POISONED) |
			    PTMARK_MARKER_GUARD;
	a->nr_pages = rnd(t);
	if (flags & PTMARK_MARKER_F_VECTOR)
		fill_vector(t, a);
	else
		marker_range(t, &a->start, &a->len);
}

static void check_marker(struct thread *t, const void *arg)
{
	const struct ptmark_marker *a = arg;

	/* A vector's len counts ranges, not bytes. */
	if (a->flags & PTMARK_MARKER_F_VECTOR)
		return;
	if (a->size >= PTMARK_MARKER_SIZE_VER0 &&
	    a->nr_pages > (a->len + psize - 1) / psize)
		note_anomaly(t, "marker: %llu pages of %llx bytes",
			     (unsigned long long)a->nr_pages,
			     (unsigned long long)a->len);
}

static void fill_unmovable(struct thread *t, void *arg)
{
	struct ptmark_unmovable *a = arg;
	const int fds[] = {
		t->f->shmem, t->f->ext4, t->f->hugetlb, t->f->dev, -1,
		0x7fffffff, atomic_load(&t->f->pidfd[PID_SELF]),
	};

	a->size = pick_size(t, sizeof(*a), PTMARK_UNMOVABLE_SIZE_VER0);
	a->fd = fds[below(t, ARRAY_SIZE(fds))];
	a->op = below(t, 5);
	a->reserved = chance(t, 5) ? rnd(t) : 0;
	a->flag = rnd(t);
	a->as_flags = rnd(t);
}

static void check_unmovable(struct thread *t, const void *arg)
{
	const struct ptmark_unmovable *a = arg;

	/* CREATE hands out a new file: do not run out of descriptors. */
	if (a->op == PTMARK_UNMOVABLE_CREATE && a->fd >= 0)
		close(a->fd);

	if (a->size >= PTMARK_UNMOVABLE_SIZE_VER0 &&
	    (a->as_flags & ~(PTMARK_AS_UNMOVABLE | PTMARK_AS_INACCESSIBLE |
			     PTMARK_AS_UNEVICTABLE)))
		note_anomaly(t, "unmovable: as_flags %#x", a->as_flags);
}

static void fill_pin(struct thread *t, void *arg)
{
	struct ptmark_pin_open *a = arg;

	a->size = pick_size(t, sizeof(*a), PTMARK_PIN_OPEN_SIZE_VER0);
	a->flags = chance(t, 5) ? (uint32_t)rnd(t) :
				  below(t, PTMARK_PIN_OPEN_FLAGS + 1);
	a->pidfd = pick_pidfd(t);
	a->fd = rnd(t);
	a->max_pages = rnd(t);
}

/*
 * A session: pin a random range of the arena through it, then close it,
 * which must let every pin go (the stats say so at the end).
 */
static void check_pin(struct thread *t, const void *arg)
{
	const struct ptmark_pin_open *a = arg;
	struct ptmark_pin_range r = {
		.size = sizeof(r),
		.flags = below(t, PTMARK_PIN_FLAGS + 1),
	};

	if (a->fd < 0) {
		note_anomaly(t, "pin: session fd %d", a->fd);
		return;
	}
	arena_range(t, &r.start, &r.len);
	ioctl(a->fd, PTMARK_PIN_IOC_PIN, &r);
	close(a->fd);
}

static const struct verb {
	const char *name;
	unsigned long cmd;
	fill_fn fill;
	check_fn check;	/* on success only */
} verbs[] = {
	{ "info",	PTMARK_IOC_INFO,	fill_info,	check_info },
	{ "scan",	PTMARK_IOC_SCAN,	fill_scan,	check_scan },
	{ "marker",	PTMARK_IOC_MARKER,	fill_marker,	check_marker },
	{ "unmovable",	PTMARK_IOC_UNMOVABLE,	fill_unmovable,	check_unmovable },
	{ "pin",	PTMARK_IOC_PIN,		fill_pin,	check_pin },
};

/* One random call of one random verb; its errno, or 0. */
static int fuzz_call(struct thread *t, unsigned int *verb_nr)
{
	unsigned int v = below(t, ARRAY_SIZE(verbs));
	const struct verb *verb = &verbs[v];
	unsigned long cmd = verb->cmd;
	/* The struct ends where it must, or runs into the PROT_NONE page. */
	size_t at = chance(t, 10) ? psize - 8 * (1 + below(t, 8)) : 0;
	void *arg = t->buf + at;
	long ret;
	int err;

	memset(t->buf, 0, psize);
	if (at == 0)
		verb->fill(t, arg);
	else
		*(uint32_t *)arg = rnd(t);
	if (chance(t, 3))
		cmd = (cmd & ~(_IOC_SIZEMASK << _IOC_SIZESHIFT)) |
		      (below(t, _IOC_SIZEMASK + 1) << _IOC_SIZESHIFT);
	/* Unknown numbers: past PTMARK_IOC_PIN, whose fds must be closed. */
	if (chance(t, 1))
		cmd = _IOWR(PTMARK_IOC_MAGIC, 5 + below(t, 249), int);
	/* A session is only ever opened where its fd can be seen. */
	if (verb->check == check_pin && (at || cmd != verb->cmd))
		cmd = PTMARK_IOC_INFO;
	if (chance(t, 2))
		arg = chance(t, 50) ? NULL : (void *)0xffff800000001000ULL;

	ret = ioctl(t->f->dev, cmd, arg);
	err = ret ? errno : 0;
	if (!ret && arg == t->buf && cmd == verb->cmd)
		verb->check(t, arg);
	if (ret && (ret != -1 || err == 0 || err >= MAX_ERRNO))
		note_anomaly(t, "%s: ret %ld errno %d", verb->name, ret, err);
	*verb_nr = v;
	return err;
}

static void count_call(struct fuzz *f, unsigned int v, int err)
{
	pthread_mutex_lock(&f->lock);
	f->verb_calls[v]++;
	if (!err)
		f->verb_ok[v]++;
	else if (err < MAX_ERRNO)
		f->errnos[v][err]++;
	pthread_mutex_unlock(&f->lock);
}

static bool fuzz_over(struct fuzz *f)
{
	return atomic_load(&f->stop) || monotonic_ms() > f->deadline_ms;
}

static void *caller_main(void *arg)
{
	struct thread *t = arg;

	unsigned int v;
	int err;

	while (!fuzz_over(t->f) &&
	       atomic_fetch_add(&t->f->calls, 1) < atomic_load(&t->f->budget)) {
		err = fuzz_call(t, &v);
		count_call(t->f, v, err);
	}
	return NULL;
}

/* ---- the arena and its mutators ------------------------------------------ */

/* Can the arena have slots of backing @b here? */
static bool backing_available(struct fuzz *f, enum backing b)
{
	switch (b) {
	case B_SHMEM:
	case B_MEMFD_PRIVATE:
		return f->shmem >= 0;
	case B_EXT4:
		return f->ext4 >= 0;
	case B_HUGETLB:
		return f->hugetlb >= 0;
	case B_UFFD_MISSING:
		return f->uffd_missing >= 0;
	case B_UFFD_WP:
		return f->shmem >= 0 && f->uffd_wp >= 0;
	default:
		return true;
	}
}

static void reserve(char *at, size_t len)
{
	mmap(at, len, PROT_NONE,
	     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
}

/* Map slot @s afresh with @b; where that fails it is left PROT_NONE. */
static void map_slot(struct fuzz *f, unsigned int s, enum backing b)
{
	char *at = f->arena + s * SLOT_SIZE, *p;
	int flags = MAP_FIXED, fd = -1;
	size_t len = SLOT_SIZE;
	off_t off = 0;

	if (!backing_available(f, b))
		b = B_PROT_NONE;
	switch (b) {
	case B_ANON:
	case B_THP:
	case B_UFFD_MISSING:
		flags |= MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
		break;
	case B_SHMEM:
	case B_UFFD_WP:
		fd = f->shmem;
		flags |= MAP_SHARED;
		off = (s % 4) * SLOT_SIZE;
		break;
	case B_MEMFD_PRIVATE:
		fd = f->shmem;
		flags |= MAP_PRIVATE;
		break;
	case B_EXT4:
		fd = f->ext4;
		flags |= s % 2 ? MAP_SHARED : MAP_PRIVATE;
		break;
	case B_HUGETLB:
		fd = f->hugetlb;
		flags |= MAP_SHARED | MAP_NORESERVE;
		break;
	case B_PFNMAP_SHARED:
	case B_PFNMAP_PRIVATE:
		fd = f->dev;
		flags |= b == B_PFNMAP_SHARED ? MAP_SHARED : MAP_PRIVATE;
		len = PFNMAP_PAGES * psize;
		break;
	default:
		reserve(at, SLOT_SIZE);
		return;
	}
	if (len < SLOT_SIZE)
		reserve(at + len, SLOT_SIZE - len);
	p = mmap(at, len, PROT_READ | PROT_WRITE, flags, fd, off);
	if (p == MAP_FAILED) {
		reserve(at, SLOT_SIZE);
		return;
	}
	if (b == B_THP)
		madvise(p, len, MADV_HUGEPAGE);
	if (b == B_UFFD_MISSING)
		uffd_register(f->uffd_missing, p, len,
			      UFFDIO_REGISTER_MODE_MISSING);
	if (b == B_UFFD_WP && !uffd_register(f->uffd_wp, p, len,
					     UFFDIO_REGISTER_MODE_WP))
		uffd_writeprotect(f->uffd_wp, p, len,
				  UFFDIO_WRITEPROTECT_MODE_WP);
}

static void touch(struct thread *t, char *p, size_t nr, bool write)
{
	char val;
	size_t i;

	for (i = 0; i < nr; i++) {
		if (write)
			probe_write(p + i * psize, (char)i);
		else
			probe_read(p + i * psize, &val);
	}
}

/*
 * A child has copies of every fd the fuzzer holds, pin sessions and
 * /dev/ptmark among them: if the fuzzer dies, its children must too, or
 * they keep sessions pinned and the module in use for the tests after.
 */
static void die_with_parent(pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) || getppid() != parent)
		_exit(1);
}

/* A child that touches some of the arena, calls the module, and exits. */
static void fork_and_exit(struct thread *t, char *p, size_t nr)
{
	pid_t parent = getpid(), pid = fork();
	unsigned int v;

	if (pid == 0) {
		die_with_parent(parent);
		t->forked = true;
		touch(t, p, nr, true);
		fuzz_call(t, &v);
		_exit(0);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

static void mutate(struct thread *t)
{
	struct fuzz *f = t->f;
	unsigned int s = below(t, NR_SLOTS), d = below(t, NR_SLOTS);
	size_t pages = SLOT_SIZE / psize;
	size_t first = below(t, pages), nr = 1 + below(t, 64);
	char *slot = f->arena + s * SLOT_SIZE, *p;

	if (first + nr > pages)
		nr = pages - first;
	p = slot + first * psize;
	switch (below(t, 16)) {
	case 0 ... 1:
		map_slot(f, s, below(t, NR_BACKINGS));
		break;
	/*
	 * The arena never has a hole: an mmap(NULL) of anyone else (glibc's
	 * malloc for a big buffer, a thread's heap) could land in it, and
	 * the next MAP_FIXED of the slot, or a marker meant for the arena,
	 * would hit that instead.  An unmap is a PROT_NONE mapping over the
	 * pages (the same zap, in one call), and a move reserves its source
	 * again at once.
	 */
	case 2:
		reserve(p, nr * psize);
		break;
	case 3:
		if (s != d &&
		    mremap(slot, SLOT_SIZE, SLOT_SIZE,
			   MREMAP_MAYMOVE | MREMAP_FIXED,
			   f->arena + d * SLOT_SIZE) != MAP_FAILED)
			reserve(slot, SLOT_SIZE);
		break;
	case 4:
		fork_and_exit(t, p, nr);
		break;
	case 5:
		madvise(p, nr * psize, MADV_DONTNEED);
		break;
	case 6:
		madvise(p, nr * psize, chance(t, 50) ? MADV_PAGEOUT :
			MADV_COLLAPSE);
		break;
	case 7:
		mprotect(p, nr * psize, chance(t, 50) ? PROT_READ :
			 PROT_READ | PROT_WRITE);
		break;
	case 8:
		fallocate(chance(t, 50) ? f->shmem : f->ext4,
			  FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			  below(t, 4 * pages) * psize, nr * psize);
		break;
	case 9:
		if (f->hugetlb >= 0)
			fallocate(f->hugetlb,
				  FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				  0, SLOT_SIZE);
		break;
	default:
		touch(t, p, nr, chance(t, 50));
		break;
	}
	atomic_fetch_add(&f->mutations, 1);
}

/*
 * Mutations are paced: a fork or a collapse costs as much as hundreds of
 * calls, and the calls are what is being fuzzed.
 */
static void *mutator_main(void *arg)
{
	struct timespec nap = { .tv_nsec = MUTATOR_NAP_US * 1000 };
	struct thread *t = arg;

	while (!fuzz_over(t->f)) {
		mutate(t);
		nanosleep(&nap, NULL);
	}
	return NULL;
}

/* A child that only waits to be a target, and to be killed. */
static pid_t spawn_target(void)
{
	pid_t parent = getpid(), pid = fork();

	if (pid == 0) {
		die_with_parent(parent);
		for (;;)
			pause();
	}
	return pid;
}

/*
 * Keep one live child as a pidfd target and replace it now and then, so
 * that calls meet a process exiting under them and a pidfd of the dead.
 */
static void *targets_main(void *arg)
{
	struct fuzz *f = arg;
	struct timespec nap = { .tv_nsec = 20 * 1000 * 1000 };

	while (!fuzz_over(f)) {
		pid_t old = atomic_load(&f->child), pid = spawn_target();
		int pidfd = pid > 0 ? pidfd_of(pid) : -1;

		if (pidfd < 0)
			break;
		atomic_store(&f->child, pid);
		pidfd = atomic_exchange(&f->pidfd[PID_CHILD], pidfd);
		kill(old, SIGKILL);
		waitpid(old, NULL, 0);
		pidfd = atomic_exchange(&f->pidfd[PID_EXITED], pidfd);
		if (pidfd >= 0)
			close(pidfd);
		nanosleep(&nap, NULL);
	}
	return NULL;
}

/* ---- setup ---------------------------------------------------------------- */

static unsigned long long env_number(const char *name, unsigned long long dflt)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : dflt;
}

static void fuzz_open_files(struct fuzz *f)
{
	f->shmem = ptmark_backing_fd(&ptmark_backings[BK_MEMFD], 4 * SLOT_SIZE);
	f->ext4 = ptmark_backing_fd(&ptmark_backings[BK_EXT4_SHARED], 4 * SLOT_SIZE);
	f->hugetlb = ptmark_backing_fd(&ptmark_backings[BK_HUGETLB], SLOT_SIZE);
	f->uffd_missing = uffd_open(UFFD_FEATURE_SIGBUS);
	f->uffd_wp = uffd_open(UFFD_FEATURE_WP_ASYNC |
			       UFFD_FEATURE_WP_HUGETLBFS_SHMEM |
			       UFFD_FEATURE_WP_UNPOPULATED);
}

static void fuzz_close_files(struct fuzz *f)
{
	int fds[] = { f->shmem, f->ext4, f->hugetlb, f->uffd_missing,
		      f->uffd_wp };
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(fds); i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

static struct thread *thread_new(struct fuzz *f, uint64_t seed, int i)
{
	struct thread *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->f = f;
	t->rng = seed ^ (0x9e3779b97f4a7c15ULL * (i + 1));
	if (!t->rng)
		t->rng = 1;
	t->buf = mmap(NULL, 2 * psize, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	t->recs = calloc(MAX_RECORDS, sizeof(*t->recs));
	t->vec = calloc(MAX_RANGES, sizeof(*t->vec));
	if (t->buf == MAP_FAILED || !t->recs || !t->vec ||
	    mprotect(t->buf + psize, psize, PROT_NONE)) {
		if (t->buf != MAP_FAILED)
			munmap(t->buf, 2 * psize);
		free(t->recs);
		free(t->vec);
		free(t);
		return NULL;
	}
	return t;
}

static void report(struct __test_metadata *_metadata, struct fuzz *f,
		   double ms)
{
	unsigned long calls = atomic_load(&f->calls);
	unsigned int v, e;
	char line[512];
	int n;

	if (calls > f->budget)
		calls = f->budget;
	TH_LOG("%lu calls in %.1f s: %.0f calls/s, %lu mutations", calls,
	       ms / 1000, calls / (ms / 1000),
	       (unsigned long)atomic_load(&f->mutations));
	for (v = 0; v < ARRAY_SIZE(verbs); v++) {
		n = snprintf(line, sizeof(line), "%s: %lu calls, %lu ok",
			     verbs[v].name, f->verb_calls[v], f->verb_ok[v]);
		for (e = 1; e < MAX_ERRNO && n < (int)sizeof(line) - 32; e++)
			if (f->errnos[v][e])
				n += snprintf(line + n, sizeof(line) - n,
					      ", %s %lu", strerrorname_np(e) ?: "?",
					      f->errnos[v][e]);
		TH_LOG("%s", line);
	}
}

FIXTURE(fuzz) {
	const char *ko;
	bool reloaded;
};

/*
 * With PTMARK_KO the module is reloaded with inject=1, so that injection
 * is fuzzed too, and put back without it at the end.
 */
FIXTURE_SETUP(fuzz)
{
	int fd;

	psize = sysconf(_SC_PAGESIZE);
	PTMARK_REQUIRE_DEVICE(fd);
	close(fd);
	self->ko = getenv("PTMARK_KO");
	if (self->ko) {
		ASSERT_EQ(0, ptmark_module_unload());
		ASSERT_EQ(0, ptmark_module_load(self->ko, "inject=1"));
		self->reloaded = true;
	}
}

FIXTURE_TEARDOWN(fuzz)
{
	if (!self->reloaded || access(PTMARK_DEVICE, F_OK))
		return;
	EXPECT_EQ(0, ptmark_module_unload());
	EXPECT_EQ(0, ptmark_module_load(self->ko, ""));
}

TEST_F_TIMEOUT(fuzz, random_calls, FUZZ_TIMEOUT)
{
	uint64_t seed = env_number("PTMARK_FUZZ_SEED",
				   (uint64_t)time(NULL) ^ getpid());
	struct thread *callers[NR_CALLERS], *mutators[NR_MUTATORS];
	static struct fuzz f;
	pthread_t targets;
	double t0, ms;
	unsigned int i;

	f.budget = env_number("PTMARK_FUZZ_CALLS", FUZZ_CALLS);
	TH_LOG("seed %llu (PTMARK_FUZZ_SEED), %lu calls (PTMARK_FUZZ_CALLS), %llu s (PTMARK_FUZZ_SECONDS)",
	       (unsigned long long)seed, (unsigned long)f.budget,
	       env_number("PTMARK_FUZZ_SECONDS", FUZZ_SECONDS));
	pthread_mutex_init(&f.lock, NULL);
	f.dev = ptmark_open();
	ASSERT_LE(0, f.dev);
	ASSERT_EQ(0, ptmark_get_info(f.dev, &f.info));
	ASSERT_EQ(0, probe_handlers_install());
	f.arena = mmap_aligned(ARENA_SIZE, SLOT_SIZE, PROT_NONE);
	ASSERT_NE(MAP_FAILED, f.arena);
	fuzz_open_files(&f);
	for (i = 0; i < NR_PIDFDS; i++)
		f.pidfd[i] = -1;
	f.pidfd[PID_SELF] = pidfd_of(getpid());
	f.pidfd[PID_NOT_PIDFD] = f.shmem;
	f.child = spawn_target();
	ASSERT_LT(0, f.child);
	f.pidfd[PID_CHILD] = pidfd_of(f.child);

	for (i = 0; i < NR_CALLERS; i++) {
		callers[i] = thread_new(&f, seed, i);
		ASSERT_NE(NULL, callers[i]);
	}
	for (i = 0; i < NR_MUTATORS; i++) {
		mutators[i] = thread_new(&f, seed, NR_CALLERS + i);
		ASSERT_NE(NULL, mutators[i]);
	}
	for (i = 0; i < NR_SLOTS; i++)
		map_slot(&f, i, i % NR_BACKINGS);

	t0 = monotonic_ms();
	f.deadline_ms = t0 + 1000.0 *
		env_number("PTMARK_FUZZ_SECONDS", FUZZ_SECONDS);
	ASSERT_EQ(0, pthread_create(&targets, NULL, targets_main, &f));
	for (i = 0; i < NR_MUTATORS; i++) {
		ASSERT_EQ(0, pthread_create(&mutators[i]->id, NULL,
					    mutator_main, mutators[i]));
	}
	for (i = 0; i < NR_CALLERS; i++) {
		ASSERT_EQ(0, pthread_create(&callers[i]->id, NULL,
					    caller_main, callers[i]));
	}
	for (i = 0; i < NR_CALLERS; i++)
		pthread_join(callers[i]->id, NULL);
	atomic_store(&f.stop, true);
	for (i = 0; i < NR_MUTATORS; i++)
		pthread_join(mutators[i]->id, NULL);
	pthread_join(targets, NULL);
	ms = monotonic_ms() - t0;

	kill(f.child, SIGKILL);
	waitpid(f.child, NULL, 0);
	for (i = 0; i < NR_PIDFDS; i++)
		if (i != PID_NOT_PIDFD && f.pidfd[i] >= 0)
			close(f.pidfd[i]);
	munmap(f.arena, ARENA_SIZE);
	fuzz_close_files(&f);
	close(f.dev);
	report(_metadata, &f, ms);
	EXPECT_STREQ("", f.anomaly);
	EXPECT_LT(0, f.verb_calls[0]);
}

/* ---- unloading under load --------------------------------------------------- */

struct opener {
	pthread_t id;
	atomic_bool stop;
	atomic_ulong calls;
	unsigned long bad;
	int last_bad;
};

/* Open, call, close as fast as possible, across the module going away. */
static void *opener_main(void *arg)
{
	struct opener *o = arg;
	struct ptmark_info info;
	int fd, ret;

	while (!atomic_load(&o->stop)) {
		fd = ptmark_open();
		if (fd < 0) {
			if (fd != -ENOENT && fd != -ENODEV && fd != -ENXIO) {
				o->bad++;
				o->last_bad = fd;
			}
			continue;
		}
		ret = ptmark_get_info(fd, &info);
		if (ret) {
			o->bad++;
			o->last_bad = ret;
		}
		atomic_fetch_add(&o->calls, 1);
		close(fd);
	}
	return NULL;
}

/* A fixture of its own only so that this runs after the fuzzing. */
FIXTURE(unload) {
};

FIXTURE_SETUP(unload)
{
}

FIXTURE_TEARDOWN(unload)
{
}

/*
 * rmmod fails (EWOULDBLOCK) as long as a file is open on the module, with
 * calls in flight on it; with threads opening and closing it in a loop it
 * goes once it can, every open after that fails cleanly, and the module
 * loads again for whatever runs next.
 */
TEST_F(unload, with_calls_in_flight)
{
	const char *ko = getenv("PTMARK_KO");
	struct opener o[2] = { 0 };
	double t0 = monotonic_ms();
	unsigned long busy = 0;
	int fd, ret = -1, i;

	if (!ko)
		SKIP(return, "PTMARK_KO (path of ptmark.ko) not set");
	PTMARK_REQUIRE_DEVICE(fd);
	for (i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&o[i].id, NULL, opener_main, &o[i]));
	/* Both openers busy, and our own file open all along. */
	while ((atomic_load(&o[0].calls) < 100 ||
		atomic_load(&o[1].calls) < 100) &&
	       monotonic_ms() - t0 < 20000)
		EXPECT_EQ(-EWOULDBLOCK, ptmark_module_unload());
	close(fd);
	t0 = monotonic_ms();
	while (monotonic_ms() - t0 < 20000) {
		ret = ptmark_module_unload();
		if (ret != -EWOULDBLOCK)
			break;
		busy++;
	}
	EXPECT_EQ(0, ret) TH_LOG("rmmod: %s", strerror(-ret));
	usleep(100 * 1000);
	for (i = 0; i < 2; i++) {
		atomic_store(&o[i].stop, true);
		pthread_join(o[i].id, NULL);
		EXPECT_EQ(0, o[i].bad) TH_LOG("opener %d: %s", i,
					      strerror(-o[i].last_bad));
		EXPECT_LT(0, o[i].calls);
	}
	TH_LOG("rmmod refused %lu times before it went; %lu+%lu calls",
	       busy, (unsigned long)o[0].calls, (unsigned long)o[1].calls);
	ASSERT_EQ(0, ptmark_module_load(ko, ""));
	fd = ptmark_open();
	ASSERT_LE(0, fd);
	close(fd);
}

PTMARK_MODULE_HARNESS_MAIN(NULL)
