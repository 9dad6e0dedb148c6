/*
 * The public API on images: lookups of the table (model/), and removal,
 * which also drops the image's spare snapshots and the layers no other
 * image uses.
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

int
bk_image_remove(struct bk_engine *e, const char *name, bool force, struct bk_err *err)
{
	struct image *img;
	char trash[BK_ID_SIZE + 8];
	size_t index = 0;
	int ret;

	pthread_mutex_lock(&e->model.lock);
	/* A broken image can be removed too: that is what one does with it. */
	img = image_lookup_locked(&e->model, name);
	ret = img && img->state == BK_IMAGE_BROKEN
		  ? 0
		  : image_resolve_locked(&e->model, name, &img, err);
	if (ret < 0) {
		pthread_mutex_unlock(&e->model.lock);
		return ret;
	}
	image_find_locked(&e->model, img->id, 0, &index);
	{
		char who[BK_ID_SIZE];

		/*
		 * As docker: an image a container was made from stays until that
		 * container goes, unless forced (each container has its filesystem
		 * and the image's config of its own: ops/start.c).
		 */
		if (!force && container_uses_image_locked(&e->model, img->id, who, sizeof(who))) {
			pthread_mutex_unlock(&e->model.lock);
			return bk_err_set(err, EBUSY, "image %s is used by container %s", img->id,
					  who);
		}
	}
	/* Into tmp/ first: one atomic step, and a crash mid-delete is cleaned at start. */
	snprintf(trash, sizeof(trash), "%s.rm", img->id);
	if (renameat(e->store.images_fd, img->id, e->store.tmp_fd, trash) < 0) {
		ret = bk_err_sys(err, "remove image %s", img->id);
		pthread_mutex_unlock(&e->model.lock);
		return ret;
	}
	fsync(e->store.images_fd);
	memmove(&e->model.images[index], &e->model.images[index + 1],
		(e->model.nimages - index - 1) * sizeof(*e->model.images));
	e->model.nimages--;
	pthread_mutex_unlock(&e->model.lock);

	spare_drop(e, img->id);
	store_discard(e->store.tmp_fd, trash);
	bk_log(BK_LOG_INFO, "removed image %s", img->id);
	events_notify(&e->model.ev, BK_OBJ_IMAGE, img->id, BK_CHANGE_REMOVED);
	image_free(img);
	/* Its layers, if no other image reaches them. */
	layers_gc(e);
	return 0;
}