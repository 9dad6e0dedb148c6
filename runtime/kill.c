/* kill [--all] ID [SIGNAL]: SIGNAL by number or name, SIGTERM by default. */
#include <getopt.h>
#include <signal.h>
#include <stddef.h>

#include "cli.h"

int
verb_kill(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	struct bk_err err = BK_ERR_INIT;
	bool all = false;
	int c, sig = SIGTERM;

	opterr = 0;
	while ((c = getopt_long_only(argc, argv, "+a", opts, NULL)) != -1) {
		if (c != 'a')
			return cli_usage(cli, "kill", "unknown option '%s'", argv[optind - 1]);
		all = true;
	}
	if (optind != argc - 1 && optind != argc - 2)
		return cli_usage(cli, "kill", "expects ID [SIGNAL]");
	if (optind == argc - 2) {
		sig = bk_rt_signal_parse(argv[optind + 1]);
		if (sig < 0)
			return cli_usage(cli, "kill", "unknown signal '%s'", argv[optind + 1]);
	}
	return bk_rt_kill(&cli->rt, argv[optind], sig, all, &err) < 0 ? cli_fail(cli, &err) : 0;
}
