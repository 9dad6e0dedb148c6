/*
 * parse.h: pure parsers and formatters of what users and registries send:
 * image references and platforms (ref.c), manifests, indexes and image
 * configs (manifest.c), Dockerfiles (dockerfile.c), resource limits and
 * their cgroup files (limits.c).  No I/O, no state; each is fuzzed
 * (tests/fuzz).  Uses base/ and bocker.h only.
 */
#ifndef BK_PARSE_H
#define BK_PARSE_H

/* ---- ref ------------------------------------------------------------------------------------- */
/*
 * ref.h: image references ("busybox", "quay.io/org/app:v1@sha256:...") and
 * platforms ("linux/arm64/v8"), parsed and normalised the way Docker does
 * (github.com/distribution/reference).  Pure: no I/O, no allocation.
 */
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

/* ---- manifest -------------------------------------------------------------------------------- */
/*
 * manifest.h: the image's JSON documents as registries serve them (Docker
 * v2 schema 2 and OCI manifests, Docker manifest lists and OCI indexes, image
 * configs), parsed with jansson into the few fields a pull needs.  Pure: no
 * I/O.  Every document is untrusted: sizes are capped, digests checked
 * against the only grammar accepted (sha256:<64 lower hex>).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "base/base.h"

struct bk_err;

#define MANIFEST_MAX        (4u << 20)  /* a manifest or index larger than this is refused */
#define CONFIG_MAX          (16u << 20) /* an image config larger than this is refused */
#define MANIFEST_LAYERS_MAX 512         /* more layers than btrfs snapshots should chain */

/* The Accept header a pull sends: every type parsed here, schema 1 last so it can be named. */
#define MANIFEST_ACCEPT                                               \
	"application/vnd.oci.image.index.v1+json, "                   \
	"application/vnd.docker.distribution.manifest.list.v2+json, " \
	"application/vnd.oci.image.manifest.v1+json, "                \
	"application/vnd.docker.distribution.manifest.v2+json, "      \
	"application/vnd.docker.distribution.manifest.v1+prettyjws;q=0.1"

enum manifest_kind {
	MANIFEST_UNKNOWN,
	MANIFEST_IMAGE, /* Docker v2 schema 2 or OCI image manifest */
	MANIFEST_INDEX, /* Docker manifest list or OCI index */
	MANIFEST_SCHEMA1,
};

enum layer_comp { LAYER_TAR, LAYER_GZIP, LAYER_ZSTD };

struct manifest_layer {
	char digest[DIGEST_STR_SIZE]; /* of the compressed blob */
	uint64_t size;                /* of the compressed blob, as the manifest says */
	enum layer_comp comp;
};

struct manifest {
	char config_digest[DIGEST_STR_SIZE];
	uint64_t config_size;
	struct manifest_layer *layers; /* owned */
	size_t nlayers;
};

/*
 * What kind of document body is: its own mediaType field first, then the
 * Content-Type the registry sent (may be NULL), then its shape.  Returns 0,
 * or -EBADMSG if body is not a JSON object; an unknown kind is EPROTO.
 */
int manifest_kind(const char *body, size_t len, const char *content_type, enum manifest_kind *out,
		  struct bk_err *err);

/* Parse an image manifest.  EBADMSG malformed, EPROTO unsupported media or digest type. */
int manifest_parse(const char *body, size_t len, struct manifest *out, struct bk_err *err);
void manifest_free(struct manifest *m);

/*
 * Pick from an index the manifest for want (os, arch, optional variant):
 * digest_out gets its digest.  ENOENT, naming the platforms the index has,
 * when none matches.
 */
int manifest_index_select(const char *body, size_t len, const struct platform *want,
			  char digest_out[DIGEST_STR_SIZE], struct bk_err *err);

/* The platform this machine runs: linux and the OCI name of uname's machine. */
void platform_host(struct platform *out);

/*
 * Parse an image config: *config_out gets the whole object (caller decrefs),
 * diff_ids the uncompressed layer digests in order (caller frees the array;
 * the strings live inside *config_out).  EBADMSG when malformed or when the
 * number of diff ids is not nlayers.
 */
int manifest_config_parse(const char *body, size_t len, size_t nlayers, json_t **config_out,
			  const char ***diff_ids, struct bk_err *err);

/* The strings of a JSON array (an image config's Env, Cmd...), NULL-terminated, *n of them. */
char **json_strv(json_t *arr, size_t *n);

/*
 * The chain id of a layer (OCI image spec, config.md): its diff id for the
 * first layer, else sha256 of "PARENT_CHAIN_ID DIFF_ID".  parent may be NULL.
 */
void manifest_chain_id(const char *parent, const char *diff_id, char out[DIGEST_STR_SIZE]);

/* ---- dockerfile ------------------------------------------------------------------------------ */
/*
 * dockerfile.h: the Dockerfile subset bockerfs builds, parsed and expanded.
 *
 * Pure: no I/O.  dockerfile_parse() splits the text into instructions (line
 * continuations, comments, the escape directive, exec form against shell
 * form, flags) and rejects what is not supported; dockerfile_expand() then
 * substitutes ${VAR} and $VAR in the instructions Docker substitutes them in,
 * with the scoping Docker gives ARG and ENV, given the base image's Env.
 * Every error is EINVAL with "line N: ..." in err.
 */
#include <stdbool.h>
#include <stddef.h>

struct bk_err;

#define DF_TEXT_MAX   (1u << 20) /* largest Dockerfile accepted */
#define DF_INSTR_MAX  1024       /* instructions in one Dockerfile */
#define DF_EXPAND_MAX (4u << 20) /* bytes made by substitution, EXPOSE ranges, RUN's args */
#define DF_NEST_MAX   32         /* ${A:-${B:-...}} levels */

enum df_op {
	DF_FROM,
	DF_ARG,
	DF_RUN,
	DF_COPY,
	DF_ADD,
	DF_ENV,
	DF_WORKDIR,
	DF_USER,
	DF_CMD,
	DF_ENTRYPOINT,
	DF_LABEL,
	DF_EXPOSE,
	DF_VOLUME,
};

/* One instruction as written. */
struct df_instr {
	enum df_op op;
	int line;    /* where it starts, from 1 */
	char *text;  /* "RUN a && b", continuations joined, for "Step N/M : ..." */
	char *rest;  /* the arguments after the keyword and the flags, trimmed */
	bool json;   /* rest is a JSON array of strings, in argv */
	char **argv; /* json only: its strings, NULL-terminated */
	size_t argc;
	char *chown; /* COPY/ADD --chown=, NULL if absent (not expanded yet) */
	char *chmod; /* COPY/ADD --chmod=, NULL if absent */
};

struct dockerfile {
	struct df_instr *v;
	size_t n;
	char escape; /* '\\', or '`' after "# escape=`" */
};

/*
 * One instruction after substitution.  argv (NULL-terminated) by op:
 *   FROM                 the image ("scratch" for none)
 *   ARG                  "NAME=VALUE", or "NAME" when it has no default
 *   ENV, LABEL           "KEY=VALUE" per pair, in order
 *   RUN, CMD, ENTRYPOINT exec form: the JSON array; shell form: one command line
 *   COPY, ADD            the sources (cleaned, relative to the context), then the destination
 *   WORKDIR, USER        the value
 *   EXPOSE               "PORT/PROTO" per port, ranges expanded
 *   VOLUME               the paths (absolute)
 */
struct df_step {
	enum df_op op;
	int line;
	const char *text; /* borrowed from the struct dockerfile */
	bool exec_form;
	char **argv;
	size_t argc;
	char *chown, *chmod; /* COPY/ADD, expanded; NULL if absent */
	/* RUN: the build arguments it sees in its environment ("NAME=VALUE"), NULL-terminated */
	char **env;
	size_t nenv;
};

struct df_plan {
	struct df_step *v; /* one per instruction, in order */
	size_t n;
};

/*
 * Parse text (len bytes).  Fails with EINVAL and "line N: ..." on an unknown
 * or unsupported instruction (HEALTHCHECK, ONBUILD, SHELL, ...), an
 * instruction before FROM other than ARG, a second FROM, a missing argument,
 * an unsupported flag, an unterminated quote or ${, or no FROM at all.  On
 * failure out is left empty.
 */
int dockerfile_parse(const char *text, size_t len, struct dockerfile *out, struct bk_err *err);
void dockerfile_free(struct dockerfile *df);

/*
 * The image FROM names, with the ARGs declared before it substituted; caller
 * frees *image.  EINVAL if it expands to nothing or to more than a name.
 */
int dockerfile_base(const struct dockerfile *df, char **image, struct bk_err *err);

/*
 * Substitute variables in every instruction: ARG defaults (those before FROM
 * only in FROM, unless declared again after it), then ENV, over base_env
 * (the base image's "KEY=VALUE" Env, NULL-terminated, may be NULL), each
 * instruction seeing the values before it.  Also checks what needs the
 * values: argument counts, ENV/LABEL/ARG pairs, EXPOSE ports, and COPY/ADD
 * sources, which must stay inside the context ("../x" is EINVAL) and must not
 * be URLs; and that what the instructions expand to stays within
 * DF_EXPAND_MAX bytes in all ("ENV A=$A$A" doubles A) and substitutions
 * within DF_NEST_MAX levels.  On failure out is left empty.
 */
int dockerfile_expand(const struct dockerfile *df, const char *const *base_env, struct df_plan *out,
		      struct bk_err *err);
void dockerfile_plan_free(struct df_plan *plan);

/* "FROM", "RUN", ... (static). */
const char *dockerfile_op_name(enum df_op op);

/*
 * Clean a context-relative path lexically: leading '/', '.' and empty
 * components dropped, ".." taking one off.  Returns a new string ("." for
 * the context itself), or NULL if it climbs out of the context.
 */
char *dockerfile_clean_path(const char *path);

/* ---- limits ---------------------------------------------------------------------------------- */
/*
 * limits.h: resource limits, parsed and mapped to cgroup files (pure).
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bocker.h"

/* LIMIT_PIDS_DEFAULT: a new container's pids limit unless the daemon says otherwise. */
#define LIMIT_MAX          (-1)
#define LIMIT_PIDS_DEFAULT 2048

struct limits {
	int64_t memory;     /* bytes, LIMIT_MAX: unlimited */
	int64_t cpu_shares; /* 0: the default (1024) */
	int64_t cpus_milli; /* thousandths of a CPU, 0: unlimited */
	int64_t pids;       /* LIMIT_MAX: unlimited */
	/*
	 * Memory plus swap, as docker's --memory-swap: bytes (at least memory),
	 * LIMIT_MAX: swap unlimited, 0: the default, twice memory (docker's).
	 */
	int64_t memory_swap;
};

enum cgroup_mode { CGROUP_V1, CGROUP_V2 };

struct cgroup_setting {
	const char *controller;
	const char *file;
	char value[48];
};

void limits_init(struct limits *l);
int limits_parse_line(const char *line, struct limits *l, long ncpu, struct bk_err *err);
int limits_parse(const char *text, struct limits *l, long ncpu, struct bk_err *err);
int limits_format(const struct limits *l, char *buf, size_t size);
uint64_t limits_shares_to_weight(uint64_t shares);
uint64_t limits_weight_to_shares(uint64_t weight);
/* swap: the kernel accounts swap (v1 memory.memsw.*, v2 memory.swap.max exist). */
int limits_to_files(const struct limits *l, enum cgroup_mode mode, bool swap,
		    struct cgroup_setting *out, size_t max);

/* ---- mounts ---------------------------------------------------------------------------------- */
/*
 * mounts.h: a container's mounts ("bind SRC DST [ro]", "volume NAME DST [ro]",
 * "tmpfs DST [SIZE]"), parsed, checked and rendered (pure).
 */
#define MOUNTS_MAX      64
#define MOUNT_PATH_MAX  1024
#define VOLUME_NAME_MAX 128

enum mount_kind { MOUNT_BIND, MOUNT_VOLUME, MOUNT_TMPFS };

struct mount_spec {
	enum mount_kind kind;
	char *source;  /* bind: an absolute host path; volume: its name; tmpfs: NULL */
	char *target;  /* an absolute path in the container, one spelling, no "." or ".." */
	bool ro;       /* bind, volume: read-only (recursively) */
	uint64_t size; /* tmpfs: bytes, 0: the kernel's default */
};

must_check int mounts_parse(const char *text, struct mount_spec **out, size_t *n,
			    struct bk_err *err);
char *mounts_format(const struct mount_spec *m, size_t n);
void mounts_free(struct mount_spec *m, size_t n);
bool mount_volume_name_ok(const char *name);
/* Docker's name rule for containers and volumes: [A-Za-z0-9][A-Za-z0-9_.-], 1 to max bytes. */
bool name_ok(const char *name, size_t max);
/* Is the absolute path equal to dir, or below it ("/" holds everything)? */
bool path_within(const char *path, const char *dir);

/* ---- restart -------------------------------------------------------------------------------- */
/*
 * restart.h: restart policies (docker run --restart), parsed, rendered and
 * decided (pure).
 */
enum restart_mode { RESTART_NO, RESTART_ON_FAILURE, RESTART_ALWAYS, RESTART_UNLESS_STOPPED };

struct restart_policy {
	enum restart_mode mode;
	int max; /* on-failure: at most this many restarts, 0: no limit */
};

must_check int restart_parse(const char *s, struct restart_policy *out, struct bk_err *err);
void restart_format(const struct restart_policy *p, char *buf, size_t size);
/* After an exit: start it again?  failed: not "exit 0"; by_user: a stop, kill or rm. */
bool restart_wanted(const struct restart_policy *p, bool failed, bool by_user, int count);

#endif
