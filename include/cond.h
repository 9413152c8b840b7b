/* cond.h - the condition that makes a PutItem a compare-and-swap: the stored
 * item must still be what the writer saw (SPEC §6, "No lost updates"). Pure. */
#ifndef DYNAMOFS_COND_H
#define DYNAMOFS_COND_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* DynamoDB's limits on one expression: its text, and the operators and
 * functions in it (each "=", "AND", "size" and "attribute_not_exists"
 * counts one). */
#define COND_EXPR_MAX 4096
#define COND_OPS_MAX  300
/* The deepest document path compared: a top-level attribute is depth 1,
 * each map member or list element one deeper (a.b[1].c is depth 4). */
#define COND_DEPTH_MAX 32

/* A condition for PutItem's ConditionExpression. Zero-initialise; every
 * member is owned by the struct and released by cond_clear. */
struct cond {
	char *expr;	/* ConditionExpression */
	json_t *names;	/* ExpressionAttributeNames: "#n0" -> name */
	json_t *values; /* ExpressionAttributeValues: ":v0" -> value */
	/* Top-level attributes of the seen item the expression could not
	 * hold (name -> value), to be compared another way (a consistent
	 * read); NULL when every attribute is in the expression. */
	json_t *unchecked;
};

/* What a write expects of the stored item. */
struct cond_want {
	/* The item the writer saw (borrowed DynamoDB-JSON item), or NULL:
	 * the writer saw no item, so none may exist. */
	json_t *seen;
	const char *hash_name;	/* the table's partition key */
	const char *range_name; /* its sort key, NULL for none */
	/* version_attribute=, or NULL. When seen holds it as a number, the
	 * condition is that number alone; when seen lacks it, every
	 * attribute is compared and the attribute must still be absent. */
	const char *version;
	/* Limits (0: COND_EXPR_MAX, COND_OPS_MAX); tests make them small. */
	size_t expr_max;
	unsigned ops_max;
};

/* Builds into c (zeroed, or cleared) the condition that holds exactly when
 * the stored item is want->seen, as far as one expression can tell:
 *   - no seen item:              attribute_not_exists(#n0)   (#n0 = hash)
 *   - seen with version number:  #n0 = :v0                   (the version)
 *   - otherwise every top-level attribute of seen, key attributes first,
 *     then by name: scalars and sets "#n = :v" (DynamoDB compares sets
 *     regardless of order and numbers by value), maps and lists "size(#n)
 *     = :v" and each member in turn by its path (#n.#m, #n[2]), because
 *     dynalite's "=" never matches a map or a list; joined by AND.
 * An attribute whose comparisons do not fit in what is left of the limits
 * (or nest deeper than COND_DEPTH_MAX, or hold an empty map key, which no
 * expression can name) goes whole into c->unchecked instead; the key
 * attributes always fit. Returns 0, -EINVAL when seen is not an object
 * of attribute values or hash_name is missing, or -ENOMEM (c is then
 * cleared). */
int cond_build(struct cond *c, const struct cond_want *want);

/* Releases what c holds and zeroes it. */
void cond_clear(struct cond *c);

/* Whether a and b (borrowed DynamoDB-JSON attribute values, {"S": ...})
 * are equal as DynamoDB's "=" compares them: same type, numbers by value
 * ("1.50" = "1.5"), sets as sets (any order), maps by members in any
 * order, lists member by member. */
bool cond_value_equal(const json_t *a, const json_t *b);

/* Whether every attribute of want (name -> value, borrowed) is in item
 * (borrowed, a DynamoDB-JSON item; NULL: none) with an equal value. */
bool cond_attrs_hold(const json_t *want, const json_t *item);

#endif
