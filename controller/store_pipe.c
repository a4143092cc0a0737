/*
 * store_pipe.c: several statements in one round trip (libpq pipeline
 * mode), for transactions whose later statements do not depend on the
 * earlier ones' results.
 *
 * An agent's Started or Finished batch used to cost five round trips
 * (BEGIN, lock, update, bump, COMMIT), each a wake-up of the backend and
 * of the controller thread; pipelined it is two. Statements are sent in
 * chunks so neither side's socket buffer can fill while the other is
 * still writing (libpq's warning for blocking pipelines), and the first
 * failure stops the sending: PostgreSQL skips the rest up to the sync
 * anyway, and the caller rolls the transaction back.
 */
#include <stdlib.h>
#include <string.h>

#include "nt_err.h"
#include "nt_log.h"
#include "store_internal.h"

int
store_pipe_begin(struct store_pipe *p, struct store_conn *c)
{
	memset(p, 0, sizeof(*p));
	p->c = c;
	if (PQenterPipelineMode(c->pg) != 1) {
		nt_error("store: pipeline mode: %s", PQerrorMessage(c->pg));
		c->broken = true;
		return NT_EUNAVAIL;
	}
	return NT_OK;
}

/* Reads the results of everything queued, up to and with the sync. */
static int
store_pipe_drain(struct store_pipe *p)
{
	struct store_conn *c = p->c;
	PGresult *r;
	int rv = NT_OK;

	if (p->n == 0)
		return NT_OK;
	if (PQpipelineSync(c->pg) != 1) {
		c->broken = true;
		return NT_EUNAVAIL;
	}
	for (int i = 0; i < p->n; i++) {
		int one;

		r = PQgetResult(c->pg);
		if (PQresultStatus(r) == PGRES_PIPELINE_ABORTED) {
			PQclear(r);
			one = NT_EIO; /* skipped after an earlier failure */
		} else {
			one = store_check(c, r, p->names[i]);
			if (one == NT_OK && p->kinds[i] == STORE_PIPE_PREPARE)
				c->prepared |= 1u << p->ps[i];
			if (one == NT_OK && p->kinds[i] == STORE_PIPE_KEEP) {
				PQclear(p->kept);
				p->kept = r;
				r = NULL;
			}
			PQclear(r);
		}
		if (rv == NT_OK)
			rv = one;
		/* Each statement's results end with a NULL. */
		while ((r = PQgetResult(c->pg)) != NULL)
			PQclear(r);
	}
	r = PQgetResult(c->pg);
	if (PQresultStatus(r) != PGRES_PIPELINE_SYNC && rv == NT_OK) {
		nt_error("store: pipeline out of step");
		c->broken = true;
		rv = NT_EUNAVAIL;
	}
	PQclear(r);
	p->n = 0;
	return rv;
}

/* A send that failed: the connection is no use any more. */
static int
store_pipe_lost(struct store_pipe *p)
{
	nt_warn("store: sending to the database: %s", PQerrorMessage(p->c->pg));
	p->c->broken = true;
	p->rv = NT_EUNAVAIL;
	return p->rv;
}

static void
store_pipe_queued(struct store_pipe *p, enum store_pipe_kind kind,
                  const struct store_stmt *st)
{
	p->kinds[p->n] = kind;
	p->ps[p->n] = st->ps;
	p->names[p->n] = st->name;
	p->n++;
	if (p->n == STORE_PIPE_MAX)
		p->rv = store_pipe_drain(p);
}

int
store_pipe_send(struct store_pipe *p, const struct store_stmt *st,
                const char *const *params, bool keep)
{
	PGconn *pg = p->c->pg;
	uint32_t bit = st->ps != STORE_PS_NONE ? 1u << st->ps : 0;

	if (p->rv != NT_OK)
		return p->rv;
	if (bit != 0 && ((p->c->prepared | p->preparing) & bit) == 0) {
		if (PQsendPrepare(pg, st->name, st->sql, st->nparams, NULL) !=
		    1)
			return store_pipe_lost(p);
		p->preparing |= bit;
		store_pipe_queued(p, STORE_PIPE_PREPARE, st);
		if (p->rv != NT_OK)
			return p->rv;
	}
	if ((bit == 0 ? PQsendQueryParams(pg, st->sql, st->nparams, NULL,
	                                  params, NULL, NULL, 0)
	              : PQsendQueryPrepared(pg, st->name, st->nparams, params,
	                                    NULL, NULL, 0)) != 1)
		return store_pipe_lost(p);
	store_pipe_queued(p, keep ? STORE_PIPE_KEEP : STORE_PIPE_STMT, st);
	return p->rv;
}

int
store_pipe_command(struct store_pipe *p, const char *sql)
{
	const struct store_stmt st = {STORE_PS_NONE, sql, 0, sql};

	return store_pipe_send(p, &st, NULL, false);
}

int
store_pipe_end(struct store_pipe *p, PGresult **res)
{
	struct store_conn *c = p->c;
	int rv = p->rv;

	if (res != NULL)
		*res = NULL;
	/* After a failed send nothing more can be read. */
	if (!c->broken && p->n > 0) {
		int drained = store_pipe_drain(p);
		if (rv == NT_OK)
			rv = drained;
	}
	if (!c->broken && PQexitPipelineMode(c->pg) != 1) {
		nt_error("store: leaving pipeline mode: %s",
		         PQerrorMessage(c->pg));
		c->broken = true;
	}
	if (c->broken && rv == NT_OK)
		rv = NT_EUNAVAIL;
	if (rv == NT_OK && res != NULL) {
		*res = p->kept;
		p->kept = NULL;
	}
	PQclear(p->kept);
	p->kept = NULL;
	return rv;
}
