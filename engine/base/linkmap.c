/*
 * linkmap.c: inodes (device, number) mapped to the first path they were seen
 * at, for hardlinks in tree walks (copy.c, diff.c).  Open addressing, at
 * most half full.
 */
#include <stdint.h>
#include <string.h>

#include "base/base.h"

static size_t
slot_hash(dev_t dev, ino_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9e3779b97f4a7c15ULL ^ (uint64_t)dev * 0xc2b2ae3d27d4eb4fULL;

	return (size_t)(h ^ (h >> 31));
}

/* The slot holding (dev, ino), or the empty slot where it belongs.  m->cap > 0. */
static struct linkmap_slot *
slot_of(const struct linkmap *m, dev_t dev, ino_t ino)
{
	size_t i = slot_hash(dev, ino) & (m->cap - 1);

	while (m->slots[i].path != NULL && (m->slots[i].dev != dev || m->slots[i].ino != ino))
		i = (i + 1) & (m->cap - 1);
	return &m->slots[i];
}

/* Borrowed, valid until linkmap_free(). */
const char *
linkmap_find(const struct linkmap *m, dev_t dev, ino_t ino)
{
	if (m->cap == 0)
		return NULL;
	return slot_of(m, dev, ino)->path;
}

static void
grow(struct linkmap *m)
{
	struct linkmap bigger = { .cap = m->cap ? 2 * m->cap : 64 };
	size_t i;

	bigger.slots = xcalloc(bigger.cap, sizeof(*bigger.slots));
	for (i = 0; i < m->cap; i++) {
		if (m->slots[i].path == NULL)
			continue;
		*slot_of(&bigger, m->slots[i].dev, m->slots[i].ino) = m->slots[i];
		bigger.n++;
	}
	free(m->slots);
	*m = bigger;
}

void
linkmap_add(struct linkmap *m, dev_t dev, ino_t ino, const char *path)
{
	struct linkmap_slot *s;

	if (2 * (m->n + 1) > m->cap)
		grow(m);
	s = slot_of(m, dev, ino);
	if (s->path != NULL)
		return;
	s->dev = dev;
	s->ino = ino;
	s->path = xstrdup(path);
	m->n++;
}

void
linkmap_free(struct linkmap *m)
{
	size_t i;

	for (i = 0; i < m->cap; i++)
		free(m->slots[i].path);
	free(m->slots);
	*m = (struct linkmap){ 0 };
}
