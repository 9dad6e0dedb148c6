/*
 * Spare inits: container inits started ahead of time, so that a start does
 * not wait for what a container's first process costs before it can be
 * told what to run.
 *
 * On this kernel the dear part of a start is joining the cgroups: the first
 * write to a cgroup's tasks file waits out an RCU grace period for the
 * global threadgroup lock (6-15 ms measured here, held with cgroup_mutex,
 * see docs/design.md); then the new network namespace (~2-3 ms).  A spare
 * is cloned into fresh mount, pid, uts and ipc namespaces, joins a group of
 * its own (cgroup v1: bockerfs/<tag>/spare-N), and waits on its socket for
 * a plan.  A start takes one, renames its group to the container's (a
 * rename costs ~20 us and no grace period), sets the limits and sends the
 * plan with a network namespace made ahead (net/netpool.c), which the init
 * enters first; the init sets up the container's filesystem while the
 * daemon attaches its network.  Until then a spare is in the daemon's
 * network namespace, where it only waits: it refuses a plan without one.
 *
 * A spare holds nothing of any container, and drops the control tree from
 * its copy of the mount table (bk_engine_opts.hide_mount): else an unmount
 * of the tree (fusermount3 -u) would not end the FUSE connection, nor the
 * daemon, whose exit is what ends the spares.  It exits on EOF on its socket:
 * when the pool is stopped, and when the daemon dies however it dies, so a
 * crash leaves at most empty spare-N groups, which the next daemon removes.
 * Refills come in batches, so that several joins share one grace period.
 */
#include <errno.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "proc/proc.h"
#include "base/base.h"

#define POOL      4 /* spares kept */
#define LOW_WATER 1 /* refill when this few are left */

struct spare_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct spare_init spares[POOL];
	int n;
	bool stop, want;
	uint64_t serial;
	pthread_t thread;
};

static void
discard(struct procs *pr, struct spare_init *s)
{
	struct pollfd pfd = { .fd = s->pidfd, .events = POLLIN };
	siginfo_t si;

	/* EOF on its socket ends a spare; SIGKILL if it does not go at once. */
	close(s->sync_fd);
	if (poll(&pfd, 1, 1000) <= 0)
		pidfd_send_signal(s->pidfd, SIGKILL, NULL, 0);
	while (waitid(P_PIDFD, (id_t)s->pidfd, &si, WEXITED) < 0 && errno == EINTR)
		;
	close(s->pidfd);
	if (s->cgroup[0])
		cgroup_remove(&pr->cg, s->cgroup);
	/* Nothing of it is left to adopt or remove. */
	s->pidfd = s->sync_fd = -1;
	s->cgroup[0] = '\0';
}

static int
make_one(struct procs *pr, struct spare_init *s, struct bk_err *err)
{
	char fdarg[16];
	/* Nothing of the host in its command line: it is /proc/1/cmdline of a container. */
	char *argv[] = { (char *)"bockerfs-init", (char *)"--spare", fdarg, NULL, NULL };
	/* cgroup v2 cannot rename a group: there the start joins the init to its own. */
	bool in_group = pr->cg.ready && pr->cg.mode == CGROUP_V1;
	int sv[2], pidfd = -1, pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return bk_err_sys(err, "spare init: socketpair");
	snprintf(fdarg, sizeof(fdarg), "%d", sv[1]);
	/* Placed in its container's cgroup below, before it can see a plan (init/main.c). */
	if (in_group)
		argv[3] = (char *)"in-cgroup";
	/* No network namespace: the start hands it one made ahead (net/netpool.c). */
	pid = clone_init_proc(pr, CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC, argv,
			      -1, -1, &sv[1], 1, true, &pidfd, err);
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return bk_err_wrap(err, "spare init");
	}
	s->pid = (pid_t)pid;
	s->pidfd = pidfd;
	s->sync_fd = sv[0];
	s->cgroup[0] = '\0';
	if (in_group) {
		snprintf(s->cgroup, sizeof(s->cgroup), "spare-%llu",
			 (unsigned long long)pr->spare_inits->serial++);
		if (cgroup_enter(&pr->cg, s->cgroup, s->pid, &pr->default_limits, err) < 0) {
			discard(pr, s);
			return bk_err_wrap(err, "spare init");
		}
	}
	return 0;
}

static void *
refill_main(void *arg)
{
	struct procs *pr = arg;
	struct spare_pool *p = pr->spare_inits;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->want && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->stop)
			break;
		p->want = false;
		while (p->n < POOL && !p->stop) {
			struct spare_init s;
			struct bk_err err = BK_ERR_INIT;

			pthread_mutex_unlock(&p->lock);
			if (make_one(pr, &s, &err) < 0) {
				bk_log(BK_LOG_DEBUG, "%s", err.msg);
				pthread_mutex_lock(&p->lock);
				break;
			}
			pthread_mutex_lock(&p->lock);
			p->spares[p->n++] = s;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

/* Take a spare: 0, or -ENOENT when there is none ready (the caller clones). */
int
spare_init_take(struct procs *pr, struct spare_init *out)
{
	struct spare_pool *p = pr->spare_inits;
	int ret = -ENOENT;

	/* For bench/start.sh: starts without the head start, to measure it. */
	if (p == NULL || failpoint("spare-init.take", NULL) < 0)
		return -ENOENT;
	pthread_mutex_lock(&p->lock);
	/* Spares anyone killed meanwhile go now, with their groups, not at their turn. */
	for (int i = p->n - 1; i >= 0; i--) {
		struct pollfd pfd = { .fd = p->spares[i].pidfd, .events = POLLIN };

		if (poll(&pfd, 1, 0) > 0) {
			discard(pr, &p->spares[i]);
			p->spares[i] = p->spares[--p->n];
		}
	}
	if (p->n > 0) {
		*out = p->spares[--p->n];
		ret = 0;
	}
	if (p->n <= LOW_WATER) {
		p->want = true;
		pthread_cond_signal(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
	return ret;
}

/* A spare that could not be used: end it and remove its group. */
void
spare_init_discard(struct procs *pr, struct spare_init *s)
{
	discard(pr, s);
}

int
spare_init_start(struct procs *pr, struct bk_err *err)
{
	struct spare_pool *p = xcalloc(1, sizeof(*p));
	int ret;

	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->want = true;
	pr->spare_inits = p;
	ret = pthread_create(&p->thread, NULL, refill_main, pr);
	if (ret != 0) {
		pr->spare_inits = NULL;
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->lock);
		free(p);
		return bk_err_set(err, ret, "cannot start the spare-init thread");
	}
	return 0;
}

void
spare_init_stop(struct procs *pr)
{
	struct spare_pool *p = pr->spare_inits;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	pr->spare_inits = NULL;
	while (p->n > 0)
		discard(pr, &p->spares[--p->n]);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
