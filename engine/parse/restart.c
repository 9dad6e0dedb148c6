/*
 * Restart policies as Docker spells them (docker run --restart), without
 * I/O: "no", "on-failure[:N]", "always", "unless-stopped".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse/parse.h"
#include "base/base.h"

static const char *const names[] = {
	[RESTART_NO] = "no",
	[RESTART_ON_FAILURE] = "on-failure",
	[RESTART_ALWAYS] = "always",
	[RESTART_UNLESS_STOPPED] = "unless-stopped",
};

int
restart_parse(const char *s, struct restart_policy *out, struct bk_err *err)
{
	struct restart_policy p = { RESTART_NO, 0 };
	size_t i, len = strcspn(s, ":");

	for (i = 0; i < ARRAY_SIZE(names); i++)
		if (strlen(names[i]) == len && strncmp(s, names[i], len) == 0)
			break;
	if (i == ARRAY_SIZE(names))
		return bk_err_set(err, EINVAL,
				  "restart '%.64s': no, on-failure[:N], always or unless-stopped",
				  s);
	p.mode = (enum restart_mode)i;
	if (s[len] == ':') {
		char *end = NULL;
		long n;

		/* Docker takes a count after on-failure only. */
		if (p.mode != RESTART_ON_FAILURE || s[len + 1] < '0' || s[len + 1] > '9')
			return bk_err_set(err, EINVAL,
					  "restart '%.64s': only on-failure takes a count (:N)", s);
		errno = 0;
		n = strtol(s + len + 1, &end, 10);
		if (errno || *end != '\0' || n < 0 || n > 1000000)
			return bk_err_set(err, EINVAL, "restart '%.64s': a count from 0", s);
		p.max = (int)n;
	}
	*out = p;
	return 0;
}

void
restart_format(const struct restart_policy *p, char *buf, size_t size)
{
	if (p->mode == RESTART_ON_FAILURE && p->max > 0)
		snprintf(buf, size, "%s:%d", names[p->mode], p->max);
	else
		snprintf(buf, size, "%s", names[p->mode]);
}

/*
 * Docker's rules, after an exit (code 0 and no signal: a success).  A stop
 * or kill by the user is respected by every policy; count is the restarts
 * so far.
 */
bool
restart_wanted(const struct restart_policy *p, bool failed, bool by_user, int count)
{
	if (by_user)
		return false;
	switch (p->mode) {
	case RESTART_NO:
		return false;
	case RESTART_ON_FAILURE:
		return failed && (p->max == 0 || count < p->max);
	case RESTART_ALWAYS:
	case RESTART_UNLESS_STOPPED:
		return true;
	}
	return false;
}
