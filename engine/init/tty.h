/*
 * A pseudo-terminal for a container's command or an exec session's, made in
 * the container's own devpts (its /dev/pts, which init mounted), so that
 * the command sees /dev/pts/N as its terminal.
 */
#ifndef BK_INIT_TTY_H
#define BK_INIT_TTY_H

#include "init.h"

/*
 * Open the container's /dev/pts/ptmx (no symlink followed; it must be the
 * ptmx character device, never whatever the container put there) and the
 * slave end by the master itself (TIOCGPTPEER: no path looked up), 80x24.
 * Both CLOEXEC; the master non-blocking.  0, or -errno with err filled.
 */
int tty_open(int *master, int *slave, struct init_err *err);

/*
 * "ok N" with fd attached (N: fd's number in this process, so the daemon
 * can take it again after its restart), or a plain "ok" when fd < 0.
 */
void tty_send_ok(int syncfd, int fd);

#endif
