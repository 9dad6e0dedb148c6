/*
 * Lists of handles the kernel holds: open files (ofile.c) and open
 * directories (ops.c).  A handle is tracked from its open to its release;
 * at an unmount with handles still open no RELEASE comes (the toucher, killed
 * at shutdown, may leave its directory open), so handle_drain() frees what
 * is left once the session is gone.  Intrusive: the handle lives inside what
 * it tracks, and the destroy callback gets it back with container_of.
 */
#include "fsd.h"

void
handle_track(struct handle_list *l, struct handle *h)
{
	pthread_mutex_lock(&l->lock);
	h->prev = NULL;
	h->next = l->head;
	if (l->head)
		l->head->prev = h;
	l->head = h;
	pthread_mutex_unlock(&l->lock);
}

void
handle_untrack(struct handle_list *l, struct handle *h)
{
	pthread_mutex_lock(&l->lock);
	if (h->prev)
		h->prev->next = h->next;
	else if (l->head == h)
		l->head = h->next;
	if (h->next)
		h->next->prev = h->prev;
	h->next = h->prev = NULL;
	pthread_mutex_unlock(&l->lock);
}

/* After the session is gone: destroy whatever was never released. */
void
handle_drain(struct handle_list *l, void (*destroy)(struct handle *h))
{
	struct handle *h;

	pthread_mutex_lock(&l->lock);
	while ((h = l->head) != NULL) {
		l->head = h->next;
		destroy(h);
	}
	pthread_mutex_unlock(&l->lock);
}
