/* jsonl.h - the bulk file .items.jsonl (SPEC §3): a table's items from a
 * parallel Scan, or a partition's from a Query, streamed as JSON lines. */
#ifndef DYNAMOFS_JSONL_H
#define DYNAMOFS_JSONL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "codec.h"
#include "ddb.h"

/* How many Scan segments a table's file reads in parallel at most, and how
 * many it starts with: one more starts each time the reader has taken a
 * page past the first JSONL_SEGMENTS_FIRST - 1, so `head -1` of a table
 * whose segments fit a page each costs JSONL_SEGMENTS_FIRST Scans. */
#define JSONL_SEGMENTS	     8
#define JSONL_SEGMENTS_FIRST 2

/* What a reader reads. Every pointer is borrowed and copied by
 * jsonl_reader_open. */
struct jsonl_source {
	const char *table;
	struct codec_schema schema; /* key names and types, for key order */
	json_t *hash_value; /* a partition's key value ({"S":"x"}), or NULL
			       for the whole table */
	enum codec_format format;
	bool consistent;
	unsigned segments; /* Scan segments at most (0: JSONL_SEGMENTS) */
};

struct jsonl_reader;

/* Opens a reader. Sends nothing until the first jsonl_reader_read; then
 * each segment (the Query: one) has at most one page fetched ahead of
 * what the reader has taken, on a thread of its own. Returns 0 with *out
 * (caller closes with jsonl_reader_close), -EINVAL, -ENOMEM. */
int jsonl_reader_open(struct ddb_client *ddb, const struct jsonl_source *src,
		      struct jsonl_reader **out);

/* Copies up to size bytes of the stream from offset into buf: offset must
 * be at or after the start of the page the reader holds (a reader reads
 * on; going back further is -ESPIPE). Blocks for the next page. Returns
 * the bytes copied, 0 at the end, or the negative errno of a failed
 * request (logged by ddb.c); a failure is reported again on each call. */
ssize_t jsonl_reader_read(struct jsonl_reader *r, char *buf, size_t size,
			  off_t offset);

/* How many pages (requests) the reader has asked for: diagnostics, tests. */
unsigned jsonl_reader_pages(struct jsonl_reader *r);

/* Stops the segments' threads (a request on the wire is waited for) and
 * frees the reader. NULL is fine. */
void jsonl_reader_close(struct jsonl_reader *r);

#endif
