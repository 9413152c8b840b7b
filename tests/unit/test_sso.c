/* test_sso.c - the IAM Identity Center client: the pure parsers and profile
 * reading as tables, and sso_fetch against tests/tools/fakesso.py. */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "creds.h"
#include "fakehttp.h"
#include "http.h"
#include "log.h"
#include "sso.h"
#include "awsenv.h"
#include "tap.h"

/* Table rows leave out the fields they do not check. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static char home[64];
static struct http_client *http;

/* 2026-01-01T00:00:00Z: every fetch runs at this clock. */
#define NOW ((time_t)1767225600)

static void home_setup(void)
{
	awsenv_home_make(home, sizeof(home), "/tmp/dynamofs-sso.XXXXXX");
}

static void home_teardown(void)
{
	awsenv_home_remove(home);
}

/* Writes text to HOME/rel, making its folders; returns the full path
 * (caller frees). */
static char *write_home(const char *rel, const char *text, mode_t mode)
{
	char *path = NULL, *p;
	FILE *fp;

	if (asprintf(&path, "%s/%s", home, rel) < 0)
		abort();
	for (p = strchr(path + strlen(home) + 1, '/'); p;
	     p = strchr(p + 1, '/')) {
		*p = '\0';
		mkdir(path, 0700);
		*p = '/';
	}
	fp = fopen(path, "w");
	if (fp) {
		fputs(text, fp);
		fclose(fp);
	}
	chmod(path, mode);
	return path;
}

static char *read_all(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *buf = calloc(1, 65536);

	if (fp) {
		size_t n = fread(buf, 1, 65535, fp);

		buf[n] = '\0';
		fclose(fp);
	}
	return buf;
}

/* ---- pure parsers ---------------------------------------------------- */

static void test_cache_name(void)
{
	static const struct {
		const char *key, *hex;
	} rows[] = {
	    /* botocore's own test vector for a legacy start URL */
	    {"https://d-abc123.awsapps.com/start",
	     "40a89917e3175433e361b710a9d43528d7f1890a"},
	    {"corp", "ee0bfd2552fbd840c02cc48b6e823320543c450f"},
	    {"my-sso-session", "b755b5ec73400c04400e978208d8559ad1f39053"},
	};
	char out[41];

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		sso_cache_name(rows[i].key, out);
		CHECK_STR(out, rows[i].hex);
	}
}

static void test_token_parse(void)
{
	static const struct {
		const char *text;
		int ret;
		const char *access, *refresh, *client_id, *region, *err;
		time_t expires, reg_expires;
	} rows[] = {
	    {"{\"startUrl\": \"https://x/start\", \"region\": \"eu-west-1\", "
	     "\"accessToken\": \"A\", \"expiresAt\": \"2026-01-01T01:00:00Z\"}",
	     0, "A", NULL, NULL, "eu-west-1", NULL, NOW + 3600, 0},
	    {"{\"accessToken\": \"A\", \"expiresAt\": \"2026-01-01T00:00:00UTC\"}",
	     -EINVAL, .err = "expiresAt"},
	    {"{\"accessToken\": \"A\", \"expiresAt\": \"2026-01-01T00:00:01+00:00\","
	     "\"refreshToken\": \"R\", \"clientId\": \"C\", \"clientSecret\": \"S\","
	     "\"registrationExpiresAt\": \"2026-04-01T00:00:00Z\"}",
	     0, "A", "R", "C", NULL, NULL, NOW + 1, NOW + 90 * 86400},
	    {"{\"expiresAt\": \"2026-01-01T00:00:00Z\"}", -EINVAL,
	     .err = "no \"accessToken\""},
	    {"{\"accessToken\": \"\", \"expiresAt\": \"2026-01-01T00:00:00Z\"}",
	     -EINVAL, .err = "accessToken"},
	    {"{\"accessToken\": 5, \"expiresAt\": \"2026-01-01T00:00:00Z\"}",
	     -EINVAL, .err = "accessToken"},
	    {"{\"accessToken\": \"A\"}", -EINVAL, .err = "expiresAt"},
	    {"{\"accessToken\": \"A\", \"expiresAt\": \"2026-01-01T00:00:00Z\","
	     "\"registrationExpiresAt\": 7}",
	     -EINVAL, .err = "registrationExpiresAt"},
	    {"[1]", -EINVAL, .err = "not a JSON object"},
	    {"{\"accessToken\": \"A\",", -EINVAL, .err = "not a JSON object"},
	    {"", -EINVAL, .err = "not a JSON object"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct sso_token t;
		char err[128] = "";
		int ret = sso_token_parse(rows[i].text, strlen(rows[i].text),
					  &t, err, sizeof(err));

		printf("# token row %zu\n", i);
		CHECK_INT(ret, rows[i].ret);
		if (ret == 0) {
			CHECK_STR(t.access_token, rows[i].access);
			CHECK_INT(t.expires_at, rows[i].expires);
			CHECK_INT(t.registration_expires_at,
				  rows[i].reg_expires);
			CHECK(rows[i].refresh ? t.refresh_token &&
						    strcmp(t.refresh_token,
							   rows[i].refresh) == 0
					      : !t.refresh_token);
			CHECK(rows[i].client_id
				  ? t.client_id &&
					strcmp(t.client_id,
					       rows[i].client_id) == 0
				  : !t.client_id);
			CHECK(rows[i].region
				  ? t.region &&
					strcmp(t.region, rows[i].region) == 0
				  : !t.region);
		} else {
			CHECK(t.access_token == NULL);
			CHECK(rows[i].err && strstr(err, rows[i].err) != NULL);
		}
		sso_token_clear(&t);
	}
}

static void test_role_creds_parse(void)
{
	static const struct {
		const char *body;
		int ret;
		const char *akid, *err;
		time_t exp;
	} rows[] = {
	    {"{\"roleCredentials\": {\"accessKeyId\": \"ASIA1\", "
	     "\"secretAccessKey\": \"SEKRIT\", \"sessionToken\": \"T\", "
	     "\"expiration\": 1767229200000}}",
	     0, "ASIA1", NULL, NOW + 3600},
	    {"{\"roleCredentials\": {\"accessKeyId\": \"ASIA1\", "
	     "\"secretAccessKey\": \"SEKRIT\", \"sessionToken\": \"T\", "
	     "\"expiration\": 1767229200999}}",
	     0, "ASIA1", NULL, NOW + 3600},
	    {"{\"roleCredentials\": {\"accessKeyId\": \"ASIA1\", "
	     "\"secretAccessKey\": \"SEKRIT\", \"sessionToken\": \"T\", "
	     "\"expiration\": \"1767229200000\"}}",
	     -EINVAL, .err = "expiration"},
	    {"{\"roleCredentials\": {\"accessKeyId\": \"ASIA1\", "
	     "\"secretAccessKey\": \"SEKRIT\", \"expiration\": 1}}",
	     -EINVAL, .err = "sessionToken"},
	    {"{\"roleCredentials\": {\"secretAccessKey\": \"SEKRIT\", "
	     "\"sessionToken\": \"T\", \"expiration\": 1}}",
	     -EINVAL, .err = "accessKeyId"},
	    {"{\"roleCredentials\": {\"accessKeyId\": \"A\", "
	     "\"sessionToken\": \"T\", \"expiration\": 1}}",
	     -EINVAL, .err = "secretAccessKey"},
	    /* past the year 9999 (fuzz_sso: a real this large overflowed
	     * the conversion to time_t) */
	    {"{\"roleCredentials\": {\"accessKeyId\": \"ASIA1\", "
	     "\"secretAccessKey\": \"SEKRIT\", \"sessionToken\": \"T\", "
	     "\"expiration\": 5.5e111}}",
	     -EINVAL, .err = "expiration"},
	    {"{\"roleCredentials\": {\"accessKeyId\": \"ASIA1\", "
	     "\"secretAccessKey\": \"SEKRIT\", \"sessionToken\": \"T\", "
	     "\"expiration\": 9223372036854775807}}",
	     -EINVAL, .err = "expiration"},
	    {"{\"accessKeyId\": \"ASIA1\"}", -EINVAL, .err = "roleCredentials"},
	    {"not json", -EINVAL, .err = "roleCredentials"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct creds c;
		char err[128] = "";
		int ret = sso_role_creds_parse(
		    rows[i].body, strlen(rows[i].body), &c, err, sizeof(err));

		printf("# role creds row %zu\n", i);
		CHECK_INT(ret, rows[i].ret);
		if (ret == 0) {
			CHECK_STR(c.access_key_id, rows[i].akid);
			CHECK_STR(c.secret_access_key, "SEKRIT");
			CHECK_STR(c.session_token, "T");
			CHECK_INT(c.expiration, rows[i].exp);
		} else {
			CHECK(c.access_key_id == NULL);
			CHECK(rows[i].err && strstr(err, rows[i].err) != NULL);
			CHECK(strstr(err, "SEKRIT") == NULL);
		}
		creds_clear(&c);
	}
}

static void test_create_token_parse(void)
{
	static const struct {
		const char *body;
		int ret;
		const char *access, *refresh;
		long expires_in;
	} rows[] = {
	    {"{\"accessToken\": \"A2\", \"tokenType\": \"Bearer\", "
	     "\"expiresIn\": 28800, \"refreshToken\": \"R2\"}",
	     0, "A2", "R2", 28800},
	    {"{\"accessToken\": \"A2\", \"expiresIn\": 60}", 0, "A2", NULL, 60},
	    {"{\"accessToken\": \"A2\", \"expiresIn\": 0}", -EINVAL},
	    {"{\"accessToken\": \"A2\", \"expiresIn\": \"60\"}", -EINVAL},
	    {"{\"expiresIn\": 60}", -EINVAL},
	    {"{\"accessToken\": \"A2\", \"expiresIn\": 60, "
	     "\"refreshToken\": 3}",
	     -EINVAL},
	    {"<html>", -EINVAL},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *access, *refresh, err[128] = "";
		long exp;
		int ret = sso_create_token_parse(
		    rows[i].body, strlen(rows[i].body), &access, &exp, &refresh,
		    err, sizeof(err));

		printf("# create token row %zu\n", i);
		CHECK_INT(ret, rows[i].ret);
		if (ret == 0) {
			CHECK_STR(access, rows[i].access);
			CHECK_INT(exp, rows[i].expires_in);
			CHECK(rows[i].refresh
				  ? refresh &&
					strcmp(refresh, rows[i].refresh) == 0
				  : !refresh);
		} else {
			CHECK(!access && !refresh && exp == 0);
			CHECK(strstr(err, "CreateToken") != NULL);
		}
		free(access);
		free(refresh);
	}
}

/* ---- profiles and endpoints -------------------------------------------- */

#define SESSION_CONFIG                                                         \
	"[profile dev]\n"                                                      \
	"sso_session = corp\n"                                                 \
	"sso_account_id = 111122223333\n"                                      \
	"sso_role_name = ReadOnly\n"                                           \
	"region = us-east-2\n"                                                 \
	"[sso-session corp]\n"                                                 \
	"sso_start_url = https://corp.awsapps.com/start\n"                     \
	"sso_region = eu-west-1\n"                                             \
	"sso_registration_scopes = sso:account:access\n"

static void test_config_from_profile(void)
{
	static const struct {
		const char *config, *profile;
		const char *env[3];
		int ret;
		const char *session, *url, *region, *account, *role, *cache,
		    *portal, *oidc, *err;
	} rows[] = {
	    {SESSION_CONFIG,
	     "dev",
	     {NULL},
	     0,
	     "corp",
	     "https://corp.awsapps.com/start",
	     "eu-west-1",
	     "111122223333",
	     "ReadOnly",
	     "ee0bfd2552fbd840c02cc48b6e823320543c450f",
	     "https://portal.sso.eu-west-1.amazonaws.com",
	     "https://oidc.eu-west-1.amazonaws.com"},
	    /* a quoted session name, as botocore's shlex reads it */
	    {"[profile dev]\nsso_session = corp\nsso_account_id = 1\n"
	     "sso_role_name = R\n[sso-session \"corp\"]\n"
	     "sso_start_url = https://u/start\nsso_region = cn-north-1\n",
	     "dev",
	     {NULL},
	     0,
	     "corp",
	     "https://u/start",
	     "cn-north-1",
	     "1",
	     "R",
	     "ee0bfd2552fbd840c02cc48b6e823320543c450f",
	     "https://portal.sso.cn-north-1.amazonaws.com.cn",
	     "https://oidc.cn-north-1.amazonaws.com.cn"},
	    /* legacy: the start URL names the cache file */
	    {"[profile old]\nsso_start_url = https://d-abc123.awsapps.com/start\n"
	     "sso_region = us-east-1\nsso_account_id = 1\n"
	     "sso_role_name = R\n",
	     "old",
	     {NULL},
	     0,
	     NULL,
	     "https://d-abc123.awsapps.com/start",
	     "us-east-1",
	     "1",
	     "R",
	     "40a89917e3175433e361b710a9d43528d7f1890a",
	     "https://portal.sso.us-east-1.amazonaws.com",
	     "https://oidc.us-east-1.amazonaws.com"},
	    /* endpoint variables reach the portal and OIDC separately */
	    {SESSION_CONFIG,
	     "dev",
	     {"AWS_ENDPOINT_URL_SSO=http://127.0.0.1:1/",
	      "AWS_ENDPOINT_URL=http://127.0.0.1:2"},
	     0,
	     "corp",
	     .portal = "http://127.0.0.1:1",
	     .oidc = "http://127.0.0.1:2"},
	    {SESSION_CONFIG,
	     "dev",
	     {"AWS_ENDPOINT_URL_SSO_OIDC=http://127.0.0.1:3"},
	     0,
	     "corp",
	     .portal = "https://portal.sso.eu-west-1.amazonaws.com",
	     .oidc = "http://127.0.0.1:3"},
	    {SESSION_CONFIG,
	     "dev",
	     {"AWS_ENDPOINT_URL_SSO=ftp://x"},
	     -EINVAL,
	     .err = "AWS_ENDPOINT_URL_SSO"},
	    {"[profile dev]\nregion = us-east-1\n", "dev", {NULL}, -ENOENT},
	    {"[profile dev]\nsso_session = corp\nsso_account_id = 1\n"
	     "sso_role_name = R\n",
	     "dev",
	     {NULL},
	     -EINVAL,
	     .err = "has no [sso-session corp]"},
	    {"[profile dev]\nsso_session = corp\nsso_account_id = 1\n"
	     "sso_role_name = R\n[sso-session corp]\n"
	     "sso_start_url = https://u/start\n",
	     "dev",
	     {NULL},
	     -EINVAL,
	     .err = "[sso-session corp] in"},
	    {"[profile dev]\nsso_session = corp\nsso_role_name = R\n"
	     "[sso-session corp]\nsso_start_url = https://u/start\n"
	     "sso_region = eu-west-1\n",
	     "dev",
	     {NULL},
	     -EINVAL,
	     .err = "lacks sso_account_id"},
	    {"[profile dev]\nsso_session = corp\nsso_account_id = 1\n"
	     "[sso-session corp]\nsso_start_url = https://u/start\n"
	     "sso_region = eu-west-1\n",
	     "dev",
	     {NULL},
	     -EINVAL,
	     .err = "lacks sso_role_name"},
	    {"[profile dev]\nsso_session = corp\nsso_account_id = 1\n"
	     "sso_role_name = R\nsso_region = us-east-1\n"
	     "[sso-session corp]\nsso_start_url = https://u/start\n"
	     "sso_region = eu-west-1\n",
	     "dev",
	     {NULL},
	     -EINVAL,
	     .err = "sso_region differs"},
	    {"[profile dev]\nsso_session = corp\nsso_account_id = 1\n"
	     "sso_role_name = R\nsso_start_url = https://v/start\n"
	     "[sso-session corp]\nsso_start_url = https://u/start\n"
	     "sso_region = eu-west-1\n",
	     "dev",
	     {NULL},
	     -EINVAL,
	     .err = "sso_start_url differs"},
	    {"[profile old]\nsso_start_url = https://u/start\n"
	     "sso_account_id = 1\nsso_role_name = R\n",
	     "old",
	     {NULL},
	     -EINVAL,
	     .err = "lacks sso_region"},
	};
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct config_options opts = {.profile = rows[i].profile,
					      .region = "us-east-1"};
		struct config cfg;
		struct sso_config sc;
		char err[256] = "", want_cache[128];
		char *path;
		int ret;

		printf("# profile row %zu\n", i);
		home_setup();
		path = write_home(".aws/config", rows[i].config, 0600);
		free(path);
		for (size_t e = 0; e < 3 && rows[i].env[e]; e++) {
			char *kv = strdup(rows[i].env[e]),
			     *eq = strchr(kv, '=');

			*eq = '\0';
			setenv(kv, eq + 1, 1);
			free(kv);
		}
		ret = config_resolve(&opts, &cfg, err, sizeof(err));
		CHECK_INT(ret, 0);
		ret = sso_config_from_profile(&cfg, &sc, err, sizeof(err));
		CHECK_INT(ret, rows[i].ret);
		if (ret == 0) {
			CHECK_STR(sc.profile, rows[i].profile);
			CHECK(rows[i].session ? sc.session_name &&
						    strcmp(sc.session_name,
							   rows[i].session) == 0
					      : !sc.session_name);
			if (rows[i].url)
				CHECK_STR(sc.start_url, rows[i].url);
			if (rows[i].region)
				CHECK_STR(sc.region, rows[i].region);
			if (rows[i].account)
				CHECK_STR(sc.account_id, rows[i].account);
			if (rows[i].role)
				CHECK_STR(sc.role_name, rows[i].role);
			if (rows[i].cache) {
				snprintf(want_cache, sizeof(want_cache),
					 "%s/.aws/sso/cache/%s.json", home,
					 rows[i].cache);
				CHECK_STR(sc.cache_file, want_cache);
			}
			CHECK_STR(sc.portal_url, rows[i].portal);
			CHECK_STR(sc.oidc_url, rows[i].oidc);
		} else if (rows[i].err) {
			CHECK(rows[i].err && strstr(err, rows[i].err) != NULL);
			if (!strstr(err, rows[i].err))
				printf("#   err: %s\n", err);
			CHECK(strchr(err, '\n') == NULL);
		}
		sso_config_clear(&sc);
		config_free(&cfg);
		home_teardown();
	}
}

/* config_service_endpoint and config_section, the two config.c
 * additions, on their own. */
static void test_service_endpoint(void)
{
	static const char config[] = "[profile dev]\n"
				     "services = local\n"
				     "endpoint_url = http://127.0.0.1:9\n"
				     "[profile bare]\n"
				     "region = us-east-1\n"
				     "[profile ign]\n"
				     "services = local\n"
				     "ignore_configured_endpoint_urls = true\n"
				     "[services local]\n"
				     "sso =\n"
				     "  endpoint_url = http://127.0.0.1:7/\n"
				     "dynamodb =\n"
				     "  endpoint_url = http://127.0.0.1:8\n"
				     "sso_oidc =\n"
				     "  region = us-west-2\n"
				     "  endpoint_url = http://127.0.0.1:6\n";
	static const struct {
		const char *profile, *service;
		const char *env[2];
		const char *url, *source;
	} rows[] = {
	    {"dev",
	     "SSO",
	     {NULL},
	     "http://127.0.0.1:7",
	     "endpoint_url for sso in [services local]"},
	    {"dev",
	     "SSO OIDC",
	     {NULL},
	     "http://127.0.0.1:6",
	     "endpoint_url for sso_oidc in [services local]"},
	    /* not in the services section: the profile's endpoint_url */
	    {"dev",
	     "STS",
	     {NULL},
	     "http://127.0.0.1:9",
	     "endpoint_url in profile \"dev\""},
	    {"dev",
	     "SSO OIDC",
	     {"AWS_ENDPOINT_URL=http://127.0.0.1:5"},
	     "http://127.0.0.1:5",
	     "AWS_ENDPOINT_URL"},
	    {"dev",
	     "SSO OIDC",
	     {"AWS_ENDPOINT_URL_SSO_OIDC=http://127.0.0.1:4",
	      "AWS_ENDPOINT_URL=http://127.0.0.1:5"},
	     "http://127.0.0.1:4",
	     "AWS_ENDPOINT_URL_SSO_OIDC"},
	    {"dev",
	     "SSO",
	     {"AWS_ENDPOINT_URL_SSO=http://127.0.0.1:4",
	      "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true"}},
	    {"ign", "SSO", {NULL}},
	    /* the variable, when set, wins over the profile's key */
	    {"ign",
	     "SSO",
	     {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=false"},
	     "http://127.0.0.1:7",
	     "[services local]"},
	    {"bare", "SSO", {NULL}},
	};
	struct config_kv *skv;
	size_t n;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct config_options opts = {.profile = rows[i].profile,
					      .region = "us-east-1"};
		struct config cfg;
		char err[256] = "", *url = NULL, *source = NULL, *path;
		int ret;

		printf("# endpoint row %zu\n", i);
		home_setup();
		path = write_home(".aws/config", config, 0600);
		free(path);
		for (size_t e = 0; e < 2 && rows[i].env[e]; e++) {
			char *kv = strdup(rows[i].env[e]),
			     *eq = strchr(kv, '=');

			*eq = '\0';
			setenv(kv, eq + 1, 1);
			free(kv);
		}
		CHECK_INT(config_resolve(&opts, &cfg, err, sizeof(err)), 0);
		ret = config_service_endpoint(&cfg, rows[i].service, &url,
					      &source, err, sizeof(err));
		CHECK_INT(ret, 0);
		if (rows[i].url) {
			CHECK_STR(url, rows[i].url);
			CHECK(source && strstr(source, rows[i].source));
		} else {
			CHECK(url == NULL && source == NULL);
		}
		free(url);
		free(source);
		if (i == 0) {
			/* the section reader: keys of [services local] only */
			CHECK_INT(config_section(&cfg, "services", "local",
						 &skv, &n, err, sizeof(err)),
				  0);
			CHECK_INT(n, 3);
			CHECK(config_kv_find(skv, n, "sso") != NULL);
			CHECK(config_kv_find(skv, n, "services") == NULL);
			config_kv_free(skv, n);
			CHECK_INT(config_section(&cfg, "services", "nope", &skv,
						 &n, err, sizeof(err)),
				  -ENOENT);
			CHECK_INT(n, 0);
			config_kv_free(skv, n);
		}
		config_free(&cfg);
		home_teardown();
	}
}

/* ---- sso_fetch against fakesso.py -------------------------------------- */

#define CACHED_TOKEN "cached-token-SEKRIT"
#define CACHE_PATH                                                             \
	".aws/sso/cache/ee0bfd2552fbd840c02cc48b6e823320543c450f.json"

struct fetch_case {
	const char *name;
	const char *cache;   /* cache file text (NULL: none) */
	const char *state;   /* fakesso state */
	const char *profile; /* "dev" (session) or "old" (legacy) */
	int ret;
	const char *err;      /* substring of err */
	const char *outcomes; /* the fake's decisions in order, '|'-joined */
	const char *bearer;   /* token the portal must have seen */
	bool rewritten;	      /* cache file rewritten with issued-token-1 */
	const char *oidc; /* AWS_ENDPOINT_URL_SSO_OIDC instead of the fake */
};

#define STATE_BASE                                                             \
	"\"account_id\": \"111122223333\", \"role_name\": \"ReadOnly\", "      \
	"\"tokens\": [\"" CACHED_TOKEN "\"], \"expires_in\": 3600, "           \
	"\"client_id\": \"client-1\", \"client_secret\": \"csecret-SEKRIT\""

#define REG_OK                                                                 \
	", \"clientId\": \"client-1\", \"clientSecret\": "                     \
	"\"csecret-SEKRIT\", \"registrationExpiresAt\": "                      \
	"\"2026-03-01T00:00:00Z\""

static const struct fetch_case fetch_cases[] = {
    {"fetch: valid cached token",
     "{\"startUrl\": \"https://corp.awsapps.com/start\", \"region\": "
     "\"eu-west-1\", \"accessToken\": \"" CACHED_TOKEN "\", "
     "\"expiresAt\": \"2026-01-01T08:00:00Z\"}",
     "{" STATE_BASE "}", "dev", 0, NULL, "credentials", CACHED_TOKEN},
    {"fetch: legacy profile, cache named by start URL",
     "{\"accessToken\": \"" CACHED_TOKEN "\", "
     "\"expiresAt\": \"2026-01-01T08:00:00Z\"}",
     "{" STATE_BASE "}", "old", 0, NULL, "credentials", CACHED_TOKEN},
    {"fetch: expired token refreshed, cache rewritten",
     "{\"startUrl\": \"https://corp.awsapps.com/start\", \"region\": "
     "\"eu-west-1\", \"accessToken\": \"old-token-SEKRIT\", "
     "\"expiresAt\": \"2025-12-31T00:00:00Z\", \"refreshToken\": "
     "\"refresh-SEKRIT\", \"extra\": {\"kept\": true}" REG_OK "}",
     "{" STATE_BASE ", \"refresh_token\": \"refresh-SEKRIT\"}", "dev", 0, NULL,
     "refreshed|credentials", "issued-token-1", true},
    {"fetch: token expiring in 5 min refreshed",
     "{\"accessToken\": \"" CACHED_TOKEN "\", \"expiresAt\": "
     "\"2026-01-01T00:05:00Z\", \"refreshToken\": \"refresh-SEKRIT\"" REG_OK
     "}",
     "{" STATE_BASE ", \"refresh_token\": \"refresh-SEKRIT\"}", "dev", 0, NULL,
     "refreshed|credentials", "issued-token-1", true},
    {"fetch: refresh refused, token still valid: used",
     "{\"accessToken\": \"" CACHED_TOKEN "\", \"expiresAt\": "
     "\"2026-01-01T00:05:00Z\", \"refreshToken\": \"refresh-SEKRIT\"" REG_OK
     "}",
     "{" STATE_BASE ", \"refresh_token\": \"another\"}", "dev", 0, NULL,
     "invalid_grant|credentials", CACHED_TOKEN},
    {"fetch: expired, no refresh token: aws sso login",
     "{\"accessToken\": \"" CACHED_TOKEN "\", "
     "\"expiresAt\": \"2025-12-31T23:59:59Z\"" REG_OK "}",
     "{" STATE_BASE "}", "dev", -EACCES,
     "SSO session \"corp\": the cached token has expired; run: aws sso "
     "login --profile dev",
     ""},
    {"fetch: expired, refresh refused: aws sso login",
     "{\"accessToken\": \"old-token-SEKRIT\", \"expiresAt\": "
     "\"2025-12-31T00:00:00Z\", \"refreshToken\": \"refresh-SEKRIT\"" REG_OK
     "}",
     "{" STATE_BASE ", \"refresh_token\": \"another\"}", "dev", -EACCES,
     "token refresh refused (HTTP 400); run: aws sso login --profile dev",
     "invalid_grant"},
    {"fetch: expired, registration expired: no refresh tried",
     "{\"accessToken\": \"old-token-SEKRIT\", \"expiresAt\": "
     "\"2025-12-31T00:00:00Z\", \"refreshToken\": \"refresh-SEKRIT\", "
     "\"clientId\": \"client-1\", \"clientSecret\": \"csecret-SEKRIT\", "
     "\"registrationExpiresAt\": \"2025-12-31T00:00:00Z\"}",
     "{" STATE_BASE ", \"refresh_token\": \"refresh-SEKRIT\"}", "dev", -EACCES,
     "has expired; run: aws sso login --profile dev", ""},
    {"fetch: legacy token expired: not refreshed",
     "{\"accessToken\": \"old-token-SEKRIT\", \"expiresAt\": "
     "\"2025-12-31T00:00:00Z\", \"refreshToken\": \"refresh-SEKRIT\"" REG_OK
     "}",
     "{" STATE_BASE ", \"refresh_token\": \"refresh-SEKRIT\"}", "old", -EACCES,
     "SSO profile \"old\": the cached token has expired; run: aws sso "
     "login --profile old",
     ""},
    {"fetch: portal refuses the token (401)",
     "{\"accessToken\": \"revoked-SEKRIT\", "
     "\"expiresAt\": \"2026-01-01T08:00:00Z\"}",
     "{" STATE_BASE "}", "dev", -EACCES,
     "the portal refused the token for account 111122223333 role "
     "ReadOnly (HTTP 401); run: aws sso login --profile dev",
     "bad token"},
    {"fetch: portal refuses the role (403)",
     "{\"accessToken\": \"" CACHED_TOKEN "\", "
     "\"expiresAt\": \"2026-01-01T08:00:00Z\"}",
     "{\"account_id\": \"111122223333\", \"role_name\": \"Admin\", "
     "\"tokens\": [\"" CACHED_TOKEN "\"]}",
     "dev", -EACCES,
     "SSO profile \"dev\": no access to account 111122223333 role "
     "ReadOnly (HTTP 403): check sso_account_id and sso_role_name",
     "bad role or account", CACHED_TOKEN},
    {"fetch: expired, OIDC unreachable: the network error, no login hint",
     "{\"accessToken\": \"old-token-SEKRIT\", \"expiresAt\": "
     "\"2025-12-31T00:00:00Z\", \"refreshToken\": \"refresh-SEKRIT\"" REG_OK
     "}",
     "{" STATE_BASE ", \"refresh_token\": \"refresh-SEKRIT\"}", "dev", -EIO,
     "SSO session \"corp\": SSO token refresh (http://127.0.0.1:1): "
     "connection refused",
     "", .oidc = "http://127.0.0.1:1"},
    {"fetch: no cached token", NULL, "{" STATE_BASE "}", "dev", -EACCES,
     "no cached token; run: aws sso login --profile dev", ""},
    {"fetch: malformed cache file", "{\"accessToken\": \"" CACHED_TOKEN "\"}",
     "{" STATE_BASE "}", "dev", -EINVAL, "no valid \"expiresAt\"", ""},
};

#define N_FETCH (sizeof(fetch_cases) / sizeof(fetch_cases[0]))
static size_t fetch_next;

/* The fake's "outcome" fields in order, '|'-joined, and whether every
 * portal request carried bearer. */
static void log_outcomes(const char *log, char *out, size_t outlen,
			 const char *bearer, bool *bearer_ok)
{
	const char *p = log;
	char want[160];

	*out = '\0';
	*bearer_ok = true;
	snprintf(want, sizeof(want), "\"x-amz-sso_bearer_token\": \"%s\"",
		 bearer ? bearer : "");
	while (p && *p) {
		const char *end = strchr(p, '\n'),
			   *o = strstr(p, "\"outcome\": \"");
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (o && o < p + len) {
			o += strlen("\"outcome\": \"");
			snprintf(out + strlen(out), outlen - strlen(out),
				 "%s%.*s", *out ? "|" : "",
				 (int)strcspn(o, "\""), o);
		}
		if (strncmp(p, "{\"method\": \"GET\"", 16) == 0 &&
		    !memmem(p, len, want, strlen(want)))
			*bearer_ok = false;
		p = end ? end + 1 : NULL;
	}
}

static void test_fetch_case(void)
{
	const struct fetch_case *fc = &fetch_cases[fetch_next++];
	static const char config[] =
	    "[profile dev]\nsso_session = corp\nsso_account_id = 111122223333\n"
	    "sso_role_name = ReadOnly\n"
	    "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n"
	    "sso_region = eu-west-1\n"
	    "[profile old]\nsso_start_url = https://d-abc123.awsapps.com/start\n"
	    "sso_region = eu-west-1\nsso_account_id = 111122223333\n"
	    "sso_role_name = ReadOnly\n";
	const char *cache_rel =
	    strcmp(fc->profile, "old") == 0
		? ".aws/sso/cache/40a89917e3175433e361b710a9d43528d7f1890a.json"
		: CACHE_PATH;
	struct config_options opts = {.profile = fc->profile,
				      .region = "us-east-1"};
	struct fakehttp f;
	struct config cfg = {0};
	struct sso_config sc = {0};
	struct creds c = {0};
	char err[512] = "", outcomes[256], *path = NULL, *log = NULL;
	bool bearer_ok;
	int ret;

	home_setup();
	if (fakehttp_start_tool(&f, "fakesso.py", fc->state)) {
		CHECK(!"fakesso started");
		goto out;
	}
	free(write_home(".aws/config", config, 0600));
	/* 0644, so that the rewrite's 0600 is seen */
	if (fc->cache)
		path = write_home(cache_rel, fc->cache, 0644);
	setenv("AWS_ENDPOINT_URL_SSO", f.url, 1);
	setenv("AWS_ENDPOINT_URL_SSO_OIDC", fc->oidc ? fc->oidc : f.url, 1);
	CHECK_INT(config_resolve(&opts, &cfg, err, sizeof(err)), 0);
	CHECK_INT(sso_config_from_profile(&cfg, &sc, err, sizeof(err)), 0);
	ret = sso_fetch(&sc, http, NOW, &c, err, sizeof(err));
	CHECK_INT(ret, fc->ret);
	if (ret == 0) {
		/* what the fake issued for its first GetRoleCredentials */
		CHECK_STR(c.access_key_id, "ASIASSO1");
		CHECK_STR(c.secret_access_key, "SEKRIT-sso-1");
		CHECK_STR(c.session_token, "tok-sso-1");
		CHECK_INT(c.expiration, 1999999999);
	} else {
		CHECK(c.access_key_id == NULL);
		CHECK(fc->err && strstr(err, fc->err) != NULL);
		if (!fc->err || !strstr(err, fc->err))
			printf("#   err: %s\n", err);
		CHECK(strchr(err, '\n') == NULL);
		CHECK(strstr(err, "SEKRIT") == NULL);
		/* the hint only where a login is the cure */
		CHECK((ret == -EACCES) ==
			  (strstr(err, "aws sso login") != NULL) ||
		      strstr(err, "HTTP 403"));
	}
	log = fakehttp_log(&f);
	log_outcomes(log, outcomes, sizeof(outcomes), fc->bearer, &bearer_ok);
	CHECK_STR(outcomes, fc->outcomes);
	if (fc->bearer)
		CHECK(bearer_ok);
	if (fc->cache) {
		char *text = read_all(path);
		struct sso_token t = {0};
		struct stat st;
		DIR *d;
		struct dirent *de;
		int files = 0;

		CHECK_INT(stat(path, &st), 0);
		if (fc->rewritten) {
			CHECK_INT(sso_token_parse(text, strlen(text), &t, err,
						  sizeof(err)),
				  0);
			CHECK_INT(st.st_mode & 07777, 0600);
			CHECK_STR(t.access_token, "issued-token-1");
			CHECK_STR(t.refresh_token, "issued-refresh-1");
			CHECK_INT(t.expires_at, NOW + 3600);
			/* every other field kept */
			CHECK_STR(t.client_id, "client-1");
			CHECK_STR(t.client_secret, "csecret-SEKRIT");
			CHECK_INT(t.registration_expires_at, 1772323200);
			CHECK(strstr(text, "\"extra\"") ||
			      !strstr(fc->cache, "\"extra\""));
			/* as botocore writes them, from the session */
			CHECK_STR(t.start_url,
				  "https://corp.awsapps.com/start");
			CHECK_STR(t.region, "eu-west-1");
		} else {
			CHECK_INT(st.st_mode & 07777, 0644);
			CHECK(strcmp(text, fc->cache) == 0);
		}
		/* no temporary file left next to it */
		*strrchr(path, '/') = '\0';
		d = opendir(path);
		while (d && (de = readdir(d)))
			files += de->d_name[0] != '.';
		if (d)
			closedir(d);
		CHECK_INT(files, 1);
		sso_token_clear(&t);
		free(text);
	}
out:
	creds_clear(&c);
	sso_config_clear(&sc);
	config_free(&cfg);
	free(log);
	free(path);
	fakehttp_stop(&f);
	home_teardown();
}

int main(void)
{
	static struct tap_test tests[N_FETCH + 8];
	size_t n = 0;
	int ret;

	log_setup(LOG_ERR, false);
	if (http_global_init())
		return 1;
	http = http_client_new(2000, 5000);
	if (!http)
		return 1;
	tests[n++] =
	    (struct tap_test){"cache file names (SHA-1 hex)", test_cache_name};
	tests[n++] = (struct tap_test){"token cache parser", test_token_parse};
	tests[n++] = (struct tap_test){"GetRoleCredentials answer parser",
				       test_role_creds_parse};
	tests[n++] = (struct tap_test){"CreateToken answer parser",
				       test_create_token_parse};
	tests[n++] = (struct tap_test){"SSO profiles: session, legacy, errors",
				       test_config_from_profile};
	tests[n++] = (struct tap_test){
	    "config_service_endpoint, config_section", test_service_endpoint};
	for (size_t i = 0; i < N_FETCH; i++)
		tests[n++] =
		    (struct tap_test){fetch_cases[i].name, test_fetch_case};
	ret = tap_run(tests);
	http_client_free(http);
	http_global_cleanup();
	return ret;
}
