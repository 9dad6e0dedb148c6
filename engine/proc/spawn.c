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
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "proc/proc.h"
#include "base/base.h"

#define START_TIMEOUT_MS 30000

/* The init binary lives next to the daemon (or where BOCKERFS_INIT says). */
int
procs_find_init(struct procs *p, struct bk_err *err)
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
	p->init_fd = open(path, O_PATH | O_CLOEXEC);
	if (p->init_fd < 0)
		return bk_err_sys(err, "open the container init '%s'", path);
	/* It runs as root in every container: only root may be able to change it. */
	if (fstat(p->init_fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != 0 ||
	    (st.st_mode & 022)) {
		close(p->init_fd);
		p->init_fd = -1;
		return bk_err_set(err, EPERM,
				  "container init '%s' must be a root-owned file "
				  "that only root can write",
				  path);
	}
	return 0;
}

/* Start time of pid in clock ticks since boot (field 22 of /proc/PID/stat), 0 if gone. */
uint64_t
proc_start_time_of(pid_t pid, bool *zombie)
{
	char path[64];
	cleanup_free char *text = NULL;
	unsigned long long start = 0;
	char *p;
	int i;

	*zombie = false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if (read_file_at(AT_FDCWD, path, 4096, &text, NULL, NULL) < 0)
		return 0;
	/* The command name may hold spaces and parentheses: skip past the last ')'. */
	p = strrchr(text, ')');
	if (p == NULL)
		return 0;
	*zombie = p[1] == ' ' && p[2] == 'Z';
	for (i = 2; i < 22 && p; i++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p + 1, "%llu", &start) != 1)
		return 0;
	return start;
}

uint64_t
proc_start_time(pid_t pid)
{
	bool zombie;

	return proc_start_time_of(pid, &zombie);
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
		pidfd = pidfd_open(pid, 0);
		if (pidfd >= 0) {
			struct pollfd pfd = { .fd = pidfd, .events = POLLIN };

			pidfd_send_signal(pidfd, SIGKILL, NULL, 0);
			poll(&pfd, 1, 2000);
			close(pidfd);
		}
	}
	free(text);
	unlinkat(state_dfd, "starting", 0);
}

/* Hand a spare init its plan, the container's directory and network namespace (SCM_RIGHTS). */
static int
send_plan(int sync_fd, int plan_fd, int state_dfd, int netns_fd)
{
	union {
		char buf[CMSG_SPACE(3 * sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = (void *)"plan", .iov_len = 4 };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	int fds[3] = { plan_fd, state_dfd, netns_fd };

	memset(u.buf, 0, sizeof(u.buf));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	return sendmsg(sync_fd, &mh, MSG_NOSIGNAL) == 4 ? 0 : -errno;
}

int
init_launch(struct procs *p, int plan_fd, int state_dfd, bool netns, struct init_proc *out,
	    struct bk_err *err)
{
	char a1[16], a2[16], a3[16];
	char *argv[] = { (char *)"bockerfs-init", a1, a2, a3, NULL };
	int sv[2], keep[3], pidfd = -1, pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return bk_err_sys(err, "socketpair");
	snprintf(a1, sizeof(a1), "%d", plan_fd);
	snprintf(a2, sizeof(a2), "%d", sv[1]);
	snprintf(a3, sizeof(a3), "%d", state_dfd);
	keep[0] = plan_fd;
	keep[1] = sv[1];
	keep[2] = state_dfd;
	pid = clone_init_proc(p,
			      CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC |
				  (netns ? CLONE_NEWNET : 0),
			      argv, -1, -1, keep, 3, false, &pidfd, err);
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return pid;
	}
	*out = (struct init_proc){ .pid = pid, .pidfd = pidfd, .sync_fd = sv[0] };
	return 0;
}

int
init_launch_spare(struct procs *p, struct spare_init *s, int plan_fd, int state_dfd, int netns_fd,
		  struct init_proc *out)
{
	/* It has no network namespace of its own: without one it must not serve. */
	if (netns_fd < 0 || send_plan(s->sync_fd, plan_fd, state_dfd, netns_fd) < 0) {
		spare_init_discard(p, s);
		return -ENOENT;
	}
	*out = (struct init_proc){
		.pid = s->pid, .pidfd = s->pidfd, .sync_fd = s->sync_fd, .spare = true
	};
	memcpy(out->cgroup, s->cgroup, sizeof(out->cgroup));
	return 0;
}

int
init_go(struct init_proc *ip, struct bk_err *err)
{
	if (send(ip->sync_fd, "go", 2, MSG_NOSIGNAL) < 0)
		return bk_err_sys(err, "start: talk to the container init");
	return init_answer(ip->sync_fd, START_TIMEOUT_MS, "start: the container init", &ip->input,
			   err);
}

bool
init_exited(const struct init_proc *ip)
{
	struct pollfd pfd = { .fd = ip->pidfd, .events = POLLIN };

	return poll(&pfd, 1, 0) > 0;
}

void
init_kill(struct init_proc *ip)
{
	pidfd_send_signal(ip->pidfd, SIGKILL, NULL, 0);
	reap(ip->pidfd);
}
