/* sigv4.c - placeholder until the module lands. */
#include "sigv4.h"
