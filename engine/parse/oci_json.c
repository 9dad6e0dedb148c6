/*
 * The readers of config.json's members (oci_json.h), shared by the files of
 * the parser: the document loaded with jansson, each member checked as it is
 * read (strings bounded and free of NUL bytes, arrays and objects bounded,
 * integers in range), and a failure named by the field's JSON path
 * ("mounts[3].destination: ...").  Pure: no I/O.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "parse/oci_json.h"
#include "base/base.h"

/* ---- messages -------------------------------------------------------------------------------- */

/* s for a message: at most 60 bytes, control characters and quotes as '?'. */
const char *
oj_shown(const char *s, char buf[SHOWN_SIZE])
{
	size_t i;

	for (i = 0; s[i] != '\0' && i < 60; i++)
		buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '"' ? '?' : s[i];
	if (s[i] != '\0')
		memcpy(buf + i, "...", 4);
	else
		buf[i] = '\0';
	return buf;
}

/* "at.key: what"; key NULL: at is the whole path.  Returns -EINVAL. */
int
oj_bad(struct bk_err *err, const char *at, const char *key, const char *fmt, ...)
{
	char msg[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return bk_err_set(err, EINVAL, "%s%s%s: %s", at, *at && key ? "." : "", key ? key : "",
			  msg);
}

/* A path too long for the buffer ends in "..." (snprintf's n says so). */
const char *
oj_cut(char buf[AT_MAX], int n)
{
	if (n >= AT_MAX)
		memcpy(buf + AT_MAX - 4, "...", 4);
	return buf;
}

const char *
oj_sub(char buf[AT_MAX], const char *at, const char *key)
{
	return oj_cut(buf, snprintf(buf, AT_MAX, "%s%s%s", at, *at ? "." : "", key));
}

/* "at.key[i]", or "at[i]" without a key. */
const char *
oj_idx(char buf[AT_MAX], const char *at, const char *key, size_t i)
{
	return oj_cut(buf, snprintf(buf, AT_MAX, "%s%s%s[%zu]", at, *at && key ? "." : "",
				    key ? key : "", i));
}

/* ---- the document ---------------------------------------------------------------------------- */

/*
 * jansson's integers are int64: a uint64 member above INT64_MAX (RLIM_INFINITY
 * from Docker's --ulimit x=-1, seccomp masks) would fail the whole document.
 * Such a literal is rewritten in a copy as its two's complement
 * ("18446744073709551615" as "-1") and the uint64 readers cast it back.  So a
 * negative number in a uint64 member reads as its two's complement too, and a
 * signed member given 2^64-1 reads -1 ("unlimited") where Go would fail to
 * decode.  NULL: nothing to rewrite.
 */
static char *
widen_u64(const char *in, size_t len, size_t *out_len)
{
	char *out = NULL;
	size_t i, n = 0, done = 0;
	bool in_str = false;

	for (i = 0; i < len; i++) {
		size_t end, k;
		uint64_t v = 0;
		bool over = false;

		if (in_str) {
			if (in[i] == '\\')
				i++;
			else if (in[i] == '"')
				in_str = false;
			continue;
		}
		if (in[i] == '"')
			in_str = true;
		if (in[i] < '0' || in[i] > '9')
			continue;
		for (end = i; end < len && in[end] >= '0' && in[end] <= '9'; end++)
			;
		/* negative numbers, fractions, exponents, leading zeros: jansson's to judge */
		if ((i > 0 && memchr("-+.eE", in[i - 1], 5)) ||
		    (end < len && memchr(".eE", in[end], 3)) || end - i < 19 || end - i > 20 ||
		    in[i] == '0') {
			i = end - 1;
			continue;
		}
		for (k = i; k < end; k++) {
			unsigned d = (unsigned)(in[k] - '0');

			over |= v > (UINT64_MAX - d) / 10;
			v = v * 10 + d;
		}
		if (!over && v > (uint64_t)INT64_MAX) {
			/* each rewrite of 19 or 20 digits adds at most one byte */
			if (out == NULL)
				out = xmalloc(len + len / 19 + 2);
			memcpy(out + n, in + done, i - done);
			n += i - done;
			n += (size_t)sprintf(out + n, "-%" PRIu64, (uint64_t)0 - v);
			done = end;
		}
		i = end - 1;
	}
	if (out == NULL)
		return NULL;
	memcpy(out + n, in + done, len - done);
	*out_len = n + len - done;
	return out;
}

int
oj_load(const char *json, size_t len, const char *what, json_t **out, struct bk_err *err)
{
	cleanup_free char *wide = NULL;
	const char *text = json ? json : "";
	size_t wide_len = 0;
	json_error_t jerr;
	json_t *j;

	if (len > OCI_SPEC_MAX)
		return bk_err_set(err, E2BIG, "%s: %zu bytes, more than the %u allowed", what, len,
				  OCI_SPEC_MAX);
	wide = widen_u64(text, len, &wide_len);
	if (wide) {
		text = wide;
		len = wide_len;
	}
	/* Duplicate keys would mean different things to different parsers.  NUL bytes are
	 * loaded so that the field holding one can be named (oj_str_ok). */
	j = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (j == NULL)
		return bk_err_set(err, EINVAL, "%s: line %d column %d: %s", what, jerr.line,
				  jerr.column, jerr.text);
	if (!json_is_object(j)) {
		json_decref(j);
		return bk_err_set(err, EINVAL, "%s: not a JSON object", what);
	}
	*out = j;
	return 0;
}

/* ---- members --------------------------------------------------------------------------------- */

json_t *
oj_member(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_null(v) ? NULL : v;
}

/*
 * Empty: null, [], {}, 0, false, "", or an object whose members are all empty:
 * an unset Go struct, as Docker sends it ("blockIO": {"weight": 0}).
 */
bool
oj_is_empty(json_t *v)
{
	const char *k;
	json_t *m;

	if (v == NULL || json_is_null(v) || json_is_false(v))
		return true;
	if (json_is_integer(v))
		return json_integer_value(v) == 0;
	if (json_is_string(v))
		return json_string_length(v) == 0;
	if (json_is_array(v))
		return json_array_size(v) == 0;
	if (!json_is_object(v))
		return false;
	json_object_foreach (v, k, m)
		if (!oj_is_empty(m))
			return false;
	return true;
}

/* Members the runtime cannot honour, refused by name when they say anything. */
int
oj_refuse(const json_t *o, const char *at, const char *const *keys, size_t n, struct bk_err *err)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!oj_is_empty(oj_member(o, keys[i])))
			return oj_bad(err, at, keys[i], "not supported");
	return 0;
}

/* Like oj_refuse, for numbers where 0 is the same as unset. */
int
oj_refuse_nonzero(const json_t *o, const char *at, const char *key, struct bk_err *err)
{
	json_t *v = oj_member(o, key);

	if (v != NULL && !(json_is_integer(v) && json_integer_value(v) == 0))
		return oj_bad(err, at, key, "not supported");
	return 0;
}

int
oj_str_ok(const json_t *v, const char *at, const char *key, struct bk_err *err)
{
	size_t n;

	if (!json_is_string(v))
		return oj_bad(err, at, key, "must be a string");
	n = json_string_length(v);
	if (n > OCI_STRING_MAX)
		return oj_bad(err, at, key, "longer than %d bytes", OCI_STRING_MAX);
	if (memchr(json_string_value(v), '\0', n))
		return oj_bad(err, at, key, "contains a NUL byte");
	return 0;
}

/* These return 1 and fill *out if the member is set, 0 if absent (*out untouched), or -EINVAL. */

int
oj_get_str(const json_t *o, const char *at, const char *key, char **out, struct bk_err *err)
{
	json_t *v = oj_member(o, key);
	int ret;

	if (v == NULL)
		return 0;
	ret = oj_str_ok(v, at, key, err);
	if (ret < 0)
		return ret;
	*out = xstrdup(json_string_value(v));
	return 1;
}

int
oj_req_str(const json_t *o, const char *at, const char *key, char **out, struct bk_err *err)
{
	int ret = oj_get_str(o, at, key, out, err);

	if (ret == 0)
		return oj_bad(err, at, key, "required");
	return ret;
}

int
oj_get_bool(const json_t *o, const char *at, const char *key, bool *out, struct bk_err *err)
{
	json_t *v = oj_member(o, key);

	if (v == NULL)
		return 0;
	if (!json_is_boolean(v))
		return oj_bad(err, at, key, "must be true or false");
	*out = json_is_true(v);
	return 1;
}

int
oj_int_ok(const json_t *v, const char *at, const char *key, int64_t min, int64_t max, int64_t *out,
	  struct bk_err *err)
{
	int64_t n;

	if (!json_is_integer(v))
		return oj_bad(err, at, key, "must be an integer");
	n = json_integer_value(v);
	if (n < min || n > max)
		return oj_bad(err, at, key,
			      "%" PRId64 " is out of range (%" PRId64 "..%" PRId64 ")", n, min,
			      max);
	*out = n;
	return 0;
}

int
oj_get_int(const json_t *o, const char *at, const char *key, int64_t min, int64_t max, int64_t *out,
	   struct bk_err *err)
{
	json_t *v = oj_member(o, key);
	int ret;

	if (v == NULL)
		return 0;
	ret = oj_int_ok(v, at, key, min, max, out, err);
	return ret < 0 ? ret : 1;
}

int
oj_req_int(const json_t *o, const char *at, const char *key, int64_t min, int64_t max, int64_t *out,
	   struct bk_err *err)
{
	int ret = oj_get_int(o, at, key, min, max, out, err);

	if (ret == 0)
		return oj_bad(err, at, key, "required");
	return ret;
}

/* A uint64 member: every integer, a negative one as its two's complement (widen_u64). */
int
oj_get_u64(const json_t *o, const char *at, const char *key, uint64_t *out, struct bk_err *err)
{
	json_t *v = oj_member(o, key);

	if (v == NULL)
		return 0;
	if (!json_is_integer(v))
		return oj_bad(err, at, key, "must be an integer");
	*out = (uint64_t)json_integer_value(v);
	return 1;
}

int
oj_req_u64(const json_t *o, const char *at, const char *key, uint64_t *out, struct bk_err *err)
{
	int ret = oj_get_u64(o, at, key, out, err);

	if (ret == 0)
		return oj_bad(err, at, key, "required");
	return ret;
}

int
oj_get_array(const json_t *o, const char *at, const char *key, json_t **out, struct bk_err *err)
{
	json_t *v = oj_member(o, key);

	if (v == NULL)
		return 0;
	if (!json_is_array(v))
		return oj_bad(err, at, key, "must be an array");
	if (json_array_size(v) > OCI_LIST_MAX)
		return oj_bad(err, at, key, "%zu entries, more than %d", json_array_size(v),
			      OCI_LIST_MAX);
	*out = v;
	return 1;
}

int
oj_get_object(const json_t *o, const char *at, const char *key, json_t **out, struct bk_err *err)
{
	json_t *v = oj_member(o, key);

	if (v == NULL)
		return 0;
	if (!json_is_object(v))
		return oj_bad(err, at, key, "must be an object");
	if (json_object_size(v) > OCI_LIST_MAX)
		return oj_bad(err, at, key, "%zu members, more than %d", json_object_size(v),
			      OCI_LIST_MAX);
	*out = v;
	return 1;
}

typedef int (*oj_str_check)(const char *s, const char *at, struct bk_err *err);

/*
 * An array of strings as a NULL-terminated vector, empty if absent.  *out
 * is set first: the caller frees it on failure too.
 */
int
oj_get_strv(const json_t *o, const char *at, const char *key, oj_str_check check, char ***out,
	    struct bk_err *err)
{
	json_t *a = NULL, *v;
	char **vec;
	size_t i;
	int ret = oj_get_array(o, at, key, &a, err);

	if (ret < 0)
		return ret;
	vec = xcalloc(json_array_size(a) + 1, sizeof(*vec));
	*out = vec;
	json_array_foreach (a, i, v) {
		char at_i[AT_MAX];

		oj_idx(at_i, at, key, i);
		ret = oj_str_ok(v, at_i, NULL, err);
		if (ret == 0 && check)
			ret = check(json_string_value(v), at_i, err);
		if (ret < 0)
			return ret;
		vec[i] = xstrdup(json_string_value(v));
	}
	return 0;
}

int
oj_check_abs(const char *s, const char *at, struct bk_err *err)
{
	char sb[SHOWN_SIZE];

	if (s[0] != '/')
		return oj_bad(err, at, NULL, "\"%s\" is not absolute", oj_shown(s, sb));
	return 0;
}

int
oj_check_env(const char *s, const char *at, struct bk_err *err)
{
	char sb[SHOWN_SIZE];

	if (s[0] == '=' || strchr(s, '=') == NULL)
		return oj_bad(err, at, NULL, "\"%s\" is not NAME=VALUE", oj_shown(s, sb));
	return 0;
}

int
oj_lookup(const char *const *names, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return (int)i;
	return -1;
}
