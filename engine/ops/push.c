/*
 * Pushing an image to a registry (the distribution spec's push, as docker
 * push does it): every layer blob the repository lacks, then the config,
 * then the manifest under the tag.
 *
 * The layers are the image's chain in the store (layers.c): a pulled
 * layer's blob is the one pulled, sent as it came; a committed, built or
 * imported image's own layer is made from its snapshot and its parent's
 * (store/diff.c) the first time and kept, so that a second push compresses
 * nothing.  A pulled image whose layers all kept their blobs is pushed with
 * its own config and manifest bytes: the same manifest digest as the
 * registry it came from.  Anything else gets an OCI manifest and a config
 * whose rootfs lists the blobs' diff ids.
 *
 * Each blob is first looked for (HEAD) and skipped when the repository has
 * it; one the registry has in another repository (the one the image was
 * pulled from, or one a layer was pushed to before) is mounted from there.
 * A push changes nothing in the store but the layers' blobs and where they
 * were sent, so a failed or killed push leaves the image as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "ops/ops.h"
#include "store/store.h"
#include "parse/parse.h"
#include "registry/registry.h"
#include "base/base.h"

#define PUSH_CONFIG_MAX   (16u << 20)
#define PUSH_MANIFEST_MAX (4u << 20)
#define SOURCES_MAX       8 /* repositories remembered per layer, for mounts */
#define OCI_MANIFEST      "application/vnd.oci.image.manifest.v1+json"
#define OCI_CONFIG        "application/vnd.oci.image.config.v1+json"

struct push {
	struct bk_engine *e;
	struct registry *reg;
	struct bk_cancel *cancel;
	struct image_ref ref;
	char repo[512]; /* "host/path" of the target, as layers record it */
	char id[BK_ID_SIZE];
	int layers_fd;
	struct layer_rec *chain;
	size_t n;
	char *source; /* where the image was pulled from, or its import/commit/build text */
	char *digest; /* pulled: the manifest's digest */
	char *manifest;
	json_t *config;
	unsigned uploaded, mounted, present;
};

static void
on_progress(void *arg, uint64_t done, uint64_t total)
{
	struct push *p = ((void **)arg)[0];
	const char *digest = ((void **)arg)[1];

	image_pull_progress(&p->e->model, p->id, digest, done, total);
}

/* ---- where a blob may already be ------------------------------------------------------------- */

/* The repositories of this registry the layer is known to be in (pull source, earlier pushes). */
static json_t *
layer_sources(struct push *p, const struct layer_rec *rec)
{
	char path[LAYER_KEY_SIZE + 16];
	cleanup_free char *text = NULL;
	cleanup(json_decrefp) json_t *j = NULL;
	json_t *s;

	snprintf(path, sizeof(path), "%s/layer.json", rec->key);
	if (read_file_at(p->layers_fd, path, 64u << 10, &text, NULL, NULL) < 0)
		return json_array();
	j = json_loads(text, 0, NULL);
	s = json_object_get(j, "sources");
	return json_is_array(s) ? json_incref(s) : json_array();
}

/* Remember that the layer's blob is in repo now (best effort: a lost note costs an upload). */
static void
note_source(struct push *p, const struct layer_rec *rec)
{
	char path[LAYER_KEY_SIZE + 16];
	cleanup_free char *text = NULL, *out = NULL;
	cleanup(json_decrefp) json_t *j = NULL;
	cleanup_close int dfd = -1;
	struct bk_err err = BK_ERR_INIT;
	json_t *s, *v;
	size_t i;

	snprintf(path, sizeof(path), "%s/layer.json", rec->key);
	if (read_file_at(p->layers_fd, path, 64u << 10, &text, NULL, &err) < 0)
		return;
	j = json_loads(text, 0, NULL);
	if (!json_is_object(j))
		return;
	s = json_object_get(j, "sources");
	if (!json_is_array(s)) {
		s = json_array();
		json_object_set_new(j, "sources", s);
	}
	json_array_foreach (s, i, v)
		if (json_is_string(v) && strcmp(json_string_value(v), p->repo) == 0)
			return;
	if (json_array_size(s) >= SOURCES_MAX)
		json_array_remove(s, 0);
	json_array_append_new(s, json_string(p->repo));
	out = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);
	dfd = openat(p->layers_fd, rec->key, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (out == NULL || dfd < 0 ||
	    write_file_replace(dfd, "layer.json", out, strlen(out), &err) < 0)
		bk_log(BK_LOG_DEBUG, "push: layer %.24s: source not noted: %s", rec->key, err.msg);
}

/* A repository of the target registry to mount the blob from, or NULL. */
static const char *
mount_source(struct push *p, json_t *sources, char *buf, size_t size)
{
	size_t dlen = strlen(p->ref.domain), i;
	struct image_ref src;
	struct bk_err err = BK_ERR_INIT;
	json_t *v;

	json_array_foreach (sources, i, v) {
		const char *s = json_string_value(v);

		if (s && strncmp(s, p->ref.domain, dlen) == 0 && s[dlen] == '/' &&
		    strcmp(s + dlen + 1, p->ref.path) != 0) {
			snprintf(buf, size, "%s", s + dlen + 1);
			return buf;
		}
	}
	/* The repository it was pulled from, on the same registry. */
	if (p->digest && p->source && ref_parse(p->source, &src, &err) == 0 &&
	    strcmp(src.domain, p->ref.domain) == 0 && strcmp(src.path, p->ref.path) != 0) {
		snprintf(buf, size, "%s", src.path);
		return buf;
	}
	return NULL;
}

/* ---- blobs ----------------------------------------------------------------------------------- */

static int
push_blob(struct push *p, const char *digest, uint64_t size, int fd, const char *mount_from,
	  struct bk_err *err)
{
	void *arg[2] = { p, (void *)digest };
	struct registry_upload up = { .digest = digest,
				      .size = size,
				      .fd = fd,
				      .mount_from = mount_from,
				      .progress = on_progress,
				      .arg = arg };
	int ret;

	if ((ret = registry_blob_exists(p->reg, digest, err)) < 0)
		return bk_err_wrap(err, "blob %s", digest);
	if (ret == 1) {
		p->present++;
		image_pull_progress(&p->e->model, p->id, digest, size, size);
		return 0;
	}
	if ((ret = failpoint("push.blob", err)) < 0)
		return ret;
	ret = registry_blob_upload(p->reg, &up, err);
	if (ret < 0)
		return bk_err_wrap(err, "blob %s", digest);
	if (ret == 1)
		p->mounted++;
	else
		p->uploaded++;
	image_pull_progress(&p->e->model, p->id, digest, size, size);
	return 0;
}

static int
push_layer(struct push *p, struct layer_rec *rec, struct bk_err *err)
{
	char path[LAYER_KEY_SIZE + 16], from[256];
	cleanup(json_decrefp) json_t *sources = NULL;
	cleanup_close int fd = -1;
	int ret;

	if (!rec->has_blob &&
	    (ret = layer_blob_make(p->e, p->layers_fd, rec, p->cancel, NULL, err)) < 0)
		return bk_err_wrap(err, "layer %.24s", rec->key);
	snprintf(path, sizeof(path), "%s/blob", rec->key);
	fd = openat(p->layers_fd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return bk_err_sys(err, "layer %.24s: open its blob", rec->key);
	sources = layer_sources(p, rec);
	ret = push_blob(p, rec->blob_digest, rec->blob_size, fd,
			mount_source(p, sources, from, sizeof(from)), err);
	if (ret == 0)
		note_source(p, rec);
	return ret;
}

/* A small blob (a config) from memory, through a memfd for the upload's pread. */
static int
push_mem_blob(struct push *p, const char *data, size_t len, char digest[DIGEST_STR_SIZE],
	      struct bk_err *err)
{
	cleanup_close int fd = memfd_create("bockerfs-config", MFD_CLOEXEC);

	digest_buf(data, len, digest);
	if (fd < 0)
		return bk_err_sys(err, "push: memfd");
	if (write_all(fd, data, len) < 0)
		return bk_err_sys(err, "push: memfd");
	return push_blob(p, digest, len, fd, NULL, err);
}

/* ---- config and manifest --------------------------------------------------------------------- */

/* The pulled image as it came: every layer kept the blob the manifest lists. */
static bool
as_pulled(struct push *p, struct manifest *man, char **config_raw, size_t *config_len)
{
	char path[BK_ID_SIZE + 16];
	struct bk_err err = BK_ERR_INIT;
	size_t i;

	if (p->digest == NULL || p->manifest == NULL)
		return false;
	if (manifest_parse(p->manifest, strlen(p->manifest), man, &err) < 0)
		return false;
	if (man->nlayers != p->n)
		return false;
	for (i = 0; i < p->n; i++)
		if (!p->chain[i].has_blob || strcmp(p->chain[i].blob_digest, man->layers[i].digest))
			return false;
	snprintf(path, sizeof(path), "%s/config.blob", p->id);
	if (read_file_at(p->e->store.images_fd, path, PUSH_CONFIG_MAX, config_raw, config_len,
			 &err) < 0)
		return false;
	{
		char d[DIGEST_STR_SIZE];

		digest_buf(*config_raw, *config_len, d);
		if (strcmp(d, man->config_digest) != 0) {
			free(*config_raw);
			*config_raw = NULL;
			return false;
		}
	}
	return true;
}

/* The config to push: the image's, its rootfs the blobs' diff ids, one history entry each. */
static char *
compose_config(struct push *p)
{
	cleanup(json_decrefp) json_t *cfg = json_deep_copy(p->config);
	json_t *ids = json_array(), *hist, *v, *newhist;
	const char *created;
	size_t i, nonempty = 0;

	for (i = 0; i < p->n; i++)
		json_array_append_new(ids, json_string(p->chain[i].blob_diff_id));
	json_object_set_new(cfg, "rootfs",
			    json_pack("{s:s, s:o}", "type", "layers", "diff_ids", ids));
	hist = json_object_get(cfg, "history");
	json_array_foreach (hist, i, v)
		if (!json_is_true(json_object_get(v, "empty_layer")))
			nonempty++;
	created = json_string_value(json_object_get(cfg, "created"));
	if (!json_is_array(hist) || nonempty > p->n) {
		/* Layers were merged (a base gone): one entry per layer, none claiming more. */
		newhist = json_array();
		for (i = 0; i < p->n; i++)
			json_array_append_new(newhist, json_pack("{s:s?, s:s}", "created", created,
								 "created_by", "bockerfs"));
		json_object_set_new(cfg, "history", newhist);
	} else {
		for (; nonempty < p->n; nonempty++)
			json_array_append_new(
			    hist, json_pack("{s:s?, s:s, s:s}", "created", created, "created_by",
					    "bockerfs", "comment", p->source ? p->source : ""));
	}
	return json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
}

static char *
compose_manifest(struct push *p, const char *config_digest, size_t config_len)
{
	cleanup(json_decrefp) json_t *m = NULL;
	json_t *layers = json_array();

	for (size_t i = 0; i < p->n; i++)
		json_array_append_new(layers, json_pack("{s:s, s:s, s:I}", "mediaType",
							p->chain[i].blob_media_type, "digest",
							p->chain[i].blob_digest, "size",
							(json_int_t)p->chain[i].blob_size));
	m = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType",
		      OCI_MANIFEST, "config", "mediaType", OCI_CONFIG, "digest", config_digest,
		      "size", (json_int_t)config_len, "layers", layers);
	return m ? json_dumps(m, JSON_COMPACT) : NULL;
}

static const char *
manifest_media_type(const char *body)
{
	cleanup(json_decrefp) json_t *j = json_loads(body, 0, NULL);
	const char *t = json_string_value(json_object_get(j, "mediaType"));

	if (t && !strcmp(t, "application/vnd.docker.distribution.manifest.v2+json"))
		return "application/vnd.docker.distribution.manifest.v2+json";
	return OCI_MANIFEST;
}

/* ---- the push -------------------------------------------------------------------------------- */

static int
load_image(struct push *p, const char *name, struct bk_err *err)
{
	struct image *img;
	int ret;

	pthread_mutex_lock(&p->e->model.lock);
	ret = image_resolve_locked(&p->e->model, name, &img, err);
	if (ret == 0) {
		snprintf(p->id, sizeof(p->id), "%s", img->id);
		p->source = img->source ? xstrdup(img->source) : NULL;
		p->digest = img->digest ? xstrdup(img->digest) : NULL;
		p->manifest = img->manifest ? xstrdup(img->manifest) : NULL;
		p->config = json_deep_copy(img->config);
	}
	pthread_mutex_unlock(&p->e->model.lock);
	return ret;
}

static int
run_push(struct push *p, char digest_out[DIGEST_STR_SIZE], struct bk_err *err)
{
	struct registry_opts ropts = { .cancel = p->cancel, .push = true };
	struct manifest man = { 0 };
	cleanup_free char *config = NULL, *manifest = NULL;
	char key[LAYER_KEY_SIZE], config_digest[DIGEST_STR_SIZE];
	const char *media_type;
	size_t config_len = 0, i;
	int ret;

	if ((ret = image_layer(p->e, p->layers_fd, p->id, key, err)) < 0)
		return ret;
	if (key[0] && (ret = layer_chain(p->layers_fd, key, &p->chain, &p->n, err)) < 0)
		return ret;
	ropts.auth_config = p->e->registry.auth_config;
	ropts.insecure = (const char *const *)p->e->registry.insecure;
	if ((ret = registry_open(&p->ref, &ropts, &p->reg, err)) < 0)
		return ret;
	for (i = 0; i < p->n; i++)
		if ((ret = push_layer(p, &p->chain[i], err)) < 0)
			goto out;
	if (as_pulled(p, &man, &config, &config_len)) {
		manifest = xstrdup(p->manifest);
	} else {
		free(config);
		config = compose_config(p);
		if (config == NULL) {
			ret = bk_err_set(err, ENOMEM, "encode the config");
			goto out;
		}
		config_len = strlen(config);
	}
	if ((ret = push_mem_blob(p, config, config_len, config_digest, err)) < 0) {
		bk_err_wrap(err, "config");
		goto out;
	}
	if (manifest == NULL &&
	    (manifest = compose_manifest(p, config_digest, config_len)) == NULL) {
		ret = bk_err_set(err, ENOMEM, "encode the manifest");
		goto out;
	}
	if ((ret = failpoint("push.manifest", err)) < 0)
		goto out;
	media_type = manifest_media_type(manifest);
	ret =
	    registry_put_manifest(p->reg, p->ref.tag, manifest, strlen(manifest), media_type, err);
	if (ret < 0) {
		bk_err_wrap(err, "manifest");
		goto out;
	}
	digest_buf(manifest, strlen(manifest), digest_out);
out:
	manifest_free(&man);
	return ret;
}

int
bk_image_push(struct bk_engine *e, const char *name, const char *ref, struct bk_cancel *cancel,
	      char digest_out[BK_DIGEST_SIZE], struct bk_err *err)
{
	struct push p = { .e = e, .cancel = cancel, .layers_fd = -1 };
	char shown[600];
	int ret;

	if ((ret = load_image(&p, name, err)) < 0)
		return bk_err_wrap(err, "push");
	if (ref == NULL || *ref == '\0') {
		pthread_mutex_lock(&e->model.lock);
		{
			struct image *img = image_find_locked(&e->model, p.id, 0, NULL);

			ref = img && img->nrefs ? img->refs[0] : NULL;
			snprintf(shown, sizeof(shown), "%s", ref ? ref : "");
		}
		pthread_mutex_unlock(&e->model.lock);
		ref = shown[0] ? shown : NULL;
	}
	if (ref == NULL) {
		ret = bk_err_set(err, EINVAL, "push %s: the image has no name: give one", p.id);
		goto done;
	}
	if ((ret = ref_parse(ref, &p.ref, err)) < 0) {
		bk_err_wrap(err, "push");
		goto done;
	}
	if (p.ref.tag[0] == '\0') {
		ret = bk_err_set(err, EINVAL, "push '%.200s': a tag is needed, not a digest", ref);
		goto done;
	}
	snprintf(p.repo, sizeof(p.repo), "%s/%s", p.ref.domain, p.ref.path);
	if ((ret = image_push_begin(&e->model, p.id, err)) < 0)
		goto done;
	layers_hold(e);
	p.layers_fd = layers_open_dir(e, err);
	ret = p.layers_fd < 0 ? p.layers_fd : run_push(&p, digest_out, err);
	if (p.layers_fd >= 0)
		close(p.layers_fd);
	layers_release(e);
	image_push_end(&e->model, p.id);
	if (ret < 0)
		bk_err_wrap(err, "push '%.200s'", ref);
	else
		bk_log(BK_LOG_INFO,
		       "pushed %s as %s@%s: %u blob(s) uploaded, %u mounted, %u present", p.id, ref,
		       digest_out, p.uploaded, p.mounted, p.present);
	if (ret == 0)
		events_emit(&e->model.ev, BK_OBJ_IMAGE, p.id, "push", "ref=%s", ref);
done:
	registry_free(p.reg);
	free(p.chain);
	free(p.source);
	free(p.digest);
	free(p.manifest);
	json_decref(p.config);
	return ret;
}
