/* sigv4.h - AWS Signature Version 4, as a pure function of the request,
 * the credentials and the clock (no I/O, no time(); one global, below). */
#ifndef DYNAMOFS_SIGV4_H
#define DYNAMOFS_SIGV4_H

#include <stddef.h>
#include <time.h>

struct sigv4_header {
	const char *name;  /* any case; the signer lower-cases it */
	const char *value; /* as sent; the signer trims and folds spaces */
};

struct sigv4_request {
	const char *method; /* "POST" */
	const char *path;  /* as on the request line, e.g. "/" (raw UTF-8 ok) */
	const char *query; /* without '?', may be NULL or "" */
	/* Every header that will be sent and signed, "host" included, in any
	 * order; repeated names are joined with ',' in the order given. */
	const struct sigv4_header *headers;
	size_t n_headers;
	const void *body; /* may be NULL when body_len is 0 */
	size_t body_len;
};

struct sigv4_credentials {
	const char *access_key_id;
	const char *secret_access_key;
	const char *session_token; /* NULL when none */
};

/* "YYYYMMDDTHHMMSSZ" + NUL */
#define SIGV4_DATE_LEN 17
/* Formats now (UTC) as the X-Amz-Date value. Returns 0, or -EINVAL when the
 * time cannot be represented. */
int sigv4_format_date(time_t now, char out[SIGV4_DATE_LEN]);

struct sigv4_signature {
	/* The Authorization header value (without "Authorization: ").
	 * Allocated; freed by sigv4_signature_free. */
	char *authorization;
	/* Intermediate strings, allocated, for tests and debug logs (they hold
	 * no secret): the canonical request and the string to sign. */
	char *canonical_request;
	char *string_to_sign;
};

/* Signs req for region/service at time now. The request's headers must
 * already contain "x-amz-date" equal to sigv4_format_date(now) (and
 * "x-amz-security-token" when creds->session_token is set, if the caller wants
 * it signed, which DynamoDB callers always do). All headers given are signed.
 * The canonical URI is the path URI-encoded once without normalization of
 * "." / ".." segments (DynamoDB always posts to "/").
 * Returns 0 and fills out (caller frees with sigv4_signature_free), -EINVAL
 * for a malformed request, -ENOMEM. Thread-safe.
 * The one global: the first signature (or sigv4_sha256_hex) of the process
 * fetches SHA-256 from OpenSSL's default provider and keeps it until exit
 * (valgrind counts it as still reachable). Should that fetch fail (a
 * broken OpenSSL configuration), every later call fails with -ENOMEM. */
int sigv4_sign(const struct sigv4_request *req,
	       const struct sigv4_credentials *creds, const char *region,
	       const char *service, time_t now, struct sigv4_signature *out);

/* Frees what sigv4_sign allocated; safe on a zeroed struct. */
void sigv4_signature_free(struct sigv4_signature *sig);

/* Lower-case hex SHA-256 of data into out (65 bytes with NUL). */
void sigv4_sha256_hex(const void *data, size_t len, char out[65]);

#endif
