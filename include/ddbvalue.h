/* ddbvalue.h - DynamoDB's value rules, written once: numbers (grammar,
 * limits, canonical text, order, size), strict base64 in both alphabets,
 * UTF-8, key lengths and key-schema types. The codec (file checks) and the
 * key names both use it, so a file never passes with a value the server
 * refuses. Pure: no I/O, no globals; every function is thread-safe. */
#ifndef DYNAMOFS_DDBVALUE_H
#define DYNAMOFS_DDBVALUE_H

#include <stdbool.h>
#include <stddef.h>

#include "dynbuf.h"

/* DynamoDB's number limits: 38 significant digits, magnitude 1E-130 to
 * 9.99...E+125, i.e. the leading digit's power of ten within [-130, 125]. */
#define DDBVALUE_DIGITS_MAX 38
#define DDBVALUE_POW10_MIN  (-130)
#define DDBVALUE_POW10_MAX  125

/* Key values, bytes (S: UTF-8 bytes, B: raw bytes); never empty. */
#define DDBVALUE_HASH_KEY_MAX  2048
#define DDBVALUE_RANGE_KEY_MAX 1024

/* ---- Numbers ---- */

/* Why a text is not a number DynamoDB holds (ddbvalue_number_parse). */
enum ddbvalue_number_fault {
	DDBVALUE_NUMBER_OK = 0,
	DDBVALUE_NUMBER_SYNTAX, /* not the grammar, or exponent/scale beyond
				   a Java int */
	DDBVALUE_NUMBER_DIGITS, /* more than 38 significant digits */
	DDBVALUE_NUMBER_SMALL,	/* non-zero magnitude under 1E-130 */
	DDBVALUE_NUMBER_LARGE,	/* magnitude over 9.99..9E+125 */
};

/* A number text taken apart; the pointers point into the text. */
struct ddbvalue_number {
	bool neg;	 /* written with '-' (a zero too: "-0") */
	bool zero;	 /* every mantissa digit is 0 */
	const char *ip;	 /* integer digits */
	size_t il;	 /* their count, may be 0 (".5") */
	bool dot;	 /* a '.' was written */
	const char *fp;	 /* fraction digits, after the '.' */
	size_t fl;	 /* their count, may be 0 ("5.") */
	const char *ep;	 /* the exponent part from 'e'/'E', or NULL */
	size_t el;	 /* its length */
	long long exp;	 /* its value (within a Java int) */
	size_t first;	 /* index of the first non-zero digit in ip then fp */
	size_t nd;	 /* significant digits, 0 for zero */
	long long pow10; /* power of ten of the first significant digit */
};

/* THE number grammar of dynamofs. DynamoDB Local parses with Java's
 * BigDecimal(String): [+-]? (D+ | D+ '.' D* | '.' D+) ([eE] [+-]? D+)?,
 * ASCII digits only, the exponent (leading zeros aside, at most 10 digits)
 * and the scale (fraction digits minus exponent) each inside a Java int.
 * Then, unless zero: at most 38 significant digits and the leading digit's
 * power of ten within -130..125. A zero takes any exponent inside those int
 * limits ("0e-2147483647" is 0, "0e99999999999" and "0.0e-2147483647" are
 * refused), exactly as DynamoDB Local 2.x does (checked with boto3);
 * dynalite takes a zero with any exponent. DynamoDB Local also takes
 * non-ASCII digits ("\u0661" is 1), which this grammar refuses.
 * Fills *x when the grammar matched (whatever the limits say; else *x is
 * unspecified) and *fault (may be NULL). Returns 0 when DynamoDB takes
 * the number, -EINVAL otherwise. */
int ddbvalue_number_parse(const char *text, size_t len,
			  struct ddbvalue_number *x,
			  enum ddbvalue_number_fault *fault);

/* Digit k of x's il + fl mantissa digits, counting across the '.'. */
char ddbvalue_number_digit(const struct ddbvalue_number *x, size_t k);

/* Compares two parsed numbers by exact decimal value (never through
 * double; "-0" equals "0", "1.0" equals "1"): <0, 0 or >0. */
int ddbvalue_number_compare(const struct ddbvalue_number *a,
			    const struct ddbvalue_number *b);

/* DynamoDB's storage size of a number, as DynamoDB Local 1.25.1 counts it:
 * 1 for zero, else 1 + ceil(nd / 2) + 1 if nd is even and pow10 is even
 * (base-100 digit pairs straddle the point) + 1 if negative. */
size_t ddbvalue_number_size(const struct ddbvalue_number *x);

/* Appends to out the text DynamoDB Local returns for the number text
 * ("007.500", "1E+2", "-0", "+5" give "7.5", "100", "0", "5"): plain
 * notation (never an exponent), no leading zeros, no trailing fraction
 * zeros and no trailing '.', '-' only for non-zero values. Checked against
 * DynamoDB Local 1.25.1 (2,000 random inputs, no difference); dynalite
 * returns the same text for what it accepts but rejects a '+' sign.
 * Returns 0; -EINVAL when ddbvalue_number_parse refuses the text (out
 * untouched); -ENOMEM (out may hold part of the text). */
int ddbvalue_number_canonical(const char *text, size_t len, struct dynbuf *out);

/* 1 when the len bytes at text are already ddbvalue_number_canonical's
 * output, 0 when not, -ENOMEM (so that a lack of memory is never taken for
 * a "no"). */
int ddbvalue_number_is_canonical(const char *text, size_t len);

/* ---- Base64 ---- */

/* Appends the base64 of len bytes to out: url=false the standard alphabet
 * with '=' padding (the DynamoDB wire, SPEC §4), url=true base64url without
 * padding (key names, SPEC §3). Returns 0 or -ENOMEM. */
int ddbvalue_base64_encode(const void *data, size_t len, bool url,
			   struct dynbuf *out);

/* Strict decode of len characters of base64 in the one form
 * ddbvalue_base64_encode makes: url=false, length a multiple of 4 with '='
 * only as the last one or two characters; url=true, no padding and length
 * % 4 != 1; either way the unused low bits zero, so each byte string has
 * exactly one text. Appends the bytes to out (NULL: check only) and sets
 * *out_len (may be NULL) to their count. Returns 0, -EINVAL for anything
 * else, -ENOMEM; on an error out may hold some of the bytes (the caller
 * drops them). */
int ddbvalue_base64_decode(const char *text, size_t len, bool url,
			   struct dynbuf *out, size_t *out_len);

/* ---- UTF-8 ---- */

/* Length of the valid UTF-8 character at p (n > 0 bytes left; RFC 3629: no
 * overlong forms, no surrogates, nothing above U+10FFFF), or 0 when none
 * starts there. */
size_t ddbvalue_utf8_char_len(const void *p, size_t n);

/* True when the len bytes at p are all valid UTF-8 (DynamoDB's S). */
bool ddbvalue_utf8_valid(const void *p, size_t len);

/* ---- Keys ---- */

/* The type of a key attribute in a key schema is its letter: 'S', 'N' or
 * 'B' (AttributeType in DescribeTable, the ":T" of a mkdir spec). True for
 * those three. */
bool ddbvalue_key_type_valid(char type);

/* Reads a key-schema type written as exactly "S", "N" or "B" (len bytes).
 * Returns 0 and sets *type to the letter, or -EINVAL. */
int ddbvalue_key_type_parse(const char *text, size_t len, char *type);

/* "a string (S)", "a number (N)", "a binary (B)", else "another type";
 * static text. */
const char *ddbvalue_key_type_words(char type);

/* The longest key value in bytes: 1024 for a sort key (range), else 2048. */
size_t ddbvalue_key_max(bool range);

#endif
