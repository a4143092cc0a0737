/*
 * route_runs.c: the run collection: GET /task/runs/recent (newest first,
 * filtered, paged by a "before" cursor) and POST /task/runs (start a
 * run, with optional Idempotency-Key).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_json.h"
#include "http_routes.h"
#include "hub.h"
#include "nt_err.h"
#include "nt_hash.h"
#include "nt_json.h"
#include "nt_text.h"
#include "task_catalog.h"

#define RUNS_LIMIT_DEFAULT 50
#define RUNS_LIMIT_MAX     500
#define RUNS_IDEM_MAX      128

static const char *const runs_states[] = {"pending", "running",  "completed",
                                          "failed",  "canceled", NULL};

/* The static spelling of state s, or NULL when s is no state. */
static const char *
runs_state(const char *s)
{
	for (size_t i = 0; runs_states[i] != NULL; i++)
		if (strcmp(s, runs_states[i]) == 0)
			return runs_states[i];
	return NULL;
}

/* Task names as the catalogue spells them: [a-z0-9._-], short. */
static bool
runs_task_name_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len >= STORE_TASK_BUFLEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("._-", s[i])))
			return false;
	return true;
}

struct runs_query {
	struct store_run_filter f;
	char task_name[STORE_TASK_BUFLEN];
	char node_id[NT_UUID_BUFLEN];
	char before[NT_UUID_BUFLEN];
};

/* Fills rq from the query string; replies 400 and returns false if bad. */
static bool
runs_query_read(struct http_req *r, struct runs_query *rq)
{
	static const char *const allowed[] = {"limit",  "state",  "taskName",
	                                      "nodeId", "before", NULL};
	struct http_query q;
	const char *v;
	int64_t limit = RUNS_LIMIT_DEFAULT;

	memset(rq, 0, sizeof(*rq));
	if (!http_req_query(r, allowed, &q))
		return false;
	if ((v = http_query_get(&q, "limit")) != NULL &&
	    !http_parse_int(v, 1, RUNS_LIMIT_MAX, &limit)) {
		http_reply_bad_request(r, "limit must be an integer from 1 to "
		                          "500");
		return false;
	}
	rq->f.limit = (int)limit;
	if ((v = http_query_get(&q, "state")) != NULL &&
	    (rq->f.state = runs_state(v)) == NULL) {
		http_reply_bad_request(r, "state must be one of pending, "
		                          "running, completed, failed, "
		                          "canceled");
		return false;
	}
	if ((v = http_query_get(&q, "taskName")) != NULL) {
		if (!runs_task_name_ok(v)) {
			http_reply_bad_request(r,
			                       "taskName is not a valid task "
			                       "name");
			return false;
		}
		/* q dies with this frame; the filter must outlive it. */
		snprintf(rq->task_name, sizeof(rq->task_name), "%s", v);
		rq->f.task_name = rq->task_name;
	}
	if ((v = http_query_get(&q, "nodeId")) != NULL) {
		if (!nt_uuid_parse(v, rq->node_id)) {
			http_reply_bad_request(r, "nodeId must be a UUID");
			return false;
		}
		rq->f.node_id = rq->node_id;
	}
	if ((v = http_query_get(&q, "before")) != NULL) {
		if (!nt_uuid_parse(v, rq->before)) {
			http_reply_bad_request(r, "before must be a run id");
			return false;
		}
		rq->f.before = rq->before;
	}
	return true;
}

/* Link: <...?before=LAST...>; rel="next", repeating the filters. */
static void
runs_link_next(struct http_req *r, const struct runs_query *rq,
               const char *last_id)
{
	char url[512];
	int n;

	n = snprintf(url, sizeof(url), "/task/runs/recent?limit=%d",
	             rq->f.limit);
	if (rq->f.state != NULL)
		n += snprintf(url + n, sizeof(url) - (size_t)n, "&state=%s",
		              rq->f.state);
	if (rq->f.task_name != NULL)
		n += snprintf(url + n, sizeof(url) - (size_t)n, "&taskName=%s",
		              rq->f.task_name);
	if (rq->f.node_id != NULL)
		n += snprintf(url + n, sizeof(url) - (size_t)n, "&nodeId=%s",
		              rq->f.node_id);
	snprintf(url + n, sizeof(url) - (size_t)n, "&before=%s", last_id);
	http_reply_header(r, "Link", "<%s>; rel=\"next\"", url);
}

void
route_runs_recent(struct http_req *r)
{
	struct runs_query rq;
	struct store_run *items = NULL;
	size_t n = 0;
	bool more = false;
	cJSON *arr;
	int rv;

	if (!runs_query_read(r, &rq))
		return;
	rv = store_run_recent(r->store, &rq.f, &items, &n, &more);
	if (rv == NT_ENOTFOUND) {
		http_reply_bad_request(r, "before names no run");
		return;
	}
	if (rv != NT_OK) {
		http_reply_err(r, rv, "runs");
		return;
	}
	arr = cJSON_CreateArray();
	for (size_t i = 0; arr != NULL && i < n; i++)
		arr = api_json_append(arr, api_json_run_summary(&items[i]));
	if (more && n > 0)
		runs_link_next(r, &rq, items[n - 1].id);
	store_run_free(items, n);
	http_reply_json(r, 200, arr);
}

/* ---- starting runs -------------------------------------------------- */

/* The Idempotency-Key header: NULL when absent; false when malformed. */
static bool
runs_idem_key(struct http_req *r, const char **key)
{
	*key = http_req_header(r, "Idempotency-Key");
	if (*key == NULL || nt_text_is_token(*key, RUNS_IDEM_MAX))
		return true;
	http_reply_bad_request(r, "Idempotency-Key must be 1 to 128 printable "
	                          "characters without spaces");
	return false;
}

/* Turns a diskId into the device path, on the run's node. */
static int
runs_resolve_disk(struct http_req *r, const struct route_submit *s,
                  struct task_request *tr)
{
	struct store_disk disk;
	char err[256];
	int rv;

	memset(&disk, 0, sizeof(disk));
	rv = store_disk_get(r->store, tr->disk_id, &disk);
	if (rv == NT_ENOTFOUND) {
		http_reply_error(r, 404, "not_found", "disk %s not found",
		                 tr->disk_id);
		return rv;
	}
	if (rv != NT_OK) {
		http_reply_err(r, rv, "disk");
		return rv;
	}
	rv = task_catalog_resolve_disk(tr, &disk, s->node_id, err, sizeof(err));
	store_disk_fini(&disk);
	if (rv != NT_OK) {
		http_reply_bad_request(r, "%s", err);
		return rv;
	}
	/* The agent reads the path from params; diskId stays as given. */
	if (cJSON_AddStringToObject(s->params, "devicePath", tr->device_path) ==
	    NULL) {
		http_reply_err(r, NT_ENOMEM, "params");
		return NT_ENOMEM;
	}
	return NT_OK;
}

static int
runs_store(struct http_req *r, const struct route_submit *s,
           const struct task_request *tr, const char *idem,
           struct store_run *run, bool *existed)
{
	char hash[NT_SHA256_BUFLEN], err[256] = "";
	char *params = NULL;
	int rv;

	if (s->params != NULL && (params = nt_json_print(s->params)) == NULL) {
		http_reply_err(r, NT_ENOMEM, "params");
		return NT_ENOMEM;
	}
	nt_sha256_hex(s->body ? s->body : "", s->body_len, hash);
	struct store_run_new nr = {
	        .task_name = tr->task_name,
	        .node_id = s->node_id,
	        .params = params ? params : "{}",
	        .device_path = tr->device_path[0] ? tr->device_path : NULL,
	        .idempotency_key = idem,
	        .request_hash = idem ? hash : NULL,
	        .created_by = r->actor,
	};
	rv = store_run_create(r->store, &nr, run, existed, err, sizeof(err));
	cJSON_free(params);
	if (rv == NT_ENOTFOUND)
		http_reply_error(r, 404, "not_found", "node %s not found",
		                 s->node_id);
	else if (rv == NT_ECONFLICT)
		http_reply_error(r, 409, "conflict", "%s",
		                 err[0] ? err
		                        : "the run conflicts with another");
	else if (rv == NT_EINVAL)
		http_reply_bad_request(r, "%s",
		                       err[0] ? err : "the run was refused");
	else if (rv != NT_OK)
		http_reply_err(r, rv, "run");
	return rv;
}

int
route_runs_submit(struct http_req *r, const struct route_submit *s,
                  struct store_run *run, bool *existed)
{
	struct task_request tr;
	const char *idem;
	char err[256];
	int rv;

	*existed = false;
	if (!runs_idem_key(r, &idem))
		return NT_EINVAL;
	if (task_catalog_check(s->task_name, s->params, &tr, err,
	                       sizeof(err)) != NT_OK) {
		http_reply_bad_request(r, "%s", err);
		return NT_EINVAL;
	}
	if (tr.disk_id[0] != '\0' &&
	    (rv = runs_resolve_disk(r, s, &tr)) != NT_OK)
		return rv;
	if ((rv = runs_store(r, s, &tr, idem, run, existed)) != NT_OK)
		return rv;
	snprintf(r->object_id, sizeof(r->object_id), "%s", run->id);
	snprintf(r->detail, sizeof(r->detail), "%s%s on node %s%s%.160s",
	         *existed ? "replayed " : "", tr.task_name, s->node_id,
	         tr.device_path[0] ? " " : "", tr.device_path);
	if (!*existed)
		hub_notify_node(r->hub, s->node_id);
	return NT_OK;
}

/* Reads taskName, nodeId and params from a POST /task/runs body. */
static bool
runs_body_read(struct http_req *r, cJSON *doc, struct route_submit *s,
               char node_id[NT_UUID_BUFLEN])
{
	static const char *const fields[] = {"taskName", "nodeId", "params",
	                                     NULL};
	const char *node;
	char err[160];

	if (api_json_check_fields(doc, fields, "", err, sizeof(err)) != NT_OK) {
		http_reply_bad_request(r, "%s", err);
		return false;
	}
	switch (nt_json_string(doc, "taskName", &s->task_name)) {
	case NT_JSON_ABSENT:
		http_reply_bad_request(r, "taskName is required");
		return false;
	case NT_JSON_WRONGTYPE:
		http_reply_bad_request(r, "taskName must be a string");
		return false;
	default:
		break;
	}
	switch (nt_json_string(doc, "nodeId", &node)) {
	case NT_JSON_ABSENT:
		http_reply_bad_request(r, "nodeId is required");
		return false;
	case NT_JSON_WRONGTYPE:
		http_reply_bad_request(r, "nodeId must be a string");
		return false;
	default:
		break;
	}
	if (!nt_uuid_parse(node, node_id)) {
		http_reply_bad_request(r, "nodeId must be a UUID");
		return false;
	}
	s->node_id = node_id;
	if (nt_json_object(doc, "params", NULL) == NT_JSON_WRONGTYPE) {
		http_reply_bad_request(r, "params must be an object");
		return false;
	}
	s->params = cJSON_GetObjectItemCaseSensitive(doc, "params");
	if (cJSON_IsNull(s->params))
		s->params = NULL;
	return true;
}

void
route_runs_create(struct http_req *r)
{
	struct route_submit s = {0};
	char node_id[NT_UUID_BUFLEN];
	struct store_run run;
	bool existed;
	cJSON *doc;
	char *raw;

	if (http_read_json(r, false, &doc, &raw) != NT_OK)
		return;
	s.body = raw;
	s.body_len = strlen(raw);
	memset(&run, 0, sizeof(run));
	if (runs_body_read(r, doc, &s, node_id) &&
	    route_runs_submit(r, &s, &run, &existed) == NT_OK) {
		http_reply_json(r, existed ? 200 : 201, api_json_run(&run));
		http_reply_header(r, "Location", "/task/run/%s", run.id);
		store_run_fini(&run);
	}
	cJSON_Delete(doc);
	free(raw);
}
