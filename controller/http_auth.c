/*
 * http_auth.c: API key checks with a small time-bounded cache.
 *
 * The cache is direct-mapped on the key hash: a collision simply evicts,
 * so its size is fixed and a flood of random keys cannot grow it. One
 * mutex guards it, held only to copy an entry in or out.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_auth.h"
#include "nt_err.h"
#include "nt_hash.h"
#include "nt_time.h"

struct http_auth_entry {
	char hash[NT_SHA256_BUFLEN]; /* "" when the slot is empty */
	bool found;
	char name[STORE_NAME_BUFLEN];
	enum store_scope scope;
	int64_t expires_ms; /* monotonic */
};

struct http_auth {
	struct store *store;
	pthread_mutex_t lock;
	struct http_auth_entry slots[HTTP_AUTH_SLOTS];
};

int
http_auth_init(struct http_auth **ap, struct store *store)
{
	struct http_auth *a = calloc(1, sizeof(*a));

	if (a == NULL)
		return NT_ENOMEM;
	a->store = store;
	if (pthread_mutex_init(&a->lock, NULL) != 0) {
		free(a);
		return NT_ENOMEM;
	}
	*ap = a;
	return NT_OK;
}

void
http_auth_fini(struct http_auth *a)
{
	if (a == NULL)
		return;
	pthread_mutex_destroy(&a->lock);
	free(a);
}

/* The key part of "Bearer KEY"; NULL when the header is not that. */
static const char *
http_auth_bearer(const char *hdr, size_t *len)
{
	const char *key;
	size_t n;

	if (hdr == NULL || strncasecmp(hdr, "Bearer ", 7) != 0)
		return NULL;
	key = hdr + 7;
	while (*key == ' ')
		key++;
	n = strlen(key);
	while (n > 0 && key[n - 1] == ' ')
		n--;
	if (n == 0 || n > HTTP_AUTH_KEY_MAX)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (key[i] <= ' ' || key[i] > '~')
			return NULL;
	*len = n;
	return key;
}

static size_t
http_auth_slot(const char *hash)
{
	size_t v = 0;

	/* The hash is uniformly random: its first hex digits will do. */
	for (int i = 0; i < 8; i++) {
		char c = hash[i];
		v = v * 16 + (size_t)(c <= '9' ? c - '0' : c - 'a' + 10);
	}
	return v & (HTTP_AUTH_SLOTS - 1);
}

/* Copies a live cached answer out; false when there is none. */
static bool
http_auth_cached(struct http_auth *a, const char *hash, bool *found,
                 char name[STORE_NAME_BUFLEN], enum store_scope *scope)
{
	struct http_auth_entry *e = &a->slots[http_auth_slot(hash)];
	int64_t now = nt_time_mono_ms();
	bool hit;

	pthread_mutex_lock(&a->lock);
	hit = strcmp(e->hash, hash) == 0 && e->expires_ms > now;
	if (hit) {
		*found = e->found;
		memcpy(name, e->name, STORE_NAME_BUFLEN);
		*scope = e->scope;
	}
	pthread_mutex_unlock(&a->lock);
	return hit;
}

static void
http_auth_remember(struct http_auth *a, const char *hash, bool found,
                   const char *name, enum store_scope scope)
{
	struct http_auth_entry *e = &a->slots[http_auth_slot(hash)];
	int64_t ttl = found ? HTTP_AUTH_TTL_MS : HTTP_AUTH_NEG_TTL_MS;

	pthread_mutex_lock(&a->lock);
	memcpy(e->hash, hash, NT_SHA256_BUFLEN);
	e->found = found;
	snprintf(e->name, sizeof(e->name), "%s", found ? name : "");
	e->scope = scope;
	e->expires_ms = nt_time_mono_ms() + ttl;
	pthread_mutex_unlock(&a->lock);
}

int
http_auth_check(struct http_auth *a, const char *authorization,
                char name[STORE_NAME_BUFLEN], enum store_scope *scope)
{
	char hash[NT_SHA256_BUFLEN];
	const char *key;
	size_t len;
	bool found;
	int rv;

	name[0] = '\0';
	*scope = STORE_SCOPE_READ;
	if ((key = http_auth_bearer(authorization, &len)) == NULL)
		return NT_EPERM;
	nt_sha256_hex(key, len, hash);
	if (http_auth_cached(a, hash, &found, name, scope))
		return found ? NT_OK : NT_EPERM;
	rv = store_key_lookup(a->store, hash, name, scope);
	if (rv == NT_OK || rv == NT_ENOTFOUND)
		http_auth_remember(a, hash, rv == NT_OK, name, *scope);
	if (rv == NT_ENOTFOUND)
		return NT_EPERM;
	return rv;
}
