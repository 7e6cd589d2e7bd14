// SPDX-License-Identifier: MIT
/* http/process_metrics.c: renders the process-wide metrics of common/metrics.h (latency
 * histograms, halts by reason, errors by error class, in-flight envelopes, dead letters, healing,
 * Redis reconnects) and the generic histogram writer the other sections use. */
#include <stdatomic.h>

#include "common/metrics.h"
#include "http/metrics.h"

static void head(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(FILE *out, const char *name, const char *help, _Atomic uint64_t *v)
{
    head(out, name, "counter", help);
    fprintf(out, "%s %llu\n", name,
            (unsigned long long)atomic_load_explicit(v, memory_order_relaxed));
}

void cf_metrics_hist(FILE *out, const char *name, const char *labels, const cf_hist *h)
{
    const char *sep = labels && *labels ? "," : "";
    if (labels == NULL)
        labels = "";
    uint64_t cumulative = 0;
    for (int b = 0; b <= h->nle; b++) {
        cumulative += atomic_load_explicit(&h->bucket[b], memory_order_relaxed);
        if (b < h->nle)
            fprintf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, h->le[b],
                    (unsigned long long)cumulative);
        else
            fprintf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                    (unsigned long long)cumulative);
    }
    /* the count is the +Inf bucket's, so a scrape racing an observation stays consistent */
    double sum = (double)atomic_load_explicit(&h->sum, memory_order_relaxed) / h->scale;
    if (*labels) {
        fprintf(out, "%s_sum{%s} %.6f\n", name, labels, sum);
        fprintf(out, "%s_count{%s} %llu\n", name, labels, (unsigned long long)cumulative);
    } else {
        fprintf(out, "%s_sum %.6f\n%s_count %llu\n", name, sum, name,
                (unsigned long long)cumulative);
    }
}

static void histogram(FILE *out, const char *name, const char *help, const cf_hist *h)
{
    head(out, name, "histogram", help);
    cf_metrics_hist(out, name, NULL, h);
}

void cf_metrics_render_process(FILE *out)
{
    cf_metrics *m = &cf_metrics_g;
    histogram(out, "chronoforge_enqueue_to_start_seconds",
              "From a producer's enqueue (the envelope's created_at) to the start of its "
              "workflow's first pass on this worker.",
              &m->enqueue_latency);
    histogram(out, "chronoforge_wake_lateness_seconds",
              "From a wake's due time (the workflow's next_wake_at) to the start of the pass it "
              "woke, for passes that began lazily.",
              &m->wake_lateness);
    histogram(out, "chronoforge_postgres_commit_seconds",
              "Latency of each durable Postgres commit made by the store writer (sent to "
              "acknowledged).",
              &m->pg_commit);
    histogram(out, "chronoforge_postgres_commit_batch_size",
              "Requests (run begins, commits, reads) carried by each durable Postgres commit.",
              &m->pg_batch);
    histogram(out, "chronoforge_redis_round_trip_seconds",
              "Latency of each Redis round trip (a command or a pipeline; blocking fetches "
              "excluded).",
              &m->redis_rtt);
    counter(out, "chronoforge_redis_reconnects_total",
            "Redis connections re-established after one was lost.", &m->redis_reconnects);
    head(out, "chronoforge_redis_cluster_redirects_total", "counter",
         "Redis Cluster redirects followed: MOVED (a slot moved for good) and ASK (a slot "
         "being migrated).");
    fprintf(out, "chronoforge_redis_cluster_redirects_total{kind=\"moved\"} %llu\n",
            (unsigned long long)atomic_load_explicit(&m->redis_moved, memory_order_relaxed));
    fprintf(out, "chronoforge_redis_cluster_redirects_total{kind=\"ask\"} %llu\n",
            (unsigned long long)atomic_load_explicit(&m->redis_asked, memory_order_relaxed));
    counter(out, "chronoforge_redis_cluster_slot_map_loads_total",
            "Redis Cluster slot maps loaded (CLUSTER SLOTS): at start, after a redirect, after "
            "a node's connection failed.",
            &m->redis_slot_map_loads);
    head(out, "chronoforge_halts_total", "counter",
         "Passes that stopped to wait, by reason: wait, retry, busy, continue_if, shutdown, "
         "unknown_state.");
    for (int r = 0; r < CF_HALT_REASON_COUNT; r++)
        fprintf(out, "chronoforge_halts_total{reason=\"%s\"} %llu\n",
                cf_metrics_halt_name((cf_halt_reason)r),
                (unsigned long long)atomic_load_explicit(&m->halts[r], memory_order_relaxed));
    head(out, "chronoforge_workflow_errors_total", "counter",
         "Errors recorded by workflows (step errors, workflow-level failures), by error class: "
         "the first 31 classes seen, the rest as other.");
    size_t ne = cf_metrics_error_count();
    for (size_t i = 0; i < ne; i++) {
        fputs("chronoforge_workflow_errors_total{error_class=\"", out);
        cf_metrics_escape_label(out, m->errors[i].name);
        fprintf(out, "\"} %llu\n",
                (unsigned long long)atomic_load_explicit(&m->errors[i].n, memory_order_relaxed));
    }
    head(out, "chronoforge_in_flight_envelopes", "gauge",
         "Envelopes handed to this worker's executors and not yet settled (acked, put back or "
         "dead-lettered).");
    int64_t inflight = atomic_load_explicit(&m->in_flight, memory_order_relaxed);
    fprintf(out, "chronoforge_in_flight_envelopes %lld\n",
            (long long)(inflight > 0 ? inflight : 0));
    counter(out, "chronoforge_dead_letters_total",
            "Envelopes this worker moved to a dead-letter list.", &m->dead_letters);
    counter(out, "chronoforge_healing_passes_total",
            "Healing passes this worker ran while holding the healing lease.", &m->heal_passes);
    counter(out, "chronoforge_healing_republished_total",
            "Wakes the healing pass published again from the store (lost continuations).",
            &m->heal_republished);
    counter(out, "chronoforge_healing_locks_removed_total",
            "Stale Redis locks the healing pass removed after confirming them.",
            &m->heal_locks_removed);
    counter(out, "chronoforge_retention_deleted_total",
            "Finished workflows this worker's --retention deleted, with their logs.",
            &m->retention_deleted);
    counter(out, "chronoforge_retention_dead_letters_deleted_total",
            "Dead letters this worker's --retention-dead deleted.", &m->retention_dead_deleted);
}
