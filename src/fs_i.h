/* fs_i.h - the filesystem's private header (as libfuse's lib/fuse_i.h): the
 * state the fs*.c files share and the functions they call across files. */
#ifndef DYNAMOFS_FS_I_H
#define DYNAMOFS_FS_I_H

#include <fuse.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "cache.h"
#include "codec.h"
#include "ddb.h"
#include "fs.h"
#include "keyname.h"
#include "pathmap.h"
#include "putq.h"
#include "scratch.h"
#include "shortname.h"

/* The files of the filesystem:
 *   fs.c          the fuse_operations callbacks, open handles, stores
 *   fs_resolve.c  path -> node: table schemas, shortened names, path sets
 *   fs_list.c     listings page by page, partition fills, the stash
 *   fs_made.c     the directories this mount made (names known absent)
 *   fs_state.c    fs_new/fs_free, the open-handle list, invalidations
 *
 * Words: "a reference" is counted (drop it with the matching _unref or
 * json_decref); "taken" means the callee now owns it; "borrowed" means
 * the caller keeps it and it lives as long as its owner. */

#define TABLE_JSON ".table.json"
/* A table's or a partition's bulk file (SPEC §3): all its items, a line
 * each. Answers lookups; never listed. */
#define ITEMS_JSONL ".items.jsonl"

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

/* A set of names (or paths), each with a value for those who map names to
 * things: the one container of the filesystem's registries, a pathmap
 * with the name in the entry's own allocation. Not thread-safe: its owner
 * locks. A zeroed nameset is empty. */
struct nameset_entry {
	struct pathmap_node node; /* node.path is name */
	void *val;
	char name[];
};

struct nameset {
	struct pathmap map; /* made at the first add */
};

/* A set of paths with its own lock: partitions the mount holds, items
 * renamed to a scratch name, table aliases (value: the table name, owned
 * by the set). count is read without the lock, for a quick "empty". */
struct fs_pathset {
	pthread_mutex_t lock;
	struct nameset set;
	size_t count; /* atomic */
};

struct item_handle;
struct stash;
struct inval;

/* The FUSE requests the mount counts (high-level libfuse asks getattr for a
 * LOOKUP as well as for a GETATTR). */
enum fs_op {
	FS_OP_GETATTR,
	FS_OP_OPENDIR,
	FS_OP_READDIR,
	FS_OP_OPEN,
	FS_OP_READ,
	FS_OP_WRITE,
	FS_OP_FLUSH,
	FS_OP_RELEASE,
	FS_OP_INVALIDATE, /* not a request: notifications the mount sent */
	FS_OP_N
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
	bool overwrite;	   /* conflicts=overwrite: no condition, puts grouped */
	char *version;	   /* version_attribute=, or NULL */
	struct seen *seen; /* what each writer saw (SPEC §6) */
	struct pagecache *pages; /* what the kernel's page cache holds */
	bool test_clock;	 /* DYNAMOFS_TEST_CLOCK=1: see fs_setxattr */
	char **tables;		 /* NULL-terminated filter, or NULL */
	uid_t uid;
	gid_t gid;
	time_t started;

	struct scratch_store *scratch;
	struct keyname_attr new_hash;  /* schema plain mkdir gives tables */
	struct keyname_attr new_range; /* name NULL: no sort key */

	/* Locking: each registry below has a lock of its own, taken for one
	 * short look or change and never held while another of these is
	 * taken, nor across a request (a caller that needs an entry past
	 * its lock takes a reference or a copy). So there is no lock order
	 * among them; the only nesting is created_lock, then the cache's
	 * own lock (fs_created_says_absent marks a name absent in the cache
	 * under it, so that a store noted meanwhile cannot be hidden).
	 * The sets keyed by name are namesets; the three lists left are
	 * lists for a reason: several writers may share a path, the stash
	 * keeps the newest STASH_MAX in order, and an open handle leaves
	 * its list in O(1) without a lookup. */
	pthread_mutex_t tables_lock;
	struct nameset tables_by_name; /* name -> struct table (a reference) */
	struct shortname_map *shortnames; /* its own lock */
	struct fs_pathset held;		  /* empty partitions the mount holds */
	struct fs_pathset hidden;	  /* items renamed to a scratch name */
	struct fs_pathset aliases;	  /* "/NAME,HASH:T" -> NAME */
	pthread_mutex_t writers_lock;
	struct item_handle *writers; /* open for writing, by path */
	pthread_mutex_t stash_lock;
	struct stash *stashed; /* listings begun by a lookup */
	pthread_mutex_t created_lock;
	struct nameset created; /* directories mkdir made: path ->
				   struct created, see fs_made.c */
	pthread_mutex_t open_lock;
	struct openlink open_handles; /* sentinel of a circular list */

	/* FUSE requests served, by kind (fs_count; user.dynamofs.stats) */
	unsigned long ops[FS_OP_N];

	/* Kernel cache invalidations, sent from a thread of their own: a
	 * notification sent from inside a request on the same file may wait
	 * on that request (libfuse warns of the deadlock). */
	struct fuse *fuse;
	pthread_t inval_thread;
	bool inval_running;
	bool inval_stop;
	pthread_mutex_t inval_lock;
	pthread_cond_t inval_cond;
	struct inval *inval_queue; /* under inval_lock */
};

static inline void fs_count(struct fs *fs, enum fs_op op)
{
	__atomic_add_fetch(&fs->ops[op], 1, __ATOMIC_RELAXED);
}

enum node_kind {
	NODE_ROOT,
	NODE_TABLE,
	NODE_TABLE_JSON,
	NODE_ITEMS, /* .items.jsonl: key NULL (table) or the partition's */
	NODE_PARTITION,
	NODE_ITEM,
	NODE_SCRATCH, /* a name that is not an item: the mount's memory only */
};

/* What a path names, from fs_resolve. */
struct node {
	enum node_kind kind;
	struct table *table; /* reference, for all but the root */
	json_t *key;	     /* item: full key map; partition: {hash: value} */
	struct scratch_node
	    *scratch;	   /* NODE_SCRATCH: the file, or NULL if none */
	bool hidden;	   /* NODE_ITEM renamed to a scratch name */
	char parent[4096]; /* the directory holding this node */
	const char *name;  /* the last component, inside path */
};

enum lister_kind {
	LIST_ROOT,	 /* ListTables */
	LIST_ITEMS,	 /* Scan of a partition-key-only table */
	LIST_PARTITIONS, /* Scan of the partition key, de-duplicated */
	LIST_PARTITION,	 /* Query of one partition */
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
	struct table *table;	      /* reference; NULL for the root */
	json_t *pkey;		      /* partition: {hash: value} */
	json_t *last_key;	      /* Query: LastEvaluatedKey, or NULL */
	struct ddb_scan_cursor *scan; /* Scan: opened at the first page */
	char *last_table;	      /* LastEvaluatedTableName */
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
	size_t fill_bytes;    /* rendered so far; past the budget, fill stops */
	struct nameset parts; /* partition name -> its listing */
	/* A lookup of a shortened name reads pages only until they show
	 * it, and takes its key from there: the bounded map of shortened
	 * names may have dropped it again by the end of a long listing. */
	const char *want;
	json_t *found;
};

/* ---- fs_resolve.c ------------------------------------------------------- */

/* The keyname type of a key-schema type letter ('S', 'N', 'B'). */
enum keyname_type fs_key_type(char t);

/* The file name of one key attribute value ({"S": "x"}) as kind. Returns 0
 * and *name (caller frees with free()), or -errno. Pure. */
int fs_name_of_value(const json_t *value, enum keyname_kind kind, char **name);

/* Takes a reference to t / drops one (t may be NULL); atomic, so any
 * thread may hold and drop them without a lock. */
struct table *fs_table_ref(struct table *t);
void fs_table_unref(struct table *t);

/* Whether name passes the tables= filter. Reads only what fs_new set. */
bool fs_table_allowed(const struct fs *fs, const char *name);

/* Forgets the described table name (after DeleteTable or a
 * ResourceNotFound). Takes fs->tables_lock. */
void fs_table_forget(struct fs *fs, const char *name);
/* Drops every described table, without the lock (fs_free). */
void fs_tables_clear(struct fs *fs);

/* Remembers that the shortened path stands for key (copied); bounded.
 * Thread-safe (the map's own lock). */
void fs_shortname_put(struct fs *fs, const char *path, const json_t *key);

/* Works out what path names (DescribeTable, and a listing's pages for a
 * shortened name, when not known). Returns 0 and fills n (clear with
 * fs_node_clear), or -ENOENT and friends. A name that is not a key's is a
 * NODE_SCRATCH, with n->scratch NULL when no such scratch file exists.
 * Thread-safe; takes the registries' locks one at a time. */
int fs_resolve(struct fs *fs, const char *path, struct node *n);

/* Drops what n holds (n itself is the caller's). */
void fs_node_clear(struct node *n);

/* ---- fs_list.c ---------------------------------------------------------- */

/* "dir/name" ("/name" under the root). Caller frees with free(); NULL on
 * ENOMEM. */
char *fs_join_path(const char *dir, const char *name);

/* Renders item and remembers it under path in the item cache. Returns 0
 * with *text (a blob reference; caller drops) and *mtime, or -errno. */
int fs_item_store(struct fs *fs, struct table *t, const char *path,
		  json_t *item, struct cache_blob **text, time_t *mtime);

/* fs_item_store of the item in a GetItem answer (len bytes of body, from
 * ddb_get_item_body), rendered from the bytes without a jansson tree.
 * Returns -ENOENT, storing nothing, when the answer holds no item; -EIO
 * for an answer that is not JSON. */
int fs_item_store_body(struct fs *fs, struct table *t, const char *path,
		       const char *body, size_t len, struct cache_blob **text,
		       time_t *mtime);

/* A listing of dirpath: the root (t NULL), a table (pkey NULL) or the
 * partition pkey ({hash: value}, a new reference is taken) of t (a
 * reference is taken). Sends nothing. NULL on ENOMEM. Free with
 * fs_lister_free. A lister is not thread-safe: one reader at a time. */
struct lister *fs_lister_new(struct fs *fs, const char *dirpath,
			     struct table *t, json_t *pkey);
void fs_lister_free(struct lister *l);

/* Fetches the next page (one request) and appends its entries, rendering
 * its items into the cache. Returns 0 or -errno; sets l->done after the
 * last page. */
int fs_lister_next_page(struct lister *l);

/* Once l->done: keeps the listing in the cache, and with a full Scan's
 * fill every partition's listing too. */
void fs_lister_publish(struct lister *l);

/* The stashed listing of path (taken; caller frees), or NULL. Takes
 * fs->stash_lock. fs_stash_clear frees them all, without the lock (fs_free). */
struct lister *fs_stash_take(struct fs *fs, const char *path);
void fs_stash_clear(struct fs *fs);

/* The key value of the shortened name path in dirpath, read from the
 * listing's pages up to the one that shows it. Returns 0 and *value (a
 * new reference), -ENOENT when no page does, or -errno. */
int fs_list_for_shortname(struct fs *fs, const char *dirpath, struct table *t,
			  json_t *pkey, const char *path, json_t **value);

/* Whether the partition at path (n from fs_resolve) exists: held by the
 * mount, in a fresh listing, else the first page of its Query (kept for
 * the opendir that follows). Returns 0, -ENOENT or -errno. */
int fs_partition_exists(struct fs *fs, const char *path, struct node *n);

/* ---- fs_made.c ---------------------------------------------------------- */

/* Remembers that path (a table, or a partition of table t with key pkey;
 * references taken) was made empty by this mount just now. */
void fs_created_add(struct fs *fs, const char *path, struct table *t,
		    json_t *pkey);
/* Forgets path and every directory below it (rmdir). */
void fs_created_remove(struct fs *fs, const char *path);
/* Whether path is known absent (its directory made by this mount within
 * the cache time, or renewed with one Query, and the name not put there
 * since); when so, also caches path as absent. */
bool fs_created_says_absent(struct fs *fs, const char *path);
/* Notes that path now exists: its name in its directory, and its
 * partition's name in the table. Call before the item enters the cache. */
void fs_created_note(struct fs *fs, const char *path);
/* Frees every entry, without the lock (fs_free). */
void fs_created_clear(struct fs *fs);

/* ---- fs_state.c --------------------------------------------------------- */

/* Namesets. fs_nameset_put finds or adds name: returns 1 when added (its
 * val NULL), 0 when present, -ENOMEM, with the entry in *e.
 * fs_nameset_add is put without the entry. fs_nameset_next walks the
 * entries in no order (NULL: the first; NULL after the last; no change to
 * the set meanwhile, but fs_nameset_remove of the entry just returned, with
 * the next one taken first). fs_nameset_remove frees the entry (its value
 * is the caller's). fs_nameset_free frees every entry (values the caller's
 * to free first) and leaves the set empty. */
int fs_nameset_put(struct nameset *s, const char *name,
		   struct nameset_entry **e);
int fs_nameset_add(struct nameset *s, const char *name);
struct nameset_entry *fs_nameset_find(const struct nameset *s,
				      const char *name);
bool fs_nameset_has(const struct nameset *s, const char *name);
size_t fs_nameset_count(const struct nameset *s);
struct nameset_entry *fs_nameset_next(const struct nameset *s,
				      const struct nameset_entry *e);
void fs_nameset_remove(struct nameset *s, struct nameset_entry *e);
void fs_nameset_free(struct nameset *s);

/* Path sets (held, hidden, aliases): each call takes the set's own lock
 * for itself, so no caller holds it across two calls. */
void fs_pathset_init(struct fs_pathset *ps);
bool fs_pathset_has(struct fs_pathset *ps, const char *path);
/* Adds path (with value, copied, may be NULL) unless present. Returns 0 or
 * -ENOMEM. */
int fs_pathset_add(struct fs_pathset *ps, const char *path, const char *value);
/* Removes path, and with tree every path below it too. */
void fs_pathset_remove(struct fs_pathset *ps, const char *path, bool tree);
/* Whether any path below dir (not dir itself) is in the set. */
bool fs_pathset_has_below(struct fs_pathset *ps, const char *dir);
/* Calls fn with the last component of each path directly in dir, under
 * the set's lock (fn must not call back into the set). */
void fs_pathset_each_in(struct fs_pathset *ps, const char *dir,
			void (*fn)(const char *name, void *arg), void *arg);
/* The value stored for path (a copy; caller frees with free()), or NULL. */
char *fs_pathset_value(struct fs_pathset *ps, const char *path);
/* Frees every entry and the lock (fs_free, once threads are gone). */
void fs_pathset_destroy(struct fs_pathset *ps);

/* Puts link on / takes it off the list of open handles (fs->open_lock). free_fn
 * frees a handle the kernel never released, from fs_free. */
void fs_openlink_add(struct fs *fs, struct openlink *link,
		     void (*free_fn)(struct openlink *));
void fs_openlink_remove(struct fs *fs, struct openlink *link);

/* Asks the kernel to forget what it cached of path (attributes, pages),
 * soon, from the invalidation thread; nothing before fs_inval_start. */
void fs_invalidate_later(struct fs *fs, const char *path);
/* Starts / stops (and joins) the invalidation thread. */
void fs_inval_start(struct fs *fs, struct fuse *fuse);
void fs_inval_stop(struct fs *fs);

#endif
