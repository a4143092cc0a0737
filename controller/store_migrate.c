/*
 * store_migrate.c: applies the compiled-in schema migrations.
 *
 * Each migration runs in its own transaction together with the row that
 * records it in schema_migrations, under a transaction-scoped advisory
 * lock, so two controllers starting at once apply each migration once.
 */
#include <stdio.h>

#include "nt_err.h"
#include "nt_log.h"
#include "store_internal.h"
#include "store_migrations.h"

/* Any fixed number; it only has to be ours. ("ntmigrat" in ASCII.) */
#define STORE_MIGRATE_LOCK "7918424380745347444"

static const struct store_stmt store_st_lock = {
        STORE_PS_NONE, "migrate_lock", 1,
        "SELECT pg_advisory_xact_lock($1::bigint)"};

static const struct store_stmt store_st_table = {
        STORE_PS_NONE, "migrate_table", 0,
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version integer PRIMARY KEY,"
        " name text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())"};

static const struct store_stmt store_st_applied = {
        STORE_PS_NONE, "migrate_applied", 1,
        "SELECT 1 FROM schema_migrations WHERE version = $1::integer"};

static const struct store_stmt store_st_record = {
        STORE_PS_NONE, "migrate_record", 2,
        "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)"};

static const struct store_stmt store_st_exists = {
        STORE_PS_NONE, "schema_exists", 0,
        "SELECT to_regclass('schema_migrations') IS NOT NULL"};

static const struct store_stmt store_st_version = {
        STORE_PS_NONE, "schema_version", 0,
        "SELECT coalesce(max(version), 0) FROM schema_migrations"};

/* Runs statements in order until one fails. */
static int
store_migrate_exec(struct store_conn *c, const struct store_stmt *st,
                   const char *const *params, int *rows)
{
	PGresult *r;
	int rv;

	if ((rv = store_exec(c, st, params, &r)) != NT_OK)
		return rv;
	if (rows != NULL)
		*rows = PQntuples(r);
	PQclear(r);
	return NT_OK;
}

/* Applies m unless recorded; *did tells whether it ran. */
static int
store_migrate_one(struct store_conn *c, const struct store_migration *m,
                  bool *did)
{
	const char *lock[] = {STORE_MIGRATE_LOCK};
	char ver[16];
	const char *p[] = {ver, m->name};
	int rv, rows;

	*did = false;
	snprintf(ver, sizeof(ver), "%d", m->version);
	if ((rv = store_begin(c)) != NT_OK)
		return rv;
	if ((rv = store_migrate_exec(c, &store_st_lock, lock, NULL)) ||
	    (rv = store_migrate_exec(c, &store_st_table, NULL, NULL)) ||
	    (rv = store_migrate_exec(c, &store_st_applied, p, &rows)))
		goto fail;
	if (rows > 0) {
		store_rollback(c);
		return NT_OK;
	}
	if ((rv = store_simple(c, m->sql)) != NT_OK) {
		nt_error("store: migration %s failed", m->name);
		goto fail;
	}
	if ((rv = store_migrate_exec(c, &store_st_record, p, NULL)) ||
	    (rv = store_commit(c)))
		goto fail;
	nt_info("store: applied migration %s", m->name);
	*did = true;
	return NT_OK;
fail:
	store_rollback(c);
	return rv;
}

int
store_migrate(struct store *s, int *applied)
{
	struct store_conn *c;
	bool did;
	int rv = NT_OK;

	if (applied != NULL)
		*applied = 0;
	if ((rv = store_conn_get(s, &c)) != NT_OK)
		return rv;
	for (int i = 0; i < store_migrations_count && rv == NT_OK; i++) {
		rv = store_migrate_one(c, &store_migrations[i], &did);
		if (rv == NT_OK && did && applied != NULL)
			(*applied)++;
	}
	store_conn_put(s, c);
	return rv;
}

int
store_schema_version(struct store *s, int *version)
{
	struct store_conn *c;
	PGresult *r;
	bool exists;
	int rv;

	*version = 0;
	if ((rv = store_conn_get(s, &c)) != NT_OK)
		return rv;
	/* Before the first migration there is no table: version 0. */
	if ((rv = store_exec(c, &store_st_exists, NULL, &r)) != NT_OK)
		goto out;
	exists = store_bool(r, 0, 0);
	PQclear(r);
	if (exists &&
	    (rv = store_exec(c, &store_st_version, NULL, &r)) == NT_OK) {
		*version = (int)store_i64(r, 0, 0);
		PQclear(r);
	}
out:
	store_conn_put(s, c);
	return rv;
}
