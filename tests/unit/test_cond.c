/* test_cond.c - unit tests of the compare-and-swap condition: the expression,
 * names and values for each kind of seen item, the limits, and equality. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cond.h"
#include "tap.h"

/* Builds the condition of seen (JSON text or NULL) and checks its parts
 * against the expected JSON texts (NULL: the member must be NULL). */
static void expect(const char *seen_text, const char *range,
		   const char *version, size_t expr_max, unsigned ops_max,
		   const char *expr, const char *names, const char *values,
		   const char *unchecked)
{
	json_t *seen = seen_text ? json_loads(seen_text, 0, NULL) : NULL;
	struct cond_want w = {.seen = seen,
			      .hash_name = "pk",
			      .range_name = range,
			      .version = version,
			      .expr_max = expr_max,
			      .ops_max = ops_max};
	struct cond c = {0};
	const char *want_json[3] = {names, values, unchecked};
	json_t *got[3];
	int rc;

	rc = cond_build(&c, &w);
	CHECK_INT(rc, 0);
	if (rc) {
		json_decref(seen);
		return;
	}
	CHECK_STR(c.expr, expr);
	got[0] = c.names;
	got[1] = c.values;
	got[2] = c.unchecked;
	for (int i = 0; i < 3; i++) {
		json_t *want =
		    want_json[i] ? json_loads(want_json[i], 0, NULL) : NULL;

		if (!want_json[i]) {
			CHECK(got[i] == NULL);
		} else {
			CHECK(want != NULL);
			CHECK(got[i] && json_equal(want, got[i]));
			if (!got[i] || !json_equal(want, got[i])) {
				char *s =
				    got[i] ? json_dumps(got[i], JSON_SORT_KEYS)
					   : NULL;
				printf("#   member %d: %s\n", i,
				       s ? s : "(null)");
				free(s);
			}
		}
		json_decref(want);
	}
	cond_clear(&c);
	json_decref(seen);
}

static void test_absent(void)
{
	expect(NULL, "sk", NULL, 0, 0, "attribute_not_exists(#n0)",
	       "{\"#n0\":\"pk\"}", NULL, NULL);
}

static void test_scalars_keys_first(void)
{
	/* Keys first (partition, sort), then by name; sets and scalars by
	 * one "=" each. */
	expect("{\"z\":{\"N\":\"1.50\"},\"sk\":{\"S\":\"b\"},"
	       "\"a\":{\"SS\":[\"y\",\"x\"]},\"pk\":{\"S\":\"a\"},"
	       "\"n\":{\"NULL\":true}}",
	       "sk", NULL, 0, 0,
	       "#n0 = :v0 AND #n1 = :v1 AND #n2 = :v2 AND #n3 = :v3 AND "
	       "#n4 = :v4",
	       "{\"#n0\":\"pk\",\"#n1\":\"sk\",\"#n2\":\"a\",\"#n3\":\"n\","
	       "\"#n4\":\"z\"}",
	       "{\":v0\":{\"S\":\"a\"},\":v1\":{\"S\":\"b\"},"
	       "\":v2\":{\"SS\":[\"y\",\"x\"]},\":v3\":{\"NULL\":true},"
	       "\":v4\":{\"N\":\"1.50\"}}",
	       NULL);
}

static void test_nested(void)
{
	/* Maps and lists by size and member; a name used twice has one
	 * placeholder, a size one value per count. */
	expect("{\"pk\":{\"S\":\"a\"},\"m\":{\"M\":{\"pk\":{\"N\":\"1\"},"
	       "\"l\":{\"L\":[{\"S\":\"x\"},{\"M\":{}}]}}},"
	       "\"e\":{\"L\":[]}}",
	       NULL, NULL, 0, 0,
	       "#n0 = :v0 AND size(#n1) = :v1 AND size(#n2) = :v2 AND "
	       "size(#n2.#n3) = :v2 AND #n2.#n3[0] = :v3 AND "
	       "size(#n2.#n3[1]) = :v1 AND #n2.#n0 = :v4",
	       "{\"#n0\":\"pk\",\"#n1\":\"e\",\"#n2\":\"m\",\"#n3\":\"l\"}",
	       "{\":v0\":{\"S\":\"a\"},\":v1\":{\"N\":\"0\"},"
	       "\":v2\":{\"N\":\"2\"},\":v3\":{\"S\":\"x\"},"
	       "\":v4\":{\"N\":\"1\"}}",
	       NULL);
}

static void test_version(void)
{
	/* A number version alone is the condition. */
	expect("{\"pk\":{\"S\":\"a\"},\"v\":{\"N\":\"7\"},\"x\":{\"S\":\"q\"}}",
	       NULL, "v", 0, 0, "#n0 = :v0", "{\"#n0\":\"v\"}",
	       "{\":v0\":{\"N\":\"7\"}}", NULL);
	/* Seen without it: nobody keeps it yet, so every attribute is
	 * compared and it must still be absent. */
	expect("{\"pk\":{\"S\":\"a\"},\"x\":{\"S\":\"q\"}}", NULL, "v", 0, 0,
	       "attribute_not_exists(#n0) AND #n1 = :v0 AND #n2 = :v1",
	       "{\"#n0\":\"v\",\"#n1\":\"pk\",\"#n2\":\"x\"}",
	       "{\":v0\":{\"S\":\"a\"},\":v1\":{\"S\":\"q\"}}", NULL);
	/* Not a number: compared like any attribute. */
	expect("{\"pk\":{\"S\":\"a\"},\"v\":{\"S\":\"7\"}}", NULL, "v", 0, 0,
	       "#n0 = :v0 AND #n1 = :v1", "{\"#n0\":\"pk\",\"#n1\":\"v\"}",
	       "{\":v0\":{\"S\":\"a\"},\":v1\":{\"S\":\"7\"}}", NULL);
	/* A new item. */
	expect(NULL, NULL, "v", 0, 0, "attribute_not_exists(#n0)",
	       "{\"#n0\":\"pk\"}", NULL, NULL);
}

static void test_limits(void)
{
	/* "#n0 = :v0" is 9 bytes, each further one 14: with 40 bytes the
	 * map (3 comparisons) does not fit, the later scalar does. */
	expect("{\"pk\":{\"S\":\"a\"},\"b\":{\"M\":{\"c\":{\"S\":\"1\"},"
	       "\"d\":{\"S\":\"2\"}}},\"e\":{\"S\":\"3\"}}",
	       NULL, NULL, 40, 0, "#n0 = :v0 AND #n1 = :v1",
	       "{\"#n0\":\"pk\",\"#n1\":\"e\"}",
	       "{\":v0\":{\"S\":\"a\"},\":v1\":{\"S\":\"3\"}}",
	       "{\"b\":{\"M\":{\"c\":{\"S\":\"1\"},\"d\":{\"S\":\"2\"}}}}");
	/* Operators: pk (1), AND + a (2) = 3; b would make 5. */
	expect("{\"pk\":{\"S\":\"a\"},\"a\":{\"S\":\"1\"},\"b\":{\"S\":\"2\"}}",
	       NULL, NULL, 0, 4, "#n0 = :v0 AND #n1 = :v1",
	       "{\"#n0\":\"pk\",\"#n1\":\"a\"}",
	       "{\":v0\":{\"S\":\"a\"},\":v1\":{\"S\":\"1\"}}",
	       "{\"b\":{\"S\":\"2\"}}");
	/* An empty map key cannot be named: that attribute goes unchecked. */
	expect("{\"pk\":{\"S\":\"a\"},\"m\":{\"M\":{\"\":{\"S\":\"1\"}}}}",
	       NULL, NULL, 0, 0, "#n0 = :v0", "{\"#n0\":\"pk\"}",
	       "{\":v0\":{\"S\":\"a\"}}",
	       "{\"m\":{\"M\":{\"\":{\"S\":\"1\"}}}}");
}

static void test_many_attributes(void)
{
	/* 400 attributes: what fits is within both limits, the rest is
	 * unchecked, and nothing is lost between the two. */
	json_t *seen = json_object();
	struct cond c = {0};
	struct cond_want w = {.seen = seen, .hash_name = "pk"};
	char name[32];
	size_t in_expr;

	json_object_set_new(seen, "pk", json_pack("{s:s}", "S", "k"));
	for (int i = 0; i < 400; i++) {
		snprintf(name, sizeof(name), "attribute_%03d", i);
		json_object_set_new(seen, name, json_pack("{s:s}", "N", "1"));
	}
	CHECK_INT(cond_build(&c, &w), 0);
	CHECK(strlen(c.expr) <= COND_EXPR_MAX);
	CHECK(c.unchecked != NULL);
	in_expr = json_object_size(c.names);
	CHECK_INT(in_expr + json_object_size(c.unchecked), 401);
	/* ops: n comparisons and n - 1 ANDs */
	CHECK(2 * in_expr - 1 <= COND_OPS_MAX);
	CHECK(in_expr >= 140);
	cond_clear(&c);
	json_decref(seen);
}

static void test_bad(void)
{
	struct cond c = {0};
	json_t *seen =
	    json_loads("{\"pk\":{\"S\":\"a\",\"N\":\"1\"}}", 0, NULL);
	struct cond_want w = {.seen = seen, .hash_name = "pk"};

	CHECK_INT(cond_build(&c, &w), -EINVAL);
	CHECK(c.expr == NULL);
	w.hash_name = NULL;
	CHECK_INT(cond_build(&c, &w), -EINVAL);
	json_decref(seen);
	seen = json_object();
	w.seen = seen;
	w.hash_name = "pk";
	CHECK_INT(cond_build(&c, &w), -EINVAL);
	json_decref(seen);
}

static void test_equal(void)
{
	static const struct {
		const char *a, *b;
		bool equal;
	} cases[] = {
	    {"{\"N\":\"1.50\"}", "{\"N\":\"1.5\"}", true},
	    {"{\"N\":\"1\"}", "{\"S\":\"1\"}", false},
	    {"{\"SS\":[\"a\",\"b\"]}", "{\"SS\":[\"b\",\"a\"]}", true},
	    {"{\"SS\":[\"a\",\"b\"]}", "{\"SS\":[\"a\"]}", false},
	    {"{\"NS\":[\"1.0\",\"2\"]}", "{\"NS\":[\"2\",\"1\"]}", true},
	    {"{\"L\":[{\"S\":\"a\"},{\"S\":\"b\"}]}",
	     "{\"L\":[{\"S\":\"b\"},{\"S\":\"a\"}]}", false},
	    {"{\"M\":{\"x\":{\"N\":\"1\"},\"y\":{\"BOOL\":true}}}",
	     "{\"M\":{\"y\":{\"BOOL\":true},\"x\":{\"N\":\"1.0\"}}}", true},
	    {"{\"M\":{\"x\":{\"N\":\"1\"}}}",
	     "{\"M\":{\"x\":{\"N\":\"1\"},\"y\":{\"NULL\":true}}}", false},
	    {"{\"B\":\"AAE=\"}", "{\"B\":\"AAE=\"}", true},
	    {"{\"B\":\"AAE=\"}", "{\"B\":\"AAI=\"}", false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *a = json_loads(cases[i].a, 0, NULL);
		json_t *b = json_loads(cases[i].b, 0, NULL);

		CHECK(cond_value_equal(a, b) == cases[i].equal);
		CHECK(cond_value_equal(b, a) == cases[i].equal);
		json_decref(a);
		json_decref(b);
	}
}

static void test_attrs_hold(void)
{
	json_t *want = json_loads("{\"a\":{\"N\":\"1\"}}", 0, NULL);
	json_t *same = json_loads(
	    "{\"pk\":{\"S\":\"k\"},\"a\":{\"N\":\"1.0\"},\"b\":{\"S\":\"x\"}}",
	    0, NULL);
	json_t *other =
	    json_loads("{\"pk\":{\"S\":\"k\"},\"a\":{\"N\":\"2\"}}", 0, NULL);

	CHECK(cond_attrs_hold(want, same));
	CHECK(!cond_attrs_hold(want, other));
	CHECK(!cond_attrs_hold(want, NULL));
	json_decref(want);
	json_decref(same);
	json_decref(other);
}

TAP_MAIN({"no item seen: attribute_not_exists", test_absent},
	 {"scalars and sets, keys first", test_scalars_keys_first},
	 {"maps and lists by size and member", test_nested},
	 {"version_attribute", test_version},
	 {"attributes that do not fit go unchecked", test_limits},
	 {"400 attributes within 4 KB and 300 operators", test_many_attributes},
	 {"malformed input", test_bad}, {"equality as DynamoDB's", test_equal},
	 {"attributes still hold", test_attrs_hold})
