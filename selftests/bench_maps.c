// SPDX-License-Identifier: GPL-2.0
/*
 * bench_maps [threads [runs]]: what `ptmarkctl maps` costs on a process
 * with many guarded thread stacks, next to reading that process's
 * /proc/PID/smaps once.
 *
 * The process (a child) starts @threads threads (default 10000) on
 * stacks carved out of one mapping, each with a guard page installed at
 * its low end by MADV_GUARD_INSTALL, as glibc 2.42+ guards the stacks it
 * allocates; the stacks merge into one rw-p VMA, so /proc/PID/maps
 * cannot show where a stack ends.  Then, @runs times (default 5) each:
 * read /proc/CHILD/smaps to its end, and run `ptmarkctl maps CHILD`
 * (installed beside this program) with its output in a pipe, counting the
 * guard runs it lists.  The medians and their ratio ptmarkctl/smaps are
 * printed, and, to tell where ptmarkctl's time goes: the same vma-get
 * dump (with the guard runs) made in this process, `ptmarkctl features`
 * (starting the program and finding the family), and `cat` of the smaps
 * file started the way ptmarkctl is (popen()).
 *
 * TAP: one test, passing when ptmarkctl listed one guard run per thread,
 * every run; the figures are "#" lines.  Skipped without ptmark.ko's
 * netlink family or without guard support.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kselftest.h"
#include "ptmark_lib.h"
#include "ptmark_nl.h"

#define STACK_PAGES	16
#define MAX_RUNS	15

static long psize;

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static void *idle(void *arg)
{
	for (;;)
		pause();
	return NULL;
}

/*
 * The child: @n threads on guarded stacks of one mapping, then a byte
 * down @fd (1: all up, 0: it could not) and a wait for SIGKILL.
 */
static void stacks_child(int n, int fd)
{
	size_t len = (size_t)n * STACK_PAGES * psize;
	char *stacks = mmap(NULL, len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	pthread_attr_t attr;
	pthread_t t;
	char ok = 1;
	int i;

	if (stacks == MAP_FAILED)
		ok = 0;
	for (i = 0; ok && i < n; i++) {
		char *s = stacks + (size_t)i * STACK_PAGES * psize;

		if (madvise(s, psize, MADV_GUARD_INSTALL)) {
			ok = 0;
			break;
		}
		pthread_attr_init(&attr);
		pthread_attr_setstack(&attr, s + psize,
				      (STACK_PAGES - 1) * psize);
		if (pthread_create(&t, &attr, idle, NULL))
			ok = 0;
		pthread_attr_destroy(&attr);
	}
	if (write(fd, &ok, 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

/* Read @path to its end: the bytes read, or -1. */
static long read_all(const char *path)
{
	static char buf[1 << 16];
	long total = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return -1;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		total += r;
	close(fd);
	return r < 0 ? -1 : total;
}

/* Guard runs in the messages of a vma-get dump. */
static int count_runs(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[PTMARK_A_VMA_MAX + 1];
	long *n = data;

	if (ptmark_nl_parse(nlh, tb, PTMARK_A_VMA_MAX))
		return MNL_CB_ERROR;
	if (tb[PTMARK_A_VMA_GUARD_RUNS])
		*n += mnl_attr_get_payload_len(tb[PTMARK_A_VMA_GUARD_RUNS]) / 16;
	return MNL_CB_OK;
}

/* The dump ptmarkctl maps makes, here: the guard runs it got, or -1. */
static long dump_runs(pid_t pid)
{
	static char buf[PTMARK_NL_BUF];
	struct ptmark_nl nl;
	struct nlmsghdr *nlh;
	long n = 0;

	if (ptmark_nl_open(&nl))
		return -1;
	nlh = ptmark_nl_target_request(&nl, buf, PTMARK_CMD_VMA_GET, pid, -1,
				       0, 0);
	mnl_attr_put(nlh, PTMARK_A_VMA_WANT_GUARD_RUNS, 0, NULL);
	if (ptmark_nl_run(&nl, nlh, count_runs, &n))
		n = -1;
	ptmark_nl_close(&nl);
	return n;
}

/* Run @cmd, its output read to the end: 0, or -1. */
static int run_quiet(const char *cmd)
{
	char buf[4096];
	FILE *f = popen(cmd, "r");

	if (!f)
		return -1;
	while (fread(buf, 1, sizeof(buf), f) > 0)
		;
	return pclose(f) ? -1 : 0;
}

/* Run @cmd, counting its output lines that start with "  guard ". */
static long guard_lines(const char *cmd)
{
	char line[512];
	long n = 0;
	FILE *f = popen(cmd, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += !strncmp(line, "  guard ", 8);
	return pclose(f) ? -1 : n;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10000;
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	double t_smaps[MAX_RUNS], t_maps[MAX_RUNS], ms_smaps, ms_maps;
	double t_dump[MAX_RUNS], t_start[MAX_RUNS], t_cat[MAX_RUNS];
	char self[512], ctl[600], cmd[700], path[64], start[700], cat[96];
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	int pipefd[2], i;
	long listed = 0, smaps_bytes = 0;
	bool good = true;
	pid_t child;
	char ok = 0;
	ssize_t len;

	psize = sysconf(_SC_PAGESIZE);
	if (n < 1 || runs < 1 || runs > MAX_RUNS)
		ksft_exit_fail_msg("usage: bench_maps [threads [runs <= %d]]\n",
				   MAX_RUNS);
	ksft_print_header();
	ksft_set_plan(1);
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len < 0)
		ksft_exit_fail_msg("readlink /proc/self/exe: %s\n", strerror(errno));
	self[len] = '\0';
	snprintf(ctl, sizeof(ctl), "%s/ptmarkctl", dirname(self));
	snprintf(cmd, sizeof(cmd), "%s features >/dev/null 2>&1", ctl);
	if (access(ctl, X_OK) || system(cmd))
		ksft_exit_skip("no ptmarkctl beside the program, or no netlink family\n");
	setrlimit(RLIMIT_NPROC, &rl);

	if (pipe(pipefd))
		ksft_exit_fail_msg("pipe: %s\n", strerror(errno));
	child = fork();
	if (!child)
		stacks_child(n, pipefd[1]);
	if (child < 0 || read(pipefd[0], &ok, 1) != 1)
		ksft_exit_fail_msg("the child with %d threads died\n", n);
	if (!ok) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		ksft_exit_skip("%d threads on guarded stacks: not here (MADV_GUARD_INSTALL or pthread_create failed)\n",
			       n);
	}

	snprintf(path, sizeof(path), "/proc/%d/smaps", child);
	snprintf(cmd, sizeof(cmd), "%s maps %d", ctl, child);
	snprintf(start, sizeof(start), "%s features", ctl);
	snprintf(cat, sizeof(cat), "cat %s", path);
	for (i = 0; i < runs; i++) {
		double t0 = monotonic_ms();
		long dumped;

		smaps_bytes = read_all(path);
		t_smaps[i] = monotonic_ms() - t0;
		t0 = monotonic_ms();
		listed = guard_lines(cmd);
		t_maps[i] = monotonic_ms() - t0;
		if (smaps_bytes < 0 || listed != n) {
			ksft_print_msg("run %d: smaps %ld bytes, ptmarkctl maps listed %ld guard runs of %d\n",
				       i, smaps_bytes, listed, n);
			good = false;
		}
		t0 = monotonic_ms();
		dumped = dump_runs(child);
		t_dump[i] = monotonic_ms() - t0;
		t0 = monotonic_ms();
		if (run_quiet(start))
			good = false;
		t_start[i] = monotonic_ms() - t0;
		t0 = monotonic_ms();
		if (run_quiet(cat))
			good = false;
		t_cat[i] = monotonic_ms() - t0;
		if (dumped != n) {
			ksft_print_msg("run %d: the vma-get dump had %ld guard runs of %d\n",
				       i, dumped, n);
			good = false;
		}
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);

	ms_smaps = median(t_smaps, runs);
	ms_maps = median(t_maps, runs);
	ksft_print_msg("%d threads, guarded stacks of %d pages in one VMA; median of %d runs\n",
		       n, STACK_PAGES, runs);
	ksft_print_msg("read /proc/PID/smaps once (%ld bytes): %8.1f ms\n",
		       smaps_bytes, ms_smaps);
	ksft_print_msg("ptmarkctl maps PID (%ld guard runs):  %8.1f ms (process start included)\n",
		       listed, ms_maps);
	ksft_print_msg("ratio ptmarkctl maps / smaps: %.2f\n",
		       ms_smaps > 0 ? ms_maps / ms_smaps : 0);
	ksft_print_msg("the same vma-get dump, in this process:   %8.1f ms\n",
		       median(t_dump, runs));
	ksft_print_msg("ptmarkctl features (start, family lookup): %8.1f ms\n",
		       median(t_start, runs));
	ksft_print_msg("cat /proc/PID/smaps, started the same way: %8.1f ms\n",
		       median(t_cat, runs));
	ksft_test_result(good, "ptmarkctl maps lists all %d guard runs\n", n);
	ksft_finished();
}
