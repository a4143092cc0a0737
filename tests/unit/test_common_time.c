/*
 * test_common_time.c: clocks, RFC 3339 formatting/parsing, durations.
 */
#include <criterion/criterion.h>

#include <stdint.h>
#include <string.h>
#include <time.h>

#include "nt_err.h"
#include "nt_time.h"

static void
check_format(int64_t us, const char *want)
{
	char buf[NT_TIME_BUFLEN];

	nt_time_format(us, buf);
	cr_assert_str_eq(buf, want, "format(%lld)", (long long)us);
}

static void
check_parse(const char *s, int64_t want)
{
	int64_t us = -42;

	cr_assert_eq(nt_time_parse(s, &us), NT_OK, "rejected \"%s\"", s);
	cr_assert_eq(us, want, "parse(\"%s\") = %lld, want %lld", s,
	             (long long)us, (long long)want);
}

Test(time, clocks_are_sane)
{
	int64_t now = nt_time_now_us();
	int64_t wall = (int64_t)time(NULL) * 1000000;
	int64_t m1 = nt_time_mono_ms();
	int64_t m2 = nt_time_mono_ms();

	cr_assert_gt(now, INT64_C(1577836800000000), "before 2020");
	cr_assert_lt(now - wall < 0 ? wall - now : now - wall, INT64_C(2000000),
	             "now_us and time() disagree");
	cr_assert_geq(m2, m1);
}

Test(time, format_known_values)
{
	check_format(0, "1970-01-01T00:00:00.000Z");
	check_format(INT64_C(1775572205123000), "2026-04-07T14:30:05.123Z");
	check_format(INT64_C(1709251199999000), "2024-02-29T23:59:59.999Z");
	check_format(INT64_C(946684800000000), "2000-01-01T00:00:00.000Z");
	check_format(INT64_C(253402300799999999), "9999-12-31T23:59:59.999Z");
	check_format(INT64_C(-62135596800000000), "0001-01-01T00:00:00.000Z");
}

Test(time, format_truncates_to_milliseconds_downwards)
{
	/* Sub-millisecond digits are cut, also before the epoch. */
	check_format(INT64_C(1775572205123999), "2026-04-07T14:30:05.123Z");
	check_format(-1, "1969-12-31T23:59:59.999Z");
	check_format(INT64_C(-1000000), "1969-12-31T23:59:59.000Z");
	check_format(INT64_C(-1000001), "1969-12-31T23:59:58.999Z");
}

Test(time, format_extremes_fit)
{
	char buf[NT_TIME_BUFLEN];

	nt_time_format(INT64_MAX, buf);
	cr_assert_str_eq(buf, "294247-01-10T04:00:54.775Z");
	nt_time_format(INT64_MIN, buf);
	cr_assert_eq(buf[strlen(buf) - 1], 'Z');
	cr_assert_eq(buf[0], '-');
}

Test(time, parse_forms)
{
	check_parse("2026-04-07T14:30:05Z", INT64_C(1775572205000000));
	check_parse("2026-04-07T14:30:05.123Z", INT64_C(1775572205123000));
	check_parse("2026-04-07T14:30:05.1Z", INT64_C(1775572205100000));
	check_parse("2026-04-07T14:30:05.123456Z", INT64_C(1775572205123456));
	/* Digits past microseconds are dropped, not rounded. */
	check_parse("2026-04-07T14:30:05.1234569Z", INT64_C(1775572205123456));
	check_parse("2026-04-07t14:30:05z", INT64_C(1775572205000000));
	check_parse("1970-01-01T00:00:00Z", 0);
	check_parse("1969-12-31T23:59:59Z", INT64_C(-1000000));
	check_parse("2024-02-29T23:59:59.999Z", INT64_C(1709251199999000));
	check_parse("2000-02-29T00:00:00Z", INT64_C(951782400000000));
}

Test(time, parse_offsets)
{
	check_parse("2026-04-07T16:30:05.123+02:00", INT64_C(1775572205123000));
	check_parse("2026-04-07T09:00:05.123-05:30", INT64_C(1775572205123000));
	check_parse("2026-04-07T14:30:05.123+00:00", INT64_C(1775572205123000));
	check_parse("2026-04-07T14:30:05.123-00:00", INT64_C(1775572205123000));
	/* The offset can move the instant across a day and year boundary. */
	check_parse("2025-12-31T23:30:00-01:00", INT64_C(1767227400000000));
}

Test(time, parse_leap_second_rolls_over)
{
	check_parse("2016-12-31T23:59:60Z", INT64_C(1483228800000000));
}

Test(time, format_parse_round_trip)
{
	int64_t v[] = {
	        0,
	        1000,
	        INT64_C(1775572205123000),
	        INT64_C(-1000),
	        INT64_C(-86400000000),
	        INT64_C(951782399999000),
	        INT64_C(4102444800000000),
	        INT64_C(253402300799999000),
	        INT64_C(-62135596800000000),
	};
	char buf[NT_TIME_BUFLEN];
	int64_t back;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		nt_time_format(v[i], buf);
		cr_assert_eq(nt_time_parse(buf, &back), NT_OK, "%s", buf);
		cr_assert_eq(back, v[i], "%s", buf);
	}
	/* Every day of a leap-year span, at an odd millisecond. */
	for (int64_t t = INT64_C(946684800000000);
	     t < INT64_C(1041379200000000); t += INT64_C(86400000000)) {
		int64_t u = t + INT64_C(45296789000);
		nt_time_format(u, buf);
		cr_assert_eq(nt_time_parse(buf, &back), NT_OK, "%s", buf);
		cr_assert_eq(back, u, "%s", buf);
	}
	/* The current time survives at millisecond precision. */
	int64_t now = nt_time_now_us() / 1000 * 1000;
	nt_time_format(now, buf);
	cr_assert_eq(nt_time_parse(buf, &back), NT_OK);
	cr_assert_eq(back, now);
}

Test(time, parse_rejects)
{
	static const char *const bad[] = {
	        "",
	        "2026-04-07",
	        "2026-04-07T14:30:05",       /* no zone */
	        "2026-04-07 14:30:05Z",      /* space separator */
	        "2026-04-07T14:30Z",         /* no seconds */
	        "2026-4-07T14:30:05Z",       /* short month */
	        "26-04-07T14:30:05Z",        /* short year */
	        "2026-13-01T00:00:00Z",      /* month 13 */
	        "2026-00-01T00:00:00Z",      /* month 0 */
	        "2026-04-00T00:00:00Z",      /* day 0 */
	        "2026-04-31T00:00:00Z",      /* April has 30 */
	        "2025-02-29T00:00:00Z",      /* not a leap year */
	        "1900-02-29T00:00:00Z",      /* century, not leap */
	        "2026-04-07T24:00:00Z",      /* hour 24 */
	        "2026-04-07T14:60:00Z",      /* minute 60 */
	        "2026-04-07T14:30:61Z",      /* second 61 */
	        "2026-04-07T14:30:05.Z",     /* dot without digits */
	        "2026-04-07T14:30:05,123Z",  /* comma fraction */
	        "2026-04-07T14:30:05ZZ",     /* trailing junk */
	        "2026-04-07T14:30:05Z ",     /* trailing space */
	        " 2026-04-07T14:30:05Z",     /* leading space */
	        "2026-04-07T14:30:05+2:00",  /* short offset */
	        "2026-04-07T14:30:05+0200",  /* offset without colon */
	        "2026-04-07T14:30:05+24:00", /* offset hour */
	        "2026-04-07T14:30:05+02:60", /* offset minute */
	        "2026-04-07T14:30:05+02",    /* offset without minutes */
	        "+2026-04-07T14:30:05Z",     /* sign */
	        "2026-04-07T14:30:05.12a3Z", /* junk in fraction */
	        "2026-04-07T1a:30:05Z",      /* junk in hour */
	        "now",
	};
	int64_t us = 7;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(nt_time_parse(bad[i], &us), NT_EINVAL,
		             "accepted \"%s\"", bad[i]);
	}
	cr_assert_eq(us, 7, "out written on rejection");
	cr_assert_eq(nt_time_parse(NULL, &us), NT_EINVAL);
	cr_assert_eq(nt_time_parse("2026-04-07T14:30:05Z", NULL), NT_EINVAL);
}

static void
check_duration(const char *s, int64_t want)
{
	int64_t ms = -1;

	cr_assert_eq(nt_duration_parse(s, &ms), NT_OK, "rejected \"%s\"", s);
	cr_assert_eq(ms, want, "\"%s\" = %lld ms", s, (long long)ms);
}

Test(time, duration_units)
{
	check_duration("500ms", 500);
	check_duration("1ms", 1);
	check_duration("30s", 30000);
	check_duration("10m", 600000);
	check_duration("1h", 3600000);
	check_duration("2d", 172800000);
	check_duration("45", 45000);
	check_duration("007s", 7000);
	check_duration("9223372036854775807ms", INT64_MAX);
	check_duration("106751991167d", INT64_C(106751991167) * 86400000);
}

Test(time, duration_rejects)
{
	static const char *const bad[] = {
	        "",
	        "0",
	        "0s",
	        "0ms",
	        "000",
	        "-1s",
	        "+1s",
	        " 1s",
	        "1s ",
	        "1 s",
	        "1.5s",
	        "1e3",
	        "s",
	        "ms",
	        "1x",
	        "1sec",
	        "1S",
	        "1MS",
	        "10m5s",
	        "1ms2",
	        "1w",
	        "0x10",
	        "1d\n",
	        "abc",
	        "9223372036854775808",   /* > int64 before the unit */
	        "9223372036854775808ms", /* > int64 */
	        "9223372036854775807",   /* seconds overflow in ms */
	        "106751991168d",         /* days overflow in ms */
	        "99999999999999999999999999h",
	};
	int64_t ms = 123;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(nt_duration_parse(bad[i], &ms), NT_EINVAL,
		             "accepted \"%s\"", bad[i]);
	}
	cr_assert_eq(ms, 123, "out written on rejection");
	cr_assert_eq(nt_duration_parse(NULL, &ms), NT_EINVAL);
	cr_assert_eq(nt_duration_parse("1s", NULL), NT_EINVAL);
}
