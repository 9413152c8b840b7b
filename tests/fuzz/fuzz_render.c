/* fuzz_render.c - libFuzzer target for the raw item renderer: whatever the
 * bytes, codec_render_member must give codec_render's text (or error) for
 * the tree json_loadb makes of them, in both formats; and the readers of a
 * page's item bytes (codec_json_span, codec_render_keyed,
 * codec_render_raw_line) must agree with jansson and codec_render(_line)
 * wherever they take the bytes. */
#include "fuzz.h"

#include "codec.h"
#include "dynbuf.h"

#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <string.h>

/* The first input byte picks the format and the schema; the rest is a
 * GetItem answer, or (odd bytes) one item's text, wrapped in one. */
static const struct codec_schema schemas[] = {
    {"pk", 'S', "sk", 'S'},
    {"id", 'N', NULL, 0},
    {"b", 'B', "n", 'N'},
};

static int tree(const char *body, size_t len, const struct codec_schema *s,
		enum codec_format f, char **t, size_t *n)
{
	json_t *doc = json_loadb(body, len, JSON_ALLOW_NUL, NULL);
	json_t *it = json_object_get(doc, "Item");
	int rc;

	*t = NULL;
	*n = 0;
	if (!json_is_object(doc))
		rc = -EBADMSG;
	else if (!json_is_object(it))
		rc = -ENOENT;
	else
		rc = codec_render(it, s, f, t, n);
	json_decref(doc);
	return rc;
}

/* Whether both key values agree with the tree's (NULL for NULL). */
static bool same_key(const json_t *got, const json_t *tree_item,
		     const char *name)
{
	json_t *want = name ? json_object_get(tree_item, name) : NULL;

	return want ? got && json_equal(got, want) : !got;
}

/* The item readers of a page over the len bytes at p. */
static void item_bytes(const char *p, size_t len, const struct codec_schema *s,
		       enum codec_format f)
{
	json_error_t jerr;
	json_t *one = json_loadb(
	    p, len, JSON_ALLOW_NUL | JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY,
	    &jerr);
	json_t *item = json_loadb(p, len, JSON_ALLOW_NUL, NULL);
	json_t *h = NULL, *g = NULL;
	struct dynbuf l1 = {0}, l2 = {0};
	char *t1 = NULL, *t2 = NULL;
	size_t used = 0, n1 = 0, n2 = 0;
	int rc, shown = len < 300 ? (int)len : 300; /* p has no NUL */

	/* What the span takes, jansson takes, to the same byte. */
	rc = codec_json_span(p, len, &used);
	FUZZ_CHECK(rc == 0 || rc == -ENOTSUP || rc == -ENOMEM, "span rc %d",
		   rc);
	FUZZ_CHECK(rc || (one && (size_t)jerr.position == used),
		   "span %zu, jansson %d: %.*s", used, one ? jerr.position : -1,
		   shown, p);

	rc = codec_render_keyed(p, len, s, f, &h, &g, &t2, &n2);
	if (rc == 0) {
		FUZZ_CHECK(json_is_object(item), "keyed took no item: %.*s",
			   shown, p);
		FUZZ_CHECK(same_key(h, item, s->hash_name) &&
			       same_key(g, item, s->range_name),
			   "keys differ: %.*s", shown, p);
		FUZZ_CHECK(codec_render(item, s, f, &t1, &n1) == 0 &&
			       n1 == n2 && memcmp(t1, t2, n1) == 0,
			   "keyed text differs: %.*s", shown, p);
	} else {
		FUZZ_CHECK(rc == -ENOTSUP || rc == -ENOMEM, "keyed rc %d", rc);
		FUZZ_CHECK(!h && !g && !t2, "keyed error with results");
	}
	json_decref(h);
	json_decref(g);
	free(t1);
	free(t2);

	rc = codec_render_raw_line(p, len, s, f, &l2);
	if (rc == 0) {
		FUZZ_CHECK(json_is_object(item) &&
			       codec_render_line(item, s, f, &l1) == 0 &&
			       l1.len == l2.len &&
			       memcmp(l1.p, l2.p, l1.len) == 0,
			   "lines differ: %.*s", shown, p);
	} else {
		FUZZ_CHECK(rc == -ENOTSUP || rc == -ENOMEM, "line rc %d", rc);
		FUZZ_CHECK(l2.len == 0, "line error with text");
	}
	dynbuf_free(&l1);
	dynbuf_free(&l2);
	json_decref(one);
	json_decref(item);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct codec_schema *s;
	enum codec_format f;
	char *body, *t1 = NULL, *t2 = NULL;
	size_t len, n1 = 0, n2 = 0;
	int rc1, rc2;

	if (size < 1)
		return 0;
	s = &schemas[data[0] % 3];
	f = (data[0] >> 2) & 1 ? CODEC_DDB : CODEC_PLAIN;
	body = malloc(size + 16);
	if (!body)
		return 0;
	if (data[0] & 0x80) {
		memcpy(body, "{\"Item\":", 8);
		memcpy(body + 8, data + 1, size - 1);
		memcpy(body + 8 + size - 1, "}", 1);
		len = size + 8;
	} else {
		memcpy(body, data + 1, size - 1);
		len = size - 1;
	}
	body[len] = '\0'; /* for the messages' %s alone */
	rc1 = tree(body, len, s, f, &t1, &n1);
	rc2 = codec_render_member(body, len, "Item", s, f, &t2, &n2);
	if (rc1 != -ENOMEM && rc2 != -ENOMEM) {
		FUZZ_CHECK(rc1 == rc2, "rc %d, tree %d: %.300s", rc2, rc1,
			   body);
		FUZZ_CHECK(rc1 || (n1 == n2 && memcmp(t1, t2, n1) == 0),
			   "texts differ: %.300s", body);
		FUZZ_CHECK(!rc2 || (!t2 && !n2), "error with text");
	}
	/* The item bytes alone, as a page hands them on. */
	item_bytes(data[0] & 0x80 ? body + 8 : body,
		   data[0] & 0x80 ? size - 1 : len, s, f);
	free(t1);
	free(t2);
	free(body);
	return 0;
}
