/*
 * The state directory and the btrfs store beneath it.
 *
 * The state directory (default /var/lib/bockerfs) holds the daemon's lock and
 * pid file.  Images and containers live on btrfs: the directory itself when it
 * is on btrfs, otherwise an embedded filesystem in a sparse storage.img file,
 * attached to a loop device with LO_FLAGS_AUTOCLEAR and mounted at store/, so
 * a newcomer needs no setup.  libbtrfsutil makes no filesystems, so the first
 * start runs mkfs.btrfs once (the only program the daemon ever forks for it).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <linux/loop.h>
#include <linux/magic.h>

#include "store/store.h"
#include "base/base.h"

static int
storage_lock(const char *root, int *lock_fd, struct bk_err *err)
{
	cleanup_close int fd = -1;
	char buf[32];
	cleanup_close int state_fd = -1;
	int n;

	if (mkdir(root, 0700) < 0 && errno != EEXIST)
		return bk_err_sys(err, "state directory '%s'", root);
	state_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (state_fd < 0)
		return bk_err_sys(err, "state directory '%s'", root);
	fd = openat(state_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return bk_err_sys(err, "open '%s/lock'", root);
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			return bk_err_set(err, EBUSY,
					  "store locked: another bockerfs daemon uses '%s'", root);
		return bk_err_sys(err, "lock '%s/lock'", root);
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (write_file_atomic(state_fd, "bockerfs.pid", buf, (size_t)n, err) < 0)
		return bk_err_wrap(err, "pid file");
	*lock_fd = take_fd(fd);
	return 0;
}

static bool
is_btrfs(const char *path)
{
	struct statfs sf;

	return statfs(path, &sf) == 0 && sf.f_type == BTRFS_SUPER_MAGIC;
}

/* mkfs.btrfs on a new sparse file; the file is removed again on failure. */
static int
make_image(const char *img, uint64_t size, struct bk_err *err)
{
	cleanup_close int fd = -1;
	int status, ret;
	pid_t pid;

	fd = open(img, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return bk_err_sys(err, "create '%s'", img);
	if (ftruncate(fd, (off_t)size) < 0) {
		ret = bk_err_sys(err, "size '%s'", img);
		goto fail;
	}
	pid = fork();
	if (pid < 0) {
		ret = bk_err_sys(err, "fork mkfs.btrfs");
		goto fail;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0)
			dup2(null, 1);
		execlp("mkfs.btrfs", "mkfs.btrfs", "-q", "-L", "bockerfs", img, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		ret = bk_err_set(err, EIO, "mkfs.btrfs '%s' failed (status %d)", img, status);
		goto fail;
	}
	bk_log(BK_LOG_INFO, "created btrfs storage '%s' (%llu bytes, sparse)", img,
	       (unsigned long long)size);
	return 0;
fail:
	unlink(img);
	return ret;
}

/* A loop device already backed by img (e.g. still mounted after a crash), or -1. */
static int
find_loop(const char *img, char *dev, size_t size)
{
	cleanup_dir DIR *d = opendir("/sys/block");
	struct dirent *de;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		char path[PATH_MAX], *back = NULL;
		cleanup_close int sysfd = -1;
		size_t len;

		if (strncmp(de->d_name, "loop", 4) != 0)
			continue;
		snprintf(path, sizeof(path), "/sys/block/%s/loop", de->d_name);
		sysfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sysfd < 0 ||
		    read_file_at(sysfd, "backing_file", PATH_MAX, &back, &len, NULL) < 0)
			continue;
		while (len > 0 && back[len - 1] == '\n')
			back[--len] = '\0';
		if (strcmp(back, img) == 0) {
			int n = snprintf(dev, size, "/dev/%s", de->d_name);

			free(back);
			return n > 0 && (size_t)n < size ? 0 : -1;
		}
		free(back);
	}
	return -1;
}

/*
 * Attach img to a free loop device and return the device's open fd: with
 * autoclear, the device detaches as soon as its last fd closes while nothing
 * is mounted from it, so the caller keeps this fd until the mount is made.
 */
static int
attach_loop(const char *img, char *dev, size_t size, struct bk_err *err)
{
	cleanup_close int ctl = -1, img_fd = -1;
	int tries;

	img_fd = open(img, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (img_fd < 0)
		return bk_err_sys(err, "open '%s'", img);
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return bk_err_sys(err, "open /dev/loop-control");
	/* Another process may grab the free device between the two ioctls: retry. */
	for (tries = 0; tries < 16; tries++) {
		struct loop_config cfg = { 0 };
		cleanup_close int loop_fd = -1;
		int nr = ioctl(ctl, LOOP_CTL_GET_FREE);

		if (nr < 0)
			return bk_err_sys(err, "get a free loop device");
		snprintf(dev, size, "/dev/loop%d", nr);
		loop_fd = open(dev, O_RDWR | O_CLOEXEC);
		if (loop_fd < 0)
			return bk_err_sys(err, "open '%s'", dev);
		cfg.fd = (uint32_t)img_fd;
		/* Autoclear: the device goes away with the last unmount, crash or not. */
		cfg.info.lo_flags = LO_FLAGS_AUTOCLEAR;
		snprintf((char *)cfg.info.lo_file_name, sizeof(cfg.info.lo_file_name), "%s", img);
		if (ioctl(loop_fd, LOOP_CONFIGURE, &cfg) == 0)
			return take_fd(loop_fd);
		if (errno != EBUSY)
			return bk_err_sys(err, "attach '%s' to '%s'", img, dev);
	}
	return bk_err_set(err, EBUSY, "attach '%s': no free loop device", img);
}

static int
storage_open(const char *root, uint64_t size, char **store_path, bool *mounted, struct bk_err *err)
{
	cleanup_free char *store = NULL, *img = NULL;
	cleanup_close int loop_fd = -1;
	char dev[64];
	struct stat st;

	if (is_btrfs(root)) {
		*store_path = xstrdup(root);
		*mounted = false;
		return 0;
	}
	store = xasprintf("%s/store", root);
	img = xasprintf("%s/storage.img", root);
	if (mkdir(store, 0700) < 0 && errno != EEXIST)
		return bk_err_sys(err, "mkdir '%s'", store);
	/* Still mounted from a daemon that was killed: use it as it is. */
	if (is_btrfs(store)) {
		bk_log(BK_LOG_INFO, "reusing mounted store '%s'", store);
		goto done;
	}
	if (lstat(img, &st) < 0) {
		if (errno != ENOENT)
			return bk_err_sys(err, "stat '%s'", img);
		if (make_image(img, size, err) < 0)
			return bk_err_wrap(err, "embedded store");
	} else if (!S_ISREG(st.st_mode)) {
		return bk_err_set(err, EINVAL, "'%s' is not a regular file", img);
	}
	if (find_loop(img, dev, sizeof(dev)) < 0) {
		loop_fd = attach_loop(img, dev, sizeof(dev), err);
		if (loop_fd < 0)
			return bk_err_wrap(err, "embedded store");
	}
	/* On failure the autoclear device detaches when loop_fd closes. */
	if (mount(dev, store, "btrfs", MS_NOSUID | MS_NODEV, NULL) < 0)
		return bk_err_sys(err, "mount '%s' on '%s'", dev, store);
	bk_log(BK_LOG_INFO, "mounted '%s' (%s) on '%s'", img, dev, store);
done:
	*store_path = take_ptr(store);
	*mounted = true;
	return 0;
}

static void
storage_close(const char *store_path, bool mounted)
{
	if (!mounted)
		return;
	/* Lazy: a straggling reader must not keep the daemon from exiting. */
	if (umount2(store_path, MNT_DETACH) < 0)
		bk_log(BK_LOG_WARN, "unmount '%s': %s", store_path, strerror(errno));
	else
		bk_log(BK_LOG_INFO, "unmounted '%s'", store_path);
}

int
store_open(struct store *s, const char *root, uint64_t size, struct bk_err *err)
{
	int ret;

	*s = (struct store){ .lock_fd = -1,
			     .fd = -1,
			     .images_fd = -1,
			     .containers_fd = -1,
			     .tmp_fd = -1,
			     .spare_fd = -1,
			     .volumes_fd = -1 };
	s->root = xstrdup(root);
	ret = storage_lock(root, &s->lock_fd, err);
	if (ret == 0)
		ret = storage_open(root, size, &s->path, &s->mounted, err);
	if (ret == 0)
		ret = store_layout_open(s, err);
	if (ret < 0)
		store_close(s);
	return ret;
}

void
store_close(struct store *s)
{
	store_layout_close(s);
	if (s->path)
		storage_close(s->path, s->mounted);
	if (s->lock_fd >= 0) {
		cleanup_free char *pid = xasprintf("%s/bockerfs.pid", s->root);

		unlink(pid);
		close(s->lock_fd);
	}
	free(s->path);
	free(s->root);
	s->path = s->root = NULL;
	s->lock_fd = -1;
}
