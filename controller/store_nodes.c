/*
 * store_nodes.c: nodes (the agents the controller knows) and the one-time
 * enrollment tokens that let a new agent become one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nt_err.h"
#include "nt_hash.h"
#include "store_internal.h"

#define STORE_NODE_COLS                                                     \
	"id, hostname, state, ts_us(last_seen_at), agent_version, address," \
	" ts_us(created_at)"

static const struct store_stmt store_st_token_create = {
        STORE_PS_NONE, "token_create", 2,
        "INSERT INTO enroll_tokens (hash, expires_at)"
        " VALUES ($1, us_ts($2::bigint))"};

/* The token is consumed in the statement that creates the node. */
static const struct store_stmt store_st_node_enroll = {
        STORE_PS_NONE, "node_enroll", 4,
        "WITH t AS (UPDATE enroll_tokens SET used_at = now(),"
        "  used_by_node = $2::uuid"
        " WHERE hash = $1 AND used_at IS NULL AND expires_at > now()"
        " RETURNING hash)"
        " INSERT INTO nodes (id, hostname, secret_hash)"
        " SELECT $2::uuid, $3, $4 FROM t"
        " ON CONFLICT (id) DO UPDATE SET hostname = excluded.hostname,"
        "  secret_hash = excluded.secret_hash"
        " RETURNING id"};

/* Every agent request: prepared. */
static const struct store_stmt store_st_node_auth = {
        STORE_PS_NODE_AUTH, "node_auth", 1,
        "SELECT secret_hash FROM nodes WHERE id = $1"};

static const struct store_stmt store_st_node_online = {
        STORE_PS_NODE_ONLINE, "node_online", 4,
        "UPDATE nodes SET state = 'online', last_seen_at = now(),"
        " hostname = coalesce(nullif($2, ''), hostname),"
        " agent_version = coalesce($3, agent_version),"
        " address = coalesce($4, address)"
        " WHERE id = $1"};

static const struct store_stmt store_st_nodes_seen = {
        STORE_PS_NODES_SEEN, "nodes_seen", 1,
        "UPDATE nodes SET last_seen_at = now()"
        " WHERE id = ANY ($1::uuid[]) AND state = 'online'"};

static const struct store_stmt store_st_node_offline = {
        STORE_PS_NONE, "node_offline", 1,
        "UPDATE nodes SET state = 'offline' WHERE id = $1"};

static const struct store_stmt store_st_node_insert = {
        STORE_PS_NONE, "node_insert", 8,
        "INSERT INTO nodes (id, hostname, state, last_seen_at,"
        " agent_version, address, secret_hash, created_at)"
        " VALUES ($1, $2, coalesce(nullif($3, ''), 'offline'),"
        " us_ts($4::bigint), $5, $6, $7,"
        " coalesce(us_ts($8::bigint), now()))"};

static const struct store_stmt store_st_node_get = {
        STORE_PS_NONE, "node_get", 1,
        "SELECT " STORE_NODE_COLS " FROM nodes WHERE id = $1"};

static const struct store_stmt store_st_node_list = {
        STORE_PS_NONE, "node_list", 0,
        "SELECT " STORE_NODE_COLS " FROM nodes ORDER BY hostname, id"};

int
store_token_create(struct store *s, const char *token_hash,
                   int64_t expires_at_us)
{
	char exp[24];
	const char *p[] = {token_hash, exp};
	PGresult *r;
	int rv;

	if (token_hash == NULL || expires_at_us <= 0)
		return NT_EINVAL;
	snprintf(exp, sizeof(exp), "%lld", (long long)expires_at_us);
	rv = store_exec1(s, &store_st_token_create, p, &r);
	PQclear(r);
	return rv == NT_ECONFLICT ? NT_EEXIST : rv;
}

int
store_node_enroll(struct store *s, const char *token_hash, const char *node_id,
                  const char *hostname, const char *secret_hash)
{
	char id[NT_UUID_BUFLEN], *tmp;
	const char *p[4];
	PGresult *r;
	int rv;

	if (token_hash == NULL || secret_hash == NULL ||
	    !store_uuid(node_id, id))
		return NT_EINVAL;
	p[0] = token_hash;
	p[1] = id;
	p[2] = store_utf8(hostname != NULL ? hostname : "", &tmp);
	p[3] = secret_hash;
	if (p[2] == NULL)
		return NT_ENOMEM;
	rv = store_exec1(s, &store_st_node_enroll, p, &r);
	free(tmp);
	if (rv != NT_OK)
		return rv;
	/* No row: the token is unknown, used or expired. */
	rv = PQntuples(r) == 1 ? NT_OK : NT_EPERM;
	PQclear(r);
	return rv;
}

int
store_node_auth(struct store *s, const char *node_id, const char *secret_hash)
{
	const char *p[1];
	char id[NT_UUID_BUFLEN];
	const char *have;
	PGresult *r;
	int rv;

	if (secret_hash == NULL || !store_uuid(node_id, id))
		return NT_EPERM;
	p[0] = id;
	if ((rv = store_exec1(s, &store_st_node_auth, p, &r)) != NT_OK)
		return rv;
	rv = NT_EPERM;
	if (PQntuples(r) == 1 && (have = store_val(r, 0, 0)) != NULL &&
	    strlen(have) == strlen(secret_hash) &&
	    nt_secret_equal(have, secret_hash))
		rv = NT_OK;
	PQclear(r);
	return rv;
}

/* For UPDATEs of one node: no row means no such node. */
static int
store_node_update(struct store *s, const struct store_stmt *st,
                  const char *const *p)
{
	PGresult *r;
	int rv;

	if ((rv = store_exec1(s, st, p, &r)) != NT_OK)
		return rv;
	rv = strcmp(PQcmdTuples(r), "0") == 0 ? NT_ENOTFOUND : NT_OK;
	PQclear(r);
	return rv;
}

int
store_node_online(struct store *s, const char *node_id, const char *hostname,
                  const char *agent_version, const char *address)
{
	const char *in[3] = {hostname, agent_version, address};
	char id[NT_UUID_BUFLEN], *tmp[3] = {NULL};
	const char *p[4];
	int rv = NT_OK;

	if (!store_uuid(node_id, id))
		return NT_EINVAL;
	p[0] = id;
	/* What an agent says about itself is not trusted to be UTF-8. */
	for (int i = 0; i < 3; i++) {
		p[i + 1] = store_utf8(in[i], &tmp[i]);
		if (in[i] != NULL && p[i + 1] == NULL)
			rv = NT_ENOMEM;
	}
	if (rv == NT_OK)
		rv = store_node_update(s, &store_st_node_online, p);
	for (int i = 0; i < 3; i++)
		free(tmp[i]);
	return rv;
}

int
store_nodes_seen(struct store *s, const char (*ids)[NT_UUID_BUFLEN], size_t n)
{
	struct store_buf b = {0};
	const char *p[1];
	PGresult *r;
	int rv;

	for (size_t i = 0; i < n; i++)
		if (store_uuid(ids[i], NULL))
			store_buf_elem(&b, ids[i]);
	if (b.len == 0)
		return NT_OK;
	if ((p[0] = store_buf_end(&b)) == NULL) {
		store_buf_fini(&b);
		return NT_ENOMEM;
	}
	rv = store_exec1(s, &store_st_nodes_seen, p, &r);
	PQclear(r);
	store_buf_fini(&b);
	return rv;
}

int
store_node_offline(struct store *s, const char *node_id)
{
	char id[NT_UUID_BUFLEN];
	const char *p[] = {id};

	if (!store_uuid(node_id, id))
		return NT_EINVAL;
	return store_node_update(s, &store_st_node_offline, p);
}

int
store_node_insert(struct store *s, const struct store_node *node,
                  const char *secret_hash)
{
	char id[NT_UUID_BUFLEN], seen[24], created[24];
	const char *p[8];
	PGresult *r;
	int rv;

	if (node == NULL || !store_uuid(node->id, id))
		return NT_EINVAL;
	snprintf(seen, sizeof(seen), "%lld", (long long)node->last_seen_at_us);
	snprintf(created, sizeof(created), "%lld",
	         (long long)node->created_at_us);
	p[0] = id;
	p[1] = node->hostname;
	p[2] = node->state;
	p[3] = seen;
	p[4] = node->agent_version;
	p[5] = node->address;
	p[6] = secret_hash;
	p[7] = created;
	rv = store_exec1(s, &store_st_node_insert, p, &r);
	PQclear(r);
	return rv == NT_ECONFLICT ? NT_EEXIST : rv;
}

static int
store_node_row(void *item, const PGresult *r, int i)
{
	struct store_node *n = item;

	store_copy(n->id, sizeof(n->id), r, i, 0);
	store_copy(n->hostname, sizeof(n->hostname), r, i, 1);
	store_copy(n->state, sizeof(n->state), r, i, 2);
	n->last_seen_at_us = store_i64(r, i, 3);
	store_copy(n->agent_version, sizeof(n->agent_version), r, i, 4);
	store_copy(n->address, sizeof(n->address), r, i, 5);
	n->created_at_us = store_i64(r, i, 6);
	return NT_OK;
}

int
store_node_get(struct store *s, const char *id, struct store_node *out)
{
	char nid[NT_UUID_BUFLEN];
	const char *p[] = {nid};
	PGresult *r;
	int rv;

	memset(out, 0, sizeof(*out));
	if (!store_uuid(id, nid))
		return NT_EINVAL;
	if ((rv = store_exec1(s, &store_st_node_get, p, &r)) != NT_OK)
		return rv;
	rv = PQntuples(r) == 1 ? store_node_row(out, r, 0) : NT_ENOTFOUND;
	PQclear(r);
	return rv;
}

int
store_node_list(struct store *s, struct store_node **items, size_t *n)
{
	PGresult *r;
	int rv;

	*items = NULL;
	*n = 0;
	if ((rv = store_exec1(s, &store_st_node_list, NULL, &r)) != NT_OK)
		return rv;
	rv = store_rows(r, sizeof(**items), store_node_row, NULL,
	                (void **)items, n);
	PQclear(r);
	return rv;
}

void
store_node_free(struct store_node *items, size_t n)
{
	(void)n;
	free(items);
}
