/*
 * Fuzz what a write to a control or config file goes through before anything
 * runs, linked against libfsd.a: fsd/ctl.c (bytes collected per open file,
 * split at newlines, checked for size and encoding, split into words), the
 * line checks of fsd/control.c (control_check_line) against the verb tables
 * of fsd/verbs.c (usage, timeouts, signals, absolute paths), and the value
 * checks of fsd/config.c (config_value_of, config_check_value).
 * control_write and config_write themselves need a FUSE request and an
 * engine, so control_write's parsing half is replayed here
 * (write_like_control_write).
 *
 * Input: byte 0 picks the file (images/import, pull, build, containers/run,
 * containers/ID/ctl, exec/N/ctl, or a config file: image, cmd, env, limits,
 * net, ports), byte 1 the size of each write (1-256: `dd bs=N`), the rest
 * is what is written, then the file is closed.
 * Checks: a failure is EINVAL or EFBIG with a message and drops what was
 * pending; lines never hold a newline; words are non-empty, blank-free and
 * at most WORDS_MAX; a line that passes has a verb of its file and a number
 * of arguments that verb takes; bytes are neither lost nor invented.
 */
#include <errno.h>

#include "fuzz.h"
#include "verbs.h"

#define LINES_MAX 64 /* control.c: commands in one write */

#define NKINDS(a) (sizeof(a) / sizeof((a)[0]))

static const enum node_kind control_files[] = {
	N_IMAGES_IMPORT, N_IMAGES_PULL, N_IMAGES_BUILD, N_CTRS_RUN, N_CTR_CTL, N_EXEC_CTL,
};
static const enum node_kind config_files[] = {
	N_CTR_IMAGE, N_CTR_CMD, N_CTR_ENV, N_CTR_LIMITS, N_CTR_NET, N_CTR_PORTS,
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	bk_log_set_sink(fuzz_quiet_sink);
	return 0;
}

/* ---- the checks ---------------------------------------------------------- */

static void
check_words(const struct line *l)
{
	FUZZ_ASSERT(l->argc >= 0 && l->argc <= WORDS_MAX);
	for (int i = 0; i < l->argc; i++) {
		FUZZ_ASSERT(l->argv[i] != NULL && l->argv[i][0] != '\0');
		FUZZ_ASSERT(strpbrk(l->argv[i], " \t\r\n") == NULL);
		FUZZ_ASSERT(ctl_check_text(l->argv[i], false, NULL) == 0);
	}
}

/* A line that passed: a verb of its file, with as many arguments as it takes. */
static void
check_verb(enum node_kind file, const struct line *l)
{
	const struct control_file *cf = control_file_of(file);

	FUZZ_ASSERT(cf != NULL && l->file == cf && l->verb != NULL);
	FUZZ_ASSERT(l->verb >= cf->verbs && l->verb < cf->verbs + cf->nverbs);
	FUZZ_ASSERT(l->nargs >= l->verb->min && l->nargs <= l->verb->max);
	for (int i = 0; i < l->nargs; i++)
		FUZZ_ASSERT(l->args[i] != NULL && l->args[i][0] != '\0');
}

/*
 * control_write's parsing half: append, take the complete lines (all of
 * them at close), check each.  Returns 0, or -errno with err set.
 */
static int
write_like_control_write(struct ofile *of, const char *buf, size_t size, bool at_close,
			 size_t *taken, struct bk_err *err)
{
	struct line *lines;
	size_t n = 0;
	char *raw;
	int ret = 0;

	if (buf && ctl_append(of, buf, size, err) < 0) {
		FUZZ_ASSERT(of->in == NULL && of->in_len == 0);
		return -err->code;
	}
	/* No whole command yet: control_write keeps the bytes and does nothing else. */
	if (!at_close && (of->in == NULL || memchr(of->in, '\n', of->in_len) == NULL))
		return 0;
	lines = calloc(LINES_MAX, sizeof(*lines));
	if (lines == NULL)
		abort();
	while (n < LINES_MAX && (raw = ctl_next_line(of, at_close)) != NULL) {
		FUZZ_ASSERT(strchr(raw, '\n') == NULL);
		*taken += strlen(raw);
		lines[n++].raw = raw;
	}
	if (n == LINES_MAX && of->in_len > 0)
		ret = bk_err_set(err, EINVAL, "more than %d commands in one write", LINES_MAX);
	for (size_t i = 0; ret == 0 && i < n; i++) {
		ret = control_check_line(of->kind, &lines[i], err);
		if (ret == 0) {
			check_words(&lines[i]);
			check_verb(of->kind, &lines[i]);
		}
	}
	if (ret < 0) {
		free(of->in);
		of->in = NULL;
		of->in_len = 0;
	}
	for (size_t i = 0; i < n; i++) {
		free(lines[i].raw);
		free(lines[i].words);
	}
	free(lines);
	return ret;
}

static void
fuzz_control(enum node_kind kind, size_t chunk, const char *data, size_t size)
{
	struct ofile of = { .kind = kind };
	struct bk_err err = BK_ERR_INIT;
	size_t off = 0, taken = 0, newlines = 0;
	bool failed = false;
	int ret;

	for (size_t i = 0; i < size; i++)
		newlines += data[i] == '\n';
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk;

		err = (struct bk_err)BK_ERR_INIT;
		ret = write_like_control_write(&of, data + off, n, false, &taken, &err);
		fuzz_check_err(ret, &err, "control write");
		if (ret < 0) {
			FUZZ_ASSERT(err.code == EINVAL || err.code == EFBIG);
			failed = true;
		}
		off += n;
	}
	err = (struct bk_err)BK_ERR_INIT;
	ret = write_like_control_write(&of, NULL, 0, true, &taken, &err);
	fuzz_check_err(ret, &err, "control close");
	failed |= ret < 0;
	FUZZ_ASSERT(of.in == NULL || of.in_len == 0);
	/* Without a failure every byte but the newlines was seen in a line, once. */
	if (!failed && memchr(data, '\0', size) == NULL)
		FUZZ_ASSERT(taken + newlines == size);
	free(of.in);
}

/* config_write's checks: the value so far after each write. */
static void
fuzz_config(enum node_kind kind, size_t chunk, const char *data, size_t size)
{
	struct ofile of = { .kind = kind };
	struct bk_err err = BK_ERR_INIT;
	size_t off = 0;

	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk;
		char *value;
		int ret;

		err = (struct bk_err)BK_ERR_INIT;
		ret = ctl_append(&of, data + off, n, &err);
		off += n;
		fuzz_check_err(ret, &err, "config append");
		if (ret < 0)
			continue;
		value = config_value_of(&of);
		FUZZ_ASSERT(strlen(value) <= of.in_len);
		ret = config_check_value(kind, value, &err);
		fuzz_check_err(ret, &err, "config check");
		if (ret == 0 && kind == N_CTR_IMAGE)
			FUZZ_ASSERT(value[0] != '\0' && strchr(value, '\n') == NULL);
		free(value);
		if (ret < 0) {
			free(of.in);
			of.in = NULL;
			of.in_len = 0;
		}
	}
	free(of.in);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t pick, chunk;
	char *text;

	if (size < 2)
		return 0;
	pick = data[0] % (NKINDS(control_files) + NKINDS(config_files));
	chunk = (size_t)data[1] + 1;
	/* A copy of exactly the bytes written: ASan sees any read past them. */
	text = malloc(size - 2 ? size - 2 : 1);
	if (text == NULL)
		abort();
	memcpy(text, data + 2, size - 2);
	if (pick < NKINDS(control_files))
		fuzz_control(control_files[pick], chunk, text, size - 2);
	else
		fuzz_config(config_files[pick - NKINDS(control_files)], chunk, text, size - 2);
	free(text);
	return 0;
}
