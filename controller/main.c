/*
 * main.c: nodetask-controller's command line.
 *
 * Without a subcommand it runs the server: migrations, the agent hub, the
 * REST API, and the engine's timed work, until SIGTERM or SIGINT. The
 * subcommands (migrate, key, node token) share the server's settings so an
 * operator points them at the same database the same way.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl_config.h"
#include "engine.h"
#include "http.h"
#include "hub.h"
#include "nt_config.h"
#include "nt_err.h"
#include "nt_hash.h"
#include "nt_log.h"
#include "nt_time.h"
#include "store.h"

#define MAIN_EXIT_FAIL  1
#define MAIN_EXIT_USAGE 2

/* How long the server waits for the database at start before giving up. */
#define MAIN_DB_WAIT_MS (30 * 1000)

static const char main_usage[] =
        "usage: nodetask-controller [OPTIONS]                run the "
        "server\n"
        "       nodetask-controller [OPTIONS] migrate        apply database "
        "migrations\n"
        "       nodetask-controller [OPTIONS] key create --name NAME --scope "
        "read|admin\n"
        "       nodetask-controller [OPTIONS] key list\n"
        "       nodetask-controller [OPTIONS] key revoke NAME\n"
        "       nodetask-controller [OPTIONS] node token create [--ttl "
        "DURATION]\n"
        "\n"
        "Options (also settable in the config file as 'name = value'):\n"
        "  --config FILE          read settings from FILE first\n"
        "  --db CONNINFO          PostgreSQL connection string or URI\n"
        "                         (default: $NODETASK_DB)\n"
        "  --http ADDR:PORT       REST API address (default "
        "127.0.0.1:8080)\n"
        "  --agents URL           nng URL agents dial (default "
        "tcp://0.0.0.0:7400)\n"
        "  --http-threads N       REST worker threads (default 16)\n"
        "  --db-pool N            PostgreSQL connections (default 24)\n"
        "  --offline-after DUR    silence after which a node is offline "
        "(default 30s)\n"
        "  --question-ttl DUR     unanswered questions expire after DUR "
        "(default 1h)\n"
        "  --poll-hold DUR        longest an agent's poll is held "
        "(default 10s)\n"
        "  --log-level LEVEL      debug, info, warn or error (default "
        "info)\n"
        "  --help                 show this text\n"
        "  --version              show the version\n"
        "\n"
        "Subcommand options:\n"
        "  --name NAME            key create: the key's name (unique)\n"
        "  --scope read|admin     key create: read = GET only, admin = "
        "everything\n"
        "  --ttl DURATION         node token create: validity (default "
        "1h)\n"
        "\n"
        "key create and node token create print the secret alone on "
        "standard\n"
        "output; it is shown once and only its hash is stored. Logs go to "
        "standard\n"
        "error. Exit codes: 0 success, 1 failure, 2 bad usage.\n";

struct main_args {
	struct ctl_config cfg;
	const char *words[4]; /* subcommand words */
	int n_words;
	const char *key_name;
	const char *key_scope;
	const char *token_ttl;
};

static volatile sig_atomic_t main_stop;

static void
main_usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "nodetask-controller: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see --help)\n");
	exit(MAIN_EXIT_USAGE);
}

struct main_config_file {
	struct ctl_config *cfg;
	const char *path;
};

static int
main_config_cb(const char *key, const char *value, int line, void *arg)
{
	struct main_config_file *f = arg;
	char err[256];

	if (ctl_config_set(f->cfg, key, value, err, sizeof(err)) != NT_OK) {
		fprintf(stderr, "nodetask-controller: %s:%d: %s\n", f->path,
		        line, err);
		return NT_EINVAL;
	}
	return NT_OK;
}

static void
main_apply(struct ctl_config *cfg, const char *key, const char *value)
{
	char err[256];

	if (ctl_config_set(cfg, key, value, err, sizeof(err)) != NT_OK) {
		fprintf(stderr, "nodetask-controller: %s\n", err);
		exit(MAIN_EXIT_USAGE);
	}
}

/*
 * Settings apply in order: defaults, config file, NODETASK_DB, command
 * line. So the command line is parsed twice: once to find --config.
 */
static void
main_parse(int argc, char **argv, struct main_args *a)
{
	static const struct option opts[] = {
	        {"config", required_argument, NULL, 'c'},
	        {"db", required_argument, NULL, 'd'},
	        {"http", required_argument, NULL, 'H'},
	        {"agents", required_argument, NULL, 'a'},
	        {"http-threads", required_argument, NULL, 1},
	        {"db-pool", required_argument, NULL, 2},
	        {"offline-after", required_argument, NULL, 3},
	        {"question-ttl", required_argument, NULL, 4},
	        {"poll-hold", required_argument, NULL, 5},
	        {"log-level", required_argument, NULL, 6},
	        {"name", required_argument, NULL, 7},
	        {"scope", required_argument, NULL, 8},
	        {"ttl", required_argument, NULL, 9},
	        {"help", no_argument, NULL, 'h'},
	        {"version", no_argument, NULL, 'V'},
	        {NULL, 0, NULL, 0},
	};
	struct main_config_file file;
	const char *config = NULL;
	const char *env;
	char err[512] = "";
	int c, idx;

	memset(a, 0, sizeof(*a));
	ctl_config_defaults(&a->cfg);

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":", opts, &idx)) != -1) {
		if (c == 'c')
			config = optarg;
		else if (c == 'h') {
			fputs(main_usage, stdout);
			exit(0);
		} else if (c == 'V') {
			printf("nodetask-controller %s\n", NODETASK_VERSION);
			exit(0);
		} else if (c == '?')
			main_usage_error("unknown option '%s'",
			                 argv[optind - 1]);
		else if (c == ':')
			main_usage_error("option '%s' needs a value",
			                 argv[optind - 1]);
	}
	file.cfg = &a->cfg;
	file.path = config;
	err[0] = '\0';
	if (config != NULL && nt_config_load(config, main_config_cb, &file, err,
	                                     sizeof(err)) != NT_OK) {
		/* A callback failure has already been reported. */
		if (err[0] != '\0')
			fprintf(stderr, "nodetask-controller: %s\n", err);
		exit(MAIN_EXIT_USAGE);
	}
	env = getenv("NODETASK_DB");
	if (env != NULL && env[0] != '\0')
		main_apply(&a->cfg, "db", env);

	optind = 1;
	while ((c = getopt_long(argc, argv, ":", opts, &idx)) != -1) {
		switch (c) {
		case 'c':
			break;
		case 7:
			a->key_name = optarg;
			break;
		case 8:
			a->key_scope = optarg;
			break;
		case 9:
			a->token_ttl = optarg;
			break;
		default:
			main_apply(&a->cfg, opts[idx].name, optarg);
			break;
		}
	}
	for (int i = optind; i < argc; i++) {
		if (a->n_words == 4)
			main_usage_error("too many arguments at '%s'", argv[i]);
		a->words[a->n_words++] = argv[i];
	}
	if (a->cfg.poll_hold_ms >= a->cfg.offline_after_ms)
		main_usage_error("%s", "--poll-hold must be shorter than "
		                       "--offline-after");
}

static bool
main_is(const struct main_args *a, const char *w0, const char *w1,
        const char *w2)
{
	const char *w[3] = {w0, w1, w2};
	int n = w2 != NULL ? 3 : (w1 != NULL ? 2 : 1);

	if (a->n_words < n)
		return false;
	for (int i = 0; i < n; i++)
		if (strcmp(a->words[i], w[i]) != 0)
			return false;
	return true;
}

static struct store *
main_store_open(const struct main_args *a, int pool)
{
	struct store *s;

	if (a->cfg.db[0] == '\0') {
		fprintf(stderr, "nodetask-controller: no database: give --db "
		                "CONNINFO, 'db' in --config, or NODETASK_DB\n");
		exit(MAIN_EXIT_USAGE);
	}
	if (store_init(&s, a->cfg.db, pool) != NT_OK) {
		nt_error("store: cannot set up the connection pool");
		exit(MAIN_EXIT_FAIL);
	}
	return s;
}

static int
main_migrate(struct store *s)
{
	int applied = 0, version = 0;
	int rv;

	rv = store_migrate(s, &applied);
	if (rv != NT_OK) {
		nt_error("migrate: %s", nt_strerror(rv));
		return rv;
	}
	if (store_schema_version(s, &version) == NT_OK)
		nt_info("migrate: %d migration(s) applied; schema version %d",
		        applied, version);
	return NT_OK;
}

static void
main_audit(struct store *s, const char *action, const char *type,
           const char *id, int rv)
{
	struct store_audit a = {
	        .actor = "cli",
	        .action = action,
	        .object_type = type,
	        .object_id = id,
	        .status = rv == NT_OK ? 0 : 1,
	        .detail = rv == NT_OK ? "ok" : nt_strerror(rv),
	};

	(void)store_audit_add(s, &a);
}

static int
main_key_create(struct store *s, const struct main_args *a)
{
	enum store_scope scope;
	char key[NT_SECRET_BUFLEN];
	char hash[NT_SHA256_BUFLEN];
	int rv;

	if (a->key_name == NULL || a->key_scope == NULL)
		main_usage_error("%s", "key create needs --name and --scope");
	if (strcmp(a->key_scope, "read") == 0)
		scope = STORE_SCOPE_READ;
	else if (strcmp(a->key_scope, "admin") == 0)
		scope = STORE_SCOPE_ADMIN;
	else
		main_usage_error("--scope: '%s' is not read or admin",
		                 a->key_scope);
	if (a->key_name[0] == '\0' || strlen(a->key_name) >= STORE_NAME_BUFLEN)
		main_usage_error("%s", "--name: empty or too long");
	if ((rv = nt_secret_new("ntk", key)) != NT_OK)
		return rv;
	nt_sha256_hex(key, strlen(key), hash);
	rv = store_key_create(s, a->key_name, scope, hash);
	main_audit(s, "key create", "key", a->key_name, rv);
	if (rv == NT_EEXIST) {
		nt_error("key create: an active key named '%s' exists",
		         a->key_name);
		return rv;
	}
	if (rv != NT_OK) {
		nt_error("key create '%s': %s", a->key_name, nt_strerror(rv));
		return rv;
	}
	printf("%s\n", key);
	fflush(stdout);
	nt_info("key create: key '%s' (%s) created; it is not shown again",
	        a->key_name, a->key_scope);
	return NT_OK;
}

static int
main_key_list(struct store *s)
{
	struct store_key *keys;
	size_t n;
	int rv;

	if ((rv = store_key_list(s, &keys, &n)) != NT_OK) {
		nt_error("key list: %s", nt_strerror(rv));
		return rv;
	}
	printf("%-32s %-6s %-25s %s\n", "NAME", "SCOPE", "CREATED", "REVOKED");
	for (size_t i = 0; i < n; i++) {
		char created[NT_TIME_BUFLEN], revoked[NT_TIME_BUFLEN] = "-";

		nt_time_format(keys[i].created_at_us, created);
		if (keys[i].revoked_at_us != 0)
			nt_time_format(keys[i].revoked_at_us, revoked);
		printf("%-32s %-6s %-25s %s\n", keys[i].name,
		       keys[i].scope == STORE_SCOPE_ADMIN ? "admin" : "read",
		       created, revoked);
	}
	store_key_free(keys, n);
	return NT_OK;
}

static int
main_key_revoke(struct store *s, const struct main_args *a)
{
	int rv;

	if (a->n_words != 3)
		main_usage_error("%s", "usage: key revoke NAME");
	rv = store_key_revoke(s, a->words[2]);
	main_audit(s, "key revoke", "key", a->words[2], rv);
	if (rv == NT_ENOTFOUND) {
		nt_error("key revoke: no active key named '%s'", a->words[2]);
		return rv;
	}
	if (rv != NT_OK) {
		nt_error("key revoke '%s': %s", a->words[2], nt_strerror(rv));
		return rv;
	}
	nt_info("key revoke: key '%s' revoked", a->words[2]);
	return NT_OK;
}

static int
main_token_create(struct store *s, const struct main_args *a)
{
	char token[NT_SECRET_BUFLEN];
	char hash[NT_SHA256_BUFLEN];
	int64_t ttl_ms = 60 * 60 * 1000;
	int rv;

	if (a->token_ttl != NULL && nt_duration_parse(a->token_ttl, &ttl_ms))
		main_usage_error("--ttl: '%s' is not a duration (like 30m, 1h)",
		                 a->token_ttl);
	if ((rv = nt_secret_new("nte", token)) != NT_OK)
		return rv;
	nt_sha256_hex(token, strlen(token), hash);
	rv = store_token_create(s, hash, nt_time_now_us() + ttl_ms * 1000);
	main_audit(s, "node token create", "token", NULL, rv);
	if (rv != NT_OK) {
		nt_error("node token create: %s", nt_strerror(rv));
		return rv;
	}
	printf("%s\n", token);
	fflush(stdout);
	nt_info("node token create: one-time enrollment token valid for %s",
	        a->token_ttl != NULL ? a->token_ttl : "1h");
	return NT_OK;
}

static void
main_on_signal(int sig)
{
	(void)sig;
	main_stop = 1;
}

/* Waits for the database so the controller can start before PostgreSQL. */
static int
main_server_migrate(struct store *s)
{
	int64_t deadline = nt_time_mono_ms() + MAIN_DB_WAIT_MS;
	int rv;

	while ((rv = main_migrate(s)) == NT_EUNAVAIL && !main_stop &&
	       nt_time_mono_ms() < deadline) {
		nt_warn("server: database unavailable; retrying");
		sleep(1);
	}
	return rv;
}

static int
main_server(const struct main_args *a)
{
	struct sigaction sa;
	struct store *s;
	struct hub *hub = NULL;
	struct http_server *http = NULL;
	int rv;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = main_on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	s = main_store_open(a, a->cfg.db_pool);
	if ((rv = main_server_migrate(s)) != NT_OK) {
		nt_error("server: cannot prepare the database; exiting");
		store_fini(s);
		return MAIN_EXIT_FAIL;
	}
	if ((rv = hub_start(&hub, &a->cfg, s)) != NT_OK) {
		nt_error("server: agent link on %s: %s", a->cfg.agents_url,
		         nt_strerror(rv));
		store_fini(s);
		return MAIN_EXIT_FAIL;
	}
	if ((rv = http_server_start(&http, &a->cfg, s, hub)) != NT_OK) {
		nt_error("server: REST API on %s: %s", a->cfg.http_listen,
		         nt_strerror(rv));
		hub_stop(hub);
		store_fini(s);
		return MAIN_EXIT_FAIL;
	}
	nt_info("server: nodetask-controller %s: REST API on http://%s, "
	        "agents on %s",
	        NODETASK_VERSION, a->cfg.http_listen, a->cfg.agents_url);

	while (!main_stop) {
		struct timespec ts = {.tv_sec = 1, .tv_nsec = 0};

		/* Interrupted by the signal, so shutdown is prompt. */
		nanosleep(&ts, NULL);
		if (!main_stop)
			engine_tick(s, hub);
	}

	nt_info("server: shutting down");
	http_server_stop(http);
	hub_stop(hub);
	store_fini(s);
	nt_info("server: stopped");
	return 0;
}

static int
main_subcommand(const struct main_args *a)
{
	struct store *s;
	int rv;

	s = main_store_open(a, 1);
	if (main_is(a, "migrate", NULL, NULL) && a->n_words == 1)
		rv = main_migrate(s);
	else if (main_is(a, "key", "create", NULL) && a->n_words == 2)
		rv = main_key_create(s, a);
	else if (main_is(a, "key", "list", NULL) && a->n_words == 2)
		rv = main_key_list(s);
	else if (main_is(a, "key", "revoke", NULL))
		rv = main_key_revoke(s, a);
	else if (main_is(a, "node", "token", "create") && a->n_words == 3)
		rv = main_token_create(s, a);
	else {
		store_fini(s);
		main_usage_error("unknown command '%s'", a->words[0]);
		return MAIN_EXIT_USAGE;
	}
	store_fini(s);
	return rv == NT_OK ? 0 : MAIN_EXIT_FAIL;
}

static void
main_check_words(const struct main_args *a)
{
	bool key_cmd = main_is(a, "key", "create", NULL);
	bool token_cmd = main_is(a, "node", "token", "create");

	if ((a->key_name != NULL || a->key_scope != NULL) && !key_cmd)
		main_usage_error("%s", "--name and --scope go with key create");
	if (a->token_ttl != NULL && !token_cmd)
		main_usage_error("%s", "--ttl goes with node token create");
}

int
main(int argc, char **argv)
{
	struct main_args a;
	int rv;

	main_parse(argc, argv, &a);
	main_check_words(&a);
	nt_log_set_level(a.cfg.log_level);
	if (a.n_words == 0)
		rv = main_server(&a);
	else
		rv = main_subcommand(&a);
	return rv;
}
