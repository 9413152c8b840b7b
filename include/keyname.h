/* keyname.h - placeholder until the module lands. */
#ifndef DYNAMOFS_KEYNAME_H
#define DYNAMOFS_KEYNAME_H
#endif
