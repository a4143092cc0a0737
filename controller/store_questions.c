/*
 * store_questions.c: questions a task asks an operator, and the answers.
 *
 * Agents open questions through events (store_events.c); operators read
 * and answer them here. An answer is only taken while the question is
 * open, not past its deadline, and its run still active.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nt_err.h"
#include "store_internal.h"

#define STORE_QUESTION_COLS                                                  \
	"q.id, q.run_id, r.node_id, r.task_name, q.prompt, q.options::text," \
	" q.state, q.answer, coalesce(q.answered_by, ''),"                   \
	" ts_us(q.created_at), ts_us(q.answered_at), ts_us(q.expires_at)"

static const struct store_stmt store_st_question_pending = {
        STORE_PS_NONE, "question_pending", 0,
        "SELECT " STORE_QUESTION_COLS " FROM task_questions q"
        " JOIN task_runs r ON r.id = q.run_id"
        " WHERE q.state = 'open' AND q.expires_at > now()"
        " AND r.state IN ('pending', 'running')"
        " ORDER BY q.created_at, q.id"};

static const struct store_stmt store_st_question_get = {
        STORE_PS_NONE, "question_get", 1,
        "SELECT " STORE_QUESTION_COLS " FROM task_questions q"
        " JOIN task_runs r ON r.id = q.run_id WHERE q.id = $1"};

/*
 * Locks the run, then the question (the order every writer of questions
 * keeps, see 002_run_reads.sql), answers it when allowed, and returns
 * what the caller needs to say why not: state, run state, whether the
 * answer is an option, whether it is past its deadline, and whether it
 * was taken.
 */
static const struct store_stmt store_st_question_answer = {
        STORE_PS_NONE, "question_answer", 3,
        "WITH r AS (SELECT t.id, t.state, t.node_id FROM task_runs t"
        "  WHERE t.id = (SELECT run_id FROM task_questions WHERE id = $1)"
        "  FOR UPDATE),"
        " q AS (SELECT q.id, q.state, q.options, q.expires_at,"
        "  r.state AS run_state, r.node_id"
        "  FROM task_questions q JOIN r ON r.id = q.run_id"
        "  WHERE q.id = $1 FOR UPDATE OF q),"
        " u AS (UPDATE task_questions t SET state = 'answered',"
        "  answer = $2::text, answered_by = $3, answered_at = now()"
        "  FROM q WHERE t.id = q.id AND q.state = 'open'"
        "  AND q.expires_at > now() AND q.run_state IN ('pending', 'running')"
        "  AND q.options ? $2::text RETURNING t.id)"
        " SELECT q.node_id, q.options ? $2::text, EXISTS (SELECT 1 FROM u)"
        " FROM q"};

void
store_question_fini(struct store_question *q)
{
	if (q == NULL)
		return;
	free(q->prompt);
	free(q->options);
	free(q->answer);
	q->prompt = q->options = q->answer = NULL;
}

void
store_question_free(struct store_question *items, size_t n)
{
	if (items == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		store_question_fini(&items[i]);
	free(items);
}

static void
store_question_fini_item(void *item)
{
	store_question_fini(item);
}

static int
store_question_row(void *item, const PGresult *r, int i)
{
	struct store_question *q = item;
	int err = NT_OK;

	memset(q, 0, sizeof(*q));
	store_copy(q->id, sizeof(q->id), r, i, 0);
	store_copy(q->run_id, sizeof(q->run_id), r, i, 1);
	store_copy(q->node_id, sizeof(q->node_id), r, i, 2);
	store_copy(q->task_name, sizeof(q->task_name), r, i, 3);
	q->prompt = store_dup(r, i, 4, &err);
	q->options = store_dup(r, i, 5, &err);
	store_copy(q->state, sizeof(q->state), r, i, 6);
	q->answer = store_dup(r, i, 7, &err);
	store_copy(q->answered_by, sizeof(q->answered_by), r, i, 8);
	q->created_at_us = store_i64(r, i, 9);
	q->answered_at_us = store_i64(r, i, 10);
	q->expires_at_us = store_i64(r, i, 11);
	if (err != NT_OK)
		store_question_fini(q);
	return err;
}

int
store_question_pending(struct store *s, struct store_question **items,
                       size_t *n)
{
	PGresult *r;
	int rv;

	*items = NULL;
	*n = 0;
	if ((rv = store_exec1(s, &store_st_question_pending, NULL, &r)) !=
	    NT_OK)
		return rv;
	rv = store_rows(r, sizeof(**items), store_question_row,
	                store_question_fini_item, (void **)items, n);
	PQclear(r);
	return rv;
}

int
store_question_get(struct store *s, const char *id, struct store_question *out)
{
	char qid[NT_UUID_BUFLEN];
	const char *p[] = {qid};
	PGresult *r;
	int rv;

	memset(out, 0, sizeof(*out));
	if (!store_uuid(id, qid))
		return NT_EINVAL;
	if ((rv = store_exec1(s, &store_st_question_get, p, &r)) != NT_OK)
		return rv;
	rv = PQntuples(r) == 1 ? store_question_row(out, r, 0) : NT_ENOTFOUND;
	PQclear(r);
	return rv;
}

int
store_question_answer(struct store *s, const char *id, const char *answer,
                      const char *by, char node_id_out[NT_UUID_BUFLEN])
{
	char qid[NT_UUID_BUFLEN], *tmp;
	const char *p[3];
	PGresult *r;
	int rv;

	if (node_id_out != NULL)
		node_id_out[0] = '\0';
	if (!store_uuid(id, qid) || answer == NULL)
		return NT_EINVAL;
	/* Bad UTF-8 can match no option, but must not fail the query. */
	p[0] = qid;
	if ((p[1] = store_utf8(answer, &tmp)) == NULL)
		return NT_ENOMEM;
	p[2] = by != NULL ? by : "";
	rv = store_exec1(s, &store_st_question_answer, p, &r);
	free(tmp);
	if (rv != NT_OK)
		return rv;
	if (PQntuples(r) == 0)
		rv = NT_ENOTFOUND;
	else if (!store_bool(r, 0, 1))
		rv = NT_EINVAL; /* not one of the options */
	else if (!store_bool(r, 0, 2))
		rv = NT_ECONFLICT; /* answered, expired, closed or run over */
	else if (node_id_out != NULL)
		store_copy(node_id_out, NT_UUID_BUFLEN, r, 0, 0);
	PQclear(r);
	return rv;
}
