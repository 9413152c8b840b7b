/* sts.c - AWS STS AssumeRole and AssumeRoleWithWebIdentity over the query
 * API: the form body, SigV4 for "sts", retries, and the XML answer (expat). */
#include "sts.h"

#include <errno.h>
#include <expat.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "ddb.h"
#include "dynbuf.h"
#include "log.h"

/* Why expat and not libxml2: the answers are five flat fields, which a
 * streaming parser reads without building a tree; expat never fetches
 * external entities or DTDs, has a small API without global init (libxml2
 * wants xmlInitParser before threads), and Debian's libexpat1 is already on
 * every machine that has Python or git. */

#define STS_MAX_ANSWER	 (1024 * 1024)
#define STS_MAX_FIELD	 (64 * 1024)
#define STS_CONTENT_TYPE "application/x-www-form-urlencoded; charset=utf-8"
#define STS_ATTEMPTS	 3

/* The fields we keep; each is the text of one element at one path. */
enum sts_field {
	F_AKID,
	F_SECRET,
	F_TOKEN,
	F_EXPIRATION,
	F_ARN,
	F_CODE,
	F_MESSAGE,
	F_COUNT,
	F_NONE = F_COUNT,
};

static const char *const field_names[F_COUNT] = {
    "AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration", "Arn",
    "Code",	   "Message",
};

struct sts_parse {
	XML_Parser xp;
	const char *action;
	int depth;
	bool is_error; /* the root is <ErrorResponse> */
	bool bad;      /* wrong shape or a DOCTYPE: stop */
	bool nomem;
	const char *why;   /* for bad */
	char where[3][32]; /* local names of the elements at depth 1..3 */
	enum sts_field cur;
	struct dynbuf text[F_COUNT];
	bool seen[F_COUNT];
};

/* The local name of an expat namespace-expanded name "URI\x01local". */
static const char *local_name(const char *name)
{
	const char *s = strrchr(name, '\x01');

	return s ? s + 1 : name;
}

static void stop(struct sts_parse *ps, const char *why)
{
	if (!ps->bad && !ps->nomem) {
		ps->bad = true;
		ps->why = why;
	}
	XML_StopParser(ps->xp, XML_FALSE);
}

/* Which field an element at depth 4 (or 3 for errors) is, from its path. */
static enum sts_field field_at(const struct sts_parse *ps, const char *name)
{
	char result[64];

	if (ps->is_error) {
		if (ps->depth != 3 || strcmp(ps->where[1], "Error") != 0)
			return F_NONE;
		if (strcmp(name, "Code") == 0)
			return F_CODE;
		if (strcmp(name, "Message") == 0)
			return F_MESSAGE;
		return F_NONE;
	}
	snprintf(result, sizeof(result), "%sResult", ps->action);
	if (ps->depth != 4 || strcmp(ps->where[1], result) != 0)
		return F_NONE;
	if (strcmp(ps->where[2], "Credentials") == 0) {
		for (int f = F_AKID; f <= F_EXPIRATION; f++)
			if (strcmp(name, field_names[f]) == 0)
				return (enum sts_field)f;
	} else if (strcmp(ps->where[2], "AssumedRoleUser") == 0 &&
		   strcmp(name, "Arn") == 0) {
		return F_ARN;
	}
	return F_NONE;
}

static void XMLCALL on_start(void *user, const XML_Char *qname,
			     const XML_Char **attrs)
{
	struct sts_parse *ps = user;
	const char *name = local_name(qname);
	char root[64];

	(void)attrs;
	if (ps->cur != F_NONE) {
		stop(ps, "an element inside a credential field");
		return;
	}
	ps->depth++;
	if (ps->depth == 1) {
		snprintf(root, sizeof(root), "%sResponse", ps->action);
		if (strcmp(name, "ErrorResponse") == 0)
			ps->is_error = true;
		else if (strcmp(name, root) != 0) {
			stop(ps, "not an STS answer to this action");
			return;
		}
	}
	if (ps->depth <= 3)
		snprintf(ps->where[ps->depth - 1], sizeof(ps->where[0]), "%s",
			 name);
	ps->cur = field_at(ps, name);
	if (ps->cur != F_NONE) {
		if (ps->seen[ps->cur]) {
			stop(ps, "a field given twice");
			return;
		}
		ps->seen[ps->cur] = true;
	}
}

static void XMLCALL on_end(void *user, const XML_Char *name)
{
	struct sts_parse *ps = user;

	(void)name;
	ps->cur = F_NONE;
	ps->depth--;
}

static void XMLCALL on_text(void *user, const XML_Char *s, int len)
{
	struct sts_parse *ps = user;
	struct dynbuf *b;

	if (ps->cur == F_NONE)
		return;
	b = &ps->text[ps->cur];
	if (b->len + (size_t)len > STS_MAX_FIELD) {
		stop(ps, "a field over 64 KiB");
		return;
	}
	if (dynbuf_add(b, s, (size_t)len)) {
		ps->nomem = true;
		XML_StopParser(ps->xp, XML_FALSE);
	}
}

/* STS never sends a DTD; one in an answer can only declare entities
 * (billion laughs) or point elsewhere, so it is refused outright. */
static void XMLCALL on_doctype(void *user, const XML_Char *name,
			       const XML_Char *sysid, const XML_Char *pubid,
			       int has_internal_subset)
{
	(void)name;
	(void)sysid;
	(void)pubid;
	(void)has_internal_subset;
	stop(user, "a DOCTYPE");
}

/* Moves field f's text to *dst; -EINVAL (naming it) when absent or empty. */
static int take(struct sts_parse *ps, enum sts_field f, char **dst, char *err,
		size_t errlen)
{
	if (!ps->seen[f] || ps->text[f].len == 0) {
		errbuf_printf(err, errlen, "STS answer without %s",
			      field_names[f]);
		return -EINVAL;
	}
	*dst = dynbuf_take(&ps->text[f]);
	return *dst ? 0 : -ENOMEM;
}

int sts_parse_response(const char *body, size_t len, const char *action,
		       struct sts_answer *out, char *err, size_t errlen)
{
	struct sts_parse ps = {0};
	char *exp = NULL;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	errbuf_printf(err, errlen, "%s", "");
	if (len > STS_MAX_ANSWER) {
		errbuf_printf(err, errlen, "STS answer over 1 MiB");
		rc = -EINVAL;
		goto out;
	}
	ps.action = action;
	ps.cur = F_NONE;
	ps.xp = XML_ParserCreateNS(NULL, '\x01');
	if (!ps.xp) {
		rc = -ENOMEM;
		goto out;
	}
	XML_SetUserData(ps.xp, &ps);
	XML_SetElementHandler(ps.xp, on_start, on_end);
	XML_SetCharacterDataHandler(ps.xp, on_text);
	XML_SetStartDoctypeDeclHandler(ps.xp, on_doctype);
	if (XML_Parse(ps.xp, body, (int)len, XML_TRUE) != XML_STATUS_OK) {
		if (ps.nomem) {
			rc = -ENOMEM;
		} else if (ps.bad) {
			errbuf_printf(err, errlen, "STS answer has %s", ps.why);
			rc = -EINVAL;
		} else {
			errbuf_printf(
			    err, errlen,
			    "STS answer is not XML: %s at line %lu",
			    XML_ErrorString(XML_GetErrorCode(ps.xp)),
			    (unsigned long)XML_GetCurrentLineNumber(ps.xp));
			rc = -EINVAL;
		}
		goto out;
	}
	if (ps.is_error) {
		rc = take(&ps, F_CODE, &out->error_code, err, errlen);
		if (rc)
			goto out;
		/* The message is optional; an absent one is "". */
		out->error_message = dynbuf_take(&ps.text[F_MESSAGE]);
		rc = out->error_message ? 0 : -ENOMEM;
		goto out;
	}
	rc = take(&ps, F_AKID, &out->creds.access_key_id, err, errlen);
	if (!rc)
		rc = take(&ps, F_SECRET, &out->creds.secret_access_key, err,
			  errlen);
	if (!rc)
		rc = take(&ps, F_TOKEN, &out->creds.session_token, err, errlen);
	if (!rc)
		rc = take(&ps, F_EXPIRATION, &exp, err, errlen);
	if (rc)
		goto out;
	if (creds_parse_time(exp, &out->creds.expiration) ||
	    out->creds.expiration == 0) {
		errbuf_printf(err, errlen, "STS answer has a bad Expiration");
		rc = -EINVAL;
		goto out;
	}
	if (ps.seen[F_ARN] && ps.text[F_ARN].len) {
		out->assumed_role_arn = dynbuf_take(&ps.text[F_ARN]);
		if (!out->assumed_role_arn)
			rc = -ENOMEM;
	}
out:
	if (ps.xp)
		XML_ParserFree(ps.xp);
	for (int f = 0; f < F_COUNT; f++) {
		if (ps.text[f].p)
			explicit_bzero(ps.text[f].p, ps.text[f].len);
		dynbuf_free(&ps.text[f]);
	}
	free(exp);
	if (rc)
		sts_answer_free(out);
	return rc;
}

void sts_answer_free(struct sts_answer *a)
{
	creds_clear(&a->creds);
	free(a->assumed_role_arn);
	free(a->error_code);
	free(a->error_message);
	memset(a, 0, sizeof(*a));
}

/* --- endpoint ------------------------------------------------------------ */

int sts_endpoint(const struct config *cfg, const char *region, char **url,
		 char **source, char *err, size_t errlen)
{
	static const struct config none; /* no profile: the variables only */
	int rc;

	rc = config_service_endpoint(cfg ? cfg : &none, "STS", url, source, err,
				     errlen);
	if (rc || *url)
		return rc;
	if (!region || !*region) {
		errbuf_printf(err, errlen,
			      "no region for the STS endpoint: set AWS_REGION "
			      "or region in the profile");
		return -EINVAL;
	}
	if (asprintf(url, "https://sts.%s.amazonaws.com%s", region,
		     strncmp(region, "cn-", 3) == 0 ? ".cn" : "") < 0)
		*url = NULL;
	if (asprintf(source, "default for region %s", region) < 0)
		*source = NULL;
	if (!*url || !*source) {
		free(*url);
		free(*source);
		*url = *source = NULL;
		return -ENOMEM;
	}
	return 0;
}

void sts_default_session_name(time_t now, char out[40])
{
	snprintf(out, 40, "botocore-session-%lld", (long long)now);
}

/* --- requests ------------------------------------------------------------ */

/* Error answers worth another try: the throttling codes botocore's standard
 * retry mode knows, and the identity provider outage its STS retry rule
 * adds for AssumeRoleWithWebIdentity. */
static bool retryable_code(const char *code)
{
	static const char *const codes[] = {
	    "Throttling",
	    "ThrottlingException",
	    "RequestThrottled",
	    "RequestLimitExceeded",
	    "TooManyRequestsException",
	    "IDPCommunicationError",
	};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(code, codes[i]) == 0)
			return true;
	return false;
}

/* Appends "&name=value" (or "name=value" first) to the form, value
 * percent-encoded except for RFC 3986's unreserved characters. */
static int form_add(struct dynbuf *b, const char *name, const char *value)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = 0;

	if (b->len)
		rc = dynbuf_addc(b, '&');
	if (!rc)
		rc = dynbuf_adds(b, name);
	if (!rc)
		rc = dynbuf_addc(b, '=');
	for (const unsigned char *s = (const unsigned char *)value; !rc && *s;
	     s++) {
		if ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		    *s == '.' || *s == '~') {
			rc = dynbuf_addc(b, (char)*s);
		} else {
			char pct[3] = {'%', hex[*s >> 4], hex[*s & 15]};

			rc = dynbuf_add(b, pct, 3);
		}
	}
	return rc;
}

struct sts_call {
	const char *action;
	const char *endpoint;
	const char *region;		      /* for signing */
	const struct sigv4_credentials *sign; /* NULL: unsigned */
	const char *role_arn;		      /* for messages */
	const char *body;
	size_t body_len;
	time_t now;
};

/* One attempt. Returns 0 with *resp (caller frees), or a transport error
 * from http_request, or a local error (-EINVAL, -ENOMEM). */
static int send_once(struct http_client *http, const struct sts_call *call,
		     const char *host, const char *path, const char *query,
		     struct http_response *resp)
{
	struct sigv4_signature sig = {0};
	struct sigv4_header sh[4];
	struct http_header hh[5];
	char date[SIGV4_DATE_LEN];
	size_t n = 0;
	int rc;

	rc = sigv4_format_date(call->now, date);
	if (rc)
		goto out;
	sh[n++] = (struct sigv4_header){"content-type", STS_CONTENT_TYPE};
	sh[n++] = (struct sigv4_header){"host", host};
	sh[n++] = (struct sigv4_header){"x-amz-date", date};
	if (call->sign && call->sign->session_token &&
	    *call->sign->session_token)
		sh[n++] = (struct sigv4_header){"x-amz-security-token",
						call->sign->session_token};
	for (size_t i = 0; i < n; i++)
		hh[i] = (struct http_header){sh[i].name, sh[i].value};
	if (call->sign) {
		rc = sigv4_sign(
		    &(struct sigv4_request){.method = "POST",
					    .path = path,
					    .query = query,
					    .headers = sh,
					    .n_headers = n,
					    .body = call->body,
					    .body_len = call->body_len},
		    call->sign, call->region, "sts", call->now, &sig);
		if (rc)
			goto out;
		hh[n++] =
		    (struct http_header){"authorization", sig.authorization};
	}
	rc = http_request(http,
			  &(struct http_request){.method = "POST",
						 .url = call->endpoint,
						 .headers = hh,
						 .n_headers = n,
						 .body = call->body,
						 .body_len = call->body_len},
			  resp);
out:
	sigv4_signature_free(&sig);
	return rc;
}

/* Sends the call with retries and turns the answer into creds. */
static int sts_call(struct http_client *http, const struct sts_call *call,
		    struct creds *out, char *err, size_t errlen)
{
	struct http_response resp = {0};
	struct sts_answer ans = {0};
	char *host = NULL, *path = NULL, *query = NULL, why[512] = "";
	int rc;

	memset(out, 0, sizeof(*out));
	rc = ddb_parse_endpoint(call->endpoint, &host, &path, &query);
	if (rc) {
		if (rc == -EINVAL)
			errbuf_printf(err, errlen, "bad STS endpoint URL %s",
				      call->endpoint);
		goto out;
	}
	for (int attempt = 1;; attempt++) {
		bool retry;

		http_response_free(&resp);
		sts_answer_free(&ans);
		rc = send_once(http, call, host, path, query, &resp);
		if (rc == -ENOMEM || rc == -EINVAL)
			goto out;
		if (rc) {
			snprintf(why, sizeof(why), "%s", http_strerror(rc));
			/* a refused certificate is refused again */
			retry = rc != -EKEYREJECTED;
		} else {
			int prc = sts_parse_response(resp.body, resp.body_len,
						     call->action, &ans, why,
						     sizeof(why));

			if (prc == -ENOMEM) {
				rc = prc;
				goto out;
			}
			if (prc == 0 && !ans.error_code && resp.status == 200)
				break;
			if (prc == 0 && ans.error_code && resp.status >= 400 &&
			    resp.status < 500 &&
			    !retryable_code(ans.error_code)) {
				/* The message can quote the role ARN and
				 * the caller's ARN, never a secret; it is
				 * kept to one line. */
				for (char *c = ans.error_message; *c; c++)
					if ((unsigned char)*c < ' ')
						*c = ' ';
				errbuf_printf(err, errlen,
					      "STS %s of role %s refused: "
					      "%s: %.200s",
					      call->action, call->role_arn,
					      ans.error_code,
					      ans.error_message);
				rc = -EACCES;
				goto out;
			}
			if (prc == 0 && ans.error_code)
				snprintf(why, sizeof(why), "HTTP %ld, %s",
					 resp.status, ans.error_code);
			else if (prc == 0 || resp.status != 200)
				snprintf(why, sizeof(why), "HTTP %ld",
					 resp.status);
			retry = resp.status >= 500 ||
				(prc == 0 && ans.error_code &&
				 retryable_code(ans.error_code));
			if (!retry) {
				errbuf_printf(
				    err, errlen, "STS %s of role %s: %s",
				    call->action, call->role_arn, why);
				rc = -EIO;
				goto out;
			}
		}
		if (!retry || attempt >= STS_ATTEMPTS) {
			errbuf_printf(err, errlen,
				      "STS %s of role %s failed after %d "
				      "attempt%s: %s",
				      call->action, call->role_arn, attempt,
				      attempt == 1 ? "" : "s", why);
			rc = -EIO;
			goto out;
		}
		/* A short fixed back-off: these calls are rare (one per
		 * refresh), so jitter buys nothing. */
		struct timespec ts = {0, 200L * 1000 * 1000 * attempt};
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	*out = ans.creds;
	memset(&ans.creds, 0, sizeof(ans.creds));
	rc = 0;
	errbuf_printf(err, errlen, "%s", "");
out:
	sts_answer_free(&ans);
	http_response_free(&resp);
	free(host);
	free(path);
	free(query);
	return rc;
}

/* The common fields; token and MFA fields are added by the callers. */
static int form_start(struct dynbuf *b, const char *action,
		      const char *role_arn, const char *session_name,
		      int duration_seconds, time_t now)
{
	char name[40], dur[16];
	int rc;

	if (!session_name || !*session_name) {
		sts_default_session_name(now, name);
		session_name = name;
	}
	rc = form_add(b, "Action", action);
	if (!rc)
		rc = form_add(b, "Version", "2011-06-15");
	if (!rc)
		rc = form_add(b, "RoleArn", role_arn);
	if (!rc)
		rc = form_add(b, "RoleSessionName", session_name);
	if (!rc && duration_seconds > 0) {
		snprintf(dur, sizeof(dur), "%d", duration_seconds);
		rc = form_add(b, "DurationSeconds", dur);
	}
	return rc;
}

int sts_assume_role(struct http_client *http, const char *endpoint,
		    const char *region, const struct sigv4_credentials *source,
		    const struct sts_assume_role *req, time_t now,
		    struct creds *out, char *err, size_t errlen)
{
	struct dynbuf body = {0};
	int rc;

	memset(out, 0, sizeof(*out));
	if (!req->role_arn || !*req->role_arn || !source ||
	    !source->access_key_id || !source->secret_access_key || !region ||
	    !*region || !req->mfa_serial != !req->mfa_code) {
		errbuf_printf(err, errlen, "STS AssumeRole: bad arguments");
		rc = -EINVAL;
		goto out;
	}
	rc = form_start(&body, "AssumeRole", req->role_arn, req->session_name,
			req->duration_seconds, now);
	if (!rc && req->external_id)
		rc = form_add(&body, "ExternalId", req->external_id);
	if (!rc && req->mfa_serial)
		rc = form_add(&body, "SerialNumber", req->mfa_serial);
	if (!rc && req->mfa_code)
		rc = form_add(&body, "TokenCode", req->mfa_code);
	if (rc)
		goto out;
	rc = sts_call(http,
		      &(struct sts_call){.action = "AssumeRole",
					 .endpoint = endpoint,
					 .region = region,
					 .sign = source,
					 .role_arn = req->role_arn,
					 .body = body.p,
					 .body_len = body.len,
					 .now = now},
		      out, err, errlen);
out:
	if (body.p)
		explicit_bzero(body.p, body.len); /* holds the MFA code */
	dynbuf_free(&body);
	return rc;
}

int sts_assume_role_with_web_identity(
    struct http_client *http, const char *endpoint, const char *role_arn,
    const char *session_name, const char *token, int duration_seconds,
    time_t now, struct creds *out, char *err, size_t errlen)
{
	struct dynbuf body = {0};
	int rc;

	memset(out, 0, sizeof(*out));
	if (!role_arn || !*role_arn || !token || !*token) {
		errbuf_printf(err, errlen,
			      "STS AssumeRoleWithWebIdentity: bad arguments");
		rc = -EINVAL;
		goto out;
	}
	rc = form_start(&body, "AssumeRoleWithWebIdentity", role_arn,
			session_name, duration_seconds, now);
	if (!rc)
		rc = form_add(&body, "WebIdentityToken", token);
	if (rc)
		goto out;
	rc = sts_call(http,
		      &(struct sts_call){.action = "AssumeRoleWithWebIdentity",
					 .endpoint = endpoint,
					 .role_arn = role_arn,
					 .body = body.p,
					 .body_len = body.len,
					 .now = now},
		      out, err, errlen);
out:
	if (body.p)
		explicit_bzero(body.p, body.len); /* holds the token */
	dynbuf_free(&body);
	return rc;
}
