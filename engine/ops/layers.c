/*
 * The store's layers (layers/<key>/{rootfs, layer.json, blob}) as a graph:
 * each layer names the one below it, and every image names the layer that
 * holds its whole filesystem (image->layer_key) and, for commits and
 * builds, the one its own changes sit on (image->base_key).
 *
 *   - A pulled layer is keyed by the hex of its chain id and keeps the
 *     compressed blob it came as (pull.c), so that a push sends the same
 *     bytes.
 *   - A local layer ("local-" and 24 hex digits) is a read-only snapshot of
 *     a committed, built or imported image's rootfs, made the first time a
 *     push, a save or a child image needs it (image_layer), so that the
 *     image's changes can be computed later even after the image itself is
 *     removed or replaced.  Its blob is made by layer_blob_make from the
 *     difference with the layer below (store/diff.c) and kept, so that a
 *     second push compresses nothing.
 *
 * Garbage collection: a layer no image reaches (through layer_key,
 * base_key, the config's chain of a pulled image, and the parents of those)
 * is removed after each image removal and at the daemon's start.  While any
 * operation that makes layers before an image records them runs (pulls,
 * commits, builds, pushes, saves, loads: layers_hold), the collection waits
 * and is run by the last of them to finish.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

#include "ops/ops.h"
#include "store/store.h"
#include "base/base.h"

#define LAYER_JSON_MAX (64u << 10)
#define CHAIN_MAX      1024 /* layers below an image at most: a loop in corrupt records ends */
#define LOCAL_PREFIX   "local-"

static bool
is_hex(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[n] == '\0';
}

bool
layer_key_valid(const char *key)
{
	if (key == NULL)
		return false;
	if (strncmp(key, LOCAL_PREFIX, strlen(LOCAL_PREFIX)) == 0)
		return is_hex(key + strlen(LOCAL_PREFIX), 24);
	return is_hex(key, 64);
}

const char *
layer_media_type(enum layer_comp comp)
{
	switch (comp) {
	case LAYER_GZIP:
		return "application/vnd.oci.image.layer.v1.tar+gzip";
	case LAYER_ZSTD:
		return "application/vnd.oci.image.layer.v1.tar+zstd";
	default:
		return "application/vnd.oci.image.layer.v1.tar";
	}
}

int
layers_open_dir(struct bk_engine *e, struct bk_err *err)
{
	int fd;

	if (mkdirat(e->store.fd, "layers", 0700) < 0 && errno != EEXIST)
		return bk_err_sys(err, "mkdir layers");
	fd = openat(e->store.fd, "layers", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return bk_err_sys(err, "open layers");
	return fd;
}

static void
copy_str(char *dst, size_t size, json_t *v)
{
	snprintf(dst, size, "%s", json_is_string(v) ? json_string_value(v) : "");
}

int
layer_rec_load(int layers_fd, const char *key, struct layer_rec *out, struct bk_err *err)
{
	char path[LAYER_KEY_SIZE + 16];
	cleanup_free char *text = NULL;
	cleanup(json_decrefp) json_t *j = NULL;
	const char *parent;
	struct stat st;

	memset(out, 0, sizeof(*out));
	if (!layer_key_valid(key))
		return bk_err_set(err, EBADMSG, "layer '%.80s': not a layer key", key);
	snprintf(out->key, sizeof(out->key), "%s", key);
	snprintf(path, sizeof(path), "%s/layer.json", key);
	if (read_file_at(layers_fd, path, LAYER_JSON_MAX, &text, NULL, err) < 0)
		return bk_err_wrap(err, "layer %.24s", key);
	j = json_loads(text, 0, NULL);
	if (!json_is_object(j))
		return bk_err_set(err, EBADMSG, "layer %.24s: malformed layer.json", key);
	copy_str(out->chain_id, sizeof(out->chain_id), json_object_get(j, "chain_id"));
	copy_str(out->diff_id, sizeof(out->diff_id), json_object_get(j, "diff_id"));
	/* Local layers name their parent's key; pulled ones its chain id. */
	parent = json_string_value(json_object_get(j, "parent_key"));
	if (parent == NULL && json_is_string(json_object_get(j, "parent")))
		parent = json_string_value(json_object_get(j, "parent")) + strlen("sha256:");
	if (parent && *parent) {
		if (!layer_key_valid(parent))
			return bk_err_set(err, EBADMSG, "layer %.24s: bad parent '%.80s'", key,
					  parent);
		snprintf(out->parent, sizeof(out->parent), "%s", parent);
	}
	copy_str(out->blob_digest, sizeof(out->blob_digest), json_object_get(j, "blob_digest"));
	copy_str(out->blob_diff_id, sizeof(out->blob_diff_id), json_object_get(j, "blob_diff_id"));
	copy_str(out->blob_media_type, sizeof(out->blob_media_type),
		 json_object_get(j, "blob_media_type"));
	out->blob_size = (uint64_t)json_integer_value(json_object_get(j, "blob_size"));
	snprintf(path, sizeof(path), "%s/blob", key);
	out->has_blob = out->blob_digest[0] &&
			fstatat(layers_fd, path, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			S_ISREG(st.st_mode) && (uint64_t)st.st_size == out->blob_size;
	return 0;
}

#define SOURCES_MAX 8 /* repositories remembered per layer, for mounts */

/*
 * layers/<key>/layer.json read, changed by edit and written back, under the
 * record lock: a blob's fields and the repositories a layer went to are
 * written by pushes that may run at once over a shared layer.
 */
static int
rec_update(struct bk_engine *e, int layers_fd, const char *key, bool durable,
	   int (*edit)(json_t *j, const void *arg), const void *arg, struct bk_err *err)
{
	char path[LAYER_KEY_SIZE + 16];
	cleanup_free char *text = NULL, *out = NULL;
	cleanup(json_decrefp) json_t *j = NULL;
	cleanup_close int dfd = -1;
	int ret;

	pthread_mutex_lock(&e->layers.record_lock);
	snprintf(path, sizeof(path), "%s/layer.json", key);
	ret = read_file_at(layers_fd, path, LAYER_JSON_MAX, &text, NULL, err);
	if (ret < 0)
		goto out;
	j = json_loads(text, 0, NULL);
	if (!json_is_object(j)) {
		ret = bk_err_set(err, EBADMSG, "layer %.24s: malformed layer.json", key);
		goto out;
	}
	if ((ret = edit(j, arg)) <= 0)
		goto out; /* nothing to change */
	out = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);
	dfd = openat(layers_fd, key, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (out == NULL)
		ret = bk_err_set(err, ENOMEM, "encode layer.json");
	else if (dfd < 0)
		ret = bk_err_sys(err, "layer %.24s", key);
	else
		ret = durable ? write_file_atomic(dfd, "layer.json", out, strlen(out), err)
			      : write_file_replace(dfd, "layer.json", out, strlen(out), err);
out:
	pthread_mutex_unlock(&e->layers.record_lock);
	return ret < 0 ? ret : 0;
}

/* rec_update's edit: the blob's fields. */
static int
set_blob(json_t *j, const void *arg)
{
	const struct layer_rec *rec = arg;

	json_object_set_new(j, "blob_digest", json_string(rec->blob_digest));
	json_object_set_new(j, "blob_diff_id", json_string(rec->blob_diff_id));
	json_object_set_new(j, "blob_media_type", json_string(rec->blob_media_type));
	json_object_set_new(j, "blob_size", json_integer((json_int_t)rec->blob_size));
	return 1;
}

/* rec_update's edit: one more repository the blob is in (the oldest forgotten past 8). */
static int
add_source(json_t *j, const void *arg)
{
	const char *repo = arg;
	json_t *s = json_object_get(j, "sources"), *v;
	size_t i;

	if (!json_is_array(s)) {
		s = json_array();
		json_object_set_new(j, "sources", s);
	}
	json_array_foreach (s, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), repo) == 0)
			return 0;
	if (json_array_size(s) >= SOURCES_MAX)
		json_array_remove(s, 0);
	json_array_append_new(s, json_string(repo));
	return 1;
}

void
layer_note_source(struct bk_engine *e, int layers_fd, const char *key, const char *repo)
{
	struct bk_err err = BK_ERR_INIT;

	/* Best effort: a lost note costs an upload, never a wrong push. */
	if (rec_update(e, layers_fd, key, false, add_source, repo, &err) < 0)
		bk_log(BK_LOG_DEBUG, "layer %.24s: source not noted: %s", key, err.msg);
}

int
layer_chain(int layers_fd, const char *key, struct layer_rec **out, size_t *n, struct bk_err *err)
{
	struct layer_rec *v = NULL;
	size_t cnt = 0, i;
	char cur[LAYER_KEY_SIZE];
	int ret = 0;

	snprintf(cur, sizeof(cur), "%s", key);
	while (cur[0]) {
		if (cnt == CHAIN_MAX) {
			ret = bk_err_set(err, ELOOP, "layer %.24s: more than %d layers below it",
					 key, CHAIN_MAX);
			break;
		}
		v = xrealloc(v, (cnt + 1) * sizeof(*v));
		if ((ret = layer_rec_load(layers_fd, cur, &v[cnt], err)) < 0)
			break;
		snprintf(cur, sizeof(cur), "%s", v[cnt].parent);
		cnt++;
	}
	if (ret < 0) {
		free(v);
		return ret;
	}
	/* Bottom first. */
	for (i = 0; i < cnt / 2; i++) {
		struct layer_rec t = v[i];

		v[i] = v[cnt - 1 - i];
		v[cnt - 1 - i] = t;
	}
	*out = v;
	*n = cnt;
	return 0;
}

static int
open_rootfs(int layers_fd, const char *key, struct bk_err *err)
{
	char path[LAYER_KEY_SIZE + 16];
	int fd;

	snprintf(path, sizeof(path), "%s/rootfs", key);
	fd = openat(layers_fd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return bk_err_sys(err, "open layers/%.24s", key);
	return fd;
}

int
layer_blob_make(struct bk_engine *e, int layers_fd, struct layer_rec *rec, struct bk_cancel *cancel,
		struct layer_diff_stats *stats, struct bk_err *err)
{
	cleanup_close int child = -1, parent = -1, out = -1, dfd = -1;
	struct layer_diff_result res;
	struct layer_diff_stats st = { 0 };
	uint64_t t0 = now_ms();
	char tmp[64], rnd[13], key[LAYER_KEY_SIZE];
	int ret;

	snprintf(key, sizeof(key), "%s", rec->key);
	/* Another push may be making a blob for minutes: Ctrl-C is answered while waiting. */
	while (pthread_mutex_trylock(&e->layers.blob_lock) != 0) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		if (cancel && atomic_load(&cancel->cancelled))
			return bk_err_set(err, EINTR, "layer %.24s: interrupted", key);
		nanosleep(&ts, NULL);
	}
	/* Another push may have made it while this one waited. */
	if (layer_rec_load(layers_fd, key, rec, err) < 0) {
		ret = -err->code;
		goto out;
	}
	if (rec->has_blob) {
		ret = 0;
		goto out;
	}
	if ((child = open_rootfs(layers_fd, rec->key, err)) < 0 ||
	    (rec->parent[0] && (parent = open_rootfs(layers_fd, rec->parent, err)) < 0)) {
		ret = -err->code;
		goto out;
	}
	random_hex(rnd, 12);
	snprintf(tmp, sizeof(tmp), "blob-%s", rnd);
	out = openat(e->store.tmp_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (out < 0) {
		ret = bk_err_sys(err, "create tmp/%s", tmp);
		goto out;
	}
	ret = layer_diff(parent, child, out, cancel, &res, stats ? stats : &st, err);
	if (stats == NULL)
		stats = &st;
	if (ret == 0)
		ret = failpoint("layer.blob-written", err);
	if (ret == 0 && fsync(out) < 0)
		ret = bk_err_sys(err, "layer %.24s: sync its blob", rec->key);
	dfd = ret == 0
		  ? openat(layers_fd, rec->key, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
		  : -1;
	if (ret == 0 && dfd < 0)
		ret = bk_err_sys(err, "layer %.24s", rec->key);
	if (ret == 0 && renameat(e->store.tmp_fd, tmp, dfd, "blob") < 0)
		ret = bk_err_sys(err, "layer %.24s: store its blob", rec->key);
	if (ret < 0) {
		unlinkat(e->store.tmp_fd, tmp, 0);
		goto out;
	}
	snprintf(rec->blob_digest, sizeof(rec->blob_digest), "%s", res.digest);
	snprintf(rec->blob_diff_id, sizeof(rec->blob_diff_id), "%s", res.diff_id);
	snprintf(rec->blob_media_type, sizeof(rec->blob_media_type), "%s",
		 layer_media_type(LAYER_GZIP));
	rec->blob_size = res.size;
	/* A crash before this leaves a blob no layer.json describes: made again next time. */
	ret = rec_update(e, layers_fd, rec->key, true, set_blob, rec, err);
	rec->has_blob = ret == 0;
	if (ret == 0)
		bk_log(
		    BK_LOG_INFO,
		    "layer %s: blob made in %llu ms: %llu entries, %llu bytes of tar, %llu of gzip",
		    rec->key, (unsigned long long)(now_ms() - t0),
		    (unsigned long long)stats->entries, (unsigned long long)stats->tar_bytes,
		    (unsigned long long)rec->blob_size);
out:
	pthread_mutex_unlock(&e->layers.blob_lock);
	return ret;
}

/* ---- an image's layer ----------------------------------------------------------------------- */

/* The chain key of a pulled image from its config's diff ids ("" if it has none). */
static void
pulled_key(const json_t *config, char key[LAYER_KEY_SIZE])
{
	json_t *ids = json_object_get(json_object_get(config, "rootfs"), "diff_ids");
	char chain[DIGEST_STR_SIZE] = "", next[DIGEST_STR_SIZE];
	size_t i;
	json_t *v;

	key[0] = '\0';
	json_array_foreach (ids, i, v) {
		if (!json_is_string(v))
			return;
		manifest_chain_id(chain[0] ? chain : NULL, json_string_value(v), next);
		memcpy(chain, next, sizeof(chain));
	}
	if (chain[0])
		snprintf(key, LAYER_KEY_SIZE, "%s", chain + strlen("sha256:"));
}

static bool
layer_exists(int layers_fd, const char *key)
{
	char path[LAYER_KEY_SIZE + 16];
	struct stat st;

	snprintf(path, sizeof(path), "%s/layer.json", key);
	return layer_key_valid(key) && fstatat(layers_fd, path, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* A local layer: a read-only snapshot of images/<id>/rootfs over base ("" for none). */
static int
snapshot_layer(struct bk_engine *e, int layers_fd, const char *id, const char *base,
	       char key[LAYER_KEY_SIZE], struct bk_err *err)
{
	cleanup_close int src = -1, work_fd = -1;
	cleanup(json_decrefp) json_t *j = NULL;
	cleanup_free char *text = NULL;
	char work[LAYER_KEY_SIZE + 16], path[BK_ID_SIZE + 16], rnd[25];
	int ret;

	random_hex(rnd, 24);
	snprintf(key, LAYER_KEY_SIZE, LOCAL_PREFIX "%s", rnd);
	snprintf(work, sizeof(work), "layer-%s", key);
	snprintf(path, sizeof(path), "%s/rootfs", id);
	src = openat(e->store.images_fd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (src < 0)
		return bk_err_sys(err, "image %s: open its rootfs", id);
	if (mkdirat(e->store.tmp_fd, work, 0700) < 0)
		return bk_err_sys(err, "mkdir tmp/%s", work);
	work_fd = openat(e->store.tmp_fd, work, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (work_fd < 0) {
		ret = bk_err_sys(err, "open tmp/%s", work);
		goto fail;
	}
	if ((ret = store_snapshot(src, work_fd, "rootfs", true, err)) < 0)
		goto fail;
	j = json_pack("{s:s, s:s, s:s}", "key", key, "image", id, "parent_key", base);
	text = j ? json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
	if (text == NULL) {
		ret = bk_err_set(err, ENOMEM, "encode layer.json");
		goto fail;
	}
	if ((ret = write_file_atomic(work_fd, "layer.json", text, strlen(text), err)) < 0 ||
	    (ret = failpoint("layer.snapshot", err)) < 0)
		goto fail;
	if (renameat(e->store.tmp_fd, work, layers_fd, key) < 0) {
		ret = bk_err_sys(err, "commit layers/%s", key);
		goto fail;
	}
	fsync(layers_fd);
	return 0;
fail:
	store_discard(e->store.tmp_fd, work);
	return ret;
}

static int image_layer_locked(struct bk_engine *e, int layers_fd, const char *id,
			      char key[LAYER_KEY_SIZE], struct bk_err *err);

int
image_layer(struct bk_engine *e, int layers_fd, const char *id, char key[LAYER_KEY_SIZE],
	    struct bk_err *err)
{
	int ret;

	/* One snapshot per image, however many pushes, saves and commits ask at once. */
	pthread_mutex_lock(&e->layers.image_lock);
	ret = image_layer_locked(e, layers_fd, id, key, err);
	pthread_mutex_unlock(&e->layers.image_lock);
	return ret;
}

static int
image_layer_locked(struct bk_engine *e, int layers_fd, const char *id, char key[LAYER_KEY_SIZE],
		   struct bk_err *err)
{
	struct image *img;
	char base[LAYER_KEY_SIZE] = "";
	bool pulled;
	int ret;

	pthread_mutex_lock(&e->model.lock);
	img = image_find_locked(&e->model, id, 0, NULL);
	if (img == NULL || img->state != BK_IMAGE_READY) {
		pthread_mutex_unlock(&e->model.lock);
		return bk_err_set(err, img ? EBUSY : ENOENT, "image %s is %s", id,
				  img ? "not ready" : "gone");
	}
	key[0] = '\0';
	if (img->layer_key)
		snprintf(key, LAYER_KEY_SIZE, "%s", img->layer_key);
	pulled = img->digest != NULL;
	if (key[0] == '\0' && pulled)
		pulled_key(img->config, key);
	if (img->base_key)
		snprintf(base, sizeof(base), "%s", img->base_key);
	pthread_mutex_unlock(&e->model.lock);

	if (key[0] && layer_exists(layers_fd, key))
		return 0;
	if (pulled && key[0] == '\0')
		return 0; /* no layers at all: an empty image */
	if (base[0] && !layer_exists(layers_fd, base)) {
		bk_log(BK_LOG_WARN, "image %s: its base layer %.24s is gone: one layer for all", id,
		       base);
		base[0] = '\0';
	}
	/* Pulled without its layers (removed by hand), or local: its rootfs is the layer. */
	if ((ret = snapshot_layer(e, layers_fd, id, pulled ? "" : base, key, err)) < 0)
		return ret;
	return image_set_layer_key(&e->model, id, key, err);
}

/* ---- holds and collection ------------------------------------------------------------------- */

void
layers_hold(struct bk_engine *e)
{
	pthread_mutex_lock(&e->layers.lock);
	/* A collection under way would not see what this work is about to make. */
	while (e->layers.collecting)
		pthread_cond_wait(&e->layers.done, &e->layers.lock);
	e->layers.holds++;
	pthread_mutex_unlock(&e->layers.lock);
}

void
layers_release(struct bk_engine *e)
{
	bool run;

	pthread_mutex_lock(&e->layers.lock);
	run = --e->layers.holds == 0 && e->layers.gc_pending;
	pthread_mutex_unlock(&e->layers.lock);
	if (run)
		layers_gc(e);
}

/* A set of keys: a sorted array (a store has hundreds of layers, not millions). */
struct keyset {
	char (*v)[LAYER_KEY_SIZE];
	size_t n, cap;
};

static void
keyset_add(struct keyset *s, const char *key)
{
	if (!layer_key_valid(key))
		return;
	if (s->n == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 64;
		s->v = xrealloc(s->v, s->cap * sizeof(*s->v));
	}
	snprintf(s->v[s->n++], LAYER_KEY_SIZE, "%s", key);
}

static bool
keyset_has(const struct keyset *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->v[i], key) == 0)
			return true;
	return false;
}

void
image_layer_roots_locked(const struct image *img, char roots[3][LAYER_KEY_SIZE])
{
	roots[0][0] = roots[1][0] = roots[2][0] = '\0';
	if (img->layer_key)
		snprintf(roots[0], LAYER_KEY_SIZE, "%s", img->layer_key);
	if (img->base_key)
		snprintf(roots[1], LAYER_KEY_SIZE, "%s", img->base_key);
	if (img->digest)
		pulled_key(img->config, roots[2]);
}

/* The hex of a pulled image's config digest, from its manifest ("" if none). */
static void
config_hex(const char *manifest, char out[LAYER_KEY_SIZE])
{
	cleanup(json_decrefp) json_t *j = manifest ? json_loads(manifest, 0, NULL) : NULL;
	const char *d = json_string_value(json_object_get(json_object_get(j, "config"), "digest"));

	out[0] = '\0';
	if (d && strncmp(d, "sha256:", 7) == 0)
		snprintf(out, LAYER_KEY_SIZE, "%s", d + 7);
}

/*
 * The keys images name, and the configs their manifests name; false if an
 * image is broken (its layers are unknown).
 */
static bool
image_keys(struct bk_engine *e, struct keyset *roots, struct keyset *configs)
{
	bool ok = true;

	pthread_mutex_lock(&e->model.lock);
	for (size_t i = 0; i < e->model.nimages; i++) {
		struct image *img = e->model.images[i];
		char key[LAYER_KEY_SIZE], r[3][LAYER_KEY_SIZE];

		if (img->state == BK_IMAGE_BROKEN) {
			ok = false;
			continue;
		}
		image_layer_roots_locked(img, r);
		for (size_t k = 0; k < 3; k++)
			keyset_add(roots, r[k]);
		if (img->digest) {
			config_hex(img->manifest, key);
			keyset_add(configs, key);
		}
	}
	pthread_mutex_unlock(&e->model.lock);
	return ok;
}

/*
 * Remove from the directory dfd what keep does not name ("." names left
 * alone); each goes through tmp/ (one atomic step; a crash mid-delete is
 * cleaned at the next start).  Returns how many went.
 */
static int
sweep(struct bk_engine *e, int dfd, const struct keyset *keep, const char *what)
{
	int dup_fd = fcntl(dfd, F_DUPFD_CLOEXEC, 0), removed = 0;
	DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	struct bk_err err = BK_ERR_INIT;
	struct dirent *de;

	if (d == NULL) {
		if (dup_fd >= 0)
			close(dup_fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		char trash[LAYER_KEY_SIZE + 16];

		if (de->d_name[0] == '.' || keyset_has(keep, de->d_name))
			continue;
		if (failpoint("layer.gc", &err) < 0)
			break;
		snprintf(trash, sizeof(trash), "%.64s.%s-gc", de->d_name, what);
		if (renameat(dfd, de->d_name, e->store.tmp_fd, trash) < 0) {
			bk_log(BK_LOG_WARN, "%s: remove %.24s: %s", what, de->d_name,
			       strerror(errno));
			continue;
		}
		store_discard(e->store.tmp_fd, trash);
		removed++;
	}
	closedir(d);
	return removed;
}

void
layers_gc(struct bk_engine *e)
{
	struct keyset keep = { 0 }, configs = { 0 };
	struct bk_err err = BK_ERR_INIT;
	cleanup_close int layers_fd = -1, configs_fd = -1;
	size_t i;
	int removed = 0;

	pthread_mutex_lock(&e->layers.lock);
	if (e->layers.holds > 0 || e->layers.collecting) {
		e->layers.gc_pending = true;
		pthread_mutex_unlock(&e->layers.lock);
		return;
	}
	e->layers.gc_pending = false;
	/* A pull starting now waits (layers_hold) rather than lose its layers. */
	e->layers.collecting = true;
	pthread_mutex_unlock(&e->layers.lock);

	if ((layers_fd = layers_open_dir(e, &err)) < 0)
		goto out;
	if (!image_keys(e, &keep, &configs)) {
		bk_log(BK_LOG_WARN,
		       "layers: not collected while a broken image's record is unread");
		goto out;
	}
	/*
	 * Everything below a kept layer is kept.  A kept layer whose record does
	 * not read could stand on any other: then nothing is collected.
	 */
	for (i = 0; i < keep.n; i++) {
		struct layer_rec rec;
		struct bk_err lerr = BK_ERR_INIT;
		struct stat st;
		char path[LAYER_KEY_SIZE + 16];

		snprintf(path, sizeof(path), "%s", keep.v[i]);
		if (fstatat(layers_fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue; /* named but gone (removed by hand): nothing below to keep */
		if (layer_rec_load(layers_fd, keep.v[i], &rec, &lerr) < 0) {
			bk_log(BK_LOG_WARN, "layers: not collected: %s", lerr.msg);
			goto out;
		}
		if (rec.parent[0] && !keyset_has(&keep, rec.parent))
			keyset_add(&keep, rec.parent);
	}
	removed = sweep(e, layers_fd, &keep, "layer");
	if (removed)
		bk_log(BK_LOG_INFO, "layers: removed %d no image uses", removed);
	/* The configs pulls cached, for the images that are gone. */
	configs_fd =
	    openat(e->store.fd, "configs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (configs_fd >= 0)
		sweep(e, configs_fd, &configs, "config");
out:
	free(keep.v);
	free(configs.v);
	pthread_mutex_lock(&e->layers.lock);
	e->layers.collecting = false;
	pthread_cond_broadcast(&e->layers.done);
	pthread_mutex_unlock(&e->layers.lock);
}
