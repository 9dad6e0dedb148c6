/*
 * config.json's linux.seccomp: the default action, architectures, flags and
 * rules, by the names libseccomp gives them ("SCMP_ACT_ERRNO",
 * "SCMP_CMP_MASKED_EQ"); engine/proc builds the filter.  SCMP_ACT_NOTIFY and
 * its listener are refused by name.  Pure: no I/O.
 */
#include <string.h>
#include <jansson.h>

#include "parse/oci_spec.h"
#include "parse/oci_json.h"
#include "base/base.h"

#define ERRNO_RET_MAX 65535 /* SECCOMP_RET_DATA is 16 bits */

static const char *const actions[] = {
	[OCI_ACT_KILL] = "SCMP_ACT_KILL",
	[OCI_ACT_KILL_PROCESS] = "SCMP_ACT_KILL_PROCESS",
	[OCI_ACT_KILL_THREAD] = "SCMP_ACT_KILL_THREAD",
	[OCI_ACT_TRAP] = "SCMP_ACT_TRAP",
	[OCI_ACT_ERRNO] = "SCMP_ACT_ERRNO",
	[OCI_ACT_TRACE] = "SCMP_ACT_TRACE",
	[OCI_ACT_ALLOW] = "SCMP_ACT_ALLOW",
	[OCI_ACT_LOG] = "SCMP_ACT_LOG",
};

static const char *const ops[] = {
	[OCI_OP_NE] = "SCMP_CMP_NE",
	[OCI_OP_LT] = "SCMP_CMP_LT",
	[OCI_OP_LE] = "SCMP_CMP_LE",
	[OCI_OP_EQ] = "SCMP_CMP_EQ",
	[OCI_OP_GE] = "SCMP_CMP_GE",
	[OCI_OP_GT] = "SCMP_CMP_GT",
	[OCI_OP_MASKED_EQ] = "SCMP_CMP_MASKED_EQ",
};

static const char *const archs[] = {
	"SCMP_ARCH_X86",     "SCMP_ARCH_X86_64",   "SCMP_ARCH_X32",         "SCMP_ARCH_ARM",
	"SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",     "SCMP_ARCH_MIPS64",      "SCMP_ARCH_MIPS64N32",
	"SCMP_ARCH_MIPSEL",  "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
	"SCMP_ARCH_PPC64",   "SCMP_ARCH_PPC64LE",  "SCMP_ARCH_S390",        "SCMP_ARCH_S390X",
	"SCMP_ARCH_PARISC",  "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64",     "SCMP_ARCH_LOONGARCH64",
	"SCMP_ARCH_M68K",    "SCMP_ARCH_SH",       "SCMP_ARCH_SHEB",
};

static const char *const seccomp_flags[] = {
	"SECCOMP_FILTER_FLAG_TSYNC",
	"SECCOMP_FILTER_FLAG_LOG",
	"SECCOMP_FILTER_FLAG_SPEC_ALLOW",
	"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
};

static int
check_arch(const char *s, const char *at, struct bk_err *err)
{
	char sb[SHOWN_SIZE];

	if (oj_lookup(archs, ARRAY_SIZE(archs), s) < 0)
		return oj_bad(err, at, NULL, "unknown architecture \"%s\"", oj_shown(s, sb));
	return 0;
}

static int
check_seccomp_flag(const char *s, const char *at, struct bk_err *err)
{
	char sb[SHOWN_SIZE];

	if (oj_lookup(seccomp_flags, ARRAY_SIZE(seccomp_flags), s) < 0)
		return oj_bad(err, at, NULL, "unknown flag \"%s\"", oj_shown(s, sb));
	return 0;
}

static int
check_syscall_name(const char *s, const char *at, struct bk_err *err)
{
	char sb[SHOWN_SIZE];

	if (s[0] == '\0' || strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				      "0123456789_") != strlen(s))
		return oj_bad(err, at, NULL, "\"%s\" is not a system call name", oj_shown(s, sb));
	return 0;
}

static int
get_action(const json_t *o, const char *at, const char *key, enum oci_seccomp_action *out,
	   struct bk_err *err)
{
	cleanup_free char *a = NULL;
	char sb[SHOWN_SIZE];
	int k, ret = oj_req_str(o, at, key, &a, err);

	if (ret < 0)
		return ret;
	k = oj_lookup(actions, ARRAY_SIZE(actions), a);
	if (k < 0 && strcmp(a, "SCMP_ACT_NOTIFY") == 0)
		return oj_bad(err, at, key, "SCMP_ACT_NOTIFY not supported");
	if (k < 0)
		return oj_bad(err, at, key, "unknown action \"%s\"", oj_shown(a, sb));
	*out = (enum oci_seccomp_action)k;
	return 0;
}

/* errnoRet: the spec says an action that takes none MUST fail. */
static int
get_errno_ret(const json_t *o, const char *at, const char *key, enum oci_seccomp_action action,
	      bool *has, unsigned *out, struct bk_err *err)
{
	int64_t n = 0;
	int ret = oj_get_int(o, at, key, 0, ERRNO_RET_MAX, &n, err);

	if (ret <= 0)
		return ret;
	if (action != OCI_ACT_ERRNO && action != OCI_ACT_TRACE)
		return oj_bad(err, at, key, "only for SCMP_ACT_ERRNO and SCMP_ACT_TRACE");
	*has = true;
	*out = (unsigned)n;
	return 0;
}

static int
parse_seccomp_arg(const json_t *a, const char *at, struct oci_seccomp_arg *out, struct bk_err *err)
{
	cleanup_free char *op = NULL;
	char sb[SHOWN_SIZE];
	int64_t arg = 0;
	int k, ret;

	if (!json_is_object(a))
		return oj_bad(err, at, NULL, "must be an object");
	ret = oj_req_int(a, at, "index", 0, 5, &arg, err);
	if (ret > 0)
		ret = oj_req_u64(a, at, "value", &out->value, err);
	if (ret > 0)
		ret = oj_get_u64(a, at, "valueTwo", &out->value_two, err);
	if (ret >= 0)
		ret = oj_req_str(a, at, "op", &op, err);
	if (ret < 0)
		return ret;
	out->index = (unsigned)arg;
	k = oj_lookup(ops, ARRAY_SIZE(ops), op);
	if (k < 0)
		return oj_bad(err, at, "op", "unknown operator \"%s\"", oj_shown(op, sb));
	out->op = (enum oci_seccomp_op)k;
	return 0;
}

static int
parse_seccomp_rule(const json_t *r, const char *at, struct oci_seccomp_rule *out,
		   struct bk_err *err)
{
	json_t *a = NULL, *v;
	size_t i;
	int ret;

	if (!json_is_object(r))
		return oj_bad(err, at, NULL, "must be an object");
	ret = oj_get_strv(r, at, "names", check_syscall_name, &out->names, err);
	if (ret < 0)
		return ret;
	if (out->names[0] == NULL)
		return oj_bad(err, at, "names", "must not be empty");
	ret = get_action(r, at, "action", &out->action, err);
	if (ret >= 0)
		ret = get_errno_ret(r, at, "errnoRet", out->action, &out->has_errno,
				    &out->errno_ret, err);
	if (ret >= 0)
		ret = oj_get_array(r, at, "args", &a, err);
	if (ret <= 0)
		return ret;
	out->args = xcalloc(json_array_size(a), sizeof(*out->args));
	out->n_args = json_array_size(a);
	json_array_foreach (a, i, v) {
		char at_i[AT_MAX];

		ret = parse_seccomp_arg(v, oj_idx(at_i, at, "args", i), &out->args[i], err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int
parse_seccomp_rules(const json_t *o, const char *at, struct oci_seccomp *out, struct bk_err *err)
{
	json_t *a = NULL, *r;
	size_t i;
	int ret = oj_get_array(o, at, "syscalls", &a, err);

	if (ret <= 0)
		return ret;
	out->rules = xcalloc(json_array_size(a), sizeof(*out->rules));
	out->n_rules = json_array_size(a);
	json_array_foreach (a, i, r) {
		char at_i[AT_MAX];

		ret = parse_seccomp_rule(r, oj_idx(at_i, at, "syscalls", i), &out->rules[i], err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

int
oj_parse_seccomp(const json_t *l, struct oci_spec *s, struct bk_err *err)
{
	static const char *const unsupported[] = { "listenerPath", "listenerMetadata" };
	static const char at[] = "linux.seccomp";
	struct oci_seccomp *sc = &s->seccomp;
	json_t *o = NULL, *da;
	int ret = oj_get_object(l, "linux", "seccomp", &o, err);

	if (ret <= 0)
		return ret;
	/* runc: no default action and no rules is no filter */
	da = oj_member(o, "defaultAction");
	if ((da == NULL || (json_is_string(da) && json_string_length(da) == 0)) &&
	    oj_is_empty(oj_member(o, "syscalls")))
		return 0;
	s->has_seccomp = true;
	ret = oj_refuse(o, at, unsupported, ARRAY_SIZE(unsupported), err);
	if (ret >= 0)
		ret = get_action(o, at, "defaultAction", &sc->default_action, err);
	if (ret >= 0)
		ret = get_errno_ret(o, at, "defaultErrnoRet", sc->default_action,
				    &sc->has_default_errno, &sc->default_errno_ret, err);
	if (ret >= 0)
		ret = oj_get_strv(o, at, "architectures", check_arch, &sc->architectures, err);
	if (ret >= 0)
		ret = oj_get_strv(o, at, "flags", check_seccomp_flag, &sc->flags, err);
	if (ret >= 0)
		ret = parse_seccomp_rules(o, at, sc, err);
	return ret < 0 ? ret : 0;
}

void
oj_seccomp_free(struct oci_seccomp *sc)
{
	size_t i;

	for (i = 0; i < sc->n_rules; i++) {
		strv_free(sc->rules[i].names);
		free(sc->rules[i].args);
	}
	free(sc->rules);
	strv_free(sc->architectures);
	strv_free(sc->flags);
}
