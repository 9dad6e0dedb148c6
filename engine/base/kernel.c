/*
 * The kernel features the engine cannot do without, probed once at open so
 * that an older kernel gets one clear refusal naming what it lacks, not a
 * failure deep in the first pull or start.  Each probe is a call that fails
 * with ENOSYS only when the call does not exist.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/pidfd.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/base.h"
#include "base/inroot.h"
#include "common/cleanup.h"
#include "common/syscalls.h"

static int
probe_resolve_in_root(void)
{
	cleanup_close int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int fd = root < 0 ? -EBADF : inroot_path(root, ".", O_DIRECTORY, 0);

	if (fd >= 0)
		close(fd);
	return fd == -ENOSYS ? -1 : 0;
}

static int
probe_pidfd_open(void)
{
	int fd = pidfd_open(getpid(), 0);

	if (fd >= 0)
		close(fd);
	return fd < 0 && errno == ENOSYS ? -1 : 0;
}

static int
probe_pidfd_send_signal(void)
{
	/* An invalid fd: EBADF where the call exists. */
	return pidfd_send_signal(-1, 0, NULL, 0) < 0 && errno == ENOSYS ? -1 : 0;
}

static int
probe_clone3(void)
{
	/* Arguments too small: EINVAL where the call exists; nothing is cloned. */
	return sys_clone3(NULL, 0) < 0 && errno == ENOSYS ? -1 : 0;
}

static const struct {
	const char *name, *since;
	int (*probe)(void);
} features[] = {
	{ "the openat2 system call, which keeps every path inside its root", "5.6",
	  probe_resolve_in_root },
	{ "clone3, which starts container inits", "5.3", probe_clone3 },
	{ "pidfd_open, which watches inits", "5.3", probe_pidfd_open },
	{ "pidfd_send_signal, which signals without pid reuse", "5.1", probe_pidfd_send_signal },
};

int
kernel_check(struct bk_err *err)
{
	struct utsname u;
	size_t i;

	if (uname(&u) < 0)
		snprintf(u.release, sizeof(u.release), "?");
	for (i = 0; i < ARRAY_SIZE(features); i++)
		if (features[i].probe() < 0)
			return bk_err_set(err, ENOSYS,
					  "this kernel (%s) lacks %s, in Linux since %s: bockerfs "
					  "needs Linux %s or later",
					  u.release, features[i].name, features[i].since,
					  KERNEL_MIN);
	return 0;
}
