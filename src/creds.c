/* creds.c - the AWS credential chain of SPEC §2 (environment, assume role,
 * web identity, SSO, profile, credential_process, container, IMDSv2) and its
 * refresh before expiry. */
#include "creds.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "monotime.h"
#include "sso.h"
#include "sts.h"

/* Refresh this long before expiry, as botocore's advisory refresh does. */
#define CREDS_REFRESH_AHEAD 300
/* After a failed refresh, wait this long before trying again, so an
 * unreachable source is not hit by every request. */
#define CREDS_RETRY_AFTER 30
/* credential_process may prompt a browser-based login; give it time. */
#define CREDS_PROCESS_TIMEOUT_MS 60000L
/* Bounds on what a process or endpoint may send back. */
#define CREDS_MAX_OUTPUT      (1024 * 1024)
#define CREDS_MAX_STDERR      4096
#define CREDS_CONTAINER_HOST  "http://169.254.170.2"
#define CREDS_IMDS_DEFAULT    "http://169.254.169.254"
#define CREDS_IMDS_DEFAULT_V6 "http://[fd00:ec2::254]"
#define CREDS_IMDS_ROLE_PATH  "/latest/meta-data/iam/security-credentials/"

enum creds_kind {
	CREDS_STATIC,	    /* environment or profile keys: never refreshed */
	CREDS_PROCESS,	    /* credential_process */
	CREDS_CONTAINER,    /* ECS / EKS container endpoint */
	CREDS_IMDS,	    /* EC2 instance metadata */
	CREDS_ROLE,	    /* STS AssumeRole with the credentials of src */
	CREDS_WEB_IDENTITY, /* STS AssumeRoleWithWebIdentity */
	CREDS_SSO,	    /* IAM Identity Center: cached token, portal */
};

/* A web identity token file is a JWT of a few KiB; refuse anything huge. */
#define CREDS_MAX_WEB_TOKEN (1024 * 1024)

struct creds_provider {
	pthread_mutex_t lock;
	pthread_cond_t refreshed;
	bool refreshing;     /* a thread is fetching without the lock */
	unsigned generation; /* counts finished refreshes */
	bool expiry_logged;  /* CREDS_STATIC: their expiry was logged */
	time_t next_attempt; /* no refresh before this after a failure */
	struct creds cur;
	enum creds_kind kind;
	char *source;
	char *command; /* CREDS_PROCESS */
	char *url;     /* CREDS_CONTAINER */
	char *token;   /* CREDS_CONTAINER: AWS_CONTAINER_AUTHORIZATION_TOKEN */
	char *token_file; /* ..._TOKEN_FILE, read at each fetch (it rotates) */
	char *imds_base;  /* CREDS_IMDS */
	char *role;	  /* CREDS_IMDS: found at the first fetch */
	struct http_client *http;
	/* CREDS_ROLE and CREDS_WEB_IDENTITY */
	struct creds_provider *src; /* CREDS_ROLE: the source credentials */
	char *role_arn;
	char *session_name; /* fixed at start, as botocore does */
	char *external_id;  /* NULL: none */
	int duration;	    /* 0: STS's default */
	char *sts_url;
	char *sts_region;      /* the signing region */
	char *web_token_file;  /* CREDS_WEB_IDENTITY: re-read at each fetch */
	struct sso_config sso; /* CREDS_SSO: the token cache is re-read at
				* each fetch (aws sso login rewrites it) */
	/* CREDS_ROLE with mfa_serial: the code is asked for once, through
	 * prompt, while the chain is built; a refresh cannot ask again */
	char *mfa_serial;
	struct creds_prompt prompt; /* set only inside creds_provider_new */
};

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void creds_clear(struct creds *c)
{
	if (!c)
		return;
	free(c->access_key_id);
	wipe_free(c->secret_access_key);
	wipe_free(c->session_token);
	memset(c, 0, sizeof(*c));
}

/* Fills *c with copies. Returns 0 or -ENOMEM (then *c is cleared). */
static int creds_set(struct creds *c, const char *akid, const char *secret,
		     const char *token, time_t expiration)
{
	memset(c, 0, sizeof(*c));
	c->access_key_id = strdup(akid);
	c->secret_access_key = strdup(secret);
	c->session_token = token && *token ? strdup(token) : NULL;
	c->expiration = expiration;
	if (!c->access_key_id || !c->secret_access_key ||
	    (token && *token && !c->session_token)) {
		creds_clear(c);
		return -ENOMEM;
	}
	return 0;
}

int creds_parse_time(const char *s, time_t *out)
{
	static const char digit_at[] = "dddd-dd-dd?dd:dd:dd";
	static const int mdays[] = {31, 29, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, sec, n = 0;
	long off = 0;
	struct tm tm = {0};
	char t;
	time_t v;

	if (!s)
		return -EINVAL;
	/* sscanf's %d alone would take " 1", "+1" and "-1" for two digits */
	for (int i = 0; i < 19; i++)
		if (digit_at[i] == 'd' ? !isdigit((unsigned char)s[i])
				       : s[i] == '\0')
			return -EINVAL;
	if (sscanf(s, "%4d-%2d-%2d%c%2d:%2d:%2d%n", &y, &mo, &d, &t, &h, &mi,
		   &sec, &n) != 7 ||
	    n != 19 || (t != 'T' && t != 't' && t != ' '))
		return -EINVAL;
	s += n;
	if (*s == '.') {
		if (!isdigit((unsigned char)s[1]))
			return -EINVAL;
		for (s++; isdigit((unsigned char)*s); s++)
			;
	}
	if (*s == 'Z' || *s == 'z') {
		s++;
	} else if (*s == '+' || *s == '-') {
		/* "+HH:MM" or "+HHMM": local time = UTC + offset */
		int sign = *s == '+' ? 1 : -1, oh, om;
		size_t len = strlen(s);

		for (size_t i = 1; i < len; i++)
			if (!isdigit((unsigned char)s[i]) &&
			    !(i == 3 && len == 6))
				return -EINVAL;
		if (!((len == 6 && s[3] == ':' &&
		       sscanf(s + 1, "%2d:%2d", &oh, &om) == 2) ||
		      (len == 5 && sscanf(s + 1, "%2d%2d", &oh, &om) == 2)))
			return -EINVAL;
		if (oh > 23 || om > 59)
			return -EINVAL;
		off = sign * (oh * 3600L + om * 60L);
		s += len;
	}
	if (*s)
		return -EINVAL;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] ||
	    h > 23 || mi > 59 || sec > 60)
		return -EINVAL;
	/* timegm would turn Feb 29 of a common year into Mar 1 */
	if (mo == 2 && d == 29 && (y % 4 || (y % 100 == 0 && y % 400)))
		return -EINVAL;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	v = timegm(&tm);
	if (v == (time_t)-1)
		return -EINVAL;
	*out = v - off;
	return 0;
}

/* err never quotes the body: it holds the secret. */
int creds_parse_json(const char *body, size_t len, const char *what,
		     const char *token_key, bool want_version,
		     struct creds *out, char *err, size_t errlen)
{
	const char *akid, *secret, *token, *exp;
	json_error_t jerr;
	json_t *root, *v;
	time_t expiration = 0;
	int ret = -EINVAL;

	memset(out, 0, sizeof(*out));
	root = json_loadb(body, len, 0, &jerr);
	if (!root || !json_is_object(root)) {
		if (root)
			errbuf_printf(err, errlen,
				      "%s: output is not a JSON object", what);
		else
			errbuf_printf(
			    err, errlen,
			    "%s: output is not JSON (line %d, column %d)", what,
			    jerr.line, jerr.column);
		goto out;
	}
	if (want_version) {
		v = json_object_get(root, "Version");
		if (!json_is_integer(v) || json_integer_value(v) != 1) {
			errbuf_printf(err, errlen,
				      "%s: output needs \"Version\": 1", what);
			goto out;
		}
	}
	akid = json_string_value(json_object_get(root, "AccessKeyId"));
	secret = json_string_value(json_object_get(root, "SecretAccessKey"));
	token = json_string_value(json_object_get(root, token_key));
	exp = json_string_value(json_object_get(root, "Expiration"));
	if (!akid || !*akid || !secret || !*secret) {
		errbuf_printf(
		    err, errlen, "%s: output lacks a string \"%s\"", what,
		    !akid || !*akid ? "AccessKeyId" : "SecretAccessKey");
		goto out;
	}
	if (exp && creds_parse_time(exp, &expiration)) {
		errbuf_printf(err, errlen, "%s: bad \"Expiration\": \"%.40s\"",
			      what, exp);
		goto out;
	}
	ret = creds_set(out, akid, secret, token, expiration);
out:
	json_decref(root);
	return ret;
}

/* A growing buffer for a child's output. */
struct outbuf {
	char *data;
	size_t len, cap, max;
	bool over;
};

static int outbuf_read(int fd, struct outbuf *b)
{
	char chunk[4096];
	ssize_t n = read(fd, chunk, sizeof(chunk));

	if (n < 0)
		return errno == EINTR || errno == EAGAIN ? 1 : -errno;
	if (n == 0)
		return 0;
	if (b->len + (size_t)n > b->max) {
		/* keep what fits; the rest is read and dropped */
		b->over = true;
		n = (ssize_t)(b->max - b->len);
		if (n == 0)
			return 1;
	}
	if (b->len + (size_t)n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 8192;
		char *grown;

		while (cap < b->len + (size_t)n + 1)
			cap *= 2;
		grown = malloc(cap);
		if (!grown)
			return -ENOMEM;
		/* copy, not realloc, so the old bytes can be wiped */
		if (b->data) {
			memcpy(grown, b->data, b->len);
			explicit_bzero(b->data, b->cap);
			free(b->data);
		}
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, chunk, (size_t)n);
	b->len += (size_t)n;
	b->data[b->len] = '\0';
	explicit_bzero(chunk, sizeof(chunk));
	return 1;
}

/* Reads both pipes to their end or the deadline. Returns 0, -ETIMEDOUT,
 * -ENOMEM or another -errno. */
static int read_child(int out_fd, int err_fd, struct outbuf *o,
		      struct outbuf *e, long timeout_ms)
{
	long deadline = monotime_ms() + timeout_ms;
	struct pollfd fds[2] = {{out_fd, POLLIN, 0}, {err_fd, POLLIN, 0}};
	struct outbuf *bufs[2] = {o, e};
	int open_fds = 2, r;

	while (open_fds) {
		long left = deadline - monotime_ms();

		if (left <= 0)
			return -ETIMEDOUT;
		r = poll(fds, 2, (int)left);
		if (r < 0 && errno != EINTR)
			return -errno;
		for (int i = 0; r > 0 && i < 2; i++) {
			if (fds[i].fd < 0 || !fds[i].revents)
				continue;
			r = outbuf_read(fds[i].fd, bufs[i]);
			if (r < 0)
				return r;
			/* too much stdout: the caller kills the child */
			if (bufs[i] == o && o->over)
				return -EFBIG;
			if (r == 0) {
				fds[i].fd = -1;
				open_fds--;
			}
			r = 1;
		}
	}
	return 0;
}

/* The first line of a child's stderr, for the error message. */
static void first_line(const struct outbuf *e, char *line, size_t len)
{
	const char *s = e->data ? e->data : "";
	size_t n;

	while (*s == '\n' || *s == '\r')
		s++;
	n = strcspn(s, "\r\n");
	snprintf(line, len, "%.*s", (int)n, s);
	for (char *p = line; *p; p++)
		if ((unsigned char)*p < ' ')
			*p = ' ';
}

int creds_process_run(const char *command, long timeout_ms, struct creds *out,
		      char *err, size_t errlen)
{
	int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
	char *argv[] = {"sh", "-c", (char *)command, NULL};
	struct outbuf o = {.max = CREDS_MAX_OUTPUT};
	struct outbuf e = {.max = CREDS_MAX_STDERR};
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	bool fa_ok = false, attr_ok = false;
	sigset_t none, defaults;
	pid_t pid = -1;
	int status = 0, ret;
	char line[512];

	memset(out, 0, sizeof(*out));
	/* O_CLOEXEC: children spawned by other threads must not inherit
	 * our pipe ends, or our reads would never see end-of-file. */
	if (pipe2(out_pipe, O_CLOEXEC) || pipe2(err_pipe, O_CLOEXEC)) {
		ret = -errno;
		errbuf_printf(err, errlen, "credential_process: pipe: %s",
			      strerror(-ret));
		ret = ret == -ENOMEM ? -ENOMEM : -EIO;
		goto out;
	}
	ret = posix_spawn_file_actions_init(&fa);
	if (ret)
		goto spawn_failed;
	fa_ok = true;
	ret =
	    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (!ret)
		ret = posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
	if (!ret)
		ret = posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);
	if (ret)
		goto spawn_failed;
	ret = posix_spawnattr_init(&attr);
	if (ret)
		goto spawn_failed;
	attr_ok = true;
	/* Its own process group, so a time-out kills what the shell
	 * started too; default signals, since FUSE ignores SIGPIPE and an
	 * ignored signal would stay ignored across exec. */
	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE);
	sigaddset(&defaults, SIGINT);
	sigaddset(&defaults, SIGTERM);
	sigaddset(&defaults, SIGHUP);
	ret = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP |
						  POSIX_SPAWN_SETSIGMASK |
						  POSIX_SPAWN_SETSIGDEF);
	if (!ret)
		ret = posix_spawnattr_setpgroup(&attr, 0);
	if (!ret)
		ret = posix_spawnattr_setsigmask(&attr, &none);
	if (!ret)
		ret = posix_spawnattr_setsigdefault(&attr, &defaults);
	if (!ret)
		ret = posix_spawn(&pid, "/bin/sh", &fa, &attr, argv, environ);
	if (ret) {
		pid = -1;
		goto spawn_failed;
	}
	close(out_pipe[1]);
	close(err_pipe[1]);
	out_pipe[1] = err_pipe[1] = -1;

	ret = read_child(out_pipe[0], err_pipe[0], &o, &e, timeout_ms);
	if (ret) {
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	pid = -1;
	if (ret == -ETIMEDOUT) {
		errbuf_printf(
		    err, errlen,
		    "credential_process timed out after %ld s (killed)",
		    timeout_ms / 1000);
		ret = -EIO;
		goto out;
	}
	if (ret == -EFBIG) {
		errbuf_printf(err, errlen,
			      "credential_process: output larger than %d bytes",
			      CREDS_MAX_OUTPUT);
		ret = -EINVAL;
		goto out;
	}
	if (ret) {
		errbuf_printf(err, errlen,
			      "credential_process: reading output: %s",
			      strerror(-ret));
		ret = ret == -ENOMEM ? -ENOMEM : -EIO;
		goto out;
	}
	first_line(&e, line, sizeof(line));
	if (WIFSIGNALED(status)) {
		errbuf_printf(err, errlen,
			      "credential_process was killed by signal %d%s%s",
			      WTERMSIG(status), *line ? ": " : "", line);
		ret = -EIO;
		goto out;
	}
	if (WEXITSTATUS(status) != 0) {
		errbuf_printf(err, errlen,
			      "credential_process exited with status %d%s%s",
			      WEXITSTATUS(status), *line ? ": " : "",
			      *line ? line : " (no message on stderr)");
		ret = -EIO;
		goto out;
	}
	ret =
	    creds_parse_json(o.data ? o.data : "", o.len, "credential_process",
			     "SessionToken", true, out, err, errlen);
	goto out;

spawn_failed:
	errbuf_printf(err, errlen,
		      "credential_process: cannot start /bin/sh: %s",
		      strerror(ret));
	ret = ret == ENOMEM ? -ENOMEM : -EIO;
out:
	if (pid > 0) {
		kill(-pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	for (int i = 0; i < 2; i++) {
		if (out_pipe[i] >= 0)
			close(out_pipe[i]);
		if (err_pipe[i] >= 0)
			close(err_pipe[i]);
	}
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (attr_ok)
		posix_spawnattr_destroy(&attr);
	if (o.data) {
		explicit_bzero(o.data, o.cap);
		free(o.data);
	}
	free(e.data);
	return ret;
}

/* Whether host (of an http:// URL, from http_url_parse) is one botocore
 * lets container credentials come from over plain HTTP. */
static bool container_host_allowed(const char *host)
{
	static const char *const allowed[] = {
	    "localhost",      "[::1]",		"169.254.170.2",
	    "169.254.170.23", "[fd00:ec2::23]",
	};
	size_t i, len = strlen(host);

	for (i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++)
		if (strcasecmp(host, allowed[i]) == 0)
			return true;
	/* 127.0.0.0/8 */
	if (len < 9 || strncmp(host, "127.", 4) != 0)
		return false;
	for (i = 4; i < len; i++)
		if (!isdigit((unsigned char)host[i]) && host[i] != '.')
			return false;
	return true;
}

int creds_container_url(const char *relative_uri, const char *full_uri,
			char **url, char *err, size_t errlen)
{
	struct http_url u;
	int ret;

	*url = NULL;
	if (relative_uri && *relative_uri) {
		if (asprintf(url, "%s%s%s", CREDS_CONTAINER_HOST,
			     *relative_uri == '/' ? "" : "/",
			     relative_uri) < 0) {
			*url = NULL;
			return -ENOMEM;
		}
		return 0;
	}
	if (!full_uri || !*full_uri)
		return -ENOENT;
	ret = http_url_parse(full_uri, &u);
	if (ret == -ENOMEM)
		return ret;
	if (ret) {
		errbuf_printf(
		    err, errlen,
		    "AWS_CONTAINER_CREDENTIALS_FULL_URI \"%s\" is not an "
		    "http(s) URL",
		    full_uri);
		return -EINVAL;
	}
	if (!u.https && !container_host_allowed(u.host)) {
		errbuf_printf(
		    err, errlen,
		    "AWS_CONTAINER_CREDENTIALS_FULL_URI \"%s\": plain http "
		    "is allowed only to a loopback address or the "
		    "container credentials host; use https",
		    full_uri);
		http_url_free(&u);
		return -EINVAL;
	}
	http_url_free(&u);
	*url = strdup(full_uri);
	return *url ? 0 : -ENOMEM;
}

/* Reads the container authorization token (file first, as botocore).
 * Sets *token (caller frees with wipe_free). */
static int container_token(const struct creds_provider *p, char **token,
			   char *err, size_t errlen)
{
	FILE *fp;
	char *t = NULL;
	size_t len = 0, n;

	*token = NULL;
	if (p->token_file) {
		fp = fopen(p->token_file, "r");
		if (!fp) {
			errbuf_printf(
			    err, errlen,
			    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: %s",
			    p->token_file, strerror(errno));
			return -EIO;
		}
		t = calloc(1, 16385);
		if (!t) {
			fclose(fp);
			return -ENOMEM;
		}
		len = fread(t, 1, 16384, fp);
		fclose(fp);
		/* a file written by echo ends in a newline: not part of it */
		while (len && (t[len - 1] == '\n' || t[len - 1] == '\r'))
			t[--len] = '\0';
	} else if (p->token) {
		t = strdup(p->token);
		if (!t)
			return -ENOMEM;
		len = strlen(t);
	}
	if (!t)
		return 0;
	n = strcspn(t, "\r\n");
	if (n != len || strlen(t) != len) {
		wipe_free(t);
		errbuf_printf(
		    err, errlen,
		    "the container authorization token holds a line break "
		    "or NUL: not a legal header value");
		return -EINVAL;
	}
	*token = t;
	return 0;
}

/* Wipes and frees a response whose body may hold credentials. */
static void response_wipe(struct http_response *r)
{
	if (r->body)
		explicit_bzero(r->body, r->body_len);
	http_response_free(r);
}

static int fetch_container(struct creds_provider *p, struct creds *out,
			   char *err, size_t errlen)
{
	struct http_header headers[2] = {{"Accept", "application/json"}};
	struct http_request req = {
	    .method = "GET",
	    .url = p->url,
	    .headers = headers,
	    .n_headers = 1,
	    .connect_timeout_ms = 2000,
	    .timeout_ms = 5000,
	};
	struct http_response resp = {0};
	char *token = NULL;
	int ret;

	if (!p->http) {
		errbuf_printf(err, errlen,
			      "container credentials: no HTTP client");
		return -EINVAL;
	}
	ret = container_token(p, &token, err, errlen);
	if (ret)
		return ret;
	if (token) {
		headers[1] = (struct http_header){"Authorization", token};
		req.n_headers = 2;
	}
	/* three tries, as botocore, for a container agent still starting */
	for (int attempt = 0; attempt < 3; attempt++) {
		response_wipe(&resp);
		ret = http_request(p->http, &req, &resp);
		if (ret == -ENOMEM)
			goto out;
		if (!ret && resp.status < 500)
			break;
	}
	if (ret) {
		errbuf_printf(err, errlen,
			      "container credentials endpoint %s: %s", p->url,
			      http_strerror(ret));
		ret = -EIO;
		goto out;
	}
	if (resp.status != 200) {
		errbuf_printf(
		    err, errlen,
		    "container credentials endpoint %s answered HTTP %ld",
		    p->url, resp.status);
		ret = -EIO;
		goto out;
	}
	ret = creds_parse_json(resp.body, resp.body_len,
			       "container credentials endpoint", "Token", false,
			       out, err, errlen);
out:
	response_wipe(&resp);
	wipe_free(token);
	return ret;
}

/* One IMDS request with the 1 s time-outs. Returns http_request's code. */
static int imds_call(struct creds_provider *p, const char *method,
		     const char *path, const struct http_header *h,
		     struct http_response *resp)
{
	struct http_request req = {
	    .method = method,
	    .headers = h,
	    .n_headers = 1,
	    .connect_timeout_ms = 1000,
	    .timeout_ms = 1000,
	};
	char *url = NULL;
	int ret;

	if (asprintf(&url, "%s%s", p->imds_base, path) < 0)
		return -ENOMEM;
	req.url = url;
	ret = http_request(p->http, &req, resp);
	free(url);
	return ret;
}

/* IMDSv2. Returns 0; -ENOENT when there is no instance metadata or no
 * role (not on EC2: the chain goes on); -EIO, -EINVAL, -ENOMEM. */
static int fetch_imds(struct creds_provider *p, struct creds *out, char *err,
		      size_t errlen)
{
	struct http_header h = {"x-aws-ec2-metadata-token-ttl-seconds",
				"21600"};
	struct http_response resp = {0};
	char *token = NULL, *path = NULL, *role = NULL;
	const char *code;
	json_t *root;
	int ret;

	if (!p->http) {
		errbuf_printf(err, errlen, "no HTTP client");
		return -ENOENT;
	}
	ret = imds_call(p, "PUT", "/latest/api/token", &h, &resp);
	if (ret == -ENOMEM)
		goto out;
	if (ret || resp.status != 200 || !resp.body_len ||
	    strcspn(resp.body, "\r\n") != resp.body_len) {
		if (ret)
			errbuf_printf(err, errlen, "%s: %s", p->imds_base,
				      http_strerror(ret));
		else
			errbuf_printf(err, errlen,
				      "%s: token request answered HTTP %ld",
				      p->imds_base, resp.status);
		ret = -ENOENT;
		goto out;
	}
	token = strdup(resp.body);
	response_wipe(&resp);
	if (!token) {
		ret = -ENOMEM;
		goto out;
	}
	h = (struct http_header){"x-aws-ec2-metadata-token", token};

	if (!p->role) {
		ret = imds_call(p, "GET", CREDS_IMDS_ROLE_PATH, &h, &resp);
		if (ret == -ENOMEM)
			goto out;
		if (ret || resp.status != 200) {
			if (ret)
				errbuf_printf(err, errlen, "%s",
					      http_strerror(ret));
			else
				errbuf_printf(err, errlen,
					      "no IAM role (HTTP %ld)",
					      resp.status);
			ret = resp.status == 404 ? -ENOENT : -EIO;
			goto out;
		}
		role = strndup(resp.body, strcspn(resp.body, "\r\n"));
		if (!role) {
			ret = -ENOMEM;
			goto out;
		}
		if (!*role || strchr(role, '/')) {
			errbuf_printf(err, errlen, "no IAM role name");
			ret = -ENOENT;
			goto out;
		}
		response_wipe(&resp);
	}
	if (asprintf(&path, "%s%s", CREDS_IMDS_ROLE_PATH,
		     p->role ? p->role : role) < 0) {
		path = NULL;
		ret = -ENOMEM;
		goto out;
	}
	ret = imds_call(p, "GET", path, &h, &resp);
	if (ret == -ENOMEM)
		goto out;
	if (ret || resp.status != 200) {
		if (ret)
			errbuf_printf(err, errlen, "%s", http_strerror(ret));
		else
			errbuf_printf(
			    err, errlen,
			    "credentials of role %s answered HTTP %ld",
			    p->role ? p->role : role, resp.status);
		ret = -EIO;
		goto out;
	}
	root = json_loadb(resp.body, resp.body_len, 0, NULL);
	code = json_string_value(json_object_get(root, "Code"));
	if (code && strcmp(code, "Success") != 0) {
		errbuf_printf(err, errlen, "credentials of role %s: Code %.60s",
			      p->role ? p->role : role, code);
		json_decref(root);
		ret = -EIO;
		goto out;
	}
	json_decref(root);
	ret = creds_parse_json(resp.body, resp.body_len, "role credentials",
			       "Token", false, out, err, errlen);
	if (!ret && !p->role) {
		p->role = role;
		role = NULL;
	}
out:
	response_wipe(&resp);
	wipe_free(token);
	free(path);
	free(role);
	return ret;
}

/* The first provider from p down its sources whose credentials were got
 * with an MFA code, or NULL. */
static const struct creds_provider *mfa_step(const struct creds_provider *p)
{
	for (; p; p = p->src)
		if (p->mfa_serial)
			return p;
	return NULL;
}

/* AssumeRole signed with the source's current credentials, which are
 * renewed first when they near expiry (so a chain of roles renews from its
 * root, as botocore's refreshable source credentials do). mfa_code is the
 * code the user just entered for p->mfa_serial; NULL on a refresh, which
 * for such a role is refused without a request: no one is there to enter
 * a new code, and STS would only refuse a request without one. */
static int fetch_role_mfa(struct creds_provider *p, time_t now,
			  const char *mfa_code, struct creds *out, char *err,
			  size_t errlen)
{
	struct sts_assume_role req = {
	    .role_arn = p->role_arn,
	    .session_name = p->session_name,
	    .external_id = p->external_id,
	    .duration_seconds = p->duration,
	    .mfa_serial = mfa_code ? p->mfa_serial : NULL,
	    .mfa_code = mfa_code,
	};
	const struct creds_provider *m;
	struct sigv4_credentials sc;
	struct creds src = {0};
	int ret;

	memset(out, 0, sizeof(*out));
	if (p->mfa_serial && !mfa_code) {
		errbuf_printf(
		    err, errlen,
		    "role %s needs an MFA code (mfa_serial %s); remount "
		    "from a terminal to enter a new one",
		    p->role_arn, p->mfa_serial);
		return -EACCES;
	}
	ret = creds_provider_get(p->src, now, &src);
	if (ret == -EACCES) {
		m = mfa_step(p->src);
		if (m)
			errbuf_printf(
			    err, errlen,
			    "the source credentials of role %s have "
			    "expired and cannot be renewed: role %s needs "
			    "an MFA code (mfa_serial %s); remount from a "
			    "terminal to enter a new one",
			    p->role_arn, m->role_arn, m->mfa_serial);
		else
			errbuf_printf(
			    err, errlen,
			    "the source credentials of role %s (%s) have "
			    "expired and could not be renewed",
			    p->role_arn, p->src->source);
		goto out;
	}
	if (ret)
		goto out;
	sc = (struct sigv4_credentials){
	    src.access_key_id, src.secret_access_key, src.session_token};
	/* signed at the wall clock: now only decides about expiry */
	ret = sts_assume_role(p->http, p->sts_url, p->sts_region, &sc, &req,
			      time(NULL), out, err, errlen);
out:
	creds_clear(&src);
	return ret;
}

/* A refresh: with no code, which an MFA role refuses. */
static int fetch_role(struct creds_provider *p, time_t now, struct creds *out,
		      char *err, size_t errlen)
{
	return fetch_role_mfa(p, now, NULL, out, err, errlen);
}

/* Reads the whole web identity token file (botocore sends it as it is).
 * Sets *token (caller frees with wipe_free). Returns 0, -EIO, -EINVAL
 * (empty or huge), -ENOMEM. */
static int read_web_token(const char *path, char **token, char *err,
			  size_t errlen)
{
	struct outbuf b = {.max = CREDS_MAX_WEB_TOKEN};
	int fd, ret;

	*token = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		errbuf_printf(err, errlen,
			      "cannot read web identity token file %s: %s",
			      path, strerror(errno));
		return -EIO;
	}
	while ((ret = outbuf_read(fd, &b)) > 0 && !b.over)
		;
	close(fd);
	if (ret < 0 && ret != -ENOMEM) {
		errbuf_printf(err, errlen,
			      "cannot read web identity token file %s: %s",
			      path, strerror(-ret));
		ret = -EIO;
	} else if (ret >= 0 && (b.over || !b.len)) {
		errbuf_printf(err, errlen, "web identity token file %s is %s",
			      path, b.over ? "larger than 1 MiB" : "empty");
		ret = -EINVAL;
	}
	if (ret) {
		if (b.data)
			explicit_bzero(b.data, b.cap);
		free(b.data);
		return ret;
	}
	*token = b.data;
	return 0;
}

/* AssumeRoleWithWebIdentity with the token file as it is now: Kubernetes
 * rotates it, so it is read again at every fetch. */
static int fetch_web_identity(struct creds_provider *p, struct creds *out,
			      char *err, size_t errlen)
{
	char *token = NULL;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = read_web_token(p->web_token_file, &token, err, errlen);
	if (ret)
		return ret;
	ret = sts_assume_role_with_web_identity(
	    p->http, p->sts_url, p->role_arn, p->session_name, token,
	    p->duration, time(NULL), out, err, errlen);
	wipe_free(token);
	return ret;
}

/* Re-runs the source of p. Called without the lock held. */
static int fetch(struct creds_provider *p, time_t now, struct creds *out,
		 char *err, size_t errlen)
{
	switch (p->kind) {
	case CREDS_ROLE:
		return fetch_role(p, now, out, err, errlen);
	case CREDS_WEB_IDENTITY:
		return fetch_web_identity(p, out, err, errlen);
	case CREDS_PROCESS:
		return creds_process_run(p->command, CREDS_PROCESS_TIMEOUT_MS,
					 out, err, errlen);
	case CREDS_CONTAINER:
		return fetch_container(p, out, err, errlen);
	case CREDS_IMDS:
		return fetch_imds(p, out, err, errlen);
	case CREDS_SSO:
		return sso_fetch(&p->sso, p->http, now, out, err, errlen);
	case CREDS_STATIC:
		break;
	}
	errbuf_printf(err, errlen, "static credentials cannot be refreshed");
	return -EINVAL;
}

/* The value of key in one of the profile's files (not merged). */
static const char *profile_get(const struct config *cfg, const char *key,
			       enum config_file file)
{
	for (size_t i = 0; i < cfg->n_kv; i++)
		if (cfg->kv[i].file == file &&
		    strcmp(cfg->kv[i].key, key) == 0 && *cfg->kv[i].value)
			return cfg->kv[i].value;
	return NULL;
}

/* Keys of the profile in one file. Returns 0 (set), 1 (none there),
 * -EINVAL (half a pair), -ENOMEM. */
static int profile_keys(struct creds_provider *p, const struct config *cfg,
			enum config_file file, char *err, size_t errlen)
{
	const char *akid = profile_get(cfg, "aws_access_key_id", file);
	const char *secret = profile_get(cfg, "aws_secret_access_key", file);
	const char *token = profile_get(cfg, "aws_session_token", file);
	const char *path = config_file_path(cfg, file);

	if (!token)
		token = profile_get(cfg, "aws_security_token", file);
	if (!akid && !secret)
		return 1;
	if (!akid || !secret) {
		errbuf_printf(
		    err, errlen, "profile \"%s\" in %s has %s but no %s",
		    cfg->profile, path,
		    akid ? "aws_access_key_id" : "aws_secret_access_key",
		    akid ? "aws_secret_access_key" : "aws_access_key_id");
		return -EINVAL;
	}
	p->kind = CREDS_STATIC;
	if (asprintf(&p->source, "profile \"%s\" in %s", cfg->profile, path) <
	    0) {
		p->source = NULL;
		return -ENOMEM;
	}
	return creds_set(&p->cur, akid, secret, token, 0);
}

/* Profile kinds botocore has and dynamofs does not (SPEC leaves them to
 * credential_process). */
static const struct {
	const char *key;
	const char *what;
} unsupported[] = {
    {"login_session", "login_session (console login)"},
};

/* The profile step. Returns 0 (p is set), 1 (nothing there; tried says
 * why), or an error. */
static int chain_profile(struct creds_provider *p, const struct config *cfg,
			 char *tried, size_t triedlen, char *err, size_t errlen)
{
	const char *command;
	char msg[512] = "";
	int ret;

	if (!cfg->profile_found) {
		snprintf(tried, triedlen, "profile \"%s\" (not in %s or %s)",
			 cfg->profile, cfg->credentials_file, cfg->config_file);
		return 1;
	}
	ret = profile_keys(p, cfg, CONFIG_FILE_CREDENTIALS, err, errlen);
	if (ret <= 0)
		return ret;
	command = config_get(cfg, "credential_process", NULL);
	if (command && *command) {
		p->kind = CREDS_PROCESS;
		p->command = strdup(command);
		if (!p->command ||
		    asprintf(&p->source, "credential_process of profile \"%s\"",
			     cfg->profile) < 0) {
			p->source = NULL;
			return -ENOMEM;
		}
		ret = creds_process_run(command, CREDS_PROCESS_TIMEOUT_MS,
					&p->cur, msg, sizeof(msg));
		if (ret)
			errbuf_printf(err, errlen, "profile \"%s\": %s",
				      cfg->profile, msg);
		return ret;
	}
	ret = profile_keys(p, cfg, CONFIG_FILE_CONFIG, err, errlen);
	if (ret <= 0)
		return ret;
	for (size_t i = 0; i < sizeof(unsupported) / sizeof(unsupported[0]);
	     i++) {
		if (!config_get(cfg, unsupported[i].key, NULL))
			continue;
		errbuf_printf(
		    err, errlen,
		    "profile \"%s\" uses %s, which dynamofs does not "
		    "support; use a profile with credential_process = aws "
		    "configure export-credentials --profile %s --format "
		    "process",
		    cfg->profile, unsupported[i].what, cfg->profile);
		return -EINVAL;
	}
	snprintf(tried, triedlen,
		 "profile \"%s\" (no keys or credential_process)",
		 cfg->profile);
	return 1;
}

/* The SSO step: a profile with sso_account_id or sso_role_name (what makes
 * botocore's SSOProvider take it), its session or legacy start URL, the
 * token `aws sso login` cached, the portal's role credentials. Returns 0
 * (p is set), 1 (not an SSO profile) or an error. */
static int chain_sso(struct creds_provider *p, const struct config *cfg,
		     char *err, size_t errlen)
{
	char msg[512] = "", until[64] = "";
	struct tm tm;
	time_t exp = 0;
	int ret;

	if (!cfg->profile_found || (!config_get(cfg, "sso_account_id", NULL) &&
				    !config_get(cfg, "sso_role_name", NULL)))
		return 1;
	ret = sso_config_from_profile(cfg, &p->sso, msg, sizeof(msg));
	if (ret == -ENOENT) {
		errbuf_printf(
		    err, errlen,
		    "SSO profile \"%s\" lacks sso_session (or the legacy "
		    "sso_start_url and sso_region)",
		    cfg->profile);
		return -EINVAL;
	}
	if (ret) {
		errbuf_printf(err, errlen, "%s", msg);
		return ret;
	}
	p->kind = CREDS_SSO;
	ret = sso_fetch(&p->sso, p->http, monotime_wall_s(), &p->cur, msg,
			sizeof(msg));
	if (ret) {
		errbuf_printf(err, errlen, "%s", msg);
		return ret;
	}
	if (sso_token_expiry(&p->sso, &exp) == 0 && gmtime_r(&exp, &tm))
		strftime(until, sizeof(until),
			 ", token cached until %Y-%m-%dT%H:%MZ", &tm);
	if (p->sso.session_name)
		ret =
		    asprintf(&p->source,
			     "SSO session \"%s\" (profile \"%s\"), account %s, "
			     "role %s%s",
			     p->sso.session_name, cfg->profile,
			     p->sso.account_id, p->sso.role_name, until);
	else
		ret = asprintf(&p->source,
			       "SSO start URL %s (profile \"%s\"), account %s, "
			       "role %s%s",
			       p->sso.start_url, cfg->profile,
			       p->sso.account_id, p->sso.role_name, until);
	if (ret < 0) {
		p->source = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* The container step. Returns 0, 1 (not configured) or an error. */
static int chain_container(struct creds_provider *p, char *tried,
			   size_t triedlen, char *err, size_t errlen)
{
	const char *v;
	char msg[512] = "";
	int ret;

	ret = creds_container_url(
	    config_env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"),
	    config_env("AWS_CONTAINER_CREDENTIALS_FULL_URI"), &p->url, err,
	    errlen);
	if (ret == -ENOENT) {
		snprintf(tried, triedlen,
			 "container credentials "
			 "(AWS_CONTAINER_CREDENTIALS_*_URI not set)");
		return 1;
	}
	if (ret)
		return ret;
	p->kind = CREDS_CONTAINER;
	v = config_env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
	if (v) {
		p->token_file = strdup(v);
		if (!p->token_file)
			return -ENOMEM;
	} else if (config_env("AWS_CONTAINER_AUTHORIZATION_TOKEN")) {
		p->token =
		    strdup(config_env("AWS_CONTAINER_AUTHORIZATION_TOKEN"));
		if (!p->token)
			return -ENOMEM;
	}
	if (asprintf(&p->source, "container endpoint %s", p->url) < 0) {
		p->source = NULL;
		return -ENOMEM;
	}
	ret = fetch_container(p, &p->cur, msg, sizeof(msg));
	if (ret)
		errbuf_printf(err, errlen, "%s", msg);
	return ret;
}

/* The IMDS step. Returns 0, 1 (disabled or absent) or an error. */
static int chain_imds(struct creds_provider *p, const struct config *cfg,
		      char *tried, size_t triedlen, char *err, size_t errlen)
{
	const char *base, *mode;
	char msg[512] = "";
	size_t n;
	int ret;

	mode = config_env("AWS_EC2_METADATA_DISABLED");
	if (mode && strcasecmp(mode, "true") == 0) {
		snprintf(tried, triedlen,
			 "EC2 instance metadata (disabled by "
			 "AWS_EC2_METADATA_DISABLED)");
		return 1;
	}
	base = config_env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
	if (!base)
		base = config_get(cfg, "ec2_metadata_service_endpoint", NULL);
	mode = config_env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
	if (!mode)
		mode =
		    config_get(cfg, "ec2_metadata_service_endpoint_mode", NULL);
	if (!base || !*base)
		base = mode && strcasecmp(mode, "IPv6") == 0
			   ? CREDS_IMDS_DEFAULT_V6
			   : CREDS_IMDS_DEFAULT;
	p->imds_base = strdup(base);
	if (!p->imds_base)
		return -ENOMEM;
	n = strlen(p->imds_base);
	while (n > 8 && p->imds_base[n - 1] == '/')
		p->imds_base[--n] = '\0';
	p->kind = CREDS_IMDS;
	ret = fetch_imds(p, &p->cur, msg, sizeof(msg));
	if (ret == -ENOENT) {
		snprintf(tried, triedlen, "EC2 instance metadata (%s)", msg);
		return 1;
	}
	if (ret) {
		errbuf_printf(err, errlen, "EC2 instance metadata: %s", msg);
		return ret;
	}
	if (asprintf(&p->source, "EC2 instance metadata (role %s)", p->role) <
	    0) {
		p->source = NULL;
		return -ENOMEM;
	}
	return 0;
}

/* The environment step. Returns 0, 1 (AWS_ACCESS_KEY_ID not set) or an
 * error. */
static int chain_env(struct creds_provider *p, char *err, size_t errlen)
{
	const char *akid = config_env("AWS_ACCESS_KEY_ID");
	const char *secret = config_env("AWS_SECRET_ACCESS_KEY");
	/* botocore's order: the old name first */
	const char *token = config_env("AWS_SECURITY_TOKEN");
	const char *exp = config_env("AWS_CREDENTIAL_EXPIRATION");
	time_t until = 0;

	if (!token)
		token = config_env("AWS_SESSION_TOKEN");
	if (akid && secret) {
		/* botocore makes such keys expire; they cannot be renewed
		 * (the environment does not change), so the mount refuses
		 * requests with EACCES from then on */
		if (exp && creds_parse_time(exp, &until) != 0) {
			errbuf_printf(
			    err, errlen,
			    "AWS_CREDENTIAL_EXPIRATION \"%.40s\" is not an "
			    "ISO 8601 time such as 2026-12-02T12:00:00Z",
			    exp);
			return -EINVAL;
		}
		if (exp && until <= monotime_wall_s()) {
			errbuf_printf(
			    err, errlen,
			    "the credentials in AWS_ACCESS_KEY_ID expired at "
			    "%s (AWS_CREDENTIAL_EXPIRATION)",
			    exp);
			return -EACCES;
		}
		p->kind = CREDS_STATIC;
		p->source =
		    strdup(exp ? "environment (AWS_ACCESS_KEY_ID, until "
				 "AWS_CREDENTIAL_EXPIRATION)"
			       : "environment (AWS_ACCESS_KEY_ID)");
		if (!p->source)
			return -ENOMEM;
		return creds_set(&p->cur, akid, secret, token, until);
	}
	if (akid || secret) {
		errbuf_printf(
		    err, errlen, "%s is set but %s is not",
		    akid ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY",
		    akid ? "AWS_SECRET_ACCESS_KEY" : "AWS_ACCESS_KEY_ID");
		return -EINVAL;
	}
	return 1;
}

static struct creds_provider *provider_alloc(struct http_client *http)
{
	struct creds_provider *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->refreshed, NULL);
	p->http = http;
	return p;
}

/* A profile on the way from the selected one to a source, for loops. */
struct visit {
	const char *name;
	const struct visit *up;
};

/* Appends "a -> b -> " for the profiles from the top down to v. */
static void visit_path(const struct visit *v, char *buf, size_t len)
{
	size_t n;

	if (v->up)
		visit_path(v->up, buf, len);
	n = strlen(buf);
	if (n < len)
		snprintf(buf + n, len - n, "%s -> ", v->name);
}

/* botocore lets static keys in a profile win over its role_arn only when
 * the profile is the source of a role (so source_profile may name itself). */
static bool has_static_keys(const struct config *cfg)
{
	return config_get(cfg, "aws_access_key_id", NULL) ||
	       config_get(cfg, "aws_secret_access_key", NULL);
}

/* An assume-role profile: role_arn without web_identity_token_file (with
 * both, it is a web identity profile). */
static bool has_role(const struct config *cfg)
{
	return cfg->profile_found && config_get(cfg, "role_arn", NULL) &&
	       !config_get(cfg, "web_identity_token_file", NULL);
}

/* Sets the STS parameters of a role step; cfg is the profile with the role,
 * top the selected profile (whose region and endpoints STS uses, as the
 * botocore session's STS client does). */
static int role_params(struct creds_provider *p, const struct config *top,
		       const struct config *cfg, const char *arn,
		       const char *session, char *err, size_t errlen)
{
	const char *v;
	char name[40], *end, *how = NULL;
	long d;
	int ret;

	p->role_arn = strdup(arn);
	if (!session) {
		sts_default_session_name(time(NULL), name);
		session = name;
	}
	p->session_name = strdup(session);
	v = config_get(cfg, "external_id", NULL);
	p->external_id = v ? strdup(v) : NULL;
	p->sts_region = strdup(top->region);
	if (!p->role_arn || !p->session_name || (v && !p->external_id) ||
	    !p->sts_region)
		return -ENOMEM;
	v = config_get(cfg, "duration_seconds", NULL);
	if (v) {
		errno = 0;
		d = strtol(v, &end, 10);
		if (errno || end == v || *end || d <= 0 || d > 86400) {
			errbuf_printf(
			    err, errlen,
			    "profile \"%s\": duration_seconds \"%.40s\" is "
			    "not a number of seconds",
			    cfg->profile, v);
			return -EINVAL;
		}
		p->duration = (int)d;
	}
	ret = sts_endpoint(top, top->region, &p->sts_url, &how, err, errlen);
	free(how);
	return ret;
}

/* Web identity: the token file and role from the environment (when
 * use_env; each variable wins over its profile key, as in botocore) or the
 * profile. Returns 0, 1 (no token file configured) or an error. */
static int chain_web_identity(struct creds_provider *p,
			      const struct config *top,
			      const struct config *cfg, bool use_env, char *err,
			      size_t errlen)
{
	const char *file = NULL, *arn = NULL, *session = NULL, *from;
	char msg[512] = "";
	int ret;

	if (use_env) {
		file = config_env("AWS_WEB_IDENTITY_TOKEN_FILE");
		arn = config_env("AWS_ROLE_ARN");
		session = config_env("AWS_ROLE_SESSION_NAME");
	}
	from = file ? "AWS_WEB_IDENTITY_TOKEN_FILE" : NULL;
	if (cfg->profile_found) {
		if (!file)
			file = config_get(cfg, "web_identity_token_file", NULL);
		if (!arn)
			arn = config_get(cfg, "role_arn", NULL);
		if (!session)
			session = config_get(cfg, "role_session_name", NULL);
	}
	if (!file)
		return 1;
	if (!arn) {
		errbuf_printf(
		    err, errlen,
		    "web identity token file %s is set but no role: set "
		    "AWS_ROLE_ARN or role_arn in profile \"%s\"",
		    file, cfg->profile);
		return -EINVAL;
	}
	p->kind = CREDS_WEB_IDENTITY;
	p->web_token_file = strdup(file);
	if (!p->web_token_file)
		return -ENOMEM;
	/* duration_seconds is not read for web identity, as in botocore */
	ret = role_params(p, top, cfg, arn, session, err, errlen);
	if (ret)
		return ret;
	p->duration = 0;
	if (from)
		ret = asprintf(&p->source,
			       "web identity role %s (token file %s from %s)",
			       arn, file, from);
	else
		ret = asprintf(&p->source,
			       "web identity role %s (token file %s from "
			       "profile \"%s\")",
			       arn, file, cfg->profile);
	if (ret < 0) {
		p->source = NULL;
		return -ENOMEM;
	}
	ret = fetch_web_identity(p, &p->cur, msg, sizeof(msg));
	if (ret)
		errbuf_printf(err, errlen, "%s", msg);
	return ret;
}

static int chain_role(struct creds_provider *p, const struct config *top,
		      const struct config *cfg, const struct visit *up,
		      char *err, size_t errlen);

/* credential_source of profile cfg into p. Returns 0 or an error. */
static int chain_credential_source(struct creds_provider *p,
				   const struct config *top,
				   const struct config *cfg, const char *cs,
				   char *err, size_t errlen)
{
	char tried[640] = "";
	int ret;

	/* case-sensitive, as botocore compares the names */
	if (strcmp(cs, "Environment") == 0) {
		ret = chain_env(p, err, errlen);
		if (ret == 1)
			snprintf(tried, sizeof(tried),
				 "AWS_ACCESS_KEY_ID is not set");
	} else if (strcmp(cs, "EcsContainer") == 0) {
		ret = chain_container(p, tried, sizeof(tried), err, errlen);
	} else if (strcmp(cs, "Ec2InstanceMetadata") == 0) {
		ret = chain_imds(p, top, tried, sizeof(tried), err, errlen);
	} else {
		errbuf_printf(
		    err, errlen,
		    "profile \"%s\": credential_source \"%.40s\" is not "
		    "Environment, Ec2InstanceMetadata or EcsContainer",
		    cfg->profile, cs);
		return -EINVAL;
	}
	if (ret == 1) {
		errbuf_printf(
		    err, errlen,
		    "profile \"%s\": no credentials from credential_source "
		    "%s: %s",
		    cfg->profile, cs, tried);
		return -ENOENT;
	}
	return ret;
}

/* source_profile name of profile cfg into p. Returns 0 or an error. */
static int chain_source_profile(struct creds_provider *p,
				const struct config *top,
				const struct config *cfg, const char *name,
				const struct visit *here, char *err,
				size_t errlen)
{
	struct config_options opts = {
	    .endpoint = top->endpoint, .region = top->region, .profile = name};
	struct config scfg = {0};
	const struct config *src = cfg;
	const struct visit *v;
	char path[512] = "", tried[768] = "", msg[512] = "";
	bool self = strcmp(name, cfg->profile) == 0;
	int ret;

	for (v = here; v; v = v->up)
		if (strcmp(v->name, name) == 0)
			break;
	if (v && !(self && has_static_keys(cfg))) {
		visit_path(here, path, sizeof(path));
		errbuf_printf(
		    err, errlen,
		    "profile \"%s\": source_profile makes a loop: %s%s",
		    cfg->profile, path, name);
		return -EINVAL;
	}
	if (!self) {
		ret = config_resolve(&opts, &scfg, msg, sizeof(msg));
		if (ret == -ENOENT) {
			errbuf_printf(
			    err, errlen,
			    "profile \"%s\": source_profile \"%s\" is not "
			    "in %s or %s",
			    cfg->profile, name, cfg->credentials_file,
			    cfg->config_file);
			return -EINVAL;
		}
		if (ret) {
			errbuf_printf(err, errlen, "%s", msg);
			return ret;
		}
		src = &scfg;
	}
	if (self || has_static_keys(src) || !has_role(src)) {
		/* its profile providers, without the environment */
		ret = chain_web_identity(p, top, src, false, err, errlen);
		if (ret == 1)
			ret = chain_sso(p, src, err, errlen);
		if (ret == 1)
			ret = chain_profile(p, src, tried, sizeof(tried), err,
					    errlen);
		if (ret == 1) {
			errbuf_printf(
			    err, errlen,
			    "profile \"%s\": source_profile \"%s\" has no "
			    "credentials: %s",
			    cfg->profile, name, tried);
			ret = -EINVAL;
		}
	} else {
		ret = chain_role(p, top, src, here, err, errlen);
	}
	config_free(&scfg);
	return ret;
}

/* Asks the user, through p->prompt, for the code of p->mfa_serial (the
 * role of profile cfg; top is the profile being mounted). Returns 0 with a
 * non-empty code, or -EACCES / -ENOMEM with err set (never quoting what
 * was entered). */
static int ask_mfa_code(const struct creds_provider *p,
			const struct config *top, const struct config *cfg,
			char *code, size_t len, char *err, size_t errlen)
{
	char msg[256] = "";
	int ret = -ENXIO;

	code[0] = '\0';
	if (p->prompt.mfa_code)
		ret = p->prompt.mfa_code(p->prompt.ctx, p->mfa_serial, code,
					 len, msg, sizeof(msg));
	if (ret == 0 && !code[0])
		ret = -ECANCELED;
	if (ret == 0)
		return 0;
	explicit_bzero(code, len);
	if (ret == -ENOMEM)
		return ret;
	if (ret == -ENXIO)
		errbuf_printf(
		    err, errlen,
		    "profile \"%s\": role %s needs an MFA code "
		    "(mfa_serial %s) but there is no terminal to ask for "
		    "it; mount from a terminal, or for unattended mounts "
		    "use a profile with credential_process instead of "
		    "\"%s\"",
		    cfg->profile, p->role_arn, p->mfa_serial, top->profile);
	else if (ret == -ECANCELED)
		errbuf_printf(
		    err, errlen,
		    "profile \"%s\": no MFA code entered for mfa_serial %s",
		    cfg->profile, p->mfa_serial);
	else
		errbuf_printf(err, errlen,
			      "profile \"%s\": cannot ask for the MFA code of "
			      "mfa_serial %s: %s",
			      cfg->profile, p->mfa_serial,
			      msg[0] ? msg : strerror(-ret));
	return -EACCES;
}

/* The assume-role step for profile cfg (which has role_arn): its source,
 * then (with mfa_serial) the code from the user, then AssumeRole. Returns 0
 * or an error. */
static int chain_role(struct creds_provider *p, const struct config *top,
		      const struct config *cfg, const struct visit *up,
		      char *err, size_t errlen)
{
	const char *arn = config_get(cfg, "role_arn", NULL);
	const char *sp = config_get(cfg, "source_profile", NULL);
	const char *cs = config_get(cfg, "credential_source", NULL);
	const char *serial = config_get(cfg, "mfa_serial", NULL);
	struct visit here = {cfg->profile, up};
	char msg[512] = "", code[64] = "";
	int ret;

	if (sp && cs) {
		errbuf_printf(err, errlen,
			      "profile \"%s\" has both source_profile and "
			      "credential_source; a role needs exactly one",
			      cfg->profile);
		return -EINVAL;
	}
	if (!sp && !cs) {
		errbuf_printf(err, errlen,
			      "profile \"%s\" has role_arn but neither "
			      "source_profile nor credential_source",
			      cfg->profile);
		return -EINVAL;
	}
	ret = role_params(p, top, cfg, arn,
			  config_get(cfg, "role_session_name", NULL), err,
			  errlen);
	if (ret)
		return ret;
	if (serial && *serial) {
		p->mfa_serial = strdup(serial);
		if (!p->mfa_serial)
			return -ENOMEM;
		/* no one to ask: fail before the source sends anything */
		if (!p->prompt.mfa_code)
			return ask_mfa_code(p, top, cfg, code, sizeof(code),
					    err, errlen);
	}
	p->src = provider_alloc(p->http);
	if (!p->src)
		return -ENOMEM;
	p->src->prompt = p->prompt;
	if (cs)
		ret =
		    chain_credential_source(p->src, top, cfg, cs, err, errlen);
	else
		ret = chain_source_profile(p->src, top, cfg, sp, &here, err,
					   errlen);
	if (ret)
		return ret;
	p->kind = CREDS_ROLE;
	if (asprintf(&p->source, "role %s (profile \"%s\"%s%s) via %s", arn,
		     cfg->profile, p->mfa_serial ? ", MFA " : "",
		     p->mfa_serial ? p->mfa_serial : "", p->src->source) < 0) {
		p->source = NULL;
		return -ENOMEM;
	}
	/* asked now, after the source, so the code is fresh when sent */
	if (p->mfa_serial) {
		ret =
		    ask_mfa_code(p, top, cfg, code, sizeof(code), err, errlen);
		if (ret)
			return ret;
	}
	ret = fetch_role_mfa(p, time(NULL), p->mfa_serial ? code : NULL,
			     &p->cur, msg, sizeof(msg));
	explicit_bzero(code, sizeof(code));
	if (ret)
		errbuf_printf(err, errlen, "profile \"%s\": %s", cfg->profile,
			      msg);
	return ret;
}

/* Walks the chain into p in botocore's order. Returns 0 or -errno with err
 * set. */
static int chain(struct creds_provider *p, const struct config *cfg, char *err,
		 size_t errlen)
{
	char t_profile[768] = "", t_container[128] = "", t_imds[640] = "";
	bool explicit = strcmp(cfg->profile_source, "option profile=") == 0;
	int ret;

	/* A profile given on the command line negates the environment's keys,
	 * as `aws --profile P` does (botocore drops its EnvProvider for an
	 * explicit profile; AWS_PROFILE is not explicit). That is also what
	 * lets credential_source = Environment mean something. */
	if (!explicit) {
		ret = chain_env(p, err, errlen);
		if (ret <= 0)
			return ret;
	}
	if (has_role(cfg)) {
		/* before the profile's own keys, as botocore's
		 * AssumeRoleProvider comes before them */
		return chain_role(p, cfg, cfg, NULL, err, errlen);
	}
	ret = chain_web_identity(p, cfg, cfg, true, err, errlen);
	if (ret <= 0)
		return ret;
	ret = chain_sso(p, cfg, err, errlen);
	if (ret <= 0)
		return ret;
	ret = chain_profile(p, cfg, t_profile, sizeof(t_profile), err, errlen);
	if (ret <= 0)
		return ret;

	ret = chain_container(p, t_container, sizeof(t_container), err, errlen);
	if (ret <= 0)
		return ret;
	ret = chain_imds(p, cfg, t_imds, sizeof(t_imds), err, errlen);
	if (ret <= 0)
		return ret;
	errbuf_printf(
	    err, errlen,
	    "no credentials found; tried environment (%s), %s, %s, %s",
	    explicit ? "not used with option profile="
		     : "AWS_ACCESS_KEY_ID not set",
	    t_profile, t_container, t_imds);
	return -ENOENT;
}

int creds_provider_new(const struct config *cfg, struct http_client *http,
		       const struct creds_prompt *prompt,
		       struct creds_provider **out, char *err, size_t errlen)
{
	struct creds_provider *p;
	int ret;

	*out = NULL;
	errbuf_printf(err, errlen, "out of memory");
	p = provider_alloc(http);
	if (!p)
		return -ENOMEM;
	if (prompt)
		p->prompt = *prompt;
	ret = chain(p, cfg, err, errlen);
	if (ret) {
		creds_provider_free(p);
		return ret;
	}
	/* the prompt is the caller's, for this call only */
	for (struct creds_provider *q = p; q; q = q->src)
		memset(&q->prompt, 0, sizeof(q->prompt));
	*out = p;
	return 0;
}

/* Whether p->cur should be fetched again at now (lock held). */
static bool needs_refresh(const struct creds_provider *p, time_t now)
{
	return p->kind != CREDS_STATIC && p->cur.expiration &&
	       p->cur.expiration - now <= CREDS_REFRESH_AHEAD &&
	       now >= p->next_attempt;
}

int creds_provider_get(struct creds_provider *p, time_t now, struct creds *c)
{
	struct creds fresh;
	char msg[512];
	unsigned gen;
	int ret;

	memset(c, 0, sizeof(*c));
	pthread_mutex_lock(&p->lock);
	while (needs_refresh(p, now)) {
		if (p->refreshing) {
			/* Another thread fetches: the old ones do while
			 * valid, else wait for its outcome. */
			if (p->cur.expiration > now)
				break;
			gen = p->generation;
			while (p->refreshing && gen == p->generation)
				pthread_cond_wait(&p->refreshed, &p->lock);
			break;
		}
		p->refreshing = true;
		pthread_mutex_unlock(&p->lock);
		msg[0] = '\0';
		ret = fetch(p, now, &fresh, msg, sizeof(msg));
		pthread_mutex_lock(&p->lock);
		p->refreshing = false;
		p->generation++;
		pthread_cond_broadcast(&p->refreshed);
		if (ret == 0) {
			creds_clear(&p->cur);
			p->cur = fresh;
			p->next_attempt = 0;
			log_msg(LOG_DEBUG, "refreshed credentials from %s",
				p->source);
		} else {
			p->next_attempt = now + CREDS_RETRY_AFTER;
			if (p->cur.expiration > now)
				log_msg(LOG_WARNING,
					"could not refresh credentials from "
					"%s: %s; the current ones stay valid "
					"for %lld s",
					p->source, msg,
					(long long)(p->cur.expiration - now));
			else
				log_msg(LOG_ERR,
					"could not refresh credentials from "
					"%s: %s; they have expired",
					p->source, msg);
		}
		break;
	}
	if (p->cur.expiration && p->cur.expiration <= now) {
		/* keys that never refresh (AWS_CREDENTIAL_EXPIRATION) say
		 * why once; the others logged their failed refresh above */
		if (p->kind == CREDS_STATIC && !p->expiry_logged) {
			p->expiry_logged = true;
			log_msg(LOG_ERR,
				"the credentials from %s have expired; remount "
				"with new ones",
				p->source);
		}
		ret = -EACCES;
	} else
		ret =
		    creds_set(c, p->cur.access_key_id, p->cur.secret_access_key,
			      p->cur.session_token, p->cur.expiration);
	pthread_mutex_unlock(&p->lock);
	return ret;
}

const char *creds_provider_source(const struct creds_provider *p)
{
	return p->source;
}

void creds_provider_free(struct creds_provider *p)
{
	if (!p)
		return;
	creds_clear(&p->cur);
	free(p->source);
	free(p->command);
	free(p->url);
	wipe_free(p->token);
	free(p->token_file);
	free(p->imds_base);
	free(p->role);
	creds_provider_free(p->src);
	free(p->role_arn);
	free(p->session_name);
	free(p->external_id);
	free(p->sts_url);
	free(p->sts_region);
	free(p->web_token_file);
	sso_config_clear(&p->sso);
	free(p->mfa_serial);
	pthread_cond_destroy(&p->refreshed);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
