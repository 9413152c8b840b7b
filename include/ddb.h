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

/* As ddb_call, but the answer comes back unparsed: *body (allocated,
 * NUL-terminated, *len bytes before the NUL; caller frees) on success,
 * NULL otherwise. For Query and Scan pages, whose items ddb_page_items
 * reads one at a time: a 1 MB page parsed whole is a tree of 25-60 MB.
 * The body is not checked before it is returned (the x-amz-crc32
 * checksum is), so a malformed one shows only when it is read. */
int ddb_call_raw(struct ddb_client *c, const char *op, json_t *request,
		 char **body, size_t *len, struct ddb_error *err);

/* Called with each item of a page (borrowed: freed when fn returns).
 * Return 0 to go on, a negative errno to stop with it. */
typedef int (*ddb_item_fn)(json_t *item, void *arg);

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

/* ListTables, every page (following LastEvaluatedTableName).
 * *names: new array of strings (caller decrefs). */
int ddb_list_tables(struct ddb_client *c, json_t **names,
		    struct ddb_error *err);

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

/* UpdateItem with a full request body (borrowed). *response (may be NULL):
 * new reference. */
int ddb_update_item(struct ddb_client *c, json_t *request, json_t **response,
		    struct ddb_error *err);

/* Called once per page with the page's response object (borrowed). Return 0
 * to go on, a positive value to stop early (ddb_query/ddb_scan then return
 * 0), a negative errno to stop with that error. Never called concurrently. */
typedef int (*ddb_page_fn)(json_t *page, void *arg);

/* Query, following LastEvaluatedKey through every page (request is borrowed
 * and not modified). */
int ddb_query(struct ddb_client *c, json_t *request, ddb_page_fn fn, void *arg,
	      struct ddb_error *err);

/* Scan, every page; with segments > 1 (at most 256, else -EINVAL) runs that
 * many parallel segments (threads; Segment/TotalSegments are set on copies of
 * request), each following its own LastEvaluatedKey; fn is still called
 * under a lock, one page at a time, in no set order. The first error (or a
 * positive return of fn) stops the other segments after their current page;
 * that error is returned, with its err. */
int ddb_scan(struct ddb_client *c, json_t *request, unsigned segments,
	     ddb_page_fn fn, void *arg, struct ddb_error *err);

/* BatchGetItem of keys (borrowed array of key maps, no duplicates) from one
 * table, in chunks of 100, re-sending UnprocessedKeys with back-off.
 * *items: new array of the items found, in no set order. -EAGAIN when
 * `retries` rounds in a row made no progress. */
int ddb_batch_get(struct ddb_client *c, const char *table, json_t *keys,
		  bool consistent, json_t **items, struct ddb_error *err);

/* BatchWriteItem of requests (borrowed array of {"PutRequest": ...} /
 * {"DeleteRequest": ...}) to one table, in chunks of 25, re-sending
 * UnprocessedItems with back-off until all are written; -EAGAIN when
 * `retries` rounds in a row made no progress. */
int ddb_batch_write(struct ddb_client *c, const char *table, json_t *requests,
		    struct ddb_error *err);

/* TransactWriteItems of items (borrowed array). client_token (may be NULL:
 * a random UUID is made, as botocore does) makes retries idempotent.
 * -ENOSYS when the server has no transactions (UnknownOperationException),
 * -EEXIST when a condition failed (TransactionCanceledException with a
 * ConditionalCheckFailed reason). */
int ddb_transact_write(struct ddb_client *c, json_t *items,
		       const char *client_token, struct ddb_error *err);

#endif
