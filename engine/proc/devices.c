/*
 * Which devices a container may use: Docker's default rules, as cgroup v1's
 * devices.allow lines and as the cgroup v2 device program that does the
 * same (v2 has no devices files: runc and crun attach such a program too).
 *
 * The program is a handful of compares per rule, written here with the
 * kernel's instruction macros: no library builds eBPF for us, and libbpf
 * would only load it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/bpf.h>

#include "proc/proc.h"
#include "base/base.h"
#include "parse/oci_spec.h"

struct dev_rule {
	char type;          /* 'c', 'b' or 'a' (any) */
	int major;          /* -1: any */
	int minor;          /* -1: any */
	const char *access; /* some of "rwm" */
	bool deny;          /* an OCI rule may deny; Docker's only allow */
};

/* Docker's defaults: mknod of anything; use of the standard character nodes. */
static const struct dev_rule rules[] = {
	{ 'c', -1, -1, "m" },    { 'b', -1, -1, "m" }, { 'c', 1, 3, "rwm" }, /* null */
	{ 'c', 1, 5, "rwm" },                                                /* zero */
	{ 'c', 1, 7, "rwm" },                                                /* full */
	{ 'c', 1, 8, "rwm" },                                                /* random */
	{ 'c', 1, 9, "rwm" },                                                /* urandom */
	{ 'c', 5, 0, "rwm" },                                                /* tty */
	{ 'c', 5, 1, "rwm" },                                                /* console */
	{ 'c', 5, 2, "rwm" },                                                /* ptmx */
	{ 'c', 136, -1, "rwm" },                                             /* pts */
	{ 'c', 10, 200, "rwm" },                                             /* tun */
};

size_t
devices_v1_rules(char lines[][32], size_t max)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(rules) && i < max; i++) {
		char maj[12] = "*", min[12] = "*";

		if (rules[i].major >= 0)
			snprintf(maj, sizeof(maj), "%d", rules[i].major);
		if (rules[i].minor >= 0)
			snprintf(min, sizeof(min), "%d", rules[i].minor);
		snprintf(lines[i], 32, "%c %s:%s %s", rules[i].type, maj, min, rules[i].access);
	}
	return i;
}

#define INSN(c, d, s, o, i) \
	((struct bpf_insn){ .code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i) })

static uint32_t
access_bits(const char *access)
{
	uint32_t bits = 0;

	bits |= strchr(access, 'm') ? BPF_DEVCG_ACC_MKNOD : 0;
	bits |= strchr(access, 'r') ? BPF_DEVCG_ACC_READ : 0;
	bits |= strchr(access, 'w') ? BPF_DEVCG_ACC_WRITE : 0;
	return bits;
}

/*
 * The program, given struct bpf_cgroup_dev_ctx in r1: r2 = type, r3 =
 * access, r4 = major, r5 = minor; the first of rules[] (walked from the
 * last: a later rule overrides an earlier one, as in v1's files) that
 * matches all of them returns 1 (allowed) or 0 (denied); none does: 0.
 * Every jump goes to the next rule's first instruction, so each rule's
 * block is patched once its length is known.
 */
#define INSNS_PER_RULE 8
static size_t
build(struct bpf_insn *p, size_t max, const struct dev_rule *rl, size_t nrules)
{
	size_t n = 0, i, j;

	if (max < 8 + nrules * INSNS_PER_RULE)
		return 0;
	p[n++] = INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_1, 0, 0); /* access_type */
	p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_2, 0, 0);
	p[n++] = INSN(BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff);  /* type */
	p[n++] = INSN(BPF_ALU64 | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16);      /* access */
	p[n++] = INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_4, BPF_REG_1, 4, 0); /* major */
	p[n++] = INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_5, BPF_REG_1, 8, 0); /* minor */
	for (i = nrules; i-- > 0;) {
		const struct dev_rule *r = &rl[i];
		size_t start = n;

		if (r->type != 'a')
			p[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, 0,
				      r->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK);
		if (r->major >= 0)
			p[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_4, 0, 0, r->major);
		if (r->minor >= 0)
			p[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_5, 0, 0, r->minor);
		/* A rule applies only if no access asked is outside the rule's. */
		p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_0, BPF_REG_3, 0, 0);
		p[n++] = INSN(BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_0, 0, 0,
			      (int32_t)~access_bits(r->access));
		p[n++] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_0, 0, 0, 0);
		p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, r->deny ? 0 : 1);
		p[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
		for (j = start; j < n; j++)
			if (BPF_CLASS(p[j].code) == BPF_JMP && BPF_OP(p[j].code) == BPF_JNE)
				p[j].off = (int16_t)(n - j - 1);
	}
	p[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 0);
	p[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	return n;
}

static int
load(const struct dev_rule *rl, size_t nrules, struct bk_err *err)
{
	size_t max = 8 + nrules * INSNS_PER_RULE;
	cleanup_free struct bpf_insn *prog = xmalloc(max * sizeof(*prog));
	char log[8192] = "";
	union bpf_attr attr;
	int fd, saved;

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	attr.insns = (uint64_t)(uintptr_t)prog;
	attr.insn_cnt = (uint32_t)build(prog, max, rl, nrules);
	attr.license = (uint64_t)(uintptr_t) "GPL";
	fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr));
	if (fd >= 0)
		return fd;
	saved = errno;
	/* Again with the verifier's log, whose last line says why. */
	attr.log_buf = (uint64_t)(uintptr_t)log;
	attr.log_size = sizeof(log);
	attr.log_level = 1;
	if (syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr)) >= 0)
		return bk_err_set(err, EIO, "cgroups: the device program loads only with a log");
	log[sizeof(log) - 1] = '\0';
	while (*log && log[strlen(log) - 1] == '\n')
		log[strlen(log) - 1] = '\0';
	return bk_err_set(err, saved,
			  "cgroups: load the device program (v2 controls devices "
			  "only through one): %s%s%s",
			  strerror(saved), *log ? ": " : "",
			  strrchr(log, '\n') ? strrchr(log, '\n') + 1 : log);
}

int
devices_v2_load(struct bk_err *err)
{
	return load(rules, ARRAY_SIZE(rules), err);
}

int
devices_v2_load_oci(const struct oci_device_rule *r, size_t n, struct bk_err *err)
{
	cleanup_free struct dev_rule *rl = NULL;
	size_t i;

	if (n > 4096)
		return bk_err_set(err, E2BIG, "more than 4096 device rules");
	rl = xmalloc((n ? n : 1) * sizeof(*rl));
	for (i = 0; i < n; i++) {
		if (r[i].major > INT32_MAX || r[i].minor > INT32_MAX)
			return bk_err_set(err, EINVAL, "rule %zu: device number too large", i);
		rl[i] = (struct dev_rule){ .type = r[i].type,
					   .major = (int)r[i].major,
					   .minor = (int)r[i].minor,
					   .access = r[i].access,
					   .deny = !r[i].allow };
	}
	return load(rl, n, err);
}

int
devices_v2_attach(int prog_fd, int cgroup_fd)
{
	union bpf_attr attr;

	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)cgroup_fd;
	attr.attach_bpf_fd = (uint32_t)prog_fd;
	attr.attach_type = BPF_CGROUP_DEVICE;
	return syscall(SYS_bpf, BPF_PROG_ATTACH, &attr, sizeof(attr)) < 0 ? -errno : 0;
}
