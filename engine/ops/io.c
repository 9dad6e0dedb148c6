/*
 * A container's command's input and output while it runs: what is written
 * to its `in` file (a pipe to its stdin, docker -i, or its terminal, -t),
 * its terminal's size, and the stream of its output as it comes (logs -f).
 *
 * The init owns the log, so output never waits for the daemon; readers of
 * the stream read the log file, and learn that it grew through one inotify
 * watch on the container's directory while anyone follows it (the monitor
 * thread reads the inotify fd).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ops/ops.h"
#include "base/base.h"

ssize_t
bk_container_write_input(struct bk_engine *e, uint64_t serial, const char *buf, size_t len,
			 struct bk_err *err)
{
	cleanup_close int fd = -1;
	struct container *c;
	char id[BK_ID_SIZE] = "";
	ssize_t ret = 0;

	pthread_mutex_lock(&e->model.lock);
	c = container_find_locked(&e->model, NULL, serial);
	if (c == NULL)
		ret = bk_err_set(err, ENOENT, "no such container");
	else if (!c->tty && !c->stdin_open)
		ret = bk_err_set(err, EPIPE,
				 "container %s has no input: write 1 to its stdin or tty "
				 "before it starts",
				 c->id);
	else if (c->state != BK_CTR_RUNNING)
		ret = bk_err_set(err, EPIPE, "container %s is not running", c->id);
	else if (c->input_fd < 0)
		ret = bk_err_set(err, EPIPE, "container %s: its input was closed", c->id);
	else if ((fd = fcntl(c->input_fd, F_DUPFD_CLOEXEC, 3)) < 0)
		ret = bk_err_sys(err, "container %s: input", c->id);
	if (c)
		snprintf(id, sizeof(id), "%s", c->id);
	pthread_mutex_unlock(&e->model.lock);
	if (ret == 0 && (ret = input_write(fd, buf, len)) < 0)
		ret =
		    bk_err_set(err, (int)-ret, "container %s: input: %s", id, strerror((int)-ret));
	return ret;
}

void
bk_container_close_input(struct bk_engine *e, uint64_t serial)
{
	struct container *c;

	pthread_mutex_lock(&e->model.lock);
	c = container_find_locked(&e->model, NULL, serial);
	/* A pipe's last writer: the command reads EOF.  A terminal stays (it has no EOF to give).
	 */
	if (c && !c->tty && c->input_fd >= 0) {
		close(c->input_fd);
		c->input_fd = -1;
	}
	pthread_mutex_unlock(&e->model.lock);
}

int
bk_container_resize(struct bk_engine *e, const char *id, int cols, int rows, struct bk_err *err)
{
	struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
	struct container *c;
	int ret = 0;

	pthread_mutex_lock(&e->model.lock);
	c = container_find_locked(&e->model, id, 0);
	if (c == NULL)
		ret = bk_err_set(err, ENOENT, "no container '%s'", id);
	else if (!c->tty)
		ret = bk_err_set(err, ENOTTY, "container %s has no terminal (tty 0)", id);
	else if (c->state != BK_CTR_RUNNING || c->input_fd < 0)
		ret = bk_err_set(err, ESRCH, "container %s is not running", id);
	else if (ioctl(c->input_fd, TIOCSWINSZ, &ws) < 0)
		ret = bk_err_sys(err, "container %s: resize", id);
	pthread_mutex_unlock(&e->model.lock);
	return ret;
}

/*
 * After a daemon restart: a running container's terminal, taken again from
 * its init (lock held).  Its stdin pipe cannot be: only the daemon held its
 * write end, and the old daemon's went with it (the command read EOF).
 */
void
io_adopt_locked(struct bk_engine *e, struct container *c)
{
	(void)e;
	if (!c->tty || c->input_fdno < 0 || c->pidfd < 0 || c->input_fd >= 0)
		return;
	c->input_fd = pidfd_getfd(c->pidfd, c->input_fdno, 0);
	if (c->input_fd < 0)
		bk_log(BK_LOG_WARN, "container %s: its terminal: %s", c->id, strerror(errno));
}

/* ---- the output stream ------------------------------------------------------------------ */

int
bk_container_follow(struct bk_engine *e, uint64_t serial, bool on)
{
	struct container *c;
	char path[PATH_MAX];
	int ret = 0;

	pthread_mutex_lock(&e->model.lock);
	c = container_find_locked(&e->model, NULL, serial);
	if (c == NULL || e->monitor.inotify_fd < 0) {
		pthread_mutex_unlock(&e->model.lock);
		return -ENOENT;
	}
	if (on && c->followers++ == 0) {
		/* The directory, not the file: a rotation makes a new log there. */
		snprintf(path, sizeof(path), "%s/containers/%s", e->store.path, c->id);
		c->log_wd = inotify_add_watch(e->monitor.inotify_fd, path,
					      IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_ONLYDIR);
		if (c->log_wd < 0)
			ret = -errno;
	} else if (!on && c->followers > 0 && --c->followers == 0 && c->log_wd >= 0) {
		inotify_rm_watch(e->monitor.inotify_fd, c->log_wd);
		c->log_wd = -1;
	}
	pthread_mutex_unlock(&e->model.lock);
	return ret;
}

/* Monitor thread: the inotify fd is readable; tell the stream's readers whose log grew. */
void
io_log_events(struct bk_engine *e)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	char grew[16][BK_ID_SIZE];
	size_t ngrew = 0, i;
	ssize_t n;

	while ((n = read(e->monitor.inotify_fd, buf, sizeof(buf))) > 0) {
		char *p;

		pthread_mutex_lock(&e->model.lock);
		for (p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;

			p += sizeof(*ev) + ev->len;
			if (ev->len == 0 || strcmp(ev->name, "log") != 0)
				continue;
			for (i = 0; i < e->model.nctrs; i++)
				if (e->model.ctrs[i]->log_wd == ev->wd &&
				    ngrew < ARRAY_SIZE(grew)) {
					snprintf(grew[ngrew++], BK_ID_SIZE, "%s",
						 e->model.ctrs[i]->id);
					break;
				}
		}
		pthread_mutex_unlock(&e->model.lock);
	}
	for (i = 0; i < ngrew; i++)
		events_notify(&e->model.ev, BK_OBJ_CONTAINER, grew[i], BK_CHANGE_OUTPUT);
}

/*
 * Bytes of the output stream from off: the log as the reader's pos knows
 * it.  When the log has been rotated since, the rest of the old one
 * (log.1) comes first, then the new one from its start.
 */
ssize_t
bk_container_out_read(struct bk_engine *e, uint64_t serial, struct bk_out_pos *pos, uint64_t off,
		      char *buf, size_t size)
{
	char dir[BK_ID_SIZE];
	cleanup_close int dfd = -1, fd = -1;
	enum bk_ctr_state state;
	struct stat st;
	ssize_t n;

	if (container_id_of(&e->model, serial, dir) < 0 ||
	    container_state_of(&e->model, serial, &state) < 0)
		return -ENOENT;
	dfd = openat(e->store.containers_fd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -ENOENT;
	fd = openat(dfd, "log", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		if (pos->ino == 0)
			pos->ino = st.st_ino;
		if (st.st_ino != pos->ino) {
			/* Rotated: the old file's rest first (it is log.1 now), then the new one.
			 */
			cleanup_close int old =
			    openat(dfd, "log.1", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
			struct stat ost;

			if (old >= 0 && fstat(old, &ost) == 0 && ost.st_ino == pos->ino &&
			    off - pos->base < (uint64_t)ost.st_size)
				return pread(old, buf, size, (off_t)(off - pos->base));
			pos->ino = st.st_ino;
			pos->base = off;
		}
		n = pread(fd, buf, size, (off_t)(off - pos->base));
		if (n != 0)
			return n < 0 ? -errno : n;
	}
	/* Nothing more now: the end once the command has stopped, else wait. */
	return state == BK_CTR_RUNNING || state == BK_CTR_CREATED ? -EAGAIN : 0;
}
