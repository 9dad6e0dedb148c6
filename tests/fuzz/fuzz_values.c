/*
 * Fuzz the parsers of what is written to a container's limits and ports
 * files and of the daemon's size options: limits_parse (engine/parse/limits.c),
 * ports_parse (engine/net/ports.c), parse_size (engine/base/util.c, behind
 * `memory SIZE` and --storage-size), bk_signal_parse (`kill SIG`) and
 * net_mode_parse.  Checks: failures carry EINVAL (E2BIG for too many ports)
 * and a message; what is accepted is in range, and the formatted limits and
 * ports parse back to the same values.
 */
#include <errno.h>
#include <signal.h>

#include "fuzz.h"
#include "parse/parse.h"
#include "net/net.h"
#include "base/base.h"

#define NCPU      4
#define PORTS_MAX 64

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	bk_log_set_sink(fuzz_quiet_sink);
	return 0;
}

static void
check_limits(const char *text)
{
	struct bk_err err = BK_ERR_INIT;
	struct limits l, before, back;
	struct cgroup_setting files[8];
	char buf[256];
	int ret, n;

	limits_init(&l);
	before = l;
	ret = limits_parse(text, &l, NCPU, &err);
	fuzz_check_err(ret, &err, "limits_parse");
	if (ret < 0) {
		FUZZ_ASSERT(ret == -EINVAL);
		/* All or nothing. */
		FUZZ_ASSERT(memcmp(&l, &before, sizeof(l)) == 0);
		return;
	}
	FUZZ_ASSERT(l.memory == LIMIT_MAX || l.memory >= (6LL << 20));
	FUZZ_ASSERT(l.cpu_shares == 0 || (l.cpu_shares >= 2 && l.cpu_shares <= 262144));
	FUZZ_ASSERT(l.cpus_milli == 0 || (l.cpus_milli >= 10 && l.cpus_milli <= NCPU * 1000));
	FUZZ_ASSERT(l.pids == LIMIT_MAX || (l.pids >= 1 && l.pids <= 4194304));
	FUZZ_ASSERT(l.memory_swap == 0 || l.memory_swap == LIMIT_MAX ||
		    (l.memory != LIMIT_MAX && l.memory_swap >= l.memory));
	n = limits_format(&l, buf, sizeof(buf));
	FUZZ_ASSERT(n > 0 && (size_t)n < sizeof(buf));
	limits_init(&back);
	if (limits_parse(buf, &back, NCPU, &err) < 0) {
		fprintf(stderr, "fuzz: limits '%s' do not parse back: %s\n", buf, err.msg);
		abort();
	}
	/* The format spells the default shares out (1024). */
	if (l.cpu_shares == 0)
		back.cpu_shares = 0;
	FUZZ_ASSERT(memcmp(&l, &back, sizeof(l)) == 0);
	FUZZ_ASSERT(limits_to_files(&l, CGROUP_V1, false, files, 8) == 5);
	FUZZ_ASSERT(limits_to_files(&l, CGROUP_V2, false, files, 8) == 4);
	FUZZ_ASSERT(limits_to_files(&l, CGROUP_V1, true, files, 8) == 6);
	FUZZ_ASSERT(limits_to_files(&l, CGROUP_V2, true, files, 8) == 5);
	FUZZ_ASSERT(limits_shares_to_weight((uint64_t)l.cpu_shares) >= 1 &&
		    limits_shares_to_weight((uint64_t)l.cpu_shares) <= 10000);
}

static void
check_ports(const char *text)
{
	struct bk_err err = BK_ERR_INIT;
	struct port_map maps[PORTS_MAX], back[PORTS_MAX];
	size_t n = 99, m = 0;
	char *out;
	int ret = ports_parse(text, maps, PORTS_MAX, &n, &err);

	fuzz_check_err(ret, &err, "ports_parse");
	if (ret < 0) {
		FUZZ_ASSERT(ret == -EINVAL || ret == -E2BIG);
		FUZZ_ASSERT(n == 0);
		return;
	}
	FUZZ_ASSERT(n <= PORTS_MAX);
	for (size_t i = 0; i < n; i++) {
		FUZZ_ASSERT(maps[i].proto == IPPROTO_TCP || maps[i].proto == IPPROTO_UDP);
		FUZZ_ASSERT(maps[i].host_port > 0 && maps[i].ctr_port > 0);
		for (size_t j = 0; j < i; j++)
			FUZZ_ASSERT(maps[j].proto != maps[i].proto ||
				    maps[j].host_port != maps[i].host_port);
	}
	out = ports_format(maps, n);
	FUZZ_ASSERT(ports_parse(out, back, PORTS_MAX, &m, &err) == 0 && m == n);
	for (size_t i = 0; i < n; i++)
		FUZZ_ASSERT(back[i].proto == maps[i].proto &&
			    back[i].host_port == maps[i].host_port &&
			    back[i].ctr_port == maps[i].ctr_port);
	free(out);
}

/* Mounts: all or nothing; what is accepted renders to text that parses back to itself. */
static void
check_mounts(const char *text)
{
	struct bk_err err = BK_ERR_INIT;
	struct mount_spec *m = NULL, *back = NULL;
	size_t n = 0, nb = 0, i;
	char *out, *again;
	int ret = mounts_parse(text, &m, &n, &err);

	fuzz_check_err(ret, &err, "mounts_parse");
	if (ret < 0) {
		FUZZ_ASSERT(ret == -EINVAL || ret == -ENAMETOOLONG);
		FUZZ_ASSERT(m == NULL && n == 0);
		return;
	}
	FUZZ_ASSERT(n <= MOUNTS_MAX);
	for (i = 0; i < n; i++) {
		FUZZ_ASSERT(m[i].target[0] == '/' && strcmp(m[i].target, "/") != 0);
		FUZZ_ASSERT(strstr(m[i].target, "/../") == NULL &&
			    strstr(m[i].target, "//") == NULL);
		FUZZ_ASSERT((m[i].kind == MOUNT_TMPFS) == (m[i].source == NULL));
	}
	out = mounts_format(m, n);
	if (mounts_parse(out, &back, &nb, &err) < 0) {
		fprintf(stderr, "fuzz: mounts '%s' do not parse back: %s\n", out, err.msg);
		abort();
	}
	again = mounts_format(back, nb);
	FUZZ_ASSERT(nb == n && strcmp(out, again) == 0);
	free(again);
	free(out);
	mounts_free(back, nb);
	mounts_free(m, n);
}

static void
check_size(const char *s)
{
	uint64_t v = 12345;
	int ret = parse_size(s, &v);

	FUZZ_ASSERT(ret == 0 || (ret == -EINVAL && v == 12345));
}

static void
check_signal(const char *s)
{
	int sig = bk_signal_parse(s);

	FUZZ_ASSERT(sig == -EINVAL || (sig > 0 && sig < 65));
}

static void
check_net_mode(const char *s)
{
	enum net_mode mode;

	if (net_mode_parse(s, &mode) == 0)
		FUZZ_ASSERT(strcmp(s, net_mode_name(mode)) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);

	check_limits(s);
	check_ports(s);
	check_mounts(s);
	check_size(s);
	check_signal(s);
	check_net_mode(s);
	free(s);
	return 0;
}
