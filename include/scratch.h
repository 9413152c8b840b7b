/* scratch.h - files that are not items (editor swap files, sed's temporary
 * files, .NAME.rejected) kept in the mount's memory only, bounded in bytes. */
#ifndef DYNAMOFS_SCRATCH_H
#define DYNAMOFS_SCRATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

struct scratch_store;

/* One scratch file's contents. Open file handles hold a reference, so a
 * file that is unlinked or renamed while open stays readable and writable
 * through those handles (as on a local filesystem). */
struct scratch_node;

/* Creates a store whose files hold at most max_bytes of data in all (file
 * contents, counting files unlinked but still open; names and per-file
 * bookkeeping are not counted). Returns NULL with errno set. Caller frees
 * with scratch_store_free. */
struct scratch_store *scratch_store_new(size_t max_bytes);

/* Frees the store and every file in it; open nodes stay valid until their
 * last reference is dropped. */
void scratch_store_free(struct scratch_store *s);

/* The node at path (a reference; drop with scratch_node_unref), or -ENOENT.
 * Thread-safe. */
int scratch_lookup(struct scratch_store *s, const char *path,
		   struct scratch_node **node);

/* Creates an empty file at path with mode (permission bits). Returns 0 and
 * *node (a reference, may be NULL if not wanted), -EEXIST when path exists,
 * -ENOMEM. Thread-safe. */
int scratch_create(struct scratch_store *s, const char *path, mode_t mode,
		   struct scratch_node **node);

/* Removes path from the store (open nodes live on). Returns 0 or -ENOENT.
 * Thread-safe. */
int scratch_unlink(struct scratch_store *s, const char *path);

/* Renames from to to, replacing a file at to (unless noreplace: -EEXIST);
 * the replaced node lives on for its open handles. Renaming a file onto
 * itself does nothing (but is -EEXIST with noreplace, as renameat2(2)).
 * Returns 0, -ENOENT when from does not exist, -EEXIST, -ENOMEM.
 * Thread-safe. */
int scratch_rename(struct scratch_store *s, const char *from, const char *to,
		   bool noreplace);

/* Calls fn(name, node, arg) for each file directly inside directory dir
 * ("/T" or "/T/P"; trailing '/' ignored, "/" is the root), in byte order of
 * the names, under the store's lock: fn must not call back into the store,
 * but may call scratch_size, scratch_mode and scratch_mtime (they take no
 * lock). name and node are borrowed for the call only (scratch_node_ref to
 * keep the node). Thread-safe. */
void scratch_list(struct scratch_store *s, const char *dir,
		  void (*fn)(const char *name, const struct scratch_node *node,
			     void *arg),
		  void *arg);

/* Whether directory dir holds any scratch file, directly or below.
 * Thread-safe. */
bool scratch_dir_has_files(struct scratch_store *s, const char *dir);

/* Removes every file inside dir (and below it; "/T" leaves "/T2" alone).
 * Open nodes live on. Thread-safe. */
void scratch_remove_tree(struct scratch_store *s, const char *dir);

/* Reads up to size bytes at off into buf. Returns the byte count (0 at or
 * past the end), -EINVAL for a negative off. Thread-safe. */
ssize_t scratch_read(struct scratch_node *n, char *buf, size_t size, off_t off);

/* Writes size bytes at off (a gap past the end reads as zeros) and sets the
 * mtime to now; size 0 changes nothing, as write(2). Returns size, or
 * -ENOSPC when the store's bound would be passed (nothing is written then),
 * -EFBIG past 1 GiB, -EINVAL for a negative off, -ENOMEM. s is n's store;
 * the node accounts to its own store, so handles keep working after
 * scratch_store_free. Thread-safe. */
ssize_t scratch_write(struct scratch_store *s, struct scratch_node *n,
		      const char *buf, size_t size, off_t off);

/* Sets the length to size (zeros when it grows) and the mtime to now.
 * Returns 0, -ENOSPC (nothing changed), -EFBIG past 1 GiB, -EINVAL for a
 * negative size, -ENOMEM. Thread-safe. */
int scratch_truncate(struct scratch_store *s, struct scratch_node *n,
		     off_t size);

/* Replaces the whole contents with len bytes of data and sets the mtime to
 * now. Returns 0, -ENOSPC (nothing changed), -EFBIG past 1 GiB, -ENOMEM.
 * Thread-safe. */
int scratch_set(struct scratch_store *s, struct scratch_node *n,
		const char *data, size_t len);

/* A copy of the whole contents: *data (caller frees with free(); NUL after
 * the len bytes) and *len. Returns 0 or -ENOMEM. Thread-safe. */
int scratch_copy(struct scratch_node *n, char **data, size_t *len);

/* Attributes: size, mode (as given to scratch_create), modification time
 * (now at creation). Thread-safe; take no lock. */
off_t scratch_size(const struct scratch_node *n);
mode_t scratch_mode(const struct scratch_node *n);
time_t scratch_mtime(const struct scratch_node *n);
void scratch_set_mode(struct scratch_node *n, mode_t mode);
void scratch_set_mtime(struct scratch_node *n, time_t mtime);

/* An item this file was renamed from and that is not yet deleted in
 * DynamoDB (see docs/SEMANTICS.md, "renaming an item to a scratch name"):
 * the item's path, or NULL. The string is copied; set NULL to clear; it
 * moves with the node through renames. scratch_set_origin returns 0 or
 * -ENOMEM. scratch_origin returns a copy (caller frees with free()) or NULL
 * (also when out of memory, with errno ENOMEM). Thread-safe. */
int scratch_set_origin(struct scratch_node *n, const char *item_path);
char *scratch_origin(struct scratch_node *n);

/* Reference counting. Thread-safe. */
struct scratch_node *scratch_node_ref(struct scratch_node *n);
void scratch_node_unref(struct scratch_node *n);

/* Bytes of data held now, for tests and logs. Thread-safe. */
size_t scratch_bytes(struct scratch_store *s);

#endif
