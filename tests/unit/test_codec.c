/* test_codec.c - the item codec: data folders checked byte for byte against
 * Python's json.dumps, tables of parse errors, keys, numbers, sizes, round
 * trips. */
#include "tap.h"
#include "codec.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

/* ------------------------------------------------------------------ */
/* helpers */

static const struct codec_schema pk_sk = {"pk", 'S', "sk", 'S'};

/* Tests stop at once when memory runs out. */
static void *xmalloc(size_t n)
{
	void *p = malloc(n);

	if (!p)
		abort();
	return p;
}

/* tests/data/codec, from DYNAMOFS_TESTDATA (meson test and scripts/test
 * set it); by hand, from the top of the source tree. */
static void data_dir(char *out, size_t size)
{
	const char *data = getenv("DYNAMOFS_TESTDATA");

	if (data && *data)
		snprintf(out, size, "%s/codec", data);
	else
		snprintf(out, size, "tests/data/codec");
}

static json_t *wire(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, JSON_ALLOW_NUL, &e);

	if (!j)
		printf("#   bad test JSON: %s: %s\n", text, e.text);
	return j;
}

/* Prints where two texts first differ, for a readable failure. */
static void show_diff(const char *what, const char *a, size_t an, const char *b,
		      size_t bn)
{
	size_t i = 0;

	while (i < an && i < bn && a[i] == b[i])
		i++;
	printf("#   %s: differs at byte %zu (lengths %zu, %zu)\n"
	       "#     got:      %.60s\n#     expected: %.60s\n",
	       what, i, an, bn, a + (i > 20 ? i - 20 : 0),
	       b + (i > 20 ? i - 20 : 0));
}

static bool same_text(const char *what, const char *a, size_t an, const char *b,
		      size_t bn)
{
	if (a && b && an == bn && memcmp(a, b, an) == 0)
		return true;
	if (a && b)
		show_diff(what, a, an, b, bn);
	return false;
}

static bool av_equal(const json_t *a, const json_t *b);

/* Wire items equal, with set members compared as sets. */
static bool map_equal(const json_t *a, const json_t *b)
{
	const char *k;
	size_t kl;
	json_t *v;

	if (!json_is_object(a) || !json_is_object(b) ||
	    json_object_size(a) != json_object_size(b))
		return false;
	json_object_keylen_foreach((json_t *)a, k, kl, v)
	{
		if (!av_equal(v, json_object_getn(b, k, kl)))
			return false;
	}
	return true;
}

static bool av_equal(const json_t *a, const json_t *b)
{
	const char *k;
	size_t kl;
	json_t *va, *vb;

	if (!json_is_object(a) || !json_is_object(b) ||
	    json_object_size(a) != 1 || json_object_size(b) != 1)
		return false;
	json_object_keylen_foreach((json_t *)a, k, kl, va)
	{
		vb = json_object_getn(b, k, kl);
		if (!vb)
			return false;
		if (!strcmp(k, "M"))
			return map_equal(va, vb);
		if (!strcmp(k, "L")) {
			if (json_array_size(va) != json_array_size(vb))
				return false;
			for (size_t i = 0; i < json_array_size(va); i++)
				if (!av_equal(json_array_get(va, i),
					      json_array_get(vb, i)))
					return false;
			return true;
		}
		if (!strcmp(k, "SS") || !strcmp(k, "NS") || !strcmp(k, "BS")) {
			if (json_array_size(va) != json_array_size(vb))
				return false;
			for (size_t i = 0; i < json_array_size(va); i++) {
				bool found = false;

				for (size_t j = 0; j < json_array_size(vb); j++)
					found =
					    found ||
					    json_equal(json_array_get(va, i),
						       json_array_get(vb, j));
				if (!found)
					return false;
			}
			return true;
		}
		return json_equal(va, vb);
	}
	return false;
}

/* ------------------------------------------------------------------ */
/* data folders: ddb.json (wire, canonical) and plain.json (expected) */

static int check_case(const char *dir, const char *name)
{
	char path[8192];
	size_t dl = 0, pl = 0, rl = 0;
	char *ddb = NULL, *plain = NULL, *r = NULL;
	json_t *item = NULL, *back = NULL;
	struct codec_error err;
	char msg[512];
	int bad = 0;

	snprintf(path, sizeof(path), "%s/%s/ddb.json", dir, name);
	ddb = tap_slurp(path, &dl);
	snprintf(path, sizeof(path), "%s/%s/plain.json", dir, name);
	plain = tap_slurp(path, &pl);
	item = ddb ? wire(ddb) : NULL;
	if (!ddb || !plain || !item) {
		printf("#   case %s: missing or unreadable files\n", name);
		bad++;
		goto out;
	}
	/* render both formats, byte for byte */
	CHECK_INT(codec_render(item, &pk_sk, CODEC_PLAIN, &r, &rl), 0);
	if (!same_text(name, r, rl, plain, pl))
		bad++;
	free(r);
	r = NULL;
	CHECK_INT(codec_render(item, &pk_sk, CODEC_DDB, &r, &rl), 0);
	if (!same_text(name, r, rl, ddb, dl))
		bad++;
	free(r);
	r = NULL;
	/* parse both back to the same item */
	if (codec_parse(plain, pl, CODEC_PLAIN, &back, &err) != 0) {
		printf("#   case %s plain: %s\n", name,
		       codec_strerror(&err, msg, sizeof(msg)));
		bad++;
	} else if (!json_equal(back, item)) {
		printf("#   case %s: plain parses to another item\n", name);
		bad++;
	}
	json_decref(back);
	back = NULL;
	if (codec_parse(ddb, dl, CODEC_DDB, &back, &err) != 0) {
		printf("#   case %s ddb: %s\n", name,
		       codec_strerror(&err, msg, sizeof(msg)));
		bad++;
	} else if (!json_equal(back, item)) {
		printf("#   case %s: ddb parses to another item\n", name);
		bad++;
	}
out:
	json_decref(back);
	json_decref(item);
	free(ddb);
	free(plain);
	return bad;
}

static void test_data_folders(void)
{
	char dir[4096];
	DIR *d;
	struct dirent *e;
	int cases = 0;

	data_dir(dir, sizeof(dir));
	d = opendir(dir);
	CHECK(d != NULL);
	if (!d) {
		printf("#   no %s\n", dir);
		return;
	}
	for (;;) {
		char sub[8192];
		struct stat st;

		e = readdir(d);
		if (!e)
			break;

		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s", dir, e->d_name);
		if (stat(sub, &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		cases++;
		CHECK_INT(check_case(dir, e->d_name), 0);
	}
	closedir(d);
	CHECK(cases >= 11);
}

/* ------------------------------------------------------------------ */
/* rendering, table-driven */

struct render_case {
	const char *name;
	const char *item; /* wire */
	enum codec_format f;
	int rc;
	const char *text;
};

static const struct render_case render_cases[] = {
    {"empty item", "{}", CODEC_PLAIN, 0, "{}\n"},
    {"empty item ddb", "{}", CODEC_DDB, 0, "{}\n"},
    {"keys first, range missing", "{\"a\":{\"S\":\"x\"},\"pk\":{\"N\":\"1\"}}",
     CODEC_PLAIN, 0, "{\n  \"pk\": 1,\n  \"a\": \"x\"\n}\n"},
    {"unsorted SS sorted", "{\"s\":{\"SS\":[\"b\",\"a\",\"c\"]}}", CODEC_PLAIN,
     0,
     "{\n  \"s\": {\n    \"$SS\": [\n      \"a\",\n      \"b\",\n"
     "      \"c\"\n    ]\n  }\n}\n"},
    {"unsorted NS by value", "{\"s\":{\"NS\":[\"10\",\"9\",\"-1\"]}}",
     CODEC_DDB, 0,
     "{\n  \"s\": {\n    \"NS\": [\n      \"-1\",\n      \"9\",\n"
     "      \"10\"\n    ]\n  }\n}\n"},
    {"NS ties by bytes", "{\"s\":{\"NS\":[\"1.0\",\"1\"]}}", CODEC_PLAIN, 0,
     "{\n  \"s\": {\n    \"$NS\": [\n      1,\n      1.0\n    ]\n  }\n}\n"},
    {"BS by bytes", "{\"s\":{\"BS\":[\"/w==\",\"AA==\"]}}", CODEC_PLAIN, 0,
     "{\n  \"s\": {\n    \"$BS\": [\n      \"AA==\",\n      \"/w==\"\n"
     "    ]\n  }\n}\n"},
    {"N +5", "{\"n\":{\"N\":\"+5\"}}", CODEC_PLAIN, 0, "{\n  \"n\": 5\n}\n"},
    {"N .5", "{\"n\":{\"N\":\".5\"}}", CODEC_PLAIN, 0, "{\n  \"n\": 0.5\n}\n"},
    {"N -.5", "{\"n\":{\"N\":\"-.5\"}}", CODEC_PLAIN, 0,
     "{\n  \"n\": -0.5\n}\n"},
    {"N 5.", "{\"n\":{\"N\":\"5.\"}}", CODEC_PLAIN, 0, "{\n  \"n\": 5\n}\n"},
    {"N 007.500", "{\"n\":{\"N\":\"007.500\"}}", CODEC_PLAIN, 0,
     "{\n  \"n\": 7.500\n}\n"},
    {"N 00", "{\"n\":{\"N\":\"00\"}}", CODEC_PLAIN, 0, "{\n  \"n\": 0\n}\n"},
    {"N 1.0E+5 kept", "{\"n\":{\"N\":\"1.0E+5\"}}", CODEC_PLAIN, 0,
     "{\n  \"n\": 1.0E+5\n}\n"},
    {"N 007.500 ddb verbatim", "{\"n\":{\"N\":\"007.500\"}}", CODEC_DDB, 0,
     "{\n  \"n\": {\n    \"N\": \"007.500\"\n  }\n}\n"},
    {"NUL and DEL", "{\"s\":{\"S\":\"a\\u0000\\u007f\"}}", CODEC_PLAIN, 0,
     "{\n  \"s\": \"a\\u0000\x7f\"\n}\n"},
    {"unknown tag", "{\"a\":{\"X\":\"1\"}}", CODEC_PLAIN, -EINVAL, NULL},
    {"two tags", "{\"a\":{\"S\":\"1\",\"N\":\"1\"}}", CODEC_DDB, -EINVAL, NULL},
    {"S not a string", "{\"a\":{\"S\":1}}", CODEC_PLAIN, -EINVAL, NULL},
    {"N not a number", "{\"a\":{\"N\":\"abc\"}}", CODEC_PLAIN, -EINVAL, NULL},
    {"N not a number ddb", "{\"a\":{\"N\":\"abc\"}}", CODEC_DDB, -EINVAL, NULL},
    {"bad base64", "{\"a\":{\"B\":\"!!!!\"}}", CODEC_PLAIN, -EINVAL, NULL},
    {"bad NS member", "{\"a\":{\"NS\":[\"1\",\"x\"]}}", CODEC_PLAIN, -EINVAL,
     NULL},
    {"not an AV", "{\"a\":\"x\"}", CODEC_DDB, -EINVAL, NULL},
};

static void test_render_table(void)
{
	for (size_t i = 0; i < sizeof(render_cases) / sizeof(render_cases[0]);
	     i++) {
		const struct render_case *c = &render_cases[i];
		json_t *item = wire(c->item);
		char *t = NULL;
		size_t n = 99;
		int rc = codec_render(item, &pk_sk, c->f, &t, &n);

		if (rc != c->rc)
			printf("#   case %s\n", c->name);
		CHECK_INT(rc, c->rc);
		if (c->text)
			CHECK_STR(t, c->text);
		else
			CHECK(t == NULL && n == 0);
		if (t)
			CHECK_INT(strlen(t), n);
		free(t);
		json_decref(item);
	}
}

/* Attribute names with NUL and a map whose key holds NUL round-trip. */
static void test_nul_names(void)
{
	json_t *item = json_object(), *back = NULL;
	char *t = NULL;
	size_t n = 0;
	struct codec_error err;

	json_object_setn_new(item, "a\0b", 3,
			     json_pack("{s:s#}", "S", "x\0y", (size_t)3));
	CHECK_INT(codec_render(item, NULL, CODEC_PLAIN, &t, &n), 0);
	CHECK_STR(t, "{\n  \"a\\u0000b\": \"x\\u0000y\"\n}\n");
	CHECK_INT(codec_parse(t, n, CODEC_PLAIN, &back, &err), 0);
	CHECK(back && json_object_getn(back, "a\0b", 3) != NULL);
	CHECK(map_equal(back, item));
	free(t);
	json_decref(back);
	json_decref(item);
}

/* ------------------------------------------------------------------ */
/* parsing that succeeds */

struct parse_ok {
	const char *name;
	enum codec_format f;
	const char *text;
	const char *item; /* expected wire item */
};

static const struct parse_ok parse_oks[] = {
    {"empty text", CODEC_PLAIN, "", "{}"},
    {"whitespace only", CODEC_PLAIN, " \n\t\r\n ", "{}"},
    {"whitespace only ddb", CODEC_DDB, "\n", "{}"},
    {"empty object", CODEC_PLAIN, "{}", "{}"},
    {"BOM skipped", CODEC_PLAIN, "\xef\xbb\xbf{\"a\": 1}",
     "{\"a\":{\"N\":\"1\"}}"},
    {"all plain types", CODEC_PLAIN,
     "{\"s\":\"x\",\"n\":-1.50e+3,\"t\":true,\"f\":false,\"z\":null,"
     "\"l\":[1,\"a\"],\"m\":{\"k\":[]},\"b\":{\"$B\":\"AAE=\"},"
     "\"ss\":{\"$SS\":[\"a\",\"\"]},\"ns\":{\"$NS\":[1,2.5]},"
     "\"bs\":{\"$BS\":[\"AA==\",\"\"]}}",
     "{\"s\":{\"S\":\"x\"},\"n\":{\"N\":\"-1.50e+3\"},\"t\":{\"BOOL\":true},"
     "\"f\":{\"BOOL\":false},\"z\":{\"NULL\":true},"
     "\"l\":{\"L\":[{\"N\":\"1\"},{\"S\":\"a\"}]},"
     "\"m\":{\"M\":{\"k\":{\"L\":[]}}},\"b\":{\"B\":\"AAE=\"},"
     "\"ss\":{\"SS\":[\"a\",\"\"]},\"ns\":{\"NS\":[\"1\",\"2.5\"]},"
     "\"bs\":{\"BS\":[\"AA==\",\"\"]}}"},
    {"$M escape", CODEC_PLAIN, "{\"m\":{\"$M\":{\"$SS\":\"x\"}}}",
     "{\"m\":{\"M\":{\"$SS\":{\"S\":\"x\"}}}}"},
    {"$M with many keys", CODEC_PLAIN, "{\"m\":{\"$M\":{\"a\":1,\"b\":2}}}",
     "{\"m\":{\"M\":{\"a\":{\"N\":\"1\"},\"b\":{\"N\":\"2\"}}}}"},
    {"tag among other keys is a name", CODEC_PLAIN,
     "{\"m\":{\"$SS\":1,\"x\":2}}",
     "{\"m\":{\"M\":{\"$SS\":{\"N\":\"1\"},\"x\":{\"N\":\"2\"}}}}"},
    {"top-level tag name", CODEC_PLAIN, "{\"$B\":\"x\"}",
     "{\"$B\":{\"S\":\"x\"}}"},
    {"escapes", CODEC_PLAIN,
     "{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\\u0000\"}",
     "{\"s\":{\"S\":\"\\\"\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00"
     "\\u0000\"}}"},
    {"raw UTF-8", CODEC_PLAIN, "{\"\xc3\xa9\":\"\xf0\x9f\x98\x80\"}",
     "{\"\\u00e9\":{\"S\":\"\\ud83d\\ude00\"}}"},
    {"number limits", CODEC_PLAIN,
     "{\"a\":1E-130,\"b\":-9.9999999999999999999999999999999999999E+125,"
     "\"c\":12345678901234567890123456789012345678000,\"d\":0E+999,"
     "\"e\":0.1e-129,\"f\":-0}",
     "{\"a\":{\"N\":\"1E-130\"},"
     "\"b\":{\"N\":\"-9.9999999999999999999999999999999999999E+125\"},"
     "\"c\":{\"N\":\"12345678901234567890123456789012345678000\"},"
     "\"d\":{\"N\":\"0E+999\"},\"e\":{\"N\":\"0.1e-129\"},"
     "\"f\":{\"N\":\"-0\"}}"},
    {"ddb all types", CODEC_DDB,
     "{\"s\":{\"S\":\"x\"},\"n\":{\"N\":\"007.500\"},\"p\":{\"N\":\"+5\"},"
     "\"d\":{\"N\":\".5\"},\"b\":{\"B\":\"AAE=\"},\"t\":{\"BOOL\":true},"
     "\"z\":{\"NULL\":true},\"l\":{\"L\":[{\"S\":\"a\"}]},"
     "\"m\":{\"M\":{\"$SS\":{\"S\":\"y\"}}},\"ss\":{\"SS\":[\"a\"]},"
     "\"ns\":{\"NS\":[\"1\",\"-1\"]},\"bs\":{\"BS\":[\"AA==\"]}}",
     "{\"s\":{\"S\":\"x\"},\"n\":{\"N\":\"007.500\"},\"p\":{\"N\":\"+5\"},"
     "\"d\":{\"N\":\".5\"},\"b\":{\"B\":\"AAE=\"},\"t\":{\"BOOL\":true},"
     "\"z\":{\"NULL\":true},\"l\":{\"L\":[{\"S\":\"a\"}]},"
     "\"m\":{\"M\":{\"$SS\":{\"S\":\"y\"}}},\"ss\":{\"SS\":[\"a\"]},"
     "\"ns\":{\"NS\":[\"1\",\"-1\"]},\"bs\":{\"BS\":[\"AA==\"]}}"},
    {"sets in sets stay", CODEC_PLAIN, "{\"x\":{\"$SS\":[\"b\",\"a\"]}}",
     "{\"x\":{\"SS\":[\"b\",\"a\"]}}"},
};

static void test_parse_ok(void)
{
	for (size_t i = 0; i < sizeof(parse_oks) / sizeof(parse_oks[0]); i++) {
		const struct parse_ok *c = &parse_oks[i];
		json_t *want = wire(c->item), *got = NULL;
		struct codec_error err;
		char msg[512];
		int rc =
		    codec_parse(c->text, strlen(c->text), c->f, &got, &err);

		if (rc != 0 || !json_equal(got, want)) {
			char *dump = got ? json_dumps(got, JSON_COMPACT) : NULL;

			printf("#   case %s: rc %d %s got %s\n", c->name, rc,
			       rc ? codec_strerror(&err, msg, sizeof(msg)) : "",
			       dump ? dump : "(null)");
			free(dump);
		}
		CHECK_INT(rc, 0);
		CHECK(json_equal(got, want));
		json_decref(got);
		json_decref(want);
	}
}

/* ------------------------------------------------------------------ */
/* parsing that fails */

struct parse_bad {
	const char *name;
	enum codec_format f;
	const char *text;
	int rc;
	unsigned line, column;
	const char *path;    /* expected path, exact */
	const char *message; /* a substring of the message */
};

#define P CODEC_PLAIN
#define D CODEC_DDB
#define E -EINVAL

static const struct parse_bad parse_bads[] = {
    /* syntax, with exact places */
    {"trailing comma", P, "{\"a\": 1,}", E, 1, 9, "",
     "trailing comma before '}'"},
    {"missing comma", P, "{\n  \"a\": 1\n  \"b\": 2\n}", E, 3, 3, "",
     "expected ',' or '}', found '\"'"},
    {"missing colon", P, "{\"a\" 1}", E, 1, 6, "", "expected ':'"},
    {"missing value", P, "{\"a\": }", E, 1, 7, "",
     "expected a value, found '}'"},
    {"bad literal", P, "{\"a\": tru}", E, 1, 7, "", "expected true"},
    {"leading zero", P, "{\"a\": 01}", E, 1, 8, "", "leading zeros"},
    {"dot without digits", P, "{\"a\": 1.}", E, 1, 9, "", "digit after '.'"},
    {"exponent without digits", P, "{\"a\": 1e}", E, 1, 9, "", "exponent"},
    {"lone minus", P, "{\"a\": -}", E, 1, 8, "", "digit after '-'"},
    {"plus sign", P, "{\"a\": +1}", E, 1, 7, "", "expected a value"},
    {"unterminated string", P, "{\"a\": \"x", E, 1, 9, "",
     "unterminated string"},
    {"newline in string", P, "{\"a\": \"x\ny\"}", E, 1, 9, "",
     "unterminated string"},
    {"control char in string", P, "{\"a\": \"\x01\"}", E, 1, 8, "",
     "control character U+0001"},
    {"bad escape", P, "{\"a\": \"\\q\"}", E, 1, 8, "", "invalid escape"},
    {"short \\u", P, "{\"a\": \"\\u12\"}", E, 1, 8, "", "invalid \\u escape"},
    {"lone high surrogate", P, "{\"a\": \"\\ud800\"}", E, 1, 8, "",
     "lone surrogate \\uD800"},
    {"high then not low", P, "{\"a\": \"\\ud800\\u0041\"}", E, 1, 8, "",
     "lone surrogate"},
    {"lone low surrogate", P, "{\"a\": \"x\\udc00\"}", E, 1, 9, "",
     "lone surrogate \\uDC00"},
    {"bad UTF-8 byte", P, "{\"a\": \"\xff\"}", E, 1, 8, "", "invalid UTF-8"},
    {"overlong UTF-8", P, "{\"a\": \"\xc0\xaf\"}", E, 1, 8, "",
     "invalid UTF-8"},
    {"UTF-8 surrogate", P, "{\"a\": \"\xed\xa0\x80\"}", E, 1, 8, "",
     "invalid UTF-8"},
    {"truncated UTF-8", P, "{\"a\": \"\xe6\x97\"}", E, 1, 8, "",
     "invalid UTF-8"},
    {"UTF-8 past U+10FFFF", P, "{\"a\": \"\xf4\x90\x80\x80\"}", E, 1, 8, "",
     "invalid UTF-8"},
    {"bad UTF-8 in a key", P, "{\"\xc3\":1}", E, 1, 3, "", "invalid UTF-8"},
    {"bad byte outside strings", P, "{\xff}", E, 1, 2, "", "byte 0xFF"},
    {"columns count characters", P, "{\"\xc3\xa9\xf0\x9f\x98\x80\": 1,}", E, 1,
     10, "", "trailing comma"},
    {"unterminated object", P, "{\"a\": 1", E, 1, 8, "", "found end of text"},
    {"unterminated array", P, "{\"a\": [1,", E, 1, 10, "",
     "unexpected end of text"},
    {"trailing comma in array", P, "{\"a\": [1,]}", E, 1, 10, "",
     "trailing comma before ']'"},
    {"trailing garbage", P, "{\"a\": 1} x", E, 1, 10, "",
     "unexpected 'x' after the JSON object"},
    {"two objects", P, "{\"a\": 1}\n{\"b\": 2}\n", E, 2, 1, "",
     "a second JSON object"},
    {"array", P, "[1]", E, 1, 1, "", "not an array"},
    {"string", P, "  \"x\"", E, 1, 3, "", "not a string"},
    {"number", P, "\n42", E, 2, 1, "", "not a number"},
    {"negative number", P, "-1", E, 1, 1, "", "not a number"},
    {"true", P, "true", E, 1, 1, "", "not true"},
    {"null", P, "null", E, 1, 1, "", "not null"},
    {"junk", P, "hello", E, 1, 1, "", "found 'h'"},
    {"ddb array", D, "[]", E, 1, 1, "", "not an array"},
    {"duplicate key", P, "{\"a\": 1, \"a\": 2}", E, 1, 10, "",
     "duplicate key \"a\" (first at line 1, column 2)"},
    {"duplicate key by escape", P, "{\"a\": 1,\n \"\\u0061\": 2}", E, 2, 2, "",
     "duplicate key \"a\""},
    {"nested duplicate key", P, "{\"m\": {\"x\": 1, \"y\": 2, \"x\": 3}}", E, 1,
     24, "", "duplicate key \"x\" (first at line 1, column 8)"},
    {"duplicate ddb tag", D, "{\"a\": {\"S\": \"x\", \"S\": \"y\"}}", E, 1, 18,
     "", "duplicate key \"S\""},
    /* types and values, with attribute paths */
    {"bad base64", P, "{\"b\": {\"$B\": \"abc\"}}", E, 0, 0, "b",
     "invalid base64"},
    {"base64 bad char", P, "{\"b\": {\"$B\": \"ab-_\"}}", E, 0, 0, "b",
     "invalid base64"},
    {"base64 no padding", P, "{\"b\": {\"$B\": \"AA\"}}", E, 0, 0, "b",
     "invalid base64"},
    {"base64 stray bits", P, "{\"b\": {\"$B\": \"QR==\"}}", E, 0, 0, "b",
     "invalid base64"},
    {"base64 pad inside", P, "{\"b\": {\"$B\": \"AA==AA==\"}}", E, 0, 0, "b",
     "invalid base64"},
    {"$B not a string", P, "{\"b\": {\"$B\": 5}}", E, 0, 0, "b",
     "base64 string, not a number"},
    {"empty SS", P, "{\"s\": {\"$SS\": []}}", E, 0, 0, "s",
     "a set cannot be empty"},
    {"empty NS", P, "{\"s\": {\"$NS\": []}}", E, 0, 0, "s",
     "a set cannot be empty"},
    {"SS not an array", P, "{\"s\": {\"$SS\": \"a\"}}", E, 0, 0, "s",
     "must be an array"},
    {"duplicate SS", P, "{\"s\": {\"$SS\": [\"a\", \"b\", \"a\"]}}", E, 0, 0,
     "s[2]", "duplicate set member (equal to member 0"},
    {"duplicate NS 1 1.0", P, "{\"s\": {\"$NS\": [1, 1.0]}}", E, 0, 0, "s[1]",
     "duplicate set member"},
    {"duplicate NS 10 1E1", P, "{\"s\": {\"$NS\": [2, 10, 1E1]}}", E, 0, 0,
     "s[2]", "equal to member 1"},
    {"duplicate NS -0 0", P, "{\"s\": {\"$NS\": [-0, 0]}}", E, 0, 0, "s[1]",
     "duplicate set member"},
    {"duplicate BS", P, "{\"s\": {\"$BS\": [\"AA==\", \"AQ==\", \"AA==\"]}}", E,
     0, 0, "s[2]", "duplicate set member"},
    {"SS member type", P, "{\"s\": {\"$SS\": [\"a\", 1]}}", E, 0, 0, "s[1]",
     "must be a string, not a number"},
    {"NS member type", P, "{\"s\": {\"$NS\": [\"1\"]}}", E, 0, 0, "s[0]",
     "must be a number, not a string"},
    {"BS member base64", P, "{\"s\": {\"$BS\": [\"AA==\", \"!\"]}}", E, 0, 0,
     "s[1]", "invalid base64"},
    {"BS member type", P, "{\"s\": {\"$BS\": [null]}}", E, 0, 0, "s[0]",
     "must be a string, not null"},
    {"NS member too big", P, "{\"s\": {\"$NS\": [1, 1E+126]}}", E, 0, 0, "s[1]",
     "too large"},
    {"$M not an object", P, "{\"m\": {\"$M\": [1]}}", E, 0, 0, "m",
     "\"$M\" must hold an object, not an array"},
    {"39 digits", P, "{\"n\": 123456789012345678901234567890123456789}", E, 0,
     0, "n", "number has 39 significant digits (DynamoDB keeps 38)"},
    {"39 digits fraction", P,
     "{\"n\": 0.000123456789012345678901234567890123456789}", E, 0, 0, "n",
     "39 significant digits"},
    {"1E-131", P, "{\"n\": 1E-131}", E, 0, 0, "n", "too small"},
    {"-1E-131", P, "{\"n\": -1E-131}", E, 0, 0, "n", "too small"},
    {"0.01E-129", P, "{\"n\": 0.01E-129}", E, 0, 0, "n", "too small"},
    {"1E+126", P, "{\"n\": 1E+126}", E, 0, 0, "n", "too large"},
    {"10E+125", P, "{\"n\": 10E+125}", E, 0, 0, "n", "too large"},
    {"huge exponent", P, "{\"n\": 1e99999999999999999999999}", E, 0, 0, "n",
     "too large"},
    /* zeros that DynamoDB Local refuses (exponent or scale past a Java
     * int): refused here, before anything is sent */
    {"zero, exponent past an int", P, "{\"n\": 0e99999999999}", E, 0, 0, "n",
     "\"0e99999999999\" is not a number DynamoDB can hold"},
    {"zero, scale past an int", P, "{\"n\": [0.0e-2147483647]}", E, 0, 0,
     "n[0]", "\"0.0e-2147483647\" is not a number DynamoDB can hold"},
    {"ddb zero, exponent past an int", D, "{\"n\": {\"N\": \"0e99999999999\"}}",
     E, 0, 0, "n", "is not a number DynamoDB can hold"},
    {"ddb NS zero, scale past an int", D,
     "{\"n\": {\"NS\": [\"1\", \"0.0e-2147483647\"]}}", E, 0, 0, "n[1]",
     "is not a number DynamoDB can hold"},
    {"NaN", P, "{\"n\": NaN}", E, 0, 0, "n",
     "\"NaN\" is not a number DynamoDB can hold"},
    {"Infinity", P, "{\"n\": Infinity}", E, 0, 0, "n", "Infinity"},
    {"-Infinity", P, "{\"n\": [-Infinity]}", E, 0, 0, "n[0]", "Infinity"},
    {"nested path", P, "{\"info\": {\"rating\": 1E+126}}", E, 0, 0,
     "info.rating", "too large"},
    {"list path", P, "{\"tags\": [1, 2, 1E-131]}", E, 0, 0, "tags[2]",
     "too small"},
    {"path through $M", P, "{\"m\": {\"$M\": {\"x\": [NaN]}}}", E, 0, 0,
     "m.x[0]", "NaN"},
    {"empty name", P, "{\"\": 1}", E, 0, 0, "", "name cannot be empty"},
    {"empty nested name", P, "{\"m\": {\"\": 1}}", E, 0, 0, "m",
     "name cannot be empty"},
    /* the DynamoDB JSON format */
    {"ddb S number", D, "{\"a\": {\"S\": 1}}", E, 0, 0, "a",
     "\"S\" cannot hold a number"},
    {"ddb unknown tag", D, "{\"a\": {\"X\": \"a\"}}", E, 0, 0, "a",
     "unknown type tag \"X\""},
    {"ddb lower-case tag", D, "{\"a\": {\"s\": \"a\"}}", E, 0, 0, "a",
     "unknown type tag \"s\""},
    {"ddb two tags", D, "{\"a\": {\"S\": \"a\", \"N\": \"1\"}}", E, 0, 0, "a",
     "this one has 2"},
    {"ddb no tag", D, "{\"a\": {}}", E, 0, 0, "a", "this one has 0"},
    {"ddb bare value", D, "{\"a\": \"x\"}", E, 0, 0, "a",
     "must be an object with one type tag"},
    {"ddb N as number", D, "{\"a\": {\"N\": 1}}", E, 0, 0, "a",
     "\"N\" takes the number as a string"},
    {"ddb N not a number", D, "{\"a\": {\"N\": \"abc\"}}", E, 0, 0, "a",
     "\"abc\" is not a number"},
    {"ddb N empty", D, "{\"a\": {\"N\": \"\"}}", E, 0, 0, "a",
     "is not a number"},
    {"ddb N spaces", D, "{\"a\": {\"N\": \" 5\"}}", E, 0, 0, "a",
     "is not a number"},
    {"ddb N hex", D, "{\"a\": {\"N\": \"0x10\"}}", E, 0, 0, "a",
     "is not a number"},
    {"ddb N NaN", D, "{\"a\": {\"N\": \"NaN\"}}", E, 0, 0, "a",
     "is not a number"},
    {"ddb N too large", D, "{\"a\": {\"N\": \"1e126\"}}", E, 0, 0, "a",
     "too large"},
    {"ddb NULL false", D, "{\"a\": {\"NULL\": false}}", E, 0, 0, "a",
     "\"NULL\" must be true"},
    {"ddb BOOL string", D, "{\"a\": {\"BOOL\": \"true\"}}", E, 0, 0, "a",
     "\"BOOL\" cannot hold a string"},
    {"ddb B bad", D, "{\"a\": {\"B\": \"a\"}}", E, 0, 0, "a", "invalid base64"},
    {"ddb B number", D, "{\"a\": {\"B\": 1}}", E, 0, 0, "a",
     "\"B\" cannot hold a number"},
    {"ddb L object", D, "{\"a\": {\"L\": {}}}", E, 0, 0, "a",
     "\"L\" cannot hold an object"},
    {"ddb M array", D, "{\"a\": {\"M\": []}}", E, 0, 0, "a",
     "\"M\" cannot hold an array"},
    {"ddb empty SS", D, "{\"a\": {\"SS\": []}}", E, 0, 0, "a",
     "a set cannot be empty"},
    {"ddb NS dup", D, "{\"a\": {\"NS\": [\"1\", \"1.0\"]}}", E, 0, 0, "a[1]",
     "duplicate set member"},
    {"ddb NS member number", D, "{\"a\": {\"NS\": [1]}}", E, 0, 0, "a[0]",
     "must be a string, not a number"},
    {"ddb NS member bad", D, "{\"a\": {\"NS\": [\"x\"]}}", E, 0, 0, "a[0]",
     "is not a number"},
    {"ddb BS dup", D, "{\"a\": {\"BS\": [\"AA==\", \"AA==\"]}}", E, 0, 0,
     "a[1]", "duplicate set member"},
    {"ddb list path", D, "{\"a\": {\"L\": [{\"S\": \"x\"}, {\"Q\": 1}]}}", E, 0,
     0, "a[1]", "unknown type tag \"Q\""},
    {"ddb map path", D, "{\"a\": {\"M\": {\"b\": {\"S\": 2}}}}", E, 0, 0, "a.b",
     "\"S\" cannot hold a number"},
    {"ddb plain value at top", D, "{\"a\": 1}", E, 0, 0, "a", "not a number"},
};

static void check_bad(const struct parse_bad *c)
{
	json_t *got = (json_t *)1;
	struct codec_error err;
	char line[600];
	int rc = codec_parse(c->text, strlen(c->text), c->f, &got, &err);
	bool ok = rc == c->rc && err.line == c->line &&
		  err.column == c->column && !strcmp(err.path, c->path) &&
		  strstr(err.message, c->message) != NULL && got == NULL;

	if (!ok) {
		tap_failed_checks++;
		printf("#   case %s: rc %d (want %d), got \"%s\"\n#     want "
		       "line %u column %u path \"%s\" message ~ \"%s\"\n",
		       c->name, rc, c->rc,
		       codec_strerror(&err, line, sizeof(line)), c->line,
		       c->column, c->path, c->message);
	}
}

static void test_parse_errors(void)
{
	for (size_t i = 0; i < sizeof(parse_bads) / sizeof(parse_bads[0]); i++)
		check_bad(&parse_bads[i]);
}

/* Builds {"a": [[[...]]]} with n lists inside one another. */
static char *nested_lists(int n, const char *inner)
{
	size_t cap = 2 * (size_t)n + strlen(inner) + 16;
	char *t = xmalloc(cap), *p = t;

	p += sprintf(p, "{\"a\": ");
	for (int i = 0; i < n; i++)
		*p++ = '[';
	p += sprintf(p, "%s", inner);
	for (int i = 0; i < n; i++)
		*p++ = ']';
	sprintf(p, "}");
	return t;
}

/* Appends s to buf (size bytes) at *o, aborting when it does not fit. */
static void put(char *buf, size_t size, size_t *o, const char *s)
{
	size_t n = strlen(s);

	if (*o + n + 1 > size)
		abort();
	memcpy(buf + *o, s, n + 1);
	*o += n;
}

static void test_nesting(void)
{
	struct codec_error err;
	json_t *item = NULL;
	char *t;

	/* item level 1 + 31 lists = 32 levels: fine, also around a set */
	t = nested_lists(31, "{\"$SS\": [\"x\"]}");
	CHECK_INT(codec_parse(t, strlen(t), CODEC_PLAIN, &item, &err), 0);
	json_decref(item);
	free(t);
	t = nested_lists(31, "");
	CHECK_INT(codec_parse(t, strlen(t), CODEC_PLAIN, &item, &err), 0);
	json_decref(item);
	free(t);
	/* 33 levels */
	t = nested_lists(32, "");
	CHECK_INT(codec_parse(t, strlen(t), CODEC_PLAIN, &item, &err), -EINVAL);
	CHECK(item == NULL);
	CHECK_INT(err.line, 0);
	CHECK(strncmp(err.path, "a[0][0][0]", 10) == 0);
	CHECK_INT(strlen(err.path), 1 + 3 * 31);
	CHECK(strstr(err.message, "32 levels") != NULL);
	free(t);
	/* 33 levels of maps, via $M too */
	{
		char buf[2048];
		size_t o = 0;

		put(buf, sizeof(buf), &o, "{\"a\": ");
		for (int i = 0; i < 32; i++)
			put(buf, sizeof(buf), &o,
			    i == 5 ? "{\"$M\": {\"k\": " : "{\"k\": ");
		put(buf, sizeof(buf), &o, "1");
		for (int i = 0; i < 32; i++)
			put(buf, sizeof(buf), &o, i == 26 ? "}}" : "}");
		put(buf, sizeof(buf), &o, "}");
		CHECK_INT(codec_parse(buf, o, CODEC_PLAIN, &item, &err),
			  -EINVAL);
		CHECK(strstr(err.message, "32 levels") != NULL);
	}
	/* ddb format: 31 L levels fine, 32 too deep */
	for (int n = 31; n <= 32; n++) {
		char buf[4096];
		size_t o = 0;

		put(buf, sizeof(buf), &o, "{\"a\": ");
		for (int i = 0; i < n; i++)
			put(buf, sizeof(buf), &o, "{\"L\": [");
		put(buf, sizeof(buf), &o, "{\"S\": \"x\"}");
		for (int i = 0; i < n; i++)
			put(buf, sizeof(buf), &o, "]}");
		put(buf, sizeof(buf), &o, "}");
		item = NULL;
		CHECK_INT(codec_parse(buf, o, CODEC_DDB, &item, &err),
			  n == 31 ? 0 : -EINVAL);
		json_decref(item);
	}
	/* the JSON reader's own bound, far past any item */
	t = nested_lists(5000, "");
	CHECK_INT(codec_parse(t, strlen(t), CODEC_PLAIN, &item, &err), -EINVAL);
	CHECK_INT(err.line, 1);
	CHECK(strstr(err.message, "deeper than 128") != NULL);
	free(t);
}

static void test_sizes_limit(void)
{
	/* DynamoDB Local takes "pk":"k" + "p": 409596 chars (409600 bytes),
	 * refuses one more */
	size_t n = 409596, len;
	char *t = xmalloc(n + 64);
	struct codec_error err;
	json_t *item = NULL;

	len = (size_t)sprintf(t, "{\"pk\": \"k\", \"p\": \"");
	memset(t + len, 'x', n);
	len += n;
	len += (size_t)sprintf(t + len, "\"}");
	CHECK_INT(codec_parse(t, len, CODEC_PLAIN, &item, &err), 0);
	json_decref(item);
	/* one byte more */
	memmove(t + 20, t + 19, len - 19);
	len++;
	item = NULL;
	CHECK_INT(codec_parse(t, len, CODEC_PLAIN, &item, &err), -EFBIG);
	CHECK(item == NULL);
	CHECK(strstr(err.message, "409601 bytes") != NULL);
	CHECK_INT(err.line, 0);
	free(t);
	/* a long attribute name */
	t = xmalloc(70000);
	len = (size_t)sprintf(t, "{\"");
	memset(t + len, 'n', 65536);
	len += 65536;
	len += (size_t)sprintf(t + len, "\": 1}");
	CHECK_INT(codec_parse(t, len, CODEC_PLAIN, &item, &err), -EINVAL);
	CHECK(strstr(err.message, "65536 bytes") != NULL);
	CHECK(strlen(err.path) < CODEC_PATH_LEN);
	CHECK(strstr(err.path, "...") != NULL);
	free(t);
}

/* ------------------------------------------------------------------ */
/* sizes: what DynamoDB Local 1.25.1 charged, probed byte for byte by
 * filling an item to the 409600-byte limit beside each attribute */

struct size_case {
	const char *item;
	size_t size;
};

static const struct size_case size_cases[] = {
    {"{\"n1\":{\"N\":\"1\"}}", 4},
    {"{\"n1\":{\"N\":\"12\"}}", 4},
    {"{\"n1\":{\"N\":\"1.2\"}}", 5},
    {"{\"n1\":{\"N\":\"123\"}}", 5},
    {"{\"n1\":{\"N\":\"-1\"}}", 5},
    {"{\"n1\":{\"N\":\"0\"}}", 3},
    {"{\"n1\":{\"N\":\"1234\"}}", 5},
    {"{\"n1\":{\"N\":\"12.34\"}}", 5},
    {"{\"n1\":{\"N\":\"1.234\"}}", 6},
    {"{\"n1\":{\"N\":\"11111111111111111111111111111111111111\"}}", 22},
    {"{\"n1\":{\"N\":\"1E-130\"}}", 4},
    {"{\"n1\":{\"N\":\"1E125\"}}", 4},
    {"{\"b1\":{\"BOOL\":true}}", 3},
    {"{\"z1\":{\"NULL\":true}}", 3},
    {"{\"l1\":{\"L\":[]}}", 5},
    {"{\"l1\":{\"L\":[{\"S\":\"a\"}]}}", 7},
    {"{\"l1\":{\"L\":[{\"S\":\"a\"},{\"S\":\"a\"}]}}", 9},
    {"{\"m1\":{\"M\":{}}}", 5},
    {"{\"m1\":{\"M\":{\"a\":{\"S\":\"a\"}}}}", 8},
    {"{\"m1\":{\"M\":{\"a\":{\"S\":\"a\"},\"b\":{\"S\":\"a\"}}}}", 11},
    {"{\"s1\":{\"SS\":[\"a\"]}}", 3},
    {"{\"s1\":{\"SS\":[\"a\",\"b\"]}}", 4},
    {"{\"s1\":{\"NS\":[\"1\",\"2\"]}}", 6},
    {"{\"u1\":{\"S\":\"\\u00e9\"}}", 4},
    {"{\"u1\":{\"S\":\"\\ud83d\\ude00\"}}", 6},
    {"{\"\\u00e9\":{\"S\":\"a\"}}", 3},
    {"{\"bb\":{\"B\":\"YWJj\"}}", 5},
    {"{\"l1\":{\"L\":[{\"L\":[]}]}}", 9},
    {"{\"id\":{\"S\":\"k\"},\"p\":{\"S\":\"xx\"}}", 6},
};

static void test_item_size(void)
{
	for (size_t i = 0; i < sizeof(size_cases) / sizeof(size_cases[0]);
	     i++) {
		json_t *item = wire(size_cases[i].item);
		size_t sz = 0;

		CHECK_INT(codec_item_size(item, &sz), 0);
		if (sz != size_cases[i].size)
			printf("#   %s\n", size_cases[i].item);
		CHECK_INT(sz, size_cases[i].size);
		json_decref(item);
	}
}

/* ------------------------------------------------------------------ */
/* numbers */

struct cmp_case {
	const char *a, *b;
	int sign;
};

#define TINY                                                                   \
	"0.000000000000000000000000000000000000000000000000000000000000000"    \
	"0000000000000000000000000000000000000000000000000000000000000000001"
#define HUGE_TEXT                                                              \
	"999999999999999999999999999999999999990000000000000000000000000000"   \
	"000000000000000000000000000000000000000000000000000000000000"

static const struct cmp_case cmp_cases[] = {
    {"1", "1.0", 0},
    {"1", "1E0", 0},
    {"10", "1E1", 0},
    {"-0", "0", 0},
    {"0.1", "0.10", 0},
    {"007.500", "7.5", 0},
    {".5", "0.5", 0},
    {"+5", "5", 0},
    {"1", "2", -1},
    {"-1", "-2", 1},
    {"-1", "1", -1},
    {"0", "-0.0000001", 1},
    {"1E-130", "0", 1},
    {"1E-130", TINY, 0},
    {"9.9999999999999999999999999999999999999E+125", HUGE_TEXT, 0},
    {"99999999999999999999999999999999999999", "1E+38", -1},
    {"12345678901234567890123456789012345678",
     "12345678901234567890123456789012345679", -1},
    {"0.12", "0.2", -1},
    {"100", "99.999", 1},
    {"-100", "-99.999", -1},
    {"abc", "1", 1},
    {"1", "abc", -1},
    {"abc", "abd", -1},
};

static int sign(int x)
{
	return x < 0 ? -1 : (x > 0 ? 1 : 0);
}

static void test_number_compare(void)
{
	for (size_t i = 0; i < sizeof(cmp_cases) / sizeof(cmp_cases[0]); i++) {
		const struct cmp_case *c = &cmp_cases[i];

		if (sign(codec_number_compare(c->a, c->b)) != c->sign)
			printf("#   %s vs %s\n", c->a, c->b);
		CHECK_INT(sign(codec_number_compare(c->a, c->b)), c->sign);
		CHECK_INT(sign(codec_number_compare(c->b, c->a)), -c->sign);
	}
}

struct check_case {
	const char *text;
	int rc;
};

static const struct check_case check_cases[] = {
    {"0", 0},
    {"-0", 0},
    {"1E-130", 0},
    {"-1E-130", 0},
    {TINY, 0},
    {"1E-131", -EINVAL},
    {"0.1E-129", 0},
    {"0.01E-129", -EINVAL},
    {"9.9999999999999999999999999999999999999E+125", 0},
    {HUGE_TEXT, 0},
    {HUGE_TEXT "0", -EINVAL},
    {"1E+126", -EINVAL},
    {"12345678901234567890123456789012345678", 0},
    {"123456789012345678901234567890123456789", -EINVAL},
    {"100000000000000000000000000000000000000000000", 0},
    {"000000000000000000000000000000000000000000001", 0},
    {"1.0000000000000000000000000000000000000000", 0},
    /* One grammar with the key names (ddbvalue_number_parse, DynamoDB
     * Local's: the exponent and the scale inside a Java int, zero
     * included); the codec took the next two once. */
    {"0e99999999999999999999999", -EINVAL},
    {"0e99999999999", -EINVAL},
    {"0.0e-2147483647", -EINVAL},
    {"0e2147483648", -EINVAL},
    {"0e-2147483647", 0},
    {"0.0e2147483647", 0},
    {"0e0000000000000000", 0},
    {"1e99999999999999999999999", -EINVAL},
    {"1e-99999999999999999999999", -EINVAL},
    {"+5", 0},
    {".5", 0},
    {"5.", 0},
    {"1e5", 0},
    {"NaN", -EINVAL},
    {"Infinity", -EINVAL},
    {"-Infinity", -EINVAL},
    {"", -EINVAL},
    {"-", -EINVAL},
    {".", -EINVAL},
    {"1e", -EINVAL},
    {"e5", -EINVAL},
    {"1 ", -EINVAL},
    {" 1", -EINVAL},
    {"0x10", -EINVAL},
    {"1_0", -EINVAL},
    {"1..2", -EINVAL},
    {"--1", -EINVAL},
};

static void test_number_check(void)
{
	struct codec_error err;

	for (size_t i = 0; i < sizeof(check_cases) / sizeof(check_cases[0]);
	     i++) {
		int rc = codec_number_check(check_cases[i].text, &err);

		if (rc != check_cases[i].rc)
			printf("#   %s\n", check_cases[i].text);
		CHECK_INT(rc, check_cases[i].rc);
	}
	CHECK_INT(
	    codec_number_check("123456789012345678901234567890123456789", &err),
	    -EINVAL);
	CHECK_STR(err.message,
		  "number has 39 significant digits (DynamoDB keeps 38)");
	CHECK_INT(codec_number_check("1", NULL), 0);
	CHECK_INT(codec_number_check("x", NULL), -EINVAL);
}

/* ------------------------------------------------------------------ */
/* keys */

struct key_case {
	const char *name;
	struct codec_schema s;
	const char *path_key;
	const char *item; /* wire item as parsed */
	int rc;
	const char *want;	 /* item afterwards, when rc == 0 */
	const char *err_path;	 /* when rc != 0 */
	const char *err_message; /* substring */
};

static const struct key_case key_cases[] = {
    {"added from path",
     {"pk", 'S', "sk", 'N'},
     "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}}",
     "{\"x\":{\"S\":\"y\"}}",
     0,
     "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"},\"x\":{\"S\":\"y\"}}",
     NULL,
     NULL},
    {"present and equal",
     {"pk", 'S', "sk", 'N'},
     "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}}",
     "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1.0\"}}",
     0,
     "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1.0\"}}",
     NULL,
     NULL},
    {"N 1E0 equals 1",
     {"pk", 'N', NULL, 0},
     "{\"pk\":{\"N\":\"1\"}}",
     "{\"pk\":{\"N\":\"1E0\"}}",
     0,
     "{\"pk\":{\"N\":\"1E0\"}}",
     NULL,
     NULL},
    {"hash disagrees",
     {"pk", 'S', "sk", 'N'},
     "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}}",
     "{\"pk\":{\"S\":\"b\"}}",
     -EINVAL,
     NULL,
     "pk",
     "the key is b in the file but a in the file's"},
    {"range disagrees",
     {"pk", 'S', "sk", 'N'},
     "{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"1\"}}",
     "{\"sk\":{\"N\":\"1.5\"}}",
     -EINVAL,
     NULL,
     "sk",
     "1.5 in the file but 1 in"},
    {"wrong type",
     {"pk", 'S', NULL, 0},
     "{\"pk\":{\"S\":\"1\"}}",
     "{\"pk\":{\"N\":\"1\"}}",
     -EINVAL,
     NULL,
     "pk",
     "must be a string (S), not N"},
    {"wrong type list",
     {"pk", 'N', NULL, 0},
     "{\"pk\":{\"N\":\"1\"}}",
     "{\"pk\":{\"L\":[]}}",
     -EINVAL,
     NULL,
     "pk",
     "not L"},
    {"empty string key",
     {"pk", 'S', NULL, 0},
     "{\"pk\":{\"S\":\"a\"}}",
     "{\"pk\":{\"S\":\"\"}}",
     -EINVAL,
     NULL,
     "pk",
     "cannot be empty"},
    {"empty range key",
     {"pk", 'S', "sk", 'S'},
     "{\"pk\":{\"S\":\"a\"},\"sk\":{\"S\":\"b\"}}",
     "{\"sk\":{\"S\":\"\"}}",
     -EINVAL,
     NULL,
     "sk",
     "cannot be empty"},
    {"binary equal",
     {"id", 'B', NULL, 0},
     "{\"id\":{\"B\":\"AAE=\"}}",
     "{\"id\":{\"B\":\"AAE=\"}}",
     0,
     "{\"id\":{\"B\":\"AAE=\"}}",
     NULL,
     NULL},
    {"binary empty",
     {"id", 'B', NULL, 0},
     "{\"id\":{\"B\":\"AAE=\"}}",
     "{\"id\":{\"B\":\"\"}}",
     -EINVAL,
     NULL,
     "id",
     "cannot be empty"},
    {"binary differs",
     {"id", 'B', NULL, 0},
     "{\"id\":{\"B\":\"AAE=\"}}",
     "{\"id\":{\"B\":\"AAI=\"}}",
     -EINVAL,
     NULL,
     "id",
     "AAI= in the file"},
    {"path lacks the range key",
     {"pk", 'S', "sk", 'S'},
     "{\"pk\":{\"S\":\"a\"}}",
     "{}",
     -EINVAL,
     NULL,
     "",
     "no a string (S) attribute \"sk\""},
    {"path key of the wrong type",
     {"pk", 'S', NULL, 0},
     "{\"pk\":{\"N\":\"1\"}}",
     "{}",
     -EINVAL,
     NULL,
     "",
     "path's key"},
};

static void test_apply_key(void)
{
	for (size_t i = 0; i < sizeof(key_cases) / sizeof(key_cases[0]); i++) {
		const struct key_case *c = &key_cases[i];
		json_t *pk = wire(c->path_key), *item = wire(c->item);
		struct codec_error err;
		char msg[600];
		int rc = codec_apply_key(item, &c->s, pk, &err);

		if (rc != c->rc)
			printf("#   case %s: %s\n", c->name,
			       codec_strerror(&err, msg, sizeof(msg)));
		CHECK_INT(rc, c->rc);
		if (c->want) {
			json_t *want = wire(c->want);

			CHECK(json_equal(item, want));
			json_decref(want);
		} else {
			CHECK_STR(err.path, c->err_path);
			if (!strstr(err.message, c->err_message)) {
				tap_failed_checks++;
				printf("#   case %s: message \"%s\"\n", c->name,
				       err.message);
			}
		}
		json_decref(pk);
		json_decref(item);
	}
}

static void test_key_limits(void)
{
	struct codec_schema s = {"pk", 'S', "sk", 'S'};
	char *big = xmalloc(2050);
	json_t *pk, *item;
	struct codec_error err;

	memset(big, 'k', 2049);
	big[2049] = '\0';
	/* partition key 2048 bytes fine, 2049 not; sort key 1024/1025 */
	for (int hash = 0; hash < 2; hash++) {
		for (size_t n = hash ? 2048 : 1024; n <= (hash ? 2049u : 1025u);
		     n++) {
			pk = json_pack("{s{ss#}s{ss#}}", "pk", "S", big,
				       hash ? n : (size_t)1, "sk", "S", big,
				       hash ? (size_t)1 : n);
			item = json_deep_copy(pk);
			CHECK_INT(codec_apply_key(item, &s, pk, &err),
				  n == (hash ? 2048u : 1024u) ? 0 : -EINVAL);
			json_decref(pk);
			json_decref(item);
		}
	}
	free(big);
}

/* An empty file is an item with only its key; a full file that the key
 * pushes over 400 KB gives -EFBIG. */
static void test_empty_file_and_key_size(void)
{
	struct codec_schema s = {"pk", 'S', "sk", 'N'};
	json_t *pk = wire("{\"pk\":{\"S\":\"a\"},\"sk\":{\"N\":\"7\"}}");
	json_t *item = NULL;
	struct codec_error err;
	char *t = NULL;
	size_t n = 0, len;

	CHECK_INT(codec_parse("", 0, CODEC_PLAIN, &item, &err), 0);
	CHECK_INT(codec_apply_key(item, &s, pk, &err), 0);
	CHECK(json_equal(item, pk));
	CHECK_INT(codec_render(item, &s, CODEC_PLAIN, &t, &n), 0);
	CHECK_STR(t, "{\n  \"pk\": \"a\",\n  \"sk\": 7\n}\n");
	free(t);
	json_decref(item);
	item = NULL;
	CHECK_INT(codec_parse(" \n", 2, CODEC_DDB, &item, &err), 0);
	CHECK_INT(codec_apply_key(item, &s, pk, &err), 0);
	CHECK(json_equal(item, pk));
	json_decref(item);
	item = NULL;

	/* p: 1 + 409596 bytes fits alone; "pk":"a" and "sk":7 push it over */
	t = xmalloc(409700);
	len = (size_t)sprintf(t, "{\"p\": \"");
	memset(t + len, 'x', 409596);
	len += 409596;
	len += (size_t)sprintf(t + len, "\"}");
	CHECK_INT(codec_parse(t, len, CODEC_PLAIN, &item, &err), 0);
	CHECK_INT(codec_apply_key(item, &s, pk, &err), -EFBIG);
	CHECK(strstr(err.message, "400 KB") != NULL);
	json_decref(item);
	free(t);
	json_decref(pk);
}

/* ------------------------------------------------------------------ */
/* error formatting */

static void test_strerror(void)
{
	struct codec_error e = {3, 14, "", "expected ',' or '}'"};
	struct codec_error a = {0, 0, "info.rating",
				"number has 39 significant digits (DynamoDB "
				"keeps 38)"};
	struct codec_error m = {0, 0, "", "item is too big"};
	char buf[256], tiny[8];

	CHECK_STR(codec_strerror(&e, buf, sizeof(buf)),
		  "line 3, column 14: expected ',' or '}'");
	CHECK_STR(codec_strerror(&a, buf, sizeof(buf)),
		  "attribute \"info.rating\": number has 39 significant digits "
		  "(DynamoDB keeps 38)");
	CHECK_STR(codec_strerror(&m, buf, sizeof(buf)), "item is too big");
	CHECK_STR(codec_strerror(&e, tiny, sizeof(tiny)), "line 3,");

	/* a real one, end to end, stays on one line */
	{
		json_t *item = NULL;
		const char *t = "{\"a\\nb\": {\"$SS\": []}}";

		CHECK_INT(codec_parse(t, strlen(t), CODEC_PLAIN, &item, &e),
			  -EINVAL);
		CHECK_STR(codec_strerror(&e, buf, sizeof(buf)),
			  "attribute \"a\\u000ab\": a set cannot be empty "
			  "(DynamoDB has no empty sets; use a list or remove "
			  "the attribute)");
	}
}

/* ------------------------------------------------------------------ */
/* round trips over generated items */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state % n);
}

/* Random text: ASCII, controls, quotes, multi-byte and 4-byte UTF-8. */
static json_t *rnd_string(size_t max)
{
	static const char *const pieces[] = {"a",
					     "Z",
					     "0",
					     " ",
					     "\"",
					     "\\",
					     "/",
					     "\n",
					     "\t",
					     "\x01",
					     "\x1f",
					     "\x7f",
					     "\xc3\xa9",
					     "\xe6\x97\xa5",
					     "\xf0\x9f\x98\x80",
					     "$",
					     "$SS",
					     "{",
					     "]",
					     ",",
					     ":",
					     "\xe2\x80\xa8"};
	char buf[256];
	size_t n = rnd((uint32_t)max + 1), o = 0;

	for (size_t i = 0; i < n; i++) {
		const char *p = pieces[rnd(sizeof(pieces) / sizeof(pieces[0]))];
		size_t l = strlen(p);

		if (o + l >= sizeof(buf))
			break;
		memcpy(buf + o, p, l);
		o += l;
	}
	if (rnd(20) == 0 && o + 1 < sizeof(buf))
		buf[o++] = '\0';
	return json_stringn(buf, o);
}

/* A number as the servers write it: no exponent, no extra zeros. */
static json_t *rnd_number(void)
{
	char digits[40], out[200];
	size_t nd = 1 + rnd(38), o = 0;
	int pow10 = (int)rnd(60) - 30; /* of the first digit */

	if (rnd(10) == 0)
		return json_string("0");
	for (size_t i = 0; i < nd; i++)
		digits[i] = (char)('0' + rnd(10));
	digits[0] = (char)('1' + rnd(9));
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	if (rnd(2))
		out[o++] = '-';
	if (pow10 < 0) {
		o += (size_t)sprintf(out + o, "0.");
		for (int i = -1; i > pow10; i--)
			out[o++] = '0';
		memcpy(out + o, digits, nd);
		o += nd;
	} else {
		for (int i = 0; i <= pow10 || i < (int)nd; i++) {
			if (i == pow10 + 1)
				out[o++] = '.';
			out[o++] = i < (int)nd ? digits[i] : '0';
		}
	}
	out[o] = '\0';
	return json_string(out);
}

static json_t *rnd_b64(void)
{
	unsigned char bytes[12];
	static const char al[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char out[32];
	size_t n = rnd(sizeof(bytes)), o = 0;

	for (size_t i = 0; i < n; i++)
		bytes[i] = (unsigned char)rnd(256);
	for (size_t i = 0; i < n; i += 3) {
		uint32_t w = (uint32_t)bytes[i] << 16;

		if (i + 1 < n)
			w |= (uint32_t)bytes[i + 1] << 8;
		if (i + 2 < n)
			w |= bytes[i + 2];
		out[o++] = al[w >> 18 & 63];
		out[o++] = al[w >> 12 & 63];
		out[o++] = i + 1 < n ? al[w >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? al[w & 63] : '=';
	}
	out[o] = '\0';
	return json_string(out);
}

static json_t *rnd_av(int level);

static json_t *rnd_map(int level, size_t max)
{
	json_t *m = json_object();
	size_t n = rnd((uint32_t)max + 1);

	for (size_t i = 0; i < n; i++) {
		json_t *k = rnd_string(6);

		if (json_string_length(k) == 0)
			json_object_set_new(m, "k", rnd_av(level));
		else
			json_object_setn_new(m, json_string_value(k),
					     json_string_length(k),
					     rnd_av(level));
		json_decref(k);
	}
	if (rnd(8) == 0) /* a map that needs the $M escape */
		json_object_clear(m),
		    json_object_set_new(m, "$SS", rnd_av(level));
	return m;
}

/* A set of n distinct members made by gen (distinct texts are distinct
 * values: the generators write each value one way only). */
static json_t *rnd_set(json_t *(*gen)(void))
{
	json_t *arr = json_array();
	size_t n = 1 + rnd(5);

	for (size_t i = 0; i < n; i++) {
		json_t *v = gen();
		bool dup = false;

		for (size_t j = 0; j < json_array_size(arr); j++)
			dup = dup || json_equal(v, json_array_get(arr, j));
		if (dup)
			json_decref(v);
		else
			json_array_append_new(arr, v);
	}
	return arr;
}

static json_t *rnd_string8(void)
{
	return rnd_string(8);
}

static json_t *rnd_av(int level)
{
	int t = (int)rnd(level < 32 ? 11 : 8);
	json_t *v;

	switch (t) {
	case 0:
		return json_pack("{so}", "S", rnd_string(12));
	case 1:
		return json_pack("{so}", "N", rnd_number());
	case 2:
		return json_pack("{so}", "B", rnd_b64());
	case 3:
		return json_pack("{sb}", "BOOL", (int)rnd(2));
	case 4:
		return json_pack("{sb}", "NULL", 1);
	case 5:
		return json_pack("{so}", "SS", rnd_set(rnd_string8));
	case 6:
		return json_pack("{so}", "NS", rnd_set(rnd_number));
	case 7:
		return json_pack("{so}", "BS", rnd_set(rnd_b64));
	case 8:
	case 9:
		v = json_array();
		for (size_t i = 0, n = rnd(4); i < n; i++)
			json_array_append_new(v, rnd_av(level + 1));
		return json_pack("{so}", "L", v);
	default:
		return json_pack("{so}", "M", rnd_map(level + 1, 4));
	}
}

static void test_round_trip(void)
{
	struct codec_schema s = {"k", 'S', NULL, 0};
	int failures = 0;

	for (int i = 0; i < 3000 && failures < 5; i++) {
		json_t *item = rnd_map(1, 8);

		for (int f = 0; f < 2; f++) {
			char *t = NULL, *t2 = NULL, msg[600];
			size_t n = 0, n2 = 0;
			json_t *back = NULL;
			struct codec_error err;
			int rc = codec_render(item, &s, (enum codec_format)f,
					      &t, &n);

			if (rc == 0)
				rc = codec_parse(t, n, (enum codec_format)f,
						 &back, &err);
			if (rc == -EINVAL || rc == -EFBIG)
				printf("#   %s\n",
				       codec_strerror(&err, msg, sizeof(msg)));
			if (rc == 0)
				rc = codec_render(
				    back, &s, (enum codec_format)f, &t2, &n2);
			if (rc != 0 || !map_equal(back, item) || n != n2 ||
			    memcmp(t, t2, n) != 0) {
				char *d = json_dumps(item, JSON_COMPACT);

				failures++;
				printf(
				    "#   round trip %d format %d rc %d: %s\n",
				    i, f, rc, d);
				free(d);
			}
			free(t);
			free(t2);
			json_decref(back);
		}
		json_decref(item);
	}
	CHECK_INT(failures, 0);
}

/* codec_render_line: the file text without indentation, keys in the same
 * order, one line, appended after what the buffer holds. */
static void test_render_line(void)
{
	static const struct {
		const char *item;
		enum codec_format f;
		const char *line;
	} rows[] = {
	    {"{\"z\":{\"N\":\"1.50\"},\"pk\":{\"S\":\"k\u00e9\"},"
	     "\"m\":{\"M\":{\"b\":{\"L\":[{\"BOOL\":true},{\"NULL\":true},"
	     "{\"L\":[]}]},\"a\":{\"M\":{}}}},\"s\":{\"SS\":[\"y\",\"x\"]}}",
	     CODEC_PLAIN,
	     "{\"pk\":\"k\u00e9\",\"m\":{\"a\":{},\"b\":[true,null,[]]},"
	     "\"s\":{\"$SS\":[\"x\",\"y\"]},\"z\":1.50}\n"},
	    {"{\"pk\":{\"S\":\"k\"},\"b\":{\"B\":\"AAE=\"}}", CODEC_DDB,
	     "{\"pk\":{\"S\":\"k\"},\"b\":{\"B\":\"AAE=\"}}\n"},
	};
	struct codec_schema sc = {.hash_name = "pk", .hash_type = 'S'};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		json_t *item = json_loads(rows[i].item, 0, NULL);
		struct dynbuf b = {0};

		dynbuf_adds(&b, "before\n");
		CHECK_INT(codec_render_line(item, &sc, rows[i].f, &b), 0);
		CHECK(b.p && strncmp(b.p, "before\n", 7) == 0);
		CHECK_STR(b.p ? b.p + 7 : "", rows[i].line);
		dynbuf_free(&b);
		json_decref(item);
	}
	/* A malformed item appends nothing. */
	{
		json_t *bad = json_loads("{\"pk\":{\"Q\":\"k\"}}", 0, NULL);
		struct dynbuf b = {0};

		dynbuf_adds(&b, "x");
		CHECK_INT(codec_render_line(bad, &sc, CODEC_PLAIN, &b),
			  -EINVAL);
		CHECK_STR(b.p, "x");
		dynbuf_free(&b);
		json_decref(bad);
	}
}

/* ------------------------------------------------------------------ */
/* rendering straight from the wire bytes: the same text as the tree */

/* What the tree path makes of a body: json_loadb as ddb_call read it, the
 * member, codec_render (rc -EBADMSG / -ENOENT as codec_render_member). */
static int tree_render(const char *body, size_t len,
		       const struct codec_schema *s, enum codec_format f,
		       char **t, size_t *n)
{
	json_t *doc = json_loadb(body, len, JSON_ALLOW_NUL, NULL);
	json_t *it = json_object_get(doc, "Item");
	int rc;

	*t = NULL;
	*n = 0;
	if (!json_is_object(doc))
		rc = -EBADMSG;
	else if (!json_is_object(it))
		rc = -ENOENT;
	else
		rc = codec_render(it, s, f, t, n);
	json_decref(doc);
	return rc;
}

/* Whether v is a key's shape, {"S"|"N"|"B": string}: what
 * codec_render_keyed reads itself. */
static bool key_shaped(const json_t *v)
{
	const char *tag;
	json_t *p;

	if (json_object_size(v) != 1)
		return false;
	json_object_foreach((json_t *)v, tag,
			    p) if (strlen(tag) == 1 && strchr("SNB", tag[0]) &&
				   json_is_string(p)) return true;
	return false;
}

/* The other readers of an item's bytes against the tree: the span the page
 * reader takes (with more of a page after it), the keyed render (keys as
 * the tree's, text as codec_render_raw's, raw_rc/text3 its result), and the
 * bulk-file line. Returns the number of differences. */
static int item_bytes_ways(const char *what, const char *item, size_t len,
			   const struct codec_schema *s, enum codec_format f,
			   int rc3, const char *t3, size_t n3)
{
	json_t *tree = json_loadb(item, len, JSON_ALLOW_NUL, NULL);
	json_t *h = NULL, *g = NULL, *th, *tg;
	struct dynbuf page = {0}, l1 = {0}, l2 = {0};
	char *tk = NULL;
	size_t nk = 0, used = 0, end = len;
	int bad = 0, rk, rs, r1, r2;

	/* The span stops at the item's end: whitespace after it is the
	 * page's. */
	while (end > 0 && strchr(" \t\r\n", item[end - 1]))
		end--;

	/* The span: the item, then what follows it in a page. */
	dynbuf_add(&page, item, len);
	dynbuf_adds(&page, ", {\"x\": 1}]}");
	rs = codec_json_span(page.p, page.len, &used);
	if ((rs != 0 && rs != -ENOTSUP) ||
	    (rs == 0 && (used != end || !tree)) || (rc3 == 0 && rs != 0)) {
		printf("#   %s: span rc %d used %zu of %zu\n", what, rs, used,
		       end);
		bad++;
	}
	dynbuf_free(&page);

	th = s && s->hash_name ? json_object_get(tree, s->hash_name) : NULL;
	tg = s && s->range_name ? json_object_get(tree, s->range_name) : NULL;
	rk = codec_render_keyed(item, len, s, f, &h, &g, &tk, &nk);
	if ((rk != 0 && rk != -ENOTSUP) ||
	    (rk == 0 && (rc3 != 0 || nk != n3 || memcmp(tk, t3, n3) != 0 ||
			 !(th ? h && json_equal(h, th) : !h) ||
			 !(tg ? g && json_equal(g, tg) : !g))) ||
	    (rk != 0 && (h || g || tk)) ||
	    (rk != 0 && rc3 == 0 && (!th || key_shaped(th)) &&
	     (!tg || key_shaped(tg)))) {
		printf("#   %s format %d: keyed rc %d, raw rc %d\n", what, f,
		       rk, rc3);
		bad++;
	}
	json_decref(h);
	json_decref(g);
	free(tk);
	/* Keys alone: the same keys, no render needed. */
	rk = codec_render_keyed(item, len, s, f, &h, &g, NULL, NULL);
	if (rk == 0 && (!(th ? h && json_equal(h, th) : !h) ||
			!(tg ? g && json_equal(g, tg) : !g))) {
		printf("#   %s: keys alone differ\n", what);
		bad++;
	}
	json_decref(h);
	json_decref(g);

	/* The line, after what a bulk file already holds. */
	dynbuf_adds(&l1, "before\n");
	dynbuf_adds(&l2, "before\n");
	r1 = tree ? codec_render_line(tree, s, f, &l1) : -EBADMSG;
	r2 = codec_render_raw_line(item, len, s, f, &l2);
	if ((r2 != 0 && r2 != -ENOTSUP) || (r2 != 0) != (rc3 != 0) ||
	    (r2 == 0 && (r1 != 0 || l1.len != l2.len ||
			 memcmp(l1.p, l2.p, l1.len) != 0)) ||
	    (r2 != 0 && (l2.len != 7 || memcmp(l2.p, "before\n", 8) != 0))) {
		printf("#   %s format %d: line rc %d, tree line rc %d\n", what,
		       f, r2, r1);
		bad++;
	}
	dynbuf_free(&l1);
	dynbuf_free(&l2);
	json_decref(tree);
	return bad;
}

/* Renders the answer body both ways (and its item alone with the raw
 * reader when item_len > 0) and compares results and bytes. raw_rc is what
 * codec_render_raw must return for the item: 0, or -ENOTSUP for what it
 * leaves to jansson; 1: either. Returns the number of differences. */
static int both_ways(const char *what, const char *body, size_t len,
		     const char *item, size_t item_len,
		     const struct codec_schema *s, enum codec_format f,
		     int raw_rc)
{
	char *t1 = NULL, *t2 = NULL, *t3 = NULL;
	size_t n1 = 0, n2 = 0, n3 = 0;
	int rc1 = tree_render(body, len, s, f, &t1, &n1);
	int rc2 = codec_render_member(body, len, "Item", s, f, &t2, &n2);
	int rc3 = 0, bad = 0;

	if (rc1 != rc2 || (rc1 == 0 && !same_text(what, t2, n2, t1, n1)) ||
	    (rc1 != 0 && (t2 || n2))) {
		printf("#   %s format %d: member rc %d, tree rc %d\n", what, f,
		       rc2, rc1);
		bad++;
	}
	if (item_len) {
		rc3 = codec_render_raw(item, item_len, s, f, &t3, &n3);
		if ((raw_rc != 1 && rc3 != raw_rc) ||
		    (rc3 != 0 && rc3 != -ENOTSUP) ||
		    (rc3 == 0 &&
		     (rc1 != 0 || !same_text(what, t3, n3, t1, n1)))) {
			printf("#   %s format %d: raw rc %d (want %d), tree rc "
			       "%d\n",
			       what, f, rc3, raw_rc, rc1);
			bad++;
		}
		bad += item_bytes_ways(what, item, item_len, s, f, rc3, t3, n3);
	}
	free(t1);
	free(t2);
	free(t3);
	return bad;
}

/* The item text in a GetItem answer, as DynamoDB Local writes one. */
static int item_both_ways(const char *what, const char *item, size_t len,
			  const struct codec_schema *s, enum codec_format f,
			  int raw_rc)
{
	struct dynbuf b = {0};
	int bad;

	dynbuf_adds(&b, "{\"Item\":");
	dynbuf_add(&b, item, len);
	dynbuf_adds(&b, "}");
	if (!b.p)
		abort();
	bad = both_ways(what, b.p, b.len, item, len, s, f, raw_rc);
	dynbuf_free(&b);
	return bad;
}

/* Items the raw reader must render itself, and items it must leave to
 * jansson, each in both formats; errors must come out as the tree's. */
static void test_render_raw_table(void)
{
	static const struct {
		const char *name;
		const char *item;
		int raw_rc; /* for both formats */
	} rows[] = {
	    {"empty", "{}", 0},
	    {"spaces everywhere",
	     " { \"pk\" : { \"S\" : \"a\" } ,\n\t"
	     "\"n\" :{\"N\":\"1\"} }\r\n",
	     0},
	    {"key attributes first",
	     "{\"b\":{\"S\":\"x\"},\"sk\":{\"N\":"
	     "\"2\"},\"a\":{\"S\":\"y\"},\"pk\":{\"S\":"
	     "\"k\"}}",
	     0},
	    {"escaped key names the hash key",
	     "{\"a\":{\"S\":\"x\"},\"p\\u006b\":{\"S\":\"k\"}}", 0},
	    {"escaped tag", "{\"a\":{\"\\u0053\":\"x\"}}", 0},
	    {"every escape",
	     "{\"s\":{\"S\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t"
	     "\\u00e9\\u00E9\\ud83d\\ude00\\u0000\\u001f"
	     "\\u007f\\u2028\"}}",
	     0},
	    {"raw UTF-8 sorts by bytes",
	     "{\"\xc3\xa9\":{\"S\":\"\xf0\x9f\x98\x80\"},\"z\":{\"S\":\"\"},"
	     "\"\xe6\x97\xa5\":{\"S\":\"\x7f\"}}",
	     0},
	    {"escaped key sorts by decoded bytes",
	     "{\"\\u00e9\":{\"S\":\"1\"},\"z\":{\"S\":\"2\"},\"\\u0041\":{"
	     "\"S\":\"3\"}}",
	     0},
	    {"NUL in a value", "{\"a\":{\"S\":\"x\\u0000y\"}}", 0},
	    {"numbers",
	     "{\"a\":{\"N\":\"-0.000123\"},\"b\":{\"N\":\"+5\"},"
	     "\"c\":{\"N\":\".5\"},\"d\":{\"N\":\"007.500\"},"
	     "\"e\":{\"N\":\"1.0E+5\"},\"f\":{\"N\":\"-0\"}}",
	     0},
	    {"sets unsorted and tied",
	     "{\"ss\":{\"SS\":[\"b\",\"a\",\"\",\"a\"]},\"ns\":{\"NS\":["
	     "\"10\",\"9\",\"1.0\",\"1\",\"-1E+2\"]},\"bs\":{\"BS\":["
	     "\"/w==\",\"AA==\",\"\",\"AAE=\"]}}",
	     0},
	    {"empty sets and containers",
	     "{\"ss\":{\"SS\":[]},\"l\":{\"L\":[]},"
	     "\"m\":{\"M\":{}}}",
	     0},
	    {"binary", "{\"b\":{\"B\":\"AAECAwQFBgc=\"},\"e\":{\"B\":\"\"}}",
	     0},
	    {"bool and null",
	     "{\"t\":{\"BOOL\":true},\"f\":{\"BOOL\":false},"
	     "\"n\":{\"NULL\":true},\"m\":{\"NULL\":false}}",
	     0},
	    {"nested lists and maps",
	     "{\"l\":{\"L\":[{\"M\":{\"b\":{\"L\":[{\"N\":\"1\"},{\"NULL\":"
	     "true}]},\"a\":{\"M\":{\"z\":{\"S\":\"q\"}}}}},{\"L\":[]},{"
	     "\"SS\":[\"y\",\"x\"]}]}}",
	     0},
	    {"$M escapes",
	     "{\"m\":{\"M\":{\"$SS\":{\"S\":\"x\"}}},\"n\":{\"M\":"
	     "{\"$M\":{\"M\":{}}}},\"o\":{\"M\":{\"$S\":{\"S\":"
	     "\"x\"}}},\"$B\":{\"S\":\"top\"}}",
	     0},
	    /* What the raw reader leaves to jansson: the same text or error
	     * must come back from codec_render_member. */
	    {"duplicate attribute", "{\"a\":{\"S\":\"1\"},\"a\":{\"S\":\"2\"}}",
	     -ENOTSUP},
	    {"duplicate by escape",
	     "{\"a\":{\"S\":\"1\"},\"\\u0061\":{\"N\":"
	     "\"2\"}}",
	     -ENOTSUP},
	    {"duplicate tag", "{\"a\":{\"S\":\"1\",\"S\":\"2\"}}", -ENOTSUP},
	    {"two tags", "{\"a\":{\"S\":\"1\",\"N\":\"1\"}}", -ENOTSUP},
	    {"unknown tag", "{\"a\":{\"X\":\"1\"}}", -ENOTSUP},
	    {"S not a string", "{\"a\":{\"S\":1}}", -ENOTSUP},
	    {"BOOL not a boolean", "{\"a\":{\"BOOL\":null}}", -ENOTSUP},
	    {"N not a number", "{\"a\":{\"N\":\"abc\"}}", -ENOTSUP},
	    {"bad base64", "{\"a\":{\"B\":\"!!!!\"}}", -ENOTSUP},
	    {"bad BS member", "{\"a\":{\"BS\":[\"AA==\",\"A\"]}}", -ENOTSUP},
	    {"set member not a string", "{\"a\":{\"SS\":[\"a\",1]}}", -ENOTSUP},
	    {"not an AV", "{\"a\":\"x\"}", -ENOTSUP},
	    {"NUL in a key", "{\"a\\u0000b\":{\"S\":\"x\"}}", -ENOTSUP},
	    {"lone high surrogate", "{\"a\":{\"S\":\"\\ud83d\"}}", -ENOTSUP},
	    {"lone low surrogate", "{\"a\":{\"S\":\"\\ude00x\"}}", -ENOTSUP},
	    {"bad UTF-8", "{\"a\":{\"S\":\"\xc3\x28\"}}", -ENOTSUP},
	    {"overlong UTF-8", "{\"a\":{\"S\":\"\xc0\xaf\"}}", -ENOTSUP},
	    {"UTF-8 surrogate", "{\"a\":{\"S\":\"\xed\xa0\x80\"}}", -ENOTSUP},
	    {"control byte", "{\"a\":{\"S\":\"\x01\"}}", -ENOTSUP},
	    {"bad escape", "{\"a\":{\"S\":\"\\x\"}}", -ENOTSUP},
	    {"short \\u", "{\"a\":{\"S\":\"\\u12\"}}", -ENOTSUP},
	    {"number token", "{\"a\":{\"N\":1}}", -ENOTSUP},
	    {"trailing comma", "{\"a\":{\"S\":\"x\"},}", -ENOTSUP},
	    {"cut short", "{\"a\":{\"S\":\"x\"}", -ENOTSUP},
	    {"not an object", "[]", -ENOTSUP},
	    {"literal cut", "{\"a\":{\"BOOL\":tru}}", -ENOTSUP},
	};
	int bad = 0;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		for (int f = 0; f < 2; f++)
			bad += item_both_ways(
			    rows[i].name, rows[i].item, strlen(rows[i].item),
			    &pk_sk, (enum codec_format)f, rows[i].raw_rc);
	/* The render table above, too (whatever codec_render says). */
	for (size_t i = 0; i < sizeof(render_cases) / sizeof(render_cases[0]);
	     i++)
		bad += item_both_ways(
		    render_cases[i].name, render_cases[i].item,
		    strlen(render_cases[i].item), &pk_sk, render_cases[i].f,
		    render_cases[i].rc ? -ENOTSUP : 0);
	CHECK_INT(bad, 0);
}

/* The answer around the item: other members, absent or odd items, bodies
 * that are not JSON. */
static void test_render_member(void)
{
	static const struct {
		const char *body;
		int rc;
	} rows[] = {
	    {"{\"Item\":{\"pk\":{\"S\":\"a\"}}}", 0},
	    {"{\"ConsumedCapacity\":{\"TableName\":\"T\",\"CapacityUnits\":"
	     "0.5},\"Item\":{\"pk\":{\"S\":\"a\"}}}",
	     0},
	    {"{\"Item\":{\"pk\":{\"S\":\"a\"}},\"x\":[1,-2,3.25,true,false,"
	     "null,\"s\",{}]}\n",
	     0},
	    {"{\"It\\u0065m\":{\"pk\":{\"S\":\"a\"}}}", 0},
	    {"{}", -ENOENT},
	    {"{\"Items\":{}}", -ENOENT},
	    {"{\"Item\":null}", -ENOENT},
	    {"{\"Item\":[]}", -ENOENT},
	    {"{\"Item\":{\"pk\":{\"S\":\"a\"}},\"Item\":{\"pk\":{\"S\":\"b\"}}"
	     "}",
	     0},
	    {"{\"Item\":{\"pk\":{\"S\":\"a\"}},\"Item\":null}", -ENOENT},
	    {"{\"x\":1e999,\"Item\":{\"pk\":{\"S\":\"a\"}}}", -EBADMSG},
	    {"{\"x\":1e5,\"Item\":{\"pk\":{\"S\":\"a\"}}}", 0},
	    {"{\"x\":123456789012345678901234,\"Item\":{}}", -EBADMSG},
	    {"{\"x\":1234567890123456,\"Item\":{}}", 0},
	    {"{\"x\":01,\"Item\":{}}", -EBADMSG},
	    {"{\"Item\":{}} x", -EBADMSG},
	    {"[]", -EBADMSG},
	    {"", -EBADMSG},
	    {"\xef\xbb\xbf{\"Item\":{}}", -EBADMSG},
	    {"{\"Item\":{\"a\":{\"Q\":\"x\"}}}", -EINVAL},
	};
	int bad = 0;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		for (int f = 0; f < 2; f++) {
			char *t = NULL;
			size_t n = 0;
			int rc = codec_render_member(
			    rows[i].body, strlen(rows[i].body), "Item", &pk_sk,
			    (enum codec_format)f, &t, &n);

			if (rc != rows[i].rc) {
				printf("#   body %zu: rc %d, want %d\n", i, rc,
				       rows[i].rc);
				bad++;
			}
			free(t);
			bad += both_ways(rows[i].body, rows[i].body,
					 strlen(rows[i].body), NULL, 0, &pk_sk,
					 (enum codec_format)f, 1);
		}
	}
	/* A raw NUL byte after a number: jansson's business. */
	bad += both_ways("raw NUL", "{\"x\":0\0,\"Item\":{}}", 19, NULL, 0,
			 &pk_sk, CODEC_PLAIN, 1);
	CHECK_INT(bad, 0);
}

/* Deep items: the raw reader renders what the tree renders, refuses past
 * the renderer's depth the same way. */
static void test_render_raw_deep(void)
{
	int bad = 0;

	for (int depth = 1; depth <= 140; depth += depth < 30 ? 1 : 7) {
		struct dynbuf b = {0};

		dynbuf_adds(&b, "{\"a\":");
		for (int i = 0; i < depth; i++)
			dynbuf_adds(&b, i % 2 ? "{\"L\":[" : "{\"M\":{\"k\":");
		dynbuf_adds(&b, "{\"S\":\"x\"}");
		for (int i = depth - 1; i >= 0; i--)
			dynbuf_adds(&b, i % 2 ? "]}" : "}}");
		dynbuf_adds(&b, "}");
		for (int f = 0; f < 2; f++)
			bad += item_both_ways("deep", b.p, b.len, &pk_sk,
					      (enum codec_format)f, 1);
		dynbuf_free(&b);
	}
	/* Maps and sets bigger than the renderer keeps on its stack. */
	{
		struct dynbuf b = {0};
		char tmp[64];

		dynbuf_adds(&b, "{");
		for (int i = 0; i < 100; i++) {
			snprintf(tmp, sizeof(tmp), "%s\"k%d\":{\"N\":\"%d\"}",
				 i ? "," : "", (i * 37) % 100, i);
			dynbuf_adds(&b, tmp);
		}
		dynbuf_adds(&b, ",\"ns\":{\"NS\":[");
		for (int i = 0; i < 100; i++) {
			snprintf(tmp, sizeof(tmp), "%s\"%d.5\"", i ? "," : "",
				 (i * 53) % 100 - 50);
			dynbuf_adds(&b, tmp);
		}
		dynbuf_adds(&b, "]},\"bs\":{\"BS\":[");
		for (int i = 0; i < 40; i++) {
			snprintf(tmp, sizeof(tmp), "%s\"%c%cE=\"", i ? "," : "",
				 'A' + (i * 7) % 26, 'a' + i % 26);
			dynbuf_adds(&b, tmp);
		}
		dynbuf_adds(&b, "]}}");
		for (int f = 0; f < 2; f++)
			bad += item_both_ways("wide", b.p, b.len, &pk_sk,
					      (enum codec_format)f, 0);
		dynbuf_free(&b);
	}
	CHECK_INT(bad, 0);
}

/* True when an object key anywhere in j holds a NUL: json_loadb refuses
 * those, so neither path renders such an item. */
static bool nul_key(const json_t *j)
{
	const char *k;
	size_t kl, i;
	json_t *v;

	if (json_is_object(j)) {
		json_object_keylen_foreach((json_t *)j, k, kl, v)
		{
			if (strlen(k) != kl || nul_key(v))
				return true;
		}
	} else if (json_is_array(j)) {
		for (i = 0; i < json_array_size(j); i++)
			if (nul_key(json_array_get(j, i)))
				return true;
	}
	return false;
}

/* Every item of tests/data (the codec folders, the Devices table as the
 * bench and e2e tests load it) and random items dumped in several
 * layouts (escaped non-ASCII too), rendered both ways. */
static void test_render_raw_differential(void)
{
	static const size_t flags[] = {JSON_COMPACT, JSON_INDENT(3),
				       JSON_COMPACT | JSON_ENSURE_ASCII,
				       JSON_ENSURE_ASCII | JSON_ESCAPE_SLASH};
	const struct codec_schema dev = {"device_id", 'S', "datacount", 'N'};
	const struct codec_schema k = {"k", 'S', NULL, 0};
	char dir[4096], path[8192];
	json_t *all, *it;
	size_t i, n = 0;
	int bad = 0, items = 0;
	DIR *d;
	struct dirent *e;

	data_dir(dir, sizeof(dir));
	d = opendir(dir);
	while (d && (e = readdir(d))) {
		char *text;
		size_t len;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/ddb.json", dir, e->d_name);
		text = tap_slurp(path, &len);
		if (!text)
			continue;
		items++;
		for (int f = 0; f < 2; f++)
			bad += item_both_ways(e->d_name, text, len, &pk_sk,
					      (enum codec_format)f, 0);
		free(text);
	}
	if (d)
		closedir(d);
	snprintf(path, sizeof(path), "%s/../devices.json", dir);
	{
		char *text = tap_slurp(path, &n);

		all = text ? json_loadb(text, n, 0, NULL) : NULL;
		free(text);
	}
	CHECK(json_array_size(all) > 0);
	json_array_foreach(all, i, it)
	{
		char *plain = json_dumps(it, JSON_COMPACT), *w;
		json_t *item = NULL;

		if (!plain || codec_parse(plain, strlen(plain), CODEC_PLAIN,
					  &item, NULL) != 0) {
			bad++;
			free(plain);
			continue;
		}
		w = json_dumps(item, JSON_COMPACT);
		items++;
		for (int f = 0; f < 2; f++)
			bad += item_both_ways("devices", w, strlen(w), &dev,
					      (enum codec_format)f, 0);
		free(w);
		free(plain);
		json_decref(item);
	}
	json_decref(all);
	/* The JSON reader's test texts that parse as items. */
	snprintf(path, sizeof(path), "%s/../json", dir);
	d = opendir(path);
	while (d && (e = readdir(d))) {
		char file[8192 + 300], *text, *w;
		size_t len;

		snprintf(file, sizeof(file), "%s/%s/input.json", path,
			 e->d_name);
		text = e->d_name[0] == '.' ? NULL : tap_slurp(file, &len);
		for (int f = 0; text && f < 2; f++) {
			json_t *item = NULL;

			if (codec_parse(text, len, (enum codec_format)f, &item,
					NULL) != 0)
				continue;
			w = json_dumps(item, JSON_COMPACT);
			items++;
			for (int g = 0; g < 2; g++)
				bad += item_both_ways(
				    e->d_name, w, strlen(w), &pk_sk,
				    (enum codec_format)g,
				    nul_key(item) ? -ENOTSUP : 0);
			free(w);
			json_decref(item);
		}
		free(text);
	}
	if (d)
		closedir(d);
	for (int r = 0; r < 2000 && bad < 5; r++) {
		json_t *item = rnd_map(1, 8);
		char *w = json_dumps(item, flags[r % 4]);

		items++;
		for (int f = 0; f < 2; f++)
			bad += item_both_ways("random", w, strlen(w), &k,
					      (enum codec_format)f,
					      nul_key(item) ? -ENOTSUP : 0);
		free(w);
		json_decref(item);
	}
	printf("#   %d items\n", items);
	CHECK(items > 2000);
	CHECK_INT(bad, 0);
}

TAP_MAIN({"data folders match Python's json.dumps", test_data_folders},
	 {"one line of a bulk file", test_render_line},
	 {"render table", test_render_table},
	 {"NUL in names and strings", test_nul_names},
	 {"parse: valid texts", test_parse_ok},
	 {"parse: every error, with place", test_parse_errors},
	 {"parse: nesting limit", test_nesting},
	 {"parse: size and name limits", test_sizes_limit},
	 {"item size as DynamoDB Local counts", test_item_size},
	 {"number compare", test_number_compare},
	 {"number check", test_number_check},
	 {"keys from the path", test_apply_key},
	 {"key length limits", test_key_limits},
	 {"empty file and key size", test_empty_file_and_key_size},
	 {"error formatting", test_strerror},
	 {"round trips of random items", test_round_trip},
	 {"raw render: tricky items", test_render_raw_table},
	 {"raw render: the answer around the item", test_render_member},
	 {"raw render: deep and wide items", test_render_raw_deep},
	 {"raw render: tests/data and random items, both ways",
	  test_render_raw_differential})
