/* fs.c - the FUSE operations: paths become ListTables, DescribeTable, Scan,
 * Query and GetItem; listings stream page by page and fill the item cache. */
#include "fs_i.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "cache.h"
#include "codec.h"
#include "cond.h"
#include "jsonl.h"
#include "keyname.h"
#include "log.h"
#include "monotime.h"
#include "pagecache.h"
#include "putq.h"
#include "scratch.h"
#include "seen.h"
#include "shortname.h"

#define XATTR_KEY   "user.dynamodb.key"
#define XATTR_STATS "user.dynamofs.stats"

static struct fs *current_fs(void)
{
	return fuse_get_context()->private_data;
}

/* ---- items -------------------------------------------------------------- */

/* The rendered item at path: from the cache while fresh, else GetItem.
 * Returns 0 with *text (a blob reference; caller drops) and *mtime, or
 * -ENOENT when there is no such item, or another -errno. */
static int item_fetch(struct fs *fs, const char *path, struct node *n,
		      struct cache_blob **text, time_t *mtime)
{
	struct ddb_error err = {0};
	struct cache_item ci;
	char *body = NULL;
	size_t len = 0;
	int rc;

	*text = NULL;
	if (cache_item_get(fs->cache, path, &ci) == 0) {
		if (ci.negative)
			return -ENOENT;
		*text = ci.text;
		*mtime = ci.mtime;
		return 0;
	}
	if (fs_created_says_absent(fs, path))
		return -ENOENT;
	rc = ddb_get_item_body(fs->ddb, n->table->name, n->key, fs->consistent,
			       &body, &len, &err);
	if (!rc)
		rc = fs_item_store_body(fs, n->table, path, body, len, text,
					mtime);
	free(body);
	if (rc == -ENOENT && err.code[0] == '\0') {
		cache_item_put_negative(fs->cache, path);
		return -ENOENT;
	}
	if (rc == -ENOENT)
		fs_table_forget(fs, n->table->name);
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

/* What a write expects to replace (SPEC §6): the item as the writer saw
 * it, and who the writer is, for the images a store or a conflict leaves. */
struct expect {
	struct cache_blob *text; /* a reference; NULL: the writer saw none */
	pid_t tgid;		 /* the writing process, 0 when unknown */
	/* The bytes are the item as it was (an editor's backup renamed
	 * back after its save failed), not the user's: a conflict keeps
	 * them out of .NAME.rejected, which holds the save's. */
	bool backup;
	/* A rename or truncate, which the kernel calls once more after
	 * ESTALE: a conflict pins the process's image to what it expected,
	 * so that call fails the same way. */
	bool pin;
};

static void expect_clear(struct expect *x)
{
	cache_blob_unref(x->text);
	x->text = NULL;
}

/* The process (thread group) of the FUSE request being served; 0 when no
 * image is kept (conflicts=overwrite without version_attribute=), which
 * spares each open the read of /proc. */
static pid_t caller_tgid(struct fs *fs)
{
	if (fs->overwrite && !fs->version)
		return 0;
	return seen_thread_group(fuse_get_context()->pid);
}

/* The text of the item a rename to a scratch name hid at path (vim's
 * backup), as a blob (caller drops), or NULL: what the mount believes is
 * there, since the item is still in DynamoDB. */
static struct cache_blob *hidden_text(struct fs *fs, const char *path)
{
	char *was = fs_pathset_value(&fs->hidden, path);
	struct cache_blob *b = was ? cache_blob_new(was, strlen(was)) : NULL;

	free(was);
	return b;
}

/* What a write by tgid at path expects when no open of its handle read the
 * item: what tgid was last served there; else, when the mount believes
 * there is an item (belief, borrowed: its text, NULL: none), what anyone
 * was last served there; else the belief. A writer that never saw the item
 * and finds no item expects none, whatever older readers saw. */
static void expect_for(struct fs *fs, pid_t tgid, const char *path,
		       struct cache_blob *belief, struct expect *x)
{
	x->tgid = tgid;
	x->text = NULL;
	if (seen_get(fs->seen, tgid, path, belief == NULL, &x->text))
		return;
	x->text = belief ? cache_blob_ref(belief) : NULL;
}

/* What open hands read, write and close. */
struct item_handle {
	struct openlink link;	     /* first: the list hands back the handle */
	struct cache_blob *text;     /* read-only opens: the bytes at open */
	struct jsonl_reader *reader; /* .items.jsonl opened for reading */
	struct jsonl_writer *bulk;   /* .items.jsonl opened for writing */
	bool bulk_pending;	     /* lines taken since the last finish */
	struct scratch_node *scratch; /* scratch files */
	/* items opened for writing: what close will store */
	pthread_mutex_t lock;
	bool writable;
	bool dirty;    /* changed since the last store */
	bool written;  /* write() or ftruncate() since the last store */
	bool new_item; /* the item did not exist when this was opened */
	bool excl;     /* created with O_EXCL: store only if still absent */
	int error; /* the last store's error, reported again until a write */
	char *buf;
	size_t len;
	size_t cap;
	char *path;
	/* What path named at open: a store at close needs no request to
	 * learn it again (and so cannot fail before the bytes are kept). */
	struct table *table; /* reference; items opened for writing */
	json_t *key;
	struct expect expect; /* what a store must replace */
	struct fs *fs;	      /* for bulk_stored, called off FUSE threads */
	struct item_handle *next_writer; /* fs->writers, under writers_lock */
	/* items: how the kernel's pages of the file may have been filled */
	struct pagecache *pages;
	struct pagecache_ticket pages_ticket;
};

/* The length an item open for writing has now, if one is; for stat during
 * an edit, before the item is stored. */
static bool writer_size(struct fs *fs, const char *path, off_t *size)
{
	bool found = false;

	pthread_mutex_lock(&fs->writers_lock);
	for (struct item_handle *h = fs->writers; h; h = h->next_writer) {
		if (strcmp(h->path, path) == 0) {
			*size = (off_t)h->len;
			found = true;
			break;
		}
	}
	pthread_mutex_unlock(&fs->writers_lock);
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
	log_msg(
	    LOG_WARNING,
	    "%s: the server cannot be asked; its attributes are those last seen",
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

	fs_count(fs, FS_OP_GETATTR);
	rc = fs_resolve(fs, path, &n);
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
	case NODE_ITEMS:
		/* Size 0, as /proc files: tools read it to the end. */
		fill_file_stat(fs, st, 0, time(NULL), true);
		break;
	case NODE_PARTITION:
		rc = fs_partition_exists(fs, path, &n);
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
		if ((rc == -EIO || rc == -EAGAIN) &&
		    stale_item_stat(fs, path, st))
			rc = 0;
		if (!rc && text)
			fill_file_stat(fs, st, (off_t)text->len, mtime, true);
		cache_blob_unref(text);
		break;
	}
	fs_node_clear(&n);
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

	if (fs_nameset_add(&dh->extra_names, name) == 1)
		cache_listing_add(dh->extra, name, false);
}

static void add_held_entry(const char *name, void *arg)
{
	struct dir_handle *dh = arg;

	if (fs_nameset_add(&dh->extra_names, name) == 1)
		cache_listing_add(dh->extra, name, true);
}

/* Snapshots what the mount holds in directory path. */
static int collect_extra(struct fs *fs, struct dir_handle *dh, const char *path)
{
	dh->extra = cache_listing_new();
	if (!dh->extra)
		return -ENOMEM;
	scratch_list(fs->scratch, path, add_scratch_entry, dh);
	fs_pathset_each_in(&fs->held, path, add_held_entry, dh);
	return 0;
}

static void dir_handle_free(struct dir_handle *dh)
{
	if (!dh)
		return;
	cache_listing_unref(dh->extra);
	fs_nameset_free(&dh->extra_names);
	cache_listing_unref(dh->cached);
	fs_lister_free(dh->lister);
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

	fs_count(fs, FS_OP_OPENDIR);
	rc = fs_resolve(fs, path, &n);
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
		dh->lister = fs_stash_take(fs, path);
	if (!dh->cached && !dh->lister) {
		dh->lister = fs_lister_new(
		    fs, path, n.table, n.kind == NODE_PARTITION ? n.key : NULL);
		if (!dh->lister)
			goto out;
	}
	fs_openlink_add(fs, &dh->link, dir_handle_unlinked);
	fi->fh = (uintptr_t)dh;
	dh = NULL;
	rc = 0;
out:
	dir_handle_free(dh);
	fs_node_clear(&n);
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
	path = fs_join_path(dirpath, e->name);
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

	if (fs_nameset_has(&dh->extra_names, e->name))
		return true;
	if (e->is_dir || !__atomic_load_n(&fs->hidden.count, __ATOMIC_ACQUIRE))
		return false;
	path = fs_join_path(dh->path, e->name);
	hidden = path && fs_pathset_has(&fs->hidden, path);
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

	fs_count(fs, FS_OP_READDIR);
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
		char *p = fs_join_path(path, e->name);
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
			rc = fs_lister_next_page(dh->lister);
			if (rc)
				goto out;
			fs_lister_publish(dh->lister);
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

	fs_openlink_remove(current_fs(), &dh->link);
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
	fs_lister_free(fs_stash_take(fs, dir));
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

/* Makes the scratch file rp hold the rejected bytes (replacing what it
 * held). Returns 0, or -1 when they could not be kept (logged). */
static int keep_rejected_at(struct fs *fs, const char *rp, const char *data,
			    size_t len)
{
	struct scratch_node *sn = NULL;
	int rc = -1;

	if (scratch_lookup(fs->scratch, rp, &sn) != 0 &&
	    scratch_create(fs->scratch, rp, 0644, &sn) != 0)
		goto out;
	if (scratch_set(fs->scratch, sn, data, len) != 0) {
		log_msg(
		    LOG_ERR,
		    "%s: no room to keep the %zu rejected bytes (the scratch files are full: see cache_size); they are lost",
		    rp, len);
		goto out;
	}
	rc = 0;
out:
	scratch_node_unref(sn);
	return rc;
}

/* Removes the scratch file rp of rejected bytes, if there is one. */
static void drop_rejected_at(struct fs *fs, const char *rp)
{
	if (scratch_unlink(fs->scratch, rp) == 0)
		fs_invalidate_later(
		    fs, rp); /* stat must not find it in the kernel */
}

/* Keeps bytes a write could not store as the scratch file .NAME.rejected,
 * since shells ignore close's error and the user's text must not be lost. */
static void keep_rejected(struct fs *fs, const char *path, const char *data,
			  size_t len)
{
	char *rp = rejected_path(path);

	if (rp)
		keep_rejected_at(fs, rp, data, len);
	free(rp);
}

static void drop_rejected(struct fs *fs, const char *path)
{
	char *rp = rejected_path(path);

	if (rp)
		drop_rejected_at(fs, rp);
	free(rp);
}

/* Checks file bytes as the item for n (key from the path) without sending
 * anything. Returns 0 and *item (new reference), or -EINVAL / -EFBIG with
 * the reason logged (file, problem, line and column). */
static int item_parse(struct fs *fs, const char *path, struct node *n,
		      const char *data, size_t len, bool new_item,
		      json_t **item)
{
	struct codec_error err = {0};
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
 * renamed-away mark go. The writer of x (may be NULL) and anyone after it
 * saw what was stored, and x expects it now: a writer's next write never
 * conflicts with its own last one. */
static void item_stored(struct fs *fs, const char *path, struct table *t,
			json_t *item, struct expect *x)
{
	struct cache_blob *text = NULL;
	time_t mtime;

	fs_pathset_remove(&fs->hidden, path, false);
	drop_rejected(fs, path);
	forget_listings(fs, path);
	fs_created_note(fs, path);
	if (fs_item_store(fs, t, path, item, &text, &mtime) != 0)
		cache_forget(fs->cache, path);
	if (text)
		seen_note_write(fs->seen, x ? x->tgid : 0, path, text);
	if (x) {
		expect_clear(x);
		x->text = text ? cache_blob_ref(text) : NULL;
	}
	cache_blob_unref(text);
	/* What the kernel holds is what was written (or its size while it
	 * was open); the file is now the rendered item. */
	fs_invalidate_later(fs, path);
}

/* A write found the item changed since its writer saw it, or gone. The
 * mount reads it again (consistent), so the next read shows the other
 * client's version. A name a rename had hidden (vim's backup) stays
 * hidden: vim now removes the name and renames its backup back, which
 * must neither delete the other client's item nor put the old text back
 * (rename_scratch_to_item undoes the rename instead). The writer's
 * process keeps expecting what it saw: the kernel retries a rename or a
 * truncate once after ESTALE, and that retry must fail the same way, not
 * succeed on an image the failure refreshed. */
static void conflict_found(struct fs *fs, const char *path, struct node *n,
			   struct expect *x)
{
	struct cache_blob *text = NULL;
	json_t *item = NULL;
	time_t mtime;
	int rc;

	forget_listings(fs, path);
	if (x->pin)
		seen_pin(fs->seen, x->tgid, path, x->text);
	rc = ddb_get_item(fs->ddb, n->table->name, n->key, true, &item, NULL);
	if (rc == -ENOENT)
		cache_item_put_negative(fs->cache, path);
	else if (rc || fs_item_store(fs, n->table, path, item, &text, &mtime))
		cache_forget(fs->cache, path);
	cache_blob_unref(text);
	json_decref(item);
	fs_invalidate_later(fs, path);
}

/* version_attribute= for table t, unless it names one of t's keys (a key
 * cannot change, so it cannot count writes). */
static const char *version_of(struct fs *fs, struct table *t)
{
	if (!fs->version || strcmp(fs->version, t->hash_name) == 0 ||
	    (t->range_name && strcmp(fs->version, t->range_name) == 0))
		return NULL;
	return fs->version;
}

/* With version_attribute=, item stores the version seen (NULL: no item
 * seen) plus one, 1 when there was none, as the AWS SDK for Java's
 * optimistic locking does. -EINVAL (logged) when the stored version is not
 * a whole number. */
static int version_bump(struct fs *fs, struct table *t, const char *path,
			json_t *item, json_t *seen)
{
	const char *name = version_of(fs, t), *text;
	json_t *v = NULL;
	long long n = 0;
	char num[32], *end;

	if (!name)
		return 0;
	v = seen ? json_object_get(seen, name) : NULL;
	if (v) {
		text = json_string_value(json_object_get(v, "N"));
		errno = 0;
		n = text ? strtoll(text, &end, 10) : 0;
		if (!text || !*text || *end || errno || n < 0 ||
		    n == LLONG_MAX) {
			log_msg(
			    LOG_ERR,
			    "%s: write rejected, nothing sent: the stored version attribute \"%s\" is not a whole number from 0 up",
			    path, name);
			return -EINVAL;
		}
	}
	snprintf(num, sizeof(num), "%lld", n + 1);
	return json_object_set_new(item, name, json_pack("{s:s}", "N", num))
		   ? -ENOMEM
		   : 0;
}

/* Whether two DynamoDB-JSON items are equal as DynamoDB compares. */
static bool items_equal(json_t *a, json_t *b)
{
	json_t *ma = json_pack("{s:O}", "M", a),
	       *mb = json_pack("{s:O}", "M", b);
	bool eq = ma && mb && cond_value_equal(ma, mb);

	json_decref(ma);
	json_decref(mb);
	return eq;
}

/* What cond_build could not put in the expression (c->unchecked, if any)
 * compared with the item at key by a consistent read. Returns 0 when it
 * still holds, -ESTALE when it does not (or the item is gone), or the
 * read's error. */
static int unchecked_hold(struct fs *fs, struct table *t, json_t *key,
			  const struct cond *c, struct ddb_error *err)
{
	json_t *now = NULL;
	int rc;

	if (!c->unchecked)
		return 0;
	rc = ddb_get_item(fs->ddb, t->name, key, true, &now, err);
	if (rc == -ENOENT || (!rc && !cond_attrs_hold(c->unchecked, now)))
		rc = -ESTALE;
	json_decref(now);
	return rc;
}

/* Where a conditional put goes: PutItem, or the put of a move. */
struct put_target {
	struct table *table;
	json_t *key;	    /* the item's key, for reads */
	struct table *from; /* a move: the table and key deleted */
	json_t *from_key;
};

/* Stores item where pt says, only if the stored item is still seen (a
 * DynamoDB-JSON item; NULL: no item): the condition rides on the request
 * (cond.h); what one expression cannot hold is compared by a consistent
 * read just before. Returns 0, -ESTALE when the item is not what was seen
 * (nothing stored), or the request's error (-ENOSYS for a move on a
 * server without transactions: nothing stored). */
static int put_expected(struct fs *fs, const struct put_target *pt,
			json_t *item, json_t *seen, struct ddb_error *err)
{
	struct cond_want w = {.seen = seen,
			      .hash_name = pt->table->hash_name,
			      .range_name = pt->table->range_name,
			      .version = version_of(fs, pt->table)};
	struct cond c = {0};
	json_t *now = NULL;
	int rc;

	rc = cond_build(&c, &w);
	if (!rc)
		rc = unchecked_hold(fs, pt->table, pt->key, &c, err);
	if (rc)
		goto out;
	if (pt->from)
		rc =
		    ddb_move_if(fs->ddb, pt->table->name, item, c.expr, c.names,
				c.values, pt->from->name, pt->from_key, err);
	else
		rc = ddb_put_item(fs->ddb, pt->table->name, item, c.expr,
				  c.names, c.values, err);
	if (rc == -EEXIST && err->maybe_applied && !pt->from &&
	    ddb_get_item(fs->ddb, pt->table->name, pt->key, true, &now, NULL) ==
		0 &&
	    items_equal(now, item))
		rc = 0; /* our own earlier attempt was stored */
	if (rc == -EEXIST)
		rc = -ESTALE;
out:
	json_decref(now);
	cond_clear(&c);
	return rc;
}

/* The item x expects (NULL: none) as a DynamoDB-JSON item in *seen. */
static int expect_item(struct fs *fs, const char *path, const struct expect *x,
		       json_t **seen)
{
	int rc;

	*seen = NULL;
	if (!x || !x->text)
		return 0;
	rc = codec_parse(x->text->data, x->text->len, fs->format, seen, NULL);
	if (rc)
		log_msg(LOG_ERR,
			"%s: the item as last read cannot be read back: %s",
			path, strerror(-rc));
	return rc;
}

/* Stores item (a full item, keys included) at path with PutItem; with
 * absent_only, only when no item has that key; otherwise, unless
 * conflicts=overwrite, only when the item is still seen, what x expects
 * (-ESTALE when not). Updates the cache so the next read through this
 * mount sees it. */
static int item_put_seen(struct fs *fs, const char *path, struct node *n,
			 json_t *item, bool absent_only, struct expect *x,
			 json_t *seen)
{
	struct put_target pt = {.table = n->table, .key = n->key};
	struct ddb_error err = {0};
	int rc;

	/* A condition cannot ride in a BatchWriteItem: those go alone. */
	if (absent_only)
		rc = ddb_put_new(fs->ddb, n->table->name, n->table->hash_name,
				 item, &err);
	else if (fs->overwrite || !x)
		rc = putq_put(fs->putq, n->table->name, n->table->hash_name,
			      n->table->range_name, item, path, &err);
	else
		rc = put_expected(fs, &pt, item, seen, &err);
	if (rc == -ESTALE)
		conflict_found(fs, path, n, x);
	else if (!rc)
		item_stored(fs, path, n->table, item, x);
	return rc;
}

/* item_put_seen of what x expects, after version_attribute's count. */
static int item_put(struct fs *fs, const char *path, struct node *n,
		    json_t *item, bool absent_only, struct expect *x)
{
	json_t *seen = NULL;
	int rc;

	rc = expect_item(fs, path, x, &seen);
	if (!rc)
		rc = version_bump(fs, n->table, path, item,
				  absent_only ? NULL : seen);
	if (!rc)
		rc = item_put_seen(fs, path, n, item, absent_only, x, seen);
	json_decref(seen);
	return rc;
}

/* Checks and stores file bytes as the item at path (item_put). */
static int item_write(struct fs *fs, const char *path, struct node *n,
		      const char *data, size_t len, bool absent_only,
		      bool new_item, struct expect *x)
{
	json_t *item = NULL;
	int rc;

	rc = item_parse(fs, path, n, data, len, new_item, &item);
	if (rc) {
		keep_rejected(fs, path, data, len);
		return rc;
	}
	rc = item_put(fs, path, n, item, absent_only, x);
	json_decref(item);
	if (rc == -ESTALE) {
		log_msg(
		    LOG_WARNING,
		    "%s: not stored: the item in table %s changed since this writer read it (another client wrote or deleted it); the bytes are kept in .%s.rejected; read the item again to see the other version, then save again",
		    path, n->table->name, strrchr(path, '/') + 1);
		if (!x->backup)
			keep_rejected(fs, path, data, len);
	} else if (rc) {
		/* Not stored (server down, credentials, a condition): the
		 * bytes stay readable too, since close's error is often lost.
		 */
		log_msg(
		    LOG_ERR,
		    "%s: not stored (%s); the bytes are kept in .%s.rejected",
		    path, strerror(-rc), strrchr(path, '/') + 1);
		keep_rejected(fs, path, data, len);
	}
	return rc;
}

/* Stores what an open item handle holds, if it changed since. */
static int handle_store(struct fs *fs, const char *path, struct item_handle *h)
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
	rc = item_write(fs, h->path, &n, h->buf, h->len, h->excl, h->new_item,
			&h->expect);
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
	pthread_mutex_lock(&fs->writers_lock);
	h->next_writer = fs->writers;
	fs->writers = h;
	pthread_mutex_unlock(&fs->writers_lock);
}

static void writer_remove(struct fs *fs, struct item_handle *h)
{
	pthread_mutex_lock(&fs->writers_lock);
	for (struct item_handle **pp = &fs->writers; *pp;
	     pp = &(*pp)->next_writer) {
		if (*pp == h) {
			*pp = h->next_writer;
			break;
		}
	}
	pthread_mutex_unlock(&fs->writers_lock);
}

static void handle_free(struct item_handle *h)
{
	if (!h)
		return;
	if (h->pages)
		pagecache_release(h->pages, &h->pages_ticket);
	cache_blob_unref(h->text);
	jsonl_reader_close(h->reader);
	jsonl_writer_close(h->bulk);
	expect_clear(&h->expect);
	scratch_node_unref(h->scratch);
	fs_table_unref(h->table);
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

/* A bulk file opened for reading: a parallel Scan of the table or a Query
 * of the partition, a page at a time as it is read. Its items do not go
 * into the cache: a whole table would push out what browsing needs, and
 * be old within cache_ttl anyway. */
static int items_open(struct fs *fs, struct node *n, struct item_handle *h)
{
	struct jsonl_source src = {
	    .table = n->table->name,
	    .schema = n->table->schema,
	    .hash_value =
		n->key ? json_object_get(n->key, n->table->hash_name) : NULL,
	    .format = fs->format,
	    .consistent = fs->consistent};

	return jsonl_reader_open(fs->ddb, &src, &h->reader);
}

/* Where a bulk write's stored item is shown: its cached copy and listing
 * go, and the kernel's, so the mount reads its own writes. */
static void bulk_stored(json_t *item, void *arg)
{
	struct item_handle *h = arg;
	struct fs *fs = h->fs;
	struct table *t = h->table;
	char *hname = NULL, *rname = NULL, *path = NULL;

	if (fs_name_of_value(json_object_get(item, t->hash_name),
			     t->range_name ? KEYNAME_PARTITION
					   : KEYNAME_HASH_ITEM,
			     &hname) != 0)
		goto out;
	if (t->range_name &&
	    fs_name_of_value(json_object_get(item, t->range_name),
			     KEYNAME_RANGE_ITEM, &rname) != 0)
		goto out;
	if ((rname ? asprintf(&path, "/%s/%s/%s", t->name, hname, rname)
		   : asprintf(&path, "/%s/%s", t->name, hname)) < 0) {
		path = NULL;
		goto out;
	}
	cache_forget(fs->cache, path);
	forget_listings(fs, path);
	fs_created_note(fs, path);
	fs_invalidate_later(fs, path);
out:
	/* A key too long for a file name is shown under a shortened name:
	 * what the mount cached of that table goes. */
	if (!path) {
		char *dir = NULL;

		if (asprintf(&dir, "/%s", t->name) >= 0)
			cache_forget_tree(fs->cache, dir);
		free(dir);
	}
	free(path);
	free(hname);
	free(rname);
}

/* A bulk file opened for writing: lines become BatchWriteItems as they
 * come (jsonl.c); O_TRUNC deletes nothing. */
static int bulk_open(struct fs *fs, struct node *n, struct item_handle *h)
{
	struct jsonl_target t = {
	    .table = n->table->name,
	    .schema = n->table->schema,
	    .hash_value =
		n->key ? json_object_get(n->key, n->table->hash_name) : NULL,
	    .format = fs->format,
	    .path = h->path,
	    .stored = bulk_stored,
	    .arg = h,
	    .rejected_max = fs->cache_bytes / 4};

	h->fs = fs;
	return jsonl_writer_open(fs->ddb, &t, &h->bulk);
}

/* Waits for every line a bulk handle took; the lines not stored go to
 * .items.jsonl.rejected beside it (replacing what was there); when none,
 * that file goes. Returns 0, -EINVAL for a bad line, or a request's
 * error. */
static int bulk_finish(struct fs *fs, struct item_handle *h)
{
	struct dynbuf rej = {0};
	char *rp = NULL;
	int rc;

	pthread_mutex_lock(&h->lock);
	if (!h->bulk_pending) {
		rc = h->error;
		pthread_mutex_unlock(&h->lock);
		return rc;
	}
	rc = jsonl_writer_finish(h->bulk, &rej);
	h->bulk_pending = false;
	h->error = rc;
	pthread_mutex_unlock(&h->lock);
	if (asprintf(&rp, "%s.rejected", h->path) < 0) {
		rp = NULL;
		goto out;
	}
	if (rej.len == 0) {
		drop_rejected_at(fs, rp);
		goto out;
	}
	if (keep_rejected_at(fs, rp, rej.p, rej.len) == 0)
		log_msg(LOG_ERR,
			"%s: the lines not stored are kept in %s, in order",
			h->path, strrchr(rp, '/') + 1);
	fs_invalidate_later(fs, rp);
out:
	free(rp);
	dynbuf_free(&rej);
	return rc;
}

/* h, an item open for writing, can put anything in the kernel's pages. */
static void item_pages_writer(struct fs *fs, struct item_handle *h)
{
	h->pages = fs->pages;
	pagecache_open_writer(fs->pages, h->path, &h->pages_ticket);
}

/* Opens (or, with create, makes) the file at path. */
static int open_common(const char *path, struct fuse_file_info *fi, bool create,
		       mode_t mode)
{
	struct fs *fs = current_fs();
	struct item_handle *h = NULL;
	struct cache_blob *text = NULL;
	bool write = wants_write(fi->flags) || create;
	struct cache_blob *hidden;
	bool keep_pages = false;
	struct node n;
	time_t mtime;
	pid_t tgid;
	int rc;

	if (write && fs->read_only)
		return -EROFS;
	rc = fs_resolve(fs, path, &n);
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
		/* Renamed onto an item, it would fill the item's pages. */
		h->pages = fs->pages;
		pagecache_open_writer(fs->pages, path, &h->pages_ticket);
		break;
	case NODE_TABLE_JSON:
		if (write) {
			rc = -EACCES;
			goto out;
		}
		h->text = cache_blob_ref(n.table->describe);
		break;
	case NODE_ITEMS:
		h->table = fs_table_ref(n.table);
		rc = write ? bulk_open(fs, &n, h) : items_open(fs, &n, h);
		if (rc)
			goto out;
		/* Read as it streams: no size, no page cache. */
		fi->direct_io = 1;
		break;
	case NODE_ITEM:
		tgid = caller_tgid(fs);
		/* With O_EXCL the put at close is conditional, so a cache
		 * that is behind (another client made the item in the last
		 * cache_ttl) still cannot overwrite it: close says EEXIST. */
		rc = n.hidden ? -ENOENT
			      : item_fetch(fs, path, &n, &text, &mtime);
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
			/* Without O_EXCL, conflicts=check makes the put
			 * conditional on what this process saw there (an
			 * item deleted by another client since is not brought
			 * back), or on no item. */
			h->excl = (fi->flags & O_EXCL) != 0 ||
				  (!create && fs->overwrite);
			/* A hidden name (vim's backup took it) still has
			 * its item in DynamoDB: that is the belief. */
			hidden = n.hidden ? hidden_text(fs, path) : NULL;
			expect_for(fs, tgid, path, hidden, &h->expect);
			cache_blob_unref(hidden);
			h->table = fs_table_ref(n.table);
			h->key = json_incref(n.key);
			writer_add(fs, h);
			item_pages_writer(fs, h);
			rc = 0;
			break;
		}
		if (rc)
			goto out;
		if (!write) {
			if (tgid)
				seen_note(fs->seen, tgid, path, text);
			/* Pages filled from these same bytes are kept: a
			 * second cat within cache_ttl is served by the
			 * kernel (SEMANTICS, "The kernel's caches"). */
			h->pages = fs->pages;
			keep_pages = pagecache_open(fs->pages, path, text,
						    &h->pages_ticket);
			h->text = text;
			text = NULL;
			break;
		}
		h->writable = true;
		item_pages_writer(fs, h);
		if ((fi->flags & O_ACCMODE) == O_RDWR &&
		    !(fi->flags & O_TRUNC)) {
			/* Opened for reading too: the writer saw what this
			 * open serves, and that is what a store replaces. */
			if (tgid)
				seen_note(fs->seen, tgid, path, text);
			h->expect.tgid = tgid;
			h->expect.text = cache_blob_ref(text);
		} else {
			expect_for(fs, tgid, path, text, &h->expect);
		}
		if (!(fi->flags & O_TRUNC)) {
			rc = handle_reserve(h, text->len);
			if (rc)
				goto out;
			memcpy(h->buf, text->data, text->len);
			h->len = text->len;
		} else {
			h->dirty = true;
		}
		h->table = fs_table_ref(n.table);
		h->key = json_incref(n.key);
		writer_add(fs, h);
		break;
	}
	/* Other opens read afresh; the kernel must not serve pages from
	 * before (another mount may have changed the item). */
	fi->keep_cache = keep_pages;
	/* Only an item open for writing has anything to do at close: the
	 * kernel need not ask the others (one round trip less per cat). */
	fi->noflush = !h->writable && !h->bulk;
	fs_openlink_add(fs, &h->link, item_handle_unlinked);
	fi->fh = (uintptr_t)h;
	h = NULL;
	rc = 0;
out:
	cache_blob_unref(text);
	handle_free(h);
	fs_node_clear(&n);
	return rc;
}

static int fs_open(const char *path, struct fuse_file_info *fi)
{
	fs_count(current_fs(), FS_OP_OPEN);
	return open_common(path, fi, false, 0);
}

static int fs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	fs_count(current_fs(), FS_OP_OPEN);
	return open_common(path, fi, true, mode);
}

static int fs_read(const char *path, char *buf, size_t size, off_t offset,
		   struct fuse_file_info *fi)
{
	struct item_handle *h = (struct item_handle *)(uintptr_t)fi->fh;
	const char *data;
	size_t len;
	int rc;

	fs_count(current_fs(), FS_OP_READ);
	if (h->pages)
		pagecache_settled(h->pages, &h->pages_ticket);
	if (offset < 0)
		return -EINVAL;
	if (h->scratch)
		return (int)scratch_read(h->scratch, buf, size, offset);
	if (h->reader)
		return (int)jsonl_reader_read(h->reader, buf, size, offset);
	if (h->bulk)
		return 0; /* a bulk file open for writing reads as empty */
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

	fs_count(fs, FS_OP_WRITE);
	if (offset < 0)
		return -EINVAL;
	if (h->scratch)
		return (int)scratch_write(fs->scratch, h->scratch, buf, size,
					  offset);
	if (h->bulk) {
		/* In the order written; the offset of a file shown with
		 * size 0 means nothing. A flush of a shared descriptor may
		 * come meanwhile: the handle's lock keeps them apart. */
		pthread_mutex_lock(&h->lock);
		rc = jsonl_writer_add(h->bulk, buf, size);
		h->bulk_pending = true;
		pthread_mutex_unlock(&h->lock);
		return rc ? rc : (int)size;
	}
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

	fs_count(current_fs(), FS_OP_FLUSH);
	if (h->bulk)
		return bulk_finish(current_fs(), h);
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
	if (h && h->bulk)
		return bulk_finish(current_fs(), h);
	if (!h || !h->writable)
		return 0;
	return handle_store(current_fs(), path, h);
}

static int fs_release(const char *path, struct fuse_file_info *fi)
{
	struct fs *fs = current_fs();
	struct item_handle *h = (struct item_handle *)(uintptr_t)fi->fh;

	fs_count(fs, FS_OP_RELEASE);
	if (!h)
		return 0;
	if (h->bulk && bulk_finish(fs, h) < 0)
		log_msg(
		    LOG_ERR,
		    "%s: the store at the last close failed and no program was told",
		    h->path);
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
			log_msg(
			    LOG_ERR,
			    "%s: the store at the last close failed and no program was told; the bytes are in .%s.rejected",
			    h->path, strrchr(h->path, '/') + 1);
		writer_remove(fs, h);
	}
	fs_openlink_remove(fs, &h->link);
	handle_free(h);
	return 0;
}

static int fs_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct fs *fs = current_fs();
	struct item_handle *h =
	    fi ? (struct item_handle *)(uintptr_t)fi->fh : NULL;
	struct cache_blob *text = NULL;
	struct expect x = {0};
	char *data = NULL;
	struct node n;
	time_t mtime;
	int rc;

	if (fs->read_only)
		return -EROFS;
	if (size < 0)
		return -EINVAL;
	/* Whatever the outcome, the pages are not the served text's. */
	pagecache_forget(fs->pages, path);
	if (h && h->scratch)
		return scratch_truncate(fs->scratch, h->scratch, size);
	if (h && h->bulk)
		return 0; /* a bulk file deletes nothing */
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
	rc = fs_resolve(fs, path, &n);
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
			log_msg(
			    LOG_ERR,
			    "%s: truncate to %lld bytes refused: no item's file is longer than %u",
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
		expect_for(fs, caller_tgid(fs), path, text, &x);
		x.pin = true;
		rc = item_write(fs, path, &n, data, (size_t)size, false, false,
				&x);
		expect_clear(&x);
		break;
	case NODE_ITEMS:
		rc = 0; /* a bulk file deletes nothing */
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
	fs_node_clear(&n);
	return rc;
}

/* ---- names: unlink, mkdir, rmdir, rename -------------------------------- */

/* What follows a deleted item (a DeleteItem, the delete of a move). */
static void item_deleted(struct fs *fs, const char *path, struct node *n)
{
	/* Whoever deleted it saw it go: a new file there expects no item. */
	seen_note_write(fs->seen, caller_tgid(fs), path, NULL);
	cache_item_put_negative(fs->cache, path);
	forget_listings(fs, path);
	drop_rejected(fs, path);
	fs_invalidate_later(fs, path);
	/* A partition emptied through the mount stays until rmdir, so that
	 * rm -r can remove the directory after its files. */
	if (n->table->range_name)
		fs_pathset_add(&fs->held, n->parent, NULL);
}

/* Deletes the item at path (DeleteItem) and keeps its partition listed. */
static int item_delete(struct fs *fs, const char *path, struct node *n)
{
	struct ddb_error err = {0};
	int rc;

	rc = ddb_delete_item(fs->ddb, n->table->name, n->key, NULL, NULL, NULL,
			     &err);
	if (rc)
		return rc;
	item_deleted(fs, path, n);
	return 0;
}

/* Deletes the item at path that was renamed away as text was (its file's
 * text then; NULL: unknown): with conflicts=check only if it still is,
 * -ESTALE if another client changed it since. */
static int moved_item_delete(struct fs *fs, const char *path, struct node *n,
			     const char *was)
{
	struct cond_want w = {.hash_name = n->table->hash_name,
			      .range_name = n->table->range_name,
			      .version = version_of(fs, n->table)};
	struct ddb_error err = {0};
	struct cond c = {0};
	json_t *seen = NULL;
	int rc;

	if (fs->overwrite || !was ||
	    codec_parse(was, strlen(was), fs->format, &seen, NULL) != 0)
		return item_delete(fs, path, n);
	w.seen = seen;
	rc = cond_build(&c, &w);
	if (!rc)
		rc = unchecked_hold(fs, n->table, n->key, &c, &err);
	if (!rc)
		rc = ddb_delete_item(fs->ddb, n->table->name, n->key, c.expr,
				     c.names, c.values, &err);
	if (rc == -EEXIST)
		rc = -ESTALE;
	if (!rc)
		item_deleted(fs, path, n);
	cond_clear(&c);
	json_decref(seen);
	return rc;
}

/* Removing a scratch file that an item was renamed to finishes that
 * rename: the item it came from goes, unless its name was written again. */
static int finish_moved_item(struct fs *fs, struct scratch_node *sn)
{
	char *origin = scratch_origin(sn), *was = NULL;
	struct node n;
	int rc = 0;

	if (!origin)
		return 0;
	if (fs_pathset_has(&fs->hidden, origin) &&
	    fs_resolve(fs, origin, &n) == 0) {
		was = fs_pathset_value(&fs->hidden, origin);
		if (n.kind == NODE_ITEM)
			rc = moved_item_delete(fs, origin, &n, was);
		fs_node_clear(&n);
		if (rc == -ESTALE) {
			/* Changed by another client since it was renamed
			 * away: that version stays, and is shown again. */
			log_msg(
			    LOG_WARNING,
			    "%s: not deleted with the file it was renamed to: another client changed it since",
			    origin);
			cache_forget(fs->cache, origin);
			forget_listings(fs, origin);
			fs_invalidate_later(fs, origin);
		}
		if (rc == 0 || rc == -ENOENT || rc == -ESTALE) {
			fs_pathset_remove(&fs->hidden, origin, false);
			rc = 0;
		}
	}
	free(was);
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
	pagecache_forget(fs->pages, path);
	rc = fs_resolve(fs, path, &n);
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
	case NODE_ITEMS:
		rc = -EPERM;
		break;
	default:
		rc = -EISDIR;
		break;
	}
	fs_node_clear(&n);
	return rc;
}

/* CreateTable with the schema (on-demand billing), waiting for ACTIVE;
 * -EEXIST when a table of that name exists. */
static int table_create(struct fs *fs, const char *name,
			const struct keyname_attr *hash,
			const struct keyname_attr *range)
{
	static const char types[] = {
	    [KEYNAME_S] = 'S', [KEYNAME_N] = 'N', [KEYNAME_B] = 'B'};
	struct ddb_error err = {0};
	struct ddb_key_schema keys = {.hash_name = hash->name,
				      .hash_type = types[hash->type]};

	if (range && range->name) {
		keys.range_name = range->name;
		keys.range_type = types[range->type];
	}
	return ddb_create_table_keys(fs->ddb, name, &keys, &err);
}

static int fs_mkdir(const char *path, mode_t mode)
{
	struct fs *fs = current_fs();
	struct keyname_schema spec = {0};
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
			if (!fs_table_allowed(fs, spec.table)) {
				rc = -EPERM;
				goto out_spec;
			}
			rc = table_create(fs, spec.table, &spec.hash,
					  &spec.range);
			if (!rc)
				rc = fs_pathset_add(&fs->aliases, path,
						    spec.table);
		} else {
			if (!keyname_table_name_valid(name))
				return -EINVAL;
			if (!fs_table_allowed(fs, name))
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
			fs_created_add(fs, path, NULL, NULL);
	out_spec:
		keyname_schema_free(&spec);
		return rc;
	}
	rc = fs_resolve(fs, path, &n);
	if (rc)
		return rc;
	if (n.kind != NODE_PARTITION) {
		rc = n.kind == NODE_SCRATCH && n.scratch ? -EEXIST : -EPERM;
		if (n.kind == NODE_SCRATCH && !n.scratch)
			rc = n.table->range_name ? -EINVAL : -EPERM;
		goto out;
	}
	rc = fs_partition_exists(fs, path, &n);
	if (rc == 0) {
		rc = -EEXIST;
		goto out;
	}
	if (rc != -ENOENT)
		goto out;
	/* Nothing to send: DynamoDB has no empty partitions. The mount holds
	 * it until an item is written in it or rmdir. */
	rc = fs_pathset_add(&fs->held, path, NULL);
	if (!rc) {
		cache_forget(fs->cache, path);
		cache_forget(fs->cache, n.parent);
		fs_created_add(fs, path, n.table, n.key);
	}
out:
	fs_node_clear(&n);
	return rc;
}

/* Whether a table or partition has any item (consistent reads). A page
 * may come back with no item but a LastEvaluatedKey (Limit counts what was
 * read, and DynamoDB may stop early), which says nothing about the rest:
 * read on until an item or the end, so rmdir never deletes a full table. */
static int has_items(struct fs *fs, struct node *n, bool *any)
{
	struct ddb_error err = {0};
	struct ddb_page_req r = {.table = n->table->name,
				 .hash_name = n->table->hash_name};

	if (n->kind == NODE_PARTITION)
		r.hash_value = json_object_get(n->key, n->table->hash_name);
	return ddb_has_items(fs->ddb, &r, any, &err);
}

/* DeleteTable returns while the table is DELETING; rmdir returns once it
 * is gone, so that ls right after no longer shows it (as mkdir waits for
 * ACTIVE). Gives up quietly after two minutes. */
static void table_wait_gone(struct fs *fs, const char *name)
{
	unsigned delay_ms = 50;

	for (int waited = 0; waited < 120000; waited += (int)delay_ms) {
		struct ddb_error err = {0};
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
	struct ddb_error err = {0};
	bool any = false;
	struct node n;
	int rc;

	if (fs->read_only)
		return -EROFS;
	rc = fs_resolve(fs, path, &n);
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
		if (!fs_pathset_has(&fs->held, path)) {
			rc = -ENOENT;
			goto out;
		}
		fs_pathset_remove(&fs->held, path, false);
	} else {
		if (fs_pathset_has_below(&fs->held, path)) {
			rc = -ENOTEMPTY;
			goto out;
		}
		rc = ddb_delete_table(fs->ddb, n.table->name, &err);
		if (rc == -EINVAL && strstr(err.message, "protect"))
			rc = -EPERM; /* deletion protection */
		if (rc)
			goto out;
		table_wait_gone(fs, n.table->name);
		fs_table_forget(fs, n.table->name);
		fs_pathset_remove(&fs->aliases, path, false);
		cache_forget_tree(fs->cache, path);
	}
	cache_forget(fs->cache, path);
	cache_forget(fs->cache, n.parent);
	fs_created_remove(fs, path);
out:
	fs_node_clear(&n);
	return rc;
}

/* What the mount believes is at a rename's target: *text (a reference;
 * NULL: no item). A name a rename to a scratch name hid is free in this
 * mount, but its item is still stored, as the text it was hidden with:
 * that is what the rename replaces, so *hidden is set and a
 * RENAME_NOREPLACE (mv -n, or mv finding no target) must not fail on it.
 * Otherwise the cache or a GetItem. Returns 0, or the read's -errno
 * (never -ENOENT). */
static int target_belief(struct fs *fs, const char *to, struct node *nt,
			 struct cache_blob **text, bool *hidden)
{
	time_t mtime;
	int rc;

	*text = NULL;
	*hidden = nt->hidden;
	if (nt->hidden) {
		*text = hidden_text(fs, to);
		return 0;
	}
	rc = item_fetch(fs, to, nt, text, &mtime);
	return rc == -ENOENT ? 0 : rc;
}

/* mv item item: one TransactWriteItems (put the new key, delete the old),
 * or put then delete on a server without transactions. */
static int rename_item(struct fs *fs, const char *from, struct node *nf,
		       const char *to, struct node *nt, bool noreplace)
{
	struct put_target pt = {.table = nt->table,
				.key = nt->key,
				.from = nf->table,
				.from_key = nf->key};
	struct cache_blob *text = NULL;
	struct ddb_error err = {0};
	struct expect x = {0};
	json_t *item = NULL, *seen = NULL;
	bool hidden = false;
	int rc;

	rc = ddb_moved_item(fs->ddb, nf->table->name, nf->key, nt->key, &item,
			    &err);
	if (rc)
		return rc;
	/* A move over an item replaces it: conditional on what the mover
	 * saw there, as any write. With noreplace only a hidden item can
	 * be there to replace. */
	if (!noreplace || nt->hidden)
		rc = target_belief(fs, to, nt, &text, &hidden);
	if (rc)
		goto out;
	if (hidden)
		noreplace = false;
	expect_for(fs, caller_tgid(fs), to, text, &x);
	x.pin = true;
	rc = expect_item(fs, to, &x, &seen);
	if (!rc)
		rc = version_bump(fs, nt->table, to, item,
				  noreplace ? NULL : seen);
	if (rc)
		goto out;
	if (noreplace || fs->overwrite)
		rc = ddb_move(fs->ddb, nt->table->name, nt->table->hash_name,
			      item, noreplace, nf->table->name, nf->key, &err);
	else
		rc = put_expected(fs, &pt, item, seen, &err);
	if (rc == -ENOSYS) {
		/* No transactions here (dynalite): put first, so the item is
		 * never absent; then delete the old key. */
		rc = item_put_seen(fs, to, nt, item, noreplace, &x, seen);
		if (!rc)
			rc = item_delete(fs, from, nf);
		goto out;
	}
	if (rc == -ESTALE)
		conflict_found(fs, to, nt, &x);
	if (rc)
		goto out;
	item_deleted(fs, from, nf);
	item_stored(fs, to, nt->table, item, &x);
out:
	if (rc == -ESTALE)
		log_msg(
		    LOG_WARNING,
		    "%s: not moved to %s: the item there (table %s) changed since this process read it (another client wrote or deleted it); both items are unchanged",
		    from, to, nt->table->name);
	cache_blob_unref(text);
	expect_clear(&x);
	json_decref(seen);
	json_decref(item);
	return rc;
}

/* Whether a scratch file renamed away from origin (NULL: none), holding
 * data, is the item at to, hidden by that rename, unchanged since:
 * renaming it back undoes that rename (vim puts its backup back so after
 * a failed save). */
static bool renamed_back(struct fs *fs, const char *origin, const char *to,
			 const char *data, size_t len)
{
	char *was = NULL;
	bool same = false;

	if (origin && strcmp(origin, to) == 0) {
		was = fs_pathset_value(&fs->hidden, to);
		same = was && strlen(was) == len && memcmp(was, data, len) == 0;
	}
	free(was);
	return same;
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
	struct expect x = {0};
	bool hidden;

	rc = scratch_copy(nf->scratch, &data, &len);
	if (rc)
		return rc;
	origin = scratch_origin(nf->scratch);
	if (nt->hidden && renamed_back(fs, origin, to, data, len)) {
		/* mv x x~; mv x~ x with x~ unchanged: nothing to store. */
		free(data);
		fs_pathset_remove(&fs->hidden, to, false);
		forget_listings(fs, to);
		fs_invalidate_later(fs, to);
		scratch_unlink(fs->scratch, from);
		free(origin);
		return 0;
	}
	rc = target_belief(fs, to, nt, &text, &hidden);
	if (rc) {
		/* sed -i deletes its temporary file when rename fails: the
		 * bytes must outlive it here too. */
		log_msg(
		    LOG_ERR,
		    "%s: not stored (%s); the bytes are kept in .%s.rejected",
		    to, strerror(-rc), strrchr(to, '/') + 1);
		keep_rejected(fs, to, data, len);
		free(data);
		free(origin);
		return rc;
	}
	expect_for(fs, caller_tgid(fs), to, text, &x);
	x.pin = true;
	x.backup = origin && strcmp(origin, to) == 0;
	/* A new file (no item, or a hidden one) takes its key from its
	 * name; a hidden name is free for RENAME_NOREPLACE. */
	rc = item_write(fs, to, nt, data, len, noreplace && !hidden,
			hidden || !text, &x);
	cache_blob_unref(text);
	expect_clear(&x);
	free(data);
	if (rc)
		goto out;
	if (origin && strcmp(origin, to) != 0) {
		/* item -> scratch -> another item: the first name goes now. */
		rc = finish_moved_item(fs, nf->scratch);
	} else if (origin) {
		fs_pathset_remove(&fs->hidden, origin, false);
	}
	scratch_unlink(fs->scratch, from);
out:
	free(origin);
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
		rc = fs_pathset_add(&fs->hidden, from, text->data);
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
	rc = fs_resolve(fs, from, &nf);
	if (rc)
		return rc;
	rc = fs_resolve(fs, to, &nt);
	if (rc == -ENOENT &&
	    (nf.kind == NODE_TABLE || nf.kind == NODE_PARTITION))
		rc = -EXDEV;
	if (rc) {
		fs_node_clear(&nf);
		return rc;
	}
	if (strcmp(from, to) == 0) {
		rc = 0;
		goto out;
	}
	/* Before the request: the kernel moves its inode (pages, handles)
	 * once we answer, and a failed rename only costs a re-read. */
	if (nf.kind != NODE_TABLE && nf.kind != NODE_PARTITION)
		pagecache_rename(fs->pages, from, to);
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
	case NODE_ITEMS:
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
		} else if (nt.kind == NODE_ITEMS ||
			   nt.kind == NODE_TABLE_JSON) {
			rc = -EPERM;
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
	fs_node_clear(&nf);
	fs_node_clear(&nt);
	return rc;
}

static int fs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	struct fs *fs = current_fs();
	struct node n;
	int rc;

	if (fs->read_only)
		return -EROFS;
	rc = fs_resolve(fs, path, &n);
	if (rc)
		return rc;
	/* Accepted with no request: DynamoDB keeps no modes. */
	if (n.kind == NODE_SCRATCH && n.scratch)
		scratch_set_mode(n.scratch, mode & 07777);
	fs_node_clear(&n);
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
	rc = fs_resolve(fs, path, &n);
	if (rc)
		return rc;
	if (n.kind == NODE_SCRATCH && n.scratch && tv &&
	    tv[1].tv_nsec != UTIME_OMIT)
		scratch_set_mtime(n.scratch, tv[1].tv_nsec == UTIME_NOW
						 ? time(NULL)
						 : tv[1].tv_sec);
	fs_node_clear(&n);
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

/* user.dynamofs.stats on the root: the FUSE requests the mount has served,
 * one "name count" line each (dynamofs(1), "Kernel caches"). */
static int stats_text(struct fs *fs, char *buf, size_t len)
{
	static const char *const names[FS_OP_N] = {[FS_OP_GETATTR] = "getattr",
						   [FS_OP_OPENDIR] = "opendir",
						   [FS_OP_READDIR] = "readdir",
						   [FS_OP_OPEN] = "open",
						   [FS_OP_READ] = "read",
						   [FS_OP_WRITE] = "write",
						   [FS_OP_FLUSH] = "flush",
						   [FS_OP_RELEASE] = "release",
						   [FS_OP_INVALIDATE] =
						       "invalidate"};
	size_t used = 0;

	for (int i = 0; i < FS_OP_N; i++) {
		int n =
		    snprintf(buf + used, len - used, "%s %lu\n", names[i],
			     __atomic_load_n(&fs->ops[i], __ATOMIC_RELAXED));
		if (n < 0 || (size_t)n >= len - used)
			return -ERANGE;
		used += (size_t)n;
	}
	return (int)used;
}

static int fs_getxattr(const char *path, const char *name, char *value,
		       size_t size)
{
	struct fs *fs = current_fs();
	char stats[512];
	struct node n;
	char *text = NULL;
	size_t len;
	int rc;

	if (strcmp(path, "/") == 0 && strcmp(name, XATTR_STATS) == 0) {
		rc = stats_text(fs, stats, sizeof(stats));
		if (rc < 0 || size == 0)
			return rc;
		if (size < (size_t)rc)
			return -ERANGE;
		memcpy(value, stats, (size_t)rc);
		return rc;
	}
	rc = fs_resolve(fs, path, &n);
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
	fs_node_clear(&n);
	return rc;
}

static int fs_listxattr(const char *path, char *list, size_t size)
{
	struct fs *fs = current_fs();
	struct node n;
	int rc;

	rc = fs_resolve(fs, path, &n);
	if (rc)
		return rc;
	if (n.kind == NODE_ITEM || n.kind == NODE_PARTITION) {
		rc = (int)sizeof(XATTR_KEY);
		if (size && size < sizeof(XATTR_KEY))
			rc = -ERANGE;
		else if (size)
			memcpy(list, XATTR_KEY, sizeof(XATTR_KEY));
	}
	fs_node_clear(&n);
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
	fs_inval_start(fs, fuse_get_context()->fuse);
	return fs;
}

static void fs_destroy(void *private_data)
{
	fs_inval_stop(private_data);
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
