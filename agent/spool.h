/*
 * spool.h: the agent's durable queue of unacknowledged run events.
 *
 * Every event gets a per-run seq and goes into the spool file (write(2)
 * before it is sent, so killing the agent loses nothing; fdatasync at
 * batch boundaries) and only leaves it when the controller has
 * acknowledged it. Acknowledgements come in the order events were
 * appended, so the spool is a FIFO: acking n drops the n oldest.
 *
 * File: an 8-byte magic, then records of [u32 length][u32 crc32][RunEvent]
 * (little endian). A torn or corrupt tail is cut off at load. The file is
 * truncated whenever the queue empties and compacted when the acknowledged
 * prefix outweighs what is left.
 *
 * Besides the queue, the spool knows per run with unacknowledged events
 * the last seq it holds and whether a Finished is among them, which is
 * what an agent restart needs to continue a run's numbering.
 */
#ifndef SPOOL_H
#define SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "link.pb-c.h"
#include "nt_map.h"
#include "nt_uuid.h"

/* A record larger than this is corrupt (events are far smaller). */
#define SPOOL_RECORD_MAX (16u * 1024 * 1024)

/* One unacknowledged event, in queue order. */
struct spool_rec {
	struct spool_run *run;
	uint32_t file_len; /* bytes in the file; 0: kept in memory only */
};

/* What the spool knows of a run while it has unacknowledged events. */
struct spool_run {
	char id[NT_UUID_BUFLEN];
	uint64_t last_seq;
	size_t pending;
	bool finished; /* a Finished event is still unacknowledged */
};

struct spool {
	char *path;
	char *tmp_path;
	char *dir;
	int fd;
	uint64_t head; /* file offset of the first unacknowledged record */
	uint64_t end;  /* where the next record goes */
	struct spool_rec *q;
	size_t q_first, q_len, q_cap; /* ring of unacknowledged events */
	struct nt_map runs;           /* run id -> spool_run */
	bool dirty;                   /* written since the last sync */
	uint64_t compact_min;         /* acked bytes before compaction */
};

/*
 * Opens (creating) DIR/spool and loads its unacknowledged events. A torn
 * last record is cut off and logged; an unreadable file is set aside as
 * DIR/spool.corrupt and a new one started.
 */
int spool_init(struct spool *sp, const char *dir);
void spool_fini(struct spool *sp);
/*
 * Calls fn with every unacknowledged event (a packed RunEvent), oldest
 * first. Stops at the first non-zero return of fn and returns it.
 */
int spool_replay(struct spool *sp,
                 int (*fn)(void *arg, const uint8_t *buf, size_t len),
                 void *arg);
/*
 * Appends ev, already packed into buf. On a write error the event is kept
 * in memory (so acknowledgements still line up) and NT_EIO is returned.
 */
int spool_append(struct spool *sp, const Nodetask__Link__RunEvent *ev,
                 const uint8_t *buf, size_t len);
/* fdatasync when anything was written since the last call. */
int spool_sync(struct spool *sp);
/* The n oldest events were acknowledged. */
int spool_ack(struct spool *sp, size_t n);
size_t spool_pending(const struct spool *sp);
/* Last seq spooled for run_id among unacknowledged events; 0: none. */
uint64_t spool_last_seq(const struct spool *sp, const char *run_id);
/* True when a Finished event of run_id is still unacknowledged. */
bool spool_finished(const struct spool *sp, const char *run_id);
/* Calls fn for every run that has unacknowledged events. */
void spool_each_run(const struct spool *sp,
                    void (*fn)(void *arg, const struct spool_run *run),
                    void *arg);

#endif
