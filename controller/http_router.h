/*
 * http_router.h: maps a request's method and path to a route, and reads
 * its query string.
 *
 * A route pattern is a path whose segments are literals or "{name}"
 * placeholders ("/task/run/{runId}/logs"). Matching captures the
 * placeholder segments as slices of the request path, so a handler sees
 * exactly what the client sent and decides what is malformed. Nothing here
 * knows about civetweb, so it is unit-tested on its own.
 */
#ifndef HTTP_ROUTER_H
#define HTTP_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nt_uuid.h"

struct http_req;

typedef void (*http_handler)(struct http_req *req);

/* Route flags. */
#define HTTP_ROUTE_PUBLIC 0x1 /* no API key needed (GET /healthz) */

struct http_route {
	const char *method;      /* "GET" or "POST" */
	const char *pattern;     /* "/task/run/{runId}" */
	http_handler handler;    /* NULL in tests */
	const char *object_type; /* audit object type; NULL: none */
	unsigned flags;
};

#define HTTP_MAX_PARAMS 4

struct http_param {
	const char *name; /* points into the pattern, not terminated */
	size_t name_len;
	const char *value; /* points into the path, not terminated */
	size_t value_len;
};

struct http_match {
	const struct http_route *route;
	size_t nparams;
	struct http_param params[HTTP_MAX_PARAMS];
};

enum http_route_result {
	HTTP_ROUTE_FOUND = 0,
	HTTP_ROUTE_NO_PATH,   /* 404 */
	HTTP_ROUTE_NO_METHOD, /* 405; allow lists the methods */
};

/*
 * Finds the route for method and path. HEAD matches GET routes. On
 * HTTP_ROUTE_NO_METHOD, allow receives "GET, HEAD" style text and
 * m->route the first route whose pattern matched.
 */
enum http_route_result http_router_match(const struct http_route *routes,
                                         size_t n, const char *method,
                                         const char *path, struct http_match *m,
                                         char *allow, size_t allowlen);
/* True when method changes state (anything but GET and HEAD). */
bool http_method_mutating(const char *method);
/* Copies path parameter name; false when absent or longer than outlen-1. */
bool http_match_param(const struct http_match *m, const char *name, char *out,
                      size_t outlen);
/* The parameter as a lowercase UUID; false when absent or malformed. */
bool http_match_uuid(const struct http_match *m, const char *name,
                     char out[NT_UUID_BUFLEN]);

/* ---- query strings -------------------------------------------------- */

#define HTTP_QUERY_MAX    16
#define HTTP_QUERY_BUFLEN 2048

struct http_query {
	size_t n;
	struct {
		const char *name;
		const char *value;
	} items[HTTP_QUERY_MAX];
	char buf[HTTP_QUERY_BUFLEN]; /* decoded names and values */
};

/*
 * Splits and percent-decodes qs (NULL or "" gives no items). Only the
 * names in allowed (NULL-terminated) are accepted, each at most once.
 * NT_EINVAL with a sentence in err for unknown or repeated names, bad
 * escapes, NUL bytes or a query that is too long.
 */
int http_query_parse(const char *qs, const char *const *allowed,
                     struct http_query *q, char *err, size_t errlen);
/* The value of name, or NULL when absent. */
const char *http_query_get(const struct http_query *q, const char *name);
/* Parses a decimal integer in [min, max], digits only (leading '-' ok). */
bool http_parse_int(const char *s, int64_t min, int64_t max, int64_t *out);

#endif
