/* shortname.c - the map of shortname.h: pathmap.h's hash map for lookups and
 * a recency list for the bound, under one mutex of its own. */
#include "shortname.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pathmap.h"

struct shortname {
	struct pathmap_node node; /* node.path is the owned copy of the path */
	json_t *key;
	struct shortname *newer;
	struct shortname *older;
};

struct shortname_map {
	pthread_mutex_t lock;
	struct pathmap map;
	size_t max;
	struct shortname *newest; /* recency list, newest first */
	struct shortname *oldest;
};

int shortname_map_new(size_t max_entries, struct shortname_map **out)
{
	struct shortname_map *m;

	*out = NULL;
	if (max_entries == 0)
		return -EINVAL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	if (pathmap_init(&m->map, 64)) {
		free(m);
		return -ENOMEM;
	}
	pthread_mutex_init(&m->lock, NULL);
	m->max = max_entries;
	*out = m;
	return 0;
}

static void entry_free(struct shortname *s)
{
	free(s->node.path);
	json_decref(s->key);
	free(s);
}

void shortname_map_free(struct shortname_map *m)
{
	struct shortname *s, *next;

	if (!m)
		return;
	for (s = m->newest; s; s = next) {
		next = s->older;
		entry_free(s);
	}
	pathmap_free(&m->map);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static void unlink_entry(struct shortname_map *m, struct shortname *s)
{
	if (s->newer)
		s->newer->older = s->older;
	else
		m->newest = s->older;
	if (s->older)
		s->older->newer = s->newer;
	else
		m->oldest = s->newer;
	s->newer = s->older = NULL;
}

static void push_newest(struct shortname_map *m, struct shortname *s)
{
	s->older = m->newest;
	s->newer = NULL;
	if (m->newest)
		m->newest->newer = s;
	m->newest = s;
	if (!m->oldest)
		m->oldest = s;
}

static struct shortname *find(struct shortname_map *m, const char *path)
{
	size_t len = strlen(path);
	struct pathmap_node *n =
	    pathmap_find(&m->map, path, len, pathmap_hash(path, len));

	return n ? pathmap_entry(n, struct shortname, node) : NULL;
}

int shortname_map_put(struct shortname_map *m, const char *path,
		      const json_t *key)
{
	json_t *copy = json_deep_copy(key);
	struct shortname *s;
	int rc = 0;

	if (!copy)
		return -ENOMEM;
	pthread_mutex_lock(&m->lock);
	s = find(m, path);
	if (s) {
		json_decref(s->key);
		s->key = copy;
		unlink_entry(m, s);
		push_newest(m, s);
		goto out;
	}
	s = calloc(1, sizeof(*s));
	if (!s || !(s->node.path = strdup(path))) {
		free(s);
		json_decref(copy);
		rc = -ENOMEM;
		goto out;
	}
	s->node.len = strlen(path);
	s->node.hash = pathmap_hash(path, s->node.len);
	s->key = copy;
	pathmap_insert(&m->map, &s->node);
	push_newest(m, s);
	while (m->map.n > m->max) {
		struct shortname *old = m->oldest;

		unlink_entry(m, old);
		pathmap_remove(&m->map, &old->node);
		entry_free(old);
	}
out:
	pthread_mutex_unlock(&m->lock);
	return rc;
}

json_t *shortname_map_get(struct shortname_map *m, const char *path)
{
	struct shortname *s;
	json_t *key = NULL;

	pthread_mutex_lock(&m->lock);
	s = find(m, path);
	if (s) {
		key = json_incref(s->key);
		unlink_entry(m, s);
		push_newest(m, s);
	}
	pthread_mutex_unlock(&m->lock);
	return key;
}

size_t shortname_map_count(struct shortname_map *m)
{
	size_t n;

	pthread_mutex_lock(&m->lock);
	n = m->map.n;
	pthread_mutex_unlock(&m->lock);
	return n;
}
