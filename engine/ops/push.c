/*
 * Pushing an image to a registry (the distribution spec's push, as docker
 * push does it): every layer blob the repository lacks, then the config,
 * then the manifest under the tag.
 *
 * What is sent is the image as export.c gives it: a pulled layer's blob as
 * it came, a committed, built or imported image's own layer made from its
 * snapshot and its parent's the first time and kept (a second push
 * compresses nothing), and the config and manifest (a pulled image's own
 * bytes when nothing changed: the same manifest digest).
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

#define SOURCES_MAX 8 /* repositories remembered per layer, for mounts */

struct push {
	struct bk_engine *e;
	struct registry *reg;
	struct bk_cancel *cancel;
	struct image_ref ref;
	char repo[512]; /* "host/path" of the target, as layers record it */
	char id[BK_ID_SIZE];
	int layers_fd;
	struct image_export x;
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
	if (p->x.pulled_digest && p->x.source && ref_parse(p->x.source, &src, &err) == 0 &&
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

	snprintf(path, sizeof(path), "%s/blob", rec->key);
	fd = openat(p->layers_fd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return bk_err_sys(err, "layer %.24s: open its blob", rec->key);
	sources = layer_sources(p, rec);
	ret = push_blob(p, rec->blob_digest, rec->blob_size, fd,
			mount_source(p, sources, from, sizeof(from)), err);
	if (ret == 0)
		layer_note_source(p->e, p->layers_fd, rec->key, p->repo);
	return ret;
}

/* A small blob (a config) from memory, through a memfd for the upload's pread. */
static int
push_mem_blob(struct push *p, const char *data, size_t len, const char *digest, struct bk_err *err)
{
	cleanup_close int fd = memfd_create("bockerfs-config", MFD_CLOEXEC);

	if (fd < 0)
		return bk_err_sys(err, "push: memfd");
	if (write_all(fd, data, len) < 0)
		return bk_err_sys(err, "push: memfd");
	{
		cleanup(json_decrefp) json_t *none = json_array();
		char from[256];

		/* A pulled image's own config is in the repository it came from. */
		return push_blob(p, digest, len, fd, mount_source(p, none, from, sizeof(from)),
				 err);
	}
}

/* ---- the push -------------------------------------------------------------------------------- */

static int
run_push(struct push *p, const char *name, char digest_out[DIGEST_STR_SIZE], struct bk_err *err)
{
	struct registry_opts ropts = { .cancel = p->cancel, .push = true };
	size_t i;
	int ret;

	/* Blobs are made first: a push that cannot make them contacts nothing. */
	if ((ret = image_export_open(p->e, p->layers_fd, name, p->cancel, &p->x, err)) < 0)
		return ret;
	ropts.auth_config = p->e->registry.auth_config;
	ropts.insecure = (const char *const *)p->e->registry.insecure;
	if ((ret = registry_open(&p->ref, &ropts, &p->reg, err)) < 0)
		return ret;
	for (i = 0; i < p->x.n; i++)
		if ((ret = push_layer(p, &p->x.chain[i], err)) < 0)
			return ret;
	if ((ret = push_mem_blob(p, p->x.config, p->x.config_len, p->x.config_digest, err)) < 0)
		return bk_err_wrap(err, "config");
	if ((ret = failpoint("push.manifest", err)) < 0)
		return ret;
	ret = registry_put_manifest(p->reg, p->ref.tag, p->x.manifest, p->x.manifest_len,
				    p->x.manifest_type, err);
	if (ret < 0)
		return bk_err_wrap(err, "manifest");
	snprintf(digest_out, DIGEST_STR_SIZE, "%s", p->x.manifest_digest);
	return 0;
}

int
bk_image_push(struct bk_engine *e, const char *name, const char *ref, struct bk_cancel *cancel,
	      char digest_out[BK_DIGEST_SIZE], struct bk_err *err)
{
	struct push p = { .e = e, .cancel = cancel, .layers_fd = -1 };
	char shown[600];
	int ret;

	pthread_mutex_lock(&e->model.lock);
	{
		struct image *img;

		ret = image_resolve_locked(&e->model, name, &img, err);
		if (ret == 0) {
			snprintf(p.id, sizeof(p.id), "%s", img->id);
			/* No reference: its first name, as docker push NAME. */
			snprintf(shown, sizeof(shown), "%s", img->nrefs ? img->refs[0] : "");
		}
	}
	pthread_mutex_unlock(&e->model.lock);
	if (ret < 0)
		return bk_err_wrap(err, "push");
	if (ref == NULL || *ref == '\0')
		ref = shown[0] ? shown : NULL;
	if (ref == NULL) {
		ret = bk_err_set(err, EINVAL, "push %s: the image has no name: give one", p.id);
		goto done;
	}
	if ((ret = ref_parse(ref, &p.ref, err)) < 0) {
		bk_err_wrap(err, "push");
		goto done;
	}
	if (p.ref.tag[0] == '\0' || p.ref.digest[0]) {
		ret = bk_err_set(err, EINVAL, "push '%.200s': a tag is needed, and no digest", ref);
		goto done;
	}
	snprintf(p.repo, sizeof(p.repo), "%s/%s", p.ref.domain, p.ref.path);
	if ((ret = image_push_begin(&e->model, p.id, err)) < 0)
		goto done;
	layers_hold(e);
	p.layers_fd = layers_open_dir(e, err);
	ret = p.layers_fd < 0 ? p.layers_fd : run_push(&p, p.id, digest_out, err);
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
	image_export_free(&p.x);
	return ret;
}
