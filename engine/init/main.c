/*
 * bockerfs-init: PID 1 of every bockerfs container.
 *
 * The daemon clones it into new pid, mount, uts, ipc (and net) namespaces
 * and execs "bockerfs-init PLANFD SYNCFD DIRFD" with an empty environment:
 *
 *   PLANFD  a memfd with the plan (plan.h), read once and closed
 *   SYNCFD  a SOCK_SEQPACKET socket to the daemon: it sends "go"; init
 *           answers "ok" once the workload has exec'd ("ok N" with an fd
 *           attached when the daemon writes its input: a tty's master,
 *           init's fd N, or the write end of its stdin pipe), or
 *           "err STEP ERRNO MESSAGE" and exits 127
 *   DIRFD   the container's state directory: bind= sources, "log" (the
 *           workload's stdout and stderr, rotated to "log.1" at log_max)
 *           and "exit" ("exit N" or "signal N"), written atomically
 *
 * or, as a spare (engine/proc/spare_init.c), "bockerfs-init --spare SYNCFD"
 * (the daemon dropped the control tree from its mount table before the
 * exec; no net namespace yet): it waits for "plan" with PLANFD, DIRFD and
 * the network namespace to enter attached, and exits at EOF.
 * Either way it sets up the container's filesystem before it waits for "go".
 *
 * After "ok" init is the container's monitor, so the container does not
 * depend on the daemon: it copies output to the log, forwards signals to
 * the workload, reaps orphans like tini, and when the workload ends writes
 * the exit file and exits with its status, which kills the namespace.  The
 * loop runs on one 16 KiB static buffer and no heap.
 */
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/syscalls.h"
#include "exec.h"
#include "plan.h"
#include "proc.h"
#include "setup.h"
#include "tty.h"

#define EXIT_SETUP 127 /* the workload never ran */

/* The plan lives in its own mapping, returned to the kernel once the workload runs. */

struct monitor {
	pid_t child; /* the workload */
	int dirfd;
	int sfd;   /* signalfd of every forwarded signal and SIGCHLD */
	int logr;  /* read end of the workload's stdout and stderr (a tty's master); -1 at EOF */
	int input; /* for the daemon: a tty's master (init keeps it) or stdin's write end; -1 */
	int logfd;
	uint64_t log_max;
	uint64_t log_size;
	uint64_t log_lost; /* bytes that could not be written (disk full), not yet reported */
	int log_errno;
};

static char iobuf[16384];

static void
reset_signals(void)
{
	static const struct kernel_sigaction dfl = { .handler = SIG_DFL };
	sigset_t none;
	int sig;

	/*
	 * The daemon's threads block some signals and libfuse ignores SIGPIPE; exec keeps both.
	 * The raw call: libc's sigaction refuses libc's own real-time signals (musl: 32-34), and
	 * one ignored by whoever started the daemon must not stay ignored in every container.
	 */
	for (sig = 1; sig < NSIG; sig++)
		syscall(SYS_rt_sigaction, sig, &dfl, NULL,
			sizeof(dfl.mask)); /* EINVAL: KILL, STOP */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static bool
parse_fd(const char *s, int *fd)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < 0 || v > 65535)
		return false;
	*fd = (int)v;
	return true;
}

/*
 * Keep exactly the daemon's n fds (at most 3), above 2 and CLOEXEC, with
 * /dev/null on 0, 1 and 2 so that no fd of ours is ever mistaken for stdio.
 */
static int
own_fds(int *fds, int n)
{
	int i, null;

	if (n < 1 || n > 3)
		return -1;
	for (i = 0; i < n; i++) {
		if (fcntl(fds[i], F_GETFD) < 0)
			return -1;
		if (fds[i] < 3 && (fds[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3)) < 0)
			return -1;
		if (fcntl(fds[i], F_SETFD, FD_CLOEXEC) < 0)
			return -1;
	}
	if (close_all_but(fds, n) < 0)
		return -1;
	null = open("/dev/null", O_RDWR);
	if (null < 0)
		return -1;
	for (i = 0; i < 3; i++) {
		if (null != i && dup2(null, i) < 0)
			return -1;
	}
	if (null > 2)
		close(null);
	return 0;
}

/*
 * A spare init (the daemon's spare_init.c) waits here for its container:
 * "plan" with the plan's memfd, the container's directory and its network
 * namespace.  false at EOF (the pool was stopped, or the daemon died), or
 * for anything else: the spare just exits.
 */
static bool
receive_plan(int syncfd, int *planfd, int *dirfd, int *netfd)
{
	union {
		char buf[CMSG_SPACE(3 * sizeof(int))];
		struct cmsghdr align;
	} u;
	char word[8];
	struct iovec iov = { .iov_base = word, .iov_len = sizeof(word) };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = u.buf,
			     .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *cm;
	ssize_t n;
	int fds[3] = { -1, -1, -1 };

	do
		n = recvmsg(syncfd, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	cm = CMSG_FIRSTHDR(&mh);
	if (n != 4 || memcmp(word, "plan", 4) != 0 || cm == NULL || cm->cmsg_level != SOL_SOCKET ||
	    cm->cmsg_type != SCM_RIGHTS || cm->cmsg_len != CMSG_LEN(sizeof(fds)))
		return false;
	memcpy(fds, CMSG_DATA(cm), sizeof(fds));
	*planfd = fds[0];
	*dirfd = fds[1];
	*netfd = fds[2];
	return true;
}

static int
read_plan(int planfd, struct plan_arena *a, struct init_err *err)
{
	size_t len = 0;
	ssize_t n;

	while (len < sizeof(a->buf)) {
		n = pread(planfd, a->buf + len, sizeof(a->buf) - len, (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return init_fail_sys(err, "plan", "read the plan");
		if (n == 0)
			break;
		len += (size_t)n;
	}
	return plan_parse(a->buf, len, a->vec, PLAN_VEC_SLOTS, &a->plan, err);
}

static bool
wait_go(int syncfd)
{
	char buf[8];
	ssize_t n;

	do
		n = recv(syncfd, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	return n == 2 && memcmp(buf, "go", 2) == 0;
}

/* One datagram; MSG_NOSIGNAL because a daemon that went away must not kill init. */
static void
send_msg(int syncfd, const char *msg, size_t len)
{
	while (send(syncfd, msg, len, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

static void
send_err(int syncfd, const struct init_err *err)
{
	char line[16 + sizeof(err->step) + sizeof(err->msg)];
	int n = snprintf(line, sizeof(line), "err %s %d %s", err->step, err->code, err->msg);
	int i;

	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = (int)sizeof(line) - 1;
	/* One line whatever a path in the message held. */
	for (i = 0; i < n; i++) {
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	}
	send_msg(syncfd, line, (size_t)n);
}

/* Faults must still kill init; SIGKILL and SIGSTOP cannot be blocked. */
static void
forwarded_signals(sigset_t *set)
{
	/*
	 * Not sigfillset, which leaves out libc's own real-time signals (musl: 32-34, glibc:
	 * 32-33): init uses none, and the kernel drops a signal PID 1 neither blocks nor handles.
	 */
	memset(set, 0xff, sizeof(*set));
	sigdelset(set, SIGSEGV);
	sigdelset(set, SIGBUS);
	sigdelset(set, SIGFPE);
	sigdelset(set, SIGILL);
	sigdelset(set, SIGTRAP);
	sigdelset(set, SIGSYS);
	sigdelset(set, SIGABRT);
}

/*
 * The kernel drops a signal sent to a namespace's PID 1 that has no
 * handler, unless it is blocked: then it waits in the signalfd.  Blocked
 * before fork, so nothing is lost while the workload starts.
 */
static int
open_signalfd(struct monitor *m, struct init_err *err)
{
	sigset_t set;

	forwarded_signals(&set);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return init_fail_sys(err, "signals", "block signals");
	m->sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (m->sfd < 0)
		return init_fail_sys(err, "signals", "signalfd");
	return 0;
}

static int
open_log(struct monitor *m)
{
	struct stat st;

	m->logfd =
	    openat(m->dirfd, "log", O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
	m->log_size = 0;
	if (m->logfd < 0)
		return -1;
	if (fstat(m->logfd, &st) == 0)
		m->log_size = (uint64_t)st.st_size;
	return 0;
}

/* The write end goes to the workload; only the read end is non-blocking. */
static int
open_log_pipe(struct monitor *m, int *logw, struct init_err *err)
{
	int p[2];

	if (open_log(m) < 0)
		return init_fail_sys(err, "log", "open the log");
	if (pipe2(p, O_CLOEXEC) < 0)
		return init_fail_sys(err, "log", "log pipe");
	m->logr = p[0];
	*logw = p[1];
	if (fcntl(m->logr, F_SETFL, O_NONBLOCK) < 0)
		return init_fail_sys(err, "log", "log pipe");
	return 0;
}

/*
 * The workload's stdio: a new tty (docker run -t), whose master init reads
 * as it reads the log pipe otherwise; or the log pipe, with stdin on a pipe
 * the daemon writes (-i) or /dev/null.
 */
static int
open_stdio(struct monitor *m, const struct init_plan *plan, struct proc_io *io, int *logw,
	   int *stdin_r, struct init_err *err)
{
	int p[2];

	if (plan->tty) {
		if (open_log(m) < 0)
			return init_fail_sys(err, "log", "open the log");
		if (tty_open(&m->logr, &io->in, err) < 0)
			return -err->code;
		io->out = io->in;
		io->tty = true;
		m->input = m->logr;
		return 0;
	}
	if (open_log_pipe(m, logw, err) < 0)
		return -err->code;
	io->out = *logw;
	if (plan->stdin_pipe) {
		if (pipe2(p, O_CLOEXEC) < 0)
			return init_fail_sys(err, "stdin", "stdin pipe");
		io->in = *stdin_r = p[0];
		m->input = p[1];
	}
	return 0;
}

/* What the start prepares for the workload, before or after the go. */
struct start_state {
	struct proc_io io;
	int logw, stdin_r;
	bool confined; /* in its cgroup namespace, under the filter */
	bool stdio;    /* open_stdio done */
};

/*
 * The cgroup namespace, whose root is the cgroup init is in, then the
 * seccomp filter, last so that everything before may mount and unshare;
 * init keeps the filter too, so every process of the container has it, as in
 * Docker (where PID 1 is the workload, or tini under --init).
 */
static int
confine(const struct init_plan *plan, struct start_state *st, struct init_err *err)
{
	if (plan->cgroupns && unshare(CLONE_NEWCGROUP) < 0)
		return init_fail_sys(err, "cgroupns", "unshare the cgroup namespace");
	st->confined = true;
	return setup_seccomp(plan, err);
}

/*
 * Before the go, while the daemon joins init to its cgroup and network: the
 * signals, the log and stdio; and, for a spare that was in its container's
 * cgroup from its clone (in_cgroup: cgroup v1, where the start renames the
 * spare's group), confine() too, whose filter takes the kernel half a
 * millisecond to compile.
 */
static int
start_prepare(struct monitor *m, const struct init_plan *plan, bool in_cgroup,
	      struct start_state *st, struct init_err *err)
{
	int ret;

	m->log_max = plan->log_max;
	ret = open_signalfd(m, err);
	/* A terminal is opened in the container's /dev: only once in its device cgroup. */
	if (ret == 0 && (in_cgroup || !plan->tty)) {
		ret = open_stdio(m, plan, &st->io, &st->logw, &st->stdin_r, err);
		st->stdio = true;
	}
	if (ret == 0 && (in_cgroup || !plan->cgroupns))
		ret = confine(plan, st, err);
	return ret;
}

/* After the go: the daemon has moved init into the container's cgroup. */
static int
start(struct monitor *m, const struct init_plan *plan, struct start_state *st, struct init_err *err)
{
	int ret = st->stdio ? 0 : open_stdio(m, plan, &st->io, &st->logw, &st->stdin_r, err);

	if (ret == 0 && !st->confined)
		ret = confine(plan, st, err);
	if (ret == 0)
		ret = m->child = proc_start(plan, &st->io, err);
	/* The workload's ends are its own now: a tty's slave must close with it (EIO on the
	 * master). */
	if (st->io.tty)
		close(st->io.in);
	return ret < 0 ? ret : 0;
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void
rotate_log(struct monitor *m)
{
	renameat(m->dirfd, "log", m->dirfd, "log.1");
	if (m->logfd >= 0)
		close(m->logfd);
	open_log(m);
}

/* How much of n bytes fits in the current log file (all of it if rotation failed). */
static size_t
log_room(const struct monitor *m, size_t n)
{
	if (m->log_max == 0 || m->log_size >= m->log_max || m->log_max - m->log_size >= n)
		return n;
	return (size_t)(m->log_max - m->log_size);
}

/*
 * Output lost earlier (disk full) is reported in the log, once the log can
 * be written again: a reader sees where the gap is and why.
 */
static void
log_report_lost(struct monitor *m)
{
	char line[128];
	int len;

	if (m->log_lost == 0 || m->logfd < 0)
		return;
	len = snprintf(line, sizeof(line), "[bockerfs: %llu bytes of output lost: %s]\n",
		       (unsigned long long)m->log_lost, strerror(m->log_errno));
	if (len > 0 && write_all(m->logfd, line, (size_t)len) == 0) {
		m->log_size += (uint64_t)len;
		m->log_lost = 0;
	}
}

/*
 * Keep each log file within log_max.  A write that fails (disk full) loses
 * that output: the workload must never block on a log init cannot write.
 */
static void
log_write(struct monitor *m, const char *p, size_t n)
{
	size_t chunk;

	while (n > 0) {
		if (m->logfd < 0)
			open_log(m);
		if (m->logfd >= 0 && m->log_max > 0 && m->log_size >= m->log_max)
			rotate_log(m);
		log_report_lost(m);
		chunk = log_room(m, n);
		if (m->logfd >= 0 && m->log_lost == 0 && write_all(m->logfd, p, chunk) == 0) {
			m->log_size += chunk;
		} else {
			m->log_lost += chunk;
			m->log_errno = m->logfd < 0 ? EBADF : errno;
		}
		p += chunk;
		n -= chunk;
	}
}

/* One read of the log pipe: > 0 copied, 0 at EOF, -1 with errno (EAGAIN: empty for now). */
static ssize_t
pump_log(struct monitor *m)
{
	ssize_t n;

	do
		n = read(m->logr, iobuf, sizeof(iobuf));
	while (n < 0 && errno == EINTR);
	if (n > 0)
		log_write(m, iobuf, (size_t)n);
	return n;
}

/*
 * What the workload wrote before it died.  Its children may still hold the
 * pipe and keep writing, so take at most what the pipe can hold and stop
 * when it would block.
 */
static void
drain_log(struct monitor *m)
{
	int cap = m->logr >= 0 ? fcntl(m->logr, F_GETPIPE_SZ) : 0;
	long left = cap > 0 ? cap : (long)sizeof(iobuf);
	ssize_t n;

	while (m->logr >= 0 && left > 0 && (n = pump_log(m)) > 0)
		left -= n;
}

/*
 * exit or signal, as "exit N\n" or "signal N\n": temp file, then rename, so
 * a reader never sees half a line.  No fsync: what must survive is the death
 * of processes (the daemon's, ours), and the page cache outlives those; an
 * fsync here would add milliseconds to every container's exit.
 */
static void
write_exit_file(int dirfd, const char *line, size_t len)
{
	int fd =
	    openat(dirfd, ".exit.tmp", O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);

	if (fd < 0)
		return;
	if (write_all(fd, line, len) < 0) {
		close(fd);
		unlinkat(dirfd, ".exit.tmp", 0);
		return;
	}
	close(fd);
	renameat(dirfd, ".exit.tmp", dirfd, "exit");
}

static _Noreturn void
finish(struct monitor *m, int status)
{
	char line[32];
	int code, n;

	drain_log(m);
	if (WIFSIGNALED(status)) {
		n = snprintf(line, sizeof(line), "signal %d\n", WTERMSIG(status));
		code = 128 + WTERMSIG(status);
	} else {
		n = snprintf(line, sizeof(line), "exit %d\n", WEXITSTATUS(status));
		code = WEXITSTATUS(status);
	}
	/* The log is written before the exit file: whoever sees the exit reads a whole log. */
	write_exit_file(m->dirfd, line, (size_t)n);
	/* Leaving PID 1 kills whatever is left in the namespace. */
	_exit(code);
}

/* Reap every child, orphans included, as tini does; the workload's end is ours. */
static void
reap(struct monitor *m)
{
	int status;
	pid_t pid;

	for (;;) {
		pid = waitpid(-1, &status, WNOHANG);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid <= 0)
			return;
		if (pid == m->child)
			finish(m, status);
	}
}

static void
handle_signals(struct monitor *m)
{
	struct signalfd_siginfo si;

	while (read(m->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD)
			reap(m);
		else if (m->child > 0) /* never kill(-1): that is every process */
			kill(m->child, (int)si.ssi_signo);
	}
}

static int
shed_segment(struct dl_phdr_info *info, size_t size, void *data)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), lo, hi;
	int i;

	(void)size;
	(void)data;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		/* Never a writable segment: its private pages hold relocations. */
		if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W))
			continue;
		lo = (info->dlpi_addr + ph->p_vaddr + page - 1) & ~(page - 1);
		hi = (info->dlpi_addr + ph->p_vaddr + ph->p_memsz) & ~(page - 1);
		if (hi > lo)
			madvise((void *)lo, hi - lo, MADV_DONTNEED);
	}
	return 1; /* the executable comes first; a static binary has nothing else */
}

/*
 * Setup ran most of libc (stdio, mount, exec paths) and the kernel mapped
 * its code in 64 KiB fault-around windows: some 600 KiB of this process's
 * Pss that the loop never touches again.  Dropping the mappings of the
 * read-only segments costs nothing (the pages stay in the page cache) and
 * leaves only what the loop faults back in.
 */
static void
shed_code_pages(void)
{
	dl_iterate_phdr(shed_segment, NULL);
}

static _Noreturn void
monitor_loop(struct monitor *m)
{
	struct pollfd pfd[2] = { { m->sfd, POLLIN, 0 }, { m->logr, POLLIN, 0 } };
	ssize_t n;

	for (;;) {
		if (poll(pfd, 2, -1) < 0)
			continue;
		if (pfd[1].revents != 0) {
			n = pump_log(m);
			/* EOF: every writer is gone.  Any other error: nothing more will come. */
			if (n == 0 || (n < 0 && errno != EAGAIN)) {
				close(m->logr);
				m->logr = pfd[1].fd = -1;
			}
		}
		if (pfd[0].revents != 0)
			handle_signals(m);
	}
}

int
main(int argc, char **argv)
{
	struct init_err err = { "", 0, "" };
	struct monitor m = { .child = -1, .sfd = -1, .logr = -1, .logfd = -1, .input = -1 };
	struct plan_arena *a;
	struct start_state st = { .io = { .in = -1, .out = -1 }, .logw = -1, .stdin_r = -1 };
	int fds[3], netfd = -1, stagefd = -1, ret;
	bool in_cgroup = false;

	if (argc == 5 && strcmp(argv[1], "--exec") == 0)
		return exec_main(argc, argv);
	/* First of all: the container must never open /proc/1/{fd,exe,mem} (CVE-2019-5736). */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return 1;
	reset_signals();
	prctl(PR_SET_NAME, "init", 0, 0, 0);
	if ((argc == 3 || (argc == 4 && strcmp(argv[3], "in-cgroup") == 0)) &&
	    strcmp(argv[1], "--spare") == 0) {
		in_cgroup = argc == 4;
		if (!parse_fd(argv[2], &fds[1]) || own_fds(&fds[1], 1) < 0)
			return 1;
		/* What needs no plan is done while waiting for one; else the start does it. */
		stagefd = setup_stage(&err);
		err = (struct init_err){ "", 0, "" };
		if (!receive_plan(fds[1], &fds[0], &fds[2], &netfd))
			return 0;
	} else if (argc != 4 || !parse_fd(argv[1], &fds[0]) || !parse_fd(argv[2], &fds[1]) ||
		   !parse_fd(argv[3], &fds[2]) || own_fds(fds, 3) < 0) {
		return 1;
	}
	m.dirfd = fds[2];
	/*
	 * A spare is in the daemon's network namespace until now: it enters the
	 * container's, made ahead, first (before it reads the plan, and before
	 * /sys is mounted, which shows its links).
	 */
	ret = 0;
	if (netfd >= 0) {
		if (setns(netfd, CLONE_NEWNET) < 0)
			ret = init_fail_sys(&err, "netns", "enter the network namespace");
		close(netfd);
	}
	a = mmap(NULL, sizeof(*a), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED)
		ret = init_fail_sys(&err, "plan", "map the plan");
	else if (ret == 0)
		ret = read_plan(fds[0], a, &err);
	close(fds[0]);
	/* The filesystem first: the daemon joins us to our cgroup and network meanwhile. */
	if (ret == 0)
		ret = setup_container(&a->plan, m.dirfd, stagefd, &err);
	if (stagefd >= 0)
		close(stagefd);
	if (ret == 0)
		ret = start_prepare(&m, &a->plan, in_cgroup, &st, &err);
	if (!wait_go(fds[1]))
		return 1;
	if (ret == 0)
		ret = start(&m, &a->plan, &st, &err);
	if (st.logw >= 0)
		close(st.logw);
	if (st.stdin_r >= 0)
		close(st.stdin_r);
	if (ret < 0) {
		send_err(fds[1], &err);
		return EXIT_SETUP;
	}
	munmap(a, sizeof(*a));
	tty_send_ok(fds[1], m.input);
	/* A stdin pipe's write end is the daemon's alone: its close is the workload's EOF. */
	if (m.input >= 0 && m.input != m.logr)
		close(m.input);
	close(fds[1]);
	shed_code_pages();
	monitor_loop(&m);
}
