/*
 * runner.c: task processes and their events (see runner.h).
 *
 * Life of a run: the launcher forks the task process in a new process
 * group (or, without a launcher, fork + execve "task-exec") -> Started
 * -> the task's stdout records and stderr lines become events -> the
 * leader exits -> whatever is left of its group is killed while the
 * leader is still a zombie (so the group id cannot be reused; the
 * launcher does this for its children) -> the pipes are drained ->
 * Finished. A run ends only there, so Finished is always its last
 * event.
 */
#include "runner.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "nt_err.h"
#include "nt_json.h"
#include "nt_log.h"
#include "nt_text.h"
#include "nt_time.h"

extern char **environ;

/* Longer output lines are cut into pieces of this size. */
#define RUNNER_LINE_MAX (256u * 1024)
/* How long to wait for a killed leftover process group to go. */
#define RUNNER_LEFTOVER_WAIT_MS 10000
/* A launcher that died is started again after this long at the soonest. */
#define RUNNER_LAUNCHER_RETRY_MS 5000

typedef Nodetask__Link__RunEvent runner_event;

/* ---- small helpers ------------------------------------------------------- */

static int
runner_buf_add(struct runner_buf *b, const char *p, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap == 0 ? 4096 : b->cap;
		char *d;
		while (cap < b->len + len + 1) {
			cap *= 2;
		}
		if ((d = realloc(b->data, cap)) == NULL) {
			return NT_ENOMEM;
		}
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return NT_OK;
}

static void
runner_buf_drop(struct runner_buf *b, size_t n)
{
	if (n == 0 || b->data == NULL) {
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

static void
runner_buf_fini(struct runner_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static char *
runner_path(const char *dir, const char *name)
{
	size_t len = strlen(dir) + strlen(name) + 2;
	char *p = malloc(len);

	if (p != NULL) {
		snprintf(p, len, "%s/%s", dir, name);
	}
	return p;
}

static void
runner_close(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

/*
 * Reads state, process group and start time from /proc/PID/stat. The
 * command name may hold spaces and parentheses, so fields count from the
 * last ')'.
 */
static int
runner_proc_stat(pid_t pid, char *state, pid_t *pgrp, unsigned long long *start)
{
	char path[64], buf[1024];
	const char *p;
	ssize_t n;
	int fd;
	int rv = NT_ENOTFOUND;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		return NT_ENOTFOUND;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		return NT_ENOTFOUND;
	}
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) != NULL) {
		int ppid, pg;
		/* Fields 3 (state) to 5 (pgrp), then on to 22 (starttime). */
		if (sscanf(p + 1,
		           " %c %d %d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u "
		           "%*d %*d %*d %*d %*d %*d %llu",
		           state, &ppid, &pg, start) == 4) {
			*pgrp = pg;
			rv = NT_OK;
		}
	}
	return rv;
}

/* True while a live (not zombie) process is in process group pgid. */
static bool
runner_group_alive(pid_t pgid)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	bool alive = false;

	if (d == NULL) {
		return kill(-pgid, 0) == 0;
	}
	while (!alive && (de = readdir(d)) != NULL) {
		char *end, state;
		long pid = strtol(de->d_name, &end, 10);
		pid_t pg;
		unsigned long long st;

		if (*end != '\0' || pid <= 0) {
			continue;
		}
		if (runner_proc_stat((pid_t)pid, &state, &pg, &st) == NT_OK &&
		    pg == pgid && state != 'Z' && state != 'X') {
			alive = true;
		}
	}
	closedir(d);
	return alive;
}

static void
runner_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

/* ---- events -------------------------------------------------------------- */

static void
runner_emit(struct runner *r, const char *run_id, uint64_t seq,
            runner_event *ev)
{
	ev->run_id = (char *)run_id;
	ev->seq = seq;
	ev->ts_us = nt_time_now_us();
	r->ops.emit(r->arg, ev);
}

static void
runner_emit_log(struct runner *r, struct runner_run *run,
                Nodetask__Link__LogLine__Level level, const char *msg)
{
	Nodetask__Link__LogLine log = NODETASK__LINK__LOG_LINE__INIT;
	runner_event ev = NODETASK__LINK__RUN_EVENT__INIT;

	log.level = level;
	log.message = (char *)msg;
	ev.kind_case = NODETASK__LINK__RUN_EVENT__KIND_LOG;
	ev.log = &log;
	runner_emit(r, run->id, ++run->seq, &ev);
}

static void
runner_emit_finished(struct runner *r, const char *run_id, uint64_t seq,
                     Nodetask__Link__Finished__State state, const char *error,
                     const char *result)
{
	Nodetask__Link__Finished fin = NODETASK__LINK__FINISHED__INIT;
	runner_event ev = NODETASK__LINK__RUN_EVENT__INIT;

	fin.state = state;
	fin.error = (char *)(error != NULL ? error : "");
	fin.result_json = (char *)(result != NULL ? result : "");
	ev.kind_case = NODETASK__LINK__RUN_EVENT__KIND_FINISHED;
	ev.finished = &fin;
	runner_emit(r, run_id, seq, &ev);
}

static void
runner_done_add(struct runner *r, const char *run_id)
{
	char *id;

	if (nt_map_get(&r->done, run_id) != NULL ||
	    (id = strdup(run_id)) == NULL) {
		return;
	}
	if (r->done_ring[r->done_next] != NULL) {
		nt_map_del(&r->done, r->done_ring[r->done_next]);
		free(r->done_ring[r->done_next]);
	}
	if (nt_map_put(&r->done, id, id) != NT_OK) {
		free(id);
		r->done_ring[r->done_next] = NULL;
		return;
	}
	r->done_ring[r->done_next] = id;
	r->done_next = (r->done_next + 1) % RUNNER_DONE_MAX;
}

/* ---- task records (stdout) ----------------------------------------------- */

static Nodetask__Link__LogLine__Level
runner_level(const char *s)
{
	if (s == NULL) {
		return NODETASK__LINK__LOG_LINE__LEVEL__INFO;
	}
	if (strcmp(s, "debug") == 0) {
		return NODETASK__LINK__LOG_LINE__LEVEL__DEBUG;
	}
	if (strcmp(s, "warn") == 0) {
		return NODETASK__LINK__LOG_LINE__LEVEL__WARN;
	}
	if (strcmp(s, "error") == 0) {
		return NODETASK__LINK__LOG_LINE__LEVEL__ERROR;
	}
	return NODETASK__LINK__LOG_LINE__LEVEL__INFO;
}

static bool
runner_rec_log(struct runner *r, struct runner_run *run, const cJSON *j)
{
	const char *level = NULL, *msg;
	char *copy;

	if (nt_json_string(j, "message", &msg) != NT_JSON_OK ||
	    nt_json_string(j, "level", &level) == NT_JSON_WRONGTYPE ||
	    (copy = strdup(msg)) == NULL) {
		return false;
	}
	nt_text_sanitize(copy);
	runner_emit_log(r, run, runner_level(level), copy);
	free(copy);
	return true;
}

static bool
runner_rec_question(struct runner *r, struct runner_run *run, const cJSON *j)
{
	Nodetask__Link__Question q = NODETASK__LINK__QUESTION__INIT;
	runner_event ev = NODETASK__LINK__RUN_EVENT__INIT;
	const cJSON *opts = cJSON_GetObjectItemCaseSensitive(j, "options");
	const cJSON *o;
	const char *prompt;
	char *texts[16];
	size_t n = 0;
	bool ok = true;

	if (nt_json_string(j, "prompt", &prompt) != NT_JSON_OK ||
	    !cJSON_IsArray(opts) || cJSON_GetArraySize(opts) < 1 ||
	    cJSON_GetArraySize(opts) > 16) {
		return false;
	}
	cJSON_ArrayForEach(o, opts)
	{
		if (!cJSON_IsString(o) ||
		    (texts[n] = strdup(o->valuestring)) == NULL) {
			ok = false;
			break;
		}
		nt_text_sanitize(texts[n++]);
	}
	if (ok && nt_uuid_new(run->question) != NT_OK) {
		ok = false;
	}
	if (ok && (q.prompt = strdup(prompt)) != NULL) {
		nt_text_sanitize(q.prompt);
		q.question_id = run->question;
		q.options = texts;
		q.n_options = n;
		ev.kind_case = NODETASK__LINK__RUN_EVENT__KIND_QUESTION;
		ev.question = &q;
		runner_emit(r, run->id, ++run->seq, &ev);
		free(q.prompt);
	} else {
		run->question[0] = '\0';
		ok = false;
	}
	while (n > 0) {
		free(texts[--n]);
	}
	return ok;
}

/* The result is kept until the process is gone: Finished comes last. */
static bool
runner_rec_finished(struct runner_run *run, const cJSON *j)
{
	const char *state, *error = NULL;
	const cJSON *result = NULL;

	if (nt_json_string(j, "state", &state) != NT_JSON_OK ||
	    nt_json_string(j, "error", &error) == NT_JSON_WRONGTYPE ||
	    nt_json_object(j, "result", &result) == NT_JSON_WRONGTYPE) {
		return false;
	}
	if (strcmp(state, "completed") == 0) {
		run->fin_state = NODETASK__LINK__FINISHED__STATE__COMPLETED;
	} else if (strcmp(state, "failed") == 0) {
		run->fin_state = NODETASK__LINK__FINISHED__STATE__FAILED;
	} else if (strcmp(state, "canceled") == 0) {
		run->fin_state = NODETASK__LINK__FINISHED__STATE__CANCELED;
	} else {
		return false;
	}
	free(run->fin_error);
	free(run->fin_result);
	run->fin_error = error != NULL ? strdup(error) : NULL;
	run->fin_result = result != NULL ? nt_json_print(result) : NULL;
	if (run->fin_error != NULL) {
		nt_text_sanitize(run->fin_error);
	}
	run->have_result = true;
	return true;
}

static void
runner_stdout_line(struct runner *r, struct runner_run *run, char *line,
                   size_t len)
{
	cJSON *j = cJSON_ParseWithLength(line, len);
	const char *type = NULL;
	bool ok = false;

	if (j != NULL && nt_json_string(j, "type", &type) == NT_JSON_OK) {
		if (strcmp(type, "log") == 0) {
			ok = runner_rec_log(r, run, j);
		} else if (strcmp(type, "question") == 0) {
			ok = runner_rec_question(r, run, j);
		} else if (strcmp(type, "finished") == 0) {
			ok = runner_rec_finished(run, j);
		}
	}
	cJSON_Delete(j);
	if (!ok && len > 0) {
		/* Not a record: keep it as text rather than lose it. */
		nt_text_sanitize(line);
		runner_emit_log(r, run, NODETASK__LINK__LOG_LINE__LEVEL__WARN,
		                line);
	}
}

static void
runner_stderr_line(struct runner *r, struct runner_run *run, char *line,
                   size_t len)
{
	if (len == 0) {
		return;
	}
	nt_text_sanitize(line);
	runner_emit_log(r, run, NODETASK__LINK__LOG_LINE__LEVEL__WARN, line);
}

/* Hands every complete line (all of it at EOF) to fn. */
static void
runner_lines(struct runner *r, struct runner_run *run, struct runner_buf *b,
             bool eof,
             void (*fn)(struct runner *, struct runner_run *, char *, size_t))
{
	size_t start = 0;

	for (size_t i = 0; i < b->len; i++) {
		if (b->data[i] == '\n') {
			b->data[i] = '\0';
			fn(r, run, b->data + start, i - start);
			start = i + 1;
		}
	}
	runner_buf_drop(b, start);
	if (b->len > 0 && (eof || b->len >= RUNNER_LINE_MAX)) {
		fn(r, run, b->data, strlen(b->data));
		runner_buf_drop(b, b->len);
	}
}

/* Reads what is there; closes fd at EOF or error. */
static void
runner_read(struct runner *r, struct runner_run *run, int *fd,
            struct runner_buf *b,
            void (*fn)(struct runner *, struct runner_run *, char *, size_t))
{
	char chunk[16384];

	while (*fd >= 0) {
		ssize_t n = read(*fd, chunk, sizeof(chunk));
		if (n > 0) {
			/* A NUL would end the line early: make it visible. */
			for (ssize_t i = 0; i < n; i++) {
				if (chunk[i] == '\0') {
					chunk[i] = '?';
				}
			}
			if (runner_buf_add(b, chunk, (size_t)n) != NT_OK) {
				nt_error("runner: run %s: out of memory for "
				         "output",
				         run->id);
				runner_buf_drop(b, b->len);
			}
			runner_lines(r, run, b, false, fn);
			continue;
		}
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			return;
		}
		runner_close(fd);
		runner_lines(r, run, b, true, fn);
	}
}

/* Writes queued input; drops it when the task stopped reading. */
static void
runner_write(struct runner_run *run)
{
	while (run->in_fd >= 0 && run->in.len > 0) {
		ssize_t n = write(run->in_fd, run->in.data, run->in.len);
		if (n > 0) {
			runner_buf_drop(&run->in, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR) {
			continue;
		}
		if (n < 0 && errno == EAGAIN) {
			return;
		}
		nt_debug("runner: run %s: stdin closed: %s", run->id,
		         strerror(errno));
		runner_close(&run->in_fd);
		runner_buf_drop(&run->in, run->in.len);
	}
}

static int
runner_send_json(struct runner_run *run, const cJSON *j)
{
	char *s = nt_json_print(j);
	int rv;

	if (s == NULL) {
		return NT_ENOMEM;
	}
	if ((rv = runner_buf_add(&run->in, s, strlen(s))) == NT_OK) {
		rv = runner_buf_add(&run->in, "\n", 1);
	}
	cJSON_free(s);
	runner_write(run);
	return rv;
}

/* ---- starting a run ------------------------------------------------------ */

/* In the child, between fork and execve: async-signal-safe calls only. */
static void __attribute__((noreturn))
runner_child(int in, int out, int err, pid_t parent, const char *exe,
             char *const argv[])
{
	struct sigaction dfl;
	sigset_t none;

	setpgid(0, 0);
	/* Die with the agent; the next agent kills the rest of the group. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent) {
		_exit(127);
	}
	if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0 ||
	    dup2(err, STDERR_FILENO) < 0) {
		_exit(127);
	}
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++) {
		(void)sigaction(sig, &dfl, NULL);
	}
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(exe, argv, environ);
	_exit(127);
}

static int
runner_pipes(int in[2], int out[2], int err[2])
{
	in[0] = in[1] = out[0] = out[1] = err[0] = err[1] = -1;
	if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 ||
	    pipe2(err, O_CLOEXEC) != 0) {
		return NT_EIO;
	}
	return NT_OK;
}

static void
runner_close_pipes(int in[2], int out[2], int err[2])
{
	for (int i = 0; i < 2; i++) {
		runner_close(&in[i]);
		runner_close(&out[i]);
		runner_close(&err[i]);
	}
}

static void runner_launcher_lost(struct runner *r);

/* The launcher, started again if it died (at most every few seconds). */
static bool
runner_launcher_ready(struct runner *r)
{
	if (r->launcher_off)
		return false;
	if (launcher_up(&r->launcher))
		return true;
	if (r->launcher.started_ms != 0 &&
	    nt_time_mono_ms() - r->launcher.started_ms <
	            RUNNER_LAUNCHER_RETRY_MS)
		return false;
	if (launcher_start(&r->launcher, r->exe) != NT_OK) {
		r->launcher_off = true;
		return false;
	}
	return true;
}

/* fork + execve of "task-exec": without the launcher, or if it fails. */
static int
runner_fork_exec(struct runner *r, struct runner_run *run, int in[2],
                 int out[2], int err[2], pid_t *pidp)
{
	char *argv[] = {"nodetask-agent", "task-exec", run->id, NULL};
	sigset_t all, old;
	pid_t parent = getpid(), pid;

	/* No handler may run in the child before it resets them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0) {
		runner_child(in[0], out[1], err[1], parent, r->exe, argv);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		return NT_EIO;
	}
	/* Also here, so a stop right away finds the group. */
	(void)setpgid(pid, pid);
	*pidp = pid;
	return NT_OK;
}

static int
runner_spawn(struct runner *r, struct runner_run *run)
{
	int in[2], out[2], err[2];
	char state;
	pid_t pg, pid;
	bool tried;

	if (runner_pipes(in, out, err) != NT_OK) {
		runner_close_pipes(in, out, err);
		return NT_EIO;
	}
	tried = runner_launcher_ready(r);
	run->launched = tried && launcher_spawn(&r->launcher, run->id, in[0],
	                                        out[1], err[1], &pid) == NT_OK;
	if (tried && !run->launched && !launcher_up(&r->launcher)) {
		/* A launcher that stopped answering was stopped, and its
		 * task processes died with it. */
		runner_launcher_lost(r);
	}
	if (!run->launched &&
	    runner_fork_exec(r, run, in, out, err, &pid) != NT_OK) {
		runner_close_pipes(in, out, err);
		return NT_EIO;
	}
	run->pid = pid;
	run->in_fd = in[1];
	run->out_fd = out[0];
	run->err_fd = err[0];
	in[1] = out[0] = err[0] = -1;
	runner_close_pipes(in, out, err);
	fcntl(run->in_fd, F_SETFL, O_NONBLOCK);
	fcntl(run->out_fd, F_SETFL, O_NONBLOCK);
	fcntl(run->err_fd, F_SETFL, O_NONBLOCK);
	if (runner_proc_stat(pid, &state, &pg, &run->start_time) != NT_OK) {
		run->start_time = 0;
	}
	return NT_OK;
}

/* STATE_DIR/runs/RUN_ID: "PGID STARTTIME" for the next agent. */
static void
runner_record_write(struct runner *r, const struct runner_run *run)
{
	char *path = runner_path(r->runs_dir, run->id);
	char line[64];
	int fd, len;

	if (path == NULL) {
		return;
	}
	len = snprintf(line, sizeof(line), "%d %llu\n", (int)run->pid,
	               run->start_time);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, line, (size_t)len) != len) {
		nt_warn("runner: record %s: %s", path, strerror(errno));
	}
	if (fd >= 0) {
		close(fd);
	}
	free(path);
}

static void
runner_record_remove(struct runner *r, const char *run_id)
{
	char *path = runner_path(r->runs_dir, run_id);

	if (path != NULL && unlink(path) != 0 && errno != ENOENT) {
		nt_warn("runner: remove %s: %s", path, strerror(errno));
	}
	free(path);
}

/* The task's first input line (task.h). */
static int
runner_first_line(struct runner *r, struct runner_run *run, cJSON *params)
{
	cJSON *j = cJSON_CreateObject();
	cJSON *allow = cJSON_CreateArray();
	cJSON *config;
	int rv = NT_ENOMEM;

	if (j == NULL || allow == NULL) {
		cJSON_Delete(j);
		cJSON_Delete(allow);
		cJSON_Delete(params);
		return NT_ENOMEM;
	}
	cJSON_AddItemToObject(j, "allowDevices", allow);
	for (size_t i = 0; i < r->n_allow; i++) {
		cJSON_AddItemToArray(allow, cJSON_CreateString(r->allow[i]));
	}
	config = r->task_config != NULL ? cJSON_Duplicate(r->task_config, true)
	                                : cJSON_CreateObject();
	if (cJSON_AddStringToObject(j, "runId", run->id) != NULL &&
	    cJSON_AddStringToObject(j, "taskName", run->task) != NULL &&
	    cJSON_AddItemToObject(j, "params", params) &&
	    cJSON_AddItemToObject(j, "config", config) &&
	    cJSON_AddStringToObject(config, "hostname", r->hostname) != NULL) {
		rv = runner_send_json(run, j);
	} else {
		if (cJSON_GetObjectItemCaseSensitive(j, "params") == NULL) {
			cJSON_Delete(params);
		}
		if (cJSON_GetObjectItemCaseSensitive(j, "config") == NULL) {
			cJSON_Delete(config);
		}
	}
	cJSON_Delete(j);
	return rv;
}

/* params.devicePath as the kernel names it, or NULL when there is none. */
static char *
runner_device(const cJSON *params)
{
	const char *dev;
	char *real;

	if (nt_json_string(params, "devicePath", &dev) != NT_JSON_OK ||
	    dev[0] == '\0') {
		return NULL;
	}
	if ((real = realpath(dev, NULL)) != NULL) {
		return real;
	}
	return strdup(dev);
}

static void
runner_run_free(struct runner_run *run)
{
	runner_close(&run->in_fd);
	runner_close(&run->out_fd);
	runner_close(&run->err_fd);
	runner_buf_fini(&run->in);
	runner_buf_fini(&run->out);
	runner_buf_fini(&run->err);
	free(run->device);
	free(run->stop_why);
	free(run->fin_error);
	free(run->fin_result);
	free(run);
}

static struct runner_run *
runner_run_new(const char *run_id, const char *task, uint64_t last_seq)
{
	struct runner_run *run = calloc(1, sizeof(*run));

	if (run == NULL) {
		return NULL;
	}
	snprintf(run->id, sizeof(run->id), "%s", run_id);
	snprintf(run->task, sizeof(run->task), "%s", task);
	run->in_fd = run->out_fd = run->err_fd = -1;
	run->seq = last_seq;
	return run;
}

/* Refuses a dispatch without starting anything. */
static void
runner_refuse(struct runner *r, const char *run_id, uint64_t last_seq,
              const char *why)
{
	nt_warn("runner: run %s refused: %s", run_id, why);
	runner_emit_finished(r, run_id, last_seq + 1,
	                     NODETASK__LINK__FINISHED__STATE__FAILED, why,
	                     NULL);
	runner_done_add(r, run_id);
}

static int
runner_register(struct runner *r, struct runner_run *run)
{
	if (nt_map_put(&r->active, run->id, run) != NT_OK) {
		return NT_ENOMEM;
	}
	if (run->device != NULL &&
	    nt_map_put(&r->devices, run->device, run) != NT_OK) {
		nt_map_del(&r->active, run->id);
		return NT_ENOMEM;
	}
	run->next = r->runs;
	r->runs = run;
	r->n_runs++;
	return NT_OK;
}

void
runner_dispatch(struct runner *r, const char *run_id, const char *task,
                const char *params_json, uint64_t last_seq)
{
	runner_event ev = NODETASK__LINK__RUN_EVENT__INIT;
	Nodetask__Link__Started started = NODETASK__LINK__STARTED__INIT;
	struct runner_run *run, *holder;
	cJSON *params;
	char why[512];

	if (runner_known(r, run_id)) {
		nt_debug("runner: dispatch of run %s again: ignored", run_id);
		return;
	}
	if (!nt_text_is_token(task, sizeof(run->task) - 1)) {
		runner_refuse(r, run_id, last_seq, "bad task name");
		return;
	}
	params = params_json[0] != '\0' ? cJSON_Parse(params_json)
	                                : cJSON_CreateObject();
	if (!cJSON_IsObject(params)) {
		cJSON_Delete(params);
		runner_refuse(r, run_id, last_seq,
		              "params are not a JSON object");
		return;
	}
	if ((run = runner_run_new(run_id, task, last_seq)) == NULL) {
		cJSON_Delete(params);
		runner_refuse(r, run_id, last_seq, "agent out of memory");
		return;
	}
	run->device = runner_device(params);
	if (run->device != NULL &&
	    (holder = nt_map_get(&r->devices, run->device)) != NULL) {
		snprintf(why, sizeof(why), "device %s is held by run %s",
		         run->device, holder->id);
		cJSON_Delete(params);
		runner_run_free(run);
		runner_refuse(r, run_id, last_seq, why);
		return;
	}
	if (runner_register(r, run) != NT_OK) {
		cJSON_Delete(params);
		runner_run_free(run);
		runner_refuse(r, run_id, last_seq, "agent out of memory");
		return;
	}
	if (runner_spawn(r, run) != NT_OK) {
		snprintf(why, sizeof(why),
		         "could not start the task process: %s",
		         strerror(errno));
		cJSON_Delete(params);
		nt_map_del(&r->active, run->id);
		if (run->device != NULL) {
			nt_map_del(&r->devices, run->device);
		}
		r->runs = run->next;
		r->n_runs--;
		runner_refuse(r, run_id, run->seq, why);
		runner_run_free(run);
		return;
	}
	nt_info("runner: run %s (%s) started as process %d", run->id, run->task,
	        (int)run->pid);
	ev.kind_case = NODETASK__LINK__RUN_EVENT__KIND_STARTED;
	ev.started = &started;
	runner_emit(r, run->id, ++run->seq, &ev);
	runner_record_write(r, run);
	if (runner_first_line(r, run, params) != NT_OK) {
		nt_error("runner: run %s: could not write its first line",
		         run->id);
	}
	if (r->ops.changed != NULL) {
		r->ops.changed(r->arg);
	}
}

/* ---- stopping and ending ------------------------------------------------- */

static void
runner_signal(struct runner_run *run, int sig)
{
	if (kill(-run->pid, sig) != 0 && errno != ESRCH) {
		nt_warn("runner: run %s: signal %d to group %d: %s", run->id,
		        sig, (int)run->pid, strerror(errno));
	}
}

int
runner_stop(struct runner *r, const char *run_id, const char *why)
{
	struct runner_run *run = nt_map_get(&r->active, run_id);

	if (run == NULL) {
		return NT_ENOTFOUND;
	}
	if (run->stopping) {
		return NT_OK;
	}
	nt_info("runner: run %s: %s", run->id, why);
	run->stopping = true;
	run->stop_why = strdup(why);
	run->kill_at_ms = nt_time_mono_ms() + r->grace_ms;
	runner_emit_log(r, run, NODETASK__LINK__LOG_LINE__LEVEL__WARN, why);
	runner_signal(run, SIGTERM);
	return NT_OK;
}

void
runner_stop_all(struct runner *r, const char *why)
{
	for (struct runner_run *run = r->runs; run != NULL; run = run->next) {
		(void)runner_stop(r, run->id, why);
	}
}

static void
runner_unlink(struct runner *r, struct runner_run *run)
{
	struct runner_run **pp = &r->runs;

	while (*pp != NULL && *pp != run) {
		pp = &(*pp)->next;
	}
	if (*pp != NULL) {
		*pp = run->next;
		r->n_runs--;
	}
	nt_map_del(&r->active, run->id);
	if (run->device != NULL) {
		nt_map_del(&r->devices, run->device);
	}
}

/* The result as reported, or what the exit and a stop imply. */
static void
runner_finish(struct runner *r, struct runner_run *run, int status)
{
	Nodetask__Link__Finished__State state = run->fin_state;
	const char *error = run->fin_error;
	char why[256];

	if (run->stopping &&
	    !(run->have_result &&
	      state == NODETASK__LINK__FINISHED__STATE__COMPLETED)) {
		/* Stopped: canceled, whatever the task said on its way out. */
		state = NODETASK__LINK__FINISHED__STATE__CANCELED;
		error = run->stop_why != NULL ? run->stop_why : "stopped";
	} else if (!run->have_result) {
		if (WIFSIGNALED(status)) {
			snprintf(why, sizeof(why),
			         "task process killed by signal %d without a "
			         "result",
			         WTERMSIG(status));
		} else {
			snprintf(why, sizeof(why),
			         "task process exited with status %d without a "
			         "result",
			         WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		}
		state = NODETASK__LINK__FINISHED__STATE__FAILED;
		error = why;
	}
	nt_info("runner: run %s ended (%s%s%s)", run->id,
	        state == NODETASK__LINK__FINISHED__STATE__COMPLETED
	                ? "completed"
	        : state == NODETASK__LINK__FINISHED__STATE__CANCELED
	                ? "canceled"
	                : "failed",
	        error != NULL && error[0] != '\0' ? ": " : "",
	        error != NULL ? error : "");
	runner_emit_finished(r, run->id, ++run->seq, state, error,
	                     state == NODETASK__LINK__FINISHED__STATE__COMPLETED
	                             ? run->fin_result
	                             : NULL);
}

/*
 * The leader has exited and is still a zombie: kill what is left of its
 * group, reap it, take the rest of its output, send Finished.
 */
static void
runner_end(struct runner *r, struct runner_run *run, int status)
{
	if (!run->launched) {
		/* The launcher did this for its own children. */
		runner_signal(run, SIGKILL);
		while (waitpid(run->pid, &status, 0) < 0 && errno == EINTR) {
		}
	}
	runner_read(r, run, &run->out_fd, &run->out, runner_stdout_line);
	runner_read(r, run, &run->err_fd, &run->err, runner_stderr_line);
	/* Output still held by an escaped process is not waited for. */
	runner_lines(r, run, &run->out, true, runner_stdout_line);
	runner_lines(r, run, &run->err, true, runner_stderr_line);
	runner_finish(r, run, status);
	runner_unlink(r, run);
	runner_record_remove(r, run->id);
	runner_done_add(r, run->id);
	runner_run_free(run);
	if (r->ops.changed != NULL) {
		r->ops.changed(r->arg);
	}
}

/* Ends the runs whose task process the launcher has reaped. */
static void
runner_launcher_reports(struct runner *r)
{
	pid_t pid;
	int status, rv;

	while ((rv = launcher_read_exit(&r->launcher, &pid, &status)) ==
	       NT_OK) {
		for (struct runner_run *run = r->runs; run != NULL;
		     run = run->next) {
			if (run->launched && run->pid == pid) {
				runner_end(r, run, status);
				break;
			}
		}
	}
	if (rv == NT_EIO && r->launcher.pid > 0) {
		launcher_stop(&r->launcher);
		runner_launcher_lost(r);
	}
}

/*
 * The launcher is gone, and with it (parent-death signal) the leaders of
 * its task processes: kill the rest of their groups and end the runs.
 * A run that reported its result still ends with it.
 */
static void
runner_launcher_lost(struct runner *r)
{
	struct runner_run *run = r->runs, *next;

	nt_error("runner: the task launcher exited; its task processes were "
	         "killed with it");
	for (; run != NULL; run = next) {
		next = run->next;
		if (run->launched) {
			runner_signal(run, SIGKILL);
			runner_end(r, run, SIGKILL);
		}
	}
}

void
runner_reap(struct runner *r)
{
	struct runner_run *run = r->runs, *next;

	for (; run != NULL; run = next) {
		siginfo_t si;
		next = run->next;
		memset(&si, 0, sizeof(si));
		/* WNOWAIT: the zombie keeps the group id ours until reaped. */
		if (!run->launched &&
		    waitid(P_PID, (id_t)run->pid, &si,
		           WEXITED | WNOHANG | WNOWAIT) == 0 &&
		    si.si_pid == run->pid) {
			runner_end(r, run, 0);
		}
	}
	/* Reports it sent before it died still count. */
	runner_launcher_reports(r);
	if (launcher_exited(&r->launcher)) {
		runner_launcher_lost(r);
	}
}

void
runner_finish_other(struct runner *r, const char *run_id, uint64_t seq,
                    Nodetask__Link__Finished__State state, const char *error)
{
	if (runner_known(r, run_id)) {
		return;
	}
	nt_warn("runner: run %s: %s", run_id, error);
	runner_emit_finished(r, run_id, seq, state, error, NULL);
	runner_done_add(r, run_id);
}

/* ---- answers ------------------------------------------------------------- */

static bool
runner_answered(const struct runner_run *run, const char *question_id)
{
	size_t n = run->n_answered < RUNNER_ANSWERED_MAX ? run->n_answered
	                                                 : RUNNER_ANSWERED_MAX;

	for (size_t i = 0; i < n; i++) {
		if (strcmp(run->answered[i], question_id) == 0) {
			return true;
		}
	}
	return false;
}

void
runner_answer(struct runner *r, const char *run_id, const char *question_id,
              const char *answer)
{
	struct runner_run *run = nt_map_get(&r->active, run_id);
	Nodetask__Link__AnswerReceived ar =
	        NODETASK__LINK__ANSWER_RECEIVED__INIT;
	runner_event ev = NODETASK__LINK__RUN_EVENT__INIT;
	cJSON *j;

	if (run == NULL || runner_answered(run, question_id)) {
		return; /* ended, or a resend of an answer we passed on */
	}
	if (strcmp(run->question, question_id) != 0) {
		nt_warn("runner: run %s: answer to question %s, which is not "
		        "open; ignored",
		        run_id, question_id);
		return;
	}
	if ((j = cJSON_CreateObject()) == NULL ||
	    cJSON_AddStringToObject(j, "answer", answer) == NULL ||
	    runner_send_json(run, j) != NT_OK) {
		nt_error("runner: run %s: could not pass the answer on",
		         run_id);
		cJSON_Delete(j);
		return;
	}
	cJSON_Delete(j);
	snprintf(run->answered[run->n_answered % RUNNER_ANSWERED_MAX],
	         NT_UUID_BUFLEN, "%s", question_id);
	run->n_answered++;
	run->question[0] = '\0';
	ar.question_id = (char *)question_id;
	ev.kind_case = NODETASK__LINK__RUN_EVENT__KIND_ANSWER_RECEIVED;
	ev.answer_received = &ar;
	runner_emit(r, run->id, ++run->seq, &ev);
}

/* ---- leftovers of a previous agent --------------------------------------- */

/* Reads a run record; 0 pid when it is unusable. */
static void
runner_record_read(const char *path, pid_t *pgid, unsigned long long *start)
{
	char buf[128];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int pg = 0;

	*pgid = 0;
	*start = 0;
	if (fd < 0) {
		return;
	}
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		return;
	}
	buf[n] = '\0';
	if (sscanf(buf, "%d %llu", &pg, start) == 2 && pg > 1) {
		*pgid = pg;
	}
}

/*
 * Kills group pgid if it is still the run's: its leader alive with the
 * recorded start time, or the leader gone but members left (a group id
 * is not reused while members remain).
 */
static bool
runner_kill_group(const char *run_id, pid_t pgid, unsigned long long start)
{
	char state;
	pid_t pg;
	unsigned long long st;
	int64_t deadline;

	if (runner_proc_stat(pgid, &state, &pg, &st) == NT_OK) {
		if (st != start) {
			return false; /* the id now belongs to someone else */
		}
	} else if (!runner_group_alive(pgid)) {
		return false;
	}
	nt_warn("runner: run %s: killing process group %d left by a previous "
	        "agent",
	        run_id, (int)pgid);
	deadline = nt_time_mono_ms() + RUNNER_LEFTOVER_WAIT_MS;
	(void)kill(-pgid, SIGKILL);
	while (runner_group_alive(pgid)) {
		if (nt_time_mono_ms() > deadline) {
			nt_error("runner: run %s: process group %d still has "
			         "processes after SIGKILL",
			         run_id, (int)pgid);
			break;
		}
		(void)kill(-pgid, SIGKILL);
		runner_sleep_ms(20);
	}
	return true;
}

size_t
runner_kill_leftovers(struct runner *r)
{
	DIR *d = opendir(r->runs_dir);
	struct dirent *de;
	size_t killed = 0;

	if (d == NULL) {
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		char *path;
		pid_t pgid;
		unsigned long long start;

		if (!nt_uuid_parse(de->d_name, NULL) ||
		    (path = runner_path(r->runs_dir, de->d_name)) == NULL) {
			continue;
		}
		runner_record_read(path, &pgid, &start);
		if (pgid > 0 && runner_kill_group(de->d_name, pgid, start)) {
			killed++;
		}
		if (unlink(path) != 0) {
			nt_warn("runner: remove %s: %s", path, strerror(errno));
		}
		free(path);
	}
	closedir(d);
	return killed;
}

/* ---- queries ------------------------------------------------------------- */

bool
runner_known(const struct runner *r, const char *run_id)
{
	return nt_map_get(&r->active, run_id) != NULL ||
	       nt_map_get(&r->done, run_id) != NULL;
}

bool
runner_executing(const struct runner *r, const char *run_id)
{
	return nt_map_get(&r->active, run_id) != NULL;
}

size_t
runner_count(const struct runner *r)
{
	return r->n_runs;
}

size_t
runner_ids(const struct runner *r, const char **ids, size_t max)
{
	size_t n = 0;

	for (const struct runner_run *run = r->runs; run != NULL && n < max;
	     run = run->next) {
		ids[n++] = run->id;
	}
	return n;
}

/* ---- main loop ----------------------------------------------------------- */

size_t
runner_pollfds(const struct runner *r, struct pollfd *fds, size_t max)
{
	size_t n = 0;

	if (r->launcher.exit_fd >= 0 && n < max) {
		fds[n++] = (struct pollfd){r->launcher.exit_fd, POLLIN, 0};
	}
	for (const struct runner_run *run = r->runs; run != NULL;
	     run = run->next) {
		if (run->out_fd >= 0 && n < max) {
			fds[n++] = (struct pollfd){run->out_fd, POLLIN, 0};
		}
		if (run->err_fd >= 0 && n < max) {
			fds[n++] = (struct pollfd){run->err_fd, POLLIN, 0};
		}
		if (run->in_fd >= 0 && run->in.len > 0 && n < max) {
			fds[n++] = (struct pollfd){run->in_fd, POLLOUT, 0};
		}
	}
	return n;
}

void
runner_handle(struct runner *r, const struct pollfd *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (fds[i].revents == 0) {
			continue;
		}
		if (fds[i].fd == r->launcher.exit_fd) {
			runner_launcher_reports(r);
			continue;
		}
		for (struct runner_run *run = r->runs; run != NULL;
		     run = run->next) {
			if (fds[i].fd == run->out_fd) {
				runner_read(r, run, &run->out_fd, &run->out,
				            runner_stdout_line);
			} else if (fds[i].fd == run->err_fd) {
				runner_read(r, run, &run->err_fd, &run->err,
				            runner_stderr_line);
			} else if (fds[i].fd == run->in_fd) {
				runner_write(run);
			} else {
				continue;
			}
			break;
		}
	}
}

int64_t
runner_next_ms(const struct runner *r, int64_t now_ms)
{
	int64_t next = -1;

	for (const struct runner_run *run = r->runs; run != NULL;
	     run = run->next) {
		if (run->stopping && !run->killed) {
			int64_t in = run->kill_at_ms - now_ms;
			if (in < 0) {
				in = 0;
			}
			if (next < 0 || in < next) {
				next = in;
			}
		}
	}
	return next;
}

void
runner_tick(struct runner *r, int64_t now_ms)
{
	for (struct runner_run *run = r->runs; run != NULL; run = run->next) {
		if (run->stopping && !run->killed &&
		    now_ms >= run->kill_at_ms) {
			nt_warn("runner: run %s: grace period over; SIGKILL",
			        run->id);
			run->killed = true;
			runner_signal(run, SIGKILL);
		}
	}
}

/* ---- lifecycle ----------------------------------------------------------- */

int
runner_init(struct runner *r, const struct runner_config *cfg,
            const struct runner_ops *ops, void *arg)
{
	size_t n = 0;

	memset(r, 0, sizeof(*r));
	launcher_init(&r->launcher);
	r->ops = *ops;
	r->arg = arg;
	r->grace_ms = cfg->grace_ms > 0 ? cfg->grace_ms : 10000;
	nt_map_init(&r->active);
	nt_map_init(&r->devices);
	nt_map_init(&r->done);
	while (cfg->allow != NULL && cfg->allow[n] != NULL) {
		n++;
	}
	r->exe = strdup(cfg->exe != NULL ? cfg->exe : "/proc/self/exe");
	r->runs_dir = runner_path(cfg->state_dir, "runs");
	r->hostname = strdup(cfg->hostname != NULL ? cfg->hostname : "");
	r->allow = calloc(n + 1, sizeof(*r->allow));
	if (r->exe == NULL || r->runs_dir == NULL || r->hostname == NULL ||
	    r->allow == NULL) {
		runner_fini(r);
		return NT_ENOMEM;
	}
	if (cfg->task_config != NULL &&
	    !cJSON_IsObject(r->task_config = cJSON_Parse(cfg->task_config))) {
		nt_error("runner: task config is not a JSON object");
		runner_fini(r);
		return NT_EINVAL;
	}
	for (; r->n_allow < n; r->n_allow++) {
		if ((r->allow[r->n_allow] = strdup(cfg->allow[r->n_allow])) ==
		    NULL) {
			runner_fini(r);
			return NT_ENOMEM;
		}
	}
	if (mkdir(r->runs_dir, 0700) != 0 && errno != EEXIST) {
		nt_error("runner: mkdir %s: %s", r->runs_dir, strerror(errno));
		runner_fini(r);
		return NT_EIO;
	}
	return NT_OK;
}

void
runner_fini(struct runner *r)
{
	struct runner_run *run, *next;

	for (run = r->runs; run != NULL; run = next) {
		next = run->next;
		runner_signal(run, SIGKILL);
		while (!run->launched && waitpid(run->pid, NULL, 0) < 0 &&
		       errno == EINTR) {
		}
		runner_record_remove(r, run->id);
		runner_run_free(run);
	}
	/* Its task processes die with it. */
	launcher_stop(&r->launcher);
	for (size_t i = 0; i < RUNNER_DONE_MAX; i++) {
		free(r->done_ring[i]);
	}
	for (size_t i = 0; i < r->n_allow; i++) {
		free(r->allow[i]);
	}
	nt_map_fini(&r->active);
	nt_map_fini(&r->devices);
	nt_map_fini(&r->done);
	free(r->allow);
	free(r->exe);
	free(r->runs_dir);
	free(r->hostname);
	cJSON_Delete(r->task_config);
	memset(r, 0, sizeof(*r));
}
