/*
 * The monitor thread: one epoll over the pidfds of running containers'
 * inits.  A pidfd becomes readable when its process exits, whether the
 * daemon started it or adopted it after a restart, so no SIGCHLD handler
 * and no waitpid(-1) (which would steal other children) are needed.
 */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/wait.h>

#include "ops/ops.h"
#include "base/base.h"

#define WAKE_TAG    UINT64_MAX
#define INOTIFY_TAG (UINT64_MAX - 1)
#define FOREIGN_TAG (UINT64_MAX - 2) /* bockerfs-runtime's entries (foreign.c) */

int
monitor_add(struct bk_engine *e, struct container *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = c->serial };

	if (epoll_ctl(e->monitor.epfd, EPOLL_CTL_ADD, c->pidfd, &ev) < 0)
		return -errno;
	return 0;
}

static void
handle_exit(struct bk_engine *e, uint64_t serial, uint32_t events)
{
	struct container *c;
	siginfo_t si;
	int code = 0, status = 0;

	pthread_mutex_lock(&e->model.lock);
	c = container_find_locked(&e->model, NULL, serial);
	if (c && c->foreign) {
		pthread_mutex_unlock(&e->model.lock);
		foreign_init_event(e, serial, events);
		return;
	}
	if (c == NULL || c->pidfd < 0 || c->state != BK_CTR_RUNNING) {
		pthread_mutex_unlock(&e->model.lock);
		return;
	}
	epoll_ctl(e->monitor.epfd, EPOLL_CTL_DEL, c->pidfd, NULL);
	memset(&si, 0, sizeof(si));
	/* Reaps our own children; an adopted init is reaped by its parent (ECHILD). */
	if (waitid(P_PIDFD, (id_t)c->pidfd, &si, WEXITED | WNOHANG) == 0 && si.si_pid != 0) {
		code = si.si_code;
		status = si.si_status;
	}
	pthread_mutex_unlock(&e->model.lock);
	/* c stays alive: removal waits for this state change under the lock. */
	container_exited(e, c, code, status);
}

static void *
monitor_main(void *arg)
{
	struct bk_engine *e = arg;
	struct epoll_event evs[32];

	for (;;) {
		/* Exits awaiting their caller's reap are told by a deadline too. */
		bool waiting = foreign_waiting(e);
		int n = epoll_wait(e->monitor.epfd, evs, ARRAY_SIZE(evs), waiting ? 50 : -1);
		int i;

		if (waiting)
			foreign_tick(e);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			bk_log(BK_LOG_ERROR, "monitor: epoll_wait: %s", strerror(errno));
			return NULL;
		}
		for (i = 0; i < n; i++) {
			if (evs[i].data.u64 == WAKE_TAG)
				return NULL;
			if (evs[i].data.u64 == INOTIFY_TAG) {
				io_log_events(e);
				continue;
			}
			if (evs[i].data.u64 == FOREIGN_TAG) {
				foreign_entries_changed(e);
				continue;
			}
			if (evs[i].data.u64 & EXEC_TAG_MASK)
				exec_event(e, evs[i].data.u64);
			else
				handle_exit(e, evs[i].data.u64, evs[i].events);
		}
	}
}

int
monitor_start(struct bk_engine *e, struct bk_err *err)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = WAKE_TAG };
	size_t i;
	int ret;

	e->monitor.epfd = epoll_create1(EPOLL_CLOEXEC);
	if (e->monitor.epfd < 0)
		return bk_err_sys(err, "monitor: epoll_create1");
	e->monitor.wakefd = eventfd(0, EFD_CLOEXEC);
	if (e->monitor.wakefd < 0)
		return bk_err_sys(err, "monitor: eventfd");
	if (epoll_ctl(e->monitor.epfd, EPOLL_CTL_ADD, e->monitor.wakefd, &ev) < 0)
		return bk_err_sys(err, "monitor: epoll_ctl");
	e->monitor.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	ev.data.u64 = INOTIFY_TAG;
	if (e->monitor.inotify_fd < 0 ||
	    epoll_ctl(e->monitor.epfd, EPOLL_CTL_ADD, e->monitor.inotify_fd, &ev) < 0)
		return bk_err_sys(err, "monitor: inotify");
	ev.data.u64 = FOREIGN_TAG;
	if (e->foreign.inotify_fd >= 0 &&
	    epoll_ctl(e->monitor.epfd, EPOLL_CTL_ADD, e->foreign.inotify_fd, &ev) < 0)
		return bk_err_sys(err, "monitor: inotify");
	pthread_mutex_lock(&e->model.lock);
	/* A runtime's created container has an init too (waiting for its start). */
	for (i = 0; i < e->model.nctrs; i++)
		if (e->model.ctrs[i]->pidfd >= 0 &&
		    (e->model.ctrs[i]->state == BK_CTR_RUNNING ||
		     (e->model.ctrs[i]->foreign && e->model.ctrs[i]->state == BK_CTR_CREATED)) &&
		    (ret = monitor_add(e, e->model.ctrs[i])) < 0) {
			pthread_mutex_unlock(&e->model.lock);
			return bk_err_set(err, -ret, "monitor: watch container %s: %s",
					  e->model.ctrs[i]->id, strerror(-ret));
		}
	pthread_mutex_unlock(&e->model.lock);
	ret = pthread_create(&e->monitor.thread, NULL, monitor_main, e);
	if (ret != 0)
		return bk_err_set(err, ret, "monitor: cannot start its thread");
	e->monitor.running = true;
	return 0;
}

void
monitor_stop(struct bk_engine *e)
{
	uint64_t one = 1;

	if (e->monitor.running) {
		if (write(e->monitor.wakefd, &one, sizeof(one)) < 0)
			bk_log(BK_LOG_WARN, "monitor: wake: %s", strerror(errno));
		pthread_join(e->monitor.thread, NULL);
		e->monitor.running = false;
	}
	if (e->monitor.epfd >= 0)
		close(e->monitor.epfd);
	if (e->monitor.wakefd >= 0)
		close(e->monitor.wakefd);
	if (e->monitor.inotify_fd >= 0)
		close(e->monitor.inotify_fd);
	e->monitor.epfd = e->monitor.wakefd = e->monitor.inotify_fd = -1;
}
