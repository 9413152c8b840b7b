/* test_keyname.c - unit tests of the key-name module: escapes both ways,
 * number keys, binary keys, shortened names, scratch names, random round trips.
 */
#include "codec.h"
#include "ddbvalue.h"
#include "keyname.h"
#include "numtext.h"
#include "tap.h"

#include <errno.h>
#include <stdint.h>

/* Allocation failure injection: when alloc_budget is n >= 0, the n+1-th
 * allocation from now fails. Replaces malloc for the whole program (jansson
 * and OpenSSL included); not under ASan, which owns malloc. */
#if defined(__SANITIZE_ADDRESS__)
#define HAVE_ALLOC_FAILURES 0
#else
#define HAVE_ALLOC_FAILURES 1
extern void *__libc_malloc(size_t n);
extern void *__libc_realloc(void *p, size_t n);
extern void *__libc_calloc(size_t n, size_t size);
#endif

static long alloc_budget = -1;
static bool alloc_failed;

#if HAVE_ALLOC_FAILURES
static bool alloc_refused(void)
{
	if (alloc_budget == 0) {
		alloc_failed = true;
		return true;
	}
	if (alloc_budget > 0)
		alloc_budget--;
	return false;
}

void *malloc(size_t n)
{
	return alloc_refused() ? NULL : __libc_malloc(n);
}

void *realloc(void *p, size_t n)
{
	return alloc_refused() ? NULL : __libc_realloc(p, n);
}

void *calloc(size_t n, size_t size)
{
	return alloc_refused() ? NULL : __libc_calloc(n, size);
}
#endif

/* An explicit length lets a value hold NUL and invalid bytes. */
struct s_case {
	const char *name;
	const char *value;
	size_t len; /* 0: strlen(value) */
	enum keyname_kind kind;
	const char *expected;
};

static size_t case_len(const char *value, size_t len)
{
	return len ? len : strlen(value);
}

static const struct s_case s_cases[] = {
    {"plain", "abc", 0, KEYNAME_HASH_ITEM, "abc.json"},
    {"slash", "a/b", 0, KEYNAME_RANGE_ITEM, "a%2Fb.json"},
    {"percent", "100%", 0, KEYNAME_HASH_ITEM, "100%25.json"},
    {"percent escape text", "%41", 0, KEYNAME_HASH_ITEM, "%2541.json"},
    {"leading dot", ".hidden", 0, KEYNAME_HASH_ITEM, "%2Ehidden.json"},
    {"dot", ".", 0, KEYNAME_PARTITION, "%2E"},
    {"dotdot", "..", 0, KEYNAME_PARTITION, "%2E."},
    {"inner dots", "a.b.c", 0, KEYNAME_RANGE_ITEM, "a.b.c.json"},
    {"trailing dot", "a.", 0, KEYNAME_PARTITION, "a."},
    {"json name", "x.json", 0, KEYNAME_HASH_ITEM, "x.json.json"},
    {"partition has no suffix", "x.json", 0, KEYNAME_PARTITION, "x.json"},
    {"tab", "tab\there", 0, KEYNAME_HASH_ITEM, "tab%09here.json"},
    {"newline", "a\nb", 0, KEYNAME_HASH_ITEM, "a%0Ab.json"},
    {"0x1F", "\x1f", 0, KEYNAME_HASH_ITEM, "%1F.json"},
    {"0x01", "\x01", 0, KEYNAME_PARTITION, "%01"},
    {"DEL", "a\x7f", 0, KEYNAME_HASH_ITEM, "a%7F.json"},
    {"NUL", "a\0b", 3, KEYNAME_HASH_ITEM, "a%00b.json"},
    {"space and shell chars", " *?[]\\:'\"$ ", 0, KEYNAME_HASH_ITEM,
     " *?[]\\:'\"$ .json"},
    {"tilde", "~x~", 0, KEYNAME_HASH_ITEM, "~x~.json"},
    {"dash", "-rf", 0, KEYNAME_HASH_ITEM, "-rf.json"},
    {"two-byte", "caf\xc3\xa9", 0, KEYNAME_HASH_ITEM, "caf\xc3\xa9.json"},
    {"three-byte", "\xe6\x97\xa5\xe6\x9c\xac", 0, KEYNAME_PARTITION,
     "\xe6\x97\xa5\xe6\x9c\xac"},
    {"emoji", "\xf0\x9f\x98\x80", 0, KEYNAME_RANGE_ITEM,
     "\xf0\x9f\x98\x80.json"},
    {"U+10FFFF", "\xf4\x8f\xbf\xbf", 0, KEYNAME_HASH_ITEM,
     "\xf4\x8f\xbf\xbf.json"},
    {"C1 control kept", "\xc2\x85", 0, KEYNAME_HASH_ITEM, "\xc2\x85.json"},
    {"dot before unicode", ".\xc3\xa9", 0, KEYNAME_HASH_ITEM,
     "%2E\xc3\xa9.json"},
    /* Invalid UTF-8 cannot come from DynamoDB; escaped byte by byte. */
    {"invalid 0xFF", "\xff", 0, KEYNAME_HASH_ITEM, "%FF.json"},
    {"truncated sequence",
     "\xc3"
     "a",
     0, KEYNAME_HASH_ITEM, "%C3a.json"},
    {"overlong slash", "\xc0\xaf", 0, KEYNAME_HASH_ITEM, "%C0%AF.json"},
    {"surrogate", "\xed\xa0\x80", 0, KEYNAME_HASH_ITEM, "%ED%A0%80.json"},
    {"above U+10FFFF", "\xf4\x90\x80\x80", 0, KEYNAME_HASH_ITEM,
     "%F4%90%80%80.json"},
    {"lone continuation", "a\x80z", 0, KEYNAME_HASH_ITEM, "a%80z.json"},
    {NULL, NULL, 0, 0, NULL},
};

static void test_s_escapes(void)
{
	for (const struct s_case *c = s_cases; c->name; c++) {
		size_t len = case_len(c->value, c->len);
		struct keyname_key k = {0};
		char *name = NULL;

		printf("# %s\n", c->name);
		CHECK_INT(
		    keyname_encode(c->kind, KEYNAME_S, c->value, len, &name),
		    0);
		CHECK_STR(name, c->expected);
		CHECK_INT(keyname_decode(c->expected, c->kind, KEYNAME_S, &k),
			  0);
		CHECK_INT(k.type, KEYNAME_S);
		CHECK_INT(k.len, len);
		CHECK(k.value && !memcmp(k.value, c->value, len));
		CHECK(k.value && k.value[k.len] == '\0');
		CHECK(!keyname_is_shortened(c->expected, c->kind, KEYNAME_S));
		keyname_key_free(&k);
		free(name);
	}
}

/* Names that are not item or partition names: the filesystem keeps them
 * as scratch files. */
struct bad_case {
	const char *name;
	enum keyname_kind kind;
	enum keyname_type type;
};

static const struct bad_case bad_cases[] = {
    {".x.swp", KEYNAME_HASH_ITEM, KEYNAME_S},
    {".x.swp", KEYNAME_PARTITION, KEYNAME_S},
    {"4913", KEYNAME_HASH_ITEM, KEYNAME_S},
    {"4913", KEYNAME_RANGE_ITEM, KEYNAME_N},
    {"sedAbc123", KEYNAME_RANGE_ITEM, KEYNAME_S},
    {"x.json~", KEYNAME_HASH_ITEM, KEYNAME_S},
    {"x.tmp", KEYNAME_HASH_ITEM, KEYNAME_S},
    {".1.json.rejected", KEYNAME_HASH_ITEM, KEYNAME_S},
    {".1.json.rejected", KEYNAME_HASH_ITEM, KEYNAME_N},
    {".table.json", KEYNAME_HASH_ITEM, KEYNAME_S},
    {".table.json", KEYNAME_PARTITION, KEYNAME_S},
    {"x.JSON", KEYNAME_HASH_ITEM, KEYNAME_S},
    {".json", KEYNAME_HASH_ITEM, KEYNAME_S},
    {"", KEYNAME_PARTITION, KEYNAME_S},
    {"..json", KEYNAME_HASH_ITEM, KEYNAME_S},
    {".", KEYNAME_PARTITION, KEYNAME_S},
    {"..", KEYNAME_PARTITION, KEYNAME_S},
    {"%41.json", KEYNAME_HASH_ITEM, KEYNAME_S},
    {"%2f.json", KEYNAME_HASH_ITEM, KEYNAME_S},
    {"%2e.json", KEYNAME_HASH_ITEM, KEYNAME_S},
    {"a%.json", KEYNAME_HASH_ITEM, KEYNAME_S},
    {"a%2.json", KEYNAME_HASH_ITEM, KEYNAME_S},
    {"a%G0.json", KEYNAME_HASH_ITEM, KEYNAME_S},
    {"a%", KEYNAME_PARTITION, KEYNAME_S},
    {"a%2", KEYNAME_PARTITION, KEYNAME_S},
    {"a%2E.json", KEYNAME_HASH_ITEM, KEYNAME_S}, /* inner '.' raw */
    {"%7E.json", KEYNAME_HASH_ITEM, KEYNAME_S},
    {"%C3%A9.json", KEYNAME_HASH_ITEM, KEYNAME_S}, /* valid UTF-8 */
    {"\x01.json", KEYNAME_HASH_ITEM, KEYNAME_S},
    {"a\x7f.json", KEYNAME_HASH_ITEM, KEYNAME_S},
    {"\xff.json", KEYNAME_HASH_ITEM, KEYNAME_S},
    {"\xc3.json", KEYNAME_HASH_ITEM, KEYNAME_S},
    {"\xc3%A9.json", KEYNAME_HASH_ITEM, KEYNAME_S},
    {"a/b.json", KEYNAME_HASH_ITEM, KEYNAME_S},
    /* A needless escape and a missing one: same length as canonical. */
    {"%41\x01.json", KEYNAME_HASH_ITEM, KEYNAME_S},
    {"\x01%41", KEYNAME_PARTITION, KEYNAME_S},
    /* Numbers: only DynamoDB's own text. */
    {"1.50.json", KEYNAME_HASH_ITEM, KEYNAME_N},
    {"007.json", KEYNAME_HASH_ITEM, KEYNAME_N},
    {"-0.json", KEYNAME_HASH_ITEM, KEYNAME_N},
    {"0.0.json", KEYNAME_HASH_ITEM, KEYNAME_N},
    {"1e2.json", KEYNAME_HASH_ITEM, KEYNAME_N},
    {"1E+2.json", KEYNAME_HASH_ITEM, KEYNAME_N},
    {"+5.json", KEYNAME_HASH_ITEM, KEYNAME_N},
    {"5..json", KEYNAME_HASH_ITEM, KEYNAME_N},
    {".5.json", KEYNAME_HASH_ITEM, KEYNAME_N},
    {"%2E5.json", KEYNAME_HASH_ITEM, KEYNAME_N},
    {"%31.json", KEYNAME_HASH_ITEM, KEYNAME_N},
    {"-.json", KEYNAME_HASH_ITEM, KEYNAME_N},
    {"abc.json", KEYNAME_HASH_ITEM, KEYNAME_N},
    {"1E-131.json", KEYNAME_HASH_ITEM, KEYNAME_N},
    {"1" Z50 Z50 Z10 Z10 "000000", KEYNAME_PARTITION, KEYNAME_N},
    /* 1E+126 */
    {"1234567890123456789012345678901234567891", KEYNAME_PARTITION,
     KEYNAME_N}, /* 40 digits */
    /* Binary: canonical unpadded base64url only. */
    {"QQ==.json", KEYNAME_HASH_ITEM, KEYNAME_B},
    {"QR.json", KEYNAME_HASH_ITEM, KEYNAME_B},
    {"Q.json", KEYNAME_HASH_ITEM, KEYNAME_B},
    {"QUJDR.json", KEYNAME_HASH_ITEM, KEYNAME_B},
    {"+_8.json", KEYNAME_HASH_ITEM, KEYNAME_B},
    {"-/8.json", KEYNAME_HASH_ITEM, KEYNAME_B},
    {"YW%4A.json", KEYNAME_HASH_ITEM, KEYNAME_B},
    {".json", KEYNAME_RANGE_ITEM, KEYNAME_B},
    {"x.tmp", KEYNAME_PARTITION, KEYNAME_B}, /* '.' not base64url */
    {NULL, 0, 0},
};

static void test_invalid_names(void)
{
	for (const struct bad_case *c = bad_cases; c->name; c++) {
		struct keyname_key k = {0};
		char hash[KEYNAME_HASH_LEN + 1];

		printf("# %s\n", c->name);
		CHECK_INT(keyname_decode(c->name, c->kind, c->type, &k),
			  -EINVAL);
		CHECK(k.value == NULL);
		CHECK(!keyname_is_shortened(c->name, c->kind, c->type));
		CHECK_INT(keyname_decode_shortened(c->name, c->kind, c->type,
						   &k, hash),
			  -EINVAL);
	}
}

/* Number keys: the name is the canonical text, whatever form came in. */
static const struct s_case n_cases[] = {
    {"integer", "42", 0, KEYNAME_HASH_ITEM, "42.json"},
    {"negative", "-7", 0, KEYNAME_RANGE_ITEM, "-7.json"},
    {"decimal", "-12.340", 0, KEYNAME_RANGE_ITEM, "-12.34.json"},
    {"exponent", "1E+2", 0, KEYNAME_HASH_ITEM, "100.json"},
    {"small", "1.5e-7", 0, KEYNAME_PARTITION, "0.00000015"},
    {"zero", "-0", 0, KEYNAME_PARTITION, "0"},
    {"smallest", "1E-130", 0, KEYNAME_HASH_ITEM, TINY ".json"},
    {"largest", "-9.9999999999999999999999999999999999999E+125", 0,
     KEYNAME_RANGE_ITEM, "-" HUGE ".json"},
    {NULL, NULL, 0, 0, NULL},
};

/* Numbers DynamoDB refuses have no key name and no key JSON. The first two
 * passed the codec's own check once while DynamoDB Local refused them
 * (exponent and scale outside a Java int, even for a zero). */
static const char *const n_refused[] = {
    "0e99999999999",
    "0.0e-2147483647",
    "1.2.3",
    "1e126",
    "1E-131",
    "1234567890123456789012345678901234567890",
    "NaN",
    "",
    NULL,
};

static void test_number_names(void)
{
	char *name = NULL;

	for (const struct s_case *c = n_cases; c->name; c++) {
		struct keyname_key k = {0};
		size_t elen = strlen(c->expected) -
			      (c->kind == KEYNAME_PARTITION ? 0 : 5);

		printf("# %s\n", c->name);
		name = NULL;
		CHECK_INT(keyname_encode(c->kind, KEYNAME_N, c->value,
					 strlen(c->value), &name),
			  0);
		CHECK_STR(name, c->expected);
		CHECK_INT(keyname_decode(c->expected, c->kind, KEYNAME_N, &k),
			  0);
		CHECK_INT(k.type, KEYNAME_N);
		CHECK_INT(k.len, elen);
		CHECK(k.value && !strncmp(k.value, c->expected, elen));
		keyname_key_free(&k);
		free(name);
	}
	for (const char *const *t = n_refused; *t; t++) {
		json_t *j = NULL;
		char *file = NULL;

		printf("# refused %s\n", *t);
		name = NULL;
		CHECK_INT(keyname_encode(KEYNAME_HASH_ITEM, KEYNAME_N, *t,
					 strlen(*t), &name),
			  -EINVAL);
		CHECK(name == NULL);
		CHECK_INT(keyname_key_to_json(KEYNAME_N, *t, strlen(*t), &j),
			  -EINVAL);
		CHECK(j == NULL);
		if (asprintf(&file, "%s.json", *t) < 0)
			abort();
		CHECK_INT(keyname_decode(file, KEYNAME_HASH_ITEM, KEYNAME_N,
					 &(struct keyname_key){0}),
			  -EINVAL);
		/* One grammar: the codec's file check refuses them too. */
		CHECK_INT(codec_number_check(*t, NULL), -EINVAL);
		free(file);
	}
}

/* Binary keys: base64url in names, standard base64 on the wire. */
struct b_case {
	const char *name;
	const char *raw;
	size_t len;
	const char *url;
	const char *std;
};

static const struct b_case b_cases[] = {
    {"1 byte", "a", 1, "YQ", "YQ=="},
    {"2 bytes", "ab", 2, "YWI", "YWI="},
    {"3 bytes", "abc", 3, "YWJj", "YWJj"},
    {"4 bytes", "abcd", 4, "YWJjZA", "YWJjZA=="},
    {"5 bytes", "abcde", 5, "YWJjZGU", "YWJjZGU="},
    {"0xFB 0xFF", "\xfb\xff", 2, "-_8", "+/8="},
    {"alphabet 62", "\xfb\xef\xbe", 3, "----", "++++"},
    {"alphabet 63", "\xff\xff\xff", 3, "____", "////"},
    {"NUL", "\0", 1, "AA", "AA=="},
    {"leading dash", "\xf8", 1, "-A", "+A=="},
    {NULL, NULL, 0, NULL, NULL},
};

static void test_binary(void)
{
	for (const struct b_case *c = b_cases; c->name; c++) {
		struct keyname_key k = {0};
		char *name = NULL, *url = NULL;
		json_t *wire = NULL;
		char expected[64];

		printf("# %s\n", c->name);
		snprintf(expected, sizeof(expected), "%s.json", c->url);
		CHECK_INT(keyname_encode(KEYNAME_RANGE_ITEM, KEYNAME_B, c->raw,
					 c->len, &name),
			  0);
		CHECK_STR(name, expected);
		CHECK_INT(
		    keyname_decode(expected, KEYNAME_RANGE_ITEM, KEYNAME_B, &k),
		    0);
		CHECK_INT(k.type, KEYNAME_B);
		CHECK_INT(k.len, c->len);
		CHECK(k.value && !memcmp(k.value, c->raw, c->len));
		CHECK_INT(
		    keyname_encoding(KEYNAME_B, c->raw, c->len, &url, NULL), 0);
		CHECK_STR(url, c->url);
		/* Wire to name and back. */
		CHECK_INT(keyname_key_to_json(KEYNAME_B, c->raw, c->len, &wire),
			  0);
		CHECK_STR(json_string_value(json_object_get(wire, "B")),
			  c->std);
		keyname_key_free(&k);
		CHECK_INT(keyname_key_from_json(wire, &k), 0);
		CHECK_INT(k.len, c->len);
		CHECK(k.value && !memcmp(k.value, c->raw, c->len));
		keyname_key_free(&k);
		CHECK_INT(
		    keyname_decode(c->url, KEYNAME_PARTITION, KEYNAME_B, &k),
		    0);
		keyname_key_free(&k);
		free(name);
		free(url);
		json_decref(wire);
	}
}

static char *repeat(char c, size_t n)
{
	char *p = malloc(n + 1);

	memset(p, c, n);
	p[n] = '\0';
	return p;
}

/* Checks a name is a well-formed shortened name of the value: at most 255
 * bytes, stable, recognized, prefix then '~' then the hash of the whole
 * encoding; expected_prefix is the encoding's cut (NULL: don't check). */
static void check_shortened(enum keyname_kind kind, enum keyname_type type,
			    const char *value, size_t len,
			    const char *expected_prefix,
			    const char *expected_hash)
{
	struct keyname_key k = {0}, p = {0};
	char *name = NULL, *again = NULL, *enc = NULL;
	char hash[KEYNAME_HASH_LEN + 1] = "", want[KEYNAME_HASH_LEN + 1];
	size_t elen = 0, plen, slen = kind == KEYNAME_PARTITION ? 0 : 5;

	CHECK_INT(keyname_encode(kind, type, value, len, &name), 0);
	CHECK_INT(keyname_encode(kind, type, value, len, &again), 0);
	CHECK_INT(keyname_encoding(type, value, len, &enc, &elen), 0);
	if (!name || !again || !enc)
		goto out;
	CHECK_STR(name, again);
	CHECK(strlen(name) <= KEYNAME_NAME_MAX);
	CHECK_INT(keyname_short_hash(enc, elen, want), 0);
	if (expected_hash)
		CHECK_STR(want, expected_hash);
	plen = strlen(name) - slen - 1 - KEYNAME_HASH_LEN;
	CHECK(plen >= 197 && plen <= 200);
	CHECK(!strncmp(name, enc, plen));
	if (expected_prefix) {
		CHECK_INT(plen, strlen(expected_prefix));
		CHECK(!strncmp(name, expected_prefix, plen));
	}
	CHECK_INT(name[plen], '~');
	CHECK(!strncmp(name + plen + 1, want, KEYNAME_HASH_LEN));
	CHECK_STR(name + plen + 1 + KEYNAME_HASH_LEN, slen ? ".json" : "");
	CHECK(keyname_is_shortened(name, kind, type));
	CHECK_INT(keyname_decode(name, kind, type, &k), -ENAMETOOLONG);
	CHECK(k.value == NULL);
	CHECK_INT(keyname_decode_shortened(name, kind, type, &p, hash), 0);
	CHECK_STR(hash, want);
	CHECK_INT(p.type, type);
	CHECK(p.len > 0 && p.len < len);
	CHECK(p.value && !memcmp(p.value, value, p.len));
	keyname_key_free(&p);
out:
	free(name);
	free(again);
	free(enc);
}

static void test_shortened(void)
{
	char buf[400];
	char *a300 = repeat('a', 300), *name = NULL;
	struct keyname_key k = {0};

	printf("# 300-byte sort key\n");
	a300[200] = '\0';
	check_shortened(KEYNAME_RANGE_ITEM, KEYNAME_S,
			(memset(buf, 'a', 300), buf), 300, a300,
			"9835fa6bf4e20a9b");
	CHECK_INT(
	    keyname_encode(KEYNAME_RANGE_ITEM, KEYNAME_S, buf, 300, &name), 0);
	CHECK_INT(strlen(name), 200 + 1 + 16 + 5);
	free(name);
	name = NULL;

	printf("# two-byte character across the cut: cut at 199\n");
	memset(buf, 'a', 199);
	memcpy(buf + 199, "\xc3\xa9", 2);
	memset(buf + 201, 'b', 100);
	a300[199] = '\0';
	check_shortened(KEYNAME_RANGE_ITEM, KEYNAME_S, buf, 301, a300,
			"a0c111efd2c1ae77");

	printf("# emoji across the cut, at 198 and 197\n");
	for (size_t at = 196; at <= 199; at++) {
		size_t keep = at + 4 <= 200 ? at + 4 : at;

		memset(buf, 'a', at);
		memcpy(buf + at, "\xf0\x9f\x98\x80", 4);
		memset(buf + at + 4, 'b', 60);
		memcpy(a300, buf, keep);
		a300[keep] = '\0';
		check_shortened(KEYNAME_HASH_ITEM, KEYNAME_S, buf, at + 64,
				a300, NULL);
	}

	printf("# escape across the cut\n");
	for (size_t at = 197; at <= 200; at++) {
		char want[210];

		memset(buf, 'a', at);
		buf[at] = '/';
		memset(buf + at + 1, 'b', 60);
		memset(want, 'a', at);
		want[at] = '\0';
		if (at + 3 <= 200)
			strcpy(want + at, "%2F");
		check_shortened(KEYNAME_PARTITION, KEYNAME_S, buf, at + 61,
				want, NULL);
	}

	printf("# leading dot and escapes in a long key\n");
	memset(buf, '%', 120);
	buf[0] = '.';
	check_shortened(KEYNAME_RANGE_ITEM, KEYNAME_S, buf, 120, NULL, NULL);

	printf("# binary: 200 base64url characters, 150 bytes\n");
	for (int i = 0; i < 200; i++)
		buf[i] = (char)i;
	check_shortened(KEYNAME_RANGE_ITEM, KEYNAME_B, buf, 200,
			"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUm"
			"JygpKissLS4vMDEyMzQ1Njc4OTo7PD0-P0BBQkNERUZHSElKS0xN"
			"Tk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0"
			"dXZ3eHl6e3x9fn-AgYKDhIWGh4iJiouMjY6PkJGSk5SV",
			NULL);

	printf("# limits: 255 bytes with the suffix fits, 256 does not\n");
	memset(buf, 'a', 300);
	CHECK_INT(
	    keyname_encode(KEYNAME_RANGE_ITEM, KEYNAME_S, buf, 250, &name), 0);
	CHECK_INT(strlen(name), 255);
	CHECK_INT(keyname_decode(name, KEYNAME_RANGE_ITEM, KEYNAME_S, &k), 0);
	CHECK_INT(k.len, 250);
	keyname_key_free(&k);
	free(name);
	check_shortened(KEYNAME_RANGE_ITEM, KEYNAME_S, buf, 251, NULL, NULL);
	CHECK_INT(keyname_encode(KEYNAME_PARTITION, KEYNAME_S, buf, 255, &name),
		  0);
	CHECK_INT(strlen(name), 255);
	free(name);
	check_shortened(KEYNAME_PARTITION, KEYNAME_S, buf, 256, NULL, NULL);
	/* A '/' makes a 250-byte key a 252-byte encoding. */
	memcpy(buf, "/", 1);
	check_shortened(KEYNAME_HASH_ITEM, KEYNAME_S, buf, 250, NULL, NULL);

	printf("# a key that looks like a shortened name is shortened\n");
	memset(a300, 'a', 200);
	a300[200] = '\0';
	memset(buf, 'a', 200);
	strcpy(buf + 200, "~0123456789abcdef");
	check_shortened(KEYNAME_RANGE_ITEM, KEYNAME_S, buf, 217, a300,
			"900cc8e8855321ce");
	CHECK_INT(
	    keyname_encode(KEYNAME_RANGE_ITEM, KEYNAME_S, buf, 217, &name), 0);
	CHECK_STR(name, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
			"~900cc8e8855321ce.json");
	free(name);
	/* Too short a prefix, upper-case hex: ordinary names. */
	for (int i = 0; i < 2; i++) {
		size_t at = i ? 200 : 196;

		memset(buf, 'a', at);
		strcpy(buf + at, i ? "~0123456789ABCDEF" : "~0123456789abcdef");
		CHECK_INT(keyname_encode(KEYNAME_RANGE_ITEM, KEYNAME_S, buf,
					 strlen(buf), &name),
			  0);
		CHECK(name && !strncmp(name, buf, strlen(buf)));
		CHECK_INT(
		    keyname_decode(name, KEYNAME_RANGE_ITEM, KEYNAME_S, &k), 0);
		CHECK_INT(k.len, strlen(buf));
		keyname_key_free(&k);
		free(name);
	}
	/* A hand-made shortened name with an invalid prefix is scratch. */
	memset(buf, 'a', 200);
	buf[0] = '.';
	strcpy(buf + 200, "~0123456789abcdef.json");
	CHECK_INT(keyname_decode(buf, KEYNAME_RANGE_ITEM, KEYNAME_S, &k),
		  -EINVAL);
	CHECK(!keyname_is_shortened(buf, KEYNAME_RANGE_ITEM, KEYNAME_S));

	printf("# key length limits\n");
	name = NULL;
	{
		char *big = repeat('x', 2049);

		CHECK_INT(keyname_encode(KEYNAME_RANGE_ITEM, KEYNAME_S, big,
					 1025, &name),
			  -EINVAL);
		CHECK_INT(keyname_encode(KEYNAME_RANGE_ITEM, KEYNAME_B, big,
					 1025, &name),
			  -EINVAL);
		CHECK_INT(keyname_encode(KEYNAME_PARTITION, KEYNAME_S, big,
					 2049, &name),
			  -EINVAL);
		CHECK_INT(
		    keyname_encode(KEYNAME_HASH_ITEM, KEYNAME_S, big, 0, &name),
		    -EINVAL);
		CHECK(name == NULL);
		check_shortened(KEYNAME_RANGE_ITEM, KEYNAME_S, big, 1024, NULL,
				NULL);
		check_shortened(KEYNAME_PARTITION, KEYNAME_S, big, 2048, NULL,
				NULL);
		check_shortened(KEYNAME_HASH_ITEM, KEYNAME_B, big, 2048, NULL,
				NULL);
		free(big);
	}
	/* A name over 255 bytes is nobody's name. */
	{
		char *long_name = repeat('a', 256);

		CHECK_INT(
		    keyname_decode(long_name, KEYNAME_PARTITION, KEYNAME_S, &k),
		    -EINVAL);
		free(long_name);
	}
	free(a300);
}

/* xorshift64*: a fixed seed makes every run test the same values. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32) % n;
}

/* Appends one random code point as UTF-8, biased to the bytes with rules. */
static size_t rnd_char(unsigned char *p)
{
	static const char special[] = "%/.~-\x7f\x01\x1f";
	uint32_t cp;

	switch (rnd(6)) {
	case 0:
		p[0] = (unsigned char)special[rnd(sizeof(special) - 1)];
		return 1;
	case 1:
	case 2:
		p[0] = (unsigned char)rnd(0x80); /* any ASCII, NUL too */
		return 1;
	case 3:
		cp = 0x80 + rnd(0x800 - 0x80);
		p[0] = (unsigned char)(0xC0 | cp >> 6);
		p[1] = (unsigned char)(0x80 | (cp & 63));
		return 2;
	case 4:
		do
			cp = 0x800 + rnd(0x10000 - 0x800);
		while (cp >= 0xD800 && cp <= 0xDFFF);
		p[0] = (unsigned char)(0xE0 | cp >> 12);
		p[1] = (unsigned char)(0x80 | (cp >> 6 & 63));
		p[2] = (unsigned char)(0x80 | (cp & 63));
		return 3;
	default:
		cp = 0x10000 + rnd(0x110000 - 0x10000);
		p[0] = (unsigned char)(0xF0 | cp >> 18);
		p[1] = (unsigned char)(0x80 | (cp >> 12 & 63));
		p[2] = (unsigned char)(0x80 | (cp >> 6 & 63));
		p[3] = (unsigned char)(0x80 | (cp & 63));
		return 4;
	}
}

/* Encodes and decodes one value; counts full and shortened names. Returns
 * false on the first mismatch so a broken build prints little. */
static bool round_trip(enum keyname_kind kind, enum keyname_type type,
		       const unsigned char *v, size_t len, int *full,
		       int *shortened)
{
	struct keyname_key k = {0};
	char *name = NULL, *enc = NULL, hash[KEYNAME_HASH_LEN + 1];
	char want[KEYNAME_HASH_LEN + 1];
	size_t elen = 0;
	bool ok = false;
	int rc;

	if (keyname_encode(kind, type, v, len, &name))
		goto out;
	if (strlen(name) > KEYNAME_NAME_MAX || name[0] == '.' ||
	    strchr(name, '/'))
		goto out;
	rc = keyname_decode(name, kind, type, &k);
	if (rc == 0) {
		ok = k.len == len && !memcmp(k.value, v, len);
		(*full)++;
	} else if (rc == -ENAMETOOLONG) {
		if (keyname_decode_shortened(name, kind, type, &k, hash) ||
		    keyname_encoding(type, v, len, &enc, &elen))
			goto out;
		if (keyname_short_hash(enc, elen, want))
			goto out;
		ok = k.len <= len && !memcmp(k.value, v, k.len) &&
		     !strcmp(hash, want) && (elen + 5 > 255 || elen > 200);
		(*shortened)++;
	}
out:
	if (!ok)
		printf("#   round trip failed for a %zu-byte value\n", len);
	keyname_key_free(&k);
	free(name);
	free(enc);
	return ok;
}

static void test_random_round_trip(void)
{
	static const enum keyname_kind kinds[] = {
	    KEYNAME_HASH_ITEM, KEYNAME_PARTITION, KEYNAME_RANGE_ITEM};
	unsigned char v[1100];
	int full = 0, shortened = 0, bad = 0;

	/* 10,000 UTF-8 strings, up to ~480 bytes. */
	for (int i = 0; i < 10000 && bad < 5; i++) {
		size_t len = 0, n = 1 + rnd(i % 4 ? 40 : 120);

		for (size_t j = 0; j < n; j++)
			len += rnd_char(v + len);
		if (!round_trip(kinds[i % 3], KEYNAME_S, v, len, &full,
				&shortened))
			bad++;
	}
	/* Arbitrary bytes: invalid UTF-8 is escaped, still exact. */
	for (int i = 0; i < 3000 && bad < 5; i++) {
		size_t len = 1 + rnd(i % 2 ? 30 : 300);

		for (size_t j = 0; j < len; j++)
			v[j] = (unsigned char)rnd(256);
		if (!round_trip(kinds[i % 3], KEYNAME_S, v, len, &full,
				&shortened))
			bad++;
	}
	/* Binary keys up to the sort key limit, and the wire form. */
	for (int i = 0; i < 3000 && bad < 5; i++) {
		size_t len = 1 + rnd(i % 2 ? 200 : 1024);

		for (size_t j = 0; j < len; j++)
			v[j] = (unsigned char)rnd(256);
		if (!round_trip(kinds[i % 3], KEYNAME_B, v, len, &full,
				&shortened))
			bad++;
	}
	/* Numbers: random digits and exponents, canonical text round trip. */
	for (int i = 0; i < 3000 && bad < 5; i++) {
		char text[64], *canon = NULL;
		int nd = 1 + (int)rnd(38), dot, pos = 0;

		dot = (int)rnd((uint32_t)nd + 1);
		if (rnd(2))
			text[pos++] = '-';
		for (int j = 0; j < nd; j++) {
			if (j == dot)
				text[pos++] = '.';
			text[pos++] = (char)('0' + rnd(10));
		}
		/* Within DynamoDB's range whatever the digits. */
		pos += snprintf(text + pos, sizeof(text) - (size_t)pos, "e%d",
				(int)rnd(121) - 60);
		if (keyname_encoding(KEYNAME_N, text, strlen(text), &canon,
				     NULL)) {
			printf("#   %s rejected\n", text);
			bad++;
			continue;
		}
		CHECK_INT(ddbvalue_number_is_canonical(canon, strlen(canon)),
			  1);
		if (!round_trip(kinds[i % 3], KEYNAME_N,
				(const unsigned char *)canon, strlen(canon),
				&full, &shortened))
			bad++;
		free(canon);
	}
	printf("# %d full names, %d shortened\n", full, shortened);
	CHECK_INT(bad, 0);
	CHECK(full > 10000);
	CHECK(shortened > 1000);
}

struct table_case {
	const char *name;
	bool valid;
};

static void test_table_names(void)
{
	char *max = repeat('t', 255), *over = repeat('t', 256);
	const struct table_case cases[] = {
	    {"abc", true},
	    {"Devices", true},
	    {"a_b.c-d", true},
	    {"...", true},
	    {"123", true},
	    {max, true},
	    {"ab", false},
	    {"", false},
	    {over, false},
	    {"a b c", false},
	    {"tab/le", false},
	    {"tbl:x", false},
	    {"tbl,pk", false},
	    {"t\xc3\xa4"
	     "ble",
	     false},
	    {"tbl~1", false},
	    {NULL, false},
	};

	for (const struct table_case *c = cases; c->name; c++) {
		printf("# %.20s\n", c->name);
		CHECK_INT(keyname_table_name_valid(c->name), c->valid);
	}
	CHECK(!keyname_table_name_valid(NULL));
	free(max);
	free(over);
}

struct spec_case {
	const char *spec;
	int rc;
	const char *name;
	enum keyname_type type;
};

static void test_key_specs(void)
{
	char long_ok[300], long_bad[300];
	const struct spec_case cases[] = {
	    {"pk", 0, "pk", KEYNAME_S},
	    {"pk:S", 0, "pk", KEYNAME_S},
	    {"id:N", 0, "id", KEYNAME_N},
	    {"blob:B", 0, "blob", KEYNAME_B},
	    {"a:b:N", 0, "a:b", KEYNAME_N},
	    {"\xc3\xa9t\xc3\xa9:N", 0, "\xc3\xa9t\xc3\xa9", KEYNAME_N},
	    {"with space", 0, "with space", KEYNAME_S},
	    {long_ok, 0, NULL, KEYNAME_N},
	    {"", -EINVAL, NULL, 0},
	    {":S", -EINVAL, NULL, 0},
	    {"pk:", -EINVAL, NULL, 0},
	    {"pk:s", -EINVAL, NULL, 0},
	    {"pk:X", -EINVAL, NULL, 0},
	    {"pk:SS", -EINVAL, NULL, 0},
	    {"a:b", -EINVAL, NULL, 0},
	    {"\xff:S", -EINVAL, NULL, 0},
	    {long_bad, -EINVAL, NULL, 0},
	    {NULL, 0, NULL, 0},
	};

	memset(long_ok, 'k', 255);
	strcpy(long_ok + 255, ":N");
	memset(long_bad, 'k', 256);
	long_bad[256] = '\0';
	for (const struct spec_case *c = cases; c->spec; c++) {
		struct keyname_attr a = {0};

		printf("# %.20s\n", c->spec);
		CHECK_INT(keyname_parse_key_spec(c->spec, &a), c->rc);
		if (!c->rc) {
			CHECK_INT(a.type, c->type);
			if (c->name)
				CHECK_STR(a.name, c->name);
			else
				CHECK(a.name && strlen(a.name) == 255);
		} else {
			CHECK(a.name == NULL);
		}
		keyname_attr_free(&a);
	}
}

struct mkdir_case {
	const char *spec;
	int rc;
	const char *table, *hash;
	enum keyname_type htype;
	const char *range;
	enum keyname_type rtype;
};

static const struct mkdir_case mkdir_cases[] = {
    {"Music,Artist:S,SongTitle:S", 0, "Music", "Artist", KEYNAME_S, "SongTitle",
     KEYNAME_S},
    {"Orders,customer,ts:N", 0, "Orders", "customer", KEYNAME_S, "ts",
     KEYNAME_N},
    {"T_1.x-y,id:N", 0, "T_1.x-y", "id", KEYNAME_N, NULL, 0},
    {"Blobs,h:B,r:B", 0, "Blobs", "h", KEYNAME_B, "r", KEYNAME_B},
    {"Tbl,pk", 0, "Tbl", "pk", KEYNAME_S, NULL, 0},
    {"Tbl,pk,sk", 0, "Tbl", "pk", KEYNAME_S, "sk", KEYNAME_S},
    {"Tbl", -EINVAL, NULL, NULL, 0, NULL, 0},
    {"ab,pk", -EINVAL, NULL, NULL, 0, NULL, 0},
    {"T b,pk", -EINVAL, NULL, NULL, 0, NULL, 0},
    {",pk", -EINVAL, NULL, NULL, 0, NULL, 0},
    {"Tbl,", -EINVAL, NULL, NULL, 0, NULL, 0},
    {"Tbl,pk,", -EINVAL, NULL, NULL, 0, NULL, 0},
    {"Tbl,,sk", -EINVAL, NULL, NULL, 0, NULL, 0},
    {"Tbl,pk:X", -EINVAL, NULL, NULL, 0, NULL, 0},
    {"Tbl,pk:S,sk:s", -EINVAL, NULL, NULL, 0, NULL, 0},
    {"Tbl,pk,sk,x", -EINVAL, NULL, NULL, 0, NULL, 0},
    {"Tbl,pk,pk", -EINVAL, NULL, NULL, 0, NULL, 0},
    {"Tbl,pk:S,pk:N", -EINVAL, NULL, NULL, 0, NULL, 0},
    {NULL, 0, NULL, NULL, 0, NULL, 0},
};

static void test_mkdir_specs(void)
{
	for (const struct mkdir_case *c = mkdir_cases; c->spec; c++) {
		struct keyname_schema s = {0};

		printf("# %s\n", c->spec);
		CHECK_INT(keyname_parse_mkdir(c->spec, &s), c->rc);
		if (c->rc) {
			CHECK(!s.table && !s.hash.name && !s.range.name);
			continue;
		}
		CHECK_STR(s.table, c->table);
		CHECK_STR(s.hash.name, c->hash);
		CHECK_INT(s.hash.type, c->htype);
		if (c->range) {
			CHECK_STR(s.range.name, c->range);
			CHECK_INT(s.range.type, c->rtype);
		} else {
			CHECK(s.range.name == NULL);
		}
		keyname_schema_free(&s);
	}
}

struct json_case {
	enum keyname_type type;
	const char *value;
	size_t len;
	const char *json;
};

static void test_json(void)
{
	static const struct json_case to[] = {
	    {KEYNAME_S, "a/b", 0, "{\"S\":\"a/b\"}"},
	    {KEYNAME_S, "a\0b", 3, "{\"S\":\"a\\u0000b\"}"},
	    {KEYNAME_S, "\xc3\xa9", 0, "{\"S\":\"\xc3\xa9\"}"},
	    {KEYNAME_N, "1E+2", 0, "{\"N\":\"100\"}"},
	    {KEYNAME_N, "-12.340", 0, "{\"N\":\"-12.34\"}"},
	    {KEYNAME_B, "\xfb\xff", 2, "{\"B\":\"+/8=\"}"},
	    {0, NULL, 0, NULL},
	};
	static const char *const bad_from[] = {
	    "{\"S\":\"\"}",
	    "{\"N\":\"\"}",
	    "{\"B\":\"\"}",
	    "{\"SS\":[\"a\"]}",
	    "{\"S\":\"a\",\"N\":\"1\"}",
	    "{\"N\":\"abc\"}",
	    "{\"N\":\"1e126\"}",
	    "{\"B\":\"QR==\"}",
	    "{\"B\":\"-_8\"}",
	    "{\"BOOL\":true}",
	    "{\"S\":1}",
	    "{}",
	    "[]",
	    "\"S\"",
	    "{\"N\":\"1\\u00002\"}",
	    NULL,
	};

	for (const struct json_case *c = to; c->value; c++) {
		size_t len = case_len(c->value, c->len);
		struct keyname_key k = {0};
		json_t *j = NULL, *parsed;
		char *text = NULL;

		printf("# %s\n", c->json);
		CHECK_INT(keyname_key_to_json(c->type, c->value, len, &j), 0);
		if (j)
			text = json_dumps(j, JSON_COMPACT);
		CHECK_STR(text, c->json);
		parsed = json_loads(c->json, JSON_ALLOW_NUL, NULL);
		CHECK_INT(keyname_key_from_json(parsed, &k), 0);
		CHECK_INT(k.type, c->type);
		if (c->type == KEYNAME_N) {
			char *canon = NULL;

			CHECK_INT(keyname_encoding(KEYNAME_N, c->value,
						   strlen(c->value), &canon,
						   NULL),
				  0);
			CHECK_STR(k.value, canon);
			free(canon);
		} else {
			CHECK_INT(k.len, len);
			CHECK(k.value && !memcmp(k.value, c->value, len));
		}
		keyname_key_free(&k);
		json_decref(parsed);
		json_decref(j);
		free(text);
	}
	for (int i = 0; bad_from[i]; i++) {
		json_t *j = json_loads(bad_from[i],
				       JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		struct keyname_key k = {0};

		printf("# %s\n", bad_from[i]);
		CHECK(j != NULL);
		CHECK_INT(keyname_key_from_json(j, &k), -EINVAL);
		CHECK(k.value == NULL);
		json_decref(j);
	}
	{
		json_t *j = NULL;

		CHECK_INT(keyname_key_to_json(KEYNAME_S, "\xff", 1, &j),
			  -EINVAL);
		CHECK_INT(keyname_key_to_json(KEYNAME_S, "", 0, &j), -EINVAL);
		CHECK_INT(keyname_key_to_json(KEYNAME_N, "x", 1, &j), -EINVAL);
		CHECK(j == NULL);
	}
}

/* Runs call with 0, 1, 2, ... allocations allowed until it no longer runs
 * out: each refused run must return -ENOMEM and leave the outputs as they
 * were (untouched); the last must return final. cleanup frees its results. */
#define OOM_LOOP(call, untouched, final, cleanup)                              \
	do {                                                                   \
		for (long budget_ = 0; budget_ < 10000; budget_++) {           \
			int rc_;                                               \
                                                                               \
			alloc_failed = false;                                  \
			alloc_budget = budget_;                                \
			rc_ = (call);                                          \
			alloc_budget = -1;                                     \
			if (!alloc_failed) {                                   \
				CHECK_INT(rc_, final);                         \
				cleanup;                                       \
				break;                                         \
			}                                                      \
			CHECK_INT(rc_, -ENOMEM);                               \
			CHECK(untouched);                                      \
			cleanup;                                               \
		}                                                              \
	} while (0)

static void test_out_of_memory(void)
{
	char big[400], hash[KEYNAME_HASH_LEN + 1] = "", *s = NULL;
	struct keyname_key k = {0};
	struct keyname_attr a = {0};
	struct keyname_schema sch = {0};
	json_t *j = NULL, *attr;
	size_t n = 0;

	if (!HAVE_ALLOC_FAILURES) {
		printf("# skipped under ASan\n");
		return;
	}
	memset(big, '/', sizeof(big));
	CHECK_INT(keyname_short_hash("warm up OpenSSL", 15, hash), 0);
	hash[0] = '\0';
	OOM_LOOP(keyname_encode(KEYNAME_RANGE_ITEM, KEYNAME_S, big, 300, &s),
		 s == NULL, 0, (free(s), s = NULL));
	OOM_LOOP(keyname_encode(KEYNAME_HASH_ITEM, KEYNAME_N, "1E-130", 6, &s),
		 s == NULL, 0, (free(s), s = NULL));
	OOM_LOOP(keyname_encoding(KEYNAME_B, big, 300, &s, &n), s == NULL, 0,
		 (free(s), s = NULL));
	OOM_LOOP(keyname_decode("a%2Fb.json", KEYNAME_HASH_ITEM, KEYNAME_S, &k),
		 k.value == NULL, 0, keyname_key_free(&k));
	OOM_LOOP(keyname_decode("-12.34", KEYNAME_PARTITION, KEYNAME_N, &k),
		 k.value == NULL, 0, keyname_key_free(&k));
	OOM_LOOP(keyname_decode("-_8", KEYNAME_PARTITION, KEYNAME_B, &k),
		 k.value == NULL, 0, keyname_key_free(&k));
	CHECK_INT(keyname_encode(KEYNAME_RANGE_ITEM, KEYNAME_S, big, 300, &s),
		  0);
	OOM_LOOP(keyname_decode(s, KEYNAME_RANGE_ITEM, KEYNAME_S, &k),
		 k.value == NULL, -ENAMETOOLONG, keyname_key_free(&k));
	OOM_LOOP(keyname_decode_shortened(s, KEYNAME_RANGE_ITEM, KEYNAME_S, &k,
					  hash),
		 k.value == NULL && !hash[0], 0,
		 (keyname_key_free(&k), hash[0] = '\0'));
	free(s);
	s = NULL;
	OOM_LOOP(keyname_encoding(KEYNAME_N, "-000.000100", 11, &s, &n),
		 s == NULL, 0, (free(s), s = NULL));
	OOM_LOOP(keyname_key_to_json(KEYNAME_B, big, 3, &j), j == NULL, 0,
		 (json_decref(j), j = NULL));
	attr = json_pack("{s:s}", "N", "1E+2");
	OOM_LOOP(keyname_key_from_json(attr, &k), k.value == NULL, 0,
		 keyname_key_free(&k));
	json_decref(attr);
	attr = json_pack("{s:s}", "B", "+/8=");
	OOM_LOOP(keyname_key_from_json(attr, &k), k.value == NULL, 0,
		 keyname_key_free(&k));
	json_decref(attr);
	OOM_LOOP(keyname_parse_key_spec("pk:N", &a), a.name == NULL, 0,
		 keyname_attr_free(&a));
	OOM_LOOP(keyname_parse_mkdir("Music,Artist:S,SongTitle:S", &sch),
		 sch.table == NULL && sch.hash.name == NULL, 0,
		 keyname_schema_free(&sch));
}

TAP_MAIN({"S escapes both ways", test_s_escapes},
	 {"scratch names are not keys", test_invalid_names},
	 {"number keys", test_number_names}, {"binary keys", test_binary},
	 {"shortened names", test_shortened},
	 {"random round trips", test_random_round_trip},
	 {"table names", test_table_names}, {"key specs", test_key_specs},
	 {"mkdir specs", test_mkdir_specs}, {"DynamoDB JSON keys", test_json},
	 {"out of memory", test_out_of_memory})
