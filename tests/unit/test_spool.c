/*
 * test_spool.c: the agent's durable event spool: append, reload, ack,
 * truncation when empty, a torn tail, compaction, and that a restart
 * keeps order and per-run seqs.
 */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "link.pb-c.h"
#include "nt_err.h"
#include "spool.h"

#define RUN_A "11111111-1111-4111-8111-111111111111"
#define RUN_B "22222222-2222-4222-8222-222222222222"

static char dir[512];
static char path[600];

static void
spool_setup(void)
{
	const char *tmp = getenv("TMPDIR");

	if (tmp == NULL || *tmp == '\0') {
		tmp = "/tmp";
	}
	snprintf(dir, sizeof(dir), "%s/nt_spool_test.XXXXXX", tmp);
	cr_assert_not_null(mkdtemp(dir), "mkdtemp in %s", tmp);
	snprintf(path, sizeof(path), "%s/spool", dir);
}

static void
spool_teardown(void)
{
	char p[700];

	unlink(path);
	snprintf(p, sizeof(p), "%s/spool.tmp", dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/spool.corrupt", dir);
	unlink(p);
	rmdir(dir);
}

TestSuite(spool, .init = spool_setup, .fini = spool_teardown);

/* Appends a log event (or Finished when finished) with message msg. */
static void
add(struct spool *sp, const char *run, uint64_t seq, const char *msg,
    bool finished)
{
	Nodetask__Link__RunEvent ev = NODETASK__LINK__RUN_EVENT__INIT;
	Nodetask__Link__LogLine log = NODETASK__LINK__LOG_LINE__INIT;
	Nodetask__Link__Finished fin = NODETASK__LINK__FINISHED__INIT;
	uint8_t buf[4096];
	size_t len;

	ev.run_id = (char *)run;
	ev.seq = seq;
	ev.ts_us = 1;
	if (finished) {
		fin.state = NODETASK__LINK__FINISHED__STATE__COMPLETED;
		ev.kind_case = NODETASK__LINK__RUN_EVENT__KIND_FINISHED;
		ev.finished = &fin;
	} else {
		log.message = (char *)msg;
		ev.kind_case = NODETASK__LINK__RUN_EVENT__KIND_LOG;
		ev.log = &log;
	}
	len = nodetask__link__run_event__get_packed_size(&ev);
	cr_assert_lt(len, sizeof(buf));
	nodetask__link__run_event__pack(&ev, buf);
	cr_assert_eq(spool_append(sp, &ev, buf, len), NT_OK);
}

struct replayed {
	char run[8][40];
	uint64_t seq[8];
	char msg[8][64];
	size_t n;
	size_t total;
};

static int
replay_cb(void *arg, const uint8_t *buf, size_t len)
{
	struct replayed *r = arg;
	Nodetask__Link__RunEvent *ev =
	        nodetask__link__run_event__unpack(NULL, len, buf);

	cr_assert_not_null(ev, "replayed record unpacks");
	if (r->n < 8) {
		snprintf(r->run[r->n], sizeof(r->run[0]), "%s", ev->run_id);
		r->seq[r->n] = ev->seq;
		snprintf(r->msg[r->n], sizeof(r->msg[0]), "%s",
		         ev->kind_case == NODETASK__LINK__RUN_EVENT__KIND_LOG
		                 ? ev->log->message
		                 : "<finished>");
		r->n++;
	}
	r->total++;
	nodetask__link__run_event__free_unpacked(ev, NULL);
	return NT_OK;
}

static off_t
file_size(void)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0);
	return st.st_size;
}

Test(spool, empty_start)
{
	struct spool sp;
	struct replayed r = {0};

	cr_assert_eq(spool_init(&sp, dir), NT_OK);
	cr_assert_eq(spool_pending(&sp), 0);
	cr_assert_eq(spool_replay(&sp, replay_cb, &r), NT_OK);
	cr_assert_eq(r.total, 0);
	cr_assert_eq(spool_last_seq(&sp, RUN_A), 0);
	spool_fini(&sp);
	cr_assert_eq(file_size(), 8, "only the header is written");
}

Test(spool, restart_keeps_order_and_seqs)
{
	struct spool sp;
	struct replayed r = {0};

	cr_assert_eq(spool_init(&sp, dir), NT_OK);
	add(&sp, RUN_A, 1, "a1", false);
	add(&sp, RUN_B, 1, "b1", false);
	add(&sp, RUN_A, 2, "a2", false);
	add(&sp, RUN_B, 2, NULL, true);
	cr_assert_eq(spool_sync(&sp), NT_OK);
	spool_fini(&sp);

	cr_assert_eq(spool_init(&sp, dir), NT_OK);
	cr_assert_eq(spool_pending(&sp), 4);
	cr_assert_eq(spool_last_seq(&sp, RUN_A), 2);
	cr_assert_eq(spool_last_seq(&sp, RUN_B), 2);
	cr_assert(!spool_finished(&sp, RUN_A));
	cr_assert(spool_finished(&sp, RUN_B));
	cr_assert_eq(spool_replay(&sp, replay_cb, &r), NT_OK);
	cr_assert_eq(r.n, 4);
	cr_assert_str_eq(r.msg[0], "a1");
	cr_assert_str_eq(r.msg[1], "b1");
	cr_assert_str_eq(r.msg[2], "a2");
	cr_assert_str_eq(r.msg[3], "<finished>");
	cr_assert_str_eq(r.run[3], RUN_B);
	spool_fini(&sp);
}

Test(spool, ack_removes_oldest_and_truncates_when_empty)
{
	struct spool sp;
	struct replayed r = {0};

	cr_assert_eq(spool_init(&sp, dir), NT_OK);
	add(&sp, RUN_A, 1, "a1", false);
	add(&sp, RUN_A, 2, "a2", false);
	add(&sp, RUN_B, 1, "b1", false);
	cr_assert_eq(spool_ack(&sp, 2), NT_OK);
	cr_assert_eq(spool_pending(&sp), 1);
	cr_assert_eq(spool_last_seq(&sp, RUN_A), 0, "run A fully acked");
	cr_assert_eq(spool_last_seq(&sp, RUN_B), 1);
	spool_fini(&sp);

	/* The acked prefix stays in the file but not in the queue... */
	cr_assert_eq(spool_init(&sp, dir), NT_OK);
	cr_assert_eq(spool_pending(&sp), 3, "acks are not persisted early");
	spool_fini(&sp);

	/* ...until the queue empties: then the file is cut to its header. */
	cr_assert_eq(spool_init(&sp, dir), NT_OK);
	cr_assert_eq(spool_ack(&sp, 3), NT_OK);
	cr_assert_eq(spool_pending(&sp), 0);
	spool_fini(&sp);
	cr_assert_eq(file_size(), 8);
	cr_assert_eq(spool_init(&sp, dir), NT_OK);
	cr_assert_eq(spool_replay(&sp, replay_cb, &r), NT_OK);
	cr_assert_eq(r.total, 0);
	/* Appends after a truncation land after the header again. */
	add(&sp, RUN_B, 2, "b2", false);
	spool_fini(&sp);
	cr_assert_eq(spool_init(&sp, dir), NT_OK);
	cr_assert_eq(spool_replay(&sp, replay_cb, &r), NT_OK);
	cr_assert_eq(r.n, 1);
	cr_assert_str_eq(r.msg[0], "b2");
	spool_fini(&sp);
}

Test(spool, ack_more_than_pending_is_clamped)
{
	struct spool sp;

	cr_assert_eq(spool_init(&sp, dir), NT_OK);
	add(&sp, RUN_A, 1, "a1", false);
	cr_assert_eq(spool_ack(&sp, 5), NT_OK);
	cr_assert_eq(spool_pending(&sp), 0);
	spool_fini(&sp);
}

Test(spool, torn_tail_is_cut)
{
	struct spool sp;
	struct replayed r = {0};
	off_t full;
	int fd;

	cr_assert_eq(spool_init(&sp, dir), NT_OK);
	add(&sp, RUN_A, 1, "a1", false);
	add(&sp, RUN_A, 2, "a2", false);
	spool_fini(&sp);
	full = file_size();
	/* A record whose write was cut short by a crash. */
	cr_assert_eq(truncate(path, full - 3), 0);

	cr_assert_eq(spool_init(&sp, dir), NT_OK);
	cr_assert_eq(spool_pending(&sp), 1);
	cr_assert_eq(spool_last_seq(&sp, RUN_A), 1);
	cr_assert_eq(spool_replay(&sp, replay_cb, &r), NT_OK);
	cr_assert_eq(r.n, 1);
	cr_assert_str_eq(r.msg[0], "a1");
	/* The next record follows the last good one. */
	add(&sp, RUN_A, 2, "a2 again", false);
	spool_fini(&sp);

	/* Garbage after good records (a half-written header). */
	fd = open(path, O_WRONLY | O_APPEND);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, "\x05\x00", 2), 2);
	close(fd);
	memset(&r, 0, sizeof(r));
	cr_assert_eq(spool_init(&sp, dir), NT_OK);
	cr_assert_eq(spool_replay(&sp, replay_cb, &r), NT_OK);
	cr_assert_eq(r.n, 2);
	cr_assert_str_eq(r.msg[1], "a2 again");
	spool_fini(&sp);
}

Test(spool, corrupt_record_is_cut)
{
	struct spool sp;
	struct replayed r = {0};
	int fd;
	char c;

	cr_assert_eq(spool_init(&sp, dir), NT_OK);
	add(&sp, RUN_A, 1, "a1", false);
	add(&sp, RUN_A, 2, "a2", false);
	spool_fini(&sp);
	/* Flip a byte in the last record's payload: its CRC fails. */
	fd = open(path, O_RDWR);
	cr_assert_geq(fd, 0);
	cr_assert_eq(pread(fd, &c, 1, file_size() - 1), 1);
	c ^= 0x5a;
	cr_assert_eq(pwrite(fd, &c, 1, file_size() - 1), 1);
	close(fd);
	cr_assert_eq(spool_init(&sp, dir), NT_OK);
	cr_assert_eq(spool_replay(&sp, replay_cb, &r), NT_OK);
	cr_assert_eq(r.n, 1);
	cr_assert_str_eq(r.msg[0], "a1");
	spool_fini(&sp);
}

Test(spool, not_a_spool_is_set_aside)
{
	struct spool sp;
	char aside[700];
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	fputs("this is not a spool file\n", f);
	fclose(f);
	cr_assert_eq(spool_init(&sp, dir), NT_OK);
	cr_assert_eq(spool_pending(&sp), 0);
	spool_fini(&sp);
	snprintf(aside, sizeof(aside), "%s/spool.corrupt", dir);
	cr_assert_eq(access(aside, F_OK), 0, "the old file is kept aside");
}

Test(spool, compaction_keeps_the_live_records)
{
	struct spool sp;
	struct replayed r = {0};
	char msg[64];
	off_t before;

	cr_assert_eq(spool_init(&sp, dir), NT_OK);
	sp.compact_min = 1024; /* small, so a few events trigger it */
	for (uint64_t i = 1; i <= 200; i++) {
		snprintf(msg, sizeof(msg), "line %llu", (unsigned long long)i);
		add(&sp, RUN_A, i, msg, false);
	}
	before = file_size();
	cr_assert_eq(spool_ack(&sp, 150), NT_OK);
	cr_assert_lt(file_size(), before / 3, "acked prefix compacted away");
	cr_assert_eq(spool_pending(&sp), 50);
	/* Appending and acking go on in the new file. */
	add(&sp, RUN_A, 201, "line 201", false);
	cr_assert_eq(spool_ack(&sp, 1), NT_OK);
	spool_fini(&sp);

	cr_assert_eq(spool_init(&sp, dir), NT_OK);
	cr_assert_eq(spool_pending(&sp), 51);
	cr_assert_eq(spool_last_seq(&sp, RUN_A), 201);
	cr_assert_eq(spool_replay(&sp, replay_cb, &r), NT_OK);
	cr_assert_eq(r.total, 51);
	cr_assert_str_eq(r.msg[0], "line 151");
	cr_assert_eq(r.seq[1], 152);
	spool_fini(&sp);
}

Test(spool, rejects_events_without_run_or_seq)
{
	struct spool sp;
	Nodetask__Link__RunEvent ev = NODETASK__LINK__RUN_EVENT__INIT;
	uint8_t buf[64];

	cr_assert_eq(spool_init(&sp, dir), NT_OK);
	ev.run_id = "not-a-uuid";
	ev.seq = 1;
	cr_assert_eq(spool_append(&sp, &ev, buf, 4), NT_EINVAL);
	ev.run_id = RUN_A;
	ev.seq = 0;
	cr_assert_eq(spool_append(&sp, &ev, buf, 4), NT_EINVAL);
	cr_assert_eq(spool_pending(&sp), 0);
	spool_fini(&sp);
}
