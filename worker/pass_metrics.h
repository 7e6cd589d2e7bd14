// SPDX-License-Identifier: MIT
/* worker/pass_metrics.h: what a delivery's pass tells /metrics (docs/metrics.md) beyond the
 * engine's own counts: a workflow started here and how long its producer's envelope waited
 * (enqueue-to-start latency), how late a wake ran (wake lateness), and how the workflow ended
 * (completed, failed, stalled), per class. Relaxed atomic adds only. */
#ifndef CF_WORKER_PASS_METRICS_H
#define CF_WORKER_PASS_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/class_stats.h"
#include "engine/finish.h"
#include "queue/envelope.h"
#include "store/store.h"

/* cf_pass_metrics_begin is called once a pass's begin succeeded, with the row it read or took
 * (lazy: read before the begin, so next_wake_at is the wake being served; a durable begin
 * clears next_wake_at, so its lateness is not known) and now (Unix ms). created: this begin
 * creates the workflow (its first pass): counted as started, with the latency since the
 * producer's created_at when first_delivery. Otherwise a row with a wake due at or before now
 * observes now - next_wake_at as wake lateness. */
void cf_pass_metrics_begin(cf_class_stats *cs, const cf_envelope *env, bool first_delivery,
                           const cf_wf_row *row, bool created, int64_t now_ms);

/* cf_pass_metrics_end counts the workflow's end when the pass ended it. */
void cf_pass_metrics_end(cf_class_stats *cs, cf_pass_end end);

#endif
