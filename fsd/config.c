/*
 * A container's image, cmd, env, limits, net and ports files, and an image's
 * ref: values, not commands.  What one open file has written so far is the
 * new value, applied (and checked) by every write, so `echo busybox > image`
 * fails at the write with ENOENT when there is no such image.  Opened with
 * O_APPEND, env lines are added rather than replacing the set.  `echo > cmd`
 * (an empty line) clears a value; a bare truncation does not, because shells
 * open, dup and close a file before they write to it, and that first close
 * must not clear anything.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "fsd.h"

static enum bk_ctr_field
field_of(enum node_kind kind)
{
	switch (kind) {
	case N_CTR_IMAGE:
		return BK_CTR_IMAGE;
	case N_CTR_CMD:
		return BK_CTR_CMD;
	case N_CTR_LIMITS:
		return BK_CTR_LIMITS;
	case N_CTR_NET:
		return BK_CTR_NET;
	case N_CTR_PORTS:
		return BK_CTR_PORTS;
	case N_CTR_MOUNTS:
		return BK_CTR_MOUNTS;
	case N_CTR_USER:
		return BK_CTR_USER;
	case N_CTR_WORKDIR:
		return BK_CTR_WORKDIR;
	case N_CTR_RESTART:
		return BK_CTR_RESTART;
	case N_CTR_TTY:
		return BK_CTR_TTY;
	case N_CTR_STDIN:
		return BK_CTR_STDIN;
	default:
		return BK_CTR_ENV;
	}
}

static const char *
field_name(enum node_kind kind)
{
	return node_types[kind].name;
}

char *
config_value_of(struct ofile *of)
{
	size_t n = of->in_len;

	while (n > 0 && (of->in[n - 1] == '\n' || of->in[n - 1] == '\r'))
		n--;
	/* No NUL inside (ctl_append refuses them), so this copies n bytes. */
	return xasprintf("%.*s", (int)n, of->in ? of->in : "");
}

int
config_check_value(enum node_kind kind, const char *v, struct bk_err *err)
{
	if ((kind == N_CTR_IMAGE || kind == N_CTR_USER || kind == N_CTR_WORKDIR ||
	     kind == N_CTR_RESTART || kind == N_CTR_TTY || kind == N_CTR_STDIN) &&
	    strchr(v, '\n'))
		return bk_err_set(err, EINVAL, "%s: one value on one line", node_types[kind].name);
	if (kind == N_CTR_IMAGE && *v == '\0')
		return bk_err_set(err, EINVAL, "image: empty name");
	return ctl_check_text(v, kind != N_CTR_IMAGE, err);
}

void
config_write(struct fsd *fs, fuse_req_t req, struct ofile *of, const char *buf, size_t size,
	     bool at_close)
{
	struct bk_container_info info;
	struct bk_err err = BK_ERR_INIT;
	char *value = NULL;
	int ret;

	pthread_mutex_lock(&of->lock);
	if (buf && ctl_append(of, buf, size, &err) < 0)
		goto fail;
	value = config_value_of(of);
	if (config_check_value(of->kind, value, &err) < 0)
		goto fail;
	if (of->kind == N_IMG_REF) {
		struct bk_image_info ii;

		if (bk_image_get(fs->engine, NULL, of->serial, &ii, &err) < 0)
			goto fail;
		ret = bk_image_set_refs(fs->engine, ii.id, value, of->append, &err);
		bk_image_info_free(&ii);
	} else {
		if (bk_container_get(fs->engine, NULL, of->serial, &info, &err) < 0)
			goto fail;
		ret = bk_container_set(fs->engine, info.id, field_of(of->kind), value, of->append,
				       &err);
		bk_container_info_free(&info);
	}
	if (ret < 0)
		goto fail;
	/* Appending: each write adds its own lines once. */
	if (of->append) {
		free(of->in);
		of->in = NULL;
		of->in_len = 0;
	}
	pthread_mutex_unlock(&of->lock);
	free(value);
	if (at_close)
		fuse_reply_err(req, 0);
	else
		fuse_reply_write(req, size);
	return;
fail:
	free(value);
	free(of->in);
	of->in = NULL;
	of->in_len = 0;
	if (strncmp(err.msg, field_name(of->kind), strlen(field_name(of->kind))) != 0)
		bk_err_wrap(&err, "%s", field_name(of->kind));
	control_fail(fs, req, of, at_close ? "close" : "write", &err);
	pthread_mutex_unlock(&of->lock);
}
