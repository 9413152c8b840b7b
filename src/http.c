/* http.c - HTTP/1.1 requests over libcurl easy handles kept in a pool, so each
 * request reuses a kept-alive connection and many threads send in parallel. */
#include "http.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <openssl/x509_vfy.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include "log.h"

/* Idle handles kept beyond this are closed: the pool grows to the largest
 * number of concurrent requests, but a burst should not pin sockets forever. */
#define HTTP_MAX_IDLE 64
/* A response larger than this is refused (-EPROTO): DynamoDB answers at most
 * 16 MB, so anything far bigger is a broken or hostile server. */
#define HTTP_MAX_BODY (256u * 1024 * 1024)

struct http_client {
	pthread_mutex_t lock;
	CURL
	    *idle[HTTP_MAX_IDLE]; /* a stack: the last handle used goes first */
	size_t n_idle;
	long connect_timeout_ms;
	long timeout_ms;
	char *ca_bundle; /* CAINFO, the only trusted certificates; NULL: the
			    system's */
};

/* What the last refused TLS certificate of this thread was; http_strerror
 * gives it for -EKEYREJECTED. */
static __thread char tls_why[512];

/* What the callbacks collect during one transfer. */
struct http_xfer {
	char *body;
	size_t len;
	size_t cap;
	bool oom;
	bool too_big;
	char *request_id;
	bool has_crc32;
	/* The header could not be parsed: counts as a mismatch, since the
	 * response cannot be checked. */
	bool crc32_bad;
	uint32_t crc32;
};

struct http_client *http_client_new(long connect_timeout_ms, long timeout_ms)
{
	struct http_client *client = calloc(1, sizeof(*client));

	if (!client) {
		errno = ENOMEM;
		return NULL;
	}
	if (pthread_mutex_init(&client->lock, NULL) != 0) {
		free(client);
		errno = ENOMEM;
		return NULL;
	}
	client->connect_timeout_ms = connect_timeout_ms;
	client->timeout_ms = timeout_ms;
	return client;
}

void http_client_free(struct http_client *client)
{
	if (!client)
		return;
	for (size_t i = 0; i < client->n_idle; i++)
		curl_easy_cleanup(client->idle[i]);
	pthread_mutex_destroy(&client->lock);
	free(client->ca_bundle);
	free(client);
}

int http_client_set_ca_bundle(struct http_client *client, const char *path)
{
	char *copy = NULL;

	if (path) {
		copy = strdup(path);
		if (!copy)
			return -ENOMEM;
	}
	free(client->ca_bundle);
	client->ca_bundle = copy;
	return 0;
}

int http_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_ALL) == CURLE_OK ? 0 : -EIO;
}

void http_global_cleanup(void)
{
	curl_global_cleanup();
}

/* Takes the most recently used idle handle (its connection is the warmest),
 * or makes a new one when all are busy. Returns NULL when out of memory. */
static CURL *pool_take(struct http_client *client)
{
	CURL *h = NULL;

	pthread_mutex_lock(&client->lock);
	if (client->n_idle > 0)
		h = client->idle[--client->n_idle];
	pthread_mutex_unlock(&client->lock);
	if (!h)
		h = curl_easy_init();
	return h;
}

/* Gives a handle back so that its live connection serves the next request;
 * closes it when the pool is full. */
static void pool_give(struct http_client *client, CURL *h)
{
	bool kept = false;

	pthread_mutex_lock(&client->lock);
	if (client->n_idle < HTTP_MAX_IDLE) {
		client->idle[client->n_idle++] = h;
		kept = true;
	}
	pthread_mutex_unlock(&client->lock);
	if (!kept)
		curl_easy_cleanup(h);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct http_xfer *x = arg;
	size_t n = size * nmemb;
	size_t cap;
	char *p;

	if (n > HTTP_MAX_BODY - x->len) {
		x->too_big = true;
		return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
	}
	if (x->len + n + 1 > x->cap) {
		cap = x->cap ? x->cap : 4096;
		while (cap < x->len + n + 1)
			cap *= 2;
		p = realloc(x->body, cap);
		if (!p) {
			x->oom = true;
			return 0;
		}
		x->body = p;
		x->cap = cap;
	}
	memcpy(x->body + x->len, data, n);
	x->len += n;
	x->body[x->len] = '\0';
	return n;
}

/* If line is "name: value" with the given name (any case), returns the value
 * with surrounding white space cut (its length in *vlen); otherwise NULL. */
static const char *header_value(const char *line, size_t len, const char *name,
				size_t *vlen)
{
	size_t nlen = strlen(name);
	const char *v, *end = line + len;

	if (len <= nlen || line[nlen] != ':' ||
	    strncasecmp(line, name, nlen) != 0)
		return NULL;
	v = line + nlen + 1;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && isspace((unsigned char)end[-1]))
		end--;
	*vlen = (size_t)(end - v);
	return v;
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *arg)
{
	struct http_xfer *x = arg;
	size_t n = size * nmemb, vlen = 0;
	const char *v;
	char num[16];
	char *end;
	unsigned long crc;

	/* A new status line (after "100 Continue" or a redirect) starts a new
	 * header block: forget what the previous block said. */
	if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
		free(x->request_id);
		x->request_id = NULL;
		x->has_crc32 = false;
		x->crc32_bad = false;
		return n;
	}
	v = header_value(line, n, "x-amzn-requestid", &vlen);
	if (v) {
		free(x->request_id);
		x->request_id = strndup(v, vlen);
		if (!x->request_id) {
			x->oom = true;
			return 0;
		}
		return n;
	}
	v = header_value(line, n, "x-amz-crc32", &vlen);
	if (v) {
		x->has_crc32 = true;
		x->crc32_bad = true;
		if (vlen == 0 || vlen >= sizeof(num) ||
		    !isdigit((unsigned char)v[0]))
			return n;
		memcpy(num, v, vlen);
		num[vlen] = '\0';
		errno = 0;
		crc = strtoul(num, &end, 10);
		if (errno || *end || crc > 0xffffffffUL)
			return n;
		x->crc32 = (uint32_t)crc;
		x->crc32_bad = false;
	}
	return n;
}

uint32_t http_crc32(const void *data, size_t len)
{
	uLong crc = crc32(0L, Z_NULL, 0);
	const Bytef *p = data;

	/* zlib takes uInt lengths; feed large buffers in slices. */
	while (len > 0) {
		uInt n = len > 0x40000000u ? 0x40000000u : (uInt)len;
		crc = crc32(crc, p, n);
		p += n;
		len -= n;
	}
	return (uint32_t)crc;
}

/* Maps a failed transfer to the errno values promised in http.h. */
static int map_curl_error(CURL *h, CURLcode rc, const struct http_xfer *x)
{
	long oserr = 0;

	switch (rc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_COULDNT_CONNECT:
		/* curl says "could not connect" for refusals and for
		 * unreachable hosts alike; the socket error tells them apart.
		 */
		curl_easy_getinfo(h, CURLINFO_OS_ERRNO, &oserr);
		if (oserr == EHOSTUNREACH || oserr == ENETUNREACH)
			return -EHOSTUNREACH;
		return -ECONNREFUSED;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -EHOSTUNREACH;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_BAD_FUNCTION_ARGUMENT:
		return -EINVAL;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_PEER_FAILED_VERIFICATION: /* also CURLE_SSL_CACERT */
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
		return -EKEYREJECTED;
	case CURLE_WRITE_ERROR:
		if (x->oom)
			return -ENOMEM;
		return -EPROTO;
	default:
		if (x->oom)
			return -ENOMEM;
		return -EPROTO;
	}
}

/* Puts into tls_why what a user needs to know about a refused certificate:
 * the host, libcurl's reason (OpenSSL's, from errbuf) and what to do. The
 * verify result is OpenSSL's X509_V_ERR_* code (Debian's libcurl is built
 * with OpenSSL); 0 there means the chain was trusted but the name did not
 * match. */
static void describe_tls_failure(const struct http_client *client, CURL *h,
				 CURLcode cc, const char *url,
				 const char *errbuf)
{
	static const char prefix[] = "SSL certificate problem: ";
	const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(cc);
	char host[256] = "the server";
	struct http_url u;
	long vr = 0;

	if (http_url_parse(url, &u) == 0)
		snprintf(host, sizeof(host), "%s", u.host);
	http_url_free(&u);
	if (strncmp(detail, prefix, sizeof(prefix) - 1) == 0)
		detail += sizeof(prefix) - 1;
	if (cc == CURLE_SSL_CACERT_BADFILE) {
		snprintf(tls_why, sizeof(tls_why),
			 "cannot load the CA bundle %s (%s)",
			 client->ca_bundle ? client->ca_bundle
					   : "of the system",
			 detail);
		return;
	}
	curl_easy_getinfo(h, CURLINFO_SSL_VERIFYRESULT, &vr);
	switch (vr) {
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_UNTRUSTED:
		if (client->ca_bundle)
			snprintf(tls_why, sizeof(tls_why),
				 "TLS certificate of %s not trusted (%s): no "
				 "CA in the CA bundle %s issued it",
				 host, detail, client->ca_bundle);
		else
			snprintf(tls_why, sizeof(tls_why),
				 "TLS certificate of %s not trusted (%s): set "
				 "AWS_CA_BUNDLE or ca_bundle in the profile to "
				 "a PEM file with the CA that issued it",
				 host, detail);
		break;
	default:
		snprintf(tls_why, sizeof(tls_why),
			 "TLS certificate of %s refused (%s)", host, detail);
		break;
	}
}

/* A copy of a part of u (caller frees with free), NULL with *rc set when
 * libcurl fails; *rc stays as it was when the part is absent. */
static char *url_part(CURLU *u, CURLUPart what, int *rc)
{
	char *part = NULL, *copy;
	CURLUcode uc = curl_url_get(u, what, &part, 0);

	if (uc == CURLUE_OUT_OF_MEMORY)
		*rc = -ENOMEM;
	if (uc != CURLUE_OK)
		return NULL;
	copy = strdup(part);
	curl_free(part);
	if (!copy)
		*rc = -ENOMEM;
	return copy;
}

int http_url_parse(const char *url, struct http_url *out)
{
	CURLU *u = curl_url();
	CURLUcode uc;
	char *scheme = NULL, *port = NULL;
	size_t n;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!u)
		return -ENOMEM;
	/* The path as written: a signed request names the path it sends. */
	uc = curl_url_set(u, CURLUPART_URL, url, CURLU_PATH_AS_IS);
	switch (uc) {
	case CURLUE_OK:
		break;
	case CURLUE_OUT_OF_MEMORY:
		rc = -ENOMEM;
		goto out;
	case CURLUE_BAD_SCHEME:		/* none, or not a scheme */
	case CURLUE_BAD_SLASHES:	/* "localhost:8000", "http:h" */
	case CURLUE_UNSUPPORTED_SCHEME: /* one libcurl does not know */
		rc = -EPROTONOSUPPORT;
		goto out;
	default:
		rc = -EINVAL;
		goto out;
	}
	scheme = url_part(u, CURLUPART_SCHEME, &rc);
	if (rc)
		goto out;
	if (scheme && strcasecmp(scheme, "https") == 0)
		out->https = true;
	else if (!scheme || strcasecmp(scheme, "http") != 0) {
		rc = -EPROTONOSUPPORT;
		goto out;
	}
	/* libcurl also reads "http:/h" and "http:///h" as http://h; a URL
	 * written that way is a typo, and was refused before libcurl read
	 * them, so it still is. */
	n = strlen(scheme);
	if (strncmp(url + n, "://", 3) != 0) {
		rc = -EPROTONOSUPPORT;
		goto out;
	}
	if (url[n + 3] == '/') {
		rc = -EINVAL;
		goto out;
	}
	out->host = url_part(u, CURLUPART_HOST, &rc);
	port = url_part(u, CURLUPART_PORT, &rc);
	out->path = url_part(u, CURLUPART_PATH, &rc);
	out->query = url_part(u, CURLUPART_QUERY, &rc);
	if (!rc && (!out->host || !*out->host))
		rc = -EINVAL;
	if (rc)
		goto out;
	if (port) {
		/* libcurl takes 0, which no server listens on */
		out->port = strtol(port, NULL, 10);
		if (out->port < 1 || out->port > 65535) {
			rc = -EINVAL;
			goto out;
		}
	}
	if (!out->path || !*out->path) {
		free(out->path);
		out->path = strdup("/");
		if (!out->path)
			rc = -ENOMEM;
	}
out:
	if (rc)
		http_url_free(out);
	free(scheme);
	free(port);
	curl_url_cleanup(u);
	return rc;
}

void http_url_free(struct http_url *u)
{
	if (!u)
		return;
	free(u->host);
	free(u->path);
	free(u->query);
	memset(u, 0, sizeof(*u));
}

/* True when s holds a byte that would end a header line early. */
static bool has_crlf(const char *s)
{
	return strpbrk(s, "\r\n") != NULL;
}

/* Builds the header list: the caller's headers as given, plus blanks that
 * stop curl from adding a form Content-Type and "Expect: 100-continue" (a
 * round trip for nothing; DynamoDB does not use it). */
static int build_headers(const struct http_request *req, bool has_body,
			 struct curl_slist **out)
{
	struct curl_slist *list = NULL, *next;
	bool has_type = false;
	char *line = NULL;
	int rc = 0;

	*out = NULL;
	for (size_t i = 0; i < req->n_headers; i++) {
		const struct http_header *hd = &req->headers[i];

		if (!hd->name || !hd->value || !hd->name[0] ||
		    has_crlf(hd->name) || has_crlf(hd->value) ||
		    strchr(hd->name, ':')) {
			rc = -EINVAL;
			goto out;
		}
		if (strcasecmp(hd->name, "content-type") == 0)
			has_type = true;
		/* "Name;" is curl's way to send a header with an empty value.
		 */
		if (asprintf(&line, hd->value[0] ? "%s: %s" : "%s;", hd->name,
			     hd->value) < 0) {
			line = NULL;
			rc = -ENOMEM;
			goto out;
		}
		next = curl_slist_append(list, line);
		free(line);
		line = NULL;
		if (!next) {
			rc = -ENOMEM;
			goto out;
		}
		list = next;
	}
	if (has_body) {
		next = curl_slist_append(list, "Expect:");
		if (!next) {
			rc = -ENOMEM;
			goto out;
		}
		list = next;
		if (!has_type) {
			next = curl_slist_append(list, "Content-Type:");
			if (!next) {
				rc = -ENOMEM;
				goto out;
			}
			list = next;
		}
	}
	*out = list;
	list = NULL;
out:
	curl_slist_free_all(list);
	return rc;
}

/* Sets every option of one transfer on a handle that was just reset. */
static CURLcode setup_handle(struct http_client *client, CURL *h,
			     const struct http_request *req,
			     struct curl_slist *headers, struct http_xfer *x)
{
	long connect_ms = req->connect_timeout_ms ? req->connect_timeout_ms
						  : client->connect_timeout_ms;
	long total_ms = req->timeout_ms ? req->timeout_ms : client->timeout_ms;
	bool is_get = strcmp(req->method, "GET") == 0;
	bool is_head = strcmp(req->method, "HEAD") == 0;
	CURLcode rc = CURLE_OK;

#define SET(opt, val)                                                          \
	do {                                                                   \
		rc = curl_easy_setopt(h, opt, val);                            \
		if (rc != CURLE_OK)                                            \
			return rc;                                             \
	} while (0)

	SET(CURLOPT_URL, req->url);
	/* Threads: never use signals (alarm-based DNS time-outs are not
	 * thread-safe). */
	SET(CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
#else
	SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_TCP_KEEPIDLE, 30L);
	SET(CURLOPT_TCP_KEEPINTVL, 15L);
	SET(CURLOPT_TCP_NODELAY, 1L);
	SET(CURLOPT_USERAGENT, "dynamofs/" DYNAMOFS_VERSION);
	/* No CURLOPT_ACCEPT_ENCODING: the body must arrive as the server's
	 * x-amz-crc32 saw it, uncompressed. */
	if (client->ca_bundle) {
		/* The bundle replaces the trust store, as botocore's verify=
		 * does: without CAPATH, /etc/ssl/certs is not consulted. */
		SET(CURLOPT_CAINFO, client->ca_bundle);
		SET(CURLOPT_CAPATH, (char *)NULL);
	}
	if (connect_ms > 0)
		SET(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
	if (total_ms > 0)
		SET(CURLOPT_TIMEOUT_MS, total_ms);
	if (is_head) {
		SET(CURLOPT_NOBODY, 1L);
	} else if (is_get && req->body_len == 0) {
		SET(CURLOPT_HTTPGET, 1L);
	} else {
		/* POSTFIELDS sends the body with a Content-Length (also 0 for
		 * an empty PUT, which IMDS wants); another verb replaces POST.
		 */
		SET(CURLOPT_POST, 1L);
		SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		SET(CURLOPT_POSTFIELDS, req->body ? req->body : "");
		if (strcmp(req->method, "POST") != 0)
			SET(CURLOPT_CUSTOMREQUEST, req->method);
	}
	SET(CURLOPT_HTTPHEADER, headers);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, x);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, x);
#undef SET
	return rc;
}

int http_request(struct http_client *client, const struct http_request *req,
		 struct http_response *resp)
{
	struct http_xfer x = {0};
	struct curl_slist *headers = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	bool has_body;
	CURL *h = NULL;
	CURLcode cc;
	long status = 0;
	int rc = 0;

	if (resp)
		memset(resp, 0, sizeof(*resp));
	if (!client || !req || !resp || !req->method || !req->url ||
	    !req->method[0] || has_crlf(req->method) ||
	    (req->body_len > 0 && !req->body)) {
		rc = -EINVAL;
		goto out;
	}
	has_body = strcmp(req->method, "HEAD") != 0 &&
		   (strcmp(req->method, "GET") != 0 || req->body_len > 0);
	rc = build_headers(req, has_body, &headers);
	if (rc)
		goto out;
	h = pool_take(client);
	if (!h) {
		rc = -ENOMEM;
		goto out;
	}
	/* Reset drops the previous request's options but keeps the handle's
	 * live connections, which is the point of the pool. */
	curl_easy_reset(h);
	cc = setup_handle(client, h, req, headers, &x);
	if (cc == CURLE_OK)
		cc = curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	if (cc == CURLE_OK)
		cc = curl_easy_perform(h);
	if (cc != CURLE_OK) {
		rc = map_curl_error(h, cc, &x);
		if (x.too_big)
			rc = -EPROTO;
		if (rc == -EKEYREJECTED)
			describe_tls_failure(client, h, cc, req->url, errbuf);
		log_msg(LOG_DEBUG, "http: %s %s: %s", req->method, req->url,
			errbuf[0] ? errbuf : curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	if (!x.body) {
		x.body = strdup("");
		if (!x.body) {
			rc = -ENOMEM;
			goto out;
		}
	}
	if (req->check_crc32 && x.has_crc32 &&
	    (x.crc32_bad || http_crc32(x.body, x.len) != x.crc32)) {
		log_msg(LOG_DEBUG, "http: %s %s: x-amz-crc32 mismatch",
			req->method, req->url);
		rc = -EBADMSG;
		goto out;
	}
	resp->status = status;
	resp->body = x.body;
	resp->body_len = x.len;
	resp->request_id = x.request_id;
	resp->had_crc32 = x.has_crc32;
	x.body = NULL;
	x.request_id = NULL;
out:
	if (h) {
		/* The handle must not keep pointers into this stack frame. */
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
		pool_give(client, h);
	}
	curl_slist_free_all(headers);
	free(x.body);
	free(x.request_id);
	return rc;
}

void http_response_free(struct http_response *resp)
{
	if (!resp)
		return;
	free(resp->body);
	free(resp->request_id);
	memset(resp, 0, sizeof(*resp));
}

const char *http_strerror(int err)
{
	switch (err < 0 ? -err : err) {
	case 0:
		return "success";
	case ETIMEDOUT:
		return "timed out";
	case ECONNREFUSED:
		return "connection refused";
	case EHOSTUNREACH:
		return "host not found or unreachable";
	case EBADMSG:
		return "response checksum (x-amz-crc32) mismatch";
	case EPROTO:
		return "transfer failed (connection reset or malformed "
		       "response)";
	case EINVAL:
		return "bad URL or request";
	case EKEYREJECTED:
		return tls_why[0] ? tls_why
				  : "TLS certificate of the server refused";
	case ENOMEM:
		return "out of memory";
	default:
		return "HTTP request failed";
	}
}
