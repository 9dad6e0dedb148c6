/*
 * extents.c: where the files of a tree lie on the disk, for disk usage.
 *
 * btrfs snapshots share extents: an image's filesystem is a snapshot of its
 * top layer, each layer one of the layer below, a container's one of its
 * image.  Summing file sizes would count a shared extent once per snapshot,
 * so each regular file is asked for its extents (FS_IOC_FIEMAP) and bytes
 * are counted by physical address.  An extent the kernel does not flag
 * FIEMAP_EXTENT_SHARED is referenced once in the whole filesystem: its
 * bytes are its owner's alone and only counted.  A shared one is recorded
 * (address, length, owner); extents_sweep() then cuts the recorded ranges
 * where their set of owners changes, so that partly shared extents (a file
 * rewritten in the middle) are counted right.  Inline data (small files
 * kept in the metadata) has no address and is never flagged shared: it is
 * keyed by inode number and ctime, which a snapshot keeps and any change of
 * the file moves, and recorded under that key.
 *
 * Not btrfs quotas: enabling qgroups makes every snapshot and deletion pay
 * for accounting, and their numbers lag behind until a rescan.
 *
 * The trees are images' and containers' filesystems: hostile.  The walk
 * goes by directory fds, every entry reached with an *at() call on its
 * parent's fd with O_NOFOLLOW or AT_SYMLINK_NOFOLLOW; only regular files are
 * opened (O_NONBLOCK, checked again after the open: a FIFO swapped in is
 * never waited on), never a symlink's target, a device or a FIFO; other
 * filesystems (st_dev) are not entered.  Every entry and every extent costs
 * one unit of the caller's budget: a tree of millions of files stops there.
 */
#include <errno.h>
#include <fcntl.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/fiemap.h>

#include "bocker.h"
#include "store/store.h"
#include "base/base.h"

/* Defined here rather than by <linux/fs.h>, which fights <sys/mount.h>. */
#ifndef FS_IOC_FIEMAP
#define FS_IOC_FIEMAP _IOWR('f', 11, struct fiemap)
#endif

#define EXTENTS_DEPTH_MAX 256
#define FIEMAP_BATCH      64
#define REC_LEN_MAX       (1u << 30)   /* a record's length fits 32 bits: longer ones are split */
#define INLINE_KEY_BASE   (1ull << 63) /* keys of inline data, above any physical address */

struct inline_key {
	uint64_t ino, ctime_s, ctime_ns, size;
	uint64_t key;
};

static int
cmp_inline(const void *a, const void *b)
{
	const struct inline_key *x = a, *y = b;

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	if (x->ctime_s != y->ctime_s)
		return x->ctime_s < y->ctime_s ? -1 : 1;
	if (x->ctime_ns != y->ctime_ns)
		return x->ctime_ns < y->ctime_ns ? -1 : 1;
	return x->size < y->size ? -1 : x->size > y->size;
}

void
extent_map_init(struct extent_map *m, size_t max_records)
{
	memset(m, 0, sizeof(*m));
	m->max = max_records;
	m->next_key = INLINE_KEY_BASE;
}

void
extent_map_free(struct extent_map *m)
{
	free(m->v);
	free(m->private);
	tdestroy(m->inline_keys, free);
	memset(m, 0, sizeof(*m));
}

uint32_t
extent_owner_new(struct extent_map *m)
{
	m->private = xrealloc(m->private, (m->nowners + 1) * sizeof(*m->private));
	m->private[m->nowners] = 0;
	return m->nowners++;
}

/* Record [start, start+len) for owner; false when the map is full. */
static bool
record(struct extent_map *m, uint64_t start, uint64_t len, uint32_t owner)
{
	while (len > 0) {
		uint32_t part = len > REC_LEN_MAX ? REC_LEN_MAX : (uint32_t)len;

		if (m->n == m->max)
			return false;
		if (m->n == m->cap) {
			m->cap = m->cap ? 2 * m->cap : 1024;
			m->v = xrealloc(m->v, m->cap * sizeof(*m->v));
		}
		m->v[m->n++] = (struct extent_rec){ start, part, owner };
		start += part;
		len -= part;
	}
	return true;
}

/* The key of a file's inline data: the same for the same inode in every snapshot of it. */
static uint64_t
inline_key(struct extent_map *m, const struct stat *st, uint64_t bytes)
{
	struct inline_key *k = xmalloc(sizeof(*k)), **found;

	*k = (struct inline_key){ (uint64_t)st->st_ino, (uint64_t)st->st_ctim.tv_sec,
				  (uint64_t)st->st_ctim.tv_nsec, (uint64_t)st->st_size, 0 };
	found = tsearch(k, &m->inline_keys, cmp_inline);
	if (found == NULL)
		abort(); /* out of memory, as xmalloc would */
	if (*found != k) {
		free(k);
		return (*found)->key;
	}
	k->key = m->next_key;
	m->next_key += bytes;
	return k->key;
}

struct walk {
	struct extent_map *m;
	uint32_t owner;
	uint64_t *budget;
	bool *partial;
	struct bk_cancel *cancel;
	dev_t dev;
	struct linkmap links; /* inodes with several links, counted once */
	struct fiemap *fm;
};

/* One extent of a file whose attributes are st. */
static void
add_extent(struct walk *w, const struct stat *st, const struct fiemap_extent *fe)
{
	uint64_t len = fe->fe_length;

	if (fe->fe_flags & FIEMAP_EXTENT_DATA_INLINE) {
		/* Reported as a whole block: the data is the file's size at most. */
		if (len > (uint64_t)st->st_size - fe->fe_logical)
			len = (uint64_t)st->st_size - fe->fe_logical;
		if (len > 0 && !record(w->m, inline_key(w->m, st, len), len, w->owner))
			*w->partial = true;
		return;
	}
	/* Not shared, or not on the disk yet (delayed allocation): this file's alone. */
	if (!(fe->fe_flags & FIEMAP_EXTENT_SHARED) ||
	    (fe->fe_flags & (FIEMAP_EXTENT_DELALLOC | FIEMAP_EXTENT_UNKNOWN)) ||
	    fe->fe_physical == 0) {
		w->m->private[w->owner] += len;
		return;
	}
	if (!record(w->m, fe->fe_physical, len, w->owner))
		*w->partial = true;
}

static bool
spend(struct walk *w)
{
	if (*w->budget == 0) {
		*w->partial = true;
		return false;
	}
	(*w->budget)--;
	return true;
}

/* The extents of the regular file open at fd (attributes st), in batches. */
static void
file_extents(struct walk *w, int fd, const struct stat *st)
{
	uint64_t start = 0, next;

	for (;;) {
		struct fiemap *fm = w->fm;
		uint32_t i;

		memset(fm, 0, sizeof(*fm));
		fm->fm_start = start;
		fm->fm_length = FIEMAP_MAX_OFFSET - start;
		/* Written back first: a fresh write is then where it will stay. */
		fm->fm_flags = FIEMAP_FLAG_SYNC;
		fm->fm_extent_count = FIEMAP_BATCH;
		if (ioctl(fd, FS_IOC_FIEMAP, fm) < 0) {
			/* No extent map here (not btrfs): its size, as its own. */
			if (start == 0 && (errno == EOPNOTSUPP || errno == ENOTTY))
				w->m->private[w->owner] += (uint64_t)st->st_blocks * 512;
			return;
		}
		if (fm->fm_mapped_extents == 0)
			return;
		for (i = 0; i < fm->fm_mapped_extents; i++) {
			const struct fiemap_extent *fe = &fm->fm_extents[i];

			if (!spend(w))
				return;
			add_extent(w, st, fe);
			if (fe->fe_flags & FIEMAP_EXTENT_LAST)
				return;
		}
		next = fm->fm_extents[i - 1].fe_logical + fm->fm_extents[i - 1].fe_length;
		if (next <= start)
			return; /* no progress: a kernel oddity, not a reason to loop */
		start = next;
	}
}

static void
walk_file(struct walk *w, int dir, const char *name, const struct stat *st)
{
	cleanup_close int fd = -1;
	struct stat fst;

	if (st->st_nlink > 1) {
		if (linkmap_find(&w->links, st->st_dev, st->st_ino))
			return;
		linkmap_add(&w->links, st->st_dev, st->st_ino, "");
	}
	/* O_NONBLOCK: should the entry have become a FIFO since fstatat, open must not wait. */
	fd = openat(dir, name,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_NOATIME | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &fst) < 0 || !S_ISREG(fst.st_mode) || fst.st_ino != st->st_ino ||
	    fst.st_dev != st->st_dev)
		return; /* gone or replaced meanwhile: not counted */
	file_extents(w, fd, &fst);
}

/* The directory open at fd (taken over and closed). */
static int
walk_dir(struct walk *w, int fd, int depth, struct bk_err *err)
{
	cleanup_dir DIR *d = fdopendir(fd);
	struct dirent *de;
	int ret = 0;

	if (d == NULL) {
		close(fd);
		return 0;
	}
	while (ret == 0 && (de = readdir(d)) != NULL) {
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (w->cancel && atomic_load(&w->cancel->cancelled))
			return bk_err_set(err, EINTR, "disk usage: interrupted");
		if (!spend(w))
			break;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    st.st_dev != w->dev)
			continue;
		if (S_ISREG(st.st_mode)) {
			walk_file(w, dirfd(d), de->d_name, &st);
		} else if (S_ISDIR(st.st_mode)) {
			int sub;

			if (depth >= EXTENTS_DEPTH_MAX) {
				*w->partial = true;
				continue;
			}
			sub = openat(dirfd(d), de->d_name,
				     O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub >= 0)
				ret = walk_dir(w, sub, depth + 1, err);
		}
		/* Symlinks, devices, FIFOs and sockets hold no file data: never opened. */
	}
	return ret;
}

static void
walk_init(struct walk *w, struct extent_map *m, uint32_t owner, uint64_t *budget, bool *partial,
	  struct bk_cancel *cancel)
{
	memset(w, 0, sizeof(*w));
	w->m = m;
	w->owner = owner;
	w->budget = budget;
	w->partial = partial;
	w->cancel = cancel;
	w->fm = xmalloc(sizeof(struct fiemap) + FIEMAP_BATCH * sizeof(struct fiemap_extent));
}

int
extents_add_tree(struct extent_map *m, uint32_t owner, int dfd, uint64_t *budget,
		 struct bk_cancel *cancel, bool *partial, struct bk_err *err)
{
	struct walk w;
	struct stat st;
	int fd, ret;

	/* A new open file description: the stream's offset is not the caller's. */
	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		ret = bk_err_sys(err, "disk usage: open the tree");
		if (fd >= 0)
			close(fd);
		return ret;
	}
	walk_init(&w, m, owner, budget, partial, cancel);
	w.dev = st.st_dev;
	ret = walk_dir(&w, fd, 0, err);
	linkmap_free(&w.links);
	free(w.fm);
	return ret;
}

void
extents_add_file(struct extent_map *m, uint32_t owner, int fd, uint64_t *budget, bool *partial)
{
	struct walk w;
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	walk_init(&w, m, owner, budget, partial, NULL);
	file_extents(&w, fd, &st);
	free(w.fm);
}

/* ---- the sweep --------------------------------------------------------------------------------
 */

static int
cmp_start(const void *a, const void *b)
{
	const struct extent_rec *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* A min-heap of the ends of the ranges that cover the current position. */
struct heap_item {
	uint64_t end;
	uint32_t owner;
};

struct heap {
	struct heap_item *v;
	size_t n, cap;
};

static void
heap_push(struct heap *h, uint64_t end, uint32_t owner)
{
	size_t i;

	if (h->n == h->cap) {
		h->cap = h->cap ? 2 * h->cap : 64;
		h->v = xrealloc(h->v, h->cap * sizeof(*h->v));
	}
	i = h->n++;
	while (i > 0 && h->v[(i - 1) / 2].end > end) {
		h->v[i] = h->v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->v[i] = (struct heap_item){ end, owner };
}

static struct heap_item
heap_pop(struct heap *h)
{
	struct heap_item top = h->v[0], last = h->v[--h->n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= h->n)
			break;
		if (c + 1 < h->n && h->v[c + 1].end < h->v[c].end)
			c++;
		if (last.end <= h->v[c].end)
			break;
		h->v[i] = h->v[c];
		i = c;
	}
	if (h->n > 0)
		h->v[i] = last;
	return top;
}

/* The owners covering the current position: counts, and the list of those above zero. */
struct cover {
	uint32_t *count, *pos, *list;
	size_t n;
};

static void
cover_add(struct cover *c, uint32_t owner)
{
	if (c->count[owner]++ == 0) {
		c->pos[owner] = (uint32_t)c->n;
		c->list[c->n++] = owner;
	}
}

static void
cover_del(struct cover *c, uint32_t owner)
{
	if (--c->count[owner] == 0) {
		uint32_t last = c->list[--c->n];

		c->list[c->pos[owner]] = last;
		c->pos[last] = c->pos[owner];
	}
}

void
extents_sweep(struct extent_map *m, extent_segment_fn fn, void *arg)
{
	struct cover c = { 0 };
	struct heap h = { 0 };
	uint64_t pos = 0;
	size_t i = 0;
	uint32_t o;

	for (o = 0; o < m->nowners; o++)
		if (m->private[o])
			fn(arg, m->private[o], &o, 1);
	if (m->n == 0 || m->nowners == 0)
		return;
	qsort(m->v, m->n, sizeof(*m->v), cmp_start);
	c.count = xcalloc(m->nowners, sizeof(*c.count));
	c.pos = xcalloc(m->nowners, sizeof(*c.pos));
	c.list = xcalloc(m->nowners, sizeof(*c.list));
	while (i < m->n || h.n > 0) {
		uint64_t next;

		if (h.n == 0)
			pos = m->v[i].start;
		for (; i < m->n && m->v[i].start == pos; i++) {
			heap_push(&h, pos + m->v[i].len, m->v[i].owner);
			cover_add(&c, m->v[i].owner);
		}
		next = h.v[0].end;
		if (i < m->n && m->v[i].start < next)
			next = m->v[i].start;
		fn(arg, next - pos, c.list, c.n);
		pos = next;
		while (h.n > 0 && h.v[0].end == pos)
			cover_del(&c, heap_pop(&h).owner);
	}
	free(h.v);
	free(c.count);
	free(c.pos);
	free(c.list);
}
