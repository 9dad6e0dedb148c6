/*
 * Unit tests for the pure parts of networking: --bridge/--subnet parsing,
 * addresses and MACs (engine/net/ipam.c), veth names (engine/net/netlink.c).
 */
#include <errno.h>
#include <string.h>

#include "net/net.h"
#include "tap.h"

static int
config_defaults(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct net_config c;
	char buf[INET_ADDRSTRLEN];

	CHECK_INT(net_config_parse(NULL, NULL, &c, &err), 0);
	CHECK_STR(c.bridge, "bocker0");
	CHECK_STR(ip_format(c.subnet, buf), "10.88.0.0");
	CHECK_INT(c.subnet, 0x0a580000);
	CHECK_INT(c.prefix, 16);
	CHECK_STR(ip_format(c.gateway, buf), "10.88.0.1");
	return 0;
}

static int
config_custom(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct net_config c;
	char buf[INET_ADDRSTRLEN];

	CHECK_INT(net_config_parse("br-test.1", "172.30.8.0/22", &c, &err), 0);
	CHECK_STR(c.bridge, "br-test.1");
	CHECK_STR(ip_format(c.subnet, buf), "172.30.8.0");
	CHECK_INT(c.prefix, 22);
	CHECK_STR(ip_format(c.gateway, buf), "172.30.8.1");
	CHECK_INT(net_config_parse("b23456789012345", "10.0.0.0/8", &c, &err), 0);
	CHECK_INT(c.prefix, 8);
	CHECK_INT(net_config_parse("x", "192.168.7.4/30", &c, &err), 0);
	CHECK_INT(c.gateway, 0xc0a80705);
	return 0;
}

static int
config_bad_subnet(void)
{
	static const char *bad[] = {
		"10.88.0.1/16",   "10.88.0.0",    "10.88.0.0/",    "/16",
		"10.88.0.0/7",    "10.88.0.0/31", "10.88.0.0/32",  "10.88.0/16",
		"10.88.0.0/16x",  "x/16",         "10.88.0.0/-1",  "10.88.0.0/+16",
		"10.88.0.0/016x", "256.0.0.0/8",  "10.88.0.0 /16", "10.88.0.0/999999999999",
	};
	struct bk_err err = BK_ERR_INIT;
	struct net_config c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (net_config_parse(NULL, bad[i], &c, &err) != -EINVAL) {
			printf("# accepted '%s'\n", bad[i]);
			return -1;
		}
		CHECK(strstr(err.msg, bad[i]) != NULL);
	}
	CHECK_INT(net_config_parse(NULL, "10.88.0.1/16", &c, &err), -EINVAL);
	CHECK(strstr(err.msg, "10.88.0.0/16") != NULL); /* the hint */
	return 0;
}

static int
config_bad_bridge(void)
{
	static const char *bad[] = {
		"",      "b234567890123456", "a/b", "a b", "a:b", "a\"b", ".", "..", "a\\b", "a\tb",
		"eth0$",
	};
	struct bk_err err = BK_ERR_INIT;
	struct net_config c;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (net_config_parse(bad[i], NULL, &c, &err) != -EINVAL) {
			printf("# accepted '%s'\n", bad[i]);
			return -1;
		}
		CHECK(strstr(err.msg, "bridge") != NULL);
	}
	return 0;
}

static int
addresses(void)
{
	char buf[INET_ADDRSTRLEN];
	uint32_t ip = 0;

	CHECK_INT(ip_parse("10.88.0.2", &ip), 0);
	CHECK_INT(ip, 0x0a580002);
	CHECK_STR(ip_format(ip, buf), "10.88.0.2");
	CHECK_STR(ip_format(0xffffffff, buf), "255.255.255.255");
	CHECK_STR(ip_format(0, buf), "0.0.0.0");
	CHECK_INT(ip_parse("10.88.0", &ip), -EINVAL);
	CHECK_INT(ip_parse("10.88.0.256", &ip), -EINVAL);
	CHECK_INT(ip_parse("", &ip), -EINVAL);
	CHECK_INT(ip_parse("::1", &ip), -EINVAL);
	return 0;
}

static int
macs(void)
{
	uint8_t mac[6];
	char buf[18];

	mac_for_ip(0x0a580002, mac);
	CHECK_STR(mac_format(mac, buf), "02:42:0a:58:00:02");
	mac_for_ip(0xac1effff, mac);
	CHECK_STR(mac_format(mac, buf), "02:42:ac:1e:ff:ff");
	CHECK(!(mac[0] & 1)); /* unicast */
	CHECK(mac[0] & 2);    /* locally administered */
	return 0;
}

static int
ifnames(void)
{
	char a[IFNAMSIZ], b[IFNAMSIZ], c[IFNAMSIZ];
	size_t i;

	net_ifname("ps_0123456789ab", a);
	net_ifname("ps_0123456789ab", b);
	net_ifname("ps_0123456789ac", c);
	CHECK_STR(a, b);
	CHECK(strcmp(a, c) != 0);
	CHECK_INT(strlen(a), 13);
	CHECK(strncmp(a, "bk", 2) == 0);
	for (i = 2; i < 13; i++)
		CHECK(strchr("0123456789abcdef", a[i]) != NULL);
	/* A 64-byte name fits too. */
	net_ifname("a234567890123456789012345678901234567890123456789012345678901234", c);
	CHECK_INT(strlen(c), 13);
	/* Stable across builds and hosts: the name is how a leftover veth is found. */
	net_ifname("web", c);
	CHECK_STR(c, "bk11948721ef1");
	return 0;
}

int
main(void)
{
	RUN(config_defaults);
	RUN(config_custom);
	RUN(config_bad_subnet);
	RUN(config_bad_bridge);
	RUN(addresses);
	RUN(macs);
	RUN(ifnames);
	return TAP_DONE();
}
