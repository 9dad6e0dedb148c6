/*
 * Image references and platforms.  The grammar and the normalisation are
 * Docker's, from github.com/distribution/reference (regexp.go, reference.go,
 * normalize.go):
 *
 *   reference      := name [":" tag] ["@" digest]
 *   name           := [domain "/"] path-component ["/" path-component]*
 *   domain         := (domain-name | "[" IPv6 "]") [":" port]
 *   path-component := [a-z0-9]+ (separator [a-z0-9]+)*
 *   separator      := "." | "_" | "__" | "-"+
 *   tag            := [A-Za-z0-9_] [A-Za-z0-9_.-]{0,127}
 *
 * Hand-written rather than regex(3) so that each failure says what is wrong.
 * Three deliberate differences from distribution: only sha256 digests are
 * accepted (all a registry serves and all the pull path can verify), a
 * first component that splitDockerDomain takes for a domain but that is not a
 * valid one ("a_b.c/x") is an error instead of silently becoming part of a
 * domain-less path, and the familiar form always parses back to the same
 * reference ("docker.io/localhost/x" keeps its domain).  Pure: no I/O, no
 * allocation.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "bocker.h"
#include "parse/parse.h"

#define DOCKER_DOMAIN        "docker.io"
#define DOCKER_LEGACY_DOMAIN "index.docker.io"
#define DOCKER_REGISTRY      "registry-1.docker.io"
#define OFFICIAL_PREFIX      "library/"
#define DEFAULT_TAG          "latest"
#define SHA256_ALGO          "sha256"
#define SHA256_PREFIX        SHA256_ALGO ":"
#define SHA256_HEX_LEN       64

/* How much of the input a message quotes, so the reason after it still fits. */
#define QUOTE_MAX 200

/* ASCII only: <ctype.h> follows the locale and is undefined for negative chars. */
static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_lower(char c)
{
	return c >= 'a' && c <= 'z';
}

static bool
is_upper(char c)
{
	return c >= 'A' && c <= 'Z';
}

static bool
is_lower_alnum(char c)
{
	return is_lower(c) || is_digit(c);
}

static bool
is_alnum(char c)
{
	return is_lower_alnum(c) || is_upper(c);
}

static bool
is_lower_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f');
}

static bool
is_hex(char c)
{
	return is_lower_hex(c) || (c >= 'A' && c <= 'F');
}

static bool
is_word(char c)
{
	return is_alnum(c) || c == '_';
}

static bool
has_upper(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (is_upper(p[i]))
			return true;
	return false;
}

static bool
all_lower_hex(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!is_lower_hex(p[i]))
			return false;
	return true;
}

bool
ref_digest_valid(const char *s)
{
	size_t plen = strlen(SHA256_PREFIX);

	if (s == NULL || strncmp(s, SHA256_PREFIX, plen) != 0)
		return false;
	s += plen;
	return strnlen(s, SHA256_HEX_LEN + 1) == SHA256_HEX_LEN && all_lower_hex(s, SHA256_HEX_LEN);
}

/*
 * Whitespace and control characters are never part of a reference; catching
 * them first keeps them out of the messages that quote the input.
 */
static int
check_chars(const char *s, size_t len, struct bk_err *err)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == ' ' || (c >= '\t' && c <= '\r'))
			return bk_err_set(err, EINVAL, "reference: whitespace at offset %zu", i);
		if (c < 0x20 || c == 0x7f)
			return bk_err_set(
			    err, EINVAL, "reference: control character 0x%02x at offset %zu", c, i);
	}
	return 0;
}

/* d is everything after the '@'. */
static int
parse_digest(const char *s, const char *d, struct image_ref *r, struct bk_err *err)
{
	const char *colon;
	size_t alen;

	if (strchr(d, '@') != NULL)
		return bk_err_set(err, EINVAL, "reference '%.*s': more than one '@'", QUOTE_MAX, s);
	if (*d == '\0')
		return bk_err_set(err, EINVAL, "reference '%.*s': empty digest", QUOTE_MAX, s);
	if (ref_digest_valid(d)) {
		memcpy(r->digest, d, strlen(d) + 1);
		return 0;
	}
	colon = strchr(d, ':');
	if (colon == NULL || colon == d)
		return bk_err_set(err, EINVAL,
				  "reference '%.*s': digest '%.*s' is not 'algorithm:hex'",
				  QUOTE_MAX, s, QUOTE_MAX, d);
	alen = colon - d;
	if (alen != strlen(SHA256_ALGO) || memcmp(d, SHA256_ALGO, alen) != 0)
		return bk_err_set(err, EINVAL,
				  "reference '%.*s': unsupported digest algorithm '%.*s'",
				  QUOTE_MAX, s, (int)alen, d);
	return bk_err_set(err, EINVAL,
			  "reference '%.*s': sha256 digest must be 64 lower-case hex digits",
			  QUOTE_MAX, s);
}

/* One domain-name label: alphanumerics and inner '-'; returns its length, 0 if none. */
static size_t
domain_label_len(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && (is_alnum(p[i]) || p[i] == '-'))
		i++;
	if (i == 0 || p[0] == '-' || p[i - 1] == '-')
		return 0;
	return i;
}

/* host [":" port], host a dotted name or a bracketed IPv6 address (no zone). */
static bool
domain_valid(const char *d, size_t n)
{
	size_t i = 0, label;

	if (n > 0 && d[0] == '[') {
		for (i = 1; i < n && (is_hex(d[i]) || d[i] == ':'); i++)
			;
		if (i == 1 || i == n || d[i] != ']')
			return false;
		i++;
	} else {
		for (;;) {
			label = domain_label_len(d + i, n - i);
			if (label == 0)
				return false;
			i += label;
			if (i < n && d[i] == '.')
				i++;
			else
				break;
		}
	}
	if (i == n)
		return true;
	if (d[i] != ':' || i + 1 == n)
		return false;
	for (i++; i < n; i++)
		if (!is_digit(d[i]))
			return false;
	return true;
}

/* [a-z0-9]+ joined by ".", "_", "__" or a run of "-". */
static bool
path_component_valid(const char *p, size_t n)
{
	size_t i = 0, start;

	for (;;) {
		start = i;
		while (i < n && is_lower_alnum(p[i]))
			i++;
		if (i == start)
			return false; /* empty, or a separator not followed by [a-z0-9] */
		if (i == n)
			return true;
		if (p[i] == '.') {
			i++;
		} else if (p[i] == '_') {
			i++;
			if (i < n && p[i] == '_')
				i++;
		} else if (p[i] == '-') {
			while (i < n && p[i] == '-')
				i++;
		} else {
			return false;
		}
	}
}

static int
parse_path(const char *s, const char *p, size_t n, bool official, struct image_ref *r,
	   struct bk_err *err)
{
	size_t prefix = official ? strlen(OFFICIAL_PREFIX) : 0;
	const char *end = p + n, *c, *slash;

	if (n == 0)
		return bk_err_set(err, EINVAL, "reference '%.*s': missing repository name",
				  QUOTE_MAX, s);
	/* Before the grammar, as ParseNormalizedNamed does, so the message says why. */
	if (has_upper(p, n))
		return bk_err_set(err, EINVAL,
				  "reference '%.*s': repository name must be lowercase", QUOTE_MAX,
				  s);
	if (p[n - 1] == '/')
		return bk_err_set(err, EINVAL, "reference '%.*s': repository name ends with '/'",
				  QUOTE_MAX, s);
	for (c = p; c < end; c = slash + 1) {
		slash = memchr(c, '/', end - c);
		if (slash == NULL)
			slash = end;
		if (!path_component_valid(c, slash - c))
			return bk_err_set(
			    err, EINVAL,
			    "reference '%.*s': invalid repository name component '%.*s'", QUOTE_MAX,
			    s, (int)(slash - c), c);
	}
	if (prefix + n > REF_PATH_MAX)
		return bk_err_set(err, EINVAL,
				  "reference '%.*s': repository name longer than %d characters",
				  QUOTE_MAX, s, REF_PATH_MAX);
	memcpy(r->path, OFFICIAL_PREFIX, prefix);
	memcpy(r->path + prefix, p, n);
	r->path[prefix + n] = '\0';
	return 0;
}

static int
parse_tag(const char *s, const char *t, size_t n, struct image_ref *r, struct bk_err *err)
{
	if (n == 0)
		return bk_err_set(err, EINVAL, "reference '%.*s': empty tag", QUOTE_MAX, s);
	if (n > REF_TAG_MAX)
		return bk_err_set(err, EINVAL, "reference '%.*s': tag longer than %d characters",
				  QUOTE_MAX, s, REF_TAG_MAX);
	for (size_t i = 0; i < n; i++) {
		if (!is_word(t[i]) && (i == 0 || (t[i] != '.' && t[i] != '-')))
			return bk_err_set(
			    err, EINVAL,
			    "reference '%.*s': invalid tag '%.*s': want [A-Za-z0-9_] then "
			    "[A-Za-z0-9_.-]",
			    QUOTE_MAX, s, (int)n, t);
	}
	memcpy(r->tag, t, n);
	r->tag[n] = '\0';
	return 0;
}

/*
 * normalize.go's splitDockerDomain: the first of several components names a
 * registry only if it cannot be a Docker Hub namespace, that is if it is
 * "localhost", contains '.' or ':', or has an upper-case letter.  A single
 * component is always a Docker Hub name, so "localhost:5000" is
 * library/localhost with tag 5000.  Sets r->domain; *rest is what follows it.
 */
static int
split_domain(const char *s, const char *name, size_t n, struct image_ref *r, const char **rest,
	     struct bk_err *err)
{
	const char *slash = memchr(name, '/', n);
	size_t dn = slash ? (size_t)(slash - name) : 0;

	*rest = name;
	if (slash == NULL ||
	    !(memchr(name, '.', dn) || memchr(name, ':', dn) || has_upper(name, dn) ||
	      (dn == strlen("localhost") && !memcmp(name, "localhost", dn)))) {
		strcpy(r->domain, DOCKER_DOMAIN);
		return 0;
	}
	*rest = slash + 1;
	if (dn == strlen(DOCKER_LEGACY_DOMAIN) && !memcmp(name, DOCKER_LEGACY_DOMAIN, dn)) {
		strcpy(r->domain, DOCKER_DOMAIN);
		return 0;
	}
	if (!domain_valid(name, dn))
		return bk_err_set(err, EINVAL, "reference '%.*s': invalid registry domain '%.*s'",
				  QUOTE_MAX, s, (int)dn, name);
	if (dn >= sizeof(r->domain))
		return bk_err_set(err, EINVAL,
				  "reference '%.*s': registry domain longer than %zu characters",
				  QUOTE_MAX, s, sizeof(r->domain) - 1);
	memcpy(r->domain, name, dn);
	r->domain[dn] = '\0';
	return 0;
}

int
ref_parse(const char *s, struct image_ref *out, struct bk_err *err)
{
	struct image_ref r;
	const char *at, *rest, *colon, *path_end;
	size_t len, name_len;
	int ret;

	memset(&r, 0, sizeof(r));
	len = s ? strnlen(s, REF_INPUT_MAX + 1) : 0;
	if (len == 0)
		return bk_err_set(err, EINVAL, "reference: empty");
	if (len > REF_INPUT_MAX)
		return bk_err_set(err, EINVAL, "reference: longer than %d characters",
				  REF_INPUT_MAX);
	ret = check_chars(s, len, err);
	if (ret < 0)
		return ret;
	/* Docker refuses these too: "docker pull <id>" would otherwise mean library/<id>. */
	if (len == SHA256_HEX_LEN && all_lower_hex(s, len))
		return bk_err_set(err, EINVAL,
				  "reference '%s': a 64-digit hex string is an id, not a name", s);

	at = strchr(s, '@');
	name_len = at ? (size_t)(at - s) : len;
	if (name_len == 0)
		return bk_err_set(err, EINVAL, "reference '%.*s': missing repository name",
				  QUOTE_MAX, s);
	if (s[0] == '/')
		return bk_err_set(err, EINVAL, "reference '%.*s': starts with '/'", QUOTE_MAX, s);
	if (s[name_len - 1] == '/')
		return bk_err_set(err, EINVAL, "reference '%.*s': ends with '/'", QUOTE_MAX, s);
	if (memmem(s, name_len, "//", 2) != NULL)
		return bk_err_set(err, EINVAL, "reference '%.*s': contains '//'", QUOTE_MAX, s);

	ret = split_domain(s, s, name_len, &r, &rest, err);
	if (ret < 0)
		return ret;
	/* Past the domain no ':' can be a port, so the last one starts the tag. */
	colon = memrchr(rest, ':', s + name_len - rest);
	path_end = colon ? colon : s + name_len;
	ret = parse_path(s, rest, path_end - rest,
			 !strcmp(r.domain, DOCKER_DOMAIN) && !memchr(rest, '/', path_end - rest),
			 &r, err);
	if (ret < 0)
		return ret;
	if (colon) {
		ret = parse_tag(s, colon + 1, s + name_len - colon - 1, &r, err);
		if (ret < 0)
			return ret;
	}
	if (at) {
		ret = parse_digest(s, at + 1, &r, err);
		if (ret < 0)
			return ret;
	}
	if (r.tag[0] == '\0' && r.digest[0] == '\0')
		strcpy(r.tag, DEFAULT_TAG);
	*out = r;
	return 0;
}

/* Whether split_domain would take the first of path's several components for a domain. */
static bool
first_is_domain(const char *path)
{
	const char *slash = strchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	return slash && (memchr(path, '.', n) || memchr(path, ':', n) ||
			 (n == strlen("localhost") && !memcmp(path, "localhost", n)));
}

static int
format_ref(const struct image_ref *r, bool familiar, char *buf, size_t size)
{
	const char *domain = r->domain, *path = r->path;
	size_t plen = strlen(OFFICIAL_PREFIX);
	int n;

	/*
	 * normalize.go's familiarizeName: "library/" only goes when nothing nests under it.
	 * Unlike it, docker.io stays when the path's first component would read back as a
	 * domain: "docker.io/localhost/x" is not "localhost/x", an image of another registry.
	 */
	if (familiar && !strcmp(domain, DOCKER_DOMAIN) && !first_is_domain(path)) {
		domain = "";
		if (!strncmp(path, OFFICIAL_PREFIX, plen) && !strchr(path + plen, '/'))
			path += plen;
	}
	n = snprintf(buf, size, "%s%s%s%s%s%s%s", domain, *domain ? "/" : "", path,
		     *r->tag ? ":" : "", r->tag, *r->digest ? "@" : "", r->digest);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n >= size)
		return -ENAMETOOLONG;
	return n;
}

int
ref_format_familiar(const struct image_ref *r, char *buf, size_t size)
{
	return format_ref(r, true, buf, size);
}

int
ref_format_full(const struct image_ref *r, char *buf, size_t size)
{
	return format_ref(r, false, buf, size);
}

const char *
ref_registry_host(const struct image_ref *r)
{
	/* docker.io is only a name: Docker Hub's registry API answers elsewhere. */
	if (!strcmp(r->domain, DOCKER_DOMAIN))
		return DOCKER_REGISTRY;
	return r->domain;
}

/* Copy one platform field, lower-cased; containerd compares them that way. */
static int
platform_field(const char *s, const char *p, size_t n, char *out, size_t size, struct bk_err *err)
{
	if (n == 0)
		return bk_err_set(err, EINVAL, "platform '%.*s': empty component", QUOTE_MAX, s);
	if (n >= size)
		return bk_err_set(err, EINVAL,
				  "platform '%.*s': component longer than %zu characters",
				  QUOTE_MAX, s, size - 1);
	for (size_t i = 0; i < n; i++) {
		if (!is_word(p[i]) && p[i] != '.' && p[i] != '-')
			return bk_err_set(err, EINVAL,
					  "platform '%.*s': invalid character in '%.*s'", QUOTE_MAX,
					  s, (int)n, p);
		out[i] = is_upper(p[i]) ? (char)(p[i] - 'A' + 'a') : p[i];
	}
	out[n] = '\0';
	return 0;
}

int
platform_parse(const char *s, struct platform *out, struct bk_err *err)
{
	struct platform p;
	char *fields[] = { p.os, p.arch, p.variant };
	const char *c, *slash;
	size_t nslash = 0, n;
	int ret;

	memset(&p, 0, sizeof(p));
	if (s == NULL || *s == '\0')
		return bk_err_set(err, EINVAL, "platform: empty");
	for (c = s; (c = strchr(c, '/')) != NULL; c++)
		nslash++;
	if (nslash < 1 || nslash > 2)
		return bk_err_set(err, EINVAL, "platform '%.*s': want 'os/arch[/variant]'",
				  QUOTE_MAX, s);
	c = s;
	for (size_t i = 0; i <= nslash; i++) {
		slash = strchr(c, '/');
		n = slash ? (size_t)(slash - c) : strlen(c);
		ret = platform_field(s, c, n, fields[i], sizeof(p.os), err);
		if (ret < 0)
			return ret;
		c += n + 1;
	}
	*out = p;
	return 0;
}
