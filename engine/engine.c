/*
 * Opening and closing the engine: lock, store, records; change callbacks.
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/random.h>
#include <time.h>

#include "ops/ops.h"
#include "base/base.h"

static void
boot_id(char *out, size_t size)
{
	char *text = NULL;

	out[0] = '\0';
	if (read_file_at(AT_FDCWD, "/proc/sys/kernel/random/boot_id", 64, &text, NULL, NULL) == 0) {
		text[strcspn(text, "\n")] = '\0';
		snprintf(out, size, "%s", text);
	}
	free(text);
}

int
bk_engine_open(const struct bk_engine_opts *opts, struct bk_engine **out, struct bk_err *err)
{
	struct bk_engine *e;
	size_t ninsns = 0;
	int ret;

	if (kernel_check(err) < 0)
		return -err->code;
	e = xcalloc(1, sizeof(*e));
	e->store = (struct store){ .lock_fd = -1,
				   .fd = -1,
				   .images_fd = -1,
				   .containers_fd = -1,
				   .tmp_fd = -1,
				   .spare_fd = -1,
				   .volumes_fd = -1 };
	e->procs.init_fd = e->monitor.epfd = e->monitor.wakefd = e->monitor.inotify_fd = -1;
	e->foreign.entries_fd = e->foreign.inotify_fd = -1;
	e->procs.cg.dev_prog_fd = -1;
	e->procs.hide_mount = opts->hide_mount ? xstrdup(opts->hide_mount) : NULL;
	e->model.next_serial = 1;
	e->model.store = &e->store;
	e->procs.log_max = opts->log_max ? opts->log_max : BK_LOG_MAX_DEFAULT;
	pthread_mutex_init(&e->model.lock, NULL);
	events_init(&e->model.ev);
	pthread_cond_init(&e->model.ctr_changed, NULL);
	pthread_mutex_init(&e->spares.lock, NULL);
	pthread_mutex_init(&e->layers.lock, NULL);
	pthread_mutex_init(&e->layers.blob_lock, NULL);
	pthread_mutex_init(&e->layers.image_lock, NULL);
	pthread_mutex_init(&e->layers.record_lock, NULL);
	pthread_cond_init(&e->layers.done, NULL);
	pthread_cond_init(&e->spares.cond, NULL);
	/* Spare names must not repeat those a previous run left. */
	if (getrandom(&e->spares.serial, sizeof(e->spares.serial), 0) < 0)
		e->spares.serial = (uint64_t)time(NULL) << 20;
	e->spares.serial >>= 1;
	boot_id(e->model.boot_id, sizeof(e->model.boot_id));
	e->procs.ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	if (e->procs.ncpu < 1)
		e->procs.ncpu = 1;
	limits_init(&e->procs.default_limits);
	/* As podman (containers.conf pids_limit): a fork bomb stops there; `pids max` lifts it. */
	e->procs.default_limits.pids = LIMIT_PIDS_DEFAULT;
	if (opts->default_limits &&
	    limits_parse(opts->default_limits, &e->procs.default_limits, e->procs.ncpu, err) < 0) {
		ret = bk_err_wrap(err, "default limits");
		goto fail;
	}
	/* One filter for every container (they all get the default capabilities): built once. */
	ret = seccomp_profile_hex(default_cap_mask(), &e->procs.seccomp_hex, &ninsns, err);
	if (ret < 0) {
		bk_err_wrap(err, "container seccomp profile");
		goto fail;
	}
	bk_log(BK_LOG_DEBUG, "seccomp profile: %zu instructions", ninsns);

	ret = store_open(&e->store, opts->root, opts->storage_size, err);
	if (ret < 0)
		goto fail;
	ret = network_open(e, opts, err);
	if (ret < 0)
		goto fail;
	ret = images_load(&e->model, err);
	if (ret < 0)
		goto fail;
	ret = containers_load(&e->model, err);
	if (ret < 0)
		goto fail;
	ret = volumes_load(&e->model, err);
	if (ret < 0)
		goto fail;
	ret = procs_find_init(&e->procs, err);
	if (ret < 0)
		goto fail;
	containers_adopt(e);
	{
		struct bk_err cerr = BK_ERR_INIT;

		if (cgroup_setup(&e->procs.cg, e->store.fd, &cerr) < 0) {
			if (!opts->no_cgroups) {
				ret = bk_err_set(err, cerr.code,
						 "%s (start with --no-cgroups to run containers "
						 "without resource limits)",
						 cerr.msg);
				goto fail;
			}
			bk_log(BK_LOG_WARN, "%s: running without resource limits (--no-cgroups)",
			       cerr.msg);
		}
	}
	registry_config_init(&e->registry, opts->registry_mirrors, opts->insecure_registries,
			     opts->auth_config);
	*out = e;
	return 0;
fail:
	bk_engine_close(e);
	return ret;
}

void
bk_engine_close(struct bk_engine *e)
{
	if (e == NULL)
		return;
	restarts_stop(e);
	monitor_stop(e);
	foreign_close(e);
	exec_free_all(e);
	spare_init_stop(&e->procs);
	spare_stop(e);
	registry_config_free(&e->registry);
	network_close(e);
	cgroup_teardown(&e->procs.cg);
	volumes_free(&e->model);
	containers_free(&e->model);
	images_free(&e->model);
	if (e->procs.init_fd >= 0)
		close(e->procs.init_fd);
	store_close(&e->store);
	pthread_cond_destroy(&e->model.ctr_changed);
	pthread_cond_destroy(&e->spares.cond);
	pthread_mutex_destroy(&e->spares.lock);
	pthread_mutex_destroy(&e->model.lock);
	events_destroy(&e->model.ev);
	free(e->procs.seccomp_hex);
	free(e->procs.hide_mount);
	free(e);
}

void
bk_engine_write_pid(struct bk_engine *e)
{
	struct bk_err err = BK_ERR_INIT;
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	cleanup_close int fd = open(e->store.root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || write_file_atomic(fd, "bockerfs.pid", buf, (size_t)n, &err) < 0)
		bk_log(BK_LOG_WARN, "pid file: %s", err.msg);
}

int
bk_parse_size(const char *s, uint64_t *out)
{
	return parse_size(s, out);
}

void
bk_engine_set_watch(struct bk_engine *e, bk_watch_fn fn, bk_event_fn event, void *arg)
{
	e->model.ev.watch = fn;
	e->model.ev.event = event;
	e->model.ev.arg = arg;
}

/*
 * A group under bockerfs/<tag> is kept if it is a running container's, or
 * a name we do not know (the parent may be shared with a daemon on another
 * store of the same tag).
 */
static bool
cgroup_wanted(void *arg, const char *name)
{
	struct bk_engine *e = arg;
	struct container *c;
	bool keep;

	pthread_mutex_lock(&e->model.lock);
	c = container_find_locked(&e->model, name, 0);
	keep = c == NULL || c->state == BK_CTR_RUNNING;
	pthread_mutex_unlock(&e->model.lock);
	return keep;
}

int
bk_engine_start(struct bk_engine *e, struct bk_err *err)
{
	size_t i;
	int ret;

	cgroup_clean_orphans(&e->procs.cg, cgroup_wanted, e);
	network_republish(e);
	/* Layers a crash left unnamed (between a layer's commit and its image's). */
	layers_gc(e);
	ret = spare_start(e, err);
	if (ret < 0)
		return ret;
	ret = spare_init_start(&e->procs, err);
	if (ret < 0)
		return ret;
	network_start(e);
	/* Have a snapshot ready for each image before its first run. */
	pthread_mutex_lock(&e->model.lock);
	for (i = 0; i < e->model.nimages; i++)
		spare_refill(e, e->model.images[i]->id);
	pthread_mutex_unlock(&e->model.lock);
	/* bockerfs-runtime's containers, before the monitor that watches their inits. */
	foreign_open(e);
	ret = monitor_start(e, err);
	if (ret < 0)
		return ret;
	/* After the monitor: a container its policy starts now is watched at once. */
	return restarts_start(e, err);
}

const char *
bk_engine_store_path(const struct bk_engine *e)
{
	return e->store.path;
}
