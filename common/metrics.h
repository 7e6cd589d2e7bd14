// SPDX-License-Identifier: MIT
/* common/metrics.h: process-wide counters and histograms that every layer counts into (queue:
 * Redis round trips and reconnects; store: commit latency and batch size; engine: halts by reason,
 * errors by error class; worker: enqueue-to-start latency, wake lateness, in-flight envelopes,
 * dead letters, healing) and http/metrics.c renders (docs/metrics.md). Counting is relaxed atomic
 * adds on static storage: no lock, no allocation on the hot path; only the first sighting of an
 * error class takes a mutex. Label sets are fixed lists (X-macros below: adding a reason is one
 * line) or capped (error classes). */
#ifndef CF_COMMON_METRICS_H
#define CF_COMMON_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* ---- histograms ---- */

#define CF_HIST_BUCKETS_MAX 16

/* cf_hist: cumulative-at-render Prometheus histogram. Observations are integers in units of
 * 1/scale of the exported unit (scale 1e6: microseconds observed, seconds exported; scale 1:
 * counts). le[] are the upper bounds in the exported unit. */
typedef struct cf_hist {
    const double *le;
    int nle;
    double scale;
    _Atomic uint64_t bucket[CF_HIST_BUCKETS_MAX + 1]; /* per bound, not cumulative; last: +Inf */
    _Atomic uint64_t count;
    _Atomic int64_t sum; /* in 1/scale units */
} cf_hist;

/* cf_hist_observe records v (in 1/scale units; negative counts as 0). */
void cf_hist_observe(cf_hist *h, int64_t v);

/* ---- halts by reason: X(NAME, "label") ---- */
#define CF_HALT_REASONS(X)                                                                         \
    X(WAIT, "wait")                   /* wait(), wait_until's next check */                        \
    X(RETRY, "retry")                 /* a step's retry backoff */                                 \
    X(BUSY, "busy")                   /* the workflow ran elsewhere: the delivery waits for it */  \
    X(CONTINUE_IF, "continue_if")     /* a condition not met: idle until an outside wake */        \
    X(SHUTDOWN, "shutdown")           /* the worker is stopping: resume at once elsewhere */       \
    X(UNKNOWN_STATE, "unknown_state") /* a step state a newer release wrote: look again later */   \
    X(SIGNAL, "signal")               /* cf_await_signal: none waiting yet */                      \
    X(MERGE, "merge")                 /* cf_merge: its branches are not done yet */                \
    X(REPEAT, "repeat")               /* durably_repeat: until its next tick */                    \
    X(PAUSED, "paused")               /* an envelope taken as its queue was paused, put back */

typedef enum cf_halt_reason {
#define CF_HALT_ENUM_(n, s) CF_HALT_REASON_##n,
    CF_HALT_REASONS(CF_HALT_ENUM_)
#undef CF_HALT_ENUM_
        CF_HALT_REASON_COUNT
} cf_halt_reason;

/* ---- error classes: the first CF_ERROR_CLASSES_MAX - 1 seen, the rest as "other" ---- */
#define CF_ERROR_CLASSES_MAX 32

typedef struct cf_error_class_row {
    char name[129];
    _Atomic uint64_t n;
} cf_error_class_row;

/* ---- the process's metrics ---- */
typedef struct cf_metrics {
    cf_hist enqueue_latency; /* seconds: a producer's created_at to its workflow's first pass */
    cf_hist wake_lateness;   /* seconds: a wake's due time (next_wake_at) to its pass's start */
    cf_hist pg_commit;       /* seconds: one shared Postgres commit, sent to acknowledged */
    cf_hist pg_batch;        /* ops in that commit */
    cf_hist redis_rtt;       /* seconds: one round trip (a command or a pipeline) */
    _Atomic uint64_t redis_reconnects;
    /* Redis Cluster (queue/cluster.c): redirects followed, slot maps loaded */
    _Atomic uint64_t redis_moved, redis_asked, redis_slot_map_loads;
    _Atomic uint64_t halts[CF_HALT_REASON_COUNT];
    _Atomic int64_t in_flight; /* envelopes handed to this worker's executors, not yet settled */
    _Atomic uint64_t dead_letters;
    _Atomic uint64_t heal_passes, heal_republished, heal_locks_removed;
    _Atomic uint64_t retention_deleted, retention_dead_deleted; /* worker/retention.c */
    cf_error_class_row errors[CF_ERROR_CLASSES_MAX];
    atomic_size_t nerrors;
} cf_metrics;

extern cf_metrics cf_metrics_g;

/* cf_metrics_add adds n to a counter (relaxed). */
static inline void cf_metrics_add(_Atomic uint64_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

/* cf_metrics_halt counts one halt of a pass for reason. */
static inline void cf_metrics_halt(cf_halt_reason reason)
{
    if ((unsigned)reason < CF_HALT_REASON_COUNT)
        cf_metrics_add(&cf_metrics_g.halts[reason], 1);
}

/* cf_metrics_halt_name: reason's label ("wait", ...). */
const char *cf_metrics_halt_name(cf_halt_reason reason);

/* cf_metrics_error counts one error of error class cls (NULL or "": "unknown"). */
void cf_metrics_error(const char *cls);

/* cf_metrics_error_count: rows filled so far; rows below it are stable (cf_metrics_g.errors). */
size_t cf_metrics_error_count(void);

#endif
