/* jsonl.c - .items.jsonl read side: Scan segments (or one Query) on threads
 * of their own, one page ahead each, rendered straight to JSON lines. */
#include "jsonl.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cond.h"
#include "ddbvalue.h"
#include "dynbuf.h"
#include "log.h"
#include "pathmap.h"
#include "putq.h"

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

/* What a reader or writer keeps of the table it works on (copies). */
struct jsonl_table {
	char *table;
	char *hash_name;
	char *range_name;
	struct codec_schema schema; /* names point at the copies above */
	json_t *hash_value;	    /* a partition's key value, or NULL */
	enum codec_format format;
};

/* Copies what names the table into t (zeroed). Returns 0 or -ENOMEM (t
 * is then half filled: table_free it). */
static int table_copy(struct jsonl_table *t, const char *table,
		      const struct codec_schema *schema, json_t *hash_value,
		      enum codec_format format)
{
	t->table = strdup(table);
	t->hash_name = strdup(schema->hash_name);
	t->range_name = schema->range_name ? strdup(schema->range_name) : NULL;
	t->schema = *schema;
	t->schema.hash_name = t->hash_name;
	t->schema.range_name = t->range_name;
	t->hash_value = hash_value ? json_deep_copy(hash_value) : NULL;
	t->format = format;
	return !t->table || !t->hash_name ||
		       (schema->range_name && !t->range_name) ||
		       (hash_value && !t->hash_value)
		   ? -ENOMEM
		   : 0;
}

static void table_free(struct jsonl_table *t)
{
	json_decref(t->hash_value);
	free(t->table);
	free(t->hash_name);
	free(t->range_name);
}

struct jsonl_reader {
	struct ddb_client *ddb;
	struct jsonl_table t;
	bool consistent;

	pthread_mutex_t lock;
	pthread_cond_t cond; /* a page is ready, taken, or closing */
	bool closing;
	unsigned total; /* segments of the Scan (1 for a Query) */
	unsigned running;
	unsigned next_take; /* round robin over the segments */
	unsigned taken;	    /* pages the reader has taken */
	struct segment *seg;

	/* The page being read: stream bytes [base, base + cur.len). */
	struct dynbuf cur;
	off_t base;
	int error;
};

/* Renders one item of a page (its bytes) into the segment's lines. */
static int render_item(const char *json, size_t len, void *arg)
{
	struct segment *s = arg;
	json_t *item;
	int rc;

	rc = codec_render_raw_line(json, len, &s->r->t.schema, s->r->t.format,
				   &s->lines);
	if (rc != -ENOTSUP)
		return rc;
	/* The page reader checked these bytes parse: a failure here is
	 * memory. */
	item = json_loadb(json, len, JSON_ALLOW_NUL, NULL);
	if (!item)
		return -ENOMEM;
	rc =
	    codec_render_line(item, &s->r->t.schema, s->r->t.format, &s->lines);
	json_decref(item);
	return rc;
}

/* Fetches the segment's next page into s->lines; called without the lock
 * (only this thread touches lines and start while ready is false). */
static int fetch_page(struct segment *s)
{
	struct jsonl_reader *r = s->r;
	struct ddb_page_req req = {.table = r->t.table,
				   .hash_name = r->t.hash_name,
				   .hash_value = r->t.hash_value,
				   .read = DDB_READ_ITEMS,
				   .start = s->start,
				   .consistent = r->consistent};
	struct ddb_error err = {0};
	json_t *last = NULL;
	char *body = NULL;
	size_t len = 0;
	int rc;

	if (r->t.hash_value)
		rc = ddb_query_page(r->ddb, &req, &body, &len, &err);
	else
		rc = ddb_scan_page(r->ddb, &req, s->index, r->total, &body,
				   &len, &err);
	if (rc)
		return rc;
	s->lines.len = 0;
	rc = ddb_page_read_raw(body, len, render_item, s, &last);
	free(body);
	if (rc == -EBADMSG) {
		log_msg(LOG_ERR, "%s: a malformed page from DynamoDB",
			r->t.table);
		rc = -EIO;
	}
	if (rc) {
		json_decref(last);
		return rc;
	}
	json_decref(s->start);
	s->start = last;
	/* 1: that was the last page; the caller marks the segment done
	 * under the lock, with the page ready, so the reader never sees
	 * "done" before the page. */
	return last ? 0 : 1;
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
		pthread_mutex_unlock(&r->lock);
		rc = fetch_page(s);
		pthread_mutex_lock(&r->lock);
		if (rc < 0) {
			s->error = rc;
		} else {
			s->ready = true;
			s->done = rc == 1;
		}
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
	int rc;

	*out = NULL;
	if (!src->table || !src->schema.hash_name)
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->ddb = ddb;
	rc = table_copy(&r->t, src->table, &src->schema, src->hash_value,
			src->format);
	r->consistent = src->consistent;
	r->total = src->hash_value ? 1
		   : src->segments ? src->segments
				   : JSONL_SEGMENTS;
	r->seg = calloc(r->total, sizeof(*r->seg));
	if (rc || !r->seg) {
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
				/* The other segments start once the reader
				 * has taken more than the first page: a
				 * reader that stops early (head -1) has cost
				 * the first segments' pages only, one that
				 * reads on gets every segment at once. */
				if (++r->taken >= JSONL_SEGMENTS_FIRST)
					while (r->running < r->total)
						if ((rc = start_segment(r)) !=
						    0)
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
	table_free(&r->t);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* ---- writing ------------------------------------------------------------ */

/* One good line, from its check to its request's answer. */
struct job {
	unsigned long number;
	char *text; /* the line, without its newline, for the rejected */
	size_t len;
	json_t *item;
	struct keyref *key;
	struct job *next;
};

/* A key with lines queued or on the wire, so that two lines of one key
 * never share a request or overtake each other. */
struct keyref {
	struct pathmap_node node; /* node.path is text */
	unsigned queued;	  /* lines of this key not yet answered */
	bool flying;		  /* one of them is on the wire */
	char text[];
};

/* A line not stored. */
struct reject {
	unsigned long number;
	char *text;
	size_t len;
};

struct jsonl_writer {
	struct ddb_client *ddb;
	struct jsonl_table t;
	char *path;
	void (*stored)(json_t *item, void *arg);
	void *arg;
	size_t rejected_max;

	/* the line being assembled (under no lock: add's caller only) */
	struct dynbuf partial;
	bool overlong;

	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool closing;
	unsigned long lines;
	struct job *head, *tail;
	size_t queued, queued_bytes;
	struct pathmap keys;
	unsigned flying; /* requests on the wire */
	bool draining;	 /* finish waits: send what is queued, full or not */
	struct putq_slots slots;
	pthread_t senders[PUTQ_IN_FLIGHT_MAX];
	unsigned n_senders;
	uint64_t rng;

	int error;     /* the first failed request's */
	bool bad_line; /* a line failed its check */
	struct reject *rej;
	size_t n_rej, cap_rej, rej_bytes, rej_lost;
};

/* The key of item as one text: the key attributes in schema order, each as
 * its type, its length and its value (numbers canonical: 1.0 and 1 are one
 * key), so equal keys give equal texts and no value can run into the next.
 * Returns 0 and *text (caller frees) or -ENOMEM / -EINVAL. */
static int key_part(struct dynbuf *b, const char *tag, const char *v,
		    size_t len)
{
	char head[64];

	snprintf(head, sizeof(head), "%s%zu:", tag, len);
	return dynbuf_adds(b, head) || dynbuf_add(b, v, len) ? -ENOMEM : 0;
}

static int key_text(const struct jsonl_writer *w, json_t *item, char **text)
{
	const char *names[2] = {w->t.hash_name, w->t.range_name};
	struct dynbuf b = {0};
	int rc = 0;

	for (int i = 0; i < 2 && !rc && names[i]; i++) {
		json_t *v = json_object_get(item, names[i]);
		const char *tag, *s;

		if (!json_is_object(v) || json_object_size(v) != 1)
			return -EINVAL;
		tag = json_object_iter_key(json_object_iter(v));
		s = json_string_value(
		    json_object_iter_value(json_object_iter(v)));
		if (!s)
			return -EINVAL;
		if (strcmp(tag, "N") == 0) {
			struct dynbuf num = {0};

			rc = ddbvalue_number_canonical(s, strlen(s), &num);
			if (!rc)
				rc = key_part(&b, tag, num.p, num.len);
			dynbuf_free(&num);
		} else {
			rc = key_part(&b, tag, s, strlen(s));
		}
	}
	if (rc) {
		dynbuf_free(&b);
		return rc;
	}
	*text = dynbuf_take(&b);
	return *text ? 0 : -ENOMEM;
}

/* Keeps a line not stored, for the rejected file (under the lock). */
static void reject_line(struct jsonl_writer *w, unsigned long number,
			const char *text, size_t len)
{
	struct reject *grown;

	if (w->rej_bytes + len + 1 > w->rejected_max)
		goto lost;
	if (w->n_rej == w->cap_rej) {
		size_t cap = w->cap_rej ? w->cap_rej * 2 : 64;

		grown = realloc(w->rej, cap * sizeof(*grown));
		if (!grown)
			goto lost;
		w->rej = grown;
		w->cap_rej = cap;
	}
	w->rej[w->n_rej].text = malloc(len + 1);
	if (!w->rej[w->n_rej].text)
		goto lost;
	memcpy(w->rej[w->n_rej].text, text, len);
	w->rej[w->n_rej].text[len] = '\n';
	w->rej[w->n_rej].len = len + 1;
	w->rej[w->n_rej].number = number;
	w->n_rej++;
	w->rej_bytes += len + 1;
	return;
lost:
	w->rej_lost++;
}

static void job_free(struct job *j)
{
	if (!j)
		return;
	json_decref(j->item);
	free(j->text);
	free(j);
}

/* Ends job j with rc (under the lock): its key is free again; a failed
 * line is kept for the rejected. */
static void job_done(struct jsonl_writer *w, struct job *j, int rc)
{
	struct keyref *k = j->key;

	k->flying = false;
	if (--k->queued == 0) {
		pathmap_remove(&w->keys, &k->node);
		free(k);
	}
	if (rc == -EINVAL) {
		/* The server refused this line alone (a check the codec
		 * cannot make, as an index key's type): a bad line, and the
		 * load goes on. */
		w->bad_line = true;
		reject_line(w, j->number, j->text, j->len);
	} else if (rc) {
		if (!w->error)
			w->error = rc;
		reject_line(w, j->number, j->text, j->len);
	}
	job_free(j);
}

/* Takes up to PUTQ_BATCH_MAX queued jobs whose keys are not on the wire,
 * in queue order (under the lock). */
static size_t take_jobs(struct jsonl_writer *w, struct job **batch)
{
	struct job **pp = &w->head, *prev = NULL;
	size_t n = 0;

	while (*pp && n < PUTQ_BATCH_MAX) {
		struct job *j = *pp;

		if (j->key->flying) {
			prev = j;
			pp = &j->next;
			continue;
		}
		j->key->flying = true;
		*pp = j->next;
		if (w->tail == j)
			w->tail = prev;
		j->next = NULL;
		w->queued--;
		w->queued_bytes -= j->len;
		batch[n++] = j;
	}
	return n;
}

/* Whether a request should go now: a full batch of jobs whose keys are
 * not on the wire is queued, or finish (or close) waits for everything. */
static bool job_ready(struct jsonl_writer *w)
{
	unsigned n = 0;

	for (struct job *j = w->head; j; j = j->next)
		if (!j->key->flying && ++n >= PUTQ_BATCH_MAX)
			return true;
	/* Fewer: only when nothing more can come (finish, close, or the
	 * queue at its bound, where add waits for room). */
	return n > 0 &&
	       (w->draining || w->closing || w->queued >= JSONL_QUEUE_LINES ||
		w->queued_bytes >= JSONL_QUEUE_BYTES);
}

/* One BatchWriteItem of batch[0..n); rc[i] set per job: 0 stored, or an
 * errno. Items the server leaves unprocessed go again after a back-off. */
static void send_jobs(struct jsonl_writer *w, struct job **batch, size_t n,
		      int *rc)
{
	bool left[PUTQ_BATCH_MAX];
	unsigned attempt = 0;

	for (size_t i = 0; i < n; i++) {
		left[i] = true;
		rc[i] = 0;
	}
	for (;;) {
		struct ddb_error err = {0};
		json_t *reqs = json_array(), *req = NULL, *resp = NULL;
		json_t *unproc;
		size_t sent = 0, i;
		int r = reqs ? 0 : -ENOMEM;

		for (i = 0; i < n && !r; i++) {
			if (!left[i])
				continue;
			sent++;
			if (json_array_append_new(
				reqs, json_pack("{s{sO}}", "PutRequest", "Item",
						batch[i]->item)))
				r = -ENOMEM;
		}
		if (!r) {
			req = json_pack("{s{sO}}", "RequestItems", w->t.table,
					reqs);
			r = req ? ddb_call(w->ddb, "BatchWriteItem", req, &resp,
					   &err)
				: -ENOMEM;
		}
		json_decref(reqs);
		json_decref(req);
		if (r == -EINVAL && sent > 1) {
			/* Perhaps one line's fault: each goes alone, so
			 * each line learns its own answer. */
			for (i = 0; i < n; i++) {
				if (left[i])
					send_jobs(w, &batch[i], 1, &rc[i]);
			}
			return;
		}
		if (r) {
			for (i = 0; i < n; i++)
				if (left[i])
					rc[i] = r;
			json_decref(resp);
			return;
		}
		unproc = json_object_get(
		    json_object_get(resp, "UnprocessedItems"), w->t.table);
		for (i = 0; i < n; i++) {
			bool again = false;
			size_t u;
			json_t *e;

			if (!left[i])
				continue;
			json_array_foreach(unproc, u, e)
			{
				char *kt = NULL;
				json_t *item = json_object_get(
				    json_object_get(e, "PutRequest"), "Item");

				if (item && key_text(w, item, &kt) == 0 &&
				    strcmp(kt, batch[i]->key->text) == 0)
					again = true;
				free(kt);
			}
			if (!again) {
				left[i] = false;
				if (w->stored)
					w->stored(batch[i]->item, w->arg);
			}
		}
		json_decref(resp);
		if (json_array_size(unproc) == 0)
			return;
		if (++attempt > 10) {
			for (i = 0; i < n; i++)
				if (left[i])
					rc[i] = -EAGAIN;
			return;
		}
		pthread_mutex_lock(&w->lock);
		{
			unsigned ms =
			    ddb_backoff_ms(attempt, &w->rng, 50, 5000);

			pthread_mutex_unlock(&w->lock);
			struct timespec ts = {ms / 1000,
					      (long)(ms % 1000) * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
}

static void *sender_main(void *arg)
{
	struct jsonl_writer *w = arg;
	struct job *batch[PUTQ_BATCH_MAX];
	int rc[PUTQ_BATCH_MAX];

	pthread_mutex_lock(&w->lock);
	for (;;) {
		size_t n;

		while (!w->closing &&
		       !(job_ready(w) && (w->error || w->flying < w->slots.n)))
			pthread_cond_wait(&w->cond, &w->lock);
		if (w->closing && !w->head)
			break;
		n = take_jobs(w, batch);
		if (n == 0)
			continue;
		if (w->error) {
			/* After a failed request nothing more is sent: the
			 * lines are kept, in order, with the others. */
			for (size_t i = 0; i < n; i++) {
				log_msg(
				    LOG_ERR,
				    "%s line %lu: not sent after the failure above",
				    w->path, batch[i]->number);
				job_done(w, batch[i], w->error);
			}
			pthread_cond_broadcast(&w->cond);
			continue;
		}
		w->flying++;
		pthread_mutex_unlock(&w->lock);
		{
			struct timespec t0, t1;
			bool clean;

			clock_gettime(CLOCK_MONOTONIC, &t0);
			send_jobs(w, batch, n, rc);
			clock_gettime(CLOCK_MONOTONIC, &t1);
			clean = true;
			for (size_t i = 0; i < n; i++)
				if (rc[i])
					clean = false;
			pthread_mutex_lock(&w->lock);
			if (clean)
				putq_slots_observe(
				    &w->slots,
				    (t1.tv_sec - t0.tv_sec) * 1000000LL +
					(t1.tv_nsec - t0.tv_nsec) / 1000);
		}
		w->flying--;
		for (size_t i = 0; i < n; i++) {
			if (rc[i])
				log_msg(LOG_ERR, "%s line %lu: not stored (%s)",
					w->path, batch[i]->number,
					strerror(-rc[i]));
			job_done(w, batch[i], rc[i]);
		}
		pthread_cond_broadcast(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

/* Checks one line as an item file is checked, plus the whole key (and a
 * partition file's partition key). Returns 0 and *item, or -EINVAL /
 * -EFBIG with why filled. */
static int check_line(struct jsonl_writer *w, const char *text, size_t len,
		      json_t **item, char *why, size_t whylen)
{
	struct codec_error cerr = {0};
	const char *names[2] = {w->t.hash_name, w->t.range_name};
	json_t *key = NULL;
	int rc;

	*item = NULL;
	rc = codec_parse(text, len, w->t.format, item, &cerr);
	if (rc) {
		codec_strerror(&cerr, why, whylen);
		return rc;
	}
	key = json_object();
	rc = key ? 0 : -ENOMEM;
	for (int i = 0; i < 2 && !rc && names[i]; i++) {
		json_t *v = json_object_get(*item, names[i]);

		if (!v) {
			snprintf(
			    why, whylen,
			    "the key attribute \"%s\" is missing (each line holds the whole key)",
			    names[i]);
			rc = -EINVAL;
		} else if (json_object_set(key, names[i], v)) {
			rc = -ENOMEM;
		}
	}
	if (!rc) {
		rc = codec_apply_key(*item, &w->t.schema, key, &cerr);
		if (rc)
			codec_strerror(&cerr, why, whylen);
	}
	if (!rc && w->t.hash_value &&
	    !cond_value_equal(json_object_get(*item, w->t.hash_name),
			      w->t.hash_value)) {
		snprintf(
		    why, whylen,
		    "its \"%s\" is not this partition's (the directory's) key",
		    w->t.hash_name);
		rc = -EINVAL;
	}
	json_decref(key);
	if (rc) {
		json_decref(*item);
		*item = NULL;
	}
	return rc;
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* Checks the assembled line and queues it, or keeps it as rejected. */
static int take_line(struct jsonl_writer *w)
{
	const char *text = w->partial.p ? w->partial.p : "";
	size_t len = w->partial.len;
	unsigned long number;
	struct job *j = NULL;
	struct keyref *k;
	char why[512] = "", *kt = NULL;
	json_t *item = NULL;
	int rc;

	pthread_mutex_lock(&w->lock);
	number = ++w->lines;
	pthread_mutex_unlock(&w->lock);
	if (w->overlong) {
		snprintf(why, sizeof(why), "longer than %u bytes",
			 JSONL_LINE_MAX);
		rc = -EFBIG;
	} else if (blank(text, len)) {
		return 0;
	} else {
		rc = check_line(w, text, len, &item, why, sizeof(why));
	}
	if (!rc)
		rc = key_text(w, item, &kt);
	if (rc == -ENOMEM)
		goto out;
	if (rc) {
		log_msg(LOG_ERR, "%s line %lu: not stored: %s", w->path, number,
			why);
		pthread_mutex_lock(&w->lock);
		w->bad_line = true;
		reject_line(w, number, text, len);
		pthread_mutex_unlock(&w->lock);
		rc = 0;
		goto out;
	}
	rc = -ENOMEM;
	j = calloc(1, sizeof(*j));
	if (!j || !(j->text = malloc(len ? len : 1)))
		goto out;
	memcpy(j->text, text, len);
	j->len = len;
	j->number = number;
	j->item = item;
	item = NULL;
	pthread_mutex_lock(&w->lock);
	while (!w->closing && (w->queued >= JSONL_QUEUE_LINES ||
			       w->queued_bytes >= JSONL_QUEUE_BYTES))
		pthread_cond_wait(&w->cond, &w->lock);
	{
		size_t klen = strlen(kt);
		struct pathmap_node *node =
		    pathmap_find(&w->keys, kt, klen, pathmap_hash(kt, klen));

		if (node) {
			k = pathmap_entry(node, struct keyref, node);
		} else {
			k = calloc(1, sizeof(*k) + klen + 1);
			if (!k) {
				pthread_mutex_unlock(&w->lock);
				goto out;
			}
			memcpy(k->text, kt, klen + 1);
			k->node.path = k->text;
			k->node.len = klen;
			k->node.hash = pathmap_hash(kt, klen);
			pathmap_insert(&w->keys, &k->node);
		}
	}
	k->queued++;
	j->key = k;
	if (w->tail)
		w->tail->next = j;
	else
		w->head = j;
	w->tail = j;
	w->queued++;
	w->queued_bytes += len;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	j = NULL;
	rc = 0;
out:
	free(kt);
	json_decref(item);
	job_free(j);
	return rc;
}

int jsonl_writer_add(struct jsonl_writer *w, const char *data, size_t len)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;
		int rc;

		if (!w->overlong) {
			if (w->partial.len + n > JSONL_LINE_MAX) {
				w->overlong = true;
			} else if (dynbuf_add(&w->partial, data, n)) {
				return -ENOMEM;
			}
		}
		if (!nl)
			break;
		rc = take_line(w);
		w->partial.len = 0;
		w->overlong = false;
		if (rc)
			return rc;
		data += n + 1;
		len -= n + 1;
	}
	return 0;
}

static int by_number(const void *a, const void *b)
{
	const struct reject *x = a, *y = b;

	return x->number < y->number ? -1 : x->number > y->number;
}

int jsonl_writer_finish(struct jsonl_writer *w, struct dynbuf *rejected)
{
	int rc = 0;

	memset(rejected, 0, sizeof(*rejected));
	if (w->partial.len > 0 || w->overlong) {
		rc = take_line(w);
		w->partial.len = 0;
		w->overlong = false;
	}
	pthread_mutex_lock(&w->lock);
	w->draining = true;
	pthread_cond_broadcast(&w->cond);
	while (w->head || w->flying)
		pthread_cond_wait(&w->cond, &w->lock);
	w->draining = false;
	if (!rc)
		rc = w->error ? w->error : w->bad_line ? -EINVAL : 0;
	if (w->n_rej > 1)
		qsort(w->rej, w->n_rej, sizeof(*w->rej), by_number);
	for (size_t i = 0; i < w->n_rej; i++) {
		if (dynbuf_add(rejected, w->rej[i].text, w->rej[i].len))
			w->rej_lost++;
		free(w->rej[i].text);
	}
	if (w->rej_lost)
		log_msg(
		    LOG_ERR,
		    "%s: %zu more lines were not stored and could not be kept (no room)",
		    w->path, w->rej_lost);
	w->n_rej = 0;
	w->rej_bytes = 0;
	w->rej_lost = 0;
	w->error = 0;
	w->bad_line = false;
	pthread_mutex_unlock(&w->lock);
	return rc;
}

int jsonl_writer_open(struct ddb_client *ddb, const struct jsonl_target *t,
		      struct jsonl_writer **out)
{
	struct jsonl_writer *w;
	struct timespec now;
	int rc;

	*out = NULL;
	if (!t->table || !t->schema.hash_name)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->ddb = ddb;
	rc = table_copy(&w->t, t->table, &t->schema, t->hash_value, t->format);
	w->path = strdup(t->path ? t->path : t->table);
	w->stored = t->stored;
	w->arg = t->arg;
	w->rejected_max = t->rejected_max;
	/* A bulk load has its batches waiting from the start: it begins
	 * with every slot open and lets the policy take them back when
	 * answers slow down (a busy local server), where the item queue
	 * starts at two and a short load ends before it has climbed. */
	w->slots = (struct putq_slots)PUTQ_SLOTS_INIT;
	w->slots.n = PUTQ_IN_FLIGHT_MAX;
	clock_gettime(CLOCK_MONOTONIC, &now);
	w->rng = (uint64_t)now.tv_nsec * 2654435761u + 1;
	if (rc || !w->path || pathmap_init(&w->keys, 64) != 0) {
		jsonl_writer_close(w);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < PUTQ_IN_FLIGHT_MAX; i++) {
		if (pthread_create(&w->senders[i], NULL, sender_main, w) != 0)
			break;
		w->n_senders++;
	}
	if (w->n_senders == 0) {
		jsonl_writer_close(w);
		return -EAGAIN;
	}
	*out = w;
	return 0;
}

void jsonl_writer_close(struct jsonl_writer *w)
{
	struct pathmap_node *n;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->closing = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (unsigned i = 0; i < w->n_senders; i++)
		pthread_join(w->senders[i], NULL);
	while (w->head) {
		struct job *j = w->head;

		w->head = j->next;
		job_free(j);
	}
	while ((n = pathmap_next(&w->keys, NULL)) != NULL) {
		pathmap_remove(&w->keys, n);
		free(pathmap_entry(n, struct keyref, node));
	}
	pathmap_free(&w->keys);
	for (size_t i = 0; i < w->n_rej; i++)
		free(w->rej[i].text);
	free(w->rej);
	dynbuf_free(&w->partial);
	table_free(&w->t);
	free(w->path);
	pthread_cond_destroy(&w->cond);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
