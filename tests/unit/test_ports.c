/*
 * Unit tests for engine/net/ports.c: parsing a container's `ports` lines.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"
#include "tap.h"

static int
parse_good(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct port_map m[8];
	size_t n = 99;

	CHECK_INT(ports_parse("tcp 18080 80\nudp 5353 53\n", m, 8, &n, &err), 0);
	CHECK_INT(n, 2);
	CHECK_INT(m[0].proto, IPPROTO_TCP);
	CHECK_INT(m[0].host_port, 18080);
	CHECK_INT(m[0].ctr_port, 80);
	CHECK_INT(m[1].proto, IPPROTO_UDP);
	CHECK_INT(m[1].host_port, 5353);
	CHECK_INT(m[1].ctr_port, 53);
	/* Blank lines, comments, tabs, CRLF, no final newline, the limits 1 and 65535. */
	CHECK_INT(
	    ports_parse("\n# web\n\t tcp\t1   65535 \r\n\n  # x\nudp 65535 1", m, 8, &n, &err), 0);
	CHECK_INT(n, 2);
	CHECK_INT(m[0].host_port, 1);
	CHECK_INT(m[0].ctr_port, 65535);
	CHECK_INT(m[1].host_port, 65535);
	CHECK_INT(m[1].ctr_port, 1);
	/* tcp and udp on one host port, two host ports to one container port: no clash. */
	CHECK_INT(ports_parse("tcp 53 53\nudp 53 53\ntcp 8053 53", m, 8, &n, &err), 0);
	CHECK_INT(n, 3);
	return 0;
}

static int
parse_empty(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct port_map m[1];
	size_t n = 99;

	CHECK_INT(ports_parse("", m, 1, &n, &err), 0);
	CHECK_INT(n, 0);
	CHECK_INT(ports_parse("\n\n# nothing\n  \n", m, 1, &n, &err), 0);
	CHECK_INT(n, 0);
	return 0;
}

static int
parse_bad(void)
{
	static const char *bad[] = {
		"tcp 0 80",
		"tcp 65536 80",
		"tcp 80 0",
		"tcp 80 65536",
		"tcp 99999999999 1",
		"sctp 1 2",
		"TCP 1 2",
		"tcpx 1 2",
		"tcp 1",
		"tcp",
		"tcp 1 2 3",
		"tcp -1 2",
		"tcp +1 2",
		"tcp 1a 2",
		"tcp 0x10 2",
		"tcp 1.0 2",
		"tcp 1,2 3",
		"80 tcp 80",
		"tcp 80 80 # comment",
	};
	struct bk_err err = BK_ERR_INIT;
	struct port_map m[4];
	size_t i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err = (struct bk_err)BK_ERR_INIT;
		if (ports_parse(bad[i], m, 4, &n, &err) != -EINVAL) {
			printf("# accepted '%s'\n", bad[i]);
			return -1;
		}
		CHECK_INT(err.code, EINVAL);
		CHECK(strstr(err.msg, "ports line 1") != NULL);
		CHECK_INT(n, 0);
	}
	return 0;
}

static int
parse_bad_names_line(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct port_map m[4];
	size_t n;

	CHECK_INT(ports_parse("tcp 80 80\n\n# c\nudp 70000 1\n", m, 4, &n, &err), -EINVAL);
	CHECK(strstr(err.msg, "line 4") != NULL);
	CHECK(strstr(err.msg, "70000") != NULL);
	CHECK_INT(ports_parse("tcp 80 80\nicmp 1 1", m, 4, &n, &err), -EINVAL);
	CHECK(strstr(err.msg, "'icmp'") != NULL);
	return 0;
}

static int
parse_duplicate(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct port_map m[4];
	size_t n;

	CHECK_INT(ports_parse("tcp 8080 80\ntcp 8080 81", m, 4, &n, &err), -EINVAL);
	CHECK(strstr(err.msg, "line 2") != NULL);
	CHECK(strstr(err.msg, "8080") != NULL);
	return 0;
}

static int
parse_too_many(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct port_map m[2];
	size_t n;

	CHECK_INT(ports_parse("tcp 1 1\ntcp 2 2\n", m, 2, &n, &err), 0);
	CHECK_INT(n, 2);
	CHECK_INT(ports_parse("tcp 1 1\ntcp 2 2\ntcp 3 3\n", m, 2, &n, &err), -E2BIG);
	CHECK_INT(err.code, E2BIG);
	CHECK(strstr(err.msg, "line 3") != NULL);
	return 0;
}

static int
format_round_trip(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct port_map m[4], m2[4];
	size_t n, n2;
	char *text;

	CHECK_INT(ports_parse("  tcp 18080   80\n# x\nudp\t65535 1\n", m, 4, &n, &err), 0);
	text = ports_format(m, n);
	CHECK_STR(text, "tcp 18080 80\nudp 65535 1\n");
	CHECK_INT(ports_parse(text, m2, 4, &n2, &err), 0);
	free(text);
	CHECK_INT(n2, n);
	CHECK(memcmp(m, m2, n * sizeof(m[0])) == 0);
	text = ports_format(m, 0);
	CHECK_STR(text, "");
	free(text);
	return 0;
}

int
main(void)
{
	RUN(parse_good);
	RUN(parse_empty);
	RUN(parse_bad);
	RUN(parse_bad_names_line);
	RUN(parse_duplicate);
	RUN(parse_too_many);
	RUN(format_round_trip);
	return TAP_DONE();
}
