/* test_putq.c - grouped unconditional puts against fakehttp playing DynamoDB:
 * a put alone is one PutItem, puts that wait for a slot go out as one
 * BatchWriteItem (one table, no id twice, at most 25), a batch that fails
 * for one item's reason is re-sent item by item, a server error fails all,
 * an adaptive queue opens slots only while the server keeps up. */
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <time.h>

#include "config.h"
#include "creds.h"
#include "ddb.h"
#include "ddbenv.h"
#include "fakehttp.h"
#include "http.h"
#include "putq.h"
#include "tap.h"

#define TARGET "DynamoDB_20120810."

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Waits until the server has logged at least n requests (so that they are
 * on the wire); false after 5 s. */
static bool wait_requests(const struct fakehttp *f, int n)
{
	for (int i = 0; i < 500; i++) {
		if (fakehttp_count(f) >= n)
			return true;
		sleep_ms(10);
	}
	return false;
}

/* --- callers on their own threads ---------------------------------------- */

/* One caller: puts {pk: key, v: value} into table under id key. */
struct job {
	struct putq *q;
	const char *table;
	char key[32];
	char value[32];
	json_t *item;
	const char *range;	 /* the table's range key attribute, or NULL */
	pthread_barrier_t *gate; /* waited on before putting, or NULL */
	pthread_t thread;
	bool started;
	int rc;
	struct ddb_error err;
};

static void *job_run(void *arg)
{
	struct job *j = arg;

	if (j->gate)
		pthread_barrier_wait(j->gate);
	j->rc =
	    putq_put(j->q, j->table, "pk", j->range, j->item, j->key, &j->err);
	return NULL;
}

static void job_init(struct job *j, struct putq *q, const char *table,
		     const char *key, const char *value)
{
	memset(j, 0, sizeof(*j));
	j->q = q;
	j->table = table;
	snprintf(j->key, sizeof(j->key), "%s", key);
	snprintf(j->value, sizeof(j->value), "%s", value);
	j->item = json_pack("{s:{s:s}, s:{s:s}}", "pk", "S", j->key, "v", "S",
			    j->value);
	j->rc = 1; /* not returned yet */
}

static void job_start(struct job *j)
{
	j->started = pthread_create(&j->thread, NULL, job_run, j) == 0;
	CHECK(j->started);
}

/* Starts n callers one after the other, each once the one before waits in
 * the queue (putq_queued counts it), so that they arrive in this order and
 * wait behind whatever holds the wire. The queue must hold no other put. */
static void queue_jobs(struct job *j, int n)
{
	for (int i = 0; i < n; i++) {
		job_start(&j[i]);
		for (int t = 0; t < 10000 && j[i].started &&
				putq_queued(j[i].q) < (size_t)i + 1;
		     t++)
			sleep_ms(1);
		CHECK_INT(putq_queued(j[i].q), i + 1);
	}
}

static void job_join(struct job *j)
{
	if (j->started)
		pthread_join(j->thread, NULL);
	j->started = false;
	json_decref(j->item);
	j->item = NULL;
}

/* --- what the server received --------------------------------------------- */

#define MAX_REQS  64
#define MAX_ITEMS 32

/* One logged request, decoded: its operation, the tables it names and the
 * items (pk and v) it puts, in order. */
struct req {
	char op[32];
	int n_tables;
	char table[32];
	int n_items;
	char pk[MAX_ITEMS][32];
	char v[MAX_ITEMS][32];
	long inflight;
};

static void add_item(struct req *r, json_t *item)
{
	const char *pk = json_string_value(
	    json_object_get(json_object_get(item, "pk"), "S"));
	const char *v =
	    json_string_value(json_object_get(json_object_get(item, "v"), "S"));

	if (r->n_items >= MAX_ITEMS)
		return;
	snprintf(r->pk[r->n_items], sizeof(r->pk[0]), "%s", pk ? pk : "?");
	snprintf(r->v[r->n_items], sizeof(r->v[0]), "%s", v ? v : "?");
	r->n_items++;
}

/* The Item of the i-th {"PutRequest": {"Item": ...}} of writes. */
static json_t *put_request_item(json_t *writes, size_t i)
{
	return json_object_get(
	    json_object_get(json_array_get(writes, i), "PutRequest"), "Item");
}

/* Reads the server's log into reqs[]; returns how many requests. */
static int read_log(const struct fakehttp *f, struct req *reqs)
{
	char *log = fakehttp_log(f), *line, *save = NULL;
	json_t *gate = json_string("release-gate");
	int n = 0;

	for (line = log ? strtok_r(log, "\n", &save) : NULL;
	     line && n < MAX_REQS; line = strtok_r(NULL, "\n", &save)) {
		json_t *entry = json_loads(line, 0, NULL), *body;
		struct req *r = &reqs[n++];
		const char *target = json_string_value(json_object_get(
		    json_object_get(entry, "headers"), "x-amz-target"));

		memset(r, 0, sizeof(*r));
		snprintf(r->op, sizeof(r->op), "%s",
			 target && !strncmp(target, TARGET, strlen(TARGET))
			     ? target + strlen(TARGET)
			     : "?");
		r->inflight = (long)json_integer_value(
		    json_object_get(entry, "inflight"));
		body = json_loads(
		    json_string_value(json_object_get(entry, "body")), 0, NULL);
		if (!strcmp(r->op, "PutItem")) {
			const char *t = json_string_value(
			    json_object_get(body, "TableName"));

			r->n_tables = t ? 1 : 0;
			snprintf(r->table, sizeof(r->table), "%s", t ? t : "");
			add_item(r, json_object_get(body, "Item"));
		} else if (!strcmp(r->op, "BatchWriteItem")) {
			json_t *tables = json_object_get(body, "RequestItems");

			for (void *it = json_object_iter(tables); it;
			     it = json_object_iter_next(tables, it)) {
				json_t *writes = json_object_iter_value(it);

				if (r->n_tables++ == 0)
					snprintf(r->table, sizeof(r->table),
						 "%s",
						 json_object_iter_key(it));
				for (size_t i = 0; i < json_array_size(writes);
				     i++)
					add_item(r,
						 put_request_item(writes, i));
			}
		}
		/* release_holders' request is not the queue's. */
		if (!strcmp(r->op, "DescribeTable") &&
		    json_equal(json_object_get(body, "TableName"), gate))
			n--;
		json_decref(body);
		json_decref(entry);
	}
	json_decref(gate);
	free(log);
	return n;
}

/* How many times pk (with value v, or any value when v is NULL) was sent,
 * in any request; *first gets the index of the first such request (-1). */
static int times_sent(const struct req *reqs, int n, const char *pk,
		      const char *v, int *first)
{
	int count = 0;

	if (first)
		*first = -1;
	for (int i = 0; i < n; i++)
		for (int k = 0; k < reqs[i].n_items; k++)
			if (!strcmp(reqs[i].pk[k], pk) &&
			    (!v || !strcmp(reqs[i].v[k], v))) {
				if (first && *first < 0)
					*first = i;
				count++;
			}
	return count;
}

/* True when some request carries two items with the same pk. */
static bool any_pk_twice(const struct req *reqs, int n)
{
	for (int i = 0; i < n; i++)
		for (int a = 0; a < reqs[i].n_items; a++)
			for (int b = a + 1; b < reqs[i].n_items; b++)
				if (!strcmp(reqs[i].pk[a], reqs[i].pk[b]))
					return true;
	return false;
}

static void dump_log(const struct req *reqs, int n)
{
	for (int i = 0; i < n; i++) {
		printf("#     request %d: %s %s inflight=%ld items:", i,
		       reqs[i].op, reqs[i].table, reqs[i].inflight);
		for (int k = 0; k < reqs[i].n_items; k++)
			printf(" %s=%s", reqs[i].pk[k], reqs[i].v[k]);
		printf("\n");
	}
}

/* --- (1) a put alone ---------------------------------------------------- */

static void test_alone(void)
{
	struct env e;
	struct ddb_error err;
	struct putq *q;
	json_t *item = json_pack("{s:{s:s}, s:{s:s}}", "pk", "S", "/a/b", "v",
				 "S", "hello"),
	       *body, *entry;
	char *log;

	CHECK_INT(env_start(&e, "[{\"body\": {}}]", 10), 0);
	q = putq_new(e.ddb, PUTQ_IN_FLIGHT);
	CHECK(q != NULL);
	memset(&err, 0xff, sizeof(err));
	CHECK_INT(putq_put(q, "Devices", "pk", NULL, item, "/a/b", &err), 0);
	CHECK_INT(err.http_status, 200);
	CHECK_INT(err.attempts, 1);
	CHECK_INT(fakehttp_count(&e.f), 1);
	log = fakehttp_log(&e.f);
	entry = log ? json_loads(log, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
	CHECK_STR(json_string_value(json_object_get(
		      json_object_get(entry, "headers"), "x-amz-target")),
		  TARGET "PutItem");
	body = json_loads(json_string_value(json_object_get(entry, "body")), 0,
			  NULL);
	CHECK_STR(json_string_value(json_object_get(body, "TableName")),
		  "Devices");
	CHECK(json_equal(json_object_get(body, "Item"), item));
	/* Unconditional: nothing but the table and the item. */
	CHECK_INT(json_object_size(body), 2);
	json_decref(body);
	json_decref(entry);
	free(log);

	/* A second put, after the first returned, is alone too. */
	CHECK_INT(putq_put(q, "Devices", "pk", NULL, item, "/a/b", NULL), 0);
	CHECK_INT(fakehttp_count(&e.f), 2);
	putq_free(q);
	json_decref(item);
	env_stop(&e);
}

/* --- (2) concurrent puts are grouped ------------------------------------- */

static void test_grouped(void)
{
	static const struct {
		unsigned in_flight; /* given to putq_new */
		int max_inflight;   /* what the server may see at once */
		int threads;
	} cases[] = {
	    {PUTQ_IN_FLIGHT, PUTQ_IN_FLIGHT, 8},
	    {1, 1, 8},
	    {3, 3, 12},
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct env e;
		struct putq *q;
		struct job jobs[16];
		struct req reqs[MAX_REQS];
		pthread_barrier_t gate;
		int n, n_threads = cases[c].threads, biggest = 0;
		long max_inflight = 0;

		printf("# in_flight %u, %d threads\n", cases[c].in_flight,
		       n_threads);
		CHECK_INT(
		    env_start(&e, "[{\"delay_ms\": 150, \"body\": {}}]", 10),
		    0);
		q = putq_new(e.ddb, cases[c].in_flight);
		CHECK(q != NULL);
		pthread_barrier_init(&gate, NULL, (unsigned)n_threads);
		for (int i = 0; i < n_threads; i++) {
			char key[32], value[32];

			snprintf(key, sizeof(key), "/dir/item-%02d", i);
			snprintf(value, sizeof(value), "value %d", i);
			job_init(&jobs[i], q, "T", key, value);
			jobs[i].gate = &gate;
			job_start(&jobs[i]);
		}
		for (int i = 0; i < n_threads; i++)
			job_join(&jobs[i]);
		pthread_barrier_destroy(&gate);

		n = read_log(&e.f, reqs);
		for (int i = 0; i < n_threads; i++) {
			CHECK_INT(jobs[i].rc, 0);
			CHECK_INT(times_sent(reqs, n, jobs[i].key,
					     jobs[i].value, NULL),
				  1);
			CHECK_INT(times_sent(reqs, n, jobs[i].key, NULL, NULL),
				  1);
		}
		for (int i = 0; i < n; i++) {
			CHECK(!strcmp(reqs[i].op, "PutItem") ||
			      !strcmp(reqs[i].op, "BatchWriteItem"));
			/* A PutItem for one, a batch for several. */
			CHECK(!strcmp(reqs[i].op, "PutItem")
				  ? reqs[i].n_items == 1
				  : reqs[i].n_items >= 2);
			if (!strcmp(reqs[i].op, "BatchWriteItem") &&
			    reqs[i].n_items > biggest)
				biggest = reqs[i].n_items;
			if (reqs[i].inflight > max_inflight)
				max_inflight = reqs[i].inflight;
		}
		CHECK(biggest >= 2);
		CHECK(max_inflight <= cases[c].max_inflight);
		CHECK(n < n_threads);
		if (tap_failed_checks)
			dump_log(reqs, n);
		putq_free(q);
		env_stop(&e);
	}
}

/* --- (2b) an adaptive queue -------------------------------------------- */

/* The slot policy alone, on made-up latencies (us): where the slot count
 * ends after each sequence. */
static void test_slots(void)
{
	static const struct {
		const char *name;
		long long us[8];
		int n_us;
		int repeat; /* the sequence, this many times */
		unsigned want;
	} cases[] = {
	    {"steady latency opens every slot",
	     {5000},
	     1,
	     20,
	     PUTQ_IN_FLIGHT_MAX},
	    {"within 1.5x of the floor counts as steady",
	     {5000, 7500},
	     2,
	     10,
	     PUTQ_IN_FLIGHT_MAX},
	    {"beyond it, as slow", {5000, 7600}, 2, 10, PUTQ_IN_FLIGHT},
	    {"latency growing with load closes them again",
	     {300, 300, 300, 300, 1000, 1000, 1000, 1000},
	     8,
	     1,
	     PUTQ_IN_FLIGHT},
	    {"... one at a time",
	     {300, 300, 300, 300, 1000, 1000},
	     6,
	     1,
	     PUTQ_IN_FLIGHT + 2},
	    {"never below PUTQ_IN_FLIGHT", {300, 2000}, 2, 10, PUTQ_IN_FLIGHT},
	    {"one slot more, one fewer", {1000, 5000}, 2, 5, PUTQ_IN_FLIGHT},
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct putq_slots s = PUTQ_SLOTS_INIT;

		for (int r = 0; r < cases[c].repeat; r++)
			for (int i = 0; i < cases[c].n_us; i++)
				putq_slots_observe(&s, cases[c].us[i]);
		printf("# %s: %u\n", cases[c].name, s.n);
		CHECK_INT(s.n, cases[c].want);
	}
}

/* The floor is the lowest latency of the last 64-127 requests: after a
 * change of route that made every answer slower for good, the old floor
 * is forgotten and the queue opens its slots again. */
static void test_slots_window(void)
{
	struct putq_slots s = PUTQ_SLOTS_INIT;
	int i;

	for (i = 0; i < 20; i++)
		putq_slots_observe(&s, 300);
	CHECK_INT(s.n, PUTQ_IN_FLIGHT_MAX);
	/* Now 10 ms, far above 1.5x 300 us: the slots close, one a request,
	 * and stay closed while a window holding the fast answers is the
	 * floor's: until the window after theirs ends, 2 * PUTQ_BASE_WINDOW
	 * requests after the first (i == 2 * PUTQ_BASE_WINDOW - 21). */
	for (i = 0; i < 2 * PUTQ_BASE_WINDOW; i++) {
		putq_slots_observe(&s, 10000);
		if (i >= PUTQ_IN_FLIGHT_MAX - PUTQ_IN_FLIGHT - 1 &&
		    i < 2 * PUTQ_BASE_WINDOW - 21)
			CHECK_INT(s.n, PUTQ_IN_FLIGHT);
	}
	CHECK_INT(s.n, PUTQ_IN_FLIGHT_MAX);
	CHECK(s.base_us == 10000);
}

/* A caller that puts `puts` items one after the other. */
struct series {
	struct putq *q;
	int thread;
	int puts;
	int failed;
	pthread_t id;
};

static void *series_run(void *arg)
{
	struct series *s = arg;

	for (int i = 0; i < s->puts; i++) {
		char key[32];
		json_t *item;

		snprintf(key, sizeof(key), "/dir/t%d-%d", s->thread, i);
		item = json_pack("{s:{s:s}, s:{s:s}}", "pk", "S", key, "v", "S",
				 "x");
		if (putq_put(s->q, "T", "pk", NULL, item, key, NULL) != 0)
			s->failed++;
		json_decref(item);
	}
	return NULL;
}

/* With in_flight 0 the queue keeps more requests out while the server
 * answers each in about the same time (network latency: 8 writers end up
 * with up to 8 requests on the wire), and stays near PUTQ_IN_FLIGHT, so
 * that puts wait and go out in batches, when the server answers one
 * request at a time (a busy local server: more in flight only queue). */
static void test_adaptive(void)
{
	static const struct {
		const char *script;
		int min_inflight, max_inflight;
	} cases[] = {
	    {"[{\"delay_ms\": 100, \"body\": {}}]", PUTQ_IN_FLIGHT + 3,
	     PUTQ_IN_FLIGHT_MAX},
	    {"[{\"delay_ms\": 150, \"serial\": true, \"body\": {}}]", 1,
	     PUTQ_IN_FLIGHT_MAX - 2},
	};
	enum { THREADS = 8, PUTS = 6 };

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct env e;
		struct series s[THREADS];
		struct req reqs[MAX_REQS];
		struct putq *q;
		long max_inflight = 0;
		int n, items = 0, batches = 0;

		printf("# %s\n", cases[c].script);
		CHECK_INT(env_start(&e, cases[c].script, 10), 0);
		q = putq_new(e.ddb, 0);
		CHECK(q != NULL);
		for (int i = 0; i < THREADS; i++)
			s[i] =
			    (struct series){.q = q, .thread = i, .puts = PUTS};
		for (int i = 0; i < THREADS; i++)
			CHECK_INT(
			    pthread_create(&s[i].id, NULL, series_run, &s[i]),
			    0);
		for (int i = 0; i < THREADS; i++) {
			pthread_join(s[i].id, NULL);
			CHECK_INT(s[i].failed, 0);
		}
		n = read_log(&e.f, reqs);
		for (int i = 0; i < n; i++) {
			items += reqs[i].n_items;
			batches += !strcmp(reqs[i].op, "BatchWriteItem");
			if (reqs[i].inflight > max_inflight)
				max_inflight = reqs[i].inflight;
		}
		printf("#   %d requests (%d batches), at most %ld at once\n", n,
		       batches, max_inflight);
		CHECK_INT(items, THREADS * PUTS);
		CHECK(max_inflight >= cases[c].min_inflight);
		CHECK(max_inflight <= cases[c].max_inflight);
		if (cases[c].max_inflight < THREADS)
			CHECK(batches > 0);
		putq_free(q);
		env_stop(&e);
	}
}

/* --- (3) two puts of one id ---------------------------------------------- */

/* A script whose first rules hold the holders' requests (keys "/hold-N")
 * until release_holders, answering them with hold_answer (rule fields), and
 * whose other rules are rest. */
static const char *hold_script(char *buf, size_t len, int holders,
			       const char *hold_answer, const char *rest)
{
	snprintf(buf, len,
		 "[{\"match_body\": \"release-gate\", \"barrier\": %d,"
		 " \"barrier_name\": \"gate\", \"body\": {}},"
		 " {\"match_body\": \"\\\"/hold-\", \"barrier\": %d,"
		 " \"barrier_name\": \"gate\", %s}, %s]",
		 holders + 1, holders + 1, hold_answer, rest);
	return buf;
}

/* Starts `holders` puts to table, which the server holds, and returns once
 * they are on the wire, so that what is put next waits for a slot. */
static void start_holders(struct env *e, struct putq *q, struct job *h,
			  int holders, const char *table)
{
	for (int i = 0; i < holders; i++) {
		char key[32];

		snprintf(key, sizeof(key), "/hold-%d", i);
		job_init(&h[i], q, table, key, "held");
		job_start(&h[i]);
	}
	CHECK(wait_requests(&e->f, holders));
}

/* Lets the server answer the holders (a DescribeTable of "release-gate"
 * reaches their barrier; read_log leaves it out). */
static void release_holders(struct env *e)
{
	json_t *req = json_pack("{s:s}", "TableName", "release-gate");

	CHECK_INT(ddb_call(e->ddb, "DescribeTable", req, NULL, NULL), 0);
	json_decref(req);
}

static void test_same_id(void)
{
	static const struct {
		unsigned in_flight;
		int holders; /* slow puts that fill every slot */
	} cases[] = {
	    {1, 1},
	    {0, PUTQ_IN_FLIGHT},
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct env e;
		struct putq *q;
		struct job h[PUTQ_IN_FLIGHT], jobs[3];
		struct job *first = &jobs[0], *second = &jobs[1],
			   *other = &jobs[2];
		struct req reqs[MAX_REQS];
		char script[1024];
		int n, i_first, i_second, i_other;

		printf("# in_flight %u, %d holders\n", cases[c].in_flight,
		       cases[c].holders);
		/* Everything but the holders takes 100 ms. */
		CHECK_INT(
		    env_start(&e,
			      hold_script(script, sizeof(script),
					  cases[c].holders, "\"body\": {}",
					  "{\"delay_ms\": 100,"
					  " \"body\": {}}"),
			      10),
		    0);
		q = putq_new(e.ddb, cases[c].in_flight);
		start_holders(&e, q, h, cases[c].holders, "T");
		/* Arrival order: first, second (same id), other. */
		job_init(first, q, "T", "/same", "first");
		job_init(second, q, "T", "/same", "second");
		job_init(other, q, "T", "/other", "other");
		queue_jobs(jobs, 3);
		release_holders(&e);
		for (int i = 0; i < cases[c].holders; i++)
			job_join(&h[i]);
		for (int i = 0; i < 3; i++)
			job_join(&jobs[i]);

		n = read_log(&e.f, reqs);
		for (int i = 0; i < 3; i++)
			CHECK_INT(jobs[i].rc, 0);
		CHECK_INT(times_sent(reqs, n, "/same", "first", &i_first), 1);
		CHECK_INT(times_sent(reqs, n, "/same", "second", &i_second), 1);
		CHECK_INT(times_sent(reqs, n, "/other", "other", &i_other), 1);
		/* Never in one request, and the first arrived goes first. */
		CHECK(i_first >= 0 && i_second >= 0);
		CHECK(i_first != i_second);
		CHECK(i_first < i_second);
		CHECK(!any_pk_twice(reqs, n));
		/* The other put, arrived last, does not wait for the second:
		 * it goes with the first. */
		CHECK_INT(i_other, i_first);
		if (i_first >= 0)
			CHECK_STR(reqs[i_first].op, "BatchWriteItem");
		/* The second left only after the first was answered: the
		 * holders were done by then, so it was alone on the wire. */
		if (i_second >= 0) {
			CHECK_STR(reqs[i_second].op, "PutItem");
			CHECK_INT(reqs[i_second].inflight, 1);
		}
		CHECK_INT(n, cases[c].holders + 2);
		if (tap_failed_checks)
			dump_log(reqs, n);
		putq_free(q);
		env_stop(&e);
	}
}

/* --- (4) a batch refused for one item's reason ---------------------------- */

static void test_batch_refused(void)
{
	static const struct {
		const char *batch_error; /* the batch's answer (400) */
		const char *bad_error;	 /* the bad item's own answer (400) */
		int bad_rc;
	} cases[] = {
	    {"ValidationException", "ValidationException", -EINVAL},
	    {"ValidationException", "ConditionalCheckFailedException", -EEXIST},
	    {"ResourceNotFoundException", "ValidationException", -EINVAL},
	};
	static const char *keys[] = {"/k-1", "/k-bad", "/k-2", "/k-3"};
	enum { N = sizeof(keys) / sizeof(keys[0]) };

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct env e;
		struct putq *q;
		struct job h[PUTQ_IN_FLIGHT], jobs[N];
		struct req reqs[MAX_REQS];
		char script[1536], rest[1024];
		int n, i_batch = -1, i_single;

		printf("# batch: %s, item: %s\n", cases[c].batch_error,
		       cases[c].bad_error);
		snprintf(rest, sizeof(rest),
			 "{\"match_body\": \"RequestItems\","
			 " \"status\": 400, \"body\": {\"__type\":"
			 " \"" TYPE_PREFIX "%s\", \"message\":"
			 " \"the batch is refused\"}},"
			 " {\"match_body\": \"\\\"/k-bad\\\"\","
			 " \"status\": 400, \"body\": {\"__type\":"
			 " \"" TYPE_PREFIX "%s\", \"message\":"
			 " \"this item is refused\"}},"
			 " {\"body\": {}}",
			 cases[c].batch_error, cases[c].bad_error);
		CHECK_INT(
		    env_start(&e,
			      hold_script(script, sizeof(script),
					  PUTQ_IN_FLIGHT, "\"body\": {}", rest),
			      10),
		    0);
		q = putq_new(e.ddb, PUTQ_IN_FLIGHT);
		start_holders(&e, q, h, PUTQ_IN_FLIGHT, "T");
		for (int i = 0; i < N; i++)
			job_init(&jobs[i], q, "T", keys[i], "v");
		queue_jobs(jobs, N);
		release_holders(&e);
		for (int i = 0; i < PUTQ_IN_FLIGHT; i++) {
			job_join(&h[i]);
			CHECK_INT(h[i].rc, 0);
		}
		for (int i = 0; i < N; i++)
			job_join(&jobs[i]);

		n = read_log(&e.f, reqs);
		for (int i = 0; i < n; i++)
			if (!strcmp(reqs[i].op, "BatchWriteItem")) {
				CHECK(i_batch < 0); /* just one */
				i_batch = i;
			}
		CHECK(i_batch >= 0);
		if (i_batch >= 0)
			CHECK_INT(reqs[i_batch].n_items, N);
		for (int i = 0; i < N; i++) {
			bool bad = !strcmp(keys[i], "/k-bad");

			CHECK_INT(jobs[i].rc, bad ? cases[c].bad_rc : 0);
			CHECK_INT(jobs[i].err.http_status, bad ? 400 : 200);
			CHECK_STR(jobs[i].err.code,
				  bad ? cases[c].bad_error : "");
			if (bad)
				CHECK_STR(jobs[i].err.message,
					  "this item is refused");
			/* Once in the batch, then once alone after it. */
			CHECK_INT(times_sent(reqs, n, keys[i], NULL, NULL), 2);
			i_single = -1;
			for (int r = i_batch + 1; r < n; r++)
				if (!strcmp(reqs[r].op, "PutItem") &&
				    times_sent(&reqs[r], 1, keys[i], NULL,
					       NULL) == 1)
					i_single = r;
			CHECK(i_batch >= 0 && i_single > i_batch);
		}
		CHECK_INT(n, PUTQ_IN_FLIGHT + 1 + N);
		if (tap_failed_checks)
			dump_log(reqs, n);
		putq_free(q);
		env_stop(&e);
	}
}

/* --- (4b) items the server leaves unprocessed ------------------------------
 */

/* The batch is answered 200 with one item handed back in UnprocessedItems
 * (throttling): that item alone is sent again as a PutItem; the others
 * are stored by the batch, return 0, and are not sent again. */
static void test_batch_unprocessed(void)
{
	static const char *keys[] = {"/k-1", "/k-left", "/k-2"};
	enum { N = sizeof(keys) / sizeof(keys[0]) };
	struct env e;
	struct putq *q;
	struct job h[PUTQ_IN_FLIGHT], jobs[N];
	struct req reqs[MAX_REQS];
	char script[1536];
	int n, i_batch = -1;

	CHECK_INT(
	    env_start(&e,
		      hold_script(script, sizeof(script), PUTQ_IN_FLIGHT,
				  "\"body\": {}",
				  "{\"match_body\": \"RequestItems\","
				  " \"body\": {\"UnprocessedItems\": {\"T\":"
				  " [{\"PutRequest\": {\"Item\":"
				  " {\"pk\": {\"S\": \"/k-left\"},"
				  " \"v\": {\"S\": \"v\"}}}}]}}},"
				  " {\"body\": {}}"),
		      10),
	    0);
	q = putq_new(e.ddb, PUTQ_IN_FLIGHT);
	start_holders(&e, q, h, PUTQ_IN_FLIGHT, "T");
	for (int i = 0; i < N; i++)
		job_init(&jobs[i], q, "T", keys[i], "v");
	queue_jobs(jobs, N);
	release_holders(&e);
	for (int i = 0; i < PUTQ_IN_FLIGHT; i++)
		job_join(&h[i]);
	for (int i = 0; i < N; i++)
		job_join(&jobs[i]);
	n = read_log(&e.f, reqs);
	for (int i = 0; i < n; i++)
		if (!strcmp(reqs[i].op, "BatchWriteItem"))
			i_batch = i;
	CHECK(i_batch >= 0);
	for (int i = 0; i < N; i++) {
		bool left = !strcmp(keys[i], "/k-left");

		CHECK_INT(jobs[i].rc, 0);
		CHECK_INT(times_sent(reqs, n, keys[i], NULL, NULL),
			  left ? 2 : 1);
	}
	CHECK_INT(n, PUTQ_IN_FLIGHT + 1 + 1);
	if (tap_failed_checks)
		dump_log(reqs, n);
	putq_free(q);
	env_stop(&e);
}

/* The server's echo of an unprocessed put need not be the text that was
 * sent: numbers come back canonical ("1.50" as "1.5", a number key too)
 * and sets in another order. The put is found by its key all the same and
 * sent again; an echo entry whose key was not sent (or that has no key)
 * cannot say which put it stands for, so every put of the batch goes again
 * alone rather than one being acknowledged unstored. */
static void test_batch_unprocessed_echo(void)
{
	static const char *keys[] = {"/k-1", "/k-left", "/k-2"};
	static const struct {
		const char *name;
		const char *echo; /* UnprocessedItems */
		bool all_again;	  /* every put sent again, else /k-left */
	} cases[] = {
	    {"numbers and set order changed",
	     "{\"T\": [{\"PutRequest\": {\"Item\": {\"pk\": {\"S\": \"/k-left\"},"
	     " \"sk\": {\"N\": \"1.5\"}, \"n\": {\"N\": \"12\"},"
	     " \"ss\": {\"SS\": [\"c\", \"a\", \"b\"]},"
	     " \"ns\": {\"NS\": [\"2\", \"1\"]}}}}]}",
	     false},
	    {"a key nobody sent",
	     "{\"T\": [{\"PutRequest\": {\"Item\": {\"pk\": {\"S\": \"/k-other\"},"
	     " \"sk\": {\"N\": \"1.5\"}}}}]}",
	     true},
	    {"no key at all",
	     "{\"T\": [{\"PutRequest\": {\"Item\": {\"n\": {\"N\": \"12\"}}}}]}",
	     true},
	    {"another table's name",
	     "{\"U\": [{\"PutRequest\": {\"Item\":"
	     " {\"pk\": {\"S\": \"/k-left\"}, \"sk\": {\"N\": \"1.5\"}}}}]}",
	     true},
	    {"not a list", "{\"T\": {}}", true},
	};
	enum { N = sizeof(keys) / sizeof(keys[0]) };

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct env e;
		struct putq *q;
		struct job h[PUTQ_IN_FLIGHT], jobs[N];
		struct req reqs[MAX_REQS];
		char script[2048], rest[1024];
		int n;

		printf("# echo: %s\n", cases[c].name);
		snprintf(rest, sizeof(rest),
			 "{\"match_body\": \"RequestItems\", \"body\":"
			 " {\"UnprocessedItems\": %s}},"
			 " {\"body\": {}}",
			 cases[c].echo);
		CHECK_INT(
		    env_start(&e,
			      hold_script(script, sizeof(script),
					  PUTQ_IN_FLIGHT, "\"body\": {}", rest),
			      10),
		    0);
		q = putq_new(e.ddb, PUTQ_IN_FLIGHT);
		start_holders(&e, q, h, PUTQ_IN_FLIGHT, "T");
		for (int i = 0; i < N; i++) {
			job_init(&jobs[i], q, "T", keys[i], "v");
			jobs[i].range = "sk";
			/* A number key and attributes as a user writes them. */
			json_decref(jobs[i].item);
			jobs[i].item = json_pack(
			    "{s{ss} s{ss} s{ss} s{s[sss]} s{s[ss]}}", "pk", "S",
			    keys[i], "sk", "N", "1.50", "n", "N", "012", "ss",
			    "SS", "a", "b", "c", "ns", "NS", "1", "2.0");
		}
		queue_jobs(jobs, N);
		release_holders(&e);
		for (int i = 0; i < PUTQ_IN_FLIGHT; i++)
			job_join(&h[i]);
		for (int i = 0; i < N; i++)
			job_join(&jobs[i]);
		n = read_log(&e.f, reqs);
		for (int i = 0; i < N; i++) {
			bool again =
			    cases[c].all_again || !strcmp(keys[i], "/k-left");

			CHECK_INT(jobs[i].rc, 0);
			CHECK_INT(times_sent(reqs, n, keys[i], NULL, NULL),
				  again ? 2 : 1);
		}
		CHECK_INT(n, PUTQ_IN_FLIGHT + 1 + (cases[c].all_again ? N : 1));
		if (tap_failed_checks)
			dump_log(reqs, n);
		putq_free(q);
		env_stop(&e);
	}
}

/* --- (5) a server error fails the whole batch ---------------------------- */

static void test_batch_fails_all(void)
{
	static const struct {
		const char *answer; /* every request's, slowly */
		long status;
		int retries;
		int want;
	} cases[] = {
	    {"\"status\": 500, \"body\": \"internal error\"", 500, 1, -EIO},
	    {"\"status\": 503, \"body\": \"unavailable\"", 503, 0, -EIO},
	    {"\"status\": 400, \"body\": {\"__type\": \"" TYPE_PREFIX
	     "ProvisionedThroughputExceededException\", \"message\": \"slow\"}",
	     400, 1, -EAGAIN},
	};
	enum { N = 4 };

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct env e;
		struct putq *q;
		struct job h[PUTQ_IN_FLIGHT], jobs[N];
		struct req reqs[MAX_REQS];
		char script[1024], rest[512];
		int n, batches = 0, attempts = cases[c].retries + 1;

		printf("# every answer: %s\n", cases[c].answer);
		snprintf(rest, sizeof(rest), "{%s}", cases[c].answer);
		CHECK_INT(env_start(&e,
				    hold_script(script, sizeof(script),
						PUTQ_IN_FLIGHT, cases[c].answer,
						rest),
				    cases[c].retries),
			  0);
		q = putq_new(e.ddb, PUTQ_IN_FLIGHT);
		start_holders(&e, q, h, PUTQ_IN_FLIGHT, "T");
		for (int i = 0; i < N; i++) {
			char key[32];

			snprintf(key, sizeof(key), "/q-%d", i);
			job_init(&jobs[i], q, "T", key, "v");
		}
		queue_jobs(jobs, N);
		release_holders(&e);
		for (int i = 0; i < PUTQ_IN_FLIGHT; i++) {
			job_join(&h[i]);
			CHECK_INT(h[i].rc, cases[c].want);
		}
		for (int i = 0; i < N; i++)
			job_join(&jobs[i]);

		n = read_log(&e.f, reqs);
		for (int i = 0; i < N; i++) {
			CHECK_INT(jobs[i].rc, cases[c].want);
			CHECK_INT(jobs[i].err.http_status, cases[c].status);
			CHECK_INT(jobs[i].err.attempts, attempts);
			/* Only ever in the batch and its retries. */
			CHECK_INT(times_sent(reqs, n, jobs[i].key, NULL, NULL),
				  attempts);
		}
		for (int i = 0; i < n; i++) {
			if (!strcmp(reqs[i].op, "BatchWriteItem")) {
				batches++;
				CHECK_INT(reqs[i].n_items, N);
			} else {
				/* No PutItem but the holders'. */
				CHECK_STR(reqs[i].op, "PutItem");
				CHECK(!strncmp(reqs[i].pk[0], "/hold-", 6));
			}
		}
		CHECK_INT(batches, attempts);
		CHECK_INT(n, (PUTQ_IN_FLIGHT + 1) * attempts);
		if (tap_failed_checks)
			dump_log(reqs, n);
		putq_free(q);
		env_stop(&e);
	}
}

/* --- (6) two tables ------------------------------------------------------ */

static void test_two_tables(void)
{
	enum { N = 6 };
	struct env e;
	struct putq *q;
	struct job h[PUTQ_IN_FLIGHT], jobs[N];
	struct req reqs[MAX_REQS];
	char script[1024];
	int n, first;

	CHECK_INT(env_start(&e,
			    hold_script(script, sizeof(script), PUTQ_IN_FLIGHT,
					"\"body\": {}",
					"{\"delay_ms\": 50, \"body\": {}}"),
			    10),
		  0);
	q = putq_new(e.ddb, PUTQ_IN_FLIGHT);
	start_holders(&e, q, h, PUTQ_IN_FLIGHT, "TA");
	/* Interleaved: TA, TB, TA, TB, ... */
	for (int i = 0; i < N; i++) {
		char key[32];

		snprintf(key, sizeof(key), "/t%c-%d", i % 2 ? 'b' : 'a', i);
		job_init(&jobs[i], q, i % 2 ? "TB" : "TA", key, "v");
	}
	queue_jobs(jobs, N);
	release_holders(&e);
	for (int i = 0; i < PUTQ_IN_FLIGHT; i++) {
		job_join(&h[i]);
		CHECK_INT(h[i].rc, 0);
	}
	for (int i = 0; i < N; i++)
		job_join(&jobs[i]);

	n = read_log(&e.f, reqs);
	for (int i = 0; i < n; i++)
		CHECK_INT(reqs[i].n_tables, 1);
	for (int i = 0; i < N; i++) {
		CHECK_INT(jobs[i].rc, 0);
		CHECK_INT(times_sent(reqs, n, jobs[i].key, NULL, &first), 1);
		if (first >= 0)
			CHECK_STR(reqs[first].table, jobs[i].table);
	}
	/* The holders, then one batch per table. */
	CHECK_INT(n, PUTQ_IN_FLIGHT + 2);
	for (int i = PUTQ_IN_FLIGHT; i < n; i++) {
		CHECK_STR(reqs[i].op, "BatchWriteItem");
		CHECK_INT(reqs[i].n_items, N / 2);
	}
	if (tap_failed_checks)
		dump_log(reqs, n);
	putq_free(q);
	env_stop(&e);
}

/* --- more than a batch waiting ------------------------------------------- */

static void test_batch_limit(void)
{
	static const struct {
		unsigned in_flight;
		int holders;
		const char *batches; /* the rule answering them */
	} cases[] = {
	    /* One slot: 25, then the 5 left. */
	    {1, 1, "{\"body\": {}}"},
	    /* Two slots: the 5 left go in the second slot while the 25
	     * are on the wire (the barrier answers 504 after 1.5 s, and
	     * the batch is sent again, when they come one after the
	     * other, e.g. as 30 split by ddb_batch_write). */
	    {0, PUTQ_IN_FLIGHT,
	     "{\"match_body\": \"RequestItems\", \"barrier\": 2,"
	     " \"barrier_timeout_ms\": 1500, \"body\": {}}, {\"body\": {}}"},
	};
	enum { N = PUTQ_BATCH_MAX + 5 };

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct env e;
		struct putq *q;
		struct job h[PUTQ_IN_FLIGHT], *jobs = calloc(N, sizeof(*jobs));
		struct req reqs[MAX_REQS];
		char script[1024];
		int n, holders = cases[c].holders;

		printf("# in_flight %u, %d holders\n", cases[c].in_flight,
		       holders);
		CHECK_INT(
		    env_start(&e,
			      hold_script(script, sizeof(script), holders,
					  "\"body\": {}", cases[c].batches),
			      10),
		    0);
		q = putq_new(e.ddb, cases[c].in_flight);
		start_holders(&e, q, h, holders, "T");
		for (int i = 0; i < N; i++) {
			char key[32];

			snprintf(key, sizeof(key), "/many-%02d", i);
			job_init(&jobs[i], q, "T", key, "v");
		}
		queue_jobs(jobs, N);
		release_holders(&e);
		for (int i = 0; i < holders; i++)
			job_join(&h[i]);
		for (int i = 0; i < N; i++)
			job_join(&jobs[i]);

		n = read_log(&e.f, reqs);
		for (int i = 0; i < N; i++) {
			CHECK_INT(jobs[i].rc, 0);
			CHECK_INT(times_sent(reqs, n, jobs[i].key, NULL, NULL),
				  1);
		}
		/* The holders, then a batch of 25 and one of 5. */
		CHECK_INT(n, holders + 2);
		if (n == holders + 2) {
			int a = reqs[holders].n_items,
			    b = reqs[holders + 1].n_items;

			CHECK_STR(reqs[holders].op, "BatchWriteItem");
			CHECK_STR(reqs[holders + 1].op, "BatchWriteItem");
			CHECK_INT(a > b ? a : b, PUTQ_BATCH_MAX);
			CHECK_INT(a > b ? b : a, N - PUTQ_BATCH_MAX);
		}
		if (tap_failed_checks)
			dump_log(reqs, n);
		free(jobs);
		putq_free(q);
		env_stop(&e);
	}
}

/* --- (7) arguments ------------------------------------------------------- */

static void test_arguments(void)
{
	struct env e;
	struct putq *q;
	json_t *item = json_pack("{s:{s:s}}", "pk", "S", "/x");

	CHECK_INT(env_start(&e, "[{\"body\": {}}]", 10), 0);
	q = putq_new(e.ddb, PUTQ_IN_FLIGHT);
	CHECK(q != NULL);
	CHECK_INT(putq_put(NULL, "T", "pk", NULL, item, "/x", NULL), -EINVAL);
	CHECK_INT(putq_put(q, NULL, "pk", NULL, item, "/x", NULL), -EINVAL);
	CHECK_INT(putq_put(q, "T", NULL, NULL, item, "/x", NULL), -EINVAL);
	CHECK_INT(putq_put(q, "T", "pk", NULL, NULL, "/x", NULL), -EINVAL);
	CHECK_INT(putq_put(q, "T", "pk", NULL, item, NULL, NULL), -EINVAL);
	CHECK_INT(fakehttp_count(&e.f), 0);
	/* The queue still works after refusing them. */
	CHECK_INT(putq_put(q, "T", "pk", NULL, item, "/x", NULL), 0);
	CHECK_INT(fakehttp_count(&e.f), 1);
	putq_free(q);
	putq_free(NULL);
	json_decref(item);
	env_stop(&e);
}

static void test_init(void)
{
	/* A queue that loses a wake-up hangs its callers: fail instead
	 * (scripts/test runs the tests without a time limit). */
	alarm(100);
	CHECK_INT(http_global_init(), 0);
}

static void test_cleanup(void)
{
	http_global_cleanup();
	CHECK(1);
}

TAP_MAIN({"global init", test_init}, {"a put alone is one PutItem", test_alone},
	 {"concurrent puts go out as BatchWriteItem", test_grouped},
	 {"the slot policy, on made-up latencies", test_slots},
	 {"the latency floor is that of the last 64-127 requests",
	  test_slots_window},
	 {"an adaptive queue: more in flight only while the server keeps up",
	  test_adaptive},
	 {"two puts of one id: never together, in arrival order", test_same_id},
	 {"a refused batch is re-sent item by item", test_batch_refused},
	 {"unprocessed items go again alone", test_batch_unprocessed},
	 {"unprocessed items are found by key, whatever the echo's text",
	  test_batch_unprocessed_echo},
	 {"a server error fails the whole batch", test_batch_fails_all},
	 {"one table per request", test_two_tables},
	 {"at most 25 puts a batch", test_batch_limit},
	 {"arguments", test_arguments}, {"global cleanup", test_cleanup})
