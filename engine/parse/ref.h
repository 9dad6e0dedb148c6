/*
 * ref.h: image references ("busybox", "quay.io/org/app:v1@sha256:...") and
 * platforms ("linux/arm64/v8"), parsed and normalised the way Docker does
 * (github.com/distribution/reference).  Pure: no I/O, no allocation.
 */
#ifndef BK_REF_H
#define BK_REF_H

#include <stdbool.h>
#include <stddef.h>

struct bk_err;

#define REF_INPUT_MAX 1024 /* longest reference string accepted */
#define REF_PATH_MAX  255  /* distribution's RepositoryNameTotalLengthMax */
#define REF_TAG_MAX   128

struct image_ref {
	char domain[256]; /* "docker.io", "localhost:5000", "quay.io" */
	char path[256];   /* "library/busybox", "x/y" */
	char tag[129];    /* "latest" when there is no digest; "" if digest only */
	char digest[72];  /* "sha256:<64 hex>" or "" */
};

/*
 * Parse and normalise s: "busybox" becomes docker.io, library/busybox, tag
 * latest.  Returns 0, or -EINVAL with err saying what is wrong; out is
 * written only on success.
 */
int ref_parse(const char *s, struct image_ref *out, struct bk_err *err);

/*
 * Docker's short form, without "docker.io/" and "library/": "busybox:latest",
 * "quay.io/x/y:t", "busybox@sha256:...", "busybox:1.36@sha256:...".
 * Both formatters return the length written, or -ENAMETOOLONG if buf (size
 * bytes, NUL included) is too small.
 */
int ref_format_familiar(const struct image_ref *r, char *buf, size_t size);
/* Fully qualified: "docker.io/library/busybox:latest". */
int ref_format_full(const struct image_ref *r, char *buf, size_t size);

/* Registry host to contact: "registry-1.docker.io" for docker.io, else the domain (borrowed). */
const char *ref_registry_host(const struct image_ref *r);

/* True if s is "sha256:" and 64 lower-case hex digits, the only digest accepted. */
bool ref_digest_valid(const char *s);

struct platform {
	char os[32];
	char arch[32];
	char variant[32]; /* "" if none */
};

/*
 * Parse "os/arch[/variant]" such as "linux/arm64/v8", lower-cased as
 * containerd does.  Returns 0, or -EINVAL; out is written only on success.
 */
int platform_parse(const char *s, struct platform *out, struct bk_err *err);

#endif
