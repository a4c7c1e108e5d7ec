// SPDX-License-Identifier: GPL-2.0
/*
 * guard-uffdwp-restart: MADV_GUARD_INSTALL over a uffd-wp protected shmem
 * page never returns.
 *
 * A page of a memfd is registered for uffd-wp and write-protected, first
 * while present, then zapped to a uffd-wp marker.  madvise(GUARD_INSTALL)
 * on it, in a thread, must return within a few seconds - with the guard
 * installed, or refused.  Where the bug is, the zap that the install
 * does before each try keeps the uffd-wp marker, the install finds a
 * non-none entry every time and the call restarts forever: only SIGKILL
 * (here, the process's exit) ends it.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "repro.h"

#define WAIT_S 3

struct call {
	char *addr;
	atomic_int state;	/* 0 running, 1 returned */
	int ret, err;
};

static void *guard_install(void *arg)
{
	struct call *c = arg;

	c->ret = madvise(c->addr, getpagesize(), MADV_GUARD_INSTALL);
	c->err = errno;
	atomic_store(&c->state, 1);
	return NULL;
}

/* 1 if MADV_GUARD_INSTALL on @addr did not return in WAIT_S seconds. */
static int hangs(char *addr)
{
	struct call *c = calloc(1, sizeof(*c));
	pthread_t thread;
	int i;

	c->addr = addr;
	pthread_create(&thread, NULL, guard_install, c);
	for (i = 0; i < WAIT_S * 100 && !atomic_load(&c->state); i++)
		usleep(10000);
	if (!atomic_load(&c->state))
		return 1;	/* c and the thread stay: exit() ends both */
	pthread_join(thread, NULL);
	printf("MADV_GUARD_INSTALL returned %d (%s)\n", c->ret,
	       c->ret ? strerror(c->err) : "guard installed");
	free(c);
	return 0;
}

int main(void)
{
	size_t ps = getpagesize();
	int uffd, fd, probe_fd;
	char *mem, *probe;

	/* Guard regions on shmem came in 6.15. */
	probe = memfd_pages(1, &probe_fd);
	if (madvise(probe, ps, MADV_GUARD_INSTALL))
		cannot("MADV_GUARD_INSTALL on a memfd");

	uffd = uffd_with(UFFD_FEATURE_WP_HUGETLBFS_SHMEM);
	mem = memfd_pages(2, &fd);
	uffd_register_wp(uffd, mem, 2 * ps);
	if (uffd_protect(uffd, mem, 2 * ps, 1))
		cannot("UFFDIO_WRITEPROTECT");

	if (hangs(mem)) {
		printf("bug: MADV_GUARD_INSTALL over a uffd-wp protected present memfd page did not return in %d s\n",
		       WAIT_S);
		return REPRO_SEEN;
	}
	/* The second page as a marker: zapping keeps its protection. */
	if (madvise(mem + ps, ps, MADV_DONTNEED))
		cannot("MADV_DONTNEED");
	if (hangs(mem + ps)) {
		printf("bug: MADV_GUARD_INSTALL over a uffd-wp marker in a memfd mapping did not return in %d s\n",
		       WAIT_S);
		return REPRO_SEEN;
	}
	printf("not seen: MADV_GUARD_INSTALL returned over a protected page and over a marker\n");
	return REPRO_NOT_SEEN;
}
