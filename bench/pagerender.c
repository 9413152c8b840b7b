/* pagerender.c - a micro-benchmark of what a listing and the bulk file do
 * with a Scan page of Devices items, on the CPU alone: the page read one
 * item at a time into a jansson tree and rendered from it (ddb_page_read,
 * codec_render / codec_render_line) against the items' bytes rendered with
 * the flat reader (ddb_page_read_raw, codec_render_keyed /
 * codec_render_raw_line). Checks that both give the same bytes first.
 *
 * usage: pagerender [PAGE [ROUNDS]]
 *   PAGE    a saved Scan answer of the bench's Devices table (schema
 *           device_id S, datacount N); "-" or none: a page of 3,334 items
 *           (a third of the 10,000-item table, as DynamoDB Local pages it)
 *           laid out as bench/ddbraw.c seeds them and the server answers
 *   ROUNDS  times the page is read each way (default 20)
 * Prints microseconds per item for each way and format. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "ddb.h"
#include "dynbuf.h"

static const struct codec_schema schema = {
    .hash_name = "device_id",
    .hash_type = 'S',
    .range_name = "datacount",
    .range_type = 'N',
};

struct run {
	enum codec_format f;
	struct dynbuf out; /* every text, for the comparison */
	size_t items;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What the listing did per item: the key values and the text. */
static int tree_item(json_t *item, void *arg)
{
	struct run *r = arg;
	json_t *h = json_object_get(item, schema.hash_name);
	json_t *g = json_object_get(item, schema.range_name);
	char *text = NULL;
	size_t len = 0;
	int rc;

	if (!h || !g)
		return -EINVAL;
	rc = codec_render(item, &schema, r->f, &text, &len);
	if (!rc)
		rc = dynbuf_add(&r->out, text, len);
	free(text);
	r->items++;
	return rc;
}

static int raw_item(const char *json, size_t len, void *arg)
{
	struct run *r = arg;
	json_t *h = NULL, *g = NULL;
	char *text = NULL;
	size_t tlen = 0;
	int rc;

	rc = codec_render_keyed(json, len, &schema, r->f, &h, &g, &text, &tlen);
	if (!rc && (!h || !g))
		rc = -EINVAL;
	if (!rc)
		rc = dynbuf_add(&r->out, text, tlen);
	json_decref(h);
	json_decref(g);
	free(text);
	r->items++;
	return rc;
}

static int tree_line(json_t *item, void *arg)
{
	struct run *r = arg;

	r->items++;
	return codec_render_line(item, &schema, r->f, &r->out);
}

static int raw_line(const char *json, size_t len, void *arg)
{
	struct run *r = arg;

	r->items++;
	return codec_render_raw_line(json, len, &schema, r->f, &r->out);
}

/* A page as bench/ddbraw.c's device_item seeds the table. */
static char *make_page(size_t *len)
{
	struct dynbuf b = {0};
	char item[1024];
	int rc = dynbuf_add(&b, "{\"Items\":[", 10);

	for (unsigned i = 0; i < 3334 && !rc; i++) {
		unsigned s = i * 2654435761u + 12345u;
		double t[5];

		for (int k = 0; k < 5; k++) {
			s = s * 1103515245u + 12345u;
			t[k] = (double)((s >> 8) % 4000) / 10.0 + 10.0;
		}
		snprintf(item, sizeof(item),
			 "%s{\"device_id\":{\"S\":\"%u\"},"
			 "\"datacount\":{\"N\":\"%u\"},\"info\":{\"M\":{"
			 "\"info_timestamp\":{\"S\":\"%lu\"},"
			 "\"temperature1\":{\"N\":\"%.1f\"},"
			 "\"temperature2\":{\"N\":\"%.1f\"},"
			 "\"temperature3\":{\"N\":\"%.2f\"},"
			 "\"temperature4\":{\"N\":\"%.1f\"},"
			 "\"temperature5\":{\"N\":\"%.1f\"}}}}",
			 i ? "," : "", 10000 + i / 100, i % 100 + 1,
			 1612519200UL + (i % 100 + 1) * 100, t[0], t[1],
			 t[2] * 30, t[3], t[4]);
		rc = dynbuf_add(&b, item, strlen(item));
	}
	if (!rc)
		rc = dynbuf_add(
		    &b, "],\"Count\":3334,\"ScannedCount\":3334}",
		    strlen("],\"Count\":3334,\"ScannedCount\":3334}"));
	if (rc) {
		dynbuf_free(&b);
		return NULL;
	}
	*len = b.len;
	return dynbuf_take(&b);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct dynbuf b = {0};
	char chunk[65536];
	size_t n;

	if (!f)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (dynbuf_add(&b, chunk, n)) {
			dynbuf_free(&b);
			fclose(f);
			return NULL;
		}
	fclose(f);
	*len = b.len;
	return dynbuf_take(&b);
}

/* Reads the page rounds times one way; microseconds per item. */
static double time_way(const char *page, size_t len, int rounds, bool raw,
		       bool line, enum codec_format f, struct dynbuf *keep)
{
	double t0 = now(), t;
	json_t *last = NULL;
	size_t items = 0;

	for (int i = 0; i < rounds; i++) {
		struct run r = {.f = f};
		int rc;

		if (raw)
			rc = ddb_page_read_raw(
			    page, len, line ? raw_line : raw_item, &r, &last);
		else
			rc = ddb_page_read(
			    page, len, line ? tree_line : tree_item, &r, &last);
		json_decref(last);
		if (rc) {
			fprintf(stderr, "page read: %s\n", strerror(-rc));
			exit(1);
		}
		items += r.items;
		if (keep && i == 0)
			*keep = r.out;
		else
			dynbuf_free(&r.out);
	}
	t = now() - t0;
	return t * 1e6 / (double)items;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "-";
	int rounds = argc > 2 ? atoi(argv[2]) : 20;
	size_t len = 0;
	char *page =
	    strcmp(path, "-") == 0 ? make_page(&len) : read_file(path, &len);
	int bad = 0;

	if (!page || rounds < 1) {
		fprintf(stderr, "usage: pagerender [PAGE [ROUNDS]]\n");
		return 2;
	}
	for (int line = 0; line < 2; line++) {
		for (int f = CODEC_PLAIN; f <= CODEC_DDB; f++) {
			struct dynbuf a = {0}, b = {0};
			double ta, tb;

			ta = time_way(page, len, rounds, false, line, f, &a);
			tb = time_way(page, len, rounds, true, line, f, &b);
			if (a.len != b.len || memcmp(a.p, b.p, a.len) != 0) {
				fprintf(stderr, "%s %s: the texts differ\n",
					line ? "line" : "file",
					f == CODEC_PLAIN ? "plain" : "ddb");
				bad = 1;
			}
			printf("%-4s %-5s tree %6.2f us/item  bytes %6.2f "
			       "us/item  (%zu bytes of text a page)\n",
			       line ? "line" : "file",
			       f == CODEC_PLAIN ? "plain" : "ddb", ta, tb,
			       a.len);
			dynbuf_free(&a);
			dynbuf_free(&b);
		}
	}
	free(page);
	return bad;
}
