/*
 * containers/ID/exec/: exec sessions as files.
 *
 *	clone    the first read allocates session N and reads "N"
 *	N/ctl    "exec CMD..." runs CMD (sh -c) in the container; "kill [SIG]"
 *	N/out    its stdout and stderr; a read waits for more until it ends
 *	N/in     its stdin; the last close of the file is EOF
 *	N/wait   waits for its end: "exit N" / "signal N"; the session is then freed
 *
 * Waiting reads are parked, not slept on, and answered when the engine
 * reports new output or the end (kind BK_OBJ_EXEC).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "fsd.h"

enum park_kind { PARK_OUT, PARK_WAIT };

struct parked {
	enum park_kind kind;
	fuse_req_t req;
	struct ofile *of;
	size_t size;
	off_t off;
	char key[BK_ID_SIZE + 16]; /* "CTR/N" */
	struct parked *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct parked *parked; /* protected by lock */

void
exec_clone_read(struct fsd *fs, fuse_req_t req, struct ofile *of, size_t size, off_t off)
{
	struct bk_err err = BK_ERR_INIT;
	char id[BK_ID_SIZE];
	int n, unused;

	pthread_mutex_lock(&of->lock);
	if (!of->produced) {
		if (exec_ids(fs, of->kind, of->serial, id, sizeof(id), &unused) < 0 ||
		    bk_exec_new(fs->engine, id, &n, &err) < 0) {
			pthread_mutex_unlock(&of->lock);
			fuse_reply_err(req, ENOENT);
			return;
		}
		of->data = xasprintf("%d\n", n);
		of->len = strlen(of->data);
		of->produced = true;
	}
	pthread_mutex_unlock(&of->lock);
	reply_slice(req, of->data, of->len, (size_t)off, size);
}

/* Answer p if it can be answered now: true when it was. */
static bool
try_answer(struct fsd *fs, struct parked *p)
{
	char id[BK_ID_SIZE], status[64];
	int n;

	if (exec_ids(fs, p->of->kind, p->of->serial, id, sizeof(id), &n) < 0) {
		fuse_reply_err(p->req, ENOENT);
		return true;
	}
	if (p->kind == PARK_OUT) {
		char *buf = xmalloc(p->size);
		ssize_t got = bk_exec_read(fs->engine, id, n, (uint64_t)p->off, buf, p->size);

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
	if (bk_exec_status(fs->engine, id, n, status, sizeof(status)) == -EAGAIN)
		return false;
	pthread_mutex_lock(&p->of->lock);
	if (!p->of->produced) {
		p->of->data = xasprintf("%s\n", status);
		p->of->len = strlen(p->of->data);
		p->of->produced = true;
	}
	pthread_mutex_unlock(&p->of->lock);
	reply_slice(p->req, p->of->data, p->of->len, 0, p->size);
	/* As the design says: a session is freed once its end has been read. */
	bk_exec_free(fs->engine, id, n);
	return true;
}

static void
on_interrupt(fuse_req_t req, void *data)
{
	struct parked **pp, *p;

	pthread_mutex_lock(&lock);
	for (pp = &parked; (p = *pp) != NULL; pp = &p->next)
		if (p == data && p->req == req) {
			*pp = p->next;
			break;
		}
	pthread_mutex_unlock(&lock);
	if (p == NULL)
		return;
	fuse_reply_err(req, EINTR);
	ofile_put(p->of);
	free(p);
}

static void
park(struct fsd *fs, fuse_req_t req, struct ofile *of, enum park_kind kind, size_t size, off_t off)
{
	struct parked *p = xcalloc(1, sizeof(*p));
	char id[BK_ID_SIZE];
	int n;

	if (exec_ids(fs, of->kind, of->serial, id, sizeof(id), &n) < 0) {
		free(p);
		fuse_reply_err(req, ENOENT);
		return;
	}
	p->kind = kind;
	p->req = req;
	p->of = ofile_get(of);
	p->size = size;
	p->off = off;
	snprintf(p->key, sizeof(p->key), "%s/%d", id, n);
	pthread_mutex_lock(&lock);
	p->next = parked;
	parked = p;
	pthread_mutex_unlock(&lock);
	fuse_req_interrupt_func(req, on_interrupt, p);
	/* Parked first, then checked: output that came in between is not missed. */
	exec_wake(fs, p->key);
}

void
exec_out_read(struct fsd *fs, fuse_req_t req, struct ofile *of, size_t size, off_t off)
{
	park(fs, req, of, PARK_OUT, size, off);
}

void
exec_wait_read(struct fsd *fs, fuse_req_t req, struct ofile *of, size_t size, off_t off)
{
	if (of->produced) {
		reply_slice(req, of->data, of->len, (size_t)off, size);
		return;
	}
	park(fs, req, of, PARK_WAIT, size, off);
}

/* New output, or the end, for session id ("CTR/N"). */
void
exec_wake(struct fsd *fs, const char *id)
{
	struct parked **pp, *p, *mine = NULL;

	pthread_mutex_lock(&lock);
	for (pp = &parked; (p = *pp) != NULL;) {
		if (strcmp(p->key, id) == 0) {
			*pp = p->next;
			p->next = mine;
			mine = p;
			continue;
		}
		pp = &p->next;
	}
	pthread_mutex_unlock(&lock);
	/* Outside the lock: answering calls the engine, whose callbacks come back here. */
	while ((p = mine) != NULL) {
		mine = p->next;
		if (try_answer(fs, p)) {
			ofile_put(p->of);
			free(p);
			continue;
		}
		pthread_mutex_lock(&lock);
		p->next = parked;
		parked = p;
		pthread_mutex_unlock(&lock);
	}
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
