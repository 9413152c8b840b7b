/* config.c - resolves endpoint, region and profile in the order of SPEC §2
 * from the options, the environment and the shared AWS files (read with inih).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http.h"
#include "log.h"

/* A [services NAME] section's "SERVICE = / endpoint_url = URL" value. */
struct config_service {
	char *name; /* the section's NAME */
	char
	    *service; /* the sub-section's key, lower-case: "dynamodb", "sts" */
	char *endpoint_url;
};

/* State of one file's parse. inih keeps section names (50 bytes) and lines
 * (200 bytes) in fixed buffers and silently splits longer lines, which would
 * corrupt session tokens and long profile names. So we feed it through our
 * own reader: the reader tracks the section itself and hands inih a
 * placeholder value ("\x01") for an over-long line, whose real value the
 * handler then takes from long_value. */
struct config_parse {
	struct config *cfg;
	enum config_file file;
	const char *path;
	FILE *fp;
	char *line; /* getline buffer */
	size_t cap;
	int lineno;
	char *section;	  /* current section, full length */
	bool have_key;	  /* a key line since the section (inih's prev_name) */
	bool is_cont;	  /* the current line continues the previous key */
	char *long_value; /* the value of the current over-long line */
	bool in_profile;  /* the section is the selected profile */
	char *service_name; /* set in a [services NAME] section */
	char *sub;	    /* the "SERVICE =" we are inside, lower-case */
	struct config_service *services;
	size_t n_services;
	bool found; /* the selected profile's section exists */
	bool nomem;
	/* config_section: collect [want_kind want_name] instead of a profile */
	const char *want_kind;
	const char *want_name;
};

#define CONFIG_PLACEHOLDER "\x01"

const char *config_env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

static char *lskip(char *s)
{
	while (*s && isspace((unsigned char)*s))
		s++;
	return s;
}

static void rstrip(char *s)
{
	size_t n = strlen(s);

	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

/* inih's rule: the first char of chars, or a ';' after whitespace (an
 * inline comment), or the end. */
static char *find_chars_or_comment(char *s, const char *chars)
{
	bool was_space = false;

	while (*s && (!chars || !strchr(chars, *s)) &&
	       !(was_space && *s == ';')) {
		was_space = isspace((unsigned char)*s);
		s++;
	}
	return s;
}

/* A value as inih would give it: leading space, inline comment and
 * trailing space removed. Caller frees with free. */
static char *clean_value(const char *raw)
{
	char *v = strdup(raw), *s, *end;

	if (!v)
		return NULL;
	s = lskip(v);
	end = find_chars_or_comment(s, NULL);
	*end = '\0';
	rstrip(s);
	memmove(v, s, strlen(s) + 1);
	return v;
}

/* The NAME of a "KIND NAME" section (maybe empty), or NULL when section is
 * not of that kind: NAME may be quoted, as botocore's shlex reads
 * "[profile NAME]", "[sso-session NAME]" and "[services NAME]". The result
 * points into buf. */
static const char *section_name(const char *section, const char *kind,
				char *buf, size_t buflen)
{
	size_t k = strlen(kind), n;

	if (strncmp(section, kind, k) != 0 ||
	    !isspace((unsigned char)section[k]))
		return NULL;
	snprintf(buf, buflen, "%s", section + k);
	buf = lskip(buf);
	rstrip(buf);
	n = strlen(buf);
	if (n >= 2 && (buf[0] == '"' || buf[0] == '\'') &&
	    buf[n - 1] == buf[0]) {
		buf[n - 1] = '\0';
		buf++;
	}
	return buf;
}

/* The profile a config-file section names, or NULL: "[default]",
 * "[profile NAME]". The result points into buf. */
static const char *config_section_profile(const char *section, char *buf,
					  size_t buflen)
{
	const char *name;

	if (strcmp(section, "default") == 0)
		return section;
	name = section_name(section, "profile", buf, buflen);
	return name && *name ? name : NULL;
}

/* Whether section is "KIND NAME". buf is scratch. */
static bool section_is(const char *section, const char *kind, const char *name,
		       char *buf, size_t buflen)
{
	const char *got = section_name(section, kind, buf, buflen);

	return got && strcmp(got, name) == 0;
}

/* The NAME of a config-file "[services NAME]" section, or NULL. */
static const char *config_section_services(const char *section)
{
	if (strncmp(section, "services", 8) != 0 ||
	    !isspace((unsigned char)section[8]))
		return NULL;
	section = lskip((char *)section + 8);
	return *section ? section : NULL;
}

/* Called by the reader on each [section] line. */
static int enter_section(struct config_parse *ps, const char *name, size_t len)
{
	char buf[512];
	const char *prof, *svc;

	free(ps->section);
	free(ps->service_name);
	ps->service_name = NULL;
	ps->in_profile = false;
	free(ps->sub);
	ps->sub = NULL;
	ps->have_key = false;
	ps->section = strndup(name, len);
	if (!ps->section)
		return -ENOMEM;
	if (ps->file == CONFIG_FILE_CREDENTIALS) {
		ps->in_profile = strcmp(ps->section, ps->cfg->profile) == 0;
	} else {
		prof = config_section_profile(ps->section, buf, sizeof(buf));
		ps->in_profile = prof && strcmp(prof, ps->cfg->profile) == 0;
		if (ps->want_kind)
			ps->in_profile =
			    section_is(ps->section, ps->want_kind,
				       ps->want_name, buf, sizeof(buf));
		svc = config_section_services(ps->section);
		if (svc) {
			ps->service_name = strdup(svc);
			if (!ps->service_name)
				return -ENOMEM;
			rstrip(ps->service_name);
		}
	}
	if (ps->in_profile)
		ps->found = true;
	return 0;
}

/* Copies line to str when it fits, else the marker that makes inih report
 * an error on this line. */
static char *hand_line(char *str, int num, const char *line)
{
	size_t n = strlen(line);

	if (n >= (size_t)num)
		line = "\x01 line too long\n";
	snprintf(str, (size_t)num, "%s", line);
	return str;
}

/* ini_reader: reads whole lines with getline, classifies them as inih
 * will, and shortens over-long lines (see struct config_parse). */
static char *read_line(char *str, int num, void *stream)
{
	struct config_parse *ps = stream;
	char *s, *start, *sep, *end, shortline[128];
	ssize_t n;

	free(ps->long_value);
	ps->long_value = NULL;
	ps->is_cont = false;
	n = getline(&ps->line, &ps->cap, ps->fp);
	if (n < 0)
		return NULL;
	ps->lineno++;
	start = ps->line;
	if (ps->lineno == 1 && strncmp(start, "\xEF\xBB\xBF", 3) == 0)
		start += 3;
	s = lskip(start);
	if (*s == '\0' || *s == ';' || *s == '#')
		return hand_line(str, num, "\n");
	if (s > start && ps->have_key) {
		/* A continuation line (Python configparser's multi-line
		 * values), used by the nested "dynamodb =" sub-section. */
		ps->is_cont = true;
		if ((size_t)n < (size_t)num)
			return hand_line(str, num, ps->line);
		ps->long_value = clean_value(s);
		if (!ps->long_value)
			ps->nomem = true;
		return hand_line(str, num, " " CONFIG_PLACEHOLDER "\n");
	}
	if (*s == '[') {
		end = find_chars_or_comment(s + 1, "]");
		if (*end == ']' && enter_section(ps, s + 1, end - (s + 1)))
			ps->nomem = true;
		/* inih's own copy of the name is unused (it may be cut). */
		return hand_line(str, num, *end == ']' ? "[s]\n" : ps->line);
	}
	sep = find_chars_or_comment(s, "=:");
	if (*sep == '=' || *sep == ':')
		ps->have_key = true;
	if ((size_t)n < (size_t)num)
		return hand_line(str, num, ps->line);
	if ((*sep != '=' && *sep != ':') ||
	    (size_t)(sep - s) + 4 > sizeof(shortline))
		return hand_line(str, num, ps->line); /* inih reports it */
	ps->long_value = clean_value(sep + 1);
	if (!ps->long_value)
		ps->nomem = true;
	snprintf(shortline, sizeof(shortline), "%.*s=" CONFIG_PLACEHOLDER "\n",
		 (int)(sep - s), s);
	return hand_line(str, num, shortline);
}

/* Adds or extends one key of the selected profile. */
static int add_kv(struct config_parse *ps, const char *name, const char *value)
{
	struct config *cfg = ps->cfg;
	struct config_kv *kv = NULL, *grown;
	char *joined;

	for (size_t i = cfg->n_kv; i > 0; i--) {
		if (cfg->kv[i - 1].file == ps->file &&
		    strcasecmp(cfg->kv[i - 1].key, name) == 0) {
			kv = &cfg->kv[i - 1];
			break;
		}
	}
	if (kv && ps->is_cont) {
		/* configparser joins continuation lines with newlines */
		if (asprintf(&joined, "%s%s%s", kv->value,
			     *kv->value ? "\n" : "", value) < 0)
			return -ENOMEM;
		free(kv->value);
		kv->value = joined;
		return 0;
	}
	if (kv) {
		/* a repeated key: the last one wins */
		joined = strdup(value);
		if (!joined)
			return -ENOMEM;
		free(kv->value);
		kv->value = joined;
		return 0;
	}
	grown = realloc(cfg->kv, (cfg->n_kv + 1) * sizeof(*cfg->kv));
	if (!grown)
		return -ENOMEM;
	cfg->kv = grown;
	kv = &cfg->kv[cfg->n_kv];
	kv->file = ps->file;
	/* configparser lower-cases names, so "Region" works in botocore */
	kv->key = strdup(name);
	for (char *c = kv->key; c && *c; c++)
		*c = (char)tolower((unsigned char)*c);
	kv->value = strdup(value);
	if (!kv->key || !kv->value) {
		free(kv->key);
		free(kv->value);
		return -ENOMEM;
	}
	cfg->n_kv++;
	return 0;
}

/* "endpoint_url = URL" inside "SERVICE =" of [services NAME]. */
static int add_service(struct config_parse *ps, const char *line)
{
	struct config_service *grown, *svc;
	char *copy = strdup(line), *eq, *key, *val;
	int ret = 0;

	if (!copy)
		return -ENOMEM;
	eq = strchr(copy, '=');
	if (!eq)
		goto out;
	*eq = '\0';
	key = lskip(copy);
	rstrip(key);
	val = lskip(eq + 1);
	rstrip(val);
	if (strcmp(key, "endpoint_url") != 0)
		goto out;
	for (size_t i = 0; i < ps->n_services; i++) {
		if (strcmp(ps->services[i].name, ps->service_name) == 0 &&
		    strcmp(ps->services[i].service, ps->sub) == 0) {
			svc = &ps->services[i];
			free(svc->endpoint_url);
			svc->endpoint_url = strdup(val);
			ret = svc->endpoint_url ? 0 : -ENOMEM;
			goto out;
		}
	}
	grown =
	    realloc(ps->services, (ps->n_services + 1) * sizeof(*ps->services));
	if (!grown) {
		ret = -ENOMEM;
		goto out;
	}
	ps->services = grown;
	svc = &ps->services[ps->n_services];
	svc->name = strdup(ps->service_name);
	svc->service = strdup(ps->sub);
	svc->endpoint_url = strdup(val);
	if (!svc->name || !svc->service || !svc->endpoint_url) {
		free(svc->name);
		free(svc->service);
		free(svc->endpoint_url);
		ret = -ENOMEM;
		goto out;
	}
	ps->n_services++;
out:
	free(copy);
	return ret;
}

/* ini_handler: the section comes from our reader, not inih's argument. */
static int on_value(void *user, const char *section, const char *name,
		    const char *value)
{
	struct config_parse *ps = user;
	int ret = 0;

	(void)section;
	if (strcmp(value, CONFIG_PLACEHOLDER) == 0 && ps->long_value)
		value = ps->long_value;
	if (ps->in_profile) {
		ret = add_kv(ps, name, value);
	} else if (ps->service_name) {
		if (!ps->is_cont) {
			free(ps->sub);
			ps->sub = strdup(name);
			if (!ps->sub)
				ret = -ENOMEM;
			for (char *c = ps->sub; c && *c; c++)
				*c = (char)tolower((unsigned char)*c);
		} else if (ps->sub) {
			ret = add_service(ps, value);
		}
	}
	if (ret == -ENOMEM)
		ps->nomem = true;
	return 1;
}

static void parse_free(struct config_parse *ps)
{
	free(ps->line);
	free(ps->section);
	free(ps->long_value);
	free(ps->service_name);
	free(ps->sub);
	ps->line = ps->section = ps->long_value = ps->service_name = NULL;
	ps->sub = NULL;
}

static void services_free(struct config_service *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(s[i].name);
		free(s[i].service);
		free(s[i].endpoint_url);
	}
	free(s);
}

/* Parses one file into ps (a missing file is fine). Returns 0, -EINVAL
 * (unreadable or malformed; err says where), -ENOMEM. */
static int parse_file(struct config_parse *ps, char *err, size_t errlen)
{
	int line, ret = 0;

	ps->fp = fopen(ps->path, "r");
	if (!ps->fp) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		errbuf_printf(err, errlen, "cannot read %s: %s", ps->path,
			      strerror(errno));
		return -EINVAL;
	}
	line = ini_parse_stream(read_line, ps, on_value, ps);
	if (ps->nomem) {
		ret = -ENOMEM;
	} else if (ferror(ps->fp)) {
		errbuf_printf(err, errlen, "cannot read %s", ps->path);
		ret = -EINVAL;
	} else if (line > 0) {
		errbuf_printf(err, errlen,
			      "%s line %d: expected [section] or name = value",
			      ps->path, line);
		ret = -EINVAL;
	} else if (line < 0) {
		ret = -ENOMEM;
	}
	fclose(ps->fp);
	ps->fp = NULL;
	parse_free(ps);
	return ret;
}

const char *config_home_dir(void)
{
	const char *home = config_env("HOME");
	struct passwd *pw;

	if (home)
		return home;
	pw = getpwuid(getuid());
	return pw && pw->pw_dir ? pw->pw_dir : "/";
}

/* The path named by env var, with a leading "~/" expanded as botocore
 * does, else $HOME/.aws/leaf. Caller frees with free. */
static char *file_path(const char *var, const char *leaf)
{
	const char *v = config_env(var);
	char *path = NULL;
	int n;

	if (v && strncmp(v, "~/", 2) != 0)
		return strdup(v);
	if (v)
		n = asprintf(&path, "%s/%s", config_home_dir(), v + 2);
	else
		n = asprintf(&path, "%s/.aws/%s", config_home_dir(), leaf);
	return n < 0 ? NULL : path;
}

/* Checks url is http(s)://HOST[:PORT][/...] as libcurl reads it
 * (http_url_parse). Returns 0, -ENOMEM, or -EINVAL with err naming where
 * it came from. */
static int check_url(const char *url, const char *source, char *err,
		     size_t errlen)
{
	struct http_url u;
	const char *p;
	int ret;

	for (p = url; *p; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			errbuf_printf(
			    err, errlen,
			    "bad endpoint URL \"%s\" (from %s): it holds a "
			    "space or control character",
			    url, source);
			return -EINVAL;
		}
	}
	ret = http_url_parse(url, &u);
	http_url_free(&u);
	if (ret == -EPROTONOSUPPORT) {
		errbuf_printf(
		    err, errlen,
		    "bad endpoint URL \"%s\" (from %s): it must start "
		    "with http:// or https://",
		    url, source);
		return -EINVAL;
	}
	if (ret == -EINVAL)
		errbuf_printf(err, errlen,
			      "bad endpoint URL \"%s\" (from %s): expected "
			      "http(s)://HOST[:PORT]",
			      url, source);
	return ret;
}

/* Takes a copy of url without trailing slashes (DynamoDB is always
 * posted to "/", which the HTTP layer adds). Caller frees with free. */
static char *copy_url(const char *url)
{
	char *u = strdup(url);
	size_t n, min;

	if (!u)
		return NULL;
	n = strlen(u);
	min = strncasecmp(u, "https://", 8) == 0 ? 8 : 7;
	if (!strpbrk(u, "?#"))
		while (n > min + 1 && u[n - 1] == '/')
			u[--n] = '\0';
	return u;
}

/* Region names go into the default host name and the SigV4 scope. */
static int check_region(const char *region, const char *source, char *err,
			size_t errlen)
{
	size_t n = strlen(region);

	for (size_t i = 0; i < n; i++) {
		if (!isalnum((unsigned char)region[i]) && region[i] != '-')
			n = 0;
	}
	if (n == 0 || n > 64) {
		errbuf_printf(
		    err, errlen,
		    "bad region \"%s\" (from %s): expected a name such as "
		    "us-east-1",
		    region, source);
		return -EINVAL;
	}
	return 0;
}

static bool is_true(const char *v)
{
	return v && strcasecmp(v, "true") == 0;
}

/* Sets *dst and *src to copies of value and a formatted source. */
static int set_pair(char **dst, char **src, const char *value, const char *fmt,
		    ...) __attribute__((format(printf, 4, 5)));

static int set_pair(char **dst, char **src, const char *value, const char *fmt,
		    ...)
{
	va_list ap;
	int n;

	*dst = strdup(value);
	va_start(ap, fmt);
	n = vasprintf(src, fmt, ap);
	va_end(ap);
	if (n < 0)
		*src = NULL;
	return *dst && *src ? 0 : -ENOMEM;
}

bool config_ignore_endpoints(const struct config *cfg)
{
	const char *env = config_env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");

	if (env)
		return is_true(env);
	return is_true(
	    config_get(cfg, "ignore_configured_endpoint_urls", NULL));
}

const char *config_services_entry(const struct config *cfg, const char *service)
{
	const char *svc;

	if (config_ignore_endpoints(cfg))
		return NULL;
	svc = config_get(cfg, "services", NULL);
	for (size_t i = 0; svc && i < cfg->n_services; i++)
		if (strcmp(cfg->services[i].name, svc) == 0 &&
		    strcasecmp(cfg->services[i].service, service) == 0 &&
		    *cfg->services[i].endpoint_url)
			return cfg->services[i].endpoint_url;
	return NULL;
}

static int region_resolve(struct config *cfg, const char *opt,
			  const char *opt_from, bool explicit, char *err,
			  size_t errlen)
{
	enum config_file file;
	const char *v;

	if (opt && *opt)
		return set_pair(&cfg->region, &cfg->region_source, opt, "%s",
				opt_from ? opt_from : "option region=");
	v = config_env("AWS_REGION");
	if (v)
		return set_pair(&cfg->region, &cfg->region_source, v,
				"AWS_REGION");
	v = config_env("AWS_DEFAULT_REGION");
	if (v)
		return set_pair(&cfg->region, &cfg->region_source, v,
				"AWS_DEFAULT_REGION");
	v = config_get(cfg, "region", &file);
	if (v && *v)
		return set_pair(&cfg->region, &cfg->region_source, v,
				"region in profile \"%s\" in %s", cfg->profile,
				config_file_path(cfg, file));
	if (explicit)
		return set_pair(&cfg->region, &cfg->region_source, "us-east-1",
				"default us-east-1 (explicit endpoint)");
	errbuf_printf(err, errlen, "no region: set AWS_REGION or -o region=");
	return -EINVAL;
}

/* True when the file at fp holds a PEM certificate header line, as OpenSSL
 * reads a CA file: "-----BEGIN CERTIFICATE-----" (or "TRUSTED
 * CERTIFICATE", "X509 CERTIFICATE"). */
static bool holds_pem_certificate(FILE *fp)
{
	char *line = NULL;
	size_t cap = 0;
	bool found = false;

	while (!found && getline(&line, &cap, fp) > 0) {
		if (strncmp(line, "-----BEGIN ", 11) != 0)
			continue;
		found =
		    strncmp(line + 11, "CERTIFICATE-----", 16) == 0 ||
		    strncmp(line + 11, "TRUSTED CERTIFICATE-----", 24) == 0 ||
		    strncmp(line + 11, "X509 CERTIFICATE-----", 21) == 0;
	}
	free(line);
	return found;
}

/* The CA bundle: AWS_CA_BUNDLE, else the profile's ca_bundle (botocore's
 * order; no "~" expansion, as botocore). It must be a readable file with a
 * PEM certificate, checked now so that a mistake is one line at start-up
 * rather than a TLS failure at the first request; it is kept as an
 * absolute path, since the daemon works in "/" and libcurl opens it at
 * each new connection. */
static int ca_bundle_resolve(struct config *cfg, char *err, size_t errlen)
{
	enum config_file file;
	const char *path = config_env("AWS_CA_BUNDLE");
	const char *why = NULL;
	char *abs = NULL;
	struct stat st;
	FILE *fp = NULL;
	int ret;

	if (path) {
		ret = set_pair(&cfg->ca_bundle, &cfg->ca_bundle_source, path,
			       "AWS_CA_BUNDLE");
	} else {
		path = config_get(cfg, "ca_bundle", &file);
		if (!path || !*path)
			return 0;
		ret = set_pair(&cfg->ca_bundle, &cfg->ca_bundle_source, path,
			       "ca_bundle in profile \"%s\" in %s",
			       cfg->profile, config_file_path(cfg, file));
	}
	if (ret)
		return ret;
	abs = realpath(path, NULL);
	if (!abs) {
		if (errno == ENOMEM)
			return -ENOMEM;
		why = strerror(errno);
	} else if (stat(abs, &st) != 0) {
		why = strerror(errno);
	} else if (!S_ISREG(st.st_mode)) {
		why = "not a file (a PEM bundle of certificates is expected)";
	} else if (!(fp = fopen(abs, "re"))) {
		why = strerror(errno);
	} else if (!holds_pem_certificate(fp)) {
		why = ferror(fp) ? strerror(EIO)
				 : "holds no PEM certificate (\"-----BEGIN "
				   "CERTIFICATE-----\"); a DER file can be "
				   "converted with openssl x509 -inform der";
	}
	if (fp)
		fclose(fp);
	if (why) {
		errbuf_printf(err, errlen, "CA bundle %s (from %s): %s%s", path,
			      cfg->ca_bundle_source, why,
			      path[0] == '~' ? " (~ is not expanded, as in the "
					       "AWS CLI)"
					     : "");
		free(abs);
		return -EINVAL;
	}
	free(cfg->ca_bundle);
	cfg->ca_bundle = abs;
	return 0;
}

int config_resolve(const struct config_options *opts, struct config *cfg,
		   char *err, size_t errlen)
{
	static const struct config_options none;
	struct config_parse ps = {0};
	const char *v;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	errbuf_printf(err, errlen, "out of memory");
	if (!opts)
		opts = &none;
	ps.cfg = cfg;

	if (opts->profile && *opts->profile) {
		ret = set_pair(&cfg->profile, &cfg->profile_source,
			       opts->profile, "option profile=");
		cfg->profile_named = true;
	} else if (config_env("AWS_PROFILE")) {
		ret = set_pair(&cfg->profile, &cfg->profile_source,
			       config_env("AWS_PROFILE"), "AWS_PROFILE");
		cfg->profile_named = true;
	} else {
		ret = set_pair(&cfg->profile, &cfg->profile_source, "default",
			       "default");
	}
	if (ret)
		goto out;
	cfg->credentials_file =
	    file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials");
	cfg->config_file = file_path("AWS_CONFIG_FILE", "config");
	ret = -ENOMEM;
	if (!cfg->credentials_file || !cfg->config_file)
		goto out;

	ps.file = CONFIG_FILE_CREDENTIALS;
	ps.path = cfg->credentials_file;
	ret = parse_file(&ps, err, errlen);
	if (ret)
		goto out;
	ps.file = CONFIG_FILE_CONFIG;
	ps.path = cfg->config_file;
	ret = parse_file(&ps, err, errlen);
	if (ret)
		goto out;
	cfg->profile_found = ps.found;
	if (cfg->profile_named && !cfg->profile_found) {
		errbuf_printf(err, errlen,
			      "profile \"%s\" (from %s) not found in %s or %s",
			      cfg->profile, cfg->profile_source,
			      cfg->credentials_file, cfg->config_file);
		ret = -ENOENT;
		goto out;
	}

	/* kept for config_services_entry (every service's endpoint) */
	cfg->services = ps.services;
	cfg->n_services = ps.n_services;
	ps.services = NULL;
	ps.n_services = 0;
	ret = ca_bundle_resolve(cfg, err, errlen);
	if (ret)
		goto out;
	if (opts->endpoint && *opts->endpoint)
		ret = set_pair(&cfg->endpoint, &cfg->endpoint_source,
			       opts->endpoint, "%s",
			       opts->endpoint_from ? opts->endpoint_from
						   : "option endpoint=");
	else
		ret =
		    config_service_endpoint(cfg, "DynamoDB", &cfg->endpoint,
					    &cfg->endpoint_source, err, errlen);
	if (ret)
		goto out;
	if (cfg->endpoint) {
		ret =
		    check_url(cfg->endpoint, cfg->endpoint_source, err, errlen);
		if (ret)
			goto out;
	}

	ret = region_resolve(cfg, opts->region, opts->region_from,
			     cfg->endpoint != NULL, err, errlen);
	if (ret)
		goto out;
	ret = check_region(cfg->region, cfg->region_source, err, errlen);
	if (ret)
		goto out;

	if (cfg->endpoint) {
		char *u = copy_url(cfg->endpoint);

		ret = -ENOMEM;
		if (!u)
			goto out;
		free(cfg->endpoint);
		cfg->endpoint = u;
	} else {
		/* China regions live under their own domain. */
		v = strncmp(cfg->region, "cn-", 3) == 0 ? ".cn" : "";
		ret = -ENOMEM;
		if (asprintf(&cfg->endpoint,
			     "https://dynamodb.%s.amazonaws.com%s", cfg->region,
			     v) < 0) {
			cfg->endpoint = NULL;
			goto out;
		}
		if (asprintf(&cfg->endpoint_source, "default for region %s",
			     cfg->region) < 0) {
			cfg->endpoint_source = NULL;
			goto out;
		}
	}
	ret = 0;
	errbuf_printf(err, errlen, "%s", "");
out:
	parse_free(&ps);
	services_free(ps.services, ps.n_services);
	if (ret)
		config_free(cfg);
	return ret;
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	free(cfg->endpoint);
	free(cfg->endpoint_source);
	free(cfg->region);
	free(cfg->region_source);
	free(cfg->profile);
	free(cfg->profile_source);
	free(cfg->ca_bundle);
	free(cfg->ca_bundle_source);
	free(cfg->credentials_file);
	free(cfg->config_file);
	for (size_t i = 0; i < cfg->n_kv; i++) {
		free(cfg->kv[i].key);
		if (cfg->kv[i].value) {
			/* profile values include secret keys */
			explicit_bzero(cfg->kv[i].value,
				       strlen(cfg->kv[i].value));
			free(cfg->kv[i].value);
		}
	}
	free(cfg->kv);
	services_free(cfg->services, cfg->n_services);
	memset(cfg, 0, sizeof(*cfg));
}

const char *config_get(const struct config *cfg, const char *key,
		       enum config_file *file)
{
	for (int f = CONFIG_FILE_CREDENTIALS; f <= CONFIG_FILE_CONFIG; f++) {
		for (size_t i = 0; i < cfg->n_kv; i++) {
			if ((int)cfg->kv[i].file == f &&
			    strcmp(cfg->kv[i].key, key) == 0) {
				if (file)
					*file = (enum config_file)f;
				return cfg->kv[i].value;
			}
		}
	}
	return NULL;
}

const char *config_file_path(const struct config *cfg, enum config_file file)
{
	return file == CONFIG_FILE_CREDENTIALS ? cfg->credentials_file
					       : cfg->config_file;
}

void config_kv_free(struct config_kv *kv, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(kv[i].key);
		if (kv[i].value) {
			explicit_bzero(kv[i].value, strlen(kv[i].value));
			free(kv[i].value);
		}
	}
	free(kv);
}

const char *config_kv_find(const struct config_kv *kv, size_t n,
			   const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(kv[i].key, key) == 0)
			return kv[i].value;
	return NULL;
}

int config_section(const struct config *cfg, const char *kind, const char *name,
		   struct config_kv **kv, size_t *n, char *err, size_t errlen)
{
	/* A throw-away config collects the section's keys through the same
	 * reader (long lines, continuation lines) as the profile's; its
	 * profile name cannot match a section name. */
	struct config tmp = {.profile = "\n"};
	struct config_parse ps = {0};
	int ret;

	*kv = NULL;
	*n = 0;
	ps.cfg = &tmp;
	ps.file = CONFIG_FILE_CONFIG;
	ps.path = cfg->config_file;
	ps.want_kind = kind;
	ps.want_name = name;
	ret = parse_file(&ps, err, errlen);
	services_free(ps.services, ps.n_services);
	if (ret) {
		config_kv_free(tmp.kv, tmp.n_kv);
		return ret;
	}
	*kv = tmp.kv;
	*n = tmp.n_kv;
	return ps.found ? 0 : -ENOENT;
}

int config_service_endpoint(const struct config *cfg, const char *service_id,
			    char **url, char **source, char *err, size_t errlen)
{
	char var[96], key[64];
	enum config_file file;
	const char *v;
	size_t i;
	int ret;

	*url = *source = NULL;
	/* The SDKs' names: "SSO OIDC" -> AWS_ENDPOINT_URL_SSO_OIDC and the
	 * services key sso_oidc. */
	for (i = 0; service_id[i] && i < sizeof(key) - 1; i++)
		key[i] = service_id[i] == ' ' || service_id[i] == '-'
			     ? '_'
			     : (char)tolower((unsigned char)service_id[i]);
	key[i] = '\0';
	snprintf(var, sizeof(var), "AWS_ENDPOINT_URL_%s", key);
	for (char *c = var; *c; c++)
		*c = (char)toupper((unsigned char)*c);

	if (config_ignore_endpoints(cfg))
		return 0;
	if ((v = config_env(var)))
		ret = set_pair(url, source, v, "%s", var);
	else if ((v = config_env("AWS_ENDPOINT_URL")))
		ret = set_pair(url, source, v, "AWS_ENDPOINT_URL");
	else if ((v = config_services_entry(cfg, key)))
		ret = set_pair(url, source, v,
			       "endpoint_url for %s in [services %s] of "
			       "profile \"%s\" in %s",
			       key, config_get(cfg, "services", NULL),
			       cfg->profile, cfg->config_file);
	else if ((v = config_get(cfg, "endpoint_url", &file)) && *v)
		ret = set_pair(url, source, v,
			       "endpoint_url in profile \"%s\" in %s",
			       cfg->profile, config_file_path(cfg, file));
	else
		return 0;
	if (!ret)
		ret = check_url(*url, *source, err, errlen);
	if (!ret) {
		char *u = copy_url(*url);

		ret = u ? 0 : -ENOMEM;
		free(*url);
		*url = u;
	}
	if (ret) {
		free(*url);
		free(*source);
		*url = *source = NULL;
	}
	return ret;
}
