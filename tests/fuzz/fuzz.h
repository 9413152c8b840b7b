/* fuzz.h - what the libFuzzer targets in tests/fuzz share: the entry point's
 * prototype and a check that stops the run with a message. */
#ifndef DYNAMOFS_FUZZ_H
#define DYNAMOFS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A disagreement is as much a finding as a crash: abort so libFuzzer saves
 * the input. */
#define FUZZ_CHECK(cond, ...)                                                  \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz check failed (%s:%d): %s\n  ",   \
				__FILE__, __LINE__, #cond);                    \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			abort();                                               \
		}                                                              \
	} while (0)

#endif
