/*
 * What each control file does with the commands written to it.  A write's
 * complete lines are checked first (a malformed one fails the write with
 * EINVAL and runs nothing), then run; long commands run through work.c.
 * Every failure fails the write with its errno and leaves its text in the
 * object's `err`, in `errors`, and in the reply read on the same open file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fsd.h"

#define LINES_MAX 64

struct import_job {
	size_t n;
	char *dir[LINES_MAX];
	char *ref[LINES_MAX];
};

static void
import_job_free(void *arg)
{
	struct import_job *job = arg;
	size_t i;

	for (i = 0; i < job->n; i++) {
		free(job->dir[i]);
		free(job->ref[i]);
	}
	free(job);
}

static int
import_run(struct fsd *fs, void *arg, struct bk_cancel *cancel, char **reply, struct bk_err *err)
{
	struct import_job *job = arg;
	size_t i, len = 0;
	char *out = calloc(job->n, BK_ID_SIZE + 1);

	if (out == NULL)
		abort();
	for (i = 0; i < job->n; i++) {
		char id[BK_ID_SIZE];
		int ret = bk_image_import(fs->engine, job->dir[i], job->ref[i], cancel, id, err);

		if (ret < 0) {
			free(out);
			return ret;
		}
		len += (size_t)sprintf(out + len, "%s\n", id);
	}
	*reply = out;
	return 0;
}

/* "DIR [REF]" per line. */
static int
import_parse(char **lines, size_t n, struct import_job **out, struct bk_err *err)
{
	struct import_job *job = calloc(1, sizeof(*job));
	size_t i;

	if (job == NULL)
		abort();
	for (i = 0; i < n; i++) {
		char *argv[3];
		int argc = ctl_split(lines[i], argv, 3, err);

		if (argc < 0)
			goto fail;
		if (argc < 1 || argc > 2) {
			bk_err_set(err, EINVAL, "usage: DIR [REF] (got %d words)", argc);
			goto fail;
		}
		if (argv[0][0] != '/') {
			bk_err_set(err, EINVAL, "import '%s': path must be absolute", argv[0]);
			goto fail;
		}
		job->dir[job->n] = strdup(argv[0]);
		job->ref[job->n] = argc == 2 ? strdup(argv[1]) : NULL;
		job->n++;
	}
	*out = job;
	return 0;
fail:
	import_job_free(job);
	return -err->code;
}

static void
fail_write(struct fsd *fs, fuse_req_t req, struct ofile *of, const char *op, const char *errpath,
	   const struct bk_err *err)
{
	char *path = tree_path(fs, ino_make(of->kind, of->serial));

	errlog_record(path ? path : "?", errpath, op, err);
	free(path);
	free(of->reply);
	of->reply = NULL;
	if (asprintf(&of->reply, "error: %s\n", err->msg) < 0)
		of->reply = NULL;
	of->reply_len = of->reply ? strlen(of->reply) : 0;
	of->reply_pos = 0;
	fuse_reply_err(req, err->code);
}

/*
 * Handle a write (or, with at_close, a flush) on a control file: exactly one
 * reply to req, now or when the command finishes.
 */
int
control_write(struct fsd *fs, fuse_req_t req, struct ofile *of, const char *buf, size_t size,
	      bool at_close)
{
	struct bk_err err = BK_ERR_INIT;
	char *lines[LINES_MAX];
	struct import_job *job = NULL;
	size_t n = 0, i;
	size_t reply_size = at_close ? (size_t)-1 : size;
	char *line;

	pthread_mutex_lock(&of->lock);
	if (of->busy) {
		pthread_mutex_unlock(&of->lock);
		bk_err_set(&err, EBUSY, "a command is still running on this open file");
		fuse_reply_err(req, EBUSY);
		return 0;
	}
	if (buf && ctl_append(of, buf, size, &err) < 0)
		goto fail;
	while (n < LINES_MAX && (line = ctl_next_line(of, at_close)) != NULL)
		lines[n++] = line;
	if (n == LINES_MAX && of->in_len > 0) {
		bk_err_set(&err, EINVAL, "more than %d commands in one write", LINES_MAX);
		goto fail;
	}
	if (n == 0) {
		/* Not a whole command yet: keep it for the next write or the close. */
		pthread_mutex_unlock(&of->lock);
		if (at_close)
			fuse_reply_err(req, 0);
		else
			fuse_reply_write(req, size);
		return 0;
	}
	if (import_parse(lines, n, &job, &err) < 0)
		goto fail;
	for (i = 0; i < n; i++)
		free(lines[i]);
	of->busy = true;
	pthread_mutex_unlock(&of->lock);
	work_start(fs, req, of, reply_size, "import", "images", import_run, job, import_job_free);
	return 0;
fail:
	for (i = 0; i < n; i++)
		free(lines[i]);
	free(of->in);
	of->in = NULL;
	of->in_len = 0;
	fail_write(fs, req, of, "import", "images", &err);
	pthread_mutex_unlock(&of->lock);
	return 0;
}
