/*
 * task_catalog.h: the tasks a run may name and the params each accepts
 * (API.md, "Task catalogue"), checked before a run is stored.
 *
 * Validation is pure: task_catalog_check() looks at the JSON alone. A
 * diskId is resolved afterwards, by the caller fetching the disk and
 * handing it to task_catalog_resolve_disk(), so the rules stay
 * unit-testable without a database.
 */
#ifndef TASK_CATALOG_H
#define TASK_CATALOG_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "nt_uuid.h"
#include "store.h"

struct task_request {
	const char *task_name; /* the catalogue's own spelling */
	/* the device the task works on: at most one of these is set */
	char device_path[STORE_PATH_BUFLEN]; /* "" when none */
	char disk_id[NT_UUID_BUFLEN];        /* "" when none */
};

/* True when name is a task in the catalogue. */
bool task_catalog_known(const char *name);
/*
 * Checks params (NULL means {}) against task_name's rules. NT_EINVAL with
 * a sentence naming the field in err when the task is unknown, a field is
 * unknown, repeated or of the wrong type, or a value is out of range.
 */
int task_catalog_check(const char *task_name, const cJSON *params,
                       struct task_request *out, char *err, size_t errlen);
/*
 * Fills out->device_path from disk, the one out->disk_id names. NT_EINVAL
 * (err says why) when the disk belongs to another node than node_id.
 */
int task_catalog_resolve_disk(struct task_request *out,
                              const struct store_disk *disk,
                              const char *node_id, char *err, size_t errlen);
/*
 * Validates a device path: absolute, under /dev/, no "." or ".."
 * segments, a conservative character set, shorter than STORE_PATH_BUFLEN.
 */
bool task_catalog_device_path_ok(const char *path);

#endif
