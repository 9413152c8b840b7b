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
#include "monotime.h"
#include "putq.h"
#include "scratch.h"
#include "shortname.h"

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
	uint64_t size_bytes; /* TableSizeBytes when described */
	double expires;
};

/* Every open file and directory handle is on one list, so that the handles
 * the kernel never releases (the mount ends while files are open) are
 * freed with the filesystem. */
struct openlink {
	struct openlink *prev;
	struct openlink *next;
	void (*free)(struct openlink *link);
};

struct fs {
	struct ddb_client *ddb;
	struct putq *putq; /* unconditional puts, grouped when concurrent */
	struct cache *cache;
	enum codec_format format;
	double ttl;
	size_t cache_bytes;
	bool consistent;
	bool read_only;
	bool test_clock; /* DYNAMOFS_TEST_CLOCK=1: see fs_setxattr */
	char **tables; /* NULL-terminated filter, or NULL */
	uid_t uid;
	gid_t gid;
	time_t started;

	struct scratch_store *scratch;
	struct keyname_attr new_hash;  /* schema plain mkdir gives tables */
	struct keyname_attr new_range; /* name NULL: no sort key */

	pthread_mutex_t lock; /* guards the lists below */
	struct table **table_list;
	size_t n_tables;
	struct shortname_map *shortnames; /* its own lock */
	struct pathlist *held;	  /* empty partitions the mount holds */
	struct pathlist *hidden;  /* items renamed to a scratch name */
	struct pathlist *aliases; /* "/NAME,HASH:T" -> NAME */
	struct item_handle *writers; /* open for writing, by path */
	struct stash *stashed;	     /* listings begun by a lookup */
	struct created *created;     /* directories mkdir made, see below */
	struct openlink open_handles; /* sentinel of a circular list */

	/* Kernel cache invalidations, sent from a thread of their own: a
	 * notification sent from inside a request on the same file may wait
	 * on that request (libfuse warns of the deadlock). */
	struct fuse *fuse;
	pthread_t inval_thread;
	bool inval_running;
	bool inval_stop;
	pthread_cond_t inval_cond;
	struct pathlist *inval_queue; /* under lock */
};

static struct fs *current_fs(void)
{
	return fuse_get_context()->private_data;
}

static void open_add(struct fs *fs, struct openlink *link,
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

static void open_remove(struct fs *fs, struct openlink *link)
{
	pthread_mutex_lock(&fs->lock);
	if (link->next) {
		link->prev->next = link->next;
		link->next->prev = link->prev;
		link->next = link->prev = NULL;
	}
	pthread_mutex_unlock(&fs->lock);
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
	t->size_bytes = (uint64_t)json_integer_value(
		json_object_get(desc, "TableSizeBytes"));
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
	double now = monotime_s();
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
	if (rc && rc != -ENOENT) {
		/* A key schema never changes: while DescribeTable cannot be
		 * answered (throttling, an outage), the one described before
		 * still names every item right, and a save must not fail on
		 * a request it does not need. Only .table.json stays old. */
		pthread_mutex_lock(&fs->lock);
		for (size_t i = 0; i < fs->n_tables; i++) {
			if (strcmp(fs->table_list[i]->name, name) == 0) {
				*out = table_ref(fs->table_list[i]);
				break;
			}
		}
		pthread_mutex_unlock(&fs->lock);
		if (*out) {
			log_msg(LOG_WARNING, "%s: DescribeTable failed (%s); using the key schema described before",
				name, strerror(-rc));
			return 0;
		}
	}
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

/* Remembers the key a shortened name stands for; bounded, so a table of
 * many long keys costs a lookup each, never a scan, and memory that stays
 * put (a name forgotten is learnt again by listing its directory). */
static void shortname_put(struct fs *fs, const char *path, const json_t *key)
{
	if (shortname_map_put(fs->shortnames, path, key))
		log_msg(LOG_WARNING, "%s: no memory to remember its key", path);
}

/* The key value a shortened path stands for (new reference), or NULL. */
static json_t *shortname_get(struct fs *fs, const char *path)
{
	return shortname_map_get(fs->shortnames, path);
}

/* ---- path sets ---------------------------------------------------------- */

/* A small set of paths under fs->lock: partitions the mount holds, items
 * renamed to a scratch name, table aliases. Few entries; a list will do. */
struct pathlist {
	char *path;
	char *value; /* aliases: the table name; otherwise NULL */
	struct pathlist *next;
};

static bool pathlist_has(struct fs *fs, struct pathlist *const *head,
			 const char *path)
{
	bool found = false;

	pthread_mutex_lock(&fs->lock);
	for (const struct pathlist *p = *head; p; p = p->next) {
		if (strcmp(p->path, path) == 0) {
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	return found;
}

/* Adds path (with value, may be NULL) unless present. Returns 0 or -ENOMEM. */
static int pathlist_add(struct fs *fs, struct pathlist **head, const char *path,
			const char *value)
{
	struct pathlist *p;
	int rc = 0;

	pthread_mutex_lock(&fs->lock);
	for (p = *head; p; p = p->next)
		if (strcmp(p->path, path) == 0)
			goto out;
	rc = -ENOMEM;
	p = calloc(1, sizeof(*p));
	if (!p)
		goto out;
	p->path = strdup(path);
	p->value = value ? strdup(value) : NULL;
	if (!p->path || (value && !p->value)) {
		free(p->path);
		free(p->value);
		free(p);
		goto out;
	}
	p->next = *head;
	*head = p;
	rc = 0;
out:
	pthread_mutex_unlock(&fs->lock);
	return rc;
}

static void pathlist_free_one(struct pathlist *p)
{
	free(p->path);
	free(p->value);
	free(p);
}

/* Removes path, and with tree every path below it too. */
static void pathlist_remove(struct fs *fs, struct pathlist **head,
			    const char *path, bool tree)
{
	size_t len = strlen(path);
	struct pathlist **pp, *p;

	pthread_mutex_lock(&fs->lock);
	for (pp = head; *pp;) {
		p = *pp;
		if (strcmp(p->path, path) == 0 ||
		    (tree && strncmp(p->path, path, len) == 0 &&
		     p->path[len] == '/')) {
			*pp = p->next;
			pathlist_free_one(p);
			continue;
		}
		pp = &p->next;
	}
	pthread_mutex_unlock(&fs->lock);
}

/* Whether any path below dir (not dir itself) is in the list. */
static bool pathlist_has_below(struct fs *fs, struct pathlist *const *head,
			       const char *dir)
{
	size_t len = strlen(dir);
	bool found = false;

	pthread_mutex_lock(&fs->lock);
	for (const struct pathlist *p = *head; p; p = p->next) {
		if (strncmp(p->path, dir, len) == 0 && p->path[len] == '/') {
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	return found;
}

/* The value stored for path (a copy; caller frees with free()), or NULL. */
static char *pathlist_value(struct fs *fs, struct pathlist *const *head,
			    const char *path)
{
	char *v = NULL;

	pthread_mutex_lock(&fs->lock);
	for (const struct pathlist *p = *head; p; p = p->next) {
		if (strcmp(p->path, path) == 0) {
			v = p->value ? strdup(p->value) : NULL;
			break;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	return v;
}

static void pathlist_clear(struct pathlist **head)
{
	while (*head) {
		struct pathlist *p = *head;
		*head = p->next;
		pathlist_free_one(p);
	}
}

/* ---- kernel cache invalidation -------------------------------------------- */

/* Asks the kernel to forget what it cached of path (attributes, pages),
 * soon, from the invalidation thread. */
static void invalidate_later(struct fs *fs, const char *path)
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
			pathlist_free_one(p);
		}
		pthread_mutex_lock(&fs->lock);
	}
	pthread_mutex_unlock(&fs->lock);
	return NULL;
}

static void inval_start(struct fs *fs, struct fuse *fuse)
{
	fs->fuse = fuse;
	if (fuse && pthread_create(&fs->inval_thread, NULL, inval_main, fs) == 0)
		fs->inval_running = true;
}

static void inval_stop(struct fs *fs)
{
	if (!fs->inval_running)
		return;
	pthread_mutex_lock(&fs->lock);
	fs->inval_stop = true;
	pthread_cond_signal(&fs->inval_cond);
	pthread_mutex_unlock(&fs->lock);
	pthread_join(fs->inval_thread, NULL);
	fs->inval_running = false;
	pathlist_clear(&fs->inval_queue);
}

/* ---- paths -------------------------------------------------------------- */

enum node_kind {
	NODE_ROOT,
	NODE_TABLE,
	NODE_TABLE_JSON,
	NODE_PARTITION,
	NODE_ITEM,
	NODE_SCRATCH, /* a name that is not an item: the mount's memory only */
};

struct node {
	enum node_kind kind;
	struct table *table;	      /* reference, for all but the root */
	json_t *key;		      /* item: full key map; partition: {hash: value} */
	struct scratch_node *scratch; /* NODE_SCRATCH: the file, or NULL if none */
	bool hidden;		      /* NODE_ITEM renamed to a scratch name */
	char parent[4096];	      /* the directory holding this node */
	const char *name;	      /* the last component, inside path */
};

static void node_clear(struct node *n)
{
	table_unref(n->table);
	json_decref(n->key);
	scratch_node_unref(n->scratch);
	n->table = NULL;
	n->key = NULL;
	n->scratch = NULL;
}

static int list_for_shortname(struct fs *fs, const char *dirpath,
			      struct table *t, json_t *pkey, const char *path,
			      json_t **value);
static bool created_says_absent(struct fs *fs, const char *path);
static void created_note(struct fs *fs, const char *path);

/* Turns one name inside a table or partition into a key attribute value,
 * reading the listing up to the page that shows a shortened name to learn
 * its key. Returns 0, -EINVAL for a name that is not a key's (a scratch
 * name), -ENOENT, ... */
static int resolve_name(struct fs *fs, const char *path, const char *dirpath,
			struct table *t, json_t *pkey, const char *name,
			enum keyname_kind kind, char type, json_t **value)
{
	int rc;

	rc = value_of_name(name, kind, type, value);
	if (rc != -ENAMETOOLONG)
		return rc;
	*value = shortname_get(fs, path);
	if (*value)
		return 0;
	return list_for_shortname(fs, dirpath, t, pkey, path, value);
}

/* Works out what path names. Returns 0 and fills n (clear with
 * node_clear), or -ENOENT and friends. A name that is not a key's is a
 * NODE_SCRATCH, with n->scratch NULL when no such scratch file exists. */
static int resolve(struct fs *fs, const char *path, struct node *n)
{
	char buf[4096], ppath[4096];
	char *parts[4];
	int count = 0, rc;
	json_t *hv = NULL, *rv = NULL, *pkey = NULL;
	char *save = NULL, *tok, *alias = NULL;

	memset(n, 0, sizeof(*n));
	if (strlen(path) >= sizeof(buf))
		return -ENAMETOOLONG;
	n->name = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
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
	/* "NAME,HASH:T" names its table NAME after mkdir made it. */
	snprintf(ppath, sizeof(ppath), "/%s", parts[0]);
	alias = pathlist_value(fs, &fs->aliases, ppath);
	rc = table_get(fs, alias ? alias : parts[0], &n->table);
	free(alias);
	if (rc)
		return rc;
	if (count == 1) {
		n->kind = NODE_TABLE;
		strcpy(n->parent, "/");
		return 0;
	}
	snprintf(n->parent, sizeof(n->parent), "/%s", parts[0]);
	if (scratch_lookup(fs->scratch, path, &n->scratch) == 0) {
		n->kind = NODE_SCRATCH;
		return 0;
	}
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
		if (rc == -EINVAL) {
			n->kind = NODE_SCRATCH;
			return 0;
		}
		if (rc)
			goto fail;
		n->kind = NODE_ITEM;
		n->key = json_pack("{sO}", n->table->hash_name, hv);
		goto done;
	}
	snprintf(ppath, sizeof(ppath), "/%s/%s", parts[0], parts[1]);
	rc = resolve_name(fs, ppath, n->parent, n->table, NULL, parts[1],
			  KEYNAME_PARTITION, n->table->schema.hash_type, &hv);
	if (rc == -EINVAL && count == 2) {
		n->kind = NODE_SCRATCH;
		return 0;
	}
	if (rc == -EINVAL)
		rc = -ENOENT;
	if (rc)
		goto fail;
	if (count == 2) {
		n->kind = NODE_PARTITION;
		n->key = json_pack("{sO}", n->table->hash_name, hv);
		goto done;
	}
	snprintf(n->parent, sizeof(n->parent), "%s", ppath);
	pkey = json_pack("{sO}", n->table->hash_name, hv);
	rc = pkey ? resolve_name(fs, path, ppath, n->table, pkey, parts[2],
				 KEYNAME_RANGE_ITEM,
				 n->table->schema.range_type, &rv)
		  : -ENOMEM;
	json_decref(pkey);
	if (rc == -EINVAL) {
		json_decref(hv);
		n->kind = NODE_SCRATCH;
		return 0;
	}
	if (rc)
		goto fail;
	n->kind = NODE_ITEM;
	n->key = json_pack("{sOsO}", n->table->hash_name, hv,
			   n->table->range_name, rv);
done:
	json_decref(hv);
	json_decref(rv);
	if (!n->key) {
		node_clear(n);
		return -ENOMEM;
	}
	if (n->kind == NODE_ITEM)
		n->hidden = pathlist_has(fs, &fs->hidden, path);
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
	/* One copy, shared by the cache and the caller. */
	*text = cache_blob_new(rendered, len);
	free(rendered);
	if (!*text)
		return -ENOMEM;
	*mtime = cache_item_put_blob(fs->cache, path, *text);
	return 0;
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
	if (created_says_absent(fs, path))
		return -ENOENT;
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
	void **vals; /* a value per slot, for those who map names to things */
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

/* Finds or adds name; returns 1 when added, 0 when present, -ENOMEM, with
 * its slot (for s->vals) in *slot. */
static int nameset_put(struct nameset *s, const char *name, size_t *slot)
{
	size_t i;

	if (s->n * 2 >= s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 256;
		char **slots = calloc(cap, sizeof(*slots));
		void **vals = calloc(cap, sizeof(*vals));
		if (!slots || !vals) {
			free(slots);
			free(vals);
			return -ENOMEM;
		}
		for (i = 0; i < s->cap; i++) {
			if (!s->slots[i])
				continue;
			size_t j = hash_str(s->slots[i]) % cap;
			while (slots[j])
				j = (j + 1) % cap;
			slots[j] = s->slots[i];
			vals[j] = s->vals[i];
		}
		free(s->slots);
		free(s->vals);
		s->slots = slots;
		s->vals = vals;
		s->cap = cap;
	}
	for (i = hash_str(name) % s->cap; s->slots[i]; i = (i + 1) % s->cap) {
		if (strcmp(s->slots[i], name) == 0) {
			*slot = i;
			return 0;
		}
	}
	s->slots[i] = strdup(name);
	if (!s->slots[i])
		return -ENOMEM;
	s->n++;
	*slot = i;
	return 1;
}

/* Adds name; returns 1 when added, 0 when present, -ENOMEM. */
static int nameset_add(struct nameset *s, const char *name)
{
	size_t slot;

	return nameset_put(s, name, &slot);
}

static bool nameset_has(const struct nameset *s, const char *name)
{
	if (!s->cap)
		return false;
	for (size_t i = hash_str(name) % s->cap; s->slots[i];
	     i = (i + 1) % s->cap)
		if (strcmp(s->slots[i], name) == 0)
			return true;
	return false;
}

/* Frees the names; values are the caller's to free first. */
static void nameset_free(struct nameset *s)
{
	for (size_t i = 0; i < s->cap; i++)
		free(s->slots[i]);
	free(s->slots);
	free(s->vals);
	memset(s, 0, sizeof(*s));
}

/* The partitions a full Scan of a small table fills: a nameset of
 * partition names whose values are their listings, built as the items
 * come and kept once the whole table was read. */

/* The listing being built for partition name (borrowed), or NULL. */
static struct cache_listing *partfill_get(struct nameset *p, const char *name)
{
	size_t slot;
	int rc = nameset_put(p, name, &slot);

	if (rc == 1)
		p->vals[slot] = cache_listing_new();
	return rc < 0 ? NULL : p->vals[slot];
}

static void partfill_free(struct nameset *p)
{
	for (size_t i = 0; i < p->cap; i++)
		cache_listing_unref(p->vals[i]);
	nameset_free(p);
}

enum lister_kind {
	LIST_ROOT,       /* ListTables */
	LIST_ITEMS,      /* Scan of a partition-key-only table */
	LIST_PARTITIONS, /* Scan of the partition key, de-duplicated */
	LIST_PARTITION,  /* Query of one partition */
};

/* One listing in progress: the pages fetched so far become entries, with
 * the attributes of each item rendered on the way. A page is fetched only
 * when the reader has used up the entries before it, one request at a
 * time, never in the background: a listing spends no read capacity the
 * reader did not ask for (SPEC 6), and once closed it sends nothing. */
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
	/* LIST_PARTITIONS while the rendered items stay within cache/8:
	 * the Scan reads whole items (the same requests and capacity as the
	 * key-only Scan, which is charged by item size too), fills the item
	 * cache and, once complete, every partition's listing. */
	bool fill;
	bool filled;
	size_t fill_bytes; /* rendered so far; past the budget, fill stops */
	struct nameset parts; /* partition name -> its listing */
	/* A lookup of a shortened name reads pages only until they show
	 * it, and takes its key from there: the bounded map of shortened
	 * names may have dropped it again by the end of a long listing. */
	const char *want;
	json_t *found;
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
	partfill_free(&l->parts);
	json_decref(l->found);
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

static char *join_path(const char *dir, const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, name) < 0)
		return NULL;
	return p;
}

/* A shortened name's key, remembered, and kept for the lookup that wants
 * it (l->want). */
static void lister_shortname(struct lister *l, const char *path,
			     json_t *value)
{
	shortname_put(l->fs, path, value);
	if (l->want && !l->found && strcmp(path, l->want) == 0)
		l->found = json_incref(value);
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
		lister_shortname(l, path, value);
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

/* With l->fill, the item of a full Scan: rendered into the cache under
 * its partition, and named in that partition's listing. */
static int lister_fill_item(struct lister *l, const char *pname,
			    json_t *item)
{
	struct table *t = l->table;
	json_t *value = json_object_get(item, t->range_name);
	struct cache_listing *pl = partfill_get(&l->parts, pname);
	struct cache_blob *text = NULL;
	char *name = NULL, *path = NULL;
	time_t mtime;
	int rc;

	if (!pl)
		return -ENOMEM;
	if (!value)
		return 0;
	rc = name_of_value(value, KEYNAME_RANGE_ITEM, &name);
	if (rc)
		goto out;
	rc = -ENOMEM;
	if (asprintf(&path, "%s/%s/%s", l->dirpath, pname, name) < 0) {
		path = NULL;
		goto out;
	}
	if (keyname_is_shortened(name, KEYNAME_RANGE_ITEM,
				 keyname_type_of(t->schema.range_type)))
		lister_shortname(l, path, value);
	rc = item_store(l->fs, t, path, item, &text, &mtime);
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
	if (l->fill && lister_fill_item(l, name, item) != 0) {
		/* An item that cannot be kept costs the fill, not the
		 * listing: the names still come. */
		l->fill = false;
		partfill_free(&l->parts);
	}
	rc = nameset_add(&l->seen, name);
	if (rc <= 0)
		goto out;
	if (keyname_is_shortened(name, KEYNAME_PARTITION,
				 keyname_type_of(l->table->schema.hash_type))) {
		rc = -ENOMEM;
		path = join_path(l->dirpath, name);
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
	struct ddb_error err = { 0 };
	json_t *resp = NULL, *names, *n;
	const char *last;
	size_t i;
	int rc;

	rc = ddb_list_tables_page(l->fs->ddb, l->last_table, 100, &resp, &err);
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
out:
	json_decref(resp);
	return rc;
}

/* The Query or Scan request for the next page. (No parallel Scan
 * segments: in parallel they read several pages ahead of the reader.) */
static json_t *lister_request(struct lister *l)
{
	json_t *req = json_pack("{ss}", "TableName", l->table->name);
	json_t *start = l->last_key;

	if (!req)
		return NULL;
	if (l->fs->consistent)
		json_object_set_new(req, "ConsistentRead", json_true());
	if (start)
		json_object_set(req, "ExclusiveStartKey", start);
	if (l->kind == LIST_PARTITION) {
		json_object_set_new(req, "KeyConditionExpression",
				    json_string("#h = :h"));
		json_object_set_new(req, "ExpressionAttributeNames",
				    json_pack("{ss}", "#h", l->table->hash_name));
		json_object_set_new(req, "ExpressionAttributeValues",
				    json_pack("{sO}", ":h",
					      json_object_get(l->pkey,
							      l->table->hash_name)));
		return req;
	}
	if (l->kind == LIST_PARTITIONS && !l->fill) {
		json_object_set_new(req, "ProjectionExpression",
				    json_string("#h"));
		json_object_set_new(req, "ExpressionAttributeNames",
				    json_pack("{ss}", "#h", l->table->hash_name));
	}
	return req;
}

static int lister_item(json_t *item, void *arg)
{
	struct lister *l = arg;

	return l->kind == LIST_PARTITIONS ? lister_add_partition(l, item)
					  : lister_add_item(l, item);
}

/* Adds the items of one Query/Scan answer (its raw body, read an item at
 * a time); *last receives its LastEvaluatedKey (a new reference) or NULL. */
static int lister_take_page(struct lister *l, const char *body, size_t len,
			    json_t **last)
{
	json_t *rest = NULL;
	int rc;

	*last = NULL;
	rc = ddb_page_items(body, len, lister_item, l, &rest);
	if (rc == -EBADMSG) {
		log_msg(LOG_ERR, "%s: a malformed page from DynamoDB",
			l->dirpath);
		rc = -EIO;
	}
	if (!rc)
		*last = json_incref(json_object_get(rest, "LastEvaluatedKey"));
	json_decref(rest);
	return rc;
}

/* Fetches the next page of the listing (one request) and appends its
 * entries. Returns 0 or -errno; sets l->done after the last page. */
static int lister_next_page(struct lister *l)
{
	struct ddb_error err = { 0 };
	json_t *req = NULL, *last = NULL;
	char *body = NULL;
	size_t len = 0;
	int rc;

	if (l->done)
		return 0;
	l->started = true;
	if (l->kind == LIST_ROOT)
		return lister_root_page(l);
	rc = -ENOMEM;
	req = lister_request(l);
	if (!req)
		goto out;
	rc = ddb_call_raw(l->fs->ddb,
			  l->kind == LIST_PARTITION ? "Query" : "Scan", req,
			  &body, &len, &err);
	if (rc)
		goto out;
	rc = lister_take_page(l, body, len, &last);
	if (rc)
		goto out;
	json_decref(l->last_key);
	l->last_key = last;
	l->done = !last;
out:
	if (rc == -ENOENT && l->table)
		table_forget(l->fs, l->table->name);
	json_decref(req);
	free(body);
	return rc;
}

/* Keeps a finished listing in the cache, and with it the listing of
 * every partition a full Scan read. */
static void lister_publish(struct lister *l)
{
	char *path;

	if (!l->done)
		return;
	cache_dir_put(l->fs->cache, l->dirpath, l->entries);
	if (!l->fill || l->filled)
		return;
	l->filled = true;
	for (size_t i = 0; i < l->parts.cap; i++) {
		if (!l->parts.vals[i])
			continue;
		path = join_path(l->dirpath, l->parts.slots[i]);
		if (path)
			cache_dir_put(l->fs->cache, path, l->parts.vals[i]);
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
		lister_free(l);
		return;
	}
	st->lister = l;
	st->expires = monotime_s() + fs->ttl;
	pthread_mutex_lock(&fs->lock);
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
	pthread_mutex_unlock(&fs->lock);
	while (old) {
		struct stash *next = old->next;
		lister_free(old->lister);
		free(old);
		old = next;
	}
}

/* The stashed listing of path (taken; caller frees), or NULL. */
static struct lister *stash_take(struct fs *fs, const char *path)
{
	struct lister *l = NULL;
	struct stash **pp, *st = NULL;
	double now = monotime_s();

	pthread_mutex_lock(&fs->lock);
	for (pp = &fs->stashed; *pp; pp = &(*pp)->next) {
		if (strcmp((*pp)->lister->dirpath, path) == 0) {
			st = *pp;
			*pp = st->next;
			break;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	if (st && st->expires > now)
		l = st->lister;
	else if (st)
		lister_free(st->lister);
	free(st);
	return l;
}

static void stash_clear(struct fs *fs)
{
	while (fs->stashed) {
		struct stash *st = fs->stashed;
		fs->stashed = st->next;
		lister_free(st->lister);
		free(st);
	}
}

/* The key value of the shortened name path in dirpath, read from the
 * listing's pages up to the one that shows it. Returns 0 and *value (a
 * new reference), -ENOENT when no page does, or -errno. */
static int list_for_shortname(struct fs *fs, const char *dirpath,
			      struct table *t, json_t *pkey, const char *path,
			      json_t **value)
{
	struct lister *l = lister_new(fs, dirpath, t, pkey);
	int rc;

	*value = NULL;
	if (!l)
		return -ENOMEM;
	l->want = path;
	do {
		rc = lister_next_page(l);
	} while (!rc && !l->done && !l->found);
	if (!rc)
		lister_publish(l);
	*value = l->found;
	l->found = NULL;
	lister_free(l);
	if (!rc && !*value)
		rc = -ENOENT;
	return rc;
}

/* ---- directories the mount made ----------------------------------------- */

/* A table or partition this mount made with mkdir was empty then, so for
 * the cache time a name in it is absent unless the mount put it there
 * since: cp -r and xargs cp into a new directory need no GetItem per file
 * to learn that. (A create with O_EXCL is still a conditional put, so a
 * racing writer elsewhere gets EEXIST, never an overwrite.) */
struct created {
	char *path;
	double expires;
	struct nameset names; /* put there through this mount since */
	struct table *table;  /* a partition: what a refresh queries */
	json_t *pkey;
	bool refreshing;
	bool broken; /* a name could not be noted during a refresh */
	struct created *next;
};

/* A partition being filled outlives the cache time (cp -r of 10,000
 * files): on expiry, one Query of its sort keys (a few pages, and less
 * read capacity than a GetItem per file) renews the knowledge, up to
 * this many names. */
#define CREATED_REFRESH_MAX 20000

static void created_free(struct created *c)
{
	free(c->path);
	nameset_free(&c->names);
	table_unref(c->table);
	json_decref(c->pkey);
	free(c);
}

/* Drops entries unused for a while (expired a cache time ago); call with
 * fs->lock held. */
static void created_prune(struct fs *fs, double now)
{
	for (struct created **pp = &fs->created; *pp;) {
		struct created *c = *pp;
		if (c->refreshing || c->expires + fs->ttl > now) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		created_free(c);
	}
}

/* Remembers that path (a table, or a partition of table t with key pkey)
 * was made empty by this mount just now. */
static void created_add(struct fs *fs, const char *path, struct table *t,
			json_t *pkey)
{
	struct created *c;

	if (fs->consistent || fs->ttl <= 0)
		return;
	c = calloc(1, sizeof(*c));
	if (!c || !(c->path = strdup(path))) {
		free(c);
		return;
	}
	if (t && pkey && t->range_name) {
		c->table = table_ref(t);
		c->pkey = json_incref(pkey);
	}
	c->expires = monotime_s() + fs->ttl;
	pthread_mutex_lock(&fs->lock);
	created_prune(fs, monotime_s());
	c->next = fs->created;
	fs->created = c;
	pthread_mutex_unlock(&fs->lock);
}

/* Takes c off the list and frees it; call with fs->lock held. */
static void created_unlink(struct fs *fs, struct created *c)
{
	for (struct created **pp = &fs->created; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			created_free(c);
			return;
		}
	}
}

/* Forgets path and every directory below it (rmdir). */
static void created_remove(struct fs *fs, const char *path)
{
	size_t len = strlen(path);

	pthread_mutex_lock(&fs->lock);
	for (struct created **pp = &fs->created; *pp;) {
		struct created *c = *pp;
		if (strncmp(c->path, path, len) != 0 ||
		    (c->path[len] != '\0' && c->path[len] != '/')) {
			pp = &c->next;
			continue;
		}
		*pp = c->next;
		created_free(c);
	}
	pthread_mutex_unlock(&fs->lock);
}

/* The entry for dir, fresh or (with any) expired; call with fs->lock
 * held. */
static struct created *created_find(struct fs *fs, const char *dir, bool any)
{
	double now = monotime_s();

	for (struct created *c = fs->created; c; c = c->next)
		if ((any || c->expires > now) && strcmp(c->path, dir) == 0)
			return c;
	return NULL;
}

struct name_query {
	const char *range_name;
	struct nameset *names;
};

static int name_query_page(json_t *page, void *arg)
{
	struct name_query *q = arg;
	json_t *items = json_object_get(page, "Items"), *item;
	size_t i;
	int rc;

	json_array_foreach(items, i, item) {
		char *name = NULL;

		rc = name_of_value(json_object_get(item, q->range_name),
				   KEYNAME_RANGE_ITEM, &name);
		if (!rc)
			rc = nameset_add(q->names, name) < 0 ? -ENOMEM : 0;
		free(name);
		if (rc)
			return rc;
		if (q->names->n > CREATED_REFRESH_MAX)
			return -EFBIG;
	}
	return 0;
}

/* Renews the expired entry for dir with the names a Query of the
 * partition returns now (plus those the mount noted meanwhile). Returns
 * true when the entry is fresh again. */
static bool created_refresh(struct fs *fs, const char *dir)
{
	struct nameset names = { 0 };
	struct name_query q = { .names = &names };
	struct ddb_error err = { 0 };
	struct created *c;
	struct table *t;
	json_t *req = NULL;
	double since = monotime_s();
	bool fresh = false;
	int rc;

	pthread_mutex_lock(&fs->lock);
	c = created_find(fs, dir, true);
	if (!c || !c->table || c->refreshing) {
		pthread_mutex_unlock(&fs->lock);
		return false;
	}
	c->refreshing = true;
	t = table_ref(c->table);
	req = json_pack("{sssssss{ssss}s{sO}}", "TableName", t->name,
			"KeyConditionExpression", "#h = :h",
			"ProjectionExpression", "#r",
			"ExpressionAttributeNames", "#h", t->hash_name, "#r",
			t->range_name, "ExpressionAttributeValues", ":h",
			json_object_get(c->pkey, t->hash_name));
	pthread_mutex_unlock(&fs->lock);
	q.range_name = t->range_name;
	rc = req ? ddb_query(fs->ddb, req, name_query_page, &q, &err)
		 : -ENOMEM;
	json_decref(req);
	pthread_mutex_lock(&fs->lock);
	c = created_find(fs, dir, true);
	if (c && c->refreshing) {
		c->refreshing = false;
		if (!rc) {
			/* The names noted while the Query ran stay. */
			for (size_t i = 0; i < c->names.cap && !rc; i++)
				if (c->names.slots[i] &&
				    nameset_add(&names, c->names.slots[i]) < 0)
					rc = -ENOMEM;
		}
		if (!rc && !c->broken && names.n <= CREATED_REFRESH_MAX) {
			nameset_free(&c->names);
			c->names = names;
			memset(&names, 0, sizeof(names));
			c->expires = since + fs->ttl;
			fresh = true;
		} else {
			/* Too many names, or a failed Query: back to GetItem
			 * for good (no Query per lookup). */
			created_unlink(fs, c);
		}
	}
	pthread_mutex_unlock(&fs->lock);
	nameset_free(&names);
	table_unref(t);
	return fresh;
}

/* Whether path is known absent: its directory was made by this mount
 * within the cache time (or renewed) and nothing of that name was put
 * there since. */
static bool created_says_absent(struct fs *fs, const char *path)
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

		pthread_mutex_lock(&fs->lock);
		created_prune(fs, now);
		c = created_find(fs, dir, true);
		expired = c && c->expires <= now;
		absent = c && !expired && !nameset_has(&c->names, slash + 1);
		/* Under the lock, so an item_stored of this name (which
		 * notes it here first) cannot come between and be hidden. */
		if (absent)
			cache_item_put_negative(fs->cache, path);
		pthread_mutex_unlock(&fs->lock);
		/* Only an entry expired within the last cache time is
		 * renewed (prune drops older ones): it is still being used. */
		if (!expired || pass == 1 || !created_refresh(fs, dir))
			break;
	}
	return absent;
}

/* Notes that path now exists: its name in its directory, and its
 * partition's name in the table. */
static void created_note(struct fs *fs, const char *path)
{
	char dir[4096];
	const char *slash;
	struct created *c;

	if (strlen(path) >= sizeof(dir))
		return;
	strcpy(dir, path);
	pthread_mutex_lock(&fs->lock);
	created_prune(fs, monotime_s());
	while ((slash = strrchr(dir, '/')) && slash != dir) {
		dir[slash - dir] = '\0';
		c = created_find(fs, dir, true);
		/* A name that cannot be noted (memory, too many) must not be
		 * answered absent: the entry goes. */
		if (!c || (nameset_add(&c->names, slash + 1) >= 0 &&
			   c->names.n <= CREATED_REFRESH_MAX))
			continue;
		if (c->refreshing)
			c->broken = true; /* created_refresh drops it */
		else
			created_unlink(fs, c);
	}
	pthread_mutex_unlock(&fs->lock);
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

static void fill_scratch_stat(const struct fs *fs, struct stat *st,
			      const struct scratch_node *sn)
{
	fill_file_stat(fs, st, scratch_size(sn), scratch_mtime(sn), true);
	/* Never writable by group or others, whatever umask or chmod asked:
	 * under allow_other another user could change the bytes the owner
	 * is about to rename onto an item (sed -i's temporary file). */
	if (!fs->read_only)
		st->st_mode = S_IFREG | (scratch_mode(sn) & 07755);
}

/* Whether the partition at path exists: held by the mount, in a fresh
 * listing, else the first page of its Query (which also fills the cache). */
static int partition_exists(struct fs *fs, const char *path, struct node *n)
{
	struct lister *lst;
	struct cache_listing *l;
	struct cache_item ci;
	bool any = false;
	int rc;

	if (pathlist_has(fs, &fs->held, path) ||
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
	if (created_says_absent(fs, path))
		return -ENOENT;
	/* The first page of its Query says; a longer partition's listing
	 * is kept for the opendir that usually follows (ls, cat P/...). */
	lst = lister_new(fs, path, n->table, n->key);
	if (!lst)
		return -ENOMEM;
	do {
		rc = lister_next_page(lst);
	} while (!rc && !lst->done && !lst->entries->n);
	any = lst->entries->n > 0;
	if (rc || !any) {
		lister_free(lst);
		if (rc)
			return rc;
		cache_item_put_negative(fs->cache, path);
		return -ENOENT;
	}
	if (lst->done) {
		lister_publish(lst);
		lister_free(lst);
	} else {
		stash_put(fs, lst);
	}
	return 0;
}

/* What open hands read, write and close. */
struct item_handle {
	struct openlink link;	      /* first: the list hands back the handle */
	struct cache_blob *text;      /* read-only opens: the bytes at open */
	struct scratch_node *scratch; /* scratch files */
	/* items opened for writing: what close will store */
	pthread_mutex_t lock;
	bool writable;
	bool dirty;	/* changed since the last store */
	bool written;	/* write() or ftruncate() since the last store */
	bool new_item;	/* the item did not exist when this was opened */
	bool excl;	/* created with O_EXCL: store only if still absent */
	int error;	/* the last store's error, reported again until a write */
	char *buf;
	size_t len;
	size_t cap;
	char *path;
	/* What path named at open: a store at close needs no request to
	 * learn it again (and so cannot fail before the bytes are kept). */
	struct table *table; /* reference; items opened for writing */
	json_t *key;
	struct item_handle *next_writer; /* fs->writers, under fs->lock */
};

/* The length an item open for writing has now, if one is; for stat during
 * an edit, before the item is stored. */
static bool writer_size(struct fs *fs, const char *path, off_t *size)
{
	bool found = false;

	pthread_mutex_lock(&fs->lock);
	for (struct item_handle *h = fs->writers; h; h = h->next_writer) {
		if (strcmp(h->path, path) == 0) {
			*size = (off_t)h->len;
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&fs->lock);
	return found;
}

/* While the server cannot be asked (an outage, throttling past the
 * retries), a lookup of an item this mount has seen answers with what it
 * saw. The kernel looks a rename's target up again before it renames
 * (sed -i, an editor's save), and a failed lookup would fail the rename
 * before the mount could keep the bytes, which sed then deletes; the
 * rename itself still asks the server, and keeps the bytes if it fails. */
static bool stale_item_stat(struct fs *fs, const char *path, struct stat *st)
{
	struct cache_item ci;

	if (cache_item_get_stale(fs->cache, path, &ci) != 0)
		return false;
	fill_file_stat(fs, st, (off_t)ci.text->len, ci.mtime, true);
	cache_blob_unref(ci.text);
	log_msg(LOG_WARNING, "%s: the server cannot be asked; its attributes are those last seen",
		path);
	return true;
}

static int fs_getattr(const char *path, struct stat *st,
		      struct fuse_file_info *fi)
{
	struct fs *fs = current_fs();
	struct cache_blob *text = NULL;
	struct node n;
	time_t mtime;
	off_t size;
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
	case NODE_SCRATCH:
		if (n.scratch)
			fill_scratch_stat(fs, st, n.scratch);
		else
			rc = -ENOENT;
		break;
	case NODE_ITEM:
		if (writer_size(fs, path, &size)) {
			fill_file_stat(fs, st, size, time(NULL), true);
			break;
		}
		if (n.hidden) {
			rc = -ENOENT;
			break;
		}
		rc = item_fetch(fs, path, &n, &text, &mtime);
		if ((rc == -EIO || rc == -EAGAIN) && stale_item_stat(fs, path, st))
			rc = 0;
		if (!rc && text)
			fill_file_stat(fs, st, (off_t)text->len, mtime, true);
		cache_blob_unref(text);
		break;
	}
	node_clear(&n);
	return rc;
}

/* ---- directories -------------------------------------------------------- */

/* What opendir hands readdir: the names the mount itself holds (scratch
 * files, held partitions), then a cached listing or a listing in progress. */
struct dir_handle {
	struct openlink link; /* first: the list hands back a dir_handle */
	pthread_mutex_t lock;
	struct cache_listing *extra;
	struct nameset extra_names;
	struct cache_listing *cached;
	struct lister *lister;
	char *path;
};

static void add_scratch_entry(const char *name, const struct scratch_node *sn,
			      void *arg)
{
	struct dir_handle *dh = arg;

	if (nameset_add(&dh->extra_names, name) == 1)
		cache_listing_add(dh->extra, name, false);
}

/* Snapshots what the mount holds in directory path. */
static int collect_extra(struct fs *fs, struct dir_handle *dh,
			 const char *path)
{
	size_t len = strlen(path);

	dh->extra = cache_listing_new();
	if (!dh->extra)
		return -ENOMEM;
	scratch_list(fs->scratch, path, add_scratch_entry, dh);
	pthread_mutex_lock(&fs->lock);
	for (struct pathlist *p = fs->held; p; p = p->next) {
		const char *name = p->path + len + 1;
		if (strncmp(p->path, path, len) == 0 && p->path[len] == '/' &&
		    !strchr(name, '/') &&
		    nameset_add(&dh->extra_names, name) == 1)
			cache_listing_add(dh->extra, name, true);
	}
	pthread_mutex_unlock(&fs->lock);
	return 0;
}

static void dir_handle_free(struct dir_handle *dh)
{
	if (!dh)
		return;
	cache_listing_unref(dh->extra);
	nameset_free(&dh->extra_names);
	cache_listing_unref(dh->cached);
	lister_free(dh->lister);
	free(dh->path);
	pthread_mutex_destroy(&dh->lock);
	free(dh);
}

static void dir_handle_unlinked(struct openlink *link)
{
	dir_handle_free((struct dir_handle *)link);
}

static int fs_opendir(const char *path, struct fuse_file_info *fi)
{
	struct fs *fs = current_fs();
	struct dir_handle *dh = NULL;
	struct node n;
	int rc;

	rc = resolve(fs, path, &n);
	if (rc)
		return rc;
	if (n.kind != NODE_ROOT && n.kind != NODE_TABLE &&
	    n.kind != NODE_PARTITION) {
		rc = n.kind == NODE_SCRATCH && !n.scratch ? -ENOENT : -ENOTDIR;
		goto out;
	}
	rc = -ENOMEM;
	dh = calloc(1, sizeof(*dh));
	if (!dh)
		goto out;
	pthread_mutex_init(&dh->lock, NULL);
	dh->path = strdup(path);
	if (!dh->path || collect_extra(fs, dh, path))
		goto out;
	dh->cached = cache_dir_get(fs->cache, path);
	if (!dh->cached && n.kind == NODE_PARTITION)
		dh->lister = stash_take(fs, path);
	if (!dh->cached && !dh->lister) {
		dh->lister = lister_new(fs, path, n.table,
					n.kind == NODE_PARTITION ? n.key : NULL);
		if (!dh->lister)
			goto out;
	}
	open_add(fs, &dh->link, dir_handle_unlinked);
	fi->fh = (uintptr_t)dh;
	dh = NULL;
	rc = 0;
out:
	dir_handle_free(dh);
	node_clear(&n);
	return rc;
}

/* The attributes readdirplus hands the kernel for a listed entry, or false
 * when they are unknown. */
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

/* Whether a listed name is hidden: held or scratch names come first (so a
 * duplicate from DynamoDB is skipped), items renamed away are not shown. */
static bool entry_hidden(struct fs *fs, struct dir_handle *dh,
			 const struct cache_dirent *e)
{
	char *path;
	bool hidden;

	if (nameset_has(&dh->extra_names, e->name))
		return true;
	if (e->is_dir || !fs->hidden)
		return false;
	path = join_path(dh->path, e->name);
	hidden = path && pathlist_has(fs, &fs->hidden, path);
	free(path);
	return hidden;
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t filler,
		      off_t offset, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	struct fs *fs = current_fs();
	struct dir_handle *dh = (struct dir_handle *)(uintptr_t)fi->fh;
	bool plus = flags & FUSE_READDIR_PLUS;
	size_t i, n_extra = dh->extra->n;
	struct stat st;
	int rc = 0;

	pthread_mutex_lock(&dh->lock);
	/* Offsets: 1 and 2 are "." and "..", then the mount's own names,
	 * then listed entry i has offset n_extra + i + 3. */
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
	for (i = (size_t)offset - 2; i < n_extra; i++) {
		const struct cache_dirent *e = &dh->extra->entries[i];
		struct scratch_node *sn = NULL;
		char *p = join_path(path, e->name);
		bool have = false;

		if (e->is_dir) {
			fill_dir_stat(fs, &st);
			have = true;
		} else if (p && scratch_lookup(fs->scratch, p, &sn) == 0) {
			fill_scratch_stat(fs, &st, sn);
			scratch_node_unref(sn);
			have = true;
		}
		free(p);
		if (!have) {
			memset(&st, 0, sizeof(st));
			st.st_mode = e->is_dir ? S_IFDIR : S_IFREG;
		}
		if (filler(buf, e->name, &st, (off_t)(i + 3),
			   plus && have ? FUSE_FILL_DIR_PLUS : 0))
			goto out;
	}
	i = (size_t)offset - 2 > n_extra ? (size_t)offset - 2 - n_extra : 0;
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
		if (entry_hidden(fs, dh, e)) {
			i++;
			continue;
		}
		have = plus && entry_stat(fs, path, e, dh->lister, i, &st);
		if (!have) {
			memset(&st, 0, sizeof(st));
			st.st_mode = e->is_dir ? S_IFDIR : S_IFREG;
		}
		if (filler(buf, e->name, &st, (off_t)(n_extra + i + 3),
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

	open_remove(current_fs(), &dh->link);
	dir_handle_free(dh);
	return 0;
}

/* ---- storing items ------------------------------------------------------ */

/* The parent directory of path, in buf. */
static const char *parent_of(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash && slash != path ? (size_t)(slash - path) : 1;

	if (n >= len)
		n = len - 1;
	memcpy(buf, path, n);
	buf[n] = '\0';
	return buf;
}

/* After a change through the mount: the parent's listing (and, for an item
 * in a partition, the table's listing of partitions) must be read again. */
static void forget_listings(struct fs *fs, const char *path)
{
	char dir[4096], table[4096];

	parent_of(path, dir, sizeof(dir));
	cache_forget(fs->cache, dir);
	lister_free(stash_take(fs, dir));
	parent_of(dir, table, sizeof(table));
	if (strcmp(table, "/") != 0)
		cache_forget(fs->cache, table);
}

/* ".NAME.rejected" beside path. */
static char *rejected_path(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *p = NULL;

	if (asprintf(&p, "%.*s/.%s.rejected", (int)(slash - path), path,
		     slash + 1) < 0)
		return NULL;
	return p;
}

/* Keeps bytes a write could not store as the scratch file .NAME.rejected,
 * since shells ignore close's error and the user's text must not be lost. */
static void keep_rejected(struct fs *fs, const char *path, const char *data,
			  size_t len)
{
	struct scratch_node *sn = NULL;
	char *rp = rejected_path(path);

	if (!rp)
		return;
	if (scratch_lookup(fs->scratch, rp, &sn) != 0 &&
	    scratch_create(fs->scratch, rp, 0644, &sn) != 0)
		goto out;
	if (scratch_set(fs->scratch, sn, data, len) != 0)
		log_msg(LOG_ERR, "%s: no room to keep the %zu rejected bytes (the scratch files are full: see cache_size); they are lost",
			rp, len);
out:
	scratch_node_unref(sn);
	free(rp);
}

static void drop_rejected(struct fs *fs, const char *path)
{
	char *rp = rejected_path(path);

	if (rp && scratch_unlink(fs->scratch, rp) == 0)
		invalidate_later(fs, rp); /* stat must not find it in the kernel */
	free(rp);
}

/* Checks file bytes as the item for n (key from the path) without sending
 * anything. Returns 0 and *item (new reference), or -EINVAL / -EFBIG with
 * the reason logged (file, problem, line and column). */
static int item_parse(struct fs *fs, const char *path, struct node *n,
		      const char *data, size_t len, bool new_item,
		      json_t **item)
{
	struct codec_error err = { 0 };
	struct codec_schema cs = n->table->schema;
	char why[512];
	size_t size = 0;
	int rc;

	*item = NULL;
	rc = codec_parse(data, len, fs->format, item, &err);
	if (!rc && new_item) {
		/* A new file takes its key from its name, so cp and mv of
		 * items and partitions work; an existing item's file must
		 * agree with its name (a key edited by mistake is refused). */
		json_object_del(*item, n->table->hash_name);
		if (n->table->range_name)
			json_object_del(*item, n->table->range_name);
	}
	if (!rc)
		rc = codec_apply_key(*item, &cs, n->key, &err);
	if (!rc) {
		rc = codec_item_size(*item, &size);
		if (!rc && size > CODEC_ITEM_MAX) {
			snprintf(err.message, sizeof(err.message),
				 "item is %zu bytes; DynamoDB keeps at most %u",
				 size, CODEC_ITEM_MAX);
			rc = -EFBIG;
		}
	}
	if (rc) {
		json_decref(*item);
		*item = NULL;
		log_msg(LOG_ERR, "%s: write rejected, nothing sent: %s", path,
			codec_strerror(&err, why, sizeof(why)));
	}
	return rc;
}

/* What follows a stored item (a PutItem, the put of a move): it is shown
 * at path at once, listings are read again, the rejected bytes and the
 * renamed-away mark go. */
static void item_stored(struct fs *fs, const char *path, struct table *t,
			json_t *item)
{
	struct cache_blob *text = NULL;
	time_t mtime;

	pathlist_remove(fs, &fs->hidden, path, false);
	drop_rejected(fs, path);
	forget_listings(fs, path);
	created_note(fs, path);
	if (item_store(fs, t, path, item, &text, &mtime) != 0)
		cache_forget(fs->cache, path);
	cache_blob_unref(text);
	/* What the kernel holds is what was written (or its size while it
	 * was open); the file is now the rendered item. */
	invalidate_later(fs, path);
}

/* Stores item (a full item, keys included) at path with PutItem; with
 * absent_only, only when no item has that key. Updates the cache so the
 * next read through this mount sees it. */
static int item_put(struct fs *fs, const char *path, struct node *n,
		    json_t *item, bool absent_only)
{
	struct ddb_error err = { 0 };
	json_t *names = NULL;
	int rc;

	if (absent_only) {
		names = json_pack("{ss}", "#h", n->table->hash_name);
		if (!names)
			return -ENOMEM;
	}
	/* A condition cannot ride in a BatchWriteItem: those go alone. */
	if (absent_only)
		rc = ddb_put_item(fs->ddb, n->table->name, item,
				  "attribute_not_exists(#h)", names, NULL,
				  &err);
	else
		rc = putq_put(fs->putq, n->table->name, n->table->hash_name,
			      n->table->range_name, item, path, &err);
	json_decref(names);
	if (rc)
		return rc;
	item_stored(fs, path, n->table, item);
	return 0;
}

/* Checks and stores file bytes as the item at path. */
static int item_write(struct fs *fs, const char *path, struct node *n,
		      const char *data, size_t len, bool absent_only,
		      bool new_item)
{
	json_t *item = NULL;
	int rc;

	rc = item_parse(fs, path, n, data, len, new_item, &item);
	if (rc) {
		keep_rejected(fs, path, data, len);
		return rc;
	}
	rc = item_put(fs, path, n, item, absent_only);
	json_decref(item);
	if (rc) {
		/* Not stored (server down, credentials, a condition): the
		 * bytes stay readable too, since close's error is often lost. */
		log_msg(LOG_ERR, "%s: not stored (%s); the bytes are kept in .%s.rejected",
			path, strerror(-rc), strrchr(path, '/') + 1);
		keep_rejected(fs, path, data, len);
	}
	return rc;
}

/* Stores what an open item handle holds, if it changed since. */
static int handle_store(struct fs *fs, const char *path,
			struct item_handle *h)
{
	struct node n;
	int rc;

	pthread_mutex_lock(&h->lock);
	if (!h->dirty) {
		rc = h->error;
		goto out;
	}
	memset(&n, 0, sizeof(n));
	n.kind = NODE_ITEM;
	n.table = h->table;
	n.key = h->key;
	n.name = strrchr(h->path, '/') + 1;
	rc = item_write(fs, h->path, &n, h->buf, h->len, h->excl,
			h->new_item);
	h->dirty = false;
	h->written = false;
	h->excl = false;
	h->error = rc;
out:
	pthread_mutex_unlock(&h->lock);
	return rc;
}

/* ---- files -------------------------------------------------------------- */

static int handle_reserve(struct item_handle *h, size_t len)
{
	char *grown;
	size_t cap;

	if (len <= h->cap)
		return 0;
	if (len > CODEC_ITEM_MAX * 8)
		return -EFBIG;
	cap = h->cap ? h->cap : 4096;
	while (cap < len)
		cap *= 2;
	grown = realloc(h->buf, cap);
	if (!grown)
		return -ENOMEM;
	h->buf = grown;
	h->cap = cap;
	return 0;
}

static void writer_add(struct fs *fs, struct item_handle *h)
{
	pthread_mutex_lock(&fs->lock);
	h->next_writer = fs->writers;
	fs->writers = h;
	pthread_mutex_unlock(&fs->lock);
}

static void writer_remove(struct fs *fs, struct item_handle *h)
{
	pthread_mutex_lock(&fs->lock);
	for (struct item_handle **pp = &fs->writers; *pp;
	     pp = &(*pp)->next_writer) {
		if (*pp == h) {
			*pp = h->next_writer;
			break;
		}
	}
	pthread_mutex_unlock(&fs->lock);
}

static void handle_free(struct item_handle *h)
{
	if (!h)
		return;
	cache_blob_unref(h->text);
	scratch_node_unref(h->scratch);
	table_unref(h->table);
	json_decref(h->key);
	free(h->buf);
	free(h->path);
	pthread_mutex_destroy(&h->lock);
	free(h);
}

/* A handle the mount ended with: nothing is stored (its close never came,
 * so nothing of it was accepted), only the memory goes. */
static void item_handle_unlinked(struct openlink *link)
{
	handle_free((struct item_handle *)link);
}

static struct item_handle *handle_new(const char *path)
{
	struct item_handle *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	pthread_mutex_init(&h->lock, NULL);
	h->path = strdup(path);
	if (!h->path) {
		handle_free(h);
		return NULL;
	}
	return h;
}

static bool wants_write(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC);
}

/* Opens (or, with create, makes) the file at path. */
static int open_common(const char *path, struct fuse_file_info *fi,
		       bool create, mode_t mode)
{
	struct fs *fs = current_fs();
	struct item_handle *h = NULL;
	struct cache_blob *text = NULL;
	bool write = wants_write(fi->flags) || create;
	struct node n;
	time_t mtime;
	int rc;

	if (write && fs->read_only)
		return -EROFS;
	rc = resolve(fs, path, &n);
	if (rc)
		return rc;
	rc = -ENOMEM;
	h = handle_new(path);
	if (!h)
		goto out;
	switch (n.kind) {
	case NODE_ROOT:
	case NODE_TABLE:
		rc = create ? -EPERM : -EISDIR;
		goto out;
	case NODE_PARTITION:
		if (!create) {
			rc = -EISDIR;
			goto out;
		}
		/* A file beside the partitions cannot be an item. */
		/* fall through */
	case NODE_SCRATCH:
		if (!n.scratch && !create) {
			rc = -ENOENT;
			goto out;
		}
		if (!n.scratch) {
			rc = scratch_create(fs->scratch, path, mode & 07777,
					    &n.scratch);
			if (rc)
				goto out;
		} else if (create && (fi->flags & O_EXCL)) {
			rc = -EEXIST;
			goto out;
		}
		if (fi->flags & O_TRUNC) {
			rc = scratch_truncate(fs->scratch, n.scratch, 0);
			if (rc)
				goto out;
		}
		h->scratch = scratch_node_ref(n.scratch);
		break;
	case NODE_TABLE_JSON:
		if (write) {
			rc = -EACCES;
			goto out;
		}
		h->text = cache_blob_ref(n.table->describe);
		break;
	case NODE_ITEM:
		/* With O_EXCL the put at close is conditional, so a cache
		 * that is behind (another client made the item in the last
		 * cache_ttl) still cannot overwrite it: close says EEXIST. */
		rc = n.hidden ? -ENOENT : item_fetch(fs, path, &n, &text, &mtime);
		if (rc == 0 && create && (fi->flags & O_EXCL))
			rc = -EEXIST;
		/* The kernel opens without asking us to create when it still
		 * holds the name: an item deleted by another client within
		 * cache_ttl, or a created file whose store failed. A program
		 * writing it (echo > f again) then makes the item anew, but
		 * only once it writes (or truncates), and only if the item is
		 * still absent then: nothing is sent for an open and close. */
		if (rc == -ENOENT && (create || (write && !n.hidden))) {
			/* Stored at close: an empty file is a key-only item. */
			h->writable = true;
			h->dirty = create || (fi->flags & O_TRUNC);
			h->new_item = true;
			h->excl = (fi->flags & O_EXCL) != 0 || !create;
			h->table = table_ref(n.table);
			h->key = json_incref(n.key);
			writer_add(fs, h);
			rc = 0;
			break;
		}
		if (rc)
			goto out;
		if (!write) {
			h->text = text;
			text = NULL;
			break;
		}
		h->writable = true;
		if (!(fi->flags & O_TRUNC)) {
			rc = handle_reserve(h, text->len);
			if (rc)
				goto out;
			memcpy(h->buf, text->data, text->len);
			h->len = text->len;
		} else {
			h->dirty = true;
		}
		h->table = table_ref(n.table);
		h->key = json_incref(n.key);
		writer_add(fs, h);
		break;
	}
	/* Each open reads the item afresh; the kernel must not serve pages
	 * from before (another mount may have changed it). */
	fi->keep_cache = 0;
	/* Only an item open for writing has anything to do at close: the
	 * kernel need not ask the others (one round trip less per cat). */
	fi->noflush = !h->writable;
	open_add(fs, &h->link, item_handle_unlinked);
	fi->fh = (uintptr_t)h;
	h = NULL;
	rc = 0;
out:
	cache_blob_unref(text);
	handle_free(h);
	node_clear(&n);
	return rc;
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	return open_common(path, fi, false, 0);
}

static int fs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	return open_common(path, fi, true, mode);
}

static int fs_read(const char *path, char *buf, size_t size, off_t offset,
		   struct fuse_file_info *fi)
{
	struct item_handle *h = (struct item_handle *)(uintptr_t)fi->fh;
	const char *data;
	size_t len;
	int rc;

	if (offset < 0)
		return -EINVAL;
	if (h->scratch)
		return (int)scratch_read(h->scratch, buf, size, offset);
	pthread_mutex_lock(&h->lock);
	data = h->writable ? h->buf : h->text->data;
	len = h->writable ? h->len : h->text->len;
	if ((size_t)offset >= len) {
		rc = 0;
	} else {
		if (size > len - (size_t)offset)
			size = len - (size_t)offset;
		memcpy(buf, data + offset, size);
		rc = (int)size;
	}
	pthread_mutex_unlock(&h->lock);
	return rc;
}

static int fs_write(const char *path, const char *buf, size_t size,
		    off_t offset, struct fuse_file_info *fi)
{
	struct fs *fs = current_fs();
	struct item_handle *h = (struct item_handle *)(uintptr_t)fi->fh;
	size_t end;
	int rc;

	if (offset < 0)
		return -EINVAL;
	if (h->scratch)
		return (int)scratch_write(fs->scratch, h->scratch, buf, size,
					  offset);
	if (!h->writable)
		return -EBADF;
	pthread_mutex_lock(&h->lock);
	end = (size_t)offset + size;
	rc = handle_reserve(h, end);
	if (!rc) {
		if ((size_t)offset > h->len)
			memset(h->buf + h->len, 0, (size_t)offset - h->len);
		memcpy(h->buf + offset, buf, size);
		if (end > h->len)
			h->len = end;
		h->dirty = true;
		h->written = true;
		h->error = 0;
		rc = (int)size;
	}
	pthread_mutex_unlock(&h->lock);
	return rc;
}

static int fs_flush(const char *path, struct fuse_file_info *fi)
{
	struct item_handle *h = (struct item_handle *)(uintptr_t)fi->fh;
	int rc;

	if (!h->writable)
		return 0;
	/* close() of every descriptor flushes, also the shell's close of the
	 * descriptor it dup2()ed before anything was written: storing then
	 * would put an empty item in place of the real one. Until a write, an
	 * O_TRUNC or a new file waits for the last close (release). */
	pthread_mutex_lock(&h->lock);
	rc = h->written ? 1 : h->error;
	pthread_mutex_unlock(&h->lock);
	if (rc <= 0)
		return rc;
	return handle_store(current_fs(), path, h);
}

/* Unlike flush, fsync is asked for: a created or O_TRUNCed file that was
 * never written is stored now and its result reported, not left to release,
 * whose result no one sees. */
static int fs_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	struct item_handle *h = (struct item_handle *)(uintptr_t)fi->fh;

	(void)datasync;
	if (!h || !h->writable)
		return 0;
	return handle_store(current_fs(), path, h);
}

static int fs_release(const char *path, struct fuse_file_info *fi)
{
	struct fs *fs = current_fs();
	struct item_handle *h = (struct item_handle *)(uintptr_t)fi->fh;

	if (!h)
		return 0;
	if (h->writable) {
		bool pending;

		/* close() already stored what was written through flush;
		 * this stores what waited for the last close (a created or
		 * O_TRUNCed file never written, see fs_flush) or a handle
		 * whose flush never came. No program sees this result. */
		pthread_mutex_lock(&h->lock);
		pending = h->dirty;
		pthread_mutex_unlock(&h->lock);
		if (pending && handle_store(fs, path, h) < 0)
			log_msg(LOG_ERR, "%s: the store at the last close failed and no program was told; the bytes are in .%s.rejected",
				h->path, strrchr(h->path, '/') + 1);
		writer_remove(fs, h);
	}
	open_remove(fs, &h->link);
	handle_free(h);
	return 0;
}

static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct fs *fs = current_fs();
	struct item_handle *h = fi ? (struct item_handle *)(uintptr_t)fi->fh
				   : NULL;
	struct cache_blob *text = NULL;
	char *data = NULL;
	struct node n;
	time_t mtime;
	int rc;

	if (fs->read_only)
		return -EROFS;
	if (size < 0)
		return -EINVAL;
	if (h && h->scratch)
		return scratch_truncate(fs->scratch, h->scratch, size);
	if (h && h->writable) {
		/* ftruncate / O_TRUNC: changes what close stores. */
		pthread_mutex_lock(&h->lock);
		rc = handle_reserve(h, (size_t)size);
		if (!rc) {
			if ((size_t)size > h->len)
				memset(h->buf + h->len, 0,
				       (size_t)size - h->len);
			h->len = (size_t)size;
			h->dirty = true;
			h->written = true;
			h->error = 0;
		}
		pthread_mutex_unlock(&h->lock);
		return rc;
	}
	rc = resolve(fs, path, &n);
	if (rc)
		return rc;
	switch (n.kind) {
	case NODE_SCRATCH:
		rc = n.scratch ? scratch_truncate(fs->scratch, n.scratch, size)
			       : -ENOENT;
		break;
	case NODE_ITEM:
		/* truncate by path: a write of the truncated content, now.
		 * Refused past what an open file may hold (the text of an
		 * item may be longer than the item: base64, indentation)
		 * before anything is allocated; item_parse checks the rest. */
		if ((uint64_t)size > CODEC_ITEM_MAX * 8) {
			log_msg(LOG_ERR, "%s: truncate to %lld bytes refused: no item's file is longer than %u",
				path, (long long)size, CODEC_ITEM_MAX * 8);
			rc = -EFBIG;
			break;
		}
		rc = n.hidden ? -ENOENT
			      : item_fetch(fs, path, &n, &text, &mtime);
		if (rc)
			break;
		rc = -ENOMEM;
		data = calloc(1, (size_t)size + 1);
		if (!data)
			break;
		memcpy(data, text->data,
		       (size_t)size < text->len ? (size_t)size : text->len);
		rc = item_write(fs, path, &n, data, (size_t)size, false, false);
		break;
	case NODE_TABLE_JSON:
		rc = -EACCES;
		break;
	default:
		rc = -EISDIR;
		break;
	}
	free(data);
	cache_blob_unref(text);
	node_clear(&n);
	return rc;
}

/* ---- names: unlink, mkdir, rmdir, rename -------------------------------- */

/* What follows a deleted item (a DeleteItem, the delete of a move). */
static void item_deleted(struct fs *fs, const char *path, struct node *n)
{
	cache_item_put_negative(fs->cache, path);
	forget_listings(fs, path);
	drop_rejected(fs, path);
	invalidate_later(fs, path);
	/* A partition emptied through the mount stays until rmdir, so that
	 * rm -r can remove the directory after its files. */
	if (n->table->range_name)
		pathlist_add(fs, &fs->held, n->parent, NULL);
}

/* Deletes the item at path (DeleteItem) and keeps its partition listed. */
static int item_delete(struct fs *fs, const char *path, struct node *n)
{
	struct ddb_error err = { 0 };
	int rc;

	rc = ddb_delete_item(fs->ddb, n->table->name, n->key, NULL, NULL, NULL,
			     &err);
	if (rc)
		return rc;
	item_deleted(fs, path, n);
	return 0;
}

/* Removing a scratch file that an item was renamed to finishes that
 * rename: the item it came from goes, unless its name was written again. */
static int finish_moved_item(struct fs *fs, struct scratch_node *sn)
{
	char *origin = scratch_origin(sn);
	struct node n;
	int rc = 0;

	if (!origin)
		return 0;
	if (pathlist_has(fs, &fs->hidden, origin) &&
	    resolve(fs, origin, &n) == 0) {
		if (n.kind == NODE_ITEM)
			rc = item_delete(fs, origin, &n);
		node_clear(&n);
		if (rc == 0 || rc == -ENOENT) {
			pathlist_remove(fs, &fs->hidden, origin, false);
			rc = 0;
		}
	}
	free(origin);
	return rc;
}

static int fs_unlink(const char *path)
{
	struct fs *fs = current_fs();
	struct node n;
	int rc;

	if (fs->read_only)
		return -EROFS;
	rc = resolve(fs, path, &n);
	if (rc)
		return rc;
	switch (n.kind) {
	case NODE_SCRATCH:
		if (!n.scratch) {
			rc = -ENOENT;
			break;
		}
		rc = finish_moved_item(fs, n.scratch);
		if (!rc)
			rc = scratch_unlink(fs->scratch, path);
		break;
	case NODE_ITEM:
		rc = n.hidden ? -ENOENT : item_delete(fs, path, &n);
		break;
	case NODE_TABLE_JSON:
		rc = -EPERM;
		break;
	default:
		rc = -EISDIR;
		break;
	}
	node_clear(&n);
	return rc;
}

/* CreateTable with the schema (on-demand billing), waiting for ACTIVE. */
static int table_create(struct fs *fs, const char *name,
			const struct keyname_attr *hash,
			const struct keyname_attr *range)
{
	static const char types[] = { [KEYNAME_S] = 'S', [KEYNAME_N] = 'N',
				      [KEYNAME_B] = 'B' };
	struct ddb_error err = { 0 };
	json_t *req;
	char ht[2] = { types[hash->type], 0 }, rt[2] = { 0, 0 };
	int rc;

	req = json_pack("{ss s[{ssss}] s[{ssss}] ss}", "TableName", name,
			"AttributeDefinitions", "AttributeName", hash->name,
			"AttributeType", ht, "KeySchema", "AttributeName",
			hash->name, "KeyType", "HASH", "BillingMode",
			"PAY_PER_REQUEST");
	if (!req)
		return -ENOMEM;
	if (range && range->name) {
		rt[0] = types[range->type];
		json_array_append_new(json_object_get(req, "AttributeDefinitions"),
				      json_pack("{ssss}", "AttributeName",
						range->name, "AttributeType", rt));
		json_array_append_new(json_object_get(req, "KeySchema"),
				      json_pack("{ssss}", "AttributeName",
						range->name, "KeyType",
						"RANGE"));
	}
	rc = ddb_create_table(fs->ddb, req, true, NULL, &err);
	json_decref(req);
	if (rc == -EBUSY)
		rc = -EEXIST; /* ResourceInUseException: the table exists */
	return rc;
}

static int fs_mkdir(const char *path, mode_t mode)
{
	struct fs *fs = current_fs();
	struct keyname_schema spec = { 0 };
	const char *name = path + 1;
	struct node n;
	int rc;

	if (fs->read_only)
		return -EROFS;
	if (!strchr(name, '/')) {
		/* MNT/NAME or MNT/NAME,HASH:T[,RANGE:T]: a new table. */
		if (strchr(name, ',')) {
			rc = keyname_parse_mkdir(name, &spec);
			if (rc)
				return rc == -ENOMEM ? rc : -EINVAL;
			if (!table_allowed(fs, spec.table)) {
				rc = -EPERM;
				goto out_spec;
			}
			rc = table_create(fs, spec.table, &spec.hash,
					  &spec.range);
			if (!rc)
				rc = pathlist_add(fs, &fs->aliases, path,
						  spec.table);
		} else {
			if (!keyname_table_name_valid(name))
				return -EINVAL;
			if (!table_allowed(fs, name))
				return -EPERM;
			rc = table_create(fs, name, &fs->new_hash,
					  fs->new_range.name ? &fs->new_range
							     : NULL);
		}
		if (!rc)
			cache_forget(fs->cache, "/");
		/* Only the plain name: items may be written under either
		 * name of an aliased table, and only one would be noted. */
		if (!rc && !strchr(name, ','))
			created_add(fs, path, NULL, NULL);
out_spec:
		keyname_schema_free(&spec);
		return rc;
	}
	rc = resolve(fs, path, &n);
	if (rc)
		return rc;
	if (n.kind != NODE_PARTITION) {
		rc = n.kind == NODE_SCRATCH && n.scratch ? -EEXIST : -EPERM;
		if (n.kind == NODE_SCRATCH && !n.scratch)
			rc = n.table->range_name ? -EINVAL : -EPERM;
		goto out;
	}
	rc = partition_exists(fs, path, &n);
	if (rc == 0) {
		rc = -EEXIST;
		goto out;
	}
	if (rc != -ENOENT)
		goto out;
	/* Nothing to send: DynamoDB has no empty partitions. The mount holds
	 * it until an item is written in it or rmdir. */
	rc = pathlist_add(fs, &fs->held, path, NULL);
	if (!rc) {
		cache_forget(fs->cache, path);
		cache_forget(fs->cache, n.parent);
		created_add(fs, path, n.table, n.key);
	}
out:
	node_clear(&n);
	return rc;
}

/* Whether a table or partition has any item (consistent reads). A page
 * may come back with no item but a LastEvaluatedKey (Limit counts what was
 * read, and DynamoDB may stop early), which says nothing about the rest:
 * read on until an item or the end, so rmdir never deletes a full table. */
static int has_items(struct fs *fs, struct node *n, bool *any)
{
	struct ddb_error err = { 0 };
	json_t *req, *resp = NULL, *last;
	int rc;

	*any = false;
	if (n->kind == NODE_PARTITION)
		req = json_pack("{sssisbsss{ss}s{sO}}", "TableName",
				n->table->name, "Limit", 1, "ConsistentRead", 1,
				"KeyConditionExpression", "#h = :h",
				"ExpressionAttributeNames", "#h",
				n->table->hash_name,
				"ExpressionAttributeValues", ":h",
				json_object_get(n->key, n->table->hash_name));
	else
		req = json_pack("{sssisb}", "TableName", n->table->name,
				"Limit", 1, "ConsistentRead", 1);
	if (!req)
		return -ENOMEM;
	for (;;) {
		rc = ddb_call(fs->ddb,
			      n->kind == NODE_PARTITION ? "Query" : "Scan",
			      req, &resp, &err);
		if (rc)
			break;
		if (json_array_size(json_object_get(resp, "Items")) > 0) {
			*any = true;
			break;
		}
		last = json_object_get(resp, "LastEvaluatedKey");
		if (!json_is_object(last) || json_object_size(last) == 0)
			break;
		if (json_object_set(req, "ExclusiveStartKey", last)) {
			rc = -ENOMEM;
			break;
		}
		json_decref(resp);
		resp = NULL;
	}
	json_decref(resp);
	json_decref(req);
	return rc;
}

/* DeleteTable returns while the table is DELETING; rmdir returns once it
 * is gone, so that ls right after no longer shows it (as mkdir waits for
 * ACTIVE). Gives up quietly after two minutes. */
static void table_wait_gone(struct fs *fs, const char *name)
{
	unsigned delay_ms = 50;

	for (int waited = 0; waited < 120000; waited += (int)delay_ms) {
		struct ddb_error err = { 0 };
		json_t *desc = NULL;
		int rc = ddb_describe_table(fs->ddb, name, &desc, &err);

		json_decref(desc);
		if (rc)
			return;
		usleep(delay_ms * 1000);
		if (delay_ms < 1000)
			delay_ms *= 2;
	}
}

static int fs_rmdir(const char *path)
{
	struct fs *fs = current_fs();
	struct ddb_error err = { 0 };
	bool any = false;
	struct node n;
	int rc;

	if (fs->read_only)
		return -EROFS;
	rc = resolve(fs, path, &n);
	if (rc)
		return rc;
	if (n.kind != NODE_TABLE && n.kind != NODE_PARTITION) {
		rc = n.kind == NODE_ROOT ? -EBUSY : -ENOTDIR;
		goto out;
	}
	if (scratch_dir_has_files(fs->scratch, path)) {
		rc = -ENOTEMPTY;
		goto out;
	}
	rc = has_items(fs, &n, &any);
	if (rc)
		goto out;
	if (any) {
		rc = -ENOTEMPTY;
		goto out;
	}
	if (n.kind == NODE_PARTITION) {
		if (!pathlist_has(fs, &fs->held, path)) {
			rc = -ENOENT;
			goto out;
		}
		pathlist_remove(fs, &fs->held, path, false);
	} else {
		if (pathlist_has_below(fs, &fs->held, path)) {
			rc = -ENOTEMPTY;
			goto out;
		}
		rc = ddb_delete_table(fs->ddb, n.table->name, &err);
		if (rc == -EINVAL && strstr(err.message, "protect"))
			rc = -EPERM; /* deletion protection */
		if (rc)
			goto out;
		table_wait_gone(fs, n.table->name);
		table_forget(fs, n.table->name);
		pathlist_remove(fs, &fs->aliases, path, false);
		cache_forget_tree(fs->cache, path);
	}
	cache_forget(fs->cache, path);
	cache_forget(fs->cache, n.parent);
	created_remove(fs, path);
out:
	node_clear(&n);
	return rc;
}

/* The item at from with its key attributes replaced by to's key. */
static int moved_item(struct fs *fs, struct node *from, struct node *to,
		      json_t **out)
{
	struct ddb_error err = { 0 };
	json_t *item = NULL;
	const char *k;
	json_t *v;
	int rc;

	rc = ddb_get_item(fs->ddb, from->table->name, from->key, true, &item,
			  &err);
	if (rc)
		return rc;
	json_object_del(item, from->table->hash_name);
	if (from->table->range_name)
		json_object_del(item, from->table->range_name);
	json_object_foreach(to->key, k, v)
		json_object_set(item, k, v);
	*out = item;
	return 0;
}

/* mv item item: one TransactWriteItems (put the new key, delete the old),
 * or put then delete on a server without transactions. */
static int rename_item(struct fs *fs, const char *from, struct node *nf,
		       const char *to, struct node *nt, bool noreplace)
{
	struct ddb_error err = { 0 };
	json_t *item = NULL, *actions = NULL, *put;
	int rc;

	rc = moved_item(fs, nf, nt, &item);
	if (rc)
		return rc;
	rc = -ENOMEM;
	put = json_pack("{s{sssO}}", "Put", "TableName", nt->table->name,
			"Item", item);
	if (put && noreplace) {
		json_t *p = json_object_get(put, "Put");
		json_object_set_new(p, "ConditionExpression",
				    json_string("attribute_not_exists(#h)"));
		json_object_set_new(p, "ExpressionAttributeNames",
				    json_pack("{ss}", "#h",
					      nt->table->hash_name));
	}
	actions = json_pack("[o{s{sssO}}]", put, "Delete", "TableName",
			    nf->table->name, "Key", nf->key);
	if (!actions)
		goto out;
	rc = ddb_transact_write(fs->ddb, actions, NULL, &err);
	if (rc == -ENOSYS) {
		/* No transactions here (dynalite): put first, so the item is
		 * never absent; then delete the old key. */
		rc = item_put(fs, to, nt, item, noreplace);
		if (!rc)
			rc = item_delete(fs, from, nf);
		goto out;
	}
	if (rc)
		goto out;
	item_deleted(fs, from, nf);
	item_stored(fs, to, nt->table, item);
out:
	json_decref(actions);
	json_decref(item);
	return rc;
}

/* mv scratch item: the scratch file's bytes become the item (sed -i,
 * jq ... > t && mv t f). The scratch file goes only once stored. */
static int rename_scratch_to_item(struct fs *fs, const char *from,
				  struct node *nf, const char *to,
				  struct node *nt, bool noreplace)
{
	char *data = NULL, *origin;
	size_t len = 0;
	int rc;

	struct cache_blob *text = NULL;
	bool new_item;
	time_t mtime;

	rc = scratch_copy(nf->scratch, &data, &len);
	if (rc)
		return rc;
	rc = nt->hidden ? -ENOENT : item_fetch(fs, to, nt, &text, &mtime);
	cache_blob_unref(text);
	if (rc && rc != -ENOENT) {
		/* sed -i deletes its temporary file when rename fails: the
		 * bytes must outlive it here too. */
		log_msg(LOG_ERR, "%s: not stored (%s); the bytes are kept in .%s.rejected",
			to, strerror(-rc), strrchr(to, '/') + 1);
		keep_rejected(fs, to, data, len);
		free(data);
		return rc;
	}
	new_item = rc == -ENOENT;
	rc = item_write(fs, to, nt, data, len, noreplace, new_item);
	free(data);
	if (rc)
		return rc;
	origin = scratch_origin(nf->scratch);
	if (origin && strcmp(origin, to) != 0) {
		/* item -> scratch -> another item: the first name goes now. */
		rc = finish_moved_item(fs, nf->scratch);
	} else if (origin) {
		pathlist_remove(fs, &fs->hidden, origin, false);
	}
	free(origin);
	scratch_unlink(fs->scratch, from);
	return rc;
}

/* mv item scratch (vim's backup, "mv x.json x.json~"): the item stays in
 * DynamoDB and is hidden in this mount; removing the scratch file later
 * deletes it, writing its name again replaces it. Never absent meanwhile. */
static int rename_item_to_scratch(struct fs *fs, const char *from,
				  struct node *nf, const char *to,
				  struct node *nt, bool noreplace)
{
	struct cache_blob *text = NULL;
	struct scratch_node *sn = NULL;
	time_t mtime;
	int rc;

	if (nt->scratch && noreplace)
		return -EEXIST;
	rc = item_fetch(fs, from, nf, &text, &mtime);
	if (rc)
		return rc;
	if (nt->scratch)
		scratch_unlink(fs->scratch, to);
	rc = scratch_create(fs->scratch, to, 0644, &sn);
	if (!rc)
		rc = scratch_set(fs->scratch, sn, text->data, text->len);
	if (!rc) {
		scratch_set_mtime(sn, mtime);
		rc = scratch_set_origin(sn, from);
	}
	if (!rc)
		rc = pathlist_add(fs, &fs->hidden, from, NULL);
	if (rc && sn)
		scratch_unlink(fs->scratch, to);
	cache_forget(fs->cache, from);
	forget_listings(fs, from);
	scratch_node_unref(sn);
	cache_blob_unref(text);
	return rc;
}

static int fs_rename(const char *from, const char *to, unsigned int flags)
{
	struct fs *fs = current_fs();
	bool noreplace = flags & RENAME_NOREPLACE;
	struct node nf, nt;
	int rc;

	if (fs->read_only)
		return -EROFS;
	if (flags & ~RENAME_NOREPLACE)
		return -EINVAL;
	rc = resolve(fs, from, &nf);
	if (rc)
		return rc;
	rc = resolve(fs, to, &nt);
	if (rc == -ENOENT && (nf.kind == NODE_TABLE || nf.kind == NODE_PARTITION))
		rc = -EXDEV;
	if (rc) {
		node_clear(&nf);
		return rc;
	}
	if (strcmp(from, to) == 0) {
		rc = 0;
		goto out;
	}
	switch (nf.kind) {
	case NODE_ROOT:
		rc = -EBUSY;
		break;
	case NODE_TABLE:
	case NODE_PARTITION:
		/* mv copies and deletes a directory it cannot rename. */
		rc = -EXDEV;
		break;
	case NODE_TABLE_JSON:
		rc = -EPERM;
		break;
	case NODE_ITEM:
		if (nf.hidden) {
			rc = -ENOENT;
		} else if (nt.kind == NODE_ITEM) {
			rc = rename_item(fs, from, &nf, to, &nt, noreplace);
		} else if (nt.kind == NODE_SCRATCH) {
			rc = rename_item_to_scratch(fs, from, &nf, to, &nt,
						    noreplace);
		} else {
			rc = nt.kind == NODE_PARTITION ? -EXDEV : -EISDIR;
		}
		break;
	case NODE_SCRATCH:
		if (!nf.scratch) {
			rc = -ENOENT;
		} else if (nt.kind == NODE_ITEM) {
			rc = rename_scratch_to_item(fs, from, &nf, to, &nt,
						    noreplace);
		} else if (nt.kind == NODE_SCRATCH ||
			   nt.kind == NODE_PARTITION) {
			rc = scratch_rename(fs->scratch, from, to, noreplace);
		} else {
			rc = -EPERM;
		}
		break;
	}
out:
	node_clear(&nf);
	node_clear(&nt);
	return rc;
}

static int fs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct fs *fs = current_fs();
	struct node n;
	int rc;

	if (fs->read_only)
		return -EROFS;
	rc = resolve(fs, path, &n);
	if (rc)
		return rc;
	/* Accepted with no request: DynamoDB keeps no modes. */
	if (n.kind == NODE_SCRATCH && n.scratch)
		scratch_set_mode(n.scratch, mode & 07777);
	node_clear(&n);
	return 0;
}

static int fs_chown(const char *path, uid_t uid, gid_t gid,
		    struct fuse_file_info *fi)
{
	return current_fs()->read_only ? -EROFS : 0;
}

static int fs_utimens(const char *path, const struct timespec tv[2],
		      struct fuse_file_info *fi)
{
	struct fs *fs = current_fs();
	struct node n;
	int rc;

	if (fs->read_only)
		return -EROFS;
	rc = resolve(fs, path, &n);
	if (rc)
		return rc;
	if (n.kind == NODE_SCRATCH && n.scratch && tv &&
	    tv[1].tv_nsec != UTIME_OMIT)
		scratch_set_mtime(n.scratch, tv[1].tv_nsec == UTIME_NOW
						     ? time(NULL)
						     : tv[1].tv_sec);
	node_clear(&n);
	return 0;
}

/* ---- extended attributes ------------------------------------------------ */

/* Tests expire caches without waiting: with DYNAMOFS_TEST_CLOCK=1 in the
 * daemon's environment, setting user.dynamofs.test.advance_clock on the
 * mount's root to a number of seconds moves the expiry clock on by that
 * much, before setxattr returns. Nothing else is settable. */
static int fs_setxattr(const char *path, const char *name, const char *value,
		       size_t size, int flags)
{
	struct fs *fs = current_fs();
	char buf[32], *end;
	double s;

	(void)flags;
	if (!fs->test_clock || strcmp(path, "/") != 0 ||
	    strcmp(name, "user.dynamofs.test.advance_clock") != 0)
		return -ENOTSUP;
	if (size == 0 || size >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, value, size);
	buf[size] = '\0';
	errno = 0;
	s = strtod(buf, &end);
	if (errno || end == buf || *end || !(s >= 0 && s <= 86400 * 365))
		return -EINVAL;
	monotime_advance_s(s);
	log_msg(LOG_INFO, "test clock moved on by %g s", s);
	return 0;
}

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
	/* Each open must read the item afresh (another mount may have changed
	 * it): -o kernel_cache and auto_cache would keep old pages. */
	cfg->kernel_cache = 0;
	cfg->auto_cache = 0;
	conn->want |= conn->capable & FUSE_CAP_READDIRPLUS;
	/* open(O_TRUNC) must reach open, not come as a separate truncate:
	 * that would store an empty item before the new content. */
	conn->want |= conn->capable & FUSE_CAP_ATOMIC_O_TRUNC;
	/* Lookups of many names in one directory (xargs -P8 cat T/P/...)
	 * must reach us together, each waiting on its own GetItem. */
	conn->want |= conn->capable & FUSE_CAP_PARALLEL_DIROPS;
	log_msg(LOG_DEBUG, "fuse: capable %#x want %#x", conn->capable,
		conn->want);
	inval_start(fs, fuse_get_context()->fuse);
	return fs;
}

static void fs_destroy(void *private_data)
{
	inval_stop(private_data);
}

static const struct fuse_operations fs_ops = {
	.init = fs_init,
	.destroy = fs_destroy,
	.getattr = fs_getattr,
	.opendir = fs_opendir,
	.readdir = fs_readdir,
	.releasedir = fs_releasedir,
	.open = fs_open,
	.create = fs_create,
	.read = fs_read,
	.write = fs_write,
	.flush = fs_flush,
	.fsync = fs_fsync,
	.release = fs_release,
	.truncate = fs_truncate,
	.unlink = fs_unlink,
	.mkdir = fs_mkdir,
	.rmdir = fs_rmdir,
	.rename = fs_rename,
	.chmod = fs_chmod,
	.chown = fs_chown,
	.utimens = fs_utimens,
	.setxattr = fs_setxattr,
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
	inval_stop(fs);
	while (fs->open_handles.next && fs->open_handles.next != &fs->open_handles) {
		struct openlink *link = fs->open_handles.next;
		open_remove(fs, link);
		link->free(link);
	}
	fs->writers = NULL;
	pthread_cond_destroy(&fs->inval_cond);
	cache_free(fs->cache);
	putq_free(fs->putq);
	scratch_store_free(fs->scratch);
	keyname_attr_free(&fs->new_hash);
	keyname_attr_free(&fs->new_range);
	stash_clear(fs);
	while (fs->created) {
		struct created *c = fs->created;
		fs->created = c->next;
		created_free(c);
	}
	pathlist_clear(&fs->held);
	pathlist_clear(&fs->hidden);
	pathlist_clear(&fs->aliases);
	for (size_t i = 0; i < fs->n_tables; i++)
		table_unref(fs->table_list[i]);
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
