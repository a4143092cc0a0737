/*
 * ctl_config.h: the controller's settings, from defaults, the config file,
 * NODETASK_DB and the command line (in that order, later wins).
 */
#ifndef CTL_CONFIG_H
#define CTL_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "nt_log.h"

struct ctl_config {
	char db[1024];         /* libpq conninfo */
	char http_listen[128]; /* "127.0.0.1:8080" */
	char agents_url[256];  /* "tcp://0.0.0.0:7400" */
	int http_threads;      /* civetweb worker threads */
	int db_pool;           /* PostgreSQL connections */
	int64_t offline_after_ms;
	int64_t question_ttl_ms;
	int64_t poll_hold_ms; /* longest an agent's poll is held */
	enum nt_log_level log_level;
};

void ctl_config_defaults(struct ctl_config *c);
/*
 * Applies one setting by its long option name ("db", "http", ...).
 * NT_EINVAL with a one-line reason in err for unknown keys or bad values.
 */
int ctl_config_set(struct ctl_config *c, const char *key, const char *value,
                   char *err, size_t errlen);

#endif
