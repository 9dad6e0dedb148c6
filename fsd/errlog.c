/*
 * Failures, kept where the tree shows them: the top-level `errors` file (the
 * last ERRORS_MAX, "TIME PATH OP ERRNAME: message") and each object's `err`
 * file (its last failure, "TIME OP: message").
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/timefmt.h"
#include "common/xalloc.h"
#include "fsd.h"

#define ERRORS_MAX 128

struct obj_err {
	char *path; /* "images", "images/img_x", "containers/ps_x" */
	char *text;
	struct obj_err *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *ring[ERRORS_MAX]; /* protected by lock */
static size_t ring_next;       /* protected by lock */
static struct obj_err *objs;   /* protected by lock */

static const char *
errname(int code)
{
	const char *name = strerrorname_np(code);

	return name ? name : "EIO";
}

/*
 * s with control bytes and bytes that are not UTF-8 written as \xNN: paths
 * and messages carry names as the writer gave them (mkdir "a\nb"), and one
 * failure must stay one line of text.
 */
static char *
escape(const char *s)
{
	size_t len = strlen(s), i = 0, n;
	char *out = xmalloc(len * 4 + 1), *p = out;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];

		n = c < 0x20 || c == 0x7f ? 0 : ctl_utf8_len((const unsigned char *)s + i);
		if (n == 0) {
			p += sprintf(p, "\\x%02x", c);
			i++;
		} else {
			memcpy(p, s + i, n);
			p += n;
			i += n;
		}
	}
	*p = '\0';
	return out;
}

/*
 * Record a failure of op on path (the file written), attributing it to the
 * object errpath (whose `err` file shows it).
 */
void
errlog_record(const char *path, const char *errpath, const char *op, const struct bk_err *err)
{
	char t[TIME_RFC3339_SIZE];
	char *line, *text;
	char *epath = escape(path), *emsg = escape(err->msg);
	struct obj_err *o;

	time_rfc3339(t, sizeof(t));
	line = xasprintf("%s %s %s %s: %s\n", t, epath, op, errname(err->code), emsg);
	text = xasprintf("%s %s: %s\n", t, op, emsg);
	free(epath);
	free(emsg);
	pthread_mutex_lock(&lock);
	free(ring[ring_next]);
	ring[ring_next] = line;
	ring_next = (ring_next + 1) % ERRORS_MAX;
	for (o = objs; o; o = o->next)
		if (strcmp(o->path, errpath) == 0)
			break;
	if (o == NULL) {
		o = xcalloc(1, sizeof(*o));
		o->path = xstrdup(errpath);
		o->next = objs;
		objs = o;
	}
	free(o->text);
	o->text = text;
	pthread_mutex_unlock(&lock);
}

char *
errlog_render_all(size_t *len)
{
	size_t total = 1, i;
	char *s, *p;

	pthread_mutex_lock(&lock);
	for (i = 0; i < ERRORS_MAX; i++)
		if (ring[i])
			total += strlen(ring[i]);
	p = s = xmalloc(total);
	for (i = 0; i < ERRORS_MAX; i++) {
		char *line = ring[(ring_next + i) % ERRORS_MAX];

		if (line)
			p = stpcpy(p, line);
	}
	*p = '\0';
	pthread_mutex_unlock(&lock);
	*len = (size_t)(p - s);
	return s;
}

char *
errlog_render_obj(const char *errpath, size_t *len)
{
	struct obj_err *o;
	char *s;

	pthread_mutex_lock(&lock);
	for (o = objs; o; o = o->next)
		if (strcmp(o->path, errpath) == 0)
			break;
	s = xstrdup(o && o->text ? o->text : "");
	pthread_mutex_unlock(&lock);
	*len = strlen(s);
	return s;
}

/* An object was removed: a new one with the same name starts with no error. */
void
errlog_forget_obj(const char *errpath)
{
	struct obj_err **pp, *o;

	pthread_mutex_lock(&lock);
	for (pp = &objs; (o = *pp) != NULL; pp = &o->next)
		if (strcmp(o->path, errpath) == 0) {
			*pp = o->next;
			free(o->path);
			free(o->text);
			free(o);
			break;
		}
	pthread_mutex_unlock(&lock);
}

/*
 * An object that did not load (BK_*_BROKEN) says why in its `err` and in
 * `errors`, as op "load", from the moment the tree shows it.
 */
void
errlog_note_broken(struct fsd *fs, enum bk_obj_kind kind, const char *id)
{
	struct bk_err err = BK_ERR_INIT;
	char path[OBJ_PATH_SIZE];

	if (kind == BK_OBJ_IMAGE) {
		struct bk_image_info info;

		if (bk_image_get(fs->engine, id, 0, &info, &err) < 0)
			return;
		err.code = info.broken_code;
		snprintf(err.msg, sizeof(err.msg), "%s", info.broken);
		bk_image_info_free(&info);
	} else if (kind == BK_OBJ_CONTAINER) {
		struct bk_container_info info;

		if (bk_container_get(fs->engine, id, 0, &info, &err) < 0)
			return;
		err.code = info.broken_code;
		snprintf(err.msg, sizeof(err.msg), "%s", info.broken);
		bk_container_info_free(&info);
	} else if (kind == BK_OBJ_VOLUME) {
		struct bk_volume_info info;

		if (bk_volume_get(fs->engine, id, 0, &info, &err) < 0)
			return;
		err.code = info.broken_code;
		snprintf(err.msg, sizeof(err.msg), "%s", info.broken);
		bk_volume_info_free(&info);
	}
	if (err.code == 0)
		return;
	snprintf(path, sizeof(path), "/%s/%s", obj_dir_of(kind), id);
	errlog_record(path, path + 1, "load", &err);
}

/* At start: every object the engine could not load. */
void
errlog_note_all_broken(struct fsd *fs)
{
	struct bk_image_entry *images = NULL;
	struct bk_container_entry *ctrs = NULL;
	struct bk_volume_entry *vols = NULL;
	size_t n = 0, i;

	/* A listing that fails leaves n at 0: nothing to note. */
	(void)bk_image_list(fs->engine, &images, &n);
	for (i = 0; i < n; i++)
		errlog_note_broken(fs, BK_OBJ_IMAGE, images[i].id);
	bk_image_list_free(images, n);
	n = 0;
	(void)bk_container_list(fs->engine, &ctrs, &n);
	for (i = 0; i < n; i++)
		errlog_note_broken(fs, BK_OBJ_CONTAINER, ctrs[i].id);
	bk_container_list_free(ctrs, n);
	n = 0;
	(void)bk_volume_list(fs->engine, &vols, &n);
	for (i = 0; i < n; i++)
		errlog_note_broken(fs, BK_OBJ_VOLUME, vols[i].name);
	free(vols);
}
