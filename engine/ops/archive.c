/*
 * Image archives (docker save / load, OCI image layouts in a tar) as tar
 * files, through libarchive: read by member name for a load, written member
 * by member for a save.  The libarchive side of load.c and save.c, and the
 * one place their libarchive errors become errnos.
 *
 * Reading.  An archive is untrusted: nothing of it is extracted to disk.
 * One pass over its headers makes an index (the members' cleaned names,
 * types, sizes, link targets); a name that is absolute or climbs out with
 * ".." fails the archive, as does a name given twice.  A member is then
 * read by opening the archive again and skipping to it: a seek per member
 * in an uncompressed file, so a second pass costs headers only.  A member
 * is streamed (a layer) or read into memory up to a cap (a manifest, a
 * config: EFBIG past it).  A compressed archive (gzip, zstd: built-in
 * decompressors only, never an external program) is read the same way,
 * with store/layer.c's ratio cap against a decompression bomb.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <archive.h>
#include <archive_entry.h>

#include "ops/ops.h"
#include "store/store.h"
#include "base/base.h"

#define MEMBERS_MAX   65536      /* members of an archive: more is a hostile one */
#define NAMES_BYTES   (8u << 20) /* their names and link targets, together */
#define NAME_MAX_LEN  1024       /* a member name longer than this is never one we look for */
#define LINK_HOPS_MAX 8
#define READ_BLOCK    (64u << 10)
#define WRITE_CHUNK   (1u << 20)

struct tar_member {
	char *name;
	size_t ordinal; /* its header's place in the archive, from 0 */
	int type;       /* AE_IFREG, AE_IFLNK, AE_IFDIR...; TAR_HARDLINK */
	uint64_t size;
	char *link; /* a symlink's target as written, a hardlink's (cleaned) */
};

#define TAR_HARDLINK (-1)

/* ---- names ----------------------------------------------------------------------------------- */

/*
 * in as a clean relative path into out ("./a//b/" is "a/b"): 0, or -EBADMSG
 * with why for an absolute name, a ".." component or an empty or overlong one.
 */
static int
clean_name(const char *in, char *out, size_t size, const char **why)
{
	size_t used = 0;
	const char *p = in;

	*why = NULL;
	if (*in == '/')
		*why = "is absolute";
	while (*why == NULL && *p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.') {
			*why = "escapes the archive";
		} else if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (used + n + 2 > size || used + n + 1 > NAME_MAX_LEN) {
				*why = "is too long";
				break;
			}
			if (used)
				out[used++] = '/';
			memcpy(out + used, p, n);
			used += n;
		}
		p += n;
		p += strspn(p, "/");
	}
	if (*why == NULL && used == 0)
		*why = "is empty";
	out[used] = '\0';
	return *why ? -EBADMSG : 0;
}

/* ---- libarchive errors ----------------------------------------------------------------------- */

/* A read failure: a real I/O error keeps its errno, anything else is a corrupt archive. */
static int
read_fail(struct archive *a, const char *what, struct bk_err *err)
{
	int e = archive_errno(a);
	const char *s = archive_error_string(a);

	if (e == EIO || e == ENOMEM || e == EINTR)
		return bk_err_set(err, e, "%s: %s", what, s ? s : strerror(e));
	return bk_err_set(err, EBADMSG, "%s: %s", what, s ? s : "corrupt archive");
}

static int
write_fail(struct archive *a, const char *what, struct bk_err *err)
{
	int e = archive_errno(a);
	const char *s = archive_error_string(a);

	/* libarchive's own codes (ARCHIVE_ERRNO_MISC is -1) are no errnos. */
	return bk_err_set(err, e > 0 ? e : EIO, "%s: %s", what, s ? s : "write error");
}

/* ---- one pass over the archive --------------------------------------------------------------- */

struct pass {
	const struct tar_index *ix;
	struct archive *a;
	struct archive_entry *ae;
	size_t ordinal; /* of ae; SIZE_MAX before the first header */
	bool compressed;
	struct bk_cancel *cancel;
};

static void
pass_close(struct pass *p)
{
	if (p->a)
		archive_read_free(p->a);
	p->a = NULL;
}

static int
pass_open(const struct tar_index *ix, struct bk_cancel *cancel, struct pass *p, struct bk_err *err)
{
	memset(p, 0, sizeof(*p));
	p->ix = ix;
	p->cancel = cancel;
	p->ordinal = SIZE_MAX;
	if (lseek(ix->fd, 0, SEEK_SET) < 0)
		return bk_err_sys(err, "seek");
	p->a = archive_read_new();
	if (p->a == NULL)
		abort();
	/* Built in only: a filter run as an external program would see hostile bytes. */
	if (archive_read_support_format_tar(p->a) != ARCHIVE_OK ||
	    archive_read_support_filter_gzip(p->a) != ARCHIVE_OK ||
	    archive_read_support_filter_zstd(p->a) != ARCHIVE_OK) {
		pass_close(p);
		return bk_err_set(err, EPROTO, "libarchive lacks a built-in gzip or zstd reader");
	}
	if (archive_read_open_fd(p->a, ix->fd, READ_BLOCK) != ARCHIVE_OK) {
		int ret = read_fail(p->a, "not a tar archive", err);

		pass_close(p);
		return ret;
	}
	return 0;
}

/* The bytes decompressed so far against the compressed ones: a bomb stops at the floor. */
static int
check_ratio(struct pass *p, struct bk_err *err)
{
	uint64_t raw, out;

	if (archive_filter_count(p->a) <= 1)
		return 0;
	p->compressed = true;
	out = (uint64_t)archive_filter_bytes(p->a, 0);
	raw = (uint64_t)archive_filter_bytes(p->a, -1);
	if (out > LAYER_RATIO_FLOOR && out / LAYER_RATIO_MAX > raw)
		return bk_err_set(err, EBADMSG,
				  "the archive expands to more than %u times its compressed size "
				  "(%llu bytes from %llu): a decompression bomb",
				  LAYER_RATIO_MAX, (unsigned long long)out,
				  (unsigned long long)raw);
	return bk_cancelled(p->cancel) ? bk_err_set(err, EINTR, "interrupted") : 0;
}

/*
 * Past the current member's data: a seek in a plain file; read through,
 * with the ratio cap and cancellation checked, in a compressed one.
 */
static int
skip_data(struct pass *p, struct bk_err *err)
{
	const void *buf;
	size_t size;
	la_int64_t off;
	int r, ret;

	if (p->ordinal == SIZE_MAX || !p->compressed)
		return 0;
	while ((r = archive_read_data_block(p->a, &buf, &size, &off)) == ARCHIVE_OK)
		if ((ret = check_ratio(p, err)) < 0)
			return ret;
	return r == ARCHIVE_EOF ? 0 : read_fail(p->a, "read the archive", err);
}

/* The next header: 1, 0 at the end, or -errno. */
static int
pass_next(struct pass *p, struct bk_err *err)
{
	int r, ret;

	if ((ret = skip_data(p, err)) < 0)
		return ret;
	if (bk_cancelled(p->cancel))
		return bk_err_set(err, EINTR, "interrupted");
	r = archive_read_next_header(p->a, &p->ae);
	if (r == ARCHIVE_EOF)
		return 0;
	if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
		return read_fail(
		    p->a, p->ordinal == SIZE_MAX ? "not a tar archive" : "corrupt archive", err);
	p->ordinal = p->ordinal == SIZE_MAX ? 0 : p->ordinal + 1;
	if ((ret = check_ratio(p, err)) < 0)
		return ret;
	return 1;
}

/* ---- the index ------------------------------------------------------------------------------- */

static int
member_cmp(const void *a, const void *b)
{
	return strcmp(((const struct tar_member *)a)->name, ((const struct tar_member *)b)->name);
}

/* The header pass pointed at, as a member of the index (dirs and others too). */
static int
add_member(struct tar_index *ix, struct pass *p, struct bk_err *err)
{
	const char *raw = archive_entry_pathname(p->ae), *why;
	const char *hl = archive_entry_hardlink(p->ae), *sl = archive_entry_symlink(p->ae);
	char name[NAME_MAX_LEN + 2], target[NAME_MAX_LEN + 2];
	struct tar_member *m;

	if (raw == NULL)
		return bk_err_set(err, EBADMSG, "archive member %zu has no readable name",
				  p->ordinal);
	if (clean_name(raw, name, sizeof(name), &why) < 0)
		return bk_err_set(err, EBADMSG, "archive member '%.200s' %s", raw, why);
	if (ix->n == MEMBERS_MAX)
		return bk_err_set(err, EBADMSG, "more than %d members in the archive", MEMBERS_MAX);
	ix->name_bytes += strlen(name) + (hl ? strlen(hl) : 0) + (sl ? strlen(sl) : 0);
	if (ix->name_bytes > NAMES_BYTES)
		return bk_err_set(err, EBADMSG, "the archive's member names exceed %u bytes",
				  NAMES_BYTES);
	/* Doubled at each power of two from 16: the array is n long, its room never less. */
	if (ix->n == 0 || (ix->n >= 16 && (ix->n & (ix->n - 1)) == 0))
		ix->m = xrealloc(ix->m, (ix->n ? 2 * ix->n : 16) * sizeof(*ix->m));
	m = &ix->m[ix->n++];
	memset(m, 0, sizeof(*m));
	m->name = xstrdup(name);
	m->ordinal = p->ordinal;
	m->type = (int)archive_entry_filetype(p->ae);
	m->size = archive_entry_size_is_set(p->ae) ? (uint64_t)archive_entry_size(p->ae) : 0;
	if (hl) {
		if (clean_name(hl, target, sizeof(target), &why) < 0)
			return bk_err_set(err, EBADMSG,
					  "archive member '%.200s': hardlink to '%.200s' %s", name,
					  hl, why);
		m->type = TAR_HARDLINK;
		m->link = xstrdup(target);
	} else if (m->type == AE_IFLNK && sl) {
		m->link = xstrdup(sl);
	}
	return 0;
}

/*
 * A plain archive cut short at a member's data looks whole to the headers'
 * pass (a skip is a seek, and a seek past the end succeeds): its last
 * member needs more bytes than the file has.
 */
static int
check_whole(struct pass *p, struct bk_err *err)
{
	uint64_t need = (uint64_t)archive_filter_bytes(p->a, -1);
	struct stat st;

	if (fstat(p->ix->fd, &st) < 0)
		return bk_err_sys(err, "stat the archive");
	if (need > (uint64_t)st.st_size)
		return bk_err_set(err, EBADMSG,
				  "the archive is truncated: %llu bytes, its members need %llu",
				  (unsigned long long)st.st_size, (unsigned long long)need);
	return 0;
}

int
tar_index_open(int fd, struct bk_cancel *cancel, struct tar_index *out, struct bk_err *err)
{
	struct pass p;
	size_t i;
	int ret;

	memset(out, 0, sizeof(*out));
	out->fd = fd;
	if ((ret = pass_open(out, cancel, &p, err)) < 0)
		return ret;
	while ((ret = pass_next(&p, err)) > 0)
		if ((ret = add_member(out, &p, err)) < 0)
			break;
	out->compressed = p.compressed;
	if (ret == 0 && !p.compressed)
		ret = check_whole(&p, err);
	pass_close(&p);
	if (ret < 0)
		return ret;
	qsort(out->m, out->n, sizeof(*out->m), member_cmp);
	for (i = 1; i < out->n; i++)
		if (out->m[i].type != AE_IFDIR && strcmp(out->m[i].name, out->m[i - 1].name) == 0)
			return bk_err_set(err, EBADMSG, "archive member '%.200s' appears twice",
					  out->m[i].name);
	return 0;
}

void
tar_index_free(struct tar_index *ix)
{
	for (size_t i = 0; i < ix->n; i++) {
		free(ix->m[i].name);
		free(ix->m[i].link);
	}
	free(ix->m);
	memset(ix, 0, sizeof(*ix));
	ix->fd = -1;
}

static const struct tar_member *
lookup(const struct tar_index *ix, const char *name)
{
	struct tar_member key = { .name = (char *)name };

	return ix->n ? bsearch(&key, ix->m, ix->n, sizeof(*ix->m), member_cmp) : NULL;
}

/*
 * A symlink's target, from the directory of the member it is, its ".."
 * taken lexically ("a/b -> ../c" is "c"); one that climbs above the
 * archive or is absolute leads out of it.
 */
static int
symlink_target(const struct tar_member *m, char *out, size_t size, struct bk_err *err)
{
	const char *slash = strrchr(m->name, '/'), *p;
	size_t used = slash ? (size_t)(slash - m->name) : 0;

	if (m->link == NULL || m->link[0] == '/')
		return bk_err_set(err, EBADMSG, "'%.200s' is a symlink out of the archive",
				  m->name);
	if (used + 1 > size)
		return bk_err_set(err, EBADMSG, "'%.200s': a symlink too long", m->name);
	memcpy(out, m->name, used);
	out[used] = '\0';
	for (p = m->link; *p; p += strspn(p, "/")) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.') {
			char *up = strrchr(out, '/');

			if (used == 0)
				return bk_err_set(
				    err, EBADMSG,
				    "'%.200s' is a symlink to '%.200s', out of the archive",
				    m->name, m->link);
			used = up ? (size_t)(up - out) : 0;
			out[used] = '\0';
		} else if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (used + n + 2 > size || used + n + 1 > NAME_MAX_LEN)
				return bk_err_set(err, EBADMSG, "'%.200s': a symlink too long",
						  m->name);
			if (used)
				out[used++] = '/';
			memcpy(out + used, p, n);
			out[used += n] = '\0';
		}
		p += n;
	}
	if (used == 0)
		return bk_err_set(err, EBADMSG, "'%.200s' is a symlink to the archive's top",
				  m->name);
	return 0;
}

/* The regular member name leads to, through symlinks and hardlinks of the archive. */
static int
find_regular(const struct tar_index *ix, const char *name, const struct tar_member **out,
	     struct bk_err *err)
{
	char cur[NAME_MAX_LEN + 2];
	const struct tar_member *m;
	const char *why;
	int hops;

	if (clean_name(name, cur, sizeof(cur), &why) < 0)
		return bk_err_set(err, EBADMSG, "'%.200s' %s", name, why);
	for (hops = 0; hops <= LINK_HOPS_MAX; hops++) {
		m = lookup(ix, cur);
		if (m == NULL)
			return bk_err_set(err, EBADMSG, "'%.200s' is not in the archive", cur);
		if (m->type == AE_IFREG) {
			*out = m;
			return 0;
		}
		if (m->type == TAR_HARDLINK)
			snprintf(cur, sizeof(cur), "%s", m->link);
		else if (m->type != AE_IFLNK)
			return bk_err_set(err, EBADMSG, "'%.200s' is not a file in the archive",
					  m->name);
		else if (symlink_target(m, cur, sizeof(cur), err) < 0)
			return -err->code;
	}
	return bk_err_set(err, EBADMSG, "'%.200s': more than %d links in a row in the archive",
			  name, LINK_HOPS_MAX);
}

int
tar_member_size(const struct tar_index *ix, const char *name, uint64_t *size, struct bk_err *err)
{
	const struct tar_member *m;
	int ret = find_regular(ix, name, &m, err);

	if (ret == 0)
		*size = m->size;
	return ret;
}

/* ---- reading a member ------------------------------------------------------------------------ */

struct tar_stream {
	struct pass p;
	const struct tar_member *m;
	uint64_t got;
	bool ended;
};

int
tar_stream_open(const struct tar_index *ix, const char *name, struct bk_cancel *cancel,
		struct tar_stream **out, struct bk_err *err)
{
	struct tar_stream *s;
	const struct tar_member *m;
	int ret;

	*out = NULL;
	if ((ret = find_regular(ix, name, &m, err)) < 0)
		return ret;
	s = xcalloc(1, sizeof(*s));
	s->m = m;
	if ((ret = pass_open(ix, cancel, &s->p, err)) < 0) {
		free(s);
		return ret;
	}
	/* The same header again: the file has not changed under the index, or this fails. */
	while ((ret = pass_next(&s->p, err)) > 0 && s->p.ordinal < m->ordinal)
		;
	if (ret == 0 || (ret > 0 && (archive_entry_size(s->p.ae) != (la_int64_t)m->size ||
				     archive_entry_filetype(s->p.ae) != AE_IFREG)))
		ret = bk_err_set(err, EBADMSG, "'%.200s': the archive changed while read", m->name);
	if (ret < 0) {
		tar_stream_close(s);
		return ret;
	}
	*out = s;
	return 0;
}

ssize_t
tar_stream_read(struct tar_stream *s, const void **buf, struct bk_err *err)
{
	size_t size;
	la_int64_t off;
	int r, ret;

	if (s->ended)
		return 0;
	r = archive_read_data_block(s->p.a, buf, &size, &off);
	if (r == ARCHIVE_EOF) {
		if (s->got != s->m->size)
			return bk_err_set(err, EBADMSG, "'%.200s': truncated (%llu of %llu bytes)",
					  s->m->name, (unsigned long long)s->got,
					  (unsigned long long)s->m->size);
		s->ended = true;
		return 0;
	}
	if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
		return read_fail(s->p.a, s->m->name, err);
	/* A sparse member has holes: no blob is one. */
	if ((uint64_t)off != s->got)
		return bk_err_set(err, EBADMSG, "'%.200s' is a sparse file", s->m->name);
	if ((ret = check_ratio(&s->p, err)) < 0)
		return ret;
	s->got += size;
	return (ssize_t)size;
}

void
tar_stream_close(struct tar_stream *s)
{
	if (s == NULL)
		return;
	pass_close(&s->p);
	free(s);
}

int
tar_read_member(const struct tar_index *ix, const char *name, size_t max, char **out, size_t *len,
		struct bk_err *err)
{
	struct tar_stream *s = NULL;
	const void *buf;
	uint64_t size = 0;
	size_t used = 0;
	char *data;
	ssize_t n;
	int ret;

	if ((ret = tar_member_size(ix, name, &size, err)) < 0)
		return ret;
	if (size > max)
		return bk_err_set(err, EFBIG, "'%.200s' is %llu bytes, more than %zu", name,
				  (unsigned long long)size, max);
	if ((ret = tar_stream_open(ix, name, NULL, &s, err)) < 0)
		return ret;
	data = xmalloc(size + 1);
	while ((n = tar_stream_read(s, &buf, err)) > 0) {
		if (used + (size_t)n > size) {
			n = bk_err_set(err, EBADMSG, "'%.200s': more bytes than its header says",
				       name);
			break;
		}
		memcpy(data + used, buf, (size_t)n);
		used += (size_t)n;
	}
	tar_stream_close(s);
	if (n < 0) {
		free(data);
		return (int)n;
	}
	data[used] = '\0';
	*out = data;
	*len = used;
	return 0;
}

/* ---- writing --------------------------------------------------------------------------------- */

int
tar_out_open(struct tar_out *t, int fd, struct bk_err *err)
{
	t->a = archive_write_new();
	if (t->a == NULL)
		abort();
	/* ustar, and pax headers only where ustar cannot say it (a member over 8 GiB). */
	if (archive_write_set_format_pax_restricted(t->a) != ARCHIVE_OK ||
	    archive_write_open_fd(t->a, fd) != ARCHIVE_OK) {
		int ret = write_fail(t->a, "start the archive", err);

		tar_out_free(t);
		return ret;
	}
	return 0;
}

/* A header for name: a directory (size 0) or a file of size bytes, root's, at the epoch. */
static int
put_header(struct tar_out *t, const char *name, bool dir, uint64_t size, struct bk_err *err)
{
	struct archive_entry *ae = archive_entry_new();
	int r;

	if (ae == NULL)
		abort();
	archive_entry_set_pathname(ae, name);
	archive_entry_set_filetype(ae, dir ? AE_IFDIR : AE_IFREG);
	archive_entry_set_perm(ae, dir ? 0755 : 0644);
	archive_entry_set_size(ae, dir ? 0 : (la_int64_t)size);
	archive_entry_set_mtime(ae, 0, 0);
	r = archive_write_header(t->a, ae);
	archive_entry_free(ae);
	return r == ARCHIVE_OK ? 0 : write_fail(t->a, name, err);
}

int
tar_out_dir(struct tar_out *t, const char *name, struct bk_err *err)
{
	return put_header(t, name, true, 0, err);
}

int
tar_out_mem(struct tar_out *t, const char *name, const void *data, size_t len, struct bk_err *err)
{
	int ret;

	if ((ret = put_header(t, name, false, len, err)) < 0)
		return ret;
	if (len && archive_write_data(t->a, data, len) != (la_ssize_t)len)
		return write_fail(t->a, name, err);
	return 0;
}

int
tar_out_file(struct tar_out *t, const char *name, int fd, uint64_t size, struct bk_cancel *cancel,
	     char digest[DIGEST_STR_SIZE], struct bk_err *err)
{
	cleanup_free char *buf = xmalloc(WRITE_CHUNK);
	struct digest d;
	uint64_t left = size;
	int ret;

	if ((ret = put_header(t, name, false, size, err)) < 0)
		return ret;
	digest_init(&d);
	while (left > 0 && ret == 0) {
		ssize_t n = read(fd, buf, left < WRITE_CHUNK ? (size_t)left : WRITE_CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			ret = bk_err_sys(err, "read %s", name);
		else if (n == 0)
			ret = bk_err_set(err, EIO, "%s: the file ended %llu bytes early", name,
					 (unsigned long long)left);
		else if (bk_cancelled(cancel))
			ret = bk_err_set(err, EINTR, "interrupted");
		else if (archive_write_data(t->a, buf, (size_t)n) != n)
			ret = write_fail(t->a, name, err);
		else {
			digest_update(&d, buf, (size_t)n);
			left -= (uint64_t)n;
		}
	}
	digest_final(&d, digest);
	digest_free(&d);
	return ret;
}

int
tar_out_close(struct tar_out *t, struct bk_err *err)
{
	int ret =
	    archive_write_close(t->a) == ARCHIVE_OK ? 0 : write_fail(t->a, "end the archive", err);

	tar_out_free(t);
	return ret;
}

void
tar_out_free(struct tar_out *t)
{
	if (t->a)
		archive_write_free(t->a);
	t->a = NULL;
}
