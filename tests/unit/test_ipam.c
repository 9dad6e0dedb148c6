/*
 * Unit tests for engine/net/ipam.c: the address allocator and its ipam.json,
 * in a temporary directory standing in for the store.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net/net.h"
#include "tap.h"
#include "base/base.h"

static char dir[] = "/tmp/bkt-ipam-XXXXXX";
static int dfd = -1;

static void
quiet(enum bk_log_level level, const char *msg)
{
	(void)level;
	printf("# log: %s\n", msg);
}

static void
reset_store(void)
{
	unlinkat(dfd, "ipam.json", 0);
}

static struct ipam *
open_subnet(const char *cidr)
{
	struct bk_err err = BK_ERR_INIT;
	struct net_config cfg;
	struct ipam *ipam = NULL;

	if (net_config_parse(NULL, cidr, &cfg, &err) < 0 || ipam_open(dfd, &cfg, &ipam, &err) < 0)
		printf("# %s\n", err.msg);
	return ipam;
}

static int
alloc_skips_reserved(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct ipam *ipam;
	char id[16], buf[INET_ADDRSTRLEN];
	uint8_t seen[256] = { 0 };
	uint32_t ip;
	int i;

	reset_store();
	ipam = open_subnet("10.1.2.0/24");
	CHECK(ipam != NULL);
	for (i = 0; i < 253; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		CHECK_INT(ipam_alloc(ipam, id, &ip, &err), 0);
		CHECK_INT(ip >> 8, 0x0a0102);
		CHECK((ip & 0xff) >= 2 && (ip & 0xff) <= 254); /* not .0, .1 (gateway), .255 */
		CHECK(!seen[ip & 0xff]);
		seen[ip & 0xff] = 1;
	}
	CHECK_INT(ipam_alloc(ipam, "one-too-many", &ip, &err), -ENOSPC);
	CHECK(strstr(err.msg, "10.1.2.0/24") != NULL);
	/* The first address handed out is gateway + 1. */
	CHECK_INT(ipam_get(ipam, "c0", &ip), 0);
	CHECK_STR(ip_format(ip, buf), "10.1.2.2");
	ipam_close(ipam);
	return 0;
}

static int
smallest_subnet(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct ipam *ipam;
	uint32_t ip;

	reset_store();
	/* .4 network, .5 gateway, .6 the one container, .7 broadcast */
	ipam = open_subnet("192.168.9.4/30");
	CHECK(ipam != NULL);
	CHECK_INT(ipam_alloc(ipam, "a", &ip, &err), 0);
	CHECK_INT(ip, 0xc0a80906);
	CHECK_INT(ipam_alloc(ipam, "b", &ip, &err), -ENOSPC);
	ipam_release(ipam, "a");
	CHECK_INT(ipam_alloc(ipam, "b", &ip, &err), 0);
	CHECK_INT(ip, 0xc0a80906);
	ipam_close(ipam);
	return 0;
}

static int
same_id_same_address(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct ipam *ipam;
	uint32_t a, b, c;

	reset_store();
	ipam = open_subnet("10.88.0.0/16");
	CHECK(ipam != NULL);
	CHECK_INT(ipam_alloc(ipam, "web", &a, &err), 0);
	CHECK_INT(ipam_alloc(ipam, "db", &b, &err), 0);
	CHECK_INT(ipam_alloc(ipam, "web", &c, &err), 0);
	CHECK_INT(a, c);
	CHECK(a != b);
	CHECK_INT(ipam_get(ipam, "nobody", &c), -ENOENT);
	ipam_close(ipam);
	return 0;
}

static int
freed_not_reused_at_once(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct ipam *ipam;
	uint32_t a, b, c;

	reset_store();
	ipam = open_subnet("10.88.0.0/16");
	CHECK(ipam != NULL);
	CHECK_INT(ipam_alloc(ipam, "a", &a, &err), 0);
	CHECK_INT(ipam_alloc(ipam, "b", &b, &err), 0);
	ipam_release(ipam, "a");
	ipam_release(ipam, "a"); /* idempotent */
	CHECK_INT(ipam_get(ipam, "a", &c), -ENOENT);
	CHECK_INT(ipam_alloc(ipam, "c", &c, &err), 0);
	CHECK_INT(c, b + 1);
	ipam_close(ipam);
	return 0;
}

static int
wraps_around(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct ipam *ipam;
	char id[16];
	uint32_t ip;
	int i;

	reset_store();
	ipam = open_subnet("10.9.0.0/29"); /* .2 .. .6 */
	CHECK(ipam != NULL);
	for (i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		CHECK_INT(ipam_alloc(ipam, id, &ip, &err), 0);
		CHECK_INT(ip, 0x0a090002 + (uint32_t)i);
	}
	ipam_release(ipam, "c1"); /* .3 */
	CHECK_INT(ipam_alloc(ipam, "x", &ip, &err), 0);
	CHECK_INT(ip, 0x0a090003); /* after .6 comes .2 (taken), then .3 */
	ipam_close(ipam);
	return 0;
}

static int
persisted(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct ipam *ipam;
	struct ipam_lease *list = NULL;
	uint32_t a, b, c;
	char *text = NULL;
	size_t n;

	reset_store();
	ipam = open_subnet("10.88.0.0/16");
	CHECK(ipam != NULL);
	CHECK_INT(ipam_alloc(ipam, "web", &a, &err), 0);
	CHECK_INT(ipam_alloc(ipam, "db", &b, &err), 0);
	CHECK_INT(ipam_alloc(ipam, "gone", &c, &err), 0);
	ipam_release(ipam, "gone");
	ipam_close(ipam);

	CHECK_INT(read_file_at(dfd, "ipam.json", 1 << 20, &text, NULL, &err), 0);
	CHECK(strstr(text, "\"web\": \"10.88.0.2\"") != NULL);
	CHECK(strstr(text, "gone") == NULL);
	free(text);

	ipam = open_subnet("10.88.0.0/16");
	CHECK(ipam != NULL);
	CHECK_INT(ipam_get(ipam, "web", &c), 0);
	CHECK_INT(c, a);
	CHECK_INT(ipam_get(ipam, "db", &c), 0);
	CHECK_INT(c, b);
	CHECK_INT(ipam_get(ipam, "gone", &c), -ENOENT);
	/* The round-robin position survives too: the released .4 is not next. */
	CHECK_INT(ipam_alloc(ipam, "new", &c, &err), 0);
	CHECK_INT(c, 0x0a580005);
	n = ipam_list(ipam, &list);
	CHECK_INT(n, 3);
	CHECK_STR(list[0].ctr_id, "web");
	CHECK_STR(list[1].ctr_id, "db");
	CHECK_STR(list[2].ctr_id, "new");
	CHECK(list[0].ip < list[1].ip && list[1].ip < list[2].ip);
	free(list);
	ipam_close(ipam);
	return 0;
}

static int
subnet_change_drops_leases(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct ipam *ipam;
	uint32_t ip;

	reset_store();
	ipam = open_subnet("10.88.0.0/16");
	CHECK(ipam != NULL);
	CHECK_INT(ipam_alloc(ipam, "web", &ip, &err), 0);
	ipam_close(ipam);
	ipam = open_subnet("172.31.0.0/24");
	CHECK(ipam != NULL);
	CHECK_INT(ipam_get(ipam, "web", &ip), -ENOENT);
	CHECK_INT(ipam_alloc(ipam, "web", &ip, &err), 0);
	CHECK_INT(ip, 0xac1f0002);
	ipam_close(ipam);
	return 0;
}

static int
bad_file(void)
{
	static const char *bad[] = { "{", "[]", "{\"leases\": []}", "" };
	struct bk_err err = BK_ERR_INIT;
	struct net_config cfg;
	struct ipam *ipam = NULL;
	size_t i;

	CHECK_INT(net_config_parse(NULL, NULL, &cfg, &err), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(write_file_replace(dfd, "ipam.json", bad[i], strlen(bad[i]), &err), 0);
		CHECK_INT(ipam_open(dfd, &cfg, &ipam, &err), -EINVAL);
		CHECK(strstr(err.msg, "ipam.json") != NULL);
	}
	return 0;
}

static int
bad_leases_dropped(void)
{
	/* Outside the subnet, the gateway, the broadcast, a clash, not a string: dropped. */
	static const char text[] = "{\"leases\": {\"a\": \"10.88.0.9\", \"b\": \"10.89.0.2\", "
				   "\"c\": \"10.88.0.1\", \"d\": \"10.88.255.255\", "
				   "\"e\": \"10.88.0.9\", \"f\": 7, \"g\": \"x\"}}";
	struct bk_err err = BK_ERR_INIT;
	struct ipam_lease *list = NULL;
	struct ipam *ipam;
	size_t n;

	CHECK_INT(write_file_replace(dfd, "ipam.json", text, strlen(text), &err), 0);
	ipam = open_subnet("10.88.0.0/16");
	CHECK(ipam != NULL);
	n = ipam_list(ipam, &list);
	CHECK_INT(n, 1);
	CHECK_INT(list[0].ip, 0x0a580009);
	free(list);
	ipam_close(ipam);
	return 0;
}

static int
bad_ids(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct ipam *ipam;
	char longid[BK_ID_SIZE + 1];
	uint32_t ip;

	reset_store();
	ipam = open_subnet("10.88.0.0/16");
	CHECK(ipam != NULL);
	memset(longid, 'a', BK_ID_SIZE);
	longid[BK_ID_SIZE] = '\0';
	CHECK_INT(ipam_alloc(ipam, "", &ip, &err), -EINVAL);
	CHECK_INT(ipam_alloc(ipam, longid, &ip, &err), -EINVAL);
	ipam_close(ipam);
	return 0;
}

struct worker {
	struct ipam *ipam;
	int base;
	uint32_t ips[100];
	int failed;
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;
	struct bk_err err = BK_ERR_INIT;
	char id[32];
	int i;

	for (i = 0; i < 100; i++) {
		snprintf(id, sizeof(id), "t%d-%d", w->base, i);
		if (ipam_alloc(w->ipam, id, &w->ips[i], &err) < 0)
			w->failed++;
		if (i % 3 == 0) {
			snprintf(id, sizeof(id), "t%d-%d", w->base, i);
			ipam_release(w->ipam, id);
			w->ips[i] = 0;
		}
	}
	return NULL;
}

static int
cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Eight threads at once: no address handed out twice. */
static int
threads_no_collision(void)
{
	struct worker w[8];
	struct ipam_lease *list = NULL;
	uint32_t all[800];
	size_t n = 0, i, k;
	struct ipam *ipam;
	pthread_t t[8];
	int j;

	reset_store();
	ipam = open_subnet("10.88.0.0/16");
	CHECK(ipam != NULL);
	for (j = 0; j < 8; j++) {
		memset(&w[j], 0, sizeof(w[j]));
		w[j].ipam = ipam;
		w[j].base = j;
		CHECK_INT(pthread_create(&t[j], NULL, worker_run, &w[j]), 0);
	}
	for (j = 0; j < 8; j++)
		pthread_join(t[j], NULL);
	for (j = 0; j < 8; j++) {
		CHECK_INT(w[j].failed, 0);
		for (i = 0; i < 100; i++)
			if (w[j].ips[i])
				all[n++] = w[j].ips[i];
	}
	qsort(all, n, sizeof(all[0]), cmp_u32);
	for (i = 1; i < n; i++)
		CHECK(all[i] != all[i - 1]);
	k = ipam_list(ipam, &list);
	CHECK_INT(k, n);
	free(list);
	ipam_close(ipam);
	return 0;
}

int
main(void)
{
	int ret;

	bk_log_set_sink(quiet);
	if (mkdtemp(dir) == NULL)
		return 1;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return 1;
	RUN(alloc_skips_reserved);
	RUN(smallest_subnet);
	RUN(same_id_same_address);
	RUN(freed_not_reused_at_once);
	RUN(wraps_around);
	RUN(persisted);
	RUN(subnet_change_drops_leases);
	RUN(bad_file);
	RUN(bad_leases_dropped);
	RUN(bad_ids);
	RUN(threads_no_collision);
	ret = TAP_DONE();
	reset_store();
	unlinkat(dfd, ".ipam.json.tmp", 0);
	close(dfd);
	rmdir(dir);
	return ret;
}
