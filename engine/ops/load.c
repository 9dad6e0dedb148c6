/*
 * docker load: the images of a tar archive into the store, as a pull would
 * have made them.  Read: ours (save.c) and Docker's (>= 25: both views
 * below), Docker's and podman's docker-archive (manifest.json only, layers
 * as "<hex>.tar" or "<id>/layer.tar", plain or compressed), skopeo's and
 * podman's oci-archive (index.json only).
 *
 *   index.json      each manifest descriptor (an index: the host's platform),
 *                   named by its io.containerd.image.name annotation, else
 *                   by org.opencontainers.image.ref.name when that is more
 *                   than a tag; the blobs are blobs/sha256/<hex>.  A
 *                   manifest.json beside it must agree (its RepoTags name
 *                   the images too).
 *   manifest.json   without index.json: each entry's Config and Layers are
 *                   members, its RepoTags the names; the manifest is made
 *                   here (OCI, the layers' media types from their first
 *                   bytes), with the blobs' digests learnt while reading.
 *
 * The archive is hostile: nothing of it is extracted but the layers, each
 * through the extraction and caps of a pull (layerbuild.c, store/layer.c),
 * read member by member (archive.c); every blob is checked against its
 * descriptor (digest, size), every layer's diff id against the config,
 * manifests and indexes are capped at 4 MiB and configs at 16 MiB (EFBIG).
 * An image's layers are keyed by chain id and keep their blobs as pulled
 * ones do, and its directory holds the manifest, config bytes and digest
 * (the record of a pulled image): a push or a save sends the same blobs.
 *
 * All images are built before any is published; a failure leaves none
 * (layers verified and committed stay, for reuse, as after a pull).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "ops/ops.h"
#include "store/store.h"
#include "parse/parse.h"
#include "base/base.h"

#define ENTRIES_MAX  1024 /* images (descriptors, manifest.json entries) in an archive */
#define NAMES_MAX    64   /* names of one image */
#define MEMBER_SIZE  1040
#define ANN_NAME     "io.containerd.image.name"
#define ANN_REF      "org.opencontainers.image.ref.name"
#define OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_CONFIG   "application/vnd.oci.image.config.v1+json"

struct load_image {
	char digest[DIGEST_STR_SIZE]; /* the manifest's (docker-archive: once made) */
	char *manifest;
	size_t manifest_len;
	bool made; /* the manifest is ours to make (docker-archive) */
	char config_digest[DIGEST_STR_SIZE];
	char *config_raw;
	size_t config_len;
	json_t *config;
	struct pull_layer *layers;
	size_t n;
	char (*member)[MEMBER_SIZE]; /* each layer's blob in the archive */
	enum layer_comp *comp;
	char **names; /* familiar */
	size_t nnames;
	char id[BK_ID_SIZE]; /* shown while it loads */
	bool begun;
	char id_out[BK_ID_SIZE]; /* the image that has it now (another one, if already stored) */
	bool published;
};

/* A blob read in this load: not read again for another image. */
struct seen_blob {
	char member[MEMBER_SIZE];
	char digest[DIGEST_STR_SIZE];
	uint64_t size;
	enum layer_comp comp;
};

struct load {
	struct bk_engine *e;
	struct bk_cancel *cancel;
	const char *file;
	struct tar_index ix;
	int layers_fd;
	struct load_image *img;
	size_t n;
	struct seen_blob *seen;
	size_t nseen;
};

static void
blob_member(const char *digest, char member[MEMBER_SIZE])
{
	snprintf(member, MEMBER_SIZE, "blobs/sha256/%s", digest_hex(digest));
}

/* ---- names ----------------------------------------------------------------------------------- */

static int
add_name(struct load_image *li, const char *name, struct bk_err *err)
{
	char familiar[512];
	size_t i;

	if (familiar_name(name, familiar, sizeof(familiar), err) < 0)
		return bk_err_wrap(err, "the archive names an image '%.200s'", name);
	for (i = 0; i < li->nnames; i++)
		if (strcmp(li->names[i], familiar) == 0)
			return 0;
	if (li->nnames == NAMES_MAX)
		return bk_err_set(err, EBADMSG, "more than %d names for one image", NAMES_MAX);
	li->names = xrealloc(li->names, (li->nnames + 1) * sizeof(char *));
	li->names[li->nnames++] = xstrdup(familiar);
	return 0;
}

/*
 * The name a descriptor's annotations give: containerd's (Docker writes it),
 * else the OCI ref.name when it is more than a tag (skopeo and podman put a
 * whole reference there; Docker only the tag).
 */
static int
annotated_name(struct load_image *li, json_t *desc, struct bk_err *err)
{
	json_t *ann = json_object_get(desc, "annotations");
	const char *name = json_string_value(json_object_get(ann, ANN_NAME));
	const char *ref = json_string_value(json_object_get(ann, ANN_REF));

	if ((name == NULL || *name == '\0') && ref && strpbrk(ref, ":/@"))
		name = ref;
	return name && *name ? add_name(li, name, err) : 0;
}

static int
repo_tags(struct load_image *li, json_t *tags, struct bk_err *err)
{
	size_t i;
	json_t *v;

	if (!json_is_array(tags) && !json_is_null(tags) && tags != NULL)
		return bk_err_set(err, EBADMSG, "manifest.json: RepoTags is not a list");
	json_array_foreach (tags, i, v) {
		if (!json_is_string(v))
			return bk_err_set(err, EBADMSG, "manifest.json: a RepoTag is not a string");
		if (add_name(li, json_string_value(v), err) < 0)
			return -err->code;
	}
	return 0;
}

/* ---- documents ------------------------------------------------------------------------------- */

/* A blob into memory, at most max bytes (EFBIG), checked against its digest (and size, if >= 0). */
static int
read_blob(struct load *l, const char *digest, int64_t size, size_t max, char **out, size_t *len,
	  struct bk_err *err)
{
	char member[MEMBER_SIZE], got[DIGEST_STR_SIZE];
	int ret;

	if (size > (int64_t)max)
		return bk_err_set(err, EFBIG, "blob %s: %lld bytes, more than %zu", digest,
				  (long long)size, max);
	blob_member(digest, member);
	if ((ret = tar_read_member(&l->ix, member, max, out, len, err)) < 0)
		return ret;
	digest_buf(*out, *len, got);
	if (strcmp(got, digest) != 0 || (size >= 0 && (uint64_t)size != *len)) {
		free(*out);
		*out = NULL;
		return bk_err_set(err, EBADMSG, "blob %s: digest mismatch (got %s from %zu bytes)",
				  digest, got, *len);
	}
	return 0;
}

static json_t *
parse_json(const char *text, size_t len, const char *what, struct bk_err *err)
{
	json_error_t je;
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);

	if (j == NULL)
		bk_err_set(err, EBADMSG, "%s: line %d: %s", what, je.line, je.text);
	return j;
}

static struct load_image *
image_by_digest(struct load *l, const char *digest)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->img[i].digest, digest) == 0)
			return &l->img[i];
	return NULL;
}

static struct load_image *
new_image(struct load *l, struct bk_err *err)
{
	if (l->n == ENTRIES_MAX) {
		bk_err_set(err, EBADMSG, "more than %d images in the archive", ENTRIES_MAX);
		return NULL;
	}
	l->img = xrealloc(l->img, (l->n + 1) * sizeof(*l->img));
	memset(&l->img[l->n], 0, sizeof(l->img[l->n]));
	return &l->img[l->n++];
}

/* The config, its diff ids giving the layers' chain ids. */
static int
load_config(struct load_image *li, struct bk_err *err)
{
	cleanup_free const char **ids = NULL;
	size_t i;
	int ret;

	ret = manifest_config_parse(li->config_raw, li->config_len, li->n, &li->config, &ids, err);
	if (ret < 0)
		return bk_err_wrap(err, "config %s", li->config_digest);
	for (i = 0; i < li->n; i++) {
		struct pull_layer *p = &li->layers[i];

		snprintf(p->diff_id, sizeof(p->diff_id), "%s", ids[i]);
		manifest_chain_id(i ? li->layers[i - 1].chain_id : NULL, p->diff_id, p->chain_id);
	}
	return 0;
}

static void
alloc_layers(struct load_image *li, size_t n)
{
	li->n = n;
	li->layers = xcalloc(n ? n : 1, sizeof(*li->layers));
	li->member = xcalloc(n ? n : 1, sizeof(*li->member));
	li->comp = xcalloc(n ? n : 1, sizeof(*li->comp));
}

/* ---- index.json (OCI) ------------------------------------------------------------------------ */

/* An image manifest for descriptor d: itself, or the host's from the index it is. */
static int
manifest_of(struct load *l, json_t *d, char digest[DIGEST_STR_SIZE], char **body, size_t *len,
	    struct bk_err *err)
{
	const char *dg = json_string_value(json_object_get(d, "digest"));
	json_t *js = json_object_get(d, "size");
	enum manifest_kind kind;
	struct platform plat;
	int ret;

	if (dg == NULL || !ref_digest_valid(dg) || !json_is_integer(js) ||
	    json_integer_value(js) < 0)
		return bk_err_set(err, EBADMSG,
				  "index.json: a descriptor without a valid digest "
				  "and size");
	snprintf(digest, DIGEST_STR_SIZE, "%s", dg);
	if ((ret = read_blob(l, digest, json_integer_value(js), MANIFEST_MAX, body, len, err)) < 0)
		return ret;
	ret = manifest_kind(*body, *len, json_string_value(json_object_get(d, "mediaType")), &kind,
			    err);
	if (ret < 0 || kind == MANIFEST_IMAGE)
		return ret;
	platform_host(&plat);
	ret = manifest_index_select(*body, *len, &plat, digest, err);
	free(*body);
	*body = NULL;
	if (ret < 0 || (ret = read_blob(l, digest, -1, MANIFEST_MAX, body, len, err)) < 0 ||
	    (ret = manifest_kind(*body, *len, NULL, &kind, err)) < 0)
		return ret;
	if (kind != MANIFEST_IMAGE)
		return bk_err_set(err, EPROTO, "index %s points to another index", digest);
	return 0;
}

/* The image of manifest body (digest): its config and layers, each blob in the archive. */
static int
image_from_manifest(struct load *l, struct load_image *li, struct bk_err *err)
{
	struct manifest man = { 0 };
	size_t i;
	int ret;

	if ((ret = manifest_parse(li->manifest, li->manifest_len, &man, err)) < 0)
		return bk_err_wrap(err, "manifest %s", li->digest);
	snprintf(li->config_digest, sizeof(li->config_digest), "%s", man.config_digest);
	alloc_layers(li, man.nlayers);
	ret = read_blob(l, man.config_digest, (int64_t)man.config_size, CONFIG_MAX, &li->config_raw,
			&li->config_len, err);
	for (i = 0; i < man.nlayers && ret == 0; i++) {
		struct pull_layer *p = &li->layers[i];
		uint64_t size = 0;

		snprintf(p->digest, sizeof(p->digest), "%s", man.layers[i].digest);
		p->size = man.layers[i].size;
		li->comp[i] = man.layers[i].comp;
		blob_member(p->digest, li->member[i]);
		if ((ret = tar_member_size(&l->ix, li->member[i], &size, err)) < 0)
			break;
		if (size != p->size)
			ret = bk_err_set(
			    err, EBADMSG,
			    "blob %s: %llu bytes in the archive, the manifest says %llu", p->digest,
			    (unsigned long long)size, (unsigned long long)p->size);
	}
	manifest_free(&man);
	if (ret < 0)
		return bk_err_wrap(err, "manifest %s", li->digest);
	return load_config(li, err);
}

static int
read_index(struct load *l, struct bk_err *err)
{
	cleanup_free char *text = NULL;
	cleanup(json_decrefp) json_t *j = NULL;
	json_t *mans, *d;
	size_t len, i;
	int ret;

	if ((ret = tar_read_member(&l->ix, "index.json", MANIFEST_MAX, &text, &len, err)) < 0)
		return ret;
	if ((j = parse_json(text, len, "index.json", err)) == NULL)
		return -err->code;
	mans = json_object_get(j, "manifests");
	if (!json_is_array(mans))
		return bk_err_set(err, EBADMSG, "index.json: no manifests");
	json_array_foreach (mans, i, d) {
		char digest[DIGEST_STR_SIZE];
		struct load_image *li;
		cleanup_free char *body = NULL;
		size_t blen;

		if ((ret = manifest_of(l, d, digest, &body, &blen, err)) < 0)
			return ret;
		li = image_by_digest(l, digest);
		if (li == NULL) {
			if ((li = new_image(l, err)) == NULL)
				return -err->code;
			snprintf(li->digest, sizeof(li->digest), "%s", digest);
			li->manifest = take_ptr(body);
			li->manifest_len = blen;
			if ((ret = image_from_manifest(l, li, err)) < 0)
				return ret;
		}
		if ((ret = annotated_name(li, d, err)) < 0)
			return ret;
	}
	return 0;
}

/* ---- manifest.json (Docker) ------------------------------------------------------------------ */

/* A manifest.json entry's path: its member, cleaned and in the archive (or EBADMSG why not). */
static int
entry_path(struct load *l, json_t *v, const char *what, char member[MEMBER_SIZE], uint64_t *size,
	   struct bk_err *err)
{
	const char *path = json_string_value(v);
	int ret;

	if (path == NULL || strlen(path) >= MEMBER_SIZE)
		return bk_err_set(err, EBADMSG, "manifest.json: a %s that is not a path", what);
	if ((ret = tar_member_size(&l->ix, path, size, err)) < 0)
		return bk_err_wrap(err, "manifest.json: %s", what);
	snprintf(member, MEMBER_SIZE, "%s", path);
	return 0;
}

/* An entry beside index.json: the same image, the same blobs; its RepoTags name it. */
static int
docker_entry_check(struct load *l, json_t *ent, json_t *layers, const char *config,
		   struct bk_err *err)
{
	char want[MEMBER_SIZE];
	size_t i, k;

	for (i = 0; i < l->n; i++) {
		struct load_image *li = &l->img[i];

		blob_member(li->config_digest, want);
		if (strcmp(want, config) != 0)
			continue;
		if (json_array_size(layers) != li->n)
			break;
		for (k = 0; k < li->n; k++)
			if (strcmp(json_string_value(json_array_get(layers, k)), li->member[k]))
				break;
		if (k < li->n)
			break;
		return repo_tags(li, json_object_get(ent, "RepoTags"), err);
	}
	return bk_err_set(err, EBADMSG, "manifest.json and index.json disagree about '%.200s'",
			  config);
}

/* An entry alone: its config read, its layers' members found; the manifest made later. */
static int
docker_entry_image(struct load *l, json_t *ent, json_t *layers, const char *config,
		   struct bk_err *err)
{
	struct load_image *li;
	char digest[DIGEST_STR_SIZE];
	cleanup_free char *raw = NULL;
	size_t len, i;
	int ret;

	if ((ret = tar_read_member(&l->ix, config, CONFIG_MAX, &raw, &len, err)) < 0)
		return bk_err_wrap(err, "manifest.json: Config");
	digest_buf(raw, len, digest);
	for (i = 0; i < l->n; i++)
		if (strcmp(l->img[i].config_digest, digest) == 0)
			return repo_tags(&l->img[i], json_object_get(ent, "RepoTags"), err);
	if ((li = new_image(l, err)) == NULL)
		return -err->code;
	li->made = true;
	snprintf(li->config_digest, sizeof(li->config_digest), "%s", digest);
	li->config_raw = take_ptr(raw);
	li->config_len = len;
	alloc_layers(li, json_array_size(layers));
	for (i = 0; i < li->n; i++)
		if ((ret = entry_path(l, json_array_get(layers, i), "layer", li->member[i],
				      &li->layers[i].size, err)) < 0)
			return ret;
	if ((ret = load_config(li, err)) < 0)
		return ret;
	return repo_tags(li, json_object_get(ent, "RepoTags"), err);
}

static int
read_docker_manifest(struct load *l, bool beside_index, struct bk_err *err)
{
	cleanup_free char *text = NULL;
	cleanup(json_decrefp) json_t *j = NULL;
	size_t len, i, k;
	json_t *ent;
	int ret;

	if ((ret = tar_read_member(&l->ix, "manifest.json", MANIFEST_MAX, &text, &len, err)) < 0)
		return ret;
	if ((j = parse_json(text, len, "manifest.json", err)) == NULL)
		return -err->code;
	if (!json_is_array(j) || json_array_size(j) > ENTRIES_MAX)
		return bk_err_set(err, EBADMSG, "manifest.json: not a list of at most %d images",
				  ENTRIES_MAX);
	json_array_foreach (j, i, ent) {
		json_t *layers = json_object_get(ent, "Layers");
		char config[MEMBER_SIZE], member[MEMBER_SIZE];
		uint64_t size;

		if (!json_is_array(layers) || json_array_size(layers) > MANIFEST_LAYERS_MAX)
			return bk_err_set(err, EBADMSG, "manifest.json: an image without Layers");
		/* Every path is checked first: one out of the archive fails it, used or not. */
		if ((ret = entry_path(l, json_object_get(ent, "Config"), "Config", config, &size,
				      err)) < 0)
			return ret;
		for (k = 0; k < json_array_size(layers); k++)
			if ((ret = entry_path(l, json_array_get(layers, k), "layer", member, &size,
					      err)) < 0)
				return ret;
		ret = beside_index ? docker_entry_check(l, ent, layers, config, err)
				   : docker_entry_image(l, ent, layers, config, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* The images the archive holds, their documents verified; no layer read yet. */
static int
read_images(struct load *l, struct bk_err *err)
{
	uint64_t size;
	struct bk_err ignored = BK_ERR_INIT;
	bool index = tar_member_size(&l->ix, "index.json", &size, &ignored) == 0;
	bool docker = tar_member_size(&l->ix, "manifest.json", &size, &ignored) == 0;
	int ret;

	if (!index && !docker)
		return bk_err_set(err, EBADMSG,
				  "no index.json or manifest.json: not an image archive");
	if (index && (ret = read_index(l, err)) < 0)
		return ret;
	if (docker && (ret = read_docker_manifest(l, index, err)) < 0)
		return ret;
	if (l->n == 0)
		return bk_err_set(err, EPROTO, "the archive holds no image");
	return 0;
}

/* ---- a blob as a stream ---------------------------------------------------------------------- */

struct blob_in {
	struct load *l;
	struct load_image *li;
	struct tar_stream *ts;
	const char *member;
	const char *want; /* the descriptor's digest; NULL: learnt here */
	uint64_t size;    /* the member's */
	struct digest dig;
	uint64_t got;
	int keep_fd; /* tmp/<keep>: the blob kept for the layer; -1 */
	char keep[64];
	const void *first; /* read ahead, to tell its compression */
	size_t nfirst;
	bool ended;
	int end_ret;
	struct bk_err end_err;
	char digest[DIGEST_STR_SIZE]; /* once ended */
};

static void
blob_close(struct blob_in *b)
{
	tar_stream_close(b->ts);
	b->ts = NULL;
	digest_free(&b->dig);
	if (b->keep_fd >= 0) {
		close(b->keep_fd);
		/* Gone already when the layer took it. */
		unlinkat(b->l->e->store.tmp_fd, b->keep, 0);
	}
	b->keep_fd = -1;
}

static int
blob_open(struct load *l, struct load_image *li, size_t i, bool keep, struct blob_in *b,
	  struct bk_err *err)
{
	struct pull_layer *p = &li->layers[i];
	char rnd[13];
	ssize_t n;
	int ret;

	memset(b, 0, sizeof(*b));
	b->l = l;
	b->li = li;
	b->keep_fd = -1;
	b->member = li->member[i];
	b->want = li->made ? NULL : p->digest;
	b->size = p->size;
	digest_init(&b->dig);
	if ((ret = tar_stream_open(&l->ix, b->member, l->cancel, &b->ts, err)) < 0)
		return ret;
	if (keep) {
		random_hex(rnd, 12);
		snprintf(b->keep, sizeof(b->keep), "blob-load-%s", rnd);
		b->keep_fd = openat(l->e->store.tmp_fd, b->keep,
				    O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (b->keep_fd < 0)
			return bk_err_sys(err, "create tmp/%s", b->keep);
	}
	if ((n = tar_stream_read(b->ts, &b->first, err)) < 0)
		return (int)n;
	b->nfirst = (size_t)n;
	return 0;
}

/* What the first bytes say the layer is (docker-archive gives no media type). */
static enum layer_comp
sniff(const struct blob_in *b)
{
	const unsigned char *p = b->first;

	if (b->nfirst >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return LAYER_GZIP;
	if (b->nfirst >= 4 && p[0] == 0x28 && p[1] == 0xb5 && p[2] == 0x2f && p[3] == 0xfd)
		return LAYER_ZSTD;
	return LAYER_TAR;
}

/* The blob's end: its digest and size against what was expected. */
static int
blob_end(struct blob_in *b, struct bk_err *err)
{
	digest_final(&b->dig, b->digest);
	if (b->want && strcmp(b->digest, b->want) != 0)
		return bk_err_set(err, EBADMSG, "digest mismatch (got %s from '%.200s')", b->digest,
				  b->member);
	if (b->got != b->size)
		return bk_err_set(err, EBADMSG, "'%.200s': %llu bytes, %llu expected", b->member,
				  (unsigned long long)b->got, (unsigned long long)b->size);
	return 0;
}

/* layer_reader: the member's bytes, hashed and kept; its end checks the digest. */
static ssize_t
blob_read(void *arg, const void **buf, struct bk_err *err)
{
	struct blob_in *b = arg;
	ssize_t n;

	if (b->ended) {
		if (b->end_ret < 0)
			*err = b->end_err;
		return b->end_ret;
	}
	if (b->first) {
		*buf = b->first;
		n = (ssize_t)b->nfirst;
		b->first = NULL;
	} else {
		n = tar_stream_read(b->ts, buf, err);
	}
	if (n == 0) {
		b->ended = true;
		b->end_ret = blob_end(b, &b->end_err);
		if (b->end_ret < 0)
			*err = b->end_err;
		return b->end_ret;
	}
	if (n < 0)
		return n;
	/* Halfway through the blob (a test's kill -9, or a sleep to interrupt it). */
	if (b->got < b->size / 2 && b->got + (uint64_t)n >= b->size / 2 &&
	    failpoint("load.mid-blob", err) < 0)
		return -err->code;
	b->got += (uint64_t)n;
	digest_update(&b->dig, *buf, (size_t)n);
	if (b->keep_fd >= 0 && write_all(b->keep_fd, *buf, (size_t)n) < 0)
		return bk_err_sys(err, "keep the blob in tmp/%s", b->keep);
	if (bk_cancelled(b->l->cancel))
		return bk_err_set(err, EINTR, "interrupted");
	image_pull_progress(&b->l->e->model, b->li->id, b->want ? b->want : b->member, b->got,
			    b->size);
	return n;
}

/* ---- the layers ------------------------------------------------------------------------------ */

static const struct seen_blob *
seen(struct load *l, const char *member)
{
	for (size_t i = 0; i < l->nseen; i++)
		if (strcmp(l->seen[i].member, member) == 0)
			return &l->seen[i];
	return NULL;
}

static void
remember(struct load *l, const struct blob_in *b, enum layer_comp comp)
{
	struct seen_blob *s;

	l->seen = xrealloc(l->seen, (l->nseen + 1) * sizeof(*l->seen));
	s = &l->seen[l->nseen++];
	snprintf(s->member, sizeof(s->member), "%s", b->member);
	snprintf(s->digest, sizeof(s->digest), "%s", b->digest);
	s->size = b->got;
	s->comp = comp;
}

/* Layer i of li: committed already (its blob only verified), or made from the archive. */
static int
load_layer(struct load *l, struct load_image *li, size_t i, struct bk_err *err)
{
	struct pull_layer *p = &li->layers[i];
	bool present = layer_committed(l->layers_fd, p->chain_id);
	const struct seen_blob *s = seen(l, li->member[i]);
	struct blob_in b;
	struct layer_reader src = { blob_read, &b };
	const void *buf;
	ssize_t n;
	int ret;

	if (present && s) {
		snprintf(p->digest, sizeof(p->digest), "%s", s->digest);
		li->comp[i] = s->comp;
		p->file_bytes = layer_file_bytes(l->layers_fd, p->chain_id);
		return 0;
	}
	if ((ret = blob_open(l, li, i, !present, &b, err)) < 0)
		goto out;
	if (li->made)
		li->comp[i] = sniff(&b);
	if (present) {
		while ((n = blob_read(&b, &buf, err)) > 0)
			;
		ret = (int)n;
		p->file_bytes = layer_file_bytes(l->layers_fd, p->chain_id);
	} else {
		struct layer_build lb = {
			.chain_id = p->chain_id,
			.parent = i ? li->layers[i - 1].chain_id : NULL,
			.diff_id = p->diff_id,
			.digest = li->made ? b.digest : p->digest,
			.size = p->size,
			.comp = li->comp[i],
			.blob_name = b.keep,
			.src = &src,
			.cancel = l->cancel,
			.fp = "load",
		};

		ret = layer_build(l->e, l->layers_fd, &lb, &p->file_bytes, err);
	}
	if (ret == 0) {
		snprintf(p->digest, sizeof(p->digest), "%s", b.digest);
		remember(l, &b, li->comp[i]);
	}
out:
	blob_close(&b);
	return ret < 0 ? bk_err_wrap(err, "layer '%.200s'", li->member[i]) : 0;
}

/* A docker-archive image's manifest, now that its blobs' digests are known. */
static int
make_manifest(struct load_image *li, struct bk_err *err)
{
	cleanup(json_decrefp) json_t *m = NULL;
	json_t *layers = json_array();
	size_t i;

	for (i = 0; i < li->n; i++)
		json_array_append_new(layers, json_pack("{s:s, s:s, s:I}", "mediaType",
							layer_media_type(li->comp[i]), "digest",
							li->layers[i].digest, "size",
							(json_int_t)li->layers[i].size));
	m = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:o}", "schemaVersion", 2, "mediaType",
		      OCI_MANIFEST, "config", "mediaType", OCI_CONFIG, "digest", li->config_digest,
		      "size", (json_int_t)li->config_len, "layers", layers);
	li->manifest = m ? json_dumps(m, JSON_COMPACT) : NULL;
	if (li->manifest == NULL)
		return bk_err_set(err, ENOMEM, "encode a manifest");
	li->manifest_len = strlen(li->manifest);
	digest_buf(li->manifest, li->manifest_len, li->digest);
	return 0;
}

/* ---- publishing ------------------------------------------------------------------------------ */

static int
publish(struct load *l, struct load_image *li, struct bk_err *err)
{
	struct pull_result res = { 0 };
	cleanup_close int work_fd = -1;
	cleanup_free char *more = NULL;
	size_t i;
	int ret;

	if (mkdirat(l->e->store.tmp_fd, li->id, 0700) < 0)
		return bk_err_sys(err, "mkdir tmp/%s", li->id);
	work_fd = openat(l->e->store.tmp_fd, li->id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (work_fd < 0)
		return bk_err_sys(err, "open tmp/%s", li->id);
	res.config = li->config;
	res.config_raw = li->config_raw;
	res.config_raw_len = li->config_len;
	res.manifest = li->manifest;
	res.manifest_len = li->manifest_len;
	snprintf(res.digest, sizeof(res.digest), "%s", li->digest);
	ret = image_dir_write(l->layers_fd, li->layers, li->n, work_fd, &res, err);
	if (ret == 0)
		ret = failpoint("load.before-record", err);
	if (ret == 0)
		ret = image_pull_finish(
		    &l->e->model, li->id, work_fd,
		    &(struct pulled){ .familiar = li->nnames ? li->names[0] : NULL,
				      .config = li->config,
				      .manifest = li->manifest,
				      .manifest_len = li->manifest_len,
				      .digest = li->digest,
				      .layers_text = res.layers_text,
				      .size = res.size },
		    li->id_out, err);
	free(res.layers_text);
	if (ret < 0)
		return ret;
	li->published = true;
	/* Its other names: moved from whichever image has them, as docker load does. */
	for (i = 1; i < li->nnames; i++) {
		char *next = xasprintf("%s%s\n", more ? more : "", li->names[i]);

		free(more);
		more = next;
	}
	if (more && (ret = image_set_refs(&l->e->model, li->id_out, more, true, err)) < 0)
		return ret;
	spare_refill(l->e, li->id_out);
	return 0;
}

/* After a failure: every image this load showed or made goes. */
static void
unwind(struct load *l)
{
	struct bk_err ignored = BK_ERR_INIT;

	for (size_t i = 0; i < l->n; i++) {
		struct load_image *li = &l->img[i];

		if (li->published && strcmp(li->id_out, li->id) == 0)
			(void)bk_image_remove(l->e, li->id, false, &ignored);
		else if (li->begun && !li->published) {
			store_discard(l->e->store.tmp_fd, li->id);
			image_pull_abort(&l->e->model, li->id);
		}
	}
}

/* Show every image (pulling), make their layers, then publish them all. */
static int
build_all(struct load *l, struct bk_err *err)
{
	size_t i, k;
	int ret = 0;

	for (i = 0; i < l->n && ret == 0; i++) {
		struct load_image *li = &l->img[i];

		ret = image_pull_begin(&l->e->model, li->nnames ? li->names[0] : l->file, li->id,
				       err);
		li->begun = ret == 0;
	}
	for (i = 0; i < l->n && ret == 0; i++) {
		struct load_image *li = &l->img[i];

		for (k = 0; k < li->n && ret == 0; k++)
			ret = load_layer(l, li, k, err);
		if (ret == 0 && li->made)
			ret = make_manifest(li, err);
		if (ret < 0)
			bk_err_wrap(err, "image %s", li->nnames ? li->names[0] : li->config_digest);
	}
	if (ret == 0 && bk_cancelled(l->cancel))
		ret = bk_err_set(err, EINTR, "interrupted");
	for (i = 0; i < l->n && ret == 0; i++)
		ret = publish(l, &l->img[i], err);
	return ret;
}

/* ---- the public entry ------------------------------------------------------------------------ */

/* FILE, a regular file outside bockerfs's own directories (the control tree would be a deadlock).
 */
static int
open_archive(struct bk_engine *e, const char *file, struct bk_err *err)
{
	char real[PATH_MAX], own[PATH_MAX];
	struct stat st;
	int fd;

	if (file[0] != '/')
		return bk_err_set(err, EINVAL, "'%s': the path must be absolute", file);
	if (realpath(file, real) == NULL)
		return bk_err_sys(err, "'%s'", file);
	if (path_is_own(e, real, own))
		return bk_err_set(err, EINVAL, "'%s' holds or is inside bockerfs's own '%s'", file,
				  own);
	fd = open(real, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return bk_err_sys(err, "'%s'", file);
	if (fstat(fd, &st) < 0) {
		int ret = bk_err_sys(err, "'%s'", file);

		close(fd);
		return ret;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return bk_err_set(err, S_ISDIR(st.st_mode) ? EISDIR : EINVAL,
				  "'%s' is not a regular file", file);
	}
	return fd;
}

static void
load_free(struct load *l)
{
	for (size_t i = 0; i < l->n; i++) {
		struct load_image *li = &l->img[i];

		free(li->manifest);
		free(li->config_raw);
		json_decref(li->config);
		free(li->layers);
		free(li->member);
		free(li->comp);
		for (size_t k = 0; k < li->nnames; k++)
			free(li->names[k]);
		free(li->names);
	}
	free(l->img);
	free(l->seen);
	tar_index_free(&l->ix);
}

static int
load_held(struct load *l, struct bk_err *err)
{
	cleanup_close int fd = -1;
	int ret;

	if ((fd = open_archive(l->e, l->file, err)) < 0)
		return fd;
	if ((ret = tar_index_open(fd, l->cancel, &l->ix, err)) < 0 ||
	    (ret = read_images(l, err)) < 0)
		return ret;
	if ((ret = l->layers_fd = layers_open_dir(l->e, err)) < 0)
		return ret;
	ret = build_all(l, err);
	close(l->layers_fd);
	l->layers_fd = -1;
	if (ret < 0) {
		unwind(l);
		if (ret == -ENOSPC)
			store_reclaim(l->e->store.tmp_fd);
	}
	return ret;
}

int
bk_image_load(struct bk_engine *e, const char *file, struct bk_cancel *cancel,
	      char (**ids)[BK_ID_SIZE], size_t *n, struct bk_err *err)
{
	struct load l = { .e = e, .cancel = cancel, .file = file, .layers_fd = -1 };
	size_t i;
	int ret;

	*ids = NULL;
	*n = 0;
	l.ix.fd = -1;
	/* Its layers are in layers/ before the images that name them are. */
	layers_hold(e);
	ret = load_held(&l, err);
	layers_release(e);
	if (ret < 0) {
		load_free(&l);
		return bk_err_wrap(err, "load '%s'", file);
	}
	*ids = xcalloc(l.n, sizeof(**ids));
	for (i = 0; i < l.n; i++) {
		struct load_image *li = &l.img[i];

		snprintf((*ids)[i], BK_ID_SIZE, "%s", li->id_out);
		if (li->nnames)
			events_emit(&e->model.ev, BK_OBJ_IMAGE, li->id_out, "load", "ref=%s",
				    li->names[0]);
		else
			events_emit(&e->model.ev, BK_OBJ_IMAGE, li->id_out, "load", "%s", "");
	}
	*n = l.n;
	bk_log(BK_LOG_INFO, "loaded %zu image(s) from '%s'", l.n, file);
	load_free(&l);
	return 0;
}
