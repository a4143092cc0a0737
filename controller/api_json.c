/*
 * api_json.c: store records as the REST API's JSON objects.
 *
 * Each builder adds its fields in the order API.md shows them and gives
 * up (returning NULL) at the first allocation failure.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "api_json.h"
#include "nt_err.h"
#include "nt_json.h"

/* Empty fixed-size strings are "unknown": null at the API. */
static int
api_add_str(cJSON *o, const char *name, const char *s)
{
	return nt_json_add_str_or_null(o, name,
	                               (s != NULL && *s != '\0') ? s : NULL);
}

/* Names that always exist: a string, even if empty. */
static int
api_add_text(cJSON *o, const char *name, const char *s)
{
	return nt_json_add_str_or_null(o, name, s ? s : "");
}

/*
 * Stored JSON text, copied as it is: it comes from a jsonb column, which
 * PostgreSQL only lets hold valid JSON, so parsing and printing it again
 * (as cJSON would) buys nothing.
 */
static int
api_add_raw(cJSON *o, const char *name, const char *text)
{
	cJSON *v = text != NULL ? cJSON_CreateRaw(text) : cJSON_CreateNull();

	if (v == NULL)
		return NT_ENOMEM;
	cJSON_AddItemToObject(o, name, v);
	return NT_OK;
}

static int
api_add_bool(cJSON *o, const char *name, bool v)
{
	return cJSON_AddBoolToObject(o, name, v) ? NT_OK : NT_ENOMEM;
}

static int
api_add_number(cJSON *o, const char *name, double v)
{
	return cJSON_AddNumberToObject(o, name, v) ? NT_OK : NT_ENOMEM;
}

/* Fields a run summary shares with the run detail, in API order. */
static int
api_run_head(cJSON *o, const struct store_run *r)
{
	int rv = NT_OK;

	rv = rv ? rv : api_add_str(o, "id", r->id);
	rv = rv ? rv : api_add_str(o, "taskName", r->task_name);
	rv = rv ? rv : api_add_str(o, "state", r->state);
	rv = rv ? rv : api_add_str(o, "nodeId", r->node_id);
	rv = rv ? rv : api_add_text(o, "nodeHostname", r->node_hostname);
	rv = rv ? rv : nt_json_add_time(o, "createdAt", r->created_at_us);
	rv = rv ? rv : nt_json_add_time(o, "startedAt", r->started_at_us);
	rv = rv ? rv : nt_json_add_time(o, "completedAt", r->completed_at_us);
	return rv;
}

static cJSON *
api_done(cJSON *o, int rv)
{
	if (rv != NT_OK) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *
api_json_run_summary(const struct store_run *r)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL)
		return NULL;
	return api_done(o, api_run_head(o, r));
}

cJSON *
api_json_run(const struct store_run *r)
{
	cJSON *o = cJSON_CreateObject();
	int rv;

	if (o == NULL)
		return NULL;
	rv = api_run_head(o, r);
	rv = rv ? rv : nt_json_add_str_or_null(o, "error", r->error);
	rv = rv ? rv : api_add_raw(o, "params", r->params);
	rv = rv ? rv : api_add_raw(o, "result", r->result);
	rv = rv ? rv
	        : api_add_str(o, "pendingQuestionId", r->pending_question_id);
	rv = rv ? rv : api_add_str(o, "devicePath", r->device_path);
	return api_done(o, rv);
}

cJSON *
api_json_log(const struct store_log *l)
{
	cJSON *o = cJSON_CreateObject();
	int rv;

	if (o == NULL)
		return NULL;
	rv = nt_json_add_time(o, "timestamp", l->ts_us);
	rv = rv ? rv : api_add_str(o, "level", l->level);
	rv = rv ? rv : api_add_text(o, "message", l->message);
	rv = rv ? rv : api_add_number(o, "seq", (double)l->seq);
	return api_done(o, rv);
}

cJSON *
api_json_question(const struct store_question *q)
{
	cJSON *o = cJSON_CreateObject();
	int rv;

	if (o == NULL)
		return NULL;
	rv = api_add_str(o, "id", q->id);
	rv = rv ? rv : api_add_str(o, "runId", q->run_id);
	rv = rv ? rv : api_add_str(o, "taskName", q->task_name);
	rv = rv ? rv : api_add_text(o, "prompt", q->prompt);
	rv = rv ? rv : api_add_raw(o, "options", q->options);
	rv = rv ? rv : nt_json_add_time(o, "createdAt", q->created_at_us);
	rv = rv ? rv : api_add_str(o, "nodeId", q->node_id);
	rv = rv ? rv : nt_json_add_time(o, "expiresAt", q->expires_at_us);
	return api_done(o, rv);
}

cJSON *
api_json_node(const struct store_node *n)
{
	cJSON *o = cJSON_CreateObject();
	int rv;

	if (o == NULL)
		return NULL;
	rv = api_add_str(o, "id", n->id);
	rv = rv ? rv : api_add_text(o, "hostname", n->hostname);
	rv = rv ? rv : api_add_str(o, "state", n->state);
	rv = rv ? rv : nt_json_add_time(o, "lastSeenAt", n->last_seen_at_us);
	rv = rv ? rv : api_add_str(o, "agentVersion", n->agent_version);
	rv = rv ? rv : api_add_str(o, "address", n->address);
	rv = rv ? rv : nt_json_add_time(o, "createdAt", n->created_at_us);
	return api_done(o, rv);
}

/* Decimal gigabytes, as disk vendors and the product count them. */
static double
api_capacity_gb(int64_t bytes)
{
	return (double)((bytes + 5000000) / 10000000) / 100.0;
}

cJSON *
api_json_disk(const struct store_disk *d)
{
	cJSON *o = cJSON_CreateObject();
	int rv;

	if (o == NULL)
		return NULL;
	rv = api_add_str(o, "id", d->id);
	rv = rv ? rv : api_add_str(o, "nodeId", d->node_id);
	rv = rv ? rv : api_add_text(o, "nodeHostname", d->node_hostname);
	rv = rv ? rv : api_add_text(o, "devicePath", d->device_path);
	rv = rv ? rv
	        : api_add_number(o, "capacity",
	                         api_capacity_gb(d->capacity_bytes));
	rv = rv ? rv : api_add_str(o, "interface", d->interface);
	rv = rv ? rv : api_add_str(o, "model", d->model);
	rv = rv ? rv : api_add_str(o, "vendor", d->vendor);
	rv = rv ? rv : api_add_str(o, "serial", d->serial);
	rv = rv ? rv : api_add_bool(o, "isOsd", d->is_osd);
	rv = rv ? rv : api_add_bool(o, "isMon", d->is_mon);
	rv = rv ? rv : api_add_bool(o, "hasFilesystem", d->has_filesystem);
	rv = rv ? rv : api_add_bool(o, "available", d->available);
	rv = rv ? rv
	        : api_add_raw(o, "rejectReasons",
	                      d->reject_reasons ? d->reject_reasons : "[]");
	rv = rv ? rv
	        : api_add_number(o, "capacityBytes", (double)d->capacity_bytes);
	return api_done(o, rv);
}

cJSON *
api_json_scheduled(const char *run_id)
{
	cJSON *o = cJSON_CreateObject();
	int rv;

	if (o == NULL)
		return NULL;
	rv = api_add_str(o, "status", "scheduled");
	rv = rv ? rv : api_add_str(o, "runId", run_id);
	return api_done(o, rv);
}

cJSON *
api_json_append(cJSON *arr, cJSON *item)
{
	if (arr == NULL || item == NULL || !cJSON_AddItemToArray(arr, item)) {
		cJSON_Delete(item);
		cJSON_Delete(arr);
		return NULL;
	}
	return arr;
}

static bool
api_name_known(const char *name, const char *const *known)
{
	for (size_t i = 0; known[i] != NULL; i++)
		if (strcmp(name, known[i]) == 0)
			return true;
	return false;
}

int
api_json_check_fields(const cJSON *obj, const char *const *known,
                      const char *prefix, char *err, size_t errlen)
{
	for (const cJSON *c = obj->child; c != NULL; c = c->next) {
		const char *name = c->string ? c->string : "";
		if (!api_name_known(name, known)) {
			snprintf(err, errlen, "%s%.64s is not a known field",
			         prefix, name);
			return NT_EINVAL;
		}
		for (const cJSON *p = obj->child; p != c; p = p->next) {
			if (p->string != NULL && strcmp(p->string, name) == 0) {
				snprintf(err, errlen, "%s%s is given twice",
				         prefix, name);
				return NT_EINVAL;
			}
		}
	}
	return NT_OK;
}
