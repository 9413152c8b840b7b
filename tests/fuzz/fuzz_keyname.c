/* fuzz_keyname.c - libFuzzer target for key names: decode and encode are
 * exact inverses, shortened names lead back to their key, and mkdir specs
 * parse safely. Numbers and base64 themselves: fuzz_ddbvalue. */
#include "fuzz.h"

#include "keyname.h"

#include <errno.h>
#include <string.h>

/* The first byte picks what is tried and with which kind and type; the
 * rest is the name, value or spec. */
static char *cstr(const uint8_t *p, size_t n)
{
	char *s = malloc(n + 1);

	if (s) {
		memcpy(s, p, n);
		s[n] = '\0';
	}
	return s;
}

/* A file name decodes to a key only if encoding that key gives the name
 * back; a shortened name gives a prefix whose encoding starts it. */
static void try_decode(const char *name, enum keyname_kind kind,
		       enum keyname_type type)
{
	struct keyname_key k = {0}, pre = {0};
	char hash[KEYNAME_HASH_LEN + 1], *back = NULL;
	int rc = keyname_decode(name, kind, type, &k);

	if (rc == 0) {
		rc = keyname_encode(kind, type, k.value, k.len, &back);
		FUZZ_CHECK(rc == 0 || rc == -ENOMEM,
			   "decoded key re-encodes %d", rc);
		FUZZ_CHECK(!back || strcmp(back, name) == 0,
			   "name \"%.300s\" decodes to a key named \"%.300s\"",
			   name, back);
		FUZZ_CHECK(!keyname_is_shortened(name, kind, type),
			   "decodable name also shortened");
	} else if (rc == -ENAMETOOLONG) {
		FUZZ_CHECK(type != KEYNAME_N, "N name taken as shortened");
		FUZZ_CHECK(keyname_is_shortened(name, kind, type),
			   "-ENAMETOOLONG but not shortened");
		rc = keyname_decode_shortened(name, kind, type, &pre, hash);
		FUZZ_CHECK(rc == 0 || rc == -ENOMEM, "shortened decode %d", rc);
		FUZZ_CHECK(rc || strlen(hash) == KEYNAME_HASH_LEN, "hash");
	} else {
		FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM, "decode %d", rc);
		FUZZ_CHECK(!k.value, "failed decode filled the key");
	}
	keyname_key_free(&k);
	keyname_key_free(&pre);
	free(back);
}

/* Any value within the limits encodes to a name that decodes back to it,
 * or (shortened) to a prefix of it with the hash of its encoding. */
static void try_encode(const uint8_t *v, size_t n, enum keyname_kind kind,
		       enum keyname_type type)
{
	struct keyname_key k = {0};
	char hash[KEYNAME_HASH_LEN + 1], mine[KEYNAME_HASH_LEN + 1];
	char *name = NULL, *enc = NULL;
	size_t enc_len = 0;
	int rc = keyname_encode(kind, type, v, n, &name);

	if (rc) {
		FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM, "encode %d", rc);
		return;
	}
	FUZZ_CHECK(strlen(name) <= KEYNAME_NAME_MAX, "name of %zu bytes",
		   strlen(name));
	rc = keyname_decode(name, kind, type, &k);
	if (rc == 0) {
		if (type == KEYNAME_N) {
			char *canon = NULL;

			FUZZ_CHECK(keyname_encoding(KEYNAME_N, v, n, &canon,
						    NULL) != -EINVAL,
				   "encoded number has no encoding");
			FUZZ_CHECK(!canon || strcmp(canon, k.value) == 0,
				   "N name %s decodes to %s", name, k.value);
			free(canon);
		} else {
			FUZZ_CHECK(k.len == n && memcmp(k.value, v, n) == 0,
				   "value does not survive its name \"%.300s\"",
				   name);
		}
	} else if (rc == -ENAMETOOLONG) {
		rc = keyname_decode_shortened(name, kind, type, &k, hash);
		if (rc == -ENOMEM)
			goto out;
		FUZZ_CHECK(rc == 0, "shortened name does not decode: %d", rc);
		FUZZ_CHECK(k.len <= n && memcmp(k.value, v, k.len) == 0,
			   "shortened prefix is not a prefix of the value");
		rc = keyname_encoding(type, v, n, &enc, &enc_len);
		if (rc == 0 && keyname_short_hash(enc, enc_len, mine) == 0)
			FUZZ_CHECK(strcmp(mine, hash) == 0, "hash differs");
	} else {
		FUZZ_CHECK(rc == -ENOMEM, "own name \"%.300s\" refused: %d",
			   name, rc);
	}
out:
	keyname_key_free(&k);
	free(name);
	free(enc);
}

static char type_letter(enum keyname_type t)
{
	return t == KEYNAME_N ? 'N' : t == KEYNAME_B ? 'B' : 'S';
}

/* A spec that parses, written back in full ("T,h:S,r:N"), parses to the
 * same schema. */
static void try_mkdir(const char *spec)
{
	struct keyname_schema s = {0}, t = {0};
	struct keyname_attr a = {0};
	char *full = NULL;
	int n;

	if (keyname_parse_mkdir(spec, &s) == 0) {
		FUZZ_CHECK(keyname_table_name_valid(s.table), "table %s",
			   s.table);
		FUZZ_CHECK(s.hash.name && *s.hash.name, "no hash name");
		FUZZ_CHECK(!s.range.name || strcmp(s.range.name, s.hash.name),
			   "same key twice");
		if (s.range.name)
			n = asprintf(&full, "%s,%s:%c,%s:%c", s.table,
				     s.hash.name, type_letter(s.hash.type),
				     s.range.name, type_letter(s.range.type));
		else
			n = asprintf(&full, "%s,%s:%c", s.table, s.hash.name,
				     type_letter(s.hash.type));
		if (n >= 0) {
			n = keyname_parse_mkdir(full, &t);
			FUZZ_CHECK(n == 0 || n == -ENOMEM,
				   "\"%.300s\" parsed, \"%.300s\" not (%d)",
				   spec, full, n);
			FUZZ_CHECK(n ||
				       (!strcmp(t.table, s.table) &&
					!strcmp(t.hash.name, s.hash.name) &&
					t.hash.type == s.hash.type &&
					!t.range.name == !s.range.name &&
					(!s.range.name ||
					 (!strcmp(t.range.name, s.range.name) &&
					  t.range.type == s.range.type))),
				   "\"%.300s\" reads differently", full);
			free(full);
		}
	}
	keyname_schema_free(&t);
	keyname_schema_free(&s);
	keyname_schema_free(&s);
	if (keyname_parse_key_spec(spec, &a) == 0)
		FUZZ_CHECK(a.name && *a.name &&
			       strlen(a.name) <= KEYNAME_ATTR_NAME_MAX,
			   "key spec name");
	keyname_attr_free(&a);
}

static void try_json(const uint8_t *v, size_t n, enum keyname_type type)
{
	struct keyname_key k = {0};
	json_t *j = NULL;
	int rc = keyname_key_to_json(type, v, n, &j);

	if (rc)
		return;
	rc = keyname_key_from_json(j, &k);
	FUZZ_CHECK(rc == 0 || rc == -ENOMEM, "key_from_json of own %d", rc);
	if (!rc && type != KEYNAME_N)
		FUZZ_CHECK(k.len == n && !memcmp(k.value, v, n), "json trip");
	keyname_key_free(&k);
	json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum keyname_kind kind;
	enum keyname_type type;
	const uint8_t *v = data + 1;
	size_t n;
	char *s;

	if (size < 1 || size > 4096)
		return 0;
	n = size - 1;
	kind = (enum keyname_kind)((data[0] & 3) % 3);
	type = (enum keyname_type)(((data[0] >> 2) & 3) % 3);
	s = cstr(v, n);
	if (!s)
		return 0;
	switch ((data[0] >> 4) % 6) {
	case 0:
		try_decode(s, kind, type);
		break;
	case 1:
		/* N values are texts: encode what a server may send */
		try_encode(type == KEYNAME_N ? (const uint8_t *)s : v,
			   type == KEYNAME_N ? strlen(s) : n, kind, type);
		break;
	case 2:
		/* numbers: fuzz_ddbvalue, against the codec */
		try_encode((const uint8_t *)s, strlen(s), kind, KEYNAME_N);
		break;
	case 3:
		try_mkdir(s);
		break;
	case 4:
		/* base64 itself: fuzz_ddbvalue */
		try_json(v, n, KEYNAME_B);
		break;
	case 5:
		try_json(type == KEYNAME_N ? (const uint8_t *)s : v,
			 type == KEYNAME_N ? strlen(s) : n, type);
		break;
	}
	free(s);
	return 0;
}
