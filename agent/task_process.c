/*
 * task_process.c: the task side of a run (task.h): reads the run from the
 * agent, runs the task, and speaks the line protocol back; runs commands
 * for tasks and turns their output into log lines.
 *
 * One process, one run, one thread. SIGTERM sets a flag and wakes every
 * poll(2) through a self-pipe, so a stop is seen at once whether the task
 * is writing, waiting for an answer or running a command.
 *
 * Exit codes: 0 completed, 1 failed, 2 canceled, 3 the run could not be
 * read or its "finished" record not written.
 */
#include <linux/close_range.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nt_err.h"
#include "nt_text.h"
#include "nt_time.h"
#include "task.h"

#define TASK_LINE_MAX    (1024 * 1024) /* the first line holds params */
#define TASK_MSG_MAX     (16 * 1024)   /* longer log messages are cut */
#define TASK_EXEC_LINE   4096          /* command output split here */
#define TASK_CAPTURE_MAX (64 * 1024 * 1024)
#define TASK_EXEC_GRACE  5000 /* ms between SIGTERM and SIGKILL */
#define TASK_EXIT_DRAIN  1000 /* ms to wait for output after exit */
#define TASK_EXIT_PROTO  3

extern char **environ;

/* Input from the agent, split into lines. */
static struct {
	int fd;
	char *buf;
	size_t len;
	bool eof;
} task_in = {.fd = -1};

static int task_out_fd = -1;
static int task_sig_pipe[2] = {-1, -1};
static volatile sig_atomic_t task_stop;

static void
task_on_term(int sig)
{
	int saved = errno;
	char c = 1;
	ssize_t r;

	(void)sig;
	task_stop = 1;
	r = write(task_sig_pipe[1], &c, 1);
	(void)r; /* full pipe: a wake-up is already pending */
	errno = saved;
}

static void
task_drain_sig_pipe(void)
{
	char buf[64];

	while (read(task_sig_pipe[0], buf, sizeof(buf)) > 0)
		;
}

static int
task_write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return NT_EIO;
		}
		p += w;
		n -= (size_t)w;
	}
	return NT_OK;
}

/* Writes one record as one line. A dead agent means: stop. */
static int
task_send(const cJSON *rec)
{
	char *text, *line;
	size_t n;
	int rc;

	text = cJSON_PrintUnformatted(rec);
	if (text == NULL)
		return NT_ENOMEM;
	n = strlen(text);
	line = malloc(n + 2);
	if (line == NULL) {
		cJSON_free(text);
		return NT_ENOMEM;
	}
	memcpy(line, text, n);
	line[n] = '\n';
	line[n + 1] = '\0';
	cJSON_free(text);
	rc = task_write_all(task_out_fd, line, n + 1);
	free(line);
	if (rc != NT_OK)
		task_stop = 1;
	return rc;
}

/* Reads what is there (after poll said so); notes EOF. */
static int
task_in_read(void)
{
	char *nb;
	ssize_t r;

	if (task_in.len >= TASK_LINE_MAX)
		return NT_ETOOBIG;
	if (task_in.buf == NULL) {
		nb = malloc(TASK_LINE_MAX + 1);
		if (nb == NULL)
			return NT_ENOMEM;
		task_in.buf = nb;
	}
	do {
		r = read(task_in.fd, task_in.buf + task_in.len,
		         TASK_LINE_MAX - task_in.len);
	} while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EAGAIN ? NT_OK : NT_EIO;
	if (r == 0)
		task_in.eof = true;
	task_in.len += (size_t)r;
	return NT_OK;
}

/* Takes one complete line out of the input buffer, or NULL. */
static char *
task_in_take(void)
{
	char *nl, *line;
	size_t n;

	if (task_in.buf == NULL)
		return NULL;
	nl = memchr(task_in.buf, '\n', task_in.len);
	if (nl == NULL)
		return NULL;
	n = (size_t)(nl - task_in.buf);
	line = malloc(n + 1);
	if (line == NULL)
		return NULL;
	memcpy(line, task_in.buf, n);
	line[n] = '\0';
	memmove(task_in.buf, nl + 1, task_in.len - n - 1);
	task_in.len -= n + 1;
	return line;
}

/*
 * Waits for the next line from the agent. NT_ECLOSED on EOF or stop
 * (unless ignore_stop, for the first line), NT_ETOOBIG for a line past
 * the limit.
 */
static int
task_in_line(char **line, bool ignore_stop)
{
	struct pollfd p[2];
	int rc;

	for (;;) {
		*line = task_in_take();
		if (*line != NULL)
			return NT_OK;
		if (task_in.eof)
			return NT_ECLOSED;
		if (task_stop && !ignore_stop)
			return NT_ECLOSED;
		p[0] = (struct pollfd){.fd = task_in.fd, .events = POLLIN};
		p[1] = (struct pollfd){.fd = task_sig_pipe[0],
		                       .events = POLLIN};
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return NT_EIO;
		}
		if (p[1].revents != 0)
			task_drain_sig_pipe();
		if (p[0].revents != 0) {
			rc = task_in_read();
			if (rc != NT_OK)
				return rc;
		}
	}
}

bool
task_stopping(void)
{
	struct pollfd p;

	if (task_stop)
		return true;
	if (task_in.fd < 0 || task_in.eof)
		return task_in.eof;
	/* EOF from the agent means it is gone: stop as for SIGTERM. */
	p = (struct pollfd){.fd = task_in.fd, .events = POLLIN};
	if (poll(&p, 1, 0) == 1 && task_in_read() != NT_OK)
		task_stop = 1;
	if (task_in.eof)
		task_stop = 1;
	return task_stop != 0;
}

static const char *
task_level_name(enum nt_log_level level)
{
	switch (level) {
	case NT_LOG_DEBUG:
		return "debug";
	case NT_LOG_WARN:
		return "warn";
	case NT_LOG_ERROR:
		return "error";
	default:
		return "info";
	}
}

/* One log record per line of msg; msg is repaired for storage. */
static void
task_log_text(enum nt_log_level level, char *msg)
{
	char *line, *next;
	cJSON *rec;

	if (strlen(msg) > TASK_MSG_MAX)
		msg[TASK_MSG_MAX] = '\0';
	for (line = msg; line != NULL; line = next) {
		next = strchr(line, '\n');
		if (next != NULL)
			*next++ = '\0';
		if (line[0] == '\0')
			continue; /* blank lines carry nothing */
		nt_text_sanitize(line);
		rec = cJSON_CreateObject();
		if (rec == NULL)
			return;
		if (cJSON_AddStringToObject(rec, "type", "log") != NULL &&
		    cJSON_AddStringToObject(rec, "level",
		                            task_level_name(level)) != NULL &&
		    cJSON_AddStringToObject(rec, "message", line) != NULL)
			task_send(rec);
		cJSON_Delete(rec);
	}
}

void
task_log(struct task_ctx *t, enum nt_log_level level, const char *fmt, ...)
{
	va_list ap;
	char *msg;
	int n;

	(void)t;
	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	task_log_text(level, msg);
	free(msg);
}

static bool
task_is_option(const char *s, const char *const *options, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (strcmp(s, options[i]) == 0)
			return true;
	}
	return false;
}

static int
task_send_question(const char *prompt, const char *const *options,
                   size_t n_options)
{
	cJSON *rec, *opts;
	size_t i;
	int rc = NT_ENOMEM;

	rec = cJSON_CreateObject();
	if (rec == NULL)
		return NT_ENOMEM;
	if (cJSON_AddStringToObject(rec, "type", "question") == NULL ||
	    cJSON_AddStringToObject(rec, "prompt", prompt) == NULL)
		goto out;
	opts = cJSON_AddArrayToObject(rec, "options");
	if (opts == NULL)
		goto out;
	for (i = 0; i < n_options; i++) {
		if (!cJSON_AddItemToArray(opts, cJSON_CreateString(options[i])))
			goto out;
	}
	rc = task_send(rec);
out:
	cJSON_Delete(rec);
	return rc;
}

int
task_ask(struct task_ctx *t, const char *prompt, const char *const *options,
         size_t n_options, char *answer, size_t answer_len)
{
	const cJSON *a;
	cJSON *msg;
	char *line;
	int rc;

	if (prompt == NULL || options == NULL || n_options == 0 ||
	    answer == NULL || answer_len == 0)
		return NT_EINVAL;
	if (task_stopping())
		return NT_ECLOSED;
	rc = task_send_question(prompt, options, n_options);
	if (rc != NT_OK)
		return rc == NT_EIO ? NT_ECLOSED : rc;
	for (;;) {
		rc = task_in_line(&line, false);
		if (rc != NT_OK)
			return rc;
		msg = cJSON_Parse(line);
		free(line);
		a = cJSON_GetObjectItemCaseSensitive(msg, "answer");
		if (!cJSON_IsString(a)) {
			/* Not for us; the agent sends nothing else now. */
			cJSON_Delete(msg);
			continue;
		}
		if (!task_is_option(a->valuestring, options, n_options)) {
			task_log(t, NT_LOG_ERROR,
			         "answer \"%.64s\" is not one of the options",
			         a->valuestring);
			cJSON_Delete(msg);
			return NT_EPROTO;
		}
		snprintf(answer, answer_len, "%s", a->valuestring);
		cJSON_Delete(msg);
		return NT_OK;
	}
}

/* ---- running commands ------------------------------------------------ */

/* Output of one stream of a command, cut into lines. */
struct task_stream {
	int fd;
	int stream; /* 1 stdout, 2 stderr */
	enum nt_log_level level;
	const struct task_exec_opts *opts;
	char buf[TASK_EXEC_LINE + 1];
	size_t len;
};

struct task_capture {
	char *buf;
	size_t len, cap;
	bool full;
};

static void
task_capture_add(struct task_ctx *t, struct task_capture *c, const char *p,
                 size_t n)
{
	char *nb;
	size_t ncap;

	if (c == NULL || c->full)
		return;
	if (c->len + n + 1 > TASK_CAPTURE_MAX) {
		task_log(t, NT_LOG_WARN,
		         "command output over %d MiB: not "
		         "all of it kept",
		         TASK_CAPTURE_MAX >> 20);
		c->full = true;
		return;
	}
	if (c->len + n + 1 > c->cap) {
		ncap = c->cap != 0 ? c->cap : 4096;
		while (ncap < c->len + n + 1)
			ncap *= 2;
		nb = realloc(c->buf, ncap);
		if (nb == NULL) {
			c->full = true;
			return;
		}
		c->buf = nb;
		c->cap = ncap;
	}
	memcpy(c->buf + c->len, p, n);
	c->len += n;
	c->buf[c->len] = '\0';
}

static void
task_stream_emit(struct task_ctx *t, struct task_stream *s, size_t n)
{
	char line[TASK_EXEC_LINE + 1];
	enum nt_log_level level = s->level;
	size_t take = n;

	memcpy(line, s->buf, n);
	if (take > 0 && line[take - 1] == '\n')
		take--;
	if (take > 0 && line[take - 1] == '\r')
		take--;
	line[take] = '\0';
	nt_text_sanitize(line);
	if (s->opts == NULL || s->opts->on_line == NULL ||
	    s->opts->on_line(s->opts->arg, s->stream, line, &level))
		task_log(t, level, "%s", line);
	memmove(s->buf, s->buf + n, s->len - n);
	s->len -= n;
}

/* Reads a stream once; returns false at EOF or error (then closed). */
static bool
task_stream_read(struct task_ctx *t, struct task_stream *s,
                 struct task_capture *cap)
{
	char *nl;
	ssize_t r;

	do {
		r = read(s->fd, s->buf + s->len, TASK_EXEC_LINE - s->len);
	} while (r < 0 && errno == EINTR);
	if (r <= 0) {
		if (s->len > 0)
			task_stream_emit(t, s, s->len);
		close(s->fd);
		s->fd = -1;
		return false;
	}
	task_capture_add(t, cap, s->buf + s->len, (size_t)r);
	s->len += (size_t)r;
	while ((nl = memchr(s->buf, '\n', s->len)) != NULL)
		task_stream_emit(t, s, (size_t)(nl - s->buf) + 1);
	if (s->len == TASK_EXEC_LINE)
		task_stream_emit(t, s, s->len); /* a very long line: cut */
	return true;
}

/* argv[0] as a path: itself when it has a '/', else found in PATH. */
static int
task_exec_path(const char *name, char *out, size_t len)
{
	const char *path = getenv("PATH");
	const char *p, *end;
	size_t dl;

	if (strchr(name, '/') != NULL) {
		snprintf(out, len, "%s", name);
		return NT_OK;
	}
	if (path == NULL || path[0] == '\0')
		path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:"
		       "/sbin:/bin";
	for (p = path; *p != '\0'; p = *end != '\0' ? end + 1 : end) {
		end = strchrnul(p, ':');
		dl = (size_t)(end - p);
		if (dl == 0)
			continue;
		if (snprintf(out, len, "%.*s/%s", (int)dl, p, name) >= (int)len)
			continue;
		if (access(out, X_OK) == 0)
			return NT_OK;
	}
	return NT_ENOTFOUND;
}

/* The environment plus extras ("K=V"; an extra replaces the same K). */
static char **
task_exec_env(const char *const *extra)
{
	size_t n = 0, ne = 0, i, j, k, kl;
	char **env;

	while (environ != NULL && environ[n] != NULL)
		n++;
	while (extra != NULL && extra[ne] != NULL)
		ne++;
	env = calloc(n + ne + 1, sizeof(*env));
	if (env == NULL)
		return NULL;
	for (i = 0, k = 0; i < n; i++) {
		for (j = 0; j < ne; j++) {
			kl = strcspn(extra[j], "=");
			if (strncmp(environ[i], extra[j], kl) == 0 &&
			    environ[i][kl] == '=')
				break;
		}
		if (j == ne)
			env[k++] = environ[i];
	}
	for (j = 0; j < ne; j++)
		env[k++] = (char *)extra[j];
	env[k] = NULL;
	return env;
}

static void __attribute__((noreturn))
task_exec_child(const char *path, const char *const *argv, char **env,
                int out_w, int err_w, int st_w, bool new_session)
{
	struct sigaction sa;
	sigset_t none;
	int e, fd;

	if (new_session && setsid() < 0)
		goto fail;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	/* The agent's answers are for the task, never for a command. */
	fd = open("/dev/null", O_RDONLY);
	if (fd < 0 || dup2(fd, 0) < 0 || dup2(out_w, 1) < 0 ||
	    dup2(err_w, 2) < 0)
		goto fail;
	/*
	 * Whatever the task process inherited stays out of the command;
	 * close-on-exec rather than close keeps st_w until the exec.
	 */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) != 0) {
		for (fd = 3; fd < 1024; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	execve(path, (char *const *)argv, env);
fail:
	e = errno;
	if (write(st_w, &e, sizeof(e)) < 0)
		_exit(127);
	_exit(127);
}

static int
task_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
	int fd = (int)syscall(SYS_pidfd_open, pid, 0);

	if (fd >= 0)
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
#else
	(void)pid;
	return -1;
#endif
}

/* The running command and how it is being ended. */
struct task_child {
	pid_t pid;
	int pidfd;
	bool reaped;
	int status;
	int kill_stage; /* 0 running, 1 SIGTERM sent, 2 SIGKILL sent */
	int64_t kill_at;
	int64_t exit_at;
	int why; /* NT_ETIMEDOUT or NT_ECLOSED once ending it */
	/*
	 * Who is signalled: the command's own group (new session), every
	 * process of the task's group but the task (the task leads it), or
	 * only the command (a task started by other means, as in tests).
	 */
	enum { TASK_KILL_PID, TASK_KILL_GROUP, TASK_KILL_OWN_GROUP } scope;
	bool when_stopping;
};

/* Field 5 (pgrp) and state of /proc/PID/stat. */
static bool
task_proc_pgrp(const char *pid, pid_t *pgrp, char *state)
{
	char path[64], buf[512], *p;
	ssize_t r;
	int fd, pg;

	snprintf(path, sizeof(path), "/proc/%s/stat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (r <= 0)
		return false;
	buf[r] = '\0';
	p = strrchr(buf, ')'); /* the name may hold anything */
	if (p == NULL || sscanf(p + 1, " %c %*d %d", state, &pg) != 2)
		return false;
	*pgrp = pg;
	return true;
}

/*
 * Sends sig (0: none) to every live process of group pgid but this one;
 * returns how many there were.
 */
static int
task_group_signal(pid_t pgid, int sig)
{
	struct dirent *e;
	pid_t pg, self = getpid();
	char state;
	long pid;
	int n = 0;
	DIR *d;

	d = opendir("/proc");
	if (d == NULL)
		return kill(-pgid, 0) == 0 ? 1 : 0;
	while ((e = readdir(d)) != NULL) {
		pid = strtol(e->d_name, NULL, 10);
		if (pid <= 0 || pid == self ||
		    !task_proc_pgrp(e->d_name, &pg, &state) || pg != pgid ||
		    state == 'Z' || state == 'X')
			continue;
		n++;
		if (sig != 0)
			kill((pid_t)pid, sig);
	}
	closedir(d);
	return n;
}

static void
task_child_signal(struct task_child *c, int sig)
{
	switch (c->scope) {
	case TASK_KILL_GROUP:
		if (!c->reaped)
			kill(c->pid, sig);
		task_group_signal(getpgrp(), sig);
		break;
	case TASK_KILL_OWN_GROUP:
		kill(-c->pid, sig);
		break;
	default:
		if (!c->reaped)
			kill(c->pid, sig);
		break;
	}
}

/* What an ended command left in its group, if task_exec may look. */
static int
task_child_rest(const struct task_child *c)
{
	switch (c->scope) {
	case TASK_KILL_GROUP:
		return task_group_signal(getpgrp(), 0);
	case TASK_KILL_OWN_GROUP:
		return task_group_signal(c->pid, 0);
	default:
		return 0;
	}
}

/*
 * After an ended command exits: waits for the processes it started to
 * go (they got the same signal), SIGKILL when the grace period is over.
 */
static void
task_child_wait_rest(struct task_child *c)
{
	struct timespec ts = {0, 20 * 1000 * 1000};
	int64_t end;

	if (c->kill_stage == 0)
		return;
	end = c->kill_at + TASK_EXEC_GRACE;
	while (task_child_rest(c) > 0) {
		if (c->kill_stage == 1 && nt_time_mono_ms() >= c->kill_at) {
			task_child_signal(c, SIGKILL);
			c->kill_stage = 2;
		}
		if (nt_time_mono_ms() >= end)
			break; /* unkillable (D state): not worth hanging on */
		nanosleep(&ts, NULL);
		if (c->kill_stage == 2)
			task_child_signal(c, SIGKILL);
	}
}

static void
task_child_reap(struct task_child *c)
{
	pid_t r;

	if (c->reaped)
		return;
	do {
		r = waitpid(c->pid, &c->status, WNOHANG);
	} while (r < 0 && errno == EINTR);
	if (r == c->pid || (r < 0 && errno == ECHILD)) {
		c->reaped = true;
		c->exit_at = nt_time_mono_ms();
	}
}

static void
task_child_end(struct task_child *c, int why, int64_t now)
{
	if (c->reaped)
		return;
	if (c->kill_stage == 0) {
		c->why = why;
		task_child_signal(c, SIGTERM);
		c->kill_stage = 1;
		c->kill_at = now + TASK_EXEC_GRACE;
	} else if (c->kill_stage == 1 && now >= c->kill_at) {
		task_child_signal(c, SIGKILL);
		c->kill_stage = 2;
	}
}

/* How long poll may sleep: until the next deadline that matters. */
static int
task_exec_wait_ms(const struct task_child *c, int64_t deadline, int64_t now,
                  bool streams_open)
{
	int64_t w = -1;

	if (deadline > 0 && c->kill_stage == 0)
		w = deadline - now;
	if (c->kill_stage == 1)
		w = c->kill_at - now;
	if (c->reaped && streams_open)
		w = c->exit_at + TASK_EXIT_DRAIN - now;
	if (!c->reaped && c->pidfd < 0 && (w < 0 || w > 100))
		w = 100; /* no pidfd: look for the exit now and then */
	if (w < -1)
		w = 0;
	return w > INT_MAX ? INT_MAX : (int)w;
}

static int
task_exec_loop(struct task_ctx *t, struct task_child *c, struct task_stream *s,
               struct task_capture *cap, int timeout_ms)
{
	int64_t deadline = timeout_ms > 0 ? nt_time_mono_ms() + timeout_ms : 0;
	struct pollfd p[4];
	int64_t now;
	nfds_t np;
	int i;

	for (;;) {
		now = nt_time_mono_ms();
		if (task_stopping() && !c->when_stopping)
			task_child_end(c, NT_ECLOSED, now);
		else if (deadline > 0 && now >= deadline)
			task_child_end(c, NT_ETIMEDOUT, now);
		else if (c->kill_stage == 1)
			task_child_end(c, c->why, now);
		task_child_reap(c);
		if (c->reaped && s[0].fd < 0 && s[1].fd < 0)
			break;
		if (c->reaped && now >= c->exit_at + TASK_EXIT_DRAIN)
			break; /* something it started still holds a pipe */
		np = 0;
		for (i = 0; i < 2; i++) {
			if (s[i].fd >= 0)
				p[np++] = (struct pollfd){.fd = s[i].fd,
				                          .events = POLLIN};
		}
		p[np++] = (struct pollfd){.fd = task_sig_pipe[0],
		                          .events = POLLIN};
		if (!c->reaped && c->pidfd >= 0)
			p[np++] = (struct pollfd){.fd = c->pidfd,
			                          .events = POLLIN};
		if (poll(p, np,
		         task_exec_wait_ms(c, deadline, now,
		                           s[0].fd >= 0 || s[1].fd >= 0)) < 0 &&
		    errno != EINTR)
			return NT_EIO;
		task_drain_sig_pipe();
		for (i = 0; i < 2; i++) {
			if (s[i].fd < 0)
				continue;
			/* Match revents by fd: p[] skips closed streams. */
			for (nfds_t j = 0; j < np; j++) {
				if (p[j].fd == s[i].fd && p[j].revents != 0) {
					task_stream_read(t, &s[i],
					                 i == 0 ? cap : NULL);
					break;
				}
			}
		}
	}
	for (i = 0; i < 2; i++) {
		if (s[i].fd >= 0) {
			close(s[i].fd);
			s[i].fd = -1;
		}
	}
	return c->why;
}

static void
task_close_pair(int fds[2])
{
	for (int i = 0; i < 2; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

/* Waits for exec: 0 when it happened, else the child's errno. */
static int
task_exec_started(int st_r)
{
	ssize_t r;
	int e = 0;

	do {
		r = read(st_r, &e, sizeof(e));
	} while (r < 0 && errno == EINTR);
	return r == (ssize_t)sizeof(e) ? e : 0;
}

/* How a command is ended: see struct task_child. */
static void
task_child_scope(struct task_child *c, const struct task_exec_opts *o)
{
	if (o->new_session)
		c->scope = TASK_KILL_OWN_GROUP;
	else if (getpgrp() == getpid())
		c->scope = TASK_KILL_GROUP;
	else
		c->scope = TASK_KILL_PID;
	c->when_stopping = o->when_stopping;
}

int
task_exec(struct task_ctx *t, const char *const *argv,
          const char *const *envp_extra, int timeout_ms, int *exit_status,
          char **capture)
{
	struct task_exec_opts o = {.env = envp_extra,
	                           .timeout_ms = timeout_ms,
	                           .capture = capture};

	return task_exec_opt(t, argv, &o, exit_status);
}

int
task_exec_opt(struct task_ctx *t, const char *const *argv,
              const struct task_exec_opts *o, int *exit_status)
{
	int outp[2] = {-1, -1}, errp[2] = {-1, -1}, stp[2] = {-1, -1};
	struct task_capture cap = {0};
	struct task_stream s[2];
	struct task_child c = {.pidfd = -1};
	char **capture = o->capture;
	char path[PATH_MAX];
	char **env = NULL;
	int rc, e;

	if (exit_status != NULL)
		*exit_status = -1;
	if (capture != NULL)
		*capture = NULL;
	if (argv == NULL || argv[0] == NULL || argv[0][0] == '\0')
		return NT_EINVAL;
	if (task_exec_path(argv[0], path, sizeof(path)) != NT_OK) {
		task_log(t, NT_LOG_ERROR, "cannot run %s: not found in PATH",
		         argv[0]);
		return NT_EIO;
	}
	task_child_scope(&c, o);
	env = task_exec_env(o->env);
	if (env == NULL || pipe2(outp, O_CLOEXEC) != 0 ||
	    pipe2(errp, O_CLOEXEC) != 0 || pipe2(stp, O_CLOEXEC) != 0) {
		task_log(t, NT_LOG_ERROR, "cannot run %s: %s", argv[0],
		         strerror(errno));
		rc = NT_EIO;
		goto out;
	}
	c.pid = fork();
	if (c.pid < 0) {
		task_log(t, NT_LOG_ERROR, "cannot run %s: fork: %s", argv[0],
		         strerror(errno));
		rc = NT_EIO;
		goto out;
	}
	if (c.pid == 0)
		task_exec_child(path, argv, env, outp[1], errp[1], stp[1],
		                o->new_session);
	close(outp[1]);
	close(errp[1]);
	close(stp[1]);
	outp[1] = errp[1] = stp[1] = -1;
	e = task_exec_started(stp[0]);
	if (e != 0) {
		while (waitpid(c.pid, NULL, 0) < 0 && errno == EINTR)
			;
		task_log(t, NT_LOG_ERROR, "cannot run %s: %s", path,
		         strerror(e));
		rc = NT_EIO;
		goto out;
	}
	c.pidfd = task_pidfd(c.pid);
	s[0] = (struct task_stream){
	        .fd = outp[0], .stream = 1, .level = NT_LOG_INFO, .opts = o};
	s[1] = (struct task_stream){.fd = errp[0],
	                            .stream = 2,
	                            .level = o->stderr_info ? NT_LOG_INFO
	                                                    : NT_LOG_WARN,
	                            .opts = o};
	outp[0] = errp[0] = -1;
	rc = task_exec_loop(t, &c, s, capture != NULL ? &cap : NULL,
	                    o->timeout_ms);
	if (!c.reaped) {
		/* Only after a poll failure: do not leave it behind. */
		task_child_signal(&c, SIGKILL);
		while (waitpid(c.pid, &c.status, 0) < 0 && errno == EINTR)
			;
		c.reaped = true;
		if (c.kill_stage == 0)
			c.kill_at = nt_time_mono_ms();
		c.kill_stage = 2;
	}
	task_child_wait_rest(&c);
	if (exit_status != NULL)
		*exit_status = WIFSIGNALED(c.status) ? 128 + WTERMSIG(c.status)
		                                     : WEXITSTATUS(c.status);
	if (capture != NULL) {
		*capture = cap.buf != NULL ? cap.buf : strdup("");
		cap.buf = NULL;
	}
out:
	if (c.pidfd >= 0)
		close(c.pidfd);
	free(cap.buf);
	free(env);
	task_close_pair(outp);
	task_close_pair(errp);
	task_close_pair(stp);
	return rc;
}

/* ---- the run ---------------------------------------------------------- */

static int
task_finish(enum task_outcome o, cJSON *result, const char *err)
{
	static const char *states[] = {"completed", "failed", "canceled"};
	cJSON *rec;
	int rc = NT_ENOMEM;

	rec = cJSON_CreateObject();
	if (rec == NULL)
		goto out;
	if (cJSON_AddStringToObject(rec, "type", "finished") == NULL ||
	    cJSON_AddStringToObject(rec, "state", states[o]) == NULL)
		goto out;
	if (o == TASK_COMPLETED) {
		if (result == NULL)
			result = cJSON_CreateObject();
		if (!cJSON_AddItemToObject(rec, "result", result))
			goto out;
		result = NULL;
	} else {
		if (cJSON_AddStringToObject(rec, "error",
		                            err[0] != '\0' ? err : states[o]) ==
		    NULL)
			goto out;
	}
	rc = task_send(rec);
out:
	cJSON_Delete(result);
	cJSON_Delete(rec);
	return rc;
}

static int
task_signals(struct sigaction *old_term, struct sigaction *old_pipe)
{
	struct sigaction sa;

	if (pipe2(task_sig_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
		return NT_EIO;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = task_on_term; /* no SA_RESTART: wake blocked calls */
	if (sigaction(SIGTERM, &sa, old_term) != 0)
		return NT_EIO;
	sa.sa_handler = SIG_IGN; /* a dead agent is seen as EPIPE */
	if (sigaction(SIGPIPE, &sa, old_pipe) != 0)
		return NT_EIO;
	return NT_OK;
}

/* allowDevices as a NULL-terminated array pointing into the JSON. */
static int
task_allow_list(const cJSON *arr, const char ***out, char *err, size_t len)
{
	const cJSON *it;
	const char **v;
	size_t n = 0;

	*out = NULL;
	if (arr != NULL && !cJSON_IsArray(arr) && !cJSON_IsNull(arr)) {
		snprintf(err, len, "run: allowDevices is not an array");
		return NT_EINVAL;
	}
	v = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(*v));
	if (v == NULL)
		return NT_ENOMEM;
	cJSON_ArrayForEach(it, arr)
	{
		if (!cJSON_IsString(it)) {
			snprintf(err, len,
			         "run: allowDevices holds a "
			         "non-string");
			free(v);
			return NT_EINVAL;
		}
		v[n++] = it->valuestring;
	}
	*out = v;
	return NT_OK;
}

static int
task_parse_run(const char *line, cJSON **run, struct task_ctx *t,
               const char ***allow, char *err, size_t len)
{
	const cJSON *id, *name, *params, *config;

	*run = cJSON_Parse(line);
	if (!cJSON_IsObject(*run)) {
		snprintf(err, len, "run: first line is not a JSON object");
		return NT_EPROTO;
	}
	id = cJSON_GetObjectItemCaseSensitive(*run, "runId");
	name = cJSON_GetObjectItemCaseSensitive(*run, "taskName");
	params = cJSON_GetObjectItemCaseSensitive(*run, "params");
	config = cJSON_GetObjectItemCaseSensitive(*run, "config");
	if (!cJSON_IsString(id) || !cJSON_IsString(name)) {
		snprintf(err, len, "run: runId and taskName must be strings");
		return NT_EPROTO;
	}
	if ((params != NULL && !cJSON_IsObject(params) &&
	     !cJSON_IsNull(params)) ||
	    (config != NULL && !cJSON_IsObject(config) &&
	     !cJSON_IsNull(config))) {
		snprintf(err, len, "run: params and config must be objects");
		return NT_EPROTO;
	}
	t->run_id = id->valuestring;
	t->task_name = name->valuestring;
	/* Tasks may rely on objects: absent means empty. */
	if (!cJSON_IsObject(params)) {
		cJSON_DeleteItemFromObjectCaseSensitive(*run, "params");
		params = cJSON_AddObjectToObject(*run, "params");
	}
	if (!cJSON_IsObject(config)) {
		cJSON_DeleteItemFromObjectCaseSensitive(*run, "config");
		config = cJSON_AddObjectToObject(*run, "config");
	}
	if (params == NULL || config == NULL)
		return NT_ENOMEM;
	t->params = params;
	t->config = config;
	return task_allow_list(
	        cJSON_GetObjectItemCaseSensitive(*run, "allowDevices"), allow,
	        err, len);
}

static enum task_outcome
task_run(struct task_ctx *t, cJSON **result, char *err, size_t len)
{
	const struct task_def *def;

	def = task_find(t->task_name);
	if (def == NULL) {
		snprintf(err, len, "unknown task \"%.64s\"", t->task_name);
		return TASK_FAILED;
	}
	if (task_stopping()) {
		snprintf(err, len, "%s: stopped before it started", def->name);
		return TASK_CANCELED;
	}
	return def->run(t, result, err, len);
}

int
task_process_main(int in_fd, int out_fd)
{
	struct sigaction old_term = {.sa_handler = SIG_DFL};
	struct sigaction old_pipe = {.sa_handler = SIG_DFL};
	struct task_ctx t = {.in_fd = in_fd, .out_fd = out_fd};
	enum task_outcome o = TASK_FAILED;
	const char **allow = NULL;
	cJSON *run = NULL, *result = NULL;
	char err[1024] = "";
	char *line = NULL;
	int rc, code;

	task_in.fd = in_fd;
	task_in.len = 0;
	task_in.eof = false;
	task_out_fd = out_fd;
	task_stop = 0;
	/* Commands must not inherit the protocol pipes. */
	fcntl(in_fd, F_SETFD, FD_CLOEXEC);
	fcntl(out_fd, F_SETFD, FD_CLOEXEC);
	if (task_signals(&old_term, &old_pipe) != NT_OK) {
		snprintf(err, sizeof(err), "task: signal setup: %s",
		         strerror(errno));
		goto finish;
	}
	rc = task_in_line(&line, true);
	if (rc != NT_OK) {
		snprintf(err, sizeof(err), "run: no run description (%s)",
		         nt_strerror(rc));
		goto finish;
	}
	if (task_parse_run(line, &run, &t, &allow, err, sizeof(err)) != NT_OK)
		goto finish;
	t.allow = allow;
	o = task_run(&t, &result, err, sizeof(err));
	if (o != TASK_COMPLETED) {
		cJSON_Delete(result);
		result = NULL;
	}
finish:
	code = o == TASK_COMPLETED ? 0 : o == TASK_FAILED ? 1 : 2;
	if (task_finish(o, result, err) != NT_OK)
		code = TASK_EXIT_PROTO;
	else if (run == NULL)
		code = TASK_EXIT_PROTO;
	free(line);
	free(allow);
	cJSON_Delete(run);
	free(task_in.buf);
	task_in.buf = NULL;
	task_in.fd = -1;
	if (task_sig_pipe[0] >= 0) {
		sigaction(SIGTERM, &old_term, NULL);
		sigaction(SIGPIPE, &old_pipe, NULL);
	}
	task_close_pair(task_sig_pipe);
	return code;
}
