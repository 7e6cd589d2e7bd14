// SPDX-License-Identifier: MIT
/* queue/schedule.c: promotion of due envelopes (one atomic script per call and queue, so
 * concurrent promoters split the work without duplicates or losses) and workflow continuations
 * (ZADD LT: one entry per workflow, the earliest due time wins; ZREM when it ends). */
#include "queue/schedule.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue/keys.h"
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

cf_status cf_schedule_promote(cf_redis *r, const char *prefix, const char *queue,
                              int64_t now_unix_ms, int batch, int *moved)
{
    if (moved)
        *moved = 0;
    if (cf_keys_check(prefix, queue) != CF_OK || batch > CF_PROMOTE_BATCH_MAX)
        return CF_ERR_INVALID;
    if (batch <= 0)
        batch = CF_PROMOTE_BATCH_DEFAULT;
    char k1[CF_KEY_MAX], k2[CF_KEY_MAX], now[24], lim[16];
    int l1 = cf_key_scheduled(k1, sizeof k1, prefix, queue);
    int l2 = cf_key_ready(k2, sizeof k2, prefix, queue);
    snprintf(now, sizeof now, "%lld", (long long)(now_unix_ms > 0 ? now_unix_ms : 0));
    snprintf(lim, sizeof lim, "%d", batch);
    const char *argv[4] = {k1, k2, now, lim};
    size_t lens[4] = {(size_t)l1, (size_t)l2, strlen(now), strlen(lim)};
    cf_reply *rep = NULL;
    cf_status st = cf_redis_eval(r, &cf_script_promote, 2, 4, argv, lens, &rep);
    return int_reply(st, rep, moved);
}

cf_status cf_continuation_publish(cf_redis *r, const char *prefix, const char *queue,
                                  const void *member, size_t len, int64_t due_unix_ms, int *added)
{
    if (added)
        *added = 0;
    if (cf_keys_check(prefix, queue) != CF_OK || member == NULL || len == 0)
        return CF_ERR_INVALID;
    char qk[CF_KEY_MAX], sk[CF_KEY_MAX], due[24];
    int ql = cf_key_queues(qk, sizeof qk, prefix);
    int sl = cf_key_scheduled(sk, sizeof sk, prefix, queue);
    snprintf(due, sizeof due, "%lld", (long long)due_unix_ms);
    const char *a0[3] = {"SADD", qk, queue};
    size_t n0[3] = {4, (size_t)ql, strlen(queue)};
    const char *a1[5] = {"ZADD", sk, "LT", due, member};
    size_t n1[5] = {4, (size_t)sl, 2, strlen(due), len};
    cf_redis_cmd cmds[2] = {{NULL, 0, 3, a0, n0}, {NULL, 0, 5, a1, n1}};
    cf_reply *reps[2];
    cf_status st = cf_redis_pipeline(r, cmds, 2, reps);
    cf_reply_free(reps[0]);
    return int_reply(st, reps[1], added);
}

cf_status cf_continuation_remove(cf_redis *r, const char *prefix, const char *queue,
                                 const void *member, size_t len, int *removed)
{
    if (removed)
        *removed = 0;
    if (cf_keys_check(prefix, queue) != CF_OK || member == NULL)
        return CF_ERR_INVALID;
    char sk[CF_KEY_MAX];
    int sl = cf_key_scheduled(sk, sizeof sk, prefix, queue);
    const char *argv[3] = {"ZREM", sk, member};
    size_t lens[3] = {4, (size_t)sl, len};
    cf_reply *rep = NULL;
    cf_status st = cf_redis_exec(r, 3, argv, lens, &rep);
    return int_reply(st, rep, removed);
}

cf_status cf_schedule_due_ms(cf_redis *r, const char *prefix, const char *queue, const void *member,
                             size_t len, int64_t *due_unix_ms)
{
    if (cf_keys_check(prefix, queue) != CF_OK || member == NULL)
        return CF_ERR_INVALID;
    char sk[CF_KEY_MAX];
    int sl = cf_key_scheduled(sk, sizeof sk, prefix, queue);
    const char *argv[3] = {"ZSCORE", sk, member};
    size_t lens[3] = {6, (size_t)sl, len};
    cf_reply *rep = NULL;
    cf_status st = cf_redis_exec(r, 3, argv, lens, &rep);
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
