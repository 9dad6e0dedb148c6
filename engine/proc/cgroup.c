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
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>
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

/* Absolute path of the group rel ("/a/b", from the hierarchy's root) for controller (v1). */
static int
abs_path(const struct cgroups *g, const char *controller, const char *rel, char *buf, size_t size)
{
	cleanup_free char *mnt = NULL;
	int n;

	if (g->mode == CGROUP_V2) {
		n = snprintf(buf, size, "%s%s", V2_ROOT, rel);
	} else {
		if (cgroup_get_subsys_mount_point(controller, &mnt) != 0 || mnt == NULL)
			return -ENOENT;
		n = snprintf(buf, size, "%s%s", mnt, rel);
	}
	return n > 0 && (size_t)n < size ? 0 : -ENAMETOOLONG;
}

/* Absolute path of a container's group for controller (v1) or in the v2 tree. */
static int
group_path(const struct cgroups *g, const char *controller, const char *id, char *buf, size_t size)
{
	char rel[PATH_MAX];
	int n = snprintf(rel, sizeof(rel), "/%s/%s", PARENT_DIR, id);

	if (n < 0 || (size_t)n >= sizeof(rel))
		return -ENAMETOOLONG;
	return abs_path(g, controller, rel, buf, size);
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

/* "+cpu +pids" (sign '+') or "-cpu -pids" for the v2_controllers whose bits are in mask. */
static void
subtree_request(char sign, unsigned mask, char *req, size_t size)
{
	size_t i;

	req[0] = '\0';
	for (i = 0; i < ARRAY_SIZE(v2_controllers); i++)
		if (mask & (1u << i))
			snprintf(req + strlen(req), size - strlen(req), "%s%c%s", *req ? " " : "",
				 sign, v2_controllers[i]);
}

/*
 * v2: controllers are usable in a group only once its parent enables them
 * in cgroup.subtree_control.  The missing ones are enabled in one write,
 * which the kernel applies whole or not at all; *added says which were
 * (bit i: v2_controllers[i]), for v2_disable to undo.
 */
static int
v2_enable(const char *dir, unsigned *added, struct bk_err *err)
{
	char path[PATH_MAX], req[64];
	cleanup_free char *have = NULL, *avail = NULL;
	size_t i;
	int ret;

	*added = 0;
	snprintf(path, sizeof(path), "%s/cgroup.controllers", dir);
	if (read_file_at(AT_FDCWD, path, 4096, &avail, NULL, NULL) < 0)
		return bk_err_sys(err, "cgroups: read %s", path);
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", dir);
	if (read_file_at(AT_FDCWD, path, 4096, &have, NULL, NULL) < 0)
		return bk_err_sys(err, "cgroups: read %s", path);
	for (i = 0; i < ARRAY_SIZE(v2_controllers); i++) {
		if (word_in(have, v2_controllers[i], " \n"))
			continue;
		if (!word_in(avail, v2_controllers[i], " \n"))
			return bk_err_set(err, ENOTSUP,
					  "cgroups: the %s controller is not available in %s "
					  "(its cgroup.controllers: %.*s)",
					  v2_controllers[i], dir, (int)strcspn(avail, "\n"), avail);
		*added |= 1u << i;
	}
	if (*added == 0)
		return 0;
	subtree_request('+', *added, req, sizeof(req));
	ret = write_str(dir, "cgroup.subtree_control", req);
	if (ret < 0) {
		*added = 0;
		return bk_err_set(
		    err, -ret, "cgroups: enable %s in %s/cgroup.subtree_control: %s%s", req, dir,
		    strerror(-ret),
		    ret == -EBUSY ? " (the group holds processes: v2 hands controllers "
				    "only from a group without any)"
				  : "");
	}
	return 0;
}

/* Undo what v2_enable added to dir. */
static void
v2_disable(const char *dir, unsigned added)
{
	char req[64];
	int ret;

	if (added == 0)
		return;
	subtree_request('-', added, req, sizeof(req));
	ret = write_str(dir, "cgroup.subtree_control", req);
	if (ret < 0)
		bk_log(BK_LOG_WARN, "cgroups: restore %s/cgroup.subtree_control: %s", dir,
		       strerror(-ret));
}

/* The daemon's own v2 group, "/..." as /proc/self/cgroup names it. */
static int
own_group(char *buf, size_t size, struct bk_err *err)
{
	cleanup_free char *text = NULL;
	char *line;

	if (read_file_at(AT_FDCWD, "/proc/self/cgroup", 1 << 16, &text, NULL, NULL) < 0)
		return bk_err_sys(err, "cgroups: read /proc/self/cgroup");
	for (line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (strncmp(line, "0::", 3) == 0) {
			snprintf(buf, size, "%.*s", (int)strcspn(line + 3, "\n"), line + 3);
			return 0;
		}
	return bk_err_set(err, ENOENT, "cgroups: no v2 group in /proc/self/cgroup");
}

/* Did systemd delegate dir (Delegate=yes marks the group with this xattr)? */
static bool
delegated(const char *dir)
{
	char v[8];

	return getxattr(dir, "trusted.delegate", v, sizeof(v)) > 0 ||
	       getxattr(dir, "user.delegate", v, sizeof(v)) > 0;
}

/*
 * Where the containers' groups go on v2 (g->parent, relative to the
 * hierarchy's root):
 * - a daemon in a cgroup namespace, or in a group systemd delegated to it,
 *   may write only under its own group G: bockerfs/<tag> goes under G, and
 *   since v2 hands controllers down only from a group without processes, the
 *   daemon first moves itself into G/supervisor (where systemd's
 *   DelegateSubgroup=supervisor already starts it);
 * - anywhere else, bockerfs/<tag> goes under the hierarchy's root, as
 *   Docker's cgroupfs driver and LXC place theirs: the daemon's own group
 *   stays a leaf, so that restarting its service never meets running
 *   containers there.
 * Controllers are enabled on the way down; a failure undoes every step, so
 * the host's groups stay as they were.
 */
static int
v2_setup(struct cgroups *g, const char *tag, struct bk_err *err)
{
	/* Sized so that g->parent (256) holds the deepest: the own group is at most 200. */
	char own[PATH_MAX], base[224], dirs[3][264], sup[240];
	unsigned added[3] = { 0 };
	bool made[3] = { false }, made_sup = false, moved = false, own_mode, in_namespace;
	const char *leaf;
	int i, done = -1, ret;

	if (own_group(own, sizeof(own), err) < 0)
		return -err->code;
	if (strcmp(own, "/") == 0)
		own[0] = '\0';
	if (strlen(own) > 200)
		return bk_err_set(err, ENAMETOOLONG,
				  "cgroups: the daemon's group '%.64s...' is too deep", own);
	/* The hierarchy's true root has no cgroup.type; a namespace's root has one. */
	in_namespace = access(V2_ROOT "/cgroup.type", F_OK) == 0;
	leaf = strrchr(own, '/');
	snprintf(base, sizeof(base), "%s%.*s", V2_ROOT, leaf ? (int)(leaf - own) : 0, own);
	if (leaf && strcmp(leaf, "/supervisor") == 0 && (in_namespace || delegated(base))) {
		own_mode = true; /* started in G/supervisor: G is ours */
	} else {
		snprintf(base, sizeof(base), "%s%.200s", V2_ROOT, own);
		own_mode = in_namespace || (own[0] && delegated(base));
		if (!own_mode)
			snprintf(base, sizeof(base), "%s", V2_ROOT);
		else {
			snprintf(sup, sizeof(sup), "%s/supervisor", base);
			made_sup = mkdir(sup, 0755) == 0;
			if (!made_sup && errno != EEXIST)
				return bk_err_sys(err, "cgroups: mkdir %s", sup);
			ret = write_str(sup, "cgroup.procs", "0");
			if (ret < 0) {
				bk_err_set(err, -ret, "cgroups: move the daemon into %s: %s", sup,
					   strerror(-ret));
				goto undo;
			}
			moved = true;
		}
	}
	snprintf(dirs[0], sizeof(dirs[0]), "%s", base);
	snprintf(dirs[1], sizeof(dirs[1]), "%s/%s", base, PARENT);
	snprintf(dirs[2], sizeof(dirs[2]), "%s/%s/%s", base, PARENT, tag);
	for (i = 0; i < 3; i++) {
		if (i > 0) {
			made[i] = mkdir(dirs[i], 0755) == 0;
			if (!made[i] && errno != EEXIST) {
				ret = bk_err_sys(err, "cgroups: mkdir %s", dirs[i]);
				goto undo;
			}
		}
		done = i;
		if (v2_enable(dirs[i], &added[i], err) < 0) {
			ret = -err->code;
			goto undo;
		}
	}
	snprintf(g->parent, sizeof(g->parent), "%.250s", dirs[2] + strlen(V2_ROOT) + 1);
	bk_log(BK_LOG_INFO, "cgroups: v2, containers under %s%s", dirs[2],
	       own_mode ? " (the daemon's own group: delegated or namespaced)" : "");
	return 0;
undo:
	for (i = done; i >= 0; i--) {
		v2_disable(dirs[i], added[i]);
		if (made[i] && rmdir(dirs[i]) < 0)
			bk_log(BK_LOG_WARN, "cgroups: rmdir %s: %s", dirs[i], strerror(errno));
	}
	if (moved && (i = write_str(base, "cgroup.procs", "0")) < 0)
		bk_log(BK_LOG_WARN, "cgroups: move the daemon back into %s: %s", base,
		       strerror(-i));
	if (made_sup && rmdir(sup) < 0)
		bk_log(BK_LOG_WARN, "cgroups: rmdir %s: %s", sup, strerror(errno));
	return ret;
}

/*
 * Does the kernel account swap per group?  Not without CONFIG_SWAP, nor
 * with swapaccount=0 or cgroup.memory=noswap: then the swap files are absent.
 */
static bool
swap_accounted(const struct cgroups *g)
{
	cleanup_free char *mnt = NULL;
	char path[PATH_MAX];

	if (g->mode == CGROUP_V2)
		snprintf(path, sizeof(path), "%s/%s/memory.swap.max", V2_ROOT, g->parent);
	else if (cgroup_get_subsys_mount_point("memory", &mnt) == 0 && mnt)
		snprintf(path, sizeof(path), "%s/memory.memsw.limit_in_bytes", mnt);
	else
		return false;
	return access(path, F_OK) == 0;
}

/* The store's tag, made once and kept in the store ("cgroup-tag"). */
static int
store_tag(int store_fd, char tag[9], struct bk_err *err)
{
	cleanup_free char *text = NULL;

	if (read_file_at(store_fd, "cgroup-tag", 64, &text, NULL, NULL) == 0 && strlen(text) >= 8) {
		memcpy(tag, text, 8);
		tag[8] = '\0';
	} else {
		if (random_hex(tag, 8) < 0)
			return bk_err_sys(err, "cgroups: random tag");
		if (write_file_atomic(store_fd, "cgroup-tag", tag, 8, err) < 0)
			return bk_err_wrap(err, "cgroups");
	}
	return 0;
}

int
cgroup_setup(struct cgroups *g, int store_fd, struct bk_err *err)
{
	struct statfs sf;
	struct cgroup *cg;
	char tag[9];
	size_t n, i;
	int ret;

	if (store_tag(store_fd, tag, err) < 0)
		return -err->code;
	if (statfs(V2_ROOT, &sf) < 0)
		return bk_err_sys(err, "cgroups: statfs %s", V2_ROOT);
	g->mode = sf.f_type == CGROUP2_SUPER_MAGIC ? CGROUP_V2 : CGROUP_V1;
	ret = cgroup_init();
	if (ret != 0)
		return cg_err(err, ret, "cgroups: libcgroup init");
	if (g->mode == CGROUP_V2) {
		g->dev_prog_fd = devices_v2_load(err);
		if (g->dev_prog_fd < 0)
			return -err->code;
		if (v2_setup(g, tag, err) < 0) {
			close(g->dev_prog_fd);
			g->dev_prog_fd = -1;
			return -err->code;
		}
	} else {
		const char *const *ctrls = controllers(g, &n);

		snprintf(g->parent, sizeof(g->parent), "%s/%s", PARENT, tag);
		cg = cgroup_new_cgroup(PARENT_DIR);
		if (cg == NULL)
			return bk_err_set(err, ENOMEM, "cgroups: new group");
		for (i = 0; i < n; i++)
			cgroup_add_controller(cg, ctrls[i]);
		ret = cgroup_create_cgroup(cg, 0);
		cgroup_free(&cg);
		if (ret != 0)
			return cg_err(err, ret, "cgroups: create parent group");
		bk_log(BK_LOG_INFO, "cgroups: v1");
	}
	g->swap = swap_accounted(g);
	if (!g->swap)
		bk_log(BK_LOG_INFO, "cgroups: the kernel does not account swap: memory-swap "
				    "limits are refused");
	g->ready = true;
	return 0;
}

/* A libcgroup group for id with each limit as a value. */
static struct cgroup *
group_with_limits(struct cgroups *g, const char *id, const struct limits *l, bool all)
{
	struct cgroup_setting set[16];
	char name[sizeof(g->parent) + BK_ID_SIZE + 2];
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
	count = limits_to_files(l, g->mode, g->swap, set, ARRAY_SIZE(set));
	for (k = 0; k < count; k++) {
		struct cgroup_controller *c = cgroup_get_controller(cg, set[k].controller);

		if (c == NULL)
			c = cgroup_add_controller(cg, set[k].controller);
		if (c)
			cgroup_add_value_string(c, set[k].file, set[k].value);
	}
	return cg;
}

static int
v1_devices(struct cgroups *g, const char *id, struct bk_err *err)
{
	char dir[PATH_MAX], rules[16][32];
	size_t i, n = devices_v1_rules(rules, ARRAY_SIZE(rules));
	int ret;

	if (group_path(g, "devices", id, dir, sizeof(dir)) < 0)
		return bk_err_set(err, ENOENT, "cgroup %s: no devices controller", id);
	if ((ret = write_str(dir, "devices.deny", "a")) < 0)
		return bk_err_set(err, -ret, "cgroup %s: devices.deny: %s", id, strerror(-ret));
	for (i = 0; i < n; i++)
		if ((ret = write_str(dir, "devices.allow", rules[i])) < 0)
			return bk_err_set(err, -ret, "cgroup %s: devices.allow %s: %s", id,
					  rules[i], strerror(-ret));
	return 0;
}

static int
v2_devices(struct cgroups *g, const char *id, struct bk_err *err)
{
	char dir[PATH_MAX];
	cleanup_close int fd = -1;
	int ret;

	if (group_path(g, NULL, id, dir, sizeof(dir)) < 0)
		return bk_err_set(err, ENAMETOOLONG, "cgroup %s", id);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return bk_err_sys(err, "cgroup %s: open", id);
	ret = devices_v2_attach(g->dev_prog_fd, fd);
	if (ret < 0)
		return bk_err_set(err, -ret, "cgroup %s: attach the device program: %s", id,
				  strerror(-ret));
	return 0;
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
	/*
	 * Devices before the init joins: not a moment with every device open to
	 * it.  (memory.oom.group stays 0 on v2, as runc and crun leave it: the
	 * OOM killer takes one process, as on v1, and `oomkilled` says so.)
	 */
	if ((g->mode == CGROUP_V1 ? v1_devices(g, id, err) : v2_devices(g, id, err)) < 0) {
		cgroup_free(&cg);
		cgroup_remove(g, id);
		return -err->code;
	}
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
	char name[sizeof(g->parent) + BK_ID_SIZE + 2];
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

static int64_t read_num(const char *dir, const char *file, const char *key);

/*
 * v2's memory.max below the group's use makes the kernel reclaim and then
 * OOM-kill until it fits; v1 instead refuses (EBUSY) what it cannot reclaim,
 * and the tree promises v1's way on both.  memory.high reclaims without
 * killing: set it to the new limit, and only if the use then fits is the
 * limit taken.
 */
static int
v2_memory_max(const char *dir, const char *value, struct bk_err *err)
{
	long long want = strtoll(value, NULL, 10);
	int64_t use = read_num(dir, "memory.current", NULL);
	int ret;

	if (use > want) {
		ret = write_str(dir, "memory.high", value);
		use = read_num(dir, "memory.current", NULL);
		if (ret == 0)
			write_str(dir, "memory.high", "max");
		if (ret < 0 || use > want)
			return bk_err_set(err, EBUSY,
					  "memory.max %s: %s (the container's use is %lld bytes "
					  "after reclaim)",
					  value, strerror(EBUSY), (long long)use);
	}
	ret = write_str(dir, "memory.max", value);
	if (ret < 0)
		return bk_err_set(err, -ret, "memory.max %s: %s", value, strerror(-ret));
	return 0;
}

/*
 * v1 never lets memory plus swap (memsw) be below the memory limit, after
 * either write: memsw goes first when it grows, memory first when it
 * shrinks.  Rather than read both to know which, memsw goes first and,
 * refused for being below the memory limit (EINVAL), again after memory.
 */
static int
v1_memory_pair(const char *dir, const char *mem, const char *memsw, struct bk_err *err)
{
	int ret = write_str(dir, "memory.memsw.limit_in_bytes", memsw);
	bool again = ret == -EINVAL;

	if (ret < 0 && !again)
		return bk_err_set(err, -ret, "memory.memsw.limit_in_bytes %s: %s", memsw,
				  strerror(-ret));
	ret = write_str(dir, "memory.limit_in_bytes", mem);
	if (ret < 0)
		return bk_err_set(err, -ret, "memory.limit_in_bytes %s: %s", mem, strerror(-ret));
	if (again && (ret = write_str(dir, "memory.memsw.limit_in_bytes", memsw)) < 0)
		return bk_err_set(err, -ret, "memory.memsw.limit_in_bytes %s: %s", memsw,
				  strerror(-ret));
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
	count = limits_to_files(l, g->mode, g->swap, set, ARRAY_SIZE(set));
	for (k = 0; k < count; k++) {
		if (group_path(g, set[k].controller, id, dir, sizeof(dir)) < 0)
			return bk_err_set(err, ENOENT, "cgroup %s: no %s controller", id,
					  set[k].controller);
		if (g->mode == CGROUP_V1 && k + 1 < count &&
		    strcmp(set[k + 1].file, "memory.memsw.limit_in_bytes") == 0) {
			if (v1_memory_pair(dir, set[k].value, set[k + 1].value, err) < 0)
				return -err->code;
			k++;
			continue;
		}
		if (g->mode == CGROUP_V2 && strcmp(set[k].file, "memory.max") == 0 &&
		    strcmp(set[k].value, "max") != 0) {
			if (v2_memory_max(dir, set[k].value, err) < 0)
				return -err->code;
			continue;
		}
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

/* The OOM kills in the group rel (from the hierarchy's root), 0 if unknown. */
static uint64_t
oom_kills_at(struct cgroups *g, const char *rel)
{
	char dir[PATH_MAX];
	int64_t v = -1;

	if (g->mode == CGROUP_V2 && abs_path(g, NULL, rel, dir, sizeof(dir)) == 0)
		v = read_num(dir, "memory.events", "oom_kill");
	else if (g->mode != CGROUP_V2 && abs_path(g, "memory", rel, dir, sizeof(dir)) == 0)
		v = read_num(dir, "memory.oom_control", "oom_kill");
	return v > 0 ? (uint64_t)v : 0;
}

/* The statistics of the group rel (from the hierarchy's root). */
static int
stats_at(struct cgroups *g, const char *rel, struct bk_stats *st, struct bk_err *err)
{
	char dir[PATH_MAX];
	int64_t v;

	memset(st, 0, sizeof(*st));
	if (!g->ready)
		return bk_err_set(err, ENOENT, "no cgroups");
	if (g->mode == CGROUP_V2) {
		if (abs_path(g, NULL, rel, dir, sizeof(dir)) < 0)
			return bk_err_set(err, ENOENT, "cgroup %s", rel);
		v = read_num(dir, "cpu.stat", "usage_usec");
		st->cpu_usec = v > 0 ? (uint64_t)v : 0;
		v = read_num(dir, "memory.current", NULL);
		st->memory = v > 0 ? (uint64_t)v : 0;
		v = read_num(dir, "memory.peak", NULL);
		st->memory_max = v > 0 ? (uint64_t)v : 0;
		v = read_num(dir, "pids.current", NULL);
		st->pids = v > 0 ? (uint64_t)v : 0;
		st->oom_kills = oom_kills_at(g, rel);
		return 0;
	}
	if (abs_path(g, "cpuacct", rel, dir, sizeof(dir)) == 0 &&
	    (v = read_num(dir, "cpuacct.usage", NULL)) > 0)
		st->cpu_usec = (uint64_t)v / 1000;
	if (abs_path(g, "memory", rel, dir, sizeof(dir)) == 0) {
		v = read_num(dir, "memory.usage_in_bytes", NULL);
		st->memory = v > 0 ? (uint64_t)v : 0;
		v = read_num(dir, "memory.max_usage_in_bytes", NULL);
		st->memory_max = v > 0 ? (uint64_t)v : 0;
	}
	st->oom_kills = oom_kills_at(g, rel);
	if (abs_path(g, "pids", rel, dir, sizeof(dir)) == 0 &&
	    (v = read_num(dir, "pids.current", NULL)) > 0)
		st->pids = (uint64_t)v;
	return 0;
}

int
cgroup_stats(struct cgroups *g, const char *id, struct bk_stats *st, struct bk_err *err)
{
	char rel[PATH_MAX];

	snprintf(rel, sizeof(rel), "/%s/%s", PARENT_DIR, id);
	return stats_at(g, rel, st, err);
}

int
cgroup_stats_of(struct cgroups *g, const char *path, struct bk_stats *st, struct bk_err *err)
{
	return stats_at(g, path, st, err);
}

uint64_t
cgroup_oom_kills(struct cgroups *g, const char *id)
{
	char rel[PATH_MAX];

	if (!g->ready)
		return 0;
	snprintf(rel, sizeof(rel), "/%s/%s", PARENT_DIR, id);
	return oom_kills_at(g, rel);
}

/* A limit file's value into *out (LIMIT_MAX for "max", v1's huge "unlimited"): false if unread. */
static bool
read_limit(const char *dir, const char *file, int64_t *out)
{
	char path[PATH_MAX];
	cleanup_free char *text = NULL;
	long long v;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (read_file_at(AT_FDCWD, path, 4096, &text, NULL, NULL) < 0)
		return false;
	if (strncmp(text, "max", 3) == 0) {
		*out = LIMIT_MAX;
		return true;
	}
	if (sscanf(text, "%lld", &v) != 1 || v < 0)
		return false;
	*out = v >= (1LL << 62) ? LIMIT_MAX : v;
	return true;
}

void
cgroup_limits_of(struct cgroups *g, const char *path, struct limits *l)
{
	char dir[PATH_MAX];
	int64_t v, period;

	limits_init(l);
	if (!g->ready)
		return;
	if (g->mode == CGROUP_V2) {
		cleanup_free char *cpu = NULL;
		char file[PATH_MAX + 16];
		long long quota, per;

		if (abs_path(g, NULL, path, dir, sizeof(dir)) < 0)
			return;
		if (read_limit(dir, "memory.max", &v))
			l->memory = v;
		if (g->swap && read_limit(dir, "memory.swap.max", &v))
			l->memory_swap =
			    v == LIMIT_MAX || l->memory == LIMIT_MAX ? LIMIT_MAX : l->memory + v;
		if ((v = read_num(dir, "cpu.weight", NULL)) > 0 && v != 100)
			l->cpu_shares = (int64_t)limits_weight_to_shares((uint64_t)v);
		snprintf(file, sizeof(file), "%s/cpu.max", dir);
		if (read_file_at(AT_FDCWD, file, 4096, &cpu, NULL, NULL) == 0 &&
		    sscanf(cpu, "%lld %lld", &quota, &per) == 2 && quota > 0 && per > 0)
			l->cpus_milli = quota * 1000 / per;
		if (read_limit(dir, "pids.max", &v))
			l->pids = v;
		return;
	}
	if (abs_path(g, "memory", path, dir, sizeof(dir)) == 0) {
		if (read_limit(dir, "memory.limit_in_bytes", &v))
			l->memory = v;
		if (g->swap && read_limit(dir, "memory.memsw.limit_in_bytes", &v))
			l->memory_swap = v;
	}
	if (abs_path(g, "cpu", path, dir, sizeof(dir)) == 0) {
		if ((v = read_num(dir, "cpu.shares", NULL)) > 0 && v != 1024)
			l->cpu_shares = v;
		period = read_num(dir, "cpu.cfs_period_us", NULL);
		if ((v = read_num(dir, "cpu.cfs_quota_us", NULL)) > 0 && period > 0)
			l->cpus_milli = v * 1000 / period;
	}
	if (abs_path(g, "pids", path, dir, sizeof(dir)) == 0 && read_limit(dir, "pids.max", &v))
		l->pids = v;
}

bool
cgroup_frozen_of(struct cgroups *g, const char *path)
{
	char dir[PATH_MAX];
	cleanup_free char *text = NULL;
	char file[PATH_MAX + 16];

	if (!g->ready)
		return false;
	if (g->mode == CGROUP_V2) {
		if (abs_path(g, NULL, path, dir, sizeof(dir)) < 0)
			return false;
		return read_num(dir, "cgroup.events", "frozen") == 1;
	}
	if (abs_path(g, "freezer", path, dir, sizeof(dir)) < 0)
		return false;
	snprintf(file, sizeof(file), "%s/freezer.state", dir);
	return read_file_at(AT_FDCWD, file, 64, &text, NULL, NULL) == 0 &&
	       strncmp(text, "FROZEN", 6) == 0;
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

	if (g->dev_prog_fd >= 0) {
		close(g->dev_prog_fd);
		g->dev_prog_fd = -1;
	}
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
