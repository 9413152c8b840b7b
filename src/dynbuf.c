/* dynbuf.c - a growable NUL-terminated byte buffer (after curl's dynbuf),
 * shared by the modules that build strings piece by piece. */
#include "dynbuf.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int dynbuf_add(struct dynbuf *b, const void *data, size_t len)
{
	if (len >= SIZE_MAX - b->len)
		return -ENOMEM;
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		char *p;

		while (cap < b->len + len + 1) {
			if (cap > SIZE_MAX / 2)
				return -ENOMEM;
			cap *= 2;
		}
		p = realloc(b->p, cap);
		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	b->p[b->len] = '\0';
	return 0;
}

int dynbuf_adds(struct dynbuf *b, const char *s)
{
	return dynbuf_add(b, s, strlen(s));
}

int dynbuf_addc(struct dynbuf *b, char c)
{
	return dynbuf_add(b, &c, 1);
}

char *dynbuf_take(struct dynbuf *b)
{
	char *p;

	if (!b->p && dynbuf_add(b, "", 0))
		return NULL;
	p = b->p;
	memset(b, 0, sizeof(*b));
	return p;
}

void dynbuf_free(struct dynbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}
