/*
 * A write on a control file (images/import, pull, build, containers/run,
 * containers/ID/ctl, containers/ID/exec/N/ctl; their verbs are in verbs.c).
 *
 * A write's complete lines are all checked first (one malformed line fails
 * the write with EINVAL and runs nothing), then run in order on a work
 * thread (work.c), so a slow command blocks its writer and not the daemon.
 * Every failure fails the write with its errno and leaves its text in the
 * object's `err`, in `errors`, and in the reply read on the same open file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "verbs.h"

#define LINES_MAX 64 /* commands in one write */

/* A write's commands, run in order on a work thread. */
struct job {
	enum node_kind file;
	char obj_id[BK_ID_SIZE]; /* the container (containers/ID/ctl, exec/N/ctl), the image */
	int exec_n;              /* containers/ID/exec/N/ctl: the session */
	size_t n;
	struct line lines[LINES_MAX];
};

static void
job_free(void *arg)
{
	struct job *job = arg;
	size_t i;

	for (i = 0; i < job->n; i++) {
		free(job->lines[i].raw);
		free(job->lines[i].words);
	}
	free(job);
}

/* ---- checking (before anything runs) ----------------------------------- */

/* The rest of a line after its first word, as written ("IMAGE CMD...", "exec CMD..."). */
static const char *
rest_after_first_word(const char *raw)
{
	const char *p = raw + strspn(raw, " \t");

	p += strcspn(p, " \t");
	return p + strspn(p, " \t");
}

/* FORM_*_REST: only the first word is a word; what follows stays as written. */
static must_check int
split_first_word(struct line *l, struct bk_err *err)
{
	char *p = l->words + strspn(l->words, " \t");

	if (ctl_check_text(l->raw, false, err) < 0)
		return -err->code;
	p[strcspn(p, " \t\r")] = '\0';
	l->argv[0] = p;
	l->argc = *p ? 1 : 0;
	return 0;
}

/* The line's verb: its first word's, or the file's only one. */
static const struct verb *
find_verb(const struct control_file *cf, const struct line *l)
{
	size_t i;

	if (cf->form == FORM_ARGS || cf->form == FORM_ARG_REST)
		return &cf->verbs[0];
	for (i = 0; i < cf->nverbs; i++)
		if (strcmp(cf->verbs[i].name, l->argv[0]) == 0)
			return &cf->verbs[i];
	return NULL;
}

/* The verb's arguments: the words after it, or the rest of the line as written. */
static void
collect_args(const struct control_file *cf, struct line *l)
{
	const char *rest = rest_after_first_word(l->raw);
	int i;

	l->nargs = 0;
	switch (cf->form) {
	case FORM_ARGS:
	case FORM_VERB_ARGS:
		for (i = cf->form == FORM_VERB_ARGS ? 1 : 0; i < l->argc; i++)
			l->args[l->nargs++] = l->argv[i];
		return;
	case FORM_ARG_REST:
		if (l->argc > 0)
			l->args[l->nargs++] = l->argv[0];
		break;
	case FORM_VERB_REST:
		break;
	}
	if (*rest)
		l->args[l->nargs++] = rest;
}

int
control_check_line(enum node_kind file, struct line *l, struct bk_err *err)
{
	const struct control_file *cf = control_file_of(file);
	const struct verb *v;
	char usage[160];
	int ret;

	l->words = xstrdup(l->raw);
	if (cf == NULL)
		return bk_err_set(err, EINVAL, "this file takes no commands");
	l->file = cf;
	if (cf->form == FORM_ARG_REST || cf->form == FORM_VERB_REST) {
		ret = split_first_word(l, err);
	} else {
		ret = l->argc = ctl_split(l->words, l->argv, WORDS_MAX, err);
	}
	if (ret < 0)
		return ret;
	if (cf->form == FORM_VERB_ARGS && l->argc == 0) {
		control_usage(cf, usage, sizeof(usage));
		return bk_err_set(err, EINVAL, "empty command (%s)", usage);
	}
	v = find_verb(cf, l);
	if (v == NULL) {
		control_usage(cf, usage, sizeof(usage));
		return bk_err_set(err, EINVAL, "unknown command '%s' (%s)", l->argv[0], usage);
	}
	l->verb = v;
	collect_args(cf, l);
	if (l->nargs < v->min || l->nargs > v->max)
		return wrong_arguments(l, err);
	return v->check ? v->check(l, err) : 0;
}

/* ---- running (on a work thread) ---------------------------------------- */

static must_check int
job_run(struct fsd *fs, void *arg, struct bk_cancel *cancel, char **reply, struct bk_err *err)
{
	struct job *job = arg;
	const struct run_ctx c = { fs->engine, job->obj_id, job->exec_n, cancel, reply };
	size_t i;
	int ret = 0;

	for (i = 0; i < job->n && ret == 0; i++) {
		const struct line *l = &job->lines[i];
		const char *what = l->verb->name;

		if (cancel && atomic_load(&cancel->cancelled))
			return bk_err_set(err, EINTR, "%s: interrupted", what);
		/* Only the verb the line was checked against: nothing else can run. */
		ret = l->verb->run(&c, l, err);
		/* Every message names the command it is about. */
		if (ret < 0 && strncmp(err->msg, what, strlen(what)) != 0)
			bk_err_wrap(err, "%s", what);
	}
	return ret;
}

/* ---- the write ---------------------------------------------------------- */

/* The file operation a failure is recorded under in `errors` and `err`. */
static const char *
op_name(bool at_close)
{
	return at_close ? "close" : "write";
}

/* "images", "containers" or "containers/ID": whose `err` shows a failure. */
static void
err_owner(struct fsd *fs, struct ofile *of, char *buf, size_t size)
{
	if (obj_path(of->kind, of->serial, fs, buf, size) < 0)
		snprintf(buf, size, "%s", "containers");
}

void
control_fail(struct fsd *fs, fuse_req_t req, struct ofile *of, const char *op,
	     const struct bk_err *err)
{
	char *path = tree_path(fs, ino_make(of->kind, of->serial));
	char owner[OBJ_PATH_SIZE];

	err_owner(fs, of, owner, sizeof(owner));
	errlog_record(path, owner, op, err);
	free(path);
	free(of->reply);
	of->reply = xasprintf("error: %s\n", err->msg);
	of->reply_len = strlen(of->reply);
	of->reply_pos = 0;
	fuse_reply_err(req, err->code);
}

/*
 * A write on an open file whose command is still running: refused, said in
 * `errors` and `err`; the reply stays the running command's.  The kernel
 * holds a file's inode lock across each write (and takes it at close), so
 * another writer of the same file normally waits there instead: this is the
 * daemon's own guard, not the usual path.
 */
static void
refuse_busy(struct fsd *fs, fuse_req_t req, struct ofile *of, bool at_close)
{
	struct bk_err err = BK_ERR_INIT;
	char owner[OBJ_PATH_SIZE];
	char *path = tree_path(fs, ino_make(of->kind, of->serial));

	bk_err_set(&err, EBUSY,
		   "a command is still running on this open file: wait for it, or open the "
		   "file again");
	err_owner(fs, of, owner, sizeof(owner));
	errlog_record(path, owner, op_name(at_close), &err);
	free(path);
	fuse_reply_err(req, EBUSY);
}

/*
 * Handle a write (or, with at_close, a flush) on a control file: exactly one
 * reply to req, now or when the commands finish.
 */
void
control_write(struct fsd *fs, fuse_req_t req, struct ofile *of, const char *buf, size_t size,
	      bool at_close)
{
	struct bk_err err = BK_ERR_INIT;
	struct job *job = xcalloc(1, sizeof(*job));
	char owner[OBJ_PATH_SIZE];
	char *raw;
	size_t i;

	job->file = of->kind;
	pthread_mutex_lock(&of->lock);
	if (of->busy) {
		pthread_mutex_unlock(&of->lock);
		job_free(job);
		refuse_busy(fs, req, of, at_close);
		return;
	}
	if (buf && ctl_append(of, buf, size, &err) < 0)
		goto fail;
	while (job->n < LINES_MAX && (raw = ctl_next_line(of, at_close)) != NULL)
		job->lines[job->n++].raw = raw;
	if (job->n == LINES_MAX && of->in_len > 0) {
		bk_err_set(&err, EINVAL, "more than %d commands in one write", LINES_MAX);
		goto fail;
	}
	if (job->n == 0) {
		/* Not a whole command yet: keep it for the next write or the close. */
		pthread_mutex_unlock(&of->lock);
		job_free(job);
		if (at_close)
			fuse_reply_err(req, 0);
		else
			fuse_reply_write(req, size);
		return;
	}
	for (i = 0; i < job->n; i++)
		if (control_check_line(job->file, &job->lines[i], &err) < 0)
			goto fail;
	if (job->file == N_EXEC_CTL && exec_ids(fs, of->kind, of->serial, job->obj_id,
						sizeof(job->obj_id), &job->exec_n) < 0) {
		bk_err_set(&err, ENOENT, "no such exec session");
		goto fail;
	}
	if (job->file == N_CTR_CTL) {
		struct bk_container_info info;

		if (bk_container_get(fs->engine, NULL, of->serial, &info, &err) < 0)
			goto fail;
		snprintf(job->obj_id, sizeof(job->obj_id), "%s", info.id);
		bk_container_info_free(&info);
	}
	if (job->file == N_IMG_CTL && bk_image_id(fs->engine, of->serial, job->obj_id) < 0) {
		bk_err_set(&err, ENOENT, "no such image");
		goto fail;
	}
	of->busy = true;
	pthread_mutex_unlock(&of->lock);
	err_owner(fs, of, owner, sizeof(owner));
	work_start(fs, req, of, at_close ? (size_t)-1 : size, op_name(at_close), owner, job_run,
		   job, job_free);
	return;
fail:
	free(of->in);
	of->in = NULL;
	of->in_len = 0;
	control_fail(fs, req, of, op_name(at_close), &err);
	pthread_mutex_unlock(&of->lock);
	job_free(job);
}
