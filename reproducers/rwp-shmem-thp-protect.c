// SPDX-License-Identifier: GPL-2.0
/*
 * rwp-shmem-thp-protect: UFFDIO_RWPROTECT of a PMD-mapped shmem THP
 * protects nothing and unmaps it.
 *
 * Documentation/admin-guide/mm/userfaultfd.rst says RWP works on shmem
 * and makes the present entries of the range PROT_NONE.  A file on a
 * huge=always tmpfs (a detached mount of our own), one PMD long, written
 * and mapped shared, is PMD-mapped (smaps' ShmemPmdMapped); registered
 * for RWP (sync mode) and protected, a read of it must raise an RWP
 * fault.  Where the bug is, the protection left no entry at all (pagemap
 * shows the page neither present nor carrying the uffd bit) and a read
 * from a second thread goes through at once, raises no message and sees
 * the old data.
 *
 * Needs a kernel with UFFD_FEATURE_RWP (7.3), transparent huge pages in
 * tmpfs, and the right to mount (fsopen()); instantaneous but for the wait
 * of up to 3 s for a fault.
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <linux/mount.h>
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

#define REPRO_UNEXPECTED	2

static volatile char *target;
static char seen_value;
static atomic_bool read_done;

static void *reader(void *arg)
{
	(void)arg;
	seen_value = *target;
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

static int rwprotect(int uffd, void *addr, size_t len, bool on)
{
	struct uffdio_rwprotect rwp = {
		.range = { .start = (uintptr_t)addr, .len = len },
		.mode = on ? UFFDIO_RWPROTECT_MODE_RWP : 0,
	};

	return ioctl(uffd, UFFDIO_RWPROTECT, &rwp);
}

/* A file of @len bytes on a huge=always tmpfs of our own, or exit 4. */
static int huge_tmpfs_file(size_t len)
{
	int fsfd, mnt, fd;

	fsfd = syscall(__NR_fsopen, "tmpfs", FSOPEN_CLOEXEC);
	if (fsfd < 0)
		cannot("fsopen(tmpfs)");
	if (syscall(__NR_fsconfig, fsfd, FSCONFIG_SET_STRING, "huge", "always", 0) ||
	    syscall(__NR_fsconfig, fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0))
		cannot("tmpfs with huge=always");
	mnt = syscall(__NR_fsmount, fsfd, FSMOUNT_CLOEXEC, 0);
	if (mnt < 0)
		cannot("fsmount(tmpfs)");
	fd = openat(mnt, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, len))
		cannot("a file on huge tmpfs");
	close(mnt);
	close(fsfd);
	return fd;
}

/* smaps' ShmemPmdMapped of the mapping at @addr, in kB; -1 if not found. */
static long shmem_pmd_mapped_kb(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[256], head[32];
	bool in = false;
	long kb = -1;

	if (!f)
		cannot("/proc/self/smaps");
	snprintf(head, sizeof(head), "%lx-", (unsigned long)(uintptr_t)addr);
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, head, strlen(head)))
			in = true;
		else if (in && sscanf(line, "ShmemPmdMapped: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

int main(void)
{
	struct pollfd pfd;
	struct uffd_msg msg;
	pthread_t thread;
	int uffd, fd, pagemap, ret;
	long pmd_kb;
	size_t pmd = 2UL << 20;
	FILE *f;
	struct timespec t0;
	double waited;
	uint64_t e;
	char *mem, *spot;

	pagemap = open("/proc/self/pagemap", O_RDONLY);
	if (pagemap < 0)
		cannot("/proc/self/pagemap");
	if (!kernel_has_rwp()) {
		printf("cannot reproduce here: kernel lacks UFFD_FEATURE_RWP\n");
		return REPRO_CANNOT;
	}
	f = fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "r");
	if (!f || fscanf(f, "%zu", &pmd) != 1)
		cannot("transparent huge pages (hpage_pmd_size)");
	fclose(f);

	fd = huge_tmpfs_file(pmd);
	/* A PMD-aligned spot, so that the folio can be PMD-mapped. */
	spot = mmap(NULL, 2 * pmd, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (spot == MAP_FAILED)
		cannot("mmap() of a spot");
	mem = (char *)(((uintptr_t)spot + pmd - 1) & ~(uintptr_t)(pmd - 1));
	mem = mmap(mem, pmd, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	if (mem == MAP_FAILED)
		cannot("mmap() of the huge tmpfs file");
	memset(mem, 'H', pmd);
	target = mem;
	pmd_kb = shmem_pmd_mapped_kb(mem);
	printf("written: ShmemPmdMapped %ld kB\n", pmd_kb);
	if (pmd_kb * 1024 != (long)pmd) {
		printf("not exercised: the huge tmpfs folio is not PMD-mapped\n");
		return REPRO_NOT_EXERCISED;
	}

	uffd = uffd_with(UFFD_FEATURE_RWP);
	if (uffd_register(uffd, mem, pmd, UFFDIO_REGISTER_MODE_RWP))
		cannot("UFFDIO_REGISTER_MODE_RWP on huge tmpfs");
	if (rwprotect(uffd, mem, pmd, true))
		cannot("UFFDIO_RWPROTECT");
	e = pagemap_entry(pagemap, mem);
	printf("protected: pagemap %#llx, ShmemPmdMapped %ld kB\n",
	       (unsigned long long)e, shmem_pmd_mapped_kb(mem));

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
		       msg.event, (unsigned long long)msg.arg.pagefault.flags);
		if (rwprotect(uffd, mem, pmd, false))
			cannot("UFFDIO_RWPROTECT to unprotect");
		pthread_join(thread, NULL);
		if (msg.event != UFFD_EVENT_PAGEFAULT ||
		    msg.arg.pagefault.flags != UFFD_PAGEFAULT_FLAG_RWP ||
		    seen_value != 'H') {
			printf("unexpected: not a plain RWP read fault, or the read saw %#x\n",
			       seen_value);
			return REPRO_UNEXPECTED;
		}
		printf("not seen: the read of the protected folio raised an RWP fault\n");
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
	if (seen_value != 'H' || (e & (PM_PRESENT | PM_UFFD_WP))) {
		printf("unexpected: the read went through unreported, saw %#x, over pagemap %#llx\n",
		       seen_value, (unsigned long long)e);
		return REPRO_UNEXPECTED;
	}
	printf("bug: UFFDIO_RWPROTECT left the PMD-mapped shmem folio without an entry and a read went through unreported\n");
	return REPRO_SEEN;
}
