/* options.h - the command line of SPEC §1: long options, -o options, SOURCE
 * and MOUNTPOINT, every value checked before anything is resolved or mounted.
 */
#ifndef DYNAMOFS_OPTIONS_H
#define DYNAMOFS_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>

struct fuse_args;

/* Everything the command line can say, as given (NULL: not given). */
struct dfs_opts {
	char *endpoint;
	char *region;
	char *profile;
	char *format;
	char *hash_key;
	char *range_key;
	char *cache_ttl;
	char *cache_size;
	char *tables;
	char *retries;
	char *timeout;
	char *log;
	char *conflicts;
	char *version_attribute;
	int ro;
	int consistent_read;
	int check;
	int show_help;
	int show_version;
	int debug;
	int foreground;
	/* allow_other or allow_root: default_permissions must come too */
	int allow_others;
	const char *allow_others_name; /* which of the two, for messages */
	/* libfuse's uid=, gid=, umask= as given (the last of each) */
	char *fuse_uid;
	char *fuse_gid;
	char *fuse_umask;
	/* positional arguments: [SOURCE] MOUNTPOINT */
	char *args[3];
	int n_args;
	/* set by options_apply_source when SOURCE gave endpoint or region
	 * (SOURCE_ARGUMENT), for --check; NULL when an option did */
	const char *endpoint_from;
	const char *region_from;
	/* where the parse callback writes its one-line error */
	char *err;
	size_t errlen;
};

/* Validated, typed settings derived from dfs_opts. */
struct dfs_settings {
	double cache_ttl;
	double cache_size_mib;
	int retries;
	long timeout_ms;
	int log_level;
	bool conflicts_overwrite; /* conflicts=overwrite */
};

/* Parses args (argv as given to main) into o. The long options
 * --endpoint-url, --region and --profile are taken as "--opt VALUE" and
 * "--opt=VALUE"; --help, --version and --check take no value; any other
 * "--word" before a "--" is refused. What libfuse reads (-f, -d, its -o
 * options) stays in args. Returns 0, -EINVAL with a one-line reason in err
 * (empty when libfuse printed its own), or -ENOMEM. o must start zeroed;
 * free it with options_free whatever the result. */
int options_parse(struct fuse_args *args, struct dfs_opts *o, char *err,
		  size_t errlen);

/* Checks every value of o and fills s. Returns 0 or -EINVAL with one line
 * naming the option and what it takes in err. */
int options_validate(const struct dfs_opts *o, struct dfs_settings *s,
		     char *err, size_t errlen);

/* How --check names a setting that SOURCE gave. */
#define SOURCE_ARGUMENT "SOURCE argument"

/* Splits the positional arguments into SOURCE and *mountpoint (NULL when
 * none; borrowed from o) and folds SOURCE into o->endpoint or o->region,
 * setting o->endpoint_from or o->region_from to SOURCE_ARGUMENT when the
 * option itself was not given.
 * A SOURCE that disagrees with endpoint= or region= is refused. Returns 0,
 * -EINVAL with one line in err, or -ENOMEM. */
int options_apply_source(struct dfs_opts *o, const char **mountpoint, char *err,
			 size_t errlen);

/* Frees what options_parse allocated in o and zeroes it. */
void options_free(struct dfs_opts *o);

#endif
