// SPDX-License-Identifier: MIT
/* tests/unit/test_cron.c: common/cron.h: the parser (fields, names, steps, macros, errors naming
 * the field), the next-fire search in UTC, and cronie's DST rule in Europe/Berlin and
 * America/New_York (a fixed-time entry in a skipped hour fires at the gap's end and once in a
 * repeated hour; a wildcard entry follows the wall clock), checked instant by instant and over a
 * whole year. */
#include <string.h>

#include "common/clock.h"
#include "common/cron.h"
#include "common/duration.h"
#include "tests/support/test.h"

static int64_t at(const char *iso)
{
    int64_t ms = 0;
    assert_int_equal(cf_time_parse_unix_ms(iso, &ms, NULL), CF_OK);
    return ms;
}

static const cf_tz *zone(const char *name)
{
    cf_error err;
    const cf_tz *tz = cf_tz_get(name, &err);
    if (tz == NULL)
        fail_msg("zone %s: %s", name, err.msg);
    return tz;
}

static cf_cron parse(const char *expr)
{
    cf_cron c;
    cf_error err;
    if (cf_cron_parse(expr, &c, &err) != CF_OK)
        fail_msg("%s: %s", expr, err.msg);
    return c;
}

/* expect_next checks that expr's first fire after `after` in zone tz is `want` (ISO-8601 UTC). */
static void expect_next(const char *expr, const char *tz, const char *after, const char *want)
{
    cf_cron c = parse(expr);
    int64_t got = 0;
    assert_int_equal(cf_cron_next(&c, zone(tz), at(after), &got), CF_OK);
    char buf[40];
    cf_clock_format_iso8601(got, buf, sizeof buf);
    if (got != at(want))
        fail_msg("'%s' in %s after %s: got %s, want %s", expr, tz, after, buf, want);
}

/* expect_sequence checks the n fires after `after` in order (want: n ISO-8601 UTC times). */
static void expect_sequence(const char *expr, const char *tz, const char *after,
                            const char *const *want, int n)
{
    int64_t t = at(after);
    cf_cron c = parse(expr);
    for (int i = 0; i < n; i++) {
        assert_int_equal(cf_cron_next(&c, zone(tz), t, &t), CF_OK);
        char buf[40];
        cf_clock_format_iso8601(t, buf, sizeof buf);
        if (t != at(want[i]))
            fail_msg("'%s' in %s fire %d: got %s, want %s", expr, tz, i, buf, want[i]);
    }
}

static void expect_error(const char *expr, const char *msg_part)
{
    cf_cron c;
    cf_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(cf_cron_parse(expr, &c, &err), CF_ERR_INVALID);
    if (strstr(err.msg, msg_part) == NULL)
        fail_msg("'%s': error '%s' lacks '%s'", expr, err.msg, msg_part);
    assert_string_equal(err.field, "cron");
}

static void test_parse_fields_names_steps_and_macros(void **state)
{
    (void)state;
    cf_cron c = parse("*/15 9-17 1,15 JAN-mar,dec MON-FRI");
    assert_true(c.sec == 1);
    assert_true(c.min == ((1ULL << 0) | (1ULL << 15) | (1ULL << 30) | (1ULL << 45)));
    assert_true(c.hour == 0x3FE00u);
    assert_true(c.dom == ((1u << 1) | (1u << 15)));
    assert_true(c.mon == ((1u << 1) | (1u << 2) | (1u << 3) | (1u << 12)));
    assert_true(c.dow == 0x3Eu);
    assert_true(c.min_star && !c.hour_star && !c.dom_star && !c.dow_star);
    assert_true(cf_cron_is_wildcard(&c));
    c = parse("0 0 * * 7"); /* 7 is Sunday */
    assert_true(c.dow == 1u);
    c = parse("0 0 * * 5-7");
    assert_true(c.dow == ((1u << 5) | (1u << 6) | 1u));
    c = parse("10/20 * * * *"); /* N/STEP runs to the end of the field */
    assert_true(c.min == ((1ULL << 10) | (1ULL << 30) | (1ULL << 50)));
    c = parse("*/10 30 2 * * *"); /* six fields: leading seconds */
    assert_true(c.sec == ((1ULL << 0) | (1ULL << 10) | (1ULL << 20) | (1ULL << 30) | (1ULL << 40) |
                          (1ULL << 50)));
    assert_false(cf_cron_is_wildcard(&c));
    cf_cron a = parse("@daily"), b = parse("0 0 * * *");
    assert_memory_equal(&a, &b, sizeof a);
    a = parse("  @HOURLY "), b = parse("0 * * * *");
    assert_memory_equal(&a, &b, sizeof a);
}

static void test_parse_errors_name_the_field(void **state)
{
    (void)state;
    expect_error("0 25 * * *", "cron field 2 (hour): 25 is out of range 0-23");
    expect_error("60 * * * * *", "cron field 1 (second): 60 is out of range 0-59");
    expect_error("* * * *", "needs 5 fields");
    expect_error("* * * * * * *", "got more than 6");
    expect_error("", "got 0");
    expect_error("*/0 * * * *", "cron field 1 (minute): step in '*/0' must be a number 1-59");
    expect_error("0 0 * FOO *", "cron field 4 (month): 'FOO' is not a number or a name");
    expect_error("0 0 0 * *", "cron field 3 (day-of-month): 0 is out of range 1-31");
    expect_error("0 5-2 * * *", "cron field 2 (hour): range 5-2 runs backwards");
    expect_error("0 1,,2 * * *", "cron field 2 (hour): empty list item");
    expect_error("0 0 * * 8", "cron field 5 (day-of-week): 8 is out of range 0-7");
    expect_error("0 0 * * MONDAY", "cron field 5 (day-of-week): 'MONDAY' is not a number");
    expect_error("1-x * * * *", "cron field 1 (minute): range '1-x' has no end");
    expect_error("5x * * * *", "cron field 1 (minute): unexpected 'x' in '5x'");
    expect_error("@reboot", "unknown cron macro '@reboot'");
    expect_error("@daily 1", "unknown cron macro");
}

static void test_next_in_utc(void **state)
{
    (void)state;
    expect_next("*/15 * * * *", "UTC", "2026-12-06T10:07:30Z", "2026-12-06T10:15:00Z");
    expect_next("*/15 * * * *", "UTC", "2026-12-06T10:15:00Z", "2026-12-06T10:30:00Z");
    expect_next("*/15 * * * *", "UTC", "2026-12-06T10:14:59.999Z", "2026-12-06T10:15:00Z");
    expect_next("0 9 * * MON-FRI", "UTC", "2026-12-05T12:00:00Z", "2026-12-07T09:00:00Z");
    expect_next("0 0 29 2 *", "UTC", "2026-01-01T00:00:00Z", "2028-02-29T00:00:00Z");
    expect_next("0 0 13 * FRI", "UTC", "2026-12-06T00:00:00Z", "2026-12-11T00:00:00Z");
    expect_next("0 0 13 * FRI", "UTC", "2026-12-11T00:00:00Z", "2026-12-13T00:00:00Z");
    expect_next("0 0 */2 * SUN", "UTC", "2026-12-06T00:00:00Z", "2026-12-13T00:00:00Z");
    expect_next("*/10 * * * * *", "UTC", "2026-12-06T10:00:05Z", "2026-12-06T10:00:10Z");
    expect_next("@yearly", "UTC", "2026-12-06T10:00:00Z", "2027-01-01T00:00:00Z");
    expect_next("59 23 31 12 *", "UTC", "2026-12-31T23:59:00Z", "2027-12-31T23:59:00Z");
    cf_cron never = parse("0 0 30 2 *");
    int64_t out = 0;
    assert_int_equal(cf_cron_next(&never, cf_tz_utc(), at("2026-01-01T00:00:00Z"), &out),
                     CF_ERR_NOT_FOUND);
}

static void test_next_in_a_zone_without_dst_change(void **state)
{
    (void)state;
    expect_next("0 9 * * *", "Europe/Berlin", "2026-12-06T10:00:00Z", "2026-12-07T08:00:00Z");
    expect_next("0 9 * * *", "America/New_York", "2026-12-06T10:00:00Z", "2026-12-06T14:00:00Z");
}

/* Berlin, 2026-03-29: 02:00 CET becomes 03:00 CEST at 01:00Z; 02:00-03:00 does not exist. */
static void test_berlin_spring_forward(void **state)
{
    (void)state;
    const char *fixed[] = {"2026-03-29T01:00:00Z", "2026-03-30T00:30:00Z"};
    expect_sequence("30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", fixed, 2);
    expect_next("0,30 2 * * *", "Europe/Berlin", "2026-03-28T12:00:00Z", "2026-03-29T01:00:00Z");
    expect_next("0,30 2 * * *", "Europe/Berlin", "2026-03-29T01:00:00Z", "2026-03-30T00:00:00Z");
    const char *hourly[] = {"2026-03-29T00:15:00Z", "2026-03-29T01:15:00Z", "2026-03-29T02:15:00Z"};
    expect_sequence("15 * * * *", "Europe/Berlin", "2026-03-28T23:30:00Z", hourly, 3);
    expect_next("*/20 2 * * *", "Europe/Berlin", "2026-03-28T23:30:00Z", "2026-03-30T00:00:00Z");
}

/* Berlin, 2026-10-25: 03:00 CEST becomes 02:00 CET at 01:00Z; 02:00-03:00 is read twice. */
static void test_berlin_fall_back(void **state)
{
    (void)state;
    const char *fixed[] = {"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"};
    expect_sequence("30 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", fixed, 2);
    const char *wild[] = {"2026-10-25T00:00:00Z", "2026-10-25T00:20:00Z", "2026-10-25T00:40:00Z",
                          "2026-10-25T01:00:00Z", "2026-10-25T01:20:00Z", "2026-10-25T01:40:00Z",
                          "2026-10-26T01:00:00Z"};
    expect_sequence("*/20 2 * * *", "Europe/Berlin", "2026-10-24T12:00:00Z", wild, 7);
    /* from inside the first reading, the second reading of an earlier wall-clock time is next */
    expect_next("30 * * * *", "Europe/Berlin", "2026-10-25T00:45:00Z", "2026-10-25T01:30:00Z");
    expect_next("30 * * * *", "Europe/Berlin", "2026-10-25T01:30:00Z", "2026-10-25T02:30:00Z");
    /* from inside the second reading, a fixed entry already fired in the first */
    expect_next("45 2 * * *", "Europe/Berlin", "2026-10-25T01:10:00Z", "2026-10-26T01:45:00Z");
}

/* New York, 2026-03-08: 02:00 EST becomes 03:00 EDT at 07:00Z. 2026-11-01: 02:00 EDT becomes
 * 01:00 EST at 06:00Z; 01:00-02:00 is read twice. */
static void test_new_york_both_changes(void **state)
{
    (void)state;
    const char *spring[] = {"2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"};
    expect_sequence("30 2 * * *", "America/New_York", "2026-03-07T12:00:00Z", spring, 2);
    const char *hourly[] = {"2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"};
    expect_sequence("0 * * * *", "America/New_York", "2026-03-08T05:30:00Z", hourly, 3);
    const char *fall[] = {"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"};
    expect_sequence("30 1 * * *", "America/New_York", "2026-10-31T12:00:00Z", fall, 2);
    const char *halves[] = {"2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z",
                            "2026-11-01T06:30:00Z", "2026-11-01T07:00:00Z"};
    expect_sequence("0,30 * * * *", "America/New_York", "2026-11-01T04:50:00Z", halves, 5);
}

/* count_fires counts expr's fires in [from, to) in zone tz, checking they strictly increase. */
static int count_fires(const char *expr, const char *tz, const char *from, const char *to)
{
    cf_cron c = parse(expr);
    int64_t t = at(from) - 1, end = at(to);
    int n = 0;
    for (;;) {
        int64_t next = 0;
        assert_int_equal(cf_cron_next(&c, zone(tz), t, &next), CF_OK);
        assert_true(next > t);
        if (next >= end)
            return n;
        t = next;
        n++;
    }
}

static void test_a_year_of_fires(void **state)
{
    (void)state;
    const char *zones[] = {"Europe/Berlin", "America/New_York"};
    for (int i = 0; i < 2; i++) {
        /* a fixed-time entry in the changing hour fires once every local day (365 in 2026) */
        const char *fixed = i == 0 ? "30 2 * * *" : "30 1 * * *";
        const char *from = i == 0 ? "2025-12-31T23:00:00Z" : "2026-01-01T05:00:00Z";
        const char *to = i == 0 ? "2026-12-31T23:00:00Z" : "2027-01-01T05:00:00Z";
        assert_int_equal(count_fires(fixed, zones[i], from, to), 365);
        /* an hourly wildcard entry fires once per real hour: one lost in spring, one gained */
        assert_int_equal(count_fires("0 * * * *", zones[i], from, to), 365 * 24);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_fields_names_steps_and_macros),
        cmocka_unit_test(test_parse_errors_name_the_field),
        cmocka_unit_test(test_next_in_utc),
        cmocka_unit_test(test_next_in_a_zone_without_dst_change),
        cmocka_unit_test(test_berlin_spring_forward),
        cmocka_unit_test(test_berlin_fall_back),
        cmocka_unit_test(test_new_york_both_changes),
        cmocka_unit_test(test_a_year_of_fires),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("cron", tests, NULL, NULL);
}
