/* test_jsontext.c - the JSON reader against the folders of tests/data/json
 * (as jansson keeps its suites: one folder a case, input.json with
 * expected-error "LINE:COLUMN: message" or expected-output, the value
 * written back compactly; a "# ok"/"# FAILED" line a folder), then a few
 * tables. */
#include "tap.h"
#include "dynbuf.h"
#include "jsontext.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* dir/name read whole (tap_slurp), or NULL. */
static char *slurp(const char *dir, const char *name, size_t *len)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return tap_slurp(path, len);
}

/* A string as the expected-output files write it: '"', '\\' and bytes
 * below 0x20 escaped (\u00xx), everything else as it is. */
static void dump_string(struct dynbuf *b, const char *s, size_t n)
{
	dynbuf_addc(b, '"');
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];

		if (c == '"' || c == '\\') {
			dynbuf_addc(b, '\\');
			dynbuf_addc(b, (char)c);
		} else if (c < 0x20) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			dynbuf_adds(b, esc);
		} else {
			dynbuf_addc(b, (char)c);
		}
	}
	dynbuf_addc(b, '"');
}

/* The value compactly: numbers as their text, members in file order. */
static void dump(struct dynbuf *b, const struct jsontext_node *j)
{
	switch (j->t) {
	case JSONTEXT_NULL:
		dynbuf_adds(b, "null");
		return;
	case JSONTEXT_TRUE:
		dynbuf_adds(b, "true");
		return;
	case JSONTEXT_FALSE:
		dynbuf_adds(b, "false");
		return;
	case JSONTEXT_NUMBER:
		dynbuf_add(b, j->s, j->n);
		return;
	case JSONTEXT_STRING:
		dump_string(b, j->s, j->n);
		return;
	case JSONTEXT_ARRAY:
	case JSONTEXT_OBJECT:
		dynbuf_addc(b, j->t == JSONTEXT_ARRAY ? '[' : '{');
		for (size_t i = 0; i < j->cnt; i++) {
			if (i)
				dynbuf_addc(b, ',');
			if (j->t == JSONTEXT_OBJECT) {
				dump_string(b, j->keys[i].s, j->keys[i].n);
				dynbuf_addc(b, ':');
			}
			dump(b, j->kids[i]);
		}
		dynbuf_addc(b, j->t == JSONTEXT_ARRAY ? ']' : '}');
		return;
	}
}

/* A whole document: one value and nothing after it but whitespace. */
static int read_document(const char *text, size_t len,
			 struct jsontext_node **root,
			 struct jsontext_error *err)
{
	struct jsontext_reader rd;
	int rc;

	jsontext_init(&rd, text, len, err);
	jsontext_skip_ws(&rd);
	rc = jsontext_read_value(&rd, root);
	if (rc)
		return rc;
	jsontext_skip_ws(&rd);
	if (rd.pos == rd.len)
		return 0;
	jsontext_free(*root);
	*root = NULL;
	return jsontext_fail(&rd, rd.pos, "text after the value");
}

/* Runs the case in dir; prints what differs. */
static void run_case(const char *dir)
{
	struct jsontext_error err = {0};
	struct jsontext_node *root = (struct jsontext_node *)1;
	struct dynbuf got = {0};
	size_t len = 0, elen = 0, olen = 0;
	char *input = slurp(dir, "input.json", &len);
	char *experr = slurp(dir, "expected-error", &elen);
	char *expout = slurp(dir, "expected-output", &olen);
	char where[64];
	int rc;

	if (!input || !experr == !expout) {
		printf("#   %s: needs input.json and one of expected-error, "
		       "expected-output\n",
		       dir);
		tap_failed_checks++;
		goto out;
	}
	rc = read_document(input, len, &root, &err);
	if (experr) {
		CHECK_INT(rc, -EINVAL);
		CHECK(root == NULL);
		snprintf(where, sizeof(where), "%u:%u: ", err.line, err.column);
		dynbuf_adds(&got, where);
		dynbuf_adds(&got, err.message);
		dynbuf_addc(&got, '\n');
		CHECK_STR(got.p, experr);
	} else {
		CHECK_INT(rc, 0);
		if (rc == 0)
			dump(&got, root);
		dynbuf_addc(&got, '\n');
		CHECK(got.p && got.len == olen && !memcmp(got.p, expout, olen));
		if (got.len != olen || memcmp(got.p, expout, olen))
			printf("#   got:      %s#   expected: %s", got.p,
			       expout);
	}
	if (rc == 0)
		jsontext_free(root);
out:
	dynbuf_free(&got);
	free(input);
	free(experr);
	free(expout);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The case folders of dir, sorted (caller frees each and the array). */
static char **case_dirs(const char *dir, size_t *count)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **v = NULL;
	size_t n = 0;

	*count = 0;
	if (!d)
		return NULL;
	while ((e = readdir(d))) {
		char *sub = NULL;
		char **nv;

		if (e->d_name[0] == '.' ||
		    asprintf(&sub, "%s/%s", dir, e->d_name) < 0)
			continue;
		nv = is_dir(sub) ? realloc(v, (n + 1) * sizeof(*v)) : NULL;
		if (!nv) {
			free(sub);
			continue;
		}
		v = nv;
		v[n++] = sub;
	}
	closedir(d);
	if (n)
		qsort(v, n, sizeof(*v), cmp_str);
	*count = n;
	return v;
}

/* ------------------------------------------------------------------ */
/* tables */

static void test_what(void)
{
	static const struct {
		const char *text;
		const char *what;
	} cases[] = {
	    {"x", "'x'"},	   {"\xff", "byte 0xFF"}, {" ", "byte 0x20"},
	    {"\x7f", "byte 0x7F"}, {"", "end of text"},	  {NULL, NULL},
	};

	for (int i = 0; cases[i].text; i++) {
		struct jsontext_reader rd;
		char tmp[16];

		jsontext_init(&rd, cases[i].text, strlen(cases[i].text), NULL);
		CHECK_STR(jsontext_what(&rd, tmp, sizeof(tmp)), cases[i].what);
	}
}

static void test_show(void)
{
	static const struct {
		const char *s;
		size_t size;
		const char *shown;
	} cases[] = {
	    {"abc", 16, "abc"},
	    {"a\nb\x7f", 32, "a\\u000ab\\u007f"},
	    {"abcdefghij", 8, "abcd..."},
	    {"ab\xc3\xa9\xc3\xa9", 8, "ab\xc3\xa9..."},
	    {"ab\xc3\xa9\xc3\xa9", 7, "ab..."}, /* no half character */
	    {NULL, 0, NULL},
	};

	for (int i = 0; cases[i].s; i++) {
		char out[32];

		jsontext_show(out, cases[i].size, cases[i].s,
			      strlen(cases[i].s));
		CHECK_STR(out, cases[i].shown);
	}
}

/* Without an error struct the reader still refuses, and says nothing. */
static void test_no_err(void)
{
	struct jsontext_node *root = NULL;
	struct jsontext_reader rd;

	jsontext_init(&rd, "[1,]", 4, NULL);
	CHECK_INT(jsontext_read_value(&rd, &root), -EINVAL);
	CHECK(root == NULL);
	jsontext_init(&rd, "{\"a\":[1.50e3]}", 14, NULL);
	CHECK_INT(jsontext_read_value(&rd, &root), 0);
	CHECK(root && root->t == JSONTEXT_OBJECT && root->cnt == 1 &&
	      root->keys[0].off == 1 && root->kids[0]->off == 5);
	CHECK_STR(root ? root->kids[0]->kids[0]->s : NULL, "1.50e3");
	CHECK_STR(jsontext_type_name(JSONTEXT_ARRAY), "an array");
	jsontext_free(root);
	jsontext_free(NULL);
}

/* The folders of tests/data/json, found through DYNAMOFS_TESTDATA (which
 * scripts/test and meson test set; by hand, from the source root or a build
 * dir in it). A missing or empty folder is a failure, not a skip. */
static void test_folders(void)
{
	const char *root = getenv("DYNAMOFS_TESTDATA");
	char dir[4096];
	char **cases;
	size_t n = 0;

	if (root && *root)
		snprintf(dir, sizeof(dir), "%s/json", root);
	else
		snprintf(dir, sizeof(dir), "%s",
			 is_dir("tests/data/json") ? "tests/data/json"
						   : "../tests/data/json");
	cases = case_dirs(dir, &n);
	if (n == 0)
		printf("#   no JSON cases in %s\n", dir);
	CHECK(n > 0);
	for (size_t i = 0; i < n; i++) {
		int before = tap_failed_checks;

		run_case(cases[i]);
		printf("# %s %s\n",
		       tap_failed_checks > before ? "FAILED" : "ok",
		       strrchr(cases[i], '/') + 1);
		free(cases[i]);
	}
	free(cases);
}

TAP_MAIN({"data folders (tests/data/json)", test_folders},
	 {"what stands at a place", test_what},
	 {"texts shown in messages", test_show},
	 {"no error struct, places of values", test_no_err})
