/* http.h - HTTP/1.1 requests over libcurl with a pool of keep-alive handles,
 * so requests from many threads run in parallel over reused connections. */
#ifndef DYNAMOFS_HTTP_H
#define DYNAMOFS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct http_client;

struct http_header {
	const char *name;
	const char *value;
};

struct http_request {
	const char *method; /* "GET", "PUT", "POST" */
	const char *url;
	const struct http_header *headers; /* sent as given; may be NULL */
	size_t n_headers;
	const void *body; /* may be NULL when body_len is 0 */
	size_t body_len;
	long connect_timeout_ms; /* 0: the client's default */
	long timeout_ms;	 /* whole request; 0: the client's default */
	/* Check the response body against its x-amz-crc32 header (when the
	 * header is present) on the bytes as received; a mismatch fails the
	 * request with -EBADMSG. */
	bool check_crc32;
};

struct http_response {
	long status; /* HTTP status code */
	char *body;  /* allocated, NUL-terminated, body_len bytes before it */
	size_t body_len;
	char *request_id; /* x-amzn-RequestId header, allocated, or NULL */
	bool had_crc32; /* the response carried x-amz-crc32 (and it matched) */
};

/* Creates a client. Timeouts in milliseconds apply to requests that leave
 * theirs at 0. Returns NULL with errno set (ENOMEM). The caller frees with
 * http_client_free. Call curl_global_init before the first client (main does,
 * via http_global_init). */
struct http_client *http_client_new(long connect_timeout_ms, long timeout_ms);

/* Makes path (a PEM file of CA certificates) the only certificates that
 * https requests of this client trust: libcurl's CAINFO, with its CAPATH
 * (the system's certificate folder) switched off, as botocore's verify=.
 * NULL restores the system's trust store. Call before the first request
 * (not while requests run). Returns 0 or -ENOMEM. */
int http_client_set_ca_bundle(struct http_client *client, const char *path);

/* Frees the client and closes its connections. Not while requests run. */
void http_client_free(struct http_client *client);

/* Once per process, before threads: curl_global_init. Returns 0 or -EIO. */
int http_global_init(void);
void http_global_cleanup(void);

/* Sends req and waits for the whole response. Thread-safe: each call takes a
 * handle from the pool (a new one when all are busy) and gives it back, so its
 * connection is kept alive for the next call.
 * Returns 0 when a response arrived (whatever its status) and fills resp
 * (caller frees with http_response_free); otherwise resp is zeroed and:
 *   -ETIMEDOUT    connect or total time-out
 *   -ECONNREFUSED connection refused / could not connect
 *   -EHOSTUNREACH host name not resolved / no route
 *   -EBADMSG      x-amz-crc32 mismatch (check_crc32)
 *   -EKEYREJECTED the server's TLS certificate was refused (not signed by a
 *                 trusted CA, not valid for the host name, expired) or the
 *                 CA bundle could not be loaded; not worth a retry
 *   -EPROTO       other transfer error (reset, malformed response)
 *   -EINVAL       bad URL or request
 *   -ENOMEM       out of memory */
int http_request(struct http_client *client, const struct http_request *req,
		 struct http_response *resp);

/* Frees what http_request allocated; safe on a zeroed struct. */
void http_response_free(struct http_response *resp);

/* A short text for an http_request error, e.g. "connection refused". For
 * -EKEYREJECTED it is the calling thread's last such failure, naming the
 * host and what to do, e.g. "TLS certificate of 127.0.0.1 not trusted
 * (unable to get local issuer certificate): set AWS_CA_BUNDLE or ca_bundle
 * in the profile to a PEM file with the CA that issued it"; so call it on
 * the thread that made the request, before its next request. */
const char *http_strerror(int err);

/* The parts of an http(s) URL that dynamofs uses, from http_url_parse. */
struct http_url {
	bool https;
	char *host;  /* as written (case kept); an IPv6 literal in brackets */
	long port;   /* the port the URL names, 1-65535, or 0 when none */
	char *path;  /* as written, "/" when empty */
	char *query; /* after '?', NULL when there is none */
};

/* Parses url with libcurl's URL API (curl_url), as libcurl reads it when it
 * sends: a scheme of http or https in any case, "://" (libcurl would take
 * one slash or three), a host, an optional port of 1-65535, the path as
 * written (no dot segments removed); user info and a fragment are dropped.
 * Returns 0 and fills out (caller frees with http_url_free), -EPROTONOSUPPORT
 * when the scheme is missing or is not http(s), -EINVAL for any other URL
 * libcurl refuses (no host, a bad port, a bad IPv6 literal, a space), -ENOMEM;
 * out is zeroed on failure. Thread-safe; needs no curl_global_init. */
int http_url_parse(const char *url, struct http_url *out);

/* Frees the strings of u and zeroes it; safe on a zeroed struct. */
void http_url_free(struct http_url *u);

/* zlib CRC32 of data (what x-amz-crc32 carries, as a decimal number). */
uint32_t http_crc32(const void *data, size_t len);

#endif
