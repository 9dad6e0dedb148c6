/*
 * Unit tests for engine/parse/manifest.c: media types, schema 1, manifests,
 * indexes and platform selection, configs and diff ids, chain ids, caps.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bocker.h"
#include "parse/parse.h"
#include "base/base.h"
#include "tap.h"

#define H(c) \
#c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c #c
#define DA "sha256:" H(a)
#define DB "sha256:" H(b)
#define DC "sha256:" H(c)
#define DD "sha256:" H(d)

static const char docker_v2[] =
    "{\"schemaVersion\":2,"
    "\"mediaType\":\"application/vnd.docker.distribution.manifest.v2+json\","
    "\"config\":{\"mediaType\":\"application/vnd.docker.container.image.v1+json\","
    "\"size\":1234,\"digest\":\"" DA "\"},"
    "\"layers\":[{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\","
    "\"size\":100,\"digest\":\"" DB "\"},"
    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar+zstd\","
    "\"size\":7,\"digest\":\"" DC "\"},"
    "{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
    "\"size\":0,\"digest\":\"" DD "\"}]}";

static int
kind(const char *body, const char *ct, enum manifest_kind *k, struct bk_err *err)
{
	return manifest_kind(body, strlen(body), ct, k, err);
}

static int
test_kinds(void)
{
	struct bk_err err = BK_ERR_INIT;
	enum manifest_kind k;

	CHECK_INT(kind(docker_v2, NULL, &k, &err), 0);
	CHECK_INT(k, MANIFEST_IMAGE);
	CHECK_INT(kind("{\"schemaVersion\":2,\"manifests\":[]}", NULL, &k, &err), 0);
	CHECK_INT(k, MANIFEST_INDEX);
	CHECK_INT(kind("{\"schemaVersion\":2,\"layers\":[]}", NULL, &k, &err), 0);
	CHECK_INT(k, MANIFEST_IMAGE);
	CHECK_INT(kind("{\"schemaVersion\":2}",
		       "application/vnd.docker.distribution.manifest.list.v2+json; charset=utf-8",
		       &k, &err),
		  0);
	CHECK_INT(k, MANIFEST_INDEX);
	CHECK_INT(
	    kind("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\"}",
		 "application/json", &k, &err),
	    0);
	CHECK_INT(k, MANIFEST_INDEX);
	return 0;
}

static int
test_schema1_and_unknown(void)
{
	struct bk_err err = BK_ERR_INIT;
	enum manifest_kind k;

	CHECK_INT(kind("{\"schemaVersion\":1,\"name\":\"x\",\"fsLayers\":[]}",
		       "application/vnd.docker.distribution.manifest.v1+prettyjws", &k, &err),
		  -EPROTO);
	CHECK(strstr(err.msg, "schema 1") != NULL);
	CHECK_INT(kind("{\"schemaVersion\":2,\"mediaType\":\"application/vnd.cncf.helm.x\"}", NULL,
		       &k, &err),
		  -EPROTO);
	CHECK(strstr(err.msg, "unsupported manifest media type") != NULL);
	CHECK_INT(kind("[1,2]", NULL, &k, &err), -EBADMSG);
	CHECK_INT(kind("{\"a\":1,\"a\":2}", NULL, &k, &err), -EBADMSG);
	CHECK_INT(kind("{not json", NULL, &k, &err), -EBADMSG);
	CHECK(strstr(err.msg, "line 1") != NULL);
	return 0;
}

static int
test_manifest_parse(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct manifest m;

	CHECK_INT(manifest_parse(docker_v2, strlen(docker_v2), &m, &err), 0);
	CHECK_STR(m.config_digest, DA);
	CHECK_INT(m.config_size, 1234);
	CHECK_INT(m.nlayers, 3);
	CHECK_STR(m.layers[0].digest, DB);
	CHECK_INT(m.layers[0].comp, LAYER_GZIP);
	CHECK_INT(m.layers[0].size, 100);
	CHECK_INT(m.layers[1].comp, LAYER_ZSTD);
	CHECK_INT(m.layers[2].comp, LAYER_TAR);
	manifest_free(&m);
	return 0;
}

static int
bad_manifest(const char *config_mt, const char *cdigest, const char *layer_mt, const char *ldigest,
	     int want, const char *msg)
{
	struct bk_err err = BK_ERR_INIT;
	struct manifest m;
	cleanup_free char *body = xasprintf(
	    "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"%s\",\"size\":10,\"digest\":\"%s\"},"
	    "\"layers\":[{\"mediaType\":\"%s\",\"size\":1,\"digest\":\"%s\"}]}",
	    config_mt, cdigest, layer_mt, ldigest);

	CHECK_INT(manifest_parse(body, strlen(body), &m, &err), want);
	if (strstr(err.msg, msg) == NULL) {
		printf("# message '%s' lacks '%s'\n", err.msg, msg);
		return -1;
	}
	CHECK(m.layers == NULL);
	return 0;
}

static int
test_manifest_bad(void)
{
	const char *cfg = "application/vnd.oci.image.config.v1+json";
	const char *gz = "application/vnd.oci.image.layer.v1.tar+gzip";

	CHECK_INT(bad_manifest(cfg, DA, "application/vnd.oci.image.layer.v1.tar+bzip2", DB, -EPROTO,
			       "unsupported media type"),
		  0);
	CHECK_INT(bad_manifest("application/vnd.cncf.helm.config.v1+json", DA, gz, DB, -EPROTO,
			       "not a container image"),
		  0);
	CHECK_INT(bad_manifest(cfg, "sha512:abcd", gz, DB, -EPROTO, "unsupported digest"), 0);
	CHECK_INT(
	    bad_manifest(cfg, DA, gz, "sha256:../../etc/passwd", -EBADMSG, "malformed digest"), 0);
	CHECK_INT(bad_manifest(cfg, DA, gz, "sha256:ABCDEF", -EBADMSG, "malformed digest"), 0);
	return 0;
}

static int
test_manifest_caps(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct manifest m;
	size_t n = MANIFEST_MAX + 1;
	cleanup_free char *big = xmalloc(n + 1);
	enum manifest_kind k;

	memset(big, ' ', n);
	big[0] = '{';
	big[n - 1] = '}';
	big[n] = '\0';
	CHECK_INT(manifest_parse(big, n, &m, &err), -EFBIG);
	CHECK_INT(manifest_kind(big, n, NULL, &k, &err), -EFBIG);
	return 0;
}

static const char index_json[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.index.v1+json\","
    "\"manifests\":["
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" DA "\","
    "\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"arm\",\"variant\":\"v7\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" DB "\","
    "\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"amd64\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" DC "\","
    "\"size\":1,\"platform\":{\"os\":\"linux\",\"architecture\":\"arm64\",\"variant\":\"v8\"}},"
    "{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"" DD "\","
    "\"size\":1,\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}}"
    "]}";

static int
select_for(const char *plat, char out[DIGEST_STR_SIZE], struct bk_err *err)
{
	struct platform p;

	if (platform_parse(plat, &p, err) < 0)
		return -1;
	return manifest_index_select(index_json, strlen(index_json), &p, out, err);
}

static int
test_index_select(void)
{
	struct bk_err err = BK_ERR_INIT;
	char d[DIGEST_STR_SIZE];
	struct platform host;

	CHECK_INT(select_for("linux/amd64", d, &err), 0);
	CHECK_STR(d, DB);
	CHECK_INT(select_for("linux/arm/v7", d, &err), 0);
	CHECK_STR(d, DA);
	CHECK_INT(select_for("linux/arm64", d, &err), 0); /* arm64 means arm64/v8 */
	CHECK_STR(d, DC);
	CHECK_INT(select_for("linux/arm64/v8", d, &err), 0);
	CHECK_STR(d, DC);
	CHECK_INT(select_for("linux/arm", d, &err), 0); /* no variant asked: any */
	CHECK_STR(d, DA);
	CHECK_INT(select_for("linux/arm/v6", d, &err), -ENOENT);
	CHECK(strstr(err.msg, "no manifest for linux/arm/v6") != NULL);
	CHECK(strstr(err.msg, "linux/amd64") != NULL);
	CHECK(strstr(err.msg, "unknown") == NULL);
	CHECK_INT(select_for("windows/amd64", d, &err), -ENOENT);
	platform_host(&host);
	CHECK_STR(host.os, "linux");
	CHECK(host.arch[0] != '\0');
	CHECK(strcmp(host.arch, "x86_64") != 0 && strcmp(host.arch, "aarch64") != 0);
	return 0;
}

static int
test_config(void)
{
	struct bk_err err = BK_ERR_INIT;
	const char *body = "{\"architecture\":\"amd64\",\"os\":\"linux\","
			   "\"config\":{\"Env\":[\"PATH=/bin\"],\"Cmd\":[\"sh\"]},"
			   "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" DA "\",\"" DB "\"]}}";
	json_t *cfg = NULL;
	const char **ids = NULL;

	CHECK_INT(manifest_config_parse(body, strlen(body), 2, &cfg, &ids, &err), 0);
	CHECK_STR(ids[0], DA);
	CHECK_STR(ids[1], DB);
	CHECK_STR(json_string_value(json_object_get(cfg, "os")), "linux");
	free(ids);
	json_decref(cfg);
	CHECK_INT(manifest_config_parse(body, strlen(body), 3, &cfg, &ids, &err), -EBADMSG);
	CHECK(strstr(err.msg, "2 diff ids for 3 layers") != NULL);
	body = "{\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"sha256:short\"]}}";
	CHECK_INT(manifest_config_parse(body, strlen(body), 1, &cfg, &ids, &err), -EBADMSG);
	body = "{\"rootfs\":{\"type\":\"other\",\"diff_ids\":[]}}";
	CHECK_INT(manifest_config_parse(body, strlen(body), 0, &cfg, &ids, &err), -EBADMSG);
	body = "{\"config\":[],\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
	CHECK_INT(manifest_config_parse(body, strlen(body), 0, &cfg, &ids, &err), -EBADMSG);
	return 0;
}

static int
test_chain_id(void)
{
	char c1[DIGEST_STR_SIZE], c2[DIGEST_STR_SIZE], want[DIGEST_STR_SIZE];
	const char *s = DA " " DB;

	manifest_chain_id(NULL, DA, c1);
	CHECK_STR(c1, DA);
	manifest_chain_id(c1, DB, c2);
	digest_buf(s, strlen(s), want);
	CHECK_STR(c2, want);
	/* sha256("") is well known: the digest code itself is right. */
	digest_buf("", 0, want);
	CHECK_STR(want, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	return 0;
}

int
main(void)
{
	RUN(test_kinds);
	RUN(test_schema1_and_unknown);
	RUN(test_manifest_parse);
	RUN(test_manifest_bad);
	RUN(test_manifest_caps);
	RUN(test_index_select);
	RUN(test_config);
	RUN(test_chain_id);
	return TAP_DONE();
}
