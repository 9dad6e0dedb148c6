/*
 * timefmt.h: times as the tree shows them, RFC 3339 in UTC ("2026-12-06T
 * 23:39:15Z", with nanoseconds for events).  Header-only, libc only.
 */
#ifndef BK_COMMON_TIMEFMT_H
#define BK_COMMON_TIMEFMT_H

#include <stdio.h>
#include <time.h>

#define TIME_RFC3339_SIZE 40

/* t as "YYYY-MM-DDTHH:MM:SSZ" into out (at least 21 bytes). */
static inline void
time_rfc3339_at(time_t t, char *out, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* The wall clock now, as time_rfc3339_at. */
static inline void
time_rfc3339(char *out, size_t size)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	time_rfc3339_at(ts.tv_sec, out, size);
}

/* The wall clock now with nanoseconds, "YYYY-MM-DDTHH:MM:SS.NNNNNNNNNZ" (at least 31 bytes). */
static inline void
time_rfc3339_ns(char *out, size_t size)
{
	struct timespec ts;
	struct tm tm;
	char s[24];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, size, "%s.%09ldZ", s, ts.tv_nsec);
}

#endif
