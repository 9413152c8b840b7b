/* test_scratch.c - placeholder. */
#include "tap.h"
static void placeholder(void) { CHECK(1); }
TAP_MAIN({ "placeholder", placeholder })
