/*
 * wipe_common.h: holding a disk for a destructive task, the refusals, the
 * existing-data question and the quick wipe, shared by disk.wipe and
 * ceph.create-osd so both refuse and erase alike.
 *
 * The device is opened O_EXCL and flock'ed before anything is decided:
 * while it is held nothing can mount it, assemble it or claim it, so the
 * checks made under that claim still hold when the writes start.
 */
#ifndef WIPE_COMMON_H
#define WIPE_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "disk_probe.h"
#include "task.h"

#define WIPE_MIB   (1024ULL * 1024)
#define WIPE_EDGE  (10 * WIPE_MIB) /* quick: zeroed at each end */
#define WIPE_CHUNK (4 * WIPE_MIB)  /* one O_DIRECT write */
#define WIPE_ALIGN 4096

/* A device held for writing. */
struct wipe_dev {
	struct task_ctx *t;
	const char *what; /* error prefix: "wipe", "create-osd" */
	const char *path; /* as the operator named it */
	int fd;           /* O_RDWR | O_EXCL, flock'ed, held until close */
	int dfd;          /* O_DIRECT twin of fd for bulk writes and reads */
	char self[64];    /* /proc/self/fd/N: this very device, by fd */
	uint64_t size;
	struct disk_info info;
	unsigned char *buf; /* WIPE_CHUNK zeroes, WIPE_ALIGN-aligned */
	cJSON *removed;     /* signature names, each once */
	uint64_t written;
	bool cleanup; /* undoing a canceled run's work: a stop stops nothing */
	char *err;
	size_t errlen;
};

void wipe_dev_init(struct wipe_dev *w, struct task_ctx *t, const char *what,
                   const char *path, char *err, size_t errlen);
/* Releases the device (and the claim) and what was allocated. */
void wipe_dev_close(struct wipe_dev *w);

/* Sets the run's error ("wipe /dev/sdb: ...") and logs it. */
enum task_outcome wipe_fail(struct wipe_dev *w, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
/* A stop came: the run's error says when; TASK_CANCELED. */
enum task_outcome wipe_stopped(struct wipe_dev *w, const char *when);
/* "6.0 GiB" */
void wipe_human(uint64_t n, char *out, size_t len);

/*
 * The refusals: opens and claims the device (not a block device,
 * outside allowed devices, busy, locked by a running OSD, ...), then
 * probes it under the claim (partition, system disk, read-only,
 * mounted, swap, holders) and logs what it found.
 */
enum task_outcome wipe_open(struct wipe_dev *w);
enum task_outcome wipe_check(struct wipe_dev *w);
/* Any signature or partition table found by wipe_check. */
bool wipe_has_data(const struct wipe_dev *w);
/*
 * With existing data: asks prompt (yes/no) unless confirm. "no" ends
 * the run canceled, "declined by operator".
 */
enum task_outcome wipe_confirm(struct wipe_dev *w, const char *prompt,
                               bool confirm);

/* Buffer and signature list for the writes. */
enum task_outcome wipe_prepare(struct wipe_dev *w);
/* Erases every signature (partitions' first) and drops the partitions. */
enum task_outcome wipe_erase(struct wipe_dev *w);
/* Zeroes [off, off + len) with direct writes; stop-aware. */
enum task_outcome wipe_zero(struct wipe_dev *w, uint64_t off, uint64_t len);
/* Zeroes the first and last WIPE_EDGE. */
enum task_outcome wipe_edges(struct wipe_dev *w);
/* Flushes; nothing libblkid recognises may be left. */
enum task_outcome wipe_verify(struct wipe_dev *w);
/* The quick wipe: erase, edges, verify (wipe_prepare first). */
enum task_outcome wipe_quick(struct wipe_dev *w);

int wipe_pwrite_all(int fd, const unsigned char *p, size_t n, uint64_t off);

#endif
