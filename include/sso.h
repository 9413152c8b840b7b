/* sso.h - IAM Identity Center (SSO) role credentials: the access token that
 * `aws sso login` cached, refreshed through sso-oidc, traded at the portal. */
#ifndef DYNAMOFS_SSO_H
#define DYNAMOFS_SSO_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "config.h"
#include "creds.h"
#include "http.h"

/* What an SSO profile says, as botocore reads it: either sso_session
 * (start URL and region from its [sso-session NAME] section) or the legacy
 * sso_start_url + sso_region in the profile; both need sso_account_id and
 * sso_role_name. */
struct sso_config {
	char *profile;	    /* for the "aws sso login --profile P" hint */
	char *session_name; /* NULL for the legacy form */
	char *start_url;
	char *region; /* sso_region: where the portal and OIDC are */
	char *account_id;
	char *role_name;
	char *cache_file; /* ~/.aws/sso/cache/<sha1 hex>.json */
	char *portal_url; /* e.g. https://portal.sso.eu-west-1.amazonaws.com */
	char *oidc_url;	  /* e.g. https://oidc.eu-west-1.amazonaws.com */
};

/* The cached token document (~/.aws/sso/cache/X.json); strings NULL when
 * absent, times 0 when absent. */
struct sso_token {
	char *access_token;
	time_t expires_at;
	char *refresh_token;
	char *client_id;
	char *client_secret;
	time_t registration_expires_at;
	char *region;
	char *start_url;
};

/* Reads the selected profile of cfg as an SSO profile and resolves the
 * cache file (under $HOME) and the endpoints (config_service_endpoint for
 * "SSO" and "SSO OIDC", else the regional defaults). Fills *out (caller frees
 * with sso_config_clear; zeroed on failure). Returns 0, or:
 *   -ENOENT  the profile has neither sso_session nor sso_start_url
 *   -EINVAL  a key is missing, the [sso-session] section is absent, the
 *            profile's sso_start_url/sso_region differ from the session's,
 *            or a bad endpoint (err: one line naming the key and profile)
 *   -ENOMEM
 * Not thread-safe (reads the environment and files; start-up only). */
int sso_config_from_profile(const struct config *cfg, struct sso_config *out,
			    char *err, size_t errlen);

/* Frees what sso_config_from_profile allocated and zeroes c; safe on a
 * zeroed struct. */
void sso_config_clear(struct sso_config *c);

/* The cache file's base name for key (the session name, or the start URL
 * for legacy profiles): lower-case SHA-1 hex, as botocore's SSOTokenLoader.
 * out receives 40 hex digits and a NUL. Pure. */
void sso_cache_name(const char *key, char out[41]);

/* Parses a cache file's text (len bytes). Needs accessToken and expiresAt
 * (ISO 8601 as creds_parse_time reads it); the refresh fields are optional.
 * Fills *out (caller frees with sso_token_clear; zeroed on failure).
 * Returns 0, -EINVAL (err names the field, never quotes a token), -ENOMEM.
 * Pure. */
int sso_token_parse(const char *text, size_t len, struct sso_token *out,
		    char *err, size_t errlen);

/* Frees the strings (wiping the tokens and secret first) and zeroes t. */
void sso_token_clear(struct sso_token *t);

/* Parses GetRoleCredentials' answer {"roleCredentials": {"accessKeyId",
 * "secretAccessKey", "sessionToken", "expiration" (epoch milliseconds)}}.
 * Fills *out (caller frees with creds_clear; zeroed on failure). Returns 0,
 * -EINVAL (err names the field), -ENOMEM. Pure. */
int sso_role_creds_parse(const char *body, size_t len, struct creds *out,
			 char *err, size_t errlen);

/* Parses sso-oidc CreateToken's answer {"accessToken", "expiresIn" (s),
 * "refreshToken" (optional)}. Sets *access_token and *refresh_token (NULL
 * when absent), caller frees both with free, and *expires_in. Returns 0,
 * -EINVAL, -ENOMEM. Pure. */
int sso_create_token_parse(const char *body, size_t len, char **access_token,
			   long *expires_in, char **refresh_token, char *err,
			   size_t errlen);

/* Role credentials for c: reads the cached token; for sso_session profiles
 * refreshes it through sso-oidc CreateToken when it expires within 15
 * minutes (as botocore) and the cache has a refresh token and an unexpired
 * client registration, writing the new token back to the cache file as
 * botocore does (temporary file in the same directory, mode 0600, renamed
 * over it; startUrl and region set from c, every other field kept); then calls
 * the portal's GetRoleCredentials with the token. A failed refresh of a token
 * still valid is logged and the old token used. http is borrowed. Fills *out
 * (caller frees with creds_clear). Returns 0, or:
 *   -EACCES  no cached token, or it expired and could not be refreshed, or
 *            the portal refused it (401): err is one line ending in
 *            "run: aws sso login --profile P"; or the portal refused the
 *            role (403): err names account and role
 *   -EINVAL  the cache file or an answer is malformed
 *   -EIO     the portal or OIDC endpoint failed (err: the call and status;
 *            for OIDC only when the cached token has expired)
 *   -ENOMEM
 * err never holds a token, secret or key. Thread-safe if calls for the same
 * cache file are not concurrent (the caller's refresh runs in one thread). */
int sso_fetch(const struct sso_config *c, struct http_client *http, time_t now,
	      struct creds *out, char *err, size_t errlen);

/* When the token in c's cache file expires, for --check (read again: a
 * refresh in sso_fetch may have rewritten it). Sets *expires_at. Returns 0,
 * or -ENOENT, -EINVAL, -ENOMEM (the file is absent or unreadable). */
int sso_token_expiry(const struct sso_config *c, time_t *expires_at);

#endif
