/*
 * Container addresses: the subnet configuration, its parsing, MACs, and the
 * allocator that hands out one address per container from the bridge's
 * subnet.  The allocator's state is a bitmap of used host numbers and the
 * list of leases; it is kept in the store as ipam.json (written with
 * write_file_atomic, so a crash leaves the old or the new list) and
 * changes only at a container's first start and at its removal.
 *
 * Addresses are handed out round-robin after the last one given, so a freed
 * address is not reused at once (neighbours' ARP caches may still hold the
 * old container's MAC; the MAC follows the address anyway, see mac_for_ip).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <jansson.h>

#include "net/net.h"
#include "base/base.h"

#define IPAM_FILE     "ipam.json"
#define IPAM_FILE_MAX (16 << 20)

/* ---- addresses (pure) ---------------------------------------------------- */

char *
ip_format(uint32_t ip, char *buf)
{
	snprintf(buf, INET_ADDRSTRLEN, "%u.%u.%u.%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff,
		 ip & 0xff);
	return buf;
}

int
ip_parse(const char *s, uint32_t *ip)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*ip = ntohl(a.s_addr);
	return 0;
}

void
mac_for_ip(uint32_t ip, uint8_t mac[6])
{
	/* 02: locally administered, unicast; 42 as docker, so tools recognise it. */
	mac[0] = 0x02;
	mac[1] = 0x42;
	mac[2] = (uint8_t)(ip >> 24);
	mac[3] = (uint8_t)(ip >> 16);
	mac[4] = (uint8_t)(ip >> 8);
	mac[5] = (uint8_t)ip;
}

char *
mac_format(const uint8_t mac[6], char *buf)
{
	snprintf(buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
		 mac[5]);
	return buf;
}

/*
 * Stricter than the kernel's rule (dev_valid_name): letters, digits, '_', '.'
 * and '-', so that the name can be quoted into nftables rules as it is.
 */
static bool
ifname_valid(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n >= IFNAMSIZ || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return false;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '.' || c == '-'))
			return false;
	}
	return true;
}

int
net_config_parse(const char *bridge, const char *subnet_cidr, struct net_config *out,
		 struct bk_err *err)
{
	char addr[INET_ADDRSTRLEN];
	const char *slash, *p;
	uint32_t ip, mask;
	size_t len;
	int prefix = 0;

	if (bridge == NULL)
		bridge = NET_BRIDGE_DEFAULT;
	if (subnet_cidr == NULL)
		subnet_cidr = NET_SUBNET_DEFAULT;
	if (!ifname_valid(bridge))
		return bk_err_set(err, EINVAL, "bridge '%s': not a valid interface name", bridge);

	slash = strchr(subnet_cidr, '/');
	len = slash ? (size_t)(slash - subnet_cidr) : 0;
	if (slash == NULL || len == 0 || len >= sizeof(addr) || slash[1] == '\0')
		return bk_err_set(err, EINVAL, "subnet '%s': expected ADDRESS/PREFIX", subnet_cidr);
	memcpy(addr, subnet_cidr, len);
	addr[len] = '\0';
	if (ip_parse(addr, &ip) < 0)
		return bk_err_set(err, EINVAL, "subnet '%s': bad address", subnet_cidr);
	for (p = slash + 1; *p; p++) {
		if (*p < '0' || *p > '9' || prefix > 32)
			return bk_err_set(err, EINVAL, "subnet '%s': bad prefix", subnet_cidr);
		prefix = prefix * 10 + (*p - '0');
	}
	/* At least a /30 (network, gateway, one container, broadcast); at most a /8. */
	if (prefix < 8 || prefix > 30)
		return bk_err_set(err, EINVAL, "subnet '%s': the prefix must be within 8..30",
				  subnet_cidr);
	mask = ~0u << (32 - prefix);
	if (ip & ~mask)
		return bk_err_set(err, EINVAL, "subnet '%s': host bits set (did you mean %s/%d?)",
				  subnet_cidr, ip_format(ip & mask, addr), prefix);

	memset(out, 0, sizeof(*out));
	snprintf(out->bridge, sizeof(out->bridge), "%s", bridge);
	out->subnet = ip;
	out->prefix = prefix;
	out->gateway = ip + 1;
	return 0;
}

/* ---- the allocator ------------------------------------------------------- */

struct ipam {
	pthread_mutex_t lock; /* protects everything below */
	int dfd;              /* the store, where ipam.json lives */
	struct net_config cfg;
	uint32_t size; /* addresses in the subnet */
	uint8_t *used; /* bitmap by host number (ip - subnet) */
	struct ipam_lease *leases;
	size_t n, cap;
	uint32_t last; /* last address handed out, 0 if none yet */
};

static bool
bit_get(const struct ipam *ipam, uint32_t host)
{
	return ipam->used[host / 8] & (1u << (host % 8));
}

static void
bit_set(struct ipam *ipam, uint32_t host, bool on)
{
	if (on)
		ipam->used[host / 8] |= (uint8_t)(1u << (host % 8));
	else
		ipam->used[host / 8] &= (uint8_t) ~(1u << (host % 8));
}

/* Network, gateway and broadcast are never handed out. */
static bool
host_usable(const struct ipam *ipam, uint32_t host)
{
	return host >= 2 && host < ipam->size - 1;
}

static ssize_t
lease_find(const struct ipam *ipam, const char *ctr_id)
{
	size_t i;

	for (i = 0; i < ipam->n; i++)
		if (strcmp(ipam->leases[i].ctr_id, ctr_id) == 0)
			return (ssize_t)i;
	return -1;
}

/* Record a lease; false (and nothing changed) if the address is unusable or taken. */
static bool
lease_add(struct ipam *ipam, const char *ctr_id, uint32_t ip)
{
	uint32_t host = ip - ipam->cfg.subnet;

	if ((ip & (~0u << (32 - ipam->cfg.prefix))) != ipam->cfg.subnet ||
	    !host_usable(ipam, host) || bit_get(ipam, host))
		return false;
	if (ipam->n == ipam->cap) {
		ipam->cap = ipam->cap ? ipam->cap * 2 : 16;
		ipam->leases = xrealloc(ipam->leases, ipam->cap * sizeof(*ipam->leases));
	}
	snprintf(ipam->leases[ipam->n].ctr_id, sizeof(ipam->leases[0].ctr_id), "%s", ctr_id);
	ipam->leases[ipam->n].ip = ip;
	ipam->n++;
	bit_set(ipam, host, true);
	return true;
}

static void
lease_remove(struct ipam *ipam, size_t i)
{
	bit_set(ipam, ipam->leases[i].ip - ipam->cfg.subnet, false);
	ipam->leases[i] = ipam->leases[--ipam->n];
}

/* The next free address after the last one handed out, wrapping; 0 if full. */
static uint32_t
next_free(const struct ipam *ipam)
{
	uint32_t start = ipam->last ? ipam->last - ipam->cfg.subnet : 1;
	uint32_t usable = ipam->size - 3, i, host;

	for (i = 1; i <= usable; i++) {
		host = 2 + (start - 2 + i + usable) % usable; /* 2 .. size - 2 */
		if (!bit_get(ipam, host))
			return ipam->cfg.subnet + host;
	}
	return 0;
}

/* ---- persistence --------------------------------------------------------- */

static int
ipam_save(struct ipam *ipam, struct bk_err *err)
{
	cleanup(json_decrefp) json_t *root = json_object();
	cleanup(json_decrefp) json_t *leases = json_object();
	cleanup_free char *text = NULL;
	char buf[INET_ADDRSTRLEN], cidr[INET_ADDRSTRLEN + 4];
	size_t i;

	for (i = 0; i < ipam->n; i++)
		json_object_set_new(leases, ipam->leases[i].ctr_id,
				    json_string(ip_format(ipam->leases[i].ip, buf)));
	snprintf(cidr, sizeof(cidr), "%s/%d", ip_format(ipam->cfg.subnet, buf), ipam->cfg.prefix);
	json_object_set_new(root, "subnet", json_string(cidr));
	if (ipam->last)
		json_object_set_new(root, "last", json_string(ip_format(ipam->last, buf)));
	json_object_set(root, "leases", leases);
	text = json_dumps(root, JSON_INDENT(1) | JSON_SORT_KEYS);
	if (text == NULL)
		abort(); /* jansson fails only when out of memory */
	if (write_file_replace(ipam->dfd, IPAM_FILE, text, strlen(text), err) < 0)
		return bk_err_wrap(err, "save address leases");
	return 0;
}

/* Leases that no longer fit (another subnet, a clash) are dropped: *dropped counts them. */
static int
ipam_load(struct ipam *ipam, size_t *dropped, struct bk_err *err)
{
	cleanup_free char *text = NULL;
	cleanup(json_decrefp) json_t *root = NULL;
	struct bk_err rerr = BK_ERR_INIT;
	json_error_t jerr;
	const char *id, *s;
	json_t *leases, *v;
	uint32_t ip;
	int ret;

	*dropped = 0;
	ret = read_file_at(ipam->dfd, IPAM_FILE, IPAM_FILE_MAX, &text, NULL, &rerr);
	if (ret == -ENOENT)
		return 0; /* no container ever had an address */
	if (ret < 0) {
		if (err)
			*err = rerr;
		return bk_err_wrap(err, "load %s", IPAM_FILE);
	}
	root = json_loads(text, 0, &jerr);
	leases = json_object_get(root, "leases");
	if (!json_is_object(root) || !json_is_object(leases))
		return bk_err_set(err, EINVAL, "load %s: %s", IPAM_FILE,
				  root ? "no \"leases\" object" : jerr.text);
	json_object_foreach (leases, id, v) {
		s = json_string_value(v);
		if (s == NULL || strlen(id) >= BK_ID_SIZE || *id == '\0' || ip_parse(s, &ip) < 0 ||
		    !lease_add(ipam, id, ip)) {
			bk_log(BK_LOG_WARN, "%s: dropping lease %s of '%s'", IPAM_FILE,
			       s ? s : "(bad)", id);
			(*dropped)++;
		}
	}
	s = json_string_value(json_object_get(root, "last"));
	if (s && ip_parse(s, &ip) == 0 && ip - ipam->cfg.subnet < ipam->size &&
	    host_usable(ipam, ip - ipam->cfg.subnet))
		ipam->last = ip;
	return 0;
}

int
ipam_open(int store_dfd, const struct net_config *cfg, struct ipam **out, struct bk_err *err)
{
	struct ipam *ipam = xcalloc(1, sizeof(*ipam));
	struct bk_err serr = BK_ERR_INIT;
	size_t dropped;

	pthread_mutex_init(&ipam->lock, NULL);
	ipam->cfg = *cfg;
	ipam->size = 1u << (32 - cfg->prefix);
	ipam->used = xcalloc(ipam->size / 8 + 1, 1);
	ipam->dfd = fcntl(store_dfd, F_DUPFD_CLOEXEC, 3);
	if (ipam->dfd < 0) {
		bk_err_sys(err, "address leases: dup");
		ipam_close(ipam);
		return -err->code;
	}
	if (ipam_load(ipam, &dropped, err) < 0) {
		ipam_close(ipam);
		return -err->code;
	}
	if (dropped && ipam_save(ipam, &serr) < 0)
		bk_log(BK_LOG_WARN, "%s", serr.msg);
	*out = ipam;
	return 0;
}

void
ipam_close(struct ipam *ipam)
{
	if (ipam == NULL)
		return;
	if (ipam->dfd >= 0)
		close(ipam->dfd);
	pthread_mutex_destroy(&ipam->lock);
	free(ipam->used);
	free(ipam->leases);
	free(ipam);
}

int
ipam_alloc(struct ipam *ipam, const char *ctr_id, uint32_t *ip, struct bk_err *err)
{
	char buf[INET_ADDRSTRLEN];
	uint32_t addr, old_last;
	ssize_t i;
	int ret = 0;

	if (*ctr_id == '\0' || strlen(ctr_id) >= BK_ID_SIZE)
		return bk_err_set(err, EINVAL, "address for '%s': bad container id", ctr_id);
	pthread_mutex_lock(&ipam->lock);
	i = lease_find(ipam, ctr_id);
	if (i >= 0) {
		*ip = ipam->leases[i].ip;
		goto out;
	}
	addr = next_free(ipam);
	if (addr == 0) {
		ret = bk_err_set(err, ENOSPC, "address for %s: all of %s/%d is in use", ctr_id,
				 ip_format(ipam->cfg.subnet, buf), ipam->cfg.prefix);
		goto out;
	}
	lease_add(ipam, ctr_id, addr);
	old_last = ipam->last;
	ipam->last = addr;
	ret = ipam_save(ipam, err);
	if (ret < 0) { /* unsaved, it could be handed out twice after a restart */
		lease_remove(ipam, ipam->n - 1);
		ipam->last = old_last;
		bk_err_wrap(err, "address for %s", ctr_id);
		goto out;
	}
	*ip = addr;
out:
	pthread_mutex_unlock(&ipam->lock);
	return ret;
}

int
ipam_get(struct ipam *ipam, const char *ctr_id, uint32_t *ip)
{
	ssize_t i;

	pthread_mutex_lock(&ipam->lock);
	i = lease_find(ipam, ctr_id);
	if (i >= 0)
		*ip = ipam->leases[i].ip;
	pthread_mutex_unlock(&ipam->lock);
	return i >= 0 ? 0 : -ENOENT;
}

void
ipam_release(struct ipam *ipam, const char *ctr_id)
{
	struct bk_err err = BK_ERR_INIT;
	ssize_t i;

	pthread_mutex_lock(&ipam->lock);
	i = lease_find(ipam, ctr_id);
	if (i >= 0) {
		lease_remove(ipam, (size_t)i);
		/* Unsaved, the lease only comes back after a restart: a leak, not a clash. */
		if (ipam_save(ipam, &err) < 0)
			bk_log(BK_LOG_WARN, "%s", err.msg);
	}
	pthread_mutex_unlock(&ipam->lock);
}

static int
lease_cmp(const void *a, const void *b)
{
	uint32_t x = ((const struct ipam_lease *)a)->ip, y = ((const struct ipam_lease *)b)->ip;

	return x < y ? -1 : x > y;
}

size_t
ipam_list(struct ipam *ipam, struct ipam_lease **out)
{
	size_t n;

	pthread_mutex_lock(&ipam->lock);
	n = ipam->n;
	*out = xcalloc(n ? n : 1, sizeof(**out));
	if (n > 0) /* leases is NULL before the first lease: memcpy from NULL is undefined */
		memcpy(*out, ipam->leases, n * sizeof(**out));
	pthread_mutex_unlock(&ipam->lock);
	qsort(*out, n, sizeof(**out), lease_cmp);
	return n;
}
