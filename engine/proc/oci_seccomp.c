/*
 * An OCI config's linux.seccomp, compiled with libseccomp into the raw
 * program the runtime's init installs (the same ENOSYS stub in front as our
 * own profile's, proc/seccomp.c: a syscall newer than libseccomp fails with
 * ENOSYS, not with the profile's default).
 *
 * As runc: a syscall name libseccomp does not know is skipped (profiles list
 * calls of newer kernels), a rule whose action is the default is skipped
 * (libseccomp refuses it), and arguments compared at the same index make
 * one rule each (either may match) while different indexes make one rule
 * (all must).
 */
#include <ctype.h>
#include <errno.h>
#include <string.h>
#include <seccomp.h>

#include "proc/proc.h"
#include "base/base.h"
#include "parse/oci_spec.h"

DEFINE_CLEANUP(scmp_filter_ctx, seccomp_release)

static uint32_t
action_of(enum oci_seccomp_action a, bool has_errno, unsigned errno_ret)
{
	switch (a) {
	case OCI_ACT_KILL:
	case OCI_ACT_KILL_THREAD:
		return SCMP_ACT_KILL_THREAD;
	case OCI_ACT_KILL_PROCESS:
		return SCMP_ACT_KILL_PROCESS;
	case OCI_ACT_TRAP:
		return SCMP_ACT_TRAP;
	case OCI_ACT_ERRNO:
		return SCMP_ACT_ERRNO(has_errno ? errno_ret : EPERM);
	case OCI_ACT_TRACE:
		return SCMP_ACT_TRACE(has_errno ? errno_ret : EPERM);
	case OCI_ACT_LOG:
		return SCMP_ACT_LOG;
	case OCI_ACT_ALLOW:
		break;
	}
	return SCMP_ACT_ALLOW;
}

static int
add_arches(scmp_filter_ctx ctx, char **arches, struct bk_err *err)
{
	size_t i;

	for (i = 0; arches && arches[i]; i++) {
		char name[32];
		uint32_t token;
		size_t j;
		int rc;

		if (strncmp(arches[i], "SCMP_ARCH_", 10) || strlen(arches[i]) - 10 >= sizeof(name))
			return bk_err_set(err, EINVAL, "linux.seccomp.architectures[%zu]: '%.32s'",
					  i, arches[i]);
		for (j = 0; arches[i][10 + j]; j++)
			name[j] = (char)tolower((unsigned char)arches[i][10 + j]);
		name[j] = '\0';
		token = seccomp_arch_resolve_name(name);
		if (token == 0)
			return bk_err_set(err, EINVAL,
					  "linux.seccomp.architectures[%zu]: %s: unknown to "
					  "libseccomp",
					  i, arches[i]);
		rc = seccomp_arch_add(ctx, token);
		if (rc < 0 && rc != -EEXIST)
			return bk_err_set(err, -rc, "linux.seccomp.architectures[%zu]: %s: %s", i,
					  arches[i], strerror(-rc));
	}
	return 0;
}

static int
set_flags(scmp_filter_ctx ctx, char **flags, struct bk_err *err)
{
	size_t i;

	for (i = 0; flags && flags[i]; i++) {
		int rc = 0;

		if (!strcmp(flags[i], "SECCOMP_FILTER_FLAG_LOG"))
			rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1);
		else if (!strcmp(flags[i], "SECCOMP_FILTER_FLAG_SPEC_ALLOW"))
			rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_SSB, 1);
		else if (strcmp(flags[i], "SECCOMP_FILTER_FLAG_TSYNC")) /* one thread: moot */
			return bk_err_set(err, EINVAL,
					  "linux.seccomp.flags[%zu]: %.64s: not supported", i,
					  flags[i]);
		if (rc < 0)
			return bk_err_set(err, -rc, "linux.seccomp.flags[%zu]: %s: %s", i, flags[i],
					  strerror(-rc));
	}
	return 0;
}

static struct scmp_arg_cmp
cmp_of(const struct oci_seccomp_arg *a)
{
	static const enum scmp_compare ops[] = {
		[OCI_OP_NE] = SCMP_CMP_NE,
		[OCI_OP_LT] = SCMP_CMP_LT,
		[OCI_OP_LE] = SCMP_CMP_LE,
		[OCI_OP_EQ] = SCMP_CMP_EQ,
		[OCI_OP_GE] = SCMP_CMP_GE,
		[OCI_OP_GT] = SCMP_CMP_GT,
		[OCI_OP_MASKED_EQ] = SCMP_CMP_MASKED_EQ,
	};

	return (struct scmp_arg_cmp){
		.arg = a->index, .op = ops[a->op], .datum_a = a->value, .datum_b = a->value_two
	};
}

static bool
index_repeats(const struct oci_seccomp_rule *r)
{
	size_t i, j;

	for (i = 0; i < r->n_args; i++)
		for (j = i + 1; j < r->n_args; j++)
			if (r->args[i].index == r->args[j].index)
				return true;
	return false;
}

static int
add_rule(scmp_filter_ctx ctx, uint32_t def, const struct oci_seccomp_rule *r, size_t at,
	 struct bk_err *err)
{
	uint32_t act = action_of(r->action, r->has_errno, r->errno_ret);
	struct scmp_arg_cmp cmps[6];
	size_t i, k;
	int rc;

	if (act == def)
		return 0;
	for (i = 0; r->names[i]; i++) {
		int nr = seccomp_syscall_resolve_name(r->names[i]);

		if (nr == __NR_SCMP_ERROR)
			continue;
		if (r->n_args == 0) {
			rc = seccomp_rule_add(ctx, act, nr, 0);
		} else if (index_repeats(r)) {
			for (k = 0, rc = 0; k < r->n_args && rc >= 0; k++) {
				cmps[0] = cmp_of(&r->args[k]);
				rc = seccomp_rule_add_array(ctx, act, nr, 1, cmps);
			}
		} else {
			if (r->n_args > 6)
				return bk_err_set(err, EINVAL,
						  "linux.seccomp.syscalls[%zu]: more than "
						  "6 arguments",
						  at);
			for (k = 0; k < r->n_args; k++)
				cmps[k] = cmp_of(&r->args[k]);
			rc = seccomp_rule_add_array(ctx, act, nr, (unsigned)r->n_args, cmps);
		}
		if (rc < 0)
			return bk_err_set(err, -rc, "linux.seccomp.syscalls[%zu]: %s: %s", at,
					  r->names[i], strerror(-rc));
	}
	return 0;
}

int
oci_seccomp_build(const struct oci_seccomp *s, char **bytes, size_t *ninsns, struct bk_err *err)
{
	uint32_t def = action_of(s->default_action, s->has_default_errno, s->default_errno_ret);
	cleanup(seccomp_releasep) scmp_filter_ctx ctx = seccomp_init(def);
	size_t i;
	int rc;

	if (ctx == NULL)
		return bk_err_set(err, EINVAL,
				  "linux.seccomp: libseccomp refused the default action");
	/* no_new_privs is the process's to set (process.noNewPrivileges), not libseccomp's. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (rc < 0)
		return bk_err_set(err, -rc, "linux.seccomp: %s", strerror(-rc));
	seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	if (add_arches(ctx, s->architectures, err) < 0 || set_flags(ctx, s->flags, err) < 0)
		return -err->code;
	for (i = 0; i < s->n_rules; i++)
		if (add_rule(ctx, def, &s->rules[i], i, err) < 0)
			return -err->code;
	return seccomp_program(ctx, bytes, ninsns, err);
}
