/* fuzz_render.c - libFuzzer target for the raw item renderer: whatever the
 * bytes, codec_render_member must give codec_render's text (or error) for
 * the tree json_loadb makes of them, in both formats. */
#include "fuzz.h"

#include "codec.h"

#include <errno.h>
#include <jansson.h>
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
	rc1 = tree(body, len, s, f, &t1, &n1);
	rc2 = codec_render_member(body, len, "Item", s, f, &t2, &n2);
	if (rc1 != -ENOMEM && rc2 != -ENOMEM) {
		FUZZ_CHECK(rc1 == rc2, "rc %d, tree %d: %.300s", rc2, rc1,
			   body);
		FUZZ_CHECK(rc1 || (n1 == n2 && memcmp(t1, t2, n1) == 0),
			   "texts differ: %.300s", body);
		FUZZ_CHECK(!rc2 || (!t2 && !n2), "error with text");
	}
	free(t1);
	free(t2);
	free(body);
	return 0;
}
