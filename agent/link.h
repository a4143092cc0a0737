/*
 * link.h: the agent's side of the agent <-> controller link (nng req0).
 *
 * One link is one node's connection: a req0 socket dialing the controller
 * with three contexts, each a small state machine driven by its aio
 * callback, so a process can hold thousands of links without a thread
 * each (the agent simulator of the benchmarks does):
 *   - control: Hello on every new connection (enrolling with a token the
 *     first time), then Inventory whenever it changed;
 *   - poll: one long poll always outstanding while authenticated; it is
 *     the heartbeat and brings dispatches, stops and answers at once;
 *   - events: the queue of pushed RunEvents, sent in batches with one
 *     request outstanding (so per-run order holds) until acknowledged.
 * Lost connections are redialed by nng with capped exponential backoff;
 * a request on a connection that has not said Hello is refused with
 * UNAUTHENTICATED, after which the link says Hello and sends it again.
 *
 * The owner's callbacks run on nng threads, possibly at the same time as
 * each other, and must not block; they may call link functions. The
 * link's functions are safe from any thread.
 */
#ifndef LINK_H
#define LINK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include "link.pb-c.h"

struct link_ops {
	/*
	 * The controller accepted our Hello. reply->node_secret is set when
	 * this was an enrollment (keep it); reply->active_runs lists the runs
	 * it thinks this node executes. Work arrives only after this returns.
	 */
	void (*hello)(void *arg, const Nodetask__Link__HelloReply *reply);
	/* One work item (Dispatch, Stop or Answer), in the order received. */
	void (*work)(void *arg, const Nodetask__Link__Work *work);
	/* The n oldest pushed events are acknowledged (stored or refused). */
	void (*acked)(void *arg, size_t n);
};

struct link_config {
	const char *url;
	const char *node_id;
	const char *hostname;
	const char *agent_version;
	const char *enroll_token; /* NULL or "": none */
	const char *node_secret;  /* NULL or "": none (enroll) */
	int reconnect_min_ms;     /* 0: 100 ms */
	int reconnect_max_ms;     /* 0: 10 s */
	size_t batch_events;      /* most events per request; 0: 500 */
	size_t batch_bytes;       /* most bytes per request; 0: 1 MiB */
};

/* A pushed, packed RunEvent waiting for its acknowledgement. */
struct link_event {
	struct link_event *next;
	size_t len;
	uint8_t data[];
};

enum link_op_state {
	LINK_OP_IDLE = 0,
	LINK_OP_SEND,  /* request handed to nng */
	LINK_OP_RECV,  /* waiting for the reply */
	LINK_OP_SLEEP, /* backing off before a retry */
	LINK_OP_OWNER, /* telling the owner; nothing new may start */
};

enum link_req {
	LINK_REQ_NONE = 0,
	LINK_REQ_HELLO,
	LINK_REQ_INVENTORY,
	LINK_REQ_POLL,
	LINK_REQ_EVENTS,
};

/*
 * Told how long each answered request took, from handing it to nng to
 * its reply (microseconds; a poll includes the controller's hold). Called
 * with the link's lock held: must be quick and call no link function.
 */
typedef void (*link_rtt_fn)(void *arg, enum link_req req, int64_t us);

/* One context: one request at a time, one aio. */
struct link_op {
	struct link *link;
	nng_ctx ctx;
	nng_aio *aio;
	enum link_op_state state;
	enum link_req req; /* what is in flight */
	uint64_t auth_gen; /* the authentication it was sent under */
	int backoff_ms;    /* next retry delay after a failure */
	int timeout_ms;    /* for the reply to the request in flight */
	int64_t sent_us;   /* monotonic; only kept when rtt is set */
};

struct link {
	/* Settings (copied). */
	char *url, *node_id, *hostname, *version, *token, *secret;
	int backoff_min_ms, backoff_max_ms;
	size_t batch_events, batch_bytes;
	struct link_ops ops;
	void *arg;
	link_rtt_fn rtt; /* NULL: not measured */

	nng_socket sock;
	nng_dialer dialer;
	bool sock_open, dialing;
	int64_t down_since_ms; /* no connection since (monotonic); 0: up */

	pthread_mutex_t mtx; /* everything below */
	bool closing;
	uint32_t pipe;     /* current connection; 0: none */
	bool authed;       /* Hello accepted on the current connection */
	uint64_t auth_gen; /* bumped on every accepted Hello */
	uint32_t poll_hold_ms;
	struct link_op ctl, poll, events;

	struct link_event *out_head, *out_tail;
	size_t out_len;     /* events waiting for an acknowledgement */
	size_t inflight;    /* of them, in the request being sent */
	size_t batch_limit; /* shrunk after BAD_REQUEST to find the culprit */

	uint8_t *inv; /* packed Inventory; NULL: none yet */
	size_t inv_len;
	uint64_t inv_gen;  /* bumped by link_set_inventory */
	uint64_t inv_sent; /* generation the controller has */
	uint64_t inv_busy; /* generation in flight */

	char **executing; /* run ids for Hello */
	size_t n_executing;
};

/* Sets up the socket and contexts; nothing is sent before link_start. */
int link_init(struct link *l, const struct link_config *cfg,
              const struct link_ops *ops, void *arg);
/* Measures round trips (benchmarks); call before link_start. */
void link_set_rtt(struct link *l, link_rtt_fn fn);
/* Starts dialing (in the background, retried with backoff). */
int link_start(struct link *l);
/* Closes the connection and waits for callbacks; frees everything. */
void link_fini(struct link *l);
/*
 * Call about once a second. A connect that has not completed within a few
 * seconds is started again: after a partition heals, a connect stuck in
 * the kernel's SYN backoff would otherwise wait up to a minute.
 */
void link_tick(struct link *l, int64_t now_ms);
/* Queues a packed RunEvent; it is sent until acknowledged. */
int link_push_event(struct link *l, const uint8_t *buf, size_t len);
/* Sets the packed Inventory; sent now and after every Hello. */
int link_set_inventory(struct link *l, const uint8_t *buf, size_t len);
/* The runs this process executes, for the next Hello. */
int link_set_executing(struct link *l, const char *const *ids, size_t n);
/* Events pushed but not yet acknowledged. */
size_t link_pending(struct link *l);
/* True while the controller has accepted our Hello on this connection. */
bool link_online(struct link *l);

/*
 * Builds a packed AgentRequest{events} around already packed RunEvents
 * (protobuf's repeated field is their concatenation, so nothing is
 * re-encoded). Exposed for tests.
 */
int link_events_msg(struct link_event *first, size_t n, nng_msg **out);

#endif
