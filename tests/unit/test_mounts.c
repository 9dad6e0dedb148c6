/*
 * Unit tests for engine/parse/mounts.c: the lines of a container's `mounts`
 * file parsed, refused and rendered back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse/parse.h"
#include "tap.h"

static int
parse_good(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct mount_spec *m;
	size_t n;

	CHECK_INT(mounts_parse("bind /srv/data /data\n"
			       "  volume db-1 /var/lib/db ro\n\n"
			       "tmpfs /run 64M\n"
			       "bind //srv//x/ /x// rw\n"
			       "tmpfs /tmp\n",
			       &m, &n, &err),
		  0);
	CHECK_INT(n, 5);
	CHECK_INT(m[0].kind, MOUNT_BIND);
	CHECK_STR(m[0].source, "/srv/data");
	CHECK_STR(m[0].target, "/data");
	CHECK(!m[0].ro);
	CHECK_INT(m[1].kind, MOUNT_VOLUME);
	CHECK_STR(m[1].source, "db-1");
	CHECK(m[1].ro);
	CHECK_INT(m[2].kind, MOUNT_TMPFS);
	CHECK(m[2].source == NULL);
	CHECK_INT(m[2].size, 64 << 20);
	/* one spelling: no doubled or trailing slashes */
	CHECK_STR(m[3].source, "/srv/x");
	CHECK_STR(m[3].target, "/x");
	CHECK_INT(m[4].size, 0);
	mounts_free(m, n);
	CHECK_INT(mounts_parse("", &m, &n, &err), 0);
	CHECK_INT(n, 0);
	CHECK(m == NULL);
	return 0;
}

static int
parse_bad(void)
{
	static const char *bad[] = {
		"bind /a",
		"bind a /b",
		"bind /a b",
		"bind /a /b ro extra",
		"bind /../etc /b",
		"bind /a /b/../../etc",
		"bind /a /./b",
		"bind /a /",
		"bind /a //",
		"bind /a /proc",
		"bind /a /proc/sys",
		"bind /a /sys/fs/cgroup",
		"bind /a /b rx",
		"volume /x /b",
		"volume -x /b",
		"volume a/b /b",
		"volume .. /b",
		"volume a /b ro rw",
		"tmpfs",
		"tmpfs /t 0",
		"tmpfs /t -1",
		"tmpfs /t 10Q",
		"tmpfs /t 64M ro",
		"tmpfs rel",
		"nfs /a /b",
		"bind /a\\999 /b",
		"bind /a\\000 /b",
		"bind /a\\04 /b",
		"bind /a /b\nbind /c /b",
		"bind /a /b\nvolume v /b/",
	};
	struct bk_err err = BK_ERR_INIT;
	struct mount_spec *m = (struct mount_spec *)&err;
	size_t n = 99, i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err.code = 0;
		if (mounts_parse(bad[i], &m, &n, &err) != -EINVAL) {
			printf("# accepted: '%s'\n", bad[i]);
			return -1;
		}
		CHECK(strncmp(err.msg, "mounts: ", 8) == 0);
		CHECK(m == NULL && n == 0);
	}
	return 0;
}

static int
too_many_and_too_long(void)
{
	struct bk_err err = BK_ERR_INIT;
	char *text = malloc(65 * 32), *p = text, path[MOUNT_PATH_MAX + 20];
	struct mount_spec *m;
	size_t n;
	int i;

	for (i = 0; i < 65; i++)
		p += sprintf(p, "tmpfs /t%d\n", i);
	CHECK_INT(mounts_parse(text, &m, &n, &err), -EINVAL);
	CHECK(strstr(err.msg, "more than 64") != NULL);
	/* 64 is fine */
	*strstr(text, "tmpfs /t64") = '\0';
	CHECK_INT(mounts_parse(text, &m, &n, &err), 0);
	CHECK_INT(n, 64);
	mounts_free(m, n);
	free(text);
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	memcpy(path + sizeof(path) - 1, "", 1);
	text = malloc(sizeof(path) + 16);
	sprintf(text, "tmpfs %s", path);
	CHECK_INT(mounts_parse(text, &m, &n, &err), -ENAMETOOLONG);
	free(text);
	return 0;
}

static int
roundtrip(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct mount_spec *m, *back;
	size_t n, nb, i;
	char *text, *again;

	CHECK_INT(mounts_parse("bind /srv/my\\040data /data\\011x ro\n"
			       "volume v.1 /a\\134b\n"
			       "tmpfs /run 1G\n",
			       &m, &n, &err),
		  0);
	CHECK_STR(m[0].source, "/srv/my data");
	CHECK_STR(m[0].target, "/data\tx");
	CHECK_STR(m[1].target, "/a\\b");
	text = mounts_format(m, n);
	CHECK_STR(text, "bind /srv/my\\040data /data\\011x ro\nvolume v.1 /a\\134b\ntmpfs /run "
			"1073741824\n");
	CHECK_INT(mounts_parse(text, &back, &nb, &err), 0);
	CHECK_INT(nb, n);
	for (i = 0; i < n; i++) {
		CHECK_INT(back[i].kind, m[i].kind);
		CHECK_STR(back[i].target, m[i].target);
		CHECK(back[i].ro == m[i].ro && back[i].size == m[i].size);
	}
	again = mounts_format(back, nb);
	CHECK_STR(again, text);
	free(again);
	free(text);
	mounts_free(back, nb);
	mounts_free(m, n);
	text = mounts_format(NULL, 0);
	CHECK_STR(text, "");
	free(text);
	return 0;
}

static int
volume_names(void)
{
	CHECK(mount_volume_name_ok("a"));
	CHECK(mount_volume_name_ok("db_data.v-2"));
	CHECK(!mount_volume_name_ok(""));
	CHECK(!mount_volume_name_ok(".x"));
	CHECK(!mount_volume_name_ok("_x"));
	CHECK(!mount_volume_name_ok("a b"));
	CHECK(!mount_volume_name_ok("a/b"));
	CHECK(!mount_volume_name_ok("é"));
	return 0;
}

int
main(void)
{
	RUN(parse_good);
	RUN(parse_bad);
	RUN(too_many_and_too_long);
	RUN(roundtrip);
	RUN(volume_names);
	return TAP_DONE();
}
