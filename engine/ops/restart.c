/*
 * Restart policies (docker run --restart): after an exit the policy may
 * start the container again, after Docker's backoff (100 ms, doubling to a
 * minute, back to 100 ms once a run lasted 10 s); and at the daemon's start
 * it starts those the policy keeps up, as dockerd does.  One thread runs the
 * due starts; the pending ones are kept under the model's lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops/ops.h"

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS   60000
#define STEADY_MS        10000 /* a run this long resets the backoff */

struct restart_pending {
	char id[BK_ID_SIZE];
	uint64_t due_ms; /* CLOCK_MONOTONIC */
	struct restart_pending *next;
};

uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Forget id's pending start, if any (lock held): true if there was one. */
bool
restart_cancel_locked(struct bk_engine *e, const char *id)
{
	struct restart_pending **pp, *p;

	for (pp = &e->restarts.list; (p = *pp) != NULL; pp = &p->next)
		if (strcmp(p->id, id) == 0) {
			*pp = p->next;
			free(p);
			return true;
		}
	return false;
}

static void
schedule_locked(struct bk_engine *e, const char *id, uint32_t delay_ms)
{
	struct restart_pending *p = xcalloc(1, sizeof(*p));

	restart_cancel_locked(e, id);
	snprintf(p->id, sizeof(p->id), "%s", id);
	p->due_ms = now_ms() + delay_ms;
	p->next = e->restarts.list;
	e->restarts.list = p;
	pthread_cond_signal(&e->restarts.cond);
}

/* c has exited (lock held): its policy's decision, and the start scheduled. */
void
restart_after_exit_locked(struct bk_engine *e, struct container *c, bool failed)
{
	uint32_t delay;

	if (c->broken || !e->restarts.running ||
	    !restart_wanted(&c->restart, failed, c->stopped_by_user, c->restarts))
		return;
	if (c->started_ms && now_ms() - c->started_ms >= STEADY_MS)
		c->backoff_ms = 0;
	delay = c->backoff_ms ? c->backoff_ms * 2 : BACKOFF_FIRST_MS;
	if (delay > BACKOFF_MAX_MS)
		delay = BACKOFF_MAX_MS;
	c->backoff_ms = delay;
	bk_log(BK_LOG_INFO, "container %s: restart policy %s, start again in %u ms", c->id,
	       c->restart.mode == RESTART_ON_FAILURE ? "on-failure"
	       : c->restart.mode == RESTART_ALWAYS   ? "always"
						     : "unless-stopped",
	       delay);
	schedule_locked(e, c->id, delay);
}

/* A due start: as the policy's (the count goes up); a failure counts as a failed run. */
static void
run_one(struct bk_engine *e, const char *id)
{
	struct bk_err err = BK_ERR_INIT;
	struct container *c;

	if (container_start_by(e, id, true, &err) == 0)
		return;
	bk_log(BK_LOG_WARN, "container %s: the restart policy's start failed: %s", id, err.msg);
	pthread_mutex_lock(&e->model.lock);
	c = container_find_locked(&e->model, id, 0);
	if (c && c->state != BK_CTR_RUNNING && !c->busy) {
		struct bk_err serr = BK_ERR_INIT;

		c->restarts++;
		if (!c->broken && container_save(&e->model, c, &serr) < 0)
			bk_log(BK_LOG_WARN, "%s", serr.msg);
		restart_after_exit_locked(e, c, true);
	}
	pthread_mutex_unlock(&e->model.lock);
}

static void *
restart_thread(void *arg)
{
	struct bk_engine *e = arg;

	pthread_mutex_lock(&e->model.lock);
	while (!e->restarts.quit) {
		struct restart_pending *p, **pp, **first = NULL;
		uint64_t now = now_ms();

		for (pp = &e->restarts.list; (p = *pp) != NULL; pp = &p->next)
			if (first == NULL || p->due_ms < (*first)->due_ms)
				first = pp;
		if (first == NULL) {
			pthread_cond_wait(&e->restarts.cond, &e->model.lock);
			continue;
		}
		if ((*first)->due_ms > now) {
			struct timespec until;
			uint64_t wait = (*first)->due_ms - now;

			clock_gettime(CLOCK_MONOTONIC, &until);
			until.tv_sec += (time_t)(wait / 1000);
			until.tv_nsec += (long)(wait % 1000) * 1000000;
			if (until.tv_nsec >= 1000000000) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&e->restarts.cond, &e->model.lock, &until);
			continue;
		}
		p = *first;
		*first = p->next;
		pthread_mutex_unlock(&e->model.lock);
		run_one(e, p->id);
		free(p);
		pthread_mutex_lock(&e->model.lock);
	}
	pthread_mutex_unlock(&e->model.lock);
	return NULL;
}

int
restarts_start(struct bk_engine *e, struct bk_err *err)
{
	pthread_condattr_t attr;
	int ret;
	size_t i;

	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&e->restarts.cond, &attr);
	pthread_condattr_destroy(&attr);
	ret = pthread_create(&e->restarts.thread, NULL, restart_thread, e);
	if (ret != 0) {
		pthread_cond_destroy(&e->restarts.cond);
		return bk_err_set(err, ret, "restart policies: thread: %s", strerror(ret));
	}
	/*
	 * What dockerd does at its start: always ones start again (a stop by
	 * the user is forgotten), unless-stopped ones unless the user stopped
	 * them, on-failure ones whose last run failed.  Never-started ones stay.
	 */
	pthread_mutex_lock(&e->model.lock);
	e->restarts.running = true;
	for (i = 0; i < e->model.nctrs; i++) {
		struct container *c = e->model.ctrs[i];
		bool failed = c->exit_code != 0 || c->exit_signal != 0, go;

		if (c->broken || c->state != BK_CTR_EXITED || c->started[0] == '\0')
			continue;
		go = c->restart.mode == RESTART_ALWAYS ||
		     restart_wanted(&c->restart, failed, c->stopped_by_user, c->restarts);
		if (go)
			schedule_locked(e, c->id, 0);
	}
	pthread_mutex_unlock(&e->model.lock);
	return 0;
}

void
restarts_stop(struct bk_engine *e)
{
	struct restart_pending *p;

	pthread_mutex_lock(&e->model.lock);
	if (!e->restarts.running) {
		pthread_mutex_unlock(&e->model.lock);
		return;
	}
	e->restarts.quit = true;
	e->restarts.running = false;
	pthread_cond_signal(&e->restarts.cond);
	pthread_mutex_unlock(&e->model.lock);
	pthread_join(e->restarts.thread, NULL);
	while ((p = e->restarts.list) != NULL) {
		e->restarts.list = p->next;
		free(p);
	}
	pthread_cond_destroy(&e->restarts.cond);
}
