/* ddb.h - typed DynamoDB operations over signed HTTP: JSON 1.0 protocol,
 * retries with full-jitter back-off (SPEC §7), errors and errno (SPEC §5). */
#ifndef DYNAMOFS_DDB_H
#define DYNAMOFS_DDB_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "creds.h"
#include "http.h"

/* What went wrong with one call, for logs and messages. */
struct ddb_error {
	long http_status;     /* 0 when no HTTP response arrived */
	int transport;	      /* the last http_request error, or 0 */
	char code[128];	      /* the part of __type after '#', "" when none */
	char message[512];    /* the server's message, or the transport's */
	char request_id[128]; /* x-amzn-RequestId, "" when none */
	int attempts;	      /* how many attempts were made */
	/* An earlier attempt failed after the request may have reached the
	 * server (5xx, time-out, reset, bad checksum), so a write may already
	 * be applied: a ConditionalCheckFailed on the retry can be the effect
	 * of our own first attempt (DYNAMODB.md, Errors). */
	bool maybe_applied;
};

struct ddb_config {
	const char *endpoint; /* URL, e.g. "http://127.0.0.1:8000/" */
	const char *region;
	struct creds_provider *creds; /* borrowed, must outlive the client */
	struct http_client *http;     /* borrowed, must outlive the client */
	int retries;		      /* after the first attempt; 0: none,
					 negative: the default 10 */
	long timeout_ms;	      /* one attempt; 0: the http default */
	uint64_t seed;		      /* jitter RNG seed; 0: from the clock */
	unsigned base_delay_ms;	      /* back-off base; 0: 50 ms */
	unsigned max_delay_ms;	      /* back-off cap; 0: 20000 ms */
};

struct ddb_client;

/* Creates a client; strings in cfg are copied. Returns NULL with errno set.
 * Caller frees with ddb_client_free. */
struct ddb_client *ddb_client_new(const struct ddb_config *cfg);
void ddb_client_free(struct ddb_client *c);

/* Sends one DynamoDB operation (op is "GetItem", ...) with request (borrowed;
 * NULL sends {}) as its JSON body, signed with the current credentials,
 * retrying what SPEC §7 says is retryable with full-jitter back-off. Every
 * attempt is logged at LOG_DEBUG as
 *   request op=GetItem table=Devices status=200 ms=3 attempt=1[ key={...}]
 *   [ code=ThrottlingException][ error=timed out]
 * and a final failure at LOG_WARNING with code, message and request id.
 * response may be NULL when the answer is not wanted.
 * Returns 0 with *response a new reference (caller json_decref's), or a
 * negative errno from ddb_errno with err (may be NULL) filled; also -EINVAL
 * for bad arguments, -ENOMEM, and the error of creds_provider_get (-EIO,
 * -EACCES) when no credentials could be had. err->attempts (and, on
 * success, http_status and request_id) are filled on success too.
 * Thread-safe. */
int ddb_call(struct ddb_client *c, const char *op, json_t *request,
	     json_t **response, struct ddb_error *err);

/* Called with each item of a page (borrowed: freed when fn returns).
 * Return 0 to go on, a negative errno to stop with it. */
typedef int (*ddb_item_fn)(json_t *item, void *arg);

/* Called with the bytes of each item of a page instead: len bytes at json
 * (borrowed, inside the page's body, not NUL-terminated), one JSON object
 * that json_loadb(JSON_ALLOW_NUL) takes, with the tree the page readers
 * would hand an ddb_item_fn. For readers that want less than the tree
 * (codec_render_keyed). Return 0 to go on, a negative errno to stop. */
typedef int (*ddb_item_raw_fn)(const char *json, size_t len, void *arg);

/* Reads a Query/Scan answer (len bytes of body, a JSON object): calls fn
 * with each element of its "Items" array in order, parsing one at a time,
 * and returns the other members (LastEvaluatedKey, Count, ...) as a new
 * object in *rest (may be NULL). Returns 0, fn's error, -EBADMSG for a
 * body that is not such an object (items before the fault have been
 * handed to fn), or -ENOMEM. Pure: touches nothing but its arguments. */
int ddb_page_items(const char *body, size_t len, ddb_item_fn fn, void *arg,
		   json_t **rest);

/* Splits an endpoint URL into what the signer needs: the Host header as
 * botocore derives it (lower-case host, [v6] in brackets, the port only when
 * it is not the scheme's default), the path ("/" when empty) and the query
 * (NULL when none). Returns 0, -EINVAL, -ENOMEM; caller frees the three
 * strings with free. Pure. */
int ddb_parse_endpoint(const char *url, char **host, char **path, char **query);

/* True when a failed attempt should be tried again: transport errors
 * (time-out, connection, CRC mismatch), HTTP 5xx, and the throttling codes. */
bool ddb_retryable(int transport, long http_status, const char *code);

/* Full jitter: a uniform random delay in [0, min(base * 2^(attempt-1), cap)]
 * milliseconds, attempt counting from 1. *rng is a xorshift state that the
 * function advances (so a fixed seed gives a fixed sequence). */
unsigned ddb_backoff_ms(unsigned attempt, uint64_t *rng, unsigned base_ms,
			unsigned cap_ms);

/* The errno a user can act on for this error (the one table of SPEC §5, in
 * ddb.c): not found -ENOENT, condition failed (also in a transaction)
 * -EEXIST, validation -EINVAL, item collection too big -EFBIG, access or
 * credentials -EACCES, table busy -EBUSY, unknown operation -ENOSYS,
 * throttling after retries -EAGAIN, 5xx/transport/anything else -EIO. */
int ddb_errno(const struct ddb_error *err);

/* Formats err as one line: "ResourceNotFoundException: Requested resource not
 * found (HTTP 400, request id X)" or "connection refused". Returns buf. */
const char *ddb_strerror(const struct ddb_error *err, char *buf, size_t len);

/* Every function below returns 0 or a negative errno as ddb_call does, and
 * fills err (may be NULL) the same way. All are thread-safe. */

/* One ListTables call with Limit, starting after start (NULL: first page).
 * Returns the response object (new reference). */
int ddb_list_tables_page(struct ddb_client *c, const char *start, int limit,
			 json_t **response, struct ddb_error *err);

/* DescribeTable. *table: new reference to the "Table" object. */
int ddb_describe_table(struct ddb_client *c, const char *table,
		       json_t **table_desc, struct ddb_error *err);

/* CreateTable with request (borrowed, a full CreateTable body); when
 * wait_active, polls DescribeTable (every 50 ms growing to 1 s) until
 * TableStatus is ACTIVE, -ETIMEDOUT after 5 minutes. *table_desc (may be
 * NULL) receives a new reference to the final "Table" object (or the
 * response's TableDescription when not waiting). */
int ddb_create_table(struct ddb_client *c, json_t *request, bool wait_active,
		     json_t **table_desc, struct ddb_error *err);

/* DeleteTable. */
int ddb_delete_table(struct ddb_client *c, const char *table,
		     struct ddb_error *err);

/* GetItem of key (borrowed DynamoDB-JSON map). *item: new reference to the
 * item map; returns -ENOENT when there is no such item (not logged). */
int ddb_get_item(struct ddb_client *c, const char *table, json_t *key,
		 bool consistent, json_t **item, struct ddb_error *err);

/* ddb_get_item's request, its answer unparsed as ddb_query_page's: *body
 * allocated and NUL-terminated, *len bytes before the NUL, caller frees.
 * Render it with codec_render_member(body, len, "Item", ...), which reads
 * the item without a jansson tree and says -ENOENT when there is none (an
 * answer without an item is not an error of the call). */
int ddb_get_item_body(struct ddb_client *c, const char *table, json_t *key,
		      bool consistent, char **body, size_t *len,
		      struct ddb_error *err);

/* PutItem of item (borrowed). condition (may be NULL) is a
 * ConditionExpression; names/values (may be NULL, borrowed) its
 * ExpressionAttributeNames/Values. A failed condition returns -EEXIST. */
int ddb_put_item(struct ddb_client *c, const char *table, json_t *item,
		 const char *condition, json_t *names, json_t *values,
		 struct ddb_error *err);

/* DeleteItem of key, with an optional condition as for ddb_put_item. */
int ddb_delete_item(struct ddb_client *c, const char *table, json_t *key,
		    const char *condition, json_t *names, json_t *values,
		    struct ddb_error *err);

/* --- the filesystem's requests -------------------------------------------
 * Each call below builds one kind of request the filesystem sends, so that
 * no module above this one writes a DynamoDB request body or reads an
 * answer's members. The bodies are given in full in each comment (members
 * in brackets only when set, in this order); tests/unit/test_ddb.c checks
 * them byte for byte. All return 0 or a negative errno as ddb_call does and
 * fill err (may be NULL) the same way, and are thread-safe unless said. */

/* A table's key: attribute names and their type letters ('S', 'N', 'B').
 * range_name NULL: no sort key. */
struct ddb_key_schema {
	const char *hash_name;
	const char *range_name;
	char hash_type;
	char range_type;
};

/* Reads the key schema of a DescribeTable "Table" object (borrowed): the
 * names point into desc (borrowed: valid while the caller holds desc); a key
 * attribute without an AttributeDefinitions entry is typed 'S'.
 * *size_bytes (may be NULL) receives TableSizeBytes (0 when absent).
 * Returns 0, or -EBADMSG when desc names no HASH key. Pure. */
int ddb_table_keys(json_t *desc, struct ddb_key_schema *keys,
		   uint64_t *size_bytes);

/* CreateTable of table with keys, on-demand billing, then waits for ACTIVE
 * as ddb_create_table does:
 *   {"TableName":T,"AttributeDefinitions":[{"AttributeName":H,
 *    "AttributeType":HT}[,{"AttributeName":R,"AttributeType":RT}]],
 *    "KeySchema":[{"AttributeName":H,"KeyType":"HASH"}[,{"AttributeName":R,
 *    "KeyType":"RANGE"}]],"BillingMode":"PAY_PER_REQUEST"}
 * Returns -EEXIST when a table of that name exists (ResourceInUseException),
 * -EINVAL for a missing name or a type that is not S, N or B, -ETIMEDOUT
 * when it is not ACTIVE after 5 minutes. */
int ddb_create_table_keys(struct ddb_client *c, const char *table,
			  const struct ddb_key_schema *keys,
			  struct ddb_error *err);

/* What a Query or Scan page reads. */
enum ddb_read {
	DDB_READ_ITEMS,	   /* whole items */
	DDB_READ_HASH_KEY, /* the partition key only: ProjectionExpression #h */
	DDB_READ_RANGE_KEY, /* the sort key only: ProjectionExpression #r */
};

/* One page of a Query of one partition, or of a Scan. Every pointer is
 * borrowed. */
struct ddb_page_req {
	const char *table;
	const char *hash_name;	/* the partition key's attribute */
	const char *range_name; /* the sort key's (DDB_READ_RANGE_KEY only) */
	json_t *hash_value;	/* Query: the partition's key value as
				   DynamoDB JSON ({"S":"x"}); Scan: unused */
	enum ddb_read read;
	json_t *start;	 /* ExclusiveStartKey; NULL for the first page */
	int limit;	 /* Limit; 0 for none */
	bool consistent; /* ConsistentRead (the member only when true) */
};

/* One Query page of the partition r->hash_value, its answer unparsed:
 * the bytes as the server sent them, checked by their x-amz-crc32 only:
 * *body allocated and NUL-terminated, *len bytes before the NUL, caller
 * frees; read it with ddb_page_read, one item at a time, since a 1 MB
 * page parsed whole is a tree of 25-60 MB. The body:
 *   {"TableName":T[,"Limit":N][,"ConsistentRead":true]
 *    [,"ExclusiveStartKey":K],"KeyConditionExpression":"#h = :h"
 *    [,"ProjectionExpression":"#h" or "#r"],"ExpressionAttributeNames":
 *    {"#h":H[,"#r":R]},"ExpressionAttributeValues":{":h":V}}
 * -EINVAL without table, hash_name or hash_value (or range_name for
 * DDB_READ_RANGE_KEY). */
int ddb_query_page(struct ddb_client *c, const struct ddb_page_req *r,
		   char **body, size_t *len, struct ddb_error *err);

/* One Scan page, its answer unparsed as ddb_query_page's; segment of
 * total (total 0 or 1: a whole-table Scan, no Segment members). The body:
 *   {"TableName":T[,"Limit":N][,"ConsistentRead":true]
 *    [,"ExclusiveStartKey":K][,"ProjectionExpression":"#h",
 *    "ExpressionAttributeNames":{"#h":H}][,"Segment":S,"TotalSegments":N]}
 * -EINVAL without table, with DDB_READ_RANGE_KEY, without hash_name for
 * DDB_READ_HASH_KEY, or with segment >= total > 1 or total > 1000000. */
int ddb_scan_page(struct ddb_client *c, const struct ddb_page_req *r,
		  unsigned segment, unsigned total, char **body, size_t *len,
		  struct ddb_error *err);

/* Reads a Query/Scan page as ddb_page_items does (fn with each item,
 * borrowed, one at a time) and hands back its LastEvaluatedKey in *last (a
 * new reference, caller decrefs; NULL when the page is the last: absent or
 * an empty object). Returns 0, fn's error, -EBADMSG for a malformed body
 * (*last NULL), -ENOMEM. Pure. */
int ddb_page_read(const char *body, size_t len, ddb_item_fn fn, void *arg,
		  json_t **last);

/* ddb_page_read with each item's bytes handed to fn, parsed by no jansson
 * tree where codec_json_span vouches for them (jansson checks the others):
 * the same items, errors and *last. Pure. */
int ddb_page_read_raw(const char *body, size_t len, ddb_item_raw_fn fn,
		      void *arg, json_t **last);

/* Every page of a Query (ddb_query_page's bodies, r->start as the first
 * ExclusiveStartKey, then each page's LastEvaluatedKey), each item handed
 * to fn one at a time; fn's error stops it after that page's request and
 * is returned. A malformed page is -EIO, logged. */
int ddb_query_each(struct ddb_client *c, const struct ddb_page_req *r,
		   ddb_item_fn fn, void *arg, struct ddb_error *err);

/* Whether a partition (r->hash_value set: Query) or a table (NULL: Scan)
 * has any item: pages of Limit 1 with ConsistentRead, r->read and r->limit
 * ignored, read on past empty pages that carry a LastEvaluatedKey until an
 * item or the end (ddb_query_page / ddb_scan_page bodies). *any is false on
 * an error. A malformed page is -EIO, logged. */
int ddb_has_items(struct ddb_client *c, const struct ddb_page_req *r, bool *any,
		  struct ddb_error *err);

/* A Scan read one page at a time, only when asked: a page is requested when
 * the reader calls ddb_scan_cursor_next, never ahead of it, and the
 * segments take turns (segment 0's first page, segment 1's, ..., then the
 * next page of each segment not yet finished). With 1 segment the pages
 * are those of a plain Scan (no Segment members). Not thread-safe: one
 * reader at a time. */
struct ddb_scan_cursor;

/* Opens a cursor over r (copied: nothing of r is kept; r->start, if set,
 * starts segment 0 of a 1-segment cursor and is refused otherwise) with
 * segments parallel segments (0 counts as 1, at most 1000000). Sends
 * nothing. Returns 0 with *cur (caller closes with ddb_scan_cursor_close),
 * -EINVAL for bad arguments (as ddb_scan_page), -ENOMEM. */
int ddb_scan_cursor_open(struct ddb_client *c, const struct ddb_page_req *r,
			 unsigned segments, struct ddb_scan_cursor **cur);

/* Fetches the next page (one Scan request, ddb_scan_page's body) and hands
 * its items to fn one at a time. Returns 0 (also, sending nothing, when
 * the cursor is done), the call's error or fn's, -EIO for a malformed page
 * (logged). After an error the cursor has not moved: the next call asks for the
 * same page again (and fn may see the items before a fault twice). */
int ddb_scan_cursor_next(struct ddb_scan_cursor *cur, ddb_item_fn fn, void *arg,
			 struct ddb_error *err);

/* ddb_scan_cursor_next with the items' bytes to fn (ddb_page_read_raw). */
int ddb_scan_cursor_next_raw(struct ddb_scan_cursor *cur, ddb_item_raw_fn fn,
			     void *arg, struct ddb_error *err);

/* True once every segment has returned its last page. */
bool ddb_scan_cursor_done(const struct ddb_scan_cursor *cur);

/* What the pages after this call read (a listing that stops keeping whole
 * items goes on with the keys alone). -EINVAL for DDB_READ_RANGE_KEY. */
int ddb_scan_cursor_set_read(struct ddb_scan_cursor *cur, enum ddb_read read);

/* Frees the cursor (NULL is fine). Sends nothing. */
void ddb_scan_cursor_close(struct ddb_scan_cursor *cur);

/* PutItem of item (borrowed) only when no item has its key:
 *   {"TableName":T,"Item":I,"ConditionExpression":
 *    "attribute_not_exists(#h)","ExpressionAttributeNames":{"#h":H}}
 * -EEXIST when one has (ConditionalCheckFailedException; check
 * err->maybe_applied: an earlier attempt of ours may be that item). */
int ddb_put_new(struct ddb_client *c, const char *table, const char *hash_name,
		json_t *item, struct ddb_error *err);

/* The item at from_key (borrowed) of from_table, read with a consistent
 * GetItem, with the members of from_key removed and those of to_key
 * (borrowed) set: what a move writes. *item: a new reference (caller
 * decrefs). -ENOENT when there is no such item. */
int ddb_moved_item(struct ddb_client *c, const char *from_table,
		   json_t *from_key, json_t *to_key, json_t **item,
		   struct ddb_error *err);

/* A move as one TransactWriteItems: put item (borrowed, as ddb_moved_item
 * made it) into to_table, when noreplace only if no item has its key
 * (to_hash_name is to_table's partition key), and delete from_key of
 * from_table:
 *   {"TransactItems":[{"Put":{"TableName":TO,"Item":I[,
 *    "ConditionExpression":"attribute_not_exists(#h)",
 *    "ExpressionAttributeNames":{"#h":H}]}},{"Delete":{"TableName":FROM,
 *    "Key":K}}],"ClientRequestToken":UUID}
 * -EEXIST when the condition failed, -ENOSYS when the server has no
 * transactions (dynalite): then nothing was written, and the caller may
 * put (ddb_put_new with noreplace) and then delete instead. */
int ddb_move(struct ddb_client *c, const char *to_table,
	     const char *to_hash_name, json_t *item, bool noreplace,
	     const char *from_table, json_t *from_key, struct ddb_error *err);

/* ddb_move with any condition on the put (NULL: none; names and values,
 * borrowed, may be NULL): what replacing an item a writer saw needs.
 *   {"TransactItems":[{"Put":{"TableName":TO,"Item":I[,
 *    "ConditionExpression":C[,"ExpressionAttributeNames":N]
 *    [,"ExpressionAttributeValues":V]]}},{"Delete":{"TableName":FROM,
 *    "Key":K}}],"ClientRequestToken":UUID}
 * Returns as ddb_move. */
int ddb_move_if(struct ddb_client *c, const char *to_table, json_t *item,
		const char *condition, json_t *names, json_t *values,
		const char *from_table, json_t *from_key,
		struct ddb_error *err);

#endif
