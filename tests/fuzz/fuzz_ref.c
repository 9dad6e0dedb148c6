/*
 * Fuzz engine/parse/ref.c: image references and platforms as a writer of
 * images/pull, containers/ID/image or a Dockerfile's FROM gives them.
 * Checks: failures carry EINVAL and a message; an accepted reference is
 * well formed (digest valid, tag or digest set) and both its full and its
 * familiar forms parse back to the same reference; the formatters report a
 * buffer one byte short; an accepted platform is lower case and formats
 * back to what was parsed, modulo case.
 */
#include <errno.h>
#include <strings.h>

#include "fuzz.h"
#include "parse/parse.h"

static void
same_ref(const struct image_ref *a, const struct image_ref *b)
{
	FUZZ_ASSERT(strcmp(a->domain, b->domain) == 0);
	FUZZ_ASSERT(strcmp(a->path, b->path) == 0);
	FUZZ_ASSERT(strcmp(a->tag, b->tag) == 0);
	FUZZ_ASSERT(strcmp(a->digest, b->digest) == 0);
}

/* format(r) parses back to r; a buffer one byte short gives ENAMETOOLONG. */
static void
round_trip(const struct image_ref *r, int (*format)(const struct image_ref *, char *, size_t))
{
	struct bk_err err = BK_ERR_INIT;
	struct image_ref back;
	char buf[2048], small[2048];
	int n = format(r, buf, sizeof(buf));

	FUZZ_ASSERT(n > 0 && (size_t)n == strlen(buf));
	if (ref_parse(buf, &back, &err) != 0) {
		fprintf(stderr, "fuzz: '%s' does not parse back: %s\n", buf, err.msg);
		abort();
	}
	same_ref(r, &back);
	FUZZ_ASSERT(format(r, small, (size_t)n) == -ENAMETOOLONG);
	FUZZ_ASSERT(format(r, small, (size_t)n + 1) == n && strcmp(small, buf) == 0);
}

static void
check_ref(const char *s)
{
	struct bk_err err = BK_ERR_INIT;
	struct image_ref r;
	int ret = ref_parse(s, &r, &err);

	fuzz_check_err(ret, &err, "ref_parse");
	if (ret < 0) {
		FUZZ_ASSERT(ret == -EINVAL);
		return;
	}
	FUZZ_ASSERT(ret == 0);
	FUZZ_ASSERT(strnlen(r.domain, sizeof(r.domain)) < sizeof(r.domain) && r.domain[0]);
	FUZZ_ASSERT(strnlen(r.path, sizeof(r.path)) <= REF_PATH_MAX && r.path[0]);
	FUZZ_ASSERT(strnlen(r.tag, sizeof(r.tag)) <= REF_TAG_MAX);
	FUZZ_ASSERT(r.tag[0] || r.digest[0]);
	FUZZ_ASSERT(r.digest[0] == '\0' || ref_digest_valid(r.digest));
	FUZZ_ASSERT(ref_registry_host(&r)[0] != '\0');
	round_trip(&r, ref_format_full);
	round_trip(&r, ref_format_familiar);
}

static void
check_platform(const char *s)
{
	struct bk_err err = BK_ERR_INIT;
	struct platform p;
	char buf[128];
	int ret = platform_parse(s, &p, &err);

	fuzz_check_err(ret, &err, "platform_parse");
	if (ret < 0) {
		FUZZ_ASSERT(ret == -EINVAL);
		return;
	}
	FUZZ_ASSERT(p.os[0] && p.arch[0]);
	snprintf(buf, sizeof(buf), "%s/%s%s%s", p.os, p.arch, p.variant[0] ? "/" : "", p.variant);
	FUZZ_ASSERT(strcasecmp(buf, s) == 0);
	for (const char *c = buf; *c; c++)
		FUZZ_ASSERT(!(*c >= 'A' && *c <= 'Z'));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_cstr(data, size);

	check_ref(s);
	check_platform(s);
	if (ref_digest_valid(s))
		FUZZ_ASSERT(strlen(s) == strlen("sha256:") + 64);
	free(s);
	return 0;
}
