/*
 * store_keys.c: API keys, stored as the SHA-256 of the secret.
 *
 * A name is unique among active keys only: a revoked key keeps its row
 * (for the audit trail) and its name can be given to a new key.
 */
#include <stdlib.h>
#include <string.h>

#include "nt_err.h"
#include "store_internal.h"

static const struct store_stmt store_st_key_create = {
        STORE_PS_NONE, "key_create", 3,
        "INSERT INTO api_keys (name, scope, hash) VALUES ($1, $2, $3)"};

/* Every authenticated request: prepared. */
static const struct store_stmt store_st_key_lookup = {
        STORE_PS_KEY_LOOKUP, "key_lookup", 1,
        "SELECT name, scope FROM api_keys"
        " WHERE hash = $1 AND revoked_at IS NULL"};

static const struct store_stmt store_st_key_list = {
        STORE_PS_NONE, "key_list", 0,
        "SELECT name, scope, ts_us(created_at), ts_us(revoked_at)"
        " FROM api_keys ORDER BY created_at, id"};

static const struct store_stmt store_st_key_revoke = {
        STORE_PS_NONE, "key_revoke", 1,
        "UPDATE api_keys SET revoked_at = now()"
        " WHERE name = $1 AND revoked_at IS NULL"};

static const char *
store_scope_name(enum store_scope scope)
{
	switch (scope) {
	case STORE_SCOPE_READ:
		return "read";
	case STORE_SCOPE_ADMIN:
		return "admin";
	}
	return NULL;
}

static enum store_scope
store_scope_parse(const char *s)
{
	return s != NULL && strcmp(s, "admin") == 0 ? STORE_SCOPE_ADMIN
	                                            : STORE_SCOPE_READ;
}

int
store_key_create(struct store *s, const char *name, enum store_scope scope,
                 const char *hash_hex)
{
	const char *p[] = {name, store_scope_name(scope), hash_hex};
	PGresult *r;
	int rv;

	if (name == NULL || name[0] == '\0' || p[1] == NULL ||
	    hash_hex == NULL || strlen(name) >= STORE_NAME_BUFLEN)
		return NT_EINVAL;
	rv = store_exec1(s, &store_st_key_create, p, &r);
	PQclear(r);
	/* Either the name is taken by an active key or the hash exists. */
	return rv == NT_ECONFLICT ? NT_EEXIST : rv;
}

int
store_key_lookup(struct store *s, const char *hash_hex,
                 char name[STORE_NAME_BUFLEN], enum store_scope *scope)
{
	const char *p[] = {hash_hex};
	PGresult *r;
	int rv;

	if (hash_hex == NULL)
		return NT_EINVAL;
	if ((rv = store_exec1(s, &store_st_key_lookup, p, &r)) != NT_OK)
		return rv;
	if (PQntuples(r) == 0) {
		rv = NT_ENOTFOUND;
	} else {
		store_copy(name, STORE_NAME_BUFLEN, r, 0, 0);
		*scope = store_scope_parse(store_val(r, 0, 1));
	}
	PQclear(r);
	return rv;
}

static int
store_key_row(void *item, const PGresult *r, int i)
{
	struct store_key *k = item;

	store_copy(k->name, sizeof(k->name), r, i, 0);
	k->scope = store_scope_parse(store_val(r, i, 1));
	k->created_at_us = store_i64(r, i, 2);
	k->revoked_at_us = store_i64(r, i, 3);
	return NT_OK;
}

int
store_key_list(struct store *s, struct store_key **items, size_t *n)
{
	PGresult *r;
	int rv;

	*items = NULL;
	*n = 0;
	if ((rv = store_exec1(s, &store_st_key_list, NULL, &r)) != NT_OK)
		return rv;
	rv = store_rows(r, sizeof(**items), store_key_row, NULL, (void **)items,
	                n);
	PQclear(r);
	return rv;
}

void
store_key_free(struct store_key *items, size_t n)
{
	(void)n;
	free(items);
}

int
store_key_revoke(struct store *s, const char *name)
{
	const char *p[] = {name};
	PGresult *r;
	int rv;

	if (name == NULL)
		return NT_EINVAL;
	if ((rv = store_exec1(s, &store_st_key_revoke, p, &r)) != NT_OK)
		return rv;
	if (strcmp(PQcmdTuples(r), "0") == 0)
		rv = NT_ENOTFOUND;
	PQclear(r);
	return rv;
}
