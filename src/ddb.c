/* ddb.c - DynamoDB's JSON 1.0 protocol over signed HTTP: one call with retries
 * and full-jitter back-off, the errno table, and the typed operations. */
#include "ddb.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "monotime.h"
#include "sigv4.h"

#define DDB_DEFAULT_RETRIES 10
#define DDB_DEFAULT_BASE_MS 50
#define DDB_DEFAULT_CAP_MS  20000
#define DDB_TARGET_PREFIX   "DynamoDB_20120810."
#define DDB_CONTENT_TYPE    "application/x-amz-json-1.0"
#define DDB_BATCH_GET_MAX   100
#define DDB_BATCH_WRITE_MAX 25
/* CreateTable on AWS takes seconds to a minute; a table not ACTIVE after
 * this long is reported rather than waited on forever (mkdir would hang). */
#define DDB_CREATE_WAIT_MS (5 * 60 * 1000)
/* Threads per parallel Scan: far fewer than DynamoDB allows segments, but
 * beyond this more threads only add contention in one process. */
#define DDB_MAX_SEGMENTS 256

struct ddb_client {
	char *endpoint; /* URL, sent as is */
	char *host;	/* Host header, as botocore derives it from the URL */
	char *path; /* canonical path for signing ("/" when the URL has none) */
	char *query; /* query of the URL for signing, or NULL */
	char *region;
	struct creds_provider *creds;
	struct http_client *http;
	int retries;
	long timeout_ms;
	unsigned base_ms;
	unsigned cap_ms;
	pthread_mutex_t
	    rng_lock; /* guards rng: calls back off from any thread */
	uint64_t rng;
};

/* --- errors ------------------------------------------------------------ */

/* The one errno table (SPEC §5). The first row whose code matches, and whose
 * reason (when set) appears in the message, gives the errno; the reason
 * column picks apart TransactionCanceledException, whose message lists the
 * CancellationReasons ("[ConditionalCheckFailed, None]").
 *
 *   not found                              ENOENT
 *   condition failed (also in a transaction) EEXIST
 *   bad request                            EINVAL
 *   item collection over 10 GB             EFBIG
 *   credentials refused or expired         EACCES
 *   table being created/deleted            EBUSY
 *   server without the operation           ENOSYS
 *   throttled after every retry            EAGAIN (the caller may retry later)
 *   anything else, 5xx and transport
 *   errors after every retry               EIO
 */
static const struct {
	const char *code;
	const char *reason;
	int err;
} ddb_errno_table[] = {
    {"ResourceNotFoundException", NULL, ENOENT},
    {"ConditionalCheckFailedException", NULL, EEXIST},
    {"TransactionCanceledException", "ConditionalCheckFailed", EEXIST},
    {"TransactionCanceledException", "ValidationError", EINVAL},
    {"TransactionCanceledException", "ItemCollectionSizeLimitExceeded", EFBIG},
    {"TransactionCanceledException", "TransactionConflict", EAGAIN},
    {"TransactionCanceledException", "ProvisionedThroughputExceeded", EAGAIN},
    {"TransactionCanceledException", "ThrottlingError", EAGAIN},
    {"ValidationException", NULL, EINVAL},
    {"SerializationException", NULL, EINVAL},
    {"ItemCollectionSizeLimitExceededException", NULL, EFBIG},
    {"AccessDeniedException", NULL, EACCES},
    {"UnrecognizedClientException", NULL, EACCES},
    {"InvalidSignatureException", NULL, EACCES},
    {"IncompleteSignatureException", NULL, EACCES},
    {"MissingAuthenticationToken", NULL, EACCES},
    {"MissingAuthenticationTokenException", NULL, EACCES},
    {"ExpiredToken", NULL, EACCES},
    {"ExpiredTokenException", NULL, EACCES},
    {"SignatureDoesNotMatch", NULL, EACCES},
    {"InvalidClientTokenId", NULL, EACCES},
    {"ResourceInUseException", NULL, EBUSY},
    {"UnknownOperationException", NULL, ENOSYS},
    {"ProvisionedThroughputExceededException", NULL, EAGAIN},
    {"ThrottlingException", NULL, EAGAIN},
    {"RequestLimitExceeded", NULL, EAGAIN},
    {"LimitExceededException", NULL, EAGAIN},
    {"TransactionInProgressException", NULL, EAGAIN},
    {"InternalServerError", NULL, EIO},
};

int ddb_errno(const struct ddb_error *err)
{
	if (!err)
		return -EIO;
	if (err->transport == -ENOMEM)
		return -ENOMEM;
	for (size_t i = 0;
	     i < sizeof(ddb_errno_table) / sizeof(ddb_errno_table[0]); i++) {
		if (strcmp(err->code, ddb_errno_table[i].code) != 0)
			continue;
		if (ddb_errno_table[i].reason &&
		    !strstr(err->message, ddb_errno_table[i].reason))
			continue;
		return -ddb_errno_table[i].err;
	}
	return -EIO;
}

/* Codes worth another attempt: the server asks us to slow down, or had a
 * passing failure (SPEC §7, botocore's DynamoDB retry rules). */
static const char *const ddb_retry_codes[] = {
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
    "LimitExceededException",
    "TransactionInProgressException",
    "InternalServerError",
    "ServiceUnavailable",
    "Throttling",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
    "SlowDown",
    "PriorRequestNotComplete",
};

bool ddb_retryable(int transport, long http_status, const char *code)
{
	switch (transport) {
	case 0:
		break;
	case -ETIMEDOUT:
	case -ECONNREFUSED:
	case -ECONNRESET:
	case -ECONNABORTED:
	case -EHOSTUNREACH:
	case -ENETUNREACH:
	case -EPIPE:
	case -EBADMSG:
	case -EPROTO:
		return true;
	default:
		/* -EINVAL, -ENOMEM: the same request would fail again. */
		return false;
	}
	if (http_status >= 500 && http_status <= 599)
		return true;
	if (http_status == 429)
		return true;
	if (!code || !code[0])
		return false;
	for (size_t i = 0;
	     i < sizeof(ddb_retry_codes) / sizeof(ddb_retry_codes[0]); i++)
		if (strcmp(code, ddb_retry_codes[i]) == 0)
			return true;
	return false;
}

const char *ddb_strerror(const struct ddb_error *err, char *buf, size_t len)
{
	char status[32] = "", rid[160] = "";

	if (!buf || len == 0)
		return buf;
	if (!err) {
		snprintf(buf, len, "no error");
		return buf;
	}
	if (err->http_status)
		snprintf(status, sizeof(status), "HTTP %ld", err->http_status);
	if (err->request_id[0])
		snprintf(rid, sizeof(rid), "%srequest id %s",
			 status[0] ? ", " : "", err->request_id);
	if (err->code[0])
		snprintf(buf, len, "%s%s%s (%s%s)", err->code,
			 err->message[0] ? ": " : "", err->message, status,
			 rid);
	else if (err->message[0] && (status[0] || rid[0]))
		snprintf(buf, len, "%s (%s%s)", err->message, status, rid);
	else if (err->message[0])
		snprintf(buf, len, "%s", err->message);
	else if (status[0])
		snprintf(buf, len, "%s%s%s", status, rid[0] ? " " : "", rid);
	else
		snprintf(buf, len, "unknown error");
	return buf;
}

/* --- back-off ------------------------------------------------------------ */

/* xorshift64: tiny, fast, good enough for jitter, and a fixed seed gives a
 * fixed sequence so tests can assert delays. */
static uint64_t xorshift64(uint64_t *state)
{
	uint64_t x = *state;

	if (x == 0) /* zero is the one state xorshift never leaves */
		x = 0x9E3779B97F4A7C15ull;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

unsigned ddb_backoff_ms(unsigned attempt, uint64_t *rng, unsigned base_ms,
			unsigned cap_ms)
{
	uint64_t ceiling = base_ms;
	uint64_t r = xorshift64(rng);

	for (unsigned i = 1; i < attempt && ceiling < cap_ms; i++)
		ceiling *= 2;
	if (ceiling > cap_ms)
		ceiling = cap_ms;
	return (unsigned)(r % (ceiling + 1));
}

static unsigned client_backoff(struct ddb_client *c, unsigned attempt)
{
	unsigned ms;

	pthread_mutex_lock(&c->rng_lock);
	ms = ddb_backoff_ms(attempt, &c->rng, c->base_ms, c->cap_ms);
	pthread_mutex_unlock(&c->rng_lock);
	return ms;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* --- client -------------------------------------------------------------- */

/* Declared in ddb.h; also used by the STS client (sts.c). */
int ddb_parse_endpoint(const char *url, char **host, char **path, char **query)
{
	struct http_url u;
	int rc;

	*host = *path = *query = NULL;
	rc = http_url_parse(url, &u);
	if (rc)
		return rc == -ENOMEM ? -ENOMEM : -EINVAL;
	/* The port only when it is not the scheme's default, as botocore. */
	if (u.port && u.port != (u.https ? 443 : 80)) {
		if (asprintf(host, "%s:%ld", u.host, u.port) < 0)
			*host = NULL;
	} else {
		*host = u.host;
		u.host = NULL;
	}
	if (!*host) {
		http_url_free(&u);
		return -ENOMEM;
	}
	for (char *s = *host; *s; s++)
		*s = (char)tolower((unsigned char)*s);
	*path = u.path;
	*query = u.query;
	u.path = u.query = NULL;
	http_url_free(&u);
	return 0;
}

struct ddb_client *ddb_client_new(const struct ddb_config *cfg)
{
	struct ddb_client *c = NULL;
	struct timespec ts;
	int rc = 0;

	if (!cfg || !cfg->endpoint || !cfg->region || !cfg->creds ||
	    !cfg->http) {
		rc = -EINVAL;
		goto out;
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		rc = -ENOMEM;
		goto out;
	}
	if (pthread_mutex_init(&c->rng_lock, NULL) != 0) {
		free(c);
		c = NULL;
		rc = -ENOMEM;
		goto out;
	}
	c->endpoint = strdup(cfg->endpoint);
	c->region = strdup(cfg->region);
	if (!c->endpoint || !c->region) {
		rc = -ENOMEM;
		goto out;
	}
	rc = ddb_parse_endpoint(cfg->endpoint, &c->host, &c->path, &c->query);
	if (rc)
		goto out;
	c->creds = cfg->creds;
	c->http = cfg->http;
	c->retries = cfg->retries < 0 ? DDB_DEFAULT_RETRIES : cfg->retries;
	c->timeout_ms = cfg->timeout_ms;
	c->base_ms =
	    cfg->base_delay_ms ? cfg->base_delay_ms : DDB_DEFAULT_BASE_MS;
	c->cap_ms = cfg->max_delay_ms ? cfg->max_delay_ms : DDB_DEFAULT_CAP_MS;
	c->rng = cfg->seed;
	if (!c->rng) {
		/* Mounts started together must not retry in lock step. */
		clock_gettime(CLOCK_REALTIME, &ts);
		c->rng = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^
			 ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)c;
	}
out:
	if (rc) {
		ddb_client_free(c);
		errno = -rc;
		return NULL;
	}
	return c;
}

void ddb_client_free(struct ddb_client *c)
{
	if (!c)
		return;
	free(c->endpoint);
	free(c->host);
	free(c->path);
	free(c->query);
	free(c->region);
	pthread_mutex_destroy(&c->rng_lock);
	free(c);
}

/* --- one call ------------------------------------------------------------ */

static void set_message(struct ddb_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void set_message(struct ddb_error *err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
}

/* Fills err->code and err->message from an error response body. Plain-text
 * bodies (from a proxy or load balancer) become the message, cut short. */
static void parse_error_body(const char *body, size_t len,
			     struct ddb_error *err)
{
	json_t *doc = json_loadb(body, len, JSON_ALLOW_NUL, NULL);
	const char *type, *msg, *hash;
	json_t *reasons;
	size_t n;

	if (!json_is_object(doc)) {
		size_t i;

		for (i = 0; i < len && i < 200 && i + 1 < sizeof(err->message);
		     i++)
			err->message[i] =
			    isprint((unsigned char)body[i]) ? body[i] : ' ';
		err->message[i] = '\0';
		json_decref(doc);
		return;
	}
	type = json_string_value(json_object_get(doc, "__type"));
	if (type) {
		hash = strrchr(type, '#');
		snprintf(err->code, sizeof(err->code), "%s",
			 hash ? hash + 1 : type);
	}
	msg = json_string_value(json_object_get(doc, "message"));
	if (!msg)
		msg = json_string_value(json_object_get(doc, "Message"));
	if (msg)
		snprintf(err->message, sizeof(err->message), "%s", msg);
	/* The errno table reads a transaction's reasons from the message;
	 * servers that do not list them there get them appended. */
	reasons = json_object_get(doc, "CancellationReasons");
	if (json_is_array(reasons) && json_array_size(reasons) > 0) {
		char list[256] = "[";
		size_t i, used = 1;
		json_t *r;

		json_array_foreach(reasons, i, r)
		{
			const char *code =
			    json_string_value(json_object_get(r, "Code"));

			used += (size_t)snprintf(
			    list + used,
			    used < sizeof(list) ? sizeof(list) - used : 0,
			    "%s%s", i ? ", " : "", code ? code : "None");
			if (used >= sizeof(list))
				break;
		}
		if (used < sizeof(list) - 1) {
			strcat(list, "]");
			if (!strstr(err->message, list)) {
				n = strlen(err->message);
				snprintf(err->message + n,
					 sizeof(err->message) - n, "%s%s",
					 n ? " " : "", list);
			}
		}
	}
	json_decref(doc);
}

/* How one attempt ended. */
enum attempt_result {
	ATTEMPT_OK,	/* *out holds the response */
	ATTEMPT_FAILED, /* the server or transport failed: see err */
};

/* Signs and sends one attempt. Returns ATTEMPT_OK / ATTEMPT_FAILED, or a
 * negative errno for a local failure (credentials, signing, memory) that a
 * retry would not fix. */
static int attempt_once(struct ddb_client *c, const char *target,
			const char *body, size_t body_len, json_t **out,
			struct http_response *raw, struct ddb_error *err)
{
	struct creds cr = {0};
	struct sigv4_signature sig = {0};
	struct sigv4_header sh[5];
	struct http_header hh[6];
	struct http_response resp = {0};
	struct http_request req = {0};
	char date[SIGV4_DATE_LEN];
	size_t n = 0;
	time_t now;
	json_t *doc;
	int rc;

	rc = creds_provider_get(c->creds, monotime_wall_s(), &cr);
	if (rc) {
		set_message(err, "could not get credentials: %s",
			    strerror(-rc));
		goto out;
	}
	now = time(NULL);
	rc = sigv4_format_date(now, date);
	if (rc)
		goto out;
	sh[n++] = (struct sigv4_header){"content-type", DDB_CONTENT_TYPE};
	sh[n++] = (struct sigv4_header){"host", c->host};
	sh[n++] = (struct sigv4_header){"x-amz-date", date};
	sh[n++] = (struct sigv4_header){"x-amz-target", target};
	if (cr.session_token && cr.session_token[0])
		sh[n++] = (struct sigv4_header){"x-amz-security-token",
						cr.session_token};
	rc = sigv4_sign(&(struct sigv4_request){.method = "POST",
						.path = c->path,
						.query = c->query,
						.headers = sh,
						.n_headers = n,
						.body = body,
						.body_len = body_len},
			&(struct sigv4_credentials){
			    .access_key_id = cr.access_key_id,
			    .secret_access_key = cr.secret_access_key,
			    .session_token = cr.session_token},
			c->region, "dynamodb", now, &sig);
	if (rc) {
		set_message(err, "could not sign the request: %s",
			    strerror(-rc));
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		hh[i] = (struct http_header){sh[i].name, sh[i].value};
	hh[n] = (struct http_header){"authorization", sig.authorization};
	req = (struct http_request){.method = "POST",
				    .url = c->endpoint,
				    .headers = hh,
				    .n_headers = n + 1,
				    .body = body,
				    .body_len = body_len,
				    .timeout_ms = c->timeout_ms,
				    .check_crc32 = true};
	rc = http_request(c->http, &req, &resp);
	if (rc == -ENOMEM)
		goto out;
	if (rc) {
		err->transport = rc;
		set_message(err, "%s", http_strerror(rc));
		rc = ATTEMPT_FAILED;
		goto out;
	}
	err->http_status = resp.status;
	if (resp.request_id)
		snprintf(err->request_id, sizeof(err->request_id), "%s",
			 resp.request_id);
	if (resp.status != 200) {
		parse_error_body(resp.body, resp.body_len, err);
		rc = ATTEMPT_FAILED;
		goto out;
	}
	if (raw) {
		/* Read later one item at a time (ddb_page_items). The
		 * checksum vouches for the bytes; without one, at least a
		 * body cut short is caught here, where a retry is possible. */
		size_t end = resp.body_len;

		while (end > 0 && (resp.body[end - 1] == ' ' ||
				   resp.body[end - 1] == '\n' ||
				   resp.body[end - 1] == '\r' ||
				   resp.body[end - 1] == '\t'))
			end--;
		if (!resp.had_crc32 &&
		    (end == 0 || resp.body[end - 1] != '}')) {
			err->transport = -EBADMSG;
			set_message(err, "malformed response body");
			rc = ATTEMPT_FAILED;
			goto out;
		}
		*raw = resp;
		memset(&resp, 0, sizeof(resp));
		rc = ATTEMPT_OK;
		goto out;
	}
	doc = json_loadb(resp.body, resp.body_len, JSON_ALLOW_NUL, NULL);
	if (!json_is_object(doc)) {
		/* A cut or garbled body without a checksum to catch it: as
		 * good as a transport failure, and as worth a retry. */
		json_decref(doc);
		err->transport = -EBADMSG;
		set_message(err, "malformed response body");
		rc = ATTEMPT_FAILED;
		goto out;
	}
	*out = doc;
	rc = ATTEMPT_OK;
out:
	http_response_free(&resp);
	sigv4_signature_free(&sig);
	creds_clear(&cr);
	return rc;
}

/* True when a failed attempt may still have been applied by the server:
 * it answered 5xx, or the connection failed after the request was sent.
 * A refused or unresolved connection never reached it. */
static bool may_have_applied(const struct ddb_error *err)
{
	if (err->transport)
		return err->transport != -ECONNREFUSED &&
		       err->transport != -EHOSTUNREACH &&
		       err->transport != -ENETUNREACH;
	return err->http_status >= 500;
}

static void clear_attempt(struct ddb_error *err)
{
	err->http_status = 0;
	err->transport = 0;
	err->code[0] = '\0';
	err->message[0] = '\0';
	err->request_id[0] = '\0';
}

/* ddb_call, and with raw the unparsed body of the answer. */
static int call_common(struct ddb_client *c, const char *op, json_t *request,
		       json_t **response, struct http_response *raw,
		       struct ddb_error *err)
{
	struct ddb_error local;
	char target[128], desc[1024];
	const char *table = "-";
	char *body = NULL, *key = NULL, *segment = NULL;
	json_t *doc = NULL, *empty = NULL;
	long long t0, ms;
	int rc = 0, r;

	if (!err)
		err = &local;
	memset(err, 0, sizeof(*err));
	if (response)
		*response = NULL;
	if (!c || !op || !op[0] || strlen(op) > 64) {
		rc = -EINVAL;
		goto out;
	}
	if (!request) {
		empty = json_object();
		request = empty;
	}
	snprintf(target, sizeof(target), DDB_TARGET_PREFIX "%s", op);
	if (json_is_string(json_object_get(request, "TableName")))
		table =
		    json_string_value(json_object_get(request, "TableName"));
	body = json_dumps(request, JSON_COMPACT);
	if (!body) {
		rc = -ENOMEM;
		goto out;
	}
	if (log_enabled(LOG_DEBUG) && json_object_get(request, "Key"))
		key = json_dumps(json_object_get(request, "Key"),
				 JSON_COMPACT | JSON_ENCODE_ANY);
	if (log_enabled(LOG_DEBUG) &&
	    json_is_integer(json_object_get(request, "TotalSegments"))) {
		/* Which parallel Scan segment, so a log shows the fan-out. */
		if (asprintf(
			&segment, " segment=%lld/%lld",
			json_integer_value(json_object_get(request, "Segment")),
			json_integer_value(
			    json_object_get(request, "TotalSegments"))) < 0)
			segment = NULL;
	}
	for (int attempt = 1;; attempt++) {
		clear_attempt(err);
		err->attempts = attempt;
		t0 = monotime_ms();
		r = attempt_once(c, target, body, strlen(body), &doc, raw, err);
		ms = monotime_ms() - t0;
		if (r < 0) {
			rc = r;
			goto out;
		}
		log_msg(LOG_DEBUG,
			"request op=%s table=%s status=%ld ms=%lld attempt=%d"
			"%s%s%s%s%s%s%s",
			op, table, err->http_status, ms, attempt,
			segment ? segment : "", key ? " key=" : "",
			key ? key : "", err->code[0] ? " code=" : "", err->code,
			err->transport ? " error=" : "",
			err->transport ? err->message : "");
		if (r == ATTEMPT_OK)
			break;
		if (attempt > c->retries ||
		    !ddb_retryable(err->transport, err->http_status,
				   err->code)) {
			rc = ddb_errno(err);
			goto out;
		}
		if (may_have_applied(err))
			err->maybe_applied = true;
		sleep_ms(client_backoff(c, (unsigned)attempt));
	}
	if (response) {
		*response = doc;
		doc = NULL;
	}
out:
	if (rc) {
		if (!err->message[0] && rc == -ENOMEM)
			set_message(err, "out of memory");
		/* Answers that are a normal outcome for the caller (no such
		 * table, a condition that did not hold, no transactions on
		 * this server) are information; the rest are warnings. */
		log_msg(rc == -ENOENT || rc == -EEXIST || rc == -ENOSYS
			    ? LOG_INFO
			    : LOG_WARNING,
			"%s table=%s failed after %d attempt%s: %s%s",
			op ? op : "(null)", table, err->attempts,
			err->attempts == 1 ? "" : "s",
			ddb_strerror(err, desc, sizeof(desc)),
			err->maybe_applied ? " (an earlier attempt may have "
					     "been applied)"
					   : "");
	}
	json_decref(doc);
	json_decref(empty);
	free(body);
	free(key);
	free(segment);
	return rc;
}

int ddb_call(struct ddb_client *c, const char *op, json_t *request,
	     json_t **response, struct ddb_error *err)
{
	return call_common(c, op, request, response, NULL, err);
}

int ddb_call_raw(struct ddb_client *c, const char *op, json_t *request,
		 char **body, size_t *len, struct ddb_error *err)
{
	struct http_response raw = {0};
	int rc;

	*body = NULL;
	*len = 0;
	rc = call_common(c, op, request, NULL, &raw, err);
	if (!rc) {
		*body = raw.body;
		*len = raw.body_len;
		raw.body = NULL;
	}
	http_response_free(&raw);
	return rc;
}

static size_t skip_space(const char *p, size_t i, size_t len)
{
	while (i < len &&
	       (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
		i++;
	return i;
}

/* One JSON value at body[*i], moving *i past it. NULL when malformed. */
static json_t *load_one(const char *body, size_t len, size_t *i)
{
	json_error_t jerr;
	json_t *v = json_loadb(
	    body + *i, len - *i,
	    JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);

	/* jansson ends a number at a raw NUL byte and steps over it ({"u":0
	 * then NUL); a raw NUL is never JSON, so what it read must hold none.
	 */
	if (v && memchr(body + *i, '\0', (size_t)jerr.position)) {
		json_decref(v);
		return NULL;
	}
	if (v)
		*i += (size_t)jerr.position;
	return v;
}

int ddb_page_items(const char *body, size_t len, ddb_item_fn fn, void *arg,
		   json_t **rest)
{
	json_t *others = json_object(), *key = NULL, *v;
	bool seen_items = false;
	size_t i = 0;
	int rc = -EBADMSG;

	if (rest)
		*rest = NULL;
	if (!others)
		return -ENOMEM;
	i = skip_space(body, i, len);
	if (i >= len || body[i++] != '{')
		goto out;
	i = skip_space(body, i, len);
	if (i < len && body[i] == '}') {
		i++;
		goto done;
	}
	for (;;) {
		i = skip_space(body, i, len);
		key =
		    i < len && body[i] == '"' ? load_one(body, len, &i) : NULL;
		/* A key with a NUL in it is refused, as json_loadb does. */
		if (!json_is_string(key) ||
		    strlen(json_string_value(key)) != json_string_length(key))
			goto out;
		i = skip_space(body, i, len);
		if (i >= len || body[i++] != ':')
			goto out;
		i = skip_space(body, i, len);
		if (strcmp(json_string_value(key), "Items") == 0) {
			/* Exactly one Items member, and an array. */
			if (seen_items || i >= len || body[i] != '[')
				goto out;
			seen_items = true;
			/* The items one at a time: each tree is freed before
			 * the next is parsed, never the whole page at once. */
			i = skip_space(body, i + 1, len);
			if (i < len && body[i] == ']') {
				i++;
			} else {
				for (;;) {
					v = load_one(body, len, &i);
					if (!json_is_object(v)) {
						json_decref(v);
						goto out;
					}
					rc = fn(v, arg);
					json_decref(v);
					if (rc)
						goto out;
					rc = -EBADMSG;
					i = skip_space(body, i, len);
					if (i < len && body[i] == ',') {
						i = skip_space(body, i + 1,
							       len);
						continue;
					}
					if (i < len && body[i] == ']') {
						i++;
						break;
					}
					goto out;
				}
			}
		} else {
			v = load_one(body, len, &i);
			if (!v)
				goto out;
			if (json_object_set_new(others, json_string_value(key),
						v)) {
				rc = -ENOMEM;
				goto out;
			}
		}
		json_decref(key);
		key = NULL;
		i = skip_space(body, i, len);
		if (i < len && body[i] == ',') {
			i++;
			continue;
		}
		if (i < len && body[i] == '}') {
			i++;
			break;
		}
		goto out;
	}
done:
	if (skip_space(body, i, len) != len)
		goto out;
	rc = 0;
	if (rest) {
		*rest = others;
		others = NULL;
	}
out:
	json_decref(key);
	json_decref(others);
	return rc;
}

/* --- typed operations ---------------------------------------------------- */

/* Records a failure that happened on our side after the calls succeeded
 * (a malformed answer, a stall), logged like a server error. */
static int local_error(struct ddb_error *err, const char *op, int rc,
		       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int local_error(struct ddb_error *err, const char *op, int rc,
		       const char *fmt, ...)
{
	struct ddb_error local = {0};
	va_list ap;

	if (!err)
		err = &local;
	err->code[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	log_msg(LOG_WARNING, "%s failed: %s", op, err->message);
	return rc;
}

int ddb_list_tables_page(struct ddb_client *c, const char *start, int limit,
			 json_t **response, struct ddb_error *err)
{
	json_t *req = json_object();
	int rc = 0;

	*response = NULL;
	if (!req) {
		rc = -ENOMEM;
		goto out;
	}
	if (start && json_object_set_new(req, "ExclusiveStartTableName",
					 json_string(start)) != 0) {
		rc = -ENOMEM;
		goto out;
	}
	if (limit > 0 &&
	    json_object_set_new(req, "Limit", json_integer(limit)) != 0) {
		rc = -ENOMEM;
		goto out;
	}
	rc = ddb_call(c, "ListTables", req, response, err);
out:
	json_decref(req);
	return rc;
}

int ddb_list_tables(struct ddb_client *c, json_t **names, struct ddb_error *err)
{
	json_t *all = json_array(), *page = NULL, *list;
	char *start = NULL;
	const char *last;
	int rc = 0;

	*names = NULL;
	if (!all) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		rc = ddb_list_tables_page(c, start, 100, &page, err);
		if (rc)
			goto out;
		list = json_object_get(page, "TableNames");
		if (json_is_array(list) && json_array_extend(all, list) != 0) {
			rc = -ENOMEM;
			goto out;
		}
		last = json_string_value(
		    json_object_get(page, "LastEvaluatedTableName"));
		if (!last)
			break;
		/* A server that hands back the name it was given would
		 * loop forever. */
		if (start && strcmp(start, last) == 0) {
			rc = local_error(
			    err, "ListTables", -EIO,
			    "ListTables repeated the page after %s", last);
			goto out;
		}
		free(start);
		start = strdup(last);
		if (!start) {
			rc = -ENOMEM;
			goto out;
		}
		json_decref(page);
		page = NULL;
	}
	*names = all;
	all = NULL;
out:
	json_decref(page);
	json_decref(all);
	free(start);
	return rc;
}

/* Sends {"TableName": table} as op; *response (may be NULL) as ddb_call. */
static int call_table_op(struct ddb_client *c, const char *op,
			 const char *table, json_t **response,
			 struct ddb_error *err)
{
	json_t *req = json_pack("{s:s}", "TableName", table ? table : "");
	int rc;

	if (!req)
		return -ENOMEM;
	rc = ddb_call(c, op, req, response, err);
	json_decref(req);
	return rc;
}

int ddb_describe_table(struct ddb_client *c, const char *table,
		       json_t **table_desc, struct ddb_error *err)
{
	json_t *resp = NULL, *t;
	int rc;

	*table_desc = NULL;
	rc = call_table_op(c, "DescribeTable", table, &resp, err);
	if (rc)
		goto out;
	t = json_object_get(resp, "Table");
	if (!json_is_object(t)) {
		rc = local_error(err, "DescribeTable", -EIO,
				 "DescribeTable answer has no Table");
		goto out;
	}
	*table_desc = json_incref(t);
out:
	json_decref(resp);
	return rc;
}

static bool table_active(json_t *desc)
{
	const char *s = json_string_value(json_object_get(desc, "TableStatus"));

	return s && strcmp(s, "ACTIVE") == 0;
}

int ddb_create_table(struct ddb_client *c, json_t *request, bool wait_active,
		     json_t **table_desc, struct ddb_error *err)
{
	json_t *resp = NULL, *desc = NULL;
	const char *name;
	unsigned delay = 50;
	long long deadline;
	int rc;

	if (table_desc)
		*table_desc = NULL;
	rc = ddb_call(c, "CreateTable", request, &resp, err);
	if (rc)
		goto out;
	desc = json_incref(json_object_get(resp, "TableDescription"));
	name = json_string_value(json_object_get(request, "TableName"));
	deadline = monotime_ms() + DDB_CREATE_WAIT_MS;
	while (wait_active && !table_active(desc)) {
		json_t *next = NULL;

		if (monotime_ms() > deadline) {
			rc = local_error(err, "CreateTable", -ETIMEDOUT,
					 "table %s not ACTIVE after %d s",
					 name ? name : "-",
					 DDB_CREATE_WAIT_MS / 1000);
			goto out;
		}
		sleep_ms(delay);
		if (delay < 1000)
			delay = delay * 2 > 1000 ? 1000 : delay * 2;
		rc = ddb_describe_table(c, name, &next, err);
		/* Just after CreateTable, an eventually consistent
		 * DescribeTable may not know the table yet. */
		if (rc == -ENOENT)
			continue;
		if (rc)
			goto out;
		json_decref(desc);
		desc = next;
	}
	if (table_desc) {
		*table_desc = desc;
		desc = NULL;
	}
	rc = 0;
out:
	json_decref(desc);
	json_decref(resp);
	return rc;
}

int ddb_delete_table(struct ddb_client *c, const char *table,
		     struct ddb_error *err)
{
	return call_table_op(c, "DeleteTable", table, NULL, err);
}

int ddb_get_item(struct ddb_client *c, const char *table, json_t *key,
		 bool consistent, json_t **item, struct ddb_error *err)
{
	json_t *req, *resp = NULL, *it;
	int rc;

	*item = NULL;
	req = json_pack("{s:s,s:O,s:b}", "TableName", table ? table : "", "Key",
			key, "ConsistentRead", consistent);
	if (!req)
		return key ? -ENOMEM : -EINVAL;
	rc = ddb_call(c, "GetItem", req, &resp, err);
	if (rc)
		goto out;
	it = json_object_get(resp, "Item");
	if (!json_is_object(it)) {
		/* No such item: not an error of the call, so not logged. */
		rc = -ENOENT;
		goto out;
	}
	*item = json_incref(it);
out:
	json_decref(resp);
	json_decref(req);
	return rc;
}

/* Builds a PutItem/DeleteItem body: TableName, what (Item or Key) and the
 * optional condition with its names and values. Returns a new reference or
 * NULL (out of memory or bad arguments). */
static json_t *conditional_request(const char *table, const char *what,
				   json_t *value, const char *condition,
				   json_t *names, json_t *values)
{
	json_t *req = json_pack("{s:s,s:O}", "TableName", table ? table : "",
				what, value);

	if (!req)
		return NULL;
	if ((condition && json_object_set_new(req, "ConditionExpression",
					      json_string(condition)) != 0) ||
	    (names &&
	     json_object_set(req, "ExpressionAttributeNames", names) != 0) ||
	    (values &&
	     json_object_set(req, "ExpressionAttributeValues", values) != 0)) {
		json_decref(req);
		return NULL;
	}
	return req;
}

int ddb_put_item(struct ddb_client *c, const char *table, json_t *item,
		 const char *condition, json_t *names, json_t *values,
		 struct ddb_error *err)
{
	json_t *req =
	    conditional_request(table, "Item", item, condition, names, values);
	int rc;

	if (!req)
		return item ? -ENOMEM : -EINVAL;
	rc = ddb_call(c, "PutItem", req, NULL, err);
	json_decref(req);
	return rc;
}

int ddb_delete_item(struct ddb_client *c, const char *table, json_t *key,
		    const char *condition, json_t *names, json_t *values,
		    struct ddb_error *err)
{
	json_t *req =
	    conditional_request(table, "Key", key, condition, names, values);
	int rc;

	if (!req)
		return key ? -ENOMEM : -EINVAL;
	rc = ddb_call(c, "DeleteItem", req, NULL, err);
	json_decref(req);
	return rc;
}

int ddb_update_item(struct ddb_client *c, json_t *request, json_t **response,
		    struct ddb_error *err)
{
	return ddb_call(c, "UpdateItem", request, response, err);
}

/* --- Query and Scan ------------------------------------------------------ */

/* What the pages of one Query or Scan (all its segments) share. */
struct pager {
	ddb_page_fn fn;
	void *arg;
	pthread_mutex_t lock; /* serializes fn and guards what follows */
	bool stop;	      /* a segment failed or fn asked to stop */
	int rc;		      /* the first error */
	struct ddb_error err; /* and its details */
};

/* Runs op from req (owned, modified: ExclusiveStartKey is set on it) through
 * every page, handing each to the pager's fn. Returns 0 (also when fn or
 * another segment stopped it) or a negative errno. */
static int run_pages(struct ddb_client *c, const char *op, json_t *req,
		     struct pager *pg, struct ddb_error *err)
{
	json_t *page = NULL, *lek;
	bool more;
	int rc = 0;

	for (;;) {
		pthread_mutex_lock(&pg->lock);
		more = !pg->stop;
		pthread_mutex_unlock(&pg->lock);
		if (!more)
			break;
		rc = ddb_call(c, op, req, &page, err);
		if (rc)
			break;
		pthread_mutex_lock(&pg->lock);
		rc = pg->stop ? 1 : pg->fn(page, pg->arg);
		if (rc > 0)
			pg->stop = true;
		pthread_mutex_unlock(&pg->lock);
		if (rc > 0) {
			rc = 0;
			break;
		}
		if (rc < 0)
			break;
		lek = json_object_get(page, "LastEvaluatedKey");
		if (!json_is_object(lek) || json_object_size(lek) == 0)
			break;
		if (json_object_set(req, "ExclusiveStartKey", lek) != 0) {
			rc = -ENOMEM;
			break;
		}
		json_decref(page);
		page = NULL;
	}
	json_decref(page);
	return rc;
}

static int pager_init(struct pager *pg, ddb_page_fn fn, void *arg)
{
	memset(pg, 0, sizeof(*pg));
	pg->fn = fn;
	pg->arg = arg;
	return pthread_mutex_init(&pg->lock, NULL) ? -ENOMEM : 0;
}

int ddb_query(struct ddb_client *c, json_t *request, ddb_page_fn fn, void *arg,
	      struct ddb_error *err)
{
	struct pager pg;
	json_t *req;
	int rc;

	if (!json_is_object(request) || !fn)
		return -EINVAL;
	/* A shallow copy: the caller's request stays as it was. */
	req = json_copy(request);
	if (!req)
		return -ENOMEM;
	rc = pager_init(&pg, fn, arg);
	if (rc)
		goto out;
	rc = run_pages(c, "Query", req, &pg, err);
	pthread_mutex_destroy(&pg.lock);
out:
	json_decref(req);
	return rc;
}

struct segment {
	struct ddb_client *c;
	struct pager *pg;
	json_t *req;
	pthread_t thread;
	bool started;
};

static void *segment_main(void *p)
{
	struct segment *s = p;
	struct ddb_error err = {0};
	int rc = run_pages(s->c, "Scan", s->req, s->pg, &err);

	if (rc) {
		pthread_mutex_lock(&s->pg->lock);
		/* The first failure stops the others and is the one
		 * reported. */
		if (!s->pg->rc) {
			s->pg->rc = rc;
			s->pg->err = err;
		}
		s->pg->stop = true;
		pthread_mutex_unlock(&s->pg->lock);
	}
	return NULL;
}

int ddb_scan(struct ddb_client *c, json_t *request, unsigned segments,
	     ddb_page_fn fn, void *arg, struct ddb_error *err)
{
	struct segment *seg = NULL;
	struct pager pg;
	bool pg_ready = false;
	json_t *req = NULL;
	int rc = 0;

	if (err)
		memset(err, 0, sizeof(*err));
	if (!json_is_object(request) || !fn || segments > DDB_MAX_SEGMENTS)
		return -EINVAL;
	rc = pager_init(&pg, fn, arg);
	if (rc)
		return rc;
	pg_ready = true;
	if (segments <= 1) {
		req = json_copy(request);
		if (!req) {
			rc = -ENOMEM;
			goto out;
		}
		rc = run_pages(c, "Scan", req, &pg, err);
		goto out;
	}
	seg = calloc(segments, sizeof(*seg));
	if (!seg) {
		rc = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < segments; i++) {
		seg[i].c = c;
		seg[i].pg = &pg;
		seg[i].req = json_copy(request);
		if (!seg[i].req ||
		    json_object_set_new(seg[i].req, "Segment",
					json_integer(i)) != 0 ||
		    json_object_set_new(seg[i].req, "TotalSegments",
					json_integer(segments)) != 0) {
			rc = -ENOMEM;
			goto out;
		}
	}
	for (unsigned i = 0; i < segments; i++) {
		int e =
		    pthread_create(&seg[i].thread, NULL, segment_main, &seg[i]);

		if (e) {
			/* Without every segment the scan would miss items. */
			pthread_mutex_lock(&pg.lock);
			pg.stop = true;
			if (!pg.rc)
				pg.rc = -e;
			pthread_mutex_unlock(&pg.lock);
			break;
		}
		seg[i].started = true;
	}
	for (unsigned i = 0; i < segments; i++)
		if (seg[i].started)
			pthread_join(seg[i].thread, NULL);
	rc = pg.rc;
	if (rc && err)
		*err = pg.err;
out:
	if (seg) {
		for (unsigned i = 0; i < segments; i++)
			json_decref(seg[i].req);
		free(seg);
	}
	if (pg_ready)
		pthread_mutex_destroy(&pg.lock);
	json_decref(req);
	return rc;
}

/* --- batches ------------------------------------------------------------- */

/* Re-sends what a batch call left unprocessed until nothing is left. One
 * round of no progress at all counts as a failed attempt; after `retries`
 * of them in a row the batch gives up with -EAGAIN (still throttled). */
struct batch_round {
	unsigned round;	  /* back-off exponent: rounds with leftovers so far */
	unsigned stalled; /* rounds in a row that made no progress */
};

static int batch_backoff(struct ddb_client *c, struct batch_round *br,
			 const char *op, size_t sent, size_t left,
			 struct ddb_error *err)
{
	br->stalled = left >= sent ? br->stalled + 1 : 0;
	if (br->stalled > (unsigned)c->retries)
		return local_error(err, op, -EAGAIN,
				   "%zu requests still unprocessed after %u "
				   "tries without progress",
				   left, br->stalled);
	br->round++;
	sleep_ms(client_backoff(c, br->round));
	return 0;
}

/* Returns elements [start, start+n) of array as a new array. */
static json_t *array_slice(json_t *array, size_t start, size_t n)
{
	json_t *out = json_array();

	for (size_t i = start; out && i < start + n; i++)
		if (json_array_append(out, json_array_get(array, i)) != 0) {
			json_decref(out);
			out = NULL;
		}
	return out;
}

static int batch_get_chunk(struct ddb_client *c, const char *table,
			   json_t *keys, bool consistent, json_t *items,
			   struct ddb_error *err)
{
	struct batch_round br = {0};
	json_t *pending = json_incref(keys), *req = NULL, *resp = NULL;
	json_t *found, *left;
	int rc = 0;

	while (json_array_size(pending) > 0) {
		req = json_pack("{s:{s:{s:O,s:b}}}", "RequestItems", table,
				"Keys", pending, "ConsistentRead", consistent);
		if (!req) {
			rc = -ENOMEM;
			goto out;
		}
		rc = ddb_call(c, "BatchGetItem", req, &resp, err);
		if (rc)
			goto out;
		found =
		    json_object_get(json_object_get(resp, "Responses"), table);
		if (json_is_array(found) && json_array_extend(items, found)) {
			rc = -ENOMEM;
			goto out;
		}
		left = json_object_get(
		    json_object_get(json_object_get(resp, "UnprocessedKeys"),
				    table),
		    "Keys");
		if (!json_is_array(left) || json_array_size(left) == 0)
			break;
		rc = batch_backoff(c, &br, "BatchGetItem",
				   json_array_size(pending),
				   json_array_size(left), err);
		if (rc)
			goto out;
		json_decref(pending);
		pending = json_incref(left);
		json_decref(req);
		json_decref(resp);
		req = resp = NULL;
	}
out:
	json_decref(pending);
	json_decref(req);
	json_decref(resp);
	return rc;
}

int ddb_batch_get(struct ddb_client *c, const char *table, json_t *keys,
		  bool consistent, json_t **items, struct ddb_error *err)
{
	json_t *all = json_array(), *chunk = NULL;
	size_t n = json_array_size(keys), k;
	int rc = 0;

	*items = NULL;
	if (!table || !json_is_array(keys)) {
		rc = -EINVAL;
		goto out;
	}
	if (!all) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t start = 0; start < n; start += k) {
		k = n - start < DDB_BATCH_GET_MAX ? n - start
						  : DDB_BATCH_GET_MAX;
		chunk = array_slice(keys, start, k);
		if (!chunk) {
			rc = -ENOMEM;
			goto out;
		}
		rc = batch_get_chunk(c, table, chunk, consistent, all, err);
		if (rc)
			goto out;
		json_decref(chunk);
		chunk = NULL;
	}
	*items = all;
	all = NULL;
out:
	json_decref(chunk);
	json_decref(all);
	return rc;
}

static int batch_write_chunk(struct ddb_client *c, const char *table,
			     json_t *requests, struct ddb_error *err)
{
	struct batch_round br = {0};
	json_t *pending = json_incref(requests), *req = NULL, *resp = NULL;
	json_t *left;
	int rc = 0;

	while (json_array_size(pending) > 0) {
		req = json_pack("{s:{s:O}}", "RequestItems", table, pending);
		if (!req) {
			rc = -ENOMEM;
			goto out;
		}
		rc = ddb_call(c, "BatchWriteItem", req, &resp, err);
		if (rc)
			goto out;
		left = json_object_get(
		    json_object_get(resp, "UnprocessedItems"), table);
		if (!json_is_array(left) || json_array_size(left) == 0)
			break;
		rc = batch_backoff(c, &br, "BatchWriteItem",
				   json_array_size(pending),
				   json_array_size(left), err);
		if (rc)
			goto out;
		json_decref(pending);
		pending = json_incref(left);
		json_decref(req);
		json_decref(resp);
		req = resp = NULL;
	}
out:
	json_decref(pending);
	json_decref(req);
	json_decref(resp);
	return rc;
}

int ddb_batch_write(struct ddb_client *c, const char *table, json_t *requests,
		    struct ddb_error *err)
{
	json_t *chunk = NULL;
	size_t n = json_array_size(requests), k;
	int rc = 0;

	if (!table || !json_is_array(requests))
		return -EINVAL;
	for (size_t start = 0; start < n; start += k) {
		k = n - start < DDB_BATCH_WRITE_MAX ? n - start
						    : DDB_BATCH_WRITE_MAX;
		chunk = array_slice(requests, start, k);
		if (!chunk) {
			rc = -ENOMEM;
			goto out;
		}
		rc = batch_write_chunk(c, table, chunk, err);
		if (rc)
			goto out;
		json_decref(chunk);
		chunk = NULL;
	}
out:
	json_decref(chunk);
	return rc;
}

/* --- transactions -------------------------------------------------------- */

/* A random UUID (version 4) as botocore fills in for ClientRequestToken, so
 * that our own retries of one transaction are idempotent. */
static void make_token(struct ddb_client *c, char out[37])
{
	unsigned char b[16];
	uint64_t r[2];

	if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b)) {
		pthread_mutex_lock(&c->rng_lock);
		r[0] = xorshift64(&c->rng);
		r[1] = xorshift64(&c->rng);
		pthread_mutex_unlock(&c->rng_lock);
		memcpy(b, r, sizeof(b));
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37,
		 "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
		 "%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		 b[10], b[11], b[12], b[13], b[14], b[15]);
}

int ddb_transact_write(struct ddb_client *c, json_t *items,
		       const char *client_token, struct ddb_error *err)
{
	char token[37];
	json_t *req;
	int rc;

	if (!c || !json_is_array(items))
		return -EINVAL;
	if (!client_token) {
		make_token(c, token);
		client_token = token;
	}
	req = json_pack("{s:O,s:s}", "TransactItems", items,
			"ClientRequestToken", client_token);
	if (!req)
		return -ENOMEM;
	rc = ddb_call(c, "TransactWriteItems", req, NULL, err);
	json_decref(req);
	return rc;
}
