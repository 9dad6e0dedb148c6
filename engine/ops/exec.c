/*
 * Exec sessions: another command run inside a running container, in all its
 * namespaces and its cgroup, with its user, environment and capabilities
 * (never more than the container's own command has).
 *
 * The daemon starts `bockerfs-init --exec` (engine/init/exec.c) with the
 * session's pipes as its stdio and the container init's pidfd; the helper
 * enters the namespaces and runs the command as its child.  The monitor
 * thread collects the output into the session's buffer and learns the exit
 * status from the helper's socket; readers are told through the watch
 * callback (kind BK_OBJ_EXEC, id "CTR/N").
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "ops/ops.h"
#include "base/base.h"

#define OUT_MAX       (16u << 20) /* output kept per session; the pipe waits beyond */
#define EXEC_KEEP_SEC 600         /* a finished session nobody waited for is freed after */

struct exec_session {
	uint64_t uid; /* engine-wide, tags its fds in the monitor's epoll */
	char ctr_id[BK_ID_SIZE];
	int n;
	bool started, done;
	bool tty; /* `tty` before `exec`: the command gets a terminal (exec -t) */
	pid_t pid;
	int pidfd, sync_fd, out_fd, in_fd;
	char *out;
	size_t out_len;
	bool out_eof;
	char status[32]; /* "exit N" / "signal N" */
	time_t done_at;
	struct exec_session *next;
};

static struct exec_session *
find_locked(struct bk_engine *e, const char *ctr_id, int n)
{
	struct exec_session *s;

	for (s = e->execs.list; s; s = s->next)
		if (s->n == n && strcmp(s->ctr_id, ctr_id) == 0)
			return s;
	return NULL;
}

static void
session_close_fds(struct bk_engine *e, struct exec_session *s)
{
	int *fds[] = { &s->pidfd, &s->sync_fd, &s->out_fd, &s->in_fd };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fds); i++)
		if (*fds[i] >= 0) {
			epoll_ctl(e->monitor.epfd, EPOLL_CTL_DEL, *fds[i], NULL);
			close(*fds[i]);
			*fds[i] = -1;
		}
}

static void
session_free(struct bk_engine *e, struct exec_session *s)
{
	session_close_fds(e, s);
	free(s->out);
	free(s);
}

static void
notify(struct bk_engine *e, const char *ctr_id, int n)
{
	char id[BK_ID_SIZE + 16];

	snprintf(id, sizeof(id), "%s/%d", ctr_id, n);
	events_notify(&e->model.ev, BK_OBJ_EXEC, id, BK_CHANGE_UPDATED);
}

/* Finished sessions nobody collected (lock held). */
static void
expire_locked(struct bk_engine *e)
{
	struct exec_session **pp = &e->execs.list, *s;
	time_t now = time(NULL);

	while ((s = *pp) != NULL) {
		if (s->done && now - s->done_at > EXEC_KEEP_SEC) {
			*pp = s->next;
			session_free(e, s);
			continue;
		}
		pp = &s->next;
	}
}

int
bk_exec_new(struct bk_engine *e, const char *ctr_id, int *n, struct bk_err *err)
{
	struct exec_session *s;
	struct container *c;
	int next = 1;

	pthread_mutex_lock(&e->model.lock);
	expire_locked(e);
	c = container_find_locked(&e->model, ctr_id, 0);
	if (c == NULL || c->broken || c->foreign) {
		int ret = c ? container_changeable(c, "exec", err)
			    : bk_err_set(err, ENOENT, "no container '%s'", ctr_id);

		pthread_mutex_unlock(&e->model.lock);
		return ret;
	}
	for (s = e->execs.list; s; s = s->next)
		if (strcmp(s->ctr_id, ctr_id) == 0 && s->n >= next)
			next = s->n + 1;
	s = xcalloc(1, sizeof(*s));
	s->uid = e->execs.next_uid++;
	snprintf(s->ctr_id, sizeof(s->ctr_id), "%s", ctr_id);
	s->n = next;
	s->pidfd = s->sync_fd = s->out_fd = s->in_fd = -1;
	s->next = e->execs.list;
	e->execs.list = s;
	pthread_mutex_unlock(&e->model.lock);
	*n = next;
	return 0;
}

/* Numbers of ctr_id's sessions; caller frees. */
size_t
bk_exec_list(struct bk_engine *e, const char *ctr_id, int **out)
{
	struct exec_session *s;
	size_t n = 0;

	pthread_mutex_lock(&e->model.lock);
	for (s = e->execs.list; s; s = s->next)
		if (strcmp(s->ctr_id, ctr_id) == 0)
			n++;
	*out = xcalloc(n + 1, sizeof(int));
	n = 0;
	for (s = e->execs.list; s; s = s->next)
		if (strcmp(s->ctr_id, ctr_id) == 0)
			(*out)[n++] = s->n;
	pthread_mutex_unlock(&e->model.lock);
	return n;
}

bool
bk_exec_exists(struct bk_engine *e, const char *ctr_id, int n)
{
	bool found;

	pthread_mutex_lock(&e->model.lock);
	found = find_locked(e, ctr_id, n) != NULL;
	pthread_mutex_unlock(&e->model.lock);
	return found;
}

/* What exec_plan needs of the container, copied under the lock. */
struct exec_ctr {
	char id[BK_ID_SIZE];
	char image_id[BK_ID_SIZE];
	char **env;
	size_t nenv;
	char *user, *workdir; /* the container's own (docker run -u, -w), NULL: the image's */
	int init_pidfd;       /* a dup of the init's pidfd */
	bool tty;             /* the session's */
};

static void
exec_ctr_free(struct exec_ctr *x)
{
	size_t i;

	for (i = 0; i < x->nenv; i++)
		free(x->env[i]);
	free(x->env);
	free(x->user);
	free(x->workdir);
	if (x->init_pidfd >= 0)
		close(x->init_pidfd);
}

/* What the helper needs: the container's user, directory, environment, caps. */
static int
exec_plan(struct bk_engine *e, const struct exec_ctr *c, const char *cmd, int *plan_fd,
	  struct bk_err *err)
{
	cleanup_close int rootfs_fd = -1;
	cleanup(json_decrefp) json_t *config = NULL;
	char image_id[BK_ID_SIZE], home[256];
	const char *user, *workdir;
	gid_t groups[PLAN_GROUPS_MAX];
	size_t ngroups = 0, nenv = 0, i;
	uid_t uid = 0;
	gid_t gid = 0;
	char **envp;
	char *argv[] = { (char *)"/bin/sh", (char *)"-c", (char *)cmd, NULL };
	int fd;

	if (container_config(&e->model, c->id, c->image_id, image_id, &config, err) < 0)
		return -err->code;
	/* The container's own -u and -w, as docker exec takes them. */
	user = c->user
		   ? c->user
		   : json_string_value(json_object_get(json_object_get(config, "config"), "User"));
	workdir = c->workdir ? c->workdir
			     : json_string_value(json_object_get(json_object_get(config, "config"),
								 "WorkingDir"));
	{
		cleanup_free char *path = xasprintf("%s/rootfs", c->id);

		rootfs_fd =
		    openat(e->store.containers_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (rootfs_fd < 0)
		return bk_err_sys(err, "container %s: rootfs", c->id);
	if (userdb_resolve(rootfs_fd, user, &uid, &gid, groups, &ngroups, home, sizeof(home), err) <
	    0)
		return -err->code;
	envp = process_env(config, c->env, c->nenv, c->id, home, c->tty, &nenv);
	/*
	 * rootfs and hostname are the init's; the helper ignores them.  The
	 * container's own filter: a session gets no more than the container's
	 * command.
	 */
	fd = plan_memfd(&(struct plan_req){ .rootfs_path = "/",
					    .hostname = c->id,
					    .argv = argv,
					    .envp = envp,
					    .cwd = workdir && *workdir ? workdir : "/",
					    .uid = uid,
					    .gid = gid,
					    .groups = groups,
					    .ngroups = ngroups,
					    .caps = default_cap_mask(),
					    .tty = c->tty,
					    .seccomp = e->procs.seccomp_hex },
			err);
	for (i = 0; i < nenv; i++)
		free(envp[i]);
	free(envp);
	if (fd < 0)
		return fd;
	*plan_fd = fd;
	return 0;
}

static int
spawn_helper(struct bk_engine *e, int init_pidfd, int plan_fd, struct exec_session *s,
	     struct bk_err *err)
{
	cleanup_close int in_r = -1, out_w = -1, child_sync = -1;
	char a2[16], a3[16], a4[16];
	char *argv[] = { (char *)"bockerfs-init", (char *)"--exec", a2, a3, a4, NULL };
	int in[2], out[2], sv[2], keep[3], pidfd = -1, pid;

	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		return bk_err_sys(err, "exec: pipes");
	in_r = in[0];
	s->in_fd = in[1];
	s->out_fd = out[0];
	out_w = out[1];
	/* Writers should not wait on a small pipe while the command reads slowly. */
	fcntl(s->in_fd, F_SETPIPE_SZ, 1 << 20);
	fcntl(s->out_fd, F_SETFL, O_NONBLOCK);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return bk_err_sys(err, "exec: socketpair");
	s->sync_fd = sv[0];
	child_sync = sv[1];
	snprintf(a2, sizeof(a2), "%d", plan_fd);
	snprintf(a3, sizeof(a3), "%d", child_sync);
	snprintf(a4, sizeof(a4), "%d", init_pidfd);
	keep[0] = plan_fd;
	keep[1] = child_sync;
	keep[2] = init_pidfd;
	pid = clone_init_proc(&e->procs, 0, argv, in_r, out_w, keep, 3, false, &pidfd, err);
	if (pid < 0)
		return bk_err_wrap(err, "exec");
	s->pid = (pid_t)pid;
	s->pidfd = pidfd;
	return 0;
}

static int
await_ok(struct exec_session *s, struct bk_err *err)
{
	struct init_input input;
	int ret = init_answer(s->sync_fd, 30000, "exec: the helper", &input, err);

	/* exec -t: the terminal's master is the session's output and input, not the pipes. */
	if (ret == 0 && input.fd >= 0) {
		close(s->out_fd);
		close(s->in_fd);
		s->out_fd = input.fd; /* non-blocking, as the helper opened it */
		s->in_fd = fcntl(input.fd, F_DUPFD_CLOEXEC, 3);
	}
	return ret;
}

static void
watch_fd(struct bk_engine *e, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	epoll_ctl(e->monitor.epfd, EPOLL_CTL_ADD, fd, &ev);
}

int
bk_exec_start(struct bk_engine *e, const char *ctr_id, int n, const char *cmd, struct bk_err *err)
{
	struct exec_ctr x = { .init_pidfd = -1 };
	struct exec_session run = { .pidfd = -1, .sync_fd = -1, .out_fd = -1, .in_fd = -1 };
	struct exec_session *s;
	struct container *c;
	int plan_fd = -1, ret = 0;
	size_t i;

	/* Claim the session and copy what is needed; nothing slow under the lock. */
	pthread_mutex_lock(&e->model.lock);
	s = find_locked(e, ctr_id, n);
	c = container_find_locked(&e->model, ctr_id, 0);
	if (s == NULL || c == NULL)
		ret = bk_err_set(err, ENOENT, "no exec session %d of '%s'", n, ctr_id);
	else if (s->started)
		ret = bk_err_set(err, EBUSY, "exec session %d has already run a command", n);
	else if (c->state != BK_CTR_RUNNING || c->pidfd < 0)
		ret = bk_err_set(err, ESRCH, "container %s is not running", ctr_id);
	if (ret == 0) {
		s->started = true;
		x.tty = s->tty;
		snprintf(x.id, sizeof(x.id), "%s", c->id);
		snprintf(x.image_id, sizeof(x.image_id), "%s", c->image_id);
		x.env = xcalloc(c->nenv + 1, sizeof(char *));
		for (i = 0; i < c->nenv; i++)
			x.env[i] = xstrdup(c->env[i]);
		x.nenv = c->nenv;
		x.user = c->user ? xstrdup(c->user) : NULL;
		x.workdir = c->workdir ? xstrdup(c->workdir) : NULL;
		x.init_pidfd = fcntl(c->pidfd, F_DUPFD_CLOEXEC, 3);
		if (x.init_pidfd < 0)
			ret = bk_err_sys(err, "exec: dup the container's pidfd");
	}
	pthread_mutex_unlock(&e->model.lock);

	if (ret == 0)
		ret = exec_plan(e, &x, cmd, &plan_fd, err);
	if (ret == 0)
		ret = spawn_helper(e, x.init_pidfd, plan_fd, &run, err);
	if (ret == 0 && e->procs.cg.ready)
		ret = cgroup_join(&e->procs.cg, ctr_id, run.pid, err);
	if (ret == 0 && send(run.sync_fd, "go", 2, MSG_NOSIGNAL) < 0)
		ret = bk_err_sys(err, "exec: talk to the helper");
	if (ret == 0)
		ret = await_ok(&run, err);
	if (plan_fd >= 0)
		close(plan_fd);
	exec_ctr_free(&x);

	pthread_mutex_lock(&e->model.lock);
	s = find_locked(e, ctr_id, n);
	if (ret == 0 && s == NULL)
		ret = bk_err_set(err, ENOENT, "exec session %d went away", n);
	if (ret < 0) {
		if (run.pidfd >= 0) {
			siginfo_t si;

			pidfd_send_signal(run.pidfd, SIGKILL, NULL, 0);
			waitid(P_PIDFD, (id_t)run.pidfd, &si, WEXITED);
		}
		session_close_fds(e, &run);
		if (s) {
			s->done = true;
			s->out_eof = true;
			s->done_at = time(NULL);
			snprintf(s->status, sizeof(s->status), "exit 127");
		}
	} else {
		s->pid = run.pid;
		s->pidfd = run.pidfd;
		s->sync_fd = run.sync_fd;
		s->out_fd = run.out_fd;
		s->in_fd = run.in_fd;
		watch_fd(e, s->out_fd, EXEC_TAG_OUT | s->uid);
		watch_fd(e, s->sync_fd, EXEC_TAG_SYNC | s->uid);
		watch_fd(e, s->pidfd, EXEC_TAG_PID | s->uid);
	}
	pthread_mutex_unlock(&e->model.lock);
	notify(e, ctr_id, n);
	return ret;
}

/* Read what the command wrote so far into the session (lock held); the last read's result. */
static ssize_t
drain_output(struct exec_session *s)
{
	char buf[65536];
	ssize_t r = -1;

	while (s->out_len < OUT_MAX && (r = read(s->out_fd, buf, sizeof(buf))) > 0) {
		s->out = xrealloc(s->out, s->out_len + (size_t)r);
		memcpy(s->out + s->out_len, buf, (size_t)r);
		s->out_len += (size_t)r;
	}
	return r;
}

/* Monitor thread: one of a session's fds is ready. */
void
exec_event(struct bk_engine *e, uint64_t tag)
{
	uint64_t uid = tag & EXEC_UID_MASK;
	struct exec_session *s;
	char ctr_id[BK_ID_SIZE];
	int n;

	pthread_mutex_lock(&e->model.lock);
	for (s = e->execs.list; s && s->uid != uid; s = s->next)
		;
	if (s == NULL) {
		pthread_mutex_unlock(&e->model.lock);
		return;
	}
	if ((tag & EXEC_TAG_MASK) == EXEC_TAG_OUT && s->out_fd >= 0) {
		ssize_t r = drain_output(s);
		/* A terminal's master reads EIO once the command's side is closed: its EOF. */
		bool eof = r == 0 || (r < 0 && errno == EIO);

		if (s->out_len >= OUT_MAX || eof) {
			/* EOF (or full): stop watching; the rest stays in the pipe. */
			epoll_ctl(e->monitor.epfd, EPOLL_CTL_DEL, s->out_fd, NULL);
			if (eof) {
				close(s->out_fd);
				s->out_fd = -1;
				s->out_eof = true;
			}
		}
	} else if ((tag & EXEC_TAG_MASK) == EXEC_TAG_SYNC && s->sync_fd >= 0) {
		char msg[32];
		ssize_t r = recv(s->sync_fd, msg, sizeof(msg) - 1, MSG_DONTWAIT);

		if (r > 0) {
			msg[r] = '\0';
			snprintf(s->status, sizeof(s->status), "%s", msg);
		}
		if (r >= 0 || errno != EAGAIN) {
			epoll_ctl(e->monitor.epfd, EPOLL_CTL_DEL, s->sync_fd, NULL);
			close(s->sync_fd);
			s->sync_fd = -1;
		}
	} else if ((tag & EXEC_TAG_MASK) == EXEC_TAG_PID && s->pidfd >= 0) {
		siginfo_t si;

		memset(&si, 0, sizeof(si));
		waitid(P_PIDFD, (id_t)s->pidfd, &si, WEXITED | WNOHANG);
		epoll_ctl(e->monitor.epfd, EPOLL_CTL_DEL, s->pidfd, NULL);
		close(s->pidfd);
		s->pidfd = -1;
		if (s->sync_fd >= 0) {
			char msg[32];
			ssize_t r = recv(s->sync_fd, msg, sizeof(msg) - 1, MSG_DONTWAIT);

			if (r > 0) {
				msg[r] = '\0';
				snprintf(s->status, sizeof(s->status), "%s", msg);
			}
		}
		if (s->status[0] == '\0')
			snprintf(s->status, sizeof(s->status), "signal %d",
				 si.si_code == CLD_KILLED ? si.si_status : SIGKILL);
		s->done = true;
		s->done_at = time(NULL);
		/* The command is gone; output still in the pipe is read now. */
		if (s->out_fd >= 0)
			drain_output(s);
		if (s->in_fd >= 0) {
			close(s->in_fd);
			s->in_fd = -1;
		}
	}
	snprintf(ctr_id, sizeof(ctr_id), "%s", s->ctr_id);
	n = s->n;
	pthread_mutex_unlock(&e->model.lock);
	notify(e, ctr_id, n);
}

ssize_t
bk_exec_read(struct bk_engine *e, const char *ctr_id, int n, uint64_t off, char *buf, size_t size)
{
	struct exec_session *s;
	ssize_t ret;

	pthread_mutex_lock(&e->model.lock);
	s = find_locked(e, ctr_id, n);
	if (s == NULL) {
		ret = -ENOENT;
	} else if (off < s->out_len) {
		size_t k = s->out_len - off < size ? s->out_len - off : size;

		memcpy(buf, s->out + off, k);
		ret = (ssize_t)k;
	} else if (!s->started || !(s->out_eof || (s->done && s->out_fd < 0))) {
		/* Not yet: the reader waits for output or the end. */
		ret = s->done && s->out_fd >= 0 ? 0 : -EAGAIN;
	} else {
		ret = 0;
	}
	pthread_mutex_unlock(&e->model.lock);
	return ret;
}

ssize_t
bk_exec_write(struct bk_engine *e, const char *ctr_id, int n, const char *buf, size_t len,
	      struct bk_err *err)
{
	struct exec_session *s;
	cleanup_close int fd = -1;
	ssize_t ret = 0;

	pthread_mutex_lock(&e->model.lock);
	s = find_locked(e, ctr_id, n);
	if (s == NULL)
		ret = bk_err_set(err, ENOENT, "no exec session %d", n);
	else if (!s->started || s->in_fd < 0)
		ret = bk_err_set(err, EPIPE, "exec session %d: no command reads its input", n);
	else if ((fd = fcntl(s->in_fd, F_DUPFD_CLOEXEC, 3)) < 0)
		ret = bk_err_sys(err, "exec session %d: input", n);
	pthread_mutex_unlock(&e->model.lock);
	/* Outside the lock: a command that reads slowly holds up its writer only. */
	if (ret == 0 && (ret = input_write(fd, buf, len)) < 0)
		ret = bk_err_set(err, (int)-ret, "exec session %d: input: %s", n,
				 strerror((int)-ret));
	return ret;
}

void
bk_exec_close_stdin(struct bk_engine *e, const char *ctr_id, int n)
{
	struct exec_session *s;

	pthread_mutex_lock(&e->model.lock);
	s = find_locked(e, ctr_id, n);
	if (s && s->in_fd >= 0) {
		close(s->in_fd);
		s->in_fd = -1;
	}
	pthread_mutex_unlock(&e->model.lock);
}

/* "exit N" / "signal N" once done: 0; -EAGAIN while running; -ENOENT. */
int
bk_exec_status(struct bk_engine *e, const char *ctr_id, int n, char *out, size_t size)
{
	struct exec_session *s;
	int ret;

	pthread_mutex_lock(&e->model.lock);
	s = find_locked(e, ctr_id, n);
	if (s == NULL)
		ret = -ENOENT;
	else if (!s->done)
		ret = -EAGAIN;
	else {
		snprintf(out, size, "%s", s->status);
		ret = 0;
	}
	pthread_mutex_unlock(&e->model.lock);
	return ret;
}

int
bk_exec_kill(struct bk_engine *e, const char *ctr_id, int n, int sig, struct bk_err *err)
{
	struct exec_session *s;
	int ret = 0;

	pthread_mutex_lock(&e->model.lock);
	s = find_locked(e, ctr_id, n);
	if (s == NULL)
		ret = bk_err_set(err, ENOENT, "no exec session %d", n);
	else if (!s->started || s->done || s->pidfd < 0)
		ret = bk_err_set(err, ESRCH, "exec session %d is not running", n);
	/* The helper passes no signals on: signal its process group's command via the helper's
	 * child is not reachable from here, so kill the helper's whole session group. */
	else if (pidfd_send_signal(s->pidfd, sig, NULL, 0) < 0)
		ret = bk_err_sys(err, "kill exec session %d", n);
	pthread_mutex_unlock(&e->model.lock);
	return ret;
}

/*
 * Write to a command's input: a pipe, or a terminal's master (non-blocking,
 * shared with its reader): wait for room up to 10 s, then EAGAIN.  The bytes
 * written, or -errno.
 */
ssize_t
input_write(int fd, const char *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		ssize_t w = write(fd, buf + done, len - done);

		if (w > 0) {
			done += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN)
			return done ? (ssize_t)done : -errno;
		if (poll(&pfd, 1, 10000) <= 0)
			return done ? (ssize_t)done : -EAGAIN;
	}
	return (ssize_t)done;
}

int
bk_exec_set_tty(struct bk_engine *e, const char *ctr_id, int n, struct bk_err *err)
{
	struct exec_session *s;
	int ret = 0;

	pthread_mutex_lock(&e->model.lock);
	s = find_locked(e, ctr_id, n);
	if (s == NULL)
		ret = bk_err_set(err, ENOENT, "no exec session %d", n);
	else if (s->started)
		ret = bk_err_set(err, EBUSY, "exec session %d has already run a command", n);
	else
		s->tty = true;
	pthread_mutex_unlock(&e->model.lock);
	return ret;
}

int
bk_exec_resize(struct bk_engine *e, const char *ctr_id, int n, int cols, int rows,
	       struct bk_err *err)
{
	struct winsize ws = { .ws_row = (unsigned short)rows, .ws_col = (unsigned short)cols };
	struct exec_session *s;
	int ret = 0;

	pthread_mutex_lock(&e->model.lock);
	s = find_locked(e, ctr_id, n);
	if (s == NULL)
		ret = bk_err_set(err, ENOENT, "no exec session %d", n);
	else if (!s->tty)
		ret = bk_err_set(err, ENOTTY, "exec session %d has no terminal (write 'tty' first)",
				 n);
	else if (!s->started || s->done || s->in_fd < 0)
		ret = bk_err_set(err, ESRCH, "exec session %d is not running", n);
	else if (ioctl(s->in_fd, TIOCSWINSZ, &ws) < 0)
		ret = bk_err_sys(err, "exec session %d: resize", n);
	pthread_mutex_unlock(&e->model.lock);
	return ret;
}

/* Forget a session (its wait has been read). */
void
bk_exec_free(struct bk_engine *e, const char *ctr_id, int n)
{
	struct exec_session **pp, *s;

	pthread_mutex_lock(&e->model.lock);
	for (pp = &e->execs.list; (s = *pp) != NULL; pp = &s->next)
		if (s->n == n && strcmp(s->ctr_id, ctr_id) == 0) {
			*pp = s->next;
			session_free(e, s);
			break;
		}
	pthread_mutex_unlock(&e->model.lock);
}

/* A container's sessions go with it. */
void
exec_forget_container(struct bk_engine *e, const char *ctr_id)
{
	struct exec_session **pp = &e->execs.list, *s;

	while ((s = *pp) != NULL) {
		if (strcmp(s->ctr_id, ctr_id) == 0) {
			*pp = s->next;
			session_free(e, s);
			continue;
		}
		pp = &s->next;
	}
}

void
exec_free_all(struct bk_engine *e)
{
	struct exec_session *s;

	while ((s = e->execs.list) != NULL) {
		e->execs.list = s->next;
		session_free(e, s);
	}
}
