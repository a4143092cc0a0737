/*
 * test_link.c: the agent's link against a scripted controller.
 *
 * The fake controller is a raw rep0 socket in the test thread: it takes
 * requests in any order and answers each when the test says so, so a
 * held poll, a Hello and an Events request can all be outstanding at
 * once, as with the real hub.
 */
#include <criterion/criterion.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "link.h"
#include "nt_err.h"

#define NODE  "33333333-3333-4333-8333-333333333333"
#define RUN_A "11111111-1111-4111-8111-111111111111"
#define RUN_B "22222222-2222-4222-8222-222222222222"

typedef Nodetask__Link__AgentRequest request;

static char url[256];

/* ---- fake controller ----------------------------------------------------- */

struct fake {
	nng_socket s;
};

static void
fake_open(struct fake *f)
{
	cr_assert_eq(nng_rep0_open_raw(&f->s), 0);
	cr_assert_eq(nng_listen(f->s, url, NULL, 0), 0, "listen %s", url);
}

static nng_msg *parked;

/* Closes the fake controller, dropping a held poll. */
static void
fake_close(struct fake *f)
{
	if (parked != NULL) {
		nng_msg_free(parked);
		parked = NULL;
	}
	nng_close(f->s);
}

/* The next request, decoded; *msg keeps it for the reply. */
static request *
fake_recv(struct fake *f, nng_msg **msg)
{
	request *r;

	cr_assert_eq(nng_socket_set_ms(f->s, NNG_OPT_RECVTIMEO, 10000), 0);
	cr_assert_eq(nng_recvmsg(f->s, msg, 0), 0, "a request arrives");
	r = nodetask__link__agent_request__unpack(NULL, nng_msg_len(*msg),
	                                          nng_msg_body(*msg));
	cr_assert_not_null(r, "request unpacks");
	cr_assert_eq(r->protocol_version,
	             NODETASK__LINK__VERSION__VERSION_CURRENT);
	return r;
}

/* Receives until a request of the given kind; others are answered
 * with keepalives/acks so the link keeps going. */
static request *fake_expect(struct fake *f, int kind, nng_msg **msg);

static void
fake_reply(struct fake *f, nng_msg *msg,
           const Nodetask__Link__ControllerReply *rep)
{
	size_t len = nodetask__link__controller_reply__get_packed_size(rep);

	nng_msg_clear(msg);
	cr_assert_eq(nng_msg_realloc(msg, len), 0);
	nodetask__link__controller_reply__pack(rep, nng_msg_body(msg));
	cr_assert_eq(nng_sendmsg(f->s, msg, 0), 0);
}

static void
fake_reply_hello(struct fake *f, nng_msg *msg, const char *secret,
                 uint32_t hold_ms)
{
	Nodetask__Link__ControllerReply r =
	        NODETASK__LINK__CONTROLLER_REPLY__INIT;
	Nodetask__Link__HelloReply h = NODETASK__LINK__HELLO_REPLY__INIT;
	Nodetask__Link__ActiveRun ar = NODETASK__LINK__ACTIVE_RUN__INIT;
	Nodetask__Link__ActiveRun *arp[] = {&ar};

	ar.run_id = RUN_B;
	ar.last_seq = 7;
	h.node_secret = (char *)(secret != NULL ? secret : "");
	h.poll_hold_ms = hold_ms;
	h.n_active_runs = 1;
	h.active_runs = arp;
	r.body_case = NODETASK__LINK__CONTROLLER_REPLY__BODY_HELLO;
	r.hello = &h;
	fake_reply(f, msg, &r);
}

static void
fake_reply_error(struct fake *f, nng_msg *msg, Nodetask__Link__Error__Code c)
{
	Nodetask__Link__ControllerReply r =
	        NODETASK__LINK__CONTROLLER_REPLY__INIT;
	Nodetask__Link__Error e = NODETASK__LINK__ERROR__INIT;

	e.code = c;
	e.message = "scripted";
	r.body_case = NODETASK__LINK__CONTROLLER_REPLY__BODY_ERROR;
	r.error = &e;
	fake_reply(f, msg, &r);
}

static void
fake_reply_poll(struct fake *f, nng_msg *msg, const char *dispatch_run)
{
	Nodetask__Link__ControllerReply r =
	        NODETASK__LINK__CONTROLLER_REPLY__INIT;
	Nodetask__Link__PollReply p = NODETASK__LINK__POLL_REPLY__INIT;
	Nodetask__Link__Work w[2] = {NODETASK__LINK__WORK__INIT,
	                             NODETASK__LINK__WORK__INIT};
	Nodetask__Link__Work *wp[] = {&w[0], &w[1]};
	Nodetask__Link__Dispatch d = NODETASK__LINK__DISPATCH__INIT;
	Nodetask__Link__Stop bad = NODETASK__LINK__STOP__INIT;

	if (dispatch_run != NULL) {
		d.run_id = (char *)dispatch_run;
		d.task_name = "node.ping";
		d.params_json = "{}";
		w[0].kind_case = NODETASK__LINK__WORK__KIND_DISPATCH;
		w[0].dispatch = &d;
		/* A work item naming no valid run is dropped, not passed. */
		bad.run_id = "../../etc";
		w[1].kind_case = NODETASK__LINK__WORK__KIND_STOP;
		w[1].stop = &bad;
		p.n_work = 2;
		p.work = wp;
	}
	r.body_case = NODETASK__LINK__CONTROLLER_REPLY__BODY_POLL;
	r.poll = &p;
	fake_reply(f, msg, &r);
}

static void
fake_reply_ack(struct fake *f, nng_msg *msg, size_t n)
{
	Nodetask__Link__ControllerReply r =
	        NODETASK__LINK__CONTROLLER_REPLY__INIT;
	Nodetask__Link__EventsAck a = NODETASK__LINK__EVENTS_ACK__INIT;
	Nodetask__Link__EventsAck__Outcome out[64] = {0};

	cr_assert_leq(n, 64);
	a.n_outcomes = n;
	a.outcomes = out;
	r.body_case = NODETASK__LINK__CONTROLLER_REPLY__BODY_EVENTS;
	r.events = &a;
	fake_reply(f, msg, &r);
}

static void
fake_reply_inventory(struct fake *f, nng_msg *msg)
{
	Nodetask__Link__ControllerReply r =
	        NODETASK__LINK__CONTROLLER_REPLY__INIT;
	Nodetask__Link__InventoryAck a = NODETASK__LINK__INVENTORY_ACK__INIT;

	r.body_case = NODETASK__LINK__CONTROLLER_REPLY__BODY_INVENTORY;
	r.inventory = &a;
	fake_reply(f, msg, &r);
}

/*
 * Polls are held (as the hub does) and answered empty when the next one
 * arrives; an inventory is acknowledged; events out of turn are refused
 * as the hub refuses them before Hello.
 */
static request *
fake_expect(struct fake *f, int kind, nng_msg **msg)
{
	for (int i = 0; i < 20; i++) {
		request *r = fake_recv(f, msg);
		if ((int)r->body_case == kind) {
			return r;
		}
		if (r->body_case == NODETASK__LINK__AGENT_REQUEST__BODY_POLL) {
			if (parked != NULL) {
				fake_reply_poll(f, parked, NULL);
			}
			parked = *msg;
		} else if (r->body_case ==
		           NODETASK__LINK__AGENT_REQUEST__BODY_INVENTORY) {
			fake_reply_inventory(f, *msg);
		} else if (r->body_case ==
		           NODETASK__LINK__AGENT_REQUEST__BODY_EVENTS) {
			fake_reply_error(
			        f, *msg,
			        NODETASK__LINK__ERROR__CODE__UNAUTHENTICATED);
		} else {
			cr_assert_fail("unexpected request %d while waiting "
			               "for %d",
			               (int)r->body_case, kind);
		}
		nodetask__link__agent_request__free_unpacked(r, NULL);
	}
	cr_assert_fail("request %d never came", kind);
	return NULL;
}

/* ---- the link's owner ---------------------------------------------------- */

struct owner {
	pthread_mutex_t mtx;
	int hellos;
	char secret[128];
	uint64_t active_last_seq;
	int works;
	char work_run[64];
	size_t acked;
};

static void
own_hello(void *arg, const Nodetask__Link__HelloReply *r)
{
	struct owner *o = arg;

	pthread_mutex_lock(&o->mtx);
	o->hellos++;
	if (r->node_secret[0] != '\0') {
		snprintf(o->secret, sizeof(o->secret), "%s", r->node_secret);
	}
	if (r->n_active_runs == 1) {
		o->active_last_seq = r->active_runs[0]->last_seq;
	}
	pthread_mutex_unlock(&o->mtx);
}

static void
own_work(void *arg, const Nodetask__Link__Work *w)
{
	struct owner *o = arg;

	pthread_mutex_lock(&o->mtx);
	o->works++;
	if (w->kind_case == NODETASK__LINK__WORK__KIND_DISPATCH) {
		snprintf(o->work_run, sizeof(o->work_run), "%s",
		         w->dispatch->run_id);
	}
	pthread_mutex_unlock(&o->mtx);
}

static void
own_acked(void *arg, size_t n)
{
	struct owner *o = arg;

	pthread_mutex_lock(&o->mtx);
	o->acked += n;
	pthread_mutex_unlock(&o->mtx);
}

static const struct link_ops ops = {own_hello, own_work, own_acked};

static int
owner_get(struct owner *o, int *field)
{
	int v;

	pthread_mutex_lock(&o->mtx);
	v = *field;
	pthread_mutex_unlock(&o->mtx);
	return v;
}

static size_t
owner_acked(struct owner *o)
{
	size_t v;

	pthread_mutex_lock(&o->mtx);
	v = o->acked;
	pthread_mutex_unlock(&o->mtx);
	return v;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Waits up to 5 s for cond. */
#define WAIT_FOR(cond)                                           \
	do {                                                     \
		for (int w_ = 0; w_ < 500 && !(cond); w_++) {    \
			sleep_ms(10);                            \
		}                                                \
		cr_assert(cond, "timed out waiting for " #cond); \
	} while (0)

static void
link_setup(void)
{
	snprintf(url, sizeof(url), "ipc:///tmp/nt_link_test.%d.sock",
	         (int)getpid());
	parked = NULL;
}

static void
link_teardown(void)
{
	/* No nng_fini: criterion reports results over nng itself. */
	unlink(url + strlen("ipc://"));
}

TestSuite(link, .init = link_setup, .fini = link_teardown);

static void
start_link(struct link *l, struct owner *o, const char *token,
           const char *secret)
{
	struct link_config cfg = {
	        .url = url,
	        .node_id = NODE,
	        .hostname = "node-1",
	        .agent_version = "test",
	        .enroll_token = token,
	        .node_secret = secret,
	        .reconnect_min_ms = 20,
	        .reconnect_max_ms = 200,
	        .batch_events = 4,
	};

	memset(o, 0, sizeof(*o));
	pthread_mutex_init(&o->mtx, NULL);
	cr_assert_eq(link_init(l, &cfg, &ops, o), NT_OK);
	cr_assert_eq(link_start(l), NT_OK);
}

static void
push_log(struct link *l, const char *run, uint64_t seq)
{
	Nodetask__Link__RunEvent ev = NODETASK__LINK__RUN_EVENT__INIT;
	Nodetask__Link__LogLine log = NODETASK__LINK__LOG_LINE__INIT;
	uint8_t buf[256];
	size_t len;

	ev.run_id = (char *)run;
	ev.seq = seq;
	log.message = "hello";
	ev.kind_case = NODETASK__LINK__RUN_EVENT__KIND_LOG;
	ev.log = &log;
	len = nodetask__link__run_event__pack(&ev, buf);
	cr_assert_eq(link_push_event(l, buf, len), NT_OK);
}

/* Hello (enrolling), HelloReply with a secret; returns nothing held. */
static void
do_hello(struct fake *f, const char *want_token, const char *secret)
{
	nng_msg *m;
	request *r =
	        fake_expect(f, NODETASK__LINK__AGENT_REQUEST__BODY_HELLO, &m);

	cr_assert_str_eq(r->hello->node_id, NODE);
	cr_assert_str_eq(r->hello->hostname, "node-1");
	if (want_token != NULL) {
		cr_assert_str_eq(r->hello->enroll_token, want_token);
		cr_assert_str_eq(r->hello->node_secret, "");
	}
	nodetask__link__agent_request__free_unpacked(r, NULL);
	fake_reply_hello(f, m, secret, 500);
}

Test(link, events_msg_is_a_valid_request)
{
	struct link_event *a = malloc(sizeof(*a) + 300), *b;
	Nodetask__Link__RunEvent ev = NODETASK__LINK__RUN_EVENT__INIT;
	Nodetask__Link__LogLine log = NODETASK__LINK__LOG_LINE__INIT;
	char big[200];
	nng_msg *m;
	request *r;

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ev.run_id = RUN_A;
	ev.seq = 1;
	log.message = big; /* longer than 127: two-byte length varint */
	ev.kind_case = NODETASK__LINK__RUN_EVENT__KIND_LOG;
	ev.log = &log;
	a->len = nodetask__link__run_event__pack(&ev, a->data);
	b = malloc(sizeof(*b) + 300);
	ev.seq = 2;
	log.message = "short";
	b->len = nodetask__link__run_event__pack(&ev, b->data);
	a->next = b;
	b->next = NULL;
	cr_assert_eq(link_events_msg(a, 2, &m), NT_OK);
	r = nodetask__link__agent_request__unpack(NULL, nng_msg_len(m),
	                                          nng_msg_body(m));
	cr_assert_not_null(r);
	cr_assert_eq(r->protocol_version,
	             NODETASK__LINK__VERSION__VERSION_CURRENT);
	cr_assert_eq(r->body_case, NODETASK__LINK__AGENT_REQUEST__BODY_EVENTS);
	cr_assert_eq(r->events->n_events, 2);
	cr_assert_str_eq(r->events->events[0]->log->message, big);
	cr_assert_eq(r->events->events[1]->seq, 2);
	nodetask__link__agent_request__free_unpacked(r, NULL);
	nng_msg_free(m);
	free(a);
	free(b);
}

Test(link, enroll_poll_events)
{
	struct fake f;
	struct link l;
	struct owner o;
	nng_msg *m;
	request *r;
	uint8_t inv[] = {0x0a, 0x00}; /* Inventory{disks: [Disk{}]} */

	fake_open(&f);
	start_link(&l, &o, "nte_token", NULL);
	cr_assert_eq(link_set_inventory(&l, inv, sizeof(inv)), NT_OK);
	/* Events pushed before Hello wait for it. */
	push_log(&l, RUN_A, 1);
	do_hello(&f, "nte_token", "nts_secret");
	WAIT_FOR(owner_get(&o, &o.hellos) == 1);
	cr_assert_str_eq(o.secret, "nts_secret");
	cr_assert_eq(o.active_last_seq, 7);
	cr_assert(link_online(&l));

	r = fake_expect(&f, NODETASK__LINK__AGENT_REQUEST__BODY_EVENTS, &m);
	cr_assert_eq(r->events->n_events, 1);
	cr_assert_str_eq(r->events->events[0]->run_id, RUN_A);
	nodetask__link__agent_request__free_unpacked(r, NULL);
	/* While the first batch waits for its ack, more queue up. */
	for (uint64_t s = 2; s <= 7; s++) {
		push_log(&l, RUN_A, s);
	}
	sleep_ms(50);
	fake_reply_ack(&f, m, 1);
	WAIT_FOR(owner_acked(&o) == 1);
	/* batch_events = 4: two batches, in order. */
	r = fake_expect(&f, NODETASK__LINK__AGENT_REQUEST__BODY_EVENTS, &m);
	cr_assert_eq(r->events->n_events, 4);
	cr_assert_eq(r->events->events[0]->seq, 2);
	cr_assert_eq(r->events->events[3]->seq, 5);
	nodetask__link__agent_request__free_unpacked(r, NULL);
	fake_reply_ack(&f, m, 4);
	r = fake_expect(&f, NODETASK__LINK__AGENT_REQUEST__BODY_EVENTS, &m);
	cr_assert_eq(r->events->n_events, 2);
	cr_assert_eq(r->events->events[1]->seq, 7);
	nodetask__link__agent_request__free_unpacked(r, NULL);
	fake_reply_ack(&f, m, 2);
	WAIT_FOR(owner_acked(&o) == 7);
	cr_assert_eq(link_pending(&l), 0);

	/* Work reaches the owner as soon as the poll is answered. */
	if (parked == NULL) {
		r = fake_expect(&f, NODETASK__LINK__AGENT_REQUEST__BODY_POLL,
		                &m);
		nodetask__link__agent_request__free_unpacked(r, NULL);
	} else {
		m = parked;
		parked = NULL;
	}
	fake_reply_poll(&f, m, RUN_B);
	WAIT_FOR(owner_get(&o, &o.works) == 1);
	cr_assert_str_eq(o.work_run, RUN_B);
	/* ...and the link polls again at once. */
	r = fake_expect(&f, NODETASK__LINK__AGENT_REQUEST__BODY_POLL, &m);
	nodetask__link__agent_request__free_unpacked(r, NULL);
	if (parked != NULL) {
		nng_msg_free(parked);
	}
	parked = m;

	link_fini(&l);
	fake_close(&f);
}

Test(link, unauthenticated_means_hello_again)
{
	struct fake f;
	struct link l;
	struct owner o;
	nng_msg *m;
	request *r;

	fake_open(&f);
	start_link(&l, &o, NULL, "nts_secret");
	r = fake_expect(&f, NODETASK__LINK__AGENT_REQUEST__BODY_HELLO, &m);
	cr_assert_str_eq(r->hello->node_secret, "nts_secret");
	cr_assert_str_eq(r->hello->enroll_token, "");
	nodetask__link__agent_request__free_unpacked(r, NULL);
	fake_reply_hello(&f, m, NULL, 500);
	WAIT_FOR(owner_get(&o, &o.hellos) == 1);

	/* The controller forgot us (restart): the poll is refused. */
	r = fake_expect(&f, NODETASK__LINK__AGENT_REQUEST__BODY_POLL, &m);
	nodetask__link__agent_request__free_unpacked(r, NULL);
	fake_reply_error(&f, m, NODETASK__LINK__ERROR__CODE__UNAUTHENTICATED);
	do_hello(&f, NULL, NULL);
	WAIT_FOR(owner_get(&o, &o.hellos) == 2);
	r = fake_expect(&f, NODETASK__LINK__AGENT_REQUEST__BODY_POLL, &m);
	nodetask__link__agent_request__free_unpacked(r, NULL);
	if (parked != NULL) {
		nng_msg_free(parked);
	}
	parked = m;
	link_fini(&l);
	fake_close(&f);
}

Test(link, denied_hello_is_retried_slowly)
{
	struct fake f;
	struct link l;
	struct owner o;
	nng_msg *m;
	request *r;
	struct timespec t0, t1;
	long ms;

	fake_open(&f);
	start_link(&l, &o, "nte_bad", NULL);
	r = fake_expect(&f, NODETASK__LINK__AGENT_REQUEST__BODY_HELLO, &m);
	nodetask__link__agent_request__free_unpacked(r, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fake_reply_error(&f, m, NODETASK__LINK__ERROR__CODE__DENIED);
	r = fake_expect(&f, NODETASK__LINK__AGENT_REQUEST__BODY_HELLO, &m);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	     (t1.tv_nsec - t0.tv_nsec) / 1000000;
	cr_assert_geq(ms, 180, "retried after the longest backoff (%ld ms)",
	              ms);
	cr_assert_str_eq(r->hello->enroll_token, "nte_bad");
	nodetask__link__agent_request__free_unpacked(r, NULL);
	cr_assert(!link_online(&l));
	cr_assert_eq(owner_get(&o, &o.hellos), 0);
	fake_reply_hello(&f, m, "nts_x", 500);
	WAIT_FOR(owner_get(&o, &o.hellos) == 1);
	link_fini(&l);
	fake_close(&f);
}

Test(link, malformed_reply_is_dropped)
{
	struct fake f;
	struct link l;
	struct owner o;
	nng_msg *m;
	request *r;

	fake_open(&f);
	start_link(&l, &o, NULL, "nts_secret");
	r = fake_expect(&f, NODETASK__LINK__AGENT_REQUEST__BODY_HELLO, &m);
	nodetask__link__agent_request__free_unpacked(r, NULL);
	/* Not a ControllerReply: an unterminated length-delimited field. */
	nng_msg_clear(m);
	cr_assert_eq(nng_msg_append(m, "\x52\xff\xff\x01", 4), 0);
	cr_assert_eq(nng_sendmsg(f.s, m, 0), 0);
	/* The link survives and says Hello again. */
	do_hello(&f, NULL, NULL);
	WAIT_FOR(owner_get(&o, &o.hellos) == 1);
	link_fini(&l);
	fake_close(&f);
}

Test(link, reconnect_resends_unacknowledged_events)
{
	struct fake f;
	struct link l;
	struct owner o;
	nng_msg *m;
	request *r;

	fake_open(&f);
	start_link(&l, &o, NULL, "nts_secret");
	do_hello(&f, NULL, NULL);
	WAIT_FOR(owner_get(&o, &o.hellos) == 1);
	push_log(&l, RUN_A, 1);
	r = fake_expect(&f, NODETASK__LINK__AGENT_REQUEST__BODY_EVENTS, &m);
	nodetask__link__agent_request__free_unpacked(r, NULL);
	/* The controller dies before acknowledging. */
	nng_msg_free(m);
	fake_close(&f);
	WAIT_FOR(!link_online(&l));
	push_log(&l, RUN_A, 2);
	fake_open(&f);
	/* Hello first on the new connection, then the same events again. */
	do_hello(&f, NULL, NULL);
	WAIT_FOR(owner_get(&o, &o.hellos) == 2);
	for (;;) {
		r = fake_expect(&f, NODETASK__LINK__AGENT_REQUEST__BODY_EVENTS,
		                &m);
		if (r->events->n_events == 2) {
			break;
		}
		/* The old request may be resent first by nng: ack it. */
		cr_assert_eq(r->events->n_events, 1);
		nodetask__link__agent_request__free_unpacked(r, NULL);
		fake_reply_error(&f, m,
		                 NODETASK__LINK__ERROR__CODE__UNAUTHENTICATED);
	}
	cr_assert_eq(r->events->events[0]->seq, 1);
	cr_assert_eq(r->events->events[1]->seq, 2);
	nodetask__link__agent_request__free_unpacked(r, NULL);
	fake_reply_ack(&f, m, 2);
	WAIT_FOR(owner_acked(&o) == 2);
	link_fini(&l);
	fake_close(&f);
}

Test(link, unanswered_poll_means_a_new_connection)
{
	struct fake f;
	struct link l;
	struct owner o;
	nng_msg *m;
	request *r;
	uint32_t first;

	fake_open(&f);
	start_link(&l, &o, NULL, "nts_secret");
	r = fake_expect(&f, NODETASK__LINK__AGENT_REQUEST__BODY_HELLO, &m);
	nodetask__link__agent_request__free_unpacked(r, NULL);
	first = nng_msg_get_pipe(m).id;
	fake_reply_hello(&f, m, NULL, 100);
	WAIT_FOR(owner_get(&o, &o.hellos) == 1);
	/* The poll is held forever, as by a controller that vanished. */
	r = fake_expect(&f, NODETASK__LINK__AGENT_REQUEST__BODY_POLL, &m);
	nodetask__link__agent_request__free_unpacked(r, NULL);
	nng_msg_free(m);
	/* After hold + margin the link drops the connection, dials again
	 * and says Hello on the new one. */
	r = fake_expect(&f, NODETASK__LINK__AGENT_REQUEST__BODY_HELLO, &m);
	nodetask__link__agent_request__free_unpacked(r, NULL);
	cr_assert_neq(nng_msg_get_pipe(m).id, first, "a new connection");
	fake_reply_hello(&f, m, NULL, 100);
	WAIT_FOR(owner_get(&o, &o.hellos) == 2);
	link_fini(&l);
	fake_close(&f);
}
