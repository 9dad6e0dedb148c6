/*
 * The container's filesystem, in the init's new mount namespace, as
 * config.json lists it: every mount's destination resolved inside the root
 * (inroot.h: a symlink in the image cannot send a mount onto the host), the
 * mount made on the resolved fd (/proc/self/fd/N), binds through the new
 * mount API so that their flags apply, recursively, before they are
 * attached; then /dev's nodes, pivot_root, the masked and read-only paths,
 * sysctls, and a read-only root.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include <linux/mount.h>

#include "oci/oci.h"
#include "base/base.h"
#include "base/inroot.h"

#define FDPATH_SIZE 32
/* Mount points made by earlier mounts (/dev, then /dev/pts) are entered. */
#define RESOLVE (INROOT_MOUNTS)

static void
fd_path(int fd, char buf[FDPATH_SIZE])
{
	snprintf(buf, FDPATH_SIZE, "/proc/self/fd/%d", fd);
}

static int
sys_open_tree(int dfd, const char *path, unsigned flags)
{
	return (int)syscall(SYS_open_tree, dfd, path, flags);
}

static int
sys_move_mount(int from_dfd, const char *from, int to_dfd, const char *to, unsigned flags)
{
	return (int)syscall(SYS_move_mount, from_dfd, from, to_dfd, to, flags);
}

static int
sys_mount_setattr(int dfd, const char *path, unsigned flags, struct mount_attr *attr)
{
	return (int)syscall(SYS_mount_setattr, dfd, path, flags, attr, sizeof(*attr));
}

static uint64_t
attrs_of(unsigned long flags)
{
	uint64_t a = 0;

	a |= flags & MS_RDONLY ? MOUNT_ATTR_RDONLY : 0;
	a |= flags & MS_NOSUID ? MOUNT_ATTR_NOSUID : 0;
	a |= flags & MS_NODEV ? MOUNT_ATTR_NODEV : 0;
	a |= flags & MS_NOEXEC ? MOUNT_ATTR_NOEXEC : 0;
	a |= flags & MS_NOATIME ? MOUNT_ATTR_NOATIME : 0;
	a |= flags & MS_STRICTATIME ? MOUNT_ATTR_STRICTATIME : 0;
	a |= flags & MS_NODIRATIME ? MOUNT_ATTR_NODIRATIME : 0;
	return a;
}

/*
 * Attach a copy of the tree at src_fd (recursive if rec) with flags' attributes
 * onto target_fd.  The attributes are set on the detached copy: nothing is
 * ever visible writable that was asked read-only.
 */
static int
bind_tree(int src_fd, int target_fd, unsigned long flags, bool rec, const char *what,
	  struct bk_err *err)
{
	cleanup_close int tree = -1;
	struct mount_attr attr = { 0 };

	tree = sys_open_tree(src_fd, "",
			     OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH |
				 (rec ? AT_RECURSIVE : 0));
	if (tree < 0)
		return bk_err_sys(err, "%s: clone the tree", what);
	attr.attr_set = attrs_of(flags);
	if (attr.attr_set &&
	    sys_mount_setattr(tree, "", AT_EMPTY_PATH | (rec ? AT_RECURSIVE : 0), &attr) < 0)
		return bk_err_sys(err, "%s: set its flags", what);
	if (sys_move_mount(tree, "", target_fd, "",
			   MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
		return bk_err_sys(err, "%s: attach", what);
	return 0;
}

/*
 * The directory that holds path, made if missing (entering earlier mounts),
 * and path's last component in name.
 */
static int
parent_dir(int root_fd, const char *path, char *name, size_t size, struct bk_err *err)
{
	cleanup_free char *dir = xstrdup(path);
	char *slash = strrchr(dir, '/');
	int fd;

	if (slash == NULL || slash[1] == '\0' || strcmp(slash + 1, "..") == 0 ||
	    strcmp(slash + 1, ".") == 0 || strlen(slash + 1) >= size)
		return bk_err_set(err, EINVAL, "%s: not a file's path", path);
	snprintf(name, size, "%s", slash + 1);
	*(slash == dir ? slash + 1 : slash) = '\0';
	fd = inroot_mkdirs(root_fd, dir, 0755, (uid_t)-1, (gid_t)-1, RESOLVE);
	if (fd < 0)
		return bk_err_set(err, -fd, "%s: %s", dir, inroot_strerror(-fd));
	return fd;
}

/* Resolve dest in the root, making it (a directory, or a file when file) if missing. */
static int
mount_point(int root_fd, const char *dest, bool file, const char *what, struct bk_err *err)
{
	int fd;

	if (file) {
		fd = inroot_path(root_fd, dest, 0, RESOLVE);
		if (fd == -ENOENT) {
			cleanup_close int parent = -1, made = -1;
			char name[256];

			parent = parent_dir(root_fd, dest, name, sizeof(name), err);
			if (parent < 0)
				return bk_err_wrap(err, "%s", what);
			/* A name, relative to a directory resolved in the root; never followed. */
			made = openat(parent, name,
				      O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
			if (made < 0 && errno != EEXIST)
				return bk_err_sys(err, "%s: make %s", what, dest);
			fd = inroot_path(root_fd, dest, 0, RESOLVE);
		}
	} else {
		fd = inroot_mkdirs(root_fd, dest, 0755, (uid_t)-1, (gid_t)-1, RESOLVE);
		if (fd >= 0) {
			close(fd);
			fd = inroot_path(root_fd, dest, O_DIRECTORY, RESOLVE);
		}
	}
	if (fd < 0)
		return bk_err_set(err, -fd, "%s: %s: %s", what, dest, inroot_strerror(-fd));
	return fd;
}

static int
set_propagation(int root_fd, const char *dest, unsigned long prop, const char *what,
		struct bk_err *err)
{
	cleanup_close int fd = -1;
	char path[FDPATH_SIZE];

	if (prop == 0)
		return 0;
	/* Again: the fd from before the mount names what is under it. */
	fd = inroot_path(root_fd, dest, 0, RESOLVE);
	if (fd < 0)
		return bk_err_set(err, -fd, "%s: %s: %s", what, dest, inroot_strerror(-fd));
	fd_path(fd, path);
	if (mount(NULL, path, NULL, prop, NULL) < 0)
		return bk_err_sys(err, "%s: propagation", what);
	return 0;
}

static int
mount_bind(const struct oci_launch *l, int root_fd, const struct oci_mount *m, const char *what,
	   struct bk_err *err)
{
	cleanup_close int src = -1, target = -1;
	cleanup_free char *source = NULL;
	struct stat st;

	if (m->source == NULL)
		return bk_err_set(err, EINVAL, "%s: a bind mount needs a source", what);
	/* Sources are the host's (the caller's to choose); relative ones are the bundle's. */
	source = m->source[0] == '/' ? xstrdup(m->source)
				     : xasprintf("%s/%s", l->ctr->bundle, m->source);
	src = open(source, O_PATH | O_CLOEXEC);
	if (src < 0 || fstat(src, &st) < 0)
		return bk_err_sys(err, "%s: source %s", what, source);
	target = mount_point(root_fd, m->destination, !S_ISDIR(st.st_mode), what, err);
	if (target < 0)
		return target;
	if (bind_tree(src, target, m->flags, m->flags & MS_REC, what, err) < 0)
		return -err->code;
	return set_propagation(root_fd, m->destination, m->propagation, what, err);
}

/* v1: a tmpfs with each hierarchy's group of the container bound in; v2: the group itself. */
static int
mount_cgroup(const struct oci_launch *l, int root_fd, const struct oci_mount *m, const char *what,
	     struct bk_err *err)
{
	cleanup_free struct ocg_hier *h = NULL;
	cleanup_close int target = -1, dir = -1;
	char path[FDPATH_SIZE];
	size_t n, i;
	bool v2;

	if (ocg_hierarchies(&h, &n, &v2, err) < 0)
		return -err->code;
	target = mount_point(root_fd, m->destination, false, what, err);
	if (target < 0)
		return target;
	fd_path(target, path);
	if (v2) {
		cleanup_close int src = -1;
		char host[PATH_MAX];

		if (l->spec->ns[OCI_NS_CGROUP].present) {
			if (mount("cgroup2", path, "cgroup2", m->flags & ~MS_REC, NULL) < 0)
				return bk_err_sys(err, "%s: mount cgroup2", what);
			return 0;
		}
		snprintf(host, sizeof(host), "/sys/fs/cgroup%s", l->cgroup);
		src = open(host, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (src < 0)
			return bk_err_sys(err, "%s: %s", what, host);
		return bind_tree(src, target, m->flags, false, what, err);
	}
	if (mount("tmpfs", path, "tmpfs", (m->flags & ~(MS_RDONLY | MS_REC)), "mode=755") < 0)
		return bk_err_sys(err, "%s: mount its tmpfs", what);
	close(target);
	target = -1;
	dir = inroot_dir(root_fd, m->destination, 0, RESOLVE);
	if (dir < 0)
		return bk_err_set(err, -dir, "%s: %s", what, inroot_strerror(-dir));
	for (i = 0; i < n; i++) {
		cleanup_close int src = -1, sub = -1;
		char host[PATH_MAX];
		char *comma;

		snprintf(host, sizeof(host), "%s%s", h[i].mount, l->cgroup);
		src = open(host, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (src < 0)
			continue; /* a hierarchy the group is not in (a named one made by others) */
		if (mkdirat(dir, h[i].name, 0755) < 0 && errno != EEXIST)
			return bk_err_sys(err, "%s: mkdir %s", what, h[i].name);
		sub = openat(dir, h[i].name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (sub < 0)
			return bk_err_sys(err, "%s: %s", what, h[i].name);
		if (bind_tree(src, sub, m->flags | MS_NOSUID | MS_NODEV | MS_NOEXEC, false, what,
			      err) < 0)
			return -err->code;
		/* "cpu,cpuacct" is also reached as "cpu" and "cpuacct", as on the host. */
		for (comma = strchr(h[i].name, ','); comma; comma = strchr(comma + 1, ',')) {
			char one[64];
			const char *start = h[i].name;
			const char *c;

			for (c = h[i].name; c < comma; c++)
				if (*c == ',')
					start = c + 1;
			snprintf(one, sizeof(one), "%.*s", (int)(comma - start), start);
			if (symlinkat(h[i].name, dir, one) < 0 && errno != EEXIST)
				return bk_err_sys(err, "%s: link %s", what, one);
			if (strchr(comma + 1, ',') == NULL) {
				snprintf(one, sizeof(one), "%s", comma + 1);
				if (symlinkat(h[i].name, dir, one) < 0 && errno != EEXIST)
					return bk_err_sys(err, "%s: link %s", what, one);
			}
		}
	}
	if (m->flags & MS_RDONLY) {
		struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };

		if (sys_mount_setattr(dir, "", AT_EMPTY_PATH, &attr) < 0)
			return bk_err_sys(err, "%s: read-only", what);
	}
	return 0;
}

static int
mount_one(const struct oci_launch *l, int root_fd, const struct oci_mount *m, size_t i,
	  struct bk_err *err)
{
	cleanup_close int target = -1;
	char what[64], path[FDPATH_SIZE];
	const char *src;

	snprintf(what, sizeof(what), "mounts[%zu]", i);
	if (m->bind)
		return mount_bind(l, root_fd, m, what, err);
	if (strcmp(m->type, "cgroup") == 0 || strcmp(m->type, "cgroup2") == 0)
		return mount_cgroup(l, root_fd, m, what, err);
	target = mount_point(root_fd, m->destination, false, what, err);
	if (target < 0)
		return target;
	fd_path(target, path);
	src = m->source ? m->source : m->type;
	if (mount(src, path, m->type, m->flags & ~MS_REC, *m->data ? m->data : NULL) < 0) {
		/* sysfs in a network namespace that is not ours to mount: the host's, read-only. */
		if (errno == EPERM && strcmp(m->type, "sysfs") == 0) {
			cleanup_close int sys = open("/sys", O_PATH | O_DIRECTORY | O_CLOEXEC);

			if (sys >= 0 &&
			    bind_tree(sys, target, m->flags | MS_RDONLY, true, what, err) == 0)
				return 0;
		}
		return bk_err_sys(err, "%s: mount %s on %s", what, m->type, m->destination);
	}
	return set_propagation(root_fd, m->destination, m->propagation, what, err);
}

/* runc's default nodes, when /dev is a file system of the container's own. */
static const struct {
	const char *name;
	unsigned major, minor;
} default_devices[] = {
	{ "null", 1, 3 },   { "zero", 1, 5 },    { "full", 1, 7 },
	{ "random", 1, 8 }, { "urandom", 1, 9 }, { "tty", 5, 0 },
};

/* A node at path in the root: made with mknod, or bound from the host's in a user namespace. */
static int
make_node(const struct oci_launch *l, int root_fd, const char *path, mode_t type, dev_t dev,
	  mode_t mode, uid_t uid, gid_t gid, struct bk_err *err)
{
	cleanup_close int parent = -1;
	char name[256];

	parent = parent_dir(root_fd, path, name, sizeof(name), err);
	if (parent < 0)
		return bk_err_wrap(err, "device");
	if (unlinkat(parent, name, 0) < 0 && errno != ENOENT)
		return bk_err_sys(err, "device %s: replace", path);
	if (l->spec->ns[OCI_NS_USER].present) {
		cleanup_close int src = -1, target = -1;

		src = open(path, O_PATH | O_CLOEXEC); /* the host's node of the same name */
		if (src < 0)
			return bk_err_sys(err, "device %s: the host's", path);
		target = openat(parent, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				0644);
		if (target < 0)
			return bk_err_sys(err, "device %s", path);
		return bind_tree(src, target, 0, false, path, err);
	}
	if (mknodat(parent, name, type | (mode & 07777), dev) < 0)
		return bk_err_sys(err, "device %s: mknod", path);
	if (fchownat(parent, name, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
		return bk_err_sys(err, "device %s: chown", path);
	return 0;
}

static bool
dev_is_own(const struct oci_spec *s)
{
	size_t i;

	for (i = 0; i < s->n_mounts; i++)
		if (strcmp(s->mounts[i].destination, "/dev") == 0 && !s->mounts[i].bind)
			return true;
	return false;
}

static int
populate_dev(const struct oci_launch *l, int root_fd, struct bk_err *err)
{
	static const char *const links[][2] = {
		{ "/proc/self/fd", "fd" },       { "/proc/self/fd/0", "stdin" },
		{ "/proc/self/fd/1", "stdout" }, { "/proc/self/fd/2", "stderr" },
		{ "pts/ptmx", "ptmx" },
	};
	const struct oci_spec *s = l->spec;
	cleanup_close int dev = -1;
	char path[64];
	size_t i;

	if (dev_is_own(s)) {
		for (i = 0; i < ARRAY_SIZE(default_devices); i++) {
			snprintf(path, sizeof(path), "/dev/%s", default_devices[i].name);
			if (make_node(l, root_fd, path, S_IFCHR,
				      makedev(default_devices[i].major, default_devices[i].minor),
				      0666, 0, 0, err) < 0)
				return -err->code;
		}
		dev = inroot_dir(root_fd, "/dev", 0, RESOLVE);
		if (dev < 0)
			return bk_err_set(err, -dev, "/dev: %s", inroot_strerror(-dev));
		for (i = 0; i < ARRAY_SIZE(links); i++)
			if (symlinkat(links[i][0], dev, links[i][1]) < 0 && errno != EEXIST)
				return bk_err_sys(err, "/dev/%s", links[i][1]);
	}
	for (i = 0; i < s->n_devices; i++) {
		const struct oci_device *d = &s->devices[i];
		mode_t type = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;

		if (make_node(l, root_fd, d->path, type,
			      makedev((unsigned)d->major, (unsigned)d->minor),
			      d->has_mode ? d->mode : 0666, d->uid, d->gid, err) < 0)
			return bk_err_wrap(err, "linux.devices[%zu]", i);
	}
	return 0;
}

int
rootfs_prepare(const struct oci_launch *l, int *root_fd, struct bk_err *err)
{
	const struct oci_spec *s = l->spec;
	unsigned long prop = s->rootfs_propagation ? s->rootfs_propagation : MS_SLAVE | MS_REC;
	cleanup_close int fd = -1;
	size_t i;

	umask(0);
	/* Nothing mounted from here on reaches the host, and the host's reach only as asked. */
	if (mount(NULL, "/", NULL, (prop & ~MS_SHARED) | MS_REC | (prop & MS_SHARED ? MS_SLAVE : 0),
		  NULL) < 0)
		return bk_err_sys(err, "linux.rootfsPropagation: /");
	if (mount(l->rootfs, l->rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
		return bk_err_sys(err, "root.path: bind %s", l->rootfs);
	fd = open(l->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return bk_err_sys(err, "root.path: %s", l->rootfs);
	for (i = 0; i < s->n_mounts; i++)
		if (mount_one(l, fd, &s->mounts[i], i, err) < 0)
			return -err->code;
	if (populate_dev(l, fd, err) < 0)
		return -err->code;
	*root_fd = take_fd(fd);
	return 0;
}

static int
pivot(const struct oci_launch *l, int root_fd, struct bk_err *err)
{
	if (fchdir(root_fd) < 0)
		return bk_err_sys(err, "root.path: chdir");
	if (l->no_pivot) {
		if (mount(".", "/", NULL, MS_MOVE, NULL) < 0 || chroot(".") < 0)
			return bk_err_sys(err, "root.path: move and chroot (--no-pivot)");
	} else {
		/* pivot_root(".", "."): the old root stacks under the new one, then goes. */
		if (syscall(SYS_pivot_root, ".", ".") < 0)
			return bk_err_sys(err, "root.path: pivot_root");
		if (umount2(".", MNT_DETACH) < 0)
			return bk_err_sys(err, "root.path: detach the old root");
	}
	if (chdir("/") < 0)
		return bk_err_sys(err, "root.path: chdir /");
	return 0;
}

/* Cover path with an empty read-only tmpfs (a directory) or /dev/null (anything else). */
static int
mask(int root_fd, const char *path, struct bk_err *err)
{
	cleanup_close int fd = inroot_path(root_fd, path, 0, RESOLVE), null = -1;
	char at[FDPATH_SIZE];
	struct stat st;

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return bk_err_set(err, -fd, "linux.maskedPaths: %s: %s", path,
				  inroot_strerror(-fd));
	if (fstat(fd, &st) < 0)
		return bk_err_sys(err, "linux.maskedPaths: %s", path);
	fd_path(fd, at);
	if (S_ISDIR(st.st_mode)) {
		if (mount("tmpfs", at, "tmpfs", MS_RDONLY, "size=0,mode=555") < 0)
			return bk_err_sys(err, "linux.maskedPaths: %s", path);
		return 0;
	}
	null = inroot_chardev(root_fd, "/dev/null", 1, 3, O_RDONLY, RESOLVE);
	if (null < 0)
		return bk_err_set(err, -null, "linux.maskedPaths: %s: /dev/null: %s", path,
				  inroot_strerror(-null));
	return bind_tree(null, fd, 0, false, "linux.maskedPaths", err);
}

static int
read_only(int root_fd, const char *path, struct bk_err *err)
{
	cleanup_close int fd = inroot_path(root_fd, path, 0, RESOLVE);

	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return bk_err_set(err, -fd, "linux.readonlyPaths: %s: %s", path,
				  inroot_strerror(-fd));
	return bind_tree(fd, fd, MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, true,
			 "linux.readonlyPaths", err);
}

static int
sysctl(int root_fd, const struct oci_sysctl *c, struct bk_err *err)
{
	cleanup_close int fd = -1;
	char path[512];
	size_t i;

	snprintf(path, sizeof(path), "/proc/sys/%s", c->key);
	for (i = 10; path[i]; i++)
		if (path[i] == '.')
			path[i] = '/';
	fd = inroot_path(root_fd, path, 0, RESOLVE);
	if (fd < 0)
		return bk_err_set(err, -fd, "linux.sysctl: %s: %s", c->key, inroot_strerror(-fd));
	{
		char rw[FDPATH_SIZE];
		cleanup_close int w = -1;

		fd_path(fd, rw);
		w = open(rw, O_WRONLY | O_CLOEXEC);
		if (w < 0 || write(w, c->value, strlen(c->value)) < 0)
			return bk_err_sys(err, "linux.sysctl: %s", c->key);
	}
	return 0;
}

int
rootfs_finish(const struct oci_launch *l, int root_fd, struct bk_err *err)
{
	const struct oci_spec *s = l->spec;
	cleanup_close int root = -1;
	size_t i;

	if (pivot(l, root_fd, err) < 0)
		return -err->code;
	root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		return bk_err_sys(err, "open /");
	for (i = 0; i < s->n_sysctl; i++)
		if (sysctl(root, &s->sysctl[i], err) < 0)
			return -err->code;
	for (i = 0; s->readonly_paths && s->readonly_paths[i]; i++)
		if (read_only(root, s->readonly_paths[i], err) < 0)
			return -err->code;
	for (i = 0; s->masked_paths && s->masked_paths[i]; i++)
		if (mask(root, s->masked_paths[i], err) < 0)
			return -err->code;
	if (s->root_readonly) {
		struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };

		if (sys_mount_setattr(root, "", AT_EMPTY_PATH, &attr) < 0)
			return bk_err_sys(err, "root.readonly");
	}
	umask(022);
	return 0;
}
