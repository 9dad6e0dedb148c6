/*
 * tap.h: a header-only TAP harness for the unit tests.  Each test binary is
 * one .c file, so the counters are static here.  A test is `static int
 * fn(void)` returning 0 (pass), -1 (fail) or 77 (skip, as automake does);
 * the CHECK macros return -1 from it on the first failure.  main() ends with
 * `return TAP_DONE();`, an expression that prints the plan and gives 0 if
 * every test passed, else 1.
 */
#ifndef BK_TAP_H
#define BK_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_n __attribute__((unused));
static int tap_failed __attribute__((unused));

#define TAP_FAIL(what, ...)                                                                  \
	do {                                                                                 \
		printf("# %s failed: " what " at %s:%d\n", __VA_ARGS__, __FILE__, __LINE__); \
		return -1;                                                                   \
	} while (0)

#define CHECK(cond)                                     \
	do {                                            \
		if (!(cond))                            \
			TAP_FAIL("%s", "CHECK", #cond); \
	} while (0)

/* NULL equals only NULL, so a missing string fails rather than crashing. */
#define CHECK_STR(a, b)                                                                          \
	do {                                                                                     \
		const char *tap_a = (a), *tap_b = (b);                                           \
		if (tap_a == NULL || tap_b == NULL ? tap_a != tap_b : strcmp(tap_a, tap_b) != 0) \
			TAP_FAIL("%s == %s ('%s' != '%s')", "CHECK_STR", #a, #b,                 \
				 tap_a ? tap_a : "(null)", tap_b ? tap_b : "(null)");            \
	} while (0)

#define CHECK_INT(a, b)                                                                         \
	do {                                                                                    \
		long long tap_a = (a), tap_b = (b);                                             \
		if (tap_a != tap_b)                                                             \
			TAP_FAIL("%s == %s (%lld != %lld)", "CHECK_INT", #a, #b, tap_a, tap_b); \
	} while (0)

/* Flush each line so a crash in the next test cannot swallow the results so far. */
#define RUN(fn)                                                    \
	do {                                                       \
		int tap_r = (fn)();                                \
		tap_n++;                                           \
		if (tap_r == 77) {                                 \
			printf("ok %d - %s # SKIP\n", tap_n, #fn); \
		} else if (tap_r == 0) {                           \
			printf("ok %d - %s\n", tap_n, #fn);        \
		} else {                                           \
			tap_failed++;                              \
			printf("not ok %d - %s\n", tap_n, #fn);    \
		}                                                  \
		fflush(stdout);                                    \
	} while (0)

#define TAP_DONE() (printf("1..%d\n", tap_n), fflush(stdout), tap_failed ? 1 : 0)

#endif
