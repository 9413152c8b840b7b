/* test_seen.c - unit tests of the seen images: per process and per path,
 * pins, least-recently-used eviction by count and by bytes, thread groups. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "seen.h"
#include "tap.h"

/* The text s's image of path for tgid holds, "-" for "no item", NULL for
 * none; caller frees. */
static char *image(struct seen *s, pid_t tgid, const char *path, bool own)
{
	struct cache_blob *b = NULL;

	if (!seen_get(s, tgid, path, own, &b))
		return NULL;
	if (!b)
		return strdup("-");
	char *t = strdup(b->data);
	cache_blob_unref(b);
	return t;
}

static void check_image(struct seen *s, pid_t tgid, const char *path, bool own,
			const char *want)
{
	char *got = image(s, tgid, path, own);

	if (!want) {
		CHECK(got == NULL);
		if (got)
			printf("#   %ld %s: %s\n", (long)tgid, path, got);
	} else {
		CHECK_STR(got ? got : "(none)", want);
	}
	free(got);
}

static void test_note_get(void)
{
	struct seen *s = seen_new(1 << 20, 100);
	struct cache_blob *v1 = cache_blob_new("v1", 2);
	struct cache_blob *v2 = cache_blob_new("v2", 2);

	check_image(s, 10, "/t/a.json", false, NULL);
	seen_note(s, 10, "/t/a.json", v1);
	check_image(s, 10, "/t/a.json", true, "v1");
	/* Another process never served: anyone's. */
	check_image(s, 11, "/t/a.json", false, "v1");
	check_image(s, 11, "/t/a.json", true, NULL);
	seen_note(s, 11, "/t/a.json", v2);
	check_image(s, 10, "/t/a.json", false, "v1");
	check_image(s, 12, "/t/a.json", false, "v2");
	/* Absent, and a pin that leaves anyone's alone. */
	seen_note(s, 10, "/t/a.json", NULL);
	check_image(s, 10, "/t/a.json", false, "-");
	seen_pin(s, 10, "/t/a.json", v1);
	check_image(s, 10, "/t/a.json", false, "v1");
	check_image(s, 12, "/t/a.json", false, "-");
	/* tgid 0 is anyone. */
	seen_note(s, 0, "/t/b.json", v2);
	check_image(s, 0, "/t/b.json", true, "v2");
	check_image(s, 5, "/t/b.json", false, "v2");
	cache_blob_unref(v1);
	cache_blob_unref(v2);
	seen_free(s);
}

static void test_evict_count(void)
{
	struct seen *s = seen_new(1 << 20, 3);
	struct cache_blob *v = cache_blob_new("v", 1);
	size_t n, bytes;

	seen_note(s, 0, "/a", v);
	seen_note(s, 0, "/b", v);
	seen_note(s, 0, "/c", v);
	check_image(s, 0, "/a", false, "v"); /* /a is now the newest */
	seen_note(s, 0, "/d", v);
	check_image(s, 0, "/b", false, NULL);
	check_image(s, 0, "/a", false, "v");
	seen_usage(s, &n, &bytes);
	CHECK_INT(n, 3);
	cache_blob_unref(v);
	seen_free(s);
}

static void test_evict_bytes(void)
{
	char big[1000];
	struct seen *s = seen_new(2500, 100);
	struct cache_blob *b;
	size_t n, bytes;

	memset(big, 'x', sizeof(big));
	b = cache_blob_new(big, sizeof(big));
	seen_note(s, 0, "/a", b);
	seen_note(s, 0, "/b", b);
	seen_note(s, 0, "/c", b);
	seen_usage(s, &n, &bytes);
	CHECK(bytes <= 2500);
	CHECK_INT(n, 2);
	check_image(s, 0, "/a", false, NULL);
	cache_blob_unref(b);
	/* Bigger than the whole budget: not kept, and the older image of
	 * that path is gone rather than left to be expected. */
	b = cache_blob_new("small", 5);
	seen_note(s, 0, "/d", b);
	cache_blob_unref(b);
	{
		char *huge = calloc(1, 4000);

		b = cache_blob_new(huge, 4000);
		free(huge);
	}
	seen_note(s, 0, "/d", b);
	cache_blob_unref(b);
	check_image(s, 0, "/d", false, NULL);
	seen_free(s);
}

static void *report_tid(void *arg)
{
	*(pid_t *)arg = (pid_t)syscall(SYS_gettid);
	return NULL;
}

static void test_thread_group(void)
{
	pthread_t t;
	pid_t tid = 0;

	CHECK_INT(seen_thread_group(getpid()), getpid());
	CHECK_INT(seen_thread_group(0), 0);
	/* A thread of this process: its group is this process. The thread
	 * is read while it is still alive. */
	pthread_create(&t, NULL, report_tid, &tid);
	pthread_join(t, NULL);
	CHECK(tid != getpid());
	/* Gone now: its own id comes back. */
	CHECK_INT(seen_thread_group(tid), tid);
}

static void *report_group(void *arg)
{
	*(pid_t *)arg = seen_thread_group((pid_t)syscall(SYS_gettid));
	return NULL;
}

static void *report_group_and_tid(void *arg)
{
	pid_t tid = (pid_t)syscall(SYS_gettid);

	seen_thread_group(tid);
	*(pid_t *)arg = tid;
	return NULL;
}

static void test_live_thread(void)
{
	pthread_t t;
	pid_t group = 0;

	pthread_create(&t, NULL, report_group, &group);
	pthread_join(t, NULL);
	CHECK_INT(group, getpid());
}

/* Once read, a thread's group is remembered for a second (every open of an
 * item asks): asked again at once, even a thread gone meanwhile answers
 * the group /proc gave while it lived. */
static void test_group_remembered(void)
{
	pthread_t t;
	pid_t group = 0, tid = 0;

	pthread_create(&t, NULL, report_tid, &tid);
	pthread_join(t, NULL);
	/* Gone before it was asked: not remembered. */
	CHECK_INT(seen_thread_group(tid), tid);
	CHECK_INT(seen_thread_group(tid), tid);
	pthread_create(&t, NULL, report_group_and_tid, &tid);
	pthread_join(t, (void **)NULL);
	group = seen_thread_group(tid);
	CHECK_INT(group, getpid());
}

TAP_MAIN({"note, get, pin, absent", test_note_get},
	 {"a thread group is remembered for a second", test_group_remembered},
	 {"least recently used out by count", test_evict_count},
	 {"and by bytes", test_evict_bytes},
	 {"thread group of a thread that is gone", test_thread_group},
	 {"thread group of a live thread", test_live_thread})
