/*
 * task_wipe.c: disk.wipe, erasing a disk so nothing on it is recognised
 * again (quick), so every byte reads zero (full), or so the device drops
 * its blocks (discard).
 *
 * Claiming the device, the refusals, the question and the quick wipe
 * are in wipe_common.c (ceph.create-osd uses them too); the full and
 * discard modes and their verification are here.
 */
#include <sys/ioctl.h>
#include <sys/random.h>

#include <linux/fs.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "nt_err.h"
#include "nt_json.h"
#include "nt_time.h"
#include "task.h"
#include "tasks.h"
#include "wipe_common.h"

#define WIPE_DISCARD_STEP (1024 * WIPE_MIB) /* stop is checked between */
#define WIPE_SAMPLES      64                /* read back after full */
#define WIPE_SAMPLE_LEN   WIPE_MIB

enum wipe_mode {
	WIPE_QUICK,
	WIPE_FULL,
	WIPE_DISCARD,
};

static const char *const wipe_mode_names[] = {"quick", "full", "discard"};

struct wipe {
	struct wipe_dev d;
	enum wipe_mode mode;
	bool confirm;
	uint64_t discarded;
};

static enum task_outcome
wipe_params(struct wipe *x)
{
	struct wipe_dev *w = &x->d;
	const cJSON *p = w->t->params;
	const char *s;
	size_t i;

	switch (nt_json_string(p, "devicePath", &w->path)) {
	case NT_JSON_OK:
		break;
	case NT_JSON_WRONGTYPE:
		w->path = "(invalid)";
		return wipe_fail(w, "devicePath must be a string");
	default:
		w->path = "(none)";
		if (cJSON_GetObjectItemCaseSensitive(p, "diskId") != NULL)
			return wipe_fail(w, "diskId was not resolved to a "
			                    "devicePath; the controller must "
			                    "send devicePath");
		return wipe_fail(w, "devicePath is required");
	}
	if (w->path[0] != '/' || strlen(w->path) >= DISK_PATH_BUFLEN)
		return wipe_fail(w, "devicePath must be an absolute path");
	x->mode = WIPE_QUICK;
	switch (nt_json_string(p, "mode", &s)) {
	case NT_JSON_OK:
		for (i = 0; i < 3; i++) {
			if (strcmp(s, wipe_mode_names[i]) == 0)
				break;
		}
		if (i == 3)
			return wipe_fail(w,
			                 "mode must be quick, full or "
			                 "discard, not \"%.32s\"",
			                 s);
		x->mode = (enum wipe_mode)i;
		break;
	case NT_JSON_WRONGTYPE:
		return wipe_fail(w, "mode must be a string");
	default:
		break;
	}
	x->confirm = false;
	if (nt_json_bool(p, "confirm", &x->confirm) == NT_JSON_WRONGTYPE)
		return wipe_fail(w, "confirm must be true or false");
	return TASK_COMPLETED;
}

static void
wipe_progress(struct wipe_dev *w, uint64_t done)
{
	char a[32], b[32];

	wipe_human(done, a, sizeof(a));
	wipe_human(w->size, b, sizeof(b));
	/* Rounded: a tenth ends on an aligned offset just below it. */
	task_log(w->t, NT_LOG_INFO, "wrote %d%% (%s of %s)",
	         (int)((done * 100 + w->size / 2) / w->size), a, b);
}

/* Where the progress line for tenth n (1..10) is due, aligned. */
static uint64_t
wipe_tenth(const struct wipe_dev *w, uint64_t n)
{
	uint64_t mark = w->size / 10 * n;

	return n >= 10 ? w->size : mark - mark % WIPE_ALIGN;
}

/*
 * Overwrites the whole device; stop-aware. Writes end on each tenth so
 * progress is logged at 10%, 20%, ... even when one write is a large
 * part of a small device.
 */
static enum task_outcome
wipe_overwrite(struct wipe_dev *w)
{
	uint64_t off = 0, n, tenth = 1, mark = wipe_tenth(w, 1);
	int64_t t0 = nt_time_mono_ms(), ms;
	char a[32], b[32];

	wipe_human(w->size, b, sizeof(b));
	task_log(w->t, NT_LOG_INFO, "overwriting all %s with zeroes", b);
	while (off < w->size) {
		if (task_stopping()) {
			wipe_human(off, a, sizeof(a));
			task_log(w->t, NT_LOG_WARN,
			         "stopped at %d%%: wrote %s of %s; signatures "
			         "were already erased",
			         (int)(off * 100 / w->size), a, b);
			snprintf(w->err, w->errlen,
			         "wipe %s: stopped after writing %s of %s",
			         w->path, a, b);
			return TASK_CANCELED;
		}
		n = w->size - off < WIPE_CHUNK ? w->size - off : WIPE_CHUNK;
		if (mark > off && mark - off < n)
			n = mark - off;
		if (wipe_pwrite_all(w->dfd, w->buf, (size_t)n, off) != 0)
			return wipe_fail(w, "write at offset %" PRIu64 ": %s",
			                 off, strerror(errno));
		off += n;
		w->written += n;
		if (off >= mark) {
			wipe_progress(w, off);
			while (tenth <= 10 && off >= mark)
				mark = wipe_tenth(w, ++tenth);
		}
	}
	if (fdatasync(w->dfd) != 0)
		return wipe_fail(w, "flush: %s", strerror(errno));
	ms = nt_time_mono_ms() - t0;
	task_log(w->t, NT_LOG_INFO, "overwrote %s in %.1f s (%.0f MiB/s)", b,
	         (double)ms / 1000,
	         ms > 0 ? (double)w->size / WIPE_MIB * 1000 / (double)ms : 0.0);
	return TASK_COMPLETED;
}

static bool
wipe_is_zero(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (p[i] != 0)
			return false;
	}
	return true;
}

/* Reads [off, off + len) directly; true when it is all zeroes. */
static int
wipe_read_zero(struct wipe_dev *w, unsigned char *buf, uint64_t off,
               uint64_t len, bool *zero)
{
	ssize_t r;
	size_t got = 0;

	while (got < len) {
		r = pread(w->dfd, buf + got, (size_t)(len - got),
		          (off_t)(off + got));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	*zero = wipe_is_zero(buf, (size_t)len);
	return 0;
}

static uint64_t
wipe_sample_len(const struct wipe_dev *w)
{
	return w->size < WIPE_SAMPLE_LEN ? w->size : WIPE_SAMPLE_LEN;
}

/* First, last and WIPE_SAMPLES random regions read back as zeroes. */
static enum task_outcome
wipe_readback(struct wipe_dev *w)
{
	uint64_t len = wipe_sample_len(w), slots, off, rnd;
	unsigned char *buf;
	bool zero;
	int i;

	if (posix_memalign((void **)&buf, WIPE_ALIGN, WIPE_SAMPLE_LEN) != 0)
		return wipe_fail(w, "out of memory");
	slots = (w->size - len) / WIPE_ALIGN + 1;
	for (i = 0; i < WIPE_SAMPLES + 2; i++) {
		if (i == 0) {
			off = 0;
		} else if (i == 1) {
			off = w->size - len;
		} else {
			if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
				rnd = (uint64_t)random();
			off = rnd % slots * WIPE_ALIGN;
		}
		if (wipe_read_zero(w, buf, off, len, &zero) != 0) {
			free(buf);
			return wipe_fail(
			        w, "verify: read at offset %" PRIu64 ": %s",
			        off, strerror(errno));
		}
		if (!zero) {
			free(buf);
			return wipe_fail(w,
			                 "verify: data left at offset "
			                 "%" PRIu64,
			                 off);
		}
	}
	free(buf);
	task_log(w->t, NT_LOG_INFO,
	         "verified: %d regions of %" PRIu64 " KiB read back as zeroes",
	         WIPE_SAMPLES + 2, len / 1024);
	return TASK_COMPLETED;
}

/* Did the device zero what it discarded? Its first and last MiB say. */
static bool
wipe_discard_zeroed(struct wipe_dev *w)
{
	uint64_t len = wipe_sample_len(w);
	unsigned char *buf;
	bool z1 = false, z2 = false;

	if (posix_memalign((void **)&buf, WIPE_ALIGN, WIPE_SAMPLE_LEN) != 0)
		return false;
	if (wipe_read_zero(w, buf, 0, len, &z1) != 0 ||
	    wipe_read_zero(w, buf, w->size - len, len, &z2) != 0)
		z1 = false;
	free(buf);
	return z1 && z2;
}

static uint64_t
wipe_discard_max(const struct wipe_dev *w)
{
	char path[PATH_MAX], buf[32];
	ssize_t r;
	int fd;

	snprintf(path, sizeof(path),
	         "/sys/class/block/%s/queue/discard_max_bytes", w->info.name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return 0;
	buf[r] = '\0';
	return strtoull(buf, NULL, 10);
}

static enum task_outcome
wipe_overwrite_verified(struct wipe_dev *w)
{
	enum task_outcome o = wipe_overwrite(w);

	return o == TASK_COMPLETED ? wipe_readback(w) : o;
}

static enum task_outcome
wipe_discard(struct wipe *x)
{
	struct wipe_dev *w = &x->d;
	uint64_t off = 0, range[2];
	int64_t t0 = nt_time_mono_ms();
	char sz[32];

	wipe_human(w->size, sz, sizeof(sz));
	if (wipe_discard_max(w) == 0) {
		task_log(w->t, NT_LOG_INFO,
		         "device does not support discard: "
		         "overwriting instead");
		return wipe_overwrite_verified(w);
	}
	task_log(w->t, NT_LOG_INFO, "discarding all %s", sz);
	while (off < w->size) {
		if (task_stopping())
			return wipe_stopped(w, "while discarding");
		range[0] = off;
		range[1] = w->size - off < WIPE_DISCARD_STEP
		                   ? w->size - off
		                   : WIPE_DISCARD_STEP;
		if (ioctl(w->fd, BLKDISCARD, range) != 0) {
			if (errno == EOPNOTSUPP && off == 0) {
				task_log(w->t, NT_LOG_INFO,
				         "discard not supported: overwriting "
				         "instead");
				return wipe_overwrite_verified(w);
			}
			return wipe_fail(w, "discard at offset %" PRIu64 ": %s",
			                 off, strerror(errno));
		}
		off += range[1];
		x->discarded += range[1];
	}
	task_log(w->t, NT_LOG_INFO, "discarded %s in %.1f s", sz,
	         (double)(nt_time_mono_ms() - t0) / 1000);
	if (!wipe_discard_zeroed(w)) {
		task_log(w->t, NT_LOG_INFO,
		         "discarded blocks do not read as "
		         "zeroes on this device: "
		         "overwriting");
		return wipe_overwrite_verified(w);
	}
	task_log(w->t, NT_LOG_INFO, "discarded blocks read back as zeroes");
	return TASK_COMPLETED;
}

static enum task_outcome
wipe_execute(struct wipe *x)
{
	struct wipe_dev *w = &x->d;
	enum task_outcome o;

	o = wipe_erase(w);
	if (o != TASK_COMPLETED)
		return o;
	switch (x->mode) {
	case WIPE_FULL:
		o = wipe_overwrite_verified(w);
		break;
	case WIPE_DISCARD:
		o = wipe_discard(x);
		break;
	default:
		o = wipe_edges(w);
		break;
	}
	if (o != TASK_COMPLETED)
		return o;
	return wipe_verify(w);
}

static cJSON *
wipe_result(struct wipe *x)
{
	struct wipe_dev *w = &x->d;
	cJSON *r = cJSON_CreateObject();

	if (r == NULL || cJSON_AddNumberToObject(r, "bytesWritten",
	                                         (double)w->written) == NULL)
		goto fail;
	if (!cJSON_AddItemToObject(r, "signaturesRemoved", w->removed))
		goto fail;
	w->removed = NULL;
	if (cJSON_AddStringToObject(r, "mode", wipe_mode_names[x->mode]) ==
	    NULL)
		goto fail;
	if (x->mode == WIPE_DISCARD &&
	    cJSON_AddNumberToObject(r, "bytesDiscarded",
	                            (double)x->discarded) == NULL)
		goto fail;
	return r;
fail:
	cJSON_Delete(r);
	return NULL;
}

static enum task_outcome
wipe_steps(struct wipe *x, cJSON **result)
{
	struct wipe_dev *w = &x->d;
	char prompt[DISK_PATH_BUFLEN + 64], sz[32];
	enum task_outcome o;

	if ((o = wipe_params(x)) != TASK_COMPLETED)
		return o;
	task_log(w->t, NT_LOG_INFO, "wiping %s (mode %s)", w->path,
	         wipe_mode_names[x->mode]);
	snprintf(prompt, sizeof(prompt),
	         "Disk %s contains existing data. Proceed with wipe?", w->path);
	if ((o = wipe_open(w)) != TASK_COMPLETED ||
	    (o = wipe_check(w)) != TASK_COMPLETED ||
	    (o = wipe_confirm(w, prompt, x->confirm)) != TASK_COMPLETED ||
	    (o = wipe_prepare(w)) != TASK_COMPLETED ||
	    (o = wipe_execute(x)) != TASK_COMPLETED)
		return o;
	*result = wipe_result(x);
	if (*result == NULL)
		return wipe_fail(w, "out of memory");
	wipe_human(w->written, sz, sizeof(sz));
	task_log(w->t, NT_LOG_INFO, "wipe of %s complete: %s written", w->path,
	         sz);
	return TASK_COMPLETED;
}

static enum task_outcome
wipe_run(struct task_ctx *t, cJSON **result, char *err, size_t errlen)
{
	struct wipe *x;
	enum task_outcome o;

	x = calloc(1, sizeof(*x));
	if (x == NULL) {
		snprintf(err, errlen, "disk.wipe: out of memory");
		return TASK_FAILED;
	}
	wipe_dev_init(&x->d, t, "wipe", NULL, err, errlen);
	o = wipe_steps(x, result);
	wipe_dev_close(&x->d);
	free(x);
	return o;
}

const struct task_def task_disk_wipe = {
        .name = "disk.wipe",
        .run = wipe_run,
};
