/* keyname.c - the exact mapping between DynamoDB key values and file names
 * (percent-encoding, base64url, shortened names), canonical number text, and
 * parsing of table names and mkdir key specs. No I/O, no globals. */
#include "keyname.h"
#include "ddbvalue.h"
#include "dynbuf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

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

/* Reads a key-schema type letter ("S", "N" or "B", len bytes). */
static int type_parse(const char *s, size_t len, enum keyname_type *type)
{
	char t;

	if (ddbvalue_key_type_parse(s, len, &t))
		return -EINVAL;
	*type = t == 'N' ? KEYNAME_N : t == 'B' ? KEYNAME_B : KEYNAME_S;
	return 0;
}

void keyname_key_free(struct keyname_key *k)
{
	if (!k)
		return;
	free(k->value);
	memset(k, 0, sizeof(*k));
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
		size_t n = ddbvalue_utf8_char_len(v + i, len - i);

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
		/* 200 characters decode only when each is base64url. */
		return ddbvalue_base64_decode(e, plen, true, NULL, NULL) == 0;
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
			u = ddbvalue_utf8_char_len(e + i, n - i);
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
	return ddbvalue_key_max(kind == KEYNAME_RANGE_ITEM);
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
		return ddbvalue_base64_encode(value, len, true, b);
	if (type == KEYNAME_S)
		return pct_append(b, value, len);
	rc = ddbvalue_number_canonical(value, len, &num);
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
		rc = ddbvalue_number_is_canonical(name, n);
		rc = rc == 1 ? dynbuf_add(&b, name, n) : rc ? rc : -EINVAL;
	} else {
		rc = ddbvalue_base64_decode(name, n, true, &b, NULL);
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
		rc = ddbvalue_base64_decode(name, plen, true, &b, NULL);
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
		rc = ddbvalue_utf8_valid(value, len)
			 ? dynbuf_add(&b, value, len)
			 : -EINVAL;
	else if (type == KEYNAME_N)
		rc = ddbvalue_number_canonical(value, len, &b);
	else
		rc = ddbvalue_base64_encode(value, len, false, &b);
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
	if (type_parse(tag, strlen(tag), &type))
		return -EINVAL;
	s = json_string_value(val);
	n = json_string_length(val);
	if (type == KEYNAME_S)
		rc = dynbuf_add(&b, s, n);
	else if (type == KEYNAME_N)
		rc = ddbvalue_number_canonical(s, n, &b);
	else
		rc = ddbvalue_base64_decode(s, n, false, &b, NULL);
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

		if (type_parse(colon + 1, tlen, &type))
			return -EINVAL;
		n = (size_t)(colon - spec);
	}
	if (!n || n > KEYNAME_ATTR_NAME_MAX || memchr(spec, '\0', n) ||
	    !ddbvalue_utf8_valid(spec, n))
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
