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
 * cannot show where a stack ends.  Then, @runs times (default 5, at most
 * 15) each: read /proc/CHILD/smaps to its end in this process, and make
 * the vma-get dump `ptmarkctl maps` makes, here too: the kernel's side
 * of each, adjacent in time; then, as commands started and read alike
 * (fork, exec, the output read from a pipe to its end, wait): `ptmarkctl
 * maps CHILD` (installed beside this program), counting the guard runs
 * it lists, `cat /proc/CHILD/smaps`, `ptmarkctl --version` (starting the
 * program), `ptmarkctl features` (that, the family lookup and one
 * request), and cat of maps' listing and of smaps' text, kept in files
 * under /tmp: what moving as many bytes through a command costs.
 *
 * Each command runs twice a run: with its addresses randomized, as
 * always, and with ADDR_NO_RANDOMIZE.  Under TCG the difference is the
 * emulator's, not the program's: QEMU keys the code it has translated by
 * virtual address too, so a dynamically linked program, its loader and
 * its libraries at new addresses each start is translated anew (35 to 55
 * ms for ptmarkctl --version in the dev VM, 14 to 20 with fixed
 * addresses); a static program such as busybox's cat is at the same
 * addresses every time.  Hardware has no such cost.
 *
 * Each run's figures are printed, then the medians, and the ratios:
 * the kernel's side (the dump against the read), and for each way of
 * starting (a) ptmarkctl maps against cat of the smaps file, (b) maps
 * against the read in this process, (c) maps beyond cat of its listing
 * as a file against cat of smaps beyond cat of its text as a file: what
 * each costs past starting a program and moving its output.
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
#include <sys/personality.h>
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

/*
 * The dump ptmarkctl maps makes, here: the guard runs it got, or -1.
 * *@open_ms: how long of it opening the socket and looking up the family
 * took.
 */
static long dump_runs(pid_t pid, double *open_ms)
{
	static char buf[PTMARK_NL_BUF];
	double t0 = monotonic_ms();
	struct ptmark_nl nl;
	struct nlmsghdr *nlh;
	long n = 0;

	if (ptmark_nl_open(&nl))
		return -1;
	*open_ms = monotonic_ms() - t0;
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
static size_t out_cap = 1 << 20, out_len;

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
		      bool fixed, long *guards)
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
		if (fixed && personality(ADDR_NO_RANDOMIZE) < 0)
			_exit(126);
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
	out_len = len;
	*guards = count_guard_lines(out, len);
	return ms;
}

/*
 * The output of the last command run, in a new file under /tmp (its
 * name into @path): 0, or -1 with @path empty.
 */
static int save_output(char *path, size_t size)
{
	int fd;

	snprintf(path, size, "/tmp/bench_maps.XXXXXX");
	fd = mkstemp(path);
	if (fd < 0) {
		path[0] = '\0';
		return -1;
	}
	if (write(fd, out, out_len) != (ssize_t)out_len) {
		close(fd);
		unlink(path);
		path[0] = '\0';
		return -1;
	}
	close(fd);
	return 0;
}

static void figure(const char *label, double value, const char *unit)
{
	ksft_print_msg("%-56s %8.2f%s%s\n", label, value, *unit ? " " : "",
		       unit);
}

/* @num / @den, 0 when @den is not positive. */
static double ratio_of(double num, double den)
{
	return den > 0 ? num / den : 0;
}

/* The figure "  ratio (@name) @what", primed for fixed addresses. */
static void ratio(char name, bool fixed, const char *what, double num,
		  double den)
{
	char label[96];

	snprintf(label, sizeof(label), "  ratio (%c%s) %s", name,
		 fixed ? "'" : "", what);
	figure(label, ratio_of(num, den), "");
}

/* The two ways each command is started: see the comment at the top. */
enum { RANDOM, FIXED, NR_MODES };

static const char *const mode_name[NR_MODES] = {
	"addresses randomized", "ADDR_NO_RANDOMIZE",
};

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10000;
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	double t_maps[NR_MODES][MAX_RUNS], t_cat[NR_MODES][MAX_RUNS];
	double t_version[NR_MODES][MAX_RUNS], t_features[NR_MODES][MAX_RUNS];
	double t_smaps[MAX_RUNS], t_dump[MAX_RUNS], t_open[MAX_RUNS];
	double r_kernel[MAX_RUNS];
	double t_lfile[NR_MODES][MAX_RUNS], t_sfile[NR_MODES][MAX_RUNS];
	double ms_lfile, ms_sfile;
	char lfile[64] = "", sfile[64] = "";
	long lfile_bytes, sfile_bytes;
	bool saved;
	double ms_smaps, ms_dump, ms_maps[NR_MODES], ms_cat[NR_MODES];
	char self[512], ctl[600], path[64], pidstr[16], label[96];
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	int pipefd[2], i, m;
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
	if (access(ctl, X_OK) ||
	    run_cmd(ctl, "features", NULL, false, &ignored) < 0)
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
	/*
	 * Once untimed, each output kept in a file: what moving as many
	 * bytes costs a command, cat of a regular file, is timed beside.
	 */
	saved = run_cmd(ctl, "maps", pidstr, false, &ignored) >= 0 &&
		!save_output(lfile, sizeof(lfile));
	lfile_bytes = out_len;
	saved = saved && run_cmd("cat", path, NULL, false, &ignored) >= 0 &&
		!save_output(sfile, sizeof(sfile));
	sfile_bytes = out_len;
	if (!saved) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
		if (lfile[0])
			unlink(lfile);
		ksft_exit_fail_msg("ptmarkctl maps or cat of smaps, or keeping its output in /tmp, failed\n");
	}
	for (i = 0; i < runs; i++) {
		double t0 = monotonic_ms();
		bool failed = false;
		long dumped;

		smaps_bytes = read_all(path);
		t_smaps[i] = monotonic_ms() - t0;
		failed |= smaps_bytes < 0;
		t0 = monotonic_ms();
		dumped = dump_runs(child, &t_open[i]);
		t_dump[i] = monotonic_ms() - t0;
		r_kernel[i] = ratio_of(t_dump[i], t_smaps[i]);
		for (m = 0; m < NR_MODES; m++) {
			t_maps[m][i] = run_cmd(ctl, "maps", pidstr, m == FIXED,
					       &listed);
			t_cat[m][i] = run_cmd("cat", path, NULL, m == FIXED,
					      &ignored);
			t_version[m][i] = run_cmd(ctl, "--version", NULL,
						  m == FIXED, &ignored);
			t_features[m][i] = run_cmd(ctl, "features", NULL,
						   m == FIXED, &ignored);
			t_lfile[m][i] = run_cmd("cat", lfile, NULL, m == FIXED,
						&ignored);
			t_sfile[m][i] = run_cmd("cat", sfile, NULL, m == FIXED,
						&ignored);
			failed |= t_maps[m][i] < 0 || t_cat[m][i] < 0 ||
				  t_version[m][i] < 0 || t_features[m][i] < 0 ||
				  t_lfile[m][i] < 0 || t_sfile[m][i] < 0;
			if (listed != n) {
				ksft_print_msg("run %d: ptmarkctl maps listed %ld guard runs of %d (%s)\n",
					       i, listed, n, mode_name[m]);
				good = false;
			}
		}
		if (failed) {
			ksft_print_msg("run %d: a read or a command failed\n", i);
			good = false;
		}
		if (dumped != n) {
			ksft_print_msg("run %d: the dump had %ld guard runs of %d\n",
				       i, dumped, n);
			good = false;
		}
	}
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	unlink(lfile);
	unlink(sfile);

	/* Each run's figures, before median_of() sorts them. */
	for (i = 0; i < runs; i++)
		ksft_print_msg("run %d: smaps read %.2f, dump %.2f; cat %.2f / %.2f, maps %.2f / %.2f ms (randomized / fixed)\n",
			       i, t_smaps[i], t_dump[i], t_cat[RANDOM][i],
			       t_cat[FIXED][i], t_maps[RANDOM][i],
			       t_maps[FIXED][i]);
	ms_smaps = median_of(t_smaps, runs);
	ms_dump = median_of(t_dump, runs);
	ksft_print_msg("%d threads, guarded stacks of %d pages in one VMA; median of %d runs\n",
		       n, STACK_PAGES, runs);
	snprintf(label, sizeof(label), "read /proc/PID/smaps once, in this process (%ld B)",
		 smaps_bytes);
	figure(label, ms_smaps, "ms");
	figure("the dump ptmarkctl maps makes, in this process", ms_dump, "ms");
	figure("  of which the socket and the family's lookup",
	       median_of(t_open, runs), "ms");
	figure("ratio dump in-process / smaps read (the kernel's side)",
	       ratio_of(ms_dump, ms_smaps), "");
	figure("  the same, median of each run's (read and dump adjacent)",
	       median_of(r_kernel, runs), "");
	ksft_print_msg("commands (fork, exec, output read from a pipe, wait):\n");
	for (m = 0; m < NR_MODES; m++) {
		ms_maps[m] = median_of(t_maps[m], runs);
		ms_cat[m] = median_of(t_cat[m], runs);
		ksft_print_msg("started with %s:\n", mode_name[m]);
		figure("  cat /proc/PID/smaps", ms_cat[m], "ms");
		snprintf(label, sizeof(label), "  ptmarkctl maps PID (%ld guard runs)",
			 listed);
		figure(label, ms_maps[m], "ms");
		figure("  ptmarkctl --version (starting the program)",
		       median_of(t_version[m], runs), "ms");
		figure("  ptmarkctl features (start, family lookup, request)",
		       median_of(t_features[m], runs), "ms");
		ratio('a', m == FIXED, "ptmarkctl maps / cat smaps",
		      ms_maps[m], ms_cat[m]);
		ratio('b', m == FIXED, "ptmarkctl maps / smaps read",
		      ms_maps[m], ms_smaps);
		ms_lfile = median_of(t_lfile[m], runs);
		ms_sfile = median_of(t_sfile[m], runs);
		snprintf(label, sizeof(label), "  cat of maps' listing as a file (%ld B)",
			 lfile_bytes);
		figure(label, ms_lfile, "ms");
		snprintf(label, sizeof(label), "  cat of smaps' text as a file (%ld B)",
			 sfile_bytes);
		figure(label, ms_sfile, "ms");
		ratio('c', m == FIXED, "each beyond cat of its output as a file",
		      ms_maps[m] - ms_lfile, ms_cat[m] - ms_sfile);
	}
	ksft_test_result(good, "ptmarkctl maps lists all %d guard runs\n", n);
	ksft_finished();
}
