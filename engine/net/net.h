/*
 * net.h: container networking for the engine (not part of bocker.h: fsd never
 * sees it).
 *
 *   netlink.c  bridge, veth pairs, addresses and routes over rtnetlink (libmnl)
 *   nat.c      masquerade and published ports in nftables table "ip bockerfs"
 *              (libnftables: no nft process is forked)
 *   ipam.c     the address allocator, persisted in the store; subnet and MAC
 *              helpers (pure)
 *   ports.c    the parser of a container's "ports" lines (pure)
 *
 * Addresses are IPv4 in host byte order throughout (10.88.0.1 is 0x0a580001).
 *
 * Use, for one container in bridge mode, between clone() and the init's "go":
 *
 *	ipam_alloc(ipam, id, &ip, err);			   at first start, kept until rm
 *	mac_for_ip(ip, mac);
 *	net_attach(h, id, pid, ip, mac, err);		   veth, eth0, lo, route
 *	ports_publish(h, id, ip, maps, n, err);		   if it has ports
 * and on a failed start or after its exit:
 *	ports_unpublish(h, id);
 *	net_detach(h, id);
 * and at rm: ipam_release(ipam, id).  At daemon start net_host_open rebuilds
 * the nftables table empty: call ports_publish again for each container
 * still running (its veth, address and routes survive the daemon).
 *
 * Everything here may be called from several threads at once.
 */
#ifndef BK_NET_H
#define BK_NET_H

#include "common/compiler.h"

#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bocker.h"

#define NET_BRIDGE_DEFAULT "bocker0"
#define NET_SUBNET_DEFAULT "10.88.0.0/16"
#define NET_TABLE          "bockerfs" /* nftables: table ip bockerfs, ours alone */

/* ---- configuration (ipam.c, pure) -------------------------------------- */

struct net_config {
	char bridge[IFNAMSIZ];
	uint32_t subnet;  /* network address */
	int prefix;       /* 8..30 */
	uint32_t gateway; /* subnet + 1, on the bridge */
};

/*
 * Fill out from --bridge and --subnet (NULL: the defaults "bocker0",
 * "10.88.0.0/16").  EINVAL for a bad interface name, a malformed CIDR, host
 * bits set ("10.88.0.1/16") or a prefix outside 8..30.
 */
must_check int net_config_parse(const char *bridge, const char *subnet_cidr, struct net_config *out,
				struct bk_err *err);
/* "10.88.0.2" into buf (at least INET_ADDRSTRLEN bytes); returns buf. */
char *ip_format(uint32_t ip, char *buf);
/* Parse a dotted quad; 0 or -EINVAL. */
must_check int ip_parse(const char *s, uint32_t *ip);
/* 02:42 followed by the address's four bytes, as docker does: unique per address. */
void mac_for_ip(uint32_t ip, uint8_t mac[6]);
/* "02:42:0a:58:00:02" into buf (at least 18 bytes); returns buf. */
char *mac_format(const uint8_t mac[6], char *buf);

/* ---- address allocation (ipam.c) --------------------------------------- */

struct ipam;
struct ipam_lease {
	char ctr_id[BK_ID_SIZE];
	uint32_t ip;
};

/*
 * Load the leases from store_dfd/ipam.json (none if the file is missing).
 * Leases outside cfg's subnet (after --subnet changed) are dropped with a
 * warning.  EINVAL if the file is not valid JSON of the expected shape.
 */
must_check int ipam_open(int store_dfd, const struct net_config *cfg, struct ipam **out,
			 struct bk_err *err);
void ipam_close(struct ipam *ipam);
/*
 * The address of ctr_id: its lease if it has one, else the next free address
 * after the last one handed out (never the network, gateway or broadcast
 * address), saved before it is returned.  ENOSPC when the subnet is full.
 */
must_check int ipam_alloc(struct ipam *ipam, const char *ctr_id, uint32_t *ip, struct bk_err *err);
/* ctr_id's current lease: 0, or -ENOENT if it has none. */
must_check int ipam_get(struct ipam *ipam, const char *ctr_id, uint32_t *ip);
/* Free ctr_id's lease, if any, and save (a failed save is logged). */
void ipam_release(struct ipam *ipam, const char *ctr_id);
/* A copy of all leases, by address; caller frees *out.  Returns the count. */
size_t ipam_list(struct ipam *ipam, struct ipam_lease **out);

/* ---- a container's network mode and published ports (ports.c, pure) ---- */

/* bridge: a veth on the bridge and an address; none: only lo; host: the host's namespace. */
enum net_mode { NET_MODE_BRIDGE, NET_MODE_NONE, NET_MODE_HOST };
const char *net_mode_name(enum net_mode mode);
/* "bridge", "none" or "host"; 0 or -EINVAL. */
must_check int net_mode_parse(const char *s, enum net_mode *out);

struct port_map {
	int proto; /* IPPROTO_TCP or IPPROTO_UDP */
	uint16_t host_port, ctr_port;
};
#define PORTS_MAX 64 /* per container */

/*
 * Parse "tcp HOSTPORT CONTAINERPORT" / "udp ..." lines (blank lines and
 * lines starting with "#" ignored) into out[0..max).  EINVAL on a malformed line, a port
 * outside 1-65535 or a host port given twice for one protocol; E2BIG past
 * max entries.  The message names the line.
 */
must_check int ports_parse(const char *text, struct port_map *out, size_t max, size_t *n,
			   struct bk_err *err);
/* "tcp 18080 80\n" lines into a new string; caller frees. */
char *ports_format(const struct port_map *maps, size_t n);

/* ---- the host side (netlink.c, nat.c) ---------------------------------- */

struct mnl_socket;
/* An rtnetlink socket: it stays in the netns it was opened in, whatever the thread does later. */
struct nl_sock {
	struct mnl_socket *sock;
	unsigned int portid, seq;
};

struct net_host;

/*
 * Prepare the host, in the caller's network namespace: the bridge (created if
 * missing; EEXIST if that name is another kind of link), its gateway address,
 * up; net.ipv4.ip_forward=1 and route_localnet on the bridge; the nftables
 * table "ip bockerfs" rebuilt from scratch, so published ports must be
 * published again (ports_publish) for containers still running.
 * A bridge it created is kept on failure (as on close).
 */
must_check int net_host_open(const struct net_config *cfg, struct net_host **out,
			     struct bk_err *err);
/* Free h; remove_rules: delete the nftables table (clean exit).  The bridge stays. */
void net_host_close(struct net_host *h, bool remove_rules);
/* The configuration h was opened with (borrowed, valid until close). */
const struct net_config *net_host_config(const struct net_host *h);

/* Host end of ctr_id's veth: "bk" and 11 hex digits of a hash of the id. */
void net_ifname(const char *ctr_id, char name[IFNAMSIZ]);

/*
 * Give the container whose init is pid (in its own network namespace: EINVAL
 * if it shares h's) a veth pair: the host end net_ifname(ctr_id) on the
 * bridge and up, with the alias "bockerfs CTR_ID"; the peer "eth0" in pid's
 * namespace with ip/prefix and mac, up, with lo up and a default route via
 * the gateway.  A host end left by an earlier run of ctr_id (still there, or
 * going with that run's netns) is replaced or waited out; a link of that name
 * that is not ctr_id's is left alone (EEXIST).  On failure nothing is left
 * (EEXIST also if the container already has an eth0).
 */
must_check int net_attach(struct net_host *h, const char *ctr_id, pid_t pid, uint32_t ip,
			  const uint8_t mac[6], struct bk_err *err);
/* Delete ctr_id's veth pair if it exists (it also goes when the netns dies). */
void net_detach(struct net_host *h, const char *ctr_id);
/* The same for the host end ifname (a veth made ahead: net_spare_name_valid). */
void net_detach_name(struct net_host *h, const char *ifname, const char *ctr_id);
/* The same on a thread of its own (a deletion waits for RCU); net_host_close waits for it. */
void net_detach_later(struct net_host *h, const char *ifname, const char *ctr_id);
/* Is name one a veth made ahead has ("bkq" and 12 lower-case hex digits)? */
bool net_spare_name_valid(const char *name);
/*
 * A container's network made ahead (netpool.c): a new network namespace
 * with lo up and, for bridge mode, a veth pair: eth0 inside (down, no
 * address), the host end "bkq" and 12 random hex digits, down, on no bridge
 * (the name stays the container's host end: see link_claim).  Each holds its namespace by nsfd and
 * a netlink socket opened inside it; the pair goes with the namespace when its last holder closes
 * it.
 */
struct net_spare {
	int nsfd; /* -1: none */
	char host_name[IFNAMSIZ];
	int host_index, eth_index;
	struct nl_sock nl; /* inside the namespace */
};
#define NET_SPARE_INIT     \
	{                  \
		.nsfd = -1 \
	}
/*
 * Make one; h NULL: without a veth (`net mode none`).  host: a netlink socket
 * of the host's namespace (not h's own: no lock).
 */
must_check int net_spare_make(struct net_host *h, struct nl_sock *host, struct net_spare *out,
			      struct bk_err *err);
/*
 * As net_attach, for the container ctr_id whose init is (or is about to be)
 * in s's namespace: the host end (keeping its name) marked with the alias
 * "bockerfs CTR_ID", on the bridge and up; eth0 with ip/prefix and mac, up,
 * with the default route.  On failure s is dropped (net_spare_drop).
 */
must_check int net_spare_attach(struct net_host *h, struct net_spare *s, const char *ctr_id,
				uint32_t ip, const uint8_t mac[6], struct bk_err *err);
/* Close what s holds (its namespace, and the pair, go with their last holder). */
void net_spare_free(struct net_spare *s);
/* Delete s's pair at once (a start failed after net_spare_attach), then free s. */
void net_spare_drop(struct net_host *h, struct net_spare *s);

/*
 * The pool of them (netpool.c), for the spare inits, which have no network
 * namespace of their own: a few of each kind (with a veth for bridge mode,
 * without for none; h NULL: without only), refilled by a thread of its own
 * when one is left.  take: one ready, or one made now (the caller's thread
 * must be in the host's network namespace), or -errno (the start clones a
 * new init, which makes its own).
 */
struct netpool;
must_check int netpool_open(struct net_host *h, struct netpool **out, struct bk_err *err);
void netpool_close(struct netpool *p);
must_check int netpool_take(struct netpool *p, bool veth, struct net_spare *out);

/* Network mode none: bring up lo in pid's network namespace, nothing else. */
must_check int net_lo_up(pid_t pid, struct bk_err *err);

/*
 * Publish maps[0..n) for ctr_id at ip: DNAT from every local address of the
 * host (127.0.0.1 included) and from outside.  Replaces what ctr_id had
 * published (n == 0: unpublish).  EADDRINUSE if another container has one of
 * those host ports, E2BIG past PORTS_MAX; on failure none of ctr_id's ports
 * stay published.
 */
must_check int ports_publish(struct net_host *h, const char *ctr_id, uint32_t ip,
			     const struct port_map *maps, size_t n, struct bk_err *err);
/* Remove what ctr_id published (idempotent). */
void ports_unpublish(struct net_host *h, const char *ctr_id);

/* ---- internal: shared by netlink.c, netpool.c and nat.c only ------------ */

struct nft_ctx;
struct nat_pub;

/* netlink.c: an rtnetlink socket in the calling thread's network namespace. */
must_check int nl_open(struct nl_sock *s, struct bk_err *err);
void nl_close(struct nl_sock *s);

struct net_host {
	struct net_config cfg;
	dev_t ns_dev; /* the netns h was opened in: containers must not share it */
	ino_t ns_ino;

	pthread_mutex_t nl_lock; /* protects nl, bridge_index */
	struct nl_sock nl;       /* opened in the host netns by net_host_open */
	int bridge_index;

	pthread_mutex_t later_lock; /* protects later */
	pthread_cond_t later_done;
	unsigned later; /* net_detach_later's deletions under way */

	pthread_mutex_t nat_lock; /* protects nft, pubs, npubs */
	struct nft_ctx *nft;      /* its netfilter socket also belongs to the host netns */
	struct nat_pub *pubs;     /* what each container published */
	size_t npubs;
};

/* nat.c: build the table (dropping an old one); delete it. */
must_check int nat_open(struct net_host *h, struct bk_err *err);
void nat_close(struct net_host *h, bool remove_rules);

#endif
