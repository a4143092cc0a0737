/*
 * link.c: the agent's nng req0 link to the controller (see link.h).
 *
 * Each context (control, poll, events) is driven by its aio callback:
 * SEND -> RECV -> handle the reply -> next request, or SLEEP on failure.
 * All state sits under one mutex; the owner's callbacks are called with
 * it released while the context is marked OWNER, so nothing new starts
 * on that context until the owner has seen the reply.
 */
#include "link.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/protocol/reqrep0/req.h>

#include "nt_err.h"
#include "nt_log.h"
#include "nt_time.h"
#include "nt_uuid.h"

/* Largest reply accepted; anything bigger is dropped by nng. */
#define LINK_RECV_MAX          (16u * 1024 * 1024)
#define LINK_HELLO_TIMEOUT_MS  10000
#define LINK_EVENTS_TIMEOUT_MS 30000
/* A poll unanswered this long past the hold time is presumed lost. */
#define LINK_POLL_MARGIN_MS 5000
#define LINK_POLL_HOLD_MS   30000 /* until the controller says */
/* A connect not done by then is started again (see link_tick). */
#define LINK_DIAL_STALL_MS 5000

enum link_step {
	LINK_STEP_WAIT = 0, /* nothing to do until the next callback */
	LINK_STEP_REPLY,    /* a decoded reply is ready */
	LINK_STEP_FAILED,   /* send or receive failed, or a bad reply */
	LINK_STEP_WOKE,     /* a backoff sleep ended */
};

static void link_ctl_next(struct link *l);
static void link_poll_next(struct link *l);
static void link_events_next(struct link *l);

/* ---- message building ---------------------------------------------------- */

static size_t
link_varint_len(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static int
link_put_varint(nng_msg *m, uint64_t v)
{
	uint8_t b[10];
	size_t n = 0;

	while (v >= 0x80) {
		b[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	b[n++] = (uint8_t)v;
	return nng_msg_append(m, b, n);
}

/* Field number and wire type, as protobuf puts them before a value. */
#define LINK_TAG(field, wire) ((uint64_t)(((field) << 3) | (wire)))
#define LINK_WIRE_VARINT      0
#define LINK_WIRE_LEN         2

/* AgentRequest fields (link.proto). */
#define LINK_F_VERSION   1
#define LINK_F_EVENTS    12
#define LINK_F_INVENTORY 13
#define LINK_F_EV_EVENTS 1 /* Events.events */

/* Starts an AgentRequest: protocol_version, then the body's tag+length. */
static int
link_msg_begin(nng_msg **out, uint32_t field, size_t body_len)
{
	nng_msg *m;

	if (nng_msg_alloc(&m, 0) != 0) {
		return NT_ENOMEM;
	}
	if (nng_msg_reserve(m, 16 + body_len) != 0 ||
	    link_put_varint(m, LINK_TAG(LINK_F_VERSION, LINK_WIRE_VARINT)) !=
	            0 ||
	    link_put_varint(m, NODETASK__LINK__VERSION__VERSION_CURRENT) != 0 ||
	    link_put_varint(m, LINK_TAG(field, LINK_WIRE_LEN)) != 0 ||
	    link_put_varint(m, body_len) != 0) {
		nng_msg_free(m);
		return NT_ENOMEM;
	}
	*out = m;
	return NT_OK;
}

int
link_events_msg(struct link_event *first, size_t n, nng_msg **out)
{
	size_t body = 0;
	struct link_event *e = first;
	nng_msg *m;

	for (size_t i = 0; i < n; i++, e = e->next) {
		body += 1 + link_varint_len(e->len) + e->len;
	}
	if (link_msg_begin(&m, LINK_F_EVENTS, body) != NT_OK) {
		return NT_ENOMEM;
	}
	e = first;
	for (size_t i = 0; i < n; i++, e = e->next) {
		if (link_put_varint(m, LINK_TAG(LINK_F_EV_EVENTS,
		                                LINK_WIRE_LEN)) != 0 ||
		    link_put_varint(m, e->len) != 0 ||
		    nng_msg_append(m, e->data, e->len) != 0) {
			nng_msg_free(m);
			return NT_ENOMEM;
		}
	}
	*out = m;
	return NT_OK;
}

static int
link_inventory_msg(const uint8_t *inv, size_t len, nng_msg **out)
{
	nng_msg *m;

	if (link_msg_begin(&m, LINK_F_INVENTORY, len) != NT_OK) {
		return NT_ENOMEM;
	}
	if (nng_msg_append(m, inv, len) != 0) {
		nng_msg_free(m);
		return NT_ENOMEM;
	}
	*out = m;
	return NT_OK;
}

static int
link_pack(const Nodetask__Link__AgentRequest *r, nng_msg **out)
{
	size_t len = nodetask__link__agent_request__get_packed_size(r);
	nng_msg *m;

	if (nng_msg_alloc(&m, len) != 0) {
		return NT_ENOMEM;
	}
	nodetask__link__agent_request__pack(r, nng_msg_body(m));
	*out = m;
	return NT_OK;
}

static int
link_hello_msg(struct link *l, nng_msg **out)
{
	Nodetask__Link__Hello h = NODETASK__LINK__HELLO__INIT;
	Nodetask__Link__AgentRequest r = NODETASK__LINK__AGENT_REQUEST__INIT;

	h.node_id = l->node_id;
	h.hostname = l->hostname;
	h.agent_version = l->version;
	if (l->secret[0] != '\0') {
		h.node_secret = l->secret;
	} else {
		h.enroll_token = l->token;
	}
	h.n_executing_run_ids = l->n_executing;
	h.executing_run_ids = l->executing;
	r.protocol_version = NODETASK__LINK__VERSION__VERSION_CURRENT;
	r.body_case = NODETASK__LINK__AGENT_REQUEST__BODY_HELLO;
	r.hello = &h;
	return link_pack(&r, out);
}

static int
link_poll_msg(nng_msg **out)
{
	Nodetask__Link__Poll p = NODETASK__LINK__POLL__INIT;
	Nodetask__Link__AgentRequest r = NODETASK__LINK__AGENT_REQUEST__INIT;

	r.protocol_version = NODETASK__LINK__VERSION__VERSION_CURRENT;
	r.body_case = NODETASK__LINK__AGENT_REQUEST__BODY_POLL;
	r.poll = &p;
	return link_pack(&r, out);
}

/* ---- one context --------------------------------------------------------- */

static int64_t
link_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void
link_op_send(struct link *l, struct link_op *op, nng_msg *m, enum link_req req,
             int send_timeout_ms, int timeout_ms)
{
	op->state = LINK_OP_SEND;
	op->req = req;
	op->auth_gen = l->auth_gen;
	op->timeout_ms = timeout_ms;
	if (l->rtt != NULL)
		op->sent_us = link_mono_us();
	nng_aio_set_msg(op->aio, m);
	nng_aio_set_timeout(op->aio, send_timeout_ms);
	nng_ctx_send(op->ctx, op->aio);
}

static void
link_op_sleep(struct link_op *op, int ms)
{
	op->state = LINK_OP_SLEEP;
	nng_sleep_aio(ms, op->aio);
}

/* Sleeps the context's current backoff, then doubles it (capped). */
static void
link_op_backoff(struct link *l, struct link_op *op)
{
	int ms = op->backoff_ms;

	op->backoff_ms =
	        ms >= l->backoff_max_ms / 2 ? l->backoff_max_ms : ms * 2;
	link_op_sleep(op, ms);
}

static void
link_op_ok(struct link *l, struct link_op *op)
{
	op->backoff_ms = l->backoff_min_ms;
}

/* Advances op after its aio completed. Called with l->mtx held. */
static enum link_step
link_op_step(struct link *l, struct link_op *op,
             Nodetask__Link__ControllerReply **rep, uint32_t *pipe, int *err)
{
	int rv = nng_aio_result(op->aio);
	nng_msg *m;

	*err = rv;
	switch (op->state) {
	case LINK_OP_SLEEP:
		op->state = LINK_OP_IDLE;
		return l->closing ? LINK_STEP_WAIT : LINK_STEP_WOKE;
	case LINK_OP_SEND:
		if (rv != 0) {
			/* A failed send leaves the message with us. */
			nng_msg_free(nng_aio_get_msg(op->aio));
			nng_aio_set_msg(op->aio, NULL);
			return LINK_STEP_FAILED;
		}
		if (l->closing) {
			op->state = LINK_OP_IDLE;
			return LINK_STEP_WAIT;
		}
		op->state = LINK_OP_RECV;
		nng_aio_set_timeout(op->aio, op->timeout_ms);
		nng_ctx_recv(op->ctx, op->aio);
		return LINK_STEP_WAIT;
	case LINK_OP_RECV:
		if (rv != 0) {
			return LINK_STEP_FAILED;
		}
		m = nng_aio_get_msg(op->aio);
		nng_aio_set_msg(op->aio, NULL);
		if (l->rtt != NULL)
			l->rtt(l->arg, op->req, link_mono_us() - op->sent_us);
		*pipe = (uint32_t)nng_pipe_id(nng_msg_get_pipe(m));
		*rep = nodetask__link__controller_reply__unpack(
		        NULL, nng_msg_len(m), nng_msg_body(m));
		nng_msg_free(m);
		if (*rep == NULL) {
			nt_warn("link: %s: malformed reply from the controller "
			        "dropped",
			        l->url);
			*err = NNG_EPROTO;
			return LINK_STEP_FAILED;
		}
		return LINK_STEP_REPLY;
	default:
		return LINK_STEP_WAIT;
	}
}

/*
 * A request was refused with UNAUTHENTICATED. When it was sent under the
 * current Hello, that Hello no longer counts (the controller restarted or
 * the connection changed): say Hello again. Otherwise it predates the
 * latest Hello and is simply sent again.
 */
static void
link_unauthenticated(struct link *l, struct link_op *op)
{
	if (l->authed && op->auth_gen == l->auth_gen) {
		nt_info("link: controller asks for Hello again");
		l->authed = false;
	}
	op->state = LINK_OP_IDLE;
	link_ctl_next(l);
}

static const char *
link_err_msg(const Nodetask__Link__ControllerReply *rep)
{
	return rep->error->message != NULL ? rep->error->message : "";
}

/* ---- control: Hello and Inventory ---------------------------------------- */

static void
link_send_hello(struct link *l)
{
	nng_msg *m;

	if (link_hello_msg(l, &m) != NT_OK) {
		nt_error("link: out of memory building Hello");
		link_op_backoff(l, &l->ctl);
		return;
	}
	link_op_send(l, &l->ctl, m, LINK_REQ_HELLO, LINK_HELLO_TIMEOUT_MS,
	             LINK_HELLO_TIMEOUT_MS);
}

static void
link_ctl_next(struct link *l)
{
	nng_msg *m;

	if (l->closing || l->ctl.state != LINK_OP_IDLE) {
		return;
	}
	if (!l->authed) {
		/* Built when connected, so it lists what runs right now. */
		if (l->pipe != 0) {
			link_send_hello(l);
		}
		return;
	}
	if (l->inv == NULL || l->inv_sent == l->inv_gen) {
		return;
	}
	if (link_inventory_msg(l->inv, l->inv_len, &m) != NT_OK) {
		nt_error("link: out of memory building Inventory");
		link_op_backoff(l, &l->ctl);
		return;
	}
	l->inv_busy = l->inv_gen;
	link_op_send(l, &l->ctl, m, LINK_REQ_INVENTORY, LINK_HELLO_TIMEOUT_MS,
	             LINK_HELLO_TIMEOUT_MS);
}

/* Hello refused: say why and retry, slowly where retrying cannot help. */
static void
link_hello_refused(struct link *l, const Nodetask__Link__ControllerReply *rep)
{
	const char *msg = link_err_msg(rep);

	switch (rep->error->code) {
	case NODETASK__LINK__ERROR__CODE__DENIED:
		nt_error("link: controller %s denied node %s: %s (%s); "
		         "retrying in %d ms",
		         l->url, l->node_id, msg,
		         l->secret[0] != '\0' ? "node secret not accepted"
		                              : "enrollment token not accepted",
		         l->backoff_max_ms);
		link_op_sleep(&l->ctl, l->backoff_max_ms);
		break;
	case NODETASK__LINK__ERROR__CODE__INCOMPATIBLE:
		nt_error("link: controller %s does not speak link protocol "
		         "version %d: %s; retrying in %d ms",
		         l->url, NODETASK__LINK__VERSION__VERSION_CURRENT, msg,
		         l->backoff_max_ms);
		link_op_sleep(&l->ctl, l->backoff_max_ms);
		break;
	case NODETASK__LINK__ERROR__CODE__UNAVAILABLE:
		nt_warn("link: controller %s unavailable: %s; retrying", l->url,
		        msg);
		link_op_backoff(l, &l->ctl);
		break;
	default:
		nt_error("link: controller %s refused Hello (code %d): %s",
		         l->url, (int)rep->error->code, msg);
		link_op_sleep(&l->ctl, l->backoff_max_ms);
		break;
	}
}

/* Hello accepted. Returns false when it came on a stale connection. */
static bool
link_hello_accepted(struct link *l, const Nodetask__Link__HelloReply *r,
                    uint32_t pipe)
{
	if (pipe != l->pipe) {
		return false; /* that connection is gone */
	}
	if (r->node_secret != NULL && r->node_secret[0] != '\0') {
		char *s = strdup(r->node_secret);
		if (s != NULL) {
			free(l->secret);
			l->secret = s;
			l->token[0] = '\0';
			nt_info("link: node %s enrolled", l->node_id);
		}
	} else if (l->secret[0] == '\0') {
		nt_error("link: controller accepted the enrollment but sent no "
		         "node secret");
	}
	l->authed = true;
	l->auth_gen++;
	l->inv_sent = 0; /* every Hello is followed by the inventory */
	l->poll_hold_ms =
	        r->poll_hold_ms > 0 ? r->poll_hold_ms : LINK_POLL_HOLD_MS;
	link_op_ok(l, &l->ctl);
	nt_info("link: connected to %s as %s", l->url, l->node_id);
	return true;
}

static void
link_ctl_reply(struct link *l, Nodetask__Link__ControllerReply *rep,
               uint32_t pipe)
{
	struct link_op *op = &l->ctl;
	bool is_error =
	        rep->body_case == NODETASK__LINK__CONTROLLER_REPLY__BODY_ERROR;

	if (op->req == LINK_REQ_HELLO &&
	    rep->body_case == NODETASK__LINK__CONTROLLER_REPLY__BODY_HELLO) {
		if (!link_hello_accepted(l, rep->hello, pipe)) {
			op->state = LINK_OP_IDLE;
			link_ctl_next(l);
			return;
		}
		op->state = LINK_OP_OWNER;
		pthread_mutex_unlock(&l->mtx);
		if (l->ops.hello != NULL) {
			l->ops.hello(l->arg, rep->hello);
		}
		pthread_mutex_lock(&l->mtx);
		op->state = LINK_OP_IDLE;
		link_ctl_next(l);
		link_poll_next(l);
		link_events_next(l);
		return;
	}
	if (op->req == LINK_REQ_HELLO && is_error) {
		link_hello_refused(l, rep);
		return;
	}
	if (op->req == LINK_REQ_INVENTORY &&
	    rep->body_case ==
	            NODETASK__LINK__CONTROLLER_REPLY__BODY_INVENTORY) {
		l->inv_sent = l->inv_busy;
		link_op_ok(l, op);
		op->state = LINK_OP_IDLE;
		link_ctl_next(l);
		return;
	}
	if (is_error &&
	    rep->error->code == NODETASK__LINK__ERROR__CODE__UNAUTHENTICATED) {
		link_unauthenticated(l, op);
		return;
	}
	nt_warn("link: unexpected reply to %s (%d): %s",
	        op->req == LINK_REQ_HELLO ? "Hello" : "Inventory",
	        (int)rep->body_case, is_error ? link_err_msg(rep) : "");
	link_op_backoff(l, op);
}

static void
link_ctl_cb(void *arg)
{
	struct link_op *op = arg;
	struct link *l = op->link;
	Nodetask__Link__ControllerReply *rep = NULL;
	uint32_t pipe = 0;
	int err;

	pthread_mutex_lock(&l->mtx);
	switch (link_op_step(l, op, &rep, &pipe, &err)) {
	case LINK_STEP_REPLY:
		link_ctl_reply(l, rep, pipe);
		break;
	case LINK_STEP_FAILED:
		if (l->closing || err == NNG_ECLOSED) {
			op->state = LINK_OP_IDLE;
			break;
		}
		nt_debug("link: %s: %s",
		         op->req == LINK_REQ_HELLO ? "Hello" : "Inventory",
		         nng_strerror(err));
		link_op_backoff(l, op);
		break;
	case LINK_STEP_WOKE:
		link_ctl_next(l);
		break;
	case LINK_STEP_WAIT:
		break;
	}
	pthread_mutex_unlock(&l->mtx);
	if (rep != NULL) {
		nodetask__link__controller_reply__free_unpacked(rep, NULL);
	}
}

/* ---- poll ---------------------------------------------------------------- */

static void
link_poll_next(struct link *l)
{
	nng_msg *m;
	int timeout;

	if (l->closing || l->poll.state != LINK_OP_IDLE || !l->authed) {
		return;
	}
	if (link_poll_msg(&m) != NT_OK) {
		link_op_backoff(l, &l->poll);
		return;
	}
	timeout = (int)l->poll_hold_ms + LINK_POLL_MARGIN_MS;
	link_op_send(l, &l->poll, m, LINK_REQ_POLL, timeout, timeout);
}

/* Work names a run by id; the owner may use it in paths. */
static bool
link_work_ok(const Nodetask__Link__Work *w)
{
	switch (w->kind_case) {
	case NODETASK__LINK__WORK__KIND_DISPATCH:
		return nt_uuid_parse(w->dispatch->run_id, NULL) &&
		       w->dispatch->task_name[0] != '\0';
	case NODETASK__LINK__WORK__KIND_STOP:
		return nt_uuid_parse(w->stop->run_id, NULL);
	case NODETASK__LINK__WORK__KIND_ANSWER:
		return nt_uuid_parse(w->answer->run_id, NULL) &&
		       nt_uuid_parse(w->answer->question_id, NULL);
	default:
		return false;
	}
}

static void
link_poll_work(struct link *l, const Nodetask__Link__PollReply *r)
{
	l->poll.state = LINK_OP_OWNER;
	pthread_mutex_unlock(&l->mtx);
	for (size_t i = 0; i < r->n_work; i++) {
		if (!link_work_ok(r->work[i])) {
			nt_warn("link: malformed work item (kind %d) dropped",
			        (int)r->work[i]->kind_case);
			continue;
		}
		if (l->ops.work != NULL) {
			l->ops.work(l->arg, r->work[i]);
		}
	}
	pthread_mutex_lock(&l->mtx);
	l->poll.state = LINK_OP_IDLE;
	link_op_ok(l, &l->poll);
	link_poll_next(l);
}

/*
 * The poll failed. A poll the controller left unanswered well past its
 * hold time means the connection is dead without knowing it (a peer gone
 * without a reset, a partition): returns that connection to close, so
 * nng dials a new one, instead of polling into the void.
 */
static uint32_t
link_poll_failed(struct link *l, struct link_op *op, int err)
{
	uint32_t drop = 0;

	if (l->closing || err == NNG_ECLOSED || !l->authed) {
		op->state = LINK_OP_IDLE; /* resumes after Hello */
	} else if (err == NNG_ETIMEDOUT) {
		nt_warn("link: no answer to a poll in %d ms; reconnecting to "
		        "%s",
		        op->timeout_ms, l->url);
		drop = l->pipe;
		l->authed = false;
		op->state = LINK_OP_IDLE;
	} else {
		nt_debug("link: poll: %s", nng_strerror(err));
		link_op_backoff(l, op);
	}
	return drop;
}

static void
link_poll_cb(void *arg)
{
	struct link_op *op = arg;
	struct link *l = op->link;
	Nodetask__Link__ControllerReply *rep = NULL;
	uint32_t pipe = 0, drop = 0;
	int err;

	pthread_mutex_lock(&l->mtx);
	switch (link_op_step(l, op, &rep, &pipe, &err)) {
	case LINK_STEP_REPLY:
		if (rep->body_case ==
		    NODETASK__LINK__CONTROLLER_REPLY__BODY_POLL) {
			link_poll_work(l, rep->poll);
		} else if (
		        rep->body_case ==
		                NODETASK__LINK__CONTROLLER_REPLY__BODY_ERROR &&
		        rep->error->code ==
		                NODETASK__LINK__ERROR__CODE__UNAUTHENTICATED) {
			link_unauthenticated(l, op);
			link_poll_next(l);
		} else {
			nt_warn("link: poll refused: %s",
			        rep->body_case ==
			                        NODETASK__LINK__CONTROLLER_REPLY__BODY_ERROR
			                ? link_err_msg(rep)
			                : "unexpected reply");
			link_op_backoff(l, op);
		}
		break;
	case LINK_STEP_FAILED:
		drop = link_poll_failed(l, op, err);
		break;
	case LINK_STEP_WOKE:
		link_poll_next(l);
		break;
	case LINK_STEP_WAIT:
		break;
	}
	pthread_mutex_unlock(&l->mtx);
	if (rep != NULL) {
		nodetask__link__controller_reply__free_unpacked(rep, NULL);
	}
	/* Unlocked: closing a pipe calls link_pipe_cb. */
	if (drop != 0) {
		nng_pipe p = NNG_PIPE_INITIALIZER;
		p.id = drop;
		(void)nng_pipe_close(p);
	}
}

/* ---- events -------------------------------------------------------------- */

static void
link_events_next(struct link *l)
{
	struct link_event *e = l->out_head;
	size_t n = 0, bytes = 0;
	nng_msg *m;

	if (l->closing || l->events.state != LINK_OP_IDLE || !l->authed ||
	    e == NULL) {
		return;
	}
	while (e != NULL && n < l->batch_limit &&
	       (n == 0 || bytes + e->len <= l->batch_bytes)) {
		bytes += e->len;
		n++;
		e = e->next;
	}
	if (link_events_msg(l->out_head, n, &m) != NT_OK) {
		link_op_backoff(l, &l->events);
		return;
	}
	l->inflight = n;
	link_op_send(l, &l->events, m, LINK_REQ_EVENTS, LINK_EVENTS_TIMEOUT_MS,
	             LINK_EVENTS_TIMEOUT_MS);
}

static void
link_event_log_refused(const struct link_event *e, const char *why)
{
	Nodetask__Link__RunEvent *ev =
	        nodetask__link__run_event__unpack(NULL, e->len, e->data);

	nt_error("link: controller refused event %s seq %llu (%s); dropped",
	         ev != NULL ? ev->run_id : "?",
	         ev != NULL ? (unsigned long long)ev->seq : 0ULL, why);
	if (ev != NULL) {
		nodetask__link__run_event__free_unpacked(ev, NULL);
	}
}

/* Drops the n oldest events and tells the owner. */
static void
link_events_done(struct link *l, size_t n,
                 const Nodetask__Link__EventsAck__Outcome *outcomes)
{
	for (size_t i = 0; i < n; i++) {
		struct link_event *e = l->out_head;
		if (outcomes != NULL &&
		    outcomes[i] ==
		            NODETASK__LINK__EVENTS_ACK__OUTCOME__REJECTED) {
			link_event_log_refused(e, "not this node's run");
		}
		l->out_head = e->next;
		if (l->out_head == NULL) {
			l->out_tail = NULL;
		}
		l->out_len--;
		free(e);
	}
	l->inflight = 0;
	l->events.state = LINK_OP_OWNER;
	pthread_mutex_unlock(&l->mtx);
	if (l->ops.acked != NULL) {
		l->ops.acked(l->arg, n);
	}
	pthread_mutex_lock(&l->mtx);
	l->events.state = LINK_OP_IDLE;
	link_op_ok(l, &l->events);
	link_events_next(l);
}

/*
 * BAD_REQUEST: the controller could not use the batch. Halve it until the
 * one event it cannot take is alone, then drop that one so the rest flow.
 */
static void
link_events_bad(struct link *l, const Nodetask__Link__ControllerReply *rep)
{
	if (l->inflight > 1) {
		nt_warn("link: controller refused a batch of %zu events (%s); "
		        "retrying smaller",
		        l->inflight, link_err_msg(rep));
		l->batch_limit = l->inflight / 2;
		l->events.state = LINK_OP_IDLE;
		link_events_next(l);
		return;
	}
	link_event_log_refused(l->out_head, link_err_msg(rep));
	link_events_done(l, 1, NULL);
}

static void
link_events_reply(struct link *l, const Nodetask__Link__ControllerReply *rep)
{
	struct link_op *op = &l->events;

	if (rep->body_case == NODETASK__LINK__CONTROLLER_REPLY__BODY_EVENTS) {
		const Nodetask__Link__EventsAck *a = rep->events;
		if (a->n_outcomes != l->inflight) {
			nt_error("link: controller acknowledged %zu events of "
			         "%zu sent; sending them again",
			         a->n_outcomes, l->inflight);
			link_op_backoff(l, op);
			return;
		}
		l->batch_limit = l->batch_events;
		link_events_done(l, l->inflight, a->outcomes);
		return;
	}
	if (rep->body_case != NODETASK__LINK__CONTROLLER_REPLY__BODY_ERROR) {
		nt_warn("link: unexpected reply to Events (%d)",
		        (int)rep->body_case);
		link_op_backoff(l, op);
		return;
	}
	switch (rep->error->code) {
	case NODETASK__LINK__ERROR__CODE__UNAUTHENTICATED:
		link_unauthenticated(l, op);
		link_events_next(l);
		break;
	case NODETASK__LINK__ERROR__CODE__BAD_REQUEST:
		link_events_bad(l, rep);
		break;
	default:
		nt_warn("link: events not stored: %s; retrying",
		        link_err_msg(rep));
		link_op_backoff(l, op);
		break;
	}
}

static void
link_events_cb(void *arg)
{
	struct link_op *op = arg;
	struct link *l = op->link;
	Nodetask__Link__ControllerReply *rep = NULL;
	uint32_t pipe = 0;
	int err;

	pthread_mutex_lock(&l->mtx);
	switch (link_op_step(l, op, &rep, &pipe, &err)) {
	case LINK_STEP_REPLY:
		link_events_reply(l, rep);
		break;
	case LINK_STEP_FAILED:
		if (l->closing || err == NNG_ECLOSED || !l->authed) {
			op->state = LINK_OP_IDLE; /* resumes after Hello */
			break;
		}
		nt_debug("link: events: %s", nng_strerror(err));
		link_op_backoff(l, op);
		break;
	case LINK_STEP_WOKE:
		link_events_next(l);
		break;
	case LINK_STEP_WAIT:
		break;
	}
	pthread_mutex_unlock(&l->mtx);
	if (rep != NULL) {
		nodetask__link__controller_reply__free_unpacked(rep, NULL);
	}
}

/* ---- connections --------------------------------------------------------- */

static void
link_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct link *l = arg;
	uint32_t id = (uint32_t)nng_pipe_id(p);

	pthread_mutex_lock(&l->mtx);
	if (ev == NNG_PIPE_EV_ADD_POST && id != l->pipe) {
		/* A new connection has not said Hello yet. */
		l->pipe = id;
		l->down_since_ms = 0;
		l->authed = false;
		nt_debug("link: connection %u to %s up", id, l->url);
		link_ctl_next(l);
	} else if (ev == NNG_PIPE_EV_REM_POST && id == l->pipe) {
		l->pipe = 0;
		l->down_since_ms = nt_time_mono_ms();
		if (l->authed && !l->closing) {
			nt_warn("link: connection to %s lost; reconnecting",
			        l->url);
		}
		l->authed = false;
	}
	pthread_mutex_unlock(&l->mtx);
}

/* ---- lifecycle and owner API --------------------------------------------- */

static int
link_op_init(struct link *l, struct link_op *op, void (*cb)(void *))
{
	op->link = l;
	op->state = LINK_OP_IDLE;
	op->backoff_ms = l->backoff_min_ms;
	if (nng_ctx_open(&op->ctx, l->sock) != 0 ||
	    nng_aio_alloc(&op->aio, cb, op) != 0) {
		return NT_ENOMEM;
	}
	return NT_OK;
}

static char *
link_strdup(const char *s)
{
	return strdup(s != NULL ? s : "");
}

static int
link_socket(struct link *l)
{
	int rv;

	if ((rv = nng_req0_open(&l->sock)) != 0) {
		nt_error("link: open req0 socket: %s", nng_strerror(rv));
		return NT_EIO;
	}
	l->sock_open = true;
	/* Set before contexts open: they copy the resend time. */
	if ((rv = nng_socket_set_ms(l->sock, NNG_OPT_REQ_RESENDTIME,
	                            NNG_DURATION_INFINITE)) != 0 ||
	    (rv = nng_socket_set_size(l->sock, NNG_OPT_RECVMAXSZ,
	                              LINK_RECV_MAX)) != 0 ||
	    (rv = nng_socket_set_ms(l->sock, NNG_OPT_RECONNMINT,
	                            l->backoff_min_ms)) != 0 ||
	    (rv = nng_socket_set_ms(l->sock, NNG_OPT_RECONNMAXT,
	                            l->backoff_max_ms)) != 0 ||
	    (rv = nng_pipe_notify(l->sock, NNG_PIPE_EV_ADD_POST, link_pipe_cb,
	                          l)) != 0 ||
	    (rv = nng_pipe_notify(l->sock, NNG_PIPE_EV_REM_POST, link_pipe_cb,
	                          l)) != 0) {
		nt_error("link: socket options: %s", nng_strerror(rv));
		return NT_EIO;
	}
	return NT_OK;
}

int
link_init(struct link *l, const struct link_config *cfg,
          const struct link_ops *ops, void *arg)
{
	int rv;

	memset(l, 0, sizeof(*l));
	pthread_mutex_init(&l->mtx, NULL);
	l->ops = *ops;
	l->arg = arg;
	l->backoff_min_ms =
	        cfg->reconnect_min_ms > 0 ? cfg->reconnect_min_ms : 100;
	l->backoff_max_ms =
	        cfg->reconnect_max_ms > 0 ? cfg->reconnect_max_ms : 10000;
	if (l->backoff_max_ms < l->backoff_min_ms) {
		l->backoff_max_ms = l->backoff_min_ms;
	}
	l->batch_events = cfg->batch_events > 0 ? cfg->batch_events : 500;
	l->batch_bytes = cfg->batch_bytes > 0 ? cfg->batch_bytes : 1u << 20;
	l->batch_limit = l->batch_events;
	l->poll_hold_ms = LINK_POLL_HOLD_MS;
	l->url = link_strdup(cfg->url);
	l->node_id = link_strdup(cfg->node_id);
	l->hostname = link_strdup(cfg->hostname);
	l->version = link_strdup(cfg->agent_version);
	l->token = link_strdup(cfg->enroll_token);
	l->secret = link_strdup(cfg->node_secret);
	if (l->url == NULL || l->node_id == NULL || l->hostname == NULL ||
	    l->version == NULL || l->token == NULL || l->secret == NULL) {
		link_fini(l);
		return NT_ENOMEM;
	}
	if ((rv = link_socket(l)) != NT_OK ||
	    (rv = link_op_init(l, &l->ctl, link_ctl_cb)) != NT_OK ||
	    (rv = link_op_init(l, &l->poll, link_poll_cb)) != NT_OK ||
	    (rv = link_op_init(l, &l->events, link_events_cb)) != NT_OK) {
		link_fini(l);
		return rv;
	}
	return NT_OK;
}

void
link_set_rtt(struct link *l, link_rtt_fn fn)
{
	pthread_mutex_lock(&l->mtx);
	l->rtt = fn;
	pthread_mutex_unlock(&l->mtx);
}

int
link_start(struct link *l)
{
	int rv;

	/* NONBLOCK: a controller that is down now is retried, not fatal. */
	if ((rv = nng_dial(l->sock, l->url, &l->dialer, NNG_FLAG_NONBLOCK)) !=
	    0) {
		nt_error("link: dial %s: %s", l->url, nng_strerror(rv));
		return rv == NNG_EADDRINVAL ? NT_EINVAL : NT_EIO;
	}
	pthread_mutex_lock(&l->mtx);
	l->dialing = true;
	if (l->pipe == 0)
		l->down_since_ms = nt_time_mono_ms();
	link_ctl_next(l);
	pthread_mutex_unlock(&l->mtx);
	return NT_OK;
}

void
link_tick(struct link *l, int64_t now_ms)
{
	bool redial;
	int rv;

	pthread_mutex_lock(&l->mtx);
	redial = l->dialing && !l->closing && l->pipe == 0 &&
	         l->down_since_ms != 0 &&
	         now_ms - l->down_since_ms >= LINK_DIAL_STALL_MS;
	if (redial)
		l->down_since_ms = now_ms;
	pthread_mutex_unlock(&l->mtx);
	if (!redial)
		return;
	/* Closing the dialer aborts its pending connect. */
	nt_debug("link: no connection to %s for %d ms; dialing afresh", l->url,
	         LINK_DIAL_STALL_MS);
	nng_dialer_close(l->dialer);
	if ((rv = nng_dial(l->sock, l->url, &l->dialer, NNG_FLAG_NONBLOCK)) !=
	    0)
		nt_warn("link: dial %s: %s", l->url, nng_strerror(rv));
}

static void
link_op_fini(struct link_op *op)
{
	if (op->aio != NULL) {
		nng_aio_stop(op->aio);
	}
}

void
link_fini(struct link *l)
{
	struct link_event *e, *next;

	pthread_mutex_lock(&l->mtx);
	l->closing = true;
	pthread_mutex_unlock(&l->mtx);
	/* Stopping waits for running callbacks; closing stops re-arming. */
	link_op_fini(&l->ctl);
	link_op_fini(&l->poll);
	link_op_fini(&l->events);
	if (l->sock_open) {
		nng_close(l->sock);
		l->sock_open = false;
	}
	if (l->ctl.aio != NULL) {
		nng_aio_free(l->ctl.aio);
	}
	if (l->poll.aio != NULL) {
		nng_aio_free(l->poll.aio);
	}
	if (l->events.aio != NULL) {
		nng_aio_free(l->events.aio);
	}
	for (e = l->out_head; e != NULL; e = next) {
		next = e->next;
		free(e);
	}
	for (size_t i = 0; i < l->n_executing; i++) {
		free(l->executing[i]);
	}
	free(l->executing);
	free(l->inv);
	free(l->url);
	free(l->node_id);
	free(l->hostname);
	free(l->version);
	free(l->token);
	free(l->secret);
	pthread_mutex_destroy(&l->mtx);
	memset(l, 0, sizeof(*l));
}

int
link_push_event(struct link *l, const uint8_t *buf, size_t len)
{
	struct link_event *e = malloc(sizeof(*e) + len);

	if (e == NULL) {
		return NT_ENOMEM;
	}
	e->next = NULL;
	e->len = len;
	memcpy(e->data, buf, len);
	pthread_mutex_lock(&l->mtx);
	if (l->out_tail != NULL) {
		l->out_tail->next = e;
	} else {
		l->out_head = e;
	}
	l->out_tail = e;
	l->out_len++;
	link_events_next(l);
	pthread_mutex_unlock(&l->mtx);
	return NT_OK;
}

int
link_set_inventory(struct link *l, const uint8_t *buf, size_t len)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);

	if (copy == NULL) {
		return NT_ENOMEM;
	}
	memcpy(copy, buf, len);
	pthread_mutex_lock(&l->mtx);
	if (l->inv != NULL && l->inv_len == len &&
	    memcmp(l->inv, buf, len) == 0) {
		pthread_mutex_unlock(&l->mtx);
		free(copy);
		return NT_OK;
	}
	free(l->inv);
	l->inv = copy;
	l->inv_len = len;
	l->inv_gen++;
	link_ctl_next(l);
	pthread_mutex_unlock(&l->mtx);
	return NT_OK;
}

int
link_set_executing(struct link *l, const char *const *ids, size_t n)
{
	char **copy = calloc(n > 0 ? n : 1, sizeof(*copy));

	if (copy == NULL) {
		return NT_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		if ((copy[i] = strdup(ids[i])) == NULL) {
			while (i > 0) {
				free(copy[--i]);
			}
			free(copy);
			return NT_ENOMEM;
		}
	}
	pthread_mutex_lock(&l->mtx);
	for (size_t i = 0; i < l->n_executing; i++) {
		free(l->executing[i]);
	}
	free(l->executing);
	l->executing = copy;
	l->n_executing = n;
	pthread_mutex_unlock(&l->mtx);
	return NT_OK;
}

size_t
link_pending(struct link *l)
{
	size_t n;

	pthread_mutex_lock(&l->mtx);
	n = l->out_len;
	pthread_mutex_unlock(&l->mtx);
	return n;
}

bool
link_online(struct link *l)
{
	bool on;

	pthread_mutex_lock(&l->mtx);
	on = l->authed;
	pthread_mutex_unlock(&l->mtx);
	return on;
}
