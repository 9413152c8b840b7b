/* sigv4.c - AWS Signature Version 4 for the DynamoDB client: canonical
 * request, string to sign, signing key and Authorization header, no I/O. */
#include "sigv4.h"
#include "dynbuf.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#define SIGV4_ALGORITHM	 "AWS4-HMAC-SHA256"
#define SIGV4_TERMINATOR "aws4_request"
#define SHA256_LEN	 32

static bool is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	       c == '~';
}

/* Python's str.split() whitespace, which botocore uses to trim values. */
static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

static int hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void hex_encode(const unsigned char *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

/* Appends data percent-encoded (RFC 3986 unreserved set kept, upper-case
 * hex); '/' is kept too when keep_slash. */
static int uri_encode(struct dynbuf *b, const char *data, size_t len,
		      bool keep_slash)
{
	static const char digits[] = "0123456789ABCDEF";
	int rc = 0;

	for (size_t i = 0; i < len && !rc; i++) {
		unsigned char c = (unsigned char)data[i];

		if (is_unreserved(c) || (keep_slash && c == '/')) {
			rc = dynbuf_addc(b, (char)c);
		} else {
			char esc[3] = {'%', digits[c >> 4], digits[c & 0xf]};

			rc = dynbuf_add(b, esc, sizeof(esc));
		}
	}
	return rc;
}

/* Appends data with valid %XX sequences decoded (a '%' not followed by two
 * hex digits stays as it is; '+' stays '+'). */
static int uri_decode(struct dynbuf *b, const char *data, size_t len)
{
	int rc = 0;

	for (size_t i = 0; i < len && !rc; i++) {
		int hi = -1, lo = -1;

		if (data[i] == '%' && i + 2 < len) {
			hi = hexval((unsigned char)data[i + 1]);
			lo = hexval((unsigned char)data[i + 2]);
		}
		if (hi >= 0 && lo >= 0) {
			rc = dynbuf_addc(b, (char)(hi << 4 | lo));
			i += 2;
		} else {
			rc = dynbuf_addc(b, data[i]);
		}
	}
	return rc;
}

/* Appends the component data encoded exactly once: decoded, then encoded. */
static int uri_reencode(struct dynbuf *b, const char *data, size_t len)
{
	struct dynbuf raw = {0};
	int rc;

	rc = uri_decode(&raw, data, len);
	if (!rc)
		rc = uri_encode(b, raw.p ? raw.p : "", raw.len, false);
	dynbuf_free(&raw);
	return rc;
}

/* SHA-256, fetched from the provider once: OpenSSL 3 looks an implicitly
 * named algorithm up (under a lock) on every use, which cost more than the
 * hashing itself, five HMACs and two digests a request. */
static const EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* A digest context for the sha256 and hmac_sha256 calls of one signature
 * (caller frees with EVP_MD_CTX_free), or NULL when out of memory or the
 * provider has no SHA-256. */
static EVP_MD_CTX *sha256_ctx_new(void)
{
	pthread_once(&sha256_once, sha256_fetch);
	return sha256_md ? EVP_MD_CTX_new() : NULL;
}

/* Hashes the n parts (data, len) into md. */
static int sha256_parts(EVP_MD_CTX *ctx, const void *const *data,
			const size_t *len, size_t n,
			unsigned char md[SHA256_LEN])
{
	unsigned int md_len = 0;
	int ok;

	if (!ctx)
		return -ENOMEM;
	ok = EVP_DigestInit_ex(ctx, sha256_md, NULL);
	for (size_t i = 0; ok && i < n; i++)
		ok = EVP_DigestUpdate(ctx, data[i] ? data[i] : "", len[i]);
	if (ok)
		ok = EVP_DigestFinal_ex(ctx, md, &md_len);
	return ok && md_len == SHA256_LEN ? 0 : -ENOMEM;
}

static int sha256(EVP_MD_CTX *ctx, const void *data, size_t len,
		  unsigned char md[SHA256_LEN])
{
	return sha256_parts(ctx, &data, &len, 1, md);
}

static int sha256_hex(EVP_MD_CTX *ctx, const void *data, size_t len,
		      char out[65])
{
	unsigned char md[SHA256_LEN];
	int rc;

	rc = sha256(ctx, data, len, md);
	if (rc) {
		out[0] = '\0';
		return rc;
	}
	hex_encode(md, sizeof(md), out);
	return 0;
}

void sigv4_sha256_hex(const void *data, size_t len, char out[65])
{
	EVP_MD_CTX *ctx = sha256_ctx_new();

	/* On the (allocation) failure of the digest out is "". */
	(void)sha256_hex(ctx, data, len, out);
	EVP_MD_CTX_free(ctx);
}

/* HMAC-SHA256 (RFC 2104) of msg under key into md (32 bytes), on the
 * fetched digest: OpenSSL's one-shot HMAC() fetches it again each call. */
static int hmac_sha256(EVP_MD_CTX *ctx, const void *key, size_t key_len,
		       const char *msg, size_t msg_len,
		       unsigned char md[SHA256_LEN])
{
	enum { BLOCK = 64 };
	unsigned char k0[BLOCK] = {0}, pad[BLOCK], inner[SHA256_LEN];
	const void *parts[2];
	size_t lens[2];
	int rc = 0;

	if (key_len > BLOCK)
		rc = sha256(ctx, key, key_len, k0);
	else if (key_len)
		memcpy(k0, key, key_len);
	for (size_t i = 0; i < BLOCK; i++)
		pad[i] = k0[i] ^ 0x36;
	parts[0] = pad;
	lens[0] = BLOCK;
	parts[1] = msg;
	lens[1] = msg_len;
	if (!rc)
		rc = sha256_parts(ctx, parts, lens, 2, inner);
	for (size_t i = 0; i < BLOCK; i++)
		pad[i] = k0[i] ^ 0x5c;
	parts[1] = inner;
	lens[1] = sizeof(inner);
	if (!rc)
		rc = sha256_parts(ctx, parts, lens, 2, md);
	OPENSSL_cleanse(k0, sizeof(k0));
	OPENSSL_cleanse(pad, sizeof(pad));
	OPENSSL_cleanse(inner, sizeof(inner));
	return rc;
}

int sigv4_format_date(time_t now, char out[SIGV4_DATE_LEN])
{
	struct tm tm;
	int n;

	if (!out)
		return -EINVAL;
	if (!gmtime_r(&now, &tm))
		return -EINVAL;
	if (tm.tm_year < 0 - 1900 || tm.tm_year > 9999 - 1900)
		return -EINVAL;
	n = snprintf(out, SIGV4_DATE_LEN, "%04d%02d%02dT%02d%02d%02dZ",
		     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		     tm.tm_min, tm.tm_sec);
	if (n != SIGV4_DATE_LEN - 1)
		return -EINVAL;
	return 0;
}

/* One header in canonical form. name and value are owned by the entry. */
struct canon_header {
	char *name;   /* lower-cased */
	char *value;  /* trimmed, whitespace runs folded to one space */
	size_t order; /* position in the request, to keep repeats in order */
};

/* Header names are HTTP tokens: visible ASCII without separators. */
static bool valid_header_name(const char *name)
{
	if (!*name)
		return false;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		if (*p <= ' ' || *p >= 0x7f ||
		    strchr("\"(),/:;<=>?@[\\]{}", *p))
			return false;
	}
	return true;
}

/* Fills h from name/value; returns 0, -EINVAL for a bad name, -ENOMEM. On
 * error h holds nothing. */
static int canon_header_init(struct canon_header *h, const char *name,
			     const char *value, size_t order)
{
	struct dynbuf v = {0};
	const unsigned char *p = (const unsigned char *)value;
	int rc = 0;

	memset(h, 0, sizeof(*h));
	if (!valid_header_name(name))
		return -EINVAL;
	h->name = strdup(name);
	if (!h->name) {
		rc = -ENOMEM;
		goto out;
	}
	for (char *c = h->name; *c; c++) {
		if (*c >= 'A' && *c <= 'Z')
			*c = (char)(*c - 'A' + 'a');
	}
	while (*p && !rc) {
		const unsigned char *word;

		while (is_space(*p))
			p++;
		if (!*p)
			break;
		word = p;
		while (*p && !is_space(*p))
			p++;
		if (v.len)
			rc = dynbuf_addc(&v, ' ');
		if (!rc)
			rc = dynbuf_add(&v, word, (size_t)(p - word));
	}
	if (rc)
		goto out;
	h->value = dynbuf_take(&v);
	if (!h->value)
		rc = -ENOMEM;
out:
	dynbuf_free(&v);
	if (rc) {
		free(h->name);
		memset(h, 0, sizeof(*h));
	}
	return rc;
}

static int canon_header_cmp(const void *a, const void *b)
{
	const struct canon_header *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

/* One query parameter, encoded once. key and value are owned. */
struct query_param {
	char *key;
	char *value;
};

static int query_param_cmp(const void *a, const void *b)
{
	const struct query_param *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	return c ? c : strcmp(x->value, y->value);
}

/* Appends the canonical query string of query (may be NULL). Empty
 * parameters ("a=1&&b=2") are skipped. */
static int add_canonical_query(struct dynbuf *b, const char *query)
{
	struct query_param *params = NULL;
	struct dynbuf k = {0}, v = {0};
	size_t n = 0, max = 1;
	const char *p;
	int rc = 0;

	if (!query || !*query)
		return 0;
	for (p = query; *p; p++)
		max += *p == '&';
	params = calloc(max, sizeof(*params));
	if (!params) {
		rc = -ENOMEM;
		goto out;
	}
	p = query;
	while (*p) {
		size_t plen = strcspn(p, "&");
		const char *eq = memchr(p, '=', plen);
		size_t klen = eq ? (size_t)(eq - p) : plen;

		if (plen) {
			rc = uri_reencode(&k, p, klen);
			if (!rc && eq)
				rc = uri_reencode(&v, eq + 1, plen - klen - 1);
			if (rc)
				goto out;
			params[n].key = dynbuf_take(&k);
			params[n].value = dynbuf_take(&v);
			n++;
			if (!params[n - 1].key || !params[n - 1].value) {
				rc = -ENOMEM;
				goto out;
			}
		}
		p += plen;
		if (*p == '&')
			p++;
	}
	qsort(params, n, sizeof(*params), query_param_cmp);
	for (size_t i = 0; i < n && !rc; i++) {
		if (i)
			rc = dynbuf_addc(b, '&');
		if (!rc)
			rc = dynbuf_adds(b, params[i].key);
		if (!rc)
			rc = dynbuf_addc(b, '=');
		if (!rc)
			rc = dynbuf_adds(b, params[i].value);
	}
out:
	dynbuf_free(&k);
	dynbuf_free(&v);
	for (size_t i = 0; params && i < n; i++) {
		free(params[i].key);
		free(params[i].value);
	}
	free(params);
	return rc;
}

/* Builds the canonical request into cr and the signed-header list into sh
 * (both owned by the caller's bufs). Checks that x-amz-date equals date.
 * Returns 0, -EINVAL, -ENOMEM. */
static int canonical_request(EVP_MD_CTX *ctx, const struct sigv4_request *req,
			     const char *date, struct dynbuf *cr,
			     struct dynbuf *sh)
{
	struct canon_header *hs = NULL;
	char body_hash[65];
	bool date_seen = false, date_bad = false;
	size_t n = 0;
	int rc = 0;

	/* Method, upper-cased as botocore does. */
	for (const char *m = req->method; *m && !rc; m++) {
		char c = *m;

		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		rc = dynbuf_addc(cr, c);
	}
	if (!rc)
		rc = dynbuf_addc(cr, '\n');
	if (rc)
		goto out;

	/* Canonical URI: the path encoded once, "/" when empty. */
	if (*req->path)
		rc = uri_encode(cr, req->path, strlen(req->path), true);
	else
		rc = dynbuf_addc(cr, '/');
	if (!rc)
		rc = dynbuf_addc(cr, '\n');
	if (!rc)
		rc = add_canonical_query(cr, req->query);
	if (!rc)
		rc = dynbuf_addc(cr, '\n');
	if (rc)
		goto out;

	/* Canonical headers, sorted by name, repeats joined in given order. */
	hs = calloc(req->n_headers ? req->n_headers : 1, sizeof(*hs));
	if (!hs) {
		rc = -ENOMEM;
		goto out;
	}
	for (n = 0; n < req->n_headers; n++) {
		rc = canon_header_init(&hs[n], req->headers[n].name,
				       req->headers[n].value, n);
		if (rc)
			goto out;
		if (!strcmp(hs[n].name, "x-amz-date")) {
			date_seen = true;
			date_bad |= strcmp(hs[n].value, date) != 0;
		}
	}
	if (!date_seen || date_bad) {
		rc = -EINVAL;
		goto out;
	}
	qsort(hs, n, sizeof(*hs), canon_header_cmp);
	for (size_t i = 0; i < n && !rc; i++) {
		bool repeat = i && !strcmp(hs[i].name, hs[i - 1].name);

		if (repeat) {
			rc = dynbuf_addc(cr, ',');
		} else {
			if (i)
				rc = dynbuf_addc(cr, '\n');
			if (!rc && sh->len)
				rc = dynbuf_addc(sh, ';');
			if (!rc)
				rc = dynbuf_adds(sh, hs[i].name);
			if (!rc)
				rc = dynbuf_adds(cr, hs[i].name);
			if (!rc)
				rc = dynbuf_addc(cr, ':');
		}
		if (!rc)
			rc = dynbuf_adds(cr, hs[i].value);
	}
	if (!rc)
		rc = dynbuf_adds(cr, "\n\n");
	if (!rc)
		rc = dynbuf_add(cr, sh->p ? sh->p : "", sh->len);
	if (!rc)
		rc = dynbuf_addc(cr, '\n');
	if (!rc)
		rc = sha256_hex(ctx, req->body, req->body_len, body_hash);
	if (!rc)
		rc = dynbuf_adds(cr, body_hash);
out:
	for (size_t i = 0; hs && i < n; i++) {
		free(hs[i].name);
		free(hs[i].value);
	}
	free(hs);
	return rc;
}

/* Derives the signing key for scope_date/region/service into key (32
 * bytes); the caller wipes key. Everything derived from the secret here is
 * wiped before returning. Returns 0, -EINVAL, -ENOMEM. */
static int signing_key(EVP_MD_CTX *ctx, const char *secret,
		       const char *scope_date, const char *region,
		       const char *service, unsigned char key[SHA256_LEN])
{
	unsigned char k1[SHA256_LEN], k2[SHA256_LEN];
	size_t secret_len = strlen(secret);
	size_t len = secret_len + 4;
	char *secret4;
	int rc;

	/* Sized once, so no realloc leaves a copy of the secret behind. */
	secret4 = malloc(len + 1);
	if (!secret4)
		return -ENOMEM;
	memcpy(secret4, "AWS4", 4);
	memcpy(secret4 + 4, secret, secret_len + 1);
	rc = hmac_sha256(ctx, secret4, len, scope_date, strlen(scope_date), k1);
	if (!rc)
		rc = hmac_sha256(ctx, k1, sizeof(k1), region, strlen(region),
				 k2);
	if (!rc)
		rc = hmac_sha256(ctx, k2, sizeof(k2), service, strlen(service),
				 k1);
	if (!rc)
		rc = hmac_sha256(ctx, k1, sizeof(k1), SIGV4_TERMINATOR,
				 strlen(SIGV4_TERMINATOR), key);
	OPENSSL_cleanse(secret4, len + 1);
	free(secret4);
	OPENSSL_cleanse(k1, sizeof(k1));
	OPENSSL_cleanse(k2, sizeof(k2));
	return rc;
}

static bool valid_request(const struct sigv4_request *req)
{
	if (!req || !req->method || !*req->method || !req->path)
		return false;
	if (!req->headers && req->n_headers)
		return false;
	if (!req->body && req->body_len)
		return false;
	for (size_t i = 0; i < req->n_headers; i++) {
		if (!req->headers[i].name || !req->headers[i].value)
			return false;
	}
	return true;
}

int sigv4_sign(const struct sigv4_request *req,
	       const struct sigv4_credentials *creds, const char *region,
	       const char *service, time_t now, struct sigv4_signature *out)
{
	struct dynbuf cr = {0}, sh = {0}, scope = {0}, sts = {0}, auth = {0};
	unsigned char key[SHA256_LEN], sig[SHA256_LEN];
	char date[SIGV4_DATE_LEN], scope_date[9], hash[65], sig_hex[65];
	EVP_MD_CTX *ctx = NULL;
	int rc;

	if (out)
		memset(out, 0, sizeof(*out));
	if (!out || !valid_request(req) || !creds || !creds->access_key_id ||
	    !*creds->access_key_id || !creds->secret_access_key || !region ||
	    !*region || !service || !*service)
		return -EINVAL;
	rc = sigv4_format_date(now, date);
	if (rc)
		return rc;
	memcpy(scope_date, date, 8);
	scope_date[8] = '\0';

	ctx = sha256_ctx_new();
	if (!ctx) {
		rc = -ENOMEM;
		goto out;
	}
	rc = canonical_request(ctx, req, date, &cr, &sh);
	if (rc)
		goto out;

	/* Credential scope and string to sign. */
	rc = dynbuf_adds(&scope, scope_date);
	if (!rc)
		rc = dynbuf_addc(&scope, '/');
	if (!rc)
		rc = dynbuf_adds(&scope, region);
	if (!rc)
		rc = dynbuf_addc(&scope, '/');
	if (!rc)
		rc = dynbuf_adds(&scope, service);
	if (!rc)
		rc = dynbuf_adds(&scope, "/" SIGV4_TERMINATOR);
	if (!rc)
		rc = sha256_hex(ctx, cr.p, cr.len, hash);
	if (!rc)
		rc = dynbuf_adds(&sts, SIGV4_ALGORITHM "\n");
	if (!rc)
		rc = dynbuf_adds(&sts, date);
	if (!rc)
		rc = dynbuf_addc(&sts, '\n');
	if (!rc)
		rc = dynbuf_add(&sts, scope.p, scope.len);
	if (!rc)
		rc = dynbuf_addc(&sts, '\n');
	if (!rc)
		rc = dynbuf_adds(&sts, hash);
	if (rc)
		goto out;

	/* Signature. */
	rc = signing_key(ctx, creds->secret_access_key, scope_date, region,
			 service, key);
	if (!rc)
		rc = hmac_sha256(ctx, key, sizeof(key), sts.p, sts.len, sig);
	if (rc)
		goto out;
	hex_encode(sig, sizeof(sig), sig_hex);

	/* Authorization header value. */
	rc = dynbuf_adds(&auth, SIGV4_ALGORITHM " Credential=");
	if (!rc)
		rc = dynbuf_adds(&auth, creds->access_key_id);
	if (!rc)
		rc = dynbuf_addc(&auth, '/');
	if (!rc)
		rc = dynbuf_add(&auth, scope.p, scope.len);
	if (!rc)
		rc = dynbuf_adds(&auth, ", SignedHeaders=");
	if (!rc)
		rc = dynbuf_add(&auth, sh.p ? sh.p : "", sh.len);
	if (!rc)
		rc = dynbuf_adds(&auth, ", Signature=");
	if (!rc)
		rc = dynbuf_adds(&auth, sig_hex);
	if (rc)
		goto out;

	out->canonical_request = dynbuf_take(&cr);
	out->string_to_sign = dynbuf_take(&sts);
	out->authorization = dynbuf_take(&auth);
	if (!out->canonical_request || !out->string_to_sign ||
	    !out->authorization) {
		sigv4_signature_free(out);
		rc = -ENOMEM;
	}
out:
	EVP_MD_CTX_free(ctx);
	OPENSSL_cleanse(key, sizeof(key));
	OPENSSL_cleanse(sig, sizeof(sig));
	dynbuf_free(&cr);
	dynbuf_free(&sh);
	dynbuf_free(&scope);
	dynbuf_free(&sts);
	dynbuf_free(&auth);
	return rc;
}

void sigv4_signature_free(struct sigv4_signature *sig)
{
	if (!sig)
		return;
	free(sig->authorization);
	free(sig->canonical_request);
	free(sig->string_to_sign);
	memset(sig, 0, sizeof(*sig));
}
