/*
 * Reads answered later: containers/ID/wait, exec/N/out and exec/N/wait, and
 * events.  A blocked read is parked here (no thread waits for it) under a key
 * naming what it waits for, "wait/CTR_ID", "exec/CTR_ID/N" or "events", with
 * an answer function; parked_wake(key) gives every read parked under key a
 * chance to be answered.  Ctrl-C (a FUSE interrupt) answers a parked read
 * EINTR.
 *
 * Each request is answered exactly once, by whoever holds it busy: a read
 * being tried is marked busy, and a wake or an interrupt that comes
 * meanwhile is noted on it (again, interrupted) for the one trying, never
 * lost.  So answer functions run outside the lock: they call the engine and
 * reply to the kernel, and every other parked read stays free to be woken
 * or interrupted meanwhile.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "fsd.h"

struct slot {
	struct parked p; /* what the answer function sees */
	char key[BK_ID_SIZE + 32];
	parked_answer_fn answer;
	bool busy;        /* someone is trying it: only they may answer or free it */
	bool again;       /* woken while busy: try once more */
	bool gone_later;  /* ...by a wake that said the object is gone */
	bool interrupted; /* interrupted while busy: EINTR unless answered */
	struct slot *next;
	struct slot *next_tried; /* in one wake's list of slots to try */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
/*
 * Protected by lock: the list and every slot's flags.  p is only changed by
 * whoever holds the slot busy (or under the lock while nobody does).
 */
static struct slot *slots;

static void
unlink_locked(struct slot *s)
{
	struct slot **pp;

	for (pp = &slots; *pp; pp = &(*pp)->next)
		if (*pp == s) {
			*pp = s->next;
			return;
		}
}

static void
slot_free(struct slot *s)
{
	ofile_put(s->p.of);
	free(s);
}

/*
 * Try busy slot s until it is answered, or nothing happened to it during a
 * try: then it is parked again.  An interrupt that came meanwhile is
 * answered here.
 */
static void
try_answer(struct slot *s)
{
	bool answered, interrupted;

	for (;;) {
		answered = s->answer(&s->p);
		pthread_mutex_lock(&lock);
		if (!answered && s->again && !s->interrupted) {
			s->again = false;
			s->p.gone |= s->gone_later;
			pthread_mutex_unlock(&lock);
			continue;
		}
		interrupted = s->interrupted;
		if (answered || interrupted)
			unlink_locked(s);
		else
			s->busy = false;
		pthread_mutex_unlock(&lock);
		break;
	}
	if (!answered && interrupted)
		fuse_reply_err(s->p.req, EINTR);
	if (answered || interrupted)
		slot_free(s);
}

/*
 * libfuse's interrupt callback.  s may already be answered and freed: it is
 * looked for by address and request, and only touched when found.
 */
static void
on_interrupt(fuse_req_t req, void *data)
{
	struct slot *s;

	pthread_mutex_lock(&lock);
	for (s = slots; s; s = s->next)
		if (s == data && s->p.req == req)
			break;
	if (s && s->busy) {
		s->interrupted = true;
		s = NULL; /* answered by the one trying it */
	} else if (s) {
		unlink_locked(s);
	}
	pthread_mutex_unlock(&lock);
	if (s == NULL)
		return;
	fuse_reply_err(req, EINTR);
	slot_free(s);
}

/*
 * Park req, a read of size bytes at off on of, under key.  It is tried at
 * once, after it is parked and its interrupt callback is in place, so that
 * whatever happened before is not missed; then at every wake of key.
 */
void
park(struct fsd *fs, fuse_req_t req, struct ofile *of, size_t size, off_t off, const char *key,
     parked_answer_fn answer)
{
	struct slot *s = xcalloc(1, sizeof(*s));

	s->p.req = req;
	s->p.of = ofile_get(of);
	s->p.size = size;
	s->p.off = off;
	s->p.fs = fs;
	snprintf(s->key, sizeof(s->key), "%s", key);
	s->answer = answer;
	/* Busy from the start: nobody else may answer req before the callback is set. */
	s->busy = true;
	pthread_mutex_lock(&lock);
	s->next = slots;
	slots = s;
	pthread_mutex_unlock(&lock);
	/* Outside the lock: an interrupt that already came calls on_interrupt at once. */
	fuse_req_interrupt_func(req, on_interrupt, s);
	try_answer(s);
}

/* Something happened to key's object (gone: it no longer exists): try its parked reads. */
void
parked_wake(const char *key, bool gone)
{
	struct slot *s, *tried = NULL;

	pthread_mutex_lock(&lock);
	for (s = slots; s; s = s->next) {
		if (strcmp(s->key, key) != 0)
			continue;
		if (s->busy) {
			s->again = true;
			s->gone_later |= gone;
			continue;
		}
		s->p.gone |= gone;
		s->busy = true;
		s->next_tried = tried;
		tried = s;
	}
	pthread_mutex_unlock(&lock);
	while ((s = tried) != NULL) {
		tried = s->next_tried;
		try_answer(s);
	}
}
