/*
 * create: the bundle's config.json read and checked, the container's record
 * made, the init cloned and seen through its setup (spawn.c); it then waits
 * on exec.fifo for start.  A create that fails leaves nothing: no process,
 * no group, no record.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/vfs.h>
#include <unistd.h>
#include <linux/magic.h>

#include "oci/oci.h"
#include "base/base.h"
#include "proc/proc.h"

static int
check_spec(const struct oci_spec *s, const struct bk_rt_create *o, struct bk_err *err)
{
	if (!s->ns[OCI_NS_MNT].present)
		return bk_err_set(err, EINVAL, "linux.namespaces: a mount namespace is required");
	if (s->ns[OCI_NS_MNT].path)
		return bk_err_set(err, EINVAL,
				  "linux.namespaces: joining a mount namespace by path: not "
				  "supported");
	if (s->ns[OCI_NS_USER].present && s->ns[OCI_NS_USER].path == NULL &&
	    (s->n_uid_mappings == 0 || s->n_gid_mappings == 0))
		return bk_err_set(
		    err, EINVAL, "linux.uidMappings, gidMappings: a new user namespace needs both");
	if ((s->hostname || s->domainname) &&
	    (!s->ns[OCI_NS_UTS].present || s->ns[OCI_NS_UTS].path))
		return bk_err_set(err, EINVAL, "hostname: needs a new uts namespace");
	if (s->process.terminal && o->console_socket == NULL)
		return bk_err_set(err, EINVAL,
				  "process.terminal is true but no --console-socket was given");
	if (!s->process.terminal && o->console_socket)
		return bk_err_set(err, EINVAL,
				  "--console-socket was given but process.terminal is false");
	return 0;
}

/*
 * The device rules the container gets: the config's, then (as runc appends
 * them) the nodes every container has and those linux.devices makes, so that
 * a config that starts with "deny all" still has /dev/null, its ptys and its
 * own devices.  Only when the config has rules: none leaves the group as its
 * parent is.
 */
static void
add_device_rules(struct oci_spec *s)
{
	static const struct oci_device_rule always[] = {
		{ true, 'c', -1, -1, "m" },    { true, 'b', -1, -1, "m" },
		{ true, 'c', 1, 3, "rwm" },    { true, 'c', 1, 5, "rwm" },
		{ true, 'c', 1, 7, "rwm" },    { true, 'c', 1, 8, "rwm" },
		{ true, 'c', 1, 9, "rwm" },    { true, 'c', 5, 0, "rwm" },
		{ true, 'c', 5, 2, "rwm" },    { true, 'c', 136, -1, "rwm" },
		{ true, 'c', 10, 200, "rwm" },
	};
	struct oci_resources *r = &s->resources;
	size_t n = r->n_devices, i;

	if (!s->has_resources || n == 0)
		return;
	r->devices =
	    xrealloc(r->devices, (n + ARRAY_SIZE(always) + s->n_devices) * sizeof(*r->devices));
	for (i = 0; i < ARRAY_SIZE(always); i++)
		r->devices[n++] = always[i];
	for (i = 0; i < s->n_devices; i++) {
		const struct oci_device *d = &s->devices[i];

		if (d->type == 'p')
			continue;
		r->devices[n++] = (struct oci_device_rule){ true, d->type == 'b' ? 'b' : 'c',
							    d->major, d->minor, "rwm" };
	}
	r->n_devices = n;
}

static int
open_namespaces(const struct oci_spec *s, int fds[OCI_NS_COUNT], struct bk_err *err)
{
	int i;

	for (i = 0; i < OCI_NS_COUNT; i++) {
		struct statfs sf;

		fds[i] = -1;
		if (!s->ns[i].present || s->ns[i].path == NULL)
			continue;
		fds[i] = open(s->ns[i].path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0)
			return bk_err_sys(err, "linux.namespaces: %s", s->ns[i].path);
		if (fstatfs(fds[i], &sf) < 0 || sf.f_type != NSFS_MAGIC)
			return bk_err_set(err, EINVAL, "linux.namespaces: %s is not a namespace",
					  s->ns[i].path);
	}
	return 0;
}

int
bk_rt_create(const struct bk_runtime *rt, const struct bk_rt_create *o, struct bk_err *err)
{
	struct oci_spec spec = { 0 };
	struct oci_ctr c = { .dir_fd = -1 };
	struct oci_launch l = { .fifo_fd = -1, .console_fd = -1 };
	cleanup_free char *raw = NULL, *bundle = NULL, *rootfs = NULL, *root_path = NULL,
			  *filter_bytes = NULL;
	cleanup_close int bundle_fd = -1;
	struct sock_fprog filter;
	size_t len, ninsns;
	int ret, pidfd = -1, i;
	pid_t pid;
	char created[64];
	bool made = false;

	for (i = 0; i < OCI_NS_COUNT; i++)
		l.ns_fd[i] = -1;
	bundle = realpath(o->bundle ? o->bundle : ".", NULL);
	if (bundle == NULL)
		return bk_err_sys(err, "bundle %s", o->bundle ? o->bundle : ".");
	bundle_fd = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (bundle_fd < 0)
		return bk_err_sys(err, "bundle %s", bundle);
	ret = spec_read(bundle_fd, "config.json", &spec, &raw, &len, err);
	if (ret < 0)
		goto out;
	ret = check_spec(&spec, o, err);
	if (ret < 0)
		goto out;
	add_device_rules(&spec);
	if (spec.resources.memory_kernel_ignored)
		bk_log(BK_LOG_WARN, "linux.resources.memory.kernel, kernelTCP: ignored (the kernel "
				    "no longer limits kernel memory apart)");
	root_path = spec.root_path[0] == '/' ? xstrdup(spec.root_path)
					     : xasprintf("%s/%s", bundle, spec.root_path);
	rootfs = realpath(root_path, NULL);
	if (rootfs == NULL) {
		ret = bk_err_sys(err, "root.path %s", root_path);
		goto out;
	}
	ret = ctr_make(rt, o->id, &c, err);
	if (ret < 0)
		goto out;
	made = true;
	c.bundle = xstrdup(bundle);
	c.rootfs = xstrdup(rootfs);
	time_rfc3339_ns(created, sizeof(created));
	c.created = xstrdup(created);
	c.caller = caller_name();
	c.annotations = xstrdup(spec.annotations_json ? spec.annotations_json : "{}");
	ret = ocg_path(spec.cgroups_path, rt->systemd_cgroup, o->id, &c.cgroup, err);
	if (ret < 0)
		goto out;
	ret = write_file_replace(c.dir_fd, OCI_CONFIG_FILE, raw, len, err);
	if (ret < 0)
		goto out;
	/* Writable by all: the init opens it as the workload's user, after the switch. */
	if (mkfifoat(c.dir_fd, OCI_FIFO, 0622) < 0 || fchmodat(c.dir_fd, OCI_FIFO, 0622, 0) < 0) {
		ret = bk_err_sys(err, "container %s: exec.fifo", o->id);
		goto out;
	}
	l.fifo_fd = openat(c.dir_fd, OCI_FIFO, O_PATH | O_CLOEXEC | O_NOFOLLOW);
	if (l.fifo_fd < 0) {
		ret = bk_err_sys(err, "container %s: exec.fifo", o->id);
		goto out;
	}
	ret = ctr_save(&c, err);
	if (ret < 0)
		goto out;
	if (spec.has_seccomp) {
		ret = oci_seccomp_program(rt, &spec, raw, len, &filter_bytes, &ninsns, err);
		if (ret < 0)
			goto out;
		filter.len = (unsigned short)ninsns;
		filter.filter = (struct sock_filter *)(void *)filter_bytes;
		l.filter = &filter;
	}
	ret = open_namespaces(&spec, l.ns_fd, err);
	if (ret < 0)
		goto out;
	if (o->console_socket) {
		l.console_fd = oci_connect_console(o->console_socket, err);
		if (l.console_fd < 0) {
			ret = l.console_fd;
			goto out;
		}
	}
	l.spec = &spec;
	l.rt = rt;
	l.ctr = &c;
	l.rootfs = rootfs;
	l.cgroup = c.cgroup;
	l.preserve_fds = o->preserve_fds;
	l.no_pivot = o->no_pivot;
	l.no_new_keyring = o->no_new_keyring;
	ret = oci_spawn(&l, &pidfd, err);
	if (ret < 0)
		goto out;
	pid = ret;
	c.pid = pid;
	c.start_time = live_start_time(pid);
	ret = ctr_save(&c, err);
	if (ret == 0 && o->pid_file)
		ret = oci_write_pid_file(o->pid_file, pid, err);
	if (ret < 0) {
		kill(pid, SIGKILL);
		ocg_remove(c.cgroup);
		goto out;
	}
	enlist_put(rt, o->id, "created");
	ret = 0;
out:
	if (pidfd >= 0)
		close(pidfd);
	if (l.fifo_fd >= 0)
		close(l.fifo_fd);
	if (l.console_fd >= 0)
		close(l.console_fd);
	for (i = 0; i < OCI_NS_COUNT; i++)
		if (l.ns_fd[i] >= 0)
			close(l.ns_fd[i]);
	if (ret < 0 && made)
		ctr_remove(rt, &c);
	else
		ctr_close(&c);
	oci_spec_free(&spec);
	return ret;
}
