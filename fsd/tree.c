/*
 * The shape of the tree: which names each directory holds, their modes and
 * inode numbers, and directory listings.
 */
#include <errno.h>
#include <string.h>
#include <stdlib.h>
#include <stdio.h>
#include <sys/stat.h>

#include "fsd.h"

#define DIR_MODE  (S_IFDIR | 0700)
#define RO_MODE	  (S_IFREG | 0400)
#define CTL_MODE  (S_IFREG | 0600)
#define LINK_MODE (S_IFLNK | 0777)

const struct node_type node_types[N_KIND_MAX] = {
	[N_ROOT] = { "", N_NONE, DIR_MODE, false },
	[N_VERSION] = { "version", N_ROOT, RO_MODE, false },
	[N_ERRORS] = { "errors", N_ROOT, RO_MODE, false },
	[N_IMAGES] = { "images", N_ROOT, DIR_MODE, false },
	[N_CTRS] = { "containers", N_ROOT, DIR_MODE, false },
	[N_NET] = { "net", N_ROOT, DIR_MODE, false },
	[N_IMAGES_INDEX] = { "index", N_IMAGES, RO_MODE, false },
	[N_IMAGES_IMPORT] = { "import", N_IMAGES, CTL_MODE, true },
	[N_IMAGES_ERR] = { "err", N_IMAGES, RO_MODE, false },
	[N_IMG] = { NULL, N_IMAGES, DIR_MODE, false },
	[N_IMG_SOURCE] = { "source", N_IMG, RO_MODE, false },
	[N_IMG_REF] = { "ref", N_IMG, RO_MODE, false },
	[N_IMG_STATE] = { "state", N_IMG, RO_MODE, false },
	[N_IMG_CONFIG] = { "config", N_IMG, RO_MODE, false },
	[N_IMG_SIZE] = { "size", N_IMG, RO_MODE, false },
	[N_IMG_ROOT] = { "root", N_IMG, LINK_MODE, false },
	[N_IMG_ERR] = { "err", N_IMG, RO_MODE, false },
};

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

	if (strncmp(id, "img_", 4) != 0 || notify_pending_image(id))
		return false;
	if (bk_image_get(fs->engine, id, 0, &info, &err) < 0)
		return false;
	if (serial)
		*serial = info.serial;
	bk_image_info_free(&info);
	return true;
}

static bool
object_exists(struct fsd *fs, enum node_kind kind, uint64_t serial, size_t *link_len)
{
	struct bk_image_info info;
	struct bk_err err = BK_ERR_INIT;

	if (node_types[kind].parent != N_IMG && kind != N_IMG)
		return true;
	if (bk_image_get(fs->engine, NULL, serial, &info, &err) < 0)
		return false;
	if (link_len)
		*link_len = strlen(info.root_path);
	bk_image_info_free(&info);
	return true;
}

int
tree_stat(struct fsd *fs, fuse_ino_t ino, struct stat *st)
{
	enum node_kind kind = ino_kind(ino);
	size_t link_len = 0;

	if (kind <= N_NONE || kind >= N_KIND_MAX)
		return -ENOENT;
	if (!object_exists(fs, kind, ino_serial(ino), &link_len))
		return -ENOENT;
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = node_types[kind].mode;
	st->st_nlink = S_ISDIR(st->st_mode) ? 2 : 1;
	st->st_uid = 0;
	st->st_gid = 0;
	/* Sizes are unknown until read, as in /proc: readers read to EOF. */
	st->st_size = S_ISLNK(st->st_mode) ? (off_t)link_len : 0;
	st->st_atim = st->st_mtim = st->st_ctim = fs->started;
	return 0;
}

/* "/images/img_x/state" for messages; malloc'd. */
char *
tree_path(struct fsd *fs, fuse_ino_t ino)
{
	enum node_kind kind = ino_kind(ino), parent;
	struct bk_image_info info;
	struct bk_err err = BK_ERR_INIT;
	char *path = NULL;

	if (kind == N_ROOT)
		return strdup("/");
	parent = node_types[kind].parent;
	if (kind == N_IMG || parent == N_IMG) {
		if (bk_image_get(fs->engine, NULL, ino_serial(ino), &info, &err) < 0)
			return strdup("/images/?");
		if (kind == N_IMG)
			(void)!asprintf(&path, "/images/%s", info.id);
		else
			(void)!asprintf(&path, "/images/%s/%s", info.id, node_types[kind].name);
		bk_image_info_free(&info);
		return path;
	}
	if (parent == N_ROOT)
		(void)!asprintf(&path, "/%s", node_types[kind].name);
	else
		(void)!asprintf(&path, "/%s/%s", node_types[parent].name, node_types[kind].name);
	return path;
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
		b->buf = realloc(b->buf, b->cap);
		if (b->buf == NULL)
			abort();
	}
	fuse_add_direntry(b->req, b->buf + b->len, need, name, &st, (off_t)(b->len + need));
	b->len += need;
}

/* The whole listing of directory ino, as fuse_add_direntry records.  NULL: not a dir. */
char *
tree_list(struct fsd *fs, fuse_req_t req, fuse_ino_t ino, size_t size, size_t *len)
{
	enum node_kind kind = ino_kind(ino);
	struct dirbuf b = { .req = req };
	int k;

	(void)size;
	if (kind <= N_NONE || kind >= N_KIND_MAX || !S_ISDIR(node_types[kind].mode))
		return NULL;
	dirbuf_add(&b, ".", ino, DIR_MODE);
	dirbuf_add(&b, "..", FUSE_ROOT_ID, DIR_MODE);
	for (k = N_ROOT + 1; k < N_KIND_MAX; k++)
		if (node_types[k].parent == kind && node_types[k].name)
			dirbuf_add(&b, node_types[k].name, ino_make((enum node_kind)k,
								    ino_serial(ino)),
				   node_types[k].mode);
	if (kind == N_IMAGES) {
		struct bk_image_entry *list = NULL;
		size_t n = 0, i;

		bk_image_list(fs->engine, &list, &n);
		for (i = 0; i < n; i++)
			if (!notify_pending_image(list[i].id))
				dirbuf_add(&b, list[i].id, ino_make(N_IMG, list[i].serial),
					   DIR_MODE);
		bk_image_list_free(list, n);
	}
	*len = b.len;
	return b.buf ? b.buf : calloc(1, 1);
}
