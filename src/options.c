/* options.c - the command line of SPEC §1: fuse_opt templates for the -o
 * options, the long options, SOURCE, and the checks of every value. */
#include "options.h"

#include <errno.h>
#include <fuse.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "keyname.h"
#include "log.h"

enum {
	KEY_HELP,
	KEY_VERSION,
	KEY_CHECK,
	KEY_RO,
	KEY_DEBUG,
	KEY_FOREGROUND,
	KEY_IGNORE,
	KEY_ALLOW_OTHER,
	KEY_ALLOW_ROOT,
	KEY_UID,
	KEY_GID,
	KEY_UMASK,
};

#define DFS_OPT(t, p)                                                          \
	{                                                                      \
		t, offsetof(struct dfs_opts, p), 1                             \
	}

static const struct fuse_opt dfs_opt_spec[] = {
    /* Only -o forms: fuse_opt matches "--profile %s" on any argument
     * that starts with "--profile" and keeps what follows, '=' included
     * ("--profile=dev" became the profile "=dev"), so the long options
     * are turned into these by expand_long_opts first. */
    DFS_OPT("endpoint=%s", endpoint), DFS_OPT("region=%s", region),
    DFS_OPT("profile=%s", profile), DFS_OPT("format=%s", format),
    DFS_OPT("hash_key=%s", hash_key), DFS_OPT("range_key=%s", range_key),
    DFS_OPT("cache_ttl=%s", cache_ttl), DFS_OPT("cache_size=%s", cache_size),
    DFS_OPT("tables=%s", tables), DFS_OPT("retries=%s", retries),
    DFS_OPT("timeout=%s", timeout), DFS_OPT("log=%s", log),
    DFS_OPT("conflicts=%s", conflicts),
    DFS_OPT("version_attribute=%s", version_attribute),
    DFS_OPT("consistent_read", consistent_read), FUSE_OPT_KEY("ro", KEY_RO),
    FUSE_OPT_KEY("-h", KEY_HELP), FUSE_OPT_KEY("--help", KEY_HELP),
    FUSE_OPT_KEY("-V", KEY_VERSION), FUSE_OPT_KEY("--version", KEY_VERSION),
    FUSE_OPT_KEY("--check", KEY_CHECK), FUSE_OPT_KEY("-d", KEY_DEBUG),
    FUSE_OPT_KEY("debug", KEY_DEBUG), FUSE_OPT_KEY("-f", KEY_FOREGROUND),
    /* libfuse's own, which decide who may write: seen, and kept */
    FUSE_OPT_KEY("allow_other", KEY_ALLOW_OTHER),
    FUSE_OPT_KEY("allow_root", KEY_ALLOW_ROOT), FUSE_OPT_KEY("uid=", KEY_UID),
    FUSE_OPT_KEY("gid=", KEY_GID), FUSE_OPT_KEY("umask=", KEY_UMASK),
    /* Words mount(8) and fstab pass along that mean nothing to a FUSE
     * daemon; libfuse would reject them, so they are dropped here. */
    FUSE_OPT_KEY("_netdev", KEY_IGNORE), FUSE_OPT_KEY("auto", KEY_IGNORE),
    FUSE_OPT_KEY("noauto", KEY_IGNORE), FUSE_OPT_KEY("user", KEY_IGNORE),
    FUSE_OPT_KEY("nouser", KEY_IGNORE), FUSE_OPT_KEY("users", KEY_IGNORE),
    FUSE_OPT_KEY("nofail", KEY_IGNORE), FUSE_OPT_KEY("defaults", KEY_IGNORE),
    FUSE_OPT_END};

/* Keeps a copy of the value of "name=value" in *dst (the last one wins,
 * as libfuse takes the last). Returns 1 (keep arg for libfuse) or -1. */
static int keep_value(char **dst, const char *arg)
{
	char *copy = strdup(strchr(arg, '=') + 1);

	if (!copy)
		return -1;
	free(*dst);
	*dst = copy;
	return 1;
}

static int dfs_opt_proc(void *data, const char *arg, int key,
			struct fuse_args *outargs)
{
	struct dfs_opts *o = data;

	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		if (o->n_args >= 2) {
			errbuf_printf(o->err, o->errlen,
				      "too many arguments: %s", arg);
			return -1;
		}
		o->args[o->n_args] = strdup(arg);
		if (!o->args[o->n_args])
			return -1;
		o->n_args++;
		return 0;
	case KEY_HELP:
		o->show_help = 1;
		return 0;
	case KEY_VERSION:
		o->show_version = 1;
		return 0;
	case KEY_CHECK:
		o->check = 1;
		return 0;
	case KEY_RO:
		o->ro = 1;
		return 1; /* libfuse mounts read-only too */
	case KEY_DEBUG:
		o->debug = 1;
		o->foreground = 1;
		/* -d also turns on libfuse's own request trace; -o debug does
		 * the same, so both are kept for libfuse. */
		return 1;
	case KEY_FOREGROUND:
		o->foreground = 1;
		return 1;
	case KEY_IGNORE:
		return 0;
	case KEY_ALLOW_OTHER:
	case KEY_ALLOW_ROOT:
		o->allow_others = 1;
		o->allow_others_name =
		    key == KEY_ALLOW_ROOT ? "allow_root" : "allow_other";
		return 1;
	case KEY_UID:
		return keep_value(&o->fuse_uid, arg);
	case KEY_GID:
		return keep_value(&o->fuse_gid, arg);
	case KEY_UMASK:
		return keep_value(&o->fuse_umask, arg);
	default:
		return 1;
	}
}

/* The long options: those that take a value become "-o name=VALUE" (the
 * value escaped, so a ',' or '\\' in it stays), in place, so that the last
 * of "--profile a" and "-o profile=b" wins whichever form each has. */
static const struct {
	const char *name;
	const char *opt; /* the -o option, NULL: no value */
	const char *metavar;
} long_opts[] = {
    {"endpoint-url", "endpoint", "URL"},
    {"region", "region", "NAME"},
    {"profile", "profile", "NAME"},
    {"help", NULL, NULL},
    {"version", NULL, NULL},
    {"check", NULL, NULL},
};

/* Adds "-o" and "opt=value" escaped for fuse_opt to out. */
static int add_escaped_opt(struct fuse_args *out, const char *opt,
			   const char *value)
{
	char *raw = NULL, *escaped = NULL;
	int rc = -ENOMEM;

	if (asprintf(&raw, "%s=%s", opt, value) < 0) {
		raw = NULL;
		goto out;
	}
	if (fuse_opt_add_opt_escaped(&escaped, raw) ||
	    fuse_opt_add_arg(out, "-o") || fuse_opt_add_arg(out, escaped))
		goto out;
	rc = 0;
out:
	free(raw);
	free(escaped);
	return rc;
}

/* Rewrites the long options of in into out (see long_opts). Everything
 * after "--", and the argument of -o, is copied as it is. Returns 0,
 * -EINVAL with a line in err, or -ENOMEM. */
static int expand_long_opts(const struct fuse_args *in, struct fuse_args *out,
			    char *err, size_t errlen)
{
	bool rest = false;

	for (int i = 0; i < in->argc; i++) {
		const char *arg = in->argv[i], *eq, *value;
		size_t len, k, n = sizeof(long_opts) / sizeof(long_opts[0]);

		if (i == 0 || rest || strncmp(arg, "--", 2) != 0 ||
		    arg[2] == '\0') {
			rest = rest || strcmp(arg, "--") == 0;
			if (fuse_opt_add_arg(out, arg))
				return -ENOMEM;
			if (!rest && strcmp(arg, "-o") == 0 &&
			    i + 1 < in->argc &&
			    fuse_opt_add_arg(out, in->argv[++i]))
				return -ENOMEM;
			continue;
		}
		eq = strchr(arg, '=');
		len = eq ? (size_t)(eq - (arg + 2)) : strlen(arg + 2);
		for (k = 0; k < n; k++)
			if (strlen(long_opts[k].name) == len &&
			    strncmp(long_opts[k].name, arg + 2, len) == 0)
				break;
		if (k == n) {
			errbuf_printf(err, errlen,
				      "unknown option %s (see dynamofs --help)",
				      arg);
			return -EINVAL;
		}
		if (!long_opts[k].opt) {
			if (eq) {
				errbuf_printf(err, errlen,
					      "option --%s takes no value",
					      long_opts[k].name);
				return -EINVAL;
			}
			if (fuse_opt_add_arg(out, arg))
				return -ENOMEM;
			continue;
		}
		if (eq) {
			value = eq + 1;
		} else if (i + 1 < in->argc) {
			value = in->argv[++i];
		} else {
			errbuf_printf(
			    err, errlen,
			    "option --%s needs a value: --%s %s or --%s=%s",
			    long_opts[k].name, long_opts[k].name,
			    long_opts[k].metavar, long_opts[k].name,
			    long_opts[k].metavar);
			return -EINVAL;
		}
		if (add_escaped_opt(out, long_opts[k].opt, value))
			return -ENOMEM;
	}
	return 0;
}

int options_parse(struct fuse_args *args, struct dfs_opts *o, char *err,
		  size_t errlen)
{
	struct fuse_args expanded = FUSE_ARGS_INIT(0, NULL);
	int rc;

	errbuf_printf(err, errlen, "%s", "");
	o->err = err;
	o->errlen = errlen;
	rc = expand_long_opts(args, &expanded, err, errlen);
	if (rc)
		goto out;
	fuse_opt_free_args(args);
	*args = expanded;
	expanded = (struct fuse_args)FUSE_ARGS_INIT(0, NULL);
	rc = -EINVAL;
	if (fuse_opt_parse(args, o, dfs_opt_spec, dfs_opt_proc) == -1)
		goto out;
	/* SPEC §1: with allow_other the kernel checks the modes shown
	 * (0644/0755, owned by the mounting user), so other users read but
	 * never write with the mount owner's AWS rights. */
	rc = -ENOMEM;
	if (o->allow_others && fuse_opt_add_arg(args, "-odefault_permissions"))
		goto out;
	rc = 0;
out:
	fuse_opt_free_args(&expanded);
	return rc;
}

/* Checks a "NAME[:T]" key spec (T one of S, N, B); empty when allowed. */
static bool key_spec_valid(const char *spec, bool allow_empty)
{
	struct keyname_attr attr = {0};
	int rc;

	if (!*spec)
		return allow_empty;
	rc = keyname_parse_key_spec(spec, &attr);
	keyname_attr_free(&attr);
	return rc == 0;
}

/* Reads a plain decimal number (digits, an optional fraction and an
 * optional exponent; whole: digits only) within [min, max]. strtod alone
 * also takes "nan" (which passes every "v < min || v > max"), "inf", hex,
 * signs and leading spaces. Returns 0 or -EINVAL. */
static int parse_number(const char *text, double min, double max, bool whole,
			double *out)
{
	const char *p = text;
	size_t digits = 0;
	char *end;
	double v;

	while (*p >= '0' && *p <= '9')
		p++, digits++;
	if (!whole && *p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++)
			digits++;
	}
	if (!digits)
		return -EINVAL;
	if (!whole && (*p == 'e' || *p == 'E')) {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return -EINVAL;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p)
		return -EINVAL;
	errno = 0;
	v = strtod(text, &end);
	if (errno || *end || !isfinite(v) || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* An option that names something must name it: "-o profile=" would
 * otherwise quietly mean "not given". */
static int check_not_empty(const char *name, const char *value,
			   const char *what, char *err, size_t errlen)
{
	if (value && !*value) {
		errbuf_printf(err, errlen, "bad option %s=: give %s", name,
			      what);
		return -EINVAL;
	}
	return 0;
}

/* Refuses two key specs that name the same attribute: a table cannot
 * have it as both keys, and CreateTable would fail only at mkdir. */
static int check_key_names(const struct dfs_opts *o, char *err, size_t errlen)
{
	struct keyname_attr h = {0}, r = {0};
	const char *hash = o->hash_key ? o->hash_key : "pk:S";
	const char *range = o->range_key ? o->range_key : "sk:S";
	int rc = 0;

	if (!*range)
		return 0;
	if (keyname_parse_key_spec(hash, &h) ||
	    keyname_parse_key_spec(range, &r)) {
		rc = -ENOMEM;
		goto out;
	}
	if (strcmp(h.name, r.name) != 0)
		goto out;
	rc = -EINVAL;
	if (o->range_key)
		errbuf_printf(
		    err, errlen,
		    "bad option range_key=%s: the sort key needs a name other than the partition key's (%s)",
		    o->range_key, h.name);
	else
		errbuf_printf(
		    err, errlen,
		    "bad option hash_key=%s: the partition key needs a name other than the sort key's (default sk; set range_key=)",
		    o->hash_key);
out:
	keyname_attr_free(&h);
	keyname_attr_free(&r);
	return rc;
}

/* uid=, gid=, umask= are libfuse's and rewrite the owners and modes the
 * kernel checks; with allow_other none may hand writing to other users. */
static int check_fuse_modes(const struct dfs_opts *o, char *err, size_t errlen)
{
	unsigned long umask_v = 0;
	char *end;

	if (o->fuse_umask) {
		errno = 0;
		umask_v = strtoul(o->fuse_umask, &end, 8);
		if (!*o->fuse_umask || *end || errno || umask_v > 0777 ||
		    strspn(o->fuse_umask, "01234567") !=
			strlen(o->fuse_umask)) {
			errbuf_printf(
			    err, errlen,
			    "bad option umask=%s: use an octal mask such as 022",
			    o->fuse_umask);
			return -EINVAL;
		}
	}
	if (!o->allow_others)
		return 0;
	if (o->fuse_umask && (umask_v & 022) != 022) {
		errbuf_printf(
		    err, errlen,
		    "option umask=%s with %s would let other users write with the mount owner's AWS rights: keep 022 in the mask",
		    o->fuse_umask, o->allow_others_name);
		return -EINVAL;
	}
	if (o->fuse_uid) {
		unsigned long uid;

		errno = 0;
		uid = strtoul(o->fuse_uid, &end, 10);
		if (!*o->fuse_uid || *end || errno ||
		    uid != (unsigned long)getuid()) {
			errbuf_printf(
			    err, errlen,
			    "option uid=%s with %s would let another user write with the mount owner's AWS rights",
			    o->fuse_uid, o->allow_others_name);
			return -EINVAL;
		}
	}
	return 0;
}

int options_validate(const struct dfs_opts *o, struct dfs_settings *s,
		     char *err, size_t errlen)
{
	double v;

	s->cache_ttl = 5;
	s->cache_size_mib = 64;
	s->retries = 10;
	s->timeout_ms = 30000;
	s->log_level = LOG_WARNING;

	if (check_not_empty("endpoint", o->endpoint, "an endpoint URL", err,
			    errlen) ||
	    check_not_empty("region", o->region, "a region name", err,
			    errlen) ||
	    check_not_empty("profile", o->profile, "a profile name", err,
			    errlen) ||
	    check_not_empty("tables", o->tables,
			    "one or more table names separated by ':'", err,
			    errlen))
		return -EINVAL;
	if (o->format && strcmp(o->format, "plain") != 0 &&
	    strcmp(o->format, "ddb") != 0) {
		errbuf_printf(err, errlen,
			      "bad option format=%s: use plain or ddb",
			      o->format);
		return -EINVAL;
	}
	if (o->hash_key && !key_spec_valid(o->hash_key, false)) {
		errbuf_printf(
		    err, errlen,
		    "bad option hash_key=%s: use NAME or NAME:T with T one of S, N, B",
		    o->hash_key);
		return -EINVAL;
	}
	if (o->range_key && !key_spec_valid(o->range_key, true)) {
		errbuf_printf(
		    err, errlen,
		    "bad option range_key=%s: use NAME, NAME:T with T one of S, N, B, or nothing",
		    o->range_key);
		return -EINVAL;
	}
	if (check_key_names(o, err, errlen))
		return -EINVAL;
	if (o->cache_ttl) {
		if (parse_number(o->cache_ttl, 0, 86400 * 365, false, &v)) {
			errbuf_printf(
			    err, errlen,
			    "bad option cache_ttl=%s: use a number of seconds from 0 to 31536000",
			    o->cache_ttl);
			return -EINVAL;
		}
		s->cache_ttl = v;
	}
	if (o->cache_size) {
		if (parse_number(o->cache_size, 1, 1024 * 1024, false, &v)) {
			errbuf_printf(
			    err, errlen,
			    "bad option cache_size=%s: use a number of MiB from 1 to 1048576",
			    o->cache_size);
			return -EINVAL;
		}
		s->cache_size_mib = v;
	}
	if (o->retries) {
		if (parse_number(o->retries, 0, 100, true, &v)) {
			errbuf_printf(
			    err, errlen,
			    "bad option retries=%s: use a whole number from 0 to 100",
			    o->retries);
			return -EINVAL;
		}
		s->retries = (int)v;
	}
	if (o->timeout) {
		if (parse_number(o->timeout, 0.001, 3600, false, &v)) {
			errbuf_printf(
			    err, errlen,
			    "bad option timeout=%s: use a number of seconds from 0.001 to 3600",
			    o->timeout);
			return -EINVAL;
		}
		s->timeout_ms = (long)(v * 1000);
	}
	if (o->log) {
		s->log_level = log_level_parse(o->log);
		if (s->log_level < 0) {
			errbuf_printf(
			    err, errlen,
			    "bad option log=%s: use error, warning, info or debug",
			    o->log);
			return -EINVAL;
		}
	}
	if (o->debug)
		s->log_level = LOG_DEBUG;
	if (o->conflicts && strcmp(o->conflicts, "check") != 0 &&
	    strcmp(o->conflicts, "overwrite") != 0) {
		errbuf_printf(err, errlen,
			      "bad option conflicts=%s: use check or overwrite",
			      o->conflicts);
		return -EINVAL;
	}
	s->conflicts_overwrite =
	    o->conflicts && strcmp(o->conflicts, "overwrite") == 0;
	if (o->version_attribute &&
	    (!o->version_attribute[0] || strlen(o->version_attribute) > 255)) {
		errbuf_printf(
		    err, errlen,
		    "bad option version_attribute=%s: use an attribute name of 1 to 255 bytes",
		    o->version_attribute);
		return -EINVAL;
	}
	/* A strongly consistent read served from memory would not be one:
	 * unless the user asked for a cache time, consistent_read keeps none.
	 */
	if (o->consistent_read && !o->cache_ttl)
		s->cache_ttl = 0;
	if (o->tables) {
		const char *p = o->tables;

		/* Every name between the colons, the first and the last
		 * included: "a:" is not a list of one. */
		for (;;) {
			size_t len = strcspn(p, ":");
			char name[256] = "";
			if (len < sizeof(name))
				memcpy(name, p, len);
			if (len >= sizeof(name) ||
			    !keyname_table_name_valid(name)) {
				errbuf_printf(
				    err, errlen,
				    "bad option tables=%s: table names are 3-255 characters of a-z A-Z 0-9 _ . -, separated by ':'",
				    o->tables);
				return -EINVAL;
			}
			p += len;
			if (*p != ':')
				break;
			p++;
		}
	}
	return check_fuse_modes(o, err, errlen);
}

/* SOURCE is the option name= unless that is given too: then they must
 * agree, or the mount would name (mount, df, fstab) one endpoint or region
 * and talk to another. */
static int fold_source(char **opt, const char **from, const char *name,
		       const char *source, char *err, size_t errlen)
{
	if (*opt) {
		if (strcmp(*opt, source) == 0)
			return 0;
		errbuf_printf(err, errlen,
			      "SOURCE %s and %s=%s disagree: give one of them",
			      source, name, *opt);
		return -EINVAL;
	}
	*opt = strdup(source);
	if (!*opt)
		return -ENOMEM;
	*from = SOURCE_ARGUMENT;
	return 0;
}

int options_apply_source(struct dfs_opts *o, const char **mountpoint, char *err,
			 size_t errlen)
{
	const char *source = NULL;

	*mountpoint = NULL;
	if (o->check) {
		if (o->n_args > 1) {
			errbuf_printf(err, errlen,
				      "--check takes no mount point");
			return -EINVAL;
		}
		source = o->n_args ? o->args[0] : NULL;
	} else if (o->n_args == 2) {
		source = o->args[0];
		*mountpoint = o->args[1];
	} else if (o->n_args == 1) {
		*mountpoint = o->args[0];
	}
	if (!source || strcmp(source, "dynamodb") == 0)
		return 0;
	if (strstr(source, "://"))
		return fold_source(&o->endpoint, &o->endpoint_from, "endpoint",
				   source, err, errlen);
	for (const char *p = source; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '-')) {
			errbuf_printf(
			    err, errlen,
			    "bad SOURCE \"%s\": use an endpoint URL, a region name or \"dynamodb\"",
			    source);
			return -EINVAL;
		}
	}
	return fold_source(&o->region, &o->region_from, "region", source, err,
			   errlen);
}

void options_free(struct dfs_opts *o)
{
	char **strs[] = {&o->endpoint,	&o->region,
			 &o->profile,	&o->format,
			 &o->hash_key,	&o->range_key,
			 &o->cache_ttl, &o->cache_size,
			 &o->tables,	&o->retries,
			 &o->timeout,	&o->log,
			 &o->conflicts, &o->version_attribute,
			 &o->fuse_uid,	&o->fuse_gid,
			 &o->fuse_umask};

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		free(*strs[i]);
	for (int i = 0; i < o->n_args; i++)
		free(o->args[i]);
	memset(o, 0, sizeof(*o));
}
