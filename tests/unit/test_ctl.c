/*
 * Unit tests for fsd/ctl.c: how control writes become command lines and words
 * (split writes, limits, encoding), and for engine/base/util.c's size parser.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fsd.h"
#include "tap.h"

static void
reset(struct ofile *of)
{
	free(of->in);
	memset(of, 0, sizeof(*of));
}

static int
split_writes_join_at_newline(void)
{
	struct ofile of = { 0 };
	struct bk_err err = BK_ERR_INIT;
	const char *cmd = "/var/tmp/dir busybox\n";
	char *line;
	size_t i;

	/* Byte by byte, as `dd bs=1` writes. */
	for (i = 0; i < strlen(cmd) - 1; i++) {
		CHECK_INT(ctl_append(&of, cmd + i, 1, &err), 0);
		CHECK(ctl_next_line(&of, false) == NULL);
	}
	CHECK_INT(ctl_append(&of, "\n", 1, &err), 0);
	line = ctl_next_line(&of, false);
	CHECK_STR(line, "/var/tmp/dir busybox");
	free(line);
	CHECK(ctl_next_line(&of, false) == NULL);
	CHECK_INT(of.in_len, 0);
	reset(&of);
	return 0;
}

static int
two_commands_in_one_write(void)
{
	struct ofile of = { 0 };
	struct bk_err err = BK_ERR_INIT;
	char *a, *b;

	CHECK_INT(ctl_append(&of, "one\ntwo\nthr", 11, &err), 0);
	a = ctl_next_line(&of, false);
	b = ctl_next_line(&of, false);
	CHECK_STR(a, "one");
	CHECK_STR(b, "two");
	free(a);
	free(b);
	CHECK(ctl_next_line(&of, false) == NULL);
	/* At close, the unterminated rest is a command too. */
	a = ctl_next_line(&of, true);
	CHECK_STR(a, "thr");
	free(a);
	reset(&of);
	return 0;
}

static int
empty_line_is_a_command(void)
{
	struct ofile of = { 0 };
	struct bk_err err = BK_ERR_INIT;
	char *line;

	CHECK_INT(ctl_append(&of, "\n", 1, &err), 0);
	line = ctl_next_line(&of, false);
	CHECK_STR(line, "");
	free(line);
	reset(&of);
	return 0;
}

static int
too_large_is_efbig_and_forgets(void)
{
	struct ofile of = { 0 };
	struct bk_err err = BK_ERR_INIT;
	char *big = calloc(1, CTL_MAX + 1);

	memset(big, 'x', CTL_MAX + 1);
	CHECK_INT(ctl_append(&of, big, CTL_MAX + 1, &err), -EFBIG);
	CHECK_INT(err.code, EFBIG);
	CHECK_STR(err.msg, "write too large: at most 65536 bytes");
	CHECK_INT(of.in_len, 0);
	/* Exactly the limit is accepted; one more byte over two writes is not. */
	CHECK_INT(ctl_append(&of, big, CTL_MAX, &err), 0);
	CHECK_INT(ctl_append(&of, "y", 1, &err), -EFBIG);
	CHECK_INT(of.in_len, 0);
	free(big);
	reset(&of);
	return 0;
}

static int
nul_byte_is_einval(void)
{
	struct ofile of = { 0 };
	struct bk_err err = BK_ERR_INIT;

	CHECK_INT(ctl_append(&of, "ab\0cd\n", 6, &err), -EINVAL);
	CHECK(strstr(err.msg, "0x00 at offset 2") != NULL);
	CHECK_INT(of.in_len, 0);
	reset(&of);
	return 0;
}

static int
split_words(void)
{
	struct bk_err err = BK_ERR_INIT;
	char line[] = "  /a/b \t  ref:tag  ";
	char *argv[4];

	CHECK_INT(ctl_split(line, argv, 4, &err), 2);
	CHECK_STR(argv[0], "/a/b");
	CHECK_STR(argv[1], "ref:tag");
	return 0;
}

static int
split_limits_and_encoding(void)
{
	struct bk_err err = BK_ERR_INIT;
	char many[] = "a b c d";
	char ctrl[] = "a\x01"
		      "b";
	char del[] = "a\x7f";
	char bad_utf8[] = "caf\xc3";
	char overlong[] = "\xc0\xaf";
	char surrogate[] = "\xed\xa0\x80";
	char good_utf8[] = "caf\xc3\xa9 \xf0\x9f\x90\xb3";
	char crlf[] = "x y\r";
	char empty[] = "   ";
	char *argv[3];

	CHECK_INT(ctl_split(many, argv, 3, &err), -EINVAL);
	CHECK(strstr(err.msg, "too many words") != NULL);
	CHECK_INT(ctl_split(ctrl, argv, 3, &err), -EINVAL);
	CHECK(strstr(err.msg, "0x01 at offset 1") != NULL);
	CHECK_INT(ctl_split(del, argv, 3, &err), -EINVAL);
	CHECK_INT(ctl_split(bad_utf8, argv, 3, &err), -EINVAL);
	CHECK(strstr(err.msg, "UTF-8") != NULL);
	CHECK_INT(ctl_split(overlong, argv, 3, &err), -EINVAL);
	CHECK_INT(ctl_split(surrogate, argv, 3, &err), -EINVAL);
	CHECK_INT(ctl_split(good_utf8, argv, 3, &err), 2);
	CHECK_INT(ctl_split(crlf, argv, 3, &err), 2);
	CHECK_STR(argv[1], "y");
	CHECK_INT(ctl_split(empty, argv, 3, &err), 0);
	return 0;
}

static int
sizes(void)
{
	uint64_t v = 0;

	CHECK_INT(bk_parse_size("4096", &v), 0);
	CHECK_INT(v, 4096);
	CHECK_INT(bk_parse_size("512M", &v), 0);
	CHECK_INT(v, 512LL << 20);
	CHECK_INT(bk_parse_size("20G", &v), 0);
	CHECK_INT(v, 20LL << 30);
	CHECK_INT(bk_parse_size("1.5k", &v), 0);
	CHECK_INT(v, 1536);
	CHECK_INT(bk_parse_size("1GB", &v), 0);
	CHECK_INT(v, 1LL << 30);
	CHECK_INT(bk_parse_size("-1", &v), -EINVAL);
	CHECK_INT(bk_parse_size("", &v), -EINVAL);
	CHECK_INT(bk_parse_size("abc", &v), -EINVAL);
	CHECK_INT(bk_parse_size("12Q", &v), -EINVAL);
	CHECK_INT(bk_parse_size("1 G", &v), -EINVAL);
	CHECK_INT(bk_parse_size("99999999999T", &v), -EINVAL);
	return 0;
}

/* Docker's sizes: decimal digits and a fraction; strtod's other forms are not sizes. */
static int
sizes_are_decimal_only(void)
{
	/* The last one is an Arabic-Indic digit. */
	static const char *const bad[] = {
		"nan",     "NaN", "inf",  "infinity", "1e3", "1e3M",      "0x10",
		"0x10M",   ".5G", "5.",   "5.G",      "+5",  " 5",        "5 ",
		"1.5.5",   "5MM", "5KB5", "1e400",    "-0",  "16777216T", "18446744073709551616",
		"\xd9\xa3"
	};
	uint64_t v = 7;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (bk_parse_size(bad[i], &v) != -EINVAL)
			TAP_FAIL("'%s' accepted as %llu", "bk_parse_size", bad[i],
				 (unsigned long long)v);
	}
	CHECK_INT(v, 7);
	CHECK_INT(bk_parse_size("0", &v), 0);
	CHECK_INT(v, 0);
	CHECK_INT(bk_parse_size("64.5M", &v), 0);
	CHECK_INT(v, (64LL << 20) + (512LL << 10));
	CHECK_INT(bk_parse_size("6291456", &v), 0);
	CHECK_INT(v, 6291456);
	CHECK_INT(bk_parse_size("16777215T", &v), 0);
	CHECK_INT(v, 16777215ULL << 40);
	return 0;
}

static int
utf8_lengths(void)
{
	CHECK_INT(ctl_utf8_len((const unsigned char *)"a"), 1);
	CHECK_INT(ctl_utf8_len((const unsigned char *)"\xc3\xa9"), 2);
	CHECK_INT(ctl_utf8_len((const unsigned char *)"\xe2\x82\xac"), 3);
	CHECK_INT(ctl_utf8_len((const unsigned char *)"\xf0\x9f\x90\xb3"), 4);
	/* Truncated at the end of the string: the NUL is not a continuation byte. */
	CHECK_INT(ctl_utf8_len((const unsigned char *)"\xe2\x82"), 0);
	CHECK_INT(ctl_utf8_len((const unsigned char *)"\xff"), 0);
	CHECK_INT(ctl_utf8_len((const unsigned char *)"\x80"), 0);
	CHECK_INT(ctl_utf8_len((const unsigned char *)"\xc0\xaf"), 0);
	CHECK_INT(ctl_utf8_len((const unsigned char *)"\xed\xa0\x80"), 0);
	CHECK_INT(ctl_utf8_len((const unsigned char *)"\xf4\x90\x80\x80"), 0);
	return 0;
}

/* Names reach messages as the writer gave them: one failure stays one line of UTF-8. */
static int
errors_are_escaped_one_line_each(void)
{
	struct bk_err err = BK_ERR_INIT;
	size_t len = 0;
	char *all, *obj;

	bk_err_set(&err, EINVAL, "bad name 'a\nb\x1b[2J\xff\xc3\xa9\t'");
	errlog_record("/containers/a\nb\x1b[2J\xff\xc3\xa9\t", "containers", "mkdir", &err);
	all = errlog_render_all(&len);
	obj = errlog_render_obj("containers", &len);
	CHECK(strchr(all, '\n') == all + strlen(all) - 1);
	CHECK(strstr(all, " /containers/a\\x0ab\\x1b[2J\\xff\xc3\xa9\\x09 mkdir EINVAL: bad name "
			  "'a\\x0ab\\x1b[2J\\xff\xc3\xa9\\x09'\n") != NULL);
	CHECK(strchr(obj, '\n') == obj + strlen(obj) - 1);
	CHECK(strstr(obj, " mkdir: bad name 'a\\x0ab\\x1b[2J\\xff\xc3\xa9\\x09'\n") != NULL);
	free(all);
	free(obj);
	return 0;
}

int
main(void)
{
	RUN(split_writes_join_at_newline);
	RUN(two_commands_in_one_write);
	RUN(empty_line_is_a_command);
	RUN(too_large_is_efbig_and_forgets);
	RUN(nul_byte_is_einval);
	RUN(split_words);
	RUN(split_limits_and_encoding);
	RUN(sizes);
	RUN(sizes_are_decimal_only);
	RUN(utf8_lengths);
	RUN(errors_are_escaped_one_line_each);
	return TAP_DONE();
}
