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
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <jansson.h>

#include "parse/oci_spec.h"
#include "base/base.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

#define AT_MAX        192          /* a field's path: "linux.seccomp.syscalls[12].args[3].op" */
#define SHOWN_SIZE    72           /* a value quoted in a message, cut to 60 bytes */
#define ID_MAX        4294967294LL /* uid_t and gid_t; (uid_t)-1 means "no change" to the kernel */
#define HOSTNAME_MAX  64           /* sethostname(2) and setdomainname(2) refuse more */
#define ID_MAP_MAX    340          /* lines of /proc/PID/uid_map the kernel accepts */
#define ERRNO_RET_MAX 65535        /* SECCOMP_RET_DATA is 16 bits */

/* ---- messages -------------------------------------------------------------------------------- */

/* s for a message: at most 60 bytes, control characters and quotes as '?'. */
static const char *
shown(const char *s, char buf[SHOWN_SIZE])
{
	size_t i;

	for (i = 0; s[i] != '\0' && i < 60; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '"' ? '?' : s[i];
	if (s[i] != '\0')
		memcpy(buf + i, "...", 4);
	else
		buf[i] = '\0';
	return buf;
}

/* "at.key: what"; key NULL: at is the whole path.  Returns -EINVAL. */
static int __attribute__((format(printf, 4, 5)))
bad(struct bk_err *err, const char *at, const char *key, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return bk_err_set(err, EINVAL, "%s%s%s: %s", at, *at && key ? "." : "", key ? key : "",
			  msg);
}

/* A path too long for the buffer ends in "..." (snprintf's n says so). */
static const char *
cut(char buf[AT_MAX], int n)
{
	if (n >= AT_MAX)
		memcpy(buf + AT_MAX - 4, "...", 4);
	return buf;
}

static const char *
sub(char buf[AT_MAX], const char *at, const char *key)
{
	return cut(buf, snprintf(buf, AT_MAX, "%s%s%s", at, *at ? "." : "", key));
}

/* "at.key[i]", or "at[i]" without a key. */
static const char *
idx(char buf[AT_MAX], const char *at, const char *key, size_t i)
{
	return cut(buf, snprintf(buf, AT_MAX, "%s%s%s[%zu]", at, *at && key ? "." : "",
				 key ? key : "", i));
}

/* ---- the document ---------------------------------------------------------------------------- */

/*
 * jansson's integers are int64: a uint64 member above INT64_MAX (RLIM_INFINITY
 * from Docker's --ulimit x=-1, seccomp masks) would fail the whole document.
 * Such a literal is rewritten in a copy as its two's complement
 * ("18446744073709551615" as "-1") and the uint64 readers cast it back.  So a
 * negative number in a uint64 member reads as its two's complement too, and a
 * signed member given 2^64-1 reads -1 ("unlimited") where Go would fail to
 * decode.  NULL: nothing to rewrite.
 */
static char *
widen_u64(const char *in, size_t len, size_t *out_len)
{
	char *out = NULL;
	size_t i, n = 0, done = 0;
	bool in_str = false;

	for (i = 0; i < len; i++) {
		size_t end, k;
		uint64_t v = 0;
		bool over = false;

		if (in_str) {
			if (in[i] == '\\')
				i++;
			else if (in[i] == '"')
				in_str = false;
			continue;
		}
		if (in[i] == '"')
			in_str = true;
		if (in[i] < '0' || in[i] > '9')
			continue;
		for (end = i; end < len && in[end] >= '0' && in[end] <= '9'; end++)
			;
		/* negative numbers, fractions, exponents, leading zeros: jansson's to judge */
		if ((i > 0 && memchr("-+.eE", in[i - 1], 5)) ||
		    (end < len && memchr(".eE", in[end], 3)) || end - i < 19 || end - i > 20 ||
		    in[i] == '0') {
			i = end - 1;
			continue;
		}
		for (k = i; k < end; k++) {
			unsigned d = (unsigned)(in[k] - '0');

			over |= v > (UINT64_MAX - d) / 10;
			v = v * 10 + d;
		}
		if (!over && v > (uint64_t)INT64_MAX) {
			/* each rewrite of 19 or 20 digits adds at most one byte */
			if (out == NULL)
				out = xmalloc(len + len / 19 + 2);
			memcpy(out + n, in + done, i - done);
			n += i - done;
			n += (size_t)sprintf(out + n, "-%" PRIu64, (uint64_t)0 - v);
			done = end;
		}
		i = end - 1;
	}
	if (out == NULL)
		return NULL;
	memcpy(out + n, in + done, len - done);
	*out_len = n + len - done;
	return out;
}

static int
load(const char *json, size_t len, const char *what, json_t **out, struct bk_err *err)
{
	cleanup_free char *wide = NULL;
	const char *text = json ? json : "";
	size_t wide_len = 0;
	json_error_t jerr;
	json_t *j;

	if (len > OCI_SPEC_MAX)
		return bk_err_set(err, E2BIG, "%s: %zu bytes, more than the %u allowed", what, len,
				  OCI_SPEC_MAX);
	wide = widen_u64(text, len, &wide_len);
	if (wide) {
		text = wide;
		len = wide_len;
	}
	/* Duplicate keys would mean different things to different parsers.  NUL bytes are
	 * loaded so that the field holding one can be named (str_ok). */
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (j == NULL)
		return bk_err_set(err, EINVAL, "%s: line %d column %d: %s", what, jerr.line,
				  jerr.column, jerr.text);
	if (!json_is_object(j)) {
		json_decref(j);
		return bk_err_set(err, EINVAL, "%s: not a JSON object", what);
	}
	*out = j;
	return 0;
}

/* ---- members --------------------------------------------------------------------------------- */

static json_t *
member(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_null(v) ? NULL : v;
}

/*
 * Empty: null, [], {}, 0, false, "", or an object whose members are all empty:
 * an unset Go struct, as Docker sends it ("blockIO": {"weight": 0}).
 */
static bool
is_empty(json_t *v)
{
	const char *k;
	json_t *m;

	if (v == NULL || json_is_null(v) || json_is_false(v))
		return true;
	if (json_is_integer(v))
		return json_integer_value(v) == 0;
	if (json_is_string(v))
		return json_string_length(v) == 0;
	if (json_is_array(v))
		return json_array_size(v) == 0;
	if (!json_is_object(v))
		return false;
	json_object_foreach (v, k, m)
		if (!is_empty(m))
			return false;
	return true;
}

/* Members the runtime cannot honour, refused by name when they say anything. */
static int
refuse(const json_t *o, const char *at, const char *const *keys, size_t n, struct bk_err *err)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!is_empty(member(o, keys[i])))
			return bad(err, at, keys[i], "not supported");
	return 0;
}

/* Like refuse, for numbers where 0 is the same as unset. */
static int
refuse_nonzero(const json_t *o, const char *at, const char *key, struct bk_err *err)
{
	json_t *v = member(o, key);

	if (v != NULL && !(json_is_integer(v) && json_integer_value(v) == 0))
		return bad(err, at, key, "not supported");
	return 0;
}

static int
str_ok(const json_t *v, const char *at, const char *key, struct bk_err *err)
{
	size_t n;

	if (!json_is_string(v))
		return bad(err, at, key, "must be a string");
	n = json_string_length(v);
	if (n > OCI_STRING_MAX)
		return bad(err, at, key, "longer than %d bytes", OCI_STRING_MAX);
	if (memchr(json_string_value(v), '\0', n))
		return bad(err, at, key, "contains a NUL byte");
	return 0;
}

/* These return 1 and fill *out if the member is set, 0 if absent (*out untouched), or -EINVAL. */

static int
get_str(const json_t *o, const char *at, const char *key, char **out, struct bk_err *err)
{
	json_t *v = member(o, key);
	int ret;

	if (v == NULL)
		return 0;
	ret = str_ok(v, at, key, err);
	if (ret < 0)
		return ret;
	*out = xstrdup(json_string_value(v));
	return 1;
}

static int
req_str(const json_t *o, const char *at, const char *key, char **out, struct bk_err *err)
{
	int ret = get_str(o, at, key, out, err);

	if (ret == 0)
		return bad(err, at, key, "required");
	return ret;
}

static int
get_bool(const json_t *o, const char *at, const char *key, bool *out, struct bk_err *err)
{
	json_t *v = member(o, key);

	if (v == NULL)
		return 0;
	if (!json_is_boolean(v))
		return bad(err, at, key, "must be true or false");
	*out = json_is_true(v);
	return 1;
}

static int
int_ok(const json_t *v, const char *at, const char *key, int64_t min, int64_t max, int64_t *out,
       struct bk_err *err)
{
	int64_t n;

	if (!json_is_integer(v))
		return bad(err, at, key, "must be an integer");
	n = json_integer_value(v);
	if (n < min || n > max)
		return bad(err, at, key, "%" PRId64 " is out of range (%" PRId64 "..%" PRId64 ")",
			   n, min, max);
	*out = n;
	return 0;
}

static int
get_int(const json_t *o, const char *at, const char *key, int64_t min, int64_t max, int64_t *out,
	struct bk_err *err)
{
	json_t *v = member(o, key);
	int ret;

	if (v == NULL)
		return 0;
	ret = int_ok(v, at, key, min, max, out, err);
	return ret < 0 ? ret : 1;
}

static int
req_int(const json_t *o, const char *at, const char *key, int64_t min, int64_t max, int64_t *out,
	struct bk_err *err)
{
	int ret = get_int(o, at, key, min, max, out, err);

	if (ret == 0)
		return bad(err, at, key, "required");
	return ret;
}

/* A uint64 member: every integer, a negative one as its two's complement (widen_u64). */
static int
get_u64(const json_t *o, const char *at, const char *key, uint64_t *out, struct bk_err *err)
{
	json_t *v = member(o, key);

	if (v == NULL)
		return 0;
	if (!json_is_integer(v))
		return bad(err, at, key, "must be an integer");
	*out = (uint64_t)json_integer_value(v);
	return 1;
}

static int
req_u64(const json_t *o, const char *at, const char *key, uint64_t *out, struct bk_err *err)
{
	int ret = get_u64(o, at, key, out, err);

	if (ret == 0)
		return bad(err, at, key, "required");
	return ret;
}

static int
get_array(const json_t *o, const char *at, const char *key, json_t **out, struct bk_err *err)
{
	json_t *v = member(o, key);

	if (v == NULL)
		return 0;
	if (!json_is_array(v))
		return bad(err, at, key, "must be an array");
	if (json_array_size(v) > OCI_LIST_MAX)
		return bad(err, at, key, "%zu entries, more than %d", json_array_size(v),
			   OCI_LIST_MAX);
	*out = v;
	return 1;
}

static int
get_object(const json_t *o, const char *at, const char *key, json_t **out, struct bk_err *err)
{
	json_t *v = member(o, key);

	if (v == NULL)
		return 0;
	if (!json_is_object(v))
		return bad(err, at, key, "must be an object");
	if (json_object_size(v) > OCI_LIST_MAX)
		return bad(err, at, key, "%zu members, more than %d", json_object_size(v),
			   OCI_LIST_MAX);
	*out = v;
	return 1;
}

typedef int (*str_check)(const char *s, const char *at, struct bk_err *err);

/*
 * An array of strings as a NULL-terminated vector, empty if absent.  *out
 * is set first: the caller frees it on failure too.
 */
static int
get_strv(const json_t *o, const char *at, const char *key, str_check check, char ***out,
	 struct bk_err *err)
{
	json_t *a = NULL, *v;
	char **vec;
	size_t i;
	int ret = get_array(o, at, key, &a, err);

	if (ret < 0)
		return ret;
	vec = xcalloc(json_array_size(a) + 1, sizeof(*vec));
	*out = vec;
	json_array_foreach (a, i, v) {
		char at_i[AT_MAX];

		idx(at_i, at, key, i);
		ret = str_ok(v, at_i, NULL, err);
		if (ret == 0 && check)
			ret = check(json_string_value(v), at_i, err);
		if (ret < 0)
			return ret;
		vec[i] = xstrdup(json_string_value(v));
	}
	return 0;
}

static int
check_abs(const char *s, const char *at, struct bk_err *err)
{
	char sb[SHOWN_SIZE];

	if (s[0] != '/')
		return bad(err, at, NULL, "\"%s\" is not absolute", shown(s, sb));
	return 0;
}

static int
check_env(const char *s, const char *at, struct bk_err *err)
{
	char sb[SHOWN_SIZE];

	if (s[0] == '=' || strchr(s, '=') == NULL)
		return bad(err, at, NULL, "\"%s\" is not NAME=VALUE", shown(s, sb));
	return 0;
}

/* A path with a ".." component. */
static bool
has_dotdot(const char *p)
{
	const char *c;

	for (c = strstr(p, ".."); c; c = strstr(c + 1, ".."))
		if ((c == p || c[-1] == '/') && (c[2] == '\0' || c[2] == '/'))
			return true;
	return false;
}

static int
lookup(const char *const *names, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}

/* ---- process --------------------------------------------------------------------------------- */

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
	int n = name ? lookup(cap_names, ARRAY_SIZE(cap_names), name) : -1;

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
		return bad(err, at, NULL, "must be an object");
	ret = req_str(r, at, "type", &type, err);
	if (ret < 0)
		return ret;
	for (i = 0; i < ARRAY_SIZE(rlimit_names); i++)
		if (strcmp(type, rlimit_names[i].name) == 0)
			break;
	if (i == ARRAY_SIZE(rlimit_names))
		return bad(err, at, "type", "unknown resource \"%s\"", shown(type, sb));
	/* the spec: duplicated types MUST be an error */
	if (*seen & (1u << i))
		return bad(err, at, "type", "%s given twice", rlimit_names[i].name);
	*seen |= 1u << i;
	out->resource = rlimit_names[i].resource;
	ret = req_u64(r, at, "hard", &out->hard, err);
	if (ret > 0)
		ret = req_u64(r, at, "soft", &out->soft, err);
	if (ret < 0)
		return ret;
	if (out->soft > out->hard)
		return bad(err, at, "soft", "%" PRIu64 " is above hard (%" PRIu64 ")", out->soft,
			   out->hard);
	return 0;
}

static int
parse_rlimits(const json_t *p, const char *at, struct oci_process *out, struct bk_err *err)
{
	json_t *a = NULL, *r;
	uint32_t seen = 0;
	size_t i;
	int ret = get_array(p, at, "rlimits", &a, err);

	if (ret <= 0)
		return ret;
	out->rlimits = xcalloc(json_array_size(a), sizeof(*out->rlimits));
	out->n_rlimits = json_array_size(a);
	json_array_foreach (a, i, r) {
		char at_i[AT_MAX];

		ret = parse_rlimit(r, idx(at_i, at, "rlimits", i), &seen, &out->rlimits[i], err);
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
	int ret = get_object(p, at, "capabilities", &c, err);

	if (ret <= 0)
		return ret;
	out->has_caps = true;
	sub(at_c, at, "capabilities");
	for (k = 0; k < ARRAY_SIZE(sets); k++) {
		json_t *a = NULL, *v;
		size_t i;

		ret = get_array(c, at_c, sets[k], &a, err);
		if (ret < 0)
			return ret;
		json_array_foreach (a, i, v) {
			char at_i[AT_MAX], sb[SHOWN_SIZE];
			int cap;

			idx(at_i, at_c, sets[k], i);
			ret = str_ok(v, at_i, NULL, err);
			if (ret < 0)
				return ret;
			cap = oci_cap_parse(json_string_value(v));
			if (cap < 0)
				return bad(err, at_i, NULL, "unknown capability %s",
					   shown(json_string_value(v), sb));
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
	int ret = get_object(p, at, "user", &u, err);

	if (ret <= 0)
		return ret;
	sub(at_u, at, "user");
	ret = get_int(u, at_u, "uid", 0, ID_MAX, &n, err);
	if (ret < 0)
		return ret;
	out->uid = (uid_t)n;
	n = 0;
	ret = get_int(u, at_u, "gid", 0, ID_MAX, &n, err);
	if (ret < 0)
		return ret;
	out->gid = (gid_t)n;
	ret = get_int(u, at_u, "umask", 0, 0777, &n, err);
	if (ret < 0)
		return ret;
	out->has_umask = ret > 0;
	out->umask = out->has_umask ? (mode_t)n : 0;
	ret = get_array(u, at_u, "additionalGids", &a, err);
	if (ret <= 0)
		return ret;
	out->additional_gids = xcalloc(json_array_size(a), sizeof(gid_t));
	out->n_additional_gids = json_array_size(a);
	json_array_foreach (a, i, v) {
		char at_i[AT_MAX];

		ret = int_ok(v, idx(at_i, at_u, "additionalGids", i), NULL, 0, ID_MAX, &n, err);
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
	int ret = get_object(p, at, "consoleSize", &c, err);

	if (ret <= 0)
		return ret;
	sub(at_c, at, "consoleSize");
	/* struct winsize holds unsigned shorts */
	ret = req_int(c, at_c, "height", 0, 65535, &h, err);
	if (ret > 0)
		ret = req_int(c, at_c, "width", 0, 65535, &w, err);
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
	int ret = get_strv(p, at, "args", NULL, &out->args, err);

	if (ret < 0)
		return ret;
	if (out->args[0] == NULL)
		return bad(err, at, "args", "must not be empty");
	if (out->args[0][0] == '\0')
		return bad(err, idx(at_a, at, "args", 0), NULL, "must not be empty");
	ret = get_strv(p, at, "env", check_env, &out->env, err);
	if (ret == 0)
		ret = req_str(p, at, "cwd", &out->cwd, err);
	if (ret < 0)
		return ret;
	return check_abs(out->cwd, sub(at_a, at, "cwd"), err);
}

static int
parse_process(const json_t *p, const char *at, struct oci_process *out, struct bk_err *err)
{
	static const char *const unsupported[] = { "ioPriority", "scheduler", "execCPUAffinity" };
	int64_t n = 0;
	int ret;

	ret = refuse(p, at, unsupported, ARRAY_SIZE(unsupported), err);
	if (ret >= 0)
		ret = parse_command(p, at, out, err);
	if (ret >= 0)
		ret = parse_user(p, at, out, err);
	if (ret >= 0)
		ret = get_bool(p, at, "terminal", &out->terminal, err);
	if (ret >= 0)
		ret = parse_console(p, at, out, err);
	if (ret >= 0)
		ret = parse_caps(p, at, out, err);
	if (ret >= 0)
		ret = parse_rlimits(p, at, out, err);
	if (ret >= 0)
		ret = get_bool(p, at, "noNewPrivileges", &out->no_new_privileges, err);
	if (ret >= 0)
		ret = get_str(p, at, "apparmorProfile", &out->apparmor_profile, err);
	if (ret >= 0)
		ret = get_str(p, at, "selinuxLabel", &out->selinux_label, err);
	if (ret >= 0)
		ret = get_int(p, at, "oomScoreAdj", -1000, 1000, &n, err);
	if (ret < 0)
		return ret;
	out->has_oom_score_adj = ret > 0;
	out->oom_score_adj = (int)n;
	return 0;
}

/* ---- mounts ---------------------------------------------------------------------------------- */

/* runc's table (specconv's mountFlags): "clear" options undo their opposite. */
static const struct {
	const char *name;
	bool clear;
	unsigned long flag;
} mount_flags[] = {
	{ "async", true, MS_SYNCHRONOUS },
	{ "atime", true, MS_NOATIME },
	{ "bind", false, MS_BIND },
	{ "defaults", false, 0 }, /* mount(8) drops it; it is no file system's option */
	{ "dev", true, MS_NODEV },
	{ "diratime", true, MS_NODIRATIME },
	{ "dirsync", false, MS_DIRSYNC },
	{ "exec", true, MS_NOEXEC },
	{ "iversion", false, MS_I_VERSION },
	{ "lazytime", false, MS_LAZYTIME },
	{ "loud", true, MS_SILENT },
	{ "mand", false, MS_MANDLOCK },
	{ "noatime", false, MS_NOATIME },
	{ "nodev", false, MS_NODEV },
	{ "nodiratime", false, MS_NODIRATIME },
	{ "noexec", false, MS_NOEXEC },
	{ "noiversion", true, MS_I_VERSION },
	{ "nolazytime", true, MS_LAZYTIME },
	{ "nomand", true, MS_MANDLOCK },
	{ "norelatime", true, MS_RELATIME },
	{ "nostrictatime", true, MS_STRICTATIME },
	{ "nosuid", false, MS_NOSUID },
	{ "nosymfollow", false, MS_NOSYMFOLLOW },
	{ "rbind", false, MS_BIND | MS_REC },
	{ "relatime", false, MS_RELATIME },
	{ "remount", false, MS_REMOUNT },
	{ "ro", false, MS_RDONLY },
	{ "rw", true, MS_RDONLY },
	{ "silent", false, MS_SILENT },
	{ "strictatime", false, MS_STRICTATIME },
	{ "suid", true, MS_NOSUID },
	{ "symfollow", true, MS_NOSYMFOLLOW },
	{ "sync", false, MS_SYNCHRONOUS },
};

static const struct {
	const char *name;
	unsigned long flags;
} propagations[] = {
	{ "private", MS_PRIVATE },       { "rprivate", MS_PRIVATE | MS_REC },
	{ "slave", MS_SLAVE },           { "rslave", MS_SLAVE | MS_REC },
	{ "shared", MS_SHARED },         { "rshared", MS_SHARED | MS_REC },
	{ "unbindable", MS_UNBINDABLE }, { "runbindable", MS_UNBINDABLE | MS_REC },
};

/* Options that need what the runtime lacks: mount_setattr's recursive attributes, idmapped
 * mounts, tmpfs copy-up.  Passed on as data they would fail later, or silently do nothing. */
static const char *const refused_options[] = {
	"tmpcopyup",      "idmap",        "ridmap",      "rro",      "rrw",    "rnosuid",
	"rsuid",          "rnodev",       "rdev",        "rnoexec",  "rexec",  "rnodiratime",
	"rdiratime",      "rrelatime",    "rnorelatime", "rnoatime", "ratime", "rstrictatime",
	"rnostrictatime", "rnosymfollow", "rsymfollow",
};

static int
propagation_of(const char *s, unsigned long *out)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(propagations); i++)
		if (strcmp(s, propagations[i].name) == 0) {
			*out = propagations[i].flags;
			return 0;
		}
	return -1;
}

/* One option: 1 if it is a flag or a propagation, 0 if it is the file system's, or -EINVAL. */
static int
mount_option(const char *o, const char *at, struct oci_mount *m, struct bk_err *err)
{
	unsigned long prop;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(mount_flags); i++)
		if (strcmp(o, mount_flags[i].name) == 0) {
			if (mount_flags[i].clear)
				m->flags &= ~mount_flags[i].flag;
			else
				m->flags |= mount_flags[i].flag;
			return 1;
		}
	if (propagation_of(o, &prop) == 0) {
		/* runc applies them in turn; one struct field holds one */
		if (m->propagation != 0 && m->propagation != prop)
			return bad(err, at, NULL, "\"%s\" after another propagation option", o);
		m->propagation = prop;
		return 1;
	}
	if (lookup(refused_options, ARRAY_SIZE(refused_options), o) >= 0)
		return bad(err, at, NULL, "\"%s\" not supported", o);
	return 0;
}

static int
parse_mount_options(const json_t *m, const char *at, struct oci_mount *out, struct bk_err *err)
{
	json_t *a = NULL, *v;
	size_t i, size = 1, n = 0;
	int ret = get_array(m, at, "options", &a, err);

	if (ret < 0)
		return ret;
	json_array_foreach (a, i, v)
		size += json_string_length(v) + 1;
	out->data = xmalloc(size);
	out->data[0] = '\0';
	json_array_foreach (a, i, v) {
		char at_i[AT_MAX];
		const char *o;
		size_t len;

		idx(at_i, at, "options", i);
		ret = str_ok(v, at_i, NULL, err);
		if (ret == 0)
			ret = mount_option(json_string_value(v), at_i, out, err);
		if (ret < 0)
			return ret;
		o = json_string_value(v);
		len = strlen(o);
		if (ret > 0 || len == 0)
			continue;
		if (n > 0)
			out->data[n++] = ',';
		memcpy(out->data + n, o, len + 1);
		n += len;
	}
	return 0;
}

static int
parse_mount(const json_t *m, const char *at, struct oci_mount *out, struct bk_err *err)
{
	static const char *const unsupported[] = { "uidMappings", "gidMappings" };
	char at_d[AT_MAX];
	int ret;

	if (!json_is_object(m))
		return bad(err, at, NULL, "must be an object");
	ret = req_str(m, at, "destination", &out->destination, err);
	if (ret > 0)
		ret = check_abs(out->destination, sub(at_d, at, "destination"), err);
	if (ret >= 0)
		ret = get_str(m, at, "type", &out->type, err);
	if (ret >= 0)
		ret = get_str(m, at, "source", &out->source, err);
	if (ret >= 0)
		ret = refuse(m, at, unsupported, ARRAY_SIZE(unsupported), err);
	if (ret >= 0)
		ret = parse_mount_options(m, at, out, err);
	if (ret < 0)
		return ret;
	/* A bind mount is one by its options (runc) or by its type (crun, and what users write). */
	out->bind = (out->flags & MS_BIND) || (out->type && strcmp(out->type, "bind") == 0);
	if (out->bind) {
		out->flags |= MS_BIND;
		free(out->type);
		out->type = xstrdup("bind");
	} else if (out->type == NULL || out->type[0] == '\0') {
		return bad(err, at, "type", "required unless the options have bind or rbind");
	}
	return 0;
}

static int
parse_mounts(const json_t *root, struct oci_spec *s, struct bk_err *err)
{
	json_t *a = NULL, *m;
	size_t i;
	int ret = get_array(root, "", "mounts", &a, err);

	if (ret <= 0)
		return ret;
	s->mounts = xcalloc(json_array_size(a), sizeof(*s->mounts));
	s->n_mounts = json_array_size(a);
	json_array_foreach (a, i, m) {
		char at_i[AT_MAX];

		ret = parse_mount(m, idx(at_i, "", "mounts", i), &s->mounts[i], err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

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
		return bad(err, at, NULL, "must be an object");
	ret = req_str(h, at, "path", &out->path, err);
	if (ret > 0)
		ret = check_abs(out->path, sub(at_p, at, "path"), err);
	if (ret >= 0)
		ret = get_strv(h, at, "args", NULL, &out->args, err);
	if (ret >= 0)
		ret = get_strv(h, at, "env", check_env, &out->env, err);
	if (ret >= 0)
		ret = get_int(h, at, "timeout", 1, INT_MAX, &t, err);
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
	int ret = get_object(root, "", "hooks", &hooks, err);

	if (ret <= 0)
		return ret;
	for (k = 0; k < OCI_HOOK_KINDS; k++) {
		json_t *a = NULL, *h;
		size_t i;

		ret = get_array(hooks, "hooks", hook_names[k], &a, err);
		if (ret < 0)
			return ret;
		if (ret == 0)
			continue;
		s->hooks[k] = xcalloc(json_array_size(a), sizeof(*s->hooks[k]));
		s->n_hooks[k] = json_array_size(a);
		json_array_foreach (a, i, h) {
			char at_i[AT_MAX];

			ret = parse_hook(h, idx(at_i, "hooks", hook_names[k], i), &s->hooks[k][i],
					 err);
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
	int ret = get_object(root, "", "annotations", &a, err);

	if (ret < 0)
		return ret;
	json_object_foreach (a, k, v) {
		char at_k[AT_MAX], sb[SHOWN_SIZE];

		cut(at_k, snprintf(at_k, sizeof(at_k), "annotations[\"%s\"]", shown(k, sb)));
		if (strlen(k) > OCI_STRING_MAX)
			return bad(err, at_k, NULL, "key longer than %d bytes", OCI_STRING_MAX);
		ret = str_ok(v, at_k, NULL, err);
		if (ret < 0)
			return ret;
	}
	s->annotations_json = a ? json_dumps(a, JSON_COMPACT | JSON_SORT_KEYS) : xstrdup("{}");
	if (s->annotations_json == NULL)
		abort(); /* jansson's out-of-memory, as xmalloc's */
	return 0;
}

/* ---- linux: namespaces, id mappings ---------------------------------------------------------- */

static const char *const ns_names[OCI_NS_COUNT] = {
	[OCI_NS_PID] = "pid",       [OCI_NS_NET] = "network", [OCI_NS_MNT] = "mount",
	[OCI_NS_IPC] = "ipc",       [OCI_NS_UTS] = "uts",     [OCI_NS_USER] = "user",
	[OCI_NS_CGROUP] = "cgroup",
};

static int
parse_namespace(const json_t *n, const char *at, struct oci_spec *s, struct bk_err *err)
{
	cleanup_free char *type = NULL, *path = NULL;
	char at_p[AT_MAX], sb[SHOWN_SIZE];
	int k, ret;

	if (!json_is_object(n))
		return bad(err, at, NULL, "must be an object");
	ret = req_str(n, at, "type", &type, err);
	if (ret > 0)
		ret = get_str(n, at, "path", &path, err);
	if (ret < 0)
		return ret;
	k = lookup(ns_names, OCI_NS_COUNT, type);
	if (k < 0 && strcmp(type, "time") == 0)
		return bad(err, at, "type", "\"time\" not supported");
	if (k < 0)
		return bad(err, at, "type", "unknown namespace type \"%s\"", shown(type, sb));
	if (s->ns[k].present)
		return bad(err, at, "type", "\"%s\" given twice", type);
	s->ns[k].present = true;
	if (path && path[0] != '\0') {
		ret = check_abs(path, sub(at_p, at, "path"), err);
		if (ret < 0)
			return ret;
		s->ns[k].path = take_ptr(path);
	}
	return 0;
}

static int
parse_namespaces(const json_t *l, struct oci_spec *s, struct bk_err *err)
{
	json_t *a = NULL, *n;
	size_t i;
	int ret = get_array(l, "linux", "namespaces", &a, err);

	if (ret <= 0)
		return ret;
	json_array_foreach (a, i, n) {
		char at_i[AT_MAX];

		ret = parse_namespace(n, idx(at_i, "linux", "namespaces", i), s, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int
parse_id_map(const json_t *m, const char *at, struct oci_id_map *out, struct bk_err *err)
{
	int64_t c = 0, h = 0, n = 0;
	int ret;

	if (!json_is_object(m))
		return bad(err, at, NULL, "must be an object");
	ret = req_int(m, at, "containerID", 0, UINT32_MAX, &c, err);
	if (ret > 0)
		ret = req_int(m, at, "hostID", 0, UINT32_MAX, &h, err);
	if (ret > 0)
		ret = req_int(m, at, "size", 1, UINT32_MAX, &n, err);
	if (ret < 0)
		return ret;
	if (c + n - 1 > UINT32_MAX || h + n - 1 > UINT32_MAX)
		return bad(err, at, "size", "%" PRId64 " ids run past 4294967295", n);
	out->container_id = (uint32_t)c;
	out->host_id = (uint32_t)h;
	out->size = (uint32_t)n;
	return 0;
}

static int
parse_id_maps(const json_t *l, const char *key, struct oci_id_map **out, size_t *n,
	      struct bk_err *err)
{
	json_t *a = NULL, *m;
	size_t i;
	int ret = get_array(l, "linux", key, &a, err);

	if (ret <= 0)
		return ret;
	if (json_array_size(a) > ID_MAP_MAX)
		return bad(err, "linux", key, "%zu entries, more than the kernel's %d",
			   json_array_size(a), ID_MAP_MAX);
	*out = xcalloc(json_array_size(a), sizeof(**out));
	*n = json_array_size(a);
	json_array_foreach (a, i, m) {
		char at_i[AT_MAX];

		ret = parse_id_map(m, idx(at_i, "linux", key, i), &(*out)[i], err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* runc's validator: mappings belong to a user namespace, and a new one needs both. */
static int
check_user_ns(const struct oci_spec *s, struct bk_err *err)
{
	const struct oci_namespace *u = &s->ns[OCI_NS_USER];

	if (!u->present && s->n_uid_mappings > 0)
		return bad(err, "linux", "uidMappings", "given without a user namespace");
	if (!u->present && s->n_gid_mappings > 0)
		return bad(err, "linux", "gidMappings", "given without a user namespace");
	if (u->present && u->path == NULL && s->n_uid_mappings == 0)
		return bad(err, "linux", "uidMappings", "required with a new user namespace");
	if (u->present && u->path == NULL && s->n_gid_mappings == 0)
		return bad(err, "linux", "gidMappings", "required with a new user namespace");
	return 0;
}

/* ---- linux.resources ------------------------------------------------------------------------- */

static int
parse_memory(const json_t *r, const char *at, struct oci_resources *out, struct bk_err *err)
{
	char at_m[AT_MAX];
	json_t *m = NULL;
	uint64_t swappiness = UINT64_MAX;
	int ret = get_object(r, at, "memory", &m, err);

	if (ret <= 0)
		return ret;
	sub(at_m, at, "memory");
	ret = get_int(m, at_m, "limit", -1, INT64_MAX, &out->memory_limit, err);
	if (ret >= 0)
		ret = get_int(m, at_m, "reservation", -1, INT64_MAX, &out->memory_reservation, err);
	if (ret >= 0)
		ret = get_int(m, at_m, "swap", -1, INT64_MAX, &out->memory_swap, err);
	if (ret >= 0)
		ret = get_bool(m, at_m, "disableOOMKiller", &out->memory_disable_oom_killer, err);
	/*
	 * Kernel memory: kernels since 5.16 no longer limit it apart (runc 1.1
	 * warns and goes on); flagged so that create says it is ignored.
	 */
	out->memory_kernel_ignored =
	    !is_empty(member(m, "kernel")) || !is_empty(member(m, "kernelTCP"));
	if (ret >= 0)
		ret = get_u64(m, at_m, "swappiness", &swappiness, err);
	if (ret < 0)
		return ret;
	/* Docker writes uint64(-1) for "unset", and runc reads it so */
	if (swappiness != UINT64_MAX && swappiness > 100)
		return bad(err, at_m, "swappiness", "%llu is not 0..100",
			   (unsigned long long)swappiness);
	out->memory_swappiness = swappiness == UINT64_MAX ? -1 : (int64_t)swappiness;
	return 0;
}

/* A cpuset list ("0-3,7"): it is written to a cgroup file as is. */
static int
check_cpuset(const char *s, const char *at, struct bk_err *err)
{
	char sb[SHOWN_SIZE];

	if (strspn(s, "0123456789,-") != strlen(s))
		return bad(err, at, NULL, "\"%s\" is not a list like 0-3,7", shown(s, sb));
	return 0;
}

static int
get_cpuset(const json_t *c, const char *at, const char *key, char **out, struct bk_err *err)
{
	char at_k[AT_MAX];
	int ret = get_str(c, at, key, out, err);

	if (ret <= 0)
		return ret;
	if (**out == '\0') {
		free(*out);
		*out = NULL;
		return 0;
	}
	return check_cpuset(*out, sub(at_k, at, key), err);
}

static int
parse_cpu(const json_t *r, const char *at, struct oci_resources *out, struct bk_err *err)
{
	static const char *const unset_if_zero[] = { "realtimeRuntime", "realtimePeriod", "idle",
						     "burst" };
	char at_c[AT_MAX];
	json_t *c = NULL;
	size_t i;
	int ret = get_object(r, at, "cpu", &c, err);

	if (ret <= 0)
		return ret;
	sub(at_c, at, "cpu");
	for (i = 0; i < ARRAY_SIZE(unset_if_zero); i++) {
		ret = refuse_nonzero(c, at_c, unset_if_zero[i], err);
		if (ret < 0)
			return ret;
	}
	ret = get_int(c, at_c, "shares", 0, INT64_MAX, &out->cpu_shares, err);
	if (ret >= 0)
		ret = get_int(c, at_c, "quota", -1, INT64_MAX, &out->cpu_quota, err);
	if (ret >= 0)
		ret = get_int(c, at_c, "period", 0, INT64_MAX, &out->cpu_period, err);
	if (ret >= 0)
		ret = get_cpuset(c, at_c, "cpus", &out->cpuset_cpus, err);
	if (ret >= 0)
		ret = get_cpuset(c, at_c, "mems", &out->cpuset_mems, err);
	return ret < 0 ? ret : 0;
}

/* "rwm", "mr", "w"...: in that order, each once, at least one. */
static int
device_access(const char *s, const char *at, char out[4], struct bk_err *err)
{
	static const char perms[] = "rwm";
	char sb[SHOWN_SIZE];
	bool has[3] = { false, false, false };
	size_t i, n = 0;

	for (i = 0; s[i] != '\0'; i++) {
		const char *p = strchr(perms, s[i]);

		if (p == NULL || has[p - perms])
			break;
		has[p - perms] = true;
	}
	if (i == 0 || s[i] != '\0')
		return bad(err, at, NULL, "\"%s\" is not a subset of rwm", shown(s, sb));
	for (i = 0; i < 3; i++)
		if (has[i])
			out[n++] = perms[i];
	out[n] = '\0';
	return 0;
}

static int
parse_device_rule(const json_t *d, const char *at, struct oci_device_rule *out, struct bk_err *err)
{
	cleanup_free char *type = NULL, *access = NULL;
	char at_a[AT_MAX], sb[SHOWN_SIZE];
	int ret;

	if (!json_is_object(d))
		return bad(err, at, NULL, "must be an object");
	out->type = 'a';
	out->major = out->minor = -1;
	memcpy(out->access, "rwm", 4);
	ret = get_bool(d, at, "allow", &out->allow, err);
	if (ret == 0)
		return bad(err, at, "allow", "required");
	if (ret > 0)
		ret = get_str(d, at, "type", &type, err);
	if (ret >= 0)
		ret = get_int(d, at, "major", -1, UINT32_MAX, &out->major, err);
	if (ret >= 0)
		ret = get_int(d, at, "minor", -1, UINT32_MAX, &out->minor, err);
	if (ret >= 0)
		ret = get_str(d, at, "access", &access, err);
	if (ret < 0)
		return ret;
	if (type && (strlen(type) != 1 || !strchr("acb", type[0])))
		return bad(err, at, "type", "\"%s\" is not a, c or b", shown(type, sb));
	if (type)
		out->type = type[0];
	if (access)
		return device_access(access, sub(at_a, at, "access"), out->access, err);
	return 0;
}

static int
parse_device_rules(const json_t *r, const char *at, struct oci_resources *out, struct bk_err *err)
{
	json_t *a = NULL, *d;
	size_t i;
	int ret = get_array(r, at, "devices", &a, err);

	if (ret <= 0)
		return ret;
	out->devices = xcalloc(json_array_size(a), sizeof(*out->devices));
	out->n_devices = json_array_size(a);
	json_array_foreach (a, i, d) {
		char at_i[AT_MAX];

		ret = parse_device_rule(d, idx(at_i, at, "devices", i), &out->devices[i], err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int
parse_resources(const json_t *l, struct oci_spec *s, struct bk_err *err)
{
	static const char *const unsupported[] = { "blockIO", "hugepageLimits", "network", "rdma",
						   "unified" };
	static const char at[] = "linux.resources";
	struct oci_resources *r = &s->resources;
	char at_p[AT_MAX];
	json_t *o = NULL, *pids = NULL;
	int ret;

	r->memory_limit = r->memory_swap = r->memory_reservation = -1;
	r->memory_swappiness = -1;
	r->cpu_shares = 0;
	r->cpu_quota = r->cpu_period = -1;
	r->pids_limit = -1;
	ret = get_object(l, "linux", "resources", &o, err);
	if (ret <= 0)
		return ret;
	s->has_resources = true;
	ret = refuse(o, at, unsupported, ARRAY_SIZE(unsupported), err);
	if (ret >= 0)
		ret = parse_memory(o, at, r, err);
	if (ret >= 0)
		ret = parse_cpu(o, at, r, err);
	if (ret >= 0)
		ret = get_object(o, at, "pids", &pids, err);
	/* runtime-spec 1.0 requires limit, 1.1 does not; 0 and below mean no limit to runc */
	if (ret > 0)
		ret = get_int(pids, sub(at_p, at, "pids"), "limit", INT64_MIN, INT64_MAX,
			      &r->pids_limit, err);
	if (ret >= 0)
		ret = parse_device_rules(o, at, r, err);
	return ret < 0 ? ret : 0;
}

/* ---- linux: sysctl, devices, paths ----------------------------------------------------------- */

/*
 * runc's validator: a sysctl is set only in a namespace of the container's own,
 * else it would change the host.  IPC's and net's keys need those namespaces,
 * kernel.domainname the UTS one; kernel.hostname is "hostname"'s job.
 */
static int
sysctl_namespaced(const char *key, const char *at, const struct oci_spec *s, struct bk_err *err)
{
	static const char *const ipc_keys[] = { "kernel.msgmax", "kernel.msgmnb",
						"kernel.msgmni", "kernel.sem",
						"kernel.shmall", "kernel.shmmax",
						"kernel.shmmni", "kernel.shm_rmid_forced" };
	cleanup_free char *k = xstrdup(key);
	char *c;

	/* sysctl(8) takes '/' as a separator too */
	for (c = k; *c; c++)
		if (*c == '/')
			*c = '.';
	if (lookup(ipc_keys, ARRAY_SIZE(ipc_keys), k) >= 0 || strncmp(k, "fs.mqueue.", 10) == 0) {
		if (!s->ns[OCI_NS_IPC].present)
			return bad(err, at, NULL, "needs an ipc namespace of the container's own");
		return 0;
	}
	if (strncmp(k, "net.", 4) == 0) {
		if (!s->ns[OCI_NS_NET].present)
			return bad(err, at, NULL,
				   "needs a network namespace of the container's own");
		return 0;
	}
	if (strcmp(k, "kernel.domainname") == 0) {
		if (!s->ns[OCI_NS_UTS].present)
			return bad(err, at, NULL, "needs a uts namespace of the container's own");
		return 0;
	}
	if (strcmp(k, "kernel.hostname") == 0)
		return bad(err, at, NULL, "set \"hostname\" instead");
	return bad(err, at, NULL, "not in a namespace of the container: it would change the host");
}

static int
parse_sysctl_entry(const char *key, const json_t *v, const char *at, const struct oci_spec *s,
		   struct oci_sysctl *out, struct bk_err *err)
{
	size_t len = strlen(key);
	int ret;

	if (len == 0 || len > 255)
		return bad(err, at, NULL, "the name must have 1 to 255 bytes");
	if (strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/") !=
	    len)
		return bad(err, at, NULL, "the name may have only A-Z a-z 0-9 _ . - /");
	if (strstr(key, "..") != NULL)
		return bad(err, at, NULL, "the name has \"..\"");
	ret = str_ok(v, at, NULL, err);
	if (ret == 0)
		ret = sysctl_namespaced(key, at, s, err);
	if (ret < 0)
		return ret;
	out->key = xstrdup(key);
	out->value = xstrdup(json_string_value(v));
	return 0;
}

static int
parse_sysctl(const json_t *l, struct oci_spec *s, struct bk_err *err)
{
	json_t *o = NULL, *v;
	const char *key;
	int ret = get_object(l, "linux", "sysctl", &o, err);

	if (ret <= 0)
		return ret;
	s->sysctl = xcalloc(json_object_size(o), sizeof(*s->sysctl));
	json_object_foreach (o, key, v) {
		char at_k[AT_MAX], sb[SHOWN_SIZE];

		cut(at_k, snprintf(at_k, sizeof(at_k), "linux.sysctl[\"%s\"]", shown(key, sb)));
		ret = parse_sysctl_entry(key, v, at_k, s, &s->sysctl[s->n_sysctl], err);
		if (ret < 0)
			return ret;
		s->n_sysctl++;
	}
	return 0;
}

/* major and minor as the kernel's dev_t holds them: 12 and 20 bits */
static int
device_numbers(const json_t *d, const char *at, struct oci_device *out, struct bk_err *err)
{
	int ret;

	if (out->type == 'p') {
		ret = get_int(d, at, "major", 0, 4095, &out->major, err);
		if (ret >= 0)
			ret = get_int(d, at, "minor", 0, (1 << 20) - 1, &out->minor, err);
	} else {
		ret = req_int(d, at, "major", 0, 4095, &out->major, err);
		if (ret >= 0)
			ret = req_int(d, at, "minor", 0, (1 << 20) - 1, &out->minor, err);
	}
	return ret < 0 ? ret : 0;
}

static int
parse_device(const json_t *d, const char *at, struct oci_device *out, struct bk_err *err)
{
	cleanup_free char *type = NULL;
	char sb[SHOWN_SIZE];
	int64_t n = 0;
	int ret;

	if (!json_is_object(d))
		return bad(err, at, NULL, "must be an object");
	ret = req_str(d, at, "path", &out->path, err);
	if (ret < 0)
		return ret;
	if (strncmp(out->path, "/dev/", 5) != 0 || out->path[5] == '\0' || has_dotdot(out->path))
		return bad(err, at, "path", "\"%s\" is not a path under /dev",
			   shown(out->path, sb));
	ret = req_str(d, at, "type", &type, err);
	if (ret < 0)
		return ret;
	if (strlen(type) != 1 || !strchr("cbup", type[0]))
		return bad(err, at, "type", "\"%s\" is not c, b, u or p", shown(type, sb));
	out->type = type[0];
	ret = device_numbers(d, at, out, err);
	/* runc drops the file type bits (S_IFCHR...) some callers add */
	if (ret >= 0)
		ret = get_int(d, at, "fileMode", 0, 0177777, &n, err);
	if (ret < 0)
		return ret;
	out->has_mode = ret > 0;
	out->mode = (mode_t)n & ~(mode_t)S_IFMT;
	n = 0;
	ret = get_int(d, at, "uid", 0, ID_MAX, &n, err);
	out->uid = (uid_t)n;
	n = 0;
	if (ret >= 0)
		ret = get_int(d, at, "gid", 0, ID_MAX, &n, err);
	out->gid = (gid_t)n;
	return ret < 0 ? ret : 0;
}

static int
parse_devices(const json_t *l, struct oci_spec *s, struct bk_err *err)
{
	json_t *a = NULL, *d;
	size_t i;
	int ret = get_array(l, "linux", "devices", &a, err);

	if (ret <= 0)
		return ret;
	s->devices = xcalloc(json_array_size(a), sizeof(*s->devices));
	s->n_devices = json_array_size(a);
	json_array_foreach (a, i, d) {
		char at_i[AT_MAX];

		ret = parse_device(d, idx(at_i, "linux", "devices", i), &s->devices[i], err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int
parse_rootfs_propagation(const json_t *l, struct oci_spec *s, struct bk_err *err)
{
	cleanup_free char *p = NULL;
	char sb[SHOWN_SIZE];
	int ret = get_str(l, "linux", "rootfsPropagation", &p, err);

	if (ret <= 0 || p[0] == '\0')
		return ret < 0 ? ret : 0;
	if (propagation_of(p, &s->rootfs_propagation) < 0)
		return bad(err, "linux", "rootfsPropagation", "unknown propagation \"%s\"",
			   shown(p, sb));
	return 0;
}

/* ---- linux.seccomp --------------------------------------------------------------------------- */

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

	if (lookup(archs, ARRAY_SIZE(archs), s) < 0)
		return bad(err, at, NULL, "unknown architecture \"%s\"", shown(s, sb));
	return 0;
}

static int
check_seccomp_flag(const char *s, const char *at, struct bk_err *err)
{
	char sb[SHOWN_SIZE];

	if (lookup(seccomp_flags, ARRAY_SIZE(seccomp_flags), s) < 0)
		return bad(err, at, NULL, "unknown flag \"%s\"", shown(s, sb));
	return 0;
}

static int
check_syscall_name(const char *s, const char *at, struct bk_err *err)
{
	char sb[SHOWN_SIZE];

	if (s[0] == '\0' || strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				      "0123456789_") != strlen(s))
		return bad(err, at, NULL, "\"%s\" is not a system call name", shown(s, sb));
	return 0;
}

static int
get_action(const json_t *o, const char *at, const char *key, enum oci_seccomp_action *out,
	   struct bk_err *err)
{
	cleanup_free char *a = NULL;
	char sb[SHOWN_SIZE];
	int k, ret = req_str(o, at, key, &a, err);

	if (ret < 0)
		return ret;
	k = lookup(actions, ARRAY_SIZE(actions), a);
	if (k < 0 && strcmp(a, "SCMP_ACT_NOTIFY") == 0)
		return bad(err, at, key, "SCMP_ACT_NOTIFY not supported");
	if (k < 0)
		return bad(err, at, key, "unknown action \"%s\"", shown(a, sb));
	*out = (enum oci_seccomp_action)k;
	return 0;
}

/* errnoRet: the spec says an action that takes none MUST fail. */
static int
get_errno_ret(const json_t *o, const char *at, const char *key, enum oci_seccomp_action action,
	      bool *has, unsigned *out, struct bk_err *err)
{
	int64_t n = 0;
	int ret = get_int(o, at, key, 0, ERRNO_RET_MAX, &n, err);

	if (ret <= 0)
		return ret;
	if (action != OCI_ACT_ERRNO && action != OCI_ACT_TRACE)
		return bad(err, at, key, "only for SCMP_ACT_ERRNO and SCMP_ACT_TRACE");
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
		return bad(err, at, NULL, "must be an object");
	ret = req_int(a, at, "index", 0, 5, &arg, err);
	if (ret > 0)
		ret = req_u64(a, at, "value", &out->value, err);
	if (ret > 0)
		ret = get_u64(a, at, "valueTwo", &out->value_two, err);
	if (ret >= 0)
		ret = req_str(a, at, "op", &op, err);
	if (ret < 0)
		return ret;
	out->index = (unsigned)arg;
	k = lookup(ops, ARRAY_SIZE(ops), op);
	if (k < 0)
		return bad(err, at, "op", "unknown operator \"%s\"", shown(op, sb));
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
		return bad(err, at, NULL, "must be an object");
	ret = get_strv(r, at, "names", check_syscall_name, &out->names, err);
	if (ret < 0)
		return ret;
	if (out->names[0] == NULL)
		return bad(err, at, "names", "must not be empty");
	ret = get_action(r, at, "action", &out->action, err);
	if (ret >= 0)
		ret = get_errno_ret(r, at, "errnoRet", out->action, &out->has_errno,
				    &out->errno_ret, err);
	if (ret >= 0)
		ret = get_array(r, at, "args", &a, err);
	if (ret <= 0)
		return ret;
	out->args = xcalloc(json_array_size(a), sizeof(*out->args));
	out->n_args = json_array_size(a);
	json_array_foreach (a, i, v) {
		char at_i[AT_MAX];

		ret = parse_seccomp_arg(v, idx(at_i, at, "args", i), &out->args[i], err);
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
	int ret = get_array(o, at, "syscalls", &a, err);

	if (ret <= 0)
		return ret;
	out->rules = xcalloc(json_array_size(a), sizeof(*out->rules));
	out->n_rules = json_array_size(a);
	json_array_foreach (a, i, r) {
		char at_i[AT_MAX];

		ret = parse_seccomp_rule(r, idx(at_i, at, "syscalls", i), &out->rules[i], err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int
parse_seccomp(const json_t *l, struct oci_spec *s, struct bk_err *err)
{
	static const char *const unsupported[] = { "listenerPath", "listenerMetadata" };
	static const char at[] = "linux.seccomp";
	struct oci_seccomp *sc = &s->seccomp;
	json_t *o = NULL, *da;
	int ret = get_object(l, "linux", "seccomp", &o, err);

	if (ret <= 0)
		return ret;
	/* runc: no default action and no rules is no filter */
	da = member(o, "defaultAction");
	if ((da == NULL || (json_is_string(da) && json_string_length(da) == 0)) &&
	    is_empty(member(o, "syscalls")))
		return 0;
	s->has_seccomp = true;
	ret = refuse(o, at, unsupported, ARRAY_SIZE(unsupported), err);
	if (ret >= 0)
		ret = get_action(o, at, "defaultAction", &sc->default_action, err);
	if (ret >= 0)
		ret = get_errno_ret(o, at, "defaultErrnoRet", sc->default_action,
				    &sc->has_default_errno, &sc->default_errno_ret, err);
	if (ret >= 0)
		ret = get_strv(o, at, "architectures", check_arch, &sc->architectures, err);
	if (ret >= 0)
		ret = get_strv(o, at, "flags", check_seccomp_flag, &sc->flags, err);
	if (ret >= 0)
		ret = parse_seccomp_rules(o, at, sc, err);
	return ret < 0 ? ret : 0;
}

/* ---- linux ----------------------------------------------------------------------------------- */

static int
parse_linux(const json_t *root, struct oci_spec *s, struct bk_err *err)
{
	static const char *const unsupported[] = { "intelRdt", "personality", "timeOffsets",
						   "memoryPolicy", "netDevices" };
	json_t *l = NULL;
	int ret = get_object(root, "", "linux", &l, err);

	/* An absent linux object still gives the vectors their empty values below. */
	if (ret >= 0)
		ret = refuse(l, "linux", unsupported, ARRAY_SIZE(unsupported), err);
	if (ret >= 0)
		ret = parse_namespaces(l, s, err);
	if (ret >= 0)
		ret = parse_id_maps(l, "uidMappings", &s->uid_mappings, &s->n_uid_mappings, err);
	if (ret >= 0)
		ret = parse_id_maps(l, "gidMappings", &s->gid_mappings, &s->n_gid_mappings, err);
	if (ret >= 0)
		ret = check_user_ns(s, err);
	if (ret >= 0)
		ret = parse_resources(l, s, err);
	if (ret >= 0)
		ret = get_str(l, "linux", "cgroupsPath", &s->cgroups_path, err);
	if (ret >= 0)
		ret = parse_sysctl(l, s, err);
	if (ret >= 0)
		ret = get_strv(l, "linux", "maskedPaths", check_abs, &s->masked_paths, err);
	if (ret >= 0)
		ret = get_strv(l, "linux", "readonlyPaths", check_abs, &s->readonly_paths, err);
	if (ret >= 0)
		ret = parse_devices(l, s, err);
	if (ret >= 0)
		ret = parse_seccomp(l, s, err);
	if (ret >= 0)
		ret = parse_rootfs_propagation(l, s, err);
	if (ret >= 0)
		ret = get_str(l, "linux", "mountLabel", &s->mount_label, err);
	return ret < 0 ? ret : 0;
}

/* ---- the whole config ------------------------------------------------------------------------ */

static int
parse_version(const json_t *root, struct oci_spec *s, struct bk_err *err)
{
	char sb[SHOWN_SIZE];
	int ret = req_str(root, "", "ociVersion", &s->oci_version, err);
	const char *v = s->oci_version;

	if (ret < 0)
		return ret;
	if (v[0] != '1' || (v[1] != '\0' && v[1] != '.'))
		return bad(err, "ociVersion", NULL, "\"%s\": only major version 1 is supported",
			   shown(v, sb));
	return 0;
}

static int
parse_root(const json_t *root, struct oci_spec *s, struct bk_err *err)
{
	json_t *r = NULL;
	int ret = get_object(root, "", "root", &r, err);

	if (ret == 0)
		return bad(err, "root", NULL, "required");
	if (ret > 0)
		ret = req_str(r, "root", "path", &s->root_path, err);
	if (ret > 0 && s->root_path[0] == '\0')
		return bad(err, "root", "path", "must not be empty");
	if (ret > 0)
		ret = get_bool(r, "root", "readonly", &s->root_readonly, err);
	return ret < 0 ? ret : 0;
}

/* hostname and domainname: "" is unset (runc), and a name needs a uts namespace of its own. */
static int
get_name(const json_t *root, const char *key, const struct oci_spec *s, char **out,
	 struct bk_err *err)
{
	int ret = get_str(root, "", key, out, err);

	if (ret <= 0)
		return ret;
	if (**out == '\0') {
		free(*out);
		*out = NULL;
		return 0;
	}
	if (strlen(*out) > HOSTNAME_MAX)
		return bad(err, key, NULL, "longer than %d bytes", HOSTNAME_MAX);
	if (!s->ns[OCI_NS_UTS].present)
		return bad(err, key, NULL, "needs a uts namespace of the container's own");
	return 0;
}

static int
parse_spec(const json_t *root, struct oci_spec *s, struct bk_err *err)
{
	json_t *p = NULL;
	int ret = parse_version(root, s, err);

	if (ret >= 0)
		ret = get_object(root, "", "process", &p, err);
	if (ret == 0)
		return bad(err, "process", NULL, "required");
	if (ret > 0)
		ret = parse_process(p, "process", &s->process, err);
	if (ret >= 0)
		ret = parse_root(root, s, err);
	if (ret >= 0)
		ret = parse_mounts(root, s, err);
	if (ret >= 0)
		ret = parse_hooks(root, s, err);
	if (ret >= 0)
		ret = parse_annotations(root, s, err);
	if (ret >= 0)
		ret = parse_linux(root, s, err);
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
	ret = load(json, len, "config.json", &root, err);
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

int
oci_process_parse(const char *json, size_t len, struct oci_process *out, struct bk_err *err)
{
	struct oci_process p;
	json_t *root = NULL;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = load(json, len, "process", &root, err);
	if (ret < 0)
		return ret;
	memset(&p, 0, sizeof(p));
	ret = parse_process(root, "", &p, err);
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

static void
seccomp_free(struct oci_seccomp *sc)
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

static void
linux_free(struct oci_spec *s)
{
	size_t i;

	for (i = 0; i < OCI_NS_COUNT; i++)
		free(s->ns[i].path);
	free(s->uid_mappings);
	free(s->gid_mappings);
	free(s->resources.cpuset_cpus);
	free(s->resources.cpuset_mems);
	free(s->resources.devices);
	free(s->cgroups_path);
	for (i = 0; i < s->n_sysctl; i++) {
		free(s->sysctl[i].key);
		free(s->sysctl[i].value);
	}
	free(s->sysctl);
	strv_free(s->masked_paths);
	strv_free(s->readonly_paths);
	for (i = 0; i < s->n_devices; i++)
		free(s->devices[i].path);
	free(s->devices);
	seccomp_free(&s->seccomp);
	free(s->mount_label);
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
	linux_free(s);
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
