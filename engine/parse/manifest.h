/*
 * manifest.h: the image's JSON documents as registries serve them (Docker
 * v2 schema 2 and OCI manifests, Docker manifest lists and OCI indexes, image
 * configs), parsed with jansson into the few fields a pull needs.  Pure: no
 * I/O.  Every document is untrusted: sizes are capped, digests checked
 * against the only grammar accepted (sha256:<64 lower hex>).
 */
#ifndef BK_MANIFEST_H
#define BK_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "base/digest.h"
#include "parse/ref.h"

struct bk_err;

#define MANIFEST_MAX        (4u << 20)  /* a manifest or index larger than this is refused */
#define CONFIG_MAX          (16u << 20) /* an image config larger than this is refused */
#define MANIFEST_LAYERS_MAX 512         /* more layers than btrfs snapshots should chain */

/* The Accept header a pull sends: every type parsed here, schema 1 last so it can be named. */
#define MANIFEST_ACCEPT                                               \
	"application/vnd.oci.image.index.v1+json, "                   \
	"application/vnd.docker.distribution.manifest.list.v2+json, " \
	"application/vnd.oci.image.manifest.v1+json, "                \
	"application/vnd.docker.distribution.manifest.v2+json, "      \
	"application/vnd.docker.distribution.manifest.v1+prettyjws;q=0.1"

enum manifest_kind {
	MANIFEST_UNKNOWN,
	MANIFEST_IMAGE, /* Docker v2 schema 2 or OCI image manifest */
	MANIFEST_INDEX, /* Docker manifest list or OCI index */
	MANIFEST_SCHEMA1,
};

enum layer_comp { LAYER_TAR, LAYER_GZIP, LAYER_ZSTD };

struct manifest_layer {
	char digest[DIGEST_STR_SIZE]; /* of the compressed blob */
	uint64_t size;                /* of the compressed blob, as the manifest says */
	enum layer_comp comp;
};

struct manifest {
	char config_digest[DIGEST_STR_SIZE];
	uint64_t config_size;
	struct manifest_layer *layers; /* owned */
	size_t nlayers;
};

/*
 * What kind of document body is: its own mediaType field first, then the
 * Content-Type the registry sent (may be NULL), then its shape.  Returns 0,
 * or -EBADMSG if body is not a JSON object; an unknown kind is EPROTO.
 */
int manifest_kind(const char *body, size_t len, const char *content_type, enum manifest_kind *out,
		  struct bk_err *err);

/* Parse an image manifest.  EBADMSG malformed, EPROTO unsupported media or digest type. */
int manifest_parse(const char *body, size_t len, struct manifest *out, struct bk_err *err);
void manifest_free(struct manifest *m);

/*
 * Pick from an index the manifest for want (os, arch, optional variant):
 * digest_out gets its digest.  ENOENT, naming the platforms the index has,
 * when none matches.
 */
int manifest_index_select(const char *body, size_t len, const struct platform *want,
			  char digest_out[DIGEST_STR_SIZE], struct bk_err *err);

/* The platform this machine runs: linux and the OCI name of uname's machine. */
void platform_host(struct platform *out);

/*
 * Parse an image config: *config_out gets the whole object (caller decrefs),
 * diff_ids the uncompressed layer digests in order (caller frees the array;
 * the strings live inside *config_out).  EBADMSG when malformed or when the
 * number of diff ids is not nlayers.
 */
int manifest_config_parse(const char *body, size_t len, size_t nlayers, json_t **config_out,
			  const char ***diff_ids, struct bk_err *err);

/*
 * The chain id of a layer (OCI image spec, config.md): its diff id for the
 * first layer, else sha256 of "PARENT_CHAIN_ID DIFF_ID".  parent may be NULL.
 */
void manifest_chain_id(const char *parent, const char *diff_id, char out[DIGEST_STR_SIZE]);

#endif
