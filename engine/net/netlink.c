/*
 * Container networking over rtnetlink with libmnl: the bridge, veth pairs,
 * addresses and routes.  No ip(8) is forked.
 *
 * Host-side messages go through one socket opened in the daemon's network
 * namespace by net_host_open: a netlink socket belongs to the netns it was
 * created in, so it keeps talking to the host whichever thread uses it.  The
 * container side is configured by entering the container's netns on the
 * calling thread, opening a fresh socket there, and going back.
 *
 * A veth pair is created in one message with its peer already inside the
 * container (IFLA_NET_NS_FD), named eth0, with its MAC: a failure leaves
 * nothing behind, and deleting the host end later removes both ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>

#include "net/net.h"
#include "base/base.h"

#define NL_RECV_SIZE 16384 /* replies: one link's attributes at most */
#define NL_MSG_SIZE  1024  /* requests */
#define CTR_IFNAME   "eth0"
#define VETH_ALIAS   "bockerfs " /* + the container's id: see port_setup */

/* ---- one request, one acknowledgement ----------------------------------- */

int
nl_open(struct nl_sock *s, struct bk_err *err)
{
	int one = 1;

	s->sock = mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC);
	if (s->sock == NULL)
		return bk_err_sys(err, "netlink socket");
	if (mnl_socket_bind(s->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		int ret = bk_err_sys(err, "netlink bind");

		mnl_socket_close(s->sock);
		s->sock = NULL;
		return ret;
	}
	/* The kernel's own explanation of a refusal, for the error message. */
	mnl_socket_setsockopt(s->sock, NETLINK_EXT_ACK, &one, sizeof(one));
	s->portid = mnl_socket_get_portid(s->sock);
	s->seq = (unsigned int)time(NULL);
	return 0;
}

void
nl_close(struct nl_sock *s)
{
	if (s->sock)
		mnl_socket_close(s->sock);
	s->sock = NULL;
}

struct nl_call {
	mnl_cb_t cb; /* for data messages, may be NULL */
	void *data;
	char ext[160]; /* the kernel's extended ack message, "" if none */
};

static int
call_data_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_call *call = data;

	return call->cb ? call->cb(nlh, call->data) : MNL_CB_OK;
}

/* NLMSG_ERROR: an ack (error 0) ends the exchange; else errno and the extack text. */
static int
call_error_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	struct nl_call *call = data;
	const struct nlattr *attr;
	size_t off = sizeof(*e);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e))) {
		errno = EBADMSG;
		return MNL_CB_ERROR;
	}
	if (e->error == 0)
		return MNL_CB_STOP;
	if (nlh->nlmsg_flags & NLM_F_ACK_TLVS) {
		/* The TLVs follow our own request, echoed back unless capped. */
		if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
			off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
		if (mnl_nlmsg_size(off) <= nlh->nlmsg_len)
			mnl_attr_for_each (attr, nlh, off)
				if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
				    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
					snprintf(call->ext, sizeof(call->ext), "%s",
						 mnl_attr_get_str(attr));
	}
	errno = -e->error;
	return MNL_CB_ERROR;
}

/*
 * Send nlh (with NLM_F_ACK) and read until its ack, passing data messages to
 * cb.  0, or -errno with ext holding the kernel's explanation if it gave one.
 */
static int
nl_talk(struct nl_sock *s, struct nlmsghdr *nlh, mnl_cb_t cb, void *data, char *ext,
	size_t ext_size)
{
	mnl_cb_t ctl[NLMSG_ERROR + 1] = { [NLMSG_ERROR] = call_error_cb };
	struct nl_call call = { .cb = cb, .data = data };
	char buf[NL_RECV_SIZE] __attribute__((aligned(8)));
	ssize_t n;
	int ret;

	nlh->nlmsg_flags |= NLM_F_ACK;
	nlh->nlmsg_seq = ++s->seq;
	if (mnl_socket_sendto(s->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(s->sock, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		/* ctl covers types 0..NLMSG_ERROR; DONE and OVERRUN keep libmnl's handling. */
		ret = mnl_cb_run2(buf, (size_t)n, nlh->nlmsg_seq, s->portid, call_data_cb, &call,
				  ctl, ARRAY_SIZE(ctl));
		if (ret == MNL_CB_ERROR) {
			ret = errno ? -errno : -EIO;
			if (ext)
				snprintf(ext, ext_size, "%s", call.ext);
			return ret;
		}
		if (ret == MNL_CB_STOP)
			return 0;
	}
}

/* Fill err from a failed exchange: "what: strerror (kernel's explanation)". */
static int __attribute__((format(printf, 4, 5)))
nl_err(struct bk_err *err, int ret, const char *ext, const char *fmt, ...)
{
	char what[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (ext && *ext)
		return bk_err_set(err, -ret, "%s: %s (%s)", what, strerror(-ret), ext);
	return bk_err_set(err, -ret, "%s: %s", what, strerror(-ret));
}

static struct nlmsghdr *
msg_start(char *buf, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	return nlh;
}

static struct ifinfomsg *
put_ifinfo(struct nlmsghdr *nlh, int index, unsigned int up)
{
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = index;
	ifi->ifi_flags = up;
	ifi->ifi_change = up;
	return ifi;
}

/* ---- links --------------------------------------------------------------- */

struct link_info {
	int index;
	unsigned int master;                         /* IFLA_MASTER, 0 if none */
	char kind[16];                               /* IFLA_INFO_KIND, "" if none */
	char alias[sizeof(VETH_ALIAS) + BK_ID_SIZE]; /* IFLA_IFALIAS, "" if none */
};

/* A string attribute's value into buf, cut to size; untouched if it is not a string. */
static void
attr_str(const struct nlattr *attr, char *buf, size_t size)
{
	if (mnl_attr_validate(attr, MNL_TYPE_STRING) == 0)
		snprintf(buf, size, "%.*s",
			 (int)strnlen(mnl_attr_get_str(attr), mnl_attr_get_payload_len(attr)),
			 mnl_attr_get_str(attr));
}

static int
link_info_cb(const struct nlmsghdr *nlh, void *data)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct link_info *li = data;
	const struct nlattr *attr, *nested;

	if (nlh->nlmsg_type != RTM_NEWLINK || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ifi)))
		return MNL_CB_OK;
	li->index = ifi->ifi_index;
	mnl_attr_for_each (attr, nlh, sizeof(*ifi)) {
		switch (mnl_attr_get_type(attr)) {
		case IFLA_MASTER:
			if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
				li->master = mnl_attr_get_u32(attr);
			break;
		case IFLA_IFALIAS:
			attr_str(attr, li->alias, sizeof(li->alias));
			break;
		case IFLA_LINKINFO:
			if (mnl_attr_validate(attr, MNL_TYPE_NESTED) < 0)
				break;
			mnl_attr_for_each_nested (nested, attr)
				if (mnl_attr_get_type(nested) == IFLA_INFO_KIND)
					attr_str(nested, li->kind, sizeof(li->kind));
			break;
		}
	}
	return MNL_CB_OK;
}

/* Index and kind of link name: 0, -ENODEV if there is none, or -errno. */
static int
link_get(struct nl_sock *s, const char *name, struct link_info *li, char *ext, size_t ext_size)
{
	char buf[NL_MSG_SIZE] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = msg_start(buf, RTM_GETLINK, 0);

	put_ifinfo(nlh, 0, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	memset(li, 0, sizeof(*li));
	return nl_talk(s, nlh, link_info_cb, li, ext, ext_size);
}

/* Bring up the link with this index, or (index 0) this name. */
static int
link_up(struct nl_sock *s, int index, const char *name, char *ext, size_t ext_size)
{
	char buf[NL_MSG_SIZE] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = msg_start(buf, RTM_NEWLINK, 0);

	put_ifinfo(nlh, index, IFF_UP);
	if (index == 0)
		mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	return nl_talk(s, nlh, NULL, NULL, ext, ext_size);
}

static int
link_del(struct nl_sock *s, const char *name, char *ext, size_t ext_size)
{
	char buf[NL_MSG_SIZE] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = msg_start(buf, RTM_DELLINK, 0);

	put_ifinfo(nlh, 0, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	return nl_talk(s, nlh, NULL, NULL, ext, ext_size);
}

/*
 * A bridge with a fixed MAC: left to itself a bridge takes the lowest MAC of
 * its ports, so it would change as containers come and go and leave stale
 * gateway entries in their ARP caches.
 */
static int
bridge_create(struct nl_sock *s, const char *name, const uint8_t mac[6], char *ext, size_t ext_size)
{
	char buf[NL_MSG_SIZE] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = msg_start(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct nlattr *info;

	put_ifinfo(nlh, 0, IFF_UP);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
	mnl_attr_nest_end(nlh, info);
	return nl_talk(s, nlh, NULL, NULL, ext, ext_size);
}

/*
 * One message for the whole pair: host end on the bridge and up (for a
 * container), or on none and down (made ahead, net_spare_make); the peer
 * named eth0 created directly in the container's netns, with its MAC if one
 * is given.
 */
static int
veth_create(struct nl_sock *s, const char *host_name, int bridge_index, unsigned int up, int nsfd,
	    const uint8_t *mac, char *ext, size_t ext_size)
{
	char buf[NL_MSG_SIZE] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = msg_start(buf, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
	struct nlattr *info, *data, *peer;
	struct ifinfomsg *pifi;

	put_ifinfo(nlh, 0, up);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, host_name);
	if (bridge_index > 0)
		mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)bridge_index);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
	peer = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
	/*
	 * The peer's attributes start with its own struct ifinfomsg.  It
	 * cannot be brought up here: a veth end opens only once its pair is
	 * complete (ENOTCONN otherwise), so that is done from inside.
	 */
	pifi = mnl_nlmsg_get_payload_tail(nlh);
	memset(pifi, 0, sizeof(*pifi));
	pifi->ifi_family = AF_UNSPEC;
	nlh->nlmsg_len += MNL_ALIGN(sizeof(*pifi));
	mnl_attr_put_strz(nlh, IFLA_IFNAME, CTR_IFNAME);
	if (mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
	mnl_attr_put_u32(nlh, IFLA_NET_NS_FD, (uint32_t)nsfd);
	mnl_attr_nest_end(nlh, peer);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return nl_talk(s, nlh, NULL, NULL, ext, ext_size);
}

/* The alias that marks a host end as this container's: "bockerfs ID". */
static void
veth_alias(const char *ctr_id, char *buf, size_t size)
{
	snprintf(buf, size, VETH_ALIAS "%s", ctr_id);
}

/*
 * The host end's bridge port settings, and its alias.  Hairpin mode: frames
 * may go back out of the port they came in by.  With br_netfilter loaded
 * (bridge-nf-call-iptables, as on most docker hosts and on this one) a
 * container reaching its own published port through a host address is
 * DNATed while being bridged, and the bridge would drop the frame on its way
 * back to the same port.  The alias names the container, so that a later
 * start can tell its own leftover veth from a link that only has its name
 * (veth_setup).  (A new link takes no alias: this message is the first that
 * can give it one.)
 */
static int
port_setup(struct nl_sock *s, const char *name, const char *alias, char *ext, size_t ext_size)
{
	char buf[NL_MSG_SIZE] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = msg_start(buf, RTM_NEWLINK, 0);
	struct nlattr *info, *data;

	put_ifinfo(nlh, 0, 0);
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	mnl_attr_put(nlh, IFLA_IFALIAS, strlen(alias), alias);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_SLAVE_KIND, "bridge");
	data = mnl_attr_nest_start(nlh, IFLA_INFO_SLAVE_DATA);
	mnl_attr_put_u8(nlh, IFLA_BRPORT_MODE, 1);
	mnl_attr_nest_end(nlh, data);
	mnl_attr_nest_end(nlh, info);
	return nl_talk(s, nlh, NULL, NULL, ext, ext_size);
}

/* ---- addresses and routes ------------------------------------------------ */

/* ip/prefix on link index; replace: succeed if it is already there. */
static int
addr_add(struct nl_sock *s, int index, uint32_t ip, int prefix, bool replace, char *ext,
	 size_t ext_size)
{
	char buf[NL_MSG_SIZE] __attribute__((aligned(8)));
	struct nlmsghdr *nlh =
	    msg_start(buf, RTM_NEWADDR, NLM_F_CREATE | (replace ? NLM_F_REPLACE : NLM_F_EXCL));
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	uint32_t mask = prefix ? ~0u << (32 - prefix) : 0;

	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (unsigned char)prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (unsigned int)index;
	mnl_attr_put_u32(nlh, IFA_LOCAL, htonl(ip));
	mnl_attr_put_u32(nlh, IFA_ADDRESS, htonl(ip));
	mnl_attr_put_u32(nlh, IFA_BROADCAST, htonl(ip | ~mask));
	return nl_talk(s, nlh, NULL, NULL, ext, ext_size);
}

static int
route_add_default(struct nl_sock *s, int index, uint32_t gateway, char *ext, size_t ext_size)
{
	char buf[NL_MSG_SIZE] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = msg_start(buf, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL);
	struct rtmsg *rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));

	rtm->rtm_family = AF_INET;
	rtm->rtm_dst_len = 0;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_STATIC;
	rtm->rtm_scope = RT_SCOPE_UNIVERSE;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put_u32(nlh, RTA_GATEWAY, htonl(gateway));
	mnl_attr_put_u32(nlh, RTA_OIF, (uint32_t)index);
	return nl_talk(s, nlh, NULL, NULL, ext, ext_size);
}

/* ---- network namespaces -------------------------------------------------- */

/* Write a /proc/sys file: of the netns of the calling thread, which opens it. */
static int
sysctl_write(const char *path, const char *value, struct bk_err *err)
{
	cleanup_close int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write_all(fd, value, strlen(value)) < 0)
		return bk_err_sys(err, "write %s", path);
	return 0;
}

/* The network namespace the calling thread is in. */
static int
netns_self(dev_t *dev, ino_t *ino, struct bk_err *err)
{
	struct stat st;

	if (stat("/proc/thread-self/ns/net", &st) < 0)
		return bk_err_sys(err, "stat /proc/thread-self/ns/net");
	*dev = st.st_dev;
	*ino = st.st_ino;
	return 0;
}

/*
 * An fd for pid's network namespace, refused (EINVAL) if it is the one
 * identified by dev/ino: a container that shares the host's netns must never
 * get an eth0 or routes configured "inside" it, which would be the host.
 */
static int
netns_open(pid_t pid, dev_t dev, ino_t ino, struct bk_err *err)
{
	cleanup_close int fd = -1;
	char path[64];
	struct stat st;

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return bk_err_sys(err, "open %s", path);
	if (fstat(fd, &st) < 0)
		return bk_err_sys(err, "stat %s", path);
	if (st.st_dev == dev && st.st_ino == ino)
		return bk_err_set(err, EINVAL, "process %d is in the host's network namespace",
				  (int)pid);
	return take_fd(fd);
}

typedef int (*netns_fn)(struct nl_sock *s, void *arg, struct bk_err *err);

/*
 * Run fn with a fresh rtnetlink socket inside the netns nsfd, on the calling
 * thread, then come back.  setns(CLONE_NEWNET) moves only this thread.
 */
static int
in_netns(int nsfd, netns_fn fn, void *arg, struct bk_err *err)
{
	cleanup_close int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	struct nl_sock s = { 0 };
	int ret;

	if (self < 0)
		return bk_err_sys(err, "open /proc/thread-self/ns/net");
	if (setns(nsfd, CLONE_NEWNET) < 0)
		return bk_err_sys(err, "enter the container's network namespace");
	ret = nl_open(&s, err);
	if (ret == 0) {
		ret = fn(&s, arg, err);
		nl_close(&s);
	}
	if (setns(self, CLONE_NEWNET) < 0) {
		/*
		 * Cannot happen short of the kernel refusing our own netns
		 * back.  A daemon thread left in a container's netns would
		 * open its sockets and write its sysctls there: stop instead.
		 */
		bk_log(BK_LOG_ERROR, "cannot return to the daemon's network namespace: %s",
		       strerror(errno));
		abort();
	}
	return ret;
}

struct ctr_conf {
	bool eth; /* false: lo only */
	uint32_t ip, gateway;
	int prefix;
};

/*
 * Inside the container: lo up; eth0 gets its address, comes up (which adds
 * the subnet's route), then the default route via the gateway.
 */
static int
ctr_configure(struct nl_sock *s, void *arg, struct bk_err *err)
{
	const struct ctr_conf *c = arg;
	struct link_info li;
	char ext[160] = "", ipbuf[INET_ADDRSTRLEN];
	int ret;

	ret = link_up(s, 0, "lo", ext, sizeof(ext));
	if (ret < 0)
		return nl_err(err, ret, ext, "bring up %s", "lo");
	if (!c->eth)
		return 0;
	ret = link_get(s, CTR_IFNAME, &li, ext, sizeof(ext));
	if (ret < 0)
		return nl_err(err, ret, ext, "find %s", CTR_IFNAME);
	ret = addr_add(s, li.index, c->ip, c->prefix, false, ext, sizeof(ext));
	if (ret < 0)
		return nl_err(err, ret, ext, "add address %s", ip_format(c->ip, ipbuf));
	ret = link_up(s, li.index, NULL, ext, sizeof(ext));
	if (ret < 0)
		return nl_err(err, ret, ext, "bring up %s", CTR_IFNAME);
	ret = route_add_default(s, li.index, c->gateway, ext, sizeof(ext));
	if (ret < 0)
		return nl_err(err, ret, ext, "add default route via %s",
			      ip_format(c->gateway, ipbuf));
	return 0;
}

/* ---- the host ------------------------------------------------------------ */

void
net_ifname(const char *ctr_id, char name[IFNAMSIZ])
{
	uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a: stable across versions and hosts */
	const unsigned char *p;

	for (p = (const unsigned char *)ctr_id; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	/* "bk" + 11 hex digits = 13 characters, within IFNAMSIZ - 1. */
	snprintf(name, IFNAMSIZ, "bk%011" PRIx64, (uint64_t)(h & 0xfffffffffffULL));
}

bool
net_spare_name_valid(const char *name)
{
	size_t i;

	if (strncmp(name, "bkq", 3) != 0 || strlen(name) != 15)
		return false;
	for (i = 3; i < 15; i++)
		if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f')))
			return false;
	return true;
}

/* route_localnet: see nat.c, for published ports on 127.0.0.1. */
static int
bridge_sysctls(const char *bridge, struct bk_err *err)
{
	char path[128], dev[IFNAMSIZ];
	size_t i;

	/* In sysctl paths a '.' in an interface name becomes '/'. */
	snprintf(dev, sizeof(dev), "%s", bridge);
	for (i = 0; dev[i]; i++)
		if (dev[i] == '.')
			dev[i] = '/';
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/route_localnet", dev);
	return sysctl_write(path, "1", err);
}

/* The bridge, created if missing, with the gateway address, up.  h->nl_lock held. */
static int
bridge_setup(struct net_host *h, struct bk_err *err)
{
	const struct net_config *cfg = &h->cfg;
	struct link_info li;
	char ext[160] = "", ipbuf[INET_ADDRSTRLEN];
	uint8_t mac[6];
	int ret;

	ret = link_get(&h->nl, cfg->bridge, &li, ext, sizeof(ext));
	if (ret == -ENODEV) {
		mac_for_ip(cfg->gateway, mac); /* no container ever gets the gateway's address */
		ret = bridge_create(&h->nl, cfg->bridge, mac, ext, sizeof(ext));
		if (ret < 0 && ret != -EEXIST) /* EEXIST: someone else just made it */
			return nl_err(err, ret, ext, "create bridge '%s'", cfg->bridge);
		ret = link_get(&h->nl, cfg->bridge, &li, ext, sizeof(ext));
	}
	if (ret < 0)
		return nl_err(err, ret, ext, "find bridge '%s'", cfg->bridge);
	if (strcmp(li.kind, "bridge") != 0)
		return bk_err_set(err, EEXIST, "'%s' exists and is not a bridge", cfg->bridge);
	ret = addr_add(&h->nl, li.index, cfg->gateway, cfg->prefix, true, ext, sizeof(ext));
	if (ret < 0)
		return nl_err(err, ret, ext, "add the gateway address %s",
			      ip_format(cfg->gateway, ipbuf));
	ret = link_up(&h->nl, li.index, NULL, ext, sizeof(ext));
	if (ret < 0)
		return nl_err(err, ret, ext, "bring up '%s'", cfg->bridge);
	if (bridge_sysctls(cfg->bridge, err) < 0)
		return -err->code;
	h->bridge_index = li.index;
	return 0;
}

int
net_host_open(const struct net_config *cfg, struct net_host **out, struct bk_err *err)
{
	struct net_host *h = xcalloc(1, sizeof(*h));
	int ret;

	h->cfg = *cfg;
	pthread_mutex_init(&h->nl_lock, NULL);
	pthread_mutex_init(&h->later_lock, NULL);
	pthread_cond_init(&h->later_done, NULL);
	pthread_mutex_init(&h->nat_lock, NULL);
	ret = netns_self(&h->ns_dev, &h->ns_ino, err);
	if (ret == 0)
		ret = nl_open(&h->nl, err);
	if (ret == 0)
		ret = bridge_setup(h, err);
	if (ret == 0)
		ret = sysctl_write("/proc/sys/net/ipv4/ip_forward", "1", err);
	if (ret == 0)
		ret = nat_open(h, err);
	if (ret < 0) {
		net_host_close(h, false);
		return bk_err_wrap(err, "host network");
	}
	*out = h;
	return 0;
}

void
net_host_close(struct net_host *h, bool remove_rules)
{
	if (h == NULL)
		return;
	/* Deletions still under way use h. */
	pthread_mutex_lock(&h->later_lock);
	while (h->later > 0)
		pthread_cond_wait(&h->later_done, &h->later_lock);
	pthread_mutex_unlock(&h->later_lock);
	pthread_cond_destroy(&h->later_done);
	pthread_mutex_destroy(&h->later_lock);
	nat_close(h, remove_rules);
	nl_close(&h->nl);
	pthread_mutex_destroy(&h->nl_lock);
	pthread_mutex_destroy(&h->nat_lock);
	free(h);
}

const struct net_config *
net_host_config(const struct net_host *h)
{
	return &h->cfg;
}

/*
 * A link named like ctr_id's host end that a start may delete: a veth marked
 * as ctr_id's (port_setup), or, unmarked, one on our bridge (made by a daemon
 * from before the mark).  Either is left by an earlier run of this container,
 * which is not running now that it starts again.  Anything else only has the
 * name: another daemon's (its bridge is not ours), or not ours at all.
 */
static bool
veth_is_stale(const struct net_host *h, const struct link_info *li, const char *ctr_id)
{
	char alias[sizeof(VETH_ALIAS) + BK_ID_SIZE];

	if (strcmp(li->kind, "veth") != 0)
		return false;
	veth_alias(ctr_id, alias, sizeof(alias));
	if (li->alias[0])
		return strcmp(li->alias, alias) == 0;
	return h->bridge_index != 0 && li->master == (unsigned int)h->bridge_index;
}

/*
 * A link message about a port failed: if our bridge is gone or was made
 * again behind our back, set it up again (h->nl_lock held).  1: redone (the
 * message may be tried again), 0: the bridge is fine (a real failure), or
 * -errno.
 */
static int
bridge_redo(struct net_host *h, struct bk_err *err)
{
	struct link_info li;

	if (link_get(&h->nl, h->cfg.bridge, &li, NULL, 0) == 0 && li.index == h->bridge_index)
		return 0;
	bk_log(BK_LOG_WARN, "bridge '%s' went away: setting it up again", h->cfg.bridge);
	return bridge_setup(h, err) < 0 ? -err->code : 1;
}

#define VETH_TRIES 5 /* creations per start, when the name is taken */

/*
 * Create the pair, h->nl_lock held.  The host end's name comes from the id,
 * so a start may find it still taken by the previous run's veth, which goes
 * with that run's network namespace in the kernel's own time (network_detach
 * does not wait for it: that would cost every exit an RCU grace period).  So
 * EEXIST is expected after a quick restart, and the link may be gone by the
 * time it is looked up: then the creation is simply tried again.  A link
 * that is still there is deleted if it is this container's (veth_is_stale),
 * and refused otherwise.  Either way the fresh start never waits: only a
 * restart that finds its old veth does.  A bridge deleted or recreated
 * behind our back is set up again once, rather than failing every start.
 */
static int
veth_setup(struct net_host *h, const char *ctr_id, const char *ifname, int nsfd,
	   const uint8_t mac[6], struct bk_err *err)
{
	char alias[sizeof(VETH_ALIAS) + BK_ID_SIZE];
	bool bridge_redone = false;
	char ext[160] = "";
	struct link_info li;
	int ret, tries;

	for (tries = 1;; tries++) {
		ret = veth_create(&h->nl, ifname, h->bridge_index, IFF_UP, nsfd, mac, ext,
				  sizeof(ext));
		if (ret == 0) {
			veth_alias(ctr_id, alias, sizeof(alias));
			ret = port_setup(&h->nl, ifname, alias, ext, sizeof(ext));
			if (ret == 0)
				return 0;
			link_del(&h->nl, ifname, NULL, 0);
			return nl_err(err, ret, ext, "set up bridge port '%s'", ifname);
		}
		if (ret == -EEXIST && tries < VETH_TRIES) {
			int gret;

			failpoint("net.veth-exists", NULL);
			gret = link_get(&h->nl, ifname, &li, NULL, 0);
			if (gret == -ENODEV)
				continue; /* gone with its netns meanwhile (or the peer's eth0
					     exists) */
			if (gret < 0)
				break;
			if (!veth_is_stale(h, &li, ctr_id))
				return bk_err_set(
				    err, EEXIST,
				    "create veth '%s': the name is taken by a link that is "
				    "not this container's (kind '%s', alias '%s')",
				    ifname, li.kind, li.alias);
			bk_log(BK_LOG_INFO, "removing the previous run's veth '%s'", ifname);
			gret = link_del(&h->nl, ifname, NULL, 0);
			if (gret < 0 && gret != -ENODEV)
				break;
		} else if (ret != -EEXIST && !bridge_redone) {
			int redo = bridge_redo(h, err);

			if (redo < 0)
				return redo;
			if (redo == 0)
				break; /* the bridge is fine: a real failure */
			bridge_redone = true;
		} else {
			break;
		}
	}
	return nl_err(err, ret, ext, "create veth '%s'", ifname);
}

/* EINVAL unless ip is a container's address in cfg's subnet. */
static int
ip_check(const struct net_config *cfg, const char *ctr_id, uint32_t ip, struct bk_err *err)
{
	uint32_t mask = ~0u << (32 - cfg->prefix);
	char ipbuf[INET_ADDRSTRLEN];

	if ((ip & mask) != cfg->subnet || ip == cfg->subnet || ip == cfg->gateway ||
	    ip == (cfg->subnet | ~mask))
		return bk_err_set(err, EINVAL, "network for %s: address %s is not for a container",
				  ctr_id, ip_format(ip, ipbuf));
	return 0;
}

int
net_attach(struct net_host *h, const char *ctr_id, pid_t pid, uint32_t ip, const uint8_t mac[6],
	   struct bk_err *err)
{
	const struct net_config *cfg = &h->cfg;
	struct ctr_conf conf = {
		.eth = true, .ip = ip, .gateway = cfg->gateway, .prefix = cfg->prefix
	};
	cleanup_close int nsfd = -1;
	char ifname[IFNAMSIZ];
	int ret;

	if (ip_check(cfg, ctr_id, ip, err) < 0)
		return -err->code;
	net_ifname(ctr_id, ifname);
	nsfd = netns_open(pid, h->ns_dev, h->ns_ino, err);
	if (nsfd < 0)
		return bk_err_wrap(err, "network for %s", ctr_id);

	pthread_mutex_lock(&h->nl_lock);
	ret = veth_setup(h, ctr_id, ifname, nsfd, mac, err);
	pthread_mutex_unlock(&h->nl_lock);
	if (ret < 0)
		return bk_err_wrap(err, "network for %s", ctr_id);

	ret = in_netns(nsfd, ctr_configure, &conf, err);
	if (ret < 0) {
		net_detach(h, ctr_id); /* takes eth0 with it */
		return bk_err_wrap(err, "network for %s", ctr_id);
	}
	return 0;
}

/*
 * Deleting a link returns only after RCU grace periods (15-40 ms here), long
 * after the kernel's rtnl lock is released, so it goes through a socket of
 * its own rather than holding nl_lock and stalling other starts.  That
 * socket is only opened once this thread is known to be in the host's
 * netns; otherwise (never expected) the shared socket is used.
 */
/* Delete ifname if it is ctr_id's veth (veth_is_stale); a stranger's link of that name stays. */
static int
del_if_ours(struct net_host *h, struct nl_sock *sock, const char *ifname, const char *ctr_id,
	    char *ext, size_t ext_size)
{
	struct link_info li;
	int ret = link_get(sock, ifname, &li, ext, ext_size);

	if (ret < 0)
		return ret;
	if (!veth_is_stale(h, &li, ctr_id)) {
		bk_log(BK_LOG_DEBUG, "network for %s: '%s' is not its veth: left alone", ctr_id,
		       ifname);
		return 0;
	}
	return link_del(sock, ifname, ext, ext_size);
}

struct deletion {
	const char *ifname, *ctr_id; /* by name, if ours (del_if_ours) */
	int index;                   /* else by index */
};

/* One deletion on the host's socket sock. */
static int
delete_on(struct net_host *h, struct nl_sock *sock, const struct deletion *d, char *ext,
	  size_t ext_size)
{
	char buf[NL_MSG_SIZE] __attribute__((aligned(8)));
	struct nlmsghdr *nlh;

	if (d->ifname)
		return del_if_ours(h, sock, d->ifname, d->ctr_id, ext, ext_size);
	nlh = msg_start(buf, RTM_DELLINK, 0);
	put_ifinfo(nlh, d->index, 0);
	return nl_talk(sock, nlh, NULL, NULL, ext, ext_size);
}

/* d, through a socket of its own when this thread is in the host's netns (see above). */
static int
host_delete(struct net_host *h, const struct deletion *d, char *ext, size_t ext_size)
{
	struct nl_sock own = { 0 };
	dev_t dev = 0;
	ino_t ino = 0;
	int ret;

	if (netns_self(&dev, &ino, NULL) == 0 && dev == h->ns_dev && ino == h->ns_ino &&
	    nl_open(&own, NULL) == 0) {
		ret = delete_on(h, &own, d, ext, ext_size);
		nl_close(&own);
		return ret;
	}
	pthread_mutex_lock(&h->nl_lock);
	ret = delete_on(h, &h->nl, d, ext, ext_size);
	pthread_mutex_unlock(&h->nl_lock);
	return ret;
}

void
net_detach_name(struct net_host *h, const char *ifname, const char *ctr_id)
{
	struct deletion d = { .ifname = ifname, .ctr_id = ctr_id };
	char ext[160] = "";
	int ret = host_delete(h, &d, ext, sizeof(ext));

	if (ret < 0 && ret != -ENODEV)
		bk_log(BK_LOG_WARN, "network for %s: delete veth '%s': %s%s%s", ctr_id, ifname,
		       strerror(-ret), *ext ? ": " : "", ext);
}

void
net_detach(struct net_host *h, const char *ctr_id)
{
	char ifname[IFNAMSIZ];

	net_ifname(ctr_id, ifname);
	net_detach_name(h, ifname, ctr_id);
}

struct later {
	struct net_host *h;
	char ifname[IFNAMSIZ];
	char ctr_id[BK_ID_SIZE];
};

static void *
later_main(void *arg)
{
	struct later *l = arg;
	struct net_host *h = l->h;

	net_detach_name(h, l->ifname, l->ctr_id);
	free(l);
	pthread_mutex_lock(&h->later_lock);
	if (--h->later == 0)
		pthread_cond_broadcast(&h->later_done);
	pthread_mutex_unlock(&h->later_lock);
	return NULL;
}

void
net_detach_later(struct net_host *h, const char *ifname, const char *ctr_id)
{
	struct later *l = xcalloc(1, sizeof(*l));
	pthread_attr_t attr;
	pthread_t t;

	l->h = h;
	snprintf(l->ifname, sizeof(l->ifname), "%s", ifname);
	snprintf(l->ctr_id, sizeof(l->ctr_id), "%s", ctr_id);
	pthread_mutex_lock(&h->later_lock);
	h->later++;
	pthread_mutex_unlock(&h->later_lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &attr, later_main, l) != 0)
		later_main(l); /* now, then */
	pthread_attr_destroy(&attr);
}

int
net_lo_up(pid_t pid, struct bk_err *err)
{
	struct ctr_conf conf = { .eth = false };
	cleanup_close int nsfd = -1;
	dev_t dev = 0;
	ino_t ino = 0;

	if (netns_self(&dev, &ino, err) < 0)
		return -err->code;
	nsfd = netns_open(pid, dev, ino, err);
	if (nsfd < 0)
		return bk_err_wrap(err, "loopback");
	if (in_netns(nsfd, ctr_configure, &conf, err) < 0)
		return bk_err_wrap(err, "loopback");
	return 0;
}

/* ---- network namespaces made ahead (netpool.c keeps them) ----------------- */

/*
 * Mark the host end index as a container's, put it on the bridge and bring
 * it up.  Not renamed: a rename waits for an expedited RCU grace period
 * (~0.8 ms here, most of what the pair's creation costs).
 */
static int
link_claim(struct nl_sock *s, int index, const char *alias, int master, char *ext, size_t ext_size)
{
	char buf[NL_MSG_SIZE] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = msg_start(buf, RTM_NEWLINK, 0);

	put_ifinfo(nlh, index, IFF_UP);
	mnl_attr_put(nlh, IFLA_IFALIAS, strlen(alias), alias);
	mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)master);
	return nl_talk(s, nlh, NULL, NULL, ext, ext_size);
}

/* Give link index its MAC and bring it up. */
static int
link_mac_up(struct nl_sock *s, int index, const uint8_t mac[6], char *ext, size_t ext_size)
{
	char buf[NL_MSG_SIZE] __attribute__((aligned(8)));
	struct nlmsghdr *nlh = msg_start(buf, RTM_NEWLINK, 0);

	put_ifinfo(nlh, index, IFF_UP);
	mnl_attr_put(nlh, IFLA_ADDRESS, 6, mac);
	return nl_talk(s, nlh, NULL, NULL, ext, ext_size);
}

void
net_spare_free(struct net_spare *s)
{
	nl_close(&s->nl);
	if (s->nsfd >= 0)
		close(s->nsfd);
	s->nsfd = -1;
}

/*
 * A new network namespace, entered by this thread only for as long as it
 * takes to open it, bring lo up and open the socket that configures eth0
 * later (a netlink socket stays in the netns it was opened in).
 */
static int
spare_netns(struct net_spare *s, struct bk_err *err)
{
	cleanup_close int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	char ext[160] = "";
	int ret;

	if (self < 0)
		return bk_err_sys(err, "open /proc/thread-self/ns/net");
	if (unshare(CLONE_NEWNET) < 0)
		return bk_err_sys(err, "new network namespace");
	s->nsfd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	ret =
	    s->nsfd < 0 ? bk_err_sys(err, "open the new network namespace") : nl_open(&s->nl, err);
	if (ret == 0) {
		ret = link_up(&s->nl, 0, "lo", ext, sizeof(ext));
		if (ret < 0)
			nl_err(err, ret, ext, "bring up %s", "lo");
	}
	if (setns(self, CLONE_NEWNET) < 0) {
		/* As in in_netns: a daemon thread must never stay in another netns. */
		bk_log(BK_LOG_ERROR, "cannot return to the daemon's network namespace: %s",
		       strerror(errno));
		abort();
	}
	return ret;
}

int
net_spare_make(struct net_host *h, struct nl_sock *host, struct net_spare *out, struct bk_err *err)
{
	struct net_spare s = { .nsfd = -1 };
	struct link_info li;
	char ext[160] = "";
	uint64_t rnd = 0;
	int ret;

	if (spare_netns(&s, err) < 0)
		goto fail;
	if (h == NULL) {
		*out = s;
		return 0;
	}
	/* Random, not a counter: daemons on other stores share the host's link names. */
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		bk_err_sys(err, "getrandom");
		goto fail;
	}
	snprintf(s.host_name, sizeof(s.host_name), "bkq%012" PRIx64,
		 (uint64_t)(rnd & 0xffffffffffffULL));
	ret = veth_create(host, s.host_name, 0, 0, s.nsfd, NULL, ext, sizeof(ext));
	if (ret < 0) {
		nl_err(err, ret, ext, "create veth '%s'", s.host_name);
		goto fail;
	}
	/* From here on the pair goes with the namespace, whatever fails. */
	ret = link_get(host, s.host_name, &li, ext, sizeof(ext));
	if (ret == 0) {
		s.host_index = li.index;
		ret = link_get(&s.nl, CTR_IFNAME, &li, ext, sizeof(ext));
		s.eth_index = li.index;
	}
	if (ret < 0) {
		nl_err(err, ret, ext, "set up veth '%s'", s.host_name);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	net_spare_free(&s);
	return bk_err_wrap(err, "network made ahead");
}

/*
 * The host end becomes ctr_id's (its mark, the bridge as it is now, up),
 * h->nl_lock held.  A bridge deleted or recreated behind our back is set up
 * again once, as in veth_setup.
 */
static int
spare_claim(struct net_host *h, const struct net_spare *s, const char *ctr_id, struct bk_err *err)
{
	char alias[sizeof(VETH_ALIAS) + BK_ID_SIZE], ext[160] = "";
	int ret, redo;

	veth_alias(ctr_id, alias, sizeof(alias));
	ret = link_claim(&h->nl, s->host_index, alias, h->bridge_index, ext, sizeof(ext));
	if (ret < 0 && (redo = bridge_redo(h, err)) != 0) {
		if (redo < 0)
			return redo;
		ret = link_claim(&h->nl, s->host_index, alias, h->bridge_index, ext, sizeof(ext));
	}
	/* A port's settings can only be given once it is one. */
	if (ret == 0)
		ret = port_setup(&h->nl, s->host_name, alias, ext, sizeof(ext));
	if (ret < 0)
		return nl_err(err, ret, ext, "attach veth '%s'", s->host_name);
	return 0;
}

/* Delete s's pair now (its host end, by index), rather than with its namespace. */
void
net_spare_drop(struct net_host *h, struct net_spare *s)
{
	if (s->nsfd >= 0 && h && s->host_index > 0) {
		struct deletion d = { .index = s->host_index };
		char ext[160] = "";
		int ret = host_delete(h, &d, ext, sizeof(ext));

		if (ret < 0 && ret != -ENODEV)
			bk_log(BK_LOG_WARN, "delete veth '%s': %s%s%s", s->host_name,
			       strerror(-ret), *ext ? ": " : "", ext);
	}
	net_spare_free(s);
}

int
net_spare_attach(struct net_host *h, struct net_spare *s, const char *ctr_id, uint32_t ip,
		 const uint8_t mac[6], struct bk_err *err)
{
	const struct net_config *cfg = &h->cfg;
	char ext[160] = "", ipbuf[INET_ADDRSTRLEN];
	int ret;

	if (ip_check(cfg, ctr_id, ip, err) < 0)
		return -err->code;
	pthread_mutex_lock(&h->nl_lock);
	ret = spare_claim(h, s, ctr_id, err);
	pthread_mutex_unlock(&h->nl_lock);
	if (ret < 0)
		return bk_err_wrap(err, "network for %s", ctr_id);
	/* Inside, through the socket opened there: no setns on this thread. */
	ret = addr_add(&s->nl, s->eth_index, ip, cfg->prefix, false, ext, sizeof(ext));
	if (ret < 0) {
		nl_err(err, ret, ext, "add address %s", ip_format(ip, ipbuf));
		goto fail;
	}
	ret = link_mac_up(&s->nl, s->eth_index, mac, ext, sizeof(ext));
	if (ret < 0) {
		nl_err(err, ret, ext, "bring up %s", CTR_IFNAME);
		goto fail;
	}
	ret = route_add_default(&s->nl, s->eth_index, cfg->gateway, ext, sizeof(ext));
	if (ret < 0) {
		nl_err(err, ret, ext, "add default route via %s", ip_format(cfg->gateway, ipbuf));
		goto fail;
	}
	return 0;
fail:
	net_spare_drop(h, s);
	return bk_err_wrap(err, "network for %s", ctr_id);
}
