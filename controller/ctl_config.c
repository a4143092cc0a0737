/*
 * ctl_config.c: the controller's settings and their validation.
 *
 * The same key names serve the config file and the command line, so a
 * setting reads the same in both places and one validator covers both.
 */
#include "ctl_config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nt_err.h"
#include "nt_time.h"

void
ctl_config_defaults(struct ctl_config *c)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->http_listen, sizeof(c->http_listen), "127.0.0.1:8080");
	snprintf(c->agents_url, sizeof(c->agents_url), "tcp://0.0.0.0:7400");
	c->http_threads = 16;
	/* One connection per HTTP worker plus the hub and the engine. */
	c->db_pool = 24;
	c->offline_after_ms = 30 * 1000;
	c->question_ttl_ms = 60 * 60 * 1000;
	c->poll_hold_ms = 10 * 1000;
	c->log_level = NT_LOG_INFO;
}

static int
ctl_config_copy(char *dst, size_t len, const char *key, const char *value,
                char *err, size_t errlen)
{
	if (value[0] == '\0' || strlen(value) >= len) {
		snprintf(err, errlen, "--%s: value is empty or too long", key);
		return NT_EINVAL;
	}
	memcpy(dst, value, strlen(value) + 1);
	return NT_OK;
}

static int
ctl_config_int(int *dst, int min, int max, const char *key, const char *value,
               char *err, size_t errlen)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || v < min || v > max) {
		snprintf(err, errlen,
		         "--%s: '%s' is not a number from %d to %d", key, value,
		         min, max);
		return NT_EINVAL;
	}
	*dst = (int)v;
	return NT_OK;
}

static int
ctl_config_duration(int64_t *dst, const char *key, const char *value, char *err,
                    size_t errlen)
{
	if (nt_duration_parse(value, dst) != NT_OK) {
		snprintf(err, errlen,
		         "--%s: '%s' is not a duration (like 500ms, 30s, 5m, "
		         "1h)",
		         key, value);
		return NT_EINVAL;
	}
	return NT_OK;
}

/* "ADDR:PORT" or "[V6]:PORT" with a port from 1 to 65535. */
static int
ctl_config_listen(char *dst, size_t len, const char *key, const char *value,
                  char *err, size_t errlen)
{
	const char *colon = strrchr(value, ':');
	char *end;
	long port;

	if (colon == NULL || colon == value) {
		snprintf(err, errlen, "--%s: '%s' is not ADDR:PORT", key,
		         value);
		return NT_EINVAL;
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno != 0 || end == colon + 1 || *end != '\0' || port < 1 ||
	    port > 65535) {
		snprintf(err, errlen, "--%s: '%s' has no valid port", key,
		         value);
		return NT_EINVAL;
	}
	return ctl_config_copy(dst, len, key, value, err, errlen);
}

static int
ctl_config_url(char *dst, size_t len, const char *key, const char *value,
               char *err, size_t errlen)
{
	static const char *const schemes[] = {"tcp://", "tls+tcp://", "ipc://",
	                                      NULL};

	for (int i = 0; schemes[i] != NULL; i++) {
		if (strncmp(value, schemes[i], strlen(schemes[i])) == 0)
			return ctl_config_copy(dst, len, key, value, err,
			                       errlen);
	}
	snprintf(err, errlen,
	         "--%s: '%s' is not an nng URL (tcp://ADDR:PORT, "
	         "tls+tcp://ADDR:PORT or ipc://PATH)",
	         key, value);
	return NT_EINVAL;
}

int
ctl_config_set(struct ctl_config *c, const char *key, const char *value,
               char *err, size_t errlen)
{
	if (strcmp(key, "db") == 0)
		return ctl_config_copy(c->db, sizeof(c->db), key, value, err,
		                       errlen);
	if (strcmp(key, "http") == 0)
		return ctl_config_listen(c->http_listen, sizeof(c->http_listen),
		                         key, value, err, errlen);
	if (strcmp(key, "agents") == 0)
		return ctl_config_url(c->agents_url, sizeof(c->agents_url), key,
		                      value, err, errlen);
	if (strcmp(key, "http-threads") == 0)
		return ctl_config_int(&c->http_threads, 1, 256, key, value, err,
		                      errlen);
	if (strcmp(key, "db-pool") == 0)
		return ctl_config_int(&c->db_pool, 1, 512, key, value, err,
		                      errlen);
	if (strcmp(key, "offline-after") == 0)
		return ctl_config_duration(&c->offline_after_ms, key, value,
		                           err, errlen);
	if (strcmp(key, "question-ttl") == 0)
		return ctl_config_duration(&c->question_ttl_ms, key, value, err,
		                           errlen);
	if (strcmp(key, "poll-hold") == 0)
		return ctl_config_duration(&c->poll_hold_ms, key, value, err,
		                           errlen);
	if (strcmp(key, "log-level") == 0) {
		if (nt_log_level_parse(value, &c->log_level) != NT_OK) {
			snprintf(
			        err, errlen,
			        "--log-level: '%s' is not debug, info, warn or "
			        "error",
			        value);
			return NT_EINVAL;
		}
		return NT_OK;
	}
	snprintf(err, errlen, "unknown setting '%s'", key);
	return NT_EINVAL;
}
