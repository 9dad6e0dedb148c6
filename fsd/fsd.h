/*
 * fsd.h: the bockerfs daemon's shared types.  fsd turns file operations into
 * engine calls (bocker.h) and engine state into bytes, directory entries and
 * inotify events; it holds no container or image logic of its own.
 */
#ifndef FSD_H
#define FSD_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "bocker.h"

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
	N_IMAGES,
	N_IMAGES_INDEX,
	N_IMAGES_IMPORT,
	N_IMAGES_ERR,
	N_IMG,
	N_IMG_SOURCE,
	N_IMG_REF,
	N_IMG_STATE,
	N_IMG_CONFIG,
	N_IMG_SIZE,
	N_IMG_ROOT,
	N_IMG_ERR,
	N_CTRS,
	N_NET,
	N_KIND_MAX
};

#define INO_SHIFT 56
#define INO_SERIAL_MASK ((1ULL << INO_SHIFT) - 1)

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

/* How a node behaves; one row per kind (acme's Dirtab). */
struct node_type {
	const char *name;      /* fixed name, NULL for per-object directories */
	enum node_kind parent; /* the directory it appears in */
	mode_t mode;	       /* S_IFDIR|0700, S_IFREG|0400 (read) / 0600 (control), S_IFLNK */
	bool control;	       /* writes are commands; reads give the per-open reply */
};
extern const struct node_type node_types[N_KIND_MAX];

/* Per-open state (fi->fh). */
struct ofile {
	enum node_kind kind;
	uint64_t serial;
	pthread_mutex_t lock;
	char *data; /* read-only files: content rendered at open */
	size_t len;
	char *in; /* control files: bytes of a command not yet ended by '\n' */
	size_t in_len;
	char *reply; /* control files: what a read returns after a write */
	size_t reply_len, reply_pos;
	bool busy; /* a long command is running on this open file */
};

struct fsd {
	struct bk_engine *engine;
	struct fuse_session *se;
	const char *mountpoint;
	dev_t under_dev; /* st_dev of the mount point before we mounted on it */
	struct timespec started;
};

/* tree.c */
enum node_kind tree_child_kind(enum node_kind parent, const char *name);
bool image_visible(struct fsd *fs, const char *id, uint64_t *serial);
int tree_stat(struct fsd *fs, fuse_ino_t ino, struct stat *st);
char *tree_path(struct fsd *fs, fuse_ino_t ino);
char *tree_list(struct fsd *fs, fuse_req_t req, fuse_ino_t ino, size_t size, size_t *len);

/* render.c: a read-only file's content, malloc'd. */
int render_file(struct fsd *fs, enum node_kind kind, uint64_t serial, char **out, size_t *len);

/* ops.c */
extern const struct fuse_lowlevel_ops fsd_ops;

/* errlog.c: failures, for `errors`, the objects' `err` files and the fd. */
void errlog_record(const char *path, const char *errpath, const char *op, const struct bk_err *err);
char *errlog_render_all(size_t *len);
char *errlog_render_obj(const char *errpath, size_t *len);
void errlog_forget_obj(const char *errpath);

/* notify.c: the notifier thread, the only thread that touches our own mount. */
int notify_start(struct fsd *fs);
void notify_quiesce(void);
bool notify_stop(int timeout_ms);
bool notify_is_self(fuse_req_t req);
void notify_mkdir(const char *path);
void notify_rmdir(const char *path);
void notify_touch(const char *path);
void notify_call(void (*fn)(void *), void *arg);
bool notify_pending_image(const char *id);
/* Set around a handler's own removal of an object: the kernel reports that one. */
void notify_handler_removing(bool on);
void notify_watch(void *arg, enum bk_obj_kind kind, const char *id, enum bk_change change);

/* work.c: long commands on their own threads, replying when done. */
typedef int (*work_fn)(struct fsd *fs, void *arg, struct bk_cancel *cancel, char **reply,
		       struct bk_err *err);
void work_start(struct fsd *fs, fuse_req_t req, struct ofile *of, size_t reply_size,
		const char *op, const char *errpath, work_fn fn, void *arg, void (*arg_free)(void *));
void work_cancel_all(void);
bool work_drain(int timeout_ms);

/* ctl.c: pure parsing of control writes. */
#define CTL_MAX 65536
int ctl_append(struct ofile *of, const char *buf, size_t size, struct bk_err *err);
char *ctl_next_line(struct ofile *of, bool all);
int ctl_split(char *line, char **argv, int max, struct bk_err *err);

/* control.c: what each control file does with a command line. */
int control_write(struct fsd *fs, fuse_req_t req, struct ofile *of, const char *buf, size_t size,
		  bool at_close);

#endif
