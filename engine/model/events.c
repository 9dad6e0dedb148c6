/*
 * The change callbacks the daemon installs (bk_engine_set_watch): how every
 * layer tells the one above that something changed, without knowing it.
 */
#include <stdarg.h>
#include <stdio.h>

#include "model/model.h"

void
events_notify(const struct events *ev, enum bk_obj_kind kind, const char *id, enum bk_change change)
{
	if (ev->watch)
		ev->watch(ev->arg, kind, id, change);
}

void
events_emit(const struct events *ev, enum bk_obj_kind kind, const char *id, const char *action,
	    const char *fmt, ...)
{
	char attrs[512];
	va_list ap;

	if (ev->event == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(attrs, sizeof(attrs), fmt, ap);
	va_end(ap);
	ev->event(ev->arg, kind, id, action, attrs);
}
