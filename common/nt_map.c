/*
 * nt_map.c: string-keyed chained hash map (see nt_map.h).
 */
#include "nt_map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nt_err.h"

struct nt_map_entry {
	struct nt_map_entry *next;
	uint64_t hash;
	void *value;
	char key[]; /* NUL-terminated copy */
};

/* FNV-1a: keys are short ids, collisions are cheap with chaining. */
static uint64_t
nt_map_hash(const char *key)
{
	uint64_t h = 1469598103934665603ULL;

	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		h ^= *p;
		h *= 1099511628211ULL;
	}
	return h;
}

void
nt_map_init(struct nt_map *m)
{
	memset(m, 0, sizeof(*m));
}

void
nt_map_fini(struct nt_map *m)
{
	for (size_t i = 0; i < m->n_buckets; i++) {
		struct nt_map_entry *e = m->buckets[i];

		while (e != NULL) {
			struct nt_map_entry *next = e->next;

			free(e);
			e = next;
		}
	}
	free(m->buckets);
	memset(m, 0, sizeof(*m));
}

static int
nt_map_grow(struct nt_map *m)
{
	size_t n = m->n_buckets == 0 ? 16 : m->n_buckets * 2;
	struct nt_map_entry **b = calloc(n, sizeof(*b));

	if (b == NULL)
		return NT_ENOMEM;
	for (size_t i = 0; i < m->n_buckets; i++) {
		struct nt_map_entry *e = m->buckets[i];

		while (e != NULL) {
			struct nt_map_entry *next = e->next;

			e->next = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
			e = next;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->n_buckets = n;
	return NT_OK;
}

static struct nt_map_entry **
nt_map_slot(const struct nt_map *m, const char *key, uint64_t h)
{
	struct nt_map_entry **pp;

	if (m->n_buckets == 0)
		return NULL;
	pp = &m->buckets[h & (m->n_buckets - 1)];
	while (*pp != NULL &&
	       ((*pp)->hash != h || strcmp((*pp)->key, key) != 0))
		pp = &(*pp)->next;
	return pp;
}

int
nt_map_put(struct nt_map *m, const char *key, void *value)
{
	uint64_t h = nt_map_hash(key);
	struct nt_map_entry **pp = nt_map_slot(m, key, h);
	struct nt_map_entry *e;
	size_t len;

	if (pp != NULL && *pp != NULL) {
		(*pp)->value = value;
		return NT_OK;
	}
	if (m->count + 1 > m->n_buckets && nt_map_grow(m) != NT_OK)
		return NT_ENOMEM;
	len = strlen(key);
	if ((e = malloc(sizeof(*e) + len + 1)) == NULL)
		return NT_ENOMEM;
	memcpy(e->key, key, len + 1);
	e->hash = h;
	e->value = value;
	e->next = m->buckets[h & (m->n_buckets - 1)];
	m->buckets[h & (m->n_buckets - 1)] = e;
	m->count++;
	return NT_OK;
}

void *
nt_map_get(const struct nt_map *m, const char *key)
{
	struct nt_map_entry **pp = nt_map_slot(m, key, nt_map_hash(key));

	return pp != NULL && *pp != NULL ? (*pp)->value : NULL;
}

void *
nt_map_del(struct nt_map *m, const char *key)
{
	struct nt_map_entry **pp = nt_map_slot(m, key, nt_map_hash(key));
	struct nt_map_entry *e;
	void *v;

	if (pp == NULL || *pp == NULL)
		return NULL;
	e = *pp;
	*pp = e->next;
	v = e->value;
	free(e);
	m->count--;
	return v;
}

void
nt_map_each(const struct nt_map *m,
            void (*fn)(const char *key, void *value, void *arg), void *arg)
{
	for (size_t i = 0; i < m->n_buckets; i++)
		for (struct nt_map_entry *e = m->buckets[i]; e != NULL;
		     e = e->next)
			fn(e->key, e->value, arg);
}
