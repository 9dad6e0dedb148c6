/*
 * config.json's linux object: namespaces and id mappings, resources (the
 * cgroup limits and device rules), sysctl, devices, masked and read-only
 * paths, rootfsPropagation; seccomp is oci_seccomp_spec.c's.  With runc's
 * validator's checks across members: mappings need a user namespace, a
 * sysctl a namespace of the container's own.  Pure: no I/O.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>

#include "parse/oci_spec.h"
#include "parse/oci_json.h"
#include "base/base.h"

#define ID_MAP_MAX 340 /* lines of /proc/PID/uid_map the kernel accepts */

/* ---- linux: namespaces, id mappings ---------------------------------------------------------- */

static const char *const ns_names[OCI_NS_COUNT] = {
	[OCI_NS_PID] = "pid",       [OCI_NS_NET] = "network", [OCI_NS_MNT] = "mount",
	[OCI_NS_IPC] = "ipc",       [OCI_NS_UTS] = "uts",     [OCI_NS_USER] = "user",
	[OCI_NS_CGROUP] = "cgroup",
};

static int
parse_namespace(const json_t *n, const char *at, struct oci_spec *s, struct bk_err *err)
{
	cleanup_free char *type = NULL, *path = NULL;
	char at_p[AT_MAX], sb[SHOWN_SIZE];
	int k, ret;

	if (!json_is_object(n))
		return oj_bad(err, at, NULL, "must be an object");
	ret = oj_req_str(n, at, "type", &type, err);
	if (ret > 0)
		ret = oj_get_str(n, at, "path", &path, err);
	if (ret < 0)
		return ret;
	k = oj_lookup(ns_names, OCI_NS_COUNT, type);
	if (k < 0 && strcmp(type, "time") == 0)
		return oj_bad(err, at, "type", "\"time\" not supported");
	if (k < 0)
		return oj_bad(err, at, "type", "unknown namespace type \"%s\"", oj_shown(type, sb));
	if (s->ns[k].present)
		return oj_bad(err, at, "type", "\"%s\" given twice", type);
	s->ns[k].present = true;
	if (path && path[0] != '\0') {
		ret = oj_check_abs(path, oj_sub(at_p, at, "path"), err);
		if (ret < 0)
			return ret;
		s->ns[k].path = take_ptr(path);
	}
	return 0;
}

static int
parse_namespaces(const json_t *l, struct oci_spec *s, struct bk_err *err)
{
	json_t *a = NULL, *n;
	size_t i;
	int ret = oj_get_array(l, "linux", "namespaces", &a, err);

	if (ret <= 0)
		return ret;
	json_array_foreach (a, i, n) {
		char at_i[AT_MAX];

		ret = parse_namespace(n, oj_idx(at_i, "linux", "namespaces", i), s, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int
parse_id_map(const json_t *m, const char *at, struct oci_id_map *out, struct bk_err *err)
{
	int64_t c = 0, h = 0, n = 0;
	int ret;

	if (!json_is_object(m))
		return oj_bad(err, at, NULL, "must be an object");
	ret = oj_req_int(m, at, "containerID", 0, UINT32_MAX, &c, err);
	if (ret > 0)
		ret = oj_req_int(m, at, "hostID", 0, UINT32_MAX, &h, err);
	if (ret > 0)
		ret = oj_req_int(m, at, "size", 1, UINT32_MAX, &n, err);
	if (ret < 0)
		return ret;
	if (c + n - 1 > UINT32_MAX || h + n - 1 > UINT32_MAX)
		return oj_bad(err, at, "size", "%" PRId64 " ids run past 4294967295", n);
	out->container_id = (uint32_t)c;
	out->host_id = (uint32_t)h;
	out->size = (uint32_t)n;
	return 0;
}

static int
parse_id_maps(const json_t *l, const char *key, struct oci_id_map **out, size_t *n,
	      struct bk_err *err)
{
	json_t *a = NULL, *m;
	size_t i;
	int ret = oj_get_array(l, "linux", key, &a, err);

	if (ret <= 0)
		return ret;
	if (json_array_size(a) > ID_MAP_MAX)
		return oj_bad(err, "linux", key, "%zu entries, more than the kernel's %d",
			      json_array_size(a), ID_MAP_MAX);
	*out = xcalloc(json_array_size(a), sizeof(**out));
	*n = json_array_size(a);
	json_array_foreach (a, i, m) {
		char at_i[AT_MAX];

		ret = parse_id_map(m, oj_idx(at_i, "linux", key, i), &(*out)[i], err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* runc's validator: mappings belong to a user namespace, and a new one needs both. */
static int
check_user_ns(const struct oci_spec *s, struct bk_err *err)
{
	const struct oci_namespace *u = &s->ns[OCI_NS_USER];

	if (!u->present && s->n_uid_mappings > 0)
		return oj_bad(err, "linux", "uidMappings", "given without a user namespace");
	if (!u->present && s->n_gid_mappings > 0)
		return oj_bad(err, "linux", "gidMappings", "given without a user namespace");
	if (u->present && u->path == NULL && s->n_uid_mappings == 0)
		return oj_bad(err, "linux", "uidMappings", "required with a new user namespace");
	if (u->present && u->path == NULL && s->n_gid_mappings == 0)
		return oj_bad(err, "linux", "gidMappings", "required with a new user namespace");
	return 0;
}

/* ---- linux.resources ------------------------------------------------------------------------- */

static int
parse_memory(const json_t *r, const char *at, struct oci_resources *out, struct bk_err *err)
{
	char at_m[AT_MAX];
	json_t *m = NULL;
	uint64_t swappiness = UINT64_MAX;
	int ret = oj_get_object(r, at, "memory", &m, err);

	if (ret <= 0)
		return ret;
	oj_sub(at_m, at, "memory");
	ret = oj_get_int(m, at_m, "limit", -1, INT64_MAX, &out->memory_limit, err);
	if (ret >= 0)
		ret = oj_get_int(m, at_m, "reservation", -1, INT64_MAX, &out->memory_reservation,
				 err);
	if (ret >= 0)
		ret = oj_get_int(m, at_m, "swap", -1, INT64_MAX, &out->memory_swap, err);
	if (ret >= 0)
		ret =
		    oj_get_bool(m, at_m, "disableOOMKiller", &out->memory_disable_oom_killer, err);
	/*
	 * Kernel memory: kernels since 5.16 no longer limit it apart (runc 1.1
	 * warns and goes on); flagged so that create says it is ignored.
	 */
	out->memory_kernel_ignored =
	    !oj_is_empty(oj_member(m, "kernel")) || !oj_is_empty(oj_member(m, "kernelTCP"));
	if (ret >= 0)
		ret = oj_get_u64(m, at_m, "swappiness", &swappiness, err);
	if (ret < 0)
		return ret;
	/* Docker writes uint64(-1) for "unset", and runc reads it so */
	if (swappiness != UINT64_MAX && swappiness > 100)
		return oj_bad(err, at_m, "swappiness", "%llu is not 0..100",
			      (unsigned long long)swappiness);
	out->memory_swappiness = swappiness == UINT64_MAX ? -1 : (int64_t)swappiness;
	return 0;
}

/* A cpuset list ("0-3,7"): it is written to a cgroup file as is. */
static int
check_cpuset(const char *s, const char *at, struct bk_err *err)
{
	char sb[SHOWN_SIZE];

	if (strspn(s, "0123456789,-") != strlen(s))
		return oj_bad(err, at, NULL, "\"%s\" is not a list like 0-3,7", oj_shown(s, sb));
	return 0;
}

static int
get_cpuset(const json_t *c, const char *at, const char *key, char **out, struct bk_err *err)
{
	char at_k[AT_MAX];
	int ret = oj_get_str(c, at, key, out, err);

	if (ret <= 0)
		return ret;
	if (**out == '\0') {
		free(*out);
		*out = NULL;
		return 0;
	}
	return check_cpuset(*out, oj_sub(at_k, at, key), err);
}

static int
parse_cpu(const json_t *r, const char *at, struct oci_resources *out, struct bk_err *err)
{
	static const char *const unset_if_zero[] = { "realtimeRuntime", "realtimePeriod", "idle",
						     "burst" };
	char at_c[AT_MAX];
	json_t *c = NULL;
	size_t i;
	int ret = oj_get_object(r, at, "cpu", &c, err);

	if (ret <= 0)
		return ret;
	oj_sub(at_c, at, "cpu");
	for (i = 0; i < ARRAY_SIZE(unset_if_zero); i++) {
		ret = oj_refuse_nonzero(c, at_c, unset_if_zero[i], err);
		if (ret < 0)
			return ret;
	}
	ret = oj_get_int(c, at_c, "shares", 0, INT64_MAX, &out->cpu_shares, err);
	if (ret >= 0)
		ret = oj_get_int(c, at_c, "quota", -1, INT64_MAX, &out->cpu_quota, err);
	if (ret >= 0)
		ret = oj_get_int(c, at_c, "period", 0, INT64_MAX, &out->cpu_period, err);
	if (ret >= 0)
		ret = get_cpuset(c, at_c, "cpus", &out->cpuset_cpus, err);
	if (ret >= 0)
		ret = get_cpuset(c, at_c, "mems", &out->cpuset_mems, err);
	return ret < 0 ? ret : 0;
}

/* "rwm", "mr", "w"...: in that order, each once, at least one. */
static int
device_access(const char *s, const char *at, char out[4], struct bk_err *err)
{
	static const char perms[] = "rwm";
	char sb[SHOWN_SIZE];
	bool has[3] = { false, false, false };
	size_t i, n = 0;

	for (i = 0; s[i] != '\0'; i++) {
		const char *p = strchr(perms, s[i]);

		if (p == NULL || has[p - perms])
			break;
		has[p - perms] = true;
	}
	if (i == 0 || s[i] != '\0')
		return oj_bad(err, at, NULL, "\"%s\" is not a subset of rwm", oj_shown(s, sb));
	for (i = 0; i < 3; i++)
		if (has[i])
			out[n++] = perms[i];
	out[n] = '\0';
	return 0;
}

static int
parse_device_rule(const json_t *d, const char *at, struct oci_device_rule *out, struct bk_err *err)
{
	cleanup_free char *type = NULL, *access = NULL;
	char at_a[AT_MAX], sb[SHOWN_SIZE];
	int ret;

	if (!json_is_object(d))
		return oj_bad(err, at, NULL, "must be an object");
	out->type = 'a';
	out->major = out->minor = -1;
	memcpy(out->access, "rwm", 4);
	ret = oj_get_bool(d, at, "allow", &out->allow, err);
	if (ret == 0)
		return oj_bad(err, at, "allow", "required");
	if (ret > 0)
		ret = oj_get_str(d, at, "type", &type, err);
	if (ret >= 0)
		ret = oj_get_int(d, at, "major", -1, UINT32_MAX, &out->major, err);
	if (ret >= 0)
		ret = oj_get_int(d, at, "minor", -1, UINT32_MAX, &out->minor, err);
	if (ret >= 0)
		ret = oj_get_str(d, at, "access", &access, err);
	if (ret < 0)
		return ret;
	if (type && (strlen(type) != 1 || !strchr("acb", type[0])))
		return oj_bad(err, at, "type", "\"%s\" is not a, c or b", oj_shown(type, sb));
	if (type)
		out->type = type[0];
	if (access)
		return device_access(access, oj_sub(at_a, at, "access"), out->access, err);
	return 0;
}

static int
parse_device_rules(const json_t *r, const char *at, struct oci_resources *out, struct bk_err *err)
{
	json_t *a = NULL, *d;
	size_t i;
	int ret = oj_get_array(r, at, "devices", &a, err);

	if (ret <= 0)
		return ret;
	out->devices = xcalloc(json_array_size(a), sizeof(*out->devices));
	out->n_devices = json_array_size(a);
	json_array_foreach (a, i, d) {
		char at_i[AT_MAX];

		ret = parse_device_rule(d, oj_idx(at_i, at, "devices", i), &out->devices[i], err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int
parse_resources(const json_t *l, struct oci_spec *s, struct bk_err *err)
{
	static const char *const unsupported[] = { "blockIO", "hugepageLimits", "network", "rdma",
						   "unified" };
	static const char at[] = "linux.resources";
	struct oci_resources *r = &s->resources;
	char at_p[AT_MAX];
	json_t *o = NULL, *pids = NULL;
	int ret;

	r->memory_limit = r->memory_swap = r->memory_reservation = -1;
	r->memory_swappiness = -1;
	r->cpu_shares = 0;
	r->cpu_quota = r->cpu_period = -1;
	r->pids_limit = -1;
	ret = oj_get_object(l, "linux", "resources", &o, err);
	if (ret <= 0)
		return ret;
	s->has_resources = true;
	ret = oj_refuse(o, at, unsupported, ARRAY_SIZE(unsupported), err);
	if (ret >= 0)
		ret = parse_memory(o, at, r, err);
	if (ret >= 0)
		ret = parse_cpu(o, at, r, err);
	if (ret >= 0)
		ret = oj_get_object(o, at, "pids", &pids, err);
	/* runtime-spec 1.0 requires limit, 1.1 does not; 0 and below mean no limit to runc */
	if (ret > 0)
		ret = oj_get_int(pids, oj_sub(at_p, at, "pids"), "limit", INT64_MIN, INT64_MAX,
				 &r->pids_limit, err);
	if (ret >= 0)
		ret = parse_device_rules(o, at, r, err);
	return ret < 0 ? ret : 0;
}

/* ---- linux: sysctl, devices, paths ----------------------------------------------------------- */

/*
 * runc's validator: a sysctl is set only in a namespace of the container's own,
 * else it would change the host.  IPC's and net's keys need those namespaces,
 * kernel.domainname the UTS one; kernel.hostname is "hostname"'s job.
 */
static int
sysctl_namespaced(const char *key, const char *at, const struct oci_spec *s, struct bk_err *err)
{
	static const char *const ipc_keys[] = { "kernel.msgmax", "kernel.msgmnb",
						"kernel.msgmni", "kernel.sem",
						"kernel.shmall", "kernel.shmmax",
						"kernel.shmmni", "kernel.shm_rmid_forced" };
	cleanup_free char *k = xstrdup(key);
	char *c;

	/* sysctl(8) takes '/' as a separator too */
	for (c = k; *c; c++)
		if (*c == '/')
			*c = '.';
	if (oj_lookup(ipc_keys, ARRAY_SIZE(ipc_keys), k) >= 0 ||
	    strncmp(k, "fs.mqueue.", 10) == 0) {
		if (!s->ns[OCI_NS_IPC].present)
			return oj_bad(err, at, NULL,
				      "needs an ipc namespace of the container's own");
		return 0;
	}
	if (strncmp(k, "net.", 4) == 0) {
		if (!s->ns[OCI_NS_NET].present)
			return oj_bad(err, at, NULL,
				      "needs a network namespace of the container's own");
		return 0;
	}
	if (strcmp(k, "kernel.domainname") == 0) {
		if (!s->ns[OCI_NS_UTS].present)
			return oj_bad(err, at, NULL,
				      "needs a uts namespace of the container's own");
		return 0;
	}
	if (strcmp(k, "kernel.hostname") == 0)
		return oj_bad(err, at, NULL, "set \"hostname\" instead");
	return oj_bad(err, at, NULL,
		      "not in a namespace of the container: it would change the host");
}

static int
parse_sysctl_entry(const char *key, const json_t *v, const char *at, const struct oci_spec *s,
		   struct oci_sysctl *out, struct bk_err *err)
{
	size_t len = strlen(key);
	int ret;

	if (len == 0 || len > 255)
		return oj_bad(err, at, NULL, "the name must have 1 to 255 bytes");
	if (strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-/") !=
	    len)
		return oj_bad(err, at, NULL, "the name may have only A-Z a-z 0-9 _ . - /");
	if (strstr(key, "..") != NULL)
		return oj_bad(err, at, NULL, "the name has \"..\"");
	ret = oj_str_ok(v, at, NULL, err);
	if (ret == 0)
		ret = sysctl_namespaced(key, at, s, err);
	if (ret < 0)
		return ret;
	out->key = xstrdup(key);
	out->value = xstrdup(json_string_value(v));
	return 0;
}

static int
parse_sysctl(const json_t *l, struct oci_spec *s, struct bk_err *err)
{
	json_t *o = NULL, *v;
	const char *key;
	int ret = oj_get_object(l, "linux", "sysctl", &o, err);

	if (ret <= 0)
		return ret;
	s->sysctl = xcalloc(json_object_size(o), sizeof(*s->sysctl));
	json_object_foreach (o, key, v) {
		char at_k[AT_MAX], sb[SHOWN_SIZE];

		oj_cut(at_k,
		       snprintf(at_k, sizeof(at_k), "linux.sysctl[\"%s\"]", oj_shown(key, sb)));
		ret = parse_sysctl_entry(key, v, at_k, s, &s->sysctl[s->n_sysctl], err);
		if (ret < 0)
			return ret;
		s->n_sysctl++;
	}
	return 0;
}

/* A path with a ".." component. */
static bool
has_dotdot(const char *p)
{
	const char *c;

	for (c = strstr(p, ".."); c; c = strstr(c + 1, ".."))
		if ((c == p || c[-1] == '/') && (c[2] == '\0' || c[2] == '/'))
			return true;
	return false;
}

/* major and minor as the kernel's dev_t holds them: 12 and 20 bits */
static int
device_numbers(const json_t *d, const char *at, struct oci_device *out, struct bk_err *err)
{
	int ret;

	if (out->type == 'p') {
		ret = oj_get_int(d, at, "major", 0, 4095, &out->major, err);
		if (ret >= 0)
			ret = oj_get_int(d, at, "minor", 0, (1 << 20) - 1, &out->minor, err);
	} else {
		ret = oj_req_int(d, at, "major", 0, 4095, &out->major, err);
		if (ret >= 0)
			ret = oj_req_int(d, at, "minor", 0, (1 << 20) - 1, &out->minor, err);
	}
	return ret < 0 ? ret : 0;
}

static int
parse_device(const json_t *d, const char *at, struct oci_device *out, struct bk_err *err)
{
	cleanup_free char *type = NULL;
	char sb[SHOWN_SIZE];
	int64_t n = 0;
	int ret;

	if (!json_is_object(d))
		return oj_bad(err, at, NULL, "must be an object");
	ret = oj_req_str(d, at, "path", &out->path, err);
	if (ret < 0)
		return ret;
	if (strncmp(out->path, "/dev/", 5) != 0 || out->path[5] == '\0' || has_dotdot(out->path))
		return oj_bad(err, at, "path", "\"%s\" is not a path under /dev",
			      oj_shown(out->path, sb));
	ret = oj_req_str(d, at, "type", &type, err);
	if (ret < 0)
		return ret;
	if (strlen(type) != 1 || !strchr("cbup", type[0]))
		return oj_bad(err, at, "type", "\"%s\" is not c, b, u or p", oj_shown(type, sb));
	out->type = type[0];
	ret = device_numbers(d, at, out, err);
	/* runc drops the file type bits (S_IFCHR...) some callers add */
	if (ret >= 0)
		ret = oj_get_int(d, at, "fileMode", 0, 0177777, &n, err);
	if (ret < 0)
		return ret;
	out->has_mode = ret > 0;
	out->mode = (mode_t)n & ~(mode_t)S_IFMT;
	n = 0;
	ret = oj_get_int(d, at, "uid", 0, ID_MAX, &n, err);
	out->uid = (uid_t)n;
	n = 0;
	if (ret >= 0)
		ret = oj_get_int(d, at, "gid", 0, ID_MAX, &n, err);
	out->gid = (gid_t)n;
	return ret < 0 ? ret : 0;
}

static int
parse_devices(const json_t *l, struct oci_spec *s, struct bk_err *err)
{
	json_t *a = NULL, *d;
	size_t i;
	int ret = oj_get_array(l, "linux", "devices", &a, err);

	if (ret <= 0)
		return ret;
	s->devices = xcalloc(json_array_size(a), sizeof(*s->devices));
	s->n_devices = json_array_size(a);
	json_array_foreach (a, i, d) {
		char at_i[AT_MAX];

		ret = parse_device(d, oj_idx(at_i, "linux", "devices", i), &s->devices[i], err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int
parse_rootfs_propagation(const json_t *l, struct oci_spec *s, struct bk_err *err)
{
	cleanup_free char *p = NULL;
	char sb[SHOWN_SIZE];
	int ret = oj_get_str(l, "linux", "rootfsPropagation", &p, err);

	if (ret <= 0 || p[0] == '\0')
		return ret < 0 ? ret : 0;
	if (oj_propagation_of(p, &s->rootfs_propagation) < 0)
		return oj_bad(err, "linux", "rootfsPropagation", "unknown propagation \"%s\"",
			      oj_shown(p, sb));
	return 0;
}

/* ---- linux ----------------------------------------------------------------------------------- */

int
oj_parse_linux(const json_t *root, struct oci_spec *s, struct bk_err *err)
{
	static const char *const unsupported[] = { "intelRdt", "personality", "timeOffsets",
						   "memoryPolicy", "netDevices" };
	json_t *l = NULL;
	int ret = oj_get_object(root, "", "linux", &l, err);

	/* An absent linux object still gives the vectors their empty values below. */
	if (ret >= 0)
		ret = oj_refuse(l, "linux", unsupported, ARRAY_SIZE(unsupported), err);
	if (ret >= 0)
		ret = parse_namespaces(l, s, err);
	if (ret >= 0)
		ret = parse_id_maps(l, "uidMappings", &s->uid_mappings, &s->n_uid_mappings, err);
	if (ret >= 0)
		ret = parse_id_maps(l, "gidMappings", &s->gid_mappings, &s->n_gid_mappings, err);
	if (ret >= 0)
		ret = check_user_ns(s, err);
	if (ret >= 0)
		ret = parse_resources(l, s, err);
	if (ret >= 0)
		ret = oj_get_str(l, "linux", "cgroupsPath", &s->cgroups_path, err);
	if (ret >= 0)
		ret = parse_sysctl(l, s, err);
	if (ret >= 0)
		ret = oj_get_strv(l, "linux", "maskedPaths", oj_check_abs, &s->masked_paths, err);
	if (ret >= 0)
		ret =
		    oj_get_strv(l, "linux", "readonlyPaths", oj_check_abs, &s->readonly_paths, err);
	if (ret >= 0)
		ret = parse_devices(l, s, err);
	if (ret >= 0)
		ret = oj_parse_seccomp(l, s, err);
	if (ret >= 0)
		ret = parse_rootfs_propagation(l, s, err);
	if (ret >= 0)
		ret = oj_get_str(l, "linux", "mountLabel", &s->mount_label, err);
	return ret < 0 ? ret : 0;
}

void
oj_linux_free(struct oci_spec *s)
{
	size_t i;

	for (i = 0; i < OCI_NS_COUNT; i++)
		free(s->ns[i].path);
	free(s->uid_mappings);
	free(s->gid_mappings);
	free(s->resources.cpuset_cpus);
	free(s->resources.cpuset_mems);
	free(s->resources.devices);
	free(s->cgroups_path);
	for (i = 0; i < s->n_sysctl; i++) {
		free(s->sysctl[i].key);
		free(s->sysctl[i].value);
	}
	free(s->sysctl);
	strv_free(s->masked_paths);
	strv_free(s->readonly_paths);
	for (i = 0; i < s->n_devices; i++)
		free(s->devices[i].path);
	free(s->devices);
	oj_seccomp_free(&s->seccomp);
	free(s->mount_label);
}
