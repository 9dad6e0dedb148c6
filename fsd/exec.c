/*
 * containers/ID/exec/: exec sessions as files.
 *
 *	clone    the first read allocates session N and reads "N"
 *	N/ctl    "exec CMD..." runs CMD (sh -c) in the container; "kill [SIG]"
 *(verbs.c) N/out    its stdout and stderr; a read waits for more until it ends
 *	N/in     its stdin; the last close of the file is EOF
 *	N/wait   waits for its end: "exit N" / "signal N"; the session is then
 *freed
 *
 * Waiting reads are parked (parked.c) under "exec/CTR_ID/N" and answered when
 * the engine reports new output or the end (kind BK_OBJ_EXEC).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "fsd.h"

void
exec_clone_read(struct fsd *fs, fuse_req_t req, struct ofile *of, size_t size, off_t off)
{
	struct bk_err err = BK_ERR_INIT;
	char id[BK_ID_SIZE];
	int n, unused;

	pthread_mutex_lock(&of->lock);
	if (!of->produced) {
		if (exec_ids(fs, of->kind, of->serial, id, sizeof(id), &unused) < 0) {
			pthread_mutex_unlock(&of->lock);
			fuse_reply_err(req, ENOENT);
			return;
		}
		/* Refused (a broken container): the reason where the tree shows errors. */
		if (bk_exec_new(fs->engine, id, &n, &err) < 0) {
			char owner[OBJ_PATH_SIZE];
			char *path = tree_path(fs, ino_make(of->kind, of->serial));

			pthread_mutex_unlock(&of->lock);
			snprintf(owner, sizeof(owner), "containers/%s", id);
			bk_err_wrap(&err, "exec");
			errlog_record(path, owner, "read", &err);
			free(path);
			fuse_reply_err(req, err.code);
			return;
		}
		of->data = xasprintf("%d\n", n);
		of->len = strlen(of->data);
		of->produced = true;
	}
	pthread_mutex_unlock(&of->lock);
	reply_slice(req, of->data, of->len, (size_t)off, size);
}

/* N/out: what the session wrote from p->off on, once there is some (or it ended). */
static bool
answer_out(struct parked *p)
{
	char id[BK_ID_SIZE];
	char *buf;
	ssize_t got;
	int n;

	if (exec_ids(p->fs, p->of->kind, p->of->serial, id, sizeof(id), &n) < 0) {
		fuse_reply_err(p->req, ENOENT);
		return true;
	}
	buf = xmalloc(p->size);
	got = bk_exec_read(p->fs->engine, id, n, (uint64_t)p->off, buf, p->size);
	if (got == -EAGAIN) {
		free(buf);
		return false;
	}
	if (got < 0)
		fuse_reply_err(p->req, (int)-got);
	else
		fuse_reply_buf(p->req, buf, (size_t)got);
	free(buf);
	return true;
}

/* N/wait: the session's end, once it has ended. */
static bool
answer_wait(struct parked *p)
{
	struct ofile *of = p->of;
	char id[BK_ID_SIZE], status[64];
	int n;

	if (exec_ids(p->fs, of->kind, of->serial, id, sizeof(id), &n) < 0) {
		fuse_reply_err(p->req, ENOENT);
		return true;
	}
	if (bk_exec_status(p->fs->engine, id, n, status, sizeof(status)) == -EAGAIN)
		return false;
	pthread_mutex_lock(&of->lock);
	if (!of->produced) {
		of->data = xasprintf("%s\n", status);
		of->len = strlen(of->data);
		of->produced = true;
	}
	pthread_mutex_unlock(&of->lock);
	reply_slice(p->req, of->data, of->len, 0, p->size);
	/* As the design says: a session is freed once its end has been read. */
	bk_exec_free(p->fs->engine, id, n);
	return true;
}

static void
park_read(struct fsd *fs, fuse_req_t req, struct ofile *of, size_t size, off_t off,
	  parked_answer_fn answer)
{
	char id[BK_ID_SIZE], key[BK_ID_SIZE + 24];
	int n;

	if (exec_ids(fs, of->kind, of->serial, id, sizeof(id), &n) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	snprintf(key, sizeof(key), "exec/%s/%d", id, n);
	park(fs, req, of, size, off, key, answer);
}

void
exec_out_read(struct fsd *fs, fuse_req_t req, struct ofile *of, size_t size, off_t off)
{
	park_read(fs, req, of, size, off, answer_out);
}

void
exec_wait_read(struct fsd *fs, fuse_req_t req, struct ofile *of, size_t size, off_t off)
{
	if (of->produced) {
		reply_slice(req, of->data, of->len, (size_t)off, size);
		return;
	}
	park_read(fs, req, of, size, off, answer_wait);
}

/* New output, or the end, for session "CTR_ID/N" (the engine's id for it). */
void
exec_wake(const char *session)
{
	char key[BK_ID_SIZE + 24];

	snprintf(key, sizeof(key), "exec/%s", session);
	parked_wake(key, false);
}

void
exec_in_write(struct fsd *fs, fuse_req_t req, struct ofile *of, const char *buf, size_t size)
{
	struct bk_err err = BK_ERR_INIT;
	char id[BK_ID_SIZE];
	ssize_t n;
	int s;

	if (exec_ids(fs, of->kind, of->serial, id, sizeof(id), &s) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	n = bk_exec_write(fs->engine, id, s, buf, size, &err);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

void
exec_in_release(struct fsd *fs, struct ofile *of)
{
	char id[BK_ID_SIZE];
	int n;

	if (exec_ids(fs, of->kind, of->serial, id, sizeof(id), &n) == 0)
		bk_exec_close_stdin(fs->engine, id, n);
}
