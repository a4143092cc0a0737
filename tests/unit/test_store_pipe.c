/*
 * test_store_pipe.c: pipelined statements: all of a long pipeline
 * arrives in order, the kept result is the right one, a failure in the
 * middle rolls everything back, and the connection is fine afterwards.
 */
#include "store_internal.h"
#include "test_store_util.h"

TestSuite(store_pipe, .init = tst_setup, .fini = tst_close, .timeout = 60);

static const struct store_stmt tst_insert = {
        STORE_PS_NONE, "tst_insert", 1,
        "INSERT INTO pipe_t (n) VALUES ($1::int)"};

static const struct store_stmt tst_count = {
        STORE_PS_NONE, "tst_count", 0, "SELECT count(*), max(n) FROM pipe_t"};

static const struct store_stmt tst_fail = {STORE_PS_NONE, "tst_fail", 1,
                                           "SELECT 1 / $1::int"};

static void
tst_insert_n(struct store_pipe *p, int from, int to)
{
	char v[16];
	const char *params[] = {v};

	for (int i = from; i <= to; i++) {
		snprintf(v, sizeof(v), "%d", i);
		cr_assert_eq(store_pipe_send(p, &tst_insert, params, false),
		             NT_OK, "insert %d", i);
	}
}

/* A table to write, a connection, a pipeline with BEGIN sent. */
static void
tst_pipe_open(struct store_conn **c, struct store_pipe *p)
{
	PQclear(tst_sql("CREATE TABLE pipe_t (n int PRIMARY KEY)"));
	cr_assert_eq(store_conn_get(tst_store, c), NT_OK);
	cr_assert_eq(store_pipe_begin(p, *c), NT_OK);
	cr_assert_eq(store_pipe_command(p, "BEGIN"), NT_OK);
}

/* More statements than one sync takes: every one of them is applied. */
Test(store_pipe, long_pipeline_in_one_transaction)
{
	struct store_conn *c;
	struct store_pipe p;
	PGresult *r = NULL;

	tst_pipe_open(&c, &p);
	tst_insert_n(&p, 1, 3 * STORE_PIPE_MAX + 5);
	cr_assert_eq(store_pipe_send(&p, &tst_count, NULL, true), NT_OK);
	cr_assert_eq(store_pipe_command(&p, "COMMIT"), NT_OK);
	cr_assert_eq(store_pipe_end(&p, &r), NT_OK);
	cr_assert_not_null(r);
	cr_assert_eq(store_i64(r, 0, 0), 3 * STORE_PIPE_MAX + 5);
	cr_assert_eq(store_i64(r, 0, 1), 3 * STORE_PIPE_MAX + 5);
	PQclear(r);
	store_conn_put(tst_store, c);
	cr_assert_eq(tst_sql_num("SELECT count(*) FROM pipe_t"),
	             3 * STORE_PIPE_MAX + 5);
}

/* A failing statement: its error comes back, nothing is committed. */
Test(store_pipe, failure_rolls_back_and_connection_stays_usable)
{
	const char *zero[] = {"0"};
	struct store_conn *c;
	struct store_pipe p;
	PGresult *r = NULL;

	tst_pipe_open(&c, &p);
	tst_insert_n(&p, 1, 10);
	/* Division by zero: a data error (22012). */
	cr_assert_eq(store_pipe_send(&p, &tst_fail, zero, false), NT_OK);
	tst_insert_n(&p, 11, 12);
	cr_assert_eq(store_pipe_command(&p, "COMMIT"), NT_OK);
	cr_assert_eq(store_pipe_end(&p, &r), NT_EINVAL);
	cr_assert_null(r);
	cr_assert_str_eq(c->sqlstate, "22012");
	store_rollback(c);
	cr_assert_not(c->broken);
	/* The same connection, outside any transaction again. */
	cr_assert_eq(store_exec(c, &tst_count, NULL, &r), NT_OK);
	cr_assert_eq(store_i64(r, 0, 0), 0);
	PQclear(r);
	store_conn_put(tst_store, c);
	cr_assert_eq(tst_sql_num("SELECT count(*) FROM pipe_t"), 0);
}

/* A failure in an early chunk stops the sending right there. */
Test(store_pipe, failure_in_an_early_chunk_stops_sending)
{
	const char *zero[] = {"0"};
	struct store_conn *c;
	struct store_pipe p;
	char v[16];
	const char *params[] = {v};
	int rv = NT_OK, sent = 0;

	tst_pipe_open(&c, &p);
	cr_assert_eq(store_pipe_send(&p, &tst_fail, zero, false), NT_OK);
	for (int i = 1; i <= 3 * STORE_PIPE_MAX && rv == NT_OK; i++) {
		snprintf(v, sizeof(v), "%d", i);
		rv = store_pipe_send(&p, &tst_insert, params, false);
		sent++;
	}
	cr_assert_eq(rv, NT_EINVAL);
	cr_assert_lt(sent, STORE_PIPE_MAX);
	cr_assert_eq(store_pipe_end(&p, NULL), NT_EINVAL);
	store_rollback(c);
	store_conn_put(tst_store, c);
	cr_assert_eq(tst_sql_num("SELECT count(*) FROM pipe_t"), 0);
}

/*
 * Prepared statements are prepared inside the pipeline, once. (The slot
 * is borrowed: this test's connections go away with its database.)
 */
Test(store_pipe, prepares_once_per_connection)
{
	static const struct store_stmt prep = {STORE_PS_AUDIT_ADD, "tst_prep",
	                                       1, "SELECT $1::int + 1"};
	const char *one[] = {"1"};
	struct store_conn *c;
	struct store_pipe p;
	PGresult *r = NULL;

	cr_assert_eq(store_conn_get(tst_store, &c), NT_OK);
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(store_pipe_begin(&p, c), NT_OK);
		cr_assert_eq(store_pipe_send(&p, &prep, one, false), NT_OK);
		cr_assert_eq(store_pipe_send(&p, &prep, one, true), NT_OK);
		cr_assert_eq(store_pipe_end(&p, &r), NT_OK);
		cr_assert_eq(store_i64(r, 0, 0), 2);
		PQclear(r);
		cr_assert(c->prepared & (1u << prep.ps));
	}
	store_conn_put(tst_store, c);
}
