/* test_fs_list.c - the listing engine (src/fs_list.c) against fakehttp
 * playing DynamoDB, with no mount: pages fetched one request at a time as
 * the reader asks, partitions de-duplicated, a full Scan that fills every
 * partition's listing (and one too large to), a partition's first page
 * kept for the opendir that follows, shortened names learnt on the way. */
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "fsenv.h"
#include "monotime.h"
#include "tap.h"

#define MB (64u << 20)

/* Resolves path into *n; the test fails if it does not. */
static bool resolved(struct fs *fs, const char *path, struct node *n)
{
	int rc = fs_resolve(fs, path, n);

	CHECK_INT(rc, 0);
	return rc == 0;
}

static bool listing_has(struct cache_listing *l, const char *name, bool is_dir)
{
	for (size_t i = 0; l && i < l->n; i++)
		if (strcmp(l->entries[i].name, name) == 0)
			return l->entries[i].is_dir == is_dir;
	return false;
}

/* One test's filesystem, the node of the directory it lists, and the
 * listing. */
struct fix {
	struct env e;
	struct fs *fs;
	struct node n;
	struct lister *lst;
};

/* Starts the filesystem on rules (stolen) and resolves path; with list,
 * begins its listing too. False (the test failed) when any step did not
 * work; fix_stop either way. */
static bool fix_start(struct fix *x, json_t *rules, const char *path, bool list)
{
	memset(x, 0, sizeof(*x));
	x->fs = fsenv_start(&x->e, rules, 0, 5, MB, NULL);
	CHECK(x->fs != NULL);
	if (!x->fs || !resolved(x->fs, path, &x->n))
		return false;
	if (list) {
		x->lst = fs_lister_new(x->fs, path, x->n.table,
				       x->n.kind == NODE_PARTITION ? x->n.key
								   : NULL);
		CHECK(x->lst != NULL);
	}
	return !list || x->lst;
}

static void fix_stop(struct fix *x)
{
	fs_lister_free(x->lst);
	fs_node_clear(&x->n);
	fsenv_stop(&x->e, x->fs);
}

static void test_root_pages(void)
{
	json_t *rules = json_array();
	struct cache_listing *l;
	struct lister *lst;
	struct env e;
	struct fs *fs;
	json_t *req;

	json_array_append_new(
	    rules, fsenv_rule("ListTables", "ExclusiveStartTableName", 0, 200,
			      "{\"TableNames\": [\"C\"]}"));
	json_array_append_new(
	    rules, fsenv_rule("ListTables", NULL, 0, 200,
			      "{\"TableNames\": [\"A\", \"B\"],"
			      " \"LastEvaluatedTableName\": \"B\"}"));
	fs = fsenv_start(&e, rules, 0, 5, MB, "A:C");
	CHECK(fs != NULL);
	if (!fs)
		goto out;
	lst = fs_lister_new(fs, "/", NULL, NULL);
	CHECK(lst != NULL);
	if (!lst)
		goto out;
	CHECK_INT(lst->kind, LIST_ROOT);
	CHECK_INT(fakehttp_count(&e.f), 0); /* nothing before it is read */
	CHECK_INT(fs_lister_next_page(lst), 0);
	CHECK_INT(fakehttp_count(&e.f), 1);
	CHECK(!lst->done);
	CHECK_INT(lst->entries->n, 1); /* B is filtered out */
	CHECK(listing_has(lst->entries, "A", true));
	CHECK_INT(fs_lister_next_page(lst), 0);
	CHECK(lst->done);
	CHECK_INT(lst->entries->n, 2);
	CHECK(listing_has(lst->entries, "C", true));
	req = fsenv_request(&e, 1);
	CHECK_STR(
	    json_string_value(json_object_get(req, "ExclusiveStartTableName")),
	    "B");
	json_decref(req);
	CHECK_INT(fs_lister_next_page(lst), 0); /* done: sends nothing */
	CHECK_INT(fakehttp_count(&e.f), 2);
	fs_lister_publish(lst);
	l = cache_dir_get(fs->cache, "/");
	CHECK(l && l->n == 2);
	cache_listing_unref(l);
	fs_lister_free(lst);
out:
	fsenv_stop(&e, fs);
}

/* A partition-key-only table: items named PK.json, each rendered into the
 * cache with its size, the second page asked for from the first's end. */
static void test_item_pages(void)
{
	json_t *rules = json_array();
	struct cache_item ci;
	struct fix x;
	char op[32];
	json_t *req;

	fsenv_add_describe(rules, "Uni", 'S', 0, 0);
	json_array_append_new(rules,
			      fsenv_rule("Scan", "ExclusiveStartKey", 0, 200,
					 "{\"Items\": [{\"pk\": {\"S\": \"c\"},"
					 " \"v\": {\"N\": \"3\"}}]}"));
	json_array_append_new(
	    rules, fsenv_rule("Scan", NULL, 0, 200,
			      "{\"Items\": [{\"pk\": {\"S\": \"a\"}},"
			      " {\"pk\": {\"S\": \"b\"}, \"v\": {\"S\": "
			      "\"x\"}}], \"LastEvaluatedKey\": {\"pk\":"
			      " {\"S\": \"b\"}}}"));
	if (!fix_start(&x, rules, "/Uni", true))
		goto out;
	CHECK_INT(x.n.kind, NODE_TABLE);
	CHECK(x.lst && x.lst->kind == LIST_ITEMS);
	CHECK_INT(fs_lister_next_page(x.lst), 0);
	CHECK_STR(fsenv_op(&x.e, 1, op, sizeof(op)), "Scan");
	CHECK_INT(x.lst->entries->n, 2);
	CHECK(listing_has(x.lst->entries, "a.json", false));
	CHECK(listing_has(x.lst->entries, "b.json", false));
	CHECK(x.lst->sizes[0] > 0 && x.lst->sizes[1] > 0);
	CHECK_INT(cache_item_get(x.fs->cache, "/Uni/b.json", &ci), 0);
	CHECK(ci.text && (off_t)ci.text->len == x.lst->sizes[1]);
	CHECK(ci.text && strstr(ci.text->data, "\"v\": \"x\""));
	cache_blob_unref(ci.text);
	CHECK(!x.lst->done);
	CHECK_INT(fs_lister_next_page(x.lst), 0);
	CHECK(x.lst->done);
	CHECK_INT(x.lst->entries->n, 3);
	req = fsenv_request(&x.e, 2);
	CHECK_STR(json_string_value(json_object_get(
		      json_object_get(json_object_get(req, "ExclusiveStartKey"),
				      "pk"),
		      "S")),
		  "b");
	CHECK(json_object_get(req, "ProjectionExpression") == NULL);
	json_decref(req);
	CHECK_INT(fakehttp_count(&x.e.f), 3);
out:
	fix_stop(&x);
}

/* A table of partitions small enough to fill: one Scan of whole items
 * lists the partitions once each and, when complete, every partition. */
static void test_partition_fill(void)
{
	json_t *rules = json_array();
	struct cache_listing *l;
	struct fix x;
	struct cache_item ci;
	json_t *req;

	fsenv_add_describe(rules, "Tab", 'S', 'N', 0);
	json_array_append_new(
	    rules, fsenv_rule("Scan", "ExclusiveStartKey", 0, 200,
			      "{\"Items\": [{\"pk\": {\"S\": \"p2\"},"
			      " \"sk\": {\"N\": \"1\"}}]}"));
	json_array_append_new(
	    rules,
	    fsenv_rule("Scan", NULL, 0, 200,
		       "{\"Items\": [{\"pk\": {\"S\": \"p1\"}, \"sk\":"
		       " {\"N\": \"1\"}}, {\"pk\": {\"S\": \"p1\"}, \"sk\":"
		       " {\"N\": \"2\"}, \"v\": {\"S\": \"x\"}}],"
		       " \"LastEvaluatedKey\": {\"pk\": {\"S\": \"p1\"},"
		       " \"sk\": {\"N\": \"2\"}}}"));
	if (!fix_start(&x, rules, "/Tab", true))
		goto out;
	CHECK(x.lst && x.lst->kind == LIST_PARTITIONS && x.lst->fill);
	CHECK_INT(fs_lister_next_page(x.lst), 0);
	CHECK_INT(x.lst->entries->n, 1); /* p1 once */
	CHECK(listing_has(x.lst->entries, "p1", true));
	req = fsenv_request(&x.e, 1);
	CHECK(json_object_get(req, "ProjectionExpression") == NULL);
	json_decref(req);
	/* Items are in the cache at once; listings only once complete. */
	CHECK_INT(cache_item_get(x.fs->cache, "/Tab/p1/2.json", &ci), 0);
	cache_blob_unref(ci.text);
	fs_lister_publish(x.lst);
	CHECK(cache_dir_get(x.fs->cache, "/Tab/p1") == NULL);
	CHECK_INT(fs_lister_next_page(x.lst), 0);
	CHECK(x.lst->done);
	fs_lister_publish(x.lst);
	l = cache_dir_get(x.fs->cache, "/Tab");
	CHECK(l && l->n == 2 && listing_has(l, "p2", true));
	cache_listing_unref(l);
	l = cache_dir_get(x.fs->cache, "/Tab/p1");
	CHECK(l && l->n == 2 && listing_has(l, "1.json", false) &&
	      listing_has(l, "2.json", false));
	cache_listing_unref(l);
	l = cache_dir_get(x.fs->cache, "/Tab/p2");
	CHECK(l && l->n == 1 && listing_has(l, "1.json", false));
	cache_listing_unref(l);
	/* The table's partitions are known: a lookup needs no request. */
	fs_node_clear(&x.n);
	if (resolved(x.fs, "/Tab/p2", &x.n))
		CHECK_INT(fs_partition_exists(x.fs, "/Tab/p2", &x.n), 0);
	CHECK_INT(fakehttp_count(&x.e.f), 3);
out:
	fix_stop(&x);
}

/* A table known to be large (TableSizeBytes past an eighth of the cache)
 * is listed with a key-only Scan, and no partition is filled. */
static void test_no_fill_when_large(void)
{
	json_t *rules = json_array();
	struct fix x;
	json_t *req;

	fsenv_add_describe(rules, "Tab", 'S', 'N', 1LL << 40);
	json_array_append_new(
	    rules, fsenv_rule("Scan", NULL, 0, 200,
			      "{\"Items\": [{\"pk\": {\"S\": \"p1\"}},"
			      " {\"pk\": {\"S\": \"p1\"}}]}"));
	if (!fix_start(&x, rules, "/Tab", true))
		goto out;
	CHECK(x.lst && !x.lst->fill);
	CHECK_INT(fs_lister_next_page(x.lst), 0);
	CHECK(x.lst->done);
	CHECK_INT(x.lst->entries->n, 1);
	req = fsenv_request(&x.e, 1);
	CHECK_STR(
	    json_string_value(json_object_get(req, "ProjectionExpression")),
	    "#h");
	json_decref(req);
	fs_lister_publish(x.lst);
	CHECK(cache_dir_get(x.fs->cache, "/Tab/p1") == NULL);
out:
	fix_stop(&x);
}

/* A partition's lookup reads the first page of its Query; the opendir
 * that follows goes on from the stash with the second page. An empty
 * partition is absent, and remembered so. */
static void test_partition_stash(void)
{
	json_t *rules = json_array();
	struct lister *lst = NULL;
	struct node n = {0};
	struct env e;
	struct fs *fs;
	json_t *req;

	fsenv_add_describe(rules, "Tab", 'S', 'N', 1LL << 40);
	json_array_append_new(
	    rules, fsenv_rule("Query", "\"empty\"", 0, 200, "{\"Items\": []}"));
	json_array_append_new(rules,
			      fsenv_rule("Query", "ExclusiveStartKey", 0, 200,
					 "{\"Items\": [{\"pk\": {\"S\": \"p\"},"
					 " \"sk\": {\"N\": \"2\"}}]}"));
	json_array_append_new(
	    rules, fsenv_rule("Query", NULL, 0, 200,
			      "{\"Items\": [{\"pk\": {\"S\": \"p\"},"
			      " \"sk\": {\"N\": \"1\"}}],"
			      " \"LastEvaluatedKey\": {\"pk\": {\"S\":"
			      " \"p\"}, \"sk\": {\"N\": \"1\"}}}"));
	fs = fsenv_start(&e, rules, 0, 5, MB, NULL);
	CHECK(fs != NULL);
	if (!fs || !resolved(fs, "/Tab/p", &n))
		goto out;
	CHECK_INT(n.kind, NODE_PARTITION);
	CHECK_INT(fs_partition_exists(fs, "/Tab/p", &n), 0);
	CHECK_INT(fakehttp_count(&e.f), 2);
	req = fsenv_request(&e, 1);
	CHECK_STR(
	    json_string_value(json_object_get(req, "KeyConditionExpression")),
	    "#h = :h");
	json_decref(req);
	lst = fs_stash_take(fs, "/Tab/p");
	CHECK(lst && lst->entries->n == 1 && !lst->done);
	CHECK(fs_stash_take(fs, "/Tab/p") == NULL); /* taken once */
	if (lst) {
		CHECK_INT(fs_lister_next_page(lst), 0);
		CHECK(lst->done && lst->entries->n == 2);
	}
	CHECK_INT(fakehttp_count(&e.f), 3);
	fs_node_clear(&n);
	if (resolved(fs, "/Tab/empty", &n)) {
		CHECK_INT(fs_partition_exists(fs, "/Tab/empty", &n), -ENOENT);
		CHECK_INT(fs_partition_exists(fs, "/Tab/empty", &n), -ENOENT);
	}
	CHECK_INT(fakehttp_count(&e.f), 4);
out:
	fs_lister_free(lst);
	fs_node_clear(&n);
	fsenv_stop(&e, fs);
}

/* The file name of {"S": long string} as a hash-only item: shortened. */
static char *long_name(const char *value, enum keyname_kind kind)
{
	json_t *v = json_pack("{ss}", "S", value);
	char *name = NULL;

	CHECK_INT(fs_name_of_value(v, kind, &name), 0);
	json_decref(v);
	return name;
}

/* A shortened name's key is learnt from the listing that shows it: a
 * lookup reads pages only until one does, then needs no request at all. */
static void test_shortened_names(void)
{
	char value[301], path[512], *name, *item;
	json_t *rules = json_array(), *page, *key;
	struct node n = {0};
	struct env e;
	struct fs *fs;

	memset(value, 'x', 300);
	value[300] = '\0';
	name = long_name(value, KEYNAME_HASH_ITEM);
	CHECK(name && strchr(name, '~') && strlen(name) <= 255);
	fsenv_add_describe(rules, "Uni", 'S', 0, 0);
	/* The second page is never asked for. */
	json_array_append_new(
	    rules, fsenv_rule("Scan", "ExclusiveStartKey", 0, 500, "{}"));
	page = json_pack("{s[{s{ss}}{s{ss}}]s{s{ss}}}", "Items", "pk", "S", "a",
			 "pk", "S", value, "LastEvaluatedKey", "pk", "S", "b");
	item = json_dumps(page, JSON_COMPACT);
	json_array_append_new(rules, fsenv_rule("Scan", NULL, 0, 200, item));
	free(item);
	json_decref(page);
	fs = fsenv_start(&e, rules, 0, 5, MB, NULL);
	CHECK(fs != NULL);
	if (!fs || !name)
		goto out;
	snprintf(path, sizeof(path), "/Uni/%s", name);
	if (resolved(fs, path, &n)) {
		CHECK_INT(n.kind, NODE_ITEM);
		key = json_pack("{s{ss}}", "pk", "S", value);
		CHECK(json_equal(n.key, key));
		json_decref(key);
	}
	CHECK_INT(fakehttp_count(&e.f), 2); /* DescribeTable, one Scan */
	fs_node_clear(&n);
	if (resolved(fs, path, &n))
		CHECK_INT(n.kind, NODE_ITEM);
	CHECK_INT(fakehttp_count(&e.f), 2); /* remembered */
	fs_node_clear(&n);
	/* A shortened name no page shows is no item; reading on to the
	 * end fails with the second page's error. */
	snprintf(path, sizeof(path), "/Uni/%s", name);
	path[strlen(path) - 6] = path[strlen(path) - 6] == '0' ? '1' : '0';
	CHECK(fs_resolve(fs, path, &n) != 0);
	CHECK_INT(fakehttp_count(&e.f), 4);
out:
	fs_node_clear(&n);
	free(name);
	fsenv_stop(&e, fs);
}

TAP_MAIN({"root: ListTables page by page, tables= filter", test_root_pages},
	 {"items: Scan pages rendered into the cache", test_item_pages},
	 {"partitions: a full Scan fills every partition", test_partition_fill},
	 {"partitions: a large table is listed by key only",
	  test_no_fill_when_large},
	 {"partition lookup: first page stashed for opendir",
	  test_partition_stash},
	 {"shortened names learnt from the listing", test_shortened_names})
