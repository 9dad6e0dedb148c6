/*
 * Image manifests, indexes and configs (jansson).  Media types and fields are
 * those of the OCI image spec (manifest.md, image-index.md, config.md) and of
 * Docker's registry v2 schema 2; schema 1 (signed, v1 layer ids) is only
 * recognised so that it can be refused by name.  Pure: no I/O.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "bocker.h"
#include "parse/parse.h"
#include "base/base.h"

#define MT_DOCKER_V2   "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define MT_DOCKER_V1   "application/vnd.docker.distribution.manifest.v1+json"
#define MT_DOCKER_V1S  "application/vnd.docker.distribution.manifest.v1+prettyjws"
#define MT_OCI_MAN     "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_INDEX   "application/vnd.oci.image.index.v1+json"

static const struct {
	const char *type;
	enum layer_comp comp;
} layer_types[] = {
	{ "application/vnd.docker.image.rootfs.diff.tar.gzip", LAYER_GZIP },
	{ "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", LAYER_GZIP },
	{ "application/vnd.docker.image.rootfs.diff.tar", LAYER_TAR },
	{ "application/vnd.oci.image.layer.v1.tar", LAYER_TAR },
	{ "application/vnd.oci.image.layer.v1.tar+gzip", LAYER_GZIP },
	{ "application/vnd.oci.image.layer.v1.tar+zstd", LAYER_ZSTD },
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar", LAYER_TAR },
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", LAYER_GZIP },
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", LAYER_ZSTD },
};

static const char *const config_types[] = {
	"application/vnd.docker.container.image.v1+json",
	"application/vnd.oci.image.config.v1+json",
};

static json_t *
load(const char *body, size_t len, size_t max, const char *what, struct bk_err *err)
{
	json_error_t jerr;
	json_t *j;

	if (len > max) {
		bk_err_set(err, EFBIG, "%s: %zu bytes, more than the %zu allowed", what, len, max);
		return NULL;
	}
	/* Duplicate keys make a document mean different things to different parsers. */
	j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL) {
		bk_err_set(err, EBADMSG, "%s: line %d: %s", what, jerr.line, jerr.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		bk_err_set(err, EBADMSG, "%s: not a JSON object", what);
		return NULL;
	}
	return j;
}

/* "type/subtype; charset=..." compares as "type/subtype". */
static bool
type_is(const char *ct, const char *want)
{
	size_t n = strlen(want);

	return ct != NULL && strncasecmp(ct, want, n) == 0 &&
	       (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static enum manifest_kind
kind_of_type(const char *t)
{
	if (type_is(t, MT_DOCKER_V2) || type_is(t, MT_OCI_MAN))
		return MANIFEST_IMAGE;
	if (type_is(t, MT_DOCKER_LIST) || type_is(t, MT_OCI_INDEX))
		return MANIFEST_INDEX;
	if (type_is(t, MT_DOCKER_V1) || type_is(t, MT_DOCKER_V1S))
		return MANIFEST_SCHEMA1;
	return MANIFEST_UNKNOWN;
}

int
manifest_kind(const char *body, size_t len, const char *content_type, enum manifest_kind *out,
	      struct bk_err *err)
{
	cleanup(json_decrefp) json_t *j = load(body, len, MANIFEST_MAX, "manifest", err);
	const char *mt;
	enum manifest_kind k = MANIFEST_UNKNOWN;

	if (j == NULL)
		return -err->code;
	mt = json_string_value(json_object_get(j, "mediaType"));
	if (json_integer_value(json_object_get(j, "schemaVersion")) == 1)
		k = MANIFEST_SCHEMA1;
	else if (mt)
		k = kind_of_type(mt);
	if (k == MANIFEST_UNKNOWN && !mt)
		k = kind_of_type(content_type);
	/* OCI documents may omit mediaType; their shape says what they are. */
	if (k == MANIFEST_UNKNOWN && !mt && json_is_array(json_object_get(j, "manifests")))
		k = MANIFEST_INDEX;
	if (k == MANIFEST_UNKNOWN && !mt && json_is_array(json_object_get(j, "layers")))
		k = MANIFEST_IMAGE;
	if (k == MANIFEST_SCHEMA1)
		return bk_err_set(err, EPROTO,
				  "manifest is Docker schema 1, which is not supported (push the "
				  "image again with a current client)");
	if (k == MANIFEST_UNKNOWN)
		return bk_err_set(err, EPROTO, "unsupported manifest media type '%.100s'",
				  mt             ? mt
				  : content_type ? content_type
						 : "(none)");
	*out = k;
	return 0;
}

/* A descriptor's digest and size, checked. */
static int
descriptor(json_t *d, const char *what, char digest[DIGEST_STR_SIZE], uint64_t *size,
	   struct bk_err *err)
{
	json_t *jd = json_object_get(d, "digest"), *js = json_object_get(d, "size");
	const char *s = json_string_value(jd);

	if (!json_is_object(d) || s == NULL)
		return bk_err_set(err, EBADMSG, "%s: descriptor without a digest", what);
	if (!ref_digest_valid(s)) {
		if (strncmp(s, "sha256:", 7) != 0)
			return bk_err_set(err, EPROTO, "%s: unsupported digest '%.80s'", what, s);
		return bk_err_set(err, EBADMSG, "%s: malformed digest '%.80s'", what, s);
	}
	if (size) {
		if (!json_is_integer(js) || json_integer_value(js) < 0)
			return bk_err_set(err, EBADMSG, "%s %s: bad size", what, s);
		*size = (uint64_t)json_integer_value(js);
	}
	snprintf(digest, DIGEST_STR_SIZE, "%s", s);
	return 0;
}

static int
layer_comp_of(const char *mt, enum layer_comp *out)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(layer_types); i++)
		if (mt && strcmp(mt, layer_types[i].type) == 0) {
			*out = layer_types[i].comp;
			return 0;
		}
	return -1;
}

int
manifest_parse(const char *body, size_t len, struct manifest *out, struct bk_err *err)
{
	cleanup(json_decrefp) json_t *j = load(body, len, MANIFEST_MAX, "manifest", err);
	json_t *layers, *l, *cfg;
	const char *ct;
	size_t i;
	bool known = false;

	memset(out, 0, sizeof(*out));
	if (j == NULL)
		return -err->code;
	if (json_integer_value(json_object_get(j, "schemaVersion")) != 2)
		return bk_err_set(err, EPROTO, "manifest: schemaVersion is not 2");
	cfg = json_object_get(j, "config");
	if (descriptor(cfg, "manifest config", out->config_digest, &out->config_size, err) < 0)
		return -err->code;
	ct = json_string_value(json_object_get(cfg, "mediaType"));
	for (i = 0; i < ARRAY_SIZE(config_types); i++)
		known |= ct && strcmp(ct, config_types[i]) == 0;
	/* Registries also store Helm charts, signatures and other artifacts. */
	if (!known)
		return bk_err_set(err, EPROTO,
				  "manifest: config media type '%.100s' is not a container image",
				  ct ? ct : "(none)");
	if (out->config_size > CONFIG_MAX)
		return bk_err_set(err, EFBIG, "manifest: config of %llu bytes is over the cap",
				  (unsigned long long)out->config_size);
	layers = json_object_get(j, "layers");
	if (!json_is_array(layers))
		return bk_err_set(err, EBADMSG, "manifest: no layers array");
	if (json_array_size(layers) > MANIFEST_LAYERS_MAX)
		return bk_err_set(err, EFBIG, "manifest: %zu layers, more than %d",
				  json_array_size(layers), MANIFEST_LAYERS_MAX);
	out->layers = xcalloc(json_array_size(layers), sizeof(*out->layers));
	json_array_foreach (layers, i, l) {
		struct manifest_layer *ml = &out->layers[i];
		const char *mt = json_string_value(json_object_get(l, "mediaType"));

		out->nlayers = i + 1;
		if (descriptor(l, "manifest layer", ml->digest, &ml->size, err) < 0)
			goto fail;
		if (layer_comp_of(mt, &ml->comp) < 0) {
			bk_err_set(err, EPROTO,
				   "manifest layer %s: unsupported media type '%.100s'", ml->digest,
				   mt ? mt : "(none)");
			goto fail;
		}
	}
	return 0;
fail:
	manifest_free(out);
	return -err->code;
}

void
manifest_free(struct manifest *m)
{
	free(m->layers);
	m->layers = NULL;
	m->nlayers = 0;
}

static const char *
norm_arch(const char *a)
{
	if (a == NULL)
		return "";
	if (strcmp(a, "x86_64") == 0 || strcmp(a, "x86-64") == 0)
		return "amd64";
	if (strcmp(a, "aarch64") == 0)
		return "arm64";
	if (strcmp(a, "armhf") == 0 || strcmp(a, "armel") == 0)
		return "arm";
	return a;
}

/* containerd's rule: arm64 without a variant is arm64/v8. */
static bool
variant_match(const char *arch, const char *want, const char *have)
{
	bool arm64 = strcmp(arch, "arm64") == 0;

	if (have == NULL)
		have = "";
	if (arm64 && *want == '\0')
		want = "v8";
	if (arm64 && *have == '\0')
		have = "v8";
	if (*want == '\0')
		return true;
	return strcasecmp(want, have) == 0;
}

int
manifest_index_select(const char *body, size_t len, const struct platform *want,
		      char digest_out[DIGEST_STR_SIZE], struct bk_err *err)
{
	cleanup(json_decrefp) json_t *j = load(body, len, MANIFEST_MAX, "index", err);
	json_t *list, *m;
	char seen[256] = "";
	size_t i, used = 0;
	int best = -1, best_score = 0;

	if (j == NULL)
		return -err->code;
	list = json_object_get(j, "manifests");
	if (!json_is_array(list))
		return bk_err_set(err, EBADMSG, "index: no manifests array");
	json_array_foreach (list, i, m) {
		json_t *p = json_object_get(m, "platform");
		const char *os = json_string_value(json_object_get(p, "os"));
		const char *arch = norm_arch(json_string_value(json_object_get(p, "architecture")));
		const char *var = json_string_value(json_object_get(p, "variant"));
		const char *mt = json_string_value(json_object_get(m, "mediaType"));
		int score;

		if (!json_is_object(m) || os == NULL)
			continue;
		/* Build attestations hide in indexes as "unknown/unknown" image manifests. */
		if (mt && kind_of_type(mt) != MANIFEST_IMAGE)
			continue;
		if (strcmp(os, "unknown") != 0 && used + 1 < sizeof(seen)) {
			int n =
			    snprintf(seen + used, sizeof(seen) - used, "%s%s/%s%s%s",
				     used ? ", " : "", os, arch, var ? "/" : "", var ? var : "");

			if (n > 0)
				used += (size_t)n < sizeof(seen) - used ? (size_t)n
									: sizeof(seen) - used - 1;
		}
		if (strcasecmp(os, want->os) != 0 || strcmp(arch, want->arch) != 0 ||
		    !variant_match(arch, want->variant, var))
			continue;
		/* An exact variant beats one that merely does not contradict. */
		score = 1 + ((var ? var : "")[0] == '\0' || strcasecmp(var, want->variant) == 0);
		if (score > best_score) {
			best = (int)i;
			best_score = score;
		}
	}
	if (best < 0)
		return bk_err_set(
		    err, ENOENT, "no manifest for %s/%s%s%s in the index (it has: %s)", want->os,
		    want->arch, *want->variant ? "/" : "", want->variant, used ? seen : "nothing");
	return descriptor(json_array_get(list, (size_t)best), "index entry", digest_out, NULL, err);
}

void
platform_host(struct platform *out)
{
	struct utsname u;

	memset(out, 0, sizeof(*out));
	strcpy(out->os, "linux");
	if (uname(&u) < 0) {
		strcpy(out->arch, "amd64");
		return;
	}
	if (strncmp(u.machine, "armv", 4) == 0) {
		strcpy(out->arch, "arm");
		snprintf(out->variant, sizeof(out->variant), "v%c", u.machine[4]);
		return;
	}
	snprintf(out->arch, sizeof(out->arch), "%s", norm_arch(u.machine));
}

int
manifest_config_parse(const char *body, size_t len, size_t nlayers, json_t **config_out,
		      const char ***diff_ids, struct bk_err *err)
{
	cleanup(json_decrefp) json_t *j = load(body, len, CONFIG_MAX, "image config", err);
	cleanup_free const char **ids = NULL;
	json_t *rootfs, *list, *d;
	const char *type;
	size_t i;

	if (j == NULL)
		return -err->code;
	rootfs = json_object_get(j, "rootfs");
	type = json_string_value(json_object_get(rootfs, "type"));
	list = json_object_get(rootfs, "diff_ids");
	if (type == NULL || strcmp(type, "layers") != 0 || !json_is_array(list))
		return bk_err_set(err, EBADMSG, "image config: no rootfs of type 'layers'");
	if (json_array_size(list) != nlayers)
		return bk_err_set(err, EBADMSG,
				  "image config: %zu diff ids for %zu layers in the manifest",
				  json_array_size(list), nlayers);
	if (json_object_get(j, "config") != NULL && !json_is_object(json_object_get(j, "config")))
		return bk_err_set(err, EBADMSG, "image config: 'config' is not an object");
	ids = xcalloc(nlayers + 1, sizeof(*ids));
	json_array_foreach (list, i, d) {
		ids[i] = json_string_value(d);
		if (!ref_digest_valid(ids[i]))
			return bk_err_set(err, EBADMSG, "image config: bad diff id '%.80s'",
					  ids[i] ? ids[i] : "(not a string)");
	}
	*diff_ids = take_ptr(ids);
	*config_out = take_ptr(j);
	return 0;
}

void
manifest_chain_id(const char *parent, const char *diff_id, char out[DIGEST_STR_SIZE])
{
	struct digest d;

	if (parent == NULL) {
		snprintf(out, DIGEST_STR_SIZE, "%s", diff_id);
		return;
	}
	digest_init(&d);
	digest_update(&d, parent, strlen(parent));
	digest_update(&d, " ", 1);
	digest_update(&d, diff_id, strlen(diff_id));
	digest_final(&d, out);
}

char **
json_strv(json_t *arr, size_t *n)
{
	size_t i, k = 0;
	json_t *v;
	char **out = xcalloc(json_is_array(arr) ? json_array_size(arr) + 1 : 1, sizeof(char *));

	if (json_is_array(arr))
		json_array_foreach (arr, i, v)
			if (json_is_string(v))
				out[k++] = xstrdup(json_string_value(v));
	if (n)
		*n = k;
	return out;
}
