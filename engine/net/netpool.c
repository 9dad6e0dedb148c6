/*
 * Containers' network namespaces made ahead, for the spare inits (which are
 * cloned without one of their own, proc/spare_init.c): a few with lo up and
 * a veth pair (its host end down and on no bridge yet), for starts in
 * bridge mode, and a few with lo only, for `net mode none`.  A new network
 * namespace is the dear part of a container's start after the cgroup join
 * (~2-3 ms of kernel time here), and its veth pair the next (two devices
 * registered, one moved: ~0.8 ms); a start that takes one only marks the
 * host end, puts it on the bridge, raises it and gives eth0 its address
 * (net_spare_attach), and its init enters the namespace before it reads its
 * plan and mounts /sys.
 *
 * The pool's thread refills a kind when one of it is left, on its own
 * netlink socket, so that it never holds the lock the starts' host messages
 * take.  Nothing here outlives the daemon: a namespace held only by the pool
 * goes, with its pair, when the pool closes or the daemon dies.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "net/net.h"
#include "base/base.h"

#define POOL      4 /* namespaces kept of each kind */
#define LOW_WATER 1 /* refill a kind when this few are left */

struct kind {
	struct net_spare spares[POOL];
	int n;
	bool want;
};

struct netpool {
	struct net_host *h;  /* NULL: no bridge, namespaces without a veth only */
	struct nl_sock host; /* the refill's own socket in the host's namespace */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct kind kinds[2]; /* [1]: with a veth; protected by lock */
	bool stop;            /* protected by lock */
	pthread_t thread;
};

/* Fill kind v up, lock held (dropped while a namespace is made); false on a failure. */
static bool
fill(struct netpool *p, int v)
{
	struct kind *k = &p->kinds[v];

	while (k->n < POOL && !p->stop) {
		struct net_spare s = NET_SPARE_INIT;
		struct bk_err err = BK_ERR_INIT;
		int ret;

		pthread_mutex_unlock(&p->lock);
		ret = net_spare_make(v ? p->h : NULL, &p->host, &s, &err);
		pthread_mutex_lock(&p->lock);
		if (ret < 0) {
			/* Starts make their own until the next take asks again. */
			bk_log(BK_LOG_DEBUG, "%s", err.msg);
			return false;
		}
		k->spares[k->n++] = s;
	}
	return true;
}

static void *
refill_main(void *arg)
{
	struct netpool *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (!p->kinds[0].want && !p->kinds[1].want && !p->stop)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->stop)
			break;
		for (int v = 1; v >= 0; v--) {
			if (!p->kinds[v].want)
				continue;
			p->kinds[v].want = false;
			if (!fill(p, v))
				break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int
netpool_open(struct net_host *h, struct netpool **out, struct bk_err *err)
{
	struct netpool *p = xcalloc(1, sizeof(*p));
	int ret;

	p->h = h;
	if (nl_open(&p->host, err) < 0) {
		free(p);
		return bk_err_wrap(err, "network pool");
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->kinds[0].want = true;
	p->kinds[1].want = h != NULL;
	ret = pthread_create(&p->thread, NULL, refill_main, p);
	if (ret != 0) {
		nl_close(&p->host);
		pthread_cond_destroy(&p->cond);
		pthread_mutex_destroy(&p->lock);
		free(p);
		return bk_err_set(err, ret, "network pool: cannot start its thread");
	}
	*out = p;
	return 0;
}

void
netpool_close(struct netpool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	for (int v = 0; v < 2; v++)
		while (p->kinds[v].n > 0)
			net_spare_free(&p->kinds[v].spares[--p->kinds[v].n]);
	nl_close(&p->host);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int
netpool_take(struct netpool *p, bool veth, struct net_spare *out)
{
	struct nl_sock host = { 0 };
	struct bk_err err = BK_ERR_INIT;
	struct kind *k;
	int ret = -ENOENT;

	/* For the tests: starts whose veth is made then, named from the id (52-network-races). */
	if (p == NULL || (veth && p->h == NULL) || failpoint("netpool.take", NULL) < 0)
		return -ENOENT;
	k = &p->kinds[veth];
	pthread_mutex_lock(&p->lock);
	if (k->n > 0) {
		*out = k->spares[--k->n];
		ret = 0;
	}
	if (k->n <= LOW_WATER) {
		k->want = true;
		pthread_cond_signal(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
	if (ret == 0)
		return 0;
	/*
	 * None ready (a burst): one made now still spares the start a new
	 * init, whose cgroup join waits out an RCU grace period on v1.
	 */
	bk_log(BK_LOG_DEBUG, "no network made ahead ready: making one now");
	ret = nl_open(&host, &err);
	if (ret == 0) {
		ret = net_spare_make(veth ? p->h : NULL, &host, out, &err);
		nl_close(&host);
	}
	if (ret < 0)
		bk_log(BK_LOG_DEBUG, "%s", err.msg);
	return ret;
}
