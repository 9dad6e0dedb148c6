/*
 * ops.h: the operations, on the whole engine (struct bk_engine, below):
 * everything that takes several layers at once lives in ops/, and only
 * engine.c (open, close, reconciliation at start) is above it.
 *
 *   start.c      a start, from a container's record to a launch request
 *   launch.c     the init launched, joined to its cgroup and network, told to go
 *   lifecycle.c  an init's exit, kill, stop, rm, live limits; inits adopted at start
 *   volumes.c    volumes; a container's mounts checked when written and made at start
 *   restart.c    restart policies: starts after an exit, with backoff, and at the daemon's start
 *   io.c         a running container's input (stdin, terminal) and its output stream
 *   network.c    containers' networks: the glue between their lifecycle and net/
 *   exec.c       exec sessions
 *   monitor.c    the thread that sees inits and exec sessions end
 *   foreign.c    the containers bockerfs-runtime made for other programs, shown
 *   spare.c      snapshots of images made ahead of starts
 *   import.c     a host directory copied into a new image
 *   pull.c       a pull's layers from the registry into the store
 *   layerbuild.c a layer and an image directory made from a stream (pull, load)
 *   build.c      a Dockerfile built step by step
 *   commit.c     a container's filesystem made an image
 *   images.c     an image's removal (with its spare snapshots)
 *   layers.c     the store's layers as a graph: an image's layer, blobs, collection
 *   export.c     an image as OCI blobs: its layers' blobs, config, manifest (push, save)
 *   push.c       an image pushed to a registry
 *   archive.c    image archives as tar files, read by member name and written (save, load)
 *   save.c       images saved to an archive (docker save)
 *   load.c       an archive's images loaded into the store (docker load)
 *   usage.c      disk usage (docker system df): each object's extents, shared ones once
 *   prune.c      what is not in use removed (docker system prune)
 *   query.c      the public API's reads of the tables
 */
#ifndef BK_OPS_H
#define BK_OPS_H

#include "common/compiler.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bocker.h"
#include "base/base.h"
#include "model/model.h"
#include "net/net.h"
#include "parse/parse.h"
#include "proc/proc.h"
#include "registry/registry.h"
#include "store/store.h"

#include <pthread.h>

struct bk_engine;

/* ---- the state of this layer (in struct bk_engine) ----------------------------------------- */

struct monitor {
	int epfd;       /* epoll over running containers' pidfds and exec sessions' fds */
	int wakefd;     /* eventfd: stop the monitor */
	int inotify_fd; /* followed containers' directories: their logs grew (io.c) */
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
	uint64_t next_uid;         /* protected by model.lock */
};

struct network {
	struct net_host *host; /* NULL: no bridge networking on this host */
	struct ipam *ipam;
	struct netpool *pool; /* networks made ahead; NULL: none */
	/* The ids whose network a removal is releasing (network_release). */
	pthread_mutex_t release_lock;
	pthread_cond_t release_done;
	char (*releasing)[BK_ID_SIZE]; /* protected by release_lock */
	size_t nreleasing;             /* protected by release_lock */
};

/* The engine: one part per layer (fsd/ sees none of it: bocker.h only). */
/* Restart policies' pending starts (restart.c), under the model's lock. */
struct restart_pending;
struct restarts {
	pthread_t thread;
	bool running, quit;
	pthread_cond_t cond; /* with the model's lock: the list changed, or quit */
	struct restart_pending *list;
};

/* layers.c: operations that make layers before an image records them hold off the collection. */
struct layers {
	pthread_mutex_t lock;
	int holds;                   /* protected by lock */
	bool gc_pending;             /* protected by lock: run by the last release */
	bool collecting;             /* protected by lock: layers_gc runs; holds wait */
	pthread_mutex_t image_lock;  /* image_layer: one snapshot per image */
	pthread_mutex_t record_lock; /* layer.json rewrites */
	pthread_cond_t done;         /* with lock: a collection ended */
	pthread_mutex_t blob_lock;   /* one blob made at a time */
};

/* bockerfs-runtime's containers (foreign.c). */
struct foreigners {
	int entries_fd; /* <state dir>/runtime: the runtime's entries */
	int inotify_fd; /* watching it, in the monitor's epoll */
	int reap_waits; /* exited inits whose caller's reap is awaited (model lock) */
};

struct bk_engine {
	struct store store;
	struct layers layers;
	struct model model;
	struct procs procs;
	struct network net;
	struct registry_config registry;
	struct monitor monitor;
	struct spares spares;
	struct execs execs;
	struct restarts restarts;
	struct foreigners foreign;
};

/* ---- layers.c -------------------------------------------------------------------------------- */

#define LAYER_KEY_SIZE 72 /* 64 hex digits of a chain id, or "local-" and 24 */

/* layers/<key>/layer.json: what one layer is, and the blob stored with it. */
struct layer_rec {
	char key[LAYER_KEY_SIZE];
	char parent[LAYER_KEY_SIZE];    /* the layer below, "" at the bottom */
	char chain_id[DIGEST_STR_SIZE]; /* pulled layers: their chain id */
	char diff_id[DIGEST_STR_SIZE];  /* pulled layers: the config's diff id */
	bool has_blob;                  /* layers/<key>/blob holds the blob below */
	char blob_digest[DIGEST_STR_SIZE];
	char blob_diff_id[DIGEST_STR_SIZE]; /* of the tar inside it */
	char blob_media_type[96];
	uint64_t blob_size;
};

bool layer_key_valid(const char *key);
const char *layer_media_type(enum layer_comp comp);
/* store/layers, made if missing: an fd, or -errno. */
must_check int layers_open_dir(struct bk_engine *e, struct bk_err *err);
must_check int layer_rec_load(int layers_fd, const char *key, struct layer_rec *out,
			      struct bk_err *err);
/* The layers from the bottom up to key (*out: caller frees), following parents. */
must_check int layer_chain(int layers_fd, const char *key, struct layer_rec **out, size_t *n,
			   struct bk_err *err);
/* Make rec's blob (the diff over its parent, gzip) unless stored; rec gets its fields. */
must_check int layer_blob_make(struct bk_engine *e, int layers_fd, struct layer_rec *rec,
			       struct bk_cancel *cancel, struct layer_diff_stats *stats,
			       struct bk_err *err);
/* Remember that layer key's blob is in repo ("host/path") now: a later push mounts it. */
void layer_note_source(struct bk_engine *e, int layers_fd, const char *key, const char *repo);
/*
 * The key of the layer holding image id's whole filesystem, made (a
 * snapshot of its rootfs over its base) and recorded if it has none; ""
 * for a pulled image with no layers.
 */
must_check int image_layer(struct bk_engine *e, int layers_fd, const char *id,
			   char key[LAYER_KEY_SIZE], struct bk_err *err);
/*
 * The layers image img reaches directly (model lock held): its layer, its
 * base, its pulled chain's top; "" where it has none.  What the collection
 * keeps and `df` counts.
 */
void image_layer_roots_locked(const struct image *img, char roots[3][LAYER_KEY_SIZE]);
/* Around work that makes layers before an image records them: the collection waits. */
void layers_hold(struct bk_engine *e);
void layers_release(struct bk_engine *e);
/* Remove the layers no image reaches (later, if held). */
void layers_gc(struct bk_engine *e);

/* ---- export.c -------------------------------------------------------------------------------- */

/* An image as the OCI blobs that carry it (push, save). */
struct image_export {
	char id[BK_ID_SIZE];
	char **refs; /* its names */
	size_t nrefs;
	struct layer_rec *chain; /* bottom first, every blob made (layers/<key>/blob) */
	size_t n;
	char *config; /* the config blob */
	size_t config_len;
	char config_digest[DIGEST_STR_SIZE];
	char *manifest;
	size_t manifest_len;
	char manifest_digest[DIGEST_STR_SIZE];
	const char *manifest_type; /* OCI's, or Docker's for a pulled one as it came */
	/* from the image's record */
	char *source, *pulled_digest, *pulled_manifest;
	json_t *config_json;
};

/*
 * Image name (id or reference) as blobs: its layers (made into layers/ if
 * needed, blobs compressed if not stored), config and manifest.  Free *x
 * with image_export_free, also after a failure.  Call with the layers held.
 */
must_check int image_export_open(struct bk_engine *e, int layers_fd, const char *name,
				 struct bk_cancel *cancel, struct image_export *x,
				 struct bk_err *err);
void image_export_free(struct image_export *x);

/* ---- archive.c: image archives as tar files (save, load) ---------------------------------- */

struct tar_member;
/* The members of an archive (one pass over its headers), to read them by name. */
struct tar_index {
	int fd; /* the archive, a regular file (borrowed) */
	struct tar_member *m;
	size_t n;
	size_t name_bytes; /* of its members' names and links */
	bool compressed;   /* gzip or zstd around the tar */
};
/*
 * Index the tar archive open at fd (read from its start): EBADMSG for what
 * is no tar, a member name that is absolute, climbs out with "..", or comes
 * twice, past 65536 members or a decompression bomb's ratio; EINTR.
 */
must_check int tar_index_open(int fd, struct bk_cancel *cancel, struct tar_index *out,
			      struct bk_err *err);
void tar_index_free(struct tar_index *ix);
/* The size of the regular member name (symlinks and hardlinks inside followed); EBADMSG. */
must_check int tar_member_size(const struct tar_index *ix, const char *name, uint64_t *size,
			       struct bk_err *err);
/* Member name into memory (NUL-terminated, caller frees); EFBIG over max bytes, EBADMSG. */
must_check int tar_read_member(const struct tar_index *ix, const char *name, size_t max, char **out,
			       size_t *len, struct bk_err *err);
/* Member name as a stream (one at a time per index: they share its fd). */
struct tar_stream;
must_check int tar_stream_open(const struct tar_index *ix, const char *name,
			       struct bk_cancel *cancel, struct tar_stream **out,
			       struct bk_err *err);
/* The next bytes: > 0, 0 at the member's end, -errno (EBADMSG truncated, EINTR). */
ssize_t tar_stream_read(struct tar_stream *s, const void **buf, struct bk_err *err);
void tar_stream_close(struct tar_stream *s);

/* A tar archive written to an fd, member by member (ustar; pax only where needed). */
struct archive;
struct tar_out {
	struct archive *a;
};
must_check int tar_out_open(struct tar_out *t, int fd, struct bk_err *err);
must_check int tar_out_dir(struct tar_out *t, const char *name, struct bk_err *err);
must_check int tar_out_mem(struct tar_out *t, const char *name, const void *data, size_t len,
			   struct bk_err *err);
/* A member of size bytes read from fd; digest gets their sha256.  EINTR, EIO, ENOSPC. */
must_check int tar_out_file(struct tar_out *t, const char *name, int fd, uint64_t size,
			    struct bk_cancel *cancel, char digest[DIGEST_STR_SIZE],
			    struct bk_err *err);
/* The archive's end written (then freed, as after tar_out_free). */
must_check int tar_out_close(struct tar_out *t, struct bk_err *err);
void tar_out_free(struct tar_out *t);

/* ---- usage.c: disk usage, and what prune.c removes ----------------------------------------- */

enum usage_kind { USAGE_IMAGE, USAGE_CONTAINER, USAGE_VOLUME, USAGE_LAYER, USAGE_KINDS };

/* Sets an object can be in (bits of usage_obj.sets): who would free its bytes. */
enum usage_set {
	USAGE_FREE_IMAGES = 1 << USAGE_IMAGE, /* prune images all, and the layers it frees */
	USAGE_FREE_CONTAINERS =
	    1 << USAGE_CONTAINER,               /* prune containers, their anonymous volumes */
	USAGE_FREE_VOLUMES = 1 << USAGE_VOLUME, /* prune volumes */
	USAGE_FREE_LAYERS = 1 << USAGE_LAYER,   /* the layers no image reaches */
	USAGE_GONE = 1 << USAGE_KINDS,          /* removed since the scan (prune.c) */
};

/* One object of a scan; its number is its owner number in the extent map. */
struct usage_obj {
	enum usage_kind kind;
	char id[BK_VOLUME_NAME_SIZE]; /* image or container id, volume name, layer key */
	unsigned sets;
	bool partial;            /* its walk stopped at a cap */
	bool in_use;             /* image: used (usage_image_in_use_locked); volume: named */
	bool prunable;           /* removed by the prune of its kind (images: "all") */
	bool named;              /* image: has a name */
	bool reached;            /* layer: reached by an image */
	enum bk_ctr_state state; /* container */
	char image_id[BK_ID_SIZE];
	char owner[BK_ID_SIZE]; /* volume: an anonymous one's container */
	uint64_t users;         /* image: containers made from it; volume: containers naming it */
	char roots[3][LAYER_KEY_SIZE]; /* image: the layers it names; layer: [0] its parent */
	long image;                    /* container: its image's object, -1 */
	long parent;                   /* layer: its parent's object, -1 */
	bool in_seg;                   /* scratch of the sweep */
	uint64_t size, shared, own;    /* the sweep's sums */
};

struct usage_scan {
	struct extent_map map;
	struct usage_obj *objs;
	size_t n;
	bool partial;
	bool broken_image; /* layers are not collected while one is there */
	uint64_t row_size[USAGE_KINDS];
	uint64_t freed[USAGE_KINDS + 1]; /* per set bit: bytes only objects in that set hold */
};

/* Every image, container, volume and layer, their extents walked and summed. */
must_check int usage_scan(struct bk_engine *e, struct usage_scan *s, struct bk_cancel *cancel,
			  struct bk_err *err);
/* The sums again (after prune.c set USAGE_GONE bits). */
void usage_sum(struct usage_scan *s);
void usage_scan_free(struct usage_scan *s);
/* In use, not to be pruned (lock held): a container was made from it, a build or a push uses it. */
bool usage_image_in_use_locked(struct bk_engine *e, const struct image *img);
/* prune containers removes it (lock held): created or exited, not broken, no restart due. */
bool usage_container_prunable_locked(struct bk_engine *e, const struct container *c);
/* prune volumes removes it (lock held): not broken, named by no container's mounts. */
bool usage_volume_prunable_locked(struct bk_engine *e, const struct volume *v);

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
/*
 * Launch it: the init's pid and pidfd once the command runs, and in veth the
 * host end of its veth if it was made ahead ("" if not), or -errno.
 */
must_check int launch(struct bk_engine *e, const struct launch_req *req, pid_t *pid, int *pidfd,
		      struct init_input *input, char veth[IFNAMSIZ], struct bk_err *err);

/* ---- start.c, restart.c -------------------------------------------------------------------- */

/* Start id: by the user (its policy's count and a stop by the user forgotten) or the policy. */
must_check int container_start_by(struct bk_engine *e, const char *id, bool by_policy,
				  struct bk_err *err);
/* The thread that runs the policies' starts, and those it starts at the daemon's start. */
must_check int restarts_start(struct bk_engine *e, struct bk_err *err);
void restarts_stop(struct bk_engine *e);
/* c exited (lock held): start it again later if its policy says so. */
void restart_after_exit_locked(struct bk_engine *e, struct container *c, bool failed);
/* A pending start of id dropped (a stop, kill, rm or start by the user); true if one was. */
bool restart_cancel_locked(struct bk_engine *e, const char *id);
uint64_t now_ms(void);

/* ---- volumes.c ------------------------------------------------------------------------------- */

/*
 * The resolved absolute path real is bockerfs's own or holds it: the state
 * directory, the store or the control tree (own_out gets which, resolved).
 * Bind sources and image archives there are refused.
 */
bool path_is_own(struct bk_engine *e, const char *real, char *own_out /* PATH_MAX bytes */);

/* A container's mounts at its start. */
struct mounts_start {
	struct mount_spec *m; /* the container's (a copy), with the anonymous ones added */
	size_t n;
	struct plan_mount *plan; /* what the init mounts, in n entries, outer ones first */
	char **paths;            /* the plan's sources */
	bool binds;              /* a host path among them (not only volumes and tmpfs) */
};
/* The text a `mounts` write stores: parsed, bind sources resolved and checked, volumes made. */
must_check int mounts_check(struct bk_engine *e, const char *text, char **out, struct bk_err *err);
/* Anonymous volumes for the image's VOLUMEs, fresh volumes filled, the init's list. */
must_check int mounts_start(struct bk_engine *e, struct mounts_start *ms, const char *id,
			    int rootfs_fd, json_t *config, struct bk_err *err);
void mounts_start_free(struct mounts_start *ms);
/* After rm of id: the anonymous volumes made for it go too. */
void volumes_of_removed(struct bk_engine *e, const char *id);

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
must_check int spare_start(struct bk_engine *e, struct bk_err *err);
void spare_stop(struct bk_engine *e);
void spare_refill(struct bk_engine *e, const char *image_id);
void spare_used(struct bk_engine *e, const char *image_id);
must_check int spare_take(struct bk_engine *e, const char *image_id, int dst_dfd, const char *name);
void spare_drop(struct bk_engine *e, const char *image_id);
must_check int count_spares(struct bk_engine *e, const char *image_id);

/* ---- network.c ----------------------------------------------------------------------------- */
must_check int network_open(struct bk_engine *e, const struct bk_engine_opts *opts,
			    struct bk_err *err);
void network_start(struct bk_engine *e);
void network_close(struct bk_engine *e);
void network_republish(struct bk_engine *e);
must_check int network_prepare(struct bk_engine *e, const char *id, enum net_mode mode,
			       uint32_t *ip, struct bk_err *err);
must_check int network_attach(struct bk_engine *e, const char *id, pid_t pid, enum net_mode mode,
			      uint32_t ip, struct net_spare *made, const struct port_map *ports,
			      size_t nports, struct bk_err *err);
void network_detach(struct bk_engine *e, const char *id);
void network_abort(struct bk_engine *e, const char *id, const char *veth);
void network_release(struct bk_engine *e, const char *id, const char *veth);
void network_forget_veth(struct bk_engine *e, const char *id, const char *veth);
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

/* Write a command's input (a pipe or a terminal), waiting for room up to 10 s; bytes or -errno. */
ssize_t input_write(int fd, const char *buf, size_t len);

/* ---- io.c ---------------------------------------------------------------------------------- */

/* After a daemon restart: a running container's terminal, from its init (lock held). */
void io_adopt_locked(struct bk_engine *e, struct container *c);
/* Monitor thread: followed logs that grew. */
void io_log_events(struct bk_engine *e);

/* ---- foreign.c: the containers bockerfs-runtime made, shown in the tree ------------------- */

/*
 * Open and watch <state dir>/runtime, and show the containers of its entries
 * (at start).  If it cannot, the daemon runs on without them (a warning).
 */
void foreign_open(struct bk_engine *e);
void foreign_close(struct bk_engine *e);
/* Monitor thread: entries were written or removed. */
void foreign_entries_changed(struct bk_engine *e);
/* Monitor thread: the pidfd of a runtime container's init reported events (it exited). */
void foreign_init_event(struct bk_engine *e, uint64_t serial, uint32_t events);
/* Monitor thread: are exits waiting for their caller's reap?  Then tick now and then. */
bool foreign_waiting(struct bk_engine *e);
void foreign_tick(struct bk_engine *e);
/* bk_container_get of a runtime container: its group, its limits as the kernel holds them. */
void foreign_describe(struct bk_engine *e, const char *id, struct bk_container_info *out);

/* ---- monitor.c ----------------------------------------------------------------------------- */
must_check int monitor_start(struct bk_engine *e, struct bk_err *err);
void monitor_stop(struct bk_engine *e);
must_check int monitor_add(struct bk_engine *e, struct container *c);

/* engine.c */

/* ---- pull.c: the layers of an image pulled into the store --------------------------------- */

struct pull_layer {
	char digest[DIGEST_STR_SIZE];   /* compressed blob */
	uint64_t size;                  /* compressed bytes, as the manifest says */
	char diff_id[DIGEST_STR_SIZE];  /* uncompressed tar */
	char chain_id[DIGEST_STR_SIZE]; /* key of store/layers/<hex> */
	uint64_t file_bytes;            /* regular-file data the layer wrote */
	bool fetched;                   /* false: it was in the store already */
};

struct pull_result {
	char *familiar;   /* "busybox:latest", "localhost:5000/x/y:t": the image's name */
	json_t *config;   /* the image config object */
	char *config_raw; /* the config blob as the registry sent it */
	size_t config_raw_len;
	char *manifest; /* the image manifest as the registry sent it */
	size_t manifest_len;
	char digest[DIGEST_STR_SIZE]; /* sha256 of manifest */
	char *layers_text;            /* "DIGEST SIZE\n" per layer, bottom first */
	uint64_t size;                /* sum of the layers' file bytes */
	struct pull_layer *layers;
	size_t nlayers;
	uint64_t requests; /* HTTP requests made, token fetches and redirects included */
	uint64_t fetched_bytes;
};
void pull_result_free(struct pull_result *res);

/*
 * The name an image pulled with spec will have ("busybox:latest" for
 * "busybox linux/arm64"), for showing it while the pull runs.  0 or -EINVAL.
 */
must_check int pull_spec_name(const char *spec, char *out, size_t size, struct bk_err *err);

/*
 * Pull spec ("REF" or "REF os/arch[/variant]") into the empty directory open
 * at work_dfd: a read-only subvolume "rootfs" (a snapshot of the top layer),
 * and the files config.json, manifest.json, digest and layers.  Layers that
 * are missing are downloaded in parallel, verified and committed to
 * store/layers/ on the way, so they survive a later failure of this pull and
 * are reused by the next one.  On failure work_dfd holds a partial result
 * for the caller to remove.
 */
must_check int pull_build(struct bk_engine *e, const char *spec, int work_dfd,
			  struct bk_cancel *cancel, const struct bk_pull_progress *progress,
			  struct pull_result *out, struct bk_err *err);

/* ---- commit.c ------------------------------------------------------------------------------- */

/* A build step's commit: bk_container_commit without the base layer a push would need. */
must_check int container_commit_step(struct bk_engine *e, const char *ctr_id,
				     char id_out[BK_ID_SIZE], struct bk_err *err);

/* ---- layerbuild.c: a layer and an image directory from a stream (pull, load) --------------- */

/* One layer to make: layers/<chain hex>, over parent's. */
struct layer_build {
	const char *chain_id;
	const char *parent;  /* its chain id, NULL at the bottom */
	const char *diff_id; /* the config's: the extracted tar must have it */
	/* The blob: read once src has ended (a stream may learn its digest only there). */
	const char *digest;
	uint64_t size;
	enum layer_comp comp;
	const char *blob_name;          /* tmp/<blob_name>: the blob as src gave it, kept */
	const struct layer_reader *src; /* read to its end; fails with "digest mismatch" on a lie */
	struct bk_cancel *cancel;
	const char *fp;     /* its failpoints: FP.blob-verified, FP.layer-committed */
	const char *source; /* "host/path" of the repository it came from, or NULL */
};
/*
 * Make b's layer: extracted in tmp/ (store/layer.c's caps), its diff id
 * checked, its blob kept, read-only, synced, renamed into layers/ (one that
 * another pull or load committed first is kept instead).  file_bytes gets
 * the bytes of file data it wrote.  Nothing of it is left on failure.
 */
must_check int layer_build(struct bk_engine *e, int layers_fd, const struct layer_build *b,
			   uint64_t *file_bytes, struct bk_err *err);
/* layers/<chain hex> is committed. */
bool layer_committed(int layers_fd, const char *chain_id);
/* The file bytes a committed layer's layer.json records (0 if unreadable). */
uint64_t layer_file_bytes(int layers_fd, const char *chain_id);
/*
 * The image over layers (committed, bottom first) in the empty directory open
 * at work_dfd: a read-only "rootfs" (a snapshot of the top layer), config.json,
 * manifest.json, digest, config.blob and layers from out (config, manifest,
 * digest, config_raw); out gets layers_text and size.  Not synced:
 * image_pull_finish syncs them with the record.
 */
must_check int image_dir_write(int layers_fd, const struct pull_layer *layers, size_t n,
			       int work_dfd, struct pull_result *out, struct bk_err *err);

#endif
