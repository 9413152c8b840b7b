/* test_pathmap.c - unit tests of the intrusive path hash map: find, insert,
 * remove in every place of a chain, growth, forced hash collisions, walking. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pathmap.h"
#include "tap.h"

/* A caller's struct with the node in the middle, as neither caller has it
 * first, so pathmap_entry is tested with a real offset. */
struct item {
	int id;
	struct pathmap_node key;
	int seen;
};

static void item_set(struct item *it, int id, const char *path)
{
	memset(it, 0, sizeof(*it));
	it->id = id;
	it->key.path = (char *)path;
	it->key.len = strlen(path);
	it->key.hash = pathmap_hash(path, it->key.len);
}

/* The id of path's item in m, or -1. */
static int find_id(const struct pathmap *m, const char *path)
{
	size_t len = strlen(path);
	struct pathmap_node *n =
	    pathmap_find(m, path, len, pathmap_hash(path, len));

	return n ? pathmap_entry(n, struct item, key)->id : -1;
}

/* How many nodes a walk visits. */
static size_t walk_count(const struct pathmap *m)
{
	size_t k = 0;

	for (struct pathmap_node *n = pathmap_next(m, NULL); n;
	     n = pathmap_next(m, n))
		k++;
	return k;
}

static void test_hash(void)
{
	/* FNV-1a 64 test vectors; cache.c's content hashes depend on them. */
	static const struct {
		const char *in;
		uint64_t out;
	} cases[] = {
	    {"", 0xcbf29ce484222325ULL},
	    {"a", 0xaf63dc4c8601ec8cULL},
	    {"foobar", 0x85944171f73967e8ULL},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK(pathmap_hash(cases[i].in, strlen(cases[i].in)) ==
		      cases[i].out);
}

static void test_empty(void)
{
	struct pathmap m;

	CHECK_INT(pathmap_init(&m, 16), 0);
	CHECK_INT(m.n, 0);
	CHECK_INT(pathmap_bucket_bytes(&m), 16 * sizeof(void *));
	CHECK_INT(find_id(&m, "/t/a"), -1);
	CHECK_INT(find_id(&m, ""), -1);
	CHECK(pathmap_next(&m, NULL) == NULL);
	pathmap_free(&m);
	CHECK(m.buckets == NULL);
	CHECK_INT(pathmap_bucket_bytes(&m), 0);
	pathmap_free(&m); /* a zeroed map is fine */
}

static void test_insert_find_remove(void)
{
	static const char *const paths[] = {
	    "/t", "/t/a.json", "/t/b.json", "/u/a.json", "/t/.a.swp",
	};
	enum { N = sizeof(paths) / sizeof(paths[0]) };
	/* Each step removes one path; then every path is looked up. */
	static const int removals[] = {1, 4, 0, 3, 2};
	struct item items[N];
	bool gone[N] = {false};
	struct pathmap m;

	CHECK_INT(pathmap_init(&m, 64), 0);
	for (int i = 0; i < N; i++) {
		item_set(&items[i], i, paths[i]);
		pathmap_insert(&m, &items[i].key);
	}
	CHECK_INT(m.n, N);
	CHECK_INT(walk_count(&m), N);
	CHECK_INT(find_id(&m, "/t/c.json"), -1);
	for (int r = 0; r < N; r++) {
		int k = removals[r];
		pathmap_remove(&m, &items[k].key);
		gone[k] = true;
		CHECK_INT(m.n, N - r - 1);
		CHECK_INT(walk_count(&m), N - r - 1);
		for (int i = 0; i < N; i++)
			CHECK_INT(find_id(&m, paths[i]), gone[i] ? -1 : i);
	}
	/* A removed node goes back in. */
	pathmap_insert(&m, &items[2].key);
	CHECK_INT(find_id(&m, paths[2]), 2);
	pathmap_free(&m);
}

static void test_growth(void)
{
	enum { N = 3000 };
	struct item *items = calloc(N, sizeof(*items));
	char(*paths)[32] = calloc(N, sizeof(*paths));
	struct pathmap m;
	int missing = 0, wrong = 0, seen_twice = 0, unseen = 0;

	if (!items || !paths) {
		CHECK(!"out of memory");
		goto out;
	}
	CHECK_INT(pathmap_init(&m, 4), 0);
	for (int i = 0; i < N; i++) {
		snprintf(paths[i], sizeof(paths[i]), "/t/%d.json", i);
		item_set(&items[i], i, paths[i]);
		pathmap_insert(&m, &items[i].key);
		/* Doubles just before the load would pass one. */
		if (m.n > m.n_buckets)
			wrong++;
	}
	CHECK_INT(wrong, 0);
	/* 4 -> 8 -> ... -> 4096: ten growths */
	CHECK_INT(m.n_buckets, 4096);
	CHECK_INT(pathmap_bucket_bytes(&m), 4096 * sizeof(void *));
	for (int i = 0; i < N; i++)
		if (find_id(&m, paths[i]) != i)
			missing++;
	CHECK_INT(missing, 0);
	for (struct pathmap_node *n = pathmap_next(&m, NULL); n;
	     n = pathmap_next(&m, n))
		pathmap_entry(n, struct item, key)->seen++;
	for (int i = 0; i < N; i++) {
		if (items[i].seen == 0)
			unseen++;
		if (items[i].seen > 1)
			seen_twice++;
	}
	CHECK_INT(unseen, 0);
	CHECK_INT(seen_twice, 0);
	/* Every other one out, then the rest; the table never shrinks. */
	for (int i = 0; i < N; i += 2)
		pathmap_remove(&m, &items[i].key);
	CHECK_INT(m.n, N / 2);
	CHECK_INT(walk_count(&m), N / 2);
	missing = 0;
	for (int i = 0; i < N; i++)
		if (find_id(&m, paths[i]) != (i % 2 ? i : -1))
			missing++;
	CHECK_INT(missing, 0);
	for (int i = 1; i < N; i += 2)
		pathmap_remove(&m, &items[i].key);
	CHECK_INT(m.n, 0);
	CHECK(pathmap_next(&m, NULL) == NULL);
	CHECK_INT(m.n_buckets, 4096);
	pathmap_free(&m);
out:
	free(items);
	free(paths);
}

/* Every node gets the same hash, so one chain holds them all and only the
 * compare of length and bytes tells them apart. */
static void test_same_hash(void)
{
	static const char *const paths[] = {
	    "/t/x", "/t/y", "/t/xy", "/t/x/", "/t/X", "",
	};
	enum { N = sizeof(paths) / sizeof(paths[0]) };
	static const struct {
		const char *path;
		size_t len; /* of path, the rest not compared */
		int id;
	} cases[] = {
	    {"/t/x", 4, 0},    {"/t/y", 4, 1},	 {"/t/xy", 5, 2},
	    {"/t/x/", 5, 3},   {"/t/X", 4, 4},	 {"", 0, 5},
	    {"/t/z", 4, -1},   {"/t/", 3, -1},	 {"/t/x/a", 6, -1},
	    {"/t/xyz", 3, -1}, {"/t/xyz", 4, 0}, {"/t/xyz", 5, 2},
	};
	struct item items[N];
	struct pathmap m;

	CHECK_INT(pathmap_init(&m, 64), 0);
	for (int i = 0; i < N; i++) {
		item_set(&items[i], i, paths[i]);
		items[i].key.hash = 42;
		pathmap_insert(&m, &items[i].key);
	}
	CHECK(m.buckets[42] != NULL);
	CHECK_INT(walk_count(&m), N);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pathmap_node *n =
		    pathmap_find(&m, cases[i].path, cases[i].len, 42);
		int id = n ? pathmap_entry(n, struct item, key)->id : -1;
		if (id != cases[i].id)
			printf("#   \"%.*s\": %d\n", (int)cases[i].len,
			       cases[i].path, id);
		CHECK_INT(id, cases[i].id);
	}
	/* The right path with another hash is another bucket's business. */
	CHECK(pathmap_find(&m, "/t/x", 4, 43) == NULL);
	pathmap_free(&m);
}

/* Three nodes in one chain (inserted 0, 1, 2, so the chain runs 2, 1, 0);
 * each case takes one out. */
static void test_remove_in_chain(void)
{
	static const struct {
		const char *name;
		int remove;
	} cases[] = {
	    {"head", 2},
	    {"middle", 1},
	    {"tail", 0},
	};
	static const char *const paths[] = {"/t/a", "/t/b", "/t/c"};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct item items[3];
		struct pathmap m;
		int left[3], k = 0;

		printf("# %s\n", cases[c].name);
		CHECK_INT(pathmap_init(&m, 8), 0);
		for (int i = 0; i < 3; i++) {
			item_set(&items[i], i, paths[i]);
			items[i].key.hash = 5; /* one bucket */
			pathmap_insert(&m, &items[i].key);
		}
		CHECK(m.buckets[5] == &items[2].key);
		pathmap_remove(&m, &items[cases[c].remove].key);
		CHECK_INT(m.n, 2);
		for (int i = 0; i < 3; i++) {
			struct pathmap_node *n =
			    pathmap_find(&m, paths[i], 4, 5);
			CHECK(n ==
			      (i == cases[c].remove ? NULL : &items[i].key));
		}
		/* The chain that is left, in order, skips the removed one. */
		for (struct pathmap_node *n = m.buckets[5]; n && k < 3;
		     n = n->next)
			left[k++] = pathmap_entry(n, struct item, key)->id;
		CHECK_INT(k, 2);
		for (int i = 2, j = 0; i >= 0; i--) {
			if (i == cases[c].remove)
				continue;
			if (j < k)
				CHECK_INT(left[j], i);
			j++;
		}
		pathmap_free(&m);
	}
}

/* Paths that are prefixes of each other, with real hashes. */
static void test_prefixes(void)
{
	static const char *const paths[] = {
	    "/t", "/t/", "/t/a", "/t/ab", "/t/a/b", "/tt", "/t/a/b/c",
	};
	enum { N = sizeof(paths) / sizeof(paths[0]) };
	static const struct {
		const char *path;
		int id;
	} cases[] = {
	    {"/t", 0},	   {"/t/", 1},	   {"/t/a", 2},	    {"/t/ab", 3},
	    {"/t/a/b", 4}, {"/tt", 5},	   {"/t/a/b/c", 6}, {"/", -1},
	    {"/t/a/", -1}, {"/t/abc", -1}, {"/t/a/b/", -1}, {"t", -1},
	};
	struct item items[N];
	struct pathmap m;

	CHECK_INT(pathmap_init(&m, 2), 0);
	for (int i = 0; i < N; i++) {
		item_set(&items[i], i, paths[i]);
		pathmap_insert(&m, &items[i].key);
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int id = find_id(&m, cases[i].path);
		if (id != cases[i].id)
			printf("#   \"%s\": %d\n", cases[i].path, id);
		CHECK_INT(id, cases[i].id);
	}
	/* A longer buffer, compared only up to len. */
	CHECK(pathmap_find(&m, "/t/ab", 4, pathmap_hash("/t/a", 4)) ==
	      &items[2].key);
	pathmap_remove(&m, &items[2].key);
	CHECK_INT(find_id(&m, "/t/a"), -1);
	CHECK_INT(find_id(&m, "/t/ab"), 3);
	CHECK_INT(find_id(&m, "/t/a/b"), 4);
	pathmap_free(&m);
}

TAP_MAIN({"FNV-1a vectors", test_hash}, {"empty map", test_empty},
	 {"insert, find, remove", test_insert_find_remove},
	 {"many entries through several growths", test_growth},
	 {"same hash, different paths", test_same_hash},
	 {"remove head, middle, tail of a chain", test_remove_in_chain},
	 {"paths that are prefixes of each other", test_prefixes})
