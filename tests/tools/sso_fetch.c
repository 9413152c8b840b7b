/* sso_fetch.c - a front end to sso_fetch for
 * tests/e2e/offline/sso-botocore.bats: resolves one SSO profile as dynamofs
 * does and prints the role's key id. */
#include <stdio.h>
#include <time.h>

#include "config.h"
#include "creds.h"
#include "http.h"
#include "log.h"
#include "sso.h"

/* usage: sso-fetch PROFILE. Prints the access key id and the expiration
 * (epoch seconds) on one line and exits 0, or "error: REASON" and exits 1.
 * Never prints the secret or the session token. */
int main(int argc, char **argv)
{
	struct config_options opts = {.region = "us-east-1"};
	struct config cfg = {0};
	struct sso_config sc = {0};
	struct creds c = {0};
	struct http_client *http = NULL;
	char err[512] = "";
	int ret = 1;

	if (argc != 2) {
		fprintf(stderr, "usage: sso-fetch PROFILE\n");
		return 2;
	}
	opts.profile = argv[1];
	log_setup(LOG_WARNING, false);
	if (http_global_init())
		return 1;
	if (config_resolve(&opts, &cfg, err, sizeof(err)) ||
	    sso_config_from_profile(&cfg, &sc, err, sizeof(err)))
		goto out;
	http = http_client_new(2000, 5000);
	if (!http || http_client_set_ca_bundle(http, cfg.ca_bundle)) {
		snprintf(err, sizeof(err), "out of memory");
		goto out;
	}
	if (sso_fetch(&sc, http, time(NULL), &c, err, sizeof(err)))
		goto out;
	printf("%s %lld\n", c.access_key_id, (long long)c.expiration);
	ret = 0;
out:
	if (ret)
		printf("error: %s\n", err);
	creds_clear(&c);
	sso_config_clear(&sc);
	config_free(&cfg);
	http_client_free(http);
	http_global_cleanup();
	return ret;
}
