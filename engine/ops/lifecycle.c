/*
 * A container's life after its start: its init's exit, kill, stop, stop
 * and remove, live limits, and the adoption of inits that outlived a
 * daemon (reconcile).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "base/base.h"
#include "model/model.h"
#include "ops/ops.h"

void
container_exited(struct bk_engine *e, struct container *c, int wait_code, int wait_status)
{
	struct bk_err err = BK_ERR_INIT;
	char id[BK_ID_SIZE];
	char attrs[64];

	bool oom = cgroup_oom_kills(&e->procs.cg, c->id) > 0;

	/* The group is empty now: its init, the last process, has gone. */
	cgroup_remove(&e->procs.cg, c->id);
	network_detach(e, c->id);
	pthread_mutex_lock(&e->model.lock);
	container_set_exited_locked(&e->model, c, wait_code, wait_status);
	c->oomkilled = oom;
	if (!c->broken && container_save(&e->model, c, &err) < 0)
		bk_log(BK_LOG_WARN, "%s", err.msg);
	snprintf(id, sizeof(id), "%s", c->id);
	container_exit_attrs(c, attrs, sizeof(attrs));
	events_queue_locked(&e->model.ev, BK_OBJ_CONTAINER, id, "exit", "%s", attrs);
	restart_after_exit_locked(e, c, c->exit_code != 0 || c->exit_signal != 0);
	pthread_cond_broadcast(&e->model.ctr_changed);
	pthread_mutex_unlock(&e->model.lock);
	bk_log(BK_LOG_INFO, "container %s exited (%s)", id, attrs);
	events_notify(&e->model.ev, BK_OBJ_CONTAINER, id, BK_CHANGE_STATE);
	events_flush(&e->model.ev);
}

/*
 * A record said running: adopt the init if it is still the same process in
 * the same boot, else take the exit its init left (or the reboot) as final.
 */
static void
reconcile(struct bk_engine *e, struct container *c)
{
	struct bk_err err = BK_ERR_INIT;
	bool same_boot = strcmp(c->boot_id, e->model.boot_id) == 0;

	if (same_boot && c->pid > 0 && proc_start_time(c->pid) == c->pid_start) {
		c->pidfd = pidfd_open(c->pid, 0);
		if (c->pidfd >= 0) {
			bk_log(BK_LOG_INFO, "container %s: still running (pid %d)", c->id,
			       (int)c->pid);
			io_adopt_locked(e, c);
			return;
		}
	}
	container_set_exited_locked(&e->model, c, 0, 0);
	if (!same_boot)
		bk_log(BK_LOG_INFO, "container %s: the host rebooted", c->id);
	if (container_save(&e->model, c, &err) < 0)
		bk_log(BK_LOG_WARN, "%s", err.msg);
}

/*
 * A container whose record did not load: its init, if it still runs, is
 * found by its root (spawn_find_running), so that it can be killed and
 * removed.
 */
static void
adopt_broken(struct bk_engine *e, struct container *c, int dfd)
{
	pid_t pid = spawn_find_running(dfd);

	if (pid <= 0)
		return;
	c->pidfd = pidfd_open(pid, 0);
	if (c->pidfd < 0)
		return;
	c->state = BK_CTR_RUNNING;
	c->pid = pid;
	c->pid_start = proc_start_time(pid);
	c->rootfs_made = true;
	memcpy(c->boot_id, e->model.boot_id, sizeof(c->boot_id));
	bk_log(BK_LOG_INFO, "container %s: broken record, its init runs (pid %d)", c->id, (int)pid);
}

void
containers_adopt(struct bk_engine *e)
{
	size_t i;

	pthread_mutex_lock(&e->model.lock);
	for (i = 0; i < e->model.nctrs; i++) {
		struct container *c = e->model.ctrs[i];
		cleanup_close int dfd = openat(e->store.containers_fd, c->id,
					       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (dfd < 0)
			continue;
		/* A start the daemon did not live to record: its init must not linger. */
		spawn_kill_unrecorded(dfd, c->id, c->state == BK_CTR_RUNNING ? c->pid : 0);
		if (c->broken)
			adopt_broken(e, c, dfd);
		else if (c->state == BK_CTR_RUNNING)
			reconcile(e, c);
	}
	pthread_mutex_unlock(&e->model.lock);
}

/* Merge "KEY VALUE" lines into c's limits; live if running; nothing changes on error. */
static int
set_limits_locked(struct bk_engine *e, struct container *c, const char *text, struct bk_err *err)
{
	struct limits l = c->limits;

	if (limits_parse(text, &l, e->procs.ncpu, err) < 0)
		return -err->code;
	/* Docker drops it with a warning; a write that cannot hold is refused instead. */
	if (l.memory_swap > 0 && l.memory_swap != c->limits.memory_swap && e->procs.cg.ready &&
	    !e->procs.cg.swap)
		return bk_err_set(err, EOPNOTSUPP,
				  "limits: memory-swap: this kernel does not account swap per "
				  "group (no memory.swap.max or memory.memsw.*): only 'default' "
				  "or 'max'");
	/* A start under way has taken the limits already and has no cgroup to change yet. */
	if (c->busy && c->state != BK_CTR_RUNNING)
		return bk_err_set(err, EBUSY,
				  "limits: container %s is starting: write them again once it runs",
				  c->id);
	if (c->state == BK_CTR_RUNNING) {
		if (!e->procs.cg.ready)
			return bk_err_set(err, ENOTSUP, "limits: cgroups are not available");
		if (cgroup_update(&e->procs.cg, c->id, &l, err) < 0) {
			struct bk_err ignored = BK_ERR_INIT;

			/*
			 * Put back what the kernel accepted before it refused; the
			 * refusal is the error the writer gets.
			 */
			if (cgroup_update(&e->procs.cg, c->id, &c->limits, &ignored) < 0)
				bk_log(BK_LOG_WARN, "limits of %s: %s", c->id, ignored.msg);
			return bk_err_wrap(err, "limits");
		}
	}
	c->limits = l;
	return 0;
}

int
bk_container_set(struct bk_engine *e, const char *id, enum bk_ctr_field field, const char *value,
		 bool append, struct bk_err *err)
{
	char image_id[BK_ID_SIZE];
	cleanup_free char *mounts = NULL;
	struct container *c;
	int ret = 0;

	if (field == BK_CTR_IMAGE) {
		/* Resolved now, as docker create does: an unknown image fails here. */
		ret = bk_image_resolve(e, value, image_id, err);
		if (ret < 0)
			return ret;
	}
	if (field == BK_CTR_MOUNTS) {
		/* Refused before anything is made for it (a named volume made on first use). */
		pthread_mutex_lock(&e->model.lock);
		c = container_find_locked(&e->model, id, 0);
		if (c == NULL)
			ret = bk_err_set(err, ENOENT, "no container '%s'", id);
		else if (c->broken || c->foreign)
			ret = container_changeable(c, "mounts", err);
		else if (c->state != BK_CTR_CREATED || c->busy)
			ret = bk_err_set(err, EBUSY,
					 "container %s has been started: mounts cannot change", id);
		pthread_mutex_unlock(&e->model.lock);
		if (ret < 0 || mounts_check(e, value, &mounts, err) < 0)
			return ret < 0 ? ret : -err->code;
		value = mounts;
	}
	pthread_mutex_lock(&e->model.lock);
	c = container_find_locked(&e->model, id, 0);
	if (c == NULL) {
		ret = bk_err_set(err, ENOENT, "no container '%s'", id);
		goto out;
	}
	if (c->broken || c->foreign) {
		ret = container_changeable(c, "change", err);
		goto out;
	}
	if (field == BK_CTR_LIMITS) {
		ret = set_limits_locked(e, c, value, err);
		if (ret == 0)
			ret = container_save(&e->model, c, err);
		goto out;
	}
	/* At any time, as docker update --restart; the next exit follows the new one. */
	if (field == BK_CTR_RESTART) {
		struct restart_policy p;

		ret = restart_parse(value[0] ? value : "no", &p, err);
		if (ret == 0) {
			c->restart = p;
			ret = container_save(&e->model, c, err);
		}
		goto out;
	}
	ret = container_set_locked(&e->model, c, field, value, image_id, append, err);
out:
	pthread_mutex_unlock(&e->model.lock);
	if (ret == 0)
		events_notify(&e->model.ev, BK_OBJ_CONTAINER, id, BK_CHANGE_UPDATED);
	return ret;
}

int
bk_container_kill(struct bk_engine *e, const char *id, int sig, struct bk_err *err)
{
	struct container *c;
	int ret = 0;

	pthread_mutex_lock(&e->model.lock);
	c = container_find_locked(&e->model, id, 0);
	if (c == NULL)
		ret = bk_err_set(err, ENOENT, "no container '%s'", id);
	else if (c->state != BK_CTR_RUNNING || c->pidfd < 0)
		ret = bk_err_set(err, ESRCH, "container %s is not running", id);
	else {
		/* Any signal of the user's, as docker kill: an exit it brings is not restarted. */
		bool was = c->stopped_by_user;

		c->stopped_by_user = true;
		if (pidfd_send_signal(c->pidfd, sig, NULL, 0) < 0) {
			c->stopped_by_user = was;
			ret = bk_err_sys(err, "kill %s", id);
		} else {
			c->kill_sent = sig;
		}
	}
	pthread_mutex_unlock(&e->model.lock);
	return ret;
}

/* Wait (lock held) until c stops running or the deadline passes; true if it stopped. */
static bool
wait_stopped_locked(struct bk_engine *e, struct container *c, int timeout_ms,
		    struct bk_cancel *cancel)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	while (c->state == BK_CTR_RUNNING) {
		struct timespec step;

		if (cancel && atomic_load(&cancel->cancelled))
			return false;
		/* Wake every 100 ms to notice a cancel. */
		clock_gettime(CLOCK_REALTIME, &step);
		step.tv_nsec += 100000000L;
		if (step.tv_nsec >= 1000000000L) {
			step.tv_sec++;
			step.tv_nsec -= 1000000000L;
		}
		if (step.tv_sec > deadline.tv_sec ||
		    (step.tv_sec == deadline.tv_sec && step.tv_nsec > deadline.tv_nsec))
			step = deadline;
		if (pthread_cond_timedwait(&e->model.ctr_changed, &e->model.lock, &step) ==
			ETIMEDOUT &&
		    step.tv_sec == deadline.tv_sec && step.tv_nsec == deadline.tv_nsec)
			return c->state != BK_CTR_RUNNING;
	}
	return true;
}

/* Stop c (lock held, c->busy set by the caller): TERM, then KILL after timeout_s. */
static int
stop_locked(struct bk_engine *e, struct container *c, int timeout_s, struct bk_cancel *cancel,
	    struct bk_err *err)
{
	if (timeout_s > 0 && c->pidfd >= 0) {
		c->kill_sent = SIGTERM;
		pidfd_send_signal(c->pidfd, SIGTERM, NULL, 0);
		if (wait_stopped_locked(e, c, timeout_s * 1000, cancel))
			return 0;
		if (cancel && atomic_load(&cancel->cancelled))
			return bk_err_set(err, EINTR, "stop %s: interrupted", c->id);
	}
	if (c->state == BK_CTR_RUNNING && c->pidfd >= 0) {
		c->kill_sent = SIGKILL;
		pidfd_send_signal(c->pidfd, SIGKILL, NULL, 0);
	}
	/* SIGKILL cannot be refused; only a stuck kernel could keep us here. */
	if (!wait_stopped_locked(e, c, 30000, NULL))
		return bk_err_set(err, EIO, "stop %s: still running after SIGKILL", c->id);
	return 0;
}

int
bk_container_restart(struct bk_engine *e, const char *id, int timeout_s, struct bk_cancel *cancel,
		     struct bk_err *err)
{
	struct container *c;
	int ret = 0;

	pthread_mutex_lock(&e->model.lock);
	c = container_find_locked(&e->model, id, 0);
	if (c == NULL)
		ret = bk_err_set(err, ENOENT, "no container '%s'", id);
	else if (c->broken || c->foreign)
		ret = container_changeable(c, "restart", err);
	pthread_mutex_unlock(&e->model.lock);
	if (ret < 0)
		return ret;
	ret = bk_container_stop(e, id, timeout_s, cancel, err);
	if (ret < 0 && ret != -ESRCH)
		return ret;
	*err = (struct bk_err)BK_ERR_INIT;
	return bk_container_start(e, id, err);
}

int
bk_container_stop(struct bk_engine *e, const char *id, int timeout_s, struct bk_cancel *cancel,
		  struct bk_err *err)
{
	struct container *c;
	int ret;

	pthread_mutex_lock(&e->model.lock);
	c = container_find_locked(&e->model, id, 0);
	if (c == NULL) {
		ret = bk_err_set(err, ENOENT, "no container '%s'", id);
	} else if (c->state != BK_CTR_RUNNING && restart_cancel_locked(e, id)) {
		/* Between a policy's restarts (docker stop of a restarting container): it stays
		 * down. */
		c->stopped_by_user = true;
		ret = c->broken ? 0 : container_save(&e->model, c, err);
	} else if (c->state != BK_CTR_RUNNING) {
		ret = bk_err_set(err, ESRCH, "container %s is not running", id);
	} else if (c->foreign && strcmp(c->foreign->status, "paused") == 0) {
		/* Its signals would wait in the frozen group: the group is its caller's to thaw. */
		ret = bk_err_set(err, EBUSY,
				 "container %s is paused by %s: resume it first "
				 "(bockerfs-runtime resume)",
				 id, c->foreign->caller);
	} else if (c->busy) {
		ret = bk_err_set(err, EBUSY, "container %s: another operation is under way", id);
	} else {
		/* Before the signal: the exit it brings is the user's, no policy's to undo. */
		c->stopped_by_user = true;
		c->busy = true;
		ret = stop_locked(e, c, timeout_s, cancel, err);
		c->busy = false;
		/* A runtime's container whose entry went meanwhile waits for this (foreign.c). */
		pthread_cond_broadcast(&e->model.ctr_changed);
	}
	pthread_mutex_unlock(&e->model.lock);
	return ret;
}

int
bk_container_remove(struct bk_engine *e, const char *id, bool force, struct bk_err *err)
{
	struct container *c;
	char trash[BK_ID_SIZE + 8];
	int ret = 0;

	pthread_mutex_lock(&e->model.lock);
	c = container_find_locked(&e->model, id, 0);
	if (c == NULL) {
		pthread_mutex_unlock(&e->model.lock);
		return bk_err_set(err, ENOENT, "no container '%s'", id);
	}
	if (c->busy) {
		pthread_mutex_unlock(&e->model.lock);
		return bk_err_set(err, EBUSY, "container %s: another operation is under way", id);
	}
	if (c->foreign) {
		ret = container_changeable(c, "remove", err);
		pthread_mutex_unlock(&e->model.lock);
		return ret;
	}
	if (c->state == BK_CTR_RUNNING && !force) {
		pthread_mutex_unlock(&e->model.lock);
		return bk_err_set(err, EBUSY, "container %s is running: stop it or use 'rm force'",
				  id);
	}
	c->busy = true;
	c->stopped_by_user = true;
	restart_cancel_locked(e, c->id);
	if (c->state == BK_CTR_RUNNING) {
		ret = stop_locked(e, c, 0, NULL, err);
		if (ret < 0) {
			c->busy = false;
			pthread_mutex_unlock(&e->model.lock);
			return ret;
		}
	}
	/*
	 * Its group goes while the name is still its own: once it leaves the
	 * table, a new container may take the name, and with it the group's.
	 */
	cgroup_remove(&e->procs.cg, c->id);
	/* One atomic step out of containers/; a crash after it is cleaned at start. */
	snprintf(trash, sizeof(trash), "%s.rm", c->id);
	if (failpoint("rm.stopped", err) < 0) {
		c->busy = false;
		pthread_mutex_unlock(&e->model.lock);
		return -err->code;
	}
	if (renameat(e->store.containers_fd, c->id, e->store.tmp_fd, trash) < 0) {
		ret = bk_err_sys(err, "remove container %s", c->id);
		c->busy = false;
		pthread_mutex_unlock(&e->model.lock);
		return ret;
	}
	c->state = BK_CTR_REMOVING;
	container_table_del_locked(&e->model, c);
	exec_forget_container(e, c->id);
	events_queue_locked(&e->model.ev, BK_OBJ_CONTAINER, c->id, "remove", "%s", "");
	pthread_cond_broadcast(&e->model.ctr_changed);
	pthread_mutex_unlock(&e->model.lock);

	failpoint("rm.moved", NULL);
	network_release(e, c->id, c->veth);
	failpoint("rm.released", NULL);
	store_discard(e->store.tmp_fd, trash);
	volumes_of_removed(e, c->id);
	bk_log(BK_LOG_INFO, "removed container %s", c->id);
	events_notify(&e->model.ev, BK_OBJ_CONTAINER, c->id, BK_CHANGE_REMOVED);
	events_flush(&e->model.ev);
	container_free(c);
	return 0;
}

int
bk_container_stats(struct bk_engine *e, uint64_t serial, struct bk_stats *out, struct bk_err *err)
{
	char id[BK_ID_SIZE];
	cleanup_free char *group = NULL;
	struct container *c;

	pthread_mutex_lock(&e->model.lock);
	c = container_find_locked(&e->model, NULL, serial);
	if (c == NULL || c->state != BK_CTR_RUNNING) {
		pthread_mutex_unlock(&e->model.lock);
		memset(out, 0, sizeof(*out));
		return bk_err_set(err, c ? ESRCH : ENOENT, "container is not running");
	}
	snprintf(id, sizeof(id), "%s", c->id);
	/* A runtime's container: its group is where its cgroupsPath put it. */
	if (c->foreign)
		group = xstrdup(c->foreign->cgroup);
	pthread_mutex_unlock(&e->model.lock);
	if (group && *group == '\0') {
		memset(out, 0, sizeof(*out));
		return bk_err_set(err, ENOENT, "container %s has no group", id);
	}
	return group ? cgroup_stats_of(&e->procs.cg, group, out, err)
		     : cgroup_stats(&e->procs.cg, id, out, err);
}

int
bk_signal_parse(const char *s)
{
	static const struct {
		const char *name;
		int sig;
	} sigs[] = {
		{ "HUP", SIGHUP },   { "INT", SIGINT },     { "QUIT", SIGQUIT },
		{ "ABRT", SIGABRT }, { "KILL", SIGKILL },   { "USR1", SIGUSR1 },
		{ "USR2", SIGUSR2 }, { "PIPE", SIGPIPE },   { "ALRM", SIGALRM },
		{ "TERM", SIGTERM }, { "CONT", SIGCONT },   { "STOP", SIGSTOP },
		{ "TSTP", SIGTSTP }, { "WINCH", SIGWINCH },
	};
	char *end = NULL;
	long n;
	size_t i;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	if (s[0] >= '0' && s[0] <= '9') {
		n = strtol(s, &end, 10);
		return *end == '\0' && n > 0 && n < 65 ? (int)n : -EINVAL;
	}
	if (strncmp(s, "SIG", 3) == 0)
		s += 3;
	for (i = 0; i < ARRAY_SIZE(sigs); i++)
		if (strcmp(s, sigs[i].name) == 0)
			return sigs[i].sig;
	return -EINVAL;
}