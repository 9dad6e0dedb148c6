/*
 * Starting the workload.  init is single-threaded, so the child of fork()
 * may use libc freely until execve.  It reports a failure as a struct
 * init_err on a CLOEXEC pipe and exits 127; EOF on that pipe means execve
 * succeeded.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>

#include "common/syscalls.h"
#include "proc.h"

/*
 * io NULL: keep the stdio we were given (an exec session's pipes).  A tty's
 * slave becomes the controlling terminal of the session setsid() made.
 */
static int
child_stdio(const struct proc_io *io, struct init_err *err)
{
	int in = io ? io->in : -1;

	if (io == NULL)
		return 0;
	if (in < 0 && (in = open("/dev/null", O_RDONLY)) < 0)
		return init_fail_sys(err, "stdio", "open '/dev/null'");
	if (io->tty && ioctl(in, TIOCSCTTY, 0) < 0)
		return init_fail_sys(err, "stdio", "make the terminal the controlling one");
	if (dup2(in, 0) < 0 || dup2(io->out, 1) < 0 || dup2(io->out, 2) < 0)
		return init_fail_sys(err, "stdio", "dup2");
	return 0;
}

int
close_all_but(const int *keep, int n)
{
	unsigned int lo = 3;
	int i, j, t, sorted[3];

	if (n < 1 || n > 3)
		return -1;
	for (i = 0; i < n; i++) {
		for (sorted[i] = keep[i], j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
			t = sorted[j - 1];
			sorted[j - 1] = sorted[j];
			sorted[j] = t;
		}
	}
	for (i = 0; i < n; i++)
		if (sorted[i] < 3 || (i > 0 && sorted[i] == sorted[i - 1]))
			return -1;
	for (i = 0; i < n; lo = (unsigned int)sorted[i++] + 1) {
		if ((unsigned int)sorted[i] > lo)
			close_range(lo, (unsigned int)sorted[i] - 1, 0);
	}
	close_range(lo, ~0U, 0);
	return 0;
}

/* Everything but stdio and the status pipe: no fd of init or the host reaches the workload. */
static void
close_fds(int keep)
{
	(void)close_all_but(&keep, 1); /* the status pipe: above 2 */
}

/*
 * CVE-2024-21626: a cwd reached through an fd of the host lies outside the
 * root, and getcwd() then fails (the kernel names it "(unreachable)...").
 * Our own fds are closed by now, but init's, such as the state directory,
 * are still reachable as /proc/1/fd/N while this child holds every
 * capability.
 */
static int
child_cwd(const char *cwd, struct init_err *err)
{
	char buf[PATH_MAX];

	if (chdir(cwd) < 0)
		return init_fail_sys(err, "chdir", "chdir '%s'", cwd);
	if (getcwd(buf, sizeof(buf)) == NULL) {
		if (errno != ENOENT)
			return init_fail_sys(err, "chdir", "getcwd in '%s'", cwd);
		buf[0] = '\0';
	}
	if (buf[0] != '/')
		return init_fail(err, "chdir", EINVAL,
				 "working directory '%s' is outside the container root", cwd);
	return 0;
}

static int
read_cap_last(int *last, struct init_err *err)
{
	cleanup_close int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
	char buf[16];
	ssize_t n;
	char *end;
	long v;

	if (fd < 0)
		return init_fail_sys(err, "caps", "open '/proc/sys/kernel/cap_last_cap'");
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return init_fail_sys(err, "caps", "read '/proc/sys/kernel/cap_last_cap'");
	buf[n] = '\0';
	errno = 0;
	v = strtol(buf, &end, 10);
	if (errno != 0 || end == buf || (*end != '\n' && *end != '\0') || v < 0 || v > 63)
		return init_fail(err, "caps", EINVAL, "bad cap_last_cap '%s'", buf);
	*last = (int)v;
	return 0;
}

/* Needs CAP_SETPCAP, so before the uid changes. */
static int
drop_bounding(uint64_t mask, struct init_err *err)
{
	int cap, last = -1, ret = read_cap_last(&last, err);

	if (ret < 0)
		return ret;
	for (cap = 0; cap <= last; cap++) {
		if (mask >> cap & 1)
			continue;
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			return init_fail_sys(err, "caps",
					     "drop capability %d from the bounding set", cap);
	}
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
		return init_fail_sys(err, "caps", "clear the ambient set");
	return 0;
}

/* Raw capset: the only use of capabilities here, not worth libcap. */
static int
set_caps(uint64_t mask, struct init_err *err)
{
	struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct data[2];
	uint32_t lo = (uint32_t)mask, hi = (uint32_t)(mask >> 32);

	/* Inheritable stays empty (CVE-2022-24769: it let exec'd programs regain caps). */
	data[0] = (struct __user_cap_data_struct){ lo, lo, 0 };
	data[1] = (struct __user_cap_data_struct){ hi, hi, 0 };
	if (syscall(SYS_capset, &hdr, data) < 0)
		return init_fail_sys(err, "caps", "capset 0x%llx", (unsigned long long)mask);
	return 0;
}

/*
 * KEEPCAPS holds the permitted set across setresuid(), so that set_caps()
 * alone decides what remains: the mask for root, nothing for other users
 * (Docker's rule).  set_caps() also clears inheritable, which a uid change
 * would leave alone.
 */
static int
child_ids(const struct init_plan *plan, struct init_err *err)
{
	int ret = drop_bounding(plan->caps, err);

	if (ret < 0)
		return ret;
	if (setgroups(plan->ngroups, plan->groups) < 0)
		return init_fail_sys(err, "setgroups", "setgroups (%zu groups)", plan->ngroups);
	if (setresgid(plan->gid, plan->gid, plan->gid) < 0)
		return init_fail_sys(err, "setgid", "setresgid %u", plan->gid);
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return init_fail_sys(err, "caps", "set keepcaps");
	if (setresuid(plan->uid, plan->uid, plan->uid) < 0)
		return init_fail_sys(err, "setuid", "setresuid %u", plan->uid);
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return init_fail_sys(err, "caps", "clear keepcaps");
	return set_caps(plan->uid == 0 ? plan->caps : 0, err);
}

static const char *
env_get(char *const envp[], const char *name)
{
	size_t n = strlen(name);

	for (; *envp != NULL; envp++) {
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	}
	return NULL;
}

/* Errors after which execvp(3) tries the next PATH entry. */
static bool
try_next(int e)
{
	return e == ENOENT || e == ENOTDIR || e == EACCES || e == ELOOP || e == ENAMETOOLONG ||
	       e == ENODEV || e == ESTALE || e == ETIMEDOUT;
}

/* execvp(3) with the container's PATH and without the /bin/sh fallback. */
static int
child_exec(char *const argv[], char *const envp[], struct init_err *err)
{
	const char *file = argv[0], *path = env_get(envp, "PATH"), *p, *colon;
	size_t flen = strlen(file), dlen;
	bool eacces = false;
	char buf[PATH_MAX];

	if (strchr(file, '/') != NULL) {
		execve(file, argv, envp);
		return init_fail_sys(err, "exec", "exec '%s'", file);
	}
	for (p = path != NULL ? path : PLAN_DEFAULT_PATH;; p = colon + 1) {
		colon = strchrnul(p, ':');
		dlen = (size_t)(colon - p);
		/* An empty entry is the working directory, as in execvp. */
		if (dlen == 0) {
			p = ".";
			dlen = 1;
		}
		if (dlen + flen + 2 <= sizeof(buf)) {
			memcpy(buf, p, dlen);
			buf[dlen] = '/';
			memcpy(buf + dlen + 1, file, flen + 1);
			execve(buf, argv, envp);
			if (!try_next(errno))
				return init_fail_sys(err, "exec", "exec '%s'", buf);
			eacces |= errno == EACCES;
		}
		if (*colon == '\0')
			break;
	}
	errno = eacces ? EACCES : ENOENT;
	return init_fail_sys(err, "exec", "exec '%s'", file);
}

static _Noreturn void
child_main(const struct init_plan *plan, const struct proc_io *io, int statusfd)
{
	struct init_err err = { "", 0, "" };
	sigset_t none;
	int ret;

	/* init blocks what it forwards; the workload starts with nothing blocked. */
	sigemptyset(&none);
	ret = sigprocmask(SIG_SETMASK, &none, NULL);
	/* An exec session's command must not outlive its helper (killed by `kill 9`). */
	if (ret == 0)
		prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
	if (ret < 0 || setsid() < 0)
		ret = init_fail_sys(&err, "setsid", "new session");
	if (ret == 0)
		ret = child_stdio(io, &err);
	if (ret == 0) {
		close_fds(statusfd);
		ret = child_cwd(plan->cwd, &err);
	}
	if (ret == 0)
		ret = child_ids(plan, &err);
	if (ret == 0)
		child_exec(plan->argv, plan->envp, &err);
	if (write(statusfd, &err, sizeof(err)) < 0)
		_exit(126);
	_exit(127);
}

pid_t
proc_start(const struct init_plan *plan, const struct proc_io *io, struct init_err *err)
{
	cleanup_close int rfd = -1;
	int pfd[2];
	ssize_t n;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return init_fail_sys(err, "fork", "exec status pipe");
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return init_fail_sys(err, "fork", "fork the workload");
	}
	if (pid == 0) {
		close(pfd[0]);
		child_main(plan, io, pfd[1]);
	}
	rfd = pfd[0];
	close(pfd[1]);
	do
		n = read(rfd, err, sizeof(*err));
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return pid;
	if (n != (ssize_t)sizeof(*err))
		init_fail(err, "exec", EIO, "no status from the workload");
	err->step[sizeof(err->step) - 1] = '\0';
	err->msg[sizeof(err->msg) - 1] = '\0';
	if (err->code <= 0)
		err->code = EIO;
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
	return -err->code;
}
