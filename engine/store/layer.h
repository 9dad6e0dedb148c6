/*
 * layer.h: extract one image layer (a tar stream, gzip-, zstd- or not
 * compressed) into a directory that already holds the layers below it,
 * applying OCI whiteouts, and never writing outside that directory.
 */
#ifndef BK_LAYER_H
#define BK_LAYER_H

#include <stdint.h>
#include <sys/types.h>

#include "bocker.h"
#include "base/digest.h"
#include "parse/manifest.h"

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
int layer_extract(int root_dfd, enum layer_comp comp, const struct layer_reader *src,
		  struct bk_cancel *cancel, char diff_id[DIGEST_STR_SIZE],
		  struct layer_stats *stats, struct bk_err *err);

/* The same with other caps than layer_default_limits (tests use small ones). */
int layer_extract_limited(int root_dfd, enum layer_comp comp, const struct layer_reader *src,
			  const struct layer_limits *limits, struct bk_cancel *cancel,
			  char diff_id[DIGEST_STR_SIZE], struct layer_stats *stats,
			  struct bk_err *err);

#endif
