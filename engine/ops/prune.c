/*
 * Prune (docker system prune): containers that do not run, images nothing
 * uses (without a name, or all of them), volumes no container's mounts name;
 * each by its own removal call, so each goes whole or stays whole, with the
 * checks those calls make.  An object that became busy since it was listed
 * is skipped and said so; the prune goes on.  Which objects qualify is
 * usage.c's decision, shared with the figures of df.
 *
 * The bytes reclaimed are measured, not guessed: the store is scanned
 * before (usage.c), and after the removals the bytes held only by objects
 * that are gone are summed, the anonymous volumes of removed containers and
 * the layers the collection removed included.
 *
 * Failpoints: prune.scanned after the scan; prune.container, prune.image and
 * prune.volume before each removal (kill@K: K-1 removals done, the K-th not
 * begun; error: that object skipped).
 */
#include <errno.h>
#include <string.h>

#include "ops/ops.h"
#include "base/base.h"

struct names {
	char (*v)[BK_VOLUME_NAME_SIZE];
	size_t n;
};

static void
names_add(struct names *l, const char *name)
{
	l->v = xrealloc(l->v, (l->n + 1) * sizeof(*l->v));
	snprintf(l->v[l->n++], BK_VOLUME_NAME_SIZE, "%s", name);
}

/* An image prune removes it (lock held): ready, unused, and nameless unless all. */
static bool
image_prunable_locked(struct bk_engine *e, const struct image *img, bool all)
{
	return img->state == BK_IMAGE_READY && !usage_image_in_use_locked(e, img) &&
	       (all || img->nrefs == 0);
}

/* What a prune of kind removes now, oldest first. */
static void
candidates(struct bk_engine *e, enum bk_obj_kind kind, bool all, struct names *out)
{
	size_t i;

	pthread_mutex_lock(&e->model.lock);
	switch (kind) {
	case BK_OBJ_CONTAINER:
		for (i = 0; i < e->model.nctrs; i++)
			if (usage_container_prunable_locked(e, e->model.ctrs[i]))
				names_add(out, e->model.ctrs[i]->id);
		break;
	case BK_OBJ_IMAGE:
		for (i = 0; i < e->model.nimages; i++)
			if (image_prunable_locked(e, e->model.images[i], all))
				names_add(out, e->model.images[i]->id);
		break;
	case BK_OBJ_VOLUME:
		for (i = 0; i < e->model.nvols; i++)
			if (usage_volume_prunable_locked(e, e->model.vols[i]))
				names_add(out, e->model.vols[i]->name);
		break;
	case BK_OBJ_EXEC:
		break;
	}
	pthread_mutex_unlock(&e->model.lock);
}

/* A nameless image given a name since it was listed is not dangling any more. */
static int
still_dangling(struct bk_engine *e, const char *id, struct bk_err *err)
{
	struct image *img;
	int ret = 0;

	pthread_mutex_lock(&e->model.lock);
	img = image_find_locked(&e->model, id, 0, NULL);
	if (img && img->nrefs > 0)
		ret = bk_err_set(err, EBUSY, "image %s was given a name meanwhile", id);
	pthread_mutex_unlock(&e->model.lock);
	return ret;
}

static int
remove_one(struct bk_engine *e, enum bk_obj_kind kind, const char *id, bool all, struct bk_err *err)
{
	switch (kind) {
	case BK_OBJ_CONTAINER:
		if (failpoint("prune.container", err) < 0)
			return -err->code;
		return bk_container_remove(e, id, false, err);
	case BK_OBJ_IMAGE:
		if (failpoint("prune.image", err) < 0 || (!all && still_dangling(e, id, err) < 0))
			return -err->code;
		return bk_image_remove(e, id, false, err);
	case BK_OBJ_VOLUME:
		if (failpoint("prune.volume", err) < 0)
			return -err->code;
		return bk_volume_remove(e, id, err);
	case BK_OBJ_EXEC:
		break;
	}
	return bk_err_set(err, EINVAL, "nothing to prune");
}

static void
result_add(struct bk_prune_result *r, enum bk_obj_kind kind, const char *id, int ret,
	   const struct bk_err *rerr)
{
	struct bk_prune_item *it;

	r->items = xrealloc(r->items, (r->n + 1) * sizeof(*r->items));
	it = &r->items[r->n++];
	memset(it, 0, sizeof(*it));
	it->kind = kind;
	snprintf(it->id, sizeof(it->id), "%s", id);
	it->removed = ret == 0;
	if (ret < 0) {
		it->code = rerr->code;
		snprintf(it->why, sizeof(it->why), "%s", rerr->msg);
		bk_log(BK_LOG_WARN, "prune: %s skipped: %s", id, rerr->msg);
	}
}

/* Prune one kind: each candidate removed, or listed as skipped; EINTR between two. */
static int
prune_kind(struct bk_engine *e, enum bk_obj_kind kind, bool all, struct bk_cancel *cancel,
	   struct bk_prune_result *r, struct bk_err *err)
{
	struct names l = { 0 };
	int ret = 0;

	candidates(e, kind, all, &l);
	for (size_t i = 0; i < l.n; i++) {
		struct bk_err rerr = BK_ERR_INIT;

		if (cancel && atomic_load(&cancel->cancelled)) {
			ret =
			    bk_err_set(err, EINTR, "prune: interrupted (what was removed is gone)");
			break;
		}
		result_add(r, kind, l.v[i], remove_one(e, kind, l.v[i], all, &rerr), &rerr);
	}
	free(l.v);
	return ret;
}

/* Is the object of the scan gone from the store? */
static bool
gone(struct bk_engine *e, int layers_fd, const struct usage_obj *o)
{
	struct bk_err err = BK_ERR_INIT;
	struct layer_rec rec;
	bool there = false;

	if (o->kind == USAGE_LAYER)
		return layers_fd >= 0 && layer_rec_load(layers_fd, o->id, &rec, &err) == -ENOENT;
	pthread_mutex_lock(&e->model.lock);
	switch (o->kind) {
	case USAGE_IMAGE:
		there = image_find_locked(&e->model, o->id, 0, NULL) != NULL;
		break;
	case USAGE_CONTAINER:
		there = container_find_locked(&e->model, o->id, 0) != NULL;
		break;
	case USAGE_VOLUME:
		there = volume_find_locked(&e->model, o->id, 0) != NULL;
		break;
	case USAGE_LAYER:
	case USAGE_KINDS:
		break;
	}
	pthread_mutex_unlock(&e->model.lock);
	return !there;
}

/* Bytes that only objects now gone held. */
static uint64_t
reclaimed(struct bk_engine *e, struct usage_scan *s)
{
	struct bk_err err = BK_ERR_INIT;
	cleanup_close int layers_fd = layers_open_dir(e, &err);

	for (size_t i = 0; i < s->n; i++)
		if (gone(e, layers_fd, &s->objs[i]))
			s->objs[i].sets |= USAGE_GONE;
	usage_sum(s);
	return s->freed[USAGE_KINDS];
}

void
bk_prune_result_free(struct bk_prune_result *r)
{
	free(r->items);
	memset(r, 0, sizeof(*r));
}

int
bk_system_prune(struct bk_engine *e, unsigned what, struct bk_cancel *cancel,
		struct bk_prune_result *out, struct bk_err *err)
{
	struct usage_scan s;
	size_t removed = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	if ((ret = usage_scan(e, &s, cancel, err)) < 0 ||
	    (ret = failpoint("prune.scanned", err)) < 0)
		goto out;
	if (what & BK_PRUNE_CONTAINERS)
		ret = prune_kind(e, BK_OBJ_CONTAINER, false, cancel, out, err);
	if (ret == 0 && (what & BK_PRUNE_IMAGES))
		ret = prune_kind(e, BK_OBJ_IMAGE, (what & BK_PRUNE_IMAGES_ALL) != 0, cancel, out,
				 err);
	if (ret == 0 && (what & BK_PRUNE_VOLUMES))
		ret = prune_kind(e, BK_OBJ_VOLUME, false, cancel, out, err);
	out->reclaimed = reclaimed(e, &s);
	for (size_t i = 0; i < out->n; i++)
		removed += out->items[i].removed;
	bk_log(BK_LOG_INFO, "prune: %zu removed, %zu skipped, %llu bytes reclaimed", removed,
	       out->n - removed, (unsigned long long)out->reclaimed);
out:
	usage_scan_free(&s);
	return ret;
}
