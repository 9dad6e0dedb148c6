/*
 * engine.h: the engine's private state, shared by its files (never by fsd/).
 */
#ifndef BK_ENGINE_H
#define BK_ENGINE_H

#include <pthread.h>
#include <stdbool.h>
#include <jansson.h>

#include "bocker.h"

struct image {
	char id[BK_ID_SIZE];
	uint64_t serial;
	enum bk_image_state state;
	char *source;
	char **refs; /* familiar names ("busybox:latest") */
	size_t nrefs;
	json_t *config; /* the OCI image config object */
	uint64_t size;
	char created[32];
};

struct bk_engine {
	char *root;	  /* state directory: lock, pid file, log, storage.img */
	char *store_path; /* the mounted btrfs filesystem */
	bool store_mounted; /* we mounted store_path (embedded store) */
	int lock_fd;
	int store_fd, images_fd, containers_fd, tmp_fd;

	pthread_mutex_t lock; /* protects everything below */
	struct image **images;
	size_t nimages;
	uint64_t next_serial;

	bk_watch_fn watch;
	void *watch_arg;
};

/* storage.c: the state directory's lock and the btrfs store under it. */
int storage_lock(const char *root, int *lock_fd, struct bk_err *err);
int storage_open(const char *root, uint64_t size, char **store_path, bool *mounted,
		 struct bk_err *err);
void storage_close(const char *store_path, bool mounted);

/* store.c: the layout inside the btrfs store, subvolumes via libbtrfsutil. */
int store_init(struct bk_engine *e, struct bk_err *err);
void store_fini(struct bk_engine *e);
int store_rmtree_at(int dfd, const char *name, struct bk_err *err);
int store_create_subvolume(int dfd, const char *name, struct bk_err *err);
int store_set_read_only(int fd, bool ro, struct bk_err *err);
int store_snapshot(int src_fd, int dst_dfd, const char *name, bool read_only, struct bk_err *err);

/* image.c */
int image_load_all(struct bk_engine *e, struct bk_err *err);
void image_free_all(struct bk_engine *e);

/* engine.c */
void engine_notify(struct bk_engine *e, enum bk_obj_kind kind, const char *id,
		   enum bk_change change);
int engine_new_id(const char *prefix, char out[BK_ID_SIZE]);

#endif
