/* fs_resolve.c - what a path names: table schemas from DescribeTable, the
 * keys behind shortened names, the mount's path sets, and fs_resolve. */
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
#include "shortname.h"

/* ---- key names ---------------------------------------------------------- */

enum keyname_type fs_key_type(char t)
{
	return t == 'N' ? KEYNAME_N : t == 'B' ? KEYNAME_B : KEYNAME_S;
}

/* The file name of one key attribute value ({"S": "x"}) as kind (which
 * fixes the suffix). Returns 0 and *name (caller frees with free()), or
 * -errno. */
int fs_name_of_value(const json_t *value, enum keyname_kind kind, char **name)
{
	struct keyname_key k = {0};
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
	struct keyname_key k = {0};
	int rc;

	rc = keyname_decode(name, kind, fs_key_type(type), &k);
	if (rc == 0)
		rc = keyname_key_to_json(k.type, k.value, k.len, value);
	keyname_key_free(&k);
	return rc;
}

/* ---- tables ------------------------------------------------------------- */

void fs_table_unref(struct table *t)
{
	if (!t || __atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	free(t->name);
	free(t->hash_name);
	free(t->range_name);
	cache_blob_unref(t->describe);
	free(t);
}

struct table *fs_table_ref(struct table *t)
{
	__atomic_add_fetch(&t->refs, 1, __ATOMIC_RELAXED);
	return t;
}

bool fs_table_allowed(const struct fs *fs, const char *name)
{
	if (!fs->tables)
		return true;
	for (char **p = fs->tables; *p; p++)
		if (strcmp(*p, name) == 0)
			return true;
	return false;
}

/* Builds a table from DescribeTable's "Table" object. NULL on ENOMEM or a
 * description without a key schema. */
static struct table *table_from_description(const char *name, json_t *desc)
{
	struct ddb_key_schema keys;
	struct table *t = calloc(1, sizeof(*t));
	char *text = NULL;

	if (!t)
		return NULL;
	t->refs = 1;
	t->name = strdup(name);
	if (ddb_table_keys(desc, &keys, &t->size_bytes) == 0) {
		t->hash_name = strdup(keys.hash_name);
		t->schema.hash_type = keys.hash_type;
		if (keys.range_name) {
			t->range_name = strdup(keys.range_name);
			if (!t->range_name)
				goto fail;
			t->schema.range_type = keys.range_type;
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
		fs_table_unref(t);
		return NULL;
	}
	return t;
fail:
	free(text);
	fs_table_unref(t);
	return NULL;
}

/* The table called name, from memory while fresh, else DescribeTable.
 * Returns 0 and *out (a reference; drop with table_unref) or -errno
 * (-ENOENT when there is no such table or it is filtered out). */
static int table_get(struct fs *fs, const char *name, struct table **out)
{
	struct ddb_error err = {0};
	struct nameset_entry *e;
	struct table *t = NULL;
	json_t *desc = NULL;
	double now = monotime_s();
	int rc;

	*out = NULL;
	if (!fs_table_allowed(fs, name) || !keyname_table_name_valid(name))
		return -ENOENT;
	pthread_mutex_lock(&fs->tables_lock);
	e = fs_nameset_find(&fs->tables_by_name, name);
	if (e && ((struct table *)e->val)->expires > now)
		*out = fs_table_ref(e->val);
	pthread_mutex_unlock(&fs->tables_lock);
	if (*out)
		return 0;

	rc = ddb_describe_table(fs->ddb, name, &desc, &err);
	if (rc && rc != -ENOENT) {
		/* A key schema never changes: while DescribeTable cannot be
		 * answered (throttling, an outage), the one described before
		 * still names every item right, and a save must not fail on
		 * a request it does not need. Only .table.json stays old. */
		pthread_mutex_lock(&fs->tables_lock);
		e = fs_nameset_find(&fs->tables_by_name, name);
		if (e)
			*out = fs_table_ref(e->val);
		pthread_mutex_unlock(&fs->tables_lock);
		if (*out) {
			log_msg(
			    LOG_WARNING,
			    "%s: DescribeTable failed (%s); using the key schema described before",
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

	pthread_mutex_lock(&fs->tables_lock);
	rc = fs_nameset_put(&fs->tables_by_name, name, &e);
	if (rc == 0)
		fs_table_unref(e->val);
	if (rc >= 0)
		e->val = fs_table_ref(t);
	pthread_mutex_unlock(&fs->tables_lock);
	*out = t;
	return 0;
}

/* Forgets a table (after DeleteTable or a ResourceNotFound). */
void fs_table_forget(struct fs *fs, const char *name)
{
	struct nameset_entry *e;

	pthread_mutex_lock(&fs->tables_lock);
	e = fs_nameset_find(&fs->tables_by_name, name);
	if (e) {
		fs_table_unref(e->val);
		fs_nameset_remove(&fs->tables_by_name, e);
	}
	pthread_mutex_unlock(&fs->tables_lock);
}

void fs_tables_clear(struct fs *fs)
{
	for (struct nameset_entry *e =
		 fs_nameset_next(&fs->tables_by_name, NULL);
	     e; e = fs_nameset_next(&fs->tables_by_name, e))
		fs_table_unref(e->val);
	fs_nameset_free(&fs->tables_by_name);
}

/* ---- shortened names ---------------------------------------------------- */

/* Remembers the key a shortened name stands for; bounded, so a table of
 * many long keys costs a lookup each, never a scan, and memory that stays
 * put (a name forgotten is learnt again by listing its directory). */
void fs_shortname_put(struct fs *fs, const char *path, const json_t *key)
{
	if (shortname_map_put(fs->shortnames, path, key))
		log_msg(LOG_WARNING, "%s: no memory to remember its key", path);
}

/* The key value a shortened path stands for (new reference), or NULL. */
static json_t *shortname_get(struct fs *fs, const char *path)
{
	return shortname_map_get(fs->shortnames, path);
}

/* ---- paths -------------------------------------------------------------- */

void fs_node_clear(struct node *n)
{
	fs_table_unref(n->table);
	json_decref(n->key);
	scratch_node_unref(n->scratch);
	n->table = NULL;
	n->key = NULL;
	n->scratch = NULL;
}

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
	return fs_list_for_shortname(fs, dirpath, t, pkey, path, value);
}

/* Works out what path names. Returns 0 and fills n (clear with
 * node_clear), or -ENOENT and friends. A name that is not a key's is a
 * NODE_SCRATCH, with n->scratch NULL when no such scratch file exists. */
int fs_resolve(struct fs *fs, const char *path, struct node *n)
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
	alias = fs_pathset_value(&fs->aliases, ppath);
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
	if (count == 2 && strcmp(parts[1], ITEMS_JSONL) == 0) {
		n->kind = NODE_ITEMS;
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
	if (strcmp(parts[2], ITEMS_JSONL) == 0) {
		n->kind = NODE_ITEMS;
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
		fs_node_clear(n);
		return -ENOMEM;
	}
	if (n->kind == NODE_ITEM)
		n->hidden = fs_pathset_has(&fs->hidden, path);
	return 0;
fail:
	json_decref(hv);
	json_decref(rv);
	fs_node_clear(n);
	return rc;
}
