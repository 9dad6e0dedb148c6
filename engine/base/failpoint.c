/*
 * Failpoints: BOCKERFS_FAILPOINTS="NAME=ACTION[;NAME=ACTION...]", read once.
 *
 *   kill         SIGKILL the whole daemon at that point (a crash)
 *   error[:N]    fail there with errno N (default EIO), as a real fault would
 *   sleep:MS     stall for MS milliseconds, then go on
 *
 * An ACTION may end in "@K": act on the K-th time the point is reached only
 * (1-based), pass through the others.  The points are compiled into every
 * build, so the binary the crash tests exercise is the one that ships; without
 * the variable each point costs one load and one branch.  The variable is read
 * from the daemon's own environment: only whoever starts the daemon (root)
 * can set it.  Every point that acts is logged first, so a test can tell the
 * point was reached.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"

enum fp_action { FP_KILL, FP_ERROR, FP_SLEEP };

struct fp {
	char name[64];
	enum fp_action action;
	long arg;  /* errno or milliseconds */
	long only; /* act on this hit only; 0: every hit */
	atomic_long hits;
};

#define FP_MAX 16

static struct fp points[FP_MAX];
static size_t npoints;
static atomic_bool armed;
static pthread_once_t once = PTHREAD_ONCE_INIT;

/* One "NAME=ACTION[@K]"; false (and a warning) when malformed. */
static bool
parse_one(char *item, struct fp *fp)
{
	char *eq = strchr(item, '='), *at, *end;

	if (eq == NULL || eq == item || (size_t)(eq - item) >= sizeof(fp->name))
		return false;
	memset(fp, 0, sizeof(*fp));
	memcpy(fp->name, item, (size_t)(eq - item));
	eq++;
	if ((at = strchr(eq, '@')) != NULL) {
		*at++ = '\0';
		fp->only = strtol(at, &end, 10);
		if (*end || fp->only < 1)
			return false;
	}
	if (strcmp(eq, "kill") == 0) {
		fp->action = FP_KILL;
	} else if (strcmp(eq, "error") == 0) {
		fp->action = FP_ERROR;
		fp->arg = EIO;
	} else if (strncmp(eq, "error:", 6) == 0) {
		fp->action = FP_ERROR;
		fp->arg = strtol(eq + 6, &end, 10);
		if (*end || fp->arg < 1 || fp->arg > 4095)
			return false;
	} else if (strncmp(eq, "sleep:", 6) == 0) {
		fp->action = FP_SLEEP;
		fp->arg = strtol(eq + 6, &end, 10);
		if (*end || fp->arg < 0)
			return false;
	} else {
		return false;
	}
	return true;
}

static void
load(void)
{
	const char *env = getenv("BOCKERFS_FAILPOINTS");
	char *copy, *item, *save = NULL;

	if (env == NULL || *env == '\0')
		return;
	copy = xstrdup(env);
	for (item = strtok_r(copy, ";", &save); item; item = strtok_r(NULL, ";", &save)) {
		if (npoints == FP_MAX) {
			bk_log(BK_LOG_WARN, "failpoints: more than %d, the rest ignored", FP_MAX);
			break;
		}
		if (!parse_one(item, &points[npoints])) {
			bk_log(BK_LOG_WARN,
			       "failpoints: '%s' is not NAME=kill|error[:N]|sleep:MS[@K]", item);
			continue;
		}
		bk_log(BK_LOG_WARN, "failpoint armed: %s", item);
		npoints++;
	}
	free(copy);
	atomic_store(&armed, npoints > 0);
}

int
failpoint(const char *name, struct bk_err *err)
{
	struct timespec ts;
	size_t i;
	long hit;

	pthread_once(&once, load);
	if (!atomic_load_explicit(&armed, memory_order_relaxed))
		return 0;
	for (i = 0; i < npoints; i++) {
		struct fp *fp = &points[i];

		if (strcmp(fp->name, name) != 0)
			continue;
		hit = atomic_fetch_add(&fp->hits, 1) + 1;
		if (fp->only && hit != fp->only)
			continue;
		switch (fp->action) {
		case FP_KILL:
			bk_log(BK_LOG_WARN, "failpoint %s: kill", name);
			raise(SIGKILL);
			break;
		case FP_SLEEP:
			bk_log(BK_LOG_WARN, "failpoint %s: sleep %ld ms", name, fp->arg);
			ts.tv_sec = fp->arg / 1000;
			ts.tv_nsec = (fp->arg % 1000) * 1000000L;
			while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
				;
			break;
		case FP_ERROR:
			bk_log(BK_LOG_WARN, "failpoint %s: error %ld", name, fp->arg);
			return bk_err_set(err, (int)fp->arg, "failpoint %s", name);
		}
	}
	return 0;
}
