/*
 * store_events.c: the agent link's side of the store.
 *
 * Agents report what their runs do as events numbered per run; a batch
 * is stored in one transaction with the runs locked, so a resent event is
 * recognised by its number and never stored twice. Log lines, the hot
 * path, are collected into arrays and inserted with one statement per
 * batch. The hub asks here what each agent must be told (runs to start,
 * runs to stop, answers to deliver) and which questions have expired.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "nt_err.h"
#include "nt_log.h"
#include "store_internal.h"

#define STORE_TTL_DEFAULT_MS 3600000 /* when the caller gives none */

/* Locks the node's runs named in the batch, in id order (no deadlock). */
static const struct store_stmt store_st_ev_lock = {
        STORE_PS_EV_LOCK, "ev_lock", 2,
        "SELECT id, last_event_seq, log_count FROM task_runs"
        " WHERE id = ANY ($1::uuid[]) AND node_id = $2::uuid"
        " ORDER BY id FOR UPDATE"};

static const struct store_stmt store_st_ev_logs = {
        STORE_PS_EV_LOGS, "ev_logs", 5,
        "INSERT INTO task_logs (run_id, seq, ts, level, message)"
        " SELECT u.run_id, u.seq, coalesce(us_ts(u.ts), now()), u.level,"
        " u.message FROM unnest($1::uuid[], $2::bigint[], $3::bigint[],"
        " $4::text[], $5::text[]) AS u(run_id, seq, ts, level, message)"};

static const struct store_stmt store_st_ev_bump = {
        STORE_PS_EV_BUMP, "ev_bump", 3,
        "UPDATE task_runs r SET last_event_seq = u.seq, log_count = u.logs"
        " FROM unnest($1::uuid[], $2::bigint[], $3::bigint[])"
        " AS u(id, seq, logs) WHERE r.id = u.id"};

/* A run canceled before the agent started it still gets started_at, so
 * that store_work_for_node() tells the agent to stop it. */
static const struct store_stmt store_st_ev_started = {
        STORE_PS_EV_STARTED, "ev_started", 2,
        "UPDATE task_runs SET"
        " state = CASE WHEN state = 'pending' THEN 'running' ELSE state END,"
        " started_at = coalesce(started_at, us_ts($2::bigint), now())"
        " WHERE id = $1::uuid"};

/* A question for a run that has ended is recorded closed. */
static const struct store_stmt store_st_ev_question = {
        STORE_PS_NONE, "ev_question", 5,
        "INSERT INTO task_questions (id, run_id, prompt, options, state,"
        " expires_at)"
        " SELECT $1::uuid, r.id, $3, $4::jsonb,"
        " CASE WHEN r.state IN ('pending', 'running') THEN 'open'"
        " ELSE 'closed' END,"
        " now() + $5::bigint * interval '1 millisecond'"
        " FROM task_runs r WHERE r.id = $2::uuid"
        " ON CONFLICT (id) DO NOTHING"};

static const struct store_stmt store_st_ev_answer_received = {
        STORE_PS_NONE, "ev_answer_received", 2,
        "UPDATE task_questions SET delivered_at = coalesce(delivered_at,"
        " now()) WHERE id = $1::uuid AND run_id = $2::uuid"};

/*
 * The state changes only while active (CASE rather than WHERE, because
 * agent_done must be recorded either way); open questions close.
 */
static const struct store_stmt store_st_ev_finished = {
        STORE_PS_EV_FINISHED, "ev_finished", 5,
        "WITH q AS (UPDATE task_questions SET state = 'closed'"
        "  WHERE run_id = $1::uuid AND state = 'open')"
        " UPDATE task_runs SET"
        " state = CASE WHEN state IN ('pending', 'running') THEN $2::text"
        "  ELSE state END,"
        " completed_at = CASE WHEN state IN ('pending', 'running')"
        "  THEN coalesce(us_ts($3::bigint), now()) ELSE completed_at END,"
        " error = CASE WHEN state IN ('pending', 'running') THEN $4::text"
        "  ELSE error END,"
        " result = CASE WHEN state IN ('pending', 'running') THEN $5::jsonb"
        "  ELSE result END,"
        " agent_done = true, agent_finished_at = now()"
        " WHERE id = $1::uuid"};

struct store_ev_run {
	char id[NT_UUID_BUFLEN];
	bool mine; /* exists, belongs to the node, locked */
	bool touched;
	int64_t last_seq;
	int64_t log_count;
};

struct store_ev_batch {
	struct store_conn *c;
	struct store_pipe pipe;
	struct store_ev_run *runs;
	size_t nruns;
	int64_t ttl_ms;
	size_t nlogs;
	struct store_buf lrun, lseq, lts, llevel, lmsg;
};

static struct store_ev_run *
store_ev_find(struct store_ev_batch *b, const char *id)
{
	for (size_t i = 0; i < b->nruns; i++)
		if (strcmp(b->runs[i].id, id) == 0)
			return &b->runs[i];
	return NULL;
}

/* Distinct, well-formed run ids of the batch. */
static int
store_ev_collect(struct store_ev_batch *b, const struct store_event *ev,
                 size_t n)
{
	char id[NT_UUID_BUFLEN];

	if ((b->runs = store_calloc(n, sizeof(*b->runs))) == NULL)
		return NT_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!store_uuid(ev[i].run_id, id) || store_ev_find(b, id))
			continue;
		memcpy(b->runs[b->nruns++].id, id, sizeof(id));
	}
	return NT_OK;
}

/* Queues the lock of the batch's runs that belong to the node. */
static int
store_ev_lock_send(struct store_ev_batch *b, const char *node_id)
{
	struct store_buf ids = {0};
	const char *p[2];
	int rv;

	for (size_t i = 0; i < b->nruns; i++)
		store_buf_elem(&ids, b->runs[i].id);
	if ((p[0] = store_buf_end(&ids)) == NULL) {
		store_buf_fini(&ids);
		return NT_ENOMEM;
	}
	p[1] = node_id;
	rv = store_pipe_send(&b->pipe, &store_st_ev_lock, p, true);
	store_buf_fini(&ids);
	return rv;
}

static void
store_ev_lock_read(struct store_ev_batch *b, const PGresult *r)
{
	struct store_ev_run *run;
	char id[NT_UUID_BUFLEN];

	for (int i = 0; i < PQntuples(r); i++) {
		store_copy(id, sizeof(id), r, i, 0);
		if ((run = store_ev_find(b, id)) == NULL)
			continue;
		run->mine = true;
		run->last_seq = store_i64(r, i, 1);
		run->log_count = store_i64(r, i, 2);
	}
}

/* Queues a statement whose result is not needed. */
static int
store_ev_exec(struct store_ev_batch *b, const struct store_stmt *st,
              const char *const *p)
{
	return store_pipe_send(&b->pipe, st, p, false);
}

static bool
store_ev_level_ok(const char *level)
{
	static const char *const levels[] = {"debug", "info", "warn", "error"};

	for (size_t i = 0; level != NULL && i < 4; i++)
		if (strcmp(level, levels[i]) == 0)
			return true;
	return false;
}

static void
store_ev_elem_i64(struct store_buf *buf, int64_t v)
{
	char s[24];

	snprintf(s, sizeof(s), "%lld", (long long)v);
	store_buf_elem(buf, s);
}

/* Log lines wait in arrays until the end of the batch. */
static enum store_event_outcome
store_ev_log(struct store_ev_batch *b, struct store_ev_run *run,
             const struct store_event *e, int *rv)
{
	const char *msg;
	char *tmp;

	if (!store_ev_level_ok(e->level) || e->message == NULL)
		return STORE_EV_REJECTED;
	if ((msg = store_utf8(e->message, &tmp)) == NULL) {
		*rv = NT_ENOMEM;
		return STORE_EV_REJECTED;
	}
	run->log_count++;
	store_buf_elem(&b->lrun, run->id);
	store_ev_elem_i64(&b->lseq, run->log_count);
	store_ev_elem_i64(&b->lts, e->ts_us);
	store_buf_elem(&b->llevel, e->level);
	store_buf_elem(&b->lmsg, msg);
	free(tmp);
	b->nlogs++;
	return STORE_EV_STORED;
}

static enum store_event_outcome
store_ev_started(struct store_ev_batch *b, struct store_ev_run *run,
                 const struct store_event *e, int *rv)
{
	char ts[24];
	const char *p[] = {run->id, ts};

	snprintf(ts, sizeof(ts), "%lld", (long long)e->ts_us);
	*rv = store_ev_exec(b, &store_st_ev_started, p);
	return STORE_EV_STORED;
}

/*
 * Parses JSON from a peer and prints it again, so that what reaches
 * PostgreSQL is JSON it accepts (cJSON takes a few things jsonb does
 * not, such as \u0000). When strings is set, it must be a non-empty
 * array of strings. NULL when unfit.
 */
static char *
store_ev_json(const char *text, bool strings)
{
	cJSON *j, *item;
	char *tmp, *out = NULL;
	const char *clean;
	bool ok;

	if ((clean = store_utf8(text, &tmp)) == NULL)
		return NULL;
	j = cJSON_ParseWithOpts(clean, NULL, 1);
	free(tmp);
	if (j == NULL)
		return NULL;
	ok = !strings || (cJSON_IsArray(j) && cJSON_GetArraySize(j) > 0);
	if (ok && strings)
		cJSON_ArrayForEach(item, j) ok = ok && cJSON_IsString(item);
	if (ok)
		out = cJSON_PrintUnformatted(j);
	cJSON_Delete(j);
	return out;
}

static enum store_event_outcome
store_ev_question(struct store_ev_batch *b, struct store_ev_run *run,
                  const struct store_event *e, int *rv)
{
	char qid[NT_UUID_BUFLEN], ttl[24], *opts, *tmp;
	const char *p[5];

	if (!store_uuid(e->question_id, qid) || e->prompt == NULL ||
	    e->options_json == NULL)
		return STORE_EV_REJECTED;
	if ((opts = store_ev_json(e->options_json, true)) == NULL)
		return STORE_EV_REJECTED;
	snprintf(ttl, sizeof(ttl), "%lld", (long long)b->ttl_ms);
	p[0] = qid;
	p[1] = run->id;
	p[2] = store_utf8(e->prompt, &tmp);
	p[3] = opts;
	p[4] = ttl;
	if (p[2] == NULL)
		*rv = NT_ENOMEM;
	else
		*rv = store_ev_exec(b, &store_st_ev_question, p);
	free(tmp);
	cJSON_free(opts);
	return STORE_EV_STORED;
}

static enum store_event_outcome
store_ev_answer_received(struct store_ev_batch *b, struct store_ev_run *run,
                         const struct store_event *e, int *rv)
{
	char qid[NT_UUID_BUFLEN];
	const char *p[] = {qid, run->id};

	if (!store_uuid(e->question_id, qid))
		return STORE_EV_REJECTED;
	*rv = store_ev_exec(b, &store_st_ev_answer_received, p);
	return STORE_EV_STORED;
}

static bool
store_ev_final_ok(const char *state)
{
	return state != NULL &&
	       (strcmp(state, "completed") == 0 ||
	        strcmp(state, "failed") == 0 || strcmp(state, "canceled") == 0);
}

static enum store_event_outcome
store_ev_finished(struct store_ev_batch *b, struct store_ev_run *run,
                  const struct store_event *e, int *rv)
{
	char ts[24], *tmp, *result = NULL;
	const char *p[5];

	if (!store_ev_final_ok(e->state))
		return STORE_EV_REJECTED;
	/* A bad result must not keep the run from ending: drop it. */
	if (e->result_json != NULL &&
	    (result = store_ev_json(e->result_json, false)) == NULL)
		nt_warn("store: run %s: agent sent an invalid result; "
		        "dropped",
		        run->id);
	snprintf(ts, sizeof(ts), "%lld", (long long)e->ts_us);
	p[0] = run->id;
	p[1] = e->state;
	p[2] = ts;
	p[3] = store_utf8(e->error, &tmp);
	p[4] = result;
	if (e->error != NULL && p[3] == NULL)
		*rv = NT_ENOMEM;
	else
		*rv = store_ev_exec(b, &store_st_ev_finished, p);
	free(tmp);
	cJSON_free(result);
	return STORE_EV_STORED;
}

static enum store_event_outcome
store_ev_one(struct store_ev_batch *b, const struct store_event *e, int *rv)
{
	char id[NT_UUID_BUFLEN];
	struct store_ev_run *run;
	enum store_event_outcome o;

	if (!store_uuid(e->run_id, id) ||
	    (run = store_ev_find(b, id)) == NULL || !run->mine || e->seq < 1)
		return STORE_EV_REJECTED;
	if (e->seq <= run->last_seq)
		return STORE_EV_DUPLICATE;
	switch (e->kind) {
	case STORE_EV_LOG:
		o = store_ev_log(b, run, e, rv);
		break;
	case STORE_EV_STARTED:
		o = store_ev_started(b, run, e, rv);
		break;
	case STORE_EV_QUESTION:
		o = store_ev_question(b, run, e, rv);
		break;
	case STORE_EV_ANSWER_RECEIVED:
		o = store_ev_answer_received(b, run, e, rv);
		break;
	case STORE_EV_FINISHED:
		o = store_ev_finished(b, run, e, rv);
		break;
	default:
		return STORE_EV_REJECTED;
	}
	if (o == STORE_EV_STORED) {
		run->last_seq = e->seq;
		run->touched = true;
	}
	return o;
}

/* The batch's log lines in one INSERT. */
static int
store_ev_flush_logs(struct store_ev_batch *b)
{
	const char *p[5];

	if (b->nlogs == 0)
		return NT_OK;
	p[0] = store_buf_end(&b->lrun);
	p[1] = store_buf_end(&b->lseq);
	p[2] = store_buf_end(&b->lts);
	p[3] = store_buf_end(&b->llevel);
	p[4] = store_buf_end(&b->lmsg);
	for (int i = 0; i < 5; i++)
		if (p[i] == NULL)
			return NT_ENOMEM;
	return store_ev_exec(b, &store_st_ev_logs, p);
}

/* New last_event_seq and log_count of every run the batch changed. */
static int
store_ev_bump(struct store_ev_batch *b)
{
	struct store_buf ids = {0}, seqs = {0}, logs = {0};
	const char *p[3];
	int rv = NT_OK;

	for (size_t i = 0; i < b->nruns; i++) {
		if (!b->runs[i].touched)
			continue;
		store_buf_elem(&ids, b->runs[i].id);
		store_ev_elem_i64(&seqs, b->runs[i].last_seq);
		store_ev_elem_i64(&logs, b->runs[i].log_count);
	}
	if (ids.len > 0) {
		p[0] = store_buf_end(&ids);
		p[1] = store_buf_end(&seqs);
		p[2] = store_buf_end(&logs);
		if (p[0] == NULL || p[1] == NULL || p[2] == NULL)
			rv = NT_ENOMEM;
		else
			rv = store_ev_exec(b, &store_st_ev_bump, p);
	}
	store_buf_fini(&ids);
	store_buf_fini(&seqs);
	store_buf_fini(&logs);
	return rv;
}

/*
 * Two round trips: BEGIN and the lock, whose result decides what each
 * event is; then every write and COMMIT together.
 */
/*
 * Two round trips: BEGIN with the lock, whose result decides what each
 * event is; then every write and the COMMIT together.
 */
static int
store_ev_tx(struct store_ev_batch *b, const char *node_id,
            const struct store_event *ev, size_t n,
            enum store_event_outcome *outcome)
{
	PGresult *locked = NULL;
	int rv, end;

	if ((rv = store_pipe_begin(&b->pipe, b->c)) != NT_OK)
		return rv;
	rv = store_pipe_command(&b->pipe, "BEGIN");
	if (rv == NT_OK)
		rv = store_ev_lock_send(b, node_id);
	end = store_pipe_end(&b->pipe, &locked);
	if (rv == NT_OK)
		rv = end;
	if (rv != NT_OK)
		goto fail;
	store_ev_lock_read(b, locked);
	PQclear(locked);
	if ((rv = store_pipe_begin(&b->pipe, b->c)) != NT_OK)
		goto fail;
	for (size_t i = 0; i < n && rv == NT_OK; i++)
		outcome[i] = store_ev_one(b, &ev[i], &rv);
	if (rv == NT_OK)
		rv = store_ev_flush_logs(b);
	if (rv == NT_OK)
		rv = store_ev_bump(b);
	if (rv == NT_OK)
		rv = store_pipe_command(&b->pipe, "COMMIT");
	end = store_pipe_end(&b->pipe, NULL);
	if (rv == NT_OK)
		rv = end;
	if (rv == NT_OK)
		return NT_OK;
fail:
	store_rollback(b->c);
	return rv;
}

int
store_events_apply(struct store *s, const char *node_id,
                   const struct store_event *ev, size_t n,
                   int64_t question_ttl_ms, enum store_event_outcome *outcome)
{
	struct store_ev_batch b = {0};
	char nid[NT_UUID_BUFLEN];
	int rv;

	for (size_t i = 0; i < n; i++)
		outcome[i] = STORE_EV_REJECTED;
	if (!store_uuid(node_id, nid) || (n > 0 && ev == NULL))
		return NT_EINVAL;
	if (n == 0)
		return NT_OK;
	b.ttl_ms = question_ttl_ms > 0 ? question_ttl_ms : STORE_TTL_DEFAULT_MS;
	if ((rv = store_ev_collect(&b, ev, n)) != NT_OK)
		return rv;
	/* Not one well-formed run id: all rejected, nothing to store. */
	if (b.nruns == 0) {
		free(b.runs);
		return NT_OK;
	}
	if ((rv = store_conn_get(s, &b.c)) == NT_OK) {
		rv = store_ev_tx(&b, nid, ev, n, outcome);
		store_conn_put(s, b.c);
	}
	free(b.runs);
	store_buf_fini(&b.lrun);
	store_buf_fini(&b.lseq);
	store_buf_fini(&b.lts);
	store_buf_fini(&b.llevel);
	store_buf_fini(&b.lmsg);
	return rv;
}

/* ---- what agents must be told ---- */

/* Oldest first across the three kinds; see store_work_kind. */
static const struct store_stmt store_st_work = {
        STORE_PS_WORK, "work_for_node", 1,
        "SELECT kind, run_id, task_name, params, question_id, answer,"
        " reason FROM ("
        " SELECT 1 AS kind, r.id AS run_id, r.task_name,"
        "  r.params::text AS params, NULL::uuid AS question_id,"
        "  NULL::text AS answer, NULL::text AS reason, r.created_at AS at"
        "  FROM task_runs r WHERE r.node_id = $1::uuid"
        "  AND r.state = 'pending'"
        " UNION ALL"
        " SELECT 2, r.id, r.task_name, NULL, NULL, NULL,"
        "  coalesce(r.error, 'run is ' || r.state),"
        "  coalesce(r.completed_at, r.created_at)"
        "  FROM task_runs r WHERE r.node_id = $1::uuid"
        "  AND r.started_at IS NOT NULL AND NOT r.agent_done"
        "  AND r.state IN ('completed', 'failed', 'canceled')"
        " UNION ALL"
        " SELECT 3, r.id, r.task_name, NULL, q.id, q.answer, NULL,"
        "  q.answered_at"
        "  FROM task_questions q JOIN task_runs r ON r.id = q.run_id"
        "  WHERE r.node_id = $1::uuid AND r.state = 'running'"
        "  AND q.state = 'answered' AND q.delivered_at IS NULL"
        ") w ORDER BY at, kind, run_id"};

static const struct store_stmt store_st_active = {
        STORE_PS_ACTIVE, "node_active_runs", 1,
        "SELECT id, state, last_event_seq FROM task_runs"
        " WHERE node_id = $1::uuid AND started_at IS NOT NULL"
        " AND NOT agent_done ORDER BY created_at, id"};

/*
 * Questions past their deadline expire and fail their run (if still
 * active) with an error that says how long nobody answered. The runs are
 * locked first, in id order, as store_events_apply() does: taking the
 * question rows first could deadlock with an agent's FINISHED event.
 */
static const struct store_stmt store_st_expire_lock = {
        STORE_PS_NONE, "questions_expire_lock", 0,
        "SELECT id FROM task_runs WHERE id IN (SELECT run_id"
        " FROM task_questions WHERE state = 'open' AND expires_at <= now())"
        " ORDER BY id FOR UPDATE"};

static const struct store_stmt store_st_expire = {
        STORE_PS_NONE, "questions_expire", 1,
        "WITH q AS (UPDATE task_questions SET state = 'expired'"
        "  WHERE state = 'open' AND expires_at <= now()"
        "  AND run_id = ANY ($1::uuid[])"
        "  RETURNING id, run_id,"
        "  round(extract(epoch FROM expires_at - created_at) * 1000)"
        "  ::bigint AS ms),"
        " d AS (SELECT id, run_id, CASE"
        "  WHEN ms >= 3600000 AND ms % 3600000 = 0"
        "   THEN (ms / 3600000) || 'h'"
        "  WHEN ms >= 60000 AND ms % 60000 = 0 THEN (ms / 60000) || 'm'"
        "  WHEN ms % 1000 = 0 THEN (ms / 1000) || 's'"
        "  ELSE ms || 'ms' END AS ttl FROM q),"
        " r AS (UPDATE task_runs t SET state = 'failed',"
        "  completed_at = now(),"
        "  error = 'question ' || d.id || ' expired after ' || d.ttl ||"
        "  ' without an answer'"
        "  FROM d WHERE t.id = d.run_id"
        "  AND t.state IN ('pending', 'running')"
        "  RETURNING t.node_id)"
        " SELECT DISTINCT node_id FROM r"};

static void
store_work_fini(void *item)
{
	struct store_work *w = item;

	free(w->params);
	free(w->answer);
	free(w->reason);
}

void
store_work_free(struct store_work *items, size_t n)
{
	if (items == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		store_work_fini(&items[i]);
	free(items);
}

static int
store_work_row(void *item, const PGresult *r, int i)
{
	struct store_work *w = item;
	int err = NT_OK;

	w->kind = (enum store_work_kind)store_i64(r, i, 0);
	store_copy(w->run_id, sizeof(w->run_id), r, i, 1);
	store_copy(w->task_name, sizeof(w->task_name), r, i, 2);
	w->params = store_dup(r, i, 3, &err);
	store_copy(w->question_id, sizeof(w->question_id), r, i, 4);
	w->answer = store_dup(r, i, 5, &err);
	w->reason = store_dup(r, i, 6, &err);
	return err;
}

int
store_work_for_node(struct store *s, const char *node_id,
                    struct store_work **items, size_t *n)
{
	char nid[NT_UUID_BUFLEN];
	const char *p[] = {nid};
	PGresult *r;
	int rv;

	*items = NULL;
	*n = 0;
	if (!store_uuid(node_id, nid))
		return NT_EINVAL;
	if ((rv = store_exec1(s, &store_st_work, p, &r)) != NT_OK)
		return rv;
	rv = store_rows(r, sizeof(**items), store_work_row, store_work_fini,
	                (void **)items, n);
	PQclear(r);
	return rv;
}

static int
store_active_row(void *item, const PGresult *r, int i)
{
	struct store_active_run *a = item;

	store_copy(a->run_id, sizeof(a->run_id), r, i, 0);
	store_copy(a->state, sizeof(a->state), r, i, 1);
	a->last_event_seq = store_i64(r, i, 2);
	return NT_OK;
}

int
store_node_active_runs(struct store *s, const char *node_id,
                       struct store_active_run **items, size_t *n)
{
	char nid[NT_UUID_BUFLEN];
	const char *p[] = {nid};
	PGresult *r;
	int rv;

	*items = NULL;
	*n = 0;
	if (!store_uuid(node_id, nid))
		return NT_EINVAL;
	if ((rv = store_exec1(s, &store_st_active, p, &r)) != NT_OK)
		return rv;
	rv = store_rows(r, sizeof(**items), store_active_row, NULL,
	                (void **)items, n);
	PQclear(r);
	return rv;
}

/* Locks the runs with overdue questions; ids as an array literal. */
static int
store_expire_lock(struct store_conn *c, struct store_buf *ids)
{
	PGresult *r;
	int rv;

	if ((rv = store_exec(c, &store_st_expire_lock, NULL, &r)) != NT_OK)
		return rv;
	for (int i = 0; i < PQntuples(r); i++)
		store_buf_elem(ids, PQgetvalue(r, i, 0));
	PQclear(r);
	return ids->oom ? NT_ENOMEM : NT_OK;
}

static int
store_expire_tx(struct store_conn *c, PGresult **res)
{
	struct store_buf ids = {0};
	const char *p[1];
	int rv;

	*res = NULL;
	if ((rv = store_begin(c)) != NT_OK)
		return rv;
	if ((rv = store_expire_lock(c, &ids)) != NT_OK)
		goto fail;
	if (ids.len == 0) {
		store_rollback(c); /* nothing overdue */
		return NT_OK;
	}
	if ((p[0] = store_buf_end(&ids)) == NULL) {
		rv = NT_ENOMEM;
		goto fail;
	}
	if ((rv = store_exec(c, &store_st_expire, p, res)) != NT_OK ||
	    (rv = store_commit(c)) != NT_OK)
		goto fail;
	store_buf_fini(&ids);
	return NT_OK;
fail:
	PQclear(*res);
	*res = NULL;
	store_rollback(c);
	store_buf_fini(&ids);
	return rv;
}

static int
store_node_id_row(void *item, const PGresult *r, int i)
{
	store_copy(item, NT_UUID_BUFLEN, r, i, 0);
	return NT_OK;
}

int
store_questions_expire(struct store *s, char (**nodes)[NT_UUID_BUFLEN],
                       size_t *n)
{
	struct store_conn *c;
	PGresult *r;
	int rv;

	*nodes = NULL;
	*n = 0;
	if ((rv = store_conn_get(s, &c)) != NT_OK)
		return rv;
	rv = store_expire_tx(c, &r);
	store_conn_put(s, c);
	if (rv != NT_OK || r == NULL) /* r is NULL when nothing expired */
		return rv;
	rv = store_rows(r, sizeof(**nodes), store_node_id_row, NULL,
	                (void **)nodes, n);
	PQclear(r);
	return rv;
}
