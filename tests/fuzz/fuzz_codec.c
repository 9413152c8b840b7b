/* fuzz_codec.c - libFuzzer target for the item codec: whatever codec_parse
 * accepts must render, re-parse to the same text in both formats, hold only
 * numbers the key-name module (and so the server) accepts, and take any key
 * keyname names. */
#include "fuzz.h"

#include "codec.h"
#include "keyname.h"

#include <errno.h>
#include <string.h>

/* The first input byte picks the format and the schema; the rest is the
 * file text. */
static const struct codec_schema schemas[] = {
    {"pk", 'S', "sk", 'S'},
    {"id", 'N', NULL, 0},
    {"b", 'B', "n", 'N'},
};

static void check_number(const char *text)
{
	char *canon = NULL;
	int rc = keyname_encoding(KEYNAME_N, text, strlen(text), &canon, NULL);

	if (rc == -ENOMEM)
		return;
	/* One grammar: what passes the codec's check is a number the
	 * server takes, with the value the codec compares by. */
	FUZZ_CHECK(rc == 0, "codec took N \"%.80s\", keyname refused it (%d)",
		   text, rc);
	FUZZ_CHECK(codec_number_compare(text, canon) == 0,
		   "\"%.80s\" and its canonical \"%.80s\" compare unequal",
		   text, canon);
	FUZZ_CHECK(codec_number_check(canon, NULL) == 0,
		   "canonical \"%.80s\" refused by the codec", canon);
	free(canon);
}

/* Checks every number in a wire attribute value (or item, when top). */
static void walk(const json_t *v, int top)
{
	const char *k;
	json_t *m;
	size_t i;

	if (top) {
		json_object_foreach((json_t *)v, k, m) walk(m, 0);
		return;
	}
	if ((m = json_object_get(v, "N")))
		check_number(json_string_value(m));
	else if ((m = json_object_get(v, "NS")))
		for (i = 0; i < json_array_size(m); i++)
			check_number(json_string_value(json_array_get(m, i)));
	else if ((m = json_object_get(v, "L")))
		for (i = 0; i < json_array_size(m); i++)
			walk(json_array_get(m, i), 0);
	else if ((m = json_object_get(v, "M")))
		walk(m, 1);
}

static enum keyname_type ktype(char t)
{
	return t == 'N' ? KEYNAME_N : t == 'B' ? KEYNAME_B : KEYNAME_S;
}

/* Reads the key attribute name of item the way a path names it: keyname
 * must take the value and give it a file name of kind. Returns the
 * attribute value as keyname builds it from that name (new reference), or
 * NULL when keyname has no name for it. */
static json_t *path_value(const json_t *item, const char *name, char type,
			  enum keyname_kind kind)
{
	struct keyname_key k = {0}, back = {0};
	char *file = NULL;
	json_t *v = NULL;
	int rc;

	if (keyname_key_from_json(json_object_get(item, name), &k) ||
	    k.type != ktype(type) ||
	    keyname_encode(kind, k.type, k.value, k.len, &file))
		goto out;
	rc = keyname_decode(file, kind, k.type, &back);
	if (rc == -ENAMETOOLONG) /* found by a prefix search: same value */
		rc = keyname_key_to_json(k.type, k.value, k.len, &v);
	else if (rc == 0)
		rc = keyname_key_to_json(back.type, back.value, back.len, &v);
	FUZZ_CHECK(rc == 0 || rc == -ENOMEM, "named key: %d", rc);
out:
	keyname_key_free(&k);
	keyname_key_free(&back);
	free(file);
	return v;
}

/* When keyname names the item's key, the codec takes the key that name
 * stands for as the item's own (codec_apply_key): the two modules agree on
 * key types, emptiness, lengths and number values. */
static void check_key(const json_t *item, const struct codec_schema *s)
{
	json_t *path_key = json_object(), *hv, *rv = NULL, *copy = NULL;
	struct codec_error err;
	int rc;

	if (!path_key)
		return;
	hv = path_value(item, s->hash_name, s->hash_type,
			s->range_name ? KEYNAME_PARTITION : KEYNAME_HASH_ITEM);
	if (s->range_name)
		rv = path_value(item, s->range_name, s->range_type,
				KEYNAME_RANGE_ITEM);
	if (!hv || (s->range_name && !rv))
		goto out;
	if (json_object_set(path_key, s->hash_name, hv) ||
	    (rv && json_object_set(path_key, s->range_name, rv)))
		goto out;
	copy = json_deep_copy(item);
	if (!copy)
		goto out;
	memset(&err, 0, sizeof(err));
	rc = codec_apply_key(copy, s, path_key, &err);
	FUZZ_CHECK(rc == 0 || rc == -EFBIG || rc == -ENOMEM,
		   "keyname names the key, codec_apply_key refuses it (%d): %s",
		   rc, err.message);
	FUZZ_CHECK(rc || json_object_size(copy) == json_object_size(item),
		   "apply_key added an attribute the item had");
out:
	json_decref(hv);
	json_decref(rv);
	json_decref(copy);
	json_decref(path_key);
}

/* Renders item in f, parses that back and renders it again: the two texts
 * must be the same bytes. Returns the first text (caller frees) or NULL
 * when memory ran out. */
static char *round_trip(const json_t *item, const struct codec_schema *s,
			enum codec_format f, size_t *len)
{
	char *t1 = NULL, *t2 = NULL;
	size_t l1 = 0, l2 = 0;
	json_t *again = NULL;
	struct codec_error err;
	int rc;

	rc = codec_render(item, s, f, &t1, &l1);
	if (rc == -ENOMEM)
		return NULL;
	FUZZ_CHECK(rc == 0, "render (format %d) of a parsed item: %d", f, rc);
	rc = codec_parse(t1, l1, f, &again, &err);
	if (rc == -ENOMEM)
		goto out;
	FUZZ_CHECK(rc == 0, "rendered text does not parse (%d): %s\n%.400s", rc,
		   err.message, t1);
	rc = codec_render(again, s, f, &t2, &l2);
	if (rc == -ENOMEM)
		goto out;
	FUZZ_CHECK(rc == 0, "second render: %d", rc);
	FUZZ_CHECK(l1 == l2 && memcmp(t1, t2, l1) == 0,
		   "render is not stable:\n%.400s\n---\n%.400s", t1, t2);
	*len = l1;
out:
	free(t2);
	json_decref(again);
	return t1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct codec_schema *s;
	enum codec_format f, g;
	struct codec_error err;
	json_t *item = NULL, *other = NULL;
	char *t = NULL, *u = NULL, *v = NULL;
	size_t tl = 0, ul = 0, vl = 0, sz1, sz2;
	int rc;

	if (size < 1)
		return 0;
	f = data[0] & 1 ? CODEC_DDB : CODEC_PLAIN;
	g = f == CODEC_DDB ? CODEC_PLAIN : CODEC_DDB;
	s = data[0] & 6 ? &schemas[((data[0] >> 1) & 3) % 3] : NULL;
	memset(&err, 0, sizeof(err));
	rc = codec_parse((const char *)data + 1, size - 1, f, &item, &err);
	if (rc) {
		FUZZ_CHECK(rc == -EINVAL || rc == -EFBIG || rc == -ENOMEM,
			   "parse returned %d", rc);
		FUZZ_CHECK(!item, "parse failed but set *item");
		FUZZ_CHECK(rc == -ENOMEM || err.message[0],
			   "parse failed (%d) without a message", rc);
		return 0;
	}
	walk(item, 1);
	if (s)
		check_key(item, s);
	rc = codec_item_size(item, &sz1);
	FUZZ_CHECK(rc == 0 && sz1 <= CODEC_ITEM_MAX, "size %d %zu", rc, sz1);

	t = round_trip(item, s, f, &tl);
	if (!t)
		goto out;
	/* The other format holds the same item: through it and back gives
	 * the same text. */
	u = round_trip(item, s, g, &ul);
	if (!u)
		goto out;
	rc = codec_parse(u, ul, g, &other, &err);
	if (rc == -ENOMEM)
		goto out;
	FUZZ_CHECK(rc == 0, "other format does not parse: %s", err.message);
	rc = codec_item_size(other, &sz2);
	FUZZ_CHECK(rc == 0 && sz1 == sz2, "size changed %zu -> %zu", sz1, sz2);
	/* Compared as plain text, which writes each number one way (DynamoDB
	 * JSON keeps ".5" as written; plain makes it 0.5). */
	free(t);
	t = NULL;
	rc = codec_render(item, s, CODEC_PLAIN, &t, &tl);
	if (rc == -ENOMEM)
		goto out;
	FUZZ_CHECK(rc == 0, "plain render %d", rc);
	rc = codec_render(other, s, CODEC_PLAIN, &v, &vl);
	if (rc == -ENOMEM)
		goto out;
	FUZZ_CHECK(rc == 0 && vl == tl && memcmp(t, v, tl) == 0,
		   "format %d -> %d changed the item:\n%.400s\n---\n%.400s", f,
		   g, t, v ? v : "");
out:
	free(t);
	free(u);
	free(v);
	json_decref(item);
	json_decref(other);
	return 0;
}
