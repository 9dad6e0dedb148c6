/* state ID: the runtime-spec state JSON on stdout. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

int
verb_state(struct cli *cli, int argc, char **argv)
{
	struct bk_err err = BK_ERR_INIT;
	const char *id = cli_one_id(cli, "state", argc, argv);
	char *json = NULL;

	if (id == NULL)
		return 1;
	if (bk_rt_state(&cli->rt, id, &json, &err) < 0)
		return cli_fail(cli, &err);
	printf("%s\n", json);
	free(json);
	return 0;
}
