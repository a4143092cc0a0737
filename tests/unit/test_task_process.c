/*
 * test_task_process.c: the task side of task.h: the line protocol, stop
 * by SIGTERM or by EOF, questions, and task_exec (output as log lines,
 * exit status, capture, environment, timeout, stop, no inherited fds).
 *
 * This program brings its own task_find() with small test tasks, so the
 * linker takes it instead of the catalogue's (task_catalog.o is then not
 * linked at all).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "nt_err.h"
#include "nt_json.h"
#include "task.h"
#include "task_harness.h"

/* ---- the test tasks ---------------------------------------------------- */

/* Runs params.argv with params.env, params.timeoutMs, params.capture. */
static enum task_outcome
t_exec(struct task_ctx *t, cJSON **result, char *err, size_t errlen)
{
	const char *argv[16] = {0}, *env[8] = {0};
	const cJSON *a, *it;
	char *cap = NULL;
	int64_t timeout = 0;
	bool capture = false;
	int status, rc, n = 0;

	cJSON_ArrayForEach(it, cJSON_GetObjectItem(t->params, "argv"))
	{
		if (n < 15)
			argv[n++] = it->valuestring;
	}
	n = 0;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(t->params, "env"))
	{
		if (n < 7)
			env[n++] = it->valuestring;
	}
	nt_json_int(t->params, "timeoutMs", &timeout);
	nt_json_bool(t->params, "capture", &capture);
	rc = task_exec(t, argv, env, (int)timeout, &status,
	               capture ? &cap : NULL);
	*result = cJSON_CreateObject();
	cJSON_AddNumberToObject(*result, "rc", rc);
	cJSON_AddNumberToObject(*result, "status", status);
	if (cap != NULL)
		cJSON_AddStringToObject(*result, "capture", cap);
	free(cap);
	a = cJSON_GetObjectItem(t->params, "failIfStopped");
	if (cJSON_IsTrue(a) && task_stopping()) {
		snprintf(err, errlen, "stopped");
		cJSON_Delete(*result);
		*result = NULL;
		return TASK_CANCELED;
	}
	return TASK_COMPLETED;
}

static enum task_outcome
t_ask(struct task_ctx *t, cJSON **result, char *err, size_t errlen)
{
	static const char *const opts[] = {"yes", "no"};
	char answer[8] = "";
	int rc;

	(void)err;
	(void)errlen;
	rc = task_ask(t, "Continue?", opts, 2, answer, sizeof(answer));
	*result = cJSON_CreateObject();
	cJSON_AddNumberToObject(*result, "rc", rc);
	cJSON_AddStringToObject(*result, "answer", answer);
	return TASK_COMPLETED;
}

/* Logs, then waits for a stop. */
static enum task_outcome
t_spin(struct task_ctx *t, cJSON **result, char *err, size_t errlen)
{
	struct timespec ts = {0, 10 * 1000 * 1000};

	(void)result;
	task_log(t, NT_LOG_INFO, "spinning");
	while (!task_stopping())
		nanosleep(&ts, NULL);
	task_log(t, NT_LOG_WARN, "stopping");
	snprintf(err, errlen, "spin: stopped");
	return TASK_CANCELED;
}

static enum task_outcome
t_log(struct task_ctx *t, cJSON **result, char *err, size_t errlen)
{
	(void)result;
	(void)err;
	(void)errlen;
	task_log(t, NT_LOG_WARN, "first\nsecond");
	task_log(t, NT_LOG_DEBUG, "bad \xff byte and \x01 control");
	return TASK_COMPLETED;
}

static const struct task_def tests[] = {
        {"t.exec", t_exec},
        {"t.ask", t_ask},
        {"t.spin", t_spin},
        {"t.log", t_log},
};

const struct task_def *
task_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(tests) / sizeof(tests[0]); i++)
		if (strcmp(tests[i].name, name) == 0)
			return &tests[i];
	return NULL;
}

/* ---- helpers ----------------------------------------------------------- */

static int
res_int(const struct th_run *r, const char *name)
{
	const cJSON *v = cJSON_GetObjectItem(th_result(r), name);

	cr_assert(cJSON_IsNumber(v), "no %s in result", name);
	return v->valueint;
}

static const cJSON *
log_at(const struct th_run *r, const char *text)
{
	const cJSON *rec = th_find(r, "log", text);

	if (rec == NULL)
		th_dump(r);
	cr_assert_not_null(rec, "no log line \"%s\"", text);
	return rec;
}

static const char *
level_of(const cJSON *rec)
{
	return cJSON_GetObjectItem(rec, "level")->valuestring;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
run_exec(struct th_run *r, const char *params)
{
	th_start(r, "t.exec", params, NULL);
	th_finish(r);
	cr_assert_str_eq(th_state(r), "completed", "%s", th_error(r));
}

/* ---- task_exec ------------------------------------------------------- */

Test(exec, output_becomes_log_lines)
{
	struct th_run r;

	run_exec(&r, "{\"argv\":[\"sh\",\"-c\",\"echo out1; echo err1 >&2; "
	             "printf 'crlf\\\\r\\\\n'; printf partial\"]}");
	cr_assert_eq(res_int(&r, "rc"), NT_OK);
	cr_assert_eq(res_int(&r, "status"), 0);
	cr_assert_str_eq(level_of(log_at(&r, "out1")), "info");
	cr_assert_str_eq(level_of(log_at(&r, "err1")), "warn");
	cr_assert_str_eq(
	        cJSON_GetObjectItem(log_at(&r, "crlf"), "message")->valuestring,
	        "crlf");
	cr_assert_str_eq(level_of(log_at(&r, "partial")), "info");
	th_free(&r);
}

Test(exec, exit_status_and_signal)
{
	struct th_run r;

	run_exec(&r, "{\"argv\":[\"sh\",\"-c\",\"exit 3\"]}");
	cr_assert_eq(res_int(&r, "rc"), NT_OK);
	cr_assert_eq(res_int(&r, "status"), 3);
	th_free(&r);
	run_exec(&r, "{\"argv\":[\"sh\",\"-c\",\"kill -9 $$\"]}");
	cr_assert_eq(res_int(&r, "status"), 128 + 9);
	th_free(&r);
}

Test(exec, capture_and_env)
{
	struct th_run r;
	const cJSON *c;

	run_exec(&r, "{\"argv\":[\"sh\",\"-c\",\"echo $NT_X; echo b\"],"
	             "\"env\":[\"NT_X=hello\"],\"capture\":true}");
	c = cJSON_GetObjectItem(th_result(&r), "capture");
	cr_assert(cJSON_IsString(c));
	cr_assert_str_eq(c->valuestring, "hello\nb\n");
	log_at(&r, "hello");
	th_free(&r);
}

Test(exec, long_line_is_cut_not_lost)
{
	struct th_run r;
	const cJSON *rec;
	size_t total = 0;

	run_exec(&r, "{\"argv\":[\"sh\",\"-c\",\"head -c 10000 /dev/zero | "
	             "tr '\\\\0' x; echo\"]}");
	cJSON_ArrayForEach(rec, r.records)
	{
		const cJSON *m = cJSON_GetObjectItem(rec, "message");

		if (th_is(rec, "log") && cJSON_IsString(m) &&
		    m->valuestring[0] == 'x')
			total += strlen(m->valuestring);
	}
	cr_assert_eq(total, 10000);
	th_free(&r);
}

Test(exec, not_found)
{
	struct th_run r;

	run_exec(&r, "{\"argv\":[\"nodetask-no-such-command\"]}");
	cr_assert_eq(res_int(&r, "rc"), NT_EIO);
	log_at(&r, "cannot run nodetask-no-such-command");
	th_free(&r);
	run_exec(&r, "{\"argv\":[\"/dev/null\"]}");
	cr_assert_eq(res_int(&r, "rc"), NT_EIO);
	log_at(&r, "cannot run /dev/null");
	th_free(&r);
}

Test(exec, timeout_kills)
{
	struct th_run r;
	double t0 = now_s();

	run_exec(&r, "{\"argv\":[\"sleep\",\"30\"],\"timeoutMs\":200}");
	cr_assert_eq(res_int(&r, "rc"), NT_ETIMEDOUT);
	cr_assert_eq(res_int(&r, "status"), 128 + SIGTERM);
	cr_assert_lt(now_s() - t0, 5.0);
	th_free(&r);
}

Test(exec, timeout_escalates_to_sigkill)
{
	struct th_run r;
	double t0 = now_s();

	run_exec(&r, "{\"argv\":[\"sh\",\"-c\",\"trap '' TERM; echo ready; "
	             "while :; do sleep 0.05; done\"],\"timeoutMs\":200}");
	cr_assert_eq(res_int(&r, "rc"), NT_ETIMEDOUT);
	cr_assert_eq(res_int(&r, "status"), 128 + SIGKILL);
	cr_assert_lt(now_s() - t0, 15.0);
	th_free(&r);
}

Test(exec, sigterm_stops_command)
{
	struct th_run r;
	double t0;

	th_start(&r, "t.exec",
	         "{\"argv\":[\"sh\",\"-c\",\"echo started; exec sleep 30\"],"
	         "\"failIfStopped\":false}",
	         NULL);
	cr_assert_not_null(th_until(&r, "log"));
	t0 = now_s();
	kill(r.pid, SIGTERM);
	th_finish(&r);
	cr_assert_lt(now_s() - t0, 5.0);
	cr_assert_eq(res_int(&r, "rc"), NT_ECLOSED);
	cr_assert_eq(res_int(&r, "status"), 128 + SIGTERM);
	th_free(&r);
}

Test(exec, command_gets_no_agent_pipes)
{
	struct th_run r;
	const cJSON *rec;
	int n = 0;

	/* stdin is /dev/null (cat ends at once), and no other fd leaks. */
	run_exec(&r, "{\"argv\":[\"sh\",\"-c\",\"cat; echo done; "
	             "ls /proc/self/fd\"]}");
	log_at(&r, "done");
	cJSON_ArrayForEach(rec, r.records)
	{
		const cJSON *m = cJSON_GetObjectItem(rec, "message");
		int fd;

		if (th_is(rec, "log") && cJSON_IsString(m) &&
		    sscanf(m->valuestring, "%d", &fd) == 1) {
			cr_assert_leq(fd, 3, "fd %d leaked into the command",
			              fd);
			n++;
		}
	}
	cr_assert_eq(n, 4, "expected fds 0-2 and ls's own");
	th_free(&r);
}

/* ---- questions, stop, protocol ----------------------------------------- */

Test(proto, question_and_answer)
{
	struct th_run r;
	const cJSON *q;

	th_start(&r, "t.ask", "{}", NULL);
	q = th_until(&r, "question");
	cr_assert_not_null(q);
	cr_assert_str_eq(cJSON_GetObjectItem(q, "prompt")->valuestring,
	                 "Continue?");
	/* Noise before the answer is ignored. */
	cr_assert(dprintf(r.to_task, "{\"other\":1}\nnot json\n") > 0);
	th_answer(&r, "no");
	th_finish(&r);
	cr_assert_eq(res_int(&r, "rc"), NT_OK);
	cr_assert_str_eq(
	        cJSON_GetObjectItem(th_result(&r), "answer")->valuestring,
	        "no");
	cr_assert_eq(r.exit_code, 0);
	th_free(&r);
}

Test(proto, answer_not_an_option)
{
	struct th_run r;

	th_start(&r, "t.ask", "{}", NULL);
	cr_assert_not_null(th_until(&r, "question"));
	th_answer(&r, "maybe");
	th_finish(&r);
	cr_assert_eq(res_int(&r, "rc"), NT_EPROTO);
	th_free(&r);
}

Test(proto, eof_while_asking)
{
	struct th_run r;

	th_start(&r, "t.ask", "{}", NULL);
	cr_assert_not_null(th_until(&r, "question"));
	close(r.to_task);
	r.to_task = -1;
	th_finish(&r);
	cr_assert_eq(res_int(&r, "rc"), NT_ECLOSED);
	th_free(&r);
}

Test(proto, sigterm_while_asking)
{
	struct th_run r;

	th_start(&r, "t.ask", "{}", NULL);
	cr_assert_not_null(th_until(&r, "question"));
	kill(r.pid, SIGTERM);
	th_finish(&r);
	cr_assert_eq(res_int(&r, "rc"), NT_ECLOSED);
	th_free(&r);
}

Test(proto, sigterm_cancels)
{
	struct th_run r;

	th_start(&r, "t.spin", "{}", NULL);
	cr_assert_not_null(th_until(&r, "log"));
	kill(r.pid, SIGTERM);
	th_finish(&r);
	cr_assert_str_eq(th_state(&r), "canceled");
	cr_assert_str_eq(th_error(&r), "spin: stopped");
	cr_assert_eq(r.exit_code, 2);
	th_free(&r);
}

Test(proto, eof_cancels)
{
	struct th_run r;

	th_start(&r, "t.spin", "{}", NULL);
	cr_assert_not_null(th_until(&r, "log"));
	close(r.to_task);
	r.to_task = -1;
	th_finish(&r);
	cr_assert_str_eq(th_state(&r), "canceled");
	th_free(&r);
}

Test(proto, log_lines_split_and_repaired)
{
	struct th_run r;

	th_start(&r, "t.log", "{}", NULL);
	th_finish(&r);
	cr_assert_str_eq(level_of(log_at(&r, "first")), "warn");
	cr_assert_str_eq(cJSON_GetObjectItem(log_at(&r, "first"), "message")
	                         ->valuestring,
	                 "first");
	log_at(&r, "second");
	cr_assert_str_eq(
	        cJSON_GetObjectItem(log_at(&r, "bad"), "message")->valuestring,
	        "bad ? byte and ? control");
	cr_assert_str_eq(level_of(log_at(&r, "bad")), "debug");
	th_free(&r);
}

Test(proto, bad_first_line)
{
	struct th_run r;

	th_start_raw(&r, "not json");
	th_finish(&r);
	cr_assert_str_eq(th_state(&r), "failed");
	cr_assert_eq(r.exit_code, 3);
	th_free(&r);

	th_start_raw(&r, "{\"runId\":\"x\",\"params\":{}}");
	th_finish(&r);
	cr_assert_str_eq(th_state(&r), "failed");
	cr_assert(strstr(th_error(&r), "taskName") != NULL);
	th_free(&r);

	th_start_raw(&r, "{\"runId\":\"x\",\"taskName\":\"t.log\","
	                 "\"allowDevices\":[1]}");
	th_finish(&r);
	cr_assert_str_eq(th_state(&r), "failed");
	cr_assert(strstr(th_error(&r), "allowDevices") != NULL);
	th_free(&r);
}

Test(proto, unknown_task)
{
	struct th_run r;

	th_start(&r, "no.such", "{}", NULL);
	th_finish(&r);
	cr_assert_str_eq(th_state(&r), "failed");
	cr_assert(strstr(th_error(&r), "unknown task") != NULL);
	cr_assert_eq(r.exit_code, 1);
	th_free(&r);
}
