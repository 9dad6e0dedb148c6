/*
 * A container's mounts as text (the tree's `mounts` file), without I/O: one
 * line per mount, parsed, checked and rendered back.  Whether a bind source
 * exists, and what it really is, is for ops/ to find out when the line is
 * written; this file only says whether the line can mean anything.
 *
 *   bind SOURCE TARGET [ro|rw]     a host path (absolute)
 *   volume NAME TARGET [ro|rw]     a named volume (made on first use)
 *   tmpfs TARGET [SIZE]            a fresh tmpfs (SIZE as 64M; default: none)
 *
 * Paths with spaces, tabs or backslashes are written as fstab writes them
 * (\040, \011, \134), and read back the same way.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse/parse.h"
#include "base/base.h"
#include "common/xalloc.h"

static const char *const kind_names[] = { "bind", "volume", "tmpfs" };

/* fstab's octal escapes undone, in place: 0, or -1 for a bad escape. */
static int
unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		if (*s != '\\') {
			*out++ = *s;
			continue;
		}
		if (s[1] < '0' || s[1] > '3' || s[2] < '0' || s[2] > '7' || s[3] < '0' ||
		    s[3] > '7')
			return -1;
		*out = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
		if (*out == '\0')
			return -1;
		out++;
		s += 3;
	}
	*out = '\0';
	return 0;
}

/*
 * An absolute path in its one spelling: no "//", no trailing "/", and no "."
 * or ".." component (refused, not resolved: a ".." would be resolved against
 * whatever the container's or host's tree holds by then).
 */
static int
check_path(char *p, const char *what, const char *line, struct bk_err *err)
{
	char *in, *out;

	if (p[0] != '/')
		return bk_err_set(err, EINVAL, "mounts: %s '%s' is not an absolute path", what, p);
	if (strlen(p) > MOUNT_PATH_MAX)
		return bk_err_set(err, ENAMETOOLONG, "mounts: %s of '%.64s...' is too long", what,
				  line);
	for (in = out = p; *in;) {
		if (*in == '/') {
			while (*in == '/')
				in++;
			*out++ = '/';
			continue;
		}
		*out++ = *in++;
	}
	*out = '\0';
	if (out - p > 1 && out[-1] == '/')
		out[-1] = '\0';
	for (in = p; (in = strchr(in, '/')) != NULL;) {
		size_t len;

		in++;
		len = strcspn(in, "/");
		if ((len == 1 && in[0] == '.') || (len == 2 && in[0] == '.' && in[1] == '.'))
			return bk_err_set(err, EINVAL,
					  "mounts: %s '%s': '.' and '..' are not allowed", what, p);
	}
	return 0;
}

bool
path_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return true;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

bool
name_ok(const char *name, size_t max)
{
	size_t i, n = strlen(name);

	if (n == 0 || n > max)
		return false;
	for (i = 0; i < n; i++) {
		char c = name[i];
		bool alnum =
		    (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');

		if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
			return false;
	}
	return true;
}

bool
mount_volume_name_ok(const char *name)
{
	return name_ok(name, VOLUME_NAME_MAX);
}

static int
parse_line(char *line, struct mount_spec *m, struct bk_err *err)
{
	char *word[5], *save = NULL;
	size_t n = 0, i, args;
	char *target;

	memset(m, 0, sizeof(*m));
	for (char *w = strtok_r(line, " \t\r", &save); w; w = strtok_r(NULL, " \t\r", &save)) {
		if (n == 5)
			return bk_err_set(err, EINVAL, "mounts: too many fields in '%s ...'",
					  word[0]);
		word[n++] = w;
	}
	for (i = 0; i < ARRAY_SIZE(kind_names); i++)
		if (strcmp(word[0], kind_names[i]) == 0)
			break;
	if (i == ARRAY_SIZE(kind_names))
		return bk_err_set(err, EINVAL,
				  "mounts: unknown kind '%s' (bind SOURCE TARGET [ro], volume NAME "
				  "TARGET [ro], tmpfs TARGET [SIZE])",
				  word[0]);
	m->kind = (enum mount_kind)i;
	args = m->kind == MOUNT_TMPFS ? 1 : 2;
	if (n < 1 + args || n > 2 + args)
		return bk_err_set(err, EINVAL, "mounts: '%s' takes %s", word[0],
				  m->kind == MOUNT_BIND     ? "SOURCE TARGET [ro|rw]"
				  : m->kind == MOUNT_VOLUME ? "NAME TARGET [ro|rw]"
							    : "TARGET [SIZE]");
	for (i = 1; i < n; i++)
		if (unescape(word[i]) < 0)
			return bk_err_set(err, EINVAL,
					  "mounts: a bad escape in '%s' (\\040 is a space)",
					  word[i]);
	target = word[args];
	if (check_path(target, "target", target, err) < 0)
		return -err->code;
	if (strcmp(target, "/") == 0)
		return bk_err_set(err, EINVAL, "mounts: the target cannot be '/'");
	/* The kernel's own files are the runtime's: a mount there could hide what masks them. */
	if (path_within(target, "/proc") || path_within(target, "/sys"))
		return bk_err_set(err, EINVAL, "mounts: target '%s': not in /proc or /sys", target);
	if (m->kind == MOUNT_BIND) {
		if (check_path(word[1], "source", word[1], err) < 0)
			return -err->code;
	} else if (m->kind == MOUNT_VOLUME && !mount_volume_name_ok(word[1])) {
		return bk_err_set(
		    err, EINVAL,
		    "mounts: volume name '%s': letters, digits, '_', '.', '-', at most "
		    "%d, starting with a letter or digit",
		    word[1], VOLUME_NAME_MAX);
	}
	if (n == 2 + args) {
		const char *opt = word[1 + args];

		if (m->kind == MOUNT_TMPFS) {
			uint64_t size;

			if (opt[0] == '-' || parse_size(opt, &size) < 0 || size == 0 ||
			    size > (1ULL << 50))
				return bk_err_set(err, EINVAL,
						  "mounts: tmpfs size '%s': SIZE, e.g. 64M", opt);
			m->size = size;
		} else if (strcmp(opt, "ro") == 0) {
			m->ro = true;
		} else if (strcmp(opt, "rw") != 0) {
			return bk_err_set(err, EINVAL, "mounts: option '%s': ro or rw", opt);
		}
	}
	m->target = xstrdup(target);
	m->source = m->kind == MOUNT_TMPFS ? NULL : xstrdup(word[1]);
	return 0;
}

void
mounts_free(struct mount_spec *m, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(m[i].source);
		free(m[i].target);
	}
	free(m);
}

/*
 * All lines of text, or nothing: *out (NULL when there are none) and *n.  Two
 * mounts on one target are refused (Docker's "Duplicate mount point").
 */
int
mounts_parse(const char *text, struct mount_spec **out, size_t *n, struct bk_err *err)
{
	cleanup_free char *copy = xstrdup(text);
	struct mount_spec *v = NULL;
	char *save = NULL, *line;
	size_t count = 0, i;

	*out = NULL;
	*n = 0;
	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		struct mount_spec m;

		if (line[strspn(line, " \t\r")] == '\0')
			continue;
		if (count == MOUNTS_MAX) {
			bk_err_set(err, EINVAL, "mounts: more than %d", MOUNTS_MAX);
			goto fail;
		}
		if (parse_line(line, &m, err) < 0)
			goto fail;
		for (i = 0; i < count; i++)
			if (strcmp(v[i].target, m.target) == 0) {
				bk_err_set(err, EINVAL, "mounts: two mounts on '%s'", m.target);
				free(m.source);
				free(m.target);
				goto fail;
			}
		v = xrealloc(v, (count + 1) * sizeof(*v));
		v[count++] = m;
	}
	*out = v;
	*n = count;
	return 0;
fail:
	mounts_free(v, count);
	return -err->code;
}

/* s with fstab's escapes for space, tab, newline and backslash, at p; the end. */
static char *
put_escaped(char *p, const char *s)
{
	for (; *s; s++)
		if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\\')
			p += sprintf(p, "\\%03o", (unsigned char)*s);
		else
			*p++ = *s;
	return p;
}

/* The lines mounts_parse reads back to the same mounts; "" for none. */
char *
mounts_format(const struct mount_spec *m, size_t n)
{
	size_t i, size = 1;
	char *text, *p;

	for (i = 0; i < n; i++)
		size += 4 * (strlen(m[i].target) + (m[i].source ? strlen(m[i].source) : 0)) + 40;
	p = text = xmalloc(size);
	for (i = 0; i < n; i++) {
		p += sprintf(p, "%s ", kind_names[m[i].kind]);
		if (m[i].source) {
			p = put_escaped(p, m[i].source);
			*p++ = ' ';
		}
		p = put_escaped(p, m[i].target);
		if (m[i].kind == MOUNT_TMPFS && m[i].size)
			p += sprintf(p, " %llu", (unsigned long long)m[i].size);
		else if (m[i].kind != MOUNT_TMPFS && m[i].ro)
			p += sprintf(p, " ro");
		*p++ = '\n';
	}
	*p = '\0';
	return text;
}
