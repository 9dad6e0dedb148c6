/*
 * diff.c: the layer an image adds over its parent, made from their two
 * btrfs snapshots: a tar (libarchive, pax) of what the child adds or
 * changes, with OCI whiteouts for what it deletes, gzip-compressed (zlib)
 * as it is written, hashed twice on the way (the diff id of the tar, the
 * digest of the gzip).
 *
 * Both trees are read-only subvolumes of the store (an image's rootfs and
 * its parent's layer), so nothing changes under the walk; their contents
 * are still a container's making, so they are walked by file descriptors
 * only: every entry is reached with an *at() call on its parent's fd with
 * O_NOFOLLOW or AT_SYMLINK_NOFOLLOW, never by a path, and only regular
 * files and directories are opened for reading (O_NONBLOCK besides).
 *
 * What changed.  The child descends from the parent by snapshots, which keep
 * inode numbers and times, so an entry is unchanged when the parent has the
 * same name with the same inode number, type, ctime, mtime, size, mode,
 * owner and device number (any write, chmod, chown, xattr change or new
 * link moves ctime).  A directory whose inode differs from the parent's was
 * made anew (rm -r then mkdir): it is written whole, with an opaque marker
 * (.wh..wh..opq), and the parent's is not looked into.  An entry that
 * changed type is whited out first.  Whiteouts come before the other
 * entries of their directory, as the image spec asks.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <archive.h>
#include <archive_entry.h>
#include <zlib.h>

#include "bocker.h"
#include "store/store.h"
#include "base/base.h"

#define DIFF_MAX_DEPTH 256
#define DIFF_BUF_SIZE  (256u << 10)
#define WHITEOUT       ".wh."
#define OPAQUE         ".wh..wh..opq"

struct diff_ctx {
	struct archive *a;
	struct bk_cancel *cancel;
	int out_fd;
	z_stream z;
	struct digest tar_dig, gz_dig;
	uint64_t gz_bytes;
	int write_err; /* errno of the output, for the message */
	struct linkmap links;
	struct layer_diff_stats *stats;
	/*
	 * Unchanged directories being walked, outermost first, not written yet:
	 * written (once) before the first entry under them, so that a pull
	 * restores their times and xattrs after changing what is inside (as
	 * Docker's changes.go adds a changed file's parent).
	 */
	struct pending_dir {
		size_t path_len; /* ctx->path[0..path_len) is its path */
		struct stat st;
		int fd;
		bool written;
	} pending[DIFF_MAX_DEPTH + 2];
	int npending;
	char path[PATH_MAX];
	size_t path_len;
	char *buf;   /* DIFF_BUF_SIZE: file data (libarchive may hand it back to on_write) */
	char *zbuf;  /* DIFF_BUF_SIZE: deflate output */
	char *xattr; /* XATTR_LIST_MAX + XATTR_SIZE_MAX */
};

/* ---- the output: tar bytes -> sha256 (diff id) -> gzip -> sha256 (digest) -> fd ---- */

static int
deflate_out(struct diff_ctx *ctx, const void *data, size_t len, int flush)
{
	ctx->z.next_in = (Bytef *)(uintptr_t)data;
	ctx->z.avail_in = (uInt)len;
	do {
		size_t have;
		int zr;

		ctx->z.next_out = (Bytef *)ctx->zbuf;
		ctx->z.avail_out = DIFF_BUF_SIZE;
		zr = deflate(&ctx->z, flush);
		if (zr == Z_STREAM_ERROR)
			return -EIO;
		have = DIFF_BUF_SIZE - ctx->z.avail_out;
		if (have) {
			digest_update(&ctx->gz_dig, ctx->zbuf, have);
			if (write_all(ctx->out_fd, ctx->zbuf, have) < 0) {
				ctx->write_err = errno;
				return -errno;
			}
			ctx->gz_bytes += have;
		}
	} while (ctx->z.avail_out == 0 || (flush == Z_FINISH && ctx->z.avail_in > 0));
	return 0;
}

static la_ssize_t
on_write(struct archive *a, void *arg, const void *buf, size_t len)
{
	struct diff_ctx *ctx = arg;

	(void)a;
	digest_update(&ctx->tar_dig, buf, len);
	if (ctx->stats)
		ctx->stats->tar_bytes += len;
	if (deflate_out(ctx, buf, len, Z_NO_FLUSH) < 0)
		return -1;
	return (la_ssize_t)len;
}

/* ---- paths ---------------------------------------------------------------------------------- */

/* Append name to ctx->path; the old length for path_pop, or -ENAMETOOLONG. */
static ssize_t
path_push(struct diff_ctx *ctx, const char *name)
{
	size_t old = ctx->path_len, len = strlen(name);

	if (old + len + 2 >= sizeof(ctx->path))
		return -ENAMETOOLONG;
	if (old > 0)
		ctx->path[ctx->path_len++] = '/';
	memcpy(ctx->path + ctx->path_len, name, len + 1);
	ctx->path_len += len;
	return (ssize_t)old;
}

static void
path_pop(struct diff_ctx *ctx, size_t old)
{
	ctx->path_len = old;
	ctx->path[old] = '\0';
}

static bool
cancelled(const struct diff_ctx *ctx)
{
	return ctx->cancel && atomic_load(&ctx->cancel->cancelled);
}

static int
archive_fail(struct diff_ctx *ctx, struct bk_err *err)
{
	if (ctx->write_err)
		return bk_err_set(err, ctx->write_err, "layer diff: write: %s",
				  strerror(ctx->write_err));
	return bk_err_set(err, EIO, "layer diff '%.300s': %s", ctx->path,
			  archive_error_string(ctx->a) ? archive_error_string(ctx->a) : "tar");
}

/* ---- entries -------------------------------------------------------------------------------- */

/* The xattrs of the entry open at fd (any type: an O_PATH fd goes through /proc). */
static int
add_xattrs(struct diff_ctx *ctx, struct archive_entry *e, int fd, bool opath, struct bk_err *err)
{
	char proc[64], *names = ctx->xattr, *value = ctx->xattr + XATTR_LIST_MAX, *p;
	ssize_t len;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	len =
	    opath ? listxattr(proc, names, XATTR_LIST_MAX) : flistxattr(fd, names, XATTR_LIST_MAX);
	if (len < 0 && (errno == ENOTSUP || errno == EPERM))
		return 0; /* symlinks in user.* and filesystems without them */
	if (len < 0)
		return bk_err_sys(err, "layer diff '%.300s': listxattr", ctx->path);
	for (p = names; p < names + len; p += strlen(p) + 1) {
		ssize_t vlen = opath ? getxattr(proc, p, value, XATTR_SIZE_MAX)
				     : fgetxattr(fd, p, value, XATTR_SIZE_MAX);

		if (vlen < 0 && errno == ENODATA)
			continue;
		if (vlen < 0)
			return bk_err_sys(err, "layer diff '%.300s': getxattr '%s'", ctx->path, p);
		archive_entry_xattr_add_entry(e, p, value, (size_t)vlen);
	}
	return 0;
}

static struct archive_entry *
entry_for(const char *path, const struct stat *st)
{
	struct archive_entry *e = archive_entry_new();

	if (e == NULL)
		abort();
	archive_entry_set_pathname(e, path);
	archive_entry_set_mode(e, st->st_mode);
	archive_entry_set_uid(e, st->st_uid);
	archive_entry_set_gid(e, st->st_gid);
	archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
	return e;
}

static int add_xattrs(struct diff_ctx *ctx, struct archive_entry *e, int fd, bool opath,
		      struct bk_err *err);
static struct archive_entry *entry_for(const char *path, const struct stat *st);
static int write_one(struct diff_ctx *ctx, struct archive_entry *e, struct bk_err *err);

/* The pending directories above the entry about to be written, outermost first. */
static int
flush_pending(struct diff_ctx *ctx, struct bk_err *err)
{
	for (int i = 0; i < ctx->npending; i++) {
		struct pending_dir *d = &ctx->pending[i];
		char path[PATH_MAX];
		struct archive_entry *e;
		int ret;

		if (d->written)
			continue;
		d->written = true;
		snprintf(path, sizeof(path), "%.*s", (int)d->path_len, ctx->path);
		e = entry_for(path, &d->st);
		ret = add_xattrs(ctx, e, d->fd, false, err);
		if (ret == 0)
			ret = write_one(ctx, e, err);
		archive_entry_free(e);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int
write_header(struct diff_ctx *ctx, struct archive_entry *e, struct bk_err *err)
{
	int ret = flush_pending(ctx, err);

	return ret < 0 ? ret : write_one(ctx, e, err);
}

static int
write_one(struct diff_ctx *ctx, struct archive_entry *e, struct bk_err *err)
{
	if (ctx->stats && ++ctx->stats->entries > LAYER_ENTRIES_MAX)
		return bk_err_set(err, EFBIG, "layer diff: more than %u entries",
				  LAYER_ENTRIES_MAX);
	if (archive_write_header(ctx->a, e) != ARCHIVE_OK)
		return archive_fail(ctx, err);
	return 0;
}

/* ".wh.NAME" in the current directory (ctx->path is that directory). */
static int
add_marker(struct diff_ctx *ctx, const char *marker_name, const struct stat *dir_st,
	   struct bk_err *err)
{
	struct archive_entry *e;
	struct stat st = { .st_mode = S_IFREG | 0600 };
	ssize_t old = path_push(ctx, marker_name);
	int ret;

	if (old < 0)
		return bk_err_set(err, ENAMETOOLONG, "layer diff: path too long at '%.200s'",
				  ctx->path);
	st.st_uid = dir_st->st_uid;
	st.st_gid = dir_st->st_gid;
	e = entry_for(ctx->path, &st);
	archive_entry_set_size(e, 0);
	ret = write_header(ctx, e, err);
	archive_entry_free(e);
	path_pop(ctx, (size_t)old);
	return ret;
}

static int
add_whiteout(struct diff_ctx *ctx, const char *name, const struct stat *dir_st, struct bk_err *err)
{
	char marker[NAME_MAX + 8];

	snprintf(marker, sizeof(marker), WHITEOUT "%s", name);
	if (strlen(marker) > NAME_MAX)
		return bk_err_set(err, ENAMETOOLONG,
				  "layer diff: name too long for a whiteout at '%.200s/%.40s'",
				  ctx->path, name);
	return add_marker(ctx, marker, dir_st, err);
}

/*
 * A file with holes is stored as a sparse entry (pax GNU.sparse 1.0, which
 * the extraction and other tools read): its data segments are the map.
 * Returns the number of segments (0: no hole, a plain entry), or -errno.
 */
static int
sparse_map(struct diff_ctx *ctx, int fd, off_t size, struct archive_entry *e, struct bk_err *err)
{
	off_t off = 0, data, hole;
	int n = 0;

	if (size == 0)
		return 0;
	hole = lseek(fd, 0, SEEK_HOLE);
	/* The probe moved the offset: back to the start, where add_data reads. */
	if (lseek(fd, 0, SEEK_SET) < 0)
		return bk_err_sys(err, "layer diff '%.300s': seek", ctx->path);
	if (hole < 0 || hole >= size)
		return 0; /* no hole, or a filesystem that cannot say */
	while (off < size) {
		data = lseek(fd, off, SEEK_DATA);
		if (data < 0 && errno == ENXIO)
			break; /* a hole to the end */
		if (data < 0)
			return bk_err_sys(err, "layer diff '%.300s': seek data", ctx->path);
		hole = lseek(fd, data, SEEK_HOLE);
		if (hole < 0 || hole > size)
			hole = size;
		archive_entry_sparse_add_entry(e, data, hole - data);
		n++;
		off = hole;
	}
	if (lseek(fd, 0, SEEK_SET) < 0)
		return bk_err_sys(err, "layer diff '%.300s': seek", ctx->path);
	return n == 0 ? 1 : n; /* all hole: still sparse, with no data */
}

/*
 * The file's bytes.  libarchive takes a sparse entry's bytes as the whole
 * logical file and drops what falls in its holes: those are given as zeros
 * from memory, never read, so a terabyte of holes costs nothing.
 */
static int
add_data(struct diff_ctx *ctx, int fd, uint64_t size, bool sparse, struct bk_err *err)
{
	static const char zeros[DIFF_BUF_SIZE];
	uint64_t done = 0, data_end = sparse ? 0 : size;

	while (done < size) {
		size_t want = size - done < DIFF_BUF_SIZE ? (size_t)(size - done) : DIFF_BUF_SIZE;
		ssize_t n;

		if (sparse && done >= data_end) {
			/* Where the next data is, and how far it goes. */
			off_t d = lseek(fd, (off_t)done, SEEK_DATA), h;

			if (d < 0 && errno != ENXIO)
				return bk_err_sys(err, "layer diff '%.300s': seek data", ctx->path);
			if (d < 0 || (uint64_t)d >= size)
				d = (off_t)size;
			if ((uint64_t)d > done) {
				/* A hole: zeros up to the data (or the end). */
				uint64_t gap = (uint64_t)d - done;

				n = (ssize_t)(gap < want ? gap : want);
				if (archive_write_data(ctx->a, zeros, (size_t)n) != n)
					return archive_fail(ctx, err);
				done += (uint64_t)n;
				if (cancelled(ctx))
					return bk_err_set(err, EINTR, "layer diff: interrupted");
				continue;
			}
			h = lseek(fd, d, SEEK_HOLE);
			data_end = h < 0 || (uint64_t)h > size ? size : (uint64_t)h;
			if (lseek(fd, (off_t)done, SEEK_SET) < 0)
				return bk_err_sys(err, "layer diff '%.300s': seek", ctx->path);
		}
		if (want > data_end - done)
			want = (size_t)(data_end - done);
		n = read(fd, ctx->buf, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return bk_err_sys(err, "layer diff '%.300s': read", ctx->path);
		if (n == 0)
			return bk_err_set(err, EIO, "layer diff '%.300s': shorter than its size",
					  ctx->path);
		if (cancelled(ctx))
			return bk_err_set(err, EINTR, "layer diff: interrupted");
		if (archive_write_data(ctx->a, ctx->buf, (size_t)n) != n)
			return archive_fail(ctx, err);
		done += (uint64_t)n;
	}
	if (ctx->stats)
		ctx->stats->file_bytes += size;
	return 0;
}

/* One non-directory entry, name in the directory dfd (ctx->path is its path). */
static int
add_leaf(struct diff_ctx *ctx, int dfd, const char *name, const struct stat *st, struct bk_err *err)
{
	cleanup_close int fd = -1;
	struct archive_entry *e = entry_for(ctx->path, st);
	const char *first = NULL;
	char target[PATH_MAX];
	bool opath = true, sparse = false;
	int ret;

	if (S_ISREG(st->st_mode)) {
		if (st->st_nlink > 1)
			first = linkmap_find(&ctx->links, st->st_dev, st->st_ino);
		if (first) {
			archive_entry_set_hardlink(e, first);
			archive_entry_set_size(e, 0);
			ret = write_header(ctx, e, err);
			archive_entry_free(e);
			return ret;
		}
		fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		opath = false;
		archive_entry_set_size(e, st->st_size);
		if (fd >= 0) {
			ret = sparse_map(ctx, fd, st->st_size, e, err);
			if (ret < 0) {
				archive_entry_free(e);
				return ret;
			}
			sparse = ret > 0;
		}
	} else {
		fd = openat(dfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		archive_entry_set_size(e, 0);
		if (S_ISLNK(st->st_mode)) {
			ssize_t n = readlinkat(dfd, name, target, sizeof(target) - 1);

			if (n < 0) {
				archive_entry_free(e);
				return bk_err_sys(err, "layer diff '%.300s': readlink", ctx->path);
			}
			target[n] = '\0';
			archive_entry_set_symlink(e, target);
		} else if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode)) {
			archive_entry_set_rdevmajor(e, major(st->st_rdev));
			archive_entry_set_rdevminor(e, minor(st->st_rdev));
		}
	}
	if (fd < 0) {
		archive_entry_free(e);
		return bk_err_sys(err, "layer diff '%.300s': open", ctx->path);
	}
	ret = add_xattrs(ctx, e, fd, opath, err);
	if (ret == 0)
		ret = write_header(ctx, e, err);
	archive_entry_free(e);
	if (ret == 0 && S_ISREG(st->st_mode)) {
		ret = add_data(ctx, fd, (uint64_t)st->st_size, sparse, err);
		if (ret == 0 && st->st_nlink > 1)
			linkmap_add(&ctx->links, st->st_dev, st->st_ino, ctx->path);
	}
	return ret;
}

static bool
unchanged(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_mode == b->st_mode && a->st_uid == b->st_uid &&
	       a->st_gid == b->st_gid && a->st_size == b->st_size && a->st_rdev == b->st_rdev &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

static int
cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in the directory open at dfd, sorted (a stable layer for the same trees). */
static int
list_dir(struct diff_ctx *ctx, int dfd, char ***out, size_t *n, struct bk_err *err)
{
	int fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	char **v = NULL;
	size_t cnt = 0, cap = 0;

	if (d == NULL) {
		if (fd >= 0)
			close(fd);
		return bk_err_sys(err, "layer diff '%.300s': opendir", ctx->path);
	}
	rewinddir(d);
	while ((errno = 0, de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (cnt == cap) {
			cap = cap ? 2 * cap : 32;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[cnt++] = xstrdup(de->d_name);
	}
	if (errno) {
		int e = errno;

		closedir(d);
		for (size_t i = 0; i < cnt; i++)
			free(v[i]);
		free(v);
		errno = e;
		return bk_err_sys(err, "layer diff '%.300s': readdir", ctx->path);
	}
	closedir(d);
	if (cnt)
		qsort(v, cnt, sizeof(*v), cmp_names);
	*out = v;
	*n = cnt;
	return 0;
}

static void
names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* The name is in the sorted list v. */
static bool
listed(char **v, size_t n, const char *name)
{
	return n && bsearch(&name, v, n, sizeof(*v), cmp_names) != NULL;
}

static int diff_dir(struct diff_ctx *ctx, int pfd, int cfd, const struct stat *dir_st, int depth,
		    struct bk_err *err);

/* A child's entry, stat'ed once on each side. */
struct dent {
	char *name;
	struct stat cst, pst;
	bool in_parent; /* pst is valid */
};

/* One entry of the child's directory cfd, against the parent's pfd (-1: none there). */
static int
diff_entry(struct diff_ctx *ctx, int pfd, int cfd, const struct dent *d, int depth,
	   struct bk_err *err)
{
	const char *name = d->name;
	const struct stat cst = d->cst, pst = d->pst;
	bool in_parent = d->in_parent, pending = false;
	cleanup_close int csub = -1, psub = -1;
	int ret;

	if (S_ISSOCK(cst.st_mode))
		return 0; /* as extraction does: sockets are not stored */
	if (!S_ISDIR(cst.st_mode)) {
		if (in_parent && unchanged(&cst, &pst))
			return 0;
		return add_leaf(ctx, cfd, name, &cst, err);
	}
	/* A directory: written when new or changed, then looked into. */
	if (!in_parent || !unchanged(&cst, &pst)) {
		struct archive_entry *e = entry_for(ctx->path, &cst);

		csub = openat(cfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (csub < 0) {
			archive_entry_free(e);
			return bk_err_sys(err, "layer diff '%.300s': open", ctx->path);
		}
		ret = add_xattrs(ctx, e, csub, false, err);
		if (ret == 0)
			ret = write_header(ctx, e, err);
		archive_entry_free(e);
		if (ret < 0)
			return ret;
	} else {
		csub = openat(cfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (csub < 0)
			return bk_err_sys(err, "layer diff '%.300s': open", ctx->path);
		pending = true;
	}
	if (in_parent && S_ISDIR(pst.st_mode) && pst.st_ino == cst.st_ino) {
		psub = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (psub < 0)
			return bk_err_sys(err, "layer diff '%.300s': open the parent's", ctx->path);
	} else if (in_parent && S_ISDIR(pst.st_mode)) {
		/* Made anew over the parent's: nothing of the parent's shows through. */
		ret = add_marker(ctx, OPAQUE, &cst, err);
		if (ret < 0)
			return ret;
	}
	if (pending)
		ctx->pending[ctx->npending++] =
		    (struct pending_dir){ .path_len = ctx->path_len, .st = cst, .fd = csub };
	ret = diff_dir(ctx, psub, csub, &cst, depth + 1, err);
	if (pending)
		ctx->npending--;
	return ret;
}

/* The child's directory cfd against the parent's pfd (-1: the parent has none). */
static int
diff_dir(struct diff_ctx *ctx, int pfd, int cfd, const struct stat *dir_st, int depth,
	 struct bk_err *err)
{
	char **cnames = NULL, **pnames = NULL;
	struct dent *ents = NULL;
	size_t nc = 0, np = 0, i;
	int ret;

	if (depth > DIFF_MAX_DEPTH)
		return bk_err_set(err, ELOOP, "layer diff: more than %d levels at '%.200s'",
				  DIFF_MAX_DEPTH, ctx->path);
	if (cancelled(ctx))
		return bk_err_set(err, EINTR, "layer diff: interrupted");
	if ((ret = list_dir(ctx, cfd, &cnames, &nc, err)) < 0)
		return ret;
	if (pfd >= 0 && (ret = list_dir(ctx, pfd, &pnames, &np, err)) < 0)
		goto out;
	ents = xcalloc(nc ? nc : 1, sizeof(*ents));
	for (i = 0; i < nc; i++) {
		ents[i].name = cnames[i];
		if (strncmp(cnames[i], WHITEOUT, strlen(WHITEOUT)) == 0) {
			ret =
			    bk_err_set(err, EINVAL,
				       "layer diff: a name beginning '.wh.' cannot be stored in a "
				       "layer (it would read as a whiteout): '%.200s%s%.60s'",
				       ctx->path, ctx->path_len ? "/" : "", cnames[i]);
			goto out;
		}
		if (fstatat(cfd, cnames[i], &ents[i].cst, AT_SYMLINK_NOFOLLOW) < 0) {
			ret = bk_err_sys(err, "layer diff '%.300s/%.40s': stat", ctx->path,
					 cnames[i]);
			goto out;
		}
		/*
		 * A socket is not stored (extraction skips them too): for the layer
		 * the name is gone, so what the parent had there is whited out.
		 */
		if (S_ISSOCK(ents[i].cst.st_mode)) {
			if (pfd >= 0 && listed(pnames, np, cnames[i]) &&
			    (ret = add_whiteout(ctx, cnames[i], dir_st, err)) < 0)
				goto out;
			continue;
		}
		ents[i].in_parent = pfd >= 0 && listed(pnames, np, cnames[i]) &&
				    fstatat(pfd, cnames[i], &ents[i].pst, AT_SYMLINK_NOFOLLOW) == 0;
	}
	/* Whiteouts first: names gone, and names that are now of another kind. */
	for (i = 0; i < np; i++)
		if (!listed(cnames, nc, pnames[i]) &&
		    (ret = add_whiteout(ctx, pnames[i], dir_st, err)) < 0)
			goto out;
	for (i = 0; i < nc; i++)
		if (ents[i].in_parent &&
		    S_ISDIR(ents[i].pst.st_mode) != S_ISDIR(ents[i].cst.st_mode)) {
			if ((ret = add_whiteout(ctx, ents[i].name, dir_st, err)) < 0)
				goto out;
			ents[i].in_parent = false;
		}
	for (i = 0; i < nc; i++) {
		ssize_t old = path_push(ctx, cnames[i]);

		if (old < 0) {
			ret = bk_err_set(err, ENAMETOOLONG,
					 "layer diff: path too long at '%.200s/%.40s'", ctx->path,
					 cnames[i]);
			goto out;
		}
		ret = diff_entry(ctx, pfd, cfd, &ents[i], depth, err);
		path_pop(ctx, (size_t)old);
		if (ret < 0)
			goto out;
	}
	ret = 0;
out:
	free(ents);
	names_free(cnames, nc);
	names_free(pnames, np);
	return ret;
}

int
layer_diff(int parent_dfd, int child_dfd, int out_fd, struct bk_cancel *cancel,
	   struct layer_diff_result *out, struct layer_diff_stats *stats, struct bk_err *err)
{
	struct diff_ctx ctx = { .cancel = cancel, .out_fd = out_fd, .stats = stats };
	struct stat root_st;
	int ret;

	if (stats)
		memset(stats, 0, sizeof(*stats));
	if (fstat(child_dfd, &root_st) < 0)
		return bk_err_sys(err, "layer diff: stat the root");
	/* Level 1: the CPU is what a push waits for here, and 1 is 3x faster than 6 for ~10%. */
	if (deflateInit2(&ctx.z, 1, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return bk_err_set(err, ENOMEM, "layer diff: deflateInit");
	ctx.buf = xmalloc(DIFF_BUF_SIZE);
	ctx.zbuf = xmalloc(DIFF_BUF_SIZE);
	ctx.xattr = xmalloc(XATTR_LIST_MAX + XATTR_SIZE_MAX);
	digest_init(&ctx.tar_dig);
	digest_init(&ctx.gz_dig);
	ctx.a = archive_write_new();
	if (ctx.a == NULL)
		abort();
	/*
	 * Names are bytes: the daemon runs in the C locale, where libarchive
	 * could not convert a non-ASCII name to UTF-8 (a warning on every such
	 * file); BINARY stores them as they are, as Docker's layers do.
	 */
	if (archive_write_set_format_pax(ctx.a) != ARCHIVE_OK ||
	    archive_write_set_options(ctx.a, "hdrcharset=BINARY") != ARCHIVE_OK ||
	    archive_write_open2(ctx.a, &ctx, NULL, on_write, NULL, NULL) != ARCHIVE_OK) {
		ret = archive_fail(&ctx, err);
		goto out;
	}
	ret = diff_dir(&ctx, parent_dfd, child_dfd, &root_st, 0, err);
	if (ret == 0 && archive_write_close(ctx.a) != ARCHIVE_OK)
		ret = archive_fail(&ctx, err);
	if (ret == 0 && deflate_out(&ctx, NULL, 0, Z_FINISH) < 0)
		ret = bk_err_set(err, ctx.write_err ? ctx.write_err : EIO, "layer diff: write: %s",
				 strerror(ctx.write_err ? ctx.write_err : EIO));
	if (ret == 0) {
		digest_final(&ctx.tar_dig, out->diff_id);
		digest_final(&ctx.gz_dig, out->digest);
		out->size = ctx.gz_bytes;
	}
out:
	archive_write_free(ctx.a);
	deflateEnd(&ctx.z);
	digest_free(&ctx.tar_dig);
	digest_free(&ctx.gz_dig);
	linkmap_free(&ctx.links);
	free(ctx.buf);
	free(ctx.zbuf);
	free(ctx.xattr);
	return ret;
}
