/*
 * route_meta.c: the controller about itself: GET /healthz (liveness, no
 * key needed), GET /metrics (Prometheus) and GET /openapi.json.
 */
#include <stdlib.h>

#include "http_metrics.h"
#include "http_routes.h"
#include "nt_err.h"

#define META_METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/*
 * Liveness: the process answers, so 200, even with the database down;
 * "database" tells the two apart for whoever cares.
 */
void
route_healthz(struct http_req *r)
{
	bool db_ok = store_ping(r->store) == NT_OK;
	cJSON *o = cJSON_CreateObject();

	if (o != NULL &&
	    (cJSON_AddStringToObject(o, "status", "ok") == NULL ||
	     cJSON_AddStringToObject(o, "database",
	                             db_ok ? "ok" : "unavailable") == NULL ||
	     cJSON_AddStringToObject(o, "version", NODETASK_VERSION) == NULL)) {
		cJSON_Delete(o);
		o = NULL;
	}
	http_reply_json(r, 200, o);
}

void
route_metrics(struct http_req *r)
{
	int db_up = store_ping(r->store) == NT_OK;
	size_t len = 0;
	char *text = http_metrics_render(r->metrics, db_up, &len);

	if (text == NULL) {
		http_reply_err(r, NT_ENOMEM, "metrics");
		return;
	}
	http_reply_text(r, 200, META_METRICS_TYPE, text, len, free);
}

void
route_openapi(struct http_req *r)
{
	http_reply_text(r, 200, HTTP_JSON_TYPE, (char *)api_openapi_json,
	                api_openapi_json_len, NULL);
}
