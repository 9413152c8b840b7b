/* fusefloor.c - the benchmark's FUSE floor: a copy of a directory tree held in
 * memory and served like dynamofs (same libfuse API, loop, INIT), no network.
 */
#define FUSE_USE_VERSION 35

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
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
	size_t index;	   /* in parent->kids */
	struct node *next; /* hash chain */
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
	return 0;
}

static int ff_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
	return 0;
}

static int ff_release(const char *path, struct fuse_file_info *fi)
{
	blob_unref((struct blob *)(uintptr_t)fi->fh);
	return 0;
}

static int ff_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct node *n;
	int rc;

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
	struct node *n;
	int rc;

	pthread_rwlock_wrlock(&flfs.lock);
	rc = lookup(path) ? -EEXIST : node_make(path, true, &n);
	pthread_rwlock_unlock(&flfs.lock);
	return rc;
}

static int ff_unlink(const char *path)
{
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
	return ff_exists(path);
}

static int ff_chown(const char *path, uid_t uid, gid_t gid,
		    struct fuse_file_info *fi)
{
	return ff_exists(path);
}

static int ff_utimens(const char *path, const struct timespec tv[2],
		      struct fuse_file_info *fi)
{
	return ff_exists(path);
}

static int ff_statfs(const char *path, struct statvfs *sv)
{
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

/* ---- main -----------------------------------------------------------------
 */

static void free_tree(void)
{
	if (flfs.root)
		node_remove(flfs.root);
	free(flfs.buckets);
}

int main(int argc, char *argv[])
{
	struct fuse_loop_config loop = {.clone_fd = 0, .max_idle_threads = 16};
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct fuse *fuse = NULL;
	char *fsname = NULL, *mnt = NULL, *raw = NULL;
	bool single = false, mounted = false, signals = false;
	size_t files = 0;
	int status = 1;
	int rc;

	if (argc == 4 && strcmp(argv[3], "-s") == 0)
		single = true;
	else if (argc != 3) {
		fprintf(stderr, "usage: %s SRC MNT [-s]\n", argv[0]);
		return 2;
	}
	mnt = realpath(argv[2], NULL);
	if (!mnt) {
		fprintf(stderr, "fusefloor: bad mount point %s: %s\n", argv[2],
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
		rc = load_tree(argv[1], "/", &files);
	if (rc) {
		fprintf(stderr, "fusefloor: loading %s: %s\n", argv[1],
			strerror(-rc));
		goto out;
	}
	fprintf(stderr, "fusefloor: %zu files, %zu nodes from %s\n", files,
		flfs.n_nodes, argv[1]);
	/* The same libfuse arguments as dynamofs's: the program and an
	 * fsname (dynamofs -f gives no other option to fuse_new). */
	if (asprintf(&raw, "fsname=%s", argv[1]) < 0) {
		raw = NULL;
		fprintf(stderr, "fusefloor: %s\n", strerror(ENOMEM));
		goto out;
	}
	if (fuse_opt_add_arg(&args, argv[0]) ||
	    fuse_opt_add_opt_escaped(&fsname, raw) ||
	    fuse_opt_add_arg(&args, "-o") || fuse_opt_add_arg(&args, fsname)) {
		fprintf(stderr, "fusefloor: %s\n", strerror(ENOMEM));
		goto out;
	}
	fuse = fuse_new(&args, &ff_ops, sizeof(ff_ops), &flfs);
	if (!fuse)
		goto out;
	if (fuse_set_signal_handlers(fuse_get_session(fuse)) != 0)
		goto out;
	signals = true;
	if (fuse_mount(fuse, mnt) != 0)
		goto out;
	mounted = true;
	if (fuseio_install(fuse_get_session(fuse)) != 0)
		fprintf(stderr, "fusefloor: lookups in one directory will be "
				"serialized\n");
	if (single)
		rc = fuse_loop(fuse);
	else
		rc = fuse_loop_mt(fuse, &loop);
	if (rc < 0) {
		fprintf(stderr, "fusefloor: serving %s stopped: %s\n", mnt,
			strerror(-rc));
		goto out;
	}
	status = 0;
out:
	if (signals)
		fuse_remove_signal_handlers(fuse_get_session(fuse));
	if (mounted)
		fuse_unmount(fuse);
	if (fuse)
		fuse_destroy(fuse);
	fuse_opt_free_args(&args);
	free_tree();
	pthread_rwlock_destroy(&flfs.lock);
	free(fsname);
	free(raw);
	free(mnt);
	return status;
}
