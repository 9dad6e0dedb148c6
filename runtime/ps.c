/* ps [--format table|json] ID: the pids of the container's processes. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int
verb_ps(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct bk_err err = BK_ERR_INIT;
	pid_t *pids = NULL;
	bool json = false;
	size_t n, i;
	int c;

	opterr = 0;
	while ((c = getopt_long_only(argc, argv, "+f:", opts, NULL)) != -1) {
		if (c != 'f' || (strcmp(optarg, "json") && strcmp(optarg, "table")))
			return cli_usage(cli, "ps", "expects [--format table|json] ID");
		json = strcmp(optarg, "json") == 0;
	}
	if (optind >= argc)
		return cli_usage(cli, "ps", "expects a container id");
	if (bk_rt_ps(&cli->rt, argv[optind], &pids, &n, &err) < 0)
		return cli_fail(cli, &err);
	if (json) {
		printf("[");
		for (i = 0; i < n; i++)
			printf("%s%d", i ? "," : "", (int)pids[i]);
		printf("]\n");
	} else {
		printf("PID\n");
		for (i = 0; i < n; i++)
			printf("%d\n", (int)pids[i]);
	}
	free(pids);
	return 0;
}
