/*
 * Volumes and a container's mounts: the public volume calls, the checks a
 * `mounts` line gets when it is written (bind sources resolved and refused
 * where they would hand a container the store or the control tree; named
 * volumes made on first use, as Docker does), and what a start needs: the
 * image's VOLUMEs as anonymous volumes, a fresh volume filled with the
 * image's files at its target, and the init's list of mounts.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "base/inroot.h"
#include "ops/ops.h"

int
bk_volume_create(struct bk_engine *e, const char *name, struct bk_err *err)
{
	return volume_create(&e->model, name, NULL, err);
}

int
bk_volume_remove(struct bk_engine *e, const char *name, struct bk_err *err)
{
	char who[BK_ID_SIZE];
	struct volume *v;
	int ret;

	pthread_mutex_lock(&e->model.lock);
	v = volume_find_locked(&e->model, name, 0);
	if (v == NULL) {
		pthread_mutex_unlock(&e->model.lock);
		return bk_err_set(err, ENOENT, "no volume '%s'", name);
	}
	/* As docker volume rm: any container's, running or not. */
	if (container_uses_volume_locked(&e->model, name, who, sizeof(who))) {
		pthread_mutex_unlock(&e->model.lock);
		return bk_err_set(err, EBUSY, "volume %s is used by container %s", name, who);
	}
	ret = volume_remove_locked(&e->model, v, err);
	pthread_mutex_unlock(&e->model.lock);
	if (ret < 0)
		return ret;
	volume_discard(&e->model, v);
	return 0;
}

int
bk_volume_get(struct bk_engine *e, const char *name, uint64_t serial, struct bk_volume_info *out,
	      struct bk_err *err)
{
	return volume_info(&e->model, name, serial, out, err);
}

void
bk_volume_info_free(struct bk_volume_info *info)
{
	free(info->path);
	free(info->users);
	free(info->broken);
	memset(info, 0, sizeof(*info));
}

int
bk_volume_list(struct bk_engine *e, struct bk_volume_entry **out, size_t *n)
{
	return volume_list(&e->model, out, n);
}

uint64_t
bk_volume_size(struct bk_engine *e, uint64_t serial)
{
	char path[BK_VOLUME_NAME_SIZE + 8];
	struct volume *v;
	cleanup_close int fd = -1;

	pthread_mutex_lock(&e->model.lock);
	v = volume_find_locked(&e->model, NULL, serial);
	if (v)
		snprintf(path, sizeof(path), "%s/data", v->name);
	pthread_mutex_unlock(&e->model.lock);
	if (v == NULL)
		return 0;
	fd = openat(e->store.volumes_fd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	return fd < 0 ? 0 : buildfs_size(fd);
}

bool
path_is_own(struct bk_engine *e, const char *real, char *own_out)
{
	const char *own[] = { e->store.root, e->store.path, e->procs.hide_mount };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(own); i++) {
		if (own[i] == NULL)
			continue;
		if (realpath(own[i], own_out) == NULL)
			snprintf(own_out, PATH_MAX, "%s", own[i]);
		if (path_within(real, own_out) || path_within(own_out, real))
			return true;
	}
	return false;
}

/*
 * A bind source as written: resolved to its one real path (symlinks are
 * followed now, once; the init refuses any it meets later), checked to
 * exist, and refused where the container would get the daemon's own: the
 * state directory, the store, or the control tree (all three root's, and
 * a container's root is root).
 */
static int
check_bind_source(struct bk_engine *e, struct mount_spec *m, struct bk_err *err)
{
	char real[PATH_MAX], ownreal[PATH_MAX];
	struct stat st;

	if (realpath(m->source, real) == NULL)
		return bk_err_sys(err, "mounts: bind source '%s'", m->source);
	if (stat(real, &st) < 0)
		return bk_err_sys(err, "mounts: bind source '%s'", m->source);
	if (path_is_own(e, real, ownreal))
		return bk_err_set(err, EINVAL,
				  "mounts: bind source '%s'%s%s holds or is inside "
				  "bockerfs's own '%s' (the store or the control tree)",
				  m->source, strcmp(real, m->source) ? " -> " : "",
				  strcmp(real, m->source) ? real : "", ownreal);
	free(m->source);
	m->source = xstrdup(real);
	return 0;
}

int
mounts_check(struct bk_engine *e, const char *text, char **out, struct bk_err *err)
{
	struct mount_spec *m;
	size_t n, i;
	int ret = 0;

	*out = NULL;
	if (mounts_parse(text, &m, &n, err) < 0)
		return -err->code;
	for (i = 0; i < n && ret == 0; i++)
		if (m[i].kind == MOUNT_BIND)
			ret = check_bind_source(e, &m[i], err);
	/* Named volumes are made on first use, as docker run -v NAME:/path does. */
	for (i = 0; i < n && ret == 0; i++) {
		struct bk_err verr = BK_ERR_INIT;

		if (m[i].kind != MOUNT_VOLUME)
			continue;
		if (volume_create(&e->model, m[i].source, NULL, &verr) < 0 && verr.code != EEXIST)
			ret = bk_err_set(err, verr.code, "mounts: %s", verr.msg);
	}
	if (ret == 0)
		*out = mounts_format(m, n);
	mounts_free(m, n);
	return ret;
}

/* ---- at start ------------------------------------------------------------------------------ */

/* 64 hex digits, as docker names an anonymous volume. */
static int
anonymous_name(char out[65])
{
	unsigned char raw[32];
	size_t i;

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw))
		return -errno;
	for (i = 0; i < sizeof(raw); i++)
		sprintf(out + 2 * i, "%02x", raw[i]);
	return 0;
}

/*
 * The image's VOLUMEs that no mount of the container's covers get an
 * anonymous volume each, recorded in its mounts (so a restart reuses it)
 * and owned by it (so rm removes it).  Lock not held.
 */
static int
image_volumes(struct bk_engine *e, struct mounts_start *ms, const char *id, json_t *config,
	      struct bk_err *err)
{
	json_t *vols = json_object_get(json_object_get(config, "config"), "Volumes");
	const char *path;
	json_t *unused;

	json_object_foreach (vols, path, unused) {
		char line[MOUNT_PATH_MAX + 128], name[65];
		struct mount_spec *one;
		struct container *c;
		size_t n, i;
		bool covered = false;
		int ret;

		(void)unused;
		/* The parser's rules for a target; a VOLUME it refuses is skipped, as noted. */
		snprintf(line, sizeof(line), "tmpfs %s", path);
		if (mounts_parse(line, &one, &n, err) < 0) {
			bk_log(BK_LOG_WARN, "start %s: the image's VOLUME '%s' is skipped: %s", id,
			       path, err->msg);
			*err = (struct bk_err)BK_ERR_INIT;
			continue;
		}
		for (i = 0; i < ms->n; i++)
			covered = covered || strcmp(ms->m[i].target, one[0].target) == 0;
		if (covered) {
			mounts_free(one, n);
			continue;
		}
		if ((ret = anonymous_name(name)) < 0 ||
		    volume_create(&e->model, name, id, err) < 0) {
			mounts_free(one, n);
			return ret < 0
				   ? bk_err_set(err, -ret, "anonymous volume: %s", strerror(-ret))
				   : -err->code;
		}
		one[0].kind = MOUNT_VOLUME;
		one[0].source = xstrdup(name);
		ms->m = xrealloc(ms->m, (ms->n + 1) * sizeof(*ms->m));
		ms->m[ms->n++] = one[0];
		free(one);
		/* Into the record now: a start that fails later still keeps it, and rm removes it.
		 */
		pthread_mutex_lock(&e->model.lock);
		c = container_find_locked(&e->model, id, 0);
		if (c) {
			cleanup_free char *text = mounts_format(ms->m, ms->n);

			ret = container_set_mounts_locked(&e->model, c, text, err);
		}
		pthread_mutex_unlock(&e->model.lock);
		if (c && ret < 0)
			return ret;
	}
	return 0;
}

/* Empty the directory dfd (a failed copy into a fresh volume). */
static void
empty_dir(int dfd)
{
	cleanup_dir DIR *d = opendir_at(dfd);
	struct dirent *de;

	while (d && (de = readdir(d)) != NULL) {
		struct bk_err err = BK_ERR_INIT;

		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    store_rmtree_at(dfd, de->d_name, &err) < 0)
			bk_log(BK_LOG_WARN, "%s", err.msg);
	}
}

/*
 * A fresh volume gets what the image has at its target, owner and mode of
 * the directory included, as Docker copies an empty volume's content in at
 * its first mount.  The container's root is read with no symlink followed
 * out of it, nothing opened that is not a directory or a regular file.
 */
static int
fill_fresh(struct bk_engine *e, int rootfs_fd, const struct mount_spec *m, struct bk_err *err)
{
	char path[BK_VOLUME_NAME_SIZE + 8];
	cleanup_close int src = -1, dst = -1;
	struct volume *v;
	struct stat st;
	bool fresh;

	pthread_mutex_lock(&e->model.lock);
	v = volume_find_locked(&e->model, m->source, 0);
	fresh = v && v->fresh && !v->broken;
	pthread_mutex_unlock(&e->model.lock);
	if (!fresh)
		return 0;
	snprintf(path, sizeof(path), "%s/data", m->source);
	dst = openat(e->store.volumes_fd, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dst < 0)
		return bk_err_sys(err, "volume %s", m->source);
	src = inroot_dir(rootfs_fd, m->target, 0, 0);
	if (src >= 0 && fstat(src, &st) == 0) {
		if (copy_tree(src, dst, NULL, NULL, err) < 0 ||
		    fchown(dst, st.st_uid, st.st_gid) < 0 || fchmod(dst, st.st_mode & 07777) < 0) {
			int code = err->code ? err->code : errno;

			empty_dir(dst);
			return bk_err_set(err, code, "volume %s: copy the image's '%s' in: %s",
					  m->source, m->target,
					  err->code ? err->msg : strerror(code));
		}
	}
	pthread_mutex_lock(&e->model.lock);
	v = volume_find_locked(&e->model, m->source, 0);
	if (v) {
		struct bk_err serr = BK_ERR_INIT;

		v->fresh = false;
		if (volume_save(&e->model, v, &serr) < 0)
			bk_log(BK_LOG_WARN, "%s", serr.msg);
	}
	pthread_mutex_unlock(&e->model.lock);
	return 0;
}

/* Fewer components first: a mount inside another is made after it. */
static int
by_depth(const void *a, const void *b)
{
	const struct plan_mount *x = a, *y = b;
	size_t dx = 0, dy = 0;
	const char *p;

	for (p = x->target; *p; p++)
		dx += *p == '/';
	for (p = y->target; *p; p++)
		dy += *p == '/';
	return dx < dy ? -1 : dx > dy;
}

int
mounts_start(struct bk_engine *e, struct mounts_start *ms, const char *id, int rootfs_fd,
	     json_t *config, struct bk_err *err)
{
	size_t i;

	if (image_volumes(e, ms, id, config, err) < 0)
		return -err->code;
	if (ms->n == 0)
		return 0;
	ms->plan = xcalloc(ms->n, sizeof(*ms->plan));
	ms->paths = xcalloc(ms->n, sizeof(*ms->paths));
	for (i = 0; i < ms->n; i++) {
		const struct mount_spec *m = &ms->m[i];
		struct plan_mount *p = &ms->plan[i];
		struct stat st;

		p->target = m->target;
		p->ro = m->ro;
		if (m->kind == MOUNT_TMPFS) {
			p->tmpfs = true;
			p->size = m->size;
			continue;
		}
		if (m->kind == MOUNT_VOLUME) {
			struct volume *v;
			bool broken;

			pthread_mutex_lock(&e->model.lock);
			v = volume_find_locked(&e->model, m->source, 0);
			broken = v && v->broken;
			pthread_mutex_unlock(&e->model.lock);
			if (v == NULL)
				return bk_err_set(err, ENOENT, "volume '%s' is gone", m->source);
			if (broken)
				return bk_err_set(err, EBADMSG, "volume '%s' is broken", m->source);
			if (fill_fresh(e, rootfs_fd, m, err) < 0)
				return -err->code;
			ms->paths[i] = xasprintf("%s/volumes/%s/data", e->store.path, m->source);
		} else {
			ms->paths[i] = xstrdup(m->source);
		}
		p->source = ms->paths[i];
		if (stat(p->source, &st) < 0)
			return bk_err_sys(err, "mount source '%s'", p->source);
		p->dev = st.st_dev;
		p->ino = st.st_ino;
		ms->binds = ms->binds || m->kind == MOUNT_BIND;
	}
	qsort(ms->plan, ms->n, sizeof(*ms->plan), by_depth);
	return 0;
}

void
mounts_start_free(struct mounts_start *ms)
{
	size_t i;

	for (i = 0; ms->paths && i < ms->n; i++)
		free(ms->paths[i]);
	free(ms->paths);
	free(ms->plan);
	mounts_free(ms->m, ms->n);
	memset(ms, 0, sizeof(*ms));
}

/* rm: the anonymous volumes made for id go with it (lock not held). */
void
volumes_of_removed(struct bk_engine *e, const char *id)
{
	struct volume *gone[64];
	size_t n = 0, i;

	pthread_mutex_lock(&e->model.lock);
	for (i = 0; i < e->model.nvols && n < ARRAY_SIZE(gone);) {
		struct volume *v = e->model.vols[i];
		struct bk_err err = BK_ERR_INIT;

		if (strcmp(v->owner, id) != 0 ||
		    container_uses_volume_locked(&e->model, v->name, (char[BK_ID_SIZE]){ 0 },
						 BK_ID_SIZE)) {
			i++;
			continue;
		}
		if (volume_remove_locked(&e->model, v, &err) < 0) {
			bk_log(BK_LOG_WARN, "%s", err.msg);
			i++;
			continue;
		}
		gone[n++] = v;
	}
	pthread_mutex_unlock(&e->model.lock);
	for (i = 0; i < n; i++)
		volume_discard(&e->model, gone[i]);
}
