/*
 * http_routes.c: the route table: every path the REST API serves, its
 * method, handler and what its audit records are about.
 */
#include "http_routes.h"

const struct http_route http_routes[] = {
        {"GET", "/healthz", route_healthz, NULL, HTTP_ROUTE_PUBLIC},
        {"GET", "/metrics", route_metrics, NULL, 0},
        {"GET", "/openapi.json", route_openapi, NULL, 0},

        {"GET", "/task/runs/recent", route_runs_recent, NULL, 0},
        {"POST", "/task/runs", route_runs_create, "run", 0},
        {"GET", "/task/run/{runId}", route_run_get, NULL, 0},
        {"GET", "/task/run/{runId}/logs", route_run_logs, NULL, 0},
        {"POST", "/task/run/{runId}/cancel", route_run_cancel, "run", 0},

        {"GET", "/task/questions/pending", route_questions_pending, NULL, 0},
        {"POST", "/task/question/{questionId}/answer", route_question_answer,
         "question", 0},

        {"GET", "/nodes", route_nodes_list, NULL, 0},
        {"GET", "/node/{nodeId}", route_node_get, NULL, 0},
        {"GET", "/disks", route_disks_list, NULL, 0},
        {"POST", "/ceph/osd", route_ceph_osd, "run", 0},
};

const size_t http_routes_count = sizeof(http_routes) / sizeof(http_routes[0]);
