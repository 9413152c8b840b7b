/* fuzz_page.c - libFuzzer target for listing pages: ddb_page_items, which
 * reads a Query/Scan body one item at a time, must agree with jansson
 * reading the whole body at once; ddb_page_read_raw, which hands on each
 * item's bytes, with ddb_page_read. */
#include "fuzz.h"

#include "ddb.h"

#include <errno.h>
#include <string.h>

struct seen {
	json_t *items;	/* what ddb_page_items handed over, in order */
	size_t stop_at; /* the callback fails at this item (0: never) */
};

static int on_item(json_t *item, void *arg)
{
	struct seen *s = arg;

	if (json_array_append(s->items, item))
		return -ENOMEM;
	if (s->stop_at && json_array_size(s->items) == s->stop_at)
		return -ECANCELED;
	return 0;
}

/* True when some object key in j holds a NUL (ddb_page_items refuses
 * those, as json_loadb does without JSON_ALLOW_NUL for keys). */
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

/* ddb_item_raw_fn: the bytes read back by jansson, as on_item's tree. */
static int on_bytes(const char *json, size_t len, void *arg)
{
	json_t *item = json_loadb(json, len, JSON_ALLOW_NUL, NULL);
	int rc;

	FUZZ_CHECK(json_is_object(item), "bytes of no item: %.*s",
		   len < 300 ? (int)len : 300, json);
	rc = on_item(item, arg);
	json_decref(item);
	return rc;
}

/* The page read both ways: the same return, items and LastEvaluatedKey. */
static void both_reads(const char *body, size_t size)
{
	struct seen t = {json_array(), 0}, b = {json_array(), 0};
	json_t *lt = NULL, *lb = NULL;
	int rt, rb;

	if (!t.items || !b.items)
		goto out;
	rt = ddb_page_read(body, size, on_item, &t, &lt);
	rb = ddb_page_read_raw(body, size, on_bytes, &b, &lb);
	if (rt == -ENOMEM || rb == -ENOMEM)
		goto out;
	FUZZ_CHECK(rt == rb, "read %d, as bytes %d", rt, rb);
	FUZZ_CHECK(json_equal(t.items, b.items), "items differ as bytes");
	FUZZ_CHECK(lt ? lb && json_equal(lt, lb) : !lb,
		   "LastEvaluatedKey differs as bytes");
out:
	json_decref(lt);
	json_decref(lb);
	json_decref(t.items);
	json_decref(b.items);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	struct seen s = {json_array(), 0};
	json_t *rest = NULL, *whole, *items;
	json_error_t jerr;
	bool good;
	int rc;

	if (!s.items)
		return 0;
	rc = ddb_page_items(body, size, on_item, &s, &rest);
	if (rc == -ENOMEM)
		goto out;
	FUZZ_CHECK(rc == 0 || rc == -EBADMSG, "page_items returned %d", rc);
	FUZZ_CHECK(!rc || !rest, "failed page set *rest");

	/* The whole body read at once, duplicates refused: a page is good
	 * when it is an object whose Items, if any, is an array of objects.
	 * Keys must be free of NUL at the top level (the member names). */
	whole = json_loadb(body, size, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES,
			   &jerr);
	items = json_object_get(whole, "Items");
	good = json_is_object(whole) && (!items || json_is_array(items));
	for (size_t i = 0; good && items && i < json_array_size(items); i++)
		good = json_is_object(json_array_get(items, i));
	if (good && nul_key(whole))
		good = false;
	/* A raw NUL byte is never JSON, though jansson skips one after a
	 * number ({"u":0<NUL>}); the page reader must refuse it. */
	if (memchr(body, '\0', size)) {
		FUZZ_CHECK(rc != 0, "took a raw NUL byte: %.300s", body);
		good = false;
	}
	if (good) {
		FUZZ_CHECK(rc == 0, "good page refused (%d): %.300s", rc, body);
		FUZZ_CHECK(json_array_size(s.items) == json_array_size(items),
			   "%zu items of %zu", json_array_size(s.items),
			   json_array_size(items));
		FUZZ_CHECK(!items || json_equal(s.items, items),
			   "items differ");
		json_object_del(whole, "Items");
		FUZZ_CHECK(json_equal(whole, rest), "other members differ");
	} else if (rc == 0) {
		/* Accepted: only because a duplicate member other than
		 * Items was taken with the last one winning, or keys with
		 * NUL deep in an item. */
		json_t *loose = json_loadb(body, size, JSON_ALLOW_NUL, &jerr);

		FUZZ_CHECK(json_is_object(loose),
			   "page_items took what jansson refuses: %.300s",
			   body);
		json_decref(loose);
	}
	json_decref(whole);

	/* A callback's error stops the reading and is returned as is. */
	if (rc == 0 && json_array_size(s.items) > 0) {
		size_t had = json_array_size(s.items);

		json_array_clear(s.items);
		s.stop_at = 1;
		rc = ddb_page_items(body, size, on_item, &s, NULL);
		FUZZ_CHECK(rc == -ECANCELED || rc == -ENOMEM,
			   "callback error became %d (of %zu items)", rc, had);
	}
	both_reads(body, size);
out:
	json_decref(rest);
	json_decref(s.items);
	return 0;
}
