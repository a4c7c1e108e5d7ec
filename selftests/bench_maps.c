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
 * read /proc/CHILD/smaps to its end in this process; run `ptmarkctl maps
 * CHILD` (installed beside this program), counting the guard runs it
 * lists, and `cat /proc/CHILD/smaps`, both as commands started and read
 * alike (fork, exec, the output read from a pipe to its end, wait).
 * Each run's figures are printed, then the medians with three ratios:
 * (a) ptmarkctl maps against cat of the smaps file, both paying a
 * process start, (b) ptmarkctl maps against the read in this process,
 * and the vma-get dump maps makes, made in this process, against that
 * read: what the kernel's side costs next to smaps.  To tell where
 * ptmarkctl's time goes: `ptmarkctl --version` (starting the program),
 * `ptmarkctl features` (that, the family lookup and one request), and
 * that dump.
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

/* A command's output, kept to count its lines after the timing. */
static char *out;
static size_t out_cap = 1 << 20;

/* Lines of @len bytes of @buf that start with "  guard ". */
static long count_guard_lines(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len, *nl;
	long n = 0;

	while (p < end) {
		if (end - p >= 8 && !memcmp(p, "  guard ", 8))
			n++;
		nl = memchr(p, '\n', end - p);
		if (!nl)
			break;
		p = nl + 1;
	}
	return n;
}

/*
 * Run the command @cmd @arg [@arg2] (@cmd looked up in PATH), its output
 * read from a pipe to its end, and wait for it: the milliseconds that
 * took, or -1 if it failed.  *@guards: its output lines that start with
 * "  guard ", counted once the time is taken.  Every command timed is
 * run this way, so that two of them compare.
 */
static double run_cmd(const char *cmd, const char *arg, const char *arg2,
		      long *guards)
{
	double t0 = monotonic_ms(), ms;
	int pipefd[2], status;
	size_t len = 0;
	ssize_t r;
	pid_t pid;

	*guards = 0;
	if (pipe(pipefd))
		return -1;
	pid = fork();
	if (!pid) {
		dup2(pipefd[1], STDOUT_FILENO);
		close(pipefd[0]);
		close(pipefd[1]);
		execlp(cmd, cmd, arg, arg2, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	if (pid < 0) {
		close(pipefd[0]);
		return -1;
	}
	for (;;) {
		if (len == out_cap) {
			char *more = realloc(out, 2 * out_cap);

			r = -1;
			if (!more)
				break;
			out = more;
			out_cap *= 2;
		}
		r = read(pipefd[0], out + len, out_cap - len);
		if (r <= 0)
			break;
		len += r;
	}
	close(pipefd[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) || r < 0)
		return -1;
	ms = monotonic_ms() - t0;
	*guards = count_guard_lines(out, len);
	return ms;
}

static void figure(const char *label, double value, const char *unit)
{
	ksft_print_msg("%-56s %8.2f%s%s\n", label, value, *unit ? " " : "",
		       unit);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10000;
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	double t_smaps[MAX_RUNS], t_maps[MAX_RUNS], t_cat[MAX_RUNS];
	double t_dump[MAX_RUNS], t_version[MAX_RUNS], t_features[MAX_RUNS];
	double ms_smaps, ms_maps, ms_cat, ms_dump;
	char self[512], ctl[600], path[64], pidstr[16], label[80];
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	int pipefd[2], i;
	long listed = 0, smaps_bytes = 0, ignored;
	bool good = true;
	pid_t child;
	char ok = 0;
	ssize_t len;

	psize = sysconf(_SC_PAGESIZE);
	/* Touched now: no command's timing pays for faulting it in. */
	out = malloc(out_cap);
	if (!out)
		ksft_exit_fail_msg("no memory for the commands' output\n");
	memset(out, 0, out_cap);
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
	if (access(ctl, X_OK) || run_cmd(ctl, "features", NULL, &ignored) < 0)
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
	snprintf(pidstr, sizeof(pidstr), "%d", child);
	for (i = 0; i < runs; i++) {
		double t0 = monotonic_ms();
		long dumped;

		smaps_bytes = read_all(path);
		t_smaps[i] = monotonic_ms() - t0;
		t_maps[i] = run_cmd(ctl, "maps", pidstr, &listed);
		t_cat[i] = run_cmd("cat", path, NULL, &ignored);
		t0 = monotonic_ms();
		dumped = dump_runs(child);
		t_dump[i] = monotonic_ms() - t0;
		t_version[i] = run_cmd(ctl, "--version", NULL, &ignored);
		t_features[i] = run_cmd(ctl, "features", NULL, &ignored);
		if (smaps_bytes < 0 || t_maps[i] < 0 || t_cat[i] < 0 ||
		    t_version[i] < 0 || t_features[i] < 0) {
			ksft_print_msg("run %d: a read or a command failed\n", i);
			good = false;
		}
		if (listed != n || dumped != n) {
			ksft_print_msg("run %d: ptmarkctl maps listed %ld guard runs, the dump had %ld, of %d\n",
				       i, listed, dumped, n);
			good = false;
		}
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);

	/* Each run's figures, before median() sorts them. */
	for (i = 0; i < runs; i++)
		ksft_print_msg("run %d: smaps read %.2f, cat %.2f, maps %.2f, dump %.2f ms\n",
			       i, t_smaps[i], t_cat[i], t_maps[i], t_dump[i]);
	ms_smaps = median(t_smaps, runs);
	ms_maps = median(t_maps, runs);
	ms_cat = median(t_cat, runs);
	ms_dump = median(t_dump, runs);
	ksft_print_msg("%d threads, guarded stacks of %d pages in one VMA; median of %d runs\n",
		       n, STACK_PAGES, runs);
	snprintf(label, sizeof(label), "read /proc/PID/smaps once, in this process (%ld B)",
		 smaps_bytes);
	figure(label, ms_smaps, "ms");
	figure("cat /proc/PID/smaps, a command", ms_cat, "ms");
	snprintf(label, sizeof(label), "ptmarkctl maps PID, a command (%ld guard runs)",
		 listed);
	figure(label, ms_maps, "ms");
	ksft_print_msg("(a command: fork, exec, its output read from a pipe, wait)\n");
	figure("ratio (a) ptmarkctl maps / cat smaps, both commands",
	       ms_cat > 0 ? ms_maps / ms_cat : 0, "");
	figure("ratio (b) ptmarkctl maps / smaps read in this process",
	       ms_smaps > 0 ? ms_maps / ms_smaps : 0, "");
	figure("ratio dump in-process / smaps read (the kernel's side)",
	       ms_smaps > 0 ? ms_dump / ms_smaps : 0, "");
	ksft_print_msg("where ptmarkctl's time goes:\n");
	figure("  ptmarkctl --version (starting the program)",
	       median(t_version, runs), "ms");
	figure("  ptmarkctl features (start, family lookup, request)",
	       median(t_features, runs), "ms");
	figure("  the maps dump, in this process", ms_dump, "ms");
	ksft_test_result(good, "ptmarkctl maps lists all %d guard runs\n", n);
	ksft_finished();
}
