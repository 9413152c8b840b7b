/* jsontext.c - a strict JSON reader (RFC 8259) that keeps numbers as text
 * and every value's place, for the codec's checks and its line and column
 * messages. No I/O, no globals. */
#include "jsontext.h"
#include "ddbvalue.h"
#include "dynbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jsontext_show(char *dst, size_t size, const char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char tmp[8];
		size_t tl = 1;

		if (c < 0x20 || c == 0x7f) {
			snprintf(tmp, sizeof(tmp), "\\u%04x", c);
			tl = 6;
		} else {
			tmp[0] = (char)c;
		}
		if (o + tl + 4 > size) {
			/* drop a character cut in the middle */
			if ((c & 0xc0) == 0x80) {
				while (o > 0 && ((unsigned char)dst[o - 1] &
						 0xc0) == 0x80)
					o--;
				if (o > 0)
					o--;
			}
			memcpy(dst + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(dst + o, tmp, tl);
		o += tl;
	}
	dst[o] = '\0';
}

const char *jsontext_type_name(enum jsontext_type t)
{
	static const char *const names[] = {"null",	"true",	    "false",
					    "a number", "a string", "an array",
					    "an object"};

	return names[t];
}

void jsontext_init(struct jsontext_reader *rd, const char *text, size_t len,
		   struct jsontext_error *err)
{
	memset(rd, 0, sizeof(*rd));
	rd->p = text;
	rd->len = len;
	rd->err = err;
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		rd->pos = rd->base = 3;
}

void jsontext_free(struct jsontext_node *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->cnt; i++) {
		jsontext_free(j->kids[i]);
		if (j->keys)
			free(j->keys[i].s);
	}
	free(j->kids);
	free(j->keys);
	free(j->s);
	free(j);
}

/* Fills line and column (1-based, characters) of byte offset off. */
void jsontext_where(const struct jsontext_reader *rd, size_t off,
		    unsigned *line, unsigned *col)
{
	unsigned l = 1, c = 1;

	for (size_t i = rd->base; i < off && i < rd->len; i++) {
		unsigned char ch = (unsigned char)rd->p[i];

		if (ch == '\n') {
			l++;
			c = 1;
		} else if ((ch & 0xc0) != 0x80) {
			c++;
		}
	}
	*line = l;
	*col = c;
}

int jsontext_fail(struct jsontext_reader *rd, size_t off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!rd->err)
		return -EINVAL;
	jsontext_where(rd, off, &rd->err->line, &rd->err->column);
	va_start(ap, fmt);
	n = vsnprintf(rd->err->message, sizeof(rd->err->message), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(rd->err->message))
		memcpy(rd->err->message + sizeof(rd->err->message) - 4, "...",
		       4);
	return -EINVAL;
}

void jsontext_skip_ws(struct jsontext_reader *rd)
{
	while (rd->pos < rd->len) {
		char c = rd->p[rd->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		rd->pos++;
	}
}

/* "unexpected 'x'" or "unexpected end of text" for the byte at pos. */
const char *jsontext_what(const struct jsontext_reader *rd, char *tmp,
			  size_t size)
{
	unsigned char c;

	if (rd->pos >= rd->len)
		return "end of text";
	c = (unsigned char)rd->p[rd->pos];
	if (c > 0x20 && c < 0x7f)
		snprintf(tmp, size, "'%c'", c);
	else
		snprintf(tmp, size, "byte 0x%02X", c);
	return tmp;
}

static int rd_value(struct jsontext_reader *rd, int depth,
		    struct jsontext_node **out);

static struct jsontext_node *jnode_new(enum jsontext_type t, size_t off)
{
	struct jsontext_node *j = calloc(1, sizeof(*j));

	if (j) {
		j->t = t;
		j->off = off;
	}
	return j;
}

static int jnode_push(struct jsontext_node *j, struct jsontext_node *kid,
		      struct jsontext_key *key)
{
	if (j->cnt == j->cap) {
		size_t cap = j->cap ? j->cap * 2 : 8;
		struct jsontext_node **kids =
		    realloc(j->kids, cap * sizeof(*kids));

		if (!kids)
			return -ENOMEM;
		j->kids = kids;
		if (key) {
			struct jsontext_key *keys =
			    realloc(j->keys, cap * sizeof(*keys));

			if (!keys)
				return -ENOMEM;
			j->keys = keys;
		}
		j->cap = cap;
	}
	j->kids[j->cnt] = kid;
	if (key)
		j->keys[j->cnt] = *key;
	j->cnt++;
	return 0;
}

static int hex4(const char *s, size_t n, uint32_t *v)
{
	*v = 0;
	if (n < 4)
		return -1;
	for (int i = 0; i < 4; i++) {
		char c = s[i];
		int d;

		if (c >= '0' && c <= '9')
			d = c - '0';
		else if (c >= 'a' && c <= 'f')
			d = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			d = c - 'A' + 10;
		else
			return -1;
		*v = *v << 4 | (uint32_t)d;
	}
	return 0;
}

static size_t utf8_put(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Reads the string at pos (on its '"'). *s is NUL-terminated, may hold
 * NUL bytes; caller frees. The decoded text is never longer than the
 * escaped one, so one allocation of the remaining length would do, but
 * that is quadratic over many strings: grow instead. */
static int rd_string(struct jsontext_reader *rd, char **s, size_t *n)
{
	struct dynbuf b = {0};
	const unsigned char *p = (const unsigned char *)rd->p;
	int rc = 0;

	rd->pos++;
	for (;;) {
		size_t run = rd->pos, l;
		unsigned char c;

		while (rd->pos < rd->len && p[rd->pos] >= 0x20 &&
		       p[rd->pos] < 0x80 && p[rd->pos] != '"' &&
		       p[rd->pos] != '\\')
			rd->pos++;
		rc = dynbuf_add(&b, rd->p + run, rd->pos - run);
		if (rc)
			goto out;
		if (rd->pos >= rd->len) {
			rc = jsontext_fail(
			    rd, rd->pos, "unterminated string (missing '\"')");
			goto out;
		}
		c = p[rd->pos];
		if (c == '"') {
			rd->pos++;
			break;
		}
		if (c == '\n') {
			rc = jsontext_fail(
			    rd, rd->pos,
			    "unterminated string (a line break "
			    "inside a string must be written \\n)");
			goto out;
		}
		if (c < 0x20) {
			rc = jsontext_fail(
			    rd, rd->pos,
			    "control character U+%04X in a string "
			    "(write it as \\u%04x)",
			    c, c);
			goto out;
		}
		if (c >= 0x80) {
			l = ddbvalue_utf8_char_len(p + rd->pos,
						   rd->len - rd->pos);
			if (l == 0) {
				rc = jsontext_fail(
				    rd, rd->pos, "invalid UTF-8 (byte 0x%02X)",
				    c);
				goto out;
			}
			rc = dynbuf_add(&b, rd->p + rd->pos, l);
			if (rc)
				goto out;
			rd->pos += l;
			continue;
		}
		/* a backslash */
		if (rd->pos + 1 >= rd->len) {
			rc = jsontext_fail(rd, rd->pos, "unterminated string");
			goto out;
		}
		c = p[rd->pos + 1];
		if (c == 'u') {
			uint32_t cp, lo;
			char utf[4];
			size_t at = rd->pos;

			if (hex4(rd->p + at + 2, rd->len - at - 2, &cp) != 0) {
				rc = jsontext_fail(
				    rd, at,
				    "invalid \\u escape (needs 4 hex "
				    "digits)");
				goto out;
			}
			rd->pos += 6;
			if (cp >= 0xdc00 && cp <= 0xdfff) {
				rc = jsontext_fail(
				    rd, at,
				    "lone surrogate \\u%04X (a low "
				    "surrogate without a high one)",
				    cp);
				goto out;
			}
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (rd->pos + 1 >= rd->len ||
				    rd->p[rd->pos] != '\\' ||
				    rd->p[rd->pos + 1] != 'u' ||
				    hex4(rd->p + rd->pos + 2,
					 rd->len - rd->pos - 2, &lo) != 0 ||
				    lo < 0xdc00 || lo > 0xdfff) {
					rc = jsontext_fail(
					    rd, at,
					    "lone surrogate \\u%04X (a "
					    "high surrogate must be "
					    "followed by a low one)",
					    cp);
					goto out;
				}
				rd->pos += 6;
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
			}
			rc = dynbuf_add(&b, utf, utf8_put(utf, cp));
			if (rc)
				goto out;
			continue;
		}
		switch (c) {
		case '"':
		case '\\':
		case '/':
			break;
		case 'b':
			c = '\b';
			break;
		case 'f':
			c = '\f';
			break;
		case 'n':
			c = '\n';
			break;
		case 'r':
			c = '\r';
			break;
		case 't':
			c = '\t';
			break;
		default:
			rc = jsontext_fail(rd, rd->pos, "invalid escape '\\%c'",
					   c >= 0x20 && c < 0x7f ? c : '?');
			goto out;
		}
		rc = dynbuf_add(&b, &c, 1);
		if (rc)
			goto out;
		rd->pos += 2;
	}
	*n = b.len;
	*s = dynbuf_take(&b);
	if (!*s)
		rc = -ENOMEM;
out:
	dynbuf_free(&b);
	return rc;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Scans the JSON number grammar from *end, moving *end past it. */
static int rd_number_scan(struct jsontext_reader *rd, size_t *end)
{
	const char *p = rd->p;
	size_t i = *end;
	char tmp[16];

	if (p[i] == '-') {
		i++;
		if (i >= rd->len || !is_digit(p[i]))
			return jsontext_fail(rd, i,
					     "expected a digit after '-'");
	}
	if (!is_digit(p[i]))
		return jsontext_fail(rd, i, "expected a value, found %s",
				     jsontext_what(rd, tmp, sizeof(tmp)));
	if (p[i] == '0') {
		i++;
		if (i < rd->len && is_digit(p[i]))
			return jsontext_fail(
			    rd, i, "a number cannot have leading zeros");
	} else {
		while (i < rd->len && is_digit(p[i]))
			i++;
	}
	if (i < rd->len && p[i] == '.') {
		i++;
		if (i >= rd->len || !is_digit(p[i]))
			return jsontext_fail(rd, i,
					     "expected a digit after '.'");
		while (i < rd->len && is_digit(p[i]))
			i++;
	}
	if (i < rd->len && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < rd->len && (p[i] == '+' || p[i] == '-'))
			i++;
		if (i >= rd->len || !is_digit(p[i]))
			return jsontext_fail(
			    rd, i, "expected a digit in the exponent");
		while (i < rd->len && is_digit(p[i]))
			i++;
	}
	*end = i;
	return 0;
}

/* A JSON number token, kept as text. NaN and (-)Infinity, which Python's
 * json writes, are taken as number tokens here so that the error about
 * them names the attribute; the number check refuses them. */
static int rd_number(struct jsontext_reader *rd, struct jsontext_node *j)
{
	static const char *const words[] = {"NaN", "Infinity", "-Infinity"};
	size_t start = rd->pos, end = rd->pos;
	int rc = -EAGAIN;

	for (size_t w = 0; w < 3 && rc; w++) {
		size_t l = strlen(words[w]);

		if (rd->len - start >= l &&
		    memcmp(rd->p + start, words[w], l) == 0) {
			end = start + l;
			rc = 0;
		}
	}
	if (rc)
		rc = rd_number_scan(rd, &end);
	if (rc)
		return rc;
	j->s = strndup(rd->p + start, end - start);
	if (!j->s)
		return -ENOMEM;
	j->n = end - start;
	rd->pos = end;
	return 0;
}

/* A key of an object being checked for repeats, with its place there. */
struct dup {
	const struct jsontext_key *k;
	size_t index;
};

static int key_cmp(const struct jsontext_key *a, const struct jsontext_key *b)
{
	int c = memcmp(a->s, b->s, a->n < b->n ? a->n : b->n);

	if (c)
		return c;
	return a->n < b->n ? -1 : (a->n > b->n ? 1 : 0);
}

/* By bytes, then by place, so the first of equal keys comes first. */
static int dup_cmp(const void *pa, const void *pb)
{
	const struct dup *a = pa, *b = pb;
	int c = key_cmp(a->k, b->k);

	if (c)
		return c;
	return a->index < b->index ? -1 : (a->index > b->index ? 1 : 0);
}

/* Refuses an object with a key twice, at the first repeat in the text. */
static int rd_dups(struct jsontext_reader *rd, const struct jsontext_node *j)
{
	struct dup *m;
	size_t best = SIZE_MAX, orig = 0;
	char shown[80];
	int rc = 0;

	if (j->cnt < 2)
		return 0;
	m = calloc(j->cnt, sizeof(*m));
	if (!m)
		return -ENOMEM;
	for (size_t i = 0; i < j->cnt; i++) {
		m[i].k = &j->keys[i];
		m[i].index = i;
	}
	qsort(m, j->cnt, sizeof(*m), dup_cmp);
	for (size_t i = 1, run = 0; i < j->cnt; i++) {
		if (key_cmp(m[i].k, m[i - 1].k) != 0) {
			run = i;
			continue;
		}
		if (m[i].index < best) {
			best = m[i].index;
			orig = m[run].index;
		}
	}
	if (best != SIZE_MAX) {
		unsigned l, c;

		jsontext_where(rd, j->keys[orig].off, &l, &c);
		jsontext_show(shown, sizeof(shown), j->keys[best].s,
			      j->keys[best].n);
		rc = jsontext_fail(rd, j->keys[best].off,
				   "duplicate key \"%s\" (first at line %u, "
				   "column %u)",
				   shown, l, c);
	}
	free(m);
	return rc;
}

static int rd_object(struct jsontext_reader *rd, int depth,
		     struct jsontext_node *j)
{
	char tmp[16];
	int rc;

	rd->pos++;
	jsontext_skip_ws(rd);
	if (rd->pos < rd->len && rd->p[rd->pos] == '}') {
		rd->pos++;
		return 0;
	}
	for (;;) {
		struct jsontext_key key = {.off = rd->pos};
		struct jsontext_node *kid = NULL;

		if (rd->pos >= rd->len || rd->p[rd->pos] != '"') {
			if (rd->pos < rd->len && rd->p[rd->pos] == '}')
				return jsontext_fail(
				    rd, rd->pos, "trailing comma before '}'");
			return jsontext_fail(
			    rd, rd->pos,
			    "expected a key in double quotes, "
			    "found %s",
			    jsontext_what(rd, tmp, sizeof(tmp)));
		}
		rc = rd_string(rd, &key.s, &key.n);
		if (rc)
			return rc;
		jsontext_skip_ws(rd);
		if (rd->pos >= rd->len || rd->p[rd->pos] != ':') {
			free(key.s);
			return jsontext_fail(
			    rd, rd->pos, "expected ':' after the key, found %s",
			    jsontext_what(rd, tmp, sizeof(tmp)));
		}
		rd->pos++;
		jsontext_skip_ws(rd);
		rc = rd_value(rd, depth + 1, &kid);
		if (rc == 0)
			rc = jnode_push(j, kid, &key);
		if (rc) {
			jsontext_free(kid);
			free(key.s);
			return rc;
		}
		jsontext_skip_ws(rd);
		if (rd->pos < rd->len && rd->p[rd->pos] == ',') {
			rd->pos++;
			jsontext_skip_ws(rd);
			continue;
		}
		if (rd->pos < rd->len && rd->p[rd->pos] == '}') {
			rd->pos++;
			break;
		}
		return jsontext_fail(rd, rd->pos,
				     "expected ',' or '}', found %s",
				     jsontext_what(rd, tmp, sizeof(tmp)));
	}
	return rd_dups(rd, j);
}

static int rd_array(struct jsontext_reader *rd, int depth,
		    struct jsontext_node *j)
{
	char tmp[16];
	int rc;

	rd->pos++;
	jsontext_skip_ws(rd);
	if (rd->pos < rd->len && rd->p[rd->pos] == ']') {
		rd->pos++;
		return 0;
	}
	for (;;) {
		struct jsontext_node *kid = NULL;

		if (rd->pos < rd->len && rd->p[rd->pos] == ']')
			return jsontext_fail(rd, rd->pos,
					     "trailing comma before ']'");
		rc = rd_value(rd, depth + 1, &kid);
		if (rc == 0)
			rc = jnode_push(j, kid, NULL);
		if (rc) {
			jsontext_free(kid);
			return rc;
		}
		jsontext_skip_ws(rd);
		if (rd->pos < rd->len && rd->p[rd->pos] == ',') {
			rd->pos++;
			jsontext_skip_ws(rd);
			continue;
		}
		if (rd->pos < rd->len && rd->p[rd->pos] == ']') {
			rd->pos++;
			return 0;
		}
		return jsontext_fail(rd, rd->pos,
				     "expected ',' or ']', found %s",
				     jsontext_what(rd, tmp, sizeof(tmp)));
	}
}

static int rd_literal(struct jsontext_reader *rd, const char *word)
{
	size_t l = strlen(word);

	if (rd->len - rd->pos < l || memcmp(rd->p + rd->pos, word, l) != 0)
		return jsontext_fail(rd, rd->pos,
				     "invalid literal, expected %s", word);
	rd->pos += l;
	return 0;
}

/* Reads the value at pos (whitespace already skipped). *out caller frees
 * with jnode_free. */
static int rd_value(struct jsontext_reader *rd, int depth,
		    struct jsontext_node **out)
{
	struct jsontext_node *j = NULL;
	char tmp[16];
	char c;
	int rc = 0;

	*out = NULL;
	if (rd->pos >= rd->len)
		return jsontext_fail(
		    rd, rd->pos, "unexpected end of text, expected a value");
	if (depth > JSONTEXT_DEPTH_MAX)
		return jsontext_fail(rd, rd->pos,
				     "JSON nested deeper than %d levels",
				     JSONTEXT_DEPTH_MAX);
	c = rd->p[rd->pos];
	j = jnode_new(JSONTEXT_NULL, rd->pos);
	if (!j)
		return -ENOMEM;
	switch (c) {
	case '{':
		j->t = JSONTEXT_OBJECT;
		rc = rd_object(rd, depth, j);
		break;
	case '[':
		j->t = JSONTEXT_ARRAY;
		rc = rd_array(rd, depth, j);
		break;
	case '"':
		j->t = JSONTEXT_STRING;
		rc = rd_string(rd, &j->s, &j->n);
		break;
	case 't':
		j->t = JSONTEXT_TRUE;
		rc = rd_literal(rd, "true");
		break;
	case 'f':
		j->t = JSONTEXT_FALSE;
		rc = rd_literal(rd, "false");
		break;
	case 'n':
		j->t = JSONTEXT_NULL;
		rc = rd_literal(rd, "null");
		break;
	default:
		if (c == '-' || is_digit(c) || c == 'N' || c == 'I') {
			j->t = JSONTEXT_NUMBER;
			rc = rd_number(rd, j);
			break;
		}
		rc = jsontext_fail(rd, rd->pos, "expected a value, found %s",
				   jsontext_what(rd, tmp, sizeof(tmp)));
		break;
	}
	if (rc) {
		jsontext_free(j);
		return rc;
	}
	*out = j;
	return 0;
}

int jsontext_read_value(struct jsontext_reader *rd, struct jsontext_node **out)
{
	return rd_value(rd, 1, out);
}
