/* create [--bundle DIR] [--pid-file F] [--console-socket S] [--preserve-fds N] [--no-pivot]
 *        [--no-new-keyring] ID */
#include <getopt.h>
#include <stddef.h>

#include "cli.h"

/* Shared with run: the options of create, parsed into o; returns 0 or the exit status. */
int create_options(struct cli *cli, const char *verb, int argc, char **argv, struct bk_rt_create *o,
		   bool *detach);

int
create_options(struct cli *cli, const char *verb, int argc, char **argv, struct bk_rt_create *o,
	       bool *detach)
{
	enum {
		O_BUNDLE = 256,
		O_PID,
		O_CONSOLE,
		O_PRESERVE,
		O_NOPIVOT,
		O_KEYRING,
		O_DETACH,
		O_NOSUBREAPER
	};
	static const struct option opts[] = {
		{ "bundle", required_argument, NULL, O_BUNDLE },
		{ "b", required_argument, NULL, O_BUNDLE },
		{ "pid-file", required_argument, NULL, O_PID },
		{ "console-socket", required_argument, NULL, O_CONSOLE },
		{ "preserve-fds", required_argument, NULL, O_PRESERVE },
		{ "no-pivot", no_argument, NULL, O_NOPIVOT },
		{ "no-new-keyring", no_argument, NULL, O_KEYRING },
		{ "detach", no_argument, NULL, O_DETACH },
		{ "d", no_argument, NULL, O_DETACH },
		{ "no-subreaper", no_argument, NULL, O_NOSUBREAPER },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long_only(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case O_BUNDLE:
			o->bundle = optarg;
			break;
		case O_PID:
			o->pid_file = optarg;
			break;
		case O_CONSOLE:
			o->console_socket = optarg;
			break;
		case O_PRESERVE:
			if (cli_int(cli, verb, "preserve-fds", optarg, &o->preserve_fds) < 0)
				return 1;
			break;
		case O_NOPIVOT:
			o->no_pivot = true;
			break;
		case O_KEYRING:
			o->no_new_keyring = true;
			break;
		case O_DETACH:
			if (detach == NULL)
				return cli_usage(cli, verb, "unknown option '%s'",
						 argv[optind - 1]);
			*detach = true;
			break;
		case O_NOSUBREAPER:
			break;
		default:
			return cli_usage(cli, verb, "unknown option '%s'", argv[optind - 1]);
		}
	}
	o->id = cli_one_id(cli, verb, argc, argv);
	return o->id ? 0 : 1;
}

int
verb_create(struct cli *cli, int argc, char **argv)
{
	struct bk_rt_create o = { 0 };
	struct bk_err err = BK_ERR_INIT;
	int ret = create_options(cli, "create", argc, argv, &o, NULL);

	if (ret)
		return ret;
	return bk_rt_create(&cli->rt, &o, &err) < 0 ? cli_fail(cli, &err) : 0;
}
