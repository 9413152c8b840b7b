/* options.c - the command line of SPEC §1: fuse_opt templates for the -o
 * options, the long options, SOURCE, and the checks of every value. */
#include "options.h"

#include <errno.h>
#include <fuse.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
};

#define DFS_OPT(t, p) { t, offsetof(struct dfs_opts, p), 1 }

static const struct fuse_opt dfs_opt_spec[] = {
	DFS_OPT("endpoint=%s", endpoint),
	DFS_OPT("--endpoint-url=%s", endpoint),
	DFS_OPT("--endpoint-url %s", endpoint),
	DFS_OPT("region=%s", region),
	DFS_OPT("--region=%s", region),
	DFS_OPT("--region %s", region),
	DFS_OPT("profile=%s", profile),
	DFS_OPT("--profile=%s", profile),
	DFS_OPT("--profile %s", profile),
	DFS_OPT("format=%s", format),
	DFS_OPT("hash_key=%s", hash_key),
	DFS_OPT("range_key=%s", range_key),
	DFS_OPT("cache_ttl=%s", cache_ttl),
	DFS_OPT("cache_size=%s", cache_size),
	DFS_OPT("tables=%s", tables),
	DFS_OPT("retries=%s", retries),
	DFS_OPT("timeout=%s", timeout),
	DFS_OPT("log=%s", log),
	DFS_OPT("consistent_read", consistent_read),
	FUSE_OPT_KEY("ro", KEY_RO),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_KEY("--check", KEY_CHECK),
	FUSE_OPT_KEY("-d", KEY_DEBUG),
	FUSE_OPT_KEY("debug", KEY_DEBUG),
	FUSE_OPT_KEY("-f", KEY_FOREGROUND),
	/* Words mount(8) and fstab pass along that mean nothing to a FUSE
	 * daemon; libfuse would reject them, so they are dropped here. */
	FUSE_OPT_KEY("_netdev", KEY_IGNORE),
	FUSE_OPT_KEY("auto", KEY_IGNORE),
	FUSE_OPT_KEY("noauto", KEY_IGNORE),
	FUSE_OPT_KEY("user", KEY_IGNORE),
	FUSE_OPT_KEY("nouser", KEY_IGNORE),
	FUSE_OPT_KEY("users", KEY_IGNORE),
	FUSE_OPT_KEY("nofail", KEY_IGNORE),
	FUSE_OPT_KEY("defaults", KEY_IGNORE),
	FUSE_OPT_END
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int dfs_opt_proc(void *data, const char *arg, int key,
			struct fuse_args *outargs)
{
	struct dfs_opts *o = data;

	switch (key) {
	case FUSE_OPT_KEY_NONOPT:
		if (o->n_args >= 2) {
			set_err(o->err, o->errlen, "too many arguments: %s",
				arg);
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
	default:
		return 1;
	}
}

int options_parse(struct fuse_args *args, struct dfs_opts *o, char *err,
		  size_t errlen)
{
	set_err(err, errlen, "%s", "");
	o->err = err;
	o->errlen = errlen;
	if (fuse_opt_parse(args, o, dfs_opt_spec, dfs_opt_proc) == -1)
		return -EINVAL;
	return 0;
}

/* Checks a "NAME[:T]" key spec (T one of S, N, B); empty when allowed. */
static bool key_spec_valid(const char *spec, bool allow_empty)
{
	struct keyname_attr attr = { 0 };
	int rc;

	if (!*spec)
		return allow_empty;
	rc = keyname_parse_key_spec(spec, &attr);
	keyname_attr_free(&attr);
	return rc == 0;
}

static int parse_number(const char *text, double min, double max, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(text, &end);
	if (errno || end == text || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
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

	if (o->format && strcmp(o->format, "plain") != 0 &&
	    strcmp(o->format, "ddb") != 0) {
		set_err(err, errlen, "bad option format=%s: use plain or ddb",
			o->format);
		return -EINVAL;
	}
	if (o->hash_key && !key_spec_valid(o->hash_key, false)) {
		set_err(err, errlen, "bad option hash_key=%s: use NAME or NAME:T with T one of S, N, B",
			o->hash_key);
		return -EINVAL;
	}
	if (o->range_key && !key_spec_valid(o->range_key, true)) {
		set_err(err, errlen, "bad option range_key=%s: use NAME, NAME:T with T one of S, N, B, or nothing",
			o->range_key);
		return -EINVAL;
	}
	if (o->cache_ttl) {
		if (parse_number(o->cache_ttl, 0, 86400 * 365, &v)) {
			set_err(err, errlen, "bad option cache_ttl=%s: use a number of seconds >= 0",
				o->cache_ttl);
			return -EINVAL;
		}
		s->cache_ttl = v;
	}
	if (o->cache_size) {
		if (parse_number(o->cache_size, 1, 1024 * 1024, &v)) {
			set_err(err, errlen, "bad option cache_size=%s: use a number of MiB >= 1",
				o->cache_size);
			return -EINVAL;
		}
		s->cache_size_mib = v;
	}
	if (o->retries) {
		if (parse_number(o->retries, 0, 100, &v) || v != (int)v) {
			set_err(err, errlen, "bad option retries=%s: use a whole number from 0 to 100",
				o->retries);
			return -EINVAL;
		}
		s->retries = (int)v;
	}
	if (o->timeout) {
		if (parse_number(o->timeout, 0.001, 3600, &v)) {
			set_err(err, errlen, "bad option timeout=%s: use a number of seconds > 0",
				o->timeout);
			return -EINVAL;
		}
		s->timeout_ms = (long)(v * 1000);
	}
	if (o->log) {
		s->log_level = log_level_parse(o->log);
		if (s->log_level < 0) {
			set_err(err, errlen, "bad option log=%s: use error, warning, info or debug",
				o->log);
			return -EINVAL;
		}
	}
	if (o->debug)
		s->log_level = LOG_DEBUG;
	/* A strongly consistent read served from memory would not be one:
	 * unless the user asked for a cache time, consistent_read keeps none. */
	if (o->consistent_read && !o->cache_ttl)
		s->cache_ttl = 0;
	if (o->tables) {
		const char *p = o->tables;
		while (*p) {
			size_t len = strcspn(p, ":");
			char name[256] = "";
			if (len < sizeof(name))
				memcpy(name, p, len);
			if (len >= sizeof(name) || !keyname_table_name_valid(name)) {
				set_err(err, errlen, "bad option tables=%s: table names are 3-255 characters of a-z A-Z 0-9 _ . -, separated by ':'",
					o->tables);
				return -EINVAL;
			}
			p += len;
			if (*p == ':')
				p++;
		}
	}
	return 0;
}

int options_apply_source(struct dfs_opts *o, const char **mountpoint,
			 char *err, size_t errlen)
{
	const char *source = NULL;

	*mountpoint = NULL;
	if (o->check) {
		if (o->n_args > 1) {
			set_err(err, errlen, "--check takes no mount point");
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
	if (strstr(source, "://")) {
		if (!o->endpoint) {
			o->endpoint = strdup(source);
			if (!o->endpoint)
				return -ENOMEM;
		}
		return 0;
	}
	for (const char *p = source; *p; p++) {
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '-')) {
			set_err(err, errlen, "bad SOURCE \"%s\": use an endpoint URL, a region name or \"dynamodb\"",
				source);
			return -EINVAL;
		}
	}
	if (!o->region) {
		o->region = strdup(source);
		if (!o->region)
			return -ENOMEM;
	}
	return 0;
}

void options_free(struct dfs_opts *o)
{
	char **strs[] = { &o->endpoint, &o->region,   &o->profile,
			  &o->format,	&o->hash_key, &o->range_key,
			  &o->cache_ttl, &o->cache_size, &o->tables,
			  &o->retries,	&o->timeout,  &o->log,
			  &o->fuse_uid, &o->fuse_gid, &o->fuse_umask };

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		free(*strs[i]);
	for (int i = 0; i < o->n_args; i++)
		free(o->args[i]);
	memset(o, 0, sizeof(*o));
}
