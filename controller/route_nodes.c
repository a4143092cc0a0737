/*
 * route_nodes.c: the agents the controller knows: GET /nodes and
 * GET /node/{nodeId}.
 */
#include <string.h>

#include "api_json.h"
#include "http_routes.h"
#include "nt_err.h"

void
route_nodes_list(struct http_req *r)
{
	struct store_node *items = NULL;
	size_t n = 0;
	cJSON *arr;
	int rv;

	if ((rv = store_node_list(r->store, &items, &n)) != NT_OK) {
		http_reply_err(r, rv, "nodes");
		return;
	}
	arr = cJSON_CreateArray();
	for (size_t i = 0; arr != NULL && i < n; i++)
		arr = api_json_append(arr, api_json_node(&items[i]));
	store_node_free(items, n);
	http_reply_json(r, 200, arr);
}

void
route_node_get(struct http_req *r)
{
	char id[NT_UUID_BUFLEN];
	struct store_node node;
	int rv;

	if (!http_path_uuid(r, "nodeId", "node", id))
		return;
	memset(&node, 0, sizeof(node));
	if ((rv = store_node_get(r->store, id, &node)) != NT_OK) {
		http_reply_err(r, rv, "node");
		return;
	}
	http_reply_json(r, 200, api_json_node(&node));
}
