// SPDX-License-Identifier: MIT
/* queue/fetch.c: reliable fetch and what ends a fetched envelope's stay in flight (ack, put
 * back to ready, move to scheduled, ack-and-continue). The in-flight list keeps every taken
 * envelope until one of those runs, so a worker that dies loses nothing (recovery.c). */
#include "queue/fetch.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
#include "queue/argv.h"
#include "queue/keys.h"
#include "queue/queue_internal.h"
#include "queue/redis_conn.h"
#include "queue/scripts.h"

#define SLICE_ONE_MS  500 /* BLMOVE slice with one queue */
#define SLICE_MANY_MS 100 /* with several: a lower queue's arrival waits at most this */

void cf_fetched_deinit(cf_fetched *f)
{
    if (f == NULL)
        return;
    cf_free(f->data);
    memset(f, 0, sizeof *f);
}

/* move_one runs LMOVE (block_ms < 0) or BLMOVE ready -> inflight, RIGHT LEFT. CF_OK with *got
 * set when an envelope moved. */
static cf_status move_one(cf_queue *q, const char *queue, int64_t block_ms, cf_fetched *out,
                          bool *got)
{
    char src[CF_KEY_MAX], dst[CF_KEY_MAX], secs[32];
    cf_argv a;
    cf_argv_init(&a);
    cf_argv_str(&a, block_ms < 0 ? "LMOVE" : "BLMOVE");
    cf_argv_key(&a, src, cf_key_ready(src, sizeof src, q->prefix, queue));
    cf_argv_key(&a, dst, cf_key_inflight(dst, sizeof dst, q->prefix, queue, q->worker_id));
    cf_argv_str(cf_argv_str(&a, "RIGHT"), "LEFT");
    cf_reply *rep = NULL;
    cf_status st;
    *got = false;
    if (block_ms < 0) {
        st = cf_queue_exec(q, &a, &rep);
    } else {
        snprintf(secs, sizeof secs, "%lld.%03lld", (long long)(block_ms / 1000),
                 (long long)(block_ms % 1000));
        cf_argv_str(&a, secs);
        st = cf_queue_exec_blocking(q, block_ms, &a, &rep);
    }
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

cf_status cf_fetch(cf_queue *q, const char *const *queues, size_t nqueues, int64_t wait_ms,
                   const atomic_bool *stop, cf_fetched *out)
{
    memset(out, 0, sizeof *out);
    cf_status bst = cf_queue_begin(q, NULL, true);
    if (bst != CF_OK)
        return bst;
    if (nqueues == 0)
        return cf_queue_fail(q, CF_ERR_INVALID, "no queue to fetch from");
    for (size_t i = 0; i < nqueues; i++)
        if ((bst = cf_queue_begin(q, queues[i], true)) != CF_OK)
            return bst;
    int64_t deadline = cf_clock_mono_ms() + (wait_ms > 0 ? wait_ms : 0);
    int64_t slice_max = nqueues == 1 ? SLICE_ONE_MS : SLICE_MANY_MS;
    for (size_t round = 0;; round++) {
        /* Non-blocking pass in priority order. */
        for (size_t i = 0; i < nqueues; i++) {
            bool got;
            cf_status st = move_one(q, queues[i], -1, out, &got);
            if (st != CF_OK || got) {
                out->queue_index = i;
                return st;
            }
        }
        if (stop && atomic_load(stop))
            return CF_ERR_NOT_FOUND;
        int64_t left = deadline - cf_clock_mono_ms();
        if (left <= 0)
            return CF_ERR_NOT_FOUND;
        int64_t slice = left < slice_max ? left : slice_max;
        if (slice < 10)
            slice = 10; /* BLMOVE 0 would block forever */
        size_t qi = round % nqueues;
        bool got;
        cf_status st = move_one(q, queues[qi], slice, out, &got);
        if (st != CF_OK || got) {
            out->queue_index = qi;
            return st;
        }
    }
}

/* take_one runs the take script on one queue for up to max envelopes, appending to out. */
static cf_status take_one(cf_queue *q, const char *queue, size_t qi, int max, cf_fetched *out,
                          int *n)
{
    char ready[CF_KEY_MAX], inflight[CF_KEY_MAX];
    cf_argv a;
    cf_argv_init_script(&a, &cf_script_take, 2);
    cf_argv_key(&a, ready, cf_key_ready(ready, sizeof ready, q->prefix, queue));
    cf_argv_key(&a, inflight,
                cf_key_inflight(inflight, sizeof inflight, q->prefix, queue, q->worker_id));
    cf_argv_int(&a, max);
    cf_reply *rep = NULL;
    cf_status st = cf_queue_exec(q, &a, &rep);
    if (st != CF_OK)
        return st;
    if (rep->type != CF_REPLY_ARRAY || rep->n > (size_t)max) {
        cf_reply_free(rep);
        return cf_queue_fail(q, CF_ERR_PROTOCOL, "take on queue %s: unexpected reply", queue);
    }
    for (size_t i = 0; i < rep->n; i++) {
        cf_fetched *f = &out[*n];
        f->data = cf_reply_take_str(&rep->elem[i], &f->len);
        if (f->data == NULL) {
            /* a non-string in the ready list: it was moved; leave it to recovery's checks */
            st = cf_queue_fail(q, CF_ERR_PROTOCOL, "take on queue %s: a non-string entry", queue);
            continue;
        }
        f->queue_index = qi;
        (*n)++;
    }
    cf_reply_free(rep);
    return st;
}

cf_status cf_fetch_take(cf_queue *q, const char *const *queues, size_t nqueues, int max,
                        cf_fetched *out, int *n)
{
    *n = 0;
    cf_status st = cf_queue_begin(q, NULL, true);
    if (st != CF_OK)
        return st;
    if (nqueues == 0 || max < 1)
        return cf_queue_fail(q, CF_ERR_INVALID, "take needs a queue and max >= 1 (max %d)", max);
    for (size_t i = 0; i < nqueues; i++)
        if ((st = cf_queue_begin(q, queues[i], true)) != CF_OK)
            return st;
    for (int i = 0; i < max; i++)
        memset(&out[i], 0, sizeof out[i]);
    for (size_t i = 0; i < nqueues && *n < max; i++) {
        st = take_one(q, queues[i], i, max - *n, out, n);
        if (st != CF_OK)
            return st;
    }
    return CF_OK;
}

/* inflight_keys starts a call of script with keys (in-flight list, ready list or scheduled set)
 * of queue; k1 and k2 hold the keys. */
static void inflight_keys(cf_queue *q, cf_argv *a, const cf_redis_script *script, const char *queue,
                          bool to_scheduled, char *k1, char *k2)
{
    cf_argv_init_script(a, script, 2);
    cf_argv_key(a, k1, cf_key_inflight(k1, CF_KEY_MAX, q->prefix, queue, q->worker_id));
    cf_argv_key(a, k2,
                to_scheduled ? cf_key_scheduled(k2, CF_KEY_MAX, q->prefix, queue)
                             : cf_key_ready(k2, CF_KEY_MAX, q->prefix, queue));
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
