/* ddb.c - placeholder until the module lands. */
#include "ddb.h"
