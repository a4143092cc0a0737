/*
 * agent_config.h: the agent's settings, from defaults, the config file and
 * the command line (in that order, later wins).
 *
 * The config file uses the long option names as keys (nt_config.h), so a
 * setting reads the same in both places and one validator covers both.
 */
#ifndef AGENT_CONFIG_H
#define AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "nt_log.h"

#define AGENT_ALLOW_MAX    32
#define AGENT_ALLOW_BUFLEN 256
#define AGENT_CEPH_BUFLEN  512

/* What SIGTERM does to runs that are executing. */
enum agent_on_shutdown {
	AGENT_SHUTDOWN_CANCEL = 0, /* stop them (SIGTERM, grace, SIGKILL) */
	AGENT_SHUTDOWN_FINISH,     /* let them end on their own */
};

struct agent_config {
	char controller[256]; /* nng URL of the controller's agent port */
	char state_dir[512];
	char hostname[256];
	char enroll_token[128]; /* empty: none */
	char allow[AGENT_ALLOW_MAX][AGENT_ALLOW_BUFLEN];
	size_t n_allow;
	int64_t grace_ms;  /* cancel: SIGTERM to SIGKILL */
	int64_t rescan_ms; /* inventory rescan interval */
	enum agent_on_shutdown on_shutdown;
	enum nt_log_level log_level;
	/* ceph.create-osd; handed to tasks (agent_config_task_json) */
	char ceph_conf[AGENT_CEPH_BUFLEN];
	char ceph_keyring[AGENT_CEPH_BUFLEN];
	char ceph_volume[AGENT_CEPH_BUFLEN];
	char ceph[AGENT_CEPH_BUFLEN];
	char osd_start[AGENT_CEPH_BUFLEN]; /* "{id}" is the OSD id */
	int64_t osd_up_ms;
	int64_t ceph_cmd_ms;
};

/* What agent_config_parse found besides settings. */
enum agent_config_action {
	AGENT_CONFIG_RUN = 0,
	AGENT_CONFIG_HELP,
	AGENT_CONFIG_VERSION,
};

void agent_config_defaults(struct agent_config *c);
/*
 * Applies one setting by its long option name ("controller", "grace",
 * ...). NT_EINVAL with a one-line reason in err for unknown keys or bad
 * values.
 */
int agent_config_set(struct agent_config *c, const char *key, const char *value,
                     char *err, size_t errlen);
/*
 * Fills c from defaults, --config FILE and argv (argv[0] is the program).
 * Checks that the required settings are present. NT_EINVAL with a one-line
 * reason in err on any bad option or value.
 */
int agent_config_parse(struct agent_config *c, int argc, char *const *argv,
                       enum agent_config_action *action, char *err,
                       size_t errlen);
/* The allowed-device globs as a NULL-terminated array pointing into c. */
void agent_config_allow_list(const struct agent_config *c,
                             const char *out[AGENT_ALLOW_MAX + 1]);
void agent_config_usage(FILE *f);
/*
 * The settings tasks read, as the JSON object text the runner puts into
 * each run's "config" (keys in tasks.h). Caller frees; NULL on ENOMEM.
 */
char *agent_config_task_json(const struct agent_config *c);

#endif
