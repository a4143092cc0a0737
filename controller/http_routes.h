/*
 * http_routes.h: the REST API's route table and its handlers, one
 * route_*.c file per resource.
 *
 * Handlers run on civetweb worker threads. They get an authenticated,
 * routed request (struct http_req) and leave their response in it; see
 * http_reply.h.
 */
#ifndef HTTP_ROUTES_H
#define HTTP_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "http_reply.h"
#include "http_router.h"

extern const struct http_route http_routes[];
extern const size_t http_routes_count;

/* route_meta.c */
void route_healthz(struct http_req *r);
void route_metrics(struct http_req *r);
void route_openapi(struct http_req *r);

/* route_runs.c */
void route_runs_recent(struct http_req *r);
void route_runs_create(struct http_req *r);

/* A run to create, from POST /task/runs or POST /ceph/osd. */
struct route_submit {
	const char *task_name;
	const char *node_id; /* a valid UUID */
	cJSON *params;       /* NULL: {}; a resolved devicePath is added */
	const char *body;    /* the request body, for the idempotency hash */
	size_t body_len;
};

/*
 * Validates s, stores the run and tells the hub. NT_OK: *run is filled
 * (caller finis it) and *existed says whether an Idempotency-Key replay
 * returned an earlier run. Otherwise the error response is already set.
 */
int route_runs_submit(struct http_req *r, const struct route_submit *s,
                      struct store_run *run, bool *existed);

/* route_run.c */
void route_run_get(struct http_req *r);
void route_run_logs(struct http_req *r);
void route_run_cancel(struct http_req *r);

/* route_questions.c */
void route_questions_pending(struct http_req *r);
void route_question_answer(struct http_req *r);

/* route_nodes.c */
void route_nodes_list(struct http_req *r);
void route_node_get(struct http_req *r);

/* route_disks.c */
void route_disks_list(struct http_req *r);

/* route_ceph.c */
void route_ceph_osd(struct http_req *r);

/* openapi_gen.c (generated from docs/openapi.json at build time) */
extern const char api_openapi_json[];
extern const size_t api_openapi_json_len;

#endif
