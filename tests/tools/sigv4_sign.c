/* sigv4_sign.c - signs a DynamoDB POST / request with the project's SigV4
 * module and prints the Authorization value, for the botocore cross-check. */
#include "sigv4.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BODY (64u << 20)

static void usage(FILE *f)
{
	fputs("usage: sigv4-sign --access-key K --secret S [--token T] "
	      "--region R\n"
	      "         --time UNIX_SECONDS --target DynamoDB_20120810.X "
	      "--host H\n"
	      "         --body-file F\n"
	      "Prints the Authorization header value of the DynamoDB request "
	      "POST /\nthe client would send.\n",
	      f);
}

/* Reads the file at path into *data (caller frees) and *len. Returns 0 or
 * -errno. */
static int read_body(const char *path, char **data, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n = 0;
	int rc = 0;

	*data = NULL;
	*len = 0;
	if (!f)
		return -errno;
	buf = malloc(MAX_BODY);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	n = fread(buf, 1, MAX_BODY, f);
	if (ferror(f)) {
		rc = -EIO;
		goto out;
	}
	if (n == MAX_BODY && fgetc(f) != EOF) {
		rc = -EFBIG;
		goto out;
	}
	*data = buf;
	*len = n;
	buf = NULL;
out:
	free(buf);
	fclose(f);
	return rc;
}

/* Parses a decimal time_t; returns 0 or -EINVAL. */
static int parse_time(const char *s, time_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || (long long)(time_t)v != v)
		return -EINVAL;
	*out = (time_t)v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"access-key", required_argument, NULL, 'a'},
	    {"secret", required_argument, NULL, 's'},
	    {"token", required_argument, NULL, 't'},
	    {"region", required_argument, NULL, 'r'},
	    {"time", required_argument, NULL, 'T'},
	    {"target", required_argument, NULL, 'x'},
	    {"host", required_argument, NULL, 'H'},
	    {"body-file", required_argument, NULL, 'b'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct sigv4_credentials creds = {NULL, NULL, NULL};
	struct sigv4_signature sig = {0};
	const char *region = NULL, *target = NULL, *host = NULL;
	const char *body_file = NULL, *time_arg = NULL;
	char date[SIGV4_DATE_LEN];
	char *body = NULL;
	size_t body_len = 0;
	time_t now;
	int c, rc;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			creds.access_key_id = optarg;
			break;
		case 's':
			creds.secret_access_key = optarg;
			break;
		case 't':
			creds.session_token = optarg;
			break;
		case 'r':
			region = optarg;
			break;
		case 'T':
			time_arg = optarg;
			break;
		case 'x':
			target = optarg;
			break;
		case 'H':
			host = optarg;
			break;
		case 'b':
			body_file = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || !creds.access_key_id ||
	    !creds.secret_access_key || !region || !time_arg || !target ||
	    !host || !body_file) {
		usage(stderr);
		return 2;
	}
	if (parse_time(time_arg, &now)) {
		fprintf(stderr, "sigv4-sign: bad --time\n");
		return 2;
	}
	rc = sigv4_format_date(now, date);
	if (rc) {
		fprintf(stderr, "sigv4-sign: --time out of range\n");
		return 2;
	}
	rc = read_body(body_file, &body, &body_len);
	if (rc) {
		fprintf(stderr, "sigv4-sign: %s: %s\n", body_file,
			strerror(-rc));
		return 1;
	}

	/* The headers the DynamoDB client sends and signs. */
	struct sigv4_header headers[] = {
	    {"content-type", "application/x-amz-json-1.0"},
	    {"host", host},
	    {"x-amz-date", date},
	    {"x-amz-target", target},
	    {"x-amz-security-token", creds.session_token},
	};
	struct sigv4_request req = {
	    .method = "POST",
	    .path = "/",
	    .query = NULL,
	    .headers = headers,
	    .n_headers = creds.session_token ? 5 : 4,
	    .body = body,
	    .body_len = body_len,
	};

	rc = sigv4_sign(&req, &creds, region, "dynamodb", now, &sig);
	if (rc) {
		/* No argument is echoed: some are secret. */
		fprintf(stderr, "sigv4-sign: signing failed: %s\n",
			strerror(-rc));
		free(body);
		return 1;
	}
	printf("%s\n", sig.authorization);
	sigv4_signature_free(&sig);
	free(body);
	return fflush(stdout) ? 1 : 0;
}
