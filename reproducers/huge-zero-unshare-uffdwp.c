// SPDX-License-Identifier: GPL-2.0
/*
 * huge-zero-unshare-uffdwp: a R/O long-term pin drops the uffd-wp
 * protection of a huge zeropage.
 *
 * A 2 MiB aligned private anonymous range with MADV_HUGEPAGE is read,
 * so that the huge zeropage maps it, then registered for uffd-wp and
 * write-protected.  A read-only FOLL_LONGTERM pin of the range must
 * unshare the zeropage (an unshare fault, which is no write and reaches
 * no handler), and whatever it maps instead must keep the protection:
 * pagemap must show PM_UFFD_WP for every page, and a write after the pin
 * must raise a uffd-wp fault.  Where the bug is, the unshare maps a new
 * THP with a PMD that has no uffd-wp bit (and is writable): the write
 * goes in unseen.  The same steps with small pages (MADV_NOHUGEPAGE, the
 * shared zeropage) are the control, and must keep the protection.
 *
 * Userspace has no read-only long-term pin of its own, so the pin is the
 * kernel's CONFIG_GUP_TEST one, /sys/kernel/debug/gup_test (debugfs is
 * mounted for the run if it is not).  Needs root: debugfs, and the PFNs
 * of /proc/self/pagemap, looked up in /proc/kpageflags.  An alarm stops
 * the program after ALARM_S seconds should anything block.
 *
 * Exit status as repro.h has it, and 2 for anything else that goes wrong,
 * the control losing its protection too among them: not this bug.
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mount.h>
#include <sys/vfs.h>

#include "repro.h"

#define DEBUGFS		"/sys/kernel/debug"
#define DEBUGFS_FS_MAGIC 0x64626720
#define GUP_TEST	DEBUGFS "/gup_test"
#define THP_SYSFS	"/sys/kernel/mm/transparent_hugepage/"

#define PM_PFN		((1ULL << 55) - 1)
#define KPF_THP_BIT	(1ULL << 22)
#define KPF_ZERO_BIT	(1ULL << 24)
#define WAIT_MS		3000
#define ALARM_S		30

/*
 * The long-term pin of CONFIG_GUP_TEST, as its ioctls take it (the ABI
 * of the kernel's mm/gup_test.h): START pins [addr, addr + size) with
 * pin_user_pages(FOLL_LONGTERM), read-only when flags is 0, and holds
 * the pin until STOP or the file's close.
 */
struct gup_test_longterm {
	__u64 addr;
	__u64 size;
	__u32 flags;
};

#define GUP_TEST_LONGTERM_START	_IOW('g', 7, struct gup_test_longterm)
#define GUP_TEST_LONGTERM_STOP	_IO('g', 8)

static size_t ps, nr, range;	/* range: one PMD, 2 MiB on x86-64 */
static int pagemap, kpageflags;
static bool mounted_debugfs;

static void __attribute__((noreturn)) cannot_because(const char *why)
{
	printf("cannot reproduce here: %s\n", why);
	exit(REPRO_CANNOT);
}

static void __attribute__((noreturn)) unexpected(const char *what)
{
	printf("unexpected, not this bug: %s\n", what);
	exit(2);
}

static void unmount_debugfs(void)
{
	if (mounted_debugfs)
		umount2(DEBUGFS, MNT_DETACH);
}

/* /sys/kernel/debug/gup_test, opened; debugfs mounted first if need be. */
static int open_gup_test(void)
{
	struct statfs sfs;
	int fd, err;

	if (statfs(DEBUGFS, &sfs) || sfs.f_type != DEBUGFS_FS_MAGIC) {
		if (mount("debugfs", DEBUGFS, "debugfs", 0, NULL))
			cannot("mounting debugfs on " DEBUGFS);
		mounted_debugfs = true;
		atexit(unmount_debugfs);
	}
	fd = open(GUP_TEST, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = errno;
		unmount_debugfs();
		mounted_debugfs = false;
		errno = err;
		cannot(GUP_TEST " (CONFIG_GUP_TEST)");
	}
	return fd;
}

/* The THP sysfs file @name into @buf, "" if it cannot be read. */
static char *thp_sysfs(const char *name, char *buf, size_t size)
{
	char path[128];
	ssize_t len;
	int fd;

	snprintf(path, sizeof(path), THP_SYSFS "%s", name);
	fd = open(path, O_RDONLY);
	len = fd < 0 ? -1 : read(fd, buf, size - 1);
	if (fd >= 0)
		close(fd);
	buf[len > 0 ? len : 0] = '\0';
	return buf;
}

/* @nr pagemap entries from @addr into @e. */
static void pagemap_range(const char *addr, uint64_t *e)
{
	off_t off = (uintptr_t)addr / ps * sizeof(*e);

	if (pread(pagemap, e, nr * sizeof(*e), off) != (ssize_t)(nr * sizeof(*e))) {
		perror("pread /proc/self/pagemap");
		exit(2);
	}
}

/* The /proc/kpageflags flags of the page mapped at @addr. */
static uint64_t page_flags(const char *addr)
{
	uint64_t e = pagemap_entry(pagemap, addr), flags;

	if (!(e & PM_PRESENT))
		unexpected("a page read a moment ago is not present");
	if (!(e & PM_PFN))
		cannot_because("/proc/self/pagemap shows no PFNs (needs CAP_SYS_ADMIN)");
	if (pread(kpageflags, &flags, sizeof(flags), (e & PM_PFN) * sizeof(flags)) !=
	    sizeof(flags)) {
		perror("pread /proc/kpageflags");
		exit(2);
	}
	return flags;
}

/* AnonHugePages of the VMA holding @addr in kB (PMD-mapped THPs), or -1. */
static long anon_huge_kb(const char *addr)
{
	unsigned long start, end, a = (uintptr_t)addr;
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[4096];
	bool in = false;
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in = start <= a && a < end;
		else if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/* One PMD's worth of private anonymous memory, PMD aligned. */
static char *map_aligned(void)
{
	char *raw = mmap(NULL, 2 * range, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *p;

	if (raw == MAP_FAILED)
		cannot("mmap()");
	p = (char *)(((uintptr_t)raw + range - 1) & ~(range - 1));
	if (p > raw)
		munmap(raw, p - raw);
	munmap(p + range, raw + range - p);
	return p;
}

struct writer {
	char *addr;
	atomic_bool done;
	pthread_t thread;
};

static void *write_one(void *arg)
{
	struct writer *w = arg;

	*(volatile char *)w->addr = 'w';
	atomic_store(&w->done, true);
	return NULL;
}

static bool writer_finished(struct writer *w)
{
	int i;

	for (i = 0; i < WAIT_MS / 10 && !atomic_load(&w->done); i++)
		usleep(10000);
	return atomic_load(&w->done);
}

struct outcome {
	bool new_thp;		/* page 0 is a PMD-mapped THP, no zeropage */
	const char *shape;	/* what maps the range after the pin */
	size_t protected;	/* pages with PM_UFFD_WP after the pin */
	bool wp_fault;		/* the write after the pin raised a WP fault */
};

/* What maps the range at @p, by page 0's flags and smaps. */
static const char *shape(const char *p, bool *new_thp)
{
	uint64_t flags = page_flags(p) & (KPF_ZERO_BIT | KPF_THP_BIT);

	*new_thp = false;
	if (flags == (KPF_ZERO_BIT | KPF_THP_BIT))
		return "the huge zeropage";
	if (flags == KPF_ZERO_BIT)
		return "the shared zeropage";
	if (flags != KPF_THP_BIT)
		return "small pages";
	if (anon_huge_kb(p) < (long)(range >> 10))
		return "a PTE-mapped THP";
	*new_thp = true;
	return "a PMD-mapped THP";
}

/*
 * Map, read, protect and pin a range (THP or small pages), then look at
 * it and write to it.
 */
static void run(bool huge, int gup, struct outcome *o)
{
	struct gup_test_longterm pin = { .size = range, .flags = 0 };
	uint64_t *e = calloc(nr, sizeof(*e)), flags;
	struct pollfd pfd = { .events = POLLIN };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_WP };
	struct writer w = { 0 };
	struct uffd_msg msg;
	char *p = map_aligned();
	char buf[128];
	size_t i;
	int uffd;

	if (!e)
		unexpected("out of memory");
	if (madvise(p, range, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))
		cannot(huge ? "madvise(MADV_HUGEPAGE)" : "madvise(MADV_NOHUGEPAGE)");
	for (i = 0; i < nr; i++)
		(void)*(volatile char *)(p + i * ps);

	flags = page_flags(p);
	if (huge && (flags & (KPF_ZERO_BIT | KPF_THP_BIT)) !=
		    (KPF_ZERO_BIT | KPF_THP_BIT)) {
		if (strstr(thp_sysfs("enabled", buf, sizeof(buf)), "[never]"))
			cannot_because("THP disabled (transparent_hugepage/enabled is never)");
		if (thp_sysfs("use_zero_page", buf, sizeof(buf))[0] != '1')
			cannot_because("huge zeropage off (transparent_hugepage/use_zero_page is not 1)");
		cannot_because("a read fault in a MADV_HUGEPAGE range did not map the huge zeropage");
	}
	if (!huge && (flags & (KPF_ZERO_BIT | KPF_THP_BIT)) != KPF_ZERO_BIT)
		cannot_because("a read fault in a MADV_NOHUGEPAGE range did not map the shared zeropage");

	uffd = uffd_with(0);
	reg.range.start = (uintptr_t)p;
	reg.range.len = range;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		cannot("UFFDIO_REGISTER_MODE_WP on private anonymous memory");
	if (uffd_protect(uffd, p, range, 1))
		cannot("UFFDIO_WRITEPROTECT");
	pagemap_range(p, e);
	for (i = 0; i < nr; i++)
		if (!(e[i] & PM_UFFD_WP))
			cannot_because("UFFDIO_WRITEPROTECT left a zeropage without the uffd-wp bit");

	pin.addr = (uintptr_t)p;
	if (ioctl(gup, GUP_TEST_LONGTERM_START, &pin))
		cannot("R/O long-term pin through gup_test (PIN_LONGTERM_TEST_START)");

	o->shape = shape(p, &o->new_thp);
	pagemap_range(p, e);
	o->protected = 0;
	for (i = 0; i < nr; i++)
		o->protected += !!(e[i] & PM_UFFD_WP);

	/* The write must wait for the handler: un-protecting lets it go. */
	w.addr = p;
	if (pthread_create(&w.thread, NULL, write_one, &w))
		unexpected("pthread_create() failed");
	pfd.fd = uffd;
	o->wp_fault = false;
	if (poll(&pfd, 1, WAIT_MS) == 1 && read(uffd, &msg, sizeof(msg)) == sizeof(msg))
		o->wp_fault = msg.event == UFFD_EVENT_PAGEFAULT &&
			      (msg.arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WP) &&
			      msg.arg.pagefault.address - (uintptr_t)p < ps;
	if (uffd_protect(uffd, p, range, 0))
		unexpected("un-protecting the range failed");
	if (!writer_finished(&w))
		unexpected("the write did not finish once the range was un-protected");
	pthread_join(w.thread, NULL);

	if (ioctl(gup, GUP_TEST_LONGTERM_STOP))
		unexpected("PIN_LONGTERM_TEST_STOP failed");
	close(uffd);
	munmap(p, range);
	free(e);
}

static void report(const char *what, const struct outcome *o)
{
	printf("%s: after the pin %s, %zu of %zu pages uffd-wp protected, the write %s\n",
	       what, o->shape, o->protected, nr,
	       o->wp_fault ? "raised a uffd-wp fault" : "raised no uffd-wp fault");
}

static bool kept(const struct outcome *o)
{
	return o->protected == nr && o->wp_fault;
}

int main(void)
{
	struct outcome huge, small;
	char buf[32];
	int gup;

	setvbuf(stdout, NULL, _IOLBF, 0);
	alarm(ALARM_S);
	gup = open_gup_test();
	ps = getpagesize();
	range = strtoul(thp_sysfs("hpage_pmd_size", buf, sizeof(buf)), NULL, 0);
	if (!range)
		cannot_because("no THP (transparent_hugepage/hpage_pmd_size)");
	nr = range / ps;
	pagemap = open("/proc/self/pagemap", O_RDONLY);
	if (pagemap < 0)
		cannot("/proc/self/pagemap");
	kpageflags = open("/proc/kpageflags", O_RDONLY);
	if (kpageflags < 0)
		cannot("/proc/kpageflags");

	run(true, gup, &huge);
	run(false, gup, &small);
	report("huge zeropage", &huge);
	report("small zeropages (control)", &small);

	if (!kept(&small))
		unexpected("the small zeropages lost their uffd-wp protection too");
	if (kept(&huge)) {
		printf("not seen: a R/O long-term pin of a protected huge zeropage left %s, protected\n",
		       huge.shape);
		return REPRO_NOT_SEEN;
	}
	if (huge.new_thp) {
		printf("bug: a R/O long-term pin replaced a uffd-wp protected huge zeropage with a THP mapped %s\n",
		       huge.protected ? "protected, yet a write raised no uffd-wp fault" :
		       huge.wp_fault ? "without the uffd-wp bit" :
		       "without the uffd-wp bit: a write raised no uffd-wp fault");
		return REPRO_SEEN;
	}
	unexpected("the huge zeropage lost its uffd-wp protection without becoming a PMD-mapped THP");
}
