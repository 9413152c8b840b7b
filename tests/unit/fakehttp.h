/* fakehttp.h - starts tests/tools/fakehttp.py (a scripted HTTP server on
 * 127.0.0.1) or another fake such as fakests.py from a unit test and reads
 * back the requests it received. */
#ifndef DYNAMOFS_FAKEHTTP_H
#define DYNAMOFS_FAKEHTTP_H

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

struct fakehttp {
	pid_t pid;
	int stdin_fd; /* closing it stops the server */
	int port;
	char url[64]; /* "http://127.0.0.1:PORT" */
	char dir[64]; /* temporary folder with script.json and log.jsonl */
	char log[128];
};

/* Starts tests/tools/<tool> with script (written to script.json) and the
 * log path as its arguments; the tool prints its port on its first line and
 * stops when its stdin closes (fakehttp.py, fakests.py). Returns 0, or -1
 * with a message on stderr. */
static inline int fakehttp_start_tool(struct fakehttp *f, const char *toolname,
				      const char *script)
{
	char path[160], tool[512], portbuf[32] = {0};
	const char *tools = getenv("DYNAMOFS_TOOLS");
	int in[2], out[2];
	FILE *fp;

	memset(f, 0, sizeof(*f));
	strcpy(f->dir, "/tmp/fakehttp.XXXXXX");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(path, sizeof(path), "%s/script.json", f->dir);
	snprintf(f->log, sizeof(f->log), "%s/log.jsonl", f->dir);
	fp = fopen(path, "w");
	if (!fp)
		return -1;
	fputs(script, fp);
	fclose(fp);
	snprintf(tool, sizeof(tool), "%s/%s", tools ? tools : "tests/tools",
		 toolname);
	if (pipe(in) || pipe(out))
		return -1;
	f->pid = fork();
	if (f->pid < 0)
		return -1;
	if (f->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		close(in[1]);
		close(out[0]);
		execl("/usr/bin/python3", "python3", tool, path, f->log,
		      (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	f->stdin_fd = in[1];
	for (size_t n = 0; n < sizeof(portbuf) - 1;) {
		ssize_t r = read(out[0], portbuf + n, 1);
		if (r <= 0 || portbuf[n] == '\n')
			break;
		n++;
	}
	close(out[0]);
	f->port = atoi(portbuf);
	if (f->port <= 0) {
		fprintf(stderr, "fakehttp: did not start (%s)\n", tool);
		return -1;
	}
	snprintf(f->url, sizeof(f->url), "http://127.0.0.1:%d", f->port);
	return 0;
}

/* Starts a server that follows script (a JSON array of rules, see
 * fakehttp.py). Returns 0, or -1 with a message on stderr. */
static inline int fakehttp_start(struct fakehttp *f, const char *script)
{
	return fakehttp_start_tool(f, "fakehttp.py", script);
}

/* Stops the server and removes its folder. */
static inline void fakehttp_stop(struct fakehttp *f)
{
	char cmd[128];

	if (f->pid > 0) {
		close(f->stdin_fd);
		kill(f->pid, SIGTERM);
		waitpid(f->pid, NULL, 0);
		f->pid = 0;
	}
	if (f->dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "fakehttp: could not remove %s\n",
				f->dir);
		f->dir[0] = 0;
	}
}

/* The request log (one JSON object a line), malloc'ed; caller frees.
 * NULL when nothing was received. */
static inline char *fakehttp_log(const struct fakehttp *f)
{
	FILE *fp = fopen(f->log, "r");
	char *buf = NULL;
	size_t len = 0;

	if (!fp)
		return NULL;
	fseek(fp, 0, SEEK_END);
	len = (size_t)ftell(fp);
	rewind(fp);
	buf = calloc(1, len + 1);
	if (buf && fread(buf, 1, len, fp) != len) {
		free(buf);
		buf = NULL;
	}
	fclose(fp);
	return buf;
}

/* The log's line n (from 0), parsed; NULL past the end. Caller frees with
 * json_decref. */
static inline json_t *fakehttp_log_line(const struct fakehttp *f, int n)
{
	char *log = fakehttp_log(f), *p = log;
	json_t *j = NULL;

	for (int i = 0; p && i < n; i++) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (p && *p)
		j = json_loadb(p, strcspn(p, "\n"), 0, NULL);
	free(log);
	return j;
}

/* How many requests the server received. */
static inline int fakehttp_count(const struct fakehttp *f)
{
	char *log = fakehttp_log(f);
	int n = 0;

	for (char *p = log; p && *p; p++)
		n += *p == '\n';
	free(log);
	return n;
}

#endif
