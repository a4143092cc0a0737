/*
 * launcher.c: the task launcher and the agent's side of it (launcher.h).
 *
 * Messages are SOCK_SEQPACKET datagrams of fixed layout. A request is
 * the run id with the task's stdin, stdout and stderr attached
 * (SCM_RIGHTS); its answer is the new pid, or minus an errno. An exit
 * report is a pid and its wait status, sent once the process is reaped.
 */
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "nt_err.h"
#include "nt_log.h"
#include "nt_time.h"
#include "nt_uuid.h"
#include "task.h"

extern char **environ;

#define LAUNCHER_REQ_FD      3
#define LAUNCHER_EXIT_FD     4
#define LAUNCHER_WAIT_MS     2000       /* for its hello and each answer */
#define LAUNCHER_READY_MAGIC 0x4e544c52 /* "NTLR" */
/* Room in the launcher's argv for a task's "task-exec RUN_ID". */
#define LAUNCHER_TITLE_ROOM "                                                "

/* The launcher's argument strings, rewritten in each task process. */
static char *launcher_args;
static size_t launcher_args_len;

struct launcher_req {
	char run_id[NT_UUID_BUFLEN];
};

struct launcher_exit {
	int32_t pid;
	int32_t status;
};

/* A request as sent and received, with room for its descriptors. */
struct launcher_msg {
	struct launcher_req rq;
	union {
		char buf[CMSG_SPACE(3 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov;
	struct msghdr msg;
};

static void
launcher_msg_init(struct launcher_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->iov = (struct iovec){&m->rq, sizeof(m->rq)};
	m->msg.msg_iov = &m->iov;
	m->msg.msg_iovlen = 1;
	m->msg.msg_control = m->ctl.buf;
	m->msg.msg_controllen = sizeof(m->ctl.buf);
}

static void
launcher_close(int *fd)
{
	if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

void
launcher_init(struct launcher *l)
{
	l->pid = -1;
	l->req_fd = l->exit_fd = -1;
	l->started_ms = 0;
}

bool
launcher_up(const struct launcher *l)
{
	return l->pid > 0 && l->req_fd >= 0;
}

/* Receives one datagram within LAUNCHER_WAIT_MS; its length or -1. */
static ssize_t
launcher_recv_wait(int fd, void *buf, size_t len)
{
	struct pollfd p = {fd, POLLIN, 0};
	int64_t deadline = nt_time_mono_ms() + LAUNCHER_WAIT_MS;
	ssize_t n;

	for (;;) {
		int64_t left = deadline - nt_time_mono_ms();
		int rc;

		if (left <= 0)
			return -1;
		rc = poll(&p, 1, (int)left);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			return -1;
		n = recv(fd, buf, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		return n;
	}
}

/* Between fork and execve: async-signal-safe calls only. */
static void __attribute__((noreturn))
launcher_child(int req, int ex, pid_t parent, const char *exe)
{
	char *argv[] = {"nodetask-agent", "task-launcher", LAUNCHER_TITLE_ROOM,
	                NULL};
	struct sigaction dfl;
	sigset_t none;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	if (dup2(req, LAUNCHER_REQ_FD) < 0 || dup2(ex, LAUNCHER_EXIT_FD) < 0)
		_exit(127);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++)
		(void)sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(exe, argv, environ);
	_exit(127);
}

int
launcher_start(struct launcher *l, const char *exe)
{
	int req[2] = {-1, -1}, ex[2] = {-1, -1};
	uint32_t hello = 0;
	sigset_t all, old;
	pid_t parent = getpid(), pid;

	launcher_init(l);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, req) != 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ex) != 0) {
		nt_warn("launcher: socketpair: %s", strerror(errno));
		goto fail;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = fork();
	if (pid == 0)
		launcher_child(req[1], ex[1], parent, exe);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		nt_warn("launcher: fork: %s", strerror(errno));
		goto fail;
	}
	launcher_close(&req[1]);
	launcher_close(&ex[1]);
	l->pid = pid;
	l->req_fd = req[0];
	l->exit_fd = ex[0];
	l->started_ms = nt_time_mono_ms();
	if (launcher_recv_wait(l->req_fd, &hello, sizeof(hello)) !=
	            (ssize_t)sizeof(hello) ||
	    hello != LAUNCHER_READY_MAGIC) {
		nt_warn("launcher: %s task-launcher did not start; task "
		        "processes are started with execve",
		        exe);
		launcher_stop(l);
		return NT_EIO;
	}
	fcntl(l->exit_fd, F_SETFL, O_NONBLOCK);
	nt_info("launcher: started as process %d", (int)pid);
	return NT_OK;
fail:
	launcher_close(&req[0]);
	launcher_close(&req[1]);
	launcher_close(&ex[0]);
	launcher_close(&ex[1]);
	return NT_EIO;
}

int
launcher_spawn(struct launcher *l, const char *run_id, int in, int out, int err,
               pid_t *pid)
{
	struct launcher_msg m;
	struct cmsghdr *cm;
	int fds[3] = {in, out, err};
	int32_t answer = 0;

	if (!launcher_up(l))
		return NT_ECLOSED;
	launcher_msg_init(&m);
	snprintf(m.rq.run_id, sizeof(m.rq.run_id), "%s", run_id);
	cm = CMSG_FIRSTHDR(&m.msg);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(fds));
	memcpy(CMSG_DATA(cm), fds, sizeof(fds));
	if (sendmsg(l->req_fd, &m.msg, MSG_NOSIGNAL) != (ssize_t)sizeof(m.rq) ||
	    launcher_recv_wait(l->req_fd, &answer, sizeof(answer)) !=
	            (ssize_t)sizeof(answer)) {
		nt_warn("launcher: no answer for run %s; stopping it", run_id);
		launcher_stop(l);
		return NT_EIO;
	}
	if (answer <= 0) {
		errno = -answer;
		return NT_EIO;
	}
	*pid = (pid_t)answer;
	return NT_OK;
}

int
launcher_read_exit(struct launcher *l, pid_t *pid, int *status)
{
	struct launcher_exit e;
	ssize_t n;

	if (l->exit_fd < 0)
		return NT_EIO;
	do {
		n = recv(l->exit_fd, &e, sizeof(e), MSG_DONTWAIT);
	} while (n < 0 && errno == EINTR);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return NT_ENOTFOUND;
	if (n != (ssize_t)sizeof(e))
		return NT_EIO;
	*pid = e.pid;
	*status = e.status;
	return NT_OK;
}

bool
launcher_exited(struct launcher *l)
{
	int status;

	if (l->pid <= 0 || waitpid(l->pid, &status, WNOHANG) != l->pid)
		return false;
	nt_warn("launcher: process %d exited (status 0x%x)", (int)l->pid,
	        status);
	l->pid = -1;
	launcher_close(&l->req_fd);
	launcher_close(&l->exit_fd);
	return true;
}

void
launcher_stop(struct launcher *l)
{
	launcher_close(&l->req_fd);
	launcher_close(&l->exit_fd);
	if (l->pid > 0) {
		/* It exits on EOF; a wedged one is not waited for long. */
		int64_t deadline = nt_time_mono_ms() + LAUNCHER_WAIT_MS;
		while (waitpid(l->pid, NULL, WNOHANG) == 0) {
			if (nt_time_mono_ms() > deadline) {
				kill(l->pid, SIGKILL);
				(void)waitpid(l->pid, NULL, 0);
				break;
			}
			usleep(1000);
		}
	}
	l->pid = -1;
}

/* ---- the launcher process ------------------------------------------------ */

/*
 * Makes the task process show as "nodetask-agent task-exec RUN_ID" (ps,
 * /proc/PID/cmdline), as one started with execve does: operators and
 * tests find a run's processes by its id.
 */
static void
launcher_title(const char *run_id)
{
	if (launcher_args == NULL)
		return;
	memset(launcher_args, 0, launcher_args_len);
	snprintf(launcher_args, launcher_args_len, "task-exec%c%s", '\0',
	         run_id);
}

/* In the new task process: becomes the task; never returns. */
static void __attribute__((noreturn))
launcher_task(int sig_fd, const int fds[3], pid_t launcher, const char *run_id)
{
	sigset_t none;

	setpgid(0, 0);
	launcher_title(run_id);
	/* Die with the launcher (which dies with the agent). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != launcher)
		_exit(127);
	close(LAUNCHER_REQ_FD);
	close(LAUNCHER_EXIT_FD);
	close(sig_fd);
	if (dup2(fds[0], STDIN_FILENO) < 0 || dup2(fds[1], STDOUT_FILENO) < 0 ||
	    dup2(fds[2], STDERR_FILENO) < 0)
		_exit(127);
	for (int i = 0; i < 3; i++)
		if (fds[i] > STDERR_FILENO)
			close(fds[i]);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	exit(task_process_main(STDIN_FILENO, STDOUT_FILENO));
}

/* One request: fork the task process, answer with its pid. */
static int
launcher_serve(int sig_fd)
{
	struct launcher_msg m;
	struct cmsghdr *cm;
	int fds[3] = {-1, -1, -1};
	int32_t answer;
	ssize_t n;
	pid_t self = getpid(), pid;

	launcher_msg_init(&m);
	do {
		n = recvmsg(LAUNCHER_REQ_FD, &m.msg, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n <= 0)
		return NT_ECLOSED; /* the agent is gone */
	cm = CMSG_FIRSTHDR(&m.msg);
	if (cm != NULL && cm->cmsg_level == SOL_SOCKET &&
	    cm->cmsg_type == SCM_RIGHTS &&
	    cm->cmsg_len == CMSG_LEN(sizeof(fds)))
		memcpy(fds, CMSG_DATA(cm), sizeof(fds));
	if (n != (ssize_t)sizeof(m.rq) || fds[0] < 0 || fds[1] < 0 ||
	    fds[2] < 0) {
		answer = -EPROTO;
	} else if ((pid = fork()) == 0) {
		m.rq.run_id[sizeof(m.rq.run_id) - 1] = '\0';
		launcher_task(sig_fd, fds, self, m.rq.run_id);
	} else {
		answer = pid > 0 ? (int32_t)pid : -errno;
		if (pid > 0)
			(void)setpgid(pid, pid);
	}
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (send(LAUNCHER_REQ_FD, &answer, sizeof(answer), MSG_NOSIGNAL) !=
	    (ssize_t)sizeof(answer))
		return NT_ECLOSED;
	return NT_OK;
}

/*
 * Reaps every exited task process: while it is still a zombie its group
 * id cannot be reused, so what is left of the group is killed first.
 */
static int
launcher_reap(void)
{
	for (;;) {
		struct launcher_exit e;
		siginfo_t si;
		int status = 0;

		memset(&si, 0, sizeof(si));
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 ||
		    si.si_pid == 0)
			return NT_OK;
		(void)kill(-si.si_pid, SIGKILL);
		while (waitpid(si.si_pid, &status, 0) < 0 && errno == EINTR) {
		}
		e.pid = si.si_pid;
		e.status = status;
		if (send(LAUNCHER_EXIT_FD, &e, sizeof(e), MSG_NOSIGNAL) !=
		    (ssize_t)sizeof(e))
			return NT_ECLOSED;
	}
}

static bool
launcher_is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

int
launcher_main(int argc, char **argv)
{
	uint32_t hello = LAUNCHER_READY_MAGIC;
	struct pollfd p[2];
	sigset_t chld;
	int sig_fd;

	if (!launcher_is_socket(LAUNCHER_REQ_FD) ||
	    !launcher_is_socket(LAUNCHER_EXIT_FD)) {
		fprintf(stderr, "nodetask-agent task-launcher: only the agent "
		                "starts this\n");
		return 2;
	}
	/* argv[1] to the end of the last argument are one block. */
	if (argc >= 3) {
		launcher_args = argv[1];
		launcher_args_len = (size_t)(argv[argc - 1] +
		                             strlen(argv[argc - 1]) - argv[1]);
	}
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &chld, NULL) != 0 ||
	    (sig_fd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC)) < 0)
		return 1;
	signal(SIGINT, SIG_IGN); /* a terminal's ^C is for the agent */
	if (send(LAUNCHER_REQ_FD, &hello, sizeof(hello), MSG_NOSIGNAL) !=
	    (ssize_t)sizeof(hello))
		return 1;
	p[0] = (struct pollfd){LAUNCHER_REQ_FD, POLLIN, 0};
	p[1] = (struct pollfd){sig_fd, POLLIN, 0};
	for (;;) {
		struct signalfd_siginfo si;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			return 1;
		if (p[1].revents != 0) {
			while (read(sig_fd, &si, sizeof(si)) > 0) {
			}
			if (launcher_reap() != NT_OK)
				return 0;
		}
		if (p[0].revents != 0 && launcher_serve(sig_fd) != NT_OK)
			return 0;
	}
}
