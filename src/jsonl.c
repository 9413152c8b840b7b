/* jsonl.c - .items.jsonl read side: Scan segments (or one Query) on threads
 * of their own, one page ahead each, rendered straight to JSON lines. */
#include "jsonl.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dynbuf.h"
#include "log.h"

/* One Scan segment, or the Query. */
struct segment {
	struct jsonl_reader *r;
	unsigned index;
	pthread_t thread;
	bool started;
	bool done;	     /* its last page was fetched */
	bool ready;	     /* lines holds a page the reader has not taken */
	struct dynbuf lines; /* that page, rendered */
	json_t *start;	     /* the next page's ExclusiveStartKey */
	int error;
};

struct jsonl_reader {
	struct ddb_client *ddb;
	char *table;
	char *hash_name;
	char *range_name;
	struct codec_schema schema;
	json_t *hash_value;
	enum codec_format format;
	bool consistent;

	pthread_mutex_t lock;
	pthread_cond_t cond; /* a page is ready, taken, or closing */
	bool closing;
	unsigned total; /* segments of the Scan (1 for a Query) */
	unsigned running;
	unsigned next_take; /* round robin over the segments */
	unsigned taken;	    /* pages the reader has taken */
	unsigned pages;
	struct segment *seg;

	/* The page being read: stream bytes [base, base + cur.len). */
	struct dynbuf cur;
	off_t base;
	int error;
};

/* Renders one item of a page into the segment's lines. */
static int render_item(json_t *item, void *arg)
{
	struct segment *s = arg;

	return codec_render_line(item, &s->r->schema, s->r->format, &s->lines);
}

/* Fetches the segment's next page into s->lines; called without the lock
 * (only this thread touches lines and start while ready is false). */
static int fetch_page(struct segment *s)
{
	struct jsonl_reader *r = s->r;
	struct ddb_page_req req = {.table = r->table,
				   .hash_name = r->hash_name,
				   .hash_value = r->hash_value,
				   .read = DDB_READ_ITEMS,
				   .start = s->start,
				   .consistent = r->consistent};
	struct ddb_error err = {0};
	json_t *last = NULL;
	char *body = NULL;
	size_t len = 0;
	int rc;

	if (r->hash_value)
		rc = ddb_query_page(r->ddb, &req, &body, &len, &err);
	else
		rc = ddb_scan_page(r->ddb, &req, s->index, r->total, &body,
				   &len, &err);
	if (rc)
		return rc;
	s->lines.len = 0;
	rc = ddb_page_read(body, len, render_item, s, &last);
	free(body);
	if (rc == -EBADMSG) {
		log_msg(LOG_ERR, "%s: a malformed page from DynamoDB",
			r->table);
		rc = -EIO;
	}
	if (rc) {
		json_decref(last);
		return rc;
	}
	json_decref(s->start);
	s->start = last;
	if (!last)
		s->done = true;
	return 0;
}

static void *segment_main(void *arg)
{
	struct segment *s = arg;
	struct jsonl_reader *r = s->r;
	int rc;

	pthread_mutex_lock(&r->lock);
	while (!r->closing && !s->done && !s->error) {
		if (s->ready) {
			pthread_cond_wait(&r->cond, &r->lock);
			continue;
		}
		r->pages++;
		pthread_mutex_unlock(&r->lock);
		rc = fetch_page(s);
		pthread_mutex_lock(&r->lock);
		if (rc)
			s->error = rc;
		else
			s->ready = true;
		pthread_cond_broadcast(&r->cond);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* Starts the next segment's thread (under the lock). */
static int start_segment(struct jsonl_reader *r)
{
	struct segment *s = &r->seg[r->running];
	int rc;

	rc = pthread_create(&s->thread, NULL, segment_main, s);
	if (rc)
		return -rc;
	s->started = true;
	r->running++;
	return 0;
}

int jsonl_reader_open(struct ddb_client *ddb, const struct jsonl_source *src,
		      struct jsonl_reader **out)
{
	struct jsonl_reader *r;

	*out = NULL;
	if (!src->table || !src->schema.hash_name)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->ddb = ddb;
	r->table = strdup(src->table);
	r->hash_name = strdup(src->schema.hash_name);
	r->range_name =
	    src->schema.range_name ? strdup(src->schema.range_name) : NULL;
	r->schema = src->schema;
	r->schema.hash_name = r->hash_name;
	r->schema.range_name = r->range_name;
	r->hash_value =
	    src->hash_value ? json_deep_copy(src->hash_value) : NULL;
	r->format = src->format;
	r->consistent = src->consistent;
	r->total = src->hash_value ? 1
		   : src->segments ? src->segments
				   : JSONL_SEGMENTS;
	r->seg = calloc(r->total, sizeof(*r->seg));
	if (!r->table || !r->hash_name ||
	    (src->schema.range_name && !r->range_name) ||
	    (src->hash_value && !r->hash_value) || !r->seg) {
		jsonl_reader_close(r);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < r->total; i++) {
		r->seg[i].r = r;
		r->seg[i].index = i;
	}
	*out = r;
	return 0;
}

/* Takes the next ready page as the current one (under the lock), waiting
 * for one; starts segments as pages are taken. Returns 1 when a page was
 * taken, 0 at the end, or a negative errno. */
static int take_page(struct jsonl_reader *r)
{
	unsigned first =
	    r->total < JSONL_SEGMENTS_FIRST ? r->total : JSONL_SEGMENTS_FIRST;
	int rc;

	while (r->running < first)
		if ((rc = start_segment(r)) != 0)
			return rc;
	for (;;) {
		bool live = false;

		for (unsigned k = 0; k < r->running; k++) {
			struct segment *s =
			    &r->seg[(r->next_take + k) % r->running];

			if (s->error)
				return s->error;
			if (s->ready) {
				struct dynbuf t = r->cur;

				r->base += (off_t)r->cur.len;
				r->cur = s->lines;
				s->lines = t;
				s->lines.len = 0;
				s->ready = false;
				r->next_take = (s->index + 1) % r->running;
				/* One more segment for each page taken past
				 * the first ones, while there are segments
				 * left: a reader that stops early (head -1)
				 * has cost the first segments' pages only. */
				if (++r->taken >= JSONL_SEGMENTS_FIRST &&
				    r->running < r->total &&
				    (rc = start_segment(r)) != 0)
					return rc;
				pthread_cond_broadcast(&r->cond);
				return 1;
			}
			if (!s->done)
				live = true;
		}
		if (!live && r->running == r->total)
			return 0;
		if (!live && (rc = start_segment(r)) != 0)
			return rc;
		if (live)
			pthread_cond_wait(&r->cond, &r->lock);
	}
}

ssize_t jsonl_reader_read(struct jsonl_reader *r, char *buf, size_t size,
			  off_t offset)
{
	ssize_t got = 0;
	int rc;

	pthread_mutex_lock(&r->lock);
	if (r->error) {
		got = r->error;
		goto out;
	}
	if (offset < r->base) {
		got = -ESPIPE;
		goto out;
	}
	while (offset >= r->base + (off_t)r->cur.len) {
		rc = take_page(r);
		if (rc <= 0) {
			if (rc < 0)
				r->error = rc;
			got = rc;
			goto out;
		}
	}
	got = (ssize_t)((size_t)(r->base + (off_t)r->cur.len - offset) < size
			    ? (size_t)(r->base + (off_t)r->cur.len - offset)
			    : size);
	memcpy(buf, r->cur.p + (offset - r->base), (size_t)got);
out:
	pthread_mutex_unlock(&r->lock);
	return got;
}

unsigned jsonl_reader_pages(struct jsonl_reader *r)
{
	unsigned n;

	pthread_mutex_lock(&r->lock);
	n = r->pages;
	pthread_mutex_unlock(&r->lock);
	return n;
}

void jsonl_reader_close(struct jsonl_reader *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->closing = true;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	for (unsigned i = 0; r->seg && i < r->total; i++) {
		if (r->seg[i].started)
			pthread_join(r->seg[i].thread, NULL);
		dynbuf_free(&r->seg[i].lines);
		json_decref(r->seg[i].start);
	}
	free(r->seg);
	dynbuf_free(&r->cur);
	json_decref(r->hash_value);
	free(r->table);
	free(r->hash_name);
	free(r->range_name);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
}
