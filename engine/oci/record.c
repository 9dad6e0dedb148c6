/*
 * A runtime container's record: <state_dir>/<id>/ holds state.json (what create
 * learnt: the init's pid and start time, the bundle, the group), a copy of
 * config.json (start's and delete's hooks need it after the bundle may have
 * changed), and exec.fifo while the init waits for start.  Every verb holds
 * the directory's flock, so two verbs on one container take turns.
 *
 * The status is not stored but seen, as runc does: the init gone (or its
 * pid reused, told by its start time) is "stopped"; the fifo still there is
 * "created"; a frozen group is "paused"; else "running".
 *
 * Records are replaced whole (renamed in) but not synced: they describe
 * processes, which a power loss ends with them, and the state root is a
 * tmpfs (/run) for every caller; the syncs cost a create 6 disk flushes.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <jansson.h>

#include "oci/oci.h"
#include "base/base.h"
#include "proc/proc.h"

#define STATE_MAX (1u << 20)

/* mkdir -p of the state root, as runc makes it (callers name one per namespace). */
static int
make_root(const char *root, struct bk_err *err)
{
	cleanup_free char *path = xstrdup(root);
	char *p;

	if (path[0] != '/')
		return bk_err_set(err, EINVAL, "--root %s: not absolute", root);
	for (p = strchr(path + 1, '/');; p = strchr(p + 1, '/')) {
		if (p)
			*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return bk_err_sys(err, "state root %s", path);
		if (p == NULL)
			return 0;
		*p = '/';
	}
}

static int
open_root(const struct bk_runtime *rt, bool make, struct bk_err *err)
{
	int fd;

	if (make && make_root(rt->root, err) < 0)
		return -err->code;
	fd = open(rt->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return bk_err_sys(err, "state root %s", rt->root);
	return fd;
}

static int
lock_dir(int fd, const char *id, struct bk_err *err)
{
	while (flock(fd, LOCK_EX) < 0)
		if (errno != EINTR)
			return bk_err_sys(err, "container %s: lock", id);
	return 0;
}

int
ctr_make(const struct bk_runtime *rt, const char *id, struct oci_ctr *c, struct bk_err *err)
{
	cleanup_close int state_dir = -1;

	memset(c, 0, sizeof(*c));
	c->dir_fd = -1;
	if (!oci_id_valid(id))
		return bk_err_set(err, EINVAL, "invalid container id '%.64s'", id);
	state_dir = open_root(rt, true, err);
	if (state_dir < 0)
		return state_dir;
	if (mkdirat(state_dir, id, 0700) < 0) {
		if (errno == EEXIST)
			return bk_err_set(err, EEXIST, "container with id %s already exists", id);
		return bk_err_sys(err, "container %s", id);
	}
	c->dir_fd = openat(state_dir, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c->dir_fd < 0)
		return bk_err_sys(err, "container %s", id);
	c->id = xstrdup(id);
	return lock_dir(c->dir_fd, id, err);
}

int
ctr_open(const struct bk_runtime *rt, const char *id, struct oci_ctr *c, struct bk_err *err)
{
	cleanup_close int state_dir = -1;
	cleanup_free char *text = NULL;
	struct oci_state_rec rec;
	size_t len;

	memset(c, 0, sizeof(*c));
	c->dir_fd = -1;
	if (!oci_id_valid(id))
		return bk_err_set(err, EINVAL, "invalid container id '%.64s'", id);
	state_dir = open_root(rt, false, err);
	if (state_dir < 0)
		return err->code == ENOENT
			   ? bk_err_set(err, ENOENT, "container %s does not exist", id)
			   : state_dir;
	c->dir_fd = openat(state_dir, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c->dir_fd < 0) {
		if (errno == ENOENT)
			return bk_err_set(err, ENOENT, "container %s does not exist", id);
		return bk_err_sys(err, "container %s", id);
	}
	c->id = xstrdup(id);
	if (lock_dir(c->dir_fd, id, err) < 0)
		return -err->code;
	if (read_file_at(c->dir_fd, OCI_STATE_FILE, STATE_MAX, &text, &len, err) < 0) {
		/* A create that died before its first save: nothing to show but "creating". */
		if (err->code == ENOENT) {
			*err = (struct bk_err)BK_ERR_INIT;
			return 0;
		}
		return bk_err_wrap(err, "container %s", id);
	}
	if (oci_state_parse(text, len, &rec, err) < 0)
		return bk_err_wrap(err, "container %s", id);
	c->pid = rec.pid;
	c->start_time = rec.pid_start;
	c->bundle = take_ptr(rec.bundle);
	c->rootfs = take_ptr(rec.rootfs);
	c->created = take_ptr(rec.created);
	c->cgroup = take_ptr(rec.cgroup);
	c->caller = take_ptr(rec.caller);
	c->annotations = take_ptr(rec.annotations);
	oci_state_rec_free(&rec);
	return 0;
}

int
ctr_save(const struct oci_ctr *c, struct bk_err *err)
{
	cleanup(json_decrefp) json_t *ann =
	    json_loads(c->annotations ? c->annotations : "{}", 0, NULL);
	cleanup(json_decrefp) json_t *j =
	    json_pack("{s:s, s:I, s:I, s:s, s:s, s:s, s:s, s:s, s:O}", "id", c->id, "pid",
		      (json_int_t)c->pid, "pid_start", (json_int_t)c->start_time, "bundle",
		      c->bundle ? c->bundle : "", "rootfs", c->rootfs ? c->rootfs : "", "created",
		      c->created ? c->created : "", "cgroup", c->cgroup ? c->cgroup : "", "caller",
		      c->caller ? c->caller : "", "annotations", ann ? ann : json_object());
	cleanup_free char *text = NULL;

	if (j == NULL || (text = json_dumps(j, JSON_COMPACT)) == NULL)
		return bk_err_set(err, ENOMEM, "container %s: state", c->id);
	return write_file_replace(c->dir_fd, OCI_STATE_FILE, text, strlen(text), err);
}

void
ctr_close(struct oci_ctr *c)
{
	if (c->dir_fd >= 0)
		close(c->dir_fd); /* and with it the flock */
	free(c->id);
	free(c->bundle);
	free(c->rootfs);
	free(c->created);
	free(c->annotations);
	free(c->cgroup);
	free(c->caller);
	memset(c, 0, sizeof(*c));
	c->dir_fd = -1;
}

void
ctr_remove(const struct bk_runtime *rt, struct oci_ctr *c)
{
	static const char *const files[] = { OCI_STATE_FILE, OCI_CONFIG_FILE, OCI_FIFO,
					     OCI_STATE_FILE ".tmp" };
	cleanup_close int state_dir = open(rt->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	size_t i;

	/* First: a create of the same id once the directory is gone must keep its new entry. */
	enlist_drop(rt, c->id);
	for (i = 0; i < ARRAY_SIZE(files); i++)
		if (unlinkat(c->dir_fd, files[i], 0) < 0 && errno != ENOENT)
			bk_log(BK_LOG_WARN, "container %s: remove %s: %s", c->id, files[i],
			       strerror(errno));
	if (state_dir >= 0 && unlinkat(state_dir, c->id, AT_REMOVEDIR) < 0)
		bk_log(BK_LOG_WARN, "container %s: remove its directory: %s", c->id,
		       strerror(errno));
	ctr_close(c);
}

unsigned long long
live_start_time(pid_t pid)
{
	bool zombie;
	uint64_t start = proc_start_time_of(pid, &zombie);

	/* A zombie has ended: stopped, whatever reaps it. */
	return zombie ? 0 : start;
}

int
ctr_pidfd(const struct oci_ctr *c)
{
	int fd;

	if (c->pid <= 0)
		return -ESRCH;
	fd = (int)syscall(SYS_pidfd_open, c->pid, 0);
	if (fd < 0)
		return -errno;
	/* Checked after the pidfd is held: the pid cannot be reused from here on. */
	if (live_start_time(c->pid) != c->start_time) {
		close(fd);
		return -ESRCH;
	}
	return fd;
}

enum oci_status
ctr_status(const struct oci_ctr *c)
{
	struct stat st;

	if (c->pid <= 0)
		return OCI_CREATING;
	if (live_start_time(c->pid) != c->start_time)
		return OCI_STOPPED;
	if (fstatat(c->dir_fd, OCI_FIFO, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return OCI_CREATED;
	if (c->cgroup && *c->cgroup && ocg_frozen(c->cgroup))
		return OCI_PAUSED;
	return OCI_RUNNING;
}

const char *
oci_status_name(enum oci_status s)
{
	static const char *const names[] = { "creating", "created", "running", "paused",
					     "stopped" };

	return names[s];
}

char *
ctr_state_json(const struct oci_ctr *c, enum oci_status s)
{
	cleanup(json_decrefp) json_t *ann =
	    json_loads(c->annotations ? c->annotations : "{}", 0, NULL);
	cleanup(json_decrefp) json_t *j = json_pack(
	    "{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:O}", "ociVersion", "1.0.2", "id", c->id,
	    "status", oci_status_name(s), "pid", (json_int_t)(s == OCI_STOPPED ? 0 : c->pid),
	    "bundle", c->bundle ? c->bundle : "", "rootfs", c->rootfs ? c->rootfs : "", "created",
	    c->created ? c->created : "", "owner", "", "annotations", ann ? ann : json_object());

	return j ? json_dumps(j, JSON_INDENT(2)) : NULL;
}

int
spec_read(int dfd, const char *name, struct oci_spec *spec, char **raw, size_t *len,
	  struct bk_err *err)
{
	cleanup_free char *text = NULL;
	size_t n;
	int ret;

	ret = read_file_at(dfd, name, OCI_SPEC_MAX, &text, &n, err);
	if (ret < 0)
		return err->code == EFBIG
			   ? bk_err_set(err, E2BIG, "%s: larger than %u bytes", name, OCI_SPEC_MAX)
			   : bk_err_wrap(err, "%s", name);
	ret = oci_spec_parse(text, n, spec, err);
	if (ret < 0)
		return bk_err_wrap(err, "%s", name);
	if (raw) {
		*raw = take_ptr(text);
		*len = n;
	}
	return 0;
}

int
ctr_load_spec(const struct oci_ctr *c, struct oci_spec *spec, struct bk_err *err)
{
	return spec_read(c->dir_fd, OCI_CONFIG_FILE, spec, NULL, NULL, err);
}
