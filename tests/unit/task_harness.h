/*
 * task_harness.h: runs one task the way the agent does, in a child
 * process speaking task.h's line protocol over two pipes, and collects
 * what it reports.
 *
 * Header-only because every tests/unit/test_*.c is its own program. The
 * child leaves with _exit so it never runs the parent's cleanup.
 */
#ifndef TASK_HARNESS_H
#define TASK_HARNESS_H

#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <criterion/criterion.h>

#include "task.h"

struct th_run {
	pid_t pid;
	int to_task;
	FILE *from_task;
	cJSON *records;  /* everything the task reported, in order */
	cJSON *finished; /* the "finished" record, inside records */
	int exit_code;
};

/* Starts a task process and sends it line (its first line, raw). */
static inline void
th_start_raw(struct th_run *r, const char *line)
{
	int in[2], out[2], rc;

	memset(r, 0, sizeof(*r));
	r->exit_code = -1;
	r->records = cJSON_CreateArray();
	cr_assert_eq(pipe2(in, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(out, O_CLOEXEC), 0);
	r->pid = fork();
	cr_assert_geq(r->pid, 0);
	if (r->pid == 0) {
		close(in[1]);
		close(out[0]);
		rc = task_process_main(in[0], out[1]);
		_exit(rc);
	}
	close(in[0]);
	close(out[1]);
	r->to_task = in[1];
	r->from_task = fdopen(out[0], "r");
	cr_assert_not_null(r->from_task);
	cr_assert(dprintf(r->to_task, "%s\n", line) > 0);
}

/* Starts task with params (JSON text) and allowDevices (NULL-ended). */
static inline void
th_start(struct th_run *r, const char *task, const char *params,
         const char *const *allow)
{
	cJSON *run, *arr;
	char *line;

	run = cJSON_CreateObject();
	cJSON_AddStringToObject(run, "runId", "test-run");
	cJSON_AddStringToObject(run, "taskName", task);
	cJSON_AddItemToObject(run, "params", cJSON_Parse(params));
	arr = cJSON_AddArrayToObject(run, "allowDevices");
	for (; allow != NULL && *allow != NULL; allow++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(*allow));
	cJSON_AddObjectToObject(run, "config");
	line = cJSON_PrintUnformatted(run);
	cJSON_Delete(run);
	th_start_raw(r, line);
	cJSON_free(line);
}

/* The next record, or NULL once the task closed its output. */
static inline cJSON *
th_next(struct th_run *r)
{
	char *line = NULL;
	size_t cap = 0;
	cJSON *rec, *type;

	if (getline(&line, &cap, r->from_task) < 0) {
		free(line);
		return NULL;
	}
	rec = cJSON_Parse(line);
	cr_assert_not_null(rec, "task wrote a non-JSON line: %s", line);
	free(line);
	cJSON_AddItemToArray(r->records, rec);
	type = cJSON_GetObjectItem(rec, "type");
	cr_assert(cJSON_IsString(type), "record without a type");
	if (strcmp(type->valuestring, "finished") == 0)
		r->finished = rec;
	return rec;
}

static inline bool
th_is(const cJSON *rec, const char *type)
{
	const cJSON *t = cJSON_GetObjectItem(rec, "type");

	return cJSON_IsString(t) && strcmp(t->valuestring, type) == 0;
}

/* Reads up to the next record of type (NULL at the end). */
static inline cJSON *
th_until(struct th_run *r, const char *type)
{
	cJSON *rec;

	while ((rec = th_next(r)) != NULL) {
		if (th_is(rec, type))
			return rec;
	}
	return NULL;
}

static inline void
th_answer(struct th_run *r, const char *answer)
{
	cr_assert(dprintf(r->to_task, "{\"answer\":\"%s\"}\n", answer) > 0);
}

/* Reads everything, waits for the exit, checks one "finished" came. */
static inline void
th_finish(struct th_run *r)
{
	int st;

	while (th_next(r) != NULL)
		;
	while (waitpid(r->pid, &st, 0) < 0)
		cr_assert_eq(errno, EINTR);
	r->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	fclose(r->from_task);
	r->from_task = NULL;
	close(r->to_task);
	r->to_task = -1;
	cr_assert_not_null(r->finished, "task ended without \"finished\"");
}

static inline const char *
th_state(const struct th_run *r)
{
	return cJSON_GetObjectItem(r->finished, "state")->valuestring;
}

static inline const char *
th_error(const struct th_run *r)
{
	const cJSON *e = cJSON_GetObjectItem(r->finished, "error");

	return cJSON_IsString(e) ? e->valuestring : "";
}

static inline const cJSON *
th_result(const struct th_run *r)
{
	return cJSON_GetObjectItem(r->finished, "result");
}

/* The first record of type whose message/prompt contains text. */
static inline const cJSON *
th_find(const struct th_run *r, const char *type, const char *text)
{
	const cJSON *rec, *m;

	cJSON_ArrayForEach(rec, r->records)
	{
		if (!th_is(rec, type))
			continue;
		m = cJSON_GetObjectItem(rec, "message");
		if (m == NULL)
			m = cJSON_GetObjectItem(rec, "prompt");
		if (text == NULL ||
		    (cJSON_IsString(m) && strstr(m->valuestring, text)))
			return rec;
	}
	return NULL;
}

static inline bool
th_logged(const struct th_run *r, const char *text)
{
	return th_find(r, "log", text) != NULL;
}

/* Prints the run's records: shown with a failing assertion's output. */
static inline void
th_dump(const struct th_run *r)
{
	const cJSON *rec;
	char *s;

	cJSON_ArrayForEach(rec, r->records)
	{
		s = cJSON_PrintUnformatted(rec);
		fprintf(stderr, "  %s\n", s);
		cJSON_free(s);
	}
}

static inline void
th_free(struct th_run *r)
{
	if (r->from_task != NULL)
		fclose(r->from_task);
	if (r->to_task > 0)
		close(r->to_task);
	cJSON_Delete(r->records);
	memset(r, 0, sizeof(*r));
}

#endif
