/*
 * api_json.h: the REST API's JSON shapes.
 *
 * Store records become cJSON objects with the API's exact field names
 * (API.md Part A for runs, logs and questions). Every field is always
 * present: what has not happened yet or is unknown is null. The builders
 * return NULL only when memory runs out.
 */
#ifndef API_JSON_H
#define API_JSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "store.h"

/* An item of GET /task/runs/recent. */
cJSON *api_json_run_summary(const struct store_run *r);
/* GET /task/run/{runId}. */
cJSON *api_json_run(const struct store_run *r);
/* An item of GET /task/run/{runId}/logs. */
cJSON *api_json_log(const struct store_log *l);
/* An item of GET /task/questions/pending. */
cJSON *api_json_question(const struct store_question *q);
cJSON *api_json_node(const struct store_node *n);
cJSON *api_json_disk(const struct store_disk *d);
/* POST /ceph/osd: {"status": "scheduled", "runId": ...}. */
cJSON *api_json_scheduled(const char *run_id);

/*
 * Appends item to arr and returns arr. When either is NULL (a failed
 * allocation) or appending fails, frees both and returns NULL, so a list
 * is built as: for (...) arr = api_json_append(arr, api_json_x(...));
 */
cJSON *api_json_append(cJSON *arr, cJSON *item);

/*
 * Checks that every member of obj is named in known (NULL-terminated) and
 * appears once. NT_EINVAL with "<prefix><name> is not a known field" (or
 * "... is given twice") in err otherwise. prefix may be "".
 */
int api_json_check_fields(const cJSON *obj, const char *const *known,
                          const char *prefix, char *err, size_t errlen);

#endif
