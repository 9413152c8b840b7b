/* scratch.c - placeholder until the module lands. */
#include "scratch.h"
