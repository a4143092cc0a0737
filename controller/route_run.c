/*
 * route_run.c: one run: GET /task/run/{runId}, its log lines
 * (GET /task/run/{runId}/logs, paged by seq) and
 * POST /task/run/{runId}/cancel.
 */
#include <stdio.h>
#include <string.h>

#include "api_json.h"
#include "http_routes.h"
#include "hub.h"
#include "nt_err.h"
#include "nt_json.h"

#define RUN_LOGS_LIMIT_DEFAULT 10000
#define RUN_LOGS_LIMIT_MAX     10000
#define RUN_REASON_MAX         500

void
route_run_get(struct http_req *r)
{
	char id[NT_UUID_BUFLEN];
	struct store_run run;
	int rv;

	if (!http_path_uuid(r, "runId", "run", id))
		return;
	memset(&run, 0, sizeof(run));
	if ((rv = store_run_get(r->store, id, &run)) != NT_OK) {
		http_reply_err(r, rv, "run");
		return;
	}
	http_reply_json(r, 200, api_json_run(&run));
	store_run_fini(&run);
}

/* ?after=SEQ&limit=N; replies 400 and returns false when bad. */
static bool
run_logs_query(struct http_req *r, int64_t *after, int64_t *limit)
{
	static const char *const allowed[] = {"after", "limit", NULL};
	struct http_query q;
	const char *v;

	*after = 0;
	*limit = RUN_LOGS_LIMIT_DEFAULT;
	if (!http_req_query(r, allowed, &q))
		return false;
	if ((v = http_query_get(&q, "after")) != NULL &&
	    !http_parse_int(v, 0, INT64_MAX, after)) {
		http_reply_bad_request(r, "after must be an integer >= 0");
		return false;
	}
	if ((v = http_query_get(&q, "limit")) != NULL &&
	    !http_parse_int(v, 1, RUN_LOGS_LIMIT_MAX, limit)) {
		http_reply_bad_request(r, "limit must be an integer from 1 to "
		                          "10000");
		return false;
	}
	return true;
}

static cJSON *
run_logs_json(const struct store_log *items, size_t n)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; arr != NULL && i < n; i++)
		arr = api_json_append(arr, api_json_log(&items[i]));
	return arr;
}

void
route_run_logs(struct http_req *r)
{
	char id[NT_UUID_BUFLEN];
	struct store_log *items = NULL;
	int64_t after, limit;
	size_t n = 0;
	int rv;

	if (!http_path_uuid(r, "runId", "run", id) ||
	    !run_logs_query(r, &after, &limit))
		return;
	rv = store_log_list(r->store, id, after, (int)limit, &items, &n);
	if (rv != NT_OK) {
		http_reply_err(r, rv, "run");
		return;
	}
	http_reply_json(r, 200, run_logs_json(items, n));
	/* A full page may have a successor; an empty next page is fine. */
	if (n > 0 && n == (size_t)limit)
		http_reply_header(r, "Link",
		                  "</task/run/%s/logs?after=%lld&limit=%lld>; "
		                  "rel=\"next\"",
		                  id, (long long)items[n - 1].seq,
		                  (long long)limit);
	store_log_free(items, n);
}

/* The optional body {"reason": "..."}; false when it has been refused. */
static bool
run_cancel_reason(struct http_req *r, cJSON *doc, const char **reason)
{
	static const char *const fields[] = {"reason", NULL};
	char err[160];

	*reason = NULL;
	if (doc == NULL)
		return true;
	if (api_json_check_fields(doc, fields, "", err, sizeof(err)) != NT_OK) {
		http_reply_bad_request(r, "%s", err);
		return false;
	}
	if (nt_json_string(doc, "reason", reason) == NT_JSON_WRONGTYPE) {
		http_reply_bad_request(r, "reason must be a string");
		return false;
	}
	if (*reason != NULL &&
	    (**reason == '\0' || strlen(*reason) > RUN_REASON_MAX)) {
		http_reply_bad_request(r, "reason must be 1 to 500 bytes");
		return false;
	}
	return true;
}

static void
run_cancel(struct http_req *r, const char *id, const char *reason)
{
	char state[STORE_STATE_BUFLEN] = "";
	struct store_run run;
	bool was_running = false;
	int rv;

	memset(&run, 0, sizeof(run));
	if ((rv = store_run_get(r->store, id, &run)) != NT_OK) {
		http_reply_err(r, rv, "run");
		return;
	}
	rv = store_run_cancel(r->store, id, r->actor, reason, &was_running,
	                      state);
	if (rv == NT_ECONFLICT) {
		http_reply_error(r, 409, "conflict", "run is already %s",
		                 state[0] ? state : "finished");
	} else if (rv != NT_OK) {
		http_reply_err(r, rv, "run");
	} else {
		/* Even a pending run may be on its way to the agent. */
		hub_notify_node(r->hub, run.node_id);
		snprintf(r->detail, sizeof(r->detail), "canceled %s run%s%s",
		         was_running ? "running" : "pending",
		         reason ? ": " : "", reason ? reason : "");
		http_reply_status(r, 200, "canceled");
	}
	store_run_fini(&run);
}

void
route_run_cancel(struct http_req *r)
{
	char id[NT_UUID_BUFLEN];
	const char *reason;
	cJSON *doc;

	if (!http_path_uuid(r, "runId", "run", id))
		return;
	if (http_read_json(r, true, &doc, NULL) != NT_OK)
		return;
	if (run_cancel_reason(r, doc, &reason))
		run_cancel(r, id, reason);
	cJSON_Delete(doc);
}
