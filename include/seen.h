/* seen.h - what this mount last served of each item, to each process and to
 * anyone: the image a later write of that item is conditional on (SPEC §6). */
#ifndef DYNAMOFS_SEEN_H
#define DYNAMOFS_SEEN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cache.h"

struct seen;

/* A store that keeps at most max_entries images and max_bytes of them
 * (texts counted whole, also when the cache shares them), dropping the
 * least recently used first. Returns NULL with errno ENOMEM. */
struct seen *seen_new(size_t max_bytes, size_t max_entries);
void seen_free(struct seen *s);

/* Records that process tgid was served text (borrowed blob; NULL: told
 * the item does not exist) at path, and that it is what anyone was last
 * served there. tgid 0 records the second only. When the store cannot
 * make room, the older images of path go, never stay behind. Thread-safe. */
void seen_note(struct seen *s, pid_t tgid, const char *path,
	       struct cache_blob *text);

/* Records that process tgid wrote text (NULL: deleted the item) at path:
 * anyone now sees it, and so does tgid if it has an image of its own there
 * (a process that never read the item keeps expecting what anyone saw, so
 * a shell's `echo > f` never conflicts with its own earlier one). */
void seen_note_write(struct seen *s, pid_t tgid, const char *path,
		     struct cache_blob *text);

/* Records text (as seen_note) for tgid alone: what a failed rename or
 * truncate of tgid expected, so that the kernel's retry of the same call
 * expects it again. Kept even past the byte budget. Thread-safe. */
void seen_pin(struct seen *s, pid_t tgid, const char *path,
	      struct cache_blob *text);

/* The image of path for tgid: its own when it has one, else, unless
 * own_only, what anyone was last served. Returns true with *text (a new
 * reference, or NULL for "no item") when there is one, false otherwise.
 * Thread-safe. */
bool seen_get(struct seen *s, pid_t tgid, const char *path, bool own_only,
	      struct cache_blob **text);

/* How many images and bytes the store holds (tests, diagnostics). */
void seen_usage(struct seen *s, size_t *entries, size_t *bytes);

/* The thread group (process) of thread tid, read from /proc; tid itself
 * when that cannot be read (the thread is gone), 0 for 0. */
pid_t seen_thread_group(pid_t tid);

#endif
