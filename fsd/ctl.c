/*
 * Control writes, parsed without side effects: bytes are collected per open
 * file until a newline ends a command (so `dd bs=1` gives the same result as
 * one write), checked for size and encoding, and split into words.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/xalloc.h"
#include "fsd.h"

/* Add a write's bytes to the open file's pending command.  Nothing is kept on error. */
int
ctl_append(struct ofile *of, const char *buf, size_t size, struct bk_err *err)
{
	size_t i;

	if (size > CTL_MAX || of->in_len + size > CTL_MAX) {
		free(of->in);
		of->in = NULL;
		of->in_len = 0;
		return bk_err_set(err, EFBIG, "write too large: at most %d bytes", CTL_MAX);
	}
	for (i = 0; i < size; i++)
		if (buf[i] == '\0') {
			free(of->in);
			of->in = NULL;
			of->in_len = 0;
			return bk_err_set(err, EINVAL, "invalid byte 0x00 at offset %zu", i);
		}
	of->in = xrealloc(of->in, of->in_len + size + 1);
	memcpy(of->in + of->in_len, buf, size);
	of->in_len += size;
	of->in[of->in_len] = '\0';
	return 0;
}

/*
 * The next command ended by '\n' (without it), or with all, whatever is left.
 * NULL when there is none.  Caller frees.
 */
char *
ctl_next_line(struct ofile *of, bool all)
{
	char *nl, *line;
	size_t n;

	if (of->in == NULL || of->in_len == 0)
		return NULL;
	nl = memchr(of->in, '\n', of->in_len);
	if (nl == NULL && !all)
		return NULL;
	n = nl ? (size_t)(nl - of->in) : of->in_len;
	/* No NUL inside (ctl_append refuses them), so this copies n bytes. */
	line = xasprintf("%.*s", (int)n, of->in);
	if (nl)
		n++;
	memmove(of->in, of->in + n, of->in_len - n + 1);
	of->in_len -= n;
	return line;
}

/* Length of the UTF-8 sequence at s, or 0 if it is not valid UTF-8. */
size_t
ctl_utf8_len(const unsigned char *s)
{
	size_t n, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and values past U+10FFFF are not UTF-8. */
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

/* Text a control file accepts: UTF-8 with no control bytes but tab (and newline if allowed). */
int
ctl_check_text(const char *s, bool newlines, struct bk_err *err)
{
	size_t len = strlen(s), i = 0, n;

	while (i < len) {
		unsigned char c = (unsigned char)s[i];

		if (((c < 0x20 && c != '\t' && !(newlines && c == '\n')) || c == 0x7f))
			return bk_err_set(err, EINVAL, "invalid byte 0x%02x at offset %zu", c, i);
		n = ctl_utf8_len((const unsigned char *)s + i);
		if (n == 0)
			return bk_err_set(err, EINVAL, "invalid UTF-8 at offset %zu", i);
		i += n;
	}
	return 0;
}

/*
 * Check line (UTF-8, no control characters but tab) and split it in place
 * into at most max words separated by blanks.  Returns the word count.
 */
int
ctl_split(char *line, char **argv, int max, struct bk_err *err)
{
	size_t len = strlen(line);
	int argc = 0, ret;
	char *p;

	/* A trailing '\r' from a client that ends lines with CRLF. */
	if (len > 0 && line[len - 1] == '\r')
		line[--len] = '\0';
	ret = ctl_check_text(line, false, err);
	if (ret < 0)
		return ret;
	for (p = line;;) {
		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		if (argc == max)
			return bk_err_set(err, EINVAL, "too many words (at most %d)", max);
		argv[argc++] = p;
		p += strcspn(p, " \t");
		if (*p)
			*p++ = '\0';
	}
	return argc;
}
