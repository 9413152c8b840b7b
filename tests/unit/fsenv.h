/* fsenv.h - for unit tests of the filesystem's modules (src/fs_*.c): a
 * struct fs on the client stack of ddbenv.h, with no mount and no kernel. */
#ifndef DYNAMOFS_FSENV_H
#define DYNAMOFS_FSENV_H

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/fs_i.h"
#include "ddbenv.h"
#include "fakehttp.h"

/* One scripted answer: to the operation op (x-amz-target), to bodies that
 * hold match (or any, when NULL), at most times times (0: always), with
 * body (a JSON text) and status. Returns the rule (a new reference). */
static inline json_t *fsenv_rule(const char *op, const char *match, int times,
				 int status, const char *body)
{
	char target[96];
	json_t *r;

	snprintf(target, sizeof(target), "DynamoDB_20120810.%s", op);
	r = json_pack("{s{ss}si}", "match_header", "x-amz-target", target,
		      "status", status);
	json_object_set_new(r, "body", json_string(body));
	if (match)
		json_object_set_new(r, "match_body", json_string(match));
	if (times)
		json_object_set_new(r, "times", json_integer(times));
	return r;
}

/* The fake server with the rules (an array, stolen), the client stack
 * with `retries` retries, and a filesystem with cache_ttl ttl and
 * cache_bytes bytes on it (tables: the tables= filter or NULL). Returns
 * the fs, or NULL (fsenv_stop either way). */
static inline struct fs *fsenv_start(struct env *e, json_t *rules, int retries,
				     double ttl, size_t cache_bytes,
				     const char *tables)
{
	struct fs_settings s = {0};
	char *script = json_dumps(rules, JSON_COMPACT);
	int rc;

	json_decref(rules);
	rc = script ? env_start(e, script, retries) : -1;
	free(script);
	if (rc)
		return NULL;
	s.ddb = e->ddb;
	s.format = CODEC_PLAIN;
	s.cache_ttl = ttl;
	s.cache_bytes = cache_bytes;
	s.tables = tables;
	s.range_key = "";
	return fs_new(&s);
}

static inline void fsenv_stop(struct env *e, struct fs *fs)
{
	fs_free(fs);
	env_stop(e);
}

/* The body of the request the server received n-th (from 0), parsed
 * (json_decref it), or NULL. */
static inline json_t *fsenv_request(const struct env *e, int n)
{
	json_t *line = fakehttp_log_line(&e->f, n), *body = NULL;

	if (line)
		body = json_loads(
		    json_string_value(json_object_get(line, "body")), 0, NULL);
	json_decref(line);
	return body;
}

/* The operation of the n-th request ("Scan", ...), in buf. */
static inline const char *fsenv_op(const struct env *e, int n, char *buf,
				   size_t size)
{
	json_t *line = fakehttp_log_line(&e->f, n);
	const char *t = json_string_value(
	    json_object_get(json_object_get(line, "headers"), "x-amz-target"));
	const char *dot = t ? strchr(t, '.') : NULL;

	snprintf(buf, size, "%s", dot ? dot + 1 : "?");
	json_decref(line);
	return buf;
}

/* A DescribeTable answer for table name: hash key pk (type ht), range key
 * sk (type rt, or none when rt is 0), TableSizeBytes size. */
static inline char *fsenv_describe(const char *name, char ht, char rt,
				   long long size)
{
	char hts[2] = {ht, 0}, rts[2] = {rt, 0};
	json_t *t =
	    json_pack("{s{sss[{ssss}]s[{ssss}]sI}}", "Table", "TableName", name,
		      "KeySchema", "AttributeName", "pk", "KeyType", "HASH",
		      "AttributeDefinitions", "AttributeName", "pk",
		      "AttributeType", hts, "TableSizeBytes", (json_int_t)size);
	json_t *tt = json_object_get(t, "Table");
	char *text;

	if (rt) {
		json_array_append_new(json_object_get(tt, "KeySchema"),
				      json_pack("{ssss}", "AttributeName", "sk",
						"KeyType", "RANGE"));
		json_array_append_new(
		    json_object_get(tt, "AttributeDefinitions"),
		    json_pack("{ssss}", "AttributeName", "sk", "AttributeType",
			      rts));
	}
	text = json_dumps(t, JSON_COMPACT);
	json_decref(t);
	return text;
}

/* Adds a DescribeTable rule for table name (see fsenv_describe). */
static inline void fsenv_add_describe(json_t *rules, const char *name, char ht,
				      char rt, long long size)
{
	char *d = fsenv_describe(name, ht, rt, size);
	char match[128];

	snprintf(match, sizeof(match), "\"TableName\":\"%s\"", name);
	json_array_append_new(rules,
			      fsenv_rule("DescribeTable", match, 0, 200, d));
	free(d);
}

#endif
