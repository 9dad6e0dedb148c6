/*
 * Unit tests for engine/parse/dockerfile.c: lines, continuations and comments,
 * exec and shell forms, flags, refusals with their line numbers, variable
 * substitution and the scoping of ARG and ENV.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bocker.h"
#include "parse/parse.h"
#include "tap.h"

static int
parse(const char *text, struct dockerfile *df, struct bk_err *err)
{
	return dockerfile_parse(text, strlen(text), df, err);
}

/* Parse and expand text with base_env; the plan in *plan.  0 or -errno. */
static int
plan_of(const char *text, const char *const *base_env, struct df_plan *plan, struct bk_err *err)
{
	struct dockerfile df;
	int ret = parse(text, &df, err);

	if (ret < 0)
		return ret;
	ret = dockerfile_expand(&df, base_env, plan, err);
	dockerfile_free(&df);
	return ret;
}

/* The parse or the expansion fails with EINVAL and a message starting "line N: " holding want. */
static int
fails_at(const char *text, int line, const char *want)
{
	struct bk_err err = BK_ERR_INIT;
	struct df_plan plan;
	char prefix[32];
	int ret = plan_of(text, NULL, &plan, &err);

	if (ret == 0) {
		dockerfile_plan_free(&plan);
		printf("# accepted: %s\n", text);
		return -1;
	}
	snprintf(prefix, sizeof(prefix), "line %d: ", line);
	if (ret != -EINVAL || err.code != EINVAL || strncmp(err.msg, prefix, strlen(prefix)) != 0 ||
	    strstr(err.msg, want) == NULL) {
		printf("# ret %d, message '%s', want '%s...%s'\n", ret, err.msg, prefix, want);
		return -1;
	}
	return 0;
}

static int
test_lines_and_continuations(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct dockerfile df;
	const char *text = "# a comment\n"
			   "\n"
			   "FROM busybox\n"
			   "RUN echo one \\\n"
			   "    two \\\n"
			   "# a comment inside is dropped\n"
			   "\n"
			   "    three\r\n"
			   "  run   echo lower case   \n"
			   "CMD echo last \\";

	CHECK_INT(parse(text, &df, &err), 0);
	CHECK_INT(df.n, 4);
	CHECK_INT(df.v[0].op, DF_FROM);
	CHECK_INT(df.v[0].line, 3);
	CHECK_STR(df.v[0].rest, "busybox");
	CHECK_INT(df.v[1].op, DF_RUN);
	CHECK_INT(df.v[1].line, 4);
	CHECK_STR(df.v[1].rest, "echo one     two     three");
	CHECK_STR(df.v[1].text, "RUN echo one     two     three");
	CHECK(!df.v[1].json);
	CHECK_INT(df.v[2].op, DF_RUN);
	CHECK_INT(df.v[2].line, 9);
	CHECK_STR(df.v[2].rest, "echo lower case");
	CHECK_STR(df.v[2].text, "run   echo lower case");
	/* A continuation at the end of the file ends the instruction. */
	CHECK_INT(df.v[3].op, DF_CMD);
	CHECK_INT(df.v[3].line, 10);
	CHECK_STR(df.v[3].rest, "echo last");
	dockerfile_free(&df);
	return 0;
}

static int
test_escape_directive(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct dockerfile df;
	struct df_plan plan;

	CHECK_INT(parse("# escape=`\nFROM busybox\nRUN dir c:\\ `\n  && echo x\n", &df, &err), 0);
	CHECK_INT(df.escape, '`');
	CHECK_INT(df.n, 2);
	CHECK_STR(df.v[1].rest, "dir c:\\   && echo x");
	dockerfile_free(&df);
	/* Not at the top: a comment, so the backslash still continues lines. */
	CHECK_INT(parse("FROM busybox\n# escape=`\nRUN a \\\n b\n", &df, &err), 0);
	CHECK_INT(df.escape, '\\');
	CHECK_STR(df.v[1].rest, "a  b");
	dockerfile_free(&df);
	CHECK_INT(plan_of("# escape=`\nFROM busybox\nENV A=x`$y\n", NULL, &plan, &err), 0);
	CHECK_STR(plan.v[1].argv[0], "A=x$y");
	dockerfile_plan_free(&plan);
	CHECK(fails_at("# escape=x\nFROM busybox\n", 1, "bad escape 'x'") == 0);
	return 0;
}

static int
test_exec_and_shell_forms(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct df_plan plan;
	const char *text = "FROM busybox\n"
			   "RUN [\"/bin/echo\", \"a b\", \"it's\"]\n"
			   "RUN echo $HOME \"q\"\n"
			   "CMD [\"sh\", \"-c\", \"echo $X\"]\n"
			   "ENTRYPOINT [not json\n"
			   "CMD []\n";

	CHECK_INT(plan_of(text, NULL, &plan, &err), 0);
	CHECK_INT(plan.n, 6);
	CHECK(plan.v[1].exec_form);
	CHECK_INT(plan.v[1].argc, 3);
	CHECK_STR(plan.v[1].argv[0], "/bin/echo");
	CHECK_STR(plan.v[1].argv[1], "a b");
	CHECK_STR(plan.v[1].argv[2], "it's");
	CHECK(plan.v[1].argv[3] == NULL);
	/* The shell form is kept as written: the shell substitutes when it runs. */
	CHECK(!plan.v[2].exec_form);
	CHECK_INT(plan.v[2].argc, 1);
	CHECK_STR(plan.v[2].argv[0], "echo $HOME \"q\"");
	CHECK(plan.v[3].exec_form);
	CHECK_STR(plan.v[3].argv[2], "echo $X");
	/* Not a JSON array of strings: the shell form, as Docker does. */
	CHECK(!plan.v[4].exec_form);
	CHECK_STR(plan.v[4].argv[0], "[not json");
	CHECK(plan.v[5].exec_form);
	CHECK_INT(plan.v[5].argc, 0);
	dockerfile_plan_free(&plan);
	CHECK(fails_at("FROM busybox\nRUN []\n", 2, "RUN: empty command") == 0);
	return 0;
}

static int
test_refusals(void)
{
	CHECK(fails_at("FROM busybox\nRUN true\nHEALTHCHECK CMD true\n", 3,
		       "unsupported instruction 'HEALTHCHECK'") == 0);
	CHECK(fails_at("FROM busybox\n\n\nonbuild RUN true\n", 4,
		       "unsupported instruction 'ONBUILD'") == 0);
	CHECK(fails_at("FROM busybox\nSHELL [\"/bin/bash\", \"-c\"]\n", 2, "unsupported") == 0);
	CHECK(fails_at("FROM busybox\nSTOPSIGNAL SIGKILL\n", 2, "unsupported") == 0);
	CHECK(fails_at("FROM busybox\nVOLUME data\n", 2, "not an absolute path") == 0);
	CHECK(fails_at("FROM busybox\nVOLUME [\"/a\", \"b\"]\n", 2, "not an absolute path") == 0);
	CHECK(fails_at("FROM busybox\nFROBNICATE x\n", 2, "unknown instruction 'FROBNICATE'") == 0);
	CHECK(fails_at("RUN true\nFROM busybox\n", 1, "RUN before FROM") == 0);
	CHECK(fails_at("ARG V=1\nFROM busybox:$V\nFROM alpine\n", 3, "multi-stage") == 0);
	CHECK(fails_at("# nothing\n", 1, "no FROM") == 0);
	CHECK(fails_at("ARG X=1\n", 1, "no FROM") == 0);
	CHECK(fails_at("FROM busybox\nRUN\n", 2, "RUN requires an argument") == 0);
	CHECK(fails_at("FROM busybox\nWORKDIR   \n", 2, "WORKDIR requires an argument") == 0);
	CHECK(fails_at("FROM busybox\nCOPY --from=build /a /b\n", 2,
		       "COPY: unsupported flag '--from=build'") == 0);
	CHECK(fails_at("FROM busybox\nRUN --mount=type=cache,target=/x true\n", 2,
		       "unsupported flag") == 0);
	CHECK(fails_at("FROM --platform=linux/arm64 busybox\n", 1, "unsupported flag") == 0);
	CHECK(fails_at("FROM busybox\nCOPY --chown=1 --chown=2 a /b\n", 2, "given twice") == 0);
	CHECK(fails_at("FROM busybox\nENV A=\"unterminated\n", 2, "unterminated double quote") ==
	      0);
	CHECK(fails_at("FROM busybox\nLABEL a='x\n", 2, "unterminated single quote") == 0);
	CHECK(fails_at("FROM busybox\nWORKDIR ${X\n", 2, "missing '}'") == 0);
	CHECK(fails_at("FROM busybox\nUSER ${}\n", 2, "bad substitution") == 0);
	CHECK(fails_at("FROM busybox\nUSER ${A%b}\n", 2, "bad substitution") == 0);
	CHECK(fails_at("FROM busybox\nENV ONLYKEY\n", 2, "no value") == 0);
	CHECK(fails_at("FROM busybox\nENV A=1 B\n", 2, "'B' is not KEY=VALUE") == 0);
	CHECK(fails_at("FROM busybox\nENV =x\n", 2, "empty name") == 0);
	CHECK(fails_at("FROM busybox\nARG 9x=1\n", 2, "ARG: bad name") == 0);
	CHECK(fails_at("FROM busybox AS a b\n", 1, "FROM: expected") == 0);
	CHECK(fails_at("FROM busybox\nCOPY onlyone\n", 2, "at least one source") == 0);
	CHECK(fails_at("FROM busybox\nCOPY --chmod=99 a /b\n", 2, "not an octal mode") == 0);
	CHECK(fails_at("FROM busybox\nEXPOSE 80/icmp\n", 2, "protocol must be") == 0);
	CHECK(fails_at("FROM busybox\nEXPOSE 0\n", 2, "bad port") == 0);
	CHECK(fails_at("FROM busybox\nEXPOSE 70000\n", 2, "bad port") == 0);
	CHECK(fails_at("FROM busybox\nEXPOSE 90-80\n", 2, "bad port") == 0);
	CHECK(fails_at("FROM busybox\nEXPOSE http\n", 2, "bad port") == 0);
	CHECK(fails_at("FROM busybox\nUSER ${U:?set U first}\n", 2, "U: set U first") == 0);
	/* A last line of just the escape read the instruction before it again (RUN twice). */
	CHECK(fails_at("FROM busybox\nRUN echo hi\n\\", 3, "unknown instruction ''") == 0);
	CHECK(fails_at("FROM busybox\nRUN echo hi\n\\\n# c\n\n", 3, "unknown instruction") == 0);
	return 0;
}

static int
test_copy_sources(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct df_plan plan;

	CHECK(fails_at("FROM busybox\nCOPY ../x /x\n", 2, "'../x' is outside the build context") ==
	      0);
	CHECK(fails_at("FROM busybox\nCOPY a/../../x /x\n", 2, "outside the build context") == 0);
	CHECK(fails_at("FROM busybox\nADD [\"..\", \"/x\"]\n", 2, "outside the build context") ==
	      0);
	CHECK(fails_at("FROM busybox\n\nADD https://example.com/a.tgz /x\n", 3,
		       "ADD: URLs are not supported: 'https://example.com/a.tgz'") == 0);
	CHECK(fails_at("FROM busybox\nADD git@github.com:x/y.git /x\n", 2, "URLs") == 0);
	CHECK(fails_at("FROM busybox\nARG U=http://h/f\nCOPY $U /x\n", 3, "URLs") == 0);
	CHECK_INT(plan_of("FROM busybox\n"
			  "COPY --chown=app:app --chmod=0640 /a/./b//c a/../d \"e f\" /dst/\n"
			  "ADD [\"x y\", \"./\", \"/opt/\"]\n",
			  NULL, &plan, &err),
		  0);
	CHECK_INT(plan.v[1].argc, 4);
	CHECK_STR(plan.v[1].argv[0], "a/b/c");
	CHECK_STR(plan.v[1].argv[1], "d");
	CHECK_STR(plan.v[1].argv[2], "e f");
	CHECK_STR(plan.v[1].argv[3], "/dst/");
	CHECK_STR(plan.v[1].chown, "app:app");
	CHECK_STR(plan.v[1].chmod, "0640");
	CHECK(plan.v[2].exec_form);
	CHECK_INT(plan.v[2].argc, 3);
	CHECK_STR(plan.v[2].argv[0], "x y");
	CHECK_STR(plan.v[2].argv[1], ".");
	CHECK_STR(plan.v[2].argv[2], "/opt/");
	CHECK(plan.v[2].chown == NULL);
	dockerfile_plan_free(&plan);
	return 0;
}

static int
test_clean_path(void)
{
	char *s;

	CHECK_STR((s = dockerfile_clean_path("a/b/../c")), "a/c");
	free(s);
	CHECK_STR((s = dockerfile_clean_path("/")), ".");
	free(s);
	CHECK_STR((s = dockerfile_clean_path("./")), ".");
	free(s);
	CHECK_STR((s = dockerfile_clean_path("a/..")), ".");
	free(s);
	CHECK_STR((s = dockerfile_clean_path("//x//y/")), "x/y");
	free(s);
	CHECK(dockerfile_clean_path("..") == NULL);
	CHECK(dockerfile_clean_path("a/../../b") == NULL);
	CHECK(dockerfile_clean_path("/../etc/passwd") == NULL);
	return 0;
}

static int
test_substitution(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct df_plan plan;
	const char *base[] = { "PATH=/usr/bin:/bin", "HOME=/root", NULL };
	const char *text = "FROM busybox\n"
			   "ENV A=1 B=two\\ words C=\"quoted $A\" D='single $A'\n"
			   "ENV E=${A}x F=$A-$B G=${UNSET:-dflt} H=${A:+alt} I=${UNSET:+alt}\n"
			   "ENV PATH=$PATH:/opt/bin J=\\$A K=$\n"
			   "ENV EMPTY= L=${EMPTY-dash}\n"
			   "ENV M=${EMPTY:-colon} N=${EMPTY-dash}\n"
			   "WORKDIR $HOME/my dir\n"
			   "USER ${A}000\n"
			   "LABEL \"com.x.y\"=\"v w\" plain=$B\n"
			   "EXPOSE $A${A}0 53/UDP 8000-8002\n"
			   "ENV X=old\n"
			   "ENV X=new Y=$X\n"
			   "ENV legacy form with $A\n"
			   "COPY $B /in/$A/\n"
			   "ENV Q=${UNSET:-\"a b\"}\n";

	CHECK_INT(plan_of(text, base, &plan, &err), 0);
	CHECK_INT(plan.n, 15);
	CHECK_INT(plan.v[1].argc, 4);
	CHECK_STR(plan.v[1].argv[0], "A=1");
	CHECK_STR(plan.v[1].argv[1], "B=two words");
	/* Every pair of one ENV sees the values from before it: A is not set yet. */
	CHECK_STR(plan.v[1].argv[2], "C=quoted ");
	CHECK_STR(plan.v[1].argv[3], "D=single $A");
	CHECK_STR(plan.v[2].argv[0], "E=1x");
	CHECK_STR(plan.v[2].argv[1], "F=1-two words");
	CHECK_STR(plan.v[2].argv[2], "G=dflt");
	CHECK_STR(plan.v[2].argv[3], "H=alt");
	CHECK_STR(plan.v[2].argv[4], "I=");
	CHECK_STR(plan.v[3].argv[0], "PATH=/usr/bin:/bin:/opt/bin");
	CHECK_STR(plan.v[3].argv[1], "J=$A");
	CHECK_STR(plan.v[3].argv[2], "K=$");
	CHECK_STR(plan.v[4].argv[1], "L=dash");
	/* Set but empty: '-' keeps the empty value, ':-' does not. */
	CHECK_STR(plan.v[5].argv[0], "M=colon");
	CHECK_STR(plan.v[5].argv[1], "N=");
	CHECK_STR(plan.v[6].argv[0], "/root/my dir");
	CHECK_STR(plan.v[7].argv[0], "1000");
	CHECK_STR(plan.v[8].argv[0], "com.x.y=v w");
	CHECK_STR(plan.v[8].argv[1], "plain=two words");
	CHECK_INT(plan.v[9].argc, 5);
	CHECK_STR(plan.v[9].argv[0], "110/tcp");
	CHECK_STR(plan.v[9].argv[1], "53/udp");
	CHECK_STR(plan.v[9].argv[2], "8000/tcp");
	CHECK_STR(plan.v[9].argv[4], "8002/tcp");
	{
		struct df_plan vp;

		CHECK_INT(plan_of("FROM busybox\nENV D=/data\nVOLUME [\"/a b\", \"$D\"]\n"
				  "VOLUME $D/x /y\n",
				  base, &vp, &err),
			  0);
		/* Both forms substituted, as COPY's. */
		CHECK_INT(vp.v[2].argc, 2);
		CHECK_STR(vp.v[2].argv[0], "/a b");
		CHECK_STR(vp.v[2].argv[1], "/data");
		CHECK_INT(vp.v[3].argc, 2);
		CHECK_STR(vp.v[3].argv[0], "/data/x");
		CHECK_STR(vp.v[3].argv[1], "/y");
		dockerfile_plan_free(&vp);
	}
	CHECK_STR(plan.v[11].argv[1], "Y=old");
	CHECK_INT(plan.v[12].argc, 1);
	CHECK_STR(plan.v[12].argv[0], "legacy=form with 1");
	/* An unquoted value with blanks makes two words, as in Docker. */
	CHECK_INT(plan.v[13].argc, 3);
	CHECK_STR(plan.v[13].argv[0], "two");
	CHECK_STR(plan.v[13].argv[1], "words");
	CHECK_STR(plan.v[13].argv[2], "/in/1/");
	CHECK_STR(plan.v[14].argv[0], "Q=a b");
	dockerfile_plan_free(&plan);
	return 0;
}

static int
test_arg_scoping(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct dockerfile df;
	struct df_plan plan;
	char *image = NULL;
	const char *base[] = { "SHADOW=from-image", NULL };
	const char *text = "ARG TAG=1.36\n"
			   "ARG REPO=busybox\n"
			   "FROM ${REPO}:$TAG AS build\n"
			   "RUN echo before\n"
			   "ENV T1=[$TAG]\n"
			   "ARG TAG\n"
			   "ENV T2=[$TAG]\n"
			   "ARG V=arg SHADOW=arg NOVALUE\n"
			   "ENV W=$V\n"
			   "RUN echo $V\n"
			   "ENV V=env\n"
			   "ENV Z=$V:$SHADOW:${NOVALUE-unset}\n"
			   "RUN echo again\n";

	CHECK_INT(parse(text, &df, &err), 0);
	CHECK_INT(dockerfile_base(&df, &image, &err), 0);
	CHECK_STR(image, "busybox:1.36");
	free(image);
	CHECK_INT(dockerfile_expand(&df, base, &plan, &err), 0);
	dockerfile_free(&df);
	CHECK_STR(plan.v[2].argv[0], "busybox:1.36");
	/* No build arguments in scope yet: the first RUN sees none. */
	CHECK_INT(plan.v[3].nenv, 0);
	CHECK(plan.v[3].env != NULL && plan.v[3].env[0] == NULL);
	/* An ARG from before FROM is visible after it only once declared again. */
	CHECK_STR(plan.v[4].argv[0], "T1=[]");
	CHECK_STR(plan.v[6].argv[0], "T2=[1.36]");
	CHECK_STR(plan.v[8].argv[0], "W=arg");
	/* A RUN gets the build arguments with a value that no ENV overrides. */
	CHECK_INT(plan.v[9].nenv, 2);
	CHECK_STR(plan.v[9].env[0], "TAG=1.36");
	CHECK_STR(plan.v[9].env[1], "V=arg");
	/* ENV, the image's included, wins over ARG. */
	CHECK_STR(plan.v[11].argv[0], "Z=env:from-image:unset");
	CHECK_INT(plan.v[12].nenv, 1);
	CHECK_STR(plan.v[12].env[0], "TAG=1.36");
	dockerfile_plan_free(&plan);
	CHECK_INT(parse("FROM scratch\nCOPY a /\n", &df, &err), 0);
	CHECK_INT(dockerfile_base(&df, &image, &err), 0);
	CHECK_STR(image, "scratch");
	free(image);
	dockerfile_free(&df);
	CHECK(fails_at("ARG B\nFROM $B\n", 2, "FROM") == 0);
	return 0;
}

static int
test_limits(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct dockerfile df;
	char nul[] = "FROM busybox\0RUN x\n";

	CHECK_INT(dockerfile_parse(nul, sizeof(nul) - 1, &df, &err), -EINVAL);
	CHECK(strstr(err.msg, "NUL") != NULL);
	CHECK_INT(dockerfile_parse("FROM x", DF_TEXT_MAX + 1, &df, &err), -EFBIG);
	CHECK(df.n == 0 && df.v == NULL);
	return 0;
}

/* head, then unit n times, then tail: one string the caller frees. */
static char *
repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit);
	char *s = malloc(hl + ul * n + strlen(tail) + 1);

	if (s == NULL)
		abort();
	memcpy(s, head, hl);
	for (size_t i = 0; i < n; i++)
		memcpy(s + hl + i * ul, unit, ul);
	strcpy(s + hl + ul * n, tail);
	return s;
}

/*
 * Found by fuzz_dockerfile: a few lines could ask for gigabytes (each
 * "ENV A=$A$A" doubles A; then every RUN copies the build arguments;
 * "EXPOSE 1-65535" makes 65535 strings) and the daemon's allocator aborts;
 * and ${a:-${a:-...}} recursed once per level until the stack overflowed.
 */
static int
test_expansion_caps(void)
{
	struct bk_err err = BK_ERR_INIT;
	struct df_plan plan;
	char *text, tail[2 + DF_NEST_MAX + 1];
	int ret;

	/* 4 << 20 bytes in all: doubling 16 bytes passes it on the 18th doubling, line 20. */
	text = repeat("FROM busybox\nENV A=0123456789abcdef\n", "ENV A=$A$A\n", 30, "");
	ret = fails_at(text, 20, "variables expand to more than 4194304 bytes in all");
	free(text);
	CHECK(ret == 0);
	/* 17 doublings of an ARG fit; the first RUN to copy it does not. */
	text = repeat("FROM busybox\nARG A=0123456789abcdef\n", "ARG A=$A$A\n", 17,
		      "RUN true\nRUN true\n");
	ret = fails_at(text, 20, "build arguments expand to more than");
	free(text);
	CHECK(ret == 0);
	/* 578709 bytes of "PORT/tcp" a line: the 8th passes the cap. */
	text = repeat("FROM busybox\n", "EXPOSE 1-65535\n", 1000, "");
	ret = fails_at(text, 9, "ports expand to more than");
	free(text);
	CHECK(ret == 0);
	text = repeat("FROM busybox\nWORKDIR ", "${a:-", DF_NEST_MAX + 1, "/x}");
	ret = fails_at(text, 2, "substitutions nested more than 32 deep");
	free(text);
	CHECK(ret == 0);
	/* Within the caps all is as before: 32 levels, a path grown a hundred times. */
	memset(tail, '}', sizeof(tail) - 1);
	memcpy(tail, "/x", 2);
	tail[sizeof(tail) - 1] = '\0';
	text = repeat("FROM busybox\nWORKDIR ", "${a:-", DF_NEST_MAX, tail);
	ret = plan_of(text, NULL, &plan, &err);
	free(text);
	CHECK_INT(ret, 0);
	CHECK_STR(plan.v[1].argv[0], "/x");
	dockerfile_plan_free(&plan);
	text = repeat("FROM busybox\n", "ENV PATH=$PATH:/opt/bin\n", 100, "");
	ret = plan_of(text, (const char *const[]){ "PATH=/bin", NULL }, &plan, &err);
	free(text);
	CHECK_INT(ret, 0);
	CHECK_INT(strlen(plan.v[100].argv[0]), strlen("PATH=/bin") + 100 * strlen(":/opt/bin"));
	dockerfile_plan_free(&plan);
	return 0;
}

int
main(void)
{
	RUN(test_lines_and_continuations);
	RUN(test_escape_directive);
	RUN(test_exec_and_shell_forms);
	RUN(test_refusals);
	RUN(test_copy_sources);
	RUN(test_clean_path);
	RUN(test_substitution);
	RUN(test_arg_scoping);
	RUN(test_limits);
	RUN(test_expansion_caps);
	return TAP_DONE();
}
