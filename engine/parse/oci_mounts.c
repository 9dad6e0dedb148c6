/*
 * config.json's mounts: destination, type, source, and the options split as
 * runc splits them (specconv) into mount(2) flags, a propagation, and the file
 * system's data.  Options that need what the runtime lacks (recursive
 * attributes, idmapped mounts) are refused by name.  Pure: no I/O.
 */
#include <string.h>
#include <sys/mount.h>
#include <jansson.h>

#include "parse/oci_spec.h"
#include "parse/oci_json.h"
#include "base/base.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

/* runc's table (specconv's mountFlags): "clear" options undo their opposite. */
static const struct {
	const char *name;
	bool clear;
	unsigned long flag;
} mount_flags[] = {
	{ "async", true, MS_SYNCHRONOUS },
	{ "atime", true, MS_NOATIME },
	{ "bind", false, MS_BIND },
	{ "defaults", false, 0 }, /* mount(8) drops it; it is no file system's option */
	{ "dev", true, MS_NODEV },
	{ "diratime", true, MS_NODIRATIME },
	{ "dirsync", false, MS_DIRSYNC },
	{ "exec", true, MS_NOEXEC },
	{ "iversion", false, MS_I_VERSION },
	{ "lazytime", false, MS_LAZYTIME },
	{ "loud", true, MS_SILENT },
	{ "mand", false, MS_MANDLOCK },
	{ "noatime", false, MS_NOATIME },
	{ "nodev", false, MS_NODEV },
	{ "nodiratime", false, MS_NODIRATIME },
	{ "noexec", false, MS_NOEXEC },
	{ "noiversion", true, MS_I_VERSION },
	{ "nolazytime", true, MS_LAZYTIME },
	{ "nomand", true, MS_MANDLOCK },
	{ "norelatime", true, MS_RELATIME },
	{ "nostrictatime", true, MS_STRICTATIME },
	{ "nosuid", false, MS_NOSUID },
	{ "nosymfollow", false, MS_NOSYMFOLLOW },
	{ "rbind", false, MS_BIND | MS_REC },
	{ "relatime", false, MS_RELATIME },
	{ "remount", false, MS_REMOUNT },
	{ "ro", false, MS_RDONLY },
	{ "rw", true, MS_RDONLY },
	{ "silent", false, MS_SILENT },
	{ "strictatime", false, MS_STRICTATIME },
	{ "suid", true, MS_NOSUID },
	{ "symfollow", true, MS_NOSYMFOLLOW },
	{ "sync", false, MS_SYNCHRONOUS },
};

static const struct {
	const char *name;
	unsigned long flags;
} propagations[] = {
	{ "private", MS_PRIVATE },       { "rprivate", MS_PRIVATE | MS_REC },
	{ "slave", MS_SLAVE },           { "rslave", MS_SLAVE | MS_REC },
	{ "shared", MS_SHARED },         { "rshared", MS_SHARED | MS_REC },
	{ "unbindable", MS_UNBINDABLE }, { "runbindable", MS_UNBINDABLE | MS_REC },
};

/* Options that need what the runtime lacks: mount_setattr's recursive attributes, idmapped
 * mounts, tmpfs copy-up.  Passed on as data they would fail later, or silently do nothing. */
static const char *const refused_options[] = {
	"tmpcopyup",      "idmap",        "ridmap",      "rro",      "rrw",    "rnosuid",
	"rsuid",          "rnodev",       "rdev",        "rnoexec",  "rexec",  "rnodiratime",
	"rdiratime",      "rrelatime",    "rnorelatime", "rnoatime", "ratime", "rstrictatime",
	"rnostrictatime", "rnosymfollow", "rsymfollow",
};

int
oj_propagation_of(const char *s, unsigned long *out)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(propagations); i++)
		if (strcmp(s, propagations[i].name) == 0) {
			*out = propagations[i].flags;
			return 0;
		}
	return -1;
}

/* One option: 1 if it is a flag or a propagation, 0 if it is the file system's, or -EINVAL. */
static int
mount_option(const char *o, const char *at, struct oci_mount *m, struct bk_err *err)
{
	unsigned long prop;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(mount_flags); i++)
		if (strcmp(o, mount_flags[i].name) == 0) {
			if (mount_flags[i].clear)
				m->flags &= ~mount_flags[i].flag;
			else
				m->flags |= mount_flags[i].flag;
			return 1;
		}
	if (oj_propagation_of(o, &prop) == 0) {
		/* runc applies them in turn; one struct field holds one */
		if (m->propagation != 0 && m->propagation != prop)
			return oj_bad(err, at, NULL, "\"%s\" after another propagation option", o);
		m->propagation = prop;
		return 1;
	}
	if (oj_lookup(refused_options, ARRAY_SIZE(refused_options), o) >= 0)
		return oj_bad(err, at, NULL, "\"%s\" not supported", o);
	return 0;
}

static int
parse_mount_options(const json_t *m, const char *at, struct oci_mount *out, struct bk_err *err)
{
	json_t *a = NULL, *v;
	size_t i, size = 1, n = 0;
	int ret = oj_get_array(m, at, "options", &a, err);

	if (ret < 0)
		return ret;
	json_array_foreach (a, i, v)
		size += json_string_length(v) + 1;
	out->data = xmalloc(size);
	out->data[0] = '\0';
	json_array_foreach (a, i, v) {
		char at_i[AT_MAX];
		const char *o;
		size_t len;

		oj_idx(at_i, at, "options", i);
		ret = oj_str_ok(v, at_i, NULL, err);
		if (ret == 0)
			ret = mount_option(json_string_value(v), at_i, out, err);
		if (ret < 0)
			return ret;
		o = json_string_value(v);
		len = strlen(o);
		if (ret > 0 || len == 0)
			continue;
		if (n > 0)
			out->data[n++] = ',';
		memcpy(out->data + n, o, len + 1);
		n += len;
	}
	return 0;
}

static int
parse_mount(const json_t *m, const char *at, struct oci_mount *out, struct bk_err *err)
{
	static const char *const unsupported[] = { "uidMappings", "gidMappings" };
	char at_d[AT_MAX];
	int ret;

	if (!json_is_object(m))
		return oj_bad(err, at, NULL, "must be an object");
	ret = oj_req_str(m, at, "destination", &out->destination, err);
	if (ret > 0)
		ret = oj_check_abs(out->destination, oj_sub(at_d, at, "destination"), err);
	if (ret >= 0)
		ret = oj_get_str(m, at, "type", &out->type, err);
	if (ret >= 0)
		ret = oj_get_str(m, at, "source", &out->source, err);
	if (ret >= 0)
		ret = oj_refuse(m, at, unsupported, ARRAY_SIZE(unsupported), err);
	if (ret >= 0)
		ret = parse_mount_options(m, at, out, err);
	if (ret < 0)
		return ret;
	/* A bind mount is one by its options (runc) or by its type (crun, and what users write). */
	out->bind = (out->flags & MS_BIND) || (out->type && strcmp(out->type, "bind") == 0);
	if (out->bind) {
		out->flags |= MS_BIND;
		free(out->type);
		out->type = xstrdup("bind");
	} else if (out->type == NULL || out->type[0] == '\0') {
		return oj_bad(err, at, "type", "required unless the options have bind or rbind");
	}
	return 0;
}

int
oj_parse_mounts(const json_t *root, struct oci_spec *s, struct bk_err *err)
{
	json_t *a = NULL, *m;
	size_t i;
	int ret = oj_get_array(root, "", "mounts", &a, err);

	if (ret <= 0)
		return ret;
	s->mounts = xcalloc(json_array_size(a), sizeof(*s->mounts));
	s->n_mounts = json_array_size(a);
	json_array_foreach (a, i, m) {
		char at_i[AT_MAX];

		ret = parse_mount(m, oj_idx(at_i, "", "mounts", i), &s->mounts[i], err);
		if (ret < 0)
			return ret;
	}
	return 0;
}
