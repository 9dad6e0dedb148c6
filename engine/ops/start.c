/*
 * Starting a container: from its record and its image's config to a launch
 * request (launch.c) — the filesystem snapshot, the command, the
 * environment, the user, the files the runtime provides (/etc/hosts,
 * /etc/hostname, /etc/resolv.conf, kept outside the rootfs so that a commit
 * never bakes them in), and Docker's default capabilities.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <signal.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "ops/ops.h"
#include "base/inroot.h"
#include "base/base.h"

/* What a start needs, copied out of the record so the lock can be dropped. */
struct start_ctx {
	char id[BK_ID_SIZE];
	char image_id[BK_ID_SIZE];
	char *cmd;
	char *user, *workdir; /* the container's own, NULL: the image's */
	char **env;
	size_t nenv;
	bool rootfs_made;
	struct limits limits;
	enum net_mode net_mode;
	uint32_t ip;
	char old_veth[IFNAMSIZ]; /* its last run's veth made ahead, "" if none */
	char veth[IFNAMSIZ];     /* this run's */
	bool tty, stdin_open;
	struct port_map ports[PORTS_MAX];
	size_t nports;
	json_t *config;
	int dfd; /* containers/<id>/ */
	int rootfs_fd;
	char **argv;
	char **envp;
	size_t nenvp;
	struct mounts_start mounts;
};

static void
ctx_free(struct start_ctx *x)
{
	size_t i;

	free(x->cmd);
	free(x->user);
	free(x->workdir);
	for (i = 0; i < x->nenv; i++)
		free(x->env[i]);
	free(x->env);
	strv_free(x->argv);
	for (i = 0; i < x->nenvp; i++)
		free(x->envp[i]);
	free(x->envp);
	json_decref(x->config);
	mounts_start_free(&x->mounts);
	if (x->dfd >= 0)
		close(x->dfd);
	if (x->rootfs_fd >= 0)
		close(x->rootfs_fd);
}

static int
make_rootfs(struct bk_engine *e, struct start_ctx *x, struct bk_err *err)
{
	cleanup_free char *src = xasprintf("%s/rootfs", x->image_id);
	cleanup_close int src_fd =
	    openat(e->store.images_fd, src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (src_fd < 0) {
		bk_err_sys(err, "image %s: its filesystem", x->image_id);
		/* Deleted from the store behind our back: the image says so from now on. */
		if (err->code == ENOENT || err->code == ENOTDIR)
			image_mark_broken(&e->model, x->image_id, err);
		return -err->code;
	}
	/* A writable snapshot: O(1) in the image's size, and usually made ahead of time. */
	if (spare_take(e, x->image_id, x->dfd, "rootfs") < 0 &&
	    store_snapshot(src_fd, x->dfd, "rootfs", false, err) < 0)
		return bk_err_wrap(err, "container filesystem");
	spare_used(e, x->image_id);
	return failpoint("run.snapshot", err);
}

static int
write_etc_files(struct start_ctx *x, const char *hostname, struct bk_err *err)
{
	char ipb[16];
	cleanup_free char *hosts = NULL, *host_resolv = NULL, *hn = NULL;
	char resolv[4096];
	size_t used = 0;
	char *save = NULL, *line;
	bool any = false;

	/* As docker: the container's own name resolves to its address. */
	if (x->net_mode == NET_MODE_HOST &&
	    read_file_at(AT_FDCWD, "/etc/hosts", 1 << 20, &hosts, NULL, NULL) == 0)
		;
	else if (x->ip)
		hosts = xasprintf("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost "
				  "ip6-loopback\n%s\t%s\n",
				  ip_format(x->ip, ipb), hostname);
	else
		hosts =
		    xasprintf("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
	if (write_file_replace(x->dfd, "hosts", hosts, strlen(hosts), err) < 0)
		return -err->code;
	hn = xasprintf("%s\n", hostname);
	if (write_file_replace(x->dfd, "hostname", hn, strlen(hn), err) < 0)
		return -err->code;
	/* The host's resolvers, less loopback ones a container cannot reach (as docker). */
	resolv[0] = '\0';
	if (read_file_at(AT_FDCWD, "/etc/resolv.conf", 65536, &host_resolv, NULL, NULL) == 0) {
		for (line = strtok_r(host_resolv, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			if (strncmp(line, "nameserver", 10) == 0) {
				const char *a = line + 10 + strspn(line + 10, " \t");

				if (strncmp(a, "127.", 4) == 0 || strcmp(a, "::1") == 0)
					continue;
				any = true;
			}
			if (used + strlen(line) + 2 < sizeof(resolv))
				used += (size_t)sprintf(resolv + used, "%s\n", line);
		}
	}
	if (!any && used + 64 < sizeof(resolv))
		used += (size_t)sprintf(resolv + used, "nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
	return write_file_replace(x->dfd, "resolv.conf", resolv, used, err);
}

/* cmd (the seed's `sh -c`) or the image's Entrypoint followed by its Cmd. */
static int
build_argv(struct start_ctx *x, struct bk_err *err)
{
	json_t *cfg = json_object_get(x->config, "config");
	size_t ne = 0, nc = 0, i;
	char **ep, **cmd;

	if (x->cmd) {
		x->argv = xcalloc(4, sizeof(char *));
		x->argv[0] = xstrdup("/bin/sh");
		x->argv[1] = xstrdup("-c");
		x->argv[2] = xstrdup(x->cmd);
		return 0;
	}
	ep = json_strv(json_object_get(cfg, "Entrypoint"), &ne);
	cmd = json_strv(json_object_get(cfg, "Cmd"), &nc);
	x->argv = xcalloc(ne + nc + 1, sizeof(char *));
	for (i = 0; i < ne; i++)
		x->argv[i] = ep[i];
	for (i = 0; i < nc; i++)
		x->argv[ne + i] = cmd[i];
	free(ep);
	free(cmd);
	if (ne + nc == 0)
		return bk_err_set(err, EINVAL,
				  "no command: set cmd (the image has no Entrypoint or Cmd)");
	return 0;
}

/* mkdir -p inside the rootfs, never leaving it (as docker does for WorkingDir). */
static int
make_workdir(int rootfs_fd, const char *path, struct bk_err *err)
{
	int fd = inroot_mkdirs(rootfs_fd, path, 0755, 0, 0, 0);

	if (fd < 0)
		return bk_err_set(err, -fd, "workdir '%s': %s", path, inroot_strerror(-fd));
	close(fd);
	return 0;
}

/* Everything up to the clone: filesystem, files, command, user. */
static int
prepare(struct bk_engine *e, struct start_ctx *x, struct launch_req *req, gid_t *groups,
	struct bk_err *err)
{
	json_t *cfg;
	const char *user, *workdir;
	char home[256];
	size_t ngroups = 0;
	uid_t uid = 0;
	gid_t gid = 0;

	if (container_config(&e->model, x->id, x->image_id, x->image_id, &x->config, err) < 0) {
		if (err->code == ENOENT && !x->rootfs_made)
			return bk_err_set(
			    err, ENOENT,
			    "start %s: its image %s is gone (removed before its first "
			    "start)",
			    x->id, x->image_id);
		return bk_err_wrap(err, "start %s", x->id);
	}
	x->dfd = openat(e->store.containers_fd, x->id, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (x->dfd < 0)
		return bk_err_sys(err, "start %s", x->id);
	if (!x->rootfs_made && (make_rootfs(e, x, err) < 0 ||
				container_config_keep(&e->model, x->id, x->config, err) < 0))
		return bk_err_wrap(err, "start %s", x->id);
	x->rootfs_fd = openat(x->dfd, "rootfs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (x->rootfs_fd < 0)
		return bk_err_sys(err, "start %s: rootfs", x->id);
	if (mounts_start(e, &x->mounts, x->id, x->rootfs_fd, x->config, err) < 0)
		return bk_err_wrap(err, "start %s", x->id);
	if (network_prepare(e, x->id, x->net_mode, &x->ip, err) < 0 ||
	    failpoint("run.lease", err) < 0)
		return bk_err_wrap(err, "start %s", x->id);
	if (write_etc_files(x, x->id, err) < 0)
		return bk_err_wrap(err, "start %s", x->id);
	/* A restart must not find the previous run's exit. */
	if (unlinkat(x->dfd, "exit", 0) < 0 && errno != ENOENT)
		return bk_err_sys(err, "start %s: remove old exit file", x->id);

	cfg = json_object_get(x->config, "config");
	user = x->user ? x->user : json_string_value(json_object_get(cfg, "User"));
	workdir = x->workdir ? x->workdir : json_string_value(json_object_get(cfg, "WorkingDir"));
	if (userdb_resolve(x->rootfs_fd, user, &uid, &gid, groups, &ngroups, home, sizeof(home),
			   err) < 0)
		return bk_err_wrap(err, "start %s", x->id);
	if (workdir && *workdir && make_workdir(x->rootfs_fd, workdir, err) < 0)
		return bk_err_wrap(err, "start %s", x->id);
	if (build_argv(x, err) < 0)
		return bk_err_wrap(err, "start %s", x->id);
	x->envp = process_env(x->config, x->env, x->nenv, x->id, home, x->tty, &x->nenvp);

	req->plan = (struct plan_req){
		.hostname = x->id,
		.argv = x->argv,
		.envp = x->envp,
		.cwd = workdir && *workdir ? workdir : "/",
		.uid = uid,
		.gid = gid,
		.groups = groups,
		.ngroups = ngroups,
		.caps = default_cap_mask(),
		.log_max = e->procs.log_max,
		.netns = x->net_mode != NET_MODE_HOST,
		.cgroupns = e->procs.cg.ready,
		.runtime_files = true,
		.tty = x->tty,
		.stdin_pipe = x->stdin_open,
		.mounts = x->mounts.plan,
		.nmounts = x->mounts.n,
		.seccomp = e->procs.seccomp_hex,
	};
	req->id = x->id;
	req->state_dfd = x->dfd;
	req->limits = e->procs.cg.ready ? &x->limits : NULL;
	req->net_mode = x->net_mode;
	req->ip = x->ip;
	req->ports = x->ports;
	req->nports = x->nports;
	return 0;
}

/*
 * A launched init that cannot be kept: kill it (its pid namespace, its
 * workload and its veth go with it), release its cgroup and ports.  pidfd
 * -1: the container's own, c->pidfd, which the caller then drops.
 */
static void
undo_launch(struct bk_engine *e, struct start_ctx *x, int pidfd)
{
	struct container *c = container_find_locked(&e->model, x->id, 0);
	siginfo_t si;
	int fd = pidfd >= 0 ? pidfd : c->pidfd;

	pidfd_send_signal(fd, SIGKILL, NULL, 0);
	while (waitid(P_PIDFD, (id_t)fd, &si, WEXITED) < 0 && errno == EINTR)
		;
	close(fd);
	if (pidfd < 0)
		c->pidfd = -1;
	unlinkat(x->dfd, "starting", 0);
	cgroup_remove(&e->procs.cg, x->id);
	network_abort(e, x->id, x->veth);
}

/* Copy what a start needs and mark c busy; EBUSY/EINVAL when it cannot start. */
static int
claim(struct bk_engine *e, const char *id, struct start_ctx *x, struct bk_err *err)
{
	struct container *c = container_find_locked(&e->model, id, 0);
	size_t i;

	if (c == NULL)
		return bk_err_set(err, ENOENT, "no container '%s'", id);
	if (c->broken || c->foreign)
		return container_changeable(c, "start", err);
	if (c->state == BK_CTR_RUNNING)
		return bk_err_set(err, EBUSY, "container %s is already running", id);
	if (c->busy || c->state == BK_CTR_REMOVING)
		return bk_err_set(err, EBUSY, "container %s: another operation is under way", id);
	if (c->image_id[0] == '\0')
		return bk_err_set(err, EINVAL,
				  "container %s has no image: write one to its 'image'", id);
	c->busy = true;
	snprintf(x->id, sizeof(x->id), "%s", c->id);
	snprintf(x->image_id, sizeof(x->image_id), "%s", c->image_id);
	x->cmd = c->cmd ? xstrdup(c->cmd) : NULL;
	x->user = c->user ? xstrdup(c->user) : NULL;
	x->workdir = c->workdir ? xstrdup(c->workdir) : NULL;
	x->env = xcalloc(c->nenv + 1, sizeof(char *));
	for (i = 0; i < c->nenv; i++)
		x->env[i] = xstrdup(c->env[i]);
	x->nenv = c->nenv;
	x->rootfs_made = c->rootfs_made;
	x->limits = c->limits;
	x->net_mode = c->net_mode;
	snprintf(x->old_veth, sizeof(x->old_veth), "%s", c->veth);
	x->tty = c->tty;
	x->stdin_open = c->stdin_open;
	x->nports = c->nports;
	if (c->nports)
		memcpy(x->ports, c->ports, c->nports * sizeof(*c->ports));
	if (c->nmounts) {
		cleanup_free char *text = mounts_format(c->mounts, c->nmounts);

		/* Its own text: parses back (the record's were checked when written). */
		if (mounts_parse(text, &x->mounts.m, &x->mounts.n, err) < 0) {
			c->busy = false;
			return -err->code;
		}
	}
	return 0;
}

int
bk_container_start(struct bk_engine *e, const char *id, struct bk_err *err)
{
	return container_start_by(e, id, false, err);
}

int
container_start_by(struct bk_engine *e, const char *id, bool by_policy, struct bk_err *err)
{
	struct start_ctx x = { .dfd = -1, .rootfs_fd = -1 };
	struct launch_req req = { 0 };
	struct init_input input = { .fd = -1, .fdno = -1 };
	gid_t groups[64];
	struct container *c;
	cleanup_free char *rootfs = NULL;
	pid_t pid = 0;
	int pidfd = -1, ret;

	pthread_mutex_lock(&e->model.lock);
	ret = claim(e, id, &x, err);
	pthread_mutex_unlock(&e->model.lock);
	if (ret < 0) {
		ctx_free(&x);
		return ret;
	}

	ret = prepare(e, &x, &req, groups, err);
	if (ret == 0) {
		rootfs = xasprintf("%s/containers/%s/rootfs", e->store.path, x.id);
		req.plan.rootfs_path = rootfs;
		network_forget_veth(e, x.id, x.old_veth);
		ret = launch(e, &req, &pid, &pidfd, &input, x.veth, err);
		if (ret < 0)
			bk_err_wrap(err, "start %s", x.id);
	}

	pthread_mutex_lock(&e->model.lock);
	c = container_find_locked(&e->model, id, 0);
	c->rootfs_made = c->rootfs_made || x.rootfs_fd >= 0;
	if (ret == 0) {
		struct container before = *c;

		c->state = BK_CTR_RUNNING;
		c->pid = pid;
		c->pidfd = pidfd;
		c->pid_start = proc_start_time(pid);
		memcpy(c->boot_id, e->model.boot_id, sizeof(c->boot_id));
		time_rfc3339(c->started, sizeof(c->started));
		c->finished[0] = '\0';
		c->exited = false;
		c->exit_code = c->exit_signal = 0;
		c->oomkilled = false;
		c->kill_sent = 0;
		c->ip = x.ip;
		snprintf(c->veth, sizeof(c->veth), "%s", x.veth);
		c->started_ms = now_ms();
		c->input_fd = input.fd;
		c->input_fdno = x.tty ? input.fdno : -1;
		input.fd = -1;
		/* Running again: a stop by the user is over; a start of the user's resets the
		 * count. */
		c->stopped_by_user = false;
		if (by_policy) {
			c->restarts++;
		} else {
			c->restarts = 0;
			c->backoff_ms = 0;
			restart_cancel_locked(e, id);
		}
		/*
		 * Unrecorded, it would run on unknown to the next daemon (whose
		 * reconciliation would kill it): the start fails instead.
		 */
		ret = container_save(&e->model, c, err);
		if (ret < 0) {
			*c = before;
			undo_launch(e, &x, pidfd);
			bk_err_wrap(err, "start %s", x.id);
		}
	}
	if (ret == 0) {
		failpoint("run.saved", NULL);
		unlinkat(x.dfd, "starting", 0);
		/* Unwatched, its exit would never be seen: the start fails instead. */
		ret = monitor_add(e, c);
		if (ret < 0) {
			struct bk_err serr = BK_ERR_INIT;

			bk_err_set(err, -ret, "start %s: watch its init: %s", x.id, strerror(-ret));
			undo_launch(e, &x, -1);
			container_set_exited_locked(&e->model, c, CLD_KILLED, SIGKILL);
			if (container_save(&e->model, c, &serr) < 0)
				bk_log(BK_LOG_WARN, "%s", serr.msg);
		}
	} else if (x.rootfs_fd >= 0) {
		struct bk_err serr = BK_ERR_INIT;

		/* The snapshot was made (rootfs_made): a later start must find it. */
		if (container_save(&e->model, c, &serr) < 0)
			bk_log(BK_LOG_WARN, "%s", serr.msg);
	}
	if (ret == 0 && by_policy)
		events_queue_locked(&e->model.ev, BK_OBJ_CONTAINER, id, "restart", "count=%d",
				    c->restarts);
	if (ret == 0)
		events_queue_locked(&e->model.ev, BK_OBJ_CONTAINER, id, "start", "pid=%d",
				    (int)pid);
	c->busy = false;
	pthread_cond_broadcast(&e->model.ctr_changed);
	pthread_mutex_unlock(&e->model.lock);
	if (input.fd >= 0)
		close(input.fd);
	ctx_free(&x);
	if (ret < 0)
		return ret;
	bk_log(BK_LOG_INFO, "started container %s (pid %d)", id, (int)pid);
	events_notify(&e->model.ev, BK_OBJ_CONTAINER, id, BK_CHANGE_STATE);
	events_flush(&e->model.ev);
	return 0;
}
