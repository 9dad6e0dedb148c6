/*
 * The toucher: a child process that does the notifier's VFS operations on
 * our own mount (mkdir, rmdir, a one-byte write), so that inotify watchers
 * see changes the daemon makes by itself (see notify.c).
 *
 * Why a process and not the notifier thread itself: a thread of the daemon
 * blocked in a request to the daemon's own mount keeps the daemon's file
 * table, and with it /dev/fuse, alive.  If the daemon is SIGKILLed after a
 * worker read that request, the kernel waits for the answer uninterruptibly
 * ("already in userspace, wait it out"), the connection is never aborted,
 * and the daemon stays a zombie with a hung mount.  The toucher holds no
 * /dev/fuse descriptor: when the daemon dies the connection aborts, the
 * toucher's request fails with ENOTCONN, and it exits (EOF on its socket,
 * or PR_SET_PDEATHSIG).
 *
 * It is forked from a multi-threaded process, so the child only makes
 * async-signal-safe system calls: no malloc, no stdio, no locks.
 *
 * Protocol (SOCK_SEQPACKET): one message "OP PATH\0", OP one of 'M' mkdir,
 * 'R' rmdir, 'T' touch, each answered by an int, 0 or an errno; the first of
 * a batch opens the mount root, and 'E' (end of the batch: close it) is not
 * answered, so that a batch costs one round trip per operation and no more.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fsd.h"

#define FUSE_SUPER_MAGIC 0x65735546
#define MSG_MAX          4096 /* tree paths are short: "containers/ID/state" */

static int sock = -1;
static pid_t child;

/* The mount root, checked to be our FUSE mount and not the directory under it. */
static int
child_open_root(const char *mountpoint, dev_t under_dev)
{
	struct statfs sf;
	struct stat st;
	int fd = open(mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstatfs(fd, &sf) < 0 || sf.f_type != FUSE_SUPER_MAGIC || fstat(fd, &st) < 0 ||
	    st.st_dev == under_dev) {
		close(fd);
		return -ENODEV;
	}
	return fd;
}

static int
child_op(int mnt_fd, char op, const char *path)
{
	int fd;

	if (mnt_fd < 0)
		return mnt_fd == -1 ? EBADF : -mnt_fd;
	switch (op) {
	case 'M':
		return mkdirat(mnt_fd, path, 0700) < 0 && errno != EEXIST ? errno : 0;
	case 'R':
		return unlinkat(mnt_fd, path, AT_REMOVEDIR) < 0 && errno != ENOENT ? errno : 0;
	case 'T':
		fd = openat(mnt_fd, path, O_WRONLY | O_CLOEXEC);
		if (fd < 0)
			return errno;
		/* A write with data: IN_MODIFY; the close: IN_CLOSE_WRITE. */
		if (write(fd, "\n", 1) < 0) {
			int e = errno;

			close(fd);
			return e;
		}
		close(fd);
		return 0;
	}
	return EINVAL;
}

static void __attribute__((noreturn)) child_main(int fd, const char *mountpoint, dev_t under_dev)
{
	static char msg[MSG_MAX + 1];
	int mnt_fd = -1, answer;
	ssize_t n;

	for (;;) {
		n = recv(fd, msg, MSG_MAX, 0);
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			_exit(0); /* the daemon closed the socket or died */
		}
		msg[n] = '\0';
		if (msg[0] == 'E') {
			/* Never kept: an open fd on the mount makes `fusermount3 -u` fail (EBUSY).
			 */
			if (mnt_fd >= 0)
				close(mnt_fd);
			mnt_fd = -1;
			continue;
		}
		if (mnt_fd < 0)
			mnt_fd = child_open_root(mountpoint, under_dev);
		answer = child_op(mnt_fd, msg[0], msg + 1);
		/* Not our mount (yet, or any more): opened again for the next operation. */
		if (mnt_fd < 0)
			mnt_fd = -1;
		if (send(fd, &answer, sizeof(answer), MSG_NOSIGNAL) < 0)
			_exit(0);
	}
}

int
toucher_start(const char *mountpoint, dev_t under_dev)
{
	int sv[2];
	pid_t pid, parent = getpid();

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int e = errno;

		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	if (pid == 0) {
		/* Only the socket: above all, not /dev/fuse. */
		if (dup2(sv[1], 3) < 0)
			_exit(1);
		if (close_range(4U, ~0U, 0) < 0) {
			/* Before Linux 5.9: one by one, up to the limit. */
			struct rlimit rl;
			int fd, max = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (1U << 20)
					  ? (int)rl.rlim_cur
					  : 1 << 20;

			for (fd = 4; fd < max; fd++)
				close(fd);
		}
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(0);
		child_main(3, mountpoint, under_dev);
	}
	close(sv[1]);
	sock = sv[0];
	child = pid;
	return 0;
}

pid_t
toucher_pid(void)
{
	return child;
}

int
toucher_do(char op, const char *path)
{
	char msg[MSG_MAX];
	size_t len = path ? strlen(path) : 0;
	int answer;
	ssize_t n;

	if (sock < 0)
		return ENOTCONN;
	if (len + 1 > sizeof(msg))
		return ENAMETOOLONG;
	msg[0] = op;
	if (len)
		memcpy(msg + 1, path, len);
	if (send(sock, msg, len + 1, MSG_NOSIGNAL) < 0)
		return errno;
	if (op == 'E')
		return 0; /* not answered */
	do
		n = recv(sock, &answer, sizeof(answer), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(answer))
		return n < 0 ? errno : EPIPE;
	return answer;
}

/*
 * The FUSE loop has ended: an operation the toucher has in flight on the
 * mount may never be answered (libfuse's workers drop a request they read
 * after the exit began, and the kernel then waits it out, uninterruptibly,
 * until /dev/fuse is closed).  So the toucher is killed (which ends a wait
 * for a request still queued), and the notifier's toucher_do, which may
 * wait for its answer, returns at once (the socket is shut down).
 */
void
toucher_kill(void)
{
	if (child > 0)
		kill(child, SIGKILL);
	if (sock >= 0)
		shutdown(sock, SHUT_RDWR);
}

/*
 * Close the socket (the toucher exits at EOF) and reap it, unless it is
 * stuck in a request: then toucher_reap() after the session is closed.
 */
void
toucher_stop(void)
{
	pid_t r;

	if (sock < 0)
		return;
	close(sock);
	sock = -1;
	/* At EOF it exits at once; give it a moment before taking it for stuck. */
	for (int i = 0; i < 100; i++) {
		while ((r = waitpid(child, NULL, WNOHANG)) < 0 && errno == EINTR)
			;
		if (r != 0)
			break;
		usleep(1000);
	}
	if (r != 0)
		child = 0;
}

/* Reap a toucher that was stuck in a request (its connection is closed now). */
void
toucher_reap(void)
{
	if (child <= 0)
		return;
	while (waitpid(child, NULL, 0) < 0 && errno == EINTR)
		;
	child = 0;
}
