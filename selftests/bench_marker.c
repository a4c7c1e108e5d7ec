// SPDX-License-Identifier: GPL-2.0
/*
 * bench_marker [MiB [runs]]: what guard markers cost through PTMARK_IOC_MARKER
 * next to madvise(MADV_GUARD_INSTALL/REMOVE), in the same run, on the
 * same anonymous mapping (default 1 GiB, 512 MiB when the machine has
 * too little memory free to populate that much).
 *
 * Each case is timed as one call over the whole range and as one call
 * per 4 KiB page, on an unpopulated mapping (page tables exist after a
 * warm-up, no pages) and on a populated one (every page mapped: install
 * zaps them).  The mapping is MADV_NOHUGEPAGE so that both installers
 * meet the same 4 KiB PTEs.  The median of the runs is printed with the
 * ratio ioctl/madvise; the ioctl takes the mmap lock for write and
 * write-locks the VMA, madvise() makes do with less, so strided calls are
 * where any difference shows.
 *
 * Then the vectored case: every other page of the mapping (131072
 * one-page ranges of 1 GiB) guarded and unguarded by one
 * PTMARK_MARKER_F_VECTOR call, by process_madvise() with the same ranges
 * (in vectors of UIO_MAXIOV, its limit), and by one madvise() a range.
 *
 * TAP: one test, passing when every call did what it should; the figures
 * are "#" lines.  Skipped without ptmark.ko or without guard support.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include "kselftest.h"
#include "ptmark_lib.h"


#define MAX_RUNS	15

static size_t psize;
static int ptmark_fd;
static bool failed;

enum installer { BY_IOCTL, BY_MADVISE, NR_INSTALLERS };

/* Guard (or unguard) [p, p + len) in calls of @stride bytes. */
static void guard_range(enum installer how, char *p, size_t len,
			size_t stride, bool install)
{
	__u32 flags = install ? 0 : PTMARK_MARKER_F_REMOVE;
	int advice = install ? MADV_GUARD_INSTALL : MADV_GUARD_REMOVE;
	__u64 nr_pages;
	size_t off;

	for (off = 0; off < len; off += stride) {
		if (how == BY_MADVISE) {
			if (madvise(p + off, stride, advice))
				goto fail;
			continue;
		}
		if (ptmark_marker_fd(ptmark_fd, -1, p + off, stride,
				     PTMARK_MARKER_GUARD, flags, &nr_pages))
			goto fail;
		/* Removal counts the markers it found: all of them here. */
		if (nr_pages != stride / psize)
			goto fail;
	}
	return;
fail:
	if (!failed)
		ksft_print_msg("%s %s at offset %zu failed: %s\n",
			       how == BY_MADVISE ? "madvise" : "ioctl",
			       install ? "install" : "remove", off,
			       strerror(errno));
	failed = true;
}

/* Milliseconds for install and remove, one installer, one run. */
struct timing {
	double install, remove;
};

static struct timing time_once(enum installer how, char *p, size_t len,
			       size_t stride, bool populated)
{
	struct timing t;
	double t0;

	if (populated && madvise(p, len, MADV_POPULATE_WRITE)) {
		ksft_print_msg("MADV_POPULATE_WRITE: %s\n", strerror(errno));
		failed = true;
	}
	t0 = monotonic_ms();
	guard_range(how, p, len, stride, true);
	t.install = monotonic_ms() - t0;
	t0 = monotonic_ms();
	guard_range(how, p, len, stride, false);
	t.remove = monotonic_ms() - t0;
	return t;
}

static void print_row(const char *what, const char *op, double ioctl_ms,
		      double madvise_ms)
{
	ksft_print_msg("%-28s %-7s %10.1f %10.1f %8.2f\n", what, op, ioctl_ms,
		       madvise_ms, ioctl_ms / madvise_ms);
}

/*
 * One case: @runs rounds, the installers taking turns which goes first,
 * and a row each for install and remove.
 */
static void bench_case(const char *what, char *p, size_t len, size_t stride,
		       bool populated, int runs)
{
	double ms[NR_INSTALLERS][2][MAX_RUNS];
	struct timing t;
	int r, i, how;

	for (r = 0; r < runs; r++) {
		for (i = 0; i < NR_INSTALLERS; i++) {
			how = (r + i) % NR_INSTALLERS;
			t = time_once(how, p, len, stride, populated);
			ms[how][0][r] = t.install;
			ms[how][1][r] = t.remove;
		}
	}
	print_row(what, "install", median_of(ms[BY_IOCTL][0], runs),
		  median_of(ms[BY_MADVISE][0], runs));
	print_row(what, "remove", median_of(ms[BY_IOCTL][1], runs),
		  median_of(ms[BY_MADVISE][1], runs));
}

/* process_madvise() takes at most this many ranges a call. */
#define VEC_IOV_MAX	1024

enum vec_installer { VEC_PTMARK, VEC_PROCESS_MADVISE, VEC_MADVISE, NR_VEC };

static const char *const vec_name[NR_VEC] = {
	"ptmark vector", "process_madvise", "madvise a range",
};

/* Guard or unguard every range of @vec (@iov the same ranges) by @how. */
static void vec_apply(enum vec_installer how, const struct ptmark_range *vec,
		      const struct iovec *iov, size_t n, int pidfd,
		      bool install)
{
	int advice = install ? MADV_GUARD_INSTALL : MADV_GUARD_REMOVE;
	__u64 pages, ranges;
	size_t i, k;
	long ret;

	switch (how) {
	case VEC_PTMARK:
		if (ptmark_marker_vec(ptmark_fd, vec, n, PTMARK_MARKER_GUARD,
				      install ? 0 : PTMARK_MARKER_F_REMOVE,
				      &pages, &ranges) ||
		    pages != n || ranges != n)
			goto fail;
		return;
	case VEC_PROCESS_MADVISE:
		for (i = 0; i < n; i += k) {
			k = n - i < VEC_IOV_MAX ? n - i : VEC_IOV_MAX;
			ret = syscall(SYS_process_madvise, pidfd, iov + i, k,
				      advice, 0);
			if (ret != (long)(k * psize))
				goto fail;
		}
		return;
	default:
		for (i = 0; i < n; i++)
			if (madvise(iov[i].iov_base, iov[i].iov_len, advice))
				goto fail;
		return;
	}
fail:
	if (!failed)
		ksft_print_msg("%s %s failed: %s\n", vec_name[how],
			       install ? "install" : "remove", strerror(errno));
	failed = true;
}

static void bench_vector(char *p, size_t len, int runs)
{
	size_t n = len / psize / 2, i;
	struct ptmark_range *vec = calloc(n, sizeof(*vec));
	struct iovec *iov = calloc(n, sizeof(*iov));
	double ms[NR_VEC][2][MAX_RUNS], t0;
	int pidfd = pidfd_of(getpid());
	int r, k, how;

	if (!vec || !iov || pidfd < 0) {
		ksft_print_msg("vector setup: %s\n", strerror(errno));
		failed = true;
		goto out;
	}
	for (i = 0; i < n; i++) {
		vec[i].start = (uintptr_t)(p + 2 * i * psize);
		vec[i].len = psize;
		iov[i].iov_base = p + 2 * i * psize;
		iov[i].iov_len = psize;
	}
	for (r = 0; r < runs; r++) {
		for (k = 0; k < NR_VEC; k++) {
			how = (r + k) % NR_VEC;
			t0 = monotonic_ms();
			vec_apply(how, vec, iov, n, pidfd, true);
			ms[how][0][r] = monotonic_ms() - t0;
			t0 = monotonic_ms();
			vec_apply(how, vec, iov, n, pidfd, false);
			ms[how][1][r] = monotonic_ms() - t0;
		}
	}
	ksft_print_msg("%zu one-page ranges, every other page, median of %d runs\n",
		       n, runs);
	ksft_print_msg("%-7s %14s %16s %16s %10s %10s\n", "op", "vector ms",
		       "process_madv ms", "madvise ms", "vec/pm", "vec/madv");
	for (k = 0; k < 2; k++) {
		double v = median_of(ms[VEC_PTMARK][k], runs);
		double pm = median_of(ms[VEC_PROCESS_MADVISE][k], runs);
		double ma = median_of(ms[VEC_MADVISE][k], runs);

		ksft_print_msg("%-7s %14.1f %16.1f %16.1f %10.2f %10.2f\n",
			       k ? "remove" : "install", v, pm, ma, v / pm,
			       v / ma);
	}
	ksft_print_msg("issue targets: vec/pm <= 1.0, vec/madv <= 0.5\n");
out:
	if (pidfd >= 0)
		close(pidfd);
	free(vec);
	free(iov);
}

int main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 0) : 1024;
	int runs = argc > 2 ? atoi(argv[2]) : 3;
	struct ptmark_info info;
	size_t len, avail;
	long long kib;
	char *p;

	psize = sysconf(_SC_PAGESIZE);
	ksft_print_header();
	ksft_set_plan(1);

	ptmark_fd = ptmark_open();
	if (ptmark_fd < 0) {
		ksft_test_result_skip("bench_marker: ptmark.ko not loaded (%s: %s)\n",
				      PTMARK_DEVICE, strerror(-ptmark_fd));
		ksft_finished();
	}
	if (ptmark_get_info(ptmark_fd, &info) ||
	    !(info.features & PTMARK_FEAT_GUARD_IOCTL)) {
		ksft_test_result_skip("bench_marker: no PTMARK_FEAT_GUARD_IOCTL: kernel lacks MADV_GUARD_INSTALL or an exported vma_start_write()\n");
		ksft_finished();
	}
	if (runs < 1 || runs > MAX_RUNS) {
		ksft_test_result_fail("bench_marker: runs must be 1..%d\n",
				      MAX_RUNS);
		ksft_finished();
	}

	/* Populating must not push the machine into swap. */
	kib = text_file_value("/proc/meminfo", "MemAvailable:");
	avail = kib > 0 ? kib / 1024 : 0;
	if (argc < 2 && avail && avail < mib + 256) {
		ksft_print_msg("MemAvailable %zu MiB: benchmarking 512 MiB, not %zu\n",
			       avail, mib);
		mib = 512;
	}
	len = mib << 20;

	p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		ksft_test_result_fail("bench_marker: mmap %zu MiB: %s\n", mib,
				      strerror(errno));
		ksft_finished();
	}
	if (madvise(p, len, MADV_NOHUGEPAGE))
		ksft_print_msg("MADV_NOHUGEPAGE: %s\n", strerror(errno));
	/* Page tables and anon_vma in place before anything is timed. */
	time_once(BY_MADVISE, p, len, len, false);
	time_once(BY_IOCTL, p, len, len, false);

	ksft_print_msg("%zu MiB anonymous (%zu pages), 4 KiB PTEs, median of %d runs\n",
		       mib, len / psize, runs);
	ksft_print_msg("%-28s %-7s %10s %10s %8s\n", "case", "op", "ioctl ms",
		       "madvise ms", "ratio");
	bench_case("unpopulated, 1 call", p, len, len, false, runs);
	bench_case("unpopulated, 4 KiB strides", p, len, psize, false, runs);
	bench_case("populated, 1 call", p, len, len, true, runs);
	bench_case("populated, 4 KiB strides", p, len, psize, true, runs);
	ksft_print_msg("ratio = ioctl/madvise; issue target <= 1.2\n");
	bench_vector(p, len, runs);

	munmap(p, len);
	close(ptmark_fd);
	ksft_test_result(!failed, "bench_marker\n");
	ksft_finished();
}
