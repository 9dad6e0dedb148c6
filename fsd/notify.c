/*
 * The notifier thread: the one thread that does file operations on our own
 * mount, so that inotify watchers see changes the daemon makes by itself.
 *
 * FUSE raises no inotify event for notify_inval_* or notify_store; only real
 * VFS operations do (../shared/research/feasibility.md section 1).  So a new
 * image is announced by a VFS mkdir of images/<id> (IN_CREATE), and a changed
 * index by a one-byte write to it (IN_MODIFY, IN_CLOSE_WRITE).  The handlers
 * recognise these requests by the notifier's thread id and only acknowledge
 * them.  Handlers never do this themselves: a handler touching its own mount
 * deadlocks on the inode it is serving.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <stdatomic.h>
#include <unistd.h>

#include "fsd.h"

#define FUSE_SUPER_MAGIC 0x65735546

enum item_op { I_MKDIR, I_RMDIR, I_TOUCH, I_CALL };

struct item {
	enum item_op op;
	char *path; /* relative to the mount root */
	void (*fn)(void *);
	void *arg;
	struct item *next;
};

struct pending {
	char path[BK_ID_SIZE + 48]; /* "images/ID", "containers/ID" */
	struct pending *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct item *head, **tail = &head; /* protected by lock */
static struct pending *pending;		  /* protected by lock: created, not yet announced */
static bool stopping, running, busy;	  /* protected by lock */
static atomic_bool quiesced; /* the loop no longer serves: skip VFS work */
static pthread_t thread;
static pid_t self_tid;
static struct fsd *fsd;

/* Set while a handler itself makes or removes an object: the kernel reports that one. */
static __thread bool in_handler;

bool
notify_is_self(fuse_req_t req)
{
	return self_tid != 0 && fuse_req_ctx(req)->pid == self_tid;
}

static void
enqueue(enum item_op op, const char *path, void (*fn)(void *), void *arg)
{
	struct item *it = calloc(1, sizeof(*it));

	if (it == NULL || (path && (it->path = strdup(path)) == NULL))
		abort();
	it->op = op;
	it->fn = fn;
	it->arg = arg;
	pthread_mutex_lock(&lock);
	*tail = it;
	tail = &it->next;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
}

void
notify_mkdir(const char *path)
{
	enqueue(I_MKDIR, path, NULL, NULL);
}

void
notify_rmdir(const char *path)
{
	enqueue(I_RMDIR, path, NULL, NULL);
}

void
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

bool
notify_pending(const char *path)
{
	struct pending *p;
	bool found = false;

	pthread_mutex_lock(&lock);
	for (p = pending; p && !found; p = p->next)
		found = strcmp(p->path, path) == 0;
	pthread_mutex_unlock(&lock);
	return found;
}

static void
pending_add(const char *path)
{
	struct pending *p = calloc(1, sizeof(*p));

	if (p == NULL)
		abort();
	snprintf(p->path, sizeof(p->path), "%s", path);
	pthread_mutex_lock(&lock);
	p->next = pending;
	pending = p;
	pthread_mutex_unlock(&lock);
}

static void
pending_drop(const char *path)
{
	struct pending **pp, *p;

	pthread_mutex_lock(&lock);
	for (pp = &pending; (p = *pp) != NULL; pp = &p->next)
		if (strcmp(p->path, path) == 0) {
			*pp = p->next;
			free(p);
			break;
		}
	pthread_mutex_unlock(&lock);
}

void
notify_in_handler(bool on)
{
	in_handler = on;
}

/*
 * Engine change callback: turn object changes into VFS operations on the
 * tree.  A new object stays hidden (pending) until the notifier's mkdir has
 * announced it, so that watchers see IN_CREATE before anyone can use it.
 */
void
notify_watch(void *arg, enum bk_obj_kind kind, const char *id, enum bk_change change)
{
	struct fsd *fs = arg;
	const char *dir = kind == BK_OBJ_IMAGE ? "images" : "containers";
	char path[BK_ID_SIZE + 32], index[32];

	if (kind == BK_OBJ_EXEC) {
		exec_wake(fs, id);
		return;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, id);
	snprintf(index, sizeof(index), "%s/index", dir);
	switch (change) {
	case BK_CHANGE_CREATED:
		if (!in_handler) {
			pending_add(path);
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
			waitq_wake(fs, id, true);
		break;
	case BK_CHANGE_STATE:
		snprintf(path, sizeof(path), "%s/%s/state", dir, id);
		notify_touch(path);
		if (kind == BK_OBJ_CONTAINER)
			waitq_wake(fs, id, false);
		else
			notify_touch(index); /* a pulled image's source changes with it */
		break;
	case BK_CHANGE_UPDATED:
		break;
	}
}

void
notify_event(void *arg, enum bk_obj_kind kind, const char *id, const char *action,
	     const char *attrs)
{
	(void)arg;
	events_push(kind == BK_OBJ_IMAGE ? "image" : "container", id, action, attrs);
}

/* The mount root, checked to be our FUSE mount and not the directory under it. */
static int
open_root(void)
{
	struct statfs sf;
	struct stat st;
	int fd = open(fsd->mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstatfs(fd, &sf) < 0 || sf.f_type != FUSE_SUPER_MAGIC || fstat(fd, &st) < 0 ||
	    st.st_dev == fsd->under_dev) {
		close(fd);
		errno = ENODEV;
		return -1;
	}
	return fd;
}

static void
run_item(int root_fd, struct item *it)
{
	int fd;

	switch (it->op) {
	case I_MKDIR:
		if (root_fd >= 0 && mkdirat(root_fd, it->path, 0700) < 0 && errno != EEXIST)
			bk_log(BK_LOG_DEBUG, "notify mkdir %s: %s", it->path, strerror(errno));
		pending_drop(it->path);
		break;
	case I_RMDIR:
		if (root_fd >= 0 && unlinkat(root_fd, it->path, AT_REMOVEDIR) < 0 &&
		    errno != ENOENT)
			bk_log(BK_LOG_DEBUG, "notify rmdir %s: %s", it->path, strerror(errno));
		break;
	case I_TOUCH:
		if (root_fd < 0)
			break;
		fd = openat(root_fd, it->path, O_WRONLY | O_CLOEXEC);
		if (fd >= 0) {
			/* A write with data: IN_MODIFY; the close: IN_CLOSE_WRITE. */
			if (write(fd, "\n", 1) < 0)
				bk_log(BK_LOG_DEBUG, "notify touch %s: %s", it->path,
				       strerror(errno));
			close(fd);
		}
		break;
	case I_CALL:
		it->fn(it->arg);
		break;
	}
}

static void *
notifier_main(void *unused)
{
	(void)unused;
	self_tid = (pid_t)syscall(SYS_gettid);
	pthread_mutex_lock(&lock);
	for (;;) {
		struct item *batch;
		int root_fd = -1;

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
		 * Opened per batch, never kept: an open fd on the mount would make
		 * `fusermount3 -u` fail with EBUSY.  Once quiesced, the loop no
		 * longer serves requests, so only callbacks run.
		 */
		if (!atomic_load(&quiesced))
			root_fd = open_root();
		while (batch) {
			struct item *it = batch;

			batch = it->next;
			run_item(atomic_load(&quiesced) ? -1 : root_fd, it);
			free(it->path);
			free(it);
		}
		if (root_fd >= 0)
			close(root_fd);
		pthread_mutex_lock(&lock);
		busy = false;
		pthread_cond_broadcast(&cond);
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* The FUSE loop has ended: from now on run callbacks only, never touch the mount. */
void
notify_quiesce(void)
{
	atomic_store(&quiesced, true);
}

int
notify_start(struct fsd *fs)
{
	int ret;

	fsd = fs;
	ret = pthread_create(&thread, NULL, notifier_main, NULL);
	if (ret != 0)
		return -ret;
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
	running = false;
	return true;
}
