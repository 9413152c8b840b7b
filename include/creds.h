/* creds.h - the AWS credential chain (SPEC §2): environment, profile keys,
 * credential_process, container credentials, EC2 IMDSv2; refreshed before
 * expiry. */
#ifndef DYNAMOFS_CREDS_H
#define DYNAMOFS_CREDS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "config.h"
#include "http.h"

/* The order is botocore's: environment keys (skipped for a profile given
 * with the profile= option, as aws --profile skips them), assume role
 * (role_arn with source_profile -- chains, loops refused -- or
 * credential_source), web identity (AWS_WEB_IDENTITY_TOKEN_FILE and
 * friends, else the profile's web_identity_token_file), IAM Identity Center
 * (sso_account_id / sso_role_name with sso_session or the legacy
 * sso_start_url: the token aws sso login cached, the portal's role
 * credentials), the profile's keys and credential_process, container,
 * IMDSv2. A source_profile is resolved by the same profile steps (web
 * identity, SSO, keys, process) or is itself a role. STS is reached at
 * sts_endpoint(cfg, cfg->region).
 * A role step with mfa_serial asks for the code through the caller's
 * struct creds_prompt while the chain is built (at mount time, on the
 * terminal) and sends it as TokenCode; such credentials cannot be renewed
 * later (no one to ask): their refresh fails without a request, and so
 * does that of a role whose source needs MFA once the source has expired.
 * Not supported (a profile that needs them fails with -EINVAL and suggests
 * credential_process = aws configure export-credentials --profile P
 * --format process): console login sessions (login_session). Also not
 * done: IMDSv1 fallback (IMDSv2 only), AWS_CREDENTIAL_EXPIRATION,
 * AWS_DEFAULT_PROFILE. */

struct creds {
	char *access_key_id;
	char *secret_access_key;
	char *session_token; /* NULL when none */
	time_t expiration;   /* 0: does not expire */
};

/* Frees the strings (wiping the secret first) and zeroes c. */
void creds_clear(struct creds *c);

struct creds_provider;

/* How the chain asks the user for an MFA code (mfa_serial of a role): the
 * caller supplies it (main.c asks on /dev/tty; tests answer themselves).
 * mfa_code gets the serial to name in the prompt and writes the code,
 * NUL-terminated, into code (len bytes). It returns 0, -ENXIO when there is
 * no terminal to ask on, -ECANCELED when no code was entered, or another
 * -errno with a one-line reason in err. It is called only inside
 * creds_provider_new, never on a refresh. */
struct creds_prompt {
	int (*mfa_code)(void *ctx, const char *serial, char *code, size_t len,
			char *err, size_t errlen);
	void *ctx;
};

/* Walks the chain in SPEC §2 order and takes the first source that has
 * credentials, fetching them once (so a mount fails at start, not later).
 * http is borrowed (used for container and IMDS credentials) and must outlive
 * the provider. prompt (may be NULL: as if there were no terminal) is used
 * only during the call. On success *out is set (caller frees with
 * creds_provider_free).
 * Returns 0, or:
 *   -ENOENT  no source has credentials (err: one line naming what was tried)
 *   -EINVAL  a source is misconfigured (half a key pair, bad process output,
 *            a role without a source, a source_profile loop, unsupported
 *            profile kind such as login_session)
 *   -EACCES  also: an SSO profile whose cached token is missing or expired
 *            and cannot be refreshed (err ends "run: aws sso login
 *            --profile P")
 *   -EACCES  STS refused a role or web identity (err: "... refused:
 *            CODE: MESSAGE"), or a role's MFA code could not be asked for
 *            (no terminal: err says to mount from a terminal or use
 *            credential_process) or none was entered
 *   -EIO     a source failed (credential_process exit status, container or
 *            IMDS endpoint error)
 *   -ENOMEM
 * err (may be NULL) gets a one-line reason that never holds a secret. */
int creds_provider_new(const struct config *cfg, struct http_client *http,
		       const struct creds_prompt *prompt,
		       struct creds_provider **out, char *err, size_t errlen);

/* Copies the current credentials into *c (caller frees with creds_clear),
 * refreshing them first (by re-running the source they came from) when they
 * expire within 5 minutes of now or have expired. A failed refresh is logged
 * and keeps serving the old credentials while they are still valid; it is
 * retried at most every 30 s. While one thread refreshes, others are served
 * the old credentials if still valid, else wait for it.
 * Credentials got with an MFA code (or from a source that was) are not
 * renewed once that code's credentials near expiry: the refresh is refused
 * without a request and the log says to remount from a terminal.
 * Thread-safe. Returns 0; -EACCES when the credentials have expired and
 * could not be refreshed (the reason is logged); -ENOMEM. */
int creds_provider_get(struct creds_provider *p, time_t now, struct creds *c);

/* Where the credentials came from, for --check and logs, e.g.
 * "environment (AWS_ACCESS_KEY_ID)", "profile \"dev\" in
 * /root/.aws/credentials", "credential_process of profile \"dev\"", "container
 * endpoint http://...", "EC2 instance metadata (role r)", "role ARN (profile
 * \"dev\") via <its source>" ("(profile \"dev\", MFA SERIAL)" with
 * mfa_serial), "web identity role ARN (token file F from
 * AWS_WEB_IDENTITY_TOKEN_FILE)", "SSO session \"corp\" (profile \"dev\"),
 * account 1111..., role R, token cached until 2026-12-02T12:00Z". Borrowed;
 * valid while p lives. */
const char *creds_provider_source(const struct creds_provider *p);

/* Frees p and wipes its credentials; safe on NULL. Not while another
 * thread is inside creds_provider_get. */
void creds_provider_free(struct creds_provider *p);

/* The pieces of the chain below are exported so that tests reach them
 * without a whole chain (and without ever touching 169.254.x.x). */

/* Runs command with /bin/sh -c (stdin /dev/null, its own process group),
 * waits at most timeout_ms and parses its stdout as credential_process
 * output ({"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken",
 * "Expiration"}). Fills *out (caller frees with creds_clear). Returns 0, or
 *   -EIO     the process could not start, exited non-zero (err has the
 *            status and the first line of its stderr) or timed out (it is
 *            then killed with its process group)
 *   -EINVAL  its output is not such JSON (err never quotes the output)
 *   -ENOMEM
 * Thread-safe. */
int creds_process_run(const char *command, long timeout_ms, struct creds *out,
		      char *err, size_t errlen);

/* The container credentials URL from the values of
 * AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (wins; appended to
 * http://169.254.170.2) and AWS_CONTAINER_CREDENTIALS_FULL_URI (https, or
 * http to a loopback or container-agent host only, as botocore allows);
 * either may be NULL. No I/O. Sets *url (caller frees with free). Returns
 * 0, -ENOENT (neither set), -EINVAL (FULL_URI not allowed; err says why),
 * -ENOMEM. */
int creds_container_url(const char *relative_uri, const char *full_uri,
			char **url, char *err, size_t errlen);

/* Parses a credential document (len bytes of body): {"AccessKeyId",
 * "SecretAccessKey", token_key ("SessionToken" for credential_process,
 * "Token" for container and IMDS), "Expiration" (optional, as
 * creds_parse_time reads it)} and, when want_version, "Version": 1. what
 * names the source for err. Fills *out (caller frees with creds_clear;
 * zeroed on failure). Returns 0, -EINVAL (err says what is missing, never
 * quoting a secret), -ENOMEM. Pure; exported for the fuzz target. */
int creds_parse_json(const char *body, size_t len, const char *what,
		     const char *token_key, bool want_version,
		     struct creds *out, char *err, size_t errlen);

/* Parses an ISO 8601 UTC time as credential sources write it
 * ("2024-05-01T12:00:00Z", optional fraction, "Z" or "+HH:MM" offset).
 * Returns 0 and sets *out, or -EINVAL. */
int creds_parse_time(const char *iso8601, time_t *out);

#endif
