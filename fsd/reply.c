/*
 * Answering a read from a buffer: the slice at off, at most size bytes, and
 * end of file past the end (or when there is no buffer at all).
 */
#include "fsd.h"

void
reply_slice(fuse_req_t req, const char *buf, size_t len, size_t off, size_t size)
{
	if (buf == NULL || off >= len)
		fuse_reply_buf(req, NULL, 0);
	else
		fuse_reply_buf(req, buf + off, len - off < size ? len - off : size);
}
