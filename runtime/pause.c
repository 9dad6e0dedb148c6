/* pause ID, resume ID: the container's group frozen and thawed. */
#include "cli.h"

static int
freeze(struct cli *cli, const char *verb, int argc, char **argv, bool pause)
{
	struct bk_err err = BK_ERR_INIT;
	const char *id = cli_one_id(cli, verb, argc, argv);

	if (id == NULL)
		return 1;
	return bk_rt_pause(&cli->rt, id, pause, &err) < 0 ? cli_fail(cli, &err) : 0;
}

int
verb_pause(struct cli *cli, int argc, char **argv)
{
	return freeze(cli, "pause", argc, argv, true);
}

int
verb_resume(struct cli *cli, int argc, char **argv)
{
	return freeze(cli, "resume", argc, argv, false);
}
