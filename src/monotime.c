/* monotime.c - the one variable behind monotime.h: how far tests have moved
 * the expiry clock on. */
#include "monotime.h"

long long monotime_skew_us;

void monotime_advance_s(double seconds)
{
	__atomic_add_fetch(&monotime_skew_us, (long long)(seconds * 1e6),
			   __ATOMIC_RELAXED);
}
