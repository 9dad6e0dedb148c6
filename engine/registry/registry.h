/*
 * registry.h: the client side of the distribution API (libcurl), and the
 * authentication it needs (auth.c): WWW-Authenticate challenges, Bearer
 * tokens, Basic credentials from a docker-style config.json.
 *
 * Credentials and tokens go only to the host they belong to: redirects are
 * followed here, not by libcurl, and the Authorization header is dropped as
 * soon as a redirect leaves the registry's scheme, host and port.
 */
#ifndef BK_REGISTRY_H
#define BK_REGISTRY_H

#include "common/compiler.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bocker.h"
#include "parse/parse.h"

/* ---- auth.c: pure parsing, and the config file ------------------------- */

struct auth_challenge {
	char scheme[16]; /* "bearer" or "basic", lower case */
	char realm[1024];
	char service[256];
	char scope[512];
	char error[64];
};

/*
 * Parse one WWW-Authenticate header value (RFC 7235: one or more challenges,
 * each a scheme and comma-separated auth-params, values tokens or quoted
 * strings).  The Bearer challenge wins over Basic; others are ignored.
 * Returns 0, or -EINVAL if there is no Bearer or Basic challenge or the
 * syntax is broken.
 */
must_check int auth_parse_challenge(const char *header, struct auth_challenge *out);

/* Standard base64 (RFC 4648) with padding; caller frees. */
char *auth_base64_encode(const void *data, size_t len);
/* Decode standard base64, padding optional.  Returns length, -EINVAL if malformed; caller frees
 * *out. */
long auth_base64_decode(const char *s, unsigned char **out);

/*
 * Credentials for registry host (as contacted: "registry-1.docker.io",
 * "localhost:5000") from the docker config.json at path: "auths" entries
 * keyed "host", "https://host", "http://host/v1/" and so on, with "auth" =
 * base64("user:password") or "username"/"password".  Docker Hub's entry is
 * "https://index.docker.io/v1/".  Returns 1 with *user and *pass set (caller frees),
 * 0 when the file has none for host, -errno if the file is unreadable or
 * malformed (a missing file is 0).
 */
must_check int auth_lookup(const char *path, const char *host, char **user, char **pass,
			   struct bk_err *err);

/* ---- registry.c -------------------------------------------------------- */

/* The daemon's registry settings (bk_engine_opts), owned copies. */
struct registry_config {
	char **mirrors;  /* NULL-terminated, may be NULL */
	char **insecure; /* NULL-terminated, may be NULL */
	char *auth_config;
};
void registry_config_init(struct registry_config *c, const char *const *mirrors,
			  const char *const *insecure, const char *auth_config);
void registry_config_free(struct registry_config *c);

struct registry_opts {
	const char *const *mirrors;  /* Docker Hub mirrors, NULL-terminated, may be NULL */
	const char *const *insecure; /* "HOST[:PORT]" spoken to over http, may be NULL */
	const char *auth_config;     /* docker config.json, may be NULL */
	struct bk_cancel *cancel;    /* polled by every transfer, may be NULL */
	unsigned timeout_s;          /* connect timeout and longest stall; 0: 30 s */
	bool push;                   /* a client that pushes: no mirrors, tokens for pull,push */
};

struct registry;

/*
 * A client for ref's repository: its registry, and for Docker Hub the mirrors
 * before it.  Contacts nothing yet.  The options are borrowed for the life of
 * *out.  Free with registry_free.
 */
must_check int registry_open(const struct image_ref *ref, const struct registry_opts *opts,
			     struct registry **out, struct bk_err *err);
void registry_free(struct registry *r);

/* "https://registry-1.docker.io" or the mirror in use (borrowed). */
const char *registry_endpoint(const struct registry *r);

/*
 * GET the manifest named reference (a tag or a digest), at most max bytes,
 * trying each endpoint in order until one has it; that endpoint then serves
 * the blobs.  *body (NUL-terminated) and *content_type: caller frees.
 * Errors: ENOENT (404), EACCES (401/403), ECONNREFUSED, EHOSTUNREACH,
 * ETIMEDOUT (stalled), ECONNRESET (dropped), EIO (HTTP 5xx), EAGAIN (429),
 * EPROTO (other statuses, TLS), EFBIG, EINTR.  Every GET here retries
 * transient failures a few times (registry.c, "Retries").
 */
must_check int registry_get_manifest(struct registry *r, const char *reference, size_t max,
				     char **body, size_t *len, char **content_type,
				     struct bk_err *err);

/* GET a small blob into memory, at most max bytes, its sha256 checked (EBADMSG). */
must_check int registry_get_blob(struct registry *r, const char *digest, size_t max, char **body,
				 size_t *len, struct bk_err *err);

/*
 * Stream a blob of size bytes (as the manifest says; 0 if unknown): sink
 * gets its bytes in order, each once, and returns 0, or -errno to stop the
 * transfer (that error is returned, with err as the sink left it).  A
 * transfer that breaks resumes where it stopped (Range), unseen by the sink.
 * The caller checks the digest.  Safe to call from several threads at once
 * on one registry.
 */
typedef int (*registry_sink)(void *arg, const void *data, size_t len, struct bk_err *err);
must_check int registry_stream_blob(struct registry *r, const char *digest, uint64_t size,
				    registry_sink sink, void *arg, struct bk_err *err);

/* ---- pushing (opts.push set) ---- */

/* HEAD the blob in this repository: 1 if there, 0 if not (404), or -errno. */
must_check int registry_blob_exists(struct registry *r, const char *digest, struct bk_err *err);

struct registry_upload {
	const char *digest; /* "sha256:..." */
	uint64_t size;
	int fd;                 /* its bytes, read with pread from offset 0 */
	const char *mount_from; /* a repository of the same registry that has it, or NULL */
	void (*progress)(void *arg, uint64_t done, uint64_t total);
	void *arg;
};

/*
 * Give the repository a blob: mounted from mount_from when the registry
 * offers it (returns 1), else POST for an upload session and one
 * monolithic PUT to its Location (relative or absolute, its query kept)
 * with ?digest= (returns 0).  Transient failures start over, as GETs are
 * retried.  -errno as registry_get_manifest, for the methods used.
 */
must_check int registry_blob_upload(struct registry *r, const struct registry_upload *up,
				    struct bk_err *err);

/* PUT the manifest body under reference (a tag or its digest), with its media type. */
must_check int registry_put_manifest(struct registry *r, const char *reference, const char *body,
				     size_t len, const char *media_type, struct bk_err *err);

/* Requests made so far (all endpoints, redirects and token fetches included). */
uint64_t registry_requests(const struct registry *r);

#endif
