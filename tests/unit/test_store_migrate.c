/*
 * test_store_migrate.c: schema migrations and the connection pool:
 * migrations apply once and record their version, two controllers can
 * migrate at once, hot statements are prepared once per connection, and
 * a dead database or a lost connection gives NT_EUNAVAIL quickly, after
 * which the store recovers by itself.
 */
#include <pthread.h>

#include "store_internal.h"
#include "store_migrations.h"
#include "test_store_util.h"

TestSuite(store_migrate, .fini = tst_close, .timeout = 60);

static int
tst_last_version(void)
{
	int v = 0;

	for (int i = 0; i < store_migrations_count; i++)
		if (store_migrations[i].version > v)
			v = store_migrations[i].version;
	return v;
}

Test(store_migrate, applies_once_and_records_version)
{
	int applied = -1, version = -1;

	tst_open(false);
	cr_assert_eq(store_schema_version(tst_store, &version), NT_OK);
	cr_assert_eq(version, 0);
	cr_assert_eq(store_migrate(tst_store, &applied), NT_OK);
	cr_assert_eq(applied, store_migrations_count);
	cr_assert_gt(applied, 0);
	cr_assert_eq(store_schema_version(tst_store, &version), NT_OK);
	cr_assert_eq(version, tst_last_version());
	cr_assert_eq(store_migrate(tst_store, &applied), NT_OK);
	cr_assert_eq(applied, 0, "second run applied %d", applied);
	cr_assert_eq(tst_sql_num("SELECT count(*) FROM schema_migrations"),
	             store_migrations_count);
	cr_assert_eq(tst_sql_num("SELECT count(*) FROM schema_migrations"
	                         " WHERE name = '001_schema.sql'"
	                         " AND applied_at IS NOT NULL"),
	             1);
	cr_assert_eq(store_ping(tst_store), NT_OK);
}

struct tst_mig {
	struct store *s;
	int applied;
	int rv;
};

static void *
tst_migrate_thread(void *arg)
{
	struct tst_mig *m = arg;

	m->rv = store_migrate(m->s, &m->applied);
	return NULL;
}

Test(store_migrate, concurrent_controllers_apply_each_once)
{
	struct tst_mig m[3];
	pthread_t t[3];
	int total = 0;

	tst_open(false);
	for (int i = 0; i < 3; i++) {
		memset(&m[i], 0, sizeof(m[i]));
		cr_assert_eq(store_init(&m[i].s, tst_conninfo, 1), NT_OK);
		pthread_create(&t[i], NULL, tst_migrate_thread, &m[i]);
	}
	for (int i = 0; i < 3; i++) {
		pthread_join(t[i], NULL);
		cr_assert_eq(m[i].rv, NT_OK);
		total += m[i].applied;
		store_fini(m[i].s);
	}
	cr_assert_eq(total, store_migrations_count);
	cr_assert_eq(tst_sql_num("SELECT count(*) FROM schema_migrations"),
	             store_migrations_count);
}

Test(store_migrate, database_down_is_unavailable_quickly)
{
	struct store *s;
	struct store_run run;
	char name[STORE_NAME_BUFLEN];
	enum store_scope scope;
	int version, applied;
	double t0;

	/* Nothing listens on port 1: the connection is refused. */
	cr_assert_eq(store_init(&s, "host=127.0.0.1 port=1 dbname=x user=x", 2),
	             NT_OK);
	t0 = tst_now_s();
	cr_assert_eq(store_ping(s), NT_EUNAVAIL);
	cr_assert_eq(store_schema_version(s, &version), NT_EUNAVAIL);
	cr_assert_eq(store_migrate(s, &applied), NT_EUNAVAIL);
	cr_assert_eq(store_key_lookup(s, "abc", name, &scope), NT_EUNAVAIL);
	cr_assert_eq(
	        store_run_get(s, "00000000-0000-4000-8000-000000000000", &run),
	        NT_EUNAVAIL);
	cr_assert_lt(tst_now_s() - t0, 3.0, "took %.2f s", tst_now_s() - t0);
	/* Still refused after the fail-fast window: a real new attempt. */
	usleep((STORE_DOWN_MS + 100) * 1000);
	cr_assert_eq(store_ping(s), NT_EUNAVAIL);
	store_fini(s);
}

Test(store_migrate, unreachable_host_is_bounded)
{
	struct store *s;
	double t0;

	/* A TEST-NET-1 address: nothing answers; connect_timeout bounds it. */
	cr_assert_eq(store_init(&s, "host=192.0.2.1 port=5432 dbname=x", 1),
	             NT_OK);
	t0 = tst_now_s();
	cr_assert_eq(store_ping(s), NT_EUNAVAIL);
	cr_assert_lt(tst_now_s() - t0, 5.0, "took %.2f s", tst_now_s() - t0);
	store_fini(s);
}

Test(store_migrate, lost_connection_then_reconnects)
{
	struct store *s;
	char ci[1400], sql[256];

	tst_open(true);
	snprintf(ci, sizeof(ci), "%s application_name=victim_%d", tst_conninfo,
	         (int)getpid());
	cr_assert_eq(store_init(&s, ci, 2), NT_OK);
	cr_assert_eq(store_ping(s), NT_OK);
	snprintf(sql, sizeof(sql),
	         "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
	         " WHERE application_name = 'victim_%d'",
	         (int)getpid());
	PQclear(tst_sql(sql));
	usleep(100 * 1000);
	/* The first call finds the connection dead; the next reconnects. */
	cr_assert_eq(store_ping(s), NT_EUNAVAIL);
	cr_assert_eq(store_ping(s), NT_OK);
	store_fini(s);
}

Test(store_migrate, pool_wait_is_bounded)
{
	struct store_conn *a, *b;
	double t0;

	tst_open(true);
	store_fini(tst_store);
	cr_assert_eq(store_init(&tst_store, tst_conninfo, 2), NT_OK);
	cr_assert_eq(store_conn_get(tst_store, &a), NT_OK);
	cr_assert_eq(store_conn_get(tst_store, &b), NT_OK);
	t0 = tst_now_s();
	cr_assert_eq(store_ping(tst_store), NT_EUNAVAIL);
	cr_assert_geq(tst_now_s() - t0, STORE_WAIT_MS / 1000.0 - 0.2);
	cr_assert_lt(tst_now_s() - t0, STORE_WAIT_MS / 1000.0 + 2.0);
	store_conn_put(tst_store, a);
	cr_assert_eq(store_ping(tst_store), NT_OK);
	store_conn_put(tst_store, b);
}

Test(store_migrate, hot_statements_prepared_once_per_connection)
{
	struct store_conn *c;
	char name[STORE_NAME_BUFLEN];
	enum store_scope scope;
	PGresult *r;

	tst_open(true);
	store_fini(tst_store);
	cr_assert_eq(store_init(&tst_store, tst_conninfo, 1), NT_OK);
	cr_assert_eq(store_key_create(tst_store, "k", STORE_SCOPE_READ, "h1"),
	             NT_OK);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(store_key_lookup(tst_store, "h1", name, &scope),
		             NT_OK);
		cr_assert_str_eq(name, "k");
	}
	cr_assert_eq(store_conn_get(tst_store, &c), NT_OK);
	cr_assert(c->prepared & (1u << STORE_PS_KEY_LOOKUP));
	r = PQexec(c->pg, "SELECT count(*) FROM pg_prepared_statements"
	                  " WHERE name = 'key_lookup'");
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	cr_assert_str_eq(PQgetvalue(r, 0, 0), "1");
	PQclear(r);
	/* Settings that keep a statement from hanging the pool. */
	r = PQexec(c->pg, "SHOW statement_timeout");
	cr_assert_str_eq(PQgetvalue(r, 0, 0), "10s");
	PQclear(r);
	store_conn_put(tst_store, c);
}
