// SPDX-License-Identifier: MIT
/* worker/worker.c: start-up, the executor threads' loop (the next envelope from the fetcher,
 * worker/fetcher.h, then the delivery; their Redis calls share one auto-pipelined connection,
 * queue/mux.h), and shutdown (a drain, or abandoning the executors still inside passes; never
 * ending the process). */
#include "worker/worker.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/alloc.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/redact.h"
#include "queue/enqueue.h"
#include "queue/fetch.h"
#include "queue/heartbeat.h"
#include "queue/keys.h"
#include "queue/mux.h"
#include "queue/recovery.h"
#include "queue/redis_conn.h"
#include "store/store.h"
#include "worker/active.h"
#include "worker/control.h"
#include "worker/executor.h"
#include "worker/fetcher.h"
#include "worker/housekeeping.h"
#include "worker/observer.h"
#include "worker/sd_notify.h"

typedef struct worker {
    const cf_config *cfg;
    cf_worker_signals *sig;
    char id[CF_WORKER_ID_MAX];
    const char *queues[CF_MAX_QUEUES];
    cf_store *store;
    atomic_bool stopping; /* no new fetches; passes halt before their next step */
    atomic_int running;   /* executor threads and the fetcher still in their loops */
    atomic_int busy;      /* executors inside a delivery (published by the heartbeat) */
    atomic_bool quiet;    /* kept by the heartbeat: fetch nothing new while set */
    cf_worker_stats stats;
    cf_active *active; /* what each executor holds (worker/active.h) */
    struct executor_thread *threads;
    cf_mux *mux;         /* the executors' shared Redis connection */
    cf_fetcher *fetcher; /* takes envelopes for idle executors */
    pthread_t fetch_thread;
    bool fetch_started;
    cf_housekeeping *hk;
    cf_control *ctl;               /* the control loop (worker/control.h) */
    struct worker *abandoned_next; /* see abandoned_workers */
} worker;

typedef struct executor_thread {
    worker *w;
    int slot; /* in w->active */
    pthread_t thread;
    bool started;
} executor_thread;

/* Workers whose executors were abandoned inside passes (CF_WORKER_ABANDONED). Their threads may
 * still run user steps and then touch the worker, its store, housekeeping and active table, so
 * none of it is freed, on purpose: the process is about to end. This list keeps that memory
 * reachable, so leak checkers (LSan at exit, valgrind) do not report it as leaked. */
static pthread_mutex_t abandoned_mu = PTHREAD_MUTEX_INITIALIZER;
static worker *abandoned_workers;

/* abandon leaves w's executors running: stops the heartbeat (so the fleet recovers this
 * worker's envelopes and locks once its lease passes, even if the process lived on), asks
 * housekeeping to stop without waiting for it, and keeps everything allocated and reachable. */
static void abandon(worker *w, cf_heartbeat *hb)
{
    log_warn("event=worker_abandon worker=%s running=%d: %s; executors inside passes are left "
             "running, the rest is left to recovery by the fleet (after the lease)",
             w->id, atomic_load(&w->running),
             atomic_load(&w->sig->hard) ? "a second stop request" : "the grace period ran out");
    cf_heartbeat_stop(hb);
    cf_housekeeping_abandon(w->hk);
    cf_control_abandon(w->ctl);
    for (int i = 0; w->threads && i < w->cfg->concurrency; i++)
        if (w->threads[i].started)
            pthread_detach(w->threads[i].thread); /* never joined: each ends on its own */
    if (w->fetch_started)
        pthread_detach(w->fetch_thread);
    pthread_mutex_lock(&abandoned_mu);
    w->abandoned_next = abandoned_workers;
    abandoned_workers = w;
    pthread_mutex_unlock(&abandoned_mu);
}

static void *executor_main(void *arg)
{
    executor_thread *t = arg;
    worker *w = t->w;
    cf_executor ex = {
        .cfg = w->cfg,
        .worker_id = w->id,
        .store = w->store,
        .stopping = &w->stopping,
        .stats = &w->stats,
        .active = w->active,
        .slot = t->slot,
    };
    cf_error err;
    if (cf_queue_new_shared(w->mux, w->cfg->prefix, w->id, &ex.queue, &err) != CF_OK) {
        log_error("event=startup_failed: %s", err.msg);
        atomic_fetch_sub(&w->running, 1);
        return NULL;
    }
    /* No liveness slot: an executor waits for work or runs a delivery (user code), both exempt;
     * the fetch loop is the one that must keep iterating. */
    for (;;) {
        cf_fetched f = {0};
        if (!cf_fetcher_next(w->fetcher, t->slot, &f))
            break; /* stopping */
        atomic_fetch_add(&w->busy, 1);
        cf_executor_handle(&ex, w->queues[f.queue_index], f.data, f.len);
        atomic_fetch_sub_explicit(&cf_metrics_g.in_flight, 1, memory_order_relaxed);
        atomic_fetch_sub(&w->busy, 1);
        cf_active_clear(w->active, t->slot);
        cf_fetched_deinit(&f);
    }
    cf_queue_free(ex.queue);
    atomic_fetch_sub(&w->running, 1);
    return NULL;
}

static void *fetcher_main(void *arg)
{
    worker *w = arg;
    cf_fetcher_main(w->fetcher);
    atomic_fetch_sub(&w->running, 1);
    return NULL;
}

/* start_threads makes the shared connection and the fetcher, then starts the executors and the
 * fetch loop. */
static cf_status start_threads(worker *w)
{
    const cf_config *cfg = w->cfg;
    cf_error err = {0};
    if (cf_mux_new(cfg->redis_url, NULL, &w->mux, &err) != CF_OK) {
        log_error("event=startup_failed: Redis: %s", err.msg);
        return CF_ERR_INVALID;
    }
    cf_fetcher_config fc = {cfg, w->id, w->queues, w->active, &w->stopping, &w->quiet, w->mux};
    if (cf_fetcher_new(&fc, &w->fetcher, &err) != CF_OK) {
        log_error("event=startup_failed: Redis: %s", err.msg);
        return CF_ERR_INVALID;
    }
    w->threads = cf_calloc((size_t)cfg->concurrency, sizeof *w->threads);
    if (w->threads == NULL)
        return CF_ERR_NOMEM;
    atomic_store(&w->running, cfg->concurrency + 1);
    for (int i = 0; i < cfg->concurrency; i++) {
        executor_thread *t = &w->threads[i];
        t->w = w;
        t->slot = i;
        if (pthread_create(&t->thread, NULL, executor_main, t) != 0) {
            atomic_fetch_sub(&w->running, 1);
            continue;
        }
        t->started = true;
    }
    if (pthread_create(&w->fetch_thread, NULL, fetcher_main, w) != 0) {
        atomic_fetch_sub(&w->running, 1);
        log_error("event=startup_failed: cannot start the fetch thread");
        return CF_ERR_NOMEM;
    }
    w->fetch_started = true;
    return CF_OK;
}

/* open_store connects to Postgres, retrying with backoff until it works or a stop arrives. */
static cf_status open_store(worker *w)
{
    cf_store_config sc = {
        .dsn = w->cfg->database_url,
        .max_connections = w->cfg->db_pool,
        .statement_timeout_ms = w->cfg->statement_timeout_ms,
        .io_timeout_ms = w->cfg->db_io_timeout_ms,
        .batch_max = w->cfg->batch_max,
        .no_prepared_statements = !w->cfg->pg_prepared_statements,
    };
    for (int attempt = 1;; attempt++) {
        cf_error why = {0};
        cf_status st = cf_store_open(&sc, &w->store, &why);
        if (st == CF_OK)
            return CF_OK;
        if (!cf_status_is_transient(st)) {
            log_error("event=startup_failed: Postgres: %s", why.msg);
            return st;
        }
        if (attempt == 1 || attempt % 10 == 0)
            log_warn("event=store_unavailable: %s; retrying", why.msg);
        if (!cf_clock_sleep_ms(cf_backoff_delay_ms(200, 5000, attempt, true), &w->sig->drain))
            return CF_ERR_UNAVAILABLE;
    }
}

static cf_status start_heartbeat(worker *w, cf_heartbeat **hb)
{
    for (int attempt = 1;; attempt++) {
        cf_error err = {0};
        cf_heartbeat_info info = {w->cfg->queues_csv, w->cfg->concurrency, &w->busy, &w->quiet};
        cf_status st = cf_heartbeat_start_info(w->cfg->redis_url, NULL, w->cfg->prefix, w->id,
                                               w->cfg->heartbeat_ms, &info, hb, &err);
        if (st == CF_OK)
            return CF_OK;
        if (!cf_status_is_transient(st)) {
            log_error("event=startup_failed: Redis: %s", err.msg);
            return st;
        }
        if (attempt == 1 || attempt % 10 == 0)
            log_warn("event=redis_unavailable: %s; retrying", err.msg);
        if (!cf_clock_sleep_ms(cf_backoff_delay_ms(200, 5000, attempt, true), &w->sig->drain))
            return CF_ERR_UNAVAILABLE;
    }
}

static void log_start(const worker *w)
{
    char redis[1100], db[1100];
    cf_redact_dsn(w->cfg->redis_url, redis, sizeof redis);
    cf_redact_dsn(w->cfg->database_url, db, sizeof db);
    log_info("event=worker_start worker=%s queues=%s concurrency=%d redis=%s database=\"%s\"",
             w->id, w->cfg->queues_csv, w->cfg->concurrency, redis, db);
}

/* drain waits for the executor threads to leave their loops, up to the grace period. */
static bool drain(worker *w)
{
    int64_t deadline = cf_clock_mono_ms() + w->cfg->shutdown_grace_ms;
    while (atomic_load(&w->running) > 0) {
        if (atomic_load(&w->sig->hard) || cf_clock_mono_ms() > deadline)
            return false;
        cf_clock_sleep_ms(20, NULL);
    }
    return true;
}

cf_worker_result cf_worker_run(const cf_config *cfg, cf_worker_signals *sig)
{
    worker *w = cf_calloc(1, sizeof *w);
    if (w == NULL)
        return CF_WORKER_NOT_STARTED;
    w->cfg = cfg;
    w->sig = sig;
    for (int i = 0; i < cfg->nqueues; i++)
        w->queues[i] = cfg->queues[i];
    cf_worker_result rc = CF_WORKER_NOT_STARTED;
    cf_heartbeat *hb = NULL;
    cf_housekeeping *hk = NULL;
    void *observer = NULL; /* worker/observer.h: /metrics, /healthz, /readyz when installed */
    executor_thread *threads = NULL;
    uint64_t round_trips0 = cf_redis_round_trips(); /* for the exit line's round trips */
    uint64_t takes[2] = {0, 0};                     /* fetcher calls, envelopes */
    cf_mux_counts mc = {0};
    if (cf_worker_id_make(w->id, sizeof w->id) != CF_OK)
        goto out;
    cf_log_set_component("worker");
    log_start(w);
    if (open_store(w) != CF_OK || start_heartbeat(w, &hb) != CF_OK)
        goto out;
    cf_queue *q = NULL;
    cf_error err;
    if (cf_queue_new(cfg->redis_url, cfg->prefix, w->id, NULL, &q, &err) == CF_OK) {
        if (cf_queues_register(q, w->queues, (size_t)cfg->nqueues) != CF_OK)
            log_warn("event=queues_register_failed: %s", cf_queue_errstr(q));
        cf_queue_free(q);
    }
    w->active = cf_active_new(cfg->concurrency);
    if (w->active == NULL || cf_housekeeping_start(cfg, w->id, w->store, w->active, &hk) != CF_OK)
        goto out;
    w->hk = hk;
    if (cf_control_start(cfg, w->id, w->store, &w->ctl) != CF_OK)
        goto out;
    cf_worker_view view = {cfg, w->id, &w->stats, w->store, &w->busy};
    if (cf_worker_observer_start(&view, &observer) != CF_OK)
        goto out;
    cf_status tst = start_threads(w);
    threads = w->threads;
    if (tst != CF_OK) {
        atomic_store(&w->stopping, true);
        if (w->fetcher)
            cf_fetcher_wake(w->fetcher);
        goto join;
    }
    log_info("event=worker_ready worker=%s", w->id);
    cf_sd_ready(); /* Redis and Postgres were reached, the executors run */
    while (!atomic_load(&sig->drain) && !atomic_load(&sig->hard)) {
        if (atomic_exchange(&sig->quiet, false))
            cf_heartbeat_request_quiet(hb);
        cf_clock_sleep_ms(100, NULL);
    }
    log_info("event=worker_draining worker=%s grace_ms=%lld: no new work; running steps finish",
             w->id, (long long)cfg->shutdown_grace_ms);
    cf_sd_stopping();
    atomic_store(&w->stopping, true);
    cf_fetcher_wake(w->fetcher);
    if (!drain(w)) {
        /* Threads may be inside user steps: they can be neither stopped nor joined. */
        abandon(w, hb);
        return CF_WORKER_ABANDONED;
    }
    rc = CF_WORKER_DRAINED;
join:
    for (int i = 0; threads && i < cfg->concurrency; i++)
        if (threads[i].started)
            pthread_join(threads[i].thread, NULL);
    if (w->fetch_started)
        pthread_join(w->fetch_thread, NULL);
    if (w->fetcher)
        cf_fetcher_stats(w->fetcher, &takes[0], &takes[1]);
    if (w->mux)
        cf_mux_stats(w->mux, &mc);
    cf_fetcher_free(w->fetcher); /* returns what no executor took to ready */
    cf_mux_free(w->mux);
    w->fetcher = NULL;
    w->mux = NULL;
out:
    cf_worker_observer_stop(observer);
    cf_control_stop(w->ctl);
    cf_housekeeping_stop(hk);
    if (hb) {
        cf_heartbeat_stop(hb);
        if (rc == CF_WORKER_DRAINED) {
            cf_queue *q2 = NULL;
            cf_error e2;
            if (cf_queue_new(cfg->redis_url, cfg->prefix, w->id, NULL, &q2, &e2) == CF_OK) {
                /* Every run has ended: whatever is still in flight or held is stale (Redis
                 * lost the ack or release) and would be orphaned by deregistering. */
                cf_recovery_stats left;
                if (cf_recovery_leave(q2, &left) != CF_OK)
                    log_warn("event=leave_failed: %s", cf_queue_errstr(q2));
                else if (left.envelopes > 0 || left.locks > 0)
                    log_warn("event=leave_leftovers worker=%s envelopes=%lld locks=%lld: stale "
                             "in-flight entries or locks (Redis lost acks or releases) returned",
                             w->id, (long long)left.envelopes, (long long)left.locks);
                if (cf_heartbeat_deregister(q2) != CF_OK)
                    log_warn("event=deregister_failed: %s", cf_queue_errstr(q2));
                cf_queue_free(q2);
            }
        }
    }
    cf_store_close(w->store);
    log_info("event=worker_stop worker=%s deliveries=%lld completed=%lld halted=%lld "
             "stalled=%lld failed=%lld busy=%lld dead_lettered=%lld conflicts=%lld "
             "redis_round_trips=%llu takes=%llu taken=%llu mux_batches=%llu mux_requests=%llu",
             w->id, (long long)w->stats.deliveries, (long long)w->stats.completed,
             (long long)w->stats.halted, (long long)w->stats.stalled, (long long)w->stats.failed,
             (long long)w->stats.busy, (long long)w->stats.dead_lettered,
             (long long)w->stats.conflicts,
             (unsigned long long)(cf_redis_round_trips() - round_trips0),
             (unsigned long long)takes[0], (unsigned long long)takes[1],
             (unsigned long long)mc.batches, (unsigned long long)mc.requests);
    cf_free(threads);
    cf_active_free(w->active);
    cf_free(w);
    return rc;
}
