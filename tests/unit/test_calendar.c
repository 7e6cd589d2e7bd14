// SPDX-License-Identifier: MIT
/* tests/unit/test_calendar.c: the tick grid (common/calendar.h): fixed periods, months clamped
 * to the month's end without accumulating, leap years, days across DST in Europe/Berlin and
 * America/New_York (a wall-clock time in the spring gap, one read twice in the autumn), the
 * first tick at or after an instant (checked against its definition over many instants), and
 * refused periods. Zones come from the system's zoneinfo (Debian's tzdata). */
#include <string.h>

#include "common/calendar.h"
#include "tests/support/test.h"

#define DAY  86400000LL
#define HOUR 3600000LL
#define MIN  60000LL

/* utc: Unix ms of a UTC wall-clock time. */
static int64_t utc(int y, int mo, int d, int h, int mi)
{
    return cf_days_from_civil(y, mo, d) * DAY + h * HOUR + mi * MIN;
}

static const cf_tz *zone(const char *name)
{
    cf_error err = {0};
    const cf_tz *tz = cf_tz_get(name, &err);
    if (tz == NULL)
        fail_msg("zone %s: %s", name, err.msg);
    return tz;
}

static cf_grid grid(cf_period_unit unit, int64_t every, const char *tz, int64_t anchor)
{
    cf_grid g;
    cf_error err = {0};
    assert_int_equal(cf_grid_init(&g, unit, every, tz ? zone(tz) : NULL, anchor, &err), CF_OK);
    return g;
}

/* check_index verifies cf_grid_index_at_or_after(t) against its definition. */
static void check_index(const cf_grid *g, int64_t t)
{
    int64_t k = cf_grid_index_at_or_after(g, t);
    assert_true(k >= 0);
    assert_true(cf_grid_tick(g, k) >= t);
    if (k > 0 && cf_grid_tick(g, k - 1) >= t)
        fail_msg("index %lld for t=%lld: tick %lld is already >= t", (long long)k, (long long)t,
                 (long long)(k - 1));
}

static void test_calendar_fixed_period_grid(void **state)
{
    (void)state;
    const int64_t a = utc(2026, 12, 6, 10, 0) + 123;
    cf_grid g = grid(CF_PERIOD_MS, 1000, NULL, a);
    assert_int_equal(cf_grid_tick(&g, 0), a);
    assert_int_equal(cf_grid_tick(&g, 5), a + 5000);
    assert_int_equal(cf_grid_tick(&g, 86400), a + DAY); /* never drifts: from the anchor */
    assert_int_equal(cf_grid_index_at_or_after(&g, a - 1), 0);
    assert_int_equal(cf_grid_index_at_or_after(&g, 0), 0);
    assert_int_equal(cf_grid_index_at_or_after(&g, a), 0);
    assert_int_equal(cf_grid_index_at_or_after(&g, a + 1), 1);
    assert_int_equal(cf_grid_index_at_or_after(&g, a + 5000), 5);
    assert_int_equal(cf_grid_index_at_or_after(&g, a + 5001), 6);
    /* a century later is one division, and past the grid's end there is no tick */
    assert_int_equal(cf_grid_index_at_or_after(&g, a + 36500 * DAY), 36500 * 86400LL);
    assert_int_equal(cf_grid_tick(&g, INT64_MAX / 2), CF_GRID_NEVER);
    assert_int_equal(cf_grid_tick(&g, -1), CF_GRID_NEVER);
    assert_int_equal(cf_grid_index_at_or_after(&g, CF_GRID_MAX_MS + 1), -1);
}

static void test_calendar_months_clamp_to_month_end_without_accumulating(void **state)
{
    (void)state;
    cf_grid g = grid(CF_PERIOD_MONTHS, 1, NULL, utc(2023, 1, 31, 10, 0));
    assert_int_equal(cf_grid_tick(&g, 1), utc(2023, 2, 28, 10, 0));
    assert_int_equal(cf_grid_tick(&g, 2), utc(2023, 3, 31, 10, 0)); /* back to the 31st */
    assert_int_equal(cf_grid_tick(&g, 3), utc(2023, 4, 30, 10, 0));
    assert_int_equal(cf_grid_tick(&g, 11), utc(2023, 12, 31, 10, 0));
    assert_int_equal(cf_grid_tick(&g, 13), utc(2024, 2, 29, 10, 0)); /* leap year */
    assert_int_equal(cf_grid_tick(&g, 14), utc(2024, 3, 31, 10, 0));
    /* every 3 months from Nov 30: Feb 28, May 30, Aug 30, Nov 30 */
    cf_grid q = grid(CF_PERIOD_MONTHS, 3, NULL, utc(2022, 11, 30, 0, 0));
    assert_int_equal(cf_grid_tick(&q, 1), utc(2023, 2, 28, 0, 0));
    assert_int_equal(cf_grid_tick(&q, 2), utc(2023, 5, 30, 0, 0));
    assert_int_equal(cf_grid_tick(&q, 4), utc(2023, 11, 30, 0, 0));
    /* index: exactly on a clamped tick, just after it, between ticks */
    assert_int_equal(cf_grid_index_at_or_after(&g, utc(2023, 2, 28, 10, 0)), 1);
    assert_int_equal(cf_grid_index_at_or_after(&g, utc(2023, 2, 28, 10, 0) + 1), 2);
    assert_int_equal(cf_grid_index_at_or_after(&g, utc(2023, 3, 15, 0, 0)), 2);
    assert_int_equal(cf_grid_index_at_or_after(&g, utc(2023, 3, 31, 11, 0)), 3);
    /* a thousand years on is arithmetic, not a walk */
    assert_int_equal(cf_grid_index_at_or_after(&g, utc(3023, 1, 31, 10, 0)), 12000);
}

static void test_calendar_leap_years_follow_the_gregorian_rule(void **state)
{
    (void)state;
    /* yearly on Feb 29 (every 12 months): clamped to Feb 28 except in leap years */
    cf_grid g = grid(CF_PERIOD_MONTHS, 12, NULL, utc(2096, 2, 29, 12, 0));
    assert_int_equal(cf_grid_tick(&g, 1), utc(2097, 2, 28, 12, 0));
    assert_int_equal(cf_grid_tick(&g, 4), utc(2100, 2, 28, 12, 0)); /* 2100: not a leap year */
    assert_int_equal(cf_grid_tick(&g, 8), utc(2104, 2, 29, 12, 0));
    cf_grid h = grid(CF_PERIOD_MONTHS, 12, NULL, utc(1996, 2, 29, 12, 0));
    assert_int_equal(cf_grid_tick(&h, 4), utc(2000, 2, 29, 12, 0)); /* 2000: divisible by 400 */
    /* days across Feb 29 */
    cf_grid d = grid(CF_PERIOD_DAYS, 1, NULL, utc(2024, 2, 28, 6, 0));
    assert_int_equal(cf_grid_tick(&d, 1), utc(2024, 2, 29, 6, 0));
    assert_int_equal(cf_grid_tick(&d, 2), utc(2024, 3, 1, 6, 0));
}

static void test_calendar_days_keep_wall_time_across_dst_in_berlin(void **state)
{
    (void)state;
    /* spring 2024-03-31: 02:00 CET -> 03:00 CEST. 09:00 local stays 09:00. */
    cf_grid g = grid(CF_PERIOD_DAYS, 1, "Europe/Berlin", utc(2024, 3, 29, 8, 0)); /* 09:00 CET */
    assert_int_equal(cf_grid_tick(&g, 1), utc(2024, 3, 30, 8, 0));
    assert_int_equal(cf_grid_tick(&g, 2), utc(2024, 3, 31, 7, 0)); /* 09:00 CEST: 23 h later */
    assert_int_equal(cf_grid_tick(&g, 3), utc(2024, 4, 1, 7, 0));
    /* 02:30 does not exist on 2024-03-31: the first instant after the gap (03:00 CEST) */
    cf_grid gap = grid(CF_PERIOD_DAYS, 1, "Europe/Berlin", utc(2024, 3, 30, 1, 30));
    assert_int_equal(cf_grid_tick(&gap, 1), utc(2024, 3, 31, 1, 0));
    assert_int_equal(cf_grid_tick(&gap, 2), utc(2024, 4, 1, 0, 30)); /* 02:30 CEST again */
    /* autumn 2024-10-27: 03:00 CEST -> 02:00 CET; 02:30 happens twice: the earlier one */
    cf_grid rep = grid(CF_PERIOD_DAYS, 1, "Europe/Berlin", utc(2024, 10, 26, 0, 30));
    assert_int_equal(cf_grid_tick(&rep, 1), utc(2024, 10, 27, 0, 30)); /* 02:30 CEST */
    assert_int_equal(cf_grid_tick(&rep, 2), utc(2024, 10, 28, 1, 30)); /* 02:30 CET */
    cf_grid noon = grid(CF_PERIOD_DAYS, 1, "Europe/Berlin", utc(2024, 10, 26, 10, 0));
    assert_int_equal(cf_grid_tick(&noon, 1) - cf_grid_tick(&noon, 0), 25 * HOUR);
    /* index across both changes */
    assert_int_equal(cf_grid_index_at_or_after(&g, utc(2024, 3, 31, 7, 0)), 2);
    assert_int_equal(cf_grid_index_at_or_after(&g, utc(2024, 3, 31, 7, 0) + 1), 3);
    assert_int_equal(cf_grid_index_at_or_after(&rep, utc(2024, 10, 27, 0, 30) + 1), 2);
    /* monthly in Berlin: Jan 31 09:00 CET -> Feb 29 09:00 CET -> Mar 31 09:00 CEST */
    cf_grid mo = grid(CF_PERIOD_MONTHS, 1, "Europe/Berlin", utc(2024, 1, 31, 8, 0));
    assert_int_equal(cf_grid_tick(&mo, 1), utc(2024, 2, 29, 8, 0));
    assert_int_equal(cf_grid_tick(&mo, 2), utc(2024, 3, 31, 7, 0));
}

static void test_calendar_days_keep_wall_time_across_dst_in_new_york(void **state)
{
    (void)state;
    /* spring 2024-03-10: 02:00 EST -> 03:00 EDT; 02:30 is skipped: 03:00 EDT (07:00Z) */
    cf_grid gap = grid(CF_PERIOD_DAYS, 1, "America/New_York", utc(2024, 3, 9, 7, 30));
    assert_int_equal(cf_grid_tick(&gap, 1), utc(2024, 3, 10, 7, 0));
    assert_int_equal(cf_grid_tick(&gap, 2), utc(2024, 3, 11, 6, 30)); /* 02:30 EDT */
    /* autumn 2024-11-03: 02:00 EDT -> 01:00 EST; 01:30 is read twice: the earlier (EDT) */
    cf_grid rep = grid(CF_PERIOD_DAYS, 1, "America/New_York", utc(2024, 11, 2, 5, 30));
    assert_int_equal(cf_grid_tick(&rep, 1), utc(2024, 11, 3, 5, 30));
    assert_int_equal(cf_grid_tick(&rep, 2), utc(2024, 11, 4, 6, 30)); /* 01:30 EST */
    /* weekly (7 days) across the spring change keeps 08:00 local */
    cf_grid wk = grid(CF_PERIOD_DAYS, 7, "America/New_York", utc(2024, 3, 4, 13, 0));
    assert_int_equal(cf_grid_tick(&wk, 1), utc(2024, 3, 11, 12, 0));
    assert_int_equal(cf_grid_index_at_or_after(&wk, utc(2024, 3, 11, 12, 0)), 1);
    assert_int_equal(cf_grid_index_at_or_after(&wk, utc(2024, 3, 11, 12, 0) + 1), 2);
}

static void test_calendar_index_matches_its_definition_everywhere(void **state)
{
    (void)state;
    const int64_t a = utc(2023, 1, 31, 1, 30);
    cf_grid grids[] = {
        grid(CF_PERIOD_MS, 7919, NULL, a),
        grid(CF_PERIOD_DAYS, 1, NULL, a),
        grid(CF_PERIOD_DAYS, 1, "Europe/Berlin", a),
        grid(CF_PERIOD_DAYS, 3, "America/New_York", a),
        grid(CF_PERIOD_MONTHS, 1, "Europe/Berlin", a),
        grid(CF_PERIOD_MONTHS, 5, "America/New_York", a),
    };
    uint64_t x = 88172645463325252ULL; /* xorshift: a fixed, reproducible spread of instants */
    for (size_t i = 0; i < sizeof grids / sizeof grids[0]; i++) {
        for (int n = 0; n < 3000; n++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            check_index(&grids[i], a - DAY + (int64_t)(x % (uint64_t)(6 * 365 * DAY)));
        }
        for (int64_t k = 0; k < 200; k++) { /* on and around every tick of the first 200 */
            int64_t t = cf_grid_tick(&grids[i], k);
            assert_int_equal(cf_grid_index_at_or_after(&grids[i], t), k);
            check_index(&grids[i], t + 1);
            check_index(&grids[i], t - 1);
            assert_true(cf_grid_tick(&grids[i], k + 1) > t);
        }
    }
}

static void test_calendar_refuses_bad_periods_and_starts(void **state)
{
    (void)state;
    cf_grid g;
    cf_error err = {0};
    assert_int_equal(cf_grid_init(&g, CF_PERIOD_MS, 0, NULL, 0, &err), CF_ERR_INVALID);
    assert_string_equal(err.field, "period");
    assert_int_equal(cf_grid_init(&g, CF_PERIOD_DAYS, -1, NULL, 0, &err), CF_ERR_INVALID);
    assert_int_equal(cf_grid_init(&g, CF_PERIOD_MONTHS, CF_PERIOD_MAX_MONTHS + 1, NULL, 0, &err),
                     CF_ERR_INVALID);
    assert_non_null(strstr(err.msg, "months"));
    assert_int_equal(cf_grid_init(&g, CF_PERIOD_MS, 1000, NULL, -5, &err), CF_ERR_INVALID);
    assert_string_equal(err.field, "start_at");
    assert_int_equal(cf_grid_init(&g, CF_PERIOD_MS, 1000, NULL, CF_GRID_MAX_MS + 1, &err),
                     CF_ERR_INVALID);
    assert_int_equal(cf_grid_init(&g, (cf_period_unit)7, 1, NULL, 0, &err), CF_ERR_INVALID);
    /* the largest periods stop at the end of the grid instead of overflowing */
    g = grid(CF_PERIOD_MONTHS, CF_PERIOD_MAX_MONTHS, NULL, 0);
    assert_int_equal(cf_grid_tick(&g, 1), CF_GRID_NEVER);
    assert_int_equal(cf_grid_index_at_or_after(&g, 1), -1);
    g = grid(CF_PERIOD_DAYS, CF_PERIOD_MAX_DAYS, "Europe/Berlin", 0);
    assert_int_equal(cf_grid_tick(&g, 1), CF_GRID_NEVER);
}

static void test_calendar_describes_its_period(void **state)
{
    (void)state;
    char buf[96];
    cf_grid g = grid(CF_PERIOD_MS, 1500, NULL, 0);
    cf_grid_describe(&g, buf, sizeof buf);
    assert_string_equal(buf, "1500ms");
    g = grid(CF_PERIOD_DAYS, 2, "Europe/Berlin", 0);
    cf_grid_describe(&g, buf, sizeof buf);
    assert_string_equal(buf, "2d Europe/Berlin");
    g = grid(CF_PERIOD_MONTHS, 1, NULL, 0);
    cf_grid_describe(&g, buf, sizeof buf);
    assert_string_equal(buf, "1mo UTC");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calendar_fixed_period_grid),
        cmocka_unit_test(test_calendar_months_clamp_to_month_end_without_accumulating),
        cmocka_unit_test(test_calendar_leap_years_follow_the_gregorian_rule),
        cmocka_unit_test(test_calendar_days_keep_wall_time_across_dst_in_berlin),
        cmocka_unit_test(test_calendar_days_keep_wall_time_across_dst_in_new_york),
        cmocka_unit_test(test_calendar_index_matches_its_definition_everywhere),
        cmocka_unit_test(test_calendar_refuses_bad_periods_and_starts),
        cmocka_unit_test(test_calendar_describes_its_period),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("calendar", tests, NULL, NULL);
}
