/*
 * docker save: images as one tar archive, the way Docker 25 writes it, so
 * that docker load, podman load, skopeo (oci-archive: and docker-archive:)
 * and our own load read it:
 *
 *   oci-layout                 {"imageLayoutVersion": "1.0.0"}
 *   blobs/sha256/<hex>         layer blobs, configs, manifests, each once
 *   index.json                 an OCI index: a manifest descriptor per name of
 *                              each image (one without annotations for an
 *                              unnamed image), annotated with the name
 *                              (io.containerd.image.name) and its tag
 *                              (org.opencontainers.image.ref.name)
 *   manifest.json              Docker's: [{"Config", "RepoTags", "Layers"}],
 *                              pointing at the same blobs
 *
 * The blobs are those a push sends (export.c): a pulled layer's blob as it
 * came (gzip, zstd or plain tar), a committed or built image's own layer a
 * gzip tar made once and kept, the config and manifest a pulled image came
 * with (its manifest digest is kept).  Docker load and podman's
 * docker-archive reader both decompress a layer named in manifest.json, so
 * the compressed blobs serve both views and nothing is stored twice.
 *
 * The archive is written to an unnamed file beside FILE (O_TMPFILE; a
 * hidden temporary name where the filesystem has none), linked and renamed
 * over FILE only when complete and synced: a failure or Ctrl-C leaves
 * nothing, and FILE is either the old file or the whole archive.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "ops/ops.h"
#include "parse/parse.h"
#include "base/base.h"

#define OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define ANN_NAME  "io.containerd.image.name"
#define ANN_REF   "org.opencontainers.image.ref.name"

struct saved {
	struct image_export x;
	char **names; /* familiar names written for it */
	size_t nnames;
};

struct save {
	struct bk_engine *e;
	struct bk_cancel *cancel;
	int layers_fd;
	struct saved *img;
	size_t n;
	char (*written)[DIGEST_STR_SIZE]; /* blobs in the archive already */
	size_t nwritten;
};

/* ---- where it goes --------------------------------------------------------------------------- */

/*
 * FILE resolved: the real path of an existing file, else its directory's
 * and its name.  Refused (EINVAL) inside bockerfs's own directories: the
 * store, and the control tree the daemon itself serves.
 */
static int
resolve_target(struct bk_engine *e, const char *file, char *dir, char *name, struct bk_err *err)
{
	char real[PATH_MAX], own[PATH_MAX], *slash;
	struct stat st;

	if (file[0] != '/')
		return bk_err_set(err, EINVAL, "'%s': the path must be absolute", file);
	if (realpath(file, real) == NULL) {
		cleanup_free char *copy = xstrdup(file);

		if (errno != ENOENT)
			return bk_err_sys(err, "'%s'", file);
		slash = strrchr(copy, '/');
		*slash = '\0';
		if (slash[1] == '\0' || !strcmp(slash + 1, ".") || !strcmp(slash + 1, ".."))
			return bk_err_set(err, EISDIR, "'%s' names a directory", file);
		if (realpath(copy[0] ? copy : "/", real) == NULL)
			return bk_err_sys(err, "'%s': its directory", file);
		if (strlen(real) + strlen(slash + 1) + 2 > sizeof(real))
			return bk_err_set(err, ENAMETOOLONG, "'%s'", file);
		snprintf(real + strlen(real), sizeof(real) - strlen(real), "%s%s",
			 strcmp(real, "/") ? "/" : "", slash + 1);
	}
	if (path_is_own(e, real, own))
		return bk_err_set(err, EINVAL, "'%s' holds or is inside bockerfs's own '%s'", file,
				  own);
	if (stat(real, &st) == 0 && S_ISDIR(st.st_mode))
		return bk_err_set(err, EISDIR, "'%s' is a directory", file);
	slash = strrchr(real, '/');
	snprintf(name, NAME_MAX + 1, "%s", slash + 1);
	*slash = '\0';
	snprintf(dir, PATH_MAX, "%s", real[0] ? real : "/");
	return 0;
}

/* An unnamed file in dfd (or a hidden one where O_TMPFILE is not supported: *tmp set). */
static int
open_temp(int dfd, const char *name, char *tmp, size_t size, struct bk_err *err)
{
	char rnd[13];
	int fd = openat(dfd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);

	tmp[0] = '\0';
	if (fd >= 0)
		return fd;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return bk_err_sys(err, "create a file beside '%s'", name);
	random_hex(rnd, 12);
	snprintf(tmp, size, ".%.200s.bk-%s", name, rnd);
	fd = openat(dfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		tmp[0] = '\0';
		return bk_err_sys(err, "create a file beside '%s'", name);
	}
	return fd;
}

/* The archive in fd, complete and synced, put in place of dfd/name. */
static int
publish(int dfd, const char *name, int fd, char *tmp, size_t size, struct bk_err *err)
{
	char proc[64], rnd[13];

	if (fsync(fd) < 0)
		return bk_err_sys(err, "sync the archive");
	if (tmp[0] == '\0') {
		random_hex(rnd, 12);
		snprintf(tmp, size, ".%.200s.bk-%s", name, rnd);
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		if (linkat(AT_FDCWD, proc, dfd, tmp, AT_SYMLINK_FOLLOW) < 0) {
			tmp[0] = '\0';
			return bk_err_sys(err, "link the archive beside '%s'", name);
		}
	}
	if (renameat(dfd, tmp, dfd, name) < 0)
		return bk_err_sys(err, "rename the archive to '%s'", name);
	tmp[0] = '\0';
	if (fsync(dfd) < 0)
		bk_log(BK_LOG_WARN, "save: sync the directory of '%s': %s", name, strerror(errno));
	return 0;
}

/* ---- what goes in ---------------------------------------------------------------------------- */

static bool
is_written(struct save *s, const char *digest)
{
	for (size_t i = 0; i < s->nwritten; i++)
		if (strcmp(s->written[i], digest) == 0)
			return true;
	s->written = xrealloc(s->written, (s->nwritten + 1) * sizeof(*s->written));
	snprintf(s->written[s->nwritten++], DIGEST_STR_SIZE, "%s", digest);
	return false;
}

/* layers/<key>/blob into the archive, checked against what layer.json says of it. */
static int
put_layer(struct save *s, struct tar_out *t, const struct layer_rec *l, struct bk_err *err)
{
	char path[LAYER_KEY_SIZE + 16], member[96], got[DIGEST_STR_SIZE];
	cleanup_close int fd = -1;
	struct stat st;
	int ret;

	if (is_written(s, l->blob_digest))
		return 0;
	snprintf(path, sizeof(path), "%s/blob", l->key);
	fd = openat(s->layers_fd, path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return bk_err_sys(err, "layers/%.24s/blob", l->key);
	if ((uint64_t)st.st_size != l->blob_size)
		return bk_err_set(err, EIO, "layers/%.24s/blob: %llu bytes, layer.json says %llu",
				  l->key, (unsigned long long)st.st_size,
				  (unsigned long long)l->blob_size);
	snprintf(member, sizeof(member), "blobs/sha256/%s", digest_hex(l->blob_digest));
	if ((ret = tar_out_file(t, member, fd, l->blob_size, s->cancel, got, err)) < 0)
		return ret;
	if (strcmp(got, l->blob_digest) != 0)
		return bk_err_set(err, EIO, "layers/%.24s/blob is damaged: %s, not %s", l->key, got,
				  l->blob_digest);
	return failpoint("save.layer", err);
}

static int
put_mem(struct save *s, struct tar_out *t, const char *digest, const char *data, size_t len,
	struct bk_err *err)
{
	char member[96];

	if (is_written(s, digest))
		return 0;
	snprintf(member, sizeof(member), "blobs/sha256/%s", digest_hex(digest));
	return tar_out_mem(t, member, data, len, err);
}

/* A descriptor of x's manifest for index.json, annotated with name (NULL: none). */
static json_t *
descriptor(const struct image_export *x, const char *name)
{
	json_t *d = json_pack("{s:s, s:s, s:I}", "mediaType", x->manifest_type, "digest",
			      x->manifest_digest, "size", (json_int_t)x->manifest_len);
	struct bk_err err = BK_ERR_INIT;
	struct image_ref r;
	char full[600];

	if (name && ref_parse(name, &r, &err) == 0 && ref_format_full(&r, full, sizeof(full)) > 0)
		json_object_set_new(d, "annotations",
				    json_pack("{s:s, s:s}", ANN_NAME, full, ANN_REF, r.tag));
	return d;
}

/* index.json and manifest.json, the two views of the same blobs. */
static int
put_indexes(struct save *s, struct tar_out *t, struct bk_err *err)
{
	cleanup(json_decrefp) json_t *index = NULL, *docker = json_array();
	cleanup_free char *itext = NULL, *dtext = NULL;
	json_t *mans = json_array();
	int ret;

	for (size_t i = 0; i < s->n; i++) {
		const struct saved *v = &s->img[i];
		json_t *tags = json_array(), *layers = json_array();

		for (size_t k = 0; k < v->nnames; k++) {
			json_array_append_new(mans, descriptor(&v->x, v->names[k]));
			json_array_append_new(tags, json_string(v->names[k]));
		}
		if (v->nnames == 0)
			json_array_append_new(mans, descriptor(&v->x, NULL));
		for (size_t k = 0; k < v->x.n; k++)
			json_array_append_new(
			    layers,
			    json_sprintf("blobs/sha256/%s", digest_hex(v->x.chain[k].blob_digest)));
		json_array_append_new(docker,
				      json_pack("{s:s+, s:o, s:o}", "Config", "blobs/sha256/",
						digest_hex(v->x.config_digest), "RepoTags", tags,
						"Layers", layers));
	}
	index = json_pack("{s:i, s:s, s:o}", "schemaVersion", 2, "mediaType", OCI_INDEX,
			  "manifests", mans);
	itext = index ? json_dumps(index, JSON_COMPACT) : NULL;
	dtext = json_dumps(docker, JSON_COMPACT);
	if (itext == NULL || dtext == NULL)
		return bk_err_set(err, ENOMEM, "encode index.json");
	if ((ret = tar_out_mem(t, "index.json", itext, strlen(itext), err)) < 0)
		return ret;
	return tar_out_mem(t, "manifest.json", dtext, strlen(dtext), err);
}

static int
write_archive(struct save *s, int fd, struct bk_err *err)
{
	static const char layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";
	struct tar_out t = { 0 };
	size_t i, k;
	int ret;

	if ((ret = tar_out_open(&t, fd, err)) < 0)
		return ret;
	if ((ret = tar_out_mem(&t, "oci-layout", layout, strlen(layout), err)) < 0 ||
	    (ret = tar_out_dir(&t, "blobs/", err)) < 0 ||
	    (ret = tar_out_dir(&t, "blobs/sha256/", err)) < 0)
		goto out;
	for (i = 0; i < s->n; i++) {
		struct image_export *x = &s->img[i].x;

		for (k = 0; k < x->n && ret == 0; k++)
			ret = put_layer(s, &t, &x->chain[k], err);
		if (ret == 0)
			ret = put_mem(s, &t, x->config_digest, x->config, x->config_len, err);
		if (ret == 0)
			ret = put_mem(s, &t, x->manifest_digest, x->manifest, x->manifest_len, err);
		if (ret < 0)
			goto out;
	}
	if ((ret = put_indexes(s, &t, err)) < 0)
		goto out;
	return tar_out_close(&t, err);
out:
	tar_out_free(&t);
	return ret;
}

/* ---- which images, under which names --------------------------------------------------------- */

static void
add_name(struct saved *v, const char *name)
{
	/* RepoTags and ref.name are tags: a name by digest has none. */
	if (strchr(name, '@'))
		return;
	for (size_t k = 0; k < v->nnames; k++)
		if (strcmp(v->names[k], name) == 0)
			return;
	v->names = xrealloc(v->names, (v->nnames + 1) * sizeof(char *));
	v->names[v->nnames++] = xstrdup(name);
}

/* Saved by one of its names: that name (as docker save); by its id: all of them. */
static void
add_names(struct saved *v, const char *asked)
{
	struct bk_err err = BK_ERR_INIT;
	char familiar[512];
	size_t i;

	if (strcmp(asked, v->x.id) == 0) {
		for (i = 0; i < v->x.nrefs; i++)
			add_name(v, v->x.refs[i]);
		return;
	}
	if (familiar_name(asked, familiar, sizeof(familiar), &err) < 0)
		return;
	for (i = 0; i < v->x.nrefs; i++)
		if (strcmp(v->x.refs[i], familiar) == 0)
			add_name(v, familiar);
}

static int
add_image(struct save *s, const char *name, struct bk_err *err)
{
	struct image_export x;
	size_t i;
	int ret = image_export_open(s->e, s->layers_fd, name, s->cancel, &x, err);

	if (ret < 0) {
		image_export_free(&x);
		return bk_err_wrap(err, "'%s'", name);
	}
	for (i = 0; i < s->n; i++)
		if (strcmp(s->img[i].x.id, x.id) == 0)
			break;
	if (i == s->n) {
		s->img = xrealloc(s->img, (s->n + 1) * sizeof(*s->img));
		memset(&s->img[s->n], 0, sizeof(s->img[s->n]));
		s->img[s->n++].x = x;
	} else {
		image_export_free(&x);
	}
	add_names(&s->img[i], name);
	return 0;
}

static void
save_free(struct save *s)
{
	for (size_t i = 0; i < s->n; i++) {
		image_export_free(&s->img[i].x);
		for (size_t k = 0; k < s->img[i].nnames; k++)
			free(s->img[i].names[k]);
		free(s->img[i].names);
	}
	free(s->img);
	free(s->written);
}

/* ---- the public entry ------------------------------------------------------------------------ */

static int
save_held(struct save *s, const char *file, const char *const *names, size_t n, struct bk_err *err)
{
	char dir[PATH_MAX], name[NAME_MAX + 1], tmp[NAME_MAX + 1] = "";
	cleanup_close int dfd = -1, fd = -1;
	size_t i;
	int ret;

	if ((ret = resolve_target(s->e, file, dir, name, err)) < 0)
		return ret;
	if ((ret = s->layers_fd = layers_open_dir(s->e, err)) < 0)
		return ret;
	/* The blobs are made first: a save that cannot make them writes nothing. */
	for (i = 0; i < n; i++)
		if ((ret = add_image(s, names[i], err)) < 0)
			return ret;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return bk_err_sys(err, "'%s'", dir);
	if ((fd = open_temp(dfd, name, tmp, sizeof(tmp), err)) < 0)
		return fd;
	ret = write_archive(s, fd, err);
	if (ret == 0 && atomic_load(&s->cancel->cancelled))
		ret = bk_err_set(err, EINTR, "interrupted");
	if (ret == 0)
		ret = failpoint("save.publish", err);
	if (ret == 0)
		ret = publish(dfd, name, fd, tmp, sizeof(tmp), err);
	if (ret < 0 && tmp[0])
		unlinkat(dfd, tmp, 0);
	return ret;
}

int
bk_image_save(struct bk_engine *e, const char *file, const char *const *names, size_t n,
	      struct bk_cancel *cancel, struct bk_saved_image *out, size_t *nout,
	      struct bk_err *err)
{
	struct bk_cancel none = { 0 };
	struct save s = { .e = e, .cancel = cancel ? cancel : &none, .layers_fd = -1 };
	size_t i;
	int ret;

	*nout = 0;
	if (n == 0)
		return bk_err_set(err, EINVAL, "save '%s': no image named", file);
	/* Layers made for the blobs stay until the images that need them record them. */
	layers_hold(e);
	ret = save_held(&s, file, names, n, err);
	if (s.layers_fd >= 0)
		close(s.layers_fd);
	layers_release(e);
	if (ret < 0) {
		save_free(&s);
		return bk_err_wrap(err, "save '%s'", file);
	}
	*nout = s.n;
	for (i = 0; i < s.n; i++) {
		snprintf(out[i].id, sizeof(out[i].id), "%s", s.img[i].x.id);
		snprintf(out[i].digest, sizeof(out[i].digest), "%s", s.img[i].x.manifest_digest);
		events_emit(&e->model.ev, BK_OBJ_IMAGE, s.img[i].x.id, "save", "file=%s", file);
	}
	bk_log(BK_LOG_INFO, "saved %zu image(s) to '%s': %zu blob(s)", s.n, file, s.nwritten);
	save_free(&s);
	return 0;
}
