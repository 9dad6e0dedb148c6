/*
 * The engine's error type (struct bk_err) and its log sink.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "bocker.h"

int
bk_err_set(struct bk_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -code;
}

int
bk_err_sys(struct bk_err *err, const char *fmt, ...)
{
	int code = errno ? errno : EIO;
	size_t used;
	va_list ap;

	if (err == NULL)
		return -code;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	used = strlen(err->msg);
	snprintf(err->msg + used, sizeof(err->msg) - used, ": %s", strerror(code));
	return -code;
}

int
bk_err_wrap(struct bk_err *err, const char *fmt, ...)
{
	char prefix[256], old[sizeof(err->msg)];
	va_list ap;

	if (err == NULL)
		return -EIO;
	if (err->code == 0)
		err->code = EIO;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	/* Too long a chain of context is cut at the end: the outer context matters most. */
	if (snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old) < 0)
		err->msg[0] = '\0';
	return -err->code;
}

static void
stderr_sink(enum bk_log_level level, const char *msg)
{
	static const char *names[] = { "error", "warn", "info", "debug" };

	fprintf(stderr, "bockerfs: %s: %s\n", names[level], msg);
}

static bk_log_sink log_sink = stderr_sink;

void
bk_log_set_sink(bk_log_sink sink)
{
	log_sink = sink ? sink : stderr_sink;
}

void
bk_log(enum bk_log_level level, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int saved = errno;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_sink(level, msg);
	errno = saved;
}
