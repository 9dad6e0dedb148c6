/*
 * model.h: the engine's objects, images and containers: their tables (in
 * memory, under one lock), their records in the store, their lookups, and
 * the callbacks that report their changes.  For ops/ and engine.c.
 *
 *   image.c      images: records (images/<id>/image.json), names, lookup,
 *                the table's changes for pulls, builds and commits
 *   container.c  containers: records (containers/<id>/container.json),
 *                their settable fields, lookup
 *   volume.c     volumes: records (volumes/<name>/volume.json), their files
 *                in volumes/<name>/data, lookup
 *   events.c     the watch and event callbacks (bk_engine_set_watch)
 *
 * Uses store/, net/ (a container's network settings), parse/, base/.
 * Nothing here starts or stops a process: that is ops/.  A record that does
 * not load is kept in the table, broken, with the reason.
 */
#ifndef BK_MODEL_H
#define BK_MODEL_H

#include "common/compiler.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>

#include "bocker.h"
#include "net/net.h"
#include "parse/parse.h"
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
	char *digest;      /* the manifest's, "sha256:..." */
	char *manifest;    /* as the registry sent it */
	char *layers_text; /* "DIGEST SIZE" per layer */
	/*
	 * Its place among the store's layers (layers/<key>, ops/layers.c):
	 * layer_key holds its whole filesystem (a pulled image's top layer, or a
	 * snapshot of its rootfs made when first needed), base_key the layer its
	 * own changes sit on (commits, builds; NULL: nothing, as an import).
	 */
	char *layer_key;
	char *base_key;
	struct layer_progress *progress; /* while pulling or pushing */
	int pushes;                      /* pushes under way (progress shows theirs) */
	size_t nprogress;
	char *broken; /* BK_IMAGE_BROKEN: why its record or filesystem did not load */
	int broken_code;
};

struct layer_progress {
	char digest[80];
	uint64_t done, total;
};

/*
 * A container bockerfs-runtime made for another program (containerd's
 * shim, conmon, Docker), shown from its entry in the store (ops/foreign.c):
 * seen, killed and stopped here, everything else its caller's.
 */
struct foreign {
	char key[40];         /* its entry: <state dir>/runtime/<key>.json */
	char *root;           /* the runtime's state root (--root) */
	char *oci_id;         /* its id there */
	char *bundle;         /* the bundle it was created from */
	char *rootfs;         /* its root filesystem, as the config named it */
	char *caller;         /* who ran create: "containerd-shim[812]" */
	char *cgroup;         /* its group, from the hierarchy's root */
	char status[9];       /* the runtime's: created, running, paused, stopped */
	pid_t init_pid;       /* its init, as the record names it (c->pid is 0 once it exited) */
	uint64_t reap_wait;   /* exited, its caller's reap awaited until this (ms, monotonic); 0 */
	bool created_at_exit; /* it exited before its start was seen */
};

struct container {
	char id[BK_ID_SIZE];
	uint64_t serial;
	enum bk_ctr_state state;
	char *image; /* as the user named it, NULL if not set */
	char image_id[BK_ID_SIZE];
	char *cmd;     /* NULL: the image's Entrypoint and Cmd */
	char *user;    /* NULL: the image's User */
	char *workdir; /* NULL: the image's WorkingDir */
	char **env;    /* KEY=VALUE over the image's Env */
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
	/* The host end of its last run's veth if it was made ahead ("bkq..."), else "". */
	char veth[IFNAMSIZ];
	struct port_map *ports;
	size_t nports;
	struct mount_spec *mounts; /* binds, volumes, tmpfs: sources checked when written */
	size_t nmounts;
	struct restart_policy restart;
	int restarts;         /* starts by the policy since the user's last start */
	bool stopped_by_user; /* a stop, kill or rm: no policy starts it (until the daemon's next
				 start) */
	uint64_t started_ms;  /* CLOCK_MONOTONIC at its start (not kept): how long it ran */
	uint32_t backoff_ms; /* the policy's last delay (not kept): doubles, from 100 ms to 1 min */
	bool tty;            /* its command gets a terminal (docker -t) */
	bool stdin_open;     /* its command reads the `in` file (docker -i) */
	int input_fd;   /* while running: its terminal's master or its stdin pipe's write end; -1 */
	int input_fdno; /* the terminal's master in its init (kept: taken again after a restart) */
	int followers;  /* readers of its output stream (not kept) */
	int log_wd;     /* their inotify watch on its directory, -1 */
	/*
	 * Its record did not load (NULL: fine).  Shown as BK_CTR_BROKEN; state
	 * still says whether its init runs, so that kill, stop and rm work.
	 */
	char *broken;
	int broken_code;
	struct foreign *foreign; /* NULL: the daemon's own */
};

/* volumes/<name>: volume.c. */
struct volume {
	char name[VOLUME_NAME_MAX + 1];
	uint64_t serial;
	char created[32];
	char owner[BK_ID_SIZE]; /* anonymous: the container it was made for; "" if named */
	/*
	 * Never mounted yet: at its first mount the image's files at the target
	 * are copied in, as Docker does for an empty volume.
	 */
	bool fresh;
	char *broken; /* its record did not load (NULL: fine) */
	int broken_code;
};

struct queued_event;

/*
 * Lifecycle events leave in the order of the state changes they report: a
 * change queues its event under the model's lock (events_queue_locked), and
 * whoever unlocks delivers the queue in order (events_flush), outside it.
 */
struct events {
	bk_watch_fn watch;
	bk_event_fn event;
	void *arg;
	pthread_mutex_t queue_lock;   /* protects head and tail; taken after the model's */
	pthread_mutex_t deliver_lock; /* one deliverer at a time, so the order holds */
	struct queued_event *head, **tail;
};

struct model {
	const struct store *store;  /* where the records live (borrowed) */
	pthread_mutex_t lock;       /* protects the tables and every object in them */
	pthread_cond_t ctr_changed; /* with lock: a container's state changed */
	struct image **images;
	size_t nimages;
	struct container **ctrs;
	size_t nctrs;
	struct volume **vols;
	size_t nvols;
	uint64_t next_serial; /* of the objects, never reused while the engine runs */
	struct events ev;
	char boot_id[40]; /* this boot: a record of another one runs nothing */
};

/* ---- image.c --------------------------------------------------------------------------------- */

/* What a pull made, for its image's record (ops/pull.c fills it). */
struct pulled {
	const char *familiar; /* its name, "busybox:latest"; NULL: none (a load) */
	json_t *config;       /* the image config object (borrowed) */
	const char *manifest; /* as the registry sent it */
	size_t manifest_len;
	const char *digest;      /* the manifest's */
	const char *layers_text; /* "DIGEST SIZE" per layer */
	uint64_t size;           /* bytes of file data */
};

/* Load every images/<id>; one that does not load is listed broken. */
must_check int images_load(struct model *m, struct bk_err *err);
void images_free(struct model *m);
void image_free(struct image *img);
/* "img_" and 12 hex digits. */
bool image_id_valid(const char *id);
/* ref normalised as Docker does ("busybox" -> "busybox:latest"); 0 or -EINVAL. */
must_check int familiar_name(const char *ref, char *out, size_t size, struct bk_err *err);

/* Lookups (lock held): by id or serial; by id or name whatever its state; ready only. */
struct image *image_find_locked(struct model *m, const char *id, uint64_t serial, size_t *index);
struct image *image_lookup_locked(struct model *m, const char *name);
must_check int image_resolve_locked(struct model *m, const char *name, struct image **out,
				    struct bk_err *err);
/* A ready (or pulling, building) image: not a broken one. */
bool image_exists_locked(struct model *m, const char *image_id);
/* The ready image name names: its id; ENOENT, EBUSY (not ready yet), or why it is broken. */
must_check int image_resolve(struct model *m, const char *name, char id_out[BK_ID_SIZE],
			     struct bk_err *err);
/* Its id and a copy of its config (caller decrefs). */
must_check int image_config_for(struct model *m, const char *name, char id_out[BK_ID_SIZE],
				json_t **config, struct bk_err *err);
/* images/<id> is not usable any more (its filesystem vanished): shown broken from now on. */
void image_mark_broken(struct model *m, const char *id, const struct bk_err *why);

/* What the public API reads (bk_image_get, bk_image_id, bk_image_list...). */
must_check int image_info(struct model *m, const char *id, uint64_t serial,
			  struct bk_image_info *out, struct bk_err *err);
int image_id_of(struct model *m, uint64_t serial, char id[BK_ID_SIZE]);
must_check int image_list(struct model *m, struct bk_image_entry **out, size_t *n);
must_check int image_open_build_log(struct model *m, uint64_t serial, struct bk_err *err);
must_check int image_set_refs(struct model *m, const char *id, const char *text, bool append,
			      struct bk_err *err);

/* An image's record into the directory dfd, durably. */
must_check int image_record_save(int dfd, const struct image *img, struct bk_err *err);
/* tmp/<img->id>, complete, into images/ and the table (img is the table's then). */
must_check int image_publish(struct model *m, struct image *img, struct bk_err *err);
/* Swap the built tmp/<work> in for images/<built->id>, keeping its id; tmp/<work> gets the old. */
must_check int image_exchange(struct model *m, const char *work, struct image *built,
			      struct bk_err *err);

/* A pull shown while it runs (state pulling): begin, progress, then finish or abort. */
must_check int image_pull_begin(struct model *m, const char *spec, char id[BK_ID_SIZE],
				struct bk_err *err);
void image_pull_progress(struct model *m, const char *id, const char *digest, uint64_t done,
			 uint64_t total);
must_check int image_pull_finish(struct model *m, const char *id, int work_dfd,
				 const struct pulled *p, char id_out[BK_ID_SIZE],
				 struct bk_err *err);
void image_pull_abort(struct model *m, const char *id);

/* A build shown while it runs (state building), its log in tmp/<id>/build.log. */
must_check int image_build_begin(struct model *m, const char *source, char id[BK_ID_SIZE],
				 int *log_fd, struct bk_err *err);
must_check int image_build_finish(struct model *m, const char *id, const char *from_id,
				  const char *base_key, json_t *config, const char *name,
				  uint64_t size, struct bk_err *err);
void image_build_abort(struct model *m, const char *id);
/* A build step's image: a writable snapshot of base_id's (NULL: empty), then published. */
must_check int image_derive_begin(struct model *m, const char *base_id, char id_out[BK_ID_SIZE],
				  int *rootfs_fd, struct bk_err *err);
must_check int image_derive_publish(struct model *m, const char *id, int rootfs_fd, json_t *config,
				    const char *source, uint64_t size, struct bk_err *err);
void image_derive_abort(struct model *m, const char *id);
/* A push of id begins (EBUSY unless ready), and ends: its progress is shown meanwhile. */
must_check int image_push_begin(struct model *m, const char *id, struct bk_err *err);
void image_push_end(struct model *m, const char *id);
/* images/<id>'s filesystem is also layers/<key> (ops/layers.c): recorded. */
must_check int image_set_layer_key(struct model *m, const char *id, const char *key,
				   struct bk_err *err);
must_check int image_set_config(struct model *m, const char *id, json_t *config, const char *source,
				struct bk_err *err);

/* ---- container.c ----------------------------------------------------------------------------- */

/* Load every containers/<id>; one that does not load is listed broken (not running). */
must_check int containers_load(struct model *m, struct bk_err *err);
void containers_free(struct model *m);
void container_free(struct container *c);

/* Lookups (lock held): by id, or by serial when id is NULL. */
struct container *container_find_locked(struct model *m, const char *id, uint64_t serial);
/* Is a container made from image_id?  who gets its id. */
bool container_uses_image_locked(struct model *m, const char *image_id, char *who, size_t size);
void container_table_del_locked(struct model *m, struct container *c);

/* Its record, replaced atomically (not for a broken one: its error). */
must_check int container_save(struct model *m, const struct container *c, struct bk_err *err);
/* The error for any operation but kill, stop and remove on a broken container. */
must_check int container_broken_err(const struct container *c, struct bk_err *err);
/* Its `exit` event's attributes: "code=N", "signal=N [oomkilled=1]", or "code=unknown". */
void container_exit_attrs(const struct container *c, char *buf, size_t size);
/* Is c the daemon's to change (not broken, not a runtime's)?  Else the error, for op. */
must_check int container_changeable(const struct container *c, const char *op, struct bk_err *err);
void foreign_free(struct foreign *f);
/* Its init ended (wait_code, wait_status from waitid; 0: not ours to reap): exit recorded. */
void container_set_exited_locked(struct model *m, struct container *c, int wait_code,
				 int wait_status);

/* A runtime's container (f: taken) into the table as name, created; no record of ours. */
struct container *container_new_foreign_locked(struct model *m, const char *name, struct foreign *f,
					       const char *created);
/* A new container (created): name NULL gives ps_<12 hex>; EEXIST, EINVAL. */
/* What a new container has besides the defaults, each NULL for nothing: image (and its id), cmd. */
struct ctr_init {
	const char *image, *image_id, *cmd;
};
must_check int container_create(struct model *m, const char *name, const struct limits *limits,
				const struct ctr_init *init, char id_out[BK_ID_SIZE],
				struct bk_err *err);
/* Set image (image_id: resolved), cmd, env, net or ports, and save; EBUSY once started. */
must_check int container_set_locked(struct model *m, struct container *c, enum bk_ctr_field field,
				    const char *value, const char *image_id, bool append,
				    struct bk_err *err);

/*
 * The image config a container runs with: its own copy, kept at its first
 * start (containers/<id>/image.json), so that it runs on as it was made
 * after its image is removed (rm force) or replaced (commit IMG_ID), as
 * Docker's containers keep theirs; before that, its image's (id_out: its id).
 */
must_check int container_config(struct model *m, const char *id, const char *image_id,
				char id_out[BK_ID_SIZE], json_t **config, struct bk_err *err);
must_check int container_config_keep(struct model *m, const char *id, json_t *config,
				     struct bk_err *err);

/* Its mounts replaced at a start (anonymous volumes added) and saved; lock held. */
must_check int container_set_mounts_locked(struct model *m, struct container *c, const char *text,
					   struct bk_err *err);

/* What the public API reads (bk_container_get but its net, bk_container_id...). */
must_check int container_info(struct model *m, const char *id, uint64_t serial,
			      struct bk_container_info *out, struct bk_err *err);
int container_id_of(struct model *m, uint64_t serial, char id[BK_ID_SIZE]);
int container_state_of(struct model *m, uint64_t serial, enum bk_ctr_state *state);
must_check int container_list(struct model *m, struct bk_container_entry **out, size_t *n);
must_check int container_open_log(struct model *m, uint64_t serial, bool rotated,
				  struct bk_err *err);

/* ---- volume.c -------------------------------------------------------------------------------- */

/* Load every volumes/<name>; one that does not load is listed broken. */
must_check int volumes_load(struct model *m, struct bk_err *err);
void volumes_free(struct model *m);
/* By name, or by serial when name is NULL (lock held). */
struct volume *volume_find_locked(struct model *m, const char *name, uint64_t serial);
/* A new empty volume (owner: the container an anonymous one is for, else NULL); EEXIST, EINVAL. */
must_check int volume_create(struct model *m, const char *name, const char *owner,
			     struct bk_err *err);
must_check int volume_save(struct model *m, const struct volume *v, struct bk_err *err);
/* Out of volumes/ and the table (lock held); then volume_discard(), unlocked, frees it. */
must_check int volume_remove_locked(struct model *m, struct volume *v, struct bk_err *err);
void volume_discard(struct model *m, struct volume *v);
must_check int volume_info(struct model *m, const char *name, uint64_t serial,
			   struct bk_volume_info *out, struct bk_err *err);
must_check int volume_list(struct model *m, struct bk_volume_entry **out, size_t *n);
/* Do c's mounts name volume name? */
bool container_names_volume(const struct container *c, const char *name);
/* Does a container's mounts name volume name?  who gets its id. */
bool container_uses_volume_locked(struct model *m, const char *name, char *who, size_t size);

/* ---- events.c -------------------------------------------------------------------------------- */

void events_init(struct events *ev);
void events_destroy(struct events *ev);
/* An object was created, changed or removed (no lock held). */
void events_notify(const struct events *ev, enum bk_obj_kind kind, const char *id,
		   enum bk_change change);
/*
 * A lifecycle event for the events file; attrs printf-style ("k=v k=v").
 * Queued with the model's lock held, at the state change it reports; sent
 * by events_flush once that lock is dropped.  events_emit is both, for an
 * event whose order against others no lock decides.
 */
void events_queue_locked(struct events *ev, enum bk_obj_kind kind, const char *id,
			 const char *action, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
void events_flush(struct events *ev);
void events_emit(struct events *ev, enum bk_obj_kind kind, const char *id, const char *action,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

#endif
