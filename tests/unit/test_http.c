/* test_http.c - the pooled libcurl client against fakehttp: verbs, headers,
 * bodies, status codes, x-amz-crc32, errors, connection reuse, parallelism. */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

#include "fakehttp.h"
#include "http.h"
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

static const char *entry_str(json_t *entries, size_t i, const char *field)
{
	return json_string_value(
	    json_object_get(json_array_get(entries, i), field));
}

static const char *entry_header(json_t *entries, size_t i, const char *name)
{
	json_t *h = json_object_get(json_array_get(entries, i), "headers");

	return json_string_value(json_object_get(h, name));
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void test_get_headers(void)
{
	struct fakehttp f;
	struct http_client *c = http_client_new(2000, 5000);
	struct http_header hd[] = {{"X-Test", "abc"}, {"X-Empty", ""}};
	struct http_request req = {
	    .method = "GET", .headers = hd, .n_headers = 2};
	struct http_response resp;
	char url[128];
	json_t *log;

	CHECK(c != NULL);
	CHECK_INT(fakehttp_start(
		      &f, "[{\"method\": \"GET\", \"path\": \"/x\","
			  " \"require_header\": {\"X-Test\": \"abc\"},"
			  " \"headers\": {\"x-amzn-RequestId\": \"RID-1\"},"
			  " \"body\": \"hello\"}]"),
		  0);
	snprintf(url, sizeof(url), "%s/x", f.url);
	req.url = url;
	CHECK_INT(http_request(c, &req, &resp), 0);
	CHECK_INT(resp.status, 200);
	CHECK_STR(resp.body, "hello");
	CHECK_INT(resp.body_len, 5);
	CHECK_STR(resp.request_id, "RID-1");
	CHECK(!resp.had_crc32);
	http_response_free(&resp);
	CHECK(resp.body == NULL);

	log = log_entries(&f);
	CHECK_INT(json_array_size(log), 1);
	CHECK_STR(entry_str(log, 0, "method"), "GET");
	CHECK_STR(entry_str(log, 0, "path"), "/x");
	CHECK_STR(entry_header(log, 0, "x-test"), "abc");
	CHECK_STR(entry_header(log, 0, "x-empty"), "");
	/* No compression asked for: x-amz-crc32 covers the bytes as sent. */
	CHECK(entry_header(log, 0, "accept-encoding") == NULL);
	json_decref(log);
	fakehttp_stop(&f);
	http_client_free(c);
}

static void test_put_post_body(void)
{
	struct fakehttp f;
	struct http_client *c = http_client_new(0, 0);
	struct http_header hd[] = {{"content-type", "application/json"}};
	struct http_request req = {0};
	struct http_response resp;
	char url[128];
	json_t *log;

	CHECK_INT(fakehttp_start(&f,
				 "[{\"method\": \"PUT\", \"path\": \"/p\","
				 " \"status\": 201, \"body\": \"put ok\"},"
				 " {\"method\": \"POST\", \"path\": \"/q\","
				 " \"body\": {\"a\": 1}},"
				 " {\"method\": \"PUT\", \"path\": \"/empty\","
				 " \"body\": \"\"}]"),
		  0);
	snprintf(url, sizeof(url), "%s/p", f.url);
	req.method = "PUT";
	req.url = url;
	req.body = "data";
	req.body_len = 4;
	CHECK_INT(http_request(c, &req, &resp), 0);
	CHECK_INT(resp.status, 201);
	CHECK_STR(resp.body, "put ok");
	http_response_free(&resp);

	snprintf(url, sizeof(url), "%s/q", f.url);
	req.method = "POST";
	req.headers = hd;
	req.n_headers = 1;
	req.body = "{\"x\": \"\xc3\xa9\"}";
	req.body_len = strlen(req.body);
	CHECK_INT(http_request(c, &req, &resp), 0);
	CHECK_INT(resp.status, 200);
	CHECK_STR(resp.body, "{\"a\": 1}");
	http_response_free(&resp);

	/* An empty PUT (as the IMDSv2 token request) still has a length. */
	snprintf(url, sizeof(url), "%s/empty", f.url);
	req.method = "PUT";
	req.headers = NULL;
	req.n_headers = 0;
	req.body = NULL;
	req.body_len = 0;
	CHECK_INT(http_request(c, &req, &resp), 0);
	CHECK_INT(resp.status, 200);
	CHECK_STR(resp.body, "");
	CHECK_INT(resp.body_len, 0);
	http_response_free(&resp);

	log = log_entries(&f);
	CHECK_INT(json_array_size(log), 3);
	CHECK_STR(entry_str(log, 0, "method"), "PUT");
	CHECK_STR(entry_str(log, 0, "body"), "data");
	CHECK_STR(entry_header(log, 0, "content-length"), "4");
	/* curl's form Content-Type and Expect are not added. */
	CHECK(entry_header(log, 0, "content-type") == NULL);
	CHECK(entry_header(log, 0, "expect") == NULL);
	CHECK_STR(entry_str(log, 1, "method"), "POST");
	CHECK_STR(entry_str(log, 1, "body"), "{\"x\": \"\xc3\xa9\"}");
	CHECK_STR(entry_header(log, 1, "content-type"), "application/json");
	CHECK_STR(entry_str(log, 2, "method"), "PUT");
	CHECK_STR(entry_header(log, 2, "content-length"), "0");
	json_decref(log);
	fakehttp_stop(&f);
	http_client_free(c);
}

static void test_status_passthrough(void)
{
	static const long codes[] = {200, 201, 204, 400, 403, 404, 500, 503};
	char script[2048] = "[", url[128];
	struct http_client *c = http_client_new(0, 5000);
	struct http_request req = {.method = "GET"};
	struct http_response resp;
	struct fakehttp f;
	size_t n = 1;

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		n += (size_t)snprintf(script + n, sizeof(script) - n,
				      "%s{\"path\": \"/s%ld\", \"status\": %ld,"
				      " \"body\": \"%s\"}",
				      i ? "," : "", codes[i], codes[i],
				      codes[i] == 204 ? "" : "x");
	snprintf(script + n, sizeof(script) - n, "]");
	CHECK_INT(fakehttp_start(&f, script), 0);
	req.url = url;
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		snprintf(url, sizeof(url), "%s/s%ld", f.url, codes[i]);
		CHECK_INT(http_request(c, &req, &resp), 0);
		CHECK_INT(resp.status, codes[i]);
		CHECK(resp.body != NULL);
		http_response_free(&resp);
	}
	/* A path no rule serves: fakehttp's 404. */
	snprintf(url, sizeof(url), "%s/none", f.url);
	CHECK_INT(http_request(c, &req, &resp), 0);
	CHECK_INT(resp.status, 404);
	CHECK_STR(resp.body, "no rule");
	http_response_free(&resp);
	fakehttp_stop(&f);
	http_client_free(c);
}

static void test_crc32(void)
{
	struct http_client *c = http_client_new(0, 5000);
	struct http_request req = {.method = "POST", .check_crc32 = true};
	struct http_response resp;
	struct fakehttp f;
	char url[128];

	CHECK_INT(fakehttp_start(&f,
				 "[{\"path\": \"/good\", \"crc32\": \"good\","
				 " \"body\": {\"Table\": \"x\"}},"
				 " {\"path\": \"/bad\", \"crc32\": \"bad\","
				 " \"body\": {\"Table\": \"x\"}},"
				 " {\"path\": \"/none\", \"body\": \"plain\"},"
				 " {\"path\": \"/junk\", \"body\": \"j\","
				 " \"headers\": {\"x-amz-crc32\": \"12ab\"}}]"),
		  0);
	req.url = url;
	snprintf(url, sizeof(url), "%s/good", f.url);
	CHECK_INT(http_request(c, &req, &resp), 0);
	CHECK_INT(resp.status, 200);
	CHECK(resp.had_crc32);
	CHECK_STR(resp.body, "{\"Table\": \"x\"}");
	http_response_free(&resp);

	snprintf(url, sizeof(url), "%s/bad", f.url);
	CHECK_INT(http_request(c, &req, &resp), -EBADMSG);
	CHECK(resp.body == NULL);
	CHECK_INT(resp.status, 0);
	http_response_free(&resp);

	/* Not asked to check: the bad checksum is not looked at. */
	req.check_crc32 = false;
	CHECK_INT(http_request(c, &req, &resp), 0);
	CHECK_INT(resp.status, 200);
	http_response_free(&resp);
	req.check_crc32 = true;

	snprintf(url, sizeof(url), "%s/none", f.url);
	CHECK_INT(http_request(c, &req, &resp), 0);
	CHECK(!resp.had_crc32);
	CHECK_STR(resp.body, "plain");
	http_response_free(&resp);

	/* A checksum that is not a number cannot vouch for the body. */
	snprintf(url, sizeof(url), "%s/junk", f.url);
	CHECK_INT(http_request(c, &req, &resp), -EBADMSG);
	http_response_free(&resp);
	fakehttp_stop(&f);
	http_client_free(c);

	/* The check value of the CRC-32 used by zlib and x-amz-crc32. */
	CHECK_INT(http_crc32("123456789", 9), 0xCBF43926u);
	CHECK_INT(http_crc32("", 0), 0);
}

/* A port on 127.0.0.1 that nothing listens on (bound, then closed). */
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

static void test_connection_refused(void)
{
	struct http_client *c = http_client_new(1000, 2000);
	struct http_request req = {.method = "GET"};
	struct http_response resp;
	char url[128];
	int port = closed_port();

	CHECK(port > 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", port);
	req.url = url;
	CHECK_INT(http_request(c, &req, &resp), -ECONNREFUSED);
	CHECK(resp.body == NULL);
	CHECK_STR(http_strerror(-ECONNREFUSED), "connection refused");
	http_client_free(c);
}

static void test_timeout(void)
{
	struct http_client *c = http_client_new(1000, 30000);
	struct http_request req = {.method = "GET", .timeout_ms = 300};
	struct http_response resp;
	struct fakehttp f;
	char url[128];
	double t0, elapsed;

	CHECK_INT(fakehttp_start(&f,
				 "[{\"path\": \"/slow\", \"delay_ms\": 3000,"
				 " \"body\": \"late\"}]"),
		  0);
	snprintf(url, sizeof(url), "%s/slow", f.url);
	req.url = url;
	t0 = now_ms();
	CHECK_INT(http_request(c, &req, &resp), -ETIMEDOUT);
	elapsed = now_ms() - t0;
	/* The request's own time-out won over the client's 30 s default. */
	CHECK(elapsed < 2500);
	CHECK(resp.body == NULL);
	CHECK_STR(http_strerror(-ETIMEDOUT), "timed out");
	fakehttp_stop(&f);
	http_client_free(c);
}

static void test_closed_without_response(void)
{
	struct http_client *c = http_client_new(1000, 5000);
	struct http_request req = {.method = "GET"};
	struct http_response resp;
	struct fakehttp f;
	char url[128];

	CHECK_INT(
	    fakehttp_start(&f, "[{\"path\": \"/drop\", \"close\": true}]"), 0);
	snprintf(url, sizeof(url), "%s/drop", f.url);
	req.url = url;
	CHECK_INT(http_request(c, &req, &resp), -EPROTO);
	fakehttp_stop(&f);
	http_client_free(c);
}

static void test_bad_arguments(void)
{
	struct http_client *c = http_client_new(0, 0);
	struct http_header bad[] = {{"X-A", "x\r\nInjected: 1"}};
	struct http_request req = {.method = "GET",
				   .url = "http://127.0.0.1:1/"};
	struct http_response resp;

	CHECK_INT(http_request(c, NULL, &resp), -EINVAL);
	req.headers = bad;
	req.n_headers = 1;
	CHECK_INT(http_request(c, &req, &resp), -EINVAL);
	req.headers = NULL;
	req.n_headers = 0;
	req.body_len = 3; /* with no body */
	CHECK_INT(http_request(c, &req, &resp), -EINVAL);
	req.body_len = 0;
	req.url = "gopher://127.0.0.1:1/";
	CHECK_INT(http_request(c, &req, &resp), -EINVAL);
	req.url = "http://[::1/";
	CHECK_INT(http_request(c, &req, &resp), -EINVAL);
	http_response_free(&resp);
	http_client_free(c);
}

static void test_connection_reuse(void)
{
	struct http_client *c = http_client_new(1000, 5000);
	struct http_request req = {
	    .method = "POST", .body = "x", .body_len = 1};
	struct http_response resp;
	struct fakehttp f;
	char url[128];
	json_t *log;
	json_int_t port;

	CHECK_INT(fakehttp_start(&f, "[{\"path\": \"/k\", \"body\": \"ok\"}]"),
		  0);
	snprintf(url, sizeof(url), "%s/k", f.url);
	req.url = url;
	for (int i = 0; i < 6; i++) {
		CHECK_INT(http_request(c, &req, &resp), 0);
		CHECK_INT(resp.status, 200);
		http_response_free(&resp);
	}
	log = log_entries(&f);
	CHECK_INT(json_array_size(log), 6);
	port = json_integer_value(
	    json_object_get(json_array_get(log, 0), "peer_port"));
	CHECK(port > 0);
	/* One client port for all six: one kept-alive connection. */
	for (size_t i = 1; i < json_array_size(log); i++)
		CHECK_INT(json_integer_value(json_object_get(
			      json_array_get(log, i), "peer_port")),
			  port);
	json_decref(log);
	fakehttp_stop(&f);
	http_client_free(c);
}

#define N_THREADS 8

struct par_arg {
	struct http_client *client;
	const char *url;
	int rc;
	long status;
};

static void *par_worker(void *p)
{
	struct par_arg *a = p;
	struct http_request req = {.method = "GET", .url = a->url};
	struct http_response resp;

	a->rc = http_request(a->client, &req, &resp);
	a->status = resp.status;
	http_response_free(&resp);
	return NULL;
}

static void test_parallel(void)
{
	struct http_client *c = http_client_new(2000, 20000);
	struct par_arg args[N_THREADS];
	pthread_t th[N_THREADS];
	struct fakehttp f;
	char url[128];
	json_t *log;
	json_int_t max_inflight = 0;

	/* The barrier answers 200 only once all 8 requests are in the server
	 * at the same time: they succeed only if they ran in parallel. */
	CHECK_INT(fakehttp_start(&f, "[{\"path\": \"/p\", \"barrier\": 8,"
				     " \"barrier_timeout_ms\": 15000,"
				     " \"body\": \"ok\"}]"),
		  0);
	snprintf(url, sizeof(url), "%s/p", f.url);
	for (int i = 0; i < N_THREADS; i++) {
		args[i] = (struct par_arg){.client = c, .url = url};
		CHECK_INT(pthread_create(&th[i], NULL, par_worker, &args[i]),
			  0);
	}
	for (int i = 0; i < N_THREADS; i++) {
		pthread_join(th[i], NULL);
		CHECK_INT(args[i].rc, 0);
		CHECK_INT(args[i].status, 200);
	}
	log = log_entries(&f);
	CHECK_INT(json_array_size(log), N_THREADS);
	for (size_t i = 0; i < json_array_size(log); i++) {
		json_int_t n = json_integer_value(
		    json_object_get(json_array_get(log, i), "inflight"));
		if (n > max_inflight)
			max_inflight = n;
	}
	CHECK_INT(max_inflight, N_THREADS);
	json_decref(log);

	/* The pool now holds 8 handles; sequential requests reuse them. */
	for (int i = 0; i < 3; i++) {
		struct http_request req = {.method = "GET", .url = url};
		struct http_response resp;

		snprintf(url, sizeof(url), "%s/none", f.url);
		CHECK_INT(http_request(c, &req, &resp), 0);
		CHECK_INT(resp.status, 404);
		http_response_free(&resp);
	}
	fakehttp_stop(&f);
	http_client_free(c);
}

/* A CA bundle concerns https only: plain http still works with one set,
 * and it can be set again or taken away (valgrind checks the copies). The
 * TLS failures themselves are tested end to end (tests/e2e/tls.bats). */
static void test_ca_bundle(void)
{
	struct http_client *c = http_client_new(0, 5000);
	struct http_request req = {.method = "GET"};
	struct http_response resp;
	struct fakehttp f;
	char url[128];

	CHECK_INT(fakehttp_start(&f, "[{\"path\": \"/\", \"status\": 200, "
				     "\"body\": \"ok\"}]"),
		  0);
	snprintf(url, sizeof(url), "%s/", f.url);
	req.url = url;
	CHECK_INT(http_client_set_ca_bundle(c, "/nonexistent/ca.pem"), 0);
	CHECK_INT(http_client_set_ca_bundle(c, "/etc/ssl/certs/none.pem"), 0);
	CHECK_INT(http_request(c, &req, &resp), 0);
	CHECK_INT(resp.status, 200);
	http_response_free(&resp);
	CHECK_INT(http_client_set_ca_bundle(c, NULL), 0);
	CHECK_INT(http_request(c, &req, &resp), 0);
	CHECK_STR(resp.body, "ok");
	http_response_free(&resp);
	fakehttp_stop(&f);
	http_client_free(c);
	/* No TLS failure on this thread yet: the text without a host. */
	CHECK_STR(http_strerror(-EKEYREJECTED),
		  "TLS certificate of the server refused");
}

static void test_strerror(void)
{
	CHECK_STR(http_strerror(0), "success");
	CHECK_STR(http_strerror(-EBADMSG),
		  "response checksum (x-amz-crc32) mismatch");
	CHECK_STR(http_strerror(-EHOSTUNREACH),
		  "host not found or unreachable");
	CHECK(http_strerror(-EPROTO) != NULL);
	CHECK(http_strerror(-12345) != NULL);
	/* Freeing nothing is fine. */
	http_client_free(NULL);
	http_response_free(NULL);
}

static void test_cleanup(void)
{
	http_global_cleanup();
	CHECK(1);
}

static void test_init(void)
{
	CHECK_INT(http_global_init(), 0);
}

TAP_MAIN({"global init", test_init}, {"GET with headers", test_get_headers},
	 {"PUT and POST bodies", test_put_post_body},
	 {"status codes passed through", test_status_passthrough},
	 {"x-amz-crc32 good, bad, absent", test_crc32},
	 {"connection refused", test_connection_refused},
	 {"request time-out", test_timeout},
	 {"connection closed without response", test_closed_without_response},
	 {"bad arguments", test_bad_arguments},
	 {"keep-alive connection reused", test_connection_reuse},
	 {"8 threads in parallel", test_parallel},
	 {"a CA bundle leaves plain http alone", test_ca_bundle},
	 {"strerror", test_strerror}, {"global cleanup", test_cleanup})
