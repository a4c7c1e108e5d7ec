// SPDX-License-Identifier: GPL-2.0
/*
 * rwp-shmem-reclaim: userfaultfd read-write protection of a shmem page is
 * lost when the page is reclaimed.
 *
 * Documentation/admin-guide/mm/userfaultfd.rst says RWP works on shmem and
 * that "Protection is preserved across page reclaim".  A one-page memfd,
 * mapped shared and written, is registered for RWP (sync mode) and
 * protected: pagemap shows the page present with the uffd bit (57).  After
 * MADV_PAGEOUT (swap must be active) the first read must still raise an
 * RWP fault.  Where the bug is, the page table entry is none (pagemap
 * shows the page neither present nor swapped, without the uffd bit), and
 * a read from a second thread goes through at once, raises no message and
 * sees the old data.
 *
 * Needs a kernel with UFFD_FEATURE_RWP (7.3) and an active swap device;
 * instantaneous but for the wait of up to 3 s for a fault.
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include "repro.h"

#ifndef UFFD_FEATURE_RWP
#define UFFD_FEATURE_RWP		(1 << 17)
#define UFFDIO_REGISTER_MODE_RWP	((__u64)1 << 3)
#define UFFD_PAGEFAULT_FLAG_RWP		(1 << 3)
#define _UFFDIO_RWPROTECT		(0x09)
struct uffdio_rwprotect {
	struct uffdio_range range;
	__u64 mode;
};

#define UFFDIO_RWPROTECT_MODE_RWP	((__u64)1 << 0)
#define UFFDIO_RWPROTECT	_IOWR(UFFDIO, _UFFDIO_RWPROTECT, \
				      struct uffdio_rwprotect)
#endif

#ifndef MADV_PAGEOUT
#define MADV_PAGEOUT	21
#endif

#define REPRO_UNEXPECTED	2

static volatile char *page;
static char seen_value;
static atomic_bool read_done;

static void *reader(void *arg)
{
	(void)arg;
	seen_value = *page;
	atomic_store(&read_done, true);
	return NULL;
}

static bool kernel_has_rwp(void)
{
	struct uffdio_api api = { .api = UFFD_API };
	int fd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	bool has;

	if (fd < 0)
		cannot("userfaultfd()");
	has = !ioctl(fd, UFFDIO_API, &api) && (api.features & UFFD_FEATURE_RWP);
	close(fd);
	return has;
}

/* Whether /proc/swaps lists a device below its header line. */
static bool swap_active(void)
{
	FILE *f = fopen("/proc/swaps", "r");
	int c, lines = 0;

	if (!f)
		return false;
	while ((c = fgetc(f)) != EOF)
		lines += c == '\n';
	fclose(f);
	return lines > 1;
}

static int rwprotect(int uffd, void *addr, size_t len, bool on)
{
	struct uffdio_rwprotect rwp = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = on ? UFFDIO_RWPROTECT_MODE_RWP : 0,
	};

	return ioctl(uffd, UFFDIO_RWPROTECT, &rwp);
}

int main(void)
{
	size_t ps = getpagesize();
	struct pollfd pfd;
	struct uffd_msg msg;
	pthread_t thread;
	int uffd, fd, pagemap, tries, ret = 0;
	double waited;
	struct timespec t0;
	uint64_t e;
	char *mem;

	pagemap = open("/proc/self/pagemap", O_RDONLY);
	if (pagemap < 0)
		cannot("/proc/self/pagemap");
	if (!kernel_has_rwp()) {
		printf("cannot reproduce here: kernel lacks UFFD_FEATURE_RWP\n");
		return REPRO_CANNOT;
	}
	if (!swap_active()) {
		printf("cannot reproduce here: no active swap device (/proc/swaps)\n");
		return REPRO_CANNOT;
	}

	mem = memfd_pages(1, &fd);
	page = mem;
	uffd = uffd_with(UFFD_FEATURE_RWP);
	if (uffd_register(uffd, mem, ps, UFFDIO_REGISTER_MODE_RWP))
		cannot("UFFDIO_REGISTER_MODE_RWP on shmem");
	if (rwprotect(uffd, mem, ps, true))
		cannot("UFFDIO_RWPROTECT");
	e = pagemap_entry(pagemap, mem);
	printf("protected: pagemap %#llx\n", (unsigned long long)e);
	if (!(e & PM_PRESENT) || !(e & PM_UFFD_WP)) {
		printf("unexpected: the protected page is not present with the uffd bit\n");
		return REPRO_UNEXPECTED;
	}

	for (tries = 0; tries < 3 && (e & PM_PRESENT); tries++) {
		if (madvise(mem, ps, MADV_PAGEOUT))
			cannot("MADV_PAGEOUT");
		e = pagemap_entry(pagemap, mem);
	}
	printf("after MADV_PAGEOUT: pagemap %#llx\n", (unsigned long long)e);
	if (e & PM_PRESENT) {
		printf("not exercised: MADV_PAGEOUT left the page mapped\n");
		return REPRO_NOT_EXERCISED;
	}

	/* The read, from a thread: a protected page makes it wait. */
	if (pthread_create(&thread, NULL, reader, NULL))
		cannot("pthread_create()");
	pfd = (struct pollfd){ .fd = uffd, .events = POLLIN };
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		ret = poll(&pfd, 1, 10);
		waited = seconds_since(&t0);
	} while (ret == 0 && !atomic_load(&read_done) && waited < 3);
	if (ret == 0)
		ret = poll(&pfd, 1, 0);

	if (ret > 0) {
		if (read(uffd, &msg, sizeof(msg)) != sizeof(msg)) {
			perror("read of the userfaultfd");
			return REPRO_UNEXPECTED;
		}
		printf("the read raised a fault: event %#x flags %#llx\n",
		       msg.event,
		       (unsigned long long)msg.arg.pagefault.flags);
		if (rwprotect(uffd, mem, ps, false))
			cannot("UFFDIO_RWPROTECT to unprotect");
		pthread_join(thread, NULL);
		if (msg.event != UFFD_EVENT_PAGEFAULT ||
		    msg.arg.pagefault.flags != UFFD_PAGEFAULT_FLAG_RWP ||
		    seen_value != 'a') {
			printf("unexpected: not a plain RWP read fault, or the read saw %#x\n",
			       seen_value);
			return REPRO_UNEXPECTED;
		}
		printf("not seen: the first read after reclaim raised an RWP fault\n");
		return REPRO_NOT_SEEN;
	}
	if (ret < 0) {
		perror("poll of the userfaultfd");
		return REPRO_UNEXPECTED;
	}
	if (!atomic_load(&read_done)) {
		printf("unexpected: the read blocked for %.1f s without a fault message\n",
		       waited);
		return REPRO_UNEXPECTED;
	}
	pthread_join(thread, NULL);
	if (seen_value != 'a') {
		printf("unexpected: the read went through unreported and saw %#x\n",
		       seen_value);
		return REPRO_UNEXPECTED;
	}
	if (e & PM_UFFD_WP) {
		printf("unexpected: an entry kept the uffd bit, yet the read went through\n");
		return REPRO_UNEXPECTED;
	}
	printf("bug: after MADV_PAGEOUT the RWP-protected shmem page has no entry and a read went through unreported\n");
	return REPRO_SEEN;
}
