/*
 * The runtime's cgroups: the group config.json names (cgroupsPath) rather
 * than the daemon's bockerfs/<tag>/<id>, made in every hierarchy the host
 * mounts (v1: each controller's; v2: the one), with linux.resources
 * written to the controllers' files.  The callers (containerd, conmon,
 * Docker) decide the layout and read the groups themselves, so the groups
 * are exactly where runc would put them.
 *
 * The systemd form ("slice:prefix:name") is laid out as systemd lays out a
 * scope, but made directly on the cgroup filesystem: no unit is asked of
 * systemd over D-Bus (docs/runtime.md says what that means).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "oci/oci.h"
#include "base/base.h"
#include "parse/parse.h"
#include "proc/proc.h"

#define CG_ROOT     "/sys/fs/cgroup"
#define DEFAULT_DIR "/bockerfs-runtime"

int
ocg_hierarchies(struct ocg_hier **out, size_t *n, bool *v2, struct bk_err *err)
{
	cleanup_fclose FILE *f = NULL;
	cleanup_free char *line = NULL;
	struct ocg_hier *h = NULL;
	struct statfs sf;
	size_t cap = 0, len = 0;

	*out = NULL;
	*n = 0;
	if (statfs(CG_ROOT, &sf) < 0)
		return bk_err_sys(err, "cgroups: statfs %s", CG_ROOT);
	*v2 = sf.f_type == CGROUP2_SUPER_MAGIC;
	if (*v2)
		return 0;
	f = fopen("/proc/self/mountinfo", "re");
	if (f == NULL)
		return bk_err_sys(err, "cgroups: mountinfo");
	while (getline(&line, &cap, f) > 0) {
		char root[256], mnt[256], fstype[32], opts[256], *sep, *o, *save = NULL;
		struct ocg_hier e = { 0 };

		sep = strstr(line, " - ");
		if (sep == NULL || sscanf(line, "%*s %*s %*s %255s %255s", root, mnt) != 2 ||
		    sscanf(sep + 3, "%31s %*s %255s", fstype, opts) != 2 ||
		    strcmp(fstype, "cgroup"))
			continue;
		snprintf(e.mount, sizeof(e.mount), "%s", mnt);
		snprintf(e.root, sizeof(e.root), "%s", root);
		for (o = strtok_r(opts, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
			const char *word = strncmp(o, "name=", 5) == 0 ? o + 5 : o;

			if (!strcmp(o, "rw") || !strcmp(o, "ro") || !strcmp(o, "xattr") ||
			    !strncmp(o, "release_agent", 13) || !strcmp(o, "clone_children") ||
			    !strcmp(o, "noprefix") || !strcmp(o, "nsdelegate"))
				continue;
			if (strlen(e.name) + strlen(word) + 2 > sizeof(e.name))
				break;
			if (*e.name)
				strcat(e.name, ",");
			strcat(e.name, word);
		}
		if (*e.name == '\0')
			continue;
		h = xrealloc(h, (len + 1) * sizeof(*h));
		h[len++] = e;
	}
	*out = h;
	*n = len;
	return 0;
}

/* "a-b-c.slice" -> "/a.slice/a-b.slice/a-b-c.slice", as systemd nests slices. */
static int
expand_slice(const char *slice, char *out, size_t size)
{
	size_t n = strlen(slice), at = 0, i;

	if (n < 7 || strcmp(slice + n - 6, ".slice") || strchr(slice, '/'))
		return -EINVAL;
	if (strcmp(slice, "-.slice") == 0) {
		out[0] = '\0';
		return 0;
	}
	for (i = 0; i + 6 < n; i++) {
		if (slice[i] != '-')
			continue;
		if (i == 0 || slice[i + 1] == '-' || slice[i + 1] == '.')
			return -EINVAL;
		at += (size_t)snprintf(out + at, at < size ? size - at : 0, "/%.*s.slice", (int)i,
				       slice);
	}
	at += (size_t)snprintf(out + at, at < size ? size - at : 0, "/%s", slice);
	return at < size ? 0 : -ENAMETOOLONG;
}

int
ocg_path(const char *cgroups_path, bool systemd, const char *id, char **out, struct bk_err *err)
{
	char buf[1024];

	if (cgroups_path == NULL || *cgroups_path == '\0') {
		*out = systemd ? xasprintf("/system.slice/bockerfs-runtime-%s.scope", id)
			       : xasprintf(DEFAULT_DIR "/%s", id);
		return 0;
	}
	if (systemd) {
		const char *c1 = strchr(cgroups_path, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		char slice[256], prefix[256];

		if (c2 == NULL || strchr(c2 + 1, ':') ||
		    (size_t)(c1 - cgroups_path) >= sizeof(slice) ||
		    (size_t)(c2 - c1 - 1) >= sizeof(prefix))
			return bk_err_set(err, EINVAL,
					  "linux.cgroupsPath: '%.128s' is not slice:prefix:name "
					  "(--systemd-cgroup)",
					  cgroups_path);
		snprintf(slice, sizeof(slice), "%.*s", (int)(c1 - cgroups_path), cgroups_path);
		snprintf(prefix, sizeof(prefix), "%.*s", (int)(c2 - c1 - 1), c1 + 1);
		if (*slice == '\0')
			snprintf(slice, sizeof(slice), "system.slice");
		if (expand_slice(slice, buf, sizeof(buf)) < 0)
			return bk_err_set(err, EINVAL, "linux.cgroupsPath: bad slice '%s'", slice);
		if (strlen(c2 + 1) > 200 || strchr(c2 + 1, '/') || !strcmp(c2 + 1, "..") ||
		    c2[1] == '\0')
			return bk_err_set(err, EINVAL, "linux.cgroupsPath: bad name '%.64s'",
					  c2 + 1);
		/* A name that is a slice is the group itself (systemd's own convention). */
		if (strlen(c2 + 1) > 6 && !strcmp(c2 + 1 + strlen(c2 + 1) - 6, ".slice"))
			*out = xasprintf("%s/%s", buf, c2 + 1);
		else
			*out =
			    xasprintf("%s/%s%s%s.scope", buf, prefix, *prefix ? "-" : "", c2 + 1);
		return 0;
	}
	if (strstr(cgroups_path, "..") || strlen(cgroups_path) > 512)
		return bk_err_set(err, EINVAL, "linux.cgroupsPath: '%.128s' is not a plain path",
				  cgroups_path);
	/* Relative paths are taken from the hierarchy's root (runc: from its own group). */
	*out = xasprintf("%s%s", cgroups_path[0] == '/' ? "" : "/", cgroups_path);
	return 0;
}

static int
write_at(const char *dir, const char *file, const char *value)
{
	cleanup_close int fd = -1;
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) < 0)
		return -errno;
	return 0;
}

static int
read_at(const char *dir, const char *file, char *buf, size_t size)
{
	cleanup_close int fd = -1;
	char path[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	while (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return (int)n;
}

static int
set_file(const char *dir, const char *file, const char *value, struct bk_err *err)
{
	int ret = write_at(dir, file, value);

	if (ret < 0)
		return bk_err_set(err, -ret, "cgroups: write '%s' to %s/%s: %s", value, dir, file,
				  strerror(-ret));
	return 0;
}

/* mkdir -p below the hierarchy's mount; cpuset's new levels get their parent's sets (v1). */
static int
make_dirs(const char *mount, const char *path, bool cpuset, struct bk_err *err)
{
	char dir[PATH_MAX], parent[PATH_MAX], value[4096];
	const char *p = path;
	size_t at;

	at = (size_t)snprintf(dir, sizeof(dir), "%s", mount);
	while (*p) {
		const char *slash;

		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		slash = strchrnul(p, '/');
		snprintf(parent, sizeof(parent), "%s", dir);
		at += (size_t)snprintf(dir + at, at < sizeof(dir) ? sizeof(dir) - at : 0, "/%.*s",
				       (int)(slash - p), p);
		if (at >= sizeof(dir))
			return bk_err_set(err, ENAMETOOLONG, "cgroups: %s%s: too long", mount,
					  path);
		if (mkdir(dir, 0755) == 0) {
			if (cpuset) {
				static const char *const sets[] = { "cpuset.cpus", "cpuset.mems" };
				size_t i;

				for (i = 0; i < 2; i++)
					if (read_at(parent, sets[i], value, sizeof(value)) >= 0 &&
					    set_file(dir, sets[i], value, err) < 0)
						return -err->code;
			}
		} else if (errno != EEXIST) {
			return bk_err_sys(err, "cgroups: mkdir %s", dir);
		}
		p = slash;
	}
	return 0;
}

static void
num(char *buf, size_t size, int64_t v)
{
	if (v < 0)
		snprintf(buf, size, "-1");
	else
		snprintf(buf, size, "%lld", (long long)v);
}

static int
v1_device_rules(const char *dir, const struct oci_resources *r, struct bk_err *err)
{
	size_t i;

	for (i = 0; i < r->n_devices; i++) {
		const struct oci_device_rule *d = &r->devices[i];
		char line[64], maj[24] = "*", min[24] = "*";

		if (d->major >= 0)
			snprintf(maj, sizeof(maj), "%lld", (long long)d->major);
		if (d->minor >= 0)
			snprintf(min, sizeof(min), "%lld", (long long)d->minor);
		if (d->type == 'a')
			snprintf(line, sizeof(line), "a");
		else
			snprintf(line, sizeof(line), "%c %s:%s %s", d->type, maj, min, d->access);
		if (set_file(dir, d->allow ? "devices.allow" : "devices.deny", line, err) < 0)
			return bk_err_wrap(err, "linux.resources.devices[%zu]", i);
	}
	return 0;
}

/* v1: the limit and the limit with swap, in the order the kernel accepts (memsw >= limit). */
static int
v1_memory(const char *dir, const struct oci_resources *r, struct bk_err *err)
{
	char lim[24], sw[24];

	num(lim, sizeof(lim), r->memory_limit);
	num(sw, sizeof(sw), r->memory_swap);
	if (r->memory_swap != -1 || r->memory_limit != -1) {
		bool memsw = access(CG_ROOT "/memory/memory.memsw.limit_in_bytes", F_OK) == 0;

		if (r->memory_swap != -1 && !memsw)
			return bk_err_set(
			    err, EINVAL,
			    "linux.resources.memory.swap: the kernel does not account "
			    "swap");
		if (r->memory_swap != -1 && write_at(dir, "memory.memsw.limit_in_bytes", sw) == 0) {
			if (r->memory_limit != -1 &&
			    set_file(dir, "memory.limit_in_bytes", lim, err) < 0)
				return -err->code;
		} else {
			if (r->memory_limit != -1 &&
			    set_file(dir, "memory.limit_in_bytes", lim, err) < 0)
				return -err->code;
			if (r->memory_swap != -1 &&
			    set_file(dir, "memory.memsw.limit_in_bytes", sw, err) < 0)
				return -err->code;
		}
	}
	if (r->memory_reservation != -1) {
		num(lim, sizeof(lim), r->memory_reservation);
		if (set_file(dir, "memory.soft_limit_in_bytes", lim, err) < 0)
			return -err->code;
	}
	if (r->memory_disable_oom_killer && set_file(dir, "memory.oom_control", "1", err) < 0)
		return -err->code;
	if (r->memory_swappiness >= 0) {
		num(lim, sizeof(lim), r->memory_swappiness);
		if (set_file(dir, "memory.swappiness", lim, err) < 0)
			return -err->code;
	}
	return 0;
}

static int
v1_apply(const char *dir, const char *names, const struct oci_resources *r, struct bk_err *err)
{
	char v[32];

	if (word_in(names, "memory", ",") && v1_memory(dir, r, err) < 0)
		return -err->code;
	if (word_in(names, "cpu", ",")) {
		if (r->cpu_shares > 0) {
			num(v, sizeof(v), r->cpu_shares);
			if (set_file(dir, "cpu.shares", v, err) < 0)
				return -err->code;
		}
		if (r->cpu_period > 0) {
			num(v, sizeof(v), r->cpu_period);
			if (set_file(dir, "cpu.cfs_period_us", v, err) < 0)
				return -err->code;
		}
		if (r->cpu_quota != -1 && r->cpu_quota != 0) {
			num(v, sizeof(v), r->cpu_quota);
			if (set_file(dir, "cpu.cfs_quota_us", v, err) < 0)
				return -err->code;
		}
	}
	if (word_in(names, "cpuset", ",")) {
		if (r->cpuset_cpus && *r->cpuset_cpus &&
		    set_file(dir, "cpuset.cpus", r->cpuset_cpus, err) < 0)
			return -err->code;
		if (r->cpuset_mems && *r->cpuset_mems &&
		    set_file(dir, "cpuset.mems", r->cpuset_mems, err) < 0)
			return -err->code;
	}
	if (word_in(names, "pids", ",") && r->pids_limit != -1) {
		if (r->pids_limit <= 0)
			snprintf(v, sizeof(v), "max");
		else
			num(v, sizeof(v), r->pids_limit);
		if (set_file(dir, "pids.max", v, err) < 0)
			return -err->code;
	}
	if (word_in(names, "devices", ",") && v1_device_rules(dir, r, err) < 0)
		return -err->code;
	return 0;
}

/*
 * Enable the controllers limits need (cpu, cpuset, io, memory, pids) in
 * the subtree of every ancestor of the group, from the root down to its
 * parent, as far as each level has them: a group's cpu.weight or
 * memory.max exists only if its parent delegates that controller.  The
 * directories exist already (make_dirs); the intermediate ones hold no
 * process, so the kernel accepts them.
 */
static int
v2_enable(const char *path, struct bk_err *err)
{
	static const char *const want[] = { "cpu", "cpuset", "io", "memory", "pids" };
	char dir[PATH_MAX], avail[512], req[16];
	const char *p = path;
	size_t at, i;

	at = (size_t)snprintf(dir, sizeof(dir), "%s", CG_ROOT);
	for (;;) {
		const char *slash;

		while (*p == '/')
			p++;
		if (*p == '\0')
			break; /* dir is the group itself: nothing to enable below it */
		if (read_at(dir, "cgroup.controllers", avail, sizeof(avail)) < 0)
			avail[0] = '\0';
		for (i = 0; i < ARRAY_SIZE(want); i++) {
			if (!word_in(avail, want[i], " \n"))
				continue;
			snprintf(req, sizeof(req), "+%s", want[i]);
			(void)write_at(dir, "cgroup.subtree_control", req);
		}
		slash = strchrnul(p, '/');
		at += (size_t)snprintf(dir + at, at < sizeof(dir) ? sizeof(dir) - at : 0, "/%.*s",
				       (int)(slash - p), p);
		if (at >= sizeof(dir))
			return bk_err_set(err, ENAMETOOLONG, "cgroups: %s: too long", path);
		p = slash;
	}
	return 0;
}

static int
v2_apply(const char *dir, const struct oci_resources *r, struct bk_err *err)
{
	char v[64];

	if (r->memory_limit != -1) {
		num(v, sizeof(v), r->memory_limit);
		if (set_file(dir, "memory.max", r->memory_limit < 0 ? "max" : v, err) < 0)
			return -err->code;
	}
	if (r->memory_swap != -1) {
		if (r->memory_swap == -1 || r->memory_limit < 0)
			snprintf(v, sizeof(v), "max");
		else if (r->memory_swap < r->memory_limit)
			return bk_err_set(err, EINVAL,
					  "linux.resources.memory.swap: less than the limit");
		else
			num(v, sizeof(v), r->memory_swap - r->memory_limit);
		if (set_file(dir, "memory.swap.max", v, err) < 0)
			return -err->code;
	}
	if (r->memory_reservation != -1) {
		num(v, sizeof(v), r->memory_reservation);
		if (set_file(dir, "memory.low", v, err) < 0)
			return -err->code;
	}
	if (r->memory_disable_oom_killer)
		return bk_err_set(
		    err, EINVAL,
		    "linux.resources.memory.disableOOMKiller: not supported on cgroup v2");
	if (r->cpu_shares > 0) {
		snprintf(v, sizeof(v), "%llu",
			 (unsigned long long)limits_shares_to_weight((uint64_t)r->cpu_shares));
		if (set_file(dir, "cpu.weight", v, err) < 0)
			return -err->code;
	}
	if ((r->cpu_quota != -1 && r->cpu_quota != 0) || r->cpu_period > 0) {
		char q[24];

		if (r->cpu_quota > 0)
			num(q, sizeof(q), r->cpu_quota);
		else
			snprintf(q, sizeof(q), "max");
		snprintf(v, sizeof(v), "%s %lld", q,
			 (long long)(r->cpu_period > 0 ? r->cpu_period : 100000));
		if (set_file(dir, "cpu.max", v, err) < 0)
			return -err->code;
	}
	if (r->cpuset_cpus && *r->cpuset_cpus &&
	    set_file(dir, "cpuset.cpus", r->cpuset_cpus, err) < 0)
		return -err->code;
	if (r->cpuset_mems && *r->cpuset_mems &&
	    set_file(dir, "cpuset.mems", r->cpuset_mems, err) < 0)
		return -err->code;
	if (r->pids_limit != -1) {
		if (r->pids_limit <= 0)
			snprintf(v, sizeof(v), "max");
		else
			num(v, sizeof(v), r->pids_limit);
		if (set_file(dir, "pids.max", v, err) < 0)
			return -err->code;
	}
	return 0;
}

/* v2 controls devices only with a program: ours is built from the rules (proc/devices.c). */
static int
v2_devices(const char *dir, const struct oci_resources *r, struct bk_err *err)
{
	cleanup_close int prog = -1, fd = -1;
	int ret;

	if (r->n_devices == 0)
		return 0;
	prog = devices_v2_load_oci(r->devices, r->n_devices, err);
	if (prog < 0)
		return bk_err_wrap(err, "linux.resources.devices");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return bk_err_sys(err, "cgroups: %s", dir);
	ret = devices_v2_attach(prog, fd);
	if (ret < 0)
		return bk_err_set(err, -ret, "cgroups: attach the device program to %s: %s", dir,
				  strerror(-ret));
	return 0;
}

static int
each_hierarchy(const char *path, pid_t pid, const struct oci_resources *r, bool make,
	       struct bk_err *err)
{
	cleanup_free struct ocg_hier *h = NULL;
	char dir[PATH_MAX], v[24];
	size_t n, i;
	bool v2;

	if (ocg_hierarchies(&h, &n, &v2, err) < 0)
		return -err->code;
	snprintf(v, sizeof(v), "%d", (int)pid);
	if (v2) {
		snprintf(dir, sizeof(dir), "%s%s", CG_ROOT, path);
		if (make && (make_dirs(CG_ROOT, path, false, err) < 0 || v2_enable(path, err) < 0))
			return -err->code;
		if (r && (v2_apply(dir, r, err) < 0 || (make && v2_devices(dir, r, err) < 0)))
			return -err->code;
		if (pid > 0 && set_file(dir, "cgroup.procs", v, err) < 0)
			return -err->code;
		return 0;
	}
	for (i = 0; i < n; i++) {
		snprintf(dir, sizeof(dir), "%s%s", h[i].mount, path);
		if (make && make_dirs(h[i].mount, path, word_in(h[i].name, "cpuset", ","), err) < 0)
			return -err->code;
		if (r && v1_apply(dir, h[i].name, r, err) < 0)
			return -err->code;
		if (pid > 0 && set_file(dir, "cgroup.procs", v, err) < 0)
			return -err->code;
	}
	return 0;
}

int
ocg_create(const char *path, const struct oci_resources *r, pid_t pid, struct bk_err *err)
{
	if (each_hierarchy(path, pid, r, true, err) < 0) {
		ocg_remove(path);
		return -err->code;
	}
	return 0;
}

int
ocg_apply(const char *path, const struct oci_resources *r, struct bk_err *err)
{
	return each_hierarchy(path, 0, r, false, err);
}

int
ocg_join(const char *path, pid_t pid, struct bk_err *err)
{
	return each_hierarchy(path, pid, NULL, false, err);
}

/* The directory whose cgroup.procs lists the container: v2's group, v1's pids (or memory). */
static int
procs_dir(const char *path, const char *controller, char *dir, size_t size, struct bk_err *err)
{
	cleanup_free struct ocg_hier *h = NULL;
	size_t n, i;
	bool v2;

	if (ocg_hierarchies(&h, &n, &v2, err) < 0)
		return -err->code;
	if (v2) {
		snprintf(dir, size, "%s%s", CG_ROOT, path);
		return 2;
	}
	for (i = 0; i < n; i++)
		if (word_in(h[i].name, controller, ",")) {
			snprintf(dir, size, "%s%s", h[i].mount, path);
			return 1;
		}
	return bk_err_set(err, ENOENT, "cgroups: no %s hierarchy", controller);
}

int
ocg_pids(const char *path, pid_t **pids, size_t *n, struct bk_err *err)
{
	cleanup_fclose FILE *f = NULL;
	char dir[PATH_MAX], file[PATH_MAX + 16];
	pid_t *v = NULL;
	long pid;
	size_t len = 0;

	*pids = NULL;
	*n = 0;
	if (procs_dir(path, "pids", dir, sizeof(dir), err) < 0 &&
	    procs_dir(path, "memory", dir, sizeof(dir), err) < 0)
		return -err->code;
	snprintf(file, sizeof(file), "%s/cgroup.procs", dir);
	f = fopen(file, "re");
	if (f == NULL)
		return errno == ENOENT ? 0 : bk_err_sys(err, "cgroups: %s", file);
	while (fscanf(f, "%ld", &pid) == 1) {
		v = xrealloc(v, (len + 1) * sizeof(*v));
		v[len++] = (pid_t)pid;
	}
	*pids = v;
	*n = len;
	return 0;
}

/* The freezer's state file in dir (mode: procs_dir's 1 for v1, 2 for v2) says frozen. */
static bool
frozen_at(const char *dir, int mode)
{
	char buf[512];

	if (mode == 2)
		return read_at(dir, "cgroup.events", buf, sizeof(buf)) > 0 &&
		       strstr(buf, "frozen 1") != NULL;
	return read_at(dir, "freezer.state", buf, sizeof(buf)) > 0 && strcmp(buf, "FROZEN") == 0;
}

int
ocg_freeze(const char *path, bool freeze, struct bk_err *err)
{
	char dir[PATH_MAX];
	int mode, tries;

	mode = procs_dir(path, "freezer", dir, sizeof(dir), err);
	if (mode < 0)
		return mode;
	if (set_file(dir, mode == 2 ? "cgroup.freeze" : "freezer.state",
		     mode == 2 ? (freeze ? "1" : "0") : (freeze ? "FROZEN" : "THAWED"), err) < 0)
		return -err->code;
	/* Freezing is asynchronous: wait (at most a second) until the kernel says it is done. */
	for (tries = 0; freeze && tries < 1000; tries++) {
		if (frozen_at(dir, mode))
			return 0;
		poll(NULL, 0, 1);
	}
	if (freeze) {
		(void)write_at(dir, mode == 2 ? "cgroup.freeze" : "freezer.state",
			       mode == 2 ? "0" : "THAWED");
		return bk_err_set(err, EBUSY, "cgroups: %s did not freeze within a second", path);
	}
	return 0;
}

bool
ocg_frozen(const char *path)
{
	struct bk_err err = BK_ERR_INIT;
	char dir[PATH_MAX];
	int mode = procs_dir(path, "freezer", dir, sizeof(dir), &err);

	return mode > 0 && frozen_at(dir, mode);
}

void
ocg_remove(const char *path)
{
	struct bk_err err = BK_ERR_INIT;
	cleanup_free struct ocg_hier *h = NULL;
	char dir[PATH_MAX];
	size_t n = 0, i;
	bool v2;

	if (ocg_hierarchies(&h, &n, &v2, &err) < 0)
		return;
	for (i = 0; i < (v2 ? 1 : n); i++) {
		snprintf(dir, sizeof(dir), "%s%s", v2 ? CG_ROOT : h[i].mount, path);
		/* A group is removable once its last process has been reaped: retry a moment. */
		for (int t = 0; t < 100 && rmdir(dir) < 0 && errno == EBUSY; t++)
			poll(NULL, 0, 2);
	}
}
