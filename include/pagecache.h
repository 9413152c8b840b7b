/* pagecache.h - what the kernel's page cache may hold of each item file, so
 * that an open serving the same bytes lets the kernel keep its pages. */
#ifndef DYNAMOFS_PAGECACHE_H
#define DYNAMOFS_PAGECACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache.h"

/* The kernel fills an inode's pages through any handle open on it, and an
 * open with keep_cache off drops them (in the opener's task, once our reply
 * is in). So pages are known to hold an item's text T only when an open
 * that served T dropped them, the kernel has done so (that opener has read
 * or closed), and every handle open since serves T too. Each path's record says
 * which text the pages came from (or "unknown") and counts the handles that
 * could fill them with anything else: handles of an older text, and handles
 * open for writing (the kernel writes through its pages). A record is kept
 * while handles are open, and otherwise at most max_paths of them, least
 * recently used out first; a path without a record is "unknown", so
 * forgetting only costs a re-read. */

struct pagecache;

/* What pagecache_release needs of an open. */
struct pagecache_ticket {
	void *rec;    /* the path's record (NULL: none) */
	uint64_t gen; /* the record's generation at open */
	bool writer;
	bool lost;    /* no memory for a record: counted mount-wide */
	int dropping; /* atomic: this open's drop may be pending */
};

/* Returns a store of at most max_paths idle records (at least 1), or NULL
 * with errno ENOMEM. Free with pagecache_free. */
struct pagecache *pagecache_new(size_t max_paths);
void pagecache_free(struct pagecache *pc);

/* A read-only open of path that serves text (borrowed). Returns true when
 * the kernel may keep the pages it holds of path (keep_cache): they can
 * only hold text. Returns false otherwise, and then the open is to drop
 * them. Fills *t for pagecache_settled and pagecache_release. A record
 * that cannot be made (no memory) counts the handle mount-wide: no open
 * keeps pages while it is open. Thread-safe. */
bool pagecache_open(struct pagecache *pc, const char *path,
		    const struct cache_blob *text, struct pagecache_ticket *t);

/* An open of path for writing: the kernel's pages may hold whatever it
 * writes until the next open that drops them, and while it stays open.
 * Fill *t for pagecache_release. Thread-safe. */
void pagecache_open_writer(struct pagecache *pc, const char *path,
			   struct pagecache_ticket *t);

/* The handle opened with *t reads (each READ may call this; only the first
 * counts): the kernel has dropped the pages its open asked it to drop,
 * since it does so before the opener can read. Thread-safe. */
void pagecache_settled(struct pagecache *pc, struct pagecache_ticket *t);

/* The handle opened with *t is released (wherever its file went since).
 * Thread-safe. */
void pagecache_release(struct pagecache *pc, struct pagecache_ticket *t);

/* The pages of path may hold anything now: a store, a truncate, an
 * unlink, an invalidation. Thread-safe. */
void pagecache_forget(struct pagecache *pc, const char *path);

/* The file from was renamed to to: the kernel's inode, with its pages and
 * the handles open on it, is now at to. Handles open on from can fill
 * pages nobody tracks any more, so no open keeps pages until they are all
 * released; to's pages are unknown. (Directories are never renamed: that
 * is EXDEV.) Thread-safe. */
void pagecache_rename(struct pagecache *pc, const char *from, const char *to);

/* Records held (tests). */
size_t pagecache_count(struct pagecache *pc);

#endif
