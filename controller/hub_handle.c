/*
 * hub_handle.c: what the controller does with each agent request: Hello
 * (enrollment and authentication), Poll (work or a parked long poll),
 * Events (stored, then acknowledged) and Inventory.
 *
 * Runs on the hub's worker threads. Everything from an agent is untrusted:
 * ids are checked, text is repaired, sizes are bounded, and an agent can
 * only touch its own node's runs (the store checks run ownership).
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "hub.h"
#include "hub_internal.h"
#include "nt_err.h"
#include "nt_hash.h"
#include "nt_log.h"
#include "nt_text.h"
#include "nt_time.h"
#include "store.h"

#define HUB_MAX_EVENTS  5000
#define HUB_MAX_DISKS   4096
#define HUB_MAX_WORK    256
#define HUB_ADDR_BUFLEN 64
#define HUB_MAX_OPTIONS 16

#define HUB_ERR(name) NODETASK__LINK__ERROR__CODE__##name

/* Validates and lowercases a UUID inside an unpacked message. */
static bool
hub_uuid_fix(char *s)
{
	char tmp[NT_UUID_BUFLEN];

	if (!nt_uuid_parse(s, tmp))
		return false;
	memcpy(s, tmp, NT_UUID_BUFLEN);
	return true;
}

static void
hub_pipe_addr(const struct hub_conv *c, char out[HUB_ADDR_BUFLEN])
{
	nng_sockaddr sa;

	snprintf(out, HUB_ADDR_BUFLEN, "unknown");
	if (c->msg == NULL || nng_pipe_get_addr(nng_msg_get_pipe(c->msg),
	                                        NNG_OPT_REMADDR, &sa) != 0)
		return;
	if (sa.s_family == NNG_AF_INET)
		inet_ntop(AF_INET, &sa.s_in.sa_addr, out, HUB_ADDR_BUFLEN);
	else if (sa.s_family == NNG_AF_INET6)
		inet_ntop(AF_INET6, sa.s_in6.sa_addr, out, HUB_ADDR_BUFLEN);
	else if (sa.s_family == NNG_AF_IPC)
		snprintf(out, HUB_ADDR_BUFLEN, "local");
}

static void
hub_audit(struct hub *h, const char *node_id, const char *action, int status,
          const char *detail)
{
	char actor[80];
	struct store_audit a = {
	        .actor = actor,
	        .action = action,
	        .object_type = "node",
	        .object_id = node_id,
	        .status = status,
	        .detail = detail,
	};

	snprintf(actor, sizeof(actor), "agent:%s", node_id);
	(void)store_audit_add(h->store, &a);
}

/* Reply for a store failure: UNAVAILABLE lets the agent retry later. */
static void
hub_store_error(struct hub_conv *c, int rv, const char *what)
{
	if (rv == NT_EUNAVAIL) {
		hub_conv_error(c, HUB_ERR(UNAVAILABLE),
		               "controller database unavailable; retry");
		return;
	}
	nt_error("hub: %s: %s", what, nt_strerror(rv));
	hub_conv_error(c, HUB_ERR(UNAVAILABLE), "controller error; retry");
}

/* Checks token or secret. Sets secret_out when a node enrolls. */
static int
hub_hello_auth(struct hub_conv *c, const Nodetask__Link__Hello *m,
               char secret_out[NT_SECRET_BUFLEN], const char *addr)
{
	struct hub *h = c->hub;
	char hash[NT_SHA256_BUFLEN], secret_hash[NT_SHA256_BUFLEN];
	int rv;

	secret_out[0] = '\0';
	if (m->node_secret[0] != '\0') {
		nt_sha256_hex(m->node_secret, strlen(m->node_secret), hash);
		return store_node_auth(h->store, m->node_id, hash);
	}
	if (m->enroll_token[0] == '\0')
		return NT_EPERM;
	if ((rv = nt_secret_new("nts", secret_out)) != NT_OK)
		return rv;
	nt_sha256_hex(m->enroll_token, strlen(m->enroll_token), hash);
	nt_sha256_hex(secret_out, strlen(secret_out), secret_hash);
	rv = store_node_enroll(h->store, hash, m->node_id, m->hostname,
	                       secret_hash);
	hub_audit(h, m->node_id, "node enroll", rv == NT_OK ? 0 : 403,
	          rv == NT_OK ? addr
	                      : "enrollment token unknown, used or "
	                        "expired");
	if (rv == NT_OK)
		nt_info("hub: node %s (%s) enrolled from %s", m->node_id,
		        m->hostname, addr);
	return rv;
}

static bool
hub_hello_valid(const Nodetask__Link__Hello *m)
{
	return nt_uuid_parse(m->node_id, NULL) &&
	       nt_text_is_token(m->hostname, STORE_HOST_BUFLEN - 1) &&
	       strlen(m->agent_version) < 64 &&
	       strlen(m->node_secret) < NT_SECRET_BUFLEN &&
	       strlen(m->enroll_token) < NT_SECRET_BUFLEN;
}

static void
hub_hello_reply(struct hub_conv *c, const char *secret,
                struct store_active_run *runs, size_t n_runs)
{
	Nodetask__Link__ControllerReply r =
	        NODETASK__LINK__CONTROLLER_REPLY__INIT;
	Nodetask__Link__HelloReply hr = NODETASK__LINK__HELLO_REPLY__INIT;
	Nodetask__Link__ActiveRun *ar = NULL, **arp = NULL;

	if (n_runs > 0) {
		ar = calloc(n_runs, sizeof(*ar));
		arp = calloc(n_runs, sizeof(*arp));
		if (ar == NULL || arp == NULL) {
			free(ar);
			free(arp);
			hub_conv_error(c, HUB_ERR(UNAVAILABLE),
			               "out of memory");
			return;
		}
	}
	for (size_t i = 0; i < n_runs; i++) {
		nodetask__link__active_run__init(&ar[i]);
		ar[i].run_id = runs[i].run_id;
		ar[i].last_seq = (uint64_t)runs[i].last_event_seq;
		arp[i] = &ar[i];
	}
	hr.node_secret = (char *)secret;
	hr.poll_hold_ms = (uint32_t)c->hub->cfg.poll_hold_ms;
	hr.n_active_runs = n_runs;
	hr.active_runs = arp;
	r.body_case = NODETASK__LINK__CONTROLLER_REPLY__BODY_HELLO;
	r.hello = &hr;
	hub_conv_reply(c, &r);
	free(ar);
	free(arp);
}

static void
hub_hello(struct hub_conv *c, Nodetask__Link__Hello *m)
{
	struct hub *h = c->hub;
	char secret[NT_SECRET_BUFLEN], addr[HUB_ADDR_BUFLEN];
	struct store_active_run *runs = NULL;
	size_t n_runs = 0;
	int rv;

	hub_pipe_addr(c, addr);
	if (!hub_hello_valid(m)) {
		nt_warn("hub: malformed hello from %s refused", addr);
		hub_conv_error(c, HUB_ERR(BAD_REQUEST),
		               "hello needs a node id (UUID) and a hostname");
		return;
	}
	hub_uuid_fix(m->node_id);
	rv = hub_hello_auth(c, m, secret, addr);
	if (rv == NT_EPERM) {
		nt_warn("hub: agent %s (%s) from %s refused: %s", m->node_id,
		        m->hostname, addr,
		        m->node_secret[0] != '\0'
		                ? "unknown node or wrong node secret"
		                : "enrollment token unknown, used or expired");
		hub_conv_error(c, HUB_ERR(DENIED),
		               m->node_secret[0] != '\0'
		                       ? "unknown node or wrong node secret"
		                       : "enrollment token unknown, used or "
		                         "expired");
		return;
	}
	if (rv != NT_OK ||
	    (rv = store_node_online(h->store, m->node_id, m->hostname,
	                            m->agent_version, addr)) != NT_OK ||
	    (rv = store_node_active_runs(h->store, m->node_id, &runs,
	                                 &n_runs)) != NT_OK) {
		hub_store_error(c, rv, "hello");
		return;
	}
	if (hub_node_bind(h, m->node_id, c->pipe) == NULL) {
		free(runs);
		hub_conv_error(c, HUB_ERR(UNAVAILABLE), "out of memory");
		return;
	}
	nt_info("hub: node %s (%s, agent %s) online from %s", m->node_id,
	        m->hostname, m->agent_version, addr);
	hub_hello_reply(c, secret, runs, n_runs);
	free(runs);
}

/* ---- poll ----------------------------------------------------------- */

struct hub_work_reply {
	Nodetask__Link__Work work[HUB_MAX_WORK];
	Nodetask__Link__Work *workp[HUB_MAX_WORK];
	Nodetask__Link__Dispatch dispatch[HUB_MAX_WORK];
	Nodetask__Link__Stop stop[HUB_MAX_WORK];
	Nodetask__Link__Answer answer[HUB_MAX_WORK];
	size_t n;
	struct store_work *items; /* what the entries point into */
	size_t n_items;
};

static void
hub_work_add(struct hub_work_reply *w, const struct store_work *it)
{
	Nodetask__Link__Work *wk = &w->work[w->n];

	nodetask__link__work__init(wk);
	switch (it->kind) {
	case STORE_WORK_DISPATCH:
		nodetask__link__dispatch__init(&w->dispatch[w->n]);
		w->dispatch[w->n].run_id = (char *)it->run_id;
		w->dispatch[w->n].task_name = (char *)it->task_name;
		w->dispatch[w->n].params_json = it->params ? it->params : "{}";
		wk->kind_case = NODETASK__LINK__WORK__KIND_DISPATCH;
		wk->dispatch = &w->dispatch[w->n];
		break;
	case STORE_WORK_STOP:
		nodetask__link__stop__init(&w->stop[w->n]);
		w->stop[w->n].run_id = (char *)it->run_id;
		w->stop[w->n].reason = it->reason ? it->reason : "";
		wk->kind_case = NODETASK__LINK__WORK__KIND_STOP;
		wk->stop = &w->stop[w->n];
		break;
	case STORE_WORK_ANSWER:
		nodetask__link__answer__init(&w->answer[w->n]);
		w->answer[w->n].run_id = (char *)it->run_id;
		w->answer[w->n].question_id = (char *)it->question_id;
		w->answer[w->n].answer = it->answer ? it->answer : "";
		wk->kind_case = NODETASK__LINK__WORK__KIND_ANSWER;
		wk->answer = &w->answer[w->n];
		break;
	}
	w->workp[w->n] = wk;
	w->n++;
}

static void
hub_work_key(const struct store_work *it, char key[48])
{
	switch (it->kind) {
	case STORE_WORK_DISPATCH:
		snprintf(key, 48, "d:%s", it->run_id);
		break;
	case STORE_WORK_STOP:
		snprintf(key, 48, "s:%s", it->run_id);
		break;
	default:
		snprintf(key, 48, "a:%s", it->question_id);
		break;
	}
}

static void
hub_poll_reply(struct hub_conv *c, struct hub_work_reply *w)
{
	Nodetask__Link__ControllerReply r =
	        NODETASK__LINK__CONTROLLER_REPLY__INIT;
	Nodetask__Link__PollReply pr = NODETASK__LINK__POLL_REPLY__INIT;

	pr.n_work = w != NULL ? w->n : 0;
	pr.work = w != NULL ? w->workp : NULL;
	r.body_case = NODETASK__LINK__CONTROLLER_REPLY__BODY_POLL;
	r.poll = &pr;
	hub_conv_reply(c, &r);
}

/*
 * Fills w with the node's work not sent recently. *retry_at_ms is lowered
 * to when a held-back item may be sent again.
 */
static int
hub_poll_collect(struct hub *h, struct hub_node *n, struct hub_work_reply *w,
                 struct store_work **items, size_t *count, int64_t *retry_at)
{
	int rv;

	w->n = 0;
	if ((rv = store_work_for_node(h->store, n->id, items, count)) != NT_OK)
		return rv;
	for (size_t i = 0; i < *count && w->n < HUB_MAX_WORK; i++) {
		char key[48];

		hub_work_key(&(*items)[i], key);
		if (!hub_node_sent_recently(h, n, key, retry_at))
			hub_work_add(w, &(*items)[i]);
	}
	return NT_OK;
}

/*
 * Reads the node's work and notes when an item in it may be resent: an
 * item sent now after HUB_RESEND_MS, one held back when its window ends.
 * The node is marked dirty again when the store cannot be read.
 */
static int
hub_poll_query(struct hub *h, struct hub_node *n, struct hub_work_reply *w,
               int64_t now, int64_t *retry_at)
{
	struct store_work *items = NULL;
	size_t count = 0;
	int rv;

	*retry_at = INT64_MAX;
	if ((rv = hub_poll_collect(h, n, w, &items, &count, retry_at)) !=
	    NT_OK) {
		hub_node_set_dirty(h, n);
		return rv;
	}
	if (w->n > 0 && now + HUB_RESEND_MS < *retry_at)
		*retry_at = now + HUB_RESEND_MS;
	hub_node_set_retry(h, n, *retry_at == INT64_MAX ? 0 : *retry_at);
	/* The reply points into items: kept until it is packed. */
	if (w->n > 0) {
		w->items = items;
		w->n_items = count;
	} else {
		store_work_free(items, count);
	}
	return NT_OK;
}

void
hub_handle_poll(struct hub_conv *c, struct hub_node *n, bool released)
{
	struct hub *h = c->hub;
	struct hub_work_reply *w;
	int64_t now = nt_time_mono_ms();
	int64_t deadline;
	bool stale;

	pthread_mutex_lock(&h->mtx);
	stale = n->pipe != c->pipe;
	pthread_mutex_unlock(&h->mtx);
	/* The connection is gone or replaced: the reply goes nowhere. */
	if (stale || (w = malloc(sizeof(*w))) == NULL) {
		hub_poll_reply(c, NULL);
		return;
	}
	/*
	 * The hold counts from the poll's arrival, not from when a worker
	 * got to it: the agent gives up hold + a margin after sending, and a
	 * poll that waited in a busy queue (agents reconnecting by the
	 * thousand) must still be answered in time.
	 */
	deadline = released && c->deadline_ms != 0
	                   ? c->deadline_ms
	                   : (c->recv_ms != 0 ? c->recv_ms : now) +
	                             h->cfg.poll_hold_ms;
	for (int attempt = 0; attempt < 4; attempt++) {
		int64_t retry_at;

		w->n = 0;
		w->items = NULL;
		w->n_items = 0;
		now = nt_time_mono_ms();
		/* Nothing new and nothing to resend: no need to ask. */
		if (hub_node_needs_query(h, n, now, &retry_at) &&
		    hub_poll_query(h, n, w, now, &retry_at) != NT_OK) {
			/* The agent polls again; the work waits in the store.
			 */
			hub_poll_reply(c, NULL);
			break;
		}
		if (w->n > 0 || now >= deadline) {
			hub_poll_reply(c, w);
			store_work_free(w->items, w->n_items);
			break;
		}
		if (retry_at == 0)
			retry_at = INT64_MAX;
		if (hub_node_park(h, n, c,
		                  retry_at < deadline ? retry_at : deadline))
			break;
		if (attempt == 3)
			hub_poll_reply(c, NULL);
	}
	free(w);
}

/* ---- events --------------------------------------------------------- */

static const char *
hub_level_name(Nodetask__Link__LogLine__Level level)
{
	switch (level) {
	case NODETASK__LINK__LOG_LINE__LEVEL__DEBUG:
		return "debug";
	case NODETASK__LINK__LOG_LINE__LEVEL__WARN:
		return "warn";
	case NODETASK__LINK__LOG_LINE__LEVEL__ERROR:
		return "error";
	default:
		return "info";
	}
}

static const char *
hub_state_name(Nodetask__Link__Finished__State st)
{
	switch (st) {
	case NODETASK__LINK__FINISHED__STATE__COMPLETED:
		return "completed";
	case NODETASK__LINK__FINISHED__STATE__FAILED:
		return "failed";
	case NODETASK__LINK__FINISHED__STATE__CANCELED:
		return "canceled";
	default:
		return NULL;
	}
}

/* Builds the options array; NULL when they are not usable. */
static char *
hub_options_json(Nodetask__Link__Question *q)
{
	cJSON *arr;
	char *out;

	if (q->n_options == 0 || q->n_options > HUB_MAX_OPTIONS)
		return NULL;
	if ((arr = cJSON_CreateArray()) == NULL)
		return NULL;
	for (size_t i = 0; i < q->n_options; i++) {
		nt_text_sanitize(q->options[i]);
		if (q->options[i][0] == '\0' ||
		    !cJSON_AddItemToArray(arr,
		                          cJSON_CreateString(q->options[i]))) {
			cJSON_Delete(arr);
			return NULL;
		}
	}
	out = cJSON_PrintUnformatted(arr);
	cJSON_Delete(arr);
	return out;
}

/* Only a JSON object is a result; anything else is dropped. */
static bool
hub_result_valid(const char *text)
{
	cJSON *j = cJSON_Parse(text);
	bool ok = cJSON_IsObject(j);

	cJSON_Delete(j);
	return ok;
}

/* Fills ev from m; false when the event is malformed (then rejected). */
static bool
hub_event_convert(Nodetask__Link__RunEvent *m, struct store_event *ev,
                  char **options)
{
	memset(ev, 0, sizeof(*ev));
	if (!hub_uuid_fix(m->run_id) || m->seq == 0 || m->seq > INT64_MAX)
		return false;
	ev->run_id = m->run_id;
	ev->seq = (int64_t)m->seq;
	ev->ts_us = m->ts_us > 0 ? m->ts_us : nt_time_now_us();
	switch (m->kind_case) {
	case NODETASK__LINK__RUN_EVENT__KIND_STARTED:
		ev->kind = STORE_EV_STARTED;
		return true;
	case NODETASK__LINK__RUN_EVENT__KIND_LOG:
		ev->kind = STORE_EV_LOG;
		ev->level = hub_level_name(m->log->level);
		nt_text_sanitize(m->log->message);
		ev->message = m->log->message;
		return true;
	case NODETASK__LINK__RUN_EVENT__KIND_QUESTION:
		ev->kind = STORE_EV_QUESTION;
		if (!hub_uuid_fix(m->question->question_id) ||
		    (*options = hub_options_json(m->question)) == NULL)
			return false;
		nt_text_sanitize(m->question->prompt);
		ev->question_id = m->question->question_id;
		ev->prompt = m->question->prompt;
		ev->options_json = *options;
		return true;
	case NODETASK__LINK__RUN_EVENT__KIND_ANSWER_RECEIVED:
		ev->kind = STORE_EV_ANSWER_RECEIVED;
		ev->question_id = m->answer_received->question_id;
		return hub_uuid_fix(m->answer_received->question_id);
	case NODETASK__LINK__RUN_EVENT__KIND_FINISHED:
		ev->kind = STORE_EV_FINISHED;
		if ((ev->state = hub_state_name(m->finished->state)) == NULL)
			return false;
		nt_text_sanitize(m->finished->error);
		ev->error = m->finished->error[0] ? m->finished->error : NULL;
		ev->result_json =
		        m->finished->result_json[0] &&
		                        hub_result_valid(
		                                m->finished->result_json)
		                ? m->finished->result_json
		                : NULL;
		return true;
	default:
		return false;
	}
}

struct hub_batch {
	struct store_event *ev;            /* valid events, in order */
	size_t *index;                     /* ev[i] is request event index[i] */
	enum store_event_outcome *outcome; /* per valid event */
	char **options;                    /* per request event */
	Nodetask__Link__EventsAck__Outcome *ack; /* per request event */
	size_t n_valid;
	bool any_started;
};

static void
hub_batch_free(struct hub_batch *b, size_t n)
{
	if (b->options != NULL)
		for (size_t i = 0; i < n; i++)
			cJSON_free(b->options[i]);
	free(b->ev);
	free(b->index);
	free(b->outcome);
	free(b->options);
	free(b->ack);
}

static int
hub_batch_init(struct hub_batch *b, Nodetask__Link__Events *m)
{
	size_t n = m->n_events;

	memset(b, 0, sizeof(*b));
	b->ev = calloc(n, sizeof(*b->ev));
	b->index = calloc(n, sizeof(*b->index));
	b->outcome = calloc(n, sizeof(*b->outcome));
	b->options = calloc(n, sizeof(*b->options));
	b->ack = calloc(n, sizeof(*b->ack));
	if (b->ev == NULL || b->index == NULL || b->outcome == NULL ||
	    b->options == NULL || b->ack == NULL)
		return NT_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		struct store_event *ev = &b->ev[b->n_valid];

		if (!hub_event_convert(m->events[i], ev, &b->options[i])) {
			b->ack[i] =
			        NODETASK__LINK__EVENTS_ACK__OUTCOME__REJECTED;
			continue;
		}
		if (ev->kind == STORE_EV_STARTED)
			b->any_started = true;
		b->index[b->n_valid++] = i;
	}
	return NT_OK;
}

static void
hub_events(struct hub_conv *c, struct hub_node *n, Nodetask__Link__Events *m)
{
	struct hub *h = c->hub;
	Nodetask__Link__ControllerReply r =
	        NODETASK__LINK__CONTROLLER_REPLY__INIT;
	Nodetask__Link__EventsAck ack = NODETASK__LINK__EVENTS_ACK__INIT;
	struct hub_batch b;
	int rv;

	if (m->n_events == 0 || m->n_events > HUB_MAX_EVENTS) {
		hub_conv_error(c, HUB_ERR(BAD_REQUEST),
		               "an events batch holds 1 to 5000 events");
		return;
	}
	if ((rv = hub_batch_init(&b, m)) != NT_OK ||
	    (b.n_valid > 0 &&
	     (rv = store_events_apply(h->store, n->id, b.ev, b.n_valid,
	                              h->cfg.question_ttl_ms, b.outcome)) !=
	             NT_OK)) {
		hub_batch_free(&b, m->n_events);
		hub_store_error(c, rv, "storing events");
		return;
	}
	for (size_t i = 0; i < b.n_valid; i++) {
		size_t k = b.index[i];

		b.ack[k] = (Nodetask__Link__EventsAck__Outcome)b.outcome[i];
		if (b.outcome[i] == STORE_EV_REJECTED)
			nt_warn("hub: node %s reported on run %s, which is not "
			        "its own or does not exist; refused",
			        n->id, b.ev[i].run_id);
	}
	ack.n_outcomes = m->n_events;
	ack.outcomes = b.ack;
	r.body_case = NODETASK__LINK__CONTROLLER_REPLY__BODY_EVENTS;
	r.events = &ack;
	hub_conv_reply(c, &r);
	/* A run canceled before it started must now be stopped. */
	if (b.any_started)
		hub_notify_node(h, n->id);
	hub_batch_free(&b, m->n_events);
}

/* ---- inventory ------------------------------------------------------ */

static char *
hub_reasons_json(const Nodetask__Link__Disk *d)
{
	cJSON *arr = cJSON_CreateArray();
	char *out;

	if (arr == NULL)
		return NULL;
	for (size_t i = 0; i < d->n_reject_reasons && i < 32; i++) {
		nt_text_sanitize(d->reject_reasons[i]);
		cJSON_AddItemToArray(arr,
		                     cJSON_CreateString(d->reject_reasons[i]));
	}
	out = cJSON_PrintUnformatted(arr);
	cJSON_Delete(arr);
	return out;
}

#define HUB_COPY(dst, src)                                 \
	do {                                               \
		snprintf((dst), sizeof(dst), "%s", (src)); \
		nt_text_sanitize(dst);                     \
	} while (0)

static bool
hub_disk_convert(const Nodetask__Link__Disk *m, struct store_disk *d)
{
	memset(d, 0, sizeof(*d));
	if (strncmp(m->device_path, "/dev/", 5) != 0 ||
	    strlen(m->device_path) >= sizeof(d->device_path) ||
	    m->capacity_bytes > INT64_MAX)
		return false;
	HUB_COPY(d->device_path, m->device_path);
	HUB_COPY(d->interface, m->interface);
	HUB_COPY(d->model, m->model);
	HUB_COPY(d->vendor, m->vendor);
	HUB_COPY(d->serial, m->serial);
	d->capacity_bytes = (int64_t)m->capacity_bytes;
	d->is_osd = m->is_osd;
	d->is_mon = m->is_mon;
	d->has_filesystem = m->has_filesystem;
	d->available = m->available;
	return (d->reject_reasons = hub_reasons_json(m)) != NULL;
}

static void
hub_inventory(struct hub_conv *c, struct hub_node *n,
              Nodetask__Link__Inventory *m)
{
	Nodetask__Link__ControllerReply r =
	        NODETASK__LINK__CONTROLLER_REPLY__INIT;
	Nodetask__Link__InventoryAck ack = NODETASK__LINK__INVENTORY_ACK__INIT;
	struct store_disk *disks;
	size_t nd = 0;
	int rv = NT_OK;

	if (m->n_disks > HUB_MAX_DISKS) {
		hub_conv_error(c, HUB_ERR(BAD_REQUEST), "too many disks");
		return;
	}
	if ((disks = calloc(m->n_disks + 1, sizeof(*disks))) == NULL) {
		hub_conv_error(c, HUB_ERR(UNAVAILABLE), "out of memory");
		return;
	}
	for (size_t i = 0; i < m->n_disks; i++) {
		if (hub_disk_convert(m->disks[i], &disks[nd]))
			nd++;
		else
			nt_warn("hub: node %s reported a malformed disk; "
			        "ignored",
			        n->id);
	}
	rv = store_disks_replace(c->hub->store, n->id, disks, nd);
	for (size_t i = 0; i < nd; i++)
		cJSON_free(disks[i].reject_reasons);
	free(disks);
	if (rv != NT_OK) {
		hub_store_error(c, rv, "storing inventory");
		return;
	}
	nt_debug("hub: node %s reported %zu disks", n->id, nd);
	r.body_case = NODETASK__LINK__CONTROLLER_REPLY__BODY_INVENTORY;
	r.inventory = &ack;
	hub_conv_reply(c, &r);
}

/* ---- dispatch ------------------------------------------------------- */

static void
hub_dispatch(struct hub_conv *c, Nodetask__Link__AgentRequest *req)
{
	struct hub_node *n;

	if (req->body_case == NODETASK__LINK__AGENT_REQUEST__BODY_HELLO) {
		hub_hello(c, req->hello);
		return;
	}
	if (req->body_case == NODETASK__LINK__AGENT_REQUEST__BODY__NOT_SET) {
		hub_conv_error(c, HUB_ERR(BAD_REQUEST), "empty request");
		return;
	}
	if ((n = hub_node_for_pipe(c->hub, c->pipe)) == NULL) {
		hub_conv_error(c, HUB_ERR(UNAUTHENTICATED),
		               "say hello on this connection first");
		return;
	}
	switch (req->body_case) {
	case NODETASK__LINK__AGENT_REQUEST__BODY_POLL:
		hub_handle_poll(c, n, false);
		break;
	case NODETASK__LINK__AGENT_REQUEST__BODY_EVENTS:
		hub_events(c, n, req->events);
		break;
	case NODETASK__LINK__AGENT_REQUEST__BODY_INVENTORY:
		hub_inventory(c, n, req->inventory);
		break;
	default:
		hub_conv_error(c, HUB_ERR(BAD_REQUEST), "unknown request");
		break;
	}
}

void
hub_handle_request(struct hub_conv *c)
{
	Nodetask__Link__AgentRequest *req;
	char addr[HUB_ADDR_BUFLEN];

	req = nodetask__link__agent_request__unpack(NULL, nng_msg_len(c->msg),
	                                            nng_msg_body(c->msg));
	if (req == NULL) {
		hub_pipe_addr(c, addr);
		nt_warn("hub: malformed message (%zu bytes) from %s dropped",
		        nng_msg_len(c->msg), addr);
		hub_conv_error(c, HUB_ERR(BAD_REQUEST), "malformed message");
		return;
	}
	if (req->protocol_version != NODETASK__LINK__VERSION__VERSION_CURRENT) {
		char msg[128];

		hub_pipe_addr(c, addr);
		snprintf(msg, sizeof(msg),
		         "protocol version %" PRIu32
		         " not supported; this controller speaks %d",
		         req->protocol_version,
		         NODETASK__LINK__VERSION__VERSION_CURRENT);
		nt_warn("hub: agent at %s refused: %s", addr, msg);
		hub_conv_error(c, HUB_ERR(INCOMPATIBLE), msg);
	} else
		hub_dispatch(c, req);
	nodetask__link__agent_request__free_unpacked(req, NULL);
}
