/*
 * inroot.h: the one way to touch a path inside an image's or a container's
 * filesystem (a "root").  Roots are untrusted: an image or a running
 * container may put a symlink to a host path, a FIFO, a socket, a device
 * node or a huge sparse file wherever the daemon will look, and swap them
 * while it looks.  So:
 *
 *   - every path is resolved by the kernel under the root's fd with
 *     openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV): an
 *     absolute symlink or ".." stops at the root, /proc/self/fd/N planted in
 *     the image is refused, and no other mount is entered;
 *   - the last component is first opened O_PATH, which has no side effects
 *     and cannot block, and checked with fstat; only a regular file is then
 *     reopened for reading (through /proc/self/fd, so the path is not
 *     resolved twice), and only after its size is checked against a cap;
 *   - what is made (directories, empty files) is made with *at() calls
 *     relative to a resolved parent, never by a path string.
 *
 * Functions return an fd (or 0) on success, -errno on failure: EINVAL for a
 * file of the wrong type, EFBIG over a cap, ELOOP for symlink loops, EXDEV
 * for a path that would cross into another mount.  libc only: bockerfs-init
 * links this file too.  `make check-layers` refuses raw *at() calls on a
 * root's fd and openat2 anywhere else (scripts/check-rootpaths.sh).
 */
#ifndef BK_INROOT_H
#define BK_INROOT_H

#include "common/compiler.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <linux/openat2.h> /* the extra RESOLVE_ bits callers may ask for */

/*
 * For the resolve arguments below: also enter mounts made inside the root
 * (bockerfs-init, once it has mounted the container's /proc, /sys, /dev).
 */
#define INROOT_MOUNTS (1ULL << 63)

/* An O_PATH fd of path (flags: O_DIRECTORY, O_NOFOLLOW; resolve: extra RESOLVE_ bits). */
must_check int inroot_path(int root_fd, const char *path, int flags, uint64_t resolve);
/* An O_RDONLY fd of the directory path (flags: O_NOFOLLOW). */
must_check int inroot_dir(int root_fd, const char *path, int flags, uint64_t resolve);
/*
 * An O_RDONLY fd of the regular file path (symlinks followed inside the
 * root); st gets its attributes.  -EINVAL if it is anything but a regular
 * file: a FIFO, socket or device is never opened for reading.
 */
must_check int inroot_file(int root_fd, const char *path, struct stat *st);
/*
 * The character device maj:min at path, opened with flags (O_RDWR,
 * O_NOCTTY...; O_NONBLOCK always): -EINVAL if anything else is there, so
 * no other device, FIFO or file is opened.  For the runtime's own devices
 * (a container's /dev/pts/ptmx).
 */
must_check int inroot_chardev(int root_fd, const char *path, unsigned maj, unsigned min, int flags,
			      uint64_t resolve);
/* The whole regular file path, at most max bytes (-EFBIG), NUL-terminated; caller frees. */
must_check int inroot_read(int root_fd, const char *path, size_t max, char **out, size_t *len);
/* stat(2) of path (symlinks followed inside the root), and lstat(2). */
must_check int inroot_stat(int root_fd, const char *path, struct stat *st);
must_check int inroot_lstat(int root_fd, const char *path, struct stat *st);
/*
 * The directory that holds path (O_RDONLY), and path's last component in
 * name: for *at() calls on that entry itself (unlinkat, fstatat with
 * AT_SYMLINK_NOFOLLOW).  -EINVAL when path has no last component ("/", ".",
 * "..").
 */
must_check int inroot_parent(int root_fd, const char *path, char *name, size_t size);
/*
 * mkdir -p path: missing directories are made with mode, owned by uid:gid
 * (owner kept when uid is (uid_t)-1).  A symlink on the way is followed
 * inside the root; one to a missing directory is -ENOENT (nothing is made
 * through it).  Linear in the depth.  Returns an O_RDONLY fd of the last.
 */
must_check int inroot_mkdirs(int root_fd, const char *path, mode_t mode, uid_t uid, gid_t gid,
			     uint64_t resolve);
/* An O_PATH fd of the regular file path, made empty with mode (parents 0755) if missing. */
must_check int inroot_mkfile(int root_fd, const char *path, mode_t mode);
/*
 * Not a root but a trusted directory whose paths must stay beneath it (the
 * build context): openat2(RESOLVE_BENEATH), where ".." or a symlink leading
 * out is -EXDEV.  flags: O_RDONLY with O_DIRECTORY or O_NONBLOCK.
 */
must_check int inroot_beneath(int dir_fd, const char *path, int flags);
/* Words for the errors above, for messages ("not a regular file" for EINVAL). */
const char *inroot_strerror(int code);

#endif
