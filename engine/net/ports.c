/*
 * A container's network mode ("bridge", "none", "host"), and its published
 * ports as the user writes them, one per line:
 *
 *	tcp 18080 80
 *	udp 5353 53
 *
 * protocol, host port, container port.  Pure: no I/O, no state.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "net/net.h"
#include "base/base.h"

/* A port number: digits only, 1..65535.  0 or -EINVAL. */
static int
port_parse(const char *s, size_t len, uint16_t *out)
{
	unsigned long v = 0;
	size_t i;

	if (len == 0 || len > 5)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -EINVAL;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v < 1 || v > 65535)
		return -EINVAL;
	*out = (uint16_t)v;
	return 0;
}

/* Split line[0..len) into at most max words on blanks; returns the count (max + 1: too many). */
static size_t
split_words(const char *line, size_t len, const char **words, size_t *lens, size_t max)
{
	size_t n = 0, i = 0, start;

	while (i < len) {
		while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && line[i] != ' ' && line[i] != '\t' && line[i] != '\r')
			i++;
		if (n == max)
			return max + 1;
		words[n] = line + start;
		lens[n] = i - start;
		n++;
	}
	return n;
}

static int
line_parse(const char *line, size_t len, struct port_map *m, unsigned lineno, struct bk_err *err)
{
	const char *w[3];
	size_t wl[3], n = split_words(line, len, w, wl, 3);

	if (n != 3)
		return bk_err_set(err, EINVAL,
				  "ports line %u: expected 'tcp|udp HOSTPORT CONTAINERPORT'",
				  lineno);
	if (wl[0] == 3 && strncmp(w[0], "tcp", 3) == 0)
		m->proto = IPPROTO_TCP;
	else if (wl[0] == 3 && strncmp(w[0], "udp", 3) == 0)
		m->proto = IPPROTO_UDP;
	else
		return bk_err_set(err, EINVAL, "ports line %u: protocol '%.*s': not tcp or udp",
				  lineno, (int)wl[0], w[0]);
	if (port_parse(w[1], wl[1], &m->host_port) < 0)
		return bk_err_set(err, EINVAL, "ports line %u: host port '%.*s': not 1-65535",
				  lineno, (int)wl[1], w[1]);
	if (port_parse(w[2], wl[2], &m->ctr_port) < 0)
		return bk_err_set(err, EINVAL, "ports line %u: container port '%.*s': not 1-65535",
				  lineno, (int)wl[2], w[2]);
	return 0;
}

int
ports_parse(const char *text, struct port_map *out, size_t max, size_t *n, struct bk_err *err)
{
	const char *line = text, *end;
	size_t count = 0, len, i, skip;
	unsigned lineno = 0;
	struct port_map m;
	int ret;

	*n = 0;
	while (*line) {
		end = strchr(line, '\n');
		len = end ? (size_t)(end - line) : strlen(line);
		lineno++;
		skip = strspn(line, " \t\r");
		if (skip < len && line[skip] != '#') {
			ret = line_parse(line, len, &m, lineno, err);
			if (ret < 0)
				return ret;
			for (i = 0; i < count; i++)
				if (out[i].proto == m.proto && out[i].host_port == m.host_port)
					return bk_err_set(err, EINVAL,
							  "ports line %u: %s host port %u is "
							  "already published",
							  lineno,
							  m.proto == IPPROTO_TCP ? "tcp" : "udp",
							  m.host_port);
			if (count == max)
				return bk_err_set(err, E2BIG, "ports line %u: more than %zu ports",
						  lineno, max);
			out[count++] = m;
		}
		line += len + (end ? 1 : 0);
	}
	*n = count;
	return 0;
}

char *
ports_format(const struct port_map *maps, size_t n)
{
	char *text = xcalloc(n * 20 + 1, 1);
	size_t used = 0, i;

	for (i = 0; i < n; i++)
		used += (size_t)snprintf(text + used, 21, "%s %u %u\n",
					 maps[i].proto == IPPROTO_TCP ? "tcp" : "udp",
					 maps[i].host_port, maps[i].ctr_port);
	return text;
}

static const char *const mode_names[] = {
	[NET_MODE_BRIDGE] = "bridge",
	[NET_MODE_NONE] = "none",
	[NET_MODE_HOST] = "host",
};

const char *
net_mode_name(enum net_mode mode)
{
	return mode <= NET_MODE_HOST ? mode_names[mode] : "bridge";
}

int
net_mode_parse(const char *s, enum net_mode *out)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(mode_names); i++)
		if (strcmp(s, mode_names[i]) == 0) {
			*out = (enum net_mode)i;
			return 0;
		}
	return -EINVAL;
}
