/* http.c - placeholder until the module lands. */
#include "http.h"
