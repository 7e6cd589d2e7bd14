// SPDX-License-Identifier: MIT
/* common/calendar.c: the tick grid (common/calendar.h): tick k from the anchor in O(1) for
 * every period, and the first tick at or after an instant from an estimate corrected by at
 * most a step or two (DST offsets move a calendar tick by hours, never by a period). */
#include "common/calendar.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#define DAY_MS 86400000LL

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

cf_status cf_grid_init(cf_grid *g, cf_period_unit unit, int64_t every, const cf_tz *tz,
                       int64_t anchor_ms, cf_error *err)
{
    static const int64_t max_every[] = {
        [CF_PERIOD_MS] = CF_GRID_MAX_MS,
        [CF_PERIOD_DAYS] = CF_PERIOD_MAX_DAYS,
        [CF_PERIOD_MONTHS] = CF_PERIOD_MAX_MONTHS,
    };
    static const char *const unit_name[] = {
        [CF_PERIOD_MS] = "milliseconds", [CF_PERIOD_DAYS] = "days", [CF_PERIOD_MONTHS] = "months"};
    *g = (cf_grid){0};
    if ((unsigned)unit > CF_PERIOD_MONTHS)
        return cf_error_set(err, "bad_value", "period", "unknown period unit %d", (int)unit);
    if (every <= 0 || every > max_every[unit])
        return cf_error_set(err, "bad_value", "period",
                            "a period of %" PRId64 " %s is not in 1..%" PRId64, every,
                            unit_name[unit], max_every[unit]);
    if (anchor_ms < 0 || anchor_ms > CF_GRID_MAX_MS)
        return cf_error_set(err, "bad_value", "start_at",
                            "start %" PRId64 " is not a Unix time in ms between 1970 and 9999",
                            anchor_ms);
    g->unit = unit;
    g->every = every;
    g->tz = tz ? tz : cf_tz_utc();
    g->anchor_ms = anchor_ms;
    if (unit != CF_PERIOD_MS)
        cf_tz_to_civil(g->tz, anchor_ms, &g->anchor, NULL);
    return CF_OK;
}

/* local_ms: the instant of wall-clock time c in tz; a skipped time gives the first instant
 * after the gap, a repeated one the earlier instant (out[0] in both cases). */
static int64_t local_ms(const cf_tz *tz, const cf_civil *c)
{
    int64_t out[2];
    (void)cf_tz_from_civil(tz, c, out);
    return out[0];
}

int64_t cf_grid_tick(const cf_grid *g, int64_t k)
{
    int64_t steps, t;
    if (k < 0 || __builtin_mul_overflow(k, g->every, &steps))
        return CF_GRID_NEVER;
    const cf_civil *a = &g->anchor;
    switch (g->unit) {
    case CF_PERIOD_MS:
        if (steps > CF_GRID_MAX_MS - g->anchor_ms)
            return CF_GRID_NEVER;
        return g->anchor_ms + steps;
    case CF_PERIOD_DAYS: {
        if (steps > CF_PERIOD_MAX_DAYS)
            return CF_GRID_NEVER;
        if (g->tz == cf_tz_utc()) {
            t = g->anchor_ms + steps * DAY_MS;
            break;
        }
        int y, m, d;
        cf_civil_from_days(cf_days_from_civil(a->year, a->month, a->day) + steps, &y, &m, &d);
        cf_civil c = {y, m, d, a->hour, a->min, a->sec, a->ms};
        t = local_ms(g->tz, &c);
        break;
    }
    case CF_PERIOD_MONTHS:
    default: {
        if (steps > CF_PERIOD_MAX_MONTHS)
            return CF_GRID_NEVER;
        int64_t total = (int64_t)a->year * 12 + (a->month - 1) + steps;
        int y = (int)floor_div(total, 12), m = (int)(total - (int64_t)y * 12) + 1;
        int dim = cf_days_in_month(y, m);
        cf_civil c = {y, m, a->day < dim ? a->day : dim, a->hour, a->min, a->sec, a->ms};
        t = local_ms(g->tz, &c);
        break;
    }
    }
    return t > CF_GRID_MAX_MS ? CF_GRID_NEVER : t;
}

/* estimate: an index near the first tick at or after t (> anchor), off by a step or two. */
static int64_t estimate(const cf_grid *g, int64_t t)
{
    int64_t span = t - g->anchor_ms;
    switch (g->unit) {
    case CF_PERIOD_MS:
        return span / g->every + (span % g->every != 0);
    case CF_PERIOD_DAYS:
        return span / (g->every * DAY_MS);
    case CF_PERIOD_MONTHS:
    default: {
        cf_civil c;
        cf_tz_to_civil(g->tz, t, &c, NULL);
        int64_t months =
            ((int64_t)c.year * 12 + c.month) - ((int64_t)g->anchor.year * 12 + g->anchor.month);
        return months > 0 ? months / g->every : 0;
    }
    }
}

int64_t cf_grid_index_at_or_after(const cf_grid *g, int64_t t_ms)
{
    if (t_ms <= g->anchor_ms)
        return 0;
    int64_t k = estimate(g, t_ms);
    /* Ticks never decrease with k, and CF_GRID_NEVER is after every t: both loops end, and
     * each runs at most a couple of times from the estimate. */
    while (k > 0 && cf_grid_tick(g, k - 1) >= t_ms)
        k--;
    int64_t t;
    while ((t = cf_grid_tick(g, k)) < t_ms)
        k++;
    return t == CF_GRID_NEVER ? -1 : k;
}

void cf_grid_describe(const cf_grid *g, char *buf, size_t cap)
{
    switch (g->unit) {
    case CF_PERIOD_MS:
        snprintf(buf, cap, "%" PRId64 "ms", g->every);
        break;
    case CF_PERIOD_DAYS:
        snprintf(buf, cap, "%" PRId64 "d %s", g->every, cf_tz_name(g->tz));
        break;
    case CF_PERIOD_MONTHS:
    default:
        snprintf(buf, cap, "%" PRId64 "mo %s", g->every, cf_tz_name(g->tz));
        break;
    }
}
