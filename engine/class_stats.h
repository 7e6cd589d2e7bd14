// SPDX-License-Identifier: MIT
/* engine/class_stats.h: process-wide counters per workflow class, for /metrics (http/metrics.c):
 * how passes ended (completed, halted, stalled, failed, conflict, store_error) and a histogram of
 * step durations (each durably_execute attempt, ok or error). Classes come from the registry,
 * so the label set is bounded; past CF_CLASS_STATS_MAX classes, the rest count as "other".
 * Lock-free for counting; a mutex only when a class is first seen. */
#ifndef CF_ENGINE_CLASS_STATS_H
#define CF_ENGINE_CLASS_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/finish.h"

#define CF_CLASS_STATS_MAX  64
#define CF_PASS_END_COUNT   7  /* the values of cf_pass_end */
#define CF_STEP_BUCKETS_MAX 14 /* upper bounds in cf_step_bucket_le_s, then +Inf */

/* The histogram's upper bounds in seconds (cumulative buckets, Prometheus style). */
extern const double cf_step_bucket_le_s[CF_STEP_BUCKETS_MAX];

typedef struct cf_step_hist {
    _Atomic int64_t bucket[CF_STEP_BUCKETS_MAX + 1]; /* per bound, not cumulative; last: +Inf */
    _Atomic int64_t count;
    _Atomic int64_t sum_us;
} cf_step_hist;

typedef struct cf_class_stats {
    char name[129];
    _Atomic int64_t passes[CF_PASS_END_COUNT]; /* indexed by cf_pass_end */
    cf_step_hist steps[2];                     /* [0] ok, [1] error */
} cf_class_stats;

/* cf_class_stats_of returns wf_class's row, adding it on first use (past CF_CLASS_STATS_MAX - 1
 * classes, the shared "other" row). Rows are never removed: callers may keep the pointer (a run
 * looks its row up once, not per step). */
cf_class_stats *cf_class_stats_of(const char *wf_class);

/* cf_class_stats_note_pass counts one pass of row's class that ended with end. */
void cf_class_stats_note_pass(cf_class_stats *row, cf_pass_end end);

/* cf_class_stats_note_step records one step attempt of row's class that took us microseconds. */
void cf_class_stats_note_step(cf_class_stats *row, bool ok, int64_t us);

/* cf_class_stats_count: rows filled so far; cf_class_stats_at(i) for i below it (stable). */
size_t cf_class_stats_count(void);
const cf_class_stats *cf_class_stats_at(size_t i);

/* cf_pass_end_name: "completed", "halted", "stalled", "failed", "conflict", "store_error". */
const char *cf_pass_end_name(cf_pass_end end);

#endif
