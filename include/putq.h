/* putq.h - unconditional PutItems from many threads, grouped: puts that
 * arrive while others are on the wire go out together as one BatchWriteItem. */
#ifndef DYNAMOFS_PUTQ_H
#define DYNAMOFS_PUTQ_H

#include <jansson.h>
#include <stdbool.h>

#include "ddb.h"

/* How many requests (PutItem or BatchWriteItem) the queue keeps on the
 * wire at once; callers beyond that wait and are sent together. An
 * adaptive queue starts at PUTQ_IN_FLIGHT and moves between that and
 * PUTQ_IN_FLIGHT_MAX (see putq_new). */
#define PUTQ_IN_FLIGHT	   2
#define PUTQ_IN_FLIGHT_MAX 8
/* An adaptive queue's latency floor is the lowest latency of the
 * previous full window of this many requests and of the window so far:
 * 64 to 127 requests back. It counts requests, not time, so after a quiet
 * spell the floor is as old as the quiet. */
#define PUTQ_BASE_WINDOW 64
/* BatchWriteItem's limit. */
#define PUTQ_BATCH_MAX 25

/* The slot policy of an adaptive queue, apart so that it can be driven
 * with made-up latencies. Start from PUTQ_SLOTS_INIT. */
struct putq_slots {
	unsigned n; /* requests allowed on the wire */
	bool has_base;
	long long base_us;	 /* the latency floor */
	long long window_min_us; /* the lowest of the window so far */
	unsigned window_n;
};
#define PUTQ_SLOTS_INIT                                                        \
	{                                                                      \
		.n = PUTQ_IN_FLIGHT                                            \
	}

/* Takes one clean round trip of us microseconds (a request that the
 * server answered in full, nothing re-sent) into s: one slot more when it
 * took at most 1.5 times the floor, one fewer (down to PUTQ_IN_FLIGHT)
 * when it took longer. Pure. */
void putq_slots_observe(struct putq_slots *s, long long us);

struct putq;

/* Creates a queue sending through ddb (borrowed; must outlive the queue)
 * with at most in_flight requests at once, or, with in_flight 0, an
 * adaptive number (putq_slots_observe): one more after a request that took
 * at most 1.5 times the lowest latency seen lately (the server answered
 * without queueing it: the time was the network's, which more requests in
 * flight hide), one fewer after a slower one (requests wait for the
 * server's CPU, as on a local DynamoDB, where fewer, bigger batches cost
 * it less). Failed requests and those with items re-sent alone (their
 * time is back-off and extra requests, not the server's answer) are not
 * counted. Returns NULL
 * with errno ENOMEM. Caller frees with putq_free once no putq_put is
 * running. */
struct putq *putq_new(struct ddb_client *ddb, unsigned in_flight);
void putq_free(struct putq *q);

/* How many puts wait in q's queue, not yet taken into a request (the
 * callers blocked in putq_put behind the requests on the wire). For
 * diagnostics and for tests that must know a caller has arrived.
 * Thread-safe. */
size_t putq_queued(struct putq *q);

/* Stores item (borrowed, a full DynamoDB-JSON item) in table, whose key
 * attributes are hash_name and range_name (NULL for a hash-only table),
 * overwriting any item with its key, and returns when it is stored or
 * failed: 0, or the negative errno of ddb_put_item with err (may be NULL)
 * filled; -EINVAL when an argument but range_name is NULL. id
 * names the item's key uniquely within the table (a path): two puts of
 * one id never share a request, so the later one is applied last.
 *
 * Alone, a put is one PutItem, sent at once. Puts that arrive while
 * in_flight requests are out wait, then go out in arrival order as one
 * BatchWriteItem of up to PUTQ_BATCH_MAX (one table per request). Items
 * the server leaves unprocessed (found by key: the echo's text may differ)
 * are sent again alone (PutItem, with its retries); an unprocessed entry
 * that matches no put sent sends every put of the batch again alone, since
 * 0 is returned only for a put known stored. When a batch is refused for a
 * reason that may be one item's (validation, a missing table, size), each of
 * its items is sent again alone so that every caller gets its own answer; a
 * server that cannot be reached, throttling after the retries or missing
 * credentials fail them all. Thread-safe. */
int putq_put(struct putq *q, const char *table, const char *hash_name,
	     const char *range_name, json_t *item, const char *id,
	     struct ddb_error *err);

#endif
