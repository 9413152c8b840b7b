/* fusefloor.c - the benchmark's FUSE floor: a copy of a directory tree held in
 * memory and served, with no network, either like dynamofs (--variant=old) or
 * as fast as a read-only FUSE file system can (low-level API, no OPEN, ...).
 *
 * usage: fusefloor [OPTIONS] SRC MNT [-s]
 *   --variant=NAME   a preset (below); later options change it
 *   --api=high|low   libfuse's high-level (path) or low-level (inode) API
 *   -s               one thread (fuse_loop); --mt: the multi-threaded loop
 *   --open=answer|enosys   low: ENOSYS to OPEN (and OPENDIR), so the
 *                    kernel never sends OPEN, RELEASE (OPENDIR,
 *                    RELEASEDIR) again
 *   --opendir=answer|enosys   OPENDIR on its own (after --open)
 *   --keep-cache     low: FOPEN_KEEP_CACHE on opens, AUTO_INVAL_DATA off
 *   --cache-readdir  low: FOPEN_CACHE_DIR on opendirs
 *   --flush=noflush|enosys|answer   FOPEN_NOFLUSH on opens; ENOSYS to the
 *                    first FLUSH (the kernel stops sending them); or 0
 *   --rdplus=auto|always   READDIRPLUS_AUTO left on, or off
 *   --ro             mount read-only: the kernel then keeps the attributes a
 *                    read would otherwise mark stale (atime), so a second
 *                    stat of a read file costs no GETATTR
 * Presets: old (high, mt, opens answered, noflush: dynamofs's way), old-s,
 * ll (low, otherwise as old), ll-keep (ll with keep_cache and
 * cache_readdir), ll-noopen (no OPEN, FLUSH ENOSYS), ll-noopen-flush (no
 * OPEN, FLUSH answered: what dynamofs could reach, as it needs its FLUSH),
 * each low one also with -s. The low-level API is read-only (no writes).
 * At exit prints the requests it served, per operation, on stderr.
 * No splice option: fuseio's custom I/O has no splice hooks, so libfuse 3.14
 * never splices on this session (fuse_session_custom_io), and the replies
 * are a few hundred bytes from memory, which libfuse writes with writev.
 */
#define FUSE_USE_VERSION 35

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "fuseio.h"

/* dynamofs's default cache_ttl: the kernel keeps names and attributes 5 s. */
#define TTL 5.0

/* A file's bytes. A read-only open holds a reference and reads it without
 * the lock; a write to a blob someone else holds copies it first, so a
 * blob with more than one reference never changes. */
struct blob {
	int refs; /* atomic */
	size_t len, cap;
	char *data;
};

struct node {
	char *path;	  /* "/Devices/1/1.json"; "/" for the root */
	const char *name; /* the last component, inside path */
	bool is_dir;
	time_t mtime;
	struct blob *blob;  /* files */
	struct node **kids; /* directories */
	size_t n_kids, cap_kids;
	struct node *parent;
	size_t index;	    /* in parent->kids */
	struct node *next;  /* hash chain of the path map */
	struct node *dnext; /* hash chain of the (parent, name) map */
};

struct floorfs {
	pthread_rwlock_t lock;
	struct node **buckets;
	size_t n_buckets, n_nodes;
	struct node *root;
	uid_t uid;
	gid_t gid;
};

static struct floorfs flfs;

/* How the floor serves (the options in the usage above). */
static struct {
	bool low, single, no_open, no_opendir, keep_cache, cache_readdir;
	bool rdplus_auto, ro;
	enum { FL_NOFLUSH, FL_ENOSYS, FL_ANSWER } flush;
} opt = {.flush = FL_NOFLUSH, .rdplus_auto = true};

/* Requests served, per operation, printed at exit: the round trips a
 * workload cost. One relaxed atomic add per request. */
enum op {
	OP_LOOKUP,
	OP_GETATTR,
	OP_OPEN,
	OP_READ,
	OP_FLUSH,
	OP_RELEASE,
	OP_OPENDIR,
	OP_READDIR,
	OP_READDIRPLUS,
	OP_RELEASEDIR,
	OP_FORGET,
	OP_CREATE,
	OP_WRITE,
	OP_MKDIR,
	OP_SETATTR,
	OP_OTHER,
	OP_N
};
static const char *const op_names[OP_N] = {
    "LOOKUP",  "GETATTR", "OPEN",	 "READ",       "FLUSH",	 "RELEASE",
    "OPENDIR", "READDIR", "READDIRPLUS", "RELEASEDIR", "FORGET", "CREATE",
    "WRITE",   "MKDIR",	  "SETATTR",	 "OTHER"};
static unsigned long op_count[OP_N];

static void count(enum op op)
{
	__atomic_add_fetch(&op_count[op], 1, __ATOMIC_RELAXED);
}

/* ---- blobs ----------------------------------------------------------------
 */

static struct blob *blob_new(size_t cap)
{
	struct blob *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->cap = cap ? cap : 1;
	b->data = malloc(b->cap);
	if (!b->data) {
		free(b);
		return NULL;
	}
	b->refs = 1;
	return b;
}

static void blob_ref(struct blob *b)
{
	__atomic_add_fetch(&b->refs, 1, __ATOMIC_RELAXED);
}

static void blob_unref(struct blob *b)
{
	if (b && __atomic_sub_fetch(&b->refs, 1, __ATOMIC_ACQ_REL) == 0) {
		free(b->data);
		free(b);
	}
}

/* Makes n's blob its own (copied if shared) with room for cap bytes.
 * Under the write lock. Returns 0 or -ENOMEM. */
static int blob_own(struct node *n, size_t cap)
{
	struct blob *b = n->blob;

	if (__atomic_load_n(&b->refs, __ATOMIC_ACQUIRE) > 1) {
		struct blob *c = blob_new(cap > b->len ? cap : b->len);

		if (!c)
			return -ENOMEM;
		memcpy(c->data, b->data, b->len);
		c->len = b->len;
		blob_unref(b);
		n->blob = c;
		return 0;
	}
	if (cap > b->cap) {
		size_t want = b->cap * 2 > cap ? b->cap * 2 : cap;
		char *d = realloc(b->data, want);

		if (!d)
			return -ENOMEM;
		b->data = d;
		b->cap = want;
	}
	return 0;
}

/* ---- the path map ---------------------------------------------------------
 */

static size_t hash_path(const char *s)
{
	size_t h = 14695981039346656037ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct node *lookup(const char *path)
{
	struct node *n = flfs.buckets[hash_path(path) & (flfs.n_buckets - 1)];

	while (n && strcmp(n->path, path) != 0)
		n = n->next;
	return n;
}

static int map_grow(void)
{
	size_t nb = flfs.n_buckets * 2, i;
	struct node **b = calloc(nb, sizeof(*b));

	if (!b)
		return -ENOMEM;
	for (i = 0; i < flfs.n_buckets; i++) {
		struct node *n = flfs.buckets[i], *next;

		for (; n; n = next) {
			size_t k = hash_path(n->path) & (nb - 1);

			next = n->next;
			n->next = b[k];
			b[k] = n;
		}
	}
	free(flfs.buckets);
	flfs.buckets = b;
	flfs.n_buckets = nb;
	return 0;
}

static int map_add(struct node *n)
{
	size_t k;

	if (flfs.n_nodes >= flfs.n_buckets && map_grow() != 0)
		return -ENOMEM;
	k = hash_path(n->path) & (flfs.n_buckets - 1);
	n->next = flfs.buckets[k];
	flfs.buckets[k] = n;
	flfs.n_nodes++;
	return 0;
}

static void map_del(struct node *n)
{
	struct node **p =
	    &flfs.buckets[hash_path(n->path) & (flfs.n_buckets - 1)];

	while (*p && *p != n)
		p = &(*p)->next;
	if (*p) {
		*p = n->next;
		flfs.n_nodes--;
	}
}

/* ---- the tree -------------------------------------------------------------
 */

static int set_path(struct node *n, const char *path)
{
	char *p = strdup(path);
	const char *slash;

	if (!p)
		return -ENOMEM;
	free(n->path);
	n->path = p;
	slash = strrchr(p, '/');
	n->name = slash && slash[1] ? slash + 1 : p;
	return 0;
}

static int kid_add(struct node *dir, struct node *n)
{
	if (dir->n_kids == dir->cap_kids) {
		size_t cap = dir->cap_kids ? dir->cap_kids * 2 : 8;
		struct node **k = realloc(dir->kids, cap * sizeof(*k));

		if (!k)
			return -ENOMEM;
		dir->kids = k;
		dir->cap_kids = cap;
	}
	n->parent = dir;
	n->index = dir->n_kids;
	dir->kids[dir->n_kids++] = n;
	return 0;
}

static void kid_del(struct node *n)
{
	struct node *dir = n->parent;
	struct node *last = dir->kids[--dir->n_kids];

	dir->kids[n->index] = last;
	last->index = n->index;
	n->parent = NULL;
}

static void node_free(struct node *n)
{
	if (!n)
		return;
	blob_unref(n->blob);
	free(n->kids);
	free(n->path);
	free(n);
}

/* The parent directory of path, or NULL (errno-style code in *rc). */
static struct node *parent_of(const char *path, int *rc)
{
	char dir[PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t len = slash ? (size_t)(slash - path) : 0;
	struct node *d;

	if (!slash || len >= sizeof(dir)) {
		*rc = -ENAMETOOLONG;
		return NULL;
	}
	memcpy(dir, path, len);
	dir[len] = '\0';
	d = lookup(len ? dir : "/");
	if (!d) {
		*rc = -ENOENT;
		return NULL;
	}
	if (!d->is_dir) {
		*rc = -ENOTDIR;
		return NULL;
	}
	return d;
}

/* A new file or directory at path, in the map and in its parent.
 * Under the write lock (or before the mount). */
static int node_make(const char *path, bool is_dir, struct node **out)
{
	struct node *n = calloc(1, sizeof(*n));
	struct node *dir = NULL;
	int rc = 0;

	if (!n)
		return -ENOMEM;
	n->is_dir = is_dir;
	n->mtime = time(NULL);
	if (strcmp(path, "/") != 0) {
		dir = parent_of(path, &rc);
		if (!dir)
			goto fail;
	}
	rc = set_path(n, path);
	if (rc)
		goto fail;
	if (!is_dir) {
		n->blob = blob_new(0);
		if (!n->blob) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	rc = map_add(n);
	if (rc)
		goto fail;
	if (dir) {
		rc = kid_add(dir, n);
		if (rc) {
			map_del(n);
			goto fail;
		}
	}
	*out = n;
	return 0;
fail:
	node_free(n);
	return rc;
}

/* Takes n (and everything under it) out of the tree and frees it. */
static void node_remove(struct node *n)
{
	while (n->n_kids)
		node_remove(n->kids[n->n_kids - 1]);
	map_del(n);
	if (n->parent)
		kid_del(n);
	node_free(n);
}

/* Gives n (and everything under it) the path path. */
static int node_rekey(struct node *n, const char *path)
{
	char sub[PATH_MAX];
	size_t i;
	int rc;

	map_del(n);
	rc = set_path(n, path);
	if (rc == 0)
		rc = map_add(n);
	for (i = 0; rc == 0 && i < n->n_kids; i++) {
		struct node *k = n->kids[i];

		if (snprintf(sub, sizeof(sub), "%s/%s", path, k->name) >=
		    (int)sizeof(sub))
			return -ENAMETOOLONG;
		rc = node_rekey(k, sub);
	}
	return rc;
}

/* ---- loading SRC ----------------------------------------------------------
 */

static int load_file(const char *file, struct node *n)
{
	struct stat st;
	ssize_t got;
	size_t len = 0;
	int rc = 0;
	int fd = open(file, O_RDONLY);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) != 0) {
		rc = -errno;
		goto out;
	}
	/* One byte to spare: the read that sees the end needs no more room. */
	rc = blob_own(n, (size_t)st.st_size + 1);
	if (rc)
		goto out;
	while ((got = read(fd, n->blob->data + len, n->blob->cap - len)) > 0) {
		len += (size_t)got;
		if (len == n->blob->cap) {
			rc = blob_own(n, len + 4096);
			if (rc)
				goto out;
		}
	}
	if (got < 0)
		rc = -errno;
	n->blob->len = len;
	n->mtime = st.st_mtime;
out:
	close(fd);
	return rc;
}

/* Loads every directory and regular file under src (the directory) as the
 * tree under path; counts the files in *files. */
static int load_tree(const char *src, const char *path, size_t *files)
{
	char from[PATH_MAX], to[PATH_MAX];
	struct dirent *e;
	int rc = 0;
	DIR *d = opendir(src);

	if (!d)
		return -errno;
	while (rc == 0 && (e = readdir(d)) != NULL) {
		struct stat st;
		struct node *n;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (snprintf(from, sizeof(from), "%s/%s", src, e->d_name) >=
			(int)sizeof(from) ||
		    snprintf(to, sizeof(to), "%s/%s",
			     strcmp(path, "/") ? path : "",
			     e->d_name) >= (int)sizeof(to)) {
			rc = -ENAMETOOLONG;
			break;
		}
		if (lstat(from, &st) != 0) {
			rc = -errno;
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			rc = node_make(to, true, &n);
			if (rc == 0)
				rc = load_tree(from, to, files);
		} else if (S_ISREG(st.st_mode)) {
			rc = node_make(to, false, &n);
			if (rc == 0)
				rc = load_file(from, n);
			if (rc == 0)
				(*files)++;
		}
		if (rc)
			fprintf(stderr, "fusefloor: %s: %s\n", from,
				strerror(-rc));
	}
	closedir(d);
	return rc;
}

/* ---- the operations -------------------------------------------------------
 */

static void fill_stat(const struct node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_uid = flfs.uid;
	st->st_gid = flfs.gid;
	st->st_blksize = 4096;
	st->st_mtime = st->st_ctime = st->st_atime = n->mtime;
	if (n->is_dir) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		st->st_size = 4096;
	} else {
		st->st_mode = S_IFREG | 0644;
		st->st_nlink = 1;
		st->st_size = (off_t)n->blob->len;
		st->st_blocks = (st->st_size + 511) / 512;
	}
}

static void *ff_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	/* As dynamofs's fs_init. */
	cfg->entry_timeout = TTL;
	cfg->attr_timeout = TTL;
	cfg->negative_timeout = TTL;
	cfg->use_ino = 0;
	cfg->nullpath_ok = 0;
	cfg->kernel_cache = 0;
	cfg->auto_cache = 0;
	conn->want |= conn->capable & FUSE_CAP_READDIRPLUS;
	conn->want |= conn->capable & FUSE_CAP_ATOMIC_O_TRUNC;
	conn->want |= conn->capable & FUSE_CAP_PARALLEL_DIROPS;
	return &flfs;
}

static int ff_getattr(const char *path, struct stat *st,
		      struct fuse_file_info *fi)
{
	count(OP_GETATTR);
	struct node *n;
	int rc = 0;

	pthread_rwlock_rdlock(&flfs.lock);
	n = lookup(path);
	if (n)
		fill_stat(n, st);
	else
		rc = -ENOENT;
	pthread_rwlock_unlock(&flfs.lock);
	return rc;
}

static int ff_opendir(const char *path, struct fuse_file_info *fi)
{
	count(OP_OPENDIR);
	struct node *n;
	int rc = 0;

	pthread_rwlock_rdlock(&flfs.lock);
	n = lookup(path);
	if (!n)
		rc = -ENOENT;
	else if (!n->is_dir)
		rc = -ENOTDIR;
	pthread_rwlock_unlock(&flfs.lock);
	return rc;
}

/* Offsets as dynamofs: 1 and 2 are "." and "..", kid i is i + 3. */
static int ff_readdir(const char *path, void *buf, fuse_fill_dir_t filler,
		      off_t offset, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	enum fuse_fill_dir_flags plus =
	    flags & FUSE_READDIR_PLUS ? FUSE_FILL_DIR_PLUS : 0;
	struct stat st;
	struct node *n;
	size_t i;
	int rc = 0;

	count(plus ? OP_READDIRPLUS : OP_READDIR);
	pthread_rwlock_rdlock(&flfs.lock);
	n = lookup(path);
	if (!n || !n->is_dir) {
		rc = n ? -ENOTDIR : -ENOENT;
		goto out;
	}
	if (offset < 1) {
		fill_stat(n, &st);
		if (filler(buf, ".", &st, 1, 0))
			goto out;
		offset = 1;
	}
	if (offset < 2) {
		fill_stat(n->parent ? n->parent : n, &st);
		if (filler(buf, "..", &st, 2, 0))
			goto out;
		offset = 2;
	}
	for (i = (size_t)offset - 2; i < n->n_kids; i++) {
		fill_stat(n->kids[i], &st);
		if (filler(buf, n->kids[i]->name, &st, (off_t)(i + 3), plus))
			break;
	}
out:
	pthread_rwlock_unlock(&flfs.lock);
	return rc;
}

static int ff_releasedir(const char *path, struct fuse_file_info *fi)
{
	count(OP_RELEASEDIR);
	return 0;
}

/* Under the write lock: cuts or extends n's bytes to len. */
static int resize(struct node *n, size_t len)
{
	int rc = blob_own(n, len);

	if (rc)
		return rc;
	if (len > n->blob->len)
		memset(n->blob->data + n->blob->len, 0, len - n->blob->len);
	n->blob->len = len;
	n->mtime = time(NULL);
	return 0;
}

static int ff_open(const char *path, struct fuse_file_info *fi)
{
	bool wr = (fi->flags & O_ACCMODE) != O_RDONLY;
	struct node *n;
	int rc = 0;

	count(OP_OPEN);
	if (wr)
		pthread_rwlock_wrlock(&flfs.lock);
	else
		pthread_rwlock_rdlock(&flfs.lock);
	n = lookup(path);
	if (!n) {
		rc = -ENOENT;
		goto out;
	}
	if (n->is_dir) {
		rc = -EISDIR;
		goto out;
	}
	fi->keep_cache = 0;
	fi->fh = 0;
	if (wr) {
		/* Writes go to the node by path; close has work to do. */
		fi->noflush = 0;
		if (fi->flags & O_TRUNC)
			rc = resize(n, 0);
	} else {
		/* A read-only open reads this blob, unlocked, until release. */
		blob_ref(n->blob);
		fi->fh = (uintptr_t)n->blob;
		fi->noflush = 1;
	}
out:
	pthread_rwlock_unlock(&flfs.lock);
	return rc;
}

static int ff_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	count(OP_CREATE);
	struct node *n;
	int rc = 0;

	pthread_rwlock_wrlock(&flfs.lock);
	n = lookup(path);
	if (n && (fi->flags & O_EXCL))
		rc = -EEXIST;
	else if (n && n->is_dir)
		rc = -EISDIR;
	else if (n)
		rc = resize(n, 0);
	else
		rc = node_make(path, false, &n);
	pthread_rwlock_unlock(&flfs.lock);
	fi->keep_cache = 0;
	fi->noflush = 0;
	fi->fh = 0;
	return rc;
}

static int ff_read(const char *path, char *buf, size_t size, off_t offset,
		   struct fuse_file_info *fi)
{
	struct blob *b = (struct blob *)(uintptr_t)fi->fh;
	struct node *n = NULL;
	size_t len;
	int rc;

	count(OP_READ);
	if (!b) {
		/* Opened for writing too: the node's current bytes. */
		pthread_rwlock_rdlock(&flfs.lock);
		n = lookup(path);
		if (!n || n->is_dir) {
			pthread_rwlock_unlock(&flfs.lock);
			return n ? -EISDIR : -ENOENT;
		}
		b = n->blob;
	}
	len = b->len;
	if (offset < 0 || (size_t)offset >= len) {
		rc = 0;
	} else {
		if (size > len - (size_t)offset)
			size = len - (size_t)offset;
		memcpy(buf, b->data + offset, size);
		rc = (int)size;
	}
	if (n)
		pthread_rwlock_unlock(&flfs.lock);
	return rc;
}

static int ff_write(const char *path, const char *buf, size_t size,
		    off_t offset, struct fuse_file_info *fi)
{
	struct node *n;
	size_t end = (size_t)offset + size;
	int rc;

	count(OP_WRITE);
	if (offset < 0)
		return -EINVAL;
	pthread_rwlock_wrlock(&flfs.lock);
	n = lookup(path);
	if (!n || n->is_dir) {
		rc = n ? -EISDIR : -ENOENT;
		goto out;
	}
	if (end > n->blob->len)
		rc = resize(n, end);
	else
		rc = blob_own(n, n->blob->len);
	if (rc)
		goto out;
	memcpy(n->blob->data + offset, buf, size);
	n->mtime = time(NULL);
	rc = (int)size;
out:
	pthread_rwlock_unlock(&flfs.lock);
	return rc;
}

static int ff_flush(const char *path, struct fuse_file_info *fi)
{
	count(OP_FLUSH);
	return 0;
}

static int ff_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	count(OP_OTHER);
	return 0;
}

static int ff_release(const char *path, struct fuse_file_info *fi)
{
	count(OP_RELEASE);
	blob_unref((struct blob *)(uintptr_t)fi->fh);
	return 0;
}

static int ff_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct node *n;
	int rc;

	count(OP_SETATTR);
	if (size < 0)
		return -EINVAL;
	pthread_rwlock_wrlock(&flfs.lock);
	n = lookup(path);
	if (!n)
		rc = -ENOENT;
	else if (n->is_dir)
		rc = -EISDIR;
	else
		rc = resize(n, (size_t)size);
	pthread_rwlock_unlock(&flfs.lock);
	return rc;
}

static int ff_mkdir(const char *path, mode_t mode)
{
	count(OP_MKDIR);
	struct node *n;
	int rc;

	pthread_rwlock_wrlock(&flfs.lock);
	rc = lookup(path) ? -EEXIST : node_make(path, true, &n);
	pthread_rwlock_unlock(&flfs.lock);
	return rc;
}

static int ff_unlink(const char *path)
{
	count(OP_OTHER);
	struct node *n;
	int rc = 0;

	pthread_rwlock_wrlock(&flfs.lock);
	n = lookup(path);
	if (!n)
		rc = -ENOENT;
	else if (n->is_dir)
		rc = -EISDIR;
	else
		node_remove(n);
	pthread_rwlock_unlock(&flfs.lock);
	return rc;
}

static int ff_rmdir(const char *path)
{
	count(OP_OTHER);
	struct node *n;
	int rc = 0;

	pthread_rwlock_wrlock(&flfs.lock);
	n = lookup(path);
	if (!n)
		rc = -ENOENT;
	else if (!n->is_dir)
		rc = -ENOTDIR;
	else if (n->n_kids)
		rc = -ENOTEMPTY;
	else if (!n->parent)
		rc = -EBUSY;
	else
		node_remove(n);
	pthread_rwlock_unlock(&flfs.lock);
	return rc;
}

static int ff_rename(const char *from, const char *to, unsigned int flags)
{
	count(OP_OTHER);
	struct node *n, *old, *dir, *p;
	int rc = 0;

	if (flags & ~RENAME_NOREPLACE)
		return -EINVAL;
	pthread_rwlock_wrlock(&flfs.lock);
	n = lookup(from);
	if (!n) {
		rc = -ENOENT;
		goto out;
	}
	dir = parent_of(to, &rc);
	if (!dir)
		goto out;
	for (p = dir; p; p = p->parent) {
		if (p == n) { /* into itself */
			rc = -EINVAL;
			goto out;
		}
	}
	old = lookup(to);
	if (old == n)
		goto out;
	if (old) {
		if (flags & RENAME_NOREPLACE)
			rc = -EEXIST;
		else if (old->is_dir && !n->is_dir)
			rc = -EISDIR;
		else if (!old->is_dir && n->is_dir)
			rc = -ENOTDIR;
		else if (old->n_kids)
			rc = -ENOTEMPTY;
		if (rc)
			goto out;
		node_remove(old);
	}
	kid_del(n);
	rc = kid_add(dir, n);
	if (rc == 0)
		rc = node_rekey(n, to);
out:
	pthread_rwlock_unlock(&flfs.lock);
	return rc;
}

/* Accepted as no-ops (cp -p, sed -i set them): modes and owners are fixed. */
static int ff_exists(const char *path)
{
	int rc;

	pthread_rwlock_rdlock(&flfs.lock);
	rc = lookup(path) ? 0 : -ENOENT;
	pthread_rwlock_unlock(&flfs.lock);
	return rc;
}

static int ff_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	count(OP_SETATTR);
	return ff_exists(path);
}

static int ff_chown(const char *path, uid_t uid, gid_t gid,
		    struct fuse_file_info *fi)
{
	count(OP_SETATTR);
	return ff_exists(path);
}

static int ff_utimens(const char *path, const struct timespec tv[2],
		      struct fuse_file_info *fi)
{
	count(OP_SETATTR);
	return ff_exists(path);
}

static int ff_statfs(const char *path, struct statvfs *sv)
{
	count(OP_OTHER);
	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = 4096;
	sv->f_frsize = 4096;
	sv->f_namemax = 255;
	return 0;
}

static const struct fuse_operations ff_ops = {
    .init = ff_init,
    .getattr = ff_getattr,
    .opendir = ff_opendir,
    .readdir = ff_readdir,
    .releasedir = ff_releasedir,
    .open = ff_open,
    .create = ff_create,
    .read = ff_read,
    .write = ff_write,
    .flush = ff_flush,
    .fsync = ff_fsync,
    .release = ff_release,
    .truncate = ff_truncate,
    .unlink = ff_unlink,
    .mkdir = ff_mkdir,
    .rmdir = ff_rmdir,
    .rename = ff_rename,
    .chmod = ff_chmod,
    .chown = ff_chown,
    .utimens = ff_utimens,
    .statfs = ff_statfs,
};

/* ---- the low-level API ----------------------------------------------------
 * Read-only: the tree never changes once mounted, so no lock. An inode
 * number is the node's address (the root's is FUSE_ROOT_ID), a name is
 * found in a (parent, name) hash, no path is ever built.
 */

static struct node **dmap;
static size_t dmap_mask;

static size_t hash_dent(const struct node *dir, const char *name)
{
	size_t h = 14695981039346656037ULL ^ (uintptr_t)dir;

	for (; *name; name++)
		h = (h ^ (unsigned char)*name) * 1099511628211ULL;
	return h;
}

/* The (parent, name) map of every node but the root; after loading. */
static int dmap_build(struct node *dir)
{
	size_t i;

	if (!dmap) {
		size_t nb = 1024;

		while (nb < flfs.n_nodes * 2)
			nb *= 2;
		dmap = calloc(nb, sizeof(*dmap));
		if (!dmap)
			return -ENOMEM;
		dmap_mask = nb - 1;
	}
	for (i = 0; i < dir->n_kids; i++) {
		struct node *k = dir->kids[i];
		size_t b = hash_dent(dir, k->name) & dmap_mask;

		k->dnext = dmap[b];
		dmap[b] = k;
		if (k->is_dir && dmap_build(k) != 0)
			return -ENOMEM;
	}
	return 0;
}

static struct node *dmap_find(const struct node *dir, const char *name)
{
	struct node *n = dmap[hash_dent(dir, name) & dmap_mask];

	while (n && (n->parent != dir || strcmp(n->name, name) != 0))
		n = n->dnext;
	return n;
}

static fuse_ino_t ino_of(const struct node *n)
{
	return n == flfs.root ? FUSE_ROOT_ID : (fuse_ino_t)(uintptr_t)n;
}

static struct node *node_of(fuse_ino_t ino)
{
	return ino == FUSE_ROOT_ID ? flfs.root : (struct node *)(uintptr_t)ino;
}

static void fill_entry(const struct node *n, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = ino_of(n);
	fill_stat(n, &e->attr);
	e->attr.st_ino = e->ino;
	e->attr_timeout = TTL;
	e->entry_timeout = TTL;
}

static void ll_init(void *userdata, struct fuse_conn_info *conn)
{
	conn->want |= conn->capable & FUSE_CAP_READDIRPLUS;
	conn->want |= conn->capable & FUSE_CAP_PARALLEL_DIROPS;
	if (!opt.rdplus_auto)
		conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	/* A kept page cache must not be dropped when attributes are
	 * refreshed; they never change here. */
	if (opt.keep_cache || opt.no_open)
		conn->want &= ~FUSE_CAP_AUTO_INVAL_DATA;
	if (opt.no_open)
		conn->want |= conn->capable & FUSE_CAP_NO_OPEN_SUPPORT;
	if (opt.no_opendir)
		conn->want |= conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT;
}

static void ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	struct node *n = dmap_find(node_of(parent), name);

	count(OP_LOOKUP);
	if (!n) {
		/* ino 0: a negative entry the kernel keeps TTL seconds. */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = TTL;
		fuse_reply_entry(req, &e);
		return;
	}
	fill_entry(n, &e);
	fuse_reply_entry(req, &e);
}

/* Nodes live as long as the mount: nothing to forget. */
static void ll_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	count(OP_FORGET);
	fuse_reply_none(req);
}

static void ll_forget_multi(fuse_req_t req, size_t n,
			    struct fuse_forget_data *f)
{
	count(OP_FORGET);
	fuse_reply_none(req);
}

static void ll_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct stat st;
	struct node *n = node_of(ino);

	count(OP_GETATTR);
	fill_stat(n, &st);
	st.st_ino = ino;
	fuse_reply_attr(req, &st, TTL);
}

static void ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	count(OP_OPEN);
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (opt.no_open) {
		/* With FUSE_NO_OPEN_SUPPORT the kernel takes this as
		 * success for every later open on the connection. */
		fuse_reply_err(req, ENOSYS);
		return;
	}
	fi->keep_cache = opt.keep_cache;
	fi->noflush = opt.flush == FL_NOFLUSH;
	fuse_reply_open(req, fi);
}

static void ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	const struct blob *b = node_of(ino)->blob;

	count(OP_READ);
	if (!b || off < 0 || (size_t)off >= b->len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > b->len - (size_t)off)
		size = b->len - (size_t)off;
	fuse_reply_buf(req, b->data + off, size);
}

static void ll_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	count(OP_FLUSH);
	/* ENOSYS makes the kernel set no_flush: no FLUSH after this one. */
	fuse_reply_err(req, opt.flush == FL_ENOSYS ? ENOSYS : 0);
}

static void ll_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	count(OP_RELEASE);
	fuse_reply_err(req, 0);
}

static void ll_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	count(OP_OPENDIR);
	if (opt.no_opendir) {
		/* As ll_open; the kernel then caches listings as if opendir
		 * had returned FOPEN_KEEP_CACHE | FOPEN_CACHE_DIR. */
		fuse_reply_err(req, ENOSYS);
		return;
	}
	fi->cache_readdir = opt.cache_readdir;
	fi->keep_cache = opt.cache_readdir;
	fuse_reply_open(req, fi);
}

/* Offsets as the high-level side: 1 and 2 are "." and "..", kid i is
 * i + 3. Entries go into one buffer of the kernel's size. */
static void ll_readdir_any(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, bool plus)
{
	struct node *n = node_of(ino);
	char *buf = malloc(size ? size : 1);
	size_t len = 0, i;

	count(plus ? OP_READDIRPLUS : OP_READDIR);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (i = off < 0 ? 0 : (size_t)off; i < n->n_kids + 2; i++) {
		const struct node *k = i == 0	? n
				       : i == 1 ? (n->parent ? n->parent : n)
						: n->kids[i - 2];
		const char *name = i == 0 ? "." : i == 1 ? ".." : k->name;
		size_t got;

		if (plus) {
			struct fuse_entry_param e;

			fill_entry(k, &e);
			got = fuse_add_direntry_plus(req, buf + len, size - len,
						     name, &e, (off_t)(i + 1));
		} else {
			struct stat st;

			fill_stat(k, &st);
			st.st_ino = ino_of(k);
			got = fuse_add_direntry(req, buf + len, size - len,
						name, &st, (off_t)(i + 1));
		}
		if (got > size - len)
			break;
		len += got;
	}
	fuse_reply_buf(req, buf, len);
	free(buf);
}

static void ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	ll_readdir_any(req, ino, size, off, false);
}

static void ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	ll_readdir_any(req, ino, size, off, true);
}

static void ll_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	count(OP_RELEASEDIR);
	fuse_reply_err(req, 0);
}

static void ll_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	ff_statfs("/", &sv); /* counted there */
	fuse_reply_statfs(req, &sv);
}

/* Anything else (writes, xattrs) gets ENOSYS from libfuse, uncounted. */
static const struct fuse_lowlevel_ops ll_ops = {
    .init = ll_init,
    .lookup = ll_lookup,
    .forget = ll_forget,
    .forget_multi = ll_forget_multi,
    .getattr = ll_getattr,
    .open = ll_open,
    .read = ll_read,
    .flush = ll_flush,
    .release = ll_release,
    .opendir = ll_opendir,
    .readdir = ll_readdir,
    .readdirplus = ll_readdirplus,
    .releasedir = ll_releasedir,
    .statfs = ll_statfs,
};

/* ---- main -----------------------------------------------------------------
 */

static void free_tree(void)
{
	if (flfs.root)
		node_remove(flfs.root);
	free(flfs.buckets);
	free(dmap);
}

/* One line on stderr: the requests served, per operation (bench.py reads
 * it from the floor's log). */
static void print_counts(void)
{
	int i;

	fprintf(stderr, "fusefloor: requests");
	for (i = 0; i < OP_N; i++)
		if (op_count[i])
			fprintf(stderr, " %s=%lu", op_names[i], op_count[i]);
	fprintf(stderr, "\n");
}

/* Sets opt from a preset name; 0 or -1 (unknown). */
static int preset(const char *v)
{
	size_t len = strlen(v);
	bool s = len > 2 && strcmp(v + len - 2, "-s") == 0;
	char base[64];

	if (len >= sizeof(base))
		return -1;
	memcpy(base, v, len + 1);
	if (s)
		base[len - 2] = '\0';
	memset(&opt, 0, sizeof(opt));
	opt.rdplus_auto = true;
	opt.single = s;
	if (strcmp(base, "old") == 0) {
		opt.flush = FL_NOFLUSH;
	} else if (strcmp(base, "ll") == 0) {
		opt.low = true;
		opt.flush = FL_NOFLUSH;
	} else if (strcmp(base, "ll-keep") == 0) {
		opt.low = opt.keep_cache = opt.cache_readdir = true;
		opt.flush = FL_NOFLUSH;
	} else if (strcmp(base, "ll-noopen") == 0) {
		opt.low = opt.no_open = opt.no_opendir = true;
		opt.flush = FL_ENOSYS;
	} else if (strcmp(base, "ll-noopen-flush") == 0) {
		opt.low = opt.no_open = opt.no_opendir = true;
		opt.flush = FL_ANSWER;
	} else {
		return -1;
	}
	return 0;
}

/* Parses the options of the usage at the top; the positional arguments are
 * left in pos[0..1]. Returns 0 or -1. */
static int parse_args(int argc, char *argv[], const char *pos[2])
{
	int i, n = 0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strncmp(a, "--variant=", 10) == 0) {
			if (preset(a + 10) != 0)
				return -1;
		} else if (strcmp(a, "--api=high") == 0) {
			opt.low = false;
		} else if (strcmp(a, "--api=low") == 0) {
			opt.low = true;
		} else if (strcmp(a, "-s") == 0) {
			opt.single = true;
		} else if (strcmp(a, "--mt") == 0) {
			opt.single = false;
		} else if (strcmp(a, "--open=answer") == 0) {
			opt.no_open = opt.no_opendir = false;
		} else if (strcmp(a, "--open=enosys") == 0) {
			opt.no_open = opt.no_opendir = true;
		} else if (strcmp(a, "--opendir=answer") == 0) {
			opt.no_opendir = false;
		} else if (strcmp(a, "--opendir=enosys") == 0) {
			opt.no_opendir = true;
		} else if (strcmp(a, "--ro") == 0) {
			opt.ro = true;
		} else if (strcmp(a, "--keep-cache") == 0) {
			opt.keep_cache = true;
		} else if (strcmp(a, "--cache-readdir") == 0) {
			opt.cache_readdir = true;
		} else if (strcmp(a, "--flush=noflush") == 0) {
			opt.flush = FL_NOFLUSH;
		} else if (strcmp(a, "--flush=enosys") == 0) {
			opt.flush = FL_ENOSYS;
		} else if (strcmp(a, "--flush=answer") == 0) {
			opt.flush = FL_ANSWER;
		} else if (strcmp(a, "--rdplus=auto") == 0) {
			opt.rdplus_auto = true;
		} else if (strcmp(a, "--rdplus=always") == 0) {
			opt.rdplus_auto = false;
		} else if (a[0] == '-' || n == 2) {
			return -1;
		} else {
			pos[n++] = a;
		}
	}
	/* The options of the low-level side mean nothing to the high one. */
	if (n != 2 ||
	    (!opt.low && (opt.no_open || opt.no_opendir || opt.ro ||
			  opt.keep_cache || opt.cache_readdir ||
			  !opt.rdplus_auto || opt.flush != FL_NOFLUSH)))
		return -1;
	return 0;
}

/* Serves on mnt through the low-level API until unmounted. */
static int serve_low(struct fuse_args *args, const char *mnt)
{
	struct fuse_loop_config loop = {.clone_fd = 0, .max_idle_threads = 16};
	struct fuse_session *se;
	bool mounted = false, signals = false;
	int rc = -1;

	se = fuse_session_new(args, &ll_ops, sizeof(ll_ops), NULL);
	if (!se)
		return -1;
	if (fuse_set_signal_handlers(se) != 0)
		goto out;
	signals = true;
	if (fuse_session_mount(se, mnt) != 0)
		goto out;
	mounted = true;
	if (fuseio_install(se) != 0)
		fprintf(stderr, "fusefloor: lookups in one directory will be "
				"serialized\n");
	rc = opt.single ? fuse_session_loop(se)
			: fuse_session_loop_mt(se, &loop);
	if (rc < 0)
		fprintf(stderr, "fusefloor: serving %s stopped: %s\n", mnt,
			strerror(-rc));
out:
	if (signals)
		fuse_remove_signal_handlers(se);
	if (mounted)
		fuse_session_unmount(se);
	fuse_session_destroy(se);
	return rc < 0 ? -1 : 0;
}

/* Serves on mnt through the high-level API (dynamofs's) until unmounted. */
static int serve_high(struct fuse_args *args, const char *mnt)
{
	struct fuse_loop_config loop = {.clone_fd = 0, .max_idle_threads = 16};
	struct fuse *fuse;
	bool mounted = false, signals = false;
	int rc = -1;

	fuse = fuse_new(args, &ff_ops, sizeof(ff_ops), &flfs);
	if (!fuse)
		return -1;
	if (fuse_set_signal_handlers(fuse_get_session(fuse)) != 0)
		goto out;
	signals = true;
	if (fuse_mount(fuse, mnt) != 0)
		goto out;
	mounted = true;
	if (fuseio_install(fuse_get_session(fuse)) != 0)
		fprintf(stderr, "fusefloor: lookups in one directory will be "
				"serialized\n");
	rc = opt.single ? fuse_loop(fuse) : fuse_loop_mt(fuse, &loop);
	if (rc < 0)
		fprintf(stderr, "fusefloor: serving %s stopped: %s\n", mnt,
			strerror(-rc));
out:
	if (signals)
		fuse_remove_signal_handlers(fuse_get_session(fuse));
	if (mounted)
		fuse_unmount(fuse);
	fuse_destroy(fuse);
	return rc < 0 ? -1 : 0;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	const char *pos[2] = {NULL, NULL};
	char *fsname = NULL, *mnt = NULL, *raw = NULL;
	size_t files = 0;
	int status = 1;
	int rc;

	if (parse_args(argc, argv, pos) != 0) {
		fprintf(stderr,
			"usage: %s [--variant=old|old-s|ll|ll-keep|ll-noopen|"
			"ll-noopen-flush[-s]] [--api=high|low] [-s|--mt] "
			"[--open=answer|enosys] [--opendir=answer|enosys] "
			"[--ro] [--keep-cache] "
			"[--cache-readdir] [--flush=noflush|enosys|answer] "
			"[--rdplus=auto|always] SRC MNT\n",
			argv[0]);
		return 2;
	}
	mnt = realpath(pos[1], NULL);
	if (!mnt) {
		fprintf(stderr, "fusefloor: bad mount point %s: %s\n", pos[1],
			strerror(errno));
		return 1;
	}
	flfs.uid = getuid();
	flfs.gid = getgid();
	flfs.n_buckets = 1024;
	flfs.buckets = calloc(flfs.n_buckets, sizeof(*flfs.buckets));
	if (!flfs.buckets || pthread_rwlock_init(&flfs.lock, NULL) != 0) {
		fprintf(stderr, "fusefloor: %s\n", strerror(ENOMEM));
		goto out;
	}
	rc = node_make("/", true, &flfs.root);
	if (rc == 0)
		rc = load_tree(pos[0], "/", &files);
	if (rc == 0 && opt.low)
		rc = dmap_build(flfs.root);
	if (rc) {
		fprintf(stderr, "fusefloor: loading %s: %s\n", pos[0],
			strerror(-rc));
		goto out;
	}
	fprintf(
	    stderr,
	    "fusefloor: %zu files, %zu nodes from %s; %s API, %s, "
	    "open %s, opendir %s, keep_cache %d, cache_readdir %d, "
	    "flush %s, readdirplus %s%s\n",
	    files, flfs.n_nodes, pos[0], opt.low ? "low-level" : "high-level",
	    opt.single ? "one thread" : "multi-threaded",
	    opt.no_open ? "ENOSYS" : "answered",
	    opt.no_opendir ? "ENOSYS" : "answered", opt.keep_cache,
	    opt.cache_readdir,
	    opt.flush == FL_NOFLUSH  ? "noflush"
	    : opt.flush == FL_ENOSYS ? "ENOSYS"
				     : "answered",
	    opt.rdplus_auto ? "auto" : "always", opt.ro ? ", read-only" : "");
	/* The same libfuse arguments as dynamofs's: the program and an
	 * fsname (dynamofs -f gives no other option to fuse_new). */
	if (asprintf(&raw, "fsname=%s", pos[0]) < 0) {
		raw = NULL;
		fprintf(stderr, "fusefloor: %s\n", strerror(ENOMEM));
		goto out;
	}
	if (fuse_opt_add_arg(&args, argv[0]) ||
	    fuse_opt_add_opt_escaped(&fsname, raw) ||
	    fuse_opt_add_arg(&args, "-o") || fuse_opt_add_arg(&args, fsname) ||
	    (opt.ro && (fuse_opt_add_arg(&args, "-o") ||
			fuse_opt_add_arg(&args, "ro")))) {
		fprintf(stderr, "fusefloor: %s\n", strerror(ENOMEM));
		goto out;
	}
	rc = opt.low ? serve_low(&args, mnt) : serve_high(&args, mnt);
	print_counts();
	if (rc == 0)
		status = 0;
out:
	fuse_opt_free_args(&args);
	free_tree();
	pthread_rwlock_destroy(&flfs.lock);
	free(fsname);
	free(raw);
	free(mnt);
	return status;
}
