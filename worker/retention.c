// SPDX-License-Identifier: MIT
/* worker/retention.c: one round of the fleet's retention (worker/retention.h). */
#include "worker/retention.h"

#include "common/alloc.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "queue/deadletter.h"
#include "store/retention.h"

#define BATCH         1000  /* workflows per statement: a short transaction */
#define DEAD_EVERY_MS 60000 /* dead letters are looked at once a minute at most */
/* Deleting may keep one Postgres backend busy this share of the time (per cent of a sweep
 * interval per round): the cost to the fleet is bounded, and flat out Postgres deletes many
 * times faster than a worker creates workflows (bench/retention.sh). */
#define DUTY_PERCENT  10
#define MIN_BUDGET_MS 100

struct cf_retention {
    const cf_config *cfg;
    cf_store *store;
    cf_queue *queue;
    cf_wf_state states[CF_WF_STATE_COUNT];
    size_t nstates;
    int64_t next_dead_mono_ms;
    int64_t deleted, dead_deleted; /* totals of this process */
};

static cf_log_limiter retention_limiter;

cf_retention *cf_retention_new(const cf_config *cfg, cf_store *store, cf_queue *queue)
{
    cf_retention *r = cf_calloc(1, sizeof *r);
    if (!r)
        return NULL;
    r->cfg = cfg;
    r->store = store;
    r->queue = queue;
    const char *bad;
    if (!cf_wf_states_parse_csv(cfg->retention_states, r->states, CF_WF_STATE_COUNT, &r->nstates,
                                &bad))
        r->nstates = 0; /* the config refused it already; delete nothing */
    return r;
}

void cf_retention_free(cf_retention *r)
{
    cf_free(r);
}

static void report(const char *what, cf_status st, const char *why)
{
    int64_t suppressed = 0;
    if (!cf_log_ratelimit(&retention_limiter, 10000, &suppressed))
        return;
    log_warn("event=retention_error op=%s status=%s: %s (%lld similar suppressed)", what,
             cf_status_str(st), why, (long long)suppressed);
}

static void workflows(cf_retention *r)
{
    int64_t start = cf_clock_mono_ms();
    int64_t budget = r->cfg->sweep_interval_ms * DUTY_PERCENT / 100;
    if (budget < MIN_BUDGET_MS)
        budget = MIN_BUDGET_MS;
    cf_retention_req req = {.finished_before_ms = cf_clock_unix_ms() - r->cfg->retention_ms,
                            .states = r->states,
                            .nstates = r->nstates,
                            .batch = BATCH};
    int64_t total = 0, n = BATCH;
    while (n == BATCH && cf_clock_mono_ms() - start < budget) {
        cf_status st = cf_store_cleanup_batch(r->store, &req, &n);
        if (st != CF_OK) {
            report("cleanup", st, cf_store_errstr(r->store));
            break;
        }
        total += n;
        cf_metrics_add(&cf_metrics_g.retention_deleted, (uint64_t)n);
    }
    r->deleted += total;
    if (total > 0)
        log_info("event=retention deleted=%lld elapsed_ms=%lld more=%d: deleted workflows that "
                 "finished more than --retention ago",
                 (long long)total, (long long)(cf_clock_mono_ms() - start), n == BATCH ? 1 : 0);
}

static void dead_letters(cf_retention *r, const char *const *queues, size_t nqueues)
{
    int64_t now = cf_clock_mono_ms();
    if (now < r->next_dead_mono_ms)
        return;
    r->next_dead_mono_ms = now + DEAD_EVERY_MS;
    int64_t before = cf_clock_unix_ms() - r->cfg->retention_dead_ms;
    for (size_t i = 0; i < nqueues; i++) {
        int64_t removed = 0;
        cf_status st = cf_deadletter_purge(r->queue, queues[i], before, &removed);
        if (st != CF_OK) {
            report("dead_letters", st, cf_queue_errstr(r->queue));
            return;
        }
        r->dead_deleted += removed;
        cf_metrics_add(&cf_metrics_g.retention_dead_deleted, (uint64_t)removed);
        if (removed > 0)
            log_info("event=retention queue=%s dead_deleted=%lld: deleted dead letters older "
                     "than --retention-dead",
                     queues[i], (long long)removed);
    }
}

void cf_retention_tick(cf_retention *r, const char *const *queues, size_t nqueues)
{
    if (r->cfg->retention_ms > 0 && r->nstates > 0)
        workflows(r);
    if (r->cfg->retention_dead_ms > 0)
        dead_letters(r, queues, nqueues);
}
