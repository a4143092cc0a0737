/*
 * nt_time.h: wall-clock and monotonic time, RFC 3339 formatting.
 *
 * Timestamps travel as microseconds since the Unix epoch (int64_t); 0 means
 * "has not happened" and formats as JSON null at the API.
 */
#ifndef NT_TIME_H
#define NT_TIME_H

#include <stddef.h>
#include <stdint.h>

#define NT_TIME_BUFLEN 32

int64_t nt_time_now_us(void);  /* CLOCK_REALTIME */
int64_t nt_time_mono_ms(void); /* CLOCK_MONOTONIC */
/* "2026-04-07T14:30:05.123Z": always UTC, always milliseconds. */
void nt_time_format(int64_t us, char out[NT_TIME_BUFLEN]);
/* Parses the RFC 3339 forms nt_time_format writes (and offsets). */
int nt_time_parse(const char *s, int64_t *us);
/*
 * Parses a duration: a number with a unit, "500ms", "30s", "10m", "1h",
 * "2d"; a bare number means seconds. Result in milliseconds, > 0.
 */
int nt_duration_parse(const char *s, int64_t *ms);

#endif
