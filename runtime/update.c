/* update --resources FILE|- ID: linux.resources JSON applied to the container's group. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define RESOURCES_MAX (1 << 20)

int
verb_update(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "resources", required_argument, NULL, 'r' },
		{ "r", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct bk_err err = BK_ERR_INIT;
	const char *file = NULL, *id;
	char *buf;
	size_t len = 0;
	ssize_t n;
	int c, fd, ret;

	opterr = 0;
	while ((c = getopt_long_only(argc, argv, "+", opts, NULL)) != -1) {
		if (c != 'r')
			return cli_usage(cli, "update", "only --resources FILE|- is supported");
		file = optarg;
	}
	id = cli_one_id(cli, "update", argc, argv);
	if (id == NULL)
		return 1;
	if (file == NULL)
		return cli_usage(cli, "update", "expects --resources FILE|-");
	fd = strcmp(file, "-") == 0 ? 0 : open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return cli_usage(cli, "update", "%s: %s", file, strerror(errno));
	buf = malloc(RESOURCES_MAX + 1);
	if (buf == NULL)
		return cli_usage(cli, "update", "out of memory");
	while (len <= RESOURCES_MAX && (n = read(fd, buf + len, RESOURCES_MAX + 1 - len)) > 0)
		len += (size_t)n;
	if (fd > 0)
		close(fd);
	ret = bk_rt_update(&cli->rt, id, buf, len, &err);
	free(buf);
	return ret < 0 ? cli_fail(cli, &err) : 0;
}
