/*
 * The FUSE low-level operations.  Each handler finds the node, makes at most
 * one engine call and replies exactly once; nothing here sleeps or touches
 * our own mount.  Long commands are parked (work.c), changes the daemon makes
 * by itself reach inotify through the notifier (notify.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fsd.h"

/* Fixed nodes never change; per-object ones are checked again after a second. */
#define STATIC_TIMEOUT	3600.0
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

	return (kind == N_IMG || parent == N_IMG) ? DYNAMIC_TIMEOUT : STATIC_TIMEOUT;
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
	e.attr_timeout = e.entry_timeout = timeout_of(ino_kind(ino));
	fuse_reply_entry(req, &e);
}

static void
op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* O_TRUNC arrives with open, so `echo x > ctl` needs no setattr. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
}

static void
op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	enum node_kind pkind = ino_kind(parent), kind;
	uint64_t serial;

	kind = tree_child_kind(pkind, name);
	if (kind != N_NONE) {
		reply_entry(req, ino_make(kind, ino_serial(parent)));
		return;
	}
	if (pkind == N_IMAGES && image_visible(fsd_of(req), name, &serial)) {
		reply_entry(req, ino_make(N_IMG, serial));
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
		fuse_reply_attr(req, &st, timeout_of(ino_kind(ino)));
}

static void
op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
	   struct fuse_file_info *fi)
{
	enum node_kind kind = ino_kind(ino);

	(void)fi;
	/* Truncation to 0 is what `>` does; it means nothing to a control file. */
	if (to_set == FUSE_SET_ATTR_SIZE && attr->st_size == 0 &&
	    (node_types[kind].control || notify_is_self(req))) {
		op_getattr(req, ino, NULL);
		return;
	}
	fuse_reply_err(req, EACCES);
}

static void
op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct bk_image_info info;
	struct bk_err err = BK_ERR_INIT;

	if (ino_kind(ino) != N_IMG_ROOT) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (bk_image_get(fsd_of(req)->engine, NULL, ino_serial(ino), &info, &err) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fuse_reply_readlink(req, info.root_path);
	bk_image_info_free(&info);
}

struct dirh {
	char *buf;
	size_t len;
};

static void
op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dirh *d = calloc(1, sizeof(*d));

	if (d == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	/* One listing per open: readdir pages through a consistent snapshot. */
	d->buf = tree_list(fsd_of(req), req, ino, 0, &d->len);
	if (d->buf == NULL) {
		free(d);
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	fi->fh = (uintptr_t)d;
	fuse_reply_open(req, fi);
}

static void
op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;

	(void)ino;
	if (off < 0 || (size_t)off >= d->len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, d->buf + off,
			       d->len - (size_t)off < size ? d->len - (size_t)off : size);
}

static void
op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dirh *d = (struct dirh *)(uintptr_t)fi->fh;

	(void)ino;
	free(d->buf);
	free(d);
	fuse_reply_err(req, 0);
}

static void
ofile_free(struct ofile *of)
{
	pthread_mutex_destroy(&of->lock);
	free(of->data);
	free(of->in);
	free(of->reply);
	free(of);
}

static void
op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	enum node_kind kind = ino_kind(ino);
	bool writing = (fi->flags & O_ACCMODE) != O_RDONLY;
	struct stat st;
	struct ofile *of;
	int ret;

	ret = tree_stat(fsd_of(req), ino, &st);
	if (ret < 0) {
		fuse_reply_err(req, -ret);
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (writing && !node_types[kind].control && !notify_is_self(req)) {
		fuse_reply_err(req, EACCES);
		return;
	}
	of = calloc(1, sizeof(*of));
	if (of == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_init(&of->lock, NULL);
	of->kind = kind;
	of->serial = ino_serial(ino);
	if (!node_types[kind].control && !writing) {
		ret = render_file(fsd_of(req), kind, of->serial, &of->data, &of->len);
		if (ret < 0) {
			ofile_free(of);
			fuse_reply_err(req, -ret);
			return;
		}
	}
	/* Contents change behind the page cache's back: always ask us. */
	fi->direct_io = 1;
	if (node_types[kind].control)
		fi->nonseekable = 1;
	fi->fh = (uintptr_t)of;
	fuse_reply_open(req, fi);
}

static void
reply_slice(fuse_req_t req, const char *buf, size_t len, size_t off, size_t size)
{
	if (buf == NULL || off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, buf + off, len - off < size ? len - off : size);
}

static void
op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct ofile *of = (struct ofile *)(uintptr_t)fi->fh;

	(void)ino;
	if (!node_types[of->kind].control) {
		reply_slice(req, of->data, of->len, (size_t)off, size);
		return;
	}
	/* A control file reads back the reply to its last command, whatever the offset. */
	pthread_mutex_lock(&of->lock);
	reply_slice(req, of->reply, of->reply_len, of->reply_pos, size);
	if (of->reply && of->reply_pos < of->reply_len)
		of->reply_pos += of->reply_len - of->reply_pos < size ? of->reply_len - of->reply_pos
								       : size;
	pthread_mutex_unlock(&of->lock);
}

static void
op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
	 struct fuse_file_info *fi)
{
	struct ofile *of = (struct ofile *)(uintptr_t)fi->fh;

	(void)ino;
	(void)off;
	/* The notifier's writes exist only to raise IN_MODIFY. */
	if (notify_is_self(req) && !node_types[of->kind].control) {
		fuse_reply_write(req, size);
		return;
	}
	if (!node_types[of->kind].control) {
		fuse_reply_err(req, EACCES);
		return;
	}
	control_write(fsd_of(req), req, of, buf, size, false);
}

static void
op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct ofile *of = (struct ofile *)(uintptr_t)fi->fh;

	(void)ino;
	/* A last command without its newline runs at close; its errno is close()'s. */
	if (node_types[of->kind].control && of->in_len > 0 && !notify_is_self(req)) {
		control_write(fsd_of(req), req, of, NULL, 0, true);
		return;
	}
	fuse_reply_err(req, 0);
}

static void
op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	ofile_free((struct ofile *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void
op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct bk_image_info info;
	struct bk_err err = BK_ERR_INIT;

	(void)mode;
	/* The notifier announcing a new image (see notify.c). */
	if (notify_is_self(req) && ino_kind(parent) == N_IMAGES &&
	    bk_image_get(fsd_of(req)->engine, name, 0, &info, &err) == 0) {
		fuse_ino_t ino = ino_make(N_IMG, info.serial);

		bk_image_info_free(&info);
		reply_entry(req, ino);
		return;
	}
	fuse_reply_err(req, EACCES);
}

static void
op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fsd *fs = fsd_of(req);
	struct bk_err err = BK_ERR_INIT;
	char path[128];
	int ret;

	if (ino_kind(parent) != N_IMAGES) {
		fuse_reply_err(req, tree_child_kind(ino_kind(parent), name) ? EACCES : ENOENT);
		return;
	}
	if (notify_is_self(req)) {
		fuse_reply_err(req, 0);
		return;
	}
	if (tree_child_kind(N_IMAGES, name) != N_NONE) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	if (!image_visible(fs, name, NULL)) {
		bk_err_set(&err, ENOENT, "no image '%s'", name);
		ret = -ENOENT;
	} else {
		notify_handler_removing(true);
		ret = bk_image_remove(fs->engine, name, &err);
		notify_handler_removing(false);
	}
	if (ret < 0) {
		snprintf(path, sizeof(path), "/images/%s", name);
		errlog_record(path, "images", "rmdir", &err);
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
};
