// SPDX-License-Identifier: MIT
/* worker/pass_metrics.c: the per-pass counting of worker/pass_metrics.h. */
#include "worker/pass_metrics.h"

#include "common/metrics.h"

void cf_pass_metrics_begin(cf_class_stats *cs, const cf_envelope *env, bool first_delivery,
                           const cf_wf_row *row, bool created, int64_t now_ms)
{
    if (created) {
        cf_class_stats_note_workflow(cs, CF_WF_EVENT_STARTED);
        if (first_delivery && env->has_created_at)
            cf_hist_observe(&cf_metrics_g.enqueue_latency,
                            (now_ms - (int64_t)(env->created_at * 1000.0)) * 1000);
        return;
    }
    if (row->next_wake_at_ms > 0 && row->next_wake_at_ms <= now_ms)
        cf_hist_observe(&cf_metrics_g.wake_lateness, (now_ms - row->next_wake_at_ms) * 1000);
}

void cf_pass_metrics_end(cf_class_stats *cs, cf_pass_end end)
{
    switch (end) {
    case CF_PASS_COMPLETED:
        cf_class_stats_note_workflow(cs, CF_WF_EVENT_COMPLETED);
        break;
    case CF_PASS_FAILED:
        cf_class_stats_note_workflow(cs, CF_WF_EVENT_FAILED);
        break;
    case CF_PASS_STALLED:
        cf_class_stats_note_workflow(cs, CF_WF_EVENT_STALLED);
        break;
    default:
        break; /* halted, or abandoned: the workflow goes on */
    }
}
