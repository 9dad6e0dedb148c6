/*
 * Layer extraction: libarchive reads, this file writes.
 *
 * Two archive objects are chained so that one pass over the bytes does
 * everything: the outer one only decompresses (the "raw" format behind the
 * one filter the media type names), the inner one parses tar from what the
 * outer yields, and the bytes in between are hashed into the diff id.
 *
 * Writing is not left to archive_write_disk: it resolves paths against the
 * process's working directory (one for all threads, and pulls run several
 * layers at once), and its SECURE_SYMLINKS check refuses every symlink in a
 * path, which real images need (merged-/usr "lib -> usr/lib").  Instead each
 * parent directory is opened through inroot.h on the layer root (openat2
 * RESOLVE_IN_ROOT), so a symlink resolves as it would inside the container
 * and can never lead out; the entry itself is then made with *at() calls on that directory fd,
 * with O_NOFOLLOW / AT_SYMLINK_NOFOLLOW, and its metadata set through an fd
 * on what was just made.  This is the split security.md §1.1 recommends:
 * libarchive's own path checks have had gaps (issues #743-#746).
 *
 * Gzip is inflated by ISA-L's igzip (about twice zlib's speed, which was a
 * third of a large pull's CPU time), in the same thread and with the same
 * checks as libarchive's zlib filter: the gzip header, each member's CRC-32
 * and length, further members, and the end of the data after the last; the
 * environment variable BOCKERFS_INFLATE=zlib goes back to libarchive's.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <archive.h>
#include <archive_entry.h>
#include <isa-l/igzip_lib.h>

#include "bocker.h"
#include "base/inroot.h"
#include "store/store.h"
#include "base/base.h"

#define WH_PREFIX    ".wh."
#define WH_OPAQUE    ".wh..wh..opq"
#define WH_META      ".wh..wh."
#define XATTR_MAX    (64u << 10)
#define RMTREE_DEPTH 4096

/* ---- what this layer made, for whiteouts: a tree of names --------------- */

/*
 * One node per name under its parent (node 0 is the layer root), so a path
 * costs its last name only.  A set of full strings would cost the square of
 * a deep path's length, once for each of its ancestors.
 */
struct pnode {
	uint32_t parent; /* node 0 is the layer root */
	uint32_t next;   /* the next node in its hash bucket; 0 ends the chain */
	uint32_t name;   /* offset of the name in names */
	uint16_t len;    /* at most NAME_MAX */
};

struct pathset {
	struct pnode *node;
	uint32_t n, cap, max; /* max: more nodes than that is a hostile layer */
	uint32_t *bucket;     /* nbucket chain heads, a power of two */
	uint32_t nbucket;
	char *names;
	size_t names_len, names_cap;
};

static uint32_t
name_hash(uint32_t parent, const char *name, size_t len)
{
	uint64_t h = 1469598103934665603ull ^ parent;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)name[i]) * 1099511628211ull;
	return (uint32_t)(h ^ (h >> 32));
}

static void
pathset_init(struct pathset *ps, uint64_t max)
{
	memset(ps, 0, sizeof(*ps));
	ps->cap = ps->nbucket = 1024;
	ps->node = xcalloc(ps->cap, sizeof(*ps->node));
	ps->bucket = xcalloc(ps->nbucket, sizeof(*ps->bucket));
	ps->n = 1; /* the root */
	ps->max = max < UINT32_MAX - 1 ? (uint32_t)max + 1 : UINT32_MAX - 1;
}

static void
pathset_free(struct pathset *ps)
{
	free(ps->node);
	free(ps->bucket);
	free(ps->names);
	memset(ps, 0, sizeof(*ps));
}

static uint32_t *
bucket_of(struct pathset *ps, uint32_t parent, const char *name, size_t len)
{
	return &ps->bucket[name_hash(parent, name, len) & (ps->nbucket - 1)];
}

static uint32_t
pathset_child(struct pathset *ps, uint32_t parent, const char *name, size_t len)
{
	for (uint32_t i = *bucket_of(ps, parent, name, len); i; i = ps->node[i].next) {
		const struct pnode *p = &ps->node[i];

		if (p->parent == parent && p->len == len && !memcmp(ps->names + p->name, name, len))
			return i;
	}
	return 0;
}

/* A new node under parent; 0 when the set is full. */
static uint32_t
pathset_new(struct pathset *ps, uint32_t parent, const char *name, size_t len)
{
	uint32_t i, *head;

	if (ps->n >= ps->max || len > NAME_MAX || ps->names_len + len > UINT32_MAX)
		return 0;
	if (ps->n == ps->cap) {
		ps->cap *= 2;
		ps->node = xrealloc(ps->node, ps->cap * sizeof(*ps->node));
	}
	if (ps->names_len + len > ps->names_cap) {
		ps->names_cap = ps->names_cap ? 2 * ps->names_cap : 16384;
		ps->names = xrealloc(ps->names, ps->names_cap);
	}
	memcpy(ps->names + ps->names_len, name, len);
	i = ps->n++;
	ps->node[i] = (struct pnode){ parent, 0, (uint32_t)ps->names_len, (uint16_t)len };
	ps->names_len += len;
	if (ps->n > ps->nbucket) { /* rehash everything, this node included */
		free(ps->bucket);
		ps->nbucket *= 2;
		ps->bucket = xcalloc(ps->nbucket, sizeof(*ps->bucket));
		for (uint32_t j = 1; j < ps->n; j++) {
			struct pnode *p = &ps->node[j];

			head = bucket_of(ps, p->parent, ps->names + p->name, p->len);
			p->next = *head;
			*head = j;
		}
		return i;
	}
	head = bucket_of(ps, parent, name, len);
	ps->node[i].next = *head;
	*head = i;
	return i;
}

/*
 * The node of a clean path ("" is the root), with the nodes of its missing
 * ancestors added when add is set.  Returns 0 and *id, -ENOENT if missing,
 * -ENOSPC if the set is full.
 */
static int
pathset_find(struct pathset *ps, const char *path, bool add, uint32_t *id)
{
	uint32_t cur = 0;

	for (const char *p = path; *p;) {
		const char *slash = strchr(p, '/');
		size_t len = slash ? (size_t)(slash - p) : strlen(p);
		uint32_t next;

		if (len == 0) {
			p++;
			continue;
		}
		next = pathset_child(ps, cur, p, len);
		if (next == 0 && !add)
			return -ENOENT;
		if (next == 0 && (next = pathset_new(ps, cur, p, len)) == 0)
			return -ENOSPC;
		cur = next;
		p += len + (slash != NULL);
	}
	*id = cur;
	return 0;
}

static bool
pathset_has(struct pathset *ps, const char *path)
{
	uint32_t id;

	return pathset_find(ps, path, false, &id) == 0;
}

/* The path of node id, into buf (PATH_MAX bytes: every node came from a path that fit). */
static void
pathset_path(const struct pathset *ps, uint32_t id, char buf[PATH_MAX])
{
	size_t end = PATH_MAX - 1;

	buf[end] = '\0';
	for (; id; id = ps->node[id].parent) {
		const struct pnode *p = &ps->node[id];

		if (p->len + 1u > end)
			break; /* cannot happen; a shorter path, never an overflow */
		end -= p->len;
		memcpy(buf + end, ps->names + p->name, p->len);
		if (p->parent)
			buf[--end] = '/';
	}
	memmove(buf, buf + end, PATH_MAX - end);
}

/* ---- the extraction state ---------------------------------------------- */

struct dirtime {
	uint32_t node; /* in seen */
	struct timespec ts[2];
};

struct xtract {
	int root;
	bool as_root; /* euid 0: owners and device nodes are applied */
	struct archive *outer, *inner;
	const struct layer_reader *src;
	struct bk_err
	    src_err; /* why the tar parser's input failed, kept from libarchive's message */
	bool src_failed;
	/* The decompressing thread's: the source's or the decompressor's failure. */
	struct bk_err outer_err;
	bool outer_failed;
	struct blockq q; /* decompressed bytes, from the inflater to the tar parser */
	pthread_t inflater;
	bool inflating;
	struct blockq_block cur; /* the block the tar parser reads now */
	struct digest diff;      /* of every decompressed byte: written by the inflater only */
	struct layer_stats st;
	const struct layer_limits *lim;
	uint64_t comp_bytes; /* compressed bytes read so far */
	struct bk_cancel *cancel;
	/* gzip by ISA-L instead of the outer archive: the first bytes, read to check the magic */
	bool isal;
	const void *pending;
	size_t pending_len;
	uint8_t *join;       /* a member's last byte and the next chunk, joined */
	struct pathset seen; /* what this layer made, ancestors included */
	struct dirtime *dirs;
	size_t ndirs, capdirs;
	/* the last parent directory opened, reused while entries stay in it */
	char *cache_path;
	int cache_fd;
	char *buf; /* file data staging for the sparse-aware writer */
};

static void
cache_drop(struct xtract *x)
{
	if (x->cache_fd >= 0)
		close(x->cache_fd);
	x->cache_fd = -1;
	free(x->cache_path);
	x->cache_path = NULL;
}

static bool
cancelled(const struct xtract *x)
{
	return x->cancel && atomic_load(&x->cancel->cancelled);
}

/*
 * Normalise a tar path: no leading "/", no "." or empty components.  A ".."
 * component is refused rather than clamped: no image builder emits one, so
 * it only ever means an attack.  "" is the layer root.  Caller frees.
 */
static int
clean_path(const char *in, char **out, struct bk_err *err)
{
	size_t len = strlen(in), n = 0;
	char *res = xmalloc(len + 1);
	const char *p = in;

	if (len >= PATH_MAX) {
		free(res);
		return bk_err_set(err, EBADMSG, "entry name of %zu bytes is too long", len);
	}
	while (*p) {
		const char *c = p;
		size_t clen;

		while (*p && *p != '/')
			p++;
		clen = (size_t)(p - c);
		while (*p == '/')
			p++;
		if (clen == 0 || (clen == 1 && c[0] == '.'))
			continue;
		if (clen == 2 && c[0] == '.' && c[1] == '.') {
			free(res);
			return bk_err_set(err, EBADMSG, "entry '%.200s' escapes the layer root",
					  in);
		}
		if (clen > NAME_MAX) {
			free(res);
			return bk_err_set(err, EBADMSG, "entry '%.200s': component too long", in);
		}
		if (n)
			res[n++] = '/';
		memcpy(res + n, c, clen);
		n += clen;
	}
	res[n] = '\0';
	*out = res;
	return 0;
}

/* Split "a/b/c" into "a/b" and "c" in place; *parent is "" for "c". */
static void
split_path(char *path, const char **parent, const char **base)
{
	char *slash = strrchr(path, '/');

	if (slash == NULL) {
		*parent = "";
		*base = path;
		return;
	}
	*slash = '\0';
	*parent = path;
	*base = slash + 1;
}

/*
 * A directory fd on rel inside the root ("" is the root), symlinks resolved
 * as if the root were "/" (inroot.h).  With create, missing directories are
 * made (0755).  Returns the fd, or -errno (-ENOENT when it is missing and
 * not to be made).
 */
static int
open_in_root(struct xtract *x, const char *rel, bool create, struct bk_err *err)
{
	int fd = create ? inroot_mkdirs(x->root, rel, 0755, (uid_t)-1, 0, 0)
			: inroot_dir(x->root, rel, 0, 0);

	if (fd >= 0 || (fd == -ENOENT && !create))
		return fd;
	if (fd == -ENOTDIR)
		return bk_err_set(err, EBADMSG, "'%.200s' is not a directory", rel);
	/* A dangling symlink: its target is not followed to make directories. */
	if (fd == -ENOENT)
		return bk_err_set(err, EBADMSG, "'%.200s' is a symlink to a missing directory",
				  rel);
	return bk_err_set(err, -fd, "open '%.200s': %s", rel, inroot_strerror(-fd));
}

/* The parent directory of an entry, through the one-entry cache; borrowed fd. */
static int
parent_fd(struct xtract *x, const char *parent, struct bk_err *err)
{
	int fd;

	if (x->cache_path && strcmp(x->cache_path, parent) == 0)
		return x->cache_fd;
	cache_drop(x);
	fd = open_in_root(x, parent, true, err);
	if (fd < 0)
		return fd;
	x->cache_fd = fd;
	x->cache_path = xstrdup(parent);
	return fd;
}

/* Remove dfd/name, whatever it is, never following a symlink. */
static int
remove_tree(int dfd, const char *name, int depth, struct bk_err *err)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	int fd;

	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return bk_err_sys(err, "remove '%.200s'", name);
	if (depth > RMTREE_DEPTH)
		return bk_err_set(err, EBADMSG, "remove '%.200s': too deep", name);
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return bk_err_sys(err, "open '%.200s'", name);
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return bk_err_sys(err, "open '%.200s'", name);
	}
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (remove_tree(dirfd(d), de->d_name, depth + 1, err) < 0)
			return -err->code;
	}
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return bk_err_sys(err, "rmdir '%.200s'", name);
	return 0;
}

/*
 * Opaque directory: remove from rel everything this layer did not make,
 * descending into the directories it did make (their lower content is
 * hidden too).
 */
static int
opaque_dir(struct xtract *x, int dfd, const char *rel, int depth, struct bk_err *err)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	int fd;

	if (depth > RMTREE_DEPTH)
		return bk_err_set(err, EBADMSG, "opaque '%.200s': too deep", rel);
	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return bk_err_sys(err, "open '%.200s'", rel);
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return bk_err_sys(err, "open '%.200s'", rel);
	}
	while ((de = readdir(d)) != NULL) {
		cleanup_free char *child = NULL;
		cleanup_close int cfd = -1;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		child = *rel ? xasprintf("%s/%s", rel, de->d_name) : xstrdup(de->d_name);
		if (!pathset_has(&x->seen, child)) {
			if (remove_tree(dirfd(d), de->d_name, 0, err) < 0)
				return -err->code;
			continue;
		}
		cfd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (cfd < 0)
			continue; /* not a directory: this layer's own file */
		if (opaque_dir(x, cfd, child, depth + 1, err) < 0)
			return -err->code;
	}
	return 0;
}

static int
apply_whiteout(struct xtract *x, const char *parent, const char *base, const char *orig,
	       struct bk_err *err)
{
	cleanup_free char *full = NULL;
	cleanup_close int dfd = -1;
	const char *name = base + strlen(WH_PREFIX);

	cache_drop(x); /* whatever is removed may be a cached directory */
	if (strcmp(base, WH_OPAQUE) == 0) {
		cleanup_close int rfd = -1;

		dfd = open_in_root(x, parent, false, err);
		if (dfd == -ENOENT)
			return 0;
		if (dfd < 0)
			return dfd;
		rfd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (rfd < 0)
			return bk_err_sys(err, "open '%.200s'", parent);
		return opaque_dir(x, rfd, parent, 0, err);
	}
	/* aufs bookkeeping (".wh..wh.plnk" and the like): nothing to apply. */
	if (strncmp(base, WH_META, strlen(WH_META)) == 0)
		return 0;
	if (*name == '\0' || !strcmp(name, ".") || !strcmp(name, ".."))
		return bk_err_set(err, EBADMSG, "invalid whiteout '%.200s'", orig);
	full = *parent ? xasprintf("%s/%s", parent, name) : xstrdup(name);
	/* A whiteout hides lower layers only, never what its own layer made. */
	if (pathset_has(&x->seen, full))
		return 0;
	dfd = open_in_root(x, parent, false, err);
	if (dfd == -ENOENT)
		return 0;
	if (dfd < 0)
		return dfd;
	return remove_tree(dfd, name, 0, err);
}

/* ---- metadata ---------------------------------------------------------- */

static int set_xattrs_on(int fd, bool opath, struct archive_entry *ae, const char *path,
			 struct bk_err *err);

static int
set_xattrs(int fd, struct archive_entry *ae, const char *path, struct bk_err *err)
{
	return set_xattrs_on(fd, false, ae, path, err);
}

/* The xattrs a layer may carry: ACLs ride in system.*, not part of the OCI layer format. */
static bool
layer_xattr(const char *name)
{
	return !strncmp(name, "user.", 5) || !strncmp(name, "security.", 9) ||
	       !strncmp(name, "trusted.", 8);
}

/*
 * An existing directory the layer names again: the xattrs it no longer has
 * go (user.*, trusted.*, security.capability: a label the host's policy put
 * there stays).
 */
static int
drop_stale_xattrs(int fd, struct archive_entry *ae, const char *path, struct bk_err *err)
{
	char names[XATTR_LIST_MAX], *p;
	ssize_t len = flistxattr(fd, names, sizeof(names));

	if (len < 0)
		return errno == ENOTSUP ? 0 : bk_err_sys(err, "'%.200s': list xattrs", path);
	for (p = names; p < names + len; p += strlen(p) + 1) {
		const char *name;
		const void *value;
		size_t size;
		bool kept = false;

		if (strncmp(p, "user.", 5) && strncmp(p, "trusted.", 8) &&
		    strcmp(p, "security.capability"))
			continue;
		archive_entry_xattr_reset(ae);
		while (!kept && archive_entry_xattr_next(ae, &name, &value, &size) == ARCHIVE_OK)
			kept = strcmp(name, p) == 0;
		if (!kept && fremovexattr(fd, p) < 0 && errno != ENODATA)
			return bk_err_sys(err, "'%.200s': remove xattr %s", path, p);
	}
	return 0;
}

/*
 * The entry's xattrs on what fd is (opath: an O_PATH fd, of a symlink or a
 * device node just made, set through /proc/self/fd: the magic link is the
 * inode itself, never what a symlink names).
 */
static int
set_xattrs_on(int fd, bool opath, struct archive_entry *ae, const char *path, struct bk_err *err)
{
	const char *name;
	const void *value;
	size_t size;
	char proc[64];

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	archive_entry_xattr_reset(ae);
	while (archive_entry_xattr_next(ae, &name, &value, &size) == ARCHIVE_OK) {
		int r;

		if (!layer_xattr(name))
			continue;
		if (size > XATTR_MAX)
			return bk_err_set(err, EBADMSG, "'%.200s': xattr %s too large", path, name);
		r = opath ? setxattr(proc, name, value, size, 0)
			  : fsetxattr(fd, name, value, size, 0);
		if (r < 0) {
			/* user.* on a symlink or a device: the kernel allows none (EPERM). */
			if (errno == ENOTSUP ||
			    (errno == EPERM && (opath || strncmp(name, "user.", 5)))) {
				bk_log(BK_LOG_DEBUG, "layer: '%s': xattr %s not kept: %s", path,
				       name, strerror(errno));
				continue;
			}
			return bk_err_sys(err, "'%.200s': set xattr %s", path, name);
		}
	}
	return 0;
}

static void
entry_times(struct archive_entry *ae, struct timespec ts[2])
{
	ts[0].tv_sec = archive_entry_atime(ae);
	ts[0].tv_nsec = archive_entry_atime_nsec(ae);
	if (!archive_entry_atime_is_set(ae))
		ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = archive_entry_mtime(ae);
	ts[1].tv_nsec = archive_entry_mtime_nsec(ae);
	if (!archive_entry_mtime_is_set(ae))
		ts[1].tv_nsec = UTIME_OMIT;
	if (ts[0].tv_nsec == UTIME_OMIT && ts[1].tv_nsec != UTIME_OMIT)
		ts[0] = ts[1];
}

/* Owner, then mode (chown clears setuid), then xattrs, on an fd of the new object. */
static int
set_meta_fd(struct xtract *x, int fd, struct archive_entry *ae, const char *path,
	    struct bk_err *err)
{
	if (x->as_root &&
	    fchown(fd, (uid_t)archive_entry_uid(ae), (gid_t)archive_entry_gid(ae)) < 0)
		return bk_err_sys(err, "'%.200s': chown", path);
	if (fchmod(fd, archive_entry_perm(ae) & 07777) < 0)
		return bk_err_sys(err, "'%.200s': chmod", path);
	return set_xattrs(fd, ae, path, err);
}

static void
defer_dir_time(struct xtract *x, uint32_t node, struct archive_entry *ae)
{
	if (x->ndirs == x->capdirs) {
		x->capdirs = x->capdirs ? 2 * x->capdirs : 256;
		x->dirs = xrealloc(x->dirs, x->capdirs * sizeof(*x->dirs));
	}
	x->dirs[x->ndirs].node = node;
	entry_times(ae, x->dirs[x->ndirs].ts);
	x->ndirs++;
}

/* Remember path and its ancestors as this layer's; a directory's times are set at the end. */
static int
remember(struct xtract *x, const char *path, struct archive_entry *dir_ae, struct bk_err *err)
{
	uint32_t node;

	if (pathset_find(&x->seen, path, true, &node) < 0)
		return bk_err_set(err, EBADMSG,
				  "layer names more than %llu paths (entries and the directories "
				  "they imply)",
				  (unsigned long long)x->lim->entries);
	if (dir_ae)
		defer_dir_time(x, node, dir_ae);
	return 0;
}

/* Directory times last: making their children changed them. */
static void
apply_dir_times(struct xtract *x)
{
	char path[PATH_MAX];

	for (size_t i = x->ndirs; i-- > 0;) {
		struct dirtime *dt = &x->dirs[i];
		int fd;

		pathset_path(&x->seen, dt->node, path);
		fd = inroot_dir(x->root, path, O_NOFOLLOW, 0);

		/* Gone or replaced by a symlink later in the layer: nothing to set. */
		if (fd >= 0) {
			futimens(fd, dt->ts);
			close(fd);
		}
	}
}

/* ---- entry types ------------------------------------------------------- */

static int
write_data(struct xtract *x, int fd, struct archive_entry *ae, const char *path, struct bk_err *err)
{
	off_t end = 0;
	unsigned blocks = 0;

	for (;;) {
		const void *buf;
		size_t size;
		la_int64_t off;
		int r = archive_read_data_block(x->inner, &buf, &size, &off);

		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return -1; /* the caller reports the archive error */
		if ((++blocks & 63) == 0 && cancelled(x))
			return bk_err_set(err, EINTR, "interrupted");
		/* A sparse map may point anywhere: only inside the size the header stated. */
		if (off < 0 || (uint64_t)off + size > (uint64_t)archive_entry_size(ae))
			return bk_err_set(err, EBADMSG, "'%.200s': data beyond its size", path);
		if (off != end && lseek(fd, off, SEEK_SET) < 0)
			return bk_err_sys(err, "'%.200s': seek", path);
		if (write_all(fd, buf, size) < 0)
			return bk_err_sys(err, "write '%.200s'", path);
		end = off + (off_t)size;
		x->st.file_bytes += size;
	}
	/* A sparse file's trailing hole has no data block. */
	if (archive_entry_size(ae) > end && ftruncate(fd, archive_entry_size(ae)) < 0)
		return bk_err_sys(err, "'%.200s': truncate", path);
	return 0;
}

static int
make_file(struct xtract *x, int pfd, const char *base, struct archive_entry *ae, const char *path,
	  struct bk_err *err)
{
	cleanup_close int fd = -1;
	struct timespec ts[2];
	int ret;

	fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return bk_err_sys(err, "create '%.200s'", path);
	ret = write_data(x, fd, ae, path, err);
	if (ret < 0)
		return ret;
	ret = set_meta_fd(x, fd, ae, path, err);
	if (ret < 0)
		return ret;
	entry_times(ae, ts);
	if (futimens(fd, ts) < 0)
		return bk_err_sys(err, "'%.200s': set times", path);
	return 0;
}

static int
make_dir(struct xtract *x, int dfd, const char *base, struct archive_entry *ae, const char *path,
	 struct bk_err *err)
{
	cleanup_close int fd = -1;
	bool existed = base == NULL;

	if (base && mkdirat(dfd, base, 0700) < 0) {
		if (errno != EEXIST)
			return bk_err_sys(err, "mkdir '%.200s'", path);
		existed = true;
	}
	fd = openat(dfd, base ? base : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return bk_err_sys(err, "open '%.200s'", path);
	if (existed && drop_stale_xattrs(fd, ae, path, err) < 0)
		return -err->code;
	if (set_meta_fd(x, fd, ae, path, err) < 0)
		return -err->code;
	return 0;
}

static int
make_symlink(struct xtract *x, int pfd, const char *base, struct archive_entry *ae,
	     const char *path, struct bk_err *err)
{
	const char *target = archive_entry_symlink(ae);
	struct timespec ts[2];

	if (target == NULL || *target == '\0' || strlen(target) >= PATH_MAX)
		return bk_err_set(err, EBADMSG, "symlink '%.200s': bad target", path);
	if (symlinkat(target, pfd, base) < 0)
		return bk_err_sys(err, "symlink '%.200s'", path);
	if (x->as_root && fchownat(pfd, base, (uid_t)archive_entry_uid(ae),
				   (gid_t)archive_entry_gid(ae), AT_SYMLINK_NOFOLLOW) < 0)
		return bk_err_sys(err, "'%.200s': chown", path);
	if (archive_entry_xattr_count(ae) > 0) {
		cleanup_close int fd = openat(pfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);

		if (fd < 0)
			return bk_err_sys(err, "open '%.200s'", path);
		if (set_xattrs_on(fd, true, ae, path, err) < 0)
			return -err->code;
	}
	entry_times(ae, ts);
	if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return bk_err_sys(err, "'%.200s': set times", path);
	return 0;
}

static int
make_node(struct xtract *x, int pfd, const char *base, struct archive_entry *ae, const char *path,
	  struct bk_err *err)
{
	cleanup_close int fd = -1;
	mode_t type = archive_entry_filetype(ae);
	struct timespec ts[2];

	if (type != AE_IFIFO && !x->as_root) {
		bk_log(BK_LOG_DEBUG, "layer: device '%s' skipped: not root", path);
		return 0;
	}
	if (mknodat(pfd, base, type | 0600,
		    makedev(archive_entry_rdevmajor(ae), archive_entry_rdevminor(ae))) < 0)
		return bk_err_sys(err, "mknod '%.200s'", path);
	fd = openat(pfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return bk_err_sys(err, "open '%.200s'", path);
	if (x->as_root && fchownat(fd, "", (uid_t)archive_entry_uid(ae),
				   (gid_t)archive_entry_gid(ae), AT_EMPTY_PATH) < 0)
		return bk_err_sys(err, "'%.200s': chown", path);
	if (set_xattrs_on(fd, true, ae, path, err) < 0)
		return -err->code;
	/* Just made by mknodat, so not a symlink: following is harmless here. */
	if (fchmodat(pfd, base, archive_entry_perm(ae) & 07777, 0) < 0)
		return bk_err_sys(err, "'%.200s': chmod", path);
	entry_times(ae, ts);
	if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return bk_err_sys(err, "'%.200s': set times", path);
	return 0;
}

/* A hardlink to a file already inside the root; linkat never follows a symlink target. */
static int
make_hardlink(struct xtract *x, int pfd, const char *base, const char *target_in, const char *path,
	      struct bk_err *err)
{
	cleanup_free char *target = NULL;
	cleanup_close int tfd = -1;
	const char *tparent, *tbase;

	if (clean_path(target_in, &target, err) < 0)
		return bk_err_wrap(err, "hardlink '%.200s'", path);
	if (*target == '\0')
		return bk_err_set(err, EBADMSG, "hardlink '%.200s' to the layer root", path);
	split_path(target, &tparent, &tbase);
	tfd = open_in_root(x, tparent, false, err);
	if (tfd < 0)
		return tfd == -ENOENT ? bk_err_set(err, EBADMSG,
						   "hardlink '%.200s': target "
						   "'%.200s' missing",
						   path, target_in)
				      : tfd;
	if (linkat(tfd, tbase, pfd, base, 0) < 0) {
		if (errno == ENOENT)
			return bk_err_set(err, EBADMSG,
					  "hardlink '%.200s': target '%.200s' missing", path,
					  target_in);
		if (errno == EPERM || errno == EXDEV)
			return bk_err_set(err, EBADMSG, "hardlink '%.200s' to '%.200s': %s", path,
					  target_in, strerror(errno));
		return bk_err_sys(err, "hardlink '%.200s'", path);
	}
	return 0;
}

/* Clear the way for a new entry: an existing directory stays for a directory. */
static int
clear_existing(struct xtract *x, int pfd, const char *base, mode_t type, bool *keep_dir,
	       struct bk_err *err)
{
	struct stat st;

	*keep_dir = false;
	if (fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno == ENOENT)
			return 0;
		return bk_err_sys(err, "stat '%.200s'", base);
	}
	if (S_ISDIR(st.st_mode) && type == AE_IFDIR) {
		*keep_dir = true;
		return 0;
	}
	/* The cache holds pfd itself, which is above what goes: it stays valid. */
	(void)x;
	return remove_tree(pfd, base, 0, err);
}

static bool
is_overlay_whiteout(struct archive_entry *ae)
{
	return archive_entry_filetype(ae) == AE_IFCHR && archive_entry_rdevmajor(ae) == 0 &&
	       archive_entry_rdevminor(ae) == 0 && archive_entry_hardlink(ae) == NULL;
}

static int
apply_entry(struct xtract *x, struct archive_entry *ae, struct bk_err *err)
{
	const char *orig = archive_entry_pathname(ae), *parent, *base, *link;
	cleanup_free char *path = NULL, *full = NULL;
	mode_t type = archive_entry_filetype(ae);
	bool keep_dir;
	int pfd, ret;

	if (orig == NULL)
		return bk_err_set(err, EBADMSG, "entry without a name");
	if (clean_path(orig, &path, err) < 0)
		return -err->code;
	link = archive_entry_hardlink(ae);
	if (*path == '\0') {
		if (type != AE_IFDIR || link)
			return bk_err_set(err, EBADMSG,
					  "entry '%.200s' would replace the layer root", orig);
		if (make_dir(x, x->root, NULL, ae, "", err) < 0)
			return -err->code;
		return remember(x, "", ae, err);
	}
	full = xstrdup(path);
	split_path(path, &parent, &base);
	if (strncmp(base, WH_PREFIX, strlen(WH_PREFIX)) == 0)
		return apply_whiteout(x, parent, base, orig, err);
	if (is_overlay_whiteout(ae)) {
		char wh[NAME_MAX + 8];

		snprintf(wh, sizeof(wh), WH_PREFIX "%s", base);
		return apply_whiteout(x, parent, wh, orig, err);
	}
	if (type == AE_IFSOCK)
		return 0;
	/* A hardlink to itself would otherwise delete its own target first. */
	if (link) {
		cleanup_free char *t = NULL;

		if (clean_path(link, &t, err) < 0)
			return bk_err_wrap(err, "hardlink '%.200s'", full);
		if (strcmp(t, full) == 0)
			return 0;
	}
	pfd = parent_fd(x, parent, err);
	if (pfd < 0)
		return pfd;
	ret = clear_existing(x, pfd, base, link ? AE_IFREG : type, &keep_dir, err);
	if (ret < 0)
		return ret;
	if (link)
		ret = make_hardlink(x, pfd, base, link, full, err);
	else if (type == AE_IFREG)
		ret = make_file(x, pfd, base, ae, full, err);
	else if (type == AE_IFDIR)
		ret = make_dir(x, pfd, base, ae, full, err);
	else if (type == AE_IFLNK)
		ret = make_symlink(x, pfd, base, ae, full, err);
	else if (type == AE_IFCHR || type == AE_IFBLK || type == AE_IFIFO)
		ret = make_node(x, pfd, base, ae, full, err);
	else
		ret = bk_err_set(err, EBADMSG, "entry '%.200s': unsupported type 0%o", orig,
				 (unsigned)type);
	if (ret < 0)
		return ret;
	return remember(x, full, type == AE_IFDIR && !link ? ae : NULL, err);
}

/* ---- the two archives -------------------------------------------------- */

static la_ssize_t
outer_read(struct archive *a, void *arg, const void **buf)
{
	struct xtract *x = arg;
	ssize_t n;

	if (cancelled(x)) {
		bk_err_set(&x->outer_err, EINTR, "interrupted");
		x->outer_failed = true;
		archive_set_error(a, EINTR, "interrupted");
		return -1;
	}
	n = x->src->read(x->src->arg, buf, &x->outer_err);
	if (n < 0) {
		x->outer_failed = true;
		archive_set_error(a, (int)-n, "%s", x->outer_err.msg);
		return -1;
	}
	x->comp_bytes += (uint64_t)n;
	return n;
}

/*
 * Count size more uncompressed bytes against the caps.  The ratio is checked
 * as the bytes come, so a bomb stops at the floor, whatever it would expand
 * to; cancellation is checked here too, since a few compressed bytes can
 * keep the decompressor busy for long.
 */
static int
count_tar_bytes(struct xtract *x, size_t size, struct bk_err *err)
{
	const struct layer_limits *lim = x->lim;

	x->st.tar_bytes += size;
	if (x->st.tar_bytes > lim->tar_bytes)
		return bk_err_set(err, EBADMSG, "layer expands beyond %llu bytes",
				  (unsigned long long)lim->tar_bytes);
	if (x->st.tar_bytes > lim->ratio_floor && x->st.tar_bytes / lim->ratio > x->comp_bytes)
		return bk_err_set(err, EBADMSG,
				  "layer expands to more than %llu times its compressed size "
				  "(%llu bytes from %llu): a decompression bomb",
				  (unsigned long long)lim->ratio,
				  (unsigned long long)x->st.tar_bytes,
				  (unsigned long long)x->comp_bytes);
	if (cancelled(x))
		return bk_err_set(err, EINTR, "interrupted");
	return 0;
}

/* The decompressor failed: the source's error if it caused it, else a corrupt layer. */
static int
outer_fail(struct xtract *x, struct bk_err *err)
{
	if (x->outer_failed) {
		*err = x->outer_err;
		return -err->code;
	}
	return bk_err_set(err, EBADMSG, "corrupt layer: %s",
			  archive_error_string(x->outer) ? archive_error_string(x->outer)
							 : "unknown error");
}

/* ---- the inflater: ISA-L, or libarchive's zlib -------------------------- */

static atomic_int inflater = -1; /* -1: not chosen yet; LAYER_INFLATE_* */

void
layer_set_inflater(enum layer_inflater which)
{
	atomic_store(&inflater, (int)which);
}

enum layer_inflater
layer_get_inflater(void)
{
	int v = atomic_load(&inflater);

	if (v < 0) {
		const char *env = getenv("BOCKERFS_INFLATE");

		v = env && strcmp(env, "zlib") == 0 ? LAYER_INFLATE_ZLIB : LAYER_INFLATE_ISAL;
		atomic_store(&inflater, v);
	}
	return (enum layer_inflater)v;
}

#define ISAL_OUT_SIZE (256u << 10)

static const char *
isal_error(int r)
{
	switch (r) {
	case ISAL_INVALID_BLOCK:
		return "invalid deflate block";
	case ISAL_INVALID_SYMBOL:
		return "invalid deflate symbol";
	case ISAL_INVALID_LOOKBACK:
		return "invalid lookback distance";
	case ISAL_INVALID_WRAPPER:
		return "invalid gzip header";
	case ISAL_UNSUPPORTED_METHOD:
		return "not deflate";
	case ISAL_INCORRECT_CHECKSUM:
		return "CRC or length mismatch";
	default:
		return "corrupt data";
	}
}

/* More input for s: its length, 0 at the source's end, or -errno (err filled). */
static ssize_t
isal_input(struct xtract *x, struct inflate_state *s, struct bk_err *err)
{
	const void *b;
	ssize_t n;

	if (x->pending) {
		b = x->pending;
		n = (ssize_t)x->pending_len;
		x->pending = NULL;
	} else {
		if (cancelled(x))
			return bk_err_set(err, EINTR, "interrupted");
		n = x->src->read(x->src->arg, &b, err);
		if (n <= 0)
			return n;
	}
	x->comp_bytes += (uint64_t)n;
	s->next_in = (uint8_t *)(uintptr_t)b;
	s->avail_in = (uint32_t)n;
	return n;
}

/*
 * After a member's end: 1 if another member follows (s reset onto it), 0 if
 * the data ends here (what follows, if anything, is ignored, as libarchive
 * does), or -errno.
 */
static int
isal_next_member(struct xtract *x, struct inflate_state *s, struct bk_err *err)
{
	uint8_t first;
	uint8_t *in;
	uint32_t avail;
	ssize_t n;

	if (s->avail_in == 0 && (n = isal_input(x, s, err)) <= 0)
		return (int)n;
	if (s->avail_in == 1) {
		/* The magic is split across two chunks: join them. */
		first = s->next_in[0];
		if ((n = isal_input(x, s, err)) < 0)
			return (int)n;
		if (n == 0)
			return 0;
		free(x->join);
		x->join = xmalloc((size_t)n + 1);
		x->join[0] = first;
		memcpy(x->join + 1, s->next_in, (size_t)n);
		s->next_in = x->join;
		s->avail_in = (uint32_t)n + 1;
	}
	if (s->next_in[0] != 0x1f || s->next_in[1] != 0x8b)
		return 0;
	in = s->next_in;
	avail = s->avail_in;
	isal_inflate_reset(s);
	s->crc_flag = ISAL_GZIP;
	s->next_in = in;
	s->avail_in = avail;
	return 1;
}

/* The inflater's work with ISA-L: 0 when the data ended, 1 if the parser gave up, or -errno. */
static int
isal_run(struct xtract *x, struct bk_err *err)
{
	struct inflate_state *s = xmalloc(sizeof(*s));
	uint8_t *out = xmalloc(ISAL_OUT_SIZE);
	ssize_t n;
	int r, ret = 0;

	isal_inflate_init(s);
	s->crc_flag = ISAL_GZIP;
	s->avail_in = 0;
	for (;;) {
		size_t produced;

		if (s->avail_in == 0 && s->block_state != ISAL_BLOCK_FINISH) {
			n = isal_input(x, s, err);
			if (n == 0)
				n = bk_err_set(err, EBADMSG, "corrupt layer: gzip data ends early");
			if (n < 0) {
				ret = (int)n;
				break;
			}
		}
		s->next_out = out;
		s->avail_out = ISAL_OUT_SIZE;
		r = isal_inflate(s);
		produced = ISAL_OUT_SIZE - s->avail_out;
		if (produced) {
			if ((ret = count_tar_bytes(x, produced, err)) < 0)
				break;
			digest_update(&x->diff, out, produced);
			if (!blockq_push(&x->q, out, produced)) {
				ret = 1; /* the parser gave up: its error is the one to report */
				break;
			}
		}
		if (r < 0) {
			ret = bk_err_set(err, EBADMSG, "corrupt layer: gzip: %s", isal_error(r));
			break;
		}
		if (s->block_state == ISAL_BLOCK_FINISH && (ret = isal_next_member(x, s, err)) <= 0)
			break;
	}
	free(out);
	free(s);
	return ret;
}

/*
 * The first bytes of a gzip layer, read now to say at once that it is not
 * gzip (as libarchive's bidder does); the inflater starts with them.
 */
static int
isal_open(struct xtract *x, struct bk_err *err)
{
	const uint8_t *b;
	ssize_t n = x->src->read(x->src->arg, (const void **)&b, err);

	if (n < 0)
		return (int)n;
	if (n == 0)
		return bk_err_set(err, EBADMSG, "empty layer");
	if (b[0] != 0x1f || (n > 1 && b[1] != 0x8b))
		return bk_err_set(err, EBADMSG, "layer is not gzip as its media type says");
	x->isal = true;
	x->pending = b;
	x->pending_len = (size_t)n;
	return 0;
}

/*
 * The inflater thread: decompresses the layer ahead of the tar parser (on
 * a 2-CPU host the two halves of an extraction then overlap: a Debian layer
 * took 2.3 s, one thread doing both), counts the bytes against the caps,
 * hashes them into the diff id, bytes after the tar's end included (a
 * bomb's favourite place: hashed, never parsed), then reads the source to
 * its end.
 */
static void *
inflate_main(void *arg)
{
	struct xtract *x = arg;
	const void *b;
	size_t size;
	la_int64_t off;
	int r = ARCHIVE_EOF, status = 0;

	if (x->isal) {
		status = isal_run(x, &x->outer_err);
		if (status == 1) {
			/* The parser gave up. */
			status = 0;
			r = ARCHIVE_FATAL;
		}
	}
	while (!x->isal && (r = archive_read_data_block(x->outer, &b, &size, &off)) == ARCHIVE_OK) {
		if (count_tar_bytes(x, size, &x->outer_err) < 0) {
			x->outer_failed = true;
			status = -x->outer_err.code;
			break;
		}
		digest_update(&x->diff, b, size);
		if (!blockq_push(&x->q, b, size))
			break; /* the parser gave up: its error is the one to report */
	}
	if (!x->isal && status == 0 && r != ARCHIVE_OK && r != ARCHIVE_EOF)
		status = outer_fail(x, &x->outer_err);
	while (status == 0 && r == ARCHIVE_EOF) {
		ssize_t n = x->src->read(x->src->arg, &b, &x->outer_err);

		if (n < 0)
			status = (int)n;
		if (n <= 0)
			break;
	}
	if (status < 0)
		x->outer_failed = true;
	blockq_end(&x->q, status);
	return NULL;
}

/* The tar parser's input: the inflater's blocks. */
static la_ssize_t
inner_read(struct archive *a, void *arg, const void **buf)
{
	struct xtract *x = arg;
	int status = 0;

	free(x->cur.data);
	x->cur.data = NULL;
	if (blockq_pop(&x->q, &x->cur, &status) == 1) {
		*buf = x->cur.data;
		return (la_ssize_t)x->cur.len;
	}
	if (status == 0)
		return 0;
	/* The inflater has ended: its error may be read. */
	x->src_err = x->outer_err;
	x->src_failed = true;
	archive_set_error(a, x->src_err.code, "%s", x->src_err.msg);
	return -1;
}

/* A libarchive failure: the reader's own error if it caused it, else a corrupt layer. */
static int
archive_fail(struct xtract *x, struct archive *a, struct bk_err *err)
{
	if (x->src_failed) {
		*err = x->src_err;
		return -err->code;
	}
	return bk_err_set(err, EBADMSG, "corrupt layer: %s",
			  archive_error_string(a) ? archive_error_string(a) : "unknown error");
}

static int
open_outer(struct xtract *x, enum layer_comp comp, struct bk_err *err)
{
	struct archive_entry *ae;
	int r = ARCHIVE_OK, want = ARCHIVE_FILTER_NONE;

	if (comp == LAYER_GZIP && layer_get_inflater() == LAYER_INFLATE_ISAL)
		return isal_open(x, err);
	x->outer = archive_read_new();
	if (x->outer == NULL)
		abort();
	/* Only the filter the media type names, and only built in: never an external program. */
	if (comp == LAYER_GZIP) {
		r = archive_read_support_filter_gzip(x->outer);
		want = ARCHIVE_FILTER_GZIP;
	} else if (comp == LAYER_ZSTD) {
		r = archive_read_support_filter_zstd(x->outer);
		want = ARCHIVE_FILTER_ZSTD;
	}
	if (r != ARCHIVE_OK)
		return bk_err_set(err, EPROTO, "no built-in %s decompressor in libarchive",
				  comp == LAYER_GZIP ? "gzip" : "zstd");
	archive_read_support_format_raw(x->outer);
	if (archive_read_open2(x->outer, x, NULL, outer_read, NULL, NULL) != ARCHIVE_OK)
		return outer_fail(x, err);
	r = archive_read_next_header(x->outer, &ae);
	if (r == ARCHIVE_EOF)
		return bk_err_set(err, EBADMSG, "empty layer");
	if (r < ARCHIVE_WARN)
		return outer_fail(x, err);
	if (archive_filter_code(x->outer, 0) != want)
		return bk_err_set(err, EBADMSG, "layer is not %s as its media type says",
				  comp == LAYER_GZIP   ? "gzip"
				  : comp == LAYER_ZSTD ? "zstd"
						       : "plain tar");
	return 0;
}

/* Refuse at its header an entry that says it is larger than an entry may be. */
static int
check_size(struct xtract *x, struct archive_entry *ae, struct bk_err *err)
{
	la_int64_t size = archive_entry_size(ae);

	if (!archive_entry_size_is_set(ae) || (size >= 0 && (uint64_t)size <= x->lim->entry_size))
		return 0;
	return bk_err_set(err, EBADMSG,
			  "entry '%.200s' claims %lld bytes, more than an entry may have (%llu)",
			  archive_entry_pathname(ae) ? archive_entry_pathname(ae) : "",
			  (long long)size, (unsigned long long)x->lim->entry_size);
}

static int
extract_entries(struct xtract *x, struct bk_err *err)
{
	struct archive_entry *ae;
	int r;

	x->inner = archive_read_new();
	if (x->inner == NULL)
		abort();
	archive_read_support_format_tar(x->inner);
	if (archive_read_open2(x->inner, x, NULL, inner_read, NULL, NULL) != ARCHIVE_OK)
		return archive_fail(x, x->inner, err);
	for (;;) {
		r = archive_read_next_header(x->inner, &ae);
		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN)
			return archive_fail(x, x->inner, err);
		if (cancelled(x))
			return bk_err_set(err, EINTR, "interrupted");
		if (++x->st.entries > x->lim->entries)
			return bk_err_set(err, EBADMSG, "layer has more than %llu entries",
					  (unsigned long long)x->lim->entries);
		if (check_size(x, ae, err) < 0 || apply_entry(x, ae, err) < 0) {
			if (err->code == 0)
				return archive_fail(x, x->inner, err);
			return -err->code;
		}
	}
}

/* After the tar's end: let the inflater finish (hashing the rest); its status. */
static int
drain(struct xtract *x, struct bk_err *err)
{
	struct blockq_block b;
	int status = 0;

	while (blockq_pop(&x->q, &b, &status) == 1)
		free(b.data);
	pthread_join(x->inflater, NULL);
	x->inflating = false;
	if (status < 0) {
		*err = x->outer_err;
		return -err->code;
	}
	return 0;
}

/* Start the inflater once the decompressor has read its first bytes. */
static int
start_inflater(struct xtract *x, struct bk_err *err)
{
	int r = pthread_create(&x->inflater, NULL, inflate_main, x);

	if (r != 0)
		return bk_err_set(err, r, "cannot start the decompression thread");
	x->inflating = true;
	return 0;
}

/* On any failure: stop the inflater and wait for it. */
static void
stop_inflater(struct xtract *x)
{
	if (!x->inflating)
		return;
	blockq_stop(&x->q);
	pthread_join(x->inflater, NULL);
	x->inflating = false;
}

const struct layer_limits layer_default_limits = {
	.entries = LAYER_ENTRIES_MAX,
	.tar_bytes = LAYER_TAR_MAX,
	.entry_size = LAYER_ENTRY_SIZE_MAX,
	.ratio = LAYER_RATIO_MAX,
	.ratio_floor = LAYER_RATIO_FLOOR,
};

int
layer_extract(int root_dfd, enum layer_comp comp, const struct layer_reader *src,
	      struct bk_cancel *cancel, char diff_id[DIGEST_STR_SIZE], struct layer_stats *stats,
	      struct bk_err *err)
{
	return layer_extract_limited(root_dfd, comp, src, &layer_default_limits, cancel, diff_id,
				     stats, err);
}

int
layer_extract_limited(int root_dfd, enum layer_comp comp, const struct layer_reader *src,
		      const struct layer_limits *limits, struct bk_cancel *cancel,
		      char diff_id[DIGEST_STR_SIZE], struct layer_stats *stats, struct bk_err *err)
{
	struct xtract x = { .root = root_dfd, .src = src, .cancel = cancel, .cache_fd = -1 };
	int ret;

	x.lim = limits;
	x.as_root = geteuid() == 0;
	pathset_init(&x.seen, limits->entries);
	digest_init(&x.diff);
	blockq_init(&x.q);
	ret = open_outer(&x, comp, err);
	if (ret == 0)
		ret = start_inflater(&x, err);
	if (ret == 0)
		ret = extract_entries(&x, err);
	if (ret == 0)
		ret = drain(&x, err);
	stop_inflater(&x);
	if (ret == 0) {
		apply_dir_times(&x);
		digest_final(&x.diff, diff_id);
	}
	free(x.cur.data);
	free(x.join);
	blockq_destroy(&x.q);
	digest_free(&x.diff);
	if (x.inner)
		archive_read_free(x.inner);
	if (x.outer)
		archive_read_free(x.outer);
	cache_drop(&x);
	pathset_free(&x.seen);
	free(x.dirs);
	if (stats)
		*stats = x.st;
	return ret;
}
