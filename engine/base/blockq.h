/*
 * blockq: a bounded queue of byte blocks between one producer thread and
 * one consumer thread, with an end (the producer's status) and a stop (the
 * consumer gives up).  Used to run a layer's decompression on its own
 * thread, ahead of the tar parser and the file writes (layer.c).
 */
#ifndef BLOCKQ_H
#define BLOCKQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#define BLOCKQ_SLOTS 16

struct blockq_block {
	char *data;
	size_t len;
};

struct blockq {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct blockq_block slots[BLOCKQ_SLOTS];
	size_t head, count;
	bool ended;   /* the producer is done: see status */
	int status;   /* 0, or the producer's negative errno */
	bool stopped; /* the consumer wants no more */
};

void blockq_init(struct blockq *q);
/* Free what is left; both threads are done with q. */
void blockq_destroy(struct blockq *q);
/* Producer: copy len bytes in, waiting for room; false if the consumer stopped. */
bool blockq_push(struct blockq *q, const void *data, size_t len);
/* Producer: no more blocks; status 0 or a negative errno. */
void blockq_end(struct blockq *q, int status);
/*
 * Consumer: the next block (the caller frees out->data): 1; 0 at the end,
 * with *status the producer's.
 */
int blockq_pop(struct blockq *q, struct blockq_block *out, int *status);
/* Consumer: give up; a producer waiting for room returns false. */
void blockq_stop(struct blockq *q);

#endif
