/*
 * blockq: see base/base.h.  Blocks are copied in: the producer's buffer (a
 * libarchive data block) is only valid until its next read.
 */
#include <stdlib.h>
#include <string.h>

#include "base/base.h"

void
blockq_init(struct blockq *q)
{
	memset(q, 0, sizeof(*q));
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->changed, NULL);
}

void
blockq_destroy(struct blockq *q)
{
	while (q->count > 0) {
		free(q->slots[q->head].data);
		q->head = (q->head + 1) % BLOCKQ_SLOTS;
		q->count--;
	}
	pthread_cond_destroy(&q->changed);
	pthread_mutex_destroy(&q->lock);
}

bool
blockq_push(struct blockq *q, const void *data, size_t len)
{
	char *copy = xmalloc(len ? len : 1);
	bool ok;

	memcpy(copy, data, len);
	pthread_mutex_lock(&q->lock);
	while (q->count == BLOCKQ_SLOTS && !q->stopped)
		pthread_cond_wait(&q->changed, &q->lock);
	ok = !q->stopped;
	if (ok) {
		q->slots[(q->head + q->count) % BLOCKQ_SLOTS] = (struct blockq_block){ copy, len };
		q->count++;
		pthread_cond_broadcast(&q->changed);
	}
	pthread_mutex_unlock(&q->lock);
	if (!ok)
		free(copy);
	return ok;
}

void
blockq_end(struct blockq *q, int status)
{
	pthread_mutex_lock(&q->lock);
	q->ended = true;
	q->status = status;
	pthread_cond_broadcast(&q->changed);
	pthread_mutex_unlock(&q->lock);
}

int
blockq_pop(struct blockq *q, struct blockq_block *out, int *status)
{
	int ret = 0;

	pthread_mutex_lock(&q->lock);
	while (q->count == 0 && !q->ended)
		pthread_cond_wait(&q->changed, &q->lock);
	if (q->count > 0) {
		*out = q->slots[q->head];
		q->head = (q->head + 1) % BLOCKQ_SLOTS;
		q->count--;
		pthread_cond_broadcast(&q->changed);
		ret = 1;
	} else {
		*status = q->status;
	}
	pthread_mutex_unlock(&q->lock);
	return ret;
}

void
blockq_stop(struct blockq *q)
{
	pthread_mutex_lock(&q->lock);
	q->stopped = true;
	pthread_cond_broadcast(&q->changed);
	pthread_mutex_unlock(&q->lock);
}
