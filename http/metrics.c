// SPDX-License-Identifier: MIT
/* http/metrics.c: renders this worker's metrics (http/metrics.h); the fleet gauges come from
 * http/fleet.c. */
#include "http/metrics.h"

#include "common/clock.h"
#include "common/liveness.h"
#include "engine/class_stats.h"
#include "http/fleet.h"
#include "http/health.h"
#include "queue/redis_conn.h"

void cf_metrics_escape_label(FILE *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\' || *s == '"')
            fputc('\\', out), fputc(*s, out);
        else if (*s == '\n')
            fputs("\\n", out);
        else
            fputc(*s, out);
    }
}

static void head(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void counter(FILE *out, const char *name, const char *help, _Atomic int64_t *v)
{
    head(out, name, "counter", help);
    fprintf(out, "%s %lld\n", name, (long long)atomic_load(v));
}

static void outcomes(FILE *out, cf_worker_stats *s)
{
    struct {
        const char *outcome;
        _Atomic int64_t *v;
    } rows[] = {
        {"completed", &s->completed},
        {"halted", &s->halted},
        {"stalled", &s->stalled},
        {"failed", &s->failed},
        {"busy", &s->busy},
        {"dead_lettered", &s->dead_lettered},
        {"unknown_class", &s->unknown_class},
        {"not_executable", &s->not_executable},
        {"cancelled", &s->cancelled},
    };
    head(out, "chronoforge_delivery_outcomes_total", "counter",
         "Deliveries by how they ended: completed, halted (waits for a wake), stalled, failed, "
         "busy (workflow already running), dead_lettered, unknown_class, not_executable, "
         "cancelled (a cancel ended the pass or on_cancel finished).");
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        fprintf(out, "chronoforge_delivery_outcomes_total{outcome=\"%s\"} %lld\n", rows[i].outcome,
                (long long)atomic_load(rows[i].v));
}

static void store_stats(FILE *out, cf_store *store)
{
    cf_store_stats ss = {0};
    cf_store_get_stats(store, &ss);
    head(out, "chronoforge_store_batches_total", "counter",
         "Shared Postgres commits made by the store writer.");
    fprintf(out, "chronoforge_store_batches_total %lld\n", (long long)ss.batches);
    head(out, "chronoforge_store_write_sets_total", "counter",
         "Run begins and commits applied through the writer's shared commits.");
    fprintf(out, "chronoforge_store_write_sets_total %lld\n", (long long)ss.write_sets);
    head(out, "chronoforge_store_reconnects_total", "counter",
         "Postgres connections re-established after a failure.");
    fprintf(out, "chronoforge_store_reconnects_total %lld\n", (long long)ss.reconnects);
    head(out, "chronoforge_store_unknown_outcomes_total", "counter",
         "Postgres commits whose outcome had to be read back after a lost reply.");
    fprintf(out, "chronoforge_store_unknown_outcomes_total %lld\n", (long long)ss.unknown_outcomes);
}

static void loops(FILE *out, const cf_config *cfg)
{
    cf_liveness_loop l[32];
    size_t n = cf_liveness_snapshot(cf_clock_mono_ms(), l, sizeof l / sizeof l[0]);
    head(out, "chronoforge_loop_tick_age_seconds", "gauge",
         "Seconds since the loop's least recent running thread iterated (0 when all are parked: "
         "inside user code or idle).");
    for (size_t i = 0; i < n; i++)
        fprintf(out, "chronoforge_loop_tick_age_seconds{loop=\"%s\"} %.3f\n", l[i].name,
                (double)l[i].age_ms / 1000.0);
    head(out, "chronoforge_liveness_bound_seconds", "gauge",
         "A loop older than this makes /healthz answer 503.");
    fprintf(out, "chronoforge_liveness_bound_seconds %.3f\n",
            (double)cf_health_bound_ms(cfg) / 1000.0);
    char body[16];
    head(out, "chronoforge_alive", "gauge", "1 while /healthz answers 200, else 0.");
    fprintf(out, "chronoforge_alive %d\n", cf_health_alive(cfg, body, sizeof body) ? 1 : 0);
}

static void class_label(FILE *out, const char *name, const cf_class_stats *c)
{
    fprintf(out, "%s{class=\"", name);
    cf_metrics_escape_label(out, c->name);
    fputc('"', out);
}

static void step_histogram(FILE *out, const cf_class_stats *c, int which)
{
    static const char *const outcome[2] = {"ok", "error"};
    const cf_step_hist *h = &c->steps[which];
    int64_t cumulative = 0;
    for (int b = 0; b <= CF_STEP_BUCKETS_MAX; b++) {
        cumulative += atomic_load(&h->bucket[b]);
        class_label(out, "chronoforge_step_duration_seconds_bucket", c);
        if (b < CF_STEP_BUCKETS_MAX)
            fprintf(out, ",outcome=\"%s\",le=\"%g\"} %lld\n", outcome[which],
                    cf_step_bucket_le_s[b], (long long)cumulative);
        else
            fprintf(out, ",outcome=\"%s\",le=\"+Inf\"} %lld\n", outcome[which],
                    (long long)cumulative);
    }
    class_label(out, "chronoforge_step_duration_seconds_sum", c);
    fprintf(out, ",outcome=\"%s\"} %.6f\n", outcome[which], (double)atomic_load(&h->sum_us) / 1e6);
    class_label(out, "chronoforge_step_duration_seconds_count", c);
    fprintf(out, ",outcome=\"%s\"} %lld\n", outcome[which], (long long)atomic_load(&h->count));
}

static void classes(FILE *out)
{
    size_t n = cf_class_stats_count();
    head(out, "chronoforge_workflow_passes_total", "counter",
         "Passes (runs of a workflow until it completes, halts, stalls or fails) by class and "
         "outcome: completed, halted, stalled, failed, conflict, store_error, cancelled.");
    for (size_t i = 0; i < n; i++) {
        const cf_class_stats *c = cf_class_stats_at(i);
        for (int e = 0; e < CF_PASS_END_COUNT; e++) {
            class_label(out, "chronoforge_workflow_passes_total", c);
            fprintf(out, ",outcome=\"%s\"} %lld\n", cf_pass_end_name((cf_pass_end)e),
                    (long long)atomic_load(&c->passes[e]));
        }
    }
    head(out, "chronoforge_workflows_started_total", "counter",
         "Workflows whose first pass began on this worker, by class.");
    for (size_t i = 0; i < n; i++) {
        const cf_class_stats *c = cf_class_stats_at(i);
        class_label(out, "chronoforge_workflows_started_total", c);
        fprintf(out, "} %llu\n",
                (unsigned long long)atomic_load(&c->workflows[CF_WF_EVENT_STARTED]));
    }
    head(out, "chronoforge_workflows_finished_total", "counter",
         "Workflows whose pass on this worker ended them, by class and outcome (completed, "
         "failed, stalled).");
    for (size_t i = 0; i < n; i++) {
        const cf_class_stats *c = cf_class_stats_at(i);
        for (int e = CF_WF_EVENT_STARTED + 1; e < CF_WF_EVENT_COUNT; e++) {
            class_label(out, "chronoforge_workflows_finished_total", c);
            fprintf(out, ",outcome=\"%s\"} %llu\n", cf_wf_event_name((cf_wf_event)e),
                    (unsigned long long)atomic_load(&c->workflows[e]));
        }
    }
    head(out, "chronoforge_step_attempts", "histogram",
         "Attempts a durably_execute step took by the time it completed or failed for good, by "
         "class.");
    for (size_t i = 0; i < n; i++) {
        const cf_class_stats *c = cf_class_stats_at(i);
        char labels[300];
        FILE *lf = fmemopen(labels, sizeof labels, "w");
        if (lf == NULL)
            continue;
        fputs("class=\"", lf);
        cf_metrics_escape_label(lf, c->name);
        fputc('"', lf);
        fclose(lf);
        cf_metrics_hist(out, "chronoforge_step_attempts", labels, &c->attempts);
    }
    head(out, "chronoforge_step_duration_seconds", "histogram",
         "Duration of each durably_execute attempt (user code), by class and outcome (ok, error).");
    for (size_t i = 0; i < n; i++)
        for (int which = 0; which < 2; which++)
            step_histogram(out, cf_class_stats_at(i), which);
}

void cf_metrics_render(const cf_worker_view *v, FILE *out)
{
    cf_worker_stats *s = v->stats;
    counter(out, "chronoforge_deliveries_total", "Envelopes this worker took from its queues.",
            &s->deliveries);
    outcomes(out, s);
    counter(out, "chronoforge_fence_conflicts_total",
            "Commits refused because another run had taken the workflow (fence conflicts).",
            &s->conflicts);
    head(out, "chronoforge_errors_total", "counter",
         "Infrastructure errors met while handling deliveries, by dependency (store, redis).");
    fprintf(out, "chronoforge_errors_total{dependency=\"store\"} %lld\n",
            (long long)atomic_load(&s->store_errors));
    fprintf(out, "chronoforge_errors_total{dependency=\"redis\"} %lld\n",
            (long long)atomic_load(&s->redis_errors));
    int busy = atomic_load(v->busy);
    int idle = v->cfg->concurrency - busy;
    head(out, "chronoforge_executors", "gauge",
         "Executor threads by state: busy (inside a delivery) or idle.");
    fprintf(out, "chronoforge_executors{state=\"busy\"} %d\n", busy);
    fprintf(out, "chronoforge_executors{state=\"idle\"} %d\n", idle > 0 ? idle : 0);
    head(out, "chronoforge_redis_round_trips_total", "counter",
         "Redis round trips (one write and its replies; a pipeline is one) made by this process.");
    fprintf(out, "chronoforge_redis_round_trips_total %llu\n",
            (unsigned long long)cf_redis_round_trips());
    store_stats(out, v->store);
    classes(out);
    cf_metrics_render_process(out);
    loops(out, v->cfg);
    cf_fleet_render(v->cfg, v->worker_id, out);
}
