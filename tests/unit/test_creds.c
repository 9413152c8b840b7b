/* test_creds.c - the credential chain: each case builds a temporary HOME and
 * environment; container and IMDS answers come from fakehttp on 127.0.0.1. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
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
#include "awsenv.h"
#include "tap.h"

/* Table rows leave out the fields they do not check. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

/* Every secret in these tests contains this, so a leak is easy to find. */
#define SECRET_MARK "SEKRIT"

static char home[64];
static const char *server_url = "";
static struct http_client *http;
/* What provider_new passes to creds_provider_new (NULL: no terminal). */
static const struct creds_prompt *prompt;

/* s with "$H" replaced by HOME and "$U" by the fake server's URL.
 * Caller frees with free. */
static char *expand(const char *s)
{
	size_t cap = 1;
	char *out, *o;

	for (const char *p = s; *p; p++)
		cap += p[0] == '$' ? 64 : 1;
	out = malloc(cap);
	o = out;
	while (*s) {
		const char *rep = NULL;

		if (s[0] == '$' && s[1] == 'H')
			rep = home;
		else if (s[0] == '$' && s[1] == 'U')
			rep = server_url;
		if (rep) {
			o = stpcpy(o, rep);
			s += 2;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

/* Writes text (with $H, $U expanded) to path under HOME; *.sh files are
 * made executable. */
static void write_file(const char *rel, const char *text)
{
	char *path = expand(rel), *body = expand(text), *dir = strdup(path);
	FILE *fp;

	/* each missing folder on the way (e.g. $H/.aws/sso/cache) */
	for (char *sl = strchr(dir + 1, '/'); sl; sl = strchr(sl + 1, '/')) {
		*sl = '\0';
		mkdir(dir, 0700);
		*sl = '/';
	}
	*strrchr(dir, '/') = '\0';
	mkdir(dir, 0700);
	fp = fopen(path, "w");
	if (fp) {
		fputs(body, fp);
		fclose(fp);
	}
	if (strstr(path, ".sh"))
		chmod(path, 0755);
	free(dir);
	free(body);
	free(path);
}

static void set_envs(const char *const *envs)
{
	for (size_t i = 0; envs && envs[i]; i++) {
		char *kv = expand(envs[i]), *eq = strchr(kv, '=');

		*eq = '\0';
		setenv(kv, eq + 1, 1);
		free(kv);
	}
}

static void home_setup(void)
{
	awsenv_home_make(home, sizeof(home), "/tmp/dynamofs-creds.XXXXXX");
}

static void home_teardown(void)
{
	awsenv_home_remove(home);
}

/* The network rule, enforced: a case may reach instance metadata only on
 * 127.0.0.1 and never the container host. */
static bool network_safe(void)
{
	const char *dis = getenv("AWS_EC2_METADATA_DISABLED");
	const char *ep = getenv("AWS_EC2_METADATA_SERVICE_ENDPOINT");

	if (getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"))
		return false;
	if (dis && strcmp(dis, "true") == 0)
		return true;
	return ep && strncmp(ep, "http://127.0.0.1:", 17) == 0;
}

/* config_resolve + creds_provider_new, refusing unsafe environments. */
static int provider_new(const char *profile, struct creds_provider **p,
			char *err, size_t errlen)
{
	struct config_options opts = {.region = "us-east-1",
				      .profile = profile};
	struct config cfg;
	int ret;

	*p = NULL;
	if (!network_safe()) {
		printf("#   unsafe environment: refusing to run the chain\n");
		CHECK(0);
		return -EPERM;
	}
	ret = config_resolve(&opts, &cfg, err, errlen);
	if (ret) {
		printf("#   config_resolve: %s\n", err);
		return ret;
	}
	ret = creds_provider_new(&cfg, http, prompt, p, err, errlen);
	config_free(&cfg);
	return ret;
}

/* A process that prints credentials, counting its runs in $HOME/runs. */
#define PROC_OK                                                                \
	"#!/bin/sh\necho run >> \"${HOME}/runs\"\n"                            \
	"echo '{\"Version\": 1, \"AccessKeyId\": \"AKPROC\", "                 \
	"\"SecretAccessKey\": \"" SECRET_MARK "PROC\", \"SessionToken\": "     \
	"\"TOKPROC\", \"Expiration\": \"2030-01-01T00:00:00Z\"}'\n"
#define T2030 1893456000 /* 2030-01-01T00:00:00Z */
/* An SSO profile, the token `aws sso login` would cache for it (named by
 * SHA-1 of "corp" or of the start URL) and the portal's answer. */
#define SSO_CONFIG                                                             \
	"[profile dev]\nsso_session = corp\nsso_account_id = 111122223333\n"   \
	"sso_role_name = ReadOnly\n"                                           \
	"[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n" \
	"sso_region = eu-west-1\n"
#define SSO_CORP_SHA1 "ee0bfd2552fbd840c02cc48b6e823320543c450f"
#define SSO_URL_SHA1  "a51746d4aa793ae07b25e90c3a5db96fc7832bd7"
#define SSO_TOKEN_2030                                                         \
	"{\"accessToken\": \"TOKSSO\", \"expiresAt\": \"2030-01-01T00:00:00Z\"}"
#define SSO_SCRIPT                                                              \
	"[{\"method\": \"GET\", \"path\": \"/federation/credentials?role_name=" \
	"ReadOnly&account_id=111122223333\", \"require_header\": "              \
	"{\"x-amz-sso_bearer_token\": \"TOKSSO\"}, \"body\": "                  \
	"{\"roleCredentials\": {\"accessKeyId\": \"ASIASSO\", "                 \
	"\"secretAccessKey\": \"" SECRET_MARK "SSO\", \"sessionToken\": "       \
	"\"TOKSSOROLE\", \"expiration\": 1893456000000}}}]"

#define IMDS_OK_SCRIPT                                                         \
	"[{\"method\": \"PUT\", \"path\": \"/latest/api/token\", "             \
	"\"require_header\": {\"x-aws-ec2-metadata-token-ttl-seconds\": "      \
	"\"21600\"}, \"body\": \"IMDSTOKEN\"},"                                \
	"{\"method\": \"GET\", \"path\": "                                     \
	"\"/latest/meta-data/iam/security-credentials/\", "                    \
	"\"require_header\": {\"x-aws-ec2-metadata-token\": \"IMDSTOKEN\"},"   \
	" \"body\": \"myrole\\n\"},"                                           \
	"{\"method\": \"GET\", \"path\": "                                     \
	"\"/latest/meta-data/iam/security-credentials/myrole\", "              \
	"\"require_header\": {\"x-aws-ec2-metadata-token\": \"IMDSTOKEN\"},"   \
	" \"body\": {\"Code\": \"Success\", \"Type\": \"AWS-HMAC\", "          \
	"\"AccessKeyId\": \"AKIMDS\", \"SecretAccessKey\": \"" SECRET_MARK     \
	"IMDS\", \"Token\": \"TOKIMDS\", \"Expiration\": "                     \
	"\"2030-01-01T00:00:00Z\"}}]"

#define CONTAINER_BODY_UNTIL(ak, iso)                                          \
	"{\"AccessKeyId\": \"" ak "\", \"SecretAccessKey\": \"" SECRET_MARK ak \
	"\", \"Token\": \"TOK" ak "\", \"Expiration\": \"" iso "\"}"
#define CONTAINER_BODY(ak) CONTAINER_BODY_UNTIL(ak, "2030-01-01T00:00:00Z")

#define IMDS_ON                                                                \
	"AWS_EC2_METADATA_DISABLED=", "AWS_EC2_METADATA_SERVICE_ENDPOINT=$U"

struct chain_case {
	const char *name;
	const char *credentials; /* ~/.aws/credentials text, or NULL */
	const char *config;	 /* ~/.aws/config text, or NULL */
	const char *files[2][2]; /* extra {path, text} under $H */
	const char *env[8];
	const char *script; /* fakehttp script; $U is its URL */
	const char *profile;
	int ret;
	const char *akid, *token, *source, *err;
	time_t expiration;
	int requests; /* requests the server must see; -1: not checked */
};

#define ENV(...)                                                               \
	{                                                                      \
		__VA_ARGS__, NULL                                              \
	}

static const struct chain_case chain_cases[] = {
    /* environment */
    {"env: keys and session token beat the profile",
     "[default]\naws_access_key_id = AKFILE\n"
     "aws_secret_access_key = " SECRET_MARK "FILE\n",
     NULL,
     {},
     ENV("AWS_ACCESS_KEY_ID=AKENV", "AWS_SECRET_ACCESS_KEY=" SECRET_MARK "ENV",
	 "AWS_SESSION_TOKEN=TOKENV"),
     NULL,
     NULL,
     0,
     "AKENV",
     "TOKENV",
     "environment (AWS_ACCESS_KEY_ID)",
     .requests = -1},
    {"env: without a session token",
     NULL,
     NULL,
     {},
     ENV("AWS_ACCESS_KEY_ID=AKENV", "AWS_SECRET_ACCESS_KEY=" SECRET_MARK "ENV"),
     NULL,
     NULL,
     0,
     "AKENV",
     NULL,
     "environment (AWS_ACCESS_KEY_ID)",
     .requests = -1},
    {"env: AWS_SECURITY_TOKEN wins over AWS_SESSION_TOKEN (botocore's order)",
     NULL,
     NULL,
     {},
     ENV("AWS_ACCESS_KEY_ID=AKENV", "AWS_SECRET_ACCESS_KEY=" SECRET_MARK "ENV",
	 "AWS_SESSION_TOKEN=TOKNEW", "AWS_SECURITY_TOKEN=TOKOLD"),
     NULL,
     NULL,
     0,
     "AKENV",
     "TOKOLD",
     "environment (AWS_ACCESS_KEY_ID)",
     .requests = -1},
    {"env: AWS_CREDENTIAL_EXPIRATION makes the keys expire",
     NULL,
     NULL,
     {},
     ENV("AWS_ACCESS_KEY_ID=AKENV", "AWS_SECRET_ACCESS_KEY=" SECRET_MARK "ENV",
	 "AWS_CREDENTIAL_EXPIRATION=2030-01-01T00:00:00Z"),
     NULL,
     NULL,
     0,
     "AKENV",
     NULL,
     "environment (AWS_ACCESS_KEY_ID, until AWS_CREDENTIAL_EXPIRATION)",
     .expiration = T2030,
     .requests = -1},
    {"env: AWS_CREDENTIAL_EXPIRATION in the past -> EACCES naming it",
     NULL,
     NULL,
     {},
     ENV("AWS_ACCESS_KEY_ID=AKENV", "AWS_SECRET_ACCESS_KEY=" SECRET_MARK "ENV",
	 "AWS_CREDENTIAL_EXPIRATION=2020-01-01T00:00:00Z"),
     NULL,
     NULL,
     -EACCES,
     .err = "the credentials in AWS_ACCESS_KEY_ID expired at "
	    "2020-01-01T00:00:00Z (AWS_CREDENTIAL_EXPIRATION)",
     .requests = -1},
    {"env: AWS_CREDENTIAL_EXPIRATION not a time -> EINVAL",
     NULL,
     NULL,
     {},
     ENV("AWS_ACCESS_KEY_ID=AKENV", "AWS_SECRET_ACCESS_KEY=" SECRET_MARK "ENV",
	 "AWS_CREDENTIAL_EXPIRATION=tomorrow"),
     NULL,
     NULL,
     -EINVAL,
     .err = "AWS_CREDENTIAL_EXPIRATION \"tomorrow\" is not an ISO 8601 "
	    "time",
     .requests = -1},
    {"env: only AWS_ACCESS_KEY_ID -> EINVAL",
     NULL,
     NULL,
     {},
     ENV("AWS_ACCESS_KEY_ID=AKENV"),
     NULL,
     NULL,
     -EINVAL,
     .err = "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not",
     .requests = -1},
    {"env: only AWS_SECRET_ACCESS_KEY -> EINVAL",
     NULL,
     NULL,
     {},
     ENV("AWS_SECRET_ACCESS_KEY=" SECRET_MARK "ENV"),
     NULL,
     NULL,
     -EINVAL,
     .err = "AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not",
     .requests = -1},

    /* profile */
    {"profile: credentials-file keys beat credential_process",
     "[default]\naws_access_key_id = AKFILE\n"
     "aws_secret_access_key = " SECRET_MARK "FILE\n"
     "aws_session_token = TOKFILE\n",
     "[default]\ncredential_process = $H/proc.sh\n"
     "aws_access_key_id = AKCONF\n"
     "aws_secret_access_key = " SECRET_MARK "CONF\n",
     {{"$H/proc.sh", PROC_OK}},
     ENV(NULL),
     NULL,
     NULL,
     0,
     "AKFILE",
     "TOKFILE",
     "profile \"default\" in $H/.aws/credentials",
     .requests = -1},
    {"profile: credential_process beats config-file keys",
     NULL,
     "[default]\ncredential_process = $H/proc.sh\n"
     "aws_access_key_id = AKCONF\n"
     "aws_secret_access_key = " SECRET_MARK "CONF\n",
     {{"$H/proc.sh", PROC_OK}},
     ENV(NULL),
     NULL,
     NULL,
     0,
     "AKPROC",
     "TOKPROC",
     "credential_process of profile \"default\"",
     .expiration = T2030,
     .requests = -1},
    {"profile: config-file keys",
     NULL,
     "[default]\naws_access_key_id = AKCONF\n"
     "aws_secret_access_key = " SECRET_MARK "CONF\n",
     {},
     ENV(NULL),
     NULL,
     NULL,
     0,
     "AKCONF",
     NULL,
     "profile \"default\" in $H/.aws/config",
     .requests = -1},
    {"profile: option profile= picks [dev]",
     "[default]\naws_access_key_id = AKDEF\n"
     "aws_secret_access_key = " SECRET_MARK "DEF\n"
     "[dev]\naws_access_key_id = AKDEV\n"
     "aws_secret_access_key = " SECRET_MARK "DEV\n",
     NULL,
     {},
     ENV(NULL),
     NULL,
     "dev",
     0,
     "AKDEV",
     NULL,
     "profile \"dev\" in $H/.aws/credentials",
     .requests = -1},
    {"profile: AWS_PROFILE picks [profile dev] in config",
     NULL,
     "[profile dev]\naws_access_key_id = AKDEV\n"
     "aws_secret_access_key = " SECRET_MARK "DEV\n",
     {},
     ENV("AWS_PROFILE=dev"),
     NULL,
     NULL,
     0,
     "AKDEV",
     NULL,
     "profile \"dev\" in $H/.aws/config",
     .requests = -1},
    {"profile: AWS_SHARED_CREDENTIALS_FILE",
     NULL,
     NULL,
     {{"$H/alt/creds", "[default]\naws_access_key_id = AKALT\n"
		       "aws_secret_access_key = " SECRET_MARK "\n"}},
     ENV("AWS_SHARED_CREDENTIALS_FILE=$H/alt/creds"),
     NULL,
     NULL,
     0,
     "AKALT",
     NULL,
     "profile \"default\" in $H/alt/creds",
     .requests = -1},
    {"profile: half a key pair in the file -> EINVAL",
     "[default]\naws_access_key_id = AKFILE\n",
     NULL,
     {},
     ENV(NULL),
     NULL,
     NULL,
     -EINVAL,
     .err = "profile \"default\" in $H/.aws/credentials has "
	    "aws_access_key_id but no aws_secret_access_key",
     .requests = -1},
    {"profile: role_arn, source_profile missing -> EINVAL naming it",
     NULL,
     "[profile dev]\nrole_arn = arn:aws:iam::1:role/r\n"
     "source_profile = default\n",
     {},
     ENV("AWS_PROFILE=dev"),
     NULL,
     NULL,
     -EINVAL,
     .err = "profile \"dev\": source_profile \"default\" is not in "
	    "$H/.aws/credentials or $H/.aws/config",
     .requests = -1},
    {"sso: sso_session without its [sso-session] section -> EINVAL",
     NULL,
     "[profile dev]\nsso_session = corp\nsso_account_id = 1\n"
     "sso_role_name = R\n",
     {},
     ENV("AWS_PROFILE=dev"),
     NULL,
     NULL,
     -EINVAL,
     .err = "profile \"dev\": sso_session \"corp\" has no "
	    "[sso-session corp] section in $H/.aws/config",
     .requests = -1},
    {"sso: sso_account_id without sso_session or start URL -> EINVAL",
     NULL,
     "[profile dev]\nsso_account_id = 1\nsso_role_name = R\n",
     {},
     ENV("AWS_PROFILE=dev"),
     NULL,
     NULL,
     -EINVAL,
     .err = "SSO profile \"dev\" lacks sso_session (or the legacy "
	    "sso_start_url and sso_region)",
     .requests = -1},
    {"sso: sso_session alone (a login-only profile) is not an SSO source",
     NULL,
     "[profile dev]\nsso_session = corp\n"
     "[sso-session corp]\nsso_start_url = https://x/start\n"
     "sso_region = eu-west-1\n",
     {},
     ENV("AWS_PROFILE=dev"),
     NULL,
     NULL,
     -ENOENT,
     .err = "no credentials found",
     .requests = -1},
    {"sso: no cached token -> EACCES telling to run aws sso login",
     NULL,
     SSO_CONFIG,
     {},
     ENV("AWS_PROFILE=dev", "AWS_ENDPOINT_URL_SSO=$U"),
     SSO_SCRIPT,
     NULL,
     -EACCES,
     .err = "run: aws sso login --profile dev",
     .requests = 0},
    {"sso: a cached token -> the portal's role credentials",
     NULL,
     SSO_CONFIG,
     {{"$H/.aws/sso/cache/" SSO_CORP_SHA1 ".json", SSO_TOKEN_2030}},
     ENV("AWS_PROFILE=dev", "AWS_ENDPOINT_URL_SSO=$U"),
     SSO_SCRIPT,
     NULL,
     0,
     "ASIASSO",
     "TOKSSOROLE",
     "SSO session \"corp\" (profile \"dev\"), account 111122223333, role "
     "ReadOnly, token cached until 2030-01-01T00:00Z",
     .expiration = T2030,
     .requests = 1},
    {"sso: legacy sso_start_url profile, cache named by the URL",
     NULL,
     "[profile dev]\nsso_start_url = https://corp.awsapps.com/start\n"
     "sso_region = eu-west-1\nsso_account_id = 111122223333\n"
     "sso_role_name = ReadOnly\n",
     {{"$H/.aws/sso/cache/" SSO_URL_SHA1 ".json", SSO_TOKEN_2030}},
     ENV("AWS_PROFILE=dev", "AWS_ENDPOINT_URL_SSO=$U"),
     SSO_SCRIPT,
     NULL,
     0,
     "ASIASSO",
     "TOKSSOROLE",
     "SSO start URL https://corp.awsapps.com/start (profile \"dev\"), "
     "account 111122223333, role ReadOnly, token cached until "
     "2030-01-01T00:00Z",
     .expiration = T2030,
     .requests = 1},
    {"sso: role_arn wins over the profile's SSO settings (botocore's order)",
     NULL,
     "[profile dev]\nrole_arn = arn:aws:iam::1:role/r\n"
     "sso_session = corp\nsso_account_id = 111122223333\n"
     "sso_role_name = ReadOnly\n"
     "[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\n"
     "sso_region = eu-west-1\n",
     {{"$H/.aws/sso/cache/" SSO_CORP_SHA1 ".json", SSO_TOKEN_2030}},
     ENV("AWS_PROFILE=dev", "AWS_ENDPOINT_URL_SSO=$U"),
     SSO_SCRIPT,
     NULL,
     -EINVAL,
     .err = "profile \"dev\" has role_arn but neither source_profile nor "
	    "credential_source",
     .requests = 0},
    {"profile: web_identity_token_file unreadable -> EIO naming it",
     NULL,
     "[default]\nweb_identity_token_file = $H/none\nrole_arn = x\n",
     {},
     ENV(NULL),
     NULL,
     NULL,
     -EIO,
     .err = "cannot read web identity token file $H/none: No such file",
     .requests = -1},
    {"profile: role_arn wins over the profile's keys (botocore's order)",
     "[dev]\naws_access_key_id = AKDEV\n"
     "aws_secret_access_key = " SECRET_MARK "\n",
     "[profile dev]\nrole_arn = arn:aws:iam::1:role/r\n",
     {},
     ENV("AWS_PROFILE=dev"),
     NULL,
     NULL,
     -EINVAL,
     .err = "profile \"dev\" has role_arn but neither source_profile nor "
	    "credential_source",
     .requests = -1},
    {"profile: role_arn with both source_profile and credential_source",
     NULL,
     "[profile dev]\nrole_arn = arn:aws:iam::1:role/r\n"
     "source_profile = dev\ncredential_source = Environment\n",
     {},
     ENV("AWS_PROFILE=dev"),
     NULL,
     NULL,
     -EINVAL,
     .err = "profile \"dev\" has both source_profile and credential_source",
     .requests = -1},
    {"profile: mfa_serial with no prompt -> EACCES, mount from a terminal",
     "[base]\naws_access_key_id = AKB\naws_secret_access_key = S\n",
     "[profile dev]\nrole_arn = arn:aws:iam::1:role/r\n"
     "source_profile = base\nmfa_serial = arn:aws:iam::1:mfa/me\n",
     {},
     ENV("AWS_PROFILE=dev"),
     NULL,
     NULL,
     -EACCES,
     .err = "profile \"dev\": role arn:aws:iam::1:role/r needs an MFA code "
	    "(mfa_serial arn:aws:iam::1:mfa/me) but there is no terminal to "
	    "ask for it; mount from a terminal, or for unattended mounts use "
	    "a profile with credential_process instead of \"dev\"",
     .requests = -1},
    {"env: web identity without a role -> EINVAL",
     NULL,
     NULL,
     {{"$H/tok", "eyJ"}},
     ENV("AWS_WEB_IDENTITY_TOKEN_FILE=$H/tok"),
     NULL,
     NULL,
     -EINVAL,
     .err = "web identity token file $H/tok is set but no role: set "
	    "AWS_ROLE_ARN or role_arn in profile \"default\"",
     .requests = -1},
    {"env: web identity token file unreadable -> EIO",
     NULL,
     NULL,
     {},
     ENV("AWS_WEB_IDENTITY_TOKEN_FILE=/nonexistent/t", "AWS_ROLE_ARN=arn:x"),
     NULL,
     NULL,
     -EIO,
     .err = "cannot read web identity token file /nonexistent/t",
     .requests = -1},

    /* credential_process */
    {"process: non-zero exit -> EIO with status and first stderr line",
     NULL,
     "[default]\ncredential_process = $H/p.sh --flag\n",
     {{"$H/p.sh", "#!/bin/sh\necho 'token expired: run login' >&2\n"
		  "echo second line >&2\nexit 3\n"}},
     ENV(NULL),
     NULL,
     NULL,
     -EIO,
     .err = "profile \"default\": credential_process exited with status "
	    "3: token expired: run login",
     .requests = -1},
    {"process: missing command -> EIO (127)",
     NULL,
     "[default]\ncredential_process = /nonexistent/cmd\n",
     {},
     ENV(NULL),
     NULL,
     NULL,
     -EIO,
     .err = "exited with status 127",
     .requests = -1},
    {"process: bad JSON -> EINVAL, output not quoted",
     NULL,
     "[default]\ncredential_process = $H/p.sh\n",
     {{"$H/p.sh", "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": "
		  "\"AK\", \"SecretAccessKey\": \"" SECRET_MARK "\" oops'\n"}},
     ENV(NULL),
     NULL,
     NULL,
     -EINVAL,
     .err = "credential_process: output is not JSON (line 1",
     .requests = -1},
    {"process: Version 2 -> EINVAL",
     NULL,
     "[default]\ncredential_process = echo '{\"Version\": 2, "
     "\"AccessKeyId\": \"AK\", \"SecretAccessKey\": \"" SECRET_MARK "\"}'\n",
     {},
     ENV(NULL),
     NULL,
     NULL,
     -EINVAL,
     .err = "output needs \"Version\": 1",
     .requests = -1},
    {"process: no SecretAccessKey -> EINVAL",
     NULL,
     "[default]\ncredential_process = echo '{\"Version\": 1, "
     "\"AccessKeyId\": \"AK\"}'\n",
     {},
     ENV(NULL),
     NULL,
     NULL,
     -EINVAL,
     .err = "lacks a string \"SecretAccessKey\"",
     .requests = -1},
    {"process: bad Expiration -> EINVAL",
     NULL,
     "[default]\ncredential_process = echo '{\"Version\": 1, "
     "\"AccessKeyId\": \"AK\", \"SecretAccessKey\": \"" SECRET_MARK
     "\", \"Expiration\": \"tomorrow\"}'\n",
     {},
     ENV(NULL),
     NULL,
     NULL,
     -EINVAL,
     .err = "bad \"Expiration\": \"tomorrow\"",
     .requests = -1},
    {"process: no expiration, no token",
     NULL,
     "[default]\ncredential_process = echo '{\"Version\": 1, "
     "\"AccessKeyId\": \"AKP\", \"SecretAccessKey\": \"" SECRET_MARK "\"}'\n",
     {},
     ENV(NULL),
     NULL,
     NULL,
     0,
     "AKP",
     NULL,
     "credential_process of profile \"default\"",
     .expiration = 0,
     .requests = -1},

    /* container */
    {"container: FULL_URI with AWS_CONTAINER_AUTHORIZATION_TOKEN",
     NULL,
     NULL,
     {},
     ENV("AWS_CONTAINER_CREDENTIALS_FULL_URI=$U/creds",
	 "AWS_CONTAINER_AUTHORIZATION_TOKEN=Bearer tok123"),
     "[{\"method\": \"GET\", \"path\": \"/creds\", \"require_header\": "
     "{\"Authorization\": \"Bearer tok123\"}, \"body\": " CONTAINER_BODY(
	 "AKCONT") "}]",
     NULL,
     0,
     "AKCONT",
     "TOKAKCONT",
     "container endpoint $U/creds",
     .expiration = T2030,
     .requests = 1},
    {"container: AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE wins",
     NULL,
     NULL,
     {{"$H/tokfile", "filetok\n"}},
     ENV("AWS_CONTAINER_CREDENTIALS_FULL_URI=$U/creds",
	 "AWS_CONTAINER_AUTHORIZATION_TOKEN=envtok",
	 "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=$H/tokfile"),
     "[{\"method\": \"GET\", \"path\": \"/creds\", \"require_header\": "
     "{\"Authorization\": \"filetok\"}, \"body\": " CONTAINER_BODY(
	 "AKFILE") "}]",
     NULL,
     0,
     "AKFILE",
     "TOKAKFILE",
     "container endpoint $U/creds",
     .expiration = T2030,
     .requests = 1},
    {"container: wrong token -> EIO with the status",
     NULL,
     NULL,
     {},
     ENV("AWS_CONTAINER_CREDENTIALS_FULL_URI=$U/creds",
	 "AWS_CONTAINER_AUTHORIZATION_TOKEN=wrong"),
     "[{\"method\": \"GET\", \"path\": \"/creds\", \"require_header\": "
     "{\"Authorization\": \"right\"}, \"body\": " CONTAINER_BODY("AK") "}]",
     NULL,
     -EIO,
     .err = "container credentials endpoint $U/creds answered HTTP 401",
     .requests = 1},
    {"container: token with a line break -> EINVAL, no request",
     NULL,
     NULL,
     {},
     ENV("AWS_CONTAINER_CREDENTIALS_FULL_URI=$U/creds",
	 "AWS_CONTAINER_AUTHORIZATION_TOKEN=a\r\nX-Evil: 1"),
     "[]",
     NULL,
     -EINVAL,
     .err = "not a legal header value",
     .requests = 0},
    {"container: plain http to another host -> EINVAL",
     NULL,
     NULL,
     {},
     ENV("AWS_CONTAINER_CREDENTIALS_FULL_URI=http://192.0.2.1/creds"),
     NULL,
     NULL,
     -EINVAL,
     .err = "plain http is allowed only",
     .requests = -1},
    {"container: bad JSON -> EINVAL",
     NULL,
     NULL,
     {},
     ENV("AWS_CONTAINER_CREDENTIALS_FULL_URI=$U/c"),
     "[{\"path\": \"/c\", \"body\": \"{" SECRET_MARK "\"}]",
     NULL,
     -EINVAL,
     .err = "container credentials endpoint: output is not JSON",
     .requests = 1},
    {"container: beats IMDS",
     NULL,
     NULL,
     {},
     ENV("AWS_CONTAINER_CREDENTIALS_FULL_URI=$U/creds", IMDS_ON),
     "[{\"method\": \"GET\", \"path\": \"/creds\", \"body\": " CONTAINER_BODY(
	 "AKCONT") "}]",
     NULL,
     0,
     "AKCONT",
     "TOKAKCONT",
     .expiration = T2030,
     .requests = 1},
    {"container: profile keys beat it",
     "[default]\naws_access_key_id = AKFILE\n"
     "aws_secret_access_key = " SECRET_MARK "\n",
     NULL,
     {},
     ENV("AWS_CONTAINER_CREDENTIALS_FULL_URI=$U/creds"),
     "[]",
     NULL,
     0,
     "AKFILE",
     .requests = 0},

    /* IMDS */
    {"imds: IMDSv2 token, role, credentials",
     NULL,
     NULL,
     {},
     ENV(IMDS_ON),
     IMDS_OK_SCRIPT,
     NULL,
     0,
     "AKIMDS",
     "TOKIMDS",
     "EC2 instance metadata (role myrole)",
     .expiration = T2030,
     .requests = 3},
    {"imds: AWS_EC2_METADATA_DISABLED=true sends nothing",
     NULL,
     NULL,
     {},
     ENV("AWS_EC2_METADATA_DISABLED=true",
	 "AWS_EC2_METADATA_SERVICE_ENDPOINT=$U"),
     IMDS_OK_SCRIPT,
     NULL,
     -ENOENT,
     .err = "EC2 instance metadata (disabled by "
	    "AWS_EC2_METADATA_DISABLED)",
     .requests = 0},
    {"imds: no role attached -> ENOENT",
     NULL,
     NULL,
     {},
     ENV(IMDS_ON),
     "[{\"method\": \"PUT\", \"path\": \"/latest/api/token\", "
     "\"body\": \"T\"}]",
     NULL,
     -ENOENT,
     .err = "EC2 instance metadata (no IAM role (HTTP 404))",
     .requests = 2},
    {"imds: token refused -> ENOENT, no GET",
     NULL,
     NULL,
     {},
     ENV(IMDS_ON),
     "[{\"method\": \"PUT\", \"status\": 403}]",
     NULL,
     -ENOENT,
     .err = "token request answered HTTP 403",
     .requests = 1},
    {"imds: unreachable -> ENOENT",
     NULL,
     NULL,
     {},
     ENV("AWS_EC2_METADATA_DISABLED=false",
	 "AWS_EC2_METADATA_SERVICE_ENDPOINT=http://127.0.0.1:1"),
     NULL,
     NULL,
     -ENOENT,
     .err = "EC2 instance metadata (http://127.0.0.1:1: ",
     .requests = -1},
    {"imds: Code other than Success -> EIO",
     NULL,
     NULL,
     {},
     ENV(IMDS_ON),
     "[{\"method\": \"PUT\", \"body\": \"T\"},"
     "{\"path\": \"/latest/meta-data/iam/security-credentials/\", "
     "\"body\": \"r\"},"
     "{\"path\": \"/latest/meta-data/iam/security-credentials/r\", "
     "\"body\": {\"Code\": \"AssumeRoleUnauthorizedAccess\"}}]",
     NULL,
     -EIO,
     .err = "EC2 instance metadata: credentials of role r: Code "
	    "AssumeRoleUnauthorizedAccess",
     .requests = 3},

    /* nothing */
    {"nothing anywhere -> ENOENT naming what was tried",
     NULL,
     NULL,
     {},
     ENV(NULL),
     NULL,
     NULL,
     -ENOENT,
     .err = "no credentials found; tried environment (AWS_ACCESS_KEY_ID "
	    "not set), profile \"default\" (not in $H/.aws/credentials "
	    "or $H/.aws/config), container credentials "
	    "(AWS_CONTAINER_CREDENTIALS_*_URI not set), EC2 instance "
	    "metadata (disabled by AWS_EC2_METADATA_DISABLED)",
     .requests = -1},
    {"nothing in an existing profile -> ENOENT",
     NULL,
     "[default]\nregion = eu-west-1\n",
     {},
     ENV(NULL),
     NULL,
     NULL,
     -ENOENT,
     .err = "profile \"default\" (no keys or credential_process)",
     .requests = -1},
};

static void run_chain_case(const struct chain_case *c)
{
	struct fakehttp srv = {0};
	struct creds_provider *p = NULL;
	struct creds cr = {0};
	char err[1024] = "", *want;
	int ret;

	home_setup();
	if (c->script) {
		if (fakehttp_start(&srv, c->script)) {
			CHECK(0);
			goto out;
		}
		server_url = srv.url;
	}
	if (c->credentials)
		write_file("$H/.aws/credentials", c->credentials);
	if (c->config)
		write_file("$H/.aws/config", c->config);
	for (int i = 0; i < 2; i++)
		if (c->files[i][0])
			write_file(c->files[i][0], c->files[i][1]);
	set_envs(c->env);

	ret = provider_new(c->profile, &p, err, sizeof(err));
	CHECK_INT(ret, c->ret);
	CHECK(!strstr(err, SECRET_MARK));
	if (ret) {
		want = expand(c->err ? c->err : "");
		if (!strstr(err, want))
			CHECK_STR(err, want);
		free(want);
		CHECK(p == NULL);
	} else if (p) {
		CHECK_INT(creds_provider_get(p, time(NULL), &cr), 0);
		CHECK_STR(cr.access_key_id, c->akid);
		CHECK(cr.secret_access_key &&
		      strncmp(cr.secret_access_key, SECRET_MARK, 6) == 0);
		if (c->token)
			CHECK_STR(cr.session_token, c->token);
		else
			CHECK(cr.session_token == NULL);
		CHECK_INT(cr.expiration, c->expiration);
		if (c->source) {
			want = expand(c->source);
			CHECK_STR(creds_provider_source(p), want);
			free(want);
		}
		creds_clear(&cr);
	}
	if (c->requests >= 0)
		CHECK_INT(fakehttp_count(&srv), c->requests);
out:
	creds_provider_free(p);
	if (c->script)
		fakehttp_stop(&srv);
	server_url = "";
	home_teardown();
}

static size_t next_case;

static void test_next_chain_case(void)
{
	run_chain_case(&chain_cases[next_case++]);
}

/* IMDSv2 order: the PUT with the TTL first, then the token on each GET. */
static void test_imds_requests(void)
{
	struct fakehttp srv;
	struct creds_provider *p = NULL;
	char err[512], *log, *l2, *l3;

	home_setup();
	if (fakehttp_start(&srv, IMDS_OK_SCRIPT)) {
		CHECK(0);
		return;
	}
	server_url = srv.url;
	setenv("AWS_EC2_METADATA_DISABLED", "false", 1);
	setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", srv.url, 1);
	CHECK_INT(provider_new(NULL, &p, err, sizeof(err)), 0);
	log = fakehttp_log(&srv);
	CHECK(log != NULL);
	if (log) {
		l2 = strchr(log, '\n');
		l3 = l2 ? strchr(l2 + 1, '\n') : NULL;
		CHECK(l2 && l3);
		if (l2 && l3) {
			*l2++ = '\0';
			*l3++ = '\0';
			CHECK(strstr(log, "\"method\": \"PUT\"") &&
			      strstr(log, "\"path\": \"/latest/api/token\"") &&
			      strstr(log, "\"x-aws-ec2-metadata-token-ttl-"
					  "seconds\": \"21600\""));
			CHECK(strstr(l2, "\"method\": \"GET\"") &&
			      strstr(l2, "security-credentials/\"") &&
			      strstr(l2, "\"x-aws-ec2-metadata-token\": "
					 "\"IMDSTOKEN\""));
			CHECK(strstr(l3, "\"method\": \"GET\"") &&
			      strstr(l3, "security-credentials/myrole\"") &&
			      strstr(l3, "\"x-aws-ec2-metadata-token\": "
					 "\"IMDSTOKEN\""));
		}
	}
	free(log);
	creds_provider_free(p);
	fakehttp_stop(&srv);
	server_url = "";
	home_teardown();
}

static int count_runs(void)
{
	char path[128];
	FILE *fp;
	int n = 0, ch;

	snprintf(path, sizeof(path), "%s/runs", home);
	fp = fopen(path, "r");
	if (!fp)
		return 0;
	while ((ch = fgetc(fp)) != EOF)
		n += ch == '\n';
	fclose(fp);
	return n;
}

/* credential_process is run again when its credentials near expiry, and
 * a failing re-run keeps the old ones while they are valid. */
static void test_process_refresh(void)
{
	struct creds_provider *p = NULL;
	struct creds c = {0};
	char err[512];

	home_setup();
	/* succeeds on runs 1 and 2, fails from run 3 on */
	write_file(
	    "$H/proc.sh",
	    "#!/bin/sh\necho run >> \"${HOME}/runs\"\n"
	    "n=$(wc -l < \"${HOME}/runs\")\n"
	    "if [ $n -ge 3 ]; then echo 'login expired' >&2; exit 1; fi\n"
	    "echo \"{\\\"Version\\\": 1, \\\"AccessKeyId\\\": "
	    "\\\"AK$n\\\", \\\"SecretAccessKey\\\": \\\"" SECRET_MARK
	    "\\\", \\\"Expiration\\\": \\\"2030-01-01T00:00:00Z\\\"}\"\n");
	write_file("$H/.aws/config", "[default]\ncredential_process = "
				     "$H/proc.sh\n");
	CHECK_INT(provider_new(NULL, &p, err, sizeof(err)), 0);
	if (!p)
		goto out;
	CHECK_INT(count_runs(), 1);
	/* an hour before expiry: no re-run */
	CHECK_INT(creds_provider_get(p, T2030 - 3600, &c), 0);
	CHECK_STR(c.access_key_id, "AK1");
	creds_clear(&c);
	CHECK_INT(count_runs(), 1);
	/* four minutes before: re-run */
	CHECK_INT(creds_provider_get(p, T2030 - 240, &c), 0);
	CHECK_STR(c.access_key_id, "AK2");
	creds_clear(&c);
	CHECK_INT(count_runs(), 2);
	/* the same 2030 expiry again: the third run fails, AK2 stays */
	CHECK_INT(creds_provider_get(p, T2030 - 200, &c), 0);
	CHECK_STR(c.access_key_id, "AK2");
	creds_clear(&c);
	CHECK_INT(count_runs(), 3);
	/* no new try within 30 s of a failure */
	CHECK_INT(creds_provider_get(p, T2030 - 190, &c), 0);
	CHECK_INT(count_runs(), 3);
	creds_clear(&c);
	/* expired and the refresh fails: EACCES, nothing handed out */
	CHECK_INT(creds_provider_get(p, T2030 + 1, &c), -EACCES);
	CHECK(c.access_key_id == NULL && c.secret_access_key == NULL);
	CHECK_INT(count_runs(), 4);
out:
	creds_provider_free(p);
	home_teardown();
}

/* Container credentials: refreshed before expiry; a failed refresh
 * (after its retries) keeps the old ones; the log never has a secret. */
static void test_container_refresh(void)
{
	struct fakehttp srv;
	struct creds_provider *p = NULL;
	struct creds c = {0};
	char err[512], url[128], logpath[128], *logtext = NULL;
	int saved_stderr = dup(2), fd;
	FILE *fp;

	home_setup();
	if (fakehttp_start(
		&srv,
		"[{\"path\": \"/c\", \"times\": 1, \"body\": " CONTAINER_BODY(
		    "AKA") "},"
			   "{\"path\": \"/c\", \"times\": 1, "
			   "\"body\": " CONTAINER_BODY(
			       "AKB") "},"
				      "{\"path\": \"/c\", \"status\": 500}]")) {
		CHECK(0);
		return;
	}
	snprintf(logpath, sizeof(logpath), "%s/stderr.log", home);
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);
	log_setup(LOG_DEBUG, false);

	snprintf(url, sizeof(url), "%s/c", srv.url);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	CHECK_INT(provider_new(NULL, &p, err, sizeof(err)), 0);
	if (!p)
		goto out;
	CHECK_INT(creds_provider_get(p, T2030 - 301, &c), 0);
	CHECK_STR(c.access_key_id, "AKA");
	creds_clear(&c);
	CHECK_INT(fakehttp_count(&srv), 1);
	CHECK_INT(creds_provider_get(p, T2030 - 299, &c), 0);
	CHECK_STR(c.access_key_id, "AKB");
	CHECK_STR(c.session_token, "TOKAKB");
	creds_clear(&c);
	CHECK_INT(fakehttp_count(&srv), 2);
	/* now the server fails: 3 tries, AKB stays while valid */
	CHECK_INT(creds_provider_get(p, T2030 - 100, &c), 0);
	CHECK_STR(c.access_key_id, "AKB");
	creds_clear(&c);
	CHECK_INT(fakehttp_count(&srv), 5);
	CHECK_INT(creds_provider_get(p, T2030 + 5, &c), -EACCES);
	CHECK_INT(fakehttp_count(&srv), 8);
out:
	creds_provider_free(p);
	fakehttp_stop(&srv);
	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	log_setup(LOG_WARNING, false);
	snprintf(logpath, sizeof(logpath), "%s/stderr.log", home);
	fp = fopen(logpath, "r");
	if (fp) {
		logtext = calloc(1, 65536);
		if (fread(logtext, 1, 65535, fp) == 0)
			logtext[0] = '\0';
		fclose(fp);
	}
	CHECK(logtext && strstr(logtext, "could not refresh credentials"));
	CHECK(logtext && strstr(logtext, "answered HTTP 500"));
	CHECK(logtext && !strstr(logtext, SECRET_MARK));
	CHECK(logtext && !strstr(logtext, "TOKAK"));
	free(logtext);
	home_teardown();
}

struct race {
	struct creds_provider *p;
	time_t now;
	int ret;
	char akid[16];
};

static void *race_get(void *arg)
{
	struct race *r = arg;
	struct creds c;

	r->ret = creds_provider_get(r->p, r->now, &c);
	if (!r->ret)
		snprintf(r->akid, sizeof(r->akid), "%s", c.access_key_id);
	creds_clear(&c);
	return NULL;
}

/* Eight threads near expiry: one slow refresh, the others are served
 * the still-valid old credentials instead of queueing behind it. */
static void test_concurrent_refresh(void)
{
	struct fakehttp srv;
	struct creds_provider *p = NULL;
	struct race r[8];
	pthread_t t[8];
	char err[512], url[128];
	struct creds c;

	home_setup();
	if (fakehttp_start(
		&srv,
		"[{\"path\": \"/c\", \"times\": 1, \"body\": " CONTAINER_BODY(
		    "AKA") "},"
			   "{\"path\": \"/c\", \"delay_ms\": 500, "
			   "\"body\": " CONTAINER_BODY_UNTIL(
			       "AKB", "2031-01-01T00:00:00Z") "}]")) {
		CHECK(0);
		return;
	}
	snprintf(url, sizeof(url), "%s/c", srv.url);
	setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", url, 1);
	CHECK_INT(provider_new(NULL, &p, err, sizeof(err)), 0);
	if (!p)
		goto out;
	/* Every thread finds them within 5 minutes of expiry: one fetches,
	 * the others keep the old ones meanwhile; the new ones last a year
	 * more, so a thread that starts after the fetch (a slow start under
	 * valgrind) finds nothing to renew: two requests, however the
	 * threads are scheduled. */
	for (int i = 0; i < 8; i++) {
		r[i] = (struct race){.p = p, .now = T2030 - 100};
		pthread_create(&t[i], NULL, race_get, &r[i]);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		CHECK_INT(r[i].ret, 0);
		CHECK(strcmp(r[i].akid, "AKA") == 0 ||
		      strcmp(r[i].akid, "AKB") == 0);
	}
	CHECK_INT(fakehttp_count(&srv), 2);
	CHECK_INT(creds_provider_get(p, T2030 - 100, &c), 0);
	CHECK_STR(c.access_key_id, "AKB");
	creds_clear(&c);
out:
	creds_provider_free(p);
	fakehttp_stop(&srv);
	home_teardown();
}

static void test_process_timeout(void)
{
	struct creds c;
	char err[256] = "";
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	/* a background child holds stdout too: the group is killed */
	CHECK_INT(
	    creds_process_run("sleep 30 & sleep 30", 300, &c, err, sizeof(err)),
	    -EIO);
	clock_gettime(CLOCK_MONOTONIC, &b);
	CHECK(strstr(err, "timed out") != NULL);
	/* not a speed check: it returned before either sleep could end on
	 * its own, so it was killed (a loaded machine may take seconds) */
	CHECK(b.tv_sec - a.tv_sec < 29);
	CHECK(c.access_key_id == NULL);

	CHECK_INT(creds_process_run("head -c 2000000 /dev/zero", 10000, &c, err,
				    sizeof(err)),
		  -EINVAL);
	CHECK(strstr(err, "larger than") != NULL);
	CHECK_INT(creds_process_run("kill -9 $$", 10000, &c, err, sizeof(err)),
		  -EIO);
	CHECK(strstr(err, "killed by signal 9") != NULL);
	CHECK_INT(creds_process_run("exit 1", 10000, &c, err, sizeof(err)),
		  -EIO);
	CHECK_STR(err, "credential_process exited with status 1 (no message "
		       "on stderr)");
	/* stdin is /dev/null: a process reading it does not hang */
	CHECK_INT(creds_process_run("cat", 10000, &c, err, sizeof(err)),
		  -EINVAL);
	CHECK(strstr(err, "output is not JSON") != NULL);
}

static const struct {
	const char *in;
	int ret;
	time_t out;
} times[] = {
    {"2030-01-01T00:00:00Z", 0, T2030},
    {"2030-01-01T00:00:00.123456Z", 0, T2030},
    {"2030-01-01T02:00:00+02:00", 0, T2030},
    {"2029-12-31T23:30:00-0030", 0, T2030},
    {"2030-01-01T00:00:00", 0, T2030}, /* no zone: taken as UTC */
    {"2030-01-01 00:00:00Z", 0, T2030},
    {"2030-13-01T00:00:00Z", -EINVAL, 0},
    {"2030-01-01T00:00:00Zjunk", -EINVAL, 0},
    {"2030-01-01T00:00:00+2:00", -EINVAL, 0},
    {"2030-01-01T00:00:00.Z", -EINVAL, 0},
    {"tomorrow", -EINVAL, 0},
    /* Digits where ISO 8601 puts them, and a real date (found by
     * fuzz_creds: sscanf's %2d takes " 1" and "+1"; timegm takes Feb 30). */
    {"2030-01- 1T00:00:00Z", -EINVAL, 0},
    {"2030-+1-01T00:00:00Z", -EINVAL, 0},
    {" 2030-01-01T00:00:00Z", -EINVAL, 0},
    {"2030-01-01T-1:00:00Z", -EINVAL, 0},
    {"2030-02-30T00:00:00Z", -EINVAL, 0},
    {"2029-02-29T00:00:00Z", -EINVAL, 0},
    {"2030-04-31T00:00:00Z", -EINVAL, 0},
    {"2028-02-29T00:00:00Z", 0, 1835395200},
    {"", -EINVAL, 0},
};

static void test_parse_time(void)
{
	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		time_t t = 0;
		int ret = creds_parse_time(times[i].in, &t);

		if (ret != times[i].ret || (!ret && t != times[i].out))
			printf("#   %s: %d %lld\n", times[i].in, ret,
			       (long long)t);
		CHECK_INT(ret, times[i].ret);
		if (!ret)
			CHECK_INT(t, times[i].out);
	}
}

/* The URLs the container step would use, RELATIVE_URI included, without
 * a request. */
static const struct {
	const char *relative, *full;
	int ret;
	const char *url;
} urls[] = {
    {"/v2/credentials/abc", NULL, 0, "http://169.254.170.2/v2/credentials/abc"},
    {"v2/x", "http://127.0.0.1/x", 0, "http://169.254.170.2/v2/x"},
    {NULL, "http://127.0.0.1:8080/creds", 0, "http://127.0.0.1:8080/creds"},
    {NULL, "http://127.1.2.3/c", 0, "http://127.1.2.3/c"},
    {NULL, "http://localhost:80/c", 0, "http://localhost:80/c"},
    {NULL, "http://[::1]:80/c", 0, "http://[::1]:80/c"},
    {NULL, "http://169.254.170.23/v1/credentials", 0,
     "http://169.254.170.23/v1/credentials"},
    {NULL, "https://creds.example.com/c", 0, "https://creds.example.com/c"},
    {NULL, "http://creds.example.com/c", -EINVAL, NULL},
    {NULL, "http://127.0.0.1.evil.com/c", -EINVAL, NULL},
    {NULL, "ftp://127.0.0.1/c", -EINVAL, NULL},
    /* libcurl's URL API reads them since issue 13: user info is not the
     * host (botocore's urlparse().hostname), a malformed https URL is
     * refused (it was taken before), IPv6 and upper case as before */
    {NULL, "http://u:p@127.0.0.1/c", 0, "http://u:p@127.0.0.1/c"},
    {NULL, "http://127.0.0.1@evil.com/c", -EINVAL, NULL},
    {NULL, "https://creds example/c", -EINVAL, NULL},
    {NULL, "https://h:99999/c", -EINVAL, NULL},
    {NULL, "http://[fd00:ec2::23]/c", 0, "http://[fd00:ec2::23]/c"},
    {NULL, "HTTP://LOCALHOST/c", 0, "HTTP://LOCALHOST/c"},
    {NULL, "localhost:8080/c", -EINVAL, NULL},
    {NULL, NULL, -ENOENT, NULL},
    {"", "", -ENOENT, NULL},
};

static void test_container_url(void)
{
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		char *url = NULL, err[256] = "";
		int ret = creds_container_url(urls[i].relative, urls[i].full,
					      &url, err, sizeof(err));

		CHECK_INT(ret, urls[i].ret);
		if (urls[i].url)
			CHECK_STR(url, urls[i].url);
		else
			CHECK(url == NULL);
		if (ret == -EINVAL)
			CHECK(
			    strstr(err, "AWS_CONTAINER_CREDENTIALS_FULL_URI"));
		free(url);
	}
}

static void test_clear(void)
{
	struct creds c = {0};

	creds_clear(&c);
	creds_clear(NULL);
	creds_provider_free(NULL);
	c.access_key_id = strdup("AK");
	c.secret_access_key = strdup(SECRET_MARK);
	c.session_token = strdup("TOK");
	c.expiration = 5;
	creds_clear(&c);
	CHECK(!c.access_key_id && !c.secret_access_key && !c.session_token &&
	      !c.expiration);
}

#define N_CASES (sizeof(chain_cases) / sizeof(chain_cases[0]))

/* --- assume role and web identity against fakests.py ------------------ */

#define ACCT "arn:aws:iam::123456789012:role/"
#define BASE_KEYS                                                              \
	"aws_access_key_id = AKBASE\naws_secret_access_key = " SECRET_MARK     \
	"base\n"

/* The fake accepts only AKBASE and what it issued; the web identity token
 * must be the file's content; role "nope" is denied; role "ext" needs its
 * ExternalId. */
static const char *sts_config =
    "{\"region\": \"us-east-1\", \"keys\": {\"AKBASE\": \"" SECRET_MARK
    "base\", \"AKENV\": {\"secret\": \"" SECRET_MARK "env\", \"token\": "
    "\"TOKENV\"}, \"AKCONT\": {\"secret\": \"" SECRET_MARK "AKCONT\", "
    "\"token\": \"TOKAKCONT\"}, \"AKIMDS\": {\"secret\": \"" SECRET_MARK
    "IMDS\", \"token\": \"TOKIMDS\"}}, \"web_identity_token\": \"eyJ.web.tok\\n\","
    " \"deny\": [\"" ACCT "nope\"], \"external_id\": {\"" ACCT "ext\":"
    " \"ext-1\"}}";

struct role_case {
	const char *name;
	const char *credentials, *config;
	const char *files[2][2]; /* {path, text} under $H */
	const char *env[6];	 /* besides AWS_ENDPOINT_URL_STS=$U */
	const char *profile;	 /* option profile=, or NULL */
	int ret;
	const char *source, *err;
	/* per STS request in order: "ACTION ROLE-NAME [SESSION]" */
	const char *calls[4];
	const char *param;  /* "Name=value" the last request must carry */
	bool chained;	    /* each request after the first is signed with the
			       credentials issued by the one before */
	const char *script; /* a fakehttp script for container or IMDS
			       credentials ($U is its URL), or NULL */
};

static const struct role_case role_cases[] = {
    {"role: from static keys of source_profile, with its settings",
     "[base]\n" BASE_KEYS,
     "[profile dev]\nrole_arn = " ACCT "ext\nsource_profile = base\n"
     "role_session_name = me@x\nexternal_id = ext-1\n"
     "duration_seconds = 1800\n",
     {},
     {"AWS_PROFILE=dev"},
     NULL,
     0,
     "role " ACCT "ext (profile \"dev\") via profile \"base\" in "
     "$H/.aws/credentials",
     NULL,
     {"AssumeRole ext me@x"},
     "DurationSeconds=1800"},
    {"role: a chain of two roles, the second signed with the first's keys",
     "[base]\n" BASE_KEYS,
     "[profile dev]\nrole_arn = " ACCT "dev\nsource_profile = mid\n"
     "[profile mid]\nrole_arn = " ACCT "mid\nsource_profile = base\n"
     "role_session_name = midsession\n",
     {},
     {},
     "dev",
     0,
     "role " ACCT "dev (profile \"dev\") via role " ACCT "mid (profile "
     "\"mid\") via profile \"base\" in $H/.aws/credentials",
     NULL,
     {"AssumeRole mid midsession", "AssumeRole dev"},
     NULL,
     true},
    {"role: source_profile naming itself uses its keys",
     "[dev]\n" BASE_KEYS,
     "[profile dev]\nrole_arn = " ACCT "dev\nsource_profile = dev\n",
     {},
     {},
     "dev",
     0,
     "role " ACCT "dev (profile \"dev\") via profile \"dev\" in "
     "$H/.aws/credentials",
     NULL,
     {"AssumeRole dev"}},
    {"role: source profile with credential_process",
     NULL,
     "[profile dev]\nrole_arn = " ACCT "dev\nsource_profile = p\n"
     "[profile p]\ncredential_process = $H/p.sh\n",
     {{"$H/p.sh",
       "#!/bin/sh\necho '{\"Version\": 1, \"AccessKeyId\": "
       "\"AKBASE\", \"SecretAccessKey\": \"" SECRET_MARK "base\"}'\n"}},
     {},
     "dev",
     0,
     "role " ACCT "dev (profile \"dev\") via credential_process of profile "
     "\"p\"",
     NULL,
     {"AssumeRole dev"}},
    {"role: credential_source = Environment with an explicit profile",
     NULL,
     "[profile dev]\nrole_arn = " ACCT "dev\n"
     "credential_source = Environment\n",
     {},
     {"AWS_ACCESS_KEY_ID=AKENV", "AWS_SECRET_ACCESS_KEY=" SECRET_MARK "env",
      "AWS_SESSION_TOKEN=TOKENV"},
     "dev",
     0,
     "role " ACCT "dev (profile \"dev\") via environment (AWS_ACCESS_KEY_ID)",
     NULL,
     {"AssumeRole dev"}},
    {"role: credential_source = EcsContainer",
     NULL,
     "[profile dev]\nrole_arn = " ACCT "dev\n"
     "credential_source = EcsContainer\n",
     {},
     {"AWS_CONTAINER_CREDENTIALS_FULL_URI=$U/creds"},
     "dev",
     0,
     "role " ACCT "dev (profile \"dev\") via container endpoint $U/creds",
     NULL,
     {"AssumeRole dev"},
     .script =
	 "[{\"method\": \"GET\", \"path\": \"/creds\", \"body\": " CONTAINER_BODY(
	     "AKCONT") "}]"},
    {"role: credential_source = Ec2InstanceMetadata",
     NULL,
     "[profile dev]\nrole_arn = " ACCT "dev\n"
     "credential_source = Ec2InstanceMetadata\n",
     {},
     {IMDS_ON},
     "dev",
     0,
     "role " ACCT "dev (profile \"dev\") via EC2 instance metadata (role "
     "myrole)",
     NULL,
     {"AssumeRole dev"},
     .script = IMDS_OK_SCRIPT},
    {"role: credential_source = EcsContainer not configured -> ENOENT",
     NULL,
     "[profile dev]\nrole_arn = " ACCT "dev\n"
     "credential_source = EcsContainer\n",
     {},
     {},
     "dev",
     -ENOENT,
     NULL,
     "profile \"dev\": no credentials from credential_source EcsContainer: "
     "container credentials (AWS_CONTAINER_CREDENTIALS_*_URI not set)"},
    {"role: credential_source = Environment without keys -> ENOENT",
     NULL,
     "[profile dev]\nrole_arn = " ACCT "dev\n"
     "credential_source = Environment\n",
     {},
     {},
     "dev",
     -ENOENT,
     NULL,
     "profile \"dev\": no credentials from credential_source Environment: "
     "AWS_ACCESS_KEY_ID is not set"},
    {"role: unknown credential_source -> EINVAL",
     NULL,
     "[profile dev]\nrole_arn = " ACCT "dev\ncredential_source = environment\n",
     {},
     {},
     "dev",
     -EINVAL,
     NULL,
     "profile \"dev\": credential_source \"environment\" is not "
     "Environment, Ec2InstanceMetadata or EcsContainer"},
    {"role: a loop of source profiles is refused, naming it",
     "[base]\n" BASE_KEYS,
     "[profile dev]\nrole_arn = " ACCT "dev\nsource_profile = a\n"
     "[profile a]\nrole_arn = " ACCT "a\nsource_profile = b\n"
     "[profile b]\nrole_arn = " ACCT "b\nsource_profile = a\n",
     {},
     {"AWS_PROFILE=dev"},
     NULL,
     -EINVAL,
     NULL,
     "profile \"b\": source_profile makes a loop: dev -> a -> b -> a"},
    {"role: source profile without credentials -> EINVAL",
     NULL,
     "[profile dev]\nrole_arn = " ACCT "dev\nsource_profile = empty\n"
     "[profile empty]\nregion = eu-west-1\n",
     {},
     {"AWS_PROFILE=dev"},
     NULL,
     -EINVAL,
     NULL,
     "profile \"dev\": source_profile \"empty\" has no credentials"},
    {"role: AccessDenied is one line naming the role, code and message",
     "[base]\n" BASE_KEYS,
     "[profile dev]\nrole_arn = " ACCT "nope\nsource_profile = base\n",
     {},
     {"AWS_PROFILE=dev"},
     NULL,
     -EACCES,
     NULL,
     "profile \"dev\": STS AssumeRole of role " ACCT "nope refused: "
     "AccessDenied: User: ",
     {"AssumeRole nope"}},
    {"role: the environment's keys win over AWS_PROFILE (not explicit)",
     NULL,
     "[profile dev]\nrole_arn = " ACCT "dev\nsource_profile = dev\n",
     {},
     {"AWS_PROFILE=dev", "AWS_ACCESS_KEY_ID=AKENV",
      "AWS_SECRET_ACCESS_KEY=" SECRET_MARK "env"},
     NULL,
     0,
     "environment (AWS_ACCESS_KEY_ID)",
     NULL,
     {}},
    {"web identity: from the profile, file content sent as it is",
     NULL,
     "[profile dev]\nrole_arn = " ACCT "web\n"
     "web_identity_token_file = $H/tok\nrole_session_name = pod\n",
     {{"$H/tok", "eyJ.web.tok\n"}},
     {},
     "dev",
     0,
     "web identity role " ACCT "web (token file $H/tok from profile "
     "\"dev\")",
     NULL,
     {"AssumeRoleWithWebIdentity web pod"}},
    {"web identity: from the environment, before the profile's keys",
     "[default]\n" BASE_KEYS,
     NULL,
     {{"$H/tok", "eyJ.web.tok\n"}},
     {"AWS_WEB_IDENTITY_TOKEN_FILE=$H/tok", "AWS_ROLE_ARN=" ACCT "env",
      "AWS_ROLE_SESSION_NAME=ci-job"},
     NULL,
     0,
     "web identity role " ACCT "env (token file $H/tok from "
     "AWS_WEB_IDENTITY_TOKEN_FILE)",
     NULL,
     {"AssumeRoleWithWebIdentity env ci-job"}},
    {"web identity: a wrong token is refused in one line",
     NULL,
     NULL,
     {{"$H/tok", "eyJ.other"}},
     {"AWS_WEB_IDENTITY_TOKEN_FILE=$H/tok", "AWS_ROLE_ARN=" ACCT "env"},
     NULL,
     -EACCES,
     NULL,
     "AssumeRoleWithWebIdentity of role " ACCT "env refused: "
     "InvalidIdentityToken",
     {"AssumeRoleWithWebIdentity env"}},
    {"web identity: as the source of a role",
     NULL,
     "[profile dev]\nrole_arn = " ACCT "dev\nsource_profile = w\n"
     "[profile w]\nrole_arn = " ACCT "web\n"
     "web_identity_token_file = $H/tok\n",
     {{"$H/tok", "eyJ.web.tok\n"}},
     {},
     "dev",
     0,
     "role " ACCT "dev (profile \"dev\") via web identity role " ACCT
     "web (token file $H/tok from profile \"w\")",
     NULL,
     {"AssumeRoleWithWebIdentity web", "AssumeRole dev"},
     NULL,
     true},
};
#define N_ROLE_CASES (sizeof(role_cases) / sizeof(role_cases[0]))

static const char *jget(json_t *j, const char *a, const char *b)
{
	return json_string_value(json_object_get(json_object_get(j, a), b));
}

/* Request n went as the case says: action, role, session name. */
static void check_call(const struct fakehttp *f, int n, const char *want)
{
	json_t *j = fakehttp_log_line(f, n);
	char action[64] = "", role[64] = "", session[64] = "";

	CHECK(j != NULL);
	sscanf(want, "%63s %63s %63s", action, role, session);
	CHECK_STR(json_string_value(json_object_get(j, "action")), action);
	{
		const char *arn = jget(j, "params", "RoleArn");
		const char *slash = arn ? strrchr(arn, '/') : NULL;

		CHECK_STR(slash ? slash + 1 : "", role);
	}
	if (*session)
		CHECK_STR(jget(j, "params", "RoleSessionName"), session);
	else
		CHECK(jget(j, "params", "RoleSessionName") &&
		      strncmp(jget(j, "params", "RoleSessionName"),
			      "botocore-session-", 17) == 0);
	json_decref(j);
}

/* The credentials are exactly what the fake issued on line n. */
static void check_issued(const struct fakehttp *f, int n, const struct creds *c)
{
	json_t *j = fakehttp_log_line(f, n);
	time_t exp = 0;

	CHECK(j != NULL);
	CHECK_STR(c->access_key_id, jget(j, "issued", "AccessKeyId"));
	CHECK_STR(c->secret_access_key, jget(j, "issued", "SecretAccessKey"));
	CHECK_STR(c->session_token, jget(j, "issued", "SessionToken"));
	CHECK_INT(creds_parse_time(jget(j, "issued", "Expiration"), &exp), 0);
	CHECK_INT(c->expiration, exp);
	json_decref(j);
}

static void run_role_case(const struct role_case *c)
{
	struct fakehttp f, srv = {0};
	struct creds_provider *p = NULL;
	struct creds cr = {0};
	char err[1024] = "", *want;
	int n = 0, ret;

	home_setup();
	if (fakehttp_start_tool(&f, "fakests.py", sts_config)) {
		CHECK(!"fakests.py started");
		fakehttp_stop(&f);
		goto out;
	}
	server_url = f.url;
	if (c->script) {
		if (fakehttp_start(&srv, c->script)) {
			CHECK(!"fakehttp.py started");
			goto stop;
		}
		server_url = srv.url;
	}
	if (c->credentials)
		write_file("$H/.aws/credentials", c->credentials);
	if (c->config)
		write_file("$H/.aws/config", c->config);
	for (int i = 0; i < 2; i++)
		if (c->files[i][0])
			write_file(c->files[i][0], c->files[i][1]);
	set_envs(c->env);
	setenv("AWS_ENDPOINT_URL_STS", f.url, 1);

	ret = provider_new(c->profile, &p, err, sizeof(err));
	CHECK_INT(ret, c->ret);
	CHECK(!strstr(err, SECRET_MARK));
	CHECK(!strchr(err, '\n'));
	while (n < 4 && c->calls[n])
		n++;
	CHECK_INT(fakehttp_count(&f), n);
	for (int i = 0; i < n; i++)
		check_call(&f, i, c->calls[i]);
	if (ret) {
		want = expand(c->err ? c->err : "");
		if (!strstr(err, want))
			CHECK_STR(err, want);
		free(want);
		CHECK(p == NULL);
		goto stop;
	}
	if (!p)
		goto stop;
	want = expand(c->source);
	CHECK_STR(creds_provider_source(p), want);
	free(want);
	CHECK(!strstr(creds_provider_source(p), SECRET_MARK));
	CHECK_INT(creds_provider_get(p, time(NULL), &cr), 0);
	if (n)
		check_issued(&f, n - 1, &cr);
	else
		CHECK_STR(cr.access_key_id, "AKENV");
	for (int i = 1; c->chained && i < n; i++) {
		json_t *prev = fakehttp_log_line(&f, i - 1),
		       *j = fakehttp_log_line(&f, i);
		const char *auth = jget(j, "headers", "authorization");
		const char *akid = jget(prev, "issued", "AccessKeyId");

		CHECK_STR(jget(j, "headers", "x-amz-security-token"),
			  jget(prev, "issued", "SessionToken"));
		CHECK(auth && akid && strstr(auth, akid));
		json_decref(prev);
		json_decref(j);
	}
	if (c->param) {
		json_t *j = fakehttp_log_line(&f, n - 1);
		char name[64];
		size_t len = strcspn(c->param, "=");

		snprintf(name, sizeof(name), "%.*s", (int)len, c->param);
		CHECK_STR(jget(j, "params", name), c->param + len + 1);
		json_decref(j);
	}
	creds_clear(&cr);
stop:
	if (c->script)
		fakehttp_stop(&srv);
	fakehttp_stop(&f);
out:
	creds_provider_free(p);
	server_url = "";
	home_teardown();
}

/* A chain of two roles renews from its root near expiry (the new outer
 * role is signed with the new inner keys); a web identity refresh reads
 * the rotated token file. Time is driven through now. */
static void test_role_refresh(void)
{
	struct fakehttp f;
	struct creds_provider *p = NULL;
	struct creds c = {0}, first = {0};
	char err[512] = "";
	json_t *j, *prev;
	time_t exp;

	home_setup();
	if (fakehttp_start_tool(&f, "fakests.py", sts_config)) {
		CHECK(!"fakests.py started");
		fakehttp_stop(&f);
		goto out;
	}
	setenv("AWS_ENDPOINT_URL_STS", f.url, 1);
	write_file("$H/.aws/credentials", "[base]\n" BASE_KEYS);
	write_file("$H/.aws/config", "[profile dev]\nrole_arn = " ACCT
				     "dev\nsource_profile = mid\n"
				     "[profile mid]\nrole_arn = " ACCT
				     "mid\nsource_profile = base\n"
				     "[profile w]\nrole_arn = " ACCT "web\n"
				     "web_identity_token_file = $H/tok\n");
	write_file("$H/tok", "eyJ.web.tok\n");
	CHECK_INT(provider_new("dev", &p, err, sizeof(err)), 0);
	if (!p)
		goto stop;
	CHECK_INT(fakehttp_count(&f), 2);
	CHECK_INT(creds_provider_get(p, time(NULL), &first), 0);
	/* 10 minutes before expiry: nothing fetched */
	CHECK_INT(creds_provider_get(p, first.expiration - 600, &c), 0);
	CHECK_STR(c.access_key_id, first.access_key_id);
	creds_clear(&c);
	CHECK_INT(fakehttp_count(&f), 2);
	/* 4 minutes before: mid again from base, then dev from the new mid */
	CHECK_INT(creds_provider_get(p, first.expiration - 240, &c), 0);
	CHECK_INT(fakehttp_count(&f), 4);
	check_call(&f, 2, "AssumeRole mid");
	check_call(&f, 3, "AssumeRole dev");
	check_issued(&f, 3, &c);
	CHECK(strcmp(c.access_key_id, first.access_key_id) != 0);
	prev = fakehttp_log_line(&f, 2);
	j = fakehttp_log_line(&f, 3);
	CHECK_STR(jget(j, "headers", "x-amz-security-token"),
		  jget(prev, "issued", "SessionToken"));
	json_decref(prev);
	json_decref(j);
	creds_clear(&c);
	creds_clear(&first);
	creds_provider_free(p);
	p = NULL;

	/* web identity: the rotated file is what the refresh sends */
	CHECK_INT(provider_new("w", &p, err, sizeof(err)), 0);
	if (!p)
		goto stop;
	CHECK_INT(fakehttp_count(&f), 5);
	CHECK_INT(creds_provider_get(p, time(NULL), &first), 0);
	check_issued(&f, 4, &first);
	write_file("$H/tok", "eyJ.rotated");
	/* the fake expects the old token, so it refuses: the old ones stay */
	CHECK_INT(creds_provider_get(p, first.expiration - 240, &c), 0);
	CHECK_STR(c.access_key_id, first.access_key_id);
	creds_clear(&c);
	CHECK_INT(fakehttp_count(&f), 6);
	j = fakehttp_log_line(&f, 5);
	CHECK_STR(jget(j, "params", "WebIdentityToken"), "eyJ.rotated");
	CHECK_STR(json_string_value(json_object_get(j, "code")),
		  "InvalidIdentityToken");
	json_decref(j);
	/* rotated back (30 s later, past the retry pause): renewed */
	write_file("$H/tok", "eyJ.web.tok\n");
	CHECK_INT(creds_provider_get(p, first.expiration - 200, &c), 0);
	CHECK_INT(fakehttp_count(&f), 7);
	check_issued(&f, 6, &c);
	exp = c.expiration;
	creds_clear(&c);
	/* expired, and the refresh refused: EACCES, nothing handed out */
	write_file("$H/tok", "eyJ.rotated");
	CHECK_INT(creds_provider_get(p, exp + 1, &c), -EACCES);
	CHECK(c.access_key_id == NULL);
	CHECK_INT(fakehttp_count(&f), 8);
	creds_clear(&first);
stop:
	fakehttp_stop(&f);
out:
	creds_provider_free(p);
	home_teardown();
}

/* --- MFA: the prompt is the test's, STS is fakests.py ------------------ */

#define MFA_SERIAL "arn:aws:iam::123456789012:mfa/me"
/* not a substring of the account 123456789012, so a search finds it */
#define MFA_CODE "864209"

/* Role "mfa" needs MFA_SERIAL with MFA_CODE; AKBASE is the base key. */
static const char *mfa_sts_config =
    "{\"region\": \"us-east-1\", \"keys\": {\"AKBASE\": \"" SECRET_MARK
    "base\"}, \"mfa\": {\"" ACCT "mfa\": {\"serial\": \"" MFA_SERIAL "\", "
    "\"code\": \"" MFA_CODE "\"}}}";

/* A prompt that answers as told and records how it was asked. */
struct fake_prompt {
	const char *answer; /* the code typed */
	int ret;	    /* or this error */
	int calls;
	char serial[128];	    /* the serial asked for last */
	const struct fakehttp *sts; /* to count requests made before it */
	int requests_before;
};

static int fake_mfa_code(void *ctx, const char *serial, char *code, size_t len,
			 char *err, size_t errlen)
{
	struct fake_prompt *fp = ctx;

	fp->calls++;
	snprintf(fp->serial, sizeof(fp->serial), "%s", serial);
	if (fp->sts)
		fp->requests_before = fakehttp_count(fp->sts);
	if (fp->ret) {
		snprintf(err, errlen, "reading /dev/tty: %s",
			 strerror(-fp->ret));
		return fp->ret;
	}
	snprintf(code, len, "%s", fp->answer ? fp->answer : "");
	return 0;
}

/* Reads the text of file rel under HOME (at most 64 KiB). Caller frees. */
static char *read_home_file(const char *rel)
{
	char path[256], *text = calloc(1, 65536);
	FILE *fp;

	snprintf(path, sizeof(path), "%s/%s", home, rel);
	fp = fopen(path, "r");
	if (fp) {
		if (fread(text, 1, 65535, fp) == 0)
			text[0] = '\0';
		fclose(fp);
	}
	return text;
}

/* mfa_serial: the prompt is asked once, after the source, and the code
 * goes as TokenCode with SerialNumber; errors never quote the code; no
 * terminal (or no code) is one line and no request; a refresh of such
 * credentials, or of a role whose source had MFA, sends nothing, keeps the
 * old ones while valid, then fails with EACCES and a log line saying why. */
static void test_mfa(void)
{
	struct fake_prompt fp = {.answer = MFA_CODE};
	const struct creds_prompt pr = {fake_mfa_code, &fp};
	struct fakehttp f;
	struct creds_provider *p = NULL;
	struct creds c = {0}, first = {0};
	char err[1024] = "", logpath[128], *want, *logtext;
	int saved_stderr = dup(2), fd;
	json_t *j;
	time_t exp;

	home_setup();
	if (fakehttp_start_tool(&f, "fakests.py", mfa_sts_config)) {
		CHECK(!"fakests.py started");
		fakehttp_stop(&f);
		goto out;
	}
	fp.sts = &f;
	prompt = &pr;
	setenv("AWS_ENDPOINT_URL_STS", f.url, 1);
	write_file("$H/.aws/credentials", "[base]\n" BASE_KEYS);
	write_file("$H/.aws/config",
		   "[profile m]\nrole_arn = " ACCT
		   "mfa\nsource_profile = base\n"
		   "mfa_serial = " MFA_SERIAL "\nduration_seconds = 900\n"
		   "[profile outer]\nrole_arn = " ACCT "dev\n"
		   "source_profile = m\n"
		   "[profile late]\nrole_arn = " ACCT "mfa\n"
		   "source_profile = mid\nmfa_serial = " MFA_SERIAL "\n"
		   "[profile mid]\nrole_arn = " ACCT "mid\n"
		   "source_profile = base\n");
	snprintf(logpath, sizeof(logpath), "%s/stderr.log", home);
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dup2(fd, 2);
	close(fd);
	log_setup(LOG_DEBUG, false);

	/* the right code: asked once, sent with the serial */
	CHECK_INT(provider_new("m", &p, err, sizeof(err)), 0);
	if (!p)
		goto stop;
	CHECK_INT(fp.calls, 1);
	CHECK_STR(fp.serial, MFA_SERIAL);
	CHECK_INT(fp.requests_before, 0);
	CHECK_INT(fakehttp_count(&f), 1);
	j = fakehttp_log_line(&f, 0);
	CHECK_STR(jget(j, "params", "SerialNumber"), MFA_SERIAL);
	CHECK_STR(jget(j, "params", "TokenCode"), MFA_CODE);
	CHECK_STR(jget(j, "params", "DurationSeconds"), "900");
	json_decref(j);
	want = expand("role " ACCT "mfa (profile \"m\", MFA " MFA_SERIAL
		      ") via profile \"base\" in $H/.aws/credentials");
	CHECK_STR(creds_provider_source(p), want);
	free(want);
	CHECK_INT(creds_provider_get(p, time(NULL), &first), 0);
	check_issued(&f, 0, &first);
	/* 4 minutes before expiry: no request, no prompt, the old ones */
	CHECK_INT(creds_provider_get(p, first.expiration - 240, &c), 0);
	CHECK_STR(c.access_key_id, first.access_key_id);
	creds_clear(&c);
	CHECK_INT(fakehttp_count(&f), 1);
	CHECK_INT(fp.calls, 1);
	/* expired: EACCES, still no request */
	CHECK_INT(creds_provider_get(p, first.expiration + 1, &c), -EACCES);
	CHECK(c.access_key_id == NULL);
	CHECK_INT(fakehttp_count(&f), 1);
	creds_clear(&first);
	creds_provider_free(p);
	p = NULL;

	/* a wrong code: STS refuses, one line without the code */
	fp.answer = "654321";
	CHECK_INT(provider_new("m", &p, err, sizeof(err)), -EACCES);
	CHECK(p == NULL);
	CHECK(strstr(err, "profile \"m\": STS AssumeRole of role " ACCT
			  "mfa refused: AccessDenied: MultiFactor") != NULL);
	CHECK(!strstr(err, "654321"));
	CHECK(!strchr(err, '\n'));
	CHECK_INT(fakehttp_count(&f), 2);
	j = fakehttp_log_line(&f, 1);
	CHECK_STR(jget(j, "params", "TokenCode"), "654321");
	json_decref(j);

	/* no terminal: one line naming the role, serial and profile; no
	 * request */
	fp.ret = -ENXIO;
	CHECK_INT(provider_new("m", &p, err, sizeof(err)), -EACCES);
	CHECK_STR(err,
		  "profile \"m\": role " ACCT "mfa needs an MFA code "
		  "(mfa_serial " MFA_SERIAL ") but there is no terminal to "
		  "ask for it; mount from a terminal, or for unattended "
		  "mounts use a profile with credential_process instead "
		  "of \"m\"");
	CHECK_INT(fakehttp_count(&f), 2);
	/* nothing entered (Enter alone, Ctrl-D) */
	fp.ret = 0;
	fp.answer = "";
	CHECK_INT(provider_new("m", &p, err, sizeof(err)), -EACCES);
	CHECK_STR(
	    err,
	    "profile \"m\": no MFA code entered for mfa_serial " MFA_SERIAL);
	fp.ret = -ECANCELED;
	CHECK_INT(provider_new("m", &p, err, sizeof(err)), -EACCES);
	CHECK_STR(
	    err,
	    "profile \"m\": no MFA code entered for mfa_serial " MFA_SERIAL);
	/* the terminal failing */
	fp.ret = -EIO;
	CHECK_INT(provider_new("m", &p, err, sizeof(err)), -EACCES);
	CHECK_STR(err, "profile \"m\": cannot ask for the MFA code of "
		       "mfa_serial " MFA_SERIAL ": reading /dev/tty: "
		       "Input/output error");
	CHECK_INT(fakehttp_count(&f), 2);
	/* no prompt at all (main.c found no terminal): an MFA role whose
	 * source is itself a role fails before that source's AssumeRole */
	prompt = NULL;
	CHECK_INT(provider_new("late", &p, err, sizeof(err)), -EACCES);
	CHECK(strstr(err, "but there is no terminal to ask for it") != NULL);
	CHECK_INT(fakehttp_count(&f), 2);
	prompt = &pr;
	fp.ret = 0;
	fp.answer = MFA_CODE;

	/* a role whose source has MFA: the inner request has the code, the
	 * outer none; once the inner credentials expire the outer cannot be
	 * renewed either, and nothing is sent */
	fp.calls = 0;
	CHECK_INT(provider_new("outer", &p, err, sizeof(err)), 0);
	if (!p)
		goto stop;
	CHECK_INT(fp.calls, 1);
	CHECK_INT(fakehttp_count(&f), 4);
	j = fakehttp_log_line(&f, 2);
	CHECK_STR(jget(j, "params", "TokenCode"), MFA_CODE);
	json_decref(j);
	j = fakehttp_log_line(&f, 3);
	CHECK(jget(j, "params", "TokenCode") == NULL);
	CHECK(jget(j, "params", "SerialNumber") == NULL);
	json_decref(j);
	want = expand("role " ACCT "dev (profile \"outer\") via role " ACCT
		      "mfa (profile \"m\", MFA " MFA_SERIAL ") via profile "
		      "\"base\" in $H/.aws/credentials");
	CHECK_STR(creds_provider_source(p), want);
	free(want);
	CHECK_INT(creds_provider_get(p, time(NULL), &first), 0);
	check_issued(&f, 3, &first);
	exp = first.expiration;
	CHECK_INT(creds_provider_get(p, exp - 240, &c), 0);
	CHECK_STR(c.access_key_id, first.access_key_id);
	creds_clear(&c);
	CHECK_INT(creds_provider_get(p, exp + 1, &c), -EACCES);
	CHECK_INT(fakehttp_count(&f), 4);
	CHECK_INT(fp.calls, 1);
	creds_clear(&first);
	creds_provider_free(p);
	p = NULL;

	/* the code is asked for after the source's credentials came */
	fp.calls = 0;
	CHECK_INT(provider_new("late", &p, err, sizeof(err)), 0);
	CHECK_INT(fp.calls, 1);
	CHECK_INT(fp.requests_before, 5);
	CHECK_INT(fakehttp_count(&f), 6);
	check_call(&f, 4, "AssumeRole mid");
	check_call(&f, 5, "AssumeRole mfa");
stop:
	fakehttp_stop(&f);
out:
	creds_provider_free(p);
	prompt = NULL;
	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	log_setup(LOG_WARNING, false);
	logtext = read_home_file("stderr.log");
	/* the why, for the role itself and for the role above it */
	CHECK(strstr(logtext,
		     "could not refresh credentials from role " ACCT
		     "mfa (profile \"m\", MFA " MFA_SERIAL ")") != NULL);
	CHECK(strstr(logtext, "role " ACCT
			      "mfa needs an MFA code (mfa_serial " MFA_SERIAL
			      "); remount from a terminal to enter "
			      "a new one; they have expired") != NULL);
	CHECK(strstr(logtext, "the source credentials of role " ACCT "dev have "
			      "expired and cannot be renewed: role " ACCT
			      "mfa needs an MFA code") != NULL);
	CHECK(!strstr(logtext, MFA_CODE));
	CHECK(!strstr(logtext, "654321"));
	CHECK(!strstr(logtext, SECRET_MARK));
	if (!strstr(logtext, "they have expired"))
		printf("# log:\n%s\n", logtext);
	free(logtext);
	home_teardown();
}

static size_t next_role_case;

static void test_next_role_case(void)
{
	run_role_case(&role_cases[next_role_case++]);
}

/* AWS_CREDENTIAL_EXPIRATION: served until then, EACCES after, never a
 * refresh (the environment does not change). */
static void test_env_expiry(void)
{
	struct creds_provider *p = NULL;
	struct creds c = {0};
	char err[512] = "";

	home_setup();
	setenv("AWS_ACCESS_KEY_ID", "AKENV", 1);
	setenv("AWS_SECRET_ACCESS_KEY", SECRET_MARK "ENV", 1);
	setenv("AWS_CREDENTIAL_EXPIRATION", "2030-01-01T00:00:00Z", 1);
	CHECK_INT(provider_new(NULL, &p, err, sizeof(err)), 0);
	if (p) {
		CHECK_INT(creds_provider_get(p, T2030 - 1, &c), 0);
		CHECK_STR(c.access_key_id, "AKENV");
		creds_clear(&c);
		CHECK_INT(creds_provider_get(p, T2030, &c), -EACCES);
		CHECK(c.access_key_id == NULL);
		CHECK_INT(creds_provider_get(p, T2030 + 600, &c), -EACCES);
	}
	creds_provider_free(p);
	home_teardown();
}

int main(void)
{
	static struct tap_test tests[N_CASES + N_ROLE_CASES + 16];
	size_t n = 0;
	int ret;

	if (http_global_init())
		return 1;
	http = http_client_new(2000, 5000);
	if (!http)
		return 1;
	for (size_t i = 0; i < N_CASES; i++)
		tests[n++] = (struct tap_test){chain_cases[i].name,
					       test_next_chain_case};
	for (size_t i = 0; i < N_ROLE_CASES; i++)
		tests[n++] =
		    (struct tap_test){role_cases[i].name, test_next_role_case};
	tests[n++] = (struct tap_test){"role and web identity: refresh near "
				       "expiry re-runs the chain, re-reads "
				       "the token file",
				       test_role_refresh};
	tests[n++] = (struct tap_test){"mfa_serial: prompt, TokenCode, wrong "
				       "code, no terminal, no renewal",
				       test_mfa};
	tests[n++] = (struct tap_test){"imds: request order and headers",
				       test_imds_requests};
	tests[n++] = (struct tap_test){"process: re-run near expiry, "
				       "failed re-run keeps old",
				       test_process_refresh};
	tests[n++] = (struct tap_test){"container: refresh, failed refresh "
				       "keeps old, log has no secret",
				       test_container_refresh};
	tests[n++] = (struct tap_test){"refresh from 8 threads at once",
				       test_concurrent_refresh};
	tests[n++] = (struct tap_test){"process: time-out, huge output, "
				       "signal, stdin",
				       test_process_timeout};
	tests[n++] =
	    (struct tap_test){"ISO 8601 expiration times", test_parse_time};
	tests[n++] = (struct tap_test){"env: AWS_CREDENTIAL_EXPIRATION: "
				       "served until then, EACCES after",
				       test_env_expiry};
	tests[n++] = (struct tap_test){"container URL from RELATIVE/FULL_URI",
				       test_container_url};
	tests[n++] = (struct tap_test){"creds_clear", test_clear};
	ret = tap_run(tests);
	http_client_free(http);
	http_global_cleanup();
	return ret;
}
