/*
 * store_internal.h: what the store_*.c files share and nobody else sees.
 *
 * A store is a pool of libpq connections. A call borrows one with
 * store_conn_get(), runs its statements through store_exec() (which
 * prepares hot statements lazily on each connection and maps PostgreSQL
 * errors to nt_err codes), and gives it back with store_conn_put(). A
 * connection that failed at the protocol level is closed on return.
 */
#ifndef STORE_INTERNAL_H
#define STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <pthread.h>

#include "store.h"

#define STORE_WAIT_MS    5000 /* longest wait for a free connection */
#define STORE_DOWN_MS    500  /* after a failed connect, fail fast this long */
#define STORE_CONNECT_S  "3"  /* libpq connect_timeout */
#define STORE_STMT_TIMEO "10s"

/* Statements prepared per connection: one bit each in store_conn. */
enum store_ps {
	STORE_PS_NONE = -1, /* sent with PQexecParams */
	STORE_PS_KEY_LOOKUP,
	STORE_PS_NODE_AUTH,
	STORE_PS_NODES_SEEN,
	STORE_PS_RUN_GET,
	STORE_PS_RUN_RECENT,
	STORE_PS_LOG_LIST,
	STORE_PS_EV_LOCK,
	STORE_PS_EV_LOGS,
	STORE_PS_EV_BUMP,
	STORE_PS_WORK,
	STORE_PS_ACTIVE,
	STORE_PS_NODE_ONLINE,
	STORE_PS_DISK_LOCK,
	STORE_PS_DISK_UPSERT,
	STORE_PS_DISK_PRUNE,
	STORE_PS_EV_STARTED,
	STORE_PS_EV_FINISHED,
	STORE_PS_RUN_INSERT,
	STORE_PS_AUDIT_ADD,
	STORE_PS_COUNT,
};
_Static_assert(STORE_PS_COUNT <= 32, "store_conn.prepared has 32 bits");

struct store_stmt {
	enum store_ps ps;
	const char *name; /* prepared name; also used in log lines */
	int nparams;
	const char *sql;
};

struct store_conn {
	PGconn *pg;
	uint32_t prepared; /* bit (1 << store_ps) set once prepared here */
	bool broken;       /* lost: close on return */
	char sqlstate[6];  /* of the last failed statement */
	char constraint[64];
	struct store_conn *next; /* idle list */
};

struct store {
	char *conninfo;
	int pool_size;
	int nopen; /* connections open or being opened */
	struct store_conn *idle;
	int64_t down_until_ms; /* monotonic; see STORE_DOWN_MS */
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

/* ---- pool and execution (store_pool.c) ---- */

int store_conn_get(struct store *s, struct store_conn **cp);
void store_conn_put(struct store *s, struct store_conn *c);
/*
 * Runs st with text parameters. On NT_OK *res holds the result (tuples or
 * command status); the caller PQclear()s it. On error *res is NULL and
 * c->sqlstate / c->constraint tell what failed.
 */
int store_exec(struct store_conn *c, const struct store_stmt *st,
               const char *const *params, PGresult **res);
/* store_exec with binary results (see store_pool.c). */
int store_exec_binary(struct store_conn *c, const struct store_stmt *st,
                      const char *const *params, PGresult **res);
/* store_exec on a borrowed connection, for single-statement calls. */
int store_exec1(struct store *s, const struct store_stmt *st,
                const char *const *params, PGresult **res);
int store_begin(struct store_conn *c);
/* Classifies a finished statement's result (NT_OK, NT_ECONFLICT, ...). */
int store_check(struct store_conn *c, PGresult *r, const char *what);

/* ---- pipelines (store_pipe.c) ---- */

/* Statements queued before their results are read (one sync each). */
#define STORE_PIPE_MAX 64

enum store_pipe_kind {
	STORE_PIPE_STMT,    /* a statement: only its outcome counts */
	STORE_PIPE_KEEP,    /* a statement whose result the caller wants */
	STORE_PIPE_PREPARE, /* a PQsendPrepare: marks it prepared */
};

struct store_pipe {
	struct store_conn *c;
	int rv;             /* the first failure; nothing is sent after it */
	int n;              /* queued and not yet read */
	uint32_t preparing; /* prepared in this pipeline, not yet confirmed */
	enum store_pipe_kind kinds[STORE_PIPE_MAX];
	enum store_ps ps[STORE_PIPE_MAX];
	const char *names[STORE_PIPE_MAX];
	PGresult *kept; /* the last STORE_PIPE_KEEP result */
};

/*
 * Usage: store_pipe_begin(); store_pipe_send() or store_pipe_command()
 * as often as needed (results are read every STORE_PIPE_MAX); then
 * store_pipe_end(), which reads the rest and returns the first failure.
 * *res (may be NULL) gets the result of the statement sent with keep.
 * On failure inside a transaction the caller rolls back as usual.
 */
int store_pipe_begin(struct store_pipe *p, struct store_conn *c);
int store_pipe_send(struct store_pipe *p, const struct store_stmt *st,
                    const char *const *params, bool keep);
int store_pipe_command(struct store_pipe *p, const char *sql);
int store_pipe_end(struct store_pipe *p, PGresult **res);
int store_commit(struct store_conn *c);
void store_rollback(struct store_conn *c);
/* Runs a fixed, parameterless command (BEGIN, a migration's text). */
int store_simple(struct store_conn *c, const char *sql);

/* ---- result and parameter helpers (store_pool.c) ---- */

/* The value or NULL for SQL NULL. */
const char *store_val(const PGresult *r, int row, int col);
/* Truncating copy; "" for NULL. */
void store_copy(char *dst, size_t len, const PGresult *r, int row, int col);
int64_t store_i64(const PGresult *r, int row, int col);
bool store_bool(const PGresult *r, int row, int col);
/* strdup of the value; NULL for SQL NULL; sets *err = NT_ENOMEM on OOM. */
char *store_dup(const PGresult *r, int row, int col, int *err);
/*
 * Binary-format columns (store_exec_binary): a uuid as text ("" for
 * NULL), a timestamptz as microseconds since the epoch (0 for NULL).
 * Text columns read with store_copy()/store_dup() in either format.
 */
void store_bin_uuid(char out[NT_UUID_BUFLEN], const PGresult *r, int row,
                    int col);
int64_t store_bin_ts_us(const PGresult *r, int row, int col);
/* Fills one item from row i; NT_ENOMEM and the like on failure. */
typedef int (*store_row_fn)(void *item, const PGresult *r, int i);
/* Frees what an item holds (not the item); NULL when it holds nothing. */
typedef void (*store_item_fini_fn)(void *item);
/*
 * Every row of r as a new array of size-byte items (*items, *n; at least
 * one item is allocated). On failure nothing is left allocated. r stays
 * the caller's.
 */
int store_rows(const PGresult *r, size_t size, store_row_fn row,
               store_item_fini_fn fini, void **items, size_t *n);
/* calloc of n items (at least one, so NULL always means OOM). */
void *store_calloc(size_t n, size_t size);
/* True when s is a UUID; out (may be NULL) receives it lowercased. */
bool store_uuid(const char *s, char out[NT_UUID_BUFLEN]);

/* A growing text buffer for PostgreSQL array literals. */
struct store_buf {
	char *p;
	size_t len;
	size_t cap;
	bool oom;
};

void store_buf_putc(struct store_buf *b, char ch);
void store_buf_puts(struct store_buf *b, const char *s);
/* Appends "," unless first, then s quoted as an array element. */
void store_buf_elem(struct store_buf *b, const char *s);
/* Closes the literal with "}" and returns its text; NULL on OOM. */
const char *store_buf_end(struct store_buf *b);
void store_buf_fini(struct store_buf *b);

/*
 * PostgreSQL refuses text that is not valid UTF-8. Returns s when valid,
 * else a copy with each bad byte replaced by U+FFFD in *tmp (freed by the
 * caller; NULL on OOM).
 */
const char *store_utf8(const char *s, char **tmp);

#endif
