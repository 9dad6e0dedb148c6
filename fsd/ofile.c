/*
 * Open files (fi->fh): made at open, shared by reference with the requests
 * parked on them and the commands running on them (a reader killed while its
 * request is served closes the file, and the release may come first), freed
 * at the last put.  Files the kernel never released are freed at shutdown.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "common/xalloc.h"
#include "fsd.h"

static struct handle_list open_files = HANDLE_LIST_INIT;

/* An open file of a node, opened with open_flags; one reference, the kernel's. */
struct ofile *
ofile_new(enum node_kind kind, uint64_t serial, int open_flags)
{
	struct ofile *of = xcalloc(1, sizeof(*of));

	pthread_mutex_init(&of->lock, NULL);
	atomic_init(&of->refs, 1);
	of->kind = kind;
	of->serial = serial;
	of->log_fd = -1;
	of->append = (open_flags & O_APPEND) != 0;
	of->nonblock = (open_flags & O_NONBLOCK) != 0;
	handle_track(&open_files, &of->open);
	return of;
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

void
ofile_put(struct ofile *of)
{
	if (atomic_fetch_sub(&of->refs, 1) != 1)
		return;
	handle_untrack(&open_files, &of->open);
	ofile_destroy(of);
}

static void
destroy_handle(struct handle *h)
{
	ofile_destroy(container_of(h, struct ofile, open));
}

/* After the session is gone: whatever was never released. */
void
ofile_free_all(void)
{
	handle_drain(&open_files, destroy_handle);
}
