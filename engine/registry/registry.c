/*
 * The distribution API over libcurl: manifests and blobs, the 401 challenge
 * and its Bearer or Basic answer, mirrors, plain-http registries, and the
 * translation of libcurl and HTTP failures into errno once, here.
 *
 * Redirects are followed by this file, not by libcurl, so that the
 * Authorization header goes only to the registry's own scheme://host:port:
 * blob downloads usually redirect to a storage host that must never see the
 * registry's token (CURLOPT_UNRESTRICTED_AUTH is never set).  A redirect from
 * https to http is refused.
 *
 * Timeouts: libcurl's low-speed limit would count the time a blob consumer
 * spends blocked in the write callback (the next layer waits for the one
 * below it), so stalls are measured here instead, from the last byte
 * received or the last time the consumer let go, in the progress callback.
 *
 * Retries (request_retry): a GET is made at most ATTEMPTS_MAX times when
 * its failure may be transient: HTTP 5xx (but 501 and 505), 429, and, once
 * the registry has answered anything in this pull, a refused, reset, dropped
 * or stalled connection.  A registry that never answered is down: failing at
 * once keeps "registry down" fast.  The pauses double from BACKOFF_MS; a
 * Retry-After up to RETRY_AFTER_MAX seconds is honoured, a longer one ends
 * the retries.  4xx answers, digest mismatches, oversized responses and
 * cancellation are final, and so are answers whose headers are too large
 * (HEADERS_MAX bytes or HEADER_LINES_MAX lines, or a line libcurl refuses):
 * EPROTO, as a registry that sends them once sends them again.  A blob
 * stream that broke resumes with "Range: bytes=N-" where it stopped, so the
 * consumer (hashing, extraction) just goes on; a server that answers 200
 * instead of 206 has its first N bytes skipped.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <curl/curl.h>
#include <jansson.h>

#include "parse/parse.h"
#include "registry/registry.h"
#include "base/base.h"

#define REDIRECTS_MAX   10
#define TOKEN_MAX       (1u << 20)
#define ERRBODY_MAX     1024
#define DEFAULT_TIMEOUT 30
#define TOKENS_CACHED   32
#define USER_AGENT      "bockerfs/" BK_VERSION
#define ATTEMPTS_MAX    4   /* tries of one GET: the first and 3 retries */
#define BACKOFF_MS      200 /* pause before the first retry; doubles */
#define RETRY_AFTER_MAX 10  /* seconds: a longer Retry-After is not waited for */
/*
 * One response's headers, status line included: real registries and blob
 * stores send a few kilobytes.  Below libcurl's own limits (100 KiB for a
 * line, 300 KiB in all), which it reports as an allocation failure or a
 * receive error, neither of which says what happened.
 */
#define HEADERS_MAX      (64u << 10)
#define HEADER_LINES_MAX 1000

DEFINE_CLEANUP(CURL *, curl_easy_cleanup)
DEFINE_CLEANUP(struct curl_slist *, curl_slist_free_all)
DEFINE_CLEANUP(CURLU *, curl_url_cleanup)

struct endpoint {
	char *base; /* "https://registry-1.docker.io", no trailing slash */
	char *host; /* its authority, "localhost:5000": the key for credentials */
	bool mirror;
};

struct registry {
	const struct registry_opts *opts;
	struct image_ref ref;
	struct endpoint *eps;
	size_t neps;
	size_t cur; /* the endpoint that served the manifest serves the blobs */
	unsigned timeout_s;
	CURL *easy;    /* for the pull thread's small requests: keeps its connection */
	CURLSH *share; /* DNS and TLS sessions shared by every transfer */
	pthread_mutex_t share_lock;
	pthread_mutex_t lock; /* protects authz */
	char *authz;          /* "Bearer ..." or "Basic ..." for eps[cur], or NULL */
	atomic_uint_fast64_t requests;
	atomic_bool answered; /* some server sent a status line: it is up, retries may help */
	bool push;            /* a client for pushing: tokens with the pull,push scope */
};

/* ---- Bearer tokens, cached process-wide per (host, scope) --------------- */

struct token {
	char *host, *scope, *authz;
	time_t expires;
};

static pthread_mutex_t tokens_lock = PTHREAD_MUTEX_INITIALIZER;
static struct token tokens[TOKENS_CACHED]; /* protected by tokens_lock */
static size_t tokens_next;                 /* protected by tokens_lock */

static time_t
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Caller frees; NULL if none is cached or it has expired. */
static char *
token_get(const char *host, const char *scope)
{
	char *authz = NULL;

	pthread_mutex_lock(&tokens_lock);
	for (size_t i = 0; i < TOKENS_CACHED; i++) {
		struct token *t = &tokens[i];

		if (t->host && !strcmp(t->host, host) && !strcmp(t->scope, scope) &&
		    t->expires > now_s()) {
			authz = xstrdup(t->authz);
			break;
		}
	}
	pthread_mutex_unlock(&tokens_lock);
	return authz;
}

static void
token_clear(struct token *t)
{
	free(t->host);
	free(t->scope);
	if (t->authz)
		explicit_bzero(t->authz, strlen(t->authz));
	free(t->authz);
	memset(t, 0, sizeof(*t));
}

static void
token_put(const char *host, const char *scope, const char *authz, long ttl)
{
	struct token *slot = NULL;

	pthread_mutex_lock(&tokens_lock);
	for (size_t i = 0; i < TOKENS_CACHED && !slot; i++)
		if (tokens[i].host && !strcmp(tokens[i].host, host) &&
		    !strcmp(tokens[i].scope, scope))
			slot = &tokens[i];
	if (slot == NULL)
		slot = &tokens[tokens_next++ % TOKENS_CACHED];
	token_clear(slot);
	slot->host = xstrdup(host);
	slot->scope = xstrdup(scope);
	slot->authz = xstrdup(authz);
	/* Renew a little early: a token that expires in flight costs a retry. */
	slot->expires = now_s() + (ttl > 20 ? ttl - 10 : ttl);
	pthread_mutex_unlock(&tokens_lock);
}

static void
token_drop(const char *host, const char *scope)
{
	pthread_mutex_lock(&tokens_lock);
	for (size_t i = 0; i < TOKENS_CACHED; i++)
		if (tokens[i].host && !strcmp(tokens[i].host, host) &&
		    !strcmp(tokens[i].scope, scope))
			token_clear(&tokens[i]);
	pthread_mutex_unlock(&tokens_lock);
}

/* ---- one HTTP exchange ------------------------------------------------- */

struct xfer {
	struct registry *r;
	CURL *c;
	const char *method; /* NULL: GET; "HEAD", "POST", "PUT", "PATCH" */
	/* a request body: from memory, or size bytes of a file read with pread */
	const char *up_mem;
	int up_fd;
	uint64_t up_size, up_off;
	const char *up_type; /* its Content-Type */
	void (*up_progress)(void *arg, uint64_t done, uint64_t total);
	void *up_arg;
	/*
	 * A POST's answer's Location (an upload session), whole: a registry may
	 * keep its upload state in it (kilobytes); the caller frees it.
	 */
	char *location;
	/* the current response (a redirect or a 401 starts another) */
	long status;
	char content_type[256];
	char digest[DIGEST_STR_SIZE];
	char challenge[2048]; /* WWW-Authenticate values, the Bearer one preferred */
	/* where the body goes: a sink, memory, or (other statuses) errbody */
	registry_sink sink;
	void *sink_arg;
	struct bk_err *sink_err;
	int sink_ret;
	char *mem;
	size_t mem_len, mem_cap, mem_max;
	bool too_big;
	char errbody[ERRBODY_MAX];
	size_t errlen;
	/* resuming a stream: bytes the sink has had (all attempts), where this attempt starts */
	uint64_t delivered, offset;
	uint64_t expect;    /* the blob's size when known, else 0 */
	uint64_t resp_pos;  /* blob offset of the response's next body byte */
	int64_t range_from; /* first byte of a 206's Content-Range, -1 if none */
	bool body_started, bad_range;
	/* retrying */
	long retry_after; /* seconds from Retry-After, -1 if none */
	bool transient;   /* the failure may go away: request_retry tries again */
	/* stalls and cancellation */
	int64_t last_activity; /* ms */
	bool timed_out, cancelled;
	/* the current response's headers, against HEADERS_MAX and HEADER_LINES_MAX */
	size_t header_bytes;
	unsigned header_lines;
	bool headers_too_large;
	bool got_body;                  /* the current response's body has begun */
	char curl_msg[CURL_ERROR_SIZE]; /* libcurl's own explanation of a failure */
};

/* Retry-After (RFC 9110): delay-seconds or an HTTP date; -1 if unreadable. */
static long
retry_after_s(const char *v)
{
	char *end;
	long s = strtol(v, &end, 10);
	time_t when;

	if (end != v && (*end == '\0' || *end == ' ' || *end == '\t'))
		return s < 0 ? 0 : s;
	when = curl_getdate(v, NULL);
	if (when < 0)
		return -1;
	return when > time(NULL) ? (long)(when - time(NULL)) : 0;
}

static size_t
on_header(char *buf, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n, k;
	char line[2048];
	char *v;

	x->last_activity = now_ms();
	if (len >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
		/* A new response (after a redirect, a 401, a 100). */
		x->header_bytes = x->header_lines = 0;
		x->got_body = false;
	}
	x->header_bytes += len;
	x->header_lines++;
	if (x->header_bytes > HEADERS_MAX || x->header_lines > HEADER_LINES_MAX) {
		x->headers_too_large = true;
		return 0;
	}
	k = len < sizeof(line) - 1 ? len : sizeof(line) - 1;
	memcpy(line, buf, k);
	line[k] = '\0';
	line[strcspn(line, "\r\n")] = '\0';
	if (strncmp(line, "HTTP/", 5) == 0) {
		x->status = strtol(line + strcspn(line, " "), NULL, 10);
		x->content_type[0] = x->digest[0] = x->challenge[0] = '\0';
		free(x->location);
		x->location = NULL;
		x->errlen = 0;
		x->range_from = -1;
		x->retry_after = -1;
		x->body_started = false;
		atomic_store(&x->r->answered, true);
		return len;
	}
	v = strchr(line, ':');
	if (v == NULL)
		return len;
	*v++ = '\0';
	v += strspn(v, " \t");
	if (strcasecmp(line, "Content-Type") == 0)
		snprintf(x->content_type, sizeof(x->content_type), "%s", v);
	else if (strcasecmp(line, "Docker-Content-Digest") == 0)
		snprintf(x->digest, sizeof(x->digest), "%s", v);
	else if (strcasecmp(line, "WWW-Authenticate") == 0 &&
		 (x->challenge[0] == '\0' || strncasecmp(v, "Bearer", 6) == 0))
		snprintf(x->challenge, sizeof(x->challenge), "%s", v);
	else if (strcasecmp(line, "Retry-After") == 0)
		x->retry_after = retry_after_s(v);
	else if (strcasecmp(line, "Location") == 0 && x->method && !strcmp(x->method, "POST")) {
		/* From buf, not line: line holds the first 2 KiB of a header only. */
		const char *full = buf + (v - line);
		size_t vlen = len - (size_t)(v - line);

		while (vlen > 0 && (full[vlen - 1] == '\r' || full[vlen - 1] == '\n'))
			vlen--;
		free(x->location);
		x->location = xstrndup(full, vlen);
	} else if (strcasecmp(line, "Content-Range") == 0 && strncasecmp(v, "bytes ", 6) == 0)
		x->range_from = strtoll(v + 6, NULL, 10);
	else if (strcasecmp(line, "Content-Length") == 0 && x->status == 200 && !x->sink &&
		 !x->method && strtoull(v, NULL, 10) > x->mem_max) {
		/* Refuse a huge manifest or config before reading any of it. */
		x->too_big = true;
		return 0;
	}
	return len;
}

/*
 * A blob's bytes for the sink.  After a resume the response starts at
 * offset (206) or at 0 (a server that ignored the Range): bytes the sink
 * already has are skipped, so it sees the blob once, in order.
 */
static size_t
on_stream(struct xfer *x, const char *buf, size_t len)
{
	size_t skip = 0;

	if (!x->body_started) {
		x->body_started = true;
		x->resp_pos = x->status == 206 ? (uint64_t)x->range_from : 0;
		if (x->status == 206 && x->range_from != (int64_t)x->offset) {
			x->bad_range = true;
			return 0;
		}
	}
	if (x->resp_pos < x->delivered)
		skip =
		    x->delivered - x->resp_pos < len ? (size_t)(x->delivered - x->resp_pos) : len;
	x->resp_pos += len;
	if (skip == len)
		return len;
	x->sink_ret = x->sink(x->sink_arg, buf + skip, len - skip, x->sink_err);
	/* Time blocked in the consumer is not the network's stall. */
	x->last_activity = now_ms();
	if (x->sink_ret < 0)
		return 0;
	x->delivered += len - skip;
	return len;
}

static size_t
on_body(char *buf, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;

	x->last_activity = now_ms();
	x->got_body = true;
	if (x->method || (x->status != 200 && !(x->status == 206 && x->offset > 0))) {
		size_t k = len < ERRBODY_MAX - 1 - x->errlen ? len : ERRBODY_MAX - 1 - x->errlen;

		memcpy(x->errbody + x->errlen, buf, k);
		x->errlen += k;
		x->errbody[x->errlen] = '\0';
		return len;
	}
	if (x->sink)
		return on_stream(x, buf, len);
	if (x->mem_len + len > x->mem_max) {
		x->too_big = true;
		return 0;
	}
	if (x->mem_len + len + 1 > x->mem_cap) {
		x->mem_cap = (x->mem_len + len + 1) * 2;
		x->mem = xrealloc(x->mem, x->mem_cap);
	}
	memcpy(x->mem + x->mem_len, buf, len);
	x->mem_len += len;
	x->mem[x->mem_len] = '\0';
	return len;
}

static int
on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct xfer *x = arg;
	struct bk_cancel *cancel = x->r->opts->cancel;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	if (cancel && atomic_load(&cancel->cancelled)) {
		x->cancelled = true;
		return 1;
	}
	if (now_ms() - x->last_activity > (int64_t)x->r->timeout_s * 1000) {
		x->timed_out = true;
		return 1;
	}
	return 0;
}

static const char *
xmethod(const struct xfer *x)
{
	return x->method ? x->method : "GET";
}

/* "scheme://host:port/path?query" without the query: signed URLs carry secrets. */
static void
url_for_msg(const char *url, char *out, size_t size)
{
	snprintf(out, size, "%.*s", (int)strcspn(url, "?#"), url);
}

static int
curl_fail(struct xfer *x, CURLcode res, const char *url, struct bk_err *err)
{
	char u[512];
	long os = 0;
	bool up;
	int code;

	url_for_msg(url, u, sizeof(u));
	/* Network failures are worth another try only from a server known to be up. */
	up = atomic_load(&x->r->answered);
	if (x->cancelled)
		return bk_err_set(err, EINTR, "%s %s: interrupted", xmethod(x), u);
	if (x->timed_out) {
		x->transient = up;
		return bk_err_set(err, ETIMEDOUT, "%s %s: no data for %u s", xmethod(x), u,
				  x->r->timeout_s);
	}
	if (x->sink_ret < 0)
		return x->sink_ret; /* the consumer filled err */
	if (x->too_big)
		return bk_err_set(err, EFBIG, "%s %s: response larger than %zu bytes", xmethod(x),
				  u, x->mem_max);
	if (x->bad_range)
		return bk_err_set(err, EPROTO, "%s %s: asked for bytes from %llu, got from %lld",
				  xmethod(x), u, (unsigned long long)x->offset,
				  (long long)x->range_from);
	if (x->headers_too_large)
		return bk_err_set(err, EPROTO,
				  "%s %s: response headers too large (over %u bytes or %u lines)",
				  xmethod(x), u, HEADERS_MAX, HEADER_LINES_MAX);
	/*
	 * libcurl's own header limits, met before on_header sees the line: a
	 * line over 100 KiB fails as "out of memory" (with no message, in this
	 * libcurl), more than 300 KiB in all as a "receive error" that says
	 * so.  Neither is a network fault that another try would mend.
	 */
	if ((res == CURLE_OUT_OF_MEMORY && !x->got_body) ||
	    (res == CURLE_RECV_ERROR && strcasestr(x->curl_msg, "header")))
		return bk_err_set(err, EPROTO, "%s %s: response headers too large (%s)", xmethod(x),
				  u, x->curl_msg[0] ? x->curl_msg : "a line over libcurl's limit");
	curl_easy_getinfo(x->c, CURLINFO_OS_ERRNO, &os);
	switch (res) {
	case CURLE_COULDNT_CONNECT:
		code = (os == EHOSTUNREACH || os == ENETUNREACH || os == ETIMEDOUT) ? (int)os
										    : ECONNREFUSED;
		x->transient = up;
		break;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		code = EHOSTUNREACH;
		break;
	case CURLE_OPERATION_TIMEDOUT:
		code = ETIMEDOUT;
		x->transient = up;
		break;
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
		/* A connection dropped or reset, mid-body or before the answer. */
		code = ECONNRESET;
		x->transient = up;
		break;
	case CURLE_OUT_OF_MEMORY:
		code = ENOMEM;
		break;
	default:
		code = EPROTO; /* TLS, protocol, malformed responses */
		break;
	}
	return bk_err_set(err, code, "%s %s: %s", xmethod(x), u, curl_easy_strerror(res));
}

/* A request body for libcurl, from memory or from the file (pread: a retry starts over). */
static size_t
on_upload(char *buf, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	uint64_t left = x->up_size - x->up_off;
	size_t want = size * n < left ? size * n : (size_t)left;
	ssize_t got;

	if (want == 0)
		return 0;
	if (x->up_mem) {
		memcpy(buf, x->up_mem + x->up_off, want);
		got = (ssize_t)want;
	} else {
		do
			got = pread(x->up_fd, buf, want, (off_t)x->up_off);
		while (got < 0 && errno == EINTR);
		if (got <= 0)
			return CURL_READFUNC_ABORT;
	}
	x->up_off += (uint64_t)got;
	/* Sending is activity too: a long upload is not a stall. */
	x->last_activity = now_ms();
	if (x->up_progress)
		x->up_progress(x->up_arg, x->up_off, x->up_size);
	return (size_t)got;
}

static int
perform(struct xfer *x, const char *url, const char *accept, const char *authz, struct bk_err *err)
{
	cleanup(curl_slist_free_allp) struct curl_slist *hdrs = NULL;
	cleanup_free char *ah = NULL, *auth = NULL, *range = NULL, *ct = NULL;
	CURL *c = x->c;
	CURLcode res;

	curl_easy_reset(c);
	if (accept) {
		ah = xasprintf("Accept: %s", accept);
		hdrs = curl_slist_append(hdrs, ah);
	}
	if (authz) {
		auth = xasprintf("Authorization: %s", authz);
		hdrs = curl_slist_append(hdrs, auth);
	}
	if (x->offset > 0) {
		range = xasprintf("Range: bytes=%llu-", (unsigned long long)x->offset);
		hdrs = curl_slist_append(hdrs, range);
	}
	if (x->up_type) {
		ct = xasprintf("Content-Type: %s", x->up_type);
		hdrs = curl_slist_append(hdrs, ct);
	}
	if (x->method) {
		/* No 100-continue round trip: the registry reads the body it asked for. */
		hdrs = curl_slist_append(hdrs, "Expect:");
	}
	x->status = 0;
	x->errlen = 0;
	x->retry_after = -1;
	x->up_off = 0;
	x->transient = x->timed_out = x->bad_range = x->body_started = false;
	x->headers_too_large = x->got_body = false;
	x->header_bytes = x->header_lines = 0;
	x->curl_msg[0] = '\0';
	x->last_activity = now_ms();
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_USERAGENT, USER_AGENT);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)x->r->timeout_s);
	curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L << 10);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, x);
	curl_easy_setopt(c, CURLOPT_SHARE, x->r->share);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, x->curl_msg);
	if (x->method && strcmp(x->method, "HEAD") == 0) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (x->method && strcmp(x->method, "POST") == 0) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, 0L);
	} else if (x->method) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, x->method);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_upload);
		curl_easy_setopt(c, CURLOPT_READDATA, x);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)x->up_size);
	}
	atomic_fetch_add(&x->r->requests, 1);
	res = curl_easy_perform(c);
	if (res != CURLE_OK)
		return curl_fail(x, res, url, err);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->status);
	return 0;
}

/* The registry's own explanation ({"errors":[{"code":..,"message":..}]}), made printable. */
static void
error_detail(const struct xfer *x, char *out, size_t size)
{
	cleanup(json_decrefp) json_t *j = json_loadb(x->errbody, x->errlen, 0, NULL);
	json_t *e = json_array_get(json_object_get(j, "errors"), 0);
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));

	out[0] = '\0';
	if (code || msg)
		snprintf(out, size, " (%s%s%s)", code ? code : "", code && msg ? ": " : "",
			 msg ? msg : "");
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
}

static int
status_error(struct xfer *x, const char *url, struct bk_err *err)
{
	char u[512], detail[256];

	url_for_msg(url, u, sizeof(u));
	error_detail(x, detail, sizeof(detail));
	switch (x->status) {
	case 401:
	case 403:
		return bk_err_set(err, EACCES, "%s %s: access denied, HTTP %ld%s", xmethod(x), u,
				  x->status, detail);
	case 404:
		return bk_err_set(err, ENOENT, "%s %s: not found%s", xmethod(x), u, detail);
	case 429:
		x->transient = true;
		return bk_err_set(err, EAGAIN, "%s %s: too many requests, HTTP 429%s", xmethod(x),
				  u, detail);
	case 501: /* not implemented, HTTP version not supported: asking again changes nothing */
	case 505:
		return bk_err_set(err, EPROTO, "%s %s: unexpected HTTP status %ld%s", xmethod(x), u,
				  x->status, detail);
	default:
		if (x->status >= 500 && x->status < 600) {
			x->transient = true;
			return bk_err_set(err, EIO, "%s %s: server error, HTTP %ld%s", xmethod(x),
					  u, x->status, detail);
		}
		return bk_err_set(err, EPROTO, "%s %s: unexpected HTTP status %ld%s", xmethod(x), u,
				  x->status, detail);
	}
}

/* ---- origins and authentication ---------------------------------------- */

/* scheme, host and port of url, lower-cased, "https://host:443". */
static int
origin_of(const char *url, char *out, size_t size)
{
	cleanup(curl_url_cleanupp) CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	int ret = -EINVAL;

	if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK) {
		snprintf(out, size, "%s://%s:%s", scheme, host, port);
		for (char *p = out; *p; p++)
			if (*p >= 'A' && *p <= 'Z')
				*p = (char)(*p + 32);
		ret = 0;
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	return ret;
}

static bool
same_origin(const char *a, const char *b)
{
	char oa[512], ob[512];

	return origin_of(a, oa, sizeof(oa)) == 0 && origin_of(b, ob, sizeof(ob)) == 0 &&
	       strcmp(oa, ob) == 0;
}

/* Host without the port: "[::1]" stays bracketed. */
static void
hostname_of(const char *authority, char *out, size_t size)
{
	size_t n = strlen(authority);
	const char *colon = strrchr(authority, ':');

	if (colon && !strchr(colon, ']'))
		n = (size_t)(colon - authority);
	snprintf(out, size, "%.*s", (int)n, authority);
}

static char *
current_authz(struct registry *r)
{
	char *a;

	pthread_mutex_lock(&r->lock);
	a = r->authz ? xstrdup(r->authz) : NULL;
	pthread_mutex_unlock(&r->lock);
	return a;
}

static void
set_authz(struct registry *r, const char *authz)
{
	pthread_mutex_lock(&r->lock);
	if (r->authz)
		explicit_bzero(r->authz, strlen(r->authz));
	free(r->authz);
	r->authz = authz ? xstrdup(authz) : NULL;
	pthread_mutex_unlock(&r->lock);
}

static char *
basic_authz(const char *user, const char *pass)
{
	cleanup_free char *up = xasprintf("%s:%s", user, pass);
	char *b64 = auth_base64_encode(up, strlen(up));
	char *h = xasprintf("Basic %s", b64);

	explicit_bzero(up, strlen(up));
	explicit_bzero(b64, strlen(b64));
	free(b64);
	return h;
}

/*
 * The registry's credentials go to the token realm only over https, or to
 * the registry's own host: never in clear text to a third party.
 */
static bool
realm_may_see_creds(const char *realm, const struct endpoint *ep)
{
	cleanup(curl_url_cleanupp) CURLU *u = curl_url();
	char *host = NULL, *scheme = NULL;
	char eph[256];
	bool ok = false;

	hostname_of(ep->host, eph, sizeof(eph));
	if (u && curl_url_set(u, CURLUPART_URL, realm, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
		ok = !strcasecmp(scheme, "https") || !strcasecmp(host, eph);
	curl_free(host);
	curl_free(scheme);
	return ok;
}

/* A Bearer token from ch's realm; *transient says whether its failure may be retried. */
static int
fetch_token(struct registry *r, const struct endpoint *ep, const struct auth_challenge *ch,
	    const char *scope, bool *transient, struct bk_err *err)
{
	cleanup_free char *user = NULL, *pass = NULL, *url = NULL, *basic = NULL;
	cleanup(curl_easy_cleanupp) CURL *c = curl_easy_init();
	cleanup(json_decrefp) json_t *j = NULL;
	struct xfer x = { .r = r, .c = c, .mem_max = TOKEN_MAX };
	char *esc_service, *esc_scope, *authz;
	const char *tok;
	json_int_t ttl;
	char u[512];
	int ret;

	if (c == NULL)
		abort();
	if (strncasecmp(ch->realm, "http://", 7) && strncasecmp(ch->realm, "https://", 8))
		return bk_err_set(err, EPROTO, "registry %s: token realm '%.200s' is not http(s)",
				  ep->host, ch->realm);
	ret = auth_lookup(r->opts->auth_config, ep->host, &user, &pass, err);
	if (ret < 0)
		return ret;
	if (ret > 0 && realm_may_see_creds(ch->realm, ep))
		basic = basic_authz(user, pass);
	esc_service = curl_easy_escape(c, ch->service, 0);
	esc_scope = curl_easy_escape(c, scope, 0);
	url = xasprintf("%s%sservice=%s&scope=%s", ch->realm, strchr(ch->realm, '?') ? "&" : "?",
			esc_service ? esc_service : "", esc_scope ? esc_scope : "");
	curl_free(esc_service);
	curl_free(esc_scope);
	ret = perform(&x, url, "application/json", basic, err);
	if (basic)
		explicit_bzero(basic, strlen(basic));
	url_for_msg(url, u, sizeof(u));
	if (ret < 0)
		goto out;
	if (x.status == 401 || x.status == 403) {
		ret = bk_err_set(err, EACCES, "registry %s: token service %s refused %s (HTTP %ld)",
				 ep->host, u, basic ? "the credentials" : "anonymous access",
				 x.status);
		goto out;
	}
	if (x.status != 200) {
		ret = status_error(&x, url, err);
		goto out;
	}
	j = json_loadb(x.mem ? x.mem : "", x.mem_len, 0, NULL);
	tok = json_string_value(json_object_get(j, "token"));
	if (tok == NULL || *tok == '\0')
		tok = json_string_value(json_object_get(j, "access_token"));
	if (tok == NULL || *tok == '\0' || strpbrk(tok, "\r\n")) {
		ret = bk_err_set(err, EPROTO, "registry %s: no token from %s", ep->host, u);
		goto out;
	}
	ttl = json_integer_value(json_object_get(j, "expires_in"));
	authz = xasprintf("Bearer %s", tok);
	token_put(ep->host, scope, authz, ttl > 0 ? (long)ttl : 60);
	set_authz(r, authz);
	explicit_bzero(authz, strlen(authz));
	free(authz);
	ret = 0;
out:
	*transient = x.transient;
	if (x.mem)
		explicit_bzero(x.mem, x.mem_len);
	free(x.mem);
	return ret;
}

/* Answer a 401 from ep: a Bearer token, or Basic credentials from the auth config. */
static int
authenticate(struct registry *r, const struct endpoint *ep, const char *challenge,
	     const char *tried, bool *transient, struct bk_err *err)
{
	cleanup_free char *user = NULL, *pass = NULL, *cached = NULL, *basic = NULL;
	struct auth_challenge ch;
	char scope[512], shown[128];
	int ret;

	if (auth_parse_challenge(challenge, &ch) < 0) {
		/* Show what was sent (printable, cut short): the registry's setup is at fault. */
		snprintf(shown, sizeof(shown), "%.127s", challenge);
		for (char *p = shown; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
				*p = '?';
		return bk_err_set(err, EACCES,
				  "registry %s: HTTP 401 without a usable challenge ('%s')",
				  ep->host, shown);
	}
	if (strcmp(ch.scheme, "basic") == 0) {
		if (tried && strncmp(tried, "Basic ", 6) == 0)
			return bk_err_set(err, EACCES, "registry %s: bad credentials", ep->host);
		ret = auth_lookup(r->opts->auth_config, ep->host, &user, &pass, err);
		if (ret < 0)
			return ret;
		if (ret == 0)
			return bk_err_set(err, EACCES,
					  "registry %s: authentication required, and the auth "
					  "config has no credentials for it",
					  ep->host);
		basic = basic_authz(user, pass);
		set_authz(r, basic);
		explicit_bzero(basic, strlen(basic));
		return 0;
	}
	if (ch.scope[0])
		snprintf(scope, sizeof(scope), "%s", ch.scope);
	else
		snprintf(scope, sizeof(scope), "repository:%s:%s", r->ref.path,
			 r->push ? "pull,push" : "pull");
	cached = token_get(ep->host, scope);
	if (cached && (tried == NULL || strcmp(cached, tried) != 0)) {
		set_authz(r, cached);
		return 0;
	}
	token_drop(ep->host, scope);
	return fetch_token(r, ep, &ch, scope, transient, err);
}

/*
 * GET ep's path into x (sink or memory): redirects followed by hand, one
 * answer to a 401.  0 once the final response is 200, else -errno.
 */
static int
request(struct registry *r, const struct endpoint *ep, const char *path, const char *accept,
	struct xfer *x, struct bk_err *err)
{
	/* An upload's Location may be absolute (on the registry's host or not). */
	bool absolute = !strncasecmp(path, "http://", 7) || !strncasecmp(path, "https://", 8);
	cleanup_free char *start = absolute ? xstrdup(path) : xasprintf("%s%s", ep->base, path);
	cleanup_free char *url = xstrdup(start);
	bool answered = false;
	int ret;

	for (int hops = 0;; hops++) {
		cleanup_free char *authz = NULL;
		char *next = NULL;
		bool own = same_origin(url, ep->base);

		if (hops > REDIRECTS_MAX)
			return bk_err_set(err, ELOOP, "GET %s%s: more than %d redirects", ep->base,
					  path, REDIRECTS_MAX);
		if (own)
			authz = current_authz(r);
		ret = perform(x, url, accept, authz, err);
		if (ret < 0)
			return ret;
		if (x->status >= 300 && x->status < 400 && x->status != 304 && x->method &&
		    strcmp(x->method, "HEAD") != 0) {
			char u[512];

			url_for_msg(start, u, sizeof(u));
			return bk_err_set(err, EPROTO, "%s %s: refused redirect (HTTP %ld)",
					  x->method, u, x->status);
		}
		if (x->status >= 300 && x->status < 400 && x->status != 304) {
			curl_easy_getinfo(x->c, CURLINFO_REDIRECT_URL, &next);
			if (next == NULL)
				return bk_err_set(err, EPROTO,
						  "GET %s%s: redirect without a location", ep->base,
						  path);
			if (!strncasecmp(url, "https:", 6) && strncasecmp(next, "https:", 6))
				return bk_err_set(
				    err, EPROTO,
				    "GET %s%s: refused redirect from https to '%.100s'", ep->base,
				    path, next);
			free(url);
			url = xstrdup(next);
			continue;
		}
		if (x->status == 401 && own && !answered) {
			answered = true;
			ret = authenticate(r, ep, x->challenge, authz, &x->transient, err);
			if (ret < 0)
				return ret;
			free(url);
			url = xstrdup(start);
			hops = -1;
			continue;
		}
		if (x->status == 401 && own && answered)
			return bk_err_set(err, EACCES,
					  "registry %s: access denied to %s with the "
					  "credentials given (HTTP 401)",
					  ep->host, r->ref.path);
		if (x->method && x->status >= 200 && x->status < 300)
			return 0;
		if (x->method || (x->status != 200 && !(x->status == 206 && x->offset > 0)))
			return status_error(x, url, err);
		return 0;
	}
}

/* Sleep ms, looking at the cancel flag every 50 ms: 0, or -1 once it is set. */
static int
pause_ms(struct registry *r, long ms)
{
	struct bk_cancel *cancel = r->opts->cancel;

	while (ms > 0) {
		long step = ms < 50 ? ms : 50;
		struct timespec ts = { 0, step * 1000000L };

		if (cancel && atomic_load(&cancel->cancelled))
			return -1;
		nanosleep(&ts, NULL);
		ms -= step;
	}
	return cancel && atomic_load(&cancel->cancelled) ? -1 : 0;
}

/* The pause before attempt+1 after x's failure, or -1: no more tries. */
static long
retry_delay(const struct xfer *x, int attempt)
{
	if (!x->transient || attempt >= ATTEMPTS_MAX)
		return -1;
	if (x->retry_after > RETRY_AFTER_MAX)
		return -1;
	if (x->retry_after >= 0)
		return x->retry_after * 1000;
	return (long)BACKOFF_MS << (attempt - 1);
}

static void __attribute__((format(printf, 2, 3)))
err_append(struct bk_err *err, const char *fmt, ...)
{
	size_t used = strlen(err->msg);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->msg + used, sizeof(err->msg) - used, fmt, ap);
	va_end(ap);
}

/*
 * request() with bounded retries of transient failures (see the top of the
 * file).  In memory, each attempt starts over; a stream resumes where the
 * sink stopped, and one whose every byte arrived before the connection
 * failed is complete (the caller's digest check decides).
 */
static int
request_retry(struct registry *r, const struct endpoint *ep, const char *path, const char *accept,
	      struct xfer *x, struct bk_err *err)
{
	for (int attempt = 1;; attempt++) {
		long delay;
		int ret;

		x->mem_len = 0;
		if (x->mem)
			x->mem[0] = '\0';
		x->offset = x->delivered;
		ret = request(r, ep, path, accept, x, err);
		if (ret == 0)
			return 0;
		if (x->transient && x->sink && x->expect && x->delivered == x->expect)
			return 0;
		delay = retry_delay(x, attempt);
		if (delay < 0) {
			if (x->transient && x->retry_after > RETRY_AFTER_MAX)
				err_append(err, " (asked to retry after %ld s)", x->retry_after);
			else if (attempt > 1)
				err_append(err, " (after %d attempts)", attempt);
			return ret;
		}
		bk_log(BK_LOG_WARN, "registry: %s; attempt %d of %d in %ld ms", err->msg,
		       attempt + 1, ATTEMPTS_MAX, delay);
		if (pause_ms(r, delay) < 0)
			return bk_err_set(err, EINTR, "GET %s%s: interrupted", ep->base, path);
	}
}

/* ---- the public side --------------------------------------------------- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void
curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void
share_lock(CURL *c, curl_lock_data data, curl_lock_access access, void *arg)
{
	struct registry *r = arg;

	(void)c, (void)data, (void)access;
	pthread_mutex_lock(&r->share_lock);
}

static void
share_unlock(CURL *c, curl_lock_data data, void *arg)
{
	struct registry *r = arg;

	(void)c, (void)data;
	pthread_mutex_unlock(&r->share_lock);
}

/* localhost, 127.0.0.0/8, [::1] and the configured hosts are spoken to over http. */
static bool
is_insecure(const char *authority, const char *const *list)
{
	char host[256];

	hostname_of(authority, host, sizeof(host));
	if (!strcasecmp(host, "localhost") || !strncmp(host, "127.", 4) || !strcmp(host, "[::1]"))
		return true;
	for (; list && *list; list++)
		if (!strcasecmp(*list, authority) || !strcasecmp(*list, host))
			return true;
	return false;
}

static void
add_endpoint(struct registry *r, const char *base, const char *host, bool mirror)
{
	struct endpoint *ep;

	r->eps = xrealloc(r->eps, (r->neps + 1) * sizeof(*r->eps));
	ep = &r->eps[r->neps++];
	ep->base = xstrdup(base);
	ep->host = xstrdup(host);
	ep->mirror = mirror;
}

static int
add_mirror(struct registry *r, const char *url, struct bk_err *err)
{
	cleanup(curl_url_cleanupp) CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	cleanup_free char *base = NULL, *authority = NULL;
	int ret = 0;

	if (u == NULL || curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    (strcasecmp(scheme, "http") && strcasecmp(scheme, "https"))) {
		ret = bk_err_set(err, EINVAL, "registry mirror '%.200s': not an http(s) URL", url);
		goto out;
	}
	if (curl_url_get(u, CURLUPART_PORT, &port, 0) != CURLUE_OK)
		port = NULL;
	authority = port ? xasprintf("%s:%s", host, port) : xstrdup(host);
	base = xasprintf("%s://%s", scheme, authority);
	add_endpoint(r, base, authority, true);
out:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	return ret;
}

int
registry_open(const struct image_ref *ref, const struct registry_opts *opts, struct registry **out,
	      struct bk_err *err)
{
	struct registry *r = xcalloc(1, sizeof(*r));
	const char *host = ref_registry_host(ref);
	cleanup_free char *base = NULL;
	const char *env = getenv("BOCKERFS_REGISTRY_TIMEOUT");

	pthread_once(&curl_once, curl_init_once);
	r->opts = opts;
	r->ref = *ref;
	r->timeout_s = opts->timeout_s ? opts->timeout_s : DEFAULT_TIMEOUT;
	/* For tests of stalled registries (docs/tree.md, "pulling"); not a daemon option. */
	if (env && atoi(env) > 0)
		r->timeout_s = (unsigned)atoi(env);
	pthread_mutex_init(&r->lock, NULL);
	pthread_mutex_init(&r->share_lock, NULL);
	r->easy = curl_easy_init();
	r->share = curl_share_init();
	if (r->easy == NULL || r->share == NULL)
		abort();
	curl_share_setopt(r->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(r->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(r->share, CURLSHOPT_USERDATA, r);
	curl_share_setopt(r->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(r->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	r->push = opts->push;
	/* Mirrors serve pulls; a push goes to the registry the reference names. */
	if (strcmp(ref->domain, "docker.io") == 0 && !opts->push)
		for (const char *const *m = opts->mirrors; m && *m; m++)
			if (add_mirror(r, *m, err) < 0) {
				registry_free(r);
				return -err->code;
			}
	base = xasprintf("%s://%s", is_insecure(host, opts->insecure) ? "http" : "https", host);
	add_endpoint(r, base, host, false);
	*out = r;
	return 0;
}

void
registry_free(struct registry *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->neps; i++) {
		free(r->eps[i].base);
		free(r->eps[i].host);
	}
	free(r->eps);
	set_authz(r, NULL);
	curl_easy_cleanup(r->easy);
	curl_share_cleanup(r->share);
	pthread_mutex_destroy(&r->lock);
	pthread_mutex_destroy(&r->share_lock);
	free(r);
}

const char *
registry_endpoint(const struct registry *r)
{
	return r->eps[r->cur].base;
}

uint64_t
registry_requests(const struct registry *r)
{
	return atomic_load(&((struct registry *)r)->requests);
}

/* Before the first request to an endpoint: a token another pull cached, if any. */
static void
preload_token(struct registry *r, const struct endpoint *ep)
{
	char scope[512];
	cleanup_free char *t = NULL;

	snprintf(scope, sizeof(scope), "repository:%s:%s", r->ref.path,
		 r->push ? "pull,push" : "pull");
	t = token_get(ep->host, scope);
	set_authz(r, t);
}

int
registry_get_manifest(struct registry *r, const char *reference, size_t max, char **body,
		      size_t *len, char **content_type, struct bk_err *err)
{
	cleanup_free char *path = xasprintf("/v2/%s/manifests/%s", r->ref.path, reference);
	int ret = -EIO;

	for (size_t i = 0; i < r->neps; i++) {
		struct xfer x = { .r = r, .c = r->easy, .mem_max = max };

		r->cur = i;
		preload_token(r, &r->eps[i]);
		ret = request_retry(r, &r->eps[i], path, MANIFEST_ACCEPT, &x, err);
		if (ret == 0) {
			*body = x.mem ? x.mem : xstrdup("");
			*len = x.mem_len;
			*content_type = xstrdup(x.content_type);
			return 0;
		}
		free(x.mem);
		if (ret == -EINTR || !r->eps[i].mirror)
			break;
		bk_log(BK_LOG_WARN, "registry mirror %s: %s; trying the next", r->eps[i].base,
		       err->msg);
	}
	return ret;
}

int
registry_get_blob(struct registry *r, const char *digest, size_t max, char **body, size_t *len,
		  struct bk_err *err)
{
	cleanup_free char *path = xasprintf("/v2/%s/blobs/%s", r->ref.path, digest);
	struct xfer x = { .r = r, .c = r->easy, .mem_max = max };
	char got[DIGEST_STR_SIZE];
	int ret;

	ret = request_retry(r, &r->eps[r->cur], path, NULL, &x, err);
	if (ret < 0) {
		free(x.mem);
		return ret;
	}
	digest_buf(x.mem ? x.mem : "", x.mem_len, got);
	if (strcmp(got, digest) != 0) {
		free(x.mem);
		return bk_err_set(err, EBADMSG, "blob %s: digest mismatch (got %s)", digest, got);
	}
	*body = x.mem ? x.mem : xstrdup("");
	*len = x.mem_len;
	return 0;
}

int
registry_stream_blob(struct registry *r, const char *digest, uint64_t size, registry_sink sink,
		     void *arg, struct bk_err *err)
{
	cleanup_free char *path = xasprintf("/v2/%s/blobs/%s", r->ref.path, digest);
	cleanup(curl_easy_cleanupp) CURL *c = curl_easy_init();
	struct xfer x = {
		.r = r, .c = c, .sink = sink, .sink_arg = arg, .sink_err = err, .expect = size
	};

	if (c == NULL)
		abort();
	return request_retry(r, &r->eps[r->cur], path, NULL, &x, err);
}

/* ---- pushing ----------------------------------------------------------- */

int
registry_blob_exists(struct registry *r, const char *digest, struct bk_err *err)
{
	cleanup_free char *path = xasprintf("/v2/%s/blobs/%s", r->ref.path, digest);
	struct xfer x = { .r = r, .c = r->easy, .method = "HEAD" };
	int ret;

	preload_token(r, &r->eps[r->cur]);
	ret = request_retry(r, &r->eps[r->cur], path, NULL, &x, err);
	if (ret == -ENOENT) {
		*err = (struct bk_err)BK_ERR_INIT;
		return 0;
	}
	return ret < 0 ? ret : 1;
}

/* An upload's Location made absolute (relative to the registry), its query kept. */
static int
resolve_location(const struct endpoint *ep, const char *loc, char **out, struct bk_err *err)
{
	cleanup(curl_url_cleanupp) CURLU *u = curl_url();
	char *full = NULL;

	if (u == NULL || curl_url_set(u, CURLUPART_URL, ep->base, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_URL, loc, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK)
		return bk_err_set(err, EPROTO, "registry %s: bad upload location '%.200s'",
				  ep->host, loc);
	if (strncasecmp(full, "http://", 7) && strncasecmp(full, "https://", 8)) {
		curl_free(full);
		return bk_err_set(err, EPROTO,
				  "registry %s: upload location '%.200s' is not http(s)", ep->host,
				  loc);
	}
	/* As redirects: a registry spoken to over https never gets a layer in clear text. */
	if (!strncasecmp(ep->base, "https:", 6) && strncasecmp(full, "https:", 6)) {
		curl_free(full);
		return bk_err_set(err, EPROTO,
				  "registry %s: refused upload location from https to '%.100s'",
				  ep->host, loc);
	}
	*out = xstrdup(full);
	curl_free(full);
	return 0;
}

/* One POST (or mount) then PUT; *transient says whether trying again may help. */
static int
upload_once(struct registry *r, const struct registry_upload *up, bool *transient,
	    struct bk_err *err)
{
	const struct endpoint *ep = &r->eps[r->cur];
	struct xfer post = { .r = r, .c = r->easy, .method = "POST" };
	struct xfer put = { .r = r,
			    .c = r->easy,
			    .method = "PUT",
			    .up_fd = up->fd,
			    .up_size = up->size,
			    .up_type = "application/octet-stream",
			    .up_progress = up->progress,
			    .up_arg = up->arg };
	cleanup_free char *path = NULL, *loc = NULL, *url = NULL, *location = NULL;
	char *esc;
	int ret;

	*transient = false;
	if (up->mount_from) {
		char *d = curl_easy_escape(r->easy, up->digest, 0);
		char *f = curl_easy_escape(r->easy, up->mount_from, 0);

		path = xasprintf("/v2/%s/blobs/uploads/?mount=%s&from=%s", r->ref.path, d ? d : "",
				 f ? f : "");
		curl_free(d);
		curl_free(f);
	} else {
		path = xasprintf("/v2/%s/blobs/uploads/", r->ref.path);
	}
	ret = request_retry(r, ep, path, NULL, &post, err);
	location = take_ptr(post.location);
	if (ret < 0)
		return ret;
	if (post.status == 201 && up->mount_from)
		return 1;
	if (post.status != 202 || location == NULL || location[0] == '\0')
		return bk_err_set(
		    err, EPROTO,
		    "POST %s/v2/%s/blobs/uploads/: HTTP %ld without an upload location", ep->base,
		    r->ref.path, post.status);
	if ((ret = resolve_location(ep, location, &loc, err)) < 0)
		return ret;
	esc = curl_easy_escape(r->easy, up->digest, 0);
	url = xasprintf("%s%sdigest=%s", loc, strchr(loc, '?') ? "&" : "?", esc ? esc : "");
	curl_free(esc);
	ret = request(r, ep, url, NULL, &put, err);
	*transient = ret < 0 && put.transient;
	return ret < 0 ? ret : 0;
}

int
registry_blob_upload(struct registry *r, const struct registry_upload *up, struct bk_err *err)
{
	for (int attempt = 1;; attempt++) {
		bool transient;
		int ret = upload_once(r, up, &transient, err);
		struct xfer x = { .r = r, .transient = transient, .retry_after = -1 };
		long delay;

		if (ret >= 0)
			return ret;
		delay = retry_delay(&x, attempt);
		if (delay < 0) {
			if (attempt > 1)
				err_append(err, " (after %d attempts)", attempt);
			return ret;
		}
		bk_log(BK_LOG_WARN, "registry: %s; attempt %d of %d in %ld ms", err->msg,
		       attempt + 1, ATTEMPTS_MAX, delay);
		if (pause_ms(r, delay) < 0)
			return bk_err_set(err, EINTR, "upload %s: interrupted", up->digest);
	}
}

int
registry_put_manifest(struct registry *r, const char *reference, const char *body, size_t len,
		      const char *media_type, struct bk_err *err)
{
	cleanup_free char *path = xasprintf("/v2/%s/manifests/%s", r->ref.path, reference);
	struct xfer x = { .r = r,
			  .c = r->easy,
			  .method = "PUT",
			  .up_mem = body,
			  .up_size = len,
			  .up_type = media_type };

	preload_token(r, &r->eps[r->cur]);
	return request_retry(r, &r->eps[r->cur], path, NULL, &x, err);
}

static char **
strv_dup(const char *const *v)
{
	size_t n = 0;
	char **out;

	while (v && v[n])
		n++;
	out = xcalloc(n + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

void
registry_config_init(struct registry_config *c, const char *const *mirrors,
		     const char *const *insecure, const char *auth_config)
{
	registry_config_free(c);
	c->mirrors = strv_dup(mirrors);
	c->insecure = strv_dup(insecure);
	c->auth_config = auth_config ? xstrdup(auth_config) : NULL;
}

void
registry_config_free(struct registry_config *c)
{
	strv_free(c->mirrors);
	strv_free(c->insecure);
	free(c->auth_config);
	*c = (struct registry_config){ 0 };
}
