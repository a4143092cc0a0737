/*
 * test_task_wipe.c: disk.wipe (and node.ping) on real loop devices, run
 * through task_process_main in a child exactly as the agent runs them:
 * the question and its answers, every mode, every refusal, and a stop
 * in the middle of a full wipe.
 */
#include <sys/file.h>
#include <sys/stat.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "loop_fixture.h"
#include "task_harness.h"

#define SIZE_MIB 64

TestSuite(wipe, .init = fx_setup, .fini = fx_cleanup, .timeout = 120);

static const char *const loops[] = {"/dev/loop*", NULL};

static char *
wipe_params(const char *dev, const char *mode, bool confirm)
{
	static char buf[PATH_MAX + 128];

	snprintf(buf, sizeof(buf),
	         "{\"devicePath\":\"%s\",\"mode\":\"%s\",\"confirm\":%s}", dev,
	         mode, confirm ? "true" : "false");
	return buf;
}

static double
result_num(const struct th_run *r, const char *name)
{
	const cJSON *v = cJSON_GetObjectItem(th_result(r), name);

	cr_assert(cJSON_IsNumber(v), "result has no number %s", name);
	return v->valuedouble;
}

static bool
removed(const struct th_run *r, const char *sig)
{
	const cJSON *it;

	cJSON_ArrayForEach(
	        it, cJSON_GetObjectItem(th_result(r), "signaturesRemoved"))
	{
		if (cJSON_IsString(it) && strcmp(it->valuestring, sig) == 0)
			return true;
	}
	return false;
}

static void
expect_state(const struct th_run *r, const char *state)
{
	if (strcmp(th_state(r), state) != 0)
		th_dump(r);
	cr_assert_str_eq(th_state(r), state, "error: %s", th_error(r));
}

/* A refused run: failed, error names the device and says why, no
 * question asked. */
static void
expect_refused(const char *dev, const char *params, const char *const *allow,
               const char *why)
{
	struct th_run r;
	char want[256];

	th_start(&r, "disk.wipe", params, allow);
	th_finish(&r);
	expect_state(&r, "failed");
	snprintf(want, sizeof(want), "wipe %s: ", dev);
	cr_assert(strstr(th_error(&r), want) != NULL, "error: %s",
	          th_error(&r));
	cr_assert(strstr(th_error(&r), why) != NULL, "error: %s", th_error(&r));
	cr_assert_null(th_find(&r, "question", NULL));
	cr_assert_eq(r.exit_code, 1);
	th_free(&r);
}

Test(wipe, blank_device_no_question)
{
	const char *dev = fx_loop(SIZE_MIB, false);
	struct th_run r;

	th_start(&r, "disk.wipe", wipe_params(dev, "quick", false), loops);
	th_finish(&r);
	expect_state(&r, "completed");
	cr_assert_null(th_find(&r, "question", NULL));
	cr_assert_eq(result_num(&r, "bytesWritten"), 20.0 * FX_MIB);
	cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(
	                     th_result(&r), "signaturesRemoved")),
	             0);
	cr_assert_str_eq(
	        cJSON_GetObjectItem(th_result(&r), "mode")->valuestring,
	        "quick");
	cr_assert(th_logged(&r, "verified: no signature left"));
	cr_assert_eq(r.exit_code, 0);
	th_free(&r);
}

Test(wipe, ext4_asks_and_yes_wipes)
{
	const char *dev = fx_loop(SIZE_MIB, false);
	const cJSON *q, *opts;
	struct th_run r;
	char prompt[128];

	fx_mkfs(dev);
	th_start(&r, "disk.wipe", wipe_params(dev, "quick", false), loops);
	q = th_until(&r, "question");
	cr_assert_not_null(q, "no question asked");
	snprintf(prompt, sizeof(prompt),
	         "Disk %s contains existing data. Proceed with wipe?", dev);
	cr_assert_str_eq(cJSON_GetObjectItem(q, "prompt")->valuestring, prompt);
	opts = cJSON_GetObjectItem(q, "options");
	cr_assert_eq(cJSON_GetArraySize(opts), 2);
	cr_assert_str_eq(cJSON_GetArrayItem(opts, 0)->valuestring, "yes");
	cr_assert_str_eq(cJSON_GetArrayItem(opts, 1)->valuestring, "no");
	th_answer(&r, "yes");
	th_finish(&r);
	expect_state(&r, "completed");
	cr_assert(removed(&r, "ext4"));
	cr_assert_not(fx_blkid_found(dev), "blkid still finds something");
	th_free(&r);
}

Test(wipe, ext4_no_cancels_and_keeps_data)
{
	const char *dev = fx_loop(SIZE_MIB, false);
	struct th_run r;

	fx_mkfs(dev);
	th_start(&r, "disk.wipe", wipe_params(dev, "full", false), loops);
	cr_assert_not_null(th_until(&r, "question"));
	th_answer(&r, "no");
	th_finish(&r);
	expect_state(&r, "canceled");
	cr_assert_str_eq(th_error(&r), "declined by operator");
	cr_assert(fx_blkid_found(dev), "filesystem gone after \"no\"");
	cr_assert_eq(r.exit_code, 2);
	th_free(&r);
}

Test(wipe, agent_gone_while_asking_cancels)
{
	const char *dev = fx_loop(SIZE_MIB, false);
	struct th_run r;

	fx_mkfs(dev);
	th_start(&r, "disk.wipe", wipe_params(dev, "quick", false), loops);
	cr_assert_not_null(th_until(&r, "question"));
	close(r.to_task); /* EOF: the agent went away */
	r.to_task = -1;
	th_finish(&r);
	expect_state(&r, "canceled");
	cr_assert(fx_blkid_found(dev));
	th_free(&r);
}

Test(wipe, confirm_skips_question)
{
	const char *dev = fx_loop(SIZE_MIB, false);
	struct th_run r;

	fx_mkfs(dev);
	th_start(&r, "disk.wipe", wipe_params(dev, "quick", true), loops);
	th_finish(&r);
	expect_state(&r, "completed");
	cr_assert_null(th_find(&r, "question", NULL));
	cr_assert(removed(&r, "ext4"));
	cr_assert_not(fx_blkid_found(dev));
	th_free(&r);
}

Test(wipe, partition_table_and_its_filesystem)
{
	const char *dev = fx_loop(SIZE_MIB, false);
	char sys[128];
	const char *part;
	struct stat st;
	struct th_run r;

	part = fx_gpt(dev);
	fx_mkfs(part);
	th_start(&r, "disk.wipe", wipe_params(dev, "quick", true), loops);
	th_finish(&r);
	expect_state(&r, "completed");
	cr_assert(removed(&r, "gpt"));
	cr_assert(removed(&r, "ext4"), "filesystem inside the partition");
	cr_assert_not(fx_blkid_found(dev));
	snprintf(sys, sizeof(sys), "/sys/class/block/%sp1",
	         strrchr(dev, '/') + 1);
	cr_assert_neq(stat(sys, &st), 0, "kernel still lists %s", part);
	th_free(&r);
}

Test(wipe, full_overwrites_everything_with_progress)
{
	const char *dev = fx_loop(SIZE_MIB, false);
	const cJSON *rec;
	struct th_run r;
	int last = 0, pct;

	fx_fill(dev, 0xab, SIZE_MIB * FX_MIB);
	th_start(&r, "disk.wipe", wipe_params(dev, "full", true), loops);
	th_finish(&r);
	expect_state(&r, "completed");
	cr_assert_eq(result_num(&r, "bytesWritten"), SIZE_MIB * FX_MIB);
	cJSON_ArrayForEach(rec, r.records)
	{
		const cJSON *m = cJSON_GetObjectItem(rec, "message");

		if (!cJSON_IsString(m) ||
		    sscanf(m->valuestring, "wrote %d%%", &pct) != 1)
			continue;
		cr_assert_leq(pct - last, 10, "progress jumped %d%% to %d%%",
		              last, pct);
		last = pct;
	}
	cr_assert_eq(last, 100, "no 100%% progress line");
	cr_assert(th_logged(&r, "wrote 50% (32.0 MiB of 64.0 MiB)"));
	cr_assert(th_logged(&r, "read back as zeroes"));
	cr_assert(fx_all_zero(dev, SIZE_MIB * FX_MIB));
	th_free(&r);
}

Test(wipe, discard_zeroes_the_device)
{
	const char *dev = fx_loop(SIZE_MIB, false);
	struct th_run r;

	fx_fill(dev, 0xcd, SIZE_MIB * FX_MIB);
	th_start(&r, "disk.wipe", wipe_params(dev, "discard", true), loops);
	th_finish(&r);
	expect_state(&r, "completed");
	cr_assert_eq(result_num(&r, "bytesDiscarded"), SIZE_MIB * FX_MIB);
	cr_assert(th_logged(&r, "discarded"));
	cr_assert(fx_all_zero(dev, SIZE_MIB * FX_MIB));
	th_free(&r);
}

Test(wipe, stop_during_full_wipe)
{
	const char *dev = fx_loop(1024, false);
	struct th_run r;
	const cJSON *rec;

	th_start(&r, "disk.wipe", wipe_params(dev, "full", true), loops);
	while ((rec = th_until(&r, "log")) != NULL) {
		const cJSON *m = cJSON_GetObjectItem(rec, "message");

		if (strncmp(m->valuestring, "wrote ", 6) == 0)
			break;
	}
	cr_assert_not_null(rec, "no progress before the end");
	kill(r.pid, SIGTERM);
	th_finish(&r);
	expect_state(&r, "canceled");
	cr_assert(strstr(th_error(&r), "stopped after writing") != NULL,
	          "error: %s", th_error(&r));
	cr_assert(th_logged(&r, "stopped at"));
	cr_assert_not(th_logged(&r, "wrote 100%"));
	th_free(&r);
}

Test(wipe, refuses_mounted_device)
{
	const char *dev = fx_loop(SIZE_MIB, false);
	const char *mnt;
	char why[256];

	fx_mkfs(dev);
	mnt = fx_mount(dev, dev);
	snprintf(why, sizeof(why), "mounted at %s", mnt);
	expect_refused(dev, wipe_params(dev, "quick", true), loops, why);
	cr_assert(fx_blkid_found(dev));
}

Test(wipe, refuses_device_with_mounted_partition)
{
	const char *dev = fx_loop(SIZE_MIB, false);
	const char *part, *mnt;
	char why[256];

	part = fx_gpt(dev);
	fx_mkfs(part);
	mnt = fx_mount(dev, part);
	snprintf(why, sizeof(why), "mounted at %s", mnt);
	expect_refused(dev, wipe_params(dev, "quick", true), loops, why);
	cr_assert(fx_blkid_found(part));
}

Test(wipe, refuses_partition)
{
	const char *dev = fx_loop(SIZE_MIB, false);
	const char *part = fx_gpt(dev);

	fx_mkfs(part);
	expect_refused(part, wipe_params(part, "quick", true), loops,
	               "not a whole disk");
	cr_assert(fx_blkid_found(part));
}

Test(wipe, refuses_swap)
{
	const char *dev = fx_loop(SIZE_MIB, false);

	fx_swapon(dev);
	expect_refused(dev, wipe_params(dev, "quick", true), loops, "swap");
}

Test(wipe, refuses_read_only)
{
	const char *dev = fx_loop(SIZE_MIB, true);

	expect_refused(dev, wipe_params(dev, "quick", true), loops,
	               "read-only");
}

Test(wipe, refuses_outside_allowed_devices)
{
	const char *dev = fx_loop(SIZE_MIB, false);
	const char *const other[] = {"/dev/nodetask-none*", NULL};

	fx_mkfs(dev);
	expect_refused(dev, wipe_params(dev, "quick", true), other,
	               "outside allowed devices");
	cr_assert(fx_blkid_found(dev));
}

Test(wipe, refuses_nonexistent_path)
{
	const char *dev = "/dev/nodetask-no-such-disk";

	expect_refused(dev, wipe_params(dev, "quick", true), loops,
	               "no such device");
}

Test(wipe, refuses_regular_file)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/plain-file", fx_dir);
	fd = open(path, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	expect_refused(path, wipe_params(path, "quick", true), NULL,
	               "not a block device");
	unlink(path);
}

Test(wipe, refuses_busy_device)
{
	const char *dev = fx_loop(SIZE_MIB, false);
	int fd = open(dev, O_RDONLY | O_EXCL | O_CLOEXEC);

	cr_assert_geq(fd, 0);
	expect_refused(dev, wipe_params(dev, "quick", true), loops, "busy");
	close(fd);
}

Test(wipe, refuses_flocked_device)
{
	const char *dev = fx_loop(SIZE_MIB, false);
	int fd = open(dev, O_RDONLY | O_CLOEXEC);

	/* What a running raw-mode BlueStore OSD holds on its device. */
	cr_assert_geq(fd, 0);
	cr_assert_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
	fx_mkfs(dev);
	expect_refused(dev, wipe_params(dev, "quick", true), loops, "locked");
	cr_assert(fx_blkid_found(dev));
	close(fd);
}

Test(wipe, bad_params)
{
	const char *dev = fx_loop(SIZE_MIB, false);
	char params[256];

	expect_refused("(none)", "{\"diskId\":\"1234\"}", loops, "devicePath");
	expect_refused(dev, wipe_params(dev, "fast", true), loops, "mode");
	snprintf(params, sizeof(params),
	         "{\"devicePath\":\"%s\",\"confirm\":\"yes\"}", dev);
	expect_refused(dev, params, loops, "confirm must be true or false");
}

Test(ping, reports_host_version_uptime)
{
	struct th_run r;
	const cJSON *res;

	th_start(&r, "node.ping", "{}", NULL);
	th_finish(&r);
	expect_state(&r, "completed");
	res = th_result(&r);
	cr_assert(cJSON_IsString(cJSON_GetObjectItem(res, "hostname")));
	cr_assert_str_eq(cJSON_GetObjectItem(res, "agentVersion")->valuestring,
	                 NODETASK_VERSION);
	cr_assert(cJSON_IsNumber(cJSON_GetObjectItem(res, "uptimeSeconds")));
	cr_assert_not_null(th_find(&r, "log", "pong"));
	th_free(&r);
}

Test(ping, unknown_task_fails)
{
	struct th_run r;

	th_start(&r, "ceph.nothing", "{}", NULL);
	th_finish(&r);
	expect_state(&r, "failed");
	cr_assert(strstr(th_error(&r), "unknown task") != NULL);
	th_free(&r);
}
