/*
 * Starting a container's init.  The daemon is multithreaded, so between
 * clone3() and execveat() the child makes raw system calls only; everything
 * the init needs is prepared here first and handed over as a plan in a memfd
 * (see engine/init/plan.h for its format).  The init does the mounts, the
 * pivot_root and the exec itself, and answers on a socket: "ok", or
 * "err STEP ERRNO MESSAGE".
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "engine.h"
#include "base/base.h"

#define START_TIMEOUT_MS 30000

/* The init binary lives next to the daemon (or where BOCKERFS_INIT says). */
int
spawn_find_init(struct bk_engine *e, struct bk_err *err)
{
	char self[PATH_MAX], path[PATH_MAX + 32];
	const char *env = getenv("BOCKERFS_INIT");
	struct stat st;
	ssize_t n;
	char *slash;

	if (env && *env) {
		snprintf(path, sizeof(path), "%s", env);
	} else {
		n = readlink("/proc/self/exe", self, sizeof(self) - 1);
		if (n < 0)
			return bk_err_sys(err, "find bockerfs-init: readlink /proc/self/exe");
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash)
			*slash = '\0';
		snprintf(path, sizeof(path), "%s/bockerfs-init", self);
	}
	e->procs.init_fd = open(path, O_PATH | O_CLOEXEC);
	if (e->procs.init_fd < 0)
		return bk_err_sys(err, "open the container init '%s'", path);
	/* It runs as root in every container: only root may be able to change it. */
	if (fstat(e->procs.init_fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 022)) {
		close(e->procs.init_fd);
		e->procs.init_fd = -1;
		return bk_err_set(err, EPERM,
				  "container init '%s' must be a root-owned file "
				  "that only root can write",
				  path);
	}
	return 0;
}

/* Start time of pid in clock ticks since boot (field 22 of /proc/PID/stat), 0 if gone. */
uint64_t
proc_start_time(pid_t pid)
{
	char path[64];
	cleanup_free char *text = NULL;
	unsigned long long start = 0;
	char *p;
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_file_at(AT_FDCWD, path, 4096, &text, NULL, NULL) < 0)
		return 0;
	/* The command name may hold spaces and parentheses: skip past the last ')'. */
	p = strrchr(text, ')');
	if (p == NULL)
		return 0;
	for (i = 2; i < 22 && p; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p + 1, "%llu", &start) != 1)
		return 0;
	return start;
}

/* True if pid is PID 1 of a pid namespace below ours ("NSpid:\t4242\t1" in its status). */
static bool
is_ns_init(const char *pid)
{
	char path[300];
	cleanup_free char *text = NULL;
	const char *p;
	long last = 0;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%s/status", pid);
	if (read_file_at(AT_FDCWD, path, 16384, &text, NULL, NULL) < 0)
		return false;
	p = strstr(text, "\nNSpid:");
	if (p == NULL)
		return false;
	for (p += 7; *p != '\n' && *p != '\0'; n++) {
		char *end;

		last = strtol(p, &end, 10);
		if (end == p)
			break;
		p = end;
	}
	return n >= 2 && last == 1;
}

/*
 * The init of a container whose record is lost: the process that is PID 1
 * of a pid namespace and whose root is the container's filesystem (btrfs
 * gives every subvolume its own device number).  No process of the
 * container can pass for it: making a pid namespace needs CAP_SYS_ADMIN.
 * 0 if there is none.
 */
pid_t
spawn_find_running(int state_dfd)
{
	cleanup_dir DIR *d = NULL;
	struct stat root, st;
	struct dirent *de;

	if (fstatat(state_dfd, "rootfs", &root, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(root.st_mode))
		return 0;
	d = opendir("/proc");
	while (d && (de = readdir(d)) != NULL) {
		char path[300];

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/root", de->d_name);
		if (stat(path, &st) == 0 && st.st_dev == root.st_dev && st.st_ino == root.st_ino &&
		    is_ns_init(de->d_name))
			return (pid_t)strtol(de->d_name, NULL, 10);
	}
	return 0;
}

struct plan {
	char *buf;
	size_t len, cap;
};

static void __attribute__((format(printf, 2, 3))) plan_add(struct plan *p, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (p->len + (size_t)n + 1 > p->cap) {
		p->cap = (p->len + (size_t)n + 1) * 2;
		p->buf = xrealloc(p->buf, p->cap);
	}
	va_start(ap, fmt);
	vsnprintf(p->buf + p->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	p->len += (size_t)n + 1; /* keep the NUL: it separates entries */
}

static int
plan_memfd(const struct spawn_req *req, struct bk_err *err)
{
	struct plan p = { 0 };
	cleanup_close int fd = -1;
	size_t i;
	int ret;

	plan_add(&p, "rootfs=%s", req->rootfs_path);
	plan_add(&p, "hostname=%s", req->hostname);
	plan_add(&p, "cwd=%s", req->cwd);
	plan_add(&p, "uid=%u", (unsigned)req->uid);
	plan_add(&p, "gid=%u", (unsigned)req->gid);
	{
		char groups[64 * 12] = "";
		size_t used = 0;

		for (i = 0; i < req->ngroups && used < sizeof(groups) - 12; i++)
			used += (size_t)snprintf(groups + used, sizeof(groups) - used, "%s%u",
						 i ? "," : "", (unsigned)req->groups[i]);
		plan_add(&p, "groups=%s", groups);
	}
	for (i = 0; req->argv[i]; i++)
		plan_add(&p, "arg=%s", req->argv[i]);
	for (i = 0; req->envp[i]; i++)
		plan_add(&p, "env=%s", req->envp[i]);
	plan_add(&p, "caps=0x%llx", (unsigned long long)req->caps);
	plan_add(&p, "log_max=%llu", (unsigned long long)req->log_max);
	plan_add(&p, "netns=%d", req->netns ? 1 : 0);
	plan_add(&p, "cgroupns=%d", req->cgroupns ? 1 : 0);
	plan_add(&p, "bind=hosts:/etc/hosts");
	plan_add(&p, "bind=hostname:/etc/hostname");
	plan_add(&p, "bind=resolv.conf:/etc/resolv.conf");
	plan_add(&p, "stdin=null");
	if (req->seccomp)
		plan_add(&p, "seccomp=%s", req->seccomp);

	fd = memfd_create("bockerfs-plan", MFD_CLOEXEC);
	if (fd < 0) {
		free(p.buf);
		return bk_err_sys(err, "memfd for the plan");
	}
	ret = write_all(fd, p.buf, p.len);
	free(p.buf);
	if (ret < 0)
		return bk_err_sys(err, "write the plan");
	return take_fd(fd);
}

/*
 * In a child cloned with a new mount namespace (raw system calls only):
 * drop the control tree at path from its copy of the mount table, without
 * touching the daemon's (private first).  A spare init keeps the daemon's
 * mounts until its container's setup detaches them, and must not keep the
 * tree mounted meanwhile: an unmount of the tree would not end the FUSE
 * connection then.  Best effort: the tree may not be mounted yet.
 */
void
spawn_child_hide(const char *path)
{
	if (path && syscall(SYS_mount, NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0)
		syscall(SYS_umount2, path, MNT_DETACH);
}

/*
 * The child side of clone3: raw system calls only (we are a copy of a
 * multithreaded process).  Clears the signal mask (libfuse's workers block
 * some), puts in_r on stdin and out_w on stdout and stderr when they are not
 * -1, lets the keep fds through exec, and execs the init binary.
 */
void
spawn_child_exec(int init_fd, char **argv, int in_r, int out_w, const int *keep, int nkeep)
{
	static char *const envp[] = { NULL };
	sigset_t none;
	int i;

	sigemptyset(&none);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof(long));
	if (in_r >= 0)
		syscall(SYS_dup2, in_r, 0);
	if (out_w >= 0) {
		syscall(SYS_dup2, out_w, 1);
		syscall(SYS_dup2, out_w, 2);
	}
	for (i = 0; i < nkeep; i++)
		syscall(SYS_fcntl, keep[i], F_SETFD, 0);
	syscall(SYS_execveat, init_fd, "", argv, envp, AT_EMPTY_PATH);
	syscall(SYS_exit_group, 127);
	__builtin_unreachable();
}

/* Parse "err STEP ERRNO MESSAGE" from the init. */
static int
init_error(const char *msg, struct bk_err *err)
{
	char step[32] = "";
	int code = 0, off = 0;

	if (sscanf(msg, "err %31s %d %n", step, &code, &off) < 2 || code <= 0)
		return bk_err_set(err, EIO, "container init: %s", msg);
	return bk_err_set(err, code, "%s", msg + off);
}

static void
reap(int pidfd)
{
	siginfo_t si;

	while (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0 && errno == EINTR)
		;
}

void
spawn_mark_starting(int state_dfd, pid_t pid)
{
	char line[64];
	int len = snprintf(line, sizeof(line), "%d %llu\n", (int)pid,
			   (unsigned long long)proc_start_time(pid));
	struct bk_err err = BK_ERR_INIT;

	/* No fsync: it must outlive the daemon, not the host (whose reboot ends the init). */
	if (write_file_replace(state_dfd, "starting", line, (size_t)len, &err) < 0)
		bk_log(BK_LOG_WARN, "%s", err.msg);
}

/*
 * The init of a start that was never recorded (the daemon died during it):
 * kill it if it is still the same process and not the one the record names
 * (the daemon died between the record and the unlink).  Its pid namespace, and with it the
 * workload and the veth, go with it.
 */
void
spawn_kill_unrecorded(int state_dfd, const char *id, pid_t recorded)
{
	char *text = NULL;
	unsigned long long start = 0;
	int pid = 0, pidfd;

	if (read_file_at(state_dfd, "starting", 64, &text, NULL, NULL) < 0)
		return;
	if (sscanf(text, "%d %llu", &pid, &start) == 2 && pid > 1 && pid != recorded &&
	    proc_start_time(pid) == start) {
		bk_log(BK_LOG_INFO,
		       "container %s: killing the init of an unrecorded start (pid %d)", id, pid);
		pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
		if (pidfd >= 0) {
			struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

			syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
			poll(&pfd, 1, 2000);
			close(pidfd);
		}
	}
	free(text);
	unlinkat(state_dfd, "starting", 0);
}

/* Hand a spare init its plan and the container's directory (SCM_RIGHTS). */
static int
send_plan(int sync_fd, int plan_fd, int state_dfd)
{
	union {
		char buf[CMSG_SPACE(2 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)"plan", .iov_len = 4 };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	int fds[2] = { plan_fd, state_dfd };

	memset(u.buf, 0, sizeof(u.buf));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	return sendmsg(sync_fd, &mh, MSG_NOSIGNAL) == 4 ? 0 : -errno;
}

/* Clone a new init for req (no spare was ready). */
static int
clone_init(struct bk_engine *e, const struct spawn_req *req, int plan_fd, pid_t *pid_out,
	   int *pidfd_out, int *sync_out, struct bk_err *err)
{
	cleanup_close int child_fd = -1;
	struct clone_args ca = { 0 };
	char a1[16], a2[16], a3[16];
	char *argv[] = { (char *)"bockerfs-init", a1, a2, a3, NULL };
	int sv[2], keep[3], pidfd = -1;
	long pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return bk_err_sys(err, "socketpair");
	child_fd = sv[1];
	snprintf(a1, sizeof(a1), "%d", plan_fd);
	snprintf(a2, sizeof(a2), "%d", child_fd);
	snprintf(a3, sizeof(a3), "%d", req->state_dfd);
	keep[0] = plan_fd;
	keep[1] = child_fd;
	keep[2] = req->state_dfd;

	ca.flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_PIDFD |
		   (req->netns ? CLONE_NEWNET : 0);
	ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
	ca.exit_signal = SIGCHLD;
	pid = syscall(SYS_clone3, &ca, sizeof(ca));
	if (pid < 0) {
		close(sv[0]);
		return bk_err_sys(err, "clone3");
	}
	if (pid == 0)
		spawn_child_exec(e->procs.init_fd, argv, -1, -1, keep, 3);
	*pid_out = (pid_t)pid;
	*pidfd_out = pidfd;
	*sync_out = sv[0];
	return 0;
}

/* A spare init (spare_init.c) with req's plan sent to it; -ENOENT: none. */
static int
use_spare(struct bk_engine *e, const struct spawn_req *req, int plan_fd, struct spare_init *s)
{
	/* Spares have their own network namespace: not for --network host. */
	if (!req->netns || spare_init_take(e, s) < 0)
		return -ENOENT;
	if (send_plan(s->sync_fd, plan_fd, req->state_dfd) < 0) {
		spare_init_discard(e, s);
		return -ENOENT;
	}
	return 0;
}

/* The process behind pidfd has exited (a spare killed from outside, by anyone). */
static bool
exited(int pidfd)
{
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0;
}

/*
 * One attempt at a start; with_spare: take a spare init if one is ready.
 * -ECHILD when the spare turned out dead before it was told to go (someone
 * killed it): everything is undone and the caller may try again without.
 */
static int
spawn_attempt(struct bk_engine *e, const struct spawn_req *req, bool with_spare, pid_t *pid_out,
	      int *pidfd_out, struct bk_err *err)
{
	cleanup_close int plan_fd = -1, sync_fd = -1;
	struct spare_init spare = { .cgroup = "" };
	bool have_spare = false, spare_died = false;
	struct pollfd pfd;
	char msg[1024];
	int pidfd = -1, ret;
	pid_t pid = 0;
	ssize_t n;

	plan_fd = plan_memfd(req, err);
	if (plan_fd < 0)
		return plan_fd;
	if (with_spare)
		have_spare = use_spare(e, req, plan_fd, &spare) == 0;
	if (have_spare) {
		pid = spare.pid;
		pidfd = spare.pidfd;
		sync_fd = spare.sync_fd;
	} else if (clone_init(e, req, plan_fd, &pid, &pidfd, &sync_fd, err) < 0) {
		return -err->code;
	}
	/*
	 * Until the start is recorded, "starting" names the init: a daemon that
	 * dies before then finds it at the next start and kills it (a start
	 * that never answered must not leave a process, a veth or a cgroup).
	 */
	spawn_mark_starting(req->state_dfd, pid);
	/*
	 * The init sets up the container's filesystem meanwhile, and waits for
	 * "go": join it to its cgroup and its network first.
	 */
	if (req->limits && spare.cgroup[0])
		ret = cgroup_adopt(e, spare.cgroup, req->cgroup_id, req->limits, err);
	else
		ret = req->limits ? cgroup_enter(e, req->cgroup_id, pid, req->limits, err) : 0;
	if (ret < 0 || failpoint("run.cgroup", err) < 0) {
		spare_died = have_spare && exited(pidfd);
		bk_err_wrap(err, "start");
		goto fail;
	}
	if (network_attach(e, req->cgroup_id, pid, req->net_mode, req->ip, req->ports, req->nports,
			   err) < 0 ||
	    failpoint("run.veth", err) < 0) {
		spare_died = have_spare && exited(pidfd);
		bk_err_wrap(err, "network");
		goto fail;
	}
	if (send(sync_fd, "go", 2, MSG_NOSIGNAL) < 0) {
		spare_died = have_spare && exited(pidfd);
		bk_err_sys(err, "start: talk to the container init");
		goto fail;
	}
	pfd.fd = sync_fd;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, START_TIMEOUT_MS) <= 0) {
		bk_err_set(err, ETIMEDOUT, "start: the container init did not answer");
		goto fail;
	}
	n = recv(sync_fd, msg, sizeof(msg) - 1, 0);
	if (n <= 0) {
		bk_err_set(err, EIO, "start: the container init exited before it was ready");
		goto fail;
	}
	msg[n] = '\0';
	if (strcmp(msg, "ok") != 0) {
		init_error(msg, err);
		goto fail;
	}
	/* The command runs (exec'd) and the daemon has not recorded it yet. */
	if (failpoint("run.exec", err) < 0)
		goto fail;
	*pid_out = pid;
	*pidfd_out = pidfd;
	return 0;
fail:
	syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	reap(pidfd);
	close(pidfd);
	unlinkat(req->state_dfd, "starting", 0);
	if (req->limits) {
		cgroup_remove(e, req->cgroup_id);
		/* A rename that failed half way leaves some of the spare's name. */
		if (spare.cgroup[0])
			cgroup_remove(e, spare.cgroup);
	}
	if (req->net_mode == NET_MODE_BRIDGE)
		network_detach(e, req->cgroup_id);
	return spare_died ? -ECHILD : -err->code;
}

int
spawn_init(struct bk_engine *e, const struct spawn_req *req, pid_t *pid_out, int *pidfd_out,
	   struct bk_err *err)
{
	int ret = spawn_attempt(e, req, true, pid_out, pidfd_out, err);

	if (ret == -ECHILD) {
		bk_log(BK_LOG_WARN, "start %s: a spare init was killed (%s): starting a new one",
		       req->cgroup_id, err->msg);
		*err = (struct bk_err)BK_ERR_INIT;
		ret = spawn_attempt(e, req, false, pid_out, pidfd_out, err);
	}
	return ret;
}
