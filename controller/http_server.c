/*
 * http_server.c: the REST API server on civetweb.
 *
 * One catch-all civetweb handler takes every request through the same
 * steps: route, authenticate, authorise, run the handler, write the
 * audit record (POST routes), send the response, count it. Even civetweb's
 * own errors (malformed requests) are answered with JSON bodies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <civetweb.h>

#include "http.h"
#include "http_auth.h"
#include "http_metrics.h"
#include "http_reply.h"
#include "http_routes.h"
#include "nt_err.h"
#include "nt_log.h"
#include "nt_text.h"
#include "store.h"

#define HTTP_REQUEST_TIMEOUT_MS "30000"
#define HTTP_KEEPALIVE_MS       "5000"
#define HTTP_COALESCE_MAX       (64 * 1024) /* one write up to this size */

struct http_server {
	struct mg_context *ctx;
	struct store *store;
	struct hub *hub;
	struct http_auth *auth;
	struct http_metrics metrics;
};

static int64_t
http_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- the request pipeline ------------------------------------------- */

/* Fills r->actor and r->scope; replies (401/503) and returns false. */
static bool
http_authenticate(struct http_server *h, struct http_req *r)
{
	const char *hdr = http_req_header(r, "Authorization");
	int rv = http_auth_check(h->auth, hdr, r->actor, &r->scope);

	if (rv == NT_OK)
		return true;
	snprintf(r->actor, sizeof(r->actor), "anonymous");
	if (rv == NT_EPERM) {
		http_reply_error(r, 401, "unauthorized",
		                 hdr == NULL ? "an API key is required "
		                               "(Authorization: Bearer KEY)"
		                             : "unknown or malformed API key");
		http_reply_header(r, "WWW-Authenticate", "Bearer");
	} else {
		http_reply_err(r, rv, "API key");
	}
	return false;
}

static void
http_dispatch(struct http_server *h, struct http_req *r)
{
	enum http_route_result res;
	const struct http_route *route;
	char allow[64];

	res = http_router_match(http_routes, http_routes_count, r->method,
	                        r->path, &r->match, allow, sizeof(allow));
	route = r->match.route;
	if (res == HTTP_ROUTE_FOUND && (route->flags & HTTP_ROUTE_PUBLIC)) {
		route->handler(r);
		return;
	}
	/* Everything else needs a key, even to learn a path is unknown. */
	if (!http_authenticate(h, r))
		return;
	if (res == HTTP_ROUTE_NO_PATH) {
		http_reply_error(r, 404, "not_found", "no such path");
		return;
	}
	if (res == HTTP_ROUTE_NO_METHOD) {
		http_reply_error(r, 405, "method_not_allowed",
		                 "%s is not allowed here; use %s", r->method,
		                 allow);
		http_reply_header(r, "Allow", "%s", allow);
		return;
	}
	if (http_method_mutating(r->method) && r->scope != STORE_SCOPE_ADMIN) {
		http_reply_error(r, 403, "forbidden",
		                 "this key may only read (its scope is read)");
		return;
	}
	route->handler(r);
	if (r->status == 0) {
		nt_error("http: %s %s: handler gave no response", r->method,
		         r->path);
		http_reply_error(r, 500, "internal_error", "no response");
	}
}

/* What the audit record is about: set by the handler, else the path id. */
static void
http_audit_object(const struct http_req *r, char out[NT_UUID_BUFLEN])
{
	const struct http_param *p = &r->match.params[0];
	char buf[NT_UUID_BUFLEN];

	out[0] = '\0';
	if (r->object_id[0] != '\0') {
		memcpy(out, r->object_id, NT_UUID_BUFLEN);
	} else if (r->match.nparams > 0 && p->value_len < sizeof(buf)) {
		memcpy(buf, p->value, p->value_len);
		buf[p->value_len] = '\0';
		if (!nt_uuid_parse(buf, out))
			out[0] = '\0';
	}
}

/* The audit record of a routed POST, written before the client hears. */
static void
http_audit(struct http_server *h, struct http_req *r)
{
	const struct http_route *route = r->match.route;
	char action[128], object_id[NT_UUID_BUFLEN];
	struct store_audit a;
	int rv;

	http_audit_object(r, object_id);
	snprintf(action, sizeof(action), "%s %s", route->method,
	         route->pattern);
	nt_text_sanitize(r->detail);
	a = (struct store_audit){
	        .actor = r->actor[0] ? r->actor : "anonymous",
	        .action = action,
	        .object_type = route->object_type,
	        .object_id = object_id[0] ? object_id : NULL,
	        .status = r->status,
	        .detail = r->detail[0] ? r->detail : NULL,
	};
	if ((rv = store_audit_add(h->store, &a)) != NT_OK)
		nt_warn("http: audit of %s by %s (%d) not written: %s", action,
		        a.actor, r->status, nt_strerror(rv));
}

/* An unread request body we will not drain: close the connection. */
static bool
http_unread_body(const struct http_req *r)
{
	const struct mg_request_info *ri = mg_get_request_info(r->conn);

	if (r->body_read)
		return false;
	return ri->content_length > HTTP_BODY_MAX ||
	       (ri->content_length < 0 &&
	        mg_get_header(r->conn, "Transfer-Encoding") != NULL);
}

/* Whether this connection stays open, by the request and the outcome. */
static bool
http_keep_alive(const struct http_req *r)
{
	const struct mg_request_info *ri = mg_get_request_info(r->conn);
	const char *hdr = mg_get_header(r->conn, "Connection");

	/* civetweb itself closes after a 401. */
	if (r->close || r->status == 401 || http_unread_body(r))
		return false;
	if (hdr != NULL && strcasestr(hdr, "close") != NULL)
		return false;
	if (hdr != NULL && strcasestr(hdr, "keep-alive") != NULL)
		return true;
	return ri->http_version != NULL && strcmp(ri->http_version, "1.1") == 0;
}

/*
 * Sends the response with as few writes as possible: civetweb's header
 * API writes every header line separately, which with tcp_nodelay costs
 * a segment each (measured: 15k vs 39k requests/s).
 */
static void
http_send(struct http_req *r)
{
	struct mg_connection *c = r->conn;
	bool keep = http_keep_alive(r);
	bool head = strcmp(r->method, "HEAD") == 0;
	size_t body_len = head ? 0 : r->body_len;
	char date[64], hdr[HTTP_HEADERS_BUFLEN + 512];
	time_t now = time(NULL);
	struct tm tm;
	int n;

	if (!keep)
		mg_disable_connection_keep_alive(c);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	n = snprintf(hdr, sizeof(hdr),
	             "HTTP/1.1 %d %s\r\n"
	             "Content-Type: %s\r\n"
	             "Content-Length: %zu\r\n"
	             "Cache-Control: no-store\r\n"
	             "Date: %s\r\n"
	             "Connection: %s\r\n"
	             "%s\r\n",
	             r->status, mg_get_response_code_text(c, r->status),
	             r->content_type ? r->content_type : HTTP_JSON_TYPE,
	             r->body_len, date, keep ? "keep-alive" : "close",
	             r->headers);
	if (n < 0 || (size_t)n >= sizeof(hdr)) {
		nt_error("http: response headers too long");
		mg_disable_connection_keep_alive(c);
		return;
	}
	if (body_len > 0 && body_len <= HTTP_COALESCE_MAX) {
		char *buf = malloc((size_t)n + body_len);
		if (buf != NULL) {
			memcpy(buf, hdr, (size_t)n);
			memcpy(buf + n, r->body, body_len);
			mg_write(c, buf, (size_t)n + body_len);
			free(buf);
			return;
		}
	}
	mg_write(c, hdr, (size_t)n);
	if (body_len > 0)
		mg_write(c, r->body, body_len);
}

static int
http_handle(struct mg_connection *conn, void *cbdata)
{
	struct http_server *h = cbdata;
	const struct mg_request_info *ri = mg_get_request_info(conn);
	int64_t t0 = http_now_us();
	struct http_req r;

	memset(&r, 0, sizeof(r));
	r.conn = conn;
	r.store = h->store;
	r.hub = h->hub;
	r.metrics = &h->metrics;
	r.method = ri->request_method;
	/* Undecoded and unnormalised: "%00" or ".." in an id is a bad id. */
	r.path = ri->local_uri_raw ? ri->local_uri_raw : "";
	r.query = ri->query_string;
	http_metrics_begin(&h->metrics);

	http_dispatch(h, &r);
	if (r.match.route != NULL && http_method_mutating(r.method) &&
	    strcmp(r.match.route->method, r.method) == 0)
		http_audit(h, &r);
	http_send(&r);

	int64_t us = http_now_us() - t0;
	http_metrics_end(&h->metrics, r.status, us);
	nt_debug("http: %s %s %d %.2fms %s", r.method, r.path, r.status,
	         (double)us / 1000.0, r.actor[0] ? r.actor : "-");
	http_reply_fini(&r);
	return r.status;
}

/* ---- civetweb callbacks --------------------------------------------- */

static const char *
http_error_code(int status)
{
	switch (status) {
	case 400:
		return "bad_request";
	case 401:
		return "unauthorized";
	case 403:
		return "forbidden";
	case 404:
		return "not_found";
	case 405:
		return "method_not_allowed";
	case 408:
		return "request_timeout";
	case 411:
		return "length_required";
	case 413:
	case 431:
		return "payload_too_large";
	case 503:
		return "unavailable";
	case 505:
		return "http_version_not_supported";
	default:
		return status >= 500 ? "internal_error" : "bad_request";
	}
}

/* civetweb's own errors (bad request line, headers too large, ...). */
static int
http_on_error(struct mg_connection *conn, int status, const char *msg)
{
	char m[256], *body;
	cJSON *o = cJSON_CreateObject();

	snprintf(m, sizeof(m), "%s", msg ? msg : "");
	nt_text_sanitize(m);
	if (o == NULL ||
	    !cJSON_AddStringToObject(o, "error", http_error_code(status)) ||
	    !cJSON_AddStringToObject(o, "message", m[0] ? m : "error")) {
		cJSON_Delete(o);
		return 1; /* let civetweb send its plain page */
	}
	body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (body == NULL)
		return 1;
	mg_printf(conn,
	          "HTTP/1.1 %d %s\r\n"
	          "Content-Type: " HTTP_JSON_TYPE "\r\n"
	          "Content-Length: %zu\r\n"
	          "Cache-Control: no-store\r\n"
	          "Connection: close\r\n\r\n",
	          status, mg_get_response_code_text(conn, status),
	          strlen(body));
	mg_write(conn, body, strlen(body));
	cJSON_free(body);
	return 0;
}

static int
http_on_log(const struct mg_connection *conn, const char *message)
{
	(void)conn;
	nt_warn("http: civetweb: %s", message);
	return 1;
}

/* ---- lifecycle ------------------------------------------------------ */

static int
http_civetweb_start(struct http_server *h, const struct ctl_config *cfg)
{
	char threads[16], errtext[256] = "";
	unsigned errcode = 0;
	struct mg_callbacks cb;
	struct mg_error_data err = {&errcode, errtext, sizeof(errtext)};
	struct mg_init_data init;

	snprintf(threads, sizeof(threads), "%d",
	         cfg->http_threads > 0 ? cfg->http_threads : 16);
	const char *opts[] = {
	        "listening_ports",
	        cfg->http_listen,
	        "num_threads",
	        threads,
	        "tcp_nodelay",
	        "1",
	        "enable_keep_alive",
	        "yes",
	        "keep_alive_timeout_ms",
	        HTTP_KEEPALIVE_MS,
	        "request_timeout_ms",
	        HTTP_REQUEST_TIMEOUT_MS,
	        "decode_url",
	        "no",
	        NULL,
	};
	memset(&cb, 0, sizeof(cb));
	cb.http_error = http_on_error;
	cb.log_message = http_on_log;
	init = (struct mg_init_data){&cb, h, opts};
	if ((h->ctx = mg_start2(&init, &err)) == NULL) {
		nt_error("http: cannot listen on %s: %s", cfg->http_listen,
		         errtext[0] ? errtext : "civetweb failed to start");
		return NT_EIO;
	}
	mg_set_request_handler(h->ctx, "/", http_handle, h);
	return NT_OK;
}

int
http_server_start(struct http_server **hp, const struct ctl_config *cfg,
                  struct store *store, struct hub *hub)
{
	struct http_server *h = calloc(1, sizeof(*h));
	int rv;

	if (h == NULL)
		return NT_ENOMEM;
	h->store = store;
	h->hub = hub;
	http_metrics_init(&h->metrics);
	if ((rv = http_auth_init(&h->auth, store)) != NT_OK) {
		free(h);
		return rv;
	}
	mg_init_library(0);
	if ((rv = http_civetweb_start(h, cfg)) != NT_OK) {
		mg_exit_library();
		http_auth_fini(h->auth);
		free(h);
		return rv;
	}
	nt_debug("http: listening on %s", cfg->http_listen);
	*hp = h;
	return NT_OK;
}

void
http_server_stop(struct http_server *h)
{
	if (h == NULL)
		return;
	mg_stop(h->ctx);
	mg_exit_library();
	http_auth_fini(h->auth);
	free(h);
}
