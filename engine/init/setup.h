/*
 * The container's file system view and identity: mounts, pivot_root,
 * masked and read-only paths, hostname, loopback; and its seccomp filter.
 */
#ifndef BK_INIT_SETUP_H
#define BK_INIT_SETUP_H

#include "plan.h"

/*
 * A spare's head start: in its working directory, the daemon's mount point
 * of the control tree that the clone unmounted (an empty directory of this
 * mount namespace, checked), a tmpfs with the container's /proc and /dev
 * made.  The staging tmpfs's fd, or -errno with err filled (the start then
 * makes them itself).
 */
int setup_stage(struct init_err *err);

/*
 * Build the container's root from plan->rootfs and pivot into it, taking
 * the bind= sources from dirfd (which stays open) and /proc and /dev from
 * stagefd (setup_stage) when it is not -1.  Then set the hostname and, with
 * plan->netns, bring lo up.  Returns 0 or -errno with err filled; on
 * failure the mount namespace is half built and init must exit.
 */
int setup_container(const struct init_plan *plan, int dirfd, int stagefd, struct init_err *err);

/*
 * Install plan->seccomp (if any) on the calling process, for it and every
 * process it forks from then on.  Needs CAP_SYS_ADMIN (no no_new_privs, as
 * Docker), so before the workload's capabilities are dropped; every syscall
 * made after it (fork, setgroups, setres[ug]id, capset, prctl, execve, and
 * the monitor's loop) is one the profile allows.  0 or -errno with err filled.
 */
int setup_seccomp(const struct init_plan *plan, struct init_err *err);

#endif
