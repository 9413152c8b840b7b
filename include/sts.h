/* sts.h - an AWS STS client: AssumeRole (SigV4 for service "sts") and
 * AssumeRoleWithWebIdentity (unsigned) over the query API, XML answers. */
#ifndef DYNAMOFS_STS_H
#define DYNAMOFS_STS_H

#include <stddef.h>
#include <time.h>

#include "creds.h"
#include "http.h"
#include "sigv4.h"

/* What an STS answer said: credentials, or an <ErrorResponse>. */
struct sts_answer {
	struct creds creds;	/* set for a credentials answer */
	char *assumed_role_arn; /* AssumedRoleUser/Arn, or NULL */
	char *error_code;	/* ErrorResponse/Error/Code, or NULL */
	char *error_message;	/* ErrorResponse/Error/Message, or NULL */
};

/* Parses len bytes of an STS answer to action ("AssumeRole",
 * "AssumeRoleWithWebIdentity") with expat: either
 * <ACTIONResponse><ACTIONResult><Credentials> with AccessKeyId,
 * SecretAccessKey, SessionToken and Expiration (creds_parse_time), or
 * <ErrorResponse><Error><Code>. Elements are matched by local name in any
 * namespace; a DOCTYPE (and so any entity declaration) is refused, the five
 * predefined entities and character references are decoded. Answers over
 * 1 MiB are refused. Fills *out (caller frees with sts_answer_free; zeroed on
 * failure). Returns 0 (out->error_code set for an error answer, else
 * out->creds), -EINVAL (malformed, wrong shape, missing or empty field; err
 * names the field, never a value), -ENOMEM. Pure and thread-safe. */
int sts_parse_response(const char *body, size_t len, const char *action,
		       struct sts_answer *out, char *err, size_t errlen);

/* Frees what sts_parse_response filled (wiping the secret); zeroes a. */
void sts_answer_free(struct sts_answer *a);

/* The STS endpoint as the SDKs pick it: AWS_ENDPOINT_URL_STS, then
 * AWS_ENDPOINT_URL, then the profile's [services NAME] "sts = endpoint_url =
 * URL", then the profile's endpoint_url (none of these four when
 * config_ignore_endpoints), then https://sts.REGION.amazonaws.com (.com.cn
 * for cn-*). cfg may be NULL (then only the variables count). Trailing
 * slashes are dropped. Sets *url and *source (what chose it, for --check;
 * caller frees both with free). Returns 0, -EINVAL (no region and no
 * configured URL, or a URL that is not http(s)://; err says which), -ENOMEM.
 * Reads the environment (not thread-safe against setenv). */
int sts_endpoint(const struct config *cfg, const char *region, char **url,
		 char **source, char *err, size_t errlen);

/* The role session name botocore makes when none is configured:
 * "botocore-session-<now>". out must hold 40 bytes. */
void sts_default_session_name(time_t now, char out[40]);

struct sts_assume_role {
	const char *role_arn;	  /* required */
	const char *session_name; /* NULL: sts_default_session_name(now) */
	const char *external_id;  /* NULL: none */
	int duration_seconds;	  /* 0: STS's default (one hour) */
	const char *mfa_serial;	  /* SerialNumber, with mfa_code; NULL: none */
	const char *mfa_code;	  /* TokenCode (never logged) */
};

/* Calls AssumeRole at endpoint (a URL from sts_endpoint) for region, signed
 * with source (the credentials of the source profile) at time now. Retries
 * twice (after 200 and 400 ms) on a transport error, an HTTP 5xx, a
 * throttling code or IDPCommunicationError. http is borrowed. Fills *out
 * (caller frees with creds_clear). Returns 0, or -EACCES  STS refused (err:
 * "STS AssumeRole of role R refused: CODE: MESSAGE") -EIO     STS unreachable
 * or failing after the retries, or an answer that is not STS's XML (err says
 * which) -EINVAL  a bad argument or endpoint URL -ENOMEM err (may be NULL) gets
 * one line that never holds a secret, token or MFA code. Thread-safe. */
int sts_assume_role(struct http_client *http, const char *endpoint,
		    const char *region, const struct sigv4_credentials *source,
		    const struct sts_assume_role *req, time_t now,
		    struct creds *out, char *err, size_t errlen);

/* Calls AssumeRoleWithWebIdentity (unsigned) with token (the content of
 * the web identity token file, read by the caller at every refresh so a
 * rotated token is used), role_arn, session_name (NULL: default) and
 * duration_seconds (0: default). Retries, results and errors as
 * sts_assume_role (err names "AssumeRoleWithWebIdentity"). */
int sts_assume_role_with_web_identity(
    struct http_client *http, const char *endpoint, const char *role_arn,
    const char *session_name, const char *token, int duration_seconds,
    time_t now, struct creds *out, char *err, size_t errlen);

#endif
