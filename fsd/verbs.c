/*
 * The commands of each control file, one table per file:
 *
 *	images/import             DIR [REF]
 *	images/pull               REF [OS/ARCH[/VARIANT]]
 *	images/build              CONTEXT_DIR [REF]
 *	images/save               FILE IMAGE...
 *	images/load               FILE
 *	containers/run            IMAGE [CMD...]
 *	containers/ID/ctl         start | stop [SECS] | kill [SIG] | restart
 *[SECS] | rm force | commit [REF|IMG_ID] containers/ID/exec/N/ctl  exec CMD...
 *| kill [SIG]
 *	images/ID/ctl             rm force | push [REF]
 *	prune                     containers | images [all] | volumes | all
 *
 * A row says how many arguments a verb takes, what else is checked before
 * anything of the write runs, and what runs (on a work thread, control.c).
 * Usage messages are made from the rows, so each verb is spelled once, and a
 * line runs only the verb it was checked against.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/xalloc.h"
#include "verbs.h"

#define TIMEOUT_DEFAULT 10 /* stop, restart: seconds before SIGKILL */
#define TIMEOUT_MAX     86400

/* ---- checks (before anything runs) -------------------------------------- */

static must_check int
parse_int(const char *s, long min, long max, long *out)
{
	char *end = NULL;
	long v;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* import, build, save, load: the daemon cannot know the writer's working directory. */
static must_check int
check_absolute(const struct line *l, struct bk_err *err)
{
	if (l->args[0][0] != '/')
		return bk_err_set(err, EINVAL, "%s '%s': path must be absolute", l->verb->name,
				  l->args[0]);
	return 0;
}

static must_check int
check_timeout(const struct line *l, struct bk_err *err)
{
	long secs;

	if (l->nargs == 1 && parse_int(l->args[0], 0, TIMEOUT_MAX, &secs) < 0)
		return bk_err_set(err, EINVAL, "%s: bad timeout '%s' (seconds, 0-%d)",
				  l->verb->name, l->args[0], TIMEOUT_MAX);
	return 0;
}

static must_check int
check_signal(const struct line *l, struct bk_err *err)
{
	if (l->nargs == 1 && bk_signal_parse(l->args[0]) < 0)
		return bk_err_set(err, EINVAL, "kill: unknown signal '%s'", l->args[0]);
	return 0;
}

/*
 * resize COLS ROWS: a terminal's size, 1 to 10000 each; two words, or one
 * "COLS ROWS" (exec's ctl gives a verb the rest of its line as one).
 */
static int
size_of(const struct line *l, long *cols, long *rows)
{
	char c[16], r[16], extra[2];

	if (l->nargs == 2)
		return parse_int(l->args[0], 1, 10000, cols) < 0 ||
			       parse_int(l->args[1], 1, 10000, rows) < 0
			   ? -EINVAL
			   : 0;
	if (l->nargs != 1 || sscanf(l->args[0], "%15s %15s %1s", c, r, extra) != 2)
		return -EINVAL;
	return parse_int(c, 1, 10000, cols) < 0 || parse_int(r, 1, 10000, rows) < 0 ? -EINVAL : 0;
}

static must_check int
check_size(const struct line *l, struct bk_err *err)
{
	long cols, rows;

	if (size_of(l, &cols, &rows) < 0)
		return bk_err_set(err, EINVAL, "resize: COLS ROWS, 1 to 10000 each");
	return 0;
}

/* rm takes one word, "force": a plain removal is rmdir's. */
static must_check int
check_force(const struct line *l, struct bk_err *err)
{
	if (strcmp(l->args[0], "force") != 0)
		return wrong_arguments(l, err);
	return 0;
}

/* prune images takes one word, "all". */
static must_check int
check_all(const struct line *l, struct bk_err *err)
{
	if (l->nargs == 1 && strcmp(l->args[0], "all") != 0)
		return wrong_arguments(l, err);
	return 0;
}

/* ---- running (on a work thread) ----------------------------------------- */

/* Each command that makes something adds its id to the reply, one per line. */
static void
reply_add(char **reply, const char *id)
{
	char *next = xasprintf("%s%s\n", *reply ? *reply : "", id);

	free(*reply);
	*reply = next;
}

/* The argument or NULL. */
static const char *
arg(const struct line *l, int i)
{
	return i < l->nargs ? l->args[i] : NULL;
}

static int
timeout_of(const struct line *l)
{
	long secs = TIMEOUT_DEFAULT;

	/* check_timeout let only good ones through. */
	if (l->nargs == 1 && parse_int(l->args[0], 0, TIMEOUT_MAX, &secs) < 0)
		secs = TIMEOUT_DEFAULT;
	return (int)secs;
}

static int
signal_of(const struct line *l)
{
	return l->nargs == 1 ? bk_signal_parse(l->args[0]) : SIGKILL;
}

static must_check int
run_import(const struct run_ctx *c, const struct line *l, struct bk_err *err)
{
	char id[BK_ID_SIZE];
	int ret = bk_image_import(c->engine, l->args[0], arg(l, 1), c->cancel, id, err);

	if (ret == 0)
		reply_add(c->reply, id);
	return ret;
}

static must_check int
run_pull(const struct run_ctx *c, const struct line *l, struct bk_err *err)
{
	char id[BK_ID_SIZE], spec[1100];
	int ret;

	snprintf(spec, sizeof(spec), "%s%s%s", l->args[0], l->nargs > 1 ? " " : "",
		 l->nargs > 1 ? l->args[1] : "");
	ret = bk_image_pull(c->engine, spec, c->cancel, NULL, id, err);
	if (ret == 0)
		reply_add(c->reply, id);
	return ret;
}

static must_check int
run_build(const struct run_ctx *c, const struct line *l, struct bk_err *err)
{
	char id[BK_ID_SIZE];
	int ret = bk_image_build(c->engine, l->args[0], arg(l, 1), c->cancel, id, err);

	if (ret == 0)
		reply_add(c->reply, id);
	return ret;
}

/* save FILE IMAGE...: "ID DIGEST" per image saved. */
static must_check int
run_save(const struct run_ctx *c, const struct line *l, struct bk_err *err)
{
	struct bk_saved_image out[WORDS_MAX];
	size_t n = 0, i;
	int ret = bk_image_save(c->engine, l->args[0], l->args + 1, (size_t)l->nargs - 1, c->cancel,
				out, &n, err);

	for (i = 0; ret == 0 && i < n; i++) {
		cleanup_free char *line = xasprintf("%s %s", out[i].id, out[i].digest);

		reply_add(c->reply, line);
	}
	return ret;
}

/* load FILE: the ids of the images it held. */
static must_check int
run_load(const struct run_ctx *c, const struct line *l, struct bk_err *err)
{
	char(*ids)[BK_ID_SIZE] = NULL;
	size_t n = 0, i;
	int ret = bk_image_load(c->engine, l->args[0], c->cancel, &ids, &n, err);

	for (i = 0; ret == 0 && i < n; i++)
		reply_add(c->reply, ids[i]);
	free(ids);
	return ret;
}

/* run IMAGE [CMD...]: clone, image, cmd, start. */
static must_check int
run_run(const struct run_ctx *c, const struct line *l, struct bk_err *err)
{
	char id[BK_ID_SIZE];
	int ret;

	/* An unknown image fails before any container exists, as `docker run` does. */
	ret = bk_container_create_from(c->engine, NULL, l->args[0], arg(l, 1), id, err);
	if (ret < 0)
		return ret;
	ret = bk_container_start(c->engine, id, err);
	/* Like docker, a container that failed to start stays (created) for inspection. */
	reply_add(c->reply, id);
	return ret;
}

static must_check int
run_start(const struct run_ctx *c, const struct line *l, struct bk_err *err)
{
	(void)l;
	return bk_container_start(c->engine, c->obj_id, err);
}

static must_check int
run_stop(const struct run_ctx *c, const struct line *l, struct bk_err *err)
{
	return bk_container_stop(c->engine, c->obj_id, timeout_of(l), c->cancel, err);
}

static must_check int
run_kill(const struct run_ctx *c, const struct line *l, struct bk_err *err)
{
	return bk_container_kill(c->engine, c->obj_id, signal_of(l), err);
}

/* A container that is not running is started (stop's ESRCH is no failure here). */
static must_check int
run_restart(const struct run_ctx *c, const struct line *l, struct bk_err *err)
{
	return bk_container_restart(c->engine, c->obj_id, timeout_of(l), c->cancel, err);
}

static must_check int
run_rm(const struct run_ctx *c, const struct line *l, struct bk_err *err)
{
	(void)l;
	return bk_container_remove(c->engine, c->obj_id, true, err);
}

/* rm force on an image: removed even while containers made from it exist (docker rmi -f). */
static must_check int
run_image_rm(const struct run_ctx *c, const struct line *l, struct bk_err *err)
{
	(void)l;
	return bk_image_remove(c->engine, c->obj_id, true, err);
}

/* push [REF]: the manifest's digest is the reply (docker push prints it too). */
static must_check int
run_image_push(const struct run_ctx *c, const struct line *l, struct bk_err *err)
{
	char digest[BK_DIGEST_SIZE];
	int ret = bk_image_push(c->engine, c->obj_id, arg(l, 0), c->cancel, digest, err);

	if (ret == 0)
		reply_add(c->reply, digest);
	return ret;
}

static must_check int
run_commit(const struct run_ctx *c, const struct line *l, struct bk_err *err)
{
	char img[BK_ID_SIZE];
	int ret = bk_container_commit(c->engine, c->obj_id, arg(l, 0), img, err);

	if (ret == 0)
		reply_add(c->reply, img);
	return ret;
}

static must_check int
run_resize(const struct run_ctx *c, const struct line *l, struct bk_err *err)
{
	long cols = 0, rows = 0;

	(void)size_of(l, &cols, &rows); /* check_size let only good ones through */
	return bk_container_resize(c->engine, c->obj_id, (int)cols, (int)rows, err);
}

static must_check int
run_exec_tty(const struct run_ctx *c, const struct line *l, struct bk_err *err)
{
	(void)l;
	return bk_exec_set_tty(c->engine, c->obj_id, c->exec_n, err);
}

static must_check int
run_exec_resize(const struct run_ctx *c, const struct line *l, struct bk_err *err)
{
	long cols = 0, rows = 0;

	(void)size_of(l, &cols, &rows); /* check_size let only good ones through */
	return bk_exec_resize(c->engine, c->obj_id, c->exec_n, (int)cols, (int)rows, err);
}

static must_check int
run_exec(const struct run_ctx *c, const struct line *l, struct bk_err *err)
{
	return bk_exec_start(c->engine, c->obj_id, c->exec_n, l->args[0], err);
}

static must_check int
run_exec_kill(const struct run_ctx *c, const struct line *l, struct bk_err *err)
{
	return bk_exec_kill(c->engine, c->obj_id, c->exec_n, signal_of(l), err);
}

/* What a prune line names: its verb, and "images all". */
static unsigned
prune_what(const struct line *l)
{
	if (strcmp(l->verb->name, "containers") == 0)
		return BK_PRUNE_CONTAINERS;
	if (strcmp(l->verb->name, "images") == 0)
		return BK_PRUNE_IMAGES | (l->nargs == 1 ? BK_PRUNE_IMAGES_ALL : 0);
	if (strcmp(l->verb->name, "volumes") == 0)
		return BK_PRUNE_VOLUMES;
	return BK_PRUNE_CONTAINERS | BK_PRUNE_IMAGES | BK_PRUNE_VOLUMES; /* all */
}

/*
 * prune: a "KIND ID" line per object removed, "skipped KIND ID: why" per one
 * that could not be, then "reclaimed BYTES".
 */
static must_check int
run_prune(const struct run_ctx *c, const struct line *l, struct bk_err *err)
{
	static const char *const kinds[] = {
		[BK_OBJ_IMAGE] = "image",
		[BK_OBJ_CONTAINER] = "container",
		[BK_OBJ_EXEC] = "exec",
		[BK_OBJ_VOLUME] = "volume",
	};
	struct bk_prune_result r;
	char line[1024];
	size_t i;
	int ret;

	ret = bk_system_prune(c->engine, prune_what(l), c->cancel, &r, err);
	for (i = 0; ret == 0 && i < r.n; i++) {
		const struct bk_prune_item *it = &r.items[i];

		if (it->removed)
			snprintf(line, sizeof(line), "%s %s", kinds[it->kind], it->id);
		else
			snprintf(line, sizeof(line), "skipped %s %s: %s", kinds[it->kind], it->id,
				 it->why);
		reply_add(c->reply, line);
	}
	if (ret == 0) {
		snprintf(line, sizeof(line), "reclaimed %llu", (unsigned long long)r.reclaimed);
		reply_add(c->reply, line);
	}
	bk_prune_result_free(&r);
	return ret;
}

/* ---- the tables ---------------------------------------------------------- */

static const struct verb import_verbs[] = {
	{ "import", "DIR [REF]", 1, 2, check_absolute, run_import },
};
static const struct verb pull_verbs[] = {
	{ "pull", "REF [OS/ARCH[/VARIANT]]", 1, 2, NULL, run_pull },
};
static const struct verb build_verbs[] = {
	{ "build", "CONTEXT_DIR [REF]", 1, 2, check_absolute, run_build },
};
static const struct verb save_verbs[] = {
	{ "save", "FILE IMAGE...", 2, WORDS_MAX - 1, check_absolute, run_save },
};
static const struct verb load_verbs[] = {
	{ "load", "FILE", 1, 1, check_absolute, run_load },
};
static const struct verb run_verbs[] = {
	{ "run", "IMAGE [CMD...]", 1, 2, NULL, run_run },
};
static const struct verb ctr_verbs[] = {
	{ "start", "", 0, 0, NULL, run_start },
	{ "stop", "[SECS]", 0, 1, check_timeout, run_stop },
	{ "kill", "[SIG]", 0, 1, check_signal, run_kill },
	{ "restart", "[SECS]", 0, 1, check_timeout, run_restart },
	{ "rm", "force", 1, 1, check_force, run_rm },
	{ "commit", "[REF|IMG_ID]", 0, 1, NULL, run_commit },
	{ "resize", "COLS ROWS", 2, 2, check_size, run_resize },
};
static const struct verb img_verbs[] = {
	{ "rm", "force", 1, 1, check_force, run_image_rm },
	{ "push", "[REF]", 0, 1, NULL, run_image_push },
};
static const struct verb exec_verbs[] = {
	{ "exec", "CMD...", 1, 1, NULL, run_exec },
	{ "kill", "[SIG]", 0, 1, check_signal, run_exec_kill },
	{ "tty", "", 0, 0, NULL, run_exec_tty },
	{ "resize", "COLS ROWS", 1, 1, check_size, run_exec_resize },
};

static const struct verb prune_verbs[] = {
	{ "containers", "", 0, 0, NULL, run_prune },
	{ "images", "[all]", 0, 1, check_all, run_prune },
	{ "volumes", "", 0, 0, NULL, run_prune },
	{ "all", "", 0, 0, NULL, run_prune },
};

static const struct control_file control_files[] = {
	{ N_IMAGES_IMPORT, FORM_ARGS, import_verbs, ARRAY_SIZE(import_verbs) },
	{ N_IMAGES_PULL, FORM_ARGS, pull_verbs, ARRAY_SIZE(pull_verbs) },
	{ N_IMAGES_BUILD, FORM_ARGS, build_verbs, ARRAY_SIZE(build_verbs) },
	{ N_IMAGES_SAVE, FORM_ARGS, save_verbs, ARRAY_SIZE(save_verbs) },
	{ N_IMAGES_LOAD, FORM_ARGS, load_verbs, ARRAY_SIZE(load_verbs) },
	{ N_CTRS_RUN, FORM_ARG_REST, run_verbs, ARRAY_SIZE(run_verbs) },
	{ N_CTR_CTL, FORM_VERB_ARGS, ctr_verbs, ARRAY_SIZE(ctr_verbs) },
	{ N_EXEC_CTL, FORM_VERB_REST, exec_verbs, ARRAY_SIZE(exec_verbs) },
	{ N_IMG_CTL, FORM_VERB_ARGS, img_verbs, ARRAY_SIZE(img_verbs) },
	{ N_PRUNE, FORM_VERB_ARGS, prune_verbs, ARRAY_SIZE(prune_verbs) },
};

const struct control_file *
control_file_of(enum node_kind kind)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(control_files); i++)
		if (control_files[i].kind == kind)
			return &control_files[i];
	return NULL;
}

/* ---- usage messages ------------------------------------------------------ */

/* "stop [SECS]"; for a file of one command its arguments alone, "DIR [REF]". */
static void
verb_usage(const struct control_file *cf, const struct verb *v, char *buf, size_t size)
{
	if (cf->form == FORM_ARGS || cf->form == FORM_ARG_REST)
		snprintf(buf, size, "%s", v->args);
	else
		snprintf(buf, size, "%s%s%s", v->name, *v->args ? " " : "", v->args);
}

void
control_usage(const struct control_file *cf, char *buf, size_t size)
{
	size_t i, used = 0;
	char one[64];

	buf[0] = '\0';
	for (i = 0; i < cf->nverbs && used < size; i++) {
		verb_usage(cf, &cf->verbs[i], one, sizeof(one));
		used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? " | " : "", one);
	}
}

/*
 * The messages are the ones the tree has always given (scripts and tests
 * match them): a file of one command shows its usage and, when its
 * arguments are words, how many it got; a file of verbs names the verb.
 */
int
wrong_arguments(const struct line *l, struct bk_err *err)
{
	const struct control_file *cf = l->file;
	char usage[160];

	switch (cf->form) {
	case FORM_ARGS:
		verb_usage(cf, l->verb, usage, sizeof(usage));
		return bk_err_set(err, EINVAL, "usage: %s (got %d words)", usage, l->argc);
	case FORM_VERB_ARGS:
		control_usage(cf, usage, sizeof(usage));
		return bk_err_set(err, EINVAL, "%s: wrong arguments (%s)", l->verb->name, usage);
	case FORM_ARG_REST:
	case FORM_VERB_REST:
		break;
	}
	verb_usage(cf, l->verb, usage, sizeof(usage));
	return bk_err_set(err, EINVAL, "usage: %s", usage);
}
