/* test_fs_resolve.c - what a path names (src/fs_resolve.c) against fakehttp
 * playing DynamoDB, with no mount: the node kinds, table schemas kept for
 * the cache time and the old one used while DescribeTable fails, table
 * aliases, hidden items, the path sets and the name sets under them. */
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "fsenv.h"
#include "monotime.h"
#include "tap.h"

#define MB  (64u << 20)
#define TTL 5

/* The kind fs_resolve gives path, or -errno. */
static int kind_of(struct fs *fs, const char *path)
{
	struct node n;
	int rc = fs_resolve(fs, path, &n);

	if (rc)
		return rc;
	rc = (int)n.kind;
	fs_node_clear(&n);
	return rc;
}

static void test_node_kinds(void)
{
	static const struct {
		const char *path;
		int kind;
	} cases[] = {
	    {"/", NODE_ROOT},
	    {"/Tab", NODE_TABLE},
	    {"/Tab/.table.json", NODE_TABLE_JSON},
	    {"/Tab/p", NODE_PARTITION},
	    {"/Tab/p/1.json", NODE_ITEM},
	    {"/Tab/p/x.json", NODE_SCRATCH}, /* not a number */
	    {"/Tab/p/1.json.swp", NODE_SCRATCH},
	    {"/Tab/p/1.json/x", -ENOENT},
	    {"/Uni/a.json", NODE_ITEM},
	    {"/Uni/a", NODE_SCRATCH},
	    {"/Uni/a.json/x", -ENOENT},
	    {"/Nope", -ENOENT},
	    {"/ab", -ENOENT}, /* not a table name */
	};
	json_t *rules = json_array();
	struct node n;
	struct env e;
	struct fs *fs;

	fsenv_add_describe(rules, "Tab", 'S', 'N', 0);
	fsenv_add_describe(rules, "Uni", 'S', 0, 0);
	json_array_append_new(rules,
			      fsenv_rule("DescribeTable", NULL, 0, 400,
					 "{\"__type\": \"" TYPE_PREFIX
					 "ResourceNotFoundException\"}"));
	fs = fsenv_start(&e, rules, 0, TTL, MB, NULL);
	CHECK(fs != NULL);
	if (!fs)
		goto out;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int k = kind_of(fs, cases[i].path);

		if (k != cases[i].kind)
			printf("#   %s\n", cases[i].path);
		CHECK_INT(k, cases[i].kind);
	}
	if (fs_resolve(fs, "/Tab/p/1.json", &n) == 0) {
		json_t *key =
		    json_pack("{s{ss}s{ss}}", "pk", "S", "p", "sk", "N", "1");
		CHECK(json_equal(n.key, key));
		CHECK_STR(n.parent, "/Tab/p");
		CHECK_STR(n.name, "1.json");
		json_decref(key);
		fs_node_clear(&n);
	}
out:
	fsenv_stop(&e, fs);
}

/* A schema is described once for the cache time; after it, again; while
 * DescribeTable fails then, the schema described before still names
 * every item right. A table gone is forgotten. */
static void test_schema_cache(void)
{
	char *d = fsenv_describe("Tab", 'S', 'N', 0);
	json_t *rules = json_array();
	struct env e;
	struct fs *fs;

	json_array_append_new(rules,
			      fsenv_rule("DescribeTable", NULL, 2, 200, d));
	json_array_append_new(rules,
			      fsenv_rule("DescribeTable", NULL, 0, 500, "{}"));
	free(d);
	fs = fsenv_start(&e, rules, 0, TTL, MB, NULL);
	CHECK(fs != NULL);
	if (!fs)
		goto out;
	CHECK_INT(kind_of(fs, "/Tab/p/1.json"), NODE_ITEM);
	CHECK_INT(kind_of(fs, "/Tab/p/2.json"), NODE_ITEM);
	CHECK_INT(fakehttp_count(&e.f), 1);
	monotime_advance_s(TTL + 1);
	CHECK_INT(kind_of(fs, "/Tab/p/1.json"), NODE_ITEM);
	CHECK_INT(fakehttp_count(&e.f), 2);
	monotime_advance_s(TTL + 1);
	CHECK_INT(kind_of(fs, "/Tab/p/1.json"), NODE_ITEM); /* the old one */
	CHECK_INT(fakehttp_count(&e.f), 3);
	fs_table_forget(fs, "Tab");
	CHECK(kind_of(fs, "/Tab") < 0);
out:
	fsenv_stop(&e, fs);
}

/* "/NAME,HASH:T" names table NAME once mkdir made it; an item renamed to
 * a scratch name is hidden; the held partitions and a tree removal. */
static void test_path_sets(void)
{
	json_t *rules = json_array();
	struct node n;
	struct env e;
	struct fs *fs;
	char *v;

	fsenv_add_describe(rules, "Tab", 'S', 'N', 0);
	fs = fsenv_start(&e, rules, 0, TTL, MB, NULL);
	CHECK(fs != NULL);
	if (!fs)
		goto out;
	CHECK_INT(fs_pathset_add(&fs->aliases, "/Tab,pk:S,sk:N", "Tab"), 0);
	CHECK_INT(fs_pathset_add(&fs->aliases, "/Tab,pk:S,sk:N", "Other"), 0);
	v = fs_pathset_value(&fs->aliases, "/Tab,pk:S,sk:N");
	CHECK_STR(v, "Tab"); /* the first stays */
	free(v);
	if (fs_resolve(fs, "/Tab,pk:S,sk:N/p/1.json", &n) == 0) {
		CHECK_INT(n.kind, NODE_ITEM);
		CHECK_STR(n.table->name, "Tab");
		CHECK(!n.hidden);
		fs_node_clear(&n);
	}
	CHECK(!fs_pathset_has(&fs->hidden, "/Tab/p/1.json"));
	CHECK_INT(fs_pathset_add(&fs->hidden, "/Tab/p/1.json", NULL), 0);
	if (fs_resolve(fs, "/Tab/p/1.json", &n) == 0) {
		CHECK(n.hidden);
		fs_node_clear(&n);
	}
	CHECK_INT(fs_pathset_add(&fs->held, "/Tab/p", NULL), 0);
	CHECK_INT(fs_pathset_add(&fs->held, "/Tab/q", NULL), 0);
	CHECK_INT(fs_pathset_add(&fs->held, "/Tabx/q", NULL), 0);
	CHECK(fs_pathset_has_below(&fs->held, "/Tab"));
	CHECK(!fs_pathset_has_below(&fs->held, "/Tab/p"));
	fs_pathset_remove(&fs->held, "/Tab/p", false);
	CHECK(!fs_pathset_has(&fs->held, "/Tab/p"));
	CHECK(fs_pathset_has(&fs->held, "/Tab/q"));
	fs_pathset_remove(&fs->held, "/Tab", true);
	CHECK(!fs_pathset_has_below(&fs->held, "/Tab"));
	CHECK(fs_pathset_has(&fs->held, "/Tabx/q"));
	fs_pathset_remove(&fs->aliases, "/Tab,pk:S,sk:N", false);
	CHECK(fs_pathset_value(&fs->aliases, "/Tab,pk:S,sk:N") == NULL);
out:
	fsenv_stop(&e, fs);
}

/* A nameset holds each name once, finds it, walks every entry, and takes
 * entries out during a walk; past its first buckets it grows. */
static void test_nameset(void)
{
	struct nameset s = {0};
	struct nameset_entry *e, *next;
	char name[32];
	size_t seen = 0;

	CHECK(!fs_nameset_has(&s, "a"));
	CHECK(fs_nameset_next(&s, NULL) == NULL);
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		CHECK_INT(fs_nameset_add(&s, name), 1);
	}
	CHECK_INT(fs_nameset_add(&s, "n7"), 0);
	CHECK_INT(fs_nameset_count(&s), 1000);
	CHECK(fs_nameset_has(&s, "n999") && !fs_nameset_has(&s, "n1000"));
	for (e = fs_nameset_next(&s, NULL); e; e = next) {
		next = fs_nameset_next(&s, e);
		seen++;
		if (e->name[strlen(e->name) - 1] == '0')
			fs_nameset_remove(&s, e);
	}
	CHECK_INT(seen, 1000);
	CHECK_INT(fs_nameset_count(&s), 900);
	CHECK(!fs_nameset_has(&s, "n10") && fs_nameset_has(&s, "n11"));
	fs_nameset_free(&s);
	CHECK_INT(fs_nameset_count(&s), 0);
}

TAP_MAIN({"paths name the root, tables, partitions, items, scratch",
	  test_node_kinds},
	 {"table schemas: once per cache time, the old one on failure",
	  test_schema_cache},
	 {"aliases, hidden items, held partitions", test_path_sets},
	 {"name sets", test_nameset})
