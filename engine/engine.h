/*
 * engine.h: the engine's private state, shared by its files (never by fsd/).
 */
#ifndef BK_ENGINE_H
#define BK_ENGINE_H

#include <pthread.h>
#include <stdbool.h>
#include <jansson.h>

#include "bocker.h"
#include "parse/parse.h"
#include "net/net.h"
#include "store/store.h"

struct image {
	char id[BK_ID_SIZE];
	uint64_t serial;
	enum bk_image_state state;
	char *source;
	char **refs; /* familiar names ("busybox:latest") */
	size_t nrefs;
	json_t *config; /* the OCI image config object */
	uint64_t size;
	char created[32];
	/* pulled images */
	char *digest;                    /* the manifest's, "sha256:..." */
	char *manifest;                  /* as the registry sent it */
	char *layers_text;               /* "DIGEST SIZE" per layer */
	struct layer_progress *progress; /* while pulling */
	size_t nprogress;
	char *broken; /* BK_IMAGE_BROKEN: why its record or filesystem did not load */
	int broken_code;
};

struct layer_progress {
	char digest[80];
	uint64_t done, total;
};

enum net_mode { NET_MODE_BRIDGE, NET_MODE_NONE, NET_MODE_HOST };

struct container {
	char id[BK_ID_SIZE];
	uint64_t serial;
	enum bk_ctr_state state;
	char *image; /* as the user named it, NULL if not set */
	char image_id[BK_ID_SIZE];
	char *cmd;  /* NULL: the image's Entrypoint and Cmd */
	char **env; /* KEY=VALUE over the image's Env */
	size_t nenv;
	char created[32], started[32], finished[32];
	pid_t pid;          /* host pid of its init while running */
	uint64_t pid_start; /* the init's start time (clock ticks), against pid reuse */
	char boot_id[40];   /* the boot it ran in: after a reboot nothing runs */
	int pidfd;          /* -1 when not running */
	bool exited;
	int exit_code, exit_signal;
	bool oomkilled;
	int kill_sent; /* last signal the daemon sent, for an init that left no exit file */
	bool busy;     /* a start, stop or remove is under way */
	bool rootfs_made;
	struct limits limits;
	enum net_mode net_mode;
	uint32_t ip; /* leased address in bridge mode, 0 before the first start */
	struct port_map *ports;
	size_t nports;
	/*
	 * Its record did not load (NULL: fine).  Shown as BK_CTR_BROKEN; state
	 * still says whether its init runs, so that kill, stop and rm work.
	 */
	char *broken;
	int broken_code;
};

/* model/: the tables of images and containers, their records, and the change callbacks. */
struct events {
	bk_watch_fn watch;
	bk_event_fn event;
	void *arg;
};

struct model {
	pthread_mutex_t lock; /* protects the tables and every object in them */
	pthread_cond_t ctr_changed; /* with lock: a container's state changed */
	struct image **images;
	size_t nimages;
	struct container **ctrs;
	size_t nctrs;
	uint64_t next_serial; /* of the objects, never reused while the engine runs */
	struct events ev;
	char boot_id[40];		  /* this boot: a record of another one runs nothing */
	struct limits default_limits; /* what a new container starts with */
	long ncpu;
};

/* proc/: how container processes are made. */
struct cgroups {
	enum cgroup_mode mode;
	bool ready;	/* false: containers run without limits */
	char parent[32]; /* "bockerfs/<store tag>" */
};

struct procs {
	int init_fd;	  /* O_PATH fd of the bockerfs-init binary */
	char *seccomp_hex; /* the containers' seccomp filter (seccomp.c), built once */
	char *hide_mount;  /* bk_engine_opts.hide_mount, or NULL */
	uint64_t log_max;  /* rotate container logs past this size */
	struct cgroups cg;
	struct spare_pool *spare_inits; /* spare_init.c; NULL when not running */
};

/* ops/: the threads and pools of the operations. */
struct monitor {
	int epfd;   /* epoll over running containers' pidfds and exec sessions' fds */
	int wakefd; /* eventfd: stop the monitor */
	pthread_t thread;
	bool running;
};

struct spares {
	pthread_mutex_t lock; /* protects spare/ renames and the fields below */
	pthread_cond_t cond;
	struct refill *refills;
	uint64_t serial;
	uint64_t epoch; /* bumped by every spare_drop: a refill begun before is stale */
	bool stop, running;
	pthread_t thread;
};

struct execs {
	struct exec_session *list; /* protected by model.lock */
	uint64_t next_uid;	   /* protected by model.lock */
};

struct network {
	struct net_host *host; /* NULL: no bridge networking on this host */
	struct ipam *ipam;
};

/* The engine: one part per layer. */
struct bk_engine {
	struct store store;
	struct model model;
	struct procs procs;
	struct network net;
	struct pull_config *registry; /* registry settings (pull.c), NULL: defaults */
	struct monitor monitor;
	struct spares spares;
	struct execs execs;
};

/* image.c */
int image_load_all(struct bk_engine *e, struct bk_err *err);
void image_free_all(struct bk_engine *e);

/* image.c, for pulls */
struct pull_result;
int image_pull_begin(struct bk_engine *e, const char *spec, char id[BK_ID_SIZE],
		     struct bk_err *err);
void image_pull_progress(struct bk_engine *e, const char *id, const char *digest, uint64_t done,
			 uint64_t total);
int image_pull_finish(struct bk_engine *e, const char *id, int work_dfd, struct pull_result *res,
		      char id_out[BK_ID_SIZE], struct bk_err *err);
void image_pull_abort(struct bk_engine *e, const char *id);

/* image.c: images/<id> is not usable any more (its filesystem vanished); shown broken. */
void image_mark_broken(struct bk_engine *e, const char *id, const struct bk_err *why);

/* image.c, for containers */
int image_config_for(struct bk_engine *e, const char *name, char id_out[BK_ID_SIZE],
		     json_t **config, struct bk_err *err);

/* image.c, for builds (build.c) */
int image_build_begin(struct bk_engine *e, const char *source, char id[BK_ID_SIZE], int *log_fd,
		      struct bk_err *err);
int image_build_finish(struct bk_engine *e, const char *id, const char *from_id, json_t *config,
		       const char *name, uint64_t size, struct bk_err *err);
void image_build_abort(struct bk_engine *e, const char *id);
int image_derive_begin(struct bk_engine *e, const char *base_id, char id_out[BK_ID_SIZE],
		       int *rootfs_fd, struct bk_err *err);
int image_derive_publish(struct bk_engine *e, const char *id, int rootfs_fd, json_t *config,
			 const char *source, uint64_t size, struct bk_err *err);
void image_derive_abort(struct bk_engine *e, const char *id);
int image_set_config(struct bk_engine *e, const char *id, json_t *config, const char *source,
		     struct bk_err *err);

/* container.c */
int container_load_all(struct bk_engine *e, struct bk_err *err);
void container_free_all(struct bk_engine *e);
bool container_uses_image_locked(struct bk_engine *e, const char *image_id, char *who, size_t size);
struct container *container_find_locked(struct bk_engine *e, const char *id, uint64_t serial);
int container_save(struct bk_engine *e, const struct container *c, struct bk_err *err);
/* The error for any operation but kill, stop and remove on a broken container. */
int container_broken_err(const struct container *c, struct bk_err *err);
/* The init of c has exited (monitor thread): record how, notify. */
void container_exited(struct bk_engine *e, struct container *c, int wait_code, int wait_status);

/* spawn.c */
struct spawn_req {
	const char *rootfs_path;
	const char *hostname;
	char **argv;
	char **envp;
	const char *cwd;
	uid_t uid;
	gid_t gid;
	gid_t *groups;
	size_t ngroups;
	uint64_t caps;
	uint64_t log_max;
	bool netns;
	int state_dfd;               /* the container's directory in the store */
	const char *cgroup_id;       /* its cgroup is bockerfs/<cgroup_id> */
	const struct limits *limits; /* applied before the init may go on */
	bool cgroupns;               /* the init enters a new cgroup namespace */
	enum net_mode net_mode;
	uint32_t ip;
	const struct port_map *ports;
	size_t nports;
	const char *seccomp; /* the filter as hex for the plan, NULL: none */
};
void spawn_mark_starting(int state_dfd, pid_t pid);
void spawn_kill_unrecorded(int state_dfd, const char *id, pid_t recorded);
int spawn_init(struct bk_engine *e, const struct spawn_req *req, pid_t *pid, int *pidfd,
	       struct bk_err *err);
int spawn_find_init(struct bk_engine *e, struct bk_err *err);
void spawn_child_hide(const char *path);
void spawn_child_exec(int init_fd, char **argv, int in_r, int out_w, const int *keep, int nkeep)
    __attribute__((noreturn));
uint64_t proc_start_time(pid_t pid);
pid_t spawn_find_running(int state_dfd);

/* start.c, shared with exec.c */
char **process_env(json_t *config, char *const *env, size_t nenv, const char *hostname,
		   const char *home, size_t *n_out);
uint64_t default_cap_mask(void);

/* userdb.c: the container's own /etc/passwd and /etc/group. */
int userdb_resolve(int rootfs_fd, const char *user, uid_t *uid, gid_t *gid, gid_t *groups,
		   size_t *ngroups, char *home, size_t home_size, struct bk_err *err);

/* spare_init.c: inits cloned (and, on cgroup v1, joined to a group) ahead of time. */
struct spare_init {
	pid_t pid;
	int pidfd;
	int sync_fd;     /* the daemon's end: the plan goes here */
	char cgroup[32]; /* its group, "spare-N"; "" if none */
};
int spare_init_start(struct bk_engine *e, struct bk_err *err);
void spare_init_stop(struct bk_engine *e);
int spare_init_take(struct bk_engine *e, struct spare_init *out);
void spare_init_discard(struct bk_engine *e, struct spare_init *s);

/* spare.c */
int spare_start(struct bk_engine *e, struct bk_err *err);
void spare_stop(struct bk_engine *e);
void spare_refill(struct bk_engine *e, const char *image_id);
void spare_used(struct bk_engine *e, const char *image_id);
int spare_take(struct bk_engine *e, const char *image_id, int dst_dfd, const char *name);
void spare_drop(struct bk_engine *e, const char *image_id);
int count_spares(struct bk_engine *e, const char *image_id);
bool image_exists_locked(struct bk_engine *e, const char *image_id);

/* cgroup.c */
int cgroup_setup(struct bk_engine *e, struct bk_err *err);
int cgroup_enter(struct bk_engine *e, const char *id, pid_t pid, const struct limits *l,
		 struct bk_err *err);
int cgroup_update(struct bk_engine *e, const char *id, const struct limits *l, struct bk_err *err);
int cgroup_stats(struct bk_engine *e, const char *id, struct bk_stats *st, struct bk_err *err);
void cgroup_remove(struct bk_engine *e, const char *id);
int cgroup_adopt(struct bk_engine *e, const char *spare, const char *id, const struct limits *l,
		 struct bk_err *err);
void cgroup_clean_orphans(struct bk_engine *e);
void cgroup_teardown(struct bk_engine *e);

/* network.c */
const char *net_mode_name(enum net_mode mode);
int net_mode_parse(const char *s, enum net_mode *out);
int network_open(struct bk_engine *e, const struct bk_engine_opts *opts, struct bk_err *err);
void network_close(struct bk_engine *e);
void network_republish(struct bk_engine *e);
int network_prepare(struct bk_engine *e, const char *id, enum net_mode mode, uint32_t *ip,
		    struct bk_err *err);
int network_attach(struct bk_engine *e, const char *id, pid_t pid, enum net_mode mode, uint32_t ip,
		   const struct port_map *ports, size_t nports, struct bk_err *err);
void network_detach(struct bk_engine *e, const char *id);
void network_release(struct bk_engine *e, const char *id);
char *network_describe(struct bk_engine *e, enum net_mode mode, uint32_t ip);

/* exec.c; the monitor's epoll tags an exec session's fds with these bits */
#define EXEC_TAG_OUT  (1ULL << 62)
#define EXEC_TAG_SYNC (2ULL << 62)
#define EXEC_TAG_PID  (3ULL << 62)
#define EXEC_TAG_MASK (3ULL << 62)
#define EXEC_UID_MASK ((1ULL << 62) - 1)
void exec_event(struct bk_engine *e, uint64_t tag);
void exec_forget_container(struct bk_engine *e, const char *ctr_id);
void exec_free_all(struct bk_engine *e);
int cgroup_join(struct bk_engine *e, const char *id, pid_t pid, struct bk_err *err);

/* monitor.c */
int monitor_start(struct bk_engine *e, struct bk_err *err);
void monitor_stop(struct bk_engine *e);
int monitor_add(struct bk_engine *e, struct container *c);

/* engine.c */
void engine_event(struct bk_engine *e, enum bk_obj_kind kind, const char *id, const char *action,
		  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
void engine_notify(struct bk_engine *e, enum bk_obj_kind kind, const char *id,
		   enum bk_change change);
int engine_new_id(const char *prefix, char out[BK_ID_SIZE]);

#endif
