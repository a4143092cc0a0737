/*
 * http_reply.c: building REST responses and reading request bodies.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <civetweb.h>

#include "http_reply.h"
#include "nt_err.h"
#include "nt_json.h"
#include "nt_log.h"
#include "nt_text.h"

#define HTTP_JSON_DEPTH_MAX 32

/* What the client sees when even an error body cannot be allocated. */
static const char http_nomem_body[] =
        "{\"error\":\"internal_error\",\"message\":\"out of memory\"}";

/* Copies src into dst, cutting it short when it does not fit. */
static void
http_copy(char *dst, size_t dstlen, const char *src)
{
	size_t n = strnlen(src, dstlen - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

static void
http_body_set(struct http_req *r, int status, const char *type, char *body,
              size_t len, void (*free_fn)(void *))
{
	http_reply_fini(r);
	r->status = status;
	r->content_type = type;
	r->body = body;
	r->body_len = len;
	r->body_free = free_fn;
}

void
http_reply_fini(struct http_req *r)
{
	if (r->body != NULL && r->body_free != NULL)
		r->body_free(r->body);
	r->body = NULL;
	r->body_len = 0;
}

static void
http_reply_nomem(struct http_req *r)
{
	http_body_set(r, 500, HTTP_JSON_TYPE, (char *)http_nomem_body,
	              sizeof(http_nomem_body) - 1, NULL);
	snprintf(r->detail, sizeof(r->detail), "out of memory");
}

void
http_reply_json(struct http_req *r, int status, cJSON *body)
{
	char *text;

	if (body == NULL) {
		http_reply_nomem(r);
		return;
	}
	text = nt_json_print(body);
	cJSON_Delete(body);
	if (text == NULL) {
		http_reply_nomem(r);
		return;
	}
	http_body_set(r, status, HTTP_JSON_TYPE, text, strlen(text),
	              cJSON_free);
}

void
http_reply_status(struct http_req *r, int status, const char *status_text)
{
	cJSON *o = cJSON_CreateObject();

	if (o != NULL &&
	    cJSON_AddStringToObject(o, "status", status_text) == NULL) {
		cJSON_Delete(o);
		o = NULL;
	}
	http_reply_json(r, status, o);
}

void
http_reply_text(struct http_req *r, int status, const char *content_type,
                char *text, size_t len, void (*free_fn)(void *))
{
	http_body_set(r, status, content_type, text, len, free_fn);
}

static void
http_reply_verror(struct http_req *r, int status, const char *code,
                  const char *fmt, va_list ap)
{
	char msg[512];
	cJSON *o;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* Messages quote client input, possibly cut mid-character. */
	nt_text_sanitize(msg);
	http_copy(r->detail, sizeof(r->detail), msg);
	o = cJSON_CreateObject();
	if (o != NULL && (cJSON_AddStringToObject(o, "error", code) == NULL ||
	                  cJSON_AddStringToObject(o, "message", msg) == NULL)) {
		cJSON_Delete(o);
		o = NULL;
	}
	http_reply_json(r, status, o);
	if (status == 503)
		http_reply_header(r, "Retry-After", "1");
}

void
http_reply_error(struct http_req *r, int status, const char *code,
                 const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	http_reply_verror(r, status, code, fmt, ap);
	va_end(ap);
}

void
http_reply_bad_request(struct http_req *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	http_reply_verror(r, 400, "bad_request", fmt, ap);
	va_end(ap);
}

void
http_reply_err(struct http_req *r, int err, const char *what)
{
	switch (err) {
	case NT_ENOTFOUND:
		http_reply_error(r, 404, "not_found", "%s not found", what);
		break;
	case NT_ECONFLICT:
		http_reply_error(r, 409, "conflict",
		                 "%s conflicts with its current state", what);
		break;
	case NT_EINVAL:
		http_reply_bad_request(r, "invalid %s", what);
		break;
	case NT_ETOOBIG:
		http_reply_error(r, 413, "payload_too_large", "%s is too large",
		                 what);
		break;
	case NT_EUNAVAIL:
	case NT_ETIMEDOUT:
		http_reply_error(r, 503, "unavailable",
		                 "the database is unavailable; retry later");
		break;
	case NT_ENOMEM:
		http_reply_nomem(r);
		break;
	default:
		nt_error("http: %s %s: %s: %s", r->method, r->path, what,
		         nt_strerror(err));
		http_reply_error(r, 500, "internal_error",
		                 "internal error while handling %s", what);
		break;
	}
}

int
http_reply_header(struct http_req *r, const char *name, const char *fmt, ...)
{
	size_t room = sizeof(r->headers) - r->headers_len;
	char value[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(value, sizeof(value), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(value))
		return NT_ETOOBIG;
	n = snprintf(r->headers + r->headers_len, room, "%s: %s\r\n", name,
	             value);
	if (n < 0 || (size_t)n >= room) {
		r->headers[r->headers_len] = '\0';
		return NT_ETOOBIG;
	}
	r->headers_len += (size_t)n;
	return NT_OK;
}

bool
http_path_uuid(struct http_req *r, const char *param, const char *what,
               char out[NT_UUID_BUFLEN])
{
	if (http_match_uuid(&r->match, param, out))
		return true;
	http_reply_bad_request(r, "malformed %s id in the path", what);
	return false;
}

bool
http_req_query(struct http_req *r, const char *const *allowed,
               struct http_query *q)
{
	char err[160];

	if (http_query_parse(r->query, allowed, q, err, sizeof(err)) == NT_OK)
		return true;
	http_reply_bad_request(r, "%s", err);
	return false;
}

const char *
http_req_header(const struct http_req *r, const char *name)
{
	if (r->conn == NULL)
		return NULL;
	return mg_get_header(r->conn, name);
}

/* ---- request bodies ------------------------------------------------- */

static void
http_reply_too_large(struct http_req *r)
{
	/* Do not read (or let civetweb drain) the rest of a huge body. */
	r->close = true;
	http_reply_error(r, 413, "payload_too_large",
	                 "request body larger than %d bytes", HTTP_BODY_MAX);
}

int
http_read_body(struct http_req *r, char **body, size_t *len)
{
	const struct mg_request_info *ri;
	size_t cap = 4096, n = 0;
	char *buf;

	*body = NULL;
	*len = 0;
	if (r->conn == NULL)
		return NT_OK;
	r->body_read = true;
	ri = mg_get_request_info(r->conn);
	if (ri->content_length > HTTP_BODY_MAX) {
		http_reply_too_large(r);
		return NT_ETOOBIG;
	}
	if (ri->content_length >= 0)
		cap = (size_t)ri->content_length + 1;
	if ((buf = malloc(cap)) == NULL) {
		http_reply_nomem(r);
		return NT_ENOMEM;
	}
	for (;;) {
		int got;
		if (n + 1 == cap) {
			char *nb;
			if (cap > HTTP_BODY_MAX + 1)
				break;
			cap = cap * 2 > HTTP_BODY_MAX + 2 ? HTTP_BODY_MAX + 2
			                                  : cap * 2;
			if ((nb = realloc(buf, cap)) == NULL) {
				free(buf);
				http_reply_nomem(r);
				return NT_ENOMEM;
			}
			buf = nb;
		}
		got = mg_read(r->conn, buf + n, cap - n - 1);
		if (got <= 0)
			break;
		n += (size_t)got;
		if (ri->content_length >= 0 && n >= (size_t)ri->content_length)
			break;
	}
	if (n > HTTP_BODY_MAX) {
		free(buf);
		http_reply_too_large(r);
		return NT_ETOOBIG;
	}
	buf[n] = '\0';
	*body = buf;
	*len = n;
	return NT_OK;
}

/* Strict UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
static bool
http_utf8_valid(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t need;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (len - i <= need)
			return false;
		for (size_t k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += need + 1;
	}
	return true;
}

/*
 * Checks what cJSON would accept but we must not: arrays and objects
 * nested deeper than max (cJSON parses and frees recursively; our bodies
 * need three levels) and "\u0000" in a string (cJSON would silently cut
 * the string there). Sets *why and returns false when one is found.
 */
static bool
http_json_precheck(const char *s, size_t len, int max, const char **why)
{
	bool in_str = false;
	int depth = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (in_str && c == '\\') {
			if (len - i > 5 && s[i + 1] == 'u' &&
			    memcmp(s + i + 2, "0000", 4) == 0) {
				*why = "request body has a NUL character in a "
				       "string";
				return false;
			}
			i++;
		} else if (in_str) {
			in_str = c != '"';
		} else if (c == '"') {
			in_str = true;
		} else if ((c == '[' || c == '{') && ++depth > max) {
			*why = "request body nests too deeply";
			return false;
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return true;
}

static bool
http_blank(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

int
http_read_json(struct http_req *r, bool optional, cJSON **out, char **raw)
{
	char *body;
	size_t len;
	const char *end = NULL, *why;
	cJSON *doc;
	int rv;

	*out = NULL;
	if (raw != NULL)
		*raw = NULL;
	if ((rv = http_read_body(r, &body, &len)) != NT_OK)
		return rv;
	if (body == NULL || http_blank(body, len)) {
		free(body);
		if (optional)
			return NT_OK;
		http_reply_bad_request(r, "request body must be a JSON object");
		return NT_EINVAL;
	}
	if (memchr(body, '\0', len) != NULL ||
	    !http_utf8_valid((const unsigned char *)body, len)) {
		free(body);
		http_reply_bad_request(r, "request body is not valid UTF-8");
		return NT_EINVAL;
	}
	if (!http_json_precheck(body, len, HTTP_JSON_DEPTH_MAX, &why)) {
		free(body);
		http_reply_bad_request(r, "%s", why);
		return NT_EINVAL;
	}
	doc = cJSON_ParseWithLengthOpts(body, len, &end, false);
	if (doc == NULL || !cJSON_IsObject(doc) ||
	    !http_blank(end, len - (size_t)(end - body))) {
		cJSON_Delete(doc);
		free(body);
		http_reply_bad_request(r, "request body must be a JSON object");
		return NT_EINVAL;
	}
	*out = doc;
	if (raw != NULL)
		*raw = body;
	else
		free(body);
	return NT_OK;
}
