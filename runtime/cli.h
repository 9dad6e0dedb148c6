/*
 * cli.h: bockerfs-runtime's command line, runc's: global options, then a
 * verb and its own options (main.c), one file per verb.  Errors go to
 * stderr and, with --log, to the log file (--log-format json: one
 * {"level":"error","msg":...,"time":...} line, which containerd's shim
 * reads back when a verb fails).
 */
#ifndef BK_RUNTIME_CLI_H
#define BK_RUNTIME_CLI_H

#include "runtime.h"

struct cli {
	struct bk_runtime rt;
	const char *log; /* --log FILE, NULL: stderr only */
	bool log_json;   /* --log-format json */
	bool debug;      /* --debug */
};

/* A verb: argv[0] is its name; returns the process's exit status. */
typedef int (*verb_fn)(struct cli *cli, int argc, char **argv);

/* Report err (and exit status 1). */
int cli_fail(struct cli *cli, const struct bk_err *err);
/* Report a usage error of verb (exit status 1). */
int cli_usage(struct cli *cli, const char *verb, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Exactly one argument left after the options: the container id, else a usage error. */
const char *cli_one_id(struct cli *cli, const char *verb, int argc, char **argv);
/* A non-negative int option value ("--preserve-fds 2"). */
int cli_int(struct cli *cli, const char *verb, const char *opt, const char *s, int *out);

int verb_create(struct cli *cli, int argc, char **argv);
int verb_start(struct cli *cli, int argc, char **argv);
int verb_run(struct cli *cli, int argc, char **argv);
int verb_state(struct cli *cli, int argc, char **argv);
int verb_kill(struct cli *cli, int argc, char **argv);
int verb_delete(struct cli *cli, int argc, char **argv);
int verb_exec(struct cli *cli, int argc, char **argv);
int verb_ps(struct cli *cli, int argc, char **argv);
int verb_list(struct cli *cli, int argc, char **argv);
int verb_pause(struct cli *cli, int argc, char **argv);
int verb_resume(struct cli *cli, int argc, char **argv);
int verb_update(struct cli *cli, int argc, char **argv);
int verb_features(struct cli *cli, int argc, char **argv);

#endif
