/*
 * start: open the fifo the init waits on, which lets it exec the workload,
 * then the poststart hooks.  The fifo is opened without blocking and then
 * polled together with the init's pidfd: an init that died while created
 * makes start fail at once instead of hanging on a fifo nobody will write.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "oci/oci.h"
#include "base/base.h"

int
bk_rt_start(const struct bk_runtime *rt, const char *id, struct bk_err *err)
{
	struct oci_ctr c;
	struct oci_spec spec = { 0 };
	cleanup_close int fifo = -1, pidfd = -1;
	cleanup_free char *state = NULL;
	enum oci_status st;
	char byte;
	int ret;

	ret = ctr_open(rt, id, &c, err);
	if (ret < 0)
		return ret;
	st = ctr_status(&c);
	if (st != OCI_CREATED) {
		ret = bk_err_set(err, EINVAL, "cannot start a container that is %s",
				 oci_status_name(st));
		goto out;
	}
	pidfd = ctr_pidfd(&c);
	fifo = openat(c.dir_fd, OCI_FIFO, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
	if (pidfd < 0 || fifo < 0) {
		ret = bk_err_set(err, pidfd < 0 ? -pidfd : errno, "container %s: %s", id,
				 pidfd < 0 ? "its init is gone" : "exec.fifo");
		goto out;
	}
	for (;;) {
		struct pollfd pfd[2] = { { .fd = fifo, .events = POLLIN },
					 { .fd = pidfd, .events = POLLIN } };
		ssize_t n;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			ret = bk_err_sys(err, "container %s: wait for its init", id);
			goto out;
		}
		n = read(fifo, &byte, 1);
		if (n == 1)
			break;
		if (pfd[1].revents) {
			ret = bk_err_set(err, ESRCH, "container %s: its init exited before start",
					 id);
			goto out;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			ret = bk_err_sys(err, "container %s: exec.fifo", id);
			goto out;
		}
		if (pfd[0].revents & POLLHUP)
			poll(NULL, 0,
			     1); /* a writer came and went: its byte is on the way or lost */
	}
	if (unlinkat(c.dir_fd, OCI_FIFO, 0) < 0)
		bk_log(BK_LOG_WARN, "container %s: remove exec.fifo: %s", id, strerror(errno));
	enlist_put(rt, id, "running");
	/* poststart failures are reported but do not undo the start (runtime-spec). */
	if (ctr_load_spec(&c, &spec, err) == 0 && spec.n_hooks[OCI_HOOK_POSTSTART]) {
		state = ctr_state_json(&c, OCI_RUNNING);
		if (hooks_run(&spec, OCI_HOOK_POSTSTART, state, err) < 0)
			bk_log(BK_LOG_WARN, "container %s: %s", id, err->msg);
	}
	*err = (struct bk_err)BK_ERR_INIT;
	ret = 0;
out:
	oci_spec_free(&spec);
	ctr_close(&c);
	return ret;
}
