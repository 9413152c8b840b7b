/* putq.c - group commit for unconditional puts: whoever finds a free slot
 * sends what has queued up (one PutItem, or one BatchWriteItem), the rest wait.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "keyname.h"
#include "log.h"
#include "monotime.h"
#include "putq.h"

/* One caller's put, on its own stack while it waits. */
struct putq_req {
	const char *table;
	const char *hash_name, *range_name; /* the table's key attributes */
	json_t *item;
	const char *id;
	bool taken; /* in a request on the wire */
	bool done;
	int rc;
	struct ddb_error err;
	struct putq_req *next; /* q->head, or q->flying once taken */
};

struct putq {
	struct ddb_client *ddb;
	pthread_mutex_t lock;
	pthread_cond_t cond;   /* a request finished: results, a free slot */
	struct putq_req *head; /* waiting, not taken, in arrival order */
	struct putq_req **tail;
	struct putq_req *flying; /* taken, not yet done */
	unsigned in_flight;
	unsigned max_in_flight; /* fixed, or slots.n when adaptive */
	bool adaptive;
	struct putq_slots slots;
};

struct putq *putq_new(struct ddb_client *ddb, unsigned in_flight)
{
	struct putq *q = calloc(1, sizeof(*q));

	if (!q) {
		errno = ENOMEM;
		return NULL;
	}
	q->ddb = ddb;
	q->adaptive = in_flight == 0;
	q->slots = (struct putq_slots)PUTQ_SLOTS_INIT;
	q->max_in_flight = in_flight ? in_flight : q->slots.n;
	q->tail = &q->head;
	pthread_mutex_init(&q->lock, NULL);
	pthread_cond_init(&q->cond, NULL);
	return q;
}

void putq_free(struct putq *q)
{
	if (!q)
		return;
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

static bool id_in(struct putq_req *const *list, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(list[i]->id, id) == 0)
			return true;
	return false;
}

/* Takes the oldest waiting puts for one request: the first takeable one's
 * table, in order, up to the batch limit. A put whose id is on the wire,
 * in this batch or left waiting before it stays queued, so writes of one
 * item go out one after the other in arrival order. Call with q->lock
 * held; returns the count (0: nothing can go now), the puts in batch[]. */
static size_t take_batch(struct putq *q, struct putq_req **batch)
{
	struct putq_req *left[PUTQ_BATCH_MAX * 2];
	struct putq_req **pp = &q->head, *r;
	const char *table = NULL;
	size_t n = 0, n_left = 0;

	while ((r = *pp) && n < PUTQ_BATCH_MAX && n_left < PUTQ_BATCH_MAX * 2) {
		/* Taken puts, this batch's too, are on q->flying. */
		bool wait = id_in(left, n_left, r->id) ||
			    (table && strcmp(r->table, table) != 0);
		for (struct putq_req *f = q->flying; f && !wait; f = f->next)
			wait = strcmp(f->id, r->id) == 0;
		if (wait) {
			left[n_left++] = r;
			pp = &r->next;
			continue;
		}
		table = r->table;
		*pp = r->next;
		r->taken = true;
		r->next = q->flying;
		q->flying = r;
		batch[n++] = r;
	}
	q->tail = &q->head;
	while (*q->tail)
		q->tail = &(*q->tail)->next;
	return n;
}

static void put_alone(struct putq *q, struct putq_req *r)
{
	r->rc =
	    ddb_put_item(q->ddb, r->table, r->item, NULL, NULL, NULL, &r->err);
}

/* Whether attribute name has the same key value in a and b, compared as
 * DynamoDB does: numbers by value ("1.50" is "1.5"), binaries by bytes. */
static bool key_attr_equal(const json_t *a, const json_t *b, const char *name)
{
	struct keyname_key ka = {0}, kb = {0};
	bool eq;

	eq = keyname_key_from_json(json_object_get(a, name), &ka) == 0 &&
	     keyname_key_from_json(json_object_get(b, name), &kb) == 0 &&
	     ka.type == kb.type && ka.len == kb.len &&
	     memcmp(ka.value, kb.value, ka.len) == 0;
	keyname_key_free(&ka);
	keyname_key_free(&kb);
	return eq;
}

/* Marks in left[] the puts of batch[0..n) that the server handed back in
 * UnprocessedItems (unprocessed, the answer's, borrowed). The echo is found
 * by key, never by text: a server may give numbers back canonical and sets
 * in another order, and a put taken for stored that was not would be
 * acknowledged and lost. Returns false when some entry cannot be matched to
 * exactly one put (another table, no key, a key not sent, not the shape
 * DynamoDB sends): then nobody can tell which put it stands for, and the
 * caller must send every put of the batch again. An entry marks every put
 * with its key. */
static bool mark_unprocessed(json_t *unprocessed, struct putq_req **batch,
			     size_t n, bool *left)
{
	const char *table = batch[0]->table, *name;
	json_t *list, *entry;
	size_t i, k;
	bool ok = true;

	if (!unprocessed || json_is_null(unprocessed))
		return true;
	if (!json_is_object(unprocessed)) {
		log_msg(
		    LOG_WARNING,
		    "putq: UnprocessedItems of %s is not an object; sending the %zu puts again",
		    table, n);
		return false;
	}
	json_object_foreach(unprocessed, name, list)
	{
		if (strcmp(name, table) != 0) {
			log_msg(
			    LOG_WARNING,
			    "putq: UnprocessedItems names table %s, not %s; sending the %zu puts again",
			    name, table, n);
			ok = false;
			continue;
		}
		if (!json_is_array(list)) {
			log_msg(
			    LOG_WARNING,
			    "putq: UnprocessedItems of %s is not a list; sending the %zu puts again",
			    table, n);
			ok = false;
			continue;
		}
		json_array_foreach(list, i, entry)
		{
			json_t *item = json_object_get(
			    json_object_get(entry, "PutRequest"), "Item");
			bool found = false;

			/* Every put with that key (the server refuses a
			 * batch with one key twice, but a put is never
			 * acknowledged on that belief). */
			for (k = 0; item && k < n; k++)
				if (key_attr_equal(item, batch[k]->item,
						   batch[k]->hash_name) &&
				    (!batch[k]->range_name ||
				     key_attr_equal(item, batch[k]->item,
						    batch[k]->range_name)))
					found = left[k] = true;
			if (!found) {
				log_msg(
				    LOG_WARNING,
				    "putq: an unprocessed request of %s matches no put sent; sending the %zu puts again",
				    table, n);
				ok = false;
			}
		}
	}
	return ok;
}

/* Sends batch[0..n) as one request and fills in each result. Returns
 * true when that was one clean round trip: answered in full, nothing
 * re-sent, so its time is the server's (see putq_slots_observe). */
static bool send_batch(struct putq *q, struct putq_req **batch, size_t n)
{
	struct ddb_error err = {0};
	json_t *requests, *req = NULL, *resp = NULL;
	bool clean = true, all_again, left[PUTQ_BATCH_MAX] = {false};
	int rc;

	if (n == 1) {
		put_alone(q, batch[0]);
		return batch[0]->rc == 0 && batch[0]->err.attempts <= 1;
	}
	requests = json_array();
	rc = requests ? 0 : -ENOMEM;
	for (size_t i = 0; i < n && !rc; i++)
		if (json_array_append_new(requests,
					  json_pack("{s{sO}}", "PutRequest",
						    "Item", batch[i]->item)))
			rc = -ENOMEM;
	if (!rc) {
		req = json_pack("{s{sO}}", "RequestItems", batch[0]->table,
				requests);
		rc = req ? ddb_call(q->ddb, "BatchWriteItem", req, &resp, &err)
			 : -ENOMEM;
	}
	json_decref(requests);
	json_decref(req);
	if (!rc) {
		/* Stored, except what the server left unprocessed
		 * (throttling): those go again alone, with PutItem's own
		 * retries and back-off, so each learns its own outcome.
		 * Sending a stored put again is harmless (no later put of
		 * its id is on the wire while it flies); acknowledging an
		 * unstored one loses it. */
		all_again = !mark_unprocessed(
		    json_object_get(resp, "UnprocessedItems"), batch, n, left);
		for (size_t i = 0; i < n; i++) {
			if (all_again || left[i]) {
				put_alone(q, batch[i]);
				clean = false;
			} else {
				batch[i]->rc = 0;
			}
		}
		json_decref(resp);
		return clean && err.attempts <= 1;
	}
	if (rc == -EINVAL || rc == -ENOENT || rc == -EFBIG) {
		/* Perhaps one item's fault (ValidationException names none):
		 * each learns its own answer. Nothing of a refused batch was
		 * written. */
		log_msg(LOG_DEBUG,
			"putq: batch of %zu refused (%s), sending each alone",
			n, strerror(-rc));
		for (size_t i = 0; i < n; i++)
			put_alone(q, batch[i]);
		return false;
	}
	/* Unreachable server, throttling after the retries, credentials,
	 * memory: the same for every item. */
	for (size_t i = 0; i < n; i++) {
		batch[i]->rc = rc;
		batch[i]->err = err;
	}
	return false;
}

void putq_slots_observe(struct putq_slots *s, long long us)
{
	if (!s->has_base || us < s->base_us) {
		s->base_us = us;
		s->has_base = true;
	}
	if (!s->window_n++ || us < s->window_min_us)
		s->window_min_us = us;
	if (s->window_n == PUTQ_BASE_WINDOW) {
		/* Forget an old floor: the path to the server may change. */
		s->base_us = s->window_min_us;
		s->window_n = 0;
	}
	if (2 * us <= 3 * s->base_us) {
		if (s->n < PUTQ_IN_FLIGHT_MAX)
			s->n++;
	} else if (s->n > PUTQ_IN_FLIGHT) {
		s->n--;
	}
}

size_t putq_queued(struct putq *q)
{
	size_t n = 0;

	pthread_mutex_lock(&q->lock);
	for (struct putq_req *r = q->head; r; r = r->next)
		n++;
	pthread_mutex_unlock(&q->lock);
	return n;
}

int putq_put(struct putq *q, const char *table, const char *hash_name,
	     const char *range_name, json_t *item, const char *id,
	     struct ddb_error *err)
{
	struct putq_req me = {.table = table,
			      .hash_name = hash_name,
			      .range_name = range_name,
			      .item = item,
			      .id = id};
	struct putq_req *batch[PUTQ_BATCH_MAX];
	size_t n;
	long long t0;
	bool clean;

	if (!q || !table || !hash_name || !item || !id)
		return -EINVAL;
	pthread_mutex_lock(&q->lock);
	*q->tail = &me;
	q->tail = &me.next;
	while (!me.done) {
		n = 0;
		if (!me.taken && q->in_flight < q->max_in_flight && q->head)
			n = take_batch(q, batch);
		if (!n) {
			pthread_cond_wait(&q->cond, &q->lock);
			continue;
		}
		/* A free slot: send what is waiting, oldest first (which
		 * need not include this caller's put; the loop comes back). */
		q->in_flight++;
		pthread_mutex_unlock(&q->lock);
		t0 = monotime_us();
		clean = send_batch(q, batch, n);
		t0 = monotime_us() - t0;
		pthread_mutex_lock(&q->lock);
		q->in_flight--;
		if (q->adaptive && clean) {
			putq_slots_observe(&q->slots, t0);
			q->max_in_flight = q->slots.n;
		}
		for (size_t i = 0; i < n; i++) {
			struct putq_req **pp = &q->flying;
			while (*pp != batch[i])
				pp = &(*pp)->next;
			*pp = batch[i]->next;
			batch[i]->done = true;
		}
		pthread_cond_broadcast(&q->cond);
	}
	pthread_mutex_unlock(&q->lock);
	if (err)
		*err = me.err;
	return me.rc;
}
