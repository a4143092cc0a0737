/*
 * test_store_runs.c: creating, reading, paging and canceling runs;
 * idempotency keys; one active run per device; reading logs.
 */
#include <pthread.h>

#include "test_store_util.h"

TestSuite(store_runs, .init = tst_setup, .fini = tst_close, .timeout = 60);

Test(store_runs, create_and_get)
{
	char node[NT_UUID_BUFLEN], err[256];
	struct store_run_new nr = {.task_name = "disk.wipe",
	                           .params = "{\"devicePath\": \"/dev/sdb\"}",
	                           .device_path = "/dev/sdb",
	                           .created_by = "ops"};
	struct store_run r, g;
	bool existed = true;

	tst_node("worker-01", node);
	nr.node_id = node;
	cr_assert_eq(store_run_create(tst_store, &nr, &r, &existed, err,
	                              sizeof(err)),
	             NT_OK, "%s", err);
	cr_assert_not(existed);
	cr_assert(nt_uuid_parse(r.id, NULL));
	cr_assert_str_eq(r.state, "pending");
	cr_assert_str_eq(r.task_name, "disk.wipe");
	cr_assert_str_eq(r.node_id, node);
	cr_assert_str_eq(r.node_hostname, "worker-01");
	cr_assert_str_eq(r.device_path, "/dev/sdb");
	cr_assert_gt(r.created_at_us, 1600000000000000LL);
	cr_assert_eq(r.started_at_us, 0);
	cr_assert_eq(r.completed_at_us, 0);
	cr_assert_null(r.error);
	cr_assert_null(r.result);
	cr_assert_str_eq(r.params, "{\"devicePath\": \"/dev/sdb\"}");
	cr_assert_str_eq(r.pending_question_id, "");

	cr_assert_eq(store_run_get(tst_store, r.id, &g), NT_OK);
	cr_assert_str_eq(g.id, r.id);
	cr_assert_eq(g.created_at_us, r.created_at_us);
	store_run_fini(&g);
	store_run_fini(&r);

	cr_assert_eq(store_run_get(tst_store,
	                           "00000000-0000-4000-8000-000000000000", &g),
	             NT_ENOTFOUND);
	cr_assert_eq(store_run_get(tst_store, "nope", &g), NT_EINVAL);
}

/* Runs show their node's current hostname, also after it changes. */
Test(store_runs, hostname_follows_the_node)
{
	char node[NT_UUID_BUFLEN], other[NT_UUID_BUFLEN], id[NT_UUID_BUFLEN];
	char id2[NT_UUID_BUFLEN];
	struct store_run g;

	tst_node("worker-01", node);
	tst_node("worker-02", other);
	tst_run(node, "node.ping", NULL, id);
	tst_run(other, "node.ping", NULL, id2);
	cr_assert_eq(store_node_online(tst_store, node, "worker-01-renamed",
	                               "1.0", "10.0.0.1"),
	             NT_OK);
	cr_assert_eq(store_run_get(tst_store, id, &g), NT_OK);
	cr_assert_str_eq(g.node_hostname, "worker-01-renamed");
	store_run_fini(&g);
	cr_assert_eq(store_run_get(tst_store, id2, &g), NT_OK);
	cr_assert_str_eq(g.node_hostname, "worker-02");
	store_run_fini(&g);
	/* An empty hostname in Hello keeps the known one. */
	cr_assert_eq(store_node_online(tst_store, node, "", "1.0", "10.0.0.1"),
	             NT_OK);
	cr_assert_eq(store_run_get(tst_store, id, &g), NT_OK);
	cr_assert_str_eq(g.node_hostname, "worker-01-renamed");
	store_run_fini(&g);
}

/* Timestamps come back to the microsecond, before 2000 and after. */
Test(store_runs, timestamps_exact)
{
	char node[NT_UUID_BUFLEN], id[NT_UUID_BUFLEN], sql[512];
	struct store_run g;

	tst_node("worker-01", node);
	tst_run(node, "node.ping", NULL, id);
	snprintf(sql, sizeof(sql),
	         "UPDATE task_runs SET"
	         " created_at = '1999-12-31 23:59:59.999999+00',"
	         " started_at = '2026-04-07 14:30:00.000001+00',"
	         " completed_at = '2100-01-01 00:00:00.5+00' WHERE id = '%s'",
	         id);
	PQclear(tst_sql(sql));
	cr_assert_eq(store_run_get(tst_store, id, &g), NT_OK);
	cr_assert_str_eq(g.id, id);
	cr_assert_str_eq(g.node_id, node);
	cr_assert_eq(g.created_at_us, 946684799999999LL);
	cr_assert_eq(g.started_at_us, 1775572200000001LL);
	cr_assert_eq(g.completed_at_us, 4102444800500000LL);
	store_run_fini(&g);
}

Test(store_runs, create_rejects_bad_input)
{
	char node[NT_UUID_BUFLEN], other[NT_UUID_BUFLEN], err[256];
	struct store_run_new nr = {.task_name = "node.ping", .params = "{}"};
	struct store_run r;
	bool existed;

	tst_node("worker-01", node);
	nt_uuid_new(other);
	nr.node_id = other;
	cr_assert_eq(store_run_create(tst_store, &nr, &r, &existed, err,
	                              sizeof(err)),
	             NT_ENOTFOUND);
	nr.node_id = node;
	nr.params = "[1]";
	cr_assert_eq(store_run_create(tst_store, &nr, &r, &existed, err,
	                              sizeof(err)),
	             NT_EINVAL);
	nr.params = "{bad json";
	cr_assert_eq(store_run_create(tst_store, &nr, &r, &existed, err,
	                              sizeof(err)),
	             NT_EINVAL);
	nr.params = "{}";
	nr.node_id = "junk";
	cr_assert_eq(store_run_create(tst_store, &nr, &r, &existed, err,
	                              sizeof(err)),
	             NT_EINVAL);
	cr_assert_eq(tst_sql_num("SELECT count(*) FROM task_runs"), 0);
}

Test(store_runs, idempotency_key)
{
	char node[NT_UUID_BUFLEN], err[256];
	struct store_run_new nr = {.task_name = "node.ping",
	                           .params = "{}",
	                           .idempotency_key = "k-1",
	                           .request_hash = "hash-a",
	                           .created_by = "ops"};
	struct store_run a, b;
	bool existed;

	tst_node("worker-01", node);
	nr.node_id = node;
	cr_assert_eq(store_run_create(tst_store, &nr, &a, &existed, err,
	                              sizeof(err)),
	             NT_OK);
	cr_assert_not(existed);
	cr_assert_eq(store_run_create(tst_store, &nr, &b, &existed, err,
	                              sizeof(err)),
	             NT_OK);
	cr_assert(existed);
	cr_assert_str_eq(a.id, b.id);
	cr_assert_str_eq(b.node_hostname, "worker-01");
	store_run_fini(&b);
	nr.request_hash = "hash-b";
	cr_assert_eq(store_run_create(tst_store, &nr, &b, &existed, err,
	                              sizeof(err)),
	             NT_ECONFLICT);
	cr_assert_not(existed);
	cr_assert(strstr(err, "Idempotency-Key") != NULL, "%s", err);
	cr_assert_eq(tst_sql_num("SELECT count(*) FROM task_runs"), 1);
	store_run_fini(&a);
}

Test(store_runs, device_busy)
{
	char n1[NT_UUID_BUFLEN], n2[NT_UUID_BUFLEN], first[NT_UUID_BUFLEN];
	char err[256], state[STORE_STATE_BUFLEN], id[NT_UUID_BUFLEN];
	struct store_run_new nr = {.task_name = "disk.wipe",
	                           .params = "{}",
	                           .device_path = "/dev/sdb"};
	struct store_run r;
	bool existed, was_running;

	tst_node("worker-01", n1);
	tst_node("worker-02", n2);
	tst_run(n1, "disk.wipe", "/dev/sdb", first);
	nr.node_id = n1;
	cr_assert_eq(store_run_create(tst_store, &nr, &r, &existed, err,
	                              sizeof(err)),
	             NT_ECONFLICT);
	cr_assert(strstr(err, "/dev/sdb") != NULL, "%s", err);
	cr_assert(strstr(err, first) != NULL, "%s", err);
	/* Another device, another node, or no device at all: fine. */
	tst_run(n1, "disk.wipe", "/dev/sdc", id);
	tst_run(n2, "disk.wipe", "/dev/sdb", id);
	tst_run(n1, "node.ping", NULL, id);
	tst_run(n1, "node.ping", NULL, id);
	/* Once the first run ends the device is free again. */
	cr_assert_eq(store_run_cancel(tst_store, first, "ops", NULL,
	                              &was_running, state),
	             NT_OK);
	tst_run(n1, "disk.wipe", "/dev/sdb", id);
}

Test(store_runs, recent_pages_and_filters)
{
	char n1[NT_UUID_BUFLEN], n2[NT_UUID_BUFLEN], ids[7][NT_UUID_BUFLEN];
	char state[STORE_STATE_BUFLEN], cursor[NT_UUID_BUFLEN];
	struct store_run_filter f = {.limit = 3};
	struct store_run *v;
	size_t n, seen = 0;
	bool more, was_running;

	tst_node("worker-01", n1);
	tst_node("worker-02", n2);
	for (int i = 0; i < 7; i++)
		tst_run(i % 2 ? n2 : n1, i < 5 ? "node.ping" : "disk.wipe",
		        NULL, ids[i]);
	/* Newest first, three at a time, each page continuing the last. */
	for (int page = 0; page < 3; page++) {
		cr_assert_eq(store_run_recent(tst_store, &f, &v, &n, &more),
		             NT_OK);
		cr_assert_eq(n, page < 2 ? 3 : 1);
		cr_assert_eq(more, page < 2);
		for (size_t i = 0; i < n; i++, seen++) {
			cr_assert_str_eq(v[i].id, ids[6 - seen]);
			cr_assert_str_eq(v[i].node_hostname,
			                 (6 - seen) % 2 ? "worker-02"
			                                : "worker-01");
		}
		memcpy(cursor, v[n - 1].id, sizeof(cursor));
		f.before = cursor;
		store_run_free(v, n);
	}
	cr_assert_eq(seen, 7);
	cr_assert_eq(store_run_recent(tst_store, &f, &v, &n, &more), NT_OK);
	cr_assert_eq(n, 0);
	cr_assert_not(more);
	store_run_free(v, n);

	f.before = "00000000-0000-4000-8000-000000000000";
	cr_assert_eq(store_run_recent(tst_store, &f, &v, &n, &more),
	             NT_ENOTFOUND);
	f.before = "junk";
	cr_assert_eq(store_run_recent(tst_store, &f, &v, &n, &more), NT_EINVAL);
	f.before = NULL;
	f.limit = 0;
	cr_assert_eq(store_run_recent(tst_store, &f, &v, &n, &more), NT_EINVAL);

	f.limit = 500;
	f.node_id = n2;
	cr_assert_eq(store_run_recent(tst_store, &f, &v, &n, &more), NT_OK);
	cr_assert_eq(n, 3);
	store_run_free(v, n);
	f.task_name = "disk.wipe";
	cr_assert_eq(store_run_recent(tst_store, &f, &v, &n, &more), NT_OK);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(v[0].id, ids[5]);
	store_run_free(v, n);

	cr_assert_eq(store_run_cancel(tst_store, ids[2], "ops", NULL,
	                              &was_running, state),
	             NT_OK);
	f.node_id = NULL;
	f.task_name = NULL;
	f.state = "canceled";
	cr_assert_eq(store_run_recent(tst_store, &f, &v, &n, &more), NT_OK);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(v[0].id, ids[2]);
	cr_assert_str_eq(v[0].error, "canceled by ops");
	store_run_free(v, n);
}

Test(store_runs, cancel)
{
	char node[NT_UUID_BUFLEN], a[NT_UUID_BUFLEN], b[NT_UUID_BUFLEN];
	char state[STORE_STATE_BUFLEN];
	struct store_run r;
	bool was_running = true;

	tst_node("worker-01", node);
	tst_run(node, "node.ping", NULL, a);
	tst_run(node, "node.ping", NULL, b);

	cr_assert_eq(store_run_cancel(tst_store, a, "ops", NULL, &was_running,
	                              state),
	             NT_OK);
	cr_assert_not(was_running);
	cr_assert_str_eq(state, "canceled");
	cr_assert_eq(store_run_get(tst_store, a, &r), NT_OK);
	cr_assert_str_eq(r.state, "canceled");
	cr_assert_str_eq(r.error, "canceled by ops");
	cr_assert_gt(r.completed_at_us, 0);
	store_run_fini(&r);
	cr_assert_eq(store_run_cancel(tst_store, a, "ops", NULL, &was_running,
	                              state),
	             NT_ECONFLICT);
	cr_assert_str_eq(state, "canceled");

	/* A running run: the agent must be told. */
	cr_assert_eq(tst_started(node, b, 1), STORE_EV_STORED);
	cr_assert_eq(store_run_cancel(tst_store, b, "ops", "operator gave up",
	                              &was_running, state),
	             NT_OK);
	cr_assert(was_running);
	cr_assert_eq(store_run_get(tst_store, b, &r), NT_OK);
	cr_assert_str_eq(r.error, "operator gave up");
	store_run_fini(&r);

	cr_assert_eq(store_run_cancel(tst_store,
	                              "00000000-0000-4000-8000-000000000000",
	                              "ops", NULL, &was_running, state),
	             NT_ENOTFOUND);

	/* Completed runs stay completed. */
	tst_run(node, "node.ping", NULL, a);
	cr_assert_eq(tst_started(node, a, 1), STORE_EV_STORED);
	cr_assert_eq(tst_finished(node, a, 2, "completed", NULL, "{\"x\":1}"),
	             STORE_EV_STORED);
	cr_assert_eq(store_run_cancel(tst_store, a, "ops", NULL, &was_running,
	                              state),
	             NT_ECONFLICT);
	cr_assert_str_eq(state, "completed");
}

Test(store_runs, logs_page)
{
	char node[NT_UUID_BUFLEN], run[NT_UUID_BUFLEN], msg[10][32];
	struct store_event ev[10];
	enum store_event_outcome out[10];
	struct store_log *v;
	size_t n;

	tst_node("worker-01", node);
	tst_run(node, "node.ping", NULL, run);
	cr_assert_eq(store_log_list(tst_store, run, 0, 100, &v, &n), NT_OK);
	cr_assert_eq(n, 0);
	store_log_free(v, n);
	for (int i = 0; i < 10; i++) {
		snprintf(msg[i], sizeof(msg[i]), "line %d", i + 1);
		ev[i] = (struct store_event){.run_id = run,
		                             .seq = i + 1,
		                             .ts_us = 1700000000000000LL + i,
		                             .kind = STORE_EV_LOG,
		                             .level = i == 9 ? "error" : "info",
		                             .message = msg[i]};
	}
	cr_assert_eq(store_events_apply(tst_store, node, ev, 10, 1000, out),
	             NT_OK);
	cr_assert_eq(store_log_list(tst_store, run, 0, 4, &v, &n), NT_OK);
	cr_assert_eq(n, 4);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(v[i].seq, (int64_t)i + 1);
		cr_assert_str_eq(v[i].message, msg[i]);
		cr_assert_eq(v[i].ts_us, 1700000000000000LL + (int64_t)i);
	}
	store_log_free(v, n);
	cr_assert_eq(store_log_list(tst_store, run, 8, 100, &v, &n), NT_OK);
	cr_assert_eq(n, 2);
	cr_assert_eq(v[0].seq, 9);
	cr_assert_str_eq(v[1].level, "error");
	cr_assert_str_eq(v[1].message, "line 10");
	store_log_free(v, n);
	cr_assert_eq(store_log_list(tst_store, run, 10, 100, &v, &n), NT_OK);
	cr_assert_eq(n, 0);
	store_log_free(v, n);
	cr_assert_eq(store_log_list(tst_store,
	                            "00000000-0000-4000-8000-000000000000", 0,
	                            10, &v, &n),
	             NT_ENOTFOUND);
	cr_assert_eq(store_log_list(tst_store, run, 0, 0, &v, &n), NT_EINVAL);
}

struct tst_race {
	struct store_run_new nr;
	struct store_run run;
	bool existed;
	int rv;
};

static void *
tst_race_thread(void *arg)
{
	struct tst_race *t = arg;
	char err[256];

	t->rv = store_run_create(tst_store, &t->nr, &t->run, &t->existed, err,
	                         sizeof(err));
	return NULL;
}

Test(store_runs, idempotency_key_race)
{
	enum { N = 4 };
	char node[NT_UUID_BUFLEN];
	struct tst_race t[N];
	pthread_t th[N];
	int fresh = 0;

	tst_node("worker-01", node);
	for (int i = 0; i < N; i++) {
		memset(&t[i], 0, sizeof(t[i]));
		t[i].nr = (struct store_run_new){.task_name = "node.ping",
		                                 .node_id = node,
		                                 .params = "{}",
		                                 .idempotency_key = "race",
		                                 .request_hash = "h"};
		pthread_create(&th[i], NULL, tst_race_thread, &t[i]);
	}
	for (int i = 0; i < N; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < N; i++) {
		cr_assert_eq(t[i].rv, NT_OK);
		cr_assert_str_eq(t[i].run.id, t[0].run.id);
		fresh += !t[i].existed;
		store_run_fini(&t[i].run);
	}
	cr_assert_eq(fresh, 1);
	cr_assert_eq(tst_sql_num("SELECT count(*) FROM task_runs"), 1);
}
