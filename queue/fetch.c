// SPDX-License-Identifier: MIT
/* queue/fetch.c: reliable fetch and what ends a fetched envelope's stay in flight (ack, put
 * back to ready, move to scheduled, ack-and-continue). The in-flight list keeps every taken
 * envelope until one of those runs, so a worker that dies loses nothing (recovery.c). */
#include "queue/fetch.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "queue/argv.h"
#include "queue/keys.h"
#include "queue/pause.h"
#include "queue/queue_internal.h"
#include "queue/redis_conn.h"
#include "queue/schedule.h"
#include "queue/scripts.h"

#define SLICE_ONE_MS        500 /* BLMOVE slice with one queue */
#define SLICE_MANY_MS       100 /* with several: a lower queue's arrival waits at most this */
#define CF_FETCH_MAX_QUEUES 64

void cf_fetched_deinit(cf_fetched *f)
{
    if (f == NULL)
        return;
    cf_free(f->data);
    memset(f, 0, sizeof *f);
}

/* take_from runs the take script on queue: up to max envelopes into out[0..*n), at most
 * due_cap of them from P:{queue}:due while its ready list has entries (scripts.h). *paused:
 * the queue is paused (P:{queue}:paused exists): nothing was taken. */
static cf_status take_from(cf_queue *q, const char *queue, size_t max, size_t due_cap,
                           cf_fetched *out, size_t *n, bool *paused)
{
    char kd[CF_KEY_MAX], kr[CF_KEY_MAX], ki[CF_KEY_MAX], kp[CF_KEY_MAX];
    cf_argv a;
    cf_argv_init_script(&a, &cf_script_take, 4);
    cf_argv_key(&a, kd, cf_key_due(kd, sizeof kd, q->prefix, queue));
    cf_argv_key(&a, kr, cf_key_ready(kr, sizeof kr, q->prefix, queue));
    cf_argv_key(&a, ki, cf_key_inflight(ki, sizeof ki, q->prefix, queue, q->worker_id));
    cf_argv_key(&a, kp, cf_key_paused(kp, sizeof kp, q->prefix, queue));
    cf_argv_int(cf_argv_int(&a, (long long)max), (long long)due_cap);
    cf_reply *rep = NULL;
    *n = 0;
    *paused = false;
    cf_status st = cf_queue_exec(q, &a, &rep);
    if (st != CF_OK)
        return st;
    if (rep->type == CF_REPLY_INTEGER && rep->integer == -1) {
        *paused = true;
        cf_reply_free(rep);
        return CF_OK;
    }
    if (rep->type != CF_REPLY_ARRAY || rep->n > max) {
        cf_reply_free(rep);
        return CF_ERR_PROTOCOL;
    }
    for (size_t i = 0; i < rep->n; i++) {
        out[i].data = cf_reply_take_str(&rep->elem[i], &out[i].len);
        if (out[i].data == NULL) {
            /* in flight already: recovery or reconcile returns what was not handed out */
            cf_reply_free(rep);
            return CF_ERR_PROTOCOL;
        }
        (*n)++;
    }
    cf_reply_free(rep);
    return CF_OK;
}

/* One take in CF_FETCH_FAIR_EVERY of a thread's single-envelope fetches looks at ready before
 * due: a steady stream of due wakes cannot starve the backlog (the batch's bound, for max 1). */
#define CF_FETCH_FAIR_EVERY 4
static _Thread_local unsigned single_takes;

/* block_one runs BLMOVE ready -> inflight, RIGHT LEFT, for up to block_ms. Due entries need no
 * blocking read: promotion puts them in P:{Q}:due only while ready is non-empty (schedule.h),
 * and a fetcher blocks only after its take found due and ready both empty. */
static cf_status block_one(cf_queue *q, const char *queue, int64_t block_ms, cf_fetched *out,
                           bool *got)
{
    char src[CF_KEY_MAX], dst[CF_KEY_MAX], secs[32];
    cf_argv a;
    cf_argv_init(&a);
    cf_argv_str(&a, "BLMOVE");
    cf_argv_key(&a, src, cf_key_ready(src, sizeof src, q->prefix, queue));
    cf_argv_key(&a, dst, cf_key_inflight(dst, sizeof dst, q->prefix, queue, q->worker_id));
    cf_argv_str(cf_argv_str(&a, "RIGHT"), "LEFT");
    snprintf(secs, sizeof secs, "%lld.%03lld", (long long)(block_ms / 1000),
             (long long)(block_ms % 1000));
    cf_argv_str(&a, secs);
    cf_reply *rep = NULL;
    *got = false;
    cf_status st = cf_queue_exec_blocking(q, block_ms, &a, &rep);
    if (st != CF_OK)
        return st;
    if (rep->type == CF_REPLY_STRING) {
        out->data = cf_reply_take_str(rep, &out->len);
        *got = true;
    } else if (rep->type != CF_REPLY_NIL) {
        st = CF_ERR_PROTOCOL;
    }
    cf_reply_free(rep);
    return st;
}

/* paused_meanwhile: the blocking read took *f from queue, which may have been paused while it
 * blocked (it cannot read the flag): if it was, the envelope goes back to the ready list and
 * *f is freed, so a pause holds for every read that ends after it. */
static bool paused_meanwhile(cf_queue *q, const char *queue, cf_fetched *f)
{
    bool paused = false;
    if (cf_queue_is_paused(q, queue, &paused) != CF_OK || !paused)
        return false;
    if (cf_fetch_requeue(q, queue, f->data, f->len) != CF_OK)
        return false; /* still in flight: handed out as taken */
    cf_fetched_deinit(f);
    cf_metrics_halt(CF_HALT_REASON_PAUSED);
    return true;
}

static cf_status check_queues(cf_queue *q, const char *const *queues, size_t nqueues)
{
    cf_status bst = cf_queue_begin(q, NULL, true);
    if (bst != CF_OK)
        return bst;
    if (nqueues == 0)
        return cf_queue_fail(q, CF_ERR_INVALID, "no queue to fetch from");
    for (size_t i = 0; i < nqueues; i++)
        if ((bst = cf_queue_begin(q, queues[i], true)) != CF_OK)
            return bst;
    return CF_OK;
}

cf_status cf_fetch(cf_queue *q, const char *const *queues, size_t nqueues, int64_t wait_ms,
                   const atomic_bool *stop, cf_fetched *out)
{
    memset(out, 0, sizeof *out);
    cf_status bst = check_queues(q, queues, nqueues);
    if (bst != CF_OK)
        return bst;
    int64_t deadline = cf_clock_mono_ms() + (wait_ms > 0 ? wait_ms : 0);
    int64_t slice_max = nqueues == 1 ? SLICE_ONE_MS : SLICE_MANY_MS;
    for (size_t round = 0;; round++) {
        /* Non-blocking pass in priority order: due, then ready, of each queue. A paused queue
         * is not blocked on either (its BLMOVE would take what the pause keeps). */
        size_t due_cap = ++single_takes % CF_FETCH_FAIR_EVERY == 0 ? 0 : 1;
        size_t unpaused[CF_FETCH_MAX_QUEUES], nunpaused = 0;
        for (size_t i = 0; i < nqueues; i++) {
            size_t n = 0;
            bool paused = false;
            cf_status st = take_from(q, queues[i], 1, due_cap, out, &n, &paused);
            if (st != CF_OK || n == 1) {
                out->queue_index = i;
                return st;
            }
            if (!paused && nunpaused < CF_FETCH_MAX_QUEUES)
                unpaused[nunpaused++] = i;
        }
        if (stop && atomic_load(stop))
            return CF_ERR_NOT_FOUND;
        int64_t left = deadline - cf_clock_mono_ms();
        if (left <= 0)
            return CF_ERR_NOT_FOUND;
        int64_t slice = left < slice_max ? left : slice_max;
        if (slice < 10)
            slice = 10;       /* BLMOVE 0 would block forever */
        if (nunpaused == 0) { /* every queue is paused: look again after the slice */
            cf_clock_sleep_ms(slice, stop);
            continue;
        }
        size_t qi = unpaused[round % nunpaused];
        bool got;
        cf_status st = block_one(q, queues[qi], slice, out, &got);
        if (st == CF_OK && got && paused_meanwhile(q, queues[qi], out))
            continue;
        if (st != CF_OK || got) {
            out->queue_index = qi;
            return st;
        }
    }
}

cf_status cf_fetch_take(cf_queue *q, const char *const *queues, size_t nqueues, size_t max,
                        cf_fetched *out, size_t *n)
{
    *n = 0;
    cf_status st = check_queues(q, queues, nqueues);
    if (st != CF_OK)
        return st;
    if (max == 0 || max > CF_FETCH_TAKE_MAX)
        return cf_queue_fail(q, CF_ERR_INVALID, "take between 1 and %d envelopes",
                             CF_FETCH_TAKE_MAX);
    memset(out, 0, max * sizeof *out);
    for (size_t i = 0; i < nqueues && *n < max; i++) {
        size_t want = max - *n, got = 0;
        bool paused = false;
        st = take_from(q, queues[i], want, CF_FETCH_DUE_CAP(want), out + *n, &got, &paused);
        for (size_t j = *n; j < *n + got; j++)
            out[j].queue_index = i;
        *n += got;
        if (st != CF_OK)
            return *n > 0 ? CF_OK : st; /* what was taken is handed out; the error comes next */
    }
    return CF_OK;
}

/* inflight_keys starts a call of script with keys (ready list, then in-flight list) for
 * requeue, or (scheduled set, then in-flight list) for the scripts that add to the scheduled
 * set (their KEYS[1], scripts.h); k1 and k2 hold the keys. */
static void inflight_keys(cf_queue *q, cf_argv *a, const cf_redis_script *script, const char *queue,
                          bool to_scheduled, char *k1, char *k2)
{
    cf_argv_init_script(a, script, 2);
    if (to_scheduled) {
        cf_argv_key(a, k2, cf_key_scheduled(k2, CF_KEY_MAX, q->prefix, queue));
        cf_argv_key(a, k1, cf_key_inflight(k1, CF_KEY_MAX, q->prefix, queue, q->worker_id));
    } else {
        cf_argv_key(a, k1, cf_key_inflight(k1, CF_KEY_MAX, q->prefix, queue, q->worker_id));
        cf_argv_key(a, k2, cf_key_ready(k2, CF_KEY_MAX, q->prefix, queue));
    }
}

/* removed_reply maps an in-flight script's "removed" count: 0 is CF_ERR_NOT_FOUND. */
static cf_status removed_reply(cf_status st, cf_reply *rep)
{
    if (st == CF_OK && rep->type != CF_REPLY_INTEGER)
        st = CF_ERR_PROTOCOL;
    else if (st == CF_OK && rep->integer == 0)
        st = CF_ERR_NOT_FOUND;
    cf_reply_free(rep);
    return st;
}

cf_status cf_fetch_ack(cf_queue *q, const char *queue, const void *env, size_t len)
{
    cf_status bst = cf_queue_begin(q, queue, true);
    if (bst != CF_OK)
        return bst;
    char key[CF_KEY_MAX];
    cf_argv a;
    cf_argv_init(&a);
    cf_argv_str(&a, "LREM");
    cf_argv_key(&a, key, cf_key_inflight(key, sizeof key, q->prefix, queue, q->worker_id));
    cf_argv_buf(cf_argv_str(&a, "1"), env, len);
    cf_reply *rep = NULL;
    cf_status st = cf_queue_exec(q, &a, &rep);
    return removed_reply(st, rep);
}

cf_status cf_fetch_requeue(cf_queue *q, const char *queue, const void *env, size_t len)
{
    cf_status bst = cf_queue_begin(q, queue, true);
    if (bst != CF_OK)
        return bst;
    char k1[CF_KEY_MAX], k2[CF_KEY_MAX];
    cf_argv a;
    inflight_keys(q, &a, &cf_script_requeue, queue, false, k1, k2);
    cf_argv_buf(&a, env, len);
    cf_reply *rep = NULL;
    cf_status st = cf_queue_exec(q, &a, &rep);
    return removed_reply(st, rep);
}

cf_status cf_fetch_reschedule(cf_queue *q, const char *queue, const void *env, size_t len,
                              int64_t due_unix_ms)
{
    cf_status bst = cf_queue_begin(q, queue, true);
    if (bst != CF_OK)
        return bst;
    char k1[CF_KEY_MAX], k2[CF_KEY_MAX];
    cf_argv a;
    inflight_keys(q, &a, &cf_script_reschedule, queue, true, k1, k2);
    cf_argv_int(cf_argv_buf(&a, env, len), due_unix_ms);
    cf_reply *rep = NULL;
    cf_status st = cf_queue_exec(q, &a, &rep);
    if (st == CF_OK && rep->type == CF_REPLY_INTEGER && rep->integer > 0)
        cf_schedule_note(queue, due_unix_ms);
    return removed_reply(st, rep);
}

cf_status cf_fetch_ack_and_continue(cf_queue *q, const char *queue, const void *env, size_t len,
                                    const void *member, size_t member_len, int64_t due_unix_ms)
{
    cf_status bst = cf_queue_begin(q, queue, true);
    if (bst != CF_OK)
        return bst;
    char k1[CF_KEY_MAX], k2[CF_KEY_MAX];
    cf_argv a;
    inflight_keys(q, &a, &cf_script_ack_continue, queue, true, k1, k2);
    cf_argv_buf(&a, env, len);
    cf_argv_int(cf_argv_buf(&a, member, member_len), due_unix_ms);
    cf_reply *rep = NULL;
    cf_status st = cf_queue_exec(q, &a, &rep);
    if (st == CF_OK)
        cf_schedule_note(queue, due_unix_ms);
    return removed_reply(st, rep);
}

cf_status cf_fetch_inflight_count(cf_queue *q, const char *worker_id, const char *queue,
                                  int64_t *out)
{
    cf_status bst = cf_queue_begin(q, queue, worker_id == NULL);
    if (bst != CF_OK)
        return bst;
    if (worker_id == NULL)
        worker_id = q->worker_id;
    char key[CF_KEY_MAX];
    cf_argv a;
    cf_argv_init(&a);
    cf_argv_str(&a, "LLEN");
    cf_argv_key(&a, key, cf_key_inflight(key, sizeof key, q->prefix, queue, worker_id));
    cf_reply *rep = NULL;
    cf_status st = cf_queue_exec(q, &a, &rep);
    if (st == CF_OK && rep->type != CF_REPLY_INTEGER)
        st = CF_ERR_PROTOCOL;
    if (st == CF_OK)
        *out = rep->integer;
    cf_reply_free(rep);
    return st;
}
