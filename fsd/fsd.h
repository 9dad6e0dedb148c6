/*
 * fsd.h: the bockerfs daemon's shared types and functions.  fsd turns file
 * operations into engine calls (bocker.h) and engine state into bytes,
 * directory entries and inotify events; it holds no container or image logic
 * of its own.
 *
 * The files stand in layers.  A file calls only into the layers below it (or
 * its own); news travels up only through callbacks: the engine's watch and
 * event callbacks (installed by main.c), a parked request's answer function,
 * notify_call(), a work thread's work_fn, libfuse's interrupt callbacks.
 * This header is in the same order, bottom first.
 *
 *   0  fsd.h           node kinds, inode numbers, open-file state (types only)
 *   1  nodes.c         the table of node kinds: name, parent, mode, I/O
 *      handles.c       lists of handles the kernel holds, freed at shutdown
 *      unannounced.c   new objects the notifier has not announced yet
 *      toucher.c       the process that does the notifier's VFS work
 *      ctl.c           control writes: bytes to lines to words (pure)
 *      reply.c         answering a read from a buffer
 *   2  ofile.c         open files: reference counts, tracking
 *      errlog.c        failures, for `errors` and the `err` files
 *   3  parked.c        requests answered later, by key; Ctrl-C for all of them
 *      render.c        engine state as file contents
 *   4  tree.c          the shape of the tree: lookups, attributes, listings,
 *                      which object a node names
 *   5  waitq.c         containers/ID/wait
 *      events.c        the events stream
 *      exec.c          exec sessions' files
 *      attach.c        a container's in and out
 *   6  notify.c        the notifier thread and the engine's callbacks
 *   7  work.c          long commands on threads of their own
 *      clone.c         containers/clone
 *   8  verbs.c         the commands of each control file (verbs.h)
 *      control.c       a write on a control file: check, then run
 *      config.c        a write on a value file (image, cmd, env, ...)
 *   9  ops.c           the FUSE low-level operations
 *  10  main.c          options, mount, loop, shutdown
 */
#ifndef FSD_H
#define FSD_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "bocker.h"

/*
 * A function whose result says whether it worked: a call that drops it does
 * not compile (-Werror).  A deliberate drop says why in a comment and is
 * written (void)!f(), since GCC ignores a plain (void) cast here.
 */
#include "common/compiler.h"

/* The struct whose member ptr points to (a handle in what it tracks: handles.c). */
#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ==== 0: types ============================================================ */

#include <signal.h>

/*
 * The stop signals (SIGTERM, SIGINT, SIGHUP): blocked in this thread (old:
 * the mask before, may be NULL), so that only the FUSE loop's threads take
 * them (main.c says why); unblocked in the loop's.
 */
static inline void
fsd_stop_mask(int how, sigset_t *old)
{
	sigset_t stop;

	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGHUP);
	pthread_sigmask(how, &stop, old);
}

static inline void
fsd_block_stop(sigset_t *old)
{
	fsd_stop_mask(SIG_BLOCK, old);
}

static inline void
fsd_unblock_stop(void)
{
	fsd_stop_mask(SIG_UNBLOCK, NULL);
}

/*
 * The largest READ the kernel sends (the max_read mount option).  A direct_io
 * read pins the reader's whole buffer for every request, and most files here
 * are a few bytes: `cat` (128 KiB buffer) of state cost 116 us at the default
 * of 128 KiB, 87 us with 16 KiB.  Big files (index, logs) take a few more
 * round trips.
 */
#define FSD_MAX_READ 16384
#define FSD_STR2(x)  #x
#define FSD_STR(x)   FSD_STR2(x)

/*
 * Node kinds.  An inode number is kind << 56 | serial, where serial is the
 * engine object's serial (never reused while the daemon runs), so the tree
 * needs no inode table and no forget bookkeeping (Plan 9's QPATH).
 */
enum node_kind {
	N_NONE = 0,
	N_ROOT,
	N_VERSION,
	N_ERRORS,
	N_EVENTS,
	N_IMAGES,
	N_IMAGES_INDEX,
	N_IMAGES_IMPORT,
	N_IMAGES_PULL,
	N_IMAGES_BUILD,
	N_IMAGES_ERR,
	N_IMG,
	N_IMG_SOURCE,
	N_IMG_REF,
	N_IMG_STATE,
	N_IMG_CONFIG,
	N_IMG_SIZE,
	N_IMG_PROGRESS,
	N_IMG_MANIFEST,
	N_IMG_DIGEST,
	N_IMG_LAYERS,
	N_IMG_ROOT,
	N_IMG_ERR,
	N_IMG_LOG,
	N_IMG_CTL,
	N_CTRS,
	N_CTRS_INDEX,
	N_CTRS_CLONE,
	N_CTRS_RUN,
	N_CTRS_ERR,
	N_CTR,
	N_CTR_CTL,
	N_CTR_IMAGE,
	N_CTR_CMD,
	N_CTR_ENV,
	N_CTR_LIMITS,
	N_CTR_NET,
	N_CTR_PORTS,
	N_CTR_STATS,
	N_CTR_STATE,
	N_CTR_STATUS,
	N_CTR_WAIT,
	N_CTR_LOG,
	N_CTR_PID,
	N_CTR_ROOT,
	N_CTR_ERR,
	N_CTR_EXEC,
	N_EXEC_CLONE,
	N_EXEC,
	N_EXEC_CTL,
	N_EXEC_OUT,
	N_EXEC_IN,
	N_EXEC_WAIT,
	N_NET,
	N_NET_BRIDGE,
	N_NET_LEASES,
	N_VOLS,
	N_VOLS_INDEX,
	N_VOLS_ERR,
	N_VOL,
	N_VOL_STATE,
	N_VOL_CREATED,
	N_VOL_USERS,
	N_VOL_SIZE,
	N_VOL_ROOT,
	N_VOL_ERR,
	N_CTR_MOUNTS,
	N_CTR_USER,
	N_CTR_WORKDIR,
	N_CTR_RESTART,
	N_CTR_TTY,
	N_CTR_STDIN,
	N_CTR_IN,
	N_CTR_OUT,
	N_DF,
	N_PRUNE,
	N_IMAGES_SAVE,
	N_IMAGES_LOAD,
	N_KIND_MAX
};

/* "volumes/NAME" and the like: the longest object path, a volume's name (128). */
#define OBJ_PATH_SIZE (BK_VOLUME_NAME_SIZE + 16)

#define INO_SHIFT     56
/*
 * Bits 48-55: an instance number, for control files only (ops.c, op_lookup).
 * Each lookup of a control file gives a new inode: the kernel holds an
 * inode's lock for the whole of a write, and ours block until the command
 * ends, so writers of one inode would wait for each other (a pull for another
 * pull, a kill for the stop it should cut short).
 */
#define INO_INSTANCE_SHIFT 48
#define INO_SERIAL_MASK    ((1ULL << INO_INSTANCE_SHIFT) - 1)

static inline fuse_ino_t
ino_make(enum node_kind kind, uint64_t serial)
{
	return kind == N_ROOT ? FUSE_ROOT_ID : ((fuse_ino_t)kind << INO_SHIFT) | serial;
}

static inline enum node_kind
ino_kind(fuse_ino_t ino)
{
	if (ino == FUSE_ROOT_ID)
		return N_ROOT;
	return (enum node_kind)(ino >> INO_SHIFT);
}

static inline uint64_t
ino_serial(fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? 0 : ino & INO_SERIAL_MASK;
}

/* How a file's reads and writes behave. */
enum node_io {
	IO_DIR,
	IO_LINK,
	IO_TEXT,       /* read-only, rendered once at open */
	IO_CONTROL,    /* writes are commands; a read gives the reply to the last one */
	IO_CONFIG,     /* a value: writes replace it (O_APPEND: add), reads show it */
	IO_CLONE,      /* the first read allocates a container and gives its id */
	IO_WAIT,       /* the first read blocks until the container stops */
	IO_EVENTS,     /* a never-ending stream of lifecycle events */
	IO_LOG,        /* the container's output, read from the store */
	IO_EXEC_CLONE, /* exec/clone: the first read allocates a session */
	IO_EXEC_OUT,   /* a session's output: reads wait for more until it ends */
	IO_EXEC_IN,    /* a session's input: writes feed it, the last close ends it */
	IO_EXEC_WAIT,  /* a session's end: "exit N" / "signal N" */
	IO_CTR_IN,     /* a container's input: writes feed its command, the last close ends it */
	IO_CTR_OUT,    /* a container's output as it comes: reads wait for more until it stops */
};

/* Per-session nodes: serial = container serial << 16 | session number. */
#define EXEC_SERIAL(ctr, n) (((uint64_t)(ctr) << 16) | (uint64_t)(n))
#define EXEC_CTR(serial)    ((serial) >> 16)
#define EXEC_N(serial)      ((int)((serial)&0xffff))

/* How a node behaves; one row per kind (acme's Dirtab). */
struct node_type {
	const char *name;      /* fixed name, NULL for per-object directories */
	enum node_kind parent; /* the directory it appears in */
	/* S_IFDIR|0700; S_IFREG|0400 (read), 0600 (read, write) or 0200 (exec's in); S_IFLNK */
	mode_t mode;
	enum node_io io;
};

/* A handle the kernel holds (an open file or directory), in a handle_list. */
struct handle {
	struct handle *next, *prev;
};

/* Per-open state (fi->fh).  Parked requests and running commands hold a reference. */
struct ofile {
	enum node_kind kind;
	uint64_t serial;
	atomic_int refs;
	pthread_mutex_t lock;
	char *data;    /* IO_TEXT, IO_CONFIG: rendered at open; the clones and waits: the answer */
	size_t len;    /* of data */
	bool produced; /* IO_CLONE, IO_WAIT, IO_EXEC_CLONE, IO_EXEC_WAIT: data holds the answer */
	char *in;      /* control and config files: bytes written and not yet consumed */
	size_t in_len;
	char *reply; /* control and config files: what a read returns after a write */
	size_t reply_len, reply_pos;
	bool busy;                  /* a long command is running on this open file */
	bool append;                /* opened with O_APPEND */
	bool nonblock;              /* O_NONBLOCK */
	int log_fd;                 /* IO_LOG */
	uint64_t cursor;            /* IO_EVENTS: next event sequence number */
	size_t cursor_off;          /* IO_EVENTS: bytes of that event already read */
	struct fuse_pollhandle *ph; /* IO_EVENTS: the latest poll handle */
	struct bk_out_pos out_pos;  /* IO_CTR_OUT: where this reader is in the log */
	bool following;             /* IO_CTR_OUT: counted by the engine (bk_container_follow) */
	struct handle open;         /* in the list of open files (ofile.c) */
};

struct fsd {
	struct bk_engine *engine;
	struct fuse_session *se;
	const char *mountpoint;
	dev_t under_dev; /* st_dev of the mount point before we mounted on it */
	struct timespec started;
};

/* ==== 1: leaves =========================================================== */

/* nodes.c: how each kind of node behaves. */
extern const struct node_type node_types[N_KIND_MAX];

/*
 * handles.c: handles the kernel has not released yet.  At an unmount with
 * files or directories still open no RELEASE comes: handle_drain() frees
 * them after the session is gone.
 */
struct handle_list {
	pthread_mutex_t lock;
	struct handle *head; /* protected by lock */
};
#define HANDLE_LIST_INIT                        \
	{                                       \
		PTHREAD_MUTEX_INITIALIZER, NULL \
	}
void handle_track(struct handle_list *l, struct handle *h);
void handle_untrack(struct handle_list *l, struct handle *h);
void handle_drain(struct handle_list *l, void (*destroy)(struct handle *h));

/*
 * unannounced.c: objects made but not announced yet ("images/ID",
 * "containers/ID"): the tree hides them until the notifier's mkdir is done.
 */
void unannounced_add(const char *path);
void unannounced_drop(const char *path);
bool unannounced_has(const char *path);

/* toucher.c: the process that does the notifier's VFS operations on the mount. */
must_check int toucher_start(const char *mountpoint, dev_t under_dev);
pid_t toucher_pid(void);
must_check int toucher_do(char op, const char *path);
void toucher_kill(void);
void toucher_stop(void);
void toucher_reap(void);

/* ctl.c: control writes, parsed without side effects. */
#define CTL_MAX 65536
must_check int ctl_append(struct ofile *of, const char *buf, size_t size, struct bk_err *err);
char *ctl_next_line(struct ofile *of, bool all);
must_check int ctl_split(char *line, char **argv, int max, struct bk_err *err);
must_check int ctl_check_text(const char *s, bool newlines, struct bk_err *err);
size_t ctl_utf8_len(const unsigned char *s);

/* reply.c: answering a read from a buffer. */
void reply_slice(fuse_req_t req, const char *buf, size_t len, size_t off, size_t size);

/* ==== 2: open files, failures ============================================= */

/* ofile.c: open files, shared by reference with the requests parked on them. */
struct ofile *ofile_new(enum node_kind kind, uint64_t serial, int open_flags);
void ofile_put(struct ofile *of);
void ofile_free_all(void);
static inline struct ofile *
ofile_get(struct ofile *of)
{
	atomic_fetch_add(&of->refs, 1);
	return of;
}

/* errlog.c: failures, for `errors`, the objects' `err` files and the fd. */
void errlog_record(const char *path, const char *errpath, const char *op, const struct bk_err *err);
char *errlog_render_all(size_t *len);
char *errlog_render_obj(const char *errpath, size_t *len);
void errlog_forget_obj(const char *errpath);
void errlog_note_broken(struct fsd *fs, enum bk_obj_kind kind, const char *id);
void errlog_note_all_broken(struct fsd *fs);

/* ==== 3: parked requests, file contents =================================== */

/*
 * parked.c: reads answered later (wait, exec out and wait, events), so that
 * a hundred blocked readers cost no thread.  A parked read waits for a wake
 * of its key ("wait/CTR_ID", "exec/CTR_ID/N", "events"); Ctrl-C answers it
 * EINTR.  What its answer function sees:
 */
struct parked {
	fuse_req_t req;
	struct ofile *of; /* held until it is answered */
	size_t size;      /* the read's size and offset */
	off_t off;
	struct fsd *fs;
	bool gone; /* a wake said the object is gone: answer now, whatever */
};
/* Reply to p->req and return true, or return false to stay parked. */
typedef bool (*parked_answer_fn)(struct parked *p) must_check;
void park(struct fsd *fs, fuse_req_t req, struct ofile *of, size_t size, off_t off, const char *key,
	  parked_answer_fn answer);
void parked_wake(const char *key, bool gone);

/* render.c: a read-only or value file's content, malloc'd. */
must_check int render_file(struct fsd *fs, enum node_kind kind, uint64_t serial, char **out,
			   size_t *len);

/* ==== 4: the tree ========================================================= */

/* tree.c: names, attributes, listings, and the objects nodes name. */
enum node_kind tree_child_kind(enum node_kind parent, const char *name);
bool image_visible(struct fsd *fs, const char *id, uint64_t *serial);
bool container_visible(struct fsd *fs, const char *id, uint64_t *serial);
bool volume_visible(struct fsd *fs, const char *name, uint64_t *serial);
/* "images", "containers" or "volumes": where objects of kind live. */
const char *obj_dir_of(enum bk_obj_kind kind);
/* The object a node is about, "images/ID" or "containers/ID" (whose `err` shows failures). */
must_check int obj_path(enum node_kind kind, uint64_t serial, struct fsd *fs, char *buf,
			size_t size);
must_check int exec_ids(struct fsd *fs, enum node_kind kind, uint64_t serial, char *ctr_id,
			size_t size, int *n);
must_check int tree_stat(struct fsd *fs, fuse_ino_t ino, struct stat *st);
char *tree_path(struct fsd *fs, fuse_ino_t ino);
char *tree_list(struct fsd *fs, fuse_req_t req, fuse_ino_t ino, size_t *len);

/* ==== 5: files whose reads wait =========================================== */

/* waitq.c: readers of containers/ID/wait, parked until the container stops. */
void waitq_read(struct fsd *fs, fuse_req_t req, struct ofile *of, size_t size, off_t off);
void waitq_wake(const char *id, bool removed);

/* events.c: the events stream. */
void events_open(struct ofile *of);
void events_read(fuse_req_t req, struct ofile *of, size_t size);
void events_poll(fuse_req_t req, struct ofile *of, struct fuse_pollhandle *ph);
void events_push(const char *kind, const char *id, const char *action, const char *attrs);
void events_release(struct ofile *of);

/* exec.c: exec sessions' files. */
void exec_clone_read(struct fsd *fs, fuse_req_t req, struct ofile *of, size_t size, off_t off);
void exec_out_read(struct fsd *fs, fuse_req_t req, struct ofile *of, size_t size, off_t off);
void exec_wait_read(struct fsd *fs, fuse_req_t req, struct ofile *of, size_t size, off_t off);
void exec_in_write(struct fsd *fs, fuse_req_t req, struct ofile *of, const char *buf, size_t size);
void exec_in_release(struct fsd *fs, struct ofile *of);
void exec_wake(const char *session);

/* attach.c: a container's in and out (docker run -i, -t, logs -f). */
void ctr_in_write(struct fsd *fs, fuse_req_t req, struct ofile *of, const char *buf, size_t size);
void ctr_in_release(struct fsd *fs, struct ofile *of);
must_check int ctr_out_open(struct fsd *fs, struct ofile *of);
void ctr_out_read(struct fsd *fs, fuse_req_t req, struct ofile *of, size_t size, off_t off);
void ctr_out_release(struct fsd *fs, struct ofile *of);
void out_wake(const char *id);

/* ==== 6: the notifier ===================================================== */

/*
 * notify.c: the notifier thread, the one thread that has file operations
 * done on our own mount (by the toucher), and the engine's callbacks.
 */
must_check int notify_start(struct fsd *fs);
void notify_quiesce(void);
must_check bool notify_stop(int timeout_ms);
bool notify_is_self(fuse_req_t req);
void notify_call(void (*fn)(void *), void *arg);
/* Set around a handler's own mkdir/rmdir of an object: the kernel reports that one. */
void notify_in_handler(bool on);
void notify_watch(void *arg, enum bk_obj_kind kind, const char *id, enum bk_change change);
void notify_event(void *arg, enum bk_obj_kind kind, const char *id, const char *action,
		  const char *attrs);

/* ==== 7: commands and clones ============================================== */

/* work.c: long commands on their own threads, replying when done. */
typedef int (*work_fn)(struct fsd *fs, void *arg, struct bk_cancel *cancel, char **reply,
		       struct bk_err *err) must_check;
void work_start(struct fsd *fs, fuse_req_t req, struct ofile *of, size_t reply_size, const char *op,
		const char *errpath, work_fn fn, void *arg, void (*arg_free)(void *));
void work_cancel_all(void);
must_check bool work_drain(int timeout_ms);

/* clone.c: reading containers/clone. */
void clone_read(struct fsd *fs, fuse_req_t req, struct ofile *of, size_t size, off_t off);

/* ==== 8: writes =========================================================== */

/* control.c: what each control file does with a command line (its verbs: verbs.c). */
void control_write(struct fsd *fs, fuse_req_t req, struct ofile *of, const char *buf, size_t size,
		   bool at_close);
void control_fail(struct fsd *fs, fuse_req_t req, struct ofile *of, const char *op,
		  const struct bk_err *err);

/* config.c: a container's image, cmd, env, limits, net and ports, an image's ref. */
/* The value of's writes make so far, without the final newline(s); caller frees. */
char *config_value_of(struct ofile *of);
/* Is v a value a kind file takes (before the engine sees it)?  0, or EINVAL with err set. */
must_check int config_check_value(enum node_kind kind, const char *v, struct bk_err *err);
void config_write(struct fsd *fs, fuse_req_t req, struct ofile *of, const char *buf, size_t size,
		  bool at_close);

/* ==== 9: the FUSE operations ============================================== */

/* ops.c */
extern const struct fuse_lowlevel_ops fsd_ops;
void dirh_free_all(void); /* directories never released, after the session */

#endif
