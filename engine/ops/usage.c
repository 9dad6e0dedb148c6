/*
 * Disk usage (docker system df -v): every image's, container's, volume's and
 * layer's files walked for their extents (store/extents.c), so that what
 * btrfs snapshots share is counted once, and the sums a summary and a
 * prune need:
 *
 *   - an image's size is its filesystem's; its shared size the part another
 *     image holds too (a base layer two images were pulled on);
 *   - a container's own bytes are those of its filesystem its image does not
 *     hold (what it wrote);
 *   - a row's size counts each byte once, however many of its objects hold
 *     it; its reclaimable bytes are those that only the objects its prune
 *     removes hold (for images, with the layers only they reach).
 *
 * Which objects a prune removes is decided here, once, for both the
 * figures and prune.c.  The walks are bounded (USAGE_TREE_MAX per tree,
 * USAGE_TOTAL_MAX in all, USAGE_RECORDS_MAX shared extents kept, no tree
 * begun after USAGE_TIME_MAX_MS): past a bound the object is marked
 * partial and its figures are lower bounds.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <time.h>

#include "ops/ops.h"
#include "store/store.h"
#include "base/base.h"

/* Entries and extents looked at per tree, as a volume's size (buildfs_size) does. */
#define USAGE_TREE_MAX (1ull << 20)
/* ... and in one scan: a store of many large trees ends in seconds, not minutes. */
#define USAGE_TOTAL_MAX (8ull << 20)
/* Shared extents remembered (16 bytes each): 64 MiB at most. */
#define USAGE_RECORDS_MAX (4u << 20)
/* ... and in time: trees not begun by then are not walked (a tree takes seconds at most). */
#define USAGE_TIME_MAX_MS 30000
/* A df read again this soon, with the same objects in the same states, is not walked again. */
#define USAGE_CACHE_MS 250
#define BUILD_SOURCE   "build "

/* ---- what prune removes --------------------------------------------------------------------- */

/* An intermediate of a build that still runs ("build img_x step N/M", img_x building). */
static bool
build_step_locked(struct bk_engine *e, const struct image *img)
{
	char id[BK_ID_SIZE];
	struct image *b;
	size_t len;

	if (img->source == NULL || strncmp(img->source, BUILD_SOURCE, strlen(BUILD_SOURCE)) != 0)
		return false;
	len = strcspn(img->source + strlen(BUILD_SOURCE), " ");
	if (len == 0 || len >= sizeof(id))
		return false;
	memcpy(id, img->source + strlen(BUILD_SOURCE), len);
	id[len] = '\0';
	b = image_find_locked(&e->model, id, 0, NULL);
	return b && b->state == BK_IMAGE_BUILDING;
}

bool
usage_image_in_use_locked(struct bk_engine *e, const struct image *img)
{
	char who[BK_ID_SIZE];

	return container_uses_image_locked(&e->model, img->id, who, sizeof(who)) ||
	       img->pushes > 0 || build_step_locked(e, img);
}

bool
usage_container_prunable_locked(struct bk_engine *e, const struct container *c)
{
	(void)e;
	/* A runtime's container is its caller's to delete. */
	if (c->broken || c->foreign || c->busy ||
	    (c->state != BK_CTR_CREATED && c->state != BK_CTR_EXITED))
		return false;
	/* Docker's "restarting": its policy starts it again, it is not stopped. */
	return !(c->state == BK_CTR_EXITED &&
		 restart_wanted(&c->restart, c->exit_code != 0 || c->exit_signal != 0,
				c->stopped_by_user, c->restarts));
}

bool
usage_volume_prunable_locked(struct bk_engine *e, const struct volume *v)
{
	char who[BK_ID_SIZE];

	return v->broken == NULL &&
	       !container_uses_volume_locked(&e->model, v->name, who, sizeof(who));
}

/* ---- the objects ---------------------------------------------------------------------------- */

static struct usage_obj *
obj_add(struct usage_scan *s, enum usage_kind kind, const char *id)
{
	struct usage_obj *o;

	s->objs = xrealloc(s->objs, (s->n + 1) * sizeof(*s->objs));
	o = &s->objs[s->n++];
	memset(o, 0, sizeof(*o));
	o->kind = kind;
	o->image = o->parent = -1;
	snprintf(o->id, sizeof(o->id), "%s", id);
	if (extent_owner_new(&s->map) != s->n - 1)
		abort(); /* owner numbers are object numbers */
	return o;
}

static void
collect_images_locked(struct bk_engine *e, struct usage_scan *s)
{
	for (size_t i = 0; i < e->model.nimages; i++) {
		struct image *img = e->model.images[i];
		struct usage_obj *o;

		if (img->state == BK_IMAGE_BROKEN)
			s->broken_image = true;
		/* A pull's or a build's result is not an image yet: its files are in tmp/. */
		if (img->state != BK_IMAGE_READY && img->state != BK_IMAGE_BROKEN)
			continue;
		o = obj_add(s, USAGE_IMAGE, img->id);
		o->in_use = usage_image_in_use_locked(e, img);
		o->named = img->nrefs > 0;
		o->prunable = img->state == BK_IMAGE_READY && !o->in_use;
		for (size_t j = 0; j < e->model.nctrs; j++)
			if (strcmp(e->model.ctrs[j]->image_id, img->id) == 0)
				o->users++;
		if (img->state == BK_IMAGE_BROKEN)
			continue;
		image_layer_roots_locked(img, o->roots);
	}
}

static void
collect_containers_locked(struct bk_engine *e, struct usage_scan *s)
{
	for (size_t i = 0; i < e->model.nctrs; i++) {
		struct container *c = e->model.ctrs[i];
		struct usage_obj *o;

		/* A runtime's container: its filesystem is its bundle's, outside the store. */
		if (c->state == BK_CTR_REMOVING || c->foreign)
			continue;
		o = obj_add(s, USAGE_CONTAINER, c->id);
		o->state = c->broken ? BK_CTR_BROKEN : c->state;
		o->prunable = usage_container_prunable_locked(e, c);
		snprintf(o->image_id, sizeof(o->image_id), "%s", c->image_id);
	}
}

static void
collect_volumes_locked(struct bk_engine *e, struct usage_scan *s)
{
	for (size_t i = 0; i < e->model.nvols; i++) {
		struct volume *v = e->model.vols[i];
		struct usage_obj *o = obj_add(s, USAGE_VOLUME, v->name);

		for (size_t j = 0; j < e->model.nctrs; j++)
			if (container_names_volume(e->model.ctrs[j], v->name))
				o->users++;
		o->in_use = o->users > 0;
		o->prunable = usage_volume_prunable_locked(e, v);
		snprintf(o->owner, sizeof(o->owner), "%s", v->owner);
	}
}

/* Every layers/<key>, with its parent. */
static void
collect_layers(int layers_fd, struct usage_scan *s)
{
	int dup_fd = fcntl(layers_fd, F_DUPFD_CLOEXEC, 0);
	cleanup_dir DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
	struct dirent *de;

	if (d == NULL) {
		if (dup_fd >= 0)
			close(dup_fd);
		return;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL) {
		struct bk_err err = BK_ERR_INIT;
		struct layer_rec rec;
		struct usage_obj *o;

		if (!layer_key_valid(de->d_name))
			continue;
		o = obj_add(s, USAGE_LAYER, de->d_name);
		if (layer_rec_load(layers_fd, de->d_name, &rec, &err) == 0)
			snprintf(o->roots[0], LAYER_KEY_SIZE, "%s", rec.parent);
	}
}

static long
find_obj(const struct usage_scan *s, enum usage_kind kind, const char *id)
{
	if (id == NULL || id[0] == '\0')
		return -1;
	for (size_t i = 0; i < s->n; i++)
		if (s->objs[i].kind == kind && strcmp(s->objs[i].id, id) == 0)
			return (long)i;
	return -1;
}

/*
 * Mark the layers the images reach (kept: those no "prune images all"
 * removes, into kept[]), following parents; a loop in corrupt records ends
 * at the number of layers.
 */
static void
reach(struct usage_scan *s, bool *kept)
{
	for (size_t i = 0; i < s->n; i++) {
		struct usage_obj *img = &s->objs[i];

		if (img->kind != USAGE_IMAGE)
			continue;
		for (size_t r = 0; r < 3; r++) {
			long l = find_obj(s, USAGE_LAYER, img->roots[r]);

			for (size_t steps = 0; l >= 0 && steps < s->n; steps++) {
				s->objs[l].reached = true;
				if (!img->prunable)
					kept[l] = true;
				l = s->objs[l].parent;
			}
		}
	}
}

/* The sets each object is in: whose removal frees its bytes. */
static void
assign_sets(struct usage_scan *s)
{
	bool *kept = xcalloc(s->n + 1, sizeof(*kept));
	bool any_image = false;
	size_t i;

	for (i = 0; i < s->n; i++) {
		struct usage_obj *o = &s->objs[i];

		if (o->kind == USAGE_CONTAINER)
			o->image = find_obj(s, USAGE_IMAGE, o->image_id);
		if (o->kind == USAGE_LAYER)
			o->parent = find_obj(s, USAGE_LAYER, o->roots[0]);
		if (o->kind == USAGE_IMAGE && o->prunable)
			any_image = true;
	}
	reach(s, kept);
	for (i = 0; i < s->n; i++) {
		struct usage_obj *o = &s->objs[i];

		switch (o->kind) {
		case USAGE_IMAGE:
			o->sets |= o->prunable ? USAGE_FREE_IMAGES : 0;
			break;
		case USAGE_CONTAINER:
			o->sets |= o->prunable ? USAGE_FREE_CONTAINERS : 0;
			break;
		case USAGE_VOLUME: {
			long c = find_obj(s, USAGE_CONTAINER, o->owner);

			o->sets |= o->prunable ? USAGE_FREE_VOLUMES : 0;
			/* An anonymous volume goes with its container, if no other names it. */
			if (c >= 0 && s->objs[c].prunable && o->users <= 1)
				o->sets |= USAGE_FREE_CONTAINERS;
			break;
		}
		case USAGE_LAYER:
			/* The collection waits while a broken image's layers are unknown. */
			if (s->broken_image)
				break;
			o->sets |= o->reached ? 0 : USAGE_FREE_LAYERS;
			if (!kept[i] && any_image)
				o->sets |= USAGE_FREE_IMAGES;
			break;
		case USAGE_KINDS:
			break;
		}
	}
	free(kept);
}

/* ---- the walks ------------------------------------------------------------------------------ */

/*
 * The bound per tree; BOCKERFS_DF_TREE_MAX in the daemon's environment
 * lowers it, for tests of the bound (docs/tree.md); not a daemon option.
 */
static uint64_t
tree_max(void)
{
	const char *env = getenv("BOCKERFS_DF_TREE_MAX");
	char *end = NULL;
	unsigned long long v;

	if (env == NULL || *env == '\0')
		return USAGE_TREE_MAX;
	v = strtoull(env, &end, 10);
	return *end == '\0' && v > 0 && v < USAGE_TREE_MAX ? v : USAGE_TREE_MAX;
}

/* dfd/name/sub of the store: one object's tree or file. */
static int
open_obj(int dfd, const char *name, const char *sub, bool dir)
{
	char path[BK_VOLUME_NAME_SIZE + 16];

	snprintf(path, sizeof(path), "%s/%s", name, sub);
	return openat(dfd, path,
		      O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (dir ? O_DIRECTORY : O_NONBLOCK));
}

static int
walk_obj(struct bk_engine *e, struct usage_scan *s, size_t i, int layers_fd, uint64_t *left,
	 struct bk_cancel *cancel, struct bk_err *err)
{
	struct usage_obj *o = &s->objs[i];
	uint64_t cap = tree_max(), budget = *left < cap ? *left : cap, before = budget;
	cleanup_close int fd = -1;
	int ret = 0;

	switch (o->kind) {
	case USAGE_IMAGE:
		fd = open_obj(e->store.images_fd, o->id, "rootfs", true);
		break;
	case USAGE_CONTAINER:
		fd = open_obj(e->store.containers_fd, o->id, "rootfs", true);
		break;
	case USAGE_VOLUME:
		fd = open_obj(e->store.volumes_fd, o->id, "data", true);
		break;
	case USAGE_LAYER:
		fd = open_obj(layers_fd, o->id, "rootfs", true);
		break;
	case USAGE_KINDS:
		break;
	}
	/* Not there (a container never started, an object removed meanwhile): nothing. */
	if (fd >= 0) {
		struct bk_err werr = BK_ERR_INIT;

		ret =
		    extents_add_tree(&s->map, (uint32_t)i, fd, &budget, cancel, &o->partial, &werr);
		if (ret == -EINTR)
			*err = werr;
		else
			ret = 0;
	}
	if (ret == 0 && o->kind == USAGE_LAYER) {
		cleanup_close int blob = open_obj(layers_fd, o->id, "blob", false);

		if (blob >= 0)
			extents_add_file(&s->map, (uint32_t)i, blob, &budget, &o->partial);
	}
	*left -= before - budget;
	s->partial |= o->partial;
	return ret;
}

/* ---- the sums ------------------------------------------------------------------------------- */

static void
on_segment(void *arg, uint64_t len, const uint32_t *owners, size_t n)
{
	struct usage_scan *s = arg;
	unsigned kinds = 0, all = ~0u;
	size_t images = 0, i;
	bool own = false;

	for (i = 0; i < n; i++) {
		struct usage_obj *o = &s->objs[owners[i]];

		kinds |= 1u << o->kind;
		all &= o->sets;
		images += o->kind == USAGE_IMAGE;
		o->in_seg = true;
	}
	for (i = 0; i < n; i++) {
		struct usage_obj *o = &s->objs[owners[i]];

		o->size += len;
		if (o->kind == USAGE_IMAGE && images > 1)
			o->shared += len;
		if (o->kind == USAGE_CONTAINER && (o->image < 0 || !s->objs[o->image].in_seg)) {
			o->own += len;
			own = true;
		}
	}
	for (i = 0; i < n; i++)
		s->objs[owners[i]].in_seg = false;
	for (i = 0; i < USAGE_KINDS; i++)
		if (i == USAGE_CONTAINER ? own : (kinds & (1u << i)) != 0)
			s->row_size[i] += len;
	for (i = 0; i <= USAGE_KINDS; i++)
		if (all & (1u << i))
			s->freed[i] += len;
}

void
usage_sum(struct usage_scan *s)
{
	for (size_t i = 0; i < s->n; i++)
		s->objs[i].size = s->objs[i].shared = s->objs[i].own = 0;
	memset(s->row_size, 0, sizeof(s->row_size));
	memset(s->freed, 0, sizeof(s->freed));
	extents_sweep(&s->map, on_segment, s);
}

int
usage_scan(struct bk_engine *e, struct usage_scan *s, struct bk_cancel *cancel, struct bk_err *err)
{
	cleanup_close int layers_fd = -1;
	uint64_t left = USAGE_TOTAL_MAX, start;
	int ret = 0;

	memset(s, 0, sizeof(*s));
	extent_map_init(&s->map, USAGE_RECORDS_MAX);
	pthread_mutex_lock(&e->model.lock);
	collect_images_locked(e, s);
	collect_containers_locked(e, s);
	collect_volumes_locked(e, s);
	pthread_mutex_unlock(&e->model.lock);
	{
		struct bk_err lerr = BK_ERR_INIT;

		/* Without layers/ (cannot be made), the other objects are still counted. */
		layers_fd = layers_open_dir(e, &lerr);
		if (layers_fd >= 0)
			collect_layers(layers_fd, s);
	}
	assign_sets(s);
	start = now_ms();
	for (size_t i = 0; i < s->n && ret == 0; i++) {
		if (now_ms() - start > USAGE_TIME_MAX_MS) {
			s->objs[i].partial = s->partial = true;
			continue;
		}
		ret = walk_obj(e, s, i, layers_fd, &left, cancel, err);
	}
	if (ret < 0)
		return ret;
	if (s->map.n == s->map.max)
		s->partial = true;
	usage_sum(s);
	return 0;
}

void
usage_scan_free(struct usage_scan *s)
{
	extent_map_free(&s->map);
	free(s->objs);
	memset(s, 0, sizeof(*s));
}

/* ---- bk_system_df -----------------------------------------------------------------------------
 */

/* src into dst, cut to fit (ids and keys always fit: BK_ID_SIZE). */
static void
set_str(char *dst, size_t size, const char *src)
{
	size_t len = strnlen(src, size - 1);

	memcpy(dst, src, len);
	dst[len] = '\0';
}

static void
fill_df(const struct usage_scan *s, struct bk_df *df)
{
	struct bk_df_row *rows[USAGE_KINDS] = { &df->images, &df->containers, &df->volumes,
						&df->layers };

	memset(df, 0, sizeof(*df));
	df->partial = s->partial;
	for (size_t k = 0; k < USAGE_KINDS; k++) {
		rows[k]->size = s->row_size[k];
		rows[k]->reclaimable = s->freed[k];
	}
	for (size_t i = 0; i < s->n; i++) {
		const struct usage_obj *o = &s->objs[i];

		rows[o->kind]->total++;
		switch (o->kind) {
		case USAGE_IMAGE: {
			struct bk_df_image *x;

			df->image = xrealloc(df->image, (df->nimages + 1) * sizeof(*x));
			x = &df->image[df->nimages++];
			memset(x, 0, sizeof(*x));
			set_str(x->id, sizeof(x->id), o->id);
			x->size = o->size;
			x->shared = o->shared;
			x->unique = o->size - o->shared;
			x->containers = o->users;
			x->partial = o->partial;
			df->images.active += o->in_use;
			break;
		}
		case USAGE_CONTAINER: {
			struct bk_df_container *x;

			df->ctr = xrealloc(df->ctr, (df->nctrs + 1) * sizeof(*x));
			x = &df->ctr[df->nctrs++];
			memset(x, 0, sizeof(*x));
			set_str(x->id, sizeof(x->id), o->id);
			snprintf(x->image_id, sizeof(x->image_id), "%s", o->image_id);
			x->state = o->state;
			x->own = o->own;
			x->partial = o->partial;
			df->containers.active += o->state == BK_CTR_RUNNING;
			break;
		}
		case USAGE_VOLUME: {
			struct bk_df_volume *x;

			df->vol = xrealloc(df->vol, (df->nvols + 1) * sizeof(*x));
			x = &df->vol[df->nvols++];
			memset(x, 0, sizeof(*x));
			set_str(x->name, sizeof(x->name), o->id);
			x->size = o->size;
			x->users = o->users;
			x->partial = o->partial;
			df->volumes.active += o->in_use;
			break;
		}
		case USAGE_LAYER: {
			struct bk_df_layer *x;

			df->layer = xrealloc(df->layer, (df->nlayers + 1) * sizeof(*x));
			x = &df->layer[df->nlayers++];
			memset(x, 0, sizeof(*x));
			set_str(x->key, sizeof(x->key), o->id);
			x->size = o->size;
			x->reached = o->reached;
			x->partial = o->partial;
			df->layers.active += o->reached;
			break;
		}
		case USAGE_KINDS:
			break;
		}
	}
}

void
bk_df_free(struct bk_df *df)
{
	free(df->image);
	free(df->ctr);
	free(df->vol);
	free(df->layer);
	memset(df, 0, sizeof(*df));
}

static void *
memdup_n(const void *p, size_t n, size_t size)
{
	void *q;

	if (n == 0)
		return NULL;
	q = xmalloc(n * size);
	memcpy(q, p, n * size);
	return q;
}

static void
df_copy(struct bk_df *dst, const struct bk_df *src)
{
	*dst = *src;
	dst->image = memdup_n(src->image, src->nimages, sizeof(*src->image));
	dst->ctr = memdup_n(src->ctr, src->nctrs, sizeof(*src->ctr));
	dst->vol = memdup_n(src->vol, src->nvols, sizeof(*src->vol));
	dst->layer = memdup_n(src->layer, src->nlayers, sizeof(*src->layer));
}

/*
 * The last figures, for the reads that follow at once: a `cat` of df stats
 * it, opens it and stats it again, and each asks for the content.  They
 * are reused only while no object came, went or changed state (serials and
 * states hashed), and for USAGE_CACHE_MS after they were made.
 */
static struct {
	pthread_mutex_t lock; /* also makes concurrent reads walk once */
	const struct bk_engine *e;
	uint64_t print, done_ms;
	bool valid;
	struct bk_df df;
} cache = { .lock = PTHREAD_MUTEX_INITIALIZER };

static uint64_t
mix(uint64_t h, uint64_t v)
{
	return (h ^ v) * 0x100000001b3ULL;
}

static uint64_t
fingerprint(struct bk_engine *e)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t i;

	pthread_mutex_lock(&e->model.lock);
	for (i = 0; i < e->model.nimages; i++)
		h = mix(mix(h, e->model.images[i]->serial),
			(uint64_t)e->model.images[i]->state << 8 | e->model.images[i]->nrefs);
	for (i = 0; i < e->model.nctrs; i++)
		h = mix(mix(h, e->model.ctrs[i]->serial), (uint64_t)e->model.ctrs[i]->state);
	for (i = 0; i < e->model.nvols; i++)
		h = mix(h, e->model.vols[i]->serial);
	h = mix(mix(h, e->model.nimages), mix(e->model.nctrs, e->model.nvols));
	pthread_mutex_unlock(&e->model.lock);
	return h;
}

int
bk_system_df(struct bk_engine *e, struct bk_df *out, struct bk_err *err)
{
	struct usage_scan s;
	uint64_t print;
	int ret;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&cache.lock);
	print = fingerprint(e);
	if (cache.valid && cache.e == e && cache.print == print &&
	    now_ms() - cache.done_ms < USAGE_CACHE_MS) {
		df_copy(out, &cache.df);
		pthread_mutex_unlock(&cache.lock);
		return 0;
	}
	ret = usage_scan(e, &s, NULL, err);
	if (ret == 0) {
		fill_df(&s, out);
		bk_df_free(&cache.df);
		df_copy(&cache.df, out);
		cache.e = e;
		cache.print = print;
		cache.done_ms = now_ms();
		cache.valid = true;
	}
	usage_scan_free(&s);
	pthread_mutex_unlock(&cache.lock);
	return ret;
}
