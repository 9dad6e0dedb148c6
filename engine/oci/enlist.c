/*
 * A runtime container's entry in a bockerfs store, so that the daemon on
 * that store shows it in its tree (its ops/foreign.c reads it), and the next
 * daemon to start there finds it.  The entry is a pointer, not a record:
 * <store>/runtime/<key>.json holds the state root, the id and the boot, and the daemon
 * reads the container's state.json there.  Each verb that changes what the
 * daemon shows (create, start, pause, resume) writes the entry again, whole
 * and renamed in, which is the daemon's cue; delete removes it.
 *
 * The runtime needs no daemon: a store that does not exist (no lock file)
 * gets no entry, and an entry that cannot be written is a warning, never a
 * failed verb.  The key is a digest of the root and the id, since two
 * callers (containerd's namespaces, Docker, podman) may use the same id
 * under different roots.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "oci/oci.h"
#include "base/base.h"

#define ENTRY_DIR "runtime"

/* The store's entry directory, made if missing; -ENOENT when there is no store. */
static int
open_entries(const struct bk_runtime *rt, bool make)
{
	const char *store = rt->store ? rt->store : BK_STATE_DEFAULT;
	cleanup_close int sfd = open(store, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int fd;

	if (sfd < 0 || faccessat(sfd, "lock", F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return -ENOENT;
	if (make && mkdirat(sfd, ENTRY_DIR, 0700) < 0 && errno != EEXIST)
		return -errno;
	fd = openat(sfd, ENTRY_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

void
enlist_put(const struct bk_runtime *rt, const char *id, const char *status)
{
	struct bk_err err = BK_ERR_INIT;
	cleanup_close int dfd = open_entries(rt, true);
	cleanup(json_decrefp) json_t *j = NULL;
	cleanup_free char *text = NULL, *boot = NULL;
	char name[OCI_ENTRY_NAME_SIZE];

	if (dfd == -ENOENT)
		return;
	if (dfd < 0) {
		bk_log(BK_LOG_WARN, "container %s: not shown in bockerfs's tree: %s/%s: %s", id,
		       rt->store ? rt->store : BK_STATE_DEFAULT, ENTRY_DIR, strerror(-dfd));
		return;
	}
	/* The boot it was made in: an entry of an earlier one is stale, whatever /run holds. */
	if (read_file_at(AT_FDCWD, "/proc/sys/kernel/random/boot_id", 64, &boot, NULL, NULL) == 0)
		boot[strcspn(boot, "\n")] = '\0';
	j = json_pack("{s:s, s:s, s:s, s:s}", "root", rt->root, "id", id, "status", status, "boot",
		      boot ? boot : "");
	text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	oci_entry_name(rt->root, id, name);
	if (text == NULL || write_file_replace(dfd, name, text, strlen(text), &err) < 0)
		bk_log(BK_LOG_WARN, "container %s: not shown in bockerfs's tree: %s", id,
		       text ? err.msg : "out of memory");
}

void
enlist_drop(const struct bk_runtime *rt, const char *id)
{
	cleanup_close int dfd = open_entries(rt, false);
	char name[OCI_ENTRY_NAME_SIZE];

	if (dfd < 0)
		return;
	oci_entry_name(rt->root, id, name);
	if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
		bk_log(BK_LOG_WARN, "container %s: its entry in bockerfs's store: %s", id,
		       strerror(errno));
}
