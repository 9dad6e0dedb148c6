/*
 * The container's init, from its clone to the workload's exec.  It runs in
 * a copy of the runtime (one thread: malloc is safe), so it may use the
 * parsed config and report errors with the same struct bk_err.
 *
 *   wait for "go"      the parent has put it in its cgroup, mapped its ids
 *   join, unshare      namespaces given by path; a new cgroup namespace
 *   mounts             rootfs.c, then "hooks": createRuntime, prestart run
 *   createContainer    hooks, in the container's namespaces, before pivot
 *   pivot, mask        rootfs.c
 *   the process        PATH lookup, rlimits, cwd, terminal, user, caps
 *   "ready", fifo      create returns; start opens the fifo
 *   startContainer     hooks; then no_new_privs and seccomp, exec
 *
 * Every failure before "ready" is sent to the parent ("err CODE MESSAGE")
 * and ends the init; after it (start has been asked) it goes to stderr, the
 * caller's, and the init exits 127, as a shell's failed exec does.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "oci/oci.h"
#include "base/base.h"

#define EXIT_SETUP 127

static int sync_fd_for_fail = -1;

void
oci_child_fail(int sync_fd, const struct bk_err *err)
{
	char msg[sizeof(err->msg) + 32];
	int n;

	n = snprintf(msg, sizeof(msg), "err %d %s", err->code ? err->code : EIO, err->msg);
	if (sync_fd < 0 || send(sync_fd, msg, (size_t)n, MSG_NOSIGNAL) < 0)
		dprintf(STDERR_FILENO, "bockerfs-runtime: %s\n", err->msg);
	_exit(EXIT_SETUP);
}

static void __attribute__((noreturn)) fail(const struct bk_err *err)
{
	oci_child_fail(sync_fd_for_fail, err);
}

static void
expect(int fd, const char *what)
{
	struct bk_err err = BK_ERR_INIT;
	char buf[16];
	ssize_t n;

	do
		n = recv(fd, buf, sizeof(buf) - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		_exit(EXIT_SETUP); /* the parent is gone: it has killed us or will */
	buf[n] = '\0';
	if (strcmp(buf, what) != 0) {
		bk_err_set(&err, EPROTO, "init: expected '%s', got '%.15s'", what, buf);
		fail(&err);
	}
}

static void
join_namespaces(const struct oci_launch *l)
{
	/* The user namespace first: the others' are then ours to join. */
	static const struct {
		enum oci_ns ns;
		int flag;
		const char *name;
	} order[] = {
		{ OCI_NS_USER, CLONE_NEWUSER, "user" },
		{ OCI_NS_IPC, CLONE_NEWIPC, "ipc" },
		{ OCI_NS_UTS, CLONE_NEWUTS, "uts" },
		{ OCI_NS_NET, CLONE_NEWNET, "network" },
		{ OCI_NS_CGROUP, CLONE_NEWCGROUP, "cgroup" },
	};
	struct bk_err err = BK_ERR_INIT;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(order); i++) {
		int fd = l->ns_fd[order[i].ns];

		if (fd >= 0 && setns(fd, order[i].flag) < 0) {
			bk_err_sys(&err, "linux.namespaces: join the %s namespace %s",
				   order[i].name, l->spec->ns[order[i].ns].path);
			fail(&err);
		}
	}
	if (l->spec->ns[OCI_NS_CGROUP].present && l->spec->ns[OCI_NS_CGROUP].path == NULL &&
	    unshare(CLONE_NEWCGROUP) < 0) {
		bk_err_sys(&err, "linux.namespaces: a new cgroup namespace");
		fail(&err);
	}
}

static void
names(const struct oci_spec *s)
{
	struct bk_err err = BK_ERR_INIT;

	if (s->hostname && sethostname(s->hostname, strlen(s->hostname)) < 0) {
		bk_err_sys(&err, "hostname '%.64s'", s->hostname);
		fail(&err);
	}
	if (s->domainname && setdomainname(s->domainname, strlen(s->domainname)) < 0) {
		bk_err_sys(&err, "domainname '%.64s'", s->domainname);
		fail(&err);
	}
}

/* The state startContainer and createContainer hooks read. */
static char *
own_state(const struct oci_launch *l, enum oci_status st)
{
	struct oci_ctr c = *l->ctr;

	c.pid = (pid_t)syscall(SYS_getpid);
	return ctr_state_json(&c, st);
}

static void
say(int fd, const char *msg)
{
	if (send(fd, msg, strlen(msg), MSG_NOSIGNAL) < 0)
		_exit(EXIT_SETUP);
}

/* Block until start opens the fifo, and tell it we are going. */
static void
wait_for_start(const struct oci_launch *l)
{
	struct bk_err err = BK_ERR_INIT;
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", l->fifo_fd);
	do
		fd = open(path, O_WRONLY | O_CLOEXEC);
	while (fd < 0 && errno == EINTR);
	if (fd < 0 || write(fd, "0", 1) != 1) {
		bk_err_sys(&err, "init: the start fifo");
		oci_child_fail(-1, &err);
	}
	close(fd);
	close(l->fifo_fd);
}

void
oci_child(const struct oci_launch *l)
{
	const struct oci_spec *s = l->spec;
	const struct oci_process *p = &s->process;
	struct bk_err err = BK_ERR_INIT;
	cleanup_free char *exe = NULL;
	char **envp = NULL;
	int root_fd = -1;

	sync_fd_for_fail = l->sync_fd;
	/*
	 * Not to be looked into while it sets up: other processes (an exec into
	 * the container among them) cannot open our /proc entries.
	 */
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	/*
	 * Nothing of the caller's but stdio and the fds it preserves: the bundle,
	 * the record (its flock would block start), whatever the caller had open
	 * (CVE-2024-21626: an fd to a host directory is a way out).
	 */
	{
		int keep[4 + OCI_NS_COUNT];
		size_t n = 0, i;

		keep[n++] = l->sync_fd;
		keep[n++] = l->fifo_fd;
		keep[n++] = l->console_fd;
		for (i = 0; i < OCI_NS_COUNT; i++)
			keep[n++] = l->ns_fd[i];
		process_close_except(l->preserve_fds, keep, n);
	}
	expect(l->sync_fd, OCI_SYNC_GO);
	join_namespaces(l);
	if (s->ns[OCI_NS_UTS].present && s->ns[OCI_NS_UTS].path == NULL)
		names(s);
	/* A session keyring of its own, as runc: keys of the host's session stay out. */
	if (!l->no_new_keyring)
		(void)syscall(SYS_keyctl, 1 /* KEYCTL_JOIN_SESSION_KEYRING */, l->ctr->id);
	if (rootfs_prepare(l, &root_fd, &err) < 0)
		fail(&err);
	say(l->sync_fd, OCI_SYNC_HOOKS);
	expect(l->sync_fd, OCI_SYNC_CONT);
	if (s->n_hooks[OCI_HOOK_CREATE_CONTAINER]) {
		cleanup_free char *state = own_state(l, OCI_CREATED);

		if (hooks_run(s, OCI_HOOK_CREATE_CONTAINER, state, &err) < 0)
			fail(&err);
	}
	if (rootfs_finish(l, root_fd, &err) < 0)
		fail(&err);
	close(root_fd);
	if (process_prepare(p, &exe, &envp, &err) < 0)
		fail(&err);
	if (p->terminal && process_terminal(l->console_fd, p, &err) < 0)
		fail(&err);
	if (l->console_fd >= 0)
		close(l->console_fd);
	if (process_credentials(p, l->filter, &err) < 0)
		fail(&err);
	say(l->sync_fd, OCI_SYNC_READY);
	close(l->sync_fd);
	sync_fd_for_fail = -1;

	wait_for_start(l);
	if (s->n_hooks[OCI_HOOK_START_CONTAINER]) {
		cleanup_free char *state = own_state(l, OCI_RUNNING);

		if (hooks_run(s, OCI_HOOK_START_CONTAINER, state, &err) < 0)
			fail(&err);
	}
	if (process_seccomp_late(p, l->filter, &err) < 0)
		fail(&err);
	process_close_except(l->preserve_fds, NULL, 0);
	execve(exe, p->args, envp);
	bk_err_sys(&err, "exec %s", exe);
	oci_child_fail(-1, &err);
}
