// SPDX-License-Identifier: MIT
/* engine/class_stats.h: process-wide counters per workflow class, for /metrics (http/metrics.c):
 * how passes ended (completed, halted, stalled, failed, conflict, store_error), workflows started
 * and finished (by outcome), a histogram of step durations (each durably_execute attempt, ok or
 * error) and one of the attempts a step took by the time it completed or failed. Classes come from
 * the registry, so the label set is bounded; past CF_CLASS_STATS_MAX classes, the rest count as
 * "other". Lock-free for counting; a mutex only when a class is first seen. */
#ifndef CF_ENGINE_CLASS_STATS_H
#define CF_ENGINE_CLASS_STATS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/metrics.h"
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

/* Workflow events counted per class: X(NAME, "label"). STARTED is exported as
 * chronoforge_workflows_started_total, the others as chronoforge_workflows_finished_total with
 * outcome="label" (adding an outcome is one line here and its counting call). */
#define CF_WF_EVENTS(X)                                                                            \
    X(STARTED, "started")                                                                          \
    X(COMPLETED, "completed")                                                                      \
    X(FAILED, "failed")                                                                            \
    X(STALLED, "stalled")                                                                          \
    X(CANCELLED, "cancelled")

typedef enum cf_wf_event {
#define CF_WF_EVENT_ENUM_(n, s) CF_WF_EVENT_##n,
    CF_WF_EVENTS(CF_WF_EVENT_ENUM_)
#undef CF_WF_EVENT_ENUM_
        CF_WF_EVENT_COUNT
} cf_wf_event;

typedef struct cf_class_stats {
    char name[129];
    _Atomic int64_t passes[CF_PASS_END_COUNT]; /* indexed by cf_pass_end */
    cf_step_hist steps[2];                     /* [0] ok, [1] error */
    _Atomic uint64_t workflows[CF_WF_EVENT_COUNT];
    cf_hist attempts; /* a step's attempts when it completed or failed for good */
} cf_class_stats;

/* cf_class_stats_of returns wf_class's row, adding it on first use (past CF_CLASS_STATS_MAX - 1
 * classes, the shared "other" row). Rows are never removed: callers may keep the pointer (a run
 * looks its row up once, not per step). */
cf_class_stats *cf_class_stats_of(const char *wf_class);

/* cf_class_stats_note_pass counts one pass of row's class that ended with end. */
void cf_class_stats_note_pass(cf_class_stats *row, cf_pass_end end);

/* cf_class_stats_note_step records one step attempt of row's class that took us microseconds. */
void cf_class_stats_note_step(cf_class_stats *row, bool ok, int64_t us);

/* cf_class_stats_note_workflow counts one workflow event of row's class (relaxed). */
void cf_class_stats_note_workflow(cf_class_stats *row, cf_wf_event ev);

/* cf_class_stats_note_attempts records that a step of row's class ended (completed, or failed
 * for good) after attempts attempts. */
void cf_class_stats_note_attempts(cf_class_stats *row, int attempts);

/* cf_wf_event_name: "started", "completed", ... */
const char *cf_wf_event_name(cf_wf_event ev);

/* cf_class_stats_count: rows filled so far; cf_class_stats_at(i) for i below it (stable). */
size_t cf_class_stats_count(void);
const cf_class_stats *cf_class_stats_at(size_t i);

/* cf_pass_end_name: "completed", "halted", "stalled", "failed", "conflict", "store_error". */
const char *cf_pass_end_name(cf_pass_end end);

#endif
