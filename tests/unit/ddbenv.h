/* ddbenv.h - for unit tests of the DynamoDB client and what sits on it: a
 * fakehttp server and the whole client stack (config, creds, http, ddb) in
 * front. */
#ifndef DYNAMOFS_DDBENV_H
#define DYNAMOFS_DDBENV_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "creds.h"
#include "ddb.h"
#include "fakehttp.h"
#include "http.h"

/* The credentials every request is signed with (from the environment). */
#define KEY_ID "AKIDDDBTEST"
#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYSECRETKEY"
#define TOKEN  "FwoGZXIvYXdzEXAMPLETOKEN"
/* What __type of a DynamoDB error starts with. */
#define TYPE_PREFIX "com.amazonaws.dynamodb.v20120810#"

/* One fake server and the whole client stack in front of it. */
struct env {
	struct fakehttp f;
	struct http_client *http;
	struct config cfg;
	struct creds_provider *creds;
	struct ddb_client *ddb;
};

/* Credentials from the environment only: no profile, no instance
 * metadata, no endpoint from the environment. */
static inline void set_test_environment(void)
{
	setenv("AWS_ACCESS_KEY_ID", KEY_ID, 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
	setenv("AWS_SESSION_TOKEN", TOKEN, 1);
	setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE",
	       "/nonexistent/dynamofs/credentials", 1);
	setenv("AWS_CONFIG_FILE", "/nonexistent/dynamofs/config", 1);
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_ENDPOINT_URL_DYNAMODB");
}

/* Starts the fake server with script (none when NULL) and the stack in
 * front of url (NULL: the fake server's own), with `retries` retries and a
 * tiny seeded back-off. Returns 0 or -1; env_stop either way. */
static inline int env_start_url(struct env *e, const char *script,
				const char *url, int retries)
{
	struct config_options opts = {.region = "us-east-1"};
	struct ddb_config dc = {0};
	char msg[256] = "";

	memset(e, 0, sizeof(*e));
	set_test_environment();
	if (script && fakehttp_start(&e->f, script) != 0)
		return -1;
	opts.endpoint = url ? url : e->f.url;
	if (config_resolve(&opts, &e->cfg, msg, sizeof(msg)) != 0) {
		printf("# config_resolve: %s\n", msg);
		return -1;
	}
	e->http = http_client_new(2000, 5000);
	if (!e->http || creds_provider_new(&e->cfg, e->http, NULL, &e->creds,
					   msg, sizeof(msg))) {
		printf("# creds_provider_new: %s\n", msg);
		return -1;
	}
	dc.endpoint = e->cfg.endpoint;
	dc.region = e->cfg.region;
	dc.creds = e->creds;
	dc.http = e->http;
	dc.retries = retries;
	dc.seed = 42;
	dc.base_delay_ms = 1;
	dc.max_delay_ms = 5;
	e->ddb = ddb_client_new(&dc);
	return e->ddb ? 0 : -1;
}

static inline int env_start(struct env *e, const char *script, int retries)
{
	return env_start_url(e, script, NULL, retries);
}

static inline void env_stop(struct env *e)
{
	ddb_client_free(e->ddb);
	creds_provider_free(e->creds);
	http_client_free(e->http);
	config_free(&e->cfg);
	if (e->f.pid)
		fakehttp_stop(&e->f);
}

#endif
