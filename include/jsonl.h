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

/* How many Scan segments a table's file reads in parallel, and how many it
 * starts with: the others start once the reader has taken
 * JSONL_SEGMENTS_FIRST pages, so `head -1` of a table whose segments fit a
 * page each costs JSONL_SEGMENTS_FIRST Scans. */
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

/* Stops the segments' threads (a request on the wire is waited for) and
 * frees the reader. NULL is fine. */
void jsonl_reader_close(struct jsonl_reader *r);

/* ---- writing ------------------------------------------------------------ */

/* How many lines a writer keeps checked and waiting, past what is on the
 * wire; a write(2) that brings more waits for room (memory stays bounded
 * whatever the input's size). */
#define JSONL_QUEUE_LINES 1000
#define JSONL_QUEUE_BYTES (16u << 20)
/* The longest line taken: the longest text of one item's file. */
#define JSONL_LINE_MAX (CODEC_ITEM_MAX * 8)

/* Where a writer stores. Borrowed and copied by jsonl_writer_open. */
struct jsonl_target {
	const char *table;
	struct codec_schema schema;
	json_t *hash_value; /* a partition's file: every line's partition key
			       must be this ({"S":"x"}); NULL for a table's */
	enum codec_format format;
	const char *path; /* for log lines: "PATH line N: ..." */
	/* Called from the sending threads with each item once stored
	 * (borrowed), so the caller can drop what it cached of it. */
	void (*stored)(json_t *item, void *arg);
	void *arg;
	/* The most bytes of rejected lines kept for jsonl_writer_finish. */
	size_t rejected_max;
};

struct jsonl_writer;

int jsonl_writer_open(struct ddb_client *ddb, const struct jsonl_target *t,
		      struct jsonl_writer **out);

/* Takes len more bytes of the file, in order. Every complete line is
 * checked as an item file is (SPEC §5: JSON, types, sets, numbers, size)
 * and must hold the whole key (and, in a partition's file, its partition
 * key); a good line is queued for a BatchWriteItem, a bad one is logged
 * with its number and reason and kept for the rejected lines. Blank lines
 * are skipped. Blocks while JSONL_QUEUE_LINES wait. Returns 0 or -ENOMEM;
 * bad lines and failed requests are reported by jsonl_writer_finish. */
int jsonl_writer_add(struct jsonl_writer *w, const char *data, size_t len);

/* Takes the last line (one without a newline), sends what waits and
 * waits for every request. Returns 0 when every line since the last
 * finish is stored; -EINVAL when a line was bad (the good ones are
 * stored); else the error of the first failed request (after it, no more
 * lines are sent: they are all rejected). *rejected (caller frees with
 * dynbuf_free) receives every line not stored, bad or failed, in input
 * order, each ending in a newline; at most the target's rejected_max
 * bytes of them (the log says how many more were lost). The writer can take
 * more lines after. */
int jsonl_writer_finish(struct jsonl_writer *w, struct dynbuf *rejected);

/* Waits for what is on the wire and frees the writer. NULL is fine. */
void jsonl_writer_close(struct jsonl_writer *w);

#endif
