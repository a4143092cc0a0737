/*
 * http_metrics.c: request counters and the latency histogram, rendered
 * in the Prometheus text exposition format (version 0.0.4).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_metrics.h"

/* Upper bounds in microseconds: 0.5 ms .. 5 s. */
static const int64_t http_bucket_us[HTTP_METRICS_NBUCKETS] = {
        500,   1000,   2500,   5000,   10000,   25000,
        50000, 100000, 250000, 500000, 1000000, 5000000,
};

void
http_metrics_init(struct http_metrics *m)
{
	for (size_t i = 0; i < sizeof(m->by_code) / sizeof(m->by_code[0]); i++)
		atomic_init(&m->by_code[i], 0);
	for (size_t i = 0; i <= HTTP_METRICS_NBUCKETS; i++)
		atomic_init(&m->buckets[i], 0);
	atomic_init(&m->sum_us, 0);
	atomic_init(&m->in_flight, 0);
}

void
http_metrics_begin(struct http_metrics *m)
{
	atomic_fetch_add_explicit(&m->in_flight, 1, memory_order_relaxed);
}

void
http_metrics_end(struct http_metrics *m, int status, int64_t elapsed_us)
{
	size_t b = 0;

	if (elapsed_us < 0)
		elapsed_us = 0;
	if (status >= 100 && status < 600)
		atomic_fetch_add_explicit(&m->by_code[status], 1,
		                          memory_order_relaxed);
	while (b < HTTP_METRICS_NBUCKETS && elapsed_us > http_bucket_us[b])
		b++;
	atomic_fetch_add_explicit(&m->buckets[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->sum_us, (uint_fast64_t)elapsed_us,
	                          memory_order_relaxed);
	atomic_fetch_sub_explicit(&m->in_flight, 1, memory_order_relaxed);
}

/* A growing output buffer; on allocation failure it stays failed. */
struct http_text {
	char *buf;
	size_t len, cap;
	bool failed;
};

__attribute__((format(printf, 2, 3))) static void
http_text_add(struct http_text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->failed)
		return;
	for (;;) {
		size_t room = t->cap - t->len;
		va_start(ap, fmt);
		n = vsnprintf(t->buf ? t->buf + t->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = true;
			return;
		}
		if ((size_t)n < room) {
			t->len += (size_t)n;
			return;
		}
		size_t ncap = t->cap ? t->cap * 2 : 4096;
		while (ncap - t->len <= (size_t)n)
			ncap *= 2;
		char *nb = realloc(t->buf, ncap);
		if (nb == NULL) {
			t->failed = true;
			return;
		}
		t->buf = nb;
		t->cap = ncap;
	}
}

static void
http_render_requests(struct http_text *t, struct http_metrics *m)
{
	http_text_add(t, "# HELP nodetask_http_requests_total REST requests "
	                 "answered, by HTTP status.\n"
	                 "# TYPE nodetask_http_requests_total counter\n");
	for (int code = 100; code < 600; code++) {
		uint_fast64_t v = atomic_load_explicit(&m->by_code[code],
		                                       memory_order_relaxed);
		if (v != 0)
			http_text_add(
			        t,
			        "nodetask_http_requests_total{code=\"%d\"} "
			        "%llu\n",
			        code, (unsigned long long)v);
	}
	http_text_add(
	        t,
	        "# HELP nodetask_http_requests_in_flight REST requests "
	        "being handled.\n"
	        "# TYPE nodetask_http_requests_in_flight gauge\n"
	        "nodetask_http_requests_in_flight %d\n",
	        atomic_load_explicit(&m->in_flight, memory_order_relaxed));
}

static void
http_render_latency(struct http_text *t, struct http_metrics *m)
{
	const char *name = "nodetask_http_request_duration_seconds";
	unsigned long long cum = 0;

	http_text_add(t,
	              "# HELP %s Time from routing a REST request to its "
	              "response.\n# TYPE %s histogram\n",
	              name, name);
	for (size_t b = 0; b < HTTP_METRICS_NBUCKETS; b++) {
		cum += atomic_load_explicit(&m->buckets[b],
		                            memory_order_relaxed);
		http_text_add(t, "%s_bucket{le=\"%g\"} %llu\n", name,
		              (double)http_bucket_us[b] / 1e6, cum);
	}
	cum += atomic_load_explicit(&m->buckets[HTTP_METRICS_NBUCKETS],
	                            memory_order_relaxed);
	http_text_add(t, "%s_bucket{le=\"+Inf\"} %llu\n", name, cum);
	http_text_add(
	        t, "%s_sum %.6f\n", name,
	        (double)atomic_load_explicit(&m->sum_us, memory_order_relaxed) /
	                1e6);
	/* Buckets were read one by one; count must agree with +Inf. */
	http_text_add(t, "%s_count %llu\n", name, cum);
}

char *
http_metrics_render(struct http_metrics *m, int db_up, size_t *len)
{
	struct http_text t = {0};

	http_text_add(&t,
	              "# HELP nodetask_build_info The running controller.\n"
	              "# TYPE nodetask_build_info gauge\n"
	              "nodetask_build_info{version=\"%s\"} 1\n",
	              NODETASK_VERSION);
	http_text_add(&t,
	              "# HELP nodetask_db_up Whether the database answered "
	              "this scrape (1) or not (0).\n"
	              "# TYPE nodetask_db_up gauge\n"
	              "nodetask_db_up %d\n",
	              db_up ? 1 : 0);
	http_render_requests(&t, m);
	http_render_latency(&t, m);
	if (t.failed) {
		free(t.buf);
		return NULL;
	}
	*len = t.len;
	return t.buf;
}
