/* fs_list.c - the listing engine: ListTables, Scan and Query page by page as
 * the reader asks, rendering items into the cache, partition fills, stash. */
#include "fs_i.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "keyname.h"
#include "log.h"
#include "monotime.h"
#include "scratch.h"

/* ---- items -------------------------------------------------------------- */

/* Remembers rendered text (taken: freed here) under path. */
static int item_keep(struct fs *fs, const char *path, char *rendered,
		     size_t len, struct cache_blob **text, time_t *mtime)
{
	bool changed;

	/* One copy, shared by the cache and the caller. */
	*text = cache_blob_new(rendered, len);
	free(rendered);
	if (!*text)
		return -ENOMEM;
	*mtime = cache_item_put_blob_changed(fs->cache, path, *text, &changed);
	/* A re-read that shows another content: what the kernel holds of
	 * the file (size, pages) goes now, not at its own time-out. */
	if (changed)
		fs_invalidate_later(fs, path);
	return 0;
}

/* Renders item and remembers it under path. Returns 0 with *text (a blob
 * reference) and *mtime, or -errno. */
int fs_item_store(struct fs *fs, struct table *t, const char *path,
		  json_t *item, struct cache_blob **text, time_t *mtime)
{
	char *rendered = NULL;
	size_t len = 0;
	int rc;

	rc = codec_render(item, &t->schema, fs->format, &rendered, &len);
	if (rc) {
		log_msg(LOG_ERR, "cannot render %s: %s", path, strerror(-rc));
		return rc;
	}
	return item_keep(fs, path, rendered, len, text, mtime);
}

int fs_item_store_body(struct fs *fs, struct table *t, const char *path,
		       const char *body, size_t len, struct cache_blob **text,
		       time_t *mtime)
{
	char *rendered = NULL;
	size_t rlen = 0;
	int rc;

	*text = NULL;
	rc = codec_render_member(body, len, "Item", &t->schema, fs->format,
				 &rendered, &rlen);
	if (rc == -ENOENT)
		return rc;
	if (rc == -EBADMSG) {
		/* The checksum held, so the server sent it so: a retry
		 * would get the same. */
		log_msg(LOG_ERR, "cannot read the GetItem answer for %s: %s",
			path, "malformed response body");
		return -EIO;
	}
	if (rc) {
		log_msg(LOG_ERR, "cannot render %s: %s", path, strerror(-rc));
		return rc;
	}
	return item_keep(fs, path, rendered, rlen, text, mtime);
}

/* ---- listings ----------------------------------------------------------- */

/* The partitions a full Scan of a small table fills: a nameset of
 * partition names whose values are their listings, built as the items
 * come and kept once the whole table was read. */

/* The listing being built for partition name (borrowed), or NULL. */
static struct cache_listing *partfill_get(struct nameset *p, const char *name)
{
	struct nameset_entry *e;
	int rc = fs_nameset_put(p, name, &e);

	if (rc == 1)
		e->val = cache_listing_new();
	return rc < 0 ? NULL : e->val;
}

static void partfill_free(struct nameset *p)
{
	for (struct nameset_entry *e = fs_nameset_next(p, NULL); e;
	     e = fs_nameset_next(p, e))
		cache_listing_unref(e->val);
	fs_nameset_free(p);
}

void fs_lister_free(struct lister *l)
{
	if (!l)
		return;
	free(l->dirpath);
	fs_table_unref(l->table);
	json_decref(l->pkey);
	json_decref(l->last_key);
	ddb_scan_cursor_close(l->scan);
	free(l->last_table);
	cache_listing_unref(l->entries);
	free(l->sizes);
	free(l->mtimes);
	fs_nameset_free(&l->seen);
	partfill_free(&l->parts);
	json_decref(l->found);
	free(l);
}

struct lister *fs_lister_new(struct fs *fs, const char *dirpath,
			     struct table *t, json_t *pkey)
{
	struct lister *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->fs = fs;
	l->dirpath = strdup(dirpath);
	l->entries = cache_listing_new();
	if (!l->dirpath || !l->entries) {
		fs_lister_free(l);
		return NULL;
	}
	if (!t)
		l->kind = LIST_ROOT;
	else if (pkey)
		l->kind = LIST_PARTITION;
	else if (t->range_name)
		l->kind = LIST_PARTITIONS;
	else
		l->kind = LIST_ITEMS;
	l->table = t ? fs_table_ref(t) : NULL;
	l->pkey = json_incref(pkey);
	/* TableSizeBytes lags (0 for hours after a load on DynamoDB, always
	 * on dynalite), so a table not known to be large is read whole until
	 * its rendered items pass the budget (lister_fill_item). */
	l->fill = l->kind == LIST_PARTITIONS && fs->ttl > 0 &&
		  t->size_bytes <= fs->cache_bytes / 8;
	return l;
}

static int lister_add(struct lister *l, const char *name, bool is_dir,
		      off_t size, time_t mtime)
{
	int rc;

	if (l->entries->n == l->attr_cap) {
		size_t cap = l->attr_cap ? l->attr_cap * 2 : 64;
		off_t *s = realloc(l->sizes, cap * sizeof(*s));
		if (!s)
			return -ENOMEM;
		l->sizes = s;
		time_t *m = realloc(l->mtimes, cap * sizeof(*m));
		if (!m)
			return -ENOMEM;
		l->mtimes = m;
		l->attr_cap = cap;
	}
	l->sizes[l->entries->n] = size;
	l->mtimes[l->entries->n] = mtime;
	rc = cache_listing_add(l->entries, name, is_dir);
	return rc;
}

char *fs_join_path(const char *dir, const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, name) < 0)
		return NULL;
	return p;
}

/* A shortened name's key, remembered, and kept for the lookup that wants
 * it (l->want). */
static void lister_shortname(struct lister *l, const char *path, json_t *value)
{
	fs_shortname_put(l->fs, path, value);
	if (l->want && !l->found && strcmp(path, l->want) == 0)
		l->found = json_incref(value);
}

/* One item of a Scan/Query page, as much of it as the listing uses: the
 * key values and, where the item is kept, its text, both read from the
 * item's bytes; the whole tree only where that reader leaves the item to
 * jansson. */
struct page_item {
	json_t *hash, *range; /* key values (references), NULL when absent */
	char *text;	      /* rendered from the bytes, or NULL: see tree */
	size_t len;
	json_t *tree; /* the item, when text could not be had from the bytes */
};

static void page_item_clear(struct page_item *it)
{
	json_decref(it->hash);
	json_decref(it->range);
	free(it->text);
	json_decref(it->tree);
}

/* Reads the item in the len bytes at json (one JSON object, as
 * ddb_item_raw_fn hands it): the keys, and the text when want_text. */
static int page_item_read(struct lister *l, const char *json, size_t len,
			  bool want_text, struct page_item *it)
{
	struct table *t = l->table;
	int rc;

	*it = (struct page_item){0};
	rc = codec_render_keyed(json, len, &t->schema, l->fs->format, &it->hash,
				&it->range, want_text ? &it->text : NULL,
				&it->len);
	if (rc != -ENOTSUP)
		return rc;
	/* The page reader checked these bytes parse: a failure here is
	 * memory. */
	it->tree = json_loadb(json, len, JSON_ALLOW_NUL, NULL);
	if (!it->tree)
		return -ENOMEM;
	it->hash = json_incref(json_object_get(it->tree, t->hash_name));
	if (t->range_name)
		it->range =
		    json_incref(json_object_get(it->tree, t->range_name));
	return 0;
}

/* Remembers the item's text under path: the text read from the bytes
 * (taken), else the tree rendered. */
static int page_item_store(struct lister *l, const char *path,
			   struct page_item *it, struct cache_blob **text,
			   time_t *mtime)
{
	char *rendered = it->text;

	if (!rendered)
		return it->tree ? fs_item_store(l->fs, l->table, path, it->tree,
						text, mtime)
				: -EINVAL;
	it->text = NULL;
	return item_keep(l->fs, path, rendered, it->len, text, mtime);
}

/* Adds one item of a Scan/Query page: its name, and its rendered text to
 * the cache so that stat and cat need no request. */
static int lister_add_item(struct lister *l, struct page_item *it)
{
	struct table *t = l->table;
	bool ranged = l->kind == LIST_PARTITION;
	enum keyname_kind kind =
	    ranged ? KEYNAME_RANGE_ITEM : KEYNAME_HASH_ITEM;
	char type = ranged ? t->schema.range_type : t->schema.hash_type;
	json_t *value = ranged ? it->range : it->hash;
	struct cache_blob *text = NULL;
	char *name = NULL, *path = NULL;
	time_t mtime = 0;
	int rc;

	if (!value)
		return 0; /* cannot happen for a key attribute; skip it */
	rc = fs_name_of_value(value, kind, &name);
	if (rc)
		goto out;
	rc = -ENOMEM;
	path = fs_join_path(l->dirpath, name);
	if (!path)
		goto out;
	if (keyname_is_shortened(name, kind, fs_key_type(type)))
		lister_shortname(l, path, value);
	rc = page_item_store(l, path, it, &text, &mtime);
	if (rc)
		goto out;
	rc = lister_add(l, name, false, (off_t)text->len, mtime);
out:
	cache_blob_unref(text);
	free(path);
	free(name);
	return rc;
}

/* With l->fill, the item of a full Scan: rendered into the cache under
 * its partition, and named in that partition's listing. */
static int lister_fill_item(struct lister *l, const char *pname,
			    struct page_item *it)
{
	struct table *t = l->table;
	json_t *value = it->range;
	struct cache_listing *pl = partfill_get(&l->parts, pname);
	struct cache_blob *text = NULL;
	char *name = NULL, *path = NULL;
	time_t mtime;
	int rc;

	if (!pl)
		return -ENOMEM;
	if (!value)
		return 0;
	rc = fs_name_of_value(value, KEYNAME_RANGE_ITEM, &name);
	if (rc)
		goto out;
	rc = -ENOMEM;
	if (asprintf(&path, "%s/%s/%s", l->dirpath, pname, name) < 0) {
		path = NULL;
		goto out;
	}
	if (keyname_is_shortened(name, KEYNAME_RANGE_ITEM,
				 fs_key_type(t->schema.range_type)))
		lister_shortname(l, path, value);
	rc = page_item_store(l, path, it, &text, &mtime);
	if (!rc) {
		size_t before = pl->bytes;

		rc = cache_listing_add(pl, name, false);
		/* The item's text and path, and what its partition's
		 * listing grew by (a new partition's costs the most). */
		l->fill_bytes += text->len + 2 * strlen(path) +
				 (pl->bytes - before) +
				 (pl->n == 1 ? sizeof(*pl) + 256 : 0);
	}
	if (!rc) {
		if (l->fill_bytes > l->fs->cache_bytes / 8) {
			/* Too large to keep: no partition listings, and the
			 * next pages (same count) carry only the keys. */
			l->fill = false;
			partfill_free(&l->parts);
		}
	}
out:
	cache_blob_unref(text);
	free(path);
	free(name);
	return rc;
}

static int lister_add_partition(struct lister *l, struct page_item *it)
{
	json_t *value = it->hash;
	char *name = NULL, *path = NULL;
	int rc;

	if (!value)
		return 0;
	rc = fs_name_of_value(value, KEYNAME_PARTITION, &name);
	if (rc)
		goto out;
	if (l->fill && lister_fill_item(l, name, it) != 0) {
		/* An item that cannot be kept costs the fill, not the
		 * listing: the names still come. */
		l->fill = false;
		partfill_free(&l->parts);
	}
	rc = fs_nameset_add(&l->seen, name);
	if (rc <= 0)
		goto out;
	if (keyname_is_shortened(name, KEYNAME_PARTITION,
				 fs_key_type(l->table->schema.hash_type))) {
		rc = -ENOMEM;
		path = fs_join_path(l->dirpath, name);
		if (!path)
			goto out;
		lister_shortname(l, path, value);
	}
	rc = lister_add(l, name, true, -1, 0);
out:
	free(path);
	free(name);
	return rc;
}

/* Fetches the next page of the listing (one request) and appends its
 * entries. Returns 0 or -errno; sets l->done after the last page. */
static int lister_root_page(struct lister *l)
{
	struct ddb_error err = {0};
	json_t *resp = NULL, *names, *n;
	const char *last;
	size_t i;
	int rc;

	rc = ddb_list_tables_page(l->fs->ddb, l->last_table, 100, &resp, &err);
	if (rc)
		return rc;
	names = json_object_get(resp, "TableNames");
	json_array_foreach(names, i, n)
	{
		const char *name = json_string_value(n);
		if (!name || !fs_table_allowed(l->fs, name))
			continue;
		rc = lister_add(l, name, true, -1, 0);
		if (rc)
			goto out;
	}
	last =
	    json_string_value(json_object_get(resp, "LastEvaluatedTableName"));
	free(l->last_table);
	l->last_table = last ? strdup(last) : NULL;
	l->done = !last;
out:
	json_decref(resp);
	return rc;
}

/* What the lister's pages read. (No parallel Scan segments: in parallel
 * they read several pages ahead of the reader.) */
static struct ddb_page_req lister_page_req(struct lister *l)
{
	struct ddb_page_req r = {
	    .table = l->table->name,
	    .hash_name = l->table->hash_name,
	    .read = DDB_READ_ITEMS,
	    .start = l->last_key,
	    .consistent = l->fs->consistent,
	};

	if (l->kind == LIST_PARTITION)
		r.hash_value = json_object_get(l->pkey, l->table->hash_name);
	else if (l->kind == LIST_PARTITIONS && !l->fill)
		r.read = DDB_READ_HASH_KEY;
	return r;
}

/* ddb_item_raw_fn of the listing's pages. */
static int lister_item(const char *json, size_t len, void *arg)
{
	struct lister *l = arg;
	bool parts = l->kind == LIST_PARTITIONS;
	struct page_item it;
	int rc;

	/* A partition name needs no text; an item is kept while the fill
	 * lasts. */
	rc = page_item_read(l, json, len, !parts || l->fill, &it);
	if (!rc)
		rc = parts ? lister_add_partition(l, &it)
			   : lister_add_item(l, &it);
	page_item_clear(&it);
	return rc;
}

/* One Query page of a partition's listing, its items added. */
static int lister_query_page(struct lister *l)
{
	struct ddb_error err = {0};
	struct ddb_page_req r = lister_page_req(l);
	json_t *last = NULL;
	char *body = NULL;
	size_t len = 0;
	int rc;

	rc = ddb_query_page(l->fs->ddb, &r, &body, &len, &err);
	if (rc)
		goto out;
	rc = ddb_page_read_raw(body, len, lister_item, l, &last);
	if (rc == -EBADMSG) {
		log_msg(LOG_ERR, "%s: a malformed page from DynamoDB",
			l->dirpath);
		rc = -EIO;
	}
	if (rc)
		goto out;
	json_decref(l->last_key);
	l->last_key = last;
	l->done = !last;
out:
	free(body);
	return rc;
}

/* One Scan page of a table's listing (whole items while the fill lasts,
 * then the partition keys alone), its items added. */
static int lister_scan_page(struct lister *l)
{
	struct ddb_error err = {0};
	int rc;

	if (!l->scan) {
		struct ddb_page_req r = lister_page_req(l);

		rc = ddb_scan_cursor_open(l->fs->ddb, &r, 1, &l->scan);
		if (rc)
			return rc;
	}
	rc = ddb_scan_cursor_next_raw(l->scan, lister_item, l, &err);
	if (l->kind == LIST_PARTITIONS && !l->fill) {
		int rs = ddb_scan_cursor_set_read(l->scan, DDB_READ_HASH_KEY);

		if (!rc)
			rc = rs;
	}
	if (!rc)
		l->done = ddb_scan_cursor_done(l->scan);
	return rc;
}

/* Fetches the next page of the listing (one request) and appends its
 * entries. Returns 0 or -errno; sets l->done after the last page. */
int fs_lister_next_page(struct lister *l)
{
	int rc;

	if (l->done)
		return 0;
	l->started = true;
	if (l->kind == LIST_ROOT)
		return lister_root_page(l);
	rc = l->kind == LIST_PARTITION ? lister_query_page(l)
				       : lister_scan_page(l);
	if (rc == -ENOENT && l->table)
		fs_table_forget(l->fs, l->table->name);
	return rc;
}

/* Keeps a finished listing in the cache, and with it the listing of
 * every partition a full Scan read. */
void fs_lister_publish(struct lister *l)
{
	char *path;

	if (!l->done)
		return;
	cache_dir_put(l->fs->cache, l->dirpath, l->entries);
	if (!l->fill || l->filled)
		return;
	l->filled = true;
	for (struct nameset_entry *e = fs_nameset_next(&l->parts, NULL); e;
	     e = fs_nameset_next(&l->parts, e)) {
		if (!e->val)
			continue;
		path = fs_join_path(l->dirpath, e->name);
		if (path)
			cache_dir_put(l->fs->cache, path, e->val);
		free(path);
	}
}

/* A listing that a lookup began (the first page of a partition's Query,
 * to learn that it exists) and the next opendir of that path goes on with,
 * so that page is not fetched twice. */
struct stash {
	struct lister *lister;
	double expires;
	struct stash *next;
};

#define STASH_MAX 8

/* Keeps l (taken) for the next opendir of its path, for the cache time. */
static void stash_put(struct fs *fs, struct lister *l)
{
	struct stash *st = calloc(1, sizeof(*st)), *p, *old = NULL;
	int n = 1;

	if (!st || fs->ttl <= 0) {
		free(st);
		fs_lister_free(l);
		return;
	}
	st->lister = l;
	st->expires = monotime_s() + fs->ttl;
	pthread_mutex_lock(&fs->stash_lock);
	st->next = fs->stashed;
	fs->stashed = st;
	/* Only the newest few: cut the list after STASH_MAX. */
	for (p = fs->stashed; p; p = p->next, n++) {
		if (n == STASH_MAX) {
			old = p->next;
			p->next = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&fs->stash_lock);
	while (old) {
		struct stash *next = old->next;
		fs_lister_free(old->lister);
		free(old);
		old = next;
	}
}

/* The stashed listing of path (taken; caller frees), or NULL. */
struct lister *fs_stash_take(struct fs *fs, const char *path)
{
	struct lister *l = NULL;
	struct stash **pp, *st = NULL;
	double now = monotime_s();

	pthread_mutex_lock(&fs->stash_lock);
	for (pp = &fs->stashed; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->lister->dirpath, path) == 0) {
			st = *pp;
			*pp = st->next;
			break;
		}
	}
	pthread_mutex_unlock(&fs->stash_lock);
	if (st && st->expires > now)
		l = st->lister;
	else if (st)
		fs_lister_free(st->lister);
	free(st);
	return l;
}

void fs_stash_clear(struct fs *fs)
{
	while (fs->stashed) {
		struct stash *st = fs->stashed;
		fs->stashed = st->next;
		fs_lister_free(st->lister);
		free(st);
	}
}

/* The key value of the shortened name path in dirpath, read from the
 * listing's pages up to the one that shows it. Returns 0 and *value (a
 * new reference), -ENOENT when no page does, or -errno. */
int fs_list_for_shortname(struct fs *fs, const char *dirpath, struct table *t,
			  json_t *pkey, const char *path, json_t **value)
{
	struct lister *l = fs_lister_new(fs, dirpath, t, pkey);
	int rc;

	*value = NULL;
	if (!l)
		return -ENOMEM;
	l->want = path;
	do {
		rc = fs_lister_next_page(l);
	} while (!rc && !l->done && !l->found);
	if (!rc)
		fs_lister_publish(l);
	*value = l->found;
	l->found = NULL;
	fs_lister_free(l);
	if (!rc && !*value)
		rc = -ENOENT;
	return rc;
}

/* Whether the partition at path exists: held by the mount, in a fresh
 * listing, else the first page of its Query (which also fills the cache). */
int fs_partition_exists(struct fs *fs, const char *path, struct node *n)
{
	struct lister *lst;
	struct cache_listing *l;
	struct cache_item ci;
	bool any = false;
	int rc;

	if (fs_pathset_has(&fs->held, path) ||
	    scratch_dir_has_files(fs->scratch, path))
		return 0;
	l = cache_dir_get(fs->cache, path);
	if (l) {
		any = l->n > 0;
		cache_listing_unref(l);
		return any ? 0 : -ENOENT;
	}
	if (cache_item_get(fs->cache, path, &ci) == 0) {
		cache_blob_unref(ci.text);
		return ci.negative ? -ENOENT : 0;
	}
	if (fs_created_says_absent(fs, path))
		return -ENOENT;
	/* The first page of its Query says; a longer partition's listing
	 * is kept for the opendir that usually follows (ls, cat P/...). */
	lst = fs_lister_new(fs, path, n->table, n->key);
	if (!lst)
		return -ENOMEM;
	do {
		rc = fs_lister_next_page(lst);
	} while (!rc && !lst->done && !lst->entries->n);
	any = lst->entries->n > 0;
	if (rc || !any) {
		fs_lister_free(lst);
		if (rc)
			return rc;
		cache_item_put_negative(fs->cache, path);
		return -ENOENT;
	}
	if (lst->done) {
		fs_lister_publish(lst);
		fs_lister_free(lst);
	} else {
		stash_put(fs, lst);
	}
	return 0;
}
