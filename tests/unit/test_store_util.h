/*
 * test_store_util.h: what the store tests share.
 *
 * Every test gets a database of its own, created from the fixture's
 * conninfo (NODETASK_TEST_PGDIR/conninfo) and dropped afterwards, so the
 * tests never see each other's rows. Helpers make nodes and runs and talk
 * to the test database directly through libpq when a test needs to look
 * behind the store's back.
 */
#ifndef TEST_STORE_UTIL_H
#define TEST_STORE_UTIL_H

#include <criterion/criterion.h>

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nt_err.h"
#include "nt_uuid.h"
#include "store.h"

static char tst_base[1024]; /* the fixture's conninfo */
static char tst_db[64];     /* this test's database */
static char tst_conninfo[1200];
static struct store *tst_store;

static inline void
tst_read_conninfo(void)
{
	const char *dir = getenv("NODETASK_TEST_PGDIR");
	char path[1024];
	FILE *f;

	cr_assert(dir != NULL, "NODETASK_TEST_PGDIR is not set");
	snprintf(path, sizeof(path), "%s/conninfo", dir);
	f = fopen(path, "r");
	cr_assert(f != NULL, "cannot read %s (is the pg fixture up?)", path);
	cr_assert(fgets(tst_base, sizeof(tst_base), f) != NULL);
	fclose(f);
	tst_base[strcspn(tst_base, "\n")] = '\0';
}

/* Runs sql on a connection to dbname ("" = the fixture's database). */
static inline PGresult *
tst_sql_on(const char *dbname, const char *sql)
{
	char ci[1200];
	PGconn *pg;
	PGresult *r;

	snprintf(ci, sizeof(ci), "%s%s%s", tst_base,
	         dbname[0] ? " dbname=" : "", dbname);
	pg = PQconnectdb(ci);
	cr_assert(PQstatus(pg) == CONNECTION_OK, "connect: %s",
	          PQerrorMessage(pg));
	r = PQexec(pg, sql);
	cr_assert(PQresultStatus(r) == PGRES_COMMAND_OK ||
	                  PQresultStatus(r) == PGRES_TUPLES_OK,
	          "%s: %s", sql, PQerrorMessage(pg));
	PQfinish(pg);
	return r;
}

/* Runs sql in this test's database. */
static inline PGresult *
tst_sql(const char *sql)
{
	return tst_sql_on(tst_db, sql);
}

/* The one value sql returns, as a number. */
static inline long long
tst_sql_num(const char *sql)
{
	PGresult *r = tst_sql(sql);
	long long v;

	cr_assert_eq(PQntuples(r), 1, "%s", sql);
	v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return v;
}

/* A fresh database; the store connects to it and (if asked) migrates. */
static inline void
tst_open(bool migrate)
{
	char sql[128];
	unsigned seed;
	int applied;

	tst_read_conninfo();
	seed = (unsigned)getpid() ^ (unsigned)time(NULL);
	snprintf(tst_db, sizeof(tst_db), "t_%d_%u", (int)getpid(),
	         (unsigned)rand_r(&seed));
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", tst_db);
	PQclear(tst_sql_on("", sql));
	snprintf(tst_conninfo, sizeof(tst_conninfo), "%s dbname=%s", tst_base,
	         tst_db);
	cr_assert_eq(store_init(&tst_store, tst_conninfo, 4), NT_OK);
	if (migrate)
		cr_assert_eq(store_migrate(tst_store, &applied), NT_OK);
}

static inline void
tst_close(void)
{
	char sql[128];

	store_fini(tst_store);
	tst_store = NULL;
	if (tst_db[0] == '\0')
		return;
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)",
	         tst_db);
	PQclear(tst_sql_on("", sql));
	tst_db[0] = '\0';
}

static inline void
tst_setup(void)
{
	tst_open(true);
}

/* A node with a fresh id; returns the id in id. */
static inline void
tst_node(const char *hostname, char id[NT_UUID_BUFLEN])
{
	struct store_node n;

	memset(&n, 0, sizeof(n));
	cr_assert_eq(nt_uuid_new(n.id), NT_OK);
	snprintf(n.hostname, sizeof(n.hostname), "%s", hostname);
	cr_assert_eq(store_node_insert(tst_store, &n, NULL), NT_OK);
	memcpy(id, n.id, NT_UUID_BUFLEN);
}

/* A pending run of task on node; device may be NULL. */
static inline void
tst_run(const char *node_id, const char *task, const char *device,
        char id[NT_UUID_BUFLEN])
{
	struct store_run_new nr = {
	        .task_name = task,
	        .node_id = node_id,
	        .params = "{}",
	        .device_path = device,
	        .created_by = "test",
	};
	struct store_run r;
	char err[256];
	bool existed;

	cr_assert_eq(store_run_create(tst_store, &nr, &r, &existed, err,
	                              sizeof(err)),
	             NT_OK, "run create: %s", err);
	memcpy(id, r.id, NT_UUID_BUFLEN);
	store_run_fini(&r);
}

/* The run's state now. */
static inline void
tst_state(const char *run_id, char state[STORE_STATE_BUFLEN])
{
	struct store_run r;

	cr_assert_eq(store_run_get(tst_store, run_id, &r), NT_OK);
	memcpy(state, r.state, STORE_STATE_BUFLEN);
	store_run_fini(&r);
}

/* Applies one event from node and returns its outcome. */
static inline enum store_event_outcome
tst_event(const char *node_id, const struct store_event *e)
{
	enum store_event_outcome o;

	cr_assert_eq(store_events_apply(tst_store, node_id, e, 1, 3600000, &o),
	             NT_OK);
	return o;
}

static inline enum store_event_outcome
tst_started(const char *node_id, const char *run_id, int64_t seq)
{
	struct store_event e = {.run_id = run_id,
	                        .seq = seq,
	                        .ts_us = 1700000000000000LL,
	                        .kind = STORE_EV_STARTED};

	return tst_event(node_id, &e);
}

static inline enum store_event_outcome
tst_finished(const char *node_id, const char *run_id, int64_t seq,
             const char *state, const char *error, const char *result)
{
	struct store_event e = {.run_id = run_id,
	                        .seq = seq,
	                        .ts_us = 1700000001000000LL,
	                        .kind = STORE_EV_FINISHED,
	                        .state = state,
	                        .error = error,
	                        .result_json = result};

	return tst_event(node_id, &e);
}

static inline double
tst_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
