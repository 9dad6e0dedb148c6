/*
 * The FUSE low-level operations.  Each handler finds the node, makes at most
 * one engine call and replies exactly once; nothing here sleeps or touches
 * our own mount.  Long commands are parked (work.c), changes the daemon makes
 * by itself reach inotify through the notifier (notify.c).
 */
#include <errno.h>
#include <poll.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "fsd.h"

/* Fixed nodes never change; per-object ones are checked again after a second. */
#define STATIC_TIMEOUT  3600.0
#define DYNAMIC_TIMEOUT 1.0

static struct fsd *
fsd_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static double
timeout_of(enum node_kind kind)
{
	enum node_kind parent = node_types[kind].parent;

	/* Looked up at every open: a fresh inode each (see INO_INSTANCE_SHIFT). */
	if (node_types[kind].io == IO_CONTROL)
		return 0.0;

	if (kind == N_IMG || parent == N_IMG || kind == N_CTR || parent == N_CTR || kind == N_VOL ||
	    parent == N_VOL)
		return kind == N_CTR_LOG || kind == N_IMG_LOG ? 0.0 : DYNAMIC_TIMEOUT;
	return STATIC_TIMEOUT;
}

/*
 * Attributes of files whose content changes are not cached: their size is
 * the size of what a read gives now (the kernel's splice and sendfile stop at
 * the size it knows).  `state` is the exception, dropped at each change.
 */
static double
attr_timeout_of(enum node_kind kind)
{
	enum node_io io = node_types[kind].io;

	if (kind == N_VERSION || io == IO_DIR || io == IO_LINK)
		return timeout_of(kind);
	/*
	 * The hottest file: kept, so that its open costs no GETATTR (about a
	 * fifth of a state read); every change drops them at once
	 * (notify.c, state_attrs_changed).
	 */
	if (kind == N_CTR_STATE)
		return DYNAMIC_TIMEOUT;
	return 0.0;
}

static void
reply_entry(fuse_req_t req, fuse_ino_t ino)
{
	struct fuse_entry_param e = { 0 };
	int ret = tree_stat(fsd_of(req), ino, &e.attr);

	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	e.ino = ino;
	e.entry_timeout = timeout_of(ino_kind(ino));
	e.attr_timeout = attr_timeout_of(ino_kind(ino));
	fuse_reply_entry(req, &e);
}

/* Refuse an operation on ino, with the reason where the tree shows errors. */
static void
refuse(fuse_req_t req, fuse_ino_t ino, const char *op, int code, const char *why)
{
	struct fsd *fs = fsd_of(req);
	struct bk_err err = BK_ERR_INIT;
	char owner[OBJ_PATH_SIZE];
	char *path = tree_path(fs, ino);

	if (obj_path(ino_kind(ino), ino_serial(ino), fs, owner, sizeof(owner)) < 0)
		snprintf(owner, sizeof(owner), "%s", "");
	bk_err_set(&err, code, "%s '%s': %s", op, path, why);
	errlog_record(path, owner, op, &err);
	free(path);
	fuse_reply_err(req, code);
}

static void
op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* O_TRUNC arrives with open, so `echo x > ctl` needs no setattr. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
	/* As mounted: libfuse refuses a session whose two values differ. */
	conn->max_read = FSD_MAX_READ;
}

static void
op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	enum node_kind pkind = ino_kind(parent), kind;
	uint64_t serial;

	kind = tree_child_kind(pkind, name);
	if (kind != N_NONE) {
		fuse_ino_t ino = ino_make(kind, ino_serial(parent));

		if (node_types[kind].io == IO_CONTROL) {
			static atomic_uint instance;

			ino |= (fuse_ino_t)(atomic_fetch_add(&instance, 1) % 255 + 1)
			       << INO_INSTANCE_SHIFT;
		}
		reply_entry(req, ino);
		return;
	}
	if (pkind == N_IMAGES && image_visible(fsd_of(req), name, &serial)) {
		reply_entry(req, ino_make(N_IMG, serial));
		return;
	}
	if (pkind == N_CTRS && container_visible(fsd_of(req), name, &serial)) {
		reply_entry(req, ino_make(N_CTR, serial));
		return;
	}
	if (pkind == N_VOLS && volume_visible(fsd_of(req), name, &serial)) {
		reply_entry(req, ino_make(N_VOL, serial));
		return;
	}
	if (pkind == N_CTR_EXEC && name[0] >= '1' && name[0] <= '9' &&
	    strspn(name, "0123456789") == strlen(name) && strlen(name) < 6) {
		reply_entry(req, ino_make(N_EXEC, EXEC_SERIAL(ino_serial(parent), atoi(name))));
		return;
	}
	fuse_reply_err(req, ENOENT);
}

static void
op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;
	int ret = tree_stat(fsd_of(req), ino, &st);

	(void)fi;
	if (ret < 0)
		fuse_reply_err(req, -ret);
	else
		fuse_reply_attr(req, &st, attr_timeout_of(ino_kind(ino)));
}

static void
op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set, struct fuse_file_info *fi)
{
	enum node_kind kind = ino_kind(ino);

	(void)fi;
	/* Truncation to 0 is what `>` does; it means nothing to a control file. */
	if (to_set == FUSE_SET_ATTR_SIZE && attr->st_size == 0 &&
	    (node_types[kind].io == IO_CONTROL || node_types[kind].io == IO_CONFIG ||
	     notify_is_self(req))) {
		op_getattr(req, ino, NULL);
		return;
	}
	fuse_reply_err(req, EACCES);
}

static void
op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct bk_err err = BK_ERR_INIT;
	struct fsd *fs = fsd_of(req);

	if (ino_kind(ino) == N_IMG_ROOT) {
		struct bk_image_info info;

		if (bk_image_get(fs->engine, NULL, ino_serial(ino), &info, &err) < 0) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		fuse_reply_readlink(req, info.root_path);
		bk_image_info_free(&info);
		return;
	}
	if (ino_kind(ino) == N_CTR_ROOT) {
		struct bk_container_info info;
		char *path = NULL;

		if (bk_container_get(fs->engine, NULL, ino_serial(ino), &info, &err) < 0) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		/* Before the first start there is no filesystem yet: a dangling link. */
		if (info.root_path[0] == '\0')
			path = xasprintf("%s/containers/%s/rootfs",
					 bk_engine_store_path(fs->engine), info.id);
		fuse_reply_readlink(req, path ? path : info.root_path);
		free(path);
		bk_container_info_free(&info);
		return;
	}
	if (ino_kind(ino) == N_VOL_ROOT) {
		struct bk_volume_info info;

		if (bk_volume_get(fs->engine, NULL, ino_serial(ino), &info, &err) < 0) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		fuse_reply_readlink(req, info.path);
		bk_volume_info_free(&info);
		return;
	}
	fuse_reply_err(req, EINVAL);
}

/* A directory listing per open; readdir holds a reference (see op_read). */
struct dirh {
	atomic_int refs;
	char *buf;
	size_t len;
	struct handle open; /* in open_dirs */
};

static struct handle_list open_dirs = HANDLE_LIST_INIT;

static void
dirh_destroy(struct dirh *d)
{
	free(d->buf);
	free(d);
}

static void
destroy_handle(struct handle *h)
{
	dirh_destroy(container_of(h, struct dirh, open));
}

/* After the session is gone: directories never released (as ofile_free_all). */
void
dirh_free_all(void)
{
	handle_drain(&open_dirs, destroy_handle);
}

static struct dirh *
dirh_get(struct dirh *d)
{
	atomic_fetch_add(&d->refs, 1);
	return d;
}

static void
dirh_put(struct dirh *d)
{
	if (atomic_fetch_sub(&d->refs, 1) != 1)
		return;
	handle_untrack(&open_dirs, &d->open);
	dirh_destroy(d);
}

static void
op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dirh *d = xcalloc(1, sizeof(*d));

	/* One listing per open: readdir pages through a consistent snapshot. */
	d->buf = tree_list(fsd_of(req), req, ino, &d->len);
	if (d->buf == NULL) {
		free(d);
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	atomic_init(&d->refs, 1);
	handle_track(&open_dirs, &d->open);
	fi->fh = (uintptr_t)d;
	fuse_reply_open(req, fi);
}

static void
op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct dirh *d = dirh_get((struct dirh *)(uintptr_t)fi->fh);

	(void)ino;
	if (off < 0 || (size_t)off >= d->len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, d->buf + off,
			       d->len - (size_t)off < size ? d->len - (size_t)off : size);
	dirh_put(d);
}

static void
op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	dirh_put((struct dirh *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void
op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	enum node_kind kind = ino_kind(ino);
	enum node_io io = node_types[kind].io;
	bool writing = (fi->flags & O_ACCMODE) != O_RDONLY;
	struct bk_err err = BK_ERR_INIT;
	struct stat st;
	struct ofile *of;
	int ret;

	ret = tree_stat(fsd_of(req), ino, &st);
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	if (io == IO_DIR) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (writing && io != IO_CONTROL && io != IO_CONFIG && io != IO_EXEC_IN && io != IO_CTR_IN &&
	    !notify_is_self(req)) {
		refuse(req, ino, "open", EACCES, "read-only file");
		return;
	}
	of = ofile_new(kind, ino_serial(ino), fi->flags);
	ret = 0;
	if ((io == IO_TEXT || io == IO_CONFIG) && !writing)
		ret = render_file(fsd_of(req), kind, of->serial, &of->data, &of->len);
	else if (io == IO_LOG)
		ret = of->log_fd =
		    kind == N_IMG_LOG
			? bk_image_open_build_log(fsd_of(req)->engine, of->serial, &err)
			: bk_container_open_log(fsd_of(req)->engine, of->serial, false, &err);
	else if (io == IO_EVENTS)
		events_open(of);
	else if (io == IO_CTR_OUT)
		ret = ctr_out_open(fsd_of(req), of);
	if (ret < 0) {
		ofile_put(of);
		fuse_reply_err(req, -ret);
		return;
	}
	/* Contents change behind the page cache's back: always ask us. */
	fi->direct_io = 1;
	/* Only control files act at close (a last command without its newline). */
	if (io != IO_CONTROL)
		fi->noflush = 1;
	if (io == IO_CONTROL)
		fi->nonseekable = 1;
	fi->fh = (uintptr_t)of;
	fuse_reply_open(req, fi);
}

static void
read_log(fuse_req_t req, struct ofile *of, size_t size, off_t off)
{
	char *buf = xmalloc(size);
	ssize_t n = pread(of->log_fd, buf, size, off);

	if (n < 0)
		fuse_reply_err(req, errno);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void
op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	/*
	 * Held for the whole handler: a reader killed while its request is
	 * served closes the file, and the release may come before we are done.
	 */
	struct ofile *of = ofile_get((struct ofile *)(uintptr_t)fi->fh);

	(void)ino;
	switch (node_types[of->kind].io) {
	case IO_CONTROL:
		/* The reply to the last command, whatever the offset. */
		pthread_mutex_lock(&of->lock);
		reply_slice(req, of->reply, of->reply_len, of->reply_pos, size);
		if (of->reply && of->reply_pos < of->reply_len)
			of->reply_pos += of->reply_len - of->reply_pos < size
					     ? of->reply_len - of->reply_pos
					     : size;
		pthread_mutex_unlock(&of->lock);
		break;
	case IO_CONFIG:
		/* After a write on this open file: the reply (an error); else the value. */
		pthread_mutex_lock(&of->lock);
		if (of->reply) {
			reply_slice(req, of->reply, of->reply_len, of->reply_pos, size);
			of->reply_pos += of->reply_len - of->reply_pos < size
					     ? of->reply_len - of->reply_pos
					     : size;
		} else {
			reply_slice(req, of->data, of->len, (size_t)off, size);
		}
		pthread_mutex_unlock(&of->lock);
		break;
	case IO_CLONE:
		clone_read(fsd_of(req), req, of, size, off);
		break;
	case IO_EXEC_CLONE:
		exec_clone_read(fsd_of(req), req, of, size, off);
		break;
	case IO_EXEC_OUT:
		exec_out_read(fsd_of(req), req, of, size, off);
		break;
	case IO_CTR_OUT:
		ctr_out_read(fsd_of(req), req, of, size, off);
		break;
	case IO_EXEC_WAIT:
		exec_wait_read(fsd_of(req), req, of, size, off);
		break;
	case IO_WAIT:
		waitq_read(fsd_of(req), req, of, size, off);
		break;
	case IO_EVENTS:
		events_read(req, of, size);
		break;
	case IO_LOG:
		read_log(req, of, size, off);
		break;
	default:
		reply_slice(req, of->data, of->len, (size_t)off, size);
		break;
	}
	ofile_put(of);
}

static void
op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
	 struct fuse_file_info *fi)
{
	struct ofile *of = ofile_get((struct ofile *)(uintptr_t)fi->fh);

	(void)ino;
	(void)off;
	/* The notifier's writes exist only to raise IN_MODIFY. */
	if (notify_is_self(req)) {
		fuse_reply_write(req, size);
		ofile_put(of);
		return;
	}
	switch (node_types[of->kind].io) {
	case IO_CONTROL:
		control_write(fsd_of(req), req, of, buf, size, false);
		break;
	case IO_CONFIG:
		config_write(fsd_of(req), req, of, buf, size, false);
		break;
	case IO_EXEC_IN:
		exec_in_write(fsd_of(req), req, of, buf, size);
		break;
	case IO_CTR_IN:
		ctr_in_write(fsd_of(req), req, of, buf, size);
		break;
	default:
		fuse_reply_err(req, EACCES);
		break;
	}
	ofile_put(of);
}

static void
op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ofile *of = (struct ofile *)(uintptr_t)fi->fh;
	enum node_io io = node_types[of->kind].io;

	(void)ino;
	if (notify_is_self(req)) {
		fuse_reply_err(req, 0);
		return;
	}
	/* A last command without its newline runs at close; its errno is close()'s. */
	if (io == IO_CONTROL && of->in_len > 0) {
		control_write(fsd_of(req), req, of, NULL, 0, true);
		return;
	}
	fuse_reply_err(req, 0);
}

static void
op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ofile *of = (struct ofile *)(uintptr_t)fi->fh;

	(void)ino;
	if (node_types[of->kind].io == IO_EVENTS)
		events_release(of);
	if (node_types[of->kind].io == IO_EXEC_IN)
		exec_in_release(fsd_of(req), of);
	if (node_types[of->kind].io == IO_CTR_IN)
		ctr_in_release(fsd_of(req), of);
	if (node_types[of->kind].io == IO_CTR_OUT)
		ctr_out_release(fsd_of(req), of);
	ofile_put(of);
	fuse_reply_err(req, 0);
}

static void
op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi, struct fuse_pollhandle *ph)
{
	struct ofile *of = (struct ofile *)(uintptr_t)fi->fh;

	(void)ino;
	if (node_types[of->kind].io == IO_EVENTS) {
		events_poll(req, of, ph);
		return;
	}
	if (ph)
		fuse_pollhandle_destroy(ph);
	/* Everything else is always readable, as regular files are. */
	fuse_reply_poll(req, POLLIN | POLLRDNORM);
}

static void
op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fsd *fs = fsd_of(req);
	struct bk_err err = BK_ERR_INIT;
	enum node_kind pkind = ino_kind(parent);
	char id[BK_ID_SIZE], path[256];
	uint64_t serial = 0;
	int ret;

	(void)mode;
	/* The notifier announcing a new object (see notify.c). */
	if (notify_is_self(req)) {
		struct bk_image_info ii;
		struct bk_container_info ci;
		struct bk_volume_info vi;

		if (pkind == N_IMAGES && bk_image_get(fs->engine, name, 0, &ii, &err) == 0) {
			serial = ii.serial;
			bk_image_info_free(&ii);
			reply_entry(req, ino_make(N_IMG, serial));
			return;
		}
		if (pkind == N_CTRS && bk_container_get(fs->engine, name, 0, &ci, &err) == 0) {
			serial = ci.serial;
			bk_container_info_free(&ci);
			reply_entry(req, ino_make(N_CTR, serial));
			return;
		}
		if (pkind == N_VOLS && bk_volume_get(fs->engine, name, 0, &vi, &err) == 0) {
			serial = vi.serial;
			bk_volume_info_free(&vi);
			reply_entry(req, ino_make(N_VOL, serial));
			return;
		}
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (pkind == N_VOLS) {
		/* mkdir volumes/NAME: docker volume create NAME. */
		notify_in_handler(true);
		ret = bk_volume_create(fs->engine, name, &err);
		notify_in_handler(false);
		if (ret < 0) {
			snprintf(path, sizeof(path), "/volumes/%.200s", name);
			bk_err_wrap(&err, "mkdir");
			errlog_record(path, "volumes", "mkdir", &err);
			fuse_reply_err(req, -ret);
			return;
		}
		if (!volume_visible(fs, name, &serial)) {
			fuse_reply_err(req, ENOENT);
			return;
		}
		reply_entry(req, ino_make(N_VOL, serial));
		return;
	}
	if (pkind != N_CTRS) {
		char *dir = tree_path(fs, parent);

		snprintf(path, sizeof(path), "%s/%.200s", dir && strcmp(dir, "/") ? dir : "", name);
		free(dir);
		bk_err_set(&err, EACCES,
			   "mkdir '%.64s': only containers/ and volumes/ take new directories",
			   name);
		errlog_record(path, pkind == N_IMAGES ? "images" : "containers", "mkdir", &err);
		fuse_reply_err(req, EACCES);
		return;
	}
	/* mkdir containers/NAME: a named container, as `docker create --name`. */
	notify_in_handler(true);
	ret = bk_container_create(fs->engine, name, id, &err);
	notify_in_handler(false);
	if (ret < 0) {
		snprintf(path, sizeof(path), "/containers/%.200s", name);
		bk_err_wrap(&err, "mkdir");
		errlog_record(path, "containers", "mkdir", &err);
		fuse_reply_err(req, -ret);
		return;
	}
	if (!container_visible(fs, id, &serial)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	reply_entry(req, ino_make(N_CTR, serial));
}

static void
op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fsd *fs = fsd_of(req);
	struct bk_err err = BK_ERR_INIT;
	enum node_kind pkind = ino_kind(parent);
	char path[256];
	const char *dir;
	int ret;

	if (pkind != N_IMAGES && pkind != N_CTRS && pkind != N_VOLS) {
		fuse_reply_err(req, tree_child_kind(pkind, name) ? EACCES : ENOENT);
		return;
	}
	if (notify_is_self(req)) {
		fuse_reply_err(req, 0);
		return;
	}
	if (tree_child_kind(pkind, name) != N_NONE) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	dir = pkind == N_IMAGES ? "images" : pkind == N_VOLS ? "volumes" : "containers";
	notify_in_handler(true);
	if (pkind == N_IMAGES && !image_visible(fs, name, NULL))
		ret = bk_err_set(&err, ENOENT, "no image '%s'", name);
	else if (pkind == N_CTRS && !container_visible(fs, name, NULL))
		ret = bk_err_set(&err, ENOENT, "no container '%s'", name);
	else if (pkind == N_VOLS && !volume_visible(fs, name, NULL))
		ret = bk_err_set(&err, ENOENT, "no volume '%s'", name);
	else if (pkind == N_VOLS)
		ret = bk_volume_remove(fs->engine, name, &err);
	else if (pkind == N_IMAGES)
		ret = bk_image_remove(fs->engine, name, false, &err);
	else
		ret = bk_container_remove(fs->engine, name, false, &err);
	notify_in_handler(false);
	if (ret < 0) {
		snprintf(path, sizeof(path), "/%s/%.200s", dir, name);
		/* An unknown name's failure belongs to the directory; others to the object. */
		bk_err_wrap(&err, "rmdir");
		errlog_record(path, ret == -ENOENT ? dir : path + 1, "rmdir", &err);
	}
	fuse_reply_err(req, ret < 0 ? -ret : 0);
}

/* The tree's shape is fixed: no new files, links or renames. */
static void
op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode, dev_t rdev)
{
	(void)parent;
	(void)name;
	(void)mode;
	(void)rdev;
	fuse_reply_err(req, EACCES);
}

static void
op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
	  struct fuse_file_info *fi)
{
	(void)fi;
	op_mknod(req, parent, name, mode, 0);
}

static void
op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent;
	(void)name;
	fuse_reply_err(req, EACCES);
}

static void
op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	(void)link;
	op_unlink(req, parent, name);
}

static void
op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char *name)
{
	(void)ino;
	op_unlink(req, parent, name);
}

static void
op_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
	  const char *newname, unsigned int flags)
{
	(void)newparent;
	(void)newname;
	(void)flags;
	op_unlink(req, parent, name);
}

const struct fuse_lowlevel_ops fsd_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.releasedir = op_releasedir,
	.create = op_create,
	.poll = op_poll,
};
