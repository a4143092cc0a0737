/*
 * http_metrics.h: counters for GET /metrics (Prometheus text format).
 *
 * Worker threads record every request with relaxed atomic adds: no lock
 * on the hot path. The numbers only ever grow, as Prometheus expects.
 */
#ifndef HTTP_METRICS_H
#define HTTP_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_METRICS_NBUCKETS 12

struct http_metrics {
	atomic_uint_fast64_t by_code[600]; /* index: HTTP status */
	atomic_uint_fast64_t buckets[HTTP_METRICS_NBUCKETS + 1]; /* +Inf */
	atomic_uint_fast64_t sum_us;
	atomic_int in_flight;
};

void http_metrics_init(struct http_metrics *m);
void http_metrics_begin(struct http_metrics *m);
/* A finished request: its status and how long it took. */
void http_metrics_end(struct http_metrics *m, int status, int64_t elapsed_us);
/*
 * The exposition text (caller frees with free()); db_up is the database
 * gauge (1 or 0). NULL when memory runs out.
 */
char *http_metrics_render(struct http_metrics *m, int db_up, size_t *len);

#endif
