/*
 * route_disks.c: disks the agents reported: GET /disks, optionally
 * ?nodeId= for one node (an unknown node simply has none).
 */
#include "api_json.h"
#include "http_routes.h"
#include "nt_err.h"

void
route_disks_list(struct http_req *r)
{
	static const char *const allowed[] = {"nodeId", NULL};
	char node_id[NT_UUID_BUFLEN];
	struct store_disk *items = NULL;
	struct http_query q;
	const char *v;
	size_t n = 0;
	cJSON *arr;
	int rv;

	if (!http_req_query(r, allowed, &q))
		return;
	if ((v = http_query_get(&q, "nodeId")) != NULL &&
	    !nt_uuid_parse(v, node_id)) {
		http_reply_bad_request(r, "nodeId must be a UUID");
		return;
	}
	rv = store_disk_list(r->store, v ? node_id : NULL, &items, &n);
	if (rv != NT_OK) {
		http_reply_err(r, rv, "disks");
		return;
	}
	arr = cJSON_CreateArray();
	for (size_t i = 0; arr != NULL && i < n; i++)
		arr = api_json_append(arr, api_json_disk(&items[i]));
	store_disk_free(items, n);
	http_reply_json(r, 200, arr);
}
