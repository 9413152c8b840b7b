/* codec.h - placeholder until the module lands. */
#ifndef DYNAMOFS_CODEC_H
#define DYNAMOFS_CODEC_H
#endif
