// SPDX-License-Identifier: GPL-2.0
/*
 * ptmarkctl: look at a live process's page tables through ptmark.
 *
 * Reads (features, maps, dump) and the event monitor speak the "ptmark"
 * generic netlink family; changes (guard, uffd-wp-marker, unmovable, pin)
 * are the /dev/ptmark ioctls.
 * Documentation/ptmarkctl.rst is the manual, the JSON schema included.
 * Exit status: 0 success, 1 an operation failed, 2 bad usage.  With
 * --json, stdout has one complete JSON document or, on any failure, an
 * error object instead: the document is held until the command is done.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "ptmark_nl.h"

#define EXIT_USAGE	2

#ifndef PTMARK_VERSION
#define PTMARK_VERSION	"unknown"
#endif

static bool opt_json, opt_pretty, opt_map, opt_dense, opt_write, opt_longterm;
static long opt_for = -1, opt_count = -1;	/* -1: not given */
static unsigned long page_size;

static const char *const kind_names[PTMARK_KIND_COUNT] = {
	[PTMARK_KIND_UNMAPPED]		= "unmapped",
	[PTMARK_KIND_NONE]		= "none",
	[PTMARK_KIND_PRESENT]		= "present",
	[PTMARK_KIND_SWAP]		= "swap",
	[PTMARK_KIND_MIGRATION]		= "migration",
	[PTMARK_KIND_DEVICE_PRIVATE]	= "device-private",
	[PTMARK_KIND_DEVICE_EXCLUSIVE]	= "device-exclusive",
	[PTMARK_KIND_HWPOISON]		= "hwpoison",
	[PTMARK_KIND_MARKER]		= "marker",
	[PTMARK_KIND_RAW]		= "raw",
};

/* Bit i of each word is named names[i], as debugfs "ptes" names it. */
static const char *const bit_names[] = {
	"write", "dirty", "young", "soft-dirty", "uffd-wp", "exclusive",
	"anon", "file", "zeropage", "huge-zeropage", "special",
	"maybe-pinned", "large", "pmd", "pud", "uffd-rwp", "protnone",
	"numa-hint", "cont", NULL
};

static const char *const marker_names[] = {
	"uffd-wp", "poisoned", "guard", NULL
};

static const char *const vma_names[] = {
	"read", "write", "exec", "shared", "anon", "file", "shmem", "pfnmap",
	"io", "mixedmap", "hugetlb", "locked", "lockonfault", "uffd-missing",
	"uffd-wp", "uffd-minor", "wipeonfork", "dontcopy", "hugepage",
	"nohugepage", "softdirty", "seq-read", "rand-read", "uffd-rwp", NULL
};

static const char *const as_names[] = {
	"unmovable", "inaccessible", "unevictable", NULL
};

/* What each command takes and does: the usage and `help CMD`. */
struct command_help {
	const char *name;
	const char *synopsis;	/* after "ptmarkctl " */
	const char *text;
};

static const struct command_help commands[] = {
	{ "features", "[--json] features",
	  "The module's ABI version, the kernel release, page and PMD size,\n"
	  "and one line per feature, \"name yes|no\".\n" },
	{ "maps", "[--json] maps PID",
	  "One line per VMA: range, permissions, size in kB, and how many of\n"
	  "its pages are present, swapped, guard-marked, write-protected by the\n"
	  "uffd-wp bit, holding a uffd-wp marker, and maybe pinned; then its\n"
	  "name.  Below a VMA with guard markers, one line per run of them.\n" },
	{ "dump", "[--json] [--map] [--dense] dump PID [START-END]",
	  "The runs of pages in one state in the range (default: the whole\n"
	  "address space), each VMA introduced by a \"vma\" line.  --map draws\n"
	  "one character a page; --dense gives one record a page, and so needs\n"
	  "a range.\n" },
	{ "guard", "guard install|remove PID START-END",
	  "Install or remove guard markers in the process, by the rules of\n"
	  "MADV_GUARD_INSTALL/MADV_GUARD_REMOVE (feature guard_ioctl).\n" },
	{ "uffd-wp-marker", "uffd-wp-marker install|remove PID START-END",
	  "Install or remove uffd-wp markers: none PTEs of a shmem or file VMA\n"
	  "registered for userfaultfd write protection only.\n" },
	{ "unmovable", "[--json] unmovable query|set|clear FILE",
	  "The unmovable flag of a shmem file's address space (FILE may be\n"
	  "/proc/PID/fd/N).\n" },
	{ "pin", "[--write] [--longterm] [--for SECONDS] pin PID START-END",
	  "Pin the range as a driver doing DMA would (--write: FOLL_WRITE,\n"
	  "--longterm: FOLL_LONGTERM) and hold the pins until SIGINT, SIGTERM\n"
	  "or SIGHUP, or for SECONDS.\n" },
	{ "monitor", "[--json] [--count N] [--for SECONDS] monitor",
	  "Print marker and pin events as they happen, one line each, until\n"
	  "interrupted, after N events or after SECONDS.\n" },
	{ "help", "help [COMMAND]",
	  "The usage of every command, or what COMMAND takes and does.\n" },
};

#define NR_COMMANDS	(sizeof(commands) / sizeof(commands[0]))

/* The command being run, for the hint of a usage error. */
static const char *cur_command;

static const struct command_help *command_help(const char *name)
{
	size_t i;

	for (i = 0; i < NR_COMMANDS; i++)
		if (!strcmp(commands[i].name, name))
			return &commands[i];
	return NULL;
}

static void usage(FILE *out)
{
	size_t i;

	for (i = 0; i < NR_COMMANDS; i++)
		fprintf(out, "%s ptmarkctl %s\n", i ? "      " : "usage:",
			commands[i].synopsis);
	fprintf(out,
		"       ptmarkctl --version\n"
		"\n"
		"Options: -j --json, -p --pretty (indented JSON), -m --map, -d --dense,\n"
		"-w --write, -l --longterm, -f --for SECONDS, -c --count N, -h --help,\n"
		"-V --version.  Addresses are hexadecimal and page-aligned.\n"
		"'ptmarkctl help COMMAND' says more; the manual is ptmarkctl(8).\n");
}

static int cmd_help(int argc, char **argv)
{
	const struct command_help *h;

	if (!argc) {
		usage(stdout);
		return 0;
	}
	h = argc == 1 ? command_help(argv[0]) : NULL;
	if (!h) {
		fprintf(stderr, "ptmarkctl: help: no command '%s' (try 'ptmarkctl help')\n",
			argv[0]);
		return EXIT_USAGE;
	}
	printf("usage: ptmarkctl %s\n\n%s", h->synopsis, h->text);
	return 0;
}

/* Set by the first failure with --json: what the error object says. */
static char json_error_msg[512];
static const char *json_error_errno;
static int json_error_set;

static void note_error(const char *msg, const char *errname)
{
	if (json_error_set)
		return;
	json_error_set = 1;
	snprintf(json_error_msg, sizeof(json_error_msg), "%s", msg);
	json_error_errno = errname;
}

/* One line: what is wrong, and where help is. */
static int usage_error(const char *fmt, ...)
{
	char msg[384], hint[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(hint, sizeof(hint), "ptmarkctl help%s%s",
		 cur_command ? " " : "", cur_command ? cur_command : "");
	fprintf(stderr, "ptmarkctl: %s (see '%s')\n", msg, hint);
	note_error(msg, NULL);
	return EXIT_USAGE;
}

/* "ptmarkctl: WHAT: strerror (ENAME)[: cause]"; returns exit status 1. */
static int failure(const char *what, int err, const char *cause)
{
	const char *name = strerrorname_np(err);
	char msg[512];

	snprintf(msg, sizeof(msg), "%s: %s (%s)%s%s", what, strerror(err),
		 name ? name : "?", cause && *cause ? ": " : "",
		 cause ? cause : "");
	fprintf(stderr, "ptmarkctl: %s\n", msg);
	note_error(msg, name);
	return 1;
}

/* ---- output ------------------------------------------------------------ */

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

/*
 * @doc, compact JSON as the commands print it, to stdout: as it is, or
 * with --pretty one member a line, indented by two.
 */
static void json_emit(const char *doc)
{
	bool in_string = false, escaped = false;
	int depth = 0, i;
	const char *c;

	if (!opt_pretty) {
		fputs(doc, stdout);
		return;
	}
	for (c = doc; *c; c++) {
		if (in_string) {
			putchar(*c);
			if (escaped)
				escaped = false;
			else if (*c == '\\')
				escaped = true;
			else if (*c == '"')
				in_string = false;
			continue;
		}
		switch (*c) {
		case '"':
			in_string = true;
			putchar(*c);
			break;
		case '{':
		case '[':
			putchar(*c);
			if (c[1] == (*c == '{' ? '}' : ']')) {
				putchar(*++c);
				break;
			}
			depth++;
			putchar('\n');
			for (i = 0; i < depth; i++)
				fputs("  ", stdout);
			break;
		case '}':
		case ']':
			depth--;
			putchar('\n');
			for (i = 0; i < depth; i++)
				fputs("  ", stdout);
			putchar(*c);
			break;
		case ',':
			putchar(',');
			putchar('\n');
			for (i = 0; i < depth; i++)
				fputs("  ", stdout);
			break;
		case ':':
			fputs(": ", stdout);
			break;
		case ' ':
		case '\t':
		case '\n':
			break;
		default:
			putchar(*c);
		}
	}
	putchar('\n');
}

/* The error object --json prints instead of a document. */
static void json_error(int status)
{
	char *doc = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&doc, &len);
	FILE *out = stdout;

	if (!f)
		return;
	stdout = f;
	printf("{\"error\":");
	json_string(json_error_set ? json_error_msg : "failed");
	printf(",\"errno\":");
	if (json_error_errno)
		json_string(json_error_errno);
	else
		printf("null");
	printf(",\"exit\":%d}\n", status);
	fclose(f);
	stdout = out;
	json_emit(doc);
	free(doc);
}

static void json_addr(const char *key, uint64_t addr, bool comma)
{
	printf("\"%s\":\"0x%" PRIx64 "\"%s", key, addr, comma ? "," : "");
}

/* The names of the set bits of @bits: a JSON array, or text joined by ','. */
static void print_bits(uint64_t bits, const char *const *names)
{
	unsigned int i, nr = 0;

	while (names[nr])
		nr++;
	if (opt_json)
		putchar('[');
	for (i = 0; i < 64; i++) {
		if (!(bits & (1ULL << i)))
			continue;
		if (bits & ((1ULL << i) - 1))
			putchar(',');
		if (opt_json)
			putchar('"');
		if (i < nr)
			fputs(names[i], stdout);
		else
			printf("bit%u", i);
		if (opt_json)
			putchar('"');
	}
	if (opt_json)
		putchar(']');
	else if (!bits)
		putchar('-');
}

static const char *kind_name(unsigned int kind)
{
	return kind < PTMARK_KIND_COUNT ? kind_names[kind] : "?";
}

static void perms(uint64_t f, char out[5])
{
	out[0] = f & PTMARK_VMA_READ ? 'r' : '-';
	out[1] = f & PTMARK_VMA_WRITE ? 'w' : '-';
	out[2] = f & PTMARK_VMA_EXEC ? 'x' : '-';
	out[3] = f & PTMARK_VMA_SHARED ? 's' : 'p';
	out[4] = '\0';
}

/* ---- arguments --------------------------------------------------------- */

static bool parse_pid(const char *s, pid_t *pid)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v <= 0 || v != (pid_t)v)
		return false;
	*pid = v;
	return true;
}

/* A decimal number >= 0 that fits an int's worth of seconds or events. */
static bool parse_count(const char *s, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	return !errno && end != s && !*end && *v >= 0 && *v <= INT32_MAX / 1000;
}

/* "START-END", hexadecimal, page-aligned, START < END. */
static bool parse_range(const char *s, uint64_t *start, uint64_t *end)
{
	char *p;

	errno = 0;
	*start = strtoull(s, &p, 16);
	if (errno || p == s || *p != '-')
		return false;
	s = p + 1;
	*end = strtoull(s, &p, 16);
	if (errno || p == s || *p)
		return false;
	return *start < *end && !(*start % page_size) && !(*end % page_size);
}

/* ---- netlink ------------------------------------------------------------ */

/* Does the module behind the device fd @fd say it lacks @feature? */
static bool dev_lacks(int fd, uint64_t feature)
{
	struct ptmark_info info = { .size = sizeof(info) };

	return !ioctl(fd, PTMARK_IOC_INFO, &info) && !(info.features & feature);
}

/*
 * No family: the module is not loaded, or it is and the kernel lacks what
 * the family needs, which its features say.
 */
static const char *nl_missing_cause(void)
{
	int fd = open(PTMARK_DEVICE, O_RDONLY | O_CLOEXEC);
	bool have;

	if (fd < 0)
		return errno == ENOENT ? "ptmark.ko is not loaded" : PTMARK_DEVICE;
	have = !dev_lacks(fd, PTMARK_FEAT_NETLINK);
	close(fd);
	return have ? "the module has not registered it" :
	       "this kernel lacks genetlink split ops and NLA_UINT (6.7), which the family needs (feature netlink: no); the ioctl commands still work";
}

static int nl_open(struct ptmark_nl *nl)
{
	int ret = ptmark_nl_open(nl);

	if (ret == -ENOENT)
		return failure("generic netlink family \"ptmark\"", ENOENT,
			       nl_missing_cause());
	if (ret)
		return failure("netlink socket", -ret, NULL);
	return 0;
}

/* A request failed: name the errno and the kernel's own reason. */
static int nl_failure(struct ptmark_nl *nl, const char *what, int err)
{
	const char *cause = nl->error;

	if (!*cause && err == EPERM)
		cause = "reading page tables over netlink needs CAP_NET_ADMIN";
	return failure(what, err, cause);
}

static int features_reply(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[PTMARK_A_FEATURES_MAX + 1], *a;
	const struct nlattr *ftb[PTMARK_A_FEATURE_MAX + 1];
	bool first = true;
	int *seen = data;

	if (ptmark_nl_parse(nlh, tb, PTMARK_A_FEATURES_MAX))
		return MNL_CB_ERROR;
	*seen = 1;
	if (opt_json) {
		printf("{\"abi\":%u,\"release\":",
		       mnl_attr_get_u32(tb[PTMARK_A_FEATURES_ABI]));
		json_string(mnl_attr_get_str(tb[PTMARK_A_FEATURES_RELEASE]));
		printf(",\"page_size\":%u,\"pmd_size\":%u,\"features\":{",
		       mnl_attr_get_u32(tb[PTMARK_A_FEATURES_PAGE_SIZE]),
		       mnl_attr_get_u32(tb[PTMARK_A_FEATURES_PMD_SIZE]));
	} else {
		printf("abi %u\nrelease %s\npage_size %u\npmd_size %u\n",
		       mnl_attr_get_u32(tb[PTMARK_A_FEATURES_ABI]),
		       mnl_attr_get_str(tb[PTMARK_A_FEATURES_RELEASE]),
		       mnl_attr_get_u32(tb[PTMARK_A_FEATURES_PAGE_SIZE]),
		       mnl_attr_get_u32(tb[PTMARK_A_FEATURES_PMD_SIZE]));
	}
	mnl_attr_for_each(a, nlh, sizeof(struct genlmsghdr)) {
		const struct nlattr *fa;
		bool yes;

		if (mnl_attr_get_type(a) != PTMARK_A_FEATURES_FEATURE)
			continue;
		memset(ftb, 0, sizeof(ftb));
		mnl_attr_for_each_nested(fa, a)
			if (mnl_attr_get_type(fa) <= PTMARK_A_FEATURE_MAX)
				ftb[mnl_attr_get_type(fa)] = fa;
		if (!ftb[PTMARK_A_FEATURE_NAME] || !ftb[PTMARK_A_FEATURE_SUPPORTED])
			return MNL_CB_ERROR;
		yes = mnl_attr_get_u8(ftb[PTMARK_A_FEATURE_SUPPORTED]);
		if (opt_json) {
			printf("%s", first ? "" : ",");
			json_string(mnl_attr_get_str(ftb[PTMARK_A_FEATURE_NAME]));
			printf(":%s", yes ? "true" : "false");
		} else {
			printf("%s %s\n", mnl_attr_get_str(ftb[PTMARK_A_FEATURE_NAME]),
			       yes ? "yes" : "no");
		}
		first = false;
	}
	if (opt_json)
		printf("}}\n");
	return MNL_CB_OK;
}

static int cmd_features(int argc, char **argv)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct ptmark_nl nl;
	int ret, seen = 0;

	if (argc)
		return usage_error("features takes no arguments");
	ret = nl_open(&nl);
	if (ret)
		return ret;
	ret = ptmark_nl_run(&nl, ptmark_nl_request(&nl, buf,
						   PTMARK_CMD_FEATURES_GET, false),
			    features_reply, &seen);
	if (!ret && !seen)
		ret = -EBADMSG;
	if (ret)
		ret = nl_failure(&nl, "features", -ret);
	ptmark_nl_close(&nl);
	return ret;
}

/* A growing array of dump replies. */
struct collected {
	void *items;
	size_t nr, cap, size;
	int (*parse)(const struct nlmsghdr *nlh, void *item);
};

static int collect(const struct nlmsghdr *nlh, void *data)
{
	struct collected *c = data;

	if (c->nr == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 256;
		void *items = realloc(c->items, cap * c->size);

		if (!items)
			return MNL_CB_ERROR;
		c->items = items;
		c->cap = cap;
	}
	if (c->parse(nlh, (char *)c->items + c->nr * c->size)) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	c->nr++;
	return MNL_CB_OK;
}

static int parse_record(const struct nlmsghdr *nlh, void *item)
{
	return ptmark_nl_record(nlh, item);
}

static int parse_vma(const struct nlmsghdr *nlh, void *item)
{
	return ptmark_nl_vma(nlh, item);
}

/* Run a ptes-get or vma-get dump of @pid into @c: 0 or -errno. */
static int dump_target(struct ptmark_nl *nl, uint8_t cmd, pid_t pid,
		       uint64_t start, uint64_t end, bool dense,
		       struct collected *c)
{
	static char buf[PTMARK_NL_BUF];
	struct nlmsghdr *nlh;

	nlh = ptmark_nl_target_request(nl, buf, cmd, pid, -1, start,
				       end - start);
	if (dense)
		mnl_attr_put(nlh, PTMARK_A_PTES_DENSE, 0, NULL);
	c->nr = 0;
	return ptmark_nl_run(nl, nlh, collect, c);
}

/* ---- maps --------------------------------------------------------------- */

/* Names of VMAs by start address, from /proc/PID/maps where readable. */
struct vma_name {
	uint64_t start;
	char name[256];
};

static struct vma_name *read_names(pid_t pid, size_t *nr)
{
	struct vma_name *names = NULL, *bigger;
	char path[64], line[512];
	size_t cap = 0;
	FILE *f;

	*nr = 0;
	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "r");
	if (!f)
		return NULL;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long start;
		int off = 0;

		if (sscanf(line, "%llx-%*x %*s %*x %*s %*u %n", &start, &off) < 1)
			continue;
		if (*nr == cap) {
			cap = cap ? 2 * cap : 64;
			bigger = realloc(names, cap * sizeof(*names));
			if (!bigger)
				break;
			names = bigger;
		}
		line[strcspn(line, "\n")] = '\0';
		names[*nr].start = start;
		snprintf(names[*nr].name, sizeof(names[*nr].name), "%s",
			 off ? line + off : "");
		(*nr)++;
	}
	fclose(f);
	return names;
}

static const char *name_of(const struct vma_name *names, size_t nr,
			   uint64_t start)
{
	size_t i;

	for (i = 0; i < nr; i++)
		if (names[i].start == start)
			return names[i].name;
	return "";
}

/*
 * What maps gets from one vma-get dump that asks for guard runs: the
 * VMAs, and the guard runs of all of them in address order, each VMA's
 * in messages before its summary.
 */
struct maps_reply {
	struct ptmark_nl_vma *vmas;
	size_t *first_run;		/* of vmas[i] in runs */
	size_t nr_vmas, cap_vmas;
	uint64_t *runs;			/* [start, end) pairs */
	size_t nr_runs, cap_runs;
	size_t vma_runs;		/* runs before the next summary */
};

static int maps_add_runs(struct maps_reply *m, const struct nlattr *attr)
{
	size_t n = mnl_attr_get_payload_len(attr) / (2 * sizeof(uint64_t));

	if (m->nr_runs + n > m->cap_runs) {
		size_t cap = m->cap_runs ? 2 * m->cap_runs : 1024;
		uint64_t *more;

		while (cap < m->nr_runs + n)
			cap *= 2;
		more = realloc(m->runs, 2 * cap * sizeof(*more));
		if (!more)
			return -ENOMEM;
		m->runs = more;
		m->cap_runs = cap;
	}
	memcpy(m->runs + 2 * m->nr_runs, mnl_attr_get_payload(attr),
	       n * 2 * sizeof(uint64_t));
	m->nr_runs += n;
	m->vma_runs += n;
	return 0;
}

static int maps_add_vma(struct maps_reply *m, const struct nlmsghdr *nlh)
{
	if (m->nr_vmas == m->cap_vmas) {
		size_t cap = m->cap_vmas ? 2 * m->cap_vmas : 256;
		struct ptmark_nl_vma *vmas;
		size_t *first;

		vmas = realloc(m->vmas, cap * sizeof(*vmas));
		if (!vmas)
			return -ENOMEM;
		m->vmas = vmas;
		first = realloc(m->first_run, cap * sizeof(*first));
		if (!first)
			return -ENOMEM;
		m->first_run = first;
		m->cap_vmas = cap;
	}
	if (ptmark_nl_vma(nlh, &m->vmas[m->nr_vmas]))
		return -EBADMSG;
	m->first_run[m->nr_vmas++] = m->nr_runs - m->vma_runs;
	m->vma_runs = 0;
	return 0;
}

static int collect_maps(const struct nlmsghdr *nlh, void *data)
{
	const struct nlattr *tb[PTMARK_A_VMA_MAX + 1];
	struct maps_reply *m = data;
	int err;

	if (ptmark_nl_parse(nlh, tb, PTMARK_A_VMA_MAX)) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	err = tb[PTMARK_A_VMA_GUARD_RUNS] ?
		maps_add_runs(m, tb[PTMARK_A_VMA_GUARD_RUNS]) :
		maps_add_vma(m, nlh);
	if (err) {
		errno = -err;
		return MNL_CB_ERROR;
	}
	return MNL_CB_OK;
}

/* The runs of vmas[i]: their number, *@runs pointing at the first. */
static size_t maps_runs_of(const struct maps_reply *m, size_t i,
			   const uint64_t **runs)
{
	size_t end = i + 1 < m->nr_vmas ? m->first_run[i + 1] : m->nr_runs;

	*runs = m->runs + 2 * m->first_run[i];
	return end - m->first_run[i];
}

/* @v as @width lowercase hex digits at @p; returns the end. */
static char *put_hex(char *p, uint64_t v, int width)
{
	static const char digits[] = "0123456789abcdef";
	int i;

	for (i = width - 1; i >= 0; i--, v >>= 4)
		p[i] = digits[v & 15];
	return p + width;
}

/*
 * "  guard START-END N pages": what printf() would print, put together by
 * hand because a listing may have a line for each of tens of thousands of
 * thread stacks, and formatting them was most of what maps cost.
 */
static void print_guard_run(uint64_t start, uint64_t end)
{
	char line[80], num[24], *p = line;
	uint64_t pages = (end - start) / page_size;
	int n = 0;

	p = mempcpy(p, "  guard ", 8);
	p = put_hex(p, start, 16);
	*p++ = '-';
	p = put_hex(p, end, 16);
	*p++ = ' ';
	do {
		num[n++] = '0' + pages % 10;
		pages /= 10;
	} while (pages);
	while (n)
		*p++ = num[--n];
	p = mempcpy(p, " pages\n", 7);
	fwrite(line, 1, p - line, stdout);
}

static void print_vma(pid_t pid, const struct ptmark_nl_vma *v,
		      const char *name, const uint64_t *runs, size_t nr_runs,
		      bool first)
{
	const uint64_t *c = v->count;
	char perm[5];
	size_t i;

	perms(v->vma_flags, perm);
	if (!opt_json) {
		printf("%016" PRIx64 "-%016" PRIx64 " %s %8" PRIu64 " %8" PRIu64
		       " %8" PRIu64 " %8" PRIu64 " %8" PRIu64 " %8" PRIu64
		       " %8" PRIu64 " %s\n",
		       v->start, v->end, perm, (v->end - v->start) / 1024,
		       c[PTMARK_A_VMA_PRESENT], c[PTMARK_A_VMA_SWAP],
		       c[PTMARK_A_VMA_GUARD], c[PTMARK_A_VMA_UFFD_WP],
		       c[PTMARK_A_VMA_UFFD_WP_MARKER], c[PTMARK_A_VMA_PINNED],
		       name);
		for (i = 0; i < nr_runs; i++)
			print_guard_run(runs[2 * i], runs[2 * i + 1]);
		return;
	}
	printf("%s{", first ? "" : ",");
	json_addr("start", v->start, true);
	json_addr("end", v->end, true);
	printf("\"perms\":\"%s\",\"pgoff\":%" PRIu64 ",\"vma_flags\":", perm,
	       v->pgoff);
	print_bits(v->vma_flags, vma_names);
	printf(",\"as_flags\":");
	print_bits(v->as_flags, as_names);
	printf(",\"name\":");
	json_string(name);
	printf(",\"pages\":%" PRIu64 ",\"none\":%" PRIu64 ",\"present\":%" PRIu64
	       ",\"swap\":%" PRIu64 ",\"migration\":%" PRIu64 ",\"device\":%" PRIu64
	       ",\"hwpoison\":%" PRIu64 ",\"guard\":%" PRIu64
	       ",\"uffd_wp_marker\":%" PRIu64 ",\"poison_marker\":%" PRIu64
	       ",\"uffd_wp\":%" PRIu64 ",\"pinned\":%" PRIu64 ",\"huge\":%" PRIu64
	       ",\"other\":%" PRIu64 ",\"guard_ranges\":[",
	       c[PTMARK_A_VMA_PAGES], c[PTMARK_A_VMA_NONE],
	       c[PTMARK_A_VMA_PRESENT], c[PTMARK_A_VMA_SWAP],
	       c[PTMARK_A_VMA_MIGRATION], c[PTMARK_A_VMA_DEVICE],
	       c[PTMARK_A_VMA_HWPOISON], c[PTMARK_A_VMA_GUARD],
	       c[PTMARK_A_VMA_UFFD_WP_MARKER], c[PTMARK_A_VMA_POISON_MARKER],
	       c[PTMARK_A_VMA_UFFD_WP], c[PTMARK_A_VMA_PINNED],
	       c[PTMARK_A_VMA_HUGE], c[PTMARK_A_VMA_OTHER]);
	for (i = 0; i < nr_runs; i++) {
		printf("%s{", i ? "," : "");
		json_addr("start", runs[2 * i], true);
		json_addr("end", runs[2 * i + 1], true);
		printf("\"pages\":%" PRIu64 "}",
		       (runs[2 * i + 1] - runs[2 * i]) / page_size);
	}
	printf("]}");
	(void)pid;
}

/*
 * A listing with a line for each of tens of thousands of thread stacks
 * is many times what a pipe holds (64 KiB): where stdout is one, grow it
 * to the listing's size (up to fs.pipe-max-size, which unprivileged
 * callers may not pass: best effort), so that the listing goes out
 * without waiting for the reader to empty the pipe every 64 KiB.
 */
static void grow_pipe(size_t bytes)
{
	struct stat st;
	int size;

	if (fstat(STDOUT_FILENO, &st) || !S_ISFIFO(st.st_mode))
		return;
	size = fcntl(STDOUT_FILENO, F_GETPIPE_SZ);
	if (size < 0 || (size_t)size >= bytes)
		return;
	if (bytes > 1 << 20)
		bytes = 1 << 20;
	fcntl(STDOUT_FILENO, F_SETPIPE_SZ, (int)bytes);
}

static int cmd_maps(int argc, char **argv)
{
	static char buf[PTMARK_NL_BUF], out_buf[1 << 16];
	struct maps_reply m = { 0 };
	struct vma_name *names;
	struct nlmsghdr *nlh;
	struct ptmark_nl nl;
	const uint64_t *runs;
	size_t nr_names, i, nr_runs;
	char what[64];
	int ret;
	pid_t pid;

	if (argc != 1 || !parse_pid(argv[0], &pid))
		return usage_error("maps takes one PID");
	snprintf(what, sizeof(what), "maps %d", pid);
	ret = nl_open(&nl);
	if (ret)
		return ret;
	/* One walk: the summaries, each after its VMA's guard runs. */
	nlh = ptmark_nl_target_request(&nl, buf, PTMARK_CMD_VMA_GET, pid, -1,
				       0, 0);
	mnl_attr_put(nlh, PTMARK_A_VMA_WANT_GUARD_RUNS, 0, NULL);
	ret = ptmark_nl_run(&nl, nlh, collect_maps, &m);
	if (ret) {
		ret = nl_failure(&nl, what, -ret);
		goto out;
	}
	names = read_names(pid, &nr_names);
	/*
	 * A listing, not a stream: written in pieces as large as a pipe
	 * holds.  glibc ignores setvbuf()'s size without a buffer and kept
	 * its 4 KiB one, a write(2) and a wake-up of the reader per 4 KiB.
	 */
	if (!opt_json)
		setvbuf(stdout, out_buf, _IOFBF, sizeof(out_buf));
	/* A guard line takes 50 bytes, a VMA line 100 to 350 (JSON more). */
	grow_pipe(m.nr_runs * (opt_json ? 80 : 56) + (m.nr_vmas + 1) * 400);
	if (opt_json)
		printf("{\"pid\":%d,\"page_size\":%lu,\"vmas\":[", pid, page_size);
	else
		printf("%-33s %s %8s %8s %8s %8s %8s %8s %8s %s\n", "address",
		       "perm", "kB", "present", "swap", "guard", "uffd-wp",
		       "wp-mark", "pinned", "name");
	for (i = 0; i < m.nr_vmas; i++) {
		const struct ptmark_nl_vma *v = &m.vmas[i];

		nr_runs = maps_runs_of(&m, i, &runs);
		print_vma(pid, v, name_of(names, nr_names, v->start), runs,
			  nr_runs, !i);
	}
	if (opt_json)
		printf("]}\n");
	free(names);
out:
	free(m.vmas);
	free(m.first_run);
	free(m.runs);
	ptmark_nl_close(&nl);
	return ret;
}

/* ---- dump --------------------------------------------------------------- */

static void print_vma_line(const struct ptmark_nl_vma *v)
{
	char perm[5];

	perms(v->vma_flags, perm);
	printf("vma %016" PRIx64 "-%016" PRIx64 " %s pgoff=%" PRIx64 " flags=",
	       v->start, v->end, perm, v->pgoff);
	print_bits(v->vma_flags, vma_names);
	printf(" as=");
	print_bits(v->as_flags, as_names);
	putchar('\n');
}

static void print_run(const struct ptmark_record *r)
{
	printf("%016llx-%016llx %llu %s", r->start,
	       r->start + r->nr_pages * page_size, r->nr_pages,
	       kind_name(r->kind));
	if (r->kind == PTMARK_KIND_MARKER) {
		putchar(' ');
		print_bits(r->marker, marker_names);
	}
	if (r->kind != PTMARK_KIND_UNMAPPED && r->kind != PTMARK_KIND_NONE &&
	    r->kind != PTMARK_KIND_MARKER) {
		putchar(' ');
		print_bits(r->bits, bit_names);
	}
	if (r->pfn)
		printf(" pfn=%llx", r->pfn);
	putchar('\n');
}

static void print_json_record(const struct ptmark_record *r, bool first)
{
	printf("%s{", first ? "" : ",");
	json_addr("start", r->start, true);
	json_addr("end", r->start + r->nr_pages * page_size, true);
	printf("\"pages\":%llu,\"kind\":\"%s\",\"char\":\"%c\",\"marker\":",
	       r->nr_pages, kind_name(r->kind), ptmark_map_char(r));
	print_bits(r->marker, marker_names);
	printf(",\"bits\":");
	print_bits(r->bits, bit_names);
	printf(",\"vma_flags\":");
	print_bits(r->vma_flags, vma_names);
	printf(",\"as_flags\":");
	print_bits(r->as_flags, as_names);
	printf(",\"pfn\":%llu}", r->pfn);
}

#define MAP_WIDTH	64

/* The map of one record's pages, @col characters into the current line. */
static void print_map_run(const struct ptmark_record *r, unsigned int *col)
{
	uint64_t page;

	if (r->kind == PTMARK_KIND_UNMAPPED) {
		if (*col)
			putchar('\n');
		*col = 0;
		printf("%016llx-%016llx unmapped (%llu pages)\n", r->start,
		       r->start + r->nr_pages * page_size, r->nr_pages);
		return;
	}
	for (page = 0; page < r->nr_pages; page++) {
		if (!*col)
			printf("%016llx ", r->start + page * page_size);
		putchar(ptmark_map_char(r));
		if (++*col == MAP_WIDTH) {
			putchar('\n');
			*col = 0;
		}
	}
}

static int cmd_dump(int argc, char **argv)
{
	struct collected vmas = { .size = sizeof(struct ptmark_nl_vma),
				  .parse = parse_vma };
	struct collected recs = { .size = sizeof(struct ptmark_record),
				  .parse = parse_record };
	uint64_t start = 0, end = 0;
	unsigned int col = 0;
	size_t i, vi = 0;
	struct ptmark_nl nl;
	char what[96];
	bool in_vma = false;
	pid_t pid;
	int ret;

	if (argc < 1 || argc > 2 || !parse_pid(argv[0], &pid))
		return usage_error("dump takes a PID and an optional START-END");
	if (argc == 2 && !parse_range(argv[1], &start, &end))
		return usage_error("bad range '%s' (want page-aligned hex START-END)",
				   argv[1]);
	/* A record a page of every gap of a 47-bit space is no answer. */
	if (opt_dense && argc == 1)
		return usage_error("--dense dump needs a START-END range");
	snprintf(what, sizeof(what), "dump %d%s%s", pid, argc == 2 ? " " : "",
		 argc == 2 ? argv[1] : "");
	ret = nl_open(&nl);
	if (ret)
		return ret;
	ret = dump_target(&nl, PTMARK_CMD_VMA_GET, pid, start, end, false, &vmas);
	if (!ret)
		ret = dump_target(&nl, PTMARK_CMD_PTES_GET, pid, start, end,
				  opt_dense, &recs);
	if (ret) {
		ret = nl_failure(&nl, what, -ret);
		goto out;
	}
	if (recs.nr) {
		const struct ptmark_record *last =
			(const struct ptmark_record *)recs.items + recs.nr - 1;

		start = ((const struct ptmark_record *)recs.items)->start;
		end = last->start + last->nr_pages * page_size;
	}

	if (opt_json) {
		printf("{\"pid\":%d,\"page_size\":%lu,", pid, page_size);
		json_addr("start", start, true);
		json_addr("end", end, true);
		printf("\"records\":[");
	} else {
		printf("# ptmark %s pid %d range %016" PRIx64 "-%016" PRIx64 "\n",
		       opt_map ? "map" : "ptes", pid, start, end);
		if (opt_map) {
			printf("# _ unmapped  . none  A anon  F file  T pmd/pud-mapped  Z zeropage  H huge zeropage  p pfnmap/special\n");
			printf("# S swap  M migration  D device  X hwpoison  G guard  W uffd-wp marker  B guard+uffd-wp  K other marker  ? raw\n");
		}
	}
	for (i = 0; i < recs.nr; i++) {
		const struct ptmark_record *r =
			(const struct ptmark_record *)recs.items + i;
		const struct ptmark_nl_vma *v =
			(const struct ptmark_nl_vma *)vmas.items;

		if (opt_json) {
			print_json_record(r, !i);
			continue;
		}
		/* A "vma" line before the first run inside each VMA. */
		while (vi < vmas.nr && v[vi].end <= r->start) {
			vi++;
			in_vma = false;
		}
		if (vi < vmas.nr && r->start >= v[vi].start && !in_vma) {
			if (col)
				putchar('\n');
			col = 0;
			print_vma_line(&v[vi]);
			in_vma = true;
		}
		if (opt_map)
			print_map_run(r, &col);
		else
			print_run(r);
	}
	if (opt_json)
		printf("]}\n");
	else if (col)
		putchar('\n');
out:
	free(vmas.items);
	free(recs.items);
	ptmark_nl_close(&nl);
	return ret;
}

/* ---- changes: the ioctls ----------------------------------------------- */

static int dev_open(const char *what)
{
	int fd = open(PTMARK_DEVICE, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		failure(what, errno, errno == ENOENT ? "ptmark.ko is not loaded" :
			errno == EACCES ? PTMARK_DEVICE " is root-only" : PTMARK_DEVICE);
	return fd;
}

/* The reason PTMARK_IOC_MARKER refused, as far as ptmarkctl can tell. */
static const char *marker_cause(int fd, int err, uint32_t marker)
{
	uint64_t need = marker == PTMARK_MARKER_GUARD ?
		PTMARK_FEAT_GUARD_IOCTL : PTMARK_FEAT_UFFD_WP_MARKER;

	switch (err) {
	case EOPNOTSUPP:
		if (dev_lacks(fd, need))
			return marker == PTMARK_MARKER_GUARD ?
				"this kernel lacks guard markers ptmark can install (feature guard_ioctl: no)" :
				"this kernel lacks uffd-wp PTE markers (feature uffd_wp_marker: no)";
		return "the kernel cannot do this safely from a module";
	case ENOMEM:
		return "the range has unmapped holes (the mapped parts were done)";
	case EINVAL:
		return marker == PTMARK_MARKER_GUARD ?
			"a VMA in the range refuses guard markers (locked, hugetlb, VM_SPECIAL), or the range is bad" :
			"uffd-wp markers need none PTEs of a shmem or file VMA registered for uffd write protection";
	case EPERM:
		return "a VMA in the range is sealed";
	case EACCES:
		return "no access to the target's memory";
	case ESRCH:
		return "no such process";
	default:
		return NULL;
	}
}

static int cmd_marker(int argc, char **argv, uint32_t marker, const char *verb)
{
	struct ptmark_marker args = { .size = sizeof(args),
				      .flags = PTMARK_MARKER_F_PIDFD,
				      .marker = marker };
	uint64_t start, end;
	char what[128];
	bool remove;
	int fd, ret = 0;
	pid_t pid;

	if (argc != 3 || (strcmp(argv[0], "install") && strcmp(argv[0], "remove")))
		return usage_error("%s takes install|remove PID START-END", verb);
	remove = !strcmp(argv[0], "remove");
	if (!parse_pid(argv[1], &pid))
		return usage_error("bad PID '%s'", argv[1]);
	if (!parse_range(argv[2], &start, &end))
		return usage_error("bad range '%s' (want page-aligned hex START-END)",
				   argv[2]);
	snprintf(what, sizeof(what), "%s %s %d %s", verb, argv[0], pid, argv[2]);

	fd = dev_open(what);
	if (fd < 0)
		return 1;
	args.pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (args.pidfd < 0) {
		ret = failure(what, errno, "pidfd_open");
		goto out;
	}
	if (remove)
		args.flags |= PTMARK_MARKER_F_REMOVE;
	args.start = start;
	args.len = end - start;
	if (ioctl(fd, PTMARK_IOC_MARKER, &args)) {
		int err = errno;

		ret = failure(what, err, marker_cause(fd, err, marker));
	} else {
		printf("%s: %llu pages %s\n", what, args.nr_pages,
		       remove ? "cleared" : "marked");
	}
	close(args.pidfd);
out:
	close(fd);
	return ret;
}

static int cmd_unmovable(int argc, char **argv)
{
	static const char *const ops[] = { "query", "set", "clear" };
	struct ptmark_unmovable args = { .size = sizeof(args) };
	char what[512];
	unsigned int op;
	int fd, ret = 0;

	if (argc != 2)
		return usage_error("unmovable takes query|set|clear FILE");
	for (op = 0; op < 3 && strcmp(argv[0], ops[op]); op++)
		;
	if (op == 3)
		return usage_error("unmovable: unknown operation '%s'", argv[0]);
	snprintf(what, sizeof(what), "unmovable %s %s", argv[0], argv[1]);
	args.op = op == 0 ? PTMARK_UNMOVABLE_QUERY :
		  op == 1 ? PTMARK_UNMOVABLE_SET : PTMARK_UNMOVABLE_CLEAR;

	fd = dev_open(what);
	if (fd < 0)
		return 1;
	args.fd = open(argv[1], (op ? O_RDWR : O_RDONLY) | O_CLOEXEC);
	if (args.fd < 0) {
		ret = failure(what, errno, argv[1]);
		goto out;
	}
	if (ioctl(fd, PTMARK_IOC_UNMOVABLE, &args)) {
		int err = errno;

		ret = failure(what, err, err == EINVAL && op ?
			      "set and clear take only files ptmark made (PTMARK_UNMOVABLE_CREATE)" :
			      err == EINVAL ?
			      "only regular shmem files (memfd, tmpfs) have the flag" :
			      err == EOPNOTSUPP ? "this kernel has no unmovable mapping flag" :
			      NULL);
	} else if (opt_json) {
		printf("{\"file\":");
		json_string(argv[1]);
		printf(",\"as_flags\":");
		print_bits(args.as_flags, as_names);
		printf(",\"flag\":");
		print_bits(args.flag, as_names);
		printf(",\"unmovable\":%s}\n",
		       args.as_flags & args.flag ? "true" : "false");
	} else {
		printf("%s: unmovable %s (as=", argv[1],
		       args.as_flags & args.flag ? "yes" : "no");
		print_bits(args.as_flags, as_names);
		printf(")\n");
	}
	close(args.fd);
out:
	close(fd);
	return ret;
}

/* ---- pin: hold a pin session on a range ------------------------------- */

static const char *pin_cause(int fd, int err)
{
	switch (err) {
	case ENOTTY:
	case EOPNOTSUPP:
		if (dev_lacks(fd, PTMARK_FEAT_PIN))
			return "this module has no pin sessions (feature pin: no)";
		return NULL;
	case EFAULT:
		return "the range has a hole, a guard marker or a mapping GUP cannot pin (VM_PFNMAP, VM_IO), or a long-term write pin of a file with writeback";
	case ENOSPC:
		return "more pages than a session may hold (max_pages)";
	case ENOMEM:
		return "more pinned pages than RLIMIT_MEMLOCK allows this user (without CAP_IPC_LOCK)";
	case EACCES:
	case EPERM:
		return "no write access to the target's memory (ptrace-attach level and CAP_SYS_NICE)";
	case ESRCH:
		return "no such process";
	default:
		return NULL;
	}
}

/*
 * Wait for one of the signals in @set (blocked since before the pin, so
 * that one sent early still ends the wait), at most @secs seconds unless
 * -1.  The pins are the session's: if ptmarkctl dies instead, the kernel
 * closes the session and they go with it.
 */
static void pin_wait(const sigset_t *set, long secs)
{
	struct timespec ts = { .tv_sec = secs };

	while ((secs < 0 ? sigwaitinfo(set, NULL) :
		sigtimedwait(set, NULL, &ts)) < 0 && errno == EINTR)
		;
}

static int cmd_pin(int argc, char **argv)
{
	struct ptmark_pin_open open_args = { .size = sizeof(open_args),
					     .flags = PTMARK_PIN_OPEN_F_PIDFD };
	struct ptmark_pin_range range = { .size = sizeof(range) };
	uint64_t start, end;
	char what[128];
	int fd, ret = 1;
	sigset_t set;
	pid_t pid;

	if (argc != 2)
		return usage_error("pin takes PID START-END");
	if (!parse_pid(argv[0], &pid))
		return usage_error("bad PID '%s'", argv[0]);
	if (!parse_range(argv[1], &start, &end))
		return usage_error("bad range '%s' (want page-aligned hex START-END)",
				   argv[1]);
	snprintf(what, sizeof(what), "pin %d %s", pid, argv[1]);
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, NULL);

	fd = dev_open(what);
	if (fd < 0)
		return 1;
	open_args.pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (open_args.pidfd < 0) {
		failure(what, errno, "pidfd_open");
		goto out;
	}
	if (ioctl(fd, PTMARK_IOC_PIN, &open_args)) {
		failure(what, errno, pin_cause(fd, errno));
		goto out_pidfd;
	}
	range.start = start;
	range.len = end - start;
	range.flags = (opt_write ? PTMARK_PIN_F_WRITE : 0) |
		      (opt_longterm ? PTMARK_PIN_F_LONGTERM : 0);
	if (ioctl(open_args.fd, PTMARK_PIN_IOC_PIN, &range)) {
		failure(what, errno, pin_cause(fd, errno));
		goto out_session;
	}
	printf("%s: %" PRIu64 " pages pinned%s%s; holding them ", what,
	       (end - start) / page_size, opt_write ? ", write" : "",
	       opt_longterm ? ", long-term" : "");
	if (opt_for < 0)
		printf("until SIGINT or SIGTERM\n");
	else
		printf("for %ld s\n", opt_for);
	fflush(stdout);
	pin_wait(&set, opt_for);
	range.flags = 0;
	if (ioctl(open_args.fd, PTMARK_PIN_IOC_RELEASE, &range)) {
		failure(what, errno, "release");
		goto out_session;
	}
	printf("%s: released\n", what);
	ret = 0;
out_session:
	close(open_args.fd);
out_pidfd:
	close(open_args.pidfd);
out:
	close(fd);
	return ret;
}

/* ---- monitor: the "events" group -------------------------------------- */

struct monitor {
	long seen;
};

static int monitor_event(const struct nlmsghdr *nlh, void *data)
{
	const struct genlmsghdr *genl = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *tb[PTMARK_A_EVENT_MAX + 1];
	struct monitor *mon = data;
	uint64_t start, len, nr;
	uint32_t pid, marker;
	bool remove, pin;
	int32_t err;

	pin = genl->cmd == PTMARK_CMD_PIN_NTF;
	if ((!pin && genl->cmd != PTMARK_CMD_MARKER_NTF) ||
	    ptmark_nl_parse(nlh, tb, PTMARK_A_EVENT_MAX) ||
	    !tb[PTMARK_A_EVENT_PID])
		return MNL_CB_OK;
	if (opt_count >= 0 && mon->seen >= opt_count)
		return MNL_CB_OK;
	mon->seen++;
	pid = mnl_attr_get_u32(tb[PTMARK_A_EVENT_PID]);
	start = ptmark_nl_uint(tb[PTMARK_A_EVENT_START]);
	len = ptmark_nl_uint(tb[PTMARK_A_EVENT_LEN]);
	nr = ptmark_nl_uint(tb[PTMARK_A_EVENT_NR_PAGES]);
	remove = tb[PTMARK_A_EVENT_REMOVE];
	err = tb[PTMARK_A_EVENT_ERROR] ?
		(int32_t)mnl_attr_get_u32(tb[PTMARK_A_EVENT_ERROR]) : 0;
	marker = tb[PTMARK_A_EVENT_MARKER] ?
		mnl_attr_get_u32(tb[PTMARK_A_EVENT_MARKER]) : 0;

	if (opt_json) {
		printf("{\"event\":\"%s\",\"pid\":%" PRIu32 ",", pin ? "pin" : "marker",
		       pid);
		json_addr("start", start, true);
		json_addr("end", start + len, true);
		if (!pin) {
			printf("\"marker\":");
			print_bits(marker, marker_names);
			printf(",\"error\":%" PRId32 ",", err);
		}
		printf("\"remove\":%s,\"pages\":%" PRIu64 "}\n",
		       remove ? "true" : "false", nr);
	} else if (pin) {
		printf("pin %" PRIu32 " %016" PRIx64 "-%016" PRIx64 " %" PRIu64
		       " pages %s\n", pid, start, start + len, nr,
		       remove ? "unpinned" : "pinned");
	} else {
		printf("marker %" PRIu32 " %016" PRIx64 "-%016" PRIx64 " ", pid,
		       start, start + len);
		print_bits(marker, marker_names);
		printf(" %s %" PRIu64 " pages", remove ? "removed" : "installed",
		       nr);
		if (err)
			printf(" (%s)", strerrorname_np(-err) ?: "?");
		putchar('\n');
	}
	fflush(stdout);
	return MNL_CB_OK;
}

static int cmd_monitor(int argc, char **argv)
{
	struct monitor mon = { 0 };
	struct timespec now, until;
	struct ptmark_nl nl;
	int ret;

	if (argc)
		return usage_error("monitor takes no arguments");
	if (nl_open(&nl))
		return 1;
	ret = ptmark_nl_join_events(&nl);
	if (ret) {
		ret = failure("monitor: join the events group", -ret,
			      ret == -EPERM ?
			      "the events group needs CAP_NET_ADMIN and CAP_SYS_ADMIN" :
			      NULL);
		goto out;
	}
	/* On stderr, so that --json output stays one document per line. */
	fprintf(stderr, "ptmarkctl: monitor: listening on the ptmark events group\n");
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += opt_for;
	while (opt_count < 0 || mon.seen < opt_count) {
		int ms = -1;

		if (opt_for >= 0) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			ms = (until.tv_sec - now.tv_sec) * 1000 +
			     (until.tv_nsec - now.tv_nsec) / 1000000;
			if (ms <= 0)
				break;
		}
		ret = ptmark_nl_events(&nl, ms, monitor_event, &mon);
		if (ret < 0) {
			ret = failure("monitor", -ret, "receiving events");
			goto out;
		}
	}
	ret = 0;
out:
	ptmark_nl_close(&nl);
	return ret;
}

/* Run command @verb with its @argc arguments @argv: its exit status. */
static int run_command(const char *verb, int argc, char **argv)
{
	/* "ptmarkctl CMD help", as ip(8) and bpftool(8) take it. */
	if (argc == 1 && !strcmp(argv[0], "help") && command_help(verb))
		return cmd_help(1, (char **)&verb);
	if ((opt_map || opt_dense) && strcmp(verb, "dump"))
		return usage_error("--map and --dense go with dump only");
	if (opt_json && (!strcmp(verb, "guard") || !strcmp(verb, "uffd-wp-marker") ||
			 !strcmp(verb, "pin")))
		return usage_error("--json goes with the read commands only");
	if ((opt_write || opt_longterm) && strcmp(verb, "pin"))
		return usage_error("--write and --longterm go with pin only");
	if (opt_for >= 0 && strcmp(verb, "pin") && strcmp(verb, "monitor"))
		return usage_error("--for goes with pin and monitor only");
	if (opt_count >= 0 && strcmp(verb, "monitor"))
		return usage_error("--count goes with monitor only");

	if (!strcmp(verb, "help"))
		return cmd_help(argc, argv);
	if (!strcmp(verb, "features"))
		return cmd_features(argc, argv);
	if (!strcmp(verb, "maps"))
		return cmd_maps(argc, argv);
	if (!strcmp(verb, "dump"))
		return cmd_dump(argc, argv);
	if (!strcmp(verb, "guard"))
		return cmd_marker(argc, argv, PTMARK_MARKER_GUARD, verb);
	if (!strcmp(verb, "uffd-wp-marker"))
		return cmd_marker(argc, argv, PTMARK_MARKER_UFFD_WP, verb);
	if (!strcmp(verb, "unmovable"))
		return cmd_unmovable(argc, argv);
	if (!strcmp(verb, "pin"))
		return cmd_pin(argc, argv);
	if (!strcmp(verb, "monitor"))
		return cmd_monitor(argc, argv);
	cur_command = NULL;
	return usage_error("unknown command '%s'", verb);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "pretty", no_argument, NULL, 'p' },
		{ "map", no_argument, NULL, 'm' },
		{ "dense", no_argument, NULL, 'd' },
		{ "write", no_argument, NULL, 'w' },
		{ "longterm", no_argument, NULL, 'l' },
		{ "for", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ }
	};
	const char *verb = NULL;
	FILE *out = stdout, *doc_file = NULL;
	char *doc = NULL;
	size_t doc_len = 0;
	bool help = false;
	int c, ret;

	page_size = sysconf(_SC_PAGESIZE);
	opterr = 0;
	while ((c = getopt_long(argc, argv, "jpmdwlf:c:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'j':
			opt_json = true;
			break;
		case 'p':
			opt_pretty = true;
			opt_json = true;
			break;
		case 'm':
			opt_map = true;
			break;
		case 'd':
			opt_dense = true;
			break;
		case 'w':
			opt_write = true;
			break;
		case 'l':
			opt_longterm = true;
			break;
		case 'f':
		case 'c':
			if (!parse_count(optarg, c == 'f' ? &opt_for : &opt_count)) {
				ret = usage_error("bad --%s '%s' (want a number >= 0)",
						  c == 'f' ? "for" : "count", optarg);
				goto out;
			}
			break;
		case 'h':
			help = true;
			break;
		case 'V':
			printf("ptmarkctl %s (ptmark ABI %d)\n", PTMARK_VERSION,
			       PTMARK_ABI_VERSION);
			return 0;
		default:
			if (optopt && optopt != '?')
				ret = usage_error(strchr("fc", optopt) ?
						  "option -%c needs an argument" :
						  "unknown option -%c", optopt);
			else
				ret = usage_error("unknown option '%s'",
						  argv[optind - 1]);
			goto out;
		}
	}
	if (optind < argc)
		verb = argv[optind++];
	if (help) {
		/* --help, or "CMD --help" for one command. */
		if (verb && command_help(verb))
			return cmd_help(1, (char **)&verb);
		usage(stdout);
		return 0;
	}
	if (!verb) {
		ret = usage_error("no command");
		goto out;
	}
	if (command_help(verb))
		cur_command = verb;

	/* The document waits for the end: a failure prints only the error. */
	if (opt_json && strcmp(verb, "monitor") && strcmp(verb, "help")) {
		doc_file = open_memstream(&doc, &doc_len);
		if (!doc_file)
			return failure("--json", errno, "open_memstream");
		stdout = doc_file;
	}
	ret = run_command(verb, argc - optind, argv + optind);
	if (doc_file) {
		fclose(doc_file);
		stdout = out;
		if (!ret && doc_len)
			json_emit(doc);
		free(doc);
	}
out:
	if (ret && opt_json && (!verb || strcmp(verb, "help")))
		json_error(ret);
	return ret;
}
