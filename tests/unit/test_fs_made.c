/* test_fs_made.c - the directories the mount made (src/fs_made.c) against
 * fakehttp playing DynamoDB, with the expiry clock moved on by the test:
 * names absent without a request for the cache time, names put since
 * present, one Query of the sort keys renewing an expired partition, the
 * entry dropped for good when that Query fails, and rmdir forgetting. */
#include <errno.h>
#include <jansson.h>
#include <string.h>

#include "fsenv.h"
#include "monotime.h"
#include "tap.h"

#define MB  (64u << 20)
#define TTL 5

/* A filesystem on rules (stolen) with Tab (pk S, sk N) described, and the
 * partition /Tab/p made by this mount just now. */
static struct fs *made_start(struct env *e, json_t *rules)
{
	struct node n = {0};
	struct fs *fs;

	fsenv_add_describe(rules, "Tab", 'S', 'N', 0);
	fs = fsenv_start(e, rules, 0, TTL, MB, NULL);
	CHECK(fs != NULL);
	if (!fs)
		return NULL;
	CHECK_INT(fs_resolve(fs, "/Tab/p", &n), 0);
	CHECK_INT(n.kind, NODE_PARTITION);
	if (n.table)
		fs_created_add(fs, "/Tab/p", n.table, n.key);
	fs_node_clear(&n);
	return fs;
}

static void test_absent_then_noted(void)
{
	struct cache_item ci;
	struct env e;
	struct fs *fs = made_start(&e, json_array());

	if (!fs)
		goto out;
	CHECK(fs_created_says_absent(fs, "/Tab/p/1.json"));
	/* ... and the cache says so too. */
	CHECK_INT(cache_item_get(fs->cache, "/Tab/p/1.json", &ci), 0);
	CHECK(ci.negative);
	fs_created_note(fs, "/Tab/p/2.json");
	CHECK(!fs_created_says_absent(fs, "/Tab/p/2.json"));
	/* Not a directory the mount made. */
	CHECK(!fs_created_says_absent(fs, "/Tab/q/1.json"));
	CHECK_INT(fakehttp_count(&e.f), 1); /* DescribeTable only */
out:
	fsenv_stop(&e, fs);
}

/* After cache_ttl one Query of the partition's sort keys renews what is
 * known: names it returns and names noted are present, others absent. */
static void test_renewal_after_ttl(void)
{
	json_t *rules = json_array(), *req;
	char op[32];
	struct env e;
	struct fs *fs;

	json_array_append_new(
	    rules, fsenv_rule("Query", NULL, 0, 200,
			      "{\"Items\": [{\"sk\": {\"N\": \"3\"}},"
			      " {\"sk\": {\"N\": \"4\"}}]}"));
	fs = made_start(&e, rules);
	if (!fs)
		goto out;
	fs_created_note(fs, "/Tab/p/2.json");
	monotime_advance_s(TTL + 1);
	CHECK(fs_created_says_absent(fs, "/Tab/p/1.json"));
	CHECK_INT(fakehttp_count(&e.f), 2);
	CHECK_STR(fsenv_op(&e, 1, op, sizeof(op)), "Query");
	req = fsenv_request(&e, 1);
	CHECK_STR(
	    json_string_value(json_object_get(req, "ProjectionExpression")),
	    "#r");
	CHECK_STR(json_string_value(json_object_get(
		      json_object_get(req, "ExpressionAttributeNames"), "#r")),
		  "sk");
	json_decref(req);
	CHECK(!fs_created_says_absent(fs, "/Tab/p/2.json"));
	CHECK(!fs_created_says_absent(fs, "/Tab/p/3.json"));
	CHECK(fs_created_says_absent(fs, "/Tab/p/5.json"));
	CHECK_INT(fakehttp_count(&e.f), 2); /* fresh again: no request */
	/* Unused for longer than a cache time past expiry: forgotten, with
	 * no Query (the lookups go back to GetItem). */
	monotime_advance_s(3 * TTL);
	CHECK(!fs_created_says_absent(fs, "/Tab/p/1.json"));
	CHECK_INT(fakehttp_count(&e.f), 2);
out:
	fsenv_stop(&e, fs);
}

/* A renewal that fails drops the entry for good: no Query per lookup. */
static void test_failed_renewal(void)
{
	json_t *rules = json_array();
	struct env e;
	struct fs *fs;

	json_array_append_new(rules, fsenv_rule("Query", NULL, 0, 500, "{}"));
	fs = made_start(&e, rules);
	if (!fs)
		goto out;
	monotime_advance_s(TTL + 1);
	CHECK(!fs_created_says_absent(fs, "/Tab/p/1.json"));
	CHECK_INT(fakehttp_count(&e.f), 2);
	CHECK(!fs_created_says_absent(fs, "/Tab/p/1.json"));
	CHECK_INT(fakehttp_count(&e.f), 2);
out:
	fsenv_stop(&e, fs);
}

/* A table the mount made is never renewed (a Query per table would be a
 * Scan); rmdir forgets a directory and everything below it. */
static void test_table_and_remove(void)
{
	struct env e;
	struct fs *fs = made_start(&e, json_array());

	if (!fs)
		goto out;
	fs_created_add(fs, "/Tab", NULL, NULL);
	CHECK(fs_created_says_absent(fs, "/Tab/p2"));
	fs_created_note(fs, "/Tab/p3/1.json"); /* notes p3 in /Tab too */
	CHECK(!fs_created_says_absent(fs, "/Tab/p3"));
	fs_created_remove(fs, "/Tab");
	CHECK(!fs_created_says_absent(fs, "/Tab/p2"));
	CHECK(!fs_created_says_absent(fs, "/Tab/p/1.json"));
	fs_created_add(fs, "/Tab", NULL, NULL);
	monotime_advance_s(TTL + 1);
	CHECK(!fs_created_says_absent(fs, "/Tab/p2"));
	CHECK_INT(fakehttp_count(&e.f), 1);
out:
	fsenv_stop(&e, fs);
}

TAP_MAIN({"absent for the cache time, present once noted",
	  test_absent_then_noted},
	 {"after cache_ttl one Query renews", test_renewal_after_ttl},
	 {"a failed renewal drops the entry", test_failed_renewal},
	 {"tables are not renewed; rmdir forgets the tree",
	  test_table_and_remove})
