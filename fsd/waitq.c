/*
 * containers/ID/wait: the first read blocks until the container is no longer
 * created or running, then reads "exit N" or "signal N".  Blocked reads are
 * parked (no thread waits) and answered when the engine reports the state
 * change; Ctrl-C answers EINTR.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "fsd.h"

struct waiter {
	fuse_req_t req;
	struct ofile *of;
	size_t size;
	char id[BK_ID_SIZE];
	struct waiter *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct waiter *waiters; /* protected by lock */

/* The answer once it is known: true and of->data set, else false. */
static bool
produce(struct fsd *fs, struct ofile *of, struct bk_container_info *info)
{
	/* A broken container's init may run on (pid set): it is waited for too. */
	if (info->state == BK_CTR_CREATED || info->state == BK_CTR_RUNNING ||
	    (info->state == BK_CTR_BROKEN && info->pid > 0))
		return false;
	pthread_mutex_lock(&of->lock);
	if (!of->produced) {
		free(of->data);
		if (info->exit_signal > 0)
			of->data = xasprintf("signal %d\n", info->exit_signal);
		else
			of->data = xasprintf("exit %d\n", info->exit_code);
		of->len = strlen(of->data);
		of->produced = true;
	}
	pthread_mutex_unlock(&of->lock);
	(void)fs;
	return true;
}

static void
on_interrupt(fuse_req_t req, void *data)
{
	struct waiter **pp, *w;

	pthread_mutex_lock(&lock);
	for (pp = &waiters; (w = *pp) != NULL; pp = &w->next)
		if (w == data && w->req == req) {
			*pp = w->next;
			break;
		}
	pthread_mutex_unlock(&lock);
	if (w == NULL)
		return;
	fuse_reply_err(req, EINTR);
	ofile_put(w->of);
	free(w);
}

void
waitq_read(struct fsd *fs, fuse_req_t req, struct ofile *of, size_t size, off_t off)
{
	struct bk_container_info info;
	struct bk_err err = BK_ERR_INIT;
	char id[BK_ID_SIZE];
	struct waiter *w;

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
	snprintf(id, sizeof(id), "%s", info.id);
	bk_container_info_free(&info);
	w = xcalloc(1, sizeof(*w));
	w->req = req;
	w->of = ofile_get(of);
	w->size = size;
	snprintf(w->id, sizeof(w->id), "%s", id);
	pthread_mutex_lock(&lock);
	w->next = waiters;
	waiters = w;
	pthread_mutex_unlock(&lock);
	/* Ctrl-C: answered EINTR, maybe at once inside this call. */
	fuse_req_interrupt_func(req, on_interrupt, w);
	/* Parked first, then checked: a stop in between cannot be missed. */
	waitq_wake(fs, id, false);
}

/* The container id changed state (or is gone): answer its waiters that can be answered. */
void
waitq_wake(struct fsd *fs, const char *id, bool removed)
{
	struct waiter **pp, *w, *ready = NULL;

	pthread_mutex_lock(&lock);
	for (pp = &waiters; (w = *pp) != NULL;) {
		struct bk_container_info info;
		struct bk_err err = BK_ERR_INIT;
		bool done;

		if (strcmp(w->id, id) != 0) {
			pp = &w->next;
			continue;
		}
		if (removed || bk_container_get(fs->engine, NULL, w->of->serial, &info, &err) < 0) {
			done = true;
		} else {
			done = produce(fs, w->of, &info);
			bk_container_info_free(&info);
		}
		if (!done) {
			pp = &w->next;
			continue;
		}
		*pp = w->next;
		w->next = ready;
		ready = w;
	}
	pthread_mutex_unlock(&lock);
	while ((w = ready) != NULL) {
		ready = w->next;
		if (w->of->produced)
			reply_slice(w->req, w->of->data, w->of->len, 0, w->size);
		else
			fuse_reply_err(w->req, ENOENT);
		ofile_put(w->of);
		free(w);
	}
}
