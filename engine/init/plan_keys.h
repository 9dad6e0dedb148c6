/*
 * plan_keys.h: the keys of the plan the daemon hands bockerfs-init, shared
 * by its writer (engine/proc/plan.c) and its reader (plan.c here), so that
 * the two cannot drift apart.  The plan is NUL-terminated "KEY=VALUE"
 * entries; see plan.h for what each means.
 */
#ifndef BK_INIT_PLAN_KEYS_H
#define BK_INIT_PLAN_KEYS_H

#define PLAN_ROOTFS   "rootfs" /* absolute host path of the container's root */
#define PLAN_HOSTNAME "hostname"
#define PLAN_CWD      "cwd" /* absolute, inside the container */
#define PLAN_UID      "uid"
#define PLAN_GID      "gid"
#define PLAN_GROUPS   "groups"   /* "G1,G2,...", may be empty */
#define PLAN_ARG      "arg"      /* repeated: argv, in order */
#define PLAN_ENV      "env"      /* repeated: KEY=VALUE */
#define PLAN_CAPS     "caps"     /* "0x..." bit n = capability n */
#define PLAN_LOG_MAX  "log_max"  /* bytes, 0: never rotate */
#define PLAN_NETNS    "netns"    /* 0 or 1 */
#define PLAN_CGROUPNS "cgroupns" /* 0 or 1 */
#define PLAN_BIND     "bind"     /* repeated: "FILE:PATH", FILE in the state directory */
/*
 * A mount of the user's: "mount=bind [ro] DEV:INO" or "mount=tmpfs [SIZE]",
 * then its "mount_source=PATH" (bind: absolute, on the host, no symlink in
 * it; DEV:INO is what the daemon found there) and "mount_target=PATH"
 * (absolute, in the container), each once, before the next "mount=".
 */
#define PLAN_MOUNT        "mount"
#define PLAN_MOUNT_SOURCE "mount_source"
#define PLAN_MOUNT_TARGET "mount_target"
#define PLAN_STDIN        "stdin"   /* "null", or "pipe": one whose write end goes to the daemon */
#define PLAN_TTY          "tty"     /* 0 or 1: the command's stdio is a new pseudo-terminal's */
#define PLAN_SECCOMP      "seccomp" /* the filter's instructions in hex */

/* PATH when the plan's env has none, as Docker sets it. */
#define PLAN_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#endif
