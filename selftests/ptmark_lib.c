// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the ptmark selftests.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
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

int ptmark_page_map(const void *addr, size_t nr_pages, char *map)
{
	int fd = ptmark_open();

	if (fd < 0)
		return -ENODEV;
	close(fd);
	return -EOPNOTSUPP;
}

long ptmark_guard(const void *addr, size_t len, bool install)
{
	int fd = ptmark_open();

	if (fd < 0)
		return -ENODEV;
	close(fd);
	return -EOPNOTSUPP;
}
