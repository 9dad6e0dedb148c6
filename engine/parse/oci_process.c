/*
 * config.json's process, and exec's process JSON, which has the same form:
 * what is run (args, env, cwd), as whom (user, capabilities, noNewPrivileges),
 * with which limits (rlimits, oomScoreAdj), on which terminal.  As runc 1.1
 * reads it; members it cannot honour (ioPriority, scheduler, execCPUAffinity)
 * are refused by name.  Pure: no I/O.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <sys/resource.h>
#include <jansson.h>

#include "parse/oci_spec.h"
#include "parse/oci_json.h"
#include "base/base.h"

static const char *const cap_names[] = {
	"CAP_CHOWN",
	"CAP_DAC_OVERRIDE",
	"CAP_DAC_READ_SEARCH",
	"CAP_FOWNER",
	"CAP_FSETID",
	"CAP_KILL",
	"CAP_SETGID",
	"CAP_SETUID",
	"CAP_SETPCAP",
	"CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST",
	"CAP_NET_ADMIN",
	"CAP_NET_RAW",
	"CAP_IPC_LOCK",
	"CAP_IPC_OWNER",
	"CAP_SYS_MODULE",
	"CAP_SYS_RAWIO",
	"CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE",
	"CAP_SYS_PACCT",
	"CAP_SYS_ADMIN",
	"CAP_SYS_BOOT",
	"CAP_SYS_NICE",
	"CAP_SYS_RESOURCE",
	"CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG",
	"CAP_MKNOD",
	"CAP_LEASE",
	"CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL",
	"CAP_SETFCAP",
	"CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN",
	"CAP_SYSLOG",
	"CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND",
	"CAP_AUDIT_READ",
	"CAP_PERFMON",
	"CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
};
_Static_assert(ARRAY_SIZE(cap_names) == 41, "CAP_CHECKPOINT_RESTORE is 40");
_Static_assert(ARRAY_SIZE(cap_names) <= OCI_CAP_LAST_MAX + 1, "capabilities fit a uint64_t");

int
oci_cap_parse(const char *name)
{
	int n = name ? oj_lookup(cap_names, ARRAY_SIZE(cap_names), name) : -1;

	return n < 0 ? -EINVAL : n;
}

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
	{ "RLIMIT_CPU", RLIMIT_CPU },           { "RLIMIT_FSIZE", RLIMIT_FSIZE },
	{ "RLIMIT_DATA", RLIMIT_DATA },         { "RLIMIT_STACK", RLIMIT_STACK },
	{ "RLIMIT_CORE", RLIMIT_CORE },         { "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_NPROC", RLIMIT_NPROC },       { "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK },   { "RLIMIT_AS", RLIMIT_AS },
	{ "RLIMIT_LOCKS", RLIMIT_LOCKS },       { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
	{ "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE }, { "RLIMIT_NICE", RLIMIT_NICE },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO },     { "RLIMIT_RTTIME", RLIMIT_RTTIME },
};

static int
parse_rlimit(const json_t *r, const char *at, uint32_t *seen, struct oci_rlimit *out,
	     struct bk_err *err)
{
	cleanup_free char *type = NULL;
	char sb[SHOWN_SIZE];
	size_t i;
	int ret;

	if (!json_is_object(r))
		return oj_bad(err, at, NULL, "must be an object");
	ret = oj_req_str(r, at, "type", &type, err);
	if (ret < 0)
		return ret;
	for (i = 0; i < ARRAY_SIZE(rlimit_names); i++)
		if (strcmp(type, rlimit_names[i].name) == 0)
			break;
	if (i == ARRAY_SIZE(rlimit_names))
		return oj_bad(err, at, "type", "unknown resource \"%s\"", oj_shown(type, sb));
	/* the spec: duplicated types MUST be an error */
	if (*seen & (1u << i))
		return oj_bad(err, at, "type", "%s given twice", rlimit_names[i].name);
	*seen |= 1u << i;
	out->resource = rlimit_names[i].resource;
	ret = oj_req_u64(r, at, "hard", &out->hard, err);
	if (ret > 0)
		ret = oj_req_u64(r, at, "soft", &out->soft, err);
	if (ret < 0)
		return ret;
	if (out->soft > out->hard)
		return oj_bad(err, at, "soft", "%" PRIu64 " is above hard (%" PRIu64 ")", out->soft,
			      out->hard);
	return 0;
}

static int
parse_rlimits(const json_t *p, const char *at, struct oci_process *out, struct bk_err *err)
{
	json_t *a = NULL, *r;
	uint32_t seen = 0;
	size_t i;
	int ret = oj_get_array(p, at, "rlimits", &a, err);

	if (ret <= 0)
		return ret;
	out->rlimits = xcalloc(json_array_size(a), sizeof(*out->rlimits));
	out->n_rlimits = json_array_size(a);
	json_array_foreach (a, i, r) {
		char at_i[AT_MAX];

		ret = parse_rlimit(r, oj_idx(at_i, at, "rlimits", i), &seen, &out->rlimits[i], err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int
parse_caps(const json_t *p, const char *at, struct oci_process *out, struct bk_err *err)
{
	static const char *const sets[] = { "bounding", "effective", "inheritable", "permitted",
					    "ambient" };
	uint64_t *masks[] = { &out->caps.bounding, &out->caps.effective, &out->caps.inheritable,
			      &out->caps.permitted, &out->caps.ambient };
	char at_c[AT_MAX];
	json_t *c = NULL;
	size_t k;
	int ret = oj_get_object(p, at, "capabilities", &c, err);

	if (ret <= 0)
		return ret;
	out->has_caps = true;
	oj_sub(at_c, at, "capabilities");
	for (k = 0; k < ARRAY_SIZE(sets); k++) {
		json_t *a = NULL, *v;
		size_t i;

		ret = oj_get_array(c, at_c, sets[k], &a, err);
		if (ret < 0)
			return ret;
		json_array_foreach (a, i, v) {
			char at_i[AT_MAX], sb[SHOWN_SIZE];
			int cap;

			oj_idx(at_i, at_c, sets[k], i);
			ret = oj_str_ok(v, at_i, NULL, err);
			if (ret < 0)
				return ret;
			cap = oci_cap_parse(json_string_value(v));
			if (cap < 0)
				return oj_bad(err, at_i, NULL, "unknown capability %s",
					      oj_shown(json_string_value(v), sb));
			*masks[k] |= (uint64_t)1 << cap;
		}
	}
	return 0;
}

static int
parse_user(const json_t *p, const char *at, struct oci_process *out, struct bk_err *err)
{
	char at_u[AT_MAX];
	json_t *u = NULL, *a = NULL, *v;
	int64_t n = 0;
	size_t i;
	int ret = oj_get_object(p, at, "user", &u, err);

	if (ret <= 0)
		return ret;
	oj_sub(at_u, at, "user");
	ret = oj_get_int(u, at_u, "uid", 0, ID_MAX, &n, err);
	if (ret < 0)
		return ret;
	out->uid = (uid_t)n;
	n = 0;
	ret = oj_get_int(u, at_u, "gid", 0, ID_MAX, &n, err);
	if (ret < 0)
		return ret;
	out->gid = (gid_t)n;
	ret = oj_get_int(u, at_u, "umask", 0, 0777, &n, err);
	if (ret < 0)
		return ret;
	out->has_umask = ret > 0;
	out->umask = out->has_umask ? (mode_t)n : 0;
	ret = oj_get_array(u, at_u, "additionalGids", &a, err);
	if (ret <= 0)
		return ret;
	out->additional_gids = xcalloc(json_array_size(a), sizeof(gid_t));
	out->n_additional_gids = json_array_size(a);
	json_array_foreach (a, i, v) {
		char at_i[AT_MAX];

		ret =
		    oj_int_ok(v, oj_idx(at_i, at_u, "additionalGids", i), NULL, 0, ID_MAX, &n, err);
		if (ret < 0)
			return ret;
		out->additional_gids[i] = (gid_t)n;
	}
	return 0;
}

static int
parse_console(const json_t *p, const char *at, struct oci_process *out, struct bk_err *err)
{
	char at_c[AT_MAX];
	json_t *c = NULL;
	int64_t h = 0, w = 0;
	int ret = oj_get_object(p, at, "consoleSize", &c, err);

	if (ret <= 0)
		return ret;
	oj_sub(at_c, at, "consoleSize");
	/* struct winsize holds unsigned shorts */
	ret = oj_req_int(c, at_c, "height", 0, 65535, &h, err);
	if (ret > 0)
		ret = oj_req_int(c, at_c, "width", 0, 65535, &w, err);
	if (ret < 0)
		return ret;
	out->console_height = (unsigned)h;
	out->console_width = (unsigned)w;
	return 0;
}

/* args, env and cwd: what is run, and where. */
static int
parse_command(const json_t *p, const char *at, struct oci_process *out, struct bk_err *err)
{
	char at_a[AT_MAX];
	int ret = oj_get_strv(p, at, "args", NULL, &out->args, err);

	if (ret < 0)
		return ret;
	if (out->args[0] == NULL)
		return oj_bad(err, at, "args", "must not be empty");
	if (out->args[0][0] == '\0')
		return oj_bad(err, oj_idx(at_a, at, "args", 0), NULL, "must not be empty");
	ret = oj_get_strv(p, at, "env", oj_check_env, &out->env, err);
	if (ret == 0)
		ret = oj_req_str(p, at, "cwd", &out->cwd, err);
	if (ret < 0)
		return ret;
	return oj_check_abs(out->cwd, oj_sub(at_a, at, "cwd"), err);
}

int
oj_parse_process(const json_t *p, const char *at, struct oci_process *out, struct bk_err *err)
{
	static const char *const unsupported[] = { "ioPriority", "scheduler", "execCPUAffinity" };
	int64_t n = 0;
	int ret;

	ret = oj_refuse(p, at, unsupported, ARRAY_SIZE(unsupported), err);
	if (ret >= 0)
		ret = parse_command(p, at, out, err);
	if (ret >= 0)
		ret = parse_user(p, at, out, err);
	if (ret >= 0)
		ret = oj_get_bool(p, at, "terminal", &out->terminal, err);
	if (ret >= 0)
		ret = parse_console(p, at, out, err);
	if (ret >= 0)
		ret = parse_caps(p, at, out, err);
	if (ret >= 0)
		ret = parse_rlimits(p, at, out, err);
	if (ret >= 0)
		ret = oj_get_bool(p, at, "noNewPrivileges", &out->no_new_privileges, err);
	if (ret >= 0)
		ret = oj_get_str(p, at, "apparmorProfile", &out->apparmor_profile, err);
	if (ret >= 0)
		ret = oj_get_str(p, at, "selinuxLabel", &out->selinux_label, err);
	if (ret >= 0)
		ret = oj_get_int(p, at, "oomScoreAdj", -1000, 1000, &n, err);
	if (ret < 0)
		return ret;
	out->has_oom_score_adj = ret > 0;
	out->oom_score_adj = (int)n;
	return 0;
}

int
oci_process_parse(const char *json, size_t len, struct oci_process *out, struct bk_err *err)
{
	struct oci_process p;
	json_t *root = NULL;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = oj_load(json, len, "process", &root, err);
	if (ret < 0)
		return ret;
	memset(&p, 0, sizeof(p));
	ret = oj_parse_process(root, "", &p, err);
	json_decref(root);
	if (ret < 0) {
		oci_process_free(&p);
		return ret;
	}
	*out = p;
	return 0;
}

void
oci_process_free(struct oci_process *p)
{
	if (p == NULL)
		return;
	free(p->additional_gids);
	strv_free(p->args);
	strv_free(p->env);
	free(p->cwd);
	free(p->rlimits);
	free(p->apparmor_profile);
	free(p->selinux_label);
	memset(p, 0, sizeof(*p));
}
