/* keyname.c - placeholder until the module lands. */
#include "keyname.h"
