/*
 * Registry authentication that needs no network: the WWW-Authenticate
 * parser (RFC 7235 challenges, as the distribution token spec uses them),
 * base64, and credentials from a docker-style config.json (jansson).
 * Credential helpers ("credsStore", "credHelpers") are not run: the daemon
 * never executes programs named by a file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <jansson.h>

#include "registry/registry.h"
#include "base/base.h"

#define AUTH_CONFIG_MAX (1u << 20)

static bool
is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static const char *
skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* A token68 (base64-ish blob) or token starting at p; returns its length. */
static size_t
token_len(const char *p)
{
	size_t n = 0;

	while (is_tchar(p[n]) || p[n] == '/')
		n++;
	return n;
}

/* Copy a token or quoted-string value at *pp into out (truncated to size); advance *pp. */
static int
parse_value(const char **pp, char *out, size_t size)
{
	const char *p = *pp;
	size_t n = 0;

	if (*p == '"') {
		for (p++; *p != '"'; p++) {
			if (*p == '\0')
				return -EINVAL;
			if (*p == '\\' && p[1] != '\0')
				p++;
			if ((unsigned char)*p < 0x20 && *p != '\t')
				return -EINVAL;
			if (n + 1 < size)
				out[n++] = *p;
		}
		p++;
	} else {
		size_t len = token_len(p);

		if (len == 0)
			return -EINVAL;
		for (size_t i = 0; i < len; i++)
			if (n + 1 < size)
				out[n++] = p[i];
		p += len;
	}
	out[n] = '\0';
	*pp = p;
	return 0;
}

static void
set_param(struct auth_challenge *c, const char *name, size_t nlen, const char *value)
{
	static const struct {
		const char *name;
		size_t off, size;
	} params[] = {
		{ "realm", offsetof(struct auth_challenge, realm), sizeof(c->realm) },
		{ "service", offsetof(struct auth_challenge, service), sizeof(c->service) },
		{ "scope", offsetof(struct auth_challenge, scope), sizeof(c->scope) },
		{ "error", offsetof(struct auth_challenge, error), sizeof(c->error) },
	};

	for (size_t i = 0; i < ARRAY_SIZE(params); i++)
		if (strlen(params[i].name) == nlen && strncasecmp(params[i].name, name, nlen) == 0)
			snprintf((char *)c + params[i].off, params[i].size, "%s", value);
}

int
auth_parse_challenge(const char *header, struct auth_challenge *out)
{
	struct auth_challenge cur, best;
	const char *p = header;
	bool have = false, in = false;
	char value[1024];

	memset(&best, 0, sizeof(best));
	memset(&cur, 0, sizeof(cur));
	if (header == NULL)
		return -EINVAL;
	for (;;) {
		const char *name;
		size_t n;

		p = skip_ows(p);
		while (*p == ',')
			p = skip_ows(p + 1);
		if (*p == '\0')
			break;
		name = p;
		n = token_len(p);
		if (n == 0)
			return -EINVAL;
		p = skip_ows(p + n);
		if (*p == '=' && in) {
			/* an auth-param of the current challenge, or a token68 ("abc==") */
			p = skip_ows(p + 1);
			if (*p == '=' || *p == ',' || *p == '\0') {
				while (*p == '=')
					p++;
				continue;
			}
			if (parse_value(&p, value, sizeof(value)) < 0)
				return -EINVAL;
			set_param(&cur, name, n, value);
			p = skip_ows(p);
			if (*p != ',' && *p != '\0')
				return -EINVAL;
			continue;
		}
		/* a new challenge: a scheme, then a space or the end */
		if (in &&
		    (!strcmp(cur.scheme, "bearer") || (!strcmp(cur.scheme, "basic") && !have))) {
			best = cur;
			have = true;
		}
		memset(&cur, 0, sizeof(cur));
		in = true;
		if (n >= sizeof(cur.scheme))
			n = sizeof(cur.scheme) - 1;
		for (size_t i = 0; i < n; i++)
			cur.scheme[i] =
			    (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] + 32) : name[i];
		if (*p == '=')
			return -EINVAL;
	}
	if (in && (!strcmp(cur.scheme, "bearer") || (!strcmp(cur.scheme, "basic") && !have))) {
		best = cur;
		have = true;
	}
	if (!have || (!strcmp(best.scheme, "bearer") && best.realm[0] == '\0'))
		return -EINVAL;
	*out = best;
	return 0;
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
auth_base64_encode(const void *data, size_t len)
{
	const unsigned char *s = data;
	char *out = xmalloc((len + 2) / 3 * 4 + 1), *p = out;
	size_t i;

	for (i = 0; i + 2 < len; i += 3) {
		*p++ = b64[s[i] >> 2];
		*p++ = b64[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
		*p++ = b64[((s[i + 1] & 15) << 2) | (s[i + 2] >> 6)];
		*p++ = b64[s[i + 2] & 63];
	}
	if (i < len) {
		*p++ = b64[s[i] >> 2];
		if (i + 1 < len) {
			*p++ = b64[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
			*p++ = b64[(s[i + 1] & 15) << 2];
		} else {
			*p++ = b64[(s[i] & 3) << 4];
			*p++ = '=';
		}
		*p++ = '=';
	}
	*p = '\0';
	return out;
}

long
auth_base64_decode(const char *s, unsigned char **out)
{
	size_t len = strlen(s), n = 0, i;
	cleanup_free unsigned char *buf = NULL;
	unsigned int acc = 0;
	int bits = 0;

	while (len > 0 && s[len - 1] == '=')
		len--;
	if (len % 4 == 1)
		return -EINVAL;
	buf = xmalloc(len * 3 / 4 + 1);
	for (i = 0; i < len; i++) {
		const char *c = s[i] ? strchr(b64, s[i]) : NULL;

		if (c == NULL)
			return -EINVAL;
		acc = (acc << 6) | (unsigned int)(c - b64);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[n++] = (unsigned char)(acc >> bits);
		}
	}
	buf[n] = '\0';
	*out = take_ptr(buf);
	return (long)n;
}

/* "https://index.docker.io/v1/" -> "index.docker.io"; "host:5000" stays. */
static void
key_host(const char *key, char *out, size_t size)
{
	const char *p = strstr(key, "://");
	size_t n;

	p = p ? p + 3 : key;
	n = strcspn(p, "/");
	snprintf(out, size, "%.*s", (int)n, p);
}

static bool
host_matches(const char *key, const char *host)
{
	static const char *const hub[] = { "registry-1.docker.io", "index.docker.io", "docker.io",
					   "registry.hub.docker.com" };
	char kh[256];
	bool kh_hub = false, host_hub = false;

	key_host(key, kh, sizeof(kh));
	if (strcasecmp(kh, host) == 0)
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(hub); i++) {
		kh_hub |= strcasecmp(kh, hub[i]) == 0;
		host_hub |= strcasecmp(host, hub[i]) == 0;
	}
	return kh_hub && host_hub;
}

static int
entry_creds(json_t *v, const char *path, const char *key, char **user, char **pass,
	    struct bk_err *err)
{
	const char *auth = json_string_value(json_object_get(v, "auth"));
	const char *u = json_string_value(json_object_get(v, "username"));
	const char *pw = json_string_value(json_object_get(v, "password"));
	cleanup_free unsigned char *dec = NULL;
	char *colon;
	long n;

	if (auth && *auth) {
		n = auth_base64_decode(auth, &dec);
		if (n < 0 || memchr(dec, '\0', (size_t)n) ||
		    (colon = strchr((char *)dec, ':')) == NULL)
			return bk_err_set(
			    err, EINVAL, "auth config '%s': entry '%.100s': bad 'auth'", path, key);
		*colon = '\0';
		*user = xstrdup((char *)dec);
		*pass = xstrdup(colon + 1);
		explicit_bzero(dec, (size_t)n);
		return 1;
	}
	if (u && pw) {
		*user = xstrdup(u);
		*pass = xstrdup(pw);
		return 1;
	}
	return 0;
}

int
auth_lookup(const char *path, const char *host, char **user, char **pass, struct bk_err *err)
{
	cleanup_free char *text = NULL;
	cleanup(json_decrefp) json_t *j = NULL;
	json_error_t jerr;
	json_t *auths, *v;
	const char *key;
	size_t len = 0;

	*user = *pass = NULL;
	if (path == NULL || *path == '\0')
		return 0;
	if (access(path, F_OK) < 0 && errno == ENOENT)
		return 0;
	if (read_file_at(AT_FDCWD, path, AUTH_CONFIG_MAX, &text, &len, err) < 0)
		return bk_err_wrap(err, "auth config");
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	explicit_bzero(text, len);
	if (j == NULL)
		return bk_err_set(err, EINVAL, "auth config '%s': line %d: %s", path, jerr.line,
				  jerr.text);
	auths = json_object_get(j, "auths");
	if (auths == NULL)
		return 0;
	if (!json_is_object(auths))
		return bk_err_set(err, EINVAL, "auth config '%s': 'auths' is not an object", path);
	/* An exact key first, so "host:5000" never takes "host:5001"'s entry. */
	json_object_foreach (auths, key, v) {
		char kh[256];

		key_host(key, kh, sizeof(kh));
		if (strcasecmp(kh, host) == 0)
			return entry_creds(v, path, key, user, pass, err);
	}
	json_object_foreach (auths, key, v)
		if (host_matches(key, host))
			return entry_creds(v, path, key, user, pass, err);
	return 0;
}
