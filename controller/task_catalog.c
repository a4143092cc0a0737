/*
 * task_catalog.c: which tasks exist and what params they take.
 *
 * The controller only checks shape here (names, types, value sets); the
 * agent decides whether the device may really be touched.
 */
#include <stdio.h>
#include <string.h>

#include "api_json.h"
#include "nt_err.h"
#include "nt_json.h"
#include "task_catalog.h"

struct task_spec {
	const char *name;
	const char *const *fields; /* NULL-terminated */
	bool device;               /* needs devicePath xor diskId */
};

static const char *const task_ping_fields[] = {NULL};
static const char *const task_wipe_fields[] = {"devicePath", "diskId", "mode",
                                               "confirm", NULL};
static const char *const task_osd_fields[] = {"devicePath", "diskId",
                                              "deviceClass", "confirm", NULL};

static const struct task_spec task_specs[] = {
        {"node.ping", task_ping_fields, false},
        {"disk.wipe", task_wipe_fields, true},
        {"ceph.create-osd", task_osd_fields, true},
};

#define TASK_NSPECS (sizeof(task_specs) / sizeof(task_specs[0]))

static const struct task_spec *
task_spec_find(const char *name)
{
	for (size_t i = 0; i < TASK_NSPECS; i++)
		if (strcmp(task_specs[i].name, name) == 0)
			return &task_specs[i];
	return NULL;
}

bool
task_catalog_known(const char *name)
{
	return name != NULL && task_spec_find(name) != NULL;
}

static bool
task_path_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("/_.:+@,=-", c) != NULL;
}

bool
task_catalog_device_path_ok(const char *path)
{
	size_t len = strlen(path);
	const char *seg;

	if (len <= 5 || len >= STORE_PATH_BUFLEN ||
	    strncmp(path, "/dev/", 5) != 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!task_path_char(path[i]))
			return false;
	/* Every segment after /dev/ is a real name: no "", ".", "..". */
	for (seg = path + 5;;) {
		size_t n = strcspn(seg, "/");
		if (n == 0 || (n == 1 && seg[0] == '.') ||
		    (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return false;
		if (seg[n] == '\0')
			return true;
		seg += n + 1;
	}
}

static bool
task_device_class_ok(const char *s)
{
	size_t len = strlen(s);

	if (len < 1 || len > 32)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

static bool
task_mode_ok(const char *s)
{
	return strcmp(s, "quick") == 0 || strcmp(s, "full") == 0 ||
	       strcmp(s, "discard") == 0;
}

/* Reads an optional string; false (err set) when present but wrong. */
static bool
task_get_string(const cJSON *params, const char *name, const char **out,
                char *err, size_t errlen)
{
	*out = NULL;
	if (nt_json_string(params, name, out) == NT_JSON_WRONGTYPE) {
		snprintf(err, errlen, "params.%s must be a string", name);
		return false;
	}
	return true;
}

static int
task_check_device(const cJSON *params, struct task_request *out, char *err,
                  size_t errlen)
{
	const char *path, *disk;

	if (!task_get_string(params, "devicePath", &path, err, errlen) ||
	    !task_get_string(params, "diskId", &disk, err, errlen))
		return NT_EINVAL;
	if ((path == NULL) == (disk == NULL)) {
		snprintf(err, errlen,
		         "params must give exactly one of devicePath and "
		         "diskId");
		return NT_EINVAL;
	}
	if (path != NULL) {
		if (!task_catalog_device_path_ok(path)) {
			snprintf(err, errlen,
			         "params.devicePath must be an absolute path "
			         "under /dev/");
			return NT_EINVAL;
		}
		snprintf(out->device_path, sizeof(out->device_path), "%s",
		         path);
	} else if (!nt_uuid_parse(disk, out->disk_id)) {
		snprintf(err, errlen, "params.diskId must be a UUID");
		return NT_EINVAL;
	}
	return NT_OK;
}

/* mode, deviceClass, confirm: unknown fields are already refused. */
static int
task_check_options(const cJSON *params, char *err, size_t errlen)
{
	const char *mode, *dclass;

	if (!task_get_string(params, "mode", &mode, err, errlen) ||
	    !task_get_string(params, "deviceClass", &dclass, err, errlen))
		return NT_EINVAL;
	if (mode != NULL && !task_mode_ok(mode)) {
		snprintf(err, errlen,
		         "params.mode must be one of quick, full, discard");
		return NT_EINVAL;
	}
	if (dclass != NULL && !task_device_class_ok(dclass)) {
		snprintf(err, errlen,
		         "params.deviceClass must be 1 to 32 characters of "
		         "a-z, 0-9, '_' and '-'");
		return NT_EINVAL;
	}
	if (nt_json_bool(params, "confirm", NULL) == NT_JSON_WRONGTYPE) {
		snprintf(err, errlen, "params.confirm must be a boolean");
		return NT_EINVAL;
	}
	return NT_OK;
}

int
task_catalog_check(const char *task_name, const cJSON *params,
                   struct task_request *out, char *err, size_t errlen)
{
	const struct task_spec *t;
	int rv;

	memset(out, 0, sizeof(*out));
	if (task_name == NULL || (t = task_spec_find(task_name)) == NULL) {
		snprintf(err, errlen,
		         "unknown taskName '%.64s' (known: node.ping, "
		         "disk.wipe, ceph.create-osd)",
		         task_name ? task_name : "");
		return NT_EINVAL;
	}
	out->task_name = t->name;
	if (params == NULL && !t->device)
		return NT_OK;
	if (params == NULL) {
		snprintf(err, errlen,
		         "params must give exactly one of devicePath and "
		         "diskId");
		return NT_EINVAL;
	}
	if (!cJSON_IsObject(params)) {
		snprintf(err, errlen, "params must be an object");
		return NT_EINVAL;
	}
	rv = api_json_check_fields(params, t->fields, "params.", err, errlen);
	if (rv == NT_OK)
		rv = task_check_options(params, err, errlen);
	if (rv == NT_OK && t->device)
		rv = task_check_device(params, out, err, errlen);
	return rv;
}

int
task_catalog_resolve_disk(struct task_request *out,
                          const struct store_disk *disk, const char *node_id,
                          char *err, size_t errlen)
{
	if (strcmp(disk->node_id, node_id) != 0) {
		snprintf(err, errlen, "disk %s is on node %s, not on node %s",
		         disk->id, disk->node_id, node_id);
		return NT_EINVAL;
	}
	if (!task_catalog_device_path_ok(disk->device_path)) {
		snprintf(err, errlen, "disk %s has no usable device path",
		         disk->id);
		return NT_EINVAL;
	}
	snprintf(out->device_path, sizeof(out->device_path), "%s",
	         disk->device_path);
	return NT_OK;
}
