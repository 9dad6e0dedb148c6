/*
 * What every file of bockerfs-init shares.  struct init_err is the error
 * init reports to the daemon: a step word, a positive errno and a line of
 * text, sent as "err STEP ERRNO MESSAGE".  It is plain data (no pointers),
 * so the workload child can hand one back over a pipe.  err.c formats it.
 */
#ifndef BK_INIT_H
#define BK_INIT_H

#include <unistd.h>

struct init_err {
	char step[24]; /* "mount-proc", "pivot_root", "exec", ... */
	int code;      /* positive errno */
	char msg[232]; /* "exec 'nope': No such file or directory" */
};

/* Fill err once, where the failure happens.  Both return -code. */
int init_fail(struct init_err *err, const char *step, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* code = errno (EIO if unset); ": strerror" is appended to the text. */
int init_fail_sys(struct init_err *err, const char *step, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Released on every return; initialise to -1 and hand out with take_fd(). */
#include "common/cleanup.h"

#endif
