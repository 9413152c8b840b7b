/* test_ddb.c - the DynamoDB client against fakehttp playing DynamoDB: signed
 * requests, retries, the errno table, paging, batches and transactions. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>

#include "config.h"
#include "creds.h"
#include "ddb.h"
#include "ddbenv.h"
#include "fakehttp.h"
#include "http.h"
#include "log.h"
#include "sigv4.h"
#include "tap.h"

/* The server's request log as a JSON array (caller decrefs). */
static json_t *log_entries(const struct fakehttp *f)
{
	json_t *all = json_array();
	char *log = fakehttp_log(f);
	char *line, *save = NULL;

	for (line = log ? strtok_r(log, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save))
		json_array_append_new(all, json_loads(line, 0, NULL));
	free(log);
	return all;
}

static const char *entry_header(json_t *entries, size_t i, const char *name)
{
	json_t *h = json_object_get(json_array_get(entries, i), "headers");

	return json_string_value(json_object_get(h, name));
}

/* The body of request i, parsed (caller decrefs). */
static json_t *entry_body(json_t *entries, size_t i)
{
	const char *b = json_string_value(
	    json_object_get(json_array_get(entries, i), "body"));

	return b ? json_loads(b, 0, NULL) : NULL;
}

/* A JSON text from a format, for readable expectations. */
static json_t *J(const char *text)
{
	json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);

	if (!v)
		printf("# bad JSON in test: %s\n", text);
	return v;
}

static int closed_port(void)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* Runs fn with stderr (where log_msg writes) going to a file; returns what
 * was written (caller frees). */
static char *capture_stderr(void (*fn)(void *), void *arg)
{
	char path[] = "/tmp/ddblog.XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	char *text = NULL;
	off_t len;

	if (fd < 0 || saved < 0)
		return NULL;
	unlink(path);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	fn(arg);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	len = lseek(fd, 0, SEEK_END);
	text = calloc(1, (size_t)len + 1);
	if (text && pread(fd, text, (size_t)len, 0) != len) {
		free(text);
		text = NULL;
	}
	close(fd);
	return text;
}

static int count_substr(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; p && (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* --- the request on the wire -------------------------------------------- */

static void test_request_shape(void)
{
	struct env e;
	struct ddb_error err;
	json_t *resp = NULL, *log, *body;
	const char *auth, *date;
	char host[64];
	struct tm tm = {0};
	struct sigv4_signature sig = {0};

	CHECK_INT(env_start(&e,
			    "[{\"match_header\": {\"x-amz-target\":"
			    " \"DynamoDB_20120810.ListTables\"},"
			    " \"headers\": {\"x-amzn-RequestId\": \"RID-LT\"},"
			    " \"crc32\": \"good\","
			    " \"body\": {\"TableNames\": [\"Devices\"]}}]",
			    10),
		  0);
	CHECK_INT(ddb_list_tables_page(e.ddb, NULL, 100, &resp, &err), 0);
	CHECK_STR(json_string_value(
		      json_array_get(json_object_get(resp, "TableNames"), 0)),
		  "Devices");
	CHECK_INT(err.attempts, 1);
	CHECK_INT(err.http_status, 200);
	CHECK_STR(err.request_id, "RID-LT");
	json_decref(resp);

	log = log_entries(&e.f);
	CHECK_INT(json_array_size(log), 1);
	CHECK_STR(json_string_value(
		      json_object_get(json_array_get(log, 0), "method")),
		  "POST");
	CHECK_STR(
	    json_string_value(json_object_get(json_array_get(log, 0), "path")),
	    "/");
	CHECK_STR(entry_header(log, 0, "x-amz-target"),
		  "DynamoDB_20120810.ListTables");
	CHECK_STR(entry_header(log, 0, "content-type"),
		  "application/x-amz-json-1.0");
	CHECK_STR(entry_header(log, 0, "x-amz-security-token"), TOKEN);
	snprintf(host, sizeof(host), "127.0.0.1:%d", e.f.port);
	CHECK_STR(entry_header(log, 0, "host"), host);
	date = entry_header(log, 0, "x-amz-date");
	CHECK(date && strlen(date) == 16 && date[8] == 'T' && date[15] == 'Z');
	auth = entry_header(log, 0, "authorization");
	CHECK(auth &&
	      strncmp(auth, "AWS4-HMAC-SHA256 Credential=" KEY_ID "/",
		      strlen("AWS4-HMAC-SHA256 Credential=" KEY_ID "/")) == 0);
	CHECK(auth && strstr(auth, "/us-east-1/dynamodb/aws4_request"));
	CHECK(auth && strstr(auth, "SignedHeaders=content-type;host;x-amz-date;"
				   "x-amz-security-token;x-amz-target,"));
	CHECK(auth && !strstr(auth, SECRET));
	body = entry_body(log, 0);
	CHECK_INT(json_integer_value(json_object_get(body, "Limit")), 100);
	CHECK_INT(json_object_size(body), 1);
	json_decref(body);

	/* The signature is over exactly what was sent: sign the logged
	 * request again and compare. */
	if (date && auth && strptime(date, "%Y%m%dT%H%M%SZ", &tm)) {
		struct sigv4_header hd[] = {
		    {"content-type", entry_header(log, 0, "content-type")},
		    {"host", entry_header(log, 0, "host")},
		    {"x-amz-date", date},
		    {"x-amz-security-token", TOKEN},
		    {"x-amz-target", entry_header(log, 0, "x-amz-target")},
		};
		const char *b = json_string_value(
		    json_object_get(json_array_get(log, 0), "body"));
		struct sigv4_request sr = {.method = "POST",
					   .path = "/",
					   .headers = hd,
					   .n_headers = 5,
					   .body = b,
					   .body_len = strlen(b)};
		struct sigv4_credentials sc = {KEY_ID, SECRET, TOKEN};

		CHECK_INT(sigv4_sign(&sr, &sc, "us-east-1", "dynamodb",
				     timegm(&tm), &sig),
			  0);
		CHECK_STR(sig.authorization, auth);
		sigv4_signature_free(&sig);
	}
	/* Nothing the server saw holds the secret. */
	{
		char *raw = fakehttp_log(&e.f);

		CHECK(raw && !strstr(raw, SECRET));
		CHECK(raw && !strstr(raw, "\"accept-encoding\""));
		free(raw);
	}
	json_decref(log);
	env_stop(&e);
}

/* --- retry classification ------------------------------------------------ */

static void test_retryable_table(void)
{
	static const struct {
		int transport;
		long status;
		const char *code;
		bool retry;
	} cases[] = {
	    {0, 400, "ProvisionedThroughputExceededException", true},
	    {0, 400, "ThrottlingException", true},
	    {0, 400, "RequestLimitExceeded", true},
	    {0, 400, "LimitExceededException", true},
	    {0, 400, "TransactionInProgressException", true},
	    {0, 500, "InternalServerError", true},
	    {0, 400, "InternalServerError", true},
	    {0, 500, "", true},
	    {0, 502, "", true},
	    {0, 503, "", true},
	    {0, 504, "", true},
	    {0, 599, NULL, true},
	    {0, 429, "", true},
	    {-ETIMEDOUT, 0, "", true},
	    {-ECONNREFUSED, 0, "", true},
	    {-EHOSTUNREACH, 0, "", true},
	    {-ECONNRESET, 0, "", true},
	    {-EBADMSG, 0, "", true},
	    {-EBADMSG, 200, "", true},
	    {-EPROTO, 0, "", true},
	    {-EINVAL, 0, "", false},
	    {-ENOMEM, 0, "", false},
	    {0, 200, "", false},
	    {0, 400, "ValidationException", false},
	    {0, 400, "ConditionalCheckFailedException", false},
	    {0, 400, "AccessDeniedException", false},
	    {0, 400, "ResourceNotFoundException", false},
	    {0, 400, "ResourceInUseException", false},
	    {0, 400, "IncompleteSignatureException", false},
	    {0, 400, "MissingAuthenticationTokenException", false},
	    {0, 400, "UnrecognizedClientException", false},
	    {0, 400, "TransactionCanceledException", false},
	    {0, 400, "SerializationException", false},
	    {0, 400, "UnknownOperationException", false},
	    {0, 403, "", false},
	    {0, 404, NULL, false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool got = ddb_retryable(cases[i].transport, cases[i].status,
					 cases[i].code);

		if (got != cases[i].retry)
			printf(
			    "#   case %zu: transport %d status %ld code %s\n",
			    i, cases[i].transport, cases[i].status,
			    cases[i].code ? cases[i].code : "(null)");
		CHECK_INT(got, cases[i].retry);
	}
}

/* --- retries against the server ----------------------------------------- */

static void test_throttle_then_success(void)
{
	struct env e;
	struct ddb_error err;
	json_t *key = J("{\"pk\": {\"S\": \"a\"}}"), *item = NULL;

	CHECK_INT(
	    env_start(&e,
		      "[{\"times\": 1, \"status\": 400, \"body\":"
		      " {\"__type\": \"" TYPE_PREFIX "ThrottlingException\","
		      " \"message\": \"Rate exceeded\"}},"
		      " {\"body\": {\"Item\": {\"pk\": {\"S\": \"a\"}}}}]",
		      10),
	    0);
	CHECK_INT(ddb_get_item(e.ddb, "Devices", key, false, &item, &err), 0);
	CHECK_INT(err.attempts, 2);
	CHECK_STR(err.code, "");
	CHECK_STR(json_string_value(
		      json_object_get(json_object_get(item, "pk"), "S")),
		  "a");
	CHECK_INT(fakehttp_count(&e.f), 2);
	json_decref(item);
	json_decref(key);
	env_stop(&e);
}

static void test_500_then_success(void)
{
	struct env e;
	struct ddb_error err;

	CHECK_INT(
	    env_start(&e,
		      "[{\"times\": 1, \"status\": 500, \"body\":"
		      " {\"__type\": \"" TYPE_PREFIX "InternalServerError\","
		      " \"message\": \"oops\"}},"
		      " {\"times\": 1, \"status\": 503, \"body\": \"busy\"},"
		      " {\"body\": {}}]",
		      10),
	    0);
	CHECK_INT(ddb_delete_table(e.ddb, "Devices", &err), 0);
	CHECK_INT(err.attempts, 3);
	CHECK(err.maybe_applied);
	CHECK_INT(fakehttp_count(&e.f), 3);
	env_stop(&e);
}

/* A conditional put whose first attempt got a 500: the ConditionalCheckFailed
 * of the retry may be our own write, and err says so. */
static void test_ambiguous_conditional_write(void)
{
	struct env e;
	struct ddb_error err;
	json_t *item = J("{\"pk\": {\"S\": \"a\"}}");

	CHECK_INT(
	    env_start(&e,
		      "[{\"times\": 1, \"status\": 500, \"body\": \"x\"},"
		      " {\"status\": 400, \"body\": {\"__type\": \"" TYPE_PREFIX
		      "ConditionalCheckFailedException\"}}]",
		      10),
	    0);
	CHECK_INT(ddb_put_item(e.ddb, "T", item, "attribute_not_exists(pk)",
			       NULL, NULL, &err),
		  -EEXIST);
	CHECK_INT(err.attempts, 2);
	CHECK(err.maybe_applied);
	env_stop(&e);

	/* Throttling is a refusal: nothing was applied. */
	CHECK_INT(
	    env_start(&e,
		      "[{\"times\": 1, \"status\": 400, \"body\": {\"__type\": "
		      "\"" TYPE_PREFIX "ThrottlingException\"}},"
		      " {\"status\": 400, \"body\": {\"__type\": \"" TYPE_PREFIX
		      "ConditionalCheckFailedException\"}}]",
		      10),
	    0);
	CHECK_INT(ddb_put_item(e.ddb, "T", item, "attribute_not_exists(pk)",
			       NULL, NULL, &err),
		  -EEXIST);
	CHECK_INT(err.attempts, 2);
	CHECK(!err.maybe_applied);
	env_stop(&e);
	json_decref(item);
}

static void test_crc_mismatch_then_success(void)
{
	struct env e;
	struct ddb_error err;
	json_t *names = NULL;

	CHECK_INT(env_start(&e,
			    "[{\"times\": 1, \"crc32\": \"bad\","
			    " \"body\": {\"TableNames\": [\"x\"]}},"
			    " {\"crc32\": \"good\","
			    " \"body\": {\"TableNames\": [\"a\", \"b\"]}}]",
			    10),
		  0);
	CHECK_INT(ddb_list_tables(e.ddb, &names, &err), 0);
	CHECK_INT(err.attempts, 2);
	CHECK_INT(json_array_size(names), 2);
	CHECK_INT(fakehttp_count(&e.f), 2);
	json_decref(names);
	env_stop(&e);
}

static void test_validation_not_retried(void)
{
	struct env e;
	struct ddb_error err;
	json_t *item = J("{\"pk\": {\"S\": \"\"}}");
	char buf[512];

	CHECK_INT(env_start(&e,
			    "[{\"status\": 400,"
			    " \"headers\": {\"x-amzn-RequestId\": \"RID-V\"},"
			    " \"body\": {\"__type\": \"" TYPE_PREFIX
			    "ValidationException\", \"Message\":"
			    " \"One or more parameter values were invalid\"}}]",
			    10),
		  0);
	CHECK_INT(ddb_put_item(e.ddb, "Devices", item, NULL, NULL, NULL, &err),
		  -EINVAL);
	CHECK_INT(err.attempts, 1);
	CHECK_INT(err.http_status, 400);
	CHECK_INT(err.transport, 0);
	CHECK_STR(err.code, "ValidationException");
	CHECK_STR(err.message, "One or more parameter values were invalid");
	CHECK_STR(err.request_id, "RID-V");
	CHECK_INT(fakehttp_count(&e.f), 1);
	CHECK_STR(ddb_strerror(&err, buf, sizeof(buf)),
		  "ValidationException: One or more parameter values were "
		  "invalid (HTTP 400, request id RID-V)");
	json_decref(item);
	env_stop(&e);
}

static void test_retries_exhausted(void)
{
	struct env e;
	struct ddb_error err;

	CHECK_INT(
	    env_start(&e, "[{\"status\": 502, \"body\": \"bad gateway\"}]", 3),
	    0);
	CHECK_INT(ddb_delete_table(e.ddb, "T", &err), -EIO);
	CHECK_INT(err.attempts, 4);
	CHECK_INT(err.http_status, 502);
	CHECK_STR(err.message, "bad gateway");
	CHECK_INT(fakehttp_count(&e.f), 4);
	env_stop(&e);

	CHECK_INT(
	    env_start(&e,
		      "[{\"status\": 400, \"body\": {\"__type\": \"" TYPE_PREFIX
		      "ProvisionedThroughputExceededException\","
		      " \"message\": \"slow\"}}]",
		      2),
	    0);
	CHECK_INT(ddb_delete_table(e.ddb, "T", &err), -EAGAIN);
	CHECK_INT(err.attempts, 3);
	CHECK_STR(err.code, "ProvisionedThroughputExceededException");
	CHECK_INT(fakehttp_count(&e.f), 3);
	env_stop(&e);

	/* retries=0: one attempt only. */
	CHECK_INT(env_start(&e, "[{\"status\": 500, \"body\": \"x\"}]", 0), 0);
	CHECK_INT(ddb_delete_table(e.ddb, "T", &err), -EIO);
	CHECK_INT(err.attempts, 1);
	CHECK_INT(fakehttp_count(&e.f), 1);
	env_stop(&e);
}

static void test_transport_errors_retried(void)
{
	struct env e;
	struct ddb_error err;
	char url[64], buf[256];

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", closed_port());
	CHECK_INT(env_start_url(&e, NULL, url, 2), 0);
	CHECK_INT(ddb_delete_table(e.ddb, "T", &err), -EIO);
	CHECK_INT(err.attempts, 3);
	CHECK(!err.maybe_applied);
	CHECK_INT(err.transport, -ECONNREFUSED);
	CHECK_INT(err.http_status, 0);
	CHECK_STR(ddb_strerror(&err, buf, sizeof(buf)), "connection refused");
	env_stop(&e);

	/* A connection dropped without an answer, then a good answer. */
	CHECK_INT(env_start(&e,
			    "[{\"times\": 1, \"close\": true},"
			    " {\"body\": {}}]",
			    2),
		  0);
	CHECK_INT(ddb_delete_table(e.ddb, "T", &err), 0);
	CHECK_INT(err.attempts, 2);
	env_stop(&e);

	/* A 200 whose body is not JSON is not a success. */
	CHECK_INT(env_start(&e, "[{\"body\": \"<html>\"}]", 1), 0);
	CHECK_INT(ddb_delete_table(e.ddb, "T", &err), -EIO);
	CHECK_INT(err.attempts, 2);
	CHECK_INT(err.transport, -EBADMSG);
	env_stop(&e);
}

/* --- back-off ------------------------------------------------------------ */

static void test_backoff(void)
{
	uint64_t a = 12345, b = 12345, z = 0;
	unsigned seq_a[20], seq_b[20];
	bool varied = false;

	for (unsigned i = 0; i < 20; i++) {
		seq_a[i] = ddb_backoff_ms(i + 1, &a, 50, 20000);
		seq_b[i] = ddb_backoff_ms(i + 1, &b, 50, 20000);
	}
	CHECK(memcmp(seq_a, seq_b, sizeof(seq_a)) == 0);
	for (unsigned n = 1; n <= 40; n++) {
		for (int k = 0; k < 200; k++) {
			unsigned d = ddb_backoff_ms(n, &a, 50, 20000);
			unsigned long long ceil = 50ull
						  << (n - 1 < 20 ? n - 1 : 20);

			if (ceil > 20000)
				ceil = 20000;
			CHECK(d <= ceil);
			if (d != ddb_backoff_ms(n, &a, 50, 20000))
				varied = true;
		}
	}
	CHECK(varied);
	/* The ceiling is reached: some delay of attempt 10 exceeds the
	 * uncapped ceiling of attempt 8 (6400 ms). */
	{
		unsigned max = 0;

		for (int k = 0; k < 500; k++) {
			unsigned d = ddb_backoff_ms(10, &a, 50, 20000);
			max = d > max ? d : max;
		}
		CHECK(max > 6400 && max <= 20000);
	}
	/* A zero seed still moves. */
	CHECK(ddb_backoff_ms(3, &z, 50, 20000) <= 200);
	CHECK(z != 0);
	/* Zero base: no wait. */
	CHECK_INT(ddb_backoff_ms(5, &a, 0, 20000), 0);
	/* Attempt 1 stays within the base. */
	for (int k = 0; k < 100; k++)
		CHECK(ddb_backoff_ms(1, &a, 7, 1000) <= 7);
}

/* --- errno table --------------------------------------------------------- */

static void test_errno_table(void)
{
	static const struct {
		const char *code;
		const char *message;
		int transport;
		long status;
		int expect;
	} cases[] = {
	    {"ResourceNotFoundException", "", 0, 400, -ENOENT},
	    {"ConditionalCheckFailedException", "", 0, 400, -EEXIST},
	    {"TransactionCanceledException",
	     "Transaction cancelled, please refer cancellation reasons for "
	     "specific reasons [None, ConditionalCheckFailed]",
	     0, 400, -EEXIST},
	    {"TransactionCanceledException", "[ValidationError]", 0, 400,
	     -EINVAL},
	    {"TransactionCanceledException",
	     "[ItemCollectionSizeLimitExceeded]", 0, 400, -EFBIG},
	    {"TransactionCanceledException", "[TransactionConflict, None]", 0,
	     400, -EAGAIN},
	    {"TransactionCanceledException", "[ProvisionedThroughputExceeded]",
	     0, 400, -EAGAIN},
	    {"TransactionCanceledException", "[ThrottlingError]", 0, 400,
	     -EAGAIN},
	    {"TransactionCanceledException", "[None]", 0, 400, -EIO},
	    {"ValidationException", "", 0, 400, -EINVAL},
	    {"SerializationException", "", 0, 400, -EINVAL},
	    {"ItemCollectionSizeLimitExceededException", "", 0, 400, -EFBIG},
	    {"AccessDeniedException", "", 0, 400, -EACCES},
	    {"UnrecognizedClientException", "", 0, 400, -EACCES},
	    {"InvalidSignatureException", "", 0, 400, -EACCES},
	    {"IncompleteSignatureException", "", 0, 400, -EACCES},
	    {"MissingAuthenticationToken", "", 0, 403, -EACCES},
	    {"MissingAuthenticationTokenException", "", 0, 400, -EACCES},
	    {"ExpiredToken", "", 0, 400, -EACCES},
	    {"ExpiredTokenException", "", 0, 400, -EACCES},
	    {"SignatureDoesNotMatch", "", 0, 403, -EACCES},
	    {"InvalidClientTokenId", "", 0, 403, -EACCES},
	    {"ResourceInUseException", "", 0, 400, -EBUSY},
	    {"UnknownOperationException", "", 0, 400, -ENOSYS},
	    {"ProvisionedThroughputExceededException", "", 0, 400, -EAGAIN},
	    {"ThrottlingException", "", 0, 400, -EAGAIN},
	    {"RequestLimitExceeded", "", 0, 400, -EAGAIN},
	    {"LimitExceededException", "", 0, 400, -EAGAIN},
	    {"TransactionInProgressException", "", 0, 400, -EAGAIN},
	    {"InternalServerError", "", 0, 500, -EIO},
	    {"", "", 0, 503, -EIO},
	    {"", "", 0, 500, -EIO},
	    {"", "timed out", -ETIMEDOUT, 0, -EIO},
	    {"", "connection refused", -ECONNREFUSED, 0, -EIO},
	    {"", "", -EBADMSG, 0, -EIO},
	    {"", "", -ENOMEM, 0, -ENOMEM},
	    {"SomethingNewException", "", 0, 400, -EIO},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ddb_error err = {.http_status = cases[i].status,
					.transport = cases[i].transport};

		snprintf(err.code, sizeof(err.code), "%s", cases[i].code);
		snprintf(err.message, sizeof(err.message), "%s",
			 cases[i].message);
		if (ddb_errno(&err) != cases[i].expect)
			printf("#   case %zu: %s %s\n", i, cases[i].code,
			       cases[i].message);
		CHECK_INT(ddb_errno(&err), cases[i].expect);
	}
	CHECK_INT(ddb_errno(NULL), -EIO);
}

static void test_strerror(void)
{
	struct ddb_error err = {0};
	char buf[256];

	err.http_status = 400;
	snprintf(err.code, sizeof(err.code), "ResourceNotFoundException");
	snprintf(err.message, sizeof(err.message),
		 "Requested resource not found");
	snprintf(err.request_id, sizeof(err.request_id), "X");
	CHECK_STR(ddb_strerror(&err, buf, sizeof(buf)),
		  "ResourceNotFoundException: Requested resource not found "
		  "(HTTP 400, request id X)");
	err.request_id[0] = '\0';
	CHECK_STR(ddb_strerror(&err, buf, sizeof(buf)),
		  "ResourceNotFoundException: Requested resource not found "
		  "(HTTP 400)");
	memset(&err, 0, sizeof(err));
	err.http_status = 503;
	CHECK_STR(ddb_strerror(&err, buf, sizeof(buf)), "HTTP 503");
	snprintf(err.message, sizeof(err.message), "Service Unavailable");
	CHECK_STR(ddb_strerror(&err, buf, sizeof(buf)),
		  "Service Unavailable (HTTP 503)");
	/* Cut to the buffer, still terminated. */
	CHECK_STR(ddb_strerror(&err, buf, 8), "Service");
}

/* --- paging -------------------------------------------------------------- */

static void test_list_tables_pages(void)
{
	struct env e;
	struct ddb_error err;
	json_t *names = NULL, *log, *body;

	CHECK_INT(
	    env_start(&e,
		      "[{\"match_body\": \"\\\"ExclusiveStartTableName\\\":"
		      "\\\"b\\\"\", \"body\": {\"TableNames\": [\"c\", \"d\"],"
		      " \"LastEvaluatedTableName\": \"d\"}},"
		      " {\"match_body\": \"\\\"ExclusiveStartTableName\\\":"
		      "\\\"d\\\"\", \"body\": {\"TableNames\": [\"e\"]}},"
		      " {\"body\": {\"TableNames\": [\"a\", \"b\"],"
		      " \"LastEvaluatedTableName\": \"b\"}}]",
		      10),
	    0);
	CHECK_INT(ddb_list_tables(e.ddb, &names, &err), 0);
	CHECK_INT(json_array_size(names), 5);
	for (size_t i = 0; i < 5; i++) {
		char want[2] = {(char)('a' + i), 0};

		CHECK_STR(json_string_value(json_array_get(names, i)), want);
	}
	log = log_entries(&e.f);
	CHECK_INT(json_array_size(log), 3);
	body = entry_body(log, 0);
	CHECK(json_object_get(body, "ExclusiveStartTableName") == NULL);
	json_decref(body);
	body = entry_body(log, 2);
	CHECK_STR(
	    json_string_value(json_object_get(body, "ExclusiveStartTableName")),
	    "d");
	json_decref(body);
	json_decref(log);
	json_decref(names);
	env_stop(&e);
}

/* Collects every item of every page; stops after `stop_after` pages when
 * that is set. */
struct collect {
	json_t *items;
	int pages;
	int stop_after;
	int fail_with;
};

static int collect_page(json_t *page, void *arg)
{
	struct collect *co = arg;

	co->pages++;
	json_array_extend(co->items, json_object_get(page, "Items"));
	if (co->fail_with)
		return co->fail_with;
	return co->stop_after && co->pages >= co->stop_after ? 1 : 0;
}

static bool has_item(json_t *items, const char *k)
{
	size_t i;
	json_t *it;

	json_array_foreach(items, i, it)
	{
		const char *v = json_string_value(
		    json_object_get(json_object_get(it, "k"), "S"));

		if (v && strcmp(v, k) == 0)
			return true;
	}
	return false;
}

static const char *paged_script =
    "[{\"match_body\": \"\\\"ExclusiveStartKey\\\":{\\\"k\\\":{\\\"S\\\":"
    "\\\"2\\\"}}\", \"body\": {\"Items\": [{\"k\": {\"S\": \"3\"}}],"
    " \"Count\": 1}},"
    " {\"match_body\": \"\\\"ExclusiveStartKey\\\":{\\\"k\\\":{\\\"S\\\":"
    "\\\"1\\\"}}\", \"body\": {\"Items\": [],"
    " \"LastEvaluatedKey\": {\"k\": {\"S\": \"2\"}}}},"
    " {\"body\": {\"Items\": [{\"k\": {\"S\": \"0\"}}, {\"k\": {\"S\": "
    "\"1\"}}],"
    " \"LastEvaluatedKey\": {\"k\": {\"S\": \"1\"}}}}]";

static void test_query_pages(void)
{
	struct env e;
	struct ddb_error err;
	json_t *req =
	    J("{\"TableName\": \"T\", \"KeyConditionExpression\":"
	      " \"#p = :p\", \"ExpressionAttributeNames\": {\"#p\": \"pk\"},"
	      " \"ExpressionAttributeValues\": {\":p\": {\"S\": \"x\"}}}");
	json_t *before = json_deep_copy(req), *log, *body;
	struct collect co = {.items = json_array()};

	CHECK_INT(env_start(&e, paged_script, 10), 0);
	CHECK_INT(ddb_query(e.ddb, req, collect_page, &co, &err), 0);
	/* Three pages, the middle one empty (DynamoDB may do that). */
	CHECK_INT(co.pages, 3);
	CHECK_INT(json_array_size(co.items), 3);
	CHECK(has_item(co.items, "0") && has_item(co.items, "1") &&
	      has_item(co.items, "3"));
	CHECK(json_equal(req, before));
	log = log_entries(&e.f);
	CHECK_INT(json_array_size(log), 3);
	CHECK_STR(entry_header(log, 0, "x-amz-target"),
		  "DynamoDB_20120810.Query");
	body = entry_body(log, 2);
	CHECK_STR(
	    json_string_value(json_object_get(body, "KeyConditionExpression")),
	    "#p = :p");
	CHECK_STR(json_string_value(json_object_get(
		      json_object_get(
			  json_object_get(body, "ExclusiveStartKey"), "k"),
		      "S")),
		  "2");
	json_decref(body);
	json_decref(log);
	env_stop(&e);

	/* The callback stops after the first page: one request. */
	json_array_clear(co.items);
	co.pages = 0;
	co.stop_after = 1;
	CHECK_INT(env_start(&e, paged_script, 10), 0);
	CHECK_INT(ddb_query(e.ddb, req, collect_page, &co, &err), 0);
	CHECK_INT(co.pages, 1);
	CHECK_INT(fakehttp_count(&e.f), 1);
	env_stop(&e);

	/* The callback fails: its error comes back. */
	co.pages = 0;
	co.stop_after = 0;
	co.fail_with = -EIO;
	CHECK_INT(env_start(&e, paged_script, 10), 0);
	CHECK_INT(ddb_query(e.ddb, req, collect_page, &co, &err), -EIO);
	CHECK_INT(fakehttp_count(&e.f), 1);
	env_stop(&e);

	json_decref(co.items);
	json_decref(before);
	json_decref(req);
}

static void test_scan_pages(void)
{
	struct env e;
	struct ddb_error err;
	json_t *req = J("{\"TableName\": \"T\"}"), *log;
	struct collect co = {.items = json_array()};

	CHECK_INT(env_start(&e, paged_script, 10), 0);
	CHECK_INT(ddb_scan(e.ddb, req, 1, collect_page, &co, &err), 0);
	CHECK_INT(co.pages, 3);
	CHECK_INT(json_array_size(co.items), 3);
	log = log_entries(&e.f);
	CHECK_INT(json_array_size(log), 3);
	CHECK_STR(entry_header(log, 0, "x-amz-target"),
		  "DynamoDB_20120810.Scan");
	json_decref(log);
	CHECK_INT(json_object_size(req), 1);
	env_stop(&e);
	json_decref(co.items);
	json_decref(req);
}

static void test_parallel_scan(void)
{
	char script[4096] = "[";
	size_t n = 1;
	struct env e;
	struct ddb_error err;
	json_t *req = J("{\"TableName\": \"T\"}"), *log;
	struct collect co = {.items = json_array()};

	/* Each segment: a first page with a LastEvaluatedKey of its own, and
	 * a second page. All 4 first pages meet at a barrier, so the test
	 * passes only if the segments really ran in parallel. */
	for (int s = 0; s < 4; s++)
		n += (size_t)snprintf(
		    script + n, sizeof(script) - n,
		    "{\"match_body\": \"\\\"ExclusiveStartKey\\\":{\\\"k\\\":"
		    "{\\\"S\\\":\\\"s%d\\\"}}\", \"body\": {\"Items\":"
		    " [{\"k\": {\"S\": \"s%db\"}}]}},"
		    " {\"match_body\": \"\\\"Segment\\\":%d,\", \"barrier\": "
		    "4, \"barrier_name\": \"seg\","
		    " \"body\": {\"Items\": [{\"k\": {\"S\": \"s%da\"}}],"
		    " \"LastEvaluatedKey\": {\"k\": {\"S\": \"s%d\"}}}},",
		    s, s, s, s, s);
	snprintf(script + n - 1, sizeof(script) - n + 1, "]");
	CHECK_INT(env_start(&e, script, 10), 0);
	CHECK_INT(ddb_scan(e.ddb, req, 4, collect_page, &co, &err), 0);
	CHECK_INT(co.pages, 8);
	CHECK_INT(json_array_size(co.items), 8);
	for (int s = 0; s < 4; s++) {
		char k[8];

		snprintf(k, sizeof(k), "s%da", s);
		CHECK(has_item(co.items, k));
		snprintf(k, sizeof(k), "s%db", s);
		CHECK(has_item(co.items, k));
	}
	log = log_entries(&e.f);
	CHECK_INT(json_array_size(log), 8);
	for (size_t i = 0; i < json_array_size(log); i++) {
		json_t *b = entry_body(log, i);

		CHECK_INT(
		    json_integer_value(json_object_get(b, "TotalSegments")), 4);
		json_decref(b);
	}
	json_decref(log);
	/* The caller's request is untouched. */
	CHECK_INT(json_object_size(req), 1);
	env_stop(&e);

	/* One failing segment fails the scan with its error. */
	CHECK_INT(
	    env_start(&e,
		      "[{\"match_body\": \"\\\"Segment\\\":1,\","
		      " \"status\": 400, \"body\": {\"__type\": \"" TYPE_PREFIX
		      "ResourceNotFoundException\", \"message\": \"gone\"}},"
		      " {\"body\": {\"Items\": []}}]",
		      10),
	    0);
	CHECK_INT(ddb_scan(e.ddb, req, 3, collect_page, &co, &err), -ENOENT);
	CHECK_STR(err.code, "ResourceNotFoundException");
	CHECK_STR(err.message, "gone");
	env_stop(&e);

	CHECK_INT(ddb_scan(NULL, req, 100000, collect_page, &co, &err),
		  -EINVAL);
	json_decref(co.items);
	json_decref(req);
}

/* --- batches and transactions ------------------------------------------- */

static json_t *put_requests(int n)
{
	json_t *a = json_array();

	for (int i = 0; i < n; i++)
		json_array_append_new(
		    a, json_pack("{s:{s:{s:{s:s++}}}}", "PutRequest", "Item",
				 "pk", "S", "k", "",
				 (char[]){(char)('A' + i / 26),
					  (char)('a' + i % 26), 0}));
	return a;
}

static void test_batch_write(void)
{
	struct env e;
	struct ddb_error err;
	json_t *reqs = put_requests(30), *log, *b, *sent;

	CHECK_INT(env_start(&e,
			    "[{\"times\": 1, \"body\": {\"UnprocessedItems\":"
			    " {\"T\": [{\"PutRequest\": {\"Item\": {\"pk\":"
			    " {\"S\": \"kAc\"}}}}, {\"PutRequest\": {\"Item\":"
			    " {\"pk\": {\"S\": \"kAd\"}}}}]}}},"
			    " {\"body\": {\"UnprocessedItems\": {}}}]",
			    10),
		  0);
	CHECK_INT(ddb_batch_write(e.ddb, "T", reqs, &err), 0);
	log = log_entries(&e.f);
	CHECK_INT(json_array_size(log), 3);
	CHECK_STR(entry_header(log, 0, "x-amz-target"),
		  "DynamoDB_20120810.BatchWriteItem");
	/* 25, then the 2 left over, then the last 5. */
	for (size_t i = 0; i < 3; i++) {
		static const size_t want[] = {25, 2, 5};

		b = entry_body(log, i);
		sent = json_object_get(json_object_get(b, "RequestItems"), "T");
		CHECK_INT(json_array_size(sent), want[i]);
		if (i == 1)
			CHECK_STR(
			    json_string_value(json_object_get(
				json_object_get(
				    json_object_get(
					json_object_get(json_array_get(sent, 0),
							"PutRequest"),
					"Item"),
				    "pk"),
				"S")),
			    "kAc");
		json_decref(b);
	}
	json_decref(log);
	env_stop(&e);

	/* No progress at all: give up after `retries` rounds. */
	CHECK_INT(env_start(&e,
			    "[{\"body\": {\"UnprocessedItems\":"
			    " {\"T\": [{\"PutRequest\": {\"Item\": {\"pk\":"
			    " {\"S\": \"kAa\"}}}}]}}}]",
			    2),
		  0);
	json_decref(reqs);
	reqs = put_requests(1);
	CHECK_INT(ddb_batch_write(e.ddb, "T", reqs, &err), -EAGAIN);
	CHECK_INT(fakehttp_count(&e.f), 3);
	env_stop(&e);
	json_decref(reqs);
}

static void test_batch_get(void)
{
	struct env e;
	struct ddb_error err;
	json_t *keys = json_array(), *items = NULL, *log, *b, *sent;

	for (int i = 0; i < 105; i++)
		json_array_append_new(
		    keys, json_pack("{s:{s:s}}", "pk", "S",
				    (char[]){(char)('A' + i / 26),
					     (char)('a' + i % 26), 0}));
	CHECK_INT(
	    env_start(
		&e,
		"[{\"times\": 1, \"body\": {\"Responses\": {\"T\":"
		" [{\"pk\": {\"S\": \"Aa\"}}]}, \"UnprocessedKeys\":"
		" {\"T\": {\"Keys\": [{\"pk\": {\"S\": \"Ab\"}},"
		" {\"pk\": {\"S\": \"Ac\"}}], \"ConsistentRead\": true}}}},"
		" {\"body\": {\"Responses\": {\"T\":"
		" [{\"pk\": {\"S\": \"zz\"}}]}, \"UnprocessedKeys\": {}}}]",
		10),
	    0);
	CHECK_INT(ddb_batch_get(e.ddb, "T", keys, true, &items, &err), 0);
	CHECK_INT(json_array_size(items), 3);
	log = log_entries(&e.f);
	CHECK_INT(json_array_size(log), 3);
	CHECK_STR(entry_header(log, 0, "x-amz-target"),
		  "DynamoDB_20120810.BatchGetItem");
	for (size_t i = 0; i < 3; i++) {
		static const size_t want[] = {100, 2, 5};

		b = entry_body(log, i);
		sent = json_object_get(json_object_get(b, "RequestItems"), "T");
		CHECK_INT(json_array_size(json_object_get(sent, "Keys")),
			  want[i]);
		CHECK(json_is_true(json_object_get(sent, "ConsistentRead")));
		if (i == 1)
			CHECK_STR(json_string_value(json_object_get(
				      json_object_get(
					  json_array_get(
					      json_object_get(sent, "Keys"), 1),
					  "pk"),
				      "S")),
				  "Ac");
		json_decref(b);
	}
	json_decref(log);
	json_decref(items);
	json_decref(keys);
	env_stop(&e);
}

static void test_transact_write(void)
{
	struct env e;
	struct ddb_error err;
	json_t *items =
	    J("[{\"Put\": {\"TableName\": \"T\", \"Item\":"
	      " {\"pk\": {\"S\": \"new\"}}}}, {\"Delete\":"
	      " {\"TableName\": \"T\", \"Key\": {\"pk\": {\"S\": \"old\"}}}}]");
	json_t *log, *b;
	const char *tok;

	CHECK_INT(
	    env_start(
		&e,
		"[{\"status\": 400, \"body\": {\"__type\":"
		" \"com.amazon.coral.service#UnknownOperationException\"}}]",
		10),
	    0);
	CHECK_INT(ddb_transact_write(e.ddb, items, NULL, &err), -ENOSYS);
	CHECK_INT(err.attempts, 1);
	CHECK_STR(err.code, "UnknownOperationException");
	log = log_entries(&e.f);
	CHECK_STR(entry_header(log, 0, "x-amz-target"),
		  "DynamoDB_20120810.TransactWriteItems");
	b = entry_body(log, 0);
	tok = json_string_value(json_object_get(b, "ClientRequestToken"));
	CHECK(tok && strlen(tok) == 36 && tok[14] == '4');
	CHECK_INT(json_array_size(json_object_get(b, "TransactItems")), 2);
	json_decref(b);
	json_decref(log);
	env_stop(&e);

	/* A failed condition, with the reasons only in CancellationReasons. */
	CHECK_INT(
	    env_start(&e,
		      "[{\"status\": 400, \"body\": {\"__type\": \"" TYPE_PREFIX
		      "TransactionCanceledException\", \"Message\":"
		      " \"Transaction cancelled\", \"CancellationReasons\":"
		      " [{\"Code\": \"ConditionalCheckFailed\", \"Message\":"
		      " \"The conditional request failed\"},"
		      " {\"Code\": \"None\"}]}}]",
		      10),
	    0);
	CHECK_INT(ddb_transact_write(e.ddb, items, "my-token", &err), -EEXIST);
	CHECK_STR(err.message,
		  "Transaction cancelled [ConditionalCheckFailed, None]");
	log = log_entries(&e.f);
	b = entry_body(log, 0);
	CHECK_STR(json_string_value(json_object_get(b, "ClientRequestToken")),
		  "my-token");
	json_decref(b);
	json_decref(log);
	env_stop(&e);

	/* Success. */
	CHECK_INT(env_start(&e, "[{\"body\": {}}]", 10), 0);
	CHECK_INT(ddb_transact_write(e.ddb, items, NULL, &err), 0);
	env_stop(&e);
	json_decref(items);
}

/* --- items and tables ---------------------------------------------------- */

static void test_get_item_missing(void)
{
	struct env e;
	struct ddb_error err;
	json_t *key = J("{\"pk\": {\"S\": \"nope\"}}"), *item = NULL, *log, *b;

	CHECK_INT(env_start(&e, "[{\"body\": {}}]", 10), 0);
	CHECK_INT(ddb_get_item(e.ddb, "Devices", key, true, &item, &err),
		  -ENOENT);
	CHECK(item == NULL);
	log = log_entries(&e.f);
	b = entry_body(log, 0);
	CHECK_STR(json_string_value(json_object_get(b, "TableName")),
		  "Devices");
	CHECK(json_equal(json_object_get(b, "Key"), key));
	CHECK(json_is_true(json_object_get(b, "ConsistentRead")));
	json_decref(b);
	json_decref(log);
	env_stop(&e);
	json_decref(key);
}

static void test_conditional_put_delete(void)
{
	struct env e;
	struct ddb_error err;
	json_t *item = J("{\"pk\": {\"S\": \"a\"}, \"n\": {\"N\": \"1\"}}");
	json_t *key = J("{\"pk\": {\"S\": \"a\"}}");
	json_t *names = J("{\"#k\": \"pk\"}"), *log, *b;

	CHECK_INT(
	    env_start(&e,
		      "[{\"match_header\": {\"x-amz-target\":"
		      " \"DynamoDB_20120810.PutItem\"}, \"status\": 400,"
		      " \"body\": {\"__type\": \"" TYPE_PREFIX
		      "ConditionalCheckFailedException\","
		      " \"message\": \"The conditional request failed\"}},"
		      " {\"body\": {}}]",
		      10),
	    0);
	CHECK_INT(ddb_put_item(e.ddb, "T", item, "attribute_not_exists(#k)",
			       names, NULL, &err),
		  -EEXIST);
	CHECK_INT(err.attempts, 1);
	CHECK_INT(ddb_delete_item(e.ddb, "T", key, NULL, NULL, NULL, &err), 0);
	log = log_entries(&e.f);
	CHECK_INT(json_array_size(log), 2);
	b = entry_body(log, 0);
	CHECK_STR(json_string_value(json_object_get(b, "ConditionExpression")),
		  "attribute_not_exists(#k)");
	CHECK(
	    json_equal(json_object_get(b, "ExpressionAttributeNames"), names));
	CHECK(json_object_get(b, "ExpressionAttributeValues") == NULL);
	CHECK(json_equal(json_object_get(b, "Item"), item));
	json_decref(b);
	b = entry_body(log, 1);
	CHECK_STR(entry_header(log, 1, "x-amz-target"),
		  "DynamoDB_20120810.DeleteItem");
	CHECK(json_equal(json_object_get(b, "Key"), key));
	CHECK(json_object_get(b, "ConditionExpression") == NULL);
	json_decref(b);
	json_decref(log);
	env_stop(&e);
	json_decref(item);
	json_decref(key);
	json_decref(names);
}

static void test_create_table_waits(void)
{
	struct env e;
	struct ddb_error err;
	json_t *req =
	    J("{\"TableName\": \"New\", \"BillingMode\": \"PAY_PER_REQUEST\","
	      " \"AttributeDefinitions\": [{\"AttributeName\": \"pk\","
	      " \"AttributeType\": \"S\"}], \"KeySchema\":"
	      " [{\"AttributeName\": \"pk\", \"KeyType\": \"HASH\"}]}");
	json_t *desc = NULL, *log;

	CHECK_INT(
	    env_start(
		&e,
		"[{\"match_header\": {\"x-amz-target\":"
		" \"DynamoDB_20120810.CreateTable\"}, \"body\":"
		" {\"TableDescription\": {\"TableName\": \"New\","
		" \"TableStatus\": \"CREATING\"}}},"
		" {\"times\": 1, \"status\": 400, \"body\": {\"__type\": "
		"\"" TYPE_PREFIX "ResourceNotFoundException\"}},"
		" {\"times\": 1, \"body\": {\"Table\": {\"TableName\": \"New\","
		" \"TableStatus\": \"CREATING\"}}},"
		" {\"body\": {\"Table\": {\"TableName\": \"New\","
		" \"TableStatus\": \"ACTIVE\", \"ItemCount\": 0}}}]",
		10),
	    0);
	CHECK_INT(ddb_create_table(e.ddb, req, true, &desc, &err), 0);
	CHECK_STR(json_string_value(json_object_get(desc, "TableStatus")),
		  "ACTIVE");
	CHECK(json_object_get(desc, "ItemCount") != NULL);
	log = log_entries(&e.f);
	CHECK_INT(json_array_size(log), 4);
	CHECK_STR(entry_header(log, 3, "x-amz-target"),
		  "DynamoDB_20120810.DescribeTable");
	json_decref(log);
	json_decref(desc);
	env_stop(&e);

	/* Without waiting: the CreateTable answer as is. */
	CHECK_INT(env_start(&e,
			    "[{\"body\": {\"TableDescription\": {\"TableName\":"
			    " \"New\", \"TableStatus\": \"CREATING\"}}}]",
			    10),
		  0);
	CHECK_INT(ddb_create_table(e.ddb, req, false, &desc, &err), 0);
	CHECK_STR(json_string_value(json_object_get(desc, "TableStatus")),
		  "CREATING");
	CHECK_INT(fakehttp_count(&e.f), 1);
	json_decref(desc);
	env_stop(&e);
	json_decref(req);
}

static void test_describe_update(void)
{
	struct env e;
	struct ddb_error err;
	json_t *desc = NULL, *resp = NULL;
	json_t *upd =
	    J("{\"TableName\": \"T\", \"Key\": {\"pk\": {\"S\": \"a\"}},"
	      " \"UpdateExpression\": \"SET #n = :v\","
	      " \"ExpressionAttributeNames\": {\"#n\": \"n\"},"
	      " \"ExpressionAttributeValues\": {\":v\": {\"N\": \"2\"}},"
	      " \"ReturnValues\": \"ALL_NEW\"}");

	CHECK_INT(
	    env_start(
		&e,
		"[{\"match_header\": {\"x-amz-target\":"
		" \"DynamoDB_20120810.DescribeTable\"}, \"body\":"
		" {\"Table\": {\"TableName\": \"T\", \"KeySchema\": []}}},"
		" {\"match_header\": {\"x-amz-target\":"
		" \"DynamoDB_20120810.UpdateItem\"}, \"body\":"
		" {\"Attributes\": {\"n\": {\"N\": \"2\"}}}}]",
		10),
	    0);
	CHECK_INT(ddb_describe_table(e.ddb, "T", &desc, &err), 0);
	CHECK_STR(json_string_value(json_object_get(desc, "TableName")), "T");
	CHECK_INT(ddb_update_item(e.ddb, upd, &resp, &err), 0);
	CHECK_STR(json_string_value(json_object_get(
		      json_object_get(json_object_get(resp, "Attributes"), "n"),
		      "N")),
		  "2");
	json_decref(desc);
	json_decref(resp);
	json_decref(upd);
	env_stop(&e);
}

/* --- logging ------------------------------------------------------------- */

struct log_run {
	struct env *e;
	int rc_get, rc_put;
};

static void logged_calls(void *p)
{
	struct log_run *lr = p;
	json_t *key = J("{\"pk\": {\"S\": \"a\"}}"), *item = NULL;

	log_setup(LOG_DEBUG, false);
	lr->rc_get =
	    ddb_get_item(lr->e->ddb, "Devices", key, false, &item, NULL);
	lr->rc_put =
	    ddb_put_item(lr->e->ddb, "Devices", key, NULL, NULL, NULL, NULL);
	log_setup(LOG_WARNING, false);
	json_decref(item);
	json_decref(key);
}

static void test_debug_log(void)
{
	struct env e;
	struct log_run lr = {.e = &e};
	char *text;

	CHECK_INT(
	    env_start(&e,
		      "[{\"match_header\": {\"x-amz-target\":"
		      " \"DynamoDB_20120810.GetItem\"}, \"times\": 1,"
		      " \"status\": 400, \"body\": {\"__type\": \"" TYPE_PREFIX
		      "ThrottlingException\"}},"
		      " {\"match_header\": {\"x-amz-target\":"
		      " \"DynamoDB_20120810.GetItem\"},"
		      " \"body\": {\"Item\": {\"pk\": {\"S\": \"a\"}}}},"
		      " {\"status\": 400, \"headers\": {\"x-amzn-RequestId\":"
		      " \"RID-W\"}, \"body\": {\"__type\": \"" TYPE_PREFIX
		      "AccessDeniedException\", \"message\": \"denied\"}}]",
		      10),
	    0);
	text = capture_stderr(logged_calls, &lr);
	CHECK_INT(lr.rc_get, 0);
	CHECK_INT(lr.rc_put, -EACCES);
	CHECK(text != NULL);
	if (text) {
		CHECK_INT(count_substr(text, "request op="), 3);
		CHECK_INT(count_substr(text, "request op=GetItem table=Devices"
					     " status=400 ms="),
			  1);
		CHECK(strstr(text, " attempt=1 key={\"pk\":{\"S\":\"a\"}}"
				   " code=ThrottlingException\n"));
		CHECK(strstr(text, "request op=GetItem table=Devices status=200"
				   " ms="));
		CHECK(strstr(text, " attempt=2 key={\"pk\":{\"S\":\"a\"}}\n"));
		CHECK(strstr(text, "request op=PutItem table=Devices status=400"
				   " ms="));
		/* The final error: a warning with code, message, request id. */
		CHECK(strstr(text, "warning: PutItem table=Devices failed after"
				   " 1 attempt: AccessDeniedException: denied"
				   " (HTTP 400, request id RID-W)"));
		CHECK(!strstr(text, SECRET));
		CHECK(!strstr(text, "Signature="));
		CHECK(!strstr(text, TOKEN));
		if (tap_failed_checks)
			printf("# log was:\n%s", text);
	}
	free(text);
	env_stop(&e);
}

/* The Host header, path and query the signer gets from an endpoint URL
 * (libcurl's URL API underneath, http_url_parse). */
static const struct {
	const char *url;
	int ret;
	const char *host, *path, *query;
} endpoint_rows[] = {
    {"http://127.0.0.1:8000", 0, "127.0.0.1:8000", "/", NULL},
    {"https://dynamodb.eu-west-1.amazonaws.com", 0,
     "dynamodb.eu-west-1.amazonaws.com", "/", NULL},
    {"HTTPS://DynamoDB.Example:443/", 0, "dynamodb.example", "/", NULL},
    {"http://h:80/x", 0, "h", "/x", NULL},
    {"http://h:443", 0, "h:443", "/", NULL},
    {"https://h:80", 0, "h:80", "/", NULL},
    {"http://[::1]:8000/", 0, "[::1]:8000", "/", NULL},
    {"http://[FD00::1]", 0, "[fd00::1]", "/", NULL},
    {"http://u:p@h:1/p/../q?a=1&b=2#frag", 0, "h:1", "/p/../q", "a=1&b=2"},
    {"http://h/?", 0, "h", "/", ""},
    {"http://h:", 0, "h", "/", NULL},
    {"ftp://h", -EINVAL, NULL, NULL, NULL},
    {"h:8000", -EINVAL, NULL, NULL, NULL},
    {"http://", -EINVAL, NULL, NULL, NULL},
    {"http://:80", -EINVAL, NULL, NULL, NULL},
    {"http://h:0", -EINVAL, NULL, NULL, NULL},
    {"http://h:99999/", -EINVAL, NULL, NULL, NULL},
    {"http://[::1/", -EINVAL, NULL, NULL, NULL},
    {"http://h x/", -EINVAL, NULL, NULL, NULL},
    {"http:/h", -EINVAL, NULL, NULL, NULL},
    {"https:///h", -EINVAL, NULL, NULL, NULL},
};

static void test_parse_endpoint(void)
{
	for (size_t i = 0; i < sizeof(endpoint_rows) / sizeof(endpoint_rows[0]);
	     i++) {
		char *host = NULL, *path = NULL, *query = NULL;
		int ret = ddb_parse_endpoint(endpoint_rows[i].url, &host, &path,
					     &query);

		if (ret != endpoint_rows[i].ret)
			printf("#   %s\n", endpoint_rows[i].url);
		CHECK_INT(ret, endpoint_rows[i].ret);
		if (ret) {
			CHECK(!host && !path && !query);
		} else {
			CHECK_STR(host, endpoint_rows[i].host);
			CHECK_STR(path, endpoint_rows[i].path);
			if (endpoint_rows[i].query)
				CHECK_STR(query, endpoint_rows[i].query);
			else
				CHECK(query == NULL);
		}
		free(host);
		free(path);
		free(query);
	}
}

static void test_client_arguments(void)
{
	struct ddb_config dc = {0};

	errno = 0;
	CHECK(ddb_client_new(NULL) == NULL);
	CHECK_INT(errno, EINVAL);
	dc.endpoint = "ftp://x";
	dc.region = "us-east-1";
	dc.creds = (struct creds_provider *)&dc; /* never used */
	dc.http = (struct http_client *)&dc;
	CHECK(ddb_client_new(&dc) == NULL);
	dc.endpoint = "http://h:99999/";
	CHECK(ddb_client_new(&dc) == NULL);
	dc.endpoint = "http://[::1/";
	CHECK(ddb_client_new(&dc) == NULL);
	dc.endpoint = "https://dynamodb.eu-west-1.amazonaws.com";
	{
		struct ddb_client *c = ddb_client_new(&dc);

		CHECK(c != NULL);
		ddb_client_free(c);
	}
	ddb_client_free(NULL);
}

/* --- ddb_page_items: a Query/Scan page read one item at a time ---------- */

/* What the callback saw; items are deep copies (the ones handed over are
 * freed when the callback returns). */
struct page_seen {
	json_t *items;
	int calls;
	int stop_at; /* the call (from 1) that returns stop_rc; 0: never */
	int stop_rc;
};

static int page_collect(json_t *item, void *arg)
{
	struct page_seen *s = arg;

	s->calls++;
	json_array_append_new(s->items, json_deep_copy(item));
	return s->calls == s->stop_at ? s->stop_rc : 0;
}

/* A JSON text that may hold \u0000 (caller decrefs). */
static json_t *JN(const char *text)
{
	json_error_t jerr;
	json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);

	if (!v)
		printf("# bad JSON in test: %s (%s)\n", text, jerr.text);
	return v;
}

/* The body in a buffer of exactly len bytes (no NUL after it), so that
 * ASan and valgrind see any read past the end. Caller frees. */
static char *exact_copy(const char *body, size_t len)
{
	char *b = malloc(len ? len : 1);

	if (b && len)
		memcpy(b, body, len);
	return b;
}

/* Runs one page through ddb_page_items; checks the return, the items seen
 * (in order, against the JSON array text want_items) and *rest (against
 * want_rest; NULL: *rest must be NULL). Then again with rest == NULL. */
static void check_page(const char *name, const char *body, size_t len,
		       const char *want_items, const char *want_rest,
		       int want_rc, int stop_at, int stop_rc)
{
	json_t *items = JN(want_items);
	json_t *wrest = want_rest ? JN(want_rest) : NULL;
	json_t sentinel_obj, *sentinel = &sentinel_obj; /* never dereferenced */
	char *buf = exact_copy(body, len);

	CHECK(items != NULL && (want_rest == NULL || wrest != NULL));
	for (int with_rest = 1; with_rest >= 0; with_rest--) {
		struct page_seen s = {.items = json_array(),
				      .stop_at = stop_at,
				      .stop_rc = stop_rc};
		json_t *rest = sentinel;
		int rc = ddb_page_items(buf, len, page_collect, &s,
					with_rest ? &rest : NULL);
		int bad = tap_failed_checks;

		CHECK_INT(rc, want_rc);
		CHECK_INT(json_array_size(s.items), json_array_size(items));
		CHECK_INT(s.calls, json_array_size(items));
		for (size_t i = 0; i < json_array_size(items); i++)
			CHECK(json_equal(json_array_get(s.items, i),
					 json_array_get(items, i)));
		if (with_rest) {
			CHECK(rest != sentinel);
			if (rest == sentinel)
				rest = NULL;
			if (wrest)
				CHECK(rest && json_equal(rest, wrest));
			else
				CHECK(rest == NULL);
			if (tap_failed_checks != bad && rest) {
				char *t = json_dumps(rest, JSON_COMPACT);

				printf("#   rest: %s\n", t ? t : "?");
				free(t);
			}
			json_decref(rest);
		}
		if (tap_failed_checks != bad) {
			char *t = json_dumps(s.items, JSON_COMPACT);

			printf("#   in case \"%s\" (rest %s): items %s\n", name,
			       with_rest ? "wanted" : "NULL", t ? t : "?");
			free(t);
		}
		json_decref(s.items);
	}
	free(buf);
	json_decref(items);
	json_decref(wrest);
}

/* A body of 3 items with nested values, and those items. */
#define NESTED_ITEMS                                                           \
	"[{\"pk\": {\"S\": \"a\"}, \"m\": {\"M\": {\"x\": {\"L\":"             \
	" [{\"N\": \"1\"}, {\"SS\": [\"p\", \"q\"]}, {\"M\": {}},"             \
	" {\"L\": [{\"L\": []}]}]}, \"y\": {\"NS\": [\"1\", \"2.5\"]}}},"      \
	" \"b\": {\"BOOL\": true}, \"z\": {\"NULL\": true},"                   \
	" \"bin\": {\"B\": \"AAEC\"}},"                                        \
	" {\"pk\": {\"S\": \"b\"}, \"ss\": {\"SS\": [\"u\", \"v\", \"w\"]},"   \
	" \"n\": {\"N\": \"-1e10\"}},"                                         \
	" {\"pk\": {\"S\": \"c\"}, \"l\": {\"L\": [{\"M\": {\"k\":"            \
	" {\"S\": \"v\"}}}, {\"BS\": [\"AA==\"]}]}}]"
#define NESTED_COMPACT                                                         \
	"[{\"pk\":{\"S\":\"a\"},\"m\":{\"M\":{\"x\":{\"L\":"                   \
	"[{\"N\":\"1\"},{\"SS\":[\"p\",\"q\"]},{\"M\":{}},"                    \
	"{\"L\":[{\"L\":[]}]}]},\"y\":{\"NS\":[\"1\",\"2.5\"]}}},"             \
	"\"b\":{\"BOOL\":true},\"z\":{\"NULL\":true},"                         \
	"\"bin\":{\"B\":\"AAEC\"}},"                                           \
	"{\"pk\":{\"S\":\"b\"},\"ss\":{\"SS\":[\"u\",\"v\",\"w\"]},"           \
	"\"n\":{\"N\":\"-1e10\"}},"                                            \
	"{\"pk\":{\"S\":\"c\"},\"l\":{\"L\":[{\"M\":{\"k\":"                   \
	"{\"S\":\"v\"}}},{\"BS\":[\"AA==\"]}]}}]"
#define ITEM_A "{\"pk\":{\"S\":\"a\"}}"
#define ITEM_B "{\"pk\":{\"S\":\"b\"}}"
#define ITEM_C "{\"pk\":{\"S\":\"c\"}}"
#define ITEM_D "{\"pk\":{\"S\":\"d\"}}"
#define LEK    "{\"pk\":{\"S\":\"z\"},\"sk\":{\"N\":\"7\"}}"

static const struct page_case {
	const char *name;
	const char *body;
	size_t len;	   /* 0: strlen(body) */
	const char *items; /* JSON array: the callback's items, in order */
	const char *rest;  /* JSON object; NULL: *rest stays NULL */
	int rc;
	int stop_at, stop_rc; /* the callback fails at this call */
} page_cases[] = {
    /* Well-formed pages. */
    {"empty Items", "{\"Items\":[],\"Count\":0}", 0, "[]", "{\"Count\":0}", 0,
     0, 0},
    {"empty Items, spaced", "{\"Items\" : [ \n ] , \"Count\" : 0}", 0, "[]",
     "{\"Count\":0}", 0, 0, 0},
    {"empty object", "{}", 0, "[]", "{}", 0, 0, 0},
    {"empty object, spaced", " \t{ \r\n } \n", 0, "[]", "{}", 0, 0, 0},
    {"nested M/L/SS items",
     "{\"Items\": " NESTED_ITEMS ", \"Count\": 3, \"ScannedCount\": 3}", 0,
     NESTED_ITEMS, "{\"Count\":3,\"ScannedCount\":3}", 0, 0, 0},
    {"compact nested items", "{\"Items\":" NESTED_COMPACT ",\"Count\":3}", 0,
     NESTED_ITEMS, "{\"Count\":3}", 0, 0, 0},
    {"Items last, LastEvaluatedKey before",
     "{\"Count\":2,\"LastEvaluatedKey\":" LEK ",\"ScannedCount\":9,"
     "\"Items\":[" ITEM_A "," ITEM_B "]}",
     0, "[" ITEM_A "," ITEM_B "]",
     "{\"Count\":2,\"LastEvaluatedKey\":" LEK ",\"ScannedCount\":9}", 0, 0, 0},
    {"Items in the middle, LastEvaluatedKey after",
     "{\"Count\":2,\"Items\":[" ITEM_A "," ITEM_B "],\"LastEvaluatedKey\":" LEK
     ",\"ConsumedCapacity\":{\"TableName\":\"T\","
     "\"CapacityUnits\":0.5}}",
     0, "[" ITEM_A "," ITEM_B "]",
     "{\"Count\":2,\"LastEvaluatedKey\":" LEK ",\"ConsumedCapacity\":"
     "{\"TableName\":\"T\",\"CapacityUnits\":0.5}}",
     0, 0, 0},
    {"only Items", "{\"Items\":[" ITEM_A "]}", 0, "[" ITEM_A "]", "{}", 0, 0,
     0},
    {"pretty-printed",
     "\n  {\n  \"Items\" :\n  [\n    {\n      \"pk\" : {\n        \"S\" :"
     " \"a\"\n      }\n    }\n    ,\n\t{ \"pk\":{\"S\":\"b\"} }\r\n  ]\n"
     "  ,\n  \"LastEvaluatedKey\"\t:\t{ \"pk\" : { \"S\" : \"z\" } ,"
     " \"sk\" : { \"N\" : \"7\" } }\n  ,\n  \"Count\" : 2\n}\n\n",
     0, "[" ITEM_A "," ITEM_B "]", "{\"LastEvaluatedKey\":" LEK ",\"Count\":2}",
     0, 0, 0},
    {"an attribute named Items",
     "{\"Items\":[{\"Items\":{\"L\":[{\"S\":\"x\"},{\"M\":{\"Items\":"
     "{\"L\":[]}}}]},\"pk\":{\"S\":\"a\"}}," ITEM_B "],\"Count\":2,"
     "\"LastEvaluatedKey\":{\"Items\":{\"S\":\"k\"}}}",
     0,
     "[{\"Items\":{\"L\":[{\"S\":\"x\"},{\"M\":{\"Items\":{\"L\":[]}}}]},"
     "\"pk\":{\"S\":\"a\"}}," ITEM_B "]",
     "{\"Count\":2,\"LastEvaluatedKey\":{\"Items\":{\"S\":\"k\"}}}", 0, 0, 0},
    {"a member before Items holding \"Items\":[",
     "{\"X\":{\"Items\":[{\"S\":\"no\"}]},\"Items\":[" ITEM_A "]}", 0,
     "[" ITEM_A "]", "{\"X\":{\"Items\":[{\"S\":\"no\"}]}}", 0, 0, 0},
    {"strings with \"Items\":[, ], }, quotes, backslashes",
     "{\"Note\":\"\\\"Items\\\":[{\\\"x\\\":1}]}\",\"Items\":["
     "{\"s\":{\"S\":\"\\\"Items\\\":[\"},\"t\":{\"S\":\"]\"}},"
     "{\"s\":{\"S\":\"}]},{\\\"\"},\"k]}\":{\"S\":\"\\\\\"}},"
     "{\"s\":{\"S\":\"\\\\\\\"],\\\\\"}}],\"Count\":3}",
     0,
     "[{\"s\":{\"S\":\"\\\"Items\\\":[\"},\"t\":{\"S\":\"]\"}},"
     "{\"s\":{\"S\":\"}]},{\\\"\"},\"k]}\":{\"S\":\"\\\\\"}},"
     "{\"s\":{\"S\":\"\\\\\\\"],\\\\\"}}]",
     "{\"Note\":\"\\\"Items\\\":[{\\\"x\\\":1}]}\",\"Count\":3}", 0, 0, 0},
    {"\\u0000 in values",
     "{\"Items\":[{\"s\":{\"S\":\"a\\u0000b\"},\"ss\":{\"SS\":"
     "[\"\\u0000\",\"x\\u0000\"]}}],\"Count\":1,\"LastEvaluatedKey\":"
     "{\"pk\":{\"S\":\"\\u0000z\"}}}",
     0,
     "[{\"s\":{\"S\":\"a\\u0000b\"},\"ss\":{\"SS\":[\"\\u0000\","
     "\"x\\u0000\"]}}]",
     "{\"Count\":1,\"LastEvaluatedKey\":{\"pk\":{\"S\":\"\\u0000z\"}}}", 0, 0,
     0},
    {"no Items member",
     "{\"Count\":0,\"ScannedCount\":10,\"LastEvaluatedKey\":" LEK "}", 0, "[]",
     "{\"Count\":0,\"ScannedCount\":10,\"LastEvaluatedKey\":" LEK "}", 0, 0, 0},
    {"unicode",
     "{\"Items\":[{\"pk\":{\"S\":\"日本語 ☃ 😀\"},\"név\":{\"S\":\"é\"}},"
     "{\"pk\":{\"S\":\"\\u00e9\\ud83d\\ude00\\u2603\"}}],"
     "\"LastEvaluatedKey\":{\"pk\":{\"S\":\"Ωmega\"}}}",
     0,
     "[{\"pk\":{\"S\":\"\\u65e5\\u672c\\u8a9e \\u2603 \\ud83d\\ude00\"},"
     "\"n\\u00e9v\":{\"S\":\"\\u00e9\"}},{\"pk\":{\"S\":\"é😀☃\"}}]",
     "{\"LastEvaluatedKey\":{\"pk\":{\"S\":\"\\u03a9mega\"}}}", 0, 0, 0},
    {"key written with escapes", "{\"\\u0049tems\":[" ITEM_A "]}", 0,
     "[" ITEM_A "]", "{}", 0, 0, 0},
    {"not Items: Itemsx, items, Item",
     "{\"Itemsx\":[1],\"items\":[2],\"Item\":[3],\"Items\":[" ITEM_A "]}", 0,
     "[" ITEM_A "]", "{\"Itemsx\":[1],\"items\":[2],\"Item\":[3]}", 0, 0, 0},
    {"scalars in rest",
     "{\"Count\":-0,\"A\":true,\"B\":false,\"C\":null,\"D\":1.5e3,"
     "\"E\":\"s\",\"F\":[],\"Items\":[]}",
     0, "[]",
     "{\"Count\":0,\"A\":true,\"B\":false,\"C\":null,\"D\":1500.0,"
     "\"E\":\"s\",\"F\":[]}",
     0, 0, 0},

    /* Malformed pages: -EBADMSG, with the items before the fault seen. */
    {"Items a number", "{\"Items\": 5, \"Count\": 0}", 0, "[]", NULL, -EBADMSG,
     0, 0},
    {"Items null", "{\"Items\": null}", 0, "[]", NULL, -EBADMSG, 0, 0},
    {"Items an object", "{\"Items\": {\"pk\":{\"S\":\"a\"}}}", 0, "[]", NULL,
     -EBADMSG, 0, 0},
    {"Items twice", "{\"Items\":[" ITEM_A "],\"Items\":[]}", 0, "[" ITEM_A "]",
     NULL, -EBADMSG, 0, 0},
    {"a key with a NUL", "{\"Items\\u0000x\":[" ITEM_A "]}", 0, "[]", NULL,
     -EBADMSG, 0, 0},
    {"empty input", "", 0, "[]", NULL, -EBADMSG, 0, 0},
    {"only spaces", " \n\t ", 0, "[]", NULL, -EBADMSG, 0, 0},
    {"cut after {", "{", 0, "[]", NULL, -EBADMSG, 0, 0},
    {"cut in a key", "{\"Ite", 0, "[]", NULL, -EBADMSG, 0, 0},
    {"cut after the key", "{\"Items\"", 0, "[]", NULL, -EBADMSG, 0, 0},
    {"cut after [", "{\"Items\":[", 0, "[]", NULL, -EBADMSG, 0, 0},
    {"cut in the first item", "{\"Items\":[{\"pk\":{\"S\":\"a", 0, "[]", NULL,
     -EBADMSG, 0, 0},
    {"cut after the first item", "{\"Items\":[" ITEM_A, 0, "[" ITEM_A "]", NULL,
     -EBADMSG, 0, 0},
    {"cut after a comma", "{\"Items\":[" ITEM_A ",", 0, "[" ITEM_A "]", NULL,
     -EBADMSG, 0, 0},
    {"cut in the second item", "{\"Items\":[" ITEM_A ",{\"pk\":{", 0,
     "[" ITEM_A "]", NULL, -EBADMSG, 0, 0},
    {"cut after ]", "{\"Items\":[" ITEM_A "," ITEM_B "]", 0,
     "[" ITEM_A "," ITEM_B "]", NULL, -EBADMSG, 0, 0},
    {"cut in a number after Items", "{\"Items\":[" ITEM_A "],\"Count\":1", 0,
     "[" ITEM_A "]", NULL, -EBADMSG, 0, 0},
    {"cut in LastEvaluatedKey",
     "{\"Items\":[],\"LastEvaluatedKey\":{\"pk\":{\"S\":\"z\"}", 0, "[]", NULL,
     -EBADMSG, 0, 0},
    {"cut by len before the last }", "{\"Items\":[" ITEM_A "]}",
     sizeof("{\"Items\":[" ITEM_A "]}") - 2, "[" ITEM_A "]", NULL, -EBADMSG, 0,
     0},
    {"missing comma between items",
     "{\"Items\":[" ITEM_A " " ITEM_B "," ITEM_C "]}", 0, "[" ITEM_A "]", NULL,
     -EBADMSG, 0, 0},
    {"missing comma between members", "{\"Items\":[] \"Count\":0}", 0, "[]",
     NULL, -EBADMSG, 0, 0},
    {"missing comma before Items", "{\"Count\":0 \"Items\":[]}", 0, "[]", NULL,
     -EBADMSG, 0, 0},
    {"a number for an item", "{\"Items\":[" ITEM_A ",5," ITEM_B "]}", 0,
     "[" ITEM_A "]", NULL, -EBADMSG, 0, 0},
    {"a number for the first item", "{\"Items\":[5]}", 0, "[]", NULL, -EBADMSG,
     0, 0},
    {"a string for an item", "{\"Items\":[\"x\"]}", 0, "[]", NULL, -EBADMSG, 0,
     0},
    {"null for an item", "{\"Items\":[null]}", 0, "[]", NULL, -EBADMSG, 0, 0},
    {"an array for an item", "{\"Items\":[[" ITEM_A "]]}", 0, "[]", NULL,
     -EBADMSG, 0, 0},
    {"trailing comma in Items", "{\"Items\":[" ITEM_A ",]}", 0, "[" ITEM_A "]",
     NULL, -EBADMSG, 0, 0},
    {"leading comma in Items", "{\"Items\":[," ITEM_A "]}", 0, "[]", NULL,
     -EBADMSG, 0, 0},
    {"trailing comma in the object", "{\"Items\":[],}", 0, "[]", NULL, -EBADMSG,
     0, 0},
    {"Items closed by }", "{\"Items\":[" ITEM_A "}", 0, "[" ITEM_A "]", NULL,
     -EBADMSG, 0, 0},
    {"an unquoted key", "{Items:[]}", 0, "[]", NULL, -EBADMSG, 0, 0},
    {"a number for a key", "{1:[]}", 0, "[]", NULL, -EBADMSG, 0, 0},
    {"missing colon", "{\"Items\" [" ITEM_A "]}", 0, "[]", NULL, -EBADMSG, 0,
     0},
    {"missing value", "{\"Count\":,\"Items\":[]}", 0, "[]", NULL, -EBADMSG, 0,
     0},
    {"a malformed value in rest", "{\"Items\":[" ITEM_A "],\"Count\":01}", 0,
     "[" ITEM_A "]", NULL, -EBADMSG, 0, 0},
    {"garbage after }", "{\"Items\":[" ITEM_A "],\"Count\":1}x", 0,
     "[" ITEM_A "]", NULL, -EBADMSG, 0, 0},
    {"a second } after }", "{\"Items\":[]}}", 0, "[]", NULL, -EBADMSG, 0, 0},
    {"a second object after }", "{\"Items\":[]} {}", 0, "[]", NULL, -EBADMSG, 0,
     0},
    {"a NUL byte after }", "{\"Items\":[]}\0", sizeof("{\"Items\":[]}"), "[]",
     NULL, -EBADMSG, 0, 0},
    /* jansson takes a NUL after a number as the end of the value (found
     * by fuzz_page): in a member the page reader skips, or in an item. */
    {"a NUL byte after a number in another member",
     "{\"X\":{\"\":1\0},\"Items\":[]}",
     sizeof("{\"X\":{\"\":1\0},\"Items\":[]}") - 1, "[]", NULL, -EBADMSG, 0, 0},
    {"a NUL byte after a number in an item",
     "{\"Items\":[{\"n\":{\"N\":1\0}}]}",
     sizeof("{\"Items\":[{\"n\":{\"N\":1\0}}]}") - 1, "[]", NULL, -EBADMSG, 0,
     0},
    {"a NUL byte inside", "{\"Items\":[\0]}", sizeof("{\"Items\":[\0]}") - 1,
     "[]", NULL, -EBADMSG, 0, 0},
    {"top-level array", "[" ITEM_A "," ITEM_B "]", 0, "[]", NULL, -EBADMSG, 0,
     0},
    {"top-level string", "\"Items\"", 0, "[]", NULL, -EBADMSG, 0, 0},
    {"top-level number", "0", 0, "[]", NULL, -EBADMSG, 0, 0},
    {"top-level null", "null", 0, "[]", NULL, -EBADMSG, 0, 0},
    {"invalid UTF-8 in an item",
     "{\"Items\":[" ITEM_A ",{\"pk\":{\"S\":\"\xff\"}}]}", 0, "[" ITEM_A "]",
     NULL, -EBADMSG, 0, 0},
    {"a raw control character in a string",
     "{\"Items\":[{\"pk\":{\"S\":\"a\nb\"}}]}", 0, "[]", NULL, -EBADMSG, 0, 0},

    /* The callback's error stops the walk and is returned. */
    {"callback -ENOSPC at the 2nd item",
     "{\"Items\":[" ITEM_A "," ITEM_B "," ITEM_C "," ITEM_D "],\"Count\":4}", 0,
     "[" ITEM_A "," ITEM_B "]", NULL, -ENOSPC, 2, -ENOSPC},
    {"callback -EIO at the 1st item",
     "{\"Items\":[" ITEM_A "," ITEM_B "],\"Count\":2}", 0, "[" ITEM_A "]", NULL,
     -EIO, 1, -EIO},
    {"callback -ENOMEM at the last item",
     "{\"Items\":[" ITEM_A "," ITEM_B "],\"LastEvaluatedKey\":" LEK "}", 0,
     "[" ITEM_A "," ITEM_B "]", NULL, -ENOMEM, 2, -ENOMEM},
    {"callback error before a malformed tail",
     "{\"Items\":[" ITEM_A "," ITEM_B "]x", 0, "[" ITEM_A "]", NULL, -ENOSPC, 1,
     -ENOSPC},
};

static void test_page_items_table(void)
{
	for (size_t i = 0; i < sizeof(page_cases) / sizeof(page_cases[0]);
	     i++) {
		const struct page_case *c = &page_cases[i];

		check_page(c->name, c->body, c->len ? c->len : strlen(c->body),
			   c->items, c->rest, c->rc, c->stop_at, c->stop_rc);
	}
}

/* Every proper prefix of a page is malformed, and what was seen before the
 * cut is a prefix of its items. */
static void test_page_items_every_cut(void)
{
	static const char *const bodies[] = {
	    "{\"Count\":3,\"Items\":" NESTED_COMPACT
	    ",\"LastEvaluatedKey\":" LEK ",\"Note\":\"]}\\\"\\u0000\"}",
	    "{\n  \"Items\" : [ " ITEM_A " ,\n " ITEM_B " ] ,\n  \"Count\" :"
	    " 2\n}",
	};

	for (size_t b = 0; b < sizeof(bodies) / sizeof(bodies[0]); b++) {
		size_t len = strlen(bodies[b]);
		struct page_seen all = {.items = json_array()};
		json_t *rest = NULL;
		int bad_cuts = 0;

		CHECK_INT(
		    ddb_page_items(bodies[b], len, page_collect, &all, &rest),
		    0);
		CHECK(json_array_size(all.items) >= 2);
		CHECK_INT(json_object_size(rest), b == 0 ? 3 : 1);
		json_decref(rest);
		for (size_t cut = 0; cut < len; cut++) {
			struct page_seen s = {.items = json_array()};
			char *buf = exact_copy(bodies[b], cut);
			int rc;

			rest = NULL;
			rc = ddb_page_items(buf, cut, page_collect, &s, &rest);
			if (rc != -EBADMSG || rest != NULL ||
			    json_array_size(s.items) >
				json_array_size(all.items)) {
				bad_cuts++;
				printf("#   body %zu cut at %zu: rc %d\n", b,
				       cut, rc);
			} else {
				for (size_t i = 0; i < json_array_size(s.items);
				     i++)
					if (!json_equal(
						json_array_get(s.items, i),
						json_array_get(all.items, i)))
						bad_cuts++;
			}
			json_decref(rest);
			json_decref(s.items);
			free(buf);
		}
		CHECK_INT(bad_cuts, 0);
		json_decref(all.items);
	}
}

/* What the large page's callback checks as the items come. */
struct big_seen {
	int next; /* the number the next item should carry */
	int wrong;
};

static int big_item(json_t *item, void *arg)
{
	struct big_seen *s = arg;
	char pk[16];
	json_t *want;

	snprintf(pk, sizeof(pk), "k%05d", s->next);
	want = json_pack("{s:{s:s},s:{s:s}}", "pk", "S", pk, "n", "N", pk + 1);
	if (!json_equal(item, want)) {
		if (s->wrong++ < 3) {
			char *t = json_dumps(item, JSON_COMPACT);

			printf("#   item %d: %s\n", s->next, t ? t : "?");
			free(t);
		}
	}
	json_decref(want);
	s->next++;
	return 0;
}

static void test_page_items_large(void)
{
	enum { N = 20000 };
	size_t cap = (size_t)N * 48 + 128, len = 0;
	char *body = malloc(cap);
	struct big_seen s = {0};
	json_t *rest = NULL;

	CHECK(body != NULL);
	if (!body)
		return;
	len += (size_t)snprintf(body + len, cap - len, "{\"Items\":[");
	for (int i = 0; i < N; i++)
		len += (size_t)snprintf(body + len, cap - len,
					"%s{\"pk\":{\"S\":\"k%05d\"},"
					"\"n\":{\"N\":\"%05d\"}}",
					i ? "," : "", i, i);
	len += (size_t)snprintf(body + len, cap - len,
				"],\"Count\":%d,\"LastEvaluatedKey\":"
				"{\"pk\":{\"S\":\"k%05d\"}}}",
				N, N - 1);
	CHECK(len < cap);
	CHECK_INT(ddb_page_items(body, len, big_item, &s, &rest), 0);
	CHECK_INT(s.next, N);
	CHECK_INT(s.wrong, 0);
	CHECK_INT(json_integer_value(json_object_get(rest, "Count")), N);
	CHECK_STR(json_string_value(json_object_get(
		      json_object_get(json_object_get(rest, "LastEvaluatedKey"),
				      "pk"),
		      "S")),
		  "k19999");
	CHECK_INT(json_object_size(rest), 2);
	json_decref(rest);
	free(body);
}

/* --- ddb_call_raw: the answer unparsed ---------------------------------- */

static void test_call_raw(void)
{
	static const char page[] =
	    "{\"Items\": [ {\"pk\":{\"S\":\"a\\u0000\"}} ],\n\"Count\":1,"
	    "  \"Note\": \"caf\xc3\xa9\"}\n";
	struct env e;
	struct ddb_error err;
	json_t *req = J("{\"TableName\": \"T\", \"Limit\": 5}"), *log, *b;
	char *body = (char *)"x";
	size_t len = 99;

	/* 200: the bytes as sent, NUL-terminated. The script holds the page
	 * as a JSON string, so fakehttp sends it verbatim. */
	{
		json_t *script = json_pack(
		    "[{s:{s:s},s:s,s:s,s:{s:s}}]", "match_header",
		    "x-amz-target", "DynamoDB_20120810.Query", "crc32", "good",
		    "body", page, "headers", "x-amzn-RequestId", "RID-RAW");
		char *text = json_dumps(script, 0);

		CHECK_INT(env_start(&e, text, 10), 0);
		free(text);
		json_decref(script);
	}
	CHECK_INT(ddb_call_raw(e.ddb, "Query", req, &body, &len, &err), 0);
	CHECK_INT(len, sizeof(page) - 1);
	CHECK(body && memcmp(body, page, sizeof(page)) == 0);
	CHECK_INT(err.attempts, 1);
	CHECK_INT(err.http_status, 200);
	CHECK_STR(err.request_id, "RID-RAW");
	log = log_entries(&e.f);
	CHECK_INT(json_array_size(log), 1);
	CHECK_STR(entry_header(log, 0, "x-amz-target"),
		  "DynamoDB_20120810.Query");
	b = entry_body(log, 0);
	CHECK(json_equal(b, req));
	json_decref(b);
	json_decref(log);
	free(body);
	env_stop(&e);

	/* 200 with a body that is not JSON: returned as is, not retried
	 * (only ddb_page_items finds out). */
	CHECK_INT(env_start(&e,
			    "[{\"crc32\": \"good\","
			    " \"body\": \"{\\\"Items\\\":[}\"}]",
			    10),
		  0);
	CHECK_INT(ddb_call_raw(e.ddb, "Scan", req, &body, &len, &err), 0);
	CHECK_INT(len, strlen("{\"Items\":[}"));
	CHECK_STR(body, "{\"Items\":[}");
	CHECK_INT(err.attempts, 1);
	free(body);
	env_stop(&e);

	/* An empty 200 body with a good checksum: an empty string, not
	 * NULL. */
	CHECK_INT(env_start(&e, "[{\"crc32\": \"good\", \"body\": \"\"}]", 10),
		  0);
	body = (char *)"x";
	CHECK_INT(ddb_call_raw(e.ddb, "Scan", NULL, &body, &len, &err), 0);
	CHECK_INT(len, 0);
	CHECK(body != NULL && body[0] == '\0');
	free(body);
	env_stop(&e);

	/* Without a checksum, a body cut short (not ending in '}') is
	 * retried like a transport failure; empty ones until -EIO. */
	CHECK_INT(
	    env_start(&e,
		      "[{\"times\": 1, \"crc32\": \"none\","
		      " \"body\": \"{\\\"Items\\\":[{\"},"
		      " {\"crc32\": \"none\", \"body\": {\"Items\": []}}]",
		      10),
	    0);
	CHECK_INT(ddb_call_raw(e.ddb, "Scan", NULL, &body, &len, &err), 0);
	CHECK_STR(body, "{\"Items\": []}");
	CHECK_INT(err.attempts, 2);
	free(body);
	env_stop(&e);
	CHECK_INT(env_start(&e, "[{\"crc32\": \"none\", \"body\": \"\"}]", 2),
		  0);
	body = (char *)"x";
	CHECK_INT(ddb_call_raw(e.ddb, "Scan", NULL, &body, &len, &err), -EIO);
	CHECK(body == NULL);
	CHECK_INT(err.attempts, 3);
	env_stop(&e);

	/* 400 ValidationException: its errno, no body, not retried. */
	CHECK_INT(
	    env_start(&e,
		      "[{\"status\": 400, \"body\": {\"__type\": \"" TYPE_PREFIX
		      "ValidationException\", \"message\":"
		      " \"bad Limit\"}}]",
		      10),
	    0);
	body = (char *)"x";
	len = 99;
	CHECK_INT(ddb_call_raw(e.ddb, "Query", req, &body, &len, &err),
		  -EINVAL);
	CHECK(body == NULL);
	CHECK_INT(len, 0);
	CHECK_INT(err.attempts, 1);
	CHECK_INT(err.http_status, 400);
	CHECK_STR(err.code, "ValidationException");
	CHECK_STR(err.message, "bad Limit");
	CHECK_INT(fakehttp_count(&e.f), 1);
	env_stop(&e);

	/* 500, then 200: retried, the second body. */
	CHECK_INT(env_start(&e,
			    "[{\"times\": 1, \"status\": 500, \"body\":"
			    " {\"__type\": \"" TYPE_PREFIX
			    "InternalServerError\"}},"
			    " {\"body\":"
			    " \"{\\\"Items\\\":[],\\\"Count\\\":0}\"}]",
			    10),
		  0);
	CHECK_INT(ddb_call_raw(e.ddb, "Query", req, &body, &len, &err), 0);
	CHECK_STR(body, "{\"Items\":[],\"Count\":0}");
	CHECK_INT(len, strlen("{\"Items\":[],\"Count\":0}"));
	CHECK_INT(err.attempts, 2);
	CHECK_INT(err.http_status, 200);
	CHECK(err.maybe_applied);
	CHECK_INT(fakehttp_count(&e.f), 2);
	free(body);
	env_stop(&e);

	/* A CRC32 mismatch is retried like ddb_call's; the good body wins. */
	CHECK_INT(env_start(&e,
			    "[{\"times\": 1, \"crc32\": \"bad\", \"body\":"
			    " \"{\\\"Items\\\":[],\\\"Count\\\":7}\"},"
			    " {\"crc32\": \"good\", \"body\":"
			    " \"{\\\"Items\\\":[],\\\"Count\\\":0}\"}]",
			    10),
		  0);
	CHECK_INT(ddb_call_raw(e.ddb, "Scan", req, &body, &len, &err), 0);
	CHECK_STR(body, "{\"Items\":[],\"Count\":0}");
	CHECK_INT(len, strlen("{\"Items\":[],\"Count\":0}"));
	CHECK_INT(err.attempts, 2);
	CHECK_INT(fakehttp_count(&e.f), 2);
	free(body);
	env_stop(&e);

	/* Mismatches only: given up after the retries, no body. */
	CHECK_INT(env_start(&e,
			    "[{\"crc32\": \"bad\", \"body\": \"{\\\"Items\\\":"
			    "[]}\"}]",
			    2),
		  0);
	body = (char *)"x";
	len = 99;
	CHECK(ddb_call_raw(e.ddb, "Scan", req, &body, &len, &err) < 0);
	CHECK(body == NULL);
	CHECK_INT(len, 0);
	CHECK_INT(err.attempts, 3);
	CHECK(err.transport != 0);
	CHECK_INT(fakehttp_count(&e.f), 3);
	env_stop(&e);

	/* 5xx every time: the errno of the last, no body. */
	CHECK_INT(
	    env_start(&e, "[{\"status\": 502, \"body\": \"bad gateway\"}]", 2),
	    0);
	body = (char *)"x";
	CHECK_INT(ddb_call_raw(e.ddb, "Query", req, &body, &len, &err), -EIO);
	CHECK(body == NULL);
	CHECK_INT(len, 0);
	CHECK_INT(err.attempts, 3);
	env_stop(&e);

	/* Bad arguments. */
	body = (char *)"x";
	CHECK_INT(ddb_call_raw(NULL, "Query", req, &body, &len, &err), -EINVAL);
	CHECK(body == NULL);
	json_decref(req);
}

static void test_init(void)
{
	CHECK_INT(http_global_init(), 0);
}

static void test_cleanup(void)
{
	http_global_cleanup();
	CHECK(1);
}

TAP_MAIN({"global init", test_init},
	 {"request: target, content-type, date, token, signature",
	  test_request_shape},
	 {"retry classification", test_retryable_table},
	 {"throttling then success", test_throttle_then_success},
	 {"5xx then success", test_500_then_success},
	 {"conditional write after a 5xx", test_ambiguous_conditional_write},
	 {"CRC32 mismatch then success", test_crc_mismatch_then_success},
	 {"ValidationException not retried", test_validation_not_retried},
	 {"retries exhausted", test_retries_exhausted},
	 {"transport errors retried", test_transport_errors_retried},
	 {"back-off with full jitter", test_backoff},
	 {"errno table", test_errno_table}, {"strerror", test_strerror},
	 {"ListTables over 3 pages", test_list_tables_pages},
	 {"Query follows LastEvaluatedKey", test_query_pages},
	 {"Scan follows LastEvaluatedKey", test_scan_pages},
	 {"parallel Scan segments", test_parallel_scan},
	 {"BatchWriteItem re-sends UnprocessedItems", test_batch_write},
	 {"BatchGetItem re-sends UnprocessedKeys", test_batch_get},
	 {"TransactWriteItems", test_transact_write},
	 {"GetItem without Item", test_get_item_missing},
	 {"conditional PutItem, DeleteItem", test_conditional_put_delete},
	 {"CreateTable waits for ACTIVE", test_create_table_waits},
	 {"DescribeTable, UpdateItem", test_describe_update},
	 {"debug log lines", test_debug_log},
	 {"page items: table of pages", test_page_items_table},
	 {"page items: every cut of a page is malformed",
	  test_page_items_every_cut},
	 {"page items: 20000 items in order", test_page_items_large},
	 {"call_raw: body, errors, retries", test_call_raw},
	 {"endpoint URL: host header, path, query", test_parse_endpoint},
	 {"client arguments", test_client_arguments},
	 {"global cleanup", test_cleanup})
