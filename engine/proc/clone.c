/*
 * Every bockerfs-init the daemon starts, a container's (spawn.c), a spare
 * (spare_init.c) or an exec session's helper (ops/exec.c), is cloned here,
 * and answers here.  The daemon is multithreaded: the child side makes raw
 * system calls only, up to the exec.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/syscalls.h"
#include "proc/proc.h"

/*
 * In a child cloned with a new mount namespace (raw system calls only):
 * drop the control tree at path from its copy of the mount table, without
 * touching the daemon's (private first).  A spare init keeps the daemon's
 * mounts until its container's setup detaches them, and must not keep the
 * tree mounted meanwhile: an unmount of the tree would not end the FUSE
 * connection then.  Best effort: the tree may not be mounted yet.
 */
static no_sanitize_child void
child_hide(const char *path)
{
	/* There a spare init stages the container's /proc and /dev (init/setup.c, setup_stage). */
	if (path && syscall(SYS_mount, NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0 &&
	    syscall(SYS_umount2, path, MNT_DETACH) == 0)
		syscall(SYS_chdir, path);
}

/*
 * The child runs in the daemon's memory until its exec (CLONE_VM|CLONE_VFORK,
 * as posix_spawn): no copy of the daemon's page tables to make and tear
 * down again at the exec (~1 ms of a 20 MB daemon's, each time).  The
 * parent is suspended meanwhile, so the child may use what the parent
 * passed it, but it makes raw system calls only, on a stack of its own, and
 * no handler of the daemon's may run in it: the parent blocked every signal
 * before the clone, and the child sets each handled signal back to its
 * default before it unblocks them.
 */
struct child_args {
	const struct procs *p;
	char **argv;
	int in_r, out_w;
	const int *keep;
	int nkeep;
	bool hide;
};

static no_sanitize_child void
child_default_handlers(void)
{
	struct kernel_sigaction dfl = { 0 }, old;
	int sig;

	for (sig = 1; sig < 65; sig++) {
		if (sig == SIGKILL || sig == SIGSTOP)
			continue;
		if (syscall(SYS_rt_sigaction, sig, NULL, &old, sizeof(dfl.mask)) == 0 &&
		    old.handler != SIG_DFL && old.handler != SIG_IGN)
			syscall(SYS_rt_sigaction, sig, &dfl, NULL, sizeof(dfl.mask));
	}
}

/*
 * Clears the signal mask (libfuse's workers block some), puts in_r on stdin
 * and out_w on stdout and stderr when they are not -1, lets the keep fds
 * through exec, and execs the init binary.
 */
static no_sanitize_child int
child_main(void *data)
{
	static char *const envp[] = { NULL };
	const struct child_args *a = data;
	sigset_t none;
	int i;

	child_default_handlers();
	if (a->hide)
		child_hide(a->p->hide_mount);
	sigemptyset(&none);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, sizeof(long));
	if (a->in_r >= 0)
		syscall(SYS_dup2, a->in_r, 0);
	if (a->out_w >= 0) {
		syscall(SYS_dup2, a->out_w, 1);
		syscall(SYS_dup2, a->out_w, 2);
	}
	for (i = 0; i < a->nkeep; i++)
		syscall(SYS_fcntl, a->keep[i], F_SETFD, 0);
	syscall(SYS_execveat, a->p->init_fd, "", a->argv, envp, AT_EMPTY_PATH);
	syscall(SYS_exit_group, 127);
	__builtin_unreachable();
}

#define CHILD_STACK (64 * 1024)

int
clone_init_proc(const struct procs *p, uint64_t ns, char **argv, int in_r, int out_w,
		const int *keep, int nkeep, bool hide, int *pidfd, struct bk_err *err)
{
	struct child_args a = { .p = p,
				.argv = argv,
				.in_r = in_r,
				.out_w = out_w,
				.keep = keep,
				.nkeep = nkeep,
				.hide = hide };
	sigset_t all, old;
	void *stack;
	int fd = -1, pid, saved;

	stack = mmap(NULL, CHILD_STACK, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		return bk_err_sys(err, "clone: a stack for the child");
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	/* Returns once the child has exec'd (or exited): its stack is free again. */
	pid = clone(child_main, (char *)stack + CHILD_STACK,
		    (int)ns | CLONE_PIDFD | CLONE_VM | CLONE_VFORK | SIGCHLD, &a, &fd);
	saved = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	munmap(stack, CHILD_STACK);
	if (pid < 0) {
		errno = saved;
		return bk_err_sys(err, "clone");
	}
	*pidfd = fd;
	return pid;
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
