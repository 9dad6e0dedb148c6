/*
 * oci_json.h: what the files of the config.json parser share, and nothing
 * else includes (the public header is oci_spec.h).  The parser is split by
 * the parts of the document:
 *
 *   oci_spec.c          the whole config: ociVersion, root, hooks, annotations,
 *                       hostname; oci_spec_parse/free; ids and signals
 *   oci_process.c       process: args, env, user, capabilities, rlimits;
 *                       oci_process_parse/free, oci_cap_parse
 *   oci_mounts.c        mounts and their options, propagation names
 *   oci_linux.c         linux: namespaces, id mappings, resources, sysctl,
 *                       devices, masked and read-only paths, rootfsPropagation
 *   oci_seccomp_spec.c  linux.seccomp
 *   oci_json.c          loading the document; reading its members checked and
 *                       bounded, with messages that name the field
 *
 * Names here are oj_ so as not to meet anything else in libbocker.a.
 *
 * Every reader takes the JSON path of the object it reads from (at: "",
 * "process", "linux.resources.memory", "mounts[3]") and the member's key,
 * and a failure is -EINVAL with err saying "at.key: what is wrong".  The
 * parsers of the parts fill the caller's struct as they go: on failure what
 * they filled stays there, for oci_spec_free or oci_process_free.
 */
#ifndef BK_PARSE_OCI_JSON_H
#define BK_PARSE_OCI_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

#include "parse/oci_spec.h"
#include "base/base.h"

#define AT_MAX     192          /* a field's path: "linux.seccomp.syscalls[12].args[3].op" */
#define SHOWN_SIZE 72           /* a value quoted in a message, cut to 60 bytes */
#define ID_MAX     4294967294LL /* uid_t and gid_t; (uid_t)-1 means "no change" to the kernel */

/* ---- messages (oci_json.c) ------------------------------------------------------------------- */

/* s for a message in buf: at most 60 bytes, control characters and quotes as '?'.  Returns buf. */
const char *oj_shown(const char *s, char buf[SHOWN_SIZE]);

/* Fills err with "at.key: what"; key NULL: at is the whole path.  Returns -EINVAL. */
int oj_bad(struct bk_err *err, const char *at, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* buf, ending in "..." if snprintf's n says the path did not fit. */
const char *oj_cut(char buf[AT_MAX], int n);

/* "at.key" in buf; returns buf. */
const char *oj_sub(char buf[AT_MAX], const char *at, const char *key);

/* "at.key[i]", or "at[i]" without a key, in buf; returns buf. */
const char *oj_idx(char buf[AT_MAX], const char *at, const char *key, size_t i);

/* ---- the document (oci_json.c) --------------------------------------------------------------- */

/*
 * The JSON object in json (len bytes, at most OCI_SPEC_MAX), in *out for the
 * caller to json_decref.  Returns 0, -E2BIG, or -EINVAL (not JSON, duplicate
 * keys, not an object); what names the document in messages.
 */
must_check int oj_load(const char *json, size_t len, const char *what, json_t **out,
		       struct bk_err *err);

/* ---- members (oci_json.c) -------------------------------------------------------------------- */

/* o's member key, NULL if absent or null (Go writes unset pointers so); borrowed. */
json_t *oj_member(const json_t *o, const char *key);

/* null, [], {}, 0, false, "", or an object of only empty members: an unset Go struct. */
bool oj_is_empty(json_t *v);

/* -EINVAL naming the first of keys (n of them) that is not empty, else 0. */
must_check int oj_refuse(const json_t *o, const char *at, const char *const *keys, size_t n,
			 struct bk_err *err);

/* -EINVAL if key is set to anything but 0, else 0. */
must_check int oj_refuse_nonzero(const json_t *o, const char *at, const char *key,
				 struct bk_err *err);

/* 0 if v is a string of at most OCI_STRING_MAX bytes without a NUL byte, else -EINVAL. */
must_check int oj_str_ok(const json_t *v, const char *at, const char *key, struct bk_err *err);

/* 0 with *out = v's value if v is an integer in min..max, else -EINVAL. */
must_check int oj_int_ok(const json_t *v, const char *at, const char *key, int64_t min, int64_t max,
			 int64_t *out, struct bk_err *err);

/*
 * The getters return 1 and fill *out if the member is set, 0 if it is absent
 * (*out untouched), or -EINVAL.  The req_ ones fail on an absent member too.
 * Strings are the caller's to free; arrays and objects are borrowed from o,
 * and hold at most OCI_LIST_MAX entries.  A uint64 member takes every
 * integer, a negative one as its two's complement (oj_load reads numbers
 * above INT64_MAX so).
 */
must_check int oj_get_str(const json_t *o, const char *at, const char *key, char **out,
			  struct bk_err *err);
must_check int oj_req_str(const json_t *o, const char *at, const char *key, char **out,
			  struct bk_err *err);
must_check int oj_get_bool(const json_t *o, const char *at, const char *key, bool *out,
			   struct bk_err *err);
must_check int oj_get_int(const json_t *o, const char *at, const char *key, int64_t min,
			  int64_t max, int64_t *out, struct bk_err *err);
must_check int oj_req_int(const json_t *o, const char *at, const char *key, int64_t min,
			  int64_t max, int64_t *out, struct bk_err *err);
must_check int oj_get_u64(const json_t *o, const char *at, const char *key, uint64_t *out,
			  struct bk_err *err);
must_check int oj_req_u64(const json_t *o, const char *at, const char *key, uint64_t *out,
			  struct bk_err *err);
must_check int oj_get_array(const json_t *o, const char *at, const char *key, json_t **out,
			    struct bk_err *err);
must_check int oj_get_object(const json_t *o, const char *at, const char *key, json_t **out,
			     struct bk_err *err);

/* A check of one string of a vector: 0, or -EINVAL naming at. */
typedef int (*oj_str_check)(const char *s, const char *at, struct bk_err *err);

/*
 * An array of strings, each passing check (if any), as a NULL-terminated
 * vector, empty if absent.  Returns 0 or -EINVAL; *out is set first, and the
 * caller frees it (strv_free) on failure too.
 */
must_check int oj_get_strv(const json_t *o, const char *at, const char *key, oj_str_check check,
			   char ***out, struct bk_err *err);

/* String checks for oj_get_strv: an absolute path; "NAME=VALUE". */
must_check int oj_check_abs(const char *s, const char *at, struct bk_err *err);
must_check int oj_check_env(const char *s, const char *at, struct bk_err *err);

/* The index of s in names (n of them), or -1. */
int oj_lookup(const char *const *names, size_t n, const char *s);

/* ---- the parts of the document --------------------------------------------------------------- */

/* process (oci_process.c); at is "process" in a config, "" for exec's process JSON. */
must_check int oj_parse_process(const json_t *p, const char *at, struct oci_process *out,
				struct bk_err *err);

/* mounts (oci_mounts.c). */
must_check int oj_parse_mounts(const json_t *root, struct oci_spec *s, struct bk_err *err);

/* MS_PRIVATE... (| MS_REC) for "private", "rslave"...: 0 with *out set, or -1 (oci_mounts.c). */
int oj_propagation_of(const char *s, unsigned long *out);

/* linux, seccomp included (oci_linux.c); what it filled is freed by oj_linux_free. */
must_check int oj_parse_linux(const json_t *root, struct oci_spec *s, struct bk_err *err);
void oj_linux_free(struct oci_spec *s);

/* linux.seccomp (oci_seccomp_spec.c), from the linux object l. */
must_check int oj_parse_seccomp(const json_t *l, struct oci_spec *s, struct bk_err *err);
void oj_seccomp_free(struct oci_seccomp *sc);

#endif
