/*
 * main.c: nodetask-agent, the per-node daemon.
 *
 * One thread runs the loop: poll(2) over the task processes' pipes, an
 * eventfd that the link's nng callbacks ring after queueing what they
 * received, and a signalfd (SIGTERM, SIGINT, SIGCHLD). Everything that
 * touches the runner, the spool and the inventory happens on this thread;
 * the link is the only part that lives on nng's threads.
 *
 * "nodetask-agent task-exec RUN_ID" is the task process the runner starts
 * (task.h), "nodetask-agent task-launcher" the helper that forks them
 * (launcher.h); they share this binary so a run executes exactly the
 * agent's code.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nng/nng.h>

#include "agent_config.h"
#include "inventory.h"
#include "launcher.h"
#include "link.h"
#include "nt_err.h"
#include "nt_hash.h"
#include "nt_log.h"
#include "nt_path.h"
#include "nt_text.h"
#include "nt_time.h"
#include "nt_uuid.h"
#include "runner.h"
#include "spool.h"
#include "task.h"

#define AGENT_EXIT_FAIL  1
#define AGENT_EXIT_USAGE 2
/* On shutdown, how long unacknowledged events may take to go out. */
#define AGENT_FLUSH_MS 10000

#define AGENT_RESTARTED_MSG                                                \
	"agent restarted while the run was executing; its processes were " \
	"killed"

enum agent_phase {
	AGENT_RUNNING = 0,
	AGENT_STOPPING, /* no new work; runs end (canceled or finishing) */
	AGENT_FLUSHING, /* runs are over; last events go out */
	AGENT_DONE,
};

enum agent_msg_kind {
	AGENT_MSG_HELLO = 1,
	AGENT_MSG_DISPATCH,
	AGENT_MSG_STOP,
	AGENT_MSG_ANSWER,
};

/* A run the controller thinks this node executes. */
struct agent_active {
	char id[NT_UUID_BUFLEN];
	uint64_t last_seq;
};

/* What a link callback received, queued for the main thread. */
struct agent_msg {
	struct agent_msg *next;
	enum agent_msg_kind kind;
	char run_id[NT_UUID_BUFLEN];
	char *a;  /* task name, stop reason, question id, or node secret */
	char *b;  /* params or answer */
	size_t n; /* active runs */
	struct agent_active *active;
};

struct agent {
	struct agent_config cfg;
	const char *allow[AGENT_ALLOW_MAX + 1];
	char node_id[NT_UUID_BUFLEN];
	char secret[NT_SECRET_BUFLEN];
	char *secret_path;
	struct spool spool;
	struct runner runner;
	struct inventory inv;
	struct link link;
	bool spool_ok, runner_ok, inv_ok, link_ok;
	int wake_fd;
	int sig_fd;
	pthread_mutex_t q_mtx;
	struct agent_msg *q_head, *q_tail;
	atomic_size_t acked; /* acknowledged events not yet off the spool */
	enum agent_phase phase;
	unsigned n_signals;
	int64_t next_scan_ms;
	int64_t flush_deadline_ms;
	struct pollfd *fds;
	size_t fds_cap;
};

/* ---- state directory ----------------------------------------------------- */

/* mkdir -p, the last component mode 0700. */
static int
agent_mkdirs(const char *dir)
{
	char *p = strdup(dir);
	struct stat st;

	if (p == NULL) {
		return NT_ENOMEM;
	}
	for (char *s = p + 1; *s != '\0'; s++) {
		if (*s == '/') {
			*s = '\0';
			if (mkdir(p, 0755) != 0 && errno != EEXIST) {
				nt_error("mkdir %s: %s", p, strerror(errno));
				free(p);
				return NT_EIO;
			}
			*s = '/';
		}
	}
	free(p);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		nt_error("mkdir %s: %s", dir, strerror(errno));
		return NT_EIO;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		nt_error("state directory %s is not a directory", dir);
		return NT_EIO;
	}
	return NT_OK;
}

/* Reads a short text file's first line; NT_ENOTFOUND when it is absent. */
static int
agent_read_line(const char *path, char *out, size_t len)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (f == NULL) {
		if (errno == ENOENT) {
			return NT_ENOTFOUND;
		}
		nt_error("open %s: %s", path, strerror(errno));
		return NT_EIO;
	}
	if (fgets(out, (int)len, f) == NULL) {
		out[0] = '\0';
	}
	fclose(f);
	n = strcspn(out, "\r\n");
	out[n] = '\0';
	return NT_OK;
}

/* Writes path atomically (temporary file, fsync, rename) with mode. */
static int
agent_write_file(const char *dir, const char *name, const char *text,
                 mode_t mode)
{
	char *path = nt_path_join(dir, name), *tmp = NULL;
	size_t len = strlen(text);
	int fd = -1, rv = NT_EIO, dfd;

	if (path == NULL || (tmp = malloc(strlen(path) + 5)) == NULL) {
		free(path);
		return NT_ENOMEM;
	}
	snprintf(tmp, strlen(path) + 5, "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd >= 0 && fchmod(fd, mode) == 0 &&
	    write(fd, text, len) == (ssize_t)len && fsync(fd) == 0 &&
	    close(fd) == 0) {
		fd = -1;
		if (rename(tmp, path) == 0) {
			rv = NT_OK;
		}
	}
	if (rv != NT_OK) {
		nt_error("write %s: %s", path, strerror(errno));
		if (fd >= 0) {
			close(fd);
		}
		unlink(tmp);
	} else if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	free(tmp);
	free(path);
	return rv;
}

/* DIR/node_id: made on the first start, then kept. */
static int
agent_node_id(struct agent *a)
{
	char *path = nt_path_join(a->cfg.state_dir, "node_id");
	char line[128], text[NT_UUID_BUFLEN + 1];
	int rv;

	if (path == NULL) {
		return NT_ENOMEM;
	}
	rv = agent_read_line(path, line, sizeof(line));
	if (rv == NT_OK && !nt_uuid_parse(line, a->node_id)) {
		nt_error("%s holds no node id (UUID)", path);
		rv = NT_EINVAL;
	} else if (rv == NT_ENOTFOUND &&
	           (rv = nt_uuid_new(a->node_id)) == NT_OK) {
		snprintf(text, sizeof(text), "%s\n", a->node_id);
		rv = agent_write_file(a->cfg.state_dir, "node_id", text, 0644);
		if (rv == NT_OK) {
			nt_info("new node id %s", a->node_id);
		}
	}
	free(path);
	return rv;
}

/* DIR/node_secret, when this node has enrolled. */
static int
agent_load_secret(struct agent *a)
{
	char line[NT_SECRET_BUFLEN + 8];
	int rv;

	if ((a->secret_path = nt_path_join(a->cfg.state_dir, "node_secret")) ==
	    NULL) {
		return NT_ENOMEM;
	}
	rv = agent_read_line(a->secret_path, line, sizeof(line));
	if (rv == NT_ENOTFOUND) {
		return NT_OK;
	}
	if (rv != NT_OK) {
		return rv;
	}
	if (!nt_text_is_token(line, NT_SECRET_BUFLEN - 1)) {
		nt_error("%s holds no node secret", a->secret_path);
		return NT_EINVAL;
	}
	memcpy(a->secret, line, strlen(line) + 1); /* checked to fit */
	return NT_OK;
}

static void
agent_save_secret(struct agent *a, const char *secret)
{
	char text[NT_SECRET_BUFLEN + 2];

	if (!nt_text_is_token(secret, NT_SECRET_BUFLEN - 1)) {
		nt_error("controller sent an unusable node secret; ignored");
		return;
	}
	snprintf(a->secret, sizeof(a->secret), "%s", secret);
	snprintf(text, sizeof(text), "%s\n", secret);
	if (agent_write_file(a->cfg.state_dir, "node_secret", text, 0600) ==
	    NT_OK) {
		nt_info("enrolled: node secret kept in %s", a->secret_path);
	} else {
		nt_error("could not keep the node secret; the next start will "
		         "need a new enrollment token");
	}
}

/* ---- link callbacks (nng threads) ---------------------------------------- */

static void
agent_msg_free(struct agent_msg *m)
{
	free(m->a);
	free(m->b);
	free(m->active);
	free(m);
}

static void
agent_wake(struct agent *a)
{
	uint64_t one = 1;

	if (write(a->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN) {
		nt_error("wake main loop: %s", strerror(errno));
	}
}

static void
agent_post(struct agent *a, struct agent_msg *m)
{
	pthread_mutex_lock(&a->q_mtx);
	if (a->q_tail != NULL) {
		a->q_tail->next = m;
	} else {
		a->q_head = m;
	}
	a->q_tail = m;
	pthread_mutex_unlock(&a->q_mtx);
	agent_wake(a);
}

static struct agent_msg *
agent_msg_new(enum agent_msg_kind kind, const char *run_id, const char *x,
              const char *y)
{
	struct agent_msg *m = calloc(1, sizeof(*m));

	if (m == NULL) {
		return NULL;
	}
	m->kind = kind;
	if (run_id != NULL) {
		snprintf(m->run_id, sizeof(m->run_id), "%s", run_id);
	}
	if ((x != NULL && (m->a = strdup(x)) == NULL) ||
	    (y != NULL && (m->b = strdup(y)) == NULL)) {
		agent_msg_free(m);
		return NULL;
	}
	return m;
}

static void
agent_on_hello(void *arg, const Nodetask__Link__HelloReply *r)
{
	struct agent *a = arg;
	struct agent_msg *m =
	        agent_msg_new(AGENT_MSG_HELLO, NULL, r->node_secret, NULL);

	if (m == NULL || (r->n_active_runs > 0 &&
	                  (m->active = calloc(r->n_active_runs,
	                                      sizeof(*m->active))) == NULL)) {
		nt_error("link: out of memory handling Hello reply");
		if (m != NULL) {
			agent_msg_free(m);
		}
		return;
	}
	for (size_t i = 0; i < r->n_active_runs; i++) {
		if (nt_uuid_parse(r->active_runs[i]->run_id,
		                  m->active[m->n].id)) {
			m->active[m->n++].last_seq =
			        r->active_runs[i]->last_seq;
		}
	}
	agent_post(a, m);
}

static void
agent_on_work(void *arg, const Nodetask__Link__Work *w)
{
	struct agent *a = arg;
	struct agent_msg *m = NULL;

	switch (w->kind_case) {
	case NODETASK__LINK__WORK__KIND_DISPATCH:
		m = agent_msg_new(AGENT_MSG_DISPATCH, w->dispatch->run_id,
		                  w->dispatch->task_name,
		                  w->dispatch->params_json);
		break;
	case NODETASK__LINK__WORK__KIND_STOP:
		m = agent_msg_new(AGENT_MSG_STOP, w->stop->run_id,
		                  w->stop->reason, NULL);
		break;
	case NODETASK__LINK__WORK__KIND_ANSWER:
		m = agent_msg_new(AGENT_MSG_ANSWER, w->answer->run_id,
		                  w->answer->question_id, w->answer->answer);
		break;
	default:
		return;
	}
	if (m == NULL) {
		nt_error("link: out of memory queueing work (resent later)");
		return;
	}
	agent_post(a, m);
}

/* A counter, not a message: nothing to allocate, nothing to lose. */
static void
agent_on_acked(void *arg, size_t n)
{
	struct agent *a = arg;

	atomic_fetch_add(&a->acked, n);
	agent_wake(a);
}

/* ---- runner callbacks (main thread) -------------------------------------- */

static void
agent_emit(void *arg, const Nodetask__Link__RunEvent *ev)
{
	struct agent *a = arg;
	size_t len = nodetask__link__run_event__get_packed_size(ev);
	uint8_t *buf = malloc(len > 0 ? len : 1);
	int rv;

	if (buf == NULL) {
		nt_error("out of memory: event %s/%llu lost", ev->run_id,
		         (unsigned long long)ev->seq);
		return;
	}
	nodetask__link__run_event__pack(ev, buf);
	rv = spool_append(&a->spool, ev, buf, len);
	/* EIO: kept in memory only, still counted; send it. */
	if (rv == NT_OK || rv == NT_EIO) {
		if (link_push_event(&a->link, buf, len) != NT_OK) {
			/*
			 * Spool and link would disagree on what an ack
			 * means; the spool has it, a restart resends it.
			 */
			nt_error("out of memory: event %s/%llu not sent",
			         ev->run_id, (unsigned long long)ev->seq);
			abort();
		}
	} else {
		nt_error("event %s/%llu not spooled: %s", ev->run_id,
		         (unsigned long long)ev->seq, nt_strerror(rv));
	}
	free(buf);
}

static void
agent_runs_changed(void *arg)
{
	struct agent *a = arg;
	size_t n = runner_count(&a->runner);
	const char **ids = calloc(n > 0 ? n : 1, sizeof(*ids));

	if (ids == NULL) {
		return;
	}
	n = runner_ids(&a->runner, ids, n);
	(void)link_set_executing(&a->link, ids, n);
	free(ids);
}

/* ---- work from the controller (main thread) ------------------------------ */

/* End a run this process does not execute, after what is known of it. */
static void
agent_finish_orphan(struct agent *a, const char *run_id, uint64_t last_seq)
{
	uint64_t spooled = spool_last_seq(&a->spool, run_id);

	if (runner_known(&a->runner, run_id) ||
	    spool_finished(&a->spool, run_id)) {
		return;
	}
	runner_finish_other(&a->runner, run_id,
	                    (spooled > last_seq ? spooled : last_seq) + 1,
	                    NODETASK__LINK__FINISHED__STATE__FAILED,
	                    AGENT_RESTARTED_MSG);
}

struct agent_orphans {
	char (*ids)[NT_UUID_BUFLEN];
	size_t n, cap;
};

static void
agent_spool_run_cb(void *arg, const struct spool_run *run)
{
	struct agent_orphans *o = arg;

	if (!run->finished && o->n < o->cap) {
		snprintf(o->ids[o->n++], NT_UUID_BUFLEN, "%s", run->id);
	}
}

/*
 * After Hello: runs the controller or the spool consider unfinished but
 * this process does not execute were cut short by an agent restart.
 */
static void
agent_hello(struct agent *a, struct agent_msg *m)
{
	struct agent_orphans o = {NULL, 0, a->spool.runs.count};

	if (m->a != NULL && m->a[0] != '\0') {
		agent_save_secret(a, m->a);
	}
	for (size_t i = 0; i < m->n; i++) {
		agent_finish_orphan(a, m->active[i].id, m->active[i].last_seq);
	}
	if (o.cap > 0 && (o.ids = calloc(o.cap, sizeof(*o.ids))) != NULL) {
		spool_each_run(&a->spool, agent_spool_run_cb, &o);
		for (size_t i = 0; i < o.n; i++) {
			agent_finish_orphan(a, o.ids[i], 0);
		}
		free(o.ids);
	}
}

static void
agent_stop_run(struct agent *a, struct agent_msg *m)
{
	char why[1024];

	snprintf(why, sizeof(why), "stopped by controller%s%s",
	         m->a != NULL && m->a[0] != '\0' ? ": " : "",
	         m->a != NULL ? m->a : "");
	nt_text_sanitize(why);
	if (runner_stop(&a->runner, m->run_id, why) == NT_ENOTFOUND &&
	    !runner_known(&a->runner, m->run_id)) {
		/* Unknown here: its Finished goes out after the next Hello. */
		nt_debug("stop for run %s, which this agent never ran",
		         m->run_id);
	}
}

static void
agent_handle_msg(struct agent *a, struct agent_msg *m)
{
	switch (m->kind) {
	case AGENT_MSG_HELLO:
		agent_hello(a, m);
		break;
	case AGENT_MSG_DISPATCH:
		if (a->phase != AGENT_RUNNING) {
			nt_info("run %s not started: shutting down", m->run_id);
			break;
		}
		runner_dispatch(&a->runner, m->run_id, m->a, m->b,
		                spool_last_seq(&a->spool, m->run_id));
		break;
	case AGENT_MSG_STOP:
		agent_stop_run(a, m);
		break;
	case AGENT_MSG_ANSWER:
		runner_answer(&a->runner, m->run_id, m->a, m->b);
		break;
	}
}

/*
 * Applies acknowledgements, then handles what the link queued (or, when
 * shutting down, drops it: work is resent to the next agent).
 */
static void
agent_drain(struct agent *a, bool acks_only)
{
	struct agent_msg *m, *next;
	size_t acked = atomic_exchange(&a->acked, 0);

	if (acked > 0 && a->spool_ok) {
		(void)spool_ack(&a->spool, acked);
	}
	pthread_mutex_lock(&a->q_mtx);
	m = a->q_head;
	a->q_head = a->q_tail = NULL;
	pthread_mutex_unlock(&a->q_mtx);
	for (; m != NULL; m = next) {
		next = m->next;
		if (!acks_only) {
			agent_handle_msg(a, m);
		}
		agent_msg_free(m);
	}
}

/* ---- signals and shutdown ------------------------------------------------ */

static void
agent_shutdown(struct agent *a, int sig)
{
	a->n_signals++;
	if (a->phase == AGENT_RUNNING) {
		a->phase = AGENT_STOPPING;
		nt_info("signal %d: shutting down (%zu runs executing)", sig,
		        runner_count(&a->runner));
		if (a->cfg.on_shutdown == AGENT_SHUTDOWN_CANCEL) {
			runner_stop_all(&a->runner, "agent shutting down");
		} else if (runner_count(&a->runner) > 0) {
			nt_info("waiting for the runs to finish (signal again "
			        "to cancel them)");
		}
	} else if (a->phase == AGENT_STOPPING) {
		nt_info("signal %d: canceling the runs", sig);
		runner_stop_all(&a->runner, "agent shutting down");
	} else {
		nt_warn("signal %d: exiting without waiting for the "
		        "controller",
		        sig);
		a->phase = AGENT_DONE;
	}
}

static void
agent_signals(struct agent *a)
{
	struct signalfd_siginfo si;

	while (read(a->sig_fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGCHLD) {
			runner_reap(&a->runner);
		} else {
			agent_shutdown(a, (int)si.ssi_signo);
		}
	}
}

/* Moves shutdown along; true when the loop should end. */
static bool
agent_phase_step(struct agent *a, int64_t now)
{
	size_t pending;

	if (a->phase == AGENT_STOPPING && runner_count(&a->runner) == 0) {
		a->phase = AGENT_FLUSHING;
		a->flush_deadline_ms = now + AGENT_FLUSH_MS;
	}
	if (a->phase != AGENT_FLUSHING) {
		return a->phase == AGENT_DONE;
	}
	if ((pending = link_pending(&a->link)) == 0) {
		nt_info("all events acknowledged");
		return true;
	}
	if (now >= a->flush_deadline_ms) {
		nt_warn("%zu events not acknowledged; they stay spooled for "
		        "the next start",
		        pending);
		return true;
	}
	return false;
}

/* ---- main loop ----------------------------------------------------------- */

static void
agent_rescan(struct agent *a)
{
	bool changed = false;
	size_t len;
	const uint8_t *p;

	/* Before the link exists, agent_link_start hands it the result. */
	if (inventory_scan(&a->inv, &changed) == NT_OK && changed &&
	    a->link_ok) {
		p = inventory_packed(&a->inv, &len);
		(void)link_set_inventory(&a->link, p, len);
	}
	a->next_scan_ms = nt_time_mono_ms() + a->cfg.rescan_ms;
}

static int
agent_timeout(const struct agent *a, int64_t now)
{
	int64_t t = a->next_scan_ms - now;
	int64_t r = runner_next_ms(&a->runner, now);

	/* At least once a second: the shutdown and link_tick need it. */
	if (a->phase != AGENT_RUNNING || t > 1000) {
		t = 1000;
	}
	if (r >= 0 && r < t) {
		t = r;
	}
	if (a->phase == AGENT_FLUSHING && a->flush_deadline_ms - now < t) {
		t = a->flush_deadline_ms - now;
	}
	return t < 0 ? 0 : (int)t;
}

static int
agent_fds(struct agent *a, size_t *n)
{
	/* Ours, three per run, the launcher's exit reports. */
	size_t want = 3 + 3 * runner_count(&a->runner);

	if (want > a->fds_cap) {
		struct pollfd *p = realloc(a->fds, want * sizeof(*p));
		if (p == NULL) {
			return NT_ENOMEM;
		}
		a->fds = p;
		a->fds_cap = want;
	}
	a->fds[0] = (struct pollfd){a->wake_fd, POLLIN, 0};
	a->fds[1] = (struct pollfd){a->sig_fd, POLLIN, 0};
	*n = 2 + runner_pollfds(&a->runner, a->fds + 2, want - 2);
	return NT_OK;
}

static int
agent_loop(struct agent *a)
{
	for (;;) {
		int64_t now = nt_time_mono_ms();
		uint64_t count;
		size_t n;

		if (agent_fds(a, &n) != NT_OK) {
			nt_error("out of memory in the main loop");
			return NT_ENOMEM;
		}
		if (poll(a->fds, n, agent_timeout(a, now)) < 0 &&
		    errno != EINTR) {
			nt_error("poll: %s", strerror(errno));
			return NT_EIO;
		}
		if (a->fds[1].revents != 0) {
			agent_signals(a);
		}
		if (a->fds[0].revents != 0) {
			(void)read(a->wake_fd, &count, sizeof(count));
			agent_drain(a, false);
		}
		runner_handle(&a->runner, a->fds + 2, n - 2);
		now = nt_time_mono_ms();
		runner_tick(&a->runner, now);
		if (a->link_ok) {
			link_tick(&a->link, now);
		}
		if (a->phase == AGENT_RUNNING && now >= a->next_scan_ms) {
			agent_rescan(a);
		}
		(void)spool_sync(&a->spool);
		if (agent_phase_step(a, now)) {
			return NT_OK;
		}
	}
}

/* ---- start and stop ------------------------------------------------------ */

static int
agent_replay_cb(void *arg, const uint8_t *buf, size_t len)
{
	struct agent *a = arg;

	return link_push_event(&a->link, buf, len);
}

static int
agent_signals_init(struct agent *a)
{
	sigset_t set;

	/* Blocked before nng starts threads, so they inherit the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGCHLD);
	if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0 ||
	    (a->sig_fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		nt_error("signalfd: %s", strerror(errno));
		return NT_EIO;
	}
	signal(SIGPIPE, SIG_IGN);
	if ((a->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		nt_error("eventfd: %s", strerror(errno));
		return NT_EIO;
	}
	return NT_OK;
}

static int
agent_link_start(struct agent *a)
{
	struct link_config lc = {
	        .url = a->cfg.controller,
	        .node_id = a->node_id,
	        .hostname = a->cfg.hostname,
	        .agent_version = NODETASK_VERSION,
	        .enroll_token = a->cfg.enroll_token,
	        .node_secret = a->secret,
	};
	struct link_ops ops = {agent_on_hello, agent_on_work, agent_on_acked};
	size_t len;
	const uint8_t *inv;
	int rv;

	if ((rv = link_init(&a->link, &lc, &ops, a)) != NT_OK) {
		return rv;
	}
	a->link_ok = true;
	if ((rv = spool_replay(&a->spool, agent_replay_cb, a)) != NT_OK) {
		return rv;
	}
	if ((inv = inventory_packed(&a->inv, &len)) != NULL) {
		(void)link_set_inventory(&a->link, inv, len);
	}
	return link_start(&a->link);
}

static int
agent_start(struct agent *a)
{
	struct runner_config rc = {.state_dir = a->cfg.state_dir,
	                           .allow = a->allow,
	                           .grace_ms = a->cfg.grace_ms,
	                           .hostname = a->cfg.hostname};
	struct runner_ops ro = {agent_emit, agent_runs_changed};
	char *task_config;
	size_t killed;
	int rv;

	if ((rv = agent_mkdirs(a->cfg.state_dir)) != NT_OK ||
	    (rv = agent_node_id(a)) != NT_OK ||
	    (rv = agent_load_secret(a)) != NT_OK) {
		return rv;
	}
	if (a->secret[0] == '\0' && a->cfg.enroll_token[0] == '\0') {
		nt_error("no node secret in %s and no --enroll-token: get a "
		         "token with 'nodetask-controller node token create'",
		         a->secret_path);
		return NT_EPERM;
	}
	if ((rv = agent_signals_init(a)) != NT_OK ||
	    (rv = spool_init(&a->spool, a->cfg.state_dir)) != NT_OK) {
		return rv;
	}
	a->spool_ok = true;
	if ((task_config = agent_config_task_json(&a->cfg)) == NULL) {
		return NT_ENOMEM;
	}
	rc.task_config = task_config;
	rv = runner_init(&a->runner, &rc, &ro, a);
	free(task_config);
	if (rv != NT_OK) {
		return rv;
	}
	a->runner_ok = true;
	if ((killed = runner_kill_leftovers(&a->runner)) > 0) {
		nt_warn("killed %zu runs left by a previous agent", killed);
	}
	if ((rv = inventory_init(&a->inv, a->allow)) != NT_OK) {
		return rv;
	}
	a->inv_ok = true;
	agent_rescan(a);
	nt_info("nodetask-agent %s: node %s (%s), controller %s",
	        NODETASK_VERSION, a->node_id, a->cfg.hostname,
	        a->cfg.controller);
	return agent_link_start(a);
}

static void
agent_fini(struct agent *a)
{
	if (a->link_ok) {
		link_fini(&a->link); /* no callbacks after this */
	}
	agent_drain(a, true);
	if (a->runner_ok) {
		runner_fini(&a->runner);
	}
	if (a->spool_ok) {
		spool_fini(&a->spool);
	}
	if (a->inv_ok) {
		inventory_fini(&a->inv);
	}
	if (a->wake_fd >= 0) {
		close(a->wake_fd);
	}
	if (a->sig_fd >= 0) {
		close(a->sig_fd);
	}
	free(a->fds);
	free(a->secret_path);
	pthread_mutex_destroy(&a->q_mtx);
}

/* Descriptors 0-2 must exist, or a pipe could land on them. */
static void
agent_std_fds(void)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd) {
			_exit(AGENT_EXIT_FAIL);
		}
	}
}

int
main(int argc, char **argv)
{
	static struct agent a;
	enum agent_config_action action;
	char err[512];
	int rv;

	agent_std_fds();
	if (argc >= 2 && strcmp(argv[1], "task-exec") == 0) {
		return task_process_main(0, 1);
	}
	if (argc >= 2 && strcmp(argv[1], "task-launcher") == 0) {
		return launcher_main(argc, argv);
	}
	if (agent_config_parse(&a.cfg, argc, argv, &action, err, sizeof(err)) !=
	    NT_OK) {
		fprintf(stderr, "nodetask-agent: %s\n", err);
		return AGENT_EXIT_USAGE;
	}
	if (action == AGENT_CONFIG_HELP) {
		agent_config_usage(stdout);
		return 0;
	}
	if (action == AGENT_CONFIG_VERSION) {
		printf("nodetask-agent %s\n", NODETASK_VERSION);
		return 0;
	}
	nt_log_set_level(a.cfg.log_level);
	agent_config_allow_list(&a.cfg, a.allow);
	a.wake_fd = a.sig_fd = -1;
	pthread_mutex_init(&a.q_mtx, NULL);
	rv = agent_start(&a);
	if (rv == NT_OK) {
		rv = agent_loop(&a);
	}
	agent_fini(&a);
	nng_fini();
	if (rv == NT_EPERM) {
		return AGENT_EXIT_USAGE;
	}
	return rv == NT_OK ? 0 : AGENT_EXIT_FAIL;
}
