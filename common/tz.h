// SPDX-License-Identifier: MIT
/* common/tz.h: time zones read from the system's zoneinfo (TZif files, RFC 8536) by a reader
 * of our own, and civil (calendar) time. Nothing here touches the process-global `TZ` or
 * localtime(): a zone is a value any thread may use, so a repeat in Europe/Berlin and a
 * schedule in America/New_York run side by side in one worker.
 *
 * Zones are looked up by IANA name in $TZDIR (default /usr/share/zoneinfo, Debian's `tzdata`),
 * loaded once per process and kept: the pointer cf_tz_get returns stays valid until exit.
 * Instants past a file's last transition follow its POSIX TZ footer rule (so a "slim" file, or
 * a date after 2037, is answered correctly). "UTC" is built in and needs no file. */
#ifndef CF_COMMON_TZ_H
#define CF_COMMON_TZ_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"

typedef struct cf_tz cf_tz; /* immutable once loaded: share it freely across threads */

/* The longest zone name accepted ("America/Argentina/ComodRivadavia" is 32). */
#define CF_TZ_NAME_MAX 63

/* cf_tz_get returns the zone named name ("UTC", "Europe/Berlin"), loading and caching it on
 * first use. A name is refused, never opened as a path, unless it is 1-63 bytes of
 * [A-Za-z0-9_+-./] with no empty, "." or ".." component and no leading '/'. NULL with err
 * (may be NULL) set when the name is refused ("bad_value"), has no file ("not_found"), or the
 * file is not a valid TZif file ("bad_value"). Thread-safe. */
const cf_tz *cf_tz_get(const char *name, cf_error *err);

/* cf_tz_utc returns the built-in UTC zone. */
const cf_tz *cf_tz_utc(void);

/* cf_tz_name: the name the zone was asked for ("UTC" for the built-in one). */
const char *cf_tz_name(const cf_tz *tz);

/* cf_tz_parse builds a zone from the bytes of a TZif file (version 1 to 4); the caller owns it
 * (cf_tz_free). cf_tz_get uses it; tests and the fuzzer call it directly. NULL with err set
 * when data is not a valid TZif file. */
cf_tz *cf_tz_parse(const char *name, const uint8_t *data, size_t n, cf_error *err);

/* cf_tz_free frees a zone made by cf_tz_parse; NULL-safe. Never call it on cf_tz_get's. */
void cf_tz_free(cf_tz *tz);

/* cf_tz_offset_at returns the UTC offset (seconds east of Greenwich) in effect at the instant
 * utc_s (Unix seconds). */
int32_t cf_tz_offset_at(const cf_tz *tz, int64_t utc_s);

/* cf_civil: a civil (wall-clock) time. month 1-12, day 1-31, hour 0-23, ms 0-999. */
typedef struct cf_civil {
    int year, month, day, hour, min, sec, ms;
} cf_civil;

/* cf_tz_to_civil converts the instant utc_ms (Unix ms) to the zone's wall-clock time;
 * *offset_s (may be NULL) receives the UTC offset in effect. */
void cf_tz_to_civil(const cf_tz *tz, int64_t utc_ms, cf_civil *out, int32_t *offset_s);

/* cf_tz_from_civil converts a wall-clock time of the zone to Unix ms. Returns how many instants
 * read that wall-clock time:
 *   1: out[0] is it (out[1] = out[0]);
 *   2: a repeated hour (clocks went back): out[0] is the earlier instant, out[1] the later;
 *   0: skipped by a gap (clocks went forward): out[0] is the first instant after the gap (the
 *      transition itself, where cron fires an entry of the skipped hour), out[1] the wall-clock
 *      time read with the offset before the gap (02:30 in a 02:00-03:00 gap -> 03:30 after).
 * Fields out of range are normalised first (month 13 is January of the next year, day 0 the
 * last day of the previous month, and so on), so callers may step a field and convert. */
int cf_tz_from_civil(const cf_tz *tz, const cf_civil *local, int64_t out[2]);

/* ---- The proleptic Gregorian calendar ---- */

/* cf_days_from_civil: days since 1970-01-01 of y-m-d (m 1-12, d 1-31; not range-checked). */
int64_t cf_days_from_civil(int64_t y, int m, int d);

/* cf_civil_from_days: the date of days since 1970-01-01. */
void cf_civil_from_days(int64_t days, int *y, int *m, int *d);

/* cf_days_in_month: 28-31 for m 1-12 of year y. */
int cf_days_in_month(int y, int m);

/* cf_weekday: 0 = Sunday .. 6 = Saturday, of days since 1970-01-01 (a Thursday). */
int cf_weekday(int64_t days);

#endif
