/*
 * Unit tests for two edges of engine/store/layer.c that tar tools disagree on:
 *
 *  - the root of a first layer: a layer tar made of files rather than of a
 *    directory has no entry for ".", and the new subvolume has the daemon's
 *    umask (0700); store_create_subvolume gives it Docker's 0755 root:root, and an
 *    entry for "." or "/" still sets its own;
 *  - tar typeflags that are not in POSIX's list (a vendor's 'Z', '9'...):
 *    libarchive reads them as regular files, with their data, as GNU tar
 *    and Docker's archive/tar extract them; never as links or devices, and
 *    the header's link name is ignored.
 *
 * The tars are written byte by byte (ustar headers), since libarchive's
 * writer cannot make an unknown typeflag.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "bocker.h"
#include "store/store.h"
#include "base/base.h"
#include "tap.h"

static char base_dir[256];
static char root_dir[PATH_MAX];

/* ---- tars by hand ------------------------------------------------------ */

struct rawtar {
	unsigned char buf[64 * 512];
	size_t used;
};

/* An octal field of size bytes: size - 1 digits and a NUL. */
static void
octal(unsigned char *field, size_t size, unsigned long v)
{
	char tmp[32];

	snprintf(tmp, sizeof(tmp), "%0*lo", (int)size - 1, v);
	memcpy(field, tmp, size - 1);
	field[size - 1] = '\0';
}

/* One ustar member: typeflag, name, mode, link name (or NULL), data (or NULL). */
static void
raw_add(struct rawtar *t, char typeflag, const char *name, unsigned mode, const char *link,
	const char *data)
{
	unsigned char *h = t->buf + t->used;
	size_t len = data ? strlen(data) : 0;
	unsigned sum = 0;

	memset(h, 0, 512);
	snprintf((char *)h, 100, "%s", name);
	octal(h + 100, 8, mode);
	octal(h + 108, 8, 0);
	octal(h + 116, 8, 0);
	octal(h + 124, 12, (unsigned long)len);
	octal(h + 136, 12, 1000000000ul);
	h[156] = (unsigned char)typeflag;
	if (link)
		snprintf((char *)h + 157, 100, "%s", link);
	memcpy(h + 257, "ustar", 6);
	memcpy(h + 263, "00", 2);
	memset(h + 148, ' ', 8);
	for (size_t i = 0; i < 512; i++)
		sum += h[i];
	octal(h + 148, 7, sum);
	h[155] = ' ';
	t->used += 512;
	if (len) {
		memset(t->buf + t->used, 0, (len + 511) / 512 * 512);
		memcpy(t->buf + t->used, data, len);
		t->used += (len + 511) / 512 * 512;
	}
}

static void
raw_end(struct rawtar *t)
{
	memset(t->buf + t->used, 0, 1024);
	t->used += 1024;
}

struct memsrc {
	const unsigned char *p;
	size_t left;
};

static ssize_t
mem_read(void *arg, const void **buf, struct bk_err *err)
{
	struct memsrc *m = arg;
	size_t n = m->left < 700 ? m->left : 700;

	(void)err;
	*buf = m->p;
	m->p += n;
	m->left -= n;
	return (ssize_t)n;
}

static int
extract_raw(const struct rawtar *t, struct bk_err *err)
{
	struct memsrc m = { t->buf, t->used };
	struct layer_reader r = { mem_read, &m };
	cleanup_close int fd = open(root_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char diff[DIGEST_STR_SIZE];

	memset(err, 0, sizeof(*err));
	return layer_extract(fd, LAYER_TAR, &r, NULL, diff, NULL, err);
}

/* A fresh, empty root_dir with mode 0700, as a new subvolume under umask 077. */
static int
fresh_root(void)
{
	char cmd[PATH_MAX + 32];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root_dir);
	if (system(cmd) != 0 || mkdir(root_dir, 0700) < 0 || chmod(root_dir, 0700) < 0)
		return -1;
	return 0;
}

static bool
file_is(const char *rel, const char *want)
{
	char path[PATH_MAX + 128], got[256];
	cleanup_close int fd = -1;
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", root_dir, rel);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, got, sizeof(got) - 1);
	if (n < 0)
		return false;
	got[n] = '\0';
	return strcmp(got, want) == 0;
}

static int
lstat_rel(const char *rel, struct stat *st)
{
	char path[PATH_MAX + 128];

	snprintf(path, sizeof(path), "%s/%s", root_dir, rel);
	return lstat(path, st);
}

/* ---- the root of a first layer ----------------------------------------- */

static int
test_root_without_dot_entry(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct rawtar t = { .used = 0 };
	struct stat st;
	int fd;

	CHECK(fresh_root() == 0);
	fd = open(root_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(fd >= 0);
	CHECK_INT(fchmod(fd, 0755), 0); /* as store_create_subvolume leaves it */
	close(fd);
	raw_add(&t, '5', "bin/", 0755, NULL, NULL);
	raw_add(&t, '0', "bin/tool", 0755, NULL, "#!/bin/sh\n");
	raw_end(&t);
	CHECK_INT(extract_raw(&t, &err), 0);
	CHECK(stat(root_dir, &st) == 0);
	CHECK_INT(st.st_mode & 07777, 0755);
	if (geteuid() == 0) {
		CHECK_INT(st.st_uid, 0);
		CHECK_INT(st.st_gid, 0);
	}
	CHECK(file_is("bin/tool", "#!/bin/sh\n"));
	return 0;
}

static int
test_root_entry_wins(void)
{
	static const char *const names[] = { "./", ".", "/" };
	struct bk_err err = BK_ERR_INIT;
	struct stat st;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		struct rawtar t = { .used = 0 };
		int fd;

		CHECK(fresh_root() == 0);
		fd = open(root_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		CHECK(fd >= 0);
		CHECK_INT(fchmod(fd, 0755), 0); /* as store_create_subvolume leaves it */
		close(fd);
		raw_add(&t, '5', names[i], 0750, NULL, NULL);
		raw_add(&t, '0', "f", 0644, NULL, "f\n");
		raw_end(&t);
		CHECK_INT(extract_raw(&t, &err), 0);
		CHECK(stat(root_dir, &st) == 0);
		CHECK_INT(st.st_mode & 07777, 0750);
	}
	return 0;
}

/* ---- typeflags outside POSIX's list ------------------------------------- */

static int
test_unknown_typeflags_are_files(void)
{
	static const char flags[] = { 'Z', 'Q', '9', 'z' };
	struct bk_err err = BK_ERR_INIT;
	struct rawtar t = { .used = 0 };
	char name[16], data[32];
	struct stat st;
	size_t i;

	CHECK(fresh_root() == 0);
	for (i = 0; i < sizeof(flags); i++) {
		snprintf(name, sizeof(name), "type-%c", flags[i]);
		snprintf(data, sizeof(data), "data of %c\n", flags[i]);
		/* A link name too: it must not make a link of any kind. */
		raw_add(&t, flags[i], name, 04755, "/etc/passwd", data);
	}
	/* '7' (contiguous file) is POSIX's, and a regular file too. */
	raw_add(&t, '7', "type-7", 0600, NULL, "data of 7\n");
	raw_end(&t);
	CHECK_INT(extract_raw(&t, &err), 0);
	for (i = 0; i < sizeof(flags); i++) {
		snprintf(name, sizeof(name), "type-%c", flags[i]);
		snprintf(data, sizeof(data), "data of %c\n", flags[i]);
		CHECK(lstat_rel(name, &st) == 0);
		CHECK(S_ISREG(st.st_mode));
		CHECK_INT(st.st_nlink, 1);
		/* Its mode as the header says, setuid included (as for any file). */
		CHECK_INT(st.st_mode & 07777, 04755);
		CHECK(file_is(name, data));
	}
	CHECK(lstat_rel("type-7", &st) == 0);
	CHECK(S_ISREG(st.st_mode));
	CHECK(file_is("type-7", "data of 7\n"));
	return 0;
}

int
main(void)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/var/tmp";
	char cmd[PATH_MAX + 32];

	snprintf(base_dir, sizeof(base_dir), "%s/bkt-layer-edge-XXXXXX", tmp);
	if (mkdtemp(base_dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(root_dir, sizeof(root_dir), "%s/root", base_dir);
	bk_log_set_sink(NULL);

	RUN(test_root_without_dot_entry);
	RUN(test_root_entry_wins);
	RUN(test_unknown_typeflags_are_files);

	if (getenv("BK_TEST_KEEP") == NULL) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", base_dir);
	}
	return TAP_DONE();
}
