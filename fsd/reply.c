/*
 * Small pieces every handler shares: answering a read from a buffer, and the
 * open-file reference count (parked requests outlive a close).
 */
#include <stdlib.h>
#include <unistd.h>

#include "fsd.h"

void
reply_slice(fuse_req_t req, const char *buf, size_t len, size_t off, size_t size)
{
	if (buf == NULL || off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, buf + off, len - off < size ? len - off : size);
}

void
ofile_put(struct ofile *of)
{
	if (atomic_fetch_sub(&of->refs, 1) != 1)
		return;
	if (of->ph)
		fuse_pollhandle_destroy(of->ph);
	if (of->log_fd >= 0)
		close(of->log_fd);
	pthread_mutex_destroy(&of->lock);
	free(of->data);
	free(of->in);
	free(of->reply);
	free(of);
}
