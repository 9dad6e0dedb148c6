/*
 * A container's `in` and `out` files (docker run -i, -t and logs -f): `in`
 * writes go to its command's input, the last close of a stdin pipe is its
 * EOF; `out` streams its output from the start, each read waiting for more
 * until the command has stopped.  The waits are parked requests under
 * "out/ID", woken when the engine says the log grew or the state changed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/xalloc.h"
#include "fsd.h"

void
ctr_in_write(struct fsd *fs, fuse_req_t req, struct ofile *of, const char *buf, size_t size)
{
	struct bk_err err = BK_ERR_INIT;
	ssize_t n = bk_container_write_input(fs->engine, of->serial, buf, size, &err);

	if (n < 0) {
		char owner[OBJ_PATH_SIZE];
		char *path = tree_path(fs, ino_make(of->kind, of->serial));

		if (obj_path(of->kind, of->serial, fs, owner, sizeof(owner)) < 0)
			snprintf(owner, sizeof(owner), "containers");
		errlog_record(path, owner, "write", &err);
		free(path);
		fuse_reply_err(req, (int)-n);
		return;
	}
	fuse_reply_write(req, (size_t)n);
}

void
ctr_in_release(struct fsd *fs, struct ofile *of)
{
	bk_container_close_input(fs->engine, of->serial);
}

/* out: what there is from p->off on, once there is some, or the end once the command stopped. */
static bool
answer_out(struct parked *p)
{
	struct ofile *of = p->of;
	char *buf = xmalloc(p->size);
	ssize_t got;

	pthread_mutex_lock(&of->lock);
	got = bk_container_out_read(p->fs->engine, of->serial, &of->out_pos, (uint64_t)p->off, buf,
				    p->size);
	pthread_mutex_unlock(&of->lock);
	if (got == -EAGAIN && !p->gone) {
		free(buf);
		return false;
	}
	if (got < 0)
		fuse_reply_err(p->req, got == -EAGAIN ? ENOENT : (int)-got);
	else
		fuse_reply_buf(p->req, buf, (size_t)got);
	free(buf);
	return true;
}

int
ctr_out_open(struct fsd *fs, struct ofile *of)
{
	int ret = bk_container_follow(fs->engine, of->serial, true);

	of->following = ret == 0;
	return ret;
}

void
ctr_out_read(struct fsd *fs, fuse_req_t req, struct ofile *of, size_t size, off_t off)
{
	char id[BK_ID_SIZE], key[BK_ID_SIZE + 8];

	if (bk_container_id(fs->engine, of->serial, id) < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	snprintf(key, sizeof(key), "out/%s", id);
	park(fs, req, of, size, off, key, answer_out);
}

void
ctr_out_release(struct fsd *fs, struct ofile *of)
{
	if (of->following)
		(void)bk_container_follow(fs->engine, of->serial,
					  false); /* gone with it: nothing to undo */
	of->following = false;
}

/* Container id's output grew, or it stopped, or it went (the waits then end). */
void
out_wake(const char *id)
{
	char key[BK_ID_SIZE + 8];

	snprintf(key, sizeof(key), "out/%s", id);
	parked_wake(key, false);
}
