/*
 * bocker.h: the engine's public API, the only engine header fsd/ includes.
 *
 * The engine is a library that stores images and (later) runs containers on a
 * btrfs store.  It knows nothing of FUSE: it takes typed arguments, returns
 * typed state, and reports changes through a callback the caller installs.
 *
 * Error convention (crun's, with a caller-owned buffer): a fallible function
 * returns >= 0 on success or -errno on failure, and fills the struct bk_err
 * passed last with the errno and a "context: cause" message.
 */
#ifndef BOCKER_H
#define BOCKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BK_VERSION "0.1.0"
#define BK_API     1

/* ---- errors and logging ------------------------------------------------ */

struct bk_err {
	int code;      /* positive errno, 0 if none */
	char msg[512]; /* "ctx: ctx: cause", no trailing newline */
};
#define BK_ERR_INIT   \
	{             \
		0, "" \
	}

/* Set code and message; returns -code. */
int bk_err_set(struct bk_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Like bk_err_set with code = errno, appending ": strerror(errno)". */
int bk_err_sys(struct bk_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefix the message with more context; returns -code. */
int bk_err_wrap(struct bk_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

enum bk_log_level { BK_LOG_ERROR, BK_LOG_WARN, BK_LOG_INFO, BK_LOG_DEBUG };
typedef void (*bk_log_sink)(enum bk_log_level level, const char *msg);
/* The daemon decides where the engine's diagnostics go (stderr by default). */
void bk_log_set_sink(bk_log_sink sink);
void bk_log(enum bk_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- cancellation ------------------------------------------------------ */

/* Long operations poll this between steps and roll back with EINTR when set. */
struct bk_cancel {
	atomic_int cancelled;
};

/* ---- the engine -------------------------------------------------------- */

struct bk_engine;

/* The state directory a daemon uses, and where bockerfs-runtime enlists its containers. */
#define BK_STATE_DEFAULT "/var/lib/bockerfs"

struct bk_engine_opts {
	const char *root;      /* state directory, default BK_STATE_DEFAULT */
	uint64_t storage_size; /* size of the embedded btrfs image file */
	/* Registries (pull): mirrors tried first for Docker Hub, plain-http hosts, credentials. */
	const char *const *registry_mirrors;    /* NULL-terminated, may be NULL */
	const char *const *insecure_registries; /* "HOST:PORT", NULL-terminated, may be NULL */
	const char *auth_config;                /* docker-style config.json, may be NULL */
	uint64_t log_max;           /* container logs rotate to log.1 past this (0: default) */
	const char *default_limits; /* "KEY VALUE" lines every new container starts with */
	const char *bridge;         /* NULL: "bocker0" */
	const char *subnet;         /* NULL: "10.88.0.0/16" */
	/*
	 * A mount point of the caller's (the control tree) that the inits started
	 * ahead of time drop from their copy of the mount table: one that kept
	 * it mounted would keep its filesystem alive after an unmount.  May be NULL.
	 */
	const char *hide_mount;
	/*
	 * Cgroups that cannot be set up: false, the engine does not open (no
	 * container may run without its limits unnoticed); true, containers run
	 * without limits, with a warning.
	 */
	bool no_cgroups;
};
#define BK_LOG_MAX_DEFAULT (10ULL << 20)

/* BK_OBJ_EXEC: an exec session, id "CTR/N" (new output or its end). */
enum bk_obj_kind { BK_OBJ_IMAGE, BK_OBJ_CONTAINER, BK_OBJ_EXEC, BK_OBJ_VOLUME };
/* STATE: a container's state changed (created/running/exited); UPDATED: anything else. */
/* OUTPUT: a followed container's log grew (bk_container_follow). */
enum bk_change {
	BK_CHANGE_CREATED,
	BK_CHANGE_UPDATED,
	BK_CHANGE_STATE,
	BK_CHANGE_REMOVED,
	BK_CHANGE_OUTPUT,
};
/*
 * Called, from whichever thread made the change and with no engine lock held,
 * after an object is created, changed or removed.
 */
typedef void (*bk_watch_fn)(void *arg, enum bk_obj_kind kind, const char *id,
			    enum bk_change change);
/*
 * Called for every lifecycle event ("create", "start", "exit", "remove",
 * "import"...), attrs is "" or "k=v k=v".  Same threading rules as bk_watch_fn.
 */
typedef void (*bk_event_fn)(void *arg, enum bk_obj_kind kind, const char *id, const char *action,
			    const char *attrs);

/*
 * Lock the state directory (EBUSY "store locked" if another daemon has it),
 * find or create the btrfs store, remove what a crash left half done, and load
 * the records.  On failure nothing is left attached or mounted.
 */
int bk_engine_open(const struct bk_engine_opts *opts, struct bk_engine **out, struct bk_err *err);
/* Unmount and detach what bk_engine_open attached, release the lock, free. */
void bk_engine_close(struct bk_engine *e);
void bk_engine_set_watch(struct bk_engine *e, bk_watch_fn fn, bk_event_fn event, void *arg);
/*
 * Start the engine's threads (the container monitor) and adopt containers
 * that kept running while no daemon was there.  Call after any fork.
 */
int bk_engine_start(struct bk_engine *e, struct bk_err *err);
/* Rewrite the pid file with the current pid (after the daemon forks into the background). */
void bk_engine_write_pid(struct bk_engine *e);
/* Parse a size: "20G", "512M", "4096" (powers of 1024).  0 or -EINVAL. */
int bk_parse_size(const char *s, uint64_t *out);
/* Absolute path of the mounted btrfs store (borrowed). */
const char *bk_engine_store_path(const struct bk_engine *e);

/* ---- images ------------------------------------------------------------ */

#define BK_ID_SIZE 72 /* "img_"/"ps_" + 12 hex, or a container name of up to 64 bytes */

/* BROKEN: its record or its filesystem in the store could not be loaded (see broken). */
enum bk_image_state { BK_IMAGE_PULLING, BK_IMAGE_READY, BK_IMAGE_BUILDING, BK_IMAGE_BROKEN };
const char *bk_image_state_name(enum bk_image_state state);

struct bk_image_info {
	char id[BK_ID_SIZE];
	uint64_t serial; /* stable for the daemon's lifetime, never reused */
	enum bk_image_state state;
	char *source;    /* what it came from: a reference or a directory */
	char *refs;      /* its names, one per line, may be "" */
	char *config;    /* image config JSON, pretty-printed, ends in "\n" */
	char *root_path; /* absolute path of its read-only filesystem */
	char created[32];
	uint64_t size;   /* bytes of file data */
	char *digest;    /* pulled images: the manifest's digest, else "" */
	char *manifest;  /* pulled images: the manifest JSON, else "" */
	char *layers;    /* pulled images: "DIGEST SIZE" per layer, else "" */
	char *progress;  /* while pulling: "DIGEST DONE TOTAL" per layer */
	char *broken;    /* BK_IMAGE_BROKEN: why, else "" */
	int broken_code; /* BK_IMAGE_BROKEN: its errno (EBADMSG, ENOENT...) */
};
void bk_image_info_free(struct bk_image_info *info);

struct bk_image_entry {
	char id[BK_ID_SIZE];
	uint64_t serial;
	char *source;
};
void bk_image_list_free(struct bk_image_entry *list, size_t n);

/*
 * Copy directory dir (an absolute path) into a new image, named ref if ref is
 * not NULL.  The image becomes visible only when complete.  id_out gets the
 * new id.  Errors: ENOENT, ENOTDIR, EINVAL (bad ref), ENOSPC, EINTR.
 */
int bk_image_import(struct bk_engine *e, const char *dir, const char *ref, struct bk_cancel *cancel,
		    char id_out[BK_ID_SIZE], struct bk_err *err);
/*
 * Remove an image, by id or reference (ENOENT if unknown).  EBUSY while a container was made from
 * it, unless force (docker rmi -f): the containers keep their own filesystem and the image's
 * config, and run on; one never started cannot start (ENOENT).
 */
int bk_image_remove(struct bk_engine *e, const char *name, bool force, struct bk_err *err);
/* Replace (or, with append, extend) an image's names; a name moves from any other image. */
int bk_image_set_refs(struct bk_engine *e, const char *id, const char *text, bool append,
		      struct bk_err *err);
/* Resolve an id or reference ("busybox", "busybox:latest") to an image id. */
int bk_image_resolve(struct bk_engine *e, const char *name, char id_out[BK_ID_SIZE],
		     struct bk_err *err);
/* Fill info for image id (or serial, if id is NULL).  ENOENT if unknown. */
int bk_image_get(struct bk_engine *e, const char *id, uint64_t serial, struct bk_image_info *out,
		 struct bk_err *err);
/* All images, oldest first.  Caller frees with bk_image_list_free. */
int bk_image_list(struct bk_engine *e, struct bk_image_entry **out, size_t *n);

/* Pull progress, called from the pull's threads (one call per chunk received). */
struct bk_pull_progress {
	void (*layer)(void *arg, const char *digest, uint64_t done, uint64_t total);
	void *arg;
};
/*
 * Pull ref ("busybox", "localhost:5000/x/y:t", "name@sha256:...", optionally
 * followed by " os/arch[/variant]") from its registry into a new image named
 * ref; id_out gets its id.  Layers already in the store are not downloaded
 * again.  Errors: EINVAL bad reference, ENOENT unknown repository or tag,
 * EACCES denied, ECONNREFUSED/EHOSTUNREACH/ETIMEDOUT registry unreachable,
 * EBADMSG digest mismatch or corrupt data, EPROTO unsupported media type or
 * schema 1, EFBIG over a size cap, ENOSPC, EINTR when cancelled.  Nothing
 * partial is left on failure (verified layers stay in the store for reuse).
 */
int bk_image_pull(struct bk_engine *e, const char *ref, struct bk_cancel *cancel,
		  const struct bk_pull_progress *progress, char id_out[BK_ID_SIZE],
		  struct bk_err *err);

/*
 * Push image name (an id or a reference) to ref ("host/path:tag"; NULL or
 * "": its first name) as docker push does: the layer blobs the repository
 * lacks (a pulled layer's as it came, a committed or built image's own
 * layer made from its snapshot once and kept), its config, its manifest
 * under the tag.  digest_out gets the manifest's digest.  Errors: those of
 * bk_image_pull, EINVAL (no name, a reference by digest), EBUSY (not
 * ready).  The image is left as it was on failure.
 */
#define BK_DIGEST_SIZE 72
int bk_image_push(struct bk_engine *e, const char *name, const char *ref, struct bk_cancel *cancel,
		  char digest_out[BK_DIGEST_SIZE], struct bk_err *err);

/* One image written by bk_image_save: its id and its manifest's digest. */
struct bk_saved_image {
	char id[BK_ID_SIZE];
	char digest[BK_DIGEST_SIZE];
};
/*
 * docker save: the images names (n ids or references) into the tar archive
 * file (an absolute host path), in the OCI image layout with Docker's
 * manifest.json beside it (docker load, podman load and skopeo read it).
 * An image given by a name is saved under that name, one given by its id
 * under all of its names.  out (room for n) gets each image once, *nout of
 * them.  The archive replaces file only once complete: nothing is left on
 * failure.  Errors: EINVAL (a relative path, one inside the state
 * directory, the store or the control tree; no image), ENOENT (an unknown
 * image, a missing directory), EISDIR, EBUSY (not ready), EINTR, ENOSPC.
 */
int bk_image_save(struct bk_engine *e, const char *file, const char *const *names, size_t n,
		  struct bk_cancel *cancel, struct bk_saved_image *out, size_t *nout,
		  struct bk_err *err);
/*
 * docker load: the images of the tar archive file (an absolute host path):
 * ours, Docker's and podman's (docker-archive), skopeo's and podman's
 * oci-archive.  Every blob and diff id is verified, the layers made as a
 * pull makes them, and each image named as the archive says (a name moves
 * from another image); one already stored (same manifest digest) only gets
 * the names.  *ids (caller frees) gets their ids, *n of them, in the
 * archive's order.  Errors: EINVAL (a relative path, one inside the store
 * or the control tree), ENOENT (no such file), EISDIR, EBADMSG (not a tar,
 * a member outside the archive, a missing blob, a digest or diff id that
 * lies, a hostile layer), EFBIG (a manifest or index over 4 MiB, a config
 * over 16 MiB), EPROTO (no image, an unsupported media type), EINTR,
 * ENOSPC.  Nothing partial is left on failure (verified layers stay for
 * reuse, as after a pull).
 */
int bk_image_load(struct bk_engine *e, const char *file, struct bk_cancel *cancel,
		  char (**ids)[BK_ID_SIZE], size_t *n, struct bk_err *err);

/*
 * Build context_dir/Dockerfile (context_dir absolute) into a new image named
 * ref (NULL: unnamed); id_out gets its id.  The image exists from the start
 * in state BK_IMAGE_BUILDING (an event and a watch call announce it), with
 * its build log readable through bk_image_open_build_log() while the build
 * runs and after; it becomes ready with that id, or disappears.  FROM images
 * missing locally are pulled.  Each RUN runs in a container, each RUN and
 * COPY/ADD makes an intermediate image; all of them are removed, on success
 * as on failure.  Errors: EINVAL with "line N: ..." (unsupported
 * instruction, malformed line, ADD of a URL, a source outside the context),
 * ENOENT (no Dockerfile, a missing source, an unknown FROM), EIO "line N:
 * RUN exited with code C: <its last output>", EINTR when cancelled, the
 * pull's errors, ENOSPC.  Nothing of the build is left on failure.
 */
int bk_image_build(struct bk_engine *e, const char *context_dir, const char *ref,
		   struct bk_cancel *cancel, char id_out[BK_ID_SIZE], struct bk_err *err);
/*
 * The build log ("Step N/M : INSTRUCTION" lines, RUN output) of the image
 * with this serial, open for reading (an fd, or -errno); growing while the
 * image is building; empty for an image that was not built.
 */
int bk_image_open_build_log(struct bk_engine *e, uint64_t serial, struct bk_err *err);

/* ---- containers -------------------------------------------------------- */

/*
 * BROKEN: its record in the store could not be loaded (see broken).  It can
 * still be killed, stopped and removed; its init, if it still runs, was
 * found by its root and binary (pid is set while it runs).
 */
enum bk_ctr_state { BK_CTR_CREATED, BK_CTR_RUNNING, BK_CTR_EXITED, BK_CTR_REMOVING, BK_CTR_BROKEN };
const char *bk_ctr_state_name(enum bk_ctr_state state);

enum bk_ctr_field {
	BK_CTR_IMAGE,
	BK_CTR_CMD,
	BK_CTR_ENV,
	BK_CTR_LIMITS,
	BK_CTR_NET,
	BK_CTR_PORTS,
	BK_CTR_MOUNTS,
	BK_CTR_USER,
	BK_CTR_WORKDIR,
	BK_CTR_RESTART,
	BK_CTR_TTY,
	BK_CTR_STDIN,
};

struct bk_stats {
	uint64_t cpu_usec;   /* CPU time used */
	uint64_t memory;     /* bytes in use */
	uint64_t memory_max; /* the most it has used */
	uint64_t pids;       /* processes and threads */
	uint64_t oom_kills;  /* processes the OOM killer ended */
};

struct bk_container_info {
	char id[BK_ID_SIZE];
	uint64_t serial;
	enum bk_ctr_state state;
	char *image;      /* as named by the user, "" if not set */
	char *image_id;   /* "" if not set */
	char *cmd;        /* "" = the image's Entrypoint and Cmd */
	char *user;       /* "" = the image's User (docker run -u) */
	char *workdir;    /* "" = the image's WorkingDir (docker run -w) */
	char restart[32]; /* its restart policy: "no", "on-failure:3", "always", "unless-stopped" */
	int restarts;     /* times the policy started it since the user last did */
	bool tty;         /* docker -t */
	bool stdin_open;  /* docker -i */
	char *env;        /* KEY=VALUE lines */
	char *limits;     /* "memory max\ncpu.shares 1024\ncpus max\npids max\n" */
	char *net;        /* "mode bridge\nip ...\nmac ...\ngateway ...\n" */
	char *ports;      /* "tcp HOSTPORT CONTAINERPORT" lines */
	char *mounts;    /* "bind SRC DST [ro]", "volume NAME DST [ro]", "tmpfs DST [SIZE]" lines */
	char ip[16];     /* "" when it has no address */
	char *root_path; /* absolute path of its filesystem ("" before the first start) */
	char *cgroup;    /* its group, as /proc/PID/cgroup names it ("-" without cgroups) */
	char created[32], started[32], finished[32];
	int pid;         /* host pid of its init, 0 when not running */
	bool exited;     /* exit_code/exit_signal are meaningful */
	int exit_code;   /* "exit N" */
	int exit_signal; /* "signal N" when > 0 */
	bool oomkilled;
	char *broken;    /* BK_CTR_BROKEN: why, else "" */
	int broken_code; /* BK_CTR_BROKEN: its errno (EBADMSG, ENOENT...) */
	/*
	 * A container bockerfs-runtime made for another program: "key value"
	 * lines for its status (runtime, oci_id, oci_root, oci_status, bundle,
	 * caller); "" for the daemon's own.
	 */
	char *origin;
	/* Exited, its status not known yet (a runtime's, until its caller reaps it): wait on. */
	bool exit_pending;
};
void bk_container_info_free(struct bk_container_info *info);

struct bk_container_entry {
	char id[BK_ID_SIZE];
	uint64_t serial;
	char *cmd; /* what it runs, for the index */
};
void bk_container_list_free(struct bk_container_entry *list, size_t n);

/* A new container (state created).  name NULL: a generated ps_<12 hex> id.  EEXIST, EINVAL. */
int bk_container_create(struct bk_engine *e, const char *name, char id_out[BK_ID_SIZE],
			struct bk_err *err);
/*
 * The same with its image (resolved now: ENOENT if unknown, as docker create)
 * and cmd (NULL: the image's) in its first record, as if written to them.
 */
int bk_container_create_from(struct bk_engine *e, const char *name, const char *image,
			     const char *cmd, char id_out[BK_ID_SIZE], struct bk_err *err);
/*
 * Set image, cmd or env (env: KEY=VALUE lines; append adds to it): EBUSY once
 * started.  Or limits ("KEY VALUE" lines, merged into the current set): at
 * any time, applied at once to a running container (the kernel's refusal is
 * returned and the old limits kept).
 */
int bk_container_set(struct bk_engine *e, const char *id, enum bk_ctr_field field,
		     const char *value, bool append, struct bk_err *err);
/* Start it.  EBUSY if running; ENOENT (image gone, command not found) with the reason. */
int bk_container_start(struct bk_engine *e, const char *id, struct bk_err *err);
/* SIGTERM, then SIGKILL after timeout_s; returns once it has stopped.  ESRCH if not running. */
int bk_container_stop(struct bk_engine *e, const char *id, int timeout_s, struct bk_cancel *cancel,
		      struct bk_err *err);
/*
 * Stop (if running), then start.  Refused before anything stops when the
 * container could not start again (a broken record: its error).
 */
int bk_container_restart(struct bk_engine *e, const char *id, int timeout_s,
			 struct bk_cancel *cancel, struct bk_err *err);
int bk_container_kill(struct bk_engine *e, const char *id, int sig, struct bk_err *err);
/* Remove it; force kills it first.  EBUSY if running and not force. */
int bk_container_remove(struct bk_engine *e, const char *id, bool force, struct bk_err *err);
int bk_container_get(struct bk_engine *e, const char *id, uint64_t serial,
		     struct bk_container_info *out, struct bk_err *err);
int bk_container_list(struct bk_engine *e, struct bk_container_entry **out, size_t *n);
/* Just the id of the object with serial (cheap).  ENOENT if unknown. */
int bk_container_id(struct bk_engine *e, uint64_t serial, char id[BK_ID_SIZE]);
int bk_image_id(struct bk_engine *e, uint64_t serial, char id[BK_ID_SIZE]);
/* Just the state (cheap).  ENOENT if unknown. */
int bk_container_state(struct bk_engine *e, uint64_t serial, enum bk_ctr_state *state);
/* Open its log (rotated: log.1 when old) for reading; returns an fd or -errno. */
int bk_container_open_log(struct bk_engine *e, uint64_t serial, bool rotated, struct bk_err *err);
/* net/bridge ("bocker0 10.88.0.1/16") and net/leases ("ID IP MAC" lines); caller frees. */
char *bk_net_bridge(struct bk_engine *e);
char *bk_net_leases(struct bk_engine *e);
/*
 * Make an image of the container's filesystem (a read-only snapshot: the
 * container may keep running).  target NULL: a new unnamed image; a
 * reference: a new image with that name; an image id: that image is
 * replaced, keeping its id (the seed's `bocker commit`).
 */
int bk_container_commit(struct bk_engine *e, const char *ctr_id, const char *target,
			char id_out[BK_ID_SIZE], struct bk_err *err);
/*
 * Exec sessions.  new: allocate session N of a container; start: run cmd
 * (as /bin/sh -c) inside the running container (ESRCH if it is not);
 * read: output from off (>0 bytes, 0 at the end, -EAGAIN: not yet);
 * write: to its stdin; close_stdin: EOF; status: "exit N"/"signal N" once
 * done (-EAGAIN before); free: forget it.
 */
int bk_exec_new(struct bk_engine *e, const char *ctr_id, int *n, struct bk_err *err);
int bk_exec_start(struct bk_engine *e, const char *ctr_id, int n, const char *cmd,
		  struct bk_err *err);
int bk_exec_kill(struct bk_engine *e, const char *ctr_id, int n, int sig, struct bk_err *err);
/* Before its exec: the session's command gets a terminal (docker exec -t).  EBUSY after. */
int bk_exec_set_tty(struct bk_engine *e, const char *ctr_id, int n, struct bk_err *err);
/* A terminal's size, as the command sees it (stty size).  ENOTTY without one. */
int bk_exec_resize(struct bk_engine *e, const char *ctr_id, int n, int cols, int rows,
		   struct bk_err *err);
ssize_t bk_exec_read(struct bk_engine *e, const char *ctr_id, int n, uint64_t off, char *buf,
		     size_t size);
ssize_t bk_exec_write(struct bk_engine *e, const char *ctr_id, int n, const char *buf, size_t len,
		      struct bk_err *err);
void bk_exec_close_stdin(struct bk_engine *e, const char *ctr_id, int n);
int bk_exec_status(struct bk_engine *e, const char *ctr_id, int n, char *out, size_t size);
void bk_exec_free(struct bk_engine *e, const char *ctr_id, int n);
bool bk_exec_exists(struct bk_engine *e, const char *ctr_id, int n);
size_t bk_exec_list(struct bk_engine *e, const char *ctr_id, int **out);
/* Current resource use of a running container, from its cgroup.  ESRCH if not running. */
int bk_container_stats(struct bk_engine *e, uint64_t serial, struct bk_stats *out,
		       struct bk_err *err);
/* Parse a signal: "KILL", "SIGKILL", "9".  The number or -EINVAL. */
int bk_signal_parse(const char *s);

/* ---- a running container's input and output (docker run -i, -t, logs -f) ------------ */

/* Write to its command's input (EPIPE without one: stdin and tty 0, not running, closed). */
ssize_t bk_container_write_input(struct bk_engine *e, uint64_t serial, const char *buf, size_t len,
				 struct bk_err *err);
/* The last writer went: a stdin pipe's EOF (a terminal stays open). */
void bk_container_close_input(struct bk_engine *e, uint64_t serial);
/* Its terminal's size (ENOTTY without one, ESRCH when not running). */
int bk_container_resize(struct bk_engine *e, const char *id, int cols, int rows,
			struct bk_err *err);
/* A reader of the output stream came (on) or went: while any is there, growth is notified
 * (BK_CHANGE_OUTPUT). */
int bk_container_follow(struct bk_engine *e, uint64_t serial, bool on);
/* Where one reader is in the stream: the log file it reads and where that file began. */
struct bk_out_pos {
	uint64_t ino;
	uint64_t base;
};
/* Its output from off: bytes, 0 at the end (the command stopped), -EAGAIN: wait, -errno. */
ssize_t bk_container_out_read(struct bk_engine *e, uint64_t serial, struct bk_out_pos *pos,
			      uint64_t off, char *buf, size_t size);

/* ---- volumes ------------------------------------------------------------------------------- */

#define BK_VOLUME_NAME_SIZE 129 /* [A-Za-z0-9][A-Za-z0-9_.-], at most 128 */

struct bk_volume_info {
	char name[BK_VOLUME_NAME_SIZE];
	uint64_t serial;
	char created[32];
	char owner[BK_ID_SIZE]; /* an anonymous volume's container, "" for a named one */
	char *path;             /* its files on the host */
	char *users;            /* the containers whose mounts name it, one id per line */
	char *broken;           /* its record did not load: why, else "" */
	int broken_code;
};
void bk_volume_info_free(struct bk_volume_info *info);

struct bk_volume_entry {
	char name[BK_VOLUME_NAME_SIZE];
	uint64_t serial;
};

/* A new empty volume.  EEXIST, EINVAL (bad name), ENOSPC. */
int bk_volume_create(struct bk_engine *e, const char *name, struct bk_err *err);
/* Remove it and its files.  EBUSY while a container's mounts name it; ENOENT. */
int bk_volume_remove(struct bk_engine *e, const char *name, struct bk_err *err);
/* By name, or by serial when name is NULL. */
int bk_volume_get(struct bk_engine *e, const char *name, uint64_t serial,
		  struct bk_volume_info *out, struct bk_err *err);
int bk_volume_list(struct bk_engine *e, struct bk_volume_entry **out, size_t *n);
/* Bytes of file data in its directory (a walk: not for every stat of a busy volume). */
uint64_t bk_volume_size(struct bk_engine *e, uint64_t serial);

/* ---- disk usage and prune (docker system df, docker system prune) -------------------------- */

/* One line of the summary: objects, those in use, bytes, bytes their removal would free. */
struct bk_df_row {
	uint64_t total, active, size, reclaimable;
};

struct bk_df_image {
	char id[BK_ID_SIZE];
	uint64_t size;       /* its filesystem, each shared extent once */
	uint64_t shared;     /* of that, bytes another image holds too */
	uint64_t unique;     /* size - shared */
	uint64_t containers; /* containers made from it */
	bool partial;        /* its walk stopped at the cap: a lower bound */
};

struct bk_df_container {
	char id[BK_ID_SIZE];
	char image_id[BK_ID_SIZE]; /* "" if none */
	enum bk_ctr_state state;
	uint64_t own; /* bytes of its filesystem its image does not hold */
	bool partial;
};

struct bk_df_volume {
	char name[BK_VOLUME_NAME_SIZE];
	uint64_t size;
	uint64_t users; /* containers whose mounts name it */
	bool partial;
};

struct bk_df_layer {
	char key[BK_ID_SIZE]; /* layers/<key> */
	uint64_t size;
	bool reached; /* by an image */
	bool partial;
};

struct bk_df {
	struct bk_df_row images, containers, volumes, layers;
	struct bk_df_image *image;
	size_t nimages;
	struct bk_df_container *ctr;
	size_t nctrs;
	struct bk_df_volume *vol;
	size_t nvols;
	struct bk_df_layer *layer;
	size_t nlayers;
	bool partial; /* some walk stopped at a cap: sizes are lower bounds */
};
void bk_df_free(struct bk_df *df);

/*
 * Disk usage of the store, as docker system df -v: btrfs snapshots share
 * extents, and each shared byte is counted once (FIEMAP over the files of
 * each image, container, volume and layer).  The walk is bounded (entries
 * and extents per tree and in all); past a bound the figures are lower
 * bounds and partial is set.  A call within 250 ms of the last one that saw
 * the same objects in the same states gets that one's figures.  Errors:
 * ENOMEM never (abort), EINTR never (not cancellable); 0 in practice.
 */
int bk_system_df(struct bk_engine *e, struct bk_df *out, struct bk_err *err);

enum bk_prune_what {
	BK_PRUNE_CONTAINERS = 1 << 0, /* not running (created, exited) */
	BK_PRUNE_IMAGES = 1 << 1,     /* no name, no container made from it (dangling) */
	BK_PRUNE_IMAGES_ALL = 1 << 2, /* with IMAGES: every image no container uses */
	BK_PRUNE_VOLUMES = 1 << 3,    /* no container's mounts name it */
};

struct bk_prune_item {
	enum bk_obj_kind kind;
	char id[BK_VOLUME_NAME_SIZE];
	bool removed;  /* false: skipped, code and why say why */
	int code;      /* its removal's errno */
	char why[512]; /* its removal's message */
};

struct bk_prune_result {
	struct bk_prune_item *items; /* in the order they were tried */
	size_t n;
	uint64_t reclaimed; /* bytes only the removed objects held (and the layers collected) */
};
void bk_prune_result_free(struct bk_prune_result *r);

/*
 * Remove what what names, containers first, then images, then volumes
 * (docker system prune --volumes), with the usual removal calls: an object
 * whose removal fails (it became busy) is listed as skipped, and the prune
 * goes on.  Broken records are never pruned.  Errors: EINTR when cancelled
 * between two removals (what was removed stays removed, and is in out).
 */
int bk_system_prune(struct bk_engine *e, unsigned what, struct bk_cancel *cancel,
		    struct bk_prune_result *out, struct bk_err *err);

#endif
