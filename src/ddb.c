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

#include "codec.h"
#include "log.h"
#include "monotime.h"
#include "sigv4.h"

#define DDB_DEFAULT_RETRIES 10
#define DDB_DEFAULT_BASE_MS 50
#define DDB_DEFAULT_CAP_MS  20000
#define DDB_TARGET_PREFIX   "DynamoDB_20120810."
#define DDB_CONTENT_TYPE    "application/x-amz-json-1.0"
/* CreateTable on AWS takes seconds to a minute; a table not ACTIVE after
 * this long is reported rather than waited on forever (mkdir would hang). */
#define DDB_CREATE_WAIT_MS (5 * 60 * 1000)
/* Parallel Scan: TotalSegments is 1 to 1,000,000 (DYNAMODB.md). */
#define DDB_MAX_SEGMENTS 1000000u

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

/* As ddb_call, but the answer comes back unparsed: *body (allocated,
 * NUL-terminated, *len bytes before the NUL; caller frees) on success,
 * NULL otherwise. For Query and Scan pages, whose items ddb_page_items
 * reads one at a time: a 1 MB page parsed whole is a tree of 25-60 MB.
 * The body is not checked before it is returned (the x-amz-crc32
 * checksum is), so a malformed one shows only when it is read. */
static int call_raw(struct ddb_client *c, const char *op, json_t *request,
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

/* Where a page's items go: a tree to fn, or the bytes to raw. */
struct item_sink {
	ddb_item_fn fn;
	ddb_item_raw_fn raw;
	void *arg;
};

/* The item at body[*i] ('{'), moving *i past it, handed to the sink.
 * Returns 0, the sink's error, -EBADMSG for a malformed item, -ENOMEM. */
static int page_item(const char *body, size_t len, size_t *i,
		     const struct item_sink *k)
{
	size_t start = *i, used = 0;
	json_t *v;
	int rc;

	if (k->raw) {
		/* The flat reader vouches for most items at a fraction of
		 * a tree's cost; jansson checks the rest, and its tree is
		 * dropped: raw gets bytes either way. */
		rc = start < len && body[start] == '{'
			 ? codec_json_span(body + start, len - start, &used)
			 : -EBADMSG;
		if (rc == -ENOTSUP) {
			v = load_one(body, len, i);
			rc = json_is_object(v) ? 0 : -EBADMSG;
			json_decref(v);
		} else if (!rc) {
			*i += used;
		}
		return rc ? rc : k->raw(body + start, *i - start, k->arg);
	}
	v = load_one(body, len, i);
	if (!json_is_object(v)) {
		json_decref(v);
		return -EBADMSG;
	}
	rc = k->fn(v, k->arg);
	json_decref(v);
	return rc;
}

static int page_items(const char *body, size_t len, const struct item_sink *k,
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
					rc = page_item(body, len, &i, k);
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

int ddb_page_items(const char *body, size_t len, ddb_item_fn fn, void *arg,
		   json_t **rest)
{
	struct item_sink k = {.fn = fn, .arg = arg};

	return page_items(body, len, &k, rest);
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

int ddb_get_item_body(struct ddb_client *c, const char *table, json_t *key,
		      bool consistent, char **body, size_t *len,
		      struct ddb_error *err)
{
	json_t *req;
	int rc;

	*body = NULL;
	*len = 0;
	req = json_pack("{s:s,s:O,s:b}", "TableName", table ? table : "", "Key",
			key, "ConsistentRead", consistent);
	if (!req)
		return key ? -ENOMEM : -EINVAL;
	rc = call_raw(c, "GetItem", req, body, len, err);
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

/* TransactWriteItems of items (borrowed array), with a random client
 * token that makes our retries idempotent. -ENOSYS when the server has no
 * transactions (UnknownOperationException), -EEXIST when a condition
 * failed (TransactionCanceledException with a ConditionalCheckFailed
 * reason). */
static int transact_write(struct ddb_client *c, json_t *items,
			  struct ddb_error *err)
{
	char token[37];
	json_t *req;
	int rc;

	if (!c || !json_is_array(items))
		return -EINVAL;
	make_token(c, token);
	req = json_pack("{s:O,s:s}", "TransactItems", items,
			"ClientRequestToken", token);
	if (!req)
		return -ENOMEM;
	rc = ddb_call(c, "TransactWriteItems", req, NULL, err);
	json_decref(req);
	return rc;
}

/* --- the filesystem's requests ------------------------------------------- */

/* The type letter of attribute name in a table's AttributeDefinitions; 'S'
 * when it has none. */
static char attr_type_of(json_t *defs, const char *name)
{
	size_t i;
	json_t *d;

	json_array_foreach(defs, i, d)
	{
		const char *n =
		    json_string_value(json_object_get(d, "AttributeName"));
		const char *t =
		    json_string_value(json_object_get(d, "AttributeType"));

		if (n && t && strcmp(n, name) == 0)
			return t[0];
	}
	return 'S';
}

int ddb_table_keys(json_t *desc, struct ddb_key_schema *keys,
		   uint64_t *size_bytes)
{
	json_t *defs = json_object_get(desc, "AttributeDefinitions"), *k;
	size_t i;

	memset(keys, 0, sizeof(*keys));
	if (size_bytes)
		*size_bytes = 0;
	json_array_foreach(json_object_get(desc, "KeySchema"), i, k)
	{
		const char *n =
		    json_string_value(json_object_get(k, "AttributeName"));
		const char *kt =
		    json_string_value(json_object_get(k, "KeyType"));

		if (!n || !kt)
			continue;
		if (strcmp(kt, "HASH") == 0) {
			keys->hash_name = n;
			keys->hash_type = attr_type_of(defs, n);
		} else if (strcmp(kt, "RANGE") == 0) {
			keys->range_name = n;
			keys->range_type = attr_type_of(defs, n);
		}
	}
	if (!keys->hash_name) {
		memset(keys, 0, sizeof(*keys));
		return -EBADMSG;
	}
	if (size_bytes)
		*size_bytes = (uint64_t)json_integer_value(
		    json_object_get(desc, "TableSizeBytes"));
	return 0;
}

static bool key_type_ok(char t)
{
	return t == 'S' || t == 'N' || t == 'B';
}

/* Appends {"AttributeName":name,"AttributeType":type} to defs and
 * {"AttributeName":name,"KeyType":key_type} to schema. */
static int add_key(json_t *defs, json_t *schema, const char *name, char type,
		   const char *key_type)
{
	char t[2] = {type, 0};

	if (json_array_append_new(defs, json_pack("{s:s,s:s}", "AttributeName",
						  name, "AttributeType", t)) ||
	    json_array_append_new(schema,
				  json_pack("{s:s,s:s}", "AttributeName", name,
					    "KeyType", key_type)))
		return -ENOMEM;
	return 0;
}

int ddb_create_table_keys(struct ddb_client *c, const char *table,
			  const struct ddb_key_schema *keys,
			  struct ddb_error *err)
{
	json_t *req = NULL, *defs = json_array(), *schema = json_array();
	int rc = -ENOMEM;

	if (!table || !keys || !keys->hash_name ||
	    !key_type_ok(keys->hash_type) ||
	    (keys->range_name && !key_type_ok(keys->range_type))) {
		rc = -EINVAL;
		goto out;
	}
	if (!defs || !schema)
		goto out;
	rc = add_key(defs, schema, keys->hash_name, keys->hash_type, "HASH");
	if (!rc && keys->range_name)
		rc = add_key(defs, schema, keys->range_name, keys->range_type,
			     "RANGE");
	if (rc)
		goto out;
	req = json_pack("{s:s,s:O,s:O,s:s}", "TableName", table,
			"AttributeDefinitions", defs, "KeySchema", schema,
			"BillingMode", "PAY_PER_REQUEST");
	if (!req) {
		rc = -ENOMEM;
		goto out;
	}
	rc = ddb_create_table(c, req, true, NULL, err);
	if (rc == -EBUSY)
		rc = -EEXIST; /* ResourceInUseException: the table exists */
out:
	json_decref(req);
	json_decref(defs);
	json_decref(schema);
	return rc;
}

/* Sets member name of obj to a new value v (stolen); NULL v is -ENOMEM. */
static int set_new(json_t *obj, const char *name, json_t *v)
{
	return v && json_object_set_new(obj, name, v) == 0 ? 0 : -ENOMEM;
}

/* The members every page request opens with: TableName, Limit,
 * ConsistentRead and ExclusiveStartKey, each only when set. */
static json_t *page_request_head(const struct ddb_page_req *r)
{
	json_t *req = json_pack("{s:s}", "TableName", r->table);

	if (req &&
	    ((r->limit > 0 && set_new(req, "Limit", json_integer(r->limit))) ||
	     (r->consistent && set_new(req, "ConsistentRead", json_true())) ||
	     (r->start &&
	      json_object_set(req, "ExclusiveStartKey", r->start) != 0))) {
		json_decref(req);
		return NULL;
	}
	return req;
}

/* ddb_query_page's body (new reference), or NULL with *rc set. */
static json_t *query_request(const struct ddb_page_req *r, int *rc)
{
	json_t *req = NULL, *names = NULL;

	*rc = -EINVAL;
	if (!r || !r->table || !r->hash_name || !r->hash_value ||
	    (r->read == DDB_READ_RANGE_KEY && !r->range_name))
		return NULL;
	*rc = -ENOMEM;
	req = page_request_head(r);
	names = json_pack("{s:s}", "#h", r->hash_name);
	if (!req || !names ||
	    set_new(req, "KeyConditionExpression", json_string("#h = :h")))
		goto fail;
	if (r->read == DDB_READ_HASH_KEY &&
	    set_new(req, "ProjectionExpression", json_string("#h")))
		goto fail;
	if (r->read == DDB_READ_RANGE_KEY &&
	    (set_new(req, "ProjectionExpression", json_string("#r")) ||
	     set_new(names, "#r", json_string(r->range_name))))
		goto fail;
	if (json_object_set(req, "ExpressionAttributeNames", names) ||
	    set_new(req, "ExpressionAttributeValues",
		    json_pack("{s:O}", ":h", r->hash_value)))
		goto fail;
	json_decref(names);
	*rc = 0;
	return req;
fail:
	json_decref(names);
	json_decref(req);
	return NULL;
}

/* ddb_scan_page's body (new reference), or NULL with *rc set. */
static json_t *scan_request(const struct ddb_page_req *r, unsigned segment,
			    unsigned total, int *rc)
{
	json_t *req;

	*rc = -EINVAL;
	if (!r || !r->table || r->read == DDB_READ_RANGE_KEY ||
	    (r->read == DDB_READ_HASH_KEY && !r->hash_name) ||
	    total > DDB_MAX_SEGMENTS || (total > 1 && segment >= total))
		return NULL;
	*rc = -ENOMEM;
	req = page_request_head(r);
	if (!req)
		return NULL;
	if (r->read == DDB_READ_HASH_KEY &&
	    (set_new(req, "ProjectionExpression", json_string("#h")) ||
	     set_new(req, "ExpressionAttributeNames",
		     json_pack("{s:s}", "#h", r->hash_name))))
		goto fail;
	if (total > 1 && (set_new(req, "Segment", json_integer(segment)) ||
			  set_new(req, "TotalSegments", json_integer(total))))
		goto fail;
	*rc = 0;
	return req;
fail:
	json_decref(req);
	return NULL;
}

/* Sends req (owned: freed here) as op, the answer unparsed. */
static int send_page(struct ddb_client *c, const char *op, json_t *req, int rc,
		     char **body, size_t *len, struct ddb_error *err)
{
	*body = NULL;
	*len = 0;
	if (!rc)
		rc = call_raw(c, op, req, body, len, err);
	json_decref(req);
	return rc;
}

int ddb_query_page(struct ddb_client *c, const struct ddb_page_req *r,
		   char **body, size_t *len, struct ddb_error *err)
{
	int rc;
	json_t *req = query_request(r, &rc);

	return send_page(c, "Query", req, rc, body, len, err);
}

int ddb_scan_page(struct ddb_client *c, const struct ddb_page_req *r,
		  unsigned segment, unsigned total, char **body, size_t *len,
		  struct ddb_error *err)
{
	int rc;
	json_t *req = scan_request(r, segment, total, &rc);

	return send_page(c, "Scan", req, rc, body, len, err);
}

static int page_read(const char *body, size_t len, const struct item_sink *k,
		     json_t **last)
{
	json_t *rest = NULL, *lek;
	int rc;

	*last = NULL;
	rc = page_items(body, len, k, &rest);
	if (!rc) {
		lek = json_object_get(rest, "LastEvaluatedKey");
		if (json_is_object(lek) && json_object_size(lek) > 0)
			*last = json_incref(lek);
	}
	json_decref(rest);
	return rc;
}

int ddb_page_read(const char *body, size_t len, ddb_item_fn fn, void *arg,
		  json_t **last)
{
	struct item_sink k = {.fn = fn, .arg = arg};

	return page_read(body, len, &k, last);
}

int ddb_page_read_raw(const char *body, size_t len, ddb_item_raw_fn fn,
		      void *arg, json_t **last)
{
	struct item_sink k = {.raw = fn, .arg = arg};

	return page_read(body, len, &k, last);
}

/* A Query (segment ignored) or Scan page of r from start (borrowed, NULL:
 * the first), its items to k; *last as ddb_page_read. */
static int read_page(struct ddb_client *c, const struct ddb_page_req *r,
		     bool query, json_t *start, unsigned segment,
		     unsigned total, const struct item_sink *k, json_t **last,
		     struct ddb_error *err)
{
	struct ddb_page_req p = *r;
	char *body = NULL;
	size_t len = 0;
	int rc;

	*last = NULL;
	p.start = start;
	rc = query ? ddb_query_page(c, &p, &body, &len, err)
		   : ddb_scan_page(c, &p, segment, total, &body, &len, err);
	if (!rc)
		rc = page_read(body, len, k, last);
	if (rc == -EBADMSG) {
		log_msg(LOG_ERR, "%s table=%s: a malformed page from DynamoDB",
			query ? "Query" : "Scan", r->table);
		rc = -EIO;
	}
	free(body);
	return rc;
}

int ddb_query_each(struct ddb_client *c, const struct ddb_page_req *r,
		   ddb_item_fn fn, void *arg, struct ddb_error *err)
{
	json_t *start = json_incref(r ? r->start : NULL), *last = NULL;
	struct item_sink k = {.fn = fn, .arg = arg};
	int rc;

	if (!r || !fn) {
		json_decref(start);
		return -EINVAL;
	}
	for (;;) {
		rc = read_page(c, r, true, start, 0, 0, &k, &last, err);
		json_decref(start);
		start = last;
		if (rc || !start)
			break;
	}
	json_decref(start);
	return rc;
}

/* ddb_item_fn of ddb_has_items: one item is enough. */
static int found_one(json_t *item, void *arg)
{
	(void)item;
	*(bool *)arg = true;
	return 0;
}

int ddb_has_items(struct ddb_client *c, const struct ddb_page_req *r, bool *any,
		  struct ddb_error *err)
{
	struct item_sink k = {.fn = found_one, .arg = any};
	struct ddb_page_req p;
	json_t *start = NULL, *last = NULL;
	int rc;

	*any = false;
	if (!r)
		return -EINVAL;
	p = *r;
	p.read = DDB_READ_ITEMS;
	p.limit = 1;
	p.consistent = true;
	start = json_incref(r->start);
	for (;;) {
		rc = read_page(c, &p, r->hash_value != NULL, start, 0, 0, &k,
			       &last, err);
		json_decref(start);
		start = last;
		if (rc || *any || !start)
			break;
	}
	json_decref(start);
	if (rc)
		*any = false;
	return rc;
}

struct ddb_scan_cursor {
	struct ddb_client *c;
	char *table;
	char *hash_name;
	enum ddb_read read;
	int limit;
	bool consistent;
	unsigned segments; /* 1: a plain Scan */
	unsigned next;	   /* the segment whose page comes next */
	unsigned left;	   /* segments not finished */
	struct {
		json_t *start; /* its LastEvaluatedKey so far, or NULL */
		bool done;
	} * seg;
};

int ddb_scan_cursor_open(struct ddb_client *c, const struct ddb_page_req *r,
			 unsigned segments, struct ddb_scan_cursor **cur)
{
	struct ddb_scan_cursor *s = NULL;
	int rc;

	*cur = NULL;
	if (segments == 0)
		segments = 1;
	/* The request of the last segment, checked as it will be sent. */
	json_decref(scan_request(r, segments - 1, segments, &rc));
	if (rc)
		return rc;
	if (!c || (r->start && segments > 1))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->seg = calloc(segments, sizeof(*s->seg));
	s->table = strdup(r->table);
	s->hash_name = r->hash_name ? strdup(r->hash_name) : NULL;
	if (!s->seg || !s->table || (r->hash_name && !s->hash_name)) {
		ddb_scan_cursor_close(s);
		return -ENOMEM;
	}
	s->c = c;
	s->read = r->read;
	s->limit = r->limit;
	s->consistent = r->consistent;
	s->segments = segments;
	s->left = segments;
	s->seg[0].start = json_incref(r->start);
	*cur = s;
	return 0;
}

static int cursor_next(struct ddb_scan_cursor *cur, const struct item_sink *k,
		       struct ddb_error *err)
{
	struct ddb_page_req r;
	json_t *last = NULL;
	unsigned i;
	int rc;

	if (!cur || (!k->fn && !k->raw))
		return -EINVAL;
	if (cur->left == 0)
		return 0;
	i = cur->next;
	while (cur->seg[i].done)
		i = (i + 1) % cur->segments;
	r = (struct ddb_page_req){.table = cur->table,
				  .hash_name = cur->hash_name,
				  .read = cur->read,
				  .limit = cur->limit,
				  .consistent = cur->consistent};
	rc = read_page(cur->c, &r, false, cur->seg[i].start, i, cur->segments,
		       k, &last, err);
	if (rc)
		return rc;
	json_decref(cur->seg[i].start);
	cur->seg[i].start = last;
	if (!last) {
		cur->seg[i].done = true;
		cur->left--;
	}
	cur->next = (i + 1) % cur->segments;
	return 0;
}

int ddb_scan_cursor_next(struct ddb_scan_cursor *cur, ddb_item_fn fn, void *arg,
			 struct ddb_error *err)
{
	struct item_sink k = {.fn = fn, .arg = arg};

	return cursor_next(cur, &k, err);
}

int ddb_scan_cursor_next_raw(struct ddb_scan_cursor *cur, ddb_item_raw_fn fn,
			     void *arg, struct ddb_error *err)
{
	struct item_sink k = {.raw = fn, .arg = arg};

	return cursor_next(cur, &k, err);
}

bool ddb_scan_cursor_done(const struct ddb_scan_cursor *cur)
{
	return !cur || cur->left == 0;
}

int ddb_scan_cursor_set_read(struct ddb_scan_cursor *cur, enum ddb_read read)
{
	if (!cur || read == DDB_READ_RANGE_KEY ||
	    (read == DDB_READ_HASH_KEY && !cur->hash_name))
		return -EINVAL;
	cur->read = read;
	return 0;
}

void ddb_scan_cursor_close(struct ddb_scan_cursor *cur)
{
	if (!cur)
		return;
	for (unsigned i = 0; cur->seg && i < cur->segments; i++)
		json_decref(cur->seg[i].start);
	free(cur->seg);
	free(cur->table);
	free(cur->hash_name);
	free(cur);
}

int ddb_put_new(struct ddb_client *c, const char *table, const char *hash_name,
		json_t *item, struct ddb_error *err)
{
	json_t *names;
	int rc;

	if (!hash_name)
		return -EINVAL;
	names = json_pack("{s:s}", "#h", hash_name);
	if (!names)
		return -ENOMEM;
	rc = ddb_put_item(c, table, item, "attribute_not_exists(#h)", names,
			  NULL, err);
	json_decref(names);
	return rc;
}

int ddb_moved_item(struct ddb_client *c, const char *from_table,
		   json_t *from_key, json_t *to_key, json_t **item,
		   struct ddb_error *err)
{
	json_t *it = NULL, *v;
	const char *k;
	int rc;

	*item = NULL;
	if (!json_is_object(from_key) || !json_is_object(to_key))
		return -EINVAL;
	rc = ddb_get_item(c, from_table, from_key, true, &it, err);
	if (rc)
		return rc;
	/* A copy: the answer's tree is not the caller's to change. */
	*item = json_copy(it);
	json_decref(it);
	if (!*item)
		return -ENOMEM;
	json_object_foreach(from_key, k, v) json_object_del(*item, k);
	json_object_foreach(to_key, k, v)
	{
		if (json_object_set(*item, k, v) != 0) {
			json_decref(*item);
			*item = NULL;
			return -ENOMEM;
		}
	}
	return 0;
}

int ddb_move(struct ddb_client *c, const char *to_table,
	     const char *to_hash_name, json_t *item, bool noreplace,
	     const char *from_table, json_t *from_key, struct ddb_error *err)
{
	json_t *names = NULL;
	int rc;

	if (noreplace && !to_hash_name)
		return -EINVAL;
	if (noreplace) {
		names = json_pack("{s:s}", "#h", to_hash_name);
		if (!names)
			return -ENOMEM;
	}
	rc = ddb_move_if(c, to_table, item,
			 noreplace ? "attribute_not_exists(#h)" : NULL, names,
			 NULL, from_table, from_key, err);
	json_decref(names);
	return rc;
}

int ddb_move_if(struct ddb_client *c, const char *to_table, json_t *item,
		const char *condition, json_t *names, json_t *values,
		const char *from_table, json_t *from_key, struct ddb_error *err)
{
	json_t *put = NULL, *actions = NULL, *p;
	int rc = -EINVAL;

	if (!to_table || !from_table || !json_is_object(item) ||
	    !json_is_object(from_key))
		goto out;
	rc = -ENOMEM;
	put = json_pack("{s:{s:s,s:O}}", "Put", "TableName", to_table, "Item",
			item);
	if (!put)
		goto out;
	p = json_object_get(put, "Put");
	if (condition &&
	    (set_new(p, "ConditionExpression", json_string(condition)) ||
	     (names &&
	      set_new(p, "ExpressionAttributeNames", json_incref(names))) ||
	     (values &&
	      set_new(p, "ExpressionAttributeValues", json_incref(values)))))
		goto out;
	actions = json_pack("[O,{s:{s:s,s:O}}]", put, "Delete", "TableName",
			    from_table, "Key", from_key);
	if (!actions)
		goto out;
	rc = transact_write(c, actions, err);
out:
	json_decref(put);
	json_decref(actions);
	return rc;
}
