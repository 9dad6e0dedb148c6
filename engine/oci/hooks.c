/*
 * Hooks (runtime-spec config.md, "POSIX-platform Hooks"): each hook's path
 * run with its args and env, the container's state JSON on its stdin, its
 * output on the runtime's stderr, killed at its timeout.  Docker's network
 * (libnetwork-setkey, a prestart hook) and podman's hooks.d come this way.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "oci/oci.h"
#include "base/base.h"

static const char *const kind_names[OCI_HOOK_KINDS] = {
	"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop",
};

static int
run_one(const struct oci_hook *h, const char *state, const char *what, struct bk_err *err)
{
	cleanup_close int pidfd = -1;
	char *argv0[] = { h->path, NULL };
	int in[2], status = 0;
	siginfo_t info;
	pid_t pid;

	if (pipe2(in, O_CLOEXEC) < 0)
		return bk_err_sys(err, "%s", what);
	pid = fork();
	if (pid < 0) {
		close(in[0]);
		close(in[1]);
		return bk_err_sys(err, "%s: fork", what);
	}
	if (pid == 0) {
		if (dup2(in[0], 0) < 0 || dup2(2, 1) < 0)
			_exit(127);
		execve(h->path, h->args && h->args[0] ? h->args : argv0, h->env);
		dprintf(2, "bockerfs-runtime: %s: exec %s: %s\n", what, h->path, strerror(errno));
		_exit(127);
	}
	close(in[0]);
	/* A hook that does not read its stdin must not stop us: EPIPE is ignored. */
	{
		struct sigaction ign = { .sa_handler = SIG_IGN }, old;

		sigaction(SIGPIPE, &ign, &old);
		if (write_all(in[1], state, strlen(state)) < 0 && errno != EPIPE)
			bk_log(BK_LOG_WARN, "%s: state: %s", what, strerror(errno));
		sigaction(SIGPIPE, &old, NULL);
	}
	close(in[1]);
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (h->timeout > 0 && pidfd >= 0) {
		struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
		int r;

		do
			r = poll(&pfd, 1, h->timeout * 1000);
		while (r < 0 && errno == EINTR);
		if (r == 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return bk_err_set(err, ETIMEDOUT, "%s: %s did not finish within %d s", what,
					  h->path, h->timeout);
		}
	}
	memset(&info, 0, sizeof(info));
	while (waitid(P_PID, (id_t)pid, &info, WEXITED) < 0)
		if (errno != EINTR)
			return bk_err_sys(err, "%s: wait", what);
	status = info.si_status;
	if (info.si_code != CLD_EXITED)
		return bk_err_set(err, EIO, "%s: %s was killed by signal %d", what, h->path,
				  status);
	if (status != 0)
		return bk_err_set(err, EIO, "%s: %s exited with status %d", what, h->path, status);
	return 0;
}

int
hooks_run(const struct oci_spec *spec, enum oci_hook_kind kind, const char *state,
	  struct bk_err *err)
{
	size_t i;

	for (i = 0; i < spec->n_hooks[kind]; i++) {
		char what[48];

		snprintf(what, sizeof(what), "hooks.%s[%zu]", kind_names[kind], i);
		if (run_one(&spec->hooks[kind][i], state ? state : "{}", what, err) < 0)
			return -err->code;
	}
	return 0;
}
