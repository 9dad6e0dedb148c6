/*
 * store.h: the btrfs store and what is built in it, for model/ and ops/.
 *
 *   storage.c  the state directory's lock, and the btrfs filesystem under
 *              it (a loop-mounted image file when the directory is not btrfs)
 *   store.c    the layout inside (images/, containers/, tmp/, spare/) and
 *              subvolume operations through libbtrfsutil
 *   layer.c    a layer's tar extracted into a subvolume (libarchive)
 *   diff.c     the layer a snapshot adds over its parent (push, save)
 *   copy.c     a host directory copied into one (import)
 *   buildfs.c  a build's COPY/ADD/WORKDIR into one
 *   extents.c  where a tree's files lie on the disk (FIEMAP), shared extents counted once
 *
 * Paths inside an image's or a container's tree go through base/inroot.h.
 * Uses base/ and bocker.h only.
 */
#ifndef BK_STORE_H
#define BK_STORE_H

#include "common/compiler.h"

#include <stdbool.h>
#include <stdint.h>

#include "bocker.h"

/* ---- the store (storage.c, store.c) ---------------------------------------------------------- */

struct store {
	char *root;    /* the state directory: lock, pid file, log, storage.img */
	char *path;    /* the mounted btrfs filesystem */
	bool mounted;  /* we mounted it (the embedded image file) */
	int lock_fd;   /* the state directory's lock, held while open */
	int fd;        /* path */
	int images_fd; /* images/<id>/{image.json, rootfs, ...} */
	int containers_fd;
	int tmp_fd;     /* work in progress, emptied at every open */
	int spare_fd;   /* spare/<image>.<n>: snapshots made ahead */
	int volumes_fd; /* volumes/<name>/{volume.json, data} */
};

/*
 * Lock root (EBUSY "store locked" if another daemon has it), find or make
 * the btrfs store under it (size: of the image file made when root is not
 * on btrfs), open its layout and empty tmp/.  On failure nothing is left
 * locked or mounted.
 */
must_check int store_open(struct store *s, const char *root, uint64_t size, struct bk_err *err);
/* Close the layout, unmount what store_open mounted, unlock. */
void store_close(struct store *s);

/* Inside store/: the layout of the store at s->path (store.c). */
must_check int store_layout_open(struct store *s, struct bk_err *err);
void store_layout_close(struct store *s);

must_check int store_rmtree_at(int dfd, const char *name, struct bk_err *err);
/*
 * Remove work in tmp/ that failed, as far as it goes (a warning if not):
 * what is left is removed at the next start, as after a crash.
 */
void store_discard(int tmp_dfd, const char *name);
void store_reclaim(int dfd);
must_check int store_create_subvolume(int dfd, const char *name, struct bk_err *err);
must_check int store_set_read_only(int fd, bool ro, struct bk_err *err);
must_check int store_snapshot(int src_fd, int dst_dfd, const char *name, bool read_only,
			      struct bk_err *err);

/* ---- layer ----------------------------------------------------------------------------------- */
/*
 * layer.h: extract one image layer (a tar stream, gzip-, zstd- or not
 * compressed) into a directory that already holds the layers below it,
 * applying OCI whiteouts, and never writing outside that directory.
 */
#include <stdint.h>
#include <sys/types.h>

#include "bocker.h"
#include "base/base.h"
#include "parse/parse.h"

/*
 * What one layer may cost before it is refused as hostile (EBADMSG).  Docker
 * has no such caps; these stay far above real images (the largest have a few
 * hundred thousand entries and compress about 3 to 10 times) and bound what a
 * small blob can make the daemon do: a gzip of zeros expands about 1000
 * times, a zstd one 30000 times, and a deep path makes many directories.
 */
#define LAYER_ENTRIES_MAX    (1u << 20)    /* entries, and paths named (implied directories) */
#define LAYER_TAR_MAX        (64ull << 30) /* uncompressed bytes */
#define LAYER_ENTRY_SIZE_MAX (64ull << 30) /* the size one entry states, a sparse file's too */
#define LAYER_RATIO_MAX      100u          /* uncompressed bytes per compressed byte ... */
#define LAYER_RATIO_FLOOR    (1ull << 30)  /* ... once more than this is uncompressed */

struct layer_limits {
	uint64_t entries, tar_bytes, entry_size, ratio, ratio_floor;
};

/* The LAYER_*_MAX values above. */
extern const struct layer_limits layer_default_limits;

/* Where the compressed bytes come from (the network, or memory in tests). */
struct layer_reader {
	/*
	 * Point *buf at the next bytes (valid until the next call) and return
	 * how many, 0 at the end, or -errno with err filled.
	 */
	ssize_t (*read)(void *arg, const void **buf, struct bk_err *err);
	void *arg;
};

struct layer_stats {
	uint64_t entries;    /* tar entries applied, whiteouts included */
	uint64_t file_bytes; /* regular-file data written */
	uint64_t tar_bytes;  /* uncompressed tar stream */
};

/*
 * Apply the layer read from src (compressed as comp) to the directory open at
 * root_dfd (an O_RDONLY|O_DIRECTORY fd, borrowed), and read src to its end.
 *
 * Every path is resolved inside root_dfd as if it were "/" (openat2
 * RESOLVE_IN_ROOT): absolute names and symlinks in a path land inside;
 * entries with a ".." component are refused.  Owners (when run as root),
 * modes with setuid/setgid/sticky bits, xattrs, times, symlinks, hardlinks
 * (to files inside root_dfd only), device nodes and fifos are kept; sockets
 * are skipped.  An entry of a typeflag outside POSIX's list ('Z', '9'...) is
 * a regular file with its data and mode, as libarchive reads it and GNU tar
 * extracts it (Docker refuses the layer), never a link or a device.
 * ".wh.NAME" removes NAME of the lower layers, ".wh..wh..opq" empties its
 * directory of lower-layer content; neither is materialised, and an
 * overlay-style whiteout (a 0:0 character device) counts as one.
 *
 * diff_id gets the sha256 of the uncompressed tar stream; stats (may be
 * NULL) what was done.  Returns 0, or -errno: EBADMSG for a corrupt or
 * hostile archive (the entry named) and past the caps above, EPROTO if comp
 * has no built-in decompressor, ENOSPC, EINTR when cancel is set, or the
 * reader's error.  On failure root_dfd holds a partial layer that the caller
 * must discard.
 */
must_check int layer_extract(int root_dfd, enum layer_comp comp, const struct layer_reader *src,
			     struct bk_cancel *cancel, char diff_id[DIGEST_STR_SIZE],
			     struct layer_stats *stats, struct bk_err *err);

/*
 * Which gzip inflater layer_extract uses: ISA-L's igzip (the default), or
 * libarchive's zlib filter (BOCKERFS_INFLATE=zlib in the daemon's
 * environment, read at the first extraction; tests set it).  Both give the
 * same trees and the same errors.
 */
enum layer_inflater { LAYER_INFLATE_ISAL, LAYER_INFLATE_ZLIB };
void layer_set_inflater(enum layer_inflater which);
enum layer_inflater layer_get_inflater(void);

/* The same with other caps than layer_default_limits (tests use small ones). */
must_check int layer_extract_limited(int root_dfd, enum layer_comp comp,
				     const struct layer_reader *src,
				     const struct layer_limits *limits, struct bk_cancel *cancel,
				     char diff_id[DIGEST_STR_SIZE], struct layer_stats *stats,
				     struct bk_err *err);

/* ---- diff ------------------------------------------------------------------------------------ */
/*
 * diff.h: the layer a child snapshot adds over its parent (diff.c), as a
 * gzip-compressed tar with OCI whiteouts, for pushes and saves.
 */
struct layer_diff_result {
	char diff_id[DIGEST_STR_SIZE]; /* sha256 of the tar */
	char digest[DIGEST_STR_SIZE];  /* sha256 of the gzip stream written */
	uint64_t size;                 /* bytes written */
};

struct layer_diff_stats {
	uint64_t entries, file_bytes, tar_bytes;
};

/*
 * Write to out_fd the gzip tar of what the tree open at child_dfd adds,
 * changes and deletes over the one at parent_dfd (-1: over nothing), both
 * read-only snapshots where the child descends from the parent (inode
 * numbers and times carried over).  Kept: modes, owners, times, xattrs,
 * symlinks, hardlinks (inside the layer), device nodes and fifos; sockets
 * are left out.  Deletions are ".wh.NAME" entries; a directory made anew
 * over the parent's gets ".wh..wh..opq".  Returns 0, or -errno: EINVAL for
 * a name beginning ".wh." (a layer cannot hold it), EFBIG past
 * LAYER_ENTRIES_MAX entries, ELOOP past 256 levels, EINTR when cancel is
 * set, the write's errno (ENOSPC).  stats may be NULL.
 */
must_check int layer_diff(int parent_dfd, int child_dfd, int out_fd, struct bk_cancel *cancel,
			  struct layer_diff_result *out, struct layer_diff_stats *stats,
			  struct bk_err *err);

/* ---- copy ------------------------------------------------------------------------------------ */
/*
 * copy.h: copy a directory tree into a fresh directory (an image's subvolume)
 * by file descriptors, keeping ownership, modes, times, xattrs, symlinks,
 * device nodes and hardlinks, and reflinking file data where it can.
 */
#include <stdint.h>

struct copy_stats {
	uint64_t bytes; /* file data, each inode once (hardlinks are not counted again) */
	uint64_t files; /* regular-file inodes whose data was copied or reflinked */
};

/*
 * Copy the contents of the directory open at src_dfd into the existing, empty
 * directory open at dst_dfd (both O_RDONLY|O_DIRECTORY fds, borrowed).  The
 * metadata of dst_dfd itself is left as the caller made it.  Symlinks are never
 * followed on either side.  stats (may be NULL) is zeroed, then counts what was
 * copied, also when the copy fails.  cancel (may be NULL) is polled before each
 * entry and between chunks of file data.
 *
 * Returns 0, or -errno with err naming the relative path: EINTR when cancelled,
 * ENOSPC when the destination is full, ELOOP past 256 levels of directories.
 * On failure a partial copy is left in dst_dfd for the caller to delete.
 */
must_check int copy_tree(int src_dfd, int dst_dfd, struct bk_cancel *cancel,
			 struct copy_stats *stats, struct bk_err *err);

/* ---- buildfs --------------------------------------------------------------------------------- */
/*
 * buildfs.h: the file system side of a build (buildfs.c): reading
 * the build context without leaving it, and writing into a step's rootfs
 * without leaving that (COPY, ADD, WORKDIR).
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct buildfs_copy {
	uid_t uid; /* owner of everything copied, and of the directories made for it */
	gid_t gid;
	int mode;                 /* --chmod, or -1 to keep each source's mode */
	bool add;                 /* ADD: a local tar archive (plain, gzip, zstd) is extracted */
	struct bk_cancel *cancel; /* may be NULL */
	uint64_t bytes;           /* out: file data written */
};

/*
 * Read name (relative to the context, never leaving it: openat2
 * RESOLVE_BENEATH) into a NUL-terminated buffer of at most max bytes;
 * caller frees *out.  ENOENT, EFBIG, EINVAL when it leads outside.
 */
must_check int buildfs_read(int ctx_fd, const char *name, size_t max, char **out, size_t *len,
			    struct bk_err *err);

/*
 * COPY/ADD: copy the sources (context-relative, cleaned by the parser; '*',
 * '?' and '[' patterns allowed) to dest (absolute, inside the rootfs open at
 * rootfs_fd), as Docker does: a directory's contents go into dest, a file
 * into dest when dest ends in '/', is a directory or several sources are
 * given, else to dest itself; missing directories are made.  Everything
 * is resolved inside its tree (openat2 RESOLVE_BENEATH in the context,
 * RESOLVE_IN_ROOT in the rootfs).  Errors: ENOENT (no such source, or no
 * match), EINVAL (a source leading out of the context, an unsupported file
 * type), EISDIR/ENOTDIR (a file over a directory or the reverse), EINTR,
 * ENOSPC.  On failure the rootfs is left half written, for the caller to drop.
 */
must_check int buildfs_copy(int ctx_fd, int rootfs_fd, char *const *srcs, size_t nsrc,
			    const char *dest, struct buildfs_copy *opt, struct bk_err *err);

/* mkdir -p path inside the rootfs, new directories 0755 owned by uid:gid. */
must_check int buildfs_mkdir(int rootfs_fd, const char *path, uid_t uid, gid_t gid,
			     struct bk_err *err);

/* path resolves, inside the rootfs, to a directory. */
bool buildfs_is_dir(int rootfs_fd, const char *path);

/* Bytes of file data in the tree open at dfd, each inode once; at most 1 Mi entries looked at. */
uint64_t buildfs_size(int dfd);

/* ---- extents --------------------------------------------------------------------------------- */
/*
 * extents.h: the extents of the files of trees (extents.c), by owner (an
 * image, a container, a volume, a layer), so that bytes that snapshots share
 * are counted once and each byte is known by who holds it.
 */
struct extent_rec {
	uint64_t start; /* physical address, or a key of inline data */
	uint32_t len;
	uint32_t owner;
};

struct extent_map {
	struct extent_rec *v; /* shared extents, by owner */
	size_t n, cap, max;   /* at most max records: past it a walk is partial */
	uint64_t *private;    /* per owner: bytes no other file of the filesystem holds */
	uint32_t nowners;
	void *inline_keys; /* inline data: inode and ctime to a key */
	uint64_t next_key;
};

void extent_map_init(struct extent_map *m, size_t max_records);
void extent_map_free(struct extent_map *m);
/* A new owner's number (0, 1, ...). */
uint32_t extent_owner_new(struct extent_map *m);
/*
 * Add the extents of the regular files of the tree open at dfd (an
 * O_DIRECTORY fd, borrowed) for owner, walking it by fds without following
 * a symlink, opening only regular files, staying on its filesystem.  Every
 * entry and extent takes one from *budget; at 0 (or a full map) the walk
 * stops and *partial is set.  Returns 0, or -errno: EINTR when cancel is
 * set, the error of opening dfd itself; entries that vanish are skipped.
 */
must_check int extents_add_tree(struct extent_map *m, uint32_t owner, int dfd, uint64_t *budget,
				struct bk_cancel *cancel, bool *partial, struct bk_err *err);
/* The same for one regular file open at fd (a layer's blob). */
void extents_add_file(struct extent_map *m, uint32_t owner, int fd, uint64_t *budget,
		      bool *partial);
/*
 * Every byte recorded, once: fn gets each run of bytes with the same set of
 * owners (owners[0..n-1], n >= 1, in no order), and each owner's own bytes.
 */
typedef void (*extent_segment_fn)(void *arg, uint64_t len, const uint32_t *owners, size_t n);
void extents_sweep(struct extent_map *m, extent_segment_fn fn, void *arg);

#endif
