/* ddbraw.c - the raw-HTTP side of the benchmark: seeds the bench tables with
 * BatchWriteItem and measures a ceiling, the rate of plain signed GetItem,
 * PutItem and Query requests over keep-alive libcurl handles, one handle per
 * thread, with request bodies built by snprintf and responses not parsed
 * (beyond what paging needs). It links only the signer (sigv4.c) of the
 * project's core library.
 *
 * usage: ddbraw ENDPOINT seed-devices TABLE NPART NPER THREADS
 *        ddbraw ENDPOINT seed-hash TABLE N THREADS
 *        ddbraw ENDPOINT seed-wide TABLE PART N THREADS
 *        ddbraw ENDPOINT ceiling OP THREADS SECONDS ARGS...
 *            get       HASHTABLE N          GetItem of a random key of N
 *            put       TABLE PART           PutItem of new device items
 *            cput      TABLE PART           the same PutItem conditional on
 *                                           attribute_not_exists(device_id),
 *                                           as dynamofs sends for a file
 *                                           created with O_EXCL (cp); PART
 *                                           must be new: a failed condition
 *                                           is an error
 *            query     TABLE NPART          Query of a random Devices partition
 *            querywide TABLE PART           every page of one partition
 *            pscan     TABLE -              parallel Scans of the whole
 *                                           table, THREADS segments, one
 *                                           connection each, pages read and
 *                                           discarded; each thread scans its
 *                                           segment again and again, whole
 *                                           passes, while SECONDS last
 *            bwrite    TABLE PART           BatchWriteItem of 25 new device
 *                                           items a request
 * Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (default "bench"),
 * region AWS_REGION (default us-east-1). Prints one JSON object on stdout. */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sigv4.h"

struct buf {
	char *data;
	size_t len, cap;
};

static const char *g_endpoint, *g_region, *g_ak, *g_sk;
static char g_host[256];

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	size_t len = size * n;

	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 65536;
		while (cap < b->len + len + 1)
			cap *= 2;
		char *d = realloc(b->data, cap);
		if (!d)
			return 0;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

static CURL *handle_new(struct buf *resp)
{
	CURL *h = curl_easy_init();

	if (!h)
		return NULL;
	curl_easy_setopt(h, CURLOPT_URL, g_endpoint);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 60000L);
	return h;
}

/* One signed POST of body as DynamoDB_20120810.<op>. Returns the HTTP
 * status, or -1 on a transport error. resp is reset first. */
static long post(CURL *h, struct buf *resp, const char *op, const char *body,
		 size_t len)
{
	char date[SIGV4_DATE_LEN], target[96], auth[1024], xdate[64];
	struct sigv4_header sh[4];
	struct sigv4_request req = {0};
	struct sigv4_credentials cr = {g_ak, g_sk, NULL};
	struct sigv4_signature sig = {0};
	struct curl_slist *hl = NULL;
	time_t t = time(NULL);
	long status = -1;

	resp->len = 0;
	sigv4_format_date(t, date);
	snprintf(target, sizeof(target), "DynamoDB_20120810.%s", op);
	sh[0] =
	    (struct sigv4_header){"content-type", "application/x-amz-json-1.0"};
	sh[1] = (struct sigv4_header){"host", g_host};
	sh[2] = (struct sigv4_header){"x-amz-date", date};
	sh[3] = (struct sigv4_header){"x-amz-target", target};
	req.method = "POST";
	req.path = "/";
	req.headers = sh;
	req.n_headers = 4;
	req.body = body;
	req.body_len = len;
	if (sigv4_sign(&req, &cr, g_region, "dynamodb", t, &sig))
		return -1;
	snprintf(auth, sizeof(auth), "Authorization: %s", sig.authorization);
	snprintf(xdate, sizeof(xdate), "X-Amz-Date: %s", date);
	char xt[128];
	snprintf(xt, sizeof(xt), "X-Amz-Target: %s", target);
	hl = curl_slist_append(hl, "Content-Type: application/x-amz-json-1.0");
	hl = curl_slist_append(hl, xt);
	hl = curl_slist_append(hl, xdate);
	hl = curl_slist_append(hl, auth);
	hl = curl_slist_append(hl, "Expect:");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len);
	if (curl_easy_perform(h) == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hl);
	sigv4_signature_free(&sig);
	return status;
}

/* A Devices-shaped item (tests/data/devices.json) as DynamoDB JSON. */
static int device_item(char *out, size_t cap, const char *hname,
		       const char *hval, char htype, const char *rname,
		       long rval, unsigned seed)
{
	unsigned s = seed * 2654435761u + 12345u;
	double t[5];

	for (int i = 0; i < 5; i++) {
		s = s * 1103515245u + 12345u;
		t[i] = (double)((s >> 8) % 4000) / 10.0 + 10.0;
	}
	char range[128] = "";
	if (rname)
		snprintf(range, sizeof(range), "\"%s\":{\"N\":\"%ld\"},", rname,
			 rval);
	return snprintf(out, cap,
			"{\"%s\":{\"%c\":\"%s\"},%s\"info\":{\"M\":{"
			"\"info_timestamp\":{\"S\":\"%ld\"},"
			"\"temperature1\":{\"N\":\"%.1f\"},"
			"\"temperature2\":{\"N\":\"%.1f\"},"
			"\"temperature3\":{\"N\":\"%.2f\"},"
			"\"temperature4\":{\"N\":\"%.1f\"},"
			"\"temperature5\":{\"N\":\"%.1f\"}}}}",
			hname, htype, hval, range, 1612519200L + rval * 100,
			t[0], t[1], t[2] * 30, t[3], t[4]);
}

/* ---- seeding ------------------------------------------------------------ */

enum seed_kind { SEED_DEVICES, SEED_HASH, SEED_WIDE };

struct seed_job {
	enum seed_kind kind;
	const char *table;
	const char *part; /* SEED_WIDE */
	long nper;	  /* devices: items per partition */
	long from, to;	  /* devices: partitions; else items */
	long written;
	int failed;
};

/* Item number i of the job as a PutRequest. */
static int seed_put(const struct seed_job *j, long i, char *out, size_t cap)
{
	char item[1024], hv[64];
	int n;

	switch (j->kind) {
	case SEED_DEVICES:
		snprintf(hv, sizeof(hv), "%ld", 10001 + i / j->nper);
		n = device_item(item, sizeof(item), "device_id", hv, 'S',
				"datacount", i % j->nper + 1, (unsigned)i);
		break;
	case SEED_HASH:
		snprintf(hv, sizeof(hv), "k%06ld", i);
		n = device_item(item, sizeof(item), "id", hv, 'S', NULL, i,
				(unsigned)i);
		break;
	default:
		n = device_item(item, sizeof(item), "device_id", j->part, 'S',
				"datacount", i + 1, (unsigned)i);
		break;
	}
	if (n < 0 || (size_t)n >= sizeof(item))
		return -1;
	return snprintf(out, cap, "{\"PutRequest\":{\"Item\":%s}}", item);
}

static void *seed_main(void *arg)
{
	struct seed_job *j = arg;
	struct buf resp = {0};
	CURL *h = handle_new(&resp);
	size_t cap = 64 * 1024;
	char *body = malloc(cap);
	long first = j->kind == SEED_DEVICES ? j->from * j->nper : j->from;
	long last = j->kind == SEED_DEVICES ? j->to * j->nper : j->to;

	if (!h || !body) {
		j->failed = 1;
		goto out;
	}
	for (long i = first; i < last; i += 25) {
		size_t len = (size_t)snprintf(
		    body, cap, "{\"RequestItems\":{\"%s\":[", j->table);
		for (long k = i; k < i + 25 && k < last; k++) {
			if (k > i)
				body[len++] = ',';
			len += (size_t)seed_put(j, k, body + len, cap - len);
		}
		len += (size_t)snprintf(body + len, cap - len, "]}}");
		for (int attempt = 0;; attempt++) {
			long st = post(h, &resp, "BatchWriteItem", body, len);
			/* Puts are idempotent: send the whole batch again
			 * when anything was left unprocessed. */
			if (st == 200 && resp.data &&
			    strstr(resp.data, "\"UnprocessedItems\":{}"))
				break;
			if (attempt == 20) {
				fprintf(
				    stderr,
				    "ddbraw: BatchWriteItem failed: %ld %s\n",
				    st, resp.data ? resp.data : "");
				j->failed = 1;
				goto out;
			}
			struct timespec ts = {0, 20000000L * (attempt + 1)};
			nanosleep(&ts, NULL);
		}
		j->written += (i + 25 < last ? 25 : last - i);
	}
out:
	if (h)
		curl_easy_cleanup(h);
	free(resp.data);
	free(body);
	return NULL;
}

static int seed(enum seed_kind kind, const char *table, const char *part,
		long n, long nper, int threads)
{
	struct seed_job jobs[64];
	pthread_t tid[64];
	double t0 = now_s();
	long written = 0;
	int failed = 0;

	if (threads < 1 || threads > 64)
		return 2;
	for (int i = 0; i < threads; i++) {
		jobs[i] = (struct seed_job){kind,
					    table,
					    part,
					    nper,
					    n * i / threads,
					    n * (i + 1) / threads,
					    0,
					    0};
		pthread_create(&tid[i], NULL, seed_main, &jobs[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(tid[i], NULL);
		written += jobs[i].written;
		failed |= jobs[i].failed;
	}
	printf("{\"table\":\"%s\",\"items\":%ld,\"seconds\":%.3f}\n", table,
	       written, now_s() - t0);
	return failed;
}

/* ---- ceiling ------------------------------------------------------------ */

enum ceil_op {
	OP_GET,
	OP_PUT,
	OP_CPUT,
	OP_QUERY,
	OP_QUERYWIDE,
	OP_PSCAN,
	OP_BWRITE
};

struct ceil_job {
	enum ceil_op op;
	const char *table;
	const char *part;
	long n;
	int id, nthreads;
	double until;
	long requests, items, errors;
	double busy; /* seconds spent inside requests */
};

static long count_of(const char *body)
{
	const char *p = body ? strstr(body, "\"Count\":") : NULL;

	return p ? strtol(p + 8, NULL, 10) : 0;
}

/* The LastEvaluatedKey object of a response, copied into out (NUL-ended),
 * or 0 when there is none (or it does not fit). Strings are skipped with
 * their escapes, so braces inside key values do not count. */
static int last_key(const char *body, char *out, size_t cap)
{
	const char *p = body ? strstr(body, "\"LastEvaluatedKey\":") : NULL;
	const char *q;
	int depth = 0, instr = 0;

	if (!p)
		return 0;
	p += strlen("\"LastEvaluatedKey\":");
	while (*p == ' ')
		p++;
	if (*p != '{')
		return 0;
	for (q = p; *q; q++) {
		if (instr) {
			if (*q == '\\' && q[1])
				q++;
			else if (*q == '"')
				instr = 0;
		} else if (*q == '"') {
			instr = 1;
		} else if (*q == '{') {
			depth++;
		} else if (*q == '}' && --depth == 0) {
			break;
		}
	}
	if (!*q || (size_t)(q - p + 2) > cap)
		return 0;
	memcpy(out, p, (size_t)(q - p + 1));
	out[q - p + 1] = '\0';
	return 1;
}

/* Occurrences of needle in body (unprocessed puts of a BatchWriteItem). */
static long occurrences(const char *body, const char *needle)
{
	long n = 0;

	for (const char *p = body; p && (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* One segment of a parallel Scan, every page, once. */
static void pscan_segment(struct ceil_job *j, CURL *h, struct buf *resp)
{
	char body[4096], lek[2048];
	int more = 0;

	do {
		int len = snprintf(body, sizeof(body),
				   "{\"TableName\":\"%s\",\"Segment\":%d,"
				   "\"TotalSegments\":%d%s%s}",
				   j->table, j->id, j->nthreads,
				   more ? ",\"ExclusiveStartKey\":" : "",
				   more ? lek : "");
		double t0 = now_s();
		long st = post(h, resp, "Scan", body, (size_t)len);
		j->busy += now_s() - t0;
		j->requests++;
		if (st != 200) {
			j->errors++;
			return;
		}
		j->items += count_of(resp->data);
		more = last_key(resp->data, lek, sizeof(lek));
	} while (more);
}

/* BatchWriteItem of 25 new items until j->until. */
static void bwrite_loop(struct ceil_job *j, CURL *h, struct buf *resp)
{
	size_t cap = 64 * 1024;
	char *body = malloc(cap), item[1024], key[64];
	long seq = 0;

	if (!body)
		return;
	snprintf(key, sizeof(key), "%s-t%d", j->part, j->id);
	while (now_s() < j->until) {
		size_t len = (size_t)snprintf(
		    body, cap, "{\"RequestItems\":{\"%s\":[", j->table);
		for (int k = 0; k < 25; k++) {
			seq++;
			device_item(item, sizeof(item), "device_id", key, 'S',
				    "datacount", seq, (unsigned)seq);
			len +=
			    (size_t)snprintf(body + len, cap - len,
					     "%s{\"PutRequest\":{\"Item\":%s}}",
					     k ? "," : "", item);
		}
		len += (size_t)snprintf(body + len, cap - len, "]}}");
		double t0 = now_s();
		long st = post(h, resp, "BatchWriteItem", body, len);
		j->busy += now_s() - t0;
		j->requests++;
		if (st == 200)
			j->items +=
			    25 - occurrences(resp->data, "\"PutRequest\"");
		else
			j->errors++;
	}
	free(body);
}

static void *ceil_main(void *arg)
{
	struct ceil_job *j = arg;
	struct buf resp = {0};
	CURL *h = handle_new(&resp);
	char body[4096], item[1024], key[64];
	unsigned rng = 0x9e3779b9u * (unsigned)(j->id + 1);
	long seq = 0;

	if (!h)
		return NULL;
	if (j->op == OP_PSCAN || j->op == OP_BWRITE) {
		if (j->op == OP_PSCAN) {
			/* Whole passes over the segment while time is left
			 * (at least one): one pass of a table that takes
			 * about a second is too noisy a sample. */
			do
				pscan_segment(j, h, &resp);
			while (!j->errors && now_s() < j->until);
		} else
			bwrite_loop(j, h, &resp);
		curl_easy_cleanup(h);
		free(resp.data);
		return NULL;
	}
	while (now_s() < j->until) {
		int len = 0;
		long st, items = 1;
		const char *op = "GetItem";

		rng = rng * 1103515245u + 12345u;
		switch (j->op) {
		case OP_GET:
			len = snprintf(
			    body, sizeof(body),
			    "{\"TableName\":\"%s\",\"Key\":{\"id\":{\"S\":\"k%06ld\"}}}",
			    j->table, (long)((rng >> 4) % (unsigned)j->n));
			break;
		case OP_PUT:
		case OP_CPUT:
			op = "PutItem";
			snprintf(key, sizeof(key), "%s-t%d", j->part, j->id);
			seq++;
			device_item(item, sizeof(item), "device_id", key, 'S',
				    "datacount", seq, (unsigned)seq);
			len =
			    snprintf(body, sizeof(body),
				     "{\"TableName\":\"%s\",\"Item\":%s%s}",
				     j->table, item,
				     j->op == OP_CPUT
					 ? ",\"ConditionExpression\":"
					   "\"attribute_not_exists(device_id)\""
					 : "");
			break;
		case OP_PSCAN:
		case OP_BWRITE:
			break;
		case OP_QUERY:
		case OP_QUERYWIDE:
			op = "Query";
			if (j->op == OP_QUERY)
				snprintf(key, sizeof(key), "%ld",
					 10001 + (long)((rng >> 4) %
							(unsigned)j->n));
			else
				snprintf(key, sizeof(key), "%s", j->part);
			len = snprintf(
			    body, sizeof(body),
			    "{\"TableName\":\"%s\",\"KeyConditionExpression\":\"#h = :h\","
			    "\"ExpressionAttributeNames\":{\"#h\":\"device_id\"},"
			    "\"ExpressionAttributeValues\":{\":h\":{\"S\":\"%s\"}}}",
			    j->table, key);
			break;
		}
		double t0 = now_s();
		st = post(h, &resp, op, body, (size_t)len);
		if (st == 200 && (j->op == OP_QUERY || j->op == OP_QUERYWIDE))
			items = count_of(resp.data);
		/* Every further page of the wide partition. */
		while (st == 200 && j->op == OP_QUERYWIDE &&
		       strstr(resp.data, "\"LastEvaluatedKey\"")) {
			json_t *r = json_loadb(resp.data, resp.len, 0, NULL);
			json_t *lek = json_object_get(r, "LastEvaluatedKey");
			char *lk = lek ? json_dumps(lek, JSON_COMPACT) : NULL;
			json_decref(r);
			if (!lk)
				break;
			len = snprintf(
			    body, sizeof(body),
			    "{\"TableName\":\"%s\",\"KeyConditionExpression\":\"#h = :h\","
			    "\"ExpressionAttributeNames\":{\"#h\":\"device_id\"},"
			    "\"ExpressionAttributeValues\":{\":h\":{\"S\":\"%s\"}},"
			    "\"ExclusiveStartKey\":%s}",
			    j->table, key, lk);
			free(lk);
			st = post(h, &resp, op, body, (size_t)len);
			j->requests++;
			if (st == 200)
				items += count_of(resp.data);
		}
		j->busy += now_s() - t0;
		j->requests++;
		if (st == 200)
			j->items += items;
		else
			j->errors++;
	}
	curl_easy_cleanup(h);
	free(resp.data);
	return NULL;
}

static int ceiling(const char *opname, int threads, double seconds,
		   const char *a1, const char *a2)
{
	struct ceil_job jobs[64];
	pthread_t tid[64];
	enum ceil_op op;
	long requests = 0, items = 0, errors = 0;
	double t0, elapsed;

	if (strcmp(opname, "get") == 0)
		op = OP_GET;
	else if (strcmp(opname, "put") == 0)
		op = OP_PUT;
	else if (strcmp(opname, "cput") == 0)
		op = OP_CPUT;
	else if (strcmp(opname, "query") == 0)
		op = OP_QUERY;
	else if (strcmp(opname, "querywide") == 0)
		op = OP_QUERYWIDE;
	else if (strcmp(opname, "pscan") == 0)
		op = OP_PSCAN;
	else if (strcmp(opname, "bwrite") == 0)
		op = OP_BWRITE;
	else
		return 2;
	if (threads < 1 || threads > 64)
		return 2;
	t0 = now_s();
	for (int i = 0; i < threads; i++) {
		jobs[i] = (struct ceil_job){.op = op,
					    .table = a1,
					    .part = a2,
					    .n = strtol(a2, NULL, 10),
					    .id = i,
					    .nthreads = threads,
					    .until = t0 + seconds};
		pthread_create(&tid[i], NULL, ceil_main, &jobs[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(tid[i], NULL);
		requests += jobs[i].requests;
		items += jobs[i].items;
		errors += jobs[i].errors;
	}
	elapsed = now_s() - t0;
	printf(
	    "{\"op\":\"%s\",\"threads\":%d,\"seconds\":%.3f,\"requests\":%ld,"
	    "\"items\":%ld,\"errors\":%ld,\"requests_per_s\":%.1f,"
	    "\"items_per_s\":%.1f}\n",
	    opname, threads, elapsed, requests, items, errors,
	    requests / elapsed, items / elapsed);
	return errors ? 1 : 0;
}

static void usage(void)
{
	fprintf(
	    stderr,
	    "usage: ddbraw ENDPOINT seed-devices TABLE NPART NPER THREADS\n"
	    "       ddbraw ENDPOINT seed-hash TABLE N THREADS\n"
	    "       ddbraw ENDPOINT seed-wide TABLE PART N THREADS\n"
	    "       ddbraw ENDPOINT ceiling get|put|cput|query|querywide|pscan|bwrite THREADS SECONDS TABLE ARG\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *p;
	int rc;

	if (argc < 4)
		usage();
	g_endpoint = argv[1];
	p = strstr(g_endpoint, "://");
	snprintf(g_host, sizeof(g_host), "%s", p ? p + 3 : g_endpoint);
	g_host[strcspn(g_host, "/")] = '\0';
	g_region = getenv("AWS_REGION") ? getenv("AWS_REGION") : "us-east-1";
	g_ak =
	    getenv("AWS_ACCESS_KEY_ID") ? getenv("AWS_ACCESS_KEY_ID") : "bench";
	g_sk = getenv("AWS_SECRET_ACCESS_KEY") ? getenv("AWS_SECRET_ACCESS_KEY")
					       : "bench";
	curl_global_init(CURL_GLOBAL_ALL);
	if (strcmp(argv[2], "seed-devices") == 0 && argc == 7) {
		long np = atol(argv[4]), nper = atol(argv[5]);
		rc = seed(SEED_DEVICES, argv[3], NULL, np, nper, atoi(argv[6]));
	} else if (strcmp(argv[2], "seed-hash") == 0 && argc == 6) {
		rc = seed(SEED_HASH, argv[3], NULL, atol(argv[4]), 0,
			  atoi(argv[5]));
	} else if (strcmp(argv[2], "seed-wide") == 0 && argc == 7) {
		rc = seed(SEED_WIDE, argv[3], argv[4], atol(argv[5]), 0,
			  atoi(argv[6]));
	} else if (strcmp(argv[2], "ceiling") == 0 && argc == 8) {
		rc = ceiling(argv[3], atoi(argv[4]), atof(argv[5]), argv[6],
			     argv[7]);
	} else {
		usage();
		rc = 2;
	}
	curl_global_cleanup();
	return rc;
}
