// SPDX-License-Identifier: MIT
/* common/cron.h: cron expressions (parse, and the next fire time in a zone). Five fields
 * (minute hour day-of-month month day-of-week) or six with a leading seconds field; each field a
 * comma list of `*`, `N`, `N-M`, with an optional `/STEP`; month names JAN-DEC and weekday names
 * SUN-SAT (7 is also Sunday); the macros @yearly @annually @monthly @weekly @daily @midnight
 * @hourly. Day-of-month and day-of-week combine as in Vixie cron: when both are restricted (neither
 * starts with `*`) a day matches either; otherwise both must match.
 *
 * Daylight saving follows cronie: a fixed-time entry (neither its minute nor its hour field
 * starts with `*`) whose time falls in a skipped hour fires at the first instant after the gap,
 * and in a repeated hour fires once (the first time the clock reads it); a wildcard entry follows
 * the wall clock (nothing in a skipped hour, twice through a repeated one). */
#ifndef CF_COMMON_CRON_H
#define CF_COMMON_CRON_H

#include <stdbool.h>
#include <stdint.h>

#include "common/status.h"
#include "common/tz.h"

typedef struct cf_cron {
    uint64_t sec;  /* bits 0-59 */
    uint64_t min;  /* bits 0-59 */
    uint32_t hour; /* bits 0-23 */
    uint32_t dom;  /* bits 1-31 */
    uint16_t mon;  /* bits 1-12 */
    uint8_t dow;   /* bits 0-6, 0 = Sunday */
    bool dom_star, dow_star, min_star, hour_star;
} cf_cron;

/* cf_cron_parse parses expr into out. CF_ERR_INVALID with err naming the field and the reason
 * ("cron field 2 (hour): 25 is out of range 0-23"; err->field is "cron"). */
CF_MUST_CHECK cf_status cf_cron_parse(const char *expr, cf_cron *out, cf_error *err);

/* cf_cron_is_wildcard: whether the entry follows the wall clock through DST changes (its minute or
 * hour field starts with `*`) rather than being a fixed-time entry. */
bool cf_cron_is_wildcard(const cf_cron *c);

/* cf_cron_next writes into *out_ms the first fire instant (Unix ms, a whole second) strictly after
 * after_ms in zone tz. CF_ERR_NOT_FOUND when the entry never fires within ten years
 * ("0 0 30 2 *"). */
CF_MUST_CHECK cf_status cf_cron_next(const cf_cron *c, const cf_tz *tz, int64_t after_ms,
                                     int64_t *out_ms);

#endif
