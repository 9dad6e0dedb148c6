/*
 * copy.h: copy a directory tree into a fresh directory (an image's subvolume)
 * by file descriptors, keeping ownership, modes, times, xattrs, symlinks,
 * device nodes and hardlinks, and reflinking file data where it can.
 */
#ifndef BK_COPY_H
#define BK_COPY_H

#include <stdint.h>

#include "bocker.h"

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
int copy_tree(int src_dfd, int dst_dfd, struct bk_cancel *cancel, struct copy_stats *stats,
	      struct bk_err *err);

#endif
