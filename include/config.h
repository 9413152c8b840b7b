/* config.h - where endpoint, region and profile come from (SPEC §2), and the
 * shared AWS config/credentials files read with inih. No network. */
#ifndef DYNAMOFS_CONFIG_H
#define DYNAMOFS_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

/* How the files are read, and where this differs from botocore:
 * - inih with botocore's section rules: [NAME] in the credentials file,
 *   [profile NAME] (NAME may be quoted) and [default] in the config file;
 *   key names are case-insensitive (stored lower-case); indented lines
 *   continue the previous value (joined with '\n'), which is how the
 *   nested "dynamodb =\n  endpoint_url = URL" of a [services NAME]
 *   section is read. Lines and section names of any length work (inih's
 *   own 200/50-byte buffers are worked around).
 * - Unlike botocore, " ;" starts an inline comment (inih's rule), a
 *   repeated key replaces the earlier one instead of failing, and
 *   environment variables set to "" count as unset.
 * - The profile key ignore_configured_endpoint_urls = true is honoured
 *   like AWS_IGNORE_CONFIGURED_ENDPOINT_URLS (the variable, when set,
 *   wins). China regions (cn-*) default to dynamodb.REGION.amazonaws.com.cn.
 * - Endpoint URLs keep their path; trailing slashes are dropped.
 * - The CA bundle (AWS_CA_BUNDLE, else the profile's ca_bundle) is checked
 *   at start-up (a readable file holding a PEM certificate) and kept as an
 *   absolute path, where botocore opens it at the first request; like
 *   botocore, "~" is not expanded. botocore's last fallback,
 *   REQUESTS_CA_BUNDLE (a variable of Python's requests), is not read. */

/* What the command line said; NULL for "not given". */
struct config_options {
	const char *endpoint; /* endpoint= / --endpoint-url / SOURCE URL */
	const char *region;   /* region= / --region / SOURCE region name */
	const char *profile;  /* profile= / --profile */
	/* where endpoint and region came from, for their *_source: NULL for
	 * "option endpoint=" / "option region=", else e.g. "SOURCE argument" */
	const char *endpoint_from;
	const char *region_from;
};

enum config_file {
	CONFIG_FILE_CREDENTIALS = 0, /* ~/.aws/credentials: [NAME] */
	CONFIG_FILE_CONFIG = 1, /* ~/.aws/config: [profile NAME], [default] */
};

struct config_service;

/* One key of the selected profile, as read from one of the two files. */
struct config_kv {
	char *key;
	char *value;
	enum config_file file;
};

struct config {
	char *endpoint;	       /* full URL, never NULL after config_resolve */
	char *endpoint_source; /* e.g. "option endpoint=",
				  "AWS_ENDPOINT_URL_DYNAMODB", "endpoint_url for
				  dynamodb in [services s] of profile \"dev\" in
				  /home/u/.aws/config", "endpoint_url in profile
				  \"dev\" in /home/u/.aws/config", "default for
				  region eu-west-1" */
	char *region;
	char *region_source; /* e.g. "AWS_REGION", "region in profile \"dev\"
				...", "default us-east-1 (explicit endpoint)" */
	char *profile; /* selected profile name ("default" when none named) */
	char *profile_source; /* "option profile=", "AWS_PROFILE", "default" */
	bool profile_named;   /* the user named it (option or AWS_PROFILE) */
	bool profile_found;   /* a section for it exists in either file */
	char *ca_bundle;      /* absolute path of the PEM file that replaces
				 the default trusted certificates, or NULL */
	char *ca_bundle_source; /* "AWS_CA_BUNDLE", or "ca_bundle in profile
				   \"dev\" in /home/u/.aws/config"; NULL with
				   ca_bundle */
	char *credentials_file; /* path used (AWS_SHARED_CREDENTIALS_FILE or
				   ~/.aws/credentials) */
	char *config_file;    /* path used (AWS_CONFIG_FILE or ~/.aws/config) */
	struct config_kv *kv; /* the selected profile's keys from both files */
	size_t n_kv;
	/* every "SERVICE = / endpoint_url = URL" of every [services NAME]
	 * section of the config file; read with config_services_entry */
	struct config_service *services;
	size_t n_services;
};

/* Resolves the settings from opts, the environment and the two files, in the
 * order of SPEC §2. A missing file is not an error. Fills cfg (caller frees
 * with config_free). Returns 0, or:
 *   -ENOENT  a profile named by the user exists in neither file
 *            (err: "profile \"x\" (from AWS_PROFILE) not found in
 *            /home/u/.aws/credentials or /home/u/.aws/config")
 *   -EINVAL  no region could be found for the AWS endpoint ("no region: set
 *            AWS_REGION or -o region="), a bad endpoint URL or region name
 *            (err names its source), an unreadable/malformed file (err
 *            says which line), or a CA bundle that is missing, unreadable,
 *            not a file or holds no PEM certificate ("CA bundle /x.pem (from
 *            AWS_CA_BUNDLE): No such file or directory")
 *   -ENOMEM
 * err (may be NULL) receives a one-line reason. On failure cfg is left
 * zeroed. Not thread-safe (reads the environment); call at start-up. */
int config_resolve(const struct config_options *opts, struct config *cfg,
		   char *err, size_t errlen);

/* The environment variable name, or NULL when it is unset or empty (so
 * that `AWS_REGION= cmd` behaves like not setting it). Borrowed. Not
 * thread-safe against setenv. */
const char *config_env(const char *name);

/* Frees what config_resolve allocated (wiping the profile values, which may
 * hold secret keys); safe on a zeroed struct. */
void config_free(struct config *cfg);

/* The value of key in the selected profile: the credentials file wins over
 * the config file (as botocore). Returns a borrowed string or NULL; *file
 * (may be NULL) tells which file it came from. */
const char *config_get(const struct config *cfg, const char *key,
		       enum config_file *file);

/* True when configured endpoint URLs are switched off:
 * AWS_IGNORE_CONFIGURED_ENDPOINT_URLS when set, else the profile's
 * ignore_configured_endpoint_urls (both "true" in any case). */
bool config_ignore_endpoints(const struct config *cfg);

/* The endpoint_url that the selected profile's [services NAME] section
 * gives service (its key there, any case: "dynamodb", "sts", "sso",
 * "sso_oidc"), or NULL when none or when config_ignore_endpoints. The
 * AWS_ENDPOINT_URL_* variables are the caller's to check first. Borrowed;
 * valid while cfg lives. */
const char *config_services_entry(const struct config *cfg,
				  const char *service);

/* The user's home: HOME, else the password database's, else "/" (as the
 * SDKs find ~/.aws). Borrowed. */
const char *config_home_dir(void);

/* The path of that file, for messages: cfg->credentials_file or ->config_file.
 */
const char *config_file_path(const struct config *cfg, enum config_file file);

/* The keys of the config file's [KIND NAME] section, e.g. kind
 * "sso-session" or "services" (NAME may be quoted), re-read from
 * cfg->config_file with the same rules as profiles. Sets *kv and *n (caller
 * frees with config_kv_free; each kv's file is CONFIG_FILE_CONFIG). Returns
 * 0; -ENOENT when there is no such section (*n is 0); -EINVAL (unreadable
 * or malformed file, err says where); -ENOMEM. Not thread-safe (start-up). */
int config_section(const struct config *cfg, const char *kind, const char *name,
		   struct config_kv **kv, size_t *n, char *err, size_t errlen);

/* The value of key (lower-case) in such a table, borrowed, or NULL. */
const char *config_kv_find(const struct config_kv *kv, size_t n,
			   const char *key);

/* Frees a table from config_section (wiping the values); safe on NULL. */
void config_kv_free(struct config_kv *kv, size_t n);

/* The endpoint configured for an AWS service other than DynamoDB, as the
 * SDKs find it: service_id is the SDK's service id ("SSO", "SSO OIDC",
 * "STS"). Nothing when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS (or, when that is
 * unset, the profile's ignore_configured_endpoint_urls) is true; else
 * AWS_ENDPOINT_URL_<ID> (upper-case, spaces as '_'), AWS_ENDPOINT_URL, the
 * "<id> =\n  endpoint_url = URL" of the profile's [services NAME] section,
 * the profile's endpoint_url. Sets *url (checked as config_resolve checks
 * endpoints, trailing slashes dropped) and *source (for messages), both
 * freed by the caller with free, or both NULL when nothing is configured
 * (the caller uses the service's default). The [services] entries are the
 * ones config_resolve read (config_services_entry), so every service is
 * found by the same rules as DynamoDB's. Returns 0, -EINVAL (bad URL; err
 * says which), -ENOMEM. Not thread-safe (reads the environment). */
int config_service_endpoint(const struct config *cfg, const char *service_id,
			    char **url, char **source, char *err,
			    size_t errlen);

#endif
