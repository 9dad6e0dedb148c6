/*
 * ops.h: the operations, on the whole engine (struct bk_engine, engine.h):
 * everything that takes several layers at once lives in ops/, and only
 * engine.c is above it.
 *
 *   start.c    a start, from a container's record to a launch request
 *   launch.c   the init launched, joined to its cgroup and network, told to go
 *   network.c  containers' networks: the glue between their lifecycle and net/
 *   exec.c     exec sessions
 *   monitor.c  the thread that sees inits and exec sessions end
 *   spare.c    snapshots of images made ahead of starts
 *   pull.c     a pull's layers from the registry into the store
 *   build.c    a Dockerfile built step by step
 */
#ifndef BK_OPS_H
#define BK_OPS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bocker.h"
#include "net/net.h"
#include "parse/parse.h"
#include "proc/proc.h"

#include <pthread.h>

struct bk_engine;

/* ---- the state of this layer (in struct bk_engine) ----------------------------------------- */

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
	/* The ids whose network a removal is releasing (network_release). */
	pthread_mutex_t release_lock;
	pthread_cond_t release_done;
	char (*releasing)[BK_ID_SIZE]; /* protected by release_lock */
	size_t nreleasing;             /* protected by release_lock */
};


/* ---- launch.c -------------------------------------------------------------------------------- */

/* A start, all decided: the plan for the init, and what the daemon does around it. */
struct launch_req {
	struct plan_req plan;
	const char *id;              /* the container: its cgroup, veth, lease */
	int state_dfd;               /* the container's directory in the store */
	const struct limits *limits; /* applied before the init may go on; NULL: no cgroups */
	enum net_mode net_mode;
	uint32_t ip;
	const struct port_map *ports;
	size_t nports;
};
/* Launch it: the init's pid and pidfd once the command runs, or -errno. */
int launch(struct bk_engine *e, const struct launch_req *req, pid_t *pid, int *pidfd,
	   struct bk_err *err) __attribute__((warn_unused_result));

/* ---- lifecycle.c ----------------------------------------------------------------------------- */

struct container;
/* The init of c has exited (monitor thread): record how, release what it held, notify. */
void container_exited(struct bk_engine *e, struct container *c, int wait_code, int wait_status);
/*
 * After the records are loaded: adopt the inits that outlived the daemon
 * (by pid, start time and boot id; a broken record's by its root), end the
 * starts it did not live to record, and record the exits of the others.
 */
void containers_adopt(struct bk_engine *e);

/* ---- spare.c ------------------------------------------------------------------------------- */
int spare_start(struct bk_engine *e, struct bk_err *err);
void spare_stop(struct bk_engine *e);
void spare_refill(struct bk_engine *e, const char *image_id);
void spare_used(struct bk_engine *e, const char *image_id);
int spare_take(struct bk_engine *e, const char *image_id, int dst_dfd, const char *name);
void spare_drop(struct bk_engine *e, const char *image_id);
int count_spares(struct bk_engine *e, const char *image_id);

/* ---- network.c ----------------------------------------------------------------------------- */
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

/* ---- exec.c: the monitor's epoll tags an exec session's fds with these bits ------------------ */
#define EXEC_TAG_OUT  (1ULL << 62)
#define EXEC_TAG_SYNC (2ULL << 62)
#define EXEC_TAG_PID  (3ULL << 62)
#define EXEC_TAG_MASK (3ULL << 62)
#define EXEC_UID_MASK ((1ULL << 62) - 1)
void exec_event(struct bk_engine *e, uint64_t tag);
void exec_forget_container(struct bk_engine *e, const char *ctr_id);
void exec_free_all(struct bk_engine *e);

/* ---- monitor.c ----------------------------------------------------------------------------- */
int monitor_start(struct bk_engine *e, struct bk_err *err);
void monitor_stop(struct bk_engine *e);
int monitor_add(struct bk_engine *e, struct container *c);

/* engine.c */

#endif
