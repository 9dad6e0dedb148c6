/*
 * Every bockerfs-init the daemon starts, a container's (spawn.c), a spare
 * (spare_init.c) or an exec session's helper (ops/exec.c), is cloned here,
 * and answers here.  The daemon is multithreaded: the child side makes raw
 * system calls only, up to the exec.
 */
#include <errno.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "proc/proc.h"
#include "common/syscalls.h"

/*
 * In a child cloned with a new mount namespace (raw system calls only):
 * drop the control tree at path from its copy of the mount table, without
 * touching the daemon's (private first).  A spare init keeps the daemon's
 * mounts until its container's setup detaches them, and must not keep the
 * tree mounted meanwhile: an unmount of the tree would not end the FUSE
 * connection then.  Best effort: the tree may not be mounted yet.
 */
static void
child_hide(const char *path)
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
static void __attribute__((noreturn))
child_exec(int init_fd, char **argv, int in_r, int out_w, const int *keep, int nkeep)
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

int
clone_init_proc(const struct procs *p, uint64_t ns, char **argv, int in_r, int out_w,
		const int *keep, int nkeep, bool hide, int *pidfd, struct bk_err *err)
{
	struct clone_args ca = { 0 };
	int fd = -1;
	long pid;

	ca.flags = ns | CLONE_PIDFD;
	ca.pidfd = (uint64_t)(uintptr_t)&fd;
	ca.exit_signal = SIGCHLD;
	pid = sys_clone3(&ca, sizeof(ca));
	if (pid < 0)
		return bk_err_sys(err, "clone3");
	if (pid == 0) {
		if (hide)
			child_hide(p->hide_mount);
		child_exec(p->init_fd, argv, in_r, out_w, keep, nkeep);
	}
	*pidfd = fd;
	return (int)pid;
}

int
init_answer(int sync_fd, int timeout_ms, const char *who, struct init_input *input,
	    struct bk_err *err)
{
	struct pollfd pfd = { .fd = sync_fd, .events = POLLIN };
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	char msg[1024], step[32] = "";
	struct iovec iov = { .iov_base = msg, .iov_len = sizeof(msg) - 1 };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm;
	int code = 0, off = 0, fd = -1;
	ssize_t n;

	if (input)
		*input = (struct init_input){ .fd = -1, .fdno = -1 };
	if (poll(&pfd, 1, timeout_ms) <= 0)
		return bk_err_set(err, ETIMEDOUT, "%s did not answer", who);
	n = recvmsg(sync_fd, &mh, MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return bk_err_set(err, EIO, "%s exited before it was ready", who);
	msg[n] = '\0';
	cm = CMSG_FIRSTHDR(&mh);
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	if (strcmp(msg, "ok") == 0 || strncmp(msg, "ok ", 3) == 0) {
		/* "ok N": the fd attached is the container's input (its number in the init: N). */
		if (input && fd >= 0) {
			input->fd = fd;
			input->fdno = atoi(msg + 3);
		} else if (fd >= 0) {
			close(fd);
		}
		return 0;
	}
	if (fd >= 0)
		close(fd);
	/* "err STEP ERRNO MESSAGE": the errno and the text of the step that failed. */
	if (sscanf(msg, "err %31s %d %n", step, &code, &off) >= 2 && code > 0)
		return bk_err_set(err, code, "%s", msg + off);
	return bk_err_set(err, EIO, "%s: %s", who, msg);
}
