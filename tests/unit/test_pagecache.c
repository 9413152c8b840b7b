/* test_pagecache.c - unit tests of when an open may keep the kernel's pages:
 * same text, other texts still open, writers, forget, renames, eviction. */
#include <stdlib.h>

#include "pagecache.h"
#include "tap.h"

/* One open handle in a scenario. */
struct h {
	struct pagecache_ticket t;
};

static bool open_r(struct pagecache *pc, const char *path,
		   const struct cache_blob *text, struct h *h)
{
	return pagecache_open(pc, path, text, &h->t);
}

/* An open whose reader then reads (so the kernel has done its drop). */
static bool open_read(struct pagecache *pc, const char *path,
		      const struct cache_blob *text, struct h *h)
{
	bool keep = pagecache_open(pc, path, text, &h->t);

	pagecache_settled(pc, &h->t);
	return keep;
}

static void test_same_text(void)
{
	struct pagecache *pc = pagecache_new(16);
	struct cache_blob *v1 = cache_blob_new("{\"a\": 1}\n", 9);
	struct cache_blob *v1b = cache_blob_new("{\"a\": 1}\n", 9);
	struct cache_blob *v2 = cache_blob_new("{\"a\": 2}\n", 9);
	struct h a, b, c, d;

	/* The first open drops whatever the kernel held. */
	CHECK(!open_r(pc, "/t/x.json", v1, &a));
	pagecache_release(pc, &a.t);
	/* The same bytes again, even in another blob: keep. */
	CHECK(open_r(pc, "/t/x.json", v1, &b));
	CHECK(open_r(pc, "/t/x.json", v1b, &c));
	pagecache_release(pc, &b.t);
	pagecache_release(pc, &c.t);
	/* Another text: drop; then it is the one kept. */
	CHECK(!open_r(pc, "/t/x.json", v2, &d));
	pagecache_release(pc, &d.t);
	CHECK(open_r(pc, "/t/x.json", v2, &d));
	pagecache_release(pc, &d.t);
	/* Paths are apart. */
	CHECK(!open_r(pc, "/t/y.json", v2, &d));
	pagecache_release(pc, &d.t);
	CHECK_INT(pagecache_count(pc), 2);
	cache_blob_unref(v1);
	cache_blob_unref(v1b);
	cache_blob_unref(v2);
	pagecache_free(pc);
}

/* A handle of an older text can still fill the pages (a lazy read after
 * the newer open dropped them): no open keeps them until it is gone and
 * one more open has dropped what it may have put there. */
static void test_older_handle_open(void)
{
	struct pagecache *pc = pagecache_new(16);
	struct cache_blob *v1 = cache_blob_new("one", 3);
	struct cache_blob *v2 = cache_blob_new("two", 3);
	struct h old, a, b, c, d;

	CHECK(!open_read(pc, "/x", v1, &old));
	CHECK(!open_read(pc, "/x", v2, &a));
	CHECK(!open_read(pc, "/x", v2, &b)); /* old still open */
	pagecache_release(pc, &old.t);
	/* old is gone, but it may have left its pages. */
	CHECK(!open_read(pc, "/x", v2, &c));
	CHECK(open_r(pc, "/x", v2, &d));
	pagecache_release(pc, &a.t);
	pagecache_release(pc, &b.t);
	pagecache_release(pc, &c.t);
	pagecache_release(pc, &d.t);
	CHECK(open_r(pc, "/x", v2, &d));
	pagecache_release(pc, &d.t);
	cache_blob_unref(v1);
	cache_blob_unref(v2);
	pagecache_free(pc);
}

static void test_writer(void)
{
	struct pagecache *pc = pagecache_new(16);
	struct cache_blob *v1 = cache_blob_new("one", 3);
	struct h r, w;

	CHECK(!open_r(pc, "/x", v1, &r));
	pagecache_release(pc, &r.t);
	/* The kernel writes through its pages: unknown while the writer is
	 * open and after, whatever was stored. */
	pagecache_open_writer(pc, "/x", &w.t);
	CHECK(!open_r(pc, "/x", v1, &r));
	pagecache_release(pc, &r.t);
	CHECK(!open_r(pc, "/x", v1, &r));
	pagecache_release(pc, &r.t);
	pagecache_release(pc, &w.t);
	CHECK(!open_r(pc, "/x", v1, &r));
	pagecache_release(pc, &r.t);
	CHECK(open_r(pc, "/x", v1, &r));
	pagecache_release(pc, &r.t);
	cache_blob_unref(v1);
	pagecache_free(pc);
}

static void test_forget(void)
{
	struct pagecache *pc = pagecache_new(16);
	struct cache_blob *v1 = cache_blob_new("one", 3);
	struct h r;

	CHECK(!open_r(pc, "/x", v1, &r));
	pagecache_release(pc, &r.t);
	pagecache_forget(pc, "/x");
	pagecache_forget(pc, "/never");
	CHECK(!open_r(pc, "/x", v1, &r));
	pagecache_release(pc, &r.t);
	CHECK(open_r(pc, "/x", v1, &r));
	pagecache_release(pc, &r.t);
	cache_blob_unref(v1);
	pagecache_free(pc);
}

static void test_rename(void)
{
	struct pagecache *pc = pagecache_new(16);
	struct cache_blob *v1 = cache_blob_new("one", 3);
	struct cache_blob *v2 = cache_blob_new("two", 3);
	struct h r, moved, o;

	/* Both known. */
	CHECK(!open_r(pc, "/a", v1, &r));
	pagecache_release(pc, &r.t);
	CHECK(!open_r(pc, "/b", v2, &r));
	pagecache_release(pc, &r.t);
	/* A handle open on /a when it becomes /b: it can fill the pages of
	 * the inode now at /b, and no record follows it there, so nothing
	 * keeps pages while it is open, anywhere. */
	CHECK(!open_r(pc, "/c", v2, &o));
	pagecache_release(pc, &o.t);
	CHECK(open_r(pc, "/a", v1, &moved));
	pagecache_rename(pc, "/a", "/b");
	CHECK(!open_r(pc, "/b", v1, &r));
	pagecache_release(pc, &r.t);
	CHECK(!open_r(pc, "/c", v2, &o));
	pagecache_release(pc, &o.t);
	pagecache_release(pc, &moved.t);
	/* Released: /b and /c each drop once more (their last drops came
	 * while moved could still fill pages), then keep. */
	CHECK(!open_r(pc, "/b", v1, &r));
	pagecache_release(pc, &r.t);
	CHECK(open_r(pc, "/b", v1, &r));
	pagecache_release(pc, &r.t);
	CHECK(!open_r(pc, "/c", v2, &o));
	pagecache_release(pc, &o.t);
	CHECK(open_r(pc, "/c", v2, &o));
	pagecache_release(pc, &o.t);
	/* An idle record renamed away is simply gone. */
	pagecache_rename(pc, "/c", "/d");
	CHECK(!open_r(pc, "/c", v2, &o));
	pagecache_release(pc, &o.t);
	cache_blob_unref(v1);
	cache_blob_unref(v2);
	pagecache_free(pc);
}

/* The kernel drops the pages in the opener's task after the reply: until
 * that opener reads or closes, a second opener might still find the old
 * pages, so it drops them too. */
static void test_drop_pending(void)
{
	struct pagecache *pc = pagecache_new(16);
	struct cache_blob *v1 = cache_blob_new("one", 3);
	struct cache_blob *v2 = cache_blob_new("two", 3);
	struct h a, b, c, d;

	CHECK(!open_read(pc, "/x", v1, &a));
	pagecache_release(pc, &a.t);
	CHECK(open_read(pc, "/x", v1, &a)); /* kept */
	/* v2 arrives: the open that drops has not read yet. */
	CHECK(!open_r(pc, "/x", v2, &b));
	CHECK(!open_r(pc, "/x", v2, &c));
	pagecache_settled(pc, &b.t);
	pagecache_settled(pc, &b.t);	  /* a second READ counts once */
	CHECK(!open_r(pc, "/x", v2, &d)); /* c is still pending */
	pagecache_release(pc, &c.t);	  /* settles too */
	pagecache_settled(pc, &d.t);
	pagecache_release(pc, &a.t);
	pagecache_release(pc, &b.t);
	pagecache_release(pc, &d.t);
	/* a (v1) was open at the drop: one more drop, then keep. */
	CHECK(!open_read(pc, "/x", v2, &d));
	pagecache_release(pc, &d.t);
	CHECK(open_r(pc, "/x", v2, &d));
	pagecache_release(pc, &d.t);
	cache_blob_unref(v1);
	cache_blob_unref(v2);
	pagecache_free(pc);
}

static void test_evict(void)
{
	struct pagecache *pc = pagecache_new(2);
	struct cache_blob *v1 = cache_blob_new("one", 3);
	struct h r, held;

	CHECK(!open_read(pc, "/held", v1, &held));
	CHECK(!open_r(pc, "/a", v1, &r));
	pagecache_release(pc, &r.t);
	CHECK(!open_r(pc, "/b", v1, &r));
	pagecache_release(pc, &r.t);
	CHECK(!open_r(pc, "/c", v1, &r));
	pagecache_release(pc, &r.t);
	/* Two idle records at most (/b, /c), and the open one. */
	CHECK_INT(pagecache_count(pc), 3);
	CHECK(!open_r(pc, "/a", v1, &r)); /* forgotten: unknown */
	pagecache_release(pc, &r.t);
	CHECK(open_r(pc, "/held", v1, &r));
	pagecache_release(pc, &r.t);
	pagecache_release(pc, &held.t);
	cache_blob_unref(v1);
	pagecache_free(pc);
}

TAP_MAIN({"same text keeps, another drops", test_same_text},
	 {"an older text still open", test_older_handle_open},
	 {"a writer", test_writer}, {"forget", test_forget},
	 {"rename of an item", test_rename},
	 {"a drop the kernel has not done yet", test_drop_pending},
	 {"least recently used idle records out", test_evict})
