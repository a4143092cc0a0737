/*
 * test_api_json.c: store records as API JSON: exact field names, nulls
 * for what has not happened, stored JSON text embedded as JSON. Every
 * object is checked as a client gets it: printed and parsed again.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "api_json.h"
#include "nt_err.h"

#define RUN_ID  "a1b2c3d4-e5f6-7890-abcd-ef1234567890"
#define NODE_ID "550e8400-e29b-41d4-a716-446655440000"
#define Q_ID    "b2c3d4e5-f6a7-8901-bcde-f12345678901"

/* 2026-04-07T14:30:00Z */
#define T0 1775572200000000LL

/* What a client parses from the response body. */
static cJSON *
wire(cJSON *o)
{
	char *text;
	cJSON *back;

	cr_assert_not_null(o);
	text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	cr_assert_not_null(text);
	back = cJSON_Parse(text);
	cr_assert_not_null(back, "not JSON: %s", text);
	cJSON_free(text);
	return back;
}

static const cJSON *
field(const cJSON *o, const char *name)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(o, name);

	cr_assert_not_null(f, "field %s missing", name);
	return f;
}

static void
expect_str(const cJSON *o, const char *name, const char *want)
{
	const cJSON *f = field(o, name);

	cr_assert(cJSON_IsString(f), "%s is not a string", name);
	cr_expect_str_eq(f->valuestring, want, "%s", name);
}

static void
expect_null(const cJSON *o, const char *name)
{
	cr_expect(cJSON_IsNull(field(o, name)), "%s is not null", name);
}

/* The object has exactly these members, in this order. */
static void
expect_fields(const cJSON *o, const char *const *names)
{
	const cJSON *c = o->child;
	size_t i = 0;

	for (; names[i] != NULL; i++, c = c->next) {
		cr_assert_not_null(c, "missing %s", names[i]);
		cr_expect_str_eq(c->string, names[i]);
	}
	cr_expect_null(c, "unexpected field %s", c ? c->string : "");
}

static struct store_run
sample_run(void)
{
	struct store_run r;

	memset(&r, 0, sizeof(r));
	strcpy(r.id, RUN_ID);
	strcpy(r.task_name, "ceph.create-osd");
	strcpy(r.state, "running");
	strcpy(r.node_id, NODE_ID);
	strcpy(r.node_hostname, "worker-01");
	r.created_at_us = T0;
	r.started_at_us = T0 + 5000000;
	r.params = (char *)"{\"devicePath\":\"/dev/sdb\"}";
	return r;
}

Test(api_json, run_detail)
{
	static const char *const names[] = {
	        "id",           "taskName",  "state",     "nodeId",
	        "nodeHostname", "createdAt", "startedAt", "completedAt",
	        "error",        "params",    "result",    "pendingQuestionId",
	        "devicePath",   NULL};
	struct store_run r = sample_run();
	cJSON *o = wire(api_json_run(&r));

	cr_assert_not_null(o);
	expect_fields(o, names);
	expect_str(o, "id", RUN_ID);
	expect_str(o, "taskName", "ceph.create-osd");
	expect_str(o, "state", "running");
	expect_str(o, "nodeId", NODE_ID);
	expect_str(o, "nodeHostname", "worker-01");
	expect_str(o, "createdAt", "2026-04-07T14:30:00.000Z");
	expect_str(o, "startedAt", "2026-04-07T14:30:05.000Z");
	expect_null(o, "completedAt");
	expect_null(o, "error");
	expect_null(o, "result");
	expect_null(o, "pendingQuestionId");
	expect_null(o, "devicePath");
	cr_assert(cJSON_IsObject(field(o, "params")));
	expect_str(field(o, "params"), "devicePath", "/dev/sdb");
	cJSON_Delete(o);
}

Test(api_json, run_finished)
{
	struct store_run r = sample_run();
	cJSON *o;

	strcpy(r.state, "completed");
	r.completed_at_us = T0 + 60123456;
	r.error = (char *)"it broke";
	r.result = (char *)"{\"osdId\": 3}";
	strcpy(r.pending_question_id, Q_ID);
	strcpy(r.device_path, "/dev/sdb");
	o = wire(api_json_run(&r));
	cr_assert_not_null(o);
	expect_str(o, "completedAt", "2026-04-07T14:31:00.123Z");
	expect_str(o, "error", "it broke");
	expect_str(o, "pendingQuestionId", Q_ID);
	expect_str(o, "devicePath", "/dev/sdb");
	cr_expect_eq(field(field(o, "result"), "osdId")->valueint, 3);
	cJSON_Delete(o);
}

Test(api_json, run_summary)
{
	static const char *const names[] = {
	        "id",        "taskName",     "state",
	        "nodeId",    "nodeHostname", "createdAt",
	        "startedAt", "completedAt",  NULL};
	struct store_run r = sample_run();
	cJSON *o = wire(api_json_run_summary(&r));

	cr_assert_not_null(o);
	expect_fields(o, names);
	expect_str(o, "createdAt", "2026-04-07T14:30:00.000Z");
	expect_null(o, "completedAt");
	cJSON_Delete(o);
}

Test(api_json, log_entry)
{
	static const char *const names[] = {"timestamp", "level", "message",
	                                    "seq", NULL};
	struct store_log l = {.seq = 7, .ts_us = T0, .level = "warn"};
	cJSON *o;

	l.message = (char *)"quotes \" and \\ backslash\ttab";
	o = wire(api_json_log(&l));
	cr_assert_not_null(o);
	expect_fields(o, names);
	expect_str(o, "timestamp", "2026-04-07T14:30:00.000Z");
	expect_str(o, "level", "warn");
	expect_str(o, "message", "quotes \" and \\ backslash\ttab");
	cr_expect_eq(field(o, "seq")->valuedouble, 7);
	cJSON_Delete(o);
}

Test(api_json, question)
{
	static const char *const names[] = {"id",     "runId",     "taskName",
	                                    "prompt", "options",   "createdAt",
	                                    "nodeId", "expiresAt", NULL};
	struct store_question q;
	const cJSON *opts;
	cJSON *o;

	memset(&q, 0, sizeof(q));
	strcpy(q.id, Q_ID);
	strcpy(q.run_id, RUN_ID);
	strcpy(q.node_id, NODE_ID);
	strcpy(q.task_name, "disk.wipe");
	strcpy(q.state, "open");
	q.prompt = (char *)"Disk /dev/sdb contains existing data. Proceed "
	                   "with wipe?";
	q.options = (char *)"[\"yes\", \"no\"]";
	q.created_at_us = T0;
	o = wire(api_json_question(&q));
	cr_assert_not_null(o);
	expect_fields(o, names);
	expect_str(o, "id", Q_ID);
	expect_str(o, "runId", RUN_ID);
	expect_str(o, "taskName", "disk.wipe");
	expect_str(o, "prompt", q.prompt);
	opts = field(o, "options");
	cr_assert(cJSON_IsArray(opts));
	cr_assert_eq(cJSON_GetArraySize(opts), 2);
	cr_expect_str_eq(cJSON_GetArrayItem(opts, 0)->valuestring, "yes");
	cr_expect_str_eq(cJSON_GetArrayItem(opts, 1)->valuestring, "no");
	expect_null(o, "expiresAt");
	cJSON_Delete(o);
}

Test(api_json, node)
{
	static const char *const names[] = {
	        "id",           "hostname", "state",     "lastSeenAt",
	        "agentVersion", "address",  "createdAt", NULL};
	struct store_node n;
	cJSON *o;

	memset(&n, 0, sizeof(n));
	strcpy(n.id, NODE_ID);
	strcpy(n.hostname, "worker-01");
	strcpy(n.state, "offline");
	n.created_at_us = T0;
	o = wire(api_json_node(&n));
	cr_assert_not_null(o);
	expect_fields(o, names);
	expect_str(o, "hostname", "worker-01");
	expect_str(o, "state", "offline");
	expect_null(o, "lastSeenAt");
	expect_null(o, "agentVersion");
	expect_null(o, "address");
	cJSON_Delete(o);

	strcpy(n.agent_version, "0.1.0");
	strcpy(n.address, "10.0.0.1");
	n.last_seen_at_us = T0;
	o = wire(api_json_node(&n));
	expect_str(o, "agentVersion", "0.1.0");
	expect_str(o, "address", "10.0.0.1");
	expect_str(o, "lastSeenAt", "2026-04-07T14:30:00.000Z");
	cJSON_Delete(o);
}

Test(api_json, disk)
{
	static const char *const names[] = {
	        "id",        "nodeId",        "nodeHostname",  "devicePath",
	        "capacity",  "interface",     "model",         "vendor",
	        "serial",    "isOsd",         "isMon",         "hasFilesystem",
	        "available", "rejectReasons", "capacityBytes", NULL};
	struct store_disk d;
	const cJSON *rr;
	cJSON *o;

	memset(&d, 0, sizeof(d));
	strcpy(d.id, Q_ID);
	strcpy(d.node_id, NODE_ID);
	strcpy(d.node_hostname, "worker-01");
	strcpy(d.device_path, "/dev/sdb");
	d.capacity_bytes = 6442450944LL; /* 6 GiB */
	strcpy(d.interface, "loop");
	d.has_filesystem = true;
	d.reject_reasons = (char *)"[\"mounted\", \"holds a filesystem\"]";
	o = wire(api_json_disk(&d));
	cr_assert_not_null(o);
	expect_fields(o, names);
	cr_expect_float_eq(field(o, "capacity")->valuedouble, 6.44, 1e-9);
	cr_expect_eq(field(o, "capacityBytes")->valuedouble, 6442450944.0);
	expect_str(o, "interface", "loop");
	expect_null(o, "model");
	expect_null(o, "serial");
	cr_expect(cJSON_IsFalse(field(o, "isOsd")));
	cr_expect(cJSON_IsTrue(field(o, "hasFilesystem")));
	cr_expect(cJSON_IsFalse(field(o, "available")));
	rr = field(o, "rejectReasons");
	cr_assert_eq(cJSON_GetArraySize(rr), 2);
	cr_expect_str_eq(cJSON_GetArrayItem(rr, 1)->valuestring,
	                 "holds a filesystem");
	cJSON_Delete(o);

	d.capacity_bytes = 100LL * 1000 * 1000 * 1000;
	d.reject_reasons = NULL;
	o = wire(api_json_disk(&d));
	cr_expect_eq(field(o, "capacity")->valuedouble, 100.0);
	cr_expect_eq(cJSON_GetArraySize(field(o, "rejectReasons")), 0);
	cJSON_Delete(o);
}

Test(api_json, scheduled)
{
	cJSON *o = wire(api_json_scheduled(RUN_ID));
	char *s = cJSON_PrintUnformatted(o);

	cr_assert_str_eq(s,
	                 "{\"status\":\"scheduled\",\"runId\":\"" RUN_ID "\"}");
	cJSON_free(s);
	cJSON_Delete(o);
}

Test(api_json, check_fields)
{
	static const char *const known[] = {"taskName", "nodeId", NULL};
	char err[128];
	cJSON *o;

	o = cJSON_Parse("{\"taskName\": 1, \"nodeId\": null}");
	cr_assert_eq(api_json_check_fields(o, known, "", err, sizeof(err)),
	             NT_OK);
	cJSON_Delete(o);

	o = cJSON_Parse("{\"taskName\": 1, \"priority\": 2}");
	cr_assert_eq(
	        api_json_check_fields(o, known, "params.", err, sizeof(err)),
	        NT_EINVAL);
	cr_expect_str_eq(err, "params.priority is not a known field");
	cJSON_Delete(o);

	o = cJSON_Parse("{\"taskName\": 1, \"nodeId\": 2, \"taskName\": 3}");
	cr_assert_eq(api_json_check_fields(o, known, "", err, sizeof(err)),
	             NT_EINVAL);
	cr_expect_str_eq(err, "taskName is given twice");
	cJSON_Delete(o);

	o = cJSON_Parse("{}");
	cr_assert_eq(api_json_check_fields(o, known, "", err, sizeof(err)),
	             NT_OK);
	cJSON_Delete(o);
}

Test(api_json, append)
{
	cJSON *arr = cJSON_CreateArray();

	arr = api_json_append(arr, cJSON_CreateNumber(1));
	arr = api_json_append(arr, cJSON_CreateNumber(2));
	cr_assert_not_null(arr);
	cr_assert_eq(cJSON_GetArraySize(arr), 2);
	/* A failed item drops the whole list. */
	arr = api_json_append(arr, NULL);
	cr_assert_null(arr);
	cr_assert_null(api_json_append(NULL, cJSON_CreateNumber(3)));
}
