/*
 * Containers' cgroups, through libcgroup, on cgroup v1 and v2.
 *
 * Each container gets bockerfs/<store>/<id> under every controller it uses;
 * <store> is a random tag kept in the store, so that daemons on different
 * stores (with containers of the same name) never share a group.
 * libcgroup makes, fills, modifies and deletes the groups and attaches the
 * init.  It is Debian 12's 2.0.2, so three gaps are filled here (they were
 * closed only in libcgroup 3.0): telling v1 from v2 (statfs of
 * /sys/fs/cgroup), translating limits to each version's files
 * (parse/limits.c), and on v2 enabling the controllers in the parents'
 * cgroup.subtree_control, which 2.0.2 does not do at the delegation root.
 * On v1 the devices controller gets docker's device rules, written directly
 * because they are several writes to one file, which libcgroup cannot express.
 * Statistics are read straight from the files: cgroup_get_cgroup() would read
 * every file of every controller.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <libcgroup.h>
#include <linux/magic.h>

#include "proc/proc.h"
#include "parse/parse.h"
#include "base/base.h"

#define PARENT     "bockerfs"
#define PARENT_DIR (g->parent) /* "bockerfs/<store tag>" */
#define V2_ROOT    "/sys/fs/cgroup"

static const char *const v1_controllers[] = { "cpu", "cpuacct", "memory", "pids", "devices" };
static const char *const v2_controllers[] = { "cpu", "memory", "pids" };

/* docker's default device rules: mknod of anything, use of the standard nodes. */
static const char *const device_rules[] = {
	"c *:* m",   "b *:* m",   "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm",   "c 1:8 rwm",
	"c 1:9 rwm", "c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", "c 10:200 rwm",
};

static int
cg_err(struct bk_err *err, int ret, const char *what)
{
	int code = ret == ECGOTHER ? cgroup_get_last_errno() : 0;

	if (code == 0)
		code = EIO;
	return bk_err_set(err, code, "%s: %s%s%s", what, cgroup_strerror(ret),
			  ret == ECGOTHER ? ": " : "", ret == ECGOTHER ? strerror(code) : "");
}

static const char *const *
controllers(const struct cgroups *g, size_t *n)
{
	if (g->mode == CGROUP_V2) {
		*n = ARRAY_SIZE(v2_controllers);
		return v2_controllers;
	}
	*n = ARRAY_SIZE(v1_controllers);
	return v1_controllers;
}

/* Absolute path of a container's group for controller (v1) or in the v2 tree. */
static int
group_path(const struct cgroups *g, const char *controller, const char *id, char *buf, size_t size)
{
	cleanup_free char *mnt = NULL;
	int n;

	if (g->mode == CGROUP_V2) {
		n = snprintf(buf, size, "%s/%s/%s", V2_ROOT, PARENT_DIR, id);
	} else {
		if (cgroup_get_subsys_mount_point(controller, &mnt) != 0 || mnt == NULL)
			return -ENOENT;
		n = snprintf(buf, size, "%s/%s/%s", mnt, PARENT_DIR, id);
	}
	return n > 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
}

static int
write_str(const char *dir, const char *file, const char *value)
{
	char path[PATH_MAX];
	cleanup_close int fd = -1;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, value, strlen(value)) < 0)
		return -errno;
	return 0;
}

/* v2: controllers are usable in a group only once its parent enables them. */
static int
v2_enable(const char *dir, struct bk_err *err)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(v2_controllers); i++) {
		char ctl[32];
		int ret;

		snprintf(ctl, sizeof(ctl), "+%s", v2_controllers[i]);
		ret = write_str(dir, "cgroup.subtree_control", ctl);
		if (ret < 0)
			return bk_err_set(err, -ret, "enable %s in %s/cgroup.subtree_control: %s",
					  v2_controllers[i], dir, strerror(-ret));
	}
	return 0;
}

/* The store's tag, made once and kept in the store ("cgroup-tag"). */
static int
store_tag(struct cgroups *g, int store_fd, struct bk_err *err)
{
	cleanup_free char *text = NULL;
	char tag[9];

	if (read_file_at(store_fd, "cgroup-tag", 64, &text, NULL, NULL) == 0 && strlen(text) >= 8) {
		memcpy(tag, text, 8);
		tag[8] = '\0';
	} else {
		if (random_hex(tag, 8) < 0)
			return bk_err_sys(err, "cgroups: random tag");
		if (write_file_atomic(store_fd, "cgroup-tag", tag, 8, err) < 0)
			return bk_err_wrap(err, "cgroups");
	}
	snprintf(g->parent, sizeof(g->parent), "%s/%s", PARENT, tag);
	return 0;
}

int
cgroup_setup(struct cgroups *g, int store_fd, struct bk_err *err)
{
	struct statfs sf;
	struct cgroup *cg;
	size_t n, i;
	int ret;

	if (store_tag(g, store_fd, err) < 0)
		return -err->code;
	if (statfs(V2_ROOT, &sf) < 0)
		return bk_err_sys(err, "cgroups: statfs %s", V2_ROOT);
	g->mode = sf.f_type == CGROUP2_SUPER_MAGIC ? CGROUP_V2 : CGROUP_V1;
	ret = cgroup_init();
	if (ret != 0)
		return cg_err(err, ret, "cgroups: libcgroup init");
	if (g->mode == CGROUP_V2) {
		if (v2_enable(V2_ROOT, err) < 0)
			return -err->code;
		char dir[PATH_MAX];

		/* bockerfs/, shared by the daemons of every store, then our <tag>/ in it. */
		snprintf(dir, sizeof(dir), "%s/%s", V2_ROOT, PARENT);
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return bk_err_sys(err, "cgroups: mkdir %s", dir);
		if (v2_enable(dir, err) < 0)
			return -err->code;
		snprintf(dir, sizeof(dir), "%s/%s", V2_ROOT, PARENT_DIR);
		if (mkdir(dir, 0755) < 0 && errno != EEXIST)
			return bk_err_sys(err, "cgroups: mkdir %s", dir);
		if (v2_enable(dir, err) < 0)
			return -err->code;
	} else {
		const char *const *ctrls = controllers(g, &n);

		cg = cgroup_new_cgroup(PARENT_DIR);
		if (cg == NULL)
			return bk_err_set(err, ENOMEM, "cgroups: new group");
		for (i = 0; i < n; i++)
			cgroup_add_controller(cg, ctrls[i]);
		ret = cgroup_create_cgroup(cg, 0);
		cgroup_free(&cg);
		if (ret != 0)
			return cg_err(err, ret, "cgroups: create parent group");
	}
	bk_log(BK_LOG_INFO, "cgroups: %s", g->mode == CGROUP_V2 ? "v2" : "v1");
	g->ready = true;
	return 0;
}

/* A libcgroup group for id with each limit as a value. */
static struct cgroup *
group_with_limits(struct cgroups *g, const char *id, const struct limits *l, bool all)
{
	struct cgroup_setting set[16];
	char name[BK_ID_SIZE + 16];
	const char *const *ctrls;
	struct cgroup *cg;
	size_t n, i;
	int k, count;

	snprintf(name, sizeof(name), "%s/%s", PARENT_DIR, id);
	cg = cgroup_new_cgroup(name);
	if (cg == NULL)
		return NULL;
	if (all) {
		ctrls = controllers(g, &n);
		for (i = 0; i < n; i++)
			cgroup_add_controller(cg, ctrls[i]);
	}
	count = limits_to_files(l, g->mode, set, ARRAY_SIZE(set));
	for (k = 0; k < count; k++) {
		struct cgroup_controller *c = cgroup_get_controller(cg, set[k].controller);

		if (c == NULL)
			c = cgroup_add_controller(cg, set[k].controller);
		if (c)
			cgroup_add_value_string(c, set[k].file, set[k].value);
	}
	return cg;
}

static void
v1_devices(struct cgroups *g, const char *id)
{
	char dir[PATH_MAX];
	size_t i;

	if (group_path(g, "devices", id, dir, sizeof(dir)) < 0)
		return;
	if (write_str(dir, "devices.deny", "a") < 0)
		bk_log(BK_LOG_WARN, "cgroups: %s: devices.deny: %s", id, strerror(errno));
	for (i = 0; i < ARRAY_SIZE(device_rules); i++)
		write_str(dir, "devices.allow", device_rules[i]);
}

/* Make the container's group with its limits and move pid into it. */
int
cgroup_enter(struct cgroups *g, const char *id, pid_t pid, const struct limits *l,
	     struct bk_err *err)
{
	struct cgroup *cg;
	int ret;

	if (!g->ready)
		return 0;
	cg = group_with_limits(g, id, l, true);
	if (cg == NULL)
		return bk_err_set(err, ENOMEM, "cgroup %s", id);
	/* Owned by root already: skip libcgroup's chown of every file in every controller. */
	ret = cgroup_create_cgroup(cg, 1);
	if (ret != 0) {
		cg_err(err, ret, "create cgroup");
		cgroup_free(&cg);
		return -err->code;
	}
	if (g->mode == CGROUP_V1)
		v1_devices(g, id);
	ret = cgroup_attach_task_pid(cg, pid);
	cgroup_free(&cg);
	if (ret != 0)
		return cg_err(err, ret, "join cgroup");
	return 0;
}

/* A libcgroup handle on id's group in every controller we use; NULL if out of memory. */
static struct cgroup *
group_of(struct cgroups *g, const char *id)
{
	char name[BK_ID_SIZE + 32];
	const char *const *ctrls;
	struct cgroup *cg;
	size_t n, i;

	snprintf(name, sizeof(name), "%s/%s", PARENT_DIR, id);
	cg = cgroup_new_cgroup(name);
	if (cg == NULL)
		return NULL;
	ctrls = controllers(g, &n);
	for (i = 0; i < n; i++)
		cgroup_add_controller(cg, ctrls[i]);
	return cg;
}

/* Move pid into a running container's existing group (exec sessions). */
int
cgroup_join(struct cgroups *g, const char *id, pid_t pid, struct bk_err *err)
{
	struct cgroup *cg = group_of(g, id);
	int ret;

	if (cg == NULL)
		return bk_err_set(err, ENOMEM, "cgroup %s", id);
	ret = cgroup_attach_task_pid(cg, pid);
	cgroup_free(&cg);
	if (ret != 0)
		return cg_err(err, ret, "join cgroup");
	return 0;
}

/* Change a running container's limits at once; the kernel's refusal comes back as is. */
int
cgroup_update(struct cgroups *g, const char *id, const struct limits *l, struct bk_err *err)
{
	struct cgroup_setting set[16];
	char dir[PATH_MAX];
	int k, count, ret;

	if (!g->ready)
		return 0;
	/*
	 * One file at a time, so that the file the kernel refuses is named
	 * (cgroup_modify_cgroup() reports only that something failed).
	 */
	count = limits_to_files(l, g->mode, set, ARRAY_SIZE(set));
	for (k = 0; k < count; k++) {
		if (group_path(g, set[k].controller, id, dir, sizeof(dir)) < 0)
			return bk_err_set(err, ENOENT, "cgroup %s: no %s controller", id,
					  set[k].controller);
		ret = write_str(dir, set[k].file, set[k].value);
		if (ret < 0)
			return bk_err_set(err, -ret, "%s %s: %s", set[k].file, set[k].value,
					  strerror(-ret));
	}
	return 0;
}

static int64_t
read_num(const char *dir, const char *file, const char *key)
{
	char path[PATH_MAX];
	cleanup_free char *text = NULL;
	long long v = -1;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (read_file_at(AT_FDCWD, path, 1 << 16, &text, NULL, NULL) < 0)
		return -1;
	if (key == NULL) {
		if (sscanf(text, "%lld", &v) != 1)
			return -1;
		return v;
	}
	for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
		size_t klen = strlen(key);

		if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
			return sscanf(line + klen + 1, "%lld", &v) == 1 ? v : -1;
	}
	return -1;
}

int
cgroup_stats(struct cgroups *g, const char *id, struct bk_stats *st, struct bk_err *err)
{
	char dir[PATH_MAX];
	int64_t v;

	memset(st, 0, sizeof(*st));
	if (!g->ready)
		return bk_err_set(err, ENOENT, "no cgroups");
	if (g->mode == CGROUP_V2) {
		if (group_path(g, NULL, id, dir, sizeof(dir)) < 0)
			return bk_err_set(err, ENOENT, "cgroup %s", id);
		v = read_num(dir, "cpu.stat", "usage_usec");
		st->cpu_usec = v > 0 ? (uint64_t)v : 0;
		v = read_num(dir, "memory.current", NULL);
		st->memory = v > 0 ? (uint64_t)v : 0;
		v = read_num(dir, "memory.peak", NULL);
		st->memory_max = v > 0 ? (uint64_t)v : 0;
		v = read_num(dir, "pids.current", NULL);
		st->pids = v > 0 ? (uint64_t)v : 0;
		v = read_num(dir, "memory.events", "oom_kill");
		st->oom_kills = v > 0 ? (uint64_t)v : 0;
		return 0;
	}
	if (group_path(g, "cpuacct", id, dir, sizeof(dir)) == 0 &&
	    (v = read_num(dir, "cpuacct.usage", NULL)) > 0)
		st->cpu_usec = (uint64_t)v / 1000;
	if (group_path(g, "memory", id, dir, sizeof(dir)) == 0) {
		v = read_num(dir, "memory.usage_in_bytes", NULL);
		st->memory = v > 0 ? (uint64_t)v : 0;
		v = read_num(dir, "memory.max_usage_in_bytes", NULL);
		st->memory_max = v > 0 ? (uint64_t)v : 0;
		v = read_num(dir, "memory.oom_control", "oom_kill");
		st->oom_kills = v > 0 ? (uint64_t)v : 0;
	}
	if (group_path(g, "pids", id, dir, sizeof(dir)) == 0 &&
	    (v = read_num(dir, "pids.current", NULL)) > 0)
		st->pids = (uint64_t)v;
	return 0;
}

/*
 * cgroup v1: rename a spare init's group (spare_init.c) to the container's
 * in every hierarchy, and set the container's limits.  Controllers mounted
 * together (cpu,cpuacct) share one directory: renamed once.
 */
int
cgroup_adopt(struct cgroups *g, const char *spare, const char *id, const struct limits *l,
	     struct bk_err *err)
{
	char from[PATH_MAX], to[PATH_MAX];
	const char *const *ctrls;
	size_t n, i;

	if (!g->ready)
		return 0;
	ctrls = controllers(g, &n);
	for (i = 0; i < n; i++) {
		if (group_path(g, ctrls[i], spare, from, sizeof(from)) < 0 ||
		    group_path(g, ctrls[i], id, to, sizeof(to)) < 0)
			return bk_err_set(err, ENOENT, "cgroup %s: no %s controller", id, ctrls[i]);
		if (rename(from, to) < 0 && !(errno == ENOENT && access(to, F_OK) == 0))
			return bk_err_sys(err, "cgroup %s: rename %s", id, from);
	}
	return cgroup_update(g, id, l, err);
}

/* rmdir id's group in every hierarchy: 0, or -1 if one is left (busy, or has children). */
static int
remove_empty(struct cgroups *g, const char *id)
{
	char dir[PATH_MAX];
	const char *const *ctrls;
	size_t n, i;
	int ret = 0;

	if (g->mode == CGROUP_V2) {
		snprintf(dir, sizeof(dir), "%s/%s/%s", V2_ROOT, PARENT_DIR, id);
		return rmdir(dir) == 0 || errno == ENOENT ? 0 : -1;
	}
	ctrls = controllers(g, &n);
	for (i = 0; i < n; i++)
		if (group_path(g, ctrls[i], id, dir, sizeof(dir)) < 0 ||
		    (rmdir(dir) < 0 && errno != ENOENT))
			ret = -1;
	return ret;
}

/* Remove id's group (it must hold no process any more). */
void
cgroup_remove(struct cgroups *g, const char *id)
{
	struct cgroup *cg;
	int ret;

	if (!g->ready)
		return;
	/*
	 * The usual case, an empty group without children: a plain rmdir per
	 * hierarchy (libcgroup's delete first moves every task to the parent,
	 * which costs a millisecond on every container's exit).
	 */
	if (remove_empty(g, id) == 0)
		return;
	cg = group_of(g, id);
	if (cg == NULL)
		return;
	ret =
	    cgroup_delete_cgroup_ext(cg, CGFLAG_DELETE_IGNORE_MIGRATION | CGFLAG_DELETE_RECURSIVE);
	if (ret != 0 && ret != ECGROUPNOTEXIST)
		bk_log(BK_LOG_DEBUG, "cgroup %s: delete: %s", id, cgroup_strerror(ret));
	cgroup_free(&cg);
}

/*
 * At a clean exit: our bockerfs/<tag> group, if no container's group is left
 * in it (running containers keep theirs, and so keep it).  The shared
 * bockerfs/ stays: other stores' daemons may use it.
 */
void
cgroup_teardown(struct cgroups *g)
{
	char dir[PATH_MAX];
	size_t n, i;
	const char *const *ctrls;

	if (!g->ready)
		return;
	if (g->mode == CGROUP_V2) {
		snprintf(dir, sizeof(dir), "%s/%s", V2_ROOT, PARENT_DIR);
		rmdir(dir);
		return;
	}
	ctrls = controllers(g, &n);
	for (i = 0; i < n; i++)
		if (group_path(g, ctrls[i], "", dir, sizeof(dir)) == 0)
			rmdir(dir);
}

/*
 * Groups under bockerfs/<tag>/ that keep(arg, name) does not want (the
 * engine's: containers that are not running, left over from a crash), and
 * every spare init's group: a spare ends with the daemon that made it.
 */
void
cgroup_clean_orphans(struct cgroups *g, bool (*keep)(void *arg, const char *name), void *arg)
{
	char dir[PATH_MAX];
	cleanup_dir DIR *d = NULL;
	struct dirent *de;

	if (!g->ready)
		return;
	if (g->mode == CGROUP_V2)
		snprintf(dir, sizeof(dir), "%s/%s", V2_ROOT, PARENT_DIR);
	else if (group_path(g, "memory", "", dir, sizeof(dir)) < 0)
		return;
	d = opendir(dir);
	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_type != DT_DIR || de->d_name[0] == '.')
			continue;
		/* A spare init's group: the spare ended with the daemon that made it. */
		if (strncmp(de->d_name, "spare-", 6) == 0) {
			cgroup_remove(g, de->d_name);
			continue;
		}
		if (!keep(arg, de->d_name)) {
			bk_log(BK_LOG_INFO, "cgroups: removing leftover group %s", de->d_name);
			cgroup_remove(g, de->d_name);
		}
	}
}
