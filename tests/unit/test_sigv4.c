/* test_sigv4.c - unit tests of the SigV4 signer: every AWS test vector under
 * tests/data/sigv4 (one TAP line each) plus table cases. */
#include "sigv4.h"
#include "tap.h"

#include <dirent.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* The fixed inputs of the AWS test suite (see testdata/sigv4/README.md). */
#define SUITE_AKID    "AKIDEXAMPLE"
#define SUITE_SECRET  "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define SUITE_REGION  "us-east-1"
#define SUITE_SERVICE "service"
#define SUITE_TIME    ((time_t)1440938160) /* 20150830T123600Z */
#define SUITE_CASES   34

/* ---- small helpers ---- */

/* Reads a whole file; returns it NUL-terminated (caller frees) and its
 * length in *len, or NULL when it cannot be read. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *data = NULL;
	size_t n = 0, cap = 0;

	if (!f)
		return NULL;
	for (;;) {
		size_t got;

		if (cap - n < 4096) {
			char *p = realloc(data, cap + 65536);

			if (!p) {
				free(data);
				fclose(f);
				return NULL;
			}
			data = p;
			cap += 65536;
		}
		got = fread(data + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	fclose(f);
	data[n] = '\0';
	if (len)
		*len = n;
	return data;
}

/* Like slurp, without one trailing newline. */
static char *slurp_expected(const char *path)
{
	size_t len = 0;
	char *s = slurp(path, &len);

	if (s && len && s[len - 1] == '\n')
		s[len - 1] = '\0';
	return s;
}

static char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (!p) {
		perror("strndup");
		exit(2);
	}
	return p;
}

/* Returns the formatted string (caller frees); exits on failure. */
__attribute__((format(printf, 1, 2))) static char *xasprintf(const char *fmt,
							     ...)
{
	va_list ap;
	char *s = NULL;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		perror("vasprintf");
		exit(2);
	}
	return s;
}

/* Returns the value of the first line of text starting with prefix
 * (case-insensitive), up to the end of that line (caller frees), or NULL. */
static char *line_value(const char *text, const char *prefix)
{
	size_t plen = strlen(prefix);

	for (const char *l = text; l && *l;) {
		const char *end = strchr(l, '\n');

		if (!strncasecmp(l, prefix, plen))
			return xstrndup(l + plen, end ? (size_t)(end - l - plen)
						      : strlen(l + plen));
		l = end ? end + 1 : NULL;
	}
	return NULL;
}

/* ---- the .req parser ---- */

#define MAX_HEADERS 32

/* A parsed <case>.req; every string is owned by the struct. */
struct parsed_req {
	char *method, *path, *query;
	struct sigv4_header headers[MAX_HEADERS];
	size_t n_headers;
	char *body;
	size_t body_len;
};

static void parsed_req_free(struct parsed_req *r)
{
	free(r->method);
	free(r->path);
	free(r->query);
	for (size_t i = 0; i < r->n_headers; i++) {
		free((char *)r->headers[i].name);
		free((char *)r->headers[i].value);
	}
	free(r->body);
	memset(r, 0, sizeof(*r));
}

/* Parses text (LF line ends): request line split on the LAST " HTTP/",
 * "Name:value" lines, obsolete folding (continuation lines start with a
 * space or a tab), then after a blank line the body. Returns 0 or -1. */
static int parse_req(const char *text, size_t len, struct parsed_req *r)
{
	const char *end = text + len, *line = text, *nl, *http, *sp, *q;

	memset(r, 0, sizeof(*r));
	nl = memchr(line, '\n', (size_t)(end - line));
	if (!nl)
		nl = end;
	http = NULL;
	for (const char *p = line; p + 6 <= nl; p++) {
		if (!memcmp(p, " HTTP/", 6))
			http = p;
	}
	sp = memchr(line, ' ', (size_t)(nl - line));
	if (!http || !sp || sp >= http)
		return -1;
	r->method = xstrndup(line, (size_t)(sp - line));
	q = memchr(sp + 1, '?', (size_t)(http - sp - 1));
	if (q) {
		r->path = xstrndup(sp + 1, (size_t)(q - sp - 1));
		r->query = xstrndup(q + 1, (size_t)(http - q - 1));
	} else {
		r->path = xstrndup(sp + 1, (size_t)(http - sp - 1));
	}

	line = nl < end ? nl + 1 : end;
	while (line < end) {
		const char *colon;

		nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl)
			nl = end;
		if (nl == line) { /* blank line: the body follows */
			line = nl + 1;
			break;
		}
		if ((*line == ' ' || *line == '\t') && r->n_headers) {
			/* Folded: the signer folds the whitespace itself. */
			struct sigv4_header *h = &r->headers[r->n_headers - 1];
			size_t old = strlen(h->value);
			size_t add = (size_t)(nl - line);
			char *v = realloc((char *)h->value, old + add + 2);

			if (!v)
				return -1;
			v[old] = ' ';
			memcpy(v + old + 1, line, add);
			v[old + 1 + add] = '\0';
			h->value = v;
		} else {
			colon = memchr(line, ':', (size_t)(nl - line));
			if (!colon || r->n_headers == MAX_HEADERS)
				return -1;
			r->headers[r->n_headers].name =
			    xstrndup(line, (size_t)(colon - line));
			r->headers[r->n_headers].value =
			    xstrndup(colon + 1, (size_t)(nl - colon - 1));
			r->n_headers++;
		}
		line = nl < end ? nl + 1 : end;
	}
	if (line > end)
		line = end;
	r->body_len = (size_t)(end - line);
	r->body = xstrndup(line, r->body_len);
	return 0;
}

/* ---- the test-vector cases ---- */

/* Case paths relative to the suite folder, e.g. "get-vanilla" or
 * "post-sts-token/post-sts-header-after"; owned by the table. */
static char **vectors;
static size_t n_vectors;
static const char *suite_dir;

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Adds rel (a folder under suite_dir) as a case when it holds
 * <basename>.req, else scans its sub-folders (groups: normalize-path/,
 * post-sts-token/). */
static void scan_vectors(const char *rel, int depth)
{
	const char *base = strrchr(rel, '/');
	char *path, *req;
	struct dirent *de;
	bool is_case;
	DIR *d;

	base = base ? base + 1 : rel;
	path = xasprintf("%s/%s", suite_dir, rel);
	req = xasprintf("%s/%s.req", path, base);
	is_case = *rel && access(req, R_OK) == 0;
	free(req);
	if (is_case) {
		char **v = realloc(vectors, (n_vectors + 1) * sizeof(*v));

		if (!v)
			exit(2);
		vectors = v;
		vectors[n_vectors++] = xstrndup(rel, strlen(rel));
	}
	d = is_case || depth > 2 ? NULL : opendir(path);
	free(path);
	if (!d)
		return;
	while ((de = readdir(d))) {
		char *sub, *sub_path;

		if (de->d_name[0] == '.')
			continue;
		sub = xasprintf("%s%s%s", rel, *rel ? "/" : "", de->d_name);
		sub_path = xasprintf("%s/%s", suite_dir, sub);
		if (is_dir(sub_path))
			scan_vectors(sub, depth + 1);
		free(sub_path);
		free(sub);
	}
	closedir(d);
}

/* Not applicable: the AWS vectors of normalize-path/ expect "." and ".."
 * segments resolved and repeated '/' collapsed before encoding. sigv4.h
 * promises no such normalization (like S3's signer): DynamoDB always posts
 * to "/", and botocore's SigV4 for DynamoDB never sees such a path, so it
 * cannot change a DynamoDB signature. For these cases the test checks the
 * documented behaviour instead (the path is encoded as it is, unchanged)
 * and that signing succeeds; the other normalize-path cases (get-space,
 * get-special-character) need no normalization and are compared in full. */
static bool needs_path_normalization(const char *path)
{
	const char *seg = path;

	if (strstr(path, "//"))
		return true;
	while (seg) {
		const char *next = strchr(seg + 1, '/');
		size_t n = next ? (size_t)(next - seg - 1) : strlen(seg + 1);

		if ((n == 1 && !strncmp(seg + 1, ".", 1)) ||
		    (n == 2 && !strncmp(seg + 1, "..", 2)))
			return true;
		seg = next;
	}
	return false;
}

static char *case_path(const char *rel, const char *ext)
{
	const char *base = strrchr(rel, '/');

	base = base ? base + 1 : rel;
	return xasprintf("%s/%s/%s.%s", suite_dir, rel, base, ext);
}

static char *case_file(const char *rel, const char *ext)
{
	char *path = case_path(rel, ext);
	char *s = slurp_expected(path);

	free(path);
	return s;
}

/* Runs one vector; returns true when it was marked not applicable. */
static bool run_vector(const char *rel)
{
	struct sigv4_credentials creds = {SUITE_AKID, SUITE_SECRET, NULL};
	struct sigv4_signature sig = {0};
	struct sigv4_header headers[MAX_HEADERS + 1];
	struct parsed_req r;
	char *req = NULL, *creq = NULL, *sts = NULL, *authz = NULL;
	char *sreq = NULL, *token = NULL;
	size_t req_len = 0, n;
	bool na = false;
	char *path;
	int rc;

	path = case_path(rel, "req");
	req = slurp(path, &req_len);
	free(path);
	creq = case_file(rel, "creq");
	sts = case_file(rel, "sts");
	authz = case_file(rel, "authz");
	sreq = case_file(rel, "sreq");
	CHECK(req && creq && sts && authz && sreq);
	if (!req || !creq || !sts || !authz || !sreq)
		goto out;
	rc = parse_req(req, req_len, &r);
	CHECK_INT(rc, 0);
	if (rc)
		goto out;

	memcpy(headers, r.headers, r.n_headers * sizeof(*headers));
	n = r.n_headers;
	/* The session token: a signed one is on the x-amz-security-token line
	 * of .creq and is sent as a header (added here unless .req already
	 * has it, as post-sts-header-before does; get-vanilla-with-session-
	 * token does not). An unsigned one (post-sts-header-after) is only in
	 * .sreq: it is given in the credentials but not as a header, so it is
	 * not signed, as the header's contract says. */
	token = line_value(creq, "x-amz-security-token:");
	if (token) {
		bool in_req = false;

		for (size_t i = 0; i < n; i++)
			in_req |= !strcasecmp(headers[i].name,
					      "x-amz-security-token");
		if (!in_req) {
			headers[n].name = "X-Amz-Security-Token";
			headers[n].value = token;
			n++;
		}
	} else {
		token = line_value(sreq, "X-Amz-Security-Token:");
		CHECK(!token || !strcmp(rel, "post-sts-token/"
					     "post-sts-header-after"));
	}
	creds.session_token = token;

	struct sigv4_request sr = {
	    .method = r.method,
	    .path = r.path,
	    .query = r.query,
	    .headers = headers,
	    .n_headers = n,
	    .body = r.body,
	    .body_len = r.body_len,
	};
	rc = sigv4_sign(&sr, &creds, SUITE_REGION, SUITE_SERVICE, SUITE_TIME,
			&sig);
	CHECK_INT(rc, 0);
	if (rc)
		goto free_req;

	if (!strncmp(rel, "normalize-path/", 15) &&
	    needs_path_normalization(r.path)) {
		/* Not applicable; see needs_path_normalization. */
		char *uri = xasprintf("%s\n%s\n", r.method, r.path);

		na = true;
		CHECK(!strncmp(sig.canonical_request, uri, strlen(uri)));
		free(uri);
		printf("#   %s: not applicable: the signer does not normalize "
		       "paths (DynamoDB always posts to /)\n",
		       rel);
	} else {
		CHECK_STR(sig.canonical_request, creq);
		CHECK_STR(sig.string_to_sign, sts);
		CHECK_STR(sig.authorization, authz);
	}
	sigv4_signature_free(&sig);
free_req:
	parsed_req_free(&r);
out:
	free(req);
	free(creq);
	free(sts);
	free(authz);
	free(sreq);
	free(token);
	return na;
}

/* ---- table cases ---- */

static void test_vector_count(void)
{
	/* Guards against a missing or moved suite: 24 + 8 + 2 cases. */
	CHECK(suite_dir != NULL);
	CHECK_INT(n_vectors, SUITE_CASES);
}

/* A DynamoDB request with a session token. The expected Authorization was
 * computed once with botocore 1.43.11 (Debian python3-botocore), by
 *   tests/tools/botocore_sign.py --access-key AKIDEXAMPLE \
 *     --secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY \
 *     --token 'FQoGZXIvYXdzEXAMPLE//token+with=chars==' --region us-east-1 \
 *     --time 1700000000 --target DynamoDB_20120810.ListTables \
 *     --host dynamodb.us-east-1.amazonaws.com --body-file F  # F holds {}
 * (botocore's SigV4Auth, clock frozen). The canonical request was written
 * by hand; its last line is sha256("{}"). */
static const struct {
	const char *name;
	const char *target;
	const char *token;
	const char *body;
	const char *creq;
	const char *authz;
} ddb_cases[] = {
    {
	"ListTables with session token",
	"DynamoDB_20120810.ListTables",
	"FQoGZXIvYXdzEXAMPLE//token+with=chars==",
	"{}",
	"POST\n/\n\n"
	"content-type:application/x-amz-json-1.0\n"
	"host:dynamodb.us-east-1.amazonaws.com\n"
	"x-amz-date:20231114T221320Z\n"
	"x-amz-security-token:FQoGZXIvYXdzEXAMPLE//token+with=chars==\n"
	"x-amz-target:DynamoDB_20120810.ListTables\n\n"
	"content-type;host;x-amz-date;x-amz-security-token;"
	"x-amz-target\n"
	"44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
	"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20231114/us-east-1/"
	"dynamodb/aws4_request, SignedHeaders=content-type;host;"
	"x-amz-date;x-amz-security-token;x-amz-target, "
	"Signature=6903d8c5dd87b9ee29391ebd5fec09c8e2f7fd46f3b09da630979e"
	"64b1638f3d",
    },
};

#define DDB_TIME ((time_t)1700000000) /* 20231114T221320Z */

static void test_dynamodb(void)
{
	for (size_t i = 0; i < sizeof(ddb_cases) / sizeof(ddb_cases[0]); i++) {
		struct sigv4_credentials creds = {SUITE_AKID, SUITE_SECRET,
						  ddb_cases[i].token};
		struct sigv4_signature sig = {0};
		char date[SIGV4_DATE_LEN];
		/* In the order the client sends them, not sorted. */
		struct sigv4_header h[] = {
		    {"Host", "dynamodb.us-east-1.amazonaws.com"},
		    {"X-Amz-Date", date},
		    {"X-Amz-Target", ddb_cases[i].target},
		    {"Content-Type", "application/x-amz-json-1.0"},
		    {"X-Amz-Security-Token", ddb_cases[i].token},
		};
		struct sigv4_request req = {"POST",
					    "/",
					    NULL,
					    h,
					    5,
					    ddb_cases[i].body,
					    strlen(ddb_cases[i].body)};

		printf("#   %s\n", ddb_cases[i].name);
		CHECK_INT(sigv4_format_date(DDB_TIME, date), 0);
		CHECK_INT(sigv4_sign(&req, &creds, "us-east-1", "dynamodb",
				     DDB_TIME, &sig),
			  0);
		CHECK_STR(sig.canonical_request, ddb_cases[i].creq);
		CHECK_STR(sig.authorization, ddb_cases[i].authz);
		sigv4_signature_free(&sig);
	}
}

static const struct {
	time_t now;
	int rc;
	const char *date;
} date_cases[] = {
    {0, 0, "19700101T000000Z"},
    {1440938160, 0, "20150830T123600Z"},
    {951782400, 0, "20000229T000000Z"},
    {1700000000, 0, "20231114T221320Z"},
    {-1, 0, "19691231T235959Z"},
    {(time_t)253402300799LL, 0, "99991231T235959Z"},
    {(time_t)253402300800LL, -EINVAL, NULL}, /* year 10000 */
};

static void test_format_date(void)
{
	char out[SIGV4_DATE_LEN];

	for (size_t i = 0; i < sizeof(date_cases) / sizeof(date_cases[0]);
	     i++) {
		int rc = sigv4_format_date(date_cases[i].now, out);

		CHECK_INT(rc, date_cases[i].rc);
		if (!rc && date_cases[i].date)
			CHECK_STR(out, date_cases[i].date);
	}
	CHECK_INT(sigv4_format_date(0, NULL), -EINVAL);
}

static void test_sha256_hex(void)
{
	char out[65];

	sigv4_sha256_hex(NULL, 0, out);
	CHECK_STR(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495"
		       "991b7852b855");
	sigv4_sha256_hex("abc", 3, out);
	CHECK_STR(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410"
		       "ff61f20015ad");
}

/* A valid request to break one field at a time. */
static struct sigv4_header good_h[] = {
    {"host", "example.amazonaws.com"},
    {"x-amz-date", "20150830T123600Z"},
};

static struct sigv4_request good_req(void)
{
	struct sigv4_request r = {"GET", "/", NULL, good_h, 2, NULL, 0};

	return r;
}

static int sign_with(const struct sigv4_request *req,
		     const struct sigv4_credentials *creds, const char *region,
		     const char *service, struct sigv4_signature *out)
{
	int rc = sigv4_sign(req, creds, region, service, SUITE_TIME, out);

	if (rc && out) {
		CHECK(out->authorization == NULL);
		CHECK(out->canonical_request == NULL);
		CHECK(out->string_to_sign == NULL);
	}
	return rc;
}

static void test_invalid(void)
{
	struct sigv4_credentials c = {SUITE_AKID, SUITE_SECRET, NULL};
	struct sigv4_credentials bad_c;
	struct sigv4_signature sig = {0};
	struct sigv4_request r;
	struct sigv4_header bad_h[2];

	r = good_req();
	CHECK_INT(sign_with(&r, &c, "us-east-1", "service", &sig), 0);
	sigv4_signature_free(&sig);

	CHECK_INT(sign_with(NULL, &c, "us-east-1", "service", &sig), -EINVAL);
	CHECK_INT(sign_with(&r, NULL, "us-east-1", "service", &sig), -EINVAL);
	CHECK_INT(sign_with(&r, &c, NULL, "service", &sig), -EINVAL);
	CHECK_INT(sign_with(&r, &c, "", "service", &sig), -EINVAL);
	CHECK_INT(sign_with(&r, &c, "us-east-1", NULL, &sig), -EINVAL);
	CHECK_INT(sign_with(&r, &c, "us-east-1", "service", NULL), -EINVAL);

	bad_c = c;
	bad_c.access_key_id = NULL;
	CHECK_INT(sign_with(&r, &bad_c, "us-east-1", "service", &sig), -EINVAL);
	bad_c = c;
	bad_c.secret_access_key = NULL;
	CHECK_INT(sign_with(&r, &bad_c, "us-east-1", "service", &sig), -EINVAL);

	r = good_req();
	r.method = NULL;
	CHECK_INT(sign_with(&r, &c, "us-east-1", "service", &sig), -EINVAL);
	r = good_req();
	r.path = NULL;
	CHECK_INT(sign_with(&r, &c, "us-east-1", "service", &sig), -EINVAL);
	r = good_req();
	r.headers = NULL;
	CHECK_INT(sign_with(&r, &c, "us-east-1", "service", &sig), -EINVAL);
	r = good_req();
	r.body_len = 3; /* body NULL */
	CHECK_INT(sign_with(&r, &c, "us-east-1", "service", &sig), -EINVAL);

	memcpy(bad_h, good_h, sizeof(bad_h));
	r = good_req();
	r.headers = bad_h;
	bad_h[0].name = NULL;
	CHECK_INT(sign_with(&r, &c, "us-east-1", "service", &sig), -EINVAL);
	memcpy(bad_h, good_h, sizeof(bad_h));
	bad_h[0].value = NULL;
	CHECK_INT(sign_with(&r, &c, "us-east-1", "service", &sig), -EINVAL);
	memcpy(bad_h, good_h, sizeof(bad_h));
	bad_h[0].name = "bad name";
	CHECK_INT(sign_with(&r, &c, "us-east-1", "service", &sig), -EINVAL);
	memcpy(bad_h, good_h, sizeof(bad_h));
	bad_h[0].name = "";
	CHECK_INT(sign_with(&r, &c, "us-east-1", "service", &sig), -EINVAL);

	/* x-amz-date missing, or not the time signed. */
	r = good_req();
	r.n_headers = 1;
	CHECK_INT(sign_with(&r, &c, "us-east-1", "service", &sig), -EINVAL);
	memcpy(bad_h, good_h, sizeof(bad_h));
	r = good_req();
	r.headers = bad_h;
	bad_h[1].value = "20150830T123601Z";
	CHECK_INT(sign_with(&r, &c, "us-east-1", "service", &sig), -EINVAL);

	/* A repeated x-amz-date must agree too. */
	{
		struct sigv4_header three[] = {
		    {"host", "example.amazonaws.com"},
		    {"x-amz-date", "20150830T123600Z"},
		    {"X-Amz-Date", "20150830T123601Z"},
		};

		r = good_req();
		r.headers = three;
		r.n_headers = 3;
		CHECK_INT(sign_with(&r, &c, "us-east-1", "service", &sig),
			  -EINVAL);
	}

	/* The free is safe on a zeroed struct, twice, and on NULL. */
	memset(&sig, 0, sizeof(sig));
	sigv4_signature_free(&sig);
	sigv4_signature_free(&sig);
	sigv4_signature_free(NULL);
}

/* Signs GET / with query and returns the canonical query line (caller
 * frees), or NULL. */
static char *canonical_query(const char *query)
{
	struct sigv4_credentials c = {SUITE_AKID, SUITE_SECRET, NULL};
	struct sigv4_signature sig = {0};
	struct sigv4_request r = good_req();
	char *line = NULL;

	r.query = query;
	if (sigv4_sign(&r, &c, "us-east-1", "service", SUITE_TIME, &sig) == 0) {
		const char *l = strchr(sig.canonical_request, '\n') + 1;

		l = strchr(l, '\n') + 1;
		line = xstrndup(l, strcspn(l, "\n"));
	}
	sigv4_signature_free(&sig);
	return line;
}

static const struct {
	const char *query;
	const char *canonical;
} query_cases[] = {
    {NULL, ""},
    {"", ""},
    {"b=2&a=1", "a=1&b=2"},
    {"a", "a="},
    {"a=", "a="},
    {"a=%41%2b&b=c d", "a=A%2B&b=c%20d"}, /* decoded, encoded once */
    {"a=A%2B&b=c%20d", "a=A%2B&b=c%20d"},
    {"k=%zz&k=%", "k=%25&k=%25zz"},		/* a stray % is data */
    {"a=1&&b=2", "a=1&b=2"},			/* empty parameters skipped */
    {"x=a+b", "x=a%2Bb"},			/* '+' is not a space */
    {"Param-3=3&Param=2", "Param=2&Param-3=3"}, /* by key, then value */
    {"%2F=%2f/", "%2F=%2F%2F"},
};

static void test_query(void)
{
	for (size_t i = 0; i < sizeof(query_cases) / sizeof(query_cases[0]);
	     i++) {
		char *got = canonical_query(query_cases[i].query);

		CHECK_STR(got, query_cases[i].canonical);
		free(got);
	}
}

/* The header order does not matter except among repeats; a changed secret,
 * region, body or token changes the signature. */
static void test_properties(void)
{
	struct sigv4_credentials c = {SUITE_AKID, SUITE_SECRET, NULL};
	struct sigv4_signature a = {0}, b = {0};
	struct sigv4_header rev[] = {
	    {"X-AMZ-DATE", "  20150830T123600Z "},
	    {"Host", "example.amazonaws.com"},
	};
	struct sigv4_request r = good_req();

	CHECK_INT(sigv4_sign(&r, &c, "us-east-1", "service", SUITE_TIME, &a),
		  0);
	r.headers = rev;
	CHECK_INT(sigv4_sign(&r, &c, "us-east-1", "service", SUITE_TIME, &b),
		  0);
	CHECK_STR(a.authorization, b.authorization);
	sigv4_signature_free(&b);

	c.secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEz";
	CHECK_INT(sigv4_sign(&r, &c, "us-east-1", "service", SUITE_TIME, &b),
		  0);
	CHECK(b.authorization && strcmp(a.authorization, b.authorization));
	/* Only the secret changed: the intermediate strings are the same. */
	CHECK_STR(a.canonical_request, b.canonical_request);
	CHECK_STR(a.string_to_sign, b.string_to_sign);
	sigv4_signature_free(&b);
	c.secret_access_key = SUITE_SECRET;

	CHECK_INT(sigv4_sign(&r, &c, "eu-west-1", "service", SUITE_TIME, &b),
		  0);
	CHECK(strstr(b.authorization, "/20150830/eu-west-1/service/") != NULL);
	CHECK(strcmp(a.authorization, b.authorization));
	sigv4_signature_free(&b);

	r.body = "x";
	r.body_len = 1;
	CHECK_INT(sigv4_sign(&r, &c, "us-east-1", "service", SUITE_TIME, &b),
		  0);
	CHECK(strcmp(a.authorization, b.authorization));
	sigv4_signature_free(&b);
	sigv4_signature_free(&a);
}

/* Hex HMAC-SHA256 by OpenSSL's own HMAC(): the signer hashes with its own
 * HMAC over a fetched digest, and this checks it independently. */
static void openssl_hmac(const void *key, size_t key_len, const char *msg,
			 unsigned char md[32])
{
	unsigned int len = 0;

	HMAC(EVP_sha256(), key, (int)key_len, (const unsigned char *)msg,
	     strlen(msg), md, &len);
}

/* The signature equals the key derivation of the SigV4 documentation done
 * with OpenSSL's HMAC, for secrets of every length up to 150 bytes:
 * "AWS4" + a secret of more than 60 bytes is longer than a SHA-256 block,
 * so HMAC hashes the key first (RFC 2104), a path the AWS vectors, whose
 * secrets are 40 bytes, never take. */
static void test_secret_lengths(void)
{
	struct sigv4_request r = good_req();
	char secret[151], key4[160], want[65], *got;
	unsigned char k[32], sig[32];

	for (size_t n = 1; n <= 150; n++) {
		struct sigv4_credentials c = {SUITE_AKID, secret, NULL};
		struct sigv4_signature s = {0};

		for (size_t i = 0; i < n; i++)
			secret[i] = (char)('!' + (i * 7 + n) % 90);
		secret[n] = '\0';
		CHECK_INT(
		    sigv4_sign(&r, &c, "us-east-1", "service", SUITE_TIME, &s),
		    0);
		snprintf(key4, sizeof(key4), "AWS4%s", secret);
		openssl_hmac(key4, strlen(key4), "20150830", k);
		openssl_hmac(k, 32, "us-east-1", k);
		openssl_hmac(k, 32, "service", k);
		openssl_hmac(k, 32, "aws4_request", k);
		openssl_hmac(k, 32, s.string_to_sign ? s.string_to_sign : "",
			     sig);
		for (size_t i = 0; i < 32; i++)
			snprintf(want + 2 * i, 3, "%02x", sig[i]);
		got = s.authorization ? strstr(s.authorization, "Signature=")
				      : NULL;
		CHECK_STR(got ? got + strlen("Signature=") : NULL, want);
		sigv4_signature_free(&s);
	}
}

static const struct tap_test table_tests[] = {
    {"vector count", test_vector_count},
    {"dynamodb request with session token", test_dynamodb},
    {"sigv4_format_date", test_format_date},
    {"sigv4_sha256_hex", test_sha256_hex},
    {"invalid inputs give -EINVAL", test_invalid},
    {"canonical query string", test_query},
    {"header order, secret, region, body", test_properties},
    {"secrets of 1 to 150 bytes, checked with OpenSSL's HMAC",
     test_secret_lengths},
    {0, 0},
};

int main(void)
{
	size_t n_table = 0, total, k = 0;
	int failed = 0;

	char *dir = NULL;

	/* The vectors live in the tree (tests/data/sigv4, with their licence):
	 * scripts/test and meson test set DYNAMOFS_TESTDATA; by hand, from the
	 * source root or a build dir in it, they are found relative to it. A
	 * folder that is missing or holds no vector is a failure, not a skip.
	 */
	if (getenv("DYNAMOFS_TESTDATA")) {
		dir = xasprintf("%s/sigv4", getenv("DYNAMOFS_TESTDATA"));
	} else {
		static const char *const guesses[] = {
		    "tests/data/sigv4",
		    "../tests/data/sigv4",
		};

		for (size_t i = 0; i < 2 && !dir; i++) {
			if (is_dir(guesses[i]))
				dir = xasprintf("%s", guesses[i]);
		}
	}
	if (dir && is_dir(dir)) {
		suite_dir = dir;
		scan_vectors("", 0);
	}
	if (n_vectors == 0) {
		printf("1..1\nnot ok 1 - no SigV4 test vectors in %s\n",
		       dir ? dir : "tests/data/sigv4 (set DYNAMOFS_TESTDATA)");
		free(dir);
		return 1;
	}
	qsort(vectors, n_vectors, sizeof(*vectors), cmp_str);
	while (table_tests[n_table].name)
		n_table++;
	total = n_vectors + n_table;
	printf("1..%zu\n", total);
	fflush(stdout);

	for (size_t i = 0; i < n_vectors; i++) {
		bool na;

		tap_failed_checks = 0;
		na = run_vector(vectors[i]);
		failed += tap_failed_checks != 0;
		printf("%s %zu - %s%s\n", tap_failed_checks ? "not ok" : "ok",
		       ++k, vectors[i],
		       na ? " (not applicable: no path normalization)" : "");
		fflush(stdout);
		free(vectors[i]);
	}
	free(vectors);
	for (size_t i = 0; i < n_table; i++) {
		tap_failed_checks = 0;
		table_tests[i].fn();
		failed += tap_failed_checks != 0;
		printf("%s %zu - %s\n", tap_failed_checks ? "not ok" : "ok",
		       ++k, table_tests[i].name);
		fflush(stdout);
	}
	free(dir);
	return failed ? 1 : 0;
}
