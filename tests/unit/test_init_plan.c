/*
 * Unit tests for engine/init/plan.c: the plan bockerfs-init reads from the
 * daemon.  Good plans, defaults, the order of repeated keys, and every way
 * a plan is refused: missing or unknown keys, bad numbers and paths, and
 * the limits (4096 arg+env entries, 1 MiB); the seccomp program, decoded
 * and aligned in place, and refused when it is not whole instructions.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "plan.h"
#include "tap.h"

/* A plan a little over the limit, and its vector. */
static char buf[PLAN_MAX_BYTES + 4096];
static char *vec[PLAN_VEC_SLOTS];
static struct init_plan plan;
static struct init_err err;

/* Entries, NULL-terminated, joined into buf as the daemon writes them.  Returns the length. */
static size_t
build(const char *const *entries)
{
	size_t len = 0, n;

	for (; *entries != NULL; entries++) {
		n = strlen(*entries) + 1;
		memcpy(buf + len, *entries, n);
		len += n;
	}
	return len;
}

static int
parse(const char *const *entries)
{
	memset(&err, 0, sizeof(err));
	return plan_parse(buf, build(entries), vec, PLAN_VEC_SLOTS, &plan, &err);
}

/* Expect code, step "plan" and want in the message. */
static int
check_refused(const char *const *entries, int code, const char *want)
{
	int ret = parse(entries);

	if (ret != -code || strcmp(err.step, "plan") != 0 || err.code != code ||
	    strstr(err.msg, want) == NULL) {
		printf("# ret %d, err '%s' %d '%s', wanted %d '%s'\n", ret, err.step, err.code,
		       err.msg, -code, want);
		return -1;
	}
	return 0;
}

#define BASE "rootfs=/var/lib/bockerfs/c/rootfs", "hostname=web"

static int
test_minimal_defaults(void)
{
	const char *const p[] = { BASE, "arg=/bin/true", NULL };

	CHECK_INT(parse(p), 0);
	CHECK_STR(plan.rootfs, "/var/lib/bockerfs/c/rootfs");
	CHECK_STR(plan.hostname, "web");
	CHECK_STR(plan.cwd, "/");
	CHECK_INT(plan.uid, 0);
	CHECK_INT(plan.gid, 0);
	CHECK_INT(plan.ngroups, 0);
	CHECK_INT(plan.caps, 0);
	CHECK_INT(plan.log_max, 0);
	CHECK(!plan.netns && !plan.cgroupns);
	CHECK_INT(plan.nbinds, 0);
	CHECK_STR(plan.argv[0], "/bin/true");
	CHECK(plan.argv[1] == NULL);
	CHECK(plan.envp[0] == NULL);
	return 0;
}

static int
test_full_plan(void)
{
	const char *const p[] = {
		BASE,
		"cwd=/srv/app",
		"uid=1000",
		"gid=100",
		"groups=10,20,4294967294",
		"arg=sh",
		"env=PATH=/bin",
		"arg=-c",
		"env=A=x=y",
		"arg=echo hi; exit 3",
		"env=EMPTY=",
		"arg=",
		"caps=0xa80425fb",
		"log_max=65536",
		"netns=1",
		"cgroupns=1",
		"bind=hosts:/etc/hosts",
		"bind=resolv.conf:/etc/resolv.conf",
		"stdin=null",
		NULL,
	};

	CHECK_INT(parse(p), 0);
	CHECK_STR(plan.cwd, "/srv/app");
	CHECK_INT(plan.uid, 1000);
	CHECK_INT(plan.gid, 100);
	CHECK_INT(plan.ngroups, 3);
	CHECK_INT(plan.groups[0], 10);
	CHECK_INT(plan.groups[1], 20);
	CHECK_INT(plan.groups[2], 4294967294u);
	CHECK_STR(plan.argv[0], "sh");
	CHECK_STR(plan.argv[1], "-c");
	CHECK_STR(plan.argv[2], "echo hi; exit 3");
	CHECK_STR(plan.argv[3], ""); /* only arg 0 must be non-empty */
	CHECK(plan.argv[4] == NULL);
	CHECK_STR(plan.envp[0], "PATH=/bin");
	CHECK_STR(plan.envp[1], "A=x=y");
	CHECK_STR(plan.envp[2], "EMPTY=");
	CHECK(plan.envp[3] == NULL);
	CHECK_INT(plan.caps, 0xa80425fbULL);
	CHECK_INT(plan.log_max, 65536);
	CHECK(plan.netns && plan.cgroupns);
	CHECK_INT(plan.nbinds, 2);
	CHECK_STR(plan.binds[0].name, "hosts");
	CHECK_STR(plan.binds[0].path, "/etc/hosts");
	CHECK_STR(plan.binds[1].name, "resolv.conf");
	CHECK_STR(plan.binds[1].path, "/etc/resolv.conf");
	return 0;
}

static int
test_limits_of_numbers(void)
{
	const char *const p[] = { BASE,
				  "arg=x",
				  "uid=4294967294",
				  "gid=0",
				  "groups=",
				  "caps=0xFFFFFFFFFFFFFFFF",
				  "log_max=18446744073709551615",
				  "netns=0",
				  NULL };

	CHECK_INT(parse(p), 0);
	CHECK_INT(plan.uid, 4294967294u);
	CHECK_INT(plan.ngroups, 0);
	CHECK(plan.caps == UINT64_MAX);
	CHECK(plan.log_max == UINT64_MAX);
	CHECK(!plan.netns);
	return 0;
}

static int
test_missing_required(void)
{
	const char *const no_rootfs[] = { "hostname=h", "arg=x", NULL };
	const char *const no_hostname[] = { "rootfs=/r", "arg=x", NULL };
	const char *const no_arg[] = { BASE, "env=A=1", NULL };
	const char *const empty_arg0[] = { BASE, "arg=", "arg=x", NULL };
	const char *const nothing[] = { NULL };

	CHECK(check_refused(no_rootfs, EINVAL, "missing key 'rootfs'") == 0);
	CHECK(check_refused(no_hostname, EINVAL, "missing key 'hostname'") == 0);
	CHECK(check_refused(no_arg, EINVAL, "missing key 'arg'") == 0);
	CHECK(check_refused(empty_arg0, EINVAL, "arg 0 is empty") == 0);
	CHECK(check_refused(nothing, EINVAL, "missing key 'rootfs'") == 0);
	return 0;
}

static int
test_unknown_and_malformed(void)
{
	const char *const unknown[] = { BASE, "arg=x", "mounts=/a", NULL };
	const char *const no_eq[] = { BASE, "arg", NULL };
	const char *const upper[] = { BASE, "arg=x", "ROOTFS=/r", NULL };
	const char *const dup[] = { BASE, "arg=x", "hostname=other", NULL };
	const char *const empty_key[] = { BASE, "arg=x", "=v", NULL };

	CHECK(check_refused(unknown, EINVAL, "unknown key 'mounts'") == 0);
	CHECK(check_refused(no_eq, EINVAL, "entry 'arg' has no '='") == 0);
	CHECK(check_refused(upper, EINVAL, "unknown key 'ROOTFS'") == 0);
	CHECK(check_refused(dup, EINVAL, "duplicate key 'hostname'") == 0);
	CHECK(check_refused(empty_key, EINVAL, "unknown key ''") == 0);
	return 0;
}

static int
test_framing(void)
{
	static const char unterminated[] = "rootfs=/r\0hostname=h\0arg=x";
	static const char empty_entry[] = "rootfs=/r\0\0hostname=h\0arg=x";

	memcpy(buf, unterminated, sizeof(unterminated) - 1);
	CHECK_INT(plan_parse(buf, sizeof(unterminated) - 1, vec, PLAN_VEC_SLOTS, &plan, &err),
		  -EINVAL);
	CHECK(strstr(err.msg, "not NUL-terminated") != NULL);
	memcpy(buf, empty_entry, sizeof(empty_entry));
	CHECK_INT(plan_parse(buf, sizeof(empty_entry), vec, PLAN_VEC_SLOTS, &plan, &err), -EINVAL);
	CHECK(strstr(err.msg, "empty entry at byte 10") != NULL);
	return 0;
}

static int
test_bad_numbers(void)
{
	static const char *const bad[][2] = {
		{ "uid=-1", "uid '-1'" },
		{ "uid=+1", "uid '+1'" },
		{ "uid= 1", "uid ' 1'" },
		{ "uid=", "uid ''" },
		{ "uid=1x", "uid '1x'" },
		{ "uid=4294967295", "uid '4294967295'" },
		{ "uid=4294967296", "uid '4294967296'" },
		{ "uid=99999999999999999999999", "uid '99999999999999999999999'" },
		{ "gid=0x10", "gid '0x10'" },
		{ "groups=1,,2", "groups ''" },
		{ "groups=1,", "empty group id" },
		{ "groups=,1", "groups ''" },
		{ "groups=1,wheel", "groups 'wheel'" },
		{ "caps=ff", "caps 'ff'" },
		{ "caps=0x", "caps '0x'" },
		{ "caps=0xg", "caps '0xg'" },
		{ "caps=0x12345678901234567", "caps '0x12345678901234567'" },
		{ "caps=-0x1", "caps '-0x1'" },
		{ "log_max=1e6", "log_max '1e6'" },
		{ "log_max=18446744073709551616", "log_max '18446744073709551616'" },
		{ "log_max=-1", "log_max '-1'" },
		{ "netns=2", "netns '2'" },
		{ "netns=", "netns ''" },
		{ "cgroupns=yes", "cgroupns 'yes'" },
	};
	const char *p[] = { BASE, "arg=x", NULL, NULL };
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p[3] = bad[i][0];
		if (check_refused(p, EINVAL, bad[i][1]) < 0) {
			printf("# entry '%s'\n", bad[i][0]);
			return -1;
		}
	}
	return 0;
}

static int
test_bad_strings(void)
{
	static const char *const bad[][2] = {
		{ "cwd=srv", "cwd 'srv': not an absolute path" },
		{ "cwd=", "cwd ''" },
		{ "env=NOEQUALS", "env 'NOEQUALS': not of the form NAME=VALUE" },
		{ "env==x", "env '=x'" },
		{ "stdin=tty", "stdin 'tty': 'null' or 'pipe'" },
		{ "tty=2", "tty '2': not 0 or 1" },
		{ "bind=hosts", "not of the form NAME:/path" },
		{ "bind=:/etc/hosts", "name is not one path component" },
		{ "bind=a/b:/etc/hosts", "bind 'a/b'" },
		{ "bind=..:/etc/hosts", "bind '..'" },
		{ "bind=hosts:etc/hosts", "bind 'etc/hosts': not an absolute path" },
	};
	const char *p[] = { BASE, "arg=x", NULL, NULL };
	const char *const rel_rootfs[] = { "rootfs=r", "hostname=h", "arg=x", NULL };
	const char *const bad_host[] = { "rootfs=/r", "hostname=a b", "arg=x", NULL };
	const char *const empty_host[] = { "rootfs=/r", "hostname=", "arg=x", NULL };
	const char *const long_host[] = {
		"rootfs=/r",
		"hostname=a123456789b123456789c123456789d123456789e123456789f123456789g1234",
		"arg=x", NULL
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		p[3] = bad[i][0];
		if (check_refused(p, EINVAL, bad[i][1]) < 0) {
			printf("# entry '%s'\n", bad[i][0]);
			return -1;
		}
	}
	CHECK(check_refused(rel_rootfs, EINVAL, "rootfs 'r': not an absolute path") == 0);
	CHECK(check_refused(bad_host, EINVAL, "hostname 'a b'") == 0);
	CHECK(check_refused(empty_host, EINVAL, "must be 1 to 64") == 0);
	CHECK(check_refused(long_host, EINVAL, "must be 1 to 64") == 0);
	return 0;
}

/* nargs + nenv entries alternating arg= and env= into buf; returns the plan's length. */
static size_t
build_many(size_t nargs, size_t nenv)
{
	size_t len = build((const char *const[]){ BASE, NULL }), i;

	for (i = 0; i < nargs || i < nenv; i++) {
		if (i < nargs)
			len += (size_t)sprintf(buf + len, "arg=a%zu", i) + 1;
		if (i < nenv)
			len += (size_t)sprintf(buf + len, "env=E%zu=v", i) + 1;
	}
	return len;
}

static int
test_entry_limit(void)
{
	size_t len = build_many(PLAN_MAX_VEC / 2, PLAN_MAX_VEC / 2);

	CHECK_INT(plan_parse(buf, len, vec, PLAN_VEC_SLOTS, &plan, &err), 0);
	CHECK_STR(plan.argv[0], "a0");
	CHECK_STR(plan.argv[PLAN_MAX_VEC / 2 - 1], "a2047");
	CHECK(plan.argv[PLAN_MAX_VEC / 2] == NULL);
	CHECK_STR(plan.envp[0], "E0=v");
	CHECK_STR(plan.envp[PLAN_MAX_VEC / 2 - 1], "E2047=v");
	CHECK(plan.envp[PLAN_MAX_VEC / 2] == NULL);

	len = build_many(PLAN_MAX_VEC, 0);
	CHECK_INT(plan_parse(buf, len, vec, PLAN_VEC_SLOTS, &plan, &err), 0);
	CHECK_STR(plan.argv[PLAN_MAX_VEC - 1], "a4095");
	CHECK(plan.envp[0] == NULL);

	len = build_many(1, PLAN_MAX_VEC - 1);
	CHECK_INT(plan_parse(buf, len, vec, PLAN_VEC_SLOTS, &plan, &err), 0);
	CHECK_STR(plan.envp[PLAN_MAX_VEC - 2], "E4094=v");

	len = build_many(PLAN_MAX_VEC / 2, PLAN_MAX_VEC / 2 + 1);
	CHECK_INT(plan_parse(buf, len, vec, PLAN_VEC_SLOTS, &plan, &err), -E2BIG);
	CHECK_INT(err.code, E2BIG);
	CHECK(strstr(err.msg, "more than 4096 arg and env entries") != NULL);

	len = build_many(PLAN_MAX_VEC + 1, 0);
	CHECK_INT(plan_parse(buf, len, vec, PLAN_VEC_SLOTS, &plan, &err), -E2BIG);

	/* A smaller vector lowers the limit instead of overflowing. */
	len = build_many(3, 0);
	CHECK_INT(plan_parse(buf, len, vec, 4, &plan, &err), -E2BIG);
	len = build_many(3, 0); /* the parser splits entries in place */
	CHECK_INT(plan_parse(buf, len, vec, 5, &plan, &err), 0);
	return 0;
}

static size_t
build_base(void)
{
	return build((const char *const[]){ BASE, "arg=x", NULL });
}

/* A plan of exactly len bytes: the base entries and one long env value. */
static size_t
build_sized(size_t len)
{
	size_t used = build_base();

	memcpy(buf + used, "env=X=", 6);
	memset(buf + used + 6, 'v', len - used - 7);
	buf[len - 1] = '\0';
	return len;
}

static int
test_size_limit(void)
{
	CHECK_INT(plan_parse(buf, build_sized(PLAN_MAX_BYTES), vec, PLAN_VEC_SLOTS, &plan, &err),
		  0);
	CHECK_INT(strlen(plan.envp[0]), PLAN_MAX_BYTES - build_base() - strlen("env=") - 1);
	CHECK_INT(
	    plan_parse(buf, build_sized(PLAN_MAX_BYTES + 1), vec, PLAN_VEC_SLOTS, &plan, &err),
	    -E2BIG);
	CHECK_INT(err.code, E2BIG);
	CHECK(strstr(err.msg, "larger than 1048576 bytes") != NULL);
	return 0;
}

static int
test_group_and_bind_limits(void)
{
	const char *p[] = { BASE, "arg=x", buf + PLAN_MAX_BYTES, NULL };
	char *g = buf + PLAN_MAX_BYTES;
	int i, n;

	n = sprintf(g, "groups=");
	for (i = 0; i < PLAN_MAX_GROUPS; i++)
		n += sprintf(g + n, "%s%d", i ? "," : "", i);
	/* build() copies into the front of buf, so the entry lives past the plan. */
	CHECK_INT(parse(p), 0);
	CHECK_INT(plan.ngroups, PLAN_MAX_GROUPS);
	CHECK_INT(plan.groups[PLAN_MAX_GROUPS - 1], PLAN_MAX_GROUPS - 1);
	sprintf(g + n, ",%d", PLAN_MAX_GROUPS);
	CHECK(check_refused(p, E2BIG, "more than 128 groups") == 0);

	{
		const char *b[PLAN_MAX_BINDS + 5] = { BASE, "arg=x" };

		for (i = 0; i < PLAN_MAX_BINDS; i++)
			b[3 + i] = "bind=hosts:/etc/hosts";
		CHECK_INT(parse(b), 0);
		CHECK_INT(plan.nbinds, PLAN_MAX_BINDS);
		b[3 + i] = "bind=hosts:/etc/hosts";
		CHECK(check_refused(b, E2BIG, "more than 16 binds") == 0);
	}
	return 0;
}

static int
test_mounts(void)
{
	const char *const good[] = { BASE,
				     "arg=x",
				     "mount=bind ro 2049:77",
				     "mount_source=/srv/my data",
				     "mount_target=/data",
				     "mount=tmpfs 0",
				     "mount_target=/run",
				     "mount=bind 1:2",
				     "mount_target=/b",
				     "mount_source=/x",
				     NULL };

	CHECK_INT(parse(good), 0);
	CHECK_INT(plan.nmounts, 3);
	CHECK(!plan.mounts[0].tmpfs && plan.mounts[0].ro);
	CHECK_INT(plan.mounts[0].dev, 2049);
	CHECK_INT(plan.mounts[0].ino, 77);
	CHECK_STR(plan.mounts[0].source, "/srv/my data");
	CHECK_STR(plan.mounts[0].target, "/data");
	CHECK(plan.mounts[1].tmpfs && plan.mounts[1].source == NULL);
	CHECK_INT(plan.mounts[1].size, 0);
	CHECK(!plan.mounts[2].ro);
	CHECK_STR(plan.mounts[2].source, "/x");
	{
		const char *const a[] = { BASE, "arg=x", "mount_target=/d", NULL };
		const char *const b[] = { BASE, "arg=x", "mount=tmpfs 0", "mount_source=/s", NULL };
		const char *const c[] = { BASE, "arg=x", "mount=bind 1:2", "mount_target=/d",
					  NULL };
		const char *const d[] = { BASE, "arg=x", "mount=tmpfs 5", NULL };
		const char *const e[] = {
			BASE, "arg=x", "mount=tmpfs 5", "mount_target=/d", "mount_target=/e", NULL
		};
		const char *const f[] = { BASE, "arg=x", "mount=bind 1", NULL };
		const char *const g[] = { BASE, "arg=x", "mount=nfs 1:2", NULL };
		const char *const h[] = { BASE, "arg=x", "mount=bind 1:2", "mount_source=rel",
					  NULL };

		CHECK(check_refused(a, EINVAL, "no mount= before it") == 0);
		CHECK(check_refused(b, EINVAL, "one for a tmpfs") == 0);
		CHECK(check_refused(c, EINVAL, "lacks its source") == 0);
		CHECK(check_refused(d, EINVAL, "lacks its target") == 0);
		CHECK(check_refused(e, EINVAL, "a second target") == 0);
		CHECK(check_refused(f, EINVAL, "not DEV:INO") == 0);
		CHECK(check_refused(g, EINVAL, "not bind or tmpfs") == 0);
		CHECK(check_refused(h, EINVAL, "not an absolute path") == 0);
	}
	return 0;
}

/* "seccomp=" and the hex of n instructions whose bytes count up from first; returns buf's entry. */
static const char *
seccomp_entry(char *out, size_t n, unsigned first)
{
	size_t i, len = (size_t)sprintf(out, "seccomp=");

	for (i = 0; i < n * sizeof(struct sock_filter); i++)
		len += (size_t)sprintf(out + len, "%02x", (first + (unsigned)i) & 0xff);
	return out;
}

static int
test_seccomp(void)
{
	static char entry[16 + 2 * 8 * (BPF_MAXINSNS + 1)];
	const char *p[] = { "rootfs=/r", NULL, "arg=x", entry, NULL };
	static const char *const hosts[] = { "hostname=a", "hostname=ab", "hostname=abc",
					     "hostname=abcd" };
	const unsigned char *b;
	size_t i, k;

	/* No key: no filter. */
	p[1] = hosts[0];
	p[3] = NULL;
	CHECK_INT(parse(p), 0);
	CHECK(plan.seccomp == NULL && plan.seccomp_len == 0);
	p[3] = entry;
	/* Every starting offset of the value: the program comes out aligned and intact. */
	for (k = 0; k < 4; k++) {
		p[1] = hosts[k];
		seccomp_entry(entry, 3, 0x10);
		CHECK_INT(parse(p), 0);
		CHECK_INT(plan.seccomp_len, 3);
		CHECK((uintptr_t)plan.seccomp % _Alignof(struct sock_filter) == 0);
		b = (const unsigned char *)plan.seccomp;
		for (i = 0; i < 3 * sizeof(struct sock_filter); i++)
			CHECK_INT(b[i], 0x10 + i);
		CHECK_STR(plan.argv[0], "x"); /* the entries after it are intact */
	}
	/* Upper-case digits too, and the largest program. */
	strcpy(entry, "seccomp=0102030405060708A0B0C0D0E0F0aBcD");
	CHECK_INT(parse(p), 0);
	CHECK_INT(plan.seccomp_len, 2);
	b = (const unsigned char *)plan.seccomp;
	CHECK_INT(b[0], 0x01);
	CHECK_INT(b[8], 0xa0);
	CHECK_INT(b[14], 0xab);
	CHECK_INT(b[15], 0xcd);
	seccomp_entry(entry, BPF_MAXINSNS, 0);
	CHECK_INT(parse(p), 0);
	CHECK_INT(plan.seccomp_len, BPF_MAXINSNS);
	return 0;
}

static int
test_seccomp_refused(void)
{
	static char entry[16 + 2 * 8 * (BPF_MAXINSNS + 1)];
	const char *p[] = { BASE, "arg=x", entry, NULL };
	const char *const dup[] = { BASE, "arg=x", "seccomp=0000000000000000",
				    "seccomp=0000000000000000", NULL };
	static const char *const bad[][2] = {
		{ "seccomp=", "seccomp '': not hex of whole 8-byte instructions" },
		{ "seccomp=0", "not hex of whole 8-byte instructions" },
		{ "seccomp=00000000000000", "not hex of whole 8-byte instructions" },
		{ "seccomp=000000000000000000", "not hex of whole 8-byte instructions" },
		{ "seccomp=00000000000000zz", "seccomp: not a hex digit at offset 14" },
		{ "seccomp=g000000000000000", "seccomp: not a hex digit at offset 0" },
		{ "seccomp= 000000000000000", "seccomp: not a hex digit at offset 0" },
		{ "seccomp=0x00000000000000", "seccomp: not a hex digit at offset 0" },
	};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strcpy(entry, bad[i][0]);
		if (check_refused(p, EINVAL, bad[i][1]) < 0) {
			printf("# entry '%s'\n", bad[i][0]);
			return -1;
		}
	}
	CHECK(check_refused(dup, EINVAL, "duplicate key 'seccomp'") == 0);
	seccomp_entry(entry, BPF_MAXINSNS + 1, 0);
	CHECK(check_refused(p, E2BIG, "seccomp: more than 4096 instructions") == 0);
	return 0;
}

int
main(void)
{
	RUN(test_minimal_defaults);
	RUN(test_full_plan);
	RUN(test_limits_of_numbers);
	RUN(test_missing_required);
	RUN(test_unknown_and_malformed);
	RUN(test_framing);
	RUN(test_bad_numbers);
	RUN(test_bad_strings);
	RUN(test_entry_limit);
	RUN(test_size_limit);
	RUN(test_mounts);
	RUN(test_group_and_bind_limits);
	RUN(test_seccomp);
	RUN(test_seccomp_refused);
	return TAP_DONE();
}
