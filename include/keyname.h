/* keyname.h - key values <-> file names (SPEC §3 "Names"), table names and
 * mkdir key specs; pure, no FUSE, no I/O. Numbers, base64, UTF-8 and the key
 * limits are ddbvalue.h's. */
#ifndef DYNAMOFS_KEYNAME_H
#define DYNAMOFS_KEYNAME_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Every function here is pure and thread-safe. Functions return 0 or -errno
 * and, when they fail, leave their outputs untouched (nothing half-done). */

#define KEYNAME_NAME_MAX      255 /* NAME_MAX */
#define KEYNAME_PREFIX_MAX    200 /* encoding bytes kept in a short name */
#define KEYNAME_HASH_LEN      16  /* lower-case hex digits after the '~' */
#define KEYNAME_ATTR_NAME_MAX 255 /* key attribute name, bytes */
#define KEYNAME_SUFFIX	      ".json"

enum keyname_type {
	KEYNAME_S, /* string: UTF-8 bytes */
	KEYNAME_N, /* number: DynamoDB's canonical text */
	KEYNAME_B, /* binary: raw bytes (standard base64 on the wire) */
};

/* What a name stands for: it fixes the suffix and the key's length limit. */
enum keyname_kind {
	KEYNAME_HASH_ITEM,  /* TABLE/PK.json, hash-only table: ".json", 2048 */
	KEYNAME_PARTITION,  /* TABLE/PK/: no suffix, 2048 */
	KEYNAME_RANGE_ITEM, /* TABLE/PK/SK.json: ".json", 1024 */
};

/* A key value. value is followed by a NUL not counted in len, so S and N
 * values work as C strings (an S value may itself hold NUL bytes: use len).
 * Filled by the functions below; free with keyname_key_free. */
struct keyname_key {
	enum keyname_type type;
	char *value; /* S: UTF-8 bytes; N: canonical text; B: raw bytes */
	size_t len;
};

/* Frees k->value and zeroes k; safe on a zeroed struct and twice. */
void keyname_key_free(struct keyname_key *k);

/* ---- Names ---- */

/* The full encoding of a key value, without suffix and never shortened:
 * S: the bytes with '%', '/', 0x00-0x1F, 0x7F, a leading '.' and every byte
 * that is not part of a valid UTF-8 character (so the mapping stays exact
 * for any bytes, although DynamoDB only holds UTF-8) written as %XX,
 * upper-case hex; all other UTF-8 kept as is. N: the canonical text of the
 * number (value may be any text ddbvalue_number_canonical accepts, e.g. what
 * a server returned). B: base64url without padding of the raw bytes.
 * Returns 0 and sets *out (a C string; caller frees with free()) and, when
 * out_len is not NULL, *out_len; -EINVAL for an empty value or an N value
 * that is not a number; -ENOMEM. */
int keyname_encoding(enum keyname_type type, const void *value, size_t len,
		     char **out, size_t *out_len);

/* The file name of a key value for kind: its encoding plus the suffix
 * (".json" for items, "" for partitions). When that exceeds 255 bytes, or
 * when the encoding itself has the form of a shortened name (an S value like
 * "<200 bytes>~0123456789abcdef", so that no full name is ever read as a
 * shortened one), the name is shortened to
 *   PREFIX '~' HASH SUFFIX
 * PREFIX: the encoding's first 200 bytes cut back to the end of a whole
 * unit, a unit being a %XX escape, an ASCII byte or a UTF-8 character
 * (so 197-200 bytes; always 200 for B); HASH: the first 16 lower-case hex
 * digits of the SHA-256 of the whole encoding WITHOUT the suffix.
 * Returns 0 and sets *name (caller frees with free()); -EINVAL when the
 * value is empty, over the kind's limit (2048 or 1024 bytes for S and B) or
 * not a number for N; -ENOMEM. */
int keyname_encode(enum keyname_kind kind, enum keyname_type type,
		   const void *value, size_t len, char **name);

/* The hash part of a shortened name for a full encoding (from
 * keyname_encoding): 16 lower-case hex digits and a NUL into out.
 * Returns 0, or -ENOMEM (OpenSSL could not run SHA-256; out untouched). */
int keyname_short_hash(const char *encoding, size_t len,
		       char out[KEYNAME_HASH_LEN + 1]);

/* Decodes a file name to the key it stands for, exactly the inverse of
 * keyname_encode: a name is accepted only if keyname_encode gives it back
 * byte for byte, so each key has one name and anything else is a scratch
 * file. Rejected (-EINVAL): a wrong or missing suffix, an empty value, a
 * leading '.', '%' not followed by two upper-case hex digits, an escape of a
 * byte that needs none ("%41"), a raw byte that needs one, invalid UTF-8, a
 * value over the kind's limit, N text not in canonical form ("1.50"), B text
 * not canonical unpadded base64url, a name over 255 bytes.
 * Returns 0 and fills *out (free with keyname_key_free); -ENAMETOOLONG when
 * name is a well-formed shortened name (see keyname_decode_shortened;
 * nothing is filled); -EINVAL; -ENOMEM. */
int keyname_decode(const char *name, enum keyname_kind kind,
		   enum keyname_type type, struct keyname_key *out);

/* True when keyname_decode returns -ENAMETOOLONG for these arguments
 * (false also when memory runs out). */
bool keyname_is_shortened(const char *name, enum keyname_kind kind,
			  enum keyname_type type);

/* For a shortened name: fills *prefix with the value decoded from the
 * name's prefix (S: the leading bytes of the value; B: its first 150 raw
 * bytes; free with keyname_key_free) and hash with the name's 16 hex digits.
 * The key is one whose value starts with *prefix (a Query begins_with for
 * sort keys, a Scan filter for partition keys); to pick it, compare the name
 * with keyname_encode of each candidate (or hash with keyname_short_hash of
 * its keyname_encoding). Returns 0, -EINVAL when keyname_is_shortened is
 * false (N names are never shortened: a number's text is at most 170
 * bytes), -ENOMEM. */
int keyname_decode_shortened(const char *name, enum keyname_kind kind,
			     enum keyname_type type, struct keyname_key *prefix,
			     char hash[KEYNAME_HASH_LEN + 1]);

/* ---- DynamoDB JSON ---- */

/* Builds the attribute value {"S": "..."}, {"N": "..."} (canonical text) or
 * {"B": "standard base64"} for a key value. Returns 0 and sets *out (a new
 * reference; caller releases with json_decref), -EINVAL for an empty value,
 * an S value that is not UTF-8 or an N value that is not a number, -ENOMEM. */
int keyname_key_to_json(enum keyname_type type, const void *value, size_t len,
			json_t **out);

/* Reads an attribute value {"S"|"N"|"B": string} (borrowed) into *out
 * (N made canonical, B decoded from standard base64; free with
 * keyname_key_free). Returns 0, -EINVAL for any other shape or type, an
 * empty value, an N that is not a number or bad base64, -ENOMEM. */
int keyname_key_from_json(const json_t *attr, struct keyname_key *out);

/* ---- Tables and key schemas ---- */

/* True for a valid DynamoDB table name: 3-255 of [a-zA-Z0-9_.-]. */
bool keyname_table_name_valid(const char *name);

/* A key attribute: name (1-255 bytes of UTF-8) and type. */
struct keyname_attr {
	char *name; /* caller frees with keyname_attr_free */
	enum keyname_type type;
};

/* Frees a->name and zeroes a; safe on a zeroed struct. */
void keyname_attr_free(struct keyname_attr *a);

/* Parses "NAME[:T]" (the hash_key=/range_key= options and each key of the
 * mkdir form): T is exactly "S", "N" or "B", default S. The type is taken
 * after the LAST ':', so a name holding ':' needs an explicit type
 * ("a:b:N" is "a:b" of type N, "a:b" is -EINVAL). Returns 0 and fills *out,
 * -EINVAL for an empty, over-long or non-UTF-8 name or a bad type, -ENOMEM. */
int keyname_parse_key_spec(const char *spec, struct keyname_attr *out);

/* A table with its key schema; range.name is NULL for a hash-only table. */
struct keyname_schema {
	char *table;
	struct keyname_attr hash;
	struct keyname_attr range;
};

/* Frees what keyname_parse_mkdir filled and zeroes s; safe when zeroed. */
void keyname_schema_free(struct keyname_schema *s);

/* Parses the mkdir form "NAME,HASH[:T][,RANGE[:T]]" (SPEC §5): a valid table
 * name, then one or two key specs (keyname_parse_key_spec) with distinct
 * names. A plain "NAME" without ',' is -EINVAL here (that mkdir uses the
 * mount's hash_key=/range_key= options). Returns 0 and fills *out (free with
 * keyname_schema_free), -EINVAL, -ENOMEM. */
int keyname_parse_mkdir(const char *spec, struct keyname_schema *out);

#endif
