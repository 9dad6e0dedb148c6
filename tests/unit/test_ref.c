/*
 * Unit tests for engine/parse/ref.c: image reference parsing, normalisation and
 * formatting as Docker does it, and platform strings.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bocker.h"
#include "parse/parse.h"
#include "base/base.h"
#include "tap.h"

#define H64   "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define D64   "sha256:" H64
#define UPPER "0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF"

/* Inputs may hold control characters; keep each diagnostic on one TAP line. */
static void
diag_input(const char *what, const char *s)
{
	printf("# %s: '", what);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7f)
			printf("\\x%02x", c);
		else
			putchar(c);
	}
	printf("'\n");
}

/* Expect EINVAL with want somewhere in the message. */
static int
check_bad_ref(const char *in, const char *want)
{
	struct bk_err err = BK_ERR_INIT;
	struct image_ref r;

	CHECK_INT(ref_parse(in, &r, &err), -EINVAL);
	CHECK_INT(err.code, EINVAL);
	if (strstr(err.msg, want) == NULL) {
		diag_input("message", err.msg);
		diag_input("wanted", want);
		return -1;
	}
	CHECK(err.msg[0] >= 'a' && err.msg[0] <= 'z');
	CHECK(strchr(err.msg, '\n') == NULL);
	return 0;
}

static int
build_full(const struct image_ref *r, char *buf, size_t size)
{
	return snprintf(buf, size, "%s/%s%s%s%s%s", r->domain, r->path, *r->tag ? ":" : "", r->tag,
			*r->digest ? "@" : "", r->digest);
}

static int
same_ref(const struct image_ref *a, const struct image_ref *b)
{
	CHECK_STR(a->domain, b->domain);
	CHECK_STR(a->path, b->path);
	CHECK_STR(a->tag, b->tag);
	CHECK_STR(a->digest, b->digest);
	return 0;
}

static const struct good_ref {
	const char *in, *domain, *path, *tag, *digest, *familiar;
} good_refs[] = {
	{ "busybox", "docker.io", "library/busybox", "latest", "", "busybox:latest" },
	{ "busybox:1.36", "docker.io", "library/busybox", "1.36", "", "busybox:1.36" },
	{ "library/busybox", "docker.io", "library/busybox", "latest", "", "busybox:latest" },
	{ "docker.io/library/busybox:latest", "docker.io", "library/busybox", "latest", "",
	  "busybox:latest" },
	{ "docker.io/busybox", "docker.io", "library/busybox", "latest", "", "busybox:latest" },
	{ "index.docker.io/busybox", "docker.io", "library/busybox", "latest", "",
	  "busybox:latest" },
	{ "index.docker.io/library/busybox:musl", "docker.io", "library/busybox", "musl", "",
	  "busybox:musl" },
	{ "myuser/myapp", "docker.io", "myuser/myapp", "latest", "", "myuser/myapp:latest" },
	/* "library/" goes only when nothing nests under it (familiarizeName). */
	{ "docker.io/library/a/b", "docker.io", "library/a/b", "latest", "", "library/a/b:latest" },
	{ "localhost:5000/x/y:t", "localhost:5000", "x/y", "t", "", "localhost:5000/x/y:t" },
	{ "localhost/x", "localhost", "x", "latest", "", "localhost/x:latest" },
	{ "localhost:5000/app", "localhost:5000", "app", "latest", "",
	  "localhost:5000/app:latest" },
	/* A single component is always a Docker Hub name, as in normalize.go. */
	{ "localhost:5000", "docker.io", "library/localhost", "5000", "", "localhost:5000" },
	{ "localhost", "docker.io", "library/localhost", "latest", "", "localhost:latest" },
	{ "127.0.0.1:5000/a/b/c:v1", "127.0.0.1:5000", "a/b/c", "v1", "",
	  "127.0.0.1:5000/a/b/c:v1" },
	{ "registry:5000/app", "registry:5000", "app", "latest", "", "registry:5000/app:latest" },
	{ "[::1]:5000/x:y", "[::1]:5000", "x", "y", "", "[::1]:5000/x:y" },
	{ "[2001:db8::1]/x", "[2001:db8::1]", "x", "latest", "", "[2001:db8::1]/x:latest" },
	{ "quay.io/org/app@" D64, "quay.io", "org/app", "", D64, "quay.io/org/app@" D64 },
	{ "busybox@" D64, "docker.io", "library/busybox", "", D64, "busybox@" D64 },
	{ "busybox:1.36@" D64, "docker.io", "library/busybox", "1.36", D64, "busybox:1.36@" D64 },
	{ "docker.io/library/busybox:latest@" D64, "docker.io", "library/busybox", "latest", D64,
	  "busybox:latest@" D64 },
	/* An upper-case first component cannot be a namespace, so it is a domain. */
	{ "Foo/bar", "Foo", "bar", "latest", "", "Foo/bar:latest" },
	{ "my-registry.example.com/a.b/c_d/e__f/g--h:V_1.0-rc", "my-registry.example.com",
	  "a.b/c_d/e__f/g--h", "V_1.0-rc", "",
	  "my-registry.example.com/a.b/c_d/e__f/g--h:V_1.0-rc" },
	{ "gcr.io/distroless/static-debian12:nonroot", "gcr.io", "distroless/static-debian12",
	  "nonroot", "", "gcr.io/distroless/static-debian12:nonroot" },
	{ "ubuntu:_x", "docker.io", "library/ubuntu", "_x", "", "ubuntu:_x" },
	{ "a", "docker.io", "library/a", "latest", "", "a:latest" },
	{ "0/1:2", "docker.io", "0/1", "2", "", "0/1:2" },
	/*
	 * Docker Hub paths whose first component reads as a domain keep docker.io in the
	 * familiar form, which must parse back to the same image (found by fuzz_ref).
	 */
	{ "docker.io/localhost/x", "docker.io", "localhost/x", "latest", "",
	  "docker.io/localhost/x:latest" },
	{ "docker.io/docker.io/o", "docker.io", "docker.io/o", "latest", "",
	  "docker.io/docker.io/o:latest" },
	{ "index.docker.io/a.b/c@" D64, "docker.io", "a.b/c", "", D64, "docker.io/a.b/c@" D64 },
	{ "docker.io/localhostx/y", "docker.io", "localhostx/y", "latest", "",
	  "localhostx/y:latest" },
	/* "busybox:1" has a ':', so it is a registry host and port, as for docker. */
	{ "busybox:1/x", "busybox:1", "x", "latest", "", "busybox:1/x:latest" },
};

static int
check_good_ref(const struct good_ref *g)
{
	struct bk_err err = BK_ERR_INIT;
	struct image_ref r, again;
	char buf[1024], want[1024];

	if (ref_parse(g->in, &r, &err) != 0) {
		diag_input("error", err.msg);
		return -1;
	}
	CHECK_STR(r.domain, g->domain);
	CHECK_STR(r.path, g->path);
	CHECK_STR(r.tag, g->tag);
	CHECK_STR(r.digest, g->digest);

	CHECK_INT(ref_format_familiar(&r, buf, sizeof(buf)), (long long)strlen(g->familiar));
	CHECK_STR(buf, g->familiar);
	CHECK_INT(ref_parse(buf, &again, &err), 0); /* familiar round trip */
	CHECK(same_ref(&r, &again) == 0);

	build_full(&r, want, sizeof(want));
	CHECK_INT(ref_format_full(&r, buf, sizeof(buf)), (long long)strlen(want));
	CHECK_STR(buf, want);
	CHECK_INT(ref_parse(buf, &again, &err), 0); /* full round trip */
	CHECK(same_ref(&r, &again) == 0);
	return 0;
}

static int
test_good_refs(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(good_refs); i++) {
		if (check_good_ref(&good_refs[i]) < 0) {
			diag_input("input", good_refs[i].in);
			return -1;
		}
	}
	return 0;
}

static const struct bad_ref {
	const char *in, *msg;
} bad_refs[] = {
	{ "", "reference: empty" },
	{ " busybox", "whitespace at offset 0" },
	{ "busybox ", "whitespace at offset 7" },
	{ "busy box", "whitespace at offset 4" },
	{ "busybox\t", "whitespace" },
	{ "busybox\n", "whitespace" },
	{ "busy\x01"
	  "box",
	  "control character 0x01 at offset 4" },
	{ "busybox\x7f", "control character 0x7f" },
	{ "Busybox", "repository name must be lowercase" },
	{ "library/Busybox", "repository name must be lowercase" },
	{ "quay.io/Org/app", "repository name must be lowercase" },
	{ "Foo/Bar", "repository name must be lowercase" },
	{ "busybox:", "empty tag" },
	{ "busybox:.tag", "invalid tag '.tag'" },
	{ "busybox:-tag", "invalid tag '-tag'" },
	{ "busybox:ta+g", "invalid tag 'ta+g'" },
	{ "busybox@sha256:abc", "sha256 digest must be 64 lower-case hex digits" },
	{ "busybox@sha256:" H64 "0", "sha256 digest must be 64 lower-case hex digits" },
	{ "busybox@sha256:" UPPER, "sha256 digest must be 64 lower-case hex digits" },
	{ "busybox@sha256:", "sha256 digest must be 64 lower-case hex digits" },
	{ "busybox@sha512:" H64 H64, "unsupported digest algorithm 'sha512'" },
	{ "busybox@md5:0123456789abcdef0123456789abcdef", "unsupported digest algorithm 'md5'" },
	{ "busybox@", "empty digest" },
	{ "busybox@sha256", "digest 'sha256' is not 'algorithm:hex'" },
	{ "busybox@:" H64, "is not 'algorithm:hex'" },
	{ "busybox@" D64 "@" D64, "more than one '@'" },
	{ "a//b", "contains '//'" },
	{ "/a", "starts with '/'" },
	{ "a/", "ends with '/'" },
	{ "localhost/", "ends with '/'" },
	{ "a/:tag", "repository name ends with '/'" },
	{ ":tag", "missing repository name" },
	{ "@sha256:", "missing repository name" },
	{ "@" D64, "missing repository name" },
	{ "localhost:5000/:t", "missing repository name" },
	{ H64, "a 64-digit hex string is an id" },
	{ "-busybox", "invalid repository name component '-busybox'" },
	{ "busybox-", "invalid repository name component 'busybox-'" },
	{ "bu..sybox", "invalid repository name component 'bu..sybox'" },
	{ "bu___sybox", "invalid repository name component 'bu___sybox'" },
	{ "bu._sybox", "invalid repository name component 'bu._sybox'" },
	{ "x/bu%sybox", "invalid repository name component 'bu%sybox'" },
	{ "busybox:1.36:extra", "invalid repository name component 'busybox:1.36'" },
	{ "caf\xc3\xa9", "invalid repository name component" },
	{ "my_host.com:abc/x", "invalid registry domain 'my_host.com:abc'" },
	{ "-foo.com/x", "invalid registry domain '-foo.com'" },
	{ "foo-.com/x", "invalid registry domain" },
	{ "foo..com/x", "invalid registry domain" },
	{ "foo.com:/x", "invalid registry domain 'foo.com:'" },
	{ "[::1/x", "invalid registry domain '[::1'" },
	{ "[]:5000/x", "invalid registry domain" },
	{ "[fe80::1%eth0]/x", "invalid registry domain" },
	/* distribution would make this a domain-less path; we refuse it. */
	{ "a_b.c/x", "invalid registry domain 'a_b.c'" },
};

static int
test_bad_refs(void)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_refs); i++) {
		if (check_bad_ref(bad_refs[i].in, bad_refs[i].msg) < 0) {
			diag_input("input", bad_refs[i].in);
			return -1;
		}
	}
	return 0;
}

static int
test_null_and_untouched(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct image_ref r;

	CHECK(check_bad_ref(NULL, "reference: empty") == 0);
	/* A failed parse leaves out as it was. */
	CHECK_INT(ref_parse("quay.io/a/b:c", &r, &err), 0);
	CHECK_INT(ref_parse("quay.io/a/B:d", &r, &err), -EINVAL);
	CHECK_STR(r.path, "a/b");
	CHECK_STR(r.tag, "c");
	/* err may be NULL when the caller only wants the errno. */
	CHECK_INT(ref_parse("a//b", &r, NULL), -EINVAL);
	CHECK_INT(ref_parse("busybox", &r, NULL), 0);
	return 0;
}

static int
test_input_length(void)
{
	char s[REF_INPUT_MAX + 2];

	memset(s, 'a', sizeof(s) - 1);
	s[sizeof(s) - 1] = '\0';
	CHECK(check_bad_ref(s, "reference: longer than 1024 characters") == 0);
	/* 1024 is not too long as input, only as a repository name. */
	s[REF_INPUT_MAX] = '\0';
	CHECK(check_bad_ref(s, "repository name longer than 255 characters") == 0);
	return 0;
}

static int
test_path_length(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct image_ref r;
	char s[512];

	/* Elsewhere than Docker Hub the path is taken as it is: 255 fits. */
	snprintf(s, sizeof(s), "quay.io/%0255d", 0);
	CHECK_INT(ref_parse(s, &r, &err), 0);
	CHECK_INT(strlen(r.path), 255);
	snprintf(s, sizeof(s), "quay.io/%0256d", 0);
	CHECK(check_bad_ref(s, "repository name longer than 255 characters") == 0);

	/* On Docker Hub "library/" counts too. */
	snprintf(s, sizeof(s), "%0247d", 0);
	CHECK_INT(ref_parse(s, &r, &err), 0);
	CHECK_INT(strlen(r.path), 255);
	CHECK(strncmp(r.path, "library/", 8) == 0);
	snprintf(s, sizeof(s), "%0248d", 0);
	CHECK(check_bad_ref(s, "repository name longer than 255 characters") == 0);
	return 0;
}

static int
test_domain_length(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct image_ref r;
	char s[512];

	snprintf(s, sizeof(s), "%0251d.com/x", 0);
	CHECK_INT(ref_parse(s, &r, &err), 0);
	CHECK_INT(strlen(r.domain), 255);
	snprintf(s, sizeof(s), "%0252d.com/x", 0);
	CHECK(check_bad_ref(s, "registry domain longer than 255 characters") == 0);
	return 0;
}

static int
test_tag_length(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct image_ref r;
	char s[256];

	snprintf(s, sizeof(s), "busybox:%0128d", 0);
	CHECK_INT(ref_parse(s, &r, &err), 0);
	CHECK_INT(strlen(r.tag), 128);
	snprintf(s, sizeof(s), "busybox:%0129d", 0);
	CHECK(check_bad_ref(s, "tag longer than 128 characters") == 0);
	return 0;
}

static int
test_format_full(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct image_ref r;
	char buf[512];

	CHECK_INT(ref_parse("busybox", &r, &err), 0);
	CHECK_INT(ref_format_full(&r, buf, sizeof(buf)), 32);
	CHECK_STR(buf, "docker.io/library/busybox:latest");
	CHECK_INT(ref_parse("localhost:5000/x/y:t", &r, &err), 0);
	CHECK_INT(ref_format_full(&r, buf, sizeof(buf)), 20);
	CHECK_STR(buf, "localhost:5000/x/y:t");
	CHECK_INT(ref_parse("busybox:1.36@" D64, &r, &err), 0);
	CHECK_INT(ref_format_full(&r, buf, sizeof(buf)), 30 + 1 + 71);
	CHECK_STR(buf, "docker.io/library/busybox:1.36@" D64);
	CHECK_INT(ref_parse("quay.io/org/app@" D64, &r, &err), 0);
	CHECK_INT(ref_format_full(&r, buf, sizeof(buf)), 15 + 1 + 71);
	CHECK_STR(buf, "quay.io/org/app@" D64);
	return 0;
}

static int
test_format_too_long(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct image_ref r;
	char buf[64];

	CHECK_INT(ref_parse("busybox", &r, &err), 0);
	/* "busybox:latest" is 14 characters: 15 bytes fit, 14 do not. */
	CHECK_INT(ref_format_familiar(&r, buf, 15), 14);
	CHECK_STR(buf, "busybox:latest");
	CHECK_INT(ref_format_familiar(&r, buf, 14), -ENAMETOOLONG);
	CHECK_INT(ref_format_familiar(&r, NULL, 0), -ENAMETOOLONG);
	CHECK_INT(ref_format_full(&r, buf, 33), 32);
	CHECK_INT(ref_format_full(&r, buf, 32), -ENAMETOOLONG);
	CHECK_INT(ref_format_full(&r, buf, 1), -ENAMETOOLONG);
	return 0;
}

static int
test_registry_host(void)
{
	static const struct {
		const char *in, *host;
	} cases[] = {
		{ "busybox", "registry-1.docker.io" },
		{ "index.docker.io/busybox", "registry-1.docker.io" },
		{ "docker.io/myuser/app", "registry-1.docker.io" },
		{ "quay.io/org/app", "quay.io" },
		{ "localhost:5000/x", "localhost:5000" },
		{ "127.0.0.1:5000/a/b/c:v1", "127.0.0.1:5000" },
		{ "localhost/x", "localhost" },
	};
	struct bk_err err = BK_ERR_INIT;
	struct image_ref r;

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		CHECK_INT(ref_parse(cases[i].in, &r, &err), 0);
		CHECK_STR(ref_registry_host(&r), cases[i].host);
	}
	return 0;
}

static int
test_digest_valid(void)
{
	CHECK(ref_digest_valid(D64));
	CHECK(ref_digest_valid("sha256:" H64));
	CHECK(!ref_digest_valid(NULL));
	CHECK(!ref_digest_valid(""));
	CHECK(!ref_digest_valid("sha256:"));
	CHECK(!ref_digest_valid(H64));
	CHECK(!ref_digest_valid("sha256:abc"));
	CHECK(!ref_digest_valid("sha256:" H64 "0"));
	CHECK(!ref_digest_valid("sha256:" UPPER));
	CHECK(!ref_digest_valid("SHA256:" H64));
	CHECK(!ref_digest_valid("sha512:" H64 H64));
	CHECK(!ref_digest_valid(
	    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg"));
	CHECK(!ref_digest_valid(" sha256:" H64));
	return 0;
}

static int
check_platform(const char *in, const char *os, const char *arch, const char *variant)
{
	struct bk_err err = BK_ERR_INIT;
	struct platform p;

	if (platform_parse(in, &p, &err) != 0) {
		diag_input("error", err.msg);
		return -1;
	}
	CHECK_STR(p.os, os);
	CHECK_STR(p.arch, arch);
	CHECK_STR(p.variant, variant);
	return 0;
}

static int
check_bad_platform(const char *in, const char *want)
{
	struct bk_err err = BK_ERR_INIT;
	struct platform p;

	CHECK_INT(platform_parse(in, &p, &err), -EINVAL);
	CHECK_INT(err.code, EINVAL);
	if (strstr(err.msg, want) == NULL) {
		diag_input("input", in);
		diag_input("message", err.msg);
		diag_input("wanted", want);
		return -1;
	}
	return 0;
}

static int
test_platform(void)
{
	CHECK(check_platform("linux/amd64", "linux", "amd64", "") == 0);
	CHECK(check_platform("linux/arm64/v8", "linux", "arm64", "v8") == 0);
	CHECK(check_platform("linux/arm/v7", "linux", "arm", "v7") == 0);
	CHECK(check_platform("Linux/AMD64", "linux", "amd64", "") == 0);
	CHECK(check_platform("windows/x86_64", "windows", "x86_64", "") == 0);
	CHECK(check_platform("linux/ppc64le", "linux", "ppc64le", "") == 0);
	return 0;
}

static int
test_bad_platform(void)
{
	char s[128];

	CHECK(check_bad_platform("", "platform: empty") == 0);
	CHECK(check_bad_platform(NULL, "platform: empty") == 0);
	CHECK(check_bad_platform("linux", "platform 'linux': want 'os/arch[/variant]'") == 0);
	CHECK(check_bad_platform("a/b/c/d", "platform 'a/b/c/d': want 'os/arch[/variant]'") == 0);
	CHECK(check_bad_platform("linux//v8", "empty component") == 0);
	CHECK(check_bad_platform("linux/amd64/", "empty component") == 0);
	CHECK(check_bad_platform("/amd64", "empty component") == 0);
	CHECK(check_bad_platform("linux/", "empty component") == 0);
	CHECK(check_bad_platform("linux/am d64", "invalid character in 'am d64'") == 0);
	CHECK(check_bad_platform("linux/amd64\n", "invalid character") == 0);
	snprintf(s, sizeof(s), "linux/%032d", 0);
	CHECK(check_bad_platform(s, "component longer than 31 characters") == 0);
	snprintf(s, sizeof(s), "linux/%031d", 0);
	CHECK(check_platform(s, "linux", s + 6, "") == 0);
	return 0;
}

static int
test_platform_untouched(void)
{
	struct platform p;

	CHECK_INT(platform_parse("linux/arm64/v8", &p, NULL), 0);
	CHECK_INT(platform_parse("linux", &p, NULL), -EINVAL);
	CHECK_STR(p.variant, "v8");
	return 0;
}

int
main(void)
{
	RUN(test_good_refs);
	RUN(test_bad_refs);
	RUN(test_null_and_untouched);
	RUN(test_input_length);
	RUN(test_path_length);
	RUN(test_domain_length);
	RUN(test_tag_length);
	RUN(test_format_full);
	RUN(test_format_too_long);
	RUN(test_registry_host);
	RUN(test_digest_valid);
	RUN(test_platform);
	RUN(test_bad_platform);
	RUN(test_platform_untouched);
	return TAP_DONE();
}
