/*
 * disk_probe.h: what the agent knows about a block device.
 *
 * Facts come from sysfs (size, read-only, rotational, model, vendor,
 * serial, holders, partitions), libblkid (signatures, partition tables,
 * BlueStore labels) and libmount (/proc/self/mountinfo, swaps). The same
 * probe feeds the inventory (GET /disks) and the refusals of destructive
 * tasks, so both always agree.
 */
#ifndef DISK_PROBE_H
#define DISK_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DISK_PATH_BUFLEN 256
#define DISK_MAX_SIGS    16
#define DISK_MAX_REASONS 16

struct disk_info {
	char path[DISK_PATH_BUFLEN]; /* /dev/sdb */
	char name[64];               /* sdb */
	uint64_t size_bytes;
	bool whole_disk; /* false for a partition */
	bool read_only;
	char interface[16]; /* sata, sas, nvme, virtio, scsi, loop, ... */
	char model[128];
	char vendor[64];
	char serial[128];
	bool has_partitions;
	bool mounted; /* itself or any partition */
	char mountpoint[DISK_PATH_BUFLEN];
	bool swap_in_use;
	bool has_holders; /* device-mapper, md, ... on it or its partitions */
	char holder[64];
	bool system_disk; /* holds /, /boot or /boot/efi */
	bool is_osd;      /* BlueStore label or ceph_bluestore signature */
	bool is_mon;
	bool has_filesystem;
	/* Signatures found ("ext4", "gpt", "LVM2_member", ...). */
	char signatures[DISK_MAX_SIGS][32];
	size_t n_signatures;
};

/*
 * Probes one device by path. NT_ENOTFOUND when it does not exist,
 * NT_EINVAL when it is not a block device (err says so).
 */
int disk_probe(const char *path, struct disk_info *out, char *err,
               size_t errlen);
/*
 * Whole disks of this machine (from /sys/block), sorted by name. Loop
 * devices are listed only when attached; ram and zram devices never.
 */
int disk_list(struct disk_info **items, size_t *n);
/* True when path matches one of the NULL-terminated fnmatch globs. */
bool disk_allowed(const char *path, const char *const *allow);
/*
 * Why the disk may not be used for a destructive task, as short phrases
 * ("mounted at /mnt", "has partitions", "outside allowed devices", ...).
 * Returns the count (0 = available).
 */
size_t disk_reject_reasons(const struct disk_info *d, const char *const *allow,
                           char reasons[DISK_MAX_REASONS][128]);

#endif
