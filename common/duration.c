// SPDX-License-Identifier: MIT
/* common/duration.c: strict parsers for durations and times; no locale, no strtod surprises
 * (hex, "inf", "nan" and leading spaces are refused). */
#include "common/duration.h"

#include <ctype.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DURATION_MS (100LL * 365 * 24 * 3600 * 1000)

/* parse_decimal reads [0-9]+(.[0-9]+)? from *p into *out and advances *p. */
static bool parse_decimal(const char **p, double *out)
{
    const char *s = *p;
    if (!isdigit((unsigned char)*s))
        return false;
    double v = 0;
    while (isdigit((unsigned char)*s)) {
        v = v * 10 + (*s - '0');
        s++;
        if (v > 1e15)
            return false;
    }
    if (*s == '.') {
        s++;
        if (!isdigit((unsigned char)*s))
            return false;
        double scale = 0.1;
        while (isdigit((unsigned char)*s)) {
            v += (*s - '0') * scale;
            scale /= 10;
            s++;
        }
    }
    *p = s;
    *out = v;
    return true;
}

cf_status cf_duration_parse_ms(const char *s, int64_t *out_ms, cf_error *err)
{
    const char *p = s;
    double v;
    if (s == NULL || !parse_decimal(&p, &v))
        return cf_error_set(err, "bad_value", "duration",
                            "'%s' is not a duration (expected e.g. 2, 0.5, 1500ms, 30s, 10m, 2h)",
                            s ? s : "");
    double mult;
    if (*p == '\0' || strcmp(p, "s") == 0)
        mult = 1000;
    else if (strcmp(p, "ms") == 0)
        mult = 1;
    else if (strcmp(p, "m") == 0 || strcmp(p, "min") == 0)
        mult = 60 * 1000;
    else if (strcmp(p, "h") == 0)
        mult = 3600 * 1000;
    else if (strcmp(p, "d") == 0)
        mult = 24 * 3600 * 1000;
    else
        return cf_error_set(err, "bad_value", "duration",
                            "'%s' has an unknown unit '%s' (use ms, s, m, h or d)", s, p);
    double ms = v * mult;
    if (ms > (double)MAX_DURATION_MS)
        return cf_error_set(err, "bad_value", "duration", "'%s' is longer than 100 years", s);
    *out_ms = (int64_t)llround(ms);
    return CF_OK;
}

/* days_from_civil: days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * well-known algorithm, written out here). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static bool read_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool parse_iso8601(const char *s, int64_t *out_ms)
{
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0;
    if (!read_digits(&p, 4, &y) || *p++ != '-' || !read_digits(&p, 2, &mo) || *p++ != '-' ||
        !read_digits(&p, 2, &d))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > 31)
        return false;
    double frac = 0;
    if (*p == 'T' || *p == ' ') {
        p++;
        if (!read_digits(&p, 2, &h) || *p++ != ':' || !read_digits(&p, 2, &mi))
            return false;
        if (*p == ':') {
            p++;
            if (!read_digits(&p, 2, &sec))
                return false;
            if (*p == '.') {
                p++;
                double scale = 0.1;
                if (!isdigit((unsigned char)*p))
                    return false;
                while (isdigit((unsigned char)*p)) {
                    frac += (*p - '0') * scale;
                    scale /= 10;
                    p++;
                }
            }
        }
        if (h > 23 || mi > 59 || sec > 60)
            return false;
    }
    int offset_min = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
        if (!read_digits(&p, 2, &oh))
            return false;
        if (*p == ':')
            p++;
        if (*p && !read_digits(&p, 2, &om))
            return false;
        offset_min = sign * (oh * 60 + om);
    }
    if (*p != '\0')
        return false;
    int64_t days = days_from_civil(y, (unsigned)mo, (unsigned)d);
    int64_t secs = days * 86400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    *out_ms = secs * 1000 + (int64_t)llround(frac * 1000);
    return true;
}

cf_status cf_time_parse_unix_ms(const char *s, int64_t *out_ms, cf_error *err)
{
    if (s == NULL || *s == '\0')
        return cf_error_set(err, "bad_value", "time", "empty time");
    if (parse_iso8601(s, out_ms))
        return CF_OK;
    const char *p = s;
    double v;
    if (parse_decimal(&p, &v) && *p == '\0' && v < 1e13) {
        *out_ms = (int64_t)llround(v * 1000);
        return CF_OK;
    }
    return cf_error_set(err, "bad_value", "time",
                        "'%s' is not a time (expected ISO-8601 like 2026-11-26T16:20:00Z, or "
                        "Unix seconds)",
                        s);
}

void cf_duration_format(int64_t ms, char *buf, unsigned cap)
{
    if (ms < 1000)
        snprintf(buf, cap, "%lldms", (long long)ms);
    else if (ms < 60 * 1000)
        snprintf(buf, cap, "%.3gs", (double)ms / 1000);
    else if (ms < 3600 * 1000)
        snprintf(buf, cap, "%.3gm", (double)ms / 60000);
    else
        snprintf(buf, cap, "%.3gh", (double)ms / 3600000);
}
