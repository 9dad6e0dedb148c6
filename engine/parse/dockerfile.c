/*
 * The Dockerfile subset: parsing and variable substitution, as Docker's
 * moby/buildkit frontend/dockerfile/parser and shell lexer do them, for the
 * instructions bockerfs builds.  Pure: no I/O; jansson only to read the exec
 * form's JSON arrays.
 *
 * Two passes, so that a build fails on a malformed file before it has done
 * anything: dockerfile_parse() checks the syntax of every line (substitution
 * included, with no values), and dockerfile_expand(), once the base image's
 * Env is known, substitutes the values and checks what depends on them.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>

#include "bocker.h"
#include "parse/parse.h"
#include "base/base.h"

#define PORTS_MAX 65536 /* EXPOSE ports in one instruction, ranges expanded */

static const struct {
	const char *name;
	enum df_op op;
} ops[] = {
	{ "FROM", DF_FROM },       { "ARG", DF_ARG },
	{ "RUN", DF_RUN },         { "COPY", DF_COPY },
	{ "ADD", DF_ADD },         { "ENV", DF_ENV },
	{ "WORKDIR", DF_WORKDIR }, { "USER", DF_USER },
	{ "CMD", DF_CMD },         { "ENTRYPOINT", DF_ENTRYPOINT },
	{ "LABEL", DF_LABEL },     { "EXPOSE", DF_EXPOSE },
	{ "VOLUME", DF_VOLUME },
};

/* Docker's other instructions: named as unsupported rather than called unknown. */
static const char *const unsupported[] = { "HEALTHCHECK", "ONBUILD", "SHELL", "STOPSIGNAL",
					   "MAINTAINER" };

const char *
dockerfile_op_name(enum df_op op)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(ops); i++)
		if (ops[i].op == op)
			return ops[i].name;
	return "?";
}

/* ---- small helpers ---------------------------------------------------------- */

struct sbuf {
	char *p;
	size_t len, cap;
};

static void
sb_putc(struct sbuf *b, char c)
{
	if (b->len + 2 > b->cap) {
		b->cap = b->cap ? b->cap * 2 : 64;
		b->p = xrealloc(b->p, b->cap);
	}
	b->p[b->len++] = c;
	b->p[b->len] = '\0';
}

static void
sb_puts(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		while (b->len + n + 1 > b->cap)
			b->cap = b->cap ? b->cap * 2 : 64;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* The string built so far (never NULL); the buffer is reset. */
static char *
sb_take(struct sbuf *b)
{
	char *s = b->p ? b->p : xstrdup("");

	*b = (struct sbuf){ 0 };
	return s;
}

struct strv {
	char **v;
	size_t n, cap;
};

static void
strv_push(struct strv *sv, char *s)
{
	/* Doubling: "EXPOSE 1-65535" pushes 65535 times. */
	if (sv->n + 2 > sv->cap) {
		sv->cap = sv->cap ? 2 * sv->cap : 8;
		sv->v = xrealloc(sv->v, sv->cap * sizeof(char *));
	}
	sv->v[sv->n++] = s;
	sv->v[sv->n] = NULL;
}

/* A NULL-terminated vector, even when empty. */
static char **
strv_finish(struct strv *sv)
{
	if (sv->v == NULL)
		sv->v = xcalloc(1, sizeof(char *));
	return sv->v;
}

static int line_err(struct bk_err *err, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
line_err(struct bk_err *err, int line, const char *fmt, ...)
{
	char msg[448];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return bk_err_set(err, EINVAL, "line %d: %s", line, msg);
}

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool
name_start(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool
name_char(char c)
{
	return name_start(c) || (c >= '0' && c <= '9');
}

/* ---- variables ---------------------------------------------------------------- */

struct var {
	char *name;
	char *value; /* NULL: declared (ARG NAME) but without a value */
};

struct vars {
	struct var *v;
	size_t n;
};

static struct var *
vars_find(const struct vars *vs, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < vs->n; i++)
		if (strlen(vs->v[i].name) == len && strncmp(vs->v[i].name, name, len) == 0)
			return &vs->v[i];
	return NULL;
}

static void
vars_set(struct vars *vs, const char *name, const char *value)
{
	struct var *v = vars_find(vs, name, strlen(name));

	if (v == NULL) {
		vs->v = xrealloc(vs->v, (vs->n + 1) * sizeof(*vs->v));
		v = &vs->v[vs->n++];
		v->name = xstrdup(name);
	} else {
		free(v->value);
	}
	v->value = value ? xstrdup(value) : NULL;
}

static void
vars_free(struct vars *vs)
{
	size_t i;

	for (i = 0; i < vs->n; i++) {
		free(vs->v[i].name);
		free(vs->v[i].value);
	}
	free(vs->v);
	*vs = (struct vars){ 0 };
}

/*
 * What substitution sees: the environment (base image Env and ENV) first,
 * then the build arguments, as Docker gives ENV precedence over ARG.
 * check: no values at all, only the syntax is checked.
 */
struct scope {
	const struct vars *env;
	const struct vars *args;
	bool check;
	/* Bytes substituted so far, over all instructions: "ENV A=$A$A" doubles A. */
	size_t *expanded;
};

static const char *
scope_get(const struct scope *sc, const char *name, size_t len)
{
	const struct var *v;

	if (sc->check)
		return NULL;
	if (sc->env && (v = vars_find(sc->env, name, len)) != NULL)
		return v->value;
	if (sc->args && (v = vars_find(sc->args, name, len)) != NULL)
		return v->value;
	return NULL;
}

/* ---- the word lexer (Docker's shell lexer, the part Dockerfiles use) ----------- */

struct lex {
	const char *s;
	size_t i;
	char esc;
	const struct scope *sc;
	int line;
	struct bk_err *err;
	int depth; /* of ${NAME:-word} inside modifier words */
	/* output */
	bool split; /* whitespace outside quotes separates words */
	struct sbuf word;
	bool started; /* the current word exists, even if empty ("") */
	struct strv words;
};

static void
lex_end_word(struct lex *lx)
{
	if (lx->started)
		strv_push(&lx->words, sb_take(&lx->word));
	lx->started = false;
}

/* Append an expansion's value: unquoted, its blanks separate words when splitting. */
static void
lex_put_value(struct lex *lx, const char *v, bool quoted)
{
	while (*v) {
		size_t n = 0;

		if (lx->split && !quoted && isspace((unsigned char)*v)) {
			lex_end_word(lx);
			v++;
			continue;
		}
		/* The run up to the next blank in one copy: values can be megabytes. */
		while (v[n] && !(lx->split && !quoted && isspace((unsigned char)v[n])))
			n++;
		sb_puts(&lx->word, v, n);
		lx->started = true;
		v += n;
	}
}

static int lex_until(struct lex *lx, char stop, struct sbuf *out);

/*
 * Count n more bytes made from the text by substitution, port ranges or the
 * build arguments each RUN copies: the total is capped, as a short
 * Dockerfile could otherwise ask for gigabytes ("ENV A=$A$A" doubles A).
 */
static int
spend(const struct scope *sc, size_t n, int line, const char *what, struct bk_err *err)
{
	*sc->expanded += n;
	if (*sc->expanded > DF_EXPAND_MAX)
		return line_err(err, line, "%s expand to more than %u bytes in all", what,
				DF_EXPAND_MAX);
	return 0;
}

/* Append a variable's value to out. */
static int
put_value(struct lex *lx, struct sbuf *out, const char *val)
{
	size_t n = strlen(val);
	int ret = spend(lx->sc, n, lx->line, "variables", lx->err);

	if (ret == 0)
		sb_puts(out, val, n);
	return ret;
}

/* At '$': ${NAME}, ${NAME:-word} and the other modifiers, $NAME, or a lone '$'. */
static int
lex_dollar(struct lex *lx, struct sbuf *out)
{
	const char *s = lx->s, *name, *val;
	size_t len = 0;
	char mod[3] = "";
	struct sbuf w = { 0 };
	int ret;

	lx->i++;
	if (s[lx->i] != '{') {
		name = s + lx->i;
		if (!name_start(*name)) {
			sb_putc(out, '$');
			return 0;
		}
		while (name_char(name[len]))
			len++;
		lx->i += len;
		val = scope_get(lx->sc, name, len);
		return val ? put_value(lx, out, val) : 0;
	}
	lx->i++;
	name = s + lx->i;
	while (name_char(name[len]))
		len++;
	if (len == 0 || !name_start(name[0]))
		return line_err(lx->err, lx->line, "bad substitution '${%.40s'", name);
	lx->i += len;
	if (s[lx->i] == ':' && strchr("-+?", s[lx->i + 1]) && s[lx->i + 1]) {
		mod[0] = ':';
		mod[1] = s[lx->i + 1];
		lx->i += 2;
	} else if (s[lx->i] && strchr("-+?", s[lx->i])) {
		mod[0] = s[lx->i++];
	} else if (s[lx->i] == '\0') {
		return line_err(lx->err, lx->line, "missing '}' after '${%.*s'", (int)len, name);
	} else if (s[lx->i] != '}') {
		return line_err(lx->err, lx->line, "bad substitution '${%.*s%c': expected '}'",
				(int)len, name, s[lx->i] ? s[lx->i] : ' ');
	}
	if (mod[0]) {
		/* Each level recurses: a deep nest would overflow the stack. */
		if (lx->depth == DF_NEST_MAX)
			return line_err(lx->err, lx->line, "substitutions nested more than %d deep",
					DF_NEST_MAX);
		lx->depth++;
		ret = lex_until(lx, '}', &w);
		lx->depth--;
		if (ret < 0) {
			free(w.p);
			return ret;
		}
	}
	if (s[lx->i] != '}') {
		free(w.p);
		return line_err(lx->err, lx->line, "missing '}' after '${%.*s'", (int)len, name);
	}
	lx->i++;
	val = scope_get(lx->sc, name, len);
	{
		bool set = val != NULL, full = val && *val;
		bool use = strchr(mod, ':') ? full : set;
		const char *word = w.p ? w.p : "";

		switch (mod[strlen(mod) ? strlen(mod) - 1 : 0]) {
		case '-':
			val = use ? val : word;
			break;
		case '+':
			val = use ? word : "";
			break;
		case '?':
			if (!use && !lx->sc->check) {
				ret = line_err(lx->err, lx->line, "%.*s: %s", (int)len, name,
					       *word ? word : "parameter not set");
				free(w.p);
				return ret;
			}
			break;
		default:
			break;
		}
	}
	ret = val ? put_value(lx, out, val) : 0;
	free(w.p);
	return ret;
}

/*
 * The word of a ${NAME:-word} modifier, up to the unquoted stop character:
 * quotes removed, escapes and variables processed, blanks kept.
 */
static int
lex_until(struct lex *lx, char stop, struct sbuf *out)
{
	const char *s = lx->s;
	bool dq = false;
	int ret;

	while (s[lx->i] && (dq || s[lx->i] != stop)) {
		char c = s[lx->i];

		if (c == '"') {
			dq = !dq;
			lx->i++;
		} else if (c == lx->esc && s[lx->i + 1]) {
			sb_putc(out, s[lx->i + 1]);
			lx->i += 2;
		} else if (c == '$') {
			ret = lex_dollar(lx, out);
			if (ret < 0)
				return ret;
		} else if (c == '\'' && !dq) {
			const char *end = strchr(s + lx->i + 1, '\'');

			if (end == NULL)
				return line_err(lx->err, lx->line, "unterminated single quote");
			sb_puts(out, s + lx->i + 1, (size_t)(end - (s + lx->i + 1)));
			lx->i = (size_t)(end - s) + 1;
		} else {
			sb_putc(out, c);
			lx->i++;
		}
	}
	if (dq)
		return line_err(lx->err, lx->line, "unterminated double quote");
	return 0;
}

/* Inside "...": escapes of '"', '$' and the escape character; variables. */
static int
lex_double(struct lex *lx)
{
	const char *s = lx->s;
	int ret;

	lx->i++;
	lx->started = true;
	for (;;) {
		char c = s[lx->i];

		if (c == '\0')
			return line_err(lx->err, lx->line, "unterminated double quote");
		if (c == '"') {
			lx->i++;
			return 0;
		}
		if (c == lx->esc && s[lx->i + 1] &&
		    (s[lx->i + 1] == '"' || s[lx->i + 1] == '$' || s[lx->i + 1] == lx->esc)) {
			sb_putc(&lx->word, s[lx->i + 1]);
			lx->i += 2;
		} else if (c == '$') {
			struct sbuf v = { 0 };

			ret = lex_dollar(lx, &v);
			if (ret == 0 && v.p)
				lex_put_value(lx, v.p, true);
			free(v.p);
			if (ret < 0)
				return ret;
		} else {
			sb_putc(&lx->word, c);
			lx->i++;
		}
	}
}

/*
 * Process s: quotes removed, escapes and variables processed.  split: into
 * words at unquoted blanks (an unquoted value that expands to nothing is no
 * word); else one word, blanks kept.
 */
static int
lex_words(const char *s, char esc, bool split, const struct scope *sc, int line, char ***out,
	  size_t *n, struct bk_err *err)
{
	struct lex lx = { .s = s, .esc = esc, .sc = sc, .line = line, .err = err, .split = split };
	int ret = 0;

	while (s[lx.i] && ret == 0) {
		char c = s[lx.i];

		if (split && isspace((unsigned char)c)) {
			lex_end_word(&lx);
			lx.i++;
		} else if (c == esc) {
			if (s[lx.i + 1]) {
				sb_putc(&lx.word, s[lx.i + 1]);
				lx.i += 2;
			} else {
				sb_putc(&lx.word, c);
				lx.i++;
			}
			lx.started = true;
		} else if (c == '\'') {
			const char *end = strchr(s + lx.i + 1, '\'');

			if (end == NULL) {
				ret = line_err(err, line, "unterminated single quote");
				break;
			}
			sb_puts(&lx.word, s + lx.i + 1, (size_t)(end - (s + lx.i + 1)));
			lx.started = true;
			lx.i = (size_t)(end - s) + 1;
		} else if (c == '"') {
			ret = lex_double(&lx);
		} else if (c == '$') {
			struct sbuf v = { 0 };

			ret = lex_dollar(&lx, &v);
			if (ret == 0 && v.p)
				lex_put_value(&lx, v.p, false);
			free(v.p);
		} else {
			sb_putc(&lx.word, c);
			lx.started = true;
			lx.i++;
		}
	}
	if (!split)
		lx.started = true;
	lex_end_word(&lx);
	if (ret < 0) {
		free(lx.word.p);
		strv_free(lx.words.v);
		return ret;
	}
	*out = strv_finish(&lx.words);
	*n = lx.words.n;
	return 0;
}

/* One word, blanks kept; caller frees *out. */
static int
lex_one(const char *s, char esc, const struct scope *sc, int line, char **out, struct bk_err *err)
{
	char **v = NULL;
	size_t n = 0;
	int ret = lex_words(s, esc, false, sc, line, &v, &n, err);

	if (ret < 0)
		return ret;
	*out = take_ptr(v[0]); /* the only word: v is empty now */
	strv_free(v);
	return 0;
}

/*
 * Split at unquoted blanks without processing anything (Docker's parseWords),
 * for KEY=VALUE lists whose '=' is found before the quotes are removed.
 */
static void
raw_words(const char *s, char esc, struct strv *out)
{
	struct sbuf w = { 0 };
	char quote = 0;
	bool started = false;

	for (; *s; s++) {
		if (!quote && isspace((unsigned char)*s)) {
			if (started)
				strv_push(out, sb_take(&w));
			started = false;
			continue;
		}
		started = true;
		if (*s == esc && s[1] && quote != '\'') {
			sb_putc(&w, *s++);
		} else if (!quote && (*s == '\'' || *s == '"')) {
			quote = *s;
		} else if (quote && *s == quote) {
			quote = 0;
		}
		sb_putc(&w, *s);
	}
	if (started)
		strv_push(out, sb_take(&w));
	free(w.p);
}

/* ---- parsing -------------------------------------------------------------- */

struct src_line {
	const char *p;
	size_t len;
	int no;
};

static void
instr_free(struct df_instr *in)
{
	free(in->text);
	free(in->rest);
	strv_free(in->argv);
	free(in->chown);
	free(in->chmod);
}

void
dockerfile_free(struct dockerfile *df)
{
	size_t i;

	for (i = 0; i < df->n; i++)
		instr_free(&df->v[i]);
	free(df->v);
	*df = (struct dockerfile){ 0 };
}

/* "# escape=`" and the like: only at the very top, before anything else. */
static bool
directive(const struct src_line *l, char *name, size_t nsize, char *value, size_t vsize)
{
	const char *p = l->p, *end = l->p + l->len;
	size_t n = 0;

	if (p == end || *p != '#')
		return false;
	for (p++; p < end && is_blank(*p); p++)
		;
	while (p < end && (isalnum((unsigned char)*p) || *p == '_') && n + 1 < nsize)
		name[n++] = (char)tolower((unsigned char)*p++);
	name[n] = '\0';
	for (; p < end && is_blank(*p); p++)
		;
	if (n == 0 || p == end || *p != '=')
		return false;
	for (p++; p < end && is_blank(*p); p++)
		;
	while (end > p && is_blank(end[-1]))
		end--;
	snprintf(value, vsize, "%.*s", (int)(end - p), p);
	return true;
}

static bool
blank_or_comment(const struct src_line *l)
{
	size_t i = 0;

	while (i < l->len && is_blank(l->p[i]))
		i++;
	return i == l->len || l->p[i] == '#';
}

/* Strip a trailing escape (and the blanks after it); true if the line continues. */
static bool
continues(const char *p, size_t *len, char esc)
{
	size_t n = *len;

	while (n > 0 && is_blank(p[n - 1]))
		n--;
	if (n == 0 || p[n - 1] != esc)
		return false;
	*len = n - 1;
	return true;
}

/* The exec form: a JSON array of strings (anything else is the shell form, as in Docker). */
static bool
parse_json_array(const char *s, struct strv *out)
{
	json_t *j, *v;
	json_error_t jerr;
	size_t i;

	if (*s != '[')
		return false;
	j = json_loads(s, 0, &jerr);
	if (!json_is_array(j)) {
		json_decref(j);
		return false;
	}
	json_array_foreach (j, i, v)
		if (!json_is_string(v)) {
			json_decref(j);
			return false;
		}
	json_array_foreach (j, i, v)
		strv_push(out, xstrdup(json_string_value(v)));
	strv_finish(out);
	json_decref(j);
	return true;
}

/* Leading --name=value flags: COPY/ADD know --chown and --chmod, nothing else knows any. */
static int
parse_flags(struct df_instr *in, const char **rest, struct bk_err *err)
{
	const char *p = *rest;

	while (p[0] == '-' && p[1] == '-') {
		size_t n = strcspn(p, " \t");
		const char *eq = memchr(p, '=', n);
		char **slot = NULL;

		if (eq && (in->op == DF_COPY || in->op == DF_ADD)) {
			if ((size_t)(eq - p) == 7 && strncmp(p, "--chown", 7) == 0)
				slot = &in->chown;
			else if ((size_t)(eq - p) == 7 && strncmp(p, "--chmod", 7) == 0)
				slot = &in->chmod;
		}
		if (slot == NULL)
			return line_err(err, in->line, "%s: unsupported flag '%.*s'",
					dockerfile_op_name(in->op), (int)n, p);
		if (*slot)
			return line_err(err, in->line, "%s: '%.*s' given twice",
					dockerfile_op_name(in->op), (int)(eq - p), p);
		*slot = xstrndup(eq + 1, n - (size_t)(eq + 1 - p));
		for (p += n; is_blank(*p); p++)
			;
	}
	*rest = p;
	return 0;
}

static int
find_op(const char *kw, size_t len, int line, enum df_op *op, struct bk_err *err)
{
	char up[16];
	size_t i;

	if (len >= sizeof(up))
		return line_err(err, line, "unknown instruction '%.*s'", (int)(len > 40 ? 40 : len),
				kw);
	for (i = 0; i < len; i++)
		up[i] = (char)toupper((unsigned char)kw[i]);
	up[len] = '\0';
	for (i = 0; i < ARRAY_SIZE(ops); i++)
		if (strcmp(ops[i].name, up) == 0) {
			*op = ops[i].op;
			return 0;
		}
	for (i = 0; i < ARRAY_SIZE(unsupported); i++)
		if (strcmp(unsupported[i], up) == 0)
			return line_err(err, line, "unsupported instruction '%s'", up);
	return line_err(err, line, "unknown instruction '%s'", up);
}

static int check_instr(const struct df_instr *in, char esc, struct bk_err *err);

/* One logical line (continuations joined) into an instruction. */
static int
parse_instr(const char *text, int line, char esc, struct df_instr *in, struct bk_err *err)
{
	const char *p = text, *kw, *rest;
	size_t kwlen, n;
	struct strv argv = { 0 };
	int ret;

	*in = (struct df_instr){ .line = line };
	while (is_blank(*p))
		p++;
	kw = p;
	while (*p && !isspace((unsigned char)*p))
		p++;
	kwlen = (size_t)(p - kw);
	ret = find_op(kw, kwlen, line, &in->op, err);
	if (ret < 0)
		return ret;
	in->text = xstrdup(kw);
	n = strlen(in->text);
	while (n > 0 && isspace((unsigned char)in->text[n - 1]))
		in->text[--n] = '\0';
	for (rest = p; isspace((unsigned char)*rest); rest++)
		;
	ret = parse_flags(in, &rest, err);
	if (ret < 0)
		return ret;
	in->rest = xstrdup(rest);
	n = strlen(in->rest);
	while (n > 0 && isspace((unsigned char)in->rest[n - 1]))
		in->rest[--n] = '\0';
	if (in->rest[0] == '\0')
		return line_err(err, line, "%s requires an argument", dockerfile_op_name(in->op));
	if ((in->op == DF_RUN || in->op == DF_CMD || in->op == DF_ENTRYPOINT || in->op == DF_COPY ||
	     in->op == DF_ADD || in->op == DF_VOLUME) &&
	    parse_json_array(in->rest, &argv)) {
		in->json = true;
		in->argv = argv.v;
		in->argc = argv.n;
	}
	return check_instr(in, esc, err);
}

/* The logical lines of text: comments and blank lines dropped, continuations joined. */
static int
split_lines(const char *text, size_t len, struct dockerfile *df, struct bk_err *err)
{
	const char *p = text, *end = text + len;
	struct sbuf cur = { 0 };
	bool top = true, open = false;
	int no = 0, start = 0, ret = 0;

	df->escape = '\\';
	while (p < end && ret == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		struct src_line l = { p, nl ? (size_t)(nl - p) : (size_t)(end - p), ++no };
		char name[32], value[64];

		p = nl ? nl + 1 : end;
		if (l.len > 0 && l.p[l.len - 1] == '\r')
			l.len--;
		if (top && directive(&l, name, sizeof(name), value, sizeof(value))) {
			if (strcmp(name, "escape") == 0) {
				if (strcmp(value, "\\") != 0 && strcmp(value, "`") != 0)
					ret = line_err(err, no, "bad escape '%s' (use \\ or `)",
						       value);
				df->escape = value[0];
			}
			continue;
		}
		top = false;
		/* Inside an instruction too, as Docker: comments and blank lines are dropped. */
		if (blank_or_comment(&l))
			continue;
		if (!open)
			start = no;
		open = continues(l.p, &l.len, df->escape);
		sb_puts(&cur, l.p, l.len);
		if (open)
			continue;
		if (df->n == DF_INSTR_MAX) {
			ret = line_err(err, start, "more than %d instructions", DF_INSTR_MAX);
			break;
		}
		df->v = xrealloc(df->v, (df->n + 1) * sizeof(*df->v));
		ret = parse_instr(cur.p ? cur.p : "", start, df->escape, &df->v[df->n], err);
		df->n++;
		/* Emptied, not only shortened: a last line of just "\\" read this one again. */
		cur.len = 0;
		if (cur.p)
			cur.p[0] = '\0';
	}
	if (ret == 0 && open) {
		df->v = xrealloc(df->v, (df->n + 1) * sizeof(*df->v));
		ret = parse_instr(cur.p ? cur.p : "", start, df->escape, &df->v[df->n], err);
		df->n++;
	}
	free(cur.p);
	return ret;
}

int
dockerfile_parse(const char *text, size_t len, struct dockerfile *out, struct bk_err *err)
{
	struct dockerfile df = { 0 };
	size_t i, nfrom = 0;
	int ret;

	*out = (struct dockerfile){ 0 };
	if (len > DF_TEXT_MAX)
		return bk_err_set(err, EFBIG, "Dockerfile is larger than %u bytes", DF_TEXT_MAX);
	if (memchr(text, '\0', len))
		return bk_err_set(err, EINVAL, "Dockerfile contains a NUL byte");
	ret = split_lines(text, len, &df, err);
	for (i = 0; ret == 0 && i < df.n; i++) {
		const struct df_instr *in = &df.v[i];

		if (in->op == DF_FROM && ++nfrom > 1)
			ret = line_err(err, in->line,
				       "a second FROM: multi-stage builds are not supported");
		else if (nfrom == 0 && in->op != DF_ARG && in->op != DF_FROM)
			ret = line_err(err, in->line, "%s before FROM (only ARG may come first)",
				       dockerfile_op_name(in->op));
	}
	if (ret == 0 && nfrom == 0)
		ret = bk_err_set(err, EINVAL, "line %d: no FROM instruction",
				 df.n ? df.v[df.n - 1].line : 1);
	if (ret < 0) {
		dockerfile_free(&df);
		return ret;
	}
	*out = df;
	return 0;
}

/* ---- expansion -------------------------------------------------------------- */

static void
step_free(struct df_step *st)
{
	strv_free(st->argv);
	strv_free(st->env);
	free(st->chown);
	free(st->chmod);
}

void
dockerfile_plan_free(struct df_plan *plan)
{
	size_t i;

	for (i = 0; i < plan->n; i++)
		step_free(&plan->v[i]);
	free(plan->v);
	*plan = (struct df_plan){ 0 };
}

char *
dockerfile_clean_path(const char *path)
{
	cleanup_free char *copy = xstrdup(path);
	char **parts = xcalloc(strlen(path) / 2 + 2, sizeof(char *));
	size_t n = 0, i;
	char *save = NULL, *c;
	struct sbuf out = { 0 };

	for (c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (strcmp(c, ".") == 0)
			continue;
		if (strcmp(c, "..") == 0) {
			if (n == 0) {
				free(parts);
				return NULL;
			}
			n--;
			continue;
		}
		parts[n++] = c;
	}
	for (i = 0; i < n; i++) {
		if (i)
			sb_putc(&out, '/');
		sb_puts(&out, parts[i], strlen(parts[i]));
	}
	free(parts);
	if (out.p == NULL)
		return xstrdup(".");
	return sb_take(&out);
}

static bool
is_url(const char *s)
{
	return strstr(s, "://") != NULL || strncmp(s, "git@", 4) == 0;
}

/* KEY=VALUE pairs (ENV, LABEL, ARG); ENV and LABEL also take Docker's legacy "KEY VALUE". */
static int
expand_pairs(const struct df_instr *in, char esc, const struct scope *sc, struct strv *out,
	     struct bk_err *err)
{
	struct strv raw = { 0 };
	const char *name = dockerfile_op_name(in->op);
	size_t i;
	int ret = 0;

	raw_words(in->rest, esc, &raw);
	if (raw.n > 0 && strchr(raw.v[0], '=') == NULL && in->op != DF_ARG) {
		char *key = NULL, *value = NULL;
		const char *v = in->rest + strlen(raw.v[0]);

		while (isspace((unsigned char)*v))
			v++;
		if (*v == '\0')
			ret = line_err(err, in->line, "%s %s: no value (use KEY=VALUE)", name,
				       raw.v[0]);
		if (ret == 0)
			ret = lex_one(raw.v[0], esc, sc, in->line, &key, err);
		if (ret == 0)
			ret = lex_one(v, esc, sc, in->line, &value, err);
		if (ret == 0)
			strv_push(out, xasprintf("%s=%s", key, value));
		free(key);
		free(value);
		strv_free(raw.v);
		return ret;
	}
	for (i = 0; i < raw.n && ret == 0; i++) {
		char *eq = strchr(raw.v[i], '='), *key = NULL, *value = NULL;

		if (eq == NULL && in->op != DF_ARG) {
			ret = line_err(err, in->line, "%s: '%s' is not KEY=VALUE", name, raw.v[i]);
			break;
		}
		if (eq)
			*eq = '\0';
		ret = lex_one(raw.v[i], esc, sc, in->line, &key, err);
		if (ret == 0 && eq)
			ret = lex_one(eq + 1, esc, sc, in->line, &value, err);
		if (ret == 0 && key[0] == '\0' && !sc->check)
			ret = line_err(err, in->line, "%s: empty name in '%s'", name, raw.v[i]);
		if (ret == 0 && in->op == DF_ARG && !sc->check) {
			const char *k = key;

			if (!name_start(*k))
				ret = line_err(err, in->line, "ARG: bad name '%s'", key);
			for (; ret == 0 && *k; k++)
				if (!name_char(*k))
					ret = line_err(err, in->line, "ARG: bad name '%s'", key);
		}
		if (ret == 0)
			strv_push(out, value ? xasprintf("%s=%s", key, value) : xstrdup(key));
		free(key);
		free(value);
	}
	strv_free(raw.v);
	return ret;
}

/* "80", "80/udp", "8000-8010/tcp" into "PORT/PROTO" entries. */
static int
expand_ports(const struct df_instr *in, char **words, size_t n, struct strv *out,
	     struct bk_err *err)
{
	size_t i, total = 0;

	for (i = 0; i < n; i++) {
		char proto[8] = "tcp", *end = NULL;
		const char *slash = strchr(words[i], '/');
		unsigned long lo, hi;
		size_t k;

		if (slash) {
			if (strlen(slash + 1) >= sizeof(proto) || slash[1] == '\0')
				return line_err(err, in->line, "EXPOSE: bad protocol in '%s'",
						words[i]);
			for (k = 0; slash[1 + k]; k++)
				proto[k] = (char)tolower((unsigned char)slash[1 + k]);
			proto[k] = '\0';
			if (strcmp(proto, "tcp") != 0 && strcmp(proto, "udp") != 0 &&
			    strcmp(proto, "sctp") != 0)
				return line_err(err, in->line,
						"EXPOSE: '%s': protocol must be tcp, udp or sctp",
						words[i]);
		}
		if (!isdigit((unsigned char)words[i][0]))
			return line_err(err, in->line, "EXPOSE: bad port '%s'", words[i]);
		lo = hi = strtoul(words[i], &end, 10);
		if (*end == '-') {
			if (!isdigit((unsigned char)end[1]))
				return line_err(err, in->line, "EXPOSE: bad range '%s'", words[i]);
			hi = strtoul(end + 1, &end, 10);
		}
		if (end != (slash ? slash : words[i] + strlen(words[i])) || lo == 0 || hi > 65535 ||
		    lo > hi)
			return line_err(err, in->line, "EXPOSE: bad port '%s'", words[i]);
		total += hi - lo + 1;
		if (total > PORTS_MAX)
			return line_err(err, in->line, "EXPOSE: too many ports");
		for (; lo <= hi; lo++)
			strv_push(out, xasprintf("%lu/%s", lo, proto));
	}
	return 0;
}

/* COPY/ADD: sources cleaned and kept inside the context, no URLs, then the destination. */
static int
expand_copy(const struct df_instr *in, char esc, const struct scope *sc, struct df_step *st,
	    struct strv *out, struct bk_err *err)
{
	const char *name = dockerfile_op_name(in->op);
	char **w = NULL;
	size_t n = 0, i;
	int ret = 0;

	if (in->json) {
		for (i = 0; i < in->argc && ret == 0; i++) {
			char *one = NULL;

			ret = lex_one(in->argv[i], esc, sc, in->line, &one, err);
			if (ret == 0)
				strv_push(out, one);
		}
	} else {
		ret = lex_words(in->rest, esc, true, sc, in->line, &w, &n, err);
		for (i = 0; ret == 0 && i < n; i++)
			strv_push(out, take_ptr(w[i]));
		strv_free(w);
	}
	if (ret == 0 && in->chown)
		ret = lex_one(in->chown, esc, sc, in->line, &st->chown, err);
	if (ret == 0 && in->chmod)
		ret = lex_one(in->chmod, esc, sc, in->line, &st->chmod, err);
	if (ret < 0 || sc->check)
		return ret;
	if (out->n < 2)
		return line_err(err, in->line, "%s requires at least one source and a destination",
				name);
	if (st->chmod) {
		char *end = NULL;
		unsigned long m = strtoul(st->chmod, &end, 8);

		if (st->chmod[0] == '\0' || *end || m > 07777)
			return line_err(err, in->line, "%s: --chmod=%s: not an octal mode", name,
					st->chmod);
	}
	if (st->chown && st->chown[0] == '\0')
		return line_err(err, in->line, "%s: empty --chown", name);
	if (out->v[out->n - 1][0] == '\0')
		return line_err(err, in->line, "%s: empty destination", name);
	for (i = 0; i + 1 < out->n; i++) {
		char *clean;

		if (is_url(out->v[i]))
			return line_err(err, in->line, "%s: URLs are not supported: '%s'", name,
					out->v[i]);
		if (out->v[i][0] == '\0')
			return line_err(err, in->line, "%s: empty source", name);
		clean = dockerfile_clean_path(out->v[i]);
		if (clean == NULL)
			return line_err(err, in->line, "%s: '%s' is outside the build context",
					name, out->v[i]);
		/* A trailing '/' is the user's, and a glob's matches are found later. */
		free(out->v[i]);
		out->v[i] = clean;
	}
	return 0;
}

/* Substitute variables in in (sc->check: only check the syntax). */
static int
expand_instr(const struct df_instr *in, char esc, const struct scope *sc, struct df_step *st,
	     struct bk_err *err)
{
	const char *name = dockerfile_op_name(in->op);
	struct strv out = { 0 };
	char **w = NULL;
	size_t n = 0, i;
	int ret = 0;

	*st = (struct df_step){
		.op = in->op, .line = in->line, .text = in->text, .exec_form = in->json
	};
	switch (in->op) {
	case DF_RUN:
	case DF_CMD:
	case DF_ENTRYPOINT:
		/* Not substituted: the shell does that when the command runs. */
		if (in->json) {
			if (in->op == DF_RUN && in->argc == 0)
				ret = line_err(err, in->line, "RUN: empty command");
			for (i = 0; i < in->argc; i++)
				strv_push(&out, xstrdup(in->argv[i]));
		} else {
			strv_push(&out, xstrdup(in->rest));
		}
		break;
	case DF_FROM:
		ret = lex_words(in->rest, esc, true, sc, in->line, &w, &n, err);
		if (ret == 0 && !sc->check && !(n == 1 || (n == 3 && strcasecmp(w[1], "AS") == 0)))
			ret = line_err(err, in->line, "FROM: expected 'IMAGE [AS NAME]', got '%s'",
				       in->rest);
		if (ret == 0 && n > 0)
			strv_push(&out, xstrdup(w[0]));
		strv_free(w);
		break;
	case DF_ARG:
	case DF_ENV:
	case DF_LABEL:
		ret = expand_pairs(in, esc, sc, &out, err);
		break;
	case DF_COPY:
	case DF_ADD:
		ret = expand_copy(in, esc, sc, st, &out, err);
		break;
	case DF_WORKDIR:
	case DF_USER:
		ret = lex_words(in->rest, esc, false, sc, in->line, &w, &n, err);
		if (ret == 0 && !sc->check && w[0][0] == '\0')
			ret = line_err(err, in->line, "%s: empty value", name);
		if (ret == 0)
			strv_push(&out, take_ptr(w[0])); /* the only word */
		strv_free(w);
		break;
	case DF_VOLUME:
		/* Paths, substituted: each of the JSON form's strings (as COPY's), or the words. */
		if (in->json) {
			w = xcalloc(in->argc + 1, sizeof(char *));
			for (i = 0; ret == 0 && i < in->argc; i++, n++)
				ret = lex_one(in->argv[i], esc, sc, in->line, &w[i], err);
		} else {
			ret = lex_words(in->rest, esc, true, sc, in->line, &w, &n, err);
		}
		for (i = 0; ret == 0 && i < n; i++) {
			if (!sc->check && (w[i][0] != '/' || strlen(w[i]) >= 1024))
				ret = line_err(err, in->line,
					       "VOLUME: '%s' is not an absolute path", w[i]);
			else
				strv_push(&out, xstrdup(w[i]));
		}
		if (ret == 0 && n == 0)
			ret = line_err(err, in->line, "VOLUME: no path");
		strv_free(w);
		break;
	case DF_EXPOSE:
		ret = lex_words(in->rest, esc, true, sc, in->line, &w, &n, err);
		if (ret == 0 && !sc->check)
			ret = expand_ports(in, w, n, &out, err);
		for (i = 0; ret == 0 && i < out.n; i++)
			ret = spend(sc, strlen(out.v[i]), in->line, "ports", err);
		strv_free(w);
		break;
	}
	st->argv = strv_finish(&out);
	st->argc = out.n;
	if (ret < 0)
		step_free(st);
	return ret;
}

static int
check_instr(const struct df_instr *in, char esc, struct bk_err *err)
{
	size_t expanded = 0;
	struct scope sc = { .check = true, .expanded = &expanded };
	struct df_step st;
	int ret = expand_instr(in, esc, &sc, &st, err);

	if (ret == 0)
		step_free(&st);
	return ret;
}

/* ARG pairs into vars: "NAME=VALUE", or "NAME" taking fallback's value (if any). */
static void
declare_args(char **argv, size_t argc, struct vars *vs, const struct vars *fallback)
{
	size_t i;

	for (i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (eq) {
			*eq = '\0';
			vars_set(vs, argv[i], eq + 1);
			*eq = '=';
		} else {
			const struct var *f =
			    fallback ? vars_find(fallback, argv[i], strlen(argv[i])) : NULL;

			vars_set(vs, argv[i], f ? f->value : NULL);
		}
	}
}

/* The build arguments a RUN sees: those with a value that no ENV overrides. */
static void
run_env(struct df_step *st, const struct vars *args, const struct vars *env)
{
	struct strv out = { 0 };
	size_t i;

	for (i = 0; i < args->n; i++)
		if (args->v[i].value && !vars_find(env, args->v[i].name, strlen(args->v[i].name)))
			strv_push(&out, xasprintf("%s=%s", args->v[i].name, args->v[i].value));
	st->env = strv_finish(&out);
	st->nenv = out.n;
}

int
dockerfile_base(const struct dockerfile *df, char **image, struct bk_err *err)
{
	struct vars meta = { 0 };
	size_t expanded = 0;
	struct scope sc = { .args = &meta, .expanded = &expanded };
	size_t i;
	int ret = 0;
	bool found = false;

	for (i = 0; i < df->n && !found; i++) {
		struct df_step st;

		ret = expand_instr(&df->v[i], df->escape, &sc, &st, err);
		if (ret < 0)
			break;
		if (df->v[i].op == DF_ARG)
			declare_args(st.argv, st.argc, &meta, NULL);
		if (df->v[i].op == DF_FROM) {
			found = true;
			if (st.argc != 1 || st.argv[0][0] == '\0')
				ret = line_err(err, st.line, "FROM: no image");
			else
				*image = xstrdup(st.argv[0]);
		}
		step_free(&st);
	}
	vars_free(&meta);
	if (ret == 0 && !found)
		ret = bk_err_set(err, EINVAL, "no FROM instruction");
	return ret;
}

int
dockerfile_expand(const struct dockerfile *df, const char *const *base_env, struct df_plan *out,
		  struct bk_err *err)
{
	struct vars meta = { 0 }, args = { 0 }, env = { 0 };
	size_t expanded = 0;
	struct scope sc = { .args = &meta, .expanded = &expanded };
	struct df_plan plan = { 0 };
	bool staged = false;
	size_t i;
	int ret = 0;

	*out = (struct df_plan){ 0 };
	plan.v = xcalloc(df->n ? df->n : 1, sizeof(*plan.v));
	for (i = 0; base_env && base_env[i]; i++) {
		char *kv = xstrdup(base_env[i]), *eq = strchr(kv, '=');

		if (eq) {
			*eq = '\0';
			vars_set(&env, kv, eq + 1);
		}
		free(kv);
	}
	for (i = 0; i < df->n && ret == 0; i++) {
		struct df_step *st = &plan.v[i];

		ret = expand_instr(&df->v[i], df->escape, &sc, st, err);
		if (ret < 0)
			break;
		plan.n++;
		switch (st->op) {
		case DF_ARG:
			declare_args(st->argv, st->argc, staged ? &args : &meta,
				     staged ? &meta : NULL);
			break;
		case DF_FROM:
			/* Now the ARGs before FROM are visible only when declared again. */
			staged = true;
			sc.env = &env;
			sc.args = &args;
			break;
		case DF_ENV:
			/* All pairs were expanded with the values from before this ENV. */
			for (size_t k = 0; k < st->argc; k++) {
				char *eq = strchr(st->argv[k], '=');

				*eq = '\0';
				vars_set(&env, st->argv[k], eq + 1);
				*eq = '=';
			}
			break;
		case DF_RUN:
			run_env(st, &args, &env);
			for (size_t k = 0; k < st->nenv && ret == 0; k++)
				ret = spend(&sc, strlen(st->env[k]), st->line, "build arguments",
					    err);
			break;
		default:
			break;
		}
	}
	vars_free(&meta);
	vars_free(&args);
	vars_free(&env);
	if (ret < 0) {
		dockerfile_plan_free(&plan);
		return ret;
	}
	*out = plan;
	return 0;
}
