/* sso.c - IAM Identity Center (SSO) role credentials: the cached token of
 * `aws sso login`, its sso-oidc refresh, and the portal's GetRoleCredentials.
 */
#include "sso.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

/* botocore's SSOTokenProvider refreshes a token this long before expiry. */
#define SSO_REFRESH_WINDOW (15 * 60)
/* Cache files are a few hundred bytes; anything far larger is not one. */
#define SSO_CACHE_MAX (1024 * 1024)

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void sso_config_clear(struct sso_config *c)
{
	free(c->profile);
	free(c->session_name);
	free(c->start_url);
	free(c->region);
	free(c->account_id);
	free(c->role_name);
	free(c->cache_file);
	free(c->portal_url);
	free(c->oidc_url);
	memset(c, 0, sizeof(*c));
}

void sso_token_clear(struct sso_token *t)
{
	wipe_free(t->access_token);
	wipe_free(t->refresh_token);
	free(t->client_id);
	wipe_free(t->client_secret);
	free(t->region);
	free(t->start_url);
	memset(t, 0, sizeof(*t));
}

void sso_cache_name(const char *key, char out[41])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!EVP_Digest(key, strlen(key), md, &n, EVP_sha1(), NULL) ||
	    n != 20) {
		/* only a broken libcrypto; an impossible name, not a crash */
		memset(out, '0', 40);
		out[40] = '\0';
		return;
	}
	for (unsigned int i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

/* The endpoint of service_id (config_service_endpoint) or the default
 * https://HOST_PREFIX.REGION.amazonaws.com (.com.cn in China). */
static int endpoint(const struct config *cfg, const char *service_id,
		    const char *host_prefix, const char *region, char **url,
		    char *err, size_t errlen)
{
	char *source = NULL;
	int ret;

	ret =
	    config_service_endpoint(cfg, service_id, url, &source, err, errlen);
	free(source);
	if (ret || *url)
		return ret;
	if (asprintf(url, "https://%s.%s.amazonaws.com%s", host_prefix, region,
		     strncmp(region, "cn-", 3) == 0 ? ".cn" : "") < 0) {
		*url = NULL;
		return -ENOMEM;
	}
	return 0;
}

int sso_config_from_profile(const struct config *cfg, struct sso_config *out,
			    char *err, size_t errlen)
{
	const char *session = config_get(cfg, "sso_session", NULL);
	const char *p_url = config_get(cfg, "sso_start_url", NULL);
	const char *p_region = config_get(cfg, "sso_region", NULL);
	const char *url = p_url, *region = p_region, *missing = NULL;
	struct config_kv *kv = NULL;
	char name[41];
	size_t n = 0;
	int ret = -ENOMEM;

	memset(out, 0, sizeof(*out));
	if (!session && !p_url)
		return -ENOENT;
	if (session) {
		ret = config_section(cfg, "sso-session", session, &kv, &n, err,
				     errlen);
		if (ret == -ENOENT) {
			errbuf_printf(
			    err, errlen,
			    "profile \"%s\": sso_session \"%s\" has no "
			    "[sso-session %s] section in %s",
			    cfg->profile, session, session, cfg->config_file);
			ret = -EINVAL;
		}
		if (ret)
			goto out;
		url = config_kv_find(kv, n, "sso_start_url");
		region = config_kv_find(kv, n, "sso_region");
		/* botocore refuses a profile that contradicts its session */
		ret = -EINVAL;
		if (p_url && url && strcmp(p_url, url) != 0) {
			errbuf_printf(
			    err, errlen,
			    "profile \"%s\": sso_start_url differs from "
			    "the one of [sso-session %s]",
			    cfg->profile, session);
			goto out;
		}
		if (p_region && region && strcmp(p_region, region) != 0) {
			errbuf_printf(
			    err, errlen,
			    "profile \"%s\": sso_region differs from the "
			    "one of [sso-session %s]",
			    cfg->profile, session);
			goto out;
		}
	}
	if (!url || !*url)
		missing = "sso_start_url";
	else if (!region || !*region)
		missing = "sso_region";
	if (missing && session) {
		errbuf_printf(err, errlen, "[sso-session %s] in %s lacks %s",
			      session, cfg->config_file, missing);
		ret = -EINVAL;
		goto out;
	}
	if (!missing && !config_get(cfg, "sso_account_id", NULL))
		missing = "sso_account_id";
	else if (!missing && !config_get(cfg, "sso_role_name", NULL))
		missing = "sso_role_name";
	if (missing) {
		errbuf_printf(err, errlen, "SSO profile \"%s\" lacks %s",
			      cfg->profile, missing);
		ret = -EINVAL;
		goto out;
	}
	ret = -ENOMEM;
	out->profile = strdup(cfg->profile);
	out->session_name = dup_or_null(session);
	out->start_url = strdup(url);
	out->region = strdup(region);
	out->account_id = strdup(config_get(cfg, "sso_account_id", NULL));
	out->role_name = strdup(config_get(cfg, "sso_role_name", NULL));
	if (!out->profile || (session && !out->session_name) ||
	    !out->start_url || !out->region || !out->account_id ||
	    !out->role_name)
		goto out;
	sso_cache_name(session ? session : url, name);
	if (asprintf(&out->cache_file, "%s/.aws/sso/cache/%s.json",
		     config_home_dir(), name) < 0) {
		out->cache_file = NULL;
		goto out;
	}
	ret = endpoint(cfg, "SSO", "portal.sso", region, &out->portal_url, err,
		       errlen);
	if (ret)
		goto out;
	ret = endpoint(cfg, "SSO OIDC", "oidc", region, &out->oidc_url, err,
		       errlen);
out:
	config_kv_free(kv, n);
	if (ret)
		sso_config_clear(out);
	return ret;
}

/* A string field, copied; NULL when absent. -EINVAL when present but not a
 * non-empty string. */
static int take_string(json_t *root, const char *key, char **dst)
{
	json_t *v = json_object_get(root, key);

	*dst = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || !*json_string_value(v))
		return -EINVAL;
	*dst = strdup(json_string_value(v));
	return *dst ? 0 : -ENOMEM;
}

int sso_token_parse(const char *text, size_t len, struct sso_token *out,
		    char *err, size_t errlen)
{
	static const struct {
		const char *key;
		size_t off;
	} strs[] = {
	    {"accessToken", offsetof(struct sso_token, access_token)},
	    {"refreshToken", offsetof(struct sso_token, refresh_token)},
	    {"clientId", offsetof(struct sso_token, client_id)},
	    {"clientSecret", offsetof(struct sso_token, client_secret)},
	    {"region", offsetof(struct sso_token, region)},
	    {"startUrl", offsetof(struct sso_token, start_url)},
	};
	json_t *root;
	const char *exp, *reg;
	int ret = -EINVAL;

	memset(out, 0, sizeof(*out));
	root = json_loadb(text, len, 0, NULL);
	if (!json_is_object(root)) {
		errbuf_printf(err, errlen, "not a JSON object");
		goto out;
	}
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		ret = take_string(root, strs[i].key,
				  (char **)((char *)out + strs[i].off));
		if (ret) {
			errbuf_printf(err, errlen, "bad \"%s\"", strs[i].key);
			goto out;
		}
	}
	ret = -EINVAL;
	if (!out->access_token) {
		errbuf_printf(err, errlen, "no \"accessToken\"");
		goto out;
	}
	exp = json_string_value(json_object_get(root, "expiresAt"));
	if (!exp || creds_parse_time(exp, &out->expires_at)) {
		errbuf_printf(err, errlen, "no valid \"expiresAt\"");
		goto out;
	}
	reg = json_string_value(json_object_get(root, "registrationExpiresAt"));
	if (json_object_get(root, "registrationExpiresAt") &&
	    (!reg || creds_parse_time(reg, &out->registration_expires_at))) {
		errbuf_printf(err, errlen, "bad \"registrationExpiresAt\"");
		goto out;
	}
	ret = 0;
out:
	json_decref(root);
	if (ret)
		sso_token_clear(out);
	return ret;
}

int sso_role_creds_parse(const char *body, size_t len, struct creds *out,
			 char *err, size_t errlen)
{
	const char *akid, *secret, *token;
	json_t *root, *rc, *exp;
	int ret = -EINVAL;

	memset(out, 0, sizeof(*out));
	root = json_loadb(body, len, 0, NULL);
	rc = json_object_get(root, "roleCredentials");
	if (!json_is_object(rc)) {
		errbuf_printf(
		    err, errlen,
		    "GetRoleCredentials: answer lacks \"roleCredentials\"");
		goto out;
	}
	akid = json_string_value(json_object_get(rc, "accessKeyId"));
	secret = json_string_value(json_object_get(rc, "secretAccessKey"));
	token = json_string_value(json_object_get(rc, "sessionToken"));
	exp = json_object_get(rc, "expiration");
	if (!akid || !*akid || !secret || !*secret || !token || !*token) {
		errbuf_printf(err, errlen,
			      "GetRoleCredentials: answer lacks \"%s\"",
			      !akid || !*akid	    ? "accessKeyId"
			      : !secret || !*secret ? "secretAccessKey"
						    : "sessionToken");
		goto out;
	}
	/* epoch milliseconds; a JSON real is allowed (some SDKs write 1.7e12).
	 * Past the year 9999 is no expiry anyone issues, and would not fit
	 * time_t's conversion (found by fuzz_sso). */
	if (!json_is_number(exp) || !(json_number_value(exp) > 0) ||
	    json_number_value(exp) > 253402300799999.0) {
		errbuf_printf(
		    err, errlen,
		    "GetRoleCredentials: answer lacks \"expiration\"");
		goto out;
	}
	ret = -ENOMEM;
	out->access_key_id = strdup(akid);
	out->secret_access_key = strdup(secret);
	out->session_token = strdup(token);
	out->expiration = json_is_integer(exp)
			      ? (time_t)(json_integer_value(exp) / 1000)
			      : (time_t)(json_number_value(exp) / 1000.0);
	if (!out->access_key_id || !out->secret_access_key ||
	    !out->session_token)
		goto out;
	ret = 0;
out:
	json_decref(root);
	if (ret)
		creds_clear(out);
	return ret;
}

int sso_create_token_parse(const char *body, size_t len, char **access_token,
			   long *expires_in, char **refresh_token, char *err,
			   size_t errlen)
{
	json_t *root, *exp;
	int ret = -EINVAL;

	*access_token = *refresh_token = NULL;
	*expires_in = 0;
	root = json_loadb(body, len, 0, NULL);
	if (!json_is_object(root)) {
		errbuf_printf(err, errlen, "CreateToken: answer is not JSON");
		goto out;
	}
	exp = json_object_get(root, "expiresIn");
	if (take_string(root, "accessToken", access_token) || !*access_token) {
		errbuf_printf(err, errlen,
			      "CreateToken: answer lacks \"accessToken\"");
		goto out;
	}
	/* seconds; more than ten years is no token anyone issues, and now +
	 * it must not overflow time_t */
	if (!json_is_integer(exp) || json_integer_value(exp) <= 0 ||
	    json_integer_value(exp) > 315360000) {
		errbuf_printf(err, errlen,
			      "CreateToken: answer lacks \"expiresIn\"");
		goto out;
	}
	*expires_in = (long)json_integer_value(exp);
	ret = take_string(root, "refreshToken", refresh_token);
	if (ret)
		errbuf_printf(err, errlen, "CreateToken: bad \"refreshToken\"");
out:
	json_decref(root);
	if (ret) {
		wipe_free(*access_token);
		wipe_free(*refresh_token);
		*access_token = *refresh_token = NULL;
		*expires_in = 0;
	}
	return ret;
}

/* The one line every "log in again" case ends with. */
static int login_error(const struct sso_config *c, const char *why, char *err,
		       size_t errlen)
{
	if (c->session_name)
		errbuf_printf(err, errlen,
			      "SSO session \"%s\": %s; run: aws sso login "
			      "--profile %s",
			      c->session_name, why, c->profile);
	else
		errbuf_printf(err, errlen,
			      "SSO profile \"%s\": %s; run: aws sso login "
			      "--profile %s",
			      c->profile, why, c->profile);
	return -EACCES;
}

/* Reads the whole cache file. Caller frees *text. Returns 0, -ENOENT,
 * -EINVAL (unreadable or too large), -ENOMEM. */
static int read_cache(const char *path, char **text, size_t *len)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL;
	size_t n = 0;
	int ret = -EINVAL;

	*text = NULL;
	if (!fp)
		return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -EINVAL;
	buf = malloc(SSO_CACHE_MAX + 1);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	n = fread(buf, 1, SSO_CACHE_MAX + 1, fp);
	if (ferror(fp) || n > SSO_CACHE_MAX)
		goto out;
	buf[n] = '\0';
	*text = buf;
	*len = n;
	buf = NULL;
	ret = 0;
out:
	if (buf)
		explicit_bzero(buf, SSO_CACHE_MAX + 1);
	free(buf);
	fclose(fp);
	return ret;
}

/* Writes text to path as botocore's JSONFileCache does, but atomically: a
 * temporary file in the same directory, mode 0600, renamed over path, so a
 * concurrent `aws` never reads half a token. Returns 0 or -errno. */
static int write_cache(const char *path, const char *text)
{
	size_t len = strlen(text), done = 0;
	char *tmp = NULL;
	int fd = -1, ret = -ENOMEM;

	if (asprintf(&tmp, "%s.XXXXXX", path) < 0) {
		tmp = NULL;
		goto out;
	}
	fd = mkstemp(tmp); /* creates it 0600 */
	if (fd < 0) {
		ret = -errno;
		free(tmp);
		tmp = NULL;
		goto out;
	}
	if (fchmod(fd, 0600) < 0) {
		ret = -errno;
		goto out;
	}
	while (done < len) {
		ssize_t n = write(fd, text + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = -errno;
			goto out;
		}
		done += (size_t)n;
	}
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		ret = -errno;
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		ret = -errno;
		goto out;
	}
	free(tmp);
	tmp = NULL;
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlink(tmp);
		free(tmp);
	}
	return ret;
}

/* Formats t as botocore writes expiresAt: "2024-05-01T12:00:00Z". */
static void iso8601(time_t t, char buf[32])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* CreateToken with the cached refresh token; on success tok holds the new
 * access token (and refresh token when one came) and the cache file is
 * rewritten with every other field kept. Returns 0, -EACCES (refused: err
 * says so), -EIO, -EINVAL, -ENOMEM. */
static int refresh_token(const struct sso_config *c, struct http_client *http,
			 time_t now, struct sso_token *tok, const char *text,
			 size_t len, char *err, size_t errlen)
{
	struct http_header hdr[] = {
	    {"Content-Type", "application/json"},
	    {"Accept", "application/json"},
	};
	struct http_request req = {0};
	struct http_response resp = {0};
	char *url = NULL, *body = NULL, *access = NULL, *refresh = NULL;
	char *out = NULL, when[32];
	json_t *req_json = NULL, *root = NULL;
	long expires_in = 0;
	int ret = -ENOMEM;

	req_json =
	    json_pack("{s:s, s:s, s:s, s:s}", "grantType", "refresh_token",
		      "clientId", tok->client_id, "clientSecret",
		      tok->client_secret, "refreshToken", tok->refresh_token);
	if (!req_json)
		goto out;
	body = json_dumps(req_json, JSON_COMPACT);
	if (!body || asprintf(&url, "%s/token", c->oidc_url) < 0) {
		url = NULL;
		goto out;
	}
	req.method = "POST";
	req.url = url;
	req.headers = hdr;
	req.n_headers = sizeof(hdr) / sizeof(hdr[0]);
	req.body = body;
	req.body_len = strlen(body);
	ret = http_request(http, &req, &resp);
	if (ret) {
		errbuf_printf(err, errlen, "SSO token refresh (%s): %s",
			      c->oidc_url, http_strerror(ret));
		ret = -EIO;
		goto out;
	}
	if (resp.status >= 400 && resp.status < 500) {
		/* invalid_grant, expired registration: only a new login helps
		 */
		errbuf_printf(err, errlen, "token refresh refused (HTTP %ld)",
			      resp.status);
		ret = -EACCES;
		goto out;
	}
	if (resp.status != 200) {
		errbuf_printf(err, errlen, "SSO token refresh (%s): HTTP %ld",
			      c->oidc_url, resp.status);
		ret = -EIO;
		goto out;
	}
	ret = sso_create_token_parse(resp.body, resp.body_len, &access,
				     &expires_in, &refresh, err, errlen);
	if (ret)
		goto out;

	/* Rewrite the document we read, so fields we do not know survive. */
	ret = -EINVAL;
	root = json_loadb(text, len, 0, NULL);
	if (!json_is_object(root))
		goto out;
	iso8601(now + expires_in, when);
	ret = -ENOMEM;
	/* botocore also writes the session's startUrl and region */
	if (json_object_set_new(root, "startUrl", json_string(c->start_url)) ||
	    json_object_set_new(root, "region", json_string(c->region)) ||
	    json_object_set_new(root, "accessToken", json_string(access)) ||
	    json_object_set_new(root, "expiresAt", json_string(when)) ||
	    (refresh &&
	     json_object_set_new(root, "refreshToken", json_string(refresh))))
		goto out;
	out = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	if (!out)
		goto out;
	ret = write_cache(c->cache_file, out);
	if (ret) {
		/* the new token still works for this mount; aws re-logs in */
		log_msg(LOG_WARNING, "cannot rewrite SSO token cache %s: %s",
			c->cache_file, strerror(-ret));
	}
	wipe_free(tok->access_token);
	tok->access_token = access;
	access = NULL;
	tok->expires_at = now + expires_in;
	if (refresh) {
		wipe_free(tok->refresh_token);
		tok->refresh_token = refresh;
		refresh = NULL;
	}
	ret = 0;
out:
	http_response_free(&resp);
	json_decref(req_json);
	json_decref(root);
	wipe_free(body);
	wipe_free(out);
	wipe_free(access);
	wipe_free(refresh);
	free(url);
	return ret;
}

/* Percent-encodes s for a query string (RFC 3986 unreserved kept). */
static char *query_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(3 * strlen(s) + 1), *o = out;

	if (!out)
		return NULL;
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || strchr("-_.~", ch)) {
			*o++ = (char)ch;
		} else {
			*o++ = '%';
			*o++ = hex[ch >> 4];
			*o++ = hex[ch & 15];
		}
	}
	*o = '\0';
	return out;
}

/* GetRoleCredentials with the access token. */
static int role_credentials(const struct sso_config *c,
			    struct http_client *http, const char *token,
			    struct creds *out, char *err, size_t errlen)
{
	struct http_header hdr[] = {
	    {"x-amz-sso_bearer_token", token},
	    {"Accept", "application/json"},
	};
	struct http_request req = {0};
	struct http_response resp = {0};
	char *role = query_escape(c->role_name);
	char *account = query_escape(c->account_id);
	char *url = NULL;
	int ret = -ENOMEM;

	if (!role || !account ||
	    asprintf(&url,
		     "%s/federation/credentials?role_name=%s&account_id=%s",
		     c->portal_url, role, account) < 0) {
		url = NULL;
		goto out;
	}
	req.method = "GET";
	req.url = url;
	req.headers = hdr;
	req.n_headers = sizeof(hdr) / sizeof(hdr[0]);
	ret = http_request(http, &req, &resp);
	if (ret) {
		errbuf_printf(err, errlen, "SSO GetRoleCredentials (%s): %s",
			      c->portal_url, http_strerror(ret));
		ret = -EIO;
		goto out;
	}
	if (resp.status == 401) {
		/* UnauthorizedException: the token expired or was revoked */
		char why[128];

		snprintf(why, sizeof(why),
			 "the portal refused the token for account %s role %s "
			 "(HTTP 401)",
			 c->account_id, c->role_name);
		ret = login_error(c, why, err, errlen);
		goto out;
	}
	if (resp.status == 403) {
		/* ForbiddenException: the user may not take this role; a new
		 * login would not change that */
		errbuf_printf(
		    err, errlen,
		    "SSO profile \"%s\": no access to account %s role %s "
		    "(HTTP 403): check sso_account_id and sso_role_name",
		    c->profile, c->account_id, c->role_name);
		ret = -EACCES;
		goto out;
	}
	if (resp.status != 200) {
		errbuf_printf(err, errlen,
			      "SSO GetRoleCredentials (%s): HTTP %ld",
			      c->portal_url, resp.status);
		ret = -EIO;
		goto out;
	}
	ret = sso_role_creds_parse(resp.body, resp.body_len, out, err, errlen);
out:
	http_response_free(&resp);
	free(url);
	free(role);
	free(account);
	return ret;
}

int sso_fetch(const struct sso_config *c, struct http_client *http, time_t now,
	      struct creds *out, char *err, size_t errlen)
{
	struct sso_token tok = {0};
	char *text = NULL, perr[128];
	size_t len = 0;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = read_cache(c->cache_file, &text, &len);
	if (ret == -ENOENT) {
		ret = login_error(c, "no cached token", err, errlen);
		goto out;
	}
	if (ret == -EINVAL) {
		errbuf_printf(err, errlen, "cannot read SSO token cache %s",
			      c->cache_file);
		goto out;
	}
	if (ret)
		goto out;
	ret = sso_token_parse(text, len, &tok, perr, sizeof(perr));
	if (ret) {
		errbuf_printf(err, errlen, "SSO token cache %s: %s",
			      c->cache_file, perr);
		goto out;
	}
	/* Only sso_session tokens are refreshed (botocore: the legacy form
	 * has no client registration to refresh with). */
	if (c->session_name && tok.expires_at - now < SSO_REFRESH_WINDOW &&
	    tok.refresh_token && tok.client_id && tok.client_secret &&
	    tok.registration_expires_at > now) {
		ret = refresh_token(c, http, now, &tok, text, len, perr,
				    sizeof(perr));
		if (ret == -ENOMEM)
			goto out;
		if (ret && tok.expires_at > now) {
			log_msg(LOG_WARNING,
				"SSO session \"%s\": %s; using the cached "
				"token until it expires",
				c->session_name, perr);
		} else if (ret == -EACCES) {
			ret = login_error(c, perr, err, errlen);
			goto out;
		} else if (ret) {
			/* a network or server failure: logging in again
			 * would not help */
			errbuf_printf(err, errlen, "SSO session \"%s\": %s",
				      c->session_name, perr);
			goto out;
		}
	}
	if (tok.expires_at <= now) {
		ret =
		    login_error(c, "the cached token has expired", err, errlen);
		goto out;
	}
	ret = role_credentials(c, http, tok.access_token, out, err, errlen);
out:
	sso_token_clear(&tok);
	if (text) {
		explicit_bzero(text, len);
		free(text);
	}
	return ret;
}

int sso_token_expiry(const struct sso_config *c, time_t *expires_at)
{
	struct sso_token tok = {0};
	char *text = NULL, perr[128];
	size_t len = 0;
	int ret;

	*expires_at = 0;
	ret = read_cache(c->cache_file, &text, &len);
	if (ret)
		return ret;
	ret = sso_token_parse(text, len, &tok, perr, sizeof(perr));
	if (!ret)
		*expires_at = tok.expires_at;
	sso_token_clear(&tok);
	explicit_bzero(text, len);
	free(text);
	return ret;
}
