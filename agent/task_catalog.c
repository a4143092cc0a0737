/*
 * task_catalog.c: the tasks an agent can run, by name.
 */
#include <string.h>

#include "task.h"
#include "tasks.h"

static const struct task_def *const task_catalog[] = {
        &task_node_ping,
        &task_disk_wipe,
        &task_ceph_create_osd,
};

const struct task_def *
task_find(const char *name)
{
	size_t i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < sizeof(task_catalog) / sizeof(task_catalog[0]); i++) {
		if (strcmp(task_catalog[i]->name, name) == 0)
			return task_catalog[i];
	}
	return NULL;
}
