/*
 * Unit tests for engine/parse/limits.c: parsing `limits` lines, rendering the set,
 * and the cgroup v1 and v2 files each limit becomes (v2 cannot be exercised
 * on this cgroup v1 host, so its mapping is checked here).
 */
#include <errno.h>
#include <string.h>

#include "base/base.h"
#include "parse/parse.h"
#include "tap.h"

static const struct cgroup_setting *
find(const struct cgroup_setting *set, int n, const char *file)
{
	int i;

	for (i = 0; i < n; i++)
		if (strcmp(set[i].file, file) == 0)
			return &set[i];
	return NULL;
}

static int
parse_good(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct limits l;

	limits_init(&l);
	CHECK_INT(limits_parse("memory 512M\ncpu.shares 512\ncpus 1.5\npids 256\n", &l, 4, &err),
		  0);
	CHECK_INT(l.memory, 512LL << 20);
	CHECK_INT(l.cpu_shares, 512);
	CHECK_INT(l.cpus_milli, 1500);
	CHECK_INT(l.pids, 256);
	CHECK_INT(limits_parse("memory max\npids max\ncpus max", &l, 4, &err), 0);
	CHECK_INT(l.memory, LIMIT_MAX);
	CHECK_INT(l.pids, LIMIT_MAX);
	CHECK_INT(l.cpus_milli, 0);
	CHECK_INT(l.cpu_shares, 512); /* untouched keys keep their value */
	CHECK_INT(limits_parse("  cpus 0.01  \n\n", &l, 4, &err), 0);
	CHECK_INT(l.cpus_milli, 10);
	return 0;
}

static int
parse_bad_keeps_old(void)
{
	static const char *bad[] = {
		"memory -1",
		"memory 1M",
		"memory abc",
		"cpus abc",
		"cpus 0",
		"cpus 0.001",
		"cpus 9",
		"cpus 1.",
		"pids 0",
		"pids -5",
		"cpu.shares 1",
		"cpu.shares 300000",
		"bogus 1",
		"memory",
		"memory 1G extra",
		"cpus 1.2345",
		/* memory plus swap: needs a memory limit at or below it */
		"memory-swap 1G\nmemory max",
		"memory-swap 32M",
		"memory 128M\nmemory-swap 64M",
		"memory-swap -1",
		"memory-swap 0",
		"memory-swap auto",
	};
	struct bk_err err = BK_ERR_INIT;
	struct limits l, before;
	size_t i;

	limits_init(&l);
	CHECK_INT(limits_parse("memory 64M\npids 10", &l, 4, &err), 0);
	before = l;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.code = 0;
		if (limits_parse(bad[i], &l, 4, &err) != -EINVAL) {
			printf("# accepted: '%s'\n", bad[i]);
			return -1;
		}
		CHECK_INT(err.code, EINVAL);
		CHECK(strncmp(err.msg, "limits: ", 8) == 0);
		CHECK(memcmp(&l, &before, sizeof(l)) == 0);
	}
	/* All or nothing: a bad second line keeps the first one out too. */
	CHECK_INT(limits_parse("memory 128M\npids 0", &l, 4, &err), -EINVAL);
	CHECK_INT(l.memory, 64LL << 20);
	return 0;
}

static int
format_roundtrip(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct limits l, back;
	char text[256];

	limits_init(&l);
	limits_format(&l, text, sizeof(text));
	CHECK_STR(text, "memory max\nmemory-swap default\ncpu.shares 1024\ncpus max\npids max\n");
	CHECK_INT(limits_parse("memory 512M\ncpus 1.5\npids 7\ncpu.shares 100", &l, 4, &err), 0);
	limits_format(&l, text, sizeof(text));
	CHECK_STR(text, "memory 536870912\nmemory-swap default\ncpu.shares 100\ncpus 1.500\npids "
			"7\n");
	limits_init(&back);
	CHECK_INT(limits_parse(text, &back, 4, &err), 0);
	CHECK(memcmp(&l, &back, sizeof(l)) == 0);
	return 0;
}

/* docker's --memory-swap: memory plus swap; twice memory unless set; max: swap unlimited. */
static int
memory_swap(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct cgroup_setting set[16];
	struct limits l;
	int n;

	limits_init(&l);
	CHECK_INT(l.memory_swap, 0);
	n = limits_to_files(&l, CGROUP_V1, true, set, 16);
	CHECK_STR(find(set, n, "memory.memsw.limit_in_bytes")->value, "-1");
	n = limits_to_files(&l, CGROUP_V2, true, set, 16);
	CHECK_STR(find(set, n, "memory.swap.max")->value, "max");
	CHECK_INT(limits_parse("memory 100M", &l, 4, &err), 0);
	n = limits_to_files(&l, CGROUP_V1, true, set, 16);
	CHECK_STR(find(set, n, "memory.memsw.limit_in_bytes")->value, "209715200");
	/* a new group's memsw may never be below its memory limit: memory goes first */
	CHECK(find(set, n, "memory.memsw.limit_in_bytes") ==
	      find(set, n, "memory.limit_in_bytes") + 1);
	n = limits_to_files(&l, CGROUP_V2, true, set, 16);
	CHECK_STR(find(set, n, "memory.swap.max")->value, "104857600");
	/* in either order of lines */
	CHECK_INT(limits_parse("memory-swap 150M\nmemory 120M", &l, 4, &err), 0);
	CHECK_INT(l.memory_swap, 150LL << 20);
	n = limits_to_files(&l, CGROUP_V1, true, set, 16);
	CHECK_STR(find(set, n, "memory.memsw.limit_in_bytes")->value, "157286400");
	n = limits_to_files(&l, CGROUP_V2, true, set, 16);
	CHECK_STR(find(set, n, "memory.swap.max")->value, "31457280");
	/* equal to memory: no swap */
	CHECK_INT(limits_parse("memory-swap 120M", &l, 4, &err), 0);
	n = limits_to_files(&l, CGROUP_V2, true, set, 16);
	CHECK_STR(find(set, n, "memory.swap.max")->value, "0");
	/* memory above it is refused, whole */
	CHECK_INT(limits_parse("memory 200M", &l, 4, &err), -EINVAL);
	CHECK(strstr(err.msg, "below memory") != NULL);
	CHECK_INT(l.memory, 120LL << 20);
	CHECK_INT(limits_parse("memory-swap max", &l, 4, &err), 0);
	n = limits_to_files(&l, CGROUP_V1, true, set, 16);
	CHECK_STR(find(set, n, "memory.memsw.limit_in_bytes")->value, "-1");
	n = limits_to_files(&l, CGROUP_V2, true, set, 16);
	CHECK_STR(find(set, n, "memory.swap.max")->value, "max");
	/* without swap accounting no swap file is written */
	n = limits_to_files(&l, CGROUP_V1, false, set, 16);
	CHECK(find(set, n, "memory.memsw.limit_in_bytes") == NULL);
	n = limits_to_files(&l, CGROUP_V2, false, set, 16);
	CHECK(find(set, n, "memory.swap.max") == NULL);
	CHECK_INT(limits_parse("memory max\nmemory-swap default", &l, 4, &err), 0);
	return 0;
}

static int
v1_files(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct cgroup_setting set[16];
	struct limits l;
	int n;

	limits_init(&l);
	n = limits_to_files(&l, CGROUP_V1, true, set, 16);
	CHECK_STR(find(set, n, "memory.limit_in_bytes")->value, "-1");
	CHECK_STR(find(set, n, "cpu.shares")->value, "1024");
	CHECK_STR(find(set, n, "cpu.cfs_quota_us")->value, "-1");
	CHECK_STR(find(set, n, "pids.max")->value, "max");
	CHECK_INT(limits_parse("memory 512M\ncpus 1.5\npids 32\ncpu.shares 512", &l, 4, &err), 0);
	n = limits_to_files(&l, CGROUP_V1, true, set, 16);
	CHECK_STR(find(set, n, "memory.limit_in_bytes")->value, "536870912");
	CHECK_STR(find(set, n, "cpu.shares")->value, "512");
	CHECK_STR(find(set, n, "cpu.cfs_period_us")->value, "100000");
	CHECK_STR(find(set, n, "cpu.cfs_quota_us")->value, "150000");
	CHECK_STR(find(set, n, "pids.max")->value, "32");
	CHECK_STR(find(set, n, "memory.limit_in_bytes")->controller, "memory");
	CHECK(find(set, n, "memory.max") == NULL);
	return 0;
}

static int
v2_files(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct cgroup_setting set[16];
	struct limits l;
	int n;

	limits_init(&l);
	n = limits_to_files(&l, CGROUP_V2, true, set, 16);
	CHECK_STR(find(set, n, "memory.max")->value, "max");
	CHECK_STR(find(set, n, "cpu.weight")->value, "100");
	CHECK_STR(find(set, n, "cpu.max")->value, "max 100000");
	CHECK_STR(find(set, n, "pids.max")->value, "max");
	CHECK(find(set, n, "cpu.shares") == NULL);
	CHECK(find(set, n, "memory.limit_in_bytes") == NULL);
	CHECK_INT(limits_parse("memory 512M\ncpus 0.5\npids 32\ncpu.shares 1024", &l, 4, &err), 0);
	n = limits_to_files(&l, CGROUP_V2, true, set, 16);
	CHECK_STR(find(set, n, "memory.max")->value, "536870912");
	CHECK_STR(find(set, n, "cpu.weight")->value, "100");
	CHECK_STR(find(set, n, "cpu.max")->value, "50000 100000");
	CHECK_STR(find(set, n, "pids.max")->value, "32");
	return 0;
}

static int
shares_to_weight(void)
{
	/* runc/crun's mapping: the ends of both ranges meet, 1024 is about 39. */
	CHECK_INT(limits_shares_to_weight(2), 1);
	CHECK_INT(limits_shares_to_weight(262144), 10000);
	/* The default, shown by `limits` and written back, is v2's default too. */
	CHECK_INT(limits_shares_to_weight(1024), 100);
	CHECK_INT(limits_shares_to_weight(512), 50);
	CHECK_INT(limits_shares_to_weight(1025), 100);
	CHECK_INT(limits_shares_to_weight(2048), 139);
	CHECK_INT(limits_shares_to_weight(3), 1);
	CHECK_INT(limits_shares_to_weight(0), 100);
	CHECK_INT(limits_shares_to_weight(1), 1);
	CHECK_INT(limits_shares_to_weight(1000000), 10000);
	return 0;
}

/* What the daemon shows of a group it did not make (a runtime container's cpu.weight). */
static int
weight_to_shares(void)
{
	uint64_t shares;

	CHECK_INT(limits_weight_to_shares(100), 1024);
	CHECK_INT(limits_weight_to_shares(0), 1024);
	CHECK_INT(limits_weight_to_shares(1), 2);
	CHECK_INT(limits_weight_to_shares(10000), 262144);
	CHECK_INT(limits_weight_to_shares(50000), 262144);
	/* The inverse of shares_to_weight: a weight it makes maps back to itself. */
	for (shares = 2; shares <= 262144; shares += 97) {
		uint64_t w = limits_shares_to_weight(shares);

		CHECK_INT(limits_shares_to_weight(limits_weight_to_shares(w)), w);
	}
	return 0;
}

/* Controller lists: v1's "cpu,cpuacct" names, v2's "cpuset cpu io\n" files. */
static int
controller_words(void)
{
	CHECK(word_in("cpu,cpuacct", "cpu", ","));
	CHECK(word_in("cpu,cpuacct", "cpuacct", ","));
	CHECK(!word_in("cpuacct", "cpu", ","));
	CHECK(!word_in("cpuset", "cpu", ","));
	CHECK(word_in("cpuset cpu io\n", "cpu", " \n"));
	CHECK(!word_in("cpuset io\n", "cpu", " \n"));
	CHECK(word_in("cpuset io\n", "io", " \n"));
	CHECK(!word_in("memory pids", "", " "));
	CHECK(!word_in("", "cpu", ","));
	return 0;
}

int
main(void)
{
	RUN(parse_good);
	RUN(parse_bad_keeps_old);
	RUN(format_roundtrip);
	RUN(memory_swap);
	RUN(v1_files);
	RUN(v2_files);
	RUN(shares_to_weight);
	RUN(weight_to_shares);
	RUN(controller_words);
	return TAP_DONE();
}
