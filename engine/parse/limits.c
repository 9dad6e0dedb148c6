/*
 * Resource limits as text and as cgroup files, without I/O: parsing the
 * `limits` lines, rendering the current set, and mapping each limit to the
 * files of cgroup v1 or v2 (libcgroup 2.0.2 has no v1/v2 name translation,
 * so this is where it lives).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "parse/parse.h"
#include "base/base.h"

#define MEMORY_MIN (6LL << 20) /* docker's minimum: below it a shell cannot start */
#define SHARES_MIN 2
#define SHARES_MAX 262144
#define PERIOD_US  100000

void
limits_init(struct limits *l)
{
	l->memory = LIMIT_MAX;
	l->cpu_shares = 0;
	l->cpus_milli = 0;
	l->pids = LIMIT_MAX;
	l->memory_swap = 0;
}

static int
parse_count(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end = NULL;
	long long v;

	if (*s == '\0' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* "1.5" -> 1500 (thousandths of a CPU); at most three decimals. */
static int
parse_cpus(const char *s, int64_t *milli)
{
	int64_t whole = 0, frac = 0;
	int digits = 0;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		whole = whole * 10 + (*p - '0');
		if (whole > 1000000)
			return -EINVAL;
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, digits++) {
			if (digits == 3)
				return -EINVAL;
			frac = frac * 10 + (*p - '0');
		}
		if (digits == 0)
			return -EINVAL;
	}
	if (*p != '\0')
		return -EINVAL;
	while (digits++ < 3)
		frac *= 10;
	*milli = whole * 1000 + frac;
	return 0;
}

/*
 * Apply one "KEY VALUE" line to l (l is unchanged on error).  ncpu bounds
 * `cpus`, as docker's "range of CPUs is from 0.01 to N".
 */
int
limits_parse_line(const char *line, struct limits *l, long ncpu, struct bk_err *err)
{
	char key[32], value[64], extra[2];
	struct limits n = *l;
	uint64_t bytes;
	int fields;

	fields = sscanf(line, " %31s %63s %1s", key, value, extra);
	if (fields != 2)
		return bk_err_set(err, EINVAL, "limits: expected 'KEY VALUE', got '%s'", line);
	if (strcmp(key, "memory") == 0) {
		if (strcmp(value, "max") == 0)
			n.memory = LIMIT_MAX;
		else if (value[0] == '-' || parse_size(value, &bytes) < 0)
			return bk_err_set(err, EINVAL,
					  "limits: memory '%s': SIZE (e.g. 512M) or max", value);
		else if ((int64_t)bytes < MEMORY_MIN)
			return bk_err_set(err, EINVAL, "limits: memory '%s': at least 6M", value);
		else
			n.memory = (int64_t)bytes;
	} else if (strcmp(key, "memory-swap") == 0) {
		if (strcmp(value, "max") == 0)
			n.memory_swap = LIMIT_MAX;
		else if (strcmp(value, "default") == 0)
			n.memory_swap = 0;
		else if (value[0] == '-' || parse_size(value, &bytes) < 0 || bytes == 0 ||
			 (int64_t)bytes < 0)
			return bk_err_set(err, EINVAL,
					  "limits: memory-swap '%s': SIZE (memory plus swap, "
					  "e.g. 1G), max or default",
					  value);
		else
			n.memory_swap = (int64_t)bytes;
	} else if (strcmp(key, "cpu.shares") == 0) {
		if (parse_count(value, SHARES_MIN, SHARES_MAX, &n.cpu_shares) < 0)
			return bk_err_set(err, EINVAL, "limits: cpu.shares '%s': %d to %d", value,
					  SHARES_MIN, SHARES_MAX);
	} else if (strcmp(key, "cpus") == 0) {
		if (strcmp(value, "max") == 0)
			n.cpus_milli = 0;
		else if (parse_cpus(value, &n.cpus_milli) < 0 || n.cpus_milli < 10 ||
			 n.cpus_milli > ncpu * 1000)
			return bk_err_set(err, EINVAL,
					  "limits: cpus '%s': from 0.01 to %ld, or max", value,
					  ncpu);
	} else if (strcmp(key, "pids") == 0) {
		if (strcmp(value, "max") == 0)
			n.pids = LIMIT_MAX;
		else if (parse_count(value, 1, 4194304, &n.pids) < 0)
			return bk_err_set(err, EINVAL, "limits: pids '%s': a count from 1, or max",
					  value);
	} else {
		return bk_err_set(
		    err, EINVAL,
		    "limits: unknown key '%s' (memory, memory-swap, cpu.shares, cpus, "
		    "pids)",
		    key);
	}
	*l = n;
	return 0;
}

/*
 * What no single line can judge: a memory-swap size counts memory plus
 * swap, so it needs a memory limit at or below it (docker refuses the same
 * two ways).
 */
static int
limits_check(const struct limits *l, struct bk_err *err)
{
	if (l->memory_swap == 0 || l->memory_swap == LIMIT_MAX)
		return 0;
	if (l->memory == LIMIT_MAX)
		return bk_err_set(err, EINVAL,
				  "limits: memory-swap %lld needs a memory limit (it counts memory "
				  "plus swap)",
				  (long long)l->memory_swap);
	if (l->memory_swap < l->memory)
		return bk_err_set(err, EINVAL,
				  "limits: memory-swap %lld is below memory %lld (it counts memory "
				  "plus swap)",
				  (long long)l->memory_swap, (long long)l->memory);
	return 0;
}

/* All lines of text, all or nothing; the lines in any order. */
int
limits_parse(const char *text, struct limits *l, long ncpu, struct bk_err *err)
{
	char *copy = xstrdup(text), *save = NULL, *line;
	struct limits n = *l;
	int ret = 0;

	for (line = strtok_r(copy, "\n", &save); line && ret == 0;
	     line = strtok_r(NULL, "\n", &save))
		if (line[strspn(line, " \t\r")] != '\0')
			ret = limits_parse_line(line, &n, ncpu, err);
	free(copy);
	if (ret == 0)
		ret = limits_check(&n, err);
	if (ret == 0)
		*l = n;
	return ret;
}

/* The full current set, one "KEY VALUE" line each. */
int
limits_format(const struct limits *l, char *buf, size_t size)
{
	char mem[32], swap[32], cpus[32], pids[32];

	if (l->memory == LIMIT_MAX)
		snprintf(mem, sizeof(mem), "max");
	else
		snprintf(mem, sizeof(mem), "%lld", (long long)l->memory);
	if (l->memory_swap == LIMIT_MAX)
		snprintf(swap, sizeof(swap), "max");
	else if (l->memory_swap == 0)
		snprintf(swap, sizeof(swap), "default");
	else
		snprintf(swap, sizeof(swap), "%lld", (long long)l->memory_swap);
	if (l->cpus_milli == 0)
		snprintf(cpus, sizeof(cpus), "max");
	else
		snprintf(cpus, sizeof(cpus), "%lld.%03lld", (long long)(l->cpus_milli / 1000),
			 (long long)(l->cpus_milli % 1000));
	if (l->pids == LIMIT_MAX)
		snprintf(pids, sizeof(pids), "max");
	else
		snprintf(pids, sizeof(pids), "%lld", (long long)l->pids);
	return snprintf(buf, size, "memory %s\nmemory-swap %s\ncpu.shares %lld\ncpus %s\npids %s\n",
			mem, swap, (long long)(l->cpu_shares ? l->cpu_shares : 1024), cpus, pids);
}

/*
 * cgroup v2's cpu.weight for v1 shares: linear on each side of the
 * defaults, so that the ends (2 -> 1, 262144 -> 10000) and the default
 * (1024 -> 100) meet.  runc's single line maps 1024 to 39: writing back
 * the `cpu.shares 1024` that `limits` shows would then cut a container's
 * weight to 39 % of its neighbours'.
 */
uint64_t
limits_shares_to_weight(uint64_t shares)
{
	if (shares == 0 || shares == 1024)
		return 100;
	if (shares < 2)
		shares = 2;
	if (shares > 262144)
		shares = 262144;
	if (shares < 1024)
		return 1 + ((shares - 2) * 99 + 511) / 1022;
	return 100 + ((shares - 1024) * 9900 + 130560) / 261120;
}

/* The shares a weight stands for: the inverse of limits_shares_to_weight. */
uint64_t
limits_weight_to_shares(uint64_t weight)
{
	if (weight == 0 || weight == 100)
		return 1024;
	if (weight > 10000)
		weight = 10000;
	if (weight < 100)
		return 2 + ((weight - 1) * 1022 + 49) / 99;
	return 1024 + ((weight - 100) * 261120 + 4950) / 9900;
}

/* Memory plus swap in bytes, or LIMIT_MAX: docker's default is twice memory. */
static int64_t
memory_plus_swap(const struct limits *l)
{
	if (l->memory == LIMIT_MAX || l->memory_swap == LIMIT_MAX)
		return LIMIT_MAX;
	if (l->memory_swap == 0)
		return l->memory > INT64_MAX / 2 ? LIMIT_MAX : l->memory * 2;
	return l->memory_swap;
}

/*
 * The cgroup files and values that express l, in the order to write them
 * into a new group (v1's memsw after memory: it may never be below it;
 * cgroup_update orders the pair for a live change).  Without swap
 * accounting there is no swap file to write.
 * Returns the number of entries; each is (controller, file, value).
 */
int
limits_to_files(const struct limits *l, enum cgroup_mode mode, bool swap,
		struct cgroup_setting *out, size_t max)
{
	int64_t total = memory_plus_swap(l);
	size_t n = 0;

#define PUT(c, f, ...)                                                             \
	do {                                                                       \
		if (n < max) {                                                     \
			out[n].controller = (c);                                   \
			out[n].file = (f);                                         \
			snprintf(out[n].value, sizeof(out[n].value), __VA_ARGS__); \
			n++;                                                       \
		}                                                                  \
	} while (0)

	if (mode == CGROUP_V1) {
		if (l->memory == LIMIT_MAX)
			PUT("memory", "memory.limit_in_bytes", "-1");
		else
			PUT("memory", "memory.limit_in_bytes", "%lld", (long long)l->memory);
		if (swap && total == LIMIT_MAX)
			PUT("memory", "memory.memsw.limit_in_bytes", "-1");
		else if (swap)
			PUT("memory", "memory.memsw.limit_in_bytes", "%lld", (long long)total);
		PUT("cpu", "cpu.shares", "%lld", (long long)(l->cpu_shares ? l->cpu_shares : 1024));
		PUT("cpu", "cpu.cfs_period_us", "%d", PERIOD_US);
		if (l->cpus_milli == 0)
			PUT("cpu", "cpu.cfs_quota_us", "-1");
		else
			PUT("cpu", "cpu.cfs_quota_us", "%lld",
			    (long long)(l->cpus_milli * PERIOD_US / 1000));
		if (l->pids == LIMIT_MAX)
			PUT("pids", "pids.max", "max");
		else
			PUT("pids", "pids.max", "%lld", (long long)l->pids);
	} else {
		if (l->memory == LIMIT_MAX)
			PUT("memory", "memory.max", "max");
		else
			PUT("memory", "memory.max", "%lld", (long long)l->memory);
		/* v2 limits swap alone. */
		if (swap && total == LIMIT_MAX)
			PUT("memory", "memory.swap.max", "max");
		else if (swap)
			PUT("memory", "memory.swap.max", "%lld", (long long)(total - l->memory));
		PUT("cpu", "cpu.weight", "%llu",
		    (unsigned long long)limits_shares_to_weight((uint64_t)l->cpu_shares));
		if (l->cpus_milli == 0)
			PUT("cpu", "cpu.max", "max %d", PERIOD_US);
		else
			PUT("cpu", "cpu.max", "%lld %d",
			    (long long)(l->cpus_milli * PERIOD_US / 1000), PERIOD_US);
		if (l->pids == LIMIT_MAX)
			PUT("pids", "pids.max", "max");
		else
			PUT("pids", "pids.max", "%lld", (long long)l->pids);
	}
#undef PUT
	return (int)n;
}
