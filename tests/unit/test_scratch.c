/* test_scratch.c - unit tests of the in-memory scratch files: the path map,
 * reads and writes, the byte bound, open-but-unlinked nodes and threads. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "scratch.h"
#include "tap.h"

#define BIG ((size_t)1 << 24)

/* Creates path holding text; returns 0 or the failing call's result. */
static int put(struct scratch_store *s, const char *path, const char *text)
{
	struct scratch_node *n;
	int rc = scratch_create(s, path, 0644, &n);

	if (rc < 0)
		return rc;
	rc = scratch_set(s, n, text, strlen(text));
	scratch_node_unref(n);
	return rc;
}

/* The contents of path, for comparing with CHECK_STR: a static buffer, or
 * "(absent)" when there is no such file. */
static const char *contents(struct scratch_store *s, const char *path)
{
	static char buf[256];
	struct scratch_node *n;
	ssize_t got;

	if (scratch_lookup(s, path, &n) < 0)
		return "(absent)";
	got = scratch_read(n, buf, sizeof(buf) - 1, 0);
	scratch_node_unref(n);
	if (got < 0)
		return "(read error)";
	buf[got] = '\0';
	return buf;
}

static void test_create_lookup_unlink(void)
{
	struct scratch_store *s = scratch_store_new(BIG);
	struct scratch_node *n, *m;

	CHECK_INT(scratch_lookup(s, "/T/.x.swp", &n), -ENOENT);
	CHECK(n == NULL);
	CHECK_INT(scratch_create(s, "/T/.x.swp", 0600, &n), 0);
	CHECK_INT(scratch_create(s, "/T/.x.swp", 0600, NULL), -EEXIST);
	CHECK_INT(scratch_create(s, "/T/4913", 0644, NULL), 0);
	CHECK_INT(scratch_lookup(s, "/T/.x.swp", &m), 0);
	CHECK(m == n);
	CHECK_INT(scratch_size(m), 0);
	scratch_node_unref(m);
	CHECK_INT(scratch_lookup(s, "/T/.x.sw", &m), -ENOENT);
	CHECK_INT(scratch_unlink(s, "/T/.x.swp"), 0);
	CHECK_INT(scratch_unlink(s, "/T/.x.swp"), -ENOENT);
	CHECK_INT(scratch_lookup(s, "/T/.x.swp", &m), -ENOENT);
	CHECK_INT(scratch_lookup(s, "/T/4913", &m), 0);
	scratch_node_unref(m);
	/* The name is free again, and the new file is another node. */
	CHECK_INT(scratch_create(s, "/T/.x.swp", 0600, &m), 0);
	CHECK(m != n);
	scratch_node_unref(m);
	scratch_node_unref(n);
	scratch_store_free(s);
}

static void test_rename(void)
{
	static const struct {
		const char *name;
		bool with_b; /* "/T/b" exists with "B" before */
		const char *from, *to;
		bool noreplace;
		int rc;
		const char *a, *b, *c; /* contents after, or "(absent)" */
	} cases[] = {
	    {"to a new name", false, "/T/a", "/T/c", false, 0, "(absent)",
	     "(absent)", "A"},
	    {"to a new name, noreplace", false, "/T/a", "/T/c", true, 0,
	     "(absent)", "(absent)", "A"},
	    {"replacing", true, "/T/a", "/T/b", false, 0, "(absent)", "A",
	     "(absent)"},
	    {"noreplace onto a file", true, "/T/a", "/T/b", true, -EEXIST, "A",
	     "B", "(absent)"},
	    {"missing source", true, "/T/x", "/T/b", false, -ENOENT, "A", "B",
	     "(absent)"},
	    {"missing source, new target", false, "/T/x", "/T/c", false,
	     -ENOENT, "A", "(absent)", "(absent)"},
	    {"onto itself", false, "/T/a", "/T/a", false, 0, "A", "(absent)",
	     "(absent)"},
	    {"onto itself, noreplace", false, "/T/a", "/T/a", true, -EEXIST,
	     "A", "(absent)", "(absent)"},
	    {"to another directory", false, "/T/a", "/U/P/c", false, 0,
	     "(absent)", "(absent)", "(absent)"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct scratch_store *s = scratch_store_new(BIG);
		printf("# %s\n", cases[i].name);
		CHECK_INT(put(s, "/T/a", "A"), 0);
		if (cases[i].with_b)
			CHECK_INT(put(s, "/T/b", "B"), 0);
		CHECK_INT(scratch_rename(s, cases[i].from, cases[i].to,
					 cases[i].noreplace),
			  cases[i].rc);
		CHECK_STR(contents(s, "/T/a"), cases[i].a);
		CHECK_STR(contents(s, "/T/b"), cases[i].b);
		CHECK_STR(contents(s, "/T/c"), cases[i].c);
		if (cases[i].rc == 0)
			CHECK_STR(contents(s, cases[i].to), "A");
		scratch_store_free(s);
	}
}

static void test_rename_keeps_open_nodes(void)
{
	struct scratch_store *s = scratch_store_new(BIG);
	struct scratch_node *a, *b;
	char buf[8];

	CHECK_INT(scratch_create(s, "/T/a", 0644, &a), 0);
	CHECK_INT(scratch_create(s, "/T/b", 0644, &b), 0);
	CHECK_INT(scratch_write(s, a, "aaa", 3, 0), 3);
	CHECK_INT(scratch_write(s, b, "bb", 2, 0), 2);
	CHECK_INT(scratch_rename(s, "/T/a", "/T/b", false), 0);
	/* The replaced node is gone from the map but works and counts. */
	CHECK_INT(scratch_write(s, b, "B", 1, 2), 1);
	CHECK_INT(scratch_read(b, buf, sizeof(buf), 0), 3);
	CHECK(memcmp(buf, "bbB", 3) == 0);
	CHECK_INT(scratch_bytes(s), 6);
	/* The renamed node is the one at the new name. */
	CHECK_INT(scratch_write(s, a, "A", 1, 0), 1);
	CHECK_STR(contents(s, "/T/b"), "Aaa");
	scratch_node_unref(b);
	CHECK_INT(scratch_bytes(s), 3);
	scratch_node_unref(a);
	CHECK_INT(scratch_bytes(s), 3);
	scratch_store_free(s);
}

static void test_write_read(void)
{
	static const struct {
		const char *name;
		const char *data;
		size_t len;
		off_t off;
		const char *expect; /* the whole file after */
		size_t expect_len;
	} steps[] = {
	    {"at 0", "abc", 3, 0, "abc", 3},
	    {"past the end", "XY", 2, 5, "abc\0\0XY", 7},
	    {"inside", "-", 1, 1, "a-c\0\0XY", 7},
	    {"over the end", "1234", 4, 6, "a-c\0\0X1234", 10},
	    {"nothing, past the end", "", 0, 40, "a-c\0\0X1234", 10},
	    {"far past the end", "z", 1, 12, "a-c\0\0X1234\0\0z", 13},
	};
	struct scratch_store *s = scratch_store_new(BIG);
	struct scratch_node *n;
	char buf[32];

	CHECK_INT(scratch_create(s, "/T/f", 0644, &n), 0);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		printf("# %s\n", steps[i].name);
		CHECK_INT(scratch_write(s, n, steps[i].data, steps[i].len,
					steps[i].off),
			  steps[i].len);
		CHECK_INT(scratch_size(n), steps[i].expect_len);
		CHECK_INT(scratch_bytes(s), steps[i].expect_len);
		memset(buf, '#', sizeof(buf));
		CHECK_INT(scratch_read(n, buf, sizeof(buf), 0),
			  steps[i].expect_len);
		CHECK(memcmp(buf, steps[i].expect, steps[i].expect_len) == 0);
	}
	/* Reads at offsets: short at the end, empty past it. */
	CHECK_INT(scratch_read(n, buf, 4, 8), 4);
	CHECK(memcmp(buf, "34\0\0", 4) == 0);
	CHECK_INT(scratch_read(n, buf, 10, 11), 2);
	CHECK(memcmp(buf, "\0z", 2) == 0);
	CHECK_INT(scratch_read(n, buf, 10, 13), 0);
	CHECK_INT(scratch_read(n, buf, 10, 1000), 0);
	CHECK_INT(scratch_read(n, buf, 0, 0), 0);
	CHECK_INT(scratch_read(n, buf, 1, -1), -EINVAL);
	CHECK_INT(scratch_write(s, n, "x", 1, -1), -EINVAL);
	scratch_node_unref(n);
	scratch_store_free(s);
}

static void test_truncate(void)
{
	static const struct {
		const char *name;
		off_t size; /* truncate to, or -1: write "W" at 9 */
		const char *expect;
		size_t expect_len;
	} steps[] = {
	    {"shrink", 5, "hello", 5},
	    {"grow with zeros", 8, "hello\0\0\0", 8},
	    {"shrink again", 2, "he", 2},
	    {"grow: no stale bytes", 6, "he\0\0\0\0", 6},
	    {"to zero", 0, "", 0},
	    {"write past the end after", -1, "\0\0\0\0\0\0\0\0\0W", 10},
	    {"same size", 10, "\0\0\0\0\0\0\0\0\0W", 10},
	};
	struct scratch_store *s = scratch_store_new(BIG);
	struct scratch_node *n;
	char buf[32];

	CHECK_INT(scratch_create(s, "/T/f", 0644, &n), 0);
	CHECK_INT(scratch_write(s, n, "hello world", 11, 0), 11);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		printf("# %s\n", steps[i].name);
		if (steps[i].size < 0)
			CHECK_INT(scratch_write(s, n, "W", 1, 9), 1);
		else
			CHECK_INT(scratch_truncate(s, n, steps[i].size), 0);
		CHECK_INT(scratch_size(n), steps[i].expect_len);
		CHECK_INT(scratch_bytes(s), steps[i].expect_len);
		memset(buf, '#', sizeof(buf));
		CHECK_INT(scratch_read(n, buf, sizeof(buf), 0),
			  steps[i].expect_len);
		CHECK(memcmp(buf, steps[i].expect, steps[i].expect_len) == 0);
	}
	/* Stale bytes past a shrink never come back through a gap write. */
	CHECK_INT(scratch_set(s, n, "abcdefgh", 8), 0);
	CHECK_INT(scratch_truncate(s, n, 2), 0);
	CHECK_INT(scratch_write(s, n, "Z", 1, 5), 1);
	CHECK_INT(scratch_read(n, buf, sizeof(buf), 0), 6);
	CHECK(memcmp(buf, "ab\0\0\0Z", 6) == 0);
	CHECK_INT(scratch_truncate(s, n, -1), -EINVAL);
	scratch_node_unref(n);
	scratch_store_free(s);
}

static void test_set_copy(void)
{
	struct scratch_store *s = scratch_store_new(BIG);
	struct scratch_node *n;
	char *data;
	size_t len;

	CHECK_INT(scratch_create(s, "/T/f", 0644, &n), 0);
	CHECK_INT(scratch_copy(n, &data, &len), 0);
	CHECK_INT(len, 0);
	CHECK_STR(data, "");
	free(data);
	CHECK_INT(scratch_set(s, n, "{\"a\": 1}\n", 9), 0);
	CHECK_INT(scratch_copy(n, &data, &len), 0);
	CHECK_INT(len, 9);
	CHECK_STR(data, "{\"a\": 1}\n");
	free(data);
	CHECK_INT(scratch_set(s, n, "xy", 2), 0);
	CHECK_INT(scratch_size(n), 2);
	CHECK_INT(scratch_bytes(s), 2);
	CHECK_INT(scratch_set(s, n, "a\0b", 3), 0);
	CHECK_INT(scratch_copy(n, &data, &len), 0);
	CHECK_INT(len, 3);
	CHECK(memcmp(data, "a\0b", 4) == 0);
	free(data);
	CHECK_INT(scratch_set(s, n, NULL, 0), 0);
	CHECK_INT(scratch_size(n), 0);
	CHECK_INT(scratch_bytes(s), 0);
	scratch_node_unref(n);
	scratch_store_free(s);
}

static void test_bound(void)
{
	struct scratch_store *s = scratch_store_new(100);
	struct scratch_node *a, *b;
	char buf[128], big[128];
	char *data;
	size_t len;

	memset(big, 'x', sizeof(big));
	CHECK_INT(scratch_create(s, "/T/a", 0644, &a), 0);
	CHECK_INT(scratch_create(s, "/T/b", 0644, &b), 0);
	CHECK_INT(scratch_write(s, a, big, 101, 0), -ENOSPC);
	CHECK_INT(scratch_size(a), 0);
	CHECK_INT(scratch_write(s, a, "0123456789", 10, 0), 10);
	CHECK_INT(scratch_write(s, b, big, 60, 0), 60);
	CHECK_INT(scratch_bytes(s), 70);
	/* 31 more bytes would pass the bound: nothing is written. */
	CHECK_INT(scratch_write(s, a, "ABCDEFGHIJ", 10, 31), -ENOSPC);
	CHECK_INT(scratch_write(s, a, "ABC", 3, 0), 3); /* no growth */
	CHECK_INT(scratch_write(s, a, big, 41, 0), -ENOSPC);
	CHECK_INT(scratch_truncate(s, a, 41), -ENOSPC);
	CHECK_INT(scratch_set(s, a, big, 41), -ENOSPC);
	CHECK_INT(scratch_size(a), 10);
	CHECK_INT(scratch_bytes(s), 70);
	CHECK_INT(scratch_copy(a, &data, &len), 0);
	CHECK_INT(len, 10);
	CHECK_STR(data, "ABC3456789");
	free(data);
	/* Exactly to the bound is fine. */
	CHECK_INT(scratch_write(s, a, "ABCDEFGHIJ", 10, 30), 10);
	CHECK_INT(scratch_bytes(s), 100);
	CHECK_INT(scratch_read(a, buf, sizeof(buf), 0), 40);
	CHECK(memcmp(buf + 10,
		     "\0\0\0\0\0\0\0\0\0\0"
		     "\0\0\0\0\0\0\0\0\0\0ABCDEFGHIJ",
		     30) == 0);
	CHECK_INT(scratch_write(s, a, "!", 1, 40), -ENOSPC);
	/* Unlinked but open: still counted; freed on the last unref. */
	CHECK_INT(scratch_unlink(s, "/T/b"), 0);
	CHECK_INT(scratch_bytes(s), 100);
	CHECK_INT(scratch_write(s, a, "!", 1, 40), -ENOSPC);
	scratch_node_unref(b);
	CHECK_INT(scratch_bytes(s), 40);
	CHECK_INT(scratch_write(s, a, big, 60, 40), 60);
	/* Shrinking gives bytes back. */
	CHECK_INT(scratch_truncate(s, a, 5), 0);
	CHECK_INT(scratch_bytes(s), 5);
	CHECK_INT(scratch_set(s, a, big, 100), 0);
	CHECK_INT(scratch_bytes(s), 100);
	/* Files too large for the contract, whatever the store's room. */
	CHECK_INT(scratch_write(s, a, "x", 1, (off_t)1 << 30), -EFBIG);
	CHECK_INT(scratch_write(s, a, big, 2, ((off_t)1 << 30) - 1), -EFBIG);
	CHECK_INT(scratch_truncate(s, a, ((off_t)1 << 30) + 1), -EFBIG);
	CHECK_INT(scratch_size(a), 100);
	scratch_node_unref(a);
	CHECK_INT(scratch_unlink(s, "/T/a"), 0);
	CHECK_INT(scratch_bytes(s), 0);
	scratch_store_free(s);
}

/* A whole-file set past the budget is refused before its bytes are copied:
 * keeping a rejected 900 MB truncate must not allocate and copy 900 MB
 * first. The source is mapped unreadable, so a copy made anyway faults. */
static void test_set_over_budget_copies_nothing(void)
{
	struct scratch_store *s = scratch_store_new(100);
	struct scratch_node *a;
	size_t huge = (size_t)1 << 29;
	void *src = mmap(NULL, huge, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	CHECK(src != MAP_FAILED);
	CHECK_INT(scratch_create(s, "/T/.a.json.rejected", 0644, &a), 0);
	CHECK_INT(scratch_set(s, a, "0123456789", 10), 0);
	if (src != MAP_FAILED) {
		CHECK_INT(scratch_set(s, a, src, huge), -ENOSPC);
		CHECK_INT(scratch_set(s, a, src, 101), -ENOSPC);
		munmap(src, huge);
	}
	CHECK_INT(scratch_size(a), 10);
	CHECK_INT(scratch_bytes(s), 10);
	scratch_node_unref(a);
	scratch_store_free(s);
}

static void test_unlinked_open(void)
{
	struct scratch_store *s = scratch_store_new(BIG);
	struct scratch_node *n, *m;
	char buf[16];

	CHECK_INT(scratch_create(s, "/T/.f.swp", 0600, &n), 0);
	CHECK_INT(scratch_write(s, n, "swap", 4, 0), 4);
	CHECK_INT(scratch_unlink(s, "/T/.f.swp"), 0);
	CHECK(!scratch_dir_has_files(s, "/T"));
	CHECK_INT(scratch_write(s, n, "ped", 3, 4), 3);
	CHECK_INT(scratch_read(n, buf, sizeof(buf), 0), 7);
	CHECK(memcmp(buf, "swapped", 7) == 0);
	CHECK_INT(scratch_truncate(s, n, 4), 0);
	CHECK_INT(scratch_bytes(s), 4);
	/* A new file at the name is a separate node. */
	CHECK_INT(scratch_create(s, "/T/.f.swp", 0600, &m), 0);
	CHECK_INT(scratch_write(s, m, "new", 3, 0), 3);
	CHECK_INT(scratch_read(n, buf, sizeof(buf), 0), 4);
	CHECK(memcmp(buf, "swap", 4) == 0);
	CHECK_INT(scratch_bytes(s), 7);
	scratch_node_unref(n);
	CHECK_INT(scratch_bytes(s), 3);
	scratch_node_unref(m);
	CHECK_STR(contents(s, "/T/.f.swp"), "new");
	scratch_store_free(s);
}

static void append_name(const char *name, const struct scratch_node *node,
			void *arg)
{
	char *out = arg;
	char item[64];

	snprintf(item, sizeof(item), "%s%s:%o:%lld", *out ? "," : "", name,
		 (unsigned)scratch_mode(node), (long long)scratch_size(node));
	strcat(out, item);
}

static void test_list(void)
{
	static const char *const files[] = {
	    "/T/b",  "/T/a",   "/T/B",	 "/T/\xc3\xa9", "/T/P/x", "/T/P/Q/y",
	    "/T2/c", "/T/a.b", "/T/P.z", "/T.x/d",	"/.root", "/T/~",
	};
	static const struct {
		const char *dir;
		const char *expect;
	} cases[] = {
	    {"/T", "B:644:1,P.z:644:3,a:644:1,a.b:644:3,b:644:1,~:644:1,"
		   "\xc3\xa9:644:2"},
	    {"/T/", "B:644:1,P.z:644:3,a:644:1,a.b:644:3,b:644:1,~:644:1,"
		    "\xc3\xa9:644:2"},
	    {"/T/P", "x:644:1"},
	    {"/T/P/Q", "y:644:1"},
	    {"/T2", "c:644:1"},
	    {"/T.x", "d:644:1"},
	    {"/", ".root:644:5"},
	    {"/T3", ""},
	    {"/T/a", ""},
	};
	struct scratch_store *s = scratch_store_new(BIG);
	char out[512];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		const char *name = strrchr(files[i], '/') + 1;
		CHECK_INT(put(s, files[i], name), 0);
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		printf("# list %s\n", cases[i].dir);
		out[0] = '\0';
		scratch_list(s, cases[i].dir, append_name, out);
		CHECK_STR(out, cases[i].expect);
	}
	scratch_store_free(s);
}

static void test_has_files_remove_tree(void)
{
	static const char *const files[] = {
	    "/T/a", "/T/P/x", "/T/P/Q/y", "/T2/c", "/T.x/d", "/U/P/e",
	};
	static const struct {
		const char *dir;
		bool before, after; /* after removing "/T" */
	} cases[] = {
	    {"/T", true, false},   {"/T/", true, false},
	    {"/T/P", true, false}, {"/T/P/Q", true, false},
	    {"/T2", true, true},   {"/T.x", true, true},
	    {"/U", true, true},	   {"/U/P", true, true},
	    {"/T3", false, false}, {"/T/a", false, false},
	    {"/", true, true},	   {"/U/Q", false, false},
	};
	struct scratch_store *s = scratch_store_new(BIG);
	struct scratch_node *open;
	char buf[8];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		CHECK_INT(put(s, files[i], "12345"), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		printf("# has_files %s\n", cases[i].dir);
		CHECK(scratch_dir_has_files(s, cases[i].dir) ==
		      cases[i].before);
	}
	CHECK_INT(scratch_lookup(s, "/T/P/x", &open), 0);
	scratch_remove_tree(s, "/T");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		printf("# has_files %s after\n", cases[i].dir);
		CHECK(scratch_dir_has_files(s, cases[i].dir) == cases[i].after);
	}
	CHECK_STR(contents(s, "/T/a"), "(absent)");
	CHECK_STR(contents(s, "/T/P/Q/y"), "(absent)");
	CHECK_STR(contents(s, "/T2/c"), "12345");
	CHECK_STR(contents(s, "/T.x/d"), "12345");
	CHECK_STR(contents(s, "/U/P/e"), "12345");
	/* An open file inside keeps working and counting. */
	CHECK_INT(scratch_bytes(s), 4 * 5);
	CHECK_INT(scratch_read(open, buf, sizeof(buf), 0), 5);
	scratch_node_unref(open);
	CHECK_INT(scratch_bytes(s), 3 * 5);
	scratch_remove_tree(s, "/T");
	scratch_remove_tree(s, "/");
	CHECK(!scratch_dir_has_files(s, "/"));
	CHECK_INT(scratch_bytes(s), 0);
	scratch_store_free(s);
}

static void test_origin(void)
{
	struct scratch_store *s = scratch_store_new(BIG);
	struct scratch_node *n;
	char path[] = "/T/P/k.json";
	char *o;

	CHECK_INT(scratch_create(s, "/T/P/k.json~", 0644, &n), 0);
	CHECK(scratch_origin(n) == NULL);
	CHECK_INT(scratch_set_origin(n, path), 0);
	path[1] = 'X'; /* the node keeps its own copy */
	o = scratch_origin(n);
	CHECK_STR(o, "/T/P/k.json");
	free(o);
	CHECK_INT(scratch_set_origin(n, "/T/P/j.json"), 0);
	o = scratch_origin(n);
	CHECK_STR(o, "/T/P/j.json");
	free(o);
	/* The origin moves with the node through a rename. */
	CHECK_INT(scratch_rename(s, "/T/P/k.json~", "/T/P/.k", false), 0);
	scratch_node_unref(n);
	CHECK_INT(scratch_lookup(s, "/T/P/.k", &n), 0);
	o = scratch_origin(n);
	CHECK_STR(o, "/T/P/j.json");
	free(o);
	CHECK_INT(scratch_set_origin(n, NULL), 0);
	CHECK(scratch_origin(n) == NULL);
	/* Left set at the end so the free path is checked for leaks. */
	CHECK_INT(scratch_set_origin(n, "/T/P/k.json"), 0);
	scratch_node_unref(n);
	scratch_store_free(s);
}

static void test_mode_mtime(void)
{
	struct scratch_store *s = scratch_store_new(BIG);
	struct scratch_node *n;
	time_t before = time(NULL);

	CHECK_INT(scratch_create(s, "/T/f", 0600, &n), 0);
	CHECK_INT(scratch_mode(n), 0600);
	CHECK(scratch_mtime(n) >= before && scratch_mtime(n) <= time(NULL));
	scratch_set_mode(n, 0640);
	CHECK_INT(scratch_mode(n), 0640);

	scratch_set_mtime(n, 12345);
	CHECK_INT(scratch_mtime(n), 12345);
	CHECK_INT(scratch_write(s, n, "x", 1, 0), 1);
	CHECK(scratch_mtime(n) >= before);

	scratch_set_mtime(n, 12345);
	CHECK_INT(scratch_write(s, n, "", 0, 0), 0); /* as write(2) */
	CHECK_INT(scratch_mtime(n), 12345);
	CHECK_INT(scratch_truncate(s, n, 1), 0); /* even to the same size */
	CHECK(scratch_mtime(n) >= before);

	scratch_set_mtime(n, 12345);
	CHECK_INT(scratch_set(s, n, "y", 1), 0);
	CHECK(scratch_mtime(n) >= before);

	scratch_set_mtime(n, 12345);
	CHECK_INT(scratch_write(s, n, "x", 1, 0), 1);
	CHECK(scratch_mtime(n) >= before);
	scratch_set_mtime(n, 12345);
	CHECK_INT(scratch_rename(s, "/T/f", "/T/g", false), 0);
	CHECK_INT(scratch_mtime(n), 12345); /* rename leaves it */
	scratch_node_unref(n);
	scratch_store_free(s);
}

static void test_store_free_with_open_node(void)
{
	struct scratch_store *s = scratch_store_new(BIG);
	struct scratch_node *n;
	char buf[8];

	CHECK_INT(scratch_create(s, "/T/f", 0644, &n), 0);
	CHECK_INT(put(s, "/T/g", "gone"), 0);
	scratch_store_free(s);
	/* The node still works; the store goes with its last node. */
	CHECK_INT(scratch_write(NULL, n, "still", 5, 0), 5);
	CHECK_INT(scratch_read(n, buf, sizeof(buf), 0), 5);
	CHECK(memcmp(buf, "still", 5) == 0);
	scratch_node_unref(n);
}

static void count_one(const char *name, const struct scratch_node *node,
		      void *arg)
{
	const char **prev = arg;

	if (*prev && strcmp(*prev, name) >= 0)
		tap_failed_checks++; /* out of order */
	*prev = name;
}

static void test_many_files(void)
{
	struct scratch_store *s = scratch_store_new(BIG);
	struct scratch_node *n;
	const char *prev = NULL;
	char path[64];
	int found = 0;

	for (int i = 0; i < 5000; i++) {
		snprintf(path, sizeof(path), "/T/%d/f%d", i % 7, i);
		CHECK_INT(scratch_create(s, path, 0644, NULL), 0);
	}
	for (int i = 0; i < 5000; i++) {
		snprintf(path, sizeof(path), "/T/%d/f%d", i % 7, i);
		if (scratch_lookup(s, path, &n) == 0) {
			found++;
			scratch_node_unref(n);
		}
	}
	CHECK_INT(found, 5000);
	scratch_list(s, "/T/3", count_one, &prev);
	CHECK(prev != NULL);
	scratch_remove_tree(s, "/T/3");
	CHECK(!scratch_dir_has_files(s, "/T/3"));
	CHECK(scratch_dir_has_files(s, "/T/2"));
	CHECK(scratch_dir_has_files(s, "/T/4"));
	CHECK_INT(scratch_lookup(s, "/T/4/f4", &n), 0);
	scratch_node_unref(n);
	scratch_store_free(s);
}

#define THREADS	   8
#define ITERATIONS 300
#define BLOCK	   64

struct worker {
	struct scratch_store *s;
	struct scratch_node *shared; /* every thread writes its own block */
	int id;
	int errors;
};

static void ignore_name(const char *name, const struct scratch_node *node,
			void *arg)
{
	(void)name;
	*(off_t *)arg += scratch_size(node);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct scratch_store *s = w->s;
	char mine[32], moved[32], tmp[32], block[BLOCK], buf[BLOCK];
	struct scratch_node *n;
	off_t total;

	snprintf(mine, sizeof(mine), "/D/t%d/f", w->id);
	snprintf(moved, sizeof(moved), "/D/t%d/g", w->id);
	snprintf(tmp, sizeof(tmp), "/S/tmp%d", w->id);
	memset(block, 'a' + w->id, sizeof(block));
	for (int i = 0; i < ITERATIONS; i++) {
		/* A file of one's own: create, write, rename, read, unlink. */
		if (scratch_create(s, mine, 0644, &n) != 0)
			w->errors++;
		if (scratch_write(s, n, block, BLOCK, i % 5) != BLOCK)
			w->errors++;
		if (scratch_rename(s, mine, moved, i % 2) != 0)
			w->errors++;
		scratch_node_unref(n);
		if (scratch_lookup(s, moved, &n) != 0) {
			w->errors++;
			continue;
		}
		if (scratch_size(n) != BLOCK + i % 5)
			w->errors++;
		if (scratch_unlink(s, moved) != 0)
			w->errors++;
		if (scratch_read(n, buf, BLOCK, i % 5) != BLOCK ||
		    memcmp(buf, block, BLOCK) != 0)
			w->errors++;
		scratch_node_unref(n);

		/* The shared open file: one block each. */
		if (scratch_write(s, w->shared, block, BLOCK,
				  (off_t)w->id * BLOCK) != BLOCK)
			w->errors++;

		/* A shared name, replaced and unlinked by everyone. */
		if (scratch_create(s, tmp, 0644, &n) != 0 ||
		    scratch_set(s, n, block, 16) != 0)
			w->errors++;
		scratch_node_unref(n);
		if (scratch_rename(s, tmp, "/S/target", false) != 0)
			w->errors++;
		if (scratch_lookup(s, "/S/target", &n) == 0) {
			/* Whichever thread's file it is, it is whole. */
			ssize_t got = scratch_read(n, buf, BLOCK, 0);
			if (got != 16 || memchr(buf, buf[0], 16) != buf ||
			    buf[15] != buf[0] || buf[0] < 'a' ||
			    buf[0] >= 'a' + THREADS)
				w->errors++;
			scratch_node_unref(n);
		}
		if (i % 3 == 0) {
			int rc = scratch_unlink(s, "/S/target");
			if (rc != 0 && rc != -ENOENT)
				w->errors++;
		}
		total = 0;
		scratch_list(s, "/S", ignore_name, &total);
		(void)scratch_dir_has_files(s, "/D");
	}
	return NULL;
}

static void test_threads(void)
{
	struct scratch_store *s = scratch_store_new(BIG);
	struct worker w[THREADS];
	pthread_t t[THREADS];
	struct scratch_node *shared;
	char buf[THREADS * BLOCK];
	off_t total = 0;

	CHECK_INT(scratch_create(s, "/S/shared", 0644, &shared), 0);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){s, shared, i, 0};
		CHECK_INT(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		CHECK_INT(pthread_join(t[i], NULL), 0);
		CHECK_INT(w[i].errors, 0);
	}
	CHECK_INT(scratch_size(shared), THREADS * BLOCK);
	CHECK_INT(scratch_read(shared, buf, sizeof(buf), 0), sizeof(buf));
	for (int i = 0; i < THREADS * BLOCK; i++)
		if (buf[i] != 'a' + i / BLOCK)
			tap_failed_checks++;
	scratch_node_unref(shared);
	CHECK(!scratch_dir_has_files(s, "/D"));
	/* Every byte counted belongs to a file still in the store. */
	scratch_list(s, "/S", ignore_name, &total);
	CHECK_INT(scratch_bytes(s), total);
	CHECK(total == THREADS * BLOCK || total == THREADS * BLOCK + 16);
	scratch_remove_tree(s, "/S");
	CHECK_INT(scratch_bytes(s), 0);
	scratch_store_free(s);
}

TAP_MAIN({"create, lookup, unlink", test_create_lookup_unlink},
	 {"rename", test_rename},
	 {"rename keeps open nodes", test_rename_keeps_open_nodes},
	 {"write and read at offsets", test_write_read},
	 {"truncate", test_truncate}, {"set and copy", test_set_copy},
	 {"byte bound", test_bound},
	 {"a set past the budget copies nothing",
	  test_set_over_budget_copies_nothing},
	 {"unlinked but open", test_unlinked_open}, {"list", test_list},
	 {"has_files and remove_tree", test_has_files_remove_tree},
	 {"origin", test_origin}, {"mode and mtime", test_mode_mtime},
	 {"store freed with an open node", test_store_free_with_open_node},
	 {"many files", test_many_files}, {"threads", test_threads})
