/*
 * nt_link_probe.c: speaks the agent link to a real controller with
 * credentials and events chosen by a test, to check what the controller
 * refuses: bad enrollment tokens, wrong secrets, old protocol versions,
 * and an agent reporting on a run that belongs to another node.
 *
 *   nt_link_probe URL NODE_ID hello [--token T] [--secret S] [--version N]
 *   nt_link_probe URL NODE_ID log --secret S RUN_ID SEQ MESSAGE
 *
 * Prints one word for the controller's answer: OK, DENIED, INCOMPATIBLE,
 * UNAUTHENTICATED, BAD_REQUEST, UNAVAILABLE, or for log: STORED,
 * DUPLICATE, REJECTED. Exits 0 when it got an answer, 1 otherwise.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "link.pb-c.h"

struct probe_args {
	const char *url;
	const char *node_id;
	const char *cmd;
	const char *token;
	const char *secret;
	unsigned version;
	const char *run_id;
	unsigned long long seq;
	const char *message;
};

static const char *
probe_error_name(Nodetask__Link__Error__Code code)
{
	switch (code) {
	case NODETASK__LINK__ERROR__CODE__INCOMPATIBLE:
		return "INCOMPATIBLE";
	case NODETASK__LINK__ERROR__CODE__UNAUTHENTICATED:
		return "UNAUTHENTICATED";
	case NODETASK__LINK__ERROR__CODE__DENIED:
		return "DENIED";
	case NODETASK__LINK__ERROR__CODE__UNAVAILABLE:
		return "UNAVAILABLE";
	case NODETASK__LINK__ERROR__CODE__BAD_REQUEST:
		return "BAD_REQUEST";
	default:
		return "ERROR";
	}
}

/* Sends req and returns the decoded reply, or NULL. */
static Nodetask__Link__ControllerReply *
probe_call(nng_socket s, const Nodetask__Link__AgentRequest *req)
{
	size_t len = nodetask__link__agent_request__get_packed_size(req);
	uint8_t *buf = malloc(len ? len : 1);
	Nodetask__Link__ControllerReply *reply;
	nng_msg *m;
	int rv;

	if (buf == NULL)
		return NULL;
	nodetask__link__agent_request__pack(req, buf);
	if ((rv = nng_msg_alloc(&m, 0)) != 0 ||
	    (rv = nng_msg_append(m, buf, len)) != 0 ||
	    (rv = nng_sendmsg(s, m, 0)) != 0) {
		fprintf(stderr, "nt_link_probe: send: %s\n", nng_strerror(rv));
		free(buf);
		return NULL;
	}
	free(buf);
	if ((rv = nng_recvmsg(s, &m, 0)) != 0) {
		fprintf(stderr, "nt_link_probe: receive: %s\n",
		        nng_strerror(rv));
		return NULL;
	}
	reply = nodetask__link__controller_reply__unpack(NULL, nng_msg_len(m),
	                                                 nng_msg_body(m));
	nng_msg_free(m);
	if (reply == NULL)
		fprintf(stderr, "nt_link_probe: malformed reply\n");
	return reply;
}

/* Says hello; prints the outcome when print is set. 0 when accepted. */
static int
probe_hello(nng_socket s, const struct probe_args *a, int print)
{
	Nodetask__Link__AgentRequest req = NODETASK__LINK__AGENT_REQUEST__INIT;
	Nodetask__Link__Hello hello = NODETASK__LINK__HELLO__INIT;
	Nodetask__Link__ControllerReply *r;
	int accepted;

	hello.node_id = (char *)a->node_id;
	hello.hostname = "probe";
	hello.agent_version = "probe";
	hello.enroll_token = (char *)(a->token ? a->token : "");
	hello.node_secret = (char *)(a->secret ? a->secret : "");
	req.protocol_version = a->version;
	req.body_case = NODETASK__LINK__AGENT_REQUEST__BODY_HELLO;
	req.hello = &hello;
	if ((r = probe_call(s, &req)) == NULL)
		return -1;
	accepted = r->body_case == NODETASK__LINK__CONTROLLER_REPLY__BODY_HELLO;
	if (print)
		printf("%s\n",
		       accepted ? "OK" : probe_error_name(r->error->code));
	else if (!accepted)
		fprintf(stderr, "nt_link_probe: hello refused: %s\n",
		        r->error->message);
	nodetask__link__controller_reply__free_unpacked(r, NULL);
	return accepted ? 0 : 1;
}

/* Sends one log event; *unauth is set when the connection must re-Hello. */
static int
probe_log_once(nng_socket s, const struct probe_args *a, int *unauth)
{
	Nodetask__Link__AgentRequest req = NODETASK__LINK__AGENT_REQUEST__INIT;
	Nodetask__Link__Events events = NODETASK__LINK__EVENTS__INIT;
	Nodetask__Link__RunEvent ev = NODETASK__LINK__RUN_EVENT__INIT;
	Nodetask__Link__LogLine line = NODETASK__LINK__LOG_LINE__INIT;
	Nodetask__Link__RunEvent *evp = &ev;
	Nodetask__Link__ControllerReply *r;
	static const char *const names[] = {"STORED", "DUPLICATE", "REJECTED"};

	*unauth = 0;
	if (probe_hello(s, a, 0) != 0)
		return 1;
	line.level = NODETASK__LINK__LOG_LINE__LEVEL__INFO;
	line.message = (char *)a->message;
	ev.run_id = (char *)a->run_id;
	ev.seq = a->seq;
	ev.kind_case = NODETASK__LINK__RUN_EVENT__KIND_LOG;
	ev.log = &line;
	events.n_events = 1;
	events.events = &evp;
	req.protocol_version = a->version;
	req.body_case = NODETASK__LINK__AGENT_REQUEST__BODY_EVENTS;
	req.events = &events;
	if ((r = probe_call(s, &req)) == NULL)
		return 1;
	if (r->body_case == NODETASK__LINK__CONTROLLER_REPLY__BODY_EVENTS &&
	    r->events->n_outcomes == 1 && r->events->outcomes[0] <= 2)
		printf("%s\n", names[r->events->outcomes[0]]);
	else if (r->body_case == NODETASK__LINK__CONTROLLER_REPLY__BODY_ERROR &&
	         r->error->code == NODETASK__LINK__ERROR__CODE__UNAUTHENTICATED)
		*unauth = 1;
	else if (r->body_case == NODETASK__LINK__CONTROLLER_REPLY__BODY_ERROR)
		printf("%s\n", probe_error_name(r->error->code));
	else
		printf("ERROR\n");
	nodetask__link__controller_reply__free_unpacked(r, NULL);
	return 0;
}

/*
 * The node's real agent may say Hello between ours and the event (the
 * controller trusts the newest connection): then, as an agent does, say
 * Hello again and resend.
 */
static int
probe_log(nng_socket s, const struct probe_args *a)
{
	for (int attempt = 0; attempt < 10; attempt++) {
		int unauth, rv = probe_log_once(s, a, &unauth);

		if (rv != 0 || !unauth)
			return rv;
	}
	printf("UNAUTHENTICATED\n");
	return 0;
}

static void
probe_usage(void)
{
	fprintf(stderr,
	        "usage: nt_link_probe URL NODE_ID hello [--token T] "
	        "[--secret S] [--version N]\n"
	        "       nt_link_probe URL NODE_ID log --secret S RUN_ID SEQ "
	        "MESSAGE\n");
	exit(2);
}

static void
probe_parse(int argc, char **argv, struct probe_args *a)
{
	int i, pos = 0;
	const char *rest[3] = {NULL, NULL, NULL};

	if (argc < 4)
		probe_usage();
	memset(a, 0, sizeof(*a));
	a->url = argv[1];
	a->node_id = argv[2];
	a->cmd = argv[3];
	a->version = NODETASK__LINK__VERSION__VERSION_CURRENT;
	for (i = 4; i < argc; i++) {
		if (strcmp(argv[i], "--token") == 0 && i + 1 < argc)
			a->token = argv[++i];
		else if (strcmp(argv[i], "--secret") == 0 && i + 1 < argc)
			a->secret = argv[++i];
		else if (strcmp(argv[i], "--version") == 0 && i + 1 < argc)
			a->version = (unsigned)strtoul(argv[++i], NULL, 10);
		else if (pos < 3)
			rest[pos++] = argv[i];
		else
			probe_usage();
	}
	if (strcmp(a->cmd, "log") == 0) {
		if (pos != 3 || a->secret == NULL)
			probe_usage();
		a->run_id = rest[0];
		a->seq = strtoull(rest[1], NULL, 10);
		a->message = rest[2];
	} else if (strcmp(a->cmd, "hello") != 0 || pos != 0)
		probe_usage();
}

int
main(int argc, char **argv)
{
	struct probe_args a;
	nng_socket s;
	int rv;

	probe_parse(argc, argv, &a);
	if ((rv = nng_req0_open(&s)) != 0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 10000)) != 0 ||
	    (rv = nng_dial(s, a.url, NULL, 0)) != 0) {
		fprintf(stderr, "nt_link_probe: %s: %s\n", a.url,
		        nng_strerror(rv));
		return 1;
	}
	if (strcmp(a.cmd, "hello") == 0)
		rv = probe_hello(s, &a, 1) < 0 ? 1 : 0;
	else
		rv = probe_log(s, &a);
	nng_close(s);
	return rv;
}
