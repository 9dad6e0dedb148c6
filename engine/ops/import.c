/*
 * Import: a directory of the host copied into a new image (docker import),
 * built in tmp/ and published whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "base/base.h"
#include "base/inroot.h"
#include "model/model.h"
#include "parse/parse.h"
#include "ops/ops.h"
#include "store/store.h"

/* The config `docker import` would give, plus PATH and a shell if there is one. */
static json_t *
import_config(int rootfs_fd, const char *dir, const char *created)
{
	json_t *cfg = json_pack("{s:[s]}", "Env", DEFAULT_PATH);
	struct platform host;
	struct stat st;

	/* Followed as the container would: /bin/sh -> /bin/busybox is the image's busybox. */
	if (inroot_stat(rootfs_fd, "/bin/sh", &st) == 0 && S_ISREG(st.st_mode))
		json_object_set_new(cfg, "Cmd", json_pack("[s]", "/bin/sh"));
	platform_host(&host);
	return json_pack("{s:s, s:s*, s:s, s:s, s:o, s:{s:s, s:[]}, s:[{s:s, s:s}]}",
			 "architecture", host.arch, "variant", *host.variant ? host.variant : NULL,
			 "os", "linux", "created", created, "config", cfg, "rootfs", "type",
			 "layers", "diff_ids", "history", "created", created, "created_by", dir);
}

/* Copy the source directory's own owner, mode and times onto the new root. */
static int
copy_root_attrs(int src_fd, int dst_fd, struct bk_err *err)
{
	struct stat st;
	struct timespec ts[2];

	if (fstat(src_fd, &st) < 0)
		return bk_err_sys(err, "stat source");
	if (fchown(dst_fd, st.st_uid, st.st_gid) < 0 || fchmod(dst_fd, st.st_mode & 07777) < 0)
		return bk_err_sys(err, "set root attributes");
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	if (futimens(dst_fd, ts) < 0)
		return bk_err_sys(err, "set root times");
	return 0;
}

/* Build tmp/<id>/{rootfs,image.json}; on failure the caller removes tmp/<id>. */
static int
import_build(struct bk_engine *e, int src_fd, struct image *img, struct bk_cancel *cancel,
	     struct bk_err *err)
{
	cleanup_close int work_fd = -1, rootfs_fd = -1;
	struct copy_stats stats = { 0 };

	if (mkdirat(e->store.tmp_fd, img->id, 0700) < 0)
		return bk_err_sys(err, "mkdir tmp/%s", img->id);
	work_fd = openat(e->store.tmp_fd, img->id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (work_fd < 0)
		return bk_err_sys(err, "open tmp/%s", img->id);
	if (store_create_subvolume(work_fd, "rootfs", err) < 0)
		return -err->code;
	rootfs_fd = openat(work_fd, "rootfs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfs_fd < 0)
		return bk_err_sys(err, "open rootfs");
	if (copy_tree(src_fd, rootfs_fd, cancel, &stats, err) < 0 ||
	    failpoint("import.copied", err) < 0)
		return -err->code;
	if (copy_root_attrs(src_fd, rootfs_fd, err) < 0)
		return -err->code;
	/* Read-only: an image must never change under the containers made from it. */
	if (store_set_read_only(rootfs_fd, true, err) < 0)
		return -err->code;
	img->size = stats.bytes;
	img->config = import_config(rootfs_fd, img->source, img->created);
	if (img->config == NULL)
		return bk_err_set(err, EIO, "cannot encode config");
	if (cancel && atomic_load(&cancel->cancelled))
		return bk_err_set(err, EINTR, "interrupted");
	return image_record_save(work_fd, img, err);
}

int
bk_image_import(struct bk_engine *e, const char *dir, const char *ref, struct bk_cancel *cancel,
		char id_out[BK_ID_SIZE], struct bk_err *err)
{
	cleanup_close int src_fd = -1;
	struct image *img = NULL;
	char name[512];
	int ret;

	if (dir[0] != '/')
		return bk_err_set(err, EINVAL, "import '%s': path must be absolute", dir);
	if (ref && familiar_name(ref, name, sizeof(name), err) < 0)
		return bk_err_wrap(err, "import '%s'", dir);
	src_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (src_fd < 0)
		return bk_err_sys(err, "import '%s'", dir);

	img = xcalloc(1, sizeof(*img));
	img->source = xstrdup(dir);
	img->state = BK_IMAGE_READY;
	time_rfc3339(img->created, sizeof(img->created));
	if (ref) {
		img->refs = xcalloc(1, sizeof(char *));
		img->refs[img->nrefs++] = xstrdup(name);
	}
	ret = new_id("img_", img->id);
	if (ret < 0) {
		image_free(img);
		return bk_err_set(err, -ret, "import: cannot make an id");
	}

	ret = import_build(e, src_fd, img, cancel, err);
	if (ret == 0)
		ret = image_publish(&e->model, img, err);
	if (ret < 0) {
		store_discard(e->store.tmp_fd, img->id);
		image_free(img);
		return bk_err_wrap(err, "import '%s'", dir);
	}
	snprintf(id_out, BK_ID_SIZE, "%s", img->id);
	bk_log(BK_LOG_INFO, "imported '%s' as %s", dir, id_out);
	spare_refill(e, id_out);
	events_notify(&e->model.ev, BK_OBJ_IMAGE, id_out, BK_CHANGE_CREATED);
	return 0;
}