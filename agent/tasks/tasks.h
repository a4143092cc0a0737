/*
 * tasks.h: the tasks of the catalogue (task_catalog.c), one file each.
 */
#ifndef TASKS_H
#define TASKS_H

#include "task.h"

extern const struct task_def task_node_ping;
extern const struct task_def task_disk_wipe;

#endif
