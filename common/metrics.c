// SPDX-License-Identifier: MIT
/* common/metrics.c: the process's metrics of common/metrics.h: bucket bounds, observation, the
 * capped table of error classes (appended under a mutex, never removed; readers see rows below
 * the published count). */
#include "common/metrics.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

static const double latency_le[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                    2.5,   5,    10,    30,   60,  300,  900};
static const double rtt_le[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                0.025,  0.05,    0.1,    0.25,  0.5,    1};
static const double commit_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                   0.1,    0.25,  0.5,    1,     2.5,  5,     10};
static const double batch_le[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};

#define NLE(a) ((int)(sizeof(a) / sizeof((a)[0])))
#define HIST(le, scale)                                                                            \
    {                                                                                              \
        le, NLE(le), scale, {0}, 0, 0                                                              \
    }

cf_metrics cf_metrics_g = {
    .enqueue_latency = HIST(latency_le, 1e6),
    .wake_lateness = HIST(latency_le, 1e6),
    .pg_commit = HIST(commit_le, 1e6),
    .pg_batch = HIST(batch_le, 1),
    .redis_rtt = HIST(rtt_le, 1e6),
};

_Static_assert(NLE(latency_le) <= CF_HIST_BUCKETS_MAX, "too many buckets");
_Static_assert(NLE(commit_le) <= CF_HIST_BUCKETS_MAX, "too many buckets");

void cf_hist_observe(cf_hist *h, int64_t v)
{
    if (v < 0)
        v = 0;
    double x = (double)v / h->scale;
    int b = 0;
    while (b < h->nle && x > h->le[b])
        b++;
    atomic_fetch_add_explicit(&h->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum, v, memory_order_relaxed);
}

const char *cf_metrics_halt_name(cf_halt_reason reason)
{
    static const char *const names[] = {
#define CF_HALT_NAME_(n, s) s,
        CF_HALT_REASONS(CF_HALT_NAME_)
#undef CF_HALT_NAME_
    };
    return (unsigned)reason < CF_HALT_REASON_COUNT ? names[reason] : "unknown";
}

static pthread_mutex_t error_mu = PTHREAD_MUTEX_INITIALIZER;

static cf_error_class_row *find_error(const char *cls, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(cf_metrics_g.errors[i].name, cls) == 0)
            return &cf_metrics_g.errors[i];
    return NULL;
}

void cf_metrics_error(const char *cls)
{
    if (cls == NULL || *cls == '\0')
        cls = "unknown";
    cf_error_class_row *r = find_error(cls, atomic_load(&cf_metrics_g.nerrors));
    if (r == NULL) {
        pthread_mutex_lock(&error_mu);
        size_t n = atomic_load(&cf_metrics_g.nerrors);
        r = find_error(cls, n);
        if (r == NULL) {
            /* the last row is "other": every class past the first CF_ERROR_CLASSES_MAX - 1 */
            const char *name = n < CF_ERROR_CLASSES_MAX - 1 ? cls : "other";
            r = find_error(name, n);
            if (r == NULL) {
                r = &cf_metrics_g.errors[n];
                snprintf(r->name, sizeof r->name, "%s", name);
                atomic_store(&cf_metrics_g.nerrors, n + 1);
            }
        }
        pthread_mutex_unlock(&error_mu);
    }
    cf_metrics_add(&r->n, 1);
}

size_t cf_metrics_error_count(void)
{
    return atomic_load(&cf_metrics_g.nerrors);
}
