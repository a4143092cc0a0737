/*
 * nt_log.h: logging to standard error with a level and a UTC timestamp.
 *
 * One line per call: "2026-04-07T14:30:05.123Z info  hub: agent online".
 * Thread-safe; a line is written with a single write(2) so lines from
 * several threads never interleave.
 */
#ifndef NT_LOG_H
#define NT_LOG_H

enum nt_log_level {
	NT_LOG_DEBUG = 0,
	NT_LOG_INFO,
	NT_LOG_WARN,
	NT_LOG_ERROR,
};

void nt_log_set_level(enum nt_log_level level);
/* Parses "debug", "info", "warn", "error". Returns NT_EINVAL otherwise. */
int nt_log_level_parse(const char *s, enum nt_log_level *out);
void nt_log(enum nt_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

#define nt_debug(...) nt_log(NT_LOG_DEBUG, __VA_ARGS__)
#define nt_info(...)  nt_log(NT_LOG_INFO, __VA_ARGS__)
#define nt_warn(...)  nt_log(NT_LOG_WARN, __VA_ARGS__)
#define nt_error(...) nt_log(NT_LOG_ERROR, __VA_ARGS__)

#endif
