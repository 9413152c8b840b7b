/* monotime.h - the monotonic clock, in the units the modules count in: one
 * reading, three scales, instead of a clock_gettime helper per file. */
#ifndef DYNAMOFS_MONOTIME_H
#define DYNAMOFS_MONOTIME_H

#include <time.h>

/* Microseconds since an arbitrary point (CLOCK_MONOTONIC). */
static inline long long monotime_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static inline long long monotime_ms(void)
{
	return monotime_us() / 1000;
}

/* Seconds, for expiry times compared with a ttl in seconds. */
static inline double monotime_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
