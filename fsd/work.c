/*
 * Long commands (everything written to a control file: import, pull, build,
 * run, start, stop, rm, commit, exec) run on a thread of their own while
 * their write request waits, so they block the caller and not the daemon: no
 * FUSE worker waits, and the tree keeps answering.
 * A FUSE interrupt (Ctrl-C) sets the command's cancel flag; the command rolls
 * back and the write fails with EINTR.  The reply goes out through the
 * notifier, after the inotify events the command caused, so a caller that
 * reads the new id can use it at once.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/xalloc.h"
#include "fsd.h"

struct work {
	struct fsd *fs;
	fuse_req_t req;
	struct ofile *of;
	size_t reply_size; /* (size_t)-1: the request is a flush */
	char op[32];       /* for the error record: "import" */
	char errpath[96];  /* whose `err` file shows a failure: "images" */
	char *path;        /* the file written, for `errors` */
	work_fn fn;
	void *arg;
	void (*arg_free)(void *);
	struct bk_cancel cancel;
	struct bk_err err;
	char *reply;
	int ret;
	struct work *next; /* in the list of running commands */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle = PTHREAD_COND_INITIALIZER;
static unsigned in_flight;        /* protected by lock */
static struct work *running_list; /* protected by lock */

/* Found by pointer and request in the running list: w may already be gone. */
static void
on_interrupt(fuse_req_t req, void *data)
{
	struct work *w;

	pthread_mutex_lock(&lock);
	for (w = running_list; w; w = w->next)
		if (w == data && w->req == req)
			atomic_store(&w->cancel.cancelled, 1);
	pthread_mutex_unlock(&lock);
}

static void
finish(void *data)
{
	struct work *w = data;
	struct ofile *of = w->of;

	pthread_mutex_lock(&of->lock);
	free(of->reply);
	if (w->ret < 0) {
		errlog_record(w->path, w->errpath, w->op, &w->err);
		of->reply = xasprintf("error: %s\n", w->err.msg);
		free(w->reply);
	} else {
		of->reply = w->reply;
	}
	of->reply_len = of->reply ? strlen(of->reply) : 0;
	of->reply_pos = 0;
	of->busy = false;
	pthread_mutex_unlock(&of->lock);

	if (w->ret < 0)
		fuse_reply_err(w->req, -w->ret);
	else if (w->reply_size == (size_t)-1)
		fuse_reply_err(w->req, 0);
	else
		fuse_reply_write(w->req, w->reply_size);
	if (w->arg_free)
		w->arg_free(w->arg);
	ofile_put(of);
	free(w->path);
	pthread_mutex_lock(&lock);
	for (struct work **pp = &running_list; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	free(w);
	if (--in_flight == 0)
		pthread_cond_broadcast(&idle);
	pthread_mutex_unlock(&lock);
}

static void *
worker(void *data)
{
	struct work *w = data;

	w->ret = w->fn(w->fs, w->arg, &w->cancel, &w->reply, &w->err);
	notify_call(finish, w);
	return NULL;
}

/*
 * Run fn(arg) on a new thread and reply to req (a write of reply_size bytes,
 * or a flush) when it is done; of->busy is set by the caller and cleared here.
 */
void
work_start(struct fsd *fs, fuse_req_t req, struct ofile *of, size_t reply_size, const char *op,
	   const char *errpath, work_fn fn, void *arg, void (*arg_free)(void *))
{
	struct work *w = xcalloc(1, sizeof(*w));
	pthread_attr_t attr;
	sigset_t old;
	pthread_t t;

	w->fs = fs;
	w->req = req;
	w->of = ofile_get(of);
	/* Now: after an `rm force` the file's path can no longer be found. */
	w->path = tree_path(fs, ino_make(of->kind, of->serial));
	w->reply_size = reply_size;
	snprintf(w->op, sizeof(w->op), "%s", op);
	snprintf(w->errpath, sizeof(w->errpath), "%s", errpath);
	w->fn = fn;
	w->arg = arg;
	w->arg_free = arg_free;
	pthread_mutex_lock(&lock);
	in_flight++;
	w->next = running_list;
	running_list = w;
	pthread_mutex_unlock(&lock);
	fuse_req_interrupt_func(req, on_interrupt, w);

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	/* Born with the stop signals blocked, and so the threads it starts (fsd_block_stop). */
	fsd_block_stop(&old);
	if (pthread_create(&t, &attr, worker, w) != 0) {
		w->ret = bk_err_set(&w->err, EAGAIN, "cannot start a worker thread");
		finish(w);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
}

/* Ask every running command to roll back (daemon exit). */
void
work_cancel_all(void)
{
	struct work *w;

	pthread_mutex_lock(&lock);
	for (w = running_list; w; w = w->next)
		atomic_store(&w->cancel.cancelled, 1);
	pthread_mutex_unlock(&lock);
}

/* Wait until every long command has replied; false after timeout_ms. */
bool
work_drain(int timeout_ms)
{
	struct timespec deadline;
	int ret = 0;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000 + 1;
	pthread_mutex_lock(&lock);
	while (in_flight > 0 && ret == 0)
		ret = pthread_cond_timedwait(&idle, &lock, &deadline);
	pthread_mutex_unlock(&lock);
	return ret == 0;
}
