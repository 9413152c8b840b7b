/* fs_state.c - the filesystem's state: fs_new and fs_free, the list of open
 * handles, and the thread that sends the kernel its cache invalidations. */
#include "fs_i.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "keyname.h"
#include "putq.h"
#include "scratch.h"
#include "shortname.h"

/* ---- open handles ------------------------------------------------------- */

void fs_openlink_add(struct fs *fs, struct openlink *link,
		     void (*free_fn)(struct openlink *))
{
	link->free = free_fn;
	pthread_mutex_lock(&fs->lock);
	link->next = fs->open_handles.next;
	link->prev = &fs->open_handles;
	link->next->prev = link;
	fs->open_handles.next = link;
	pthread_mutex_unlock(&fs->lock);
}

void fs_openlink_remove(struct fs *fs, struct openlink *link)
{
	pthread_mutex_lock(&fs->lock);
	if (link->next) {
		link->prev->next = link->next;
		link->next->prev = link->prev;
		link->next = link->prev = NULL;
	}
	pthread_mutex_unlock(&fs->lock);
}

/* Asks the kernel to forget what it cached of path (attributes, pages),
 * soon, from the invalidation thread. */
void fs_invalidate_later(struct fs *fs, const char *path)
{
	struct pathlist *p;

	if (!fs->inval_running)
		return;
	p = calloc(1, sizeof(*p));
	if (!p)
		return;
	p->path = strdup(path);
	if (!p->path) {
		free(p);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	p->next = fs->inval_queue;
	fs->inval_queue = p;
	pthread_cond_signal(&fs->inval_cond);
	pthread_mutex_unlock(&fs->lock);
}

static void *inval_main(void *arg)
{
	struct fs *fs = arg;
	struct pathlist *batch;

	pthread_mutex_lock(&fs->lock);
	while (!fs->inval_stop) {
		if (!fs->inval_queue) {
			pthread_cond_wait(&fs->inval_cond, &fs->lock);
			continue;
		}
		batch = fs->inval_queue;
		fs->inval_queue = NULL;
		pthread_mutex_unlock(&fs->lock);
		while (batch) {
			struct pathlist *p = batch;
			batch = p->next;
			/* -ENOENT: the kernel holds nothing for it. */
			fuse_invalidate_path(fs->fuse, p->path);
			fs_pathset_free_one(p);
		}
		pthread_mutex_lock(&fs->lock);
	}
	pthread_mutex_unlock(&fs->lock);
	return NULL;
}

void fs_inval_start(struct fs *fs, struct fuse *fuse)
{
	fs->fuse = fuse;
	if (fuse && pthread_create(&fs->inval_thread, NULL, inval_main, fs) == 0)
		fs->inval_running = true;
}

void fs_inval_stop(struct fs *fs)
{
	if (!fs->inval_running)
		return;
	pthread_mutex_lock(&fs->lock);
	fs->inval_stop = true;
	pthread_cond_signal(&fs->inval_cond);
	pthread_mutex_unlock(&fs->lock);
	pthread_join(fs->inval_thread, NULL);
	fs->inval_running = false;
	fs_pathset_clear(&fs->inval_queue);
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
	fs->ddb = s->ddb;
	fs->putq = putq_new(s->ddb, 0);
	if (!fs->putq)
		goto fail;
	fs->format = s->format;
	fs->ttl = s->cache_ttl;
	fs->cache_bytes = s->cache_bytes;
	fs->consistent = s->consistent_read;
	fs->read_only = s->read_only;
	fs->uid = s->uid;
	fs->gid = s->gid;
	fs->started = time(NULL);
	fs->test_clock = getenv("DYNAMOFS_TEST_CLOCK") &&
			 strcmp(getenv("DYNAMOFS_TEST_CLOCK"), "1") == 0;
	pthread_mutex_init(&fs->lock, NULL);
	pthread_cond_init(&fs->inval_cond, NULL);
	fs->open_handles.next = fs->open_handles.prev = &fs->open_handles;
	fs->cache = cache_new(s->cache_bytes, s->cache_ttl);
	if (!fs->cache)
		goto fail;
	/* A remembered long key costs at most a few KB: a 4 KB share of the
	 * cache each, at least 1,024 of them. */
	if (shortname_map_new(s->cache_bytes / 4096 > 1024 ? s->cache_bytes / 4096
							   : 1024,
			      &fs->shortnames))
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
	while (fs->open_handles.next && fs->open_handles.next != &fs->open_handles) {
		struct openlink *link = fs->open_handles.next;
		fs_openlink_remove(fs, link);
		link->free(link);
	}
	fs->writers = NULL;
	pthread_cond_destroy(&fs->inval_cond);
	cache_free(fs->cache);
	putq_free(fs->putq);
	scratch_store_free(fs->scratch);
	keyname_attr_free(&fs->new_hash);
	keyname_attr_free(&fs->new_range);
	fs_stash_clear(fs);
	fs_created_clear(fs);
	fs_pathset_clear(&fs->held);
	fs_pathset_clear(&fs->hidden);
	fs_pathset_clear(&fs->aliases);
	for (size_t i = 0; i < fs->n_tables; i++)
		fs_table_unref(fs->table_list[i]);
	free(fs->table_list);
	shortname_map_free(fs->shortnames);
	if (fs->tables) {
		for (char **p = fs->tables; *p; p++)
			free(*p);
		free(fs->tables);
	}
	pthread_mutex_destroy(&fs->lock);
	free(fs);
}
