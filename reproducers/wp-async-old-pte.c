// SPDX-License-Identifier: GPL-2.0
/*
 * wp-async-old-pte: in userfaultfd's async write-protect mode, a write
 * fault on a protected page drops the uffd-wp bit of the live PTE with a
 * plain set_pte_at() of a value read before (do_wp_page()), so that an
 * access flag the MMU sets in between is lost.
 *
 * arm64's CONFIG_DEBUG_VM checks such stores over valid entries and
 * warns when the new one is old ("__check_safe_pte_update: racy access
 * flag clearing").  A one-page memfd, mapped shared and written, is
 * registered for WP in async mode with UFFD_FEATURE_EVENT_FORK and
 * protected; fork() copies the protected PTE into the child old
 * (__copy_present_ptes()), and the child writes to it.  Where the bug is,
 * the warning, with do_wp_page() in its call trace, is in the kernel log
 * (read as root from /dev/kmsg, after debugfs's clear_warn_once re-armed
 * it).
 *
 * Only arm64 with CONFIG_DEBUG_VM has the check that shows the symptom;
 * elsewhere the reproducer cannot say (exit 4).  Instantaneous.
 */
#include <pthread.h>
#include <sys/wait.h>
#include "repro.h"

#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC	(1 << 15)
#endif

#define WARNING_TEXT	"__check_safe_pte_update: racy access flag clearing"
#define TRACE_TEXT	" do_wp_page+"

static int uffd, child_uffd = -1;

/*
 * fork() waits until someone reads its UFFD_EVENT_FORK.  The child's
 * userfaultfd it hands over must stay open while the child writes:
 * closing it unregisters the child's VMA and unprotects its PTEs.
 */
static void *fork_event_reader(void *arg)
{
	struct uffd_msg msg;
	int i;

	(void)arg;
	for (i = 0; i < 3000; i++) {
		if (read(uffd, &msg, sizeof(msg)) == sizeof(msg)) {
			if (msg.event == UFFD_EVENT_FORK)
				child_uffd = msg.arg.fork.ufd;
			return NULL;
		}
		usleep(1000);
	}
	return NULL;
}

int main(void)
{
	bool warned = false, traced = false;
	char rec[8192];
	pthread_t thread;
	int fd, kmsg, status = 0;
	char *mem;
	pid_t pid;
	ssize_t n;

#ifndef __aarch64__
	printf("cannot reproduce here: the symptom is arm64's CONFIG_DEBUG_VM warning\n");
	return REPRO_CANNOT;
#endif
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (kmsg < 0 || lseek(kmsg, 0, SEEK_END) < 0)
		cannot("/dev/kmsg");
	fd = open("/sys/kernel/debug/clear_warn_once", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, "1\n", 2) != 2)
		cannot("/sys/kernel/debug/clear_warn_once");
	close(fd);

	uffd = uffd_with(UFFD_FEATURE_PAGEFAULT_FLAG_WP | UFFD_FEATURE_WP_ASYNC |
			 UFFD_FEATURE_EVENT_FORK);
	mem = memfd_pages(1, &fd);
	if (uffd_register(uffd, mem, getpagesize(), UFFDIO_REGISTER_MODE_WP))
		cannot("UFFDIO_REGISTER_MODE_WP of a memfd in async mode");
	if (uffd_protect(uffd, mem, getpagesize(), 1))
		cannot("UFFDIO_WRITEPROTECT");
	if (pthread_create(&thread, NULL, fork_event_reader, NULL))
		cannot("pthread_create()");
	pid = fork();
	if (pid < 0)
		cannot("fork()");
	if (pid == 0) {
		/* The copied PTE is old and protected: async WP resolves it. */
		mem[0] = 'z';
		_exit(0);
	}
	pthread_join(thread, NULL);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		printf("the child's write did not complete: status %#x\n", status);
		return 2;
	}
	if (child_uffd < 0) {
		printf("no UFFD_EVENT_FORK came\n");
		return 2;
	}
	close(child_uffd);
	if (mem[0] != 'z') {
		printf("the child's write is not in the shared page: '%c'\n", mem[0]);
		return 2;
	}
	for (;;) {
		n = read(kmsg, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)
			continue;
		if (n <= 0)
			break;
		rec[n] = '\0';
		warned |= strstr(rec, WARNING_TEXT) != NULL;
		traced |= strstr(rec, TRACE_TEXT) != NULL;
	}
	if (warned && traced) {
		printf("the child's async write to its old PTE: \"%s\" from do_wp_page()\n",
		       WARNING_TEXT);
		return REPRO_SEEN;
	}
	printf("no racy-update warning from the child's async write\n");
	return REPRO_NOT_SEEN;
}
