/*
 * runtime.h: the OCI runtime over the engine, for bockerfs-runtime (runtime/),
 * the runc-compatible command line that containerd's shim, conmon (podman)
 * and Docker call.  What runtime/ may use; engine/oci/ implements it.
 *
 * As runc: no process of ours stays alive.  create clones the container's
 * init, which sets the container up and waits on <state>/exec.fifo; create
 * returns and the init is reparented to the caller (a subreaper), which reaps
 * it.  start opens the fifo, and the init execs the workload as PID 1.
 * Every verb finds the container from its directory under the state root.
 *
 * Functions return >= 0 or -errno with err filled, as everywhere in engine/.
 */
#ifndef BK_RUNTIME_H
#define BK_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "bocker.h"

#define BK_RUNTIME_ROOT "/run/bockerfs-runtime" /* --root's default */

struct bk_runtime {
	const char *root;    /* state root (--root) */
	bool systemd_cgroup; /* cgroupsPath is "slice:prefix:name" (--systemd-cgroup) */
	/*
	 * The bockerfs store whose daemon shows the containers in its tree
	 * (--store, $BOCKERFS_STORE; NULL: BK_STATE_DEFAULT).  Not needed: no
	 * store there, nothing shown.
	 */
	const char *store;
};

struct bk_rt_create {
	const char *id;
	const char *bundle;         /* absolute or relative to the current directory */
	const char *pid_file;       /* NULL: none */
	const char *console_socket; /* NULL: no terminal expected */
	int preserve_fds;           /* fds 3..3+N-1 passed on */
	bool no_pivot;
	bool no_new_keyring;
};

int bk_rt_create(const struct bk_runtime *rt, const struct bk_rt_create *o, struct bk_err *err);
int bk_rt_start(const struct bk_runtime *rt, const char *id, struct bk_err *err);
/* The runtime-spec state JSON (caller frees). */
int bk_rt_state(const struct bk_runtime *rt, const char *id, char **json, struct bk_err *err);
int bk_rt_kill(const struct bk_runtime *rt, const char *id, int sig, bool all, struct bk_err *err);
int bk_rt_delete(const struct bk_runtime *rt, const char *id, bool force, struct bk_err *err);

struct bk_rt_exec {
	const char *id;
	const char *process_file; /* --process: a process JSON; NULL: args below */
	char *const *args;        /* when no process file: the command (as `runc exec ID CMD...`) */
	const char *pid_file;
	const char *console_socket;
	int preserve_fds;
	bool detach;
	bool tty; /* -t without a process file */
};
/* Detached: 0 once the process runs.  Else the exit status as a shell reports it (128+sig). */
int bk_rt_exec(const struct bk_runtime *rt, const struct bk_rt_exec *o, struct bk_err *err);

/* The pids of the container's processes (its cgroup), caller frees. */
int bk_rt_ps(const struct bk_runtime *rt, const char *id, pid_t **pids, size_t *n,
	     struct bk_err *err);
/* Every container's state JSON, one array (caller frees). */
int bk_rt_list(const struct bk_runtime *rt, char **json, struct bk_err *err);
int bk_rt_pause(const struct bk_runtime *rt, const char *id, bool pause, struct bk_err *err);
/* linux.resources JSON (as `update --resources`). */
int bk_rt_update(const struct bk_runtime *rt, const char *id, const char *json, size_t len,
		 struct bk_err *err);
/* "SIGKILL", "KILL", "9", "RTMIN+3": the signal's number, or -EINVAL. */
int bk_rt_signal_parse(const char *s);
/* `features`: what this runtime supports, as runtime-spec's features.md (caller frees). */
char *bk_rt_features(void);

#endif
