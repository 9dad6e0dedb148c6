/*
 * An image as the OCI blobs that carry it, for a push (push.c) and a save:
 * its chain of layers in the store with their blobs made (layers.c), its
 * config and its manifest.
 *
 * A pulled image whose layers all kept the blobs its manifest lists is
 * given with its own config and manifest bytes, so that it keeps its
 * manifest digest wherever it goes.  Anything else gets an OCI manifest
 * and a config whose rootfs lists the blobs' diff ids, with one history
 * entry per layer (added for the layers the image's history does not
 * account for: a commit's, a build's).
 */
#include <errno.h>
#include <string.h>

#include "ops/ops.h"
#include "parse/parse.h"
#include "base/base.h"

#define EXPORT_CONFIG_MAX (16u << 20)
#define OCI_MANIFEST      "application/vnd.oci.image.manifest.v1+json"
#define DOCKER_MANIFEST   "application/vnd.docker.distribution.manifest.v2+json"
#define OCI_CONFIG        "application/vnd.oci.image.config.v1+json"

static int
load_image(struct bk_engine *e, const char *name, struct image_export *x, struct bk_err *err)
{
	struct image *img;
	int ret;

	pthread_mutex_lock(&e->model.lock);
	ret = image_resolve_locked(&e->model, name, &img, err);
	if (ret == 0) {
		snprintf(x->id, sizeof(x->id), "%s", img->id);
		x->source = img->source ? xstrdup(img->source) : NULL;
		x->pulled_digest = img->digest ? xstrdup(img->digest) : NULL;
		x->pulled_manifest = img->manifest ? xstrdup(img->manifest) : NULL;
		x->config_json = json_deep_copy(img->config);
		x->refs = xcalloc(img->nrefs + 1, sizeof(char *));
		for (size_t i = 0; i < img->nrefs; i++)
			x->refs[x->nrefs++] = xstrdup(img->refs[i]);
	}
	pthread_mutex_unlock(&e->model.lock);
	return ret;
}

/* The pulled image as it came: every layer kept the blob the manifest lists. */
static bool
as_pulled(struct bk_engine *e, struct image_export *x)
{
	struct manifest man = { 0 };
	char path[BK_ID_SIZE + 16], d[DIGEST_STR_SIZE];
	struct bk_err err = BK_ERR_INIT;
	bool ok = false;
	size_t i;

	if (x->pulled_digest == NULL || x->pulled_manifest == NULL ||
	    manifest_parse(x->pulled_manifest, strlen(x->pulled_manifest), &man, &err) < 0)
		return false;
	if (man.nlayers != x->n)
		goto out;
	for (i = 0; i < x->n; i++)
		if (!x->chain[i].has_blob || strcmp(x->chain[i].blob_digest, man.layers[i].digest))
			goto out;
	snprintf(path, sizeof(path), "%s/config.blob", x->id);
	if (read_file_at(e->store.images_fd, path, EXPORT_CONFIG_MAX, &x->config, &x->config_len,
			 &err) < 0)
		goto out;
	digest_buf(x->config, x->config_len, d);
	if (strcmp(d, man.config_digest) != 0) {
		free(x->config);
		x->config = NULL;
		goto out;
	}
	x->manifest = xstrdup(x->pulled_manifest);
	ok = true;
out:
	manifest_free(&man);
	return ok;
}

/* The config: the image's, its rootfs the blobs' diff ids, one history entry per layer. */
static char *
compose_config(const struct image_export *x)
{
	cleanup(json_decrefp) json_t *cfg = json_deep_copy(x->config_json);
	json_t *ids = json_array(), *hist, *v, *newhist;
	const char *created;
	size_t i, nonempty = 0;

	for (i = 0; i < x->n; i++)
		json_array_append_new(ids, json_string(x->chain[i].blob_diff_id));
	json_object_set_new(cfg, "rootfs",
			    json_pack("{s:s, s:o}", "type", "layers", "diff_ids", ids));
	hist = json_object_get(cfg, "history");
	json_array_foreach (hist, i, v)
		if (!json_is_true(json_object_get(v, "empty_layer")))
			nonempty++;
	created = json_string_value(json_object_get(cfg, "created"));
	if (!json_is_array(hist) || nonempty > x->n) {
		/* Layers were merged (a base gone): one entry per layer, none claiming more. */
		newhist = json_array();
		for (i = 0; i < x->n; i++)
			json_array_append_new(newhist, json_pack("{s:s?, s:s}", "created", created,
								 "created_by", "bockerfs"));
		json_object_set_new(cfg, "history", newhist);
	} else {
		for (; nonempty < x->n; nonempty++)
			json_array_append_new(
			    hist, json_pack("{s:s?, s:s, s:s}", "created", created, "created_by",
					    "bockerfs", "comment", x->source ? x->source : ""));
	}
	return json_dumps(cfg, JSON_COMPACT | JSON_SORT_KEYS);
}

static char *
compose_manifest(const struct image_export *x)
{
	cleanup(json_decrefp) json_t *m = NULL;
	json_t *layers = json_array();

	for (size_t i = 0; i < x->n; i++)
		json_array_append_new(layers, json_pack("{s:s, s:s, s:I}", "mediaType",
							x->chain[i].blob_media_type, "digest",
							x->chain[i].blob_digest, "size",
							(json_int_t)x->chain[i].blob_size));
	m = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType",
		      OCI_MANIFEST, "config", "mediaType", OCI_CONFIG, "digest", x->config_digest,
		      "size", (json_int_t)x->config_len, "layers", layers);
	return m ? json_dumps(m, JSON_COMPACT) : NULL;
}

static const char *
media_type_of(const char *manifest)
{
	cleanup(json_decrefp) json_t *j = json_loads(manifest, 0, NULL);
	const char *t = json_string_value(json_object_get(j, "mediaType"));

	return t && !strcmp(t, DOCKER_MANIFEST) ? DOCKER_MANIFEST : OCI_MANIFEST;
}

int
image_export_open(struct bk_engine *e, int layers_fd, const char *name, struct bk_cancel *cancel,
		  struct image_export *x, struct bk_err *err)
{
	char key[LAYER_KEY_SIZE];
	int ret;
	size_t i;

	memset(x, 0, sizeof(*x));
	if ((ret = load_image(e, name, x, err)) < 0)
		return ret;
	if ((ret = image_layer(e, layers_fd, x->id, key, err)) < 0)
		return ret;
	if (key[0] && (ret = layer_chain(layers_fd, key, &x->chain, &x->n, err)) < 0)
		return ret;
	for (i = 0; i < x->n; i++)
		if (!x->chain[i].has_blob &&
		    (ret = layer_blob_make(e, layers_fd, &x->chain[i], cancel, NULL, err)) < 0)
			return bk_err_wrap(err, "layer %.24s", x->chain[i].key);
	if (!as_pulled(e, x)) {
		x->config = compose_config(x);
		if (x->config == NULL)
			return bk_err_set(err, ENOMEM, "encode the config");
		x->config_len = strlen(x->config);
	}
	digest_buf(x->config, x->config_len, x->config_digest);
	if (x->manifest == NULL && (x->manifest = compose_manifest(x)) == NULL)
		return bk_err_set(err, ENOMEM, "encode the manifest");
	x->manifest_len = strlen(x->manifest);
	digest_buf(x->manifest, x->manifest_len, x->manifest_digest);
	x->manifest_type = media_type_of(x->manifest);
	return 0;
}

void
image_export_free(struct image_export *x)
{
	for (size_t i = 0; i < x->nrefs; i++)
		free(x->refs[i]);
	free(x->refs);
	free(x->chain);
	free(x->source);
	free(x->pulled_digest);
	free(x->pulled_manifest);
	json_decref(x->config_json);
	free(x->config);
	free(x->manifest);
	memset(x, 0, sizeof(*x));
}
