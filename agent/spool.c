/*
 * spool.c: the durable FIFO of unacknowledged run events (see spool.h).
 *
 * Records are appended with one pwritev each; the in-memory side is a ring
 * of record sizes plus a per-run index, so memory stays small however
 * large the file grows while the controller is away. Payloads are read
 * back only at start (load and replay) and when compacting.
 */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "nt_err.h"
#include "nt_log.h"
#include "nt_path.h"
#include "nt_uuid.h"

#define SPOOL_MAGIC     "NTSPOOL1"
#define SPOOL_MAGIC_LEN 8
#define SPOOL_HDR_LEN   8 /* per record: length, crc32 */
/* Compact once this much acknowledged data sits before the live part. */
#define SPOOL_COMPACT_MIN (4u * 1024 * 1024)

/* ---- CRC-32 (IEEE 802.3, as zlib) ---------------------------------------- */

static uint32_t spool_crc_table[256];
static pthread_once_t spool_crc_once = PTHREAD_ONCE_INIT;

static void
spool_crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++) {
			c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
		}
		spool_crc_table[i] = c;
	}
}

static uint32_t
spool_crc32(const uint8_t *p, size_t len)
{
	uint32_t c = 0xffffffffu;

	pthread_once(&spool_crc_once, spool_crc_init);
	for (size_t i = 0; i < len; i++) {
		c = spool_crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
	}
	return c ^ 0xffffffffu;
}

static void
spool_put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t
spool_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* ---- small helpers ------------------------------------------------------- */

static int
spool_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rv = NT_OK;

	if (fd < 0) {
		return NT_EIO;
	}
	if (fsync(fd) != 0) {
		rv = NT_EIO;
	}
	close(fd);
	return rv;
}

static int
spool_write_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR) {
				continue;
			}
			return NT_EIO;
		}
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return NT_OK;
}

/* ---- queue and run index ------------------------------------------------- */

static int
spool_q_push(struct spool *sp, struct spool_run *run, uint32_t file_len)
{
	if (sp->q_len == sp->q_cap) {
		size_t cap = sp->q_cap == 0 ? 64 : sp->q_cap * 2;
		struct spool_rec *q = malloc(cap * sizeof(*q));
		if (q == NULL) {
			return NT_ENOMEM;
		}
		for (size_t i = 0; i < sp->q_len; i++) {
			q[i] = sp->q[(sp->q_first + i) % sp->q_cap];
		}
		free(sp->q);
		sp->q = q;
		sp->q_cap = cap;
		sp->q_first = 0;
	}
	sp->q[(sp->q_first + sp->q_len) % sp->q_cap] =
	        (struct spool_rec){run, file_len};
	sp->q_len++;
	return NT_OK;
}

static struct spool_run *
spool_run_get(struct spool *sp, const char *id)
{
	struct spool_run *r = nt_map_get(&sp->runs, id);

	if (r != NULL) {
		return r;
	}
	if ((r = calloc(1, sizeof(*r))) == NULL) {
		return NULL;
	}
	snprintf(r->id, sizeof(r->id), "%s", id);
	if (nt_map_put(&sp->runs, r->id, r) != NT_OK) {
		free(r);
		return NULL;
	}
	return r;
}

/* Counts ev against its run. The caller has checked run_id and seq. */
static int
spool_index(struct spool *sp, const Nodetask__Link__RunEvent *ev,
            uint32_t file_len)
{
	struct spool_run *r = spool_run_get(sp, ev->run_id);
	int rv;

	if (r == NULL) {
		return NT_ENOMEM;
	}
	if ((rv = spool_q_push(sp, r, file_len)) != NT_OK) {
		if (r->pending == 0) {
			free(nt_map_del(&sp->runs, r->id));
		}
		return rv;
	}
	if (ev->seq > r->last_seq) {
		r->last_seq = ev->seq;
	}
	if (ev->kind_case == NODETASK__LINK__RUN_EVENT__KIND_FINISHED) {
		r->finished = true;
	}
	r->pending++;
	return NT_OK;
}

static void
spool_run_free_cb(const char *key, void *value, void *arg)
{
	(void)key;
	(void)arg;
	free(value);
}

/* ---- load ---------------------------------------------------------------- */

static bool
spool_event_ok(const Nodetask__Link__RunEvent *ev)
{
	return ev != NULL && nt_uuid_parse(ev->run_id, NULL) && ev->seq > 0;
}

/*
 * Indexes the records of the mapped file. Returns the offset where valid
 * records end (the file is cut there when that is not its end).
 */
static uint64_t
spool_load_records(struct spool *sp, const uint8_t *map, uint64_t size)
{
	uint64_t off = SPOOL_MAGIC_LEN;

	while (size - off >= SPOOL_HDR_LEN) {
		uint32_t len = spool_get_u32(map + off);
		uint32_t crc = spool_get_u32(map + off + 4);
		const uint8_t *p = map + off + SPOOL_HDR_LEN;
		Nodetask__Link__RunEvent *ev;
		int rv;

		if (len == 0 || len > SPOOL_RECORD_MAX ||
		    size - off - SPOOL_HDR_LEN < len ||
		    spool_crc32(p, len) != crc) {
			break;
		}
		ev = nodetask__link__run_event__unpack(NULL, len, p);
		if (!spool_event_ok(ev)) {
			if (ev != NULL) {
				nodetask__link__run_event__free_unpacked(ev,
				                                         NULL);
			}
			break;
		}
		rv = spool_index(sp, ev, SPOOL_HDR_LEN + len);
		nodetask__link__run_event__free_unpacked(ev, NULL);
		if (rv != NT_OK) {
			break;
		}
		off += SPOOL_HDR_LEN + len;
	}
	return off;
}

/* Moves an unusable spool file aside so a new one can start. */
static int
spool_set_aside(struct spool *sp, const char *why)
{
	char *bad = nt_path_join(sp->dir, "spool.corrupt");
	int rv = NT_OK;

	if (bad == NULL) {
		return NT_ENOMEM;
	}
	nt_error("spool: %s %s; moved to %s, starting a new spool", sp->path,
	         why, bad);
	if (rename(sp->path, bad) != 0) {
		nt_error("spool: rename %s: %s", sp->path, strerror(errno));
		rv = NT_EIO;
	}
	free(bad);
	return rv;
}

static int
spool_load(struct spool *sp)
{
	struct stat st;
	uint8_t *map;
	uint64_t valid;

	if (fstat(sp->fd, &st) != 0) {
		nt_error("spool: stat %s: %s", sp->path, strerror(errno));
		return NT_EIO;
	}
	if (st.st_size == 0) {
		sp->head = sp->end = SPOOL_MAGIC_LEN;
		sp->dirty = true;
		return spool_write_all(sp->fd, SPOOL_MAGIC, SPOOL_MAGIC_LEN, 0);
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, sp->fd, 0);
	if (map == MAP_FAILED) {
		nt_error("spool: mmap %s: %s", sp->path, strerror(errno));
		return NT_EIO;
	}
	if ((uint64_t)st.st_size < SPOOL_MAGIC_LEN ||
	    memcmp(map, SPOOL_MAGIC, SPOOL_MAGIC_LEN) != 0) {
		munmap(map, (size_t)st.st_size);
		return NT_EPROTO;
	}
	valid = spool_load_records(sp, map, (uint64_t)st.st_size);
	munmap(map, (size_t)st.st_size);
	if (valid < (uint64_t)st.st_size) {
		nt_warn("spool: %s: cut %llu bytes of a torn or corrupt record "
		        "at offset %llu",
		        sp->path, (unsigned long long)st.st_size - valid,
		        (unsigned long long)valid);
		if (ftruncate(sp->fd, (off_t)valid) != 0) {
			nt_error("spool: truncate %s: %s", sp->path,
			         strerror(errno));
			return NT_EIO;
		}
		sp->dirty = true;
	}
	sp->head = SPOOL_MAGIC_LEN;
	sp->end = valid;
	return NT_OK;
}

static int
spool_open(struct spool *sp)
{
	sp->fd = open(sp->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (sp->fd < 0) {
		nt_error("spool: open %s: %s", sp->path, strerror(errno));
		return NT_EIO;
	}
	return NT_OK;
}

int
spool_init(struct spool *sp, const char *dir)
{
	int rv;

	memset(sp, 0, sizeof(*sp));
	sp->fd = -1;
	sp->compact_min = SPOOL_COMPACT_MIN;
	nt_map_init(&sp->runs);
	sp->dir = strdup(dir);
	sp->path = nt_path_join(dir, "spool");
	sp->tmp_path = nt_path_join(dir, "spool.tmp");
	if (sp->dir == NULL || sp->path == NULL || sp->tmp_path == NULL) {
		spool_fini(sp);
		return NT_ENOMEM;
	}
	if ((rv = spool_open(sp)) == NT_OK &&
	    (rv = spool_load(sp)) == NT_EPROTO) {
		/* Not a spool: keep it for inspection, start afresh. */
		close(sp->fd);
		sp->fd = -1;
		if ((rv = spool_set_aside(sp, "has no spool header")) ==
		            NT_OK &&
		    (rv = spool_open(sp)) == NT_OK) {
			rv = spool_load(sp);
		}
	}
	if (rv == NT_OK) {
		rv = spool_sync(sp);
	}
	if (rv != NT_OK) {
		spool_fini(sp);
		return rv;
	}
	if (sp->q_len > 0) {
		nt_info("spool: %zu unacknowledged events of %zu runs to "
		        "resend",
		        sp->q_len, sp->runs.count);
	}
	return NT_OK;
}

void
spool_fini(struct spool *sp)
{
	if (sp->fd >= 0) {
		if (sp->dirty) {
			(void)fdatasync(sp->fd);
		}
		close(sp->fd);
	}
	nt_map_each(&sp->runs, spool_run_free_cb, NULL);
	nt_map_fini(&sp->runs);
	free(sp->q);
	free(sp->dir);
	free(sp->path);
	free(sp->tmp_path);
	memset(sp, 0, sizeof(*sp));
	sp->fd = -1;
}

/* ---- replay -------------------------------------------------------------- */

int
spool_replay(struct spool *sp,
             int (*fn)(void *arg, const uint8_t *buf, size_t len), void *arg)
{
	uint8_t *map;
	uint64_t off = sp->head;
	int rv = NT_OK;

	if (sp->end == 0 || sp->end <= sp->head) {
		return NT_OK;
	}
	map = mmap(NULL, (size_t)sp->end, PROT_READ, MAP_PRIVATE, sp->fd, 0);
	if (map == MAP_FAILED) {
		nt_error("spool: mmap %s: %s", sp->path, strerror(errno));
		return NT_EIO;
	}
	/* Records were checked at load; only file-backed ones exist yet. */
	while (rv == NT_OK && sp->end - off >= SPOOL_HDR_LEN) {
		uint32_t len = spool_get_u32(map + off);
		if (sp->end - off - SPOOL_HDR_LEN < len) {
			break;
		}
		rv = fn(arg, map + off + SPOOL_HDR_LEN, len);
		off += SPOOL_HDR_LEN + len;
	}
	munmap(map, (size_t)sp->end);
	return rv;
}

/* ---- append, sync -------------------------------------------------------- */

/* pwritev until everything is written; advances iov in place. */
static int
spool_writev_all(int fd, struct iovec *iov, int cnt, uint64_t off)
{
	while (cnt > 0) {
		ssize_t n = pwritev(fd, iov, cnt, (off_t)off);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0) {
			return NT_EIO;
		}
		off += (uint64_t)n;
		while (cnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return NT_OK;
}

int
spool_append(struct spool *sp, const Nodetask__Link__RunEvent *ev,
             const uint8_t *buf, size_t len)
{
	uint8_t hdr[SPOOL_HDR_LEN];
	struct iovec iov[2];
	int rv;

	if (!spool_event_ok(ev) || len == 0 || len > SPOOL_RECORD_MAX) {
		return NT_EINVAL;
	}
	spool_put_u32(hdr, (uint32_t)len);
	spool_put_u32(hdr + 4, spool_crc32(buf, len));
	iov[0] = (struct iovec){hdr, sizeof(hdr)};
	iov[1] = (struct iovec){(void *)buf, len};
	if (spool_writev_all(sp->fd, iov, 2, sp->end) != NT_OK) {
		nt_error("spool: write %s: %s; event %s/%llu kept in memory "
		         "only",
		         sp->path, strerror(errno), ev->run_id,
		         (unsigned long long)ev->seq);
		/* Drop the partial record so the file stays well-formed. */
		(void)ftruncate(sp->fd, (off_t)sp->end);
		if ((rv = spool_index(sp, ev, 0)) != NT_OK) {
			return rv;
		}
		return NT_EIO;
	}
	if ((rv = spool_index(sp, ev, (uint32_t)(SPOOL_HDR_LEN + len))) !=
	    NT_OK) {
		/* Not indexed: the record must not come back at restart. */
		(void)ftruncate(sp->fd, (off_t)sp->end);
		return rv;
	}
	sp->end += SPOOL_HDR_LEN + len;
	sp->dirty = true;
	return NT_OK;
}

int
spool_sync(struct spool *sp)
{
	if (!sp->dirty) {
		return NT_OK;
	}
	if (fdatasync(sp->fd) != 0) {
		nt_error("spool: fdatasync %s: %s", sp->path, strerror(errno));
		return NT_EIO;
	}
	sp->dirty = false;
	return NT_OK;
}

/* ---- ack, truncate, compact ---------------------------------------------- */

static int
spool_truncate(struct spool *sp)
{
	if (ftruncate(sp->fd, SPOOL_MAGIC_LEN) != 0) {
		nt_error("spool: truncate %s: %s", sp->path, strerror(errno));
		return NT_EIO;
	}
	sp->head = sp->end = SPOOL_MAGIC_LEN;
	sp->dirty = true;
	return NT_OK;
}

static int
spool_copy_live(struct spool *sp, int out)
{
	uint64_t off = sp->head;
	uint64_t dst = SPOOL_MAGIC_LEN;
	uint8_t buf[65536];

	if (spool_write_all(out, SPOOL_MAGIC, SPOOL_MAGIC_LEN, 0) != NT_OK) {
		return NT_EIO;
	}
	while (off < sp->end) {
		size_t want = sp->end - off < sizeof(buf) ? sp->end - off
		                                          : sizeof(buf);
		ssize_t n = pread(sp->fd, buf, want, (off_t)off);
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n <= 0 ||
		    spool_write_all(out, buf, (size_t)n, dst) != NT_OK) {
			return NT_EIO;
		}
		off += (uint64_t)n;
		dst += (uint64_t)n;
	}
	return fdatasync(out) == 0 ? NT_OK : NT_EIO;
}

/*
 * Rewrites the live records into a new file that replaces the old one
 * atomically. On failure the old file stays in use, which is harmless.
 */
static int
spool_compact(struct spool *sp)
{
	uint64_t live = sp->end - sp->head;
	int out;

	out = open(sp->tmp_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0) {
		nt_warn("spool: compact: open %s: %s", sp->tmp_path,
		        strerror(errno));
		return NT_EIO;
	}
	if (spool_copy_live(sp, out) != NT_OK ||
	    rename(sp->tmp_path, sp->path) != 0) {
		nt_warn("spool: compact %s: %s", sp->path, strerror(errno));
		close(out);
		unlink(sp->tmp_path);
		return NT_EIO;
	}
	close(sp->fd);
	sp->fd = out;
	sp->head = SPOOL_MAGIC_LEN;
	sp->end = SPOOL_MAGIC_LEN + live;
	(void)spool_fsync_dir(sp->dir);
	nt_debug("spool: compacted %s to %llu bytes", sp->path,
	         (unsigned long long)sp->end);
	return NT_OK;
}

int
spool_ack(struct spool *sp, size_t n)
{
	if (n > sp->q_len) {
		nt_error("spool: %zu events acknowledged but only %zu pending",
		         n, sp->q_len);
		n = sp->q_len;
	}
	for (size_t i = 0; i < n; i++) {
		struct spool_rec *rec = &sp->q[sp->q_first];
		struct spool_run *r = rec->run;

		sp->head += rec->file_len;
		sp->q_first = (sp->q_first + 1) % sp->q_cap;
		sp->q_len--;
		if (--r->pending == 0) {
			free(nt_map_del(&sp->runs, r->id));
		}
	}
	if (sp->q_len == 0) {
		return spool_truncate(sp);
	}
	if (sp->head - SPOOL_MAGIC_LEN >= sp->compact_min &&
	    sp->head - SPOOL_MAGIC_LEN > sp->end - sp->head) {
		(void)spool_compact(sp);
	}
	return NT_OK;
}

/* ---- queries ------------------------------------------------------------- */

size_t
spool_pending(const struct spool *sp)
{
	return sp->q_len;
}

uint64_t
spool_last_seq(const struct spool *sp, const char *run_id)
{
	const struct spool_run *r = nt_map_get(&sp->runs, run_id);

	return r != NULL ? r->last_seq : 0;
}

bool
spool_finished(const struct spool *sp, const char *run_id)
{
	const struct spool_run *r = nt_map_get(&sp->runs, run_id);

	return r != NULL && r->finished;
}

struct spool_each {
	void (*fn)(void *arg, const struct spool_run *run);
	void *arg;
};

static void
spool_each_cb(const char *key, void *value, void *arg)
{
	struct spool_each *e = arg;

	(void)key;
	e->fn(e->arg, value);
}

void
spool_each_run(const struct spool *sp,
               void (*fn)(void *arg, const struct spool_run *run), void *arg)
{
	struct spool_each e = {fn, arg};

	nt_map_each(&sp->runs, spool_each_cb, &e);
}
