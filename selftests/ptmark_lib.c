// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the ptmark selftests.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <numa.h>
#include <numaif.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <sys/utsname.h>
#include <time.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <linux/userfaultfd.h>
#include <unistd.h>

#include "ptmark_lib.h"

/* ---- the module --------------------------------------------------------- */

int ptmark_open(void)
{
	int fd = open(PTMARK_DEVICE, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int ptmark_get_info(int fd, struct ptmark_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	return ioctl(fd, PTMARK_IOC_INFO, info) ? -errno : 0;
}

const struct ptmark_feature ptmark_features[] = {
	{ PTMARK_FEAT_GUARD,		"guard" },
	{ PTMARK_FEAT_GUARD_FILE,	"guard_file" },
	{ PTMARK_FEAT_UFFD_WP,		"uffd_wp" },
	{ PTMARK_FEAT_UFFD_WP_MARKER,	"uffd_wp_marker" },
	{ PTMARK_FEAT_POISON_MARKER,	"poison_marker" },
	{ PTMARK_FEAT_PAGEMAP_SCAN,	"pagemap_scan" },
	{ PTMARK_FEAT_PAGEMAP_GUARD,	"pagemap_guard" },
	{ PTMARK_FEAT_SOFT_DIRTY,	"soft_dirty" },
	{ PTMARK_FEAT_THP,		"thp" },
	{ PTMARK_FEAT_MIGRATION,	"migration" },
	{ PTMARK_FEAT_AS_UNMOVABLE,	"as_unmovable" },
	{ PTMARK_FEAT_AS_INACCESSIBLE,	"as_inaccessible" },
	{ PTMARK_FEAT_HUGETLB,		"hugetlb" },
	{ PTMARK_FEAT_GUARD_IOCTL,	"guard_ioctl" },
	{ PTMARK_FEAT_INJECT,		"inject" },
	{ PTMARK_FEAT_PIN,		"pin" },
	{ PTMARK_FEAT_HUGE_PFNMAP,	"huge_pfnmap" },
	{ PTMARK_FEAT_NETLINK,		"netlink" },
	{ PTMARK_FEAT_UFFD_RWP,		"uffd_rwp" },
	{ PTMARK_FEAT_CONT_PTE,		"cont_pte" },
};

const size_t ptmark_nr_features = ARRAY_SIZE(ptmark_features);

static const char *feature_name(__u64 bit)
{
	size_t i;

	for (i = 0; i < ptmark_nr_features; i++)
		if (ptmark_features[i].bit == bit)
			return ptmark_features[i].name;
	return "?";
}

/* finit_module() flag for a compressed .ko, in uapi linux/module.h (5.17). */
#ifndef MODULE_INIT_COMPRESSED_FILE
#define MODULE_INIT_COMPRESSED_FILE	4
#endif

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

int ptmark_module_load(const char *ko, const char *params)
{
	int fd = open(ko, O_RDONLY | O_CLOEXEC);
	int flags = ends_with(ko, ".ko") ? 0 : MODULE_INIT_COMPRESSED_FILE;
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (syscall(SYS_finit_module, fd, params, flags))
		ret = -errno;
	close(fd);
	return ret;
}

/*
 * Where make install, DKMS and distribution packages put ptmark.ko, in
 * the order modprobe prefers them (depmod searches updates/ first).
 */
static const char *const ko_dirs[] = { "updates/dkms", "updates", "extra" };
static const char *const ko_names[] = { "ptmark.ko", "ptmark.ko.xz",
					"ptmark.ko.zst", "ptmark.ko.gz" };

const char *ptmark_ko_path(char *path, size_t len)
{
	const char *env = getenv("PTMARK_KO");
	struct utsname uts;
	size_t d, n;

	if (env && *env) {
		snprintf(path, len, "%s", env);
		return path;
	}
	if (uname(&uts))
		return NULL;
	for (d = 0; d < ARRAY_SIZE(ko_dirs); d++) {
		for (n = 0; n < ARRAY_SIZE(ko_names); n++) {
			snprintf(path, len, "/lib/modules/%s/%s/%s", uts.release,
				 ko_dirs[d], ko_names[n]);
			if (!access(path, R_OK))
				return path;
		}
	}
	snprintf(path, len,
		 "ptmark.ko not found: PTMARK_KO unset, none in /lib/modules/%s/{updates/dkms,updates,extra}",
		 uts.release);
	return NULL;
}

int ptmark_module_unload(void)
{
	return syscall(SYS_delete_module, "ptmark", O_NONBLOCK) ? -errno : 0;
}

long long ptmark_stat(const char *name)
{
	return text_file_value(PTMARK_DEBUGFS "/stats", name);
}

int ptmark_scan_dense_of(int fd, int pidfd, const void *addr, size_t nr_pages,
			 struct ptmark_record *recs)
{
	struct ptmark_scan scan = {
		.size = sizeof(scan),
		.flags = PTMARK_SCAN_DENSE |
			 (pidfd >= 0 ? PTMARK_SCAN_PIDFD : 0),
		.pidfd = pidfd,
		.nr_records = nr_pages,
		.start = (uintptr_t)addr,
		.len = nr_pages * sysconf(_SC_PAGESIZE),
		.records = (uintptr_t)recs,
	};

	if (ioctl(fd, PTMARK_IOC_SCAN, &scan))
		return -errno;
	if (scan.nr_records != nr_pages || scan.next != scan.start + scan.len)
		return -EIO;
	return 0;
}

int ptmark_scan_dense(int fd, const void *addr, size_t nr_pages,
		      struct ptmark_record *recs)
{
	return ptmark_scan_dense_of(fd, -1, addr, nr_pages, recs);
}

__u32 ptmark_compact_state_of(const struct ptmark_record *r, __u32 bits_mask)
{
	__u32 marker = r->marker & (PTMARK_MARKER_UFFD_WP |
				    PTMARK_MARKER_POISONED |
				    PTMARK_MARKER_GUARD);

	if (r->marker & PTMARK_MARKER_UNKNOWN)
		marker |= PTMARK_C_MARKER_UNKNOWN;
	if (!bits_mask)
		bits_mask = PTMARK_BIT_ALL;
	return r->kind | marker << 4 | (r->bits & bits_mask) << 8;
}

/* Decode one call's @n words into @states, at most @max pages: pages or -EIO. */
static long ptmark_compact_decode(const __u32 *w, size_t n, __u32 *states,
				  size_t max)
{
	size_t i, done = 0;
	__u64 count;

	if (!n || (w[0] & PTMARK_C_REPEAT))
		return -EIO;
	for (i = 0; i < n; i++) {
		if (!(w[i] & PTMARK_C_REPEAT)) {
			if (done == max)
				return -EIO;
			states[done++] = w[i];
			continue;
		}
		count = PTMARK_C_COUNT(w[i]);
		if (!count || count > max - done)
			return -EIO;
		while (count--) {
			states[done] = states[done - 1];
			done++;
		}
	}
	return done;
}

int ptmark_scan_compact(int fd, const void *addr, size_t nr_pages,
			__u32 bits_mask, size_t room, __u32 *states,
			size_t *calls, size_t *words)
{
	size_t psize = sysconf(_SC_PAGESIZE), done = 0, ncalls = 0, nwords = 0;
	__u32 *buf = malloc(room * sizeof(*buf));
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	while (done < nr_pages) {
		struct ptmark_scan scan = {
			.size = sizeof(scan),
			.flags = PTMARK_SCAN_COMPACT,
			.nr_records = room,
			.start = (uintptr_t)addr + done * psize,
			.len = (nr_pages - done) * psize,
			.records = (uintptr_t)buf,
			.bits_mask = bits_mask,
		};
		long got;

		if (ioctl(fd, PTMARK_IOC_SCAN, &scan)) {
			ret = -errno;
			break;
		}
		ncalls++;
		nwords += scan.nr_records;
		got = ptmark_compact_decode(buf, scan.nr_records,
					    states + done, nr_pages - done);
		if (got <= 0 || scan.next != scan.start + got * psize) {
			ret = -EIO;
			break;
		}
		done += got;
	}
	free(buf);
	if (calls)
		*calls = ncalls;
	if (words)
		*words = nwords;
	return ret;
}

char ptmark_record_char(const struct ptmark_record *r)
{
	char c = ptmark_map_char(r);

	/* A picture asks whether a page is mapped, not by what. */
	if (strchr("AFTZH", c))
		return 'P';
	return c == '_' ? '.' : c;
}

int ptmark_page_map(const void *addr, size_t nr_pages, char *map)
{
	struct ptmark_record *recs;
	size_t i;
	int fd, ret;

	fd = ptmark_open();
	if (fd < 0)
		return -ENODEV;
	recs = calloc(nr_pages, sizeof(*recs));
	if (!recs) {
		close(fd);
		return -ENOMEM;
	}
	ret = ptmark_scan_dense(fd, addr, nr_pages, recs);
	for (i = 0; !ret && i < nr_pages; i++)
		map[i] = ptmark_record_char(&recs[i]);
	map[nr_pages] = '\0';
	free(recs);
	close(fd);
	return ret;
}

int ptmark_marker_fd(int fd, int pidfd, const void *addr, size_t len,
		     __u32 marker, __u32 flags, __u64 *nr_pages)
{
	struct ptmark_marker req = {
		.size = sizeof(req),
		.flags = flags | (pidfd >= 0 ? PTMARK_MARKER_F_PIDFD : 0),
		.pidfd = pidfd,
		.marker = marker,
		.start = (uintptr_t)addr,
		.len = len,
		.nr_pages = ~0ULL,
	};
	int ret = ioctl(fd, PTMARK_IOC_MARKER, &req) ? -errno : 0;

	*nr_pages = req.nr_pages;
	return ret;
}

int ptmark_marker_vec(int fd, const struct ptmark_range *vec, size_t n,
		      __u32 marker, __u32 flags, __u64 *nr_pages,
		      __u64 *nr_ranges)
{
	struct ptmark_marker req = {
		.size = sizeof(req),
		.flags = flags | PTMARK_MARKER_F_VECTOR,
		.marker = marker,
		.start = (uintptr_t)vec,
		.len = n,
		.nr_pages = ~0ULL,
		.nr_ranges = ~0ULL,
	};
	int ret = ioctl(fd, PTMARK_IOC_MARKER, &req) ? -errno : 0;

	*nr_pages = req.nr_pages;
	*nr_ranges = req.nr_ranges;
	return ret;
}

long ptmark_marker(int pidfd, const void *addr, size_t len, __u32 marker,
		   __u32 flags)
{
	int fd = ptmark_open();
	__u64 nr_pages;
	long ret;

	if (fd < 0)
		return -ENODEV;
	ret = ptmark_marker_fd(fd, pidfd, addr, len, marker, flags, &nr_pages);
	close(fd);
	return ret ?: (long)nr_pages;
}

long ptmark_guard(const void *addr, size_t len, bool install)
{
	return ptmark_marker(-1, addr, len, PTMARK_MARKER_GUARD,
			     install ? 0 : PTMARK_MARKER_F_REMOVE);
}

int ptmark_unmovable_op(int dev, int fd, __u32 op,
			struct ptmark_unmovable *reply)
{
	struct ptmark_unmovable u = {
		.size = sizeof(u),
		.fd = fd,
		.op = op,
	};
	int ret = ioctl(dev, PTMARK_IOC_UNMOVABLE, &u) ? -errno : 0;

	if (reply)
		*reply = u;
	return ret;
}

int ptmark_pin_session(int fd, int pidfd)
{
	struct ptmark_pin_open o = {
		.size = sizeof(o),
		.flags = pidfd >= 0 ? PTMARK_PIN_OPEN_F_PIDFD : 0,
		.pidfd = pidfd,
		.fd = -1,
	};

	return ioctl(fd, PTMARK_IOC_PIN, &o) ? -errno : o.fd;
}

/* PTMARK_PIN_IOC_PIN or _RELEASE of one range: 0 or -errno. */
static int pin_range_ioctl(int session, unsigned long cmd, const void *addr,
			   size_t len, __u32 flags)
{
	struct ptmark_pin_range r = {
		.size = sizeof(r),
		.flags = flags,
		.start = (uintptr_t)addr,
		.len = len,
	};

	return ioctl(session, cmd, &r) ? -errno : 0;
}

int ptmark_pin(int session, const void *addr, size_t len, __u32 flags)
{
	return pin_range_ioctl(session, PTMARK_PIN_IOC_PIN, addr, len, flags);
}

int ptmark_unpin(int session, const void *addr, size_t len)
{
	return pin_range_ioctl(session, PTMARK_PIN_IOC_RELEASE, addr, len, 0);
}

int ptmark_pin_read(int session, const void *addr, size_t len, void *buf)
{
	struct ptmark_pin_read r = {
		.size = sizeof(r),
		.start = (uintptr_t)addr,
		.len = len,
		.buf = (uintptr_t)buf,
	};

	return ioctl(session, PTMARK_PIN_IOC_READ, &r) ? -errno : 0;
}

int ptmark_pin_compare(int session, const void *addr, size_t len,
		       __u8 *states, struct ptmark_pin_compare *out)
{
	struct ptmark_pin_compare c = {
		.size = sizeof(c),
		.start = (uintptr_t)addr,
		.len = len,
		.states = (uintptr_t)states,
	};

	if (ioctl(session, PTMARK_PIN_IOC_COMPARE, &c))
		return -errno;
	if (out)
		*out = c;
	return 0;
}

/* ---- files and /proc ---------------------------------------------------- */

int reopen_fd(int fd, int flags)
{
	char path[32];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, flags | O_CLOEXEC);
}

char *read_text_file(const char *path)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	ssize_t n;
	int fd;

	if (!buf)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		free(buf);
		return NULL;
	}
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += n;
		if (cap - len - 1 == 0) {
			char *bigger = realloc(buf, cap * 2);

			if (!bigger) {
				n = -1;
				break;
			}
			buf = bigger;
			cap *= 2;
		}
	}
	close(fd);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	return buf;
}

char *sysfs_choice(char *text)
{
	char *open = text ? strchr(text, '[') : NULL;
	char *close = open ? strchr(open, ']') : NULL;

	if (!close)
		return NULL;
	*close = '\0';
	return open + 1;
}

bool text_lookup(const char *text, const char *name, char *value,
		 size_t value_len)
{
	size_t name_len = strlen(name);
	const char *line = text;

	while (line && *line) {
		const char *end = strchrnul(line, '\n');

		if (!strncmp(line, name, name_len) && line[name_len] == ' ') {
			size_t n = end - (line + name_len + 1);

			if (n >= value_len)
				n = value_len - 1;
			memcpy(value, line + name_len + 1, n);
			value[n] = '\0';
			return true;
		}
		line = *end ? end + 1 : NULL;
	}
	return false;
}

long long text_file_value(const char *path, const char *name)
{
	char *text = read_text_file(path);
	long long ret = -1;
	char value[64];

	if (text && text_lookup(text, name, value, sizeof(value)))
		ret = strtoll(value, NULL, 10);
	free(text);
	return ret;
}

int write_text_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t len = strlen(text), n;

	if (fd < 0)
		return -errno;
	n = write(fd, text, len);
	if (n < 0)
		n = -errno;
	close(fd);
	return n < 0 ? n : n == len ? 0 : -EIO;
}

int open_fd_count(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *d;
	int n = 0;

	if (!dir)
		return -errno;
	while ((d = readdir(dir)))
		n += d->d_name[0] != '.';
	closedir(dir);
	/* Less the one opendir() holds. */
	return n - 1;
}

bool swap_active(void)
{
	char *text = read_text_file("/proc/swaps");
	char *nl = text ? strchr(text, '\n') : NULL;
	/* The first line is the column header. */
	bool active = nl && nl[1];

	free(text);
	return active;
}

/* Is this line of /proc/self/{maps,smaps} a VMA header? */
static bool vma_header(const char *line, unsigned long *start,
		       unsigned long *end)
{
	/* Field lines ("Rss:", "AnonHugePages:") never parse as a range. */
	return sscanf(line, "%lx-%lx ", start, end) == 2;
}

char *text_next_line(char *line)
{
	char *nl = strchr(line, '\n');

	return nl && nl[1] ? nl + 1 : NULL;
}

int vmas_in_range(const void *addr, size_t len)
{
	uintptr_t lo = (uintptr_t)addr, hi = lo + len;
	char *text = read_text_file("/proc/self/maps");
	unsigned long start, end;
	char *line;
	int count = 0;

	if (!text)
		return -1;
	for (line = text; line; line = text_next_line(line))
		if (vma_header(line, &start, &end) && start < hi && end > lo)
			count++;
	free(text);
	return count;
}

char *smaps_block(const void *addr)
{
	char *text = read_text_file("/proc/self/smaps");
	unsigned long start, end;
	char *line, *stop, *block = NULL;

	if (!text)
		return NULL;
	for (line = text; line; line = text_next_line(line)) {
		if (!vma_header(line, &start, &end) ||
		    (uintptr_t)addr < start || (uintptr_t)addr >= end)
			continue;
		for (stop = text_next_line(line); stop; stop = text_next_line(stop))
			if (vma_header(stop, &start, &end))
				break;
		block = stop ? strndup(line, stop - line) : strdup(line);
		break;
	}
	free(text);
	return block;
}

long smaps_kb(const void *addr, const char *name)
{
	char *block = smaps_block(addr), *at;
	long kb = -1;

	if (!block)
		return -1;
	at = strstr(block, name);
	if (at)
		kb = strtol(at + strlen(name), NULL, 10);
	free(block);
	return kb;
}

char *numa_maps_line(const void *addr)
{
	char *text = read_text_file("/proc/self/numa_maps");
	char *line, *nl, *found = NULL;
	unsigned long start;

	if (!text)
		return NULL;
	for (line = text; line; line = text_next_line(line)) {
		if (sscanf(line, "%lx ", &start) != 1 ||
		    start != (uintptr_t)addr)
			continue;
		nl = strchr(line, '\n');
		found = nl ? strndup(line, nl - line) : strdup(line);
		break;
	}
	free(text);
	return found;
}

bool smaps_has_vmflag(const void *addr, const char *flag)
{
	char *block = smaps_block(addr), *at, *tok, *save;
	bool found = false;

	if (!block)
		return false;
	at = strstr(block, "VmFlags:");
	if (at)
		for (tok = strtok_r(at + 8, " \n", &save); tok;
		     tok = strtok_r(NULL, " \n", &save))
			if (!strcmp(tok, flag))
				found = true;
	free(block);
	return found;
}

double monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double median_of(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- a thread taking this process's mmap lock for write, timed ------- */

static void lock_waiter_note(struct lock_waiter *w, double t0)
{
	double dt = monotonic_ms() - t0;

	if (dt > w->worst_ms)
		w->worst_ms = dt;
	w->takes++;
}

static void *lock_waiter_loop(void *arg)
{
	struct lock_waiter *w = arg;
	size_t page = sysconf(_SC_PAGESIZE);
	double t0;
	void *q;

	while (!atomic_load(&w->stop)) {
		t0 = monotonic_ms();
		q = mmap(NULL, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
		lock_waiter_note(w, t0);
		if (q != MAP_FAILED) {
			t0 = monotonic_ms();
			munmap(q, page);
			lock_waiter_note(w, t0);
		}
		usleep(2000);
	}
	return NULL;
}

int lock_waiter_start(struct lock_waiter *w)
{
	atomic_init(&w->stop, false);
	w->worst_ms = 0;
	w->takes = 0;
	return pthread_create(&w->thread, NULL, lock_waiter_loop, w);
}

void lock_waiter_stop(struct lock_waiter *w)
{
	atomic_store(&w->stop, true);
	pthread_join(w->thread, NULL);
}

/* ---- a forked child serving requests over two pipes ------------------ */

int served_child_start(struct served_child *c,
		       void (*serve)(void *arg, int cmd, int ack), void *arg)
{
	int cmd[2], ack[2], err;

	if (pipe2(cmd, O_CLOEXEC))
		return -errno;
	if (pipe2(ack, O_CLOEXEC)) {
		err = -errno;
		goto close_cmd;
	}
	c->pid = fork();
	if (c->pid < 0) {
		err = -errno;
		close(ack[0]);
		close(ack[1]);
		goto close_cmd;
	}
	if (!c->pid) {
		close(cmd[1]);
		close(ack[0]);
		serve(arg, cmd[0], ack[1]);
		_exit(1);
	}
	close(cmd[0]);
	close(ack[1]);
	c->cmd = cmd[1];
	c->ack = ack[0];
	return 0;
close_cmd:
	close(cmd[0]);
	close(cmd[1]);
	return err;
}

int served_child_stop(struct served_child *c)
{
	int status;

	close(c->cmd);
	close(c->ack);
	if (waitpid(c->pid, &status, 0) != c->pid)
		return -errno;
	return status;
}

/* ---- the machine's geometry --------------------------------------------- */

size_t ptmark_pmd_size(void)
{
	size_t page = sysconf(_SC_PAGESIZE);
	char *text = read_text_file("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size");
	size_t bytes = text ? strtoul(text, NULL, 10) : 0;

	free(text);
	return bytes ? bytes : page / sizeof(uint64_t) * page;
}

size_t ptmark_hugetlb_size(void)
{
	long long kb = text_file_value("/proc/meminfo", "Hugepagesize:");

	return kb > 0 ? kb << 10 : 0;
}

uint64_t ptmark_user_space_end(void)
{
	/*
	 * The ends user space can have, highest first: x86-64 with five
	 * levels and with four (each a page short of the power of two),
	 * arm64 with 52 and 48 bits, arm64 with 39.  The first whose last
	 * page can be mapped, or is mapped already, is this one's.
	 */
	uint64_t page = sysconf(_SC_PAGESIZE);
	const uint64_t ends[] = {
		(1ULL << 56) - page, 1ULL << 52, 1ULL << 48,
		(1ULL << 47) - page, 1ULL << 39,
	};
	size_t i;
	void *p;

	for (i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		p = mmap((void *)(uintptr_t)(ends[i] - page), page, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			 -1, 0);
		if (p != MAP_FAILED) {
			munmap(p, page);
			if (p == (void *)(uintptr_t)(ends[i] - page))
				return ends[i];
		} else if (errno == EEXIST) {
			return ends[i];
		}
	}
	return ends[i - 1];
}

/* ---- pagemap ------------------------------------------------------------ */

int pagemap_pread(int fd, const void *addr, size_t nr, uint64_t *out)
{
	off_t off = (uintptr_t)addr / sysconf(_SC_PAGESIZE) * sizeof(*out);
	ssize_t want = nr * sizeof(*out), got;

	got = pread(fd, out, want, off);
	if (got < 0)
		return -errno;
	return got == want ? 0 : -EIO;
}

int pagemap_read(const void *addr, size_t nr, uint64_t *out)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -errno;
	ret = pagemap_pread(fd, addr, nr, out);
	close(fd);
	return ret;
}

long pagemap_scan_self(struct pm_scan_arg *arg)
{
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	long ret;

	if (fd < 0)
		return -errno;
	ret = ioctl(fd, PAGEMAP_SCAN, arg);
	if (ret < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* ---- memory ------------------------------------------------------------- */

void *mmap_aligned(size_t len, size_t align, int prot)
{
	char *raw = mmap(NULL, len + align, prot,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	char *aligned;

	if (raw == MAP_FAILED)
		return raw;
	aligned = (char *)(((uintptr_t)raw + align - 1) & ~(align - 1));
	if (aligned > raw)
		munmap(raw, aligned - raw);
	munmap(aligned + len, raw + align - aligned);
	return aligned;
}

/* Say why a step of making the huge tmpfs failed; -1 for the caller. */
static int huge_tmpfs_failed(const char *step, char *why, size_t len)
{
	int err = errno;

	snprintf(why, len, "huge tmpfs: %s: %s%s", step, strerror(err),
		 err == EPERM ? " (needs CAP_SYS_ADMIN)" : "");
	errno = err;
	return -1;
}

int ptmark_huge_tmpfs_fd(char *why, size_t len)
{
	int fsfd, mntfd, fd;

	fsfd = syscall(__NR_fsopen, "tmpfs", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		return huge_tmpfs_failed("fsopen(tmpfs)", why, len);
	if (syscall(__NR_fsconfig, fsfd, FSCONFIG_SET_STRING, "huge", "always",
		    0)) {
		close(fsfd);
		return huge_tmpfs_failed("fsconfig(huge=always)", why, len);
	}
	if (syscall(__NR_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0)) {
		close(fsfd);
		return huge_tmpfs_failed("fsconfig(create)", why, len);
	}
	mntfd = syscall(__NR_fsmount, fsfd, FSMOUNT_CLOEXEC, 0);
	close(fsfd);
	if (mntfd < 0)
		return huge_tmpfs_failed("fsmount", why, len);
	/* The open file keeps the detached mount alive after mntfd goes. */
	fd = openat(mntfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	close(mntfd);
	if (fd < 0)
		return huge_tmpfs_failed("O_TMPFILE", why, len);
	return fd;
}

int memfd_sized(const char *name, unsigned int flags, size_t len)
{
	int fd = memfd_create(name, MFD_CLOEXEC | flags);

	if (fd >= 0 && ftruncate(fd, len)) {
		int err = errno;

		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

/* The filesystems a farm's test directory is likely to be on, by name. */
static const char *fs_type_name(unsigned long magic)
{
	switch (magic) {
	case TMPFS_MAGIC:
		return "tmpfs, not a disk filesystem";
	case RAMFS_MAGIC:
		return "ramfs, not a disk filesystem";
	case OVERLAYFS_SUPER_MAGIC:
		return "overlayfs";
	case NFS_SUPER_MAGIC:
		return "nfs";
	case BTRFS_SUPER_MAGIC:
		return "btrfs";
	case XFS_SUPER_MAGIC:
		return "xfs";
	default:
		return NULL;
	}
}

/* Is @dir a writable directory on ext4?  If not, append why to @why. */
static bool ext4_dir_usable(const char *dir, char *why, size_t len)
{
	size_t used = strlen(why);
	struct statfs fs;
	const char *name;

	if (statfs(dir, &fs) || access(dir, W_OK)) {
		snprintf(why + used, len - used, "%s%s: %s", used ? "; " : "",
			 dir, strerror(errno));
		return false;
	}
	if (fs.f_type == EXT4_SUPER_MAGIC)
		return true;
	name = fs_type_name(fs.f_type);
	if (name)
		snprintf(why + used, len - used, "%s%s: %s, not ext4",
			 used ? "; " : "", dir, name);
	else
		snprintf(why + used, len - used, "%s%s: fs magic %#lx, not ext4",
			 used ? "; " : "", dir, (unsigned long)fs.f_type);
	return false;
}

/* The directory the running program is installed in, "" if unknown. */
static const char *program_dir(void)
{
	static char dir[4096];
	ssize_t n;
	char *slash;

	if (dir[0])
		return dir;
	n = readlink("/proc/self/exe", dir, sizeof(dir) - 1);
	if (n <= 0) {
		dir[0] = '\0';
		return dir;
	}
	dir[n] = '\0';
	slash = strrchr(dir, '/');
	if (slash && slash != dir)
		*slash = '\0';
	return dir;
}

/*
 * $PTMARK_EXT4 when set, and nothing else: the tester named it.  Else the
 * first ext4 one of /var/tmp (on a disk where a distribution installs)
 * and the directory the suite is installed in (the root filesystem of a
 * farm's test machine).
 */
const char *ptmark_ext4_dir(char *why, size_t len)
{
	const char *env = getenv("PTMARK_EXT4");
	const char *dirs[] = { "/var/tmp", program_dir() };
	char tried[PTMARK_WHY_LEN] = "";
	size_t i;

	if (env && *env) {
		if (ext4_dir_usable(env, tried, sizeof(tried)))
			return env;
		snprintf(why, len, "no ext4 directory: %s (PTMARK_EXT4)", tried);
		return NULL;
	}
	for (i = 0; i < ARRAY_SIZE(dirs); i++)
		if (*dirs[i] && ext4_dir_usable(dirs[i], tried, sizeof(tried)))
			return dirs[i];
	snprintf(why, len, "no ext4 directory: %s (set PTMARK_EXT4)", tried);
	return NULL;
}

int ptmark_ext4_tmpfile(int flags)
{
	char why[PTMARK_WHY_LEN];
	const char *dir = ptmark_ext4_dir(why, sizeof(why));

	if (!dir) {
		errno = ENOENT;
		return -1;
	}
	return open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC | flags, 0600);
}

/* ---- backings ----------------------------------------------------------- */

#define PB_UFFD_ALL	(PB_UFFD_MISSING | PB_UFFD_MINOR | PB_UFFD_WP)

/*
 * The uffd bits follow vma_can_userfault(): missing, synchronous WP and
 * read-write protection (where the kernel has it) for anonymous memory,
 * shmem and hugetlbfs, minor for shmem and shared hugetlbfs; any other
 * file only asynchronous WP.  Guard markers go
 * anywhere but hugetlbfs and VM_PFNMAP (is_valid_guard_vma()).
 */
const struct ptmark_backing ptmark_backings[BK_NR] = {
	[BK_ANON] = { BK_ANON, "anon", "anonymous",
		PB_ANON | PB_WRITABLE | PB_GUARD | PB_UFFD_MISSING | PB_UFFD_WP |
		PB_UFFD_RWP },
	[BK_ANON_THP] = { BK_ANON_THP, "anon_thp", "THP anonymous",
		PB_ANON | PB_WRITABLE | PB_THP | PB_GUARD | PB_UFFD_MISSING |
		PB_UFFD_WP | PB_UFFD_RWP },
	[BK_MEMFD] = { BK_MEMFD, "memfd", "memfd",
		PB_FILE | PB_SHMEM | PB_SHARED | PB_WRITABLE | PB_GUARD |
		PB_UFFD_ALL | PB_UFFD_RWP | PB_PUNCH },
	[BK_MEMFD_PRIVATE] = { BK_MEMFD_PRIVATE, "memfd_private",
		"memfd MAP_PRIVATE",
		PB_FILE | PB_SHMEM | PB_WRITABLE | PB_GUARD | PB_UFFD_ALL |
		PB_UFFD_RWP | PB_PUNCH },
	[BK_HUGE_TMPFS] = { BK_HUGE_TMPFS, "huge_tmpfs", "huge tmpfs",
		PB_FILE | PB_SHMEM | PB_SHARED | PB_WRITABLE | PB_THP |
		PB_GUARD | PB_UFFD_ALL | PB_UFFD_RWP | PB_PUNCH },
	[BK_HUGETLB] = { BK_HUGETLB, "hugetlb", "hugetlb memfd",
		PB_FILE | PB_HUGETLB | PB_SHARED | PB_WRITABLE | PB_UFFD_ALL |
		PB_UFFD_RWP | PB_PUNCH },
	[BK_HUGETLB_PRIVATE] = { BK_HUGETLB_PRIVATE, "hugetlb_private",
		"hugetlb memfd MAP_PRIVATE",
		PB_FILE | PB_HUGETLB | PB_WRITABLE | PB_UFFD_MISSING |
		PB_UFFD_WP | PB_UFFD_RWP | PB_PUNCH },
	[BK_EXT4_SHARED] = { BK_EXT4_SHARED, "ext4_shared", "ext4 MAP_SHARED",
		PB_FILE | PB_EXT4 | PB_SHARED | PB_WRITABLE | PB_GUARD |
		PB_PUNCH },
	[BK_EXT4_PRIVATE] = { BK_EXT4_PRIVATE, "ext4_private",
		"ext4 MAP_PRIVATE",
		PB_FILE | PB_EXT4 | PB_WRITABLE | PB_GUARD | PB_PUNCH },
	[BK_EXT4_RDONLY] = { BK_EXT4_RDONLY, "ext4_rdonly", "ext4 read-only",
		PB_FILE | PB_EXT4 | PB_SHARED | PB_GUARD | PB_PUNCH },
	[BK_PFNMAP] = { BK_PFNMAP, "pfnmap", "/dev/ptmark VM_PFNMAP",
		PB_PFNMAP | PB_SHARED | PB_WRITABLE },
	/* Its faults map 64 KiB folios once that size is set "always". */
	[BK_ANON_MTHP] = { BK_ANON_MTHP, "anon_mthp", "64 KiB mTHP anonymous",
		PB_ANON | PB_WRITABLE | PB_MTHP | PB_GUARD | PB_UFFD_MISSING |
		PB_UFFD_WP | PB_UFFD_RWP },
};

const struct ptmark_backing *ptmark_backing_by_name(const char *name)
{
	size_t i;

	for (i = 0; i < BK_NR; i++)
		if (!strcmp(ptmark_backings[i].name, name))
			return &ptmark_backings[i];
	return NULL;
}

static const char *backing_check(const struct ptmark_backing *b, char *why,
				 size_t len)
{
	long long reserved;
	int fd;

	if (b->caps & PB_EXT4)
		return ptmark_ext4_dir(why, len) ? NULL : why;
	if (b->caps & PB_HUGETLB) {
		if (!ptmark_hugetlb_size())
			return "kernel without hugetlbfs";
		reserved = text_file_value("/proc/meminfo", "HugePages_Total:");
		return reserved > 0 ? NULL :
		       "no huge pages reserved (/proc/sys/vm/nr_hugepages is 0)";
	}
	if ((b->caps & PB_THP) &&
	    access("/sys/kernel/mm/transparent_hugepage", F_OK))
		return "transparent huge pages unavailable";
	if ((b->caps & PB_MTHP) && access(PTMARK_MTHP_ENABLED, F_OK))
		return "kernel lacks 64 KiB anonymous mTHP (no " PTMARK_MTHP_ENABLED ")";
	if (b->id == BK_HUGE_TMPFS) {
		fd = ptmark_huge_tmpfs_fd(why, len);
		if (fd < 0)
			return why;
		close(fd);
	}
	if (b->caps & PB_PFNMAP) {
		fd = ptmark_open();
		if (fd < 0)
			return "ptmark.ko not loaded";
		close(fd);
	}
	return NULL;
}

const char *ptmark_backing_unavailable(const struct ptmark_backing *b,
				       char *why, size_t len)
{
	static char reasons[BK_NR][PTMARK_WHY_LEN];
	static bool checked[BK_NR];
	const char *r;

	if (!checked[b->id]) {
		r = backing_check(b, reasons[b->id], sizeof(reasons[b->id]));
		if (r && r != reasons[b->id])
			snprintf(reasons[b->id], sizeof(reasons[b->id]), "%s", r);
		else if (!r)
			reasons[b->id][0] = '\0';
		checked[b->id] = true;
	}
	if (!reasons[b->id][0])
		return NULL;
	snprintf(why, len, "%s", reasons[b->id]);
	return why;
}

int ptmark_backing_fd(const struct ptmark_backing *b, size_t len)
{
	char why[PTMARK_WHY_LEN];
	int fd, err;

	if (b->caps & PB_SHMEM)
		fd = b->caps & PB_THP ? ptmark_huge_tmpfs_fd(why, sizeof(why)) :
		     memfd_create(b->name, MFD_CLOEXEC);
	else if (b->caps & PB_HUGETLB)
		fd = memfd_create(b->name, MFD_CLOEXEC | MFD_HUGETLB);
	else if (b->caps & PB_EXT4)
		fd = ptmark_ext4_tmpfile(0);
	else if (b->caps & PB_PFNMAP) {
		fd = ptmark_open();
		if (fd < 0) {
			errno = -fd;
			return -1;
		}
		return fd;
	} else {
		errno = 0;
		return -1;
	}
	if (fd < 0)
		return -1;
	if (ftruncate(fd, len)) {
		err = errno;
		close(fd);
		errno = err;
		return -1;
	}
	return fd;
}

void *ptmark_backing_mmap(const struct ptmark_backing *b, int fd, void *at,
			  size_t len, int prot, off_t off, size_t align)
{
	int flags = MAP_FIXED | (b->caps & PB_SHARED ? MAP_SHARED : MAP_PRIVATE);
	char *where = at, *p;
	int err;

	if (!(b->caps & PB_WRITABLE))
		prot &= ~PROT_WRITE;
	if (!(b->caps & (PB_FILE | PB_PFNMAP))) {
		flags |= MAP_ANONYMOUS;
		fd = -1;
		off = 0;
	}
	if (!align)
		align = b->caps & PB_HUGETLB ? ptmark_hugetlb_size() :
			b->caps & PB_THP ? ptmark_pmd_size() :
			b->caps & PB_MTHP ? PTMARK_MTHP_SIZE : 0;
	if (!where) {
		/* A reservation to place the mapping where it belongs. */
		where = align ? mmap_aligned(len, align, PROT_NONE) :
			mmap(NULL, len, PROT_NONE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (where == MAP_FAILED)
			return MAP_FAILED;
	}
	p = mmap(where, len, prot, flags, fd, off);
	if (p == MAP_FAILED)
		goto fail;
	if (b->id == BK_ANON_THP && madvise(p, len, MADV_HUGEPAGE))
		goto fail;
	return p;
fail:
	err = errno;
	if (!at)
		munmap(where, len);
	errno = err;
	return MAP_FAILED;
}

bool ptmark_misobserve(const char *point)
{
	const char *list = getenv("PTMARK_MISOBSERVE");
	size_t n = strlen(point);
	const char *at;

	for (at = list ? strstr(list, point) : NULL; at; at = strstr(at + 1, point))
		if ((at == list || at[-1] == ',') && (!at[n] || at[n] == ','))
			return true;
	return false;
}

/* ---- the cases that can apply ------------------------------------------ */

static const char *backed_fixtures[16];

void ptmark_register_backed_fixture(const char *fixture)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(backed_fixtures); i++)
		if (!backed_fixtures[i]) {
			backed_fixtures[i] = fixture;
			return;
		}
	fprintf(stderr, "ptmark_lib: too many backed fixtures\n");
	abort();
}

bool ptmark_fixture_is_backed(const char *fixture)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(backed_fixtures) && backed_fixtures[i]; i++)
		if (!strcmp(backed_fixtures[i], fixture))
			return true;
	return false;
}

static struct ptmark_case_needs *case_needs;

void ptmark_register_needs(struct ptmark_case_needs *n)
{
	n->next = case_needs;
	case_needs = n;
}

/* What the filter left out, by reason: the variants (or fixtures) each. */
static struct {
	char why[PTMARK_WHY_LEN];
	char names[PTMARK_WHY_LEN];
} left_out[16];

void ptmark_note_not_generated(const char *name, const char *why)
{
	size_t i, used;
	const char *at;

	for (i = 0; i < ARRAY_SIZE(left_out) && left_out[i].why[0]; i++)
		if (!strcmp(left_out[i].why, why))
			break;
	if (i == ARRAY_SIZE(left_out))
		return;
	snprintf(left_out[i].why, sizeof(left_out[i].why), "%s", why);
	/* Once a name: where one starts and ends. */
	for (at = strstr(left_out[i].names, name); at; at = strstr(at + 1, name))
		if ((at == left_out[i].names || at[-1] == ' ') &&
		    (!at[strlen(name)] || at[strlen(name)] == ','))
			return;
	used = strlen(left_out[i].names);
	snprintf(left_out[i].names + used, sizeof(left_out[i].names) - used,
		 "%s%s", used ? ", " : "", name);
}

const char *ptmark_not_generated(void)
{
	static char text[960];
	size_t i, used = 0;

	text[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(left_out) && left_out[i].why[0]; i++) {
		snprintf(text + used, sizeof(text) - used, "%s%.300s: %.300s",
			 used ? "; " : "", left_out[i].why, left_out[i].names);
		used = strlen(text);
	}
	return text;
}

const struct ptmark_case_needs *ptmark_case_needs_of(const char *fixture,
						     const char *test)
{
	const struct ptmark_case_needs *n, *whole = NULL;

	for (n = case_needs; n; n = n->next) {
		if (strcmp(n->fixture, fixture))
			continue;
		if (!n->test)
			whole = n;
		else if (!strcmp(n->test, test))
			return n;
	}
	return whole;
}

__u64 ptmark_module_features(void)
{
	static __u64 features;
	static bool asked;
	struct ptmark_info info;
	int fd;

	if (!asked) {
		fd = ptmark_open();
		if (fd >= 0 && !ptmark_get_info(fd, &info))
			features = info.features;
		if (fd >= 0)
			close(fd);
		asked = true;
	}
	return features;
}

const char *ptmark_needs_unmet(const struct ptmark_backing *b,
			       unsigned int needs)
{
	static struct kernel_probe kernel;
	static bool probed;
	__u64 feat = ptmark_module_features();

	if ((needs & NEEDS_GUARD) && !probed) {
		probe_kernel(&kernel);
		probed = true;
	}
	if ((needs & NEEDS_GUARD) &&
	    (b && (b->caps & PB_FILE) ? kernel.guard_file : kernel.guard))
		return "guard cases: kernel lacks MADV_GUARD_INSTALL here";
	if ((needs & NEEDS_GUARD_IOCTL) && !(feat & PTMARK_FEAT_GUARD_IOCTL))
		return "guard ioctl cases: no PTMARK_FEAT_GUARD_IOCTL";
	if ((needs & NEEDS_NETLINK) && !(feat & PTMARK_FEAT_NETLINK))
		return "netlink cases: kernel lacks genetlink split ops and NLA_UINT (6.7)";
	if ((needs & NEEDS_UNMOVABLE) &&
	    !(feat & (PTMARK_FEAT_AS_INACCESSIBLE | PTMARK_FEAT_AS_UNMOVABLE)))
		return "unmovable cases: kernel has neither AS_INACCESSIBLE nor AS_UNMOVABLE";
	if ((needs & NEEDS_UFFD_WP_MARKER) && !(feat & PTMARK_FEAT_UFFD_WP_MARKER))
		return "uffd-wp marker cases: kernel lacks uffd-wp PTE markers";
	return NULL;
}

/* ---- processes ---------------------------------------------------------- */

int pidfd_of_zombie(pid_t *pid)
{
	siginfo_t info;
	int pidfd, err;

	*pid = fork();
	if (*pid < 0)
		return -1;
	if (!*pid)
		_exit(0);
	pidfd = pidfd_of(*pid);
	err = errno;
	/* Wait for the exit but leave the zombie. */
	if (waitid(P_PID, *pid, &info, WEXITED | WNOWAIT) && pidfd >= 0) {
		err = errno;
		close(pidfd);
		pidfd = -1;
	}
	errno = err;
	return pidfd;
}

int become_nobody(void)
{
	if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
		return -errno;
	return 0;
}

int pidfd_of(pid_t pid)
{
	return syscall(SYS_pidfd_open, pid, 0);
}

int drop_capability(int cap)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];
	unsigned int word = cap / 32;
	__u32 bit = 1U << (cap % 32);

	if (syscall(__NR_capget, &hdr, data))
		return -errno;
	data[word].effective &= ~bit;
	data[word].permitted &= ~bit;
	data[word].inheritable &= ~bit;
	return syscall(__NR_capset, &hdr, data) ? -errno : 0;
}

int process_madvise_range(int pidfd, void *addr, size_t len, int advice)
{
	struct iovec iov = { .iov_base = addr, .iov_len = len };
	ssize_t done = syscall(SYS_process_madvise, pidfd, &iov, 1, advice, 0);

	if (done < 0)
		return -errno;
	return (size_t)done == len ? 0 : -EIO;
}

/* ---- userfaultfd -------------------------------------------------------- */

static int uffd_fd(int mode)
{
	int fd, dev, err;

	fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK | mode);
	if (fd >= 0)
		return fd;
	err = errno;
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -err;
	/* The device's contexts handle kernel-mode faults as well. */
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	err = errno;
	close(dev);
	return fd < 0 ? -err : fd;
}

int uffd_new_fd(void)
{
	return uffd_fd(UFFD_USER_MODE_ONLY);
}

static int uffd_api(int fd, __u64 features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int err;

	if (fd < 0)
		return fd;
	if (ioctl(fd, UFFDIO_API, &api)) {
		/* Features the kernel does not know are EINVAL. */
		err = errno == EINVAL ? EOPNOTSUPP : errno;
		close(fd);
		return -err;
	}
	if ((api.features & features) != features) {
		close(fd);
		return -EOPNOTSUPP;
	}
	return fd;
}

int uffd_open(__u64 features)
{
	return uffd_api(uffd_new_fd(), features);
}

int uffd_open_kernel_faults(__u64 features)
{
	return uffd_api(uffd_fd(0), features);
}

int uffd_register_ioctls(int uffd, const void *addr, size_t len, __u64 mode,
			 __u64 *ioctls)
{
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = mode,
	};

	*ioctls = 0;
	if (ioctl(uffd, UFFDIO_REGISTER, &reg))
		return -errno;
	*ioctls = reg.ioctls;
	return 0;
}

int uffd_register(int uffd, const void *addr, size_t len, __u64 mode)
{
	__u64 ioctls;

	return uffd_register_ioctls(uffd, addr, len, mode, &ioctls);
}

int uffd_writeprotect(int uffd, const void *addr, size_t len, __u64 mode)
{
	struct uffdio_writeprotect wp = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = mode,
	};

	return ioctl(uffd, UFFDIO_WRITEPROTECT, &wp) ? -errno : 0;
}

const struct uffd_fill_op uffd_fills[NR_UFFD_FILLS] = {
	[FILL_COPY] = { "UFFDIO_COPY", _UFFDIO_COPY },
	[FILL_ZEROPAGE] = { "UFFDIO_ZEROPAGE", _UFFDIO_ZEROPAGE },
	[FILL_POISON] = { "UFFDIO_POISON", _UFFDIO_POISON },
	[FILL_MOVE] = { "UFFDIO_MOVE", _UFFDIO_MOVE },
	[FILL_CONTINUE] = { "UFFDIO_CONTINUE", _UFFDIO_CONTINUE },
};

int uffd_fill(int uffd, enum uffd_fill how, void *dst, const void *src,
	      size_t len, bool wp, long long *progress)
{
	struct uffdio_range range = { .start = (uintptr_t)dst, .len = len };
	union {
		struct uffdio_copy copy;
		struct uffdio_zeropage zero;
		struct uffdio_poison poison;
		struct uffdio_move move;
		struct uffdio_continue cont;
	} arg;
	int ret = -1;

	memset(&arg, 0, sizeof(arg));
	errno = EINVAL;
	*progress = 0;
	switch (how) {
	case FILL_COPY:
		arg.copy.dst = range.start;
		arg.copy.src = (uintptr_t)src;
		arg.copy.len = len;
		arg.copy.mode = wp ? UFFDIO_COPY_MODE_WP : 0;
		ret = ioctl(uffd, UFFDIO_COPY, &arg.copy);
		*progress = arg.copy.copy;
		break;
	case FILL_ZEROPAGE:
		arg.zero.range = range;
		ret = ioctl(uffd, UFFDIO_ZEROPAGE, &arg.zero);
		*progress = arg.zero.zeropage;
		break;
	case FILL_POISON:
		arg.poison.range = range;
		ret = ioctl(uffd, UFFDIO_POISON, &arg.poison);
		*progress = arg.poison.updated;
		break;
	case FILL_MOVE:
		arg.move.dst = range.start;
		arg.move.src = (uintptr_t)src;
		arg.move.len = len;
		ret = ioctl(uffd, UFFDIO_MOVE, &arg.move);
		*progress = arg.move.move;
		break;
	case FILL_CONTINUE:
		arg.cont.range = range;
		arg.cont.mode = wp ? UFFDIO_CONTINUE_MODE_WP : 0;
		ret = ioctl(uffd, UFFDIO_CONTINUE, &arg.cont);
		*progress = arg.cont.mapped;
		break;
	default:
		break;
	}
	return ret ? -errno : 0;
}

int uffd_rwprotect(int uffd, const void *addr, size_t len, __u64 mode)
{
	struct uffdio_rwprotect rwp = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = mode,
	};

	return ioctl(uffd, UFFDIO_RWPROTECT, &rwp) ? -errno : 0;
}

int uffd_set_mode(int uffd, __u64 enable, __u64 disable)
{
	struct uffdio_set_mode m = { .enable = enable, .disable = disable };

	return ioctl(uffd, UFFDIO_SET_MODE, &m) ? -errno : 0;
}

int uffd_read_msg(int uffd, int timeout_ms, struct uffd_msg *msg)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };
	int ret = poll(&pfd, 1, timeout_ms);

	if (ret <= 0)
		return ret ? -errno : 0;
	if (read(uffd, msg, sizeof(*msg)) != sizeof(*msg))
		return errno == EAGAIN ? 0 : -EIO;
	return 1;
}

const char *uffd_msg_text(const struct uffd_msg *msg, char *buf, size_t len)
{
	if (msg->event == UFFD_EVENT_PAGEFAULT)
		snprintf(buf, len, "pagefault at %#llx flags %#llx tid %u",
			 (unsigned long long)msg->arg.pagefault.address,
			 (unsigned long long)msg->arg.pagefault.flags,
			 msg->arg.pagefault.feat.ptid);
	else
		snprintf(buf, len, "event %#x", msg->event);
	return buf;
}

static void *uffd_event_reader_main(void *arg)
{
	struct uffd_event_reader *r = arg;

	r->got = uffd_read_msg(r->uffd, r->timeout_ms, &r->msg) == 1;
	return NULL;
}

int uffd_event_reader_start(struct uffd_event_reader *r, int uffd,
			    int timeout_ms)
{
	r->uffd = uffd;
	r->timeout_ms = timeout_ms;
	r->got = false;
	return pthread_create(&r->thread, NULL, uffd_event_reader_main, r);
}

/* The features UFFDIO_API offers into *features: 0, or -errno. */
static int uffd_available(__u64 *features)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd = uffd_new_fd();
	int ret = 0;

	*features = 0;
	if (fd < 0)
		return fd;
	if (ioctl(fd, UFFDIO_API, &api))
		ret = -errno;
	else
		*features = api.features;
	close(fd);
	return ret;
}

/* ---- fault injection ---------------------------------------------------- */

#define FAIL_PAGE_ALLOC_DIR	"/sys/kernel/debug/fail_page_alloc"

/* Write @value to the fail_page_alloc attribute @attr: 0 or -errno. */
static int fail_attr(const char *attr, const char *value)
{
	char path[128];

	snprintf(path, sizeof(path), FAIL_PAGE_ALLOC_DIR "/%s", attr);
	return write_text_file(path, value);
}

/*
 * Say in the kernel log that this thread's allocation failures are
 * wanted now, or no longer, for whoever reads the log next to a report.
 */
static int fail_page_alloc_note(bool arm)
{
	char line[64];

	snprintf(line, sizeof(line), "ptmark: fail_page_alloc %s for %d\n",
		 arm ? "armed" : "disarmed", gettid());
	return write_text_file("/dev/kmsg", line);
}

int ptmark_kmsg_watch(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	int err;

	if (fd < 0)
		return -errno;
	err = lseek(fd, 0, SEEK_END) < 0 ? -errno :
	      write_text_file("/sys/kernel/debug/clear_warn_once", "1\n");
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

bool ptmark_kmsg_saw(int fd, const char *const *needles)
{
	unsigned long seen = 0, all = 0;
	char rec[8192];
	ssize_t n;
	size_t i;

	for (i = 0; needles[i]; i++)
		all |= 1ul << i;

	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		/* EPIPE: records were overwritten; the next read goes on. */
		if (n < 0 && errno == EPIPE)
			continue;
		if (n <= 0)
			break;
		rec[n] = '\0';
		for (i = 0; needles[i]; i++)
			if (strstr(rec, needles[i]))
				seen |= 1ul << i;
	}
	return all && seen == all;
}

size_t ptmark_guarded_stack_pages(size_t pages)
{
	long min = sysconf(_SC_THREAD_STACK_MIN);
	size_t ps = sysconf(_SC_PAGESIZE);

	if (min > 0 && pages < 1 + (min + ps - 1) / ps)
		pages = 1 + (min + ps - 1) / ps;
	return pages;
}

int ptmark_fail_page_alloc(bool arm)
{
	static const char *const armed[][2] = {
		{ "task-filter", "Y" },	/* tasks with make-it-fail only */
		{ "ignore-gfp-wait", "N" },
		{ "ignore-gfp-highmem", "N" },
		{ "min-order", "0" },
		{ "verbose", "0" },
		{ "space", "0" },
		{ "interval", "1" },
		{ "times", "-1" },
		{ "probability", "100" },
	};
	size_t i;
	int err;

	if (access(FAIL_PAGE_ALLOC_DIR, F_OK))
		return -ENOENT;
	if (!arm) {
		err = write_text_file("/proc/thread-self/make-it-fail", "0");
		err = fail_attr("probability", "0") ?: err;
		return fail_page_alloc_note(false) ?: err;
	}
	err = fail_page_alloc_note(true);
	for (i = 0; !err && i < ARRAY_SIZE(armed); i++)
		err = fail_attr(armed[i][0], armed[i][1]);
	return err ?: write_text_file("/proc/thread-self/make-it-fail", "1");
}

/* ---- NUMA --------------------------------------------------------------- */

const char *ptmark_no_numa_migration(void)
{
	if (numa_available() < 0)
		return "no NUMA";
	if (move_pages(0, 0, NULL, NULL, NULL, 0) && errno == ENOSYS)
		return "no move_pages(2) (CONFIG_NUMA_MIGRATION off)";
	if (numa_max_node() < 1 || numa_node_size64(0, NULL) <= 0 ||
	    numa_node_size64(1, NULL) <= 0)
		return "needs NUMA nodes 0 and 1 with memory";
	return NULL;
}

/* ---- a thread doing one store ------------------------------------------ */

static void *writer_main(void *arg)
{
	struct writer *w = arg;

	atomic_store(&w->tid, gettid());
	*w->addr = w->value;
	atomic_store(&w->done, true);
	return NULL;
}

int writer_start(struct writer *w, char *addr, char value)
{
	w->addr = addr;
	w->value = value;
	atomic_store(&w->tid, 0);
	atomic_store(&w->done, false);
	return pthread_create(&w->thread, NULL, writer_main, w);
}

bool writer_done_within(struct writer *w, int ms)
{
	int i;

	for (i = 0; i < ms && !atomic_load(&w->done); i++)
		usleep(1000);
	return atomic_load(&w->done);
}

/* ---- io_uring ----------------------------------------------------------- */

int uring_submit_one(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	int ret;

	ret = io_uring_submit_and_wait(ring, 1);
	if (ret < 0)
		return ret;
	ret = io_uring_wait_cqe(ring, &cqe);
	if (ret < 0)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return ret;
}

/* ---- touching memory that may fault ------------------------------------- */

/* Per thread, so that concurrent threads each catch their own faults. */
__thread struct probe_fault last_fault;
static __thread sigjmp_buf probe_env;
static __thread volatile sig_atomic_t probe_armed;

/* "ptmark: unexpected signal S code C at 0xADDR\n", async-signal-safe. */
static void probe_report_unexpected(int signo, const siginfo_t *info)
{
	static const char hex[] = "0123456789abcdef";
	char buf[96] = "# ptmark: unexpected signal ", *p;
	uintptr_t addr = (uintptr_t)info->si_addr;
	int shift;

	p = buf + strlen(buf);
	*p++ = '0' + signo / 10;
	*p++ = '0' + signo % 10;
	memcpy(p, " code ", 6);
	p += 6;
	*p++ = '0' + (info->si_code & 0xf);
	memcpy(p, " at 0x", 6);
	p += 6;
	for (shift = 60; shift >= 0; shift -= 4)
		*p++ = hex[(addr >> shift) & 0xf];
	*p++ = '\n';
	if (write(2, buf, p - buf) < 0)
		return;
}

static void probe_handler(int signo, siginfo_t *info, void *uctx)
{
	if (!probe_armed) {
		/* Not a probe's: say where, then die of it as we would have. */
		probe_report_unexpected(signo, info);
		signal(signo, SIG_DFL);
		return;
	}
	probe_armed = 0;
	last_fault.signo = signo;
	last_fault.code = info->si_code;
	last_fault.addr = info->si_addr;
	siglongjmp(probe_env, 1);
}

int probe_handlers_install(void)
{
	struct sigaction sa = {
		.sa_sigaction = probe_handler,
		.sa_flags = SA_SIGINFO | SA_ONSTACK,
	};

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSEGV, &sa, NULL) || sigaction(SIGBUS, &sa, NULL))
		return -errno;
	return 0;
}

int probe_call(void (*fn)(void *arg), void *arg)
{
	memset(&last_fault, 0, sizeof(last_fault));
	if (sigsetjmp(probe_env, 1))
		return last_fault.signo;
	probe_armed = 1;
	fn(arg);
	probe_armed = 0;
	return 0;
}

struct probe_access {
	volatile char *p;
	char *val;
};

static void read_byte(void *arg)
{
	struct probe_access *a = arg;

	*a->val = *a->p;
}

static void write_byte(void *arg)
{
	struct probe_access *a = arg;

	*a->p = *a->val;
}

int probe_read(const volatile char *p, char *val)
{
	struct probe_access a = { .p = (volatile char *)p, .val = val };

	return probe_call(read_byte, &a);
}

int probe_write(volatile char *p, char val)
{
	struct probe_access a = { .p = p, .val = &val };

	return probe_call(write_byte, &a);
}

bool probe_hit_guard(const void *p)
{
	return last_fault.signo == SIGSEGV && last_fault.code == SEGV_MAPERR &&
	       last_fault.addr == p;
}

/* ---- what the kernel offers --------------------------------------------- */

/* Does PAGEMAP_SCAN put the page at @p in @category? */
static bool pagemap_scan_page_is(const void *p, __u64 category)
{
	struct page_region region;
	struct pm_scan_arg scan = {
		.size = sizeof(scan),
		.start = (uintptr_t)p,
		.end = (uintptr_t)p + sysconf(_SC_PAGESIZE),
		.vec = (uintptr_t)&region,
		.vec_len = 1,
		.category_anyof_mask = category,
		.return_mask = category,
	};

	return pagemap_scan_self(&scan) == 1 && (region.categories & category);
}

/* MADV_GUARD_INSTALL on a one-page mapping of @fd (-1: anonymous). */
static int probe_guard_install(int fd, bool *pm_bit, bool *scan_cat)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t entry;
	char *p;
	int ret;

	p = mmap(NULL, page, PROT_READ | PROT_WRITE,
		 fd < 0 ? MAP_PRIVATE | MAP_ANONYMOUS : MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	ret = madvise(p, page, MADV_GUARD_INSTALL) ? -errno : 0;
	if (!ret && pm_bit) {
		*pm_bit = !pagemap_read(p, 1, &entry) &&
			  (entry & PM_GUARD_REGION);
		*scan_cat = pagemap_scan_page_is(p, PAGE_IS_GUARD);
	}
	munmap(p, page);
	return ret;
}

/* A new anonymous page, written once; NULL if it cannot be mapped. */
static char *written_anon_page(void)
{
	char *p = mmap(NULL, sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	p[0] = 1;
	return p;
}

/* Does PAGEMAP_SCAN report a page we wrote present? */
static bool probe_pagemap_scan(void)
{
	char *p = written_anon_page();
	bool ok;

	if (!p)
		return false;
	ok = pagemap_scan_page_is(p, PAGE_IS_PRESENT);
	munmap(p, sysconf(_SC_PAGESIZE));
	return ok;
}

/*
 * A new anonymous page is soft-dirty (and so is its new VMA) exactly when
 * the kernel tracks soft-dirty bits at all.
 */
static bool probe_soft_dirty(void)
{
	char *p = written_anon_page();
	uint64_t entry;
	bool dirty;

	if (!p)
		return false;
	dirty = !pagemap_read(p, 1, &entry) && (entry & PM_SOFT_DIRTY);
	munmap(p, sysconf(_SC_PAGESIZE));
	return dirty;
}

int kernel_version(void)
{
	struct utsname uts;
	int major, minor;

	if (uname(&uts) || sscanf(uts.release, "%d.%d", &major, &minor) != 2)
		return 0;
	return KERNEL_VERSION(major, minor);
}

bool kernel_ro_longterm_pin_unshares(void)
{
	return kernel_version() >= KERNEL_VERSION(6, 2);
}

bool kernel_gup_refuses_longterm_file_writes(void)
{
	return kernel_version() >= KERNEL_VERSION(6, 5);
}

bool kernel_walks_pfnmaps_by_folio(void)
{
	return kernel_version() >= KERNEL_VERSION(6, 12);
}

bool kernel_page_walks_read_pfnmaps(void)
{
	return kernel_version() >= KERNEL_VERSION(6, 2);
}

int kernel_mincore_of_pfnmap(void)
{
	int v = kernel_version();

	return v >= KERNEL_VERSION(7, 0) ? 1 : v <= KERNEL_VERSION(6, 12) ? 0 : -1;
}

void probe_kernel(struct kernel_probe *k)
{
	long page = sysconf(_SC_PAGESIZE);
	int fd;

	memset(k, 0, sizeof(*k));
	k->guard = probe_guard_install(-1, &k->pagemap_guard, &k->scan_guard);
	fd = memfd_create("ptmark-probe", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, page))
		k->guard_file = -errno;
	else
		k->guard_file = probe_guard_install(fd, NULL, NULL);
	if (fd >= 0)
		close(fd);
	k->pagemap_scan = probe_pagemap_scan();
	k->soft_dirty = probe_soft_dirty();
	k->uffd = uffd_available(&k->uffd_features);
	k->thp = access("/sys/kernel/mm/transparent_hugepage", F_OK) == 0;
	fd = memfd_create("ptmark-probe", MFD_CLOEXEC | MFD_HUGETLB);
	k->hugetlb = fd >= 0;
	if (fd >= 0)
		close(fd);
}

/* One thing userspace saw that a PTMARK_FEAT_* bit promises. */
struct observation {
	__u64 feature;
	const char *what;
	bool seen;
};

int probe_disagreements(const struct kernel_probe *k, char *why, size_t len)
{
	/* No userfaultfd at all (ENOSYS) says no; EPERM would say nothing. */
	bool uffd_told = !k->uffd || k->uffd == -ENOSYS;
	const struct observation seen[] = {
		{ PTMARK_FEAT_GUARD, "MADV_GUARD_INSTALL on anonymous memory",
		  !k->guard },
		{ PTMARK_FEAT_GUARD_FILE, "MADV_GUARD_INSTALL on a memfd",
		  !k->guard_file },
		{ PTMARK_FEAT_PAGEMAP_GUARD, "pagemap PM_GUARD_REGION",
		  k->pagemap_guard },
		{ PTMARK_FEAT_PAGEMAP_GUARD, "PAGEMAP_SCAN PAGE_IS_GUARD",
		  k->scan_guard },
		{ PTMARK_FEAT_PAGEMAP_SCAN, "PAGEMAP_SCAN", k->pagemap_scan },
		{ PTMARK_FEAT_SOFT_DIRTY, "pagemap PM_SOFT_DIRTY",
		  k->soft_dirty },
		{ PTMARK_FEAT_UFFD_WP, "UFFD_FEATURE_PAGEFAULT_FLAG_WP",
		  k->uffd_features & UFFD_FEATURE_PAGEFAULT_FLAG_WP },
		{ PTMARK_FEAT_UFFD_WP_MARKER, "UFFD_FEATURE_WP_HUGETLBFS_SHMEM",
		  k->uffd_features & UFFD_FEATURE_WP_HUGETLBFS_SHMEM },
		{ PTMARK_FEAT_UFFD_RWP, "UFFD_FEATURE_RWP",
		  k->uffd_features & UFFD_FEATURE_RWP },
		{ PTMARK_FEAT_THP, "/sys/kernel/mm/transparent_hugepage",
		  k->thp },
		{ PTMARK_FEAT_HUGETLB, "MFD_HUGETLB memfd", k->hugetlb },
	};
	struct ptmark_info info;
	size_t i, used = 0;
	int fd, ret, bad = 0;

	fd = ptmark_open();
	if (fd < 0)
		return -ENODEV;
	ret = ptmark_get_info(fd, &info);
	close(fd);
	if (ret) {
		snprintf(why, len, "PTMARK_IOC_INFO: %s", strerror(-ret));
		return 1;
	}
	why[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(seen); i++) {
		bool module = info.features & seen[i].feature;

		if (!uffd_told && (seen[i].feature == PTMARK_FEAT_UFFD_WP ||
				   seen[i].feature == PTMARK_FEAT_UFFD_WP_MARKER ||
				   seen[i].feature == PTMARK_FEAT_UFFD_RWP))
			continue;
		if (module == seen[i].seen)
			continue;
		bad++;
		if (used < len)
			used += snprintf(why + used, len - used,
					 "%s%s: module %s, %s %s", bad > 1 ? "; " : "",
					 feature_name(seen[i].feature),
					 module ? "yes" : "no", seen[i].what,
					 seen[i].seen ? "yes" : "no");
	}
	return bad;
}

void tap_reason_clean(char *reason)
{
	for (; *reason; reason++)
		if (*reason == '#' || *reason == '\n' || *reason == '\r')
			*reason = ' ';
}

/* ---- anonymous mTHP and khugepaged ------------------------------------- */

static void thp_size_path(size_t size, char *path, size_t len)
{
	snprintf(path, len,
		 "/sys/kernel/mm/transparent_hugepage/hugepages-%zukB/enabled",
		 size >> 10);
}

int ptmark_thp_size_set(size_t size, const char *mode, char *saved,
			size_t len)
{
	char path[96], *text, *choice;
	int ret = 0;

	thp_size_path(size, path, sizeof(path));
	text = read_text_file(path);
	if (!text)
		return -errno;
	choice = sysfs_choice(text);
	if (!choice || strlen(choice) >= len)
		ret = -EIO;
	else
		snprintf(saved, len, "%s", choice);
	free(text);
	return ret ?: write_text_file(path, mode);
}

int ptmark_thp_size_restore(size_t size, const char *saved)
{
	char path[96];

	thp_size_path(size, path, sizeof(path));
	return write_text_file(path, saved);
}

#define KHUGEPAGED_DIR	"/sys/kernel/mm/transparent_hugepage/khugepaged/"

static struct khugepaged_knob {
	const char *name;
	char saved[32];
} khugepaged_knobs[] = {
	{ "scan_sleep_millisecs" },
	{ "alloc_sleep_millisecs" },
};

int ptmark_khugepaged_quick(bool restore)
{
	struct khugepaged_knob *k;
	char path[128], *text;
	int ret = 0, err;

	for (k = khugepaged_knobs; k < khugepaged_knobs + ARRAY_SIZE(khugepaged_knobs); k++) {
		snprintf(path, sizeof(path), KHUGEPAGED_DIR "%s", k->name);
		if (restore) {
			err = k->saved[0] ? write_text_file(path, k->saved) : 0;
			ret = ret ?: err;
			k->saved[0] = '\0';
			continue;
		}
		text = read_text_file(path);
		if (!text)
			return -errno;
		snprintf(k->saved, sizeof(k->saved), "%lu", strtoul(text, NULL, 10));
		free(text);
		ret = write_text_file(path, "10");
		if (ret)
			return ret;
	}
	return ret;
}

long long ptmark_khugepaged_full_scans(void)
{
	char *text = read_text_file(KHUGEPAGED_DIR "full_scans");
	long long n = text ? atoll(text) : -1;

	free(text);
	return n;
}

/* ---- protection across splits and collapses of large folios ----------- */

/* The part a case splits off: pages [LP_FIRST, LP_FIRST + LP_PART). */
#define LP_FIRST		100
#define LP_PART			40
/* How long an access, a message or a reclaim may take (TCG is slow). */
#define LP_WAIT_MS		2000
/* How long khugepaged gets for its passes and its collapse. */
#define LP_KHUGEPAGED_MS	60000

static int __attribute__((format(printf, 3, 4)))
lp_say(struct ptmark_lp *lp, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(lp->why, sizeof(lp->why), fmt, ap);
	va_end(ap);
	return ret;
}

/* A page's state (see ptmark_lib.h) from its scan record. */
static char lp_state(const struct ptmark_lp *lp, const struct ptmark_record *r)
{
	__u32 prot = r->bits & (PTMARK_BIT_UFFD_WP | PTMARK_BIT_UFFD_RWP |
				PTMARK_BIT_PROTNONE | PTMARK_BIT_NUMA_HINT);
	__u32 mine = lp->mode == PTMARK_PROT_WP ? PTMARK_BIT_UFFD_WP :
			PTMARK_BIT_UFFD_RWP | PTMARK_BIT_PROTNONE;
	__u32 swp = lp->mode == PTMARK_PROT_WP ? PTMARK_BIT_UFFD_WP :
			PTMARK_BIT_UFFD_RWP;

	switch (r->kind) {
	case PTMARK_KIND_UNMAPPED:
		return '-';
	case PTMARK_KIND_NONE:
		return 'N';
	case PTMARK_KIND_PRESENT:
		if (!(r->bits & PTMARK_BIT_ANON))
			return '?';
		if (prot == mine)
			return lp->mode == PTMARK_PROT_WP &&
			       (r->bits & PTMARK_BIT_WRITE) ? 'V' : 'P';
		return prot ? '?' : 'u';
	case PTMARK_KIND_SWAP:
		if (prot & ~swp)
			return '?';
		return prot ? 'S' : 's';
	case PTMARK_KIND_MIGRATION:
		return 'M';
	default:
		return '?';
	}
}

/* @states (one a page) as runs, "P100 u40 P372", into @out. */
static const char *lp_runs(const char *states, size_t n, char *out,
			   size_t len)
{
	size_t i, run, used = 0;

	out[0] = '\0';
	for (i = 0; i < n && used < len; i += run) {
		for (run = 1; i + run < n && states[i + run] == states[i]; run++)
			;
		used += snprintf(out + used, len - used, "%s%c%zu",
				 i ? " " : "", states[i], run);
	}
	return out;
}

static void lp_set(struct ptmark_lp *lp, size_t first, size_t n, char state)
{
	size_t i;

	for (i = first; i < first + n; i++)
		lp->pg[i].state = state;
}

static void lp_set_pmd(struct ptmark_lp *lp, int pmd)
{
	size_t i;

	for (i = 0; i < lp->nr; i++)
		lp->pg[i].pmd = pmd;
}

/*
 * Every page (of the process lp->pidfd names, -1 ours) is what lp->pg
 * says, by the scan: its state, and for a present page whether a PMD maps
 * it.  0, or -1 naming the first page that is not, with both pictures.
 */
static int lp_check(struct ptmark_lp *lp, const char *when)
{
	char *want = calloc(lp->nr + 1, 1), *seen = calloc(lp->nr + 1, 1);
	char wruns[256], sruns[256];
	struct ptmark_record rec, bad_rec = { 0 };
	size_t i, bad = lp->nr;
	int err = 0;

	if (!want || !seen) {
		free(want);
		free(seen);
		return lp_say(lp, -1, "%s: no memory", when);
	}
	for (i = 0; i < lp->nr; i++) {
		const struct ptmark_lp_page *pg = &lp->pg[i];
		bool pmd;

		err = ptmark_scan_dense_of(lp->ptmark, lp->pidfd, pg->addr, 1,
					   &rec);
		if (err)
			break;
		want[i] = pg->state;
		seen[i] = lp_state(lp, &rec);
		pmd = rec.bits & PTMARK_BIT_PMD;
		if (bad == lp->nr &&
		    (seen[i] != want[i] ||
		     (strchr("Pu", want[i]) && pg->pmd >= 0 && pmd != pg->pmd))) {
			bad = i;
			bad_rec = rec;
		}
	}
	if (err)
		lp_say(lp, -1, "%s: scan of page %zu: %s", when, i, strerror(-err));
	else if (bad < lp->nr)
		lp_say(lp, -1, "%s: page %zu wants %c%s, the scan shows %c%s (kind %u bits %#x); want %s; scan %s",
		       when, bad, want[bad],
		       lp->pg[bad].pmd > 0 ? " PMD-mapped" :
		       lp->pg[bad].pmd == 0 ? " PTE-mapped" : "", seen[bad],
		       bad_rec.bits & PTMARK_BIT_PMD ? " PMD-mapped" : "",
		       bad_rec.kind, bad_rec.bits,
		       lp_runs(want, lp->nr, wruns, sizeof(wruns)),
		       lp_runs(seen, lp->nr, sruns, sizeof(sruns)));
	free(want);
	free(seen);
	return err || bad < lp->nr ? -1 : 0;
}

/* (Un)protect pages [first, first + n), mapped contiguously, in lp->mode. */
static int lp_protect(struct ptmark_lp *lp, size_t first, size_t n, bool on)
{
	size_t len = n * lp->psize, i;
	int err;

	if (lp->mode == PTMARK_PROT_WP)
		err = uffd_writeprotect(lp->uffd, lp->pg[first].addr, len,
					on ? UFFDIO_WRITEPROTECT_MODE_WP : 0);
	else
		err = uffd_rwprotect(lp->uffd, lp->pg[first].addr, len,
				     on ? UFFDIO_RWPROTECT_MODE_RWP : 0);
	if (err)
		return lp_say(lp, -1, "%s pages %zu-%zu: %s",
			      on ? "protecting" : "unprotecting", first,
			      first + n - 1, strerror(-err));
	for (i = first; i < first + n; i++) {
		char *st = &lp->pg[i].state;

		if (*st == 'u' || *st == 'P')
			*st = on ? 'P' : 'u';
		else if (*st == 's' || *st == 'S')
			*st = on ? 'S' : 's';
	}
	return 0;
}

/* lp_protect() and lp_check() after it. */
static int lp_protect_check(struct ptmark_lp *lp, size_t first, size_t n,
			    bool on, const char *when)
{
	return lp_protect(lp, first, n, on) ?: lp_check(lp, when);
}

/*
 * The access sweep: its sweeper, a thread of ours or a forked child
 * (lp->child), reads, then writes, one byte of every mapped page in turn,
 * and then looks at the rest of each page.  Shared memory, which the
 * child of a fork sees as the parent does.
 */
struct lp_sweep_page {
	char *addr;
	unsigned char data;	/* what it must hold */
	unsigned char seen;	/* what the read saw */
	bool skip;		/* no VMA: not accessed */
	bool intact;		/* every byte but the one written still data */
};

struct ptmark_lp_sweep {
	size_t nr, psize, off;	/* pages, a page; the byte of each accessed */
	atomic_long at;		/* the page being accessed */
	atomic_int tid;		/* the sweeper's */
	atomic_bool done;
	struct lp_sweep_page pg[];
};

static size_t lp_sweep_size(size_t nr)
{
	return sizeof(struct ptmark_lp_sweep) + nr * sizeof(struct lp_sweep_page);
}

/* Does every byte of page @i hold its data, but the sweep's at s->off? */
static bool lp_page_intact(const struct ptmark_lp_sweep *s, size_t i)
{
	const unsigned char *p = (unsigned char *)s->pg[i].addr;
	unsigned char d = s->pg[i].data;
	size_t k;

	for (k = 0; k < s->psize; k++)
		if (p[k] != (k == s->off ? (unsigned char)~d : d))
			return false;
	return true;
}

static void *lp_sweep_main(void *arg)
{
	struct ptmark_lp_sweep *s = arg;
	volatile unsigned char *p;
	size_t i;

	atomic_store(&s->tid, gettid());
	for (i = 0; i < s->nr; i++) {
		if (s->pg[i].skip)
			continue;
		p = (volatile unsigned char *)s->pg[i].addr + s->off;
		atomic_store(&s->at, i);
		s->pg[i].seen = *p;
		*p = (unsigned char)~s->pg[i].data;
	}
	for (i = 0; i < s->nr; i++)
		s->pg[i].intact = s->pg[i].skip || lp_page_intact(s, i);
	atomic_store(&s->done, true);
	return NULL;
}

/*
 * A forked child's life: a sweep for each request, answered 's', until
 * the pipe closes.  Its writes leave it every page a copy of its own,
 * which khugepaged would be free to collapse into a THP of the child's
 * own under the checks of its pages: it is kept off them (answered 'x'
 * where that fails).
 */
static void lp_child_serve(void *arg, int cmd, int ack)
{
	bool thp_off = !prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	char c;

	while (read(cmd, &c, 1) == 1) {
		if (thp_off)
			lp_sweep_main(arg);
		c = thp_off ? 's' : 'x';
		if (write(ack, &c, 1) != 1)
			break;
	}
	_exit(0);
}

/* Start the sweeper: 0 or -1. */
static int lp_sweep_start(struct ptmark_lp *lp, pthread_t *thread)
{
	if (lp->child)
		return write(lp->child->cmd, "s", 1) == 1 ? 0 : -1;
	return pthread_create(thread, NULL, lp_sweep_main, lp->sweep) ? -1 : 0;
}

/* Wait for the sweeper to end: 0, or -1 when the child does not say so. */
static int lp_sweep_wait(struct ptmark_lp *lp, pthread_t thread)
{
	struct pollfd pfd;
	char c;

	if (!lp->child)
		return pthread_join(thread, NULL) ? -1 : 0;
	pfd.fd = lp->child->ack;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 5 * LP_WAIT_MS) != 1 ||
	    read(lp->child->ack, &c, 1) != 1 || c != 's')
		return -1;
	return 0;
}

/*
 * The behaviour of every page: the sweeper (a thread, or lp->child) reads
 * and then writes each in turn.  Each protected page ('P', 'S') must stop
 * it with exactly one fault message of the mode (WP: the write, flags
 * WP|WRITE; RWP: the read, flags RWP), for that page and thread, which is
 * resolved by unprotecting the page; no other page may raise one.  Every
 * read sees the page's data, every write lands, and the rest of each page
 * is kept.
 */
static int lp_sweep(struct ptmark_lp *lp, const char *when)
{
	__u64 flags = lp->mode == PTMARK_PROT_WP ?
		      UFFD_PAGEFAULT_FLAG_WP | UFFD_PAGEFAULT_FLAG_WRITE :
		      UFFD_PAGEFAULT_FLAG_RWP;
	struct ptmark_lp_sweep *s = lp->sweep;
	char *before = calloc(lp->nr, 1);
	bool *trapped = calloc(lp->nr, sizeof(*trapped));
	const char *who = lp->child ? "the child's" : "the";
	struct uffd_msg msg;
	pthread_t thread;
	size_t i, traps = 0;
	int ret = 0, r;
	long at;

	if (!before || !trapped) {
		ret = lp_say(lp, -1, "%s: no memory", when);
		goto out;
	}
	s->nr = lp->nr;
	s->psize = lp->psize;
	s->off = lp->psize / 2 + 5;
	for (i = 0; i < lp->nr; i++) {
		before[i] = lp->pg[i].state;
		s->pg[i].addr = lp->pg[i].addr;
		s->pg[i].data = lp->pg[i].data;
		s->pg[i].seen = 0;
		s->pg[i].skip = before[i] == '-';
		s->pg[i].intact = false;
	}
	atomic_store(&s->at, -1);
	atomic_store(&s->tid, 0);
	atomic_store(&s->done, false);
	if (lp_sweep_start(lp, &thread)) {
		ret = lp_say(lp, -1, "%s: starting %s sweep failed", when,
			     lp->child ? "the child's" : "a thread's");
		goto out;
	}
	for (;;) {
		r = uffd_read_msg(lp->uffd, LP_WAIT_MS, &msg);
		at = atomic_load(&s->at);
		if (r < 0) {
			ret = lp_say(lp, -1, "%s: reading the userfaultfd: %s",
				     when, strerror(-r));
			break;
		}
		if (r == 0) {
			if (atomic_load(&s->done))
				break;
			ret = lp_say(lp, -1, "%s: %s access of page %ld ('%c') blocks with no message",
				     when, who, at, at >= 0 ? before[at] : '?');
			break;
		}
		if (at < 0 || msg.event != UFFD_EVENT_PAGEFAULT ||
		    msg.arg.pagefault.flags != flags ||
		    (msg.arg.pagefault.address & ~(__u64)(lp->psize - 1)) !=
		    (uintptr_t)lp->pg[at].addr ||
		    (int)msg.arg.pagefault.feat.ptid != atomic_load(&s->tid)) {
			ret = lp_say(lp, -1, "%s: at page %ld: event %#x address %#llx flags %#llx tid %u, wanted a fault at %p flags %#llx tid %d",
				     when, at, msg.event,
				     (unsigned long long)msg.arg.pagefault.address,
				     (unsigned long long)msg.arg.pagefault.flags,
				     msg.arg.pagefault.feat.ptid,
				     at >= 0 ? lp->pg[at].addr : NULL,
				     (unsigned long long)flags,
				     atomic_load(&s->tid));
			break;
		}
		if (!strchr("PS", before[at])) {
			ret = lp_say(lp, -1, "%s: page %ld ('%c') is unprotected, yet %s access trapped",
				     when, at, before[at], who);
			break;
		}
		if (atomic_load(&s->done)) {
			ret = lp_say(lp, -1, "%s: page %ld's access went on before its fault was resolved",
				     when, at);
			break;
		}
		trapped[at] = true;
		traps++;
		ret = lp_protect(lp, at, 1, false);
		if (ret)
			break;
	}
	if (ret) {
		/* Let the sweeper go: unregistering drops all protection. */
		struct uffdio_range range = {
			.start = (uintptr_t)lp->mem, .len = lp->nr * lp->psize,
		};

		ioctl(lp->uffd, UFFDIO_UNREGISTER, &range);
		if (lp->moved != MAP_FAILED) {
			range.start = (uintptr_t)lp->moved;
			range.len = lp->moved_len;
			ioctl(lp->uffd, UFFDIO_UNREGISTER, &range);
		}
	}
	if (lp_sweep_wait(lp, thread) && !ret)
		ret = lp_say(lp, -1, "%s: the child's sweep did not end, or PR_SET_THP_DISABLE failed there",
			     when);
	for (i = 0; !ret && i < lp->nr; i++) {
		if (before[i] == '-')
			continue;
		if (!!strchr("PS", before[i]) != trapped[i])
			ret = lp_say(lp, -1, "%s: page %zu ('%c'): %s access went through unreported: protection lost",
				     when, i, before[i], who);
		else if (s->pg[i].seen != lp->pg[i].data)
			ret = lp_say(lp, -1, "%s: page %zu ('%c') read %#x, not its data %#x",
				     when, i, before[i], s->pg[i].seen,
				     lp->pg[i].data);
		else if (!s->pg[i].intact)
			ret = lp_say(lp, -1, "%s: page %zu ('%c') lost its write or its data",
				     when, i, before[i]);
	}
	if (!ret)
		lp_say(lp, 0, "%s: %zu protected pages trapped", when, traps);
out:
	free(before);
	free(trapped);
	return ret;
}

bool ptmark_mthp_contpte(int fd)
{
	struct ptmark_info info;

	return !ptmark_get_info(fd, &info) &&
	       (info.features & PTMARK_FEAT_CONT_PTE) &&
	       info.page_size * 16 == PTMARK_MTHP_SIZE;
}

/*
 * The folios the backing promised: one PMD leaf over the region, or
 * naturally aligned 64 KiB folios mapped by PTEs, every page present,
 * and, where the kernel maps such a folio with contiguous PTEs (arm64's
 * contpte, ptmark_mthp_contpte()), every page of each with the
 * contiguous bit: each case over anon_mthp starts from contpte blocks
 * there.  Elsewhere that last check is not made.
 */
static int lp_folios(struct ptmark_lp *lp)
{
	struct ptmark_record *recs = calloc(lp->nr, sizeof(*recs));
	bool cont = lp->folio != lp->nr && ptmark_mthp_contpte(lp->ptmark);
	size_t i, head;
	int err;

	if (!recs)
		return lp_say(lp, -1, "no memory");
	err = ptmark_scan_dense(lp->ptmark, lp->mem, lp->nr, recs);
	if (err) {
		free(recs);
		return lp_say(lp, -1, "scan: %s", strerror(-err));
	}
	for (i = 0; i < lp->nr; i++) {
		const struct ptmark_record *r = &recs[i];

		head = i - i % lp->folio;
		if (r->kind != PTMARK_KIND_PRESENT || !(r->bits & PTMARK_BIT_ANON) ||
		    !(r->bits & PTMARK_BIT_LARGE))
			break;
		if (lp->folio == lp->nr ? !(r->bits & PTMARK_BIT_PMD) :
		    (r->bits & PTMARK_BIT_PMD) || recs[head].pfn % lp->folio ||
		    r->pfn != recs[head].pfn + i - head)
			break;
		if (cont && !(r->bits & PTMARK_BIT_CONT))
			break;
	}
	if (i < lp->nr)
		lp_say(lp, -1, "page %zu is in no %s (kind %u bits %#x pfn %#llx, its folio's head %#llx): the backing is not what it says",
		       i, lp->folio == lp->nr ? "PMD-mapped THP" : cont ?
		       "naturally aligned 64 KiB folio mapped by a contpte block" :
		       "naturally aligned 64 KiB folio mapped by PTEs",
		       recs[i].kind, recs[i].bits,
		       (unsigned long long)recs[i].pfn,
		       (unsigned long long)recs[i - i % lp->folio].pfn);
	free(recs);
	return i < lp->nr ? -1 : 0;
}

/*
 * A userfaultfd of its own for the region (in place of any it had), with
 * the features of lp->mode and @extra, registered over it: 0 or -1.
 */
static int lp_open_uffd(struct ptmark_lp *lp, __u64 extra)
{
	__u64 features = UFFD_FEATURE_THREAD_ID | UFFD_FEATURE_EVENT_REMAP |
			 extra;
	int err;

	if (lp->uffd >= 0)
		close(lp->uffd);
	features |= lp->mode == PTMARK_PROT_WP ?
		    UFFD_FEATURE_PAGEFAULT_FLAG_WP : UFFD_FEATURE_RWP;
	lp->uffd = uffd_open(features);
	if (lp->uffd < 0)
		return lp_say(lp, -1, "UFFDIO_API %#llx: %s",
			      (unsigned long long)features, strerror(-lp->uffd));
	err = uffd_register(lp->uffd, lp->mem, lp->nr * lp->psize,
			    lp->mode == PTMARK_PROT_WP ?
			    UFFDIO_REGISTER_MODE_WP : UFFDIO_REGISTER_MODE_RWP);
	if (err)
		return lp_say(lp, -1, "UFFDIO_REGISTER: %s", strerror(-err));
	return 0;
}

int ptmark_lp_setup(struct ptmark_lp *lp, const struct ptmark_backing *b,
		    enum ptmark_prot_mode mode)
{
	size_t len = ptmark_pmd_size(), i;
	int err;

	memset(lp, 0, sizeof(*lp));
	lp->b = b;
	lp->mode = mode;
	lp->uffd = -1;
	lp->pidfd = -1;
	lp->mem = MAP_FAILED;
	lp->moved = MAP_FAILED;
	lp->psize = sysconf(_SC_PAGESIZE);
	lp->nr = len / lp->psize;
	lp->folio = b->caps & PB_MTHP ? PTMARK_MTHP_SIZE / lp->psize : lp->nr;
	lp->ptmark = ptmark_open();
	if (lp->ptmark < 0)
		return lp_say(lp, 1, "ptmark.ko not loaded");
	lp->pg = calloc(lp->nr, sizeof(*lp->pg));
	if (!lp->pg)
		return lp_say(lp, -1, "no memory");
	lp->sweep = mmap(NULL, lp_sweep_size(lp->nr), PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (lp->sweep == MAP_FAILED) {
		lp->sweep = NULL;
		return lp_say(lp, -1, "mmap of the sweep's state: %s",
			      strerror(errno));
	}
	/*
	 * 64 KiB folios, and no PMD where THP is "always" (stock kernels):
	 * khugepaged may collapse the range only when a case lets it.
	 */
	if (b->caps & PB_MTHP) {
		err = ptmark_thp_size_set(PTMARK_MTHP_SIZE, "always",
					  lp->mthp_saved,
					  sizeof(lp->mthp_saved));
		if (err)
			return lp_say(lp, -1, "%s: %s", PTMARK_MTHP_ENABLED,
				      strerror(-err));
		lp->mthp_set = true;
		err = ptmark_thp_size_set(len, "never", lp->pmd_saved,
					  sizeof(lp->pmd_saved));
		if (err)
			return lp_say(lp, -1, "the PMD-sized THP switch: %s",
				      strerror(-err));
		lp->pmd_set = true;
	}
	lp->mem = ptmark_backing_mmap(b, -1, NULL, len, PROT_READ | PROT_WRITE,
				      0, len);
	if (lp->mem == MAP_FAILED)
		return lp_say(lp, -1, "mmap of %s: %s", b->desc, strerror(errno));
	for (i = 0; i < lp->nr; i++) {
		lp->pg[i].addr = lp->mem + i * lp->psize;
		lp->pg[i].state = 'u';
		lp->pg[i].pmd = lp->folio == lp->nr;
		lp->pg[i].data = ptmark_stamp(PTMARK_BY_MEM, i);
		memset(lp->pg[i].addr, lp->pg[i].data, lp->psize);
	}
	if (lp_folios(lp))
		return -1;
	return lp_open_uffd(lp, 0) ?: lp_check(lp, "registered");
}

void ptmark_lp_teardown(struct ptmark_lp *lp)
{
	if (lp->uffd >= 0)
		close(lp->uffd);
	if (lp->mem != MAP_FAILED)
		munmap(lp->mem, lp->nr * lp->psize);
	if (lp->moved != MAP_FAILED)
		munmap(lp->moved, lp->moved_len);
	if (lp->khugepaged_set)
		ptmark_khugepaged_quick(true);
	if (lp->mthp_set)
		ptmark_thp_size_restore(PTMARK_MTHP_SIZE, lp->mthp_saved);
	if (lp->pmd_set)
		ptmark_thp_size_restore(lp->nr * lp->psize, lp->pmd_saved);
	free(lp->pg);
	if (lp->sweep)
		munmap(lp->sweep, lp_sweep_size(lp->nr));
	if (lp->ptmark >= 0)
		close(lp->ptmark);
	/* Nothing left to undo: a second call does nothing. */
	lp->uffd = -1;
	lp->mem = MAP_FAILED;
	lp->moved = MAP_FAILED;
	lp->khugepaged_set = false;
	lp->mthp_set = false;
	lp->pmd_set = false;
	lp->pg = NULL;
	lp->sweep = NULL;
	lp->ptmark = -1;
}

/* A system call's -1: the failure with its errno. */
static int lp_sys(struct ptmark_lp *lp, long ret, const char *what)
{
	return ret == -1 ? lp_say(lp, -1, "%s: %s", what, strerror(errno)) : 0;
}

/*
 * mremap() pages [first, first + n) to a fresh place: the context
 * follows (UFFD_EVENT_REMAP, which the move waits for) and so must the
 * protection of each page.
 */
static int lp_move_part(struct ptmark_lp *lp, size_t first, size_t n)
{
	struct uffd_event_reader r;
	size_t len = n * lp->psize, i;
	char *from = lp->pg[first].addr, *dst;

	dst = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (dst == MAP_FAILED)
		return lp_sys(lp, -1, "mmap");
	if (uffd_event_reader_start(&r, lp->uffd, 5 * LP_WAIT_MS)) {
		munmap(dst, len);
		return lp_say(lp, -1, "pthread_create failed");
	}
	dst = mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	pthread_join(r.thread, NULL);
	if (dst == MAP_FAILED)
		return lp_sys(lp, -1, "mremap");
	lp->moved = dst;
	lp->moved_len = len;
	if (!r.got || r.msg.event != UFFD_EVENT_REMAP ||
	    r.msg.arg.remap.from != (uintptr_t)from ||
	    r.msg.arg.remap.to != (uintptr_t)dst || r.msg.arg.remap.len != len)
		return lp_say(lp, -1, "mremap: %s event %#x from %#llx to %#llx len %llu, wanted UFFD_EVENT_REMAP from %p to %p len %zu",
			      r.got ? "got" : "no", r.got ? r.msg.event : 0,
			      (unsigned long long)r.msg.arg.remap.from,
			      (unsigned long long)r.msg.arg.remap.to,
			      (unsigned long long)r.msg.arg.remap.len,
			      from, dst, len);
	for (i = first; i < first + n; i++)
		lp->pg[i].addr = dst + (i - first) * lp->psize;
	return 0;
}

/* move_pages() of pages [first, first + n) to the node page @first is not on. */
static int lp_migrate_part(struct ptmark_lp *lp, size_t first, size_t n)
{
	int status[LP_PART], nodes[LP_PART], target, tries;
	void *addrs[LP_PART];
	size_t i;

	for (i = 0; i < n; i++)
		addrs[i] = lp->pg[first + i].addr;
	if (move_pages(0, 1, addrs, NULL, status, 0) || status[0] < 0)
		return lp_say(lp, -1, "move_pages query: %s, status %d",
			      strerror(errno), status[0]);
	target = !status[0];
	for (i = 0; i < n; i++)
		nodes[i] = target;
	/* A folio the kernel was busy with is tried again. */
	for (tries = 0; tries < 3; tries++) {
		if (move_pages(0, n, addrs, nodes, status, MPOL_MF_MOVE) < 0)
			return lp_sys(lp, -1, "move_pages");
		for (i = 0; i < n && status[i] == target; i++)
			;
		if (i == n)
			break;
	}
	if (i < n)
		return lp_say(lp, -1, "move_pages: page %zu has status %d, wanted node %d",
			      first + i, status[i], target);
	/* The query does not fault, and says where each page is now. */
	if (move_pages(0, n, addrs, NULL, status, 0))
		return lp_sys(lp, -1, "move_pages query");
	for (i = 0; i < n; i++)
		if (status[i] != target)
			return lp_say(lp, -1, "page %zu is on node %d after its move to %d",
				      first + i, status[i], target);
	return 0;
}

/*
 * MADV_PAGEOUT of the whole region until every page is a swap entry
 * (protected pages 'S', the others 's'), a few tries.
 */
static int lp_swap_out(struct ptmark_lp *lp)
{
	struct ptmark_record rec;
	int tries, err;
	size_t i;

	for (i = 0; i < lp->nr; i++)
		lp->pg[i].state = lp->pg[i].state == 'P' ? 'S' : 's';
	for (tries = 0; tries < 3; tries++) {
		if (madvise(lp->mem, lp->nr * lp->psize, MADV_PAGEOUT))
			return lp_sys(lp, -1, "MADV_PAGEOUT");
		for (i = 0; i < lp->nr; i++) {
			err = ptmark_scan_dense(lp->ptmark, lp->pg[i].addr, 1, &rec);
			if (err)
				return lp_say(lp, -1, "scan: %s", strerror(-err));
			if (rec.kind != PTMARK_KIND_SWAP)
				break;
		}
		if (i == lp->nr)
			return 0;
	}
	return lp_check(lp, "after MADV_PAGEOUT") ?: -1;
}

/* MADV_COLLAPSE of the region: 0 or -errno, a transient failure retried. */
static int lp_collapse(struct ptmark_lp *lp)
{
	int tries, err = 0;

	for (tries = 0; tries < 5; tries++) {
		err = madvise(lp->mem, lp->nr * lp->psize, MADV_COLLAPSE) ?
		      -errno : 0;
		if (err != -EAGAIN && err != -ENOMEM)
			break;
		usleep(100 * 1000);
	}
	return err;
}

/* Wait until khugepaged has made @passes more full passes: 0 or -1. */
static int lp_khugepaged_passes(struct ptmark_lp *lp, int passes)
{
	long long start = ptmark_khugepaged_full_scans();
	double end = monotonic_ms() + LP_KHUGEPAGED_MS;

	if (start < 0)
		return lp_say(lp, -1, "no khugepaged full_scans");
	while (ptmark_khugepaged_full_scans() < start + passes) {
		if (monotonic_ms() > end)
			return lp_say(lp, -1, "khugepaged made fewer than %d passes in %d ms",
				      passes, LP_KHUGEPAGED_MS);
		usleep(20 * 1000);
	}
	return 0;
}

/* Wait until khugepaged has collapsed the region into a PMD: 0 or -1. */
static int lp_khugepaged_collapsed(struct ptmark_lp *lp)
{
	double end = monotonic_ms() + LP_KHUGEPAGED_MS;
	struct ptmark_record rec;
	int err;

	for (;;) {
		err = ptmark_scan_dense(lp->ptmark, lp->mem, 1, &rec);
		if (err)
			return lp_say(lp, -1, "scan: %s", strerror(-err));
		if (rec.kind == PTMARK_KIND_PRESENT && (rec.bits & PTMARK_BIT_PMD))
			return 0;
		if (monotonic_ms() > end)
			return lp_say(lp, -1, "khugepaged left the unprotected range PTE-mapped for %d ms",
				      LP_KHUGEPAGED_MS);
		usleep(20 * 1000);
	}
}

/*
 * Store every page's first byte back into it: referenced and writable
 * again, which unprotecting does not make a PTE (the write fault does),
 * and which 6.1's collapse wants of at least one (SCAN_PAGE_RO).
 */
static void lp_touch(struct ptmark_lp *lp)
{
	volatile char *p;
	size_t i;

	for (i = 0; i < lp->nr; i++) {
		p = lp->pg[i].addr;
		*p = *p;
	}
}

#define LP_TRY(expr)							\
	do {								\
		int __ret = (expr);					\
		if (__ret)						\
			return __ret;					\
	} while (0)

/*
 * Leave part of each 64 KiB of the region protected, in turn all of it,
 * none, its first half and its first and last quarters: contpte blocks
 * (on arm64) protected whole and not at all beside ones split up.
 */
static int lp_protect_blocks(struct ptmark_lp *lp)
{
	size_t block = PTMARK_MTHP_SIZE / lp->psize, i;

	for (i = 0; i + block <= lp->nr; i += block) {
		switch (i / block % 4) {
		case 1:
			LP_TRY(lp_protect(lp, i, block, false));
			break;
		case 2:
			LP_TRY(lp_protect(lp, i + block / 2, block / 2, false));
			break;
		case 3:
			LP_TRY(lp_protect(lp, i + block / 4, block / 2, false));
			break;
		}
	}
	return 0;
}

/*
 * The frame of every page of the region, in the process lp->pidfd
 * names, against @pfns, the parent's at fork.  @shared: each page still
 * maps its frame there, in a large folio, no longer anon-exclusive (the
 * fork shares it).  Else each maps a copy of its own, a small exclusive
 * folio: the child's write copied the page alone.  0 or -1.
 */
static int lp_frames(struct ptmark_lp *lp, const __u64 *pfns, bool shared,
		     const char *when)
{
	struct ptmark_record *recs = calloc(lp->nr, sizeof(*recs));
	const struct ptmark_record *r;
	int err, ret = 0;
	size_t i;

	if (!recs)
		return lp_say(lp, -1, "%s: no memory", when);
	err = ptmark_scan_dense_of(lp->ptmark, lp->pidfd, lp->mem, lp->nr,
				   recs);
	if (err)
		ret = lp_say(lp, -1, "%s: scan: %s", when, strerror(-err));
	for (i = 0; !ret && i < lp->nr; i++) {
		r = &recs[i];
		if (r->kind == PTMARK_KIND_PRESENT && (r->bits & PTMARK_BIT_ANON) &&
		    (r->pfn == pfns[i]) == shared &&
		    !!(r->bits & PTMARK_BIT_LARGE) == shared &&
		    !(r->bits & PTMARK_BIT_EXCLUSIVE) == shared)
			continue;
		ret = lp_say(lp, -1, "%s: page %zu: kind %u pfn %#llx bits %#x, wanted %s pfn %#llx%s",
			     when, i, r->kind, (unsigned long long)r->pfn,
			     r->bits, shared ? "its frame at fork," : "a copy of",
			     (unsigned long long)pfns[i],
			     shared ? " in a large folio, not exclusive" :
			     " in a small exclusive folio");
	}
	free(recs);
	return ret;
}

/*
 * fork() with part of each 64 KiB protected (lp_protect_blocks()).  With
 * @event (UFFD_FEATURE_EVENT_FORK) the child's copy has exactly the
 * parent's protection, page by page, reported to the userfaultfd the
 * event hands over; without, it has none.  Either way the parent keeps
 * its own exactly, and every page its frame in the large folio: the
 * child shares them until its writes copy each page it writes, alone.
 * Both processes are checked by the scan and swept.
 */
static int lp_fork(struct ptmark_lp *lp, bool event)
{
	struct ptmark_lp_page *parent_pg = lp->pg, *child_pg;
	int parent_uffd = lp->uffd, child_uffd = -1, pidfd, ret, status;
	struct uffd_event_reader r;
	struct served_child c;
	struct uffd_msg msg;
	char text[160];
	__u64 *pfns;
	size_t i;

	pfns = calloc(lp->nr, sizeof(*pfns));
	child_pg = calloc(lp->nr, sizeof(*child_pg));
	if (!pfns || !child_pg) {
		ret = lp_say(lp, -1, "no memory");
		goto free;
	}
	ret = lp_protect_blocks(lp);
	lp_set_pmd(lp, 0);
	ret = ret ?: lp_check(lp, "part of each 64 KiB protected");
	if (ret)
		goto free;
	for (i = 0; i < lp->nr; i++) {
		struct ptmark_record rec;
		int err = ptmark_scan_dense(lp->ptmark, lp->pg[i].addr, 1, &rec);

		if (err) {
			ret = lp_say(lp, -1, "scan: %s", strerror(-err));
			goto free;
		}
		pfns[i] = rec.pfn;
	}

	/* fork() waits in dup_userfaultfd_complete() for the event's reader. */
	if (event && uffd_event_reader_start(&r, lp->uffd, 5 * LP_WAIT_MS)) {
		ret = lp_say(lp, -1, "pthread_create failed");
		goto free;
	}
	ret = served_child_start(&c, lp_child_serve, lp->sweep);
	if (event)
		pthread_join(r.thread, NULL);
	if (ret) {
		lp_say(lp, -1, "fork: %s", strerror(-ret));
		if (event && r.got && r.msg.event == UFFD_EVENT_FORK)
			close(r.msg.arg.fork.ufd);
		goto free;
	}
	if (event && r.got && r.msg.event == UFFD_EVENT_FORK)
		child_uffd = r.msg.arg.fork.ufd;
	pidfd = pidfd_of(c.pid);
	if (event && child_uffd < 0)
		ret = lp_say(lp, -1, "fork: %s, wanted UFFD_EVENT_FORK",
			     r.got ? uffd_msg_text(&r.msg, text, sizeof(text)) :
			     "no event");
	else if (pidfd < 0)
		ret = lp_say(lp, -1, "pidfd_open: %s", strerror(errno));
	ret = ret ?: lp_check(lp, "the parent after fork") ?:
	      lp_frames(lp, pfns, true, "the parent after fork");
	if (ret)
		goto stop;

	/* The child's view: its pages, its userfaultfd, its sweep. */
	memcpy(child_pg, parent_pg, lp->nr * sizeof(*child_pg));
	for (i = 0; !event && i < lp->nr; i++)
		child_pg[i].state = 'u';
	lp->pg = child_pg;
	lp->uffd = event ? child_uffd : parent_uffd;
	lp->pidfd = pidfd;
	lp->child = &c;
	ret = lp_check(lp, "the child after fork") ?:
	      lp_frames(lp, pfns, true, "the child after fork") ?:
	      lp_sweep(lp, "the child's sweep") ?:
	      lp_check(lp, "the child after its sweep") ?:
	      lp_frames(lp, pfns, false, "the child after its sweep");
	lp->pg = parent_pg;
	lp->uffd = parent_uffd;
	lp->pidfd = -1;
	lp->child = NULL;
	if (ret)
		goto stop;
	if (uffd_read_msg(parent_uffd, 0, &msg)) {
		ret = lp_say(lp, -1, "the parent's userfaultfd got %s while the child swept",
			     uffd_msg_text(&msg, text, sizeof(text)));
		goto stop;
	}
	ret = lp_check(lp, "the parent after the child's writes") ?:
	      lp_frames(lp, pfns, true, "the parent after the child's writes");
stop:
	status = served_child_stop(&c);
	if (!ret && !(status >= 0 && WIFEXITED(status) && !WEXITSTATUS(status)))
		ret = lp_say(lp, -1, "the child ended with status %#x", status);
	if (pidfd >= 0)
		close(pidfd);
	if (child_uffd >= 0)
		close(child_uffd);
free:
	free(pfns);
	free(child_pg);
	return ret ?: lp_sweep(lp, "the parent after fork");
}

int ptmark_lp_run(struct ptmark_lp *lp, enum ptmark_lp_case c)
{
	const size_t a = LP_FIRST, n = LP_PART, all = lp->nr;
	size_t len = n * lp->psize;
	const char *why;
	int err;
	size_t i;

	/* The fork event is a feature of the userfaultfd. */
	if (c == LP_FORK_EVENT)
		LP_TRY(lp_open_uffd(lp, UFFD_FEATURE_EVENT_FORK));
	/* Protecting the whole region keeps a PMD whole. */
	LP_TRY(lp_protect_check(lp, 0, all, true, "protected whole"));
	switch (c) {
	case LP_SPLIT_UNPROTECT:
		lp_set_pmd(lp, 0);
		LP_TRY(lp_protect_check(lp, a, n, false, "part unprotected"));
		return lp_sweep(lp, "after the partial unprotect");
	case LP_SPLIT_MPROTECT:
		LP_TRY(lp_sys(lp, mprotect(lp->pg[a].addr, len, PROT_READ),
			      "mprotect read-only"));
		lp_set_pmd(lp, 0);
		LP_TRY(lp_check(lp, "part read-only"));
		LP_TRY(lp_sys(lp, mprotect(lp->pg[a].addr, len,
					   PROT_READ | PROT_WRITE),
			      "mprotect writable"));
		LP_TRY(lp_check(lp, "part writable again"));
		return lp_sweep(lp, "after the partial mprotect");
	case LP_SPLIT_DONTNEED:
		LP_TRY(lp_sys(lp, madvise(lp->pg[a].addr, len, MADV_DONTNEED),
			      "MADV_DONTNEED"));
		/* Anonymous memory loses data and protection together. */
		lp_set(lp, a, n, 'N');
		for (i = a; i < a + n; i++)
			lp->pg[i].data = 0;
		lp_set_pmd(lp, 0);
		LP_TRY(lp_check(lp, "part zapped"));
		return lp_sweep(lp, "after the partial MADV_DONTNEED");
	case LP_SPLIT_MREMAP:
		LP_TRY(lp_move_part(lp, a, n));
		lp_set_pmd(lp, 0);
		LP_TRY(lp_check(lp, "part moved"));
		return lp_sweep(lp, "after the partial mremap");
	case LP_SPLIT_MUNMAP:
		LP_TRY(lp_sys(lp, munmap(lp->pg[a].addr, len), "munmap"));
		lp_set(lp, a, n, '-');
		lp_set_pmd(lp, 0);
		LP_TRY(lp_check(lp, "part unmapped"));
		return lp_sweep(lp, "after the partial munmap");
	case LP_SPLIT_MIGRATE:
		why = ptmark_no_numa_migration();
		if (why)
			return lp_say(lp, 1, "%s", why);
		/* The part moved holds protected and unprotected pages. */
		lp_set_pmd(lp, 0);
		LP_TRY(lp_protect_check(lp, a + n / 2, n, false,
					"part unprotected"));
		LP_TRY(lp_migrate_part(lp, a, n));
		lp_set_pmd(lp, -1);
		LP_TRY(lp_check(lp, "part migrated"));
		return lp_sweep(lp, "after the partial migration");
	case LP_SWAP_OUT:
		if (!swap_active())
			return lp_say(lp, 1, "no active swap device (/proc/swaps)");
		LP_TRY(lp_swap_out(lp));
		LP_TRY(lp_check(lp, "swapped out"));
		/* Unprotecting swap entries clears their bit alone. */
		LP_TRY(lp_protect_check(lp, a, n, false,
					"part of the swap unprotected"));
		lp_set_pmd(lp, -1);
		return lp_sweep(lp, "after swap-out");
	case LP_COLLAPSE:
		lp_set_pmd(lp, 0);
		LP_TRY(lp_protect_check(lp, a, n, false, "part unprotected"));
		/* A protected PTE refuses the collapse (SCAN_PTE_UFFD). */
		err = lp_collapse(lp);
		if (err != -EINVAL) {
			lp_check(lp, "after MADV_COLLAPSE");
			return lp_say(lp, -1, "MADV_COLLAPSE over protected pages: %s, wanted EINVAL; %s",
				      err ? strerror(-err) : "collapsed", lp->why);
		}
		LP_TRY(lp_check(lp, "after the refused collapse"));
		LP_TRY(lp_protect_check(lp, 0, all, false, "all unprotected"));
		lp_touch(lp);
		err = lp_collapse(lp);
		if (err)
			return lp_say(lp, -1, "MADV_COLLAPSE of the unprotected range: %s",
				      strerror(-err));
		lp_set_pmd(lp, 1);
		LP_TRY(lp_check(lp, "collapsed"));
		LP_TRY(lp_protect_check(lp, 0, all, true,
					"collapsed and protected"));
		return lp_sweep(lp, "after the collapse");
	case LP_KHUGEPAGED:
		lp_set_pmd(lp, 0);
		LP_TRY(lp_protect_check(lp, a, n, false, "part unprotected"));
		/*
		 * khugepaged makes PMDs of MADV_HUGEPAGE ranges now; set
		 * first, as MADV_HUGEPAGE hands the mm to khugepaged only
		 * where it may make one (6.12).
		 */
		if (lp->pmd_set) {
			char ignored[16];

			err = ptmark_thp_size_set(all * lp->psize, "madvise",
						  ignored, sizeof(ignored));
			if (err)
				return lp_say(lp, -1, "the PMD-sized THP switch: %s",
					      strerror(-err));
		}
		LP_TRY(lp_sys(lp, madvise(lp->mem, all * lp->psize,
					  MADV_HUGEPAGE), "MADV_HUGEPAGE"));
		err = ptmark_khugepaged_quick(false);
		lp->khugepaged_set = true;
		if (err)
			return lp_say(lp, -1, "khugepaged timers: %s", strerror(-err));
		LP_TRY(lp_khugepaged_passes(lp, 2));
		LP_TRY(lp_check(lp, "after two khugepaged passes"));
		/* khugepaged may collapse the range from here on. */
		lp_set_pmd(lp, -1);
		LP_TRY(lp_protect_check(lp, 0, all, false, "all unprotected"));
		lp_touch(lp);
		LP_TRY(lp_khugepaged_collapsed(lp));
		lp_set_pmd(lp, 1);
		LP_TRY(lp_check(lp, "collapsed by khugepaged"));
		LP_TRY(lp_protect_check(lp, 0, all, true,
					"collapsed and protected"));
		return lp_sweep(lp, "after khugepaged's collapse");
	case LP_FORK_EVENT:
	case LP_FORK_NO_EVENT:
		return lp_fork(lp, c == LP_FORK_EVENT);
	}
	return lp_say(lp, -1, "no case %d", c);
}
