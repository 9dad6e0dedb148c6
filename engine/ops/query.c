/*
 * The public API's reads and plain writes of the tables (bocker.h): each is
 * the model's (model/), on the engine's model; a container's description
 * adds what only the network knows.
 */
#include "base/base.h"
#include "ops/ops.h"

int
bk_image_resolve(struct bk_engine *e, const char *name, char id_out[BK_ID_SIZE], struct bk_err *err)
{
	return image_resolve(&e->model, name, id_out, err);
}

int
bk_image_get(struct bk_engine *e, const char *id, uint64_t serial, struct bk_image_info *out,
	     struct bk_err *err)
{
	return image_info(&e->model, id, serial, out, err);
}

int
bk_image_id(struct bk_engine *e, uint64_t serial, char id[BK_ID_SIZE])
{
	return image_id_of(&e->model, serial, id);
}

int
bk_image_list(struct bk_engine *e, struct bk_image_entry **out, size_t *n)
{
	return image_list(&e->model, out, n);
}

int
bk_image_open_build_log(struct bk_engine *e, uint64_t serial, struct bk_err *err)
{
	return image_open_build_log(&e->model, serial, err);
}

int
bk_image_set_refs(struct bk_engine *e, const char *id, const char *text, bool append,
		  struct bk_err *err)
{
	return image_set_refs(&e->model, id, text, append, err);
}

int
bk_container_create(struct bk_engine *e, const char *name, char id_out[BK_ID_SIZE],
		    struct bk_err *err)
{
	return container_create(&e->model, name, &e->procs.default_limits, NULL, id_out, err);
}

int
bk_container_create_from(struct bk_engine *e, const char *name, const char *image, const char *cmd,
			 char id_out[BK_ID_SIZE], struct bk_err *err)
{
	char image_id[BK_ID_SIZE];
	struct ctr_init init = { .image = image, .image_id = image_id, .cmd = cmd };
	int ret = bk_image_resolve(e, image, image_id, err);

	if (ret < 0)
		return ret;
	return container_create(&e->model, name, &e->procs.default_limits, &init, id_out, err);
}

int
bk_container_get(struct bk_engine *e, const char *id, uint64_t serial,
		 struct bk_container_info *out, struct bk_err *err)
{
	enum net_mode mode = NET_MODE_BRIDGE;
	uint32_t ip = 0;
	struct container *c;
	int ret = container_info(&e->model, id, serial, out, err);

	if (ret < 0)
		return ret;
	pthread_mutex_lock(&e->model.lock);
	c = container_find_locked(&e->model, NULL, out->serial);
	if (c) {
		mode = c->net_mode;
		ip = c->ip;
	}
	pthread_mutex_unlock(&e->model.lock);
	out->net = network_describe(e, mode, ip);
	out->cgroup =
	    e->procs.cg.ready ? xasprintf("/%s/%s", e->procs.cg.parent, out->id) : xstrdup("-");
	if (out->origin[0])
		foreign_describe(e, out->id, out);
	return 0;
}

int
bk_container_id(struct bk_engine *e, uint64_t serial, char id[BK_ID_SIZE])
{
	return container_id_of(&e->model, serial, id);
}

int
bk_container_state(struct bk_engine *e, uint64_t serial, enum bk_ctr_state *state)
{
	return container_state_of(&e->model, serial, state);
}

int
bk_container_list(struct bk_engine *e, struct bk_container_entry **out, size_t *n)
{
	return container_list(&e->model, out, n);
}

int
bk_container_open_log(struct bk_engine *e, uint64_t serial, bool rotated, struct bk_err *err)
{
	return container_open_log(&e->model, serial, rotated, err);
}
