/*
 * exec [--process FILE] [--detach] [--pid-file F] [--console-socket S] [--tty]
 *      [--preserve-fds N] ID [COMMAND...]: without --detach, the exit status is the
 * process's.
 */
#include <getopt.h>
#include <stddef.h>

#include "cli.h"

int
verb_exec(struct cli *cli, int argc, char **argv)
{
	enum { O_PROCESS = 256, O_DETACH, O_PID, O_CONSOLE, O_TTY, O_PRESERVE };
	static const struct option opts[] = {
		{ "process", required_argument, NULL, O_PROCESS },
		{ "p", required_argument, NULL, O_PROCESS },
		{ "detach", no_argument, NULL, O_DETACH },
		{ "d", no_argument, NULL, O_DETACH },
		{ "pid-file", required_argument, NULL, O_PID },
		{ "console-socket", required_argument, NULL, O_CONSOLE },
		{ "tty", no_argument, NULL, O_TTY },
		{ "t", no_argument, NULL, O_TTY },
		{ "preserve-fds", required_argument, NULL, O_PRESERVE },
		{ NULL, 0, NULL, 0 },
	};
	struct bk_rt_exec o = { 0 };
	struct bk_err err = BK_ERR_INIT;
	int c, ret;

	opterr = 0;
	while ((c = getopt_long_only(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case O_PROCESS:
			o.process_file = optarg;
			break;
		case O_DETACH:
			o.detach = true;
			break;
		case O_PID:
			o.pid_file = optarg;
			break;
		case O_CONSOLE:
			o.console_socket = optarg;
			break;
		case O_TTY:
			o.tty = true;
			break;
		case O_PRESERVE:
			if (cli_int(cli, "exec", "preserve-fds", optarg, &o.preserve_fds) < 0)
				return 1;
			break;
		default:
			return cli_usage(cli, "exec",
					 "unknown option '%s' (the environment, user "
					 "and cwd come with --process)",
					 argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage(cli, "exec", "expects a container id");
	o.id = argv[optind];
	o.args = argv + optind + 1;
	if (o.process_file && o.args[0])
		return cli_usage(cli, "exec", "a command and --process are exclusive");
	ret = bk_rt_exec(&cli->rt, &o, &err);
	if (ret < 0)
		return cli_fail(cli, &err);
	return ret;
}
