// SPDX-License-Identifier: MIT
/* common/cron.c: the cron parser and the next-fire search (common/cron.h). The search walks
 * wall-clock candidates field by field, then maps each to instants with cf_tz_from_civil and
 * applies cronie's DST rule there. */
#include "common/cron.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#define EXPR_MAX           256
#define SEARCH_YEARS       10
#define FALLBACK_WINDOW_MS (6LL * 3600 * 1000)

typedef struct field_spec {
    const char *name;
    int lo, hi;
    const char *const *names; /* 3-letter names for lo.. (NULL: numbers only) */
    int names_from;           /* the value of names[0] */
} field_spec;

static const char *const MONTHS[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL",
                                     "AUG", "SEP", "OCT", "NOV", "DEC", NULL};
static const char *const DAYS[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", NULL};

static const field_spec SPECS[6] = {
    {"second", 0, 59, NULL, 0},       {"minute", 0, 59, NULL, 0},  {"hour", 0, 23, NULL, 0},
    {"day-of-month", 1, 31, NULL, 0}, {"month", 1, 12, MONTHS, 1}, {"day-of-week", 0, 7, DAYS, 0},
};

static const struct {
    const char *name, *expr;
} MACROS[] = {
    {"@yearly", "0 0 1 1 *"}, {"@annually", "0 0 1 1 *"}, {"@monthly", "0 0 1 * *"},
    {"@weekly", "0 0 * * 0"}, {"@daily", "0 0 * * *"},    {"@midnight", "0 0 * * *"},
    {"@hourly", "0 * * * *"},
};

/* field_error fills err for field number pos (1-based as written) and returns CF_ERR_INVALID. */
static cf_status field_error(cf_error *err, int pos, const field_spec *f, const char *what)
{
    return cf_error_set(err, "bad_value", "cron", "cron field %d (%s): %s", pos, f->name, what);
}

/* parse_value reads a number or a name at *p; false when neither is there. */
static bool parse_value(const char **p, const field_spec *f, int *out)
{
    const char *s = *p;
    if (isdigit((unsigned char)*s)) {
        int v = 0;
        while (isdigit((unsigned char)*s)) {
            if (v > 1000)
                return false;
            v = v * 10 + (*s++ - '0');
        }
        *p = s;
        *out = v;
        return true;
    }
    if (f->names == NULL || !isalpha((unsigned char)s[0]) || !isalpha((unsigned char)s[1]) ||
        !isalpha((unsigned char)s[2]) || isalpha((unsigned char)s[3]))
        return false;
    for (int i = 0; f->names[i] != NULL; i++)
        if (strncasecmp(s, f->names[i], 3) == 0) {
            *p = s + 3;
            *out = f->names_from + i;
            return true;
        }
    return false;
}

/* parse_item parses one list item ([begin, end)) into *bits. */
static cf_status parse_item(const char *s, const char *end, int pos, const field_spec *f,
                            uint64_t *bits, cf_error *err)
{
    char what[160];
    int lo, hi;
    bool star = false, single = false;
    const char *p = s;
    if (p == end)
        return field_error(err, pos, f, "empty list item");
    if (*p == '*') {
        star = true;
        lo = f->lo;
        hi = f->hi == 7 ? 6 : f->hi; /* day-of-week: * is 0-6 */
        p++;
    } else {
        if (!parse_value(&p, f, &lo)) {
            snprintf(what, sizeof what, "'%.*s' is not a number%s", (int)(end - s), s,
                     f->names ? " or a name" : "");
            return field_error(err, pos, f, what);
        }
        hi = lo;
        single = true;
        if (p < end && *p == '-') {
            p++;
            if (!parse_value(&p, f, &hi)) {
                snprintf(what, sizeof what, "range '%.*s' has no end", (int)(end - s), s);
                return field_error(err, pos, f, what);
            }
            single = false;
        }
    }
    int step = 1;
    if (p < end && *p == '/') {
        p++;
        const char *q = p;
        step = 0;
        while (q < end && isdigit((unsigned char)*q) && step <= 1000)
            step = step * 10 + (*q++ - '0');
        if (q == p || q != end || step < 1 || step > f->hi) {
            snprintf(what, sizeof what, "step in '%.*s' must be a number 1-%d", (int)(end - s), s,
                     f->hi);
            return field_error(err, pos, f, what);
        }
        p = q;
        if (single)
            hi = f->hi == 7 ? 6 : f->hi; /* N/STEP: from N to the end of the range */
    }
    if (p != end) {
        snprintf(what, sizeof what, "unexpected '%.*s' in '%.*s'", (int)(end - p), p,
                 (int)(end - s), s);
        return field_error(err, pos, f, what);
    }
    if (!star && (lo < f->lo || lo > f->hi || hi < f->lo || hi > f->hi)) {
        snprintf(what, sizeof what, "%d is out of range %d-%d", lo < f->lo || lo > f->hi ? lo : hi,
                 f->lo, f->hi);
        return field_error(err, pos, f, what);
    }
    if (lo > hi) {
        snprintf(what, sizeof what, "range %d-%d runs backwards", lo, hi);
        return field_error(err, pos, f, what);
    }
    for (int v = lo; v <= hi; v += step)
        *bits |= 1ULL << (f->hi == 7 && v == 7 ? 0 : v); /* day-of-week 7 is Sunday */
    return CF_OK;
}

/* parse_field parses one comma list; *star says whether it starts with '*'. */
static cf_status parse_field(const char *s, const char *end, int pos, const field_spec *f,
                             uint64_t *bits, bool *star, cf_error *err)
{
    *bits = 0;
    *star = s < end && *s == '*';
    for (const char *p = s;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        cf_status st = parse_item(p, e, pos, f, bits, err);
        if (st != CF_OK)
            return st;
        if (comma == NULL)
            return CF_OK;
        p = comma + 1;
    }
}

cf_status cf_cron_parse(const char *expr, cf_cron *out, cf_error *err)
{
    memset(out, 0, sizeof *out);
    if (expr == NULL || strlen(expr) > EXPR_MAX)
        return cf_error_set(err, "bad_value", "cron", "cron expression missing or over %d bytes",
                            EXPR_MAX);
    while (isspace((unsigned char)*expr))
        expr++;
    if (*expr == '@') {
        size_t n = strcspn(expr, " \t\r\n");
        for (size_t i = 0; i < sizeof MACROS / sizeof MACROS[0]; i++)
            if (strlen(MACROS[i].name) == n && strncasecmp(expr, MACROS[i].name, n) == 0 &&
                expr[n + strspn(expr + n, " \t\r\n")] == '\0')
                return cf_cron_parse(MACROS[i].expr, out, err);
        return cf_error_set(err, "bad_value", "cron",
                            "unknown cron macro '%.*s' (use @yearly, @annually, @monthly, "
                            "@weekly, @daily, @midnight or @hourly)",
                            (int)n, expr);
    }
    const char *start[7], *end[7];
    int n = 0;
    for (const char *p = expr; *p != '\0';) {
        if (isspace((unsigned char)*p)) {
            p++;
            continue;
        }
        if (n == 7)
            break;
        start[n] = p;
        while (*p != '\0' && !isspace((unsigned char)*p))
            p++;
        end[n++] = p;
    }
    if (n != 5 && n != 6)
        return cf_error_set(err, "bad_value", "cron",
                            "cron expression needs 5 fields (minute hour day-of-month month "
                            "day-of-week) or 6 with a leading seconds field; got %s%d",
                            n == 7 ? "more than " : "", n == 7 ? 6 : n);
    int first = n == 6 ? 0 : 1;            /* SPECS index of the first field written */
    uint64_t bits[6] = {1, 0, 0, 0, 0, 0}; /* five fields: second 0 */
    bool star[6] = {false};
    for (int i = 0; i < n; i++) {
        cf_status st = parse_field(start[i], end[i], i + 1, &SPECS[first + i], &bits[first + i],
                                   &star[first + i], err);
        if (st != CF_OK)
            return st;
    }
    out->sec = bits[0];
    out->min = bits[1];
    out->hour = (uint32_t)bits[2];
    out->dom = (uint32_t)bits[3];
    out->mon = (uint16_t)bits[4];
    out->dow = (uint8_t)bits[5];
    out->min_star = star[1];
    out->hour_star = star[2];
    out->dom_star = star[3];
    out->dow_star = star[5];
    return CF_OK;
}

bool cf_cron_is_wildcard(const cf_cron *c)
{
    return c->min_star || c->hour_star;
}

/* next_bit: the lowest set bit of bits at or above v, or -1. */
static int next_bit(uint64_t bits, int v)
{
    if (v > 63)
        return -1;
    uint64_t m = bits & (~0ULL << v);
    return m ? __builtin_ctzll(m) : -1;
}

static bool day_matches(const cf_cron *c, int y, int m, int d)
{
    bool dom = (c->dom >> d) & 1;
    bool dow = (c->dow >> cf_weekday(cf_days_from_civil(y, m, d))) & 1;
    return c->dom_star || c->dow_star ? dom && dow : dom || dow;
}

/* civil_next moves *t to the first wall-clock second at or after *t that matches c; false when
 * none before year max_year. t->ms is ignored (taken as 0). */
static bool civil_next(const cf_cron *c, cf_civil *t, int max_year)
{
    int y = t->year, mo = t->month, d = t->day, h = t->hour, mi = t->min, s = t->sec;
    for (;;) {
        if (y > max_year)
            return false;
        int b = next_bit(c->mon, mo);
        if (b < 0) {
            y++, mo = 1, d = 1, h = mi = s = 0;
            continue;
        }
        if (b != mo)
            mo = b, d = 1, h = mi = s = 0;
        if (d > cf_days_in_month(y, mo) || !day_matches(c, y, mo, d)) {
            if (d >= cf_days_in_month(y, mo))
                mo++, d = 1;
            else
                d++;
            h = mi = s = 0;
            continue;
        }
        b = next_bit(c->hour, h);
        if (b < 0) {
            d++, h = mi = s = 0;
            continue;
        }
        if (b != h)
            h = b, mi = s = 0;
        b = next_bit(c->min, mi);
        if (b < 0 || b > 59) {
            h++, mi = s = 0;
            continue;
        }
        if (b != mi)
            mi = b, s = 0;
        b = next_bit(c->sec, s);
        if (b < 0 || b > 59) {
            mi++, s = 0;
            continue;
        }
        s = b;
        break;
    }
    *t = (cf_civil){y, mo, d, h, mi, s, 0};
    return true;
}

/* civil_step moves *t one second on, normalising the fields civil_next reads. */
static void civil_step(cf_civil *t)
{
    if (++t->sec < 60)
        return;
    t->sec = 0;
    if (++t->min < 60)
        return;
    t->min = 0;
    if (++t->hour < 24)
        return;
    t->hour = 0;
    if (++t->day <= cf_days_in_month(t->year, t->month))
        return;
    t->day = 1;
    if (++t->month <= 12)
        return;
    t->month = 1;
    t->year++;
}

static int civil_cmp(const cf_civil *a, const cf_civil *b)
{
    const int x[6] = {a->year, a->month, a->day, a->hour, a->min, a->sec};
    const int y[6] = {b->year, b->month, b->day, b->hour, b->min, b->sec};
    for (int i = 0; i < 6; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}

/* first_pass: the earliest "first reading" of a matching wall-clock time at or after t: each
 * wall-clock time's earlier instant, or for a time skipped by a gap the instant after the gap
 * (fixed-time entries only). These instants never decrease as the wall-clock time grows, so the
 * first one at or after t is the least. */
static cf_status first_pass(const cf_cron *c, const cf_tz *tz, int64_t t, int64_t *out)
{
    bool wild = cf_cron_is_wildcard(c);
    cf_civil l;
    cf_tz_to_civil(tz, t, &l, NULL);
    int max_year = l.year + SEARCH_YEARS;
    for (;;) {
        if (!civil_next(c, &l, max_year))
            return CF_ERR_NOT_FOUND;
        int64_t in[2];
        int n = cf_tz_from_civil(tz, &l, in);
        if ((n != 0 || !wild) && in[0] >= t) {
            *out = in[0];
            return CF_OK;
        }
        civil_step(&l);
    }
}

/* second_pass: for a wildcard entry, the earliest second reading (a repeated hour's later
 * instant) at or after t, looked for only when the clocks go back within six hours of t: only
 * then can a second reading precede the first pass's answer. false when there is none. */
static bool second_pass(const cf_cron *c, const cf_tz *tz, int64_t t, int64_t *out)
{
    int64_t t_s = t / 1000;
    if (cf_tz_offset_at(tz, t_s - FALLBACK_WINDOW_MS / 1000) <=
        cf_tz_offset_at(tz, t_s + FALLBACK_WINDOW_MS / 1000))
        return false;
    cf_civil l, stop;
    cf_tz_to_civil(tz, t - FALLBACK_WINDOW_MS, &l, NULL);
    cf_tz_to_civil(tz, t + FALLBACK_WINDOW_MS, &stop, NULL);
    while (civil_next(c, &l, stop.year) && civil_cmp(&l, &stop) <= 0) {
        int64_t in[2];
        if (cf_tz_from_civil(tz, &l, in) == 2 && in[1] >= t) {
            *out = in[1];
            return true;
        }
        civil_step(&l);
    }
    return false;
}

cf_status cf_cron_next(const cf_cron *c, const cf_tz *tz, int64_t after_ms, int64_t *out_ms)
{
    int64_t s = after_ms / 1000 - (after_ms % 1000 < 0); /* floor to the second */
    int64_t t = (s + 1) * 1000;                          /* strictly after: the next whole second */
    int64_t first = 0, second = 0;
    cf_status st = first_pass(c, tz, t, &first);
    bool have_second = cf_cron_is_wildcard(c) && second_pass(c, tz, t, &second);
    if (st != CF_OK && !have_second)
        return st;
    *out_ms = st != CF_OK || (have_second && second < first) ? second : first;
    return CF_OK;
}
