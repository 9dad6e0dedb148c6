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

/*
 * Open files the kernel has not released yet.  At an unmount with files
 * still open no RELEASE comes: they are freed by ofile_free_all() at exit.
 */
static pthread_mutex_t open_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ofile *open_files; /* protected by open_lock */

void
ofile_track(struct ofile *of)
{
	pthread_mutex_lock(&open_lock);
	of->next = open_files;
	of->prev = NULL;
	if (open_files)
		open_files->prev = of;
	open_files = of;
	pthread_mutex_unlock(&open_lock);
}

static void
ofile_untrack(struct ofile *of)
{
	pthread_mutex_lock(&open_lock);
	if (of->prev)
		of->prev->next = of->next;
	else if (open_files == of)
		open_files = of->next;
	if (of->next)
		of->next->prev = of->prev;
	of->next = of->prev = NULL;
	pthread_mutex_unlock(&open_lock);
}

static void
ofile_destroy(struct ofile *of)
{
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

/* After the session is gone: whatever was never released. */
void
ofile_free_all(void)
{
	struct ofile *of;

	pthread_mutex_lock(&open_lock);
	while ((of = open_files) != NULL) {
		open_files = of->next;
		ofile_destroy(of);
	}
	pthread_mutex_unlock(&open_lock);
}

void
ofile_put(struct ofile *of)
{
	if (atomic_fetch_sub(&of->refs, 1) != 1)
		return;
	ofile_untrack(of);
	ofile_destroy(of);
}
