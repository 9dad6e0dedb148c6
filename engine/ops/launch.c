/*
 * Launching a container's init, once its plan is known: an init (a spare
 * or a new clone, proc/) sets the container's filesystem up while the
 * daemon joins it to its cgroup and gives it its network, then goes.  A
 * spare that someone killed before its go is replaced by a new clone.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "base/base.h"
#include "ops/ops.h"
#include "proc/proc.h"

/*
 * One attempt; with_spare: take a spare init if one is ready.  -ECHILD when
 * the spare turned out dead before it was told to go (someone killed it):
 * everything is undone and the caller may try again without.
 */
static int
launch_attempt(struct bk_engine *e, const struct launch_req *req, bool with_spare, pid_t *pid_out,
	       int *pidfd_out, struct init_input *input, char veth[IFNAMSIZ], struct bk_err *err)
{
	cleanup_close int plan_fd = plan_memfd(&req->plan, err);
	struct init_proc ip = { .pidfd = -1, .sync_fd = -1, .input = { .fd = -1, .fdno = -1 } };
	struct net_spare made = NET_SPARE_INIT;
	bool bridge = req->net_mode == NET_MODE_BRIDGE, spare_died = false;
	struct spare_init spare;
	int ret = -ENOENT;

	if (plan_fd < 0)
		return plan_fd;
	/*
	 * A spare init (not for `net mode host`), which enters a network
	 * namespace made ahead, taken (or made, when the pool ran dry) only once
	 * the spare is; else a new clone, which makes its own.
	 */
	if (with_spare && req->plan.netns && spare_init_take(&e->procs, &spare) == 0) {
		if (netpool_take(e->net.pool, bridge, &made) == 0)
			ret = init_launch_spare(&e->procs, &spare, plan_fd, req->state_dfd,
						made.nsfd, &ip);
		else
			spare_init_discard(&e->procs, &spare);
		if (ret < 0)
			net_spare_free(&made);
	}
	if (ret < 0 &&
	    init_launch(&e->procs, plan_fd, req->state_dfd, req->plan.netns, &ip, err) < 0)
		return -err->code;
	/*
	 * Until the start is recorded, "starting" names the init: a daemon that
	 * dies before then finds it at the next start and kills it (a start
	 * that never answered must not leave a process, a veth or a cgroup).
	 */
	spawn_mark_starting(req->state_dfd, ip.pid);
	/* The init sets up the container's filesystem meanwhile, and waits for its go. */
	if (req->limits && ip.cgroup[0])
		ret = cgroup_adopt(&e->procs.cg, ip.cgroup, req->id, req->limits, err);
	else
		ret =
		    req->limits ? cgroup_enter(&e->procs.cg, req->id, ip.pid, req->limits, err) : 0;
	if (ret < 0 || failpoint("run.cgroup", err) < 0) {
		spare_died = ip.spare && init_exited(&ip);
		bk_err_wrap(err, "start");
		goto fail;
	}
	if (network_attach(e, req->id, ip.pid, req->net_mode, req->ip, ip.spare ? &made : NULL,
			   req->ports, req->nports, err) < 0 ||
	    failpoint("run.veth", err) < 0) {
		spare_died = ip.spare && init_exited(&ip);
		bk_err_wrap(err, "network");
		goto fail;
	}
	/* Killed before its go: nothing of the container ran yet, another init may. */
	if (ip.spare && init_exited(&ip)) {
		spare_died = true;
		bk_err_set(err, ECHILD, "start: the spare init was killed");
		goto fail;
	}
	if (init_go(&ip, err) < 0)
		goto fail;
	/* The command runs (exec'd) and the daemon has not recorded it yet. */
	if (failpoint("run.exec", err) < 0)
		goto fail;
	close(ip.sync_fd);
	snprintf(veth, IFNAMSIZ, "%s", bridge && made.nsfd >= 0 ? made.host_name : "");
	/* The init holds the namespace now: it goes with the container. */
	net_spare_free(&made);
	*pid_out = ip.pid;
	*pidfd_out = ip.pidfd;
	*input = ip.input;
	return 0;
fail:
	if (ip.input.fd >= 0)
		close(ip.input.fd);
	init_kill(&ip);
	close(ip.pidfd);
	close(ip.sync_fd);
	unlinkat(req->state_dfd, "starting", 0);
	if (req->limits) {
		cgroup_remove(&e->procs.cg, req->id);
		/* A rename that failed half way leaves some of the spare's name. */
		if (ip.cgroup[0])
			cgroup_remove(&e->procs.cg, ip.cgroup);
	}
	if (req->net_mode == NET_MODE_BRIDGE)
		network_abort(e, req->id, NULL);
	/* Its pair goes now, not when the kernel cleans the namespace up. */
	net_spare_drop(e->net.host, &made);
	return spare_died ? -ECHILD : -err->code;
}

int
launch(struct bk_engine *e, const struct launch_req *req, pid_t *pid_out, int *pidfd_out,
       struct init_input *input, char veth[IFNAMSIZ], struct bk_err *err)
{
	int ret = launch_attempt(e, req, true, pid_out, pidfd_out, input, veth, err);

	if (ret == -ECHILD) {
		bk_log(BK_LOG_WARN, "start %s: a spare init was killed (%s): starting a new one",
		       req->id, err->msg);
		*err = (struct bk_err)BK_ERR_INIT;
		ret = launch_attempt(e, req, false, pid_out, pidfd_out, input, veth, err);
	} else if (ret == -EXDEV && req->plan.nmounts > 0) {
		/*
		 * A spare init's copy of the mount table is as old as the spare: a
		 * bind source on a mount made since is not there.  A new init has
		 * today's (and still refuses a source that was replaced).
		 */
		bk_log(BK_LOG_INFO, "start %s: %s: again with a new init", req->id, err->msg);
		*err = (struct bk_err)BK_ERR_INIT;
		ret = launch_attempt(e, req, false, pid_out, pidfd_out, input, veth, err);
	}
	return ret;
}
