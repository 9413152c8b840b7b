/* ddbvalue.c - DynamoDB's value rules, written once: the number grammar and
 * limits, canonical number text, strict base64 (standard and url), UTF-8,
 * key lengths and key-schema types. No I/O, no globals. */
#include "ddbvalue.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

/* Java's BigDecimal keeps the exponent and the scale in an int. */
#define JAVA_INT_MIN (-2147483647LL - 1)
#define JAVA_INT_MAX 2147483647LL

/* ---- Numbers ---- */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

char ddbvalue_number_digit(const struct ddbvalue_number *x, size_t k)
{
	return k < x->il ? x->ip[k] : x->fp[k - x->il];
}

int ddbvalue_number_parse(const char *s, size_t n, struct ddbvalue_number *x,
			  enum ddbvalue_number_fault *fault)
{
	enum ddbvalue_number_fault f = DDBVALUE_NUMBER_SYNTAX;
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
		if (ddbvalue_number_digit(x, k) == '0')
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
	f = DDBVALUE_NUMBER_OK;
	if (x->zero)
		goto out;
	x->nd = last - x->first + 1;
	x->pow10 = (long long)x->il - 1 - (long long)x->first + x->exp;
	if (x->nd > DDBVALUE_DIGITS_MAX)
		f = DDBVALUE_NUMBER_DIGITS;
	else if (x->pow10 < DDBVALUE_POW10_MIN)
		f = DDBVALUE_NUMBER_SMALL;
	else if (x->pow10 > DDBVALUE_POW10_MAX)
		f = DDBVALUE_NUMBER_LARGE;
out:
	if (fault)
		*fault = f;
	return f == DDBVALUE_NUMBER_OK ? 0 : -EINVAL;
}

int ddbvalue_number_compare(const struct ddbvalue_number *a,
			    const struct ddbvalue_number *b)
{
	int sa = a->zero ? 0 : (a->neg ? -1 : 1);
	int sb = b->zero ? 0 : (b->neg ? -1 : 1);
	size_t n;

	if (sa != sb)
		return sa < sb ? -1 : 1;
	if (sa == 0)
		return 0;
	if (a->pow10 != b->pow10)
		return a->pow10 > b->pow10 ? sa : -sa;
	n = a->nd > b->nd ? a->nd : b->nd;
	for (size_t i = 0; i < n; i++) {
		char da =
		    i < a->nd ? ddbvalue_number_digit(a, a->first + i) : '0';
		char db =
		    i < b->nd ? ddbvalue_number_digit(b, b->first + i) : '0';

		if (da != db)
			return da > db ? sa : -sa;
	}
	return 0;
}

size_t ddbvalue_number_size(const struct ddbvalue_number *x)
{
	if (x->zero)
		return 1;
	return 1 + (x->nd + 1) / 2 +
	       (x->nd % 2 == 0 && x->pow10 % 2 == 0 ? 1 : 0) + (x->neg ? 1 : 0);
}

int ddbvalue_number_canonical(const char *s, size_t n, struct dynbuf *out)
{
	struct ddbvalue_number x;
	long long pow_lo;
	int rc;

	rc = ddbvalue_number_parse(s, n, &x, NULL);
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
			rc = dynbuf_addc(
			    out, ddbvalue_number_digit(
				     &x, (size_t)(x.pow10 - p) + x.first));
	}
	for (long long p = pow_lo; !rc && p > 0; p--)
		rc = dynbuf_addc(out, '0');
	return rc;
}

int ddbvalue_number_is_canonical(const char *s, size_t n)
{
	struct dynbuf b = {0};
	int rc;

	rc = ddbvalue_number_canonical(s, n, &b);
	if (rc == -EINVAL)
		rc = 0;
	else if (!rc)
		rc = b.len == n && !memcmp(b.p, s, n);
	dynbuf_free(&b);
	return rc;
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

int ddbvalue_base64_encode(const void *data, size_t len, bool url,
			   struct dynbuf *out)
{
	const unsigned char *in = data;
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
		rc = dynbuf_add(out, q, nq);
	}
	return rc;
}

int ddbvalue_base64_decode(const char *s, size_t n, bool url,
			   struct dynbuf *out, size_t *out_len)
{
	size_t body = n, tail, count = 0;
	int rc = 0;

	if (n && !s)
		return -EINVAL;
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
		unsigned char bytes[3];

		for (size_t j = 0; j < 4; j++) {
			int d =
			    j < k ? b64_value((unsigned char)s[i + j], url) : 0;

			if (d < 0)
				return -EINVAL;
			v = v << 6 | (uint32_t)d;
		}
		bytes[0] = (unsigned char)(v >> 16);
		bytes[1] = (unsigned char)(v >> 8);
		bytes[2] = (unsigned char)v;
		/* One text per value: the bits past the last byte are 0. */
		if ((k == 2 && (v & 0xFFFF)) || (k == 3 && (v & 0xFF)))
			return -EINVAL;
		if (out)
			rc = dynbuf_add(out, bytes, k - 1);
		count += k - 1;
	}
	if (!rc && out_len)
		*out_len = count;
	return rc;
}

/* ---- UTF-8 ---- */

size_t ddbvalue_utf8_char_len(const void *data, size_t n)
{
	const unsigned char *p = data;
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

bool ddbvalue_utf8_valid(const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len;) {
		size_t n = ddbvalue_utf8_char_len(p + i, len - i);

		if (!n)
			return false;
		i += n;
	}
	return true;
}

/* ---- Keys ---- */

bool ddbvalue_key_type_valid(char type)
{
	return type == 'S' || type == 'N' || type == 'B';
}

int ddbvalue_key_type_parse(const char *text, size_t len, char *type)
{
	if (len != 1 || !text || !ddbvalue_key_type_valid(text[0]))
		return -EINVAL;
	*type = text[0];
	return 0;
}

const char *ddbvalue_key_type_words(char type)
{
	return type == 'S'   ? "a string (S)"
	       : type == 'N' ? "a number (N)"
	       : type == 'B' ? "a binary (B)"
			     : "another type";
}

size_t ddbvalue_key_max(bool range)
{
	return range ? DDBVALUE_RANGE_KEY_MAX : DDBVALUE_HASH_KEY_MAX;
}
