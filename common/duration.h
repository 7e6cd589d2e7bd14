// SPDX-License-Identifier: MIT
/* common/duration.h: parsing of durations and points in time as SPEC §5 writes them. A duration
 * is seconds ("2", "0.5") or a number with a unit ("1500ms", "30s", "10m", "2h", "1d"); a time
 * is ISO-8601 ("2026-11-26T16:20:01Z", offsets and fractions allowed) or Unix seconds. */
#ifndef CF_COMMON_DURATION_H
#define CF_COMMON_DURATION_H

#include <stdint.h>

#include "common/status.h"

/* cf_duration_parse_ms parses s into milliseconds (>= 0, at most 100 years). Returns
 * CF_ERR_INVALID with err (may be NULL) saying what was expected. */
CF_MUST_CHECK cf_status cf_duration_parse_ms(const char *s, int64_t *out_ms, cf_error *err);

/* cf_time_parse_unix_ms parses an ISO-8601 time or Unix seconds into ms since the epoch. */
CF_MUST_CHECK cf_status cf_time_parse_unix_ms(const char *s, int64_t *out_ms, cf_error *err);

/* cf_duration_format writes ms as a short human string ("1.5s", "10m", "250ms"). */
void cf_duration_format(int64_t ms, char *buf, unsigned cap);

#endif
