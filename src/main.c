/* main.c - dynamofs entry point: parses the command line with fuse_opt,
 * resolves settings and credentials, checks DynamoDB answers, and mounts. */
#include <curl/curl.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <malloc.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "creds.h"
#include "ddb.h"
#include "fs.h"
#include "fuseio.h"
#include "http.h"
#include "log.h"
#include "options.h"

static void usage(const char *prog)
{
	printf(
	    "usage: %s [SOURCE] MOUNTPOINT [-f] [-d] [-o OPT[,OPT...]]\n"
	    "       %s --check [SOURCE] [-o OPT[,OPT...]]\n"
	    "\n"
	    "Shows Amazon DynamoDB tables as directories and items as JSON files.\n"
	    "SOURCE is an endpoint URL, a region name, or the word \"dynamodb\".\n"
	    "\n"
	    "dynamofs options:\n"
	    "    -o endpoint=URL        DynamoDB endpoint (also --endpoint-url URL)\n"
	    "    -o region=NAME         AWS region (also --region NAME)\n"
	    "    -o profile=NAME        profile in ~/.aws/credentials and ~/.aws/config (also --profile NAME)\n"
	    "    -o ro                  read-only mount: every write fails with EROFS\n"
	    "    -o format=plain|ddb    item files as plain JSON (default) or DynamoDB JSON\n"
	    "    -o hash_key=NAME[:T]   partition key plain mkdir gives a new table (default pk:S)\n"
	    "    -o range_key=NAME[:T]  sort key plain mkdir gives a new table (default sk:S; empty for none)\n"
	    "    -o cache_ttl=SECONDS   how long listings and items are cached (default 5)\n"
	    "    -o cache_size=MIB      cache size bound in MiB (default 64)\n"
	    "    -o consistent_read     every read is strongly consistent\n"
	    "    -o tables=A:B:C        show only these tables\n"
	    "    -o retries=N           retries of a failed request (default 10)\n"
	    "    -o timeout=SECONDS     time-out of one request (default 30)\n"
	    "    -o log=LEVEL           error, warning (default), info or debug\n"
	    "    -o conflicts=check|overwrite  a save over an item another client changed\n"
	    "                           since the writer read it fails with ESTALE (check,\n"
	    "                           the default) or overwrites it\n"
	    "    -o version_attribute=NAME  a number attribute every write increments and\n"
	    "                           is conditional on (optimistic locking)\n"
	    "    --check                resolve settings and credentials, call ListTables, report, exit\n"
	    "    -f                     stay in the foreground, log to stderr\n"
	    "    -d                     debug: foreground, log every request (-o log=debug)\n"
	    "    -h, --help             print this help and exit\n"
	    "    -V, --version          print the version and exit\n"
	    "    (long options also take their value after '=': --profile=NAME)\n"
	    "    -o allow_other         let other local users read (never write): brings\n"
	    "                           default_permissions, which makes the kernel check\n"
	    "                           the modes shown (0644/0755, owned by the mounting user)\n"
	    "    -o _netdev,auto,noauto,user,nofail  fstab words, accepted and ignored\n"
	    "\n"
	    "FUSE options:\n",
	    prog, prog);
	fflush(stdout);
}

/* The start-up state a mount and --check share. */
struct dfs_client {
	struct config cfg;
	struct http_client *http;
	struct creds_provider *creds;
	struct ddb_client *ddb;
};

static void client_free(struct dfs_client *c)
{
	ddb_client_free(c->ddb);
	creds_provider_free(c->creds);
	http_client_free(c->http);
	config_free(&c->cfg);
	memset(c, 0, sizeof(*c));
}

/* The credential chain's MFA prompt (a role with mfa_serial): asked on the
 * controlling terminal, /dev/tty, as the AWS CLI asks, before the daemon
 * detaches; never on stdout or stderr, so a script that captures them is
 * not disturbed. A process without a terminal (setsid, systemd, a mount
 * from fstab) gets -ENXIO at once. The code is good for seconds only, so
 * it is echoed as typed; it is never logged or printed. */
static int tty_mfa_code(void *ctx, const char *serial, char *code, size_t len,
			char *err, size_t errlen)
{
	size_t n = 0, start = 0;
	ssize_t r;
	char ch;
	int fd, ret = 0;

	(void)ctx;
	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return -ENXIO;
	if (dprintf(fd, "Enter MFA code for %s: ", serial) < 0) {
		ret = -errno;
		snprintf(err, errlen, "writing to /dev/tty: %s",
			 strerror(-ret));
		goto out;
	}
	/* one line; what does not fit is read and dropped */
	for (;;) {
		r = read(fd, &ch, 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || ch == '\n')
			break;
		if (n + 1 < len)
			code[n++] = ch;
	}
	if (r < 0) {
		ret = -errno;
		snprintf(err, errlen, "reading /dev/tty: %s", strerror(-ret));
	} else if (r == 0 && write(fd, "\n", 1) < 0) {
		/* end of input (Ctrl-D) ends the prompt's line; a terminal
		 * that cannot take it does not matter */
	}
	while (n && isspace((unsigned char)code[n - 1]))
		n--;
	while (start < n && isspace((unsigned char)code[start]))
		start++;
	memmove(code, code + start, n - start);
	n -= start;
	code[n] = '\0';
	if (!ret && !n)
		ret = -ECANCELED;
out:
	close(fd);
	if (ret)
		explicit_bzero(code, len);
	return ret;
}

/* Resolves settings and credentials, builds the client. On failure prints
 * one line naming the problem and returns -errno. */
static int client_open(const struct dfs_opts *o, const struct dfs_settings *s,
		       int retries, struct dfs_client *c)
{
	struct config_options copts = {
	    .endpoint = o->endpoint,
	    .region = o->region,
	    .profile = o->profile,
	    .endpoint_from = o->endpoint_from,
	    .region_from = o->region_from,
	};
	struct ddb_config dcfg = {0};
	const struct creds_prompt prompt = {.mfa_code = tty_mfa_code};
	char err[512] = "";
	int rc, tty;

	memset(c, 0, sizeof(*c));
	rc = config_resolve(&copts, &c->cfg, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "dynamofs: %s\n", err[0] ? err : strerror(-rc));
		goto out;
	}
	c->http = http_client_new(s->timeout_ms < 10000 ? s->timeout_ms : 10000,
				  s->timeout_ms);
	if (!c->http) {
		rc = -errno;
		fprintf(stderr, "dynamofs: %s\n", strerror(errno));
		goto out;
	}
	/* Every request trusts the bundle: DynamoDB, STS, SSO, and the
	 * container and instance metadata endpoints. */
	rc = http_client_set_ca_bundle(c->http, c->cfg.ca_bundle);
	if (rc) {
		fprintf(stderr, "dynamofs: %s\n", strerror(-rc));
		goto out;
	}
	/* Without a terminal the chain is told so up front, so a role with
	 * mfa_serial fails before its source sends a request that leads
	 * nowhere. */
	tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (tty >= 0)
		close(tty);
	rc = creds_provider_new(&c->cfg, c->http, tty >= 0 ? &prompt : NULL,
				&c->creds, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "dynamofs: %s\n", err[0] ? err : strerror(-rc));
		goto out;
	}
	dcfg.endpoint = c->cfg.endpoint;
	dcfg.region = c->cfg.region;
	dcfg.creds = c->creds;
	dcfg.http = c->http;
	dcfg.retries = retries;
	dcfg.timeout_ms = s->timeout_ms;
	c->ddb = ddb_client_new(&dcfg);
	if (!c->ddb) {
		rc = -errno;
		fprintf(stderr, "dynamofs: %s\n", strerror(errno));
		goto out;
	}
out:
	if (rc)
		client_free(c);
	return rc;
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 +
	       (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Calls ListTables once and turns a failure into one line a user can act
 * on. Returns 0 or -errno; *n_tables gets the first page's table count. */
static int probe_dynamodb(struct dfs_client *c, int saved_level,
			  size_t *n_tables)
{
	struct ddb_error derr = {0};
	json_t *resp = NULL;
	char buf[768];
	int rc;

	/* The one line below says what went wrong; the client's own warning
	 * would say it twice (it still shows with -d). */
	if (!log_enabled(LOG_DEBUG))
		log_setup(LOG_ERR, false);
	rc = ddb_list_tables_page(c->ddb, NULL, 100, &resp, &derr);
	if (!log_enabled(LOG_DEBUG))
		log_setup(saved_level, false);
	if (rc == 0) {
		*n_tables =
		    json_array_size(json_object_get(resp, "TableNames"));
		json_decref(resp);
		return 0;
	}
	ddb_strerror(&derr, buf, sizeof(buf));
	if (rc == -EACCES)
		fprintf(stderr,
			"dynamofs: %s rejected the credentials from %s: %s\n",
			c->cfg.endpoint, creds_provider_source(c->creds), buf);
	else if (derr.http_status == 0)
		fprintf(stderr, "dynamofs: cannot reach %s: %s\n",
			c->cfg.endpoint, buf);
	else
		fprintf(stderr,
			"dynamofs: %s answered ListTables with an error: %s\n",
			c->cfg.endpoint, buf);
	return rc;
}

/* --check: what a user runs when a mount fails. Prints where each setting
 * came from (never a secret) and whether DynamoDB answered. */
static int run_check(const struct dfs_opts *o, const struct dfs_settings *s)
{
	struct dfs_client c;
	struct timespec t0;
	size_t n = 0;
	int rc;

	/* A start-up check should fail fast, not sit through ten back-offs. */
	rc = client_open(o, s, s->retries < 2 ? s->retries : 2, &c);
	if (rc)
		return 1;
	printf("endpoint:    %s (%s)\n", c.cfg.endpoint, c.cfg.endpoint_source);
	printf("region:      %s (%s)\n", c.cfg.region, c.cfg.region_source);
	printf("profile:     %s (%s%s)\n", c.cfg.profile, c.cfg.profile_source,
	       c.cfg.profile_found ? "" : ", not in the config files");
	if (c.cfg.ca_bundle)
		printf("ca_bundle:   %s (%s)\n", c.cfg.ca_bundle,
		       c.cfg.ca_bundle_source);
	printf("credentials: %s\n", creds_provider_source(c.creds));
	fflush(stdout);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = probe_dynamodb(&c, s->log_level, &n);
	if (rc == 0)
		printf("ListTables:  OK, %zu table%s%s (%ld ms)\n", n,
		       n == 1 ? "" : "s", n >= 100 ? " or more" : "",
		       elapsed_ms(&t0));
	client_free(&c);
	return rc ? 1 : 0;
}

/* libfuse's own messages go through our log function. libfuse may build
 * one line from several calls, so pieces are gathered up to the newline. */
static void fuse_log_to_log(enum fuse_log_level level, const char *fmt,
			    va_list ap)
{
	static __thread char line[1024];
	static __thread size_t used;
	char *nl;

	vsnprintf(line + used, sizeof(line) - used, fmt, ap);
	used = strlen(line);
	while ((nl = strchr(line, '\n')) != NULL) {
		*nl = '\0';
		if (line[0])
			log_msg((int)level, "%s", line);
		memmove(line, nl + 1, strlen(nl + 1) + 1);
	}
	used = strlen(line);
	if (used >= sizeof(line) - 1) {
		log_msg((int)level, "%s", line);
		line[0] = '\0';
		used = 0;
	}
}

/* Checks DynamoDB answers with these settings, mounts, and serves until
 * unmounted (fusermount3 -u, umount) or signalled (SIGTERM, SIGINT, SIGHUP).
 * Either way the requests being served finish first: libfuse joins its
 * workers, which cannot be cancelled inside a request, before the loop
 * returns, so a write whose close or rename was accepted is stored. Returns
 * the exit status: 0 after an unmount or one of those signals, 1 when the
 * mount could not start or the loop failed. */
static int run_mount(const struct dfs_opts *o, const struct dfs_settings *s,
		     struct fuse_args *args,
		     const struct fuse_cmdline_opts *cmdline,
		     const char *mountpoint)
{
	struct fuse_loop_config loop = {.clone_fd = 0, .max_idle_threads = 16};
	struct fs_settings fss = {0};
	struct ddb_config dcfg = {0};
	struct ddb_client *ddb = NULL;
	struct fuse *fuse = NULL;
	struct fs *fs = NULL;
	struct dfs_client c = {0};
	char *mnt = NULL;
	char *raw = NULL;
	char *fsname = NULL;
	bool mounted = false;
	bool signals = false;
	size_t n = 0;
	int status = 1;
	int rc;

	/* A daemon works in "/" (fuse_daemonize), so the unmount at exit
	 * needs the absolute path; a relative one would leave a dead mount. */
	mnt = realpath(mountpoint, NULL);
	if (!mnt) {
		fprintf(stderr, "dynamofs: bad mount point %s: %s\n",
			mountpoint, strerror(errno));
		return 1;
	}
	/* The same start-up check as --check: a mount that cannot work fails
	 * now with one line, before anything is mounted. */
	if (client_open(o, s, s->retries < 2 ? s->retries : 2, &c))
		goto out;
	if (probe_dynamodb(&c, s->log_level, &n))
		goto out;
	dcfg.endpoint = c.cfg.endpoint;
	dcfg.region = c.cfg.region;
	dcfg.creds = c.creds;
	dcfg.http = c.http;
	dcfg.retries = s->retries;
	dcfg.timeout_ms = s->timeout_ms;
	ddb = ddb_client_new(&dcfg);
	if (!ddb) {
		fprintf(stderr, "dynamofs: %s\n", strerror(errno));
		goto out;
	}
	fss.ddb = ddb;
	fss.format = o->format && strcmp(o->format, "ddb") == 0 ? CODEC_DDB
								: CODEC_PLAIN;
	fss.cache_ttl = s->cache_ttl;
	fss.cache_bytes = (size_t)(s->cache_size_mib * 1024 * 1024);
	fss.consistent_read = o->consistent_read;
	fss.read_only = o->ro;
	fss.conflicts_overwrite = s->conflicts_overwrite;
	fss.version_attribute = o->version_attribute;
	fss.tables = o->tables;
	fss.hash_key = o->hash_key ? o->hash_key : "pk:S";
	fss.range_key = o->range_key ? o->range_key : "sk:S";
	fss.uid = getuid();
	fss.gid = getgid();
	fs = fs_new(&fss);
	if (!fs) {
		fprintf(stderr, "dynamofs: %s\n", strerror(errno));
		goto out;
	}
	/* The mount's source (mount, df, findmnt) is SOURCE as given, else
	 * the endpoint; mount -a compares it with fstab's to know the line is
	 * mounted. Inserted first, so a -o fsname= of the user's wins. */
	if (asprintf(&raw, "fsname=%s",
		     o->n_args == 2 ? o->args[0] : c.cfg.endpoint) < 0) {
		raw = NULL;
		fprintf(stderr, "dynamofs: %s\n", strerror(ENOMEM));
		goto out;
	}
	if (fuse_opt_add_opt_escaped(&fsname, raw) ||
	    fuse_opt_insert_arg(args, 1, "-o") ||
	    fuse_opt_insert_arg(args, 2, fsname)) {
		fprintf(stderr, "dynamofs: %s\n", strerror(ENOMEM));
		goto out;
	}
	fuse = fuse_new(args, fs_operations(), sizeof(*fs_operations()), fs);
	if (!fuse)
		goto out;
	/* Handlers before the mount: a SIGTERM that comes as soon as the
	 * mount shows (before the loop runs) still unmounts cleanly, and
	 * fork in fuse_daemonize keeps them. */
	if (fuse_set_signal_handlers(fuse_get_session(fuse)) != 0)
		goto out;
	signals = true;
	if (fuse_mount(fuse, mnt) != 0)
		goto out;
	mounted = true;
	if (fuseio_install(fuse_get_session(fuse)) != 0)
		log_msg(LOG_WARNING,
			"lookups in one directory will be serialized");
	if (fuse_daemonize(cmdline->foreground) != 0)
		goto out;
	/* From here on a daemon has no terminal (fuse_daemonize pointed
	 * stdin, stdout and stderr at /dev/null): log to syslog. */
	log_setup(s->log_level, !cmdline->foreground);
	log_msg(LOG_INFO, "mounted %s on %s", c.cfg.endpoint, mnt);
	if (cmdline->singlethread)
		rc = fuse_loop(fuse);
	else
		rc = fuse_loop_mt(fuse, &loop);
	/* 0: unmounted; > 0: the signal that stopped the loop, an orderly
	 * stop as well; < 0: the loop failed. */
	if (rc < 0) {
		log_msg(LOG_ERR, "serving %s stopped: %s", mnt, strerror(-rc));
		goto out;
	}
	if (rc > 0)
		log_msg(LOG_INFO, "signal %d: unmounting %s", rc, mnt);
	else
		log_msg(LOG_INFO, "%s was unmounted", mnt);
	status = 0;
out:
	if (signals)
		fuse_remove_signal_handlers(fuse_get_session(fuse));
	if (mounted)
		fuse_unmount(fuse);
	if (fuse)
		fuse_destroy(fuse);
	fs_free(fs);
	ddb_client_free(ddb);
	client_free(&c);
	free(raw);
	free(fsname);
	free(mnt);
	return status;
}

/* Builds (and drops) a FUSE instance from args, which makes libfuse check
 * every option it owns; an unknown one gets its one-line error. Returns 0 or
 * -EINVAL. */
static int check_fuse_opts(struct fuse_args *args)
{
	static const struct fuse_operations no_ops;
	struct fuse_args copy = FUSE_ARGS_INIT(0, NULL);
	struct fuse *fuse;
	int rc = 0;

	for (int i = 0; i < args->argc; i++) {
		if (fuse_opt_add_arg(&copy, args->argv[i]))
			return -ENOMEM;
	}
	fuse = fuse_new(&copy, &no_ops, sizeof(no_ops), NULL);
	if (!fuse)
		rc = -EINVAL;
	else
		fuse_destroy(fuse);
	fuse_opt_free_args(&copy);
	return rc;
}

/* One malloc arena for the whole daemon (unless MALLOC_ARENA_MAX or
 * GLIBC_TUNABLES says otherwise). glibc gives each thread that meets lock
 * contention an arena of its own, up to 8 per core, and memory freed in an
 * arena stays resident there: each FUSE worker or Scan segment that parsed a
 * 1 MB Scan/Query page (a jansson tree of ~30 MB) kept ~38 MB, so the peak
 * was the sum of those arenas instead of one page at a time (workload 7 of
 * bench/: VmHWM 195 -> 85 MiB on DynamoDB Local, 155 -> 93 MiB on
 * dynalite). Each thread's tcache still serves most small allocations
 * without the arena's lock. */
static void malloc_setup(void)
{
	const char *tunables = getenv("GLIBC_TUNABLES");

	if (getenv("MALLOC_ARENA_MAX") ||
	    (tunables && strstr(tunables, "glibc.malloc.arena_max")))
		return;
	mallopt(M_ARENA_MAX, 1);
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct dfs_opts opts = {0};
	struct fuse_cmdline_opts cmdline = {0};
	struct dfs_settings settings;
	const char *mountpoint;
	char err[512];
	int status = 1;

	malloc_setup();
	if (options_parse(&args, &opts, err, sizeof(err))) {
		if (err[0])
			fprintf(stderr, "dynamofs: %s\n", err);
		goto out;
	}
	if (opts.show_version) {
		printf("dynamofs %s (libfuse %s, %s)\n", DYNAMOFS_VERSION,
		       fuse_pkgversion(), curl_version());
		status = 0;
		goto out;
	}
	if (opts.show_help) {
		usage(argv[0]);
		fuse_cmdline_help();
		fuse_lib_help(&args);
		status = 0;
		goto out;
	}
	if (options_validate(&opts, &settings, err, sizeof(err)) ||
	    options_apply_source(&opts, &mountpoint, err, sizeof(err))) {
		fprintf(stderr, "dynamofs: %s\n",
			err[0] ? err : strerror(ENOMEM));
		goto out;
	}
	log_setup(settings.log_level, false);
	fuse_set_log_func(fuse_log_to_log);
	if (http_global_init()) {
		fprintf(stderr, "dynamofs: cannot initialise libcurl\n");
		goto out;
	}
	if (fuse_parse_cmdline(&args, &cmdline) != 0)
		goto out_http;
	/* Let libfuse reject unknown options now, before any request. */
	if (check_fuse_opts(&args))
		goto out_http;
	if (opts.check) {
		status = run_check(&opts, &settings);
		goto out_http;
	}
	if (!mountpoint) {
		fprintf(
		    stderr,
		    "dynamofs: no mount point given (see dynamofs --help)\n");
		goto out_http;
	}
	status = run_mount(&opts, &settings, &args, &cmdline, mountpoint);
out_http:
	http_global_cleanup();
	free(cmdline.mountpoint);
out:
	options_free(&opts);
	fuse_opt_free_args(&args);
	return status;
}
