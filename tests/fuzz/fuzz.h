/*
 * fuzz.h: what every libFuzzer target in tests/fuzz shares.  A target is one
 * fuzz_NAME.c defining LLVMFuzzerTestOneInput (and, if it needs set-up,
 * LLVMFuzzerInitialize); `make fuzz` builds it with clang's
 * -fsanitize=fuzzer,address,undefined and runs it over tests/fuzz/corpus/NAME.
 *
 * Beyond "does not crash", each target checks the engine's contract: a
 * failure returns -errno with the same errno and a message in its bk_err
 * (every bad input gets a clear errno and readable text), and what a parser
 * accepts survives a round trip through its formatter.  A broken promise
 * aborts, which libFuzzer reports as a crash with the input saved.
 */
#ifndef BK_FUZZ_H
#define BK_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bocker.h"

#define FUZZ_ASSERT(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz: %s:%d: assertion failed: %s\n", __FILE__, __LINE__, \
				#cond);                                                            \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* The input as a C string (a NUL inside ends it, as it would for the daemon). */
static inline char *
fuzz_cstr(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

/* A failure (ret < 0) must carry the same errno and a message; success leaves ret >= 0. */
static inline void
fuzz_check_err(int ret, const struct bk_err *err, const char *what)
{
	if (ret >= 0)
		return;
	if (err->code != -ret || err->msg[0] == '\0' ||
	    strnlen(err->msg, sizeof(err->msg)) == sizeof(err->msg)) {
		fprintf(stderr, "fuzz: %s returned %d with err code %d, message '%.*s'\n", what,
			ret, err->code, (int)sizeof(err->msg), err->msg);
		abort();
	}
}

/* The engine's diagnostics (bk_log) would only slow the fuzzer down. */
static inline void
fuzz_quiet_sink(enum bk_log_level level, const char *msg)
{
	(void)level;
	(void)msg;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
