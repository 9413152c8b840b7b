/* codec.c - the item codec: renders DynamoDB wire items as plain or DynamoDB
 * JSON in Python's json.dumps layout, and parses file text back, checked. */
#include "codec.h"
#include "ddbvalue.h"
#include "dynbuf.h"
#include "jsontext.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 65535

/* ------------------------------------------------------------------ */
/* errors */

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
 * The grammar and the limits are ddbvalue_number_parse's, the one that names
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
	jsontext_show(shown, sizeof(shown), t, n);
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

	if (depth > JSONTEXT_DEPTH_MAX)
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
	bool compact; /* one line, separators "," and ":" */
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

	if (r->compact)
		return;
	put_add(r, "\n", 1);
	for (int n = 2 * depth; n > 0; n -= 32)
		put_add(r, spaces, n < 32 ? (size_t)n : 32);
}

/* The separator between a key and its value, as json.dumps writes it. */
static void put_colon(struct render *r)
{
	put_add(r, ": ", r->compact ? 1 : 2);
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
	int rank;    /* map keys: 0 hash key, 1 range key, 2 others */
	char *bytes; /* BS: decoded; owned */
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

/* Sorts a set's n checked members into the order the file shows them. */
static void members_sort(struct member *m, size_t n, enum av_type t)
{
	qsort(m, n, sizeof(*m),
	      t == AV_NS ? member_cmp_ns
			 : (t == AV_BS ? member_cmp_bs : member_cmp_ss));
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
			rc = b64_bytes(m[i].s, m[i].n, &m[i].bytes, &m[i].blen);
			if (rc)
				goto out;
		}
	}
	members_sort(m, n, t);
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
			r->rc = ddbvalue_base64_encode(bytes.p, bytes.len,
						       false, &r->b);
		put_add(r, "\"", 1);
	}
	dynbuf_free(&bytes);
	return rc;
}

/* Writes a set's sorted members: what both renderers show of a set. */
static int put_set_members(struct render *r, const struct member *m, size_t n,
			   enum av_type t, int depth)
{
	int rc = 0;

	if (n == 0) {
		put_str(r, "[]");
		return 0;
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
	return rc;
}

static int render_set(struct render *r, const json_t *arr, enum av_type t,
		      int depth)
{
	struct member *m = NULL;
	size_t n = 0;
	int rc = set_sorted(arr, t, &m, &n);

	if (!rc)
		rc = put_set_members(r, m, n, t, depth);
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
	put_colon(r);
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
		put_json_string(r, json_string_value(v), json_string_length(v));
		return 0;
	case AV_N:
		if (plain)
			return put_number(r, json_string_value(v),
					  json_string_length(v));
		if (num_parse(json_string_value(v), json_string_length(v),
			      NULL) != 0)
			return -EINVAL;
		put_json_string(r, json_string_value(v), json_string_length(v));
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

	if (t == AV_BAD || depth > JSONTEXT_DEPTH_MAX)
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
		put_colon(r);
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

int codec_render_line(const json_t *item, const struct codec_schema *s,
		      enum codec_format f, struct dynbuf *out)
{
	struct render r = {.f = f, .compact = true, .b = *out};
	int rc;

	if (!json_is_object(item) || (f != CODEC_PLAIN && f != CODEC_DDB))
		return -EINVAL;
	rc = render_map(&r, item, s, 0);
	put_add(&r, "\n", 1);
	if (!rc)
		rc = r.rc;
	/* The buffer may have moved; what was appended before a failure is
	 * taken back. */
	if (rc)
		r.b.len = out->len;
	if (r.b.p)
		r.b.p[r.b.len] = '\0';
	*out = r.b;
	return rc;
}

/* ------------------------------------------------------------------ */
/* rendering straight from the wire bytes */

/* A GetItem answer parsed into a jansson tree costs a malloc per string and
 * object; the reader below lays the item out as a flat array of nodes over
 * the bytes instead (escaped strings alone are decoded aside), and the
 * renderer walks that. It takes only what it can vouch renders exactly as
 * json_loadb(JSON_ALLOW_NUL) + codec_render would: anything else (duplicate
 * keys, number tokens with an exponent or many digits, deep nesting, a
 * malformed item, bad JSON) is -ENOTSUP, and codec_render_member falls back
 * to that path, so it also fails the same way. */

enum raw_type {
	RAW_NULL,
	RAW_TRUE,
	RAW_FALSE,
	RAW_NUM,
	RAW_STR,
	RAW_ARR,
	RAW_OBJ
};

/* Subtrees are laid out in document order: a container's first member is
 * the next node, an object's members are a key node then the value's
 * subtree, and end is the index just past the subtree. */
struct raw_node {
	uint8_t t;
	bool dec;     /* RAW_STR: the bytes are in raw_doc.dec (escapes) */
	uint32_t end; /* index past this node's subtree */
	uint32_t cnt; /* RAW_ARR: elements; RAW_OBJ: members */
	size_t off;   /* RAW_STR: offset in the text, or in dec */
	size_t n;     /* RAW_STR: bytes */
};

/* Deeper than jansson's 2048 is refused by it; deeper than the renderer's
 * JSONTEXT_DEPTH_MAX by codec_render: either way the fallback says so. */
#define RAW_DEPTH_MAX (2 * JSONTEXT_DEPTH_MAX + 8)
#define RAW_INLINE    128 /* nodes without a malloc: any usual item */

struct raw_doc {
	const char *p;
	size_t len;
	size_t pos;
	struct raw_node *v; /* inl, or the heap once more are needed */
	uint32_t n, cap;
	struct dynbuf dec;
	struct raw_node inl[RAW_INLINE];
};

static void raw_free(struct raw_doc *d)
{
	if (d->v != d->inl)
		free(d->v);
	dynbuf_free(&d->dec);
}

/* A new node; -ENOMEM, or -ENOTSUP past what the indices hold. */
static int raw_push(struct raw_doc *d, enum raw_type t, uint32_t *idx)
{
	if (d->n == d->cap) {
		uint32_t cap = d->cap * 2;
		struct raw_node *v;

		if (cap > UINT32_MAX / 2)
			return -ENOTSUP;
		v = malloc((size_t)cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		memcpy(v, d->v, (size_t)d->n * sizeof(*v));
		if (d->v != d->inl)
			free(d->v);
		d->v = v;
		d->cap = cap;
	}
	*idx = d->n++;
	d->v[*idx] = (struct raw_node){.t = (uint8_t)t};
	return 0;
}

static void raw_ws(struct raw_doc *d)
{
	while (d->pos < d->len &&
	       (d->p[d->pos] == ' ' || d->p[d->pos] == '\n' ||
		d->p[d->pos] == '\r' || d->p[d->pos] == '\t'))
		d->pos++;
}

static int hex4(const char *s, uint32_t *out)
{
	uint32_t v = 0;

	for (int i = 0; i < 4; i++) {
		char c = s[i];
		int x;

		if (c >= '0' && c <= '9')
			x = c - '0';
		else if (c >= 'a' && c <= 'f')
			x = c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			x = c - 'A' + 10;
		else
			return -ENOTSUP;
		v = v << 4 | (uint32_t)x;
	}
	*out = v;
	return 0;
}

static int put_utf8(struct dynbuf *b, uint32_t cp)
{
	unsigned char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (unsigned char)(0xC0 | cp >> 6);
		u[1] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (unsigned char)(0xE0 | cp >> 12);
		u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
		u[2] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (unsigned char)(0xF0 | cp >> 18);
		u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3F));
		u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3F));
		u[3] = (unsigned char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return dynbuf_add(b, u, n);
}

/* The escape at p[pos] ('\\' already seen at pos - 1) decoded into dec, as
 * jansson decodes it: surrogate pairs joined, lone halves refused; a NUL
 * only where nul_ok (jansson refuses one in an object key). */
static int raw_escape(struct raw_doc *d, bool nul_ok)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *hit;
	uint32_t cp, lo;

	if (d->pos >= d->len)
		return -ENOTSUP;
	if (d->p[d->pos] != 'u') {
		hit = strchr(from, d->p[d->pos]);
		if (!hit || !*hit)
			return -ENOTSUP;
		d->pos++;
		return dynbuf_addc(&d->dec, to[hit - from]);
	}
	if (d->len - d->pos < 5 || hex4(d->p + d->pos + 1, &cp))
		return -ENOTSUP;
	d->pos += 5;
	if (cp >= 0xDC00 && cp <= 0xDFFF)
		return -ENOTSUP;
	if (cp >= 0xD800 && cp <= 0xDBFF) {
		if (d->len - d->pos < 6 || d->p[d->pos] != '\\' ||
		    d->p[d->pos + 1] != 'u' || hex4(d->p + d->pos + 2, &lo) ||
		    lo < 0xDC00 || lo > 0xDFFF)
			return -ENOTSUP;
		d->pos += 6;
		cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
	}
	if (cp == 0 && !nul_ok)
		return -ENOTSUP;
	return put_utf8(&d->dec, cp);
}

/* The string at p[pos] ('"'), strict as jansson: valid UTF-8, no control
 * bytes. Bytes without escapes stay where they are. */
static int raw_string(struct raw_doc *d, uint32_t idx, bool key)
{
	size_t start = ++d->pos, run;
	int rc;

	while (d->pos < d->len) {
		unsigned char c = (unsigned char)d->p[d->pos];
		size_t k;

		if (c == '"') {
			d->v[idx].off = start;
			d->v[idx].n = d->pos++ - start;
			return 0;
		}
		if (c == '\\')
			break;
		if (c < 0x20)
			return -ENOTSUP;
		if (c < 0x80) {
			d->pos++;
			continue;
		}
		k = ddbvalue_utf8_char_len(d->p + d->pos, d->len - d->pos);
		if (!k)
			return -ENOTSUP;
		d->pos += k;
	}
	if (d->pos >= d->len)
		return -ENOTSUP;
	/* Escaped: the decoded bytes go to dec, in one piece. */
	d->v[idx].dec = true;
	d->v[idx].off = d->dec.len;
	rc = dynbuf_add(&d->dec, d->p + start, d->pos - start);
	while (!rc) {
		unsigned char c;
		size_t k;

		if (d->pos >= d->len)
			return -ENOTSUP;
		c = (unsigned char)d->p[d->pos];
		if (c == '"') {
			d->v[idx].n = d->dec.len - d->v[idx].off;
			d->pos++;
			return 0;
		}
		if (c == '\\') {
			d->pos++;
			rc = raw_escape(d, !key);
			continue;
		}
		if (c < 0x20)
			return -ENOTSUP;
		run = d->pos;
		if (c < 0x80) {
			k = 1;
		} else {
			k = ddbvalue_utf8_char_len(d->p + d->pos,
						   d->len - d->pos);
			if (!k)
				return -ENOTSUP;
		}
		d->pos += k;
		rc = dynbuf_add(&d->dec, d->p + run, k);
	}
	return rc;
}

/* A number token as JSON writes it; with an exponent or more than 15
 * characters, jansson's range checks (integer overflow, a double out of
 * range) are left to it. */
static int raw_number(struct raw_doc *d)
{
	size_t start = d->pos;
	bool digits = false;

	if (d->p[d->pos] == '-')
		d->pos++;
	if (d->pos < d->len && d->p[d->pos] == '0') {
		d->pos++;
		digits = true;
	} else {
		while (d->pos < d->len && d->p[d->pos] >= '0' &&
		       d->p[d->pos] <= '9') {
			d->pos++;
			digits = true;
		}
	}
	if (!digits)
		return -ENOTSUP;
	if (d->pos < d->len && d->p[d->pos] == '.') {
		d->pos++;
		digits = false;
		while (d->pos < d->len && d->p[d->pos] >= '0' &&
		       d->p[d->pos] <= '9') {
			d->pos++;
			digits = true;
		}
		if (!digits)
			return -ENOTSUP;
	}
	if (d->pos < d->len && (d->p[d->pos] == 'e' || d->p[d->pos] == 'E' ||
				(d->p[d->pos] >= '0' && d->p[d->pos] <= '9')))
		return -ENOTSUP;
	return d->pos - start > 15 ? -ENOTSUP : 0;
}

static int raw_value(struct raw_doc *d, int depth)
{
	static const char *const words[] = {"null", "true", "false"};
	uint32_t idx, key;
	size_t wl;
	char c;
	int rc;

	raw_ws(d);
	if (d->pos >= d->len || depth > RAW_DEPTH_MAX)
		return -ENOTSUP;
	c = d->p[d->pos];
	switch (c) {
	case '"':
		rc = raw_push(d, RAW_STR, &idx);
		if (!rc)
			rc = raw_string(d, idx, false);
		break;
	case 'n':
	case 't':
	case 'f':
		rc = raw_push(
		    d, c == 'n' ? RAW_NULL : (c == 't' ? RAW_TRUE : RAW_FALSE),
		    &idx);
		if (rc)
			break;
		wl = strlen(words[d->v[idx].t]);
		if (d->len - d->pos < wl ||
		    memcmp(d->p + d->pos, words[d->v[idx].t], wl) != 0)
			return -ENOTSUP;
		d->pos += wl;
		break;
	case '[':
	case '{':
		rc = raw_push(d, c == '[' ? RAW_ARR : RAW_OBJ, &idx);
		if (rc)
			break;
		d->pos++;
		raw_ws(d);
		if (d->pos < d->len && d->p[d->pos] == (c == '[' ? ']' : '}')) {
			d->pos++;
			break;
		}
		for (;;) {
			if (c == '{') {
				raw_ws(d);
				if (d->pos >= d->len || d->p[d->pos] != '"')
					return -ENOTSUP;
				rc = raw_push(d, RAW_STR, &key);
				if (!rc)
					rc = raw_string(d, key, true);
				if (rc)
					return rc;
				d->v[key].end = key + 1;
				raw_ws(d);
				if (d->pos >= d->len || d->p[d->pos] != ':')
					return -ENOTSUP;
				d->pos++;
			}
			rc = raw_value(d, depth + 1);
			if (rc)
				return rc;
			d->v[idx].cnt++;
			raw_ws(d);
			if (d->pos < d->len && d->p[d->pos] == ',') {
				d->pos++;
				continue;
			}
			if (d->pos < d->len &&
			    d->p[d->pos] == (c == '[' ? ']' : '}')) {
				d->pos++;
				break;
			}
			return -ENOTSUP;
		}
		break;
	default:
		if (c != '-' && (c < '0' || c > '9'))
			return -ENOTSUP;
		rc = raw_push(d, RAW_NUM, &idx);
		if (!rc)
			rc = raw_number(d);
		break;
	}
	if (!rc)
		d->v[idx].end = d->n;
	return rc;
}

static void raw_init(struct raw_doc *d, const char *p, size_t len)
{
	d->p = p;
	d->len = len;
	d->pos = 0;
	d->v = d->inl;
	d->n = 0;
	d->cap = RAW_INLINE;
	d->dec = (struct dynbuf){0};
}

/* Reads the one JSON value of the len bytes at p (whitespace around it). */
static int raw_parse(struct raw_doc *d, const char *p, size_t len)
{
	int rc;

	raw_init(d, p, len);
	/* A raw NUL is never JSON, but jansson steps over one after a
	 * number: whatever jansson makes of it, it does so on its own. */
	if (memchr(p, '\0', len))
		return -ENOTSUP;
	rc = raw_value(d, 1);
	if (rc)
		return rc;
	raw_ws(d);
	return d->pos == len ? 0 : -ENOTSUP;
}

static const char *raw_str(const struct raw_doc *d, uint32_t idx, size_t *n)
{
	const struct raw_node *v = &d->v[idx];

	*n = v->n;
	return v->dec ? d->dec.p + v->off : d->p + v->off;
}

/* Members of a small map or set on the stack; bigger ones on the heap. */
#define RAW_MEMBERS 32

/* A map member: what member_cmp_key needs, small enough for the stack at
 * every level of nesting. */
struct raw_key {
	const char *s;
	size_t n;
	int rank; /* 0 hash key, 1 range key, 2 others */
	uint32_t val;
};

static int raw_key_cmp(const void *pa, const void *pb)
{
	const struct raw_key *a = pa, *b = pb;

	if (a->rank != b->rank)
		return a->rank < b->rank ? -1 : 1;
	return bytes_cmp(a->s, a->n, b->s, b->n);
}

static int raw_render_av(struct render *r, const struct raw_doc *d,
			 uint32_t idx, int depth);
static int raw_render_map(struct render *r, const struct raw_doc *d,
			  uint32_t idx, const struct codec_schema *sc,
			  int depth);

/* As map_sorted, over an object node; two equal keys are -ENOTSUP (jansson
 * keeps the last one). *out is stack when it is, else caller frees. */
static int raw_map_sorted(const struct raw_doc *d, uint32_t idx,
			  const struct codec_schema *sc, struct raw_key *stack,
			  struct raw_key **out)
{
	uint32_t n = d->v[idx].cnt, k = idx + 1;
	struct raw_key *m = n <= RAW_MEMBERS ? stack : calloc(n, sizeof(*m));

	if (!m)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		m[i] = (struct raw_key){.rank = 2, .val = k + 1};
		m[i].s = raw_str(d, k, &m[i].n);
		if (sc && name_is(sc->hash_name, m[i].s, m[i].n))
			m[i].rank = 0;
		else if (sc && name_is(sc->range_name, m[i].s, m[i].n))
			m[i].rank = 1;
		k = d->v[k + 1].end;
	}
	qsort(m, n, sizeof(*m), raw_key_cmp);
	for (uint32_t i = 1; i < n; i++) {
		if (raw_key_cmp(&m[i - 1], &m[i]) == 0) {
			if (m != stack)
				free(m);
			return -ENOTSUP;
		}
	}
	*out = m;
	return 0;
}

static bool raw_map_needs_escape(const struct raw_doc *d, uint32_t idx)
{
	static const char *const tags[] = {"$B", "$SS", "$NS", "$BS", "$M"};
	const char *key;
	size_t klen;

	if (d->v[idx].cnt != 1)
		return false;
	key = raw_str(d, idx + 1, &klen);
	for (size_t i = 0; i < sizeof(tags) / sizeof(tags[0]); i++)
		if (name_is(tags[i], key, klen))
			return true;
	return false;
}

/* As set_sorted and render_set over an array node. */
static int raw_render_set(struct render *r, const struct raw_doc *d,
			  uint32_t idx, enum av_type t, int depth)
{
	struct member stack[RAW_MEMBERS];
	uint32_t n = d->v[idx].cnt, k = idx + 1;
	struct member *m = n <= RAW_MEMBERS ? stack : calloc(n, sizeof(*m));
	int rc = 0;

	if (!m)
		return -ENOMEM;
	if (m == stack)
		memset(m, 0, (size_t)n * sizeof(*m));
	for (uint32_t i = 0; i < n; i++, k = d->v[k].end) {
		m[i].index = i;
		if (d->v[k].t != RAW_STR) {
			rc = -ENOTSUP;
			goto out;
		}
		m[i].s = raw_str(d, k, &m[i].n);
		if (t == AV_NS && num_parse(m[i].s, m[i].n, &m[i].num) != 0) {
			rc = -ENOTSUP;
			goto out;
		}
		if (t == AV_BS) {
			rc = b64_bytes(m[i].s, m[i].n, &m[i].bytes, &m[i].blen);
			if (rc)
				goto out;
		}
	}
	members_sort(m, n, t);
	rc = put_set_members(r, m, n, t, depth);
out:
	for (uint32_t i = 0; i < n; i++)
		free(m[i].bytes);
	if (m != stack)
		free(m);
	return rc;
}

static int raw_render_list(struct render *r, const struct raw_doc *d,
			   uint32_t idx, int depth)
{
	uint32_t k = idx + 1;
	int rc;

	if (d->v[idx].cnt == 0) {
		put_str(r, "[]");
		return 0;
	}
	put_add(r, "[", 1);
	for (uint32_t i = 0; i < d->v[idx].cnt; i++, k = d->v[k].end) {
		if (i)
			put_add(r, ",", 1);
		put_newline(r, depth + 1);
		rc = raw_render_av(r, d, k, depth + 1);
		if (rc)
			return rc;
	}
	put_newline(r, depth);
	put_add(r, "]", 1);
	return 0;
}

/* As render_payload; v is the payload's node. */
static int raw_render_payload(struct render *r, const struct raw_doc *d,
			      enum av_type t, uint32_t v, int depth)
{
	bool plain = r->f == CODEC_PLAIN;
	const char *s = NULL;
	size_t n = 0;
	int rc = 0;

	if (d->v[v].t == RAW_STR)
		s = raw_str(d, v, &n);
	switch (t) {
	case AV_S:
		put_json_string(r, s, n);
		return 0;
	case AV_N:
		if (plain)
			return put_number(r, s, n);
		if (num_parse(s, n, NULL) != 0)
			return -EINVAL;
		put_json_string(r, s, n);
		return 0;
	case AV_B:
		if (!plain)
			return render_b64(r, s, n);
		render_open(r, "$B", depth);
		rc = render_b64(r, s, n);
		render_close(r, depth);
		return rc;
	case AV_BOOL:
		put_str(r, d->v[v].t == RAW_TRUE ? "true" : "false");
		return 0;
	case AV_NULL:
		put_str(r, plain ? "null"
				 : (d->v[v].t == RAW_TRUE ? "true" : "false"));
		return 0;
	case AV_SS:
	case AV_NS:
	case AV_BS:
		if (!plain)
			return raw_render_set(r, d, v, t, depth);
		render_open(r,
			    t == AV_SS ? "$SS" : (t == AV_NS ? "$NS" : "$BS"),
			    depth);
		rc = raw_render_set(r, d, v, t, depth + 1);
		render_close(r, depth);
		return rc;
	case AV_L:
		return raw_render_list(r, d, v, depth);
	case AV_M:
		if (!plain || !raw_map_needs_escape(d, v))
			return raw_render_map(r, d, v, NULL, depth);
		render_open(r, "$M", depth);
		rc = raw_render_map(r, d, v, NULL, depth + 1);
		render_close(r, depth);
		return rc;
	default:
		return -EINVAL;
	}
}

/* As av_split and render_av: {"T": payload}, one member, payload of T's
 * JSON type. */
static int raw_render_av(struct render *r, const struct raw_doc *d,
			 uint32_t idx, int depth)
{
	const char *tag;
	size_t tlen;
	enum av_type t;
	uint32_t v = idx + 2;
	uint8_t vt;
	bool ok;
	int rc;

	if (d->v[idx].t != RAW_OBJ || d->v[idx].cnt != 1 ||
	    depth > JSONTEXT_DEPTH_MAX)
		return -ENOTSUP;
	tag = raw_str(d, idx + 1, &tlen);
	t = tag_type(tag, tlen);
	vt = d->v[v].t;
	switch (t) {
	case AV_S:
	case AV_N:
	case AV_B:
		ok = vt == RAW_STR;
		break;
	case AV_SS:
	case AV_NS:
	case AV_BS:
	case AV_L:
		ok = vt == RAW_ARR;
		break;
	case AV_M:
		ok = vt == RAW_OBJ;
		break;
	case AV_BOOL:
	case AV_NULL:
		ok = vt == RAW_TRUE || vt == RAW_FALSE;
		break;
	default:
		ok = false;
		break;
	}
	if (!ok)
		return -ENOTSUP;
	if (r->f == CODEC_PLAIN)
		return raw_render_payload(r, d, t, v, depth);
	render_open(r, av_tags[t], depth);
	rc = raw_render_payload(r, d, t, v, depth + 1);
	render_close(r, depth);
	return rc;
}

static int raw_render_map(struct render *r, const struct raw_doc *d,
			  uint32_t idx, const struct codec_schema *sc,
			  int depth)
{
	struct raw_key stack[RAW_MEMBERS];
	struct raw_key *m = NULL;
	uint32_t n = d->v[idx].cnt;
	int rc = raw_map_sorted(d, idx, sc, stack, &m);

	if (rc)
		return rc;
	if (n == 0) {
		put_str(r, "{}");
		goto out;
	}
	put_add(r, "{", 1);
	for (uint32_t i = 0; i < n; i++) {
		if (i)
			put_add(r, ",", 1);
		put_newline(r, depth + 1);
		put_json_string(r, m[i].s, m[i].n);
		put_colon(r);
		rc = raw_render_av(r, d, m[i].val, depth + 1);
		if (rc)
			goto out;
	}
	put_newline(r, depth);
	put_add(r, "}", 1);
out:
	if (m != stack)
		free(m);
	return rc;
}

/* Renders the object node idx of d as codec_render would. */
static int raw_render_item(const struct raw_doc *d, uint32_t idx,
			   const struct codec_schema *s, enum codec_format f,
			   char **text, size_t *len)
{
	struct render r = {.f = f};
	int rc;

	*text = NULL;
	*len = 0;
	if (d->v[idx].t != RAW_OBJ || (f != CODEC_PLAIN && f != CODEC_DDB))
		return -ENOTSUP;
	/* The text is about as long as the wire item (type tags out,
	 * indentation in): one allocation for most. */
	r.b.cap = d->len + d->len / 2 + 64;
	r.b.p = malloc(r.b.cap);
	if (!r.b.p)
		return -ENOMEM;
	r.b.p[0] = '\0';
	rc = raw_render_map(&r, d, idx, s, 0);
	put_add(&r, "\n", 1);
	if (!rc)
		rc = r.rc;
	if (!rc) {
		*len = r.b.len;
		*text = dynbuf_take(&r.b);
	}
	dynbuf_free(&r.b);
	return rc == 0 || rc == -ENOMEM ? rc : -ENOTSUP;
}

int codec_render_raw(const char *json, size_t len, const struct codec_schema *s,
		     enum codec_format f, char **text, size_t *tlen)
{
	struct raw_doc d;
	int rc;

	*text = NULL;
	*tlen = 0;
	rc = raw_parse(&d, json, len);
	if (!rc)
		rc = raw_render_item(&d, 0, s, f, text, tlen);
	raw_free(&d);
	return rc == -ENOMEM ? rc : (rc ? -ENOTSUP : 0);
}

int codec_json_span(const char *p, size_t len, size_t *used)
{
	struct raw_doc d;
	int rc;

	*used = 0;
	raw_init(&d, p, len);
	raw_ws(&d);
	/* Only a container ends where jansson's lexer does: after a bare
	 * word or number it reads on through letters ("nullx"). */
	if (d.pos >= len || (p[d.pos] != '{' && p[d.pos] != '['))
		return -ENOTSUP;
	rc = raw_value(&d, 1);
	/* No raw NUL gets through the reader, but one is where jansson
	 * and the reader part ways: the check costs a memchr. */
	if (!rc && memchr(p, '\0', d.pos))
		rc = -ENOTSUP;
	if (!rc)
		*used = d.pos;
	raw_free(&d);
	return rc == -ENOMEM ? rc : (rc ? -ENOTSUP : 0);
}

/* The value of the top-level attribute name of the item node 0, as
 * jansson would build it, when it is a key's shape ({"S"|"N"|"B": string});
 * *out NULL when the item has no such attribute. -ENOTSUP for any other
 * shape or a name given twice (jansson keeps the last one), -ENOMEM. */
static int raw_key_value(const struct raw_doc *d, const char *name,
			 json_t **out)
{
	uint32_t k = 1, found = 0;
	const char *key, *s;
	size_t klen, n;
	enum av_type t;
	int hits = 0;
	json_t *str;

	*out = NULL;
	if (!name)
		return 0;
	for (uint32_t i = 0; i < d->v[0].cnt; i++, k = d->v[k + 1].end) {
		key = raw_str(d, k, &klen);
		if (name_is(name, key, klen)) {
			found = k + 1;
			hits++;
		}
	}
	if (!hits)
		return 0;
	if (hits > 1 || d->v[found].t != RAW_OBJ || d->v[found].cnt != 1 ||
	    d->v[found + 2].t != RAW_STR)
		return -ENOTSUP;
	key = raw_str(d, found + 1, &klen);
	t = tag_type(key, klen);
	if (t != AV_S && t != AV_N && t != AV_B)
		return -ENOTSUP;
	s = raw_str(d, found + 2, &n);
	*out = json_object();
	str = json_stringn(s, n);
	if (!*out || !str || json_object_set_new(*out, av_tags[t], str)) {
		if (!*out)
			json_decref(str);
		json_decref(*out);
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}

int codec_render_keyed(const char *json, size_t len,
		       const struct codec_schema *s, enum codec_format f,
		       json_t **hash, json_t **range, char **text, size_t *tlen)
{
	struct raw_doc d;
	int rc;

	*hash = NULL;
	*range = NULL;
	if (text) {
		*text = NULL;
		*tlen = 0;
	}
	rc = raw_parse(&d, json, len);
	if (!rc && d.v[0].t != RAW_OBJ)
		rc = -ENOTSUP;
	if (!rc)
		rc = raw_key_value(&d, s ? s->hash_name : NULL, hash);
	if (!rc)
		rc = raw_key_value(&d, s ? s->range_name : NULL, range);
	if (!rc && text)
		rc = raw_render_item(&d, 0, s, f, text, tlen);
	raw_free(&d);
	if (rc) {
		json_decref(*hash);
		json_decref(*range);
		*hash = NULL;
		*range = NULL;
	}
	return rc == -ENOMEM ? rc : (rc ? -ENOTSUP : 0);
}

int codec_render_raw_line(const char *json, size_t len,
			  const struct codec_schema *s, enum codec_format f,
			  struct dynbuf *out)
{
	struct render r = {.f = f, .compact = true, .b = *out};
	struct raw_doc d;
	int rc;

	rc = raw_parse(&d, json, len);
	if (!rc &&
	    (d.v[0].t != RAW_OBJ || (f != CODEC_PLAIN && f != CODEC_DDB)))
		rc = -ENOTSUP;
	if (!rc) {
		rc = raw_render_map(&r, &d, 0, s, 0);
		put_add(&r, "\n", 1);
		if (!rc)
			rc = r.rc;
		/* As codec_render_line: what a failure appended is taken
		 * back, from a buffer that may have moved. */
		if (rc)
			r.b.len = out->len;
		if (r.b.p)
			r.b.p[r.b.len] = '\0';
		*out = r.b;
	}
	raw_free(&d);
	return rc == -ENOMEM ? rc : (rc ? -ENOTSUP : 0);
}

/* The slow path: jansson's tree, as ddb_call and codec_render read it. */
static int member_render_tree(const char *body, size_t len, const char *member,
			      const struct codec_schema *s, enum codec_format f,
			      char **text, size_t *tlen)
{
	json_t *doc = json_loadb(body, len, JSON_ALLOW_NUL, NULL);
	json_t *it = json_object_get(doc, member);
	int rc;

	if (!json_is_object(doc))
		rc = -EBADMSG;
	else if (!json_is_object(it))
		rc = -ENOENT;
	else
		rc = codec_render(it, s, f, text, tlen);
	json_decref(doc);
	return rc;
}

int codec_render_member(const char *body, size_t len, const char *member,
			const struct codec_schema *s, enum codec_format f,
			char **text, size_t *tlen)
{
	struct raw_doc doc, *d = &doc;
	uint32_t found = 0, k;
	size_t mlen = strlen(member);
	int rc, hits = 0;

	*text = NULL;
	*tlen = 0;
	rc = raw_parse(d, body, len);
	if (!rc && d->v[0].t != RAW_OBJ)
		rc = -ENOTSUP;
	k = 1;
	for (uint32_t i = 0; !rc && i < d->v[0].cnt; i++, k = d->v[k + 1].end) {
		const char *key;
		size_t klen;

		key = raw_str(d, k, &klen);
		if (klen == mlen && memcmp(key, member, mlen) == 0) {
			found = k + 1;
			hits++;
		}
	}
	/* A member given twice: jansson keeps the last, left to it. */
	if (!rc && hits > 1)
		rc = -ENOTSUP;
	if (!rc && (!hits || d->v[found].t != RAW_OBJ))
		rc = -ENOENT;
	if (!rc)
		rc = raw_render_item(d, found, s, f, text, tlen);
	raw_free(d);
	if (rc == -ENOTSUP)
		rc = member_render_tree(body, len, member, s, f, text, tlen);
	return rc;
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
	jsontext_show(dst + *o, size - *o, s, n);
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

static int conv_map(struct conv *c, const struct jsontext_node *j,
		    const struct pseg *path, int level, json_t **out);
static int conv_value(struct conv *c, const struct jsontext_node *j,
		      const struct pseg *path, int level, json_t **out);

static int conv_level(struct conv *c, const struct pseg *path, int level)
{
	if (level <= CODEC_DEPTH_MAX)
		return 0;
	return conv_fail(c, path,
			 "nested deeper than DynamoDB's 32 levels (the item "
			 "is level 1, each list or map inside one more)");
}

static int conv_number(struct conv *c, const struct jsontext_node *j,
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

static int conv_b64(struct conv *c, const struct jsontext_node *j,
		    const struct pseg *path, json_t **out)
{
	size_t n;

	if (j->t != JSONTEXT_STRING)
		return conv_fail(c, path,
				 "binary must be a base64 string, "
				 "not %s",
				 jsontext_type_name(j->t));
	if (ddbvalue_base64_decode(j->s, j->n, false, NULL, &n) != 0)
		return conv_fail(c, path,
				 "invalid base64 (standard alphabet, '=' "
				 "padding to a multiple of 4)");
	*out = json_stringn_nocheck(j->s, j->n);
	return *out ? 0 : -ENOMEM;
}

/* A set: non-empty, members of the right type, no two equal (NS by value,
 * BS by decoded bytes). Members stay in file order and text. */
static int conv_set(struct conv *c, const struct jsontext_node *j,
		    enum av_type t, const struct pseg *path, json_t **out)
{
	static const char *const what[] = {
	    [AV_SS] = "string", [AV_NS] = "number", [AV_BS] = "binary"};
	struct member *m = NULL;
	json_t *arr = NULL;
	size_t best = SIZE_MAX, orig = 0;
	int rc = 0;

	*out = NULL;
	if (j->t != JSONTEXT_ARRAY) {
		rc = conv_fail(c, path, "a %s set must be an array, not %s",
			       what[t], jsontext_type_name(j->t));
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
		const struct jsontext_node *k = j->kids[i];
		struct pseg seg = {.up = path, .index = i};
		bool want_str = t != AV_NS || c->f == CODEC_DDB;
		json_t *s;

		if ((want_str && k->t != JSONTEXT_STRING) ||
		    (!want_str && k->t != JSONTEXT_NUMBER)) {
			rc = conv_fail(
			    c, &seg, "a %s set member must be %s, not %s",
			    what[t], want_str ? "a string" : "a number",
			    jsontext_type_name(k->t));
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
		int eq = t == AV_NS
			     ? ddbvalue_number_compare(&m[i].num, &m[i - 1].num)
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

static int conv_list(struct conv *c, const struct jsontext_node *j,
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

static int conv_mapav(struct conv *c, const struct jsontext_node *j,
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
static int conv_tagged(struct conv *c, const struct jsontext_key *tag,
		       const struct jsontext_node *v, const struct pseg *path,
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
	if (v->t != JSONTEXT_OBJECT)
		return conv_fail(c, path, "\"$M\" must hold an object, not %s",
				 jsontext_type_name(v->t));
	return conv_mapav(c, v, path, level, out);
}

static bool is_tag(const struct jsontext_key *k)
{
	return name_is("$B", k->s, k->n) || name_is("$SS", k->s, k->n) ||
	       name_is("$NS", k->s, k->n) || name_is("$BS", k->s, k->n) ||
	       name_is("$M", k->s, k->n);
}

/* A value of the plain format; level is that of the enclosing map or
 * list, so a list or map here is level + 1. */
static int conv_plain(struct conv *c, const struct jsontext_node *j,
		      const struct pseg *path, int level, json_t **out)
{
	*out = NULL;
	switch (j->t) {
	case JSONTEXT_STRING:
		*out = av_make("S", json_stringn_nocheck(j->s, j->n));
		return *out ? 0 : -ENOMEM;
	case JSONTEXT_NUMBER:
		return conv_number(c, j, path, out);
	case JSONTEXT_TRUE:
	case JSONTEXT_FALSE:
		*out = av_make("BOOL", json_boolean(j->t == JSONTEXT_TRUE));
		return *out ? 0 : -ENOMEM;
	case JSONTEXT_NULL:
		*out = av_make("NULL", json_true());
		return *out ? 0 : -ENOMEM;
	case JSONTEXT_ARRAY:
		return conv_list(c, j, path, level + 1, out);
	case JSONTEXT_OBJECT:
		if (j->cnt == 1 && is_tag(&j->keys[0]))
			return conv_tagged(c, &j->keys[0], j->kids[0], path,
					   level + 1, out);
		return conv_mapav(c, j, path, level + 1, out);
	}
	return -EINVAL;
}

/* A DynamoDB JSON attribute value {"T": v}. */
static int conv_ddb(struct conv *c, const struct jsontext_node *j,
		    const struct pseg *path, int level, json_t **out)
{
	const struct jsontext_node *v;
	enum av_type t;
	char shown[40];
	json_t *s = NULL;
	int rc;

	*out = NULL;
	if (j->t != JSONTEXT_OBJECT)
		return conv_fail(c, path,
				 "an attribute value must be an object with "
				 "one type tag, as in {\"S\": \"x\"}, not %s",
				 jsontext_type_name(j->t));
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
		if (v->t != JSONTEXT_STRING)
			break;
		*out = av_make("S", json_stringn_nocheck(v->s, v->n));
		return *out ? 0 : -ENOMEM;
	case AV_N:
		if (v->t != JSONTEXT_STRING)
			return conv_fail(c, path,
					 "\"N\" takes the number as a string "
					 "(as in {\"N\": \"1.5\"}), not %s",
					 jsontext_type_name(v->t));
		return conv_number(c, v, path, out);
	case AV_B:
		if (v->t != JSONTEXT_STRING)
			break;
		rc = conv_b64(c, v, path, &s);
		if (rc)
			return rc;
		*out = av_make("B", s);
		return *out ? 0 : -ENOMEM;
	case AV_BOOL:
		if (v->t != JSONTEXT_TRUE && v->t != JSONTEXT_FALSE)
			break;
		*out = av_make("BOOL", json_boolean(v->t == JSONTEXT_TRUE));
		return *out ? 0 : -ENOMEM;
	case AV_NULL:
		if (v->t != JSONTEXT_TRUE)
			return conv_fail(c, path, "\"NULL\" must be true");
		*out = av_make("NULL", json_true());
		return *out ? 0 : -ENOMEM;
	case AV_SS:
	case AV_NS:
	case AV_BS:
		return conv_set(c, v, t, path, out);
	case AV_L:
		if (v->t != JSONTEXT_ARRAY)
			break;
		return conv_list(c, v, path, level + 1, out);
	case AV_M:
		if (v->t != JSONTEXT_OBJECT)
			break;
		return conv_mapav(c, v, path, level + 1, out);
	default:
		jsontext_show(shown, sizeof(shown), j->keys[0].s, j->keys[0].n);
		return conv_fail(c, path,
				 "unknown type tag \"%s\" (expected S, N, B, "
				 "BOOL, NULL, M, L, SS, NS or BS)",
				 shown);
	}
	return conv_fail(c, path, "\"%s\" cannot hold %s", av_tags[t],
			 jsontext_type_name(v->t));
}

static int conv_value(struct conv *c, const struct jsontext_node *j,
		      const struct pseg *path, int level, json_t **out)
{
	if (c->f == CODEC_DDB)
		return conv_ddb(c, j, path, level, out);
	return conv_plain(c, j, path, level, out);
}

/* The members of a JSON object as a map of level `level` (the item is 1). */
static int conv_map(struct conv *c, const struct jsontext_node *j,
		    const struct pseg *path, int level, json_t **out)
{
	json_t *map = json_object();
	int rc = 0;

	*out = NULL;
	if (!map)
		return -ENOMEM;
	for (size_t i = 0; i < j->cnt; i++) {
		const struct jsontext_key *k = &j->keys[i];
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
static int parse_text(struct jsontext_reader *rd, struct conv *c, json_t **out)
{
	static const char *const kinds[] = {['['] = "an array",
					    ['"'] = "a string",
					    ['t'] = "true",
					    ['f'] = "false",
					    ['n'] = "null"};
	struct jsontext_node *root = NULL;
	unsigned char ch = (unsigned char)rd->p[rd->pos];
	const char *kind = NULL;
	char tmp[16];
	int rc = 0;

	if (ch < sizeof(kinds) / sizeof(kinds[0]))
		kind = kinds[ch];
	if (ch == '-' || (ch >= '0' && ch <= '9'))
		kind = "a number";
	if (kind) {
		rc = jsontext_fail(rd, rd->pos,
				   "expected '{': an item file holds one JSON "
				   "object, not %s",
				   kind);
		goto out;
	}
	if (ch != '{') {
		rc = jsontext_fail(rd, rd->pos,
				   "expected '{' to start the item, found %s",
				   jsontext_what(rd, tmp, sizeof(tmp)));
		goto out;
	}
	rc = jsontext_read_value(rd, &root);
	if (rc)
		goto out;
	jsontext_skip_ws(rd);
	if (rd->pos < rd->len && rd->p[rd->pos] == '{') {
		rc = jsontext_fail(rd, rd->pos,
				   "a second JSON object; an item file holds "
				   "exactly one");
		goto out;
	}
	if (rd->pos < rd->len) {
		rc = jsontext_fail(rd, rd->pos,
				   "unexpected %s after the JSON object",
				   jsontext_what(rd, tmp, sizeof(tmp)));
		goto out;
	}
	rc = conv_map(c, root, NULL, 1, out);
out:
	jsontext_free(root);
	return rc;
}

int codec_parse(const char *text, size_t len, enum codec_format f,
		json_t **item, struct codec_error *err)
{
	struct jsontext_error jerr = {0};
	struct jsontext_reader rd;
	struct conv c = {.f = f, .err = err};
	json_t *out = NULL;
	int rc = 0;

	*item = NULL;
	err_clear(err);
	if ((!text && len) || (f != CODEC_PLAIN && f != CODEC_DDB)) {
		rc = -EINVAL;
		goto out;
	}
	jsontext_init(&rd, text, len, err ? &jerr : NULL);
	jsontext_skip_ws(&rd);
	if (rd.pos < rd.len) {
		rc = parse_text(&rd, &c, &out);
		if (rc && err && jerr.line) {
			/* a syntax error: the reader's place and message */
			err->line = jerr.line;
			err->column = jerr.column;
			memcpy(err->message, jerr.message,
			       sizeof(err->message));
		}
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
		jsontext_show(err->path, sizeof(err->path), name, nlen);
	it = av_split(iv, &ival);
	if (type_of(it) != type) {
		err_msg(err, "a key attribute must be %s, not %s",
			ddbvalue_key_type_words(type),
			it == AV_BAD ? "a malformed value" : av_tags[it]);
		rc = -EINVAL;
		goto out;
	}
	jsontext_show(pshown, sizeof(pshown), json_string_value(pval),
		      json_string_length(pval));
	jsontext_show(ishown, sizeof(ishown), json_string_value(ival),
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
				range ? "sort" : "partition", max, in);
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
