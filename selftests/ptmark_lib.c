// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the ptmark selftests.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <linux/userfaultfd.h>
#include <unistd.h>

#include "ptmark_lib.h"

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

long long ptmark_stat(const char *name)
{
	char *text = read_text_file(PTMARK_DEBUGFS "/stats");
	char value[32];
	long long ret = -1;

	if (!text)
		return -1;
	if (text_lookup(text, name, value, sizeof(value)))
		ret = strtoll(value, NULL, 10);
	free(text);
	return ret;
}

int ptmark_scan_dense(int fd, const void *addr, size_t nr_pages,
		      struct ptmark_record *recs)
{
	struct ptmark_scan scan = {
		.size = sizeof(scan),
		.flags = PTMARK_SCAN_DENSE,
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

char ptmark_record_char(const struct ptmark_record *r)
{
	switch (r->kind) {
	case PTMARK_KIND_UNMAPPED:
	case PTMARK_KIND_NONE:
		return '.';
	case PTMARK_KIND_PRESENT:
		return 'P';
	case PTMARK_KIND_SWAP:
		return 'S';
	case PTMARK_KIND_MARKER:
		if (r->marker == PTMARK_MARKER_GUARD)
			return 'G';
		if (r->marker == PTMARK_MARKER_UFFD_WP)
			return 'W';
		return 'M';
	default:
		return '?';
	}
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

int uffd_new_fd(void)
{
	int fd, dev, err;

	fd = syscall(__NR_userfaultfd,
		     O_CLOEXEC | O_NONBLOCK | UFFD_USER_MODE_ONLY);
	if (fd >= 0)
		return fd;
	err = errno;
	dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
	if (dev < 0)
		return -err;
	fd = ioctl(dev, USERFAULTFD_IOC_NEW, O_CLOEXEC | O_NONBLOCK);
	err = errno;
	close(dev);
	return fd < 0 ? -err : fd;
}
