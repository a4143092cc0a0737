/*
 * nt_time.c: clocks, RFC 3339 timestamps and human durations.
 *
 * Calendar arithmetic is done here (proleptic Gregorian, days from civil)
 * rather than with gmtime/timegm so that it never depends on TZ and works
 * for every int64 microsecond value.
 */
#include "nt_time.h"
#include "nt_err.h"

#include <stdbool.h>
#include <stdio.h>
#include <time.h>

#define NT_US_PER_S   INT64_C(1000000)
#define NT_S_PER_DAY  INT64_C(86400)
#define NT_MS_PER_DAY INT64_C(86400000)

int64_t
nt_time_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * NT_US_PER_S + ts.tv_nsec / 1000;
}

int64_t
nt_time_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Floor division and modulo: timestamps before 1970 must round down. */
static int64_t
nt_time_floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0))) {
		q--;
	}
	return q;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
nt_time_days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = nt_time_floordiv(y, 400);
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

static void
nt_time_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = nt_time_floordiv(z, 146097);
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

/* Writes v as exactly width decimal digits after sep; returns the end. */
static char *
nt_time_put(char *p, char sep, unsigned v, int width)
{
	*p++ = sep;
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

void
nt_time_format(int64_t us, char out[NT_TIME_BUFLEN])
{
	int64_t ms = nt_time_floordiv(us, 1000);
	int64_t days = nt_time_floordiv(ms, NT_MS_PER_DAY);
	unsigned rest = (unsigned)(ms - days * NT_MS_PER_DAY); /* < 1 day */
	int64_t y;
	int m, d, n;
	char *p;

	nt_time_civil_from_days(days, &y, &m, &d);
	/* int64 microseconds span years -290308 .. 294247: an int holds it. */
	n = snprintf(out, NT_TIME_BUFLEN, "%04d", (int)y);
	if (n < 0 || n > 11) {
		out[0] = '\0';
		return;
	}
	p = out + n;
	p = nt_time_put(p, '-', (unsigned)m, 2);
	p = nt_time_put(p, '-', (unsigned)d, 2);
	p = nt_time_put(p, 'T', rest / 3600000, 2);
	p = nt_time_put(p, ':', rest / 60000 % 60, 2);
	p = nt_time_put(p, ':', rest / 1000 % 60, 2);
	p = nt_time_put(p, '.', rest % 1000, 3);
	*p++ = 'Z';
	*p = '\0';
}

/* Reads exactly n decimal digits. */
static bool
nt_time_digits(const char **sp, int n, int *out)
{
	const char *s = *sp;
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9') {
			return false;
		}
		v = v * 10 + (s[i] - '0');
	}
	*sp = s + n;
	*out = v;
	return true;
}

static bool
nt_time_expect(const char **sp, char a, char b)
{
	if (**sp != a && **sp != b) {
		return false;
	}
	(*sp)++;
	return true;
}

static bool
nt_time_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
nt_time_mdays(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30,
	                           31, 31, 30, 31, 30, 31};

	return m == 2 && nt_time_leap(y) ? 29 : days[m - 1];
}

/* ".123456..." into microseconds; digits past the sixth are dropped. */
static bool
nt_time_fraction(const char **sp, int64_t *us)
{
	const char *s = *sp;
	int64_t v = 0;
	int n = 0;

	if (*s != '.') {
		*us = 0;
		return true;
	}
	s++;
	for (; *s >= '0' && *s <= '9'; s++, n++) {
		if (n < 6) {
			v = v * 10 + (*s - '0');
		}
	}
	if (n == 0) {
		return false;
	}
	for (; n < 6; n++) {
		v *= 10;
	}
	*sp = s;
	*us = v;
	return true;
}

/* "Z" or "+hh:mm" / "-hh:mm", as seconds east of UTC. */
static bool
nt_time_offset(const char **sp, int64_t *off)
{
	const char *s = *sp;
	int sign, hh, mm;

	if (*s == 'Z' || *s == 'z') {
		*sp = s + 1;
		*off = 0;
		return true;
	}
	if (*s != '+' && *s != '-') {
		return false;
	}
	sign = *s == '-' ? -1 : 1;
	s++;
	if (!nt_time_digits(&s, 2, &hh) || !nt_time_expect(&s, ':', ':') ||
	    !nt_time_digits(&s, 2, &mm) || hh > 23 || mm > 59) {
		return false;
	}
	*sp = s;
	*off = sign * (hh * 3600 + mm * 60);
	return true;
}

int
nt_time_parse(const char *s, int64_t *us)
{
	int y, mo, d, h, mi, sec;
	int64_t frac, off, days, secs;

	if (s == NULL || us == NULL) {
		return NT_EINVAL;
	}
	if (!nt_time_digits(&s, 4, &y) || !nt_time_expect(&s, '-', '-') ||
	    !nt_time_digits(&s, 2, &mo) || !nt_time_expect(&s, '-', '-') ||
	    !nt_time_digits(&s, 2, &d) || !nt_time_expect(&s, 'T', 't') ||
	    !nt_time_digits(&s, 2, &h) || !nt_time_expect(&s, ':', ':') ||
	    !nt_time_digits(&s, 2, &mi) || !nt_time_expect(&s, ':', ':') ||
	    !nt_time_digits(&s, 2, &sec) || !nt_time_fraction(&s, &frac) ||
	    !nt_time_offset(&s, &off) || *s != '\0') {
		return NT_EINVAL;
	}
	/* Second 60 is a leap second (RFC 3339); like POSIX, it rolls over. */
	if (mo < 1 || mo > 12 || d < 1 || d > nt_time_mdays(y, mo) || h > 23 ||
	    mi > 59 || sec > 60) {
		return NT_EINVAL;
	}
	days = nt_time_days_from_civil(y, mo, d);
	secs = days * NT_S_PER_DAY + h * 3600 + mi * 60 + sec - off;
	*us = secs * NT_US_PER_S + frac;
	return NT_OK;
}

static bool
nt_duration_unit(const char *u, int64_t *mult)
{
	static const struct {
		const char *name;
		int64_t ms;
	} units[] = {
	        {"", 1000},   {"ms", 1},      {"s", 1000},
	        {"m", 60000}, {"h", 3600000}, {"d", NT_MS_PER_DAY},
	};

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		const char *a = u, *b = units[i].name;
		while (*a != '\0' && *a == *b) {
			a++;
			b++;
		}
		if (*a == '\0' && *b == '\0') {
			*mult = units[i].ms;
			return true;
		}
	}
	return false;
}

int
nt_duration_parse(const char *s, int64_t *ms)
{
	int64_t v = 0, mult;

	if (s == NULL || ms == NULL || *s < '0' || *s > '9') {
		return NT_EINVAL; /* also rejects "", signs and spaces */
	}
	for (; *s >= '0' && *s <= '9'; s++) {
		int digit = *s - '0';
		if (v > (INT64_MAX - digit) / 10) {
			return NT_EINVAL;
		}
		v = v * 10 + digit;
	}
	if (!nt_duration_unit(s, &mult) || v == 0 || v > INT64_MAX / mult) {
		return NT_EINVAL;
	}
	*ms = v * mult;
	return NT_OK;
}
