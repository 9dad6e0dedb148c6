/*
 * The shape of the tree, derived from the node table (nodes.c): which names
 * each directory holds, the objects its nodes name, their attributes and
 * paths, and directory listings.  New objects stay hidden until announced
 * (unannounced.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "fsd.h"

/* The fixed child of parent called name, or N_NONE. */
enum node_kind
tree_child_kind(enum node_kind parent, const char *name)
{
	int k;

	for (k = N_ROOT + 1; k < N_KIND_MAX; k++)
		if (node_types[k].parent == parent && node_types[k].name &&
		    strcmp(node_types[k].name, name) == 0)
			return (enum node_kind)k;
	return N_NONE;
}

/* An image the tree shows: known to the engine and already announced. */
bool
image_visible(struct fsd *fs, const char *id, uint64_t *serial)
{
	struct bk_image_info info;
	struct bk_err err = BK_ERR_INIT;
	char path[OBJ_PATH_SIZE];

	snprintf(path, sizeof(path), "images/%s", id);
	if (strncmp(id, "img_", 4) != 0 || unannounced_has(path))
		return false;
	if (bk_image_get(fs->engine, id, 0, &info, &err) < 0)
		return false;
	if (serial)
		*serial = info.serial;
	bk_image_info_free(&info);
	return true;
}

bool
container_visible(struct fsd *fs, const char *id, uint64_t *serial)
{
	struct bk_container_info info;
	struct bk_err err = BK_ERR_INIT;
	char path[OBJ_PATH_SIZE];

	snprintf(path, sizeof(path), "containers/%s", id);
	if (unannounced_has(path))
		return false;
	if (bk_container_get(fs->engine, id, 0, &info, &err) < 0)
		return false;
	if (serial)
		*serial = info.serial;
	bk_container_info_free(&info);
	return true;
}

bool
volume_visible(struct fsd *fs, const char *name, uint64_t *serial)
{
	struct bk_volume_info info;
	struct bk_err err = BK_ERR_INIT;
	char path[OBJ_PATH_SIZE];

	snprintf(path, sizeof(path), "volumes/%s", name);
	if (unannounced_has(path))
		return false;
	if (bk_volume_get(fs->engine, name, 0, &info, &err) < 0)
		return false;
	if (serial)
		*serial = info.serial;
	bk_volume_info_free(&info);
	return true;
}

const char *
obj_dir_of(enum bk_obj_kind kind)
{
	return kind == BK_OBJ_IMAGE ? "images" : kind == BK_OBJ_VOLUME ? "volumes" : "containers";
}

/* The container id and session number a node of kind/serial is about. */
int
exec_ids(struct fsd *fs, enum node_kind kind, uint64_t serial, char *ctr_id, size_t size, int *n)
{
	struct bk_container_info info;
	struct bk_err err = BK_ERR_INIT;
	bool per_session = kind != N_EXEC_CLONE && kind != N_CTR_EXEC;
	uint64_t ctr = per_session ? EXEC_CTR(serial) : serial;

	if (bk_container_get(fs->engine, NULL, ctr, &info, &err) < 0)
		return -ENOENT;
	snprintf(ctr_id, size, "%s", info.id);
	bk_container_info_free(&info);
	*n = per_session ? EXEC_N(serial) : 0;
	if (per_session && !bk_exec_exists(fs->engine, ctr_id, *n))
		return -ENOENT;
	return 0;
}

/* The object a per-object node belongs to: its kind of directory, or N_NONE. */
static enum node_kind
object_dir(enum node_kind kind)
{
	if (kind == N_IMG || node_types[kind].parent == N_IMG)
		return N_IMG;
	if (kind == N_CTR || node_types[kind].parent == N_CTR)
		return N_CTR;
	if (kind == N_EXEC_CLONE || kind == N_EXEC || node_types[kind].parent == N_EXEC)
		return N_EXEC;
	if (kind == N_VOL || node_types[kind].parent == N_VOL)
		return N_VOL;
	return N_NONE;
}

/* "images/ID" or "containers/ID" for the object serial belongs to; -ENOENT if gone. */
int
obj_path(enum node_kind kind, uint64_t serial, struct fsd *fs, char *buf, size_t size)
{
	switch (object_dir(kind)) {
	case N_IMG: {
		char id[BK_ID_SIZE];

		if (bk_image_id(fs->engine, serial, id) < 0)
			return -ENOENT;
		snprintf(buf, size, "images/%s", id);
		return 0;
	}
	case N_CTR: {
		char id[BK_ID_SIZE];

		if (bk_container_id(fs->engine, serial, id) < 0)
			return -ENOENT;
		snprintf(buf, size, "containers/%s", id);
		return 0;
	}
	case N_EXEC: {
		char id[BK_ID_SIZE];
		int n;

		if (exec_ids(fs, kind, serial, id, sizeof(id), &n) < 0)
			return -ENOENT;
		snprintf(buf, size, "containers/%s", id);
		return 0;
	}
	case N_VOL: {
		struct bk_volume_info info;
		struct bk_err err = BK_ERR_INIT;

		if (bk_volume_get(fs->engine, NULL, serial, &info, &err) < 0)
			return -ENOENT;
		snprintf(buf, size, "volumes/%s", info.name);
		bk_volume_info_free(&info);
		return 0;
	}
	default:
		if (kind == N_ROOT)
			snprintf(buf, size, "%s", "");
		else if (node_types[kind].parent == N_ROOT)
			snprintf(buf, size, "%s", node_types[kind].name);
		else
			snprintf(buf, size, "%s", node_types[node_types[kind].parent].name);
		return 0;
	}
}

static off_t
log_size(struct fsd *fs, enum node_kind kind, uint64_t serial)
{
	struct bk_err err = BK_ERR_INIT;
	struct stat st;
	int fd = kind == N_IMG_LOG ? bk_image_open_build_log(fs->engine, serial, &err)
				   : bk_container_open_log(fs->engine, serial, false, &err);
	off_t size = 0;

	if (fd >= 0) {
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
			size = st.st_size;
		close(fd);
	}
	return size;
}

int
tree_stat(struct fsd *fs, fuse_ino_t ino, struct stat *st)
{
	enum node_kind kind = ino_kind(ino);
	char path[OBJ_PATH_SIZE];

	if (kind <= N_NONE || kind >= N_KIND_MAX)
		return -ENOENT;
	if (object_dir(kind) != N_NONE &&
	    obj_path(kind, ino_serial(ino), fs, path, sizeof(path)) < 0)
		return -ENOENT;
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = node_types[kind].mode;
	st->st_nlink = S_ISDIR(st->st_mode) ? 2 : 1;
	/* Streams (events, wait, out, clone) have no size; files have their content's. */
	if (kind == N_CTR_LOG || kind == N_IMG_LOG) {
		st->st_size = log_size(fs, kind, ino_serial(ino));
	} else if (S_ISLNK(st->st_mode)) {
		st->st_size = 1;
	} else if (node_types[kind].io == IO_TEXT || node_types[kind].io == IO_CONFIG) {
		char *text = NULL;
		size_t len = 0;

		/* The size a read would give now: sendfile() and splice() stop there. */
		if (render_file(fs, kind, ino_serial(ino), &text, &len) == 0)
			st->st_size = (off_t)len;
		free(text);
	}
	st->st_atim = st->st_mtim = st->st_ctim = fs->started;
	return 0;
}

/* "/images/img_x/state" for messages; malloc'd, never NULL. */
char *
tree_path(struct fsd *fs, fuse_ino_t ino)
{
	enum node_kind kind = ino_kind(ino);
	const char *name = node_types[kind].name;
	char obj[OBJ_PATH_SIZE];

	if (kind == N_ROOT)
		return xstrdup("/");
	if (object_dir(kind) == N_EXEC) {
		char id[BK_ID_SIZE];
		int n;

		if (exec_ids(fs, kind, ino_serial(ino), id, sizeof(id), &n) < 0)
			return xstrdup("/?");
		if (kind == N_EXEC_CLONE)
			return xasprintf("/containers/%s/exec/clone", id);
		if (kind == N_EXEC)
			return xasprintf("/containers/%s/exec/%d", id, n);
		return xasprintf("/containers/%s/exec/%d/%s", id, n, name);
	}
	if (object_dir(kind) != N_NONE) {
		if (obj_path(kind, ino_serial(ino), fs, obj, sizeof(obj)) < 0)
			return xstrdup("/?");
		if (kind == N_IMG || kind == N_CTR || kind == N_VOL)
			return xasprintf("/%s", obj);
		return xasprintf("/%s/%s", obj, name);
	}
	if (node_types[kind].parent == N_ROOT)
		return xasprintf("/%s", name);
	return xasprintf("/%s/%s", node_types[node_types[kind].parent].name, name);
}

struct dirbuf {
	fuse_req_t req;
	char *buf;
	size_t len, cap;
};

static void
dirbuf_add(struct dirbuf *b, const char *name, fuse_ino_t ino, mode_t mode)
{
	struct stat st = { .st_ino = ino, .st_mode = mode };
	size_t need = fuse_add_direntry(b->req, NULL, 0, name, NULL, 0);

	if (b->len + need > b->cap) {
		b->cap = (b->len + need) * 2;
		b->buf = xrealloc(b->buf, b->cap);
	}
	fuse_add_direntry(b->req, b->buf + b->len, need, name, &st, (off_t)(b->len + need));
	b->len += need;
}

static void
list_images(struct fsd *fs, struct dirbuf *b)
{
	struct bk_image_entry *list = NULL;
	size_t n = 0, i;
	char path[OBJ_PATH_SIZE];

	/* A listing that fails leaves n at 0: nothing to show. */
	(void)bk_image_list(fs->engine, &list, &n);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "images/%s", list[i].id);
		if (!unannounced_has(path))
			dirbuf_add(b, list[i].id, ino_make(N_IMG, list[i].serial),
				   node_types[N_IMG].mode);
	}
	bk_image_list_free(list, n);
}

static void
list_containers(struct fsd *fs, struct dirbuf *b)
{
	struct bk_container_entry *list = NULL;
	size_t n = 0, i;
	char path[OBJ_PATH_SIZE];

	/* A listing that fails leaves n at 0: nothing to show. */
	(void)bk_container_list(fs->engine, &list, &n);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "containers/%s", list[i].id);
		if (!unannounced_has(path))
			dirbuf_add(b, list[i].id, ino_make(N_CTR, list[i].serial),
				   node_types[N_CTR].mode);
	}
	bk_container_list_free(list, n);
}

static void
list_volumes(struct fsd *fs, struct dirbuf *b)
{
	struct bk_volume_entry *list = NULL;
	size_t n = 0, i;
	char path[OBJ_PATH_SIZE];

	/* A listing that fails leaves n at 0: nothing to show. */
	(void)bk_volume_list(fs->engine, &list, &n);
	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "volumes/%s", list[i].name);
		if (!unannounced_has(path))
			dirbuf_add(b, list[i].name, ino_make(N_VOL, list[i].serial),
				   node_types[N_VOL].mode);
	}
	free(list);
}

static void
list_execs(struct fsd *fs, struct dirbuf *b, uint64_t ctr_serial)
{
	struct bk_container_info info;
	struct bk_err err = BK_ERR_INIT;
	int *ns = NULL;
	size_t n, i;

	if (bk_container_get(fs->engine, NULL, ctr_serial, &info, &err) < 0)
		return;
	n = bk_exec_list(fs->engine, info.id, &ns);
	for (i = 0; i < n; i++) {
		char name[16];

		snprintf(name, sizeof(name), "%d", ns[i]);
		dirbuf_add(b, name, ino_make(N_EXEC, EXEC_SERIAL(ctr_serial, ns[i])),
			   node_types[N_EXEC].mode);
	}
	free(ns);
	bk_container_info_free(&info);
}

/* The whole listing of directory ino, as fuse_add_direntry records.  NULL: not a dir. */
char *
tree_list(struct fsd *fs, fuse_req_t req, fuse_ino_t ino, size_t *len)
{
	enum node_kind kind = ino_kind(ino);
	struct dirbuf b = { .req = req };
	int k;

	if (kind <= N_NONE || kind >= N_KIND_MAX || node_types[kind].io != IO_DIR)
		return NULL;
	dirbuf_add(&b, ".", ino, node_types[kind].mode);
	dirbuf_add(&b, "..", FUSE_ROOT_ID, node_types[N_ROOT].mode);
	for (k = N_ROOT + 1; k < N_KIND_MAX; k++)
		if (node_types[k].parent == kind && node_types[k].name)
			dirbuf_add(&b, node_types[k].name,
				   ino_make((enum node_kind)k, ino_serial(ino)),
				   node_types[k].mode);
	if (kind == N_IMAGES)
		list_images(fs, &b);
	else if (kind == N_CTRS)
		list_containers(fs, &b);
	else if (kind == N_CTR_EXEC)
		list_execs(fs, &b, ino_serial(ino));
	else if (kind == N_VOLS)
		list_volumes(fs, &b);
	*len = b.len;
	return b.buf ? b.buf : xcalloc(1, 1);
}
