// SPDX-License-Identifier: MIT
/* worker/housekeeping.c: the recovery and healing loop; it owns the promoter thread
 * (worker/promoter.h), which promotes due envelopes on deadlines of its own. */
#include "worker/housekeeping.h"

#include <pthread.h>
#include <stdbool.h>
#ifdef CF_TEST_HOOKS
#include <stdlib.h>
#include <unistd.h>
#endif

#include "common/alloc.h"
#include "common/clock.h"
#include "common/liveness.h"
#include "common/log.h"
#include "queue/queue.h"
#include "queue/recovery.h"
#include "queue/redis_conn.h"
#include "queue/schedule.h"
#include "worker/promoter.h"
#include "worker/reconcile.h"
#include "worker/retention.h"
#include "worker/schedule_fire.h"
#include "worker/sd_notify.h"
#include "worker/sweeper.h"

struct cf_housekeeping {
    const cf_config *cfg;
    const char *worker_id;
    cf_store *store;
    cf_queue *queue; /* this thread's queue handle, with the worker id */
    cf_sweeper *sweeper;
    cf_retention *retention;
    cf_active *active;         /* what this worker's executors hold (borrowed) */
    cf_reconciler *reconciler; /* Redis's record of it, kept equal */
    cf_promoter *promoter;
    const char *queues[CF_MAX_QUEUES];
    pthread_t thread;
    atomic_bool stop;
    int64_t redis_ok_since; /* monotonic ms of the first success after the last Redis error */
};

#define HK_TICK_MS 100 /* the loop's pause; each duty keeps its own interval */

static cf_log_limiter hk_limiter;

static void report(cf_housekeeping *hk, const char *what, cf_status st)
{
    int64_t suppressed = 0;
    if (cf_log_ratelimit(&hk_limiter, 10000, &suppressed))
        log_warn("event=housekeeping_error op=%s status=%s: %s (%lld similar suppressed)", what,
                 cf_status_str(st), cf_queue_errstr(hk->queue), (long long)suppressed);
}

/* recover frees the work of dead workers. After a Redis outage every worker's heartbeat looks
 * old, so it waits until Redis has answered for a whole lease: by then every live worker has
 * beaten again and only the really dead ones are recovered. */
static void recover(cf_housekeeping *hk)
{
    if (hk->redis_ok_since == 0 || cf_clock_mono_ms() - hk->redis_ok_since < hk->cfg->lease_ms)
        return;
    cf_recovery_stats rs;
    cf_status st = cf_recovery_run(hk->queue, hk->cfg->lease_ms, &rs);
    if (st != CF_OK) {
        report(hk, "recovery", st);
        hk->redis_ok_since = 0;
        return;
    }
    if (rs.workers > 0)
        log_warn("event=recovered_workers workers=%lld envelopes=%lld locks=%lld: work of dead "
                 "workers returned to ready",
                 (long long)rs.workers, (long long)rs.envelopes, (long long)rs.locks);
}

/* reconcile frees what Redis says this worker holds but none of its executors does (worker/
 * reconcile.h); an entry must look stale for a whole lease before it is touched. */
static void reconcile(cf_housekeeping *hk)
{
    if (hk->active == NULL)
        return;
    cf_status st = cf_reconcile_pass(hk->reconciler, hk->queue, hk->queues,
                                     (size_t)hk->cfg->nqueues, hk->active, hk->cfg->lease_ms, NULL);
    if (st != CF_OK)
        report(hk, "reconcile", st);
}

/* probe keeps redis_ok_since honest: recovery must not run right after an outage this thread
 * did not otherwise notice (its other duties talk to Redis only every few seconds), so every
 * tick sends one PING (promotion, which used to be that probe, has its own thread now). */
static void probe(cf_housekeeping *hk)
{
    const char *argv[1] = {"PING"};
    size_t lens[1] = {4};
    cf_reply *rep = NULL;
    cf_status st = cf_redis_exec(cf_queue_redis(hk->queue), 1, argv, lens, &rep);
    cf_reply_free(rep);
    if (st != CF_OK)
        hk->redis_ok_since = 0;
    else if (hk->redis_ok_since == 0)
        hk->redis_ok_since = cf_clock_mono_ms();
}

#ifdef CF_TEST_HOOKS
/* Test builds only (make's chronoforge-test-hooks binary): while the file named by
 * CHRONOFORGE_TEST_WEDGE_HOUSEKEEPING exists, the loop blocks without iterating, as a loop
 * stuck in a call would (tests/e2e/test_e2e_sd_notify.c). */
static void test_wedge(void)
{
    const char *path = getenv("CHRONOFORGE_TEST_WEDGE_HOUSEKEEPING");
    if (path == NULL || access(path, F_OK) != 0)
        return;
    log_warn("event=test_housekeeping_wedged");
    while (access(path, F_OK) == 0)
        cf_clock_sleep_ms(20, NULL);
    log_warn("event=test_housekeeping_unwedged");
}
#endif

static void *housekeeping_main(void *arg)
{
    cf_housekeeping *hk = arg;
    int64_t next_recovery = 0, next_schedules = 0;
    int64_t bound_ms = cf_config_liveness_bound_ms(hk->cfg);
    while (!atomic_load(&hk->stop)) {
#ifdef CF_TEST_HOOKS
        test_wedge();
#endif
        cf_liveness_tick("housekeeping");
        cf_sd_watchdog(bound_ms); /* only while every loop is alive; never when this one hangs */
        probe(hk);
        int64_t now = cf_clock_mono_ms();
        if (now >= next_recovery) {
            recover(hk);
            reconcile(hk);
            next_recovery = now + hk->cfg->lease_ms / 2;
        }
        if (cf_sweeper_tick(hk->sweeper, hk->queues, (size_t)hk->cfg->nqueues))
            cf_retention_tick(hk->retention, hk->queues, (size_t)hk->cfg->nqueues);
        if (hk->store != NULL && now >= next_schedules) { /* one indexed query when none due */
            (void)cf_schedules_tick(hk->store, hk->queue, cf_clock_unix_ms());
            next_schedules = now + CF_SCHEDULE_TICK_MS;
        }
        cf_redis *r = cf_queue_redis(hk->queue);
        if (!cf_redis_is_connected(r) && cf_redis_wait_reconnect(r, &hk->stop) != CF_OK)
            continue; /* still down: the next pass tries again (errors are reported there) */
        cf_clock_sleep_ms(HK_TICK_MS, &hk->stop);
    }
    cf_liveness_leave();
    return NULL;
}

cf_status cf_housekeeping_start(const cf_config *cfg, const char *worker_id, cf_store *store,
                                cf_active *active, cf_housekeeping **out)
{
    *out = NULL;
    cf_housekeeping *hk = cf_calloc(1, sizeof *hk);
    if (hk == NULL)
        return CF_ERR_NOMEM;
    hk->cfg = cfg;
    hk->worker_id = worker_id;
    hk->store = store;
    hk->active = active;
    atomic_init(&hk->stop, false);
    for (int i = 0; i < cfg->nqueues; i++)
        hk->queues[i] = cfg->queues[i];
    cf_error err;
    cf_status st = cf_queue_new(cfg->redis_url, cfg->prefix, worker_id, NULL, &hk->queue, &err);
    if (st != CF_OK) {
        cf_free(hk);
        return st;
    }
    hk->reconciler = cf_reconciler_new();
    hk->retention = cf_retention_new(cfg, store, hk->queue);
    if (hk->reconciler == NULL || hk->retention == NULL ||
        cf_sweeper_new(cfg, store, hk->queue, &hk->sweeper) != CF_OK ||
        cf_promoter_start(cfg, worker_id, &hk->promoter) != CF_OK ||
        pthread_create(&hk->thread, NULL, housekeeping_main, hk) != 0) {
        cf_promoter_stop(hk->promoter);
        cf_sweeper_free(hk->sweeper);
        cf_retention_free(hk->retention);
        cf_reconciler_free(hk->reconciler);
        cf_queue_free(hk->queue);
        cf_free(hk);
        return CF_ERR_NOMEM;
    }
    *out = hk;
    return CF_OK;
}

void cf_housekeeping_abandon(cf_housekeeping *hk)
{
    if (hk == NULL)
        return;
    atomic_store(&hk->stop, true);
    cf_promoter_abandon(hk->promoter);
    pthread_detach(hk->thread); /* never joined: it ends on its own */
}

void cf_housekeeping_stop(cf_housekeeping *hk)
{
    if (hk == NULL)
        return;
    atomic_store(&hk->stop, true);
    pthread_join(hk->thread, NULL);
    cf_promoter_stop(hk->promoter); /* after the sweeper's thread: it publishes */
    cf_sweeper_log_totals(hk->sweeper);
    cf_sweeper_free(hk->sweeper);
    cf_retention_free(hk->retention);
    cf_reconciler_free(hk->reconciler);
    cf_queue_free(hk->queue);
    cf_free(hk);
}
