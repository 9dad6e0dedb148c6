/*
 * An OCI bundle's config.json (runtime-spec 1.0-1.1) and exec's process JSON,
 * read as runc 1.1 reads them (libcontainer/specconv), with jansson.  Pure:
 * no I/O.
 *
 * The document is untrusted and checked as it is read: every string bounded
 * and free of NUL bytes, every array bounded, every path that must be
 * absolute absolute.  A failure is -EINVAL naming the field by its JSON path
 * ("mounts[3].destination: ...").  Unknown members are ignored, as the spec
 * asks; members the runtime knows but cannot honour are refused by name
 * unless they are empty, since containerd and Docker send "blockIO": {} for
 * nothing.  A member set to null is absent (Go writes unset pointers so).
 *
 * This file reads the top of the document (ociVersion, root, hooks,
 * annotations, hostname) and hands the larger parts to oci_process.c,
 * oci_mounts.c and oci_linux.c (oci_json.h says which file holds what); it
 * also reads the names the runtime's commands take: container ids and
 * signals.
 */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>

#include "parse/oci_spec.h"
#include "parse/oci_json.h"
#include "base/base.h"

#define HOSTNAME_MAX 64 /* sethostname(2) and setdomainname(2) refuse more */

/* ---- hooks, annotations ---------------------------------------------------------------------- */

static const char *const hook_names[OCI_HOOK_KINDS] = {
	[OCI_HOOK_PRESTART] = "prestart",
	[OCI_HOOK_CREATE_RUNTIME] = "createRuntime",
	[OCI_HOOK_CREATE_CONTAINER] = "createContainer",
	[OCI_HOOK_START_CONTAINER] = "startContainer",
	[OCI_HOOK_POSTSTART] = "poststart",
	[OCI_HOOK_POSTSTOP] = "poststop",
};

static int
parse_hook(const json_t *h, const char *at, struct oci_hook *out, struct bk_err *err)
{
	char at_p[AT_MAX];
	int64_t t = 0;
	int ret;

	if (!json_is_object(h))
		return oj_bad(err, at, NULL, "must be an object");
	ret = oj_req_str(h, at, "path", &out->path, err);
	if (ret > 0)
		ret = oj_check_abs(out->path, oj_sub(at_p, at, "path"), err);
	if (ret >= 0)
		ret = oj_get_strv(h, at, "args", NULL, &out->args, err);
	if (ret >= 0)
		ret = oj_get_strv(h, at, "env", oj_check_env, &out->env, err);
	if (ret >= 0)
		ret = oj_get_int(h, at, "timeout", 1, INT_MAX, &t, err);
	if (ret < 0)
		return ret;
	out->timeout = (int)t;
	return 0;
}

static int
parse_hooks(const json_t *root, struct oci_spec *s, struct bk_err *err)
{
	json_t *hooks = NULL;
	size_t k;
	int ret = oj_get_object(root, "", "hooks", &hooks, err);

	if (ret <= 0)
		return ret;
	for (k = 0; k < OCI_HOOK_KINDS; k++) {
		json_t *a = NULL, *h;
		size_t i;

		ret = oj_get_array(hooks, "hooks", hook_names[k], &a, err);
		if (ret < 0)
			return ret;
		if (ret == 0)
			continue;
		s->hooks[k] = xcalloc(json_array_size(a), sizeof(*s->hooks[k]));
		s->n_hooks[k] = json_array_size(a);
		json_array_foreach (a, i, h) {
			char at_i[AT_MAX];

			ret = parse_hook(h, oj_idx(at_i, "hooks", hook_names[k], i),
					 &s->hooks[k][i], err);
			if (ret < 0)
				return ret;
		}
	}
	return 0;
}

static int
parse_annotations(const json_t *root, struct oci_spec *s, struct bk_err *err)
{
	json_t *a = NULL, *v;
	const char *k;
	int ret = oj_get_object(root, "", "annotations", &a, err);

	if (ret < 0)
		return ret;
	json_object_foreach (a, k, v) {
		char at_k[AT_MAX], sb[SHOWN_SIZE];

		oj_cut(at_k, snprintf(at_k, sizeof(at_k), "annotations[\"%s\"]", oj_shown(k, sb)));
		if (strlen(k) > OCI_STRING_MAX)
			return oj_bad(err, at_k, NULL, "key longer than %d bytes", OCI_STRING_MAX);
		ret = oj_str_ok(v, at_k, NULL, err);
		if (ret < 0)
			return ret;
	}
	s->annotations_json = a ? json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS) : xstrdup("{}");
	if (s->annotations_json == NULL)
		abort(); /* jansson's out-of-memory, as xmalloc's */
	return 0;
}

/* ---- the whole config ------------------------------------------------------------------------ */

static int
parse_version(const json_t *root, struct oci_spec *s, struct bk_err *err)
{
	char sb[SHOWN_SIZE];
	int ret = oj_req_str(root, "", "ociVersion", &s->oci_version, err);
	const char *v = s->oci_version;

	if (ret < 0)
		return ret;
	if (v[0] != '1' || (v[1] != '\0' && v[1] != '.'))
		return oj_bad(err, "ociVersion", NULL, "\"%s\": only major version 1 is supported",
			      oj_shown(v, sb));
	return 0;
}

static int
parse_root(const json_t *root, struct oci_spec *s, struct bk_err *err)
{
	json_t *r = NULL;
	int ret = oj_get_object(root, "", "root", &r, err);

	if (ret == 0)
		return oj_bad(err, "root", NULL, "required");
	if (ret > 0)
		ret = oj_req_str(r, "root", "path", &s->root_path, err);
	if (ret > 0 && s->root_path[0] == '\0')
		return oj_bad(err, "root", "path", "must not be empty");
	if (ret > 0)
		ret = oj_get_bool(r, "root", "readonly", &s->root_readonly, err);
	return ret < 0 ? ret : 0;
}

/* hostname and domainname: "" is unset (runc), and a name needs a uts namespace of its own. */
static int
get_name(const json_t *root, const char *key, const struct oci_spec *s, char **out,
	 struct bk_err *err)
{
	int ret = oj_get_str(root, "", key, out, err);

	if (ret <= 0)
		return ret;
	if (**out == '\0') {
		free(*out);
		*out = NULL;
		return 0;
	}
	if (strlen(*out) > HOSTNAME_MAX)
		return oj_bad(err, key, NULL, "longer than %d bytes", HOSTNAME_MAX);
	if (!s->ns[OCI_NS_UTS].present)
		return oj_bad(err, key, NULL, "needs a uts namespace of the container's own");
	return 0;
}

static int
parse_spec(const json_t *root, struct oci_spec *s, struct bk_err *err)
{
	json_t *p = NULL;
	int ret = parse_version(root, s, err);

	if (ret >= 0)
		ret = oj_get_object(root, "", "process", &p, err);
	if (ret == 0)
		return oj_bad(err, "process", NULL, "required");
	if (ret > 0)
		ret = oj_parse_process(p, "process", &s->process, err);
	if (ret >= 0)
		ret = parse_root(root, s, err);
	if (ret >= 0)
		ret = oj_parse_mounts(root, s, err);
	if (ret >= 0)
		ret = parse_hooks(root, s, err);
	if (ret >= 0)
		ret = parse_annotations(root, s, err);
	if (ret >= 0)
		ret = oj_parse_linux(root, s, err);
	if (ret >= 0)
		ret = get_name(root, "hostname", s, &s->hostname, err);
	if (ret >= 0)
		ret = get_name(root, "domainname", s, &s->domainname, err);
	return ret < 0 ? ret : 0;
}

int
oci_spec_parse(const char *json, size_t len, struct oci_spec *out, struct bk_err *err)
{
	struct oci_spec s;
	json_t *root = NULL;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = oj_load(json, len, "config.json", &root, err);
	if (ret < 0)
		return ret;
	memset(&s, 0, sizeof(s));
	ret = parse_spec(root, &s, err);
	json_decref(root);
	if (ret < 0) {
		oci_spec_free(&s);
		return ret;
	}
	*out = s;
	return 0;
}

void
oci_spec_free(struct oci_spec *s)
{
	size_t i, k;

	if (s == NULL)
		return;
	free(s->oci_version);
	oci_process_free(&s->process);
	free(s->root_path);
	free(s->hostname);
	free(s->domainname);
	for (i = 0; i < s->n_mounts; i++) {
		free(s->mounts[i].destination);
		free(s->mounts[i].type);
		free(s->mounts[i].source);
		free(s->mounts[i].data);
	}
	free(s->mounts);
	for (k = 0; k < OCI_HOOK_KINDS; k++) {
		for (i = 0; i < s->n_hooks[k]; i++) {
			free(s->hooks[k][i].path);
			strv_free(s->hooks[k][i].args);
			strv_free(s->hooks[k][i].env);
		}
		free(s->hooks[k]);
	}
	free(s->annotations_json);
	oj_linux_free(s);
	memset(s, 0, sizeof(*s));
}

/* ---- ids, signals ---------------------------------------------------------------------------- */

static bool
alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool
oci_id_valid(const char *id)
{
	size_t i;

	if (id == NULL || !alnum(id[0]))
		return false;
	for (i = 1; id[i] != '\0'; i++)
		if (i >= OCI_ID_MAX ||
		    !(alnum(id[i]) || id[i] == '_' || id[i] == '.' || id[i] == '+' || id[i] == '-'))
			return false;
	return true;
}

static const struct {
	const char *name;
	int sig;
} signal_names[] = {
	{ "HUP", SIGHUP },       { "INT", SIGINT },       { "QUIT", SIGQUIT },
	{ "ILL", SIGILL },       { "TRAP", SIGTRAP },     { "ABRT", SIGABRT },
	{ "IOT", SIGIOT },       { "BUS", SIGBUS },       { "FPE", SIGFPE },
	{ "KILL", SIGKILL },     { "USR1", SIGUSR1 },     { "SEGV", SIGSEGV },
	{ "USR2", SIGUSR2 },     { "PIPE", SIGPIPE },     { "ALRM", SIGALRM },
	{ "TERM", SIGTERM },     { "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD },
	{ "CLD", SIGCHLD },      { "CONT", SIGCONT },     { "STOP", SIGSTOP },
	{ "TSTP", SIGTSTP },     { "TTIN", SIGTTIN },     { "TTOU", SIGTTOU },
	{ "URG", SIGURG },       { "XCPU", SIGXCPU },     { "XFSZ", SIGXFSZ },
	{ "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },     { "WINCH", SIGWINCH },
	{ "IO", SIGIO },         { "POLL", SIGPOLL },     { "PWR", SIGPWR },
	{ "SYS", SIGSYS },
};

/* Decimal digits only, at most 64: the number, else -1. */
static int
small_number(const char *s)
{
	int n = 0;

	if (*s == '\0')
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		n = n * 10 + (*s - '0');
		if (n > 64)
			return -1;
	}
	return n;
}

int
oci_signal_parse(const char *s)
{
	size_t i;
	int n;

	if (s == NULL)
		return -EINVAL;
	n = small_number(s);
	if (n >= 1)
		return n;
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (i = 0; i < ARRAY_SIZE(signal_names); i++)
		if (strcasecmp(s, signal_names[i].name) == 0)
			return signal_names[i].sig;
	/* "RTMIN+3", "RTMAX-2": as the kernel numbers them for glibc's programs */
	if (strncasecmp(s, "RTMIN", 5) == 0 || strncasecmp(s, "RTMAX", 5) == 0) {
		bool min = strncasecmp(s, "RTMIN", 5) == 0;
		int base = min ? SIGRTMIN : SIGRTMAX;

		if (s[5] == '\0')
			return base;
		if (s[5] != (min ? '+' : '-'))
			return -EINVAL;
		n = small_number(s + 6);
		if (n < 0 || n > SIGRTMAX - SIGRTMIN)
			return -EINVAL;
		return min ? base + n : base - n;
	}
	return -EINVAL;
}
