/* fs.c - the FUSE operations: paths become ListTables, DescribeTable, Scan,
 * Query and GetItem; listings stream page by page and fill the item cache. */
#include "fs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "codec.h"
#include "keyname.h"
#include "log.h"

#define TABLE_JSON ".table.json"
#define XATTR_KEY "user.dynamodb.key"

/* A table's key schema and its rendered .table.json, shared by reference. */
struct table {
	size_t refs; /* atomic */
	char *name;
	struct codec_schema schema;
	char *hash_name;
	char *range_name; /* NULL for a partition-key-only table */
	struct cache_blob *describe;
	double expires;
};

/* A name whose key did not fit in NAME_MAX: the shortened name's path and
 * the exact key it stands for. */
struct shortname {
	char *path;
	json_t *key;
	struct shortname *next;
};

struct fs {
	struct ddb_client *ddb;
	struct cache *cache;
	enum codec_format format;
	double ttl;
	bool consistent;
	bool read_only;
	char **tables; /* NULL-terminated filter, or NULL */
	uid_t uid;
	gid_t gid;
	time_t started;

	pthread_mutex_t lock; /* guards the two lists below */
	struct table **table_list;
	size_t n_tables;
	struct shortname *shortnames;
};

static struct fs *current_fs(void)
{
	return fuse_get_context()->private_data;
}

static double monotonic_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- key names ---------------------------------------------------------- */

static enum keyname_type keyname_type_of(char t)
{
	return t == 'N' ? KEYNAME_N : t == 'B' ? KEYNAME_B : KEYNAME_S;
}

/* The file name of one key attribute value ({"S": "x"}) as kind (which
 * fixes the suffix). Returns 0 and *name (caller frees with free()), or
 * -errno. */
static int name_of_value(const json_t *value, enum keyname_kind kind,
			 char **name)
{
	struct keyname_key k = { 0 };
	int rc;

	rc = keyname_key_from_json(value, &k);
	if (rc == 0)
		rc = keyname_encode(kind, k.type, k.value, k.len, name);
	keyname_key_free(&k);
	return rc;
}

/* The key attribute value ({"S": ...}) that name stands for. Returns 0 and
 * *value (new reference), -EINVAL when name is not such a name,
 * -ENAMETOOLONG when it is a shortened name (resolved elsewhere). */
static int value_of_name(const char *name, enum keyname_kind kind, char type,
			 json_t **value)
{
	struct keyname_key k = { 0 };
	int rc;

	rc = keyname_decode(name, kind, keyname_type_of(type), &k);
	if (rc == 0)
		rc = keyname_key_to_json(k.type, k.value, k.len, value);
	keyname_key_free(&k);
	return rc;
}

/* ---- tables ------------------------------------------------------------- */

static void table_unref(struct table *t)
{
	if (!t || __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	free(t->name);
	free(t->hash_name);
	free(t->range_name);
	cache_blob_unref(t->describe);
	free(t);
}

static struct table *table_ref(struct table *t)
{
	__atomic_add_fetch(&t->refs, 1, __ATOMIC_RELAXED);
	return t;
}

static bool table_allowed(const struct fs *fs, const char *name)
{
	if (!fs->tables)
		return true;
	for (char **p = fs->tables; *p; p++)
		if (strcmp(*p, name) == 0)
			return true;
	return false;
}

static char attr_type_of(json_t *defs, const char *name)
{
	size_t i;
	json_t *d;

	json_array_foreach(defs, i, d) {
		const char *n = json_string_value(json_object_get(d, "AttributeName"));
		const char *t = json_string_value(json_object_get(d, "AttributeType"));
		if (n && t && strcmp(n, name) == 0)
			return t[0];
	}
	return 'S';
}

/* Builds a table from DescribeTable's "Table" object. NULL on ENOMEM or a
 * description without a key schema. */
static struct table *table_from_description(const char *name, json_t *desc)
{
	json_t *schema = json_object_get(desc, "KeySchema");
	json_t *defs = json_object_get(desc, "AttributeDefinitions");
	struct table *t = calloc(1, sizeof(*t));
	char *text = NULL;
	size_t i;
	json_t *k;

	if (!t)
		return NULL;
	t->refs = 1;
	t->name = strdup(name);
	json_array_foreach(schema, i, k) {
		const char *n = json_string_value(json_object_get(k, "AttributeName"));
		const char *kt = json_string_value(json_object_get(k, "KeyType"));
		if (!n || !kt)
			continue;
		if (strcmp(kt, "HASH") == 0) {
			free(t->hash_name);
			t->hash_name = strdup(n);
			t->schema.hash_type = attr_type_of(defs, n);
		} else if (strcmp(kt, "RANGE") == 0) {
			free(t->range_name);
			t->range_name = strdup(n);
			t->schema.range_type = attr_type_of(defs, n);
		}
	}
	/* .table.json is DescribeTable's Table object as plain JSON. */
	text = json_dumps(desc, JSON_INDENT(2) | JSON_SORT_KEYS |
					JSON_REAL_PRECISION(15));
	if (!t->name || !t->hash_name || !text)
		goto fail;
	t->schema.hash_name = t->hash_name;
	t->schema.range_name = t->range_name;
	{
		size_t len = strlen(text);
		char *withnl = realloc(text, len + 2);
		if (!withnl)
			goto fail;
		text = withnl;
		text[len] = '\n';
		text[len + 1] = '\0';
		t->describe = cache_blob_new(text, len + 1);
	}
	free(text);
	if (!t->describe) {
		table_unref(t);
		return NULL;
	}
	return t;
fail:
	free(text);
	table_unref(t);
	return NULL;
}

/* The table called name, from memory while fresh, else DescribeTable.
 * Returns 0 and *out (a reference; drop with table_unref) or -errno
 * (-ENOENT when there is no such table or it is filtered out). */
static int table_get(struct fs *fs, const char *name, struct table **out)
{
	struct ddb_error err = { 0 };
	struct table *t = NULL;
	json_t *desc = NULL;
	double now = monotonic_now();
	int rc;

	*out = NULL;
	if (!table_allowed(fs, name) || !keyname_table_name_valid(name))
		return -ENOENT;
	pthread_mutex_lock(&fs->lock);
	for (size_t i = 0; i < fs->n_tables; i++) {
		if (strcmp(fs->table_list[i]->name, name) == 0 &&
		    fs->table_list[i]->expires > now) {
			*out = table_ref(fs->table_list[i]);
			break;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	if (*out)
		return 0;

	rc = ddb_describe_table(fs->ddb, name, &desc, &err);
	if (rc)
		return rc;
	t = table_from_description(name, desc);
	json_decref(desc);
	if (!t)
		return -EIO;
	/* The key schema never changes; the description is kept for the
	 * cache time so .table.json stays close to the truth. */
	t->expires = now + (fs->ttl > 1 ? fs->ttl : 1);

	pthread_mutex_lock(&fs->lock);
	for (size_t i = 0; i < fs->n_tables; i++) {
		if (strcmp(fs->table_list[i]->name, name) == 0) {
			table_unref(fs->table_list[i]);
			fs->table_list[i] = table_ref(t);
			goto stored;
		}
	}
	{
		struct table **grown = realloc(fs->table_list,
					       (fs->n_tables + 1) * sizeof(*grown));
		if (grown) {
			fs->table_list = grown;
			fs->table_list[fs->n_tables++] = table_ref(t);
		}
	}
stored:
	pthread_mutex_unlock(&fs->lock);
	*out = t;
	return 0;
}

/* Forgets a table (after DeleteTable or a ResourceNotFound). */
static void table_forget(struct fs *fs, const char *name)
{
	pthread_mutex_lock(&fs->lock);
	for (size_t i = 0; i < fs->n_tables; i++) {
		if (strcmp(fs->table_list[i]->name, name) == 0) {
			table_unref(fs->table_list[i]);
			fs->table_list[i] = fs->table_list[--fs->n_tables];
			break;
		}
	}
	pthread_mutex_unlock(&fs->lock);
}

/* ---- shortened names ---------------------------------------------------- */

static void shortname_put(struct fs *fs, const char *path, const json_t *key)
{
	struct shortname *s;

	pthread_mutex_lock(&fs->lock);
	for (s = fs->shortnames; s; s = s->next)
		if (strcmp(s->path, path) == 0)
			goto out;
	s = calloc(1, sizeof(*s));
	if (!s)
		goto out;
	s->path = strdup(path);
	s->key = json_deep_copy(key);
	if (!s->path || !s->key) {
		free(s->path);
		json_decref(s->key);
		free(s);
		goto out;
	}
	s->next = fs->shortnames;
	fs->shortnames = s;
out:
	pthread_mutex_unlock(&fs->lock);
}

/* The key value a shortened path stands for (new reference), or NULL. */
static json_t *shortname_get(struct fs *fs, const char *path)
{
	json_t *key = NULL;

	pthread_mutex_lock(&fs->lock);
	for (struct shortname *s = fs->shortnames; s; s = s->next) {
		if (strcmp(s->path, path) == 0) {
			key = json_incref(s->key);
			break;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	return key;
}

/* ---- paths -------------------------------------------------------------- */

enum node_kind {
	NODE_ROOT,
	NODE_TABLE,
	NODE_TABLE_JSON,
	NODE_PARTITION,
	NODE_ITEM,
};

struct node {
	enum node_kind kind;
	struct table *table; /* reference, for all but the root */
	json_t *key;         /* item: full key map; partition: {hash: value} */
	char parent[4096];   /* the directory holding this node */
};

static void node_clear(struct node *n)
{
	table_unref(n->table);
	json_decref(n->key);
	n->table = NULL;
	n->key = NULL;
}

static int list_directory(struct fs *fs, const char *dirpath,
			  struct table *t, json_t *pkey, bool first_page_only,
			  bool *found_any);

/* Turns one name inside a table or partition into a key attribute value,
 * listing the directory once to learn a shortened name's key. */
static int resolve_name(struct fs *fs, const char *path, const char *dirpath,
			struct table *t, json_t *pkey, const char *name,
			enum keyname_kind kind, char type, json_t **value)
{
	bool any;
	int rc;

	rc = value_of_name(name, kind, type, value);
	if (rc != -ENAMETOOLONG)
		return rc == -EINVAL ? -ENOENT : rc;
	*value = shortname_get(fs, path);
	if (*value)
		return 0;
	rc = list_directory(fs, dirpath, t, pkey, false, &any);
	if (rc)
		return rc;
	*value = shortname_get(fs, path);
	return *value ? 0 : -ENOENT;
}

/* Works out what path names. Returns 0 and fills n (clear with
 * node_clear), or -ENOENT and friends. */
static int resolve(struct fs *fs, const char *path, struct node *n)
{
	char buf[4096];
	char *parts[4];
	int count = 0, rc;
	json_t *hv = NULL, *rv = NULL;
	char *save = NULL, *tok;

	memset(n, 0, sizeof(*n));
	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	strcpy(buf, path);
	for (tok = strtok_r(buf, "/", &save); tok;
	     tok = strtok_r(NULL, "/", &save)) {
		if (count == 3)
			return -ENOENT;
		parts[count++] = tok;
	}
	if (count == 0) {
		n->kind = NODE_ROOT;
		return 0;
	}
	rc = table_get(fs, parts[0], &n->table);
	if (rc)
		return rc;
	if (count == 1) {
		n->kind = NODE_TABLE;
		strcpy(n->parent, "/");
		return 0;
	}
	snprintf(n->parent, sizeof(n->parent), "/%s", parts[0]);
	if (count == 2 && strcmp(parts[1], TABLE_JSON) == 0) {
		n->kind = NODE_TABLE_JSON;
		return 0;
	}
	if (!n->table->range_name) {
		if (count != 2) {
			rc = -ENOENT;
			goto fail;
		}
		rc = resolve_name(fs, path, n->parent, n->table, NULL, parts[1],
				  KEYNAME_HASH_ITEM, n->table->schema.hash_type,
				  &hv);
		if (rc)
			goto fail;
		n->kind = NODE_ITEM;
		n->key = json_pack("{sO}", n->table->hash_name, hv);
		goto done;
	}
	{
		char ppath[4096];
		snprintf(ppath, sizeof(ppath), "/%s/%s", parts[0], parts[1]);
		rc = resolve_name(fs, ppath, n->parent, n->table, NULL, parts[1],
				  KEYNAME_PARTITION, n->table->schema.hash_type,
				  &hv);
		if (rc)
			goto fail;
		if (count == 2) {
			n->kind = NODE_PARTITION;
			n->key = json_pack("{sO}", n->table->hash_name, hv);
			goto done;
		}
		snprintf(n->parent, sizeof(n->parent), "%s", ppath);
		{
			json_t *pkey = json_pack("{sO}", n->table->hash_name, hv);
			rc = pkey ? resolve_name(fs, path, ppath, n->table, pkey,
						 parts[2], KEYNAME_RANGE_ITEM,
						 n->table->schema.range_type,
						 &rv)
				  : -ENOMEM;
			json_decref(pkey);
		}
		if (rc)
			goto fail;
		n->kind = NODE_ITEM;
		n->key = json_pack("{sOsO}", n->table->hash_name, hv,
				   n->table->range_name, rv);
	}
done:
	json_decref(hv);
	json_decref(rv);
	if (!n->key) {
		node_clear(n);
		return -ENOMEM;
	}
	return 0;
fail:
	json_decref(hv);
	json_decref(rv);
	node_clear(n);
	return rc;
}

/* ---- items -------------------------------------------------------------- */

/* Renders item and remembers it under path. Returns 0 with *text (a blob
 * reference) and *mtime, or -errno. */
static int item_store(struct fs *fs, struct table *t, const char *path,
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
	*mtime = cache_item_put(fs->cache, path, rendered, len);
	*text = cache_blob_new(rendered, len);
	free(rendered);
	return *text ? 0 : -ENOMEM;
}

/* The rendered item at path: from the cache while fresh, else GetItem.
 * Returns 0 with *text (a blob reference; caller drops) and *mtime, or
 * -ENOENT when there is no such item, or another -errno. */
static int item_fetch(struct fs *fs, const char *path, struct node *n,
		      struct cache_blob **text, time_t *mtime)
{
	struct ddb_error err = { 0 };
	struct cache_item ci;
	json_t *item = NULL;
	int rc;

	*text = NULL;
	if (cache_item_get(fs->cache, path, &ci) == 0) {
		if (ci.negative)
			return -ENOENT;
		*text = ci.text;
		*mtime = ci.mtime;
		return 0;
	}
	rc = ddb_get_item(fs->ddb, n->table->name, n->key, fs->consistent,
			  &item, &err);
	if (rc == -ENOENT && err.code[0] == '\0') {
		cache_item_put_negative(fs->cache, path);
		return -ENOENT;
	}
	if (rc == -ENOENT)
		table_forget(fs, n->table->name);
	if (rc)
		return rc;
	rc = item_store(fs, n->table, path, item, text, mtime);
	json_decref(item);
	return rc;
}

/* ---- listings ----------------------------------------------------------- */

/* A set of names, to de-duplicate the partition values a Scan returns. */
struct nameset {
	char **slots;
	size_t cap;
	size_t n;
};

static uint64_t hash_str(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/* Adds name; returns 1 when added, 0 when present, -ENOMEM. */
static int nameset_add(struct nameset *s, const char *name)
{
	size_t i;

	if (s->n * 2 >= s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		char **slots = calloc(cap, sizeof(*slots));
		if (!slots)
			return -ENOMEM;
		for (i = 0; i < s->cap; i++) {
			if (!s->slots[i])
				continue;
			size_t j = hash_str(s->slots[i]) % cap;
			while (slots[j])
				j = (j + 1) % cap;
			slots[j] = s->slots[i];
		}
		free(s->slots);
		s->slots = slots;
		s->cap = cap;
	}
	for (i = hash_str(name) % s->cap; s->slots[i]; i = (i + 1) % s->cap)
		if (strcmp(s->slots[i], name) == 0)
			return 0;
	s->slots[i] = strdup(name);
	if (!s->slots[i])
		return -ENOMEM;
	s->n++;
	return 1;
}

static void nameset_free(struct nameset *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->slots[i]);
	free(s->slots);
	memset(s, 0, sizeof(*s));
}

enum lister_kind {
	LIST_ROOT,       /* ListTables */
	LIST_ITEMS,      /* Scan of a partition-key-only table */
	LIST_PARTITIONS, /* Scan of the partition key, de-duplicated */
	LIST_PARTITION,  /* Query of one partition */
};

/* One listing in progress: the pages fetched so far become entries, with
 * the attributes of each item rendered on the way. */
struct lister {
	struct fs *fs;
	enum lister_kind kind;
	char *dirpath;
	struct table *table; /* reference; NULL for the root */
	json_t *pkey;        /* partition: {hash: value} */
	json_t *last_key;    /* LastEvaluatedKey, or NULL */
	char *last_table;    /* LastEvaluatedTableName */
	bool started;
	bool done;
	struct cache_listing *entries;
	off_t *sizes; /* per entry, -1 when unknown (directories) */
	time_t *mtimes;
	size_t attr_cap;
	struct nameset seen;
};

static void lister_free(struct lister *l)
{
	if (!l)
		return;
	free(l->dirpath);
	table_unref(l->table);
	json_decref(l->pkey);
	json_decref(l->last_key);
	free(l->last_table);
	cache_listing_unref(l->entries);
	free(l->sizes);
	free(l->mtimes);
	nameset_free(&l->seen);
	free(l);
}

static struct lister *lister_new(struct fs *fs, const char *dirpath,
				 struct table *t, json_t *pkey)
{
	struct lister *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->fs = fs;
	l->dirpath = strdup(dirpath);
	l->entries = cache_listing_new();
	if (!l->dirpath || !l->entries) {
		lister_free(l);
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
	l->table = t ? table_ref(t) : NULL;
	l->pkey = json_incref(pkey);
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

static char *join_path(const char *dir, const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, name) < 0)
		return NULL;
	return p;
}

/* Adds one item of a Scan/Query page: its name, and its rendered text to
 * the cache so that stat and cat need no request. */
static int lister_add_item(struct lister *l, json_t *item)
{
	struct table *t = l->table;
	bool ranged = l->kind == LIST_PARTITION;
	const char *keyattr = ranged ? t->range_name : t->hash_name;
	enum keyname_kind kind = ranged ? KEYNAME_RANGE_ITEM : KEYNAME_HASH_ITEM;
	char type = ranged ? t->schema.range_type : t->schema.hash_type;
	json_t *value = json_object_get(item, keyattr);
	struct cache_blob *text = NULL;
	char *name = NULL, *path = NULL;
	time_t mtime = 0;
	int rc;

	if (!value)
		return 0; /* cannot happen for a key attribute; skip it */
	rc = name_of_value(value, kind, &name);
	if (rc)
		goto out;
	rc = -ENOMEM;
	path = join_path(l->dirpath, name);
	if (!path)
		goto out;
	if (keyname_is_shortened(name, kind, keyname_type_of(type)))
		shortname_put(l->fs, path, value);
	rc = item_store(l->fs, t, path, item, &text, &mtime);
	if (rc)
		goto out;
	rc = lister_add(l, name, false, (off_t)text->len, mtime);
out:
	cache_blob_unref(text);
	free(path);
	free(name);
	return rc;
}

static int lister_add_partition(struct lister *l, json_t *item)
{
	json_t *value = json_object_get(item, l->table->hash_name);
	char *name = NULL, *path = NULL;
	int rc;

	if (!value)
		return 0;
	rc = name_of_value(value, KEYNAME_PARTITION, &name);
	if (rc)
		goto out;
	rc = nameset_add(&l->seen, name);
	if (rc <= 0)
		goto out;
	if (keyname_is_shortened(name, KEYNAME_PARTITION,
				 keyname_type_of(l->table->schema.hash_type))) {
		rc = -ENOMEM;
		path = join_path(l->dirpath, name);
		if (!path)
			goto out;
		shortname_put(l->fs, path, value);
	}
	rc = lister_add(l, name, true, -1, 0);
out:
	free(path);
	free(name);
	return rc;
}

/* Fetches the next page of the listing (one request) and appends its
 * entries. Returns 0 or -errno; sets l->done after the last page. */
static int lister_next_page(struct lister *l)
{
	struct ddb_error err = { 0 };
	json_t *req = NULL, *resp = NULL, *items, *item;
	const char *op;
	size_t i;
	int rc;

	if (l->done)
		return 0;
	l->started = true;
	if (l->kind == LIST_ROOT) {
		json_t *names, *n;
		const char *last;

		rc = ddb_list_tables_page(l->fs->ddb, l->last_table, 100, &resp,
					  &err);
		if (rc)
			return rc;
		names = json_object_get(resp, "TableNames");
		json_array_foreach(names, i, n) {
			const char *name = json_string_value(n);
			if (!name || !table_allowed(l->fs, name))
				continue;
			rc = lister_add(l, name, true, -1, 0);
			if (rc)
				goto out;
		}
		last = json_string_value(json_object_get(resp, "LastEvaluatedTableName"));
		free(l->last_table);
		l->last_table = last ? strdup(last) : NULL;
		l->done = !last;
		rc = 0;
		goto out;
	}

	rc = -ENOMEM;
	req = json_pack("{ss}", "TableName", l->table->name);
	if (!req)
		goto out;
	if (l->fs->consistent)
		json_object_set_new(req, "ConsistentRead", json_true());
	if (l->last_key)
		json_object_set(req, "ExclusiveStartKey", l->last_key);
	if (l->kind == LIST_PARTITION) {
		op = "Query";
		json_object_set_new(req, "KeyConditionExpression",
				    json_string("#h = :h"));
		json_object_set_new(req, "ExpressionAttributeNames",
				    json_pack("{ss}", "#h", l->table->hash_name));
		json_object_set_new(req, "ExpressionAttributeValues",
				    json_pack("{sO}", ":h",
					      json_object_get(l->pkey,
							      l->table->hash_name)));
	} else {
		op = "Scan";
		if (l->kind == LIST_PARTITIONS) {
			json_object_set_new(req, "ProjectionExpression",
					    json_string("#h"));
			json_object_set_new(req, "ExpressionAttributeNames",
					    json_pack("{ss}", "#h",
						      l->table->hash_name));
		}
	}
	rc = ddb_call(l->fs->ddb, op, req, &resp, &err);
	if (rc) {
		if (rc == -ENOENT)
			table_forget(l->fs, l->table->name);
		goto out;
	}
	items = json_object_get(resp, "Items");
	json_array_foreach(items, i, item) {
		rc = l->kind == LIST_PARTITIONS ? lister_add_partition(l, item)
						: lister_add_item(l, item);
		if (rc)
			goto out;
	}
	json_decref(l->last_key);
	l->last_key = json_incref(json_object_get(resp, "LastEvaluatedKey"));
	l->done = !l->last_key;
	rc = 0;
out:
	json_decref(req);
	json_decref(resp);
	return rc;
}

/* Keeps a finished listing in the cache. */
static void lister_publish(struct lister *l)
{
	if (l->done)
		cache_dir_put(l->fs->cache, l->dirpath, l->entries);
}

/* Lists a table or partition (the first page only, or all of it), which
 * fills the item cache; *found_any tells whether it has any entry. */
static int list_directory(struct fs *fs, const char *dirpath, struct table *t,
			  json_t *pkey, bool first_page_only, bool *found_any)
{
	struct lister *l = lister_new(fs, dirpath, t, pkey);
	int rc;

	if (!l)
		return -ENOMEM;
	do {
		rc = lister_next_page(l);
	} while (!rc && !l->done && !(first_page_only && l->entries->n));
	*found_any = l->entries->n > 0;
	if (!rc)
		lister_publish(l);
	lister_free(l);
	return rc;
}

/* ---- attributes --------------------------------------------------------- */

static void fill_dir_stat(const struct fs *fs, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFDIR | (fs->read_only ? 0555 : 0755);
	st->st_nlink = 2;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_size = 4096;
	st->st_blksize = 4096;
	st->st_mtime = st->st_ctime = st->st_atime = fs->started;
}

static void fill_file_stat(const struct fs *fs, struct stat *st, off_t size,
			   time_t mtime, bool writable)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFREG | (fs->read_only || !writable ? 0444 : 0644);
	st->st_nlink = 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_size = size;
	st->st_blocks = (size + 511) / 512;
	st->st_blksize = 4096;
	st->st_mtime = st->st_ctime = st->st_atime = mtime;
}

/* Whether the partition at path has items: from a fresh listing, else the
 * first page of its Query (which also fills the cache). */
static int partition_exists(struct fs *fs, const char *path, struct node *n)
{
	struct cache_listing *l = cache_dir_get(fs->cache, path);
	struct cache_item ci;
	bool any = false;
	int rc;

	if (l) {
		any = l->n > 0;
		cache_listing_unref(l);
		return any ? 0 : -ENOENT;
	}
	if (cache_item_get(fs->cache, path, &ci) == 0) {
		cache_blob_unref(ci.text);
		return ci.negative ? -ENOENT : 0;
	}
	rc = list_directory(fs, path, n->table, n->key, true, &any);
	if (rc)
		return rc;
	if (!any) {
		cache_item_put_negative(fs->cache, path);
		return -ENOENT;
	}
	return 0;
}

static int fs_getattr(const char *path, struct stat *st,
		      struct fuse_file_info *fi)
{
	struct fs *fs = current_fs();
	struct cache_blob *text = NULL;
	struct node n;
	time_t mtime;
	int rc;

	rc = resolve(fs, path, &n);
	if (rc)
		return rc;
	switch (n.kind) {
	case NODE_ROOT:
	case NODE_TABLE:
		fill_dir_stat(fs, st);
		break;
	case NODE_TABLE_JSON:
		fill_file_stat(fs, st, (off_t)n.table->describe->len,
			       fs->started, false);
		break;
	case NODE_PARTITION:
		rc = partition_exists(fs, path, &n);
		if (!rc)
			fill_dir_stat(fs, st);
		break;
	case NODE_ITEM:
		rc = item_fetch(fs, path, &n, &text, &mtime);
		if (!rc)
			fill_file_stat(fs, st, (off_t)text->len, mtime, true);
		cache_blob_unref(text);
		break;
	}
	node_clear(&n);
	return rc;
}

/* ---- directories -------------------------------------------------------- */

/* What opendir hands readdir: a cached listing, or a listing in progress. */
struct dir_handle {
	pthread_mutex_t lock;
	struct cache_listing *cached;
	struct lister *lister;
};

static int fs_opendir(const char *path, struct fuse_file_info *fi)
{
	struct fs *fs = current_fs();
	struct dir_handle *dh;
	struct node n;
	int rc;

	rc = resolve(fs, path, &n);
	if (rc)
		return rc;
	if (n.kind != NODE_ROOT && n.kind != NODE_TABLE &&
	    n.kind != NODE_PARTITION) {
		node_clear(&n);
		return -ENOTDIR;
	}
	rc = -ENOMEM;
	dh = calloc(1, sizeof(*dh));
	if (!dh)
		goto out;
	pthread_mutex_init(&dh->lock, NULL);
	dh->cached = cache_dir_get(fs->cache, path);
	if (!dh->cached) {
		dh->lister = lister_new(fs, path, n.table,
					n.kind == NODE_PARTITION ? n.key : NULL);
		if (!dh->lister) {
			pthread_mutex_destroy(&dh->lock);
			free(dh);
			goto out;
		}
	}
	fi->fh = (uintptr_t)dh;
	rc = 0;
out:
	node_clear(&n);
	return rc;
}

/* The attributes readdirplus hands the kernel for entry i, or false when
 * they are unknown. */
static bool entry_stat(struct fs *fs, const char *dirpath,
		       const struct cache_dirent *e, const struct lister *l,
		       size_t i, struct stat *st)
{
	struct cache_item ci;
	char *path;
	bool ok = false;

	if (e->is_dir) {
		fill_dir_stat(fs, st);
		return true;
	}
	if (l && l->sizes[i] >= 0) {
		fill_file_stat(fs, st, l->sizes[i], l->mtimes[i], true);
		return true;
	}
	path = join_path(dirpath, e->name);
	if (path && cache_item_get(fs->cache, path, &ci) == 0 && ci.text) {
		fill_file_stat(fs, st, (off_t)ci.text->len, ci.mtime, true);
		cache_blob_unref(ci.text);
		ok = true;
	}
	free(path);
	return ok;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t filler,
		      off_t offset, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	struct fs *fs = current_fs();
	struct dir_handle *dh = (struct dir_handle *)(uintptr_t)fi->fh;
	bool plus = flags & FUSE_READDIR_PLUS;
	struct stat st;
	size_t i;
	int rc = 0;

	pthread_mutex_lock(&dh->lock);
	/* Offsets: 1 and 2 are "." and "..", entry i has offset i + 3. */
	if (offset < 1) {
		fill_dir_stat(fs, &st);
		if (filler(buf, ".", &st, 1, 0))
			goto out;
		offset = 1;
	}
	if (offset < 2) {
		fill_dir_stat(fs, &st);
		if (filler(buf, "..", &st, 2, 0))
			goto out;
		offset = 2;
	}
	i = (size_t)offset - 2;
	for (;;) {
		struct cache_listing *entries =
			dh->cached ? dh->cached : dh->lister->entries;
		const struct cache_dirent *e;
		bool have;

		if (i >= entries->n) {
			if (dh->cached || dh->lister->done)
				break;
			/* The kernel wants more: only now fetch a page. */
			rc = lister_next_page(dh->lister);
			if (rc)
				goto out;
			lister_publish(dh->lister);
			continue;
		}
		e = &entries->entries[i];
		have = plus && entry_stat(fs, path, e, dh->lister, i, &st);
		if (!have) {
			memset(&st, 0, sizeof(st));
			st.st_mode = e->is_dir ? S_IFDIR : S_IFREG;
		}
		if (filler(buf, e->name, &st, (off_t)(i + 3),
			   have ? FUSE_FILL_DIR_PLUS : 0))
			break;
		i++;
	}
out:
	pthread_mutex_unlock(&dh->lock);
	return rc;
}

static int fs_releasedir(const char *path, struct fuse_file_info *fi)
{
	struct dir_handle *dh = (struct dir_handle *)(uintptr_t)fi->fh;

	if (!dh)
		return 0;
	cache_listing_unref(dh->cached);
	lister_free(dh->lister);
	pthread_mutex_destroy(&dh->lock);
	free(dh);
	return 0;
}

/* ---- files -------------------------------------------------------------- */

/* What open hands read: the file's bytes as they were at open. */
struct item_handle {
	struct cache_blob *text;
};

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	struct fs *fs = current_fs();
	struct item_handle *fh;
	struct cache_blob *text = NULL;
	struct node n;
	time_t mtime;
	int rc;

	if ((fi->flags & O_ACCMODE) != O_RDONLY)
		return fs->read_only ? -EROFS : -EACCES;
	rc = resolve(fs, path, &n);
	if (rc)
		return rc;
	switch (n.kind) {
	case NODE_TABLE_JSON:
		text = cache_blob_ref(n.table->describe);
		break;
	case NODE_ITEM:
		rc = item_fetch(fs, path, &n, &text, &mtime);
		break;
	default:
		rc = -EISDIR;
		break;
	}
	node_clear(&n);
	if (rc)
		return rc;
	fh = calloc(1, sizeof(*fh));
	if (!fh) {
		cache_blob_unref(text);
		return -ENOMEM;
	}
	fh->text = text;
	fi->fh = (uintptr_t)fh;
	return 0;
}

static int fs_read(const char *path, char *buf, size_t size, off_t offset,
		   struct fuse_file_info *fi)
{
	struct item_handle *fh = (struct item_handle *)(uintptr_t)fi->fh;
	size_t len = fh->text->len;

	if (offset < 0)
		return -EINVAL;
	if ((size_t)offset >= len)
		return 0;
	if (size > len - (size_t)offset)
		size = len - (size_t)offset;
	memcpy(buf, fh->text->data + offset, size);
	return (int)size;
}

static int fs_release(const char *path, struct fuse_file_info *fi)
{
	struct item_handle *fh = (struct item_handle *)(uintptr_t)fi->fh;

	if (fh) {
		cache_blob_unref(fh->text);
		free(fh);
	}
	return 0;
}

/* ---- extended attributes ------------------------------------------------ */

static int fs_getxattr(const char *path, const char *name, char *value,
		       size_t size)
{
	struct fs *fs = current_fs();
	struct node n;
	char *text = NULL;
	size_t len;
	int rc;

	rc = resolve(fs, path, &n);
	if (rc)
		return rc;
	if (strcmp(name, XATTR_KEY) != 0 ||
	    (n.kind != NODE_ITEM && n.kind != NODE_PARTITION)) {
		rc = -ENODATA;
		goto out;
	}
	text = json_dumps(n.key, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text) {
		rc = -ENOMEM;
		goto out;
	}
	len = strlen(text);
	if (size == 0) {
		rc = (int)len;
	} else if (size < len) {
		rc = -ERANGE;
	} else {
		memcpy(value, text, len);
		rc = (int)len;
	}
out:
	free(text);
	node_clear(&n);
	return rc;
}

static int fs_listxattr(const char *path, char *list, size_t size)
{
	struct fs *fs = current_fs();
	struct node n;
	int rc;

	rc = resolve(fs, path, &n);
	if (rc)
		return rc;
	if (n.kind == NODE_ITEM || n.kind == NODE_PARTITION) {
		rc = (int)sizeof(XATTR_KEY);
		if (size && size < sizeof(XATTR_KEY))
			rc = -ERANGE;
		else if (size)
			memcpy(list, XATTR_KEY, sizeof(XATTR_KEY));
	}
	node_clear(&n);
	return rc;
}

static int fs_statfs(const char *path, struct statvfs *sv)
{
	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = 4096;
	sv->f_frsize = 4096;
	sv->f_namemax = 255;
	return 0;
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	struct fs *fs = current_fs();

	/* The kernel may keep names and attributes as long as we keep items. */
	cfg->entry_timeout = fs->ttl;
	cfg->attr_timeout = fs->ttl;
	cfg->negative_timeout = fs->ttl;
	cfg->use_ino = 0;
	cfg->nullpath_ok = 0;
	conn->want |= conn->capable & FUSE_CAP_READDIRPLUS;
	return fs;
}

static const struct fuse_operations fs_ops = {
	.init = fs_init,
	.getattr = fs_getattr,
	.opendir = fs_opendir,
	.readdir = fs_readdir,
	.releasedir = fs_releasedir,
	.open = fs_open,
	.read = fs_read,
	.release = fs_release,
	.getxattr = fs_getxattr,
	.listxattr = fs_listxattr,
	.statfs = fs_statfs,
};

const struct fuse_operations *fs_operations(void)
{
	return &fs_ops;
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
	fs->format = s->format;
	fs->ttl = s->cache_ttl;
	fs->consistent = s->consistent_read;
	fs->read_only = s->read_only;
	fs->uid = s->uid;
	fs->gid = s->gid;
	fs->started = time(NULL);
	pthread_mutex_init(&fs->lock, NULL);
	fs->cache = cache_new(s->cache_bytes, s->cache_ttl);
	if (!fs->cache)
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
	cache_free(fs->cache);
	for (size_t i = 0; i < fs->n_tables; i++)
		table_unref(fs->table_list[i]);
	free(fs->table_list);
	while (fs->shortnames) {
		struct shortname *s = fs->shortnames;
		fs->shortnames = s->next;
		free(s->path);
		json_decref(s->key);
		free(s);
	}
	if (fs->tables) {
		for (char **p = fs->tables; *p; p++)
			free(*p);
		free(fs->tables);
	}
	pthread_mutex_destroy(&fs->lock);
	free(fs);
}
