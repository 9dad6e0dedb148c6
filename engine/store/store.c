/*
 * The layout inside the btrfs store, and subvolume operations through
 * libbtrfsutil (never the btrfs command).
 *
 *   images/<id>/image.json     the image record, replaced atomically
 *   images/<id>/rootfs         its filesystem, a read-only subvolume
 *   containers/<id>/...        (containers)
 *   tmp/<name>                 work in progress; emptied at every start, so
 *                              a crash never leaves half an object visible
 *   spare/<image>.<n>          ready snapshots of images (spare.c)
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <btrfsutil.h>

#include "store/store.h"
#include "base/base.h"

/* btrfs gives every subvolume root this inode number (BTRFS_FIRST_FREE_OBJECTID). */
#define SUBVOL_ROOT_INO 256

static int
btrfs_err(struct bk_err *err, enum btrfs_util_error be, const char *what)
{
	int code = errno ? errno : EIO;

	return bk_err_set(err, code, "%s: %s: %s", what, btrfs_util_strerror(be), strerror(code));
}

int
store_create_subvolume(int dfd, const char *name, struct bk_err *err)
{
	enum btrfs_util_error be;
	cleanup_close int fd = -1;

	errno = 0;
	be = btrfs_util_create_subvolume_fd(dfd, name, 0, NULL, NULL);
	if (be != BTRFS_UTIL_OK)
		return btrfs_err(err, be, "create subvolume");
	/*
	 * Its root is made under the daemon's umask (0700).  Docker gives a root
	 * that no layer names 0755 root:root, so that any USER can reach its
	 * files; a layer's own entry for "/", or an import's source, may change it.
	 */
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fchown(fd, 0, 0) < 0 || fchmod(fd, 0755) < 0)
		return bk_err_sys(err, "create subvolume: set its root's mode");
	return 0;
}

int
store_set_read_only(int fd, bool ro, struct bk_err *err)
{
	enum btrfs_util_error be;

	errno = 0;
	be = btrfs_util_set_subvolume_read_only_fd(fd, ro);
	if (be != BTRFS_UTIL_OK)
		return btrfs_err(err, be, "set subvolume read-only");
	return 0;
}

int
store_snapshot(int src_fd, int dst_dfd, const char *name, bool read_only, struct bk_err *err)
{
	enum btrfs_util_error be;

	errno = 0;
	be = btrfs_util_create_snapshot_fd2(src_fd, dst_dfd, name,
					    read_only ? BTRFS_UTIL_CREATE_SNAPSHOT_READ_ONLY : 0,
					    NULL, NULL);
	if (be != BTRFS_UTIL_OK)
		return btrfs_err(err, be, "snapshot");
	return 0;
}

static int
delete_subvolume(int dfd, const char *name, struct bk_err *err)
{
	enum btrfs_util_error be;

	errno = 0;
	be = btrfs_util_delete_subvolume_fd(dfd, name, BTRFS_UTIL_DELETE_SUBVOLUME_RECURSIVE);
	if (be != BTRFS_UTIL_OK)
		return btrfs_err(err, be, "delete subvolume");
	/*
	 * Its space comes back once the cleaner drops it, after the next commit
	 * (up to 30 s).  No BTRFS_IOC_START_SYNC here: on this kernel it waits
	 * for that commit, and made every rmdir of an image take 30-60 s.
	 */
	return 0;
}

static int
rmtree_depth(int dfd, const char *name, int depth, struct bk_err *err)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	struct stat st;
	int fd;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : bk_err_sys(err, "stat '%s'", name);
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
			return bk_err_sys(err, "unlink '%s'", name);
		return 0;
	}
	if (st.st_ino == SUBVOL_ROOT_INO)
		return delete_subvolume(dfd, name, err);
	if (depth > 4096)
		return bk_err_set(err, ELOOP, "remove '%s': too deep", name);
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return bk_err_sys(err, "open '%s'", name);
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return bk_err_sys(err, "open '%s'", name);
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (rmtree_depth(dirfd(d), de->d_name, depth + 1, err) < 0)
			return bk_err_wrap(err, "remove '%s'", name);
	}
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return bk_err_sys(err, "rmdir '%s'", name);
	return 0;
}

/*
 * After a failure for want of space: commit now, so that the subvolumes the
 * rollback deleted give their space back before the caller answers (else up
 * to the 30 s commit interval later, and the same operation retried at once
 * would fail again).  It can take seconds, so only that path pays for it.
 */
void
store_reclaim(int dfd)
{
	uint64_t transid = 0;

	if (btrfs_util_start_sync_fd(dfd, &transid) == BTRFS_UTIL_OK)
		btrfs_util_wait_sync_fd(dfd, transid);
}

void
store_discard(int tmp_dfd, const char *name)
{
	struct bk_err err = BK_ERR_INIT;

	if (store_rmtree_at(tmp_dfd, name, &err) < 0)
		bk_log(BK_LOG_WARN, "tmp/%s: %s (removed at the next start)", name, err.msg);
}

/* Remove dfd/name and everything below it, subvolumes included.  Missing is fine. */
int
store_rmtree_at(int dfd, const char *name, struct bk_err *err)
{
	return rmtree_depth(dfd, name, 0, err);
}

static int
open_dir(int dfd, const char *name, int *out, struct bk_err *err)
{
	if (mkdirat(dfd, name, 0700) < 0 && errno != EEXIST)
		return bk_err_sys(err, "mkdir '%s'", name);
	*out = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (*out < 0)
		return bk_err_sys(err, "open '%s'", name);
	return 0;
}

/* Drop everything a crash left half done in tmp/. */
static void
clean_tmp(struct store *s)
{
	cleanup_dir DIR *d = opendir_at(s->tmp_fd);
	struct dirent *de;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		struct bk_err err = BK_ERR_INIT;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		bk_log(BK_LOG_INFO, "removing unfinished work tmp/%s", de->d_name);
		if (store_rmtree_at(s->tmp_fd, de->d_name, &err) < 0)
			bk_log(BK_LOG_WARN, "cleanup tmp/%s: %s", de->d_name, err.msg);
	}
}

int
store_layout_open(struct store *s, struct bk_err *err)
{
	s->fd = open(s->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->fd < 0)
		return bk_err_sys(err, "open store '%s'", s->path);
	if (open_dir(s->fd, "images", &s->images_fd, err) < 0 ||
	    open_dir(s->fd, "containers", &s->containers_fd, err) < 0 ||
	    open_dir(s->fd, "tmp", &s->tmp_fd, err) < 0 ||
	    open_dir(s->fd, "spare", &s->spare_fd, err) < 0 ||
	    open_dir(s->fd, "volumes", &s->volumes_fd, err) < 0)
		return bk_err_wrap(err, "store '%s'", s->path);
	clean_tmp(s);
	return 0;
}

void
store_layout_close(struct store *s)
{
	int *fds[] = { &s->volumes_fd,    &s->spare_fd,  &s->tmp_fd,
		       &s->containers_fd, &s->images_fd, &s->fd };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(fds); i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}
