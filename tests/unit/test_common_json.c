/*
 * test_common_json.c: typed getters (absent vs wrong type) and adders.
 */
#include <criterion/criterion.h>

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "nt_err.h"
#include "nt_json.h"

static cJSON *doc;

static void
doc_parse(const char *text)
{
	doc = cJSON_Parse(text);
	cr_assert_not_null(doc, "test JSON does not parse: %s", text);
}

static void
doc_free(void)
{
	cJSON_Delete(doc);
	doc = NULL;
}

TestSuite(json, .fini = doc_free);

static const char *const sample =
        "{\"name\": \"osd.1\", \"Name\": 5, \"empty\": \"\", \"nul\": null,"
        " \"yes\": true, \"no\": false, \"num\": 42, \"neg\": -7,"
        " \"zero\": 0, \"big\": 1e3, \"frac\": 1.5, \"tiny\": 1e-300,"
        " \"huge\": 1e19, \"min\": -9223372036854775808,"
        " \"max\": 9223372036854775807, \"safe\": 9007199254740992,"
        " \"numstr\": \"5\", \"arr\": [1], \"obj\": {\"a\": 1}}";

Test(json, string_getter)
{
	const char *s = NULL;

	doc_parse(sample);
	cr_assert_eq(nt_json_string(doc, "name", &s), NT_JSON_OK);
	cr_assert_str_eq(s, "osd.1");
	cr_assert_eq(nt_json_string(doc, "empty", &s), NT_JSON_OK);
	cr_assert_str_eq(s, "");
	cr_assert_eq(nt_json_string(doc, "missing", &s), NT_JSON_ABSENT);
	cr_assert_eq(nt_json_string(doc, "nul", &s), NT_JSON_ABSENT);
	cr_assert_eq(nt_json_string(doc, "num", &s), NT_JSON_WRONGTYPE);
	cr_assert_eq(nt_json_string(doc, "yes", &s), NT_JSON_WRONGTYPE);
	cr_assert_eq(nt_json_string(doc, "obj", &s), NT_JSON_WRONGTYPE);
	cr_assert_eq(nt_json_string(doc, "arr", &s), NT_JSON_WRONGTYPE);
	/* Member names are case-sensitive: "Name" is the number. */
	cr_assert_eq(nt_json_string(doc, "Name", &s), NT_JSON_WRONGTYPE);
	cr_assert_eq(nt_json_string(doc, "NAME", &s), NT_JSON_ABSENT);
	cr_assert_str_eq(s, "", "out changed by a failed get");
}

Test(json, getters_on_non_objects_are_absent)
{
	const char *s;
	int64_t i;
	cJSON *arr = cJSON_Parse("[\"name\"]");

	cr_assert_not_null(arr);
	cr_assert_eq(nt_json_string(NULL, "name", &s), NT_JSON_ABSENT);
	cr_assert_eq(nt_json_int(NULL, "num", &i), NT_JSON_ABSENT);
	cr_assert_eq(nt_json_string(arr, "name", &s), NT_JSON_ABSENT);
	cJSON_Delete(arr);
}

Test(json, bool_getter)
{
	bool b = false;

	doc_parse(sample);
	cr_assert_eq(nt_json_bool(doc, "yes", &b), NT_JSON_OK);
	cr_assert(b);
	cr_assert_eq(nt_json_bool(doc, "no", &b), NT_JSON_OK);
	cr_assert_not(b);
	cr_assert_eq(nt_json_bool(doc, "missing", &b), NT_JSON_ABSENT);
	cr_assert_eq(nt_json_bool(doc, "nul", &b), NT_JSON_ABSENT);
	cr_assert_eq(nt_json_bool(doc, "num", &b), NT_JSON_WRONGTYPE);
	cr_assert_eq(nt_json_bool(doc, "zero", &b), NT_JSON_WRONGTYPE);
	cr_assert_eq(nt_json_bool(doc, "name", &b), NT_JSON_WRONGTYPE);
}

static void
check_int(const char *name, enum nt_json_get want, int64_t want_v)
{
	int64_t v = 12345;

	cr_assert_eq(nt_json_int(doc, name, &v), want, "member %s", name);
	cr_assert_eq(v, want == NT_JSON_OK ? want_v : 12345, "member %s = %lld",
	             name, (long long)v);
}

Test(json, int_getter)
{
	doc_parse(sample);
	check_int("num", NT_JSON_OK, 42);
	check_int("neg", NT_JSON_OK, -7);
	check_int("zero", NT_JSON_OK, 0);
	check_int("big", NT_JSON_OK, 1000);
	check_int("min", NT_JSON_OK, INT64_MIN);
	check_int("safe", NT_JSON_OK, INT64_C(9007199254740992));
	check_int("missing", NT_JSON_ABSENT, 0);
	check_int("nul", NT_JSON_ABSENT, 0);
	check_int("frac", NT_JSON_WRONGTYPE, 0);
	check_int("tiny", NT_JSON_WRONGTYPE, 0);
	check_int("huge", NT_JSON_WRONGTYPE, 0);
	/* 2^63 - 1 is not a double; it rounds to 2^63, out of range. */
	check_int("max", NT_JSON_WRONGTYPE, 0);
	check_int("numstr", NT_JSON_WRONGTYPE, 0);
	check_int("yes", NT_JSON_WRONGTYPE, 0);
	check_int("arr", NT_JSON_WRONGTYPE, 0);
}

Test(json, int_getter_rejects_non_finite)
{
	doc = cJSON_CreateObject();
	cr_assert_not_null(doc);
	cr_assert_not_null(cJSON_AddNumberToObject(doc, "nan", NAN));
	cr_assert_not_null(cJSON_AddNumberToObject(doc, "inf", INFINITY));
	cr_assert_not_null(cJSON_AddNumberToObject(doc, "ninf", -INFINITY));
	cr_assert_not_null(cJSON_AddNumberToObject(doc, "under", -1e19));
	check_int("nan", NT_JSON_WRONGTYPE, 0);
	check_int("inf", NT_JSON_WRONGTYPE, 0);
	check_int("ninf", NT_JSON_WRONGTYPE, 0);
	check_int("under", NT_JSON_WRONGTYPE, 0);
}

Test(json, object_getter)
{
	const cJSON *o = NULL;
	int64_t a;

	doc_parse(sample);
	cr_assert_eq(nt_json_object(doc, "obj", &o), NT_JSON_OK);
	cr_assert_eq(nt_json_int(o, "a", &a), NT_JSON_OK);
	cr_assert_eq(a, 1);
	cr_assert_eq(nt_json_object(doc, "arr", &o), NT_JSON_WRONGTYPE);
	cr_assert_eq(nt_json_object(doc, "name", &o), NT_JSON_WRONGTYPE);
	cr_assert_eq(nt_json_object(doc, "nul", &o), NT_JSON_ABSENT);
	cr_assert_eq(nt_json_object(doc, "missing", &o), NT_JSON_ABSENT);
}

static void
check_print(const char *want)
{
	char *s = nt_json_print(doc);

	cr_assert_not_null(s);
	cr_assert_str_eq(s, want);
	cJSON_free(s);
}

Test(json, add_str_or_null)
{
	doc = cJSON_CreateObject();
	cr_assert_not_null(doc);
	cr_assert_eq(nt_json_add_str_or_null(doc, "a", "x\"y"), NT_OK);
	cr_assert_eq(nt_json_add_str_or_null(doc, "b", NULL), NT_OK);
	cr_assert_eq(nt_json_add_str_or_null(doc, "c", ""), NT_OK);
	check_print("{\"a\":\"x\\\"y\",\"b\":null,\"c\":\"\"}");
}

Test(json, add_time)
{
	doc = cJSON_CreateObject();
	cr_assert_not_null(doc);
	cr_assert_eq(nt_json_add_time(doc, "startedAt", 0), NT_OK);
	cr_assert_eq(
	        nt_json_add_time(doc, "createdAt", INT64_C(1775572205123456)),
	        NT_OK);
	check_print("{\"startedAt\":null,"
	            "\"createdAt\":\"2026-04-07T14:30:05.123Z\"}");
}

Test(json, adders_reject_non_objects)
{
	cJSON *arr = cJSON_CreateArray();

	cr_assert_not_null(arr);
	cr_assert_eq(nt_json_add_str_or_null(NULL, "a", "x"), NT_EINVAL);
	cr_assert_eq(nt_json_add_str_or_null(arr, "a", "x"), NT_EINVAL);
	cr_assert_eq(nt_json_add_time(arr, "a", 5), NT_EINVAL);
	cr_assert_eq(cJSON_GetArraySize(arr), 0);
	cJSON_Delete(arr);
	cr_assert_null(nt_json_print(NULL));
}

Test(json, print_round_trip)
{
	const char *s;
	char *text;
	cJSON *back;

	doc_parse("{ \"a\" : [1, 2, {\"b\": null}], \"c\": \"\\u00e9\" }");
	text = nt_json_print(doc);
	cr_assert_not_null(text);
	cr_assert_null(strchr(text, ' '), "not compact: %s", text);
	cr_assert_null(strchr(text, '\n'), "not compact: %s", text);
	back = cJSON_Parse(text);
	cr_assert_not_null(back);
	cr_assert(cJSON_Compare(doc, back, 1));
	cr_assert_eq(nt_json_string(back, "c", &s), NT_JSON_OK);
	cr_assert_str_eq(s, "\xc3\xa9");
	cJSON_Delete(back);
	cJSON_free(text);
}
