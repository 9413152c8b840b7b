/* cond.c - builds the ConditionExpression that stores an item only if it is
 * still what the writer saw, within DynamoDB's expression limits. Pure. */
#include "cond.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "dynbuf.h"

/* The expression as it grows; a snapshot lets one attribute's comparisons
 * be taken back whole when they do not fit. */
struct builder {
	struct dynbuf expr;
	json_t *names;	  /* "#nK" -> name */
	json_t *values;	  /* ":vK" -> value */
	json_t *name_ids; /* name -> K */
	json_t *size_ids; /* decimal count -> K, sizes share placeholders */
	unsigned n_names;
	unsigned n_values;
	unsigned ops;
	bool any; /* a comparison was written: the next needs AND */
	size_t expr_max;
	unsigned ops_max;
};

struct snapshot {
	size_t len;
	unsigned n_names, n_values, ops;
	bool any;
};

/* Why an attribute's comparisons could not be written. */
#define OVER  1 /* over a limit, or not expressible */
#define NOMEM (-ENOMEM)

static struct snapshot snap_take(const struct builder *b)
{
	struct snapshot s = {b->expr.len, b->n_names, b->n_values, b->ops,
			     b->any};
	return s;
}

/* Drops the ids at or past first from ids (name or count -> K). */
static void drop_ids(json_t *ids, unsigned first)
{
	const char *key;
	json_t *v, *tmp;
	void *it;

	(void)key;
	(void)v;
	it = json_object_iter(ids);
	while (it) {
		v = json_object_iter_value(it);
		tmp = it;
		it = json_object_iter_next(ids, it);
		if (json_integer_value(v) >= (json_int_t)first)
			json_object_del(ids, json_object_iter_key(tmp));
	}
}

static void snap_restore(struct builder *b, const struct snapshot *s)
{
	char ph[32];

	for (unsigned i = s->n_names; i < b->n_names; i++) {
		snprintf(ph, sizeof(ph), "#n%u", i);
		json_object_del(b->names, ph);
	}
	for (unsigned i = s->n_values; i < b->n_values; i++) {
		snprintf(ph, sizeof(ph), ":v%u", i);
		json_object_del(b->values, ph);
	}
	drop_ids(b->name_ids, s->n_names);
	drop_ids(b->size_ids, s->n_values);
	b->expr.len = s->len;
	if (b->expr.p)
		b->expr.p[s->len] = '\0';
	b->n_names = s->n_names;
	b->n_values = s->n_values;
	b->ops = s->ops;
	b->any = s->any;
}

/* Appends the placeholder of attribute name to out, making one if new. */
static int add_name(struct builder *b, const char *name, struct dynbuf *out)
{
	json_t *id = json_object_get(b->name_ids, name);
	char ph[32];

	if (name[0] == '\0')
		return OVER; /* an expression cannot name it */
	if (!id) {
		snprintf(ph, sizeof(ph), "#n%u", b->n_names);
		if (json_object_set_new(b->names, ph, json_string(name)) ||
		    json_object_set_new(b->name_ids, name,
					json_integer(b->n_names)))
			return NOMEM;
		b->n_names++;
	} else {
		snprintf(ph, sizeof(ph), "#n%u",
			 (unsigned)json_integer_value(id));
	}
	return dynbuf_adds(out, ph) ? NOMEM : 0;
}

/* Appends a new value placeholder for value (borrowed) to b->expr. */
static int add_value(struct builder *b, json_t *value)
{
	char ph[32];

	snprintf(ph, sizeof(ph), ":v%u", b->n_values);
	if (json_object_set(b->values, ph, value))
		return NOMEM;
	b->n_values++;
	return dynbuf_adds(&b->expr, ph) ? NOMEM : 0;
}

/* Appends the placeholder of the number n, shared by every size(). */
static int add_count(struct builder *b, size_t n)
{
	char num[32], ph[32];
	json_t *id, *v;

	snprintf(num, sizeof(num), "%zu", n);
	id = json_object_get(b->size_ids, num);
	if (id) {
		snprintf(ph, sizeof(ph), ":v%u",
			 (unsigned)json_integer_value(id));
		return dynbuf_adds(&b->expr, ph) ? NOMEM : 0;
	}
	v = json_pack("{s:s}", "N", num);
	if (!v ||
	    json_object_set_new(b->size_ids, num, json_integer(b->n_values))) {
		json_decref(v);
		return NOMEM;
	}
	snprintf(ph, sizeof(ph), ":v%u", b->n_values);
	if (json_object_set_new(b->values, ph, v))
		return NOMEM;
	b->n_values++;
	return dynbuf_adds(&b->expr, ph) ? NOMEM : 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int check_limits(const struct builder *b)
{
	return b->expr.len > b->expr_max || b->ops > b->ops_max ? OVER : 0;
}

/* " AND " before every comparison but the first. */
static int conjunct(struct builder *b)
{
	if (!b->any) {
		b->any = true;
		return 0;
	}
	b->ops++;
	return dynbuf_adds(&b->expr, " AND ") ? NOMEM : 0;
}

/* Writes the comparisons that hold when the value at path (text) is value
 * (an attribute value): one "=" for a scalar or a set, size() and each
 * member for a map or a list. */
static int compare_value(struct builder *b, struct dynbuf *path, json_t *value,
			 unsigned depth)
{
	const char *tag;
	json_t *inner;
	size_t len = path->len;
	int rc;

	if (!json_is_object(value) || json_object_size(value) != 1)
		return -EINVAL;
	tag = json_object_iter_key(json_object_iter(value));
	inner = json_object_iter_value(json_object_iter(value));
	if (depth > COND_DEPTH_MAX)
		return OVER;
	if ((strcmp(tag, "M") == 0 && json_is_object(inner)) ||
	    (strcmp(tag, "L") == 0 && json_is_array(inner))) {
		size_t n = json_is_object(inner) ? json_object_size(inner)
						 : json_array_size(inner);

		rc = conjunct(b);
		if (!rc)
			rc = dynbuf_adds(&b->expr, "size(") ||
				     dynbuf_add(&b->expr, path->p, path->len) ||
				     dynbuf_adds(&b->expr, ") = ")
				 ? NOMEM
				 : 0;
		if (!rc)
			rc = add_count(b, n);
		b->ops += 2;
		if (!rc)
			rc = check_limits(b);
		if (json_is_array(inner)) {
			for (size_t i = 0; !rc && i < n; i++) {
				char idx[32];

				snprintf(idx, sizeof(idx), "[%zu]", i);
				rc = dynbuf_adds(path, idx) ? NOMEM : 0;
				if (!rc)
					rc = compare_value(
					    b, path, json_array_get(inner, i),
					    depth + 1);
				path->len = len;
				path->p[len] = '\0';
			}
		} else if (n > 0) {
			/* By name, so the same item always gives the same
			 * expression. */
			const char **keys = calloc(n, sizeof(*keys));
			const char *k;
			json_t *v;
			size_t i = 0;

			if (!keys)
				return NOMEM;
			json_object_foreach(inner, k, v) keys[i++] = k;
			qsort(keys, n, sizeof(*keys), by_name);
			for (i = 0; !rc && i < n; i++) {
				rc = dynbuf_addc(path, '.') ? NOMEM : 0;
				if (!rc)
					rc = add_name(b, keys[i], path);
				if (!rc)
					rc = compare_value(
					    b, path,
					    json_object_get(inner, keys[i]),
					    depth + 1);
				path->len = len;
				path->p[len] = '\0';
			}
			free(keys);
		}
		return rc;
	}
	rc = conjunct(b);
	if (!rc)
		rc = dynbuf_add(&b->expr, path->p, path->len) ||
			     dynbuf_adds(&b->expr, " = ")
			 ? NOMEM
			 : 0;
	if (!rc)
		rc = add_value(b, value);
	b->ops++;
	return rc ? rc : check_limits(b);
}

/* Writes the comparisons of one top-level attribute, or, when they do not
 * fit, none of them and the attribute into unchecked. */
static int compare_attr(struct builder *b, const char *name, json_t *value,
			json_t *unchecked)
{
	struct snapshot s = snap_take(b);
	struct dynbuf path = {0};
	int rc;

	rc = add_name(b, name, &path);
	if (!rc)
		rc = compare_value(b, &path, value, 1);
	dynbuf_free(&path);
	if (rc == OVER) {
		snap_restore(b, &s);
		rc = json_object_set(unchecked, name, value) ? NOMEM : 0;
	}
	return rc;
}

/* "attribute_not_exists(#n)" as one comparison. */
static int compare_absent(struct builder *b, const char *name)
{
	int rc = conjunct(b);

	if (!rc)
		rc = dynbuf_adds(&b->expr, "attribute_not_exists(") ? NOMEM : 0;
	if (!rc)
		rc = add_name(b, name, &b->expr);
	if (!rc)
		rc = dynbuf_addc(&b->expr, ')') ? NOMEM : 0;
	b->ops++;
	return rc;
}

void cond_clear(struct cond *c)
{
	free(c->expr);
	json_decref(c->names);
	json_decref(c->values);
	json_decref(c->unchecked);
	memset(c, 0, sizeof(*c));
}

int cond_build(struct cond *c, const struct cond_want *w)
{
	struct builder b = {0};
	const char **others = NULL;
	json_t *unchecked = NULL, *ver, *v;
	const char *keys[2], *name;
	size_t n = 0;
	int rc = -ENOMEM;

	memset(c, 0, sizeof(*c));
	if (!w->hash_name || (w->seen && !json_is_object(w->seen)))
		return -EINVAL;
	b.expr_max = w->expr_max ? w->expr_max : COND_EXPR_MAX;
	b.ops_max = w->ops_max ? w->ops_max : COND_OPS_MAX;
	b.names = json_object();
	b.values = json_object();
	b.name_ids = json_object();
	b.size_ids = json_object();
	unchecked = json_object();
	if (!b.names || !b.values || !b.name_ids || !b.size_ids || !unchecked)
		goto out;
	if (!w->seen) {
		rc = compare_absent(&b, w->hash_name);
		goto out;
	}
	ver = w->version ? json_object_get(w->seen, w->version) : NULL;
	if (ver && json_is_string(json_object_get(ver, "N"))) {
		rc = compare_attr(&b, w->version, ver, unchecked);
		goto out;
	}
	if (w->version && !ver) {
		rc = compare_absent(&b, w->version);
		if (rc)
			goto out;
	}
	keys[0] = w->hash_name;
	keys[1] = w->range_name;
	for (int i = 0; i < 2; i++) {
		v = keys[i] ? json_object_get(w->seen, keys[i]) : NULL;
		if (v && (rc = compare_attr(&b, keys[i], v, unchecked)) != 0)
			goto out;
	}
	rc = -ENOMEM;
	others = calloc(json_object_size(w->seen) + 1, sizeof(*others));
	if (!others)
		goto out;
	json_object_foreach(w->seen, name, v)
	{
		if (strcmp(name, w->hash_name) != 0 &&
		    (!w->range_name || strcmp(name, w->range_name) != 0))
			others[n++] = name;
	}
	qsort(others, n, sizeof(*others), by_name);
	rc = 0;
	for (size_t i = 0; !rc && i < n; i++)
		rc = compare_attr(&b, others[i],
				  json_object_get(w->seen, others[i]),
				  unchecked);
	if (!rc && !b.any) /* an item with no attribute cannot be seen */
		rc = -EINVAL;
out:
	free(others);
	json_decref(b.name_ids);
	json_decref(b.size_ids);
	if (rc == 0) {
		c->expr = dynbuf_take(&b.expr);
		if (!c->expr)
			rc = -ENOMEM;
	}
	if (rc) {
		rc = rc == OVER ? -EINVAL : rc;
		dynbuf_free(&b.expr);
		json_decref(b.names);
		json_decref(b.values);
		json_decref(unchecked);
		return rc;
	}
	c->names = b.names;
	c->values = json_object_size(b.values) ? b.values : NULL;
	if (!c->values)
		json_decref(b.values);
	c->unchecked = json_object_size(unchecked) ? unchecked : NULL;
	if (!c->unchecked)
		json_decref(unchecked);
	return 0;
}

/* ---- comparing values as DynamoDB does ---------------------------------- */

static bool member_in(const json_t *x, const json_t *set, bool number)
{
	size_t i;
	json_t *m;

	json_array_foreach(set, i, m)
	{
		if (number ? json_is_string(x) && json_is_string(m) &&
				 codec_number_compare(json_string_value(x),
						      json_string_value(m)) == 0
			   : json_equal(x, m))
			return true;
	}
	return false;
}

bool cond_value_equal(const json_t *a, const json_t *b)
{
	const char *ta, *tb, *k;
	json_t *ia, *ib, *v;
	size_t i;

	if (!json_is_object(a) || !json_is_object(b) ||
	    json_object_size(a) != 1 || json_object_size(b) != 1)
		return false;
	ta = json_object_iter_key(json_object_iter((json_t *)a));
	tb = json_object_iter_key(json_object_iter((json_t *)b));
	if (strcmp(ta, tb) != 0)
		return false;
	ia = json_object_iter_value(json_object_iter((json_t *)a));
	ib = json_object_iter_value(json_object_iter((json_t *)b));
	if (strcmp(ta, "N") == 0)
		return json_is_string(ia) && json_is_string(ib) &&
		       codec_number_compare(json_string_value(ia),
					    json_string_value(ib)) == 0;
	if (strcmp(ta, "SS") == 0 || strcmp(ta, "BS") == 0 ||
	    strcmp(ta, "NS") == 0) {
		/* Members are unique: same count and each found is equal. */
		if (!json_is_array(ia) || !json_is_array(ib) ||
		    json_array_size(ia) != json_array_size(ib))
			return false;
		json_array_foreach(ia, i, v)
		{
			if (!member_in(v, ib, ta[0] == 'N'))
				return false;
		}
		return true;
	}
	if (strcmp(ta, "M") == 0) {
		if (!json_is_object(ia) || !json_is_object(ib) ||
		    json_object_size(ia) != json_object_size(ib))
			return false;
		json_object_foreach(ia, k, v)
		{
			if (!cond_value_equal(v, json_object_get(ib, k)))
				return false;
		}
		return true;
	}
	if (strcmp(ta, "L") == 0) {
		if (!json_is_array(ia) || !json_is_array(ib) ||
		    json_array_size(ia) != json_array_size(ib))
			return false;
		json_array_foreach(ia, i, v)
		{
			if (!cond_value_equal(v, json_array_get(ib, i)))
				return false;
		}
		return true;
	}
	return json_equal(ia, ib);
}

bool cond_attrs_hold(const json_t *want, const json_t *item)
{
	const char *k;
	json_t *v;

	if (!item)
		return false;
	json_object_foreach((json_t *)want, k, v)
	{
		if (!cond_value_equal(v, json_object_get(item, k)))
			return false;
	}
	return true;
}
