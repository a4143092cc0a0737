/*
 * runner.h: runs each dispatched task as a child process and turns what
 * it prints into run events.
 *
 * A run is a "nodetask-agent task-exec RUN_ID" process (the agent's own
 * code) leading its own process group, with pipes for stdin, stdout and
 * stderr (the protocol of task.h). It is forked by the task launcher
 * (launcher.h), or with fork + execve when there is none. The runner
 * belongs to the
 * agent's main loop: its descriptors are polled there, and SIGCHLD and
 * timer ticks are handed to it. It is not thread-safe.
 *
 * Every event of a run gets the next seq of that run and goes to the
 * owner's emit callback, which spools and sends it. A record in
 * STATE_DIR/runs/RUN_ID (process group, start time) lets the next agent
 * kill what a killed agent left running.
 */
#ifndef RUNNER_H
#define RUNNER_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "launcher.h"
#include "link.pb-c.h"
#include "nt_map.h"
#include "nt_uuid.h"

/* Runs remembered as done, so a resent Dispatch is not run twice. */
#define RUNNER_DONE_MAX 4096
/* Answered questions remembered per run, so a resent Answer is ignored. */
#define RUNNER_ANSWERED_MAX 8

struct runner_ops {
	/* An event of a run, with run_id, seq and ts_us set. */
	void (*emit)(void *arg, const Nodetask__Link__RunEvent *ev);
	/* The set of executing runs changed. */
	void (*changed)(void *arg);
};

struct runner_config {
	const char *exe;       /* program run as task-exec; NULL: ourselves */
	const char *state_dir; /* runs/ is kept here */
	const char *const *allow; /* allowed-device globs, NULL-terminated */
	int64_t grace_ms;         /* SIGTERM to SIGKILL on a stop */
	const char *hostname;     /* the node's name, for tasks' config */
	const char *task_config;  /* JSON object: more of tasks' config */
};

/* Bytes read or to write, with what is left of a line. */
struct runner_buf {
	char *data;
	size_t len, cap;
};

struct runner_run {
	struct runner_run *next;
	char id[NT_UUID_BUFLEN];
	char task[128];
	char *device;  /* params.devicePath as resolved; NULL: none */
	pid_t pid;     /* also the process group */
	bool launched; /* the launcher's child, not ours (launcher.h) */
	unsigned long long start_time; /* /proc/PID/stat field 22 */
	int in_fd, out_fd, err_fd;     /* -1 once closed */
	struct runner_buf in, out, err;
	uint64_t seq;                  /* last seq used */
	char question[NT_UUID_BUFLEN]; /* open question; "": none */
	char answered[RUNNER_ANSWERED_MAX][NT_UUID_BUFLEN];
	size_t n_answered;
	bool stopping;
	int64_t kill_at_ms; /* monotonic; SIGKILL then */
	bool killed;
	char *stop_why; /* log line and error of the stop */
	bool have_result;
	Nodetask__Link__Finished__State fin_state;
	char *fin_error;
	char *fin_result;
};

struct runner {
	char *exe;
	char *runs_dir;
	char *hostname;
	struct cJSON *task_config; /* copied into each run's "config" */
	char **allow;
	size_t n_allow;
	int64_t grace_ms;
	struct runner_ops ops;
	void *arg;
	struct runner_run *runs; /* executing */
	size_t n_runs;
	struct nt_map active;  /* run id -> runner_run */
	struct nt_map devices; /* device path -> runner_run */
	struct nt_map done;    /* run ids that ended in this process */
	struct launcher launcher;
	bool launcher_off; /* it failed: execve for every run */
	char *done_ring[RUNNER_DONE_MAX];
	size_t done_next;
};

int runner_init(struct runner *r, const struct runner_config *cfg,
                const struct runner_ops *ops, void *arg);
/* Kills (SIGKILL) and reaps what still runs; emits nothing. */
void runner_fini(struct runner *r);
/*
 * Kills the process groups that the records in STATE_DIR/runs name and
 * that still run (matched by start time), waits until they are gone and
 * removes the records. Returns how many groups were killed.
 */
size_t runner_kill_leftovers(struct runner *r);

/*
 * Starts a run unless it executes or ended in this process. last_seq is
 * the highest seq already used for it (0 for a new run).
 */
void runner_dispatch(struct runner *r, const char *run_id, const char *task,
                     const char *params_json, uint64_t last_seq);
/*
 * Stops a run: why is logged, SIGTERM goes to its group, SIGKILL after
 * the grace period; the run ends canceled with why as its error.
 * NT_ENOTFOUND when it does not execute here.
 */
int runner_stop(struct runner *r, const char *run_id, const char *why);
void runner_stop_all(struct runner *r, const char *why);
/* Passes an operator's answer to the run (once per question). */
void runner_answer(struct runner *r, const char *run_id,
                   const char *question_id, const char *answer);
/*
 * Ends a run this process does not execute with a lone Finished event at
 * seq, and remembers it as done.
 */
void runner_finish_other(struct runner *r, const char *run_id, uint64_t seq,
                         Nodetask__Link__Finished__State state,
                         const char *error);

/* True when the run executes here or ended in this process. */
bool runner_known(const struct runner *r, const char *run_id);
bool runner_executing(const struct runner *r, const char *run_id);
size_t runner_count(const struct runner *r);
/* Up to max ids of executing runs (pointers into r). */
size_t runner_ids(const struct runner *r, const char **ids, size_t max);

/* ---- main loop -------------------------------------------------------- */

/* Descriptors to poll: at most 3 per run. Returns how many were set. */
size_t runner_pollfds(const struct runner *r, struct pollfd *fds, size_t max);
/* Handles the revents of the descriptors runner_pollfds returned. */
void runner_handle(struct runner *r, const struct pollfd *fds, size_t n);
/* SIGCHLD: finishes runs whose process exited. */
void runner_reap(struct runner *r);
/* Milliseconds until runner_tick has something to do; -1: nothing. */
int64_t runner_next_ms(const struct runner *r, int64_t now_ms);
/* Sends the SIGKILLs that are due. */
void runner_tick(struct runner *r, int64_t now_ms);

#endif
