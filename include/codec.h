/* codec.h - the item codec: a DynamoDB item (wire JSON) to file text and back,
 * with every check DynamoDB would make done before anything is sent. */
#ifndef DYNAMOFS_CODEC_H
#define DYNAMOFS_CODEC_H

#include <jansson.h>
#include <stddef.h>

#include "dynbuf.h"

/* Pure module: no I/O, no globals, no locks. Every function is thread-safe
 * as long as two threads do not change the same json_t at once.
 *
 * Items are jansson objects shaped like the wire "Item" map of GetItem:
 * {"id": {"S": "a"}, "n": {"N": "1.50"}, "b": {"B": "AAE="}}. Numbers stay
 * strings (DynamoDB's text), binaries stay standard base64 with padding.
 * Attribute names and strings may hold NUL bytes; the codec uses the
 * length-aware jansson calls throughout.
 *
 * Limits, as DynamoDB Local 1.25.1 (AWS's own code) enforces them, probed:
 *   - numbers: at most 38 significant digits, magnitude 1E-130 to
 *     9.9999999999999999999999999999999999999E+125, or zero; no NaN/Infinity;
 *   - nesting: the item is level 1 and every list or map value one more
 *     level, at most 32 (so at most 31 lists/maps inside one another);
 *     scalars and sets add no level;
 *   - attribute names (map keys at every level): 1 to 65535 bytes;
 *   - item size: at most 409600 bytes counted as codec_item_size does;
 *   - key values: not empty, partition at most 2048 bytes, sort at most
 *     1024 bytes. */

enum codec_format {
	CODEC_PLAIN, /* SPEC §4's table: the AWS console's JSON view */
	CODEC_DDB,   /* DynamoDB JSON: {"name": {"S": "x"}} */
};

struct codec_schema {
	const char *hash_name;
	char hash_type;		/* 'S', 'N' or 'B' */
	const char *range_name; /* NULL when the table has no sort key */
	char range_type; /* 'S', 'N' or 'B'; ignored without range_name */
};

#define CODEC_ITEM_MAX	 409600u /* 400 KB, 1 KB = 1024 B */
#define CODEC_DEPTH_MAX	 32
#define CODEC_DIGITS_MAX 38

#define CODEC_PATH_LEN 256
#define CODEC_MSG_LEN  256

/* What went wrong, for the log. line/column are 1-based and set only for
 * JSON syntax errors (0 otherwise); the column counts characters (UTF-8
 * sequences, a tab is one), as Python's json module does. path names the
 * attribute (`info.rating`, `tags[2]`, "" when none); both strings are
 * NUL-terminated and cut at their size with "..." when longer. */
struct codec_error {
	unsigned line;
	unsigned column;
	char path[CODEC_PATH_LEN];
	char message[CODEC_MSG_LEN];
};

/* Renders item as the file text in format f: key attributes first (the
 * schema's partition, then sort key; either may be missing from item), then
 * the others sorted by name in byte order; nested maps sorted by key bytes;
 * set members sorted (SS by bytes, BS by decoded bytes, NS by exact numeric
 * value); laid out exactly as Python's json.dumps(x, indent=2,
 * ensure_ascii=False) plus "\n". The same item always renders to the same
 * bytes. In CODEC_PLAIN an N text that is not a JSON number token (servers
 * never send one) is rewritten to the equal JSON number keeping every digit
 * ("+5" -> 5, ".5" -> 0.5, "007.50" -> 7.50). s may be NULL (no key first).
 * Returns 0 and sets *text (NUL-terminated; caller frees with free()) and
 * *len (without the NUL); -EINVAL when item is not a well-formed wire item
 * (unknown type tag, N not a number, bad base64, ...); -ENOMEM. */
int codec_render(const json_t *item, const struct codec_schema *s,
		 enum codec_format f, char **text, size_t *len);

/* Appends item to out as one line of a bulk file (SPEC §3, .items.jsonl):
 * codec_render's text without the indentation, as Python's
 * json.dumps(item, ensure_ascii=False, separators=(",", ":")) with the same
 * key order, then "\n". Returns 0, -EINVAL (out unchanged) or -ENOMEM. */
int codec_render_line(const json_t *item, const struct codec_schema *s,
		      enum codec_format f, struct dynbuf *out);

/* codec_render of the member named member (an object) of the JSON object
 * in the len bytes at body (need not be NUL-terminated): a GetItem answer
 * and "Item". Reads the item straight from the bytes, with no jansson tree,
 * and produces exactly codec_render's text for json_loadb(body,
 * JSON_ALLOW_NUL)'s tree; whatever that reader does not take (duplicate
 * keys, a malformed item, a number token outside its range, ...) goes
 * through jansson and codec_render, so the text or the error is theirs.
 * Returns 0 and sets *text (NUL-terminated; caller frees with free()) and
 * *tlen; -ENOENT when the member is missing or not an object; -EBADMSG
 * when body is not a JSON object; -EINVAL as codec_render; -ENOMEM. */
int codec_render_member(const char *body, size_t len, const char *member,
			const struct codec_schema *s, enum codec_format f,
			char **text, size_t *tlen);

/* The reader of codec_render_member alone, over the text of one wire item
 * (len bytes of json): codec_render's text as above, or -ENOTSUP where
 * codec_render_member would go through jansson; -ENOMEM. For the tests
 * that hold the two paths to the same bytes. */
int codec_render_raw(const char *json, size_t len, const struct codec_schema *s,
		     enum codec_format f, char **text, size_t *tlen);

/* The length of the one JSON object or array at the start of the len
 * bytes at p (whitespace before it counted, none after), as the reader of
 * codec_render_member takes it: whatever it takes, json_loadb
 * (JSON_ALLOW_NUL | JSON_DISABLE_EOF_CHECK) takes too, ending at the same
 * byte with the same tree. Returns 0 and sets *used; -ENOTSUP when the
 * reader does not vouch for the value (bad JSON, JSON it leaves to
 * jansson, or no object or array): ask jansson; -ENOMEM. For readers of
 * Query/Scan pages, which hand on each item's bytes. */
int codec_json_span(const char *p, size_t len, size_t *used);

/* codec_render_raw of one wire item (len bytes of json), also handing
 * back the values of s's key attributes as jansson would build them from
 * the same bytes ({"S": "x"}; NULL when the item has no such attribute or
 * s names none): all that a listing needs of an item, from one read of it
 * and without its whole tree. text NULL: the keys alone (tlen unused).
 * Returns 0 and sets *hash and *range (new references, caller decrefs),
 * *text (caller frees with free()) and *tlen; -ENOTSUP (all NULL) where
 * codec_render_member would go through jansson, also for a key attribute
 * that is not {"S"|"N"|"B": string} or is given twice: parse the bytes
 * with json_loadb and use codec_render; -ENOMEM. */
int codec_render_keyed(const char *json, size_t len,
		       const struct codec_schema *s, enum codec_format f,
		       json_t **hash, json_t **range, char **text,
		       size_t *tlen);

/* codec_render_line of one wire item read from its bytes (len bytes of
 * json) by the reader of codec_render_member: appends exactly the line
 * codec_render_line would append for json_loadb(JSON_ALLOW_NUL)'s tree.
 * Returns 0; -ENOTSUP (out unchanged) where that reader would go through
 * jansson: parse and use codec_render_line; -ENOMEM (out unchanged). */
int codec_render_raw_line(const char *json, size_t len,
			  const struct codec_schema *s, enum codec_format f,
			  struct dynbuf *out);

/* Parses file text (len bytes, need not be NUL-terminated; a leading UTF-8
 * BOM is skipped) in format f into a new wire item, checking everything
 * DynamoDB checks on an item: exactly one JSON object and nothing after it
 * but whitespace; strict JSON (RFC 8259; valid UTF-8, no lone surrogate
 * escapes, no duplicate keys); valid types and tags; valid base64; sets
 * non-empty with unique members (NS by value, BS by bytes); numbers, names,
 * nesting and size within the limits above. Text that is empty or only
 * whitespace parses as an empty item (codec_apply_key then adds the key).
 * Number texts are kept as written (the server normalizes them).
 * Returns 0 and sets *item (new reference, caller json_decref()s);
 * -EINVAL with err filled for bad text; -EFBIG with err filled when the item
 * is over CODEC_ITEM_MAX; -ENOMEM. err may be NULL. On error *item is NULL. */
int codec_parse(const char *text, size_t len, enum codec_format f,
		json_t **item, struct codec_error *err);

/* Makes item's key agree with the file's path: path_key is the key map
 * (DynamoDB JSON, {"pk": {"S": "a"}, ...}) decoded from the path; a key
 * attribute missing from item is copied from it, one present must have the
 * schema's type, be non-empty and within the key length limits, and equal
 * the path's value (N by numeric value: "1.0" equals "1"; B by bytes).
 * Then checks the item size again. Returns 0 (item changed only by the
 * added attributes); -EINVAL with err filled (path_key not matching the
 * schema counts too); -EFBIG with err filled; -ENOMEM. err may be NULL. */
int codec_apply_key(json_t *item, const struct codec_schema *s,
		    const json_t *path_key, struct codec_error *err);

/* DynamoDB's size of a wire item, as DynamoDB Local 1.25.1 counts it
 * (probed byte for byte; dynalite counts the same but in UTF-16 units):
 *   item  = sum over attributes of (name bytes + value size)
 *   S     = UTF-8 bytes              B = raw bytes
 *   N     = 1 for zero, else 1 + ceil(d / 2) + 1 if d is even and the
 *           leading digit's power of ten is even (base-100 digit pairs
 *           straddle the point) + 1 if negative; d = significant digits
 *   BOOL, NULL = 1                   SS, NS, BS = sum of member sizes
 *   L     = 3 + sum of (1 + member size)
 *   M     = 3 + sum of (1 + key bytes + member size)
 * Returns 0 and sets *size; -EINVAL for a malformed item. */
int codec_item_size(const json_t *item, size_t *size);

/* Checks that text is a number DynamoDB can hold: [+-]digits[.digits]
 * [e[+-]digits] (".5" and "5." too, as DynamoDB takes them), at most 38
 * significant digits, zero or magnitude within 1E-130 .. 9.99..9E+125;
 * exponent and scale inside a Java int even for zero ("0e99999999999" is
 * refused). The same grammar as the key names (both use
 * ddbvalue_number_parse).
 * Returns 0, or -EINVAL with err->message set (path and line untouched).
 * err may be NULL. */
int codec_number_check(const char *text, struct codec_error *err);

/* Compares two number texts by exact decimal value (never through double):
 * <0, 0 or >0. Texts that are not numbers sort after every number and by
 * bytes among themselves. */
int codec_number_compare(const char *a, const char *b);

/* Formats err as one line into buf (len bytes, always NUL-terminated):
 * `line 3, column 14: expected ',' or '}'`, or
 * `attribute "info.rating": number has 39 significant digits (DynamoDB
 * keeps 38)`, or the bare message. Returns buf. */
const char *codec_strerror(const struct codec_error *err, char *buf,
			   size_t len);

#endif
