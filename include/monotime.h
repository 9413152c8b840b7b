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

/* Seconds the expiry clock runs ahead of CLOCK_MONOTONIC: 0, unless a test
 * moved it on (monotime_advance_s) to expire caches without waiting. */
extern long long monotime_skew_us;

/* Moves the expiry clock (monotime_s, never the duration clocks above) on
 * by seconds; for tests, through the mount's DYNAMOFS_TEST_CLOCK hook. */
void monotime_advance_s(double seconds);

/* Seconds, for expiry times compared with a ttl in seconds. */
static inline double monotime_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9 +
	       (double)__atomic_load_n(&monotime_skew_us, __ATOMIC_RELAXED) /
		   1e6;
}

/* The wall clock (time(2)) with the same test skew: what credential expiry
 * is judged by, so a test can make credentials expire during a mount.
 * Requests are still signed at the real time(2). */
static inline time_t monotime_wall_s(void)
{
	return time(NULL) +
	       (time_t)(__atomic_load_n(&monotime_skew_us, __ATOMIC_RELAXED) /
			1000000);
}

#endif
