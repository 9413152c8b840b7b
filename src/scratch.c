/* scratch.c - in-memory scratch files: a path map (hash table plus a sorted
 * index for listings) under one mutex, refcounted nodes with their own lock. */
#include "scratch.h"
#include "pathmap.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The largest file, as the contract promises: -EFBIG past it. */
#define SCRATCH_MAX_FILE ((size_t)1 << 30)

/* Lock order: the store's lock may be held while a node's lock is taken,
 * never the reverse. The byte count is an atomic, so writers (which hold a
 * node's lock) never need the store's lock. */
struct scratch_store {
	pthread_mutex_t lock;
	struct pathmap map;    /* path -> entry */
	struct entry **sorted; /* the same entries, in byte order of path */
	size_t n_entries;
	size_t cap_sorted;
	size_t max_bytes;
	size_t bytes; /* atomic: data of every live node, unlinked ones too */
	size_t refs;  /* atomic: the owner plus one per live node */
};

struct entry {
	struct pathmap_node key;   /* the path (the entry's), in s->map */
	struct scratch_node *node; /* the map's reference */
};

struct scratch_node {
	/* Nodes outlive scratch_store_free while open, and they account
	 * their bytes to the store, so they keep it alive. */
	struct scratch_store *store;
	size_t refs;	      /* atomic */
	pthread_mutex_t lock; /* data, cap, origin; writes of len */
	char *data;
	size_t cap;
	/* Atomics, so attribute getters never take a lock and may run inside
	 * scratch_list's callback under the store's lock. */
	size_t len;
	mode_t mode;
	time_t mtime;
	char *origin;
};

/* Takes delta bytes from the store's budget, or returns false (nothing
 * taken) when that would pass the bound. */
static bool reserve(struct scratch_store *s, size_t delta)
{
	size_t cur = __atomic_load_n(&s->bytes, __ATOMIC_RELAXED);

	do {
		if (delta > s->max_bytes || cur > s->max_bytes - delta)
			return false;
	} while (!__atomic_compare_exchange_n(&s->bytes, &cur, cur + delta,
					      true, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	return true;
}

static void release(struct scratch_store *s, size_t delta)
{
	__atomic_sub_fetch(&s->bytes, delta, __ATOMIC_RELAXED);
}

static void store_unref(struct scratch_store *s)
{
	if (__atomic_sub_fetch(&s->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static void touch(struct scratch_node *n)
{
	__atomic_store_n(&n->mtime, time(NULL), __ATOMIC_RELAXED);
}

/* Only under n->lock, so len changes one writer at a time while the
 * getters read it without the lock. */
static void set_len(struct scratch_node *n, size_t len)
{
	__atomic_store_n(&n->len, len, __ATOMIC_RELAXED);
}

struct scratch_store *scratch_store_new(size_t max_bytes)
{
	struct scratch_store *s = calloc(1, sizeof(*s));

	if (!s)
		goto fail;
	if (pathmap_init(&s->map, 64) < 0)
		goto fail;
	if (pthread_mutex_init(&s->lock, NULL) != 0)
		goto fail;
	s->max_bytes = max_bytes;
	s->refs = 1;
	return s;
fail:
	if (s)
		pathmap_free(&s->map);
	free(s);
	errno = ENOMEM;
	return NULL;
}

static struct scratch_node *node_new(struct scratch_store *s, mode_t mode)
{
	struct scratch_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	if (pthread_mutex_init(&n->lock, NULL) != 0) {
		free(n);
		return NULL;
	}
	n->store = s;
	__atomic_add_fetch(&s->refs, 1, __ATOMIC_RELAXED);
	n->refs = 1;
	n->mode = mode;
	n->mtime = time(NULL);
	return n;
}

struct scratch_node *scratch_node_ref(struct scratch_node *n)
{
	__atomic_add_fetch(&n->refs, 1, __ATOMIC_RELAXED);
	return n;
}

void scratch_node_unref(struct scratch_node *n)
{
	if (!n || __atomic_sub_fetch(&n->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	/* The last reference: no one else can touch the node now. */
	release(n->store, n->len);
	store_unref(n->store);
	pthread_mutex_destroy(&n->lock);
	free(n->data);
	free(n->origin);
	free(n);
}

/* Compares e's path with the bytes a[0..alen) followed by b[0..blen), as
 * strcmp would compare it with their concatenation (unsigned bytes). */
static int cmp_path(const struct entry *e, const char *a, size_t alen,
		    const char *b, size_t blen)
{
	size_t n = e->key.len < alen ? e->key.len : alen;
	const char *rest;
	size_t rlen;
	int c;

	c = memcmp(e->key.path, a, n);
	if (c != 0)
		return c;
	if (e->key.len < alen)
		return -1;
	rest = e->key.path + alen;
	rlen = e->key.len - alen;
	n = rlen < blen ? rlen : blen;
	c = memcmp(rest, b, n);
	if (c != 0)
		return c;
	return rlen < blen ? -1 : rlen > blen ? 1 : 0;
}

/* The first index in the sorted index whose path is not below a + b.
 * Called with the lock held. */
static size_t lower_bound(const struct scratch_store *s, const char *a,
			  size_t alen, const char *b, size_t blen)
{
	size_t lo = 0, hi = s->n_entries;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (cmp_path(s->sorted[mid], a, alen, b, blen) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct entry *find(const struct scratch_store *s, const char *path,
			  size_t len, uint64_t h)
{
	struct pathmap_node *n = pathmap_find(&s->map, path, len, h);

	return n ? pathmap_entry(n, struct entry, key) : NULL;
}

/* Makes room for one more entry in the sorted index, so that linking an
 * entry afterwards cannot fail. Returns 0 or -ENOMEM. */
static int reserve_sorted(struct scratch_store *s)
{
	struct entry **grown;
	size_t cap;

	if (s->n_entries < s->cap_sorted)
		return 0;
	cap = s->cap_sorted ? s->cap_sorted * 2 : 64;
	grown = realloc(s->sorted, cap * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	s->sorted = grown;
	s->cap_sorted = cap;
	return 0;
}

/* Puts e into the hash table and the sorted index; reserve_sorted must
 * have made room. Called with the lock held. */
static void link_entry(struct scratch_store *s, struct entry *e)
{
	size_t i = lower_bound(s, e->key.path, e->key.len, "", 0);

	pathmap_insert(&s->map, &e->key);
	memmove(&s->sorted[i + 1], &s->sorted[i],
		(s->n_entries - i) * sizeof(*s->sorted));
	s->sorted[i] = e;
	s->n_entries++;
}

/* Takes e out of the hash table and the sorted index (the entry itself and
 * its node reference stay with the caller). Called with the lock held. */
static void unlink_entry(struct scratch_store *s, struct entry *e)
{
	size_t i = lower_bound(s, e->key.path, e->key.len, "", 0);

	pathmap_remove(&s->map, &e->key);
	memmove(&s->sorted[i], &s->sorted[i + 1],
		(s->n_entries - i - 1) * sizeof(*s->sorted));
	s->n_entries--;
}

static void free_entry(struct entry *e)
{
	if (!e)
		return;
	scratch_node_unref(e->node);
	free(e->key.path);
	free(e);
}

void scratch_store_free(struct scratch_store *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->n_entries; i++)
		free_entry(s->sorted[i]);
	free(s->sorted);
	pathmap_free(&s->map);
	s->sorted = NULL;
	s->n_entries = 0;
	pthread_mutex_unlock(&s->lock);
	/* Open nodes still hold the store; the last of them frees it. */
	store_unref(s);
}

int scratch_lookup(struct scratch_store *s, const char *path,
		   struct scratch_node **node)
{
	size_t len = strlen(path);
	uint64_t h = pathmap_hash(path, len);
	struct entry *e;
	int rc = -ENOENT;

	*node = NULL;
	pthread_mutex_lock(&s->lock);
	e = find(s, path, len, h);
	if (e) {
		*node = scratch_node_ref(e->node);
		rc = 0;
	}
	pthread_mutex_unlock(&s->lock);
	return rc;
}

int scratch_create(struct scratch_store *s, const char *path, mode_t mode,
		   struct scratch_node **node)
{
	size_t len = strlen(path);
	struct entry *e = calloc(1, sizeof(*e));
	int rc = -ENOMEM;

	if (node)
		*node = NULL;
	if (!e)
		return -ENOMEM;
	/* Allocate before taking the lock, so the lock is held briefly. */
	e->key.path = strdup(path);
	e->key.len = len;
	e->key.hash = pathmap_hash(path, len);
	e->node = node_new(s, mode);
	if (!e->key.path || !e->node) {
		free_entry(e);
		return -ENOMEM;
	}
	pthread_mutex_lock(&s->lock);
	if (find(s, path, len, e->key.hash)) {
		rc = -EEXIST;
		goto out;
	}
	rc = reserve_sorted(s);
	if (rc < 0)
		goto out;
	link_entry(s, e);
	if (node)
		*node = scratch_node_ref(e->node);
	e = NULL; /* the map has it */
out:
	pthread_mutex_unlock(&s->lock);
	free_entry(e);
	return rc;
}

int scratch_unlink(struct scratch_store *s, const char *path)
{
	size_t len = strlen(path);
	struct entry *e;

	pthread_mutex_lock(&s->lock);
	e = find(s, path, len, pathmap_hash(path, len));
	if (e)
		unlink_entry(s, e);
	pthread_mutex_unlock(&s->lock);
	if (!e)
		return -ENOENT;
	free_entry(e);
	return 0;
}

int scratch_rename(struct scratch_store *s, const char *from, const char *to,
		   bool noreplace)
{
	size_t from_len = strlen(from), to_len = strlen(to);
	struct entry *src, *dst, *gone = NULL;
	char *copy = strdup(to);
	char *old_path = NULL;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	src = find(s, from, from_len, pathmap_hash(from, from_len));
	dst = find(s, to, to_len, pathmap_hash(to, to_len));
	if (!src) {
		rc = -ENOENT;
		goto out;
	}
	if (dst && noreplace) {
		rc = -EEXIST;
		goto out;
	}
	if (dst == src)
		goto out; /* rename(2) of a file onto itself does nothing */
	if (dst) {
		/* The target's entry takes the source's node; the replaced
		 * node lives on for its open handles. */
		struct scratch_node *replaced = dst->node;
		dst->node = src->node;
		src->node = replaced;
		unlink_entry(s, src);
		gone = src;
		goto out;
	}
	if (!copy) {
		rc = -ENOMEM;
		goto out;
	}
	/* The count stays the same, so relinking needs no memory. */
	unlink_entry(s, src);
	old_path = src->key.path;
	src->key.path = copy;
	src->key.len = to_len;
	src->key.hash = pathmap_hash(to, to_len);
	copy = NULL;
	link_entry(s, src);
out:
	pthread_mutex_unlock(&s->lock);
	free_entry(gone);
	free(old_path);
	free(copy);
	return rc;
}

/* dir's length without trailing slashes, so "/" lists the root ("" + "/"). */
static size_t dir_len(const char *dir)
{
	size_t len = strlen(dir);

	while (len > 0 && dir[len - 1] == '/')
		len--;
	return len;
}

static bool is_below(const struct entry *e, const char *dir, size_t dlen)
{
	return e->key.len > dlen + 1 && memcmp(e->key.path, dir, dlen) == 0 &&
	       e->key.path[dlen] == '/';
}

void scratch_list(struct scratch_store *s, const char *dir,
		  void (*fn)(const char *name, const struct scratch_node *node,
			     void *arg),
		  void *arg)
{
	size_t dlen = dir_len(dir);
	size_t i;

	pthread_mutex_lock(&s->lock);
	/* Everything below dir is one run of the sorted index; within it the
	 * direct children come in byte order of their names. */
	i = lower_bound(s, dir, dlen, "/", 1);
	while (i < s->n_entries && is_below(s->sorted[i], dir, dlen)) {
		const struct entry *e = s->sorted[i];
		const char *name = e->key.path + dlen + 1;
		const char *slash = strchr(name, '/');
		if (slash) {
			/* Skip the whole subdirectory: its paths all sort
			 * before the same prefix ending in '0' ('/' + 1). */
			i = lower_bound(s, e->key.path,
					(size_t)(slash - e->key.path), "0", 1);
			continue;
		}
		fn(name, e->node, arg);
		i++;
	}
	pthread_mutex_unlock(&s->lock);
}

bool scratch_dir_has_files(struct scratch_store *s, const char *dir)
{
	size_t dlen = dir_len(dir);
	bool has;
	size_t i;

	pthread_mutex_lock(&s->lock);
	i = lower_bound(s, dir, dlen, "/", 1);
	has = i < s->n_entries && is_below(s->sorted[i], dir, dlen);
	pthread_mutex_unlock(&s->lock);
	return has;
}

void scratch_remove_tree(struct scratch_store *s, const char *dir)
{
	size_t dlen = dir_len(dir);
	size_t lo, hi;

	pthread_mutex_lock(&s->lock);
	lo = lower_bound(s, dir, dlen, "/", 1);
	hi = lo;
	while (hi < s->n_entries && is_below(s->sorted[hi], dir, dlen)) {
		struct entry *e = s->sorted[hi];
		pathmap_remove(&s->map, &e->key);
		/* Dropping the map's reference never takes the store's
		 * lock, so it is safe here. */
		free_entry(e);
		hi++;
	}
	memmove(&s->sorted[lo], &s->sorted[hi],
		(s->n_entries - hi) * sizeof(*s->sorted));
	s->n_entries -= hi - lo;
	pthread_mutex_unlock(&s->lock);
}

ssize_t scratch_read(struct scratch_node *n, char *buf, size_t size, off_t off)
{
	size_t got = 0;

	if (off < 0)
		return -EINVAL;
	pthread_mutex_lock(&n->lock);
	if ((uint64_t)off < n->len) {
		got = n->len - (size_t)off;
		if (got > size)
			got = size;
		memcpy(buf, n->data + off, got);
	}
	pthread_mutex_unlock(&n->lock);
	return (ssize_t)got;
}

/* Makes the buffer hold at least need bytes, growing by half again so a
 * run of appends copies the data a few times only. Under n->lock. */
static int ensure_cap(struct scratch_node *n, size_t need)
{
	size_t cap = n->cap + n->cap / 2;
	char *grown;

	if (need <= n->cap)
		return 0;
	if (cap < need)
		cap = need;
	if (cap > SCRATCH_MAX_FILE)
		cap = SCRATCH_MAX_FILE;
	grown = realloc(n->data, cap);
	if (!grown)
		return -ENOMEM;
	n->data = grown;
	n->cap = cap;
	return 0;
}

ssize_t scratch_write(struct scratch_store *s, struct scratch_node *n,
		      const char *buf, size_t size, off_t off)
{
	size_t end, grow = 0;
	ssize_t rc;

	/* n->store is s, and unlike s it stays valid after
	 * scratch_store_free, so the accounting goes through it. */
	(void)s;
	if (off < 0)
		return -EINVAL;
	if ((uint64_t)off > SCRATCH_MAX_FILE ||
	    size > SCRATCH_MAX_FILE - (size_t)off)
		return -EFBIG;
	/* As write(2) on Linux: zero bytes change nothing, not even mtime. */
	if (size == 0)
		return 0;
	end = (size_t)off + size;
	pthread_mutex_lock(&n->lock);
	if (end > n->len) {
		grow = end - n->len;
		if (!reserve(n->store, grow)) {
			grow = 0;
			rc = -ENOSPC;
			goto out;
		}
		rc = ensure_cap(n, end);
		if (rc < 0)
			goto out;
		if ((size_t)off > n->len)
			memset(n->data + n->len, 0, (size_t)off - n->len);
		set_len(n, end);
		grow = 0; /* kept */
	}
	memcpy(n->data + off, buf, size);
	touch(n);
	rc = (ssize_t)size;
out:
	if (grow)
		release(n->store, grow);
	pthread_mutex_unlock(&n->lock);
	return rc;
}

int scratch_truncate(struct scratch_store *s, struct scratch_node *n,
		     off_t size)
{
	size_t len, grow = 0;
	int rc = 0;

	(void)s; /* as in scratch_write */
	if (size < 0)
		return -EINVAL;
	if ((uint64_t)size > SCRATCH_MAX_FILE)
		return -EFBIG;
	len = (size_t)size;
	pthread_mutex_lock(&n->lock);
	if (len > n->len) {
		grow = len - n->len;
		if (!reserve(n->store, grow)) {
			grow = 0;
			rc = -ENOSPC;
			goto out;
		}
		/* Exactly: a file grown by truncate is seldom appended to. */
		if (len > n->cap) {
			char *grown = realloc(n->data, len);
			if (!grown) {
				rc = -ENOMEM;
				goto out;
			}
			n->data = grown;
			n->cap = len;
		}
		memset(n->data + n->len, 0, len - n->len);
		grow = 0; /* kept */
	} else if (len < n->len) {
		release(n->store, n->len - len);
		/* Give memory back once most of the buffer is unused; a
		 * failed shrink just keeps the larger buffer. */
		if (len == 0) {
			free(n->data);
			n->data = NULL;
			n->cap = 0;
		} else if (len < n->cap / 2) {
			char *shrunk = realloc(n->data, len);
			if (shrunk) {
				n->data = shrunk;
				n->cap = len;
			}
		}
	}
	set_len(n, len);
	touch(n);
out:
	if (grow)
		release(n->store, grow);
	pthread_mutex_unlock(&n->lock);
	return rc;
}

int scratch_set(struct scratch_store *s, struct scratch_node *n,
		const char *data, size_t len)
{
	char *copy = NULL;
	char *old = NULL;
	int rc = 0;

	(void)s; /* as in scratch_write */
	if (len > SCRATCH_MAX_FILE)
		return -EFBIG;
	/* A copy the budget cannot take is refused before it is made (the
	 * reservation below, under the lock, is the one that counts). */
	if (len > __atomic_load_n(&n->len, __ATOMIC_RELAXED) &&
	    len - __atomic_load_n(&n->len, __ATOMIC_RELAXED) >
		n->store->max_bytes -
		    __atomic_load_n(&n->store->bytes, __ATOMIC_RELAXED))
		return -ENOSPC;
	/* Copy before taking the node's lock, so readers wait less. */
	if (len) {
		copy = malloc(len);
		if (!copy)
			return -ENOMEM;
		memcpy(copy, data, len);
	}
	pthread_mutex_lock(&n->lock);
	if (len > n->len) {
		if (!reserve(n->store, len - n->len)) {
			rc = -ENOSPC;
			goto out;
		}
	} else {
		release(n->store, n->len - len);
	}
	old = n->data;
	n->data = copy;
	n->cap = len;
	copy = NULL;
	set_len(n, len);
	touch(n);
out:
	pthread_mutex_unlock(&n->lock);
	free(old);
	free(copy);
	return rc;
}

int scratch_copy(struct scratch_node *n, char **data, size_t *len)
{
	char *copy;
	int rc = 0;

	pthread_mutex_lock(&n->lock);
	copy = malloc(n->len + 1);
	if (!copy) {
		rc = -ENOMEM;
		goto out;
	}
	if (n->len)
		memcpy(copy, n->data, n->len);
	copy[n->len] = '\0';
	*data = copy;
	*len = n->len;
out:
	pthread_mutex_unlock(&n->lock);
	return rc;
}

off_t scratch_size(const struct scratch_node *n)
{
	return (off_t)__atomic_load_n(&n->len, __ATOMIC_RELAXED);
}

mode_t scratch_mode(const struct scratch_node *n)
{
	return __atomic_load_n(&n->mode, __ATOMIC_RELAXED);
}

time_t scratch_mtime(const struct scratch_node *n)
{
	return __atomic_load_n(&n->mtime, __ATOMIC_RELAXED);
}

void scratch_set_mode(struct scratch_node *n, mode_t mode)
{
	__atomic_store_n(&n->mode, mode, __ATOMIC_RELAXED);
}

void scratch_set_mtime(struct scratch_node *n, time_t mtime)
{
	__atomic_store_n(&n->mtime, mtime, __ATOMIC_RELAXED);
}

int scratch_set_origin(struct scratch_node *n, const char *item_path)
{
	char *copy = NULL;
	char *old;

	if (item_path) {
		copy = strdup(item_path);
		if (!copy)
			return -ENOMEM;
	}
	pthread_mutex_lock(&n->lock);
	old = n->origin;
	n->origin = copy;
	pthread_mutex_unlock(&n->lock);
	free(old);
	return 0;
}

char *scratch_origin(struct scratch_node *n)
{
	char *copy = NULL;

	pthread_mutex_lock(&n->lock);
	if (n->origin)
		copy = strdup(n->origin);
	pthread_mutex_unlock(&n->lock);
	return copy;
}

size_t scratch_bytes(struct scratch_store *s)
{
	return __atomic_load_n(&s->bytes, __ATOMIC_RELAXED);
}
