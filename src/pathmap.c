/* pathmap.c - the intrusive path hash map of pathmap.h: chained buckets that
 * double at a load of one, FNV-1a; pure, no locks, no I/O. */
#include "pathmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int pathmap_init(struct pathmap *m, size_t n_buckets)
{
	memset(m, 0, sizeof(*m));
	m->buckets = calloc(n_buckets, sizeof(*m->buckets));
	if (!m->buckets)
		return -ENOMEM;
	m->n_buckets = n_buckets;
	return 0;
}

void pathmap_free(struct pathmap *m)
{
	free(m->buckets);
	memset(m, 0, sizeof(*m));
}

uint64_t pathmap_hash(const char *data, size_t len)
{
	const unsigned char *p = (const unsigned char *)data;
	uint64_t h = 14695981039346656037ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ULL;
	}
	return h;
}

struct pathmap_node *pathmap_find(const struct pathmap *m, const char *path,
				  size_t len, uint64_t hash)
{
	struct pathmap_node *n = m->buckets[hash % m->n_buckets];

	/* The hash only picks the bucket and skips most compares: distinct
	 * paths may share it. */
	for (; n; n = n->next)
		if (n->hash == hash && n->len == len &&
		    memcmp(n->path, path, len) == 0)
			return n;
	return NULL;
}

static void grow(struct pathmap *m)
{
	size_t nb = m->n_buckets * 2;
	struct pathmap_node **b = calloc(nb, sizeof(*b));

	if (!b)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < m->n_buckets; i++) {
		struct pathmap_node *n = m->buckets[i], *next;
		for (; n; n = next) {
			next = n->next;
			n->next = b[n->hash % nb];
			b[n->hash % nb] = n;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->n_buckets = nb;
}

void pathmap_insert(struct pathmap *m, struct pathmap_node *n)
{
	struct pathmap_node **head;

	if (m->n >= m->n_buckets)
		grow(m);
	head = &m->buckets[n->hash % m->n_buckets];
	n->next = *head;
	*head = n;
	m->n++;
}

void pathmap_remove(struct pathmap *m, struct pathmap_node *n)
{
	struct pathmap_node **pp = &m->buckets[n->hash % m->n_buckets];

	while (*pp != n)
		pp = &(*pp)->next;
	*pp = n->next;
	n->next = NULL;
	m->n--;
}

struct pathmap_node *pathmap_next(const struct pathmap *m,
				  const struct pathmap_node *n)
{
	size_t i = 0;

	if (n) {
		if (n->next)
			return n->next;
		/* n ended its chain: go on from the bucket after its own. */
		i = n->hash % m->n_buckets + 1;
	}
	for (; i < m->n_buckets; i++)
		if (m->buckets[i])
			return m->buckets[i];
	return NULL;
}

size_t pathmap_bucket_bytes(const struct pathmap *m)
{
	return m->n_buckets * sizeof(*m->buckets);
}
