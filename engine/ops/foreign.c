/*
 * Containers that bockerfs-runtime made for another program (containerd's
 * shim, conmon, Docker), shown in the tree beside the daemon's own.
 *
 * The runtime enlists each container in the store, <state dir>/runtime/
 * <key>.json, a pointer to its record: {"root", "id", "status"}
 * (engine/oci/enlist.c).  It writes the entry again at each change the tree
 * shows (start, pause, resume) and removes it at delete.  The daemon reads
 * every entry at its start and follows the directory with inotify (the
 * monitor thread): each entry's container is found from the runtime's
 * state.json (pid, start time, bundle, group, caller), its init watched by
 * pidfd like the daemon's own, and its status seen as the runtime sees it
 * (the exec.fifo still there: created; a frozen group: paused).
 *
 * Its init is not ours to reap: its caller does.  The exit code comes from
 * the pidfd once the caller has reaped it (PIDFD_INFO_EXIT, Linux 6.15);
 * on older kernels it is unknown ("exit -").  Only kill and stop are ours to
 * do; every other change is refused (container_changeable), since the
 * caller owns the container and would not know of it.
 *
 * Every file is opened without following a last symlink and without
 * blocking (O_NONBLOCK, then checked to be a regular file), and must be
 * root's: an entry is trusted no further than the runtime's own record.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "base/base.h"
#include "model/model.h"
#include "ops/ops.h"
#include "parse/oci_spec.h"

#define ENTRY_DIR   "runtime"
#define ENTRY_MAX   (64u << 10)
#define RECORD_MAX  (1u << 20)
#define ENTRY_WATCH (IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM)
/*
 * How long an exited init may wait for its caller's reap before its exit is
 * told without its status: shims and conmon reap at once, an init (PID 1)
 * may poll for orphans (this machine's: 1.5 s).
 */
#define REAP_WAIT_MS 5000

/* PIDFD_GET_INFO (Linux 6.13) and its exit status (6.15), not in Debian 12's headers. */
struct pidfd_info_v0 {
	uint64_t mask, cgroupid;
	uint32_t pid, tgid, ppid, ruid, rgid, euid, egid, suid, sgid, fsuid, fsgid;
	int32_t exit_code;
};
#define PIDFD_GET_INFO_V0 _IOWR(0xFF, 11, struct pidfd_info_v0)
#define PIDFD_INFO_EXIT_  (1ULL << 3)

/* An entry's name: 32 hex digits and ".json". */
static bool
entry_name_ok(const char *name)
{
	size_t i;

	for (i = 0; i < 32; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return strcmp(name + 32, ".json") == 0;
}

/* A cgroup path as the runtime records it: absolute, no "..", or "" for none. */
static bool
cgroup_path_ok(const char *p)
{
	if (*p == '\0')
		return true;
	return p[0] == '/' && strstr(p, "/..") == NULL && strlen(p) < 1024;
}

/* A copy for a "key value" line: control characters (a newline in a path) made '?'. */
static char *
line_safe(const char *s)
{
	char *out = xstrdup(*s ? s : "-");

	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	return out;
}

/* What an entry and the record it points to say, read with no lock held. */
struct sighting {
	char *root, *oci_id;
	struct oci_state_rec rec;
	int pidfd;          /* its init, if it is the one the record names and a container's */
	const char *status; /* the runtime's: created, running, paused, stopped */
	bool started;       /* its exec.fifo is gone: the runtime started it */
};

static void
sighting_free(struct sighting *s)
{
	free(s->root);
	free(s->oci_id);
	oci_state_rec_free(&s->rec);
	if (s->pidfd >= 0)
		close(s->pidfd);
}

/*
 * The runtime's directory of container id under root: an fd, -ESTALE when
 * root itself is missing, or -errno.  Root may be reached through symlinks
 * (/var/run), the container's directory not.  Opened with no lock held.
 */
static int
open_record_dir(const char *root, const char *id)
{
	cleanup_close int rtdir_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int fd;

	if (rtdir_fd < 0)
		return errno == ENOENT ? -ESTALE : -errno;
	fd = openat(rtdir_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Is it created still (the runtime's exec.fifo there)?  Read with no lock held. */
static bool
fifo_there(int state_dfd)
{
	struct stat st;

	return fstatat(state_dfd, "exec.fifo", &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Is path ("/a/b") one of the groups /proc/PID/cgroup names (from our cgroup namespace)? */
static bool
in_group(pid_t pid, const char *path)
{
	char file[64];
	cleanup_free char *text = NULL;
	size_t n = strlen(path);

	snprintf(file, sizeof(file), "/proc/%d/cgroup", (int)pid);
	/* Gone meanwhile (held by the pidfd, it is no other process): nothing to reach. */
	if (read_file_at(AT_FDCWD, file, 1 << 16, &text, NULL, NULL) < 0)
		return true;
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		char *g = strchr(line, ':');

		g = g ? strchr(g + 1, ':') : NULL;
		if (g == NULL)
			continue;
		g++;
		/* A daemon in a cgroup namespace sees the end of the path. */
		if (strlen(g) >= n && strcmp(g + strlen(g) - n, path) == 0 &&
		    (strlen(g) == n || g[strlen(g) - n - 1] == '/' || path[0] == '/'))
			return true;
	}
	return false;
}

/*
 * Is pid (held by a pidfd, so not reused) a runtime container's init?  Its
 * mount namespace is not ours (the runtime always makes one), and it is in
 * the group its record names.  A host process named by a planted record is
 * neither.  One that has exited passes: it can no longer be signalled.
 */
static bool
container_init(pid_t pid, const char *cgroup)
{
	char file[64];
	struct stat ours, its;

	snprintf(file, sizeof(file), "/proc/%d/ns/mnt", (int)pid);
	if (stat("/proc/self/ns/mnt", &ours) < 0)
		return false;
	/* An init that has exited (a zombie has no namespaces) reaches nothing any more. */
	if (stat(file, &its) < 0)
		return errno == ENOENT;
	if (ours.st_ino == its.st_ino && ours.st_dev == its.st_dev)
		return false;
	return *cgroup == '\0' || in_group(pid, cgroup);
}

/*
 * Read entry name and the runtime's record it points to, with no lock held
 * (the root may be any path, even one through our own tree).  -ENOENT when
 * the record is gone while its root is there (deleted, or the host
 * rebooted): the entry is stale.  -ESTALE when the root itself is missing
 * (this daemon may see another /run than the runtime did): kept, not shown.
 * Other errors: the entry is not one.
 */
static int
sight(struct bk_engine *e, int entries_fd, const char *name, struct sighting *s, struct bk_err *err)
{
	cleanup_free char *text = NULL, *record = NULL;
	cleanup(json_decrefp) json_t *j = NULL;
	cleanup_close int state_dfd = -1;
	const char *root, *id, *boot;
	char want[OCI_ENTRY_NAME_SIZE] = "";
	size_t len;

	memset(s, 0, sizeof(*s));
	s->pidfd = -1;
	if (read_file_root(entries_fd, name, 022, ENTRY_MAX, &text, &len, err) < 0)
		return -err->code;
	j = json_loadb(text, len, 0, NULL);
	root = json_string_value(json_object_get(j, "root"));
	id = json_string_value(json_object_get(j, "id"));
	boot = json_string_value(json_object_get(j, "boot"));
	if (root && root[0] == '/' && strlen(root) < 4096 && id && oci_id_valid(id))
		oci_entry_name(root, id, want);
	/* Its name is the digest of what it points to: a copy under another is none. */
	if (strcmp(name, want) != 0)
		return bk_err_set(err, EBADMSG, "%s: not an entry of bockerfs-runtime's", name);
	/* Written in another boot: nothing of it runs. */
	if (boot && strcmp(boot, e->model.boot_id) != 0)
		return bk_err_set(err, ENOENT, "%s: container %s: of an earlier boot", name, id);
	s->root = xstrdup(root);
	s->oci_id = xstrdup(id);
	state_dfd = open_record_dir(root, id);
	if (state_dfd == -ESTALE)
		return bk_err_set(err, ESTALE, "%s: its runtime root %s is not there", name, root);
	if (state_dfd < 0)
		return bk_err_set(err, -state_dfd, "%s: container %s: %s", name, id,
				  strerror(-state_dfd));
	if (read_file_root(state_dfd, "state.json", 022, RECORD_MAX, &record, &len, err) < 0)
		return bk_err_wrap(err, "%s: container %s", name, id);
	if (oci_state_parse(record, len, &s->rec, err) < 0)
		return bk_err_wrap(err, "%s: container %s", name, id);
	if (s->rec.pid <= 1 || s->rec.pid == getpid() || !cgroup_path_ok(s->rec.cgroup))
		return bk_err_set(err, EBADMSG, "%s: container %s: its record names pid %d", name,
				  id, (int)s->rec.pid);
	s->started = !fifo_there(state_dfd);
	s->pidfd = pidfd_open(s->rec.pid, 0);
	/* Checked once the pidfd is held: from here on the pid cannot be reused. */
	if (s->pidfd >= 0 && proc_start_time(s->rec.pid) != s->rec.pid_start) {
		close(s->pidfd);
		s->pidfd = -1;
	}
	if (s->pidfd >= 0 && !container_init(s->rec.pid, s->rec.cgroup))
		return bk_err_set(err, EBADMSG,
				  "%s: container %s: pid %d is not a container's init (the "
				  "daemon's mount namespace, or not in %s)",
				  name, id, (int)s->rec.pid, s->rec.cgroup);
	if (s->pidfd < 0)
		s->status = "stopped";
	else if (!s->started)
		s->status = "created";
	else if (*s->rec.cgroup && cgroup_frozen_of(&e->procs.cg, s->rec.cgroup))
		s->status = "paused";
	else
		s->status = "running";
	return 0;
}

/*
 * The init's exit status, as the kernel tells it once its caller has reaped
 * it: 0; -EAGAIN while it has not; another -errno when the kernel cannot tell
 * (ENOTTY before Linux 6.13).
 */
static int
exit_status(int pidfd, int *status)
{
	struct pidfd_info_v0 info = { .mask = PIDFD_INFO_EXIT_ };

	if (pidfd < 0)
		return -EBADF;
	if (ioctl(pidfd, PIDFD_GET_INFO_V0, &info) < 0)
		return -errno;
	if (!(info.mask & PIDFD_INFO_EXIT_))
		return -EAGAIN;
	*status = info.exit_code;
	return 0;
}

static struct container *
find_by_key_locked(struct bk_engine *e, const char *key)
{
	size_t i;

	for (i = 0; i < e->model.nctrs; i++)
		if (e->model.ctrs[i]->foreign && strcmp(e->model.ctrs[i]->foreign->key, key) == 0)
			return e->model.ctrs[i];
	return NULL;
}

/* Is pid the init of one of the daemon's own containers? */
static bool
ours_locked(struct bk_engine *e, pid_t pid)
{
	size_t i;

	for (i = 0; i < e->model.nctrs; i++)
		if (!e->model.ctrs[i]->foreign && e->model.ctrs[i]->pid == pid &&
		    e->model.ctrs[i]->pidfd >= 0)
			return true;
	return false;
}

/* The files beside the containers in containers/ (docs/tree.md): never a container's name. */
static bool
tree_file_name(const char *name)
{
	static const char *const files[] = { "index", "clone", "run", "err" };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(files); i++)
		if (strcmp(name, files[i]) == 0)
			return true;
	return false;
}

/* Its name in the tree: its id when that is a free container name, else oci-<key>. */
static bool
pick_name_locked(struct bk_engine *e, const char *oci_id, const char *key, char *out, size_t size)
{
	if (name_ok(oci_id, 64) && !tree_file_name(oci_id) &&
	    container_find_locked(&e->model, oci_id, 0) == NULL) {
		snprintf(out, size, "%s", oci_id);
		return true;
	}
	snprintf(out, size, "oci-%.12s", key);
	return container_find_locked(&e->model, out, 0) == NULL;
}

/* Its init has exited (lock held): so the tree says, whether or not its status is known. */
static void
mark_stopped_locked(struct container *c)
{
	c->state = BK_CTR_EXITED;
	c->pid = 0;
	snprintf(c->foreign->status, sizeof(c->foreign->status), "stopped");
	time_rfc3339(c->finished, sizeof(c->finished));
}

/* Exited: how, if known (a wait status), and what it leaves (lock held). */
static void
set_exited_locked(struct bk_engine *e, struct container *c, bool known, int status)
{
	struct bk_stats st;
	struct bk_err ignored = BK_ERR_INIT;

	c->exited = known;
	c->exit_code = 0;
	c->exit_signal = 0;
	if (known && WIFSIGNALED(status)) {
		c->exit_signal = WTERMSIG(status);
		c->exit_code = 128 + c->exit_signal;
	} else if (known) {
		c->exit_code = WEXITSTATUS(status);
	}
	c->oomkilled = *c->foreign->cgroup &&
		       cgroup_stats_of(&e->procs.cg, c->foreign->cgroup, &st, &ignored) == 0 &&
		       st.oom_kills > 0;
	mark_stopped_locked(c);
	if (c->foreign->reap_wait) {
		c->foreign->reap_wait = 0;
		e->foreign.reap_waits--;
	}
	if (c->pidfd >= 0) {
		epoll_ctl(e->monitor.epfd, EPOLL_CTL_DEL, c->pidfd, NULL);
		close(c->pidfd);
		c->pidfd = -1;
	}
}

static void
queue_start_locked(struct bk_engine *e, struct container *c)
{
	c->state = BK_CTR_RUNNING;
	time_rfc3339(c->started, sizeof(c->started));
	events_queue_locked(&e->model.ev, BK_OBJ_CONTAINER, c->id, "start", "pid=%d", (int)c->pid);
}

static void
queue_exit_locked(struct bk_engine *e, struct container *c)
{
	char attrs[64];

	container_exit_attrs(c, attrs, sizeof(attrs));
	events_queue_locked(&e->model.ev, BK_OBJ_CONTAINER, c->id, "exit", "%s", attrs);
}

/* Its init ended (lock held): started told first if it never was, then the exit. */
static void
finish_locked(struct bk_engine *e, struct container *c, bool started)
{
	int status = 0;
	bool known = exit_status(c->pidfd, &status) == 0;

	if ((c->state == BK_CTR_CREATED || c->foreign->created_at_exit) && started)
		queue_start_locked(e, c);
	set_exited_locked(e, c, known, status);
	queue_exit_locked(e, c);
	pthread_cond_broadcast(&e->model.ctr_changed);
}

/* A new entry: its container into the table (lock held); announce: events for it. */
static struct container *
add_locked(struct bk_engine *e, const char *key, struct sighting *s, bool announce)
{
	struct container *c;
	struct foreign *f;
	char name[BK_ID_SIZE];

	if (!pick_name_locked(e, s->oci_id, key, name, sizeof(name))) {
		bk_log(BK_LOG_WARN, "runtime container %s: no free name in the tree", s->oci_id);
		return NULL;
	}
	f = xcalloc(1, sizeof(*f));
	snprintf(f->key, sizeof(f->key), "%s", key);
	f->root = line_safe(s->root);
	f->oci_id = take_ptr(s->oci_id);
	f->bundle = line_safe(s->rec.bundle);
	f->rootfs = xstrdup(s->rec.rootfs);
	f->caller = line_safe(s->rec.caller);
	f->cgroup = take_ptr(s->rec.cgroup);
	c = container_new_foreign_locked(&e->model, name, f, s->rec.created);
	c->pid = s->rec.pid;
	f->init_pid = s->rec.pid;
	c->pid_start = s->rec.pid_start;
	c->pidfd = take_fd(s->pidfd);
	if (announce)
		events_queue_locked(&e->model.ev, BK_OBJ_CONTAINER, c->id, "create",
				    "runtime=bockerfs-runtime");
	if (c->pidfd < 0) {
		/* Gone before we looked: what it did is told, as far as it is known. */
		if (announce && s->started)
			queue_start_locked(e, c);
		set_exited_locked(e, c, false, 0);
		if (announce)
			queue_exit_locked(e, c);
		return c;
	}
	snprintf(f->status, sizeof(f->status), "%s", s->status);
	if (strcmp(f->status, "created") == 0)
		c->state = BK_CTR_CREATED;
	else if (announce)
		queue_start_locked(e, c);
	else
		c->state = BK_CTR_RUNNING;
	/* At the daemon's start the monitor adds it; afterwards, now. */
	if (e->monitor.running && monitor_add(e, c) < 0)
		bk_log(BK_LOG_WARN, "runtime container %s: cannot watch its init", c->id);
	bk_log(BK_LOG_INFO, "runtime container %s (%s, pid %d, %s): shown as %s", f->oci_id,
	       f->caller, (int)c->pid, f->status, c->id);
	return c;
}

/* An entry written again: what changed (lock held). */
static void
update_locked(struct bk_engine *e, struct container *c, const struct sighting *s)
{
	struct foreign *f = c->foreign;

	/* An exit is the monitor's to tell, from the pidfd. */
	if (c->state == BK_CTR_EXITED || c->pidfd < 0 || strcmp(s->status, "stopped") == 0 ||
	    strcmp(s->status, f->status) == 0)
		return;
	if (strcmp(f->status, "created") == 0)
		queue_start_locked(e, c);
	else if (strcmp(s->status, "paused") == 0)
		events_queue_locked(&e->model.ev, BK_OBJ_CONTAINER, c->id, "pause", "%s", "");
	else if (strcmp(s->status, "running") == 0)
		events_queue_locked(&e->model.ev, BK_OBJ_CONTAINER, c->id, "unpause", "%s", "");
	snprintf(f->status, sizeof(f->status), "%s", s->status);
}

/* Its entry is gone: out of the table (lock held; the caller frees it, unlocked). */
static struct container *
drop_locked(struct bk_engine *e, struct container *c)
{
	if (c->pidfd >= 0 || c->state != BK_CTR_EXITED)
		finish_locked(e, c, false);
	/* A stop that waited for its exit still holds it: let it finish first. */
	while (c->busy)
		pthread_cond_wait(&e->model.ctr_changed, &e->model.lock);
	c->state = BK_CTR_REMOVING;
	container_table_del_locked(&e->model, c);
	events_queue_locked(&e->model.ev, BK_OBJ_CONTAINER, c->id, "remove", "%s", "");
	pthread_cond_broadcast(&e->model.ctr_changed);
	return c;
}

static void
announce(struct bk_engine *e, const char *id, enum bk_change change)
{
	events_notify(&e->model.ev, BK_OBJ_CONTAINER, id, change);
	events_flush(&e->model.ev);
}

/* Entry name appeared, changed or went: the table follows. */
static void
entry_changed(struct bk_engine *e, const char *name, bool announce_it)
{
	struct bk_err err = BK_ERR_INIT;
	struct sighting s;
	struct container *c, *gone = NULL;
	char key[40], old_id[BK_ID_SIZE] = "", new_id[BK_ID_SIZE] = "";
	bool added = false;
	int ret;

	if (!entry_name_ok(name))
		return;
	snprintf(key, sizeof(key), "%.32s", name);
	/* Everything read first, unlocked: a read may go through our own tree. */
	ret = sight(e, e->foreign.entries_fd, name, &s, &err);
	pthread_mutex_lock(&e->model.lock);
	if (ret == 0 && s.pidfd >= 0 && ours_locked(e, s.rec.pid))
		ret = bk_err_set(&err, EBADMSG, "%s: its record names pid %d, a container of ours",
				 name, (int)s.rec.pid);
	c = find_by_key_locked(e, key);
	if (ret == -ENOENT && c == NULL &&
	    faccessat(e->foreign.entries_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		bk_log(BK_LOG_INFO, "runtime entry %s: removed", err.msg);
		unlinkat(e->foreign.entries_fd, name, 0);
	} else if (ret < 0 && ret != -ENOENT && ret != -ESTALE) {
		bk_log(BK_LOG_WARN, "runtime entry: %s", err.msg);
	}
	/* Deleted and made again under the same id before we looked: another container. */
	if (ret == 0 && c &&
	    (c->foreign->init_pid != s.rec.pid || c->pid_start != s.rec.pid_start)) {
		snprintf(old_id, sizeof(old_id), "%s", c->id);
		gone = drop_locked(e, c);
		c = NULL;
	}
	if (ret < 0) {
		if (c) {
			snprintf(old_id, sizeof(old_id), "%s", c->id);
			gone = drop_locked(e, c);
		}
	} else if (c == NULL) {
		c = add_locked(e, key, &s, announce_it);
		if (c)
			snprintf(new_id, sizeof(new_id), "%s", c->id);
		added = c != NULL;
	} else {
		update_locked(e, c, &s);
		snprintf(new_id, sizeof(new_id), "%s", c->id);
	}
	pthread_mutex_unlock(&e->model.lock);
	sighting_free(&s);
	if (old_id[0] && announce_it)
		announce(e, old_id, BK_CHANGE_REMOVED);
	if (new_id[0] && announce_it)
		announce(e, new_id, added ? BK_CHANGE_CREATED : BK_CHANGE_STATE);
	container_free(gone);
}

/* Every entry: the table's foreign containers made to match. */
static void
scan(struct bk_engine *e, bool announce_it)
{
	cleanup_dir DIR *d = opendir_at(e->foreign.entries_fd);
	struct dirent *de;
	char(*keys)[40] = NULL;
	size_t n = 0, i;

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		entry_changed(e, de->d_name, announce_it);
	/* Containers whose entry went while nobody watched. */
	pthread_mutex_lock(&e->model.lock);
	for (i = 0; i < e->model.nctrs; i++)
		if (e->model.ctrs[i]->foreign) {
			keys = xrealloc(keys, (n + 1) * sizeof(*keys));
			memcpy(keys[n++], e->model.ctrs[i]->foreign->key, 40);
		}
	pthread_mutex_unlock(&e->model.lock);
	for (i = 0; i < n; i++) {
		char name[48];

		snprintf(name, sizeof(name), "%.32s.json", keys[i]);
		if (faccessat(e->foreign.entries_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
			entry_changed(e, name, announce_it);
	}
	free(keys);
}

/* Open and watch the entries' directory: 0, or -errno with err saying why. */
static int
open_entries(struct bk_engine *e, struct bk_err *err)
{
	cleanup_close int state_fd = open(e->store.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char path[64];

	if (state_fd < 0)
		return bk_err_sys(err, "state directory %s", e->store.root);
	if (mkdirat(state_fd, ENTRY_DIR, 0700) < 0 && errno != EEXIST)
		return bk_err_sys(err, "%s/%s", e->store.root, ENTRY_DIR);
	e->foreign.entries_fd =
	    openat(state_fd, ENTRY_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (e->foreign.entries_fd < 0)
		return bk_err_sys(err, "%s/%s", e->store.root, ENTRY_DIR);
	/* Watched before the first scan: an entry written meanwhile is seen again, not missed. */
	e->foreign.inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (e->foreign.inotify_fd < 0)
		return bk_err_sys(err, "inotify");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", e->foreign.entries_fd);
	if (inotify_add_watch(e->foreign.inotify_fd, path, ENTRY_WATCH | IN_ONLYDIR) < 0)
		return bk_err_sys(err, "inotify: %s/%s", e->store.root, ENTRY_DIR);
	return 0;
}

void
foreign_open(struct bk_engine *e)
{
	struct bk_err err = BK_ERR_INIT;

	/* The daemon's own containers do not depend on it: a warning, not a refusal. */
	if (open_entries(e, &err) < 0) {
		bk_log(BK_LOG_WARN, "%s: bockerfs-runtime's containers are not shown", err.msg);
		foreign_close(e);
		return;
	}
	scan(e, false);
}

void
foreign_close(struct bk_engine *e)
{
	if (e->foreign.inotify_fd >= 0)
		close(e->foreign.inotify_fd);
	if (e->foreign.entries_fd >= 0)
		close(e->foreign.entries_fd);
	e->foreign.inotify_fd = e->foreign.entries_fd = -1;
}

void
foreign_entries_changed(struct bk_engine *e)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool overflow = false;
	ssize_t n;

	while ((n = read(e->foreign.inotify_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(void *)p;

			if (ev->mask & IN_Q_OVERFLOW)
				overflow = true;
			else if (ev->len > 0)
				entry_changed(e, ev->name, true);
			p += sizeof(*ev) + ev->len;
		}
	}
	if (overflow)
		scan(e, true);
}

/*
 * The init of serial ended (monitor thread, which alone frees a runtime's
 * container: c stays valid while the lock is dropped): was it started?
 * Read unlocked, since the runtime's root may be any path.
 */
static void
finish(struct bk_engine *e, uint64_t serial)
{
	struct container *c;
	cleanup_free char *root = NULL, *oci_id = NULL;
	cleanup_close int dfd = -1;
	char id[BK_ID_SIZE];
	bool started = true;

	pthread_mutex_lock(&e->model.lock);
	c = container_find_locked(&e->model, NULL, serial);
	if (c && c->foreign && (c->state == BK_CTR_CREATED || c->foreign->created_at_exit)) {
		root = xstrdup(c->foreign->root);
		oci_id = xstrdup(c->foreign->oci_id);
	}
	pthread_mutex_unlock(&e->model.lock);
	if (root) {
		dfd = open_record_dir(root, oci_id);
		started = dfd >= 0 && !fifo_there(dfd);
	}
	pthread_mutex_lock(&e->model.lock);
	c = container_find_locked(&e->model, NULL, serial);
	if (c == NULL || c->foreign == NULL || c->pidfd < 0) {
		pthread_mutex_unlock(&e->model.lock);
		return;
	}
	finish_locked(e, c, started);
	snprintf(id, sizeof(id), "%s", c->id);
	pthread_mutex_unlock(&e->model.lock);
	bk_log(BK_LOG_INFO, "runtime container %s exited", id);
	announce(e, id, BK_CHANGE_STATE);
}

void
foreign_init_event(struct bk_engine *e, uint64_t serial, uint32_t events)
{
	struct container *c;
	int status;

	pthread_mutex_lock(&e->model.lock);
	c = container_find_locked(&e->model, NULL, serial);
	if (c == NULL || c->foreign == NULL || c->pidfd < 0) {
		pthread_mutex_unlock(&e->model.lock);
		return;
	}
	/*
	 * Exited, not yet reaped by its caller, and only then does the kernel
	 * tell its status (Linux 6.15 and later; older ones answer ENOTTY):
	 * wait for the reap (EPOLLHUP, which needs no asking), a moment at most.
	 */
	if (!(events & EPOLLHUP) && !c->foreign->reap_wait &&
	    exit_status(c->pidfd, &status) == -EAGAIN) {
		struct epoll_event ev = { .events = 0, .data.u64 = serial };
		char id[BK_ID_SIZE];

		epoll_ctl(e->monitor.epfd, EPOLL_CTL_MOD, c->pidfd, &ev);
		c->foreign->reap_wait = now_ms() + REAP_WAIT_MS;
		e->foreign.reap_waits++;
		/* Stopped now, as the runtime says; its exit is told once known. */
		c->foreign->created_at_exit = c->state == BK_CTR_CREATED;
		mark_stopped_locked(c);
		pthread_cond_broadcast(&e->model.ctr_changed);
		snprintf(id, sizeof(id), "%s", c->id);
		pthread_mutex_unlock(&e->model.lock);
		announce(e, id, BK_CHANGE_STATE);
		return;
	}
	pthread_mutex_unlock(&e->model.lock);
	finish(e, serial);
}

void
foreign_tick(struct bk_engine *e)
{
	uint64_t due[32], now = now_ms();
	size_t n = 0, i;

	pthread_mutex_lock(&e->model.lock);
	for (i = 0; i < e->model.nctrs && n < ARRAY_SIZE(due); i++) {
		struct container *c = e->model.ctrs[i];

		/* A caller slow to reap: the exit is told without its status. */
		if (c->foreign && c->foreign->reap_wait && c->foreign->reap_wait <= now)
			due[n++] = c->serial;
	}
	pthread_mutex_unlock(&e->model.lock);
	for (i = 0; i < n; i++)
		finish(e, due[i]);
}

bool
foreign_waiting(struct bk_engine *e)
{
	bool waiting;

	pthread_mutex_lock(&e->model.lock);
	waiting = e->foreign.reap_waits > 0;
	pthread_mutex_unlock(&e->model.lock);
	return waiting;
}

void
foreign_describe(struct bk_engine *e, const char *id, struct bk_container_info *out)
{
	struct container *c;
	cleanup_free char *cgroup = NULL;
	struct limits l;
	char text[256];

	pthread_mutex_lock(&e->model.lock);
	c = container_find_locked(&e->model, id, 0);
	if (c && c->foreign)
		cgroup = xstrdup(c->foreign->cgroup);
	pthread_mutex_unlock(&e->model.lock);
	if (cgroup == NULL)
		return;
	free(out->cgroup);
	out->cgroup = xstrdup(*cgroup ? cgroup : "-");
	/* As the kernel holds them: the caller may change them (runtime update). */
	cgroup_limits_of(&e->procs.cg, cgroup, &l);
	limits_format(&l, text, sizeof(text));
	free(out->limits);
	out->limits = xstrdup(text);
}
