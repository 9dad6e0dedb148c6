/*
 * dockerfile.h: the Dockerfile subset bockerfs builds, parsed and expanded.
 *
 * Pure: no I/O.  dockerfile_parse() splits the text into instructions (line
 * continuations, comments, the escape directive, exec form against shell
 * form, flags) and rejects what is not supported; dockerfile_expand() then
 * substitutes ${VAR} and $VAR in the instructions Docker substitutes them in,
 * with the scoping Docker gives ARG and ENV, given the base image's Env.
 * Every error is EINVAL with "line N: ..." in err.
 */
#ifndef BK_DOCKERFILE_H
#define BK_DOCKERFILE_H

#include <stdbool.h>
#include <stddef.h>

struct bk_err;

#define DF_TEXT_MAX   (1u << 20) /* largest Dockerfile accepted */
#define DF_INSTR_MAX  1024	 /* instructions in one Dockerfile */
#define DF_EXPAND_MAX (4u << 20) /* bytes made by substitution, EXPOSE ranges, RUN's args */
#define DF_NEST_MAX   32          /* ${A:-${B:-...}} levels */

enum df_op {
	DF_FROM,
	DF_ARG,
	DF_RUN,
	DF_COPY,
	DF_ADD,
	DF_ENV,
	DF_WORKDIR,
	DF_USER,
	DF_CMD,
	DF_ENTRYPOINT,
	DF_LABEL,
	DF_EXPOSE,
};

/* One instruction as written. */
struct df_instr {
	enum df_op op;
	int line;     /* where it starts, from 1 */
	char *text;   /* "RUN a && b", continuations joined, for "Step N/M : ..." */
	char *rest;   /* the arguments after the keyword and the flags, trimmed */
	bool json;    /* rest is a JSON array of strings, in argv */
	char **argv;  /* json only: its strings, NULL-terminated */
	size_t argc;
	char *chown;  /* COPY/ADD --chown=, NULL if absent (not expanded yet) */
	char *chmod;  /* COPY/ADD --chmod=, NULL if absent */
};

struct dockerfile {
	struct df_instr *v;
	size_t n;
	char escape; /* '\\', or '`' after "# escape=`" */
};

/*
 * One instruction after substitution.  argv (NULL-terminated) by op:
 *   FROM                 the image ("scratch" for none)
 *   ARG                  "NAME=VALUE", or "NAME" when it has no default
 *   ENV, LABEL           "KEY=VALUE" per pair, in order
 *   RUN, CMD, ENTRYPOINT exec form: the JSON array; shell form: one command line
 *   COPY, ADD            the sources (cleaned, relative to the context), then the destination
 *   WORKDIR, USER        the value
 *   EXPOSE               "PORT/PROTO" per port, ranges expanded
 */
struct df_step {
	enum df_op op;
	int line;
	const char *text; /* borrowed from the struct dockerfile */
	bool exec_form;
	char **argv;
	size_t argc;
	char *chown, *chmod; /* COPY/ADD, expanded; NULL if absent */
	/* RUN: the build arguments it sees in its environment ("NAME=VALUE"), NULL-terminated */
	char **env;
	size_t nenv;
};

struct df_plan {
	struct df_step *v; /* one per instruction, in order */
	size_t n;
};

/*
 * Parse text (len bytes).  Fails with EINVAL and "line N: ..." on an unknown
 * or unsupported instruction (HEALTHCHECK, ONBUILD, SHELL, VOLUME, ...), an
 * instruction before FROM other than ARG, a second FROM, a missing argument,
 * an unsupported flag, an unterminated quote or ${, or no FROM at all.  On
 * failure out is left empty.
 */
int dockerfile_parse(const char *text, size_t len, struct dockerfile *out, struct bk_err *err);
void dockerfile_free(struct dockerfile *df);

/*
 * The image FROM names, with the ARGs declared before it substituted; caller
 * frees *image.  EINVAL if it expands to nothing or to more than a name.
 */
int dockerfile_base(const struct dockerfile *df, char **image, struct bk_err *err);

/*
 * Substitute variables in every instruction: ARG defaults (those before FROM
 * only in FROM, unless declared again after it), then ENV, over base_env
 * (the base image's "KEY=VALUE" Env, NULL-terminated, may be NULL), each
 * instruction seeing the values before it.  Also checks what needs the
 * values: argument counts, ENV/LABEL/ARG pairs, EXPOSE ports, and COPY/ADD
 * sources, which must stay inside the context ("../x" is EINVAL) and must not
 * be URLs; and that what the instructions expand to stays within
 * DF_EXPAND_MAX bytes in all ("ENV A=$A$A" doubles A) and substitutions
 * within DF_NEST_MAX levels.  On failure out is left empty.
 */
int dockerfile_expand(const struct dockerfile *df, const char *const *base_env, struct df_plan *out,
		      struct bk_err *err);
void dockerfile_plan_free(struct df_plan *plan);

/* "FROM", "RUN", ... (static). */
const char *dockerfile_op_name(enum df_op op);

/*
 * Clean a context-relative path lexically: leading '/', '.' and empty
 * components dropped, ".." taking one off.  Returns a new string ("." for
 * the context itself), or NULL if it climbs out of the context.
 */
char *dockerfile_clean_path(const char *path);

#endif
