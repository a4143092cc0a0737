/*
 * hub.c: the controller's side of the agent link: the nng rep socket, its
 * conversations, the worker threads that handle requests, and the ticker
 * that answers idle polls, flushes heartbeats and marks silent nodes
 * offline. What each request means is in hub_handle.c.
 */
#include "hub.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hub_internal.h"
#include "nt_err.h"
#include "nt_log.h"
#include "nt_time.h"
#include "store.h"

/* Conversations waiting to receive; more are made as polls park. */
#define HUB_RECEIVERS 64
#define HUB_WORKERS   4
#define HUB_TICK_MS   250
/* Largest request accepted; events are batched well below this. */
#define HUB_RECV_MAX (8 * 1024 * 1024)

static void hub_conv_cb(void *arg);

static void
hub_pipe_key(uint32_t pipe, char key[16])
{
	snprintf(key, 16, "%" PRIu32, pipe);
}

static struct hub_conv *
hub_conv_new_locked(struct hub *h)
{
	struct hub_conv *c = h->free;

	if (c != NULL) {
		h->free = c->next;
		c->next = NULL;
		return c;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->hub = h;
	if (nng_aio_alloc(&c->aio, hub_conv_cb, c) != 0) {
		free(c);
		return NULL;
	}
	if (nng_ctx_open(&c->ctx, h->sock) != 0) {
		nng_aio_free(c->aio);
		free(c);
		return NULL;
	}
	c->all = h->all;
	h->all = c;
	return c;
}

/* Starts one more receiving conversation. Caller holds h->mtx. */
static void
hub_receiver_add_locked(struct hub *h)
{
	struct hub_conv *c;

	if (h->closing)
		return;
	if ((c = hub_conv_new_locked(h)) == NULL) {
		nt_error("hub: out of memory for a receiving context");
		return;
	}
	c->msg = NULL;
	c->node = NULL;
	c->job = 0;
	c->state = HUB_CONV_RECV;
	nng_ctx_recv(c->ctx, c->aio);
}

static void
hub_conv_recycle(struct hub_conv *c)
{
	struct hub *h = c->hub;

	pthread_mutex_lock(&h->mtx);
	c->node = NULL;
	c->job = 0;
	c->deadline_ms = 0;
	c->state = HUB_CONV_FREE;
	c->next = h->free;
	h->free = c;
	pthread_mutex_unlock(&h->mtx);
}

static void
hub_conv_received(struct hub_conv *c, int rv)
{
	struct hub *h = c->hub;

	pthread_mutex_lock(&h->mtx);
	if (rv != 0) {
		/* ECLOSED: shutting down. Anything else: keep receiving. */
		if (rv != NNG_ECLOSED && !h->closing)
			nng_ctx_recv(c->ctx, c->aio);
		pthread_mutex_unlock(&h->mtx);
		return;
	}
	c->msg = nng_aio_get_msg(c->aio);
	nng_aio_set_msg(c->aio, NULL);
	c->pipe = (uint32_t)nng_pipe_id(nng_msg_get_pipe(c->msg));
	c->recv_ms = nt_time_mono_ms();
	c->job = HUB_JOB_REQUEST;
	c->state = HUB_CONV_BUSY;
	hub_receiver_add_locked(h);
	hub_job_push_locked(h, c);
	pthread_mutex_unlock(&h->mtx);
}

static void
hub_conv_sent(struct hub_conv *c, int rv)
{
	if (rv != 0) {
		/* On failure the message is still ours. */
		nng_msg *m = nng_aio_get_msg(c->aio);

		nng_aio_set_msg(c->aio, NULL);
		if (m != NULL)
			nng_msg_free(m);
	}
	hub_conv_recycle(c);
}

static void
hub_conv_cb(void *arg)
{
	struct hub_conv *c = arg;
	int rv = nng_aio_result(c->aio);

	if (c->state == HUB_CONV_RECV)
		hub_conv_received(c, rv);
	else
		hub_conv_sent(c, rv);
}

static void
hub_queue_push(struct hub_conv **head, struct hub_conv **tail,
               struct hub_conv *c)
{
	c->next = NULL;
	if (*tail != NULL)
		(*tail)->next = c;
	else
		*head = c;
	*tail = c;
}

static struct hub_conv *
hub_queue_pop(struct hub_conv **head, struct hub_conv **tail)
{
	struct hub_conv *c = *head;

	if (c != NULL) {
		*head = c->next;
		if (*head == NULL)
			*tail = NULL;
		c->next = NULL;
	}
	return c;
}

void
hub_job_push_locked(struct hub *h, struct hub_conv *c)
{
	if (c->job == HUB_JOB_POLL)
		hub_queue_push(&h->rel_head, &h->rel_tail, c);
	else
		hub_queue_push(&h->job_head, &h->job_tail, c);
	pthread_cond_signal(&h->job_cv);
}

static void
hub_conv_send(struct hub_conv *c, nng_msg *m)
{
	c->job = 0;
	c->node = NULL;
	c->state = HUB_CONV_SEND;
	nng_aio_set_msg(c->aio, m);
	nng_ctx_send(c->ctx, c->aio);
}

void
hub_conv_reply(struct hub_conv *c, const Nodetask__Link__ControllerReply *r)
{
	size_t len = nodetask__link__controller_reply__get_packed_size(
	        (const Nodetask__Link__ControllerReply *)r);
	nng_msg *m;

	if (c->msg != NULL) {
		nng_msg_free(c->msg);
		c->msg = NULL;
	}
	if (nng_msg_alloc(&m, len) != 0) {
		nt_error("hub: out of memory for a %zu-byte reply", len);
		/* The agent's request times out and is retried. */
		hub_conv_recycle(c);
		return;
	}
	nodetask__link__controller_reply__pack(r, nng_msg_body(m));
	hub_conv_send(c, m);
}

void
hub_conv_error(struct hub_conv *c, Nodetask__Link__Error__Code code,
               const char *message)
{
	Nodetask__Link__ControllerReply r =
	        NODETASK__LINK__CONTROLLER_REPLY__INIT;
	Nodetask__Link__Error e = NODETASK__LINK__ERROR__INIT;

	e.code = code;
	e.message = (char *)message;
	r.body_case = NODETASK__LINK__CONTROLLER_REPLY__BODY_ERROR;
	r.error = &e;
	hub_conv_reply(c, &r);
}

static void *
hub_worker_main(void *arg)
{
	struct hub *h = arg;

	for (;;) {
		struct hub_conv *c;

		pthread_mutex_lock(&h->mtx);
		while (h->rel_head == NULL && h->job_head == NULL &&
		       !h->closing)
			pthread_cond_wait(&h->job_cv, &h->mtx);
		if ((c = hub_queue_pop(&h->rel_head, &h->rel_tail)) == NULL &&
		    (c = hub_queue_pop(&h->job_head, &h->job_tail)) == NULL) {
			pthread_mutex_unlock(&h->mtx);
			return NULL;
		}
		pthread_mutex_unlock(&h->mtx);

		if (c->job == HUB_JOB_REQUEST)
			hub_handle_request(c);
		else
			hub_handle_poll(c, c->node, true);
	}
}

struct hub_node *
hub_node_for_pipe(struct hub *h, uint32_t pipe)
{
	struct hub_node *n;
	char key[16];

	hub_pipe_key(pipe, key);
	pthread_mutex_lock(&h->mtx);
	n = nt_map_get(&h->pipes, key);
	if (n != NULL) {
		n->last_seen_ms = nt_time_mono_ms();
		n->seen = true;
	}
	pthread_mutex_unlock(&h->mtx);
	return n;
}

/* Hands a parked poll to a worker. Caller holds h->mtx. */
static void
hub_node_release_locked(struct hub *h, struct hub_node *n)
{
	struct hub_conv *c = n->parked;

	if (c == NULL)
		return;
	n->parked = NULL;
	c->state = HUB_CONV_BUSY;
	c->job = HUB_JOB_POLL;
	c->node = n;
	hub_job_push_locked(h, c);
}

struct hub_node *
hub_node_bind(struct hub *h, const char *node_id, uint32_t pipe)
{
	struct hub_node *n;
	char key[16];

	hub_pipe_key(pipe, key);
	pthread_mutex_lock(&h->mtx);
	n = nt_map_get(&h->nodes, node_id);
	if (n == NULL) {
		if ((n = calloc(1, sizeof(*n))) == NULL ||
		    nt_map_put(&h->nodes, node_id, n) != NT_OK) {
			free(n);
			pthread_mutex_unlock(&h->mtx);
			return NULL;
		}
		memcpy(n->id, node_id, NT_UUID_BUFLEN);
	}
	if (n->pipe != 0 && n->pipe != pipe) {
		char old[16];

		/* The old connection's requests now get UNAUTHENTICATED. */
		hub_pipe_key(n->pipe, old);
		nt_map_del(&h->pipes, old);
		hub_node_release_locked(h, n);
		nt_warn("hub: node %s said hello on a new connection; the old "
		        "one is no longer trusted",
		        node_id);
	}
	if (nt_map_put(&h->pipes, key, n) != NT_OK) {
		pthread_mutex_unlock(&h->mtx);
		return NULL;
	}
	n->pipe = pipe;
	n->online = true;
	n->seen = true;
	n->dirty = true;
	n->retry_at_ms = 0;
	n->last_seen_ms = nt_time_mono_ms();
	/* A new connection may have lost whatever was in flight. */
	free(n->sent);
	n->sent = NULL;
	n->n_sent = 0;
	pthread_mutex_unlock(&h->mtx);
	return n;
}

bool
hub_node_needs_query(struct hub *h, struct hub_node *n, int64_t now_ms,
                     int64_t *retry_at_ms)
{
	bool query;

	pthread_mutex_lock(&h->mtx);
	query = n->dirty || (n->retry_at_ms != 0 && now_ms >= n->retry_at_ms);
	n->dirty = false;
	*retry_at_ms = n->retry_at_ms;
	pthread_mutex_unlock(&h->mtx);
	return query;
}

void
hub_node_set_retry(struct hub *h, struct hub_node *n, int64_t at_ms)
{
	pthread_mutex_lock(&h->mtx);
	n->retry_at_ms = at_ms;
	pthread_mutex_unlock(&h->mtx);
}

void
hub_node_set_dirty(struct hub *h, struct hub_node *n)
{
	pthread_mutex_lock(&h->mtx);
	n->dirty = true;
	pthread_mutex_unlock(&h->mtx);
}

bool
hub_node_park(struct hub *h, struct hub_node *n, struct hub_conv *c,
              int64_t deadline_ms)
{
	pthread_mutex_lock(&h->mtx);
	/* Dirty stays set: the caller's next hub_node_needs_query sees it. */
	if (n->dirty || h->closing) {
		pthread_mutex_unlock(&h->mtx);
		return false;
	}
	/* An agent polls again only after giving up on the old poll. */
	hub_node_release_locked(h, n);
	if (c->msg != NULL) {
		nng_msg_free(c->msg);
		c->msg = NULL;
	}
	c->deadline_ms = deadline_ms;
	c->node = n;
	c->job = 0;
	c->state = HUB_CONV_PARKED;
	n->parked = c;
	pthread_mutex_unlock(&h->mtx);
	return true;
}

bool
hub_node_sent_recently(struct hub *h, struct hub_node *n, const char *key,
                       int64_t *retry_at_ms)
{
	int64_t now = nt_time_mono_ms();
	bool recent = false;
	size_t i, j;

	pthread_mutex_lock(&h->mtx);
	for (i = 0, j = 0; i < n->n_sent; i++) {
		if (now - n->sent[i].at_ms >= HUB_RESEND_MS)
			continue;
		if (strcmp(n->sent[i].key, key) == 0) {
			recent = true;
			if (n->sent[i].at_ms + HUB_RESEND_MS < *retry_at_ms)
				*retry_at_ms = n->sent[i].at_ms + HUB_RESEND_MS;
		}
		n->sent[j++] = n->sent[i];
	}
	n->n_sent = j;
	if (!recent) {
		struct hub_sent *s =
		        realloc(n->sent, (n->n_sent + 1) * sizeof(*s));

		if (s != NULL) {
			n->sent = s;
			snprintf(s[n->n_sent].key, sizeof(s[0].key), "%s", key);
			s[n->n_sent].at_ms = now;
			n->n_sent++;
		}
	}
	pthread_mutex_unlock(&h->mtx);
	return recent;
}

void
hub_notify_node(struct hub *h, const char *node_id)
{
	struct hub_node *n;

	if (h == NULL || node_id == NULL)
		return;
	pthread_mutex_lock(&h->mtx);
	n = nt_map_get(&h->nodes, node_id);
	if (n != NULL) {
		n->dirty = true;
		hub_node_release_locked(h, n);
	}
	pthread_mutex_unlock(&h->mtx);
}

static void
hub_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct hub *h = arg;
	struct hub_node *n;
	char key[16];

	if (ev != NNG_PIPE_EV_REM_POST)
		return;
	hub_pipe_key((uint32_t)nng_pipe_id(p), key);
	pthread_mutex_lock(&h->mtx);
	n = nt_map_del(&h->pipes, key);
	if (n != NULL && n->pipe == (uint32_t)nng_pipe_id(p)) {
		n->pipe = 0;
		/* The reply goes nowhere; this recycles the conversation. */
		hub_node_release_locked(h, n);
	}
	pthread_mutex_unlock(&h->mtx);
}

struct hub_tick {
	struct hub *h;
	int64_t now;
	bool flush;
	char (*offline)[NT_UUID_BUFLEN];
	size_t n_offline;
	char (*seen)[NT_UUID_BUFLEN];
	size_t n_seen;
};

static void
hub_tick_node(const char *key, void *value, void *arg)
{
	struct hub_tick *t = arg;
	struct hub_node *n = value;

	(void)key;
	if (n->parked != NULL && t->now >= n->parked->deadline_ms)
		hub_node_release_locked(t->h, n);
	if (n->online &&
	    t->now - n->last_seen_ms > t->h->cfg.offline_after_ms) {
		n->online = false;
		memcpy(t->offline[t->n_offline++], n->id, NT_UUID_BUFLEN);
	}
	if (t->flush && n->seen && n->online) {
		n->seen = false;
		memcpy(t->seen[t->n_seen++], n->id, NT_UUID_BUFLEN);
	}
}

/* Writes what the tick found; outside the lock (it talks to PostgreSQL). */
static void
hub_tick_store(struct hub *h, struct hub_tick *t)
{
	for (size_t i = 0; i < t->n_offline; i++) {
		int rv = store_node_offline(h->store, t->offline[i]);

		if (rv == NT_OK) {
			nt_info("hub: node %s is offline (silent for %" PRId64
			        " ms)",
			        t->offline[i], h->cfg.offline_after_ms);
			continue;
		}
		/* Try again on the next tick. */
		pthread_mutex_lock(&h->mtx);
		struct hub_node *n = nt_map_get(&h->nodes, t->offline[i]);
		if (n != NULL)
			n->online = true;
		pthread_mutex_unlock(&h->mtx);
	}
	if (t->n_seen > 0 &&
	    store_nodes_seen(h->store, (const char(*)[NT_UUID_BUFLEN])t->seen,
	                     t->n_seen) != NT_OK)
		nt_debug("hub: heartbeat flush of %zu nodes failed", t->n_seen);
}

static void
hub_tick(struct hub *h)
{
	struct hub_tick t = {.h = h, .now = nt_time_mono_ms()};
	int64_t flush_every = h->cfg.offline_after_ms / 3;
	size_t count;

	if (flush_every > 5000)
		flush_every = 5000;
	pthread_mutex_lock(&h->mtx);
	count = h->nodes.count;
	t.flush = t.now - h->last_flush_ms >= flush_every;
	if (t.flush)
		h->last_flush_ms = t.now;
	t.offline = count ? calloc(count, sizeof(*t.offline)) : NULL;
	t.seen = count ? calloc(count, sizeof(*t.seen)) : NULL;
	if (count == 0 || (t.offline != NULL && t.seen != NULL))
		nt_map_each(&h->nodes, hub_tick_node, &t);
	pthread_mutex_unlock(&h->mtx);
	hub_tick_store(h, &t);
	free(t.offline);
	free(t.seen);
}

static void *
hub_ticker_main(void *arg)
{
	struct hub *h = arg;

	pthread_mutex_lock(&h->mtx);
	while (!h->closing) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += HUB_TICK_MS * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&h->tick_cv, &h->mtx, &ts);
		if (h->closing)
			break;
		pthread_mutex_unlock(&h->mtx);
		hub_tick(h);
		pthread_mutex_lock(&h->mtx);
	}
	pthread_mutex_unlock(&h->mtx);
	return NULL;
}

static int
hub_sync_init(struct hub *h)
{
	pthread_condattr_t ca;

	if (pthread_mutex_init(&h->mtx, NULL) != 0)
		return NT_ENOMEM;
	if (pthread_condattr_init(&ca) != 0)
		return NT_ENOMEM;
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (pthread_cond_init(&h->tick_cv, &ca) != 0 ||
	    pthread_cond_init(&h->job_cv, NULL) != 0) {
		pthread_condattr_destroy(&ca);
		return NT_ENOMEM;
	}
	pthread_condattr_destroy(&ca);
	return NT_OK;
}

static int
hub_listen(struct hub *h)
{
	int rv;

	if ((rv = nng_rep0_open(&h->sock)) != 0) {
		nt_error("hub: cannot open the agent socket: %s",
		         nng_strerror(rv));
		return NT_EIO;
	}
	h->sock_open = true;
	nng_socket_set_size(h->sock, NNG_OPT_RECVMAXSZ, HUB_RECV_MAX);
	nng_pipe_notify(h->sock, NNG_PIPE_EV_REM_POST, hub_pipe_cb, h);
	if ((rv = nng_listen(h->sock, h->cfg.agents_url, &h->listener, 0)) !=
	    0) {
		nt_error("hub: cannot listen for agents on %s: %s",
		         h->cfg.agents_url, nng_strerror(rv));
		return NT_EIO;
	}
	return NT_OK;
}

static int
hub_threads_start(struct hub *h)
{
	h->workers = calloc(HUB_WORKERS, sizeof(*h->workers));
	if (h->workers == NULL)
		return NT_ENOMEM;
	for (int i = 0; i < HUB_WORKERS; i++) {
		if (pthread_create(&h->workers[i], NULL, hub_worker_main, h) !=
		    0)
			return NT_ENOMEM;
		h->n_workers++;
	}
	if (pthread_create(&h->ticker, NULL, hub_ticker_main, h) != 0)
		return NT_ENOMEM;
	h->ticker_started = true;
	return NT_OK;
}

int
hub_start(struct hub **hp, const struct ctl_config *cfg, struct store *store)
{
	struct hub *h;
	int rv;

	*hp = NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NT_ENOMEM;
	h->cfg = *cfg;
	h->store = store;
	nt_map_init(&h->nodes);
	nt_map_init(&h->pipes);
	if ((rv = hub_sync_init(h)) != NT_OK) {
		free(h);
		return rv;
	}
	if ((rv = hub_listen(h)) != NT_OK ||
	    (rv = hub_threads_start(h)) != NT_OK) {
		hub_stop(h);
		return rv;
	}
	pthread_mutex_lock(&h->mtx);
	for (int i = 0; i < HUB_RECEIVERS; i++)
		hub_receiver_add_locked(h);
	pthread_mutex_unlock(&h->mtx);
	*hp = h;
	return NT_OK;
}

static void
hub_node_free(const char *key, void *value, void *arg)
{
	struct hub_node *n = value;

	(void)key;
	(void)arg;
	free(n->sent);
	free(n);
}

void
hub_stop(struct hub *h)
{
	struct hub_conv *c;

	if (h == NULL)
		return;
	pthread_mutex_lock(&h->mtx);
	h->closing = true;
	pthread_cond_broadcast(&h->job_cv);
	pthread_cond_broadcast(&h->tick_cv);
	pthread_mutex_unlock(&h->mtx);

	if (h->ticker_started)
		pthread_join(h->ticker, NULL);
	/* Workers finish the job in hand; queued ones are dropped below. */
	for (int i = 0; i < h->n_workers; i++)
		pthread_join(h->workers[i], NULL);
	free(h->workers);
	/* Closing the socket completes every pending aio with NNG_ECLOSED. */
	if (h->sock_open)
		nng_close(h->sock);
	while ((c = h->all) != NULL) {
		h->all = c->all;
		nng_aio_free(c->aio);
		nng_ctx_close(c->ctx);
		if (c->msg != NULL)
			nng_msg_free(c->msg);
		free(c);
	}
	nt_map_each(&h->nodes, hub_node_free, NULL);
	nt_map_fini(&h->nodes);
	nt_map_fini(&h->pipes);
	pthread_cond_destroy(&h->job_cv);
	pthread_cond_destroy(&h->tick_cv);
	pthread_mutex_destroy(&h->mtx);
	free(h);
}
