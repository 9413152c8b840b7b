/* test_shortname.c - unit tests of the shortened-name map: lookups,
 * replacement, the bound and which names it drops, threads. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "shortname.h"
#include "tap.h"

static json_t *key_of(void)
{
	return json_pack("{s{ss}}", "id", "S", "k");
}

static void path_of(char *buf, size_t len, unsigned i)
{
	snprintf(buf, len, "/T/%08u~0123456789abcdef.json", i);
}

static void test_put_get(void)
{
	struct shortname_map *m = NULL;
	json_t *k1 = json_pack("{s{ss}}", "id", "S", "one");
	json_t *k2 = json_pack("{s{ss}}", "id", "N", "2");
	json_t *got;

	CHECK_INT(shortname_map_new(0, &m), -EINVAL);
	CHECK(m == NULL);
	CHECK_INT(shortname_map_new(4, &m), 0);
	CHECK(shortname_map_get(m, "/T/a~x.json") == NULL);
	CHECK_INT(shortname_map_put(m, "/T/a~x.json", k1), 0);
	CHECK_INT(shortname_map_put(m, "/T/b~y.json", k2), 0);
	got = shortname_map_get(m, "/T/a~x.json");
	CHECK(got && json_equal(got, k1));
	CHECK(got != k1); /* a copy, so the caller's key may change */
	json_decref(got);
	/* put again: replaced, not added */
	CHECK_INT(shortname_map_put(m, "/T/a~x.json", k2), 0);
	CHECK_INT(shortname_map_count(m), 2);
	got = shortname_map_get(m, "/T/a~x.json");
	CHECK(got && json_equal(got, k2));
	json_decref(got);
	CHECK(shortname_map_get(m, "/T/a~x.jso") == NULL);
	CHECK(shortname_map_get(m, "") == NULL);
	shortname_map_free(m);
	shortname_map_free(NULL);
	json_decref(k1);
	json_decref(k2);
}

/* Many more names than the bound: the count stays at the bound, the newest
 * are kept, a name used lately outlives older ones. */
static void test_bound(void)
{
	struct shortname_map *m = NULL;
	json_t *k = key_of();
	char p[64];
	json_t *got;
	unsigned found = 0;

	CHECK_INT(shortname_map_new(1000, &m), 0);
	for (unsigned i = 0; i < 100000; i++) {
		path_of(p, sizeof(p), i);
		CHECK_INT(shortname_map_put(m, p, k), 0);
		/* name 4500, used now and then, stays */
		if (i >= 4500 && i % 100 == 0) {
			path_of(p, sizeof(p), 4500);
			json_decref(shortname_map_get(m, p));
		}
		if (shortname_map_count(m) > 1000) {
			CHECK(!"over the bound");
			break;
		}
	}
	CHECK_INT(shortname_map_count(m), 1000);
	for (unsigned i = 0; i < 100000; i++) {
		path_of(p, sizeof(p), i);
		got = shortname_map_get(m, p);
		if (got)
			found++;
		json_decref(got);
		if (i >= 99001 && !got)
			CHECK(!"a newest name was dropped");
		if (i < 99000 && i != 4500 && got)
			CHECK(!"an old name was kept");
	}
	CHECK_INT(found, 1000);
	path_of(p, sizeof(p), 4500);
	got = shortname_map_get(m, p);
	CHECK(got != NULL);
	json_decref(got);
	shortname_map_free(m);
	json_decref(k);
}

struct worker {
	struct shortname_map *m;
	unsigned base;
	int bad;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	json_t *k = json_pack("{s{si}}", "id", "n", (int)w->base);
	char p[64];

	for (unsigned i = 0; i < 20000; i++) {
		path_of(p, sizeof(p), w->base + i % 300);
		if (shortname_map_put(w->m, p, k))
			w->bad++;
		json_t *got = shortname_map_get(w->m, p);
		/* may have been dropped by another thread; never wrong */
		if (got && !json_is_object(got))
			w->bad++;
		json_decref(got);
	}
	json_decref(k);
	return NULL;
}

static void test_threads(void)
{
	struct shortname_map *m = NULL;
	struct worker w[4];
	pthread_t t[4];

	CHECK_INT(shortname_map_new(500, &m), 0);
	for (unsigned i = 0; i < 4; i++) {
		w[i] = (struct worker){m, i * 1000, 0};
		pthread_create(&t[i], NULL, work, &w[i]);
	}
	for (unsigned i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK_INT(w[i].bad, 0);
	}
	CHECK(shortname_map_count(m) <= 500);
	shortname_map_free(m);
}

TAP_MAIN({"put, get, replace", test_put_get},
	 {"the bound keeps the newest and the recently used", test_bound},
	 {"threads", test_threads})
