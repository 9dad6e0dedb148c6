/*
 * failpoint.h: named points where a test can make the daemon die, fail or
 * stall, to prove that every step of a long operation is crash safe.
 */
#ifndef BK_FAILPOINT_H
#define BK_FAILPOINT_H

#include "bocker.h"

/*
 * At the point NAME, do what BOCKERFS_FAILPOINTS asks (see failpoint.c):
 * nothing (0, the normal case, one branch), SIGKILL the daemon, sleep, or
 * fail with -errno and a message in err.
 */
int failpoint(const char *name, struct bk_err *err);

#endif
