/*
 * Unit tests for engine/registry/auth.c: the WWW-Authenticate parser, base64, and
 * credentials from a docker-style config.json.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bocker.h"
#include "registry/registry.h"
#include "base/base.h"
#include "tap.h"

static int
test_bearer(void)
{
	struct auth_challenge c;

	CHECK_INT(auth_parse_challenge("Bearer realm=\"https://auth.docker.io/token\","
				       "service=\"registry.docker.io\","
				       "scope=\"repository:library/busybox:pull\"",
				       &c),
		  0);
	CHECK_STR(c.scheme, "bearer");
	CHECK_STR(c.realm, "https://auth.docker.io/token");
	CHECK_STR(c.service, "registry.docker.io");
	CHECK_STR(c.scope, "repository:library/busybox:pull");
	CHECK_STR(c.error, "");
	return 0;
}

static int
test_bearer_spacing_case_error(void)
{
	struct auth_challenge c;

	CHECK_INT(auth_parse_challenge("  bEaReR   Realm = \"http://127.0.0.1:5001/auth\" , "
				       "service=registry ,error=\"insufficient_scope\", foo=bar",
				       &c),
		  0);
	CHECK_STR(c.scheme, "bearer");
	CHECK_STR(c.realm, "http://127.0.0.1:5001/auth");
	CHECK_STR(c.service, "registry");
	CHECK_STR(c.error, "insufficient_scope");
	CHECK_STR(c.scope, "");
	return 0;
}

static int
test_quoted_escapes(void)
{
	struct auth_challenge c;

	CHECK_INT(auth_parse_challenge("Bearer realm=\"http://h/t\\\"x\\\\y\",scope=\"a,b c\"", &c),
		  0);
	CHECK_STR(c.realm, "http://h/t\"x\\y");
	CHECK_STR(c.scope, "a,b c");
	return 0;
}

static int
test_basic_and_multiple(void)
{
	struct auth_challenge c;

	CHECK_INT(auth_parse_challenge("Basic realm=\"basic-realm\"", &c), 0);
	CHECK_STR(c.scheme, "basic");
	CHECK_STR(c.realm, "basic-realm");
	/* Bearer wins whatever the order. */
	CHECK_INT(
	    auth_parse_challenge("Basic realm=\"r\", Bearer realm=\"https://t/x\",service=s", &c),
	    0);
	CHECK_STR(c.scheme, "bearer");
	CHECK_STR(c.realm, "https://t/x");
	CHECK_STR(c.service, "s");
	CHECK_INT(auth_parse_challenge("Bearer realm=\"https://t/x\", Basic realm=\"r\"", &c), 0);
	CHECK_STR(c.scheme, "bearer");
	CHECK_INT(auth_parse_challenge("Negotiate abc==, Basic realm=x", &c), 0);
	CHECK_STR(c.scheme, "basic");
	return 0;
}

static int
test_bad_challenges(void)
{
	const char *bad[] = {
		"",
		"   ",
		"Negotiate",
		"Digest realm=\"x\", nonce=\"y\"",
		"Bearer", /* no realm */
		"Bearer realm=\"unterminated",
		"Bearer realm=",
		"=realm",
		"Bearer realm=\"x\" junk", /* no comma between params */
		"Bearer realm=\"a\x01b\"",
	};
	struct auth_challenge c;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		if (auth_parse_challenge(bad[i], &c) != -EINVAL) {
			printf("# accepted: '%s'\n", bad[i]);
			return -1;
		}
	}
	CHECK_INT(auth_parse_challenge(NULL, &c), -EINVAL);
	return 0;
}

static int
test_long_values_truncated(void)
{
	char hdr[4096], big[3000];
	struct auth_challenge c;

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	snprintf(hdr, sizeof(hdr), "Bearer realm=\"http://x/\",scope=\"%s\"", big);
	CHECK_INT(auth_parse_challenge(hdr, &c), 0);
	CHECK_INT(strlen(c.scope), sizeof(c.scope) - 1);
	return 0;
}

static int
test_base64(void)
{
	const char *in[] = { "", "f", "fo", "foo", "foob", "fooba", "foobar", "user:pa:ss" };
	const char *out[] = { "",         "Zg==",     "Zm8=",     "Zm9v",
			      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy", "dXNlcjpwYTpzcw==" };

	for (size_t i = 0; i < ARRAY_SIZE(in); i++) {
		cleanup_free char *e = auth_base64_encode(in[i], strlen(in[i]));
		cleanup_free unsigned char *d = NULL;

		CHECK_STR(e, out[i]);
		CHECK_INT(auth_base64_decode(out[i], &d), (long)strlen(in[i]));
		CHECK_STR((char *)d, in[i]);
	}
	{
		unsigned char *d = NULL;

		CHECK_INT(auth_base64_decode("Zm9v!", &d), -EINVAL);
		CHECK_INT(auth_base64_decode("Z", &d), -EINVAL);
	}
	return 0;
}

static char cfg_path[256];

static void
write_cfg(const char *text)
{
	FILE *f = fopen(cfg_path, "w");

	fputs(text, f);
	fclose(f);
}

static int
test_lookup(void)
{
	struct bk_err err = BK_ERR_INIT;
	cleanup_free char *u = NULL, *p = NULL;
	char *u2 = NULL, *p2 = NULL;

	/* alice:s3cret, bob:pw, hub:hubpw */
	write_cfg("{\"auths\": {"
		  "\"localhost:5000\": {\"auth\": \"YWxpY2U6czNjcmV0\"},"
		  "\"https://127.0.0.1:5001/v1/\": {\"username\": \"bob\", \"password\": \"pw\"},"
		  "\"https://index.docker.io/v1/\": {\"auth\": \"aHViOmh1YnB3\"},"
		  "\"broken:1\": {\"auth\": \"!!!\"}}, \"credsStore\": \"desktop\"}");
	CHECK_INT(auth_lookup(cfg_path, "localhost:5000", &u, &p, &err), 1);
	CHECK_STR(u, "alice");
	CHECK_STR(p, "s3cret");
	free(u);
	free(p);
	CHECK_INT(auth_lookup(cfg_path, "127.0.0.1:5001", &u, &p, &err), 1);
	CHECK_STR(u, "bob");
	free(u);
	free(p);
	CHECK_INT(auth_lookup(cfg_path, "registry-1.docker.io", &u, &p, &err), 1);
	CHECK_STR(u, "hub");
	CHECK_STR(p, "hubpw");
	CHECK_INT(auth_lookup(cfg_path, "localhost:5001", &u2, &p2, &err), 0);
	CHECK(u2 == NULL && p2 == NULL);
	CHECK_INT(auth_lookup(cfg_path, "broken:1", &u2, &p2, &err), -EINVAL);
	CHECK(strstr(err.msg, "bad 'auth'") != NULL);
	CHECK_INT(auth_lookup("/nonexistent/config.json", "localhost:5000", &u2, &p2, &err), 0);
	CHECK_INT(auth_lookup(NULL, "localhost:5000", &u2, &p2, &err), 0);
	write_cfg("{\"auths\": [}");
	CHECK_INT(auth_lookup(cfg_path, "localhost:5000", &u2, &p2, &err), -EINVAL);
	write_cfg("{}");
	CHECK_INT(auth_lookup(cfg_path, "localhost:5000", &u2, &p2, &err), 0);
	return 0;
}

int
main(void)
{
	int fd;

	snprintf(cfg_path, sizeof(cfg_path), "%s/bkt-auth-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	fd = mkstemp(cfg_path);
	if (fd < 0)
		return 1;
	close(fd);

	RUN(test_bearer);
	RUN(test_bearer_spacing_case_error);
	RUN(test_quoted_escapes);
	RUN(test_basic_and_multiple);
	RUN(test_bad_challenges);
	RUN(test_long_values_truncated);
	RUN(test_base64);
	RUN(test_lookup);

	unlink(cfg_path);
	return TAP_DONE();
}
