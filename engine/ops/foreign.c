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

/* A small regular file of root's, opened without blocking or following a last symlink. */
static int
read_regular(int dfd, const char *name, size_t max, char **text, size_t *len, struct bk_err *err)
{
	cleanup_close int fd =
	    openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	struct stat st;

	if (fd < 0)
		return bk_err_sys(err, "%s", name);
	if (fstat(fd, &st) < 0)
		return bk_err_sys(err, "%s", name);
	if (!S_ISREG(st.st_mode) || st.st_uid != 0 || (st.st_mode & 022))
		return bk_err_set(err, EPERM, "%s: not a regular file of root's", name);
	return read_fd_all(fd, max, text, len, err);
}

/* A cgroup path as the runtime records it: absolute, no "..", or "" for none. */
static bool
cgroup_path_ok(const char *p)
{
	if (*p == '\0')
		return true;
	return p[0] == '/' && strstr(p, "/..") == NULL && strlen(p) < 1024;
}

/* What an entry and the record it points to say. */
struct sighting {
	char *root, *oci_id;
	struct oci_state_rec rec;
	int state_dfd; /* <root>/<id> */
};

static void
sighting_free(struct sighting *s)
{
	free(s->root);
	free(s->oci_id);
	oci_state_rec_free(&s->rec);
	if (s->state_dfd >= 0)
		close(s->state_dfd);
}

/*
 * Read entry name and the runtime's record it points to.  -ENOENT when
 * either is gone (the container was deleted, or the host rebooted and /run
 * with it): the entry is stale.  Other errors: the entry is not one.
 */
static int
sight(int entries_fd, const char *name, struct sighting *s, struct bk_err *err)
{
	cleanup_free char *text = NULL, *record = NULL;
	cleanup(json_decrefp) json_t *j = NULL;
	cleanup_close int rtdir_fd = -1;
	const char *root, *id;
	size_t len;

	memset(s, 0, sizeof(*s));
	s->state_dfd = -1;
	if (read_regular(entries_fd, name, ENTRY_MAX, &text, &len, err) < 0)
		return -err->code;
	j = json_loadb(text, len, 0, NULL);
	root = json_string_value(json_object_get(j, "root"));
	id = json_string_value(json_object_get(j, "id"));
	if (root == NULL || root[0] != '/' || strlen(root) >= 4096 || id == NULL ||
	    !oci_id_valid(id))
		return bk_err_set(err, EBADMSG, "%s: not an entry of bockerfs-runtime's", name);
	s->root = xstrdup(root);
	s->oci_id = xstrdup(id);
	/* The runtime's root may be reached through symlinks (/var/run): followed. */
	rtdir_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rtdir_fd < 0)
		return bk_err_sys(err, "%s: its runtime root %s", name, root);
	s->state_dfd = openat(rtdir_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s->state_dfd < 0)
		return bk_err_sys(err, "%s: container %s", name, id);
	if (read_regular(s->state_dfd, "state.json", RECORD_MAX, &record, &len, err) < 0)
		return bk_err_wrap(err, "%s: container %s", name, id);
	if (oci_state_parse(record, len, &s->rec, err) < 0)
		return bk_err_wrap(err, "%s: container %s", name, id);
	if (s->rec.pid <= 1 || s->rec.pid == getpid() || !cgroup_path_ok(s->rec.cgroup))
		return bk_err_set(err, EBADMSG, "%s: container %s: its record names pid %d", name,
				  id, (int)s->rec.pid);
	return 0;
}

/* The init's pidfd if it is still the process the record names, else -1. */
static int
open_init(const struct oci_state_rec *rec)
{
	int fd = pidfd_open(rec->pid, 0);

	/* Checked once the pidfd is held: from here on the pid cannot be reused. */
	if (fd >= 0 && proc_start_time(rec->pid) != rec->pid_start) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* The runtime's status of a container whose init lives: created, paused or running. */
static const char *
live_status(struct bk_engine *e, int state_dfd, const char *cgroup)
{
	struct stat st;

	if (fstatat(state_dfd, "exec.fifo", &st, AT_SYMLINK_NOFOLLOW) == 0)
		return "created";
	if (*cgroup && cgroup_frozen_of(&e->procs.cg, cgroup))
		return "paused";
	return "running";
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

/* Its name in the tree: its id when that is a free container name, else oci-<key>. */
static bool
pick_name_locked(struct bk_engine *e, const char *oci_id, const char *key, char *out, size_t size)
{
	if (name_ok(oci_id, 64) && container_find_locked(&e->model, oci_id, 0) == NULL) {
		snprintf(out, size, "%s", oci_id);
		return true;
	}
	snprintf(out, size, "oci-%.12s", key);
	return container_find_locked(&e->model, out, 0) == NULL;
}

/* Exited: how, if known (wait status), and what it leaves (lock held). */
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
	c->state = BK_CTR_EXITED;
	c->pid = 0;
	snprintf(c->foreign->status, sizeof(c->foreign->status), "stopped");
	time_rfc3339(c->finished, sizeof(c->finished));
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
	if (!c->exited)
		events_queue_locked(&e->model.ev, BK_OBJ_CONTAINER, c->id, "exit", "%s",
				    "code=unknown");
	else if (c->exit_signal)
		events_queue_locked(&e->model.ev, BK_OBJ_CONTAINER, c->id, "exit", "signal=%d%s",
				    c->exit_signal, c->oomkilled ? " oomkilled=1" : "");
	else
		events_queue_locked(&e->model.ev, BK_OBJ_CONTAINER, c->id, "exit", "code=%d",
				    c->exit_code);
}

/* A new entry: its container into the table (lock held); announce: events for it. */
static void
add_locked(struct bk_engine *e, const char *key, struct sighting *s, int pidfd, bool announce)
{
	struct container *c;
	struct foreign *f;
	char name[BK_ID_SIZE];

	if (!pick_name_locked(e, s->oci_id, key, name, sizeof(name))) {
		bk_log(BK_LOG_WARN, "runtime container %s: no free name in the tree", s->oci_id);
		if (pidfd >= 0)
			close(pidfd);
		return;
	}
	f = xcalloc(1, sizeof(*f));
	snprintf(f->key, sizeof(f->key), "%s", key);
	f->root = take_ptr(s->root);
	f->oci_id = take_ptr(s->oci_id);
	f->bundle = take_ptr(s->rec.bundle);
	f->rootfs = take_ptr(s->rec.rootfs);
	f->caller = *s->rec.caller ? take_ptr(s->rec.caller) : xstrdup("-");
	f->cgroup = take_ptr(s->rec.cgroup);
	c = container_new_foreign_locked(&e->model, name, f, s->rec.created);
	c->pid = s->rec.pid;
	c->pidfd = pidfd;
	if (announce)
		events_queue_locked(&e->model.ev, BK_OBJ_CONTAINER, c->id, "create",
				    "runtime=bockerfs-runtime");
	if (pidfd < 0) {
		set_exited_locked(e, c, false, 0);
		return;
	}
	snprintf(f->status, sizeof(f->status), "%s", live_status(e, s->state_dfd, f->cgroup));
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
}

/* An entry written again: what changed (lock held). */
static void
update_locked(struct bk_engine *e, struct container *c, struct sighting *s)
{
	struct foreign *f = c->foreign;
	const char *now;

	if (c->state == BK_CTR_EXITED)
		return;
	now = live_status(e, s->state_dfd, f->cgroup);
	if (strcmp(now, f->status) == 0)
		return;
	if (strcmp(f->status, "created") == 0)
		queue_start_locked(e, c);
	else if (strcmp(now, "paused") == 0)
		events_queue_locked(&e->model.ev, BK_OBJ_CONTAINER, c->id, "pause", "%s", "");
	else if (strcmp(now, "running") == 0)
		events_queue_locked(&e->model.ev, BK_OBJ_CONTAINER, c->id, "unpause", "%s", "");
	snprintf(f->status, sizeof(f->status), "%s", now);
}

/* Its entry is gone: out of the table (lock held; dropped, the caller frees it). */
static struct container *
drop_locked(struct bk_engine *e, struct container *c)
{
	if (c->state != BK_CTR_EXITED) {
		set_exited_locked(e, c, false, 0);
		queue_exit_locked(e, c);
		pthread_cond_broadcast(&e->model.ctr_changed);
	}
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
	char key[40], id[BK_ID_SIZE] = "";
	enum bk_change change = BK_CHANGE_STATE;
	int ret, pidfd = -1;

	if (!entry_name_ok(name))
		return;
	snprintf(key, sizeof(key), "%.32s", name);
	ret = sight(e->foreign.entries_fd, name, &s, &err);
	if (ret == 0)
		pidfd = open_init(&s.rec);
	pthread_mutex_lock(&e->model.lock);
	c = find_by_key_locked(e, key);
	if (ret == -ENOENT && c == NULL &&
	    faccessat(e->foreign.entries_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		/* The entry outlived its container (a reboot emptied /run): not one any more. */
		bk_log(BK_LOG_INFO, "runtime entry %s: %s: removed", name, err.msg);
		unlinkat(e->foreign.entries_fd, name, 0);
	} else if (ret < 0 && ret != -ENOENT) {
		bk_log(BK_LOG_WARN, "runtime entry: %s", err.msg);
	}
	if (ret < 0) {
		if (c) {
			snprintf(id, sizeof(id), "%s", c->id);
			gone = drop_locked(e, c);
			change = BK_CHANGE_REMOVED;
		}
	} else if (c == NULL) {
		add_locked(e, key, &s, pidfd, announce_it);
		pidfd = -1;
		c = find_by_key_locked(e, key);
		if (c)
			snprintf(id, sizeof(id), "%s", c->id);
		change = BK_CHANGE_CREATED;
	} else {
		update_locked(e, c, &s);
		snprintf(id, sizeof(id), "%s", c->id);
	}
	pthread_mutex_unlock(&e->model.lock);
	if (pidfd >= 0)
		close(pidfd);
	sighting_free(&s);
	if (id[0] && announce_it)
		announce(e, id, change);
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

int
foreign_open(struct bk_engine *e, struct bk_err *err)
{
	cleanup_close int state_fd = open(e->store.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

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
	{
		char path[64];

		snprintf(path, sizeof(path), "/proc/self/fd/%d", e->foreign.entries_fd);
		if (inotify_add_watch(e->foreign.inotify_fd, path, ENTRY_WATCH | IN_ONLYDIR) < 0)
			return bk_err_sys(err, "inotify: %s/%s", e->store.root, ENTRY_DIR);
	}
	scan(e, false);
	return 0;
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

void
foreign_init_event(struct bk_engine *e, uint64_t serial, uint32_t events)
{
	struct pidfd_info_v0 info = { .mask = PIDFD_INFO_EXIT_ };
	struct container *c;
	struct stat st;
	char id[BK_ID_SIZE];
	bool known = false;
	int ret;

	pthread_mutex_lock(&e->model.lock);
	c = container_find_locked(&e->model, NULL, serial);
	if (c == NULL || c->foreign == NULL || c->pidfd < 0) {
		pthread_mutex_unlock(&e->model.lock);
		return;
	}
	ret = ioctl(c->pidfd, PIDFD_GET_INFO_V0, &info);
	if (ret == 0 && (info.mask & PIDFD_INFO_EXIT_)) {
		known = true;
	} else if (ret == 0 && !(events & EPOLLHUP)) {
		/*
		 * Exited, not yet reaped by its caller, and only then is its status
		 * told: wait for the reap (EPOLLHUP, which needs no asking).
		 */
		struct epoll_event ev = { .events = 0, .data.u64 = serial };

		epoll_ctl(e->monitor.epfd, EPOLL_CTL_MOD, c->pidfd, &ev);
		pthread_mutex_unlock(&e->model.lock);
		return;
	}
	/* Started, then gone before its start was seen: its start is told first. */
	if (c->state == BK_CTR_CREATED) {
		cleanup_close int rtdir_fd =
		    open(c->foreign->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		cleanup_close int dfd =
		    rtdir_fd < 0 ? -1
				 : openat(rtdir_fd, c->foreign->oci_id,
					  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (dfd >= 0 && fstatat(dfd, "exec.fifo", &st, AT_SYMLINK_NOFOLLOW) < 0)
			queue_start_locked(e, c);
	}
	set_exited_locked(e, c, known, info.exit_code);
	queue_exit_locked(e, c);
	snprintf(id, sizeof(id), "%s", c->id);
	pthread_cond_broadcast(&e->model.ctr_changed);
	pthread_mutex_unlock(&e->model.lock);
	bk_log(BK_LOG_INFO, "runtime container %s exited", id);
	announce(e, id, BK_CHANGE_STATE);
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
