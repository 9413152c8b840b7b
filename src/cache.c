/* cache.c - rendered items and directory listings kept for cache_ttl in a
 * byte-bounded hash table with one LRU list; modification times outlive text.
 */
#include "cache.h"
#include "monotime.h"
#include "pathmap.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

struct entry {
	struct pathmap_node key; /* the path (the entry's), in c->map */
	struct entry *lru_prev;	 /* towards the most recently used */
	struct entry *lru_next;
	/* item */
	struct cache_blob *text;
	bool negative;
	double item_expires;
	/* what the modification time belongs to */
	bool has_meta;
	uint64_t content_hash;
	time_t mtime;
	/* directory */
	struct cache_listing *listing;
	size_t listing_bytes; /* what was counted for it */
	double listing_expires;
};

/* Names of a listing, packed one after another (a malloc'd copy of each
 * 8-character name cost a 32-byte block, 3.5x the name). */
struct cache_name_block {
	struct cache_name_block *next;
	size_t used;
	size_t cap;
	char data[];
};

#define NAME_BLOCK_MIN 256
#define NAME_BLOCK_MAX (64 * 1024)

struct cache {
	pthread_mutex_t lock;
	struct pathmap map;	/* path -> entry */
	struct entry *lru_head; /* most recently used */
	struct entry *lru_tail;
	size_t bytes; /* everything held */
	size_t
	    meta_bytes; /* the entries themselves, without text or listings */
	size_t max_bytes;
	double ttl;
};

size_t cache_heap_size(size_t n)
{
	/* glibc: the request plus one size_t of header, rounded up to 16,
	 * 32 at least. (Blocks big enough to be mmap'd are page-rounded;
	 * this is within 4 KiB of that.) */
	n = (n + sizeof(size_t) + 15) & ~(size_t)15;
	return n < 32 ? 32 : n;
}

static size_t blob_bytes(size_t len)
{
	return cache_heap_size(sizeof(struct cache_blob) + len + 1);
}

#define ROTL64(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                               \
	do {                                                                   \
		v0 += v1;                                                      \
		v1 = ROTL64(v1, 13);                                           \
		v1 ^= v0;                                                      \
		v0 = ROTL64(v0, 32);                                           \
		v2 += v3;                                                      \
		v3 = ROTL64(v3, 16);                                           \
		v3 ^= v2;                                                      \
		v0 += v3;                                                      \
		v3 = ROTL64(v3, 21);                                           \
		v3 ^= v0;                                                      \
		v2 += v1;                                                      \
		v1 = ROTL64(v1, 17);                                           \
		v1 ^= v2;                                                      \
		v2 = ROTL64(v2, 32);                                           \
	} while (0)

uint64_t cache_siphash(const uint64_t key[2], const void *data, size_t len)
{
	const uint8_t *in = data;
	const uint8_t *end = in + len - len % 8;
	uint64_t v0 = 0x736f6d6570736575ULL ^ key[0];
	uint64_t v1 = 0x646f72616e646f6dULL ^ key[1];
	uint64_t v2 = 0x6c7967656e657261ULL ^ key[0];
	uint64_t v3 = 0x7465646279746573ULL ^ key[1];
	uint64_t b = (uint64_t)len << 56, m;

	for (; in != end; in += 8) {
		m = 0;
		for (int i = 7; i >= 0; i--)
			m = m << 8 | in[i];
		v3 ^= m;
		SIPROUND;
		SIPROUND;
		v0 ^= m;
	}
	for (size_t i = len % 8; i > 0; i--)
		b |= (uint64_t)in[i - 1] << (8 * (i - 1));
	v3 ^= b;
	SIPROUND;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

static uint64_t content_key[2];
static pthread_once_t content_key_once = PTHREAD_ONCE_INIT;

static void content_key_init(void)
{
	/* Without randomness the key is still secret enough to outlast a
	 * guess: the time and the process. */
	if (getrandom(content_key, sizeof(content_key), 0) !=
	    (ssize_t)sizeof(content_key)) {
		content_key[0] =
		    (uint64_t)monotime_us() * 0x9e3779b97f4a7c15ULL;
		content_key[1] = (uint64_t)getpid() ^ (uint64_t)time(NULL);
	}
}

uint64_t cache_content_hash(const void *data, size_t len)
{
	pthread_once(&content_key_once, content_key_init);
	return cache_siphash(content_key, data, len);
}

struct cache_blob *cache_blob_new(const void *data, size_t len)
{
	struct cache_blob *b = malloc(sizeof(*b) + len + 1);

	if (!b) {
		errno = ENOMEM;
		return NULL;
	}
	b->refs = 1;
	b->len = len;
	if (len)
		memcpy(b->data, data, len);
	b->data[len] = '\0';
	b->hash = cache_content_hash(b->data, len);
	return b;
}

struct cache_blob *cache_blob_ref(struct cache_blob *blob)
{
	__atomic_add_fetch(&blob->refs, 1, __ATOMIC_RELAXED);
	return blob;
}

void cache_blob_unref(struct cache_blob *blob)
{
	if (blob && __atomic_sub_fetch(&blob->refs, 1, __ATOMIC_ACQ_REL) == 0)
		free(blob);
}

struct cache_listing *cache_listing_new(void)
{
	struct cache_listing *l = calloc(1, sizeof(*l));

	if (!l) {
		errno = ENOMEM;
		return NULL;
	}
	l->refs = 1;
	l->bytes = cache_heap_size(sizeof(*l));
	return l;
}

/* A copy of name (len bytes and a NUL) in l's name blocks, or NULL. */
static char *listing_name_copy(struct cache_listing *l, const char *name,
			       size_t len)
{
	struct cache_name_block *b = l->names;
	char *copy;

	if (!b || b->cap - b->used < len + 1) {
		size_t cap = b ? b->cap * 2 : NAME_BLOCK_MIN;
		if (cap > NAME_BLOCK_MAX)
			cap = NAME_BLOCK_MAX;
		if (cap < len + 1)
			cap = len + 1;
		b = malloc(sizeof(*b) + cap);
		if (!b)
			return NULL;
		b->next = l->names;
		b->used = 0;
		b->cap = cap;
		l->names = b;
		l->bytes += cache_heap_size(sizeof(*b) + cap);
	}
	copy = b->data + b->used;
	memcpy(copy, name, len + 1);
	b->used += len + 1;
	return copy;
}

int cache_listing_add(struct cache_listing *l, const char *name, bool is_dir)
{
	struct cache_dirent *grown;
	char *copy;

	/* Grow by doubling: 16 entries, then 32, 64, ...; full whenever
	 * the count is a power of two of at least 16. */
	if (l->n == 0 || (l->n >= 16 && (l->n & (l->n - 1)) == 0)) {
		size_t cap = l->n ? l->n * 2 : 16;
		grown = realloc(l->entries, cap * sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		l->entries = grown;
		if (l->n)
			l->bytes -= cache_heap_size(l->n * sizeof(*grown));
		l->bytes += cache_heap_size(cap * sizeof(*grown));
	}
	copy = listing_name_copy(l, name, strlen(name));
	if (!copy)
		return -ENOMEM;
	l->entries[l->n].name = copy;
	l->entries[l->n].is_dir = is_dir;
	l->n++;
	return 0;
}

struct cache_listing *cache_listing_ref(struct cache_listing *l)
{
	__atomic_add_fetch(&l->refs, 1, __ATOMIC_RELAXED);
	return l;
}

void cache_listing_unref(struct cache_listing *l)
{
	struct cache_name_block *b, *next;

	if (!l || __atomic_sub_fetch(&l->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	for (b = l->names; b; b = next) {
		next = b->next;
		free(b);
	}
	free(l->entries);
	free(l);
}

struct cache *cache_new(size_t max_bytes, double ttl)
{
	struct cache *c = calloc(1, sizeof(*c));

	if (!c)
		goto fail;
	if (pathmap_init(&c->map, 1024) < 0)
		goto fail;
	pthread_mutex_init(&c->lock, NULL);
	c->bytes = cache_heap_size(sizeof(*c)) +
		   cache_heap_size(pathmap_bucket_bytes(&c->map));
	c->max_bytes = max_bytes;
	c->ttl = ttl;
	return c;
fail:
	if (c)
		pathmap_free(&c->map);
	free(c);
	errno = ENOMEM;
	return NULL;
}

static size_t entry_overhead(const struct entry *e)
{
	return cache_heap_size(sizeof(*e)) + cache_heap_size(e->key.len + 1);
}

static void drop_payload(struct cache *c, struct entry *e)
{
	if (e->text) {
		c->bytes -= blob_bytes(e->text->len);
		cache_blob_unref(e->text);
		e->text = NULL;
	}
	if (e->listing) {
		c->bytes -= e->listing_bytes;
		cache_listing_unref(e->listing);
		e->listing = NULL;
	}
	e->negative = false;
}

static void lru_unlink(struct cache *c, struct entry *e)
{
	if (e->lru_prev)
		e->lru_prev->lru_next = e->lru_next;
	else
		c->lru_head = e->lru_next;
	if (e->lru_next)
		e->lru_next->lru_prev = e->lru_prev;
	else
		c->lru_tail = e->lru_prev;
	e->lru_prev = e->lru_next = NULL;
}

static void lru_push_front(struct cache *c, struct entry *e)
{
	e->lru_prev = NULL;
	e->lru_next = c->lru_head;
	if (c->lru_head)
		c->lru_head->lru_prev = e;
	c->lru_head = e;
	if (!c->lru_tail)
		c->lru_tail = e;
}

static void remove_entry(struct cache *c, struct entry *e)
{
	pathmap_remove(&c->map, &e->key);
	lru_unlink(c, e);
	drop_payload(c, e);
	c->bytes -= entry_overhead(e);
	c->meta_bytes -= entry_overhead(e);
	free(e->key.path);
	free(e);
}

/* Entries (which remember modification times) may take a quarter of the
 * bound; past that the least recently used go whole. Then text and listings
 * go, least recently used first, until everything fits. */
static void shrink(struct cache *c)
{
	struct entry *e, *prev;

	while (c->lru_tail && c->lru_tail->lru_prev &&
	       c->meta_bytes > c->max_bytes / 4)
		remove_entry(c, c->lru_tail);
	for (e = c->lru_tail; e && c->bytes > c->max_bytes; e = prev) {
		prev = e->lru_prev;
		drop_payload(c, e);
	}
}

static struct entry *find(struct cache *c, const char *path, size_t len,
			  uint64_t h)
{
	struct pathmap_node *n = pathmap_find(&c->map, path, len, h);

	return n ? pathmap_entry(n, struct entry, key) : NULL;
}

/* Finds or makes path's entry and marks it most recently used. NULL when
 * out of memory. Called with the lock held. */
static struct entry *touch(struct cache *c, const char *path)
{
	size_t len = strlen(path);
	uint64_t h = pathmap_hash(path, len);
	struct entry *e = find(c, path, len, h);
	size_t buckets;

	if (e) {
		lru_unlink(c, e);
		lru_push_front(c, e);
		return e;
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->key.path = strdup(path);
	if (!e->key.path) {
		free(e);
		return NULL;
	}
	e->key.len = len;
	e->key.hash = h;
	/* The insert may double the bucket array, which the cache counts. */
	buckets = pathmap_bucket_bytes(&c->map);
	pathmap_insert(&c->map, &e->key);
	c->bytes += cache_heap_size(pathmap_bucket_bytes(&c->map)) -
		    cache_heap_size(buckets);
	lru_push_front(c, e);
	c->bytes += entry_overhead(e);
	c->meta_bytes += entry_overhead(e);
	return e;
}

void cache_free(struct cache *c)
{
	if (!c)
		return;
	while (c->lru_head)
		remove_entry(c, c->lru_head);
	pthread_mutex_destroy(&c->lock);
	pathmap_free(&c->map);
	free(c);
}

static int item_get(struct cache *c, const char *path, struct cache_item *out,
		    bool stale)
{
	size_t len = strlen(path);
	struct entry *e;
	int rc = -ENOENT;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&c->lock);
	e = find(c, path, len, pathmap_hash(path, len));
	if (e && (stale ? e->text != NULL
			: (e->text || e->negative) &&
			      e->item_expires > monotime_s())) {
		lru_unlink(c, e);
		lru_push_front(c, e);
		out->negative = e->negative;
		out->text = e->text ? cache_blob_ref(e->text) : NULL;
		out->mtime = e->mtime;
		rc = 0;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

int cache_item_get(struct cache *c, const char *path, struct cache_item *out)
{
	return item_get(c, path, out, false);
}

int cache_item_get_stale(struct cache *c, const char *path,
			 struct cache_item *out)
{
	return item_get(c, path, out, true);
}

time_t cache_item_put_blob_changed(struct cache *c, const char *path,
				   struct cache_blob *blob, bool *changed)
{
	/* Content, not a path: FNV-1a of it. Two contents that collide
	 * keep the old mtime, which costs a tool a changed file's mtime,
	 * not the content. */
	uint64_t h = blob->hash;
	struct entry *e;
	time_t mtime = monotime_wall_s();

	if (changed)
		*changed = false;
	pthread_mutex_lock(&c->lock);
	e = touch(c, path);
	if (!e)
		goto out;
	if (e->has_meta && e->content_hash == h)
		mtime = e->mtime;
	else if (e->has_meta && changed)
		*changed = true;
	e->has_meta = true;
	e->content_hash = h;
	e->mtime = mtime;
	if (e->text) {
		c->bytes -= blob_bytes(e->text->len);
		cache_blob_unref(e->text);
		e->text = NULL;
	}
	e->negative = false;
	if (c->ttl > 0) {
		e->text = cache_blob_ref(blob);
		c->bytes += blob_bytes(blob->len);
		e->item_expires = monotime_s() + c->ttl;
	}
	shrink(c);
out:
	pthread_mutex_unlock(&c->lock);
	return mtime;
}

time_t cache_item_put_blob(struct cache *c, const char *path,
			   struct cache_blob *blob)
{
	return cache_item_put_blob_changed(c, path, blob, NULL);
}

time_t cache_item_put(struct cache *c, const char *path, const char *text,
		      size_t len)
{
	struct cache_blob *blob = cache_blob_new(text, len);
	time_t mtime;

	if (!blob) {
		/* As before: no text kept, the time still reported. */
		return monotime_wall_s();
	}
	mtime = cache_item_put_blob(c, path, blob);
	cache_blob_unref(blob);
	return mtime;
}

void cache_item_put_negative(struct cache *c, const char *path)
{
	struct entry *e;

	if (c->ttl <= 0)
		return;
	pthread_mutex_lock(&c->lock);
	e = touch(c, path);
	if (e) {
		if (e->text) {
			c->bytes -= blob_bytes(e->text->len);
			cache_blob_unref(e->text);
			e->text = NULL;
		}
		e->negative = true;
		e->item_expires = monotime_s() + c->ttl;
		shrink(c);
	}
	pthread_mutex_unlock(&c->lock);
}

time_t cache_item_mtime(struct cache *c, const char *path)
{
	size_t len = strlen(path);
	struct entry *e;
	time_t mtime = 0;

	pthread_mutex_lock(&c->lock);
	e = find(c, path, len, pathmap_hash(path, len));
	if (e && e->has_meta)
		mtime = e->mtime;
	pthread_mutex_unlock(&c->lock);
	return mtime;
}

void cache_dir_put(struct cache *c, const char *path, struct cache_listing *l)
{
	struct entry *e;

	if (c->ttl <= 0 || l->bytes > c->max_bytes / 4)
		return;
	pthread_mutex_lock(&c->lock);
	e = touch(c, path);
	if (e) {
		if (e->listing) {
			c->bytes -= e->listing_bytes;
			cache_listing_unref(e->listing);
		}
		e->listing = cache_listing_ref(l);
		e->listing_bytes = l->bytes;
		c->bytes += l->bytes;
		e->listing_expires = monotime_s() + c->ttl;
		shrink(c);
	}
	pthread_mutex_unlock(&c->lock);
}

struct cache_listing *cache_dir_get(struct cache *c, const char *path)
{
	size_t len = strlen(path);
	struct cache_listing *l = NULL;
	struct entry *e;

	pthread_mutex_lock(&c->lock);
	e = find(c, path, len, pathmap_hash(path, len));
	if (e && e->listing && e->listing_expires > monotime_s()) {
		lru_unlink(c, e);
		lru_push_front(c, e);
		l = cache_listing_ref(e->listing);
	}
	pthread_mutex_unlock(&c->lock);
	return l;
}

void cache_forget(struct cache *c, const char *path)
{
	size_t len = strlen(path);
	struct entry *e;

	pthread_mutex_lock(&c->lock);
	e = find(c, path, len, pathmap_hash(path, len));
	if (e)
		drop_payload(c, e);
	pthread_mutex_unlock(&c->lock);
}

void cache_forget_tree(struct cache *c, const char *prefix)
{
	size_t plen = strlen(prefix);

	pthread_mutex_lock(&c->lock);
	/* Dropping payloads leaves the map as it is, so the walk holds. */
	for (struct pathmap_node *n = pathmap_next(&c->map, NULL); n;
	     n = pathmap_next(&c->map, n)) {
		if (n->len >= plen && memcmp(n->path, prefix, plen) == 0 &&
		    (n->len == plen || n->path[plen] == '/'))
			drop_payload(c, pathmap_entry(n, struct entry, key));
	}
	pthread_mutex_unlock(&c->lock);
}

size_t cache_bytes(struct cache *c)
{
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = c->bytes;
	pthread_mutex_unlock(&c->lock);
	return n;
}
