/* fuzz_ddbvalue.c - libFuzzer target for DynamoDB's value rules: every
 * number text gets the same answer from the codec's file check, the key
 * names and ddbvalue's grammar (a file never passes with a number the server
 * refuses), canonical text is a fixed point that compares equal, two numbers
 * compare equal exactly when their canonical texts are the same, and a
 * number survives the codec's plain rendering; base64 has one text per byte
 * string in both alphabets; UTF-8 validity is per character. */
#include "fuzz.h"

#include "codec.h"
#include "ddbvalue.h"
#include "keyname.h"

#include <errno.h>
#include <string.h>

/* The canonical text of a number (new C string, caller frees) or NULL. */
static char *canon_of(const char *text, int *rc)
{
	struct dynbuf b = {0};

	*rc = ddbvalue_number_canonical(text, strlen(text), &b);
	if (*rc) {
		dynbuf_free(&b);
		return NULL;
	}
	return dynbuf_take(&b);
}

/* The codec renders {"n": {"N": text}} as plain JSON and parses it back:
 * the number it reads is the same number. */
static void render_trip(const char *text)
{
	json_t *item = json_pack("{s{ss}}", "n", "N", text), *back = NULL;
	char *file = NULL;
	size_t len = 0;
	int rc;

	if (!item)
		return;
	rc = codec_render(item, NULL, CODEC_PLAIN, &file, &len);
	if (rc == -ENOMEM)
		goto out;
	FUZZ_CHECK(rc == 0, "N \"%.200s\" does not render (%d)", text, rc);
	rc = codec_parse(file, len, CODEC_PLAIN, &back, NULL);
	if (rc == -ENOMEM)
		goto out;
	FUZZ_CHECK(rc == 0, "N \"%.200s\" renders as \"%.300s\", refused (%d)",
		   text, file, rc);
	FUZZ_CHECK(codec_number_compare(json_string_value(json_object_get(
					    json_object_get(back, "n"), "N")),
					text) == 0,
		   "N \"%.200s\" comes back from \"%.300s\" as another number",
		   text, file);
out:
	json_decref(item);
	json_decref(back);
	free(file);
}

/* The one grammar: ddbvalue, the codec and the key names agree. */
static void try_number(const char *text)
{
	struct ddbvalue_number x, y;
	enum ddbvalue_number_fault fault;
	char *canon = NULL, *again = NULL, *name = NULL;
	json_t *key = NULL;
	int rc, crc, krc, jrc, arc;

	rc = ddbvalue_number_parse(text, strlen(text), &x, &fault);
	crc = codec_number_check(text, NULL);
	krc = keyname_encoding(KEYNAME_N, text, strlen(text), &name, NULL);
	jrc = keyname_key_to_json(KEYNAME_N, text, strlen(text), &key);
	canon = canon_of(text, &arc);
	if (krc == -ENOMEM || jrc == -ENOMEM || arc == -ENOMEM)
		goto out;
	FUZZ_CHECK(rc == crc && rc == krc && rc == jrc && rc == arc,
		   "\"%.200s\": ddbvalue %d, codec %d, key name %d, key JSON "
		   "%d, canonical %d",
		   text, rc, crc, krc, jrc, arc);
	FUZZ_CHECK((rc == 0) == (fault == DDBVALUE_NUMBER_OK),
		   "\"%.200s\": rc %d, fault %d", text, rc, fault);
	if (rc)
		goto out;
	/* The server's text: plain notation, a fixed point, the same value,
	 * and what the key name is. */
	FUZZ_CHECK(!strpbrk(canon, "eE+"), "canonical %s has an exponent",
		   canon);
	FUZZ_CHECK(strcmp(name, canon) == 0, "key name %s, canonical %s", name,
		   canon);
	FUZZ_CHECK(ddbvalue_number_is_canonical(canon, strlen(canon)) == 1,
		   "%s not canonical", canon);
	again = canon_of(canon, &arc);
	FUZZ_CHECK(arc == -ENOMEM || (arc == 0 && strcmp(again, canon) == 0),
		   "canonical of %s is %s", canon, again);
	FUZZ_CHECK(ddbvalue_number_parse(canon, strlen(canon), &y, NULL) == 0,
		   "canonical %s refused", canon);
	FUZZ_CHECK(ddbvalue_number_compare(&x, &y) == 0,
		   "\"%.200s\" != canonical %s", text, canon);
	FUZZ_CHECK(x.zero == y.zero && x.nd == y.nd && x.pow10 == y.pow10,
		   "\"%.200s\" and %s differ in digits or power", text, canon);
	FUZZ_CHECK(codec_number_compare(text, canon) == 0,
		   "codec: \"%.200s\" != canonical %s", text, canon);
	render_trip(text);
out:
	json_decref(key);
	free(canon);
	free(again);
	free(name);
}

/* Two numbers: equal by value exactly when their canonical texts are equal,
 * and the order is antisymmetric. */
static void try_pair(const char *a, const char *b)
{
	struct ddbvalue_number x, y;
	char *ca, *cb;
	int ra, rb, c;

	if (ddbvalue_number_parse(a, strlen(a), &x, NULL) ||
	    ddbvalue_number_parse(b, strlen(b), &y, NULL))
		return;
	ca = canon_of(a, &ra);
	cb = canon_of(b, &rb);
	c = ddbvalue_number_compare(&x, &y);
	FUZZ_CHECK((c < 0) == (ddbvalue_number_compare(&y, &x) > 0),
		   "\"%.100s\" <=> \"%.100s\" not antisymmetric", a, b);
	FUZZ_CHECK(!ca || !cb || (c == 0) == (strcmp(ca, cb) == 0),
		   "\"%.100s\" <=> \"%.100s\" is %d, canonical %s and %s", a, b,
		   c, ca, cb);
	FUZZ_CHECK(c == codec_number_compare(a, b) ||
		       (c < 0) == (codec_number_compare(a, b) < 0),
		   "codec orders \"%.100s\" and \"%.100s\" otherwise", a, b);
	free(ca);
	free(cb);
}

/* Base64: what decodes re-encodes to the same text (one text per byte
 * string), and any bytes survive a round trip. */
static void try_base64(const uint8_t *v, size_t n, bool url)
{
	struct dynbuf text = {0}, bytes = {0};
	size_t len = 0, check = 0;
	int rc = ddbvalue_base64_decode((const char *)v, n, url, &bytes, &len);
	int crc = ddbvalue_base64_decode((const char *)v, n, url, NULL, &check);

	if (rc == -ENOMEM)
		goto out;
	FUZZ_CHECK(rc == crc && (rc || len == check),
		   "check-only decode differs: %d/%d, %zu/%zu", rc, crc, len,
		   check);
	if (rc == 0) {
		FUZZ_CHECK(bytes.len == len, "decoded %zu, said %zu", bytes.len,
			   len);
		rc = ddbvalue_base64_encode(bytes.p, bytes.len, url, &text);
		FUZZ_CHECK(rc == -ENOMEM || (rc == 0 && text.len == n &&
					     (!n || !memcmp(text.p, v, n))),
			   "base64 text has two forms");
	}
	dynbuf_free(&text);
	dynbuf_free(&bytes);
	if (ddbvalue_base64_encode(v, n, url, &text))
		goto out;
	rc = ddbvalue_base64_decode(text.p, text.len, url, &bytes, NULL);
	FUZZ_CHECK(rc == -ENOMEM || (rc == 0 && bytes.len == n &&
				     (!n || !memcmp(bytes.p, v, n))),
		   "base64 round trip %d", rc);
out:
	dynbuf_free(&text);
	dynbuf_free(&bytes);
}

/* UTF-8: valid exactly when it splits into valid characters, each of
 * which is valid alone. */
static void try_utf8(const uint8_t *v, size_t n)
{
	bool all = true;

	for (size_t i = 0; i < n;) {
		size_t l = ddbvalue_utf8_char_len(v + i, n - i);

		if (!l) {
			all = false;
			break;
		}
		FUZZ_CHECK(l <= 4 && ddbvalue_utf8_valid(v + i, l),
			   "character of %zu bytes at %zu", l, i);
		i += l;
	}
	FUZZ_CHECK(all == ddbvalue_utf8_valid(v, n), "UTF-8 verdicts differ");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *v = data + 1;
	size_t n;
	char *s, *sp;

	if (size < 1 || size > 4096)
		return 0;
	n = size - 1;
	s = malloc(n + 1);
	if (!s)
		return 0;
	memcpy(s, v, n);
	s[n] = '\0';
	/* The first byte picks; '$' (numbers) as in fuzz_keyname's seeds. */
	switch (data[0] % 4) {
	case 0:
		sp = strchr(s, ' ');
		if (sp) {
			*sp = '\0';
			try_pair(s, sp + 1);
			try_number(sp + 1);
		}
		try_number(s);
		break;
	case 1:
		try_base64(v, n, false);
		break;
	case 2:
		try_base64(v, n, true);
		break;
	case 3:
		try_utf8(v, n);
		break;
	}
	free(s);
	return 0;
}
