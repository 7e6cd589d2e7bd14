// SPDX-License-Identifier: MIT
/* queue/schedule.c: promotion of due envelopes (one atomic script per call and queue, so
 * concurrent promoters split the work without duplicates or losses), workflow continuations
 * (ZADD LT: one entry per workflow, the earliest due time wins; ZREM when it ends) and the
 * process's publish hook that wakes its promoter. */
#include "queue/schedule.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/buf.h"
#include "common/clock.h"
#include "queue/argv.h"
#include "queue/envelope.h"
#include "queue/keys.h"
#include "queue/queue_internal.h"
#include "queue/redis_conn.h"
#include "queue/scripts.h"

static cf_status int_reply(cf_status st, cf_reply *rep, int *out)
{
    if (st == CF_OK && rep->type != CF_REPLY_INTEGER)
        st = CF_ERR_PROTOCOL;
    if (st == CF_OK && out)
        *out = (int)rep->integer;
    cf_reply_free(rep);
    return st;
}

/* The process's publish hook (schedule.h): set by at most one promoter at a time. */
static _Atomic(const cf_schedule_hook *) g_hook;

bool cf_schedule_hook_set(const cf_schedule_hook *h)
{
    const cf_schedule_hook *none = NULL;
    return atomic_compare_exchange_strong(&g_hook, &none, h);
}

void cf_schedule_hook_clear(const cf_schedule_hook *h)
{
    const cf_schedule_hook *mine = h;
    atomic_compare_exchange_strong(&g_hook, &mine, NULL);
}

void cf_schedule_note(const char *queue, int64_t due_unix_ms)
{
    const cf_schedule_hook *h = atomic_load_explicit(&g_hook, memory_order_acquire);
    if (h != NULL)
        h->fn(h->ctx, queue, due_unix_ms);
}

cf_status cf_schedule_promote_next(cf_queue *q, const char *queue, int64_t now_unix_ms, int batch,
                                   cf_promote_result *res)
{
    memset(res, 0, sizeof *res);
    res->next_due_ms = -1;
    cf_status bst = cf_queue_begin(q, queue, false);
    if (bst != CF_OK)
        return bst;
    if (batch > CF_PROMOTE_BATCH_MAX)
        return cf_queue_fail(q, CF_ERR_INVALID, "promote batch above %d", CF_PROMOTE_BATCH_MAX);
    const char *prefix = q->prefix;
    if (batch <= 0)
        batch = CF_PROMOTE_BATCH_DEFAULT;
    char k1[CF_KEY_MAX], k2[CF_KEY_MAX], k3[CF_KEY_MAX], k4[CF_KEY_MAX];
    cf_argv a;
    cf_argv_init_script(&a, &cf_script_promote, 4);
    cf_argv_key(&a, k1, cf_key_scheduled(k1, sizeof k1, prefix, queue));
    cf_argv_key(&a, k2, cf_key_ready(k2, sizeof k2, prefix, queue));
    cf_argv_key(&a, k3, cf_key_due(k3, sizeof k3, prefix, queue));
    cf_argv_key(&a, k4, cf_key_paused(k4, sizeof k4, prefix, queue));
    cf_argv_int(&a, now_unix_ms > 0 ? now_unix_ms : 0);
    cf_argv_int(&a, batch);
    cf_reply *rep = NULL;
    cf_status st = cf_queue_exec(q, &a, &rep);
    if (st == CF_OK) {
        if (rep->type != CF_REPLY_ARRAY || rep->n != 3 || rep->elem[0].type != CF_REPLY_INTEGER ||
            rep->elem[1].type != CF_REPLY_INTEGER || rep->elem[2].type != CF_REPLY_INTEGER) {
            st = cf_queue_fail(q, CF_ERR_PROTOCOL, "unexpected reply of the promote script");
        } else {
            res->moved = (int)rep->elem[0].integer;
            res->next_due_ms = rep->elem[1].integer;
            res->now_ms = rep->elem[2].integer;
        }
    }
    cf_reply_free(rep);
    return st;
}

cf_status cf_schedule_promote(cf_queue *q, const char *queue, int64_t now_unix_ms, int batch,
                              int *moved)
{
    cf_promote_result res;
    cf_status st = cf_schedule_promote_next(q, queue, now_unix_ms, batch, &res);
    if (moved)
        *moved = res.moved;
    return st;
}

/* publish: SADD P:queues, then the schedule_add script with mode "LT" or "NX". */
static cf_status publish(cf_queue *q, const char *queue, const void *member, size_t len,
                         int64_t due_unix_ms, const char *mode, int *added)
{
    if (added)
        *added = 0;
    cf_status bst = cf_queue_begin(q, queue, false);
    if (bst != CF_OK)
        return bst;
    if (member == NULL || len == 0)
        return cf_queue_fail(q, CF_ERR_INVALID, "empty continuation");
    const char *prefix = q->prefix;
    char qk[CF_KEY_MAX], sk[CF_KEY_MAX];
    cf_argv cmds[2];
    cf_argv_init(&cmds[0]);
    cf_argv_str(&cmds[0], "SADD");
    cf_argv_key(&cmds[0], qk, cf_key_queues(qk, sizeof qk, prefix));
    cf_argv_str(&cmds[0], queue);
    cf_argv_init_script(&cmds[1], &cf_script_schedule_add, 1);
    cf_argv_key(&cmds[1], sk, cf_key_scheduled(sk, sizeof sk, prefix, queue));
    cf_argv_str(&cmds[1], mode);
    cf_argv_int(&cmds[1], due_unix_ms);
    cf_argv_buf(&cmds[1], member, len);
    cf_reply *reps[2];
    cf_status st = cf_queue_pipeline(q, cmds, 2, reps);
    cf_reply_free(reps[0]);
    if (st == CF_OK)
        cf_schedule_note(queue, due_unix_ms);
    return int_reply(st, reps[1], added);
}

cf_status cf_continuation_publish(cf_queue *q, const char *queue, const void *member, size_t len,
                                  int64_t due_unix_ms, int *added)
{
    return publish(q, queue, member, len, due_unix_ms, "LT", added);
}

cf_status cf_first_envelope_publish(cf_queue *q, const char *queue, const void *member, size_t len,
                                    int64_t due_unix_ms, int *added)
{
    return publish(q, queue, member, len, due_unix_ms, "NX", added);
}

cf_status cf_continuation_remove(cf_queue *q, const char *queue, const void *member, size_t len,
                                 int *removed)
{
    if (removed)
        *removed = 0;
    cf_status bst = cf_queue_begin(q, queue, false);
    if (bst != CF_OK)
        return bst;
    if (member == NULL)
        return cf_queue_fail(q, CF_ERR_INVALID, "no continuation given");
    const char *prefix = q->prefix;
    char sk[CF_KEY_MAX];
    cf_argv a;
    cf_argv_init(&a);
    cf_argv_str(&a, "ZREM");
    cf_argv_key(&a, sk, cf_key_scheduled(sk, sizeof sk, prefix, queue));
    cf_argv_buf(&a, member, len);
    cf_reply *rep = NULL;
    cf_status st = cf_queue_exec(q, &a, &rep);
    return int_reply(st, rep, removed);
}

cf_status cf_schedule_due_ms(cf_queue *q, const char *queue, const void *member, size_t len,
                             int64_t *due_unix_ms)
{
    cf_status bst = cf_queue_begin(q, queue, false);
    if (bst != CF_OK)
        return bst;
    if (member == NULL)
        return cf_queue_fail(q, CF_ERR_INVALID, "no member given");
    const char *prefix = q->prefix;
    char sk[CF_KEY_MAX];
    cf_argv a;
    cf_argv_init(&a);
    cf_argv_str(&a, "ZSCORE");
    cf_argv_key(&a, sk, cf_key_scheduled(sk, sizeof sk, prefix, queue));
    cf_argv_buf(&a, member, len);
    cf_reply *rep = NULL;
    cf_status st = cf_queue_exec(q, &a, &rep);
    if (st == CF_OK) {
        if (rep->type == CF_REPLY_NIL)
            st = CF_ERR_NOT_FOUND;
        else if (rep->type != CF_REPLY_STRING)
            st = CF_ERR_PROTOCOL;
        else
            *due_unix_ms = (int64_t)strtod(rep->str, NULL);
    }
    cf_reply_free(rep);
    return st;
}

cf_status cf_continuation_wake(cf_queue *q, const char *wf_class, const char *key,
                               const char *queue)
{
    cf_buf member = CF_BUF_INIT;
    cf_status st = cf_envelope_encode_continuation(wf_class, key, queue, &member);
    if (st == CF_OK)
        st = cf_continuation_publish(q, queue, member.data, member.len, cf_clock_unix_ms(), NULL);
    cf_buf_deinit(&member);
    return st;
}
