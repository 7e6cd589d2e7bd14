// SPDX-License-Identifier: MIT
/* queue/enqueue.c: producing jobs (ready list or scheduled set, plus P:queues), single or
 * pipelined, registering a worker's queues, and reading queue depths. */
#include "queue/enqueue.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "queue/keys.h"
#include "queue/queue_internal.h"
#include "queue/redis_conn.h"

/* one_item holds the argument storage of one enqueued item: SADD + LPUSH/ZADD. */
typedef struct one_item {
    char queues_key[CF_KEY_MAX];
    char list_key[CF_KEY_MAX];
    char due[24];
    const char *sadd_argv[3];
    size_t sadd_lens[3];
    const char *push_argv[4];
    size_t push_lens[4];
} one_item;

static cf_status prepare(cf_queue *q, one_item *it, const cf_enqueue_item *in, cf_redis_cmd *sadd,
                         cf_redis_cmd *push)
{
    cf_status bst = cf_queue_begin(q, in->queue, false);
    if (bst != CF_OK)
        return bst;
    if (in->env == NULL)
        return cf_queue_fail(q, CF_ERR_INVALID, "no envelope given");
    const char *prefix = q->prefix;
    int qk = cf_key_queues(it->queues_key, sizeof it->queues_key, prefix);
    bool delayed = in->due_unix_ms > 0;
    int lk = delayed ? cf_key_scheduled(it->list_key, sizeof it->list_key, prefix, in->queue)
                     : cf_key_ready(it->list_key, sizeof it->list_key, prefix, in->queue);
    if (qk < 0 || lk < 0)
        return cf_queue_fail(q, CF_ERR_INVALID, "a key does not fit");
    it->sadd_argv[0] = "SADD";
    it->sadd_lens[0] = 4;
    it->sadd_argv[1] = it->queues_key;
    it->sadd_lens[1] = (size_t)qk;
    it->sadd_argv[2] = in->queue;
    it->sadd_lens[2] = strlen(in->queue);
    *sadd = (cf_redis_cmd){NULL, 0, 3, it->sadd_argv, it->sadd_lens};
    if (delayed) {
        snprintf(it->due, sizeof it->due, "%lld", (long long)in->due_unix_ms);
        it->push_argv[0] = "ZADD";
        it->push_lens[0] = 4;
        it->push_argv[2] = it->due;
        it->push_lens[2] = strlen(it->due);
        it->push_argv[3] = in->env;
        it->push_lens[3] = in->len;
    } else {
        it->push_argv[0] = "LPUSH";
        it->push_lens[0] = 5;
        it->push_argv[2] = in->env;
        it->push_lens[2] = in->len;
    }
    it->push_argv[1] = it->list_key;
    it->push_lens[1] = (size_t)lk;
    *push = (cf_redis_cmd){NULL, 0, delayed ? 4 : 3, it->push_argv, it->push_lens};
    return CF_OK;
}

static void free_replies(cf_reply **reps, size_t n)
{
    for (size_t i = 0; i < n; i++)
        cf_reply_free(reps[i]);
}

cf_status cf_enqueue_batch(cf_queue *q, const cf_enqueue_item *items, size_t n)
{
    cf_status bst = cf_queue_begin(q, NULL, false);
    if (bst != CF_OK || n == 0)
        return bst;
    cf_status st = CF_ERR_NOMEM;
    one_item *store = cf_calloc(n, sizeof *store);
    cf_redis_cmd *cmds = cf_calloc(2 * n, sizeof *cmds);
    cf_reply **reps = cf_calloc(2 * n, sizeof *reps);
    if (store == NULL || cmds == NULL || reps == NULL)
        goto out;
    for (size_t i = 0; i < n; i++) {
        st = prepare(q, &store[i], &items[i], &cmds[2 * i], &cmds[2 * i + 1]);
        if (st != CF_OK)
            goto out;
    }
    st = cf_redis_pipeline(q->redis, cmds, 2 * n, reps);
    free_replies(reps, 2 * n);
out:
    cf_free(reps);
    cf_free(cmds);
    cf_free(store);
    return st;
}

cf_status cf_enqueue(cf_queue *q, const char *queue, const void *env, size_t len)
{
    cf_enqueue_item it = {queue, env, len, 0};
    return cf_enqueue_batch(q, &it, 1);
}

cf_status cf_enqueue_at(cf_queue *q, const char *queue, const void *env, size_t len,
                        int64_t due_unix_ms)
{
    if (due_unix_ms <= 0)
        return cf_queue_fail(q, CF_ERR_INVALID, "a due time must be > 0");
    cf_enqueue_item it = {queue, env, len, due_unix_ms};
    return cf_enqueue_batch(q, &it, 1);
}

cf_status cf_queues_register(cf_queue *q, const char *const *queues, size_t n)
{
    char key[CF_KEY_MAX];
    cf_status bst = cf_queue_begin(q, NULL, false);
    if (bst != CF_OK)
        return bst;
    if (n == 0)
        return cf_queue_fail(q, CF_ERR_INVALID, "no queue to register");
    cf_redis *r = q->redis;
    const char *prefix = q->prefix;
    int kl = cf_key_queues(key, sizeof key, prefix);
    const char **argv = cf_calloc(n + 2, sizeof *argv);
    size_t *lens = cf_calloc(n + 2, sizeof *lens);
    cf_status st = CF_ERR_NOMEM;
    if (argv == NULL || lens == NULL)
        goto out;
    argv[0] = "SADD";
    lens[0] = 4;
    argv[1] = key;
    lens[1] = (size_t)kl;
    st = CF_ERR_INVALID;
    for (size_t i = 0; i < n; i++) {
        if ((st = cf_queue_begin(q, queues[i], false)) != CF_OK)
            goto out;
        argv[i + 2] = queues[i];
        lens[i + 2] = strlen(queues[i]);
    }
    cf_reply *rep = NULL;
    st = cf_redis_exec(r, (int)n + 2, argv, lens, &rep);
    cf_reply_free(rep);
out:
    cf_free(argv);
    cf_free(lens);
    return st;
}

cf_status cf_queue_depths(cf_queue *q, const char *queue, int64_t *ready, int64_t *scheduled,
                          int64_t *dead)
{
    cf_status bst = cf_queue_begin(q, queue, false);
    if (bst != CF_OK)
        return bst;
    cf_redis *r = q->redis;
    const char *prefix = q->prefix;
    char k[3][CF_KEY_MAX];
    int l0 = cf_key_ready(k[0], sizeof k[0], prefix, queue);
    int l1 = cf_key_scheduled(k[1], sizeof k[1], prefix, queue);
    int l2 = cf_key_dead(k[2], sizeof k[2], prefix, queue);
    const char *a0[2] = {"LLEN", k[0]}, *a1[2] = {"ZCARD", k[1]}, *a2[2] = {"LLEN", k[2]};
    size_t n0[2] = {4, (size_t)l0}, n1[2] = {5, (size_t)l1}, n2[2] = {4, (size_t)l2};
    cf_redis_cmd cmds[3] = {{NULL, 0, 2, a0, n0}, {NULL, 0, 2, a1, n1}, {NULL, 0, 2, a2, n2}};
    cf_reply *reps[3];
    cf_status st = cf_redis_pipeline(r, cmds, 3, reps);
    int64_t *outs[3] = {ready, scheduled, dead};
    for (int i = 0; i < 3; i++) {
        if (st == CF_OK && reps[i]->type != CF_REPLY_INTEGER)
            st = CF_ERR_PROTOCOL;
        if (st == CF_OK && outs[i])
            *outs[i] = reps[i]->integer;
        cf_reply_free(reps[i]);
    }
    return st;
}
