// SPDX-License-Identifier: GPL-2.0
/*
 * ptmark_demo [--stay] [DIR]: map 16 pages each of anonymous memory,
 * shmem (memfd) and a file in DIR (default /tmp), put guard regions in a
 * fixed pattern into each, and print what the page tables hold, one
 * character a page:
 *
 *   A anonymous page   F file (page-cache) page   G guard marker
 *   S swap entry       . none
 *
 * the letters of ptmark's "map" dump (Documentation/ptmark.rst), so the
 * two pictures of a range read the same.
 *
 * It is what `make run` shows a newcomer.  The picture comes from
 * /proc/self/pagemap (PM_GUARD_REGION is bit 58 where the kernel has it);
 * with ptmark.ko loaded, the module's own "ptes" and "map" dumps of the
 * same range follow it.  Last, three threads start on stacks carved out of
 * one mapping, each guarded at its low end as glibc 2.42+ guards thread
 * stacks, and `ptmarkctl maps` (installed beside the demo) shows the whole
 * process: one rw-p VMA for the stacks, and where its guard pages are.
 * With --stay it then waits, mappings and threads in place, until killed:
 * the process `make shell` leaves running for ptmarkctl to look at.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ptmark_lib.h"


#define NR_PAGES	16

/* Pages to guard: a pair, a single page, and the last four. */
static const int guarded[] = { 2, 3, 8, 12, 13, 14, 15 };

static long page_size;

static void show(const char *what, char *p)
{
	char picture[NR_PAGES + 1] = { 0 };
	uint64_t pm[NR_PAGES];
	int err, i;

	err = pagemap_read(p, NR_PAGES, pm);
	if (err) {
		printf("%-6s pagemap unreadable: %s\n", what, strerror(-err));
		return;
	}
	for (i = 0; i < NR_PAGES; i++)
		picture[i] = pm[i] & PM_GUARD_REGION ? 'G' :
			     pm[i] & PM_PRESENT ?
				(pm[i] & PM_FILE ? 'F' : 'A') :
			     pm[i] & PM_SWAP ? 'S' : '.';
	printf("%-6s %012lx-%012lx  %s\n", what, (unsigned long)p,
	       (unsigned long)p + NR_PAGES * page_size, picture);
}

static void cat(const char *path)
{
	char buf[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, n, stdout);
	close(fd);
}

/* Point ptmark's debugfs target at the range and print both dumps. */
static void show_ptmark(char *p)
{
	const char *target = "/sys/kernel/debug/ptmark/target";
	char line[128];
	int fd, len;

	fd = open(target, O_WRONLY);
	if (fd < 0)
		return;
	len = snprintf(line, sizeof(line), "%d %lx-%lx", getpid(),
		       (unsigned long)p,
		       (unsigned long)p + NR_PAGES * page_size);
	if (write(fd, line, len) != len) {
		printf("writing %s: %s\n", target, strerror(errno));
		close(fd);
		return;
	}
	close(fd);
	fflush(stdout);
	cat("/sys/kernel/debug/ptmark/ptes");
	cat("/sys/kernel/debug/ptmark/map");
	fflush(stdout);
}

/* Install one guard page with madvise(), or with the module's ioctl. */
static int guard_page(char *page, bool by_ioctl)
{
	long ret;

	if (!by_ioctl)
		return madvise(page, page_size, MADV_GUARD_INSTALL) ? -errno : 0;
	ret = ptmark_guard(page, page_size, true);
	return ret < 0 ? ret : 0;
}

static void demo(const char *what, char *p, bool by_ioctl)
{
	size_t i;
	int err;

	if (p == MAP_FAILED) {
		printf("%-6s mmap failed: %s\n", what, strerror(errno));
		return;
	}
	memset(p, 'x', NR_PAGES * page_size);
	for (i = 0; i < sizeof(guarded) / sizeof(guarded[0]); i++) {
		err = guard_page(p + guarded[i] * page_size, by_ioctl);
		if (err) {
			printf("%-6s %s: %s\n", what, by_ioctl ?
			       "PTMARK_IOC_MARKER" : "MADV_GUARD_INSTALL",
			       strerror(-err));
			break;
		}
	}
	show(what, p);
	show_ptmark(p);
}

#define NR_THREADS	3
#define STACK_PAGES	16

static void *idle_thread(void *arg)
{
	for (;;)
		pause();
	return NULL;
}

/* Threads on stacks of ours with a guard page below each. */
static void guarded_stacks(void)
{
	char *stacks = mmap(NULL, NR_THREADS * STACK_PAGES * page_size,
			    PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	pthread_attr_t attr;
	pthread_t thread;
	int i;

	if (stacks == MAP_FAILED)
		return;
	for (i = 0; i < NR_THREADS; i++) {
		char *stack = stacks + i * STACK_PAGES * page_size;

		if (madvise(stack, page_size, MADV_GUARD_INSTALL))
			printf("thread stacks: MADV_GUARD_INSTALL: %s\n",
			       strerror(errno));
		pthread_attr_init(&attr);
		pthread_attr_setstack(&attr, stack + page_size,
				      (STACK_PAGES - 1) * page_size);
		pthread_create(&thread, &attr, idle_thread, NULL);
		pthread_attr_destroy(&attr);
	}
	printf("thread stacks at %lx, %d pages each, guard page at the bottom\n",
	       (unsigned long)stacks, STACK_PAGES);
}

/* `ptmarkctl maps` of this process, if ptmarkctl is installed beside us. */
static void ptmarkctl_maps(const char *argv0)
{
	char self[1024], cmd[1100];

	snprintf(self, sizeof(self), "%s", argv0);
	snprintf(cmd, sizeof(cmd), "%s/ptmarkctl", dirname(self));
	if (access(cmd, X_OK))
		return;
	snprintf(cmd + strlen(cmd), sizeof(cmd) - strlen(cmd), " maps %d",
		 getpid());
	printf("=== %s\n", cmd);
	fflush(stdout);
	if (system(cmd))
		printf("ptmarkctl failed\n");
}

int main(int argc, char **argv)
{
	bool stay = argc > 1 && !strcmp(argv[1], "--stay");
	const char *self = argv[0], *dir;
	size_t len;
	char path[4096];
	int fd;

	if (stay) {
		argc--;
		argv++;
	}
	dir = argc > 1 ? argv[1] : "/tmp";
	page_size = sysconf(_SC_PAGESIZE);
	len = NR_PAGES * page_size;
	printf("pid %d; legend, as ptmark's map: A anonymous page, F file page, G guard marker, S swap entry, . none\n",
	       getpid());

	demo("anon", mmap(NULL, len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), false);

	fd = memfd_create("ptmark-demo", 0);
	if (fd < 0 || ftruncate(fd, len))
		printf("shmem  memfd: %s\n", strerror(errno));
	else
		demo("shmem", mmap(NULL, len, PROT_READ | PROT_WRITE,
				   MAP_SHARED, fd, 0), false);

	snprintf(path, sizeof(path), "%s/ptmark-demo.dat", dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, len))
		printf("file   %s: %s\n", path, strerror(errno));
	else
		demo("file", mmap(NULL, len, PROT_READ | PROT_WRITE,
				  MAP_SHARED, fd, 0), false);
	unlink(path);

	/* The same pattern once more, placed by ptmark's own ioctl. */
	if (access(PTMARK_DEVICE, F_OK) == 0)
		demo("ioctl", mmap(NULL, len, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), true);

	guarded_stacks();
	ptmarkctl_maps(self);
	if (stay) {
		printf("pid %d stays until killed\n", getpid());
		fflush(stdout);
		for (;;)
			pause();
	}
	return 0;
}
