/*
 * route_ceph.c: Ceph shortcuts: POST /ceph/osd starts a ceph.create-osd
 * run on one reported disk and answers the product's
 * {"status": "scheduled"} with the new run's id.
 */
#include <stdlib.h>
#include <string.h>

#include "api_json.h"
#include "http_routes.h"
#include "nt_err.h"
#include "nt_json.h"

/* Reads a required string field; replies 400 and returns NULL if bad. */
static const char *
ceph_required(struct http_req *r, const cJSON *doc, const char *name)
{
	const char *v = NULL;

	switch (nt_json_string(doc, name, &v)) {
	case NT_JSON_ABSENT:
		http_reply_bad_request(r, "%s is required", name);
		return NULL;
	case NT_JSON_WRONGTYPE:
		http_reply_bad_request(r, "%s must be a string", name);
		return NULL;
	default:
		return v;
	}
}

/* The run's params: the body without nodeId. */
static int
ceph_submit(struct http_req *r, cJSON *doc, const char *raw,
            const char *node_id)
{
	struct route_submit s = {0};
	struct store_run run;
	bool existed;
	int rv;

	if ((s.params = cJSON_Duplicate(doc, true)) == NULL) {
		http_reply_err(r, NT_ENOMEM, "request");
		return NT_ENOMEM;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(s.params, "nodeId");
	s.task_name = "ceph.create-osd";
	s.node_id = node_id;
	s.body = raw;
	s.body_len = strlen(raw);
	memset(&run, 0, sizeof(run));
	rv = route_runs_submit(r, &s, &run, &existed);
	if (rv == NT_OK) {
		http_reply_json(r, existed ? 200 : 201,
		                api_json_scheduled(run.id));
		http_reply_header(r, "Location", "/task/run/%s", run.id);
		store_run_fini(&run);
	}
	cJSON_Delete(s.params);
	return rv;
}

/* {"nodeId", "diskId"[, "deviceClass", "confirm"]}; replies when bad. */
static bool
ceph_body_ok(struct http_req *r, const cJSON *doc, char node_id[NT_UUID_BUFLEN])
{
	static const char *const fields[] = {"nodeId", "diskId", "deviceClass",
	                                     "confirm", NULL};
	const char *node;
	char err[160];

	if (api_json_check_fields(doc, fields, "", err, sizeof(err)) != NT_OK) {
		http_reply_bad_request(r, "%s", err);
		return false;
	}
	if ((node = ceph_required(r, doc, "nodeId")) == NULL)
		return false;
	if (!nt_uuid_parse(node, node_id)) {
		http_reply_bad_request(r, "nodeId must be a UUID");
		return false;
	}
	/* The rest (diskId's form, deviceClass, confirm): the catalogue. */
	return ceph_required(r, doc, "diskId") != NULL;
}

void
route_ceph_osd(struct http_req *r)
{
	char node_id[NT_UUID_BUFLEN];
	cJSON *doc;
	char *raw;

	if (http_read_json(r, false, &doc, &raw) != NT_OK)
		return;
	if (ceph_body_ok(r, doc, node_id))
		ceph_submit(r, doc, raw, node_id);
	cJSON_Delete(doc);
	free(raw);
}
