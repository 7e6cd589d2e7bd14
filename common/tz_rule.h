// SPDX-License-Identifier: MIT
/* common/tz_rule.h: the POSIX TZ rule (e.g. "CET-1CEST,M3.5.0,M10.5.0/3") that a TZif file's
 * footer gives for instants after its last transition: parsing and evaluation. Internal to
 * common/tz.c (and its tests). */
#ifndef CF_COMMON_TZ_RULE_H
#define CF_COMMON_TZ_RULE_H

#include <stdbool.h>
#include <stdint.h>

/* One end of daylight time: a day of the year and a local time of that day. */
typedef struct cf_tz_rule_date {
    char kind;      /* 'J': Jn, 1-365, Feb 29 never counted; 'n': 0-365; 'M': Mm.w.d */
    int n, m, w, d; /* n for J and n; m (1-12), w (1-5, 5 = last), d (0 = Sunday) for M */
    int32_t time_s; /* local time of day, -167h..167h (TZif v3) */
} cf_tz_rule_date;

typedef struct cf_tz_rule {
    int32_t std_off, dst_off; /* seconds east of Greenwich */
    bool has_dst;
    cf_tz_rule_date start, end; /* start in standard time, end in daylight time */
} cf_tz_rule;

/* cf_tz_rule_parse reads a POSIX TZ string; false when it is not one. A daylight name without
 * a rule gets the US rule (M3.2.0,M11.1.0), as glibc does. */
bool cf_tz_rule_parse(const char *s, cf_tz_rule *out);

/* cf_tz_rule_offset_at: the offset the rule gives at the instant utc_s. */
int32_t cf_tz_rule_offset_at(const cf_tz_rule *r, int64_t utc_s);

#endif
