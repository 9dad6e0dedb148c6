/*
 * Mounts of bockerfs-init.  init starts in a private copy of the host's
 * mount namespace; it builds the container's /proc, /sys and /dev and the
 * bind-mounted state files under the rootfs, pivots into it, detaches the
 * host's tree (and with it the daemon's FUSE mount), and masks what Docker
 * masks.
 *
 * The image is untrusted: its /proc or /etc/hosts may be a symlink to a
 * host path (CVE-2021-30465, CVE-2023-27561).  So every target is resolved
 * once under an fd of the rootfs by the engine's one module for such paths
 * (engine/base/inroot.h: openat2 with RESOLVE_IN_ROOT), and mounted through
 * /proc/self/fd/N, never by name.  No
 * container process exists yet, so nothing can swap a path behind us.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/magic.h>
#include <linux/seccomp.h>

#include "common/syscalls.h"
#include "setup.h"
#include "engine/base/inroot.h"

#define FD_PATH_SIZE 32

/* The read-only that MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC would give, recursively. */
#define ATTR_LOCKED_RO \
	(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC)

struct fs_mount {
	const char *step;
	const char *path;
	const char *type;
	unsigned long flags;
	const char *data;
};

static int
sys_pivot_root(const char *new_root, const char *put_old)
{
	return (int)syscall(SYS_pivot_root, new_root, put_old);
}

static const char *
fd_path(int fd, char *buf)
{
	snprintf(buf, FD_PATH_SIZE, "/proc/self/fd/%d", fd);
	return buf;
}

static int
mount_on(const char *src, int fd, const char *type, unsigned long flags, const char *data)
{
	char target[FD_PATH_SIZE];

	return mount(src, fd_path(fd, target), type, flags, data);
}

/*
 * The engine's rules for paths in an image (engine/base/inroot.h), with errno set
 * as the rest of init expects.  INROOT_MOUNTS: once /proc, /sys and /dev
 * are mounted, paths under them are reached too.
 */
static int
errno_of(int ret)
{
	if (ret >= 0)
		return ret;
	errno = -ret;
	return -1;
}

/* An O_PATH fd of path (in the container's view) under rootfd, or -1 with errno. */
static int
open_in_root(int rootfd, const char *path, int flags, uint64_t resolve)
{
	return errno_of(inroot_path(rootfd, path, flags, resolve | INROOT_MOUNTS));
}

/* The directory path under rootfd, made with its missing parents (0755); -1 with errno. */
static int
make_dir(int rootfd, const char *path, uint64_t resolve)
{
	return errno_of(inroot_mkdirs(rootfd, path, 0755, (uid_t)-1, 0, resolve | INROOT_MOUNTS));
}

/*
 * The regular file path under rootfd, made empty (0644, parents 0755) when
 * missing: an O_PATH fd, or -1 with errno (EINVAL if it is not a regular file).
 */
static int
make_file(int rootfd, const char *path)
{
	return errno_of(inroot_mkfile(rootfd, path, 0644));
}

/*
 * Set attrs (MOUNT_ATTR_*) on the mount on top of path and everything
 * mounted below it.  mount_setattr() rather than MS_REMOUNT, which would
 * leave submounts (a host /sys's cgroup and fusectl mounts) writable.
 */
static int
lock_readonly(int rootfd, const char *path, uint64_t attrs)
{
	struct mount_attr attr = { .attr_set = attrs };
	cleanup_close int fd = open_in_root(rootfd, path, 0, RESOLVE_NO_SYMLINKS);

	if (fd < 0)
		return -1;
	return mount_setattr(fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr));
}

static int
mount_fs(int rootfd, const struct fs_mount *m, struct init_err *err)
{
	/* No symlink at all: /proc -> / would otherwise cover the container's own root. */
	cleanup_close int fd = make_dir(rootfd, m->path, RESOLVE_NO_SYMLINKS);

	if (fd < 0)
		return init_fail_sys(err, m->step, "mount point '%s'", m->path);
	if (mount_on(m->type, fd, m->type, m->flags, m->data) < 0)
		return init_fail_sys(err, m->step, "mount %s on '%s'", m->type, m->path);
	return 0;
}

/*
 * Without its own network namespace the container may not mount sysfs
 * (EPERM, or EBUSY), so it sees the host's /sys, read-only down to the
 * last submount.
 */
static int
mount_sys(int rootfd, struct init_err *err)
{
	static const struct fs_mount sys = { "mount-sys", "/sys", "sysfs",
					     MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL };
	cleanup_close int fd = -1;
	int ret = mount_fs(rootfd, &sys, err);

	if (ret == 0 || (err->code != EPERM && err->code != EBUSY))
		return ret;
	fd = open_in_root(rootfd, "/sys", O_DIRECTORY, RESOLVE_NO_SYMLINKS);
	if (fd < 0)
		return init_fail_sys(err, "mount-sys", "mount point '/sys'");
	if (mount_on("/sys", fd, NULL, MS_BIND | MS_REC, NULL) < 0)
		return init_fail_sys(err, "mount-sys", "bind the host's /sys");
	if (lock_readonly(rootfd, "/sys", ATTR_LOCKED_RO) < 0)
		return init_fail_sys(err, "mount-sys", "make the host's /sys read-only");
	return 0;
}

/*
 * An empty file in the container's /dev with the host's node bound on it:
 * the device works although the tmpfs is nodev, so a node the container
 * makes with mknod there stays inert.
 */
static int
bind_dev_node(int devfd, const char *name, struct init_err *err)
{
	cleanup_close int fd = openat(devfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	char src[32];

	if (fd < 0)
		return init_fail_sys(err, "mount-dev", "create '/dev/%s'", name);
	snprintf(src, sizeof(src), "/dev/%s", name);
	if (mount_on(src, fd, NULL, MS_BIND, NULL) < 0)
		return init_fail_sys(err, "mount-dev", "bind the host's '%s'", src);
	return 0;
}

static int
populate_dev(int devfd, struct init_err *err)
{
	static const char *const nodes[] = { "null", "zero", "full", "random", "urandom", "tty" };
	static const char *const links[][2] = {
		{ "fd", "/proc/self/fd" },       { "stdin", "/proc/self/fd/0" },
		{ "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
		{ "ptmx", "pts/ptmx" },          { "core", "/proc/kcore" },
	};
	static const struct fs_mount mounts[] = {
		{ "mount-devpts", "/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		  "newinstance,ptmxmode=0666,mode=0620,gid=5" },
		{ "mount-shm", "/shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		  "mode=1777,size=65536k" },
		{ "mount-mqueue", "/mqueue", "mqueue", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL },
	};
	size_t i;
	int ret;

	for (i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
		ret = bind_dev_node(devfd, nodes[i], err);
		if (ret < 0)
			return ret;
	}
	for (i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		if (symlinkat(links[i][1], devfd, links[i][0]) < 0)
			return init_fail_sys(err, "mount-dev", "symlink '/dev/%s'", links[i][0]);
	}
	/* Relative to the new tmpfs, which only init has written to. */
	for (i = 0; i < sizeof(mounts) / sizeof(mounts[0]); i++) {
		ret = mount_fs(devfd, &mounts[i], err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int
mount_dev(int rootfd, struct init_err *err)
{
	static const struct fs_mount dev = { "mount-dev", "/dev", "tmpfs",
					     MS_NOSUID | MS_NOEXEC | MS_NODEV,
					     "mode=755,size=65536k" };
	cleanup_close int devfd = -1;
	int ret = mount_fs(rootfd, &dev, err);

	if (ret < 0)
		return ret;
	devfd = open_in_root(rootfd, "/dev", O_DIRECTORY, RESOLVE_NO_SYMLINKS);
	if (devfd < 0)
		return init_fail_sys(err, "mount-dev", "open the new '/dev'");
	return populate_dev(devfd, err);
}

/*
 * The daemon opened the state directory in its own mount namespace, and
 * mount(2) refuses to bind from a mount outside ours (EINVAL).  So open the
 * same directory again here, by the name the kernel gives the fd, and make
 * sure it is the same inode.  The host store is the daemon's, not the
 * image's, so the name is trusted to that extent.
 */
static int
reopen_state_dir(int dirfd, struct init_err *err)
{
	cleanup_close int fd = -1;
	char link[FD_PATH_SIZE], path[PATH_MAX];
	struct stat want, got;
	ssize_t n = readlink(fd_path(dirfd, link), path, sizeof(path) - 1);

	if (n < 0 || fstat(dirfd, &want) < 0)
		return init_fail_sys(err, "bind", "find the state directory");
	path[n] = '\0';
	fd = open(path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &got) < 0)
		return init_fail_sys(err, "bind", "open the state directory '%s'", path);
	if (got.st_dev != want.st_dev || got.st_ino != want.st_ino)
		return init_fail(err, "bind", EXDEV, "'%s' is not the state directory", path);
	return take_fd(fd);
}

/* A file the daemon wrote (hosts, hostname, resolv.conf) onto its place in the container. */
static int
bind_file(int rootfd, int statefd, const struct init_bind *b, struct init_err *err)
{
	cleanup_close int src = openat(statefd, b->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	cleanup_close int dst = -1;
	char src_path[FD_PATH_SIZE];
	struct stat st;

	if (src < 0)
		return init_fail_sys(err, "bind", "open '%s' in the state directory", b->name);
	if (fstat(src, &st) < 0)
		return init_fail_sys(err, "bind", "stat '%s'", b->name);
	if (!S_ISREG(st.st_mode))
		return init_fail(err, "bind", EINVAL, "'%s' is not a regular file", b->name);
	dst = make_file(rootfd, b->path);
	if (dst < 0)
		return init_fail_sys(err, "bind", "bind target '%s'", b->path);
	if (mount_on(fd_path(src, src_path), dst, NULL, MS_BIND, NULL) < 0)
		return init_fail_sys(err, "bind", "bind '%s' on '%s'", b->name, b->path);
	return 0;
}

/*
 * A mount of the user's, before the pivot.  The target is resolved in the
 * root like every other (a symlink in the image stays inside it: the
 * CVE-2021-30465 class), made if missing (a directory, or an empty file for
 * a source that is not a directory), and may not be in the container's
 * /proc or /sys.  A bind's source is opened with no symlink anywhere in its
 * path (the daemon resolved them when the line was written) and must be the
 * inode the daemon found; it is cloned with everything mounted below it,
 * made read-only as a whole before it is attached when ro, and moved onto
 * the target: the container never sees it writable.
 */
static int
mount_user(int rootfd, int hostfd, const struct init_mount *m, struct init_err *err)
{
	cleanup_close int src = -1, tree = -1, dst = -1;
	struct stat st = { .st_mode = S_IFDIR };
	struct statfs sf;

	if (!m->tmpfs) {
		src = errno_of(
		    inroot_path(hostfd, m->source, 0, RESOLVE_NO_SYMLINKS | INROOT_MOUNTS));
		if (src < 0)
			return init_fail_sys(err, "mount", "source '%s'%s", m->source,
					     errno == ELOOP ? " (a symlink in its path)" : "");
		if (fstat(src, &st) < 0)
			return init_fail_sys(err, "mount", "stat '%s'", m->source);
		if (st.st_dev != m->dev || st.st_ino != m->ino)
			return init_fail(
			    err, "mount", EXDEV,
			    "source '%s' is not what the daemon found there (replaced, "
			    "or a mount made since)",
			    m->source);
	}
	dst = S_ISDIR(st.st_mode) ? make_dir(rootfd, m->target, 0) : make_file(rootfd, m->target);
	if (dst < 0)
		return init_fail_sys(err, "mount", "target '%s'", m->target);
	if (fstatfs(dst, &sf) < 0)
		return init_fail_sys(err, "mount", "target '%s'", m->target);
	if (sf.f_type == PROC_SUPER_MAGIC || sf.f_type == SYSFS_MAGIC)
		return init_fail(err, "mount", EINVAL, "target '%s' leads into /proc or /sys",
				 m->target);
	/* Or onto one of the masks already made there (a tmpfs on /proc/acpi): its parent's. */
	if (S_ISDIR(st.st_mode)) {
		cleanup_close int up = openat(dst, "..", O_PATH | O_DIRECTORY | O_CLOEXEC);

		if (up < 0 || fstatfs(up, &sf) < 0)
			return init_fail_sys(err, "mount", "target '%s'", m->target);
		if (sf.f_type == PROC_SUPER_MAGIC || sf.f_type == SYSFS_MAGIC)
			return init_fail(err, "mount", EINVAL,
					 "target '%s' leads into /proc or /sys", m->target);
	}
	if (m->tmpfs) {
		char data[64];

		/* Docker's --tmpfs: rw,noexec,nosuid,nodev; 1777 as /tmp. */
		if (m->size)
			snprintf(data, sizeof(data), "mode=1777,size=%llu",
				 (unsigned long long)m->size);
		else
			snprintf(data, sizeof(data), "mode=1777");
		if (mount_on("tmpfs", dst, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, data) < 0)
			return init_fail_sys(err, "mount", "tmpfs on '%s'", m->target);
		return 0;
	}
	tree =
	    open_tree(src, "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE);
	if (tree < 0)
		return init_fail_sys(err, "mount", "clone '%s'", m->source);
	if (m->ro && mount_setattr(tree, "", AT_EMPTY_PATH | AT_RECURSIVE,
				   &(struct mount_attr){ .attr_set = MOUNT_ATTR_RDONLY },
				   sizeof(struct mount_attr)) < 0)
		return init_fail_sys(err, "mount", "make '%s' read-only", m->source);
	if (move_mount(tree, "", dst, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return init_fail_sys(err, "mount", "bind '%s' on '%s'", m->source, m->target);
	return 0;
}

/* pivot_root(".", ".") stacks the old root on the new one; detaching it drops every host mount. */
static int
pivot(int rootfd, const char *rootfs, struct init_err *err)
{
	if (fchdir(rootfd) < 0)
		return init_fail_sys(err, "pivot_root", "chdir '%s'", rootfs);
	if (sys_pivot_root(".", ".") < 0)
		return init_fail_sys(err, "pivot_root", "pivot_root to '%s'", rootfs);
	if (umount2(".", MNT_DETACH) < 0)
		return init_fail_sys(err, "pivot_root", "detach the old root");
	if (chdir("/") < 0)
		return init_fail_sys(err, "pivot_root", "chdir '/'");
	return 0;
}

/*
 * runc's verifyDevNull (CVE-2025-31133): what we bind over masked paths
 * must be the null device itself, not whatever /dev/null names.
 */
static int
open_dev_null(int rootfd, struct init_err *err)
{
	cleanup_close int fd = open_in_root(rootfd, "/dev/null", 0, RESOLVE_NO_SYMLINKS);
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		return init_fail_sys(err, "mask", "open '/dev/null'");
	if (!S_ISCHR(st.st_mode) || st.st_rdev != makedev(1, 3))
		return init_fail(err, "mask", EINVAL, "'/dev/null' is not the null device");
	return take_fd(fd);
}

/*
 * A file gets /dev/null bound on it, a directory an empty tmpfs; both
 * read-only.  Not nodev: the mask must read as empty, not fail with EACCES.
 */
static int
mask_path(int rootfd, int nullfd, const char *path, struct init_err *err)
{
	cleanup_close int fd = open_in_root(rootfd, path, 0, RESOLVE_NO_SYMLINKS);
	char null_path[FD_PATH_SIZE];
	struct stat st;
	int ret;

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 || fstat(fd, &st) < 0)
		return init_fail_sys(err, "mask", "open '%s'", path);
	if (S_ISDIR(st.st_mode))
		ret = mount_on("tmpfs", fd, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			       NULL);
	else
		ret = mount_on(fd_path(nullfd, null_path), fd, NULL, MS_BIND, NULL);
	if (ret < 0 || lock_readonly(rootfd, path,
				     MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC) < 0)
		return init_fail_sys(err, "mask", "mask '%s'", path);
	return 0;
}

/* Bound onto itself so that it can be made read-only alone. */
static int
readonly_path(int rootfd, const char *path, struct init_err *err)
{
	cleanup_close int fd = open_in_root(rootfd, path, 0, RESOLVE_NO_SYMLINKS);
	char self[FD_PATH_SIZE];

	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 || mount_on(fd_path(fd, self), fd, NULL, MS_BIND | MS_REC, NULL) < 0 ||
	    lock_readonly(rootfd, path, ATTR_LOCKED_RO) < 0)
		return init_fail_sys(err, "readonly", "make '%s' read-only", path);
	return 0;
}

/* mask_path for each of paths, with the null device under rootfd. */
static int
mask_each(int rootfd, const char *const *paths, size_t n, struct init_err *err)
{
	cleanup_close int nullfd = open_dev_null(rootfd, err);
	size_t i;
	int ret = nullfd < 0 ? nullfd : 0;

	for (i = 0; ret == 0 && i < n; i++)
		ret = mask_path(rootfd, nullfd, paths[i], err);
	return ret;
}

/*
 * Docker's defaults (moby oci/defaults.go) under /proc: made on the
 * container's own /proc where it is staged (stage_proc_dev), before any
 * mount of the user's (which may not target /proc).  Paths this kernel
 * does not have are skipped.
 */
static int
mask_proc(int basefd, struct init_err *err)
{
	static const char *const masked[] = {
		"/proc/kcore",       "/proc/keys",        "/proc/latency_stats", "/proc/timer_list",
		"/proc/timer_stats", "/proc/sched_debug", "/proc/acpi",          "/proc/scsi",
	};
	static const char *const readonly[] = {
		"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
	};
	size_t i;
	int ret = mask_each(basefd, masked, sizeof(masked) / sizeof(masked[0]), err);

	for (i = 0; ret == 0 && i < sizeof(readonly) / sizeof(readonly[0]); i++)
		ret = readonly_path(basefd, readonly[i], err);
	return ret;
}

/* Docker's masks under /sys, done after the pivot so that they land on the container's /sys. */
static int
mask_sys(int rootfd, struct init_err *err)
{
	static const char *const masked[] = { "/sys/firmware", "/sys/devices/virtual/powercap" };

	return mask_each(rootfd, masked, sizeof(masked) / sizeof(masked[0]), err);
}

/*
 * The container's /proc (with its masks) and /dev (with its nodes, pts, shm
 * and mqueue) under basefd: the rootfs itself, or a spare's staging tmpfs,
 * where they are made before the container is known.  Neither depends on
 * the container: procfs shows the init's pid namespace, mqueue its ipc one,
 * and the nodes are the host's.  Some 35 mount calls, each taking the
 * mount namespace's lock: a spare moves them in with two (move_staged).
 */
static int
stage_proc_dev(int basefd, struct init_err *err)
{
	static const struct fs_mount proc = { "mount-proc", "/proc", "proc",
					      MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL };
	int ret = mount_fs(basefd, &proc, err);

	if (ret == 0)
		ret = mount_dev(basefd, err);
	if (ret == 0)
		ret = mask_proc(basefd, err);
	return ret;
}

int
setup_stage(struct init_err *err)
{
	cleanup_close int cwd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int fsfd = -1, stagefd = -1;
	struct stat st, root;
	char buf[256];
	long n;

	/* Only the daemon's hidden mount point: empty, so the ancestor of no path. */
	if (cwd < 0 || fstat(cwd, &st) < 0 || stat("/", &root) < 0)
		return init_fail_sys(err, "stage", "the working directory");
	if (st.st_dev == root.st_dev && st.st_ino == root.st_ino)
		return init_fail(err, "stage", ENOTEMPTY, "the working directory is '/'");
	n = syscall(SYS_getdents64, cwd, buf, sizeof(buf));
	if (n < 0)
		return init_fail_sys(err, "stage", "read the working directory");
	/* "." and ".." take 24 bytes each as struct linux_dirent64. */
	if (n > 48)
		return init_fail(err, "stage", ENOTEMPTY, "the working directory is not empty");
	/* Before anything is mounted: nothing made here may propagate to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return init_fail_sys(err, "mount-private", "make '/' private");
	/* fsmount: the new mount's own fd, which a mount(2) on the directory would not give. */
	fsfd = fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fsfd < 0 || fsconfig(fsfd, FSCONFIG_SET_STRING, "mode", "700", 0) < 0 ||
	    fsconfig(fsfd, FSCONFIG_SET_STRING, "size", "64k", 0) < 0 ||
	    fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		return init_fail_sys(err, "stage", "make the staging tmpfs");
	stagefd = fsmount(fsfd, FSMOUNT_CLOEXEC,
			  MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
	if (stagefd < 0)
		return init_fail_sys(err, "stage", "mount the staging tmpfs");
	/* Attached, since only a mount of this namespace can have others mounted on it. */
	if (move_mount(stagefd, "", cwd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return init_fail_sys(err, "stage", "attach the staging tmpfs");
	if (stage_proc_dev(stagefd, err) < 0)
		return -err->code;
	return take_fd(stagefd);
}

/* Move what stage_proc_dev made under stagefd to the same path in the container's root. */
static int
move_staged(int stagefd, int rootfd, const char *path, struct init_err *err)
{
	cleanup_close int to = make_dir(rootfd, path, RESOLVE_NO_SYMLINKS);

	if (to < 0)
		return init_fail_sys(err, "stage", "mount point '%s'", path);
	if (move_mount(stagefd, path + 1, to, "", MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return init_fail_sys(err, "stage", "move the staged '%s' in", path);
	return 0;
}

static int
lo_up(struct init_err *err)
{
	cleanup_close int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr;

	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return init_fail_sys(err, "lo", "get the flags of 'lo'");
	ifr.ifr_flags |= IFF_UP;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		return init_fail_sys(err, "lo", "bring 'lo' up");
	return 0;
}

static int
build_root(const struct init_plan *plan, int rootfd, int dirfd, int stagefd, struct init_err *err)
{
	cleanup_close int statefd = -1;
	size_t i;
	int ret;

	if (stagefd >= 0) {
		ret = move_staged(stagefd, rootfd, "/proc", err);
		if (ret == 0)
			ret = move_staged(stagefd, rootfd, "/dev", err);
	} else {
		ret = stage_proc_dev(rootfd, err);
	}
	if (ret == 0)
		ret = mount_sys(rootfd, err);
	if (ret == 0 && plan->nbinds > 0)
		ret = statefd = reopen_state_dir(dirfd, err);
	for (i = 0; ret >= 0 && i < plan->nbinds; i++)
		ret = bind_file(rootfd, statefd, &plan->binds[i], err);
	if (ret > 0)
		ret = 0;
	if (ret == 0 && plan->nmounts > 0) {
		cleanup_close int hostfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);

		if (hostfd < 0)
			ret = init_fail_sys(err, "mount", "open the host's '/'");
		for (i = 0; ret == 0 && i < plan->nmounts; i++)
			ret = mount_user(rootfd, hostfd, &plan->mounts[i], err);
	}
	if (ret == 0)
		ret = pivot(rootfd, plan->rootfs, err);
	if (ret == 0)
		ret = mask_sys(rootfd, err);
	return ret;
}

int
setup_container(const struct init_plan *plan, int dirfd, int stagefd, struct init_err *err)
{
	cleanup_close int rootfd = -1;
	int ret;

	/* On a host where / is shared, pivot_root fails and our mounts would leak back. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return init_fail_sys(err, "mount-private", "make '/' private");
	/* pivot_root needs the new root to be a mount point. */
	if (mount(plan->rootfs, plan->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		return init_fail_sys(err, "mount-rootfs", "bind '%s'", plan->rootfs);
	rootfd = open(plan->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return init_fail_sys(err, "mount-rootfs", "open '%s'", plan->rootfs);
	/*
	 * The store is mounted nosuid,nodev and the bind inherits both.  Setuid
	 * programs work in a container, as in Docker (the capability bounding
	 * set limits what they gain); device nodes of the image stay inert.
	 */
	if (mount_setattr(rootfd, "", AT_EMPTY_PATH,
			  &(struct mount_attr){ .attr_clr = MOUNT_ATTR_NOSUID },
			  sizeof(struct mount_attr)) < 0)
		return init_fail_sys(err, "mount-rootfs", "allow setuid in '%s'", plan->rootfs);
	ret = build_root(plan, rootfd, dirfd, stagefd, err);
	if (ret < 0)
		return ret;
	if (sethostname(plan->hostname, strlen(plan->hostname)) < 0)
		return init_fail_sys(err, "hostname", "sethostname '%s'", plan->hostname);
	if (plan->netns)
		return lo_up(err);
	return 0;
}

int
setup_seccomp(const struct init_plan *plan, struct init_err *err)
{
	struct sock_fprog prog = { plan->seccomp_len, (struct sock_filter *)plan->seccomp };

	if (plan->seccomp_len == 0)
		return 0;
	/* No flags: Docker's runc sets none either (no TSYNC: init has one thread). */
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		return init_fail_sys(err, "seccomp", "install the seccomp filter (%u instructions)",
				     (unsigned)plan->seccomp_len);
	return 0;
}
