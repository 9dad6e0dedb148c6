/*
 * A runtime container's record, <state root>/<id>/state.json: what create
 * learnt (its init's pid and start time, the bundle, the group, who called
 * it).  Written by engine/oci/record.c, read there and by the daemon, which
 * shows the runtime's containers in its tree (ops/foreign.c).  Pure: no I/O.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>

#include "parse/oci_spec.h"
#include "base/base.h"

static char *
str_of(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	return xstrdup(s ? s : "");
}

int
oci_state_parse(const char *text, size_t len, struct oci_state_rec *out, struct bk_err *err)
{
	cleanup(json_decrefp) json_t *j = NULL;
	json_error_t jerr;
	json_int_t pid, start;
	json_t *ann;

	memset(out, 0, sizeof(*out));
	j = json_loadb(text, len, 0, &jerr);
	if (!json_is_object(j))
		return bk_err_set(err, EBADMSG, "state.json: %s", j ? "not an object" : jerr.text);
	pid = json_integer_value(json_object_get(j, "pid"));
	start = json_integer_value(json_object_get(j, "pid_start"));
	if (pid < 0 || pid > INT32_MAX || start < 0)
		return bk_err_set(err, EBADMSG, "state.json: bad pid %lld or its start %lld",
				  (long long)pid, (long long)start);
	out->pid = (pid_t)pid;
	out->pid_start = (uint64_t)start;
	out->bundle = str_of(j, "bundle");
	out->rootfs = str_of(j, "rootfs");
	out->created = str_of(j, "created");
	out->cgroup = str_of(j, "cgroup");
	out->caller = str_of(j, "caller");
	ann = json_object_get(j, "annotations");
	out->annotations =
	    json_is_object(ann) ? json_dumps(ann, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (out->annotations == NULL)
		out->annotations = xstrdup("{}");
	return 0;
}

void
oci_state_rec_free(struct oci_state_rec *r)
{
	free(r->bundle);
	free(r->rootfs);
	free(r->created);
	free(r->cgroup);
	free(r->caller);
	free(r->annotations);
	memset(r, 0, sizeof(*r));
}

void
oci_entry_name(const char *root, const char *id, char out[OCI_ENTRY_NAME_SIZE])
{
	char digest[DIGEST_STR_SIZE];
	cleanup_free char *both = xasprintf("%s\n%s", root, id);

	digest_buf(both, strlen(both), digest);
	snprintf(out, OCI_ENTRY_NAME_SIZE, "%.32s.json", digest_hex(digest));
}
