/*
 * A layer and an image directory made from a stream, as a pull and a load
 * make them (pull.c, load.c): the same extraction with the same caps, the
 * same checks, the same files, so that a loaded image is a pulled one.
 *
 * A layer is built in tmp/ (emptied at every start) on a writable snapshot
 * of the one below: its tar extracted from a layer_reader (store/layer.c:
 * paths kept inside, whiteouts, caps), its diff id checked against the
 * config, the blob it came as kept beside it (a push or a save sends the
 * same bytes), layer.json written, made read-only, synced, and renamed into
 * layers/<chain hex> only then.  After a kill -9, what is in layers/ is whole
 * and verified; the rest is gone at the next start.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "ops/ops.h"
#include "store/store.h"
#include "parse/parse.h"
#include "base/base.h"

#define LAYER_INFO_MAX (64u << 10)

bool
layer_committed(int layers_fd, const char *chain_id)
{
	char path[96];
	struct stat st;

	snprintf(path, sizeof(path), "%s/rootfs", digest_hex(chain_id));
	return fstatat(layers_fd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

uint64_t
layer_file_bytes(int layers_fd, const char *chain_id)
{
	char path[96];
	cleanup_free char *text = NULL;
	cleanup(json_decrefp) json_t *j = NULL;
	struct bk_err err = BK_ERR_INIT;

	snprintf(path, sizeof(path), "%s/layer.json", digest_hex(chain_id));
	if (read_file_at(layers_fd, path, LAYER_INFO_MAX, &text, NULL, &err) < 0)
		return 0;
	j = json_loads(text, 0, NULL);
	return (uint64_t)json_integer_value(json_object_get(j, "file_bytes"));
}

static int
write_layer_info(int dfd, const struct layer_build *b, const char *digest, uint64_t file_bytes,
		 struct bk_err *err)
{
	/* The blob kept beside it is the one that came: a push sends it as it came. */
	cleanup(json_decrefp) json_t *j = json_pack(
	    "{s:s, s:s, s:s, s:I, s:I, s:s?, s:s, s:s, s:s, s:I}", "chain_id", b->chain_id,
	    "diff_id", b->diff_id, "digest", digest, "size", (json_int_t)b->size, "file_bytes",
	    (json_int_t)file_bytes, "parent", b->parent, "blob_digest", digest, "blob_diff_id",
	    b->diff_id, "blob_media_type", layer_media_type(b->comp), "blob_size",
	    (json_int_t)b->size);
	cleanup_free char *text = NULL;

	/* Where it came from: a push to that registry mounts it instead of uploading it. */
	if (j && b->source)
		json_object_set_new(j, "sources", json_pack("[s]", b->source));
	text = j ? json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
	if (text == NULL)
		return bk_err_set(err, ENOMEM, "encode layer.json");
	/* Made durable with the layer's files by layer_build's syncfs. */
	return write_file_replace(dfd, "layer.json", text, strlen(text), err);
}

/* The failpoint "PREFIX.what" (pull.blob-verified, load.layer-committed...). */
static int
point(const struct layer_build *b, const char *what, struct bk_err *err)
{
	char name[64];

	snprintf(name, sizeof(name), "%s.%s", b->fp, what);
	return failpoint(name, err);
}

/* A writable subvolume tmp/<work>/rootfs: a snapshot of the parent layer, or empty. */
static int
work_rootfs(int layers_fd, const struct layer_build *b, int work_fd, struct bk_err *err)
{
	cleanup_close int parent_fd = -1;
	char ppath[96];
	int ret;

	if (b->parent) {
		snprintf(ppath, sizeof(ppath), "%s/rootfs", digest_hex(b->parent));
		parent_fd = openat(layers_fd, ppath, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (parent_fd < 0)
			return bk_err_sys(err, "open layers/%.16s", digest_hex(b->parent));
		ret = store_snapshot(parent_fd, work_fd, "rootfs", false, err);
	} else {
		ret = store_create_subvolume(work_fd, "rootfs", err);
	}
	if (ret < 0)
		return ret;
	ret = openat(work_fd, "rootfs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return ret < 0 ? bk_err_sys(err, "open the layer's rootfs") : ret;
}

/* Extract b's stream onto rootfs_fd and check its diff id. */
static int
extract(const struct layer_build *b, int rootfs_fd, struct layer_stats *st, struct bk_err *err)
{
	char diff[DIGEST_STR_SIZE];
	int ret = layer_extract(rootfs_fd, b->comp, b->src, b->cancel, diff, st, err);

	if (ret == -EBADMSG) {
		const void *buf;
		struct bk_err derr = BK_ERR_INIT;
		ssize_t n;

		/*
		 * Garbage in the stream is usually a wrong blob: read the rest
		 * (bounded by the size its descriptor gives) and report the
		 * digest mismatch, the cause, rather than what the decoder
		 * tripped on.
		 */
		while ((n = b->src->read(b->src->arg, &buf, &derr)) > 0)
			;
		if (n < 0 && derr.code == EBADMSG && strstr(derr.msg, "digest mismatch"))
			*err = derr;
	}
	if (ret < 0)
		return ret;
	if (strcmp(diff, b->diff_id) != 0)
		return bk_err_set(err, EBADMSG, "diff id mismatch: the config says %s, got %s",
				  b->diff_id, diff);
	return 0;
}

int
layer_build(struct bk_engine *e, int layers_fd, const struct layer_build *b, uint64_t *file_bytes,
	    struct bk_err *err)
{
	cleanup_close int work_fd = -1, rootfs_fd = -1;
	struct layer_stats st = { 0 };
	char work[128], rnd[13], digest[DIGEST_STR_SIZE];
	int ret;

	random_hex(rnd, 12);
	snprintf(work, sizeof(work), "layer-%.16s-%s", digest_hex(b->chain_id), rnd);
	if (mkdirat(e->store.tmp_fd, work, 0700) < 0)
		return bk_err_sys(err, "mkdir tmp/%s", work);
	work_fd = openat(e->store.tmp_fd, work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (work_fd < 0) {
		ret = bk_err_sys(err, "open tmp/%s", work);
		goto fail;
	}
	if ((ret = rootfs_fd = work_rootfs(layers_fd, b, work_fd, err)) < 0)
		goto fail;
	if ((ret = extract(b, rootfs_fd, &st, err)) < 0 ||
	    (ret = point(b, "blob-verified", err)) < 0)
		goto fail;
	/* Read only now: a stream may learn its blob's digest at its end (load.c). */
	snprintf(digest, sizeof(digest), "%s", b->digest);
	if (renameat(e->store.tmp_fd, b->blob_name, work_fd, "blob") < 0) {
		ret = bk_err_sys(err, "keep the blob of layers/%.16s", digest_hex(b->chain_id));
		goto fail;
	}
	if ((ret = write_layer_info(work_fd, b, digest, st.file_bytes, err)) < 0 ||
	    (ret = store_set_read_only(rootfs_fd, true, err)) < 0)
		goto fail;
	if (bk_cancelled(b->cancel)) {
		ret = bk_err_set(err, EINTR, "interrupted");
		goto fail;
	}
	/*
	 * One syncfs makes the layer's files and its layer.json durable before
	 * it can be reused (three fsyncs made only layer.json so; the files a
	 * power cut emptied would have been reused as verified).  The rename
	 * itself needs no sync: a layer it loses is made again.
	 */
	if (syncfs(work_fd) < 0) {
		ret = bk_err_sys(err, "commit layers/%.16s: sync", digest_hex(b->chain_id));
		goto fail;
	}
	if (renameat2(e->store.tmp_fd, work, layers_fd, digest_hex(b->chain_id), RENAME_NOREPLACE) <
	    0) {
		/* Another pull or load committed the same layer first: keep theirs. */
		if (errno != EEXIST && errno != ENOTEMPTY) {
			ret = bk_err_sys(err, "commit layers/%.16s", digest_hex(b->chain_id));
			goto fail;
		}
		store_discard(e->store.tmp_fd, work);
	}
	*file_bytes = st.file_bytes;
	return point(b, "layer-committed", err);
fail:
	store_discard(e->store.tmp_fd, work);
	return ret;
}

int
image_dir_write(int layers_fd, const struct pull_layer *layers, size_t n, int work_dfd,
		struct pull_result *out, struct bk_err *err)
{
	cleanup_close int top = -1, rfd = -1;
	cleanup_free char *cfg = NULL, *digest_line = NULL;
	size_t used = 0, i;
	char path[96];
	int ret;

	if (n == 0) {
		if ((ret = store_create_subvolume(work_dfd, "rootfs", err)) < 0)
			return ret;
		rfd = openat(work_dfd, "rootfs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (rfd < 0)
			return bk_err_sys(err, "open rootfs");
		if ((ret = store_set_read_only(rfd, true, err)) < 0)
			return ret;
	} else {
		snprintf(path, sizeof(path), "%s/rootfs", digest_hex(layers[n - 1].chain_id));
		top = openat(layers_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (top < 0)
			return bk_err_sys(err, "open layers/%.16s", path);
		if ((ret = store_snapshot(top, work_dfd, "rootfs", true, err)) < 0)
			return ret;
	}
	out->layers_text = xmalloc(n * 96 + 1);
	out->layers_text[0] = '\0';
	for (i = 0; i < n; i++) {
		used += (size_t)sprintf(out->layers_text + used, "%s %llu\n", layers[i].digest,
					(unsigned long long)layers[i].size);
		out->size += layers[i].file_bytes;
	}
	cfg = json_dumps(out->config, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (cfg == NULL)
		return bk_err_set(err, ENOMEM, "encode config");
	digest_line = xasprintf("%s\n", out->digest);
	/* Not synced one by one: image_pull_finish syncs them with the record. */
	if ((ret = write_file_replace(work_dfd, "config.json", cfg, strlen(cfg), err)) < 0 ||
	    (ret = write_file_replace(work_dfd, "manifest.json", out->manifest, out->manifest_len,
				      err)) < 0 ||
	    (ret = write_file_replace(work_dfd, "digest", digest_line, strlen(digest_line), err)) <
		0 ||
	    (ret = write_file_replace(work_dfd, "config.blob", out->config_raw, out->config_raw_len,
				      err)) < 0 ||
	    (ret = write_file_replace(work_dfd, "layers", out->layers_text, used, err)) < 0)
		return ret;
	return 0;
}
