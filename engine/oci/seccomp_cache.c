/*
 * Compiled seccomp programs, kept under the state root by the digest of the
 * config's linux.seccomp: callers give every container the same profile
 * (containers-common's for podman, Docker's), and libseccomp takes tens of
 * milliseconds to compile one (podman's: 30 ms of a 55 ms create), which
 * is then the largest part of a create.
 *
 * <root>/.seccomp/<sha256>.bpf holds the program as seccomp_program() made
 * it (the ENOSYS stub and libseccomp's filter).  The key covers the
 * canonical JSON of linux.seccomp, libseccomp's version (what it knows of
 * syscalls decides the stub and the names it resolves) and KEY_VERSION
 * (bumped when the compilation here changes).  The directory is root's,
 * under the root-only state root, like the containers' records; a file that
 * is not a regular file of root's, or not a whole program, is compiled
 * again.  Entries are written whole and renamed in; a failure to keep one
 * costs only the next create's time.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "oci/oci.h"
#include "base/base.h"
#include "proc/proc.h"

#define CACHE_DIR   ".seccomp"
#define KEY_VERSION "1"

/* "<64 hex>.bpf" for linux.seccomp of the config in raw, or -ENOENT if it has none. */
static int
cache_name(const char *raw, size_t len, char *name, size_t size)
{
	cleanup(json_decrefp) json_t *j = json_loadb(raw, len, 0, NULL);
	json_t *s = json_object_get(json_object_get(j, "linux"), "seccomp");
	const struct scmp_version *v = seccomp_version();
	cleanup_free char *canon = NULL, *keyed = NULL;
	char digest[DIGEST_STR_SIZE];

	if (!json_is_object(s) || v == NULL)
		return -ENOENT;
	canon = json_dumps(s, JSON_COMPACT | JSON_SORT_KEYS);
	if (canon == NULL)
		return -ENOMEM;
	keyed = xasprintf("bockerfs-seccomp %s libseccomp %u.%u.%u arch %u\n%s", KEY_VERSION,
			  v->major, v->minor, v->micro, seccomp_arch_native(), canon);
	digest_buf(keyed, strlen(keyed), digest);
	snprintf(name, size, "%s.bpf", digest_hex(digest));
	return 0;
}

static int
open_cache(const struct bk_runtime *rt, bool make)
{
	cleanup_close int sfd = open(rt->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (sfd < 0)
		return -errno;
	if (make && mkdirat(sfd, CACHE_DIR, 0700) < 0 && errno != EEXIST)
		return -errno;
	return openat(sfd, CACHE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

/* A kept program: 0 with *bytes (caller frees) and *ninsns, or -ENOENT. */
static int
cache_get(const struct bk_runtime *rt, const char *name, char **bytes, size_t *ninsns)
{
	cleanup_close int dfd = open_cache(rt, false);
	size_t len;

	if (dfd < 0 ||
	    read_file_root(dfd, name, 077, (size_t)BPF_MAXINSNS * sizeof(struct sock_filter), bytes,
			   &len, NULL) < 0)
		return -ENOENT;
	if (len == 0 || len % sizeof(struct sock_filter) != 0) {
		free(*bytes);
		*bytes = NULL;
		return -ENOENT;
	}
	*ninsns = len / sizeof(struct sock_filter);
	return 0;
}

static void
cache_put(const struct bk_runtime *rt, const char *name, const char *bytes, size_t ninsns)
{
	struct bk_err err = BK_ERR_INIT;
	cleanup_close int dfd = open_cache(rt, true);

	if (dfd < 0 ||
	    write_file_replace(dfd, name, bytes, ninsns * sizeof(struct sock_filter), &err) < 0)
		bk_log(BK_LOG_DEBUG, "seccomp: not kept: %s", dfd < 0 ? strerror(-dfd) : err.msg);
}

int
oci_seccomp_program(const struct bk_runtime *rt, const struct oci_spec *spec, const char *raw,
		    size_t len, char **bytes, size_t *ninsns, struct bk_err *err)
{
	char name[80];
	bool keyed = cache_name(raw, len, name, sizeof(name)) == 0;

	if (keyed && cache_get(rt, name, bytes, ninsns) == 0)
		return 0;
	if (oci_seccomp_build(&spec->seccomp, bytes, ninsns, err) < 0)
		return -err->code;
	if (keyed)
		cache_put(rt, name, *bytes, *ninsns);
	return 0;
}
