/*
 * containers/ID/wait: the first read blocks until the container is no longer
 * created or running, then reads "exit N" or "signal N".  Blocked reads are
 * parked (parked.c: no thread waits, Ctrl-C answers EINTR) under
 * "wait/CTR_ID" and answered when the engine reports the state change; a
 * container removed meanwhile answers ENOENT.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "fsd.h"

/* The answer once it is known: true and of->data set, else false. */
static bool
produce(struct ofile *of, const struct bk_container_info *info)
{
	/* A broken container's init may run on (pid set): it is waited for too. */
	if (info->state == BK_CTR_CREATED || info->state == BK_CTR_RUNNING ||
	    (info->state == BK_CTR_BROKEN && info->pid > 0) || info->exit_pending)
		return false;
	pthread_mutex_lock(&of->lock);
	if (!of->produced) {
		free(of->data);
		/* A runtime's container reaped by its caller on a kernel that does not tell. */
		if (!info->exited)
			of->data = xasprintf("exit -\n");
		else if (info->exit_signal > 0)
			of->data = xasprintf("signal %d\n", info->exit_signal);
		else
			of->data = xasprintf("exit %d\n", info->exit_code);
		of->len = strlen(of->data);
		of->produced = true;
	}
	pthread_mutex_unlock(&of->lock);
	return true;
}

static bool
answer(struct parked *p)
{
	struct bk_container_info info;
	struct bk_err err = BK_ERR_INIT;
	bool done;

	if (p->gone || bk_container_get(p->fs->engine, NULL, p->of->serial, &info, &err) < 0) {
		done = true;
	} else {
		done = produce(p->of, &info);
		bk_container_info_free(&info);
	}
	if (!done)
		return false;
	if (p->of->produced)
		reply_slice(p->req, p->of->data, p->of->len, 0, p->size);
	else
		fuse_reply_err(p->req, ENOENT);
	return true;
}

static void
key_of(const char *id, char *key, size_t size)
{
	snprintf(key, size, "wait/%s", id);
}

void
waitq_read(struct fsd *fs, fuse_req_t req, struct ofile *of, size_t size, off_t off)
{
	struct bk_container_info info;
	struct bk_err err = BK_ERR_INIT;
	char key[BK_ID_SIZE + 8];

	if (of->produced) {
		reply_slice(req, of->data, of->len, (size_t)off, size);
		return;
	}
	if (bk_container_get(fs->engine, NULL, of->serial, &info, &err) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* Broken, not running, and no exit known: nothing to wait for or to tell. */
	if (info.state == BK_CTR_BROKEN && info.pid == 0 && !info.exited) {
		int code = info.broken_code;

		bk_container_info_free(&info);
		fuse_reply_err(req, code);
		return;
	}
	key_of(info.id, key, sizeof(key));
	bk_container_info_free(&info);
	park(fs, req, of, size, off, key, answer);
}

/* The container id changed state (or, removed, is gone): answer its waiters that can be. */
void
waitq_wake(const char *id, bool removed)
{
	char key[BK_ID_SIZE + 8];

	key_of(id, key, sizeof(key));
	parked_wake(key, removed);
}
