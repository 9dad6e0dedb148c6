/*
 * proc.h: how container processes are made, for ops/.
 *
 *   spawn.c       the container init: cloned into new namespaces, or taken
 *                 from the spare pool, told its plan, told to go; and the
 *                 processes of containers found again after a restart
 *   spare_init.c  inits started ahead of time (the spare pool)
 *   plan.c        the plan bockerfs-init reads; Docker's capabilities and
 *                 environment
 *   cgroup.c      the containers' cgroups (libcgroup), v1 and v2
 *   seccomp.c     Docker's default seccomp profile, compiled once (libseccomp)
 *   userdb.c      USER looked up in the image's /etc/passwd and /etc/group
 *
 * Uses base/, parse/ and bocker.h.  Nothing here knows containers' records:
 * what it needs of one comes as arguments.
 */
#ifndef BK_PROC_H
#define BK_PROC_H

#include "common/compiler.h"

#include <stdbool.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <jansson.h>
#include <linux/filter.h>
#include <seccomp.h>

#include "bocker.h"
#include "init/plan_keys.h"
#include "parse/parse.h"

/* ---- the state of this layer ----------------------------------------------------------------- */

struct cgroups {
	enum cgroup_mode mode;
	bool ready;       /* false: containers run without limits */
	char parent[256]; /* "[<delegated group>/]bockerfs/<store tag>", from the root */
	int dev_prog_fd;  /* v2: the device program every group gets, or -1 */
	bool swap;        /* the kernel accounts swap: memory-swap limits can be set */
};

struct procs {
	int init_fd;                  /* O_PATH fd of the bockerfs-init binary */
	char *seccomp_hex;            /* the containers' seccomp filter, built once */
	char *hide_mount;             /* bk_engine_opts.hide_mount, or NULL */
	uint64_t log_max;             /* rotate container logs past this size */
	struct limits default_limits; /* what a new container (and a spare's group) starts with */
	long ncpu;
	struct cgroups cg;
	struct spare_pool *spare_inits; /* NULL when not running */
};

/* ---- the container init (spawn.c) ------------------------------------------------------------ */

/* Open the bockerfs-init binary next to the daemon (or at $BOCKERFS_INIT): root's only. */
must_check int procs_find_init(struct procs *p, struct bk_err *err);

/* A container init between its clone (or its hand-over as a spare) and its go. */
/* What an init or exec helper hands over with its "ok": a tty's master or stdin's write end. */
struct init_input {
	int fd;   /* the daemon's, -1 if none */
	int fdno; /* its number in the sender (a tty's master: pidfd_getfd after a daemon restart)
		   */
};

struct init_proc {
	pid_t pid;
	int pidfd;
	int sync_fd;             /* the daemon's end of its socket */
	bool spare;              /* it was started ahead of time */
	struct init_input input; /* after init_go: the command's input, if the plan asked for one */
	char cgroup[32];         /* a spare's group ("spare-N") to adopt; "" if none */
};
/*
 * An init for the plan in plan_fd and the container directory state_dfd:
 * a new clone, in a new network namespace if netns.  The init sets the
 * container's filesystem up meanwhile and waits for init_go.
 */
must_check int init_launch(struct procs *p, int plan_fd, int state_dfd, bool netns,
			   struct init_proc *out, struct bk_err *err);
struct spare_init;
/*
 * The same with the spare s (spare_init_take), which enters the network
 * namespace netns_fd (a spare has none of its own); -ENOENT if it cannot be
 * told (it is discarded: the caller clones a new init).
 */
must_check int init_launch_spare(struct procs *p, struct spare_init *s, int plan_fd, int state_dfd,
				 int netns_fd, struct init_proc *out);
/* Tell it to go; its answer: 0 once the command runs, or its error (ENOENT: no such program). */
must_check int init_go(struct init_proc *ip, struct bk_err *err);
/* Has it exited (killed by anyone)? */
bool init_exited(const struct init_proc *ip);
/* SIGKILL and reap it (a start that failed). */
void init_kill(struct init_proc *ip);

/*
 * The init's pid in state_dfd/"starting" until the start is recorded, so
 * that a daemon that dies meanwhile finds it at its next start and kills it.
 */
void spawn_mark_starting(int state_dfd, pid_t pid);
/* Kill the init state_dfd/"starting" names, unless it is recorded (the daemon died between). */
void spawn_kill_unrecorded(int state_dfd, const char *id, pid_t recorded);
/* The running init of a container whose record is lost (by its root), or 0. */
pid_t spawn_find_running(int state_dfd);
/* Start time of pid in clock ticks since boot (field 22 of /proc/PID/stat), 0 if gone. */
uint64_t proc_start_time(pid_t pid);
/* The same, and whether it has exited and waits to be reaped (a zombie). */
uint64_t proc_start_time_of(pid_t pid, bool *zombie);

/*
 * Clone the daemon into new namespaces (ns: CLONE_NEW* flags, 0: none) and
 * exec bockerfs-init there with argv: in_r on its stdin and out_w on its
 * stdout and stderr (-1: left as they are), the keep fds inherited; hide:
 * drop the control tree from its copy of the mount table (with
 * CLONE_NEWNS).  Its pid and *pidfd, or -errno.
 */
must_check int clone_init_proc(const struct procs *p, uint64_t ns, char **argv, int in_r, int out_w,
			       const int *keep, int nkeep, bool hide, int *pidfd,
			       struct bk_err *err);
/*
 * What an init or an exec helper says on sync_fd once it is set up (within
 * timeout_ms): 0 for "ok", else its errno and text ("exec 'nope': No such
 * file or directory").  who names it in the other errors.
 */
must_check int init_answer(int sync_fd, int timeout_ms, const char *who, struct init_input *input,
			   struct bk_err *err);

/* ---- spare inits (spare_init.c) -------------------------------------------------------------- */

struct spare_init {
	pid_t pid;
	int pidfd;
	int sync_fd;     /* the daemon's end: the plan goes here */
	char cgroup[32]; /* its group, "spare-N"; "" if none */
};
must_check int spare_init_start(struct procs *p, struct bk_err *err);
void spare_init_stop(struct procs *p);
/* A live spare: 0, or -ENOENT when none is ready. */
must_check int spare_init_take(struct procs *p, struct spare_init *out);
/* End a spare that could not be used, and remove its group. */
void spare_init_discard(struct procs *p, struct spare_init *s);

/* ---- plans (plan.c) -------------------------------------------------------------------------- */

#define PLAN_GROUPS_MAX 64
/* The environment's PATH when the image sets none (Docker's). */
#define DEFAULT_PATH "PATH=" PLAN_DEFAULT_PATH

/* A container's process, as bockerfs-init is told it. */
/* A mount of the container's (a bind of a host path or a volume's files, or a tmpfs). */
struct plan_mount {
	bool tmpfs;
	const char *source; /* bind: absolute host path, no symlink in it; tmpfs: NULL */
	const char *target; /* absolute, in the container */
	bool ro;
	uint64_t size; /* tmpfs: bytes, 0: the kernel's default */
	/* bind: the source as the daemon found it, which the init checks it opens */
	dev_t dev;
	ino_t ino;
};

struct plan_req {
	const char *rootfs_path; /* the init's; "/" for an exec session */
	const char *hostname;
	char **argv; /* NULL-terminated */
	char **envp; /* NULL-terminated */
	const char *cwd;
	uid_t uid;
	gid_t gid;
	const gid_t *groups;
	size_t ngroups;
	uint64_t caps;
	uint64_t log_max;
	bool netns;         /* the container has a network namespace of its own */
	bool cgroupns;      /* enter a new cgroup namespace */
	bool runtime_files; /* bind the state directory's hosts, hostname, resolv.conf */
	bool tty;           /* a pseudo-terminal for the command (docker -t) */
	bool stdin_pipe;    /* stdin a pipe the daemon writes (docker -i without -t) */
	const struct plan_mount *mounts; /* after the runtime files, in order */
	size_t nmounts;
	const char *seccomp; /* the filter as hex, NULL: none */
};
/* The plan in a memfd, its offset at 0 (an fd, or -errno). */
must_check int plan_memfd(const struct plan_req *req, struct bk_err *err);
/* Docker's default capabilities, bit n = capability n. */
uint64_t default_cap_mask(void);
/*
 * A container process's environment: the image config's Env, then env,
 * then what Docker always sets (PATH, HOSTNAME, HOME) when missing.
 * NULL-terminated, *n entries; caller frees.
 */
char **process_env(json_t *config, char *const *env, size_t nenv, const char *hostname,
		   const char *home, bool tty, size_t *n);

/* ---- devices (devices.c) --------------------------------------------------------------------- */

/* Docker's device rules as v1 devices.allow lines; returns how many. */
size_t devices_v1_rules(char lines[][32], size_t max);
/* v2: load the program that applies the same rules: its fd, or -errno. */
must_check int devices_v2_load(struct bk_err *err);
/* The program for an OCI config's linux.resources.devices (in order: the last match wins). */
struct oci_device_rule;
must_check int devices_v2_load_oci(const struct oci_device_rule *r, size_t n, struct bk_err *err);
/* v2: attach it to a group (an O_DIRECTORY fd): 0 or -errno. */
must_check int devices_v2_attach(int prog_fd, int cgroup_fd);

/* ---- cgroups (cgroup.c) ---------------------------------------------------------------------- */

/* Find the hierarchy, make bockerfs/<tag> (tag kept in store_fd/cgroup-tag). */
must_check int cgroup_setup(struct cgroups *g, int store_fd, struct bk_err *err);
/* Make id's group with limits l and move pid into it. */
must_check int cgroup_enter(struct cgroups *g, const char *id, pid_t pid, const struct limits *l,
			    struct bk_err *err);
/* Rename a spare's group to id's and set limits l (no RCU grace period, unlike a join). */
must_check int cgroup_adopt(struct cgroups *g, const char *spare, const char *id,
			    const struct limits *l, struct bk_err *err);
/* Move pid into id's existing group (exec sessions). */
must_check int cgroup_join(struct cgroups *g, const char *id, pid_t pid, struct bk_err *err);
/* Change id's limits at once; the kernel's refusal comes back as it is. */
must_check int cgroup_update(struct cgroups *g, const char *id, const struct limits *l,
			     struct bk_err *err);
must_check int cgroup_stats(struct cgroups *g, const char *id, struct bk_stats *st,
			    struct bk_err *err);
/*
 * A group another program made (bockerfs-runtime's containers), by its
 * path from the hierarchy's root ("/a/b"): its statistics, its limits as
 * the kernel holds them, whether it is frozen.
 */
must_check int cgroup_stats_of(struct cgroups *g, const char *path, struct bk_stats *st,
			       struct bk_err *err);
/* The OOM kills in container id's group (0 if unknown): an exit's one question. */
uint64_t cgroup_oom_kills(struct cgroups *g, const char *id);
void cgroup_limits_of(struct cgroups *g, const char *path, struct limits *l);
bool cgroup_frozen_of(struct cgroups *g, const char *path);
/* Remove id's group (it must hold no process any more). */
void cgroup_remove(struct cgroups *g, const char *id);
/* Remove the groups keep() does not want, and every spare's. */
void cgroup_clean_orphans(struct cgroups *g, bool (*keep)(void *arg, const char *name), void *arg);
/* At a clean exit: bockerfs/<tag>, if no container's group is left in it. */
void cgroup_teardown(struct cgroups *g);

/* ---- seccomp (seccomp.c) --------------------------------------------------------------------- */

/*
 * The profile for a container with the capability mask caps, for this
 * machine's architectures, as lowercase hex of the struct sock_filter array
 * (*ninsns instructions; caller frees *hex).
 */
/* Any filter as the raw program, the ENOSYS stub first (bytes: caller frees). */
must_check int seccomp_program(scmp_filter_ctx ctx, char **bytes, size_t *ninsns,
			       struct bk_err *err);
/* An OCI config's linux.seccomp as such a program (oci_seccomp.c). */
struct oci_seccomp;
must_check int oci_seccomp_build(const struct oci_seccomp *s, char **bytes, size_t *ninsns,
				 struct bk_err *err);
must_check int seccomp_profile_hex(uint64_t caps, char **hex, size_t *ninsns, struct bk_err *err);
/*
 * The instructions put before libseccomp's program: for arches[i] (audit
 * values) with highest[i] >= 0, a syscall numbered above highest[i] and
 * below 1024 gets ENOSYS.  out has room for 1 + 4 * narches + 2 entries;
 * returns the count written.  Exposed for the unit test.
 */
size_t seccomp_enosys_stub(const uint32_t *arches, const int *highest, size_t narches,
			   struct sock_filter *out);

/* ---- users (userdb.c) ------------------------------------------------------------------------ */

/*
 * The image's User ("name", "uid", "name:group", "uid:gid") in the root's
 * own /etc/passwd and /etc/group.  groups must hold PLAN_GROUPS_MAX.
 * ENOENT for an unknown name; EINVAL when either file is there but not a
 * regular file.
 */
must_check int userdb_resolve(int rootfs_fd, const char *user, uid_t *uid, gid_t *gid,
			      gid_t *groups, size_t *ngroups, char *home, size_t home_size,
			      struct bk_err *err);

#endif
