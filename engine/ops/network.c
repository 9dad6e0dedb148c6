/*
 * Containers' networks: the glue between the container lifecycle and the
 * netlink, nftables and address-allocation modules (net.h).
 *
 *   bridge (default)  a veth pair: the host end on the bridge, eth0 inside
 *                     with an address leased from the subnet (kept until the
 *                     container is removed), published ports DNATed to it
 *   none              only lo
 *   host              the host's network namespace
 *
 * The daemon's own setup (bridge, forwarding, the nft table) is made at
 * start and its table removed at a clean exit; running containers'
 * published ports are published again when a daemon starts.
 *
 * Everything a container holds here (its lease, its published ports, a
 * veth made at its start) is named by its id, and a removed container's name
 * may be taken again at once: see network_release.  A veth made ahead keeps
 * its own name ("bkq..."), which the container's record keeps (veth).
 */
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "ops/ops.h"
#include "net/net.h"
#include "base/base.h"

int
network_open(struct bk_engine *e, const struct bk_engine_opts *opts, struct bk_err *err)
{
	struct net_config cfg;
	int ret;

	pthread_mutex_init(&e->net.release_lock, NULL);
	pthread_cond_init(&e->net.release_done, NULL);
	ret = net_config_parse(opts->bridge, opts->subnet, &cfg, err);
	if (ret < 0)
		return ret;
	ret = ipam_open(e->store.fd, &cfg, &e->net.ipam, err);
	if (ret < 0)
		return ret;
	/* Without the bridge, containers still run with `net mode none` or `host`. */
	ret = net_host_open(&cfg, &e->net.host, err);
	if (ret < 0) {
		bk_log(BK_LOG_WARN, "networking: %s: bridge mode unavailable", err->msg);
		e->net.host = NULL;
	}
	return 0;
}

/*
 * The networks made ahead, once the daemon runs (a thread: after it has
 * detached).  Without them no spare init serves a start: each clones its own.
 */
void
network_start(struct bk_engine *e)
{
	struct bk_err err = BK_ERR_INIT;

	if (netpool_open(e->net.host, &e->net.pool, &err) < 0) {
		bk_log(BK_LOG_WARN, "networking: %s", err.msg);
		e->net.pool = NULL;
	}
}

void
network_close(struct bk_engine *e)
{
	netpool_close(e->net.pool);
	e->net.pool = NULL;
	if (e->net.host)
		net_host_close(e->net.host, true);
	if (e->net.ipam)
		ipam_close(e->net.ipam);
	e->net.host = NULL;
	e->net.ipam = NULL;
	free(e->net.releasing);
	e->net.releasing = NULL;
	pthread_cond_destroy(&e->net.release_done);
	pthread_mutex_destroy(&e->net.release_lock);
}

/*
 * At a start: leases of containers that are gone (a daemon killed in the
 * middle of an rm) are released, and the running containers' published
 * ports, lost with the table, are published again.
 */
void
network_republish(struct bk_engine *e)
{
	struct ipam_lease *leases;
	size_t i, n;

	if (e->net.host == NULL || e->net.ipam == NULL)
		return;
	n = ipam_list(e->net.ipam, &leases);
	for (i = 0; i < n; i++) {
		bool known;

		pthread_mutex_lock(&e->model.lock);
		known = container_find_locked(&e->model, leases[i].ctr_id, 0) != NULL;
		pthread_mutex_unlock(&e->model.lock);
		if (!known) {
			bk_log(BK_LOG_INFO, "network: releasing the lease of %s, which is gone",
			       leases[i].ctr_id);
			ipam_release(e->net.ipam, leases[i].ctr_id);
		}
	}
	free(leases);
	pthread_mutex_lock(&e->model.lock);
	for (i = 0; i < e->model.nctrs; i++) {
		struct container *c = e->model.ctrs[i];
		struct bk_err err = BK_ERR_INIT;

		if (c->state != BK_CTR_RUNNING || c->net_mode != NET_MODE_BRIDGE || c->nports == 0)
			continue;
		if (ports_publish(e->net.host, c->id, c->ip, c->ports, c->nports, &err) < 0)
			bk_log(BK_LOG_WARN, "container %s: ports: %s", c->id, err.msg);
	}
	pthread_mutex_unlock(&e->model.lock);
}

/*
 * The ids whose network a removal is releasing (network_release): a start
 * of a new container of that name waits in network_prepare until the
 * release is over.  A handful at most.
 */
static ssize_t
release_find_locked(const struct network *n, const char *id)
{
	size_t i;

	for (i = 0; i < n->nreleasing; i++)
		if (strcmp(n->releasing[i], id) == 0)
			return (ssize_t)i;
	return -1;
}

static void
release_begin(struct network *n, const char *id)
{
	pthread_mutex_lock(&n->release_lock);
	n->releasing = xrealloc(n->releasing, (n->nreleasing + 1) * sizeof(*n->releasing));
	snprintf(n->releasing[n->nreleasing], sizeof(n->releasing[n->nreleasing]), "%s", id);
	n->nreleasing++;
	pthread_mutex_unlock(&n->release_lock);
}

static void
release_end(struct network *n, const char *id)
{
	ssize_t i;

	pthread_mutex_lock(&n->release_lock);
	i = release_find_locked(n, id);
	if (i >= 0)
		memcpy(n->releasing[i], n->releasing[--n->nreleasing], sizeof(n->releasing[i]));
	pthread_cond_broadcast(&n->release_done);
	pthread_mutex_unlock(&n->release_lock);
}

/* Until no removal is releasing the network of an earlier container named id. */
static void
release_wait(struct network *n, const char *id)
{
	pthread_mutex_lock(&n->release_lock);
	while (release_find_locked(n, id) >= 0)
		pthread_cond_wait(&n->release_done, &n->release_lock);
	pthread_mutex_unlock(&n->release_lock);
}

/*
 * Lease an address for a bridge-mode container about to start (kept across
 * restarts), once a removal of an earlier container of the same name has
 * released what that one held.
 */
int
network_prepare(struct bk_engine *e, const char *id, enum net_mode mode, uint32_t *ip,
		struct bk_err *err)
{
	*ip = 0;
	if (mode != NET_MODE_BRIDGE)
		return 0;
	if (e->net.host == NULL)
		return bk_err_set(err, ENOTSUP,
				  "networking is unavailable on this host: "
				  "use 'mode none' or 'mode host'");
	release_wait(&e->net, id);
	return ipam_alloc(e->net.ipam, id, ip, err);
}

/*
 * Between the init's clone and its go: the veth into its netns (made, the
 * network made ahead that the init enters), then the ports.
 */
int
network_attach(struct bk_engine *e, const char *id, pid_t pid, enum net_mode mode, uint32_t ip,
	       struct net_spare *made, const struct port_map *ports, size_t nports,
	       struct bk_err *err)
{
	uint8_t mac[6];

	if (mode != NET_MODE_BRIDGE)
		return 0;
	mac_for_ip(ip, mac);
	if ((made ? net_spare_attach(e->net.host, made, id, ip, mac, err)
		  : net_attach(e->net.host, id, pid, ip, mac, err)) < 0)
		return -err->code;
	if (nports > 0 && ports_publish(e->net.host, id, ip, ports, nports, err) < 0) {
		net_detach(e->net.host, id);
		return -err->code;
	}
	return 0;
}

/*
 * The container stopped: unpublish its ports.  Its veth pair goes with its
 * network namespace, in the kernel's own time; deleting it here would make
 * every exit wait ~20 ms for RCU.
 */
void
network_detach(struct bk_engine *e, const char *id)
{
	if (e->net.host == NULL)
		return;
	ports_unpublish(e->net.host, id);
}

/*
 * Delete the veth made ahead named veth ("" or NULL: none) if it is still
 * there and id's.  At a start, the last run's goes first (its namespace
 * outlived its init: someone holds it; it has the same address and MAC as
 * the new one; normally gone already, with that namespace: one lookup); at
 * a failed start, this run's (network_abort).
 */
void
network_forget_veth(struct bk_engine *e, const char *id, const char *veth)
{
	if (e->net.host && veth && veth[0])
		net_detach_name(e->net.host, veth, id);
}

/*
 * A start failed after its network was set up: unpublish its ports and
 * delete its veth now (the one named from the id, and veth if not NULL: the
 * one made ahead), on the rare path that may wait for RCU, so that nothing
 * of it is left when the start's error comes back.
 */
void
network_abort(struct bk_engine *e, const char *id, const char *veth)
{
	if (e->net.host == NULL)
		return;
	ports_unpublish(e->net.host, id);
	net_detach(e->net.host, id);
	network_forget_veth(e, id, veth);
}

/*
 * A removed container's network: its ports, a veth left behind, its lease.
 * The removal calls this once the container has left the table, when a new
 * container may already have its name, and all three are found by name: a
 * release then would unpublish the new container's ports, delete its veth
 * and free its lease while it runs (and hand its address to another).  So
 * the check that no container has the name and the mark that a release is
 * under way are made together under the engine's lock, which creations take:
 * a container of that name made before keeps everything (it adopts the
 * lease, which is by name; the old ports went when the old one stopped, its
 * veth with its netns), and one made after waits in network_prepare.
 */
void
network_release(struct bk_engine *e, const char *id, const char *veth)
{
	bool taken;

	pthread_mutex_lock(&e->model.lock);
	taken = container_find_locked(&e->model, id, 0) != NULL;
	if (!taken)
		release_begin(&e->net, id);
	pthread_mutex_unlock(&e->model.lock);
	if (taken) {
		bk_log(BK_LOG_INFO, "network of removed container %s: kept for the new %s", id, id);
		return;
	}
	failpoint("net.release", NULL);
	network_detach(e, id);
	/* A host end left behind (an init killed before its namespace was set up). */
	if (e->net.host)
		net_detach(e->net.host, id);
	/*
	 * A veth made ahead goes with its namespace, unless someone holds that:
	 * deleted all the same, on a thread of its own (a deletion waits for RCU,
	 * ~25 ms, which the removal does not wait out; until then its eth0, if
	 * its namespace lives on, still has the address that is released now).
	 */
	if (e->net.host && veth && veth[0])
		net_detach_later(e->net.host, veth, id);
	if (e->net.ipam)
		ipam_release(e->net.ipam, id);
	release_end(&e->net, id);
}

/* "mode bridge\nip 10.88.0.2\nmac 02:42:..\ngateway 10.88.0.1\n" */
char *
network_describe(struct bk_engine *e, enum net_mode mode, uint32_t ip)
{
	char ipb[16], gw[16], macb[18];
	uint8_t mac[6];

	if (mode != NET_MODE_BRIDGE || ip == 0 || e->net.host == NULL)
		return xasprintf("mode %s\n", net_mode_name(mode));
	mac_for_ip(ip, mac);
	return xasprintf("mode bridge\nip %s\nmac %s\ngateway %s\n", ip_format(ip, ipb),
			 mac_format(mac, macb),
			 ip_format(net_host_config(e->net.host)->gateway, gw));
}

char *
bk_net_bridge(struct bk_engine *e)
{
	const struct net_config *cfg;
	char gw[16];

	if (e->net.host == NULL)
		return xasprintf("%s", "");
	cfg = net_host_config(e->net.host);
	return xasprintf("%s %s/%d\n", cfg->bridge, ip_format(cfg->gateway, gw), cfg->prefix);
}

char *
bk_net_leases(struct bk_engine *e)
{
	struct ipam_lease *leases = NULL;
	size_t n = e->net.ipam ? ipam_list(e->net.ipam, &leases) : 0, i, used = 0;
	char *out = xmalloc(n * (BK_ID_SIZE + 40) + 1);

	out[0] = '\0';
	for (i = 0; i < n; i++) {
		char ipb[16], macb[18];
		uint8_t mac[6];

		mac_for_ip(leases[i].ip, mac);
		used += (size_t)sprintf(out + used, "%s %s %s\n", leases[i].ctr_id,
					ip_format(leases[i].ip, ipb), mac_format(mac, macb));
	}
	free(leases);
	return out;
}
