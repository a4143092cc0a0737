/*
 * task.h: how a task runs, and the pipe protocol between the agent and a
 * task process.
 *
 * Every run executes in its own process, "nodetask-agent task-exec
 * RUN_ID" (the agent's own code, no shell; forked by the task launcher,
 * launcher.h, or else started with fork + execve by runner.c), as the
 * leader of a new process group, so a cancel can signal the run and
 * everything it started at once.
 *
 * Agent -> task, on the task's standard input, one JSON object per line:
 *   1st line: {"runId": "...", "taskName": "disk.wipe", "params": {...},
 *              "allowDevices": ["/dev/loop*", ...], "config": {...}}
 *   later:    {"answer": "yes"}            (to the open question)
 *   EOF on stdin means the agent is gone: the task stops.
 * Task -> agent, on the task's standard output, one JSON object per line:
 *   {"type": "log", "level": "info", "message": "..."}
 *   {"type": "question", "prompt": "...", "options": ["yes", "no"]}
 *   {"type": "finished", "state": "completed", "result": {...}}
 *   {"type": "finished", "state": "failed", "error": "..."}
 *   {"type": "finished", "state": "canceled", "error": "declined by operator"}
 * Anything the task (or a command it runs) writes to standard error becomes
 * a "warn" log line (task_exec_opt can say "info"). A task that exits
 * without "finished" has failed.
 * Cancel: SIGTERM to the process group, a grace period, then SIGKILL.
 * Tasks poll task_stopping() in long loops and end with state canceled.
 */
#ifndef TASK_H
#define TASK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "nt_log.h"

/* The task process's view of its run. */
struct task_ctx {
	const char *run_id;
	const char *task_name;
	const cJSON *params;      /* the run's params object */
	const cJSON *config;      /* agent settings for tasks (may be empty) */
	const char *const *allow; /* allowed-device globs; NULL-terminated */
	int in_fd;                /* answers from the agent */
	int out_fd;               /* records to the agent */
};

/* What a task returns. */
enum task_outcome {
	TASK_COMPLETED = 0,
	TASK_FAILED,
	TASK_CANCELED,
};

struct task_def {
	const char *name;
	/*
	 * Runs the task. On TASK_COMPLETED *result may hold a JSON object
	 * (ownership passes to the caller); on failure or cancel err holds
	 * the reason, naming what failed ("wipe /dev/sdb: device is mounted
	 * at /mnt").
	 */
	enum task_outcome (*run)(struct task_ctx *t, cJSON **result, char *err,
	                         size_t errlen);
};

/* The catalogue; NULL when name is unknown. */
const struct task_def *task_find(const char *name);

/* ---- called by task code (in the task process) ---------------------- */

void task_log(struct task_ctx *t, enum nt_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/*
 * Asks the operator and waits for the answer (copied to answer). Returns
 * NT_ECLOSED when the agent went away or a stop was requested.
 */
int task_ask(struct task_ctx *t, const char *prompt, const char *const *options,
             size_t n_options, char *answer, size_t answer_len);
/* True once SIGTERM arrived: finish up and return TASK_CANCELED. */
bool task_stopping(void);
/*
 * Runs argv (no shell) in the run's process group, turning each line it
 * prints (stdout and stderr) into a log line as it appears. Kills the
 * command (and what it started: task_exec_opt) when timeout_ms passes
 * (0: no timeout) or a stop is requested.
 * *exit_status = exit code, or 128 + signal. Returns NT_ETIMEDOUT,
 * NT_ECLOSED (stopped) or NT_EIO when it could not be started.
 * When capture is non-NULL, stdout is also appended there (cJSON-free
 * malloc'd string, caller frees) so the task can parse it.
 */
int task_exec(struct task_ctx *t, const char *const *argv,
              const char *const *envp_extra, int timeout_ms, int *exit_status,
              char **capture);

/* How task_exec_opt runs a command; zero means task_exec's defaults. */
struct task_exec_opts {
	const char *const *env; /* extra "K=V", NULL-terminated */
	int timeout_ms;         /* 0: none */
	char **capture;         /* stdout kept here, as in task_exec */
	bool stderr_info;       /* stderr lines at info, not warn */
	/*
	 * Runs even when a stop was requested (cleanup after a cancel);
	 * the timeout still applies.
	 */
	bool when_stopping;
	/*
	 * Starts the command in a session of its own (setsid), so that what
	 * it leaves running survives the end of the run's process group.
	 */
	bool new_session;
	/*
	 * Sees each output line first (stream 1 stdout, 2 stderr): may
	 * shorten it in place or change its level; false drops it.
	 */
	bool (*on_line)(void *arg, int stream, char *line,
	                enum nt_log_level *level);
	void *arg;
};

/*
 * task_exec with options. When the task leads its process group (as
 * the runner starts it), a command that is ended (timeout, stop) is
 * ended with everything it started: the signals go to every process of
 * the group but the task itself, and task_exec returns only when they
 * are gone. A new_session command is ended by its own group.
 */
int task_exec_opt(struct task_ctx *t, const char *const *argv,
                  const struct task_exec_opts *o, int *exit_status);

/* Entry point of "nodetask-agent task-exec": returns the exit code. */
int task_process_main(int in_fd, int out_fd);

#endif
