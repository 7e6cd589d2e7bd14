// SPDX-License-Identifier: MIT
/* engine/class_stats.c: the per-class table of engine/class_stats.h. Rows are appended under a
 * mutex and never removed; readers see rows below the published count. */
#include "engine/class_stats.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

const double cf_step_bucket_le_s[CF_STEP_BUCKETS_MAX] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                                         0.5,   1,     2.5,  5,     10,   30,  60};

static const double attempts_le[] = {1, 2, 3, 4, 5, 10, 25, 100};

static cf_class_stats rows[CF_CLASS_STATS_MAX];
static atomic_size_t nrows;
static pthread_mutex_t add_mu = PTHREAD_MUTEX_INITIALIZER;

static cf_class_stats *find(const char *wf_class, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rows[i].name, wf_class) == 0)
            return &rows[i];
    return NULL;
}

cf_class_stats *cf_class_stats_of(const char *wf_class)
{
    cf_class_stats *r = find(wf_class, atomic_load(&nrows));
    if (r)
        return r;
    pthread_mutex_lock(&add_mu);
    size_t n = atomic_load(&nrows);
    r = find(wf_class, n);
    if (r == NULL) {
        /* the last row is "other": every class past the first CF_CLASS_STATS_MAX - 1 */
        const char *name = n < CF_CLASS_STATS_MAX - 1 ? wf_class : "other";
        r = find(name, n);
        if (r == NULL) {
            r = &rows[n];
            snprintf(r->name, sizeof r->name, "%s", name);
            r->attempts.le = attempts_le;
            r->attempts.nle = (int)(sizeof attempts_le / sizeof attempts_le[0]);
            r->attempts.scale = 1;
            atomic_store(&nrows, n + 1);
        }
    }
    pthread_mutex_unlock(&add_mu);
    return r;
}

void cf_class_stats_note_pass(cf_class_stats *row, cf_pass_end end)
{
    if ((unsigned)end < CF_PASS_END_COUNT)
        atomic_fetch_add_explicit(&row->passes[end], 1, memory_order_relaxed);
}

void cf_class_stats_note_step(cf_class_stats *row, bool ok, int64_t us)
{
    cf_step_hist *h = &row->steps[ok ? 0 : 1];
    double s = (double)us / 1e6;
    size_t b = 0;
    while (b < CF_STEP_BUCKETS_MAX && s > cf_step_bucket_le_s[b])
        b++;
    atomic_fetch_add_explicit(&h->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, us > 0 ? us : 0, memory_order_relaxed);
}

void cf_class_stats_note_workflow(cf_class_stats *row, cf_wf_event ev)
{
    if ((unsigned)ev < CF_WF_EVENT_COUNT)
        cf_metrics_add(&row->workflows[ev], 1);
}

void cf_class_stats_note_attempts(cf_class_stats *row, int attempts)
{
    cf_hist_observe(&row->attempts, attempts);
}

const char *cf_wf_event_name(cf_wf_event ev)
{
    static const char *const names[] = {
#define CF_WF_EVENT_NAME_(n, s) s,
        CF_WF_EVENTS(CF_WF_EVENT_NAME_)
#undef CF_WF_EVENT_NAME_
    };
    return (unsigned)ev < CF_WF_EVENT_COUNT ? names[ev] : "unknown";
}

size_t cf_class_stats_count(void)
{
    return atomic_load(&nrows);
}

const cf_class_stats *cf_class_stats_at(size_t i)
{
    return &rows[i];
}

const char *cf_pass_end_name(cf_pass_end end)
{
    static const char *const names[CF_PASS_END_COUNT] = {
        "completed", "halted", "stalled", "failed", "conflict", "store_error", "cancelled"};
    return (unsigned)end < CF_PASS_END_COUNT ? names[end] : "unknown";
}
