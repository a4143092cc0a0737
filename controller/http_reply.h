/*
 * http_reply.h: one REST request as the handlers see it, and how they
 * answer it.
 *
 * A handler never writes to the connection. It reads the request through
 * struct http_req and leaves its response there (status, headers, body);
 * the server sends it after writing the audit record, so an audit entry
 * exists before the client sees the outcome. Every response body is JSON
 * (application/json; charset=utf-8) except /metrics; every error body is
 * {"error": code, "message": sentence}.
 */
#ifndef HTTP_REPLY_H
#define HTTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "http_router.h"
#include "nt_uuid.h"
#include "store.h"

#define HTTP_BODY_MAX       (1024 * 1024) /* request bodies: 1 MiB */
#define HTTP_HEADERS_BUFLEN 768
#define HTTP_DETAIL_BUFLEN  256

#define HTTP_JSON_TYPE "application/json; charset=utf-8"

struct mg_connection;
struct hub;
struct http_metrics;

struct http_req {
	/* the request */
	struct mg_connection *conn; /* NULL in unit tests */
	struct store *store;
	struct hub *hub;
	struct http_metrics *metrics;
	const char *method;
	const char *path;
	const char *query; /* raw, may be NULL */
	struct http_match match;
	char actor[STORE_NAME_BUFLEN]; /* key name; "" before auth */
	enum store_scope scope;
	bool body_read;

	/* the response, sent once the handler returns */
	int status; /* 0: nothing yet */
	const char *content_type;
	char *body;
	size_t body_len;
	void (*body_free)(void *);         /* NULL: body is static */
	char headers[HTTP_HEADERS_BUFLEN]; /* extra "Name: value\r\n" lines */
	size_t headers_len;
	bool close; /* do not keep the connection alive */

	/* what the audit record says */
	char object_id[NT_UUID_BUFLEN];
	char detail[HTTP_DETAIL_BUFLEN];
};

/* Replies with body (may be NULL: 500), which is freed. */
void http_reply_json(struct http_req *r, int status, cJSON *body);
/* Replies {"status": status_text} with the given HTTP status. */
void http_reply_status(struct http_req *r, int status, const char *status_text);
/* Replies with text, later released with free_fn (NULL: static text). */
void http_reply_text(struct http_req *r, int status, const char *content_type,
                     char *text, size_t len, void (*free_fn)(void *));
/* Replies {"error": code, "message": ...}; the message becomes the detail. */
void http_reply_error(struct http_req *r, int status, const char *code,
                      const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
void http_reply_bad_request(struct http_req *r, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/*
 * Answers an nt_err code from the store or a helper: NT_ENOTFOUND 404
 * ("<what> not found"), NT_ECONFLICT 409, NT_EINVAL 400, NT_ETOOBIG 413,
 * NT_EUNAVAIL/NT_ETIMEDOUT 503, anything else 500.
 */
void http_reply_err(struct http_req *r, int err, const char *what);
/* Adds a response header line. NT_ETOOBIG when the buffer is full. */
int http_reply_header(struct http_req *r, const char *name, const char *fmt,
                      ...) __attribute__((format(printf, 3, 4)));
/* Frees the response body. */
void http_reply_fini(struct http_req *r);

/*
 * The path parameter param as a lowercase UUID. When it is malformed,
 * replies 400 ("malformed <what> id") and returns false.
 */
bool http_path_uuid(struct http_req *r, const char *param, const char *what,
                    char out[NT_UUID_BUFLEN]);
/* Parses the query string; replies 400 and returns false when bad. */
bool http_req_query(struct http_req *r, const char *const *allowed,
                    struct http_query *q);
/* A request header, or NULL. */
const char *http_req_header(const struct http_req *r, const char *name);
/*
 * Reads the whole body (NUL-terminated, caller frees). Replies 413 when
 * it exceeds HTTP_BODY_MAX and returns NT_ETOOBIG; other failures reply
 * too and return their code.
 */
int http_read_body(struct http_req *r, char **body, size_t *len);
/*
 * Reads the body as a JSON object. With optional set, an empty body gives
 * *out = NULL and NT_OK. Anything else that is not one valid UTF-8 JSON
 * object is answered 400 and NT_EINVAL is returned. *raw, when non-NULL,
 * receives the body text (caller frees).
 */
int http_read_json(struct http_req *r, bool optional, cJSON **out, char **raw);

#endif
