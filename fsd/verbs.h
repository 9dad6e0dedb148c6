/*
 * verbs.h: the commands of the control files (verbs.c), as control.c checks
 * and runs a write's lines against them.  Private to those two files (and
 * the ctl fuzz target).
 */
#ifndef FSD_VERBS_H
#define FSD_VERBS_H

#include "fsd.h"

#define WORDS_MAX 8 /* words in one command */

struct verb;
struct control_file;

/* One command line of a write. */
struct line {
	char *raw; /* the command line as written */
	int argc;
	char *argv[WORDS_MAX]; /* its words (run, exec/N/ctl: the first only) */
	char *words;           /* storage for argv */
	/* Set by control_check_line: */
	const struct control_file *file;
	const struct verb *verb;
	int nargs;
	const char *args[WORDS_MAX]; /* the verb's arguments: words, or the rest as written */
};

/* What a command runs with, on the work thread. */
struct run_ctx {
	struct bk_engine *engine;
	const char
	    *obj_id; /* the container (containers/ID/ctl, exec/N/ctl), the image (images/ID/ctl) */
	int exec_n;  /* exec/N/ctl: the session */
	struct bk_cancel *cancel;
	char **reply; /* the ids made, one per line */
};

/*
 * What one verb takes, checks and does.  check (NULL: nothing more to check)
 * runs before anything of the write runs; run runs on the work thread and
 * adds the ids it makes to the reply.
 */
struct verb {
	const char *name; /* the first word; the file's name for a file of one command */
	const char *args; /* its arguments, for usage messages: "[SECS]" */
	int min, max;     /* how many arguments */
	must_check int (*check)(const struct line *l, struct bk_err *err);
	must_check int (*run)(const struct run_ctx *c, const struct line *l, struct bk_err *err);
};

/* How a control file's lines read. */
enum line_form {
	FORM_ARGS,      /* ARG...: one command, words (images/import) */
	FORM_VERB_ARGS, /* VERB ARG...: words (containers/ID/ctl) */
	FORM_ARG_REST,  /* ARG REST...: one command, a word and the rest as written (run) */
	FORM_VERB_REST, /* VERB REST...: the rest as written is one argument (exec/N/ctl) */
};

struct control_file {
	enum node_kind kind;
	enum line_form form;
	const struct verb *verbs;
	size_t nverbs;
};

/* The control file of kind, or NULL if kind takes no commands. */
const struct control_file *control_file_of(enum node_kind kind);
/* "start | stop [SECS] | ...": the file's commands, for messages. */
void control_usage(const struct control_file *cf, char *buf, size_t size);
/* EINVAL: l's arguments do not fit its verb (the message shows how they should). */
must_check int wrong_arguments(const struct line *l, struct bk_err *err);

/*
 * control.c: split l (l->raw) into words and check it against the verbs of
 * the control file file: 0, or -errno with err set.  Nothing runs.
 */
must_check int control_check_line(enum node_kind file, struct line *l, struct bk_err *err);

#endif
