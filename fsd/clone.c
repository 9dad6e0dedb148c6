/*
 * containers/clone: the first read of an open file allocates a container
 * (state created) and reads back its id; later reads of the same open file
 * read the same id (Plan 9's clone files).  The reply waits until the
 * notifier has announced containers/ID, so the id can be used at once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "fsd.h"

struct pending_read {
	fuse_req_t req;
	struct ofile *of;
	size_t size;
};

static void
answer(void *arg)
{
	struct pending_read *p = arg;

	reply_slice(p->req, p->of->data, p->of->len, 0, p->size);
	ofile_put(p->of);
	free(p);
}

void
clone_read(struct fsd *fs, fuse_req_t req, struct ofile *of, size_t size, off_t off)
{
	struct bk_err err = BK_ERR_INIT;
	struct pending_read *p;
	char id[BK_ID_SIZE];

	pthread_mutex_lock(&of->lock);
	if (of->produced) {
		pthread_mutex_unlock(&of->lock);
		reply_slice(req, of->data, of->len, (size_t)off, size);
		return;
	}
	if (bk_container_create(fs->engine, NULL, id, &err) < 0) {
		pthread_mutex_unlock(&of->lock);
		bk_err_wrap(&err, "clone");
		errlog_record("/containers/clone", "containers", "read", &err);
		fuse_reply_err(req, err.code);
		return;
	}
	of->data = xasprintf("%s\n", id);
	of->len = strlen(of->data);
	of->produced = true;
	pthread_mutex_unlock(&of->lock);
	p = xcalloc(1, sizeof(*p));
	p->req = req;
	p->of = ofile_get(of);
	p->size = size;
	notify_call(answer, p);
}
