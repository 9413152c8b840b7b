/* test_ddbvalue.c - DynamoDB's value rules (ddbvalue.c): number texts as the
 * servers answered them, faults, order and sizes, strict base64 in both
 * alphabets, UTF-8, key types and limits. Each number row is checked
 * against the codec's file check and the key names too: one grammar. */
#include "codec.h"
#include "ddbvalue.h"
#include "keyname.h"
#include "numtext.h"
#include "tap.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>

/* ddbvalue_number_canonical into a new C string (caller frees), or NULL
 * with *rc set. */
static char *canonical(const char *text, int *rc)
{
	struct dynbuf b = {0};

	*rc = ddbvalue_number_canonical(text, strlen(text), &b);
	if (*rc) {
		dynbuf_free(&b);
		return NULL;
	}
	return dynbuf_take(&b);
}

/* What DynamoDB Local 1.25.1 (and dynalite 4.0.0) return for a number
 * written as input; expected NULL: both servers reject it. */
struct num_case {
	const char *input;
	const char *expected;
};

static const struct num_case num_cases[] = {
    /* The brief's list, as both servers returned it. */
    {"007.500", "7.5"},
    {"-0", "0"},
    {"1e2", "100"},
    {"1E+2", "100"},
    {"1.0E5", "100000"},
    {"0.000001", "0.000001"},
    {"1E-130", TINY},
    {"9.9999999999999999999999999999999999999E+125", HUGE},
    {"-12.340", "-12.34"},
    {"123456789012345678901234567890123456789000", NULL},
    /* More forms tried on both servers. */
    {"0", "0"},
    {"0.0", "0"},
    {"00", "0"},
    {"-0.0", "0"},
    {"-00.000", "0"},
    {"0e5", "0"},
    {"-0e5", "0"},
    {"5.", "5"},
    {".5", "0.5"},
    {"-.5", "-0.5"},
    {"1.e1", "10"},
    {"1e-5", "0.00001"},
    {"1.5e-7", "0.00000015"},
    {"1e-7", "0.0000001"},
    {"1E-1", "0.1"},
    {"0.5E1", "5"},
    {"12.0e1", "120"},
    {"123.456e-3", "0.123456"},
    {"1.23E+4", "12300"},
    {"1E0", "1"},
    {"1e+0", "1"},
    {"1e-0", "1"},
    {"1e+00000", "1"},
    {"1e0000000000000002", "100"},
    {"1e00000000000000000000000000000000000000000002", "100"},
    {"0001e2", "100"},
    {"-000.000100", "-0.0001"},
    {"00000000000000000000000000000000000000000001", "1"},
    {"1.00000000000000000000000000000000000000000", "1"},
    {"12345678901234567890123456789012345678",
     "12345678901234567890123456789012345678"},
    {"1234567890123456789012345678901234567.8",
     "1234567890123456789012345678901234567.8"},
    {"1e38", "1" Z10 Z10 Z10 "00000000"},
    {"-1e125", "-1" Z50 Z50 Z10 Z10 "00000"},
    {"99999999999999999999999999999999999999e88", HUGE},
    {"0.99999999999999999999999999999999999999e126", HUGE},
    {"-9.9999999999999999999999999999999999999E+125", "-" HUGE},
    {"10e-131", TINY},
    {"0.1e-129", TINY},
    {"100000000000000000000000000000000000000000000000000000e-183", TINY},
    {"-1e-130", "-" TINY},
    {"0e2147483647", "0"},
    {"0e+2147483647", "0"},
    {"0e-2147483647", "0"},
    {"0.0e2147483647", "0"},
    /* Zeros near Java's int limits, as DynamoDB Local 2.9 answered them
     * through boto3 (dynalite takes a zero with any exponent). */
    {"0.0e-2147483646", "0"},
    {"00e2147483647", "0"},
    {"0e-0000000000001", "0"},
    {"0E+00000000000000000001", "0"},
    {"0e0000000000000000", "0"},
    /* DynamoDB Local takes a '+' sign; dynalite rejects it. */
    {"+5", "5"},
    /* Rejected by both. */
    {"", NULL},
    {"-", NULL},
    {"+", NULL},
    {".", NULL},
    {"-.", NULL},
    {".e1", NULL},
    {"e5", NULL},
    {"1e", NULL},
    {"5E", NULL},
    {"1e+", NULL},
    {"1e-", NULL},
    {"1e--1", NULL},
    {"1ee1", NULL},
    {"1.2.3", NULL},
    {"1.5.e1", NULL},
    {"1e1.5", NULL},
    {"--1", NULL},
    {"+-1", NULL},
    {"-+1", NULL},
    {"-e1", NULL},
    {"  5", NULL},
    {"5 ", NULL},
    {" 1", NULL},
    {"0x10", NULL},
    {"1_000", NULL},
    {"1,5", NULL},
    {"1d", NULL},
    {"1f", NULL},
    {"1L", NULL},
    {"NaN", NULL},
    {"Inf", NULL},
    {"Infinity", NULL},
    {"-Infinity", NULL},
    {"1E-131", NULL},
    {"1E+126", NULL},
    {"1E+0126", NULL},
    {"1E400", NULL},
    {"1e-400", NULL},
    {"5e-324", NULL},
    {"1e308", NULL},
    {"10e2147483647", NULL},
    {"1234567890123456789012345678901234567890", NULL},
    {"1.0000000000000000000000000000000000000000000000000000001", NULL},
    /* DynamoDB Local: exponent or scale outside a Java int (dynalite
     * takes the zero ones and returns "0"). */
    {"0e2147483648", NULL},
    {"0e-2147483648", NULL},
    {"0.0e-2147483647", NULL},
    {"1e-2147483648", NULL},
    {"0e12345678901", NULL},
    {"0e99999999999999999999", NULL},
    {"0e99999999999", NULL},
    {"0e9999999999", NULL},
    {"0.00e-2147483646", NULL},
    {"0.0E+2147483648", NULL},
    {"1e2147483648", NULL},
    /* DynamoDB Local takes other Unicode digits (Java's
     * Character.digit: "\u0661\u0662" is 12); dynalite and we do not. */
    {"\xd9\xa1\xd9\xa2", NULL},
    {"\xef\xbc\x91", NULL},
    {NULL, NULL},
};

static void test_number_canonical(void)
{
	for (const struct num_case *c = num_cases; c->input; c++) {
		size_t n = strlen(c->input);
		char *name = NULL;
		int rc;
		char *out = canonical(c->input, &rc);

		printf("# %s\n", c->input);
		if (c->expected) {
			CHECK_INT(rc, 0);
			CHECK_STR(out, c->expected);
			CHECK_INT(ddbvalue_number_is_canonical(
				      c->expected, strlen(c->expected)),
				  1);
			CHECK_INT(ddbvalue_number_is_canonical(c->input, n),
				  strcmp(c->input, c->expected) == 0);
		} else {
			CHECK_INT(rc, -EINVAL);
			CHECK(out == NULL);
			CHECK_INT(ddbvalue_number_is_canonical(c->input, n), 0);
		}
		/* One grammar: the codec's file check and the key names
		 * agree, so a file never passes with a number the server then
		 * refuses, and every number it takes has a key name. */
		CHECK_INT(codec_number_check(c->input, NULL),
			  c->expected ? 0 : -EINVAL);
		CHECK_INT(keyname_encoding(KEYNAME_N, c->input, n, &name, NULL),
			  c->expected ? 0 : -EINVAL);
		if (c->expected)
			CHECK_STR(name, c->expected);
		free(name);
		free(out);
	}
}

/* Why a number is refused, and the parts the codec and the sizes use. */
struct fault_case {
	const char *text;
	enum ddbvalue_number_fault fault;
	size_t nd;	 /* significant digits when the grammar matched */
	long long pow10; /* power of ten of the first one */
};

/* Beyond a Java int the power of ten is only "far out": not checked. */
#define FAR LLONG_MIN

static const struct fault_case fault_cases[] = {
    {"1", DDBVALUE_NUMBER_OK, 1, 0},
    {"-0012.3400", DDBVALUE_NUMBER_OK, 4, 1},
    {"0.000120", DDBVALUE_NUMBER_OK, 2, -4},
    {"1E-130", DDBVALUE_NUMBER_OK, 1, -130},
    {"9.9999999999999999999999999999999999999E+125", DDBVALUE_NUMBER_OK, 38,
     125},
    {"0", DDBVALUE_NUMBER_OK, 0, 0},
    {"0e-2147483647", DDBVALUE_NUMBER_OK, 0, 0},
    {"1234567890123456789012345678901234567891", DDBVALUE_NUMBER_DIGITS, 40,
     39},
    {"1234567890123456789012345678901234567890", DDBVALUE_NUMBER_DIGITS, 39,
     39},
    {"1E-131", DDBVALUE_NUMBER_SMALL, 1, -131},
    {"1E+126", DDBVALUE_NUMBER_LARGE, 1, 126},
    /* Refused by DynamoDB Local as beyond a Java int, although zero; the
     * codec's check once took them and the server then refused the file. */
    {"0e99999999999", DDBVALUE_NUMBER_SYNTAX, 0, 0},
    {"0.0e-2147483647", DDBVALUE_NUMBER_SYNTAX, 0, 0},
    /* A non-zero number there is only out of range. */
    {"1e99999999999", DDBVALUE_NUMBER_LARGE, 1, FAR},
    {"1e-99999999999", DDBVALUE_NUMBER_SMALL, 1, FAR},
    {"", DDBVALUE_NUMBER_SYNTAX, 0, 0},
    {"1e", DDBVALUE_NUMBER_SYNTAX, 0, 0},
    {"NaN", DDBVALUE_NUMBER_SYNTAX, 0, 0},
    {NULL, 0, 0, 0},
};

static void test_number_faults(void)
{
	for (const struct fault_case *c = fault_cases; c->text; c++) {
		struct ddbvalue_number x;
		enum ddbvalue_number_fault f = 99;
		int rc =
		    ddbvalue_number_parse(c->text, strlen(c->text), &x, &f);

		printf("# %s\n", c->text);
		CHECK_INT(f, c->fault);
		CHECK_INT(rc, c->fault == DDBVALUE_NUMBER_OK ? 0 : -EINVAL);
		CHECK_INT(codec_number_check(c->text, NULL), rc);
		if (c->fault == DDBVALUE_NUMBER_SYNTAX)
			continue;
		CHECK_INT(x.nd, c->nd);
		if (c->pow10 != FAR)
			CHECK_INT(x.pow10, c->pow10);
	}
	/* NULL fault is fine */
	CHECK_INT(
	    ddbvalue_number_parse("1", 1, &(struct ddbvalue_number){0}, NULL),
	    0);
}

/* Exact order, never through double. */
struct cmp_case {
	const char *a, *b;
	int sign;
};

static const struct cmp_case cmp_cases[] = {
    {"1", "1.0", 0},
    {"-0", "0", 0},
    {"10", "1E1", 0},
    {"0.1", "1e-1", 0},
    {"1", "2", -1},
    {"-1", "1", -1},
    {"-2", "-1", -1},
    {"0.5", "1", -1},
    {"12345678901234567890123456789012345678",
     "12345678901234567890123456789012345679", -1},
    {"1E-130", "0", 1},
    {"-1E-130", "0", -1},
    {"9.9999999999999999999999999999999999999E+125", "1E+125", 1},
    {"100", "99.999", 1},
    {NULL, NULL, 0},
};

static int sign(int v)
{
	return v < 0 ? -1 : v > 0;
}

static void test_number_compare(void)
{
	for (const struct cmp_case *c = cmp_cases; c->a; c++) {
		struct ddbvalue_number x, y;

		printf("# %s <=> %s\n", c->a, c->b);
		CHECK_INT(ddbvalue_number_parse(c->a, strlen(c->a), &x, NULL),
			  0);
		CHECK_INT(ddbvalue_number_parse(c->b, strlen(c->b), &y, NULL),
			  0);
		CHECK_INT(sign(ddbvalue_number_compare(&x, &y)), c->sign);
		CHECK_INT(sign(ddbvalue_number_compare(&y, &x)), -c->sign);
	}
}

/* DynamoDB Local's byte count of a number (codec_item_size uses it). */
static void test_number_size(void)
{
	static const struct {
		const char *text;
		size_t size;
	} cases[] = {
	    {"0", 1},	 {"-0.000", 1}, {"1", 2},      {"-1", 3},  {"12", 2},
	    {"123", 3},	 {"1234", 3},	{"10", 2},     {"1.5", 3}, {"0.15", 2},
	    {"-1.5", 4}, {"1E+2", 2},	{"123456", 4}, {NULL, 0},
	};

	for (int i = 0; cases[i].text; i++) {
		struct ddbvalue_number x;

		printf("# %s\n", cases[i].text);
		CHECK_INT(ddbvalue_number_parse(
			      cases[i].text, strlen(cases[i].text), &x, NULL),
			  0);
		CHECK_INT(ddbvalue_number_size(&x), cases[i].size);
	}
}

/* RFC 4648's vectors in both alphabets, and the bytes where they differ. */
struct b64_case {
	const char *raw;
	size_t len;
	const char *std; /* the wire: padded */
	const char *url; /* names: unpadded */
};

static const struct b64_case b64_cases[] = {
    {"", 0, "", ""},
    {"f", 1, "Zg==", "Zg"},
    {"fo", 2, "Zm8=", "Zm8"},
    {"foo", 3, "Zm9v", "Zm9v"},
    {"foob", 4, "Zm9vYg==", "Zm9vYg"},
    {"fooba", 5, "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", 6, "Zm9vYmFy", "Zm9vYmFy"},
    {"\xfb\xff", 2, "+/8=", "-_8"},
    {"\xfb\xef\xbe", 3, "++++", "----"},
    {"\xff\xff\xff", 3, "////", "____"},
    {"\0\0", 2, "AAA=", "AAA"},
    {NULL, 0, NULL, NULL},
};

/* Encodes, decodes and checks one text of one alphabet. */
static void b64_check(const struct b64_case *c, bool url)
{
	const char *text = url ? c->url : c->std;
	struct dynbuf b = {0};
	size_t n = 99;

	CHECK_INT(ddbvalue_base64_encode(c->raw, c->len, url, &b), 0);
	CHECK(b.len == strlen(text) && (!b.len || !memcmp(b.p, text, b.len)));
	dynbuf_free(&b);
	CHECK_INT(ddbvalue_base64_decode(text, strlen(text), url, &b, &n), 0);
	CHECK_INT(n, c->len);
	CHECK(b.len == c->len && (!b.len || !memcmp(b.p, c->raw, c->len)));
	dynbuf_free(&b);
	/* check only: no buffer, same answer */
	n = 99;
	CHECK_INT(ddbvalue_base64_decode(text, strlen(text), url, NULL, &n), 0);
	CHECK_INT(n, c->len);
}

static void test_base64(void)
{
	for (const struct b64_case *c = b64_cases; c->raw; c++) {
		printf("# %s\n", c->std);
		b64_check(c, false);
		b64_check(c, true);
	}
}

/* One text per byte string: everything but the encoder's form is refused. */
static void test_base64_strict(void)
{
	static const struct {
		const char *text;
		bool url;
	} bad[] = {
	    {"QQ", false},   {"QQ=", false},  {"QR==", false},
	    {"QUJ=", false}, {"Q===", false}, {"=QQ=", false},
	    {"AB=C", false}, {"-A==", false}, {"AA==AA==", false},
	    {"abc", false},  {"ab-_", false}, {"QQ==", true},
	    {"Q", true},     {"QR", true},    {"+A", true},
	    {"/A", true},    {"Q Q", true},   {NULL, false},
	};
	struct dynbuf b = {0};
	size_t n = 7;

	for (int i = 0; bad[i].text; i++) {
		printf("# %s\n", bad[i].text);
		CHECK_INT(ddbvalue_base64_decode(bad[i].text,
						 strlen(bad[i].text),
						 bad[i].url, &b, &n),
			  -EINVAL);
		dynbuf_free(&b);
	}
	CHECK_INT(n, 7);
	CHECK_INT(ddbvalue_base64_decode(NULL, 1, false, NULL, NULL), -EINVAL);
}

/* Random bytes round trip through both alphabets. */
static void test_base64_random(void)
{
	unsigned seed = 13;
	unsigned char v[600];
	int bad = 0;

	for (int i = 0; i < 2000 && bad < 5; i++) {
		size_t len = (size_t)rand_r(&seed) % sizeof(v);
		bool url = i % 2;
		struct dynbuf text = {0}, back = {0};

		for (size_t j = 0; j < len; j++)
			v[j] = (unsigned char)rand_r(&seed);
		CHECK_INT(ddbvalue_base64_encode(v, len, url, &text), 0);
		CHECK_INT(
		    ddbvalue_base64_decode(text.p, text.len, url, &back, NULL),
		    0);
		if (back.len != len || (len && memcmp(back.p, v, len)))
			bad++;
		dynbuf_free(&text);
		dynbuf_free(&back);
	}
	CHECK_INT(bad, 0);
}

static void test_utf8(void)
{
	static const struct {
		const char *text;
		size_t len;
		size_t first; /* ddbvalue_utf8_char_len of the first char */
		bool valid;
	} cases[] = {
	    {"a", 1, 1, true},
	    {"\xc3\xa9", 2, 2, true},
	    {"\xe2\x82\xac", 3, 3, true},
	    {"\xf0\x9f\x98\x80", 4, 4, true},
	    {"\xf4\x8f\xbf\xbf", 4, 4, true},  /* U+10FFFF */
	    {"\xf4\x90\x80\x80", 4, 0, false}, /* past U+10FFFF */
	    {"\xc0\xaf", 2, 0, false},	       /* overlong */
	    {"\xe0\x80\xaf", 3, 0, false},     /* overlong */
	    {"\xf0\x80\x80\xaf", 4, 0, false}, /* overlong */
	    {"\xed\xa0\x80", 3, 0, false},     /* surrogate */
	    {"\xe6\x97", 2, 0, false},	       /* truncated */
	    {"\xff", 1, 0, false},
	    {"\x80", 1, 0, false},
	    {"\0", 1, 1, true},
	    {"a\xc3", 2, 1, false},
	    {NULL, 0, 0, false},
	};

	for (int i = 0; cases[i].text; i++) {
		printf("# case %d\n", i);
		CHECK_INT(ddbvalue_utf8_char_len(cases[i].text, cases[i].len),
			  cases[i].first);
		CHECK_INT(ddbvalue_utf8_valid(cases[i].text, cases[i].len),
			  cases[i].valid);
	}
	CHECK(ddbvalue_utf8_valid("", 0));
}

static void test_keys(void)
{
	static const struct {
		const char *text;
		int rc;
		char type;
	} cases[] = {
	    {"S", 0, 'S'},	  {"N", 0, 'N'},     {"B", 0, 'B'},
	    {"", -EINVAL, 0},	  {"s", -EINVAL, 0}, {"SS", -EINVAL, 0},
	    {"BOOL", -EINVAL, 0}, {"X", -EINVAL, 0}, {NULL, 0, 0},
	};

	for (int i = 0; cases[i].text; i++) {
		char t = 0;

		printf("# \"%s\"\n", cases[i].text);
		CHECK_INT(ddbvalue_key_type_parse(cases[i].text,
						  strlen(cases[i].text), &t),
			  cases[i].rc);
		CHECK_INT(t, cases[i].type);
	}
	CHECK_INT(ddbvalue_key_type_parse("N", 0, &(char){0}), -EINVAL);
	CHECK(ddbvalue_key_type_valid('B'));
	CHECK(!ddbvalue_key_type_valid('?'));
	CHECK_STR(ddbvalue_key_type_words('S'), "a string (S)");
	CHECK_STR(ddbvalue_key_type_words('N'), "a number (N)");
	CHECK_STR(ddbvalue_key_type_words('B'), "a binary (B)");
	CHECK_STR(ddbvalue_key_type_words('x'), "another type");
	/* DYNAMODB.md: partition key 1-2048 bytes, sort key 1-1024. */
	CHECK_INT(ddbvalue_key_max(false), 2048);
	CHECK_INT(ddbvalue_key_max(true), 1024);
}

TAP_MAIN({"number canonical forms", test_number_canonical},
	 {"number faults", test_number_faults},
	 {"number order", test_number_compare},
	 {"number sizes", test_number_size}, {"base64 vectors", test_base64},
	 {"strict base64", test_base64_strict},
	 {"base64 random round trips", test_base64_random},
	 {"UTF-8", test_utf8}, {"key types and limits", test_keys})
