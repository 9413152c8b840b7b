/* creds.c - placeholder until the module lands. */
#include "creds.h"
