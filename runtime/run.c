/*
 * run [create's options] [--detach] ID: create and start; without --detach,
 * wait for the container's init (our child: the clone was ours), delete the
 * container and exit with its status, as runc run does.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <jansson.h>

#include "cli.h"

int create_options(struct cli *cli, const char *verb, int argc, char **argv, struct bk_rt_create *o,
		   bool *detach);

static pid_t
init_pid(struct cli *cli, const char *id)
{
	struct bk_err err = BK_ERR_INIT;
	json_t *j;
	char *text = NULL;
	pid_t pid = -1;

	if (bk_rt_state(&cli->rt, id, &text, &err) < 0)
		return -1;
	j = json_loads(text, 0, NULL);
	if (j)
		pid = (pid_t)json_integer_value(json_object_get(j, "pid"));
	json_decref(j);
	free(text);
	return pid;
}

int
verb_run(struct cli *cli, int argc, char **argv)
{
	struct bk_rt_create o = { 0 };
	struct bk_err err = BK_ERR_INIT;
	bool detach = false;
	int ret = create_options(cli, "run", argc, argv, &o, &detach), status;
	pid_t pid;

	if (ret)
		return ret;
	if (bk_rt_create(&cli->rt, &o, &err) < 0)
		return cli_fail(cli, &err);
	pid = init_pid(cli, o.id);
	if (bk_rt_start(&cli->rt, o.id, &err) < 0) {
		cli_fail(cli, &err);
		(void)bk_rt_delete(&cli->rt, o.id, true, &err);
		return 1;
	}
	if (detach)
		return 0;
	/* Signals for the container are the container's: forward the usual ones by not dying. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			status = 0;
			break;
		}
	if (bk_rt_delete(&cli->rt, o.id, true, &err) < 0)
		cli_fail(cli, &err);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}
