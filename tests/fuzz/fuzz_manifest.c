/*
 * Fuzz engine/parse/manifest.c: every parser of what a registry sends, run on each
 * input (a document is one of them, and the fuzzer keeps what any of them
 * finds new): manifest_kind with and without a Content-Type, manifest_parse,
 * manifest_index_select for three platforms, manifest_config_parse with the
 * layer count the document claims and one more, and the chain ids of the
 * diff ids it accepts.  Checks: failures carry an errno from the documented
 * set and a message; what is accepted is within the caps and its digests are
 * valid.
 */
#include <errno.h>

#include "fuzz.h"
#include "parse/parse.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* jansson seeds its hash tables from /dev/urandom: fixed, runs repeat. */
	json_object_seed(1);
	bk_log_set_sink(fuzz_quiet_sink);
	return 0;
}

static void
check_kind(const char *body, size_t len, const char *content_type)
{
	struct bk_err err = BK_ERR_INIT;
	enum manifest_kind k = MANIFEST_UNKNOWN;
	int ret = manifest_kind(body, len, content_type, &k, &err);

	fuzz_check_err(ret, &err, "manifest_kind");
	if (ret < 0)
		FUZZ_ASSERT(ret == -EBADMSG || ret == -EPROTO || ret == -EFBIG);
	else
		FUZZ_ASSERT(k == MANIFEST_IMAGE || k == MANIFEST_INDEX);
}

static void
check_manifest(const char *body, size_t len)
{
	struct bk_err err = BK_ERR_INIT;
	struct manifest m;
	int ret = manifest_parse(body, len, &m, &err);

	fuzz_check_err(ret, &err, "manifest_parse");
	if (ret < 0) {
		FUZZ_ASSERT(ret == -EBADMSG || ret == -EPROTO || ret == -EFBIG);
		FUZZ_ASSERT(m.layers == NULL && m.nlayers == 0);
		return;
	}
	FUZZ_ASSERT(ref_digest_valid(m.config_digest) && m.config_size <= CONFIG_MAX);
	FUZZ_ASSERT(m.nlayers <= MANIFEST_LAYERS_MAX);
	for (size_t i = 0; i < m.nlayers; i++) {
		FUZZ_ASSERT(ref_digest_valid(m.layers[i].digest));
		FUZZ_ASSERT(m.layers[i].comp == LAYER_TAR || m.layers[i].comp == LAYER_GZIP ||
			    m.layers[i].comp == LAYER_ZSTD);
	}
	manifest_free(&m);
}

static void
check_index(const char *body, size_t len, const char *os, const char *arch, const char *variant)
{
	struct bk_err err = BK_ERR_INIT;
	struct platform want;
	char digest[DIGEST_STR_SIZE] = "";
	int ret;

	memset(&want, 0, sizeof(want));
	snprintf(want.os, sizeof(want.os), "%s", os);
	snprintf(want.arch, sizeof(want.arch), "%s", arch);
	snprintf(want.variant, sizeof(want.variant), "%s", variant);
	ret = manifest_index_select(body, len, &want, digest, &err);
	fuzz_check_err(ret, &err, "manifest_index_select");
	if (ret < 0)
		FUZZ_ASSERT(ret == -EBADMSG || ret == -EPROTO || ret == -EFBIG || ret == -ENOENT);
	else
		FUZZ_ASSERT(ref_digest_valid(digest));
}

/* How many diff ids the document has, so that the success path is reached too. */
static size_t
claimed_layers(const char *body, size_t len)
{
	json_t *j = json_loadb(body, len, 0, NULL);
	size_t n = json_array_size(json_object_get(json_object_get(j, "rootfs"), "diff_ids"));

	json_decref(j);
	return n;
}

static void
check_config(const char *body, size_t len, size_t nlayers)
{
	struct bk_err err = BK_ERR_INIT;
	json_t *config = NULL;
	const char **ids = NULL;
	char chain[DIGEST_STR_SIZE] = "", next[DIGEST_STR_SIZE];
	int ret = manifest_config_parse(body, len, nlayers, &config, &ids, &err);

	fuzz_check_err(ret, &err, "manifest_config_parse");
	if (ret < 0) {
		FUZZ_ASSERT(ret == -EBADMSG || ret == -EFBIG);
		FUZZ_ASSERT(config == NULL && ids == NULL);
		return;
	}
	FUZZ_ASSERT(json_is_object(config));
	for (size_t i = 0; i < nlayers; i++) {
		FUZZ_ASSERT(ref_digest_valid(ids[i]));
		manifest_chain_id(i ? chain : NULL, ids[i], next);
		FUZZ_ASSERT(ref_digest_valid(next));
		memcpy(chain, next, sizeof(chain));
	}
	FUZZ_ASSERT(ids[nlayers] == NULL);
	free(ids);
	json_decref(config);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes: ASan sees any read past the body. */
	char *body = malloc(size ? size : 1);
	size_t n;

	if (body == NULL)
		abort();
	memcpy(body, data, size);
	check_kind(body, size, NULL);
	check_kind(body, size, "application/vnd.oci.image.index.v1+json; charset=utf-8");
	check_manifest(body, size);
	check_index(body, size, "linux", "amd64", "");
	check_index(body, size, "linux", "arm64", "v8");
	check_index(body, size, "linux", "arm", "v7");
	n = claimed_layers(body, size);
	check_config(body, size, n);
	check_config(body, size, n + 1);
	free(body);
	return 0;
}
