/*
 * http_router.c: method + path pattern matching and query-string parsing
 * for the REST layer. Pure string work, no civetweb.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_router.h"
#include "nt_err.h"

/*
 * Matches one pattern against path segment by segment. Placeholders
 * match one non-empty segment; literals match exactly; both must end
 * together (so "/nodes/" is not "/nodes").
 */
static bool
http_pattern_match(const char *pat, const char *path, struct http_match *m)
{
	m->nparams = 0;
	while (*pat != '\0' && *path != '\0') {
		if (*pat != '/' || *path != '/')
			return false;
		pat++;
		path++;
		size_t plen = strcspn(pat, "/");
		size_t slen = strcspn(path, "/");
		if (plen >= 2 && pat[0] == '{' && pat[plen - 1] == '}') {
			if (slen == 0 || m->nparams == HTTP_MAX_PARAMS)
				return false;
			struct http_param *p = &m->params[m->nparams++];
			p->name = pat + 1;
			p->name_len = plen - 2;
			p->value = path;
			p->value_len = slen;
		} else if (plen != slen || memcmp(pat, path, plen) != 0) {
			return false;
		}
		pat += plen;
		path += slen;
	}
	return *pat == '\0' && *path == '\0';
}

static bool
http_method_fits(const char *route_method, const char *method)
{
	if (strcmp(route_method, method) == 0)
		return true;
	return strcmp(method, "HEAD") == 0 && strcmp(route_method, "GET") == 0;
}

/* Appends a method to the Allow list, once. */
static void
http_allow_add(char *allow, size_t allowlen, const char *method)
{
	size_t used = strlen(allow);
	size_t mlen = strlen(method);
	const char *p = allow;

	while ((p = strstr(p, method)) != NULL) {
		if ((p == allow || p[-1] == ' ') &&
		    (p[mlen] == ',' || p[mlen] == '\0'))
			return;
		p += mlen;
	}
	snprintf(allow + used, allowlen - used, "%s%s", used ? ", " : "",
	         method);
}

enum http_route_result
http_router_match(const struct http_route *routes, size_t n, const char *method,
                  const char *path, struct http_match *m, char *allow,
                  size_t allowlen)
{
	struct http_match tmp;
	bool path_found = false;

	if (allowlen > 0)
		allow[0] = '\0';
	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < n; i++) {
		if (!http_pattern_match(routes[i].pattern, path, &tmp))
			continue;
		if (http_method_fits(routes[i].method, method)) {
			*m = tmp;
			m->route = &routes[i];
			return HTTP_ROUTE_FOUND;
		}
		if (!path_found) {
			*m = tmp;
			m->route = &routes[i];
		}
		path_found = true;
		if (allowlen > 0) {
			http_allow_add(allow, allowlen, routes[i].method);
			if (strcmp(routes[i].method, "GET") == 0)
				http_allow_add(allow, allowlen, "HEAD");
		}
	}
	if (!path_found) {
		memset(m, 0, sizeof(*m));
		return HTTP_ROUTE_NO_PATH;
	}
	return HTTP_ROUTE_NO_METHOD;
}

bool
http_method_mutating(const char *method)
{
	return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0;
}

static const struct http_param *
http_match_find(const struct http_match *m, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < m->nparams; i++) {
		const struct http_param *p = &m->params[i];
		if (p->name_len == len && memcmp(p->name, name, len) == 0)
			return p;
	}
	return NULL;
}

bool
http_match_param(const struct http_match *m, const char *name, char *out,
                 size_t outlen)
{
	const struct http_param *p = http_match_find(m, name);

	if (p == NULL || outlen == 0 || p->value_len >= outlen)
		return false;
	memcpy(out, p->value, p->value_len);
	out[p->value_len] = '\0';
	return true;
}

bool
http_match_uuid(const struct http_match *m, const char *name,
                char out[NT_UUID_BUFLEN])
{
	char buf[NT_UUID_BUFLEN];

	if (!http_match_param(m, name, buf, sizeof(buf)))
		return false;
	return nt_uuid_parse(buf, out);
}

/* ---- query strings -------------------------------------------------- */

static int
http_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Decodes src[0..len) (form encoding: '+' is a space) to dst, which has
 * room for len + 1 bytes. Rejects bad escapes and NUL bytes.
 */
static bool
http_query_decode(const char *src, size_t len, char *dst)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = src[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			int hi, lo;
			if (i + 2 >= len)
				return false;
			hi = http_hexval(src[i + 1]);
			lo = http_hexval(src[i + 2]);
			if (hi < 0 || lo < 0)
				return false;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (c == '\0')
			return false;
		dst[o++] = c;
	}
	dst[o] = '\0';
	return true;
}

static bool
http_name_allowed(const char *name, const char *const *allowed)
{
	for (size_t i = 0; allowed != NULL && allowed[i] != NULL; i++)
		if (strcmp(name, allowed[i]) == 0)
			return true;
	return false;
}

/* Decodes one "name=value" (value may be absent) into q. */
static int
http_query_add(struct http_query *q, const char *pair, size_t len, size_t *used,
               const char *const *allowed, char *err, size_t errlen)
{
	const char *eq = memchr(pair, '=', len);
	size_t nlen = eq ? (size_t)(eq - pair) : len;
	size_t vlen = eq ? len - nlen - 1 : 0;
	char *name = q->buf + *used;
	char *value = name + nlen + 1;

	if (q->n == HTTP_QUERY_MAX) {
		snprintf(err, errlen, "too many query parameters");
		return NT_EINVAL;
	}
	if (!http_query_decode(pair, nlen, name) ||
	    !http_query_decode(eq ? eq + 1 : "", vlen, value)) {
		snprintf(err, errlen, "malformed query string");
		return NT_EINVAL;
	}
	if (!http_name_allowed(name, allowed)) {
		snprintf(err, errlen, "unknown query parameter '%.64s'", name);
		return NT_EINVAL;
	}
	if (http_query_get(q, name) != NULL) {
		snprintf(err, errlen,
		         "query parameter '%s' given more than once", name);
		return NT_EINVAL;
	}
	q->items[q->n].name = name;
	q->items[q->n].value = value;
	q->n++;
	*used += nlen + vlen + 2;
	return NT_OK;
}

int
http_query_parse(const char *qs, const char *const *allowed,
                 struct http_query *q, char *err, size_t errlen)
{
	size_t used = 0;

	q->n = 0;
	if (qs == NULL)
		return NT_OK;
	/* Decoded text never grows, and each pair needs two NULs. */
	if (strlen(qs) + HTTP_QUERY_MAX * 2 >= sizeof(q->buf)) {
		snprintf(err, errlen, "query string too long");
		return NT_EINVAL;
	}
	while (*qs != '\0') {
		size_t len = strcspn(qs, "&");
		if (len > 0) {
			int rv = http_query_add(q, qs, len, &used, allowed, err,
			                        errlen);
			if (rv != NT_OK)
				return rv;
		}
		qs += len;
		if (*qs == '&')
			qs++;
	}
	return NT_OK;
}

const char *
http_query_get(const struct http_query *q, const char *name)
{
	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->items[i].name, name) == 0)
			return q->items[i].value;
	return NULL;
}

bool
http_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0')
		return false;
	for (const char *p = (*s == '-') ? s + 1 : s; *p != '\0'; p++)
		if (*p < '0' || *p > '9')
			return false;
	if (*s == '-' && s[1] == '\0')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return false;
	*out = v;
	return true;
}
