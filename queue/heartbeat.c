// SPDX-License-Identifier: MIT
/* queue/heartbeat.c: the heartbeat thread and its one-shot operations. The thread owns its
 * connection (a cf_redis is single-threaded) and only ever sleeps interruptibly, so stopping it
 * takes at most one beat's timeouts plus 50 ms. */
#include "queue/heartbeat.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/alloc.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/liveness.h"
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
    bool publish;                /* info given: publish P:worker:<id> */
    char queues[1024];           /* info->queues */
    int concurrency;             /* info->concurrency */
    const atomic_int *busy;      /* info->busy (may be NULL) */
    char host[256];              /* gethostname */
    int64_t started_at_ms;       /* Unix ms */
    atomic_bool own_quiet;       /* the quiet state unless info gave a place for it */
    atomic_bool *quiet;          /* takes no new envelopes */
    atomic_bool quiet_requested; /* a local request not yet recorded in Redis */
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
    char ik[CF_KEY_MAX];
    cf_status bst = cf_queue_begin(q, NULL, true);
    if (bst != CF_OK)
        return bst;
    cf_argv cmds[3];
    cf_argv_init(&cmds[0]);
    cf_argv_key(cf_argv_str(&cmds[0], "DEL"), hk,
                cf_key_held(hk, sizeof hk, q->prefix, q->worker_id));
    cf_argv_init(&cmds[1]);
    cf_argv_key(cf_argv_str(&cmds[1], "ZREM"), wk, cf_key_workers(wk, sizeof wk, q->prefix));
    cf_argv_str(&cmds[1], q->worker_id);
    cf_argv_init(&cmds[2]);
    cf_argv_key(cf_argv_str(&cmds[2], "DEL"), ik,
                cf_key_worker_info(ik, sizeof ik, q->prefix, q->worker_id));
    cf_reply *reps[3];
    cf_status st = cf_queue_pipeline(q, cmds, 3, reps);
    for (int i = 0; i < 3; i++)
        cf_reply_free(reps[i]);
    return st;
}

static void log_quiet(const cf_heartbeat *hb, bool quiet)
{
    cf_log(CF_LOG_INFO, NULL, "event=%s worker=%s busy=%d%s",
           quiet ? "worker_quiet" : "worker_resumed", cf_queue_worker_id(hb->q),
           hb->busy ? atomic_load(hb->busy) : 0,
           quiet ? ": takes no new envelopes; running ones finish" : "");
}

/* publish_info writes P:worker:<id> and reads the quiet request back (one script). */
static cf_status publish_info(cf_heartbeat *hb)
{
    cf_queue *q = hb->q;
    char key[CF_KEY_MAX];
    cf_status bst = cf_queue_begin(q, NULL, true);
    if (bst != CF_OK)
        return bst;
    int64_t ttl_ms = hb->interval_ms * CF_WORKER_INFO_TTL_BEATS;
    bool recording = atomic_load(&hb->quiet_requested);
    cf_argv a;
    cf_argv_init_script(&a, &cf_script_worker_info, 1);
    cf_argv_key(&a, key, cf_key_worker_info(key, sizeof key, q->prefix, q->worker_id));
    cf_argv_int(&a, ttl_ms < 60000 ? 60000 : ttl_ms);
    cf_argv_str(&a, recording ? "1" : "0");
    cf_argv_str(cf_argv_str(&a, "queues"), hb->queues);
    cf_argv_int(cf_argv_str(&a, "concurrency"), hb->concurrency);
    cf_argv_int(cf_argv_str(&a, "busy"), hb->busy ? atomic_load(hb->busy) : 0);
    cf_argv_int(cf_argv_str(&a, "pid"), (long long)getpid());
    cf_argv_str(cf_argv_str(&a, "host"), hb->host);
    cf_argv_int(cf_argv_str(&a, "started_at"), hb->started_at_ms);
    cf_argv_int(cf_argv_str(&a, "keyspace"), CF_KEYSPACE_VERSION);
    cf_reply *rep = NULL;
    cf_status st = cf_queue_exec(q, &a, &rep);
    if (st == CF_OK) {
        bool quiet = rep->type == CF_REPLY_STRING && rep->len == 1 && rep->str[0] == '1';
        /* A request made while this beat was in flight keeps the worker quiet; the next
         * beat records it. */
        quiet = quiet || atomic_load(&hb->quiet_requested);
        if (atomic_exchange(hb->quiet, quiet) != quiet)
            log_quiet(hb, quiet);
        if (recording)
            atomic_store(&hb->quiet_requested, false);
    }
    cf_reply_free(rep);
    return st;
}

/* beat_once re-scores the worker and, with info, publishes it. */
static cf_status beat_once(cf_heartbeat *hb)
{
    cf_status st = cf_heartbeat_beat(hb->q);
    if (st == CF_OK && hb->publish)
        st = publish_info(hb);
    return st;
}

static void *beat_loop(void *arg)
{
    cf_heartbeat *hb = arg;
    int failures = 0;
    while (!atomic_load(&hb->stop)) {
        cf_liveness_tick("heartbeat");
        int64_t wait = hb->interval_ms;
        cf_status st = beat_once(hb);
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
    cf_liveness_leave();
    return NULL;
}

cf_status cf_heartbeat_start(const char *url, const cf_redis_opts *opts, const char *prefix,
                             const char *worker_id, int64_t interval_ms, cf_heartbeat **out,
                             cf_error *err)
{
    return cf_heartbeat_start_info(url, opts, prefix, worker_id, interval_ms, NULL, out, err);
}

cf_status cf_heartbeat_start_info(const char *url, const cf_redis_opts *opts, const char *prefix,
                                  const char *worker_id, int64_t interval_ms,
                                  const cf_heartbeat_info *info, cf_heartbeat **out, cf_error *err)
{
    *out = NULL;
    if (worker_id == NULL)
        return cf_error_set(err, "bad_value", "worker_id", "a heartbeat needs a worker id");
    cf_heartbeat *hb = cf_calloc(1, sizeof *hb);
    if (hb == NULL)
        return CF_ERR_NOMEM;
    hb->interval_ms = interval_ms > 0 ? interval_ms : CF_HEARTBEAT_INTERVAL_DEFAULT_MS;
    atomic_init(&hb->stop, false);
    atomic_init(&hb->own_quiet, false);
    hb->quiet = info && info->quiet ? info->quiet : &hb->own_quiet;
    atomic_init(&hb->quiet_requested, false);
    if (info) {
        hb->publish = true;
        snprintf(hb->queues, sizeof hb->queues, "%s", info->queues ? info->queues : "");
        hb->concurrency = info->concurrency;
        hb->busy = info->busy;
        if (gethostname(hb->host, sizeof hb->host - 1) != 0)
            snprintf(hb->host, sizeof hb->host, "unknown");
        hb->started_at_ms = cf_clock_unix_ms();
    }
    cf_status st = cf_queue_open(url, prefix, worker_id, opts, &hb->q, err);
    if (st == CF_OK) {
        st = beat_once(hb);
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

bool cf_heartbeat_quiet(const cf_heartbeat *hb)
{
    return atomic_load(hb->quiet);
}

void cf_heartbeat_request_quiet(cf_heartbeat *hb)
{
    atomic_store(&hb->quiet_requested, true);
    if (!atomic_exchange(hb->quiet, true))
        log_quiet(hb, true);
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
