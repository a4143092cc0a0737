/*
 * nt_log.c: leveled, timestamped log lines on standard error.
 *
 * Each line is formatted into a local buffer and written with one write(2),
 * so lines from concurrent threads never interleave and no lock is needed.
 */
#include "nt_log.h"
#include "nt_err.h"
#include "nt_time.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Longer lines are cut; the cut is marked so it is never silent. */
#define NT_LOG_LINEMAX 4096

static atomic_int nt_log_level = NT_LOG_INFO;

static const char *const nt_log_names[] = {
        [NT_LOG_DEBUG] = "debug",
        [NT_LOG_INFO] = "info",
        [NT_LOG_WARN] = "warn",
        [NT_LOG_ERROR] = "error",
};

void
nt_log_set_level(enum nt_log_level level)
{
	atomic_store(&nt_log_level, (int)level);
}

int
nt_log_level_parse(const char *s, enum nt_log_level *out)
{
	if (s == NULL) {
		return NT_EINVAL;
	}
	for (int i = NT_LOG_DEBUG; i <= NT_LOG_ERROR; i++) {
		if (strcmp(s, nt_log_names[i]) == 0) {
			*out = (enum nt_log_level)i;
			return NT_OK;
		}
	}
	return NT_EINVAL;
}

static void
nt_log_write(const char *buf, size_t len)
{
	ssize_t n;

	do {
		n = write(STDERR_FILENO, buf, len);
	} while (n < 0 && errno == EINTR);
	/* Nothing sensible to do if stderr is gone. */
}

void
nt_log(enum nt_log_level level, const char *fmt, ...)
{
	char line[NT_LOG_LINEMAX];
	char ts[NT_TIME_BUFLEN];
	va_list ap;
	size_t len;
	int n;
	int saved = errno; /* callers may log and then inspect errno */

	if ((int)level < atomic_load(&nt_log_level) || level > NT_LOG_ERROR) {
		return;
	}
	nt_time_format(nt_time_now_us(), ts);
	n = snprintf(line, sizeof(line), "%s %-5s ", ts, nt_log_names[level]);
	if (n < 0) {
		errno = saved;
		return;
	}
	len = (size_t)n;
	va_start(ap, fmt);
	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		n = 0;
		line[len] = '\0';
	}
	if (len + (size_t)n >= sizeof(line) - 1) {
		/* Truncated: end with a marker and leave room for '\n'. */
		len = sizeof(line) - 5;
		memcpy(line + len, "...", 3);
		len += 3;
	} else {
		len += (size_t)n;
	}
	while (len > 0 && line[len - 1] == '\n') {
		len--; /* the caller's own newline would give a blank line */
	}
	line[len++] = '\n';
	nt_log_write(line, len);
	errno = saved;
}
