/*
 * New objects not announced yet.  An object the engine reports created stays
 * hidden from lookups, listings and the index files until the notifier has
 * made its mkdir on our mount (notify.c), so that a watcher sees IN_CREATE
 * before anyone can use the id.  Few entries at a time: one per object whose
 * announcement is still queued.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "fsd.h"

struct unannounced {
	char path[BK_ID_SIZE + 48]; /* "images/ID", "containers/ID" */
	struct unannounced *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct unannounced *head; /* protected by lock */

void
unannounced_add(const char *path)
{
	struct unannounced *u = xcalloc(1, sizeof(*u));

	snprintf(u->path, sizeof(u->path), "%s", path);
	pthread_mutex_lock(&lock);
	u->next = head;
	head = u;
	pthread_mutex_unlock(&lock);
}

void
unannounced_drop(const char *path)
{
	struct unannounced **pp, *u;

	pthread_mutex_lock(&lock);
	for (pp = &head; (u = *pp) != NULL; pp = &u->next)
		if (strcmp(u->path, path) == 0) {
			*pp = u->next;
			free(u);
			break;
		}
	pthread_mutex_unlock(&lock);
}

bool
unannounced_has(const char *path)
{
	struct unannounced *u;
	bool found = false;

	pthread_mutex_lock(&lock);
	for (u = head; u && !found; u = u->next)
		found = strcmp(u->path, path) == 0;
	pthread_mutex_unlock(&lock);
	return found;
}
