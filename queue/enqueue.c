// SPDX-License-Identifier: MIT
/* queue/enqueue.c: producing jobs (ready list or scheduled set, plus P:queues), single or
 * pipelined, registering a worker's queues, and reading queue depths. */
#include "queue/enqueue.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "queue/argv.h"
#include "queue/keys.h"
#include "queue/queue_internal.h"
#include "queue/redis_conn.h"

/* item_keys holds the keys of one enqueued item (its two builders borrow them). */
typedef struct item_keys {
    char queues_key[CF_KEY_MAX];
    char list_key[CF_KEY_MAX];
} item_keys;

/* prepare builds SADD P:queues Q and LPUSH P:{Q}:ready env (or ZADD P:{Q}:scheduled due env). */
static cf_status prepare(cf_queue *q, item_keys *k, const cf_enqueue_item *in, cf_argv *sadd,
                         cf_argv *push)
{
    cf_status bst = cf_queue_begin(q, in->queue, false);
    if (bst != CF_OK)
        return bst;
    if (in->env == NULL)
        return cf_queue_fail(q, CF_ERR_INVALID, "no envelope given");
    const char *prefix = q->prefix;
    cf_argv_init(sadd);
    cf_argv_str(sadd, "SADD");
    cf_argv_key(sadd, k->queues_key, cf_key_queues(k->queues_key, sizeof k->queues_key, prefix));
    cf_argv_str(sadd, in->queue);
    cf_argv_init(push);
    if (in->due_unix_ms > 0) {
        cf_argv_str(push, "ZADD");
        cf_argv_key(push, k->list_key,
                    cf_key_scheduled(k->list_key, sizeof k->list_key, prefix, in->queue));
        cf_argv_int(push, in->due_unix_ms);
    } else {
        cf_argv_str(push, "LPUSH");
        cf_argv_key(push, k->list_key,
                    cf_key_ready(k->list_key, sizeof k->list_key, prefix, in->queue));
    }
    cf_argv_buf(push, in->env, in->len);
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
    item_keys *keys = cf_calloc(n, sizeof *keys);
    cf_argv *cmds = cf_calloc(2 * n, sizeof *cmds);
    cf_reply **reps = cf_calloc(2 * n, sizeof *reps);
    if (keys == NULL || cmds == NULL || reps == NULL)
        goto out;
    for (size_t i = 0; i < n; i++) {
        st = prepare(q, &keys[i], &items[i], &cmds[2 * i], &cmds[2 * i + 1]);
        if (st != CF_OK)
            goto out;
    }
    st = cf_queue_pipeline(q, cmds, 2 * n, reps);
    free_replies(reps, 2 * n);
out:
    cf_free(reps);
    cf_free(cmds);
    cf_free(keys);
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
    cf_status st = cf_queue_begin(q, NULL, false);
    if (st != CF_OK)
        return st;
    if (n == 0)
        return cf_queue_fail(q, CF_ERR_INVALID, "no queue to register");
    int kl = cf_key_queues(key, sizeof key, q->prefix);
    /* one SADD per queue, pipelined: a builder holds a bounded number of arguments */
    cf_argv *cmds = cf_calloc(n, sizeof *cmds);
    cf_reply **reps = cf_calloc(n, sizeof *reps);
    st = CF_ERR_NOMEM;
    if (cmds == NULL || reps == NULL)
        goto out;
    for (size_t i = 0; i < n; i++) {
        if ((st = cf_queue_begin(q, queues[i], false)) != CF_OK)
            goto out;
        cf_argv_init(&cmds[i]);
        cf_argv_str(cf_argv_key(cf_argv_str(&cmds[i], "SADD"), key, kl), queues[i]);
    }
    st = cf_queue_pipeline(q, cmds, n, reps);
    free_replies(reps, n);
out:
    cf_free(reps);
    cf_free(cmds);
    return st;
}

cf_status cf_queue_depths(cf_queue *q, const char *queue, int64_t *ready, int64_t *scheduled,
                          int64_t *dead)
{
    cf_status bst = cf_queue_begin(q, queue, false);
    if (bst != CF_OK)
        return bst;
    char k[4][CF_KEY_MAX];
    cf_argv cmds[4];
    cf_argv_init(&cmds[0]);
    cf_argv_key(cf_argv_str(&cmds[0], "LLEN"), k[0],
                cf_key_ready(k[0], CF_KEY_MAX, q->prefix, queue));
    cf_argv_init(&cmds[1]);
    cf_argv_key(cf_argv_str(&cmds[1], "ZCARD"), k[1],
                cf_key_scheduled(k[1], CF_KEY_MAX, q->prefix, queue));
    cf_argv_init(&cmds[2]);
    cf_argv_key(cf_argv_str(&cmds[2], "LLEN"), k[2],
                cf_key_dead(k[2], CF_KEY_MAX, q->prefix, queue));
    cf_argv_init(&cmds[3]);
    cf_argv_key(cf_argv_str(&cmds[3], "LLEN"), k[3],
                cf_key_due(k[3], CF_KEY_MAX, q->prefix, queue));
    cf_reply *reps[4];
    cf_status st = cf_queue_pipeline(q, cmds, 4, reps);
    int64_t *outs[3] = {ready, scheduled, dead};
    for (int i = 0; i < 4; i++) {
        if (st == CF_OK && reps[i]->type != CF_REPLY_INTEGER)
            st = CF_ERR_PROTOCOL;
        if (st == CF_OK && i < 3 && outs[i])
            *outs[i] = reps[i]->integer;
        if (st == CF_OK && i == 3 && ready)
            *ready += reps[i]->integer; /* promoted wakes are ready too, ahead of the backlog */
        cf_reply_free(reps[i]);
    }
    return st;
}
