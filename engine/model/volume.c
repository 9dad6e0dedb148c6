/*
 * Volumes: named directories that outlive containers (Docker's local
 * volumes).  Each is volumes/<name>/ in the store: its record, volume.json,
 * and its files, data/, a subvolume of its own that containers bind-mount.
 * An anonymous volume (an image's VOLUME with no mount of the user's there)
 * names the container it was made for and goes with it.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/timefmt.h"
#include "model/model.h"

static void
volume_free(struct volume *v)
{
	if (v == NULL)
		return;
	free(v->broken);
	free(v);
}

void
volumes_free(struct model *m)
{
	size_t i;

	for (i = 0; i < m->nvols; i++)
		volume_free(m->vols[i]);
	free(m->vols);
	m->vols = NULL;
	m->nvols = 0;
}

struct volume *
volume_find_locked(struct model *m, const char *name, uint64_t serial)
{
	size_t i;

	for (i = 0; i < m->nvols; i++)
		if (name ? strcmp(m->vols[i]->name, name) == 0 : m->vols[i]->serial == serial)
			return m->vols[i];
	return NULL;
}

static void
table_add_locked(struct model *m, struct volume *v)
{
	v->serial = ++m->next_serial;
	m->vols = xrealloc(m->vols, (m->nvols + 1) * sizeof(*m->vols));
	m->vols[m->nvols++] = v;
}

static void
table_del_locked(struct model *m, struct volume *v)
{
	size_t i;

	for (i = 0; i < m->nvols; i++)
		if (m->vols[i] == v) {
			memmove(&m->vols[i], &m->vols[i + 1],
				(m->nvols - i - 1) * sizeof(*m->vols));
			m->nvols--;
			return;
		}
}

static int
record_write(int dfd, const struct volume *v, struct bk_err *err)
{
	cleanup(json_decrefp) json_t *j =
	    json_pack("{s:s, s:s, s:s, s:b}", "name", v->name, "created", v->created, "owner",
		      v->owner, "fresh", v->fresh);
	cleanup_free char *text = j ? json_dumps(j, JSON_INDENT(1)) : NULL;

	if (text == NULL)
		return bk_err_set(err, ENOMEM, "volume %s: cannot encode record", v->name);
	return write_file_replace(dfd, "volume.json", text, strlen(text), err);
}

int
volume_save(struct model *m, const struct volume *v, struct bk_err *err)
{
	cleanup_close int dfd = -1;

	if (v->broken)
		return bk_err_set(err, v->broken_code, "volume %s is broken: %s", v->name,
				  v->broken);
	dfd =
	    openat(m->store->volumes_fd, v->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return bk_err_sys(err, "volume %s", v->name);
	return record_write(dfd, v, err);
}

static int
record_load(struct model *m, const char *name, struct volume *v, struct bk_err *err)
{
	cleanup_close int dfd =
	    openat(m->store->volumes_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_free char *text = NULL;
	cleanup(json_decrefp) json_t *j = NULL;
	const char *rname = "", *created = "", *owner = "";
	json_error_t jerr;
	int fresh = 0;
	struct stat st;

	if (dfd < 0)
		return bk_err_sys(err, "volumes/%s", name);
	if (read_file_at(dfd, "volume.json", 1 << 16, &text, NULL, err) < 0)
		return bk_err_wrap(err, "volumes/%s/volume.json", name);
	j = json_loads(text, 0, &jerr);
	if (j == NULL || json_unpack(j, "{s:s, s:s, s?s, s?b}", "name", &rname, "created", &created,
				     "owner", &owner, "fresh", &fresh) < 0)
		return bk_err_set(err, EBADMSG, "volumes/%s/volume.json: not a volume record",
				  name);
	if (strcmp(rname, name) != 0)
		return bk_err_set(err, EBADMSG, "volumes/%s/volume.json: it names volume '%.64s'",
				  name, rname);
	if (fstatat(dfd, "data", &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
		return bk_err_set(err, ENOENT, "volumes/%s: its data directory is missing", name);
	snprintf(v->created, sizeof(v->created), "%s", created);
	snprintf(v->owner, sizeof(v->owner), "%s", owner);
	v->fresh = fresh;
	return 0;
}

int
volumes_load(struct model *m, struct bk_err *err)
{
	cleanup_dir DIR *d = opendir_at(m->store->volumes_fd);
	struct dirent *de;

	if (d == NULL)
		return bk_err_sys(err, "volumes");
	while ((de = readdir(d)) != NULL) {
		struct bk_err lerr = BK_ERR_INIT;
		struct volume *v;

		if (de->d_name[0] == '.')
			continue;
		if (!mount_volume_name_ok(de->d_name)) {
			bk_log(BK_LOG_WARN, "volumes/%s: not a volume name, ignored", de->d_name);
			continue;
		}
		v = xcalloc(1, sizeof(*v));
		snprintf(v->name, sizeof(v->name), "%.128s", de->d_name);
		if (record_load(m, de->d_name, v, &lerr) < 0) {
			/* Shown, not dropped: its data may be all a user has. */
			bk_log(BK_LOG_WARN, "%s: shown as broken", lerr.msg);
			v->broken = xstrdup(lerr.msg);
			v->broken_code = lerr.code;
		}
		table_add_locked(m, v);
	}
	bk_log(BK_LOG_INFO, "loaded %zu volume(s)", m->nvols);
	return 0;
}

int
volume_create(struct model *m, const char *name, const char *owner, struct bk_err *err)
{
	char work[VOLUME_NAME_MAX + 8];
	cleanup_close int dfd = -1;
	struct volume *v;
	int ret;

	if (!mount_volume_name_ok(name))
		return bk_err_set(err, EINVAL,
				  "bad volume name '%s': use [A-Za-z0-9][A-Za-z0-9_.-], at most %d",
				  name, VOLUME_NAME_MAX);
	v = xcalloc(1, sizeof(*v));
	snprintf(v->name, sizeof(v->name), "%s", name);
	snprintf(v->owner, sizeof(v->owner), "%s", owner ? owner : "");
	v->fresh = true;
	time_rfc3339(v->created, sizeof(v->created));
	/* Built in tmp/ and renamed in: a crash never leaves half a volume. */
	snprintf(work, sizeof(work), "vol-%s", name);
	pthread_mutex_lock(&m->lock);
	if (volume_find_locked(m, name, 0)) {
		ret = bk_err_set(err, EEXIST, "volume '%s' exists", name);
		goto fail;
	}
	if (mkdirat(m->store->tmp_fd, work, 0700) < 0) {
		ret = bk_err_sys(err, "create volume %s", name);
		goto fail;
	}
	dfd = openat(m->store->tmp_fd, work, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0) {
		ret = bk_err_sys(err, "create volume %s", name);
		goto discard;
	}
	if (store_create_subvolume(dfd, "data", err) < 0 || record_write(dfd, v, err) < 0) {
		ret = -err->code;
		goto discard;
	}
	if (renameat2(m->store->tmp_fd, work, m->store->volumes_fd, name, RENAME_NOREPLACE) < 0) {
		ret = bk_err_sys(err, "create volume %s", name);
		goto discard;
	}
	table_add_locked(m, v);
	events_queue_locked(&m->ev, BK_OBJ_VOLUME, name, "create", "%s", "");
	pthread_mutex_unlock(&m->lock);
	events_flush(&m->ev);
	events_notify(&m->ev, BK_OBJ_VOLUME, name, BK_CHANGE_CREATED);
	bk_log(BK_LOG_INFO, "created volume %s%s%s", name, owner ? " for " : "",
	       owner ? owner : "");
	return 0;
discard:
	store_discard(m->store->tmp_fd, work);
fail:
	pthread_mutex_unlock(&m->lock);
	volume_free(v);
	return ret;
}

int
volume_remove_locked(struct model *m, struct volume *v, struct bk_err *err)
{
	char trash[VOLUME_NAME_MAX + 16];

	snprintf(trash, sizeof(trash), "vol-%s.rm", v->name);
	if (renameat(m->store->volumes_fd, v->name, m->store->tmp_fd, trash) < 0)
		return bk_err_sys(err, "remove volume %s", v->name);
	table_del_locked(m, v);
	events_queue_locked(&m->ev, BK_OBJ_VOLUME, v->name, "remove", "%s", "");
	/* The files go after the lock is dropped: volume_discard. */
	return 0;
}

void
volume_discard(struct model *m, struct volume *v)
{
	char trash[VOLUME_NAME_MAX + 16];

	snprintf(trash, sizeof(trash), "vol-%s.rm", v->name);
	store_discard(m->store->tmp_fd, trash);
	bk_log(BK_LOG_INFO, "removed volume %s", v->name);
	events_flush(&m->ev);
	events_notify(&m->ev, BK_OBJ_VOLUME, v->name, BK_CHANGE_REMOVED);
	volume_free(v);
}

int
volume_info(struct model *m, const char *name, uint64_t serial, struct bk_volume_info *out,
	    struct bk_err *err)
{
	struct volume *v;
	size_t i;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&m->lock);
	v = volume_find_locked(m, name, serial);
	if (v == NULL) {
		pthread_mutex_unlock(&m->lock);
		return bk_err_set(err, ENOENT, "no volume '%s'", name ? name : "?");
	}
	snprintf(out->name, sizeof(out->name), "%s", v->name);
	out->serial = v->serial;
	memcpy(out->created, v->created, sizeof(out->created));
	snprintf(out->owner, sizeof(out->owner), "%s", v->owner);
	out->path = xasprintf("%s/volumes/%s/data", m->store->path, v->name);
	out->broken = xstrdup(v->broken ? v->broken : "");
	out->broken_code = v->broken ? v->broken_code : 0;
	{
		size_t len = 1;
		char *p;

		for (i = 0; i < m->nctrs; i++)
			len += BK_ID_SIZE + 1;
		p = out->users = xmalloc(len);
		*p = '\0';
		for (i = 0; i < m->nctrs; i++)
			if (container_names_volume(m->ctrs[i], v->name))
				p += sprintf(p, "%s\n", m->ctrs[i]->id);
	}
	pthread_mutex_unlock(&m->lock);
	return 0;
}

int
volume_list(struct model *m, struct bk_volume_entry **out, size_t *n)
{
	size_t i;

	pthread_mutex_lock(&m->lock);
	*out = xcalloc(m->nvols + 1, sizeof(**out));
	for (i = 0; i < m->nvols; i++) {
		snprintf((*out)[i].name, sizeof((*out)[i].name), "%s", m->vols[i]->name);
		(*out)[i].serial = m->vols[i]->serial;
	}
	*n = m->nvols;
	pthread_mutex_unlock(&m->lock);
	return 0;
}
