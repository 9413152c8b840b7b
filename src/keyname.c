/* keyname.c - the exact mapping between DynamoDB key values and file names
 * (percent-encoding, base64url, shortened names), canonical number text, and
 * parsing of table names and mkdir key specs. No I/O, no globals. */
#include "keyname.h"
#include "dynbuf.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

/* Java's BigDecimal keeps the exponent and the scale in an int. */
#define JAVA_INT_MIN (-2147483647LL - 1)
#define JAVA_INT_MAX 2147483647LL

/* DynamoDB's number limits: 38 significant digits, magnitude 1E-130 to
 * 9.99...E+125, i.e. the leading digit's power of ten within [-130, 125]. */
#define NUM_DIGITS_MAX 38
#define NUM_POW_MIN    (-130)
#define NUM_POW_MAX    125

#define SUFFIX_LEN (sizeof(KEYNAME_SUFFIX) - 1)
/* '~' and the hash that end every shortened encoding. */
#define SHORT_TAIL_LEN (1 + KEYNAME_HASH_LEN)
/* The cut backs off at most 3 bytes (a 4-byte UTF-8 character). */
#define PREFIX_MIN (KEYNAME_PREFIX_MAX - 3)

static char *memdup0(const void *data, size_t len)
{
	char *p = malloc(len + 1);

	if (!p)
		return NULL;
	if (len)
		memcpy(p, data, len);
	p[len] = '\0';
	return p;
}

void keyname_key_free(struct keyname_key *k)
{
	if (!k)
		return;
	free(k->value);
	memset(k, 0, sizeof(*k));
}

/* ---- UTF-8 ---- */

/* Length of the valid UTF-8 character at p (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF), or 0 when none starts there. */
static size_t utf8_char_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xBF;

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0; /* overlong */
		else if (c == 0xED)
			hi = 0x9F; /* surrogates */
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90; /* overlong */
		else if (c == 0xF4)
			hi = 0x8F; /* above U+10FFFF */
	} else {
		return 0;
	}
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return len;
}

static bool utf8_valid(const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len;) {
		size_t n = utf8_char_len(p + i, len - i);

		if (!n)
			return false;
		i += n;
	}
	return true;
}

/* ---- Numbers ---- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* The digit at index k of the mantissa's digits, the integer part's ni
 * digits at a followed by the fraction's at f. */
static char mant_digit(const char *a, size_t ni, const char *f, size_t k)
{
	return k < ni ? a[k] : f[k - ni];
}

int keyname_number_parse(const char *s, size_t n, struct keyname_number *x,
			 enum keyname_number_fault *fault)
{
	enum keyname_number_fault f = KEYNAME_NUMBER_SYNTAX;
	size_t i = 0, total, last = 0;
	bool eneg = false, over = false;

	memset(x, 0, sizeof(*x));
	if (i < n && (s[i] == '+' || s[i] == '-')) {
		x->neg = s[i] == '-';
		i++;
	}
	x->ip = s + i;
	while (i < n && is_digit(s[i]))
		i++;
	x->il = (size_t)(s + i - x->ip);
	x->fp = s + i;
	if (i < n && s[i] == '.') {
		x->dot = true;
		i++;
		x->fp = s + i;
		while (i < n && is_digit(s[i]))
			i++;
		x->fl = (size_t)(s + i - x->fp);
	}
	if (x->il + x->fl == 0)
		goto out;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t start;

		x->ep = s + i;
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-')) {
			eneg = s[i] == '-';
			i++;
		}
		start = i;
		while (i < n && is_digit(s[i]))
			i++;
		if (i == start)
			goto out;
		x->el = (size_t)(s + i - x->ep);
		while (start < i - 1 && s[start] == '0')
			start++;
		/* Java: more than 10 digits, or a value outside an int, is an
		 * error even for a zero mantissa ("0e99999999999"). */
		if (i - start > 10) {
			over = true;
		} else {
			for (size_t k = start; k < i; k++)
				x->exp = x->exp * 10 + (s[k] - '0');
			if (eneg)
				x->exp = -x->exp;
			over = x->exp < JAVA_INT_MIN || x->exp > JAVA_INT_MAX;
		}
	}
	if (i != n)
		goto out;
	/* Java's scale (fraction digits minus exponent) must be an int too:
	 * DynamoDB Local rejects "0.0e-2147483647" but takes "0e-2147483647".
	 */
	if (!over && (x->fl > (size_t)JAVA_INT_MAX ||
		      (long long)x->fl - x->exp > JAVA_INT_MAX ||
		      (long long)x->fl - x->exp < JAVA_INT_MIN))
		over = true;
	if (over) /* beyond any limit: far out of range unless zero */
		x->exp = eneg ? -(1LL << 40) : 1LL << 40;

	total = x->il + x->fl;
	x->zero = true;
	for (size_t k = 0; k < total; k++) {
		if (mant_digit(x->ip, x->il, x->fp, k) == '0')
			continue;
		if (x->zero)
			x->first = k;
		x->zero = false;
		last = k;
	}
	/* A zero past Java's limits is a syntax error to DynamoDB Local; any
	 * other number there is simply out of range. */
	if (over && x->zero)
		goto out;
	f = KEYNAME_NUMBER_OK;
	if (x->zero)
		goto out;
	x->nd = last - x->first + 1;
	x->pow10 = (long long)x->il - 1 - (long long)x->first + x->exp;
	if (x->nd > NUM_DIGITS_MAX)
		f = KEYNAME_NUMBER_DIGITS;
	else if (x->pow10 < NUM_POW_MIN)
		f = KEYNAME_NUMBER_SMALL;
	else if (x->pow10 > NUM_POW_MAX)
		f = KEYNAME_NUMBER_LARGE;
out:
	if (fault)
		*fault = f;
	return f == KEYNAME_NUMBER_OK ? 0 : -EINVAL;
}

/* Appends the canonical text of the n bytes at s to out (see
 * keyname_number_canonical). */
static int number_canon(const char *s, size_t n, struct dynbuf *out)
{
	struct keyname_number x;
	long long pow_lo;
	int rc;

	rc = keyname_number_parse(s, n, &x, NULL);
	if (rc)
		return rc;
	if (x.zero)
		return dynbuf_addc(out, '0'); /* zero has no sign */
	/* Power of ten of the last significant digit. */
	pow_lo = x.pow10 - (long long)x.nd + 1;
	rc = x.neg ? dynbuf_addc(out, '-') : 0;
	if (!rc && x.pow10 < 0) {
		rc = dynbuf_add(out, "0.", 2);
		for (long long p = -1; !rc && p > x.pow10; p--)
			rc = dynbuf_addc(out, '0');
	}
	for (long long p = x.pow10; !rc && p >= pow_lo; p--) {
		if (p == -1 && x.pow10 >= 0)
			rc = dynbuf_addc(out, '.');
		if (!rc)
			rc = dynbuf_addc(out, mant_digit(x.ip, x.il, x.fp,
							 (size_t)(x.pow10 - p) +
							     x.first));
	}
	for (long long p = pow_lo; !rc && p > 0; p--)
		rc = dynbuf_addc(out, '0');
	return rc;
}

int keyname_number_canonical(const char *text, char **out)
{
	struct dynbuf b = {0};
	int rc;

	if (!text || !out)
		return -EINVAL;
	rc = number_canon(text, strlen(text), &b);
	if (rc)
		goto out;
	*out = dynbuf_take(&b);
	if (!*out)
		rc = -ENOMEM;
out:
	dynbuf_free(&b);
	return rc;
}

/* 1 when the n bytes at s are a number's canonical text, 0 when not,
 * -ENOMEM (so that a lack of memory never turns a key into a scratch file). */
static int number_is_canon(const char *s, size_t n)
{
	struct dynbuf b = {0};
	int rc;

	rc = number_canon(s, n, &b);
	if (rc == -EINVAL)
		rc = 0;
	else if (!rc)
		rc = b.len == n && !memcmp(b.p, s, n);
	dynbuf_free(&b);
	return rc;
}

bool keyname_number_is_canonical(const char *text)
{
	return text && number_is_canon(text, strlen(text)) == 1;
}

/* ---- Base64 ---- */

static const char b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char b64_url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int b64_value(unsigned char c, bool url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

static int b64_append(struct dynbuf *b, const unsigned char *in, size_t len,
		      bool url)
{
	const char *abc = url ? b64_url : b64_std;
	int rc = 0;

	for (size_t i = 0; !rc && i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		size_t left = len - i;
		char q[4];
		size_t nq = 4;

		if (left > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (left > 2)
			v |= in[i + 2];
		q[0] = abc[v >> 18 & 63];
		q[1] = abc[v >> 12 & 63];
		q[2] = left > 1 ? abc[v >> 6 & 63] : '=';
		q[3] = left > 2 ? abc[v & 63] : '=';
		if (url && left < 3)
			nq = left + 1; /* no padding */
		rc = dynbuf_add(b, q, nq);
	}
	return rc;
}

int keyname_base64_encode(const void *data, size_t len, bool url, char **out)
{
	struct dynbuf b = {0};
	int rc;

	if (!out || (len && !data))
		return -EINVAL;
	rc = b64_append(&b, data, len, url);
	if (rc)
		goto out;
	*out = dynbuf_take(&b);
	if (!*out)
		rc = -ENOMEM;
out:
	dynbuf_free(&b);
	return rc;
}

/* Decodes strictly into b (see keyname_base64_decode). */
static int b64_decode_buf(const char *s, size_t n, bool url, struct dynbuf *b)
{
	size_t body = n, tail;
	int rc = 0;

	if (!url) {
		if (n % 4)
			return -EINVAL;
		if (n && s[n - 1] == '=') {
			body--;
			if (s[n - 2] == '=')
				body--;
		}
	}
	tail = body % 4;
	if (tail == 1)
		return -EINVAL;
	for (size_t i = 0; !rc && i < body; i += 4) {
		size_t k = body - i < 4 ? body - i : 4;
		uint32_t v = 0;
		unsigned char out[3];

		for (size_t j = 0; j < 4; j++) {
			int d =
			    j < k ? b64_value((unsigned char)s[i + j], url) : 0;

			if (d < 0)
				return -EINVAL;
			v = v << 6 | (uint32_t)d;
		}
		out[0] = (unsigned char)(v >> 16);
		out[1] = (unsigned char)(v >> 8);
		out[2] = (unsigned char)v;
		/* One text per value: the bits past the last byte are 0. */
		if ((k == 2 && (v & 0xFFFF)) || (k == 3 && (v & 0xFF)))
			return -EINVAL;
		rc = dynbuf_add(b, out, k - 1);
	}
	return rc;
}

int keyname_base64_decode(const char *text, size_t len, bool url, char **out,
			  size_t *out_len)
{
	struct dynbuf b = {0};
	int rc;

	if (!out || !out_len || (len && !text))
		return -EINVAL;
	rc = b64_decode_buf(text, len, url, &b);
	if (rc)
		goto out;
	*out_len = b.len;
	*out = dynbuf_take(&b);
	if (!*out)
		rc = -ENOMEM;
out:
	dynbuf_free(&b);
	return rc;
}

/* ---- Names ---- */

static bool needs_escape(unsigned char c, bool first)
{
	return c == '%' || c == '/' || c < 0x20 || c == 0x7F ||
	       (first && c == '.');
}

static int add_escape(struct dynbuf *b, unsigned char c)
{
	static const char hex[] = "0123456789ABCDEF";
	char e[3] = {'%', hex[c >> 4], hex[c & 15]};

	return dynbuf_add(b, e, 3);
}

/* Appends the percent-encoding of len bytes: escapes as SPEC §3 says, plus
 * every byte that does not start a valid UTF-8 character (invalid bytes
 * cannot come from DynamoDB, but escaping them keeps the mapping exact and
 * the name valid UTF-8). */
static int pct_append(struct dynbuf *b, const unsigned char *v, size_t len)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < len;) {
		size_t n = utf8_char_len(v + i, len - i);

		if (n == 1 && needs_escape(v[i], i == 0))
			rc = add_escape(b, v[i]);
		else if (n == 0)
			rc = add_escape(b, v[i]);
		else
			rc = dynbuf_add(b, v + i, n);
		i += n ? n : 1;
	}
	return rc;
}

static int hex_upper_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes the escapes of the n bytes at s into b and checks the result
 * encodes back to exactly s, so every non-canonical form (needless escapes,
 * raw bytes that need one, invalid UTF-8, a leading '.') is -EINVAL. */
static int pct_decode_exact(const char *s, size_t n, struct dynbuf *b)
{
	struct dynbuf again = {0};
	int rc = 0;

	for (size_t i = 0; !rc && i < n;) {
		if (s[i] == '%') {
			int hi = i + 2 < n ? hex_upper_value(s[i + 1]) : -1;
			int lo = hi >= 0 ? hex_upper_value(s[i + 2]) : -1;

			if (lo < 0) {
				rc = -EINVAL;
				break;
			}
			rc = dynbuf_addc(b, (char)(hi << 4 | lo));
			i += 3;
		} else {
			rc = dynbuf_addc(b, s[i]);
			i++;
		}
	}
	if (rc)
		goto out;
	rc = pct_append(&again, (const unsigned char *)b->p, b->len);
	if (rc)
		goto out;
	if (again.len != n || memcmp(again.p, s, n))
		rc = -EINVAL;
out:
	dynbuf_free(&again);
	return rc;
}

static bool is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* 1 when the encoding e (n bytes) has the form of a shortened one for type:
 * a prefix as the cut makes it, '~', 16 lower-case hex digits; 0 when not;
 * -ENOMEM. Both the encoder (which then shortens such an encoding although it
 * fits) and the decoder use this one test, so no name is read both ways. */
static int looks_shortened(const char *e, size_t n, enum keyname_type type)
{
	size_t plen;
	int rc = 0;

	if (n < SHORT_TAIL_LEN + 1 || e[n - SHORT_TAIL_LEN] != '~')
		return 0;
	for (size_t i = n - KEYNAME_HASH_LEN; i < n; i++)
		if (!is_lower_hex(e[i]))
			return 0;
	plen = n - SHORT_TAIL_LEN;
	if (type == KEYNAME_B) {
		if (plen != KEYNAME_PREFIX_MAX)
			return 0;
		for (size_t i = 0; i < plen; i++)
			if (b64_value((unsigned char)e[i], true) < 0)
				return 0;
		return 1;
	}
	if (type == KEYNAME_S && plen >= PREFIX_MIN &&
	    plen <= KEYNAME_PREFIX_MAX) {
		struct dynbuf b = {0};

		rc = pct_decode_exact(e, plen, &b);
		rc = rc == -EINVAL ? 0 : rc ? rc : 1;
		dynbuf_free(&b);
	}
	/* N: a number's text is at most 170 bytes and holds no '~'. */
	return rc;
}

/* Bytes of the encoding e kept in a shortened name: up to 200, cut back to
 * the end of a whole unit (a %XX escape, an ASCII byte or a UTF-8
 * character), so the prefix is itself a valid encoding. */
static size_t short_cut(const char *e, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t u;

		if (e[i] == '%')
			u = 3;
		else
			u = utf8_char_len((const unsigned char *)e + i, n - i);
		if (!u)
			u = 1; /* not from pct_append; keep going bytewise */
		if (i + u > KEYNAME_PREFIX_MAX)
			break;
		i += u;
	}
	return i;
}

int keyname_short_hash(const char *encoding, size_t len,
		       char out[KEYNAME_HASH_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	/* OpenSSL 3 fetches the implementation, which allocates. */
	if (!EVP_Digest(encoding, len, md, &mdlen, EVP_sha256(), NULL))
		return -ENOMEM;
	for (size_t i = 0; i < KEYNAME_HASH_LEN / 2; i++) {
		out[2 * i] = hex[md[i] >> 4];
		out[2 * i + 1] = hex[md[i] & 15];
	}
	out[KEYNAME_HASH_LEN] = '\0';
	return 0;
}

static size_t kind_limit(enum keyname_kind kind)
{
	return kind == KEYNAME_RANGE_ITEM ? KEYNAME_RANGE_KEY_MAX
					  : KEYNAME_HASH_KEY_MAX;
}

static const char *kind_suffix(enum keyname_kind kind)
{
	return kind == KEYNAME_PARTITION ? "" : KEYNAME_SUFFIX;
}

static bool type_valid(enum keyname_type type)
{
	return type == KEYNAME_S || type == KEYNAME_N || type == KEYNAME_B;
}

static bool kind_valid(enum keyname_kind kind)
{
	return kind == KEYNAME_HASH_ITEM || kind == KEYNAME_PARTITION ||
	       kind == KEYNAME_RANGE_ITEM;
}

static int encoding_append(struct dynbuf *b, enum keyname_type type,
			   const void *value, size_t len)
{
	struct dynbuf num = {0};
	int rc;

	if (!len || !value || !type_valid(type))
		return -EINVAL;
	if (type == KEYNAME_B)
		return b64_append(b, value, len, true);
	if (type == KEYNAME_S)
		return pct_append(b, value, len);
	rc = number_canon(value, len, &num);
	if (!rc)
		rc = pct_append(b, (const unsigned char *)num.p, num.len);
	dynbuf_free(&num);
	return rc;
}

int keyname_encoding(enum keyname_type type, const void *value, size_t len,
		     char **out, size_t *out_len)
{
	struct dynbuf b = {0};
	int rc;

	if (!out)
		return -EINVAL;
	rc = encoding_append(&b, type, value, len);
	if (rc)
		goto out;
	if (out_len)
		*out_len = b.len;
	*out = dynbuf_take(&b);
	if (!*out)
		rc = -ENOMEM;
out:
	dynbuf_free(&b);
	return rc;
}

int keyname_encode(enum keyname_kind kind, enum keyname_type type,
		   const void *value, size_t len, char **name)
{
	struct dynbuf b = {0};
	const char *suffix = kind_suffix(kind);
	size_t slen = strlen(suffix);
	int rc;

	if (!name || !kind_valid(kind) ||
	    (type != KEYNAME_N && len > kind_limit(kind)))
		return -EINVAL;
	rc = encoding_append(&b, type, value, len);
	if (rc)
		goto out;
	rc = b.len + slen > KEYNAME_NAME_MAX
		 ? 1
		 : looks_shortened(b.p, b.len, type);
	if (rc < 0)
		goto out;
	if (rc) {
		char tail[SHORT_TAIL_LEN + 1];

		tail[0] = '~';
		rc = keyname_short_hash(b.p, b.len, tail + 1);
		if (rc)
			goto out;
		b.len = short_cut(b.p, b.len);
		rc = dynbuf_add(&b, tail, SHORT_TAIL_LEN);
		if (rc)
			goto out;
	}
	rc = dynbuf_add(&b, suffix, slen);
	if (rc)
		goto out;
	*name = dynbuf_take(&b);
	if (!*name)
		rc = -ENOMEM;
out:
	dynbuf_free(&b);
	return rc;
}

/* Checks the arguments and the suffix; sets *elen to the encoding's length
 * (the name without suffix). */
static int split_name(const char *name, enum keyname_kind kind,
		      enum keyname_type type, size_t *elen)
{
	size_t n, slen;

	if (!name || !kind_valid(kind) || !type_valid(type))
		return -EINVAL;
	n = strlen(name);
	slen = strlen(kind_suffix(kind));
	if (n > KEYNAME_NAME_MAX || n <= slen ||
	    memcmp(name + n - slen, kind_suffix(kind), slen))
		return -EINVAL;
	*elen = n - slen;
	return 0;
}

int keyname_decode(const char *name, enum keyname_kind kind,
		   enum keyname_type type, struct keyname_key *out)
{
	struct dynbuf b = {0};
	size_t n;
	int rc;

	if (!out)
		return -EINVAL;
	rc = split_name(name, kind, type, &n);
	if (rc)
		return rc;
	rc = looks_shortened(name, n, type);
	if (rc)
		return rc < 0 ? rc : -ENAMETOOLONG;
	if (type == KEYNAME_S) {
		rc = pct_decode_exact(name, n, &b);
	} else if (type == KEYNAME_N) {
		rc = number_is_canon(name, n);
		rc = rc == 1 ? dynbuf_add(&b, name, n) : rc ? rc : -EINVAL;
	} else {
		rc = b64_decode_buf(name, n, true, &b);
	}
	if (rc)
		goto out;
	if (!b.len || (type != KEYNAME_N && b.len > kind_limit(kind))) {
		rc = -EINVAL;
		goto out;
	}
	out->type = type;
	out->len = b.len;
	out->value = dynbuf_take(&b);
	if (!out->value)
		rc = -ENOMEM;
out:
	dynbuf_free(&b);
	return rc;
}

bool keyname_is_shortened(const char *name, enum keyname_kind kind,
			  enum keyname_type type)
{
	size_t n;

	return !split_name(name, kind, type, &n) &&
	       looks_shortened(name, n, type) == 1;
}

int keyname_decode_shortened(const char *name, enum keyname_kind kind,
			     enum keyname_type type, struct keyname_key *prefix,
			     char hash[KEYNAME_HASH_LEN + 1])
{
	struct dynbuf b = {0};
	size_t n, plen;
	int rc;

	if (!prefix || !hash)
		return -EINVAL;
	rc = split_name(name, kind, type, &n);
	if (rc)
		return rc;
	rc = looks_shortened(name, n, type);
	if (rc != 1)
		return rc ? rc : -EINVAL;
	plen = n - SHORT_TAIL_LEN;
	if (type == KEYNAME_S)
		rc = pct_decode_exact(name, plen, &b);
	else
		rc = b64_decode_buf(name, plen, true, &b);
	if (rc)
		goto out;
	prefix->type = type;
	prefix->len = b.len;
	prefix->value = dynbuf_take(&b);
	if (!prefix->value) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(hash, name + plen + 1, KEYNAME_HASH_LEN);
	hash[KEYNAME_HASH_LEN] = '\0';
out:
	dynbuf_free(&b);
	return rc;
}

/* ---- DynamoDB JSON ---- */

int keyname_key_to_json(enum keyname_type type, const void *value, size_t len,
			json_t **out)
{
	static const char *const tags[] = {"S", "N", "B"};
	struct dynbuf b = {0};
	json_t *obj = NULL, *str = NULL;
	int rc = 0;

	if (!out || !len || !value || !type_valid(type))
		return -EINVAL;
	if (type == KEYNAME_S)
		rc = utf8_valid(value, len) ? dynbuf_add(&b, value, len) : -EINVAL;
	else if (type == KEYNAME_N)
		rc = number_canon(value, len, &b);
	else
		rc = b64_append(&b, value, len, false);
	if (rc)
		goto out;
	rc = -ENOMEM;
	str = json_stringn(b.p, b.len);
	obj = json_object();
	if (!str || !obj)
		goto out;
	if (json_object_set_new(obj, tags[type], str)) {
		str = NULL; /* stolen even on failure */
		goto out;
	}
	str = NULL;
	*out = obj;
	obj = NULL;
	rc = 0;
out:
	json_decref(str);
	json_decref(obj);
	dynbuf_free(&b);
	return rc;
}

int keyname_key_from_json(const json_t *attr, struct keyname_key *out)
{
	struct dynbuf b = {0};
	enum keyname_type type;
	const char *tag, *s;
	json_t *val;
	size_t n;
	int rc;

	if (!out || !json_is_object(attr) || json_object_size(attr) != 1)
		return -EINVAL;
	tag = json_object_iter_key(json_object_iter((json_t *)attr));
	val = json_object_iter_value(json_object_iter((json_t *)attr));
	if (!tag || !json_is_string(val))
		return -EINVAL;
	if (!strcmp(tag, "S"))
		type = KEYNAME_S;
	else if (!strcmp(tag, "N"))
		type = KEYNAME_N;
	else if (!strcmp(tag, "B"))
		type = KEYNAME_B;
	else
		return -EINVAL;
	s = json_string_value(val);
	n = json_string_length(val);
	if (type == KEYNAME_S)
		rc = dynbuf_add(&b, s, n);
	else if (type == KEYNAME_N)
		rc = number_canon(s, n, &b);
	else
		rc = b64_decode_buf(s, n, false, &b);
	if (rc)
		goto out;
	if (!b.len) {
		rc = -EINVAL;
		goto out;
	}
	out->type = type;
	out->len = b.len;
	out->value = dynbuf_take(&b);
	if (!out->value)
		rc = -ENOMEM;
out:
	dynbuf_free(&b);
	return rc;
}

/* ---- Tables and key schemas ---- */

bool keyname_table_name_valid(const char *name)
{
	size_t n;

	if (!name)
		return false;
	n = strlen(name);
	if (n < 3 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return false;
	}
	return true;
}

void keyname_attr_free(struct keyname_attr *a)
{
	if (!a)
		return;
	free(a->name);
	memset(a, 0, sizeof(*a));
}

/* Parses the n bytes at spec as "NAME[:T]". */
static int key_spec(const char *spec, size_t n, struct keyname_attr *out)
{
	enum keyname_type type = KEYNAME_S;
	const char *colon = NULL;
	char *name;

	for (size_t i = 0; i < n; i++)
		if (spec[i] == ':')
			colon = spec + i;
	if (colon) {
		size_t tlen = n - (size_t)(colon + 1 - spec);

		if (tlen != 1)
			return -EINVAL;
		if (colon[1] == 'S')
			type = KEYNAME_S;
		else if (colon[1] == 'N')
			type = KEYNAME_N;
		else if (colon[1] == 'B')
			type = KEYNAME_B;
		else
			return -EINVAL;
		n = (size_t)(colon - spec);
	}
	if (!n || n > KEYNAME_ATTR_NAME_MAX || memchr(spec, '\0', n) ||
	    !utf8_valid(spec, n))
		return -EINVAL;
	name = memdup0(spec, n);
	if (!name)
		return -ENOMEM;
	out->name = name;
	out->type = type;
	return 0;
}

int keyname_parse_key_spec(const char *spec, struct keyname_attr *out)
{
	if (!spec || !out)
		return -EINVAL;
	return key_spec(spec, strlen(spec), out);
}

void keyname_schema_free(struct keyname_schema *s)
{
	if (!s)
		return;
	free(s->table);
	keyname_attr_free(&s->hash);
	keyname_attr_free(&s->range);
	memset(s, 0, sizeof(*s));
}

int keyname_parse_mkdir(const char *spec, struct keyname_schema *out)
{
	struct keyname_schema s = {0};
	const char *c1, *c2, *end;
	int rc = -EINVAL;

	if (!spec || !out)
		return -EINVAL;
	end = spec + strlen(spec);
	c1 = strchr(spec, ',');
	if (!c1)
		goto out;
	c2 = strchr(c1 + 1, ',');
	if (c2 && strchr(c2 + 1, ','))
		goto out;
	s.table = memdup0(spec, (size_t)(c1 - spec));
	if (!s.table) {
		rc = -ENOMEM;
		goto out;
	}
	if (!keyname_table_name_valid(s.table)) {
		rc = -EINVAL;
		goto out;
	}
	rc = key_spec(c1 + 1, (size_t)((c2 ? c2 : end) - (c1 + 1)), &s.hash);
	if (rc)
		goto out;
	if (c2) {
		rc = key_spec(c2 + 1, (size_t)(end - (c2 + 1)), &s.range);
		if (rc)
			goto out;
		if (!strcmp(s.hash.name, s.range.name)) {
			rc = -EINVAL;
			goto out;
		}
	}
	*out = s;
	memset(&s, 0, sizeof(s));
out:
	keyname_schema_free(&s);
	return rc;
}
