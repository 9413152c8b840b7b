/* codec.c - the item codec: renders DynamoDB wire items as plain or DynamoDB
 * JSON in Python's json.dumps layout, and parses file text back, checked. */
#include "codec.h"
#include "ddbvalue.h"
#include "dynbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Past this many nested JSON containers the reader stops, before the stack
 * could: a DynamoDB JSON file of 32 levels is about 66 deep, so any real
 * item fits and the nicer "32 levels" error names the attribute. */
#define JSON_DEPTH_MAX 128

#define NAME_MAX_LEN  65535

/* ------------------------------------------------------------------ */
/* errors */

/* Copies n bytes of s into dst (size >= 4 bytes, NUL-terminated), cutting
 * with "..." at a UTF-8 character boundary when it does not fit, and showing
 * control characters and DEL as \u00XX so a message always stays one line. */
static void disp_copy(char *dst, size_t size, const char *s, size_t n)
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

static void err_clear(struct codec_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

__attribute__((format(printf, 2, 3))) static void
err_msg(struct codec_error *err, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err)
		return;
	va_start(ap, fmt);
	n = vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(err->message))
		memcpy(err->message + sizeof(err->message) - 4, "...", 4);
}

/* ------------------------------------------------------------------ */
/* numbers, kept as text
 *
 * What the servers give back for a number put as N (probed with boto3 against
 * DynamoDB Local 1.25.1 and dynalite 4.0.0; both answer alike unless noted):
 *   "007.500" -> "7.5"     "-0" -> "0"        "1e2" -> "100"
 *   "1.0E+5" -> "100000"   "0.000001" -> "0.000001"   "1.50" -> "1.5"
 *   "1E-130" -> "0." + 129 zeros + "1"      (no exponent form, ever)
 *   "9.9999999999999999999999999999999999999E+125" -> 38 nines + 88 zeros
 *   ".5" -> "0.5"   "5." -> "5"   "-.5" -> "-0.5"   "0e5" -> "0"
 *   "+5" -> "5" (DynamoDB Local), refused by dynalite
 *   refused by both: 39 significant digits, "1E-131", "1E+126", "NaN",
 *   "Infinity", " 5", "0x10", "1_0", "1e", "e5", "-", "1..2"
 *   sets: NS ["1","1.0"], ["10","1E1"], ["-0","0"] and BS [a,a] refused as
 *   duplicates; DynamoDB Local returns NS/BS sorted, dynalite as put.
 *   "0e99999999999", "0.0e-2147483647": refused by DynamoDB Local (Java int
 *   exponent and scale), taken by dynalite; we refuse them as the former.
 * So a server's N text is always a valid JSON number token without exponent;
 * the plain renderer still rewrites any other text it might get losslessly.
 * The grammar and the limits are keyname_number_parse's, the one that names
 * number keys too, so a file never passes with a number the server refuses. */

/* Whether a number text (parsed as x) is also a JSON number token: no '+',
 * digits before the point, digits after it, no leading zero. */
static bool num_is_json(const char *t, const struct ddbvalue_number *x)
{
	return t[0] != '+' && x->il > 0 && !(x->dot && x->fl == 0) &&
	       !(x->il > 1 && x->ip[0] == '0');
}

/* Takes the n bytes at t apart with the one number grammar (ddbvalue.h).
 * Returns 0 when the grammar matched, the limits aside (x may be NULL), or
 * -EINVAL. */
static int num_parse(const char *t, size_t n, struct ddbvalue_number *x)
{
	struct ddbvalue_number tmp;
	enum ddbvalue_number_fault fault;

	ddbvalue_number_parse(t, n, x ? x : &tmp, &fault);
	return fault == DDBVALUE_NUMBER_SYNTAX ? -EINVAL : 0;
}

/* Parses and checks a number against DynamoDB's limits; x may be NULL. */
static int num_check(const char *t, size_t n, struct ddbvalue_number *x,
		     struct codec_error *err)
{
	struct ddbvalue_number tmp;
	enum ddbvalue_number_fault fault;
	char shown[64];

	if (!x)
		x = &tmp;
	disp_copy(shown, sizeof(shown), t, n);
	ddbvalue_number_parse(t, n, x, &fault);
	switch (fault) {
	case DDBVALUE_NUMBER_SYNTAX:
		err_msg(err, "\"%s\" is not a number DynamoDB can hold", shown);
		return -EINVAL;
	case DDBVALUE_NUMBER_DIGITS:
		err_msg(err,
			"number has %zu significant digits (DynamoDB keeps "
			"38)",
			x->nd);
		return -EINVAL;
	case DDBVALUE_NUMBER_SMALL:
		err_msg(err,
			"number %s is too small (DynamoDB's smallest "
			"magnitude is 1E-130)",
			shown);
		return -EINVAL;
	case DDBVALUE_NUMBER_LARGE:
		err_msg(err,
			"number %s is too large (DynamoDB's largest is "
			"9.9999999999999999999999999999999999999E+125)",
			shown);
		return -EINVAL;
	default:
		return 0;
	}
}

int codec_number_check(const char *text, struct codec_error *err)
{
	if (!text)
		return -EINVAL;
	return num_check(text, strlen(text), NULL, err);
}

int codec_number_compare(const char *a, const char *b)
{
	struct ddbvalue_number x, y;
	bool xa = num_parse(a, strlen(a), &x) == 0;
	bool yb = num_parse(b, strlen(b), &y) == 0;

	if (xa && yb)
		return ddbvalue_number_compare(&x, &y);
	if (xa != yb)
		return xa ? -1 : 1;
	return strcmp(a, b);
}

/* ------------------------------------------------------------------ */
/* wire attribute values */

enum av_type {
	AV_S,
	AV_N,
	AV_B,
	AV_SS,
	AV_NS,
	AV_BS,
	AV_M,
	AV_L,
	AV_BOOL,
	AV_NULL,
	AV_BAD,
};

static const char *const av_tags[] = {"S",  "N", "B", "SS",   "NS",
				      "BS", "M", "L", "BOOL", "NULL"};

static enum av_type tag_type(const char *tag, size_t len)
{
	for (int t = 0; t < AV_BAD; t++) {
		if (strlen(av_tags[t]) == len &&
		    memcmp(av_tags[t], tag, len) == 0)
			return (enum av_type)t;
	}
	return AV_BAD;
}

/* Splits a wire attribute value {"T": v}; returns AV_BAD when malformed.
 * *val is borrowed. The payload's JSON type is checked here too. */
static enum av_type av_split(const json_t *av, json_t **val)
{
	const char *key;
	size_t klen;
	json_t *v;
	enum av_type t = AV_BAD;

	if (!json_is_object(av) || json_object_size(av) != 1)
		return AV_BAD;
	json_object_keylen_foreach((json_t *)av, key, klen, v)
	{
		t = tag_type(key, klen);
		*val = v;
	}
	switch (t) {
	case AV_S:
	case AV_N:
	case AV_B:
		return json_is_string(*val) ? t : AV_BAD;
	case AV_SS:
	case AV_NS:
	case AV_BS:
	case AV_L:
		return json_is_array(*val) ? t : AV_BAD;
	case AV_M:
		return json_is_object(*val) ? t : AV_BAD;
	case AV_BOOL:
	case AV_NULL:
		return json_is_boolean(*val) ? t : AV_BAD;
	default:
		return AV_BAD;
	}
}

/* Makes {"tag": v}, stealing v. NULL when out of memory. */
static json_t *av_make(const char *tag, json_t *v)
{
	json_t *av;

	if (!v)
		return NULL;
	av = json_object();
	if (!av || json_object_set_new_nocheck(av, tag, v) != 0) {
		json_decref(av);
		json_decref(v);
		return NULL;
	}
	return av;
}

/* ------------------------------------------------------------------ */
/* size */

static int av_size(const json_t *av, int depth, size_t *sz);

static int map_size(const json_t *obj, int depth, bool nested, size_t *sz)
{
	const char *key;
	size_t klen, total = 0;
	json_t *v;

	json_object_keylen_foreach((json_t *)obj, key, klen, v)
	{
		size_t vs;
		int rc = av_size(v, depth + 1, &vs);

		if (rc)
			return rc;
		total += klen + vs + (nested ? 1 : 0);
	}
	*sz = total;
	return 0;
}

static int av_size(const json_t *av, int depth, size_t *sz)
{
	json_t *v = NULL;
	enum av_type t = av_split(av, &v);
	size_t total = 0, i, n;
	json_t *m;
	struct ddbvalue_number x;
	int rc;

	if (depth > JSON_DEPTH_MAX)
		return -EINVAL;
	switch (t) {
	case AV_S:
		*sz = json_string_length(v);
		return 0;
	case AV_N:
		if (num_parse(json_string_value(v), json_string_length(v),
			      &x) != 0)
			return -EINVAL;
		*sz = ddbvalue_number_size(&x);
		return 0;
	case AV_B:
		return ddbvalue_base64_decode(json_string_value(v),
					      json_string_length(v), false,
					      NULL, sz);
	case AV_BOOL:
	case AV_NULL:
		*sz = 1;
		return 0;
	case AV_SS:
	case AV_NS:
	case AV_BS:
		json_array_foreach(v, i, m)
		{
			const char *s = json_string_value(m);

			if (!s)
				return -EINVAL;
			n = json_string_length(m);
			if (t == AV_SS) {
				total += n;
			} else if (t == AV_NS) {
				if (num_parse(s, n, &x) != 0)
					return -EINVAL;
				total += ddbvalue_number_size(&x);
			} else {
				rc = ddbvalue_base64_decode(s, n, false, NULL,
							    &n);
				if (rc)
					return rc;
				total += n;
			}
		}
		*sz = total;
		return 0;
	case AV_L:
		total = 3;
		json_array_foreach(v, i, m)
		{
			rc = av_size(m, depth + 1, &n);
			if (rc)
				return rc;
			total += 1 + n;
		}
		*sz = total;
		return 0;
	case AV_M:
		rc = map_size(v, depth, true, &n);
		if (rc)
			return rc;
		*sz = 3 + n;
		return 0;
	default:
		return -EINVAL;
	}
}

int codec_item_size(const json_t *item, size_t *size)
{
	if (!json_is_object(item))
		return -EINVAL;
	return map_size(item, 0, false, size);
}

/* ------------------------------------------------------------------ */
/* output buffer */

/* The text being rendered into: a dynbuf whose first failure is kept, so
 * the writers below need no checks and codec_render looks once at the end. */
struct render {
	struct dynbuf b;
	int rc;
	enum codec_format f;
};

static void put_add(struct render *r, const void *s, size_t n)
{
	if (!r->rc)
		r->rc = dynbuf_add(&r->b, s, n);
}

static void put_str(struct render *r, const char *s)
{
	put_add(r, s, strlen(s));
}

/* A newline and the indentation of depth (2 spaces a level). */
static void put_newline(struct render *r, int depth)
{
	static const char spaces[] = "                                ";

	put_add(r, "\n", 1);
	for (int n = 2 * depth; n > 0; n -= 32)
		put_add(r, spaces, n < 32 ? (size_t)n : 32);
}

/* A JSON string escaped as Python's json.dumps(ensure_ascii=False) does:
 * '"', '\\' and the controls below 0x20 only; \n \r \t \b \f short, the
 * others \u00xx in lower-case hex; DEL and all non-ASCII raw. */
static void put_json_string(struct render *r, const char *s, size_t n)
{
	size_t run = 0;

	put_add(r, "\"", 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];
		const char *e = NULL;

		if (c >= 0x20 && c != '"' && c != '\\') {
			continue;
		}
		switch (c) {
		case '"':
			e = "\\\"";
			break;
		case '\\':
			e = "\\\\";
			break;
		case '\n':
			e = "\\n";
			break;
		case '\r':
			e = "\\r";
			break;
		case '\t':
			e = "\\t";
			break;
		case '\b':
			e = "\\b";
			break;
		case '\f':
			e = "\\f";
			break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			e = esc;
			break;
		}
		put_add(r, s + run, i - run);
		put_str(r, e);
		run = i + 1;
	}
	put_add(r, s + run, n - run);
	put_add(r, "\"", 1);
}

/* A number as a JSON number token with every digit kept: the text itself
 * when it already is one (what both servers send), else rebuilt ("+5" ->
 * 5, ".5" -> 0.5, "5." -> 5, "007.50" -> 7.50). */
static int put_number(struct render *r, const char *t, size_t n)
{
	struct ddbvalue_number x;
	size_t k = 0;

	if (num_parse(t, n, &x) != 0)
		return -EINVAL;
	if (num_is_json(t, &x)) {
		put_add(r, t, n);
		return 0;
	}
	if (x.neg)
		put_add(r, "-", 1);
	while (k + 1 < x.il && x.ip[k] == '0')
		k++;
	if (x.il == 0)
		put_add(r, "0", 1);
	else
		put_add(r, x.ip + k, x.il - k);
	if (x.fl) {
		put_add(r, ".", 1);
		put_add(r, x.fp, x.fl);
	}
	if (x.ep)
		put_add(r, x.ep, x.el);
	return 0;
}

/* ------------------------------------------------------------------ */
/* rendering */

/* One member of a map or set being sorted. */
struct member {
	const char *s; /* key, or SS/NS member text */
	size_t n;
	const json_t *val;
	int rank;	      /* map keys: 0 hash key, 1 range key, 2 others */
	char *bytes;	      /* BS: decoded; owned */
	size_t blen;
	struct ddbvalue_number num; /* NS */
	size_t index;		    /* position in the input, to break ties */
};

static int bytes_cmp(const void *a, size_t an, const void *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	if (c)
		return c;
	return an < bn ? -1 : (an > bn ? 1 : 0);
}

static int member_cmp_key(const void *pa, const void *pb)
{
	const struct member *a = pa, *b = pb;

	if (a->rank != b->rank)
		return a->rank < b->rank ? -1 : 1;
	return bytes_cmp(a->s, a->n, b->s, b->n);
}

static int member_cmp_ss(const void *pa, const void *pb)
{
	const struct member *a = pa, *b = pb;
	int c = bytes_cmp(a->s, a->n, b->s, b->n);

	if (c)
		return c;
	return a->index < b->index ? -1 : (a->index > b->index ? 1 : 0);
}

static int member_cmp_ns(const void *pa, const void *pb)
{
	const struct member *a = pa, *b = pb;
	int c = ddbvalue_number_compare(&a->num, &b->num);

	if (c)
		return c;
	return member_cmp_ss(pa, pb);
}

static int member_cmp_bs(const void *pa, const void *pb)
{
	const struct member *a = pa, *b = pb;
	int c = bytes_cmp(a->bytes, a->blen, b->bytes, b->blen);

	if (c)
		return c;
	return a->index < b->index ? -1 : (a->index > b->index ? 1 : 0);
}

/* Decodes standard base64 into *bytes (caller frees with free()) and
 * *blen. Returns 0, -EINVAL, -ENOMEM. */
static int b64_bytes(const char *s, size_t n, char **bytes, size_t *blen)
{
	struct dynbuf b = {0};
	int rc = ddbvalue_base64_decode(s, n, false, &b, blen);

	if (rc == 0) {
		*bytes = dynbuf_take(&b);
		if (!*bytes)
			rc = -ENOMEM;
	}
	dynbuf_free(&b);
	return rc;
}

static void members_free(struct member *m, size_t n)
{
	if (!m)
		return;
	for (size_t i = 0; i < n; i++)
		free(m[i].bytes);
	free(m);
}

static bool name_is(const char *name, const char *s, size_t n)
{
	return name && strlen(name) == n && memcmp(name, s, n) == 0;
}

/* The members of obj in render order; *out caller frees (free()). */
static int map_sorted(const json_t *obj, const struct codec_schema *sc,
		      struct member **out, size_t *count)
{
	size_t n = json_object_size(obj), i = 0;
	struct member *m = calloc(n ? n : 1, sizeof(*m));
	const char *key;
	size_t klen;
	json_t *v;

	if (!m)
		return -ENOMEM;
	json_object_keylen_foreach((json_t *)obj, key, klen, v)
	{
		m[i].s = key;
		m[i].n = klen;
		m[i].val = v;
		m[i].rank = 2;
		if (sc && name_is(sc->hash_name, key, klen))
			m[i].rank = 0;
		else if (sc && name_is(sc->range_name, key, klen))
			m[i].rank = 1;
		i++;
	}
	qsort(m, n, sizeof(*m), member_cmp_key);
	*out = m;
	*count = n;
	return 0;
}

/* The members of a set array, checked for type and sorted. *out caller
 * frees with members_free. */
static int set_sorted(const json_t *arr, enum av_type t, struct member **out,
		      size_t *count)
{
	size_t n = json_array_size(arr), i;
	struct member *m = calloc(n ? n : 1, sizeof(*m));
	json_t *v;
	int rc = 0;

	if (!m)
		return -ENOMEM;
	json_array_foreach(arr, i, v)
	{
		m[i].index = i;
		m[i].s = json_string_value(v);
		m[i].n = json_string_length(v);
		if (!m[i].s) {
			rc = -EINVAL;
			goto out;
		}
		if (t == AV_NS && num_parse(m[i].s, m[i].n, &m[i].num) != 0) {
			rc = -EINVAL;
			goto out;
		}
		if (t == AV_BS) {
			rc = b64_bytes(m[i].s, m[i].n, &m[i].bytes,
				       &m[i].blen);
			if (rc)
				goto out;
		}
	}
	qsort(m, n, sizeof(*m),
	      t == AV_NS ? member_cmp_ns
			 : (t == AV_BS ? member_cmp_bs : member_cmp_ss));
	*out = m;
	*count = n;
	m = NULL;
out:
	members_free(m, n);
	return rc;
}


static int render_map(struct render *r, const json_t *obj,
		      const struct codec_schema *sc, int depth);
static int render_av(struct render *r, const json_t *av, int depth);

/* A B value or BS member: validated and written canonically. */
static int render_b64(struct render *r, const char *s, size_t n)
{
	struct dynbuf bytes = {0};
	int rc = ddbvalue_base64_decode(s, n, false, &bytes, NULL);

	if (rc == 0) {
		put_add(r, "\"", 1);
		if (!r->rc)
			r->rc = ddbvalue_base64_encode(bytes.p, bytes.len, false,
						       &r->b);
		put_add(r, "\"", 1);
	}
	dynbuf_free(&bytes);
	return rc;
}

static int render_set(struct render *r, const json_t *arr, enum av_type t,
		      int depth)
{
	struct member *m = NULL;
	size_t n = 0;
	int rc = set_sorted(arr, t, &m, &n);

	if (rc)
		goto out;
	if (n == 0) {
		put_str(r, "[]");
		goto out;
	}
	put_add(r, "[", 1);
	for (size_t i = 0; i < n && !rc; i++) {
		if (i)
			put_add(r, ",", 1);
		put_newline(r, depth + 1);
		if (t == AV_SS || (t == AV_NS && r->f == CODEC_DDB))
			put_json_string(r, m[i].s, m[i].n);
		else if (t == AV_NS)
			rc = put_number(r, m[i].s, m[i].n);
		else
			rc = render_b64(r, m[i].s, m[i].n);
	}
	put_newline(r, depth);
	put_add(r, "]", 1);
out:
	members_free(m, n);
	return rc;
}

static int render_list(struct render *r, const json_t *arr, int depth)
{
	size_t i;
	json_t *v;
	int rc = 0;

	if (json_array_size(arr) == 0) {
		put_str(r, "[]");
		return 0;
	}
	put_add(r, "[", 1);
	json_array_foreach(arr, i, v)
	{
		if (i)
			put_add(r, ",", 1);
		put_newline(r, depth + 1);
		rc = render_av(r, v, depth + 1);
		if (rc)
			return rc;
	}
	put_newline(r, depth);
	put_add(r, "]", 1);
	return 0;
}

/* Opens {"tag": ...} at depth; the caller writes the value, then closes
 * with render_close. */
static void render_open(struct render *r, const char *tag, int depth)
{
	put_add(r, "{", 1);
	put_newline(r, depth + 1);
	put_json_string(r, tag, strlen(tag));
	put_add(r, ": ", 2);
}

static void render_close(struct render *r, int depth)
{
	put_newline(r, depth);
	put_add(r, "}", 1);
}

/* Whether a map must be escaped as {"$M": ...} in the plain format: its
 * only key would otherwise read as a type tag. */
static bool map_needs_escape(const json_t *obj)
{
	static const char *const tags[] = {"$B", "$SS", "$NS", "$BS", "$M"};
	const char *key;
	size_t klen;
	json_t *v;
	bool hit = false;

	if (json_object_size(obj) != 1)
		return false;
	json_object_keylen_foreach((json_t *)obj, key, klen, v)
	{
		for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
			hit = hit || name_is(tags[i], key, klen);
	}
	return hit;
}

/* The payload of a typed value at depth: plain value, or the inside of
 * {"T": ...} for the ddb format. */
static int render_payload(struct render *r, enum av_type t, const json_t *v,
			  int depth)
{
	bool plain = r->f == CODEC_PLAIN;
	int rc = 0;

	switch (t) {
	case AV_S:
		put_json_string(r, json_string_value(v),
				json_string_length(v));
		return 0;
	case AV_N:
		if (plain)
			return put_number(r, json_string_value(v),
					  json_string_length(v));
		if (num_parse(json_string_value(v), json_string_length(v),
			      NULL) != 0)
			return -EINVAL;
		put_json_string(r, json_string_value(v),
				json_string_length(v));
		return 0;
	case AV_B:
		if (!plain)
			return render_b64(r, json_string_value(v),
					  json_string_length(v));
		render_open(r, "$B", depth);
		rc = render_b64(r, json_string_value(v), json_string_length(v));
		render_close(r, depth);
		return rc;
	case AV_BOOL:
		put_str(r, json_is_true(v) ? "true" : "false");
		return 0;
	case AV_NULL:
		put_str(r,
			plain ? "null" : (json_is_true(v) ? "true" : "false"));
		return 0;
	case AV_SS:
	case AV_NS:
	case AV_BS:
		if (!plain)
			return render_set(r, v, t, depth);
		render_open(r,
			    t == AV_SS ? "$SS" : (t == AV_NS ? "$NS" : "$BS"),
			    depth);
		rc = render_set(r, v, t, depth + 1);
		render_close(r, depth);
		return rc;
	case AV_L:
		return render_list(r, v, depth);
	case AV_M:
		if (!plain || !map_needs_escape(v))
			return render_map(r, v, NULL, depth);
		render_open(r, "$M", depth);
		rc = render_map(r, v, NULL, depth + 1);
		render_close(r, depth);
		return rc;
	default:
		return -EINVAL;
	}
}

static int render_av(struct render *r, const json_t *av, int depth)
{
	json_t *v = NULL;
	enum av_type t = av_split(av, &v);
	int rc;

	if (t == AV_BAD || depth > JSON_DEPTH_MAX)
		return -EINVAL;
	if (r->f == CODEC_PLAIN)
		return render_payload(r, t, v, depth);
	render_open(r, av_tags[t], depth);
	rc = render_payload(r, t, v, depth + 1);
	render_close(r, depth);
	return rc;
}

static int render_map(struct render *r, const json_t *obj,
		      const struct codec_schema *sc, int depth)
{
	struct member *m = NULL;
	size_t n = 0;
	int rc = map_sorted(obj, sc, &m, &n);

	if (rc)
		goto out;
	if (n == 0) {
		put_str(r, "{}");
		goto out;
	}
	put_add(r, "{", 1);
	for (size_t i = 0; i < n; i++) {
		if (i)
			put_add(r, ",", 1);
		put_newline(r, depth + 1);
		put_json_string(r, m[i].s, m[i].n);
		put_add(r, ": ", 2);
		rc = render_av(r, m[i].val, depth + 1);
		if (rc)
			goto out;
	}
	put_newline(r, depth);
	put_add(r, "}", 1);
out:
	free(m);
	return rc;
}

int codec_render(const json_t *item, const struct codec_schema *s,
		 enum codec_format f, char **text, size_t *len)
{
	struct render r = {.f = f};
	int rc = 0;

	*text = NULL;
	*len = 0;
	if (!json_is_object(item) || (f != CODEC_PLAIN && f != CODEC_DDB)) {
		rc = -EINVAL;
		goto out;
	}
	rc = render_map(&r, item, s, 0);
	if (rc)
		goto out;
	put_add(&r, "\n", 1);
	rc = r.rc;
	if (rc)
		goto out;
	*len = r.b.len;
	*text = dynbuf_take(&r.b);
out:
	dynbuf_free(&r.b);
	return rc;
}

/* ------------------------------------------------------------------ */
/* JSON reader: strict RFC 8259, numbers kept as text, positions kept */

enum jtype { J_NULL, J_TRUE, J_FALSE, J_NUM, J_STR, J_ARR, J_OBJ };

struct jnode;

struct jkey {
	char *s;
	size_t n;
	size_t off; /* byte offset of the key's '"' in the text */
};

struct jnode {
	enum jtype t;
	size_t off; /* byte offset of the value */
	char *s;    /* J_NUM text, J_STR bytes; NUL-terminated */
	size_t n;
	struct jnode **kids; /* J_ARR, J_OBJ */
	struct jkey *keys;   /* J_OBJ, parallel to kids */
	size_t cnt, cap;
};

struct reader {
	const char *p;
	size_t len;
	size_t pos;
	size_t base; /* where the text starts (after a BOM) */
	struct codec_error *err;
};

static void jnode_free(struct jnode *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->cnt; i++) {
		jnode_free(j->kids[i]);
		if (j->keys)
			free(j->keys[i].s);
	}
	free(j->kids);
	free(j->keys);
	free(j->s);
	free(j);
}

/* Fills line and column (1-based, characters) of byte offset off. */
static void rd_where(const struct reader *rd, size_t off, unsigned *line,
		     unsigned *col)
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

__attribute__((format(printf, 3, 4))) static int
rd_fail(struct reader *rd, size_t off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!rd->err)
		return -EINVAL;
	rd_where(rd, off, &rd->err->line, &rd->err->column);
	va_start(ap, fmt);
	n = vsnprintf(rd->err->message, sizeof(rd->err->message), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(rd->err->message))
		memcpy(rd->err->message + sizeof(rd->err->message) - 4, "...",
		       4);
	return -EINVAL;
}

static void rd_ws(struct reader *rd)
{
	while (rd->pos < rd->len) {
		char c = rd->p[rd->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		rd->pos++;
	}
}

/* "unexpected 'x'" or "unexpected end of text" for the byte at pos. */
static const char *rd_what(const struct reader *rd, char *tmp, size_t size)
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

static int rd_value(struct reader *rd, int depth, struct jnode **out);

static struct jnode *jnode_new(enum jtype t, size_t off)
{
	struct jnode *j = calloc(1, sizeof(*j));

	if (j) {
		j->t = t;
		j->off = off;
	}
	return j;
}

static int jnode_push(struct jnode *j, struct jnode *kid, struct jkey *key)
{
	if (j->cnt == j->cap) {
		size_t cap = j->cap ? j->cap * 2 : 8;
		struct jnode **kids = realloc(j->kids, cap * sizeof(*kids));

		if (!kids)
			return -ENOMEM;
		j->kids = kids;
		if (key) {
			struct jkey *keys =
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
static int rd_string(struct reader *rd, char **s, size_t *n)
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
			rc = rd_fail(rd, rd->pos,
				     "unterminated string (missing '\"')");
			goto out;
		}
		c = p[rd->pos];
		if (c == '"') {
			rd->pos++;
			break;
		}
		if (c == '\n') {
			rc = rd_fail(rd, rd->pos,
				     "unterminated string (a line break "
				     "inside a string must be written \\n)");
			goto out;
		}
		if (c < 0x20) {
			rc = rd_fail(rd, rd->pos,
				     "control character U+%04X in a string "
				     "(write it as \\u%04x)",
				     c, c);
			goto out;
		}
		if (c >= 0x80) {
			l = ddbvalue_utf8_char_len(p + rd->pos,
						   rd->len - rd->pos);
			if (l == 0) {
				rc = rd_fail(rd, rd->pos,
					     "invalid UTF-8 (byte 0x%02X)", c);
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
			rc = rd_fail(rd, rd->pos, "unterminated string");
			goto out;
		}
		c = p[rd->pos + 1];
		if (c == 'u') {
			uint32_t cp, lo;
			char utf[4];
			size_t at = rd->pos;

			if (hex4(rd->p + at + 2, rd->len - at - 2, &cp) != 0) {
				rc = rd_fail(rd, at,
					     "invalid \\u escape (needs 4 hex "
					     "digits)");
				goto out;
			}
			rd->pos += 6;
			if (cp >= 0xdc00 && cp <= 0xdfff) {
				rc = rd_fail(rd, at,
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
					rc =
					    rd_fail(rd, at,
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
			rc = rd_fail(rd, rd->pos, "invalid escape '\\%c'",
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
static int rd_number_scan(struct reader *rd, size_t *end)
{
	const char *p = rd->p;
	size_t i = *end;
	char tmp[16];

	if (p[i] == '-') {
		i++;
		if (i >= rd->len || !is_digit(p[i]))
			return rd_fail(rd, i, "expected a digit after '-'");
	}
	if (!is_digit(p[i]))
		return rd_fail(rd, i, "expected a value, found %s",
			       rd_what(rd, tmp, sizeof(tmp)));
	if (p[i] == '0') {
		i++;
		if (i < rd->len && is_digit(p[i]))
			return rd_fail(rd, i,
				       "a number cannot have leading zeros");
	} else {
		while (i < rd->len && is_digit(p[i]))
			i++;
	}
	if (i < rd->len && p[i] == '.') {
		i++;
		if (i >= rd->len || !is_digit(p[i]))
			return rd_fail(rd, i, "expected a digit after '.'");
		while (i < rd->len && is_digit(p[i]))
			i++;
	}
	if (i < rd->len && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < rd->len && (p[i] == '+' || p[i] == '-'))
			i++;
		if (i >= rd->len || !is_digit(p[i]))
			return rd_fail(rd, i,
				       "expected a digit in the exponent");
		while (i < rd->len && is_digit(p[i]))
			i++;
	}
	*end = i;
	return 0;
}

/* A JSON number token, kept as text. NaN and (-)Infinity, which Python's
 * json writes, are taken as number tokens here so that the error about
 * them names the attribute; the number check refuses them. */
static int rd_number(struct reader *rd, struct jnode *j)
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

static int key_entry_cmp(const void *pa, const void *pb)
{
	const struct member *a = pa, *b = pb;

	return member_cmp_ss(a, b);
}

/* Refuses an object with a key twice, at the first repeat in the text. */
static int rd_dups(struct reader *rd, const struct jnode *j)
{
	struct member *m;
	size_t best = SIZE_MAX, orig = 0;
	char shown[80];
	int rc = 0;

	if (j->cnt < 2)
		return 0;
	m = calloc(j->cnt, sizeof(*m));
	if (!m)
		return -ENOMEM;
	for (size_t i = 0; i < j->cnt; i++) {
		m[i].s = j->keys[i].s;
		m[i].n = j->keys[i].n;
		m[i].index = i;
	}
	qsort(m, j->cnt, sizeof(*m), key_entry_cmp);
	for (size_t i = 1, run = 0; i < j->cnt; i++) {
		if (bytes_cmp(m[i].s, m[i].n, m[i - 1].s, m[i - 1].n) != 0) {
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

		rd_where(rd, j->keys[orig].off, &l, &c);
		disp_copy(shown, sizeof(shown), j->keys[best].s,
			  j->keys[best].n);
		rc = rd_fail(rd, j->keys[best].off,
			     "duplicate key \"%s\" (first at line %u, "
			     "column %u)",
			     shown, l, c);
	}
	free(m);
	return rc;
}

static int rd_object(struct reader *rd, int depth, struct jnode *j)
{
	char tmp[16];
	int rc;

	rd->pos++;
	rd_ws(rd);
	if (rd->pos < rd->len && rd->p[rd->pos] == '}') {
		rd->pos++;
		return 0;
	}
	for (;;) {
		struct jkey key = {.off = rd->pos};
		struct jnode *kid = NULL;

		if (rd->pos >= rd->len || rd->p[rd->pos] != '"') {
			if (rd->pos < rd->len && rd->p[rd->pos] == '}')
				return rd_fail(rd, rd->pos,
					       "trailing comma before '}'");
			return rd_fail(rd, rd->pos,
				       "expected a key in double quotes, "
				       "found %s",
				       rd_what(rd, tmp, sizeof(tmp)));
		}
		rc = rd_string(rd, &key.s, &key.n);
		if (rc)
			return rc;
		rd_ws(rd);
		if (rd->pos >= rd->len || rd->p[rd->pos] != ':') {
			free(key.s);
			return rd_fail(rd, rd->pos,
				       "expected ':' after the key, found %s",
				       rd_what(rd, tmp, sizeof(tmp)));
		}
		rd->pos++;
		rd_ws(rd);
		rc = rd_value(rd, depth + 1, &kid);
		if (rc == 0)
			rc = jnode_push(j, kid, &key);
		if (rc) {
			jnode_free(kid);
			free(key.s);
			return rc;
		}
		rd_ws(rd);
		if (rd->pos < rd->len && rd->p[rd->pos] == ',') {
			rd->pos++;
			rd_ws(rd);
			continue;
		}
		if (rd->pos < rd->len && rd->p[rd->pos] == '}') {
			rd->pos++;
			break;
		}
		return rd_fail(rd, rd->pos, "expected ',' or '}', found %s",
			       rd_what(rd, tmp, sizeof(tmp)));
	}
	return rd_dups(rd, j);
}

static int rd_array(struct reader *rd, int depth, struct jnode *j)
{
	char tmp[16];
	int rc;

	rd->pos++;
	rd_ws(rd);
	if (rd->pos < rd->len && rd->p[rd->pos] == ']') {
		rd->pos++;
		return 0;
	}
	for (;;) {
		struct jnode *kid = NULL;

		if (rd->pos < rd->len && rd->p[rd->pos] == ']')
			return rd_fail(rd, rd->pos,
				       "trailing comma before ']'");
		rc = rd_value(rd, depth + 1, &kid);
		if (rc == 0)
			rc = jnode_push(j, kid, NULL);
		if (rc) {
			jnode_free(kid);
			return rc;
		}
		rd_ws(rd);
		if (rd->pos < rd->len && rd->p[rd->pos] == ',') {
			rd->pos++;
			rd_ws(rd);
			continue;
		}
		if (rd->pos < rd->len && rd->p[rd->pos] == ']') {
			rd->pos++;
			return 0;
		}
		return rd_fail(rd, rd->pos, "expected ',' or ']', found %s",
			       rd_what(rd, tmp, sizeof(tmp)));
	}
}

static int rd_literal(struct reader *rd, const char *word)
{
	size_t l = strlen(word);

	if (rd->len - rd->pos < l || memcmp(rd->p + rd->pos, word, l) != 0)
		return rd_fail(rd, rd->pos, "invalid literal, expected %s",
			       word);
	rd->pos += l;
	return 0;
}

/* Reads the value at pos (whitespace already skipped). *out caller frees
 * with jnode_free. */
static int rd_value(struct reader *rd, int depth, struct jnode **out)
{
	struct jnode *j = NULL;
	char tmp[16];
	char c;
	int rc = 0;

	*out = NULL;
	if (rd->pos >= rd->len)
		return rd_fail(rd, rd->pos,
			       "unexpected end of text, expected a value");
	if (depth > JSON_DEPTH_MAX)
		return rd_fail(rd, rd->pos, "JSON nested deeper than %d levels",
			       JSON_DEPTH_MAX);
	c = rd->p[rd->pos];
	j = jnode_new(J_NULL, rd->pos);
	if (!j)
		return -ENOMEM;
	switch (c) {
	case '{':
		j->t = J_OBJ;
		rc = rd_object(rd, depth, j);
		break;
	case '[':
		j->t = J_ARR;
		rc = rd_array(rd, depth, j);
		break;
	case '"':
		j->t = J_STR;
		rc = rd_string(rd, &j->s, &j->n);
		break;
	case 't':
		j->t = J_TRUE;
		rc = rd_literal(rd, "true");
		break;
	case 'f':
		j->t = J_FALSE;
		rc = rd_literal(rd, "false");
		break;
	case 'n':
		j->t = J_NULL;
		rc = rd_literal(rd, "null");
		break;
	default:
		if (c == '-' || is_digit(c) || c == 'N' || c == 'I') {
			j->t = J_NUM;
			rc = rd_number(rd, j);
			break;
		}
		rc = rd_fail(rd, rd->pos, "expected a value, found %s",
			     rd_what(rd, tmp, sizeof(tmp)));
		break;
	}
	if (rc) {
		jnode_free(j);
		return rc;
	}
	*out = j;
	return 0;
}

/* ------------------------------------------------------------------ */
/* conversion of the JSON tree to a wire item, with DynamoDB's checks */

/* One step of an attribute path, on the stack; formatted only on error. */
struct pseg {
	const struct pseg *up;
	const char *key; /* NULL for an index */
	size_t klen;
	size_t index;
};

struct conv {
	enum codec_format f;
	struct codec_error *err;
};

static void path_put(char *dst, size_t size, size_t *o, const char *s, size_t n)
{
	if (*o + 4 > size)
		return;
	disp_copy(dst + *o, size - *o, s, n);
	*o += strlen(dst + *o);
}

static void path_format(const struct pseg *p, char *dst, size_t size, size_t *o)
{
	char idx[32];

	if (!p)
		return;
	path_format(p->up, dst, size, o);
	if (p->key) {
		if (p->up)
			path_put(dst, size, o, ".", 1);
		path_put(dst, size, o, p->key, p->klen);
	} else {
		snprintf(idx, sizeof(idx), "[%zu]", p->index);
		path_put(dst, size, o, idx, strlen(idx));
	}
}

__attribute__((format(printf, 3, 4))) static int
conv_fail(struct conv *c, const struct pseg *path, const char *fmt, ...)
{
	va_list ap;
	size_t o = 0;
	int n;

	if (!c->err)
		return -EINVAL;
	c->err->path[0] = '\0';
	path_format(path, c->err->path, sizeof(c->err->path), &o);
	va_start(ap, fmt);
	n = vsnprintf(c->err->message, sizeof(c->err->message), fmt, ap);
	va_end(ap);
	if (n >= (int)sizeof(c->err->message))
		memcpy(c->err->message + sizeof(c->err->message) - 4, "...", 4);
	return -EINVAL;
}

static int conv_map(struct conv *c, const struct jnode *j,
		    const struct pseg *path, int level, json_t **out);
static int conv_value(struct conv *c, const struct jnode *j,
		      const struct pseg *path, int level, json_t **out);

static int conv_level(struct conv *c, const struct pseg *path, int level)
{
	if (level <= CODEC_DEPTH_MAX)
		return 0;
	return conv_fail(c, path,
			 "nested deeper than DynamoDB's 32 levels (the item "
			 "is level 1, each list or map inside one more)");
}

static const char *jtype_name(enum jtype t)
{
	static const char *const names[] = {"null",	"true",	    "false",
					    "a number", "a string", "an array",
					    "an object"};

	return names[t];
}

static int conv_number(struct conv *c, const struct jnode *j,
		       const struct pseg *path, json_t **out)
{
	int rc = num_check(j->s, j->n, NULL, c->err);

	if (rc) {
		/* keep num_check's message, add the path */
		char msg[CODEC_MSG_LEN];

		if (!c->err)
			return rc;
		memcpy(msg, c->err->message, sizeof(msg));
		return conv_fail(c, path, "%s", msg);
	}
	*out = av_make("N", json_stringn_nocheck(j->s, j->n));
	return *out ? 0 : -ENOMEM;
}

static int conv_b64(struct conv *c, const struct jnode *j,
		    const struct pseg *path, json_t **out)
{
	size_t n;

	if (j->t != J_STR)
		return conv_fail(c, path,
				 "binary must be a base64 string, "
				 "not %s",
				 jtype_name(j->t));
	if (ddbvalue_base64_decode(j->s, j->n, false, NULL, &n) != 0)
		return conv_fail(c, path,
				 "invalid base64 (standard alphabet, '=' "
				 "padding to a multiple of 4)");
	*out = json_stringn_nocheck(j->s, j->n);
	return *out ? 0 : -ENOMEM;
}

/* A set: non-empty, members of the right type, no two equal (NS by value,
 * BS by decoded bytes). Members stay in file order and text. */
static int conv_set(struct conv *c, const struct jnode *j, enum av_type t,
		    const struct pseg *path, json_t **out)
{
	static const char *const what[] = {
	    [AV_SS] = "string", [AV_NS] = "number", [AV_BS] = "binary"};
	struct member *m = NULL;
	json_t *arr = NULL;
	size_t best = SIZE_MAX, orig = 0;
	int rc = 0;

	*out = NULL;
	if (j->t != J_ARR) {
		rc = conv_fail(c, path, "a %s set must be an array, not %s",
			       what[t], jtype_name(j->t));
		goto out;
	}
	if (j->cnt == 0) {
		rc = conv_fail(c, path,
			       "a set cannot be empty (DynamoDB has no empty "
			       "sets; use a list or remove the attribute)");
		goto out;
	}
	m = calloc(j->cnt, sizeof(*m));
	arr = json_array();
	if (!m || !arr) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < j->cnt; i++) {
		const struct jnode *k = j->kids[i];
		struct pseg seg = {.up = path, .index = i};
		bool want_str = t != AV_NS || c->f == CODEC_DDB;
		json_t *s;

		if ((want_str && k->t != J_STR) ||
		    (!want_str && k->t != J_NUM)) {
			rc = conv_fail(
			    c, &seg, "a %s set member must be %s, not %s",
			    what[t], want_str ? "a string" : "a number",
			    jtype_name(k->t));
			goto out;
		}
		m[i].s = k->s;
		m[i].n = k->n;
		m[i].index = i;
		if (t == AV_NS) {
			rc = num_check(k->s, k->n, &m[i].num, c->err);
			if (rc) {
				char msg[CODEC_MSG_LEN] = "";

				if (c->err)
					memcpy(msg, c->err->message,
					       sizeof(msg));
				rc = conv_fail(c, &seg, "%s", msg);
				goto out;
			}
		}
		if (t == AV_BS) {
			rc = b64_bytes(k->s, k->n, &m[i].bytes, &m[i].blen);
			if (rc == -EINVAL)
				rc = conv_fail(c, &seg,
					       "invalid base64 (standard "
					       "alphabet, '=' padding to a "
					       "multiple of 4)");
			if (rc)
				goto out;
		}
		s = json_stringn_nocheck(k->s, k->n);
		if (!s || json_array_append_new(arr, s) != 0) {
			rc = -ENOMEM;
			goto out;
		}
	}
	qsort(m, j->cnt, sizeof(*m),
	      t == AV_NS ? member_cmp_ns
			 : (t == AV_BS ? member_cmp_bs : member_cmp_ss));
	for (size_t i = 1, run = 0; i < j->cnt; i++) {
		int eq = t == AV_NS   ? ddbvalue_number_compare(&m[i].num,
								  &m[i - 1].num)
			 : t == AV_BS ? bytes_cmp(m[i].bytes, m[i].blen,
						  m[i - 1].bytes, m[i - 1].blen)
				      : bytes_cmp(m[i].s, m[i].n, m[i - 1].s,
						  m[i - 1].n);

		if (eq != 0) {
			run = i;
			continue;
		}
		if (m[i].index < best) {
			best = m[i].index;
			orig = m[run].index;
		}
	}
	if (best != SIZE_MAX) {
		struct pseg seg = {.up = path, .index = best};

		rc = conv_fail(c, &seg,
			       "duplicate set member (equal to member %zu; "
			       "set members must be unique)",
			       orig);
		goto out;
	}
	*out = av_make(av_tags[t], arr);
	arr = NULL;
	if (!*out)
		rc = -ENOMEM;
out:
	members_free(m, j->kids ? j->cnt : 0);
	json_decref(arr);
	return rc;
}

static int conv_list(struct conv *c, const struct jnode *j,
		     const struct pseg *path, int level, json_t **out)
{
	json_t *arr = NULL;
	int rc = conv_level(c, path, level);

	*out = NULL;
	if (rc)
		goto out;
	arr = json_array();
	if (!arr) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < j->cnt; i++) {
		struct pseg seg = {.up = path, .index = i};
		json_t *v = NULL;

		rc = conv_value(c, j->kids[i], &seg, level, &v);
		if (rc)
			goto out;
		if (json_array_append_new(arr, v) != 0) {
			rc = -ENOMEM;
			goto out;
		}
	}
	*out = av_make("L", arr);
	arr = NULL;
	if (!*out)
		rc = -ENOMEM;
out:
	json_decref(arr);
	return rc;
}

static int conv_mapav(struct conv *c, const struct jnode *j,
		      const struct pseg *path, int level, json_t **out)
{
	json_t *map = NULL;
	int rc = conv_level(c, path, level);

	*out = NULL;
	if (rc == 0)
		rc = conv_map(c, j, path, level, &map);
	if (rc)
		return rc;
	*out = av_make("M", map);
	return *out ? 0 : -ENOMEM;
}

/* The plain format's tagged objects {"$B": ...} and friends. */
static int conv_tagged(struct conv *c, const struct jkey *tag,
		       const struct jnode *v, const struct pseg *path,
		       int level, json_t **out)
{
	json_t *s = NULL;
	int rc;

	*out = NULL;
	if (name_is("$B", tag->s, tag->n)) {
		rc = conv_b64(c, v, path, &s);
		if (rc)
			return rc;
		*out = av_make("B", s);
		return *out ? 0 : -ENOMEM;
	}
	if (name_is("$SS", tag->s, tag->n))
		return conv_set(c, v, AV_SS, path, out);
	if (name_is("$NS", tag->s, tag->n))
		return conv_set(c, v, AV_NS, path, out);
	if (name_is("$BS", tag->s, tag->n))
		return conv_set(c, v, AV_BS, path, out);
	/* "$M" */
	if (v->t != J_OBJ)
		return conv_fail(c, path, "\"$M\" must hold an object, not %s",
				 jtype_name(v->t));
	return conv_mapav(c, v, path, level, out);
}

static bool is_tag(const struct jkey *k)
{
	return name_is("$B", k->s, k->n) || name_is("$SS", k->s, k->n) ||
	       name_is("$NS", k->s, k->n) || name_is("$BS", k->s, k->n) ||
	       name_is("$M", k->s, k->n);
}

/* A value of the plain format; level is that of the enclosing map or
 * list, so a list or map here is level + 1. */
static int conv_plain(struct conv *c, const struct jnode *j,
		      const struct pseg *path, int level, json_t **out)
{
	*out = NULL;
	switch (j->t) {
	case J_STR:
		*out = av_make("S", json_stringn_nocheck(j->s, j->n));
		return *out ? 0 : -ENOMEM;
	case J_NUM:
		return conv_number(c, j, path, out);
	case J_TRUE:
	case J_FALSE:
		*out = av_make("BOOL", json_boolean(j->t == J_TRUE));
		return *out ? 0 : -ENOMEM;
	case J_NULL:
		*out = av_make("NULL", json_true());
		return *out ? 0 : -ENOMEM;
	case J_ARR:
		return conv_list(c, j, path, level + 1, out);
	case J_OBJ:
		if (j->cnt == 1 && is_tag(&j->keys[0]))
			return conv_tagged(c, &j->keys[0], j->kids[0], path,
					   level + 1, out);
		return conv_mapav(c, j, path, level + 1, out);
	}
	return -EINVAL;
}

/* A DynamoDB JSON attribute value {"T": v}. */
static int conv_ddb(struct conv *c, const struct jnode *j,
		    const struct pseg *path, int level, json_t **out)
{
	const struct jnode *v;
	enum av_type t;
	char shown[40];
	json_t *s = NULL;
	int rc;

	*out = NULL;
	if (j->t != J_OBJ)
		return conv_fail(c, path,
				 "an attribute value must be an object with "
				 "one type tag, as in {\"S\": \"x\"}, not %s",
				 jtype_name(j->t));
	if (j->cnt != 1)
		return conv_fail(c, path,
				 "an attribute value has exactly one type tag "
				 "(S, N, B, BOOL, NULL, M, L, SS, NS or BS), "
				 "this one has %zu",
				 j->cnt);
	v = j->kids[0];
	t = tag_type(j->keys[0].s, j->keys[0].n);
	switch (t) {
	case AV_S:
		if (v->t != J_STR)
			break;
		*out = av_make("S", json_stringn_nocheck(v->s, v->n));
		return *out ? 0 : -ENOMEM;
	case AV_N:
		if (v->t != J_STR)
			return conv_fail(c, path,
					 "\"N\" takes the number as a string "
					 "(as in {\"N\": \"1.5\"}), not %s",
					 jtype_name(v->t));
		return conv_number(c, v, path, out);
	case AV_B:
		if (v->t != J_STR)
			break;
		rc = conv_b64(c, v, path, &s);
		if (rc)
			return rc;
		*out = av_make("B", s);
		return *out ? 0 : -ENOMEM;
	case AV_BOOL:
		if (v->t != J_TRUE && v->t != J_FALSE)
			break;
		*out = av_make("BOOL", json_boolean(v->t == J_TRUE));
		return *out ? 0 : -ENOMEM;
	case AV_NULL:
		if (v->t != J_TRUE)
			return conv_fail(c, path, "\"NULL\" must be true");
		*out = av_make("NULL", json_true());
		return *out ? 0 : -ENOMEM;
	case AV_SS:
	case AV_NS:
	case AV_BS:
		return conv_set(c, v, t, path, out);
	case AV_L:
		if (v->t != J_ARR)
			break;
		return conv_list(c, v, path, level + 1, out);
	case AV_M:
		if (v->t != J_OBJ)
			break;
		return conv_mapav(c, v, path, level + 1, out);
	default:
		disp_copy(shown, sizeof(shown), j->keys[0].s, j->keys[0].n);
		return conv_fail(c, path,
				 "unknown type tag \"%s\" (expected S, N, B, "
				 "BOOL, NULL, M, L, SS, NS or BS)",
				 shown);
	}
	return conv_fail(c, path, "\"%s\" cannot hold %s", av_tags[t],
			 jtype_name(v->t));
}

static int conv_value(struct conv *c, const struct jnode *j,
		      const struct pseg *path, int level, json_t **out)
{
	if (c->f == CODEC_DDB)
		return conv_ddb(c, j, path, level, out);
	return conv_plain(c, j, path, level, out);
}

/* The members of a JSON object as a map of level `level` (the item is 1). */
static int conv_map(struct conv *c, const struct jnode *j,
		    const struct pseg *path, int level, json_t **out)
{
	json_t *map = json_object();
	int rc = 0;

	*out = NULL;
	if (!map)
		return -ENOMEM;
	for (size_t i = 0; i < j->cnt; i++) {
		const struct jkey *k = &j->keys[i];
		struct pseg seg = {.up = path, .key = k->s, .klen = k->n};
		json_t *v = NULL;

		if (k->n == 0) {
			rc = conv_fail(c, path,
				       "an attribute name cannot be empty");
			goto out;
		}
		if (k->n > NAME_MAX_LEN) {
			rc = conv_fail(c, &seg,
				       "attribute name is %zu bytes (DynamoDB "
				       "allows 65535)",
				       k->n);
			goto out;
		}
		rc = conv_value(c, j->kids[i], &seg, level, &v);
		if (rc)
			goto out;
		if (json_object_setn_new_nocheck(map, k->s, k->n, v) != 0) {
			rc = -ENOMEM;
			goto out;
		}
	}
	*out = map;
	map = NULL;
out:
	json_decref(map);
	return rc;
}

/* -EFBIG with a message when item is over DynamoDB's limit. */
static int check_size(const json_t *item, struct codec_error *err)
{
	size_t size = 0;
	int rc = codec_item_size(item, &size);

	if (rc) {
		err_msg(err, "malformed item");
		return rc;
	}
	if (size <= CODEC_ITEM_MAX)
		return 0;
	err_msg(err,
		"item is %zu bytes as DynamoDB counts them, over the 400 KB "
		"limit (%u bytes)",
		size, CODEC_ITEM_MAX);
	return -EFBIG;
}

/* Reads the one JSON object at rd->pos (not at the end) and converts it. */
static int parse_text(struct reader *rd, struct conv *c, json_t **out)
{
	static const char *const kinds[] = {['['] = "an array",
					    ['"'] = "a string",
					    ['t'] = "true",
					    ['f'] = "false",
					    ['n'] = "null"};
	struct jnode *root = NULL;
	unsigned char ch = (unsigned char)rd->p[rd->pos];
	const char *kind = NULL;
	char tmp[16];
	int rc = 0;

	if (ch < sizeof(kinds) / sizeof(kinds[0]))
		kind = kinds[ch];
	if (ch == '-' || is_digit((char)ch))
		kind = "a number";
	if (kind) {
		rc = rd_fail(rd, rd->pos,
			     "expected '{': an item file holds one JSON "
			     "object, not %s",
			     kind);
		goto out;
	}
	if (ch != '{') {
		rc = rd_fail(rd, rd->pos,
			     "expected '{' to start the item, found %s",
			     rd_what(rd, tmp, sizeof(tmp)));
		goto out;
	}
	rc = rd_value(rd, 1, &root);
	if (rc)
		goto out;
	rd_ws(rd);
	if (rd->pos < rd->len && rd->p[rd->pos] == '{') {
		rc = rd_fail(rd, rd->pos,
			     "a second JSON object; an item file holds "
			     "exactly one");
		goto out;
	}
	if (rd->pos < rd->len) {
		rc = rd_fail(rd, rd->pos, "unexpected %s after the JSON object",
			     rd_what(rd, tmp, sizeof(tmp)));
		goto out;
	}
	rc = conv_map(c, root, NULL, 1, out);
out:
	jnode_free(root);
	return rc;
}

int codec_parse(const char *text, size_t len, enum codec_format f,
		json_t **item, struct codec_error *err)
{
	struct reader rd = {.p = text, .len = len, .err = err};
	struct conv c = {.f = f, .err = err};
	json_t *out = NULL;
	int rc = 0;

	*item = NULL;
	err_clear(err);
	if ((!text && len) || (f != CODEC_PLAIN && f != CODEC_DDB)) {
		rc = -EINVAL;
		goto out;
	}
	if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
		rd.pos = rd.base = 3;
	rd_ws(&rd);
	if (rd.pos < rd.len) {
		rc = parse_text(&rd, &c, &out);
		if (rc)
			goto out;
	} else {
		/* an empty file: an item with only its key, added later */
		out = json_object();
		if (!out) {
			rc = -ENOMEM;
			goto out;
		}
	}
	rc = check_size(out, err);
	if (rc)
		goto out;
	*item = out;
	out = NULL;
out:
	json_decref(out);
	return rc;
}

/* ------------------------------------------------------------------ */
/* keys */

static char type_of(enum av_type t)
{
	return t == AV_S ? 'S' : t == AV_N ? 'N' : t == AV_B ? 'B' : '?';
}

/* The key value's bytes: S as is, B decoded (into *tmp, caller frees). */
static int key_bytes(enum av_type t, const json_t *v, const char **p, size_t *n,
		     char **tmp)
{
	*tmp = NULL;
	if (t == AV_B) {
		int rc = b64_bytes(json_string_value(v), json_string_length(v),
				   tmp, n);

		*p = *tmp;
		return rc;
	}
	*p = json_string_value(v);
	*n = json_string_length(v);
	return 0;
}

/* Checks one key attribute of item (the sort key when range) against the
 * path's key, or adds it. */
static int apply_one(json_t *item, const char *name, char type, bool range,
		     const json_t *path_key, struct codec_error *err)
{
	json_t *pv, *iv, *pval = NULL, *ival = NULL, *copy = NULL;
	char *ptmp = NULL, *itmp = NULL;
	const char *pp = NULL, *ip = NULL;
	size_t pn = 0, in = 0, nlen = strlen(name);
	size_t max = ddbvalue_key_max(range);
	enum av_type pt, it;
	char pshown[64], ishown[64];
	bool same;
	int rc = 0;

	pv = json_object_getn(path_key, name, nlen);
	pt = pv ? av_split(pv, &pval) : AV_BAD;
	if (type_of(pt) != type) {
		err_msg(err, "the path's key has no %s attribute \"%s\"",
			ddbvalue_key_type_words(type), name);
		rc = -EINVAL;
		goto out;
	}
	iv = json_object_getn(item, name, nlen);
	if (!iv) {
		copy = json_deep_copy(pv);
		if (!copy ||
		    json_object_setn_new_nocheck(item, name, nlen, copy) != 0)
			rc = -ENOMEM;
		goto out;
	}
	if (err)
		disp_copy(err->path, sizeof(err->path), name, nlen);
	it = av_split(iv, &ival);
	if (type_of(it) != type) {
		err_msg(err, "a key attribute must be %s, not %s",
			ddbvalue_key_type_words(type),
			it == AV_BAD ? "a malformed value" : av_tags[it]);
		rc = -EINVAL;
		goto out;
	}
	disp_copy(pshown, sizeof(pshown), json_string_value(pval),
		  json_string_length(pval));
	disp_copy(ishown, sizeof(ishown), json_string_value(ival),
		  json_string_length(ival));
	if (type == 'N') {
		rc = num_check(json_string_value(ival),
			       json_string_length(ival), NULL, err);
		if (rc)
			goto out;
		same = codec_number_compare(json_string_value(ival),
					    json_string_value(pval)) == 0;
	} else {
		rc = key_bytes(it, ival, &ip, &in, &itmp);
		if (rc == 0)
			rc = key_bytes(pt, pval, &pp, &pn, &ptmp);
		if (rc == -EINVAL)
			err_msg(err, "invalid base64");
		if (rc)
			goto out;
		if (in == 0) {
			err_msg(err, "a key attribute cannot be empty");
			rc = -EINVAL;
			goto out;
		}
		if (in > max) {
			err_msg(err,
				"a %s key value is at most %zu bytes, this one "
				"is %zu",
				range ? "sort" : "partition", max,
				in);
			rc = -EINVAL;
			goto out;
		}
		same = bytes_cmp(ip, in, pp, pn) == 0;
	}
	if (!same) {
		err_msg(err,
			"the key is %s in the file but %s in the file's name",
			ishown, pshown);
		rc = -EINVAL;
	}
out:
	free(ptmp);
	free(itmp);
	return rc;
}

int codec_apply_key(json_t *item, const struct codec_schema *s,
		    const json_t *path_key, struct codec_error *err)
{
	int rc;

	err_clear(err);
	if (!json_is_object(item) || !s || !s->hash_name ||
	    !json_is_object(path_key)) {
		err_msg(err, "no item or no key");
		return -EINVAL;
	}
	rc = apply_one(item, s->hash_name, s->hash_type, false, path_key, err);
	if (rc == 0 && s->range_name)
		rc = apply_one(item, s->range_name, s->range_type, true,
			       path_key, err);
	if (rc == 0)
		rc = check_size(item, err);
	return rc;
}

/* ------------------------------------------------------------------ */

const char *codec_strerror(const struct codec_error *err, char *buf, size_t len)
{
	if (!buf || !len)
		return buf;
	if (!err)
		snprintf(buf, len, "unknown error");
	else if (err->line)
		snprintf(buf, len, "line %u, column %u: %s", err->line,
			 err->column, err->message);
	else if (err->path[0])
		snprintf(buf, len, "attribute \"%s\": %s", err->path,
			 err->message);
	else
		snprintf(buf, len, "%s", err->message);
	return buf;
}
