/*
 * Paths inside untrusted roots (see inroot.h for the rules).  Shared by the
 * engine and bockerfs-init, so it uses libc and the kernel only.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "inroot.h"
#include "common/cleanup.h"
#include "common/syscalls.h"
#include "common/xalloc.h"

#define INROOT_RESOLVE (RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV)
/* openat2 answers EAGAIN when a rename raced a ".." walk; a loop doing that on purpose ends here.
 */
#define RACE_RETRIES 64

/* openat2 under root with the rules; -errno. */
static int
open_under(int root_fd, const char *path, int flags, mode_t mode, uint64_t resolve)
{
	int i, fd = -1;

	/* openat2 refuses O_PATH with any flag it would ignore. */
	flags |= O_CLOEXEC | ((flags & O_PATH) ? 0 : O_NOCTTY);
	for (i = 0; i < RACE_RETRIES; i++) {
		fd = sys_openat2(root_fd, *path ? path : "/", flags, mode,
				 resolve & INROOT_MOUNTS ? (INROOT_RESOLVE & ~RESOLVE_NO_XDEV) |
							       (resolve & ~INROOT_MOUNTS)
							 : INROOT_RESOLVE | resolve);
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	return fd >= 0 ? fd : -errno;
}

int
inroot_path(int root_fd, const char *path, int flags, uint64_t resolve)
{
	return open_under(root_fd, path, O_PATH | (flags & (O_DIRECTORY | O_NOFOLLOW)), 0, resolve);
}

int
inroot_dir(int root_fd, const char *path, int flags, uint64_t resolve)
{
	/* O_DIRECTORY fails with ENOTDIR before a FIFO or a device is opened. */
	return open_under(root_fd, path, O_RDONLY | O_DIRECTORY | (flags & O_NOFOLLOW), 0, resolve);
}

/* Open the file behind an O_PATH fd for reading, without resolving a path again. */
static int
reopen_read(int path_fd, const struct stat *st)
{
	char proc[32];
	struct stat now;
	cleanup_close int fd = -1;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", path_fd);
	fd = open(proc, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &now) < 0)
		return -errno;
	/* The same inode, or /proc is not what it should be. */
	if (now.st_dev != st->st_dev || now.st_ino != st->st_ino)
		return -EXDEV;
	return take_fd(fd);
}

int
inroot_chardev(int root_fd, const char *path, unsigned maj, unsigned min, int flags,
	       uint64_t resolve)
{
	cleanup_close int pfd = open_under(root_fd, path, O_PATH | O_NOFOLLOW, 0, resolve);
	cleanup_close int fd = -1;
	struct stat st, now;

	if (pfd < 0)
		return pfd;
	if (fstat(pfd, &st) < 0)
		return -errno;
	if (!S_ISCHR(st.st_mode) || major(st.st_rdev) != maj || minor(st.st_rdev) != min)
		return -EINVAL;
	/* By the same resolution again (no /proc/self to reopen by, after setns), then compared. */
	fd = open_under(root_fd, path, (flags & ~O_PATH) | O_NOFOLLOW | O_NONBLOCK, 0, resolve);
	if (fd < 0)
		return fd;
	if (fstat(fd, &now) < 0)
		return -errno;
	if (now.st_dev != st.st_dev || now.st_ino != st.st_ino)
		return -EXDEV;
	return take_fd(fd);
}

int
inroot_file(int root_fd, const char *path, struct stat *st)
{
	cleanup_close int pfd = inroot_path(root_fd, path, 0, 0);

	if (pfd < 0)
		return pfd;
	if (fstat(pfd, st) < 0)
		return -errno;
	if (!S_ISREG(st->st_mode))
		return S_ISDIR(st->st_mode) ? -EISDIR : -EINVAL;
	return reopen_read(pfd, st);
}

int
inroot_read(int root_fd, const char *path, size_t max, char **out, size_t *len)
{
	struct stat st;
	cleanup_close int fd = inroot_file(root_fd, path, &st);
	size_t used = 0;
	char *buf;

	if (fd < 0)
		return fd;
	/* A 100 GiB sparse file is refused before a byte is read. */
	if ((uint64_t)st.st_size > max)
		return -EFBIG;
	buf = xmalloc(max + 1);
	for (;;) {
		ssize_t n = read(fd, buf + used, max + 1 - used);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int code = errno;

			free(buf);
			return -code;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		/* It grew while we read. */
		if (used > max) {
			free(buf);
			return -EFBIG;
		}
	}
	buf[used] = '\0';
	*out = buf;
	if (len)
		*len = used;
	return 0;
}

/* Split path into its directory part (copied to dir) and last component; -EINVAL if none. */
static int
split(const char *path, char *dir, size_t dir_size, char *name, size_t name_size)
{
	size_t end = strlen(path), start, n;

	while (end > 0 && path[end - 1] == '/')
		end--;
	for (start = end; start > 0 && path[start - 1] != '/';)
		start--;
	n = end - start;
	if (n == 0 || (n == 1 && path[start] == '.') ||
	    (n == 2 && path[start] == '.' && path[start + 1] == '.'))
		return -EINVAL;
	if (n >= name_size || start >= dir_size)
		return -ENAMETOOLONG;
	memcpy(name, path + start, n);
	name[n] = '\0';
	memcpy(dir, path, start);
	dir[start] = '\0';
	return 0;
}

int
inroot_parent(int root_fd, const char *path, char *name, size_t size)
{
	char dir[PATH_MAX];
	int ret = split(path, dir, sizeof(dir), name, size);

	if (ret < 0)
		return ret;
	return inroot_dir(root_fd, dir, 0, 0);
}

static int
stat_under(int root_fd, const char *path, int flags, struct stat *st)
{
	cleanup_close int fd = inroot_path(root_fd, path, flags, 0);

	if (fd < 0)
		return fd;
	return fstat(fd, st) < 0 ? -errno : 0;
}

int
inroot_stat(int root_fd, const char *path, struct stat *st)
{
	return stat_under(root_fd, path, 0, st);
}

int
inroot_lstat(int root_fd, const char *path, struct stat *st)
{
	return stat_under(root_fd, path, O_NOFOLLOW, st);
}

/* dfd/name was just made: give it its owner and mode through an fd (never by name). */
static int
set_owner(int dfd, const char *name, mode_t mode, uid_t uid, gid_t gid)
{
	cleanup_close int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (uid != (uid_t)-1 && fchown(fd, uid, gid) < 0)
		return -errno;
	/* Set by hand: the daemon's umask is not the image's business. */
	return fchmod(fd, mode) < 0 ? -errno : 0;
}

/*
 * The directory name right under dfd, never a symlink and never leaving it:
 * a step that costs one lookup, whatever the depth.
 */
static int
step_into(int dfd, const char *name, uint64_t resolve)
{
	uint64_t how = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
	int fd;

	if (!(resolve & INROOT_MOUNTS))
		how |= RESOLVE_NO_XDEV;
	fd = sys_openat2(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0, how);
	return fd >= 0 ? fd : -errno;
}

int
inroot_mkdirs(int root_fd, const char *path, mode_t mode, uid_t uid, gid_t gid, uint64_t resolve)
{
	cleanup_close int cur = inroot_dir(root_fd, path, 0, resolve);
	char prefix[PATH_MAX];
	size_t len = strlen(path), start, end;

	if (cur != -ENOENT)
		return cur >= 0 ? take_fd(cur) : cur;
	if (len >= sizeof(prefix))
		return -ENAMETOOLONG;
	cur = inroot_dir(root_fd, "/", 0, 0);
	/*
	 * Component by component.  A plain name is opened from the directory
	 * before it, and made there if missing; a symlink, "..", or anything
	 * that is not a plain directory is resolved from the root again, as in
	 * the container, so it can only lead inside.  Resolving every prefix
	 * from the root would cost the square of the depth: minutes for the
	 * 2000 levels of a hostile layer.
	 */
	for (start = 0; cur >= 0 && start < len; start = end) {
		size_t n;
		int next;

		while (path[start] == '/')
			start++;
		for (end = start; end < len && path[end] != '/'; end++)
			;
		n = end - start;
		if (n == 0 || (n == 1 && path[start] == '.'))
			continue;
		memcpy(prefix, path, end);
		prefix[end] = '\0';
		next = n == 2 && path[start] == '.' && path[start + 1] == '.'
			   ? -ELOOP
			   : step_into(cur, prefix + start, resolve);
		if (next == -ENOENT) {
			if (mkdirat(cur, prefix + start, mode) == 0) {
				int ret = set_owner(cur, prefix + start, mode, uid, gid);

				if (ret < 0)
					return ret;
			} else if (errno != EEXIST) {
				return -errno;
			}
			next = step_into(cur, prefix + start, resolve);
		}
		if (next == -ELOOP || next == -ENOTDIR || next == -EXDEV)
			next = inroot_dir(root_fd, prefix, 0, resolve);
		if (next < 0)
			return next;
		close(cur);
		cur = next;
	}
	return take_fd(cur);
}

/* Make root/path an empty regular file if nothing is there; 0 or -errno. */
static int
create_empty(int root_fd, const char *path, mode_t mode)
{
	char dir[PATH_MAX], name[NAME_MAX + 1];
	cleanup_close int parent = -1;
	struct stat st;
	int fd, ret = split(path, dir, sizeof(dir), name, sizeof(name));

	if (ret < 0)
		return ret;
	parent = inroot_mkdirs(root_fd, *dir ? dir : "/", 0755, (uid_t)-1, 0, 0);
	if (parent < 0)
		return parent;
	/* O_EXCL: nothing that appeared meanwhile (a FIFO, a device) is opened. */
	fd = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	if (fd < 0 && errno == EEXIST && fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    S_ISLNK(st.st_mode))
		/*
		 * A dangling symlink (resolv.conf -> ../run/...): its target is
		 * made, inside the root, as the image means it.  O_NONBLOCK in
		 * case a FIFO appears there meanwhile.
		 */
		fd = open_under(root_fd, path, O_WRONLY | O_CREAT | O_NONBLOCK, mode, 0);
	else if (fd < 0)
		fd = -errno;
	if (fd < 0)
		return fd == -EEXIST ? 0 : fd;
	close(fd);
	return 0;
}

int
inroot_mkfile(int root_fd, const char *path, mode_t mode)
{
	cleanup_close int fd = inroot_path(root_fd, path, 0, 0);
	struct stat st;

	if (fd == -ENOENT) {
		int ret = create_empty(root_fd, path, mode);

		if (ret < 0)
			return ret;
		fd = inroot_path(root_fd, path, 0, 0);
	}
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	return take_fd(fd);
}

int
inroot_beneath(int dir_fd, const char *path, int flags)
{
	int fd = sys_openat2(dir_fd, path, flags | O_CLOEXEC | O_NOCTTY, 0,
			     RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV);

	return fd >= 0 ? fd : -errno;
}

const char *
inroot_strerror(int code)
{
	switch (code) {
	case EINVAL:
		return "not a regular file";
	case EXDEV:
		return "leads into another mount";
	case EFBIG:
		return "too large";
	default:
		return strerror(code);
	}
}
