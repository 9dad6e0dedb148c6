/*
 * buildfs.h: the file system side of a build (engine/buildfs.c): reading
 * the build context without leaving it, and writing into a step's rootfs
 * without leaving that (COPY, ADD, WORKDIR).
 */
#ifndef BK_BUILDFS_H
#define BK_BUILDFS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bocker.h"

struct buildfs_copy {
	uid_t uid; /* owner of everything copied, and of the directories made for it */
	gid_t gid;
	int mode;  /* --chmod, or -1 to keep each source's mode */
	bool add;  /* ADD: a local tar archive (plain, gzip, zstd) is extracted */
	struct bk_cancel *cancel; /* may be NULL */
	uint64_t bytes;		  /* out: file data written */
};

/*
 * Read name (relative to the context, never leaving it: openat2
 * RESOLVE_BENEATH) into a NUL-terminated buffer of at most max bytes;
 * caller frees *out.  ENOENT, EFBIG, EINVAL when it leads outside.
 */
int buildfs_read(int ctx_fd, const char *name, size_t max, char **out, size_t *len,
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
int buildfs_copy(int ctx_fd, int rootfs_fd, char *const *srcs, size_t nsrc, const char *dest,
		 struct buildfs_copy *opt, struct bk_err *err);

/* mkdir -p path inside the rootfs, new directories 0755 owned by uid:gid. */
int buildfs_mkdir(int rootfs_fd, const char *path, uid_t uid, gid_t gid, struct bk_err *err);

/* path resolves, inside the rootfs, to a directory. */
bool buildfs_is_dir(int rootfs_fd, const char *path);

/* Bytes of file data in the tree open at dfd, each inode counted once. */
uint64_t buildfs_size(int dfd);

#endif
