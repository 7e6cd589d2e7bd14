// SPDX-License-Identifier: MIT
/* queue/delivery.c: release + continuation + ack of a finished delivery, pipelined. */
#include "queue/delivery.h"

#include <stdio.h>
#include <string.h>

#include "queue/argv.h"
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
    const char *prefix = q->prefix, *worker_id = q->worker_id;
    char lock[CF_KEY_MAX], held[CF_KEY_MAX], inflight[CF_KEY_MAX], sched[CF_KEY_MAX],
        queues[CF_KEY_MAX];
    int ll = cf_key_lock(lock, sizeof lock, prefix, d->wf_class, d->wf_key);
    cf_argv cmds[6];
    size_t n = 0;
    cf_argv_init_script(&cmds[n], &cf_script_lock_release, 1);
    cf_argv_str(cf_argv_key(&cmds[n++], lock, ll), d->token);
    cf_argv_init(&cmds[n]);
    cf_argv_key(cf_argv_str(&cmds[n], "SREM"), held,
                cf_key_held(held, sizeof held, prefix, worker_id));
    cf_argv_key(&cmds[n++], lock, ll);
    if (d->next == CF_DELIVERY_CONTINUE_AT) {
        cf_argv_init(&cmds[n]);
        cf_argv_key(cf_argv_str(&cmds[n], "SADD"), queues,
                    cf_key_queues(queues, sizeof queues, prefix));
        cf_argv_str(&cmds[n++], d->wf_queue);
        cf_argv_init(&cmds[n]);
        cf_argv_key(cf_argv_str(&cmds[n], "ZADD"), sched,
                    cf_key_scheduled(sched, sizeof sched, prefix, d->wf_queue));
        cf_argv_int(cf_argv_str(&cmds[n], "LT"), d->due_unix_ms);
        cf_argv_buf(&cmds[n++], d->member, d->member_len);
    } else if (d->next == CF_DELIVERY_DROP_CONTINUATION) {
        cf_argv_init(&cmds[n]);
        cf_argv_key(cf_argv_str(&cmds[n], "ZREM"), sched,
                    cf_key_scheduled(sched, sizeof sched, prefix, d->wf_queue));
        cf_argv_buf(&cmds[n++], d->member, d->member_len);
    }
    size_t ack_at = n;
    cf_argv_init(&cmds[n]);
    cf_argv_key(cf_argv_str(&cmds[n], "LREM"), inflight,
                cf_key_inflight(inflight, sizeof inflight, prefix, d->queue, worker_id));
    cf_argv_buf(cf_argv_str(&cmds[n++], "1"), d->env, d->env_len);

    cf_reply *reps[6] = {NULL};
    cf_status st = cf_queue_pipeline(q, cmds, n, reps);
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
