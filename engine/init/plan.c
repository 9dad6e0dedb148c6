/*
 * The plan parser of bockerfs-init.  A plan is a run of NUL-terminated
 * "key=value" entries (see plan.h and the keys[] table below).  Everything
 * the daemon could get wrong is rejected here, before init touches a mount
 * or a process, so each later step can trust its input.  Pure: no I/O, no
 * allocation.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "plan.h"

/* How much of a value a message quotes, so the reason after it still fits. */
#define QUOTE_MAX     64

#define UID_MAX_VALID 0xfffffffeULL /* (uid_t)-1 means "unchanged" to setresuid */

struct parse_ctx {
	struct init_plan *plan;
	struct init_err *err;
	char **vec;
	size_t nvec;
	size_t cap; /* arg= plus env= entries allowed */
	size_t nargs;
	size_t nenv;
};

typedef int (*key_fn)(struct parse_ctx *ctx, const char *key, char *val);

static int
bad_value(struct parse_ctx *ctx, const char *key, const char *val, const char *why)
{
	return init_fail(ctx->err, "plan", EINVAL, "plan: %s '%.*s': %s", key, QUOTE_MAX, val, why);
}

/* Strict decimal: digits only, no sign, no space, no more than max. */
static bool
parse_dec(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		unsigned int d = (unsigned int)(*s - '0');

		if (*s < '0' || *s > '9' || d > max || v > (max - d) / 10)
			return false;
		v = v * 10 + d;
	}
	*out = v;
	return true;
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "0x" and 1 to 16 hex digits. */
static bool
parse_hex64(const char *s, uint64_t *out)
{
	uint64_t v = 0;
	size_t n = 0;

	if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return false;
	for (s += 2; *s != '\0'; s++, n++) {
		int d = hex_digit(*s);

		if (d < 0 || n == 16)
			return false;
		v = v << 4 | (uint64_t)d;
	}
	*out = v;
	return n > 0;
}

static bool
is_abs_path(const char *s)
{
	return s[0] == '/' && strlen(s) < PATH_MAX;
}

static int
set_path(struct parse_ctx *ctx, const char *key, char *val, const char **field)
{
	if (!is_abs_path(val))
		return bad_value(ctx, key, val, "not an absolute path");
	*field = val;
	return 0;
}

static int
key_rootfs(struct parse_ctx *ctx, const char *key, char *val)
{
	return set_path(ctx, key, val, &ctx->plan->rootfs);
}

static int
key_cwd(struct parse_ctx *ctx, const char *key, char *val)
{
	return set_path(ctx, key, val, &ctx->plan->cwd);
}

/* sethostname() takes any bytes; keep to what resolvers and shells expect. */
static int
key_hostname(struct parse_ctx *ctx, const char *key, char *val)
{
	size_t n = strlen(val);
	const char *p;

	if (n == 0 || n > 64)
		return bad_value(ctx, key, val, "must be 1 to 64 characters");
	for (p = val; *p != '\0'; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_'))
			return bad_value(ctx, key, val, "only letters, digits, '-', '.', '_'");
	}
	ctx->plan->hostname = val;
	return 0;
}

static bool
parse_id(const char *s, uint32_t *out)
{
	uint64_t v;

	if (!parse_dec(s, UID_MAX_VALID, &v))
		return false;
	*out = (uint32_t)v;
	return true;
}

static int
key_uid(struct parse_ctx *ctx, const char *key, char *val)
{
	if (!parse_id(val, &ctx->plan->uid))
		return bad_value(ctx, key, val, "not a decimal id below 4294967295");
	return 0;
}

static int
key_gid(struct parse_ctx *ctx, const char *key, char *val)
{
	if (!parse_id(val, &ctx->plan->gid))
		return bad_value(ctx, key, val, "not a decimal id below 4294967295");
	return 0;
}

/* "N,N,...", or empty for no supplementary groups. */
static int
key_groups(struct parse_ctx *ctx, const char *key, char *val)
{
	struct init_plan *plan = ctx->plan;
	char *p = val, *comma;

	plan->ngroups = 0;
	while (*p != '\0') {
		comma = strchr(p, ',');
		if (comma != NULL)
			*comma = '\0';
		if (plan->ngroups == PLAN_MAX_GROUPS)
			return init_fail(ctx->err, "plan", E2BIG, "plan: more than %d groups",
					 PLAN_MAX_GROUPS);
		if (!parse_id(p, &plan->groups[plan->ngroups]))
			return bad_value(ctx, key, p, "not a decimal id below 4294967295");
		plan->ngroups++;
		if (comma == NULL)
			break;
		p = comma + 1;
		if (*p == '\0')
			return bad_value(ctx, key, "", "empty group id");
	}
	return 0;
}

static bool
vec_full(struct parse_ctx *ctx)
{
	if (ctx->nargs + ctx->nenv < ctx->cap)
		return false;
	init_fail(ctx->err, "plan", E2BIG, "plan: more than %zu arg and env entries", ctx->cap);
	return true;
}

/* argv fills vec from the front, env from the back; join_vectors() puts them in order. */
static int
key_arg(struct parse_ctx *ctx, const char *key, char *val)
{
	(void)key;
	if (vec_full(ctx))
		return -E2BIG;
	ctx->vec[ctx->nargs++] = val;
	return 0;
}

static int
key_env(struct parse_ctx *ctx, const char *key, char *val)
{
	if (val[0] == '=' || strchr(val, '=') == NULL)
		return bad_value(ctx, key, val, "not of the form NAME=VALUE");
	if (vec_full(ctx))
		return -E2BIG;
	ctx->vec[ctx->nvec - 1 - ctx->nenv++] = val;
	return 0;
}

static int
key_caps(struct parse_ctx *ctx, const char *key, char *val)
{
	if (!parse_hex64(val, &ctx->plan->caps))
		return bad_value(ctx, key, val, "not 0x and 1 to 16 hex digits");
	return 0;
}

static int
key_log_max(struct parse_ctx *ctx, const char *key, char *val)
{
	if (!parse_dec(val, UINT64_MAX, &ctx->plan->log_max))
		return bad_value(ctx, key, val, "not a decimal byte count");
	return 0;
}

static int
set_flag(struct parse_ctx *ctx, const char *key, const char *val, bool *field)
{
	if (strcmp(val, "0") != 0 && strcmp(val, "1") != 0)
		return bad_value(ctx, key, val, "not 0 or 1");
	*field = val[0] == '1';
	return 0;
}

static int
key_netns(struct parse_ctx *ctx, const char *key, char *val)
{
	return set_flag(ctx, key, val, &ctx->plan->netns);
}

static int
key_cgroupns(struct parse_ctx *ctx, const char *key, char *val)
{
	return set_flag(ctx, key, val, &ctx->plan->cgroupns);
}

/* "NAME:/abs/path": NAME is opened relative to the state directory, so one component. */
static int
key_bind(struct parse_ctx *ctx, const char *key, char *val)
{
	struct init_plan *plan = ctx->plan;
	char *colon = strchr(val, ':');

	if (colon == NULL)
		return bad_value(ctx, key, val, "not of the form NAME:/path");
	*colon = '\0';
	if (val[0] == '\0' || strchr(val, '/') != NULL || strcmp(val, ".") == 0 ||
	    strcmp(val, "..") == 0)
		return bad_value(ctx, key, val, "name is not one path component");
	if (!is_abs_path(colon + 1))
		return bad_value(ctx, key, colon + 1, "not an absolute path");
	if (plan->nbinds == PLAN_MAX_BINDS)
		return init_fail(ctx->err, "plan", E2BIG, "plan: more than %d binds",
				 PLAN_MAX_BINDS);
	plan->binds[plan->nbinds].name = val;
	plan->binds[plan->nbinds].path = colon + 1;
	plan->nbinds++;
	return 0;
}

/* "bind [ro] DEV:INO" or "tmpfs SIZE": a new mount, its source and target to follow. */
static int
key_mount(struct parse_ctx *ctx, const char *key, char *val)
{
	struct init_plan *plan = ctx->plan;
	struct init_mount *m;
	char *sp = strchr(val, ' '), *colon;
	uint64_t a, b;

	if (plan->nmounts == PLAN_MAX_MOUNTS)
		return init_fail(ctx->err, "plan", E2BIG, "plan: more than %d mounts",
				 PLAN_MAX_MOUNTS);
	m = &plan->mounts[plan->nmounts];
	memset(m, 0, sizeof(*m));
	if (sp == NULL)
		return bad_value(ctx, key, val, "not 'bind [ro] DEV:INO' or 'tmpfs SIZE'");
	*sp++ = '\0';
	if (strcmp(val, "tmpfs") == 0) {
		m->tmpfs = true;
		if (!parse_dec(sp, UINT64_MAX, &m->size))
			return bad_value(ctx, key, sp, "not a size");
	} else if (strcmp(val, "bind") == 0) {
		if (strncmp(sp, "ro ", 3) == 0) {
			m->ro = true;
			sp += 3;
		}
		colon = strchr(sp, ':');
		if (colon == NULL)
			return bad_value(ctx, key, sp, "not DEV:INO");
		*colon = '\0';
		if (!parse_dec(sp, UINT64_MAX, &a) || !parse_dec(colon + 1, UINT64_MAX, &b))
			return bad_value(ctx, key, sp, "not DEV:INO");
		m->dev = (dev_t)a;
		m->ino = (ino_t)b;
	} else {
		return bad_value(ctx, key, val, "not bind or tmpfs");
	}
	plan->nmounts++;
	return 0;
}

/* mount_source= and mount_target=: of the last mount=, once each. */
static int
key_mount_path(struct parse_ctx *ctx, const char *key, char *val)
{
	struct init_plan *plan = ctx->plan;
	struct init_mount *m = plan->nmounts ? &plan->mounts[plan->nmounts - 1] : NULL;
	bool source = strcmp(key, PLAN_MOUNT_SOURCE) == 0;
	const char **field;

	if (m == NULL)
		return bad_value(ctx, key, val, "no mount= before it");
	field = source ? &m->source : &m->target;
	if (*field != NULL || (source && m->tmpfs))
		return bad_value(ctx, key, val,
				 source ? "a second source, or one for a tmpfs"
					: "a second target");
	return set_path(ctx, key, val, field);
}

/* "null" or "pipe". */
static int
key_stdin(struct parse_ctx *ctx, const char *key, char *val)
{
	if (strcmp(val, "null") == 0)
		ctx->plan->stdin_pipe = false;
	else if (strcmp(val, "pipe") == 0)
		ctx->plan->stdin_pipe = true;
	else
		return bad_value(ctx, key, val, "'null' or 'pipe'");
	return 0;
}

static int
key_tty(struct parse_ctx *ctx, const char *key, char *val)
{
	return set_flag(ctx, key, val, &ctx->plan->tty);
}

/*
 * "seccomp=HEX": a BPF program as the daemon exported it, 8 bytes per
 * instruction.  Decoded in place (each byte lands at or before the digits
 * it came from), then moved up to the alignment of struct sock_filter: the
 * program is at least 8 bytes and the hex twice that, so it still fits.
 * The kernel checks the instructions themselves when init installs it.
 */
static int
key_seccomp(struct parse_ctx *ctx, const char *key, char *val)
{
	size_t len = strlen(val), n = len / 2, i, pad;
	unsigned char *out = (unsigned char *)val;
	int hi, lo;

	if (len == 0 || len % (2 * sizeof(struct sock_filter)) != 0)
		return bad_value(ctx, key, val, "not hex of whole 8-byte instructions");
	if (n / sizeof(struct sock_filter) > BPF_MAXINSNS)
		return init_fail(ctx->err, "plan", E2BIG,
				 "plan: seccomp: more than %d instructions", BPF_MAXINSNS);
	for (i = 0; i < n; i++) {
		hi = hex_digit(val[2 * i]);
		lo = hex_digit(val[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return init_fail(ctx->err, "plan", EINVAL,
					 "plan: seccomp: not a hex digit at offset %zu", 2 * i);
		out[i] = (unsigned char)(hi << 4 | lo);
	}
	pad = (_Alignof(struct sock_filter) - (uintptr_t)out % _Alignof(struct sock_filter)) %
	      _Alignof(struct sock_filter);
	memmove(out + pad, out, n);
	ctx->plan->seccomp = (const struct sock_filter *)(void *)(out + pad);
	ctx->plan->seccomp_len = (unsigned short)(n / sizeof(struct sock_filter));
	return 0;
}

static const struct plan_key {
	const char *name;
	key_fn parse;
	bool repeat;
} keys[] = {
	{ PLAN_ROOTFS, key_rootfs, false },
	{ PLAN_HOSTNAME, key_hostname, false },
	{ PLAN_CWD, key_cwd, false },
	{ PLAN_UID, key_uid, false },
	{ PLAN_GID, key_gid, false },
	{ PLAN_GROUPS, key_groups, false },
	{ PLAN_ARG, key_arg, true },
	{ PLAN_ENV, key_env, true },
	{ PLAN_CAPS, key_caps, false },
	{ PLAN_LOG_MAX, key_log_max, false },
	{ PLAN_NETNS, key_netns, false },
	{ PLAN_CGROUPNS, key_cgroupns, false },
	{ PLAN_BIND, key_bind, true },
	{ PLAN_STDIN, key_stdin, false },
	{ PLAN_TTY, key_tty, false },
	{ PLAN_SECCOMP, key_seccomp, false },
	{ PLAN_MOUNT, key_mount, true },
	{ PLAN_MOUNT_SOURCE, key_mount_path, true },
	{ PLAN_MOUNT_TARGET, key_mount_path, true },
};

_Static_assert(sizeof(keys) / sizeof(keys[0]) <= 32, "seen is a 32-bit mask");

static int
parse_entry(struct parse_ctx *ctx, char *entry, unsigned int *seen)
{
	char *eq = strchr(entry, '=');
	size_t i;

	if (eq == NULL)
		return init_fail(ctx->err, "plan", EINVAL, "plan: entry '%.*s' has no '='",
				 QUOTE_MAX, entry);
	*eq = '\0';
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(entry, keys[i].name) != 0)
			continue;
		if (!keys[i].repeat && (*seen & 1u << i))
			return init_fail(ctx->err, "plan", EINVAL, "plan: duplicate key '%s'",
					 entry);
		*seen |= 1u << i;
		return keys[i].parse(ctx, keys[i].name, eq + 1);
	}
	return init_fail(ctx->err, "plan", EINVAL, "plan: unknown key '%.*s'", QUOTE_MAX, entry);
}

static void
reverse(char **v, size_t n)
{
	size_t i;
	char *t;

	for (i = 0; i < n / 2; i++) {
		t = v[i];
		v[i] = v[n - 1 - i];
		v[n - 1 - i] = t;
	}
}

/* Lay vec out as argv, NULL, envp, NULL (env was stored backwards from the end). */
static void
join_vectors(struct parse_ctx *ctx)
{
	char **env = ctx->vec + ctx->nvec - ctx->nenv;

	reverse(env, ctx->nenv);
	memmove(ctx->vec + ctx->nargs + 1, env, ctx->nenv * sizeof(*env));
	ctx->vec[ctx->nargs] = NULL;
	ctx->vec[ctx->nargs + 1 + ctx->nenv] = NULL;
	ctx->plan->argv = ctx->vec;
	ctx->plan->envp = ctx->vec + ctx->nargs + 1;
}

static int
check_required(struct parse_ctx *ctx)
{
	const struct init_plan *plan = ctx->plan;

	if (plan->rootfs == NULL)
		return init_fail(ctx->err, "plan", EINVAL, "plan: missing key 'rootfs'");
	if (plan->hostname == NULL)
		return init_fail(ctx->err, "plan", EINVAL, "plan: missing key 'hostname'");
	if (ctx->nargs == 0)
		return init_fail(ctx->err, "plan", EINVAL, "plan: missing key 'arg'");
	if (ctx->vec[0][0] == '\0')
		return init_fail(ctx->err, "plan", EINVAL, "plan: arg 0 is empty");
	for (size_t i = 0; i < plan->nmounts; i++)
		if (plan->mounts[i].target == NULL ||
		    (!plan->mounts[i].tmpfs && plan->mounts[i].source == NULL))
			return init_fail(ctx->err, "plan", EINVAL, "plan: mount %zu lacks its %s",
					 i + 1, plan->mounts[i].target ? "source" : "target");
	return 0;
}

int
plan_parse(char *buf, size_t len, char **vec, size_t nvec, struct init_plan *plan,
	   struct init_err *err)
{
	struct parse_ctx ctx = { plan, err, vec, nvec, nvec < 2 ? 0 : nvec - 2, 0, 0 };
	unsigned int seen = 0;
	size_t off = 0;
	int ret;

	memset(plan, 0, sizeof(*plan));
	plan->cwd = "/";
	if (ctx.cap > PLAN_MAX_VEC)
		ctx.cap = PLAN_MAX_VEC;
	if (len > PLAN_MAX_BYTES)
		return init_fail(err, "plan", E2BIG, "plan: larger than %d bytes", PLAN_MAX_BYTES);
	if (len > 0 && buf[len - 1] != '\0')
		return init_fail(err, "plan", EINVAL, "plan: last entry is not NUL-terminated");
	while (off < len) {
		char *entry = buf + off;

		off += strlen(entry) + 1;
		if (entry[0] == '\0')
			return init_fail(err, "plan", EINVAL, "plan: empty entry at byte %zu",
					 (size_t)(entry - buf));
		ret = parse_entry(&ctx, entry, &seen);
		if (ret < 0)
			return ret;
	}
	ret = check_required(&ctx);
	if (ret < 0)
		return ret;
	join_vectors(&ctx);
	return 0;
}
