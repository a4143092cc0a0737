/*
 * tasks.h: the tasks of the catalogue (task_catalog.c), one file each,
 * and the defaults of the agent settings they read from the run's
 * "config" object (agent_config.c documents and sends them).
 */
#ifndef TASKS_H
#define TASKS_H

#include "task.h"

extern const struct task_def task_node_ping;
extern const struct task_def task_disk_wipe;
extern const struct task_def task_ceph_create_osd;

/*
 * ceph.create-osd. Config keys: cephConf, cephBootstrapKeyring,
 * cephVolume, ceph, osdStartCommand (strings), osdUpTimeoutMs,
 * cephCommandTimeoutMs (numbers), stateDir (ceph-volume logs there).
 */
#define OSD_DEFAULT_CONF               "/etc/ceph/ceph.conf"
#define OSD_DEFAULT_KEYRING            "/var/lib/ceph/bootstrap-osd/ceph.keyring"
#define OSD_DEFAULT_VOLUME             "ceph-volume" /* on PATH, else /usr/sbin */
#define OSD_DEFAULT_CEPH               "/usr/bin/ceph"
#define OSD_DEFAULT_START              "ceph-osd -i {id} --setuser ceph --setgroup ceph"
#define OSD_DEFAULT_UP_TIMEOUT_MS      (5 * 60 * 1000)
#define OSD_DEFAULT_COMMAND_TIMEOUT_MS (10 * 60 * 1000)

#endif
