/* pagecache.c - per item path, which text the kernel's page cache was filled
 * from and which open handles could fill it with something else. */
#include "pagecache.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pathmap.h"

struct record {
	struct pathmap_node node;     /* node.path is path below */
	struct record *older, *newer; /* idle records only */
	uint64_t gen;  /* moves on whenever the pages' text changes */
	uint64_t hash; /* the text the pages came from, when known */
	size_t len;
	bool known;
	bool tainted;	/* a handle of another text was open since the drop */
	bool detached;	/* renamed away: out of the map, freed when idle */
	size_t readers; /* open, serving the text of gen */
	size_t others;	/* open, serving an older text or writing */
	/* Opens that told the kernel to drop the pages, before the kernel
	 * has: it drops them in the opener's task after our reply, so until
	 * that opener reads or closes, another opener could still see the
	 * old pages. */
	size_t dropping;
	char path[];
};

struct pagecache {
	pthread_mutex_t lock;
	struct pathmap map;
	struct record *oldest, *newest; /* idle: no handle open */
	size_t idle, max_idle;
	size_t wild; /* handles open on detached records */
	size_t lost; /* handles not counted: no memory for their record */
};

struct pagecache *pagecache_new(size_t max_paths)
{
	struct pagecache *pc = calloc(1, sizeof(*pc));

	if (!pc || pathmap_init(&pc->map, 256) != 0) {
		free(pc);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&pc->lock, NULL);
	pc->max_idle = max_paths ? max_paths : 1;
	return pc;
}

static bool is_idle(const struct record *r)
{
	return r->readers == 0 && r->others == 0;
}

static void idle_remove(struct pagecache *pc, struct record *r)
{
	if (r->older)
		r->older->newer = r->newer;
	else
		pc->oldest = r->newer;
	if (r->newer)
		r->newer->older = r->older;
	else
		pc->newest = r->older;
	r->older = r->newer = NULL;
	pc->idle--;
}

static void record_drop(struct pagecache *pc, struct record *r)
{
	idle_remove(pc, r);
	pathmap_remove(&pc->map, &r->node);
	free(r);
}

/* Makes r (now idle) the most recently used idle record, then keeps at
 * most max_idle of them. */
static void idle_push(struct pagecache *pc, struct record *r)
{
	r->newer = NULL;
	r->older = pc->newest;
	if (pc->newest)
		pc->newest->newer = r;
	else
		pc->oldest = r;
	pc->newest = r;
	pc->idle++;
	while (pc->idle > pc->max_idle)
		record_drop(pc, pc->oldest);
}

void pagecache_free(struct pagecache *pc)
{
	struct pathmap_node *n;

	if (!pc)
		return;
	/* Records with handles open are not in the idle list; detached
	 * ones belong to their handles, all released by now. */
	while ((n = pathmap_next(&pc->map, NULL))) {
		pathmap_remove(&pc->map, n);
		free(pathmap_entry(n, struct record, node));
	}
	pathmap_free(&pc->map);
	pthread_mutex_destroy(&pc->lock);
	free(pc);
}

static struct record *find(struct pagecache *pc, const char *path)
{
	size_t len = strlen(path);
	struct pathmap_node *n =
	    pathmap_find(&pc->map, path, len, pathmap_hash(path, len));

	return n ? pathmap_entry(n, struct record, node) : NULL;
}

/* path's record, made (unknown) when there is none, and taken out of the
 * idle list: a handle is about to be counted. NULL when out of memory. */
static struct record *take(struct pagecache *pc, const char *path)
{
	struct record *r = find(pc, path);
	size_t len;

	if (r) {
		if (is_idle(r))
			idle_remove(pc, r);
		return r;
	}
	len = strlen(path);
	r = calloc(1, sizeof(*r) + len + 1);
	if (!r)
		return NULL;
	memcpy(r->path, path, len + 1);
	r->node.path = r->path;
	r->node.len = len;
	r->node.hash = pathmap_hash(path, len);
	pathmap_insert(&pc->map, &r->node);
	return r;
}

bool pagecache_open(struct pagecache *pc, const char *path,
		    const struct cache_blob *text, struct pagecache_ticket *t)
{
	struct record *r;
	bool same, keep = false;

	memset(t, 0, sizeof(*t));
	pthread_mutex_lock(&pc->lock);
	r = take(pc, path);
	if (!r) {
		pc->lost++;
		t->lost = true;
		goto out;
	}
	same = r->known && r->hash == text->hash && r->len == text->len;
	keep = same && !r->tainted && r->others == 0 && r->dropping == 0 &&
	       pc->wild == 0 && pc->lost == 0;
	if (!keep) {
		/* This open drops the pages: from now on they hold text,
		 * unless a handle of anything else can still fill them. */
		if (!same) {
			r->others += r->readers;
			r->readers = 0;
			r->gen++;
			r->known = true;
			r->hash = text->hash;
			r->len = text->len;
		}
		r->tainted = r->others > 0 || pc->wild > 0 || pc->lost > 0;
		r->dropping++;
		t->dropping = 1;
	}
	r->readers++;
	t->rec = r;
	t->gen = r->gen;
out:
	pthread_mutex_unlock(&pc->lock);
	return keep;
}

void pagecache_open_writer(struct pagecache *pc, const char *path,
			   struct pagecache_ticket *t)
{
	struct record *r;

	memset(t, 0, sizeof(*t));
	t->writer = true;
	pthread_mutex_lock(&pc->lock);
	r = take(pc, path);
	if (!r) {
		pc->lost++;
		t->lost = true;
	} else {
		r->known = false;
		r->others++;
		t->rec = r;
		t->gen = r->gen;
	}
	pthread_mutex_unlock(&pc->lock);
}

/* The drop of an open no longer pending (under pc->lock). */
static void settle_locked(struct record *r, struct pagecache_ticket *t)
{
	if (__atomic_exchange_n(&t->dropping, 0, __ATOMIC_ACQ_REL) &&
	    r->dropping)
		r->dropping--;
}

void pagecache_settled(struct pagecache *pc, struct pagecache_ticket *t)
{
	if (!t->rec || !__atomic_load_n(&t->dropping, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&pc->lock);
	settle_locked(t->rec, t);
	pthread_mutex_unlock(&pc->lock);
}

void pagecache_release(struct pagecache *pc, struct pagecache_ticket *t)
{
	struct record *r = t->rec;

	if (!r && !t->lost)
		return;
	pthread_mutex_lock(&pc->lock);
	if (!r) {
		pc->lost--;
		goto out;
	}
	settle_locked(r, t);
	if (!t->writer && t->gen == r->gen && r->readers)
		r->readers--;
	else if (r->others)
		r->others--;
	if (r->detached) {
		pc->wild--;
		if (is_idle(r))
			free(r);
	} else if (is_idle(r)) {
		idle_push(pc, r);
	}
out:
	pthread_mutex_unlock(&pc->lock);
}

void pagecache_forget(struct pagecache *pc, const char *path)
{
	struct record *r;

	pthread_mutex_lock(&pc->lock);
	r = find(pc, path);
	if (r)
		r->known = false;
	pthread_mutex_unlock(&pc->lock);
}

/* Takes r out of the map: idle, it goes; with handles open it stays
 * theirs, and they count as wild until released. */
static void record_detach(struct pagecache *pc, struct record *r)
{
	if (is_idle(r)) {
		record_drop(pc, r);
		return;
	}
	pathmap_remove(&pc->map, &r->node);
	r->detached = true;
	pc->wild += r->readers + r->others;
}

void pagecache_rename(struct pagecache *pc, const char *from, const char *to)
{
	struct record *r;

	pthread_mutex_lock(&pc->lock);
	r = find(pc, from);
	if (r)
		record_detach(pc, r);
	r = find(pc, to);
	if (r)
		r->known = false;
	pthread_mutex_unlock(&pc->lock);
}

size_t pagecache_count(struct pagecache *pc)
{
	size_t n;

	pthread_mutex_lock(&pc->lock);
	n = pc->map.n;
	pthread_mutex_unlock(&pc->lock);
	return n;
}
