/*
 * nt_seed: writes nodes, disks and agent events straight into the store,
 * through the controller's own store code. The integration tests use it
 * where a real agent would report (until the agent link exists).
 *
 *   nt_seed [--db CONNINFO] node --id UUID --hostname H
 *           [--agent-version V] [--address A] [--offline]
 *   nt_seed [--db CONNINFO] disks --node UUID [PATH[=REASON,...]]...
 *   nt_seed [--db CONNINFO] event --node UUID --run UUID --seq N
 *           [--question-ttl MS] [--result JSON] KIND ARGS...
 *
 * KIND ARGS: started | log LEVEL MESSAGE | logs LEVEL COUNT PREFIX |
 * question QID PROMPT OPTION... | answer-received QID |
 * finished STATE [ERROR].
 *
 * NODETASK_DB is used when --db is absent. Exit 0 on success, 1 when the
 * store refused (the reason on stderr), 2 on bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "nt_err.h"
#include "nt_time.h"
#include "nt_uuid.h"
#include "store.h"

#define SEED_MAX_LOGS 100000

static const char *prog = "nt_seed";

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: %s [--db CONNINFO] COMMAND ...\n"
	        "  node --id UUID --hostname H [--agent-version V]"
	        " [--address A] [--offline]\n"
	        "  disks --node UUID [PATH[=REASON,...]]...\n"
	        "  event --node UUID --run UUID --seq N [--question-ttl MS]"
	        " [--result JSON] KIND ARGS...\n"
	        "    KIND: started | log LEVEL MESSAGE |"
	        " logs LEVEL COUNT PREFIX |\n"
	        "          question QID PROMPT OPTION... |"
	        " answer-received QID |\n"
	        "          finished STATE [ERROR]\n",
	        prog);
}

static int
bad_usage(const char *fmt, const char *arg)
{
	fprintf(stderr, "%s: ", prog);
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	return 2;
}

static int
store_failed(const char *what, int err)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, nt_strerror(err));
	return 1;
}

static bool
parse_i64(const char *s, int64_t *out)
{
	char *end;

	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0') {
		return false;
	}
	*out = v;
	return true;
}

static bool
copy_str(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	if (n >= len) {
		return false;
	}
	memcpy(dst, src, n + 1);
	return true;
}

/* ---- node ----------------------------------------------------------- */

static int
cmd_node(struct store *s, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"id", required_argument, NULL, 'i'},
	        {"hostname", required_argument, NULL, 'h'},
	        {"agent-version", required_argument, NULL, 'v'},
	        {"address", required_argument, NULL, 'a'},
	        {"offline", no_argument, NULL, 'o'},
	        {NULL, 0, NULL, 0},
	};
	struct store_node n;
	const char *id = NULL, *host = NULL;
	const char *version = "0.0.0-seed", *address = "127.0.0.1";
	bool offline = false;
	int c, rc;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'i':
			id = optarg;
			break;
		case 'h':
			host = optarg;
			break;
		case 'v':
			version = optarg;
			break;
		case 'a':
			address = optarg;
			break;
		case 'o':
			offline = true;
			break;
		default:
			return 2;
		}
	}
	if (id == NULL || host == NULL) {
		return bad_usage("node: %s",
		                 "--id and --hostname are required");
	}
	memset(&n, 0, sizeof(n));
	if (!nt_uuid_parse(id, n.id)) {
		return bad_usage("node: not a UUID: %s", id);
	}
	if (!copy_str(n.hostname, sizeof(n.hostname), host) ||
	    !copy_str(n.agent_version, sizeof(n.agent_version), version) ||
	    !copy_str(n.address, sizeof(n.address), address)) {
		return bad_usage("node: %s", "an argument is too long");
	}
	copy_str(n.state, sizeof(n.state), "offline");
	n.created_at_us = nt_time_now_us();
	if ((rc = store_node_insert(s, &n, NULL)) != NT_OK) {
		return store_failed("store_node_insert", rc);
	}
	if (!offline) {
		rc = store_node_online(s, n.id, host, version, address);
		if (rc != NT_OK) {
			return store_failed("store_node_online", rc);
		}
	}
	printf("%s\n", n.id);
	return 0;
}

/* ---- disks ---------------------------------------------------------- */

/* "PATH" (available) or "PATH=reason,reason" (not available). */
static int
disk_from_spec(const char *node_id, const char *spec, int index,
               struct store_disk *d)
{
	const char *eq = strchr(spec, '=');
	size_t plen = eq != NULL ? (size_t)(eq - spec) : strlen(spec);
	cJSON *reasons;
	char *text;

	memset(d, 0, sizeof(*d));
	copy_str(d->node_id, sizeof(d->node_id), node_id);
	if (plen == 0 || plen >= sizeof(d->device_path)) {
		return bad_usage("disks: bad disk spec: %s", spec);
	}
	memcpy(d->device_path, spec, plen);
	d->device_path[plen] = '\0';
	d->capacity_bytes = (int64_t)(100 + index) * 1000 * 1000 * 1000;
	copy_str(d->interface, sizeof(d->interface), "sata");
	snprintf(d->model, sizeof(d->model), "SEED DISK %d", index);
	copy_str(d->vendor, sizeof(d->vendor), "SEED");
	snprintf(d->serial, sizeof(d->serial), "SEED%04d", index);
	d->available = eq == NULL;
	d->has_filesystem = eq != NULL;

	if ((reasons = cJSON_CreateArray()) == NULL) {
		return store_failed("disks", NT_ENOMEM);
	}
	if (eq != NULL) {
		char *list = strdup(eq + 1), *save = NULL;
		if (list == NULL) {
			cJSON_Delete(reasons);
			return store_failed("disks", NT_ENOMEM);
		}
		for (char *r = strtok_r(list, ",", &save); r != NULL;
		     r = strtok_r(NULL, ",", &save)) {
			cJSON_AddItemToArray(reasons, cJSON_CreateString(r));
		}
		free(list);
	}
	text = cJSON_PrintUnformatted(reasons);
	cJSON_Delete(reasons);
	if (text == NULL) {
		return store_failed("disks", NT_ENOMEM);
	}
	d->reject_reasons = text;
	return 0;
}

static int
cmd_disks(struct store *s, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"node", required_argument, NULL, 'n'},
	        {NULL, 0, NULL, 0},
	};
	static char *defaults[] = {"/dev/sdb", "/dev/sdc=has a filesystem"};
	char node_id[NT_UUID_BUFLEN];
	const char *node = NULL;
	struct store_disk *disks, *list = NULL;
	char **specs;
	size_t nspecs, n = 0;
	int c, rc = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c != 'n') {
			return 2;
		}
		node = optarg;
	}
	if (node == NULL) {
		return bad_usage("disks: %s", "--node is required");
	}
	if (!nt_uuid_parse(node, node_id)) {
		return bad_usage("disks: not a UUID: %s", node);
	}
	specs = optind < argc ? argv + optind : defaults;
	nspecs = optind < argc ? (size_t)(argc - optind)
	                       : sizeof(defaults) / sizeof(defaults[0]);
	if ((disks = calloc(nspecs, sizeof(*disks))) == NULL) {
		return store_failed("disks", NT_ENOMEM);
	}
	for (size_t i = 0; i < nspecs && rc == 0; i++) {
		rc = disk_from_spec(node_id, specs[i], (int)i, &disks[i]);
	}
	if (rc == 0) {
		int err = store_disks_replace(s, node_id, disks, nspecs);
		if (err != NT_OK) {
			rc = store_failed("store_disks_replace", err);
		}
	}
	for (size_t i = 0; i < nspecs; i++) {
		cJSON_free(disks[i].reject_reasons);
	}
	free(disks);
	if (rc != 0) {
		return rc;
	}
	if ((rc = store_disk_list(s, node_id, &list, &n)) != NT_OK) {
		return store_failed("store_disk_list", rc);
	}
	for (size_t i = 0; i < n; i++) {
		printf("%s %s\n", list[i].id, list[i].device_path);
	}
	store_disk_free(list, n);
	return 0;
}

/* ---- event ---------------------------------------------------------- */

static const char *
outcome_name(enum store_event_outcome o)
{
	switch (o) {
	case STORE_EV_STORED:
		return "stored";
	case STORE_EV_DUPLICATE:
		return "duplicate";
	case STORE_EV_REJECTED:
		return "rejected";
	}
	return "unknown";
}

static int
apply_events(struct store *s, const char *node_id, struct store_event *ev,
             size_t n, int64_t ttl_ms)
{
	enum store_event_outcome *out;
	int rc, ret = 0;

	if ((out = calloc(n, sizeof(*out))) == NULL) {
		return store_failed("event", NT_ENOMEM);
	}
	rc = store_events_apply(s, node_id, ev, n, ttl_ms, out);
	if (rc != NT_OK) {
		free(out);
		return store_failed("store_events_apply", rc);
	}
	for (size_t i = 0; i < n; i++) {
		printf("%s\n", outcome_name(out[i]));
		if (out[i] == STORE_EV_REJECTED) {
			fprintf(stderr, "%s: event seq %lld rejected\n", prog,
			        (long long)ev[i].seq);
			ret = 1;
		}
	}
	free(out);
	return ret;
}

/* The options as a JSON array of strings; NULL on ENOMEM. */
static char *
options_json(char **opts, int n)
{
	cJSON *a = cJSON_CreateArray();
	char *text;

	if (a == NULL) {
		return NULL;
	}
	for (int i = 0; i < n; i++) {
		cJSON *str = cJSON_CreateString(opts[i]);
		if (str == NULL) {
			cJSON_Delete(a);
			return NULL;
		}
		cJSON_AddItemToArray(a, str);
	}
	text = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	return text;
}

static int
event_logs(struct store *s, const char *node_id, struct store_event *base,
           int64_t ttl_ms, const char *level, const char *count_s,
           const char *prefix)
{
	struct store_event *ev;
	char **msgs;
	int64_t count;
	int rc = 0;

	if (!parse_i64(count_s, &count) || count < 1 || count > SEED_MAX_LOGS) {
		return bad_usage("event logs: bad COUNT: %s", count_s);
	}
	ev = calloc((size_t)count, sizeof(*ev));
	msgs = calloc((size_t)count, sizeof(*msgs));
	if (ev == NULL || msgs == NULL) {
		free(ev);
		free(msgs);
		return store_failed("event", NT_ENOMEM);
	}
	for (int64_t i = 0; i < count && rc == 0; i++) {
		size_t len = strlen(prefix) + 24;
		if ((msgs[i] = malloc(len)) == NULL) {
			rc = store_failed("event", NT_ENOMEM);
			break;
		}
		snprintf(msgs[i], len, "%s %lld", prefix, (long long)(i + 1));
		ev[i] = *base;
		ev[i].seq = base->seq + i;
		ev[i].kind = STORE_EV_LOG;
		ev[i].level = level;
		ev[i].message = msgs[i];
	}
	if (rc == 0) {
		rc = apply_events(s, node_id, ev, (size_t)count, ttl_ms);
	}
	for (int64_t i = 0; i < count; i++) {
		free(msgs[i]);
	}
	free(msgs);
	free(ev);
	return rc;
}

static int
cmd_event(struct store *s, int argc, char **argv)
{
	static const struct option opts[] = {
	        {"node", required_argument, NULL, 'n'},
	        {"run", required_argument, NULL, 'r'},
	        {"seq", required_argument, NULL, 's'},
	        {"question-ttl", required_argument, NULL, 't'},
	        {"result", required_argument, NULL, 'j'},
	        {NULL, 0, NULL, 0},
	};
	char node_id[NT_UUID_BUFLEN], run_id[NT_UUID_BUFLEN];
	char qid[NT_UUID_BUFLEN];
	const char *node = NULL, *run = NULL, *seq_s = NULL, *kind;
	const char *result = NULL;
	int64_t ttl_ms = 3600 * 1000;
	struct store_event ev;
	char *opts_text = NULL;
	int c, rc, nargs;
	char **args;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			node = optarg;
			break;
		case 'r':
			run = optarg;
			break;
		case 's':
			seq_s = optarg;
			break;
		case 't':
			if (!parse_i64(optarg, &ttl_ms) || ttl_ms < 1) {
				return bad_usage(
				        "event: bad --question-ttl: %s",
				        optarg);
			}
			break;
		case 'j':
			result = optarg;
			break;
		default:
			return 2;
		}
	}
	if (node == NULL || run == NULL || seq_s == NULL || optind >= argc) {
		return bad_usage("event: %s",
		                 "--node, --run, --seq and KIND are required");
	}
	if (!nt_uuid_parse(node, node_id)) {
		return bad_usage("event: not a UUID: %s", node);
	}
	if (!nt_uuid_parse(run, run_id)) {
		return bad_usage("event: not a UUID: %s", run);
	}
	memset(&ev, 0, sizeof(ev));
	ev.run_id = run_id;
	ev.ts_us = nt_time_now_us();
	if (!parse_i64(seq_s, &ev.seq) || ev.seq < 1) {
		return bad_usage("event: bad --seq: %s", seq_s);
	}
	kind = argv[optind];
	args = argv + optind + 1;
	nargs = argc - optind - 1;

	if (strcmp(kind, "started") == 0 && nargs == 0) {
		ev.kind = STORE_EV_STARTED;
	} else if (strcmp(kind, "log") == 0 && nargs == 2) {
		ev.kind = STORE_EV_LOG;
		ev.level = args[0];
		ev.message = args[1];
	} else if (strcmp(kind, "logs") == 0 && nargs == 3) {
		return event_logs(s, node_id, &ev, ttl_ms, args[0], args[1],
		                  args[2]);
	} else if (strcmp(kind, "question") == 0 && nargs >= 2) {
		if (!nt_uuid_parse(args[0], qid)) {
			return bad_usage("event: not a UUID: %s", args[0]);
		}
		if ((opts_text = options_json(args + 2, nargs - 2)) == NULL) {
			return store_failed("event", NT_ENOMEM);
		}
		ev.kind = STORE_EV_QUESTION;
		ev.question_id = qid;
		ev.prompt = args[1];
		ev.options_json = opts_text;
	} else if (strcmp(kind, "answer-received") == 0 && nargs == 1) {
		if (!nt_uuid_parse(args[0], qid)) {
			return bad_usage("event: not a UUID: %s", args[0]);
		}
		ev.kind = STORE_EV_ANSWER_RECEIVED;
		ev.question_id = qid;
	} else if (strcmp(kind, "finished") == 0 &&
	           (nargs == 1 || nargs == 2)) {
		ev.kind = STORE_EV_FINISHED;
		ev.state = args[0];
		ev.error = nargs == 2 ? args[1] : NULL;
		ev.result_json = result;
	} else {
		usage(stderr);
		return bad_usage("event: bad KIND or arguments: %s", kind);
	}
	rc = apply_events(s, node_id, &ev, 1, ttl_ms);
	cJSON_free(opts_text);
	return rc;
}

/* ---- main ----------------------------------------------------------- */

int
main(int argc, char **argv)
{
	const char *db = getenv("NODETASK_DB");
	struct store *s = NULL;
	int argi = 1, rc;

	while (argi < argc && strncmp(argv[argi], "--", 2) == 0) {
		if (strcmp(argv[argi], "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (strcmp(argv[argi], "--db") == 0 && argi + 1 < argc) {
			db = argv[argi + 1];
			argi += 2;
			continue;
		}
		usage(stderr);
		return bad_usage("unknown option: %s", argv[argi]);
	}
	if (argi >= argc) {
		usage(stderr);
		return 2;
	}
	if (db == NULL || db[0] == '\0') {
		return bad_usage("%s", "no database: give --db or NODETASK_DB");
	}
	if ((rc = store_init(&s, db, 1)) != NT_OK) {
		return store_failed("store_init", rc);
	}

	const char *cmd = argv[argi];
	int sub_argc = argc - argi;
	char **sub_argv = argv + argi;
	if (strcmp(cmd, "node") == 0) {
		rc = cmd_node(s, sub_argc, sub_argv);
	} else if (strcmp(cmd, "disks") == 0) {
		rc = cmd_disks(s, sub_argc, sub_argv);
	} else if (strcmp(cmd, "event") == 0) {
		rc = cmd_event(s, sub_argc, sub_argv);
	} else {
		usage(stderr);
		rc = bad_usage("unknown command: %s", cmd);
	}
	store_fini(s);
	return rc;
}
