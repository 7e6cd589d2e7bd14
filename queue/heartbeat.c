// SPDX-License-Identifier: MIT
/* queue/heartbeat.c: the heartbeat thread and its one-shot operations. The thread owns its
 * connection (a cf_redis is single-threaded) and only ever sleeps interruptibly, so stopping it
 * takes at most one beat's timeouts plus 50 ms. */
#include "queue/heartbeat.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/log.h"
#include "queue/argv.h"
#include "queue/keys.h"
#include "queue/queue_internal.h"
#include "queue/redis_conn.h"
#include "queue/scripts.h"

struct cf_heartbeat {
    cf_queue *q; /* its own connection, under the worker's prefix and id */
    int64_t interval_ms;
    pthread_t thread;
    atomic_bool stop;
    _Atomic int64_t last_ok_ms;
    _Atomic int64_t beats;
    cf_log_limiter limiter;
};

cf_status cf_heartbeat_beat(cf_queue *q)
{
    char key[CF_KEY_MAX];
    cf_status bst = cf_queue_begin(q, NULL, true);
    if (bst != CF_OK)
        return bst;
    cf_argv a;
    cf_argv_init_script(&a, &cf_script_heartbeat, 1);
    cf_argv_key(&a, key, cf_key_workers(key, sizeof key, q->prefix));
    cf_argv_str(&a, q->worker_id);
    cf_reply *rep = NULL;
    cf_status st = cf_queue_exec(q, &a, &rep);
    cf_reply_free(rep);
    return st;
}

cf_status cf_heartbeat_deregister(cf_queue *q)
{
    char wk[CF_KEY_MAX], hk[CF_KEY_MAX];
    cf_status bst = cf_queue_begin(q, NULL, true);
    if (bst != CF_OK)
        return bst;
    cf_argv cmds[2];
    cf_argv_init(&cmds[0]);
    cf_argv_key(cf_argv_str(&cmds[0], "DEL"), hk,
                cf_key_held(hk, sizeof hk, q->prefix, q->worker_id));
    cf_argv_init(&cmds[1]);
    cf_argv_key(cf_argv_str(&cmds[1], "ZREM"), wk, cf_key_workers(wk, sizeof wk, q->prefix));
    cf_argv_str(&cmds[1], q->worker_id);
    cf_reply *reps[2];
    cf_status st = cf_queue_pipeline(q, cmds, 2, reps);
    cf_reply_free(reps[0]);
    cf_reply_free(reps[1]);
    return st;
}

static void *beat_loop(void *arg)
{
    cf_heartbeat *hb = arg;
    int failures = 0;
    while (!atomic_load(&hb->stop)) {
        int64_t wait = hb->interval_ms;
        cf_status st = cf_heartbeat_beat(hb->q);
        if (st == CF_OK) {
            atomic_store(&hb->last_ok_ms, cf_clock_mono_ms());
            atomic_fetch_add(&hb->beats, 1);
            failures = 0;
        } else {
            failures++;
            int64_t suppressed = 0;
            if (cf_log_ratelimit(&hb->limiter, 10000, &suppressed))
                cf_log(CF_LOG_WARN, NULL,
                       "heartbeat failed: %s (%d in a row; %lld lines suppressed)",
                       cf_queue_errstr(hb->q), failures, (long long)suppressed);
            /* Retry sooner than the interval, but back off while Redis stays away. */
            int64_t d = cf_backoff_delay_ms(100, hb->interval_ms, failures, true);
            wait = d < wait ? d : wait;
        }
        cf_clock_sleep_ms(wait, &hb->stop);
    }
    return NULL;
}

cf_status cf_heartbeat_start(const char *url, const cf_redis_opts *opts, const char *prefix,
                             const char *worker_id, int64_t interval_ms, cf_heartbeat **out,
                             cf_error *err)
{
    *out = NULL;
    if (worker_id == NULL)
        return cf_error_set(err, "bad_value", "worker_id", "a heartbeat needs a worker id");
    cf_heartbeat *hb = cf_calloc(1, sizeof *hb);
    if (hb == NULL)
        return CF_ERR_NOMEM;
    hb->interval_ms = interval_ms > 0 ? interval_ms : CF_HEARTBEAT_INTERVAL_DEFAULT_MS;
    atomic_init(&hb->stop, false);
    cf_status st = cf_queue_open(url, prefix, worker_id, opts, &hb->q, err);
    if (st == CF_OK) {
        st = cf_heartbeat_beat(hb->q);
        if (st != CF_OK)
            cf_error_set(err, cf_status_str(st), "heartbeat", "%s", cf_queue_errstr(hb->q));
    }
    if (st == CF_OK) {
        atomic_store(&hb->last_ok_ms, cf_clock_mono_ms());
        atomic_store(&hb->beats, 1);
        if (pthread_create(&hb->thread, NULL, beat_loop, hb) != 0) {
            st = CF_ERR_NOMEM;
            cf_error_set(err, "nomem", "heartbeat", "cannot start the heartbeat thread");
        }
    }
    if (st != CF_OK) {
        cf_queue_free(hb->q);
        cf_free(hb);
        return st;
    }
    *out = hb;
    return CF_OK;
}

int64_t cf_heartbeat_last_ok_ms(const cf_heartbeat *hb)
{
    return atomic_load(&hb->last_ok_ms);
}

int64_t cf_heartbeat_beats(const cf_heartbeat *hb)
{
    return atomic_load(&hb->beats);
}

void cf_heartbeat_stop(cf_heartbeat *hb)
{
    if (hb == NULL)
        return;
    atomic_store(&hb->stop, true);
    pthread_join(hb->thread, NULL);
    cf_queue_free(hb->q);
    cf_free(hb);
}
