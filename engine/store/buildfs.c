/*
 * The file system side of a build: COPY and ADD from the build context into
 * a step's writable snapshot, WORKDIR's directories, the image's size.
 *
 * Two trees, two rules, both from inroot.h.  The context is the user's
 * directory: every source is opened beneath it (inroot_beneath), so neither
 * ".." nor a symlink can make the daemon read outside it.  The rootfs is the
 * image's: every destination is resolved inside it (inroot_*), so an
 * absolute symlink in the image ("lib -> /usr/lib") resolves as it would in
 * the container and never reaches the host.  Below those, entries are made
 * with *at() calls and O_NOFOLLOW, files under a temporary name renamed into
 * place, so a half-written file is never seen under its name.  File data is
 * reflinked when the context is on the store's btrfs.  ADD's archives go
 * through layer_extract() (libarchive), which resolves paths the same way.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "base/inroot.h"
#include "store/store.h"
#include "base/base.h"

#ifndef FICLONE
#define FICLONE _IOW(0x94, 9, int)
#endif

#define DEPTH_MAX 256
#define CHUNK     (1u << 20)
#define MATCH_MAX 100000 /* files one source pattern may match */

/* A source in the context; errno EXDEV (it leads outside) becomes EINVAL. */
static int
open_source(int ctx_fd, const char *path, struct bk_err *err)
{
	int fd = inroot_beneath(ctx_fd, path, O_RDONLY | O_NONBLOCK);

	if (fd >= 0)
		return fd;
	if (fd == -EXDEV || fd == -ELOOP)
		return bk_err_set(err, EINVAL, "'%s' leads outside the build context", path);
	return bk_err_set(err, -fd, "'%s'", path);
}

int
buildfs_read(int ctx_fd, const char *name, size_t max, char **out, size_t *len, struct bk_err *err)
{
	cleanup_close int fd = open_source(ctx_fd, name, err);
	struct stat st;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return bk_err_sys(err, "'%s'", name);
	if (!S_ISREG(st.st_mode))
		return bk_err_set(err, EINVAL, "'%s' is not a regular file", name);
	if (read_fd_all(fd, max, out, len, err) < 0)
		return bk_err_wrap(err, "'%s'", name);
	return 0;
}

/* ---- the rootfs side -------------------------------------------------------- */

bool
buildfs_is_dir(int rootfs_fd, const char *path)
{
	cleanup_close int fd = inroot_path(rootfs_fd, path, O_DIRECTORY, 0);

	return fd >= 0;
}

/* mkdir -p path in the rootfs; the last directory, open O_RDONLY, or -errno. */
static int
mkdir_open(int rootfs_fd, const char *path, uid_t uid, gid_t gid, struct bk_err *err)
{
	int fd = inroot_mkdirs(rootfs_fd, path, 0755, uid, gid, 0);

	if (fd < 0)
		return bk_err_set(err, -fd, "'%s': %s", path, inroot_strerror(-fd));
	return fd;
}

int
buildfs_mkdir(int rootfs_fd, const char *path, uid_t uid, gid_t gid, struct bk_err *err)
{
	int fd = mkdir_open(rootfs_fd, path, uid, gid, err);

	if (fd < 0)
		return fd;
	close(fd);
	return 0;
}

/* ---- copying ------------------------------------------------------------------ */

struct copier {
	struct buildfs_copy *opt;
	int rootfs_fd;
	char *buf; /* CHUNK bytes, made on first use */
};

static bool
cancelled(const struct copier *x)
{
	return x->opt->cancel && atomic_load(&x->opt->cancel->cancelled);
}

/* All of sfd (from its start) into the empty file dfd. */
static int
copy_data(struct copier *x, int sfd, int dfd, const char *where, struct bk_err *err)
{
	struct stat st;
	ssize_t n;

	if (ioctl(dfd, FICLONE, sfd) == 0) {
		if (fstat(dfd, &st) == 0)
			x->opt->bytes += (uint64_t)st.st_size;
		return 0;
	}
	if (lseek(sfd, 0, SEEK_SET) < 0)
		return bk_err_sys(err, "'%s': seek", where);
	for (;;) {
		if (cancelled(x))
			return bk_err_set(err, EINTR, "interrupted");
		n = copy_file_range(sfd, NULL, dfd, NULL, CHUNK, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 &&
		    (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP))
			break;
		if (n < 0)
			return bk_err_sys(err, "'%s': copy", where);
		if (n == 0)
			return 0;
		x->opt->bytes += (uint64_t)n;
	}
	/* Another kind of file system: read and write. */
	if (x->buf == NULL)
		x->buf = xmalloc(CHUNK);
	for (;;) {
		if (cancelled(x))
			return bk_err_set(err, EINTR, "interrupted");
		n = read(sfd, x->buf, CHUNK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return bk_err_sys(err, "'%s': read", where);
		if (n == 0)
			return 0;
		if (write_all(dfd, x->buf, (size_t)n) < 0)
			return bk_err_sys(err, "'%s': write", where);
		x->opt->bytes += (uint64_t)n;
	}
}

static mode_t
mode_of(const struct copier *x, const struct stat *st)
{
	return x->opt->mode >= 0 ? (mode_t)x->opt->mode : st->st_mode & 07777;
}

/* A temporary name in a directory, for what is renamed into place. */
static void
temp_name(char name[32])
{
	char hex[13];

	if (random_hex(hex, 12) < 0)
		snprintf(hex, sizeof(hex), "%012lx", (unsigned long)getpid());
	snprintf(name, 32, ".bk-copy-%s", hex);
}

/* The file open at sfd as ddir/name, replacing what was there (not a directory). */
static int
put_file(struct copier *x, int sfd, const struct stat *st, int ddir, const char *name,
	 const char *where, struct bk_err *err)
{
	const struct timespec ts[2] = { st->st_atim, st->st_mtim };
	cleanup_close int dfd = -1;
	char tmp[32];
	int ret = 0;

	temp_name(tmp);
	/* 0600 until its owner and mode are set: nobody may open it half made. */
	dfd = openat(ddir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (dfd < 0)
		return bk_err_sys(err, "'%s': create", where);
	ret = copy_data(x, sfd, dfd, where, err);
	/* Owner first: chown clears setuid and setgid, which the mode then sets. */
	if (ret == 0 && (fchown(dfd, x->opt->uid, x->opt->gid) < 0 ||
			 fchmod(dfd, mode_of(x, st)) < 0 || futimens(dfd, ts) < 0))
		ret = bk_err_sys(err, "'%s': set owner, mode and times", where);
	if (ret == 0 && renameat(ddir, tmp, ddir, name) < 0)
		ret = bk_err_sys(err, "'%s'", where);
	if (ret < 0)
		unlinkat(ddir, tmp, 0);
	return ret;
}

/* A symlink, fifo or device node as ddir/name (made under a temporary name, renamed). */
static int
put_special(struct copier *x, int sdir, const char *sname, const struct stat *st, int ddir,
	    const char *name, const char *where, struct bk_err *err)
{
	const struct timespec ts[2] = { st->st_atim, st->st_mtim };
	char tmp[32], target[PATH_MAX];
	int ret = 0;

	temp_name(tmp);
	if (S_ISLNK(st->st_mode)) {
		ssize_t n = readlinkat(sdir, sname, target, sizeof(target) - 1);

		if (n < 0)
			return bk_err_sys(err, "'%s': readlink", where);
		target[n] = '\0';
		if (symlinkat(target, ddir, tmp) < 0)
			return bk_err_sys(err, "'%s': symlink", where);
	} else if (mknodat(ddir, tmp, (st->st_mode & S_IFMT) | 0600, st->st_rdev) < 0) {
		return bk_err_sys(err, "'%s': mknod", where);
	}
	if (fchownat(ddir, tmp, x->opt->uid, x->opt->gid, AT_SYMLINK_NOFOLLOW) < 0 ||
	    (!S_ISLNK(st->st_mode) &&
	     fchmodat(ddir, tmp, mode_of(x, st), AT_SYMLINK_NOFOLLOW) < 0) ||
	    utimensat(ddir, tmp, ts, AT_SYMLINK_NOFOLLOW) < 0)
		ret = bk_err_sys(err, "'%s': set owner, mode and times", where);
	if (ret == 0 && renameat(ddir, tmp, ddir, name) < 0)
		ret = bk_err_sys(err, "'%s'", where);
	if (ret < 0)
		unlinkat(ddir, tmp, 0);
	return ret;
}

static int merge_dir(struct copier *x, int sfd, const char *dpath, int ddir, int depth,
		     struct bk_err *err);

/* sdir/name, a directory, merged into dpath (ddir/name in the rootfs). */
static int
copy_subdir(struct copier *x, int sdir, const char *name, const struct stat *st, const char *dpath,
	    int ddir, int depth, struct bk_err *err)
{
	const struct timespec ts[2] = { st->st_atim, st->st_mtim };
	cleanup_close int sfd = -1, dfd = -1;
	bool made = false;
	int ret;

	if (depth > DEPTH_MAX)
		return bk_err_set(err, ELOOP, "'%s': more than %d levels", dpath, DEPTH_MAX);
	sfd = openat(sdir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sfd < 0)
		return bk_err_sys(err, "'%s'", name);
	/* An existing directory, or a symlink to one inside the image, is merged into. */
	dfd = inroot_dir(x->rootfs_fd, dpath, 0, 0);
	if (dfd == -ENOENT || dfd == -ENOTDIR) {
		/* A file in the way is replaced, as Docker does. */
		if (dfd == -ENOTDIR && unlinkat(ddir, name, 0) < 0)
			return bk_err_sys(err, "'%s': remove", dpath);
		if (mkdirat(ddir, name, 0700) < 0)
			return bk_err_sys(err, "'%s': mkdir", dpath);
		made = true;
		dfd = openat(ddir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (dfd < 0)
			dfd = -errno;
	}
	if (dfd < 0)
		return bk_err_set(err, -dfd, "'%s': %s", dpath, inroot_strerror(-dfd));
	ret = merge_dir(x, sfd, dpath, dfd, depth + 1, err);
	if (ret < 0 || !made)
		return ret;
	/* Last: entries made inside bump its times. */
	if (fchown(dfd, x->opt->uid, x->opt->gid) < 0 || fchmod(dfd, mode_of(x, st)) < 0 ||
	    futimens(dfd, ts) < 0)
		return bk_err_sys(err, "'%s': set owner, mode and times", dpath);
	return 0;
}

/* One entry of a source directory into ddir (dpath in the rootfs). */
static int
copy_entry(struct copier *x, int sdir, const char *name, const char *dpath, int ddir, int depth,
	   struct bk_err *err)
{
	cleanup_free char *sub = xasprintf("%s/%s", strcmp(dpath, "/") ? dpath : "", name);
	cleanup_close int sfd = -1;
	struct stat st;

	if (fstatat(sdir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return bk_err_sys(err, "'%s': stat", name);
	switch (st.st_mode & S_IFMT) {
	case S_IFDIR:
		return copy_subdir(x, sdir, name, &st, sub, ddir, depth, err);
	case S_IFREG:
		sfd = openat(sdir, name, O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		if (sfd < 0)
			return bk_err_sys(err, "'%s'", name);
		return put_file(x, sfd, &st, ddir, name, sub, err);
	case S_IFLNK:
	case S_IFIFO:
	case S_IFCHR:
	case S_IFBLK:
		return put_special(x, sdir, name, &st, ddir, name, sub, err);
	default:
		/* Sockets mean nothing in an image. */
		return 0;
	}
}

static int
merge_dir(struct copier *x, int sfd, const char *dpath, int ddir, int depth, struct bk_err *err)
{
	cleanup_close int fd = openat(sfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	int ret;

	if (fd < 0 || (d = fdopendir(fd)) == NULL)
		return bk_err_sys(err, "'%s': read source directory", dpath);
	fd = -1; /* d owns it */
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			if (errno)
				return bk_err_sys(err, "'%s': readdir", dpath);
			return 0;
		}
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (cancelled(x))
			return bk_err_set(err, EINTR, "interrupted");
		ret = copy_entry(x, dirfd(d), de->d_name, dpath, ddir, depth, err);
		if (ret < 0)
			return ret;
	}
}

/* ---- ADD's archives --------------------------------------------------------------- */

struct fd_reader {
	int fd;
	char *buf;
};

static ssize_t
fd_read(void *arg, const void **buf, struct bk_err *err)
{
	struct fd_reader *r = arg;
	ssize_t n;

	do
		n = read(r->fd, r->buf, CHUNK);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return bk_err_sys(err, "read");
	*buf = r->buf;
	return n;
}

/* Docker looks at the content, not the name: tar, or tar compressed. */
static bool
archive_kind(int fd, enum layer_comp *comp)
{
	unsigned char b[512];
	ssize_t n = pread(fd, b, sizeof(b), 0);

	if (n >= 2 && b[0] == 0x1f && b[1] == 0x8b)
		*comp = LAYER_GZIP;
	else if (n >= 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd)
		*comp = LAYER_ZSTD;
	else if (n >= 262 && memcmp(b + 257, "ustar", 5) == 0)
		*comp = LAYER_TAR;
	else
		return false;
	return true;
}

/* 0: extracted into dest; 1: not an archive after all (nothing written); or -errno. */
static int
extract(struct copier *x, int sfd, enum layer_comp comp, const char *src, const char *dest,
	struct bk_err *err)
{
	cleanup_close int ddir = mkdir_open(x->rootfs_fd, dest, x->opt->uid, x->opt->gid, err);
	struct fd_reader r = { .fd = sfd };
	struct layer_reader reader = { fd_read, &r };
	struct layer_stats stats = { 0 };
	struct bk_err xerr = BK_ERR_INIT;
	char diff_id[DIGEST_STR_SIZE];
	int ret;

	if (ddir < 0)
		return ddir;
	if (x->buf == NULL)
		x->buf = xmalloc(CHUNK);
	r.buf = x->buf;
	ret = layer_extract(ddir, comp, &reader, x->opt->cancel, diff_id, &stats, &xerr);
	x->opt->bytes += stats.file_bytes;
	/* Compressed, but no tar inside: Docker copies such a file as it is. */
	if ((ret == -EBADMSG || ret == -EPROTO) && stats.entries == 0)
		return 1;
	if (ret < 0) {
		*err = xerr;
		return bk_err_wrap(err, "extract '%s'", src);
	}
	return 0;
}

/* ---- sources ----------------------------------------------------------------------- */

static bool
has_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct matches {
	char **v;
	size_t n;
};

static void
matches_add(struct matches *m, char *s)
{
	m->v = xrealloc(m->v, (m->n + 1) * sizeof(char *));
	m->v[m->n++] = s;
}

static void
matches_free(struct matches *m)
{
	size_t i;

	for (i = 0; i < m->n; i++)
		free(m->v[i]);
	free(m->v);
	*m = (struct matches){ 0 };
}

/* Match parts[i..] below prefix ("" for the context), component by component. */
static int
glob_walk(int ctx_fd, const char *prefix, char **parts, size_t nparts, size_t i,
	  struct matches *out, struct bk_err *err)
{
	cleanup_close int dfd = -1;
	cleanup_dir DIR *d = NULL;
	struct matches here = { 0 };
	struct dirent *de;
	size_t k;
	int ret = 0;

	if (i == nparts) {
		if (out->n >= MATCH_MAX)
			return bk_err_set(err, E2BIG, "more than %d matches", MATCH_MAX);
		matches_add(out, xstrdup(prefix));
		return 0;
	}
	if (!has_glob(parts[i])) {
		cleanup_free char *next =
		    *prefix ? xasprintf("%s/%s", prefix, parts[i]) : xstrdup(parts[i]);

		return glob_walk(ctx_fd, next, parts, nparts, i + 1, out, err);
	}
	dfd = inroot_beneath(ctx_fd, *prefix ? prefix : ".", O_RDONLY | O_DIRECTORY);
	if (dfd < 0)
		return 0; /* nothing matches below what does not exist */
	d = fdopendir(dfd);
	if (d == NULL)
		return bk_err_sys(err, "'%s'", prefix);
	dfd = -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    fnmatch(parts[i], de->d_name, 0) == 0)
			matches_add(&here, xstrdup(de->d_name));
	/* Directory order is the file system's: sort, so builds are reproducible. */
	qsort(here.v, here.n, sizeof(char *), cmp_str);
	for (k = 0; k < here.n && ret == 0; k++) {
		cleanup_free char *next =
		    *prefix ? xasprintf("%s/%s", prefix, here.v[k]) : xstrdup(here.v[k]);

		ret = glob_walk(ctx_fd, next, parts, nparts, i + 1, out, err);
	}
	matches_free(&here);
	return ret;
}

static int
expand_source(int ctx_fd, const char *pattern, struct matches *out, struct bk_err *err)
{
	cleanup_free char *copy = xstrdup(pattern);
	char **parts = xcalloc(strlen(pattern) + 1, sizeof(char *));
	char *save = NULL, *p;
	size_t n = 0, before = out->n;
	int ret;

	if (!has_glob(pattern)) {
		free(parts);
		matches_add(out, xstrdup(pattern));
		return 0;
	}
	for (p = strtok_r(copy, "/", &save); p; p = strtok_r(NULL, "/", &save))
		parts[n++] = p;
	ret = glob_walk(ctx_fd, "", parts, n, 0, out, err);
	free(parts);
	if (ret == 0 && out->n == before)
		ret = bk_err_set(err, ENOENT, "no source files match '%s'", pattern);
	return ret;
}

static const char *
base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* One source (a context-relative path) to dest. */
static int
copy_one(struct copier *x, int ctx_fd, const char *src, const char *dest, bool into_dir,
	 struct bk_err *err)
{
	cleanup_close int sfd = open_source(ctx_fd, src, err);
	cleanup_close int ddir = -1;
	cleanup_free char *parent = NULL, *target = NULL;
	enum layer_comp comp;
	struct stat st;
	int ret;

	if (sfd < 0)
		return sfd;
	if (fstat(sfd, &st) < 0)
		return bk_err_sys(err, "'%s'", src);
	if (S_ISDIR(st.st_mode)) {
		ddir = mkdir_open(x->rootfs_fd, dest, x->opt->uid, x->opt->gid, err);
		if (ddir < 0)
			return ddir;
		return merge_dir(x, sfd, dest, ddir, 1, err);
	}
	if (!S_ISREG(st.st_mode))
		return bk_err_set(err, EINVAL, "'%s' is not a regular file or a directory", src);
	if (x->opt->add && archive_kind(sfd, &comp)) {
		ret = extract(x, sfd, comp, src, dest, err);
		if (ret <= 0)
			return ret;
		into_dir = true;
	}
	if (into_dir) {
		parent = xstrdup(dest);
		target = xstrdup(base_name(src));
	} else {
		const char *slash = strrchr(dest, '/');

		parent = slash == dest ? xstrdup("/") : xstrndup(dest, (size_t)(slash - dest));
		target = xstrdup(slash + 1);
	}
	ddir = mkdir_open(x->rootfs_fd, parent, x->opt->uid, x->opt->gid, err);
	if (ddir < 0)
		return ddir;
	return put_file(x, sfd, &st, ddir, target, dest, err);
}

int
buildfs_copy(int ctx_fd, int rootfs_fd, char *const *srcs, size_t nsrc, const char *dest,
	     struct buildfs_copy *opt, struct bk_err *err)
{
	struct copier x = { .opt = opt, .rootfs_fd = rootfs_fd };
	struct matches m = { 0 };
	cleanup_free char *dir = xstrdup(dest);
	size_t len = strlen(dir), i;
	bool into_dir;
	int ret = 0;

	for (i = 0; i < nsrc && ret == 0; i++)
		ret = expand_source(ctx_fd, srcs[i], &m, err);
	if (ret < 0) {
		matches_free(&m);
		return ret;
	}
	into_dir = dir[len - 1] == '/' || m.n > 1 || buildfs_is_dir(rootfs_fd, dir);
	while (len > 1 && dir[len - 1] == '/')
		dir[--len] = '\0';
	for (i = 0; i < m.n && ret == 0; i++)
		ret = copy_one(&x, ctx_fd, m.v[i], dir, into_dir, err);
	matches_free(&m);
	free(x.buf);
	return ret;
}

/* ---- size -------------------------------------------------------------------------- */

struct inode_key {
	dev_t dev;
	ino_t ino;
};

static int
cmp_inode(const void *a, const void *b)
{
	const struct inode_key *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	return x->ino < y->ino ? -1 : x->ino > y->ino;
}

/*
 * Entries a size walk looks at, at most: an image or a volume of millions of
 * tiny files (a container can make them) must not stall a build's end or a
 * read of `size`; past it the size is what was counted, a lower bound.
 */
#define SIZE_ENTRIES_MAX (1u << 20)

/* Walk the directory open at fd (taken over and closed); *budget: entries left. */
static uint64_t
size_walk(int fd, void **seen, int depth, uint32_t *budget)
{
	DIR *d = fdopendir(fd);
	struct dirent *de;
	uint64_t total = 0;

	if (d == NULL) {
		close(fd);
		return 0;
	}
	while (*budget > 0 && (de = readdir(d)) != NULL) {
		struct stat st;

		(*budget)--;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 ||
		    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth < DEPTH_MAX) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (sub >= 0)
				total += size_walk(sub, seen, depth + 1, budget);
		} else if (S_ISREG(st.st_mode)) {
			struct inode_key *k;

			if (st.st_nlink > 1) {
				k = xmalloc(sizeof(*k));
				k->dev = st.st_dev;
				k->ino = st.st_ino;
				if (*(struct inode_key **)tsearch(k, seen, cmp_inode) != k) {
					free(k);
					continue;
				}
			}
			total += (uint64_t)st.st_size;
		}
	}
	closedir(d);
	return total;
}

uint64_t
buildfs_size(int dfd)
{
	void *seen = NULL;
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	uint32_t budget = SIZE_ENTRIES_MAX;
	uint64_t total;

	if (fd < 0)
		return 0;
	total = size_walk(fd, &seen, 0, &budget);
	tdestroy(seen, free);
	return total;
}
