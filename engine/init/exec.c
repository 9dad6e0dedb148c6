/*
 * bockerfs-init --exec PLANFD SYNCFD PIDFD: an exec session's helper.
 *
 * The daemon starts it in the host's namespaces with the session's pipes as
 * stdin/stdout/stderr and joins it to the container's cgroup; meanwhile it
 * enters all the container's namespaces through the init's pidfd (one
 * setns() call) and installs the container's seccomp filter; after "go" it
 * starts the command as a child (only children enter the new pid namespace) with
 * the plan's user, capabilities, environment and working directory,
 * reports "ok" or "err STEP ERRNO MESSAGE", waits for it and reports
 * "exit N" or "signal N".  Like init, it is not dumpable, so no
 * process of the container can take it over.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec.h"
#include "plan.h"
#include "proc.h"
#include "setup.h"
#include "tty.h"

#define NS_ALL \
	(CLONE_NEWNS | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWCGROUP)

static volatile pid_t command_pid;

/* The session's `kill SIG` reaches the helper: pass it on to the command. */
static void
forward(int sig)
{
	if (command_pid > 0)
		kill(command_pid, sig);
}

static bool
fd_arg(const char *s, int *fd)
{
	char *end = NULL;
	long v = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 3 || v > 1 << 20)
		return false;
	*fd = (int)v;
	return true;
}

static void
say(int syncfd, const char *msg)
{
	while (send(syncfd, msg, strlen(msg), MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

static void
say_err(int syncfd, const struct init_err *err)
{
	char line[300];
	int n = snprintf(line, sizeof(line), "err %s %d %s", err->step, err->code, err->msg);
	int i;

	for (i = 0; i < n && i < (int)sizeof(line); i++)
		if ((unsigned char)line[i] < 0x20)
			line[i] = '?';
	say(syncfd, line);
}

int
exec_main(int argc, char **argv)
{
	static struct plan_arena arena;
	struct init_err err = { "", 0, "" };
	struct proc_io io = { .in = -1, .out = -1, .tty = true };
	int planfd, syncfd, pidfd, status, master = -1, ret;
	char buf[8], msg[32];
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return 1;
	if (argc != 5 || !fd_arg(argv[2], &planfd) || !fd_arg(argv[3], &syncfd) ||
	    !fd_arg(argv[4], &pidfd))
		return 1;
	prctl(PR_SET_NAME, "bockerfs-exec", 0, 0, 0);
	/* Keep stdio (the session's pipes) and our three; nothing else of the daemon's. */
	if (close_all_but((const int[]){ planfd, syncfd, pidfd }, 3) < 0)
		return 1;
	fcntl(planfd, F_SETFD, FD_CLOEXEC);
	fcntl(syncfd, F_SETFD, FD_CLOEXEC);
	fcntl(pidfd, F_SETFD, FD_CLOEXEC);
	while ((n = pread(planfd, arena.buf + len, sizeof(arena.buf) - len, (off_t)len)) > 0)
		len += (size_t)n;
	close(planfd);
	/*
	 * Into the container before the go, while the daemon joins us to its
	 * cgroup: the namespaces, a terminal, and the filter (which refuses
	 * setns), whose compilation takes the kernel half a millisecond.  A
	 * failure is told after the go, which is when the daemon listens.
	 */
	ret = plan_parse(arena.buf, len, arena.vec, PLAN_VEC_SLOTS, &arena.plan, &err);
	/* All of the container's namespaces at once (Linux 5.8: setns on a pidfd). */
	if (ret == 0 && setns(pidfd, NS_ALL) < 0)
		ret = init_fail_sys(&err, "setns", "enter the container's namespaces");
	close(pidfd);
	if (ret == 0)
		ret = setup_seccomp(&arena.plan, &err);
	do
		n = recv(syncfd, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	if (n != 2 || memcmp(buf, "go", 2) != 0)
		return 1;
	/*
	 * exec -t: a terminal in the container's devpts; its master goes to the daemon.  After
	 * the go: the container shapes what the path names, and only its device cgroup, which
	 * the daemon has joined us to by now, keeps an open of another node from reaching it.
	 */
	if (ret == 0 && arena.plan.tty)
		ret = tty_open(&master, &io.in, &err);
	io.out = io.in;
	if (ret < 0) {
		say_err(syncfd, &err);
		return 127;
	}
	pid = proc_start(&arena.plan, arena.plan.tty ? &io : NULL, &err);
	if (arena.plan.tty)
		close(io.in);
	if (pid < 0) {
		say_err(syncfd, &err);
		return 127;
	}
	command_pid = pid;
	{
		static const int sigs[] = { SIGTERM, SIGINT,   SIGHUP,  SIGQUIT, SIGUSR1,
					    SIGUSR2, SIGWINCH, SIGCONT, SIGALRM };
		struct sigaction sa = { .sa_handler = forward, .sa_flags = SA_RESTART };

		for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
			sigaction(sigs[i], &sa, NULL);
	}
	if (master >= 0) {
		/* The daemon reads and writes the terminal itself; ours must not keep it open. */
		tty_send_ok(syncfd, master);
		close(master);
	} else {
		say(syncfd, "ok");
	}
	/* Our stdio must not keep the session's pipes open after the command ends. */
	for (int fd = 0; fd < 3; fd++)
		close(fd);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return 1;
	if (WIFSIGNALED(status))
		snprintf(msg, sizeof(msg), "signal %d", WTERMSIG(status));
	else
		snprintf(msg, sizeof(msg), "exit %d", WEXITSTATUS(status));
	say(syncfd, msg);
	return 0;
}
