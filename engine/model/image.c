/*
 * Images: the in-memory table, its records on disk, import and removal.
 *
 * An image is images/<id>/ in the store: image.json (the record) and rootfs
 * (a read-only subvolume).  Work happens in tmp/<id>/ and is renamed into
 * images/ only when complete, so an image is either whole or absent after a
 * crash.  A reference names at most one image; importing under a name already
 * in use moves the name, as `docker tag` does.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "model/model.h"
#include "store/store.h"
#include "base/inroot.h"
#include "parse/parse.h"
#include "base/base.h"

#define RECORD_MAX (4u << 20) /* an image.json larger than this is corrupt */

void
image_free(struct image *img)
{
	size_t i;

	if (img == NULL)
		return;
	for (i = 0; i < img->nrefs; i++)
		free(img->refs[i]);
	free(img->refs);
	free(img->source);
	json_decref(img->config);
	free(img->digest);
	free(img->manifest);
	free(img->layers_text);
	free(img->layer_key);
	free(img->base_key);
	free(img->progress);
	free(img->broken);
	free(img);
}

const char *
bk_image_state_name(enum bk_image_state state)
{
	static const char *const names[] = {
		[BK_IMAGE_PULLING] = "pulling",
		[BK_IMAGE_READY] = "ready",
		[BK_IMAGE_BUILDING] = "building",
		[BK_IMAGE_BROKEN] = "broken",
	};

	return state <= BK_IMAGE_BROKEN ? names[state] : "unknown";
}

void
images_free(struct model *m)
{
	size_t i;

	for (i = 0; i < m->nimages; i++)
		image_free(m->images[i]);
	free(m->images);
	m->images = NULL;
	m->nimages = 0;
}

bool
image_id_valid(const char *id)
{
	size_t i;

	if (strncmp(id, "img_", 4) != 0 || strlen(id) != 16)
		return false;
	for (i = 4; i < 16; i++)
		if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
			return false;
	return true;
}

/* Borrowed; caller holds m->lock. */
struct image *
image_find_locked(struct model *m, const char *id, uint64_t serial, size_t *index)
{
	size_t i;

	for (i = 0; i < m->nimages; i++) {
		struct image *img = m->images[i];

		if (id ? strcmp(img->id, id) == 0 : img->serial == serial) {
			if (index)
				*index = i;
			return img;
		}
	}
	return NULL;
}

static struct image *
find_ref_locked(struct model *m, const char *familiar, size_t *ref_index)
{
	size_t i, j;

	for (i = 0; i < m->nimages; i++)
		for (j = 0; j < m->images[i]->nrefs; j++)
			if ((m->images[i]->state == BK_IMAGE_READY ||
			     m->images[i]->state == BK_IMAGE_BROKEN) &&
			    strcmp(m->images[i]->refs[j], familiar) == 0) {
				if (ref_index)
					*ref_index = j;
				return m->images[i];
			}
	return NULL;
}

static json_t *
record_json(const struct image *img)
{
	json_t *refs = json_array();
	size_t i;

	for (i = 0; i < img->nrefs; i++)
		json_array_append_new(refs, json_string(img->refs[i]));
	json_t *j = json_pack("{s:s, s:s, s:o, s:s, s:I, s:s, s:O}", "id", img->id, "source",
			      img->source, "refs", refs, "created", img->created, "size",
			      (json_int_t)img->size, "state", "ready", "config", img->config);

	if (j && img->layer_key)
		json_object_set_new(j, "layer", json_string(img->layer_key));
	if (j && img->base_key)
		json_object_set_new(j, "base", json_string(img->base_key));
	if (j && img->digest) {
		json_object_set_new(j, "digest", json_string(img->digest));
		json_object_set_new(j, "layers",
				    json_string(img->layers_text ? img->layers_text : ""));
	}
	return j;
}

/*
 * Write img's record into the directory open at dfd, atomically; durably
 * too, or not when the caller syncs the whole directory before it publishes.
 */
static int
record_write(int dfd, const struct image *img, bool durable, struct bk_err *err)
{
	cleanup(json_decrefp) json_t *j = record_json(img);
	cleanup_free char *text = NULL;

	if (j == NULL)
		return bk_err_set(err, EIO, "image %s: cannot encode record", img->id);
	text = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (text == NULL)
		return bk_err_set(err, ENOMEM, "image %s: cannot encode record", img->id);
	return durable ? write_file_atomic(dfd, "image.json", text, strlen(text), err)
		       : write_file_replace(dfd, "image.json", text, strlen(text), err);
}

int
image_record_save(int dfd, const struct image *img, struct bk_err *err)
{
	return record_write(dfd, img, true, err);
}

static int
record_save_in_store(struct model *m, const struct image *img, struct bk_err *err)
{
	cleanup_close int dfd =
	    openat(m->store->images_fd, img->id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (dfd < 0)
		return bk_err_sys(err, "image %s", img->id);
	return image_record_save(dfd, img, err);
}

static int
record_load(struct model *m, const char *id, struct image **out, struct bk_err *err)
{
	cleanup_close int dfd = -1;
	cleanup_free char *text = NULL;
	cleanup(json_decrefp) json_t *j = NULL;
	struct image *img = NULL;
	json_error_t jerr;
	json_t *refs, *config, *v;
	const char *source = NULL, *created = NULL, *rid = NULL;
	json_int_t size = 0;
	size_t i;

	dfd = openat(m->store->images_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return bk_err_sys(err, "image %s", id);
	if (read_file_at(dfd, "image.json", RECORD_MAX, &text, NULL, err) < 0)
		return bk_err_wrap(err, "image %s", id);
	j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL)
		return bk_err_set(err, EBADMSG, "image %s: image.json line %d: %s", id, jerr.line,
				  jerr.text);
	if (json_unpack_ex(j, &jerr, 0, "{s:s, s:s, s:o, s:s, s:I, s:o}", "id", &rid, "source",
			   &source, "refs", &refs, "created", &created, "size", &size, "config",
			   &config) < 0 ||
	    strcmp(rid, id) != 0 || !json_is_array(refs) || !json_is_object(config))
		return bk_err_set(err, EBADMSG, "image %s: malformed image.json: %s", id,
				  jerr.text);
	img = xcalloc(1, sizeof(*img));
	memcpy(img->id, id, strnlen(id, sizeof(img->id) - 1)); /* validated: 16 bytes */
	img->source = xstrdup(source);
	snprintf(img->created, sizeof(img->created), "%s", created);
	img->size = (uint64_t)size;
	img->config = json_incref(config);
	img->state = BK_IMAGE_READY;
	if (json_is_string(json_object_get(j, "digest"))) {
		char *manifest = NULL;

		img->digest = xstrdup(json_string_value(json_object_get(j, "digest")));
		img->layers_text = xstrdup(json_is_string(json_object_get(j, "layers"))
					       ? json_string_value(json_object_get(j, "layers"))
					       : "");
		if (read_file_at(dfd, "manifest.json", RECORD_MAX, &manifest, NULL, NULL) == 0)
			img->manifest = manifest;
	}
	if (json_is_string(json_object_get(j, "layer")))
		img->layer_key = xstrdup(json_string_value(json_object_get(j, "layer")));
	if (json_is_string(json_object_get(j, "base")))
		img->base_key = xstrdup(json_string_value(json_object_get(j, "base")));
	img->refs = xcalloc(json_array_size(refs), sizeof(char *));
	json_array_foreach (refs, i, v)
		if (json_is_string(v))
			img->refs[img->nrefs++] = xstrdup(json_string_value(v));
	*out = img;
	return 0;
}

static void
table_add_locked(struct model *m, struct image *img)
{
	img->serial = m->next_serial++;
	m->images = xrealloc(m->images, (m->nimages + 1) * sizeof(*m->images));
	m->images[m->nimages++] = img;
}

static bool
has_ref(const struct image *img, const char *name)
{
	size_t i;

	for (i = 0; i < img->nrefs; i++)
		if (strcmp(img->refs[i], name) == 0)
			return true;
	return false;
}

static void
add_ref(struct image *img, const char *name)
{
	img->refs = xrealloc(img->refs, (img->nrefs + 1) * sizeof(char *));
	img->refs[img->nrefs++] = xstrdup(name);
}

static void
drop_ref(struct image *img, size_t j)
{
	free(img->refs[j]);
	memmove(&img->refs[j], &img->refs[j + 1], (img->nrefs - j - 1) * sizeof(char *));
	img->nrefs--;
}

/*
 * A crash between writing a new image's record and rewriting the record that
 * lost the name leaves a name on two images: the newer one keeps it.
 */
static void
dedupe_refs_locked(struct model *m)
{
	size_t i, j;

	for (i = 0; i < m->nimages; i++) {
		struct image *img = m->images[i];

		for (j = 0; j < img->nrefs;) {
			size_t k, l;
			bool lost = false;

			for (k = 0; k < m->nimages && !lost; k++) {
				struct image *other = m->images[k];

				if (other == img || strcmp(other->created, img->created) < 0)
					continue;
				for (l = 0; l < other->nrefs; l++)
					if (strcmp(other->refs[l], img->refs[j]) == 0 &&
					    (strcmp(other->created, img->created) > 0 ||
					     strcmp(other->id, img->id) > 0))
						lost = true;
			}
			if (lost) {
				struct bk_err err = BK_ERR_INIT;

				bk_log(BK_LOG_WARN, "image %s: name '%s' is on a newer image",
				       img->id, img->refs[j]);
				drop_ref(img, j);
				if (record_save_in_store(m, img, &err) < 0)
					bk_log(BK_LOG_WARN, "%s", err.msg);
				continue;
			}
			j++;
		}
	}
}

/* images/<id>/rootfs must be there: a run of an image without one fails late and obscurely. */
static int
rootfs_check(struct model *m, const char *id, struct bk_err *err)
{
	cleanup_free char *path = xasprintf("%s/rootfs", id);
	struct stat st;

	if (fstatat(m->store->images_fd, path, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return bk_err_sys(err, "image %s: its filesystem", id);
	if (!S_ISDIR(st.st_mode))
		return bk_err_set(err, ENOTDIR, "image %s: its filesystem is not a directory", id);
	return 0;
}

/* An image listed only to say why it cannot be used. */
static struct image *
broken_new(const char *id, const struct bk_err *why)
{
	struct image *img = xcalloc(1, sizeof(*img));

	/* id is a valid image id (image_id_valid): 16 bytes. */
	memcpy(img->id, id, strnlen(id, sizeof(img->id) - 1));
	img->state = BK_IMAGE_BROKEN;
	img->source = xstrdup("");
	img->config = json_object();
	img->broken = xstrdup(why->msg);
	img->broken_code = why->code ? why->code : EIO;
	return img;
}

void
image_mark_broken(struct model *m, const char *id, const struct bk_err *why)
{
	struct image *img;
	bool changed = false;

	pthread_mutex_lock(&m->lock);
	img = image_find_locked(m, id, 0, NULL);
	if (img && img->state == BK_IMAGE_READY) {
		img->state = BK_IMAGE_BROKEN;
		img->broken = xstrdup(why->msg);
		img->broken_code = why->code ? why->code : EIO;
		changed = true;
	}
	pthread_mutex_unlock(&m->lock);
	if (changed) {
		bk_log(BK_LOG_WARN, "%s: image %s is broken", why->msg, id);
		events_notify(&m->ev, BK_OBJ_IMAGE, id, BK_CHANGE_STATE);
	}
}

int
images_load(struct model *m, struct bk_err *err)
{
	cleanup_dir DIR *d = opendir_at(m->store->images_fd);
	struct dirent *de;

	if (d == NULL)
		return bk_err_sys(err, "images");
	while ((de = readdir(d)) != NULL) {
		struct bk_err lerr = BK_ERR_INIT;
		struct image *img = NULL;

		if (de->d_name[0] == '.')
			continue;
		if (!image_id_valid(de->d_name)) {
			bk_log(BK_LOG_WARN, "images/%s: not an image id, ignored", de->d_name);
			continue;
		}
		/*
		 * Never delete what cannot be read, nor hide it: it is listed
		 * broken, with the reason, for the operator to remove or repair.
		 */
		if (record_load(m, de->d_name, &img, &lerr) < 0) {
			bk_log(BK_LOG_WARN, "%s: shown as broken", lerr.msg);
			img = broken_new(de->d_name, &lerr);
		} else if (rootfs_check(m, de->d_name, &lerr) < 0) {
			/* Its record stands: it keeps its names, which now say it is broken. */
			bk_log(BK_LOG_WARN, "%s: shown as broken", lerr.msg);
			img->state = BK_IMAGE_BROKEN;
			img->broken = xstrdup(lerr.msg);
			img->broken_code = lerr.code;
		}
		table_add_locked(m, img);
	}
	/* Oldest first, as `docker images` lists them newest first: keep a stable order. */
	for (size_t i = 1; i < m->nimages; i++)
		for (size_t k = i;
		     k > 0 && strcmp(m->images[k - 1]->created, m->images[k]->created) > 0; k--) {
			struct image *t = m->images[k];

			m->images[k] = m->images[k - 1];
			m->images[k - 1] = t;
		}
	for (size_t i = 0; i < m->nimages; i++)
		m->images[i]->serial = i + 1;
	m->next_serial = m->nimages + 1;
	dedupe_refs_locked(m);
	bk_log(BK_LOG_INFO, "loaded %zu image(s)", m->nimages);
	return 0;
}

/* Move the new image into images/ and the table; take its name from others. */
int
image_publish(struct model *m, struct image *img, struct bk_err *err)
{
	char *losers[64];
	size_t nlosers = 0, i;

	pthread_mutex_lock(&m->lock);
	if (failpoint("image.publish", err) < 0) {
		pthread_mutex_unlock(&m->lock);
		return -err->code;
	}
	if (renameat2(m->store->tmp_fd, img->id, m->store->images_fd, img->id, RENAME_NOREPLACE) <
	    0) {
		pthread_mutex_unlock(&m->lock);
		return bk_err_sys(err, "publish images/%s", img->id);
	}
	if (fsync(m->store->images_fd) < 0)
		bk_log(BK_LOG_WARN, "sync images/: %s", strerror(errno));
	for (i = 0; i < img->nrefs; i++) {
		size_t j;
		struct image *old = find_ref_locked(m, img->refs[i], &j);
		struct bk_err werr = BK_ERR_INIT;

		if (old == NULL)
			continue;
		drop_ref(old, j);
		if (record_save_in_store(m, old, &werr) < 0)
			bk_log(BK_LOG_WARN, "%s", werr.msg);
		if (nlosers < ARRAY_SIZE(losers))
			losers[nlosers++] = xstrdup(old->id);
	}
	table_add_locked(m, img);
	pthread_mutex_unlock(&m->lock);

	for (i = 0; i < nlosers; i++) {
		events_notify(&m->ev, BK_OBJ_IMAGE, losers[i], BK_CHANGE_UPDATED);
		free(losers[i]);
	}
	return 0;
}

int
familiar_name(const char *ref, char *out, size_t size, struct bk_err *err)
{
	struct image_ref r;
	int ret;

	ret = ref_parse(ref, &r, err);
	if (ret < 0)
		return ret;
	ret = ref_format_familiar(&r, out, size);
	if (ret < 0)
		return bk_err_set(err, -ret, "reference '%s' too long", ref);
	return 0;
}

/* The image with this id or name, whatever its state; NULL if none. */
struct image *
image_lookup_locked(struct model *m, const char *name)
{
	struct bk_err perr = BK_ERR_INIT;
	char familiar[512];
	struct image *img = image_find_locked(m, name, 0, NULL);

	if (img == NULL && !image_id_valid(name) &&
	    familiar_name(name, familiar, sizeof(familiar), &perr) == 0)
		img = find_ref_locked(m, familiar, NULL);
	return img;
}

/* The ready image with this id or name: ENOENT, EBUSY (not ready yet), or why it is broken. */
int
image_resolve_locked(struct model *m, const char *name, struct image **out, struct bk_err *err)
{
	struct image *img = image_lookup_locked(m, name);

	if (img == NULL)
		return bk_err_set(err, ENOENT, "no image named '%s'", name);
	if (img->state == BK_IMAGE_BROKEN)
		return bk_err_set(err, img->broken_code, "image %s is broken: %s", img->id,
				  img->broken);
	if (img->state != BK_IMAGE_READY)
		return bk_err_set(err, EBUSY, "image %s is not ready yet (being pulled or built)",
				  name);
	*out = img;
	return 0;
}

int
image_resolve(struct model *m, const char *name, char id_out[BK_ID_SIZE], struct bk_err *err)
{
	struct image *img;
	int ret;

	pthread_mutex_lock(&m->lock);
	ret = image_resolve_locked(m, name, &img, err);
	if (ret == 0)
		snprintf(id_out, BK_ID_SIZE, "%s", img->id);
	pthread_mutex_unlock(&m->lock);
	return ret;
}

bool
image_exists_locked(struct model *m, const char *image_id)
{
	struct image *img = image_find_locked(m, image_id, 0, NULL);

	return img != NULL && img->state != BK_IMAGE_BROKEN;
}

/* The image's id and a copy of its config (caller decrefs).  ENOENT if unknown. */
int
image_config_for(struct model *m, const char *name, char id_out[BK_ID_SIZE], json_t **config,
		 struct bk_err *err)
{
	struct image *img;
	int ret;

	pthread_mutex_lock(&m->lock);
	ret = image_resolve_locked(m, name, &img, err);
	if (ret == 0) {
		*config = json_deep_copy(img->config);
		memmove(id_out, img->id, strlen(img->id) + 1);
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

static char *
join_refs(const struct image *img)
{
	size_t i, len = 1;
	char *s, *p;

	for (i = 0; i < img->nrefs; i++)
		len += strlen(img->refs[i]) + 1;
	p = s = xmalloc(len);
	for (i = 0; i < img->nrefs; i++)
		p += sprintf(p, "%s\n", img->refs[i]);
	*p = '\0';
	return s;
}

int
image_info(struct model *m, const char *id, uint64_t serial, struct bk_image_info *out,
	   struct bk_err *err)
{
	struct image *img;
	char *cfg;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&m->lock);
	img = image_find_locked(m, id, serial, NULL);
	if (img == NULL) {
		pthread_mutex_unlock(&m->lock);
		return bk_err_set(err, ENOENT, "no image '%s'", id ? id : "?");
	}
	snprintf(out->id, sizeof(out->id), "%s", img->id);
	out->serial = img->serial;
	out->state = img->state;
	out->source = xstrdup(img->source);
	out->refs = join_refs(img);
	cfg = json_dumps(img->config, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	out->config = xasprintf("%s\n", cfg ? cfg : "{}");
	free(cfg);
	out->root_path = xasprintf("%s/images/%s/rootfs", m->store->path, img->id);
	out->digest = xstrdup(img->digest ? img->digest : "");
	out->manifest = xstrdup(img->manifest ? img->manifest : "");
	out->layers = xstrdup(img->layers_text ? img->layers_text : "");
	{
		size_t k, len = 1;
		char *p;

		for (k = 0; k < img->nprogress; k++)
			len += strlen(img->progress[k].digest) + 48;
		p = out->progress = xmalloc(len);
		*p = '\0';
		for (k = 0; k < img->nprogress; k++)
			p += sprintf(p, "%s %llu %llu\n", img->progress[k].digest,
				     (unsigned long long)img->progress[k].done,
				     (unsigned long long)img->progress[k].total);
	}
	snprintf(out->created, sizeof(out->created), "%s", img->created);
	out->size = img->size;
	out->broken = xstrdup(img->broken ? img->broken : "");
	out->broken_code = img->broken ? img->broken_code : 0;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

/* Just the id of the image with serial (cheap): 0 or -ENOENT. */
int
image_id_of(struct model *m, uint64_t serial, char id[BK_ID_SIZE])
{
	struct image *img;

	pthread_mutex_lock(&m->lock);
	img = image_find_locked(m, NULL, serial, NULL);
	if (img)
		memcpy(id, img->id, strlen(img->id) + 1);
	pthread_mutex_unlock(&m->lock);
	return img ? 0 : -ENOENT;
}

void
bk_image_info_free(struct bk_image_info *info)
{
	free(info->source);
	free(info->refs);
	free(info->config);
	free(info->root_path);
	free(info->digest);
	free(info->manifest);
	free(info->layers);
	free(info->progress);
	free(info->broken);
	memset(info, 0, sizeof(*info));
}

int
image_list(struct model *m, struct bk_image_entry **out, size_t *n)
{
	struct bk_image_entry *list;
	size_t i;

	pthread_mutex_lock(&m->lock);
	list = xcalloc(m->nimages, sizeof(*list));
	for (i = 0; i < m->nimages; i++) {
		snprintf(list[i].id, sizeof(list[i].id), "%s", m->images[i]->id);
		list[i].serial = m->images[i]->serial;
		list[i].source = xstrdup(m->images[i]->source);
	}
	*n = m->nimages;
	pthread_mutex_unlock(&m->lock);
	*out = list;
	return 0;
}

void
bk_image_list_free(struct bk_image_entry *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(list[i].source);
	free(list);
}

/* ---- pulls ---------------------------------------------------------------- */

/*
 * Put an image in progress (pulling or building) in the table, from where the
 * tree shows it, and announce it.  id gets its id.
 */
static void
pending_show(struct model *m, struct image *img, enum bk_image_state state, const char *source,
	     char id[BK_ID_SIZE])
{
	img->state = state;
	img->source = xstrdup(source);
	img->config = json_object();
	time_rfc3339(img->created, sizeof(img->created));
	memcpy(id, img->id, sizeof(img->id));
	pthread_mutex_lock(&m->lock);
	table_add_locked(m, img);
	pthread_mutex_unlock(&m->lock);
	events_notify(&m->ev, BK_OBJ_IMAGE, id, BK_CHANGE_CREATED);
}

/*
 * Show a pull under way: an image in state pulling (its directory with
 * `state` and `progress`), not usable and not removable until it is done.
 */
int
image_pull_begin(struct model *m, const char *spec, char id[BK_ID_SIZE], struct bk_err *err)
{
	struct image *img = xcalloc(1, sizeof(*img));
	int ret = new_id("img_", img->id);

	if (ret < 0) {
		image_free(img);
		return bk_err_set(err, -ret, "pull: cannot make an id");
	}
	pending_show(m, img, BK_IMAGE_PULLING, spec, id);
	return 0;
}

void
image_pull_progress(struct model *m, const char *id, const char *digest, uint64_t done,
		    uint64_t total)
{
	struct image *img;
	size_t k;

	pthread_mutex_lock(&m->lock);
	img = image_find_locked(m, id, 0, NULL);
	if (img && (img->state == BK_IMAGE_PULLING || img->pushes > 0)) {
		for (k = 0; k < img->nprogress; k++)
			if (strcmp(img->progress[k].digest, digest) == 0)
				break;
		if (k == img->nprogress) {
			img->progress = xrealloc(img->progress, (k + 1) * sizeof(*img->progress));
			snprintf(img->progress[k].digest, sizeof(img->progress[k].digest), "%s",
				 digest);
			img->nprogress++;
		}
		img->progress[k].done = done;
		img->progress[k].total = total;
	}
	pthread_mutex_unlock(&m->lock);
}

int
image_push_begin(struct model *m, const char *id, struct bk_err *err)
{
	struct image *img;
	int ret = 0;

	pthread_mutex_lock(&m->lock);
	img = image_find_locked(m, id, 0, NULL);
	if (img == NULL)
		ret = bk_err_set(err, ENOENT, "no image '%s'", id);
	else if (img->state != BK_IMAGE_READY)
		ret = bk_err_set(err, EBUSY, "image %s is %s", id, bk_image_state_name(img->state));
	else
		img->pushes++;
	pthread_mutex_unlock(&m->lock);
	return ret;
}

void
image_push_end(struct model *m, const char *id)
{
	struct image *img;

	pthread_mutex_lock(&m->lock);
	img = image_find_locked(m, id, 0, NULL);
	if (img && img->pushes > 0 && --img->pushes == 0) {
		free(img->progress);
		img->progress = NULL;
		img->nprogress = 0;
	}
	pthread_mutex_unlock(&m->lock);
}

static void
drop_locked(struct model *m, const char *id)
{
	size_t index;
	struct image *img = image_find_locked(m, id, 0, &index);

	if (img == NULL)
		return;
	memmove(&m->images[index], &m->images[index + 1],
		(m->nimages - index - 1) * sizeof(*m->images));
	m->nimages--;
	image_free(img);
}

void
image_pull_abort(struct model *m, const char *id)
{
	pthread_mutex_lock(&m->lock);
	drop_locked(m, id);
	pthread_mutex_unlock(&m->lock);
	events_notify(&m->ev, BK_OBJ_IMAGE, id, BK_CHANGE_REMOVED);
}

/* An image already stored with this manifest digest (docker keeps one image per digest). */
static struct image *
find_digest_locked(struct model *m, const char *digest)
{
	size_t i;

	for (i = 0; i < m->nimages; i++)
		if (m->images[i]->state == BK_IMAGE_READY && m->images[i]->digest &&
		    strcmp(m->images[i]->digest, digest) == 0)
			return m->images[i];
	return NULL;
}

/* Give name to img (taking it from any other image); lock held. */
static void
take_name_locked(struct model *m, struct image *img, const char *name)
{
	size_t i, j;

	for (i = 0; i < m->nimages; i++) {
		struct image *other = m->images[i];

		for (j = 0; other != img && j < other->nrefs; j++)
			if (strcmp(other->refs[j], name) == 0) {
				struct bk_err werr = BK_ERR_INIT;

				drop_ref(other, j);
				if (record_save_in_store(m, other, &werr) < 0)
					bk_log(BK_LOG_WARN, "%s", werr.msg);
				break;
			}
	}
	if (!has_ref(img, name))
		add_ref(img, name);
}

/*
 * The pull of id has built tmp/<id>/: publish it as a ready image, or, if an
 * image with the same manifest exists, give that one the name and drop this.
 * id_out: the image the name now points to.
 */
int
image_pull_finish(struct model *m, const char *id, int work_dfd, const struct pulled *res,
		  char id_out[BK_ID_SIZE], struct bk_err *err)
{
	struct image *img, *same;
	struct bk_err werr = BK_ERR_INIT;
	bool named;
	int ret = 0;

	pthread_mutex_lock(&m->lock);
	img = image_find_locked(m, id, 0, NULL);
	if (img == NULL) {
		pthread_mutex_unlock(&m->lock);
		return bk_err_set(err, ENOENT, "pull: image %s vanished", id);
	}
	same = find_digest_locked(m, res->digest);
	if (same) {
		if (res->familiar)
			take_name_locked(m, same, res->familiar);
		if (record_save_in_store(m, same, &werr) < 0)
			bk_log(BK_LOG_WARN, "%s", werr.msg);
		memcpy(id_out, same->id, sizeof(same->id));
		drop_locked(m, id);
		pthread_mutex_unlock(&m->lock);
		store_discard(m->store->tmp_fd, id);
		events_notify(&m->ev, BK_OBJ_IMAGE, id, BK_CHANGE_REMOVED);
		events_notify(&m->ev, BK_OBJ_IMAGE, id_out, BK_CHANGE_UPDATED);
		return 0;
	}
	/* No name (a load of an unnamed image): the source image_pull_begin showed stays. */
	if (res->familiar) {
		free(img->source);
		img->source = xstrdup(res->familiar);
	}
	json_decref(img->config);
	img->config = json_incref(res->config);
	img->size = res->size;
	img->digest = xstrdup(res->digest);
	img->manifest = xstrndup(res->manifest, res->manifest_len);
	img->layers_text = xstrdup(res->layers_text);
	/*
	 * The record bears the name from the start (a crash before the image
	 * that had it is rewritten leaves it on two: the newer keeps it, see
	 * dedupe_refs_locked).  The image's files (pull.c's write_image_dir and
	 * the record) are written without fsync and made durable together by
	 * one syncfs before they are published: 10 fsyncs were a third of a
	 * small pull.
	 */
	named = res->familiar && !has_ref(img, res->familiar);
	if (named)
		add_ref(img, res->familiar);
	ret = record_write(work_dfd, img, false, err);
	if (ret == 0 && syncfs(work_dfd) < 0)
		ret = bk_err_sys(err, "pull: sync the store");
	if (ret == 0)
		ret = failpoint("pull.record", err);
	if (ret == 0 &&
	    renameat2(m->store->tmp_fd, id, m->store->images_fd, id, RENAME_NOREPLACE) < 0)
		ret = bk_err_sys(err, "publish images/%s", id);
	if (ret < 0 && named)
		drop_ref(img, img->nrefs - 1);
	if (ret == 0) {
		if (fsync(m->store->images_fd) < 0)
			bk_log(BK_LOG_WARN, "sync images/: %s", strerror(errno));
		if (res->familiar)
			take_name_locked(m, img, res->familiar);
		img->state = BK_IMAGE_READY;
		free(img->progress);
		img->progress = NULL;
		img->nprogress = 0;
		memcpy(id_out, img->id, sizeof(img->id));
	}
	pthread_mutex_unlock(&m->lock);
	if (ret < 0)
		return ret;
	events_notify(&m->ev, BK_OBJ_IMAGE, id, BK_CHANGE_STATE);
	return 0;
}

/*
 * Swap the built tmp/<work> in for images/<id>, keeping the id (the seed's
 * commit); the caller drops the old image's spare snapshots.
 */
int
image_exchange(struct model *m, const char *work, struct image *built, struct bk_err *err)
{
	struct image *old;
	size_t i;

	pthread_mutex_lock(&m->lock);
	old = image_find_locked(m, built->id, 0, NULL);
	if (old == NULL || old->state != BK_IMAGE_READY) {
		pthread_mutex_unlock(&m->lock);
		return bk_err_set(err, ENOENT, "no image '%s'", built->id);
	}
	/* One atomic exchange: a crash leaves either image whole. */
	if (failpoint("commit.replace", err) < 0) {
		pthread_mutex_unlock(&m->lock);
		return -err->code;
	}
	if (renameat2(m->store->tmp_fd, work, m->store->images_fd, built->id, RENAME_EXCHANGE) <
	    0) {
		int ret = bk_err_sys(err, "replace images/%s", built->id);

		pthread_mutex_unlock(&m->lock);
		return ret;
	}
	fsync(m->store->images_fd);
	json_decref(old->config);
	old->config = json_incref(built->config);
	old->size = built->size;
	memcpy(old->created, built->created, sizeof(old->created));
	free(old->source);
	old->source = xstrdup(built->source);
	free(old->digest);
	free(old->manifest);
	free(old->layers_text);
	old->digest = old->manifest = old->layers_text = NULL;
	/* Its filesystem is new: no layer holds it yet; its changes sit on built's base. */
	free(old->layer_key);
	old->layer_key = NULL;
	free(old->base_key);
	old->base_key = built->base_key ? xstrdup(built->base_key) : NULL;
	for (i = 0; i < old->nrefs; i++)
		free(old->refs[i]);
	old->nrefs = 0;
	for (i = 0; i < built->nrefs; i++) {
		old->refs = xrealloc(old->refs, (old->nrefs + 1) * sizeof(char *));
		old->refs[old->nrefs++] = xstrdup(built->refs[i]);
	}
	pthread_mutex_unlock(&m->lock);
	return 0;
}

/* ---- builds (ops/build.c) --------------------------------------------------- */

/*
 * Show a build under way: an image in state building, whose build.log grows
 * in tmp/<id>/ (emptied at every start, so a crash leaves nothing).  The
 * finished image takes this id.  *log_fd: build.log, open for appending
 * (caller closes).
 */
int
image_build_begin(struct model *m, const char *source, char id[BK_ID_SIZE], int *log_fd,
		  struct bk_err *err)
{
	struct image *img = xcalloc(1, sizeof(*img));
	cleanup_close int dfd = -1;
	int ret = new_id("img_", img->id);

	if (ret < 0) {
		image_free(img);
		return bk_err_set(err, -ret, "build: cannot make an id");
	}
	if (mkdirat(m->store->tmp_fd, img->id, 0700) < 0) {
		ret = bk_err_sys(err, "build: mkdir tmp/%s", img->id);
		image_free(img);
		return ret;
	}
	dfd = openat(m->store->tmp_fd, img->id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	*log_fd = dfd < 0 ? -1
			  : openat(dfd, "build.log",
				   O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
	if (*log_fd < 0) {
		ret = bk_err_sys(err, "build: create tmp/%s/build.log", img->id);
		store_discard(m->store->tmp_fd, img->id);
		image_free(img);
		return ret;
	}
	pending_show(m, img, BK_IMAGE_BUILDING, source, id);
	return 0;
}

/*
 * The build of id is done: tmp/<id>/rootfs becomes a read-only snapshot of
 * image from_id (NULL: an empty filesystem), the image gets config, size and
 * name (a familiar reference, taken from any other image; NULL: none), and
 * it is published, keeping its build.log.  On failure the caller calls
 * image_build_abort().
 */
int
image_build_finish(struct model *m, const char *id, const char *from_id, const char *base_key,
		   json_t *config, const char *name, uint64_t size, struct bk_err *err)
{
	cleanup_close int work_fd =
	    openat(m->store->tmp_fd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int src_fd = -1, rootfs_fd = -1;
	struct image *img;
	int ret = 0;

	if (work_fd < 0)
		return bk_err_sys(err, "build: open tmp/%s", id);
	if (from_id) {
		cleanup_free char *src = xasprintf("%s/rootfs", from_id);

		src_fd = openat(m->store->images_fd, src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (src_fd < 0)
			return bk_err_sys(err, "build: image %s", from_id);
		/* O(1), and read-only: an image never changes under its containers. */
		if (store_snapshot(src_fd, work_fd, "rootfs", true, err) < 0)
			return -err->code;
	} else {
		if (store_create_subvolume(work_fd, "rootfs", err) < 0)
			return -err->code;
		rootfs_fd = openat(work_fd, "rootfs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (rootfs_fd < 0)
			return bk_err_sys(err, "build: open rootfs");
		if (store_set_read_only(rootfs_fd, true, err) < 0)
			return -err->code;
	}

	pthread_mutex_lock(&m->lock);
	img = image_find_locked(m, id, 0, NULL);
	if (img == NULL || img->state != BK_IMAGE_BUILDING) {
		pthread_mutex_unlock(&m->lock);
		return bk_err_set(err, ENOENT, "build: image %s vanished", id);
	}
	json_decref(img->config);
	img->config = json_deep_copy(config);
	img->size = size;
	free(img->base_key);
	img->base_key = base_key ? xstrdup(base_key) : NULL;
	time_rfc3339(img->created, sizeof(img->created));
	ret = image_record_save(work_fd, img, err);
	if (ret == 0 &&
	    renameat2(m->store->tmp_fd, id, m->store->images_fd, id, RENAME_NOREPLACE) < 0)
		ret = bk_err_sys(err, "build: publish images/%s", id);
	if (ret == 0) {
		struct bk_err werr = BK_ERR_INIT;

		if (fsync(m->store->images_fd) < 0)
			bk_log(BK_LOG_WARN, "sync images/: %s", strerror(errno));
		if (name) {
			take_name_locked(m, img, name);
			if (record_save_in_store(m, img, &werr) < 0)
				bk_log(BK_LOG_WARN, "%s", werr.msg);
		}
		img->state = BK_IMAGE_READY;
	}
	pthread_mutex_unlock(&m->lock);
	if (ret < 0)
		return ret;
	events_notify(&m->ev, BK_OBJ_IMAGE, id, BK_CHANGE_STATE);
	events_emit(&m->ev, BK_OBJ_IMAGE, id, "build", "%s", "");
	return 0;
}

/* The build of id failed: its image and build.log disappear. */
void
image_build_abort(struct model *m, const char *id)
{
	store_discard(m->store->tmp_fd, id);
	image_pull_abort(m, id);
}

/*
 * A new image made from base_id's filesystem (NULL: an empty one) by a build
 * step: tmp/<id>/rootfs, a writable snapshot, for the caller to change and
 * then publish with image_derive_publish() or drop with image_derive_abort().
 * *rootfs_fd: the snapshot's root (caller closes).
 */
int
image_derive_begin(struct model *m, const char *base_id, char id_out[BK_ID_SIZE], int *rootfs_fd,
		   struct bk_err *err)
{
	cleanup_close int work_fd = -1, src_fd = -1;
	char id[BK_ID_SIZE];
	int ret = new_id("img_", id);

	if (ret < 0)
		return bk_err_set(err, -ret, "cannot make an id");
	if (mkdirat(m->store->tmp_fd, id, 0700) < 0)
		return bk_err_sys(err, "mkdir tmp/%s", id);
	work_fd = openat(m->store->tmp_fd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (work_fd < 0) {
		ret = bk_err_sys(err, "open tmp/%s", id);
		goto fail;
	}
	if (base_id) {
		cleanup_free char *src = xasprintf("%s/rootfs", base_id);

		src_fd = openat(m->store->images_fd, src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (src_fd < 0) {
			ret = bk_err_sys(err, "image %s", base_id);
			goto fail;
		}
		ret = store_snapshot(src_fd, work_fd, "rootfs", false, err);
	} else {
		ret = store_create_subvolume(work_fd, "rootfs", err);
	}
	if (ret < 0)
		goto fail;
	*rootfs_fd = openat(work_fd, "rootfs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*rootfs_fd < 0) {
		ret = bk_err_sys(err, "open tmp/%s/rootfs", id);
		goto fail;
	}
	memcpy(id_out, id, sizeof(id));
	return 0;
fail:
	store_discard(m->store->tmp_fd, id);
	return ret;
}

/*
 * Make tmp/<id>/rootfs (open at rootfs_fd) read-only and publish it as a
 * ready, unnamed image with config, source and size.  On failure the caller
 * calls image_derive_abort().
 */
int
image_derive_publish(struct model *m, const char *id, int rootfs_fd, json_t *config,
		     const char *source, uint64_t size, struct bk_err *err)
{
	cleanup_close int work_fd =
	    openat(m->store->tmp_fd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct image *img;
	int ret;

	if (work_fd < 0)
		return bk_err_sys(err, "open tmp/%s", id);
	if (store_set_read_only(rootfs_fd, true, err) < 0)
		return -err->code;
	img = xcalloc(1, sizeof(*img));
	memcpy(img->id, id, strlen(id) + 1);
	img->state = BK_IMAGE_READY;
	img->source = xstrdup(source);
	img->config = json_deep_copy(config);
	img->size = size;
	time_rfc3339(img->created, sizeof(img->created));
	ret = image_record_save(work_fd, img, err);
	if (ret == 0)
		ret = image_publish(m, img, err);
	if (ret < 0) {
		image_free(img);
		return ret;
	}
	events_notify(&m->ev, BK_OBJ_IMAGE, id, BK_CHANGE_CREATED);
	return 0;
}

void
image_derive_abort(struct model *m, const char *id)
{
	store_discard(m->store->tmp_fd, id);
}

/*
 * Replace a ready image's config (and its source, if not NULL), in memory and
 * in its record (rewritten atomically).  ENOENT if unknown, EBUSY if not
 * ready; nothing changes on failure.
 */
int
image_set_config(struct model *m, const char *id, json_t *config, const char *source,
		 struct bk_err *err)
{
	struct image *img;
	json_t *old_config;
	char *old_source;
	int ret;

	pthread_mutex_lock(&m->lock);
	img = image_find_locked(m, id, 0, NULL);
	if (img == NULL || img->state != BK_IMAGE_READY) {
		pthread_mutex_unlock(&m->lock);
		return bk_err_set(err, img ? EBUSY : ENOENT, "image %s is %s", id,
				  img ? "not ready" : "gone");
	}
	old_config = img->config;
	old_source = img->source;
	img->config = json_deep_copy(config);
	if (source)
		img->source = xstrdup(source);
	ret = record_save_in_store(m, img, err);
	if (ret < 0) {
		json_decref(img->config);
		if (img->source != old_source)
			free(img->source);
		img->config = old_config;
		img->source = old_source;
	} else {
		json_decref(old_config);
		if (img->source != old_source)
			free(old_source);
	}
	pthread_mutex_unlock(&m->lock);
	if (ret == 0)
		events_notify(&m->ev, BK_OBJ_IMAGE, id, BK_CHANGE_UPDATED);
	return ret;
}

/*
 * Record that images/<id>'s whole filesystem is also the layer key (a
 * snapshot ops/layers.c made of it).  ENOENT if the image went meanwhile.
 */
int
image_set_layer_key(struct model *m, const char *id, const char *key, struct bk_err *err)
{
	struct image *img;
	char *old;
	int ret;

	pthread_mutex_lock(&m->lock);
	img = image_find_locked(m, id, 0, NULL);
	if (img == NULL) {
		pthread_mutex_unlock(&m->lock);
		return bk_err_set(err, ENOENT, "image %s is gone", id);
	}
	old = img->layer_key;
	img->layer_key = xstrdup(key);
	ret = record_save_in_store(m, img, err);
	if (ret < 0) {
		free(img->layer_key);
		img->layer_key = old;
	} else {
		free(old);
	}
	pthread_mutex_unlock(&m->lock);
	return ret;
}

/*
 * The build log of the image with this serial: tmp/<id>/build.log while it
 * builds, images/<id>/build.log after; an empty file (/dev/null) for an image
 * that was not built.  Opened under the lock, as the publication renames it.
 */
int
image_open_build_log(struct model *m, uint64_t serial, struct bk_err *err)
{
	struct image *img;
	char path[BK_ID_SIZE + 16];
	int fd;

	pthread_mutex_lock(&m->lock);
	img = image_find_locked(m, NULL, serial, NULL);
	if (img == NULL) {
		pthread_mutex_unlock(&m->lock);
		return bk_err_set(err, ENOENT, "no such image");
	}
	snprintf(path, sizeof(path), "%s/build.log", img->id);
	fd = openat(img->state == BK_IMAGE_BUILDING ? m->store->tmp_fd : m->store->images_fd, path,
		    O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fd = bk_err_sys(err, "open %s", path);
	pthread_mutex_unlock(&m->lock);
	return fd;
}

/* ---- tags ------------------------------------------------------------------- */

/*
 * Set the names of image id from text (one reference per line): replace them,
 * or with append add to them.  A name another image has moves here, as
 * `docker tag` does.  EINVAL for a malformed reference (nothing changes).
 */
int
image_set_refs(struct model *m, const char *id, const char *text, bool append, struct bk_err *err)
{
	cleanup_free char *copy = xstrdup(text);
	char names[64][512];
	char *save = NULL, *line;
	struct image *img;
	size_t n = 0, i;
	int ret = 0;

	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		line[strcspn(line, "\r")] = '\0';
		if (line[strspn(line, " \t")] == '\0')
			continue;
		if (n == ARRAY_SIZE(names))
			return bk_err_set(err, E2BIG, "ref: at most %zu names at once",
					  ARRAY_SIZE(names));
		line += strspn(line, " \t");
		line[strcspn(line, " \t")] = '\0';
		if (familiar_name(line, names[n], sizeof(names[n]), err) < 0)
			return bk_err_wrap(err, "ref");
		n++;
	}
	pthread_mutex_lock(&m->lock);
	img = image_find_locked(m, id, 0, NULL);
	if (img == NULL || img->state != BK_IMAGE_READY) {
		pthread_mutex_unlock(&m->lock);
		return bk_err_set(err, img ? EBUSY : ENOENT, "image %s is %s", id,
				  img ? "not ready" : "gone");
	}
	if (!append) {
		for (i = 0; i < img->nrefs; i++)
			free(img->refs[i]);
		img->nrefs = 0;
	}
	for (i = 0; i < n; i++)
		take_name_locked(m, img, names[i]);
	ret = record_save_in_store(m, img, err);
	pthread_mutex_unlock(&m->lock);
	if (ret == 0)
		events_notify(&m->ev, BK_OBJ_IMAGE, id, BK_CHANGE_UPDATED);
	return ret;
}
