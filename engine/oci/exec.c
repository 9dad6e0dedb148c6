/*
 * exec: a new process in a running container.  The runtime joins the
 * init's pid namespace (for its children), clones the process, which joins
 * the other namespaces of the init (the mount namespace last: its root
 * becomes the process's root), its cgroup, and becomes what the process
 * JSON says, with the container's seccomp filter; then execs.  The sync
 * socket closes on exec (CLOEXEC): EOF is success, "err ..." its reason.
 * Detached, the runtime returns once the process runs, and the caller (a
 * subreaper) inherits it; else it waits and returns its status.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/sched.h>

#include "oci/oci.h"
#include "base/base.h"
#include "proc/proc.h"

static const struct {
	const char *name;
	int flag;
} joins[] = {
	{ "user", CLONE_NEWUSER }, { "ipc", CLONE_NEWIPC },       { "uts", CLONE_NEWUTS },
	{ "net", CLONE_NEWNET },   { "cgroup", CLONE_NEWCGROUP }, { "mnt", CLONE_NEWNS },
};

/* The init's namespaces that are not ours (setns into one's own user namespace fails). */
static int
open_init_ns(pid_t pid, int fds[], struct bk_err *err)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(joins); i++) {
		char path[64], self[64];
		struct stat a, b;

		fds[i] = -1;
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, joins[i].name);
		snprintf(self, sizeof(self), "/proc/self/ns/%s", joins[i].name);
		if (stat(path, &a) < 0)
			return bk_err_sys(err, "namespace %s of the container", joins[i].name);
		if (stat(self, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev)
			continue;
		fds[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0)
			return bk_err_sys(err, "namespace %s of the container", joins[i].name);
	}
	return 0;
}

static int
process_from_args(const struct bk_rt_exec *o, const struct oci_spec *spec, struct oci_process *p,
		  struct bk_err *err)
{
	cleanup(json_decrefp) json_t *j = json_pack("{s:[], s:[], s:s, s:b}", "args", "env", "cwd",
						    spec->process.cwd, "terminal", o->tty);
	cleanup_free char *text = NULL;
	size_t i;

	if (o->args == NULL || o->args[0] == NULL)
		return bk_err_set(err, EINVAL, "exec: no command (--process FILE or a command)");
	for (i = 0; o->args[i]; i++)
		json_array_append_new(json_object_get(j, "args"), json_string(o->args[i]));
	for (i = 0; spec->process.env && spec->process.env[i]; i++)
		json_array_append_new(json_object_get(j, "env"), json_string(spec->process.env[i]));
	text = json_dumps(j, JSON_COMPACT);
	if (text == NULL)
		return bk_err_set(err, ENOMEM, "exec");
	if (oci_process_parse(text, strlen(text), p, err) < 0)
		return -err->code;
	/* As runc exec without --process: the container's user and capabilities. */
	p->uid = spec->process.uid;
	p->gid = spec->process.gid;
	p->caps = spec->process.caps;
	p->no_new_privileges = spec->process.no_new_privileges;
	return 0;
}

struct exec_child {
	const struct oci_process *p;
	const struct sock_fprog *filter;
	const int *ns_fds;
	int sync_fd, console_fd, preserve_fds;
};

static void __attribute__((noreturn)) child(const struct exec_child *x)
{
	struct bk_err err = BK_ERR_INIT;
	cleanup_free char *exe = NULL;
	char **envp = NULL;
	size_t i;

	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	for (i = 0; i < ARRAY_SIZE(joins); i++)
		if (x->ns_fds[i] >= 0 && setns(x->ns_fds[i], joins[i].flag) < 0) {
			bk_err_sys(&err, "exec: join the container's %s namespace", joins[i].name);
			oci_child_fail(x->sync_fd, &err);
		}
	/* In the container now: nothing of the caller's but stdio and what it preserves. */
	{
		int keep[2] = { x->sync_fd, x->console_fd };

		process_close_except(x->preserve_fds, keep, 2);
	}
	if (process_prepare(x->p, &exe, &envp, &err) < 0 ||
	    (x->p->terminal && process_terminal(x->console_fd, x->p, &err) < 0) ||
	    process_credentials(x->p, x->filter, &err) < 0 ||
	    process_seccomp_late(x->p, x->filter, &err) < 0)
		oci_child_fail(x->sync_fd, &err);
	process_close_except(x->preserve_fds, &x->sync_fd, 1);
	execve(exe, x->p->args, envp);
	bk_err_sys(&err, "exec %s", exe);
	oci_child_fail(x->sync_fd, &err);
}

static int
run(const struct bk_rt_exec *o, struct oci_ctr *c, const struct oci_spec *spec,
    const struct oci_process *p, struct bk_err *err)
{
	cleanup_free char *filter_bytes = NULL;
	int ns_fds[ARRAY_SIZE(joins)], sv[2] = { -1, -1 }, pidfd = -1, console = -1, ret, status;
	cleanup_close int pidns = -1;
	struct clone_args ca = { 0 };
	struct sock_fprog filter, *fp = NULL;
	char msg[sizeof(err->msg) + 32];
	ssize_t n;
	size_t i, ninsns;
	pid_t pid;

	for (i = 0; i < ARRAY_SIZE(joins); i++)
		ns_fds[i] = -1;
	if (spec->has_seccomp) {
		ret = oci_seccomp_build(&spec->seccomp, &filter_bytes, &ninsns, err);
		if (ret < 0)
			return ret;
		filter.len = (unsigned short)ninsns;
		filter.filter = (struct sock_filter *)(void *)filter_bytes;
		fp = &filter;
	}
	ret = open_init_ns(c->pid, ns_fds, err);
	if (ret < 0)
		goto out;
	{
		char path[64];

		snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)c->pid);
		pidns = open(path, O_RDONLY | O_CLOEXEC);
		if (pidns < 0) {
			ret = bk_err_sys(err, "exec: the container's pid namespace");
			goto out;
		}
	}
	if (p->terminal) {
		if (o->console_socket == NULL) {
			ret = bk_err_set(err, EINVAL, "exec: a terminal needs --console-socket");
			goto out;
		}
		console = oci_connect_console(o->console_socket, err);
		if (console < 0) {
			ret = console;
			goto out;
		}
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		ret = bk_err_sys(err, "socketpair");
		goto out;
	}
	ca.flags = CLONE_PIDFD;
	ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
	ca.exit_signal = SIGCHLD;
	pid = oci_clone_in(pidns, &ca, err);
	if (pid < 0) {
		ret = bk_err_wrap(err, "exec");
		goto out;
	}
	if (pid == 0) {
		struct exec_child x = { .p = p,
					.filter = fp,
					.ns_fds = ns_fds,
					.sync_fd = sv[1],
					.console_fd = console,
					.preserve_fds = o->preserve_fds };

		close(sv[0]);
		/* The group first, from here: once in the container's namespaces its path differs.
		 */
		if (ocg_join(c->cgroup, (pid_t)getpid(), err) < 0)
			oci_child_fail(sv[1], err);
		child(&x);
	}
	close(sv[1]);
	sv[1] = -1;
	do
		n = recv(sv[0], msg, sizeof(msg) - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		char *sp;

		msg[n] = '\0';
		sp = strchr(msg + 4, ' ');
		ret = bk_err_set(err, atoi(msg + 4) > 0 ? atoi(msg + 4) : EIO, "%s",
				 sp ? sp + 1 : msg);
		waitpid(pid, NULL, 0);
		goto out;
	}
	if (o->pid_file && (ret = oci_write_pid_file(o->pid_file, pid, err)) < 0) {
		kill(pid, SIGKILL);
		goto out;
	}
	if (o->detach) {
		ret = 0;
		goto out;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			ret = bk_err_sys(err, "exec: wait");
			goto out;
		}
	ret = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
out:
	for (i = 0; i < ARRAY_SIZE(joins); i++)
		if (ns_fds[i] >= 0)
			close(ns_fds[i]);
	if (sv[0] >= 0)
		close(sv[0]);
	if (sv[1] >= 0)
		close(sv[1]);
	if (console >= 0)
		close(console);
	if (pidfd >= 0)
		close(pidfd);
	return ret;
}

int
bk_rt_exec(const struct bk_runtime *rt, const struct bk_rt_exec *o, struct bk_err *err)
{
	struct oci_spec spec = { 0 };
	struct oci_process p = { 0 };
	cleanup_free char *text = NULL;
	struct oci_ctr c;
	enum oci_status st;
	size_t len;
	int ret;

	ret = ctr_open(rt, o->id, &c, err);
	if (ret < 0)
		return ret;
	st = ctr_status(&c);
	if (st != OCI_RUNNING && st != OCI_CREATED) {
		ret = bk_err_set(err, EINVAL, "cannot exec in a container that is %s",
				 oci_status_name(st));
		goto out;
	}
	ret = ctr_load_spec(&c, &spec, err);
	if (ret < 0)
		goto out;
	if (o->process_file) {
		cleanup_close int fd = open(o->process_file, O_RDONLY | O_CLOEXEC);

		if (fd < 0) {
			ret = bk_err_sys(err, "--process %s", o->process_file);
			goto out;
		}
		ret = read_fd_all(fd, OCI_SPEC_MAX, &text, &len, err);
		if (ret == 0)
			ret = oci_process_parse(text, len, &p, err);
		if (ret < 0) {
			bk_err_wrap(err, "--process %s", o->process_file);
			goto out;
		}
	} else {
		ret = process_from_args(o, &spec, &p, err);
		if (ret < 0)
			goto out;
	}
	/* The container's lock is not held while the process runs: other verbs go on. */
	{
		struct oci_ctr copy = {
			.id = c.id, .pid = c.pid, .cgroup = c.cgroup, .dir_fd = -1
		};

		close(c.dir_fd);
		c.dir_fd = -1;
		ret = run(o, &copy, &spec, &p, err);
	}
out:
	oci_process_free(&p);
	oci_spec_free(&spec);
	ctr_close(&c);
	return ret;
}
