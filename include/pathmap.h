/* pathmap.h - an intrusive chained hash map keyed by path, shared by the item
 * cache and the scratch files; the caller embeds the node, holds the lock. */
#ifndef DYNAMOFS_PATHMAP_H
#define DYNAMOFS_PATHMAP_H

#include <stddef.h>
#include <stdint.h>

/* Embedded in the caller's struct; pathmap_entry finds that struct back.
 * The caller sets path, len and hash (pathmap_hash(path, len)) before
 * pathmap_insert and leaves them alone while the node is in a map. path
 * belongs to the caller: the map reads it, never writes or frees it. */
struct pathmap_node {
	struct pathmap_node *next; /* in the bucket's chain */
	uint64_t hash;
	char *path;
	size_t len;
};

/* A map, from pathmap_init. Not thread-safe: callers lock. */
struct pathmap {
	struct pathmap_node **buckets;
	size_t n_buckets;
	size_t n; /* nodes in the map */
};

/* The struct of type that holds node ptr as its member (ptr not NULL). */
#define pathmap_entry(ptr, type, member)                                       \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* Makes an empty map of n_buckets (> 0) buckets. Returns 0, or -ENOMEM
 * (the map is then zeroed, and pathmap_free of it is fine). */
int pathmap_init(struct pathmap *m, size_t n_buckets);

/* Frees the bucket array only (the nodes are the caller's) and zeroes the
 * map. A zeroed map is fine here, and only here: the other calls need a
 * map pathmap_init made. */
void pathmap_free(struct pathmap *m);

/* FNV-1a, 64 bits, of len bytes. */
uint64_t pathmap_hash(const char *data, size_t len);

/* The node whose path is the len bytes at path, or NULL. hash is
 * pathmap_hash(path, len). */
struct pathmap_node *pathmap_find(const struct pathmap *m, const char *path,
				  size_t len, uint64_t hash);

/* Adds n (whose path is not in the map yet). Once the map holds as many
 * nodes as buckets it doubles them first; when that allocation fails it
 * keeps the table it has (longer chains, still correct), so insert cannot
 * fail. */
void pathmap_insert(struct pathmap *m, struct pathmap_node *n);

/* Takes n, which is in the map, out of it. Never shrinks the table. */
void pathmap_remove(struct pathmap *m, struct pathmap_node *n);

/* Walks every node in no particular order: pathmap_next(m, NULL) is the
 * first, pathmap_next(m, n) the one after n, NULL after the last. The map
 * must not change during the walk. */
struct pathmap_node *pathmap_next(const struct pathmap *m,
				  const struct pathmap_node *n);

/* The bytes of the bucket array (as malloc was asked for them), for callers
 * that account for their heap; changes when pathmap_insert grows it. */
size_t pathmap_bucket_bytes(const struct pathmap *m);

#endif
