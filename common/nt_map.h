/*
 * nt_map.h: a string-keyed hash map (chained, grows by doubling).
 *
 * The hub keeps thousands of agent sessions and the agent its runs; both
 * need O(1) lookups by id. Keys are copied; values are the caller's. Not
 * thread-safe: the owner locks.
 */
#ifndef NT_MAP_H
#define NT_MAP_H

#include <stddef.h>

struct nt_map_entry;

struct nt_map {
	struct nt_map_entry **buckets;
	size_t n_buckets;
	size_t count;
};

void nt_map_init(struct nt_map *m);
/* Frees the map's own memory; values are left to the caller. */
void nt_map_fini(struct nt_map *m);
/* Inserts or replaces. NT_ENOMEM on allocation failure. */
int nt_map_put(struct nt_map *m, const char *key, void *value);
void *nt_map_get(const struct nt_map *m, const char *key);
/* Removes key; returns its value or NULL. */
void *nt_map_del(struct nt_map *m, const char *key);
/* Calls fn for every entry; fn must not change the map. */
void nt_map_each(const struct nt_map *m,
                 void (*fn)(const char *key, void *value, void *arg),
                 void *arg);

#endif
