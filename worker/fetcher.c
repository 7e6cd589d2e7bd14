// SPDX-License-Identifier: MIT
/* worker/fetcher.c: the fetch loop and the hand-off of envelopes to idle executors
 * (worker/fetcher.h): a mutex, a stack of idle executor slots, and one mailbox per slot. */
#include "worker/fetcher.h"

#include <pthread.h>
#include <string.h>

#include "common/alloc.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/liveness.h"
#include "common/log.h"
#include "common/metrics.h"
#include "queue/queue.h"

#define BLOCK_MS 1000 /* one cf_fetch call when nothing is ready (slices of it see a stop) */

typedef struct mailbox {
    cf_fetched env;
    bool full;
    pthread_cond_t cv;
} mailbox;

struct cf_fetcher {
    cf_fetcher_config c;
    int n;          /* executors */
    cf_queue *q;    /* the fetcher's own connection: blocking slices, give-backs */
    cf_queue *take; /* where takes go: a client of c.mux, or q */
    pthread_mutex_t mu;
    pthread_cond_t idle_cv; /* an executor became idle, or a stop */
    int *idle;              /* stack of idle slots */
    int nidle;
    mailbox *box;
    cf_fetched *taken; /* scratch: n entries */
    _Atomic uint64_t calls, ntaken;
};

static cf_log_limiter fetch_limiter;

cf_status cf_fetcher_new(const cf_fetcher_config *c, cf_fetcher **out, cf_error *err)
{
    *out = NULL;
    int n = c->cfg->concurrency;
    cf_fetcher *f = cf_calloc(1, sizeof *f);
    if (f == NULL)
        return CF_ERR_NOMEM;
    f->c = *c;
    f->n = n;
    f->idle = cf_calloc((size_t)n, sizeof *f->idle);
    f->box = cf_calloc((size_t)n, sizeof *f->box);
    f->taken = cf_calloc((size_t)n, sizeof *f->taken);
    cf_status st = CF_ERR_NOMEM;
    if (f->idle && f->box && f->taken)
        st = cf_queue_new(c->cfg->redis_url, c->cfg->prefix, c->worker_id, NULL, &f->q, err);
    f->take = f->q;
    if (st == CF_OK && c->mux)
        st = cf_queue_new_shared(c->mux, c->cfg->prefix, c->worker_id, &f->take, err);
    if (st != CF_OK) {
        cf_queue_free(f->q);
        cf_free(f->idle);
        cf_free(f->box);
        cf_free(f->taken);
        cf_free(f);
        return st;
    }
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->idle_cv, NULL);
    for (int i = 0; i < n; i++)
        pthread_cond_init(&f->box[i].cv, NULL);
    *out = f;
    return CF_OK;
}

void cf_fetcher_wake(cf_fetcher *f)
{
    pthread_mutex_lock(&f->mu);
    pthread_cond_broadcast(&f->idle_cv);
    for (int i = 0; i < f->n; i++)
        pthread_cond_signal(&f->box[i].cv);
    pthread_mutex_unlock(&f->mu);
}

bool cf_fetcher_next(cf_fetcher *f, int slot, cf_fetched *out)
{
    mailbox *b = &f->box[slot];
    pthread_mutex_lock(&f->mu);
    if (!b->full) {
        f->idle[f->nidle++] = slot;
        pthread_cond_signal(&f->idle_cv);
        while (!b->full && !atomic_load(f->c.stopping))
            pthread_cond_wait(&b->cv, &f->mu);
    }
    /* On a stop an envelope already here stays (cf_fetcher_free returns it to ready). */
    bool got = b->full && !atomic_load(f->c.stopping);
    if (got) {
        *out = b->env;
        memset(&b->env, 0, sizeof b->env);
        b->full = false;
    }
    pthread_mutex_unlock(&f->mu);
    return got;
}

/* wait_idle waits for idle executors; returns how many (0 on a stop). */
static int wait_idle(cf_fetcher *f)
{
    pthread_mutex_lock(&f->mu);
    while (f->nidle == 0 && !atomic_load(f->c.stopping)) {
        cf_liveness_tick("fetch");
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&f->idle_cv, &f->mu, &ts);
    }
    int n = atomic_load(f->c.stopping) ? 0 : f->nidle;
    pthread_mutex_unlock(&f->mu);
    return n;
}

/* hand_out gives taken[0..n) to idle executors (there are at least n: only this thread takes
 * executors off the idle stack). */
static void hand_out(cf_fetcher *f, int n)
{
    pthread_mutex_lock(&f->mu);
    for (int i = 0; i < n; i++) {
        int slot = f->idle[--f->nidle];
        mailbox *b = &f->box[slot];
        b->env = f->taken[i];
        b->full = true;
        atomic_fetch_add_explicit(&cf_metrics_g.in_flight, 1, memory_order_relaxed);
        cf_active_hold(f->c.active, slot, b->env.queue_index, b->env.data, b->env.len);
        pthread_cond_signal(&b->cv);
    }
    pthread_mutex_unlock(&f->mu);
}

/* give_back returns taken[0..n) to the tail of ready, unrun (quiet or stopping). What cannot be
 * returned stays in flight, for the reconciler or the leave at shutdown. */
static void give_back(cf_fetcher *f, int n)
{
    for (int i = 0; i < n; i++) {
        cf_fetched *e = &f->taken[i];
        if (cf_fetch_requeue(f->q, f->c.queues[e->queue_index], e->data, e->len) != CF_OK)
            log_warn("event=requeue_failed: %s; the envelope stays in flight",
                     cf_queue_errstr(f->q));
        cf_fetched_deinit(e);
    }
}

static void fetch_error(cf_fetcher *f, cf_queue *on, cf_status st, int *errors)
{
    int64_t suppressed = 0;
    if (cf_log_ratelimit(&fetch_limiter, 5000, &suppressed))
        log_warn("event=fetch_error status=%s: %s; retrying with backoff (%lld similar "
                 "suppressed)",
                 cf_status_str(st), cf_queue_errstr(on), (long long)suppressed);
    cf_clock_sleep_ms(cf_backoff_delay_ms(100, 5000, ++*errors, true), f->c.stopping);
}

void *cf_fetcher_main(void *arg)
{
    cf_fetcher *f = arg;
    const atomic_bool *stopping = f->c.stopping;
    size_t nq = (size_t)f->c.cfg->nqueues;
    int errors = 0;
    while (!atomic_load(stopping)) {
        cf_liveness_tick("fetch");
        if (atomic_load(f->c.quiet)) {
            cf_clock_sleep_ms(50, stopping);
            continue;
        }
        int want = wait_idle(f);
        if (want == 0)
            continue;
        size_t got = 0;
        cf_status st = cf_fetch_take(f->take, f->c.queues, nq, (size_t)want, f->taken, &got);
        int n = (int)got;
        cf_queue *on = f->take; /* whose message an error left */
        if (st == CF_OK && n == 0) {
            /* Nothing ready: block for one envelope. */
            on = f->q;
            st = cf_fetch(f->q, f->c.queues, nq, BLOCK_MS, stopping, &f->taken[0]);
            if (st == CF_OK)
                n = 1;
            else if (st == CF_ERR_NOT_FOUND)
                st = CF_OK;
        }
        /* Taken as the worker went quiet or began to stop: hand it back unrun. */
        atomic_fetch_add(&f->calls, 1);
        atomic_fetch_add(&f->ntaken, (uint64_t)n);
        if (n > 0 && (atomic_load(f->c.quiet) || atomic_load(stopping))) {
            give_back(f, n);
            n = 0;
        }
        if (n > 0)
            hand_out(f, n);
        if (st == CF_OK)
            errors = 0;
        else
            fetch_error(f, on, st, &errors);
    }
    cf_liveness_leave();
    return NULL;
}

void cf_fetcher_stats(cf_fetcher *f, uint64_t *calls, uint64_t *taken)
{
    *calls = atomic_load(&f->calls);
    *taken = atomic_load(&f->ntaken);
}

void cf_fetcher_free(cf_fetcher *f)
{
    if (f == NULL)
        return;
    int left = 0;
    for (int i = 0; i < f->n; i++) {
        mailbox *b = &f->box[i];
        if (b->full) {
            cf_active_clear(f->c.active, i);
            f->taken[left++] = b->env;
            b->full = false;
        }
        pthread_cond_destroy(&b->cv);
    }
    give_back(f, left);
    if (f->take != f->q)
        cf_queue_free(f->take);
    cf_queue_free(f->q);
    pthread_cond_destroy(&f->idle_cv);
    pthread_mutex_destroy(&f->mu);
    cf_free(f->idle);
    cf_free(f->box);
    cf_free(f->taken);
    cf_free(f);
}
