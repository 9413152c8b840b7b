/* creds.h - the AWS credential chain (SPEC §2): environment, profile keys,
 * credential_process, container credentials, EC2 IMDSv2; refreshed before expiry. */
#ifndef DYNAMOFS_CREDS_H
#define DYNAMOFS_CREDS_H

#include <stddef.h>
#include <time.h>

#include "config.h"
#include "http.h"

struct creds {
	char *access_key_id;
	char *secret_access_key;
	char *session_token; /* NULL when none */
	time_t expiration;   /* 0: does not expire */
};

/* Frees the strings (wiping the secret first) and zeroes c. */
void creds_clear(struct creds *c);

struct creds_provider;

/* Walks the chain in SPEC §2 order and takes the first source that has
 * credentials, fetching them once (so a mount fails at start, not later).
 * http is borrowed (used for container and IMDS credentials) and must outlive
 * the provider. On success *out is set (caller frees with creds_provider_free).
 * Returns 0, or:
 *   -ENOENT  no source has credentials (err: one line naming what was tried)
 *   -EINVAL  a source is misconfigured (half a key pair, bad process output,
 *            unsupported profile kind such as role_arn or sso)
 *   -EIO     a source failed (credential_process exit status, container or
 *            IMDS endpoint error)
 *   -ENOMEM
 * err (may be NULL) gets a one-line reason that never holds a secret. */
int creds_provider_new(const struct config *cfg, struct http_client *http,
		       struct creds_provider **out, char *err, size_t errlen);

/* Copies the current credentials into *c (caller frees with creds_clear),
 * refreshing them first when they expire within 5 minutes of now (or have
 * expired). A failed refresh keeps serving the old credentials until they
 * have expired, then returns the error (-EIO / -EACCES).
 * Thread-safe. Returns 0, -EIO, -ENOMEM. */
int creds_provider_get(struct creds_provider *p, time_t now, struct creds *c);

/* Where the credentials came from, for --check and logs, e.g.
 * "environment (AWS_ACCESS_KEY_ID)", "profile \"dev\" in /root/.aws/credentials",
 * "credential_process of profile \"dev\"", "container endpoint http://...",
 * "EC2 instance metadata (role r)". Borrowed; valid while p lives. */
const char *creds_provider_source(const struct creds_provider *p);

void creds_provider_free(struct creds_provider *p);

#endif
