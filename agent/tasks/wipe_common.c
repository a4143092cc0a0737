/*
 * wipe_common.c: the part of a wipe that disk.wipe and ceph.create-osd
 * share (wipe_common.h): claiming the device, the refusals, the question
 * and the quick wipe.
 *
 * Every refusal happens before the first write. Signatures go first, so
 * a wipe stopped halfway leaves nothing recognisable behind.
 *
 * allowDevices: an empty list restricts nothing (disk_allowed); the
 * system disk is refused whatever the list says.
 */
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <linux/blkpg.h>
#include <linux/fs.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <blkid/blkid.h>

#include "nt_err.h"
#include "wipe_common.h"

#define WIPE_MAX_PARTS  256
#define WIPE_MAX_ROUNDS 256 /* signatures erased per region, at most */
#define WIPE_LOCK_TRIES 30  /* 100 ms apart */

/* A region to probe: the whole disk or one partition of its table. */
struct wipe_region {
	uint64_t off, size;
	int partno; /* 0: the whole disk */
};

void
wipe_dev_init(struct wipe_dev *w, struct task_ctx *t, const char *what,
              const char *path, char *err, size_t errlen)
{
	memset(w, 0, sizeof(*w));
	w->t = t;
	w->what = what;
	w->path = path;
	w->fd = w->dfd = -1;
	w->err = err;
	w->errlen = errlen;
}

void
wipe_dev_close(struct wipe_dev *w)
{
	if (w->dfd >= 0)
		close(w->dfd);
	if (w->fd >= 0)
		close(w->fd); /* releases the exclusive claim */
	w->fd = w->dfd = -1;
	cJSON_Delete(w->removed);
	w->removed = NULL;
	free(w->buf);
	w->buf = NULL;
}

bool
wipe_has_data(const struct wipe_dev *w)
{
	return w->info.n_signatures > 0 || w->info.has_partitions;
}

enum task_outcome
wipe_prepare(struct wipe_dev *w)
{
	if (w->buf == NULL &&
	    posix_memalign((void **)&w->buf, WIPE_ALIGN, WIPE_CHUNK) != 0) {
		w->buf = NULL;
		return wipe_fail(w, "out of memory");
	}
	memset(w->buf, 0, WIPE_CHUNK);
	if (w->removed == NULL && (w->removed = cJSON_CreateArray()) == NULL)
		return wipe_fail(w, "out of memory");
	return TASK_COMPLETED;
}

void
wipe_human(uint64_t n, char *out, size_t len)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
	double v = (double)n;
	size_t u = 0;

	if (n < 1024) {
		snprintf(out, len, "%" PRIu64 " B", n);
		return;
	}
	v /= 1024;
	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(out, len, "%.1f %s", v, units[u]);
}

/* Sets the run's error ("wipe /dev/sdb: ...") and logs it. */
enum task_outcome
wipe_fail(struct wipe_dev *w, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(w->err, w->errlen, "%s %s: %s", w->what, w->path, msg);
	task_log(w->t, NT_LOG_ERROR, "%s", w->err);
	return TASK_FAILED;
}

enum task_outcome
wipe_stopped(struct wipe_dev *w, const char *when)
{
	snprintf(w->err, w->errlen, "%s %s: stopped %s", w->what, w->path,
	         when);
	task_log(w->t, NT_LOG_WARN, "%s", w->err);
	return TASK_CANCELED;
}

/* Why an exclusive open failed, in the words of the probe. */
static enum task_outcome
wipe_explain_busy(struct wipe_dev *w, int e)
{
	struct disk_info *d = &w->info;
	char perr[256];

	if (disk_probe(w->path, d, perr, sizeof(perr)) == NT_OK) {
		if (d->system_disk)
			return wipe_fail(w, "system disk (holds /, /boot or "
			                    "/boot/efi)");
		if (d->mounted)
			return wipe_fail(w, "device is mounted at %s",
			                 d->mountpoint);
		if (d->swap_in_use)
			return wipe_fail(w, "device is in use as swap");
		if (d->has_holders)
			return wipe_fail(w, "device is held by %s", d->holder);
		if (d->read_only && (e == EROFS || e == EACCES || e == EPERM))
			return wipe_fail(w, "device is read-only");
	}
	if (e == EBUSY)
		return wipe_fail(w, "device is busy (another program has it "
		                    "open exclusively)");
	return wipe_fail(w, "cannot open for writing: %s", strerror(e));
}

/*
 * O_EXCL keeps out mounts, swap and device-mapper; a raw BlueStore OSD
 * only takes flock(2) on its device, so take that lock too (it also
 * keeps udev from probing mid-wipe). udev holds it shared for a moment
 * while probing: try for a few seconds before calling it taken.
 */
static bool
wipe_lock(struct wipe_dev *w)
{
	struct timespec ts = {0, 100 * 1000 * 1000};
	int i;

	for (i = 0; i < WIPE_LOCK_TRIES; i++) {
		if (flock(w->fd, LOCK_EX | LOCK_NB) == 0)
			return true;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return false;
		if (task_stopping() && !w->cleanup)
			return false;
		nanosleep(&ts, NULL);
	}
	return false;
}

enum task_outcome
wipe_open(struct wipe_dev *w)
{
	struct stat st;

	if (stat(w->path, &st) != 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return wipe_fail(w, "no such device");
		return wipe_fail(w, "%s", strerror(errno));
	}
	if (!S_ISBLK(st.st_mode))
		return wipe_fail(w, "not a block device");
	/* Never even open what we may not touch. */
	if (!disk_allowed(w->path, w->t->allow))
		return wipe_fail(w, "outside allowed devices");
	w->fd = open(w->path, O_RDWR | O_EXCL | O_CLOEXEC);
	if (w->fd < 0)
		return wipe_explain_busy(w, errno);
	if (!wipe_lock(w))
		return wipe_fail(w, "device is locked by another program "
		                    "(a running OSD?)");
	snprintf(w->self, sizeof(w->self), "/proc/self/fd/%d", w->fd);
	/* Reopen the held device itself, not whatever the path is now. */
	w->dfd = open(w->self, O_RDWR | O_DIRECT | O_CLOEXEC);
	if (w->dfd < 0)
		return wipe_fail(w, "cannot open for direct I/O: %s",
		                 strerror(errno));
	if (ioctl(w->fd, BLKGETSIZE64, &w->size) != 0)
		return wipe_fail(w, "cannot read the device size: %s",
		                 strerror(errno));
	if (w->size == 0)
		return wipe_fail(w, "device has size 0 (no medium?)");
	if (w->size % 512 != 0)
		return wipe_fail(w,
		                 "device size %" PRIu64 " is not a "
		                 "multiple of 512",
		                 w->size);
	return TASK_COMPLETED;
}

/* The refusals, decided on facts probed while we hold the device. */
enum task_outcome
wipe_check(struct wipe_dev *w)
{
	struct disk_info *d = &w->info;
	char perr[256], sz[32];
	size_t i;
	int rc;

	rc = disk_probe(w->self, d, perr, sizeof(perr));
	if (rc != NT_OK)
		return wipe_fail(w, "cannot probe the device: %s", perr);
	if (!d->whole_disk)
		return wipe_fail(w, "not a whole disk (%s is a partition)",
		                 d->name);
	if (d->system_disk)
		return wipe_fail(w, "system disk (holds /, /boot or "
		                    "/boot/efi)");
	if (!disk_allowed(d->path, w->t->allow) &&
	    !disk_allowed(w->path, w->t->allow))
		return wipe_fail(w, "outside allowed devices");
	if (d->read_only)
		return wipe_fail(w, "device is read-only");
	if (d->mounted)
		return wipe_fail(w, "device is mounted at %s", d->mountpoint);
	if (d->swap_in_use)
		return wipe_fail(w, "device is in use as swap");
	if (d->has_holders)
		return wipe_fail(w, "device is held by %s", d->holder);
	wipe_human(w->size, sz, sizeof(sz));
	task_log(w->t, NT_LOG_INFO,
	         "%s%s%s: %s, interface %s%s%s; not mounted, no swap, no "
	         "holders",
	         w->path, strcmp(w->path, d->path) != 0 ? " is " : "",
	         strcmp(w->path, d->path) != 0 ? d->path : "", sz, d->interface,
	         d->model[0] != '\0' ? ", model " : "", d->model);
	for (i = 0; i < d->n_signatures; i++)
		task_log(w->t, NT_LOG_INFO, "found signature %s",
		         d->signatures[i]);
	if (d->has_partitions)
		task_log(w->t, NT_LOG_INFO, "found partitions");
	if (d->n_signatures == 0 && !d->has_partitions)
		task_log(w->t, NT_LOG_INFO,
		         "no signatures found: the disk "
		         "looks blank");
	return TASK_COMPLETED;
}

enum task_outcome
wipe_confirm(struct wipe_dev *w, const char *prompt, bool confirm)
{
	static const char *const options[] = {"yes", "no"};
	char answer[16];
	int rc;

	if (!wipe_has_data(w))
		return TASK_COMPLETED;
	if (confirm) {
		task_log(w->t, NT_LOG_INFO,
		         "confirm is set: wiping existing "
		         "data without asking");
		return TASK_COMPLETED;
	}
	task_log(w->t, NT_LOG_INFO, "asking the operator");
	rc = task_ask(w->t, prompt, options, 2, answer, sizeof(answer));
	if (rc == NT_ECLOSED)
		return wipe_stopped(w, "while waiting for an answer");
	if (rc != NT_OK)
		return wipe_fail(w, "asking the operator failed: %s",
		                 nt_strerror(rc));
	task_log(w->t, NT_LOG_INFO, "operator answered %s", answer);
	if (strcmp(answer, "yes") != 0) {
		snprintf(w->err, w->errlen, "declined by operator");
		return TASK_CANCELED;
	}
	return TASK_COMPLETED;
}

static void
wipe_note_removed(struct wipe_dev *w, const char *name)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, w->removed)
	{
		if (cJSON_IsString(it) && strcmp(it->valuestring, name) == 0)
			return;
	}
	cJSON_AddItemToArray(w->removed, cJSON_CreateString(name));
}

static void
wipe_probe_flags(blkid_probe pr)
{
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE |
	                                              BLKID_SUBLKS_MAGIC |
	                                              BLKID_SUBLKS_BADCSUM);
	blkid_probe_enable_partitions(pr, 1);
	blkid_probe_set_partitions_flags(pr, BLKID_PARTS_MAGIC |
	                                             BLKID_PARTS_FORCE_GPT);
}

/* Name and magic offset of what the probe just found. */
static void
wipe_found(blkid_probe pr, const char **name, const char **off)
{
	*name = "unknown";
	*off = "?";
	if (blkid_probe_lookup_value(pr, "TYPE", name, NULL) == 0)
		blkid_probe_lookup_value(pr, "SBMAGIC_OFFSET", off, NULL);
	else if (blkid_probe_lookup_value(pr, "PTTYPE", name, NULL) == 0)
		blkid_probe_lookup_value(pr, "PTMAGIC_OFFSET", off, NULL);
}

/* Erases every signature in one region, as wipefs -a does. */
static enum task_outcome
wipe_erase_region(struct wipe_dev *w, const struct wipe_region *r)
{
	const char *name, *off;
	enum task_outcome o = TASK_COMPLETED;
	blkid_probe pr;
	char where[32] = "";
	int rounds = 0;

	pr = blkid_new_probe();
	if (pr == NULL)
		return wipe_fail(w, "out of memory");
	if (blkid_probe_set_device(pr, w->fd, (blkid_loff_t)r->off,
	                           (blkid_loff_t)r->size) != 0) {
		o = wipe_fail(w, "cannot probe the device");
		goto out;
	}
	wipe_probe_flags(pr);
	if (r->partno > 0)
		snprintf(where, sizeof(where), " in partition %d", r->partno);
	while (blkid_do_probe(pr) == 0) {
		wipe_found(pr, &name, &off);
		if (++rounds > WIPE_MAX_ROUNDS) {
			o = wipe_fail(w,
			              "signature %s at offset %s%s keeps "
			              "coming back",
			              name, off, where);
			break;
		}
		if (blkid_do_wipe(pr, 0) != 0) {
			o = wipe_fail(w, "erasing %s at offset %s%s: %s", name,
			              off, where, strerror(errno));
			break;
		}
		task_log(w->t, NT_LOG_INFO,
		         "erased %s signature at offset "
		         "%s%s",
		         name, off, where);
		wipe_note_removed(w, name);
	}
out:
	blkid_free_probe(pr);
	return o;
}

/* The partitions of the disk's table, read before anything is erased. */
static size_t
wipe_partitions(struct wipe_dev *w, struct wipe_region *v, size_t max)
{
	blkid_partlist ls;
	blkid_partition p;
	blkid_probe pr;
	size_t n = 0;
	int i, cnt;

	pr = blkid_new_probe();
	if (pr == NULL)
		return 0;
	if (blkid_probe_set_device(pr, w->fd, 0, 0) == 0) {
		blkid_probe_enable_superblocks(pr, 0);
		blkid_probe_enable_partitions(pr, 1);
		blkid_probe_set_partitions_flags(pr, BLKID_PARTS_FORCE_GPT);
		ls = blkid_probe_get_partitions(pr);
		cnt = ls != NULL ? blkid_partlist_numof_partitions(ls) : 0;
		for (i = 0; i < cnt && n < max; i++) {
			p = blkid_partlist_get_partition(ls, i);
			if (p == NULL || blkid_partition_get_size(p) <= 0 ||
			    blkid_partition_get_start(p) < 0)
				continue;
			v[n].off = (uint64_t)blkid_partition_get_start(p) * 512;
			v[n].size = (uint64_t)blkid_partition_get_size(p) * 512;
			v[n].partno = blkid_partition_get_partno(p);
			if (v[n].off + v[n].size <= w->size)
				n++;
		}
	}
	blkid_free_probe(pr);
	return n;
}

/* Partitions' contents first (their table locates them), then the disk. */
static enum task_outcome
wipe_erase_signatures(struct wipe_dev *w)
{
	struct wipe_region *parts, whole = {0, 0, 0};
	enum task_outcome o = TASK_COMPLETED;
	size_t n, i;

	parts = calloc(WIPE_MAX_PARTS, sizeof(*parts));
	if (parts == NULL)
		return wipe_fail(w, "out of memory");
	task_log(w->t, NT_LOG_INFO, "erasing signatures");
	n = wipe_partitions(w, parts, WIPE_MAX_PARTS);
	for (i = 0; i < n && o == TASK_COMPLETED; i++)
		o = wipe_erase_region(w, &parts[i]);
	if (o == TASK_COMPLETED)
		o = wipe_erase_region(w, &whole);
	free(parts);
	if (o == TASK_COMPLETED && cJSON_GetArraySize(w->removed) == 0)
		task_log(w->t, NT_LOG_INFO, "no signature to erase");
	return o;
}

/* Numbers of the partitions the kernel still lists for the disk. */
static size_t
wipe_kernel_parts(struct wipe_dev *w, int *v, size_t max)
{
	char dir[PATH_MAX], sub[PATH_MAX + 300], num[16];
	struct dirent *e;
	size_t n = 0;
	ssize_t r;
	DIR *d;
	int fd;

	snprintf(dir, sizeof(dir), "/sys/class/block/%s", w->info.name);
	d = opendir(dir);
	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL && n < max) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(sub, sizeof(sub), "%s/%s/partition", dir, e->d_name);
		fd = open(sub, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		r = read(fd, num, sizeof(num) - 1);
		close(fd);
		if (r <= 0)
			continue;
		num[r] = '\0';
		v[n] = atoi(num);
		if (v[n] > 0)
			n++;
	}
	closedir(d);
	return n;
}

/*
 * Makes the kernel forget the partitions. A re-read finds the erased
 * table empty; where a re-read is not possible (a loop device without
 * partscan) each partition is deleted by number.
 */
static void
wipe_drop_partitions(struct wipe_dev *w)
{
	struct blkpg_partition part;
	struct blkpg_ioctl_arg arg;
	int nums[WIPE_MAX_PARTS];
	size_t n, i;

	n = wipe_kernel_parts(w, nums, WIPE_MAX_PARTS);
	if (ioctl(w->fd, BLKRRPART, NULL) == 0) {
		task_log(w->t, NT_LOG_INFO,
		         "kernel re-read the partition "
		         "table");
	} else if (n > 0) {
		task_log(w->t, NT_LOG_INFO,
		         "partition table re-read not "
		         "possible (%s): deleting %zu "
		         "partition(s) one by one",
		         strerror(errno), n);
	}
	n = wipe_kernel_parts(w, nums, WIPE_MAX_PARTS);
	for (i = 0; i < n; i++) {
		memset(&part, 0, sizeof(part));
		part.pno = nums[i];
		arg = (struct blkpg_ioctl_arg){.op = BLKPG_DEL_PARTITION,
		                               .datalen = sizeof(part),
		                               .data = &part};
		if (ioctl(w->fd, BLKPG, &arg) != 0)
			task_log(w->t, NT_LOG_WARN,
			         "kernel keeps partition "
			         "%d: %s",
			         nums[i], strerror(errno));
		else
			task_log(w->t, NT_LOG_INFO,
			         "kernel dropped partition "
			         "%d",
			         nums[i]);
	}
}

int
wipe_pwrite_all(int fd, const unsigned char *p, size_t n, uint64_t off)
{
	ssize_t r;

	while (n > 0) {
		r = pwrite(fd, p, n, (off_t)off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (r == 0) {
			errno = ENOSPC;
			return -1;
		}
		p += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

/* Zeroes [off, off + len) with direct writes, no progress. */
enum task_outcome
wipe_zero(struct wipe_dev *w, uint64_t off, uint64_t len)
{
	uint64_t end = off + len, n;

	while (off < end) {
		if (task_stopping() && !w->cleanup)
			return wipe_stopped(w, "while zeroing");
		n = end - off < WIPE_CHUNK ? end - off : WIPE_CHUNK;
		if (wipe_pwrite_all(w->dfd, w->buf, (size_t)n, off) != 0)
			return wipe_fail(w, "write at offset %" PRIu64 ": %s",
			                 off, strerror(errno));
		off += n;
		w->written += n;
	}
	return TASK_COMPLETED;
}

enum task_outcome
wipe_edges(struct wipe_dev *w)
{
	char sz[32];
	enum task_outcome o;

	wipe_human(WIPE_EDGE, sz, sizeof(sz));
	if (w->size <= 2 * WIPE_EDGE) {
		task_log(w->t, NT_LOG_INFO, "zeroing the whole device");
		return wipe_zero(w, 0, w->size);
	}
	task_log(w->t, NT_LOG_INFO, "zeroing the first %s", sz);
	o = wipe_zero(w, 0, WIPE_EDGE);
	if (o != TASK_COMPLETED)
		return o;
	task_log(w->t, NT_LOG_INFO, "zeroing the last %s", sz);
	return wipe_zero(w, w->size - WIPE_EDGE, WIPE_EDGE);
}

/* Nothing libblkid recognises may be left, and the cache is dropped. */
enum task_outcome
wipe_verify(struct wipe_dev *w)
{
	const char *name, *off;
	enum task_outcome o = TASK_COMPLETED;
	blkid_probe pr;

	if (fsync(w->dfd) != 0 || fsync(w->fd) != 0)
		return wipe_fail(w, "flush: %s", strerror(errno));
	ioctl(w->fd, BLKFLSBUF, 0); /* re-probe the disk, not the cache */
	pr = blkid_new_probe();
	if (pr == NULL)
		return wipe_fail(w, "out of memory");
	if (blkid_probe_set_device(pr, w->fd, 0, 0) != 0) {
		o = wipe_fail(w, "verify: cannot probe the device");
	} else {
		wipe_probe_flags(pr);
		if (blkid_do_probe(pr) == 0) {
			wipe_found(pr, &name, &off);
			o = wipe_fail(w,
			              "verify: %s signature still present "
			              "at offset %s",
			              name, off);
		} else {
			task_log(w->t, NT_LOG_INFO,
			         "verified: no signature "
			         "left on the device");
		}
	}
	blkid_free_probe(pr);
	return o;
}

enum task_outcome
wipe_erase(struct wipe_dev *w)
{
	enum task_outcome o;

	if (task_stopping() && !w->cleanup)
		return wipe_stopped(w, "before writing anything");
	o = wipe_erase_signatures(w);
	if (o != TASK_COMPLETED)
		return o;
	wipe_drop_partitions(w);
	return TASK_COMPLETED;
}

enum task_outcome
wipe_quick(struct wipe_dev *w)
{
	enum task_outcome o;

	if ((o = wipe_erase(w)) != TASK_COMPLETED ||
	    (o = wipe_edges(w)) != TASK_COMPLETED)
		return o;
	return wipe_verify(w);
}
