/*
 * The container's file system view and identity: mounts, pivot_root,
 * masked and read-only paths, hostname, loopback; and its seccomp filter.
 */
#ifndef BK_INIT_SETUP_H
#define BK_INIT_SETUP_H

#include "plan.h"

/*
 * Build the container's root from plan->rootfs and pivot into it, taking
 * the bind= sources from dirfd (which stays open).  Then set the hostname
 * and, with plan->netns, bring lo up.  Returns 0 or -errno with err filled;
 * on failure the mount namespace is half built and init must exit.
 */
int setup_container(const struct init_plan *plan, int dirfd, struct init_err *err);

/*
 * Install plan->seccomp (if any) on the calling process, for it and every
 * process it forks from then on.  Needs CAP_SYS_ADMIN (no no_new_privs, as
 * Docker), so before the workload's capabilities are dropped; every syscall
 * made after it (fork, setgroups, setres[ug]id, capset, prctl, execve, and
 * the monitor's loop) is one the profile allows.  0 or -errno with err filled.
 */
int setup_seccomp(const struct init_plan *plan, struct init_err *err);

#endif
