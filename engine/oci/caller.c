/*
 * What a caller hands the runtime besides the bundle: the console socket a
 * terminal's master goes to, and the pid file it reads the process's pid
 * from (create's and exec's alike); and who the caller is, for the tree.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "oci/oci.h"
#include "base/base.h"

int
oci_connect_console(const char *path, struct bk_err *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return bk_err_set(err, ENAMETOOLONG, "--console-socket %.64s...: too long", path);
	memcpy(sa.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return bk_err_sys(err, "--console-socket");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		bk_err_sys(err, "--console-socket %s", path);
		close(fd);
		return -err->code;
	}
	return fd;
}

/* The pid file, written whole and renamed in: a caller never reads half a pid. */
int
oci_write_pid_file(const char *path, pid_t pid, struct bk_err *err)
{
	cleanup_free char *dir = xstrdup(path), *base = xstrdup(path);
	cleanup_close int dfd = -1;
	char text[16], *slash;

	slash = strrchr(dir, '/');
	if (slash == NULL) {
		free(dir);
		dir = xstrdup(".");
	} else {
		slash[slash == dir ? 1 : 0] = '\0';
		free(base);
		base = xstrdup(strrchr(path, '/') + 1);
	}
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return bk_err_sys(err, "--pid-file %s", path);
	snprintf(text, sizeof(text), "%d", (int)pid);
	if (write_file_replace(dfd, base, text, strlen(text), err) < 0)
		return bk_err_wrap(err, "--pid-file");
	return 0;
}

/* "containerd-shim[812]": the parent's name and pid. */
char *
caller_name(void)
{
	char path[64];
	cleanup_free char *comm = NULL;
	pid_t ppid = getppid();
	size_t len = 0;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)ppid);
	if (read_file_at(AT_FDCWD, path, 64, &comm, &len, NULL) < 0 || len == 0)
		return xasprintf("pid %d", (int)ppid);
	comm[strcspn(comm, "\n")] = '\0';
	return xasprintf("%s[%d]", comm, (int)ppid);
}
