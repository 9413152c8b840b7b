/* fs_state.c - the filesystem's state: fs_new and fs_free, the list of open
 * handles, and the thread that sends the kernel its cache invalidations. */
#include "fs_i.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "keyname.h"
#include "pagecache.h"
#include "putq.h"
#include "scratch.h"
#include "seen.h"
#include "shortname.h"

/* ---- open handles ------------------------------------------------------- */

void fs_openlink_add(struct fs *fs, struct openlink *link,
		     void (*free_fn)(struct openlink *))
{
	link->free = free_fn;
	pthread_mutex_lock(&fs->open_lock);
	link->next = fs->open_handles.next;
	link->prev = &fs->open_handles;
	link->next->prev = link;
	fs->open_handles.next = link;
	pthread_mutex_unlock(&fs->open_lock);
}

void fs_openlink_remove(struct fs *fs, struct openlink *link)
{
	pthread_mutex_lock(&fs->open_lock);
	if (link->next) {
		link->prev->next = link->next;
		link->next->prev = link->prev;
		link->next = link->prev = NULL;
	}
	pthread_mutex_unlock(&fs->open_lock);
}

/* ---- kernel cache invalidation ------------------------------------------ */

/* A path waiting for fs_invalidate_later's thread. */
struct inval {
	struct inval *next;
	char path[];
};

static void inval_clear(struct inval *q)
{
	while (q) {
		struct inval *p = q;
		q = p->next;
		free(p);
	}
}

/* Asks the kernel to forget what it cached of path (attributes, pages),
 * soon, from the invalidation thread. */
void fs_invalidate_later(struct fs *fs, const char *path)
{
	size_t len = strlen(path);
	struct inval *p;

	/* Now, not when the thread gets to it: the next open must not let
	 * the kernel keep pages of the old content. */
	if (fs->pages)
		pagecache_forget(fs->pages, path);
	if (!fs->inval_running)
		return;
	p = malloc(sizeof(*p) + len + 1);
	if (!p)
		return;
	memcpy(p->path, path, len + 1);
	pthread_mutex_lock(&fs->inval_lock);
	p->next = fs->inval_queue;
	fs->inval_queue = p;
	pthread_cond_signal(&fs->inval_cond);
	pthread_mutex_unlock(&fs->inval_lock);
}

static void *inval_main(void *arg)
{
	struct fs *fs = arg;
	struct inval *batch;

	pthread_mutex_lock(&fs->inval_lock);
	while (!fs->inval_stop) {
		if (!fs->inval_queue) {
			pthread_cond_wait(&fs->inval_cond, &fs->inval_lock);
			continue;
		}
		batch = fs->inval_queue;
		fs->inval_queue = NULL;
		pthread_mutex_unlock(&fs->inval_lock);
		while (batch) {
			struct inval *p = batch;
			batch = p->next;
			/* -ENOENT: the kernel holds nothing for it. */
			fuse_invalidate_path(fs->fuse, p->path);
			fs_count(fs, FS_OP_INVALIDATE);
			free(p);
		}
		pthread_mutex_lock(&fs->inval_lock);
	}
	pthread_mutex_unlock(&fs->inval_lock);
	return NULL;
}

void fs_inval_start(struct fs *fs, struct fuse *fuse)
{
	fs->fuse = fuse;
	if (fuse &&
	    pthread_create(&fs->inval_thread, NULL, inval_main, fs) == 0)
		fs->inval_running = true;
}

void fs_inval_stop(struct fs *fs)
{
	if (!fs->inval_running)
		return;
	pthread_mutex_lock(&fs->inval_lock);
	fs->inval_stop = true;
	pthread_cond_signal(&fs->inval_cond);
	pthread_mutex_unlock(&fs->inval_lock);
	pthread_join(fs->inval_thread, NULL);
	fs->inval_running = false;
	inval_clear(fs->inval_queue);
	fs->inval_queue = NULL;
}

/* ---- set-up ------------------------------------------------------------- */

static char **split_tables(const char *spec)
{
	size_t n = 1, i = 0;
	char **list;
	const char *p;

	for (p = spec; *p; p++)
		n += *p == ':';
	list = calloc(n + 1, sizeof(*list));
	if (!list)
		return NULL;
	for (p = spec; *p;) {
		size_t len = strcspn(p, ":");
		list[i] = strndup(p, len);
		if (!list[i])
			goto fail;
		i++;
		p += len;
		if (*p == ':')
			p++;
	}
	return list;
fail:
	for (i = 0; list[i]; i++)
		free(list[i]);
	free(list);
	return NULL;
}

struct fs *fs_new(const struct fs_settings *s)
{
	struct fs *fs = calloc(1, sizeof(*fs));

	if (!fs)
		goto fail;
	pthread_mutex_init(&fs->tables_lock, NULL);
	pthread_mutex_init(&fs->writers_lock, NULL);
	pthread_mutex_init(&fs->stash_lock, NULL);
	pthread_mutex_init(&fs->created_lock, NULL);
	pthread_mutex_init(&fs->open_lock, NULL);
	pthread_mutex_init(&fs->inval_lock, NULL);
	pthread_cond_init(&fs->inval_cond, NULL);
	fs_pathset_init(&fs->held);
	fs_pathset_init(&fs->hidden);
	fs_pathset_init(&fs->aliases);
	fs->open_handles.next = fs->open_handles.prev = &fs->open_handles;
	fs->ddb = s->ddb;
	fs->putq = putq_new(s->ddb, 0);
	if (!fs->putq)
		goto fail;
	fs->format = s->format;
	fs->ttl = s->cache_ttl;
	fs->cache_bytes = s->cache_bytes;
	fs->consistent = s->consistent_read;
	fs->read_only = s->read_only;
	fs->overwrite = s->conflicts_overwrite;
	if (s->version_attribute) {
		fs->version = strdup(s->version_attribute);
		if (!fs->version)
			goto fail;
	}
	fs->uid = s->uid;
	fs->gid = s->gid;
	fs->started = time(NULL);
	fs->test_clock = getenv("DYNAMOFS_TEST_CLOCK") &&
			 strcmp(getenv("DYNAMOFS_TEST_CLOCK"), "1") == 0;
	fs->cache = cache_new(s->cache_bytes, s->cache_ttl);
	if (!fs->cache)
		goto fail;
	/* A remembered long key costs at most a few KB: a 4 KB share of the
	 * cache each, at least 1,024 of them. */
	if (shortname_map_new(
		s->cache_bytes / 4096 > 1024 ? s->cache_bytes / 4096 : 1024,
		&fs->shortnames))
		goto fail;
	/* What writers saw: a quarter of the cache's bound (the texts are
	 * mostly the cache's own, shared), one image per 4 KB of it. */
	fs->seen = seen_new(s->cache_bytes / 4, s->cache_bytes / 4096 > 1024
						    ? s->cache_bytes / 4096
						    : 1024);
	if (!fs->seen)
		goto fail;
	/* Which text the kernel's pages of each item came from: a small
	 * record per item file read lately, one per 1 KB of the cache. */
	fs->pages = pagecache_new(
	    s->cache_bytes / 1024 > 1024 ? s->cache_bytes / 1024 : 1024);
	if (!fs->pages)
		goto fail;
	/* Scratch files live in memory: bounded like the cache. */
	fs->scratch = scratch_store_new(s->cache_bytes);
	if (!fs->scratch)
		goto fail;
	if (keyname_parse_key_spec(s->hash_key ? s->hash_key : "pk:S",
				   &fs->new_hash))
		goto fail;
	if (s->range_key && s->range_key[0] &&
	    keyname_parse_key_spec(s->range_key, &fs->new_range))
		goto fail;
	if (s->tables) {
		fs->tables = split_tables(s->tables);
		if (!fs->tables)
			goto fail;
	}
	return fs;
fail:
	fs_free(fs);
	errno = ENOMEM;
	return NULL;
}

void fs_free(struct fs *fs)
{
	if (!fs)
		return;
	fs_inval_stop(fs);
	while (fs->open_handles.next &&
	       fs->open_handles.next != &fs->open_handles) {
		struct openlink *link = fs->open_handles.next;
		fs_openlink_remove(fs, link);
		link->free(link);
	}
	fs->writers = NULL;
	pthread_cond_destroy(&fs->inval_cond);
	cache_free(fs->cache);
	putq_free(fs->putq);
	scratch_store_free(fs->scratch);
	seen_free(fs->seen);
	pagecache_free(fs->pages);
	free(fs->version);
	keyname_attr_free(&fs->new_hash);
	keyname_attr_free(&fs->new_range);
	fs_stash_clear(fs);
	fs_created_clear(fs);
	fs_pathset_destroy(&fs->held);
	fs_pathset_destroy(&fs->hidden);
	fs_pathset_destroy(&fs->aliases);
	fs_tables_clear(fs);
	shortname_map_free(fs->shortnames);
	if (fs->tables) {
		for (char **p = fs->tables; *p; p++)
			free(*p);
		free(fs->tables);
	}
	pthread_mutex_destroy(&fs->tables_lock);
	pthread_mutex_destroy(&fs->writers_lock);
	pthread_mutex_destroy(&fs->stash_lock);
	pthread_mutex_destroy(&fs->created_lock);
	pthread_mutex_destroy(&fs->open_lock);
	pthread_mutex_destroy(&fs->inval_lock);
	free(fs);
}

/* ---- name sets and path sets -------------------------------------------- */

int fs_nameset_put(struct nameset *s, const char *name,
		   struct nameset_entry **e)
{
	size_t len = strlen(name);
	uint64_t hash = pathmap_hash(name, len);
	struct pathmap_node *n;

	*e = NULL;
	if (!s->map.buckets && pathmap_init(&s->map, 64))
		return -ENOMEM;
	n = pathmap_find(&s->map, name, len, hash);
	if (n) {
		*e = pathmap_entry(n, struct nameset_entry, node);
		return 0;
	}
	*e = calloc(1, sizeof(**e) + len + 1);
	if (!*e)
		return -ENOMEM;
	memcpy((*e)->name, name, len + 1);
	(*e)->node.path = (*e)->name;
	(*e)->node.len = len;
	(*e)->node.hash = hash;
	pathmap_insert(&s->map, &(*e)->node);
	return 1;
}

int fs_nameset_add(struct nameset *s, const char *name)
{
	struct nameset_entry *e;

	return fs_nameset_put(s, name, &e);
}

struct nameset_entry *fs_nameset_find(const struct nameset *s, const char *name)
{
	size_t len = strlen(name);
	struct pathmap_node *n;

	if (!s->map.buckets)
		return NULL;
	n = pathmap_find(&s->map, name, len, pathmap_hash(name, len));
	return n ? pathmap_entry(n, struct nameset_entry, node) : NULL;
}

bool fs_nameset_has(const struct nameset *s, const char *name)
{
	return fs_nameset_find(s, name) != NULL;
}

size_t fs_nameset_count(const struct nameset *s)
{
	return s->map.n;
}

struct nameset_entry *fs_nameset_next(const struct nameset *s,
				      const struct nameset_entry *e)
{
	struct pathmap_node *n;

	if (!s->map.buckets)
		return NULL;
	n = pathmap_next(&s->map, e ? &e->node : NULL);
	return n ? pathmap_entry(n, struct nameset_entry, node) : NULL;
}

void fs_nameset_remove(struct nameset *s, struct nameset_entry *e)
{
	pathmap_remove(&s->map, &e->node);
	free(e);
}

void fs_nameset_free(struct nameset *s)
{
	struct nameset_entry *e, *next;

	for (e = fs_nameset_next(s, NULL); e; e = next) {
		next = fs_nameset_next(s, e);
		free(e);
	}
	pathmap_free(&s->map);
}

void fs_pathset_init(struct fs_pathset *ps)
{
	memset(ps, 0, sizeof(*ps));
	pthread_mutex_init(&ps->lock, NULL);
}

bool fs_pathset_has(struct fs_pathset *ps, const char *path)
{
	bool found;

	if (__atomic_load_n(&ps->count, __ATOMIC_ACQUIRE) == 0)
		return false;
	pthread_mutex_lock(&ps->lock);
	found = fs_nameset_has(&ps->set, path);
	pthread_mutex_unlock(&ps->lock);
	return found;
}

int fs_pathset_add(struct fs_pathset *ps, const char *path, const char *value)
{
	struct nameset_entry *e;
	int rc;

	pthread_mutex_lock(&ps->lock);
	rc = fs_nameset_put(&ps->set, path, &e);
	if (rc == 1 && value) {
		e->val = strdup(value);
		if (!e->val) {
			fs_nameset_remove(&ps->set, e);
			rc = -ENOMEM;
		}
	}
	__atomic_store_n(&ps->count, fs_nameset_count(&ps->set),
			 __ATOMIC_RELEASE);
	pthread_mutex_unlock(&ps->lock);
	return rc < 0 ? rc : 0;
}

void fs_pathset_remove(struct fs_pathset *ps, const char *path, bool tree)
{
	size_t len = strlen(path);
	struct nameset_entry *e, *next;

	pthread_mutex_lock(&ps->lock);
	if (!tree) {
		e = fs_nameset_find(&ps->set, path);
		if (e) {
			free(e->val);
			fs_nameset_remove(&ps->set, e);
		}
	}
	for (e = tree ? fs_nameset_next(&ps->set, NULL) : NULL; e; e = next) {
		next = fs_nameset_next(&ps->set, e);
		if (strncmp(e->name, path, len) == 0 &&
		    (e->name[len] == '\0' || e->name[len] == '/')) {
			free(e->val);
			fs_nameset_remove(&ps->set, e);
		}
	}
	__atomic_store_n(&ps->count, fs_nameset_count(&ps->set),
			 __ATOMIC_RELEASE);
	pthread_mutex_unlock(&ps->lock);
}

bool fs_pathset_has_below(struct fs_pathset *ps, const char *dir)
{
	size_t len = strlen(dir);
	bool found = false;

	pthread_mutex_lock(&ps->lock);
	for (struct nameset_entry *e = fs_nameset_next(&ps->set, NULL); e;
	     e = fs_nameset_next(&ps->set, e)) {
		if (strncmp(e->name, dir, len) == 0 && e->name[len] == '/') {
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&ps->lock);
	return found;
}

void fs_pathset_each_in(struct fs_pathset *ps, const char *dir,
			void (*fn)(const char *name, void *arg), void *arg)
{
	size_t len = strlen(dir);

	pthread_mutex_lock(&ps->lock);
	for (struct nameset_entry *e = fs_nameset_next(&ps->set, NULL); e;
	     e = fs_nameset_next(&ps->set, e)) {
		const char *name = e->name + len + 1;
		if (strncmp(e->name, dir, len) == 0 && e->name[len] == '/' &&
		    !strchr(name, '/'))
			fn(name, arg);
	}
	pthread_mutex_unlock(&ps->lock);
}

char *fs_pathset_value(struct fs_pathset *ps, const char *path)
{
	struct nameset_entry *e;
	char *v = NULL;

	if (__atomic_load_n(&ps->count, __ATOMIC_ACQUIRE) == 0)
		return NULL;
	pthread_mutex_lock(&ps->lock);
	e = fs_nameset_find(&ps->set, path);
	if (e && e->val)
		v = strdup(e->val);
	pthread_mutex_unlock(&ps->lock);
	return v;
}

void fs_pathset_destroy(struct fs_pathset *ps)
{
	for (struct nameset_entry *e = fs_nameset_next(&ps->set, NULL); e;
	     e = fs_nameset_next(&ps->set, e))
		free(e->val);
	fs_nameset_free(&ps->set);
	pthread_mutex_destroy(&ps->lock);
}
