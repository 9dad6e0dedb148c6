/*
 * Engine state as file contents.  Each read-only file is rendered once at
 * open, so one open file always reads one consistent snapshot.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "fsd.h"

struct sbuf {
	char *s;
	size_t len, cap;
};

static void __attribute__((format(printf, 2, 3))) sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			abort();
		if (b->s && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		b->cap = (b->cap + (size_t)n + 1) * 2;
		b->s = xrealloc(b->s, b->cap);
	}
}

static int
render_images_index(struct fsd *fs, struct sbuf *b)
{
	struct bk_image_entry *list = NULL;
	size_t n = 0, i;

	/* The seed's `bocker images` header, tabs included. */
	sbuf_printf(b, "IMAGE_ID\t\tSOURCE\n");
	/* A listing that fails leaves n at 0: nothing to show. */
	(void)bk_image_list(fs->engine, &list, &n);
	for (i = 0; i < n; i++) {
		char path[OBJ_PATH_SIZE];

		snprintf(path, sizeof(path), "images/%s", list[i].id);
		if (!unannounced_has(path))
			sbuf_printf(b, "%s\t\t%s\n", list[i].id, list[i].source);
	}
	bk_image_list_free(list, n);
	return 0;
}

static int
render_containers_index(struct fsd *fs, struct sbuf *b)
{
	struct bk_container_entry *list = NULL;
	size_t n = 0, i;

	/* The seed's `bocker ps` header. */
	sbuf_printf(b, "CONTAINER_ID\t\tCOMMAND\n");
	/* A listing that fails leaves n at 0: nothing to show. */
	(void)bk_container_list(fs->engine, &list, &n);
	for (i = 0; i < n; i++) {
		char path[OBJ_PATH_SIZE];
		char *p;

		snprintf(path, sizeof(path), "containers/%s", list[i].id);
		if (unannounced_has(path))
			continue;
		/* One line per container, whatever its command holds. */
		for (p = list[i].cmd; *p; p++)
			if (*p == '\n' || *p == '\t')
				*p = ' ';
		sbuf_printf(b, "%s\t\t%s\n", list[i].id, list[i].cmd);
	}
	bk_container_list_free(list, n);
	return 0;
}

static void
render_exit(struct sbuf *b, const struct bk_container_info *info)
{
	if (!info->exited)
		sbuf_printf(b, "-");
	else
		sbuf_printf(b, "%d", info->exit_code);
}

/* An object's `err`: its failures, "TIME OP: message". */
static void
render_err(struct sbuf *b, const char *dir, const char *id)
{
	char path[OBJ_PATH_SIZE];
	size_t len;
	char *text;

	snprintf(path, sizeof(path), "%s/%s", dir, id);
	text = errlog_render_obj(path, &len);
	sbuf_printf(b, "%s", text);
	free(text);
}

static int
render_container_file(struct fsd *fs, enum node_kind kind, uint64_t serial, struct sbuf *b)
{
	struct bk_container_info info;
	struct bk_err err = BK_ERR_INIT;

	if (bk_container_get(fs->engine, NULL, serial, &info, &err) < 0)
		return -ENOENT;
	switch (kind) {
	case N_CTR_IMAGE:
		if (info.image[0])
			sbuf_printf(b, "%s\n", info.image);
		break;
	case N_CTR_CMD:
		if (info.cmd[0])
			sbuf_printf(b, "%s\n", info.cmd);
		break;
	case N_CTR_ENV:
		sbuf_printf(b, "%s", info.env);
		break;
	case N_CTR_STATE:
		sbuf_printf(b, "%s\n", bk_ctr_state_name(info.state));
		break;
	case N_CTR_LIMITS:
		sbuf_printf(b, "%s", info.limits);
		break;
	case N_CTR_NET:
		sbuf_printf(b, "%s", info.net);
		break;
	case N_CTR_PORTS:
		sbuf_printf(b, "%s", info.ports);
		break;
	case N_CTR_MOUNTS:
		sbuf_printf(b, "%s", info.mounts);
		break;
	case N_CTR_USER:
		if (info.user[0])
			sbuf_printf(b, "%s\n", info.user);
		break;
	case N_CTR_WORKDIR:
		if (info.workdir[0])
			sbuf_printf(b, "%s\n", info.workdir);
		break;
	case N_CTR_RESTART:
		sbuf_printf(b, "%s\n", info.restart);
		break;
	case N_CTR_TTY:
		sbuf_printf(b, "%d\n", info.tty ? 1 : 0);
		break;
	case N_CTR_STDIN:
		sbuf_printf(b, "%d\n", info.stdin_open ? 1 : 0);
		break;
	case N_CTR_STATS: {
		struct bk_stats st;

		/* A stopped container uses nothing: zeros, as `docker stats` shows. */
		if (bk_container_stats(fs->engine, serial, &st, &err) < 0)
			memset(&st, 0, sizeof(st));
		sbuf_printf(
		    b, "cpu_usec %llu\nmemory %llu\nmemory_max %llu\npids %llu\noom_kills %llu\n",
		    (unsigned long long)st.cpu_usec, (unsigned long long)st.memory,
		    (unsigned long long)st.memory_max, (unsigned long long)st.pids,
		    (unsigned long long)st.oom_kills);
		break;
	}
	case N_CTR_PID:
		sbuf_printf(b, "%d\n", info.pid);
		break;
	case N_CTR_STATUS:
		sbuf_printf(b, "state %s\npid %d\nexit ", bk_ctr_state_name(info.state), info.pid);
		render_exit(b, &info);
		sbuf_printf(
		    b,
		    "\nsignal %d\nstarted %s\nfinished %s\nimage %s\nimage_id %s\n"
		    "ip %s\noomkilled %d\ncreated %s\ncgroup %s\nrestart %s\nrestarts %d\n",
		    info.exit_signal, info.started[0] ? info.started : "-",
		    info.finished[0] ? info.finished : "-", info.image[0] ? info.image : "-",
		    info.image_id[0] ? info.image_id : "-", info.ip[0] ? info.ip : "-",
		    info.oomkilled ? 1 : 0, info.created, info.cgroup, info.restart, info.restarts);
		/* A runtime's container: where it came from. */
		sbuf_printf(b, "%s", info.origin);
		break;
	case N_CTR_ERR:
		render_err(b, "containers", info.id);
		break;
	default:
		break;
	}
	bk_container_info_free(&info);
	return 0;
}

static int
render_image_file(struct fsd *fs, enum node_kind kind, uint64_t serial, struct sbuf *b)
{
	struct bk_image_info info;
	struct bk_err err = BK_ERR_INIT;

	if (bk_image_get(fs->engine, NULL, serial, &info, &err) < 0)
		return -ENOENT;
	switch (kind) {
	case N_IMG_SOURCE:
		sbuf_printf(b, "%s\n", info.source);
		break;
	case N_IMG_REF:
		sbuf_printf(b, "%s", info.refs);
		break;
	case N_IMG_STATE:
		sbuf_printf(b, "%s\n", bk_image_state_name(info.state));
		break;
	case N_IMG_CONFIG:
		sbuf_printf(b, "%s", info.config);
		break;
	case N_IMG_SIZE:
		sbuf_printf(b, "%llu\n", (unsigned long long)info.size);
		break;
	case N_IMG_PROGRESS:
		sbuf_printf(b, "%s", info.progress);
		break;
	case N_IMG_MANIFEST:
		sbuf_printf(b, "%s", info.manifest);
		break;
	case N_IMG_DIGEST:
		if (info.digest[0])
			sbuf_printf(b, "%s\n", info.digest);
		break;
	case N_IMG_LAYERS:
		sbuf_printf(b, "%s", info.layers);
		break;
	case N_IMG_ERR:
		render_err(b, "images", info.id);
		break;
	default:
		break;
	}
	bk_image_info_free(&info);
	return 0;
}

static int
render_volume_file(struct fsd *fs, enum node_kind kind, uint64_t serial, struct sbuf *b)
{
	struct bk_volume_info info;
	struct bk_err err = BK_ERR_INIT;

	if (bk_volume_get(fs->engine, NULL, serial, &info, &err) < 0)
		return -ENOENT;
	switch (kind) {
	case N_VOL_STATE:
		sbuf_printf(b, "%s\n", info.broken[0] ? "broken" : "ready");
		break;
	case N_VOL_CREATED:
		sbuf_printf(b, "%s\n", info.created);
		break;
	case N_VOL_USERS:
		sbuf_printf(b, "%s", info.users);
		break;
	case N_VOL_SIZE:
		sbuf_printf(b, "%llu\n", (unsigned long long)bk_volume_size(fs->engine, serial));
		break;
	case N_VOL_ERR:
		render_err(b, "volumes", info.name);
		break;
	default:
		break;
	}
	bk_volume_info_free(&info);
	return 0;
}

/* "NAME\tOWNER" lines: OWNER is the container an anonymous volume was made for, or "-". */
static int
render_volumes_index(struct fsd *fs, struct sbuf *b)
{
	struct bk_volume_entry *list = NULL;
	size_t n = 0, i;

	(void)bk_volume_list(fs->engine, &list, &n);
	sbuf_printf(b, "VOLUME\tOWNER\n");
	for (i = 0; i < n; i++) {
		struct bk_volume_info info;
		struct bk_err err = BK_ERR_INIT;
		char path[OBJ_PATH_SIZE];

		snprintf(path, sizeof(path), "volumes/%s", list[i].name);
		if (unannounced_has(path) ||
		    bk_volume_get(fs->engine, list[i].name, 0, &info, &err) < 0)
			continue;
		sbuf_printf(b, "%s\t%s\n", info.name, info.owner[0] ? info.owner : "-");
		bk_volume_info_free(&info);
	}
	free(list);
	return 0;
}

/*
 * df (docker system df -v): the summary, one line per kind, then a line per
 * image, container and volume, then what a bounded walk did not finish.
 */
static int
render_df(struct fsd *fs, struct sbuf *b)
{
	struct bk_err err = BK_ERR_INIT;
	struct bk_df df;
	const struct {
		const char *name;
		const struct bk_df_row *row;
	} rows[] = { { "images", &df.images },
		     { "containers", &df.containers },
		     { "volumes", &df.volumes },
		     { "layers", &df.layers } };
	size_t i;

	if (bk_system_df(fs->engine, &df, &err) < 0)
		return -err.code;
	sbuf_printf(b, "TYPE TOTAL ACTIVE SIZE RECLAIMABLE\n");
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		sbuf_printf(b, "%s %llu %llu %llu %llu\n", rows[i].name,
			    (unsigned long long)rows[i].row->total,
			    (unsigned long long)rows[i].row->active,
			    (unsigned long long)rows[i].row->size,
			    (unsigned long long)rows[i].row->reclaimable);
	sbuf_printf(b, "IMAGE ID SIZE SHARED UNIQUE CONTAINERS\n");
	for (i = 0; i < df.nimages; i++)
		sbuf_printf(b, "image %s %llu %llu %llu %llu\n", df.image[i].id,
			    (unsigned long long)df.image[i].size,
			    (unsigned long long)df.image[i].shared,
			    (unsigned long long)df.image[i].unique,
			    (unsigned long long)df.image[i].containers);
	sbuf_printf(b, "CONTAINER ID OWN IMAGE STATE\n");
	for (i = 0; i < df.nctrs; i++)
		sbuf_printf(b, "container %s %llu %s %s\n", df.ctr[i].id,
			    (unsigned long long)df.ctr[i].own,
			    df.ctr[i].image_id[0] ? df.ctr[i].image_id : "-",
			    bk_ctr_state_name(df.ctr[i].state));
	sbuf_printf(b, "VOLUME NAME SIZE USERS\n");
	for (i = 0; i < df.nvols; i++)
		sbuf_printf(b, "volume %s %llu %llu\n", df.vol[i].name,
			    (unsigned long long)df.vol[i].size,
			    (unsigned long long)df.vol[i].users);
	for (i = 0; i < df.nimages; i++)
		if (df.image[i].partial)
			sbuf_printf(b, "partial image %s\n", df.image[i].id);
	for (i = 0; i < df.nctrs; i++)
		if (df.ctr[i].partial)
			sbuf_printf(b, "partial container %s\n", df.ctr[i].id);
	for (i = 0; i < df.nvols; i++)
		if (df.vol[i].partial)
			sbuf_printf(b, "partial volume %s\n", df.vol[i].name);
	for (i = 0; i < df.nlayers; i++)
		if (df.layer[i].partial)
			sbuf_printf(b, "partial layer %s\n", df.layer[i].key);
	bk_df_free(&df);
	return 0;
}

int
render_file(struct fsd *fs, enum node_kind kind, uint64_t serial, char **out, size_t *len)
{
	struct sbuf b = { 0 };
	char *text;
	int ret = 0;

	switch (kind) {
	case N_VERSION:
		sbuf_printf(&b, "bockerfs %s api %d\n", BK_VERSION, BK_API);
		break;
	case N_ERRORS:
		text = errlog_render_all(len);
		sbuf_printf(&b, "%s", text);
		free(text);
		break;
	case N_IMAGES_ERR:
		text = errlog_render_obj("images", len);
		sbuf_printf(&b, "%s", text);
		free(text);
		break;
	case N_IMAGES_INDEX:
		ret = render_images_index(fs, &b);
		break;
	case N_CTRS_ERR:
		text = errlog_render_obj("containers", len);
		sbuf_printf(&b, "%s", text);
		free(text);
		break;
	case N_CTRS_INDEX:
		ret = render_containers_index(fs, &b);
		break;
	case N_VOLS_ERR:
		text = errlog_render_obj("volumes", len);
		sbuf_printf(&b, "%s", text);
		free(text);
		break;
	case N_VOLS_INDEX:
		ret = render_volumes_index(fs, &b);
		break;
	case N_DF:
		ret = render_df(fs, &b);
		break;
	case N_NET_BRIDGE:
		text = bk_net_bridge(fs->engine);
		sbuf_printf(&b, "%s", text);
		free(text);
		break;
	case N_NET_LEASES:
		text = bk_net_leases(fs->engine);
		sbuf_printf(&b, "%s", text);
		free(text);
		break;
	default:
		if (node_types[kind].parent == N_IMG) {
			ret = render_image_file(fs, kind, serial, &b);
			break;
		}
		if (kind == N_CTR_STATE) {
			enum bk_ctr_state st;

			ret = bk_container_state(fs->engine, serial, &st);
			if (ret == 0)
				sbuf_printf(&b, "%s\n", bk_ctr_state_name(st));
			break;
		}
		if (node_types[kind].parent == N_CTR) {
			ret = render_container_file(fs, kind, serial, &b);
			break;
		}
		if (node_types[kind].parent == N_VOL) {
			ret = render_volume_file(fs, kind, serial, &b);
			break;
		}
		ret = -EISDIR;
		break;
	}
	if (ret < 0) {
		free(b.s);
		return ret;
	}
	if (b.s == NULL)
		sbuf_printf(&b, "%s", "");
	*out = b.s;
	*len = b.len;
	return 0;
}
