/*
 * Fuzz engine/parse/dockerfile.c: parse (lines, continuations, the escape
 * directive, exec and shell forms, flags), the base image, the expansion of
 * variables with a base image's Env, and dockerfile_clean_path.
 * Checks: failures carry EINVAL (EFBIG past the size cap) and a message,
 * with "line N: " after parsing; an accepted Dockerfile has one FROM, only
 * ARGs before it, lines in order, each instruction made from its own lines; the plan has a step per
 * instruction with NULL-terminated argv and env; COPY/ADD sources stay inside the context; a
 * cleaned path is relative and never climbs.
 */
#include <errno.h>

#include "fuzz.h"
#include "parse/parse.h"

static const char *const base_env[] = { "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/root",
					"EMPTY=", NULL };

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	bk_log_set_sink(fuzz_quiet_sink);
	return 0;
}

/* No "..", no leading '/', no empty component: what the build copies stays in the context. */
static void
check_clean(const char *p)
{
	FUZZ_ASSERT(p[0] != '\0' && p[0] != '/');
	if (strcmp(p, ".") == 0)
		return;
	for (const char *c = p; *c;) {
		size_t n = strcspn(c, "/");

		FUZZ_ASSERT(n > 0);
		FUZZ_ASSERT(!(n == 2 && c[0] == '.' && c[1] == '.'));
		FUZZ_ASSERT(!(n == 1 && c[0] == '.'));
		c += n;
		if (*c == '/') {
			c++;
			FUZZ_ASSERT(*c != '\0');
		}
	}
}

static void
check_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		FUZZ_ASSERT(v[i] != NULL);
	FUZZ_ASSERT(v == NULL ? n == 0 : v[n] == NULL);
}

static void
check_plan(const struct dockerfile *df, const struct df_plan *plan)
{
	FUZZ_ASSERT(plan->n == df->n);
	for (size_t i = 0; i < plan->n; i++) {
		const struct df_step *st = &plan->v[i];

		FUZZ_ASSERT(st->op == df->v[i].op && st->line == df->v[i].line);
		check_strv(st->argv, st->argc);
		check_strv(st->env, st->nenv);
		if (st->op == DF_COPY || st->op == DF_ADD) {
			FUZZ_ASSERT(st->argc >= 2);
			for (size_t k = 0; k + 1 < st->argc; k++)
				check_clean(st->argv[k]);
		}
		if (st->op == DF_ENV || st->op == DF_LABEL)
			for (size_t k = 0; k < st->argc; k++)
				FUZZ_ASSERT(strchr(st->argv[k], '=') != NULL);
	}
}

/* Where line (from 1) starts in text. */
static size_t
line_start(const char *text, size_t len, int line)
{
	size_t off = 0;

	for (int l = 1; l < line && off < len; off++)
		l += text[off] == '\n';
	return off;
}

static void
check_dockerfile(const char *text, size_t len)
{
	struct bk_err err = BK_ERR_INIT;
	struct dockerfile df;
	struct df_plan plan;
	char *image = NULL;
	size_t nfrom = 0, off;
	int ret = dockerfile_parse(text, len, &df, &err);

	fuzz_check_err(ret, &err, "dockerfile_parse");
	if (ret < 0) {
		FUZZ_ASSERT(ret == -EINVAL || ret == -EFBIG);
		FUZZ_ASSERT(df.v == NULL && df.n == 0);
		return;
	}
	FUZZ_ASSERT(df.n > 0 && df.n <= DF_INSTR_MAX);
	FUZZ_ASSERT(df.escape == '\\' || df.escape == '`');
	for (size_t i = 0; i < df.n; i++) {
		const struct df_instr *in = &df.v[i];

		FUZZ_ASSERT(in->line >= 1 && (i == 0 || in->line > df.v[i - 1].line));
		FUZZ_ASSERT(in->text != NULL && in->rest != NULL);
		/* Made from its own lines: its first character is at or after its line. */
		off = line_start(text, len, in->line);
		FUZZ_ASSERT(in->text[0] && memchr(text + off, in->text[0], len - off) != NULL);
		FUZZ_ASSERT(nfrom > 0 || in->op == DF_ARG || in->op == DF_FROM);
		nfrom += in->op == DF_FROM;
		if (in->json)
			check_strv(in->argv, in->argc);
		FUZZ_ASSERT(dockerfile_op_name(in->op) != NULL);
	}
	FUZZ_ASSERT(nfrom == 1);
	ret = dockerfile_base(&df, &image, &err);
	fuzz_check_err(ret, &err, "dockerfile_base");
	FUZZ_ASSERT(ret == 0 ? image != NULL && image[0] != '\0' : image == NULL);
	free(image);
	ret = dockerfile_expand(&df, base_env, &plan, &err);
	fuzz_check_err(ret, &err, "dockerfile_expand");
	if (ret == 0) {
		check_plan(&df, &plan);
		dockerfile_plan_free(&plan);
	} else {
		FUZZ_ASSERT(ret == -EINVAL && strncmp(err.msg, "line ", 5) == 0);
		FUZZ_ASSERT(plan.v == NULL && plan.n == 0);
	}
	dockerfile_free(&df);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes, not terminated: the parser takes a length. */
	char *text = malloc(size ? size : 1);
	char *s, *clean;

	if (text == NULL)
		abort();
	memcpy(text, data, size);
	check_dockerfile(text, size);
	free(text);
	s = fuzz_cstr(data, size);
	clean = dockerfile_clean_path(s);
	if (clean)
		check_clean(clean);
	free(clean);
	free(s);
	return 0;
}
