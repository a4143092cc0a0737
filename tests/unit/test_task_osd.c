/*
 * test_task_osd.c: ceph.create-osd against stand-ins for ceph-volume, the
 * ceph CLI and the OSD start command (shell scripts that print what the
 * real ones print), on real loop devices: settings and their files, the
 * refusals, the question, the reason a failure gives, the cleanup, and
 * that a stop or a timeout ends everything a command started.
 *
 * Real Ceph is exercised by tests/integration/test_ceph_osd.py.
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "agent_config.h"
#include "loop_fixture.h"
#include "nt_err.h"
#include "task_harness.h"

#define SIZE_MIB 64
#define UUID     "11111111-2222-3333-4444-555555555555"
#define KEY      "AQBsb2VnAAAAABAAhCZ9qDaxOKp3AD8ARxISGA=="

static const char *const loops[] = {"/dev/loop*", NULL};
static char fake[256]; /* the stand-ins and what they record */

static const char fake_volume[] =
        "#!/bin/sh\n"
        "shift 2\n" /* --log-path DIR */
        "cmd=$2; shift 2\n"
        "echo \"$cmd $*\" >> \"$NT_FAKE/volume.calls\"\n"
        "case $cmd in\n"
        "list)\n"
        "  if [ -f \"$NT_FAKE/osd.json\" ]; then cat \"$NT_FAKE/osd.json\";\n"
        "  else echo '{}'; fi ;;\n"
        "prepare)\n"
        "  dev=$3\n"
        "  echo 'Running command: /usr/bin/ceph-authtool --gen-print-key' >&2\n"
        "  echo \"Running command: /usr/bin/ceph --cluster ceph --name "
        "client.bootstrap-osd --keyring /k -i - osd new " UUID "\" >&2\n"
        "  echo '--> Creating keyring file for osd.7' >&2\n"
        "  echo ' stderr: key = " KEY "' >&2\n"
        "  case $(cat \"$NT_FAKE/prepare\" 2>/dev/null) in\n"
        "  fail) echo '-->  RuntimeError: Unable to create a new OSD id' >&2\n"
        "    exit 1 ;;\n"
        "  hang) sleep 300 & echo $! > \"$NT_FAKE/grandchild\"\n"
        "    echo 'mkfs running' >&2; wait; exit 0 ;;\n"
        "  esac\n"
        "  printf '{\"%s\": {\"ceph_fsid\": \"F\", \"device\": \"%s\", "
        "\"osd_id\": 7, \"osd_uuid\": \"%s\", \"type\": \"bluestore\"}}\\n' "
        "\\\n    " UUID " \"$dev\" " UUID " > \"$NT_FAKE/osd.json\"\n"
        "  echo \"--> ceph-volume raw clear prepare successful for: $dev\" "
        ">&2 ;;\n"
        "activate)\n"
        "  echo '--> ceph-volume raw activate successful for osd ID: 7' >&2 "
        ";;\n"
        "esac\n";

static const char fake_ceph[] =
        "#!/bin/sh\n"
        "echo \"$*\" >> \"$NT_FAKE/ceph.calls\"\n"
        "shift 6\n" /* -n NAME -k KEYRING --connect-timeout N */
        "echo '2026 -1 auth: unable to find a keyring on /etc/ceph/x: (2) "
        "No such file or directory' >&2\n"
        "if [ -f \"$NT_FAKE/mon-down\" ]; then\n"
        "  echo '[errno 110] RADOS timed out (error connecting to the "
        "cluster)' >&2; exit 1; fi\n"
        "case \"$1 $2\" in\n"
        "'osd dump') if [ -f \"$NT_FAKE/dump.json\" ]; then\n"
        "    cat \"$NT_FAKE/dump.json\"\n"
        "  else echo '{\"fsid\": \"F\", \"osds\": []}'; fi ;;\n"
        "'osd purge-new') echo \"purged $3\" >&2\n"
        "  echo \"$3\" >> \"$NT_FAKE/purged\" ;;\n"
        "*) exit 22 ;;\n"
        "esac\n";

static const char fake_start[] =
        "#!/bin/sh\n"
        "echo \"$*\" > \"$NT_FAKE/start.args\"\n"
        "echo \"starting osd.$1\" >&2\n"
        "printf '{\"fsid\": \"F\", \"osds\": [{\"osd\": 7, \"uuid\": \"%s\", "
        "\"up\": 1, \"in\": 1, \"state\": [\"exists\", \"up\"]}]}\\n' " UUID
        " > \"$NT_FAKE/dump.json\"\n";

static void
write_file(const char *name, const char *text, mode_t mode)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fake, name);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	fclose(f);
	cr_assert_eq(chmod(path, mode), 0);
}

static bool
fake_has(const char *name, const char *text)
{
	char path[512], buf[8192];
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", fake, name);
	f = fopen(path, "r");
	if (f == NULL)
		return false;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return text == NULL || strstr(buf, text) != NULL;
}

static void
osd_setup(void)
{
	fx_setup();
	snprintf(fake, sizeof(fake), "%s/nodetask-osd-XXXXXX",
	         getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp");
	cr_assert_not_null(mkdtemp(fake));
	setenv("NT_FAKE", fake, 1);
	write_file("ceph-volume-fake", fake_volume, 0755);
	write_file("ceph-fake", fake_ceph, 0755);
	write_file("start-fake", fake_start, 0755);
	write_file("ceph.conf", "[global]\n", 0644);
	write_file("keyring", "[client.bootstrap-osd]\n", 0600);
}

static void
osd_cleanup(void)
{
	char cmd[600];

	fx_cleanup();
	if (fake[0] != '\0' && strncmp(fake, "/", 1) == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fake);
		cr_assert_eq(system(cmd), 0);
	}
}

TestSuite(osd, .init = osd_setup, .fini = osd_cleanup, .timeout = 120);

/* The first line of a run, with settings that point at the fakes. */
static char *
osd_line_for(const char *params, const char *conf, int64_t cmd_ms)
{
	char path[4][512];
	cJSON *run, *cfg, *arr;
	char *line;

	snprintf(path[0], sizeof(path[0]), "%s/ceph-volume-fake", fake);
	snprintf(path[1], sizeof(path[1]), "%s/ceph-fake", fake);
	snprintf(path[2], sizeof(path[2]), "%s/start-fake {id} x{id}y", fake);
	snprintf(path[3], sizeof(path[3]), "%s/ceph.conf", fake);
	run = cJSON_CreateObject();
	cJSON_AddStringToObject(run, "runId", "test-run");
	cJSON_AddStringToObject(run, "taskName", "ceph.create-osd");
	cJSON_AddItemToObject(run, "params", cJSON_Parse(params));
	arr = cJSON_AddArrayToObject(run, "allowDevices");
	cJSON_AddItemToArray(arr, cJSON_CreateString(loops[0]));
	cfg = cJSON_AddObjectToObject(run, "config");
	cJSON_AddStringToObject(cfg, "cephConf", conf != NULL ? conf : path[3]);
	snprintf(path[3], sizeof(path[3]), "%s/keyring", fake);
	cJSON_AddStringToObject(cfg, "cephBootstrapKeyring", path[3]);
	cJSON_AddStringToObject(cfg, "cephVolume", path[0]);
	cJSON_AddStringToObject(cfg, "ceph", path[1]);
	cJSON_AddStringToObject(cfg, "osdStartCommand", path[2]);
	cJSON_AddNumberToObject(cfg, "cephCommandTimeoutMs", (double)cmd_ms);
	cJSON_AddNumberToObject(cfg, "osdUpTimeoutMs", 10000);
	cJSON_AddStringToObject(cfg, "stateDir", fake);
	line = cJSON_PrintUnformatted(run);
	cJSON_Delete(run);
	return line;
}

/*
 * Starts the task leading its own process group, as the runner does
 * (task_exec then ends a command with everything it started).
 */
static void
osd_start(struct th_run *r, const char *params, const char *conf,
          int64_t cmd_ms)
{
	char *line = osd_line_for(params, conf, cmd_ms);
	int in[2], out[2];

	memset(r, 0, sizeof(*r));
	r->exit_code = -1;
	r->records = cJSON_CreateArray();
	cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
	r->pid = fork();
	cr_assert_geq(r->pid, 0);
	if (r->pid == 0) {
		setpgid(0, 0);
		close(in[1]);
		close(out[0]);
		_exit(task_process_main(in[0], out[1]));
	}
	setpgid(r->pid, r->pid);
	close(in[0]);
	close(out[1]);
	r->to_task = in[1];
	r->from_task = fdopen(out[0], "r");
	cr_assert_not_null(r->from_task);
	cr_assert(dprintf(r->to_task, "%s\n", line) > 0);
	cJSON_free(line);
}

static char *
dev_params(const char *dev, const char *extra)
{
	static char buf[1100];

	snprintf(buf, sizeof(buf), "{\"devicePath\":\"%s\"%s%s}", dev,
	         extra != NULL ? "," : "", extra != NULL ? extra : "");
	return buf;
}

static void
expect_state(const struct th_run *r, const char *state)
{
	if (strcmp(th_state(r), state) != 0)
		th_dump(r);
	cr_assert_str_eq(th_state(r), state, "error: %s", th_error(r));
}

static void
expect_error(const struct th_run *r, const char *text)
{
	if (strstr(th_error(r), text) == NULL)
		th_dump(r);
	cr_assert(strstr(th_error(r), text) != NULL,
	          "error \"%s\" lacks \"%s\"", th_error(r), text);
}

/* A finished run that failed with text in its error, nothing asked. */
static void
expect_refused(const char *params, const char *conf, const char *text)
{
	struct th_run r;

	osd_start(&r, params, conf, 10000);
	th_finish(&r);
	expect_state(&r, "failed");
	expect_error(&r, text);
	cr_assert_null(th_find(&r, "question", NULL));
	cr_assert_not(fake_has("volume.calls", "prepare"));
	th_free(&r);
}

/* True once pid is gone (or a zombie nobody waits for). */
static bool
gone(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	for (int i = 0; i < 100; i++) {
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
		f = fopen(path, "r");
		if (f == NULL)
			return true;
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[n] = '\0';
		p = strrchr(buf, ')');
		if (p != NULL && p[2] == 'Z')
			return true;
		usleep(50 * 1000);
	}
	return false;
}

static pid_t
grandchild(void)
{
	char path[512];
	FILE *f;
	int pid = 0;

	snprintf(path, sizeof(path), "%s/grandchild", fake);
	f = fopen(path, "r");
	cr_assert_not_null(f, "the fake prepare started nothing");
	cr_assert_eq(fscanf(f, "%d", &pid), 1);
	fclose(f);
	return (pid_t)pid;
}

/* ---- settings and refusals ---------------------------------------------- */

Test(osd, params_checked)
{
	const char *dev = fx_loop(SIZE_MIB, false);
	char p[256];

	expect_refused("{}", NULL, "devicePath is required");
	expect_refused("{\"diskId\":\"x\"}", NULL, "diskId was not resolved");
	snprintf(p, sizeof(p),
	         "{\"devicePath\":\"%s\",\"deviceClass\":\"A B\"}", dev);
	expect_refused(p, NULL, "deviceClass must be");
}

Test(osd, missing_config_fails_naming_the_file)
{
	const char *dev = fx_loop(SIZE_MIB, false);
	char path[512];

	expect_refused(dev_params(dev, NULL), "/nonexistent/ceph.conf",
	               "ceph config /nonexistent/ceph.conf: No such file");
	snprintf(path, sizeof(path), "%s/keyring", fake);
	unlink(path);
	snprintf(path, sizeof(path),
	         "bootstrap-osd keyring %s/keyring: No "
	         "such file",
	         fake);
	expect_refused(dev_params(dev, NULL), NULL, path);
	cr_assert_not(fake_has("volume.calls", NULL), "ceph-volume ran");
}

Test(osd, refusals_of_disk_wipe)
{
	const char *dev = fx_loop(SIZE_MIB, false);
	const char *ro = fx_loop(SIZE_MIB, true);
	char path[512];

	expect_refused(dev_params("/dev/nonexistent-nt", NULL), NULL,
	               "no such device");
	snprintf(path, sizeof(path), "%s/ceph.conf", fake);
	expect_refused(dev_params(path, NULL), NULL, "not a block device");
	expect_refused(dev_params(ro, NULL), NULL, "read-only");
	fx_mkfs(dev);
	fx_mount(dev, dev);
	expect_refused(dev_params(dev, NULL), NULL, "device is mounted at");
}

Test(osd, refuses_a_device_that_backs_an_osd)
{
	const char *dev = fx_loop(SIZE_MIB, false);
	char json[512];

	fx_mkfs(dev);
	snprintf(json, sizeof(json),
	         "{\"" UUID "\": {\"ceph_fsid\": \"F\", \"device\": \"%s\", "
	         "\"osd_id\": 3, \"osd_uuid\": \"" UUID "\", "
	         "\"type\": \"bluestore\"}}\n",
	         dev);
	write_file("osd.json", json, 0644);
	expect_refused(dev_params(dev, NULL), NULL,
	               "device already backs osd.3 (cluster F");
	cr_assert(fx_blkid_found(dev), "the device was touched");
}

/* ---- the question ------------------------------------------------------- */

Test(osd, existing_data_no_cancels_and_keeps_it)
{
	const char *dev = fx_loop(SIZE_MIB, false);
	const cJSON *q;
	struct th_run r;
	char prompt[128];

	fx_mkfs(dev);
	osd_start(&r, dev_params(dev, NULL), NULL, 10000);
	q = th_until(&r, "question");
	cr_assert_not_null(q, "no question asked");
	snprintf(prompt, sizeof(prompt),
	         "Disk %s contains existing data. Wipe it and create an OSD?",
	         dev);
	cr_assert_str_eq(cJSON_GetObjectItem(q, "prompt")->valuestring, prompt);
	th_answer(&r, "no");
	th_finish(&r);
	expect_state(&r, "canceled");
	cr_assert_str_eq(th_error(&r), "declined by operator");
	cr_assert(fx_blkid_found(dev), "the filesystem is gone");
	cr_assert_not(fake_has("volume.calls", "prepare"));
	th_free(&r);
}

Test(osd, cluster_down_fails_naming_the_cause)
{
	const char *dev = fx_loop(SIZE_MIB, false);
	struct th_run r;

	fx_mkfs(dev);
	write_file("mon-down", "", 0644);
	osd_start(&r, dev_params(dev, NULL), NULL, 10000);
	th_finish(&r);
	expect_state(&r, "failed");
	expect_error(&r, "the cluster does not answer: [errno 110] RADOS "
	                 "timed out (error connecting to the cluster)");
	cr_assert_null(th_find(&r, "question", NULL));
	cr_assert(fx_blkid_found(dev), "the device was wiped");
	cr_assert_not(th_logged(&r, "unable to find a keyring"));
	th_free(&r);
}

/* ---- prepare and after --------------------------------------------------- */

Test(osd, creates_an_osd)
{
	const char *dev = fx_loop(SIZE_MIB, false);
	const cJSON *rec, *res;
	struct th_run r;
	char want[128];

	fx_mkfs(dev);
	osd_start(&r,
	          dev_params(dev, "\"confirm\":true,\"deviceClass\":\"ssd_x\""),
	          NULL, 10000);
	th_finish(&r);
	expect_state(&r, "completed");
	res = th_result(&r);
	cr_assert_eq(cJSON_GetObjectItem(res, "osdId")->valueint, 7);
	cr_assert_str_eq(cJSON_GetObjectItem(res, "osdFsid")->valuestring,
	                 UUID);
	cr_assert_null(th_find(&r, "question", NULL));
	cr_assert_not(fx_blkid_found(dev), "the ext4 was not wiped");
	snprintf(want, sizeof(want),
	         "prepare --bluestore --data %s "
	         "--crush-device-class ssd_x",
	         dev);
	cr_assert(fake_has("volume.calls", want));
	snprintf(want, sizeof(want), "activate --device %s --no-systemd", dev);
	cr_assert(fake_has("volume.calls", want));
	cr_assert(fake_has("start.args", "7 x7y"));
	/* ceph-volume's stderr at info, every line, keys never. */
	rec = th_find(&r, "log", "raw clear prepare successful");
	cr_assert_not_null(rec);
	cr_assert_str_eq(cJSON_GetObjectItem(rec, "level")->valuestring,
	                 "info");
	cr_assert(th_logged(&r, "Creating keyring file for osd.7"));
	cr_assert(th_logged(&r, "key = [key]"));
	cr_assert_null(th_find(&r, "log", KEY));
	cr_assert(th_logged(&r, "starting osd.7"));
	cr_assert(th_logged(&r, "osd.7 is up and in"));
	th_free(&r);
}

Test(osd, prepare_failure_gives_the_reason_and_purges)
{
	const char *dev = fx_loop(SIZE_MIB, false);
	struct th_run r;

	write_file("prepare", "fail", 0644);
	write_file("dump.json",
	           "{\"fsid\": \"F\", \"osds\": [{\"osd\": 7, \"uuid\": "
	           "\"" UUID "\", \"up\": 0, \"in\": 1, \"state\": "
	           "[\"exists\", \"new\"]}]}\n",
	           0644);
	osd_start(&r, dev_params(dev, NULL), NULL, 10000);
	th_finish(&r);
	expect_state(&r, "failed");
	expect_error(&r, "ceph-volume raw prepare failed: exit 1: "
	                 "RuntimeError: Unable to "
	                 "create a new OSD id");
	cr_assert(th_logged(&r, "purging osd.7"));
	cr_assert(fake_has("purged", "osd.7"));
	cr_assert(fake_has("ceph.calls", "purge-new osd.7 "
	                                 "--yes-i-really-mean-it"));
	th_free(&r);
}

/* ---- stop and timeout end the whole command ------------------------- */

Test(osd, cancel_during_prepare_ends_what_it_started)
{
	const char *dev = fx_loop(SIZE_MIB, false);
	struct th_run r;
	pid_t gc;

	write_file("prepare", "hang", 0644);
	osd_start(&r, dev_params(dev, NULL), NULL, 60000);
	while (th_next(&r) != NULL && !th_logged(&r, "mkfs running"))
		;
	gc = grandchild();
	kill(-r.pid, SIGTERM); /* as the runner cancels */
	th_finish(&r);
	expect_state(&r, "canceled");
	expect_error(&r, "stopped during ceph-volume raw prepare");
	cr_assert(gone(gc), "prepare's child %d survived the cancel", gc);
	cr_assert(th_logged(&r, "undoing what this run made"));
	cr_assert(fake_has("ceph.calls", "osd dump"));
	th_free(&r);
}

Test(osd, prepare_timeout_ends_what_it_started)
{
	const char *dev = fx_loop(SIZE_MIB, false);
	struct th_run r;

	write_file("prepare", "hang", 0644);
	osd_start(&r, dev_params(dev, NULL), NULL, 1500);
	th_finish(&r);
	expect_state(&r, "failed");
	expect_error(&r, "ceph-volume raw prepare failed: timed out after 1 s");
	cr_assert(gone(grandchild()), "prepare's child survived the timeout");
	th_free(&r);
}

/* ---- the agent settings that reach the task ------------------------------ */

Test(osd_config, ceph_settings_reach_the_task_config)
{
	char *const argv[] = {
	        "nodetask-agent",         "--controller",
	        "tcp://ctl:7400",         "--state-dir",
	        "/var/lib/nodetask",      "--ceph-conf=/etc/ceph/c2.conf",
	        "--ceph-volume",          "/opt/bin/ceph-volume",
	        "--osd-start-command",    "/usr/bin/ceph-osd -f -i {id}",
	        "--osd-up-timeout",       "90s",
	        "--ceph-command-timeout", "2m"};
	enum agent_config_action action;
	struct agent_config c;
	char err[256], *text;
	cJSON *j;

	cr_assert_eq(agent_config_parse(&c,
	                                (int)(sizeof(argv) / sizeof(argv[0])),
	                                argv, &action, err, sizeof(err)),
	             NT_OK, "%s", err);
	text = agent_config_task_json(&c);
	j = cJSON_Parse(text);
	cr_assert_str_eq(cJSON_GetObjectItem(j, "cephConf")->valuestring,
	                 "/etc/ceph/c2.conf");
	cr_assert_str_eq(
	        cJSON_GetObjectItem(j, "cephBootstrapKeyring")->valuestring,
	        "/var/lib/ceph/bootstrap-osd/ceph.keyring");
	cr_assert_str_eq(cJSON_GetObjectItem(j, "cephVolume")->valuestring,
	                 "/opt/bin/ceph-volume");
	cr_assert_str_eq(cJSON_GetObjectItem(j, "ceph")->valuestring,
	                 "/usr/bin/ceph");
	cr_assert_str_eq(cJSON_GetObjectItem(j, "osdStartCommand")->valuestring,
	                 "/usr/bin/ceph-osd -f -i {id}");
	cr_assert_eq(cJSON_GetObjectItem(j, "osdUpTimeoutMs")->valuedouble,
	             90000.0);
	cr_assert_eq(
	        cJSON_GetObjectItem(j, "cephCommandTimeoutMs")->valuedouble,
	        120000.0);
	cr_assert_str_eq(cJSON_GetObjectItem(j, "stateDir")->valuestring,
	                 "/var/lib/nodetask");
	cJSON_Delete(j);
	free(text);
}

Test(osd_config, defaults_and_ceph_conf_from_the_environment)
{
	char *const argv[] = {"nodetask-agent", "--controller",
	                      "tcp://ctl:7400", "--state-dir", "/tmp/s"};
	enum agent_config_action action;
	struct agent_config c;
	char err[256];

	setenv("CEPH_CONF", "/srv/ceph/env.conf", 1);
	cr_assert_eq(agent_config_parse(&c, 5, argv, &action, err, sizeof(err)),
	             NT_OK, "%s", err);
	unsetenv("CEPH_CONF");
	cr_assert_str_eq(c.ceph_conf, "/srv/ceph/env.conf");
	cr_assert_str_eq(c.ceph_volume, "ceph-volume");
	cr_assert_str_eq(c.osd_start,
	                 "ceph-osd -i {id} --setuser ceph --setgroup ceph");
	cr_assert_eq(c.osd_up_ms, 5 * 60 * 1000);
	cr_assert_eq(c.ceph_cmd_ms, 10 * 60 * 1000);
}

Test(osd_config, bad_ceph_settings_are_refused)
{
	static const char *const bad[][2] = {
	        {"ceph-conf", "ceph.conf"},
	        {"ceph-bootstrap-keyring", "/a b"},
	        {"ceph-volume", "bin/ceph-volume"},
	        {"osd-start-command", "ceph-osd -i 3"},
	        {"osd-start-command", "ceph-osd\t-i {id}"},
	        {"osd-up-timeout", "0s"},
	        {"ceph-command-timeout", "500ms"},
	};
	struct agent_config c;
	char err[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		agent_config_defaults(&c);
		err[0] = '\0';
		cr_assert_eq(agent_config_set(&c, bad[i][0], bad[i][1], err,
		                              sizeof(err)),
		             NT_EINVAL, "--%s %s accepted", bad[i][0],
		             bad[i][1]);
		cr_assert(strstr(err, bad[i][0]) != NULL, "error: %s", err);
	}
}
