/* cache.h - the mount's memory of rendered items and directory listings:
 * time-limited (cache_ttl), bounded in bytes (cache_size), least recently used
 * out first. */
#ifndef DYNAMOFS_CACHE_H
#define DYNAMOFS_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* An immutable, reference-counted byte string (a rendered item file). */
struct cache_blob {
	size_t refs; /* atomic */
	size_t len;
	uint64_t hash; /* cache_content_hash of data: what "same content"
			  means to the cache and the kernel's page cache */
	char data[];   /* len bytes, then a NUL */
};

/* The heap footprint of one malloc(n) of glibc (header and 16-byte
 * rounding, 32 bytes at least): what the cache counts for each block. */
size_t cache_heap_size(size_t n);

/* SipHash-2-4 of len bytes under key (two 64-bit words, the reference's
 * little-endian key bytes). */
uint64_t cache_siphash(const uint64_t key[2], const void *data, size_t len);

/* cache_siphash under a key drawn at random once per process: whoever can
 * write a table cannot make two contents collide on purpose (FNV-1a
 * collisions can be built), so a collision is chance alone, 2^-64. */
uint64_t cache_content_hash(const void *data, size_t len);

/* Returns a new blob holding a copy of data (one reference, released with
 * cache_blob_unref), or NULL with errno ENOMEM. */
struct cache_blob *cache_blob_new(const void *data, size_t len);
/* Takes another reference; returns blob. Thread-safe. */
struct cache_blob *cache_blob_ref(struct cache_blob *blob);
/* Drops a reference; frees on the last. NULL is fine. Thread-safe. */
void cache_blob_unref(struct cache_blob *blob);

/* One name in a directory listing. */
struct cache_dirent {
	char *name;
	bool is_dir;
};

struct cache_name_block;

/* An immutable, reference-counted directory listing. */
struct cache_listing {
	size_t refs; /* atomic */
	size_t n;
	size_t bytes;		      /* heap footprint: this, entries, names */
	struct cache_dirent *entries; /* n entries */
	struct cache_name_block *names; /* where the names are (private) */
};

struct cache_listing *cache_listing_ref(struct cache_listing *l);
void cache_listing_unref(struct cache_listing *l);

/* Builds listings: start with cache_listing_new, add with
 * cache_listing_add, then hand it to cache_dir_put (which takes a reference)
 * and drop yours. Returns NULL / -ENOMEM on allocation failure. */
struct cache_listing *cache_listing_new(void);
int cache_listing_add(struct cache_listing *l, const char *name, bool is_dir);

struct cache;

/* Creates a cache holding at most max_bytes whose
 * entries are fresh for ttl seconds (0: entries are never served, but item
 * modification times are still remembered). What counts is what the heap
 * holds for it: text, listings (names and their arrays), entries, paths and
 * the hash table, each allocation with malloc's header and rounding, so
 * that cache_size bounds the cache's share of the daemon's RSS. Returns
 * NULL with errno set.
 * Caller frees with cache_free. */
struct cache *cache_new(size_t max_bytes, double ttl);
void cache_free(struct cache *c);

/* What cache_item_get found. */
struct cache_item {
	struct cache_blob
	    *text;     /* a reference the caller drops; NULL when negative */
	bool negative; /* known not to exist */
	time_t mtime;  /* when the mount first saw this content */
};

/* Looks up a fresh item entry for path. Returns 0 and fills *out on a hit
 * (positive or negative), -ENOENT on a miss (absent or expired). Marks the
 * entry recently used. Thread-safe. */
int cache_item_get(struct cache *c, const char *path, struct cache_item *out);

/* As cache_item_get, but also an expired entry, and never a negative one:
 * what the mount last saw of an item, for when the server cannot be asked
 * (see fs_getattr). Returns 0 and fills *out, or -ENOENT. */
int cache_item_get_stale(struct cache *c, const char *path,
			 struct cache_item *out);

/* Stores the rendered item text for path (copied), fresh for ttl. The
 * modification time stays what it was when the content is the same as
 * before (even if the text had been evicted), and becomes now otherwise.
 * Returns the modification time stored. Thread-safe. */
time_t cache_item_put(struct cache *c, const char *path, const char *text,
		      size_t len);

/* cache_item_put of a blob the caller made: the cache takes a reference
 * of its own (no copy). Thread-safe. */
time_t cache_item_put_blob(struct cache *c, const char *path,
			   struct cache_blob *blob);

/* As cache_item_put_blob; *changed (may be NULL) tells whether the cache
 * remembered other content for path before (false when it remembered
 * none: a first sight is not a change). */
time_t cache_item_put_blob_changed(struct cache *c, const char *path,
				   struct cache_blob *blob, bool *changed);

/* Remembers that path does not exist, for ttl. Thread-safe. */
void cache_item_put_negative(struct cache *c, const char *path);

/* The modification time last stored for path's content, or 0 when none is
 * remembered. Thread-safe. */
time_t cache_item_mtime(struct cache *c, const char *path);

/* Stores a complete listing of directory path (takes a reference), fresh
 * for ttl; listings larger than a quarter of the cache are not kept.
 * Thread-safe. */
void cache_dir_put(struct cache *c, const char *path, struct cache_listing *l);

/* A fresh complete listing of path (a reference the caller drops), or NULL.
 * Thread-safe. */
struct cache_listing *cache_dir_get(struct cache *c, const char *path);

/* Forgets path's item text, negative entry and listing (the remembered
 * modification time stays). Thread-safe. */
void cache_forget(struct cache *c, const char *path);

/* Forgets every listing and item below prefix (a directory path, without a
 * trailing '/') and prefix itself. Thread-safe. */
void cache_forget_tree(struct cache *c, const char *prefix);

/* Bytes held now, as counted against max_bytes (for tests and logs).
 * Thread-safe. */
size_t cache_bytes(struct cache *c);

#endif
