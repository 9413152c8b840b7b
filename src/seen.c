/* seen.c - the images writes are conditional on: per (process, path) and per
 * path, least recently used first out, within a count and a byte budget. */
#include "seen.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "monotime.h"
#include "pathmap.h"

struct seen_entry {
	struct pathmap_node node; /* node.path is key below */
	struct seen_entry *older, *newer;
	struct cache_blob *text; /* NULL: the item was absent */
	size_t bytes;		 /* what the budget counts for it */
	char key[];		 /* "TGID:PATH" */
};

struct seen {
	pthread_mutex_t lock;
	struct pathmap map;
	struct seen_entry *oldest, *newest;
	size_t bytes, max_bytes, max_entries;
};

struct seen *seen_new(size_t max_bytes, size_t max_entries)
{
	struct seen *s = calloc(1, sizeof(*s));

	if (!s || pathmap_init(&s->map, 256) != 0) {
		free(s);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	s->max_bytes = max_bytes;
	s->max_entries = max_entries ? max_entries : 1;
	return s;
}

static void unlink_lru(struct seen *s, struct seen_entry *e)
{
	if (e->older)
		e->older->newer = e->newer;
	else
		s->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		s->newest = e->older;
	e->older = e->newer = NULL;
}

static void push_newest(struct seen *s, struct seen_entry *e)
{
	e->newer = NULL;
	e->older = s->newest;
	if (s->newest)
		s->newest->newer = e;
	else
		s->oldest = e;
	s->newest = e;
}

static void entry_drop(struct seen *s, struct seen_entry *e)
{
	unlink_lru(s, e);
	pathmap_remove(&s->map, &e->node);
	s->bytes -= e->bytes;
	cache_blob_unref(e->text);
	free(e);
}

void seen_free(struct seen *s)
{
	if (!s)
		return;
	while (s->oldest)
		entry_drop(s, s->oldest);
	pathmap_free(&s->map);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int make_key(char *buf, size_t len, pid_t tgid, const char *path)
{
	int n = snprintf(buf, len, "%ld:%s", (long)tgid, path);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : n;
}

static struct seen_entry *find(struct seen *s, const char *key, size_t len)
{
	struct pathmap_node *n =
	    pathmap_find(&s->map, key, len, pathmap_hash(key, len));

	return n ? pathmap_entry(n, struct seen_entry, node) : NULL;
}

/* Sets the image of key (under the lock); false when there was no room.
 * A forced image is kept even past the byte budget (the others go). */
static bool set_locked(struct seen *s, pid_t tgid, const char *path,
		       struct cache_blob *text, bool force)
{
	char key[4200];
	int len = make_key(key, sizeof(key), tgid, path);
	struct seen_entry *e;
	size_t bytes;

	if (len < 0)
		return false;
	e = find(s, key, (size_t)len);
	if (e)
		entry_drop(s, e);
	bytes = sizeof(*e) + (size_t)len + 1 + (text ? text->len : 0);
	if (bytes > s->max_bytes && !force)
		return false;
	while (s->oldest &&
	       (s->bytes + bytes > s->max_bytes || s->map.n >= s->max_entries))
		entry_drop(s, s->oldest);
	e = malloc(sizeof(*e) + (size_t)len + 1);
	if (!e)
		return false;
	memcpy(e->key, key, (size_t)len + 1);
	e->node.path = e->key;
	e->node.len = (size_t)len;
	e->node.hash = pathmap_hash(key, (size_t)len);
	e->text = text ? cache_blob_ref(text) : NULL;
	e->bytes = bytes;
	push_newest(s, e);
	pathmap_insert(&s->map, &e->node);
	s->bytes += bytes;
	return true;
}

void seen_note(struct seen *s, pid_t tgid, const char *path,
	       struct cache_blob *text)
{
	pthread_mutex_lock(&s->lock);
	if (tgid > 0)
		set_locked(s, tgid, path, text, false);
	set_locked(s, 0, path, text, false);
	pthread_mutex_unlock(&s->lock);
}

void seen_note_write(struct seen *s, pid_t tgid, const char *path,
		     struct cache_blob *text)
{
	char key[4200];
	int len;

	pthread_mutex_lock(&s->lock);
	len = tgid > 0 ? make_key(key, sizeof(key), tgid, path) : -1;
	if (len > 0 && find(s, key, (size_t)len))
		set_locked(s, tgid, path, text, false);
	set_locked(s, 0, path, text, false);
	pthread_mutex_unlock(&s->lock);
}

void seen_pin(struct seen *s, pid_t tgid, const char *path,
	      struct cache_blob *text)
{
	pthread_mutex_lock(&s->lock);
	set_locked(s, tgid > 0 ? tgid : 0, path, text, true);
	pthread_mutex_unlock(&s->lock);
}

bool seen_get(struct seen *s, pid_t tgid, const char *path, bool own_only,
	      struct cache_blob **text)
{
	struct seen_entry *e = NULL;
	char key[4200];
	int len;

	*text = NULL;
	pthread_mutex_lock(&s->lock);
	if (tgid > 0) {
		len = make_key(key, sizeof(key), tgid, path);
		e = len < 0 ? NULL : find(s, key, (size_t)len);
	}
	if (!e && (!own_only || tgid <= 0)) {
		len = make_key(key, sizeof(key), 0, path);
		e = len < 0 ? NULL : find(s, key, (size_t)len);
	}
	if (e) {
		/* Used: the newest now. */
		unlink_lru(s, e);
		push_newest(s, e);
		*text = e->text ? cache_blob_ref(e->text) : NULL;
	}
	pthread_mutex_unlock(&s->lock);
	return e != NULL;
}

void seen_usage(struct seen *s, size_t *entries, size_t *bytes)
{
	pthread_mutex_lock(&s->lock);
	*entries = s->map.n;
	*bytes = s->bytes;
	pthread_mutex_unlock(&s->lock);
}

/* What /proc said of a thread lately. Reading /proc/TID/status has the
 * kernel format some forty lines; every open of an item asks, and the
 * threads of a reader (cat, grep, xargs) ask again and again. A thread id
 * names another thread only once the kernel has handed out every other id
 * up to pid_max (32,768 at least; systemd sets 4,194,304), so within a
 * second it still names the same thread, in the same process. */
#define TGID_SLOTS   256
#define TGID_KEEP_US 1000000LL

static struct {
	pid_t tid, tgid;
	long long until_us;
} tgid_seen[TGID_SLOTS];
static pthread_mutex_t tgid_lock = PTHREAD_MUTEX_INITIALIZER;

/* The thread group /proc gives for tid, or -1 when it cannot be read (the
 * thread is gone). */
static pid_t proc_thread_group(pid_t tid)
{
	char path[64], buf[512];
	const char *p;
	ssize_t n;
	int fd;

	/* Tgid: is on the fourth line, within the first few hundred bytes. */
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strstr(buf, "\nTgid:");
	if (!p)
		return -1;
	return (pid_t)strtol(p + 6, NULL, 10);
}

pid_t seen_thread_group(pid_t tid)
{
	unsigned slot = (unsigned)tid % TGID_SLOTS;
	long long now = monotime_us();
	pid_t tgid = 0;

	if (tid <= 0)
		return 0;
	pthread_mutex_lock(&tgid_lock);
	if (tgid_seen[slot].tid == tid && tgid_seen[slot].until_us > now)
		tgid = tgid_seen[slot].tgid;
	pthread_mutex_unlock(&tgid_lock);
	if (tgid)
		return tgid;
	tgid = proc_thread_group(tid);
	/* A thread already gone is its own group, and not worth keeping. */
	if (tgid < 0)
		return tid;
	pthread_mutex_lock(&tgid_lock);
	tgid_seen[slot].tid = tid;
	tgid_seen[slot].tgid = tgid;
	tgid_seen[slot].until_us = now + TGID_KEEP_US;
	pthread_mutex_unlock(&tgid_lock);
	return tgid;
}
