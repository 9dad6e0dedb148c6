/*
 * The `events` file: a stream of lifecycle events from the moment it is
 * opened ("TIME KIND ID ACTION [k=v ...]").  A read with nothing new is
 * parked (parked.c, key "events") and answered when the next event arrives,
 * so a hundred `cat events` cost no thread each; poll() reports POLLIN when
 * events are waiting.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/timefmt.h"
#include "common/xalloc.h"
#include "fsd.h"

#define RING 1024
#define KEY  "events"

/*
 * Lock order: lock, then parked.c's.  Parked readers are only ever answered
 * with lock held (by events_read, which parks them, and events_push).
 */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char *ring[RING];           /* protected by lock: event seq lives at ring[seq % RING] */
static uint64_t next_seq;          /* protected by lock */
static struct ofile *pollers[256]; /* protected by lock: open files that asked poll() */

void
events_open(struct ofile *of)
{
	pthread_mutex_lock(&lock);
	of->cursor = next_seq;
	pthread_mutex_unlock(&lock);
}

/*
 * What comes after the reader's position (event of->cursor, byte
 * of->cursor_off of it), at most size bytes: whole events while they fit,
 * and a part of one when a read is shorter than an event (the rest comes
 * with the next read).  Lock held.
 */
static char *
take_locked(struct ofile *of, size_t size, size_t *len)
{
	size_t used = 0;
	char *buf = xmalloc(size);

	if (next_seq - of->cursor > RING) {
		of->cursor = next_seq - RING; /* a slow reader loses the oldest */
		of->cursor_off = 0;
	}
	while (of->cursor < next_seq && used < size) {
		const char *line = ring[of->cursor % RING] + of->cursor_off;
		size_t n = strlen(line), k = n < size - used ? n : size - used;

		memcpy(buf + used, line, k);
		used += k;
		if (k < n) {
			of->cursor_off += k;
			break;
		}
		of->cursor++;
		of->cursor_off = 0;
	}
	*len = used;
	return buf;
}

/* A parked reader, once there is something new for it (lock held). */
static bool
answer(struct parked *p)
{
	size_t len;
	char *buf;

	if (p->of->cursor >= next_seq)
		return false;
	buf = take_locked(p->of, p->size, &len);
	fuse_reply_buf(p->req, buf, len);
	free(buf);
	return true;
}

void
events_read(fuse_req_t req, struct ofile *of, size_t size)
{
	size_t len;
	char *buf;

	pthread_mutex_lock(&lock);
	if (of->cursor < next_seq) {
		buf = take_locked(of, size, &len);
		pthread_mutex_unlock(&lock);
		fuse_reply_buf(req, buf, len);
		free(buf);
		return;
	}
	if (of->nonblock) {
		pthread_mutex_unlock(&lock);
		fuse_reply_err(req, EAGAIN);
		return;
	}
	park(NULL, req, of, size, 0, KEY, answer);
	pthread_mutex_unlock(&lock);
}

void
events_poll(fuse_req_t req, struct ofile *of, struct fuse_pollhandle *ph)
{
	unsigned revents;
	size_t i, slot = ARRAY_SIZE(pollers);

	pthread_mutex_lock(&lock);
	if (ph) {
		if (of->ph)
			fuse_pollhandle_destroy(of->ph);
		of->ph = ph;
		for (i = 0; i < ARRAY_SIZE(pollers) && slot == ARRAY_SIZE(pollers); i++)
			if (pollers[i] == of)
				slot = i;
		for (i = 0; i < ARRAY_SIZE(pollers) && slot == ARRAY_SIZE(pollers); i++)
			if (pollers[i] == NULL) {
				pollers[i] = ofile_get(of);
				slot = i;
			}
	}
	revents = of->cursor < next_seq ? POLLIN | POLLRDNORM : 0;
	pthread_mutex_unlock(&lock);
	fuse_reply_poll(req, revents);
}

void
events_release(struct ofile *of)
{
	size_t i;

	pthread_mutex_lock(&lock);
	for (i = 0; i < ARRAY_SIZE(pollers); i++)
		if (pollers[i] == of) {
			pollers[i] = NULL;
			atomic_fetch_sub(&of->refs, 1); /* the caller holds another */
		}
	pthread_mutex_unlock(&lock);
}

void
events_push(const char *kind, const char *id, const char *action, const char *attrs)
{
	char t[TIME_RFC3339_SIZE];
	char *line;
	size_t i;

	time_rfc3339_ns(t, sizeof(t));
	line = xasprintf("%s %s %s %s%s%s\n", t, kind, id, action, attrs && *attrs ? " " : "",
			 attrs ? attrs : "");

	pthread_mutex_lock(&lock);
	free(ring[next_seq % RING]);
	ring[next_seq % RING] = line;
	next_seq++;
	for (i = 0; i < ARRAY_SIZE(pollers); i++)
		if (pollers[i] && pollers[i]->ph) {
			fuse_lowlevel_notify_poll(pollers[i]->ph);
			fuse_pollhandle_destroy(pollers[i]->ph);
			pollers[i]->ph = NULL;
		}
	/* Answer every parked reader; each takes what is new for it. */
	parked_wake(KEY, false);
	pthread_mutex_unlock(&lock);
}
