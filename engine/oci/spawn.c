/*
 * create's parent side: clone the init into the namespaces config.json
 * asks for, put it in its cgroup and write its id maps while it waits, run
 * the createRuntime and prestart hooks when it says its mounts are made, and
 * return once it waits on the fifo.  Any failure kills it: a create that
 * fails leaves no process behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/sched.h>

#include "oci/oci.h"
#include "base/base.h"
#include "common/syscalls.h"

static const int ns_flag[OCI_NS_COUNT] = {
	[OCI_NS_PID] = CLONE_NEWPID,       [OCI_NS_NET] = CLONE_NEWNET,
	[OCI_NS_MNT] = CLONE_NEWNS,        [OCI_NS_IPC] = CLONE_NEWIPC,
	[OCI_NS_UTS] = CLONE_NEWUTS,       [OCI_NS_USER] = CLONE_NEWUSER,
	[OCI_NS_CGROUP] = CLONE_NEWCGROUP,
};

static int
write_map(pid_t pid, const char *file, const struct oci_id_map *m, size_t n, struct bk_err *err)
{
	char path[64], text[4096];
	size_t at = 0, i;
	int fd, ret = 0;

	for (i = 0; i < n && at < sizeof(text); i++)
		at += (size_t)snprintf(text + at, sizeof(text) - at, "%u %u %u\n",
				       m[i].container_id, m[i].host_id, m[i].size);
	if (at >= sizeof(text))
		return bk_err_set(err, E2BIG, "linux.%s: too many mappings", file);
	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return bk_err_sys(err, "write %s", path);
	if (write(fd, text, at) != (ssize_t)at)
		ret = bk_err_sys(err, "write %s", path);
	close(fd);
	return ret;
}

static int
parent_setup(const struct oci_launch *l, pid_t pid, struct bk_err *err)
{
	const struct oci_spec *s = l->spec;
	char path[64], v[16];
	int fd;

	if (ocg_create(l->cgroup, s->has_resources ? &s->resources : NULL, pid, err) < 0)
		return -err->code;
	if (s->ns[OCI_NS_USER].present && s->ns[OCI_NS_USER].path == NULL) {
		if (write_map(pid, "uid_map", s->uid_mappings, s->n_uid_mappings, err) < 0 ||
		    write_map(pid, "gid_map", s->gid_mappings, s->n_gid_mappings, err) < 0)
			return -err->code;
	}
	if (s->process.has_oom_score_adj) {
		snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", (int)pid);
		snprintf(v, sizeof(v), "%d", s->process.oom_score_adj);
		fd = open(path, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, v, strlen(v)) < 0) {
			bk_err_sys(err, "process.oomScoreAdj: write %s", path);
			if (fd >= 0)
				close(fd);
			return -err->code;
		}
		close(fd);
	}
	return 0;
}

static int
send_msg(int fd, const char *msg, struct bk_err *err)
{
	if (send(fd, msg, strlen(msg), MSG_NOSIGNAL) < 0)
		return bk_err_sys(err, "the container's init");
	return 0;
}

/* The state the createRuntime and prestart hooks read: "created" as runc gives it. */
static char *
hook_state(const struct oci_launch *l, pid_t pid)
{
	struct oci_ctr c = *l->ctr;

	c.pid = pid;
	return ctr_state_json(&c, OCI_CREATED);
}

/* Wait for the init's next message: its length, 0 at EOF (it died), or -errno. */
static ssize_t
recv_msg(int fd, char *buf, size_t size)
{
	ssize_t n;

	do
		n = recv(fd, buf, size - 1, 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return n;
}

static int
converse(const struct oci_launch *l, int fd, pid_t pid, struct bk_err *err)
{
	char msg[sizeof(err->msg) + 8];
	ssize_t n;

	if (send_msg(fd, OCI_SYNC_GO, err) < 0)
		return -err->code;
	for (;;) {
		n = recv_msg(fd, msg, sizeof(msg));
		if (n < 0)
			return bk_err_set(err, (int)-n, "the container's init: %s",
					  strerror((int)-n));
		if (n == 0)
			return bk_err_set(err, EIO, "the container's init exited during its setup");
		if (strncmp(msg, "err ", 4) == 0) {
			char *sp = strchr(msg + 4, ' ');
			int code = atoi(msg + 4);

			return bk_err_set(err, code > 0 ? code : EIO, "%s", sp ? sp + 1 : msg + 4);
		}
		if (strcmp(msg, OCI_SYNC_READY) == 0)
			return 0;
		if (strcmp(msg, OCI_SYNC_HOOKS) == 0) {
			cleanup_free char *state = hook_state(l, pid);

			if (hooks_run(l->spec, OCI_HOOK_PRESTART, state, err) < 0 ||
			    hooks_run(l->spec, OCI_HOOK_CREATE_RUNTIME, state, err) < 0 ||
			    send_msg(fd, OCI_SYNC_CONT, err) < 0)
				return -err->code;
			continue;
		}
		return bk_err_set(err, EPROTO, "the container's init said '%.64s'", msg);
	}
}

pid_t
oci_clone_in(int pidns_fd, struct clone_args *ca, struct bk_err *err)
{
	cleanup_close int own = -1;
	pid_t pid;

	if (pidns_fd >= 0) {
		own = open("/proc/self/ns/pid", O_RDONLY | O_CLOEXEC);
		if (own < 0)
			return bk_err_sys(err, "our pid namespace");
		if (setns(pidns_fd, CLONE_NEWPID) < 0)
			return bk_err_sys(err, "join the container's pid namespace");
	}
	pid = (pid_t)sys_clone3(ca, sizeof(*ca));
	if (pid < 0)
		bk_err_sys(err, "clone");
	/*
	 * Back in ours for later children: hooks run in the runtime's namespaces,
	 * and a sanitizer's helper threads must see us.
	 */
	if (pid != 0 && own >= 0 && setns(own, CLONE_NEWPID) < 0)
		bk_log(BK_LOG_WARN, "return to our pid namespace: %s", strerror(errno));
	return pid < 0 ? -err->code : pid;
}

int
oci_spawn(struct oci_launch *l, int *pidfd_out, struct bk_err *err)
{
	const struct oci_spec *s = l->spec;
	struct clone_args ca = { 0 };
	int sv[2], pidfd = -1, i;
	uint64_t flags = 0;
	pid_t pid;

	for (i = 0; i < OCI_NS_COUNT; i++)
		if (s->ns[i].present && s->ns[i].path == NULL && i != OCI_NS_CGROUP)
			flags |= (uint64_t)ns_flag[i];
	/*
	 * A pid namespace given by path is joined for the clone (oci_clone_in); a
	 * new cgroup namespace is made by the init once it is in its group, so
	 * that the group is the namespace's root.
	 */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return bk_err_sys(err, "socketpair");
	ca.flags = flags | CLONE_PIDFD;
	ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
	ca.exit_signal = SIGCHLD;
	pid = oci_clone_in(l->ns_fd[OCI_NS_PID], &ca, err);
	if (pid < 0) {
		bk_err_wrap(err, "the container's init");
		close(sv[0]);
		close(sv[1]);
		return -err->code;
	}
	if (pid == 0) {
		close(sv[0]);
		l->sync_fd = sv[1];
		oci_child(l);
	}
	close(sv[1]);
	if (parent_setup(l, pid, err) < 0 || converse(l, sv[0], pid, err) < 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		ocg_remove(l->cgroup);
		close(pidfd);
		close(sv[0]);
		return -err->code;
	}
	close(sv[0]);
	*pidfd_out = pidfd;
	return pid;
}
