/* features: what this runtime supports (runtime-spec features.md), for Docker and containerd. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

int
verb_features(struct cli *cli, int argc, char **argv)
{
	char *json = bk_rt_features();

	(void)argc;
	(void)argv;
	if (json == NULL)
		return cli_usage(cli, "features", "out of memory");
	printf("%s\n", json);
	free(json);
	return 0;
}
