// SPDX-License-Identifier: MIT
/* queue/fetch.c: reliable fetch and what ends a fetched envelope's stay in flight (ack, put
 * back to ready, move to scheduled, ack-and-continue). The in-flight list keeps every taken
 * envelope until one of those runs, so a worker that dies loses nothing (recovery.c). */
#include "queue/fetch.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/clock.h"
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
static cf_status move_one(cf_redis *r, const char *prefix, const char *worker_id, const char *queue,
                          int64_t block_ms, cf_fetched *out, bool *got)
{
    char src[CF_KEY_MAX], dst[CF_KEY_MAX], secs[32];
    int sl = cf_key_ready(src, sizeof src, prefix, queue);
    int dl = cf_key_inflight(dst, sizeof dst, prefix, queue, worker_id);
    if (sl < 0 || dl < 0)
        return CF_ERR_INVALID;
    cf_reply *rep = NULL;
    cf_status st;
    *got = false;
    if (block_ms < 0) {
        const char *argv[5] = {"LMOVE", src, dst, "RIGHT", "LEFT"};
        size_t lens[5] = {5, (size_t)sl, (size_t)dl, 5, 4};
        st = cf_redis_exec(r, 5, argv, lens, &rep);
    } else {
        snprintf(secs, sizeof secs, "%lld.%03lld", (long long)(block_ms / 1000),
                 (long long)(block_ms % 1000));
        const char *argv[6] = {"BLMOVE", src, dst, "RIGHT", "LEFT", secs};
        size_t lens[6] = {6, (size_t)sl, (size_t)dl, 5, 4, strlen(secs)};
        st = cf_redis_exec_blocking(r, block_ms, 6, argv, lens, &rep);
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
    cf_redis *r = q->redis;
    const char *prefix = q->prefix, *worker_id = q->worker_id;
    int64_t deadline = cf_clock_mono_ms() + (wait_ms > 0 ? wait_ms : 0);
    int64_t slice_max = nqueues == 1 ? SLICE_ONE_MS : SLICE_MANY_MS;
    for (size_t round = 0;; round++) {
        /* Non-blocking pass in priority order. */
        for (size_t i = 0; i < nqueues; i++) {
            bool got;
            cf_status st = move_one(r, prefix, worker_id, queues[i], -1, out, &got);
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
        cf_status st = move_one(r, prefix, worker_id, queues[qi], slice, out, &got);
        if (st != CF_OK || got) {
            out->queue_index = qi;
            return st;
        }
    }
}

/* inflight_script runs one of the in-flight scripts with keys (inflight, other) and args. */
static cf_status inflight_script(cf_queue *q, const cf_redis_script *script, const char *queue,
                                 bool to_scheduled, int nargs, const char *const *args,
                                 const size_t *arg_lens)
{
    cf_status bst = cf_queue_begin(q, queue, true);
    if (bst != CF_OK)
        return bst;
    cf_redis *r = q->redis;
    const char *prefix = q->prefix, *worker_id = q->worker_id;
    char k1[CF_KEY_MAX], k2[CF_KEY_MAX];
    int l1 = cf_key_inflight(k1, sizeof k1, prefix, queue, worker_id);
    int l2 = to_scheduled ? cf_key_scheduled(k2, sizeof k2, prefix, queue)
                          : cf_key_ready(k2, sizeof k2, prefix, queue);
    if (l1 < 0 || l2 < 0)
        return CF_ERR_INVALID;
    const char *argv[5] = {k1, k2};
    size_t lens[5] = {(size_t)l1, (size_t)l2};
    for (int i = 0; i < nargs; i++) {
        argv[2 + i] = args[i];
        lens[2 + i] = arg_lens[i];
    }
    cf_reply *rep = NULL;
    cf_status st = cf_redis_eval(r, script, 2, 2 + nargs, argv, lens, &rep);
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
    cf_redis *r = q->redis;
    const char *prefix = q->prefix, *worker_id = q->worker_id;
    char key[CF_KEY_MAX];
    int kl = cf_key_inflight(key, sizeof key, prefix, queue, worker_id);
    if (kl < 0)
        return CF_ERR_INVALID;
    const char *argv[4] = {"LREM", key, "1", env};
    size_t lens[4] = {4, (size_t)kl, 1, len};
    cf_reply *rep = NULL;
    cf_status st = cf_redis_exec(r, 4, argv, lens, &rep);
    if (st == CF_OK && rep->type != CF_REPLY_INTEGER)
        st = CF_ERR_PROTOCOL;
    else if (st == CF_OK && rep->integer == 0)
        st = CF_ERR_NOT_FOUND;
    cf_reply_free(rep);
    return st;
}

cf_status cf_fetch_requeue(cf_queue *q, const char *queue, const void *env, size_t len)
{
    const char *args[1] = {env};
    size_t lens[1] = {len};
    return inflight_script(q, &cf_script_requeue, queue, false, 1, args, lens);
}

cf_status cf_fetch_reschedule(cf_queue *q, const char *queue, const void *env, size_t len,
                              int64_t due_unix_ms)
{
    char due[24];
    snprintf(due, sizeof due, "%lld", (long long)due_unix_ms);
    const char *args[2] = {env, due};
    size_t lens[2] = {len, strlen(due)};
    return inflight_script(q, &cf_script_reschedule, queue, true, 2, args, lens);
}

cf_status cf_fetch_ack_and_continue(cf_queue *q, const char *queue, const void *env, size_t len,
                                    const void *member, size_t member_len, int64_t due_unix_ms)
{
    char due[24];
    snprintf(due, sizeof due, "%lld", (long long)due_unix_ms);
    const char *args[3] = {env, member, due};
    size_t lens[3] = {len, member_len, strlen(due)};
    return inflight_script(q, &cf_script_ack_continue, queue, true, 3, args, lens);
}

cf_status cf_fetch_inflight_count(cf_queue *q, const char *worker_id, const char *queue,
                                  int64_t *out)
{
    cf_status bst = cf_queue_begin(q, queue, worker_id == NULL);
    if (bst != CF_OK)
        return bst;
    cf_redis *r = q->redis;
    const char *prefix = q->prefix;
    if (worker_id == NULL)
        worker_id = q->worker_id;
    char key[CF_KEY_MAX];
    int kl = cf_key_inflight(key, sizeof key, prefix, queue, worker_id);
    const char *argv[2] = {"LLEN", key};
    size_t lens[2] = {4, (size_t)kl};
    cf_reply *rep = NULL;
    cf_status st = cf_redis_exec(r, 2, argv, lens, &rep);
    if (st == CF_OK && rep->type != CF_REPLY_INTEGER)
        st = CF_ERR_PROTOCOL;
    if (st == CF_OK)
        *out = rep->integer;
    cf_reply_free(rep);
    return st;
}
