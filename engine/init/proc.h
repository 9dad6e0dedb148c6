/*
 * The workload: the one process init starts, with the plan's ids,
 * capabilities, working directory, argv and environment.
 */
#ifndef BK_INIT_PROC_H
#define BK_INIT_PROC_H

#include <stdbool.h>
#include <sys/types.h>

#include "plan.h"

/* The workload's stdio: in (-1: /dev/null) on 0, out on 1 and 2; tty: in is a terminal's slave. */
struct proc_io {
	int in;
	int out;
	bool tty;
};

/*
 * Fork the workload with io as its stdio (NULL: the stdio we have) and wait
 * until it has exec'd.  Call with the container's root in place.  Returns
 * the workload's pid, or -errno with err filled: the child's own report
 * (step chdir, caps, exec, ...) when it failed before exec, in which case it
 * has been reaped.
 */
pid_t proc_start(const struct init_plan *plan, const struct proc_io *io, struct init_err *err);

/*
 * Close every fd above 2 but the n (1 to 3) in keep, in any order; -1 and
 * nothing closed if one is below 3 or two are the same.
 */
int close_all_but(const int *keep, int n);

#endif
