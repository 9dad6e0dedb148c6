/*
 * NAT for containers with libnftables (the library behind nft(8): the same
 * rule language, no process forked).  Everything lives in one table,
 * "ip bockerfs", which is rebuilt at net_host_open and deleted at a clean
 * exit; no other table is read or touched.
 *
 *  - Masquerade: traffic from the subnet leaving by any interface but the
 *    bridge goes out with the host's address.
 *  - Published ports: one map, "published", from protocol . host port to
 *    container address . container port, used by a DNAT rule in prerouting
 *    (traffic from outside and from containers) and in output (traffic the
 *    host itself sends), both only for packets addressed to one of the
 *    host's own addresses (fib daddr type local).  A container's ports are
 *    its elements, tagged with a comment naming it; publishing adds them all
 *    in one transaction and unpublishing deletes exactly those keys, so no
 *    other container's rules are ever rewritten.  "create element" fails on
 *    an existing key: two containers can never hold one host port.
 *
 * 127.0.0.1 (and the rest of 127.0.0.0/8).  After the output DNAT a packet
 * from 127.0.0.1 to 127.0.0.1:18080 becomes 127.0.0.1 -> 10.88.0.2:80, which
 * must leave by the bridge.  The kernel refuses to route a loopback source
 * out of a non-loopback interface unless that interface has route_localnet
 * set, so netlink.c sets it on the bridge; postrouting then masquerades
 * 127.0.0.0/8 leaving by the bridge, so the container sees the gateway as
 * the client and its reply comes back to the host, where conntrack undoes
 * both translations.  route_localnet also lets the bridge's neighbours send
 * to 127.0.0.0/8 (the kube-proxy CVE-2020-8558 problem), so a raw-priority
 * rule drops packets arriving on the bridge from or to 127.0.0.0/8.  This
 * was chosen over a userland proxy (docker's docker-proxy): no process or
 * thread per port, and the container sees real client addresses for
 * traffic from outside.
 *
 * Hairpin: a container reaching a published port through a host address is
 * DNATed back onto the bridge; its peer would answer it directly, bypassing
 * the host's conntrack, so such flows (ct status dnat, from the subnet, out
 * by the bridge) are masqueraded too.  (And when br_netfilter is loaded the
 * DNAT happens while the frame is bridged, so a container reaching its own
 * port needs hairpin mode on its bridge port: netlink.c sets it.)
 *
 * Not handled here: a host whose own firewall drops forwarded traffic (a
 * filter forward chain with policy drop in another table) also drops the
 * containers' traffic; that table is not ours to change.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <nftables/libnftables.h>

#include "net/net.h"
#include "base/base.h"

struct nat_pub {
	char ctr_id[BK_ID_SIZE];
	uint32_t ip;
	struct port_map *maps;
	size_t n;
};

/* libnftables reports failures as text: recover the errno from it where it says. */
static int
nft_errno(const char *msg)
{
	static const int known[] = { EEXIST,     ENOENT, EPERM,  EBUSY,       ENOMEM,
				     EOPNOTSUPP, ENOSPC, EINVAL, EAFNOSUPPORT };
	size_t i;

	for (i = 0; i < ARRAY_SIZE(known); i++)
		if (strstr(msg, strerror(known[i])))
			return known[i];
	return EIO;
}

/* Run cmds as one transaction.  h->nat_lock held.  0, or -errno with err set. */
static int
nft_run(struct net_host *h, const char *cmds, const char *what, struct bk_err *err)
{
	const char *msg;
	char first[200];
	int ret = nft_run_cmd_from_buffer(h->nft, cmds);

	nft_ctx_get_output_buffer(h->nft); /* drain */
	msg = nft_ctx_get_error_buffer(h->nft);
	if (ret == 0)
		return 0;
	/* The first line is "Error: what went wrong"; the rest repeats our input. */
	snprintf(first, sizeof(first), "%.*s", (int)strcspn(msg, "\n"), msg);
	if (strncmp(first, "Error: ", 7) == 0)
		memmove(first, first + 7, strlen(first + 7) + 1);
	return bk_err_set(err, nft_errno(first), "%s: nftables: %s", what,
			  *first ? first : "failed");
}

/* The whole table.  "table {}" then "delete table" makes the rebuild idempotent. */
static char *
table_text(const struct net_config *cfg)
{
	char net[INET_ADDRSTRLEN];
	const char *br = cfg->bridge; /* only [A-Za-z0-9_.-]: see net_config_parse */

	ip_format(cfg->subnet, net);
	return xasprintf(
	    "table ip " NET_TABLE " {}\n"
	    "delete table ip " NET_TABLE "\n"
	    "table ip " NET_TABLE " {\n"
	    "  map published {\n"
	    "    type inet_proto . inet_service : ipv4_addr . inet_service\n"
	    "  }\n"
	    "  chain guard {\n"
	    "    type filter hook prerouting priority raw; policy accept;\n"
	    "    iifname \"%s\" ip daddr 127.0.0.0/8 drop\n"
	    "    iifname \"%s\" ip saddr 127.0.0.0/8 drop\n"
	    "  }\n"
	    "  chain prerouting {\n"
	    "    type nat hook prerouting priority dstnat; policy accept;\n"
	    "    fib daddr type local dnat ip to meta l4proto . th dport map @published\n"
	    "  }\n"
	    "  chain output {\n"
	    "    type nat hook output priority -100; policy accept;\n"
	    "    fib daddr type local dnat ip to meta l4proto . th dport map @published\n"
	    "  }\n"
	    "  chain postrouting {\n"
	    "    type nat hook postrouting priority srcnat; policy accept;\n"
	    "    ip saddr %s/%d oifname != \"%s\" masquerade\n"
	    "    oifname \"%s\" ip saddr 127.0.0.0/8 masquerade\n"
	    "    oifname \"%s\" ip saddr %s/%d ct status dnat masquerade\n"
	    "  }\n"
	    "}\n",
	    br, br, net, cfg->prefix, br, br, br, net, cfg->prefix);
}

int
nat_open(struct net_host *h, struct bk_err *err)
{
	cleanup_free char *text = table_text(&h->cfg);
	int probe, ret;

	/*
	 * libnftables exits the process if it cannot open its netfilter
	 * socket: find out first, and fail like anything else.
	 */
	probe = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (probe < 0)
		return bk_err_sys(err, "nftables: netfilter netlink socket");
	close(probe);
	/* Its netfilter socket is opened here, in the host's netns, for good. */
	h->nft = nft_ctx_new(NFT_CTX_DEFAULT);
	if (h->nft == NULL)
		return bk_err_set(err, ENOMEM, "nftables context");
	nft_ctx_buffer_output(h->nft);
	nft_ctx_buffer_error(h->nft);
	pthread_mutex_lock(&h->nat_lock);
	ret = nft_run(h, text, "create table ip " NET_TABLE, err);
	pthread_mutex_unlock(&h->nat_lock);
	return ret;
}

static void
pub_free(struct nat_pub *p)
{
	free(p->maps);
}

void
nat_close(struct net_host *h, bool remove_rules)
{
	struct bk_err err = BK_ERR_INIT;
	size_t i;

	pthread_mutex_lock(&h->nat_lock);
	if (h->nft && remove_rules &&
	    nft_run(h, "delete table ip " NET_TABLE, "delete table ip " NET_TABLE, &err) < 0 &&
	    err.code != ENOENT)
		bk_log(BK_LOG_WARN, "%s", err.msg);
	if (h->nft)
		nft_ctx_free(h->nft);
	h->nft = NULL;
	for (i = 0; i < h->npubs; i++)
		pub_free(&h->pubs[i]);
	free(h->pubs);
	h->pubs = NULL;
	h->npubs = 0;
	pthread_mutex_unlock(&h->nat_lock);
}

static const char *
proto_name(int proto)
{
	return proto == IPPROTO_UDP ? "udp" : "tcp";
}

static ssize_t
pub_find(struct net_host *h, const char *ctr_id)
{
	size_t i;

	for (i = 0; i < h->npubs; i++)
		if (strcmp(h->pubs[i].ctr_id, ctr_id) == 0)
			return (ssize_t)i;
	return -1;
}

/* Append "tcp . 18080" (the key of m) to buf at *used. */
static void
put_key(char *buf, size_t size, size_t *used, const struct port_map *m, bool first)
{
	int n = snprintf(buf + *used, size - *used, "%s%s . %u", first ? "" : ", ",
			 proto_name(m->proto), m->host_port);

	if (n > 0 && (size_t)n < size - *used)
		*used += (size_t)n;
}

/* Delete p's elements and forget p.  h->nat_lock held. */
static void
unpublish_locked(struct net_host *h, size_t idx)
{
	struct nat_pub *p = &h->pubs[idx];
	struct bk_err err = BK_ERR_INIT;
	char cmd[64 + PORTS_MAX * 16];
	size_t used, i;

	used = (size_t)snprintf(cmd, sizeof(cmd), "delete element ip " NET_TABLE " published { ");
	for (i = 0; i < p->n; i++)
		put_key(cmd, sizeof(cmd), &used, &p->maps[i], i == 0);
	snprintf(cmd + used, sizeof(cmd) - used, " }");
	if (p->n && nft_run(h, cmd, "unpublish", &err) < 0) {
		/* One key gone (by hand?) fails the whole batch: delete one by one. */
		for (i = 0; i < p->n; i++) {
			used = (size_t)snprintf(cmd, sizeof(cmd),
						"delete element ip " NET_TABLE " published { ");
			put_key(cmd, sizeof(cmd), &used, &p->maps[i], true);
			snprintf(cmd + used, sizeof(cmd) - used, " }");
			if (nft_run(h, cmd, "unpublish", &err) < 0 && err.code != ENOENT)
				bk_log(BK_LOG_WARN, "%s: %s", p->ctr_id, err.msg);
		}
	}
	pub_free(p);
	h->pubs[idx] = h->pubs[--h->npubs];
}

/* EADDRINUSE if another container holds one of maps' host ports.  h->nat_lock held. */
static int
check_conflicts(struct net_host *h, const char *ctr_id, const struct port_map *maps, size_t n,
		struct bk_err *err)
{
	size_t i, j, k;

	for (i = 0; i < n; i++) {
		for (j = 0; j < i; j++)
			if (maps[j].proto == maps[i].proto &&
			    maps[j].host_port == maps[i].host_port)
				return bk_err_set(err, EINVAL, "%s port %u is given twice",
						  proto_name(maps[i].proto), maps[i].host_port);
		for (j = 0; j < h->npubs; j++) {
			if (strcmp(h->pubs[j].ctr_id, ctr_id) == 0)
				continue;
			for (k = 0; k < h->pubs[j].n; k++)
				if (h->pubs[j].maps[k].proto == maps[i].proto &&
				    h->pubs[j].maps[k].host_port == maps[i].host_port)
					return bk_err_set(err, EADDRINUSE,
							  "%s port %u is published by %s",
							  proto_name(maps[i].proto),
							  maps[i].host_port, h->pubs[j].ctr_id);
		}
	}
	return 0;
}

/* The "create element" command for maps, tagged with ctr_id.  Caller frees. */
static char *
publish_text(const char *ctr_id, uint32_t ip, const struct port_map *maps, size_t n)
{
	size_t size = 64 + n * (48 + BK_ID_SIZE), used, i;
	char *cmd = xmalloc(size), addr[INET_ADDRSTRLEN];

	ip_format(ip, addr);
	used = (size_t)snprintf(cmd, size, "create element ip " NET_TABLE " published { ");
	for (i = 0; i < n; i++)
		used += (size_t)snprintf(
		    cmd + used, size - used, "%s%s . %u comment \"%s\" : %s . %u", i ? ", " : "",
		    proto_name(maps[i].proto), maps[i].host_port, ctr_id, addr, maps[i].ctr_port);
	snprintf(cmd + used, size - used, " }");
	return cmd;
}

/* Container ids are [A-Za-z0-9][A-Za-z0-9_.-]*: safe inside an nft comment's quotes. */
static bool
id_quotable(const char *id)
{
	const char *p;

	if (*id == '\0' || strlen(id) >= BK_ID_SIZE)
		return false;
	for (p = id; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
			return false;
	return true;
}

int
ports_publish(struct net_host *h, const char *ctr_id, uint32_t ip, const struct port_map *maps,
	      size_t n, struct bk_err *err)
{
	cleanup_free char *cmd = NULL;
	struct nat_pub *p;
	ssize_t old;
	size_t i;
	int ret;

	if (!id_quotable(ctr_id))
		return bk_err_set(err, EINVAL, "publish ports: bad container id '%s'", ctr_id);
	if (n > PORTS_MAX)
		return bk_err_set(err, E2BIG, "publish ports of %s: more than %d", ctr_id,
				  PORTS_MAX);
	for (i = 0; i < n; i++)
		if ((maps[i].proto != IPPROTO_TCP && maps[i].proto != IPPROTO_UDP) ||
		    maps[i].host_port == 0 || maps[i].ctr_port == 0)
			return bk_err_set(err, EINVAL, "publish ports of %s: bad entry %zu", ctr_id,
					  i);
	pthread_mutex_lock(&h->nat_lock);
	ret = check_conflicts(h, ctr_id, maps, n, err);
	if (ret < 0)
		goto out;
	old = pub_find(h, ctr_id);
	if (old >= 0)
		unpublish_locked(h, (size_t)old);
	if (n == 0)
		goto out;
	cmd = publish_text(ctr_id, ip, maps, n);
	ret = nft_run(h, cmd, "publish ports", err);
	if (ret == -EEXIST) /* a key we do not know of: added by hand? */
		ret = bk_err_set(err, EADDRINUSE,
				 "publish ports: a host port is already in use "
				 "in table ip " NET_TABLE);
	if (ret < 0)
		goto out;
	h->pubs = xrealloc(h->pubs, (h->npubs + 1) * sizeof(*h->pubs));
	p = &h->pubs[h->npubs++];
	snprintf(p->ctr_id, sizeof(p->ctr_id), "%s", ctr_id);
	p->ip = ip;
	p->n = n;
	p->maps = xcalloc(n, sizeof(*maps));
	memcpy(p->maps, maps, n * sizeof(*maps));
out:
	pthread_mutex_unlock(&h->nat_lock);
	if (ret < 0)
		bk_err_wrap(err, "%s", ctr_id);
	return ret;
}

void
ports_unpublish(struct net_host *h, const char *ctr_id)
{
	ssize_t i;

	pthread_mutex_lock(&h->nat_lock);
	i = pub_find(h, ctr_id);
	if (i >= 0)
		unpublish_locked(h, (size_t)i);
	pthread_mutex_unlock(&h->nat_lock);
}
