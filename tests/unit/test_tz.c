// SPDX-License-Identifier: MIT
/* tests/unit/test_tz.c: common/tz.h: the TZif reader against glibc's reading of the same files
 * (the oracle: localtime_r with TZ set, in this test process only), footer rules past 2037,
 * DST gaps and repeated hours in both directions of the conversion, the calendar helpers, and
 * zone names that must never become paths. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/tz.h"
#include "common/tz_rule.h"
#include "tests/support/test.h"

static int64_t utc_ms(int y, int mo, int d, int h, int mi, int s)
{
    return ((cf_days_from_civil(y, mo, d) * 86400) + h * 3600 + mi * 60 + s) * 1000LL;
}

static const cf_tz *zone(const char *name)
{
    cf_error err = {0};
    const cf_tz *tz = cf_tz_get(name, &err);
    if (!tz)
        fail_msg("%s: %s", name, err.msg);
    return tz;
}

static void test_calendar_helpers(void **state)
{
    (void)state;
    assert_int_equal(cf_days_from_civil(1970, 1, 1), 0);
    assert_int_equal(cf_days_from_civil(1969, 12, 31), -1);
    assert_int_equal(cf_days_from_civil(2000, 3, 1), 11017);
    assert_int_equal(cf_weekday(0), 4);                                /* Thursday */
    assert_int_equal(cf_weekday(cf_days_from_civil(2026, 12, 6)), 0);  /* a Sunday */
    assert_int_equal(cf_weekday(cf_days_from_civil(1969, 12, 28)), 0); /* before 1970 */
    assert_int_equal(cf_days_in_month(2024, 2), 29);
    assert_int_equal(cf_days_in_month(2100, 2), 28);
    assert_int_equal(cf_days_in_month(2000, 2), 29);
    assert_int_equal(cf_days_in_month(2026, 4), 30);
    for (int64_t d = -800000; d < 800000; d += 37) {
        int y, m, dd;
        cf_civil_from_days(d, &y, &m, &dd);
        assert_true(m >= 1 && m <= 12 && dd >= 1 && dd <= cf_days_in_month(y, m));
        assert_int_equal(cf_days_from_civil(y, m, dd), d);
    }
}

/* Every 3 hours from 1950 to 2100, in zones with northern, southern, negative and odd DST,
 * the offset matches glibc's reading of the same file, and each instant converts to civil
 * time and back to itself. */
static void test_offsets_match_glibc(void **state)
{
    (void)state;
    const char *zones[] = {"Europe/Berlin",     "America/New_York",  "Australia/Sydney",
                           "Asia/Kolkata",      "America/Sao_Paulo", "Pacific/Apia",
                           "Africa/Casablanca", "Europe/Dublin",     "America/St_Johns"};
    for (size_t z = 0; z < sizeof zones / sizeof zones[0]; z++) {
        const cf_tz *tz = zone(zones[z]);
        setenv("TZ", zones[z], 1);
        tzset();
        int64_t from = utc_ms(1950, 1, 1, 0, 0, 0) / 1000, to = utc_ms(2100, 1, 1, 0, 0, 0) / 1000;
        for (int64_t t = from; t < to; t += 3 * 3600 + 17) {
            time_t tt = (time_t)t;
            struct tm tm;
            localtime_r(&tt, &tm);
            int32_t off = cf_tz_offset_at(tz, t);
            if (off != tm.tm_gmtoff)
                fail_msg("%s at %lld: ours %d, glibc %ld", zones[z], (long long)t, off,
                         tm.tm_gmtoff);
            cf_civil c;
            cf_tz_to_civil(tz, t * 1000 + 250, &c, NULL);
            assert_int_equal(c.year, tm.tm_year + 1900);
            assert_int_equal(c.month, tm.tm_mon + 1);
            assert_int_equal(c.day, tm.tm_mday);
            assert_int_equal(c.hour, tm.tm_hour);
            assert_int_equal(c.min, tm.tm_min);
            assert_int_equal(c.ms, 250);
            int64_t back[2];
            int n = cf_tz_from_civil(tz, &c, back);
            assert_true(n == 1 || n == 2);
            assert_true(back[0] == t * 1000 + 250 || back[1] == t * 1000 + 250);
        }
    }
    unsetenv("TZ");
    tzset();
}

static void test_footer_rule_answers_after_2037(void **state)
{
    (void)state;
    const cf_tz *berlin = zone("Europe/Berlin"), *sydney = zone("Australia/Sydney");
    assert_int_equal(cf_tz_offset_at(berlin, utc_ms(2160, 7, 1, 12, 0, 0) / 1000), 7200);
    assert_int_equal(cf_tz_offset_at(berlin, utc_ms(2160, 12, 1, 12, 0, 0) / 1000), 3600);
    /* the last Sunday of March 2161 is the 29th: 01:00 UTC is the first second of CEST */
    assert_int_equal(cf_tz_offset_at(berlin, utc_ms(2161, 3, 29, 1, 0, 0) / 1000), 7200);
    assert_int_equal(cf_tz_offset_at(berlin, utc_ms(2161, 3, 29, 0, 59, 59) / 1000), 3600);
    assert_int_equal(cf_tz_offset_at(sydney, utc_ms(2160, 1, 10, 0, 0, 0) / 1000), 11 * 3600);
    assert_int_equal(cf_tz_offset_at(sydney, utc_ms(2160, 7, 10, 0, 0, 0) / 1000), 10 * 3600);
}

static void test_gap_and_repeated_hour(void **state)
{
    (void)state;
    const cf_tz *berlin = zone("Europe/Berlin"), *ny = zone("America/New_York");
    int64_t out[2];
    /* 2026-03-29 02:30 does not exist in Berlin: the gap starts at 01:00 UTC */
    cf_civil gap = {2026, 3, 29, 2, 30, 0, 0};
    assert_int_equal(cf_tz_from_civil(berlin, &gap, out), 0);
    assert_int_equal(out[0], utc_ms(2026, 3, 29, 1, 0, 0));
    assert_int_equal(out[1], utc_ms(2026, 3, 29, 1, 30, 0)); /* 03:30 CEST */
    /* 2026-10-25 02:30 happens twice */
    cf_civil fold = {2026, 10, 25, 2, 30, 0, 0};
    assert_int_equal(cf_tz_from_civil(berlin, &fold, out), 2);
    assert_int_equal(out[0], utc_ms(2026, 10, 25, 0, 30, 0));
    assert_int_equal(out[1], utc_ms(2026, 10, 25, 1, 30, 0));
    /* New York: 2026-03-08 02:15 is skipped (gap at 07:00 UTC), 2026-11-01 01:15 repeats */
    cf_civil ny_gap = {2026, 3, 8, 2, 15, 0, 0}, ny_fold = {2026, 11, 1, 1, 15, 0, 0};
    assert_int_equal(cf_tz_from_civil(ny, &ny_gap, out), 0);
    assert_int_equal(out[0], utc_ms(2026, 3, 8, 7, 0, 0));
    assert_int_equal(cf_tz_from_civil(ny, &ny_fold, out), 2);
    assert_int_equal(out[0], utc_ms(2026, 11, 1, 5, 15, 0));
    assert_int_equal(out[1], utc_ms(2026, 11, 1, 6, 15, 0));
    /* an ordinary time, and fields out of range carried: month 13, day 0, hour 25 */
    cf_civil plain = {2026, 12, 6, 9, 30, 0, 5};
    assert_int_equal(cf_tz_from_civil(berlin, &plain, out), 1);
    assert_int_equal(out[0], utc_ms(2026, 12, 6, 8, 30, 0) + 5);
    cf_civil carried = {2026, 13, 0, 25, 0, 0, 0}; /* = 2027-01-01 01:00 (Dec 31 + 25h) */
    assert_int_equal(cf_tz_from_civil(cf_tz_utc(), &carried, out), 1);
    assert_int_equal(out[0], utc_ms(2027, 1, 1, 1, 0, 0));
}

static void test_posix_rules(void **state)
{
    (void)state;
    cf_tz_rule r;
    assert_true(cf_tz_rule_parse("<-03>3", &r));
    assert_false(r.has_dst);
    assert_int_equal(r.std_off, -3 * 3600);
    assert_true(cf_tz_rule_parse("<+0530>-5:30", &r));
    assert_int_equal(r.std_off, 5 * 3600 + 1800);
    assert_true(cf_tz_rule_parse("EST5EDT", &r)); /* no rule: the US one */
    assert_int_equal(cf_tz_rule_offset_at(&r, utc_ms(2030, 7, 1, 0, 0, 0) / 1000), -4 * 3600);
    assert_int_equal(cf_tz_rule_offset_at(&r, utc_ms(2030, 1, 1, 0, 0, 0) / 1000), -5 * 3600);
    assert_true(cf_tz_rule_parse("EST5EDT4,0/0,J365/25", &r)); /* daylight all year (TZif v3) */
    for (int m = 1; m <= 12; m++)
        assert_int_equal(cf_tz_rule_offset_at(&r, utc_ms(2031, m, 15, 0, 0, 0) / 1000), -4 * 3600);
    assert_true(cf_tz_rule_parse("IST-1GMT0,M10.5.0,M3.5.0/1", &r)); /* Dublin: negative DST */
    assert_int_equal(cf_tz_rule_offset_at(&r, utc_ms(2040, 1, 15, 0, 0, 0) / 1000), 0);
    assert_int_equal(cf_tz_rule_offset_at(&r, utc_ms(2040, 7, 15, 0, 0, 0) / 1000), 3600);
    const char *bad[] = {"",
                         "AB1",
                         "CET",
                         "CET-1CEST,M13.1.0,M10.5.0",
                         "CET-1CEST,M3.5.0",
                         "CET-25",
                         "<AB>1",
                         "CET-1CEST,M3.5.0,M10.5.0/3x",
                         "CET-1CEST,J0,J365"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (cf_tz_rule_parse(bad[i], &r))
            fail_msg("accepted '%s'", bad[i]);
}

static void test_names_never_become_paths(void **state)
{
    (void)state;
    const char *refused[] = {"",
                             "/etc/passwd",
                             "../../etc/passwd",
                             "Europe/../../etc/passwd",
                             "Europe//Berlin",
                             "Europe/",
                             "./UTC",
                             "Europe/Ber lin",
                             "Europe/Berlin;rm",
                             "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"};
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        cf_error err = {0};
        assert_null(cf_tz_get(refused[i], &err));
        assert_string_equal(err.code, "bad_value");
    }
    cf_error err = {0};
    assert_null(cf_tz_get("Nowhere/Atlantis", &err));
    assert_string_equal(err.code, "not_found");
    assert_non_null(strstr(err.msg, "Nowhere/Atlantis"));
    assert_null(cf_tz_get("Europe", &err)); /* a directory */
    assert_string_equal(err.code, "not_found");
    /* the same zone twice is the same object; UTC needs no file */
    assert_ptr_equal(zone("Asia/Tokyo"), zone("Asia/Tokyo"));
    assert_ptr_equal(cf_tz_get("UTC", NULL), cf_tz_utc());
    assert_string_equal(cf_tz_name(zone("Asia/Tokyo")), "Asia/Tokyo");
}

static void test_parse_refuses_damaged_files(void **state)
{
    (void)state;
    FILE *f = fopen("/usr/share/zoneinfo/Europe/Berlin", "rb");
    assert_non_null(f);
    uint8_t buf[8192];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    cf_error err = {0};
    cf_tz *whole = cf_tz_parse("copy", buf, n, &err);
    assert_non_null(whole);
    assert_int_equal(cf_tz_offset_at(whole, utc_ms(2026, 7, 1, 0, 0, 0) / 1000), 7200);
    cf_tz_free(whole);
    size_t cuts[] = {0, 3, 43, 44, 100, n / 2, n - 2};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        err = (cf_error){0};
        assert_null(cf_tz_parse("cut", buf, cuts[i], &err));
        assert_string_equal(err.code, "bad_value");
    }
    uint8_t bad[8192];
    memcpy(bad, buf, n);
    bad[0] = 'X';
    assert_null(cf_tz_parse("magic", bad, n, &err));
    memcpy(bad, buf, n);
    memcpy(bad + n - 6, "\nxx\n", 4); /* a footer that is not a rule */
    assert_null(cf_tz_parse("footer", bad, n - 2, &err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calendar_helpers),
        cmocka_unit_test(test_offsets_match_glibc),
        cmocka_unit_test(test_footer_rule_answers_after_2037),
        cmocka_unit_test(test_gap_and_repeated_hour),
        cmocka_unit_test(test_posix_rules),
        cmocka_unit_test(test_names_never_become_paths),
        cmocka_unit_test(test_parse_refuses_damaged_files),
    };
    cf_test_apply_filter();
    return cmocka_run_group_tests_name("tz", tests, NULL, NULL);
}
