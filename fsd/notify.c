/*
 * The notifier thread: the one thread that has file operations done on our
 * own mount (by the toucher process, toucher.c), so that inotify watchers see
 * changes the daemon makes by itself.
 *
 * FUSE raises no inotify event for notify_inval_* or notify_store; only real
 * VFS operations do (docs/design.md, "inotify on a FUSE mount").  So a new
 * object is announced by a VFS mkdir of images/<id> or containers/<id>
 * (IN_CREATE), a removal the daemon made by an rmdir (IN_DELETE), and a
 * changed state or index by a one-byte write to it (IN_MODIFY,
 * IN_CLOSE_WRITE).  The handlers recognise these requests by the toucher's
 * pid and only acknowledge them.  Handlers never do this themselves: a
 * handler touching its own mount deadlocks on the inode it is serving.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "fsd.h"

enum item_op { I_MKDIR, I_RMDIR, I_TOUCH, I_CALL };

struct item {
	enum item_op op;
	char *path; /* relative to the mount root */
	void (*fn)(void *);
	void *arg;
	struct item *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct item *head, **tail = &head; /* protected by lock */
static bool stopping, running, busy;      /* protected by lock */
static atomic_bool quiesced;              /* the loop no longer serves: skip VFS work */
static pthread_mutex_t inval_lock = PTHREAD_MUTEX_INITIALIZER; /* fs->se in use for an inval */
static pthread_t thread;

/* Set while a handler itself makes or removes an object: the kernel reports that one. */
static __thread bool in_handler;

bool
notify_is_self(fuse_req_t req)
{
	pid_t toucher = toucher_pid();

	return toucher != 0 && fuse_req_ctx(req)->pid == toucher;
}

static void
enqueue(enum item_op op, const char *path, void (*fn)(void *), void *arg)
{
	struct item *it = xcalloc(1, sizeof(*it));

	it->path = path ? xstrdup(path) : NULL;
	it->op = op;
	it->fn = fn;
	it->arg = arg;
	pthread_mutex_lock(&lock);
	*tail = it;
	tail = &it->next;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
}

static void
notify_mkdir(const char *path)
{
	enqueue(I_MKDIR, path, NULL, NULL);
}

static void
notify_rmdir(const char *path)
{
	enqueue(I_RMDIR, path, NULL, NULL);
}

static void
notify_touch(const char *path)
{
	enqueue(I_TOUCH, path, NULL, NULL);
}

/* Run fn(arg) on the notifier thread after everything queued before it. */
void
notify_call(void (*fn)(void *), void *arg)
{
	enqueue(I_CALL, NULL, fn, arg);
}

void
notify_in_handler(bool on)
{
	in_handler = on;
}

/*
 * A container's `state` keeps its attributes in the kernel (ops.c,
 * attr_timeout_of), so that an open needs no GETATTR.  Its size changes with
 * it: drop them here, before the change is announced or any `wait` returns,
 * so that the next open asks again (sendfile and splice read up to the size
 * the kernel holds).  Attributes only (offset -1): the kernel takes no page
 * lock and does not wait, so this is safe from any thread, handlers too.
 */
static void
state_attrs_changed(struct fsd *fs, const char *id)
{
	uint64_t serial;

	if (!container_visible(fs, id, &serial))
		return;
	/* Under inval_lock: notify_quiesce waits for it before the session goes. */
	pthread_mutex_lock(&inval_lock);
	/* It fails (ENOENT) when the kernel holds no such inode: then nothing is cached. */
	if (!atomic_load(&quiesced) && fs->se)
		(void)fuse_lowlevel_notify_inval_inode(fs->se, ino_make(N_CTR_STATE, serial), -1,
						       0);
	pthread_mutex_unlock(&inval_lock);
}

/*
 * Engine change callback: turn object changes into VFS operations on the
 * tree.  A new object stays hidden (unannounced.c) until the notifier's mkdir
 * has announced it, so that watchers see IN_CREATE before anyone can use it.
 */
void
notify_watch(void *arg, enum bk_obj_kind kind, const char *id, enum bk_change change)
{
	struct fsd *fs = arg;
	const char *dir = obj_dir_of(kind);
	char path[OBJ_PATH_SIZE + 16], index[32];

	if (kind == BK_OBJ_EXEC) {
		exec_wake(id);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, id);
	snprintf(index, sizeof(index), "%s/index", dir);
	switch (change) {
	case BK_CHANGE_CREATED:
		if (!in_handler) {
			unannounced_add(path);
			notify_mkdir(path);
		}
		notify_touch(index);
		break;
	case BK_CHANGE_REMOVED:
		errlog_forget_obj(path);
		if (!in_handler)
			notify_rmdir(path);
		notify_touch(index);
		if (kind == BK_OBJ_CONTAINER)
			waitq_wake(id, true);
		break;
	case BK_CHANGE_STATE:
		snprintf(path, sizeof(path), "%s/%s/state", dir, id);
		if (kind == BK_OBJ_CONTAINER)
			state_attrs_changed(fs, id);
		notify_touch(path);
		if (kind == BK_OBJ_CONTAINER) {
			waitq_wake(id, false);
			out_wake(id); /* a stopped container's stream ends */
		} else if (kind == BK_OBJ_IMAGE) {
			notify_touch(index); /* a pulled image's source changes with it */
			errlog_note_broken(fs, kind, id);
		}
		break;
	case BK_CHANGE_UPDATED:
		break;
	case BK_CHANGE_OUTPUT:
		out_wake(id);
		break;
	}
}

void
notify_event(void *arg, enum bk_obj_kind kind, const char *id, const char *action,
	     const char *attrs)
{
	(void)arg;
	events_push(kind == BK_OBJ_IMAGE    ? "image"
		    : kind == BK_OBJ_VOLUME ? "volume"
					    : "container",
		    id, action, attrs);
}

/* One item; the VFS work is done by the toucher process (toucher.c).  True if it asked it. */
static bool
run_item(bool touch, struct item *it)
{
	char op = it->op == I_MKDIR ? 'M' : it->op == I_RMDIR ? 'R' : 'T';
	int e;

	if (it->op == I_CALL) {
		it->fn(it->arg);
		return false;
	}
	if (touch && (e = toucher_do(op, it->path)) != 0)
		bk_log(BK_LOG_DEBUG, "notify %c %s: %s", op, it->path, strerror(e));
	if (it->op == I_MKDIR)
		unannounced_drop(it->path);
	return touch;
}

static void *
notifier_main(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&lock);
	for (;;) {
		struct item *batch;
		bool touch = false, touched = false;

		while (head == NULL && !stopping)
			pthread_cond_wait(&cond, &lock);
		if (head == NULL && stopping)
			break;
		batch = head;
		head = NULL;
		tail = &head;
		busy = true;
		pthread_mutex_unlock(&lock);

		/*
		 * The toucher opens the mount root at the batch's first operation
		 * and closes it at its end ('E'): never kept, since an open fd on
		 * the mount would make `fusermount3 -u` fail with EBUSY.  Once
		 * quiesced, the loop no longer serves requests, so only callbacks
		 * run.
		 */
		touch = !atomic_load(&quiesced);
		while (batch) {
			struct item *it = batch;

			batch = it->next;
			touched |= run_item(touch && !atomic_load(&quiesced), it);
			free(it->path);
			free(it);
		}
		if (touched && toucher_do('E', NULL) != 0)
			bk_log(BK_LOG_DEBUG, "notify: end of batch: the toucher is gone");
		pthread_mutex_lock(&lock);
		busy = false;
		pthread_cond_broadcast(&cond);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

/*
 * The FUSE loop has ended: from now on run callbacks only, never touch the
 * mount, and send the kernel no more invalidations (the session is destroyed
 * next, while engine threads may still report changes).
 */
void
notify_quiesce(void)
{
	pthread_mutex_lock(&inval_lock);
	atomic_store(&quiesced, true);
	pthread_mutex_unlock(&inval_lock);
	/* A VFS operation in flight would wait for the loop forever (and notify_stop for it). */
	toucher_kill();
}

int
notify_start(struct fsd *fs)
{
	int ret;

	ret = toucher_start(fs->mountpoint, fs->under_dev);
	if (ret < 0)
		return ret;
	ret = pthread_create(&thread, NULL, notifier_main, NULL);
	if (ret != 0) {
		toucher_stop();
		return -ret;
	}
	running = true;
	return 0;
}

/*
 * Finish queued callbacks (replies), skip queued VFS work, and join.  False
 * if the thread is still stuck after timeout_ms (a VFS operation on a mount
 * no longer served): the caller must then not free what callbacks use.
 */
bool
notify_stop(int timeout_ms)
{
	struct timespec deadline;
	int ret = 0;

	if (!running)
		return true;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_cond_broadcast(&cond);
	while ((head != NULL || busy) && ret == 0)
		ret = pthread_cond_timedwait(&cond, &lock, &deadline);
	pthread_mutex_unlock(&lock);
	if (ret != 0)
		return false;
	pthread_join(thread, NULL);
	toucher_stop();
	running = false;
	return true;
}
