/* jsontext.h - a strict JSON reader (RFC 8259) that keeps numbers as their
 * text and every value's place, so the codec can check DynamoDB's numbers
 * digit for digit and say where a file is wrong (line and column). */
#ifndef DYNAMOFS_JSONTEXT_H
#define DYNAMOFS_JSONTEXT_H

#include <stddef.h>

/* Pure module: no I/O, no globals; thread-safe on separate readers.
 *
 * Strict: valid UTF-8 only, no lone surrogate escapes, no duplicate keys in
 * an object (the first repeat is the error, by decoded bytes), no trailing
 * commas, no leading zeros, nothing but the four JSON whitespace bytes
 * between tokens. Numbers are the JSON grammar, plus NaN, Infinity and
 * -Infinity as Python's json module writes them, read as number tokens so
 * that a caller's number check can name where they stand. Strings may hold
 * NUL bytes (use the lengths). */

/* Past this many nested containers the reader stops, before the stack
 * could: a DynamoDB JSON file of 32 levels is about 66 deep, so any real
 * item fits and the codec's nicer "32 levels" error names the attribute. */
#define JSONTEXT_DEPTH_MAX 128

#define JSONTEXT_MSG_LEN 256

enum jsontext_type {
	JSONTEXT_NULL,
	JSONTEXT_TRUE,
	JSONTEXT_FALSE,
	JSONTEXT_NUMBER,
	JSONTEXT_STRING,
	JSONTEXT_ARRAY,
	JSONTEXT_OBJECT,
};

struct jsontext_key {
	char *s; /* decoded bytes, NUL-terminated (may hold NUL bytes) */
	size_t n;
	size_t off; /* byte offset of the key's '"' in the text */
};

/* One value. Owned by its parent; the root is freed with jsontext_free. */
struct jsontext_node {
	enum jsontext_type t;
	size_t off; /* byte offset of the value in the text */
	char *s;    /* NUMBER: the token's text; STRING: the decoded bytes;
		       NUL-terminated */
	size_t n;
	struct jsontext_node **kids; /* ARRAY, OBJECT: cnt members */
	struct jsontext_key *keys;   /* OBJECT: parallel to kids */
	size_t cnt, cap;
};

/* What went wrong and where: line and column are 1-based, the column
 * counting characters (UTF-8 sequences; a tab is one), as Python's json
 * module does. message is one line, cut with "..." at its size. */
struct jsontext_error {
	unsigned line;
	unsigned column;
	char message[JSONTEXT_MSG_LEN];
};

/* A reader over len bytes of text (need not be NUL-terminated). pos is the
 * byte the next read starts at; a caller may look at p[pos] to decide what
 * it wants next. err may be NULL. */
struct jsontext_reader {
	const char *p;
	size_t len;
	size_t pos;
	size_t base; /* where the text starts (after a UTF-8 BOM) */
	struct jsontext_error *err;
};

/* Starts a reader at the beginning of text, after a UTF-8 byte order mark
 * if there is one (lines and columns count from after it). */
void jsontext_init(struct jsontext_reader *rd, const char *text, size_t len,
		   struct jsontext_error *err);

/* Moves pos past JSON whitespace (space, tab, CR, LF). */
void jsontext_skip_ws(struct jsontext_reader *rd);

/* Reads the one value at pos (whitespace already skipped) and moves pos
 * past it. Returns 0 and sets *out (caller frees with jsontext_free);
 * -EINVAL with rd->err filled at the first error; -ENOMEM. *out is NULL on
 * error. */
int jsontext_read_value(struct jsontext_reader *rd, struct jsontext_node **out);

/* Frees a value and everything in it; NULL is fine. */
void jsontext_free(struct jsontext_node *j);

/* Records an error at byte offset off: fills rd->err (when not NULL) with
 * its line, column and the formatted message. Returns -EINVAL, so callers
 * can `return jsontext_fail(...)`. */
__attribute__((format(printf, 3, 4))) int
jsontext_fail(struct jsontext_reader *rd, size_t off, const char *fmt, ...);

/* Line and column (1-based, characters) of byte offset off. */
void jsontext_where(const struct jsontext_reader *rd, size_t off,
		    unsigned *line, unsigned *col);

/* What stands at pos, for a message: "'x'" for a printable ASCII byte,
 * "byte 0xFF" for others, "end of text". Returns tmp (size bytes, at least
 * 12) or a static string. */
const char *jsontext_what(const struct jsontext_reader *rd, char *tmp,
			  size_t size);

/* "null", "true", "false", "a number", "a string", "an array", "an
 * object": static text. */
const char *jsontext_type_name(enum jsontext_type t);

/* Copies n bytes of s into dst (size >= 4 bytes, NUL-terminated) for a
 * message: cut with "..." at a UTF-8 character boundary when it does not
 * fit, control characters and DEL shown as \u00XX so a message stays one
 * line. */
void jsontext_show(char *dst, size_t size, const char *s, size_t n);

#endif
