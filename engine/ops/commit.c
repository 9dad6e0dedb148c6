/*
 * Commit: a read-only snapshot of a container's filesystem becomes an
 * image, new or in place of an existing one (the seed's `bocker commit`).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "base/base.h"
#include "base/inroot.h"
#include "model/model.h"
#include "ops/ops.h"
#include "store/store.h"

/* ---- commit ----------------------------------------------------------------- */

/*
 * The runtime's files are bind mounts; where the image had none, the init
 * made empty files to mount on.  Those placeholders are not the container's
 * and must not be baked into an image.
 */
static void
drop_runtime_files(int image_rootfs_fd, int rootfs_fd)
{
	static const char *const files[] = { "/etc/hosts", "/etc/hostname", "/etc/resolv.conf" };
	struct stat st;
	size_t i;

	/*
	 * Both trees are the container's to shape (/etc may be a symlink to
	 * anywhere): every lookup stays inside its root, and the entry removed
	 * is the placeholder itself, never what a symlink names.
	 */
	for (i = 0; i < ARRAY_SIZE(files); i++) {
		char name[NAME_MAX + 1];
		cleanup_close int dfd = -1;

		if (inroot_lstat(image_rootfs_fd, files[i], &st) != -ENOENT)
			continue;
		dfd = inroot_parent(rootfs_fd, files[i], name, sizeof(name));
		if (dfd >= 0 && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && st.st_size == 0)
			unlinkat(dfd, name, 0);
	}
}

/* The committed image's config: the source image's, with the container's cmd and env. */
static json_t *
commit_config(json_t *base, const struct bk_container_info *ci, const char *created)
{
	json_t *cfg = json_deep_copy(base ? base : json_object());
	json_t *c = json_object_get(cfg, "config");
	json_t *hist = json_object_get(cfg, "history");
	char *save = NULL, *line, *env = xstrdup(ci->env);

	if (!json_is_object(c)) {
		c = json_object();
		json_object_set_new(cfg, "config", c);
	}
	if (ci->cmd[0]) {
		json_object_set_new(c, "Cmd", json_pack("[s, s, s]", "/bin/sh", "-c", ci->cmd));
		json_object_del(c, "Entrypoint");
	}
	for (line = strtok_r(env, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_t *arr = json_object_get(c, "Env"), *v;
		size_t klen = strcspn(line, "="), i;

		if (!json_is_array(arr)) {
			arr = json_array();
			json_object_set_new(c, "Env", arr);
		}
		json_array_foreach (arr, i, v)
			if (json_is_string(v) && strncmp(json_string_value(v), line, klen + 1) == 0)
				break;
		if (i < json_array_size(arr))
			json_array_set_new(arr, i, json_string(line));
		else
			json_array_append_new(arr, json_string(line));
	}
	free(env);
	json_object_set_new(cfg, "created", json_string(created));
	if (!json_is_array(hist)) {
		hist = json_array();
		json_object_set_new(cfg, "history", hist);
	}
	json_array_append_new(
	    hist, json_pack("{s:s, s:s}", "created", created, "created_by", "bockerfs commit"));
	return cfg;
}

static bool
container_listed(struct bk_engine *e, const char *id)
{
	bool found;

	pthread_mutex_lock(&e->model.lock);
	found = container_find_locked(&e->model, id, 0) != NULL;
	pthread_mutex_unlock(&e->model.lock);
	return found;
}

/* The container went (rm force) while its commit ran: say so, not what btrfs said. */
static int
commit_lost(const char *id, struct bk_err *err)
{
	return bk_err_set(err, ENOENT, "no container '%s': it was removed during the commit", id);
}

/* img's base: image_id's layer, made if it has none ("" if image_id is gone). */
static int
commit_base(struct bk_engine *e, const char *image_id, struct image *img, struct bk_err *err)
{
	char key[LAYER_KEY_SIZE];
	cleanup_close int layers_fd = layers_open_dir(e, err);
	int ret;

	if (layers_fd < 0)
		return layers_fd;
	ret = image_layer(e, layers_fd, image_id, key, err);
	if (ret == -ENOENT) {
		*err = (struct bk_err)BK_ERR_INIT;
		return 0;
	}
	if (ret < 0)
		return bk_err_wrap(err, "commit: the layer of image %s", image_id);
	if (key[0])
		img->base_key = xstrdup(key);
	return 0;
}

/* tmp/<work>/{rootfs,image.json} from the container's filesystem; caller removes on failure. */
static int
commit_build(struct bk_engine *e, const struct bk_container_info *ci, const char *work,
	     struct image *img, bool with_base, struct bk_err *err)
{
	cleanup_free char *src = xasprintf("%s/rootfs", ci->id);
	cleanup_free char *isrc = xasprintf("%s/rootfs", ci->image_id);
	cleanup_close int src_fd =
	    openat(e->store.containers_fd, src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int img_fd =
	    openat(e->store.images_fd, isrc, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int work_fd = -1, rootfs_fd = -1;
	json_t *base = NULL;
	char unused[BK_ID_SIZE];

	/* Tests stall here to remove the container under its commit. */
	failpoint("commit.begin", NULL);
	if (src_fd < 0 && !container_listed(e, ci->id))
		return commit_lost(ci->id, err);
	if (src_fd < 0)
		return bk_err_set(err, ENOENT, "container %s has no filesystem yet: start it first",
				  ci->id);
	if (mkdirat(e->store.tmp_fd, work, 0700) < 0)
		return bk_err_sys(err, "mkdir tmp/%s", work);
	work_fd = openat(e->store.tmp_fd, work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (work_fd < 0)
		return bk_err_sys(err, "open tmp/%s", work);
	/* A snapshot: O(1), a consistent instant, and the container keeps running. */
	if (store_snapshot(src_fd, work_fd, "rootfs", false, err) < 0)
		return container_listed(e, ci->id) ? -err->code : commit_lost(ci->id, err);
	if (failpoint("commit.snapshot", err) < 0)
		return -err->code;
	rootfs_fd = openat(work_fd, "rootfs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfs_fd < 0)
		return bk_err_sys(err, "open the snapshot");
	if (img_fd >= 0)
		drop_runtime_files(img_fd, rootfs_fd);
	if (store_set_read_only(rootfs_fd, true, err) < 0)
		return -err->code;
	if (container_config(&e->model, ci->id, ci->image_id, unused, &base, NULL) < 0)
		base = NULL;
	img->config = commit_config(base, ci, img->created);
	json_decref(base);
	/*
	 * Its changes sit on its image's layer, made now (once the snapshot is
	 * taken: a commit that fails before leaves nothing), before a
	 * replacement in place changes that image.  An image removed since the
	 * container started leaves none: a push sends the whole filesystem as
	 * one layer.
	 */
	if (with_base && commit_base(e, ci->image_id, img, err) < 0)
		return -err->code;
	return image_record_save(work_fd, img, err);
}

static int
commit_held(struct bk_engine *e, const char *ctr_id, const char *target, bool with_base,
	    char id_out[BK_ID_SIZE], struct bk_err *err)
{
	struct bk_container_info ci;
	struct image *img;
	char work[BK_ID_SIZE + 16], name[512];
	bool replace = false;
	int ret;

	if (bk_container_get(e, ctr_id, 0, &ci, err) < 0)
		return -err->code;
	if (ci.broken[0]) {
		ret = bk_err_set(err, ci.broken_code, "container %s is broken: %s", ctr_id,
				 ci.broken);
		bk_container_info_free(&ci);
		return ret;
	}
	if (ci.origin[0]) {
		bk_container_info_free(&ci);
		return bk_err_set(err, EPERM,
				  "commit: container %s was made by bockerfs-runtime: its files "
				  "are its bundle's, not the store's",
				  ctr_id);
	}
	if (ci.image_id[0] == '\0') {
		bk_container_info_free(&ci);
		return bk_err_set(err, EINVAL, "container %s has no image", ctr_id);
	}
	img = xcalloc(1, sizeof(*img));
	img->state = BK_IMAGE_READY;
	time_rfc3339(img->created, sizeof(img->created));
	img->source = xasprintf("commit %s", ctr_id);
	if (target && image_id_valid(target)) {
		struct image *old;
		size_t i;

		/* `commit IMG_ID` replaces that image, keeping its id and names. */
		pthread_mutex_lock(&e->model.lock);
		old = image_find_locked(&e->model, target, 0, NULL);
		if (old)
			for (i = 0; i < old->nrefs; i++) {
				img->refs = xrealloc(img->refs, (img->nrefs + 1) * sizeof(char *));
				img->refs[img->nrefs++] = xstrdup(old->refs[i]);
			}
		pthread_mutex_unlock(&e->model.lock);
		if (old == NULL) {
			image_free(img);
			bk_container_info_free(&ci);
			return bk_err_set(err, ENOENT, "no image '%s'", target);
		}
		memcpy(img->id, target, strlen(target) + 1);
		replace = true;
	} else {
		if (target && familiar_name(target, name, sizeof(name), err) < 0) {
			image_free(img);
			bk_container_info_free(&ci);
			return -err->code;
		}
		if (target) {
			img->refs = xcalloc(1, sizeof(char *));
			img->refs[img->nrefs++] = xstrdup(name);
		}
		ret = new_id("img_", img->id);
		if (ret < 0) {
			image_free(img);
			bk_container_info_free(&ci);
			return bk_err_set(err, -ret, "cannot make an id");
		}
	}
	snprintf(work, sizeof(work), "%s%s", img->id, replace ? ".new" : "");
	ret = commit_build(e, &ci, work, img, with_base, err);
	if (ret == 0 && replace) {
		ret = image_exchange(&e->model, work, img, err);
		/* Snapshots of the old filesystem must not serve a later run. */
		if (ret == 0)
			spare_drop(e, img->id);
	} else if (ret == 0) {
		ret = image_publish(&e->model, img, err);
	}
	bk_container_info_free(&ci);
	if (ret < 0 || replace) {
		/* After an exchange, tmp/<work> holds the old image. */
		store_discard(e->store.tmp_fd, work);
		if (ret < 0) {
			image_free(img);
			return ret;
		}
	}
	memcpy(id_out, img->id, strlen(img->id) + 1);
	if (replace) {
		image_free(img);
		events_notify(&e->model.ev, BK_OBJ_IMAGE, id_out, BK_CHANGE_UPDATED);
	} else {
		events_notify(&e->model.ev, BK_OBJ_IMAGE, id_out, BK_CHANGE_CREATED);
		spare_refill(e, id_out);
	}
	events_emit(&e->model.ev, BK_OBJ_IMAGE, id_out, "commit", "container=%s", ctr_id);
	bk_log(BK_LOG_INFO, "committed container %s as %s", ctr_id, id_out);
	return 0;
}

int
bk_container_commit(struct bk_engine *e, const char *ctr_id, const char *target,
		    char id_out[BK_ID_SIZE], struct bk_err *err)
{
	int ret;

	/* The base layer it makes is named by no image until the new one is published. */
	layers_hold(e);
	ret = commit_held(e, ctr_id, target, true, id_out, err);
	layers_release(e);
	return ret;
}

int
container_commit_step(struct bk_engine *e, const char *ctr_id, char id_out[BK_ID_SIZE],
		      struct bk_err *err)
{
	/* A build's intermediate: removed once the next step exists, it needs no base. */
	return commit_held(e, ctr_id, NULL, false, id_out, err);
}
