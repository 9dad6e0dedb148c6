/*
 * struct init_err: formatting only, no I/O, so the unit tests link it with
 * the plan parser.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "init.h"

static void
set_step(struct init_err *err, const char *step, int code)
{
	snprintf(err->step, sizeof(err->step), "%s", step);
	err->code = code;
}

int
init_fail(struct init_err *err, const char *step, int code, const char *fmt, ...)
{
	va_list ap;

	set_step(err, step, code);
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -code;
}

int
init_fail_sys(struct init_err *err, const char *step, const char *fmt, ...)
{
	int code = errno ? errno : EIO;
	size_t used;
	va_list ap;

	set_step(err, step, code);
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	used = strlen(err->msg);
	snprintf(err->msg + used, sizeof(err->msg) - used, ": %s", strerror(code));
	return -code;
}
