/*
 * test_http_router.c: route matching, path parameters, query strings and
 * the route table against docs/openapi.json.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "http_router.h"
#include "http_routes.h"
#include "nt_err.h"

static const struct http_route test_routes[] = {
        {"GET", "/task/runs/recent", NULL, NULL, 0},
        {"POST", "/task/runs", NULL, "run", 0},
        {"GET", "/task/run/{runId}", NULL, NULL, 0},
        {"GET", "/task/run/{runId}/logs", NULL, NULL, 0},
        {"POST", "/task/run/{runId}/cancel", NULL, "run", 0},
        {"GET", "/a/{x}/b/{y}", NULL, NULL, 0},
        {"GET", "/healthz", NULL, NULL, HTTP_ROUTE_PUBLIC},
};
#define NROUTES (sizeof(test_routes) / sizeof(test_routes[0]))

static enum http_route_result
match(const char *method, const char *path, struct http_match *m, char *allow)
{
	return http_router_match(test_routes, NROUTES, method, path, m, allow,
	                         64);
}

Test(router, literal_paths)
{
	struct http_match m;
	char allow[64];

	cr_assert_eq(match("GET", "/task/runs/recent", &m, allow),
	             HTTP_ROUTE_FOUND);
	cr_assert_eq(m.route, &test_routes[0]);
	cr_assert_eq(m.nparams, 0);
	cr_assert_eq(match("POST", "/task/runs", &m, allow), HTTP_ROUTE_FOUND);
	cr_assert_eq(m.route, &test_routes[1]);
	cr_assert_eq(match("GET", "/healthz", &m, allow), HTTP_ROUTE_FOUND);
}

Test(router, parameters_are_captured)
{
	struct http_match m;
	char allow[64], buf[64];

	cr_assert_eq(match("GET", "/task/run/abc/logs", &m, allow),
	             HTTP_ROUTE_FOUND);
	cr_assert_eq(m.route, &test_routes[3]);
	cr_assert(http_match_param(&m, "runId", buf, sizeof(buf)));
	cr_assert_str_eq(buf, "abc");
	cr_assert_not(http_match_param(&m, "nodeId", buf, sizeof(buf)));

	cr_assert_eq(match("GET", "/a/1/b/22", &m, allow), HTTP_ROUTE_FOUND);
	cr_assert_eq(m.nparams, 2);
	cr_assert(http_match_param(&m, "x", buf, sizeof(buf)));
	cr_assert_str_eq(buf, "1");
	cr_assert(http_match_param(&m, "y", buf, sizeof(buf)));
	cr_assert_str_eq(buf, "22");
}

Test(router, unknown_paths)
{
	struct http_match m;
	char allow[64];
	const char *paths[] = {"/",
	                       "",
	                       "/nope",
	                       "/task",
	                       "/task/run",
	                       "/task/run/",
	                       "/task/run//logs",
	                       "/task/runs/",
	                       "/task/runs/recent/x",
	                       "/task/run/x/logs/y",
	                       "/healthz/",
	                       "healthz",
	                       "//healthz",
	                       "/HEALTHZ",
	                       "/task/runs/recentx"};

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		cr_expect_eq(match("GET", paths[i], &m, allow),
		             HTTP_ROUTE_NO_PATH, "%s", paths[i]);
		cr_expect_null(m.route, "%s", paths[i]);
	}
}

Test(router, wrong_method_lists_allowed)
{
	struct http_match m;
	char allow[64];

	cr_assert_eq(match("DELETE", "/task/runs/recent", &m, allow),
	             HTTP_ROUTE_NO_METHOD);
	cr_assert_str_eq(allow, "GET, HEAD");
	cr_assert_eq(match("GET", "/task/runs", &m, allow),
	             HTTP_ROUTE_NO_METHOD);
	cr_assert_str_eq(allow, "POST");
	cr_assert_eq(match("GET", "/task/run/x/cancel", &m, allow),
	             HTTP_ROUTE_NO_METHOD);
	cr_assert_str_eq(allow, "POST");
	cr_assert_not_null(m.route);
}

Test(router, head_matches_get)
{
	struct http_match m;
	char allow[64];

	cr_assert_eq(match("HEAD", "/task/run/x", &m, allow), HTTP_ROUTE_FOUND);
	cr_assert_eq(m.route, &test_routes[2]);
	cr_assert_eq(match("HEAD", "/task/runs", &m, allow),
	             HTTP_ROUTE_NO_METHOD);
}

Test(router, mutating_methods)
{
	cr_assert_not(http_method_mutating("GET"));
	cr_assert_not(http_method_mutating("HEAD"));
	cr_assert(http_method_mutating("POST"));
	cr_assert(http_method_mutating("DELETE"));
	cr_assert(http_method_mutating("OPTIONS"));
}

Test(router, uuid_parameters)
{
	struct http_match m;
	char allow[64], id[NT_UUID_BUFLEN];
	char path[512];
	const char *bad[] = {
	        "abc",
	        "a1b2c3d4-e5f6-7890-abcd-ef123456789",
	        "a1b2c3d4-e5f6-7890-abcd-ef12345678901",
	        "a1b2c3d4e5f67890abcdef1234567890abcd",
	        "g1b2c3d4-e5f6-7890-abcd-ef1234567890",
	        "%20",
	        "%00",
	        "..",
	        "a1b2c3d4-e5f6-7890-abcd-ef1234567890%00",
	        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	};

	cr_assert_eq(match("GET",
	                   "/task/run/A1B2C3D4-E5F6-7890-ABCD-EF1234567890", &m,
	                   allow),
	             HTTP_ROUTE_FOUND);
	cr_assert(http_match_uuid(&m, "runId", id));
	cr_assert_str_eq(id, "a1b2c3d4-e5f6-7890-abcd-ef1234567890");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(path, sizeof(path), "/task/run/%s/logs", bad[i]);
		cr_assert_eq(match("GET", path, &m, allow), HTTP_ROUTE_FOUND,
		             "%s", path);
		cr_expect_not(http_match_uuid(&m, "runId", id), "%s", bad[i]);
	}
}

/* ---- query strings -------------------------------------------------- */

static const char *const test_allowed[] = {"limit", "state", "taskName", "q",
                                           NULL};

Test(query, empty_and_absent)
{
	struct http_query q;
	char err[128];

	cr_assert_eq(http_query_parse(NULL, test_allowed, &q, err, 128), NT_OK);
	cr_assert_eq(q.n, 0);
	cr_assert_eq(http_query_parse("", test_allowed, &q, err, 128), NT_OK);
	cr_assert_eq(q.n, 0);
	cr_assert_eq(http_query_parse("&&", test_allowed, &q, err, 128), NT_OK);
	cr_assert_eq(q.n, 0);
}

Test(query, values_are_decoded)
{
	struct http_query q;
	char err[128];

	cr_assert_eq(http_query_parse("limit=5&state=&q=a+b%2Fc%41",
	                              test_allowed, &q, err, sizeof(err)),
	             NT_OK, "%s", err);
	cr_assert_eq(q.n, 3);
	cr_assert_str_eq(http_query_get(&q, "limit"), "5");
	cr_assert_str_eq(http_query_get(&q, "state"), "");
	cr_assert_str_eq(http_query_get(&q, "q"), "a b/cA");
	cr_assert_null(http_query_get(&q, "taskName"));
	cr_assert_eq(http_query_parse("taskName", test_allowed, &q, err,
	                              sizeof(err)),
	             NT_OK);
	cr_assert_str_eq(http_query_get(&q, "taskName"), "");
}

Test(query, refusals)
{
	struct http_query q;
	char err[128], big[4096];
	const char *bad[] = {
	        "bogus=1", "limit=5&bogus=1", "limit=1&limit=2", "q=%",
	        "q=%4",    "q=%zz",           "q=a%00b",         "%71=1&q=2",
	        "LIMIT=5"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_expect_eq(http_query_parse(bad[i], test_allowed, &q, err,
		                              sizeof(err)),
		             NT_EINVAL, "%s", bad[i]);
		cr_expect_neq(err[0], '\0', "%s", bad[i]);
	}
	cr_assert_eq(
	        http_query_parse("bogus=1", test_allowed, &q, err, sizeof(err)),
	        NT_EINVAL);
	cr_assert_not_null(strstr(err, "bogus"));

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "q=", 2);
	cr_assert_eq(http_query_parse(big, test_allowed, &q, err, sizeof(err)),
	             NT_EINVAL);
}

Test(query, many_parameters_fit)
{
	static const char *const names[] = {"a", "b", "c", "d", "e", "f",
	                                    "g", "h", "i", "j", "k", "l",
	                                    "m", "n", "o", "p", "q", NULL};
	struct http_query q;
	char err[128];

	cr_assert_eq(http_query_parse("a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9&"
	                              "j=10&k=11&l=12&m=13&n=14&o=15&p=16",
	                              names, &q, err, sizeof(err)),
	             NT_OK, "%s", err);
	cr_assert_eq(q.n, 16);
	cr_assert_str_eq(http_query_get(&q, "p"), "16");
	cr_assert_eq(http_query_parse("a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9&"
	                              "j=10&k=11&l=12&m=13&n=14&o=15&p=16&q=1",
	                              names, &q, err, sizeof(err)),
	             NT_EINVAL);
}

Test(query, integers)
{
	int64_t v = 0;
	const char *bad[] = {"",    "-",  "abc", "1.5",  "5x",
	                     " 5",  "5 ", "+5",  "0x10", "99999999999999999999",
	                     "501", "0"};

	cr_assert(http_parse_int("1", 1, 500, &v));
	cr_assert_eq(v, 1);
	cr_assert(http_parse_int("500", 1, 500, &v));
	cr_assert_eq(v, 500);
	cr_assert(http_parse_int("-3", -5, 5, &v));
	cr_assert_eq(v, -3);
	cr_assert(http_parse_int("007", 0, 10, &v));
	cr_assert_eq(v, 7);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_not(http_parse_int(bad[i], 1, 500, &v), "%s", bad[i]);
	cr_assert_not(http_parse_int(NULL, 0, 1, &v));
}

/* ---- the real table ------------------------------------------------- */

Test(routes, table_matches_openapi)
{
	cJSON *doc =
	        cJSON_ParseWithLength(api_openapi_json, api_openapi_json_len);
	const cJSON *paths;

	cr_assert_not_null(doc, "docs/openapi.json does not parse");
	cr_assert_eq(strlen(api_openapi_json), api_openapi_json_len);
	paths = cJSON_GetObjectItemCaseSensitive(doc, "paths");
	cr_assert(cJSON_IsObject(paths));
	for (size_t i = 0; i < http_routes_count; i++) {
		const struct http_route *r = &http_routes[i];
		const cJSON *p =
		        cJSON_GetObjectItemCaseSensitive(paths, r->pattern);
		char method[8];
		size_t k;

		cr_expect_not_null(p, "%s missing in openapi", r->pattern);
		for (k = 0; r->method[k] != '\0' && k < sizeof(method) - 1; k++)
			method[k] = (char)(r->method[k] - 'A' + 'a');
		method[k] = '\0';
		cr_expect_not_null(cJSON_GetObjectItemCaseSensitive(p, method),
		                   "%s %s missing in openapi", r->method,
		                   r->pattern);
		cr_expect_not_null(r->handler, "%s", r->pattern);
		cr_expect(r->object_type != NULL ||
		                  !http_method_mutating(r->method),
		          "%s %s: mutating route without audit object",
		          r->method, r->pattern);
	}
	cJSON_Delete(doc);
}

Test(routes, every_openapi_path_is_served)
{
	cJSON *doc =
	        cJSON_ParseWithLength(api_openapi_json, api_openapi_json_len);
	const cJSON *paths = cJSON_GetObjectItemCaseSensitive(doc, "paths");
	const cJSON *p;

	cJSON_ArrayForEach(p, paths)
	{
		bool found = false;
		for (size_t i = 0; i < http_routes_count; i++)
			found |= strcmp(http_routes[i].pattern, p->string) == 0;
		cr_expect(found, "%s documented but not routed", p->string);
	}
	cJSON_Delete(doc);
}

Test(routes, table_has_no_shadowed_routes)
{
	/* Each route must be reachable: the first match for its own path. */
	for (size_t i = 0; i < http_routes_count; i++) {
		const struct http_route *r = &http_routes[i];
		char path[256], allow[64];
		struct http_match m;
		size_t o = 0;

		for (const char *c = r->pattern; *c && o < sizeof(path) - 40;) {
			if (*c == '{') {
				o += (size_t)snprintf(path + o,
				                      sizeof(path) - o, "%s",
				                      "00000000-0000-4000-8000-"
				                      "000000000000");
				c = strchr(c, '}') + 1;
			} else {
				path[o++] = *c++;
			}
		}
		path[o] = '\0';
		cr_expect_eq(http_router_match(http_routes, http_routes_count,
		                               r->method, path, &m, allow,
		                               sizeof(allow)),
		             HTTP_ROUTE_FOUND, "%s", path);
		cr_expect_eq(m.route, r, "%s", path);
	}
}
