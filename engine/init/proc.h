/*
 * The workload: the one process init starts, with the plan's ids,
 * capabilities, working directory, argv and environment.
 */
#ifndef BK_INIT_PROC_H
#define BK_INIT_PROC_H

#include <sys/types.h>

#include "plan.h"

/*
 * Fork the workload with stdout and stderr on logw and stdin on /dev/null,
 * and wait until it has exec'd.  Call with the container's root in place.
 * Returns the workload's pid, or -errno with err filled: the child's own
 * report (step chdir, caps, exec, ...) when it failed before exec, in which
 * case it has been reaped.
 */
pid_t proc_start(const struct init_plan *plan, int logw, struct init_err *err);

#endif
