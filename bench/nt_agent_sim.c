/*
 * nt_agent_sim.c: many simulated nodes in one process, for the benchmarks.
 *
 * Every simulated node is a struct link from agent/link.c, the code the
 * real agent runs, so it speaks exactly the real protocol: Hello with its
 * node secret, an Inventory after every Hello, one long poll always
 * outstanding (the heartbeat), and pushed RunEvents sent in batches with
 * one request in flight until acknowledged. Nodes must exist with their
 * secrets (the benchmark drivers pre-seed them in the store).
 *
 *   nt_agent_sim --url URL --nodes FILE [options]
 *
 *   --nodes FILE     lines "NODE_ID SECRET HOSTNAME"
 *   --count N        use the first N nodes (default: all)
 *   --ramp N         start at most N links per 100 ms (default 1000)
 *   --disks K        disks in each node's inventory (default 4)
 *   --lines L        ingest: log lines per dispatched run (default 0:
 *                    a dispatched run just starts and completes)
 *   --line-bytes B   ingest: bytes per log line (default 100)
 *   --wait-runs R    ingest: hold dispatched runs until R have arrived,
 *                    then stream all of them at once (default 0: stream
 *                    each run as it arrives)
 *   --window W       ingest: most unacknowledged events per node
 *                    (default 2000)
 *   --log-level L    the link's log level (default warn)
 *
 * Standard output, one line each, times in CLOCK_MONOTONIC microseconds:
 *   online K N T     every 100 ms while K (links with an accepted Hello)
 *                    changes, and once when all N are online
 *   streaming R T    ingest: R held runs start streaming now
 *   acked E T        ingest: all E pushed events acknowledged
 *   stats ...        on the command "stats": round trips since the last
 *                    "stats" (poll lateness = poll round trip minus the
 *                    controller's hold; hello; events), then reset
 * Commands on standard input: "stats", "quit". End of input quits too.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "link.h"
#include "link.pb-c.h"
#include "nt_log.h"

#define SIM_REPORT_US   100000
#define SIM_MAX_RUNS    16 /* runs a node may hold at once */
#define SIM_RTT_MAX_US  (60LL * 1000000)
#define SIM_RTT_BUCKETS 4096 /* log-scaled histogram */
#define SIM_VERSION     "bench-sim"

/* A latency histogram: buckets of ~1.2% width from 1 us to a minute. */
struct sim_hist {
	pthread_mutex_t mtx;
	uint64_t n;
	int64_t max;
	uint64_t b[SIM_RTT_BUCKETS];
};

struct sim_run {
	char id[40];
	uint64_t next_seq; /* next event seq to push; 0: not started */
	uint64_t lines;    /* log lines pushed */
	bool done;         /* Finished pushed */
};

struct sim_node {
	struct link link;
	struct sim *sim;
	char id[40];
	char secret[80];
	char host[64];
	bool started;
	uint32_t hold_ms; /* the controller's poll hold, from HelloReply */

	pthread_mutex_t mtx; /* the runs */
	struct sim_run runs[SIM_MAX_RUNS];
	int n_runs;
	int cur;       /* run being streamed */
	bool released; /* may stream (see --wait-runs) */
	uint64_t pushed, acked;
};

struct sim {
	const char *url;
	struct sim_node *nodes;
	size_t n;
	int ramp;
	int disks;
	uint64_t lines;
	size_t line_bytes;
	int wait_runs;
	size_t window;

	pthread_mutex_t mtx; /* below */
	int dispatched;
	bool released;
	uint64_t pushed, acked;
	uint64_t expected; /* events all dispatched runs will push */
	int runs_total;

	struct sim_hist poll_late, hello, events;
	uint64_t poll_early; /* polls answered before the hold (work) */
};

static int64_t
sim_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- histograms -----------------------------------------------------------
 */

static int
sim_bucket(int64_t us)
{
	int b;

	if (us < 1)
		us = 1;
	/* 80 buckets per factor of e: log(us) * 80. */
	b = (int)(log1p((double)us - 1.0 + 1e-9) * 80.0);
	return b >= SIM_RTT_BUCKETS ? SIM_RTT_BUCKETS - 1 : b;
}

static double
sim_bucket_us(int b)
{
	return exp((double)(b + 1) / 80.0);
}

static void
sim_hist_add(struct sim_hist *h, int64_t us)
{
	pthread_mutex_lock(&h->mtx);
	h->n++;
	h->b[sim_bucket(us)]++;
	if (us > h->max)
		h->max = us;
	pthread_mutex_unlock(&h->mtx);
}

/* The p-th percentile's bucket bound in ms; 0 when empty. */
static double
sim_hist_pct(const struct sim_hist *h, double p)
{
	uint64_t want = (uint64_t)((double)h->n * p / 100.0), seen = 0;

	if (h->n == 0)
		return 0;
	for (int i = 0; i < SIM_RTT_BUCKETS; i++) {
		seen += h->b[i];
		if (seen > want)
			return sim_bucket_us(i) / 1000.0;
	}
	return (double)h->max / 1000.0;
}

static void
sim_hist_print(struct sim_hist *h, const char *name)
{
	pthread_mutex_lock(&h->mtx);
	printf(" %s_n %" PRIu64 " %s_p50 %.3f %s_p99 %.3f %s_max %.3f", name,
	       h->n, name, sim_hist_pct(h, 50), name, sim_hist_pct(h, 99), name,
	       (double)h->max / 1000.0);
	h->n = 0;
	h->max = 0;
	memset(h->b, 0, sizeof(h->b));
	pthread_mutex_unlock(&h->mtx);
}

/* ---- events ---------------------------------------------------------------
 */

static int
sim_push(struct sim_node *sn, struct sim_run *run, Nodetask__Link__RunEvent *ev)
{
	uint8_t buf[4096];
	size_t len;

	ev->run_id = run->id;
	ev->seq = run->next_seq++;
	ev->ts_us = (int64_t)time(NULL) * 1000000;
	len = nodetask__link__run_event__get_packed_size(ev);
	if (len > sizeof(buf))
		return -1;
	nodetask__link__run_event__pack(ev, buf);
	sn->pushed++;
	return link_push_event(&sn->link, buf, len);
}

static void
sim_push_log(struct sim_node *sn, struct sim_run *run)
{
	Nodetask__Link__RunEvent ev = NODETASK__LINK__RUN_EVENT__INIT;
	Nodetask__Link__LogLine log = NODETASK__LINK__LOG_LINE__INIT;
	char msg[2048];
	size_t n, want = sn->sim->line_bytes;

	run->lines++;
	n = (size_t)snprintf(msg, sizeof(msg), "%s line %" PRIu64 " ", run->id,
	                     run->lines);
	if (want >= sizeof(msg))
		want = sizeof(msg) - 1;
	for (; n < want; n++)
		msg[n] = (char)('a' + n % 26);
	msg[n] = '\0';
	log.level = NODETASK__LINK__LOG_LINE__LEVEL__INFO;
	log.message = msg;
	ev.kind_case = NODETASK__LINK__RUN_EVENT__KIND_LOG;
	ev.log = &log;
	sim_push(sn, run, &ev);
}

static void
sim_push_started(struct sim_node *sn, struct sim_run *run)
{
	Nodetask__Link__RunEvent ev = NODETASK__LINK__RUN_EVENT__INIT;
	Nodetask__Link__Started st = NODETASK__LINK__STARTED__INIT;

	run->next_seq = 1;
	ev.kind_case = NODETASK__LINK__RUN_EVENT__KIND_STARTED;
	ev.started = &st;
	sim_push(sn, run, &ev);
}

static void
sim_push_finished(struct sim_node *sn, struct sim_run *run)
{
	Nodetask__Link__RunEvent ev = NODETASK__LINK__RUN_EVENT__INIT;
	Nodetask__Link__Finished fin = NODETASK__LINK__FINISHED__INIT;

	fin.state = NODETASK__LINK__FINISHED__STATE__COMPLETED;
	fin.result_json = "{\"simulated\":true}";
	ev.kind_case = NODETASK__LINK__RUN_EVENT__KIND_FINISHED;
	ev.finished = &fin;
	sim_push(sn, run, &ev);
	run->done = true;
}

/*
 * Pushes the node's runs, in order, until the window is full. Called with
 * sn->mtx held, from the owner callbacks and the main thread.
 */
static void
sim_fill(struct sim_node *sn)
{
	struct sim *s = sn->sim;

	if (!sn->released)
		return;
	while (sn->cur < sn->n_runs &&
	       sn->pushed - sn->acked < (uint64_t)s->window) {
		struct sim_run *run = &sn->runs[sn->cur];

		if (run->next_seq == 0)
			sim_push_started(sn, run);
		else if (run->lines < s->lines)
			sim_push_log(sn, run);
		else {
			sim_push_finished(sn, run);
			sn->cur++;
		}
	}
}

/* ---- link callbacks -------------------------------------------------------
 */

static void
sim_on_hello(void *arg, const Nodetask__Link__HelloReply *reply)
{
	struct sim_node *sn = arg;

	sn->hold_ms = reply->poll_hold_ms;
}

static void
sim_on_dispatch(struct sim_node *sn, const Nodetask__Link__Dispatch *d)
{
	struct sim *s = sn->sim;
	bool release_all = false;

	pthread_mutex_lock(&sn->mtx);
	for (int i = 0; i < sn->n_runs; i++) {
		if (strcmp(sn->runs[i].id, d->run_id) == 0) {
			pthread_mutex_unlock(&sn->mtx);
			return; /* a resent dispatch */
		}
	}
	if (sn->n_runs == SIM_MAX_RUNS) {
		pthread_mutex_unlock(&sn->mtx);
		fprintf(stderr, "nt_agent_sim: node %s: too many runs\n",
		        sn->id);
		return;
	}
	snprintf(sn->runs[sn->n_runs].id, sizeof(sn->runs[0].id), "%s",
	         d->run_id);
	sn->n_runs++;
	pthread_mutex_lock(&s->mtx);
	s->dispatched++;
	s->expected += s->lines + 2;
	if (s->wait_runs > 0 && !s->released && s->dispatched >= s->wait_runs) {
		s->released = true;
		release_all = true;
	}
	if (s->wait_runs == 0 || s->released)
		sn->released = true;
	pthread_mutex_unlock(&s->mtx);
	sim_fill(sn);
	pthread_mutex_unlock(&sn->mtx);
	if (release_all) {
		/* Every other node's held runs start now, from here. */
		printf("streaming %d %" PRId64 "\n", s->wait_runs,
		       sim_now_us());
		fflush(stdout);
		for (size_t i = 0; i < s->n; i++) {
			struct sim_node *o = &s->nodes[i];

			pthread_mutex_lock(&o->mtx);
			o->released = true;
			sim_fill(o);
			pthread_mutex_unlock(&o->mtx);
		}
	}
}

static void
sim_on_work(void *arg, const Nodetask__Link__Work *w)
{
	struct sim_node *sn = arg;

	if (w->kind_case == NODETASK__LINK__WORK__KIND_DISPATCH)
		sim_on_dispatch(sn, w->dispatch);
	/* Stops and answers: a simulated run has nothing to stop. */
}

static void
sim_on_acked(void *arg, size_t n)
{
	struct sim_node *sn = arg;
	struct sim *s = sn->sim;
	bool all;
	uint64_t acked;

	pthread_mutex_lock(&sn->mtx);
	sn->acked += n;
	sim_fill(sn);
	pthread_mutex_unlock(&sn->mtx);
	pthread_mutex_lock(&s->mtx);
	s->acked += n;
	acked = s->acked;
	all = s->acked == s->expected && s->dispatched > 0;
	pthread_mutex_unlock(&s->mtx);
	if (all) {
		printf("acked %" PRIu64 " %" PRId64 "\n", acked, sim_now_us());
		fflush(stdout);
	}
}

static void
sim_on_rtt(void *arg, enum link_req req, int64_t us)
{
	struct sim_node *sn = arg;
	struct sim *s = sn->sim;
	int64_t hold = (int64_t)sn->hold_ms * 1000;

	switch (req) {
	case LINK_REQ_POLL:
		/* Only a poll held to its end is a heartbeat. */
		if (us + 50000 < hold) {
			pthread_mutex_lock(&s->poll_late.mtx);
			s->poll_early++;
			pthread_mutex_unlock(&s->poll_late.mtx);
		} else
			sim_hist_add(&s->poll_late, us > hold ? us - hold : 0);
		break;
	case LINK_REQ_HELLO:
		sim_hist_add(&s->hello, us);
		break;
	case LINK_REQ_EVENTS:
		sim_hist_add(&s->events, us);
		break;
	default:
		break;
	}
}

static const struct link_ops sim_ops = {
        .hello = sim_on_hello,
        .work = sim_on_work,
        .acked = sim_on_acked,
};

/* ---- setup ----------------------------------------------------------------
 */

/* A packed Inventory of k made-up disks. */
static uint8_t *
sim_inventory(int k, const char *host, size_t *len)
{
	Nodetask__Link__Inventory inv = NODETASK__LINK__INVENTORY__INIT;
	Nodetask__Link__Disk d[64], *dp[64];
	char path[64][32], serial[64][96];
	uint8_t *buf;

	if (k > 64)
		k = 64;
	for (int i = 0; i < k; i++) {
		nodetask__link__disk__init(&d[i]);
		snprintf(path[i], sizeof(path[i]), "/dev/sd%c", 'a' + i % 26);
		snprintf(serial[i], sizeof(serial[i]), "SIM-%s-%d", host, i);
		d[i].device_path = path[i];
		d[i].capacity_bytes = 4000787030016ULL;
		d[i].interface = "sata";
		d[i].model = "SIMDISK 4TB";
		d[i].vendor = "BENCH";
		d[i].serial = serial[i];
		d[i].available = true;
		dp[i] = &d[i];
	}
	inv.n_disks = (size_t)k;
	inv.disks = dp;
	*len = nodetask__link__inventory__get_packed_size(&inv);
	if ((buf = malloc(*len + 1)) != NULL)
		nodetask__link__inventory__pack(&inv, buf);
	return buf;
}

static int
sim_node_init(struct sim *s, struct sim_node *sn)
{
	struct link_config cfg = {
	        .url = s->url,
	        .node_id = sn->id,
	        .hostname = sn->host,
	        .agent_version = SIM_VERSION,
	        .node_secret = sn->secret,
	};
	uint8_t *inv;
	size_t len;

	sn->sim = s;
	pthread_mutex_init(&sn->mtx, NULL);
	if (link_init(&sn->link, &cfg, &sim_ops, sn) != 0)
		return -1;
	link_set_rtt(&sn->link, sim_on_rtt);
	if (s->disks > 0) {
		if ((inv = sim_inventory(s->disks, sn->host, &len)) == NULL ||
		    link_set_inventory(&sn->link, inv, len) != 0) {
			free(inv);
			return -1;
		}
		free(inv);
	}
	return 0;
}

static size_t
sim_read_nodes(const char *path, struct sim_node **out, size_t limit)
{
	FILE *f = fopen(path, "r");
	struct sim_node *v = NULL;
	size_t n = 0, cap = 0;
	char line[256];

	if (f == NULL) {
		perror(path);
		exit(1);
	}
	while (n < limit && fgets(line, sizeof(line), f) != NULL) {
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			if ((v = realloc(v, cap * sizeof(*v))) == NULL) {
				fprintf(stderr,
				        "nt_agent_sim: out of memory\n");
				exit(1);
			}
		}
		memset(&v[n], 0, sizeof(v[n]));
		if (sscanf(line, "%39s %79s %63s", v[n].id, v[n].secret,
		           v[n].host) == 3)
			n++;
	}
	fclose(f);
	*out = v;
	return n;
}

/* ---- main loop ------------------------------------------------------------
 */

static size_t
sim_online(struct sim *s)
{
	size_t k = 0;

	for (size_t i = 0; i < s->n; i++)
		if (s->nodes[i].started && link_online(&s->nodes[i].link))
			k++;
	return k;
}

static void
sim_stats(struct sim *s)
{
	uint64_t early;

	pthread_mutex_lock(&s->poll_late.mtx);
	early = s->poll_early;
	s->poll_early = 0;
	pthread_mutex_unlock(&s->poll_late.mtx);
	printf("stats online %zu polls_early %" PRIu64, sim_online(s), early);
	sim_hist_print(&s->poll_late, "late");
	sim_hist_print(&s->hello, "hello");
	sim_hist_print(&s->events, "events");
	printf("\n");
	fflush(stdout);
}

/* Reads one command; false on "quit" or end of input. */
static bool
sim_command(struct sim *s)
{
	char buf[256];
	ssize_t r = read(0, buf, sizeof(buf) - 1);

	if (r <= 0)
		return false;
	buf[r] = '\0';
	if (strstr(buf, "quit") != NULL)
		return false;
	if (strstr(buf, "stats") != NULL)
		sim_stats(s);
	return true;
}

static void
sim_loop(struct sim *s)
{
	size_t next = 0, last_online = (size_t)-1;
	int64_t last_tick = 0, last_report = 0;

	for (;;) {
		struct pollfd pfd = {.fd = 0, .events = POLLIN};
		int64_t now = sim_now_us();

		/* Start the next slice of links. */
		for (int i = 0; i < s->ramp && next < s->n; i++, next++) {
			if (link_start(&s->nodes[next].link) == 0)
				s->nodes[next].started = true;
		}
		if (now - last_tick >= 1000000) {
			for (size_t i = 0; i < next; i++)
				link_tick(&s->nodes[i].link, now / 1000);
			last_tick = now;
		}
		if (now - last_report >= SIM_REPORT_US) {
			size_t k = sim_online(s);

			if (k != last_online) {
				printf("online %zu %zu %" PRId64 "\n", k, s->n,
				       sim_now_us());
				fflush(stdout);
				last_online = k;
			}
			last_report = now;
		}
		if (poll(&pfd, 1, SIM_REPORT_US / 1000) > 0 && !sim_command(s))
			return;
	}
}

static void
sim_usage(void)
{
	fprintf(stderr,
	        "usage: nt_agent_sim --url URL --nodes FILE [--count N] "
	        "[--ramp N] [--disks K]\n"
	        "       [--lines L] [--line-bytes B] [--wait-runs R] "
	        "[--window W] [--log-level L]\n");
	exit(2);
}

static void
sim_args(struct sim *s, int argc, char **argv, const char **nodes,
         size_t *count)
{
	enum nt_log_level lvl = NT_LOG_WARN;

	for (int i = 1; i < argc; i += 2) {
		const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (v == NULL)
			sim_usage();
		if (strcmp(k, "--url") == 0)
			s->url = v;
		else if (strcmp(k, "--nodes") == 0)
			*nodes = v;
		else if (strcmp(k, "--count") == 0)
			*count = strtoul(v, NULL, 10);
		else if (strcmp(k, "--ramp") == 0)
			s->ramp = atoi(v);
		else if (strcmp(k, "--disks") == 0)
			s->disks = atoi(v);
		else if (strcmp(k, "--lines") == 0)
			s->lines = strtoull(v, NULL, 10);
		else if (strcmp(k, "--line-bytes") == 0)
			s->line_bytes = strtoul(v, NULL, 10);
		else if (strcmp(k, "--wait-runs") == 0)
			s->wait_runs = atoi(v);
		else if (strcmp(k, "--window") == 0)
			s->window = strtoul(v, NULL, 10);
		else if (strcmp(k, "--log-level") == 0) {
			if (nt_log_level_parse(v, &lvl) != 0)
				sim_usage();
		} else
			sim_usage();
	}
	if (s->url == NULL || *nodes == NULL || s->ramp < 1 || s->window < 1)
		sim_usage();
	nt_log_set_level(lvl);
}

int
main(int argc, char **argv)
{
	struct sim s = {
	        .ramp = 1000, .disks = 4, .line_bytes = 100, .window = 2000};
	const char *nodes = NULL;
	size_t count = (size_t)-1;

	sim_args(&s, argc, argv, &nodes, &count);
	pthread_mutex_init(&s.mtx, NULL);
	pthread_mutex_init(&s.poll_late.mtx, NULL);
	pthread_mutex_init(&s.hello.mtx, NULL);
	pthread_mutex_init(&s.events.mtx, NULL);
	s.n = sim_read_nodes(nodes, &s.nodes, count);
	if (s.n == 0) {
		fprintf(stderr, "nt_agent_sim: no nodes in %s\n", nodes);
		return 1;
	}
	for (size_t i = 0; i < s.n; i++) {
		if (sim_node_init(&s, &s.nodes[i]) != 0) {
			fprintf(stderr,
			        "nt_agent_sim: link %zu: cannot set up\n", i);
			return 1;
		}
	}
	sim_loop(&s);
	for (size_t i = 0; i < s.n; i++)
		link_fini(&s.nodes[i].link);
	free(s.nodes);
	return 0;
}
