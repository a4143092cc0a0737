/*
 * store_logs.c: reading a run's log lines (store_events.c writes them).
 */
#include <stdio.h>
#include <stdlib.h>

#include "nt_err.h"
#include "store_internal.h"

/*
 * One round trip tells "no such run" (no row) from "no lines yet" (one
 * row of NULLs): the lines are joined laterally to the run.
 */
static const struct store_stmt store_st_log_list = {
        STORE_PS_LOG_LIST, "log_list", 3,
        "SELECT l.seq, ts_us(l.ts), l.level, l.message FROM task_runs r"
        " LEFT JOIN LATERAL (SELECT seq, ts, level, message FROM task_logs"
        "  WHERE run_id = r.id AND seq > $2::bigint ORDER BY seq"
        "  LIMIT $3::bigint) l ON true"
        " WHERE r.id = $1 ORDER BY l.seq"};

int
store_log_list(struct store *s, const char *run_id, int64_t after, int limit,
               struct store_log **items, size_t *n)
{
	char id[NT_UUID_BUFLEN], a[24], l[16];
	const char *p[] = {id, a, l};
	struct store_log *v;
	PGresult *r;
	int rv, rows, k = 0;

	*items = NULL;
	*n = 0;
	if (!store_uuid(run_id, id) || limit < 1)
		return NT_EINVAL;
	snprintf(a, sizeof(a), "%lld", (long long)(after > 0 ? after : 0));
	snprintf(l, sizeof(l), "%d", limit);
	if ((rv = store_exec1(s, &store_st_log_list, p, &r)) != NT_OK)
		return rv;
	rows = PQntuples(r);
	if (rows == 0) {
		PQclear(r);
		return NT_ENOTFOUND;
	}
	if ((v = store_calloc((size_t)rows, sizeof(*v))) == NULL) {
		PQclear(r);
		return NT_ENOMEM;
	}
	for (int i = 0; i < rows && rv == NT_OK; i++) {
		if (PQgetisnull(r, i, 0))
			continue; /* the run has no lines past `after` */
		v[k].seq = store_i64(r, i, 0);
		v[k].ts_us = store_i64(r, i, 1);
		store_copy(v[k].level, sizeof(v[k].level), r, i, 2);
		v[k].message = store_dup(r, i, 3, &rv);
		k++;
	}
	PQclear(r);
	if (rv != NT_OK) {
		store_log_free(v, (size_t)k);
		return rv;
	}
	*items = v;
	*n = (size_t)k;
	return NT_OK;
}

void
store_log_free(struct store_log *items, size_t n)
{
	if (items == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		free(items[i].message);
	free(items);
}
