/*
 * store.h: the controller's PostgreSQL store.
 *
 * Everything the controller keeps lives here: nodes, disks, task runs and
 * their logs, questions, API keys, enrollment tokens, the audit log.
 * Callers never see libpq: every function takes the store, borrows a pooled
 * connection for the duration of the call, and returns an nt_err code.
 * While the database is unreachable every function returns NT_EUNAVAIL at
 * once (after a bounded connect attempt) and the pool reconnects on a later
 * call; nothing blocks forever and nothing crashes.
 *
 * Strings in results are owned by the result; free results with the
 * matching *_fini / *_free function. Timestamps are microseconds since the
 * epoch, 0 meaning "not yet" (JSON null at the API).
 *
 * Run states: pending, running, completed, failed, canceled. The last
 * three are terminal; every UPDATE that changes state is guarded in SQL
 * (WHERE state IN ('pending','running')) so a terminal run never changes.
 */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nt_uuid.h"

struct store;

#define STORE_NAME_BUFLEN  128 /* key names, hostnames in short form */
#define STORE_HOST_BUFLEN  256
#define STORE_PATH_BUFLEN  256
#define STORE_TASK_BUFLEN  32
#define STORE_STATE_BUFLEN 16

/* ---- lifecycle ---------------------------------------------------- */

/*
 * Creates a pool of up to pool_size connections (opened lazily). conninfo
 * is a libpq connection string or URI. Does not connect; a later call that
 * cannot connect returns NT_EUNAVAIL.
 */
int store_init(struct store **sp, const char *conninfo, int pool_size);
void store_fini(struct store *s);
/* Applies pending migrations in one transaction each; *applied = count. */
int store_migrate(struct store *s, int *applied);
/* The highest applied migration version; NT_EUNAVAIL when down. */
int store_schema_version(struct store *s, int *version);
/* Cheap "SELECT 1": NT_OK when the database answers. */
int store_ping(struct store *s);

/* ---- API keys ------------------------------------------------------- */

enum store_scope {
	STORE_SCOPE_READ = 1,
	STORE_SCOPE_ADMIN = 2,
};

struct store_key {
	char name[STORE_NAME_BUFLEN];
	enum store_scope scope;
	int64_t created_at_us;
	int64_t revoked_at_us; /* 0: active */
};

/* NT_EEXIST when an active key already has this name. */
int store_key_create(struct store *s, const char *name, enum store_scope scope,
                     const char *hash_hex);
/* Active keys only. NT_ENOTFOUND for unknown or revoked keys. */
int store_key_lookup(struct store *s, const char *hash_hex,
                     char name[STORE_NAME_BUFLEN], enum store_scope *scope);
int store_key_list(struct store *s, struct store_key **items, size_t *n);
void store_key_free(struct store_key *items, size_t n);
/* NT_ENOTFOUND when no active key has this name. */
int store_key_revoke(struct store *s, const char *name);

/* ---- audit log ------------------------------------------------------ */

struct store_audit {
	const char *actor;  /* key name, "cli", or "agent:<node id>" */
	const char *action; /* e.g. "POST /task/runs", "key create" */
	const char
	        *object_type;  /* "run", "question", "key", ...; may be NULL */
	const char *object_id; /* may be NULL */
	int status;            /* HTTP status or 0 for CLI success */
	const char *detail;    /* short human text; may be NULL */
};

int store_audit_add(struct store *s, const struct store_audit *a);

/* ---- nodes and enrollment ------------------------------------------- */

struct store_node {
	char id[NT_UUID_BUFLEN];
	char hostname[STORE_HOST_BUFLEN];
	char state[STORE_STATE_BUFLEN]; /* "online" or "offline" */
	int64_t last_seen_at_us;        /* 0: never */
	char agent_version[64];
	char address[128];
	int64_t created_at_us;
};

/* One-time token, valid until expires_at_us. */
int store_token_create(struct store *s, const char *token_hash,
                       int64_t expires_at_us);
/*
 * Consumes an enrollment token and creates (or re-keys) node node_id with
 * the given secret hash. NT_EPERM when the token is unknown, used or
 * expired (nothing changes then).
 */
int store_node_enroll(struct store *s, const char *token_hash,
                      const char *node_id, const char *hostname,
                      const char *secret_hash);
/* NT_OK when node_id exists and secret_hash matches; NT_EPERM otherwise. */
int store_node_auth(struct store *s, const char *node_id,
                    const char *secret_hash);
/* Marks the node online and records what it said about itself. */
int store_node_online(struct store *s, const char *node_id,
                      const char *hostname, const char *agent_version,
                      const char *address);
/* Batch heartbeat: last_seen_at = now for these nodes (online ones). */
int store_nodes_seen(struct store *s, const char (*ids)[NT_UUID_BUFLEN],
                     size_t n);
int store_node_offline(struct store *s, const char *node_id);
/*
 * Inserts a node directly (tests and tools only; agents enroll). When
 * secret_hash is NULL the node can never authenticate.
 */
int store_node_insert(struct store *s, const struct store_node *node,
                      const char *secret_hash);
int store_node_get(struct store *s, const char *id, struct store_node *out);
int store_node_list(struct store *s, struct store_node **items, size_t *n);
void store_node_free(struct store_node *items, size_t n);

/* ---- disks ---------------------------------------------------------- */

struct store_disk {
	char id[NT_UUID_BUFLEN];
	char node_id[NT_UUID_BUFLEN];
	char node_hostname[STORE_HOST_BUFLEN];
	char device_path[STORE_PATH_BUFLEN];
	int64_t capacity_bytes;
	char interface[16]; /* "sata", "sas", "nvme", "virtio", "loop", ... */
	char model[128];
	char vendor[64];
	char serial[128];
	bool is_osd;
	bool is_mon;
	bool has_filesystem;
	bool available;
	char *reject_reasons; /* JSON array of strings, never NULL in results */
};

/*
 * Replaces the node's inventory: upserts by (node, device path) so a disk
 * keeps its id across reports, deletes disks no longer reported.
 */
int store_disks_replace(struct store *s, const char *node_id,
                        const struct store_disk *disks, size_t n);
/* node_id NULL: all nodes. Ordered by hostname, device path. */
int store_disk_list(struct store *s, const char *node_id,
                    struct store_disk **items, size_t *n);
int store_disk_get(struct store *s, const char *id, struct store_disk *out);
void store_disk_fini(struct store_disk *d);
void store_disk_free(struct store_disk *items, size_t n);

/* ---- task runs ------------------------------------------------------ */

struct store_run {
	char id[NT_UUID_BUFLEN];
	char task_name[STORE_TASK_BUFLEN];
	char state[STORE_STATE_BUFLEN];
	char node_id[NT_UUID_BUFLEN];
	char node_hostname[STORE_HOST_BUFLEN];
	int64_t created_at_us;
	int64_t started_at_us;   /* 0: not started */
	int64_t completed_at_us; /* 0: not terminal */
	char *error;             /* NULL: none */
	char *params;            /* JSON object text, never NULL */
	char *result;            /* JSON text or NULL */
	char pending_question_id[NT_UUID_BUFLEN]; /* "" when none open */
	char device_path[STORE_PATH_BUFLEN];      /* "" when none */
};

void store_run_fini(struct store_run *r);
void store_run_free(struct store_run *items, size_t n);

struct store_run_new {
	const char *task_name;
	const char *node_id;
	const char *params;          /* JSON object text */
	const char *device_path;     /* NULL when the task names no device */
	const char *idempotency_key; /* NULL: none */
	const char *request_hash; /* hash of the request body, with the key */
	const char *created_by;   /* key name */
};

/*
 * Creates a pending run. NT_ENOTFOUND: unknown node. NT_ECONFLICT: another
 * pending or running run on this node holds device_path (err names it), or
 * the idempotency key was used with a different request. With a known
 * idempotency key and the same request, *existed = true and out is the
 * earlier run.
 */
int store_run_create(struct store *s, const struct store_run_new *nr,
                     struct store_run *out, bool *existed, char *err,
                     size_t errlen);
int store_run_get(struct store *s, const char *id, struct store_run *out);

struct store_run_filter {
	int limit;             /* 1..500 */
	const char *state;     /* NULL: any */
	const char *task_name; /* NULL: any */
	const char *node_id;   /* NULL: any */
	const char *before;    /* run id: only runs older than it; NULL: none */
};

/*
 * Newest first (created_at, id). NT_ENOTFOUND when `before` names no run.
 * *more is true when further runs exist past the last returned.
 */
int store_run_recent(struct store *s, const struct store_run_filter *f,
                     struct store_run **items, size_t *n, bool *more);
/*
 * pending/running -> canceled with error = reason (NULL: "canceled by
 * <by>"), completed_at = now; closes the run's open question.
 * NT_ENOTFOUND, NT_ECONFLICT (already terminal; *state_out says which).
 * *was_running tells whether the agent must be told to stop.
 */
int store_run_cancel(struct store *s, const char *id, const char *by,
                     const char *reason, bool *was_running,
                     char state_out[STORE_STATE_BUFLEN]);

/* ---- logs ----------------------------------------------------------- */

struct store_log {
	int64_t seq; /* 1, 2, 3, ... per run */
	int64_t ts_us;
	char level[8]; /* debug, info, warn, error */
	char *message;
};

/* Lines with seq > after, oldest first, at most limit. NT_ENOTFOUND: run. */
int store_log_list(struct store *s, const char *run_id, int64_t after,
                   int limit, struct store_log **items, size_t *n);
void store_log_free(struct store_log *items, size_t n);

/* ---- questions ------------------------------------------------------ */

struct store_question {
	char id[NT_UUID_BUFLEN];
	char run_id[NT_UUID_BUFLEN];
	char node_id[NT_UUID_BUFLEN];
	char task_name[STORE_TASK_BUFLEN];
	char *prompt;
	char *options;                  /* JSON array of strings */
	char state[STORE_STATE_BUFLEN]; /* open, answered, expired, closed */
	char *answer;                   /* NULL until answered */
	char answered_by[STORE_NAME_BUFLEN];
	int64_t created_at_us;
	int64_t answered_at_us;
	int64_t expires_at_us;
};

void store_question_fini(struct store_question *q);
void store_question_free(struct store_question *items, size_t n);
/* Open questions of non-terminal runs, oldest first. */
int store_question_pending(struct store *s, struct store_question **items,
                           size_t *n);
int store_question_get(struct store *s, const char *id,
                       struct store_question *out);
/*
 * Records the answer. NT_ENOTFOUND; NT_EINVAL: not one of the options;
 * NT_ECONFLICT: already answered, expired, closed, or the run has ended.
 * On success *node_id_out names the node to notify.
 */
int store_question_answer(struct store *s, const char *id, const char *answer,
                          const char *by, char node_id_out[NT_UUID_BUFLEN]);

/* ---- the agent link (used by the hub) ------------------------------- */

enum store_event_kind {
	STORE_EV_STARTED = 1,
	STORE_EV_LOG,
	STORE_EV_QUESTION,
	STORE_EV_ANSWER_RECEIVED, /* the agent has the answer: stop resending */
	STORE_EV_FINISHED,
};

/* One event from an agent. Which fields matter depends on kind. */
struct store_event {
	const char *run_id;
	int64_t seq; /* per run, 1, 2, 3, ... across all kinds */
	int64_t ts_us;
	enum store_event_kind kind;
	const char *level;        /* LOG */
	const char *message;      /* LOG */
	const char *question_id;  /* QUESTION, ANSWER_RECEIVED */
	const char *prompt;       /* QUESTION */
	const char *options_json; /* QUESTION: JSON array of strings */
	const char *state;        /* FINISHED: completed, failed, canceled */
	const char *error;        /* FINISHED: NULL when none */
	const char *result_json;  /* FINISHED: NULL when none */
};

enum store_event_outcome {
	STORE_EV_STORED = 0, /* committed now */
	STORE_EV_DUPLICATE,  /* seq already stored: a resend, no-op */
	STORE_EV_REJECTED,   /* not this node's run, unknown run, bad event */
};

/*
 * Stores a batch of events from node_id in one transaction, in order.
 * An event whose seq is not above the run's last stored seq is a
 * duplicate. Log lines get the run's next log seq (1..N, gapless) here,
 * so a resent line can never be stored twice. A QUESTION opens a question
 * expiring question_ttl_ms from now. FINISHED sets the final state (the
 * SQL guard keeps a terminal state) and records that the agent stopped.
 * outcome[i] receives each event's fate. Returns NT_OK when the batch was
 * committed (whatever the outcomes), else nothing was stored.
 */
int store_events_apply(struct store *s, const char *node_id,
                       const struct store_event *ev, size_t n,
                       int64_t question_ttl_ms,
                       enum store_event_outcome *outcome);

enum store_work_kind {
	STORE_WORK_DISPATCH = 1, /* start this pending run */
	STORE_WORK_STOP,   /* run is terminal but the agent still runs it */
	STORE_WORK_ANSWER, /* deliver an answer the agent has not taken */
};

struct store_work {
	enum store_work_kind kind;
	char run_id[NT_UUID_BUFLEN];
	char task_name[STORE_TASK_BUFLEN];
	char *params;                     /* DISPATCH: JSON object text */
	char question_id[NT_UUID_BUFLEN]; /* ANSWER */
	char *answer;                     /* ANSWER */
	char *reason;                     /* STOP: the run's error */
};

/* Everything node_id's agent should be told now, oldest first. */
int store_work_for_node(struct store *s, const char *node_id,
                        struct store_work **items, size_t *n);
void store_work_free(struct store_work *items, size_t n);

/* A run the controller believes node_id's agent is executing. */
struct store_active_run {
	char run_id[NT_UUID_BUFLEN];
	char state[STORE_STATE_BUFLEN];
	int64_t last_event_seq;
};

/* Runs started on node_id whose agent has not reported them finished. */
int store_node_active_runs(struct store *s, const char *node_id,
                           struct store_active_run **items, size_t *n);

/*
 * Expires open questions past their deadline: question -> expired, its run
 * -> failed ("question ... expired after ..."). Fills the affected node ids
 * (caller frees *nodes) so the hub can tell their agents to stop.
 */
int store_questions_expire(struct store *s, char (**nodes)[NT_UUID_BUFLEN],
                           size_t *n);

#endif
