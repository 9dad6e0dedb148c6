/* start ID */
#include <getopt.h>

#include "cli.h"

int
verb_start(struct cli *cli, int argc, char **argv)
{
	struct bk_err err = BK_ERR_INIT;
	const char *id = cli_one_id(cli, "start", argc, argv);

	if (id == NULL)
		return 1;
	return bk_rt_start(&cli->rt, id, &err) < 0 ? cli_fail(cli, &err) : 0;
}
