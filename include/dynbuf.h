/* dynbuf.h - a growable NUL-terminated byte buffer (after curl's dynbuf),
 * shared by the modules that build strings piece by piece. */
#ifndef DYNAMOFS_DYNBUF_H
#define DYNAMOFS_DYNBUF_H

#include <stddef.h>

/* Zero-initialise before use. The buffer owns p until dynbuf_take hands it
 * over; dynbuf_free releases it. Not thread-safe (one owner). */
struct dynbuf {
	char *p;
	size_t len;
	size_t cap;
};

/* Appends len bytes of data (a NUL is kept after them). Returns 0 or
 * -ENOMEM (the buffer is unchanged then). */
int dynbuf_add(struct dynbuf *b, const void *data, size_t len);

/* Appends a C string / one byte. Returns 0 or -ENOMEM. */
int dynbuf_adds(struct dynbuf *b, const char *s);
int dynbuf_addc(struct dynbuf *b, char c);

/* Returns the bytes (caller frees with free()), an allocated "" when
 * nothing was added, NULL on -ENOMEM. The buffer is left empty. */
char *dynbuf_take(struct dynbuf *b);

/* Frees the bytes and empties the buffer; safe on a zeroed one. */
void dynbuf_free(struct dynbuf *b);

#endif
