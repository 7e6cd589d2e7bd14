// SPDX-License-Identifier: MIT
/* common/calendar.h: the tick grid of a periodic step (durably_repeat, docs/SPEC.md §4): tick k
 * of a grid is anchor + k periods, computed from the anchor every time, so ticks never drift
 * with lateness and calendar clamping never accumulates.
 *
 * A period is a fixed number of milliseconds, or a calendar number of days or months in a time
 * zone (common/tz.h):
 *   - days keep the anchor's local wall-clock time across DST changes; a wall-clock time that a
 *     gap skips becomes the first instant after the gap, one that a repeated hour reads twice
 *     the earlier instant;
 *   - months keep the anchor's day of the month, clamped to the month's last day (an anchor on
 *     Jan 31 gives Feb 28 or 29, then Mar 31: each tick is computed from the anchor, never from
 *     the previous tick), at the anchor's wall-clock time.
 * Every function is O(1) (a zone lookup is O(log transitions)); none loops over past ticks. */
#ifndef CF_COMMON_CALENDAR_H
#define CF_COMMON_CALENDAR_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "common/tz.h"

typedef enum cf_period_unit {
    CF_PERIOD_MS,
    CF_PERIOD_DAYS,
    CF_PERIOD_MONTHS,
} cf_period_unit;

/* The last instant a grid reaches: 9999-12-31T23:59:59.999Z. Ticks past it are CF_GRID_NEVER. */
#define CF_GRID_MAX_MS 253402300799999LL
#define CF_GRID_NEVER  INT64_MAX

/* Longest periods accepted: about 10,000 years. */
#define CF_PERIOD_MAX_DAYS   3660000
#define CF_PERIOD_MAX_MONTHS 120000

typedef struct cf_grid {
    cf_period_unit unit;
    int64_t every;     /* milliseconds, days or months; > 0 */
    const cf_tz *tz;   /* days and months: the zone (never NULL); ms: unused */
    int64_t anchor_ms; /* tick 0, Unix ms in [0, CF_GRID_MAX_MS] */
    cf_civil anchor;   /* days and months: tick 0's wall-clock time in tz */
} cf_grid;

/* cf_grid_init makes the grid of ticks anchor_ms + k * (every unit) for k >= 0. tz is used by
 * days and months (NULL: UTC). CF_ERR_INVALID with err set (code "bad_value", field "period"
 * or "start_at") for every <= 0, a period over the maximum, or an anchor outside
 * [0, CF_GRID_MAX_MS]. */
CF_MUST_CHECK cf_status cf_grid_init(cf_grid *g, cf_period_unit unit, int64_t every,
                                     const cf_tz *tz, int64_t anchor_ms, cf_error *err);

/* cf_grid_tick returns tick k (k >= 0) in Unix ms, or CF_GRID_NEVER when it falls after
 * CF_GRID_MAX_MS (or k < 0). Ticks never decrease with k; they may repeat only where a zone
 * skipped a whole day (e.g. Pacific/Apia on 2011-12-30). */
int64_t cf_grid_tick(const cf_grid *g, int64_t k);

/* cf_grid_index_at_or_after returns the smallest k >= 0 whose tick is >= t_ms (0 when t_ms is
 * at or before the anchor), or -1 when every tick of the grid is before t_ms. */
int64_t cf_grid_index_at_or_after(const cf_grid *g, int64_t t_ms);

/* cf_grid_describe writes the period as text ("1000ms", "1d Europe/Berlin", "3mo UTC") into
 * buf (cap bytes): two grids with the same text and anchor tick alike. */
void cf_grid_describe(const cf_grid *g, char *buf, size_t cap);

#endif
