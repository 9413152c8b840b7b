/* test_sts.c - the STS client: the XML parser (table-driven), the endpoint
 * choice, and AssumeRole / AssumeRoleWithWebIdentity against fakests.py. */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "creds.h"
#include "fakehttp.h"
#include "http.h"
#include "sts.h"
#include "tap.h"

/* Table rows leave out the fields they do not check. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

#define NS "xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\""
#define CREDS(akid, secret, token, exp)                                        \
	"<Credentials><AccessKeyId>" akid                                      \
	"</AccessKeyId><SecretAccessKey>" secret                               \
	"</SecretAccessKey><SessionToken>" token                               \
	"</SessionToken><Expiration>" exp "</Expiration></Credentials>"
#define GOOD_CREDS CREDS("ASIAX", "SEKRITs", "tok", "2026-05-01T12:00:00Z")
#define AR(inner)                                                              \
	"<AssumeRoleResponse " NS "><AssumeRoleResult>" inner                  \
	"</AssumeRoleResult></AssumeRoleResponse>"

static struct http_client *http;

/* --- the parser ---------------------------------------------------------- */

struct parse_case {
	const char *name;
	const char *action; /* NULL: AssumeRole */
	const char *xml;
	int rc;
	const char *akid, *secret, *token;
	long long exp;
	const char *arn;
	const char *code, *message;
	const char *err; /* a substring of err */
};

static const struct parse_case parse_cases[] = {
    {"good answer, default namespace", NULL,
     AR("<AssumedRoleUser><Arn>arn:aws:sts::1:assumed-role/r/s</Arn>"
	"</AssumedRoleUser>" GOOD_CREDS),
     0, "ASIAX", "SEKRITs", "tok", 1777636800LL,
     "arn:aws:sts::1:assumed-role/r/s"},
    {"good answer, prefixed namespace", NULL,
     "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
     "<sts:AssumeRoleResponse xmlns:sts=\"https://sts.amazonaws.com/doc/"
     "2011-06-15/\"><sts:AssumeRoleResult><sts:Credentials>"
     "<sts:AccessKeyId>ASIAX</sts:AccessKeyId><sts:SecretAccessKey>SEKRITs"
     "</sts:SecretAccessKey><sts:SessionToken>tok</sts:SessionToken>"
     "<sts:Expiration>2026-05-01T12:00:00.000Z</sts:Expiration>"
     "</sts:Credentials></sts:AssumeRoleResult></sts:AssumeRoleResponse>",
     0, "ASIAX", "SEKRITs", "tok", 1777636800LL},
    {"good answer, no namespace, whitespace around", NULL,
     "\n<AssumeRoleResponse>\n <AssumeRoleResult>\n  <Credentials>\n"
     "   <AccessKeyId>ASIAX</AccessKeyId>\n   <SecretAccessKey>SEKRITs"
     "</SecretAccessKey>\n   <SessionToken>tok</SessionToken>\n"
     "   <Expiration>2026-05-01T12:00:00Z</Expiration>\n  </Credentials>\n"
     " </AssumeRoleResult>\n <ResponseMetadata><RequestId>r</RequestId>"
     "</ResponseMetadata>\n</AssumeRoleResponse>\n",
     0, "ASIAX", "SEKRITs", "tok", 1777636800LL},
    {"web identity answer", "AssumeRoleWithWebIdentity",
     "<AssumeRoleWithWebIdentityResponse " NS
     "><AssumeRoleWithWebIdentityResult><SubjectFromWebIdentityToken>x"
     "</SubjectFromWebIdentityToken>" GOOD_CREDS
     "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>",
     0, "ASIAX", "SEKRITs", "tok", 1777636800LL},
    {"entities and character references decoded", NULL,
     AR(CREDS("ASIAX", "SEKRIT&amp;&lt;&gt;&#x2F;&#43;&quot;&apos;", "t&#233;k",
	      "2026-05-01T12:00:00Z")),
     0, "ASIAX", "SEKRIT&<>/+\"'", "t\xc3\xa9k", 1777636800LL},
    {"CDATA and split text joined", NULL,
     AR(CREDS("AS<![CDATA[IA]]>X", "SEKRIT<!-- c -->s", "tok",
	      "2026-05-01T12:00:00Z")),
     0, "ASIAX", "SEKRITs", "tok", 1777636800LL},
    {"error answer", NULL,
     "<ErrorResponse " NS "><Error><Type>Sender</Type><Code>AccessDenied"
     "</Code><Message>User: u is not authorized</Message></Error>"
     "<RequestId>r</RequestId></ErrorResponse>",
     0, .code = "AccessDenied", .message = "User: u is not authorized"},
    {"error answer without Message", NULL,
     "<ErrorResponse><Error><Code>Throttling</Code></Error></ErrorResponse>", 0,
     .code = "Throttling", .message = ""},
    {"error answer without Code", NULL,
     "<ErrorResponse><Error><Message>m</Message></Error></ErrorResponse>",
     -EINVAL, .err = "without Code"},
    {"Code outside Error is not taken", NULL,
     "<ErrorResponse><Code>X</Code><Error></Error></ErrorResponse>", -EINVAL,
     .err = "without Code"},
    {"missing SessionToken", NULL,
     AR("<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>SEKRIT"
	"</SecretAccessKey><Expiration>2026-05-01T12:00:00Z</Expiration>"
	"</Credentials>"),
     -EINVAL, .err = "without SessionToken"},
    {"missing Expiration", NULL,
     AR("<Credentials><AccessKeyId>A</AccessKeyId><SecretAccessKey>SEKRIT"
	"</SecretAccessKey><SessionToken>t</SessionToken></Credentials>"),
     -EINVAL, .err = "without Expiration"},
    {"empty AccessKeyId", NULL,
     AR(CREDS("", "SEKRITs", "tok", "2026-05-01T12:00:00Z")), -EINVAL,
     .err = "without AccessKeyId"},
    {"bad Expiration", NULL, AR(CREDS("A", "SEKRITs", "tok", "tomorrow")),
     -EINVAL, .err = "bad Expiration"},
    {"Credentials at the wrong depth", NULL,
     "<AssumeRoleResponse>" GOOD_CREDS "</AssumeRoleResponse>", -EINVAL,
     .err = "without AccessKeyId"},
    {"answer to another action", NULL,
     "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult>" GOOD_CREDS
     "</AssumeRoleWithWebIdentityResult>"
     "</AssumeRoleWithWebIdentityResponse>",
     -EINVAL, .err = "not an STS answer"},
    {"Result of another action", NULL,
     "<AssumeRoleResponse><GetSessionTokenResult>" GOOD_CREDS
     "</GetSessionTokenResult></AssumeRoleResponse>",
     -EINVAL, .err = "without AccessKeyId"},
    {"a field given twice", NULL,
     AR("<Credentials><AccessKeyId>A</AccessKeyId><AccessKeyId>B"
	"</AccessKeyId></Credentials>"),
     -EINVAL, .err = "twice"},
    {"an element inside a field", NULL,
     AR(CREDS("A<b>x</b>", "SEKRITs", "tok", "2026-05-01T12:00:00Z")), -EINVAL,
     .err = "inside"},
    {"unclosed element", NULL,
     "<AssumeRoleResponse><AssumeRoleResult>" GOOD_CREDS, -EINVAL,
     .err = "not XML"},
    {"mismatched tag", NULL,
     AR(CREDS("A", "SEKRITs", "tok", "2026-05-01T12:00:00Z</x>")), -EINVAL,
     .err = "not XML"},
    {"empty body", NULL, "", -EINVAL, .err = "not XML"},
    {"JSON, not XML", NULL, "{\"AccessKeyId\": \"A\"}", -EINVAL,
     .err = "not XML"},
    {"junk after the document", NULL, AR(GOOD_CREDS) "<x/>", -EINVAL,
     .err = "not XML"},
    {"invalid UTF-8", NULL,
     AR(CREDS("A\xff", "SEKRITs", "tok", "2026-05-01T12:00:00Z")), -EINVAL,
     .err = "not XML"},
    {"undeclared entity", NULL,
     AR(CREDS("A&foo;", "SEKRITs", "tok", "2026-05-01T12:00:00Z")), -EINVAL,
     .err = "not XML"},
    {"undeclared namespace prefix", NULL, "<x:AssumeRoleResponse/>", -EINVAL,
     .err = "not XML"},
    {"billion laughs refused at the DOCTYPE", NULL,
     "<?xml version=\"1.0\"?><!DOCTYPE l [<!ENTITY a \"aaaaaaaaaa\">"
     "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">"
     "<!ENTITY c \"&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;\">]>"
     "<AssumeRoleResponse><AssumeRoleResult>"
     "<Credentials><AccessKeyId>&c;</AccessKeyId></Credentials>"
     "</AssumeRoleResult></AssumeRoleResponse>",
     -EINVAL, .err = "DOCTYPE"},
    {"external entity refused at the DOCTYPE", NULL,
     "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>" AR(
	 CREDS("&x;", "SEKRITs", "tok", "2026-05-01T12:00:00Z")),
     -EINVAL, .err = "DOCTYPE"},
};

static size_t parse_index;

static void test_next_parse_case(void)
{
	const struct parse_case *c = &parse_cases[parse_index++];
	struct sts_answer a;
	char err[256] = "unset";
	int rc;

	printf("# %s\n", c->name);
	rc = sts_parse_response(c->xml, strlen(c->xml),
				c->action ? c->action : "AssumeRole", &a, err,
				sizeof(err));
	CHECK_INT(rc, c->rc);
	/* A reason never quotes a secret. */
	CHECK(!strstr(err, "SEKRIT"));
	if (rc) {
		struct sts_answer zero = {0};

		CHECK(memcmp(&a, &zero, sizeof(a)) == 0);
		CHECK(strstr(err, c->err) != NULL);
		if (!strstr(err, c->err))
			printf("#   err: %s\n", err);
		return;
	}
	CHECK_STR(err, "");
	if (c->code) {
		CHECK_STR(a.error_code, c->code);
		CHECK_STR(a.error_message, c->message);
		CHECK(a.creds.access_key_id == NULL);
	} else {
		CHECK(a.error_code == NULL);
		CHECK_STR(a.creds.access_key_id, c->akid);
		CHECK_STR(a.creds.secret_access_key, c->secret);
		CHECK_STR(a.creds.session_token, c->token);
		CHECK_INT(a.creds.expiration, c->exp);
		if (c->arn)
			CHECK_STR(a.assumed_role_arn, c->arn);
		else
			CHECK(a.assumed_role_arn == NULL);
	}
	sts_answer_free(&a);
}

/* Big inputs: over the 1 MiB cap, a 64 KiB+ field, deep nesting. */
static void test_parse_huge(void)
{
	size_t n = 1024 * 1024 + 1, depth = 100000;
	char *big = malloc(n + 1), *deep, *p, err[256];
	struct sts_answer a;
	const char *pre = "<AssumeRoleResponse><AssumeRoleResult><Credentials>"
			  "<AccessKeyId>";

	memset(big, ' ', n);
	memcpy(big, AR(GOOD_CREDS), strlen(AR(GOOD_CREDS)));
	big[n] = '\0';
	/* Valid XML followed by blanks, but over the cap. */
	CHECK_INT(
	    sts_parse_response(big, n, "AssumeRole", &a, err, sizeof(err)),
	    -EINVAL);
	CHECK(strstr(err, "over 1 MiB") != NULL);
	/* Just under the cap it parses. */
	CHECK_INT(
	    sts_parse_response(big, n - 1, "AssumeRole", &a, err, sizeof(err)),
	    0);
	sts_answer_free(&a);

	/* A 70 KiB key id. */
	p = big;
	p += sprintf(p, "%s", pre);
	memset(p, 'A', 70 * 1024);
	p += 70 * 1024;
	p += sprintf(p, "</AccessKeyId></Credentials></AssumeRoleResult>"
			"</AssumeRoleResponse>");
	CHECK_INT(sts_parse_response(big, (size_t)(p - big), "AssumeRole", &a,
				     err, sizeof(err)),
		  -EINVAL);
	CHECK(strstr(err, "64 KiB") != NULL);
	free(big);

	/* 100000 nested elements inside the answer: no recursion to blow. */
	deep = malloc(depth * 7 + 256);
	p = deep;
	p += sprintf(p, "<AssumeRoleResponse>");
	for (size_t i = 0; i < depth; i++)
		p += sprintf(p, "<a>");
	for (size_t i = 0; i < depth; i++)
		p += sprintf(p, "</a>");
	p += sprintf(p, "</AssumeRoleResponse>");
	CHECK_INT(sts_parse_response(deep, (size_t)(p - deep), "AssumeRole", &a,
				     err, sizeof(err)),
		  -EINVAL);
	CHECK(strstr(err, "without AccessKeyId") != NULL);
	free(deep);
}

/* --- endpoint and session name ------------------------------------------- */

struct endpoint_case {
	const char *sts, *all, *ignore; /* the three variables */
	const char *config;		/* ~/.aws/config; NULL: no cfg */
	const char *region;
	int rc;
	const char *url, *source;
};

/* A profile "p" with a services section "s" naming sts, sso_oidc and
 * dynamodb endpoints, and a global endpoint_url. */
#define SVC_CONFIG(extra)                                                      \
	"[profile p]\nregion = eu-west-1\nservices = s\n" extra                \
	"[services s]\ndynamodb =\n  endpoint_url = http://ddb:1\n"            \
	"sts =\n  endpoint_url = http://sts:2/\nsso_oidc =\n"                  \
	"  endpoint_url = http://oidc:3\n[services other]\nsts =\n"            \
	"  endpoint_url = http://wrong:4\n"

static const struct endpoint_case endpoint_cases[] = {
    {NULL, NULL, NULL, NULL, "eu-west-1", 0,
     "https://sts.eu-west-1.amazonaws.com", "default for region eu-west-1"},
    {NULL, NULL, NULL, NULL, "cn-north-1", 0,
     "https://sts.cn-north-1.amazonaws.com.cn",
     "default for region cn-north-1"},
    {"http://127.0.0.1:1/", "http://x:2", NULL, SVC_CONFIG(""), "eu-west-1", 0,
     "http://127.0.0.1:1", "AWS_ENDPOINT_URL_STS"},
    {NULL, "http://x:2//", NULL, SVC_CONFIG(""), "eu-west-1", 0, "http://x:2",
     "AWS_ENDPOINT_URL"},
    {NULL, NULL, NULL, SVC_CONFIG("endpoint_url = http://global:5\n"),
     "eu-west-1", 0, "http://sts:2",
     "endpoint_url for sts in [services s] of profile \"p\" in $C"},
    {NULL, NULL, NULL,
     "[profile p]\nregion = eu-west-1\nendpoint_url = http://global:5\n"
     "services = s\n[services s]\ndynamodb =\n  endpoint_url = http://d:1\n",
     "eu-west-1", 0, "http://global:5", "endpoint_url in profile \"p\" in $C"},
    {"http://127.0.0.1:1", "http://x:2", "true", SVC_CONFIG(""), "eu-west-1", 0,
     "https://sts.eu-west-1.amazonaws.com", "default for region eu-west-1"},
    {"http://127.0.0.1:1", NULL, NULL,
     SVC_CONFIG("ignore_configured_endpoint_urls = true\n"), "eu-west-1", 0,
     "https://sts.eu-west-1.amazonaws.com", "default for region eu-west-1"},
    {NULL, NULL, "false",
     SVC_CONFIG("ignore_configured_endpoint_urls = true\n"), "eu-west-1", 0,
     "http://sts:2",
     "endpoint_url for sts in [services s] of profile \"p\" in $C"},
    {"http://127.0.0.1:1", NULL, "TRUE", NULL, "eu-west-1", 0,
     "https://sts.eu-west-1.amazonaws.com", "default for region eu-west-1"},
    {"http://127.0.0.1:1", NULL, "false", NULL, NULL, 0, "http://127.0.0.1:1",
     "AWS_ENDPOINT_URL_STS"},
    {NULL, NULL, NULL, NULL, NULL, -EINVAL},
    {NULL, NULL, NULL, NULL, "", -EINVAL},
    {"ftp://x", NULL, NULL, NULL, "eu-west-1", -EINVAL},
};

static void set_or_unset(const char *name, const char *v)
{
	if (v)
		setenv(name, v, 1);
	else
		unsetenv(name);
}

static void test_endpoint(void)
{
	char dir[] = "/tmp/test_sts.XXXXXX", path[64], want[256];

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/config", dir);
	setenv("AWS_CONFIG_FILE", path, 1);
	setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent", 1);
	setenv("AWS_PROFILE", "p", 1);
	for (size_t i = 0;
	     i < sizeof(endpoint_cases) / sizeof(endpoint_cases[0]); i++) {
		const struct endpoint_case *c = &endpoint_cases[i];
		char *url = NULL, *source = NULL, err[256] = "";
		struct config cfg = {0};
		int rc;

		printf("# endpoint case %zu\n", i);
		set_or_unset("AWS_ENDPOINT_URL_STS", c->sts);
		set_or_unset("AWS_ENDPOINT_URL", c->all);
		set_or_unset("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", c->ignore);
		if (c->config) {
			FILE *fp = fopen(path, "w");

			CHECK(fp != NULL);
			if (!fp)
				continue;
			fputs(c->config, fp);
			fclose(fp);
			rc = config_resolve(&(struct config_options){0}, &cfg,
					    err, sizeof(err));
			CHECK_INT(rc, 0);
			if (rc) {
				printf("#   %s\n", err);
				continue;
			}
			/* the generic lookup serves the other clients too,
			 * and the dynamodb endpoint is unchanged */
			if (!c->ignore && !strstr(c->config, "ignore_") &&
			    strstr(c->config, "oidc")) {
				CHECK_STR(
				    config_services_entry(&cfg, "SSO_OIDC"),
				    "http://oidc:3");
				CHECK(config_services_entry(&cfg, "sso") ==
				      NULL);
			}
		}
		rc = sts_endpoint(c->config ? &cfg : NULL, c->region, &url,
				  &source, err, sizeof(err));
		CHECK_INT(rc, c->rc);
		if (c->rc) {
			CHECK(url == NULL && source == NULL && err[0]);
		} else {
			snprintf(want, sizeof(want), "%.*s%s%s",
				 (int)strcspn(c->source, "$"), c->source,
				 strchr(c->source, '$') ? path : "",
				 strchr(c->source, '$')
				     ? strchr(c->source, '$') + 2
				     : "");
			CHECK_STR(url, c->url);
			CHECK_STR(source, want);
		}
		free(url);
		free(source);
		config_free(&cfg);
	}
	unlink(path);
	rmdir(dir);
	unsetenv("AWS_CONFIG_FILE");
	unsetenv("AWS_SHARED_CREDENTIALS_FILE");
	unsetenv("AWS_PROFILE");
	unsetenv("AWS_ENDPOINT_URL_STS");
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
}

static void test_session_name(void)
{
	char name[40];

	sts_default_session_name(1764645600, name);
	CHECK_STR(name, "botocore-session-1764645600");
}

/* --- against fakests.py -------------------------------------------------- */

#define BASE_AKID   "AKIABASE"
#define BASE_SECRET "SEKRITbase/+="
#define ROLE	    "arn:aws:iam::123456789012:role/dev"

static const struct sigv4_credentials base = {BASE_AKID, BASE_SECRET, NULL};

static const char *fake_config =
    "{\"region\": \"eu-west-1\", \"keys\": {\"" BASE_AKID "\": \"" BASE_SECRET
    "\"}, \"web_identity_token\": \"eyJ.tok+en/=\","
    " \"deny\": [\"arn:aws:iam::123456789012:role/nope\"],"
    " \"mfa\": {\"arn:aws:iam::123456789012:role/mfa\": {\"serial\":"
    " \"arn:aws:iam::123456789012:mfa/me\", \"code\": \"123456\"}},"
    " \"external_id\": {\"arn:aws:iam::123456789012:role/ext\": \"x&y z\"}}";

static const char *jstr(json_t *j, const char *a, const char *b)
{
	json_t *v = json_object_get(j, a);

	if (b)
		v = json_object_get(v, b);
	return json_string_value(v);
}

/* The credentials equal what the fake issued on log line n. */
static void check_issued(const struct fakehttp *f, int n, const struct creds *c)
{
	json_t *j = fakehttp_log_line(f, n);
	time_t exp = 0;

	CHECK(j != NULL);
	CHECK_STR(c->access_key_id, jstr(j, "issued", "AccessKeyId"));
	CHECK_STR(c->secret_access_key, jstr(j, "issued", "SecretAccessKey"));
	CHECK_STR(c->session_token, jstr(j, "issued", "SessionToken"));
	CHECK_INT(creds_parse_time(jstr(j, "issued", "Expiration"), &exp), 0);
	CHECK_INT(c->expiration, exp);
	json_decref(j);
}

static int start_fake(struct fakehttp *f, const char *config)
{
	if (fakehttp_start_tool(f, "fakests.py", config) == 0)
		return 0;
	CHECK(!"fakests.py started");
	fakehttp_stop(f);
	return -1;
}

static void test_assume_role(void)
{
	struct fakehttp f;
	struct creds c = {0}, c2 = {0};
	char err[256];
	time_t now = time(NULL);
	char name[40];
	json_t *j;
	int rc;

	if (start_fake(&f, fake_config))
		return;
	rc = sts_assume_role(http, f.url, "eu-west-1", &base,
			     &(struct sts_assume_role){.role_arn = ROLE}, now,
			     &c, err, sizeof(err));
	CHECK_INT(rc, 0);
	CHECK_STR(err, "");
	check_issued(&f, 0, &c);
	j = fakehttp_log_line(&f, 0);
	sts_default_session_name(now, name);
	CHECK_STR(jstr(j, "params", "RoleSessionName"), name);
	CHECK_STR(jstr(j, "params", "RoleArn"), ROLE);
	CHECK(jstr(j, "params", "DurationSeconds") == NULL);
	CHECK(jstr(j, "params", "ExternalId") == NULL);
	CHECK(jstr(j, "params", "SerialNumber") == NULL);
	CHECK(jstr(j, "headers", "x-amz-security-token") == NULL);
	CHECK_STR(jstr(j, "headers", "content-type"),
		  "application/x-www-form-urlencoded; charset=utf-8");
	json_decref(j);

	/* A chain: the role's keys (with their session token) assume the
	 * next role; the fake accepts only the keys it issued. */
	rc = sts_assume_role(
	    http, f.url, "eu-west-1",
	    &(struct sigv4_credentials){c.access_key_id, c.secret_access_key,
					c.session_token},
	    &(struct sts_assume_role){.role_arn =
					  "arn:aws:iam::123456789012:role/two",
				      .session_name = "chain@2"},
	    now, &c2, err, sizeof(err));
	CHECK_INT(rc, 0);
	check_issued(&f, 1, &c2);
	j = fakehttp_log_line(&f, 1);
	CHECK_STR(jstr(j, "headers", "x-amz-security-token"), c.session_token);
	CHECK_STR(jstr(j, "params", "RoleSessionName"), "chain@2");
	json_decref(j);
	CHECK_INT(fakehttp_count(&f), 2);
	creds_clear(&c);
	creds_clear(&c2);
	fakehttp_stop(&f);
}

static void test_assume_role_fields(void)
{
	struct fakehttp f;
	struct creds c = {0};
	char err[256];
	json_t *j;
	int rc;

	if (start_fake(&f, fake_config))
		return;
	rc = sts_assume_role(
	    http, f.url, "eu-west-1", &base,
	    &(struct sts_assume_role){.role_arn =
					  "arn:aws:iam::123456789012:role/ext",
				      .session_name = "me",
				      .external_id = "x&y z",
				      .duration_seconds = 900},
	    time(NULL), &c, err, sizeof(err));
	CHECK_INT(rc, 0);
	check_issued(&f, 0, &c);
	/* 900 s from the fake's clock, within a minute of ours. */
	CHECK(c.expiration > time(NULL) + 840 &&
	      c.expiration < time(NULL) + 960);
	j = fakehttp_log_line(&f, 0);
	CHECK_STR(jstr(j, "params", "ExternalId"), "x&y z");
	CHECK_STR(jstr(j, "params", "DurationSeconds"), "900");
	CHECK_STR(jstr(j, "params", "RoleSessionName"), "me");
	json_decref(j);
	creds_clear(&c);

	/* MFA: both fields sent; the right code passes. */
	rc = sts_assume_role(
	    http, f.url, "eu-west-1", &base,
	    &(struct sts_assume_role){
		.role_arn = "arn:aws:iam::123456789012:role/mfa",
		.mfa_serial = "arn:aws:iam::123456789012:mfa/me",
		.mfa_code = "123456"},
	    time(NULL), &c, err, sizeof(err));
	CHECK_INT(rc, 0);
	check_issued(&f, 1, &c);
	j = fakehttp_log_line(&f, 1);
	CHECK_STR(jstr(j, "params", "SerialNumber"),
		  "arn:aws:iam::123456789012:mfa/me");
	CHECK_STR(jstr(j, "params", "TokenCode"), "123456");
	json_decref(j);
	creds_clear(&c);

	/* A wrong code: refused, and the code is not in the message. */
	rc = sts_assume_role(
	    http, f.url, "eu-west-1", &base,
	    &(struct sts_assume_role){
		.role_arn = "arn:aws:iam::123456789012:role/mfa",
		.mfa_serial = "arn:aws:iam::123456789012:mfa/me",
		.mfa_code = "654321"},
	    time(NULL), &c, err, sizeof(err));
	CHECK_INT(rc, -EACCES);
	CHECK(strstr(err, "AccessDenied: MultiFactorAuthentication") != NULL);
	CHECK(!strstr(err, "654321"));
	CHECK(c.access_key_id == NULL);
	/* A wrong external id. */
	rc = sts_assume_role(
	    http, f.url, "eu-west-1", &base,
	    &(struct sts_assume_role){.role_arn =
					  "arn:aws:iam::123456789012:role/ext",
				      .external_id = "other"},
	    time(NULL), &c, err, sizeof(err));
	CHECK_INT(rc, -EACCES);
	CHECK_INT(fakehttp_count(&f), 4);
	fakehttp_stop(&f);
}

struct refusal_case {
	const char *name;
	struct sigv4_credentials source;
	const char *region, *role;
	const char *err; /* the whole one-line message */
};

static const struct refusal_case refusal_cases[] = {
    {"wrong source secret",
     {BASE_AKID, "SEKRITwrong", NULL},
     "eu-west-1",
     ROLE,
     "STS AssumeRole of role " ROLE " refused: SignatureDoesNotMatch: The "
     "request signature we calculated does not match the signature you "
     "provided. Check your AWS Secret Access Key and signing method."},
    {"unknown source key",
     {"AKIAOTHER", BASE_SECRET, NULL},
     "eu-west-1",
     ROLE,
     "STS AssumeRole of role " ROLE " refused: InvalidClientTokenId: The "
     "security token included in the request is invalid."},
    {"a session token the fake never issued",
     {BASE_AKID, BASE_SECRET, "FwoGforged"},
     "eu-west-1",
     ROLE,
     "STS AssumeRole of role " ROLE " refused: InvalidClientTokenId: The "
     "security token included in the request is invalid."},
    {"signed for another region",
     {BASE_AKID, BASE_SECRET, NULL},
     "us-east-1",
     ROLE,
     "STS AssumeRole of role " ROLE " refused: SignatureDoesNotMatch: "
     "Credential should be scoped to a valid region and service sts."},
    {"role denied",
     {BASE_AKID, BASE_SECRET, NULL},
     "eu-west-1",
     "arn:aws:iam::123456789012:role/nope",
     "STS AssumeRole of role arn:aws:iam::123456789012:role/nope refused: "
     "AccessDenied: User: arn:aws:iam::123456789012:user/base is not "
     "authorized to perform: sts:AssumeRole on resource: "
     "arn:aws:iam::123456789012:role/nope"},
};

static void test_refusals(void)
{
	struct fakehttp f;

	if (start_fake(&f, fake_config))
		return;
	for (size_t i = 0; i < sizeof(refusal_cases) / sizeof(refusal_cases[0]);
	     i++) {
		const struct refusal_case *c = &refusal_cases[i];
		struct creds cr = {0};
		char err[512];
		int rc;

		printf("# %s\n", c->name);
		rc = sts_assume_role(
		    http, f.url, c->region, &c->source,
		    &(struct sts_assume_role){.role_arn = c->role}, time(NULL),
		    &cr, err, sizeof(err));
		CHECK_INT(rc, -EACCES);
		CHECK_STR(err, c->err);
		CHECK(!strstr(err, "SEKRIT"));
		CHECK(cr.access_key_id == NULL);
	}
	/* Refusals are not retried. */
	CHECK_INT(fakehttp_count(&f),
		  (int)(sizeof(refusal_cases) / sizeof(refusal_cases[0])));
	fakehttp_stop(&f);
}

static void test_web_identity(void)
{
	struct fakehttp f;
	struct creds c = {0};
	char err[256];
	json_t *j;
	int rc;

	if (start_fake(&f, fake_config))
		return;
	rc = sts_assume_role_with_web_identity(http, f.url, ROLE, "pod",
					       "eyJ.tok+en/=", 0, time(NULL),
					       &c, err, sizeof(err));
	CHECK_INT(rc, 0);
	check_issued(&f, 0, &c);
	j = fakehttp_log_line(&f, 0);
	CHECK_STR(jstr(j, "params", "WebIdentityToken"), "eyJ.tok+en/=");
	CHECK_STR(jstr(j, "params", "RoleSessionName"), "pod");
	CHECK(jstr(j, "headers", "authorization") == NULL);
	json_decref(j);
	creds_clear(&c);

	rc = sts_assume_role_with_web_identity(http, f.url, ROLE, NULL,
					       "eyJ.rotated", 0, time(NULL), &c,
					       err, sizeof(err));
	CHECK_INT(rc, -EACCES);
	CHECK(strstr(err, "STS AssumeRoleWithWebIdentity of role " ROLE
			  " refused: InvalidIdentityToken: ") == err);
	CHECK(!strstr(err, "eyJ"));
	j = fakehttp_log_line(&f, 1);
	CHECK(strncmp(jstr(j, "params", "RoleSessionName"), "botocore-session-",
		      17) == 0);
	json_decref(j);
	fakehttp_stop(&f);
}

struct retry_case {
	const char *name;
	const char *config;
	int rc, requests;
	const char *err;
};

static const struct retry_case retry_cases[] = {
    {"two 500s, then keys",
     "{\"region\": \"eu-west-1\", \"keys\": {\"" BASE_AKID "\": \"" BASE_SECRET
     "\"}, \"fail_first\": 2}",
     0, 3},
    {"one Throttling, then keys",
     "{\"region\": \"eu-west-1\", \"keys\": {\"" BASE_AKID "\": \"" BASE_SECRET
     "\"}, \"throttle_first\": 1}",
     0, 2},
    {"two IDPCommunicationError, then keys",
     "{\"region\": \"eu-west-1\", \"keys\": {\"" BASE_AKID "\": \"" BASE_SECRET
     "\"}, \"throttle_first\": 2,"
     " \"throttle_code\": \"IDPCommunicationError\"}",
     0, 3},
    {"three 500s: -EIO",
     "{\"region\": \"eu-west-1\", \"keys\": {\"" BASE_AKID "\": \"" BASE_SECRET
     "\"}, \"fail_first\": 3}",
     -EIO, 3,
     "STS AssumeRole of role " ROLE " failed after 3 attempts: HTTP 500, "
     "InternalFailure"},
};

static void test_retries(void)
{
	for (size_t i = 0; i < sizeof(retry_cases) / sizeof(retry_cases[0]);
	     i++) {
		const struct retry_case *rc_ = &retry_cases[i];
		struct fakehttp f;
		struct creds c = {0};
		char err[256];
		int rc;

		printf("# %s\n", rc_->name);
		if (start_fake(&f, rc_->config))
			return;
		rc =
		    sts_assume_role(http, f.url, "eu-west-1", &base,
				    &(struct sts_assume_role){.role_arn = ROLE},
				    time(NULL), &c, err, sizeof(err));
		CHECK_INT(rc, rc_->rc);
		CHECK_INT(fakehttp_count(&f), rc_->requests);
		if (rc == 0)
			check_issued(&f, rc_->requests - 1, &c);
		else
			CHECK_STR(err, rc_->err);
		creds_clear(&c);
		fakehttp_stop(&f);
	}
}

/* Not STS at all: a 200 that is not XML, a 403 page, a closed port. */
static void test_not_sts(void)
{
	struct fakehttp f;
	struct creds c = {0};
	char err[256];
	int rc;

	if (fakehttp_start(&f, "[{\"path\": \"/ok\", \"body\": \"hello\"},"
			       " {\"path\": \"/no\", \"status\": 403,"
			       " \"body\": \"<html>no</html>\"}]")) {
		CHECK(!"fakehttp started");
		fakehttp_stop(&f);
		return;
	}
	char url[128];
	snprintf(url, sizeof(url), "%s/ok", f.url);
	rc = sts_assume_role(http, url, "eu-west-1", &base,
			     &(struct sts_assume_role){.role_arn = ROLE},
			     time(NULL), &c, err, sizeof(err));
	CHECK_INT(rc, -EIO);
	CHECK(strstr(err, "STS AssumeRole of role " ROLE
			  ": STS answer is not XML") == err);
	snprintf(url, sizeof(url), "%s/no", f.url);
	rc = sts_assume_role(http, url, "eu-west-1", &base,
			     &(struct sts_assume_role){.role_arn = ROLE},
			     time(NULL), &c, err, sizeof(err));
	CHECK_INT(rc, -EIO);
	CHECK_STR(err, "STS AssumeRole of role " ROLE ": HTTP 403");
	/* Neither is retried. */
	CHECK_INT(fakehttp_count(&f), 2);
	fakehttp_stop(&f);

	/* Port 1 on loopback: refused, retried, then -EIO. */
	rc = sts_assume_role(http, "http://127.0.0.1:1", "eu-west-1", &base,
			     &(struct sts_assume_role){.role_arn = ROLE},
			     time(NULL), &c, err, sizeof(err));
	CHECK_INT(rc, -EIO);
	CHECK(strstr(err, "failed after 3 attempts") != NULL);
	/* Bad arguments never reach the network. */
	rc = sts_assume_role(
	    http, "http://127.0.0.1:1", "eu-west-1", &base,
	    &(struct sts_assume_role){.role_arn = ROLE, .mfa_serial = "s"},
	    time(NULL), &c, err, sizeof(err));
	CHECK_INT(rc, -EINVAL);
	rc = sts_assume_role(http, "not a url", "eu-west-1", &base,
			     &(struct sts_assume_role){.role_arn = ROLE},
			     time(NULL), &c, err, sizeof(err));
	CHECK_INT(rc, -EINVAL);
}

int main(void)
{
	static struct tap_test tests[64];
	size_t n = 0;
	int ret;

	if (http_global_init())
		return 1;
	http = http_client_new(2000, 5000);
	if (!http)
		return 1;
	for (size_t i = 0; i < sizeof(parse_cases) / sizeof(parse_cases[0]);
	     i++)
		tests[n++] = (struct tap_test){parse_cases[i].name,
					       test_next_parse_case};
	tests[n++] = (struct tap_test){"parse: huge inputs", test_parse_huge};
	tests[n++] = (struct tap_test){"endpoint: variables, services, default",
				       test_endpoint};
	tests[n++] =
	    (struct tap_test){"default session name", test_session_name};
	tests[n++] = (struct tap_test){"AssumeRole: static keys, then a chain",
				       test_assume_role};
	tests[n++] = (struct tap_test){"AssumeRole: external id, duration, MFA",
				       test_assume_role_fields};
	tests[n++] = (struct tap_test){"AssumeRole: refusals are -EACCES",
				       test_refusals};
	tests[n++] =
	    (struct tap_test){"AssumeRoleWithWebIdentity", test_web_identity};
	tests[n++] = (struct tap_test){"retries", test_retries};
	tests[n++] = (struct tap_test){"not STS: -EIO", test_not_sts};
	tests[n] = (struct tap_test){0, 0};
	ret = tap_run(tests);
	http_client_free(http);
	http_global_cleanup();
	return ret;
}
