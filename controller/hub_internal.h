/*
 * hub_internal.h: the hub's objects, shared by hub.c (transport, sessions,
 * timers) and hub_handle.c (what each agent request does).
 *
 * A conversation (hub_conv) is one nng rep context carrying one request
 * and its reply. A fixed number of conversations always wait to receive;
 * one that leaves the receiving state (to be handled, or parked as a long
 * poll) is replaced from a free list, so a parked poll costs one small
 * struct, not a thread. Handling runs on the hub's worker threads because
 * it talks to PostgreSQL and nng callbacks must not block.
 */
#ifndef HUB_INTERNAL_H
#define HUB_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>

#include "ctl_config.h"
#include "link.pb-c.h"
#include "nt_map.h"
#include "nt_uuid.h"

struct store;

enum hub_job {
	HUB_JOB_REQUEST = 1, /* handle the received request */
	HUB_JOB_POLL,        /* answer a parked poll: work or keepalive */
};

enum hub_conv_state {
	HUB_CONV_FREE = 0, /* on the free list */
	HUB_CONV_RECV,     /* waiting for a request */
	HUB_CONV_BUSY,     /* queued or being handled by a worker */
	HUB_CONV_PARKED,   /* a poll waiting for work */
	HUB_CONV_SEND,     /* reply in flight */
};

struct hub_conv {
	struct hub *hub;
	enum hub_conv_state state;
	nng_ctx ctx;
	nng_aio *aio;
	nng_msg *msg;  /* the request while it is handled */
	uint32_t pipe; /* connection the request came on */
	enum hub_job job;
	struct hub_node *node; /* HUB_JOB_POLL: whose poll */
	int64_t deadline_ms;   /* parked: when to answer anyway */
	int64_t recv_ms;       /* when the request arrived (monotonic) */
	struct hub_conv *next; /* job queue or free list */
	struct hub_conv *all;  /* every conversation, for hub_stop */
};

/* Something recently sent to a node, so a poll does not resend it. */
struct hub_sent {
	char key[48]; /* "d:<run>", "s:<run>", "a:<question>" */
	int64_t at_ms;
};

/* An agent the hub has heard from since it started. Never freed early. */
struct hub_node {
	char id[NT_UUID_BUFLEN];
	uint32_t pipe;        /* its current connection; 0: none */
	bool online;          /* as last written to the store */
	bool seen;            /* heard from since the last heartbeat flush */
	bool dirty;           /* may have work: re-query before parking */
	int64_t retry_at_ms;  /* an unconfirmed item may be resent; 0: none */
	int64_t last_seen_ms; /* monotonic */
	struct hub_conv *parked;
	struct hub_sent *sent;
	size_t n_sent;
};

struct hub {
	struct ctl_config cfg;
	struct store *store;
	nng_socket sock;
	nng_listener listener;
	bool sock_open;

	pthread_mutex_t mtx; /* everything below */
	bool closing;
	struct nt_map nodes; /* node id -> hub_node */
	struct nt_map pipes; /* pipe id (decimal) -> hub_node */
	struct hub_conv *free;
	struct hub_conv *all;

	pthread_cond_t job_cv;
	struct hub_conv *job_head; /* requests, in arrival order */
	struct hub_conv *job_tail;
	struct hub_conv *rel_head; /* released polls: served first */
	struct hub_conv *rel_tail;
	pthread_t *workers;
	int n_workers;

	pthread_cond_t tick_cv;
	pthread_t ticker;
	bool ticker_started;
	int64_t last_flush_ms;
};

/* A work item is not resent to the same connection within this window. */
#define HUB_RESEND_MS 5000

/* ---- hub.c ---------------------------------------------------------- */

/*
 * Queues conv for a worker. A released poll (HUB_JOB_POLL) goes before
 * every request: an agent gives up on a poll not answered within hold +
 * a margin, so its answer must not wait behind a backlog of Hellos and
 * inventories. Caller holds h->mtx.
 */
void hub_job_push_locked(struct hub *h, struct hub_conv *c);
/* Sends reply (packed ControllerReply) on conv; conv is then recycled. */
void hub_conv_reply(struct hub_conv *c,
                    const Nodetask__Link__ControllerReply *r);
/* Replies Error{code, message}. */
void hub_conv_error(struct hub_conv *c, Nodetask__Link__Error__Code code,
                    const char *message);
/* The node authenticated on pipe, or NULL; marks it seen. */
struct hub_node *hub_node_for_pipe(struct hub *h, uint32_t pipe);
/*
 * Binds node_id to pipe after a successful Hello (creating the node).
 * Returns NULL on allocation failure.
 */
struct hub_node *hub_node_bind(struct hub *h, const char *node_id,
                               uint32_t pipe);
/*
 * Parks a poll unless the node became dirty meanwhile (then returns false,
 * leaving the node dirty, and the caller queries again).
 */
bool hub_node_park(struct hub *h, struct hub_node *n, struct hub_conv *c,
                   int64_t deadline_ms);
/*
 * Whether the node's work must be read from the store now: it is dirty
 * (cleared here) or an item sent earlier is due to be resent. Without
 * either the store holds nothing new for it: every change that makes work
 * calls hub_notify_node. *retry_at_ms receives the node's resend time.
 */
bool hub_node_needs_query(struct hub *h, struct hub_node *n, int64_t now_ms,
                          int64_t *retry_at_ms);
/* After a query: when an item sent or held back may be resent (0: none). */
void hub_node_set_retry(struct hub *h, struct hub_node *n, int64_t at_ms);
/* Marks the node dirty (its work could not be read). */
void hub_node_set_dirty(struct hub *h, struct hub_node *n);
/* True when key was sent to this node within HUB_RESEND_MS; else notes it. */
bool hub_node_sent_recently(struct hub *h, struct hub_node *n, const char *key,
                            int64_t *retry_at_ms);

/* ---- hub_handle.c --------------------------------------------------- */

/* Handles a received request (worker thread). Always replies. */
void hub_handle_request(struct hub_conv *c);
/* Answers a parked poll with the node's work, or parks it again. */
void hub_handle_poll(struct hub_conv *c, struct hub_node *n, bool final);

#endif
