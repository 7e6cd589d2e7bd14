// SPDX-License-Identifier: MIT
/* queue/delivery.c: release + continuation + ack of a finished delivery, pipelined. */
#include "queue/delivery.h"

#include <stdio.h>
#include <string.h>

#include "queue/keys.h"
#include "queue/queue_internal.h"
#include "queue/redis_conn.h"
#include "queue/scripts.h"

cf_status cf_delivery_finish(cf_queue *q, const cf_delivery_end *d, bool *lock_released,
                             bool *acked)
{
    if (lock_released)
        *lock_released = false;
    if (acked)
        *acked = false;
    cf_status bst = cf_queue_begin(q, d->queue, true);
    if (bst == CF_OK && d->next != CF_DELIVERY_NOTHING)
        bst = cf_queue_begin(q, d->wf_queue, true);
    if (bst != CF_OK)
        return bst;
    if (d->token == NULL || (d->next != CF_DELIVERY_NOTHING && d->member == NULL))
        return cf_queue_fail(q, CF_ERR_INVALID, "a delivery end needs a token (and a member)");
    cf_redis *r = q->redis;
    const char *prefix = q->prefix, *worker_id = q->worker_id;
    char lock[CF_KEY_MAX], held[CF_KEY_MAX], inflight[CF_KEY_MAX], sched[CF_KEY_MAX],
        queues[CF_KEY_MAX], due[24];
    int ll = cf_key_lock(lock, sizeof lock, prefix, d->wf_class, d->wf_key);
    int hl = cf_key_held(held, sizeof held, prefix, worker_id);
    int il = cf_key_inflight(inflight, sizeof inflight, prefix, d->queue, worker_id);
    int sl = d->next != CF_DELIVERY_NOTHING
                 ? cf_key_scheduled(sched, sizeof sched, prefix, d->wf_queue)
                 : 0;
    int ql = cf_key_queues(queues, sizeof queues, prefix);
    if (ll < 0 || hl < 0 || il < 0 || sl < 0 || ql < 0)
        return cf_queue_fail(q, CF_ERR_INVALID, "a key does not fit");
    snprintf(due, sizeof due, "%lld", (long long)d->due_unix_ms);

    cf_redis_cmd cmds[6];
    size_t n = 0;
    const char *a_rel[2] = {lock, d->token};
    size_t n_rel[2] = {(size_t)ll, strlen(d->token)};
    cmds[n++] = (cf_redis_cmd){&cf_script_lock_release, 1, 2, a_rel, n_rel};
    const char *a_srem[3] = {"SREM", held, lock};
    size_t n_srem[3] = {4, (size_t)hl, (size_t)ll};
    cmds[n++] = (cf_redis_cmd){NULL, 0, 3, a_srem, n_srem};
    const char *a_sadd[3] = {"SADD", queues, d->wf_queue};
    size_t n_sadd[3] = {4, (size_t)ql, d->wf_queue ? strlen(d->wf_queue) : 0};
    const char *a_zadd[5] = {"ZADD", sched, "LT", due, d->member};
    size_t n_zadd[5] = {4, (size_t)sl, 2, strlen(due), d->member_len};
    const char *a_zrem[3] = {"ZREM", sched, d->member};
    size_t n_zrem[3] = {4, (size_t)sl, d->member_len};
    if (d->next == CF_DELIVERY_CONTINUE_AT) {
        cmds[n++] = (cf_redis_cmd){NULL, 0, 3, a_sadd, n_sadd};
        cmds[n++] = (cf_redis_cmd){NULL, 0, 5, a_zadd, n_zadd};
    } else if (d->next == CF_DELIVERY_DROP_CONTINUATION) {
        cmds[n++] = (cf_redis_cmd){NULL, 0, 3, a_zrem, n_zrem};
    }
    const char *a_ack[4] = {"LREM", inflight, "1", d->env};
    size_t n_ack[4] = {4, (size_t)il, 1, d->env_len};
    size_t ack_at = n;
    cmds[n++] = (cf_redis_cmd){NULL, 0, 4, a_ack, n_ack};

    cf_reply *reps[6] = {NULL};
    cf_status st = cf_redis_pipeline(r, cmds, n, reps);
    if (st == CF_OK) {
        if (reps[0]->type != CF_REPLY_INTEGER || reps[ack_at]->type != CF_REPLY_INTEGER)
            st = CF_ERR_PROTOCOL;
        if (lock_released && reps[0]->type == CF_REPLY_INTEGER)
            *lock_released = reps[0]->integer == 1;
        if (acked && reps[ack_at]->type == CF_REPLY_INTEGER)
            *acked = reps[ack_at]->integer == 1;
    }
    for (size_t i = 0; i < n; i++)
        cf_reply_free(reps[i]);
    return st;
}
