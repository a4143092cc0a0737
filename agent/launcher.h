/*
 * launcher.h: a helper process that starts task processes by fork alone.
 *
 * Starting "nodetask-agent task-exec" with fork + execve costs a dynamic
 * link of the whole agent per run (about 1.5 ms more than /bin/true on
 * a small machine) and a fork of the multi-threaded agent. The launcher
 * is "nodetask-agent task-launcher", execed once by the runner: small,
 * single-threaded and never touching nng, so it may fork and carry on in
 * the child, which becomes the task process directly.
 *
 * A task process is then the launcher's child, not the agent's: the
 * launcher reaps it, killing what is left of its process group first
 * (as the runner does for its own children), and reports pid and wait
 * status. Task processes die with the launcher, the launcher with the
 * agent (parent-death signals).
 *
 * Two socket pairs: requests and their answers (synchronous, from the
 * agent's main loop), and exit reports (polled by the main loop).
 */
#ifndef LAUNCHER_H
#define LAUNCHER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct launcher {
	pid_t pid;   /* the launcher process; -1: none */
	int req_fd;  /* requests out, answers in */
	int exit_fd; /* exit reports in */
	int64_t started_ms;
};

void launcher_init(struct launcher *l);
/* Execs "exe task-launcher" and waits for it to say it is ready. */
int launcher_start(struct launcher *l, const char *exe);
bool launcher_up(const struct launcher *l);
/*
 * Starts the task process for run_id with in, out, err as its standard
 * descriptors (they stay the caller's to close). *pid is its pid and
 * process group.
 */
int launcher_spawn(struct launcher *l, const char *run_id, int in, int out,
                   int err, pid_t *pid);
/*
 * Reads one exit report without blocking: NT_OK with pid and status,
 * NT_ENOTFOUND when there is none, NT_EIO when the launcher is gone.
 */
int launcher_read_exit(struct launcher *l, pid_t *pid, int *status);
/* After SIGCHLD: true (and reaped) when the launcher itself has exited. */
bool launcher_exited(struct launcher *l);
/* Closes the sockets (the launcher exits) and reaps it. */
void launcher_stop(struct launcher *l);

/*
 * The launcher process: descriptors 3 (requests) and 4 (exit reports);
 * argv has room to be rewritten into each task process's title.
 */
int launcher_main(int argc, char **argv);

#endif /* LAUNCHER_H */
