// SPDX-License-Identifier: MIT
/* common/tz_rule.c: POSIX TZ rules (common/tz_rule.h): "std offset [dst [offset] [,start[/time],
 * end[/time]]]", names plain (>= 3 letters) or quoted in <>, offsets west-positive as POSIX
 * writes them (stored here east-positive), dates as Jn, n or Mm.w.d. */
#include "common/tz_rule.h"

#include <ctype.h>
#include <stddef.h>

#include "common/tz.h"

/* Skips a zone abbreviation at *p; false when there is none. */
static bool parse_name(const char **p)
{
    const char *s = *p;
    if (*s == '<') {
        s++;
        const char *start = s;
        while (*s && *s != '>') {
            if (!isalnum((unsigned char)*s) && *s != '+' && *s != '-')
                return false;
            s++;
        }
        if (*s != '>' || s - start < 3)
            return false;
        *p = s + 1;
        return true;
    }
    const char *start = s;
    while (isalpha((unsigned char)*s))
        s++;
    if (s - start < 3)
        return false;
    *p = s;
    return true;
}

/* Reads [+-]hh[:mm[:ss]] with hh <= max_h; seconds into *out (sign applied). */
static bool parse_hms(const char **p, int max_h, int32_t *out)
{
    const char *s = *p;
    int sign = 1;
    if (*s == '+' || *s == '-')
        sign = *s++ == '-' ? -1 : 1;
    int part[3] = {0, 0, 0};
    for (int i = 0; i < 3; i++) {
        if (i > 0) {
            if (*s != ':')
                break;
            s++;
        }
        if (!isdigit((unsigned char)*s))
            return false;
        int v = 0, digits = 0;
        while (isdigit((unsigned char)*s) && digits < 3) {
            v = v * 10 + (*s++ - '0');
            digits++;
        }
        if (isdigit((unsigned char)*s) || (i == 0 ? v > max_h : v > 59))
            return false;
        part[i] = v;
    }
    *out = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
    *p = s;
    return true;
}

static bool parse_int(const char **p, int lo, int hi, int *out)
{
    const char *s = *p;
    if (!isdigit((unsigned char)*s))
        return false;
    int v = 0;
    while (isdigit((unsigned char)*s)) {
        v = v * 10 + (*s++ - '0');
        if (v > hi)
            return false;
    }
    if (v < lo)
        return false;
    *out = v;
    *p = s;
    return true;
}

static bool parse_date(const char **p, cf_tz_rule_date *d)
{
    const char *s = *p;
    *d = (cf_tz_rule_date){.time_s = 7200};
    bool ok;
    if (*s == 'J') {
        s++;
        d->kind = 'J';
        ok = parse_int(&s, 1, 365, &d->n);
    } else if (*s == 'M') {
        s++;
        d->kind = 'M';
        ok = parse_int(&s, 1, 12, &d->m) && *s++ == '.' && parse_int(&s, 1, 5, &d->w) &&
             *s++ == '.' && parse_int(&s, 0, 6, &d->d);
    } else {
        d->kind = 'n';
        ok = parse_int(&s, 0, 365, &d->n);
    }
    if (ok && *s == '/') {
        s++;
        ok = parse_hms(&s, 167, &d->time_s);
    }
    *p = s;
    return ok;
}

bool cf_tz_rule_parse(const char *s, cf_tz_rule *out)
{
    *out = (cf_tz_rule){0};
    int32_t v;
    if (!s || !parse_name(&s) || !parse_hms(&s, 24, &v))
        return false;
    out->std_off = -v;
    if (*s == '\0')
        return true;
    if (!parse_name(&s))
        return false;
    out->has_dst = true;
    out->dst_off = out->std_off + 3600;
    if (*s != ',' && *s != '\0') {
        if (!parse_hms(&s, 24, &v))
            return false;
        out->dst_off = -v;
    }
    if (*s == '\0') {
        const char *us = "M3.2.0,M11.1.0";
        return parse_date(&us, &out->start) && *us++ == ',' && parse_date(&us, &out->end);
    }
    if (*s++ != ',' || !parse_date(&s, &out->start) || *s++ != ',' || !parse_date(&s, &out->end))
        return false;
    return *s == '\0';
}

/* The day (days since 1970-01-01) date d falls on in year y. */
static int64_t rule_day(const cf_tz_rule_date *d, int y)
{
    int64_t jan1 = cf_days_from_civil(y, 1, 1);
    bool leap = cf_days_in_month(y, 2) == 29;
    if (d->kind == 'J')
        return jan1 + d->n - 1 + (leap && d->n >= 60);
    if (d->kind == 'n')
        return jan1 + d->n;
    int64_t first = cf_days_from_civil(y, d->m, 1);
    int64_t day = first + (d->d - cf_weekday(first) + 7) % 7 + (int64_t)(d->w - 1) * 7;
    while (day >= first + cf_days_in_month(y, d->m))
        day -= 7;
    return day;
}

int32_t cf_tz_rule_offset_at(const cf_tz_rule *r, int64_t utc_s)
{
    if (!r->has_dst)
        return r->std_off;
    int64_t local = utc_s + r->std_off;
    int64_t days = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
    int y, m, d;
    cf_civil_from_days(days, &y, &m, &d);
    int64_t start = rule_day(&r->start, y) * 86400 + r->start.time_s - r->std_off;
    int64_t end = rule_day(&r->end, y) * 86400 + r->end.time_s - r->dst_off;
    bool dst = start < end ? (utc_s >= start && utc_s < end) : !(utc_s >= end && utc_s < start);
    return dst ? r->dst_off : r->std_off;
}
