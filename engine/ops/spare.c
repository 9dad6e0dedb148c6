/*
 * Spare snapshots: a btrfs snapshot costs a transaction commit (several ms),
 * so a container's filesystem is taken from a small pool of writable
 * snapshots of its image made ahead of time, and the pool is refilled by a
 * background thread.  Taking one is a rename.  A spare is a pristine
 * snapshot nobody has written to, so spares left by a crash are still good;
 * they are dropped with their image.
 *
 *   spare/<image_id>.<serial>   writable snapshot of images/<image_id>/rootfs
 *
 * A snapshot's files are new inodes with no page cache of their own, so
 * the first exec in a container reads its program from disk again (2-3 ms
 * for busybox here).  The refill reads ahead what a start will exec: the
 * image's entrypoint (or /bin/sh, the seed's `sh -c`) and its ELF
 * interpreter.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <elf.h>
#include <sys/stat.h>

#include "ops/ops.h"
#include "base/inroot.h"
#include "base/base.h"

/*
 * Refilled in batches, when only SPARES_LOW are left: a snapshot commits a
 * btrfs transaction, which stalls the store's other writers (the records a
 * start writes) for a while; batches keep most starts clear of it.
 */
#define SPARES_PER_IMAGE 4
#define SPARES_LOW       1

struct refill {
	char image_id[BK_ID_SIZE];
	struct refill *next;
};

static bool
is_spare_of(const char *name, const char *image_id)
{
	size_t n = strlen(image_id);

	return strncmp(name, image_id, n) == 0 && name[n] == '.';
}

/* How many spares image_id has (lock held). */
static int
count_locked(struct bk_engine *e, const char *image_id)
{
	cleanup_dir DIR *d = opendir_at(e->store.spare_fd);
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (is_spare_of(de->d_name, image_id))
			n++;
	return n;
}

#define WARM_MAX (16 << 20)

/* Read path (resolved inside the rootfs) into the page cache; its interpreter's path, if any. */
static void
warm_file(int root_fd, const char *path, char *interp, size_t interp_size)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	struct stat st;
	/* The image's file: a FIFO or a device there is skipped, never opened for reading. */
	cleanup_close int fd = inroot_file(root_fd, path, &st);
	int i;

	if (interp)
		interp[0] = '\0';
	if (fd < 0)
		return;
	readahead(fd, 0, (size_t)(st.st_size < WARM_MAX ? st.st_size : WARM_MAX));
	if (interp == NULL || pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 || eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(ph))
		return;
	for (i = 0; i < eh.e_phnum && i < 64; i++) {
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * sizeof(ph))) !=
		    sizeof(ph))
			return;
		if (ph.p_type == PT_INTERP && ph.p_filesz > 1 && ph.p_filesz < interp_size &&
		    pread(fd, interp, ph.p_filesz, (off_t)ph.p_offset) == (ssize_t)ph.p_filesz) {
			interp[ph.p_filesz - 1] = '\0';
			return;
		}
	}
}

/* What a start of image_id will likely exec: its entrypoint (else its Cmd), and /bin/sh. */
static void
warm_spare(struct bk_engine *e, const char *image_id, int root_fd)
{
	const char *progs[2] = { "/bin/sh", NULL };
	char interp[PATH_MAX];
	json_t *config = NULL, *cfg, *arr;
	char unused[BK_ID_SIZE];
	size_t i;

	if (image_config_for(&e->model, image_id, unused, &config, NULL) == 0) {
		cfg = json_object_get(config, "config");
		arr = json_object_get(cfg, "Entrypoint");
		if (!json_is_array(arr) || json_array_size(arr) == 0)
			arr = json_object_get(cfg, "Cmd");
		progs[1] = json_string_value(json_array_get(arr, 0));
	}
	for (i = 0; i < ARRAY_SIZE(progs); i++) {
		if (progs[i] == NULL || progs[i][0] != '/')
			continue;
		warm_file(root_fd, progs[i], interp, sizeof(interp));
		if (interp[0] == '/')
			warm_file(root_fd, interp, NULL, 0);
	}
	json_decref(config);
}

static int
make_one(struct bk_engine *e, const char *image_id, struct bk_err *err)
{
	cleanup_free char *src = xasprintf("%s/rootfs", image_id);
	cleanup_close int src_fd =
	    openat(e->store.images_fd, src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char tmp[BK_ID_SIZE + 64], name[BK_ID_SIZE + 32];
	uint64_t epoch;
	int ret = 0;

	if (src_fd < 0)
		return bk_err_sys(err, "spare for %s", image_id);
	pthread_mutex_lock(&e->spares.lock);
	snprintf(name, sizeof(name), "%s.%llu", image_id, (unsigned long long)e->spares.serial++);
	epoch = e->spares.epoch;
	pthread_mutex_unlock(&e->spares.lock);
	snprintf(tmp, sizeof(tmp), "spare-%s", name);
	/* Made in tmp/ and renamed: spare/ holds only whole snapshots. */
	if (store_snapshot(src_fd, e->store.tmp_fd, tmp, false, err) < 0)
		return -err->code;
	{
		cleanup_close int root_fd =
		    openat(e->store.tmp_fd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (root_fd >= 0)
			warm_spare(e, image_id, root_fd);
	}
	/* Tests stall here to replace the image under a refill (`commit IMG_ID`). */
	failpoint("spare.made", NULL);
	/*
	 * Renamed only while the image is still listed: a removal drops the
	 * image's spares after it leaves the list, so a spare named after
	 * that would be left behind.
	 */
	pthread_mutex_lock(&e->model.lock);
	pthread_mutex_lock(&e->spares.lock);
	if (!image_exists_locked(&e->model, image_id))
		ret = bk_err_set(err, ENOENT, "spare for %s: the image was removed", image_id);
	/* `commit IMG_ID` replaced the image's rootfs while this one was made from the old. */
	else if (e->spares.epoch != epoch)
		ret = bk_err_set(err, ESTALE, "spare for %s: the image changed", image_id);
	else if (renameat(e->store.tmp_fd, tmp, e->store.spare_fd, name) < 0)
		ret = bk_err_sys(err, "spare for %s", image_id);
	pthread_mutex_unlock(&e->spares.lock);
	pthread_mutex_unlock(&e->model.lock);
	if (ret < 0)
		store_discard(e->store.tmp_fd, tmp);
	return ret;
}

static void *
refill_main(void *arg)
{
	struct bk_engine *e = arg;

	pthread_mutex_lock(&e->spares.lock);
	for (;;) {
		struct refill *r;
		char image_id[BK_ID_SIZE];

		while (e->spares.refills == NULL && !e->spares.stop)
			pthread_cond_wait(&e->spares.cond, &e->spares.lock);
		if (e->spares.stop)
			break;
		r = e->spares.refills;
		e->spares.refills = r->next;
		memcpy(image_id, r->image_id, sizeof(image_id));
		free(r);
		pthread_mutex_unlock(&e->spares.lock);

		pthread_mutex_lock(&e->model.lock);
		/* The image may be gone, or being removed: then no spares for it. */
		bool exists = image_exists_locked(&e->model, image_id);
		pthread_mutex_unlock(&e->model.lock);
		while (exists && count_spares(e, image_id) < SPARES_PER_IMAGE) {
			struct bk_err err = BK_ERR_INIT;

			if (make_one(e, image_id, &err) < 0) {
				bk_log(err.code == ESTALE ? BK_LOG_INFO : BK_LOG_DEBUG, "%s",
				       err.msg);
				break;
			}
		}
		pthread_mutex_lock(&e->spares.lock);
	}
	pthread_mutex_unlock(&e->spares.lock);
	return NULL;
}

int
count_spares(struct bk_engine *e, const char *image_id)
{
	int n;

	pthread_mutex_lock(&e->spares.lock);
	n = count_locked(e, image_id);
	pthread_mutex_unlock(&e->spares.lock);
	return n;
}

/* Ask the refill thread to top up image_id's spares. */
void
spare_refill(struct bk_engine *e, const char *image_id)
{
	struct refill *r;

	if (!e->spares.running)
		return;
	r = xcalloc(1, sizeof(*r));
	snprintf(r->image_id, sizeof(r->image_id), "%s", image_id);
	pthread_mutex_lock(&e->spares.lock);
	r->next = e->spares.refills;
	e->spares.refills = r;
	pthread_cond_signal(&e->spares.cond);
	pthread_mutex_unlock(&e->spares.lock);
}

/* A start took (or found no) spare of image_id: refill once few are left. */
void
spare_used(struct bk_engine *e, const char *image_id)
{
	if (count_spares(e, image_id) <= SPARES_LOW)
		spare_refill(e, image_id);
}

/*
 * Move a spare of image_id to dst_dfd/name.  0 on success, -ENOENT when there
 * is none (the caller then snapshots itself).
 */
int
spare_take(struct bk_engine *e, const char *image_id, int dst_dfd, const char *name)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	int ret = -ENOENT;

	pthread_mutex_lock(&e->spares.lock);
	d = opendir_at(e->store.spare_fd);
	while (d && (de = readdir(d)) != NULL)
		if (is_spare_of(de->d_name, image_id) &&
		    renameat(e->store.spare_fd, de->d_name, dst_dfd, name) == 0) {
			ret = 0;
			break;
		}
	pthread_mutex_unlock(&e->spares.lock);
	return ret;
}

/* Delete image_id's spares (the image is being removed, or its rootfs replaced). */
void
spare_drop(struct bk_engine *e, const char *image_id)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *de;

	pthread_mutex_lock(&e->spares.lock);
	e->spares.epoch++;
	d = opendir_at(e->store.spare_fd);
	while (d && (de = readdir(d)) != NULL) {
		struct bk_err err = BK_ERR_INIT;

		if (is_spare_of(de->d_name, image_id) &&
		    store_rmtree_at(e->store.spare_fd, de->d_name, &err) < 0)
			bk_log(BK_LOG_WARN, "spare %s: %s", de->d_name, err.msg);
	}
	pthread_mutex_unlock(&e->spares.lock);
}

int
spare_start(struct bk_engine *e, struct bk_err *err)
{
	int ret = pthread_create(&e->spares.thread, NULL, refill_main, e);

	if (ret != 0)
		return bk_err_set(err, ret, "cannot start the spare-snapshot thread");
	e->spares.running = true;
	return 0;
}

void
spare_stop(struct bk_engine *e)
{
	struct refill *r;

	if (e->spares.running) {
		pthread_mutex_lock(&e->spares.lock);
		e->spares.stop = true;
		pthread_cond_signal(&e->spares.cond);
		pthread_mutex_unlock(&e->spares.lock);
		pthread_join(e->spares.thread, NULL);
		e->spares.running = false;
	}
	while ((r = e->spares.refills) != NULL) {
		e->spares.refills = r->next;
		free(r);
	}
}
