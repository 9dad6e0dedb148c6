/*
 * Self test of the engine's networking (engine/net/: netlink.c, nat.c, ipam.c,
 * ports.c) against the real kernel, run by tests/net/run.sh inside a
 * throwaway network namespace that plays the host:
 *
 *	ip netns exec bktNNN-host net_selftest /run/netns/bktNNN-up 198.18.0.2 198.18.0.1
 *
 * argv: the "upstream" namespace (reached from the host by a veth the script
 * made, with no route back to the containers' subnet), its address, and the
 * host's address on that link.  It refuses to run unless it is in a netns
 * other than the one run.sh started in (BK_NET_OUTER) and PID 1's.
 *
 * "Containers" are children that unshare(CLONE_NEWNET) and serve, on tcp 80
 * and udp 53, one line: "NAME PEER-ADDRESS".  Every child dies with this
 * process (PR_SET_PDEATHSIG) and is killed and reaped by pid at exit.
 * Output is TAP; timings are "#" lines.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <nftables/libnftables.h>

#include "net/net.h"
#include "tap.h"
#include "base/base.h"

#define MAX_CHILDREN 64
#define NPAR         20 /* containers attached in parallel */
#define NTHREADS     4

static const char *up_ns_path;
static uint32_t up_ip, host_ip;
static struct net_config cfg;
static struct net_host *host;
static struct ipam *ipam;
static char ipam_dir[PATH_MAX]; /* under $TMPDIR, which run.sh makes and removes */
static int ipam_dfd = -1;

static pid_t children[MAX_CHILDREN];
static int nchildren;

struct ctr {
	char id[32];
	pid_t pid;
	uint32_t ip;
	double attach_ms;
};
static struct ctr c1 = { "c1" }, c2 = { "c2" }, c3 = { "c3" }, c3b = { "c3" };
static struct ctr par[NPAR];

static double attach_ms[NPAR + 8];
static int nattach;
static double publish_ms[NPAR + 8];
static int npublish;

/* ---- helpers ------------------------------------------------------------- */

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
kill_children(void)
{
	int i;

	for (i = 0; i < nchildren; i++)
		if (children[i] > 0) {
			kill(children[i], SIGKILL);
			waitpid(children[i], NULL, 0);
			children[i] = 0;
		}
}

static void
kill_child(pid_t pid)
{
	int i;

	for (i = 0; i < nchildren; i++)
		if (children[i] == pid) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			children[i] = 0;
		}
}

/* One line per connection or datagram: "name peer". */
static void __attribute__((noreturn))
serve(const char *name, uint16_t tcp_port, uint16_t udp_port, int ready_fd)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct sockaddr_in peer;
	socklen_t plen;
	struct pollfd p[2];
	char line[128], buf[64], addr[INET_ADDRSTRLEN];
	int one = 1, t, u, c;

	t = socket(AF_INET, SOCK_STREAM, 0);
	u = socket(AF_INET, SOCK_DGRAM, 0);
	setsockopt(t, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	a.sin_port = htons(tcp_port);
	if (bind(t, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(t, 64) < 0)
		_exit(2);
	a.sin_port = htons(udp_port);
	if (bind(u, (struct sockaddr *)&a, sizeof(a)) < 0)
		_exit(2);
	if (write(ready_fd, "r", 1) != 1)
		_exit(2);
	close(ready_fd);
	p[0].fd = t;
	p[1].fd = u;
	p[0].events = p[1].events = POLLIN;
	for (;;) {
		if (poll(p, 2, -1) < 0)
			continue;
		plen = sizeof(peer);
		if (p[0].revents & POLLIN) {
			c = accept(t, (struct sockaddr *)&peer, &plen);
			if (c < 0)
				continue;
			snprintf(line, sizeof(line), "%s %s\n", name,
				 inet_ntop(AF_INET, &peer.sin_addr, addr, sizeof(addr)));
			if (write(c, line, strlen(line)) < 0) {
				/* the client went away: nothing to do */
			}
			close(c);
		}
		if (p[1].revents & POLLIN) {
			if (recvfrom(u, buf, sizeof(buf), 0, (struct sockaddr *)&peer, &plen) < 0)
				continue;
			snprintf(line, sizeof(line), "%s %s\n", name,
				 inet_ntop(AF_INET, &peer.sin_addr, addr, sizeof(addr)));
			sendto(u, line, strlen(line), 0, (struct sockaddr *)&peer, plen);
		}
	}
}

/* A child in a new netns (ns_path NULL) or in ns_path, serving as name. */
static pid_t
spawn_server(const char *name, const char *ns_path, uint16_t tcp_port, uint16_t udp_port)
{
	int fds[2], fd;
	char c;
	pid_t pid;

	if (nchildren == MAX_CHILDREN || pipe2(fds, O_CLOEXEC) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(1);
		close(fds[0]);
		if (ns_path == NULL) {
			if (unshare(CLONE_NEWNET) < 0)
				_exit(1);
		} else {
			fd = open(ns_path, O_RDONLY | O_CLOEXEC);
			if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
				_exit(1);
			close(fd);
		}
		serve(name, tcp_port, udp_port, fds[1]);
	}
	children[nchildren++] = pid;
	close(fds[1]);
	if (read(fds[0], &c, 1) != 1) {
		close(fds[0]);
		kill_child(pid);
		return -1;
	}
	close(fds[0]);
	return pid;
}

static int
ns_of(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/*
 * Connect (tcp) or send a datagram (udp) to ip:port from inside the netns of
 * pid (0: here; -1: the upstream netns), read one line into out.  0 or -1.
 */
static int
fetch(pid_t pid, int proto, uint32_t ip, uint16_t port, char *out, size_t size)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(ip) };
	struct timeval tv = { .tv_sec = 2 };
	int self = -1, nsfd = -1, fd = -1, ret = -1;
	ssize_t n;

	out[0] = '\0';
	if (pid != 0) {
		self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		nsfd = pid > 0 ? ns_of(pid) : open(up_ns_path, O_RDONLY | O_CLOEXEC);
		if (self < 0 || nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0)
			goto out;
	}
	fd = socket(AF_INET, proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM, 0);
	if (fd < 0)
		goto out;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		goto out;
	if (proto == IPPROTO_UDP && send(fd, "?", 1, 0) != 1)
		goto out;
	n = recv(fd, out, size - 1, 0);
	if (n <= 0)
		goto out;
	out[n] = '\0';
	out[strcspn(out, "\n")] = '\0';
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (self >= 0) {
		if (setns(self, CLONE_NEWNET) < 0)
			abort();
		close(self);
	}
	if (nsfd >= 0)
		close(nsfd);
	return ret;
}

/* busybox ping -c1 -W1 from inside pid's netns (0: here).  0 if answered. */
static int
ping(pid_t from, uint32_t ip)
{
	char addr[INET_ADDRSTRLEN];
	int status, fd, null;
	pid_t pid;

	ip_format(ip, addr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (from) {
			fd = ns_of(from);
			if (fd < 0 || setns(fd, CLONE_NEWNET) < 0)
				_exit(3);
		}
		null = open("/dev/null", O_WRONLY);
		dup2(null, 1);
		dup2(null, 2);
		execlp("busybox", "busybox", "ping", "-c1", "-W1", addr, (char *)NULL);
		_exit(4);
	}
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Flags of interface name in pid's netns (0: here); -1 if it does not exist. */
static int
if_flags(pid_t pid, const char *name, uint8_t mac[6])
{
	struct ifreq ifr = { 0 };
	int self = -1, nsfd = -1, fd = -1, ret = -1;

	if (pid) {
		self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
		nsfd = ns_of(pid);
		if (self < 0 || nsfd < 0 || setns(nsfd, CLONE_NEWNET) < 0)
			goto out;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	if (fd < 0 || ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		goto out;
	ret = ifr.ifr_flags & 0xffff;
	if (mac && ioctl(fd, SIOCGIFHWADDR, &ifr) == 0)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
out:
	if (fd >= 0)
		close(fd);
	if (self >= 0) {
		if (setns(self, CLONE_NEWNET) < 0)
			abort();
		close(self);
	}
	if (nsfd >= 0)
		close(nsfd);
	return ret;
}

/* Links named bk* in this netns (host ends of veths). */
static int
count_veths(void)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int n = 0;

	if (ifs == NULL)
		return -1;
	for (i = ifs; i->if_index; i++)
		if (strncmp(i->if_name, "bk", 2) == 0 && strlen(i->if_name) == 13)
			n++;
	if_freenameindex(ifs);
	return n;
}

/* nft list CMD into a new string (NULL if the command failed): our own context. */
static char *
nft_list(const char *cmd)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	char *out = NULL;

	nft_ctx_buffer_output(nft);
	nft_ctx_buffer_error(nft);
	if (nft_run_cmd_from_buffer(nft, cmd) == 0)
		out = xstrdup(nft_ctx_get_output_buffer(nft));
	nft_ctx_free(nft);
	return out;
}

/* Delete link name here, as an administrator would behind the daemon's back. */
static int
del_link(const char *name)
{
	char buf[1024] __attribute__((aligned(8)));
	struct mnl_socket *nl = mnl_socket_open(NETLINK_ROUTE);
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifinfomsg *ifi;
	int ret = -1;

	if (nl == NULL)
		return -1;
	nlh->nlmsg_type = RTM_DELLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = 1;
	ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) == 0 &&
	    mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) >= 0) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, sizeof(buf));

		if (n > 0)
			ret = mnl_cb_run(buf, (size_t)n, 1, mnl_socket_get_portid(nl), NULL, NULL);
	}
	mnl_socket_close(nl);
	return ret < 0 ? -1 : 0;
}

static int
read_int_file(const char *path)
{
	char buf[32] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atoi(buf) : -1;
}

/* Start a container, allocate its address, attach it (timed). */
static int
ctr_up(struct ctr *c, struct bk_err *err)
{
	uint8_t mac[6];
	double t0;
	int ret;

	c->pid = spawn_server(c->id, NULL, 80, 53);
	if (c->pid < 0)
		return bk_err_set(err, EIO, "spawn %s", c->id);
	ret = ipam_alloc(ipam, c->id, &c->ip, err);
	if (ret < 0)
		return ret;
	mac_for_ip(c->ip, mac);
	t0 = now_ms();
	ret = net_attach(host, c->id, c->pid, c->ip, mac, err);
	c->attach_ms = now_ms() - t0;
	return ret;
}

static void
record_attach(double ms)
{
	if (nattach < (int)ARRAY_SIZE(attach_ms))
		attach_ms[nattach++] = ms;
}

static int
publish(const struct ctr *c, const char *lines, struct bk_err *err)
{
	struct port_map maps[PORTS_MAX];
	size_t n;
	double t0;
	int ret;

	ret = ports_parse(lines, maps, PORTS_MAX, &n, err);
	if (ret < 0)
		return ret;
	t0 = now_ms();
	ret = ports_publish(host, c->id, c->ip, maps, n, err);
	if (ret == 0 && npublish < (int)ARRAY_SIZE(publish_ms))
		publish_ms[npublish++] = now_ms() - t0;
	return ret;
}

static struct bk_err last_err;

/* expr fills last_err on failure. */
#define CHECK_OK(expr)                                                          \
	do {                                                                    \
		int r_ = (expr);                                                \
		if (r_ < 0)                                                     \
			TAP_FAIL("%d %s", "CHECK_OK " #expr, r_, last_err.msg); \
	} while (0)

/* Expect one line "name peer" from a fetch. */
#define CHECK_FETCH(pid, proto, ip, port, want)                                   \
	do {                                                                      \
		char got_[128];                                                   \
		if (fetch((pid), (proto), (ip), (port), got_, sizeof(got_)) < 0)  \
			TAP_FAIL("%s: %m", "fetch", #ip ":" #port " from " #pid); \
		CHECK_STR(got_, (want));                                          \
	} while (0)

/* ---- the tests ------------------------------------------------------------- */

static int
host_open(void)
{
	char *table;
	double t0;

	CHECK_INT(net_config_parse(NULL, NULL, &cfg, &last_err), 0);
	t0 = now_ms();
	CHECK_OK(net_host_open(&cfg, &host, &last_err));
	printf("# net_host_open: %.2f ms\n", now_ms() - t0);
	CHECK(if_flags(0, "bocker0", NULL) & IFF_UP);
	CHECK_INT(read_int_file("/proc/sys/net/ipv4/ip_forward"), 1);
	CHECK_INT(read_int_file("/proc/sys/net/ipv4/conf/bocker0/route_localnet"), 1);
	table = nft_list("list table ip bockerfs");
	CHECK(table != NULL);
	CHECK(strstr(table, "map published") != NULL);
	CHECK(strstr(table, "ip saddr 10.88.0.0/16 oifname != \"bocker0\" masquerade") != NULL);
	free(table);
	return 0;
}

/* Opening again over an existing bridge and table: same bridge, one table. */
static int
host_reopen(void)
{
	unsigned int index = if_nametoindex("bocker0");
	char *table;

	CHECK(host != NULL); /* an earlier failure may have lost it */
	net_host_close(host, false);
	host = NULL;
	CHECK_OK(net_host_open(&cfg, &host, &last_err));
	CHECK_INT(if_nametoindex("bocker0"), index);
	CHECK_INT(net_host_config(host)->gateway, 0x0a580001);
	table = nft_list("list tables");
	CHECK(table != NULL);
	CHECK(strstr(table, "table ip bockerfs") != NULL);
	CHECK(strstr(strstr(table, "table ip bockerfs") + 1, "table ip bockerfs") == NULL);
	free(table);
	return 0;
}

static int
attach_two(void)
{
	char ifname[IFNAMSIZ], path[128], target[64] = "";
	uint8_t mac[6], want[6];
	ssize_t n;

	CHECK(host != NULL); /* an earlier failure may have lost it */
	snprintf(ipam_dir, sizeof(ipam_dir), "%s/bkt-net-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	CHECK(mkdtemp(ipam_dir) != NULL);
	ipam_dfd = open(ipam_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(ipam_dfd >= 0);
	CHECK_OK(ipam_open(ipam_dfd, &cfg, &ipam, &last_err));
	CHECK_OK(ctr_up(&c1, &last_err));
	record_attach(c1.attach_ms);
	CHECK_OK(ctr_up(&c2, &last_err));
	record_attach(c2.attach_ms);
	printf("# net_attach c1 %.2f ms, c2 %.2f ms\n", c1.attach_ms, c2.attach_ms);
	CHECK_INT(c1.ip, 0x0a580002);
	CHECK_INT(c2.ip, 0x0a580003);

	/* Inside: eth0 up with the MAC derived from the address, lo up. */
	CHECK(if_flags(c1.pid, "eth0", mac) & IFF_UP);
	mac_for_ip(c1.ip, want);
	CHECK(memcmp(mac, want, 6) == 0);
	CHECK(if_flags(c1.pid, "lo", NULL) & IFF_UP);
	/* Outside: the host end is up and on the bridge. */
	net_ifname(c1.id, ifname);
	CHECK(if_flags(0, ifname, NULL) & IFF_UP);
	snprintf(path, sizeof(path), "/sys/class/net/%s/master", ifname);
	n = readlink(path, target, sizeof(target) - 1);
	CHECK(n > 0);
	target[n] = '\0';
	CHECK(strstr(target, "bocker0") != NULL);
	return 0;
}

static int
ping_between(void)
{
	CHECK(host != NULL); /* an earlier failure may have lost it */
	CHECK_INT(ping(c1.pid, c2.ip), 0);
	CHECK_INT(ping(c2.pid, c1.ip), 0);
	CHECK_INT(ping(c1.pid, cfg.gateway), 0);
	CHECK_INT(ping(0, c2.ip), 0);
	return 0;
}

/* Out through the host to the upstream netns, which has no route back: only NAT works. */
static int
nat_out(void)
{
	char want[64], a[INET_ADDRSTRLEN];

	CHECK(host != NULL); /* an earlier failure may have lost it */
	snprintf(want, sizeof(want), "upstream %s", ip_format(host_ip, a));
	CHECK_FETCH(c1.pid, IPPROTO_TCP, up_ip, 9000, want);
	CHECK_FETCH(c2.pid, IPPROTO_UDP, up_ip, 9053, want);
	CHECK_INT(ping(c1.pid, up_ip), 0);
	return 0;
}

static int
publish_ports(void)
{
	char want[64], a[INET_ADDRSTRLEN];
	char *table;

	CHECK(host != NULL); /* an earlier failure may have lost it */
	CHECK_OK(publish(&c1, "tcp 18080 80\nudp 15353 53\n", &last_err));
	printf("# ports_publish: %.2f ms\n", publish_ms[npublish - 1]);
	table = nft_list("list map ip bockerfs published");
	CHECK(table != NULL);
	CHECK(strstr(table, "tcp . 18080 comment \"c1\" : 10.88.0.2 . 80") != NULL);
	free(table);
	/* From the host: 127.0.0.1 (masqueraded: the container sees the gateway) and its address.
	 */
	CHECK_FETCH(0, IPPROTO_TCP, 0x7f000001, 18080, "c1 10.88.0.1");
	CHECK_FETCH(0, IPPROTO_UDP, 0x7f000001, 15353, "c1 10.88.0.1");
	snprintf(want, sizeof(want), "c1 %s", ip_format(host_ip, a));
	CHECK_FETCH(0, IPPROTO_TCP, host_ip, 18080, want); /* from that address: no masquerade */
	CHECK_FETCH(0, IPPROTO_TCP, cfg.gateway, 18080, "c1 10.88.0.1");
	/* From another machine: the container sees the real client. */
	snprintf(want, sizeof(want), "c1 %s", ip_format(up_ip, a));
	CHECK_FETCH(-1, IPPROTO_TCP, host_ip, 18080, want);
	CHECK_FETCH(-1, IPPROTO_UDP, host_ip, 15353, want);
	/* From a container, and from c1 itself, through the host's address (hairpin). */
	CHECK_FETCH(c2.pid, IPPROTO_TCP, host_ip, 18080, "c1 10.88.0.1");
	CHECK_FETCH(c1.pid, IPPROTO_TCP, host_ip, 18080, "c1 10.88.0.1");
	/* A port not published goes nowhere. */
	{
		char got[64];

		CHECK(fetch(0, IPPROTO_TCP, 0x7f000001, 18081, got, sizeof(got)) < 0);
	}
	return 0;
}

static int
publish_conflict(void)
{
	struct port_map maps[2] = { { IPPROTO_UDP, 15354, 53 }, { IPPROTO_TCP, 18080, 80 } };
	struct bk_err err = BK_ERR_INIT;
	char *table;

	CHECK(host != NULL); /* an earlier failure may have lost it */
	CHECK_INT(ports_publish(host, c2.id, c2.ip, maps, 2, &err), -EADDRINUSE);
	CHECK(strstr(err.msg, "tcp port 18080 is published by c1") != NULL);
	table = nft_list("list map ip bockerfs published");
	CHECK(table != NULL);
	CHECK(strstr(table, "15354") == NULL); /* nothing of the failed call */
	CHECK(strstr(table, "\"c2\"") == NULL);
	free(table);
	/* udp 18080 is another port than tcp 18080. */
	maps[1].proto = IPPROTO_UDP;
	maps[1].host_port = 18080;
	maps[1].ctr_port = 53;
	CHECK_OK(ports_publish(host, c2.id, c2.ip, maps, 2, &last_err));
	CHECK_FETCH(0, IPPROTO_UDP, 0x7f000001, 18080, "c2 10.88.0.1");
	CHECK_FETCH(0, IPPROTO_TCP, 0x7f000001, 18080, "c1 10.88.0.1");
	/* Publishing again replaces: only udp 15355 is left for c2. */
	maps[0].host_port = 15355;
	CHECK_OK(ports_publish(host, c2.id, c2.ip, maps, 1, &last_err));
	table = nft_list("list map ip bockerfs published");
	CHECK(table != NULL);
	CHECK(strstr(table, "udp . 15355 comment \"c2\"") != NULL);
	CHECK(strstr(table, "15354") == NULL);
	CHECK(strstr(table, "udp . 18080") == NULL);
	free(table);
	return 0;
}

static int
attach_failures(void)
{
	struct bk_err err = BK_ERR_INIT;
	char ifname[IFNAMSIZ];
	uint8_t mac[6];
	pid_t dead;
	int veths = count_veths();

	CHECK(host != NULL); /* an earlier failure may have lost it */
	mac_for_ip(0x0a580063, mac);
	/* c1 already has an eth0: EEXIST, and no host end left for "dup". */
	CHECK_INT(net_attach(host, "dup", c1.pid, 0x0a580063, mac, &err), -EEXIST);
	net_ifname("dup", ifname);
	CHECK_INT(if_nametoindex(ifname), 0);
	CHECK_INT(count_veths(), veths);
	CHECK(if_flags(c1.pid, "eth0", NULL) & IFF_UP); /* c1 untouched */
	/* A process in the host's own netns is refused. */
	CHECK_INT(net_attach(host, "self", getpid(), 0x0a580063, mac, &err), -EINVAL);
	CHECK(strstr(err.msg, "host's network namespace") != NULL);
	CHECK_INT(net_lo_up(getpid(), &err), -EINVAL);
	/* Gone process, reserved or foreign address. */
	dead = fork();
	if (dead == 0)
		_exit(0);
	waitpid(dead, NULL, 0);
	CHECK_INT(net_attach(host, "dead", dead, 0x0a580063, mac, &err), -ENOENT);
	CHECK_INT(net_attach(host, "gw", c1.pid, cfg.gateway, mac, &err), -EINVAL);
	CHECK_INT(net_attach(host, "bc", c1.pid, 0x0a58ffff, mac, &err), -EINVAL);
	CHECK_INT(net_attach(host, "far", c1.pid, 0x0a590002, mac, &err), -EINVAL);
	CHECK_INT(count_veths(), veths);
	/* Detach of what does not exist is fine. */
	net_detach(host, "never-attached");
	ports_unpublish(host, "never-published");
	return 0;
}

/*
 * A restart whose old netns is still around: the new run of "c3" gets the
 * network, and the old run's host end is replaced, not left.
 */
static int
stale_host_end(void)
{
	int veths;

	CHECK(host != NULL); /* an earlier failure may have lost it */
	CHECK_OK(ctr_up(&c3, &last_err));
	record_attach(c3.attach_ms);
	veths = count_veths();
	c3b.ip = c3.ip;
	CHECK_OK(ctr_up(&c3b, &last_err)); /* same id, same lease, another process */
	CHECK_INT(c3b.ip, c3.ip);
	CHECK_INT(count_veths(), veths);
	CHECK_INT(if_flags(c3.pid, "eth0", NULL), -1);
	CHECK_INT(ping(c3b.pid, c1.ip), 0);
	net_detach(host, c3.id);
	net_detach(host, c3.id);
	CHECK_INT(count_veths(), veths - 1);
	ipam_release(ipam, c3.id);
	kill_child(c3.pid);
	kill_child(c3b.pid);
	return 0;
}

/* A daemon restart: the table goes and comes back; links and addresses stay. */
static int
daemon_restart(void)
{
	char want[64], a[INET_ADDRSTRLEN];
	char *table;

	CHECK(host != NULL); /* an earlier failure may have lost it */
	net_host_close(host, true);
	host = NULL;
	table = nft_list("list table ip bockerfs");
	CHECK_OK(net_host_open(&cfg, &host, &last_err));
	CHECK(table == NULL);
	CHECK_INT(ping(c1.pid, c2.ip), 0); /* the bridge does not need the daemon */
	CHECK_OK(publish(&c1, "tcp 18080 80\n", &last_err));
	CHECK_FETCH(0, IPPROTO_TCP, 0x7f000001, 18080, "c1 10.88.0.1");
	snprintf(want, sizeof(want), "upstream %s", ip_format(host_ip, a));
	CHECK_FETCH(c2.pid, IPPROTO_TCP, up_ip, 9000, want);
	return 0;
}

struct par_job {
	int first, n;
	int failed;
	struct bk_err err;
};

static void *
par_run(void *arg)
{
	struct par_job *job = arg;
	struct port_map map;
	uint8_t mac[6];
	double t0;
	int i;

	for (i = job->first; i < job->first + job->n; i++) {
		struct ctr *c = &par[i];

		if (ipam_alloc(ipam, c->id, &c->ip, &job->err) < 0) {
			job->failed++;
			continue;
		}
		mac_for_ip(c->ip, mac);
		t0 = now_ms();
		if (net_attach(host, c->id, c->pid, c->ip, mac, &job->err) < 0) {
			job->failed++;
			continue;
		}
		c->attach_ms = now_ms() - t0;
		map.proto = IPPROTO_TCP;
		map.host_port = (uint16_t)(20000 + i);
		map.ctr_port = 80;
		if (ports_publish(host, c->id, c->ip, &map, 1, &job->err) < 0)
			job->failed++;
	}
	return NULL;
}

/* NPAR containers set up by NTHREADS threads at once. */
static int
many_parallel(void)
{
	struct par_job jobs[NTHREADS];
	pthread_t t[NTHREADS];
	char want[64];
	double t0, total;
	int i;

	CHECK(host != NULL); /* an earlier failure may have lost it */
	for (i = 0; i < NPAR; i++) {
		snprintf(par[i].id, sizeof(par[i].id), "p%02d", i);
		par[i].pid = spawn_server(par[i].id, NULL, 80, 53);
		CHECK(par[i].pid > 0);
	}
	t0 = now_ms();
	for (i = 0; i < NTHREADS; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].first = i * (NPAR / NTHREADS);
		jobs[i].n = NPAR / NTHREADS;
		CHECK_INT(pthread_create(&t[i], NULL, par_run, &jobs[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	total = now_ms() - t0;
	for (i = 0; i < NTHREADS; i++) {
		if (jobs[i].failed)
			printf("# thread %d: %s\n", i, jobs[i].err.msg);
		CHECK_INT(jobs[i].failed, 0);
	}
	printf("# %d containers attached and published by %d threads in %.1f ms\n", NPAR, NTHREADS,
	       total);
	for (i = 0; i < NPAR; i++) {
		record_attach(par[i].attach_ms);
		snprintf(want, sizeof(want), "%.31s 10.88.0.1", par[i].id);
		CHECK_FETCH(0, IPPROTO_TCP, 0x7f000001, (uint16_t)(20000 + i), want);
	}
	CHECK_INT(ping(par[0].pid, par[NPAR - 1].ip), 0);
	CHECK_INT(count_veths(), NPAR + 2);
	return 0;
}

/* Remove everything, as rm would: no veth, no element, no lease left. */
static int
remove_all(void)
{
	struct ipam_lease *leases = NULL;
	char *table, *text = NULL;
	struct ctr *all[NPAR + 2];
	double t0, detach = 0;
	int i, n = 0;

	CHECK(host != NULL); /* an earlier failure may have lost it */
	all[n++] = &c1;
	all[n++] = &c2;
	for (i = 0; i < NPAR; i++)
		all[n++] = &par[i];
	for (i = 0; i < n; i++) {
		ports_unpublish(host, all[i]->id);
		t0 = now_ms();
		net_detach(host, all[i]->id);
		detach += now_ms() - t0;
		ipam_release(ipam, all[i]->id);
	}
	printf("# net_detach: %.2f ms on average\n", detach / n);
	CHECK_INT(count_veths(), 0);
	CHECK_INT(if_flags(c1.pid, "eth0", NULL), -1);
	table = nft_list("list map ip bockerfs published");
	CHECK(table != NULL);
	CHECK(strstr(table, "elements") == NULL);
	free(table);
	CHECK_INT(ipam_list(ipam, &leases), 0);
	free(leases);
	CHECK_INT(read_file_at(ipam_dfd, "ipam.json", 1 << 20, &text, NULL, &last_err), 0);
	CHECK(strstr(text, "\"leases\": {}") != NULL);
	free(text);
	for (i = 0; i < n; i++)
		kill_child(all[i]->pid);
	return 0;
}

/* The bridge deleted behind the daemon's back: the next attach makes it again. */
static int
bridge_repair(void)
{
	struct ctr c4 = { "c4" };

	CHECK(host != NULL); /* an earlier failure may have lost it */
	CHECK_INT(del_link("bocker0"), 0);
	CHECK_INT(if_nametoindex("bocker0"), 0);
	CHECK_OK(ctr_up(&c4, &last_err));
	CHECK(if_flags(0, "bocker0", NULL) & IFF_UP);
	CHECK_INT(read_int_file("/proc/sys/net/ipv4/conf/bocker0/route_localnet"), 1);
	CHECK_INT(ping(c4.pid, cfg.gateway), 0);
	CHECK_OK(publish(&c4, "tcp 18084 80\n", &last_err));
	CHECK_FETCH(0, IPPROTO_TCP, 0x7f000001, 18084, "c4 10.88.0.1");
	ports_unpublish(host, c4.id);
	net_detach(host, c4.id);
	ipam_release(ipam, c4.id);
	kill_child(c4.pid);
	CHECK_INT(count_veths(), 0);
	return 0;
}

static int
mode_none(void)
{
	pid_t pid = spawn_server("none", NULL, 80, 53);

	CHECK(pid > 0);
	CHECK(!(if_flags(pid, "lo", NULL) & IFF_UP));
	CHECK_OK(net_lo_up(pid, &last_err));
	CHECK(if_flags(pid, "lo", NULL) & IFF_UP);
	CHECK_INT(if_flags(pid, "eth0", NULL), -1);
	CHECK_FETCH(pid, IPPROTO_TCP, 0x7f000001, 80, "none 127.0.0.1");
	kill_child(pid);
	return 0;
}

static int
teardown(void)
{
	char *table;

	CHECK(host != NULL); /* an earlier failure may have lost it */
	net_host_close(host, true);
	host = NULL;
	table = nft_list("list table ip bockerfs");
	CHECK(table == NULL);
	table = nft_list("list tables");
	CHECK(table != NULL);
	CHECK(strstr(table, "bockerfs") == NULL);
	free(table);
	CHECK(if_nametoindex("bocker0") > 0); /* kept, as docker keeps docker0 */
	return 0;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
timings(void)
{
	if (nattach == 0)
		return;
	qsort(attach_ms, (size_t)nattach, sizeof(double), cmp_double);
	printf("# net_attach over %d attaches: min %.2f, median %.2f, max %.2f ms "
	       "(%d in parallel by %d threads)\n",
	       nattach, attach_ms[0], attach_ms[nattach / 2], attach_ms[nattach - 1], NPAR,
	       NTHREADS);
	if (npublish) {
		qsort(publish_ms, (size_t)npublish, sizeof(double), cmp_double);
		printf("# ports_publish (serial): min %.2f, median %.2f ms\n", publish_ms[0],
		       publish_ms[npublish / 2]);
	}
}

/*
 * True unless this is provably a throwaway netns: not the one run.sh was
 * started in (BK_NET_OUTER, "net:[inode]") nor PID 1's (when readable).
 */
static bool
in_outer_netns(void)
{
	const char *outer = getenv("BK_NET_OUTER");
	char self[64], init[64];
	ssize_t n;

	n = readlink("/proc/self/ns/net", self, sizeof(self) - 1);
	if (n <= 0 || outer == NULL || *outer == '\0')
		return true; /* cannot tell: assume the worst */
	self[n] = '\0';
	if (strcmp(self, outer) == 0)
		return true;
	n = readlink("/proc/1/ns/net", init, sizeof(init) - 1);
	if (n > 0) {
		init[n] = '\0';
		if (strcmp(self, init) == 0)
			return true;
	}
	return false;
}

static void
quiet(enum bk_log_level level, const char *msg)
{
	(void)level;
	printf("# engine: %s\n", msg);
}

int
main(int argc, char **argv)
{
	int ret;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc != 4 || ip_parse(argv[2], &up_ip) < 0 || ip_parse(argv[3], &host_ip) < 0) {
		fprintf(stderr, "usage: net_selftest UPSTREAM-NETNS-PATH UPSTREAM-IP HOST-IP\n");
		return 2;
	}
	if (in_outer_netns()) {
		printf("Bail out! not in a throwaway network namespace: run tests/net/run.sh\n");
		return 1;
	}
	up_ns_path = argv[1];
	bk_log_set_sink(quiet);
	atexit(kill_children);
	if (spawn_server("upstream", up_ns_path, 9000, 9053) < 0) {
		printf("Bail out! cannot start the upstream listener\n");
		return 1;
	}

	RUN(host_open);
	if (host == NULL) {
		printf("Bail out! no host network\n");
		return 1;
	}
	RUN(host_reopen);
	RUN(attach_two);
	RUN(ping_between);
	RUN(nat_out);
	RUN(publish_ports);
	RUN(publish_conflict);
	RUN(attach_failures);
	RUN(stale_host_end);
	RUN(daemon_restart);
	RUN(many_parallel);
	RUN(remove_all);
	RUN(bridge_repair);
	RUN(mode_none);
	RUN(teardown);
	timings();
	ret = TAP_DONE();

	if (host)
		net_host_close(host, true);
	ipam_close(ipam);
	if (ipam_dfd >= 0) {
		unlinkat(ipam_dfd, "ipam.json", 0);
		close(ipam_dfd);
		rmdir(ipam_dir);
	}
	kill_children();
	return ret;
}
