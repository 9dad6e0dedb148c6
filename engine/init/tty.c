/*
 * Pseudo-terminals (tty.h): docker run -t and exec -t.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include "tty.h"
#include "engine/base/inroot.h"

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

int
tty_open(int *master, int *slave, struct init_err *err)
{
	cleanup_close int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), m = -1;
	struct winsize ws = { .ws_row = 24, .ws_col = 80 };
	int unlock = 0, s;

	if (root < 0)
		return init_fail_sys(err, "tty", "open '/'");
	/* The container may have shaped its /dev: only the real multiplexer (5:2) is opened. */
	m = inroot_chardev(root, "/dev/pts/ptmx", 5, 2, O_RDWR | O_NOCTTY,
			   RESOLVE_NO_SYMLINKS | INROOT_MOUNTS);
	if (m < 0) {
		errno = -m;
		return init_fail_sys(err, "tty", "open '/dev/pts/ptmx'%s",
				     m == -EINVAL ? " (not the ptmx device)" : "");
	}
	if (ioctl(m, TIOCSPTLCK, &unlock) < 0)
		return init_fail_sys(err, "tty", "unlock the terminal");
	s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (s < 0)
		return init_fail_sys(err, "tty", "open the terminal's slave");
	ioctl(s, TIOCSWINSZ, &ws);
	*slave = s;
	*master = take_fd(m);
	return 0;
}

void
tty_send_ok(int syncfd, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	char word[16];
	struct iovec iov = { .iov_base = word };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (fd < 0) {
		iov.iov_len = (size_t)snprintf(word, sizeof(word), "ok");
	} else {
		iov.iov_len = (size_t)snprintf(word, sizeof(word), "ok %d", fd);
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	while (sendmsg(syncfd, &mh, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}
