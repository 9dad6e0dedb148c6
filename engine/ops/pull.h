/*
 * pull.h: pulling an image from a registry into the store: the layers as a
 * chain of btrfs snapshots keyed by chain id (store/layers/<hex>/rootfs),
 * and the image's own work directory, ready for image.c to publish.
 */
#ifndef BK_PULL_H
#define BK_PULL_H

#include <stdint.h>
#include <jansson.h>

#include "bocker.h"
#include "base/base.h"

struct bk_engine;

/* The registry settings of bk_engine_opts, copied (engine->pull). */
struct pull_config {
	char **mirrors;  /* NULL-terminated */
	char **insecure; /* NULL-terminated */
	char *auth_config;
};

/* Copy opts' registry settings into e->registry; call from bk_engine_open. */
void pull_config_init(struct bk_engine *e, const struct bk_engine_opts *opts);
/* Free e->registry; call from bk_engine_close. */
void pull_config_free(struct bk_engine *e);

struct pull_layer {
	char digest[DIGEST_STR_SIZE];   /* compressed blob */
	uint64_t size;                  /* compressed bytes, as the manifest says */
	char diff_id[DIGEST_STR_SIZE];  /* uncompressed tar */
	char chain_id[DIGEST_STR_SIZE]; /* key of store/layers/<hex> */
	uint64_t file_bytes;            /* regular-file data the layer wrote */
	bool fetched;                   /* false: it was in the store already */
};

struct pull_result {
	char *familiar; /* "busybox:latest", "localhost:5000/x/y:t": the image's name */
	json_t *config; /* the image config object */
	char *manifest; /* the image manifest as the registry sent it */
	size_t manifest_len;
	char digest[DIGEST_STR_SIZE]; /* sha256 of manifest */
	char *layers_text;            /* "DIGEST SIZE\n" per layer, bottom first */
	uint64_t size;                /* sum of the layers' file bytes */
	struct pull_layer *layers;
	size_t nlayers;
	uint64_t requests; /* HTTP requests made, token fetches and redirects included */
	uint64_t fetched_bytes;
};
void pull_result_free(struct pull_result *res);

/*
 * The name an image pulled with spec will have ("busybox:latest" for
 * "busybox linux/arm64"), for showing it while the pull runs.  0 or -EINVAL.
 */
int pull_spec_name(const char *spec, char *out, size_t size, struct bk_err *err);

/*
 * Pull spec ("REF" or "REF os/arch[/variant]") into the empty directory open
 * at work_dfd: a read-only subvolume "rootfs" (a snapshot of the top layer),
 * and the files config.json, manifest.json, digest and layers.  Layers that
 * are missing are downloaded in parallel, verified and committed to
 * store/layers/ on the way, so they survive a later failure of this pull and
 * are reused by the next one.  On failure work_dfd holds a partial result
 * for the caller to remove.
 */
int pull_build(struct bk_engine *e, const char *spec, int work_dfd, struct bk_cancel *cancel,
	       const struct bk_pull_progress *progress, struct pull_result *out,
	       struct bk_err *err);

#endif
