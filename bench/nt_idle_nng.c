/*
 * nt_idle_nng.c: the footprint baseline: a process that does nothing but
 * hold one nng req0 socket dialed to URL. Its RSS is what the agent's own
 * footprint is compared with in bench/agent_footprint.py.
 *
 *   nt_idle_nng URL
 */
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

static volatile sig_atomic_t idle_stop;

static void
idle_on_signal(int sig)
{
	(void)sig;
	idle_stop = 1;
}

int
main(int argc, char **argv)
{
	nng_socket s;

	if (argc != 2) {
		fprintf(stderr, "usage: nt_idle_nng URL\n");
		return 2;
	}
	signal(SIGTERM, idle_on_signal);
	signal(SIGINT, idle_on_signal);
	if (nng_req0_open(&s) != 0 ||
	    nng_dial(s, argv[1], NULL, NNG_FLAG_NONBLOCK) != 0) {
		fprintf(stderr, "nt_idle_nng: cannot set up\n");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (!idle_stop)
		pause();
	nng_close(s);
	return 0;
}
