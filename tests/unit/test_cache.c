/* test_cache.c - unit tests of the item and listing cache: freshness,
 * negative entries, the byte bound, LRU order and stable modification times. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "monotime.h"
#include "tap.h"

static void test_put_get(void)
{
	struct cache *c = cache_new(1 << 20, 60);
	struct cache_item ci;

	CHECK_INT(cache_item_get(c, "/t/a.json", &ci), -ENOENT);
	cache_item_put(c, "/t/a.json", "{}\n", 3);
	CHECK_INT(cache_item_get(c, "/t/a.json", &ci), 0);
	CHECK(!ci.negative);
	CHECK_INT(ci.text->len, 3);
	CHECK_STR(ci.text->data, "{}\n");
	cache_blob_unref(ci.text);
	cache_free(c);
}

static void test_negative(void)
{
	struct cache *c = cache_new(1 << 20, 60);
	struct cache_item ci;

	cache_item_put_negative(c, "/t/x.json");
	CHECK_INT(cache_item_get(c, "/t/x.json", &ci), 0);
	CHECK(ci.negative);
	CHECK(ci.text == NULL);
	cache_item_put(c, "/t/x.json", "1", 1);
	CHECK_INT(cache_item_get(c, "/t/x.json", &ci), 0);
	CHECK(!ci.negative);
	cache_blob_unref(ci.text);
	cache_free(c);
}

/* The expiry clock is moved on, not waited for: a ttl that no step of the
 * test can outlast, then the clock past it. */
static void test_expiry(void)
{
	struct cache *c = cache_new(1 << 20, 60);
	struct cache_item ci;

	cache_item_put(c, "/t/a.json", "x", 1);
	CHECK_INT(cache_item_get(c, "/t/a.json", &ci), 0);
	cache_blob_unref(ci.text);
	monotime_advance_s(61);
	CHECK_INT(cache_item_get(c, "/t/a.json", &ci), -ENOENT);
	cache_free(c);
}

/* What the mount last saw, expired or not, for when the server cannot be
 * asked; never a negative entry. The clock is moved on, not waited for. */
static void test_stale(void)
{
	struct cache *c = cache_new(1 << 20, 60);
	struct cache_item ci;

	cache_item_put(c, "/t/a.json", "xy", 2);
	cache_item_put_negative(c, "/t/gone.json");
	CHECK_INT(cache_item_get_stale(c, "/t/a.json", &ci), 0);
	CHECK(ci.text && ci.text->len == 2);
	cache_blob_unref(ci.text);
	monotime_advance_s(120);
	CHECK_INT(cache_item_get(c, "/t/a.json", &ci), -ENOENT);
	CHECK_INT(cache_item_get_stale(c, "/t/a.json", &ci), 0);
	CHECK(ci.text && ci.text->len == 2 &&
	      memcmp(ci.text->data, "xy", 2) == 0);
	CHECK(!ci.negative);
	cache_blob_unref(ci.text);
	CHECK_INT(cache_item_get(c, "/t/gone.json", &ci), -ENOENT);
	CHECK_INT(cache_item_get_stale(c, "/t/gone.json", &ci), -ENOENT);
	CHECK_INT(cache_item_get_stale(c, "/t/never.json", &ci), -ENOENT);
	cache_free(c);
}

/* Modification times are wall-clock seconds on the test clock
 * (monotime_wall_s): moves it past t, so that a new time could differ. */
static void wait_second_after(time_t t)
{
	monotime_advance_s(1);
	CHECK(monotime_wall_s() > t);
}

static void test_ttl_zero_keeps_mtime_only(void)
{
	struct cache *c = cache_new(1 << 20, 0);
	struct cache_item ci;
	time_t m1, m2;

	m1 = cache_item_put(c, "/t/a.json", "x", 1);
	CHECK_INT(cache_item_get(c, "/t/a.json", &ci), -ENOENT);
	wait_second_after(m1);
	m2 = cache_item_put(c, "/t/a.json", "x", 1);
	CHECK_INT(m1, m2);
	CHECK_INT(cache_item_mtime(c, "/t/a.json"), m1);
	cache_free(c);
}

static void test_mtime_moves_with_content(void)
{
	struct cache *c = cache_new(1 << 20, 60);
	time_t m1, m2, m3;

	m1 = cache_item_put(c, "/t/a.json", "one", 3);
	wait_second_after(m1);
	m2 = cache_item_put(c, "/t/a.json", "one", 3);
	m3 = cache_item_put(c, "/t/a.json", "two", 3);
	CHECK_INT(m1, m2);
	CHECK(m3 > m1);
	cache_free(c);
}

static void test_bound_and_lru(void)
{
	char path[64], text[1000];
	struct cache *c = cache_new(64 * 1024, 60);
	struct cache_item ci;
	int hits = 0;

	memset(text, 'x', sizeof(text));
	for (int i = 0; i < 80; i++) {
		snprintf(path, sizeof(path), "/t/%d.json", i);
		cache_item_put(c, path, text, sizeof(text));
		/* keep item 0 recently used */
		if (cache_item_get(c, "/t/0.json", &ci) == 0)
			cache_blob_unref(ci.text);
	}
	CHECK(cache_bytes(c) <= 64 * 1024);
	CHECK_INT(cache_item_get(c, "/t/0.json", &ci), 0);
	cache_blob_unref(ci.text);
	CHECK_INT(cache_item_get(c, "/t/1.json", &ci), -ENOENT);
	for (int i = 0; i < 80; i++) {
		snprintf(path, sizeof(path), "/t/%d.json", i);
		if (cache_item_get(c, path, &ci) == 0) {
			hits++;
			cache_blob_unref(ci.text);
		}
	}
	CHECK(hits > 10 && hits < 70);
	/* evicted text keeps its modification time */
	CHECK(cache_item_mtime(c, "/t/1.json") != 0);
	cache_free(c);
}

static void test_many_entries(void)
{
	struct cache *c = cache_new(64 * 1024, 60);
	size_t empty = cache_bytes(c); /* the hash table */
	char path[64];

	/* Only remembered times, no text: entries go whole past a quarter. */
	for (int i = 0; i < 5000; i++) {
		snprintf(path, sizeof(path), "/t/%d.json", i);
		cache_item_put_negative(c, path);
	}
	CHECK(cache_bytes(c) <= empty + 16 * 1024 + 1024);
	cache_free(c);
}

static void test_listing(void)
{
	struct cache *c = cache_new(1 << 20, 60);
	struct cache_listing *l = cache_listing_new(), *got;

	for (int i = 0; i < 100; i++) {
		char name[16];
		snprintf(name, sizeof(name), "%d.json", i);
		CHECK_INT(cache_listing_add(l, name, false), 0);
	}
	CHECK_INT(cache_listing_add(l, "part", true), 0);
	cache_dir_put(c, "/t", l);
	cache_listing_unref(l);
	got = cache_dir_get(c, "/t");
	CHECK(got != NULL);
	if (got) {
		CHECK_INT(got->n, 101);
		CHECK_STR(got->entries[42].name, "42.json");
		CHECK(got->entries[100].is_dir);
		cache_listing_unref(got);
	}
	cache_forget_tree(c, "/t");
	CHECK(cache_dir_get(c, "/t") == NULL);
	cache_free(c);
}

static void test_heap_size(void)
{
	CHECK_INT(cache_heap_size(0), 32);
	CHECK_INT(cache_heap_size(24), 32);
	CHECK_INT(cache_heap_size(25), 48);
	CHECK_INT(cache_heap_size(1000), 1008);
}

/* What the cache counts is the heap it holds: a blob's header and malloc's
 * own, a listing's array and names; and all of it is given back. */
static void test_counts_heap(void)
{
	struct cache *c = cache_new(64 << 20, 60);
	size_t empty = cache_bytes(c), one;
	struct cache_listing *l = cache_listing_new(), *got;
	char name[400], longname[400];
	size_t names = 0;
	int failed = 0;

	CHECK(empty >= 1024 * sizeof(void *));
	cache_item_put(c, "/t/a.json", "x", 1);
	one = cache_bytes(c) - empty;
	/* entry, path, blob: three blocks of at least 32 bytes */
	CHECK(one >= 3 * 32);
	/* 100,000 short names, and some longer than a name block */
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	for (int i = 0; i < 100000; i++) {
		if (i % 10000 == 0)
			strcpy(name, longname);
		else
			snprintf(name, sizeof(name), "k%06d", i);
		names += strlen(name) + 1;
		if (cache_listing_add(l, name, i % 2 == 0) != 0)
			failed++;
	}
	CHECK_INT(failed, 0);
	/* the array (rounded up to 131,072 entries) and the names */
	CHECK(l->bytes >= 131072 * sizeof(struct cache_dirent) + names);
	CHECK(l->bytes <=
	      131072 * sizeof(struct cache_dirent) + names + 128 * 1024);
	cache_dir_put(c, "/t", l);
	/* and its entry */
	CHECK(cache_bytes(c) >= empty + one + l->bytes + 32);
	CHECK(cache_bytes(c) <= empty + one + l->bytes + 256);
	got = cache_dir_get(c, "/t");
	CHECK(got == l);
	if (got) {
		CHECK_INT(got->n, 100000);
		CHECK_STR(got->entries[0].name, longname);
		CHECK_STR(got->entries[90000].name, longname);
		CHECK_STR(got->entries[12345].name, "k012345");
		CHECK(!got->entries[99999].is_dir);
		cache_listing_unref(got);
	}
	cache_listing_unref(l);
	cache_forget(c, "/t");
	cache_forget(c, "/t/a.json");
	/* the two entries (remembered times) stay, their payloads went */
	CHECK(cache_bytes(c) <= empty + 2 * 256);
	cache_free(c);
}

static void test_forget_tree(void)
{
	struct cache *c = cache_new(1 << 20, 60);
	struct cache_item ci;

	cache_item_put(c, "/t/p/a.json", "a", 1);
	cache_item_put(c, "/t2/a.json", "a", 1);
	cache_forget_tree(c, "/t");
	CHECK_INT(cache_item_get(c, "/t/p/a.json", &ci), -ENOENT);
	CHECK_INT(cache_item_get(c, "/t2/a.json", &ci), 0);
	cache_blob_unref(ci.text);
	cache_forget(c, "/t2/a.json");
	CHECK_INT(cache_item_get(c, "/t2/a.json", &ci), -ENOENT);
	cache_free(c);
}

/* The reference SipHash-2-4 vectors (key 00..0f, message 00..n-1), and the
 * content hash being keyed: blobs of equal bytes hash alike, others not. */
static void test_siphash(void)
{
	static const uint64_t key[2] = {0x0706050403020100ULL,
					0x0f0e0d0c0b0a0908ULL};
	static const struct {
		size_t len;
		uint64_t want;
	} cases[] = {
	    {0, 0x726fdb47dd0e0e31ULL},	 {1, 0x74f839c593dc67fdULL},
	    {7, 0xab0200f58b01d137ULL},	 {8, 0x93f5f5799a932462ULL},
	    {15, 0xa129ca6149be45e5ULL}, {63, 0x958a324ceb064572ULL},
	};
	unsigned char msg[64];
	struct cache_blob *a, *b, *c;

	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)i;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		CHECK(cache_siphash(key, msg, cases[i].len) == cases[i].want);
	a = cache_blob_new("{\"a\": 1}", 8);
	b = cache_blob_new("{\"a\": 1}", 8);
	c = cache_blob_new("{\"a\": 2}", 8);
	CHECK(a->hash == b->hash);
	CHECK(a->hash != c->hash);
	CHECK(a->hash != cache_siphash(key, a->data, a->len));
	cache_blob_unref(a);
	cache_blob_unref(b);
	cache_blob_unref(c);
}

TAP_MAIN(
    {"SipHash-2-4 and the keyed content hash", test_siphash},
    {"put then get", test_put_get}, {"negative entries", test_negative},
    {"entries expire after the ttl", test_expiry},
    {"stale entries for when the server cannot be asked", test_stale},
    {"ttl 0 serves nothing but keeps mtimes", test_ttl_zero_keeps_mtime_only},
    {"mtime moves only when content changes", test_mtime_moves_with_content},
    {"byte bound and LRU order", test_bound_and_lru},
    {"entries themselves are bounded", test_many_entries},
    {"directory listings", test_listing}, {"heap block sizes", test_heap_size},
    {"the bound counts the heap held", test_counts_heap},
    {"forget and forget_tree", test_forget_tree})
