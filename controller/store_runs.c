/*
 * store_runs.c: task runs: create, read, page through, cancel.
 *
 * The database enforces what must hold even with several controllers:
 * one active run per device (a partial unique index), one run per
 * idempotency key (a unique column), and terminal states that never
 * change (every state UPDATE is guarded).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nt_err.h"
#include "store_internal.h"

/*
 * What struct store_run holds, all from the run row (002_run_reads), read
 * in binary (store_run_row): these reads are the API's hottest.
 */
#define STORE_RUN_COLS                                                  \
	"r.id, r.task_name, r.state, r.node_id, r.node_hostname,"       \
	" r.created_at, r.started_at, r.completed_at,"                  \
	" r.error, r.params::text, r.result::text, r.open_question_id," \
	" coalesce(r.device_path, '')"

static const struct store_stmt store_st_run_get = {
        STORE_PS_RUN_GET, "run_get", 1,
        "SELECT " STORE_RUN_COLS " FROM task_runs r WHERE r.id = $1"};

/*
 * Keyset paging on (created_at, id): the cursor is the last run of the
 * previous page. NULL filters match everything.
 */
static const struct store_stmt store_st_run_recent = {
        STORE_PS_RUN_RECENT, "run_recent", 5,
        "SELECT " STORE_RUN_COLS " FROM task_runs r"
        " WHERE ($1::text IS NULL OR r.state = $1::text)"
        " AND ($2::text IS NULL OR r.task_name = $2::text)"
        " AND ($3::uuid IS NULL OR r.node_id = $3::uuid)"
        " AND ($4::uuid IS NULL OR (r.created_at, r.id) <"
        "  (SELECT b.created_at, b.id FROM task_runs b WHERE b.id = $4))"
        " ORDER BY r.created_at DESC, r.id DESC LIMIT $5::bigint"};

static const struct store_stmt store_st_run_exists = {
        STORE_PS_NONE, "run_exists", 1,
        "SELECT 1 FROM task_runs WHERE id = $1"};

static const struct store_stmt store_st_run_by_key = {
        STORE_PS_NONE, "run_by_key", 1,
        "SELECT id, request_hash FROM task_runs WHERE idempotency_key = $1"};

/* A taken idempotency key inserts nothing; the caller looks again. */
static const struct store_stmt store_st_run_insert = {
        STORE_PS_RUN_INSERT, "run_insert", 7,
        "INSERT INTO task_runs (task_name, node_id, params, device_path,"
        " idempotency_key, request_hash, created_by)"
        " VALUES ($1, $2::uuid, $3::jsonb, $4, $5, $6, coalesce($7, ''))"
        " ON CONFLICT (idempotency_key) DO NOTHING RETURNING id"};

static const struct store_stmt store_st_run_holder = {
        STORE_PS_NONE, "run_holder", 2,
        "SELECT id FROM task_runs WHERE node_id = $1::uuid"
        " AND device_path = $2 AND state IN ('pending', 'running')"};

/*
 * One statement: lock the run, cancel it if still active, close its open
 * question. Returns the state before (o.state) and whether it changed.
 */
static const struct store_stmt store_st_run_cancel = {
        STORE_PS_NONE, "run_cancel", 3,
        "WITH o AS (SELECT id, state FROM task_runs WHERE id = $1"
        "  FOR UPDATE),"
        " u AS (UPDATE task_runs r SET state = 'canceled',"
        "  completed_at = now(),"
        "  error = coalesce($2::text, 'canceled by ' || coalesce($3, '?'))"
        "  FROM o WHERE r.id = o.id AND o.state IN ('pending', 'running')"
        "  RETURNING r.id),"
        " q AS (UPDATE task_questions SET state = 'closed'"
        "  WHERE run_id = $1 AND state = 'open'"
        "  AND EXISTS (SELECT 1 FROM u))"
        " SELECT o.state, EXISTS (SELECT 1 FROM u) FROM o"};

void
store_run_fini(struct store_run *r)
{
	if (r == NULL)
		return;
	free(r->error);
	free(r->params);
	free(r->result);
	r->error = r->params = r->result = NULL;
}

void
store_run_free(struct store_run *items, size_t n)
{
	if (items == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		store_run_fini(&items[i]);
	free(items);
}

static int
store_run_row(struct store_run *o, const PGresult *r, int i)
{
	int err = NT_OK;

	memset(o, 0, sizeof(*o));
	store_bin_uuid(o->id, r, i, 0);
	store_copy(o->task_name, sizeof(o->task_name), r, i, 1);
	store_copy(o->state, sizeof(o->state), r, i, 2);
	store_bin_uuid(o->node_id, r, i, 3);
	store_copy(o->node_hostname, sizeof(o->node_hostname), r, i, 4);
	o->created_at_us = store_bin_ts_us(r, i, 5);
	o->started_at_us = store_bin_ts_us(r, i, 6);
	o->completed_at_us = store_bin_ts_us(r, i, 7);
	o->error = store_dup(r, i, 8, &err);
	o->params = store_dup(r, i, 9, &err);
	o->result = store_dup(r, i, 10, &err);
	store_bin_uuid(o->pending_question_id, r, i, 11);
	store_copy(o->device_path, sizeof(o->device_path), r, i, 12);
	if (err != NT_OK)
		store_run_fini(o);
	return err;
}

static int
store_run_get_on(struct store_conn *c, const char *id, struct store_run *out)
{
	const char *p[] = {id};
	PGresult *r;
	int rv;

	if ((rv = store_exec_binary(c, &store_st_run_get, p, &r)) != NT_OK)
		return rv;
	rv = PQntuples(r) == 1 ? store_run_row(out, r, 0) : NT_ENOTFOUND;
	PQclear(r);
	return rv;
}

int
store_run_get(struct store *s, const char *id, struct store_run *out)
{
	char rid[NT_UUID_BUFLEN];
	struct store_conn *c;
	int rv;

	memset(out, 0, sizeof(*out));
	if (!store_uuid(id, rid))
		return NT_EINVAL;
	if ((rv = store_conn_get(s, &c)) != NT_OK)
		return rv;
	rv = store_run_get_on(c, rid, out);
	store_conn_put(s, c);
	return rv;
}

/*
 * The run an idempotency key names: the same request gets it back, a
 * different one is a conflict. NT_ENOTFOUND when the key is unused.
 */
static int
store_run_keyed(struct store_conn *c, const struct store_run_new *nr,
                struct store_run *out, char *err, size_t errlen)
{
	const char *p[] = {nr->idempotency_key};
	char id[NT_UUID_BUFLEN];
	const char *hash;
	PGresult *r;
	int rv;

	if ((rv = store_exec(c, &store_st_run_by_key, p, &r)) != NT_OK)
		return rv;
	if (PQntuples(r) == 0) {
		PQclear(r);
		return NT_ENOTFOUND;
	}
	store_copy(id, sizeof(id), r, 0, 0);
	hash = store_val(r, 0, 1);
	if ((hash == NULL) != (nr->request_hash == NULL) ||
	    (hash != NULL && strcmp(hash, nr->request_hash) != 0)) {
		snprintf(err, errlen,
		         "Idempotency-Key reused with a different request");
		PQclear(r);
		return NT_ECONFLICT;
	}
	PQclear(r);
	return store_run_get_on(c, id, out);
}

/* Names the run that holds the device in err. */
static void
store_run_busy(struct store_conn *c, const char *node_id, const char *path,
               char *err, size_t errlen)
{
	const char *p[] = {node_id, path};
	PGresult *r;

	if (store_exec(c, &store_st_run_holder, p, &r) == NT_OK &&
	    PQntuples(r) > 0)
		snprintf(err, errlen, "device %s is in use by run %s", path,
		         store_val(r, 0, 0));
	else
		snprintf(err, errlen, "device %s is in use by another run",
		         path);
	PQclear(r);
}

static int
store_run_insert(struct store_conn *c, const struct store_run_new *nr,
                 const char *node_id, char id[NT_UUID_BUFLEN], char *err,
                 size_t errlen)
{
	const char *p[] = {nr->task_name,       node_id,
	                   nr->params,          nr->device_path,
	                   nr->idempotency_key, nr->request_hash,
	                   nr->created_by};
	PGresult *r;
	int rv;

	id[0] = '\0';
	rv = store_exec(c, &store_st_run_insert, p, &r);
	if (rv == NT_OK) {
		if (PQntuples(r) == 1)
			store_copy(id, NT_UUID_BUFLEN, r, 0, 0);
		PQclear(r);
	} else if (rv == NT_ENOTFOUND) {
		snprintf(err, errlen, "unknown node %s", node_id);
	} else if (rv == NT_ECONFLICT && nr->device_path != NULL &&
	           strcmp(c->constraint, "task_runs_device_active") == 0) {
		store_run_busy(c, node_id, nr->device_path, err, errlen);
	} else if (rv == NT_EINVAL) {
		snprintf(err, errlen, "invalid run parameters");
	}
	return rv;
}

int
store_run_create(struct store *s, const struct store_run_new *nr,
                 struct store_run *out, bool *existed, char *err, size_t errlen)
{
	char node_id[NT_UUID_BUFLEN], id[NT_UUID_BUFLEN];
	char ebuf[1];
	struct store_conn *c;
	int rv;

	memset(out, 0, sizeof(*out));
	*existed = false;
	if (err == NULL || errlen == 0) {
		err = ebuf;
		errlen = sizeof(ebuf);
	}
	err[0] = '\0';
	if (nr->task_name == NULL || nr->params == NULL ||
	    !store_uuid(nr->node_id, node_id)) {
		snprintf(err, errlen, "task name, node id and params required");
		return NT_EINVAL;
	}
	/* They must fit struct store_run when read back. */
	if (strlen(nr->task_name) >= STORE_TASK_BUFLEN ||
	    (nr->device_path != NULL &&
	     strlen(nr->device_path) >= STORE_PATH_BUFLEN)) {
		snprintf(err, errlen, "task name or device path too long");
		return NT_EINVAL;
	}
	if ((rv = store_conn_get(s, &c)) != NT_OK)
		return rv;
	if (nr->idempotency_key != NULL &&
	    (rv = store_run_keyed(c, nr, out, err, errlen)) != NT_ENOTFOUND) {
		*existed = rv == NT_OK;
		goto out;
	}
	if ((rv = store_run_insert(c, nr, node_id, id, err, errlen)) != NT_OK)
		goto out;
	if (id[0] != '\0') {
		rv = store_run_get_on(c, id, out);
	} else if (nr->idempotency_key != NULL) {
		/* Another request with this key won the race. */
		rv = store_run_keyed(c, nr, out, err, errlen);
		*existed = rv == NT_OK;
		if (rv == NT_ENOTFOUND)
			rv = NT_EUNAVAIL; /* gone again: let the client retry */
	} else {
		rv = NT_EIO;
	}
out:
	store_conn_put(s, c);
	return rv;
}

/* Fills f's parameters; NT_EINVAL for malformed ids. */
static int
store_recent_params(const struct store_run_filter *f, const char *p[5],
                    char node[NT_UUID_BUFLEN], char before[NT_UUID_BUFLEN],
                    char limit[16])
{
	if (f->limit < 1 || f->limit > 500)
		return NT_EINVAL;
	p[0] = f->state;
	p[1] = f->task_name;
	p[2] = NULL;
	p[3] = NULL;
	if (f->node_id != NULL) {
		if (!store_uuid(f->node_id, node))
			return NT_EINVAL;
		p[2] = node;
	}
	if (f->before != NULL) {
		if (!store_uuid(f->before, before))
			return NT_EINVAL;
		p[3] = before;
	}
	/* One more than asked: tells whether another page exists. */
	snprintf(limit, 16, "%d", f->limit + 1);
	p[4] = limit;
	return NT_OK;
}

int
store_run_recent(struct store *s, const struct store_run_filter *f,
                 struct store_run **items, size_t *n, bool *more)
{
	char node[NT_UUID_BUFLEN], before[NT_UUID_BUFLEN], limit[16];
	const char *p[5];
	struct store_conn *c;
	struct store_run *v = NULL;
	PGresult *r;
	int rv, rows;

	*items = NULL;
	*n = 0;
	*more = false;
	if ((rv = store_recent_params(f, p, node, before, limit)) != NT_OK)
		return rv;
	if ((rv = store_conn_get(s, &c)) != NT_OK)
		return rv;
	if ((rv = store_exec_binary(c, &store_st_run_recent, p, &r)) != NT_OK)
		goto out;
	rows = PQntuples(r);
	if (rows == 0 && f->before != NULL) {
		/* Nothing older, or no such cursor run? */
		PQclear(r);
		if ((rv = store_exec(c, &store_st_run_exists, p + 3, &r)) !=
		    NT_OK)
			goto out;
		if (PQntuples(r) == 0)
			rv = NT_ENOTFOUND;
	}
	*more = rows > f->limit;
	if (rows > f->limit)
		rows = f->limit;
	if (rv == NT_OK && (v = store_calloc((size_t)rows, sizeof(*v))) == NULL)
		rv = NT_ENOMEM;
	for (int i = 0; rv == NT_OK && i < rows; i++)
		if ((rv = store_run_row(&v[i], r, i)) != NT_OK)
			store_run_free(v, (size_t)i);
	PQclear(r);
	if (rv == NT_OK) {
		*items = v;
		*n = (size_t)rows;
	} else {
		*more = false;
	}
out:
	store_conn_put(s, c);
	return rv;
}

int
store_run_cancel(struct store *s, const char *id, const char *by,
                 const char *reason, bool *was_running,
                 char state_out[STORE_STATE_BUFLEN])
{
	char rid[NT_UUID_BUFLEN], *tmp;
	const char *p[3];
	PGresult *r;
	int rv;

	*was_running = false;
	if (state_out != NULL)
		state_out[0] = '\0';
	if (!store_uuid(id, rid))
		return NT_EINVAL;
	p[0] = rid;
	p[1] = store_utf8(reason, &tmp);
	p[2] = by;
	if (reason != NULL && p[1] == NULL)
		return NT_ENOMEM;
	rv = store_exec1(s, &store_st_run_cancel, p, &r);
	free(tmp);
	if (rv != NT_OK)
		return rv;
	if (PQntuples(r) == 0) {
		rv = NT_ENOTFOUND;
	} else {
		/* The state now: "canceled", or the terminal one it had. */
		if (store_bool(r, 0, 1)) {
			*was_running =
			        strcmp(PQgetvalue(r, 0, 0), "running") == 0;
			if (state_out != NULL)
				snprintf(state_out, STORE_STATE_BUFLEN,
				         "canceled");
		} else {
			rv = NT_ECONFLICT;
			if (state_out != NULL)
				store_copy(state_out, STORE_STATE_BUFLEN, r, 0,
				           0);
		}
	}
	PQclear(r);
	return rv;
}
