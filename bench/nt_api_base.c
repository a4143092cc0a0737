/*
 * nt_api_base.c: the physical baseline of the API read benchmark.
 *
 * The least a REST server on this stack can do per request: civetweb
 * calls the handler, which runs one prepared SELECT over its thread's own
 * libpq connection, builds the JSON with cJSON and writes the response in
 * one write. No authentication, routing table, pooling or audit. Serves
 *
 *   GET /task/run/{id}             primary-key SELECT of one run
 *   GET /task/runs/recent          the 50 newest runs (index scan)
 *   GET /task/run/{id}/logs        100 lines of a run (index scan)
 *
 * so each API benchmark has a same-machine, same-run reference.
 *
 *   nt_api_base --db CONNINFO --http 127.0.0.1:PORT [--threads 16]
 *
 * Runs until SIGTERM or SIGINT.
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <civetweb.h>
#include <cjson/cJSON.h>
#include <libpq-fe.h>

#define BASE_UUID_LEN 36

struct base_stmt {
	const char *name;
	int nparams;
	const char *sql;
};

static const struct base_stmt base_st_run = {
        "run", 1,
        "SELECT id, task_name, state, node_id, created_at::text,"
        " started_at::text, completed_at::text, error, params::text,"
        " result::text, device_path FROM task_runs WHERE id = $1::uuid"};

static const struct base_stmt base_st_recent = {
        "recent", 0,
        "SELECT r.id, r.task_name, r.state, r.node_id, r.created_at::text,"
        " r.started_at::text, r.completed_at::text FROM task_runs r"
        " ORDER BY r.created_at DESC, r.id DESC LIMIT 50"};

static const struct base_stmt base_st_logs = {
        "logs", 1,
        "SELECT seq, ts::text, level, message FROM task_logs"
        " WHERE run_id = $1::uuid AND seq > 0 ORDER BY seq LIMIT 100"};

static const char *base_conninfo;
static volatile sig_atomic_t base_stop;

/* Each civetweb worker thread keeps its own connection. */
static __thread PGconn *base_pg;

static void
base_on_signal(int sig)
{
	(void)sig;
	base_stop = 1;
}

static bool
base_prepare(PGconn *pg, const struct base_stmt *st)
{
	PGresult *r = PQprepare(pg, st->name, st->sql, st->nparams, NULL);
	bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;

	if (!ok)
		fprintf(stderr, "nt_api_base: prepare %s: %s", st->name,
		        PQerrorMessage(pg));
	PQclear(r);
	return ok;
}

static PGconn *
base_conn(void)
{
	if (base_pg != NULL && PQstatus(base_pg) == CONNECTION_OK)
		return base_pg;
	if (base_pg != NULL)
		PQfinish(base_pg);
	base_pg = PQconnectdb(base_conninfo);
	if (PQstatus(base_pg) != CONNECTION_OK ||
	    !base_prepare(base_pg, &base_st_run) ||
	    !base_prepare(base_pg, &base_st_recent) ||
	    !base_prepare(base_pg, &base_st_logs)) {
		fprintf(stderr, "nt_api_base: connect: %s",
		        PQerrorMessage(base_pg));
		PQfinish(base_pg);
		base_pg = NULL;
	}
	return base_pg;
}

/* Adds column col of row i as a string, or null for SQL NULL. */
static void
base_add(cJSON *o, const char *name, const PGresult *r, int i, int col)
{
	if (PQgetisnull(r, i, col))
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddStringToObject(o, name, PQgetvalue(r, i, col));
}

static void
base_add_raw(cJSON *o, const char *name, const PGresult *r, int i, int col)
{
	if (PQgetisnull(r, i, col))
		cJSON_AddNullToObject(o, name);
	else
		cJSON_AddRawToObject(o, name, PQgetvalue(r, i, col));
}

static cJSON *
base_run_json(const PGresult *r, int i, bool detail)
{
	cJSON *o = cJSON_CreateObject();

	base_add(o, "id", r, i, 0);
	base_add(o, "taskName", r, i, 1);
	base_add(o, "state", r, i, 2);
	base_add(o, "nodeId", r, i, 3);
	base_add(o, "createdAt", r, i, 4);
	base_add(o, "startedAt", r, i, 5);
	base_add(o, "completedAt", r, i, 6);
	if (detail) {
		base_add(o, "error", r, i, 7);
		base_add_raw(o, "params", r, i, 8);
		base_add_raw(o, "result", r, i, 9);
		base_add(o, "devicePath", r, i, 10);
	}
	return o;
}

static cJSON *
base_logs_json(const PGresult *r)
{
	cJSON *arr = cJSON_CreateArray();

	for (int i = 0; i < PQntuples(r); i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddNumberToObject(o, "seq", atof(PQgetvalue(r, i, 0)));
		base_add(o, "ts", r, i, 1);
		base_add(o, "level", r, i, 2);
		base_add(o, "message", r, i, 3);
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}

/* Headers and body in one write, as the controller sends them. */
static void
base_send(struct mg_connection *c, int status, const char *body)
{
	size_t blen = strlen(body);
	char *buf = malloc(blen + 256);
	int n;

	if (buf == NULL)
		return;
	n = snprintf(buf, 256,
	             "HTTP/1.1 %d %s\r\n"
	             "Content-Type: application/json; charset=utf-8\r\n"
	             "Content-Length: %zu\r\n"
	             "Cache-Control: no-store\r\n"
	             "Connection: keep-alive\r\n\r\n",
	             status, status == 200 ? "OK" : "Error", blen);
	memcpy(buf + n, body, blen);
	mg_write(c, buf, (size_t)n + blen);
	free(buf);
}

static void
base_query(struct mg_connection *c, const struct base_stmt *st, const char *id)
{
	const char *params[1] = {id};
	PGconn *pg = base_conn();
	PGresult *r;
	cJSON *doc = NULL;
	char *body;

	if (pg == NULL) {
		base_send(c, 503, "{\"error\":\"unavailable\"}");
		return;
	}
	r = PQexecPrepared(pg, st->name, st->nparams, params, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		PQclear(r);
		base_send(c, 500, "{\"error\":\"query\"}");
		return;
	}
	if (st == &base_st_run && PQntuples(r) == 1) {
		doc = base_run_json(r, 0, true);
	} else if (st == &base_st_recent) {
		doc = cJSON_CreateArray();
		for (int i = 0; i < PQntuples(r); i++)
			cJSON_AddItemToArray(doc, base_run_json(r, i, false));
	} else if (st == &base_st_logs) {
		doc = base_logs_json(r);
	}
	PQclear(r);
	if (doc == NULL) {
		base_send(c, 404, "{\"error\":\"not_found\"}");
		return;
	}
	body = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	base_send(c, 200, body != NULL ? body : "null");
	cJSON_free(body);
}

static int
base_handle(struct mg_connection *c, void *arg)
{
	const struct mg_request_info *ri = mg_get_request_info(c);
	const char *uri = ri->local_uri;
	char id[BASE_UUID_LEN + 1];

	(void)arg;
	if (strcmp(uri, "/task/runs/recent") == 0) {
		base_query(c, &base_st_recent, NULL);
		return 200;
	}
	if (strncmp(uri, "/task/run/", 10) == 0 &&
	    strlen(uri + 10) >= BASE_UUID_LEN) {
		memcpy(id, uri + 10, BASE_UUID_LEN);
		id[BASE_UUID_LEN] = '\0';
		if (uri[10 + BASE_UUID_LEN] == '\0') {
			base_query(c, &base_st_run, id);
			return 200;
		}
		if (strcmp(uri + 10 + BASE_UUID_LEN, "/logs") == 0) {
			base_query(c, &base_st_logs, id);
			return 200;
		}
	}
	base_send(c, 404, "{\"error\":\"not_found\"}");
	return 404;
}

static void
base_usage(void)
{
	fprintf(stderr, "usage: nt_api_base --db CONNINFO --http ADDR:PORT "
	                "[--threads N]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *http = NULL, *threads = "16";
	struct mg_callbacks cb;
	struct mg_context *ctx;

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--db") == 0)
			base_conninfo = argv[i + 1];
		else if (strcmp(argv[i], "--http") == 0)
			http = argv[i + 1];
		else if (strcmp(argv[i], "--threads") == 0)
			threads = argv[i + 1];
		else
			base_usage();
	}
	if (base_conninfo == NULL || http == NULL || argc % 2 != 1)
		base_usage();
	const char *opts[] = {"listening_ports",
	                      http,
	                      "num_threads",
	                      threads,
	                      "tcp_nodelay",
	                      "1",
	                      "enable_keep_alive",
	                      "yes",
	                      "keep_alive_timeout_ms",
	                      "5000",
	                      NULL};
	signal(SIGTERM, base_on_signal);
	signal(SIGINT, base_on_signal);
	memset(&cb, 0, sizeof(cb));
	mg_init_library(0);
	if ((ctx = mg_start(&cb, NULL, opts)) == NULL) {
		fprintf(stderr, "nt_api_base: cannot listen on %s\n", http);
		return 1;
	}
	mg_set_request_handler(ctx, "/", base_handle, NULL);
	printf("listening %s\n", http);
	fflush(stdout);
	while (!base_stop)
		pause();
	mg_stop(ctx);
	mg_exit_library();
	return 0;
}
