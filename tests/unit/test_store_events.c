/*
 * test_store_events.c: events from agents (ordering, resends, gapless log
 * numbering, other nodes' runs, terminal states), questions and their
 * answers and expiry, and the work the hub hands to agents.
 */
#include "test_store_util.h"

TestSuite(store_events, .init = tst_setup, .fini = tst_close, .timeout = 120);

#define QID "b2c3d4e5-f6a7-4901-bcde-f12345678901"

static struct store_event
tst_log(const char *run, int64_t seq, const char *msg)
{
	return (struct store_event){.run_id = run,
	                            .seq = seq,
	                            .ts_us = 1700000000000000LL + seq,
	                            .kind = STORE_EV_LOG,
	                            .level = "info",
	                            .message = msg};
}

static enum store_event_outcome
tst_question(const char *node, const char *run, int64_t seq, const char *qid,
             int64_t ttl_ms)
{
	struct store_event e = {.run_id = run,
	                        .seq = seq,
	                        .ts_us = 1700000000000000LL,
	                        .kind = STORE_EV_QUESTION,
	                        .question_id = qid,
	                        .prompt = "Disk /dev/sdb contains existing "
	                                  "data. Proceed with wipe?",
	                        .options_json = "[\"yes\", \"no\"]"};
	enum store_event_outcome o;

	cr_assert_eq(store_events_apply(tst_store, node, &e, 1, ttl_ms, &o),
	             NT_OK);
	return o;
}

/* The messages of the run's log, joined with '|'. */
static void
tst_logs(const char *run, char *out, size_t len)
{
	struct store_log *v;
	size_t n;

	out[0] = '\0';
	cr_assert_eq(store_log_list(tst_store, run, 0, 1000, &v, &n), NT_OK);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(v[i].seq, (int64_t)i + 1, "log seq has a gap");
		strncat(out, v[i].message, len - strlen(out) - 1);
		if (i + 1 < n)
			strncat(out, "|", len - strlen(out) - 1);
	}
	store_log_free(v, n);
}

Test(store_events, ordering_and_resends)
{
	char node[NT_UUID_BUFLEN], run[NT_UUID_BUFLEN], logs[256];
	char state[STORE_STATE_BUFLEN];
	struct store_event ev[6];
	enum store_event_outcome out[6];

	tst_node("worker-01", node);
	tst_run(node, "node.ping", NULL, run);
	ev[0] = (struct store_event){.run_id = run,
	                             .seq = 1,
	                             .ts_us = 1700000000000000LL,
	                             .kind = STORE_EV_STARTED};
	ev[1] = tst_log(run, 2, "a");
	ev[2] = tst_log(run, 3, "b");
	ev[3] = tst_log(run, 4, "c");
	cr_assert_eq(store_events_apply(tst_store, node, ev, 4, 1000, out),
	             NT_OK);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(out[i], STORE_EV_STORED);
	tst_state(run, state);
	cr_assert_str_eq(state, "running");

	/* A resend of 3..4 plus new 5..6: the old ones are no-ops. */
	ev[0] = tst_log(run, 3, "b");
	ev[1] = tst_log(run, 4, "c");
	ev[2] = tst_log(run, 5, "d");
	ev[3] = tst_log(run, 6, "e");
	ev[4] = tst_log(run, 6, "e");       /* twice in one batch */
	ev[5] = tst_log(run, 2, "a again"); /* older than stored */
	cr_assert_eq(store_events_apply(tst_store, node, ev, 6, 1000, out),
	             NT_OK);
	cr_assert_eq(out[0], STORE_EV_DUPLICATE);
	cr_assert_eq(out[1], STORE_EV_DUPLICATE);
	cr_assert_eq(out[2], STORE_EV_STORED);
	cr_assert_eq(out[3], STORE_EV_STORED);
	cr_assert_eq(out[4], STORE_EV_DUPLICATE);
	cr_assert_eq(out[5], STORE_EV_DUPLICATE);
	tst_logs(run, logs, sizeof(logs));
	cr_assert_str_eq(logs, "a|b|c|d|e");

	/* The whole batch resent: nothing changes. */
	cr_assert_eq(store_events_apply(tst_store, node, ev, 6, 1000, out),
	             NT_OK);
	for (int i = 0; i < 6; i++)
		cr_assert_eq(out[i], STORE_EV_DUPLICATE);
	tst_logs(run, logs, sizeof(logs));
	cr_assert_str_eq(logs, "a|b|c|d|e");
	cr_assert_eq(tst_sql_num("SELECT last_event_seq FROM task_runs"), 6);

	cr_assert_eq(tst_finished(node, run, 7, "completed", NULL,
	                          "{\"hostname\": \"w1\"}"),
	             STORE_EV_STORED);
	tst_state(run, state);
	cr_assert_str_eq(state, "completed");
}

Test(store_events, interleaved_runs_keep_their_own_numbering)
{
	char node[NT_UUID_BUFLEN], a[NT_UUID_BUFLEN], b[NT_UUID_BUFLEN];
	char logs[256];
	struct store_event ev[5];
	enum store_event_outcome out[5];

	tst_node("worker-01", node);
	tst_run(node, "node.ping", NULL, a);
	tst_run(node, "node.ping", NULL, b);
	ev[0] = tst_log(a, 1, "a1");
	ev[1] = tst_log(b, 1, "b1");
	ev[2] = tst_log(a, 2, "a2");
	ev[3] = tst_log(b, 2, "b2");
	ev[4] = tst_log(a, 3, "a3");
	cr_assert_eq(store_events_apply(tst_store, node, ev, 5, 1000, out),
	             NT_OK);
	tst_logs(a, logs, sizeof(logs));
	cr_assert_str_eq(logs, "a1|a2|a3");
	tst_logs(b, logs, sizeof(logs));
	cr_assert_str_eq(logs, "b1|b2");
}

Test(store_events, rejected_events)
{
	char n1[NT_UUID_BUFLEN], n2[NT_UUID_BUFLEN], run[NT_UUID_BUFLEN];
	struct store_event ev[6];
	enum store_event_outcome out[6];

	tst_node("worker-01", n1);
	tst_node("worker-02", n2);
	tst_run(n1, "node.ping", NULL, run);
	ev[0] = tst_log(run, 1, "from the wrong node");
	cr_assert_eq(store_events_apply(tst_store, n2, ev, 1, 1000, out),
	             NT_OK);
	cr_assert_eq(out[0], STORE_EV_REJECTED);

	ev[0] = tst_log("00000000-0000-4000-8000-000000000000", 1, "unknown");
	ev[1] = tst_log("junk", 1, "malformed run id");
	ev[2] = tst_log(run, 1, "fine");
	ev[3] = tst_log(run, 2, NULL); /* no message */
	ev[4] = tst_log(run, 3, "bad level");
	ev[4].level = "loud";
	ev[5] = tst_log(run, 4, "unknown kind");
	ev[5].kind = (enum store_event_kind)42;
	cr_assert_eq(store_events_apply(tst_store, n1, ev, 6, 1000, out),
	             NT_OK);
	cr_assert_eq(out[0], STORE_EV_REJECTED);
	cr_assert_eq(out[1], STORE_EV_REJECTED);
	cr_assert_eq(out[2], STORE_EV_STORED);
	cr_assert_eq(out[3], STORE_EV_REJECTED);
	cr_assert_eq(out[4], STORE_EV_REJECTED);
	cr_assert_eq(out[5], STORE_EV_REJECTED);
	cr_assert_eq(tst_sql_num("SELECT count(*) FROM task_logs"), 1);
	cr_assert_eq(store_events_apply(tst_store, "junk", ev, 1, 1000, out),
	             NT_EINVAL);
}

Test(store_events, untrusted_text_is_repaired)
{
	char node[NT_UUID_BUFLEN], run[NT_UUID_BUFLEN], logs[256];
	struct store_event ev[3];
	enum store_event_outcome out[3];
	struct store_run r;

	tst_node("worker-01", node);
	tst_run(node, "node.ping", NULL, run);
	ev[0] = tst_log(run, 1, "bad \xc3\x28 utf8 \xff");
	ev[1] = tst_log(run, 2, "quotes \" and \\ and {braces}, commas");
	ev[2] = (struct store_event){.run_id = run,
	                             .seq = 3,
	                             .kind = STORE_EV_FINISHED,
	                             .state = "failed",
	                             .error = "oops \xfe",
	                             .result_json = "{not json"};
	cr_assert_eq(store_events_apply(tst_store, node, ev, 3, 1000, out),
	             NT_OK);
	for (int i = 0; i < 3; i++)
		cr_assert_eq(out[i], STORE_EV_STORED);
	tst_logs(run, logs, sizeof(logs));
	cr_assert_str_eq(logs, "bad \xef\xbf\xbd( utf8 \xef\xbf\xbd|quotes \" "
	                       "and \\ and {braces}, commas");
	cr_assert_eq(store_run_get(tst_store, run, &r), NT_OK);
	cr_assert_str_eq(r.state, "failed");
	cr_assert_str_eq(r.error, "oops \xef\xbf\xbd");
	cr_assert_null(r.result); /* the invalid result was dropped */
	store_run_fini(&r);
}

Test(store_events, finished_cannot_resurrect)
{
	char node[NT_UUID_BUFLEN], run[NT_UUID_BUFLEN];
	char state[STORE_STATE_BUFLEN];
	struct store_work *w;
	struct store_active_run *act;
	struct store_run r;
	size_t n;
	bool was_running;

	tst_node("worker-01", node);
	tst_run(node, "node.ping", NULL, run);
	cr_assert_eq(tst_started(node, run, 1), STORE_EV_STORED);
	cr_assert_eq(store_run_cancel(tst_store, run, "ops", NULL, &was_running,
	                              state),
	             NT_OK);
	cr_assert(was_running);

	/* Canceled but still running on the agent: STOP it. */
	cr_assert_eq(store_work_for_node(tst_store, node, &w, &n), NT_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(w[0].kind, STORE_WORK_STOP);
	cr_assert_str_eq(w[0].run_id, run);
	cr_assert_str_eq(w[0].reason, "canceled by ops");
	store_work_free(w, n);
	cr_assert_eq(store_node_active_runs(tst_store, node, &act, &n), NT_OK);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(act[0].state, "canceled");
	cr_assert_eq(act[0].last_event_seq, 1);
	free(act);

	/* The agent says it completed: the run stays canceled. */
	cr_assert_eq(tst_finished(node, run, 2, "completed", NULL, "{\"a\":1}"),
	             STORE_EV_STORED);
	cr_assert_eq(store_run_get(tst_store, run, &r), NT_OK);
	cr_assert_str_eq(r.state, "canceled");
	cr_assert_str_eq(r.error, "canceled by ops");
	cr_assert_null(r.result);
	store_run_fini(&r);
	/* And the agent is done with it: nothing more to tell. */
	cr_assert_eq(store_work_for_node(tst_store, node, &w, &n), NT_OK);
	cr_assert_eq(n, 0);
	store_work_free(w, n);
	cr_assert_eq(store_node_active_runs(tst_store, node, &act, &n), NT_OK);
	cr_assert_eq(n, 0);
	free(act);
	/* Nor does a later STARTED or FINISHED change anything. */
	cr_assert_eq(tst_started(node, run, 3), STORE_EV_STORED);
	cr_assert_eq(tst_finished(node, run, 4, "failed", "x", NULL),
	             STORE_EV_STORED);
	tst_state(run, state);
	cr_assert_str_eq(state, "canceled");
	cr_assert_eq(tst_finished(node, run, 5, "exploded", NULL, NULL),
	             STORE_EV_REJECTED);
}

Test(store_events, canceled_before_start_is_stopped)
{
	char node[NT_UUID_BUFLEN], run[NT_UUID_BUFLEN];
	char state[STORE_STATE_BUFLEN];
	struct store_work *w;
	struct store_run r;
	size_t n;
	bool was_running;

	tst_node("worker-01", node);
	tst_run(node, "node.ping", NULL, run);
	cr_assert_eq(store_work_for_node(tst_store, node, &w, &n), NT_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(w[0].kind, STORE_WORK_DISPATCH);
	store_work_free(w, n);
	cr_assert_eq(store_run_cancel(tst_store, run, "ops", NULL, &was_running,
	                              state),
	             NT_OK);
	cr_assert_not(was_running);
	cr_assert_eq(store_work_for_node(tst_store, node, &w, &n), NT_OK);
	cr_assert_eq(n, 0);
	store_work_free(w, n);
	/* The dispatch crossed the cancel: the agent started it anyway. */
	cr_assert_eq(tst_started(node, run, 1), STORE_EV_STORED);
	cr_assert_eq(store_run_get(tst_store, run, &r), NT_OK);
	cr_assert_str_eq(r.state, "canceled");
	cr_assert_gt(r.started_at_us, 0);
	store_run_fini(&r);
	cr_assert_eq(store_work_for_node(tst_store, node, &w, &n), NT_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(w[0].kind, STORE_WORK_STOP);
	store_work_free(w, n);
}

Test(store_events, work_for_node)
{
	char n1[NT_UUID_BUFLEN], n2[NT_UUID_BUFLEN], r[3][NT_UUID_BUFLEN];
	char other[NT_UUID_BUFLEN], node_out[NT_UUID_BUFLEN];
	struct store_event e;
	struct store_work *w;
	size_t n;

	tst_node("worker-01", n1);
	tst_node("worker-02", n2);
	for (int i = 0; i < 3; i++)
		tst_run(n1, i == 1 ? "disk.wipe" : "node.ping", NULL, r[i]);
	tst_run(n2, "node.ping", NULL, other);
	PQclear(tst_sql("UPDATE task_runs SET params = '{\"mode\": \"quick\"}'"
	                " WHERE task_name = 'disk.wipe'"));
	cr_assert_eq(store_work_for_node(tst_store, n1, &w, &n), NT_OK);
	cr_assert_eq(n, 3);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(w[i].kind, STORE_WORK_DISPATCH);
		cr_assert_str_eq(w[i].run_id, r[i]);
	}
	cr_assert_str_eq(w[1].task_name, "disk.wipe");
	cr_assert_str_eq(w[1].params, "{\"mode\": \"quick\"}");
	store_work_free(w, n);

	/* r0 starts and asks; the answer is work until delivered. */
	cr_assert_eq(tst_started(n1, r[0], 1), STORE_EV_STORED);
	cr_assert_eq(tst_question(n1, r[0], 2, QID, 60000), STORE_EV_STORED);
	cr_assert_eq(
	        store_question_answer(tst_store, QID, "yes", "ops", node_out),
	        NT_OK);
	cr_assert_str_eq(node_out, n1);
	cr_assert_eq(store_work_for_node(tst_store, n1, &w, &n), NT_OK);
	cr_assert_eq(n, 3);
	cr_assert_eq(w[0].kind, STORE_WORK_DISPATCH);
	cr_assert_eq(w[1].kind, STORE_WORK_DISPATCH);
	cr_assert_eq(w[2].kind, STORE_WORK_ANSWER);
	cr_assert_str_eq(w[2].run_id, r[0]);
	cr_assert_str_eq(w[2].question_id, QID);
	cr_assert_str_eq(w[2].answer, "yes");
	store_work_free(w, n);
	e = (struct store_event){.run_id = r[0],
	                         .seq = 3,
	                         .kind = STORE_EV_ANSWER_RECEIVED,
	                         .question_id = QID};
	cr_assert_eq(tst_event(n1, &e), STORE_EV_STORED);
	cr_assert_eq(store_work_for_node(tst_store, n1, &w, &n), NT_OK);
	cr_assert_eq(n, 2);
	store_work_free(w, n);
	cr_assert_eq(store_work_for_node(tst_store, "junk", &w, &n), NT_EINVAL);
}

Test(store_events, questions_and_answers)
{
	char node[NT_UUID_BUFLEN], run[NT_UUID_BUFLEN], out[NT_UUID_BUFLEN];
	char state[STORE_STATE_BUFLEN];
	struct store_question *v, q;
	struct store_run r;
	size_t n;

	tst_node("worker-01", node);
	tst_run(node, "disk.wipe", "/dev/sdb", run);
	cr_assert_eq(tst_started(node, run, 1), STORE_EV_STORED);
	cr_assert_eq(tst_question(node, run, 2, QID, 60000), STORE_EV_STORED);
	/* A resent question (new seq, same id) opens nothing new. */
	cr_assert_eq(tst_question(node, run, 3, QID, 60000), STORE_EV_STORED);
	cr_assert_eq(tst_sql_num("SELECT count(*) FROM task_questions"), 1);

	cr_assert_eq(store_question_pending(tst_store, &v, &n), NT_OK);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(v[0].id, QID);
	cr_assert_str_eq(v[0].run_id, run);
	cr_assert_str_eq(v[0].node_id, node);
	cr_assert_str_eq(v[0].task_name, "disk.wipe");
	cr_assert_str_eq(v[0].options, "[\"yes\", \"no\"]");
	cr_assert_str_eq(v[0].state, "open");
	cr_assert(strstr(v[0].prompt, "/dev/sdb") != NULL);
	cr_assert_gt(v[0].expires_at_us, v[0].created_at_us);
	store_question_free(v, n);
	cr_assert_eq(store_run_get(tst_store, run, &r), NT_OK);
	cr_assert_str_eq(r.pending_question_id, QID);
	store_run_fini(&r);

	cr_assert_eq(store_question_answer(tst_store, QID, "maybe", "ops", out),
	             NT_EINVAL);
	cr_assert_eq(store_question_answer(tst_store,
	                                   "00000000-0000-4000-8000-"
	                                   "000000000000",
	                                   "yes", "ops", out),
	             NT_ENOTFOUND);
	cr_assert_eq(store_question_answer(tst_store, QID, "no", "ops", out),
	             NT_OK);
	cr_assert_str_eq(out, node);
	cr_assert_eq(store_question_answer(tst_store, QID, "yes", "ops", out),
	             NT_ECONFLICT);
	cr_assert_eq(store_question_get(tst_store, QID, &q), NT_OK);
	cr_assert_str_eq(q.state, "answered");
	cr_assert_str_eq(q.answer, "no");
	cr_assert_str_eq(q.answered_by, "ops");
	cr_assert_gt(q.answered_at_us, 0);
	store_question_fini(&q);
	cr_assert_eq(store_question_pending(tst_store, &v, &n), NT_OK);
	cr_assert_eq(n, 0);
	store_question_free(v, n);
	cr_assert_eq(store_run_get(tst_store, run, &r), NT_OK);
	cr_assert_str_eq(r.pending_question_id, "");
	store_run_fini(&r);
	tst_state(run, state);
	cr_assert_str_eq(state, "running");
}

Test(store_events, answer_after_run_ended)
{
	char node[NT_UUID_BUFLEN], run[NT_UUID_BUFLEN], out[NT_UUID_BUFLEN];
	char state[STORE_STATE_BUFLEN];
	struct store_question q;
	bool was_running;

	tst_node("worker-01", node);
	tst_run(node, "disk.wipe", NULL, run);
	cr_assert_eq(tst_started(node, run, 1), STORE_EV_STORED);
	cr_assert_eq(tst_question(node, run, 2, QID, 60000), STORE_EV_STORED);
	cr_assert_eq(store_run_cancel(tst_store, run, "ops", NULL, &was_running,
	                              state),
	             NT_OK);
	/* Canceling closed the question. */
	cr_assert_eq(store_question_get(tst_store, QID, &q), NT_OK);
	cr_assert_str_eq(q.state, "closed");
	store_question_fini(&q);
	cr_assert_eq(store_question_answer(tst_store, QID, "yes", "ops", out),
	             NT_ECONFLICT);
	/* Not an option is still the caller's mistake first. */
	cr_assert_eq(
	        store_question_answer(tst_store, QID, "perhaps", "ops", out),
	        NT_EINVAL);
}

Test(store_events, finished_closes_open_question)
{
	char node[NT_UUID_BUFLEN], run[NT_UUID_BUFLEN], out[NT_UUID_BUFLEN];
	struct store_question q;

	tst_node("worker-01", node);
	tst_run(node, "disk.wipe", NULL, run);
	cr_assert_eq(tst_started(node, run, 1), STORE_EV_STORED);
	cr_assert_eq(tst_question(node, run, 2, QID, 60000), STORE_EV_STORED);
	cr_assert_eq(
	        tst_finished(node, run, 3, "failed", "device vanished", NULL),
	        STORE_EV_STORED);
	cr_assert_eq(store_question_get(tst_store, QID, &q), NT_OK);
	cr_assert_str_eq(q.state, "closed");
	store_question_fini(&q);
	cr_assert_eq(store_question_answer(tst_store, QID, "yes", "ops", out),
	             NT_ECONFLICT);
}

Test(store_events, bad_questions_rejected)
{
	char node[NT_UUID_BUFLEN], run[NT_UUID_BUFLEN];
	struct store_event e = {.seq = 2,
	                        .kind = STORE_EV_QUESTION,
	                        .question_id = QID,
	                        .prompt = "?"};
	static const char *const bad[] = {"[]",       "[1, 2]", "{\"a\": 1}",
	                                  "[\"yes\"", "nope",   NULL};

	tst_node("worker-01", node);
	tst_run(node, "disk.wipe", NULL, run);
	cr_assert_eq(tst_started(node, run, 1), STORE_EV_STORED);
	e.run_id = run;
	for (int i = 0; bad[i] != NULL; i++) {
		e.options_json = bad[i];
		cr_assert_eq(tst_event(node, &e), STORE_EV_REJECTED, "%s",
		             bad[i]);
	}
	e.options_json = "[\"yes\"]";
	e.question_id = "junk";
	cr_assert_eq(tst_event(node, &e), STORE_EV_REJECTED);
	/* A NUL escape jsonb refuses: repaired, not fatal to the batch. */
	e.question_id = QID;
	e.options_json = "[\"a\\u0000b\", \"c\"]";
	cr_assert_eq(tst_event(node, &e), STORE_EV_STORED);
	cr_assert_eq(tst_sql_num("SELECT count(*) FROM task_questions"), 1);
}

Test(store_events, questions_expire)
{
	char node[NT_UUID_BUFLEN], run[NT_UUID_BUFLEN], out[NT_UUID_BUFLEN];
	char keep[NT_UUID_BUFLEN];
	char(*nodes)[NT_UUID_BUFLEN];
	struct store_question q;
	struct store_work *w;
	struct store_run r;
	size_t n;

	tst_node("worker-01", node);
	tst_run(node, "disk.wipe", NULL, run);
	tst_run(node, "disk.wipe", NULL, keep);
	cr_assert_eq(tst_started(node, run, 1), STORE_EV_STORED);
	cr_assert_eq(tst_started(node, keep, 1), STORE_EV_STORED);
	cr_assert_eq(tst_question(node, run, 2, QID, 1000), STORE_EV_STORED);
	cr_assert_eq(tst_question(node, keep, 2,
	                          "c3d4e5f6-a7b8-4012-8def-123456789012",
	                          3600000),
	             STORE_EV_STORED);
	cr_assert_eq(store_questions_expire(tst_store, &nodes, &n), NT_OK);
	cr_assert_eq(n, 0);
	free(nodes);
	usleep(1100 * 1000);
	/* Past the deadline an answer is refused even before the sweep. */
	cr_assert_eq(store_question_answer(tst_store, QID, "yes", "ops", out),
	             NT_ECONFLICT);
	cr_assert_eq(store_questions_expire(tst_store, &nodes, &n), NT_OK);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(nodes[0], node);
	free(nodes);
	cr_assert_eq(store_question_get(tst_store, QID, &q), NT_OK);
	cr_assert_str_eq(q.state, "expired");
	store_question_fini(&q);
	cr_assert_eq(store_run_get(tst_store, run, &r), NT_OK);
	cr_assert_str_eq(r.state, "failed");
	cr_assert_str_eq(r.error,
	                 "question " QID " expired after 1s without an answer");
	store_run_fini(&r);
	tst_state(keep, r.state);
	cr_assert_str_eq(r.state, "running");
	/* The agent is told to stop the failed run. */
	cr_assert_eq(store_work_for_node(tst_store, node, &w, &n), NT_OK);
	cr_assert_eq(n, 1);
	cr_assert_eq(w[0].kind, STORE_WORK_STOP);
	cr_assert_str_eq(w[0].run_id, run);
	store_work_free(w, n);
	cr_assert_eq(store_questions_expire(tst_store, &nodes, &n), NT_OK);
	cr_assert_eq(n, 0);
	free(nodes);
}

Test(store_events, log_throughput)
{
	enum { BATCHES = 100, LINES = 500 };
	char node[NT_UUID_BUFLEN], run[NT_UUID_BUFLEN];
	static struct store_event ev[LINES];
	static enum store_event_outcome out[LINES];
	static char msg[LINES][96];
	double t0, dt;
	int64_t seq = 0;

	tst_node("worker-01", node);
	tst_run(node, "ceph.create-osd", NULL, run);
	t0 = tst_now_s();
	for (int b = 0; b < BATCHES; b++) {
		for (int i = 0; i < LINES; i++) {
			snprintf(msg[i], sizeof(msg[i]),
			         "stderr: ceph-volume line %d of batch %d: "
			         "Running command: /usr/bin/ceph-osd",
			         i, b);
			ev[i] = tst_log(run, ++seq, msg[i]);
		}
		cr_assert_eq(store_events_apply(tst_store, node, ev, LINES,
		                                1000, out),
		             NT_OK);
		cr_assert_eq(out[LINES - 1], STORE_EV_STORED);
	}
	dt = tst_now_s() - t0;
	cr_log_info("stored %d log lines in %.2f s: %.0f lines/s",
	            BATCHES * LINES, dt, BATCHES * LINES / dt);
	fprintf(stderr, "store log throughput: %.0f lines/s\n",
	        BATCHES * LINES / dt);
	cr_assert_eq(tst_sql_num("SELECT count(*) FROM task_logs"),
	             BATCHES * LINES);
	cr_assert_eq(tst_sql_num("SELECT max(seq) FROM task_logs"),
	             BATCHES * LINES);
	cr_assert_eq(tst_sql_num("SELECT log_count FROM task_runs"),
	             BATCHES * LINES);
}
