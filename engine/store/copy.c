/*
 * copy.c: copy a directory tree into an image's fresh btrfs subvolume.
 *
 * The walk goes by file descriptors only: every entry is reached with an *at()
 * call relative to its parent's fd, with O_NOFOLLOW or AT_SYMLINK_NOFOLLOW, so
 * a source tree that changes while we copy (a user's directory, a running
 * container) can make the copy fail but never make us read or write outside
 * the two trees.  File data is reflinked (FICLONE) when both sides share a
 * btrfs, else copied in the kernel (copy_file_range), else read and written.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/xattr.h>
#include <linux/limits.h>

#include "bocker.h"
#include "store/store.h"
#include "base/base.h"

/* Defined here rather than by <linux/fs.h>, which fights <sys/mount.h>. */
#ifndef FICLONE
#define FICLONE _IOW(0x94, 9, int)
#endif

#define COPY_MAX_DEPTH 256
/*
 * Scratch for read/write, symlink targets and xattrs: the kernel caps an
 * xattr list and an xattr value at 64 KiB each, so both fit side by side.
 */
#define COPY_BUF_SIZE (XATTR_LIST_MAX + XATTR_SIZE_MAX)
/* Bounded so that a huge file still polls the cancel flag now and then. */
#define COPY_RANGE_CHUNK (64 * 1024 * 1024)

struct copy_ctx {
	struct bk_cancel *cancel; /* borrowed, may be NULL */
	struct copy_stats *stats; /* borrowed */
	int dst_root;             /* borrowed: hardlink paths resolve from here */
	dev_t dst_dev;            /* the destination root, never to be copied into itself */
	ino_t dst_ino;
	struct linkmap links; /* inodes with more than one link: where their first copy went */
	char *path;           /* relative path of the current entry, for messages and links */
	size_t path_len;
	size_t path_cap;
	char *buf; /* COPY_BUF_SIZE bytes, made on first use */
};

/* Append name to ctx->path; returns the old length for path_pop(). */
static size_t
path_push(struct copy_ctx *ctx, const char *name)
{
	size_t old = ctx->path_len, len = strlen(name);

	if (old + len + 2 > ctx->path_cap) {
		ctx->path_cap = 2 * (old + len + 2) + 256;
		ctx->path = xrealloc(ctx->path, ctx->path_cap);
	}
	if (old > 0)
		ctx->path[ctx->path_len++] = '/';
	memcpy(ctx->path + ctx->path_len, name, len + 1);
	ctx->path_len += len;
	return old;
}

static void
path_pop(struct copy_ctx *ctx, size_t old)
{
	ctx->path_len = old;
	ctx->path[old] = '\0';
}

/* The current path for a message; "." for the top directory. */
static const char *
where(const struct copy_ctx *ctx)
{
	return ctx->path_len > 0 ? ctx->path : ".";
}

static char *
ctx_buf(struct copy_ctx *ctx)
{
	if (ctx->buf == NULL)
		ctx->buf = xmalloc(COPY_BUF_SIZE);
	return ctx->buf;
}

static bool
cancelled(struct copy_ctx *ctx)
{
	return ctx->cancel != NULL && atomic_load(&ctx->cancel->cancelled);
}

static int
cancel_err(struct bk_err *err)
{
	return bk_err_set(err, EINTR, "copy: interrupted");
}

static bool
same_inode(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       ((a->st_mode ^ b->st_mode) & S_IFMT) == 0;
}

static int
changed_err(struct copy_ctx *ctx, struct bk_err *err)
{
	return bk_err_set(err, EAGAIN, "copy '%s': changed while being copied", ctx->path);
}

/* Copy one xattr, name, from sfd to dfd; value is XATTR_SIZE_MAX bytes of scratch. */
static int
copy_xattr(struct copy_ctx *ctx, int sfd, int dfd, const char *name, char *value,
	   struct bk_err *err)
{
	ssize_t len;

	len = fgetxattr(sfd, name, value, XATTR_SIZE_MAX);
	if (len < 0 && errno == ENODATA)
		return 0; /* removed since we listed it */
	if (len < 0)
		return bk_err_sys(err, "copy '%s': getxattr '%s'", where(ctx), name);
	/* A destination that cannot hold some namespace is no reason to fail the copy. */
	if (fsetxattr(dfd, name, value, (size_t)len, 0) < 0 && errno != ENOTSUP)
		return bk_err_sys(err, "copy '%s': setxattr '%s'", where(ctx), name);
	return 0;
}

static int
copy_xattrs(struct copy_ctx *ctx, int sfd, int dfd, struct bk_err *err)
{
	char *names = ctx_buf(ctx), *value = names + XATTR_LIST_MAX, *p;
	ssize_t len;
	int ret;

	len = flistxattr(sfd, names, XATTR_LIST_MAX);
	if (len < 0 && errno == ENOTSUP)
		return 0; /* the source filesystem has none */
	if (len < 0)
		return bk_err_sys(err, "copy '%s': listxattr", where(ctx));
	for (p = names; p < names + len; p += strlen(p) + 1) {
		ret = copy_xattr(ctx, sfd, dfd, p, value, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/*
 * Owner, xattrs, mode and times of an open copy, in that order: chown clears
 * setuid, setgid and file capabilities (security.capability), so those are set
 * after it, and every change bumps times, so they go last.
 */
static int
apply_meta(struct copy_ctx *ctx, int sfd, int dfd, const struct stat *st, struct bk_err *err)
{
	const struct timespec ts[2] = { st->st_atim, st->st_mtim };
	int ret;

	if (fchown(dfd, st->st_uid, st->st_gid) < 0)
		return bk_err_sys(err, "copy '%s': chown", where(ctx));
	ret = copy_xattrs(ctx, sfd, dfd, err);
	if (ret < 0)
		return ret;
	if (fchmod(dfd, st->st_mode & 07777) < 0)
		return bk_err_sys(err, "copy '%s': chmod", where(ctx));
	if (futimens(dfd, ts) < 0)
		return bk_err_sys(err, "copy '%s': set times", where(ctx));
	return 0;
}

static int
copy_rw(struct copy_ctx *ctx, int sfd, int dfd, uint64_t *copied, struct bk_err *err)
{
	char *buf = ctx_buf(ctx);
	ssize_t n;

	for (;;) {
		if (cancelled(ctx))
			return cancel_err(err);
		n = read(sfd, buf, COPY_BUF_SIZE);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return bk_err_sys(err, "copy '%s': read", ctx->path);
		if (n == 0)
			return 0;
		if (write_all(dfd, buf, (size_t)n) < 0)
			return bk_err_sys(err, "copy '%s': write", ctx->path);
		*copied += (uint64_t)n;
	}
}

/* 0 when done, 1 when read/write should carry on from the current offsets, or -errno. */
static int
copy_range(struct copy_ctx *ctx, int sfd, int dfd, off_t size, uint64_t *copied, struct bk_err *err)
{
	ssize_t n;

	for (;;) {
		if (cancelled(ctx))
			return cancel_err(err);
		n = copy_file_range(sfd, NULL, dfd, NULL, COPY_RANGE_CHUNK, 0);
		/* A data loop like read/write: a signal is no reason to give up. */
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 &&
		    (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP))
			return 1;
		if (n < 0)
			return bk_err_sys(err, "copy '%s': copy_file_range", ctx->path);
		/* Some filesystems (procfs-like, FUSE) say 0 too early: let read() find the end. */
		if (n == 0)
			return *copied < (uint64_t)size ? 1 : 0;
		*copied += (uint64_t)n;
	}
}

/* Fill the empty file dfd with the data of sfd; *copied gets the bytes. */
static int
copy_data(struct copy_ctx *ctx, int sfd, int dfd, off_t size, uint64_t *copied, struct bk_err *err)
{
	struct stat st;
	int ret;

	if (ioctl(dfd, FICLONE, sfd) == 0) {
		if (fstat(dfd, &st) < 0)
			return bk_err_sys(err, "copy '%s': stat", ctx->path);
		*copied = (uint64_t)st.st_size;
		return 0;
	}
	/* Another filesystem, or one without reflinks: copy the bytes instead. */
	if (errno != EXDEV && errno != EOPNOTSUPP && errno != EINVAL && errno != ENOTTY)
		return bk_err_sys(err, "copy '%s': clone", ctx->path);
	ret = copy_range(ctx, sfd, dfd, size, copied, err);
	if (ret <= 0)
		return ret;
	return copy_rw(ctx, sfd, dfd, copied, err);
}

static int
copy_file(struct copy_ctx *ctx, int sdir, int ddir, const char *name, const struct stat *st,
	  struct bk_err *err)
{
	cleanup_close int sfd = -1;
	cleanup_close int dfd = -1;
	uint64_t copied = 0;
	struct stat fst;
	int ret;

	/* O_NONBLOCK: should the entry have become a fifo since fstatat, open must not hang. */
	sfd = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (sfd < 0)
		return bk_err_sys(err, "copy '%s': open", ctx->path);
	if (fstat(sfd, &fst) < 0)
		return bk_err_sys(err, "copy '%s': stat", ctx->path);
	if (!same_inode(st, &fst))
		return changed_err(ctx, err);
	/* 0600 until apply_meta: nobody may open it before its owner and mode are right. */
	dfd = openat(ddir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (dfd < 0)
		return bk_err_sys(err, "copy '%s': create", ctx->path);
	ret = copy_data(ctx, sfd, dfd, fst.st_size, &copied, err);
	ctx->stats->bytes += copied;
	if (ret < 0)
		return ret;
	ctx->stats->files++;
	return apply_meta(ctx, sfd, dfd, &fst, err);
}

static int
copy_symlink(struct copy_ctx *ctx, int sdir, int ddir, const char *name, const struct stat *st,
	     struct bk_err *err)
{
	const struct timespec ts[2] = { st->st_atim, st->st_mtim };
	char *target = ctx_buf(ctx);
	ssize_t n;

	/* EINVAL here means it is no longer a symlink. */
	n = readlinkat(sdir, name, target, PATH_MAX);
	if (n < 0)
		return bk_err_sys(err, "copy '%s': readlink", ctx->path);
	if (n >= PATH_MAX)
		return bk_err_set(err, ENAMETOOLONG, "copy '%s': readlink: target too long",
				  ctx->path);
	target[n] = '\0';
	if (symlinkat(target, ddir, name) < 0)
		return bk_err_sys(err, "copy '%s': symlink", ctx->path);
	if (fchownat(ddir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return bk_err_sys(err, "copy '%s': chown", ctx->path);
	if (utimensat(ddir, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return bk_err_sys(err, "copy '%s': set times", ctx->path);
	return 0;
}

/* Device nodes, fifos and sockets.  Their xattrs are not copied. */
static int
copy_node(struct copy_ctx *ctx, int ddir, const char *name, const struct stat *st,
	  struct bk_err *err)
{
	const struct timespec ts[2] = { st->st_atim, st->st_mtim };

	if (mknodat(ddir, name, (st->st_mode & S_IFMT) | 0600, st->st_rdev) < 0)
		return bk_err_sys(err, "copy '%s': mknod", ctx->path);
	if (fchownat(ddir, name, st->st_uid, st->st_gid, AT_SYMLINK_NOFOLLOW) < 0)
		return bk_err_sys(err, "copy '%s': chown", ctx->path);
	/*
	 * By name, as opening a device or a fifo has side effects; after chown,
	 * which clears setuid.  NOFOLLOW: glibc refuses rather than follow a symlink.
	 */
	if (fchmodat(ddir, name, st->st_mode & 07777, AT_SYMLINK_NOFOLLOW) < 0)
		return bk_err_sys(err, "copy '%s': chmod", ctx->path);
	if (utimensat(ddir, name, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return bk_err_sys(err, "copy '%s': set times", ctx->path);
	return 0;
}

static int copy_subdir(struct copy_ctx *ctx, int sdir, int ddir, const char *name,
		       const struct stat *st, int depth, struct bk_err *err);

/* Copy sdir/name, at depth levels below the top, to ddir/name.  ctx->path names it. */
static int
copy_entry(struct copy_ctx *ctx, int sdir, int ddir, const char *name, int depth,
	   struct bk_err *err)
{
	const char *first;
	struct stat st;
	int ret;

	if (fstatat(sdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return bk_err_sys(err, "copy '%s': stat", ctx->path);
	if (S_ISDIR(st.st_mode))
		return copy_subdir(ctx, sdir, ddir, name, &st, depth, err);
	first = st.st_nlink > 1 ? linkmap_find(&ctx->links, st.st_dev, st.st_ino) : NULL;
	if (first != NULL) {
		/*
		 * Flags 0: linkat does not follow the final component, and the
		 * others are directories we made ourselves.
		 */
		if (linkat(ctx->dst_root, first, ddir, name, 0) < 0)
			return bk_err_sys(err, "copy '%s': link to '%s'", ctx->path, first);
		return 0;
	}
	switch (st.st_mode & S_IFMT) {
	case S_IFREG:
		ret = copy_file(ctx, sdir, ddir, name, &st, err);
		break;
	case S_IFLNK:
		ret = copy_symlink(ctx, sdir, ddir, name, &st, err);
		break;
	case S_IFCHR:
	case S_IFBLK:
	case S_IFIFO:
	case S_IFSOCK:
		ret = copy_node(ctx, ddir, name, &st, err);
		break;
	default:
		return bk_err_set(err, EINVAL, "copy '%s': unknown file type 0%o", ctx->path,
				  (unsigned)(st.st_mode & S_IFMT));
	}
	if (ret == 0 && st.st_nlink > 1)
		linkmap_add(&ctx->links, st.st_dev, st.st_ino, ctx->path);
	return ret;
}

/* Copy every entry of dir (entries at depth levels) into ddir. */
static int
walk_dir(struct copy_ctx *ctx, DIR *dir, int ddir, int depth, struct bk_err *err)
{
	struct dirent *de;
	size_t old;
	int ret;

	for (;;) {
		errno = 0;
		de = readdir(dir);
		if (de == NULL && errno != 0)
			return bk_err_sys(err, "copy '%s': readdir", where(ctx));
		if (de == NULL)
			return 0;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (cancelled(ctx))
			return cancel_err(err);
		old = path_push(ctx, de->d_name);
		ret = copy_entry(ctx, dirfd(dir), ddir, de->d_name, depth, err);
		path_pop(ctx, old);
		if (ret < 0)
			return ret;
	}
}

static int
copy_subdir(struct copy_ctx *ctx, int sdir, int ddir, const char *name, const struct stat *st,
	    int depth, struct bk_err *err)
{
	cleanup_close int sfd = -1;
	cleanup_close int dfd = -1;
	cleanup_dir DIR *dir = NULL;
	struct stat fst;
	int ret;

	if (depth > COPY_MAX_DEPTH)
		return bk_err_set(err, ELOOP, "copy '%s': more than %d levels of directories",
				  ctx->path, COPY_MAX_DEPTH);
	sfd = openat(sdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0)
		return bk_err_sys(err, "copy '%s': open", ctx->path);
	if (fstat(sfd, &fst) < 0)
		return bk_err_sys(err, "copy '%s': stat", ctx->path);
	if (!same_inode(st, &fst))
		return changed_err(ctx, err);
	/* The destination inside the source: copying it would never end. */
	if (fst.st_dev == ctx->dst_dev && fst.st_ino == ctx->dst_ino)
		return bk_err_set(err, EINVAL, "copy '%s': is the destination", ctx->path);
	/* 0700 until apply_meta, after its contents are in. */
	if (mkdirat(ddir, name, 0700) < 0)
		return bk_err_sys(err, "copy '%s': mkdir", ctx->path);
	dfd = openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return bk_err_sys(err, "copy '%s': open copy", ctx->path);
	dir = fdopendir(sfd);
	if (dir == NULL)
		return bk_err_sys(err, "copy '%s': opendir", ctx->path);
	sfd = -1; /* dir owns it now */

	ret = walk_dir(ctx, dir, dfd, depth + 1, err);
	if (ret < 0)
		return ret;
	/* Last: creating entries bumps its times, and its default ACL must not reach them. */
	return apply_meta(ctx, dirfd(dir), dfd, &fst, err);
}

int
copy_tree(int src_dfd, int dst_dfd, struct bk_cancel *cancel, struct copy_stats *stats,
	  struct bk_err *err)
{
	struct copy_stats unused;
	struct copy_ctx ctx = { .cancel = cancel,
				.stats = stats ? stats : &unused,
				.dst_root = dst_dfd };
	cleanup_close int fd = -1;
	cleanup_dir DIR *dir = NULL;
	struct stat src_st, dst_st;
	int ret;

	*ctx.stats = (struct copy_stats){ 0 };
	if (cancelled(&ctx))
		return cancel_err(err);
	if (fstat(src_dfd, &src_st) < 0 || fstat(dst_dfd, &dst_st) < 0)
		return bk_err_sys(err, "copy: stat");
	if (src_st.st_dev == dst_st.st_dev && src_st.st_ino == dst_st.st_ino)
		return bk_err_set(err, EINVAL, "copy: source is the destination");
	ctx.dst_dev = dst_st.st_dev;
	ctx.dst_ino = dst_st.st_ino;

	/* A new open file description: fdopendir owns it, and its offset is not the caller's. */
	fd = openat(src_dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return bk_err_sys(err, "copy: open source");
	dir = fdopendir(fd);
	if (dir == NULL)
		return bk_err_sys(err, "copy: opendir source");
	fd = -1; /* dir owns it now */

	ret = walk_dir(&ctx, dir, dst_dfd, 1, err);
	linkmap_free(&ctx.links);
	free(ctx.path);
	free(ctx.buf);
	return ret;
}
