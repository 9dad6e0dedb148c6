/*
 * The image's User ("name", "uid", "name:group", "uid:gid") resolved against
 * the container's own /etc/passwd and /etc/group, as docker does.  The files
 * are the container's, so untrusted: read through inroot.h (a symlink never
 * leads to the host's, a FIFO or a device is refused, not waited on).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proc/proc.h"
#include "base/inroot.h"
#include "base/base.h"

#define DB_MAX     (4u << 20)
#define GROUPS_MAX 64

/*
 * The whole file into *text; a missing one leaves *text NULL (numeric users
 * need no entry).  Any other failure fails the lookup: a container that
 * planted a FIFO there gets an error, not a daemon waiting on it.
 */
static int
read_db(int rootfs_fd, const char *path, char **text, struct bk_err *err)
{
	int ret = inroot_read(rootfs_fd, path, DB_MAX, text, NULL);

	*text = ret < 0 ? NULL : *text;
	if (ret == -ENOENT || ret == -ENOTDIR)
		return 0;
	if (ret < 0)
		return bk_err_set(err, -ret, "user lookup: '%s': %s", path, inroot_strerror(-ret));
	return 0;
}

static bool
all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Split a colon-separated record in place; returns the field count. */
static int
fields(char *line, char **f, int max)
{
	int n = 0;

	f[n++] = line;
	for (; *line && n < max; line++)
		if (*line == ':') {
			*line = '\0';
			f[n++] = line + 1;
		}
	return n;
}

/* Find a passwd entry by name or uid; fills uid, gid, home and the user's name. */
static bool
passwd_find(char *db, const char *user, uid_t *uid, gid_t *gid, char *home, size_t home_size,
	    char *uname, size_t uname_size)
{
	char *save = NULL, *line;

	for (line = db ? strtok_r(db, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[7];

		if (fields(line, f, 7) < 7 || !all_digits(f[2]) || !all_digits(f[3]))
			continue;
		if (strcmp(f[0], user) != 0 && !(all_digits(user) && strcmp(f[2], user) == 0))
			continue;
		*uid = (uid_t)strtoul(f[2], NULL, 10);
		*gid = (gid_t)strtoul(f[3], NULL, 10);
		snprintf(home, home_size, "%s", f[5]);
		snprintf(uname, uname_size, "%s", f[0]);
		return true;
	}
	return false;
}

/* Resolve a group name or number; with member set, collect that user's other groups. */
static bool
group_scan(char *db, const char *group, gid_t *gid, const char *member, gid_t *groups, size_t *n)
{
	char *save = NULL, *line;
	bool found = false;

	for (line = db ? strtok_r(db, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *f[4], *msave = NULL, *m;

		if (fields(line, f, 4) < 4 || !all_digits(f[2]))
			continue;
		if (group && (strcmp(f[0], group) == 0 || strcmp(f[2], group) == 0)) {
			*gid = (gid_t)strtoul(f[2], NULL, 10);
			found = true;
		}
		if (member == NULL)
			continue;
		for (m = strtok_r(f[3], ",", &msave); m; m = strtok_r(NULL, ",", &msave))
			if (strcmp(m, member) == 0 && *n < GROUPS_MAX)
				groups[(*n)++] = (gid_t)strtoul(f[2], NULL, 10);
	}
	return found;
}

/*
 * groups must hold 64 entries.  An unknown user name is ENOENT; a number
 * needs no entry (docker runs "1000" even if no such user is listed).
 */
int
userdb_resolve(int rootfs_fd, const char *user, uid_t *uid, gid_t *gid, gid_t *groups,
	       size_t *ngroups, char *home, size_t home_size, struct bk_err *err)
{
	cleanup_free char *spec = xstrdup(user && *user ? user : "0");
	cleanup_free char *passwd = NULL;
	cleanup_free char *group_db = NULL;
	char *colon = strchr(spec, ':'), *name = spec, *grp = NULL;
	char uname[256] = "";

	*ngroups = 0;
	if (read_db(rootfs_fd, "/etc/passwd", &passwd, err) < 0 ||
	    read_db(rootfs_fd, "/etc/group", &group_db, err) < 0)
		return -err->code;
	if (colon) {
		*colon = '\0';
		grp = colon + 1;
	}
	snprintf(home, home_size, "/");
	if (passwd_find(passwd, name, uid, gid, home, home_size, uname, sizeof(uname))) {
		/* found */
	} else if (all_digits(name)) {
		*uid = (uid_t)strtoul(name, NULL, 10);
		*gid = 0;
		if (*uid == 0)
			snprintf(home, home_size, "/root");
	} else {
		return bk_err_set(err, ENOENT, "user '%s': no such user in the image's /etc/passwd",
				  name);
	}
	if (grp && *grp) {
		cleanup_free char *copy = group_db ? xstrdup(group_db) : NULL;

		if (!group_scan(copy, grp, gid, NULL, NULL, NULL)) {
			if (!all_digits(grp))
				return bk_err_set(
				    err, ENOENT,
				    "group '%s': no such group in the image's /etc/group", grp);
			*gid = (gid_t)strtoul(grp, NULL, 10);
		}
	}
	if (uname[0] && group_db)
		group_scan(group_db, NULL, gid, uname, groups, ngroups);
	return 0;
}
