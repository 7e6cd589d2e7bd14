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
#include "common/log.h"
#include "queue/keys.h"
#include "queue/redis_conn.h"
#include "queue/scripts.h"

struct cf_heartbeat {
    cf_redis *r;
    char prefix[CF_PREFIX_MAX + 1];
    char worker_id[CF_WORKER_ID_MAX];
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

cf_status cf_heartbeat_beat(cf_redis *r, const char *prefix, const char *worker_id)
{
    char key[CF_KEY_MAX];
    if (cf_keys_check(prefix, NULL) != CF_OK || worker_id == NULL || worker_id[0] == '\0')
        return CF_ERR_INVALID;
    int kl = cf_key_workers(key, sizeof key, prefix);
    const char *argv[2] = {key, worker_id};
    size_t lens[2] = {(size_t)kl, strlen(worker_id)};
    cf_reply *rep = NULL;
    cf_status st = cf_redis_eval(r, &cf_script_heartbeat, 1, 2, argv, lens, &rep);
    cf_reply_free(rep);
    return st;
}

cf_status cf_heartbeat_deregister(cf_redis *r, const char *prefix, const char *worker_id)
{
    char wk[CF_KEY_MAX], hk[CF_KEY_MAX];
    if (cf_keys_check(prefix, NULL) != CF_OK || worker_id == NULL || worker_id[0] == '\0')
        return CF_ERR_INVALID;
    char ik[CF_KEY_MAX];
    int wl = cf_key_workers(wk, sizeof wk, prefix);
    int hl = cf_key_held(hk, sizeof hk, prefix, worker_id);
    int il = cf_key_worker_info(ik, sizeof ik, prefix, worker_id);
    if (hl < 0 || il < 0)
        return CF_ERR_INVALID;
    const char *a0[2] = {"DEL", hk};
    size_t n0[2] = {3, (size_t)hl};
    const char *a1[3] = {"ZREM", wk, worker_id};
    size_t n1[3] = {4, (size_t)wl, strlen(worker_id)};
    const char *a2[2] = {"DEL", ik};
    size_t n2[2] = {3, (size_t)il};
    cf_redis_cmd cmds[3] = {{NULL, 0, 2, a0, n0}, {NULL, 0, 3, a1, n1}, {NULL, 0, 2, a2, n2}};
    cf_reply *reps[3];
    cf_status st = cf_redis_pipeline(r, cmds, 3, reps);
    for (int i = 0; i < 3; i++)
        cf_reply_free(reps[i]);
    return st;
}

static void log_quiet(const cf_heartbeat *hb, bool quiet)
{
    cf_log(CF_LOG_INFO, NULL, "event=%s worker=%s busy=%d%s",
           quiet ? "worker_quiet" : "worker_resumed", hb->worker_id,
           hb->busy ? atomic_load(hb->busy) : 0,
           quiet ? ": takes no new envelopes; running ones finish" : "");
}

/* publish_info writes P:worker:<id> and reads the quiet request back (one script). */
static cf_status publish_info(cf_heartbeat *hb)
{
    char key[CF_KEY_MAX], ttl[24], conc[16], busy[16], pid[16], started[24];
    int kl = cf_key_worker_info(key, sizeof key, hb->prefix, hb->worker_id);
    if (kl < 0)
        return CF_ERR_INVALID;
    int64_t ttl_ms = hb->interval_ms * CF_WORKER_INFO_TTL_BEATS;
    snprintf(ttl, sizeof ttl, "%lld", (long long)(ttl_ms < 60000 ? 60000 : ttl_ms));
    snprintf(conc, sizeof conc, "%d", hb->concurrency);
    snprintf(busy, sizeof busy, "%d", hb->busy ? atomic_load(hb->busy) : 0);
    snprintf(pid, sizeof pid, "%ld", (long)getpid());
    snprintf(started, sizeof started, "%lld", (long long)hb->started_at_ms);
    bool recording = atomic_load(&hb->quiet_requested);
    const char *argv[] = {key,      ttl,          recording ? "1" : "0",
                          "queues", hb->queues,   "concurrency",
                          conc,     "busy",       busy,
                          "pid",    pid,          "host",
                          hb->host, "started_at", started};
    size_t n = sizeof argv / sizeof argv[0], lens[sizeof argv / sizeof argv[0]];
    for (size_t i = 0; i < n; i++)
        lens[i] = i == 0 ? (size_t)kl : strlen(argv[i]);
    cf_reply *rep = NULL;
    cf_status st = cf_redis_eval(hb->r, &cf_script_worker_info, 1, (int)n, argv, lens, &rep);
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
    cf_status st = cf_heartbeat_beat(hb->r, hb->prefix, hb->worker_id);
    if (st == CF_OK && hb->publish)
        st = publish_info(hb);
    return st;
}

static void *beat_loop(void *arg)
{
    cf_heartbeat *hb = arg;
    int failures = 0;
    while (!atomic_load(&hb->stop)) {
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
                       cf_redis_errstr(hb->r), failures, (long long)suppressed);
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
    return cf_heartbeat_start_info(url, opts, prefix, worker_id, interval_ms, NULL, out, err);
}

cf_status cf_heartbeat_start_info(const char *url, const cf_redis_opts *opts, const char *prefix,
                                  const char *worker_id, int64_t interval_ms,
                                  const cf_heartbeat_info *info, cf_heartbeat **out, cf_error *err)
{
    *out = NULL;
    if (cf_keys_check(prefix, NULL) != CF_OK || worker_id == NULL || worker_id[0] == '\0' ||
        strlen(worker_id) >= CF_WORKER_ID_MAX)
        return cf_error_set(err, "bad_value", "worker_id", "bad prefix or worker id");
    cf_heartbeat *hb = cf_calloc(1, sizeof *hb);
    if (hb == NULL)
        return CF_ERR_NOMEM;
    snprintf(hb->prefix, sizeof hb->prefix, "%s", prefix);
    snprintf(hb->worker_id, sizeof hb->worker_id, "%s", worker_id);
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
    cf_status st = cf_redis_open(url, opts, &hb->r, err);
    if (st == CF_OK) {
        st = beat_once(hb);
        if (st != CF_OK)
            cf_error_set(err, cf_status_str(st), "heartbeat", "%s", cf_redis_errstr(hb->r));
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
        cf_redis_free(hb->r);
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
    cf_redis_free(hb->r);
    cf_free(hb);
}
