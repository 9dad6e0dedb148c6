/*
 * oci.h: the OCI runtime's parts, for the verbs of runtime.h.
 *
 *   record.c   a container's directory under the state root: state.json,
 *              its lock, its status from its init's liveness
 *   cgroup.c   cgroupsPath (cgroupfs and systemd forms), linux.resources,
 *              v1 and v2; freeze, list, remove
 *   spawn.c    create's parent side: clone, cgroup, id maps, the sync
 *   child.c    the init between its clone and the workload's exec
 *   rootfs.c   the container's mounts, /dev, pivot_root, masked and
 *              read-only paths, all resolved inside the root (inroot.h)
 *   process.c  a process as config.json says: rlimits, user, groups,
 *              capabilities, no_new_privs, seccomp, umask, cwd, exec
 *   hooks.c    hooks, with the state on stdin and their timeout
 *   caller.c   the caller's console socket and pid file, its name
 *   enlist.c   the container's entry in a bockerfs store, for the daemon's tree
 *   seccomp_cache.c  compiled seccomp programs kept by the profile's digest
 *   create.c, start.c, state.c, kill.c, delete.c, exec.c, ps.c: the verbs
 *
 * Uses base/, parse/ (oci_spec.h), proc/ (seccomp, devices) and runtime.h.
 */
#ifndef BK_OCI_H
#define BK_OCI_H

#include "common/compiler.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <linux/filter.h>

#include "runtime.h"
#include "parse/oci_spec.h"

/* ---- a container's record (record.c) --------------------------------------------------------- */

enum oci_status { OCI_CREATING, OCI_CREATED, OCI_RUNNING, OCI_PAUSED, OCI_STOPPED };

#define OCI_STATE_FILE  "state.json"
#define OCI_CONFIG_FILE "config.json" /* a copy of the bundle's, for start's and delete's hooks */
#define OCI_FIFO        "exec.fifo"

struct oci_ctr {
	char *id;
	int dir_fd;                    /* <root>/<id>, flock'ed by ctr_open */
	pid_t pid;                     /* the init's, 0 while creating */
	unsigned long long start_time; /* /proc/PID/stat field 22: tells a reused pid */
	char *bundle;
	char *rootfs;
	char *created; /* RFC 3339 with nanoseconds */
	char *annotations;
	char *cgroup; /* the group's path from the hierarchy's root, "" if none */
	char *caller; /* who ran create, "conmon[812]", for the daemon's tree */
};

/* Make <root>/<id> (EEXIST: the id is taken), locked. */
must_check int ctr_make(const struct bk_runtime *rt, const char *id, struct oci_ctr *c,
			struct bk_err *err);
/* Open and lock <root>/<id> and read its state.json (ENOENT: "container ID does not exist"). */
must_check int ctr_open(const struct bk_runtime *rt, const char *id, struct oci_ctr *c,
			struct bk_err *err);
must_check int ctr_save(const struct oci_ctr *c, struct bk_err *err);
void ctr_close(struct oci_ctr *c);
/* Remove <root>/<id> and what it holds; the record is closed. */
void ctr_remove(const struct bk_runtime *rt, struct oci_ctr *c);
enum oci_status ctr_status(const struct oci_ctr *c);
const char *oci_status_name(enum oci_status s);
/* The runtime-spec state as JSON (caller frees). */
char *ctr_state_json(const struct oci_ctr *c, enum oci_status s);
/* A pidfd of the init if it is still the one recorded, else -ESRCH. */
must_check int ctr_pidfd(const struct oci_ctr *c);
/* /proc/PID/stat's start time, 0 if the process is gone or a zombie (it has ended). */
unsigned long long live_start_time(pid_t pid);
/* The bundle's config.json or the record's copy, parsed. */
must_check int ctr_load_spec(const struct oci_ctr *c, struct oci_spec *spec, struct bk_err *err);
must_check int spec_read(int dfd, const char *name, struct oci_spec *spec, char **raw, size_t *len,
			 struct bk_err *err);

/* ---- cgroups (cgroup.c) ---------------------------------------------------------------------- */

/*
 * The group of cgroupsPath (NULL: "/bockerfs-runtime/<id>"): "/a/b" as is,
 * "a/b" under the caller's own group, "slice:prefix:name" as systemd lays
 * it out ("/system.slice/prefix-name.scope").
 */
must_check int ocg_path(const char *cgroups_path, bool systemd, const char *id, char **out,
			struct bk_err *err);
/* Make the group in every hierarchy, apply r (NULL: none), move pid in. */
must_check int ocg_create(const char *path, const struct oci_resources *r, pid_t pid,
			  struct bk_err *err);
must_check int ocg_apply(const char *path, const struct oci_resources *r, struct bk_err *err);
must_check int ocg_join(const char *path, pid_t pid, struct bk_err *err);
must_check int ocg_pids(const char *path, pid_t **pids, size_t *n, struct bk_err *err);
must_check int ocg_freeze(const char *path, bool freeze, struct bk_err *err);
bool ocg_frozen(const char *path);
/* Remove the group (empty) from every hierarchy; failures only logged. */
void ocg_remove(const char *path);
/* v1: the hierarchies' mount points and controllers, for the container's cgroup mount. */
struct ocg_hier {
	char mount[256]; /* /sys/fs/cgroup/cpu,cpuacct */
	char name[64];   /* "cpu,cpuacct", "name=systemd" -> "systemd" */
	char root[256];  /* the mount's root in the hierarchy ("/" usually) */
};
must_check int ocg_hierarchies(struct ocg_hier **h, size_t *n, bool *v2, struct bk_err *err);

/* ---- create's parent side and the child (spawn.c, child.c) ----------------------------------- */

struct oci_launch {
	const struct oci_spec *spec;
	const struct bk_runtime *rt;
	const struct oci_ctr *ctr;
	const char *rootfs; /* absolute */
	const char *cgroup; /* the group's path */
	int fifo_fd;        /* O_PATH of exec.fifo, -1 for exec */
	int console_fd;     /* connected console socket, -1 if none */
	int preserve_fds;
	bool no_pivot;
	bool no_new_keyring;
	const struct sock_fprog *filter; /* seccomp, NULL: none */
	int ns_fd[OCI_NS_COUNT];         /* joined namespaces' fds, -1: new or none */
	int sync_fd;                     /* the child's end */
};

/*
 * Clone the init and see it through to the fifo: returns its pid (and an
 * O_CLOEXEC pidfd in *pidfd), or -errno with the child's own reason.
 */
must_check int oci_spawn(struct oci_launch *l, int *pidfd, struct bk_err *err);

/*
 * clone3 with the child in the pid namespace pidns_fd (-1: ours), the
 * runtime's own namespace kept for its later children.
 */
struct clone_args;
pid_t oci_clone_in(int pidns_fd, struct clone_args *ca, struct bk_err *err);

/* In the child: set up and wait on the fifo, then exec.  Never returns. */
__attribute__((noreturn)) void oci_child(const struct oci_launch *l);

/* Sync messages between spawn.c and child.c (SOCK_SEQPACKET). */
#define OCI_SYNC_GO    "go"    /* parent: the cgroup and the id maps are set */
#define OCI_SYNC_HOOKS "hooks" /* child: mounts made, run createRuntime and prestart */
#define OCI_SYNC_CONT  "cont"  /* parent: hooks done */
#define OCI_SYNC_READY "ready" /* child: set up, now waiting on the fifo */
/* child: "err MESSAGE" then exit 127 */

/* Report a failure to the parent and exit: for child.c, rootfs.c and process.c. */
__attribute__((noreturn)) void oci_child_fail(int sync_fd, const struct bk_err *err);

/* ---- rootfs.c (in the child, in its mount namespace) ----------------------------------------- */

must_check int rootfs_prepare(const struct oci_launch *l, int *root_fd, struct bk_err *err);
must_check int rootfs_finish(const struct oci_launch *l, int root_fd, struct bk_err *err);

/* ---- process.c ------------------------------------------------------------------------------- */

/*
 * rlimits, cwd, args[0] found in PATH (*exe), and the environment to exec
 * with (*envp: HOME added when missing).  The caller execs; nothing to free.
 */
must_check int process_prepare(const struct oci_process *p, char **exe, char ***envp,
			       struct bk_err *err);
must_check int process_credentials(const struct oci_process *p, const struct sock_fprog *filter,
				   struct bk_err *err);
must_check int process_seccomp_late(const struct oci_process *p, const struct sock_fprog *filter,
				    struct bk_err *err);
/* Close every fd but 0-2, 3..3+preserve-1 and the n in keep (close_range). */
void process_close_except(int preserve, const int *keep, size_t n);
/* A new pty: the master sent over console_fd, the slave made stdio and controlling tty. */
must_check int process_terminal(int console_fd, const struct oci_process *p, struct bk_err *err);

/* ---- seccomp (proc/oci_seccomp.c, through proc.h) -------------------------------------------- */

/* ---- seccomp_cache.c ------------------------------------------------------------------------- */

/*
 * The program for the config's linux.seccomp (raw: config.json as read):
 * kept under <root>/.seccomp by its digest, compiled (oci_seccomp_build)
 * only the first time.  *bytes: caller frees.
 */
must_check int oci_seccomp_program(const struct bk_runtime *rt, const struct oci_spec *spec,
				   const char *raw, size_t len, char **bytes, size_t *ninsns,
				   struct bk_err *err);

/* ---- caller.c ------------------------------------------------------------------------------- */

/* A stream socket connected to the caller's --console-socket (an fd, or -errno). */
must_check int oci_connect_console(const char *path, struct bk_err *err);
/* The pid file, written whole and renamed in: a caller never reads half a pid. */
must_check int oci_write_pid_file(const char *path, pid_t pid, struct bk_err *err);
/* Who called us, "containerd-shim[812]" (the parent), for the tree's status (caller frees). */
char *caller_name(void);

/* ---- enlist.c -------------------------------------------------------------------------------- */

/*
 * The container's entry in the bockerfs store (rt->store, or the daemon's
 * default): written, or written again, with the status the daemon will see
 * (its cue to look); dropped at delete.  Never fails: without a store there
 * is nothing to show, and a write that fails is a warning.
 */
void enlist_put(const struct bk_runtime *rt, const char *id, const char *status);
void enlist_drop(const struct bk_runtime *rt, const char *id);

/* ---- hooks.c --------------------------------------------------------------------------------- */

/* Run the hooks of kind, each with state on stdin; the first failure is returned. */
must_check int hooks_run(const struct oci_spec *spec, enum oci_hook_kind kind, const char *state,
			 struct bk_err *err);

#endif
