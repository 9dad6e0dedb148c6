/*
 * The change callbacks the daemon installs (bk_engine_set_watch): how every
 * layer tells the one above that something changed, without knowing it.
 *
 * Lifecycle events must leave in the order of their changes ("start" before
 * "exit", "exit" before "remove") though different threads make them: each
 * is queued under the model's lock, which orders the changes, and delivered
 * after it by one deliverer at a time, which keeps that order without
 * calling the daemon under the engine's lock.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/xalloc.h"
#include "model/model.h"

struct queued_event {
	enum bk_obj_kind kind;
	char id[BK_ID_SIZE];
	char action[16];
	char attrs[512];
	struct queued_event *next;
};

void
events_init(struct events *ev)
{
	pthread_mutex_init(&ev->queue_lock, NULL);
	pthread_mutex_init(&ev->deliver_lock, NULL);
	ev->head = NULL;
	ev->tail = &ev->head;
}

void
events_destroy(struct events *ev)
{
	struct queued_event *q;

	while ((q = ev->head) != NULL) {
		ev->head = q->next;
		free(q);
	}
	ev->tail = &ev->head;
	pthread_mutex_destroy(&ev->queue_lock);
	pthread_mutex_destroy(&ev->deliver_lock);
}

void
events_notify(const struct events *ev, enum bk_obj_kind kind, const char *id, enum bk_change change)
{
	if (ev->watch)
		ev->watch(ev->arg, kind, id, change);
}

static void __attribute__((format(printf, 5, 0)))
queue(struct events *ev, enum bk_obj_kind kind, const char *id, const char *action, const char *fmt,
      va_list ap)
{
	struct queued_event *q;

	if (ev->event == NULL)
		return;
	q = xcalloc(1, sizeof(*q));
	q->kind = kind;
	snprintf(q->id, sizeof(q->id), "%s", id);
	snprintf(q->action, sizeof(q->action), "%s", action);
	vsnprintf(q->attrs, sizeof(q->attrs), fmt, ap);
	pthread_mutex_lock(&ev->queue_lock);
	*ev->tail = q;
	ev->tail = &q->next;
	pthread_mutex_unlock(&ev->queue_lock);
}

void
events_queue_locked(struct events *ev, enum bk_obj_kind kind, const char *id, const char *action,
		    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	queue(ev, kind, id, action, fmt, ap);
	va_end(ap);
}

/*
 * Whoever flushes delivers all that is queued, its own events included, or
 * waits for the deliverer that took them: when this returns they are out.
 */
void
events_flush(struct events *ev)
{
	struct queued_event *q;

	pthread_mutex_lock(&ev->deliver_lock);
	pthread_mutex_lock(&ev->queue_lock);
	q = ev->head;
	ev->head = NULL;
	ev->tail = &ev->head;
	pthread_mutex_unlock(&ev->queue_lock);
	while (q) {
		struct queued_event *next = q->next;

		ev->event(ev->arg, q->kind, q->id, q->action, q->attrs);
		free(q);
		q = next;
	}
	pthread_mutex_unlock(&ev->deliver_lock);
}

void
events_emit(struct events *ev, enum bk_obj_kind kind, const char *id, const char *action,
	    const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	queue(ev, kind, id, action, fmt, ap);
	va_end(ap);
	events_flush(ev);
}
