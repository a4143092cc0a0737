/*
 * nt_json.h: typed access to cJSON objects.
 *
 * The getters tell "absent" from "present with the wrong type" so that
 * request validation can say exactly which field is wrong.
 */
#ifndef NT_JSON_H
#define NT_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

enum nt_json_get {
	NT_JSON_OK = 0,
	NT_JSON_ABSENT,    /* no such member (or JSON null when allowed) */
	NT_JSON_WRONGTYPE, /* present, other type */
};

/* *out points into obj; valid while obj lives. */
enum nt_json_get nt_json_string(const cJSON *obj, const char *name,
                                const char **out);
enum nt_json_get nt_json_bool(const cJSON *obj, const char *name, bool *out);
/* Accepts integral numbers only (no fraction), within int64 range. */
enum nt_json_get nt_json_int(const cJSON *obj, const char *name, int64_t *out);
enum nt_json_get nt_json_object(const cJSON *obj, const char *name,
                                const cJSON **out);

/* Adds name: string, or name: null when s is NULL. Returns NT_ENOMEM. */
int nt_json_add_str_or_null(cJSON *obj, const char *name, const char *s);
/* Adds name: RFC 3339 time, or null when us == 0. */
int nt_json_add_time(cJSON *obj, const char *name, int64_t us);
/* Serialises compactly; caller frees with cJSON_free. NULL on ENOMEM. */
char *nt_json_print(const cJSON *item);

#endif
