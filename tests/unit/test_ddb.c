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
	CHECK_INT(ddb_list_tables_page(e.ddb, NULL, 100, &names, &err), 0);
	CHECK_INT(err.attempts, 2);
	CHECK_INT(json_array_size(json_object_get(names, "TableNames")), 2);
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
	json_t *resp = NULL, *log, *body;

	CHECK_INT(
	    env_start(&e,
		      "[{\"match_body\": \"\\\"ExclusiveStartTableName\\\":"
		      "\\\"b\\\"\", \"body\": {\"TableNames\": [\"c\"]}},"
		      " {\"body\": {\"TableNames\": [\"a\", \"b\"],"
		      " \"LastEvaluatedTableName\": \"b\"}}]",
		      10),
	    0);
	CHECK_INT(ddb_list_tables_page(e.ddb, NULL, 100, &resp, &err), 0);
	CHECK_STR(
	    json_string_value(json_object_get(resp, "LastEvaluatedTableName")),
	    "b");
	json_decref(resp);
	CHECK_INT(ddb_list_tables_page(e.ddb, "b", 0, &resp, &err), 0);
	CHECK_INT(json_array_size(json_object_get(resp, "TableNames")), 1);
	json_decref(resp);
	log = log_entries(&e.f);
	CHECK_INT(json_array_size(log), 2);
	body = entry_body(log, 0);
	CHECK(json_object_get(body, "ExclusiveStartTableName") == NULL);
	CHECK_INT(json_integer_value(json_object_get(body, "Limit")), 100);
	json_decref(body);
	body = entry_body(log, 1);
	CHECK_STR(
	    json_string_value(json_object_get(body, "ExclusiveStartTableName")),
	    "b");
	CHECK(json_object_get(body, "Limit") == NULL);
	json_decref(body);
	json_decref(log);
	env_stop(&e);
}

/* --- transactions -------------------------------------------------------- */

static void test_transact_write(void)
{
	struct env e;
	struct ddb_error err;
	json_t *item = J("{\"pk\": {\"S\": \"new\"}}");
	json_t *key = J("{\"pk\": {\"S\": \"old\"}}");
	json_t *log, *b;
	const char *tok;

	CHECK_INT(
	    env_start(
		&e,
		"[{\"status\": 400, \"body\": {\"__type\":"
		" \"com.amazon.coral.service#UnknownOperationException\"}}]",
		10),
	    0);
	CHECK_INT(ddb_move(e.ddb, "T", "pk", item, false, "T", key, &err),
		  -ENOSYS);
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
	CHECK_INT(ddb_move(e.ddb, "T", "pk", item, true, "T", key, &err),
		  -EEXIST);
	CHECK_STR(err.message,
		  "Transaction cancelled [ConditionalCheckFailed, None]");
	log = log_entries(&e.f);
	b = entry_body(log, 0);
	tok = json_string_value(json_object_get(b, "ClientRequestToken"));
	CHECK(tok && strlen(tok) == 36 && tok[14] == '4');
	json_decref(b);
	json_decref(log);
	env_stop(&e);

	/* Success. */
	CHECK_INT(env_start(&e, "[{\"body\": {}}]", 10), 0);
	CHECK_INT(ddb_move(e.ddb, "T", "pk", item, false, "T", key, &err), 0);
	env_stop(&e);
	json_decref(item);
	json_decref(key);
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

/* GetItem's answer unparsed: the same request, the server's bytes. */
static void test_get_item_body(void)
{
	struct env e;
	struct ddb_error err;
	json_t *key = J("{\"pk\": {\"S\": \"a\"}}"), *log, *b, *got;
	char *body = NULL;
	size_t len = 0;

	CHECK_INT(env_start(&e,
			    "[{\"body\": {\"Item\": {\"pk\": {\"S\": \"a\"}}}},"
			    " {\"body\": {}}]",
			    10),
		  0);
	CHECK_INT(
	    ddb_get_item_body(e.ddb, "Devices", key, false, &body, &len, &err),
	    0);
	CHECK(body && strlen(body) == len);
	got = body ? json_loadb(body, len, 0, NULL) : NULL;
	CHECK(json_equal(json_object_get(got, "Item"), key));
	json_decref(got);
	free(body);
	/* No item is the caller's to find out, not an error of the call. */
	CHECK_INT(
	    ddb_get_item_body(e.ddb, "Devices", key, true, &body, &len, &err),
	    0);
	CHECK(body && strlen(body) == len);
	free(body);
	log = log_entries(&e.f);
	b = entry_body(log, 0);
	CHECK_STR(json_string_value(json_object_get(b, "TableName")),
		  "Devices");
	CHECK(json_equal(json_object_get(b, "Key"), key));
	CHECK(json_is_false(json_object_get(b, "ConsistentRead")));
	json_decref(b);
	b = entry_body(log, 1);
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

static void test_describe(void)
{
	struct env e;
	struct ddb_error err;
	json_t *desc = NULL;

	CHECK_INT(
	    env_start(
		&e,
		"[{\"match_header\": {\"x-amz-target\":"
		" \"DynamoDB_20120810.DescribeTable\"}, \"times\": 1,"
		" \"body\": {\"Table\": {\"TableName\": \"T\", \"KeySchema\":"
		" []}}}, {\"body\": {}}]",
		10),
	    0);
	CHECK_INT(ddb_describe_table(e.ddb, "T", &desc, &err), 0);
	CHECK_STR(json_string_value(json_object_get(desc, "TableName")), "T");
	json_decref(desc);
	/* An answer without a Table is an error, not a NULL table. */
	CHECK_INT(ddb_describe_table(e.ddb, "U", &desc, &err), -EIO);
	CHECK(desc == NULL);
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

/* As page_collect, for ddb_page_read_raw: the bytes must be exactly one
 * object (nothing around it), which json_loadb reads whole. */
static int page_collect_raw(const char *json, size_t len, void *arg)
{
	struct page_seen *s = arg;
	json_t *item = json_loadb(json, len, JSON_ALLOW_NUL, NULL);

	s->calls++;
	if (!json_is_object(item) || json[0] != '{' || json[len - 1] != '}')
		json_array_append_new(s->items, json_string("bad span"));
	else
		json_array_append(s->items, item);
	json_decref(item);
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
	/* The same items as bytes, with the same outcome. */
	{
		struct page_seen s = {.items = json_array(),
				      .stop_at = stop_at,
				      .stop_rc = stop_rc};
		json_t *last = NULL;
		int rc =
		    ddb_page_read_raw(buf, len, page_collect_raw, &s, &last);
		int bad = tap_failed_checks;

		CHECK_INT(rc, want_rc);
		CHECK_INT(s.calls, json_array_size(items));
		CHECK(json_equal(s.items, items));
		if (tap_failed_checks != bad)
			printf("#   in case \"%s\", items as bytes\n", name);
		json_decref(last);
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
			/* As bytes: the same fault, the same items first. */
			s = (struct page_seen){.items = json_array()};
			rc = ddb_page_read_raw(buf, cut, page_collect_raw, &s,
					       &rest);
			if (rc != -EBADMSG || rest != NULL ||
			    json_array_size(s.items) >
				json_array_size(all.items)) {
				bad_cuts++;
				printf(
				    "#   body %zu cut at %zu, bytes: rc %d\n",
				    b, cut, rc);
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

/* --- a page's answer unparsed (ddb_scan_page) -------------------------- */

static void test_raw_page(void)
{
	static const char page[] =
	    "{\"Items\": [ {\"pk\":{\"S\":\"a\\u0000\"}} ],\n\"Count\":1,"
	    "  \"Note\": \"caf\xc3\xa9\"}\n";
	struct env e;
	struct ddb_error err;
	/* Its body is {"TableName": "T", "Limit": 5}. */
	struct ddb_page_req r = {.table = "T", .limit = 5};
	json_t *req = J("{\"TableName\": \"T\", \"Limit\": 5}"), *log, *b;
	char *body = (char *)"x";
	size_t len = 99;

	/* 200: the bytes as sent, NUL-terminated. The script holds the page
	 * as a JSON string, so fakehttp sends it verbatim. */
	{
		json_t *script = json_pack(
		    "[{s:{s:s},s:s,s:s,s:{s:s}}]", "match_header",
		    "x-amz-target", "DynamoDB_20120810.Scan", "crc32", "good",
		    "body", page, "headers", "x-amzn-RequestId", "RID-RAW");
		char *text = json_dumps(script, 0);

		CHECK_INT(env_start(&e, text, 10), 0);
		free(text);
		json_decref(script);
	}
	CHECK_INT(ddb_scan_page(e.ddb, &r, 0, 0, &body, &len, &err), 0);
	CHECK_INT(len, sizeof(page) - 1);
	CHECK(body && memcmp(body, page, sizeof(page)) == 0);
	CHECK_INT(err.attempts, 1);
	CHECK_INT(err.http_status, 200);
	CHECK_STR(err.request_id, "RID-RAW");
	log = log_entries(&e.f);
	CHECK_INT(json_array_size(log), 1);
	CHECK_STR(entry_header(log, 0, "x-amz-target"),
		  "DynamoDB_20120810.Scan");
	b = entry_body(log, 0);
	CHECK(json_equal(b, req));
	json_decref(b);
	json_decref(log);
	free(body);
	env_stop(&e);

	/* 200 with a body that is not JSON: returned as is, not retried
	 * (only ddb_page_read finds out). */
	CHECK_INT(env_start(&e,
			    "[{\"crc32\": \"good\","
			    " \"body\": \"{\\\"Items\\\":[}\"}]",
			    10),
		  0);
	CHECK_INT(ddb_scan_page(e.ddb, &r, 0, 0, &body, &len, &err), 0);
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
	CHECK_INT(ddb_scan_page(e.ddb, &r, 0, 0, &body, &len, &err), 0);
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
	CHECK_INT(ddb_scan_page(e.ddb, &r, 0, 0, &body, &len, &err), 0);
	CHECK_STR(body, "{\"Items\": []}");
	CHECK_INT(err.attempts, 2);
	free(body);
	env_stop(&e);
	CHECK_INT(env_start(&e, "[{\"crc32\": \"none\", \"body\": \"\"}]", 2),
		  0);
	body = (char *)"x";
	CHECK_INT(ddb_scan_page(e.ddb, &r, 0, 0, &body, &len, &err), -EIO);
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
	CHECK_INT(ddb_scan_page(e.ddb, &r, 0, 0, &body, &len, &err), -EINVAL);
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
	CHECK_INT(ddb_scan_page(e.ddb, &r, 0, 0, &body, &len, &err), 0);
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
	CHECK_INT(ddb_scan_page(e.ddb, &r, 0, 0, &body, &len, &err), 0);
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
	CHECK(ddb_scan_page(e.ddb, &r, 0, 0, &body, &len, &err) < 0);
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
	CHECK_INT(ddb_scan_page(e.ddb, &r, 0, 0, &body, &len, &err), -EIO);
	CHECK(body == NULL);
	CHECK_INT(len, 0);
	CHECK_INT(err.attempts, 3);
	env_stop(&e);

	/* Bad arguments. */
	body = (char *)"x";
	CHECK_INT(ddb_scan_page(NULL, &r, 0, 0, &body, &len, &err), -EINVAL);
	CHECK(body == NULL);
	json_decref(req);
}

/* --- the filesystem's requests -------------------------------------------- */

/* The exact text of request i's body, as the server received it. */
static const char *entry_text(json_t *entries, size_t i)
{
	return json_string_value(
	    json_object_get(json_array_get(entries, i), "body"));
}

/* Checks that the server received exactly the bodies in want (NULL-ended),
 * each with target op; prints what came when not. */
static void check_bodies(const struct env *e, const char *op,
			 const char *const *want)
{
	json_t *log = log_entries(&e->f);
	char target[64];
	size_t n = 0;

	snprintf(target, sizeof(target), "DynamoDB_20120810.%s", op);
	while (want[n])
		n++;
	CHECK_INT(json_array_size(log), n);
	for (size_t i = 0; i < n && i < json_array_size(log); i++) {
		CHECK_STR(entry_header(log, i, "x-amz-target"), target);
		CHECK_STR(entry_text(log, i), want[i]);
	}
	json_decref(log);
}

/* Items handed to an ddb_item_fn, by the value of their "k" (a string). */
struct keys_seen {
	char text[256]; /* "a,b,c" */
	int stop_at;	/* fail with -EFBIG at this item (from 1), or 0 */
	int n;
};

static int note_key(json_t *item, void *arg)
{
	struct keys_seen *k = arg;
	const char *v =
	    json_string_value(json_object_get(json_object_get(item, "k"), "S"));
	size_t used = strlen(k->text);

	snprintf(k->text + used, sizeof(k->text) - used, "%s%s",
		 used ? "," : "", v ? v : "?");
	return ++k->n == k->stop_at ? -EFBIG : 0;
}

static int note_key_raw(const char *json, size_t len, void *arg)
{
	json_t *item = json_loadb(json, len, JSON_ALLOW_NUL, NULL);
	int rc = item ? note_key(item, arg) : -EPROTO;

	json_decref(item);
	return rc;
}

/* One page request and the exact body it sends (fs.c's bodies). */
static const struct page_row {
	const char *name;
	bool query;
	const char *table, *hash, *range, *value, *start;
	enum ddb_read read;
	int limit;
	bool consistent;
	unsigned segment, total;
	int rc;
	const char *body; /* NULL: nothing sent */
} page_rows[] = {
    {"listing of a partition", true, "Devices", "device_id", NULL,
     "{\"S\": \"10001\"}", NULL, DDB_READ_ITEMS, 0, false, 0, 0, 0,
     "{\"TableName\":\"Devices\",\"KeyConditionExpression\":\"#h = :h\","
     "\"ExpressionAttributeNames\":{\"#h\":\"device_id\"},"
     "\"ExpressionAttributeValues\":{\":h\":{\"S\":\"10001\"}}}"},
    {"listing of a partition, consistent, next page", true, "Devices",
     "device_id", "datacount", "{\"S\": \"10001\"}",
     "{\"device_id\": {\"S\": \"10001\"}, \"datacount\": {\"N\": \"2\"}}",
     DDB_READ_ITEMS, 0, true, 0, 0, 0,
     "{\"TableName\":\"Devices\",\"ConsistentRead\":true,"
     "\"ExclusiveStartKey\":{\"device_id\":{\"S\":\"10001\"},"
     "\"datacount\":{\"N\":\"2\"}},\"KeyConditionExpression\":\"#h = :h\","
     "\"ExpressionAttributeNames\":{\"#h\":\"device_id\"},"
     "\"ExpressionAttributeValues\":{\":h\":{\"S\":\"10001\"}}}"},
    {"sort keys of a partition (renewal)", true, "T", "pk", "sk",
     "{\"N\": \"7\"}", NULL, DDB_READ_RANGE_KEY, 0, false, 0, 0, 0,
     "{\"TableName\":\"T\",\"KeyConditionExpression\":\"#h = :h\","
     "\"ProjectionExpression\":\"#r\",\"ExpressionAttributeNames\":"
     "{\"#h\":\"pk\",\"#r\":\"sk\"},\"ExpressionAttributeValues\":"
     "{\":h\":{\"N\":\"7\"}}}"},
    {"partition keys of a partition", true, "T", "pk", NULL,
     "{\"B\": \"AA==\"}", NULL, DDB_READ_HASH_KEY, 0, false, 0, 0, 0,
     "{\"TableName\":\"T\",\"KeyConditionExpression\":\"#h = :h\","
     "\"ProjectionExpression\":\"#h\",\"ExpressionAttributeNames\":"
     "{\"#h\":\"pk\"},\"ExpressionAttributeValues\":{\":h\":{\"B\":"
     "\"AA==\"}}}"},
    {"a partition has items (rmdir)", true, "T", "pk", NULL, "{\"S\": \"p\"}",
     NULL, DDB_READ_ITEMS, 1, true, 0, 0, 0,
     "{\"TableName\":\"T\",\"Limit\":1,\"ConsistentRead\":true,"
     "\"KeyConditionExpression\":\"#h = :h\",\"ExpressionAttributeNames\":"
     "{\"#h\":\"pk\"},\"ExpressionAttributeValues\":{\":h\":{\"S\":"
     "\"p\"}}}"},
    {"Query without a partition value", true, "T", "pk", NULL, NULL, NULL,
     DDB_READ_ITEMS, 0, false, 0, 0, -EINVAL, NULL},
    {"Query of sort keys without the sort key", true, "T", "pk", NULL,
     "{\"S\": \"p\"}", NULL, DDB_READ_RANGE_KEY, 0, false, 0, 0, -EINVAL, NULL},
    {"Query without a table", true, NULL, "pk", NULL, "{\"S\": \"p\"}", NULL,
     DDB_READ_ITEMS, 0, false, 0, 0, -EINVAL, NULL},
    {"listing of a table", false, "T", "pk", NULL, NULL, NULL, DDB_READ_ITEMS,
     0, false, 0, 0, 0, "{\"TableName\":\"T\"}"},
    {"listing of a table, consistent, next page", false, "T", "pk", NULL, NULL,
     "{\"pk\": {\"S\": \"a\"}}", DDB_READ_ITEMS, 0, true, 0, 0, 0,
     "{\"TableName\":\"T\",\"ConsistentRead\":true,\"ExclusiveStartKey\":"
     "{\"pk\":{\"S\":\"a\"}}}"},
    {"partitions of a table, key only", false, "T", "pk", NULL, NULL, NULL,
     DDB_READ_HASH_KEY, 0, false, 0, 0, 0,
     "{\"TableName\":\"T\",\"ProjectionExpression\":\"#h\","
     "\"ExpressionAttributeNames\":{\"#h\":\"pk\"}}"},
    {"partitions, key only, next page", false, "T", "pk", NULL, NULL,
     "{\"pk\": {\"S\": \"a\"}, \"sk\": {\"N\": \"1\"}}", DDB_READ_HASH_KEY, 0,
     false, 0, 0, 0,
     "{\"TableName\":\"T\",\"ExclusiveStartKey\":{\"pk\":{\"S\":\"a\"},"
     "\"sk\":{\"N\":\"1\"}},\"ProjectionExpression\":\"#h\","
     "\"ExpressionAttributeNames\":{\"#h\":\"pk\"}}"},
    {"a table has items (rmdir)", false, "T", NULL, NULL, NULL, NULL,
     DDB_READ_ITEMS, 1, true, 0, 0, 0,
     "{\"TableName\":\"T\",\"Limit\":1,\"ConsistentRead\":true}"},
    {"one segment of four", false, "T", "pk", NULL, NULL, NULL,
     DDB_READ_HASH_KEY, 0, false, 2, 4, 0,
     "{\"TableName\":\"T\",\"ProjectionExpression\":\"#h\","
     "\"ExpressionAttributeNames\":{\"#h\":\"pk\"},\"Segment\":2,"
     "\"TotalSegments\":4}"},
    {"total 1: no segment members", false, "T", NULL, NULL, NULL, NULL,
     DDB_READ_ITEMS, 0, false, 0, 1, 0, "{\"TableName\":\"T\"}"},
    {"segment past the total", false, "T", NULL, NULL, NULL, NULL,
     DDB_READ_ITEMS, 0, false, 4, 4, -EINVAL, NULL},
    {"more segments than DynamoDB takes", false, "T", NULL, NULL, NULL, NULL,
     DDB_READ_ITEMS, 0, false, 0, 1000001, -EINVAL, NULL},
    {"Scan of sort keys", false, "T", "pk", "sk", NULL, NULL,
     DDB_READ_RANGE_KEY, 0, false, 0, 0, -EINVAL, NULL},
    {"Scan of keys without the key", false, "T", NULL, NULL, NULL, NULL,
     DDB_READ_HASH_KEY, 0, false, 0, 0, -EINVAL, NULL},
};

static void test_page_requests(void)
{
	for (size_t i = 0; i < sizeof(page_rows) / sizeof(page_rows[0]); i++) {
		const struct page_row *row = &page_rows[i];
		json_t *value = row->value ? J(row->value) : NULL;
		json_t *start = row->start ? J(row->start) : NULL, *last = NULL;
		struct ddb_page_req r = {.table = row->table,
					 .hash_name = row->hash,
					 .range_name = row->range,
					 .hash_value = value,
					 .read = row->read,
					 .start = start,
					 .limit = row->limit,
					 .consistent = row->consistent};
		const char *want[] = {row->body, NULL};
		struct keys_seen seen = {0};
		struct ddb_error err;
		char *body = NULL;
		size_t len = 0;
		int bad = tap_failed_checks, rc;
		struct env e;

		CHECK_INT(env_start(&e,
				    "[{\"body\": {\"Items\": [{\"k\": {\"S\":"
				    " \"a\"}}, {\"k\": {\"S\": \"b\"}}],"
				    " \"Count\": 2, \"LastEvaluatedKey\":"
				    " {\"k\": {\"S\": \"b\"}}}}]",
				    10),
			  0);
		rc = row->query ? ddb_query_page(e.ddb, &r, &body, &len, &err)
				: ddb_scan_page(e.ddb, &r, row->segment,
						row->total, &body, &len, &err);
		CHECK_INT(rc, row->rc);
		check_bodies(&e, row->query ? "Query" : "Scan", want);
		if (!rc) {
			CHECK_INT(
			    ddb_page_read(body, len, note_key, &seen, &last),
			    0);
			CHECK_STR(seen.text, "a,b");
			CHECK_STR(json_string_value(json_object_get(
				      json_object_get(last, "k"), "S")),
				  "b");
		} else {
			CHECK(body == NULL && len == 0);
		}
		if (tap_failed_checks != bad)
			printf("# in row: %s\n", row->name);
		json_decref(last);
		free(body);
		env_stop(&e);
		json_decref(value);
		json_decref(start);
	}
}

/* ddb_page_read: the items, and the LastEvaluatedKey only when it leads
 * somewhere. */
static const struct {
	const char *name, *body;
	int stop_at;
	int rc;
	const char *keys, *last;
} page_read_rows[] = {
    {"last page", "{\"Items\": [{\"k\": {\"S\": \"a\"}}], \"Count\": 1}", 0, 0,
     "a", NULL},
    {"a next page",
     "{\"Items\": [], \"LastEvaluatedKey\": {\"k\": {\"S\":"
     " \"z\"}}}",
     0, 0, "", "z"},
    {"an empty LastEvaluatedKey ends",
     "{\"Items\": [{\"k\": {\"S\":"
     " \"a\"}}], \"LastEvaluatedKey\": {}}",
     0, 0, "a", NULL},
    {"a LastEvaluatedKey that is no object ends",
     "{\"LastEvaluatedKey\": \"x\", \"Items\": []}", 0, 0, "", NULL},
    {"no Items at all", "{\"Count\": 0}", 0, 0, "", NULL},
    {"fn stops at the second item",
     "{\"Items\": [{\"k\": {\"S\": \"a\"}}, {\"k\": {\"S\": \"b\"}},"
     " {\"k\": {\"S\": \"c\"}}], \"LastEvaluatedKey\": {\"k\": {\"S\":"
     " \"c\"}}}",
     2, -EFBIG, "a,b", NULL},
    {"malformed after an item", "{\"Items\": [{\"k\": {\"S\": \"a\"}}", 0,
     -EBADMSG, "a", NULL},
    {"not an object", "[]", 0, -EBADMSG, "", NULL},
};

static void test_page_read(void)
{
	for (size_t i = 0;
	     i < sizeof(page_read_rows) / sizeof(page_read_rows[0]); i++) {
		struct keys_seen seen = {.stop_at = page_read_rows[i].stop_at};
		json_t *last = (json_t *)1;
		int bad = tap_failed_checks;

		CHECK_INT(ddb_page_read(page_read_rows[i].body,
					strlen(page_read_rows[i].body),
					note_key, &seen, &last),
			  page_read_rows[i].rc);
		CHECK_STR(seen.text, page_read_rows[i].keys);
		if (page_read_rows[i].last)
			CHECK_STR(json_string_value(json_object_get(
				      json_object_get(last, "k"), "S")),
				  page_read_rows[i].last);
		else
			CHECK(last == NULL);
		json_decref(last);
		/* The items as bytes: the same keys, return and *last. */
		seen = (struct keys_seen){.stop_at = page_read_rows[i].stop_at};
		last = (json_t *)1;
		CHECK_INT(ddb_page_read_raw(page_read_rows[i].body,
					    strlen(page_read_rows[i].body),
					    note_key_raw, &seen, &last),
			  page_read_rows[i].rc);
		CHECK_STR(seen.text, page_read_rows[i].keys);
		if (page_read_rows[i].last)
			CHECK_STR(json_string_value(json_object_get(
				      json_object_get(last, "k"), "S")),
				  page_read_rows[i].last);
		else
			CHECK(last == NULL);
		json_decref(last);
		if (tap_failed_checks != bad)
			printf("# in row: %s\n", page_read_rows[i].name);
	}
}

/* Three pages of one partition, the middle one empty. */
static const char *query_pages_script =
    "[{\"match_body\": \"\\\"ExclusiveStartKey\\\":{\\\"k\\\":{\\\"S\\\":"
    "\\\"2\\\"}}\", \"body\": {\"Items\": [{\"k\": {\"S\": \"3\"}}],"
    " \"Count\": 1}},"
    " {\"match_body\": \"\\\"ExclusiveStartKey\\\":{\\\"k\\\":{\\\"S\\\":"
    "\\\"1\\\"}}\", \"body\": {\"Items\": [],"
    " \"LastEvaluatedKey\": {\"k\": {\"S\": \"2\"}}}},"
    " {\"body\": {\"Items\": [{\"k\": {\"S\": \"0\"}}, {\"k\": {\"S\": "
    "\"1\"}}],"
    " \"LastEvaluatedKey\": {\"k\": {\"S\": \"1\"}}}}]";

static void test_query_each(void)
{
	static const char *const want[] = {
	    "{\"TableName\":\"T\",\"KeyConditionExpression\":\"#h = :h\","
	    "\"ProjectionExpression\":\"#r\",\"ExpressionAttributeNames\":"
	    "{\"#h\":\"pk\",\"#r\":\"k\"},\"ExpressionAttributeValues\":"
	    "{\":h\":{\"S\":\"x\"}}}",
	    "{\"TableName\":\"T\",\"ExclusiveStartKey\":{\"k\":{\"S\":\"1\"}},"
	    "\"KeyConditionExpression\":\"#h = :h\",\"ProjectionExpression\":"
	    "\"#r\",\"ExpressionAttributeNames\":{\"#h\":\"pk\",\"#r\":\"k\"},"
	    "\"ExpressionAttributeValues\":{\":h\":{\"S\":\"x\"}}}",
	    "{\"TableName\":\"T\",\"ExclusiveStartKey\":{\"k\":{\"S\":\"2\"}},"
	    "\"KeyConditionExpression\":\"#h = :h\",\"ProjectionExpression\":"
	    "\"#r\",\"ExpressionAttributeNames\":{\"#h\":\"pk\",\"#r\":\"k\"},"
	    "\"ExpressionAttributeValues\":{\":h\":{\"S\":\"x\"}}}",
	    NULL};
	json_t *value = J("{\"S\": \"x\"}");
	struct ddb_page_req r = {.table = "T",
				 .hash_name = "pk",
				 .range_name = "k",
				 .hash_value = value,
				 .read = DDB_READ_RANGE_KEY};
	struct keys_seen seen = {0};
	struct ddb_error err;
	struct env e;

	CHECK_INT(env_start(&e, query_pages_script, 10), 0);
	CHECK_INT(ddb_query_each(e.ddb, &r, note_key, &seen, &err), 0);
	CHECK_STR(seen.text, "0,1,3");
	check_bodies(&e, "Query", want);
	env_stop(&e);

	/* fn fails: its error, after the page it failed in. */
	memset(&seen, 0, sizeof(seen));
	seen.stop_at = 2;
	CHECK_INT(env_start(&e, query_pages_script, 10), 0);
	CHECK_INT(ddb_query_each(e.ddb, &r, note_key, &seen, &err), -EFBIG);
	CHECK_INT(fakehttp_count(&e.f), 1);
	env_stop(&e);

	/* The server fails: its errno and err. */
	CHECK_INT(
	    env_start(&e,
		      "[{\"status\": 400, \"body\": {\"__type\": \"" TYPE_PREFIX
		      "ResourceNotFoundException\", \"message\":"
		      " \"gone\"}}]",
		      10),
	    0);
	CHECK_INT(ddb_query_each(e.ddb, &r, note_key, &seen, &err), -ENOENT);
	CHECK_STR(err.code, "ResourceNotFoundException");
	env_stop(&e);

	/* A malformed page (with a good checksum) is -EIO. */
	CHECK_INT(env_start(&e,
			    "[{\"crc32\": \"good\", \"body\": \"{\\\"Items\\\":"
			    " [1]}\"}]",
			    10),
		  0);
	CHECK_INT(ddb_query_each(e.ddb, &r, note_key, &seen, &err), -EIO);
	env_stop(&e);

	CHECK_INT(ddb_query_each(NULL, NULL, note_key, &seen, &err), -EINVAL);
	json_decref(value);
}

/* ddb_has_items: the answers, the requests, and what it says. */
static const struct {
	const char *name;
	bool query;
	const char *script;
	int rc;
	bool any;
	const char *bodies[3];
} has_items_rows[] = {
    {"an item on the first page",
     true,
     "[{\"body\": {\"Items\": [{\"k\": {\"S\": \"a\"}}],"
     " \"LastEvaluatedKey\": {\"k\": {\"S\": \"a\"}}}}]",
     0,
     true,
     {"{\"TableName\":\"T\",\"Limit\":1,\"ConsistentRead\":true,"
      "\"KeyConditionExpression\":\"#h = :h\",\"ExpressionAttributeNames\":"
      "{\"#h\":\"pk\"},\"ExpressionAttributeValues\":{\":h\":{\"S\":"
      "\"p\"}}}"}},
    {"an empty page, then an item",
     true,
     "[{\"match_body\": \"ExclusiveStartKey\", \"body\": {\"Items\":"
     " [{\"k\": {\"S\": \"b\"}}]}},"
     " {\"body\": {\"Items\": [], \"LastEvaluatedKey\": {\"k\": {\"S\":"
     " \"a\"}}}}]",
     0,
     true,
     {"{\"TableName\":\"T\",\"Limit\":1,\"ConsistentRead\":true,"
      "\"KeyConditionExpression\":\"#h = :h\",\"ExpressionAttributeNames\":"
      "{\"#h\":\"pk\"},\"ExpressionAttributeValues\":{\":h\":{\"S\":"
      "\"p\"}}}",
      "{\"TableName\":\"T\",\"Limit\":1,\"ConsistentRead\":true,"
      "\"ExclusiveStartKey\":{\"k\":{\"S\":\"a\"}},"
      "\"KeyConditionExpression\":\"#h = :h\",\"ExpressionAttributeNames\":"
      "{\"#h\":\"pk\"},\"ExpressionAttributeValues\":{\":h\":{\"S\":"
      "\"p\"}}}"}},
    {"an empty table",
     false,
     "[{\"body\": {\"Items\": [], \"Count\": 0}}]",
     0,
     false,
     {"{\"TableName\":\"T\",\"Limit\":1,\"ConsistentRead\":true}"}},
    {"an empty page, then the end",
     false,
     "[{\"match_body\": \"ExclusiveStartKey\", \"body\": {\"Items\": []}},"
     " {\"body\": {\"Items\": [], \"LastEvaluatedKey\": {\"k\": {\"S\":"
     " \"a\"}}}}]",
     0,
     false,
     {"{\"TableName\":\"T\",\"Limit\":1,\"ConsistentRead\":true}",
      "{\"TableName\":\"T\",\"Limit\":1,\"ConsistentRead\":true,"
      "\"ExclusiveStartKey\":{\"k\":{\"S\":\"a\"}}}"}},
    {"no such table",
     false,
     "[{\"status\": 400, \"body\": {\"__type\": \"" TYPE_PREFIX
     "ResourceNotFoundException\"}}]",
     -ENOENT,
     false,
     {"{\"TableName\":\"T\",\"Limit\":1,\"ConsistentRead\":true}"}},
};

static void test_has_items(void)
{
	json_t *value = J("{\"S\": \"p\"}");

	for (size_t i = 0;
	     i < sizeof(has_items_rows) / sizeof(has_items_rows[0]); i++) {
		/* read and limit are the call's own, whatever r says. */
		struct ddb_page_req r = {
		    .table = "T",
		    .hash_name = "pk",
		    .hash_value = has_items_rows[i].query ? value : NULL,
		    .read = DDB_READ_HASH_KEY,
		    .limit = 7};
		struct ddb_error err;
		bool any = !has_items_rows[i].any;
		int bad = tap_failed_checks;
		struct env e;

		CHECK_INT(env_start(&e, has_items_rows[i].script, 0), 0);
		CHECK_INT(ddb_has_items(e.ddb, &r, &any, &err),
			  has_items_rows[i].rc);
		CHECK(any == has_items_rows[i].any);
		check_bodies(&e, has_items_rows[i].query ? "Query" : "Scan",
			     has_items_rows[i].bodies);
		if (tap_failed_checks != bad)
			printf("# in row: %s\n", has_items_rows[i].name);
		env_stop(&e);
	}
	json_decref(value);
}

/* Three segments: 0 has two pages, 1 one, 2 three. The rules with a
 * start key come first, as fakehttp takes the first that matches. */
#define SEG(s) "\\\"Segment\\\":" #s ",\\\"TotalSegments\\\":3"
#define ESK(k) "\\\"ExclusiveStartKey\\\":{\\\"k\\\":{\\\"S\\\":\\\"" k "\\\"}}"
static const char *cursor_script = "[{\"match_body\": \"" ESK(
    "s0") "\", \"body\": {\"Items\":"
	  " [{\"k\": {\"S\": \"0b\"}}]}},"
	  " {\"match_body\": \"" ESK(
	      "s2") "\", \"body\": {\"Items\":"
		    " [{\"k\": {\"S\": \"2b\"}}], \"LastEvaluatedKey\": {\"k\": {\"S\":"
		    " \"s2b\"}}}},"
		    " {\"match_body\": \"" ESK(
			"s2b") "\", \"body\": {\"Items\": []}},"
			       " {\"match_body\": \"" SEG(
				   0) "\", \"body\": {\"Items\": [{\"k\": {\"S\":"
				      " \"0a\"}}], \"LastEvaluatedKey\": {\"k\": {\"S\": \"s0\"}}}},"
				      " {\"match_body\": \"" SEG(
					  1) "\", \"body\": {\"Items\": [{\"k\": {\"S\":"
					     " \"1a\"}}, {\"k\": {\"S\": \"1b\"}}]}},"
					     " {\"match_body\": \"" SEG(
						 2) "\", \"body\": {\"Items\": [{\"k\": {\"S\":"
						    " \"2a\"}}], \"LastEvaluatedKey\": {\"k\": {\"S\": \"s2\"}}}}]";

static void test_scan_cursor(void)
{
	static const char *const want[] = {
	    "{\"TableName\":\"T\",\"ConsistentRead\":true,\"Segment\":0,"
	    "\"TotalSegments\":3}",
	    "{\"TableName\":\"T\",\"ConsistentRead\":true,\"Segment\":1,"
	    "\"TotalSegments\":3}",
	    "{\"TableName\":\"T\",\"ConsistentRead\":true,\"Segment\":2,"
	    "\"TotalSegments\":3}",
	    /* The reader asks for keys only from here on. */
	    "{\"TableName\":\"T\",\"ConsistentRead\":true,\"ExclusiveStartKey\":"
	    "{\"k\":{\"S\":\"s0\"}},\"ProjectionExpression\":\"#h\","
	    "\"ExpressionAttributeNames\":{\"#h\":\"pk\"},\"Segment\":0,"
	    "\"TotalSegments\":3}",
	    "{\"TableName\":\"T\",\"ConsistentRead\":true,\"ExclusiveStartKey\":"
	    "{\"k\":{\"S\":\"s2\"}},\"ProjectionExpression\":\"#h\","
	    "\"ExpressionAttributeNames\":{\"#h\":\"pk\"},\"Segment\":2,"
	    "\"TotalSegments\":3}",
	    "{\"TableName\":\"T\",\"ConsistentRead\":true,\"ExclusiveStartKey\":"
	    "{\"k\":{\"S\":\"s2b\"}},\"ProjectionExpression\":\"#h\","
	    "\"ExpressionAttributeNames\":{\"#h\":\"pk\"},\"Segment\":2,"
	    "\"TotalSegments\":3}",
	    NULL};
	/* After each page: the items so far, the requests so far. */
	static const struct {
		const char *keys;
		int requests;
		bool done;
	} steps[] = {
	    {"0a", 1, false},
	    {"0a,1a,1b", 2, false},
	    {"0a,1a,1b,2a", 3, false},
	    {"0a,1a,1b,2a,0b", 4, false},
	    {"0a,1a,1b,2a,0b,2b", 5, false},
	    {"0a,1a,1b,2a,0b,2b", 6, true},
	    {"0a,1a,1b,2a,0b,2b", 6, true},
	};
	struct ddb_page_req r = {
	    .table = "T", .hash_name = "pk", .consistent = true};
	struct ddb_scan_cursor *cur = NULL;
	struct keys_seen seen = {0};
	struct ddb_error err;
	struct env e;

	CHECK_INT(env_start(&e, cursor_script, 10), 0);
	CHECK_INT(ddb_scan_cursor_open(e.ddb, &r, 3, &cur), 0);
	/* Opening sends nothing; the cursor keeps no pointer into r. */
	CHECK_INT(fakehttp_count(&e.f), 0);
	r.table = "Other";
	for (size_t i = 0; cur && i < sizeof(steps) / sizeof(steps[0]); i++) {
		/* The last step: a done cursor sends nothing. */
		CHECK(ddb_scan_cursor_done(cur) == (i == 6));
		if (i == 3)
			CHECK_INT(
			    ddb_scan_cursor_set_read(cur, DDB_READ_HASH_KEY),
			    0);
		/* Every other page as bytes: the same pages either way. */
		CHECK_INT(
		    i % 2 ? ddb_scan_cursor_next_raw(cur, note_key_raw, &seen,
						     &err)
			  : ddb_scan_cursor_next(cur, note_key, &seen, &err),
		    0);
		CHECK_STR(seen.text, steps[i].keys);
		CHECK_INT(fakehttp_count(&e.f), steps[i].requests);
		CHECK(ddb_scan_cursor_done(cur) == steps[i].done);
		if (tap_failed_checks)
			printf("# after page %zu\n", i + 1);
	}
	check_bodies(&e, "Scan", want);
	CHECK_INT(ddb_scan_cursor_set_read(cur, DDB_READ_RANGE_KEY), -EINVAL);
	ddb_scan_cursor_close(cur);
	env_stop(&e);
}

static void test_scan_cursor_one_segment(void)
{
	static const char *const want[] = {
	    "{\"TableName\":\"T\",\"ExclusiveStartKey\":{\"k\":{\"S\":\"0\"}},"
	    "\"ProjectionExpression\":\"#h\",\"ExpressionAttributeNames\":"
	    "{\"#h\":\"pk\"}}",
	    "{\"TableName\":\"T\",\"ExclusiveStartKey\":{\"k\":{\"S\":\"1\"}},"
	    "\"ProjectionExpression\":\"#h\",\"ExpressionAttributeNames\":"
	    "{\"#h\":\"pk\"}}",
	    "{\"TableName\":\"T\",\"ExclusiveStartKey\":{\"k\":{\"S\":\"2\"}},"
	    "\"ProjectionExpression\":\"#h\",\"ExpressionAttributeNames\":"
	    "{\"#h\":\"pk\"}}",
	    NULL};
	json_t *start = J("{\"k\": {\"S\": \"0\"}}");
	struct ddb_page_req r = {.table = "T",
				 .hash_name = "pk",
				 .read = DDB_READ_HASH_KEY,
				 .start = start};
	struct ddb_scan_cursor *cur = NULL;
	struct keys_seen seen = {0};
	struct ddb_error err;
	struct env e;
	int pages = 0;

	/* A plain Scan that goes on from a key (no Segment members), three
	 * pages with 1 as the middle's LastEvaluatedKey: test_query_each's
	 * script read as a Scan. */
	CHECK_INT(
	    env_start(
		&e,
		"[{\"match_body\": \"" ESK(
		    "2") "\", \"body\":"
			 " {\"Items\": [{\"k\": {\"S\": \"3\"}}]}},"
			 " {\"match_body\": \"" ESK(
			     "1") "\", \"body\":"
				  " {\"Items\": [], \"LastEvaluatedKey\": {\"k\":"
				  " {\"S\": \"2\"}}}},"
				  " {\"times\": 1, \"status\": 500, \"body\": {}},"
				  " {\"body\": {\"Items\": [{\"k\": {\"S\": \"1\"}}],"
				  " \"LastEvaluatedKey\": {\"k\": {\"S\": \"1\"}}}}]",
		0),
	    0);
	CHECK_INT(ddb_scan_cursor_open(e.ddb, &r, 0, &cur), 0);
	/* The first attempt fails (no retries): the cursor stays. */
	CHECK_INT(ddb_scan_cursor_next(cur, note_key, &seen, &err), -EIO);
	CHECK_INT(err.http_status, 500);
	while (cur && !ddb_scan_cursor_done(cur) && pages < 10) {
		CHECK_INT(ddb_scan_cursor_next(cur, note_key, &seen, &err), 0);
		pages++;
	}
	CHECK_INT(pages, 3);
	CHECK_STR(seen.text, "1,3");
	{
		json_t *log = log_entries(&e.f);

		/* The failed request and its repeat are the same. */
		CHECK_INT(json_array_size(log), 4);
		CHECK_STR(entry_text(log, 0), want[0]);
		json_array_remove(log, 0);
		for (size_t i = 0; i < 3 && i < json_array_size(log); i++)
			CHECK_STR(entry_text(log, i), want[i]);
		json_decref(log);
	}
	ddb_scan_cursor_close(cur);
	env_stop(&e);
	json_decref(start);
}

static void test_scan_cursor_arguments(void)
{
	json_t *start = J("{\"k\": {\"S\": \"0\"}}");
	struct ddb_page_req r = {.table = "T"};
	struct ddb_scan_cursor *cur = (struct ddb_scan_cursor *)1;
	struct keys_seen seen = {0};
	struct env e;

	/* Checked before anything is sent: no server needed. */
	CHECK_INT(env_start_url(&e, NULL, "http://127.0.0.1:9", 0), 0);
	CHECK_INT(ddb_scan_cursor_open(e.ddb, &r, 1000001, &cur), -EINVAL);
	CHECK(cur == NULL);
	r.read = DDB_READ_RANGE_KEY;
	CHECK_INT(ddb_scan_cursor_open(e.ddb, &r, 2, &cur), -EINVAL);
	r.read = DDB_READ_HASH_KEY;
	CHECK_INT(ddb_scan_cursor_open(e.ddb, &r, 2, &cur), -EINVAL);
	r.read = DDB_READ_ITEMS;
	r.start = start;
	CHECK_INT(ddb_scan_cursor_open(e.ddb, &r, 2, &cur), -EINVAL);
	r.start = NULL;
	r.table = NULL;
	CHECK_INT(ddb_scan_cursor_open(e.ddb, &r, 1, &cur), -EINVAL);
	r.table = "T";
	CHECK_INT(ddb_scan_cursor_open(NULL, &r, 1, &cur), -EINVAL);
	CHECK_INT(ddb_scan_cursor_open(e.ddb, &r, 1000000, &cur), 0);
	/* Without the partition key's name, keys only cannot be asked. */
	CHECK_INT(ddb_scan_cursor_set_read(cur, DDB_READ_HASH_KEY), -EINVAL);
	CHECK_INT(ddb_scan_cursor_next(cur, NULL, &seen, NULL), -EINVAL);
	CHECK_INT(ddb_scan_cursor_next_raw(cur, NULL, &seen, NULL), -EINVAL);
	ddb_scan_cursor_close(cur);
	ddb_scan_cursor_close(NULL);
	CHECK(ddb_scan_cursor_done(NULL));
	env_stop(&e);
	json_decref(start);
}

/* ddb_table_keys over DescribeTable answers. */
static const struct {
	const char *name, *desc;
	int rc;
	const char *hash, *range;
	char htype, rtype;
	unsigned long long size;
} table_keys_rows[] = {
    {"partition and sort key",
     "{\"TableName\": \"Devices\", \"TableSizeBytes\": 1234,"
     " \"KeySchema\": [{\"AttributeName\": \"device_id\", \"KeyType\":"
     " \"HASH\"}, {\"AttributeName\": \"datacount\", \"KeyType\":"
     " \"RANGE\"}], \"AttributeDefinitions\": [{\"AttributeName\":"
     " \"datacount\", \"AttributeType\": \"N\"}, {\"AttributeName\":"
     " \"device_id\", \"AttributeType\": \"S\"}]}",
     0, "device_id", "datacount", 'S', 'N', 1234},
    {"sort key first, binary partition key",
     "{\"KeySchema\": [{\"AttributeName\": \"r\", \"KeyType\": \"RANGE\"},"
     " {\"AttributeName\": \"h\", \"KeyType\": \"HASH\"}],"
     " \"AttributeDefinitions\": [{\"AttributeName\": \"h\","
     " \"AttributeType\": \"B\"}, {\"AttributeName\": \"r\","
     " \"AttributeType\": \"S\"}]}",
     0, "h", "r", 'B', 'S', 0},
    {"no definition: S",
     "{\"KeySchema\": [{\"AttributeName\": \"h\", \"KeyType\": \"HASH\"}]}", 0,
     "h", NULL, 'S', 0, 0},
    {"an entry without a name is skipped",
     "{\"KeySchema\": [{\"KeyType\": \"HASH\"}, {\"AttributeName\": \"h\","
     " \"KeyType\": \"HASH\"}], \"AttributeDefinitions\":"
     " [{\"AttributeName\": \"h\", \"AttributeType\": \"N\"}]}",
     0, "h", NULL, 'N', 0, 0},
    {"no partition key",
     "{\"KeySchema\": [{\"AttributeName\": \"r\","
     " \"KeyType\": \"RANGE\"}]}",
     -EBADMSG, NULL, NULL, 0, 0, 0},
    {"no key schema", "{\"TableName\": \"T\"}", -EBADMSG, NULL, NULL, 0, 0, 0},
};

static void test_table_keys(void)
{
	for (size_t i = 0;
	     i < sizeof(table_keys_rows) / sizeof(table_keys_rows[0]); i++) {
		json_t *desc = J(table_keys_rows[i].desc);
		struct ddb_key_schema k;
		uint64_t size = 99;
		int bad = tap_failed_checks;

		CHECK_INT(ddb_table_keys(desc, &k, &size),
			  table_keys_rows[i].rc);
		if (table_keys_rows[i].hash)
			CHECK_STR(k.hash_name, table_keys_rows[i].hash);
		else
			CHECK(k.hash_name == NULL);
		if (table_keys_rows[i].range)
			CHECK_STR(k.range_name, table_keys_rows[i].range);
		else
			CHECK(k.range_name == NULL);
		CHECK_INT(k.hash_type, table_keys_rows[i].htype);
		CHECK_INT(k.range_type, table_keys_rows[i].rtype);
		CHECK_INT(size, table_keys_rows[i].size);
		if (tap_failed_checks != bad)
			printf("# in row: %s\n", table_keys_rows[i].name);
		json_decref(desc);
	}
}

/* ddb_create_table_keys: the body, the wait, the errors. */
static const struct {
	const char *name;
	struct ddb_key_schema keys;
	const char *script;
	int rc;
	int requests;
	const char *body;
} create_rows[] = {
    {"partition key only",
     {"id", NULL, 'S', 0},
     "[{\"body\": {\"TableDescription\": {\"TableStatus\": \"ACTIVE\"}}}]",
     0,
     1,
     "{\"TableName\":\"New\",\"AttributeDefinitions\":[{\"AttributeName\":"
     "\"id\",\"AttributeType\":\"S\"}],\"KeySchema\":[{\"AttributeName\":"
     "\"id\",\"KeyType\":\"HASH\"}],\"BillingMode\":\"PAY_PER_REQUEST\"}"},
    {"both keys, waits for ACTIVE",
     {"device_id", "datacount", 'B', 'N'},
     "[{\"match_header\": {\"x-amz-target\":"
     " \"DynamoDB_20120810.CreateTable\"}, \"body\": {\"TableDescription\":"
     " {\"TableStatus\": \"CREATING\"}}},"
     " {\"body\": {\"Table\": {\"TableStatus\": \"ACTIVE\"}}}]",
     0,
     2,
     "{\"TableName\":\"New\",\"AttributeDefinitions\":[{\"AttributeName\":"
     "\"device_id\",\"AttributeType\":\"B\"},{\"AttributeName\":"
     "\"datacount\",\"AttributeType\":\"N\"}],\"KeySchema\":"
     "[{\"AttributeName\":\"device_id\",\"KeyType\":\"HASH\"},"
     "{\"AttributeName\":\"datacount\",\"KeyType\":\"RANGE\"}],"
     "\"BillingMode\":\"PAY_PER_REQUEST\"}"},
    {"the table exists",
     {"id", NULL, 'N', 0},
     "[{\"status\": 400, \"body\": {\"__type\": \"" TYPE_PREFIX
     "ResourceInUseException\", \"message\": \"Table already exists\"}}]",
     -EEXIST,
     1,
     "{\"TableName\":\"New\",\"AttributeDefinitions\":[{\"AttributeName\":"
     "\"id\",\"AttributeType\":\"N\"}],\"KeySchema\":[{\"AttributeName\":"
     "\"id\",\"KeyType\":\"HASH\"}],\"BillingMode\":\"PAY_PER_REQUEST\"}"},
    {"a bad type", {"id", NULL, 'X', 0}, "[]", -EINVAL, 0, NULL},
    {"a bad sort key type", {"id", "r", 'S', 0}, "[]", -EINVAL, 0, NULL},
    {"no partition key", {NULL, NULL, 'S', 0}, "[]", -EINVAL, 0, NULL},
};

static void test_create_table_keys(void)
{
	for (size_t i = 0; i < sizeof(create_rows) / sizeof(create_rows[0]);
	     i++) {
		struct ddb_error err;
		int bad = tap_failed_checks;
		struct env e;
		json_t *log;

		CHECK_INT(env_start(&e, create_rows[i].script, 10), 0);
		CHECK_INT(ddb_create_table_keys(e.ddb, "New",
						&create_rows[i].keys, &err),
			  create_rows[i].rc);
		log = log_entries(&e.f);
		CHECK_INT(json_array_size(log), create_rows[i].requests);
		if (create_rows[i].body) {
			CHECK_STR(entry_header(log, 0, "x-amz-target"),
				  "DynamoDB_20120810.CreateTable");
			CHECK_STR(entry_text(log, 0), create_rows[i].body);
		}
		if (create_rows[i].requests == 2)
			CHECK_STR(entry_text(log, 1),
				  "{\"TableName\":\"New\"}");
		if (tap_failed_checks != bad)
			printf("# in row: %s\n", create_rows[i].name);
		json_decref(log);
		env_stop(&e);
	}
}

static void test_put_new(void)
{
	static const char *const want[] = {
	    "{\"TableName\":\"T\",\"Item\":{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":"
	    "\"1\"}},\"ConditionExpression\":\"attribute_not_exists(#h)\","
	    "\"ExpressionAttributeNames\":{\"#h\":\"pk\"}}",
	    "{\"TableName\":\"T\",\"Item\":{\"pk\":{\"S\":\"a\"},\"n\":{\"N\":"
	    "\"1\"}},\"ConditionExpression\":\"attribute_not_exists(#h)\","
	    "\"ExpressionAttributeNames\":{\"#h\":\"pk\"}}",
	    NULL};
	json_t *item = J("{\"pk\": {\"S\": \"a\"}, \"n\": {\"N\": \"1\"}}");
	struct ddb_error err;
	struct env e;

	CHECK_INT(
	    env_start(&e,
		      "[{\"times\": 1, \"body\": {}},"
		      " {\"status\": 400, \"body\": {\"__type\": \"" TYPE_PREFIX
		      "ConditionalCheckFailedException\"}}]",
		      10),
	    0);
	CHECK_INT(ddb_put_new(e.ddb, "T", "pk", item, &err), 0);
	CHECK_INT(ddb_put_new(e.ddb, "T", "pk", item, &err), -EEXIST);
	CHECK(!err.maybe_applied);
	CHECK_INT(ddb_put_new(e.ddb, "T", NULL, item, &err), -EINVAL);
	check_bodies(&e, "PutItem", want);
	env_stop(&e);
	json_decref(item);
}

static void test_moved_item(void)
{
	static const char *const want[] = {
	    "{\"TableName\":\"Old\",\"Key\":{\"pk\":{\"S\":\"a\"},\"sk\":"
	    "{\"N\":\"1\"}},\"ConsistentRead\":true}",
	    "{\"TableName\":\"Old\",\"Key\":{\"pk\":{\"S\":\"a\"},\"sk\":"
	    "{\"N\":\"1\"}},\"ConsistentRead\":true}",
	    NULL};
	json_t *from = J("{\"pk\": {\"S\": \"a\"}, \"sk\": {\"N\": \"1\"}}");
	json_t *to = J("{\"id\": {\"S\": \"b\"}}"), *item = NULL;
	json_t *expect = J("{\"id\": {\"S\": \"b\"}, \"v\": {\"L\": []}}");
	struct ddb_error err;
	struct env e;

	/* Into a table of another key: both of the old key's attributes
	 * go, the new one comes. */
	CHECK_INT(env_start(&e,
			    "[{\"times\": 1, \"body\": {\"Item\": {\"pk\":"
			    " {\"S\": \"a\"}, \"sk\": {\"N\": \"1\"}, \"v\":"
			    " {\"L\": []}}}}, {\"body\": {}}]",
			    10),
		  0);
	CHECK_INT(ddb_moved_item(e.ddb, "Old", from, to, &item, &err), 0);
	CHECK(json_equal(item, expect));
	json_decref(item);
	CHECK_INT(ddb_moved_item(e.ddb, "Old", from, to, &item, &err), -ENOENT);
	CHECK(item == NULL);
	CHECK_INT(ddb_moved_item(e.ddb, "Old", NULL, to, &item, &err), -EINVAL);
	check_bodies(&e, "GetItem", want);
	env_stop(&e);
	json_decref(from);
	json_decref(to);
	json_decref(expect);
}

/* ddb_move: the TransactWriteItems body up to its random token. */
static const struct {
	const char *name;
	bool noreplace;
	const char *script;
	int rc;
	const char *body;
} move_rows[] = {
    {"a move", false, "[{\"body\": {}}]", 0,
     "{\"TransactItems\":[{\"Put\":{\"TableName\":\"To\",\"Item\":{\"id\":"
     "{\"S\":\"b\"}}}},{\"Delete\":{\"TableName\":\"From\",\"Key\":{\"pk\":"
     "{\"S\":\"a\"}}}}],\"ClientRequestToken\":\""},
    {"no replace", true, "[{\"body\": {}}]", 0,
     "{\"TransactItems\":[{\"Put\":{\"TableName\":\"To\",\"Item\":{\"id\":"
     "{\"S\":\"b\"}},\"ConditionExpression\":\"attribute_not_exists(#h)\","
     "\"ExpressionAttributeNames\":{\"#h\":\"id\"}}},{\"Delete\":"
     "{\"TableName\":\"From\",\"Key\":{\"pk\":{\"S\":\"a\"}}}}],"
     "\"ClientRequestToken\":\""},
    {"the target exists", true,
     "[{\"status\": 400, \"body\": {\"__type\": \"" TYPE_PREFIX
     "TransactionCanceledException\", \"message\": \"Transaction"
     " cancelled\", \"CancellationReasons\": [{\"Code\":"
     " \"ConditionalCheckFailed\"}, {\"Code\": \"None\"}]}}]",
     -EEXIST,
     "{\"TransactItems\":[{\"Put\":{\"TableName\":\"To\",\"Item\":{\"id\":"
     "{\"S\":\"b\"}},\"ConditionExpression\":\"attribute_not_exists(#h)\","
     "\"ExpressionAttributeNames\":{\"#h\":\"id\"}}},{\"Delete\":"
     "{\"TableName\":\"From\",\"Key\":{\"pk\":{\"S\":\"a\"}}}}],"
     "\"ClientRequestToken\":\""},
    {"no transactions (dynalite)", false,
     "[{\"status\": 400, \"body\": {\"__type\":"
     " \"com.amazon.coral.service#UnknownOperationException\"}}]",
     -ENOSYS,
     "{\"TransactItems\":[{\"Put\":{\"TableName\":\"To\",\"Item\":{\"id\":"
     "{\"S\":\"b\"}}}},{\"Delete\":{\"TableName\":\"From\",\"Key\":{\"pk\":"
     "{\"S\":\"a\"}}}}],\"ClientRequestToken\":\""},
};

static void test_move(void)
{
	json_t *item = J("{\"id\": {\"S\": \"b\"}}");
	json_t *key = J("{\"pk\": {\"S\": \"a\"}}");

	for (size_t i = 0; i < sizeof(move_rows) / sizeof(move_rows[0]); i++) {
		size_t n = strlen(move_rows[i].body);
		int bad = tap_failed_checks;
		struct ddb_error err;
		const char *text;
		struct env e;
		json_t *log;

		CHECK_INT(env_start(&e, move_rows[i].script, 10), 0);
		CHECK_INT(ddb_move(e.ddb, "To", "id", item,
				   move_rows[i].noreplace, "From", key, &err),
			  move_rows[i].rc);
		log = log_entries(&e.f);
		CHECK_INT(json_array_size(log), 1);
		CHECK_STR(entry_header(log, 0, "x-amz-target"),
			  "DynamoDB_20120810.TransactWriteItems");
		text = entry_text(log, 0);
		CHECK(text && strncmp(text, move_rows[i].body, n) == 0);
		/* A UUID, then the end. */
		CHECK(text && strlen(text) == n + 36 + 2 &&
		      strcmp(text + n + 36, "\"}") == 0);
		if (tap_failed_checks != bad)
			printf("# in row: %s\n#   sent: %s\n",
			       move_rows[i].name, text ? text : "(none)");
		json_decref(log);
		env_stop(&e);
	}
	CHECK_INT(ddb_move(NULL, "To", NULL, item, true, "From", key, NULL),
		  -EINVAL);
	json_decref(item);
	json_decref(key);
}

/* ddb_move_if: the condition a writer's image gives rides on the put. */
static void test_move_if(void)
{
	static const char body[] =
	    "{\"TransactItems\":[{\"Put\":{\"TableName\":\"To\",\"Item\":"
	    "{\"id\":{\"S\":\"b\"}},\"ConditionExpression\":\"#n0 = :v0\","
	    "\"ExpressionAttributeNames\":{\"#n0\":\"id\"},"
	    "\"ExpressionAttributeValues\":{\":v0\":{\"S\":\"b\"}}}},"
	    "{\"Delete\":{\"TableName\":\"From\",\"Key\":{\"pk\":"
	    "{\"S\":\"a\"}}}}],\"ClientRequestToken\":\"";
	json_t *item = J("{\"id\": {\"S\": \"b\"}}");
	json_t *key = J("{\"pk\": {\"S\": \"a\"}}");
	json_t *names = J("{\"#n0\": \"id\"}");
	json_t *values = J("{\":v0\": {\"S\": \"b\"}}");
	struct ddb_error err;
	const char *text;
	struct env e;
	json_t *log;

	CHECK_INT(env_start(&e, "[{\"body\": {}}]", 10), 0);
	CHECK_INT(ddb_move_if(e.ddb, "To", item, "#n0 = :v0", names, values,
			      "From", key, &err),
		  0);
	log = log_entries(&e.f);
	CHECK_INT(json_array_size(log), 1);
	text = entry_text(log, 0);
	CHECK(text && strncmp(text, body, strlen(body)) == 0);
	if (text && strncmp(text, body, strlen(body)) != 0)
		printf("#   sent: %s\n", text);
	json_decref(log);
	env_stop(&e);
	json_decref(item);
	json_decref(key);
	json_decref(names);
	json_decref(values);
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
	 {"ListTables page by page", test_list_tables_pages},
	 {"TransactWriteItems", test_transact_write},
	 {"GetItem without Item", test_get_item_missing},
	 {"GetItem answer unparsed", test_get_item_body},
	 {"conditional PutItem, DeleteItem", test_conditional_put_delete},
	 {"CreateTable waits for ACTIVE", test_create_table_waits},
	 {"DescribeTable", test_describe}, {"debug log lines", test_debug_log},
	 {"page items: table of pages", test_page_items_table},
	 {"page items: every cut of a page is malformed",
	  test_page_items_every_cut},
	 {"page items: 20000 items in order", test_page_items_large},
	 {"raw page: body, errors, retries", test_raw_page},
	 {"Query and Scan pages: the exact bodies", test_page_requests},
	 {"page read: items and LastEvaluatedKey", test_page_read},
	 {"Query of every page of a partition", test_query_each},
	 {"has items: Limit 1 pages until an item or the end", test_has_items},
	 {"Scan cursor: segments take turns, a page at a time",
	  test_scan_cursor},
	 {"Scan cursor: one segment, a start key, a failed page",
	  test_scan_cursor_one_segment},
	 {"Scan cursor: arguments", test_scan_cursor_arguments},
	 {"key schema of a DescribeTable answer", test_table_keys},
	 {"CreateTable from a key schema", test_create_table_keys},
	 {"PutItem only when absent", test_put_new},
	 {"moved item: GetItem and the new key", test_moved_item},
	 {"move: TransactWriteItems", test_move},
	 {"move with a writer's condition", test_move_if},
	 {"endpoint URL: host header, path, query", test_parse_endpoint},
	 {"client arguments", test_client_arguments},
	 {"global cleanup", test_cleanup})
