/*
 * What each control file does with the commands written to it:
 *
 *	images/import      DIR [REF]
 *	images/pull        REF [OS/ARCH[/VARIANT]]
 *	containers/run     IMAGE [CMD...]
 *	containers/ID/ctl  start | stop [SECS] | kill [SIG] | restart [SECS] | rm force |
 *	                   commit [REF|IMG_ID]
 *	containers/ID/exec/N/ctl  exec CMD... | kill [SIG]
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
#include "fsd.h"

#define LINES_MAX 64
#define CTL_USAGE \
	"start | stop [SECS] | kill [SIG] | restart [SECS] | rm force | commit [REF|IMG_ID]"
#define WORDS_MAX 8

struct line {
	char *raw; /* the command line as written */
	int argc;
	char *argv[WORDS_MAX];
	char *words; /* storage for argv */
};

struct job {
	enum node_kind file;
	char ctr_id[BK_ID_SIZE]; /* containers/ID/ctl: the container */
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

/*
 * One or two words; with verb, the first is a directory and must be absolute
 * (the daemon cannot know the writer's working directory).
 */
static must_check int
check_one_or_two(struct line *l, const char *usage, const char *verb, struct bk_err *err)
{
	if (l->argc < 1 || l->argc > 2)
		return bk_err_set(err, EINVAL, "usage: %s (got %d words)", usage, l->argc);
	if (verb && l->argv[0][0] != '/')
		return bk_err_set(err, EINVAL, "%s '%s': path must be absolute", verb, l->argv[0]);
	return 0;
}

static must_check int
check_run(struct line *l, struct bk_err *err)
{
	if (l->argc < 1)
		return bk_err_set(err, EINVAL, "usage: IMAGE [CMD...]");
	return 0;
}

static must_check int
check_ctl(struct line *l, struct bk_err *err)
{
	const char *verb = l->argc > 0 ? l->argv[0] : "";
	long v;

	if (strcmp(verb, "start") == 0 && l->argc == 1)
		return 0;
	if ((strcmp(verb, "stop") == 0 || strcmp(verb, "restart") == 0) && l->argc <= 2) {
		if (l->argc == 2 && parse_int(l->argv[1], 0, 86400, &v) < 0)
			return bk_err_set(err, EINVAL, "%s: bad timeout '%s' (seconds, 0-86400)",
					  verb, l->argv[1]);
		return 0;
	}
	if (strcmp(verb, "kill") == 0 && l->argc <= 2) {
		if (l->argc == 2 && bk_signal_parse(l->argv[1]) < 0)
			return bk_err_set(err, EINVAL, "kill: unknown signal '%s'", l->argv[1]);
		return 0;
	}
	if (strcmp(verb, "rm") == 0 && l->argc == 2 && strcmp(l->argv[1], "force") == 0)
		return 0;
	if (strcmp(verb, "commit") == 0 && l->argc <= 2)
		return 0;
	if (l->argc == 0)
		return bk_err_set(err, EINVAL, "empty command (%s)", CTL_USAGE);
	if (strcmp(verb, "start") == 0 || strcmp(verb, "stop") == 0 || strcmp(verb, "kill") == 0 ||
	    strcmp(verb, "restart") == 0 || strcmp(verb, "rm") == 0 || strcmp(verb, "commit") == 0)
		return bk_err_set(err, EINVAL, "%s: wrong arguments (%s)", verb, CTL_USAGE);
	return bk_err_set(err, EINVAL, "unknown command '%s' (%s)", verb, CTL_USAGE);
}

/* ---- running (on a work thread) ---------------------------------------- */

/* Each command that makes something adds its id to the reply, one per line. */
static void
reply_add(char **reply, const char *id)
{
	char *next = xasprintf("%s%s\n", *reply ? *reply : "", id);

	free(*reply);
	*reply = next;
}

static must_check int
run_import(struct fsd *fs, struct line *l, struct bk_cancel *cancel, char **reply,
	   struct bk_err *err)
{
	char id[BK_ID_SIZE];
	int ret = bk_image_import(fs->engine, l->argv[0], l->argc > 1 ? l->argv[1] : NULL, cancel,
				  id, err);

	if (ret == 0)
		reply_add(reply, id);
	return ret;
}

static must_check int
run_pull(struct fsd *fs, struct line *l, struct bk_cancel *cancel, char **reply, struct bk_err *err)
{
	char id[BK_ID_SIZE], spec[1100];
	int ret;

	snprintf(spec, sizeof(spec), "%s%s%s", l->argv[0], l->argc > 1 ? " " : "",
		 l->argc > 1 ? l->argv[1] : "");
	ret = bk_image_pull(fs->engine, spec, cancel, NULL, id, err);
	if (ret == 0)
		reply_add(reply, id);
	return ret;
}

static must_check int
run_build(struct fsd *fs, struct line *l, struct bk_cancel *cancel, char **reply,
	  struct bk_err *err)
{
	char id[BK_ID_SIZE];
	int ret = bk_image_build(fs->engine, l->argv[0], l->argc > 1 ? l->argv[1] : NULL, cancel,
				 id, err);

	if (ret == 0)
		reply_add(reply, id);
	return ret;
}

/* The command of "IMAGE CMD...": everything after the image word, as written. */
static const char *
rest_after_first_word(const char *raw)
{
	const char *p = raw + strspn(raw, " \t");

	p += strcspn(p, " \t");
	return p + strspn(p, " \t");
}

static must_check int
run_run(struct fsd *fs, struct line *l, struct bk_cancel *cancel, char **reply, struct bk_err *err)
{
	char image_id[BK_ID_SIZE], id[BK_ID_SIZE];
	const char *cmd = rest_after_first_word(l->raw);
	int ret;

	(void)cancel;
	/* An unknown image fails before any container exists, as `docker run` does. */
	ret = bk_image_resolve(fs->engine, l->argv[0], image_id, err);
	if (ret < 0)
		return ret;
	ret = bk_container_create(fs->engine, NULL, id, err);
	if (ret < 0)
		return ret;
	ret = bk_container_set(fs->engine, id, BK_CTR_IMAGE, l->argv[0], false, err);
	if (ret == 0 && *cmd)
		ret = bk_container_set(fs->engine, id, BK_CTR_CMD, cmd, false, err);
	if (ret == 0)
		ret = bk_container_start(fs->engine, id, err);
	/* Like docker, a container that failed to start stays (created) for inspection. */
	reply_add(reply, id);
	return ret;
}

static must_check int
run_ctl(struct fsd *fs, const char *id, struct line *l, struct bk_cancel *cancel, char **reply,
	struct bk_err *err)
{
	const char *verb = l->argv[0];
	long secs = 10;
	int ret;

	(void)reply;
	/* check_ctl let only good timeouts through. */
	if (l->argc == 2 && (strcmp(verb, "stop") == 0 || strcmp(verb, "restart") == 0) &&
	    parse_int(l->argv[1], 0, 86400, &secs) < 0)
		secs = 10;
	if (strcmp(verb, "start") == 0)
		return bk_container_start(fs->engine, id, err);
	if (strcmp(verb, "stop") == 0)
		return bk_container_stop(fs->engine, id, (int)secs, cancel, err);
	if (strcmp(verb, "kill") == 0)
		return bk_container_kill(fs->engine, id,
					 l->argc == 2 ? bk_signal_parse(l->argv[1]) : 9, err);
	if (strcmp(verb, "commit") == 0) {
		char img[BK_ID_SIZE];

		ret =
		    bk_container_commit(fs->engine, id, l->argc == 2 ? l->argv[1] : NULL, img, err);
		if (ret == 0)
			reply_add(reply, img);
		return ret;
	}
	if (strcmp(verb, "restart") == 0) {
		ret = bk_container_stop(fs->engine, id, (int)secs, cancel, err);
		if (ret < 0 && ret != -ESRCH)
			return ret;
		return bk_container_start(fs->engine, id, err);
	}
	return bk_container_remove(fs->engine, id, true, err);
}

static must_check int
run_exec_ctl(struct fsd *fs, const char *id, int n, struct line *l, struct bk_err *err)
{
	const char *rest = rest_after_first_word(l->raw);

	if (strcmp(l->argv[0], "exec") == 0)
		return bk_exec_start(fs->engine, id, n, rest, err);
	return bk_exec_kill(fs->engine, id, n, *rest ? bk_signal_parse(rest) : 9, err);
}

static must_check int
job_run(struct fsd *fs, void *arg, struct bk_cancel *cancel, char **reply, struct bk_err *err)
{
	struct job *job = arg;
	size_t i;
	int ret = 0;

	for (i = 0; i < job->n && ret == 0; i++) {
		struct line *l = &job->lines[i];
		const char *what = job->file == N_IMAGES_IMPORT  ? "import"
				   : job->file == N_IMAGES_PULL  ? "pull"
				   : job->file == N_IMAGES_BUILD ? "build"
				   : job->file == N_CTRS_RUN     ? "run"
								 : l->argv[0];

		if (cancel && atomic_load(&cancel->cancelled))
			return bk_err_set(err, EINTR, "%s: interrupted", what);
		switch (job->file) {
		case N_IMAGES_IMPORT:
			ret = run_import(fs, l, cancel, reply, err);
			break;
		case N_IMAGES_PULL:
			ret = run_pull(fs, l, cancel, reply, err);
			break;
		case N_IMAGES_BUILD:
			ret = run_build(fs, l, cancel, reply, err);
			break;
		case N_CTRS_RUN:
			ret = run_run(fs, l, cancel, reply, err);
			break;
		case N_EXEC_CTL:
			ret = run_exec_ctl(fs, job->ctr_id, job->exec_n, l, err);
			break;
		default:
			ret = run_ctl(fs, job->ctr_id, l, cancel, reply, err);
			break;
		}
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
	char owner[BK_ID_SIZE + 16];

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
	char owner[BK_ID_SIZE + 16];
	char *path = tree_path(fs, ino_make(of->kind, of->serial));

	bk_err_set(&err, EBUSY,
		   "a command is still running on this open file: wait for it, or open the "
		   "file again");
	err_owner(fs, of, owner, sizeof(owner));
	errlog_record(path, owner, op_name(at_close), &err);
	free(path);
	fuse_reply_err(req, EBUSY);
}

static must_check int
check_line(struct job *job, struct line *l, struct bk_err *err)
{
	l->words = xstrdup(l->raw);
	if (job->file == N_EXEC_CTL) {
		char *p = l->words + strspn(l->words, " \t");

		if (ctl_check_text(l->raw, false, err) < 0)
			return -err->code;
		p[strcspn(p, " \t\r")] = '\0';
		l->argv[0] = p;
		l->argc = *p ? 1 : 0;
		if (strcmp(p, "exec") == 0) {
			if (*rest_after_first_word(l->raw) == '\0')
				return bk_err_set(err, EINVAL, "usage: exec CMD...");
			return 0;
		}
		if (strcmp(p, "kill") == 0) {
			const char *sig = rest_after_first_word(l->raw);

			if (*sig && bk_signal_parse(sig) < 0)
				return bk_err_set(err, EINVAL, "kill: unknown signal '%s'", sig);
			return 0;
		}
		return bk_err_set(err, EINVAL, "unknown command '%s' (exec CMD... | kill [SIG])",
				  p);
	}
	if (job->file == N_CTRS_RUN) {
		/* Only the image is a word; the command is the rest of the line as written. */
		char *p = l->words + strspn(l->words, " \t");

		if (ctl_check_text(l->raw, false, err) < 0)
			return -err->code;
		p[strcspn(p, " \t\r")] = '\0';
		l->argv[0] = p;
		l->argc = *p ? 1 : 0;
		return check_run(l, err);
	}
	l->argc = ctl_split(l->words, l->argv, WORDS_MAX, err);
	if (l->argc < 0)
		return l->argc;
	switch (job->file) {
	case N_IMAGES_IMPORT:
		return check_one_or_two(l, "DIR [REF]", "import", err);
	case N_IMAGES_PULL:
		return check_one_or_two(l, "REF [OS/ARCH[/VARIANT]]", NULL, err);
	case N_IMAGES_BUILD:
		return check_one_or_two(l, "CONTEXT_DIR [REF]", "build", err);
	case N_CTRS_RUN:
		return check_run(l, err);
	default:
		return check_ctl(l, err);
	}
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
	char owner[BK_ID_SIZE + 16];
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
		if (check_line(job, &job->lines[i], &err) < 0)
			goto fail;
	if (job->file == N_EXEC_CTL && exec_ids(fs, of->kind, of->serial, job->ctr_id,
						sizeof(job->ctr_id), &job->exec_n) < 0) {
		bk_err_set(&err, ENOENT, "no such exec session");
		goto fail;
	}
	if (job->file == N_CTR_CTL) {
		struct bk_container_info info;

		if (bk_container_get(fs->engine, NULL, of->serial, &info, &err) < 0)
			goto fail;
		snprintf(job->ctr_id, sizeof(job->ctr_id), "%s", info.id);
		bk_container_info_free(&info);
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
