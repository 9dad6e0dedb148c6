/*
 * Builds: a Dockerfile (parsed and expanded by parse/dockerfile.c) run one
 * instruction at a time on top of the engine's own images and containers.
 *
 * The result exists from the start as an image in state building, so that
 * its log (tmp/<id>/build.log, then images/<id>/build.log) can be followed
 * while the build runs, by an id that is unique to this build.  Each RUN is
 * a container made from the image of the step before, run with that image's
 * Env, WorkingDir and User, and committed (a btrfs snapshot) into an
 * intermediate image; each COPY/ADD, and a WORKDIR that must make its
 * directory, writes into a writable snapshot of that image (store/buildfs.c)
 * that becomes the next intermediate.  The other instructions only edit the
 * config the result will have, which is written into the current
 * intermediate before a RUN needs it.  An intermediate image is removed as
 * soon as the next one exists; at the end the result is a read-only snapshot
 * of the last one under the build's id, and on any failure or cancel every
 * step container and intermediate is removed with the build's image, so a
 * failed build leaves nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>

#include "ops/ops.h"
#include "store/store.h"
#include "parse/parse.h"
#include "base/base.h"

#define TAIL_SIZE    300 /* bytes of a failed RUN's output quoted in its error */
#define TAIL_LINES   3
#define WAIT_TICK_NS 100000000L /* how often a running RUN looks at the cancel flag */

struct build {
	struct bk_engine *e;
	struct bk_cancel *cancel; /* may be NULL */
	int ctx_fd;               /* the context directory */
	int log_fd;               /* build.log, append-only */
	char id[BK_ID_SIZE];      /* the build's image: building, then the result */
	char cur[BK_ID_SIZE];     /* the image the next step starts from; "" = empty (scratch) */
	bool cur_owned;           /* cur is one of this build's intermediate images */
	char from[BK_ID_SIZE]; /* FROM's image ("" for scratch): the result's changes sit on it */
	bool cur_stale;        /* cur's config is not config yet */
	json_t *config;        /* the result's image config, as far as the build got */
	bool cmd_set;          /* this Dockerfile set CMD (a later ENTRYPOINT keeps it) */
	char ctr[BK_ID_SIZE];  /* the step container, "" when there is none */
	size_t step, nsteps;
	char tail[TAIL_SIZE]; /* the last bytes of the running RUN's output */
	size_t tail_len;
};

static void blog(struct build *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append to the build log: diagnostics for the user, so a failed write is only logged. */
static void
blog(struct build *b, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (write_all(b->log_fd, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1) < 0)
		bk_log(BK_LOG_WARN, "build %s: write build.log: %s", b->id, strerror(errno));
}

static bool
cancelled(const struct build *b)
{
	return b->cancel && atomic_load(&b->cancel->cancelled);
}

/* Remove an image this build made; failure here must not hide the build's own error. */
static void
drop_image(struct build *b, const char *id)
{
	struct bk_err rerr = BK_ERR_INIT;

	if (bk_image_remove(b->e, id, false, &rerr) < 0)
		bk_log(BK_LOG_WARN, "build %s: remove intermediate %s: %s", b->id, id, rerr.msg);
}

static void
drop_container(struct build *b)
{
	struct bk_err rerr = BK_ERR_INIT;

	if (b->ctr[0] && bk_container_remove(b->e, b->ctr, true, &rerr) < 0)
		bk_log(BK_LOG_WARN, "build %s: remove step container %s: %s", b->id, b->ctr,
		       rerr.msg);
	b->ctr[0] = '\0';
}

/* new_id, just made from cur, is where the next step starts; the old intermediate goes. */
static void
advance(struct build *b, const char *new_id)
{
	char old[BK_ID_SIZE];
	bool owned = b->cur_owned;

	memcpy(old, b->cur, sizeof(old));
	snprintf(b->cur, sizeof(b->cur), "%s", new_id);
	b->cur_owned = true;
	b->cur_stale = false;
	if (owned)
		drop_image(b, old);
	blog(b, " ---> %s\n", new_id);
}

/* ---- the config ------------------------------------------------------------------ */

/* config.config, made if missing (borrowed). */
static json_t *
cfg(struct build *b)
{
	json_t *c = json_object_get(b->config, "config");

	if (!json_is_object(c)) {
		c = json_object();
		json_object_set_new(b->config, "config", c);
	}
	return c;
}

/* obj[key], an object, made if missing (borrowed). */
static json_t *
sub_object(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_object(v)) {
		v = json_object();
		json_object_set_new(obj, key, v);
	}
	return v;
}

static void
history_add(struct build *b, const char *text, bool empty_layer)
{
	json_t *h = json_object_get(b->config, "history");
	char now[32];

	if (!json_is_array(h)) {
		h = json_array();
		json_object_set_new(b->config, "history", h);
	}
	time_rfc3339(now, sizeof(now));
	json_array_append_new(h, json_pack("{s:s, s:s}", "created", now, "created_by", text));
	if (empty_layer)
		json_object_set_new(json_array_get(h, json_array_size(h) - 1), "empty_layer",
				    json_true());
}

/* KEY=VALUE into Env, replacing KEY's earlier value. */
static void
env_set(struct build *b, const char *kv)
{
	json_t *env = json_object_get(cfg(b), "Env"), *v;
	size_t klen = strcspn(kv, "="), i;

	if (!json_is_array(env)) {
		env = json_array();
		json_object_set_new(cfg(b), "Env", env);
	}
	json_array_foreach (env, i, v)
		if (json_is_string(v) && strncmp(json_string_value(v), kv, klen + 1) == 0) {
			json_array_set_new(env, i, json_string(kv));
			return;
		}
	json_array_append_new(env, json_string(kv));
}

static json_t *
string_array(char **v, size_t n)
{
	json_t *a = json_array();
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

/* CMD and ENTRYPOINT: the exec form as written, the shell form through /bin/sh -c. */
static json_t *
command_json(const struct df_step *st)
{
	if (st->exec_form)
		return string_array(st->argv, st->argc);
	return json_pack("[s, s, s]", "/bin/sh", "-c", st->argv[0]);
}

/*
 * Absolute, without "." or "..": path taken from the directory dir when
 * relative (WORKDIR, a COPY destination); ".." stops at "/".  A trailing '/'
 * is kept, as it means "a directory" to COPY.  Caller frees.
 */
static char *
abs_path(const char *dir, const char *path)
{
	cleanup_free char *full =
	    path[0] == '/' ? xstrdup(path) : xasprintf("%s/%s", dir && *dir ? dir : "", path);
	char *out = xmalloc(strlen(full) + 3), *save = NULL, *part;
	size_t len = 0, n = strlen(path);

	out[0] = '\0';
	for (part = strtok_r(full, "/", &save); part; part = strtok_r(NULL, "/", &save)) {
		if (strcmp(part, ".") == 0)
			continue;
		if (strcmp(part, "..") == 0) {
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--;
			out[len] = '\0';
			continue;
		}
		len += (size_t)sprintf(out + len, "/%s", part);
	}
	if (len == 0)
		strcpy(out, "/");
	else if (n > 0 && path[n - 1] == '/')
		strcat(out, "/");
	return out;
}

static const char *
workdir(struct build *b)
{
	const char *w = json_string_value(json_object_get(cfg(b), "WorkingDir"));

	return w && *w ? w : "/";
}

/* ---- FROM -------------------------------------------------------------------------- */

/* The base image: found, or pulled as docker build does; "scratch" is an empty one. */
/* Is name an image's, whatever its state (broken ones included)? */
static bool
image_named(struct bk_engine *e, const char *name)
{
	bool found;

	pthread_mutex_lock(&e->model.lock);
	found = image_lookup_locked(&e->model, name) != NULL;
	pthread_mutex_unlock(&e->model.lock);
	return found;
}

static int
from_image(struct build *b, const char *name, struct bk_err *err)
{
	char id[BK_ID_SIZE];
	int ret;

	if (strcmp(name, "scratch") == 0) {
		struct platform host;

		platform_host(&host);
		b->cur[0] = '\0';
		b->config =
		    json_pack("{s:s, s:s*, s:s, s:{}, s:{s:s, s:[]}, s:[]}", "architecture",
			      host.arch, "variant", *host.variant ? host.variant : NULL, "os",
			      "linux", "config", "rootfs", "type", "layers", "diff_ids", "history");
		return 0;
	}
	ret = bk_image_resolve(b->e, name, id, err);
	/* Pulled only when no image has that name: a broken one's error says why. */
	if (ret == -ENOENT && !image_named(b->e, name)) {
		*err = (struct bk_err)BK_ERR_INIT;
		blog(b, "pulling %s\n", name);
		ret = bk_image_pull(b->e, name, b->cancel, NULL, id, err);
	}
	if (ret < 0)
		return bk_err_wrap(err, "FROM %s", name);
	ret = image_config_for(&b->e->model, id, b->cur, &b->config, err);
	if (ret < 0)
		return bk_err_wrap(err, "FROM %s", name);
	snprintf(b->from, sizeof(b->from), "%s", b->cur);
	blog(b, " ---> %s\n", b->cur);
	return 0;
}

/* The base image's Env, for substitution (NULL-terminated, borrowed from b->config). */
static const char **
base_env(struct build *b)
{
	json_t *env = json_object_get(cfg(b), "Env"), *v;
	const char **out = xcalloc(json_array_size(env) + 1, sizeof(char *));
	size_t i, n = 0;

	json_array_foreach (env, i, v)
		if (json_is_string(v))
			out[n++] = json_string_value(v);
	return out;
}

/* ---- steps that make a new image from a writable snapshot ------------------------- */

/* Publish the snapshot of a step as the next intermediate, or drop it. */
static int
derive_finish(struct build *b, const char *new_id, int rootfs_fd, int ret, struct bk_err *err)
{
	cleanup_free char *source = xasprintf("build %s step %zu/%zu", b->id, b->step, b->nsteps);

	if (ret == 0)
		ret = image_derive_publish(&b->e->model, new_id, rootfs_fd, b->config, source, 0,
					   err);
	if (ret < 0) {
		image_derive_abort(&b->e->model, new_id);
		return ret;
	}
	advance(b, new_id);
	return 0;
}

/* cur, with the config so far: what a RUN's container must start from. */
static int
sync_config(struct build *b, struct bk_err *err)
{
	cleanup_close int rootfs_fd = -1;
	char new_id[BK_ID_SIZE];
	int ret;

	if (b->cur[0] && !b->cur_stale)
		return 0;
	if (b->cur[0] && b->cur_owned) {
		ret = image_set_config(&b->e->model, b->cur, b->config, NULL, err);
		if (ret == 0)
			b->cur_stale = false;
		return ret;
	}
	/* The base image is not ours to change: an O(1) snapshot of it gets the config. */
	ret = image_derive_begin(&b->e->model, b->cur[0] ? b->cur : NULL, new_id, &rootfs_fd, err);
	if (ret < 0)
		return ret;
	return derive_finish(b, new_id, rootfs_fd, 0, err);
}

/* USER's uid and gid in the image being built (root when unset or unknown). */
static void
user_ids(struct build *b, int rootfs_fd, const char *spec, uid_t *uid, gid_t *gid)
{
	struct bk_err uerr = BK_ERR_INIT;
	gid_t groups[64];
	size_t ngroups;
	char home[256];

	*uid = 0;
	*gid = 0;
	if (spec && *spec &&
	    userdb_resolve(rootfs_fd, spec, uid, gid, groups, &ngroups, home, sizeof(home), &uerr) <
		0) {
		blog(b, "warning: %s: made as root\n", uerr.msg);
		*uid = 0;
		*gid = 0;
	}
}

static int
step_copy(struct build *b, const struct df_step *st, struct bk_err *err)
{
	struct buildfs_copy opt = { .mode = -1, .add = st->op == DF_ADD, .cancel = b->cancel };
	cleanup_free char *dest = abs_path(workdir(b), st->argv[st->argc - 1]);
	cleanup_close int rootfs_fd = -1;
	char new_id[BK_ID_SIZE];
	int ret;

	ret = image_derive_begin(&b->e->model, b->cur[0] ? b->cur : NULL, new_id, &rootfs_fd, err);
	if (ret < 0)
		return ret;
	if (st->chown) {
		gid_t groups[64];
		size_t ngroups;
		char home[256];

		/* As Docker: a user without a group gets the gid equal to the uid. */
		ret = userdb_resolve(rootfs_fd, st->chown, &opt.uid, &opt.gid, groups, &ngroups,
				     home, sizeof(home), err);
		if (ret == 0 && strchr(st->chown, ':') == NULL)
			opt.gid = (gid_t)opt.uid;
		if (ret < 0)
			bk_err_wrap(err, "--chown");
	}
	if (ret == 0 && st->chmod)
		opt.mode = (int)strtoul(st->chmod, NULL, 8);
	if (ret == 0)
		ret = buildfs_copy(b->ctx_fd, rootfs_fd, st->argv, st->argc - 1, dest, &opt, err);
	if (ret < 0)
		bk_err_wrap(err, "%s", dockerfile_op_name(st->op));
	return derive_finish(b, new_id, rootfs_fd, ret, err);
}

static int
step_workdir(struct build *b, const struct df_step *st, struct bk_err *err)
{
	cleanup_free char *path = abs_path(workdir(b), st->argv[0]);
	cleanup_free char *cur_root = NULL;
	cleanup_close int cur_fd = -1, rootfs_fd = -1;
	const char *user = json_string_value(json_object_get(cfg(b), "User"));
	char new_id[BK_ID_SIZE];
	uid_t uid;
	gid_t gid;
	int ret;

	json_object_set_new(cfg(b), "WorkingDir", json_string(path));
	b->cur_stale = true;
	if (b->cur[0]) {
		cur_root = xasprintf("%s/rootfs", b->cur);
		cur_fd =
		    openat(b->e->store.images_fd, cur_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (cur_fd >= 0 && buildfs_is_dir(cur_fd, path))
			return 0;
	}
	/* As BuildKit: the directory is made, owned by the USER so far. */
	ret = image_derive_begin(&b->e->model, b->cur[0] ? b->cur : NULL, new_id, &rootfs_fd, err);
	if (ret < 0)
		return ret;
	user_ids(b, rootfs_fd, user, &uid, &gid);
	ret = buildfs_mkdir(rootfs_fd, path, uid, gid, err);
	if (ret < 0)
		bk_err_wrap(err, "WORKDIR");
	return derive_finish(b, new_id, rootfs_fd, ret, err);
}

/* ---- RUN --------------------------------------------------------------------------- */

/* The exec form as one sh command line: each argument single-quoted ('\'' for a quote). */
static char *
quote_argv(char **argv, size_t argc)
{
	size_t i, len = 1;
	char *out, *p;
	const char *s;

	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) * 4 + 3;
	p = out = xmalloc(len);
	for (i = 0; i < argc; i++) {
		if (i)
			*p++ = ' ';
		*p++ = '\'';
		for (s = argv[i]; *s; s++) {
			if (*s == '\'') {
				memcpy(p, "'\\''", 4);
				p += 4;
			} else {
				*p++ = *s;
			}
		}
		*p++ = '\'';
	}
	*p = '\0';
	return out;
}

static void
tail_add(struct build *b, const char *buf, size_t n)
{
	if (n >= TAIL_SIZE) {
		memcpy(b->tail, buf + n - TAIL_SIZE, TAIL_SIZE);
		b->tail_len = TAIL_SIZE;
		return;
	}
	if (b->tail_len + n > TAIL_SIZE) {
		size_t drop = b->tail_len + n - TAIL_SIZE;

		memmove(b->tail, b->tail + drop, b->tail_len - drop);
		b->tail_len -= drop;
	}
	memcpy(b->tail + b->tail_len, buf, n);
	b->tail_len += n;
}

/* The last lines of the output, on one line ("a | b | c"), for an error message. */
static void
tail_text(const struct build *b, char *out, size_t size)
{
	size_t start = 0, end = b->tail_len, i, n = 0;
	int lines = 0;

	while (end > 0 && (b->tail[end - 1] == '\n' || b->tail[end - 1] == '\r'))
		end--;
	for (i = end; i > 0; i--)
		if (b->tail[i - 1] == '\n' && ++lines == TAIL_LINES) {
			start = i;
			break;
		}
	/* Not in the middle of a UTF-8 sequence. */
	while (start < end && ((unsigned char)b->tail[start] & 0xc0) == 0x80)
		start++;
	for (i = start; i < end && n + 4 < size; i++) {
		unsigned char c = (unsigned char)b->tail[i];

		if (c == '\n') {
			memcpy(out + n, " | ", 3);
			n += 3;
		} else {
			out[n++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
		}
	}
	out[n] = '\0';
	if (n == 0)
		snprintf(out, size, "(no output)");
}

/* Copy what the step container has written since the last call into the build log. */
static void
pump_log(struct build *b, int *fd)
{
	char path[BK_ID_SIZE + 8], buf[65536];
	struct stat now, at_path;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/log", b->ctr);
	for (;;) {
		if (*fd < 0) {
			*fd = openat(b->e->store.containers_fd, path, O_RDONLY | O_CLOEXEC);
			if (*fd < 0)
				return;
		}
		n = read(*fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0) {
			if (write_all(b->log_fd, buf, (size_t)n) < 0)
				bk_log(BK_LOG_WARN, "build %s: write build.log: %s", b->id,
				       strerror(errno));
			tail_add(b, buf, (size_t)n);
			continue;
		}
		/* At the end: past the log's size cap the init went on in a new file. */
		if (fstat(*fd, &now) == 0 &&
		    fstatat(b->e->store.containers_fd, path, &at_path, 0) == 0 &&
		    (now.st_ino != at_path.st_ino || now.st_dev != at_path.st_dev)) {
			close(*fd);
			*fd = -1;
			continue;
		}
		return;
	}
}

/* Until the step container exits, its output going to the build log; cancel kills it. */
static int
wait_run(struct build *b, int *code, int *sig, struct bk_err *err)
{
	struct bk_engine *e = b->e;
	cleanup_close int log_fd = -1;
	bool killed = false;

	for (;;) {
		struct container *c;
		struct timespec ts;

		pump_log(b, &log_fd);
		pthread_mutex_lock(&e->model.lock);
		c = container_find_locked(&e->model, b->ctr, 0);
		if (c == NULL) {
			pthread_mutex_unlock(&e->model.lock);
			return bk_err_set(err, ENOENT, "step container %s was removed", b->ctr);
		}
		if (c->state != BK_CTR_RUNNING) {
			*code = c->exit_code;
			*sig = c->exit_signal;
			pthread_mutex_unlock(&e->model.lock);
			break;
		}
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += WAIT_TICK_NS;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&e->model.ctr_changed, &e->model.lock, &ts);
		pthread_mutex_unlock(&e->model.lock);
		if (!killed && cancelled(b)) {
			bk_container_kill(e, b->ctr, SIGKILL, NULL);
			killed = true;
		}
	}
	pump_log(b, &log_fd);
	if (killed)
		return bk_err_set(err, EINTR, "interrupted");
	return 0;
}

/* The build arguments for the container's env ("KEY=VALUE" lines); caller frees. */
static char *
run_env(struct build *b, const struct df_step *st)
{
	size_t i, len = 1;
	char *out, *p;

	for (i = 0; i < st->nenv; i++)
		len += strlen(st->env[i]) + 1;
	p = out = xmalloc(len);
	for (i = 0; i < st->nenv; i++) {
		/* A container's env is lines: a value with a newline cannot be passed. */
		if (strchr(st->env[i], '\n')) {
			blog(b, "warning: ARG %.*s has a newline: not passed to RUN\n",
			     (int)strcspn(st->env[i], "="), st->env[i]);
			continue;
		}
		p += sprintf(p, "%s\n", st->env[i]);
	}
	*p = '\0';
	return out;
}

static int
step_run(struct build *b, const struct df_step *st, struct bk_err *err)
{
	cleanup_free char *cmd =
	    st->exec_form ? quote_argv(st->argv, st->argc) : xstrdup(st->argv[0]);
	cleanup_free char *env = run_env(b, st);
	cleanup_free char *source = NULL;
	char new_id[BK_ID_SIZE], tail[TAIL_SIZE + 64];
	int ret, code = 0, sig = 0;

	ret = sync_config(b, err);
	if (ret == 0)
		ret = bk_container_create_from(b->e, NULL, b->cur, cmd, b->ctr, err);
	if (ret == 0 && env[0])
		ret = bk_container_set(b->e, b->ctr, BK_CTR_ENV, env, false, err);
	if (ret < 0)
		return bk_err_wrap(err, "RUN");
	blog(b, " ---> Running in %s\n", b->ctr);
	b->tail_len = 0;
	ret = bk_container_start(b->e, b->ctr, err);
	if (ret == 0)
		ret = wait_run(b, &code, &sig, err);
	if (ret < 0)
		return bk_err_wrap(err, "RUN");
	if (code != 0) {
		tail_text(b, tail, sizeof(tail));
		if (sig)
			return bk_err_set(err, EIO, "RUN was killed by signal %d: %s", sig, tail);
		return bk_err_set(err, EIO, "RUN exited with code %d: %s", code, tail);
	}
	ret = container_commit_step(b->e, b->ctr, new_id, err);
	if (ret < 0)
		return bk_err_wrap(err, "RUN: commit");
	/* The commit gave it the step's cmd and env; the build's config replaces them. */
	source = xasprintf("build %s step %zu/%zu", b->id, b->step, b->nsteps);
	ret = image_set_config(&b->e->model, new_id, b->config, source, err);
	/* Before the old image goes: this container is made from it. */
	drop_container(b);
	if (ret < 0) {
		drop_image(b, new_id);
		return bk_err_wrap(err, "RUN");
	}
	advance(b, new_id);
	return 0;
}

/* ---- the instructions ------------------------------------------------------------- */

static int
run_step(struct build *b, const struct df_step *st, struct bk_err *err)
{
	size_t i;

	switch (st->op) {
	case DF_FROM:
	case DF_ARG:
		/* Done before the steps: FROM is the start, ARG only feeds substitution. */
		return 0;
	case DF_RUN:
		history_add(b, st->text, false);
		return step_run(b, st, err);
	case DF_COPY:
	case DF_ADD:
		history_add(b, st->text, false);
		return step_copy(b, st, err);
	case DF_WORKDIR:
		history_add(b, st->text, true);
		return step_workdir(b, st, err);
	case DF_ENV:
		for (i = 0; i < st->argc; i++)
			env_set(b, st->argv[i]);
		break;
	case DF_LABEL:
		for (i = 0; i < st->argc; i++) {
			char *kv = st->argv[i], *eq = strchr(kv, '=');

			*eq = '\0';
			json_object_set_new(sub_object(cfg(b), "Labels"), kv, json_string(eq + 1));
			*eq = '=';
		}
		break;
	case DF_EXPOSE:
		for (i = 0; i < st->argc; i++)
			json_object_set_new(sub_object(cfg(b), "ExposedPorts"), st->argv[i],
					    json_object());
		break;
	case DF_VOLUME:
		/* Each run gets an anonymous volume there unless a mount of its own is
		 * (ops/volumes.c). */
		for (i = 0; i < st->argc; i++)
			json_object_set_new(sub_object(cfg(b), "Volumes"), st->argv[i],
					    json_object());
		break;
	case DF_USER:
		json_object_set_new(cfg(b), "User", json_string(st->argv[0]));
		break;
	case DF_CMD:
		json_object_set_new(cfg(b), "Cmd", command_json(st));
		b->cmd_set = true;
		break;
	case DF_ENTRYPOINT:
		json_object_set_new(cfg(b), "Entrypoint", command_json(st));
		/* As Docker: a CMD inherited from the base image makes no sense for it. */
		if (!b->cmd_set)
			json_object_del(cfg(b), "Cmd");
		break;
	}
	history_add(b, st->text, true);
	b->cur_stale = true;
	return 0;
}

/* The result: a read-only snapshot of the last step's image, under the build's id. */
static int
finish(struct build *b, const char *name, struct bk_err *err)
{
	cleanup_free char *root = NULL;
	cleanup_close int root_fd = -1;
	uint64_t size = 0;
	char now[32], base[LAYER_KEY_SIZE];

	if (b->cur[0]) {
		root = xasprintf("%s/rootfs", b->cur);
		root_fd = openat(b->e->store.images_fd, root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (root_fd >= 0)
			size = buildfs_size(root_fd);
	}
	time_rfc3339(now, sizeof(now));
	json_object_set_new(b->config, "created", json_string(now));
	blog(b, "Successfully built %s\n", b->id);
	if (name)
		blog(b, "Successfully tagged %s\n", name);
	/*
	 * The result's changes sit on FROM's layer, made now (not at FROM: a
	 * build that fails leaves nothing, not even that); a FROM removed during
	 * the build leaves none, and a push sends the result as one layer.
	 */
	base[0] = '\0';
	if (b->from[0]) {
		cleanup_close int layers_fd = layers_open_dir(b->e, err);

		if (layers_fd < 0)
			return -err->code;
		int ret = image_layer(b->e, layers_fd, b->from, base, err);

		if (ret == -ENOENT) {
			*err = (struct bk_err)BK_ERR_INIT;
			base[0] = '\0';
		} else if (ret < 0) {
			return bk_err_wrap(err, "the layer of %s", b->from);
		}
	}
	if (image_build_finish(&b->e->model, b->id, b->cur[0] ? b->cur : NULL,
			       base[0] ? base : NULL, b->config, name, size, err) < 0)
		return -err->code;
	spare_refill(b->e, b->id);
	return 0;
}

static int
run_build(struct build *b, const struct dockerfile *df, const char *name, struct bk_err *err)
{
	struct df_plan plan = { 0 };
	cleanup_free char *base = NULL;
	cleanup_free const char **env = NULL;
	size_t i, from = 0;
	int ret;

	/* The ARGs before FROM only feed FROM: they and it come first. */
	while (df->v[from].op != DF_FROM)
		from++;
	b->nsteps = df->n;
	for (i = 0; i <= from; i++)
		blog(b, "Step %zu/%zu : %s\n", i + 1, df->n, df->v[i].text);
	ret = dockerfile_base(df, &base, err);
	if (ret == 0 && (ret = from_image(b, base, err)) < 0)
		bk_err_wrap(err, "line %d", df->v[from].line);
	if (ret < 0)
		return ret;
	env = base_env(b);
	ret = dockerfile_expand(df, env, &plan, err);
	if (ret < 0)
		return ret;
	for (i = from + 1; i < plan.n && ret == 0; i++) {
		const struct df_step *st = &plan.v[i];

		b->step = i + 1;
		if (cancelled(b)) {
			ret = bk_err_set(err, EINTR, "interrupted");
			break;
		}
		blog(b, "Step %zu/%zu : %s\n", b->step, b->nsteps, st->text);
		ret = run_step(b, st, err);
		if (ret < 0 && strncmp(err->msg, "line ", 5) != 0)
			bk_err_wrap(err, "line %d", st->line);
	}
	dockerfile_plan_free(&plan);
	if (ret == 0 && cancelled(b))
		ret = bk_err_set(err, EINTR, "interrupted");
	if (ret == 0)
		ret = finish(b, name, err);
	return ret;
}

/* The name the result takes: Docker's familiar form; no digest (a digest names content). */
static int
build_name(const char *ref, char *out, size_t size, struct bk_err *err)
{
	struct image_ref r;
	int ret = ref_parse(ref, &r, err);

	if (ret < 0)
		return ret;
	if (r.digest[0])
		return bk_err_set(err, EINVAL, "reference '%s': a built image cannot have a digest",
				  ref);
	ret = ref_format_familiar(&r, out, size);
	if (ret < 0)
		return bk_err_set(err, -ret, "reference '%s' too long", ref);
	return 0;
}

int
bk_image_build(struct bk_engine *e, const char *context_dir, const char *ref,
	       struct bk_cancel *cancel, char id_out[BK_ID_SIZE], struct bk_err *err)
{
	struct build b = { .e = e, .cancel = cancel, .ctx_fd = -1, .log_fd = -1 };
	struct dockerfile df = { 0 };
	cleanup_free char *text = NULL;
	char name[512];
	size_t len = 0;
	int ret;

	if (context_dir[0] != '/')
		return bk_err_set(err, EINVAL, "build '%s': path must be absolute", context_dir);
	if (ref && build_name(ref, name, sizeof(name), err) < 0)
		return bk_err_wrap(err, "build '%s'", context_dir);
	b.ctx_fd = open(context_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (b.ctx_fd < 0)
		return bk_err_sys(err, "build '%s'", context_dir);
	/* Whatever can be rejected is rejected before anything is made. */
	ret = buildfs_read(b.ctx_fd, "Dockerfile", DF_TEXT_MAX, &text, &len, err);
	if (ret == 0)
		ret = dockerfile_parse(text, len, &df, err);
	if (ret == 0)
		ret = image_build_begin(&e->model, context_dir, b.id, &b.log_fd, err);
	if (ret < 0) {
		close(b.ctx_fd);
		dockerfile_free(&df);
		return bk_err_wrap(err, "build '%s'", context_dir);
	}
	bk_log(BK_LOG_INFO, "build %s from '%s' started", b.id, context_dir);

	/* FROM's layer is named by no image until the result is published. */
	layers_hold(e);
	ret = run_build(&b, &df, ref ? name : NULL, err);
	if (ret < 0) {
		blog(&b, "error: %s\n", err->msg);
		drop_container(&b);
		if (b.cur_owned)
			drop_image(&b, b.cur);
		image_build_abort(&e->model, b.id);
		bk_err_wrap(err, "build '%s'", context_dir);
		bk_log(BK_LOG_INFO, "%s", err->msg);
	} else {
		/* The result is a snapshot of the last intermediate, which can go now. */
		if (b.cur_owned)
			drop_image(&b, b.cur);
		snprintf(id_out, BK_ID_SIZE, "%s", b.id);
		bk_log(BK_LOG_INFO, "built '%s' as %s", context_dir, b.id);
	}
	layers_release(e);
	json_decref(b.config);
	dockerfile_free(&df);
	close(b.log_fd);
	close(b.ctx_fd);
	return ret;
}
