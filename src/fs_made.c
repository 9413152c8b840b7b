/* fs_made.c - the directories this mount made: for the cache time a name in
 * them is absent unless put there since, renewed by one Query when in use. */
#include "fs_i.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "ddb.h"
#include "keyname.h"
#include "monotime.h"

/* A table or partition this mount made with mkdir was empty then, so for
 * the cache time a name in it is absent unless the mount put it there
 * since: cp -r and xargs cp into a new directory need no GetItem per file
 * to learn that. (A create with O_EXCL is still a conditional put, so a
 * racing writer elsewhere gets EEXIST, never an overwrite.) */
struct created {
	double expires;
	struct nameset names; /* put there through this mount since */
	struct table *table;  /* a partition: what a refresh queries */
	json_t *pkey;
	bool refreshing;
	bool broken; /* a name could not be noted during a refresh */
};

/* A partition being filled outlives the cache time (cp -r of 10,000
 * files): on expiry, one Query of its sort keys (a few pages, and less
 * read capacity than a GetItem per file) renews the knowledge, up to
 * this many names. */
#define CREATED_REFRESH_MAX 20000

static void created_free(struct created *c)
{
	fs_nameset_free(&c->names);
	fs_table_unref(c->table);
	json_decref(c->pkey);
	free(c);
}

/* Takes the entry e off the registry and frees it; call with
 * fs->created_lock held. */
static void created_drop(struct fs *fs, struct nameset_entry *e)
{
	created_free(e->val);
	fs_nameset_remove(&fs->created, e);
}

/* Drops entries unused for a while (expired a cache time ago); call with
 * fs->created_lock held. */
static void created_prune(struct fs *fs, double now)
{
	struct nameset_entry *e, *next;

	for (e = fs_nameset_next(&fs->created, NULL); e; e = next) {
		struct created *c = e->val;

		next = fs_nameset_next(&fs->created, e);
		if (!c->refreshing && c->expires + fs->ttl <= now)
			created_drop(fs, e);
	}
}

/* Remembers that path (a table, or a partition of table t with key pkey)
 * was made empty by this mount just now. */
void fs_created_add(struct fs *fs, const char *path, struct table *t,
		    json_t *pkey)
{
	struct nameset_entry *e;
	struct created *c;
	int rc;

	if (fs->consistent || fs->ttl <= 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c)
		return;
	if (t && pkey && t->range_name) {
		c->table = fs_table_ref(t);
		c->pkey = json_incref(pkey);
	}
	c->expires = monotime_s() + fs->ttl;
	pthread_mutex_lock(&fs->created_lock);
	created_prune(fs, monotime_s());
	/* A path made again replaces what was known of it before. */
	rc = fs_nameset_put(&fs->created, path, &e);
	if (rc == 0)
		created_free(e->val);
	if (rc >= 0)
		e->val = c;
	pthread_mutex_unlock(&fs->created_lock);
	if (rc < 0)
		created_free(c);
}

/* Forgets path and every directory below it (rmdir). */
void fs_created_remove(struct fs *fs, const char *path)
{
	size_t len = strlen(path);
	struct nameset_entry *e, *next;

	pthread_mutex_lock(&fs->created_lock);
	for (e = fs_nameset_next(&fs->created, NULL); e; e = next) {
		next = fs_nameset_next(&fs->created, e);
		if (strncmp(e->name, path, len) == 0 &&
		    (e->name[len] == '\0' || e->name[len] == '/'))
			created_drop(fs, e);
	}
	pthread_mutex_unlock(&fs->created_lock);
}

/* The entry for dir, fresh or expired, or NULL; call with
 * fs->created_lock held. */
static struct created *created_find(struct fs *fs, const char *dir)
{
	struct nameset_entry *e = fs_nameset_find(&fs->created, dir);

	return e ? e->val : NULL;
}

/* Forgets dir; call with fs->created_lock held. */
static void created_unlink(struct fs *fs, const char *dir)
{
	struct nameset_entry *e = fs_nameset_find(&fs->created, dir);

	if (e)
		created_drop(fs, e);
}

struct name_query {
	const char *range_name;
	struct nameset *names;
};

/* ddb_item_fn of created_refresh: the name of one item's sort key. */
static int name_query_item(json_t *item, void *arg)
{
	struct name_query *q = arg;
	char *name = NULL;
	int rc;

	rc = fs_name_of_value(json_object_get(item, q->range_name),
			      KEYNAME_RANGE_ITEM, &name);
	if (!rc)
		rc = fs_nameset_add(q->names, name) < 0 ? -ENOMEM : 0;
	free(name);
	if (rc)
		return rc;
	if (fs_nameset_count(q->names) > CREATED_REFRESH_MAX)
		return -EFBIG;
	return 0;
}

/* Renews the expired entry for dir with the names a Query of the
 * partition returns now (plus those the mount noted meanwhile). Returns
 * true when the entry is fresh again. */
static bool created_refresh(struct fs *fs, const char *dir)
{
	struct nameset names = {0};
	struct name_query q = {.names = &names};
	struct ddb_error err = {0};
	struct created *c;
	struct table *t;
	struct ddb_page_req r = {.read = DDB_READ_RANGE_KEY};
	json_t *hv;
	double since = monotime_s();
	bool fresh = false;
	int rc;

	pthread_mutex_lock(&fs->created_lock);
	c = created_find(fs, dir);
	if (!c || !c->table || c->refreshing) {
		pthread_mutex_unlock(&fs->created_lock);
		return false;
	}
	c->refreshing = true;
	t = fs_table_ref(c->table);
	/* The entry may go while the Query runs: the value is ours. */
	hv = json_incref(json_object_get(c->pkey, t->hash_name));
	pthread_mutex_unlock(&fs->created_lock);
	q.range_name = t->range_name;
	r.table = t->name;
	r.hash_name = t->hash_name;
	r.range_name = t->range_name;
	r.hash_value = hv;
	rc = ddb_query_each(fs->ddb, &r, name_query_item, &q, &err);
	json_decref(hv);
	pthread_mutex_lock(&fs->created_lock);
	c = created_find(fs, dir);
	if (c && c->refreshing) {
		c->refreshing = false;
		if (!rc) {
			/* The names noted while the Query ran stay. */
			for (struct nameset_entry *e =
				 fs_nameset_next(&c->names, NULL);
			     e && !rc; e = fs_nameset_next(&c->names, e))
				if (fs_nameset_add(&names, e->name) < 0)
					rc = -ENOMEM;
		}
		if (!rc && !c->broken &&
		    fs_nameset_count(&names) <= CREATED_REFRESH_MAX) {
			fs_nameset_free(&c->names);
			c->names = names;
			memset(&names, 0, sizeof(names));
			c->expires = since + fs->ttl;
			fresh = true;
		} else {
			/* Too many names, or a failed Query: back to GetItem
			 * for good (no Query per lookup). */
			created_unlink(fs, dir);
		}
	}
	pthread_mutex_unlock(&fs->created_lock);
	fs_nameset_free(&names);
	fs_table_unref(t);
	return fresh;
}

/* Whether path is known absent: its directory was made by this mount
 * within the cache time (or renewed) and nothing of that name was put
 * there since. */
bool fs_created_says_absent(struct fs *fs, const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[4096];
	struct created *c;
	bool absent = false, expired = false;

	if (!slash || slash == path || (size_t)(slash - path) >= sizeof(dir))
		return false;
	memcpy(dir, path, (size_t)(slash - path));
	dir[slash - path] = '\0';
	for (int pass = 0; pass < 2; pass++) {
		double now = monotime_s();

		pthread_mutex_lock(&fs->created_lock);
		created_prune(fs, now);
		c = created_find(fs, dir);
		expired = c && c->expires <= now;
		absent = c && !expired && !fs_nameset_has(&c->names, slash + 1);
		/* Under the lock, so an item_stored of this name (which
		 * notes it here first) cannot come between and be hidden. */
		if (absent)
			cache_item_put_negative(fs->cache, path);
		pthread_mutex_unlock(&fs->created_lock);
		/* Only an entry expired within the last cache time is
		 * renewed (prune drops older ones): it is still being used. */
		if (!expired || pass == 1 || !created_refresh(fs, dir))
			break;
	}
	return absent;
}

/* Notes that path now exists: its name in its directory, and its
 * partition's name in the table. */
void fs_created_note(struct fs *fs, const char *path)
{
	char dir[4096];
	const char *slash;
	struct created *c;

	if (strlen(path) >= sizeof(dir))
		return;
	strcpy(dir, path);
	pthread_mutex_lock(&fs->created_lock);
	created_prune(fs, monotime_s());
	while ((slash = strrchr(dir, '/')) && slash != dir) {
		dir[slash - dir] = '\0';
		c = created_find(fs, dir);
		/* A name that cannot be noted (memory, too many) must not be
		 * answered absent: the entry goes. */
		if (!c || (fs_nameset_add(&c->names, slash + 1) >= 0 &&
			   fs_nameset_count(&c->names) <= CREATED_REFRESH_MAX))
			continue;
		if (c->refreshing)
			c->broken = true; /* created_refresh drops it */
		else
			created_unlink(fs, dir);
	}
	pthread_mutex_unlock(&fs->created_lock);
}

void fs_created_clear(struct fs *fs)
{
	for (struct nameset_entry *e = fs_nameset_next(&fs->created, NULL); e;
	     e = fs_nameset_next(&fs->created, e))
		created_free(e->val);
	fs_nameset_free(&fs->created);
}
