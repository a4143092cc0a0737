/*
 * store_pool.c: the store's connection pool and statement execution.
 *
 * Up to pool_size libpq connections, opened lazily and handed out under a
 * mutex. A connection that fails at the protocol level is closed when it
 * comes back, together with the idle ones (a restarted server has broken
 * them all), and the next call reconnects. Waiting for a connection and
 * connecting are both bounded, so a dead database costs a caller at most
 * a few seconds and an NT_EUNAVAIL.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nt_err.h"
#include "nt_log.h"
#include "nt_text.h"
#include "nt_uuid.h"
#include "store_internal.h"

static int64_t
store_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Server notices (e.g. "relation exists, skipping") are not news. */
static void
store_notice(void *arg, const char *msg)
{
	(void)arg;
	nt_debug("store: server notice: %s", msg);
}

/* The first line of libpq's (possibly multi-line) message. */
static void
store_errline(const char *msg, char *out, size_t len)
{
	size_t n = strcspn(msg, "\n");

	if (n >= len)
		n = len - 1;
	memcpy(out, msg, n);
	out[n] = '\0';
}

int
store_init(struct store **sp, const char *conninfo, int pool_size)
{
	struct store *s;
	pthread_condattr_t ca;

	*sp = NULL;
	if (conninfo == NULL || pool_size < 1)
		return NT_EINVAL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NT_ENOMEM;
	if ((s->conninfo = strdup(conninfo)) == NULL) {
		free(s);
		return NT_ENOMEM;
	}
	s->pool_size = pool_size;
	pthread_mutex_init(&s->mu, NULL);
	/* Monotonic waits: a wall-clock jump must not stretch a timeout. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->cv, &ca);
	pthread_condattr_destroy(&ca);
	*sp = s;
	return NT_OK;
}

static void
store_conn_close(struct store_conn *c)
{
	PQfinish(c->pg);
	free(c);
}

/* Callers have given back every connection by now. */
void
store_fini(struct store *s)
{
	struct store_conn *c;

	if (s == NULL)
		return;
	while ((c = s->idle) != NULL) {
		s->idle = c->next;
		store_conn_close(c);
	}
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s->conninfo);
	free(s);
}

/* Session settings: nothing may hang a pooled connection for long. */
static int
store_conn_setup(PGconn *pg)
{
	PGresult *r;
	int ok;

	r = PQexec(pg, "SET statement_timeout = '" STORE_STMT_TIMEO "';"
	               "SET idle_in_transaction_session_timeout = '60s';"
	               "SET client_min_messages = warning");
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	if (!ok) {
		char line[256];

		store_errline(PQerrorMessage(pg), line, sizeof(line));
		nt_warn("store: session setup failed: %s", line);
	}
	PQclear(r);
	return ok ? NT_OK : NT_EUNAVAIL;
}

/*
 * Our defaults. The caller's conninfo (expanded from dbname) comes after
 * them, so it wins where it says otherwise.
 */
static const char *const store_conn_opts[][2] = {
        {"connect_timeout", STORE_CONNECT_S},
        {"keepalives", "1"},
        {"keepalives_idle", "30"},
        {"keepalives_interval", "10"},
        {"keepalives_count", "3"},
        {"tcp_user_timeout", "30000"}, /* ms: a silent peer is dead */
        {"application_name", "nodetask-controller"},
};

#define STORE_NOPTS (sizeof(store_conn_opts) / sizeof(store_conn_opts[0]))

static int
store_connect(struct store *s, struct store_conn **cp)
{
	const char *keys[STORE_NOPTS + 2], *vals[STORE_NOPTS + 2];
	struct store_conn *c;
	PGconn *pg;
	char line[256];

	*cp = NULL;
	for (size_t i = 0; i < STORE_NOPTS; i++) {
		keys[i] = store_conn_opts[i][0];
		vals[i] = store_conn_opts[i][1];
	}
	keys[STORE_NOPTS] = "dbname";
	vals[STORE_NOPTS] = s->conninfo;
	keys[STORE_NOPTS + 1] = vals[STORE_NOPTS + 1] = NULL;
	if ((pg = PQconnectdbParams(keys, vals, 1)) == NULL)
		return NT_ENOMEM;
	if (PQstatus(pg) != CONNECTION_OK) {
		store_errline(PQerrorMessage(pg), line, sizeof(line));
		nt_warn("store: cannot connect to the database: %s", line);
		PQfinish(pg);
		return NT_EUNAVAIL;
	}
	PQsetNoticeProcessor(pg, store_notice, NULL);
	if (store_conn_setup(pg) != NT_OK) {
		PQfinish(pg);
		return NT_EUNAVAIL;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		PQfinish(pg);
		return NT_ENOMEM;
	}
	c->pg = pg;
	*cp = c;
	return NT_OK;
}

static void
store_deadline(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

/* Opens a new connection in a slot already counted in nopen. */
static int
store_open_slot(struct store *s, struct store_conn **cp)
{
	int rv;

	if ((rv = store_connect(s, cp)) == NT_OK)
		return NT_OK;
	pthread_mutex_lock(&s->mu);
	s->nopen--;
	s->down_until_ms = store_mono_ms() + STORE_DOWN_MS;
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return rv == NT_ENOMEM ? NT_ENOMEM : NT_EUNAVAIL;
}

int
store_conn_get(struct store *s, struct store_conn **cp)
{
	struct timespec deadline;
	struct store_conn *c;

	*cp = NULL;
	store_deadline(&deadline, STORE_WAIT_MS);
	pthread_mutex_lock(&s->mu);
	for (;;) {
		if ((c = s->idle) != NULL) {
			s->idle = c->next;
			c->next = NULL;
			if (PQstatus(c->pg) != CONNECTION_OK) {
				/* Known dead already: drop it, look again. */
				s->nopen--;
				pthread_mutex_unlock(&s->mu);
				store_conn_close(c);
				pthread_mutex_lock(&s->mu);
				continue;
			}
			pthread_mutex_unlock(&s->mu);
			*cp = c;
			return NT_OK;
		}
		if (s->nopen < s->pool_size) {
			/* Just failed to connect: do not queue up on it. */
			if (store_mono_ms() < s->down_until_ms) {
				pthread_mutex_unlock(&s->mu);
				return NT_EUNAVAIL;
			}
			s->nopen++;
			pthread_mutex_unlock(&s->mu);
			return store_open_slot(s, cp);
		}
		if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) ==
		    ETIMEDOUT) {
			pthread_mutex_unlock(&s->mu);
			nt_warn("store: no free database connection after %d "
			        "ms",
			        STORE_WAIT_MS);
			return NT_EUNAVAIL;
		}
	}
}

/* A connection left inside a transaction is rolled back or dropped. */
static void
store_conn_settle(struct store_conn *c)
{
	PGTransactionStatusType ts;

	if (c->broken || PQstatus(c->pg) != CONNECTION_OK) {
		c->broken = true;
		return;
	}
	ts = PQtransactionStatus(c->pg);
	if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR)
		store_rollback(c);
	else if (ts != PQTRANS_IDLE)
		c->broken = true;
}

void
store_conn_put(struct store *s, struct store_conn *c)
{
	struct store_conn *stale = NULL;

	if (c == NULL)
		return;
	store_conn_settle(c);
	pthread_mutex_lock(&s->mu);
	if (c->broken) {
		/* The idle ones most likely died with it (server restart). */
		stale = s->idle;
		s->idle = NULL;
		for (struct store_conn *i = stale; i != NULL; i = i->next)
			s->nopen--;
		s->nopen--;
	} else {
		c->next = s->idle;
		s->idle = c;
	}
	pthread_cond_broadcast(&s->cv);
	pthread_mutex_unlock(&s->mu);
	/* Closing talks to the network: not under the lock. */
	if (c->broken)
		store_conn_close(c);
	while (stale != NULL) {
		struct store_conn *next = stale->next;

		store_conn_close(stale);
		stale = next;
	}
}

/* SQLSTATEs that mean the server or the link went away. */
static bool
store_state_lost(const char *st)
{
	return strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 ||
	       strcmp(st, "57P02") == 0 || strcmp(st, "57P03") == 0;
}

static int
store_state_err(const char *st)
{
	if (strcmp(st, "23505") == 0)
		return NT_ECONFLICT; /* unique violation */
	if (strcmp(st, "23503") == 0)
		return NT_ENOTFOUND; /* foreign key: the parent is missing */
	if (strncmp(st, "22", 2) == 0 || strcmp(st, "23502") == 0 ||
	    strcmp(st, "23514") == 0)
		return NT_EINVAL; /* bad data, NULL, CHECK */
	/* Timeouts, lock waits, lack of resources, serialization: busy. */
	if (strcmp(st, "57014") == 0 || strcmp(st, "55P03") == 0 ||
	    strncmp(st, "53", 2) == 0 || strncmp(st, "40", 2) == 0)
		return NT_EUNAVAIL;
	return NT_EIO;
}

/* Classifies a finished statement; logs what callers cannot expect. */
int
store_check(struct store_conn *c, PGresult *r, const char *what)
{
	const char *st, *cn;
	char line[256];
	int rv;

	c->sqlstate[0] = '\0';
	c->constraint[0] = '\0';
	if (r != NULL && (PQresultStatus(r) == PGRES_COMMAND_OK ||
	                  PQresultStatus(r) == PGRES_TUPLES_OK))
		return NT_OK;
	st = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	store_errline(r != NULL ? PQresultErrorMessage(r)
	                        : PQerrorMessage(c->pg),
	              line, sizeof(line));
	if (st == NULL || store_state_lost(st) ||
	    PQstatus(c->pg) != CONNECTION_OK) {
		c->broken = true;
		nt_warn("store: %s: database connection lost: %s", what, line);
		return NT_EUNAVAIL;
	}
	snprintf(c->sqlstate, sizeof(c->sqlstate), "%s", st);
	if ((cn = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME)) != NULL)
		snprintf(c->constraint, sizeof(c->constraint), "%s", cn);
	if (strcmp(st, "26000") == 0)
		c->prepared = 0; /* someone discarded our statements */
	rv = store_state_err(st);
	if (rv == NT_EIO || rv == NT_EUNAVAIL)
		nt_error("store: %s: %s (%s)", what, line, st);
	else
		nt_debug("store: %s: %s (%s)", what, line, st);
	return rv;
}

static int
store_prepare(struct store_conn *c, const struct store_stmt *st)
{
	PGresult *r;
	int rv;

	r = PQprepare(c->pg, st->name, st->sql, st->nparams, NULL);
	rv = store_check(c, r, st->name);
	PQclear(r);
	if (rv == NT_OK)
		c->prepared |= 1u << st->ps;
	return rv;
}

/* result_format: 0 text, 1 binary (for every column). */
static int
store_exec_as(struct store_conn *c, const struct store_stmt *st,
              const char *const *params, int result_format, PGresult **res)
{
	PGresult *r;
	int rv;

	*res = NULL;
	if (st->ps == STORE_PS_NONE) {
		r = PQexecParams(c->pg, st->sql, st->nparams, NULL, params,
		                 NULL, NULL, result_format);
	} else {
		if ((c->prepared & (1u << st->ps)) == 0 &&
		    (rv = store_prepare(c, st)) != NT_OK)
			return rv;
		r = PQexecPrepared(c->pg, st->name, st->nparams, params, NULL,
		                   NULL, result_format);
	}
	if ((rv = store_check(c, r, st->name)) != NT_OK) {
		PQclear(r);
		return rv;
	}
	*res = r;
	return NT_OK;
}

int
store_exec(struct store_conn *c, const struct store_stmt *st,
           const char *const *params, PGresult **res)
{
	return store_exec_as(c, st, params, 0, res);
}

/*
 * Binary results: uuids, timestamps and numbers come as they are stored,
 * with no text formatting in the server and no parsing here. Only for
 * statements whose rows are read with the store_bin_*() helpers (text
 * columns read as usual).
 */
int
store_exec_binary(struct store_conn *c, const struct store_stmt *st,
                  const char *const *params, PGresult **res)
{
	return store_exec_as(c, st, params, 1, res);
}

int
store_exec1(struct store *s, const struct store_stmt *st,
            const char *const *params, PGresult **res)
{
	struct store_conn *c;
	int rv;

	*res = NULL;
	if ((rv = store_conn_get(s, &c)) != NT_OK)
		return rv;
	rv = store_exec(c, st, params, res);
	store_conn_put(s, c);
	return rv;
}

int
store_simple(struct store_conn *c, const char *sql)
{
	PGresult *r;
	int rv;

	r = PQexec(c->pg, sql);
	rv = store_check(c, r, "command");
	PQclear(r);
	return rv;
}

int
store_begin(struct store_conn *c)
{
	return store_simple(c, "BEGIN");
}

int
store_commit(struct store_conn *c)
{
	return store_simple(c, "COMMIT");
}

void
store_rollback(struct store_conn *c)
{
	if (!c->broken)
		(void)store_simple(c, "ROLLBACK");
}

int
store_ping(struct store *s)
{
	static const struct store_stmt st = {STORE_PS_NONE, "ping", 0,
	                                     "SELECT 1"};
	PGresult *r;
	int rv;

	if ((rv = store_exec1(s, &st, NULL, &r)) == NT_OK)
		PQclear(r);
	return rv;
}

/* ---- result helpers ---- */

const char *
store_val(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return NULL;
	return PQgetvalue(r, row, col);
}

void
store_copy(char *dst, size_t len, const PGresult *r, int row, int col)
{
	const char *v = store_val(r, row, col);

	snprintf(dst, len, "%s", v != NULL ? v : "");
}

int64_t
store_i64(const PGresult *r, int row, int col)
{
	const char *v = store_val(r, row, col);

	return v != NULL ? strtoll(v, NULL, 10) : 0;
}

bool
store_bool(const PGresult *r, int row, int col)
{
	const char *v = store_val(r, row, col);

	return v != NULL && v[0] == 't';
}

char *
store_dup(const PGresult *r, int row, int col, int *err)
{
	const char *v = store_val(r, row, col);
	char *d;

	if (v == NULL)
		return NULL;
	if ((d = strdup(v)) == NULL)
		*err = NT_ENOMEM;
	return d;
}

/* PostgreSQL's timestamps count from 2000-01-01, ours from 1970. */
#define STORE_PG_EPOCH_US 946684800000000LL

static uint64_t
store_be(const unsigned char *p, int n)
{
	uint64_t v = 0;

	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

void
store_bin_uuid(char out[NT_UUID_BUFLEN], const PGresult *r, int row, int col)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *b;
	char *o = out;

	out[0] = '\0';
	if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 16)
		return;
	b = (const unsigned char *)PQgetvalue(r, row, col);
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		*o++ = hex[b[i] >> 4];
		*o++ = hex[b[i] & 0x0f];
	}
	*o = '\0';
}

int64_t
store_bin_ts_us(const PGresult *r, int row, int col)
{
	const unsigned char *b;

	if (PQgetisnull(r, row, col) || PQgetlength(r, row, col) != 8)
		return 0;
	b = (const unsigned char *)PQgetvalue(r, row, col);
	return (int64_t)store_be(b, 8) + STORE_PG_EPOCH_US;
}

int
store_rows(const PGresult *r, size_t size, store_row_fn row,
           store_item_fini_fn fini, void **items, size_t *n)
{
	int rows = PQntuples(r), done = 0, rv = NT_OK;
	char *v;

	*items = NULL;
	*n = 0;
	if ((v = store_calloc((size_t)rows, size)) == NULL)
		return NT_ENOMEM;
	for (; done < rows && rv == NT_OK; done++)
		rv = row(v + (size_t)done * size, r, done);
	if (rv != NT_OK) {
		/* The failed row too: fini must take a half-filled item. */
		for (int i = 0; fini != NULL && i < done; i++)
			fini(v + (size_t)i * size);
		free(v);
		return rv;
	}
	*items = v;
	*n = (size_t)rows;
	return NT_OK;
}

void *
store_calloc(size_t n, size_t size)
{
	return calloc(n > 0 ? n : 1, size);
}

bool
store_uuid(const char *s, char out[NT_UUID_BUFLEN])
{
	return s != NULL && nt_uuid_parse(s, out);
}

/* ---- array literals ---- */

static void
store_buf_grow(struct store_buf *b, size_t need)
{
	size_t cap;
	char *p;

	if (b->oom || b->len + need + 1 <= b->cap)
		return;
	cap = b->cap > 0 ? b->cap : 256;
	while (cap < b->len + need + 1)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL) {
		b->oom = true;
		return;
	}
	b->p = p;
	b->cap = cap;
}

void
store_buf_putc(struct store_buf *b, char ch)
{
	store_buf_grow(b, 1);
	if (b->oom)
		return;
	b->p[b->len++] = ch;
	b->p[b->len] = '\0';
}

void
store_buf_puts(struct store_buf *b, const char *s)
{
	size_t n = strlen(s);

	store_buf_grow(b, n);
	if (b->oom)
		return;
	memcpy(b->p + b->len, s, n + 1);
	b->len += n;
}

/*
 * Every element is double-quoted, so only '"' and '\' need escaping;
 * NULL becomes an unquoted NULL.
 */
void
store_buf_elem(struct store_buf *b, const char *s)
{
	const char *run;

	store_buf_putc(b, b->len == 0 ? '{' : ',');
	if (s == NULL) {
		store_buf_puts(b, "NULL");
		return;
	}
	store_buf_grow(b, strlen(s) + 2);
	store_buf_putc(b, '"');
	for (run = s; *s != '\0'; s++) {
		if (*s != '"' && *s != '\\')
			continue;
		store_buf_grow(b, (size_t)(s - run) + 2);
		if (b->oom)
			return;
		memcpy(b->p + b->len, run, (size_t)(s - run));
		b->len += (size_t)(s - run);
		b->p[b->len++] = '\\';
		b->p[b->len++] = *s;
		b->p[b->len] = '\0';
		run = s + 1;
	}
	store_buf_puts(b, run);
	store_buf_putc(b, '"');
}

const char *
store_buf_end(struct store_buf *b)
{
	if (b->len == 0)
		store_buf_putc(b, '{');
	store_buf_putc(b, '}');
	return b->oom ? NULL : b->p;
}

void
store_buf_fini(struct store_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- UTF-8 ---- */

const char *
store_utf8(const char *s, char **tmp)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, bad = 0;
	char *out, *o;

	*tmp = NULL;
	if (s == NULL)
		return NULL;
	for (; *p != '\0'; p += n) {
		if ((n = nt_text_utf8_len(p)) == 0) {
			n = 1;
			bad++;
		}
	}
	if (bad == 0)
		return s;
	/* Each bad byte becomes the 3-byte replacement character. */
	if ((out = malloc(strlen(s) + 2 * bad + 1)) == NULL)
		return NULL;
	for (p = (const unsigned char *)s, o = out; *p != '\0'; p += n) {
		if ((n = nt_text_utf8_len(p)) == 0) {
			n = 1;
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
		} else {
			memcpy(o, p, n);
			o += n;
		}
	}
	*o = '\0';
	*tmp = out;
	return out;
}
