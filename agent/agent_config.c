/*
 * agent_config.c: the agent's settings, their validation and the command
 * line.
 *
 * The command line is read into (key, value) pairs first, so the config
 * file named by --config can be applied before them wherever --config
 * stands: defaults, then the file, then the command line.
 */
#include "agent_config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "nt_config.h"
#include "nt_err.h"
#include "nt_text.h"
#include "nt_time.h"
#include "tasks.h"

/* Durations past a day are surely typos for something shorter. */
#define AGENT_CONFIG_DURATION_MAX (24LL * 3600 * 1000)

struct agent_config_opt {
	const char *name;
	bool has_value;
	bool file_ok; /* may appear in the config file */
};

static const struct agent_config_opt agent_config_opts[] = {
        {"controller", true, true},
        {"state-dir", true, true},
        {"hostname", true, true},
        {"enroll-token", true, true},
        {"allow-devices", true, true},
        {"grace", true, true},
        {"on-shutdown", true, true},
        {"rescan", true, true},
        {"log-level", true, true},
        {"config", true, false},
        {"help", false, false},
        {"version", false, false},
        {"ceph-conf", true, true},
        {"ceph-bootstrap-keyring", true, true},
        {"ceph-volume", true, true},
        {"ceph", true, true},
        {"osd-start-command", true, true},
        {"osd-up-timeout", true, true},
        {"ceph-command-timeout", true, true},
};

static const char agent_config_usage_text[] =
        "usage: nodetask-agent --controller URL --state-dir DIR [OPTIONS]\n"
        "\n"
        "Runs storage tasks on this node for a nodetask controller: dials\n"
        "the controller, reports this node's disks, runs the tasks it\n"
        "dispatches and streams their logs, questions and results back.\n"
        "\n"
        "Options (also settable in the config file as 'name = value'):\n"
        "  --controller URL       the controller's agent endpoint, e.g.\n"
        "                         tcp://ctl.example:7400 (required)\n"
        "  --state-dir DIR        node id, node secret, event spool and run\n"
        "                         records; created mode 0700 (required)\n"
        "  --hostname NAME        name shown for this node (default: the\n"
        "                         system host name)\n"
        "  --enroll-token TOKEN   one-time token from 'nodetask-controller\n"
        "                         node token create'; needed only until the\n"
        "                         node secret is stored in DIR/node_secret\n"
        "  --allow-devices GLOB[,GLOB...]\n"
        "                         devices tasks may write to, as fnmatch\n"
        "                         globs (e.g. /dev/sd[b-z],/dev/nvme*n1);\n"
        "                         default: any device. The system disk and\n"
        "                         devices in use are always refused.\n"
        "  --grace DURATION       cancel: time between SIGTERM and SIGKILL\n"
        "                         to a run's process group (default 10s)\n"
        "  --on-shutdown cancel|finish\n"
        "                         on SIGTERM, cancel running tasks or let\n"
        "                         them finish (default cancel); a second\n"
        "                         SIGTERM always cancels\n"
        "  --rescan DURATION      disk inventory rescan interval (default\n"
        "                         30s); changes are reported at once\n"
        "  --log-level LEVEL      debug, info, warn or error (default info)\n"
        "\n"
        "Ceph (ceph.create-osd; files are checked when a run starts):\n"
        "  --ceph-conf FILE       cluster config (default: $CEPH_CONF, else\n"
        "                         " OSD_DEFAULT_CONF ")\n"
        "  --ceph-bootstrap-keyring FILE\n"
        "                         bootstrap-osd keyring for the ceph CLI\n"
        "                         (default " OSD_DEFAULT_KEYRING ";\n"
        "                         ceph-volume reads only that path)\n"
        "  --ceph-volume PATH     ceph-volume program (default: ceph-volume\n"
        "                         on PATH, else /usr/sbin/ceph-volume)\n"
        "  --ceph PATH            ceph CLI (default " OSD_DEFAULT_CEPH ")\n"
        "  --osd-start-command \"CMD\"\n"
        "                         starts an OSD where systemd is not PID 1\n"
        "                         (else: systemctl enable --now\n"
        "                         ceph-osd@ID); {id} is the OSD id; split\n"
        "                         on spaces, no shell; must return once\n"
        "                         the daemon runs (default \"ceph-osd -i\n"
        "                         {id} --setuser ceph --setgroup ceph\")\n"
        "  --osd-up-timeout DURATION\n"
        "                         how long a new OSD may take to be up and\n"
        "                         in (default 5m)\n"
        "  --ceph-command-timeout DURATION\n"
        "                         limit for each ceph-volume, ceph and start\n"
        "                         command (default 10m); waits for the\n"
        "                         monitor end at half of it, at most 60s\n"
        "\n"
        "  --config FILE          read settings from FILE first\n"
        "  --help                 show this text\n"
        "  --version              show the version\n"
        "\n"
        "Durations are a number with a unit: 500ms, 30s, 5m, 1h.\n"
        "SIGTERM or SIGINT: stop taking work, cancel or finish running\n"
        "tasks, send their remaining events (up to 10 s), exit 0.\n"
        "Exit codes: 0 success, 1 failure, 2 bad usage.\n";

/* CEPH_CONF counts when --ceph-conf is not given, as for ceph itself. */
static void
agent_config_ceph_defaults(struct agent_config *c)
{
	const char *env = getenv("CEPH_CONF");

	if (env != NULL && env[0] == '/' &&
	    strlen(env) < sizeof(c->ceph_conf)) {
		memcpy(c->ceph_conf, env, strlen(env) + 1);
	} else {
		memcpy(c->ceph_conf, OSD_DEFAULT_CONF,
		       sizeof(OSD_DEFAULT_CONF));
	}
	memcpy(c->ceph_keyring, OSD_DEFAULT_KEYRING,
	       sizeof(OSD_DEFAULT_KEYRING));
	memcpy(c->ceph_volume, OSD_DEFAULT_VOLUME, sizeof(OSD_DEFAULT_VOLUME));
	memcpy(c->ceph, OSD_DEFAULT_CEPH, sizeof(OSD_DEFAULT_CEPH));
	memcpy(c->osd_start, OSD_DEFAULT_START, sizeof(OSD_DEFAULT_START));
	c->osd_up_ms = OSD_DEFAULT_UP_TIMEOUT_MS;
	c->ceph_cmd_ms = OSD_DEFAULT_COMMAND_TIMEOUT_MS;
}

void
agent_config_defaults(struct agent_config *c)
{
	memset(c, 0, sizeof(*c));
	c->grace_ms = 10 * 1000;
	c->rescan_ms = 30 * 1000;
	c->on_shutdown = AGENT_SHUTDOWN_CANCEL;
	c->log_level = NT_LOG_INFO;
	if (gethostname(c->hostname, sizeof(c->hostname) - 1) != 0) {
		c->hostname[0] = '\0';
	}
	agent_config_ceph_defaults(c);
}

void
agent_config_usage(FILE *f)
{
	fputs(agent_config_usage_text, f);
}

static int
agent_config_copy(char *dst, size_t len, const char *key, const char *value,
                  char *err, size_t errlen)
{
	if (value[0] == '\0' || strlen(value) >= len) {
		nt_errf(err, errlen, "--%s: value is empty or too long", key);
		return NT_EINVAL;
	}
	memcpy(dst, value, strlen(value) + 1);
	return NT_OK;
}

static int
agent_config_url(char *dst, size_t len, const char *key, const char *value,
                 char *err, size_t errlen)
{
	static const char *const schemes[] = {
	        "tcp://", "tcp4://", "tcp6://", "tls+tcp://", "ipc://", NULL};

	for (int i = 0; schemes[i] != NULL; i++) {
		size_t n = strlen(schemes[i]);
		if (strncmp(value, schemes[i], n) == 0 && value[n] != '\0') {
			return agent_config_copy(dst, len, key, value, err,
			                         errlen);
		}
	}
	nt_errf(err, errlen,
	        "--%s: '%s' is not an nng URL (tcp://HOST:PORT, "
	        "tls+tcp://HOST:PORT or ipc://PATH)",
	        key, value);
	return NT_EINVAL;
}

static int
agent_config_duration(int64_t *dst, const char *key, const char *value,
                      char *err, size_t errlen)
{
	int64_t ms;

	if (nt_duration_parse(value, &ms) != NT_OK ||
	    ms > AGENT_CONFIG_DURATION_MAX) {
		nt_errf(err, errlen,
		        "--%s: '%s' is not a duration from 1ms to 24h "
		        "(like 500ms, 30s, 5m)",
		        key, value);
		return NT_EINVAL;
	}
	*dst = ms;
	return NT_OK;
}

/* Host names: printable, no spaces; what the API shows as nodeHostname. */
static int
agent_config_hostname(struct agent_config *c, const char *key,
                      const char *value, char *err, size_t errlen)
{
	if (!nt_text_is_token(value, sizeof(c->hostname) - 1)) {
		nt_errf(err, errlen,
		        "--%s: '%s' is not a host name (1 to %zu "
		        "printable characters, no spaces)",
		        key, value, sizeof(c->hostname) - 1);
		return NT_EINVAL;
	}
	memcpy(c->hostname, value, strlen(value) + 1);
	return NT_OK;
}

static int
agent_config_token(struct agent_config *c, const char *key, const char *value,
                   char *err, size_t errlen)
{
	if (!nt_text_is_token(value, sizeof(c->enroll_token) - 1)) {
		nt_errf(err, errlen,
		        "--%s: not a token (printable, no spaces, at "
		        "most %zu characters)",
		        key, sizeof(c->enroll_token) - 1);
		return NT_EINVAL;
	}
	memcpy(c->enroll_token, value, strlen(value) + 1);
	return NT_OK;
}

/* "GLOB[,GLOB...]": each an absolute path pattern; replaces the list. */
static int
agent_config_allow(struct agent_config *c, const char *key, const char *value,
                   char *err, size_t errlen)
{
	size_t n = 0;
	const char *p = value;

	while (*p != '\0') {
		const char *end = strchr(p, ',');
		size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
		const char *next = p + len;

		/* "a, b" reads naturally in a config file: trim spaces. */
		while (len > 0 && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t')) {
			len--;
		}
		if (len > 0) {
			if (p[0] != '/' || len >= AGENT_ALLOW_BUFLEN) {
				nt_errf(err, errlen,
				        "--%s: '%.*s' is not an absolute "
				        "device path pattern",
				        key, (int)len, p);
				return NT_EINVAL;
			}
			if (n == AGENT_ALLOW_MAX) {
				nt_errf(err, errlen,
				        "--%s: more than %d patterns", key,
				        AGENT_ALLOW_MAX);
				return NT_EINVAL;
			}
			memcpy(c->allow[n], p, len);
			c->allow[n][len] = '\0';
			n++;
		}
		p = *next == ',' ? next + 1 : next;
	}
	c->n_allow = n;
	return NT_OK;
}

/* A duration that is a real limit: 0 would end every command at once. */
static int
agent_config_positive(int64_t *dst, const char *key, const char *value,
                      char *err, size_t errlen)
{
	int64_t ms;
	int rv = agent_config_duration(&ms, key, value, err, errlen);

	if (rv == NT_OK && ms < 1000) {
		nt_errf(err, errlen, "--%s: '%s' is under 1s", key, value);
		return NT_EINVAL;
	}
	if (rv == NT_OK) {
		*dst = ms;
	}
	return rv;
}

/* A file by absolute path (it is checked when a run needs it). */
static int
agent_config_file(char *dst, size_t len, const char *key, const char *value,
                  char *err, size_t errlen)
{
	if (value[0] != '/' || !nt_text_is_token(value, len - 1)) {
		nt_errf(err, errlen,
		        "--%s: '%s' is not an absolute path (no "
		        "spaces, at most %zu characters)",
		        key, value, len - 1);
		return NT_EINVAL;
	}
	memcpy(dst, value, strlen(value) + 1);
	return NT_OK;
}

/* A program: an absolute path, or a name looked up on PATH. */
static int
agent_config_program(char *dst, size_t len, const char *key, const char *value,
                     char *err, size_t errlen)
{
	if (!nt_text_is_token(value, len - 1) ||
	    (strchr(value, '/') != NULL && value[0] != '/')) {
		nt_errf(err, errlen,
		        "--%s: '%s' is not a program name or an "
		        "absolute path (no spaces)",
		        key, value);
		return NT_EINVAL;
	}
	memcpy(dst, value, strlen(value) + 1);
	return NT_OK;
}

/* Words split on spaces, no shell; "{id}" must be there. */
static int
agent_config_start(struct agent_config *c, const char *key, const char *value,
                   char *err, size_t errlen)
{
	const unsigned char *p;
	size_t len = strlen(value);

	for (p = (const unsigned char *)value; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f) {
			nt_errf(err, errlen,
			        "--%s: control characters are not "
			        "allowed",
			        key);
			return NT_EINVAL;
		}
	}
	if (len == 0 || len >= sizeof(c->osd_start) || value[0] == ' ' ||
	    strstr(value, "{id}") == NULL) {
		nt_errf(err, errlen,
		        "--%s: '%s' must be a command (at most %zu "
		        "characters) that names the OSD as {id}, "
		        "e.g. 'ceph-osd -i {id} --setuser ceph "
		        "--setgroup ceph'",
		        key, value, sizeof(c->osd_start) - 1);
		return NT_EINVAL;
	}
	memcpy(c->osd_start, value, len + 1);
	return NT_OK;
}

/* The Ceph settings; NT_ENOTFOUND for a key that is not one. */
static int
agent_config_set_ceph(struct agent_config *c, const char *key,
                      const char *value, char *err, size_t errlen)
{
	if (strcmp(key, "ceph-conf") == 0) {
		return agent_config_file(c->ceph_conf, sizeof(c->ceph_conf),
		                         key, value, err, errlen);
	}
	if (strcmp(key, "ceph-bootstrap-keyring") == 0) {
		return agent_config_file(c->ceph_keyring,
		                         sizeof(c->ceph_keyring), key, value,
		                         err, errlen);
	}
	if (strcmp(key, "ceph-volume") == 0) {
		return agent_config_program(c->ceph_volume,
		                            sizeof(c->ceph_volume), key, value,
		                            err, errlen);
	}
	if (strcmp(key, "ceph") == 0) {
		return agent_config_program(c->ceph, sizeof(c->ceph), key,
		                            value, err, errlen);
	}
	if (strcmp(key, "osd-start-command") == 0) {
		return agent_config_start(c, key, value, err, errlen);
	}
	if (strcmp(key, "osd-up-timeout") == 0) {
		return agent_config_positive(&c->osd_up_ms, key, value, err,
		                             errlen);
	}
	if (strcmp(key, "ceph-command-timeout") == 0) {
		return agent_config_positive(&c->ceph_cmd_ms, key, value, err,
		                             errlen);
	}
	return NT_ENOTFOUND;
}

static int
agent_config_shutdown(struct agent_config *c, const char *key,
                      const char *value, char *err, size_t errlen)
{
	if (strcmp(value, "cancel") == 0) {
		c->on_shutdown = AGENT_SHUTDOWN_CANCEL;
	} else if (strcmp(value, "finish") == 0) {
		c->on_shutdown = AGENT_SHUTDOWN_FINISH;
	} else {
		nt_errf(err, errlen, "--%s: '%s' is not cancel or finish", key,
		        value);
		return NT_EINVAL;
	}
	return NT_OK;
}

int
agent_config_set(struct agent_config *c, const char *key, const char *value,
                 char *err, size_t errlen)
{
	int rv;

	if (strcmp(key, "controller") == 0) {
		return agent_config_url(c->controller, sizeof(c->controller),
		                        key, value, err, errlen);
	}
	if (strcmp(key, "state-dir") == 0) {
		return agent_config_copy(c->state_dir, sizeof(c->state_dir),
		                         key, value, err, errlen);
	}
	if (strcmp(key, "hostname") == 0) {
		return agent_config_hostname(c, key, value, err, errlen);
	}
	if (strcmp(key, "enroll-token") == 0) {
		return agent_config_token(c, key, value, err, errlen);
	}
	if (strcmp(key, "allow-devices") == 0) {
		return agent_config_allow(c, key, value, err, errlen);
	}
	if (strcmp(key, "grace") == 0) {
		return agent_config_duration(&c->grace_ms, key, value, err,
		                             errlen);
	}
	if (strcmp(key, "rescan") == 0) {
		return agent_config_duration(&c->rescan_ms, key, value, err,
		                             errlen);
	}
	if (strcmp(key, "on-shutdown") == 0) {
		return agent_config_shutdown(c, key, value, err, errlen);
	}
	if (strcmp(key, "log-level") == 0) {
		if (nt_log_level_parse(value, &c->log_level) != NT_OK) {
			nt_errf(err, errlen,
			        "--log-level: '%s' is not debug, info, "
			        "warn or error",
			        value);
			return NT_EINVAL;
		}
		return NT_OK;
	}
	if ((rv = agent_config_set_ceph(c, key, value, err, errlen)) !=
	    NT_ENOTFOUND) {
		return rv;
	}
	nt_errf(err, errlen, "unknown setting '%s'", key);
	return NT_EINVAL;
}

static const struct agent_config_opt *
agent_config_find(const char *name, size_t len)
{
	size_t n = sizeof(agent_config_opts) / sizeof(agent_config_opts[0]);

	for (size_t i = 0; i < n; i++) {
		if (strlen(agent_config_opts[i].name) == len &&
		    strncmp(agent_config_opts[i].name, name, len) == 0) {
			return &agent_config_opts[i];
		}
	}
	return NULL;
}

struct agent_config_file {
	struct agent_config *cfg;
	const char *path;
	char *err;
	size_t errlen;
};

static int
agent_config_file_cb(const char *key, const char *value, int line, void *arg)
{
	struct agent_config_file *f = arg;
	const struct agent_config_opt *o = agent_config_find(key, strlen(key));
	char why[256];

	if (o == NULL || !o->file_ok) {
		nt_errf(f->err, f->errlen, "%s:%d: unknown setting '%s'",
		        f->path, line, key);
		return NT_EINVAL;
	}
	if (agent_config_set(f->cfg, key, value, why, sizeof(why)) != NT_OK) {
		nt_errf(f->err, f->errlen, "%s:%d: %s", f->path, line, why);
		return NT_EINVAL;
	}
	return NT_OK;
}

/* One option from the command line, before it is applied. */
struct agent_config_arg {
	const struct agent_config_opt *opt;
	const char *value;
};

/*
 * Splits argv into options. "--name value" and "--name=value" both work;
 * "-h" is --help. Anything else is an error.
 */
static int
agent_config_scan(int argc, char *const *argv, struct agent_config_arg *args,
                  size_t *n_args, char *err, size_t errlen)
{
	size_t n = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *name, *eq;
		const struct agent_config_opt *o;

		if (strcmp(a, "-h") == 0) {
			a = "--help";
		}
		if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
			nt_errf(err, errlen, "unexpected argument '%s'", a);
			return NT_EINVAL;
		}
		name = a + 2;
		eq = strchr(name, '=');
		o = agent_config_find(name, eq != NULL ? (size_t)(eq - name)
		                                       : strlen(name));
		if (o == NULL) {
			nt_errf(err, errlen, "unknown option '%s'", a);
			return NT_EINVAL;
		}
		args[n].opt = o;
		args[n].value = NULL;
		if (o->has_value) {
			if (eq != NULL) {
				args[n].value = eq + 1;
			} else if (i + 1 < argc) {
				args[n].value = argv[++i];
			} else {
				nt_errf(err, errlen,
				        "option '--%s' needs a value", o->name);
				return NT_EINVAL;
			}
		} else if (eq != NULL) {
			nt_errf(err, errlen, "option '--%s' takes no value",
			        o->name);
			return NT_EINVAL;
		}
		n++;
	}
	*n_args = n;
	return NT_OK;
}

static int
agent_config_check(const struct agent_config *c, char *err, size_t errlen)
{
	if (c->controller[0] == '\0') {
		nt_errf(err, errlen, "--controller is required");
		return NT_EINVAL;
	}
	if (c->state_dir[0] == '\0') {
		nt_errf(err, errlen, "--state-dir is required");
		return NT_EINVAL;
	}
	if (c->hostname[0] == '\0') {
		nt_errf(err, errlen, "no host name known: set --hostname");
		return NT_EINVAL;
	}
	return NT_OK;
}

/* Defaults are set; applies --config FILE, then the other options. */
static int
agent_config_apply(struct agent_config *c, const struct agent_config_arg *args,
                   size_t n_args, enum agent_config_action *action, char *err,
                   size_t errlen)
{
	const char *config = NULL;
	int rv;

	for (size_t i = 0; i < n_args; i++) {
		const char *name = args[i].opt->name;
		if (strcmp(name, "help") == 0) {
			*action = AGENT_CONFIG_HELP;
			return NT_OK;
		}
		if (strcmp(name, "version") == 0) {
			*action = AGENT_CONFIG_VERSION;
			return NT_OK;
		}
		if (strcmp(name, "config") == 0) {
			config = args[i].value;
		}
	}
	if (config != NULL) {
		struct agent_config_file f = {c, config, err, errlen};
		if ((rv = nt_config_load(config, agent_config_file_cb, &f, err,
		                         errlen)) != NT_OK) {
			return rv;
		}
	}
	for (size_t i = 0; i < n_args; i++) {
		if (!args[i].opt->has_value ||
		    strcmp(args[i].opt->name, "config") == 0) {
			continue;
		}
		if ((rv = agent_config_set(c, args[i].opt->name, args[i].value,
		                           err, errlen)) != NT_OK) {
			return rv;
		}
	}
	return agent_config_check(c, err, errlen);
}

int
agent_config_parse(struct agent_config *c, int argc, char *const *argv,
                   enum agent_config_action *action, char *err, size_t errlen)
{
	struct agent_config_arg *args;
	size_t n_args = 0;
	int rv;

	agent_config_defaults(c);
	*action = AGENT_CONFIG_RUN;
	if ((args = calloc(argc > 0 ? (size_t)argc : 1, sizeof(*args))) ==
	    NULL) {
		nt_errf(err, errlen, "out of memory");
		return NT_ENOMEM;
	}
	rv = agent_config_scan(argc, argv, args, &n_args, err, errlen);
	if (rv == NT_OK) {
		rv = agent_config_apply(c, args, n_args, action, err, errlen);
	}
	free(args);
	return rv;
}

void
agent_config_allow_list(const struct agent_config *c,
                        const char *out[AGENT_ALLOW_MAX + 1])
{
	for (size_t i = 0; i < c->n_allow; i++) {
		out[i] = c->allow[i];
	}
	out[c->n_allow] = NULL;
}

char *
agent_config_task_json(const struct agent_config *c)
{
	cJSON *j = cJSON_CreateObject();
	char *text = NULL;

	if (j != NULL &&
	    cJSON_AddStringToObject(j, "stateDir", c->state_dir) != NULL &&
	    cJSON_AddStringToObject(j, "cephConf", c->ceph_conf) != NULL &&
	    cJSON_AddStringToObject(j, "cephBootstrapKeyring",
	                            c->ceph_keyring) != NULL &&
	    cJSON_AddStringToObject(j, "cephVolume", c->ceph_volume) != NULL &&
	    cJSON_AddStringToObject(j, "ceph", c->ceph) != NULL &&
	    cJSON_AddStringToObject(j, "osdStartCommand", c->osd_start) !=
	            NULL &&
	    cJSON_AddNumberToObject(j, "osdUpTimeoutMs",
	                            (double)c->osd_up_ms) != NULL &&
	    cJSON_AddNumberToObject(j, "cephCommandTimeoutMs",
	                            (double)c->ceph_cmd_ms) != NULL) {
		text = cJSON_PrintUnformatted(j);
	}
	cJSON_Delete(j);
	return text;
}
