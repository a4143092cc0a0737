/*
 * nt_json.c: typed getters and null-aware adders over cJSON.
 *
 * JSON null counts as absent: the API writes null for "not set", so a
 * client echoing a document back must not be told its nulls are wrong.
 */
#include "nt_json.h"
#include "nt_err.h"
#include "nt_time.h"

#include <stddef.h>

/* The member, or NULL when obj is not an object, lacks it or it is null. */
static const cJSON *
nt_json_member(const cJSON *obj, const char *name)
{
	const cJSON *item;

	if (!cJSON_IsObject(obj) || name == NULL) {
		return NULL;
	}
	item = cJSON_GetObjectItemCaseSensitive(obj, name);
	if (item == NULL || cJSON_IsNull(item)) {
		return NULL;
	}
	return item;
}

enum nt_json_get
nt_json_string(const cJSON *obj, const char *name, const char **out)
{
	const cJSON *item = nt_json_member(obj, name);

	if (item == NULL) {
		return NT_JSON_ABSENT;
	}
	if (!cJSON_IsString(item) || item->valuestring == NULL) {
		return NT_JSON_WRONGTYPE;
	}
	if (out != NULL) {
		*out = item->valuestring;
	}
	return NT_JSON_OK;
}

enum nt_json_get
nt_json_bool(const cJSON *obj, const char *name, bool *out)
{
	const cJSON *item = nt_json_member(obj, name);

	if (item == NULL) {
		return NT_JSON_ABSENT;
	}
	if (!cJSON_IsBool(item)) {
		return NT_JSON_WRONGTYPE;
	}
	if (out != NULL) {
		*out = cJSON_IsTrue(item);
	}
	return NT_JSON_OK;
}

/*
 * cJSON keeps numbers as doubles, so integers beyond 2^53 arrive rounded;
 * what can be checked is that the double is integral and fits int64.
 */
enum nt_json_get
nt_json_int(const cJSON *obj, const char *name, int64_t *out)
{
	const cJSON *item = nt_json_member(obj, name);
	double d;

	if (item == NULL) {
		return NT_JSON_ABSENT;
	}
	if (!cJSON_IsNumber(item)) {
		return NT_JSON_WRONGTYPE;
	}
	d = item->valuedouble;
	/* NaN fails both comparisons; 2^63 itself does not fit. */
	if (!(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) {
		return NT_JSON_WRONGTYPE;
	}
	if ((double)(int64_t)d != d) {
		return NT_JSON_WRONGTYPE;
	}
	if (out != NULL) {
		*out = (int64_t)d;
	}
	return NT_JSON_OK;
}

enum nt_json_get
nt_json_object(const cJSON *obj, const char *name, const cJSON **out)
{
	const cJSON *item = nt_json_member(obj, name);

	if (item == NULL) {
		return NT_JSON_ABSENT;
	}
	if (!cJSON_IsObject(item)) {
		return NT_JSON_WRONGTYPE;
	}
	if (out != NULL) {
		*out = item;
	}
	return NT_JSON_OK;
}

/* Adds item (NULL meaning its creation failed), freeing it on failure. */
static int
nt_json_add(cJSON *obj, const char *name, cJSON *item)
{
	if (item == NULL) {
		return NT_ENOMEM;
	}
	if (!cJSON_AddItemToObject(obj, name, item)) {
		cJSON_Delete(item);
		return NT_ENOMEM;
	}
	return NT_OK;
}

int
nt_json_add_str_or_null(cJSON *obj, const char *name, const char *s)
{
	if (!cJSON_IsObject(obj) || name == NULL) {
		return NT_EINVAL;
	}
	return nt_json_add(obj, name,
	                   s == NULL ? cJSON_CreateNull()
	                             : cJSON_CreateString(s));
}

int
nt_json_add_time(cJSON *obj, const char *name, int64_t us)
{
	char buf[NT_TIME_BUFLEN];

	if (us == 0) {
		return nt_json_add_str_or_null(obj, name, NULL);
	}
	nt_time_format(us, buf);
	return nt_json_add_str_or_null(obj, name, buf);
}

char *
nt_json_print(const cJSON *item)
{
	if (item == NULL) {
		return NULL;
	}
	return cJSON_PrintUnformatted(item);
}
