/* test_config.c - config_resolve against the precedence table of SPEC §2
 * (each case builds a temporary HOME with .aws files and its own environment),
 * and the command line of SPEC §1 (options.c) against a table of argv. */
#include <errno.h>
#include <fuse.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "options.h"
#include "awsenv.h"
#include "tap.h"

/* Table rows leave out the fields they do not check. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

static char home[64];

/* s with every "$H" replaced by the case's HOME. Caller frees with free. */
static char *expand(const char *s)
{
	size_t cap = strlen(s) + 1, hl = strlen(home);
	char *out, *o;

	for (const char *p = s; (p = strstr(p, "$H")); p += 2)
		cap += hl;
	out = malloc(cap);
	o = out;
	while (*s) {
		if (s[0] == '$' && s[1] == 'H') {
			memcpy(o, home, hl);
			o += hl;
			s += 2;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

static void write_file(const char *rel, const char *text)
{
	char *path = expand(rel), *dir = strdup(path);
	FILE *fp;

	*strrchr(dir, '/') = '\0';
	mkdir(dir, 0700);
	fp = fopen(path, "w");
	if (fp) {
		fputs(text, fp);
		fclose(fp);
	}
	free(dir);
	free(path);
}

/* A fresh HOME with the given files (NULL: absent) and environment
 * ("NAME=VALUE" strings, NULL-terminated; $H is HOME). */
static void home_setup(const char *credentials, const char *config,
		       const char *const *envs)
{
	awsenv_home_make(home, sizeof(home), "/tmp/dynamofs-config.XXXXXX");
	if (credentials)
		write_file("$H/.aws/credentials", credentials);
	if (config)
		write_file("$H/.aws/config", config);
	for (size_t i = 0; envs && envs[i]; i++) {
		char *kv = expand(envs[i]), *eq = strchr(kv, '=');

		*eq = '\0';
		setenv(kv, eq + 1, 1);
		free(kv);
	}
}

static void home_teardown(void)
{
	awsenv_home_remove(home);
}

struct case_ {
	const char *name;
	const char *credentials; /* file text, or NULL for no file */
	const char *config;
	const char *env[8];
	struct config_options opts;
	int ret;
	const char *endpoint, *endpoint_source;
	const char *region, *region_source;
	const char *profile, *profile_source;
	const char *err;	 /* a substring of the message when ret != 0 */
	const char *key, *value; /* optional config_get check */
	enum config_file file;
};

#define ENV(...)                                                               \
	{                                                                      \
		__VA_ARGS__, NULL                                              \
	}
#define CFG  "$H/.aws/config"
#define CRED "$H/.aws/credentials"

/* A config with every endpoint source of the default profile set. */
static const char full_config[] = "[default]\n"
				  "region = eu-west-1\n"
				  "endpoint_url = http://profile:1\n"
				  "services = local\n"
				  "\n"
				  "[services local]\n"
				  "s3 =\n"
				  "  endpoint_url = http://s3:1\n"
				  "dynamodb =\n"
				  "  endpoint_url = http://services:8000\n";

static const struct case_ cases[] = {
    /* endpoint */
    {"endpoint: option beats everything",
     NULL,
     full_config,
     ENV("AWS_ENDPOINT_URL_DYNAMODB=http://ddbenv:1",
	 "AWS_ENDPOINT_URL=http://env:2"),
     {.endpoint = "http://opt:9"},
     0,
     "http://opt:9",
     "option endpoint=",
     "eu-west-1",
     "region in profile \"default\" in " CFG,
     "default",
     "default"},
    {"endpoint: AWS_ENDPOINT_URL_DYNAMODB beats AWS_ENDPOINT_URL",
     NULL,
     full_config,
     ENV("AWS_ENDPOINT_URL_DYNAMODB=http://ddbenv:1",
	 "AWS_ENDPOINT_URL=http://env:2"),
     {0},
     0,
     "http://ddbenv:1",
     "AWS_ENDPOINT_URL_DYNAMODB"},
    {"endpoint: AWS_ENDPOINT_URL beats the services section",
     NULL,
     full_config,
     ENV("AWS_ENDPOINT_URL=http://env:2"),
     {0},
     0,
     "http://env:2",
     "AWS_ENDPOINT_URL"},
    {"endpoint: services section beats profile endpoint_url",
     NULL,
     full_config,
     ENV(NULL),
     {0},
     0,
     "http://services:8000",
     "endpoint_url for dynamodb in [services local] of profile "
     "\"default\" in " CFG},
    {"endpoint: services section without dynamodb is skipped",
     NULL,
     "[default]\nregion = eu-west-1\nendpoint_url = http://profile:1\n"
     "services = local\n[services local]\ns3 =\n"
     "  endpoint_url = http://s3:1\n",
     ENV(NULL),
     {0},
     0,
     "http://profile:1",
     "endpoint_url in profile \"default\" in " CFG},
    {"endpoint: profile endpoint_url beats the default",
     NULL,
     "[profile dev]\nendpoint_url = http://localhost:8000\n",
     ENV("AWS_PROFILE=dev", "AWS_REGION=eu-west-2"),
     {0},
     0,
     "http://localhost:8000",
     "endpoint_url in profile \"dev\" in " CFG,
     "eu-west-2",
     "AWS_REGION",
     "dev",
     "AWS_PROFILE"},
    {"endpoint: default for the region",
     NULL,
     NULL,
     ENV("AWS_REGION=eu-west-1"),
     {0},
     0,
     "https://dynamodb.eu-west-1.amazonaws.com",
     "default for region eu-west-1",
     "eu-west-1",
     "AWS_REGION",
     "default",
     "default"},
    {"endpoint: China regions use amazonaws.com.cn",
     NULL,
     NULL,
     ENV("AWS_REGION=cn-north-1"),
     {0},
     0,
     "https://dynamodb.cn-north-1.amazonaws.com.cn",
     "default for region cn-north-1"},
    {"endpoint: AWS_IGNORE_CONFIGURED_ENDPOINT_URLS ignores env and "
     "profile",
     NULL,
     full_config,
     ENV("AWS_ENDPOINT_URL_DYNAMODB=http://ddbenv:1",
	 "AWS_ENDPOINT_URL=http://env:2",
	 "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true"),
     {0},
     0,
     "https://dynamodb.eu-west-1.amazonaws.com",
     "default for region eu-west-1"},
    {"endpoint: AWS_IGNORE_CONFIGURED_ENDPOINT_URLS keeps the option",
     NULL,
     full_config,
     ENV("AWS_ENDPOINT_URL=http://env:2",
	 "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=TRUE"),
     {.endpoint = "https://opt"},
     0,
     "https://opt",
     "option endpoint="},
    {"endpoint: AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=false changes "
     "nothing",
     NULL,
     full_config,
     ENV("AWS_ENDPOINT_URL=http://env:2",
	 "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=false"),
     {0},
     0,
     "http://env:2",
     "AWS_ENDPOINT_URL"},
    {"endpoint: ignore_configured_endpoint_urls in the profile",
     NULL,
     "[default]\nregion = us-west-2\nendpoint_url = http://p:1\n"
     "ignore_configured_endpoint_urls = true\n",
     ENV("AWS_ENDPOINT_URL=http://env:2"),
     {0},
     0,
     "https://dynamodb.us-west-2.amazonaws.com",
     "default for region us-west-2"},
    {"endpoint: an empty variable counts as unset",
     NULL,
     NULL,
     ENV("AWS_ENDPOINT_URL_DYNAMODB=", "AWS_ENDPOINT_URL=http://env:2"),
     {0},
     0,
     "http://env:2",
     "AWS_ENDPOINT_URL"},
    {"endpoint: from SOURCE, named so",
     NULL,
     NULL,
     ENV("AWS_ENDPOINT_URL=http://env:2"),
     {.endpoint = "http://source:1", .endpoint_from = "SOURCE argument"},
     0,
     "http://source:1",
     "SOURCE argument"},
    {"endpoint: trailing slashes are dropped",
     NULL,
     NULL,
     ENV(NULL),
     {.endpoint = "http://localhost:8000//"},
     0,
     "http://localhost:8000",
     "option endpoint="},
    {"endpoint: IPv6 literal with port",
     NULL,
     NULL,
     ENV(NULL),
     {.endpoint = "http://[::1]:8000"},
     0,
     "http://[::1]:8000"},
    {"endpoint: a path is kept",
     NULL,
     NULL,
     ENV(NULL),
     {.endpoint = "HTTPS://proxy.example/ddb"},
     0,
     "HTTPS://proxy.example/ddb"},
    {"endpoint: not http(s) -> EINVAL",
     NULL,
     NULL,
     ENV(NULL),
     {.endpoint = "ftp://x"},
     -EINVAL,
     .err = "bad endpoint URL \"ftp://x\" (from option endpoint=): it must "
	    "start with http:// or https://"},
    {"endpoint: no host -> EINVAL",
     NULL,
     NULL,
     ENV("AWS_ENDPOINT_URL=http://"),
     {0},
     -EINVAL,
     .err = "(from AWS_ENDPOINT_URL): expected http(s)://HOST[:PORT]"},
    {"endpoint: empty host before port -> EINVAL",
     NULL,
     NULL,
     ENV(NULL),
     {.endpoint = "http://:80"},
     -EINVAL,
     .err = "expected http(s)://HOST[:PORT]"},
    {"endpoint: bad port -> EINVAL",
     NULL,
     NULL,
     ENV(NULL),
     {.endpoint = "http://h:99999"},
     -EINVAL,
     .err = "expected http(s)://HOST[:PORT]"},
    {"endpoint: a space -> EINVAL",
     NULL,
     NULL,
     ENV(NULL),
     {.endpoint = "http://h x"},
     -EINVAL,
     .err = "space or control character"},
    /* URLs are read by libcurl's URL API (http_url_parse) since issue 13;
     * the rows below are where it differs from the hand parser before. */
    {"endpoint: port 0 (libcurl takes it) -> EINVAL",
     NULL,
     NULL,
     ENV(NULL),
     {.endpoint = "http://h:0"},
     -EINVAL,
     .err = "expected http(s)://HOST[:PORT]"},
    {"endpoint: a comma in the host -> EINVAL (libcurl; taken before)",
     NULL,
     NULL,
     ENV(NULL),
     {.endpoint = "http://a,b:8000"},
     -EINVAL,
     .err = "expected http(s)://HOST[:PORT]"},
    {"endpoint: empty brackets -> EINVAL",
     NULL,
     NULL,
     ENV(NULL),
     {.endpoint = "http://[]:80"},
     -EINVAL,
     .err = "expected http(s)://HOST[:PORT]"},
    {"endpoint: an empty port is no port (libcurl; refused before)",
     NULL,
     NULL,
     ENV(NULL),
     {.endpoint = "http://h:"},
     0,
     "http://h:"},
    {"endpoint: one slash after the scheme (libcurl takes it) -> EINVAL",
     NULL,
     NULL,
     ENV(NULL),
     {.endpoint = "http:/h:8000"},
     -EINVAL,
     .err = "it must start with http:// or https://"},
    {"endpoint: three slashes after the scheme (libcurl takes it) -> EINVAL",
     NULL,
     NULL,
     ENV(NULL),
     {.endpoint = "https:///h"},
     -EINVAL,
     .err = "expected http(s)://HOST[:PORT]"},
    {"endpoint: no slashes after the scheme -> EINVAL",
     NULL,
     NULL,
     ENV(NULL),
     {.endpoint = "http:h"},
     -EINVAL,
     .err = "it must start with http:// or https://"},
    {"endpoint: a scheme libcurl does not know -> EINVAL",
     NULL,
     NULL,
     ENV(NULL),
     {.endpoint = "dynamodb://h"},
     -EINVAL,
     .err = "it must start with http:// or https://"},
    {"endpoint: user info is allowed",
     NULL,
     NULL,
     ENV(NULL),
     {.endpoint = "http://u:p@h:8000"},
     0,
     "http://u:p@h:8000"},
    {"endpoint: bad URL in the profile names the file",
     NULL,
     "[default]\nendpoint_url = localhost:8000\n",
     ENV(NULL),
     {0},
     -EINVAL,
     .err = "(from endpoint_url in profile \"default\" in " CFG
	    "): it must start with http://"},

    /* region */
    {"region: option beats AWS_REGION",
     NULL,
     full_config,
     ENV("AWS_REGION=us-west-1", "AWS_DEFAULT_REGION=us-west-2"),
     {.region = "ap-south-1"},
     0,
     .region = "ap-south-1",
     .region_source = "option region="},
    {"region: from SOURCE, named so",
     NULL,
     full_config,
     ENV("AWS_REGION=us-west-1"),
     {.region = "ap-south-1", .region_from = "SOURCE argument"},
     0,
     .region = "ap-south-1",
     .region_source = "SOURCE argument"},
    {"region: AWS_REGION beats AWS_DEFAULT_REGION",
     NULL,
     full_config,
     ENV("AWS_REGION=us-west-1", "AWS_DEFAULT_REGION=us-west-2"),
     {0},
     0,
     .region = "us-west-1",
     .region_source = "AWS_REGION"},
    {"region: AWS_DEFAULT_REGION beats the profile",
     NULL,
     full_config,
     ENV("AWS_DEFAULT_REGION=us-west-2"),
     {0},
     0,
     .region = "us-west-2",
     .region_source = "AWS_DEFAULT_REGION"},
    {"region: profile region from the config file",
     NULL,
     "[default]\nregion = sa-east-1\n[profile dev]\nregion = eu-north-1\n",
     ENV("AWS_PROFILE=dev"),
     {0},
     0,
     "https://dynamodb.eu-north-1.amazonaws.com",
     "default for region eu-north-1",
     "eu-north-1",
     "region in profile \"dev\" in " CFG},
    {"region: credentials file wins over config file",
     "[dev]\nregion = eu-central-1\n",
     "[profile dev]\nregion = eu-north-1\n",
     ENV("AWS_PROFILE=dev"),
     {0},
     0,
     .region = "eu-central-1",
     .region_source = "region in profile \"dev\" in " CRED},
    {"region: us-east-1 with an explicit endpoint option",
     NULL,
     NULL,
     ENV(NULL),
     {.endpoint = "http://localhost:8000"},
     0,
     "http://localhost:8000",
     "option endpoint=",
     "us-east-1",
     "default us-east-1 (explicit endpoint)"},
    {"region: us-east-1 with an endpoint from the profile",
     NULL,
     "[default]\nendpoint_url = http://localhost:8000\n",
     ENV(NULL),
     {0},
     0,
     "http://localhost:8000",
     .region = "us-east-1",
     .region_source = "default us-east-1 (explicit endpoint)"},
    {"region: none and no endpoint -> EINVAL",
     NULL,
     "[default]\noutput = json\n",
     ENV(NULL),
     {0},
     -EINVAL,
     .err = "no region: set AWS_REGION or -o region="},
    {"region: ignored endpoints do not count as explicit",
     NULL,
     NULL,
     ENV("AWS_ENDPOINT_URL=http://env:2",
	 "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true"),
     {0},
     -EINVAL,
     .err = "no region"},
    {"region: bad name -> EINVAL",
     NULL,
     NULL,
     ENV("AWS_REGION=us east/1"),
     {0},
     -EINVAL,
     .err = "bad region \"us east/1\" (from AWS_REGION)"},

    /* profile */
    {"profile: option beats AWS_PROFILE",
     "[a]\nregion = r-a-1\n",
     "[profile b]\nregion = r-b-1\n",
     ENV("AWS_PROFILE=b"),
     {.profile = "a"},
     0,
     .region = "r-a-1",
     .profile = "a",
     .profile_source = "option profile="},
    {"profile: AWS_PROFILE beats default",
     "[a]\nregion = r-a-1\n",
     "[default]\nregion = r-d-1\n[profile b]\nregion = r-b-1\n",
     ENV("AWS_PROFILE=b"),
     {0},
     0,
     .region = "r-b-1",
     .profile = "b",
     .profile_source = "AWS_PROFILE"},
    {"profile: default from [default] in config",
     NULL,
     "[default]\nregion = r-d-1\n",
     ENV(NULL),
     {0},
     0,
     .region = "r-d-1",
     .profile = "default",
     .profile_source = "default"},
    {"profile: default from [profile default] in config",
     NULL,
     "[profile default]\nregion = r-d-2\n",
     ENV(NULL),
     {0},
     0,
     .region = "r-d-2",
     .profile = "default"},
    {"profile: default may be absent",
     NULL,
     NULL,
     ENV("AWS_REGION=us-east-2"),
     {0},
     0,
     .profile = "default",
     .profile_source = "default"},
    {"profile: unknown named profile -> ENOENT",
     "[a]\n",
     "[profile b]\n",
     ENV("AWS_REGION=us-east-2"),
     {.profile = "nope"},
     -ENOENT,
     .err = "profile \"nope\" (from option profile=) not found in " CRED
	    " or " CFG},
    {"profile: unknown AWS_PROFILE -> ENOENT, no files",
     NULL,
     NULL,
     ENV("AWS_PROFILE=nope", "AWS_REGION=us-east-2"),
     {0},
     -ENOENT,
     .err = "profile \"nope\" (from AWS_PROFILE) not found"},
    {"profile: [x] in the config file is not profile x",
     NULL,
     "[x]\nregion = r-x-1\n",
     ENV("AWS_PROFILE=x"),
     {0},
     -ENOENT,
     .err = "not found"},
    {"profile: [profile x] in the credentials file is not profile x",
     "[profile x]\nregion = r-x-1\n",
     NULL,
     ENV("AWS_PROFILE=x"),
     {0},
     -ENOENT,
     .err = "not found"},
    {"profile: [x] in the credentials file",
     "[x]\nregion = r-x-1\n",
     NULL,
     ENV("AWS_PROFILE=x"),
     {0},
     0,
     .region = "r-x-1",
     .region_source = "region in profile \"x\" in " CRED},
    {"profile: an empty section still exists",
     "[x]\n",
     NULL,
     ENV("AWS_PROFILE=x", "AWS_REGION=us-east-2"),
     {0},
     0,
     .profile = "x"},
    {"profile: quoted name with spaces",
     NULL,
     "[profile \"my dev\"]\nregion = r-q-1\n",
     ENV("AWS_PROFILE=my dev"),
     {0},
     0,
     .region = "r-q-1"},
    {"profile: name longer than inih's 50-byte sections",
     NULL,
     "[profile a-very-long-profile-name-that-inih-would-cut-short-0]\n"
     "region = wrong-1\n"
     "[profile a-very-long-profile-name-that-inih-would-cut-short-01]\n"
     "region = right-1\n",
     ENV("AWS_PROFILE=a-very-long-profile-name-that-inih-would-cut-"
	 "short-01"),
     {0},
     0,
     .region = "right-1"},

    /* files */
    {"files: AWS_CONFIG_FILE replaces ~/.aws/config",
     NULL,
     "[default]\nregion = wrong-1\n",
     ENV("AWS_CONFIG_FILE=$H/alt/config"),
     {0},
     -EINVAL,
     .err = "no region"},
    {"files: AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE",
     NULL,
     NULL,
     ENV("AWS_SHARED_CREDENTIALS_FILE=$H/alt/credentials",
	 "AWS_CONFIG_FILE=$H/alt/config", "AWS_PROFILE=alt"),
     {0},
     0,
     .region = "alt-1",
     .region_source = "region in profile \"alt\" in $H/alt/config"},
    {"files: ~/ in AWS_CONFIG_FILE is expanded",
     NULL,
     NULL,
     ENV("AWS_CONFIG_FILE=~/alt/config", "AWS_PROFILE=alt"),
     {0},
     0,
     .region = "alt-1",
     .region_source = "region in profile \"alt\" in $H/alt/config"},
    {"files: malformed line -> EINVAL with the line",
     NULL,
     "[default]\nregion = r-1\nthis line has no equals sign\n",
     ENV(NULL),
     {0},
     -EINVAL,
     .err = CFG " line 3: expected [section] or name = value"},
    {"files: unreadable (a directory) -> EINVAL",
     NULL,
     NULL,
     ENV("AWS_CONFIG_FILE=$H"),
     {0},
     -EINVAL,
     .err = "cannot read"},
    {"files: comments, CRLF, BOM, key case",
     "\xEF\xBB\xBF# c\r\n[default]\r\n; c\r\nAWS_Access_Key_ID = AK\r\n",
     "[default]\n  # indented comment\nRegion=eu-west-3 ; inline\n",
     ENV(NULL),
     {0},
     0,
     .region = "eu-west-3",
     .key = "aws_access_key_id",
     .value = "AK",
     .file = CONFIG_FILE_CREDENTIALS},
    {"files: credentials file value wins in config_get",
     "[default]\naws_access_key_id = FROMCRED\n",
     "[default]\naws_access_key_id = FROMCONFIG\nregion = r-1\n",
     ENV(NULL),
     {0},
     0,
     .key = "aws_access_key_id",
     .value = "FROMCRED",
     .file = CONFIG_FILE_CREDENTIALS},
    {"files: config-only key comes from the config file",
     "[default]\naws_access_key_id = FROMCRED\n",
     "[default]\ncredential_process = /bin/echo hi\nregion = r-1\n",
     ENV(NULL),
     {0},
     0,
     .key = "credential_process",
     .value = "/bin/echo hi",
     .file = CONFIG_FILE_CONFIG},
    {"files: continuation lines join with newlines",
     NULL,
     "[default]\nregion = r-1\nnote = one\n  two\n",
     ENV(NULL),
     {0},
     0,
     .key = "note",
     .value = "one\ntwo",
     .file = CONFIG_FILE_CONFIG},
    {"files: a repeated key: the last wins",
     NULL,
     "[default]\nregion = r-1\nregion = r-2\n",
     ENV(NULL),
     {0},
     0,
     .region = "r-2"},
    {"files: a section given twice is merged",
     NULL,
     "[default]\nregion = r-1\n[profile x]\n[default]\noutput = json\n",
     ENV(NULL),
     {0},
     0,
     .region = "r-1",
     .key = "output",
     .value = "json",
     .file = CONFIG_FILE_CONFIG},
};

static void run_case(const struct case_ *c)
{
	struct config cfg;
	char err[512] = "", *want;
	int ret;

	home_setup(c->credentials, c->config, c->env);
	write_file("$H/alt/config", "[profile alt]\nregion = alt-1\n");
	write_file("$H/alt/credentials", "[alt]\n");
	ret = config_resolve(&c->opts, &cfg, err, sizeof(err));
	CHECK_INT(ret, c->ret);
	if (ret) {
		if (ret != c->ret)
			printf("#   err: %s\n", err);
		want = expand(c->err ? c->err : "");
		if (!strstr(err, want)) {
			CHECK_STR(err, want);
		}
		free(want);
		/* config_free on the (zeroed) result must be safe */
		config_free(&cfg);
		home_teardown();
		return;
	}
#define CHECK_FIELD(field)                                                     \
	do {                                                                   \
		if (c->field) {                                                \
			want = expand(c->field);                               \
			CHECK_STR(cfg.field, want);                            \
			free(want);                                            \
		}                                                              \
	} while (0)
	CHECK_FIELD(endpoint);
	CHECK_FIELD(endpoint_source);
	CHECK_FIELD(region);
	CHECK_FIELD(region_source);
	CHECK_FIELD(profile);
	CHECK_FIELD(profile_source);
#undef CHECK_FIELD
	CHECK(cfg.endpoint && cfg.endpoint_source && cfg.region &&
	      cfg.region_source && cfg.profile && cfg.profile_source);
	if (c->key) {
		enum config_file file = (enum config_file) - 1;

		CHECK_STR(config_get(&cfg, c->key, &file), c->value);
		CHECK_INT(file, c->file);
	}
	config_free(&cfg);
	home_teardown();
}

/* One TAP line per table case: tap_run calls this once per entry. */
static size_t next_case;

static void test_next_case(void)
{
	run_case(&cases[next_case++]);
}

/* The paths: $HOME/.aws/... by default; the credentials-file and
 * profile_found/profile_named flags. */
static void test_paths_and_flags(void)
{
	struct config cfg;
	char *want;

	home_setup("[dev]\n", NULL, NULL);
	setenv("AWS_REGION", "us-east-1", 1);
	CHECK_INT(config_resolve(NULL, &cfg, NULL, 0), 0);
	want = expand(CRED);
	CHECK_STR(cfg.credentials_file, want);
	CHECK_STR(config_file_path(&cfg, CONFIG_FILE_CREDENTIALS), want);
	free(want);
	want = expand(CFG);
	CHECK_STR(cfg.config_file, want);
	CHECK_STR(config_file_path(&cfg, CONFIG_FILE_CONFIG), want);
	free(want);
	CHECK(!cfg.profile_named);
	CHECK(!cfg.profile_found);
	CHECK(config_get(&cfg, "region", NULL) == NULL);
	config_free(&cfg);

	setenv("AWS_PROFILE", "dev", 1);
	CHECK_INT(config_resolve(NULL, &cfg, NULL, 0), 0);
	CHECK(cfg.profile_named);
	CHECK(cfg.profile_found);
	config_free(&cfg);
	config_free(&cfg); /* twice: safe on a zeroed struct */
	home_teardown();
}

/* inih cuts lines at 200 bytes; a session token is often 800+. */
static void test_long_values(void)
{
	char token[1500], *text;
	struct config cfg;

	for (size_t i = 0; i < sizeof(token) - 1; i++)
		token[i] =
		    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdef0123456789+/"[i % 44];
	token[sizeof(token) - 1] = '\0';
	if (asprintf(&text,
		     "[default]\naws_access_key_id = AK\n"
		     "aws_session_token =   %s  \n"
		     "aws_secret_access_key = SK\n"
		     "note = x\n  %s ; trailing comment\n",
		     token, token) < 0)
		abort();
	home_setup(text, NULL, NULL);
	setenv("AWS_REGION", "us-east-1", 1);
	CHECK_INT(config_resolve(NULL, &cfg, NULL, 0), 0);
	CHECK_STR(config_get(&cfg, "aws_session_token", NULL), token);
	CHECK_STR(config_get(&cfg, "aws_secret_access_key", NULL), "SK");
	{
		const char *note = config_get(&cfg, "note", NULL);

		CHECK(note && strncmp(note, "x\n", 2) == 0 &&
		      strcmp(note + 2, token) == 0);
	}
	config_free(&cfg);
	home_teardown();
	free(text);
}

/* The CA bundle: AWS_CA_BUNDLE, else the profile's ca_bundle (credentials
 * file first), checked at start-up and kept as an absolute path. Every case
 * has these files in HOME: ca.pem and dev.pem (PEM certificates),
 * trusted.pem (a TRUSTED CERTIFICATE), text.txt (no PEM), key.pem (a
 * private key only) and sub/rel.pem; the working directory is HOME. */
struct ca_case {
	const char *name;
	const char *credentials, *config;
	const char *env[4];
	const char *profile; /* option profile= */
	int ret;
	const char *ca_bundle; /* expected (realpath'd); NULL: none */
	const char *source;
	const char *err; /* a substring of the message when ret != 0 */
};

#define PEM_CERT                                                               \
	"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

static const struct ca_case ca_cases[] = {
    {"ca_bundle: none set", NULL, NULL, ENV(NULL), NULL, 0, NULL, NULL},
    {"ca_bundle: AWS_CA_BUNDLE", NULL, NULL, ENV("AWS_CA_BUNDLE=$H/ca.pem"),
     NULL, 0, "$H/ca.pem", "AWS_CA_BUNDLE"},
    {"ca_bundle: the profile's ca_bundle in the config file", NULL,
     "[default]\nca_bundle = $H/ca.pem\n", ENV(NULL), NULL, 0, "$H/ca.pem",
     "ca_bundle in profile \"default\" in " CFG},
    {"ca_bundle: AWS_CA_BUNDLE beats the profile's", NULL,
     "[default]\nca_bundle = $H/dev.pem\n", ENV("AWS_CA_BUNDLE=$H/ca.pem"),
     NULL, 0, "$H/ca.pem", "AWS_CA_BUNDLE"},
    {"ca_bundle: the credentials file beats the config file",
     "[default]\nca_bundle = $H/dev.pem\n",
     "[default]\nca_bundle = $H/ca.pem\n", ENV(NULL), NULL, 0, "$H/dev.pem",
     "ca_bundle in profile \"default\" in " CRED},
    {"ca_bundle: the named profile's, not default's", NULL,
     "[default]\nca_bundle = $H/ca.pem\n[profile dev]\n"
     "ca_bundle = $H/dev.pem\n",
     ENV(NULL), "dev", 0, "$H/dev.pem", "ca_bundle in profile \"dev\" in " CFG},
    {"ca_bundle: a profile without one uses none", NULL,
     "[default]\nca_bundle = $H/ca.pem\n[profile dev]\nregion = r-1\n",
     ENV(NULL), "dev", 0, NULL, NULL},
    {"ca_bundle: an empty AWS_CA_BUNDLE counts as unset", NULL,
     "[default]\nca_bundle = $H/dev.pem\n", ENV("AWS_CA_BUNDLE="), NULL, 0,
     "$H/dev.pem", "ca_bundle in profile \"default\" in " CFG},
    {"ca_bundle: a relative path becomes absolute", NULL, NULL,
     ENV("AWS_CA_BUNDLE=sub/../sub/rel.pem"), NULL, 0, "$H/sub/rel.pem",
     "AWS_CA_BUNDLE"},
    {"ca_bundle: a TRUSTED CERTIFICATE counts", NULL, NULL,
     ENV("AWS_CA_BUNDLE=$H/trusted.pem"), NULL, 0, "$H/trusted.pem",
     "AWS_CA_BUNDLE"},
    {"ca_bundle: a missing file in AWS_CA_BUNDLE is an error", NULL,
     "[default]\nca_bundle = $H/ca.pem\n", ENV("AWS_CA_BUNDLE=$H/none.pem"),
     NULL, -EINVAL, NULL, NULL,
     "CA bundle $H/none.pem (from AWS_CA_BUNDLE): No such file or "
     "directory"},
    {"ca_bundle: a missing file in the profile is an error naming it", NULL,
     "[default]\nca_bundle = $H/gone.pem\n", ENV(NULL), NULL, -EINVAL, NULL,
     NULL,
     "CA bundle $H/gone.pem (from ca_bundle in profile \"default\" in " CFG
     "): No such file or directory"},
    {"ca_bundle: ~ is not expanded, as botocore", NULL, NULL,
     ENV("AWS_CA_BUNDLE=~/ca.pem"), NULL, -EINVAL, NULL, NULL,
     "CA bundle ~/ca.pem (from AWS_CA_BUNDLE): No such file or directory "
     "(~ is not expanded, as in the AWS CLI)"},
    {"ca_bundle: a directory is an error", NULL, NULL,
     ENV("AWS_CA_BUNDLE=$H/sub"), NULL, -EINVAL, NULL, NULL,
     "CA bundle $H/sub (from AWS_CA_BUNDLE): not a file"},
    {"ca_bundle: a file without a PEM certificate is an error", NULL, NULL,
     ENV("AWS_CA_BUNDLE=$H/text.txt"), NULL, -EINVAL, NULL, NULL,
     "CA bundle $H/text.txt (from AWS_CA_BUNDLE): holds no PEM "
     "certificate"},
    {"ca_bundle: a private key alone is not a bundle", NULL, NULL,
     ENV("AWS_CA_BUNDLE=$H/key.pem"), NULL, -EINVAL, NULL, NULL,
     "holds no PEM certificate"},
};

static void run_ca_case(const struct ca_case *c)
{
	struct config_options opts = {.profile = c->profile};
	struct config cfg;
	char err[512] = "", cwd[4096], *want, *real;
	int ret;

	home_setup(c->credentials ? "" : NULL, NULL, c->env);
	if (c->credentials) {
		want = expand(c->credentials);
		write_file("$H/.aws/credentials", want);
		free(want);
	}
	if (c->config) {
		want = expand(c->config);
		write_file("$H/.aws/config", want);
		free(want);
	}
	write_file("$H/ca.pem", PEM_CERT);
	write_file("$H/dev.pem", "# dev\n" PEM_CERT PEM_CERT);
	write_file("$H/trusted.pem",
		   "-----BEGIN TRUSTED CERTIFICATE-----\n"
		   "MIIB\n-----END TRUSTED CERTIFICATE-----\n");
	write_file("$H/text.txt", "hello\n");
	write_file("$H/key.pem", "-----BEGIN PRIVATE KEY-----\nMIIB\n"
				 "-----END PRIVATE KEY-----\n");
	write_file("$H/sub/rel.pem", PEM_CERT);
	setenv("AWS_REGION", "us-east-1", 1);
	if (!getcwd(cwd, sizeof(cwd)) || chdir(home) != 0)
		abort();
	ret = config_resolve(&opts, &cfg, err, sizeof(err));
	CHECK_INT(ret, c->ret);
	if (ret) {
		want = expand(c->err ? c->err : "");
		if (!strstr(err, want))
			CHECK_STR(err, want);
		free(want);
	} else if (c->ca_bundle) {
		want = expand(c->ca_bundle);
		real = realpath(want, NULL);
		CHECK_STR(cfg.ca_bundle, real);
		free(real);
		free(want);
		want = expand(c->source);
		CHECK_STR(cfg.ca_bundle_source, want);
		free(want);
		CHECK(cfg.ca_bundle && cfg.ca_bundle[0] == '/');
	} else {
		CHECK(cfg.ca_bundle == NULL && cfg.ca_bundle_source == NULL);
	}
	config_free(&cfg);
	if (chdir(cwd) != 0)
		abort();
	home_teardown();
}

#define N_CA_CASES (sizeof(ca_cases) / sizeof(ca_cases[0]))

static size_t next_ca_case;

static void test_next_ca_case(void)
{
	run_ca_case(&ca_cases[next_ca_case++]);
}

/* One command line: argv after the program name, what options_parse and
 * then options_validate + options_apply_source return, a part of the error
 * line, and the values that must come out (NULL / unset: not checked). */
struct opt_case {
	const char *name;
	const char *argv[10];
	int parse_rc;
	int check_rc;
	const char *err;
	const char *profile, *region, *endpoint, *mountpoint;
	bool numbers; /* check the four below */
	double cache_ttl, cache_size_mib;
	int retries;
	long timeout_ms;
	bool default_permissions; /* must be among libfuse's arguments */
	/* o.endpoint_from and o.region_from ("" for NULL; NULL: unchecked) */
	const char *endpoint_from, *region_from;
};

#define BAD(opt, why)                                                          \
	{                                                                      \
		"refuses -o " opt, {"--check", "-o", opt}, 0, -EINVAL, why     \
	}
#define NUM(opt, ttl, size, r, ms)                                             \
	{                                                                      \
		"accepts -o " opt, {"--check", "-o", opt}, 0, 0, NULL, NULL,   \
		    NULL, NULL, NULL, true, ttl, size, r, ms                   \
	}

static const struct opt_case opt_cases[] = {
    /* defect 6: values that are not finite numbers of the unit */
    BAD("cache_ttl=nan", "bad option cache_ttl=nan: "),
    BAD("cache_ttl=NaN", "bad option cache_ttl=NaN: "),
    BAD("cache_ttl=nan(1)", "bad option cache_ttl=nan(1): "),
    BAD("cache_ttl=inf", "bad option cache_ttl=inf: "),
    BAD("cache_ttl=-inf", "bad option cache_ttl=-inf: "),
    BAD("cache_ttl=infinity", "bad option cache_ttl=infinity: "),
    BAD("cache_ttl=1e999", "bad option cache_ttl=1e999: "),
    BAD("cache_ttl=-1", "bad option cache_ttl=-1: "),
    BAD("cache_ttl=-0", "bad option cache_ttl=-0: "),
    BAD("cache_ttl=", "bad option cache_ttl=: "),
    BAD("cache_ttl=5s", "bad option cache_ttl=5s: "),
    BAD("cache_ttl=0x10", "bad option cache_ttl=0x10: "),
    BAD("cache_ttl= 5", "bad option cache_ttl= 5: "),
    BAD("cache_ttl=.", "bad option cache_ttl=.: "),
    BAD("cache_ttl=1e", "bad option cache_ttl=1e: "),
    BAD("cache_ttl=31536001", "bad option cache_ttl=31536001: "),
    BAD("cache_size=nan", "bad option cache_size=nan: "),
    BAD("cache_size=inf", "bad option cache_size=inf: "),
    BAD("cache_size=1e999", "bad option cache_size=1e999: "),
    BAD("cache_size=0", "bad option cache_size=0: "),
    BAD("cache_size=", "bad option cache_size=: "),
    BAD("cache_size=-5", "bad option cache_size=-5: "),
    BAD("cache_size=1048577", "bad option cache_size=1048577: "),
    BAD("timeout=nan", "bad option timeout=nan: "),
    BAD("timeout=inf", "bad option timeout=inf: "),
    BAD("timeout=-inf", "bad option timeout=-inf: "),
    BAD("timeout=1e999", "bad option timeout=1e999: "),
    BAD("timeout=0", "bad option timeout=0: "),
    BAD("timeout=0.0001", "bad option timeout=0.0001: "),
    BAD("timeout=-1", "bad option timeout=-1: "),
    BAD("timeout=3601", "bad option timeout=3601: "),
    BAD("timeout=", "bad option timeout=: "),
    BAD("retries=nan", "bad option retries=nan: "),
    BAD("retries=inf", "bad option retries=inf: "),
    BAD("retries=-1", "bad option retries=-1: "),
    BAD("retries=101", "bad option retries=101: "),
    BAD("retries=1.5", "bad option retries=1.5: "),
    BAD("retries=", "bad option retries=: "),
    BAD("retries=1e1", "bad option retries=1e1: "),
    BAD("retries=0x5", "bad option retries=0x5: "),
    BAD("retries=99999999999999999999", "bad option retries=9"),
    NUM("cache_ttl=0", 0, 64, 10, 30000),
    NUM("cache_ttl=2.5", 2.5, 64, 10, 30000),
    NUM("cache_ttl=1e2", 100, 64, 10, 30000),
    NUM("cache_ttl=.5", 0.5, 64, 10, 30000),
    NUM("cache_size=1.5", 5, 1.5, 10, 30000),
    NUM("timeout=0.5", 5, 64, 10, 500),
    NUM("timeout=3600", 5, 64, 10, 3600000),
    NUM("retries=0", 5, 64, 0, 30000),
    NUM("retries=100", 5, 64, 100, 30000),
    NUM("retries=007", 5, 64, 7, 30000),
    /* the rest of the option values: empty or contradictory */
    BAD("format=", "bad option format=: "),
    BAD("format=json", "bad option format=json: "),
    BAD("hash_key=", "bad option hash_key=: "),
    BAD("hash_key=id:s", "bad option hash_key=id:s: "),
    BAD("hash_key=id:SS", "bad option hash_key=id:SS: "),
    BAD("range_key=id:", "bad option range_key=id:: "),
    BAD("hash_key=id,range_key=id",
	"bad option range_key=id: the sort key needs a name other than the partition key's"),
    BAD("hash_key=id:N,range_key=id:S",
	"bad option range_key=id:S: the sort key needs a name"),
    BAD("range_key=pk", "bad option range_key=pk: the sort key needs a name"),
    {"accepts -o range_key= (none)", {"--check", "-o", "range_key="}},
    BAD("log=", "bad option log=: "),
    BAD("log=loud", "bad option log=loud: "),
    {"accepts -o log=INFO", {"--check", "-o", "log=INFO"}},
    BAD("tables=", "bad option tables=: "),
    BAD("tables=abc:", "bad option tables=abc:: "),
    BAD("tables=:abc", "bad option tables=:abc: "),
    BAD("tables=abc::def", "bad option tables=abc::def: "),
    BAD("tables=ab", "bad option tables=ab: "),
    {"accepts -o tables=abc:def", {"--check", "-o", "tables=abc:def"}},
    BAD("endpoint=", "bad option endpoint=: "),
    BAD("region=", "bad option region=: "),
    BAD("profile=", "bad option profile=: "),
    /* defect 9: both forms of every long option */
    {"--profile=NAME", {"--check", "--profile=dev"}, 0, 0, NULL, "dev"},
    {"--profile NAME", {"--check", "--profile", "dev"}, 0, 0, NULL, "dev"},
    {"--region=NAME",
     {"--check", "--region=eu-west-1"},
     0,
     0,
     NULL,
     NULL,
     "eu-west-1"},
    {"--region NAME",
     {"--check", "--region", "eu-west-1"},
     0,
     0,
     NULL,
     NULL,
     "eu-west-1"},
    {"--endpoint-url=URL",
     {"--check", "--endpoint-url=http://h:1"},
     0,
     0,
     NULL,
     NULL,
     NULL,
     "http://h:1"},
    {"--endpoint-url URL",
     {"--check", "--endpoint-url", "http://h:1"},
     0,
     0,
     NULL,
     NULL,
     NULL,
     "http://h:1"},
    {"--endpoint-url=URL keeps a comma and a backslash",
     {"--check", "--endpoint-url=http://h:1/?a=b,c\\d"},
     0,
     0,
     NULL,
     NULL,
     NULL,
     "http://h:1/?a=b,c\\d"},
    {"--profile=a=b is the profile a=b",
     {"--check", "--profile=a=b"},
     0,
     0,
     NULL,
     "a=b"},
    {"the last of -o profile= and --profile wins",
     {"--check", "-o", "profile=a", "--profile", "b"},
     0,
     0,
     NULL,
     "b"},
    {"the last of --profile and -o profile= wins",
     {"--check", "--profile=b", "-o", "profile=a"},
     0,
     0,
     NULL,
     "a"},
    {"long options mix with SOURCE and MOUNTPOINT",
     {"dynamodb", "--region", "eu-west-1", "/mnt/x", "-f"},
     0,
     0,
     NULL,
     NULL,
     "eu-west-1",
     NULL,
     "/mnt/x"},
    {"--profile= is an empty profile",
     {"--check", "--profile="},
     0,
     -EINVAL,
     "bad option profile=: "},
    {"--profile without a value",
     {"--check", "--profile"},
     -EINVAL,
     0,
     "option --profile needs a value: --profile NAME or --profile=NAME"},
    {"--endpoint-url without a value",
     {"--endpoint-url"},
     -EINVAL,
     0,
     "option --endpoint-url needs a value"},
    {"--profileX is not --profile",
     {"--check", "--profiledev"},
     -EINVAL,
     0,
     "unknown option --profiledev (see dynamofs --help)"},
    {"--regions is not --region",
     {"--check", "--regions=x"},
     -EINVAL,
     0,
     "unknown option --regions=x"},
    {"an unknown --option",
     {"--check", "--nosuch"},
     -EINVAL,
     0,
     "unknown option --nosuch"},
    {"--help takes no value",
     {"--help=x"},
     -EINVAL,
     0,
     "option --help takes no value"},
    {"--check takes no value",
     {"--check=yes"},
     -EINVAL,
     0,
     "option --check takes no value"},
    /* SOURCE */
    {"SOURCE URL",
     {"http://h:1", "/mnt/x"},
     0,
     0,
     NULL,
     NULL,
     NULL,
     "http://h:1",
     "/mnt/x",
     .endpoint_from = "SOURCE argument",
     .region_from = ""},
    {"SOURCE region",
     {"eu-west-1", "/mnt/x"},
     0,
     0,
     NULL,
     NULL,
     "eu-west-1",
     NULL,
     "/mnt/x",
     .endpoint_from = "",
     .region_from = "SOURCE argument"},
    {"--check with a SOURCE URL names SOURCE",
     {"--check", "http://h:1"},
     0,
     0,
     NULL,
     NULL,
     NULL,
     "http://h:1",
     .endpoint_from = "SOURCE argument"},
    {"SOURCE and endpoint= that agree",
     {"http://h:1", "/mnt/x", "-o", "endpoint=http://h:1"},
     0,
     0,
     NULL,
     NULL,
     NULL,
     "http://h:1",
     .endpoint_from = ""},
    {"--endpoint-url is the option, not SOURCE",
     {"--check", "--endpoint-url", "http://h:1"},
     0,
     0,
     NULL,
     NULL,
     NULL,
     "http://h:1",
     .endpoint_from = ""},
    {"SOURCE and endpoint= that disagree",
     {"http://h:1", "/mnt/x", "-o", "endpoint=http://h:2"},
     0,
     -EINVAL,
     "SOURCE http://h:1 and endpoint=http://h:2 disagree"},
    {"SOURCE and --region that disagree",
     {"eu-west-1", "/mnt/x", "--region", "us-east-1"},
     0,
     -EINVAL,
     "SOURCE eu-west-1 and region=us-east-1 disagree"},
    {"a SOURCE that is neither",
     {"Some_Dir", "/mnt/x"},
     0,
     -EINVAL,
     "bad SOURCE \"Some_Dir\""},
    {"too many arguments",
     {"a", "b", "c"},
     -EINVAL,
     0,
     "too many arguments: c"},
    /* defect 1: other local users never write with the owner's rights */
    {"allow_other brings default_permissions",
     {"--check", "-o", "allow_other"},
     0,
     0,
     NULL,
     NULL,
     NULL,
     NULL,
     NULL,
     false,
     0,
     0,
     0,
     0,
     true},
    {"allow_root brings default_permissions",
     {"--check", "-o", "ro,allow_root"},
     0,
     0,
     NULL,
     NULL,
     NULL,
     NULL,
     NULL,
     false,
     0,
     0,
     0,
     0,
     true},
    {"-oallow_other brings default_permissions",
     {"--check", "-oallow_other"},
     0,
     0,
     NULL,
     NULL,
     NULL,
     NULL,
     NULL,
     false,
     0,
     0,
     0,
     0,
     true},
    {"umask= that lets others write is refused with allow_other",
     {"--check", "-o", "allow_other,umask=0"},
     0,
     -EINVAL,
     "option umask=0 with allow_other"},
    {"umask=002 is refused with allow_root",
     {"--check", "-o", "umask=002,allow_root"},
     0,
     -EINVAL,
     "option umask=002 with allow_root"},
    {"umask=022 is fine with allow_other",
     {"--check", "-o", "allow_other,umask=022"},
     0,
     0,
     NULL,
     NULL,
     NULL,
     NULL,
     NULL,
     false,
     0,
     0,
     0,
     0,
     true},
    {"uid= of another user is refused with allow_other",
     {"--check", "-o", "allow_other,uid=65534"},
     0,
     -EINVAL,
     "option uid=65534 with allow_other"},
    BAD("allow_other,umask=abc", "option umask=abc"),
    {"umask=0 without allow_other is the owner's business",
     {"--check", "-o", "umask=0"}},
};

static void run_opt_case(const struct opt_case *c)
{
	const char *argv[12] = {"dynamofs"};
	struct fuse_args args;
	struct dfs_opts o = {0};
	struct dfs_settings s;
	const char *mnt = NULL;
	char err[512] = "x";
	bool dp = false;
	int argc = 1, rc;

	for (int i = 0; c->argv[i]; i++)
		argv[argc++] = c->argv[i];
	args = (struct fuse_args)FUSE_ARGS_INIT(argc, (char **)argv);
	rc = options_parse(&args, &o, err, sizeof(err));
	CHECK_INT(rc, c->parse_rc);
	if (rc == 0) {
		rc = options_validate(&o, &s, err, sizeof(err));
		if (rc == 0)
			rc = options_apply_source(&o, &mnt, err, sizeof(err));
		CHECK_INT(rc, c->check_rc);
	}
	if (c->err) {
		CHECK(strstr(err, c->err) != NULL);
		CHECK(strchr(err, '\n') == NULL);
		if (!strstr(err, c->err))
			printf("#     error: %s\n#     wanted: %s\n", err,
			       c->err);
	} else {
		CHECK_STR(err, "");
	}
	if (rc == 0) {
		if (c->profile)
			CHECK_STR(o.profile, c->profile);
		if (c->region)
			CHECK_STR(o.region, c->region);
		if (c->endpoint)
			CHECK_STR(o.endpoint, c->endpoint);
		if (c->mountpoint)
			CHECK_STR(mnt, c->mountpoint);
		if (c->endpoint_from)
			CHECK_STR(o.endpoint_from ? o.endpoint_from : "",
				  c->endpoint_from);
		if (c->region_from)
			CHECK_STR(o.region_from ? o.region_from : "",
				  c->region_from);
		if (c->numbers) {
			CHECK(s.cache_ttl == c->cache_ttl);
			CHECK(s.cache_size_mib == c->cache_size_mib);
			CHECK_INT(s.retries, c->retries);
			CHECK_INT(s.timeout_ms, c->timeout_ms);
		}
		for (int i = 0; i < args.argc; i++)
			if (strstr(args.argv[i], "default_permissions"))
				dp = true;
		CHECK_INT(dp, c->default_permissions);
	}
	options_free(&o);
	fuse_opt_free_args(&args);
}

#define N_OPT_CASES (sizeof(opt_cases) / sizeof(opt_cases[0]))

static size_t next_opt_case;

static void test_next_opt_case(void)
{
	run_opt_case(&opt_cases[next_opt_case++]);
}

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

int main(void)
{
	static struct tap_test tests[N_CASES + N_CA_CASES + N_OPT_CASES + 3];
	size_t n = 0;

	for (size_t i = 0; i < N_CASES; i++)
		tests[n++] = (struct tap_test){cases[i].name, test_next_case};
	tests[n++] =
	    (struct tap_test){"paths and profile flags", test_paths_and_flags};
	tests[n++] = (struct tap_test){"values longer than inih's line buffer",
				       test_long_values};
	for (size_t i = 0; i < N_CA_CASES; i++)
		tests[n++] =
		    (struct tap_test){ca_cases[i].name, test_next_ca_case};
	for (size_t i = 0; i < N_OPT_CASES; i++)
		tests[n++] =
		    (struct tap_test){opt_cases[i].name, test_next_opt_case};
	return tap_run(tests);
}
