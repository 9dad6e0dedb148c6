/* delete [--force] ID */
#include <getopt.h>
#include <stddef.h>

#include "cli.h"

int
verb_delete(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	struct bk_err err = BK_ERR_INIT;
	bool force = false;
	const char *id;
	int c;

	opterr = 0;
	while ((c = getopt_long_only(argc, argv, "+f", opts, NULL)) != -1) {
		if (c != 'f')
			return cli_usage(cli, "delete", "unknown option '%s'", argv[optind - 1]);
		force = true;
	}
	id = cli_one_id(cli, "delete", argc, argv);
	if (id == NULL)
		return 1;
	return bk_rt_delete(&cli->rt, id, force, &err) < 0 ? cli_fail(cli, &err) : 0;
}
