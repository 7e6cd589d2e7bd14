// SPDX-License-Identifier: MIT
/* queue/delivery.c: release + publishes + removes + ack of a finished delivery, pipelined in
 * slot groups (contract in delivery.h). */
#include "queue/delivery.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "queue/keys.h"
#include "queue/redis_conn.h"
#include "queue/scripts.h"

#define ARGS_MAX 5

/* One command under construction: its argv (keys formatted into key[]) and lengths. */
typedef struct slot_cmd {
    char key[CF_KEY_MAX];
    char due[24];
    const char *argv[ARGS_MAX];
    size_t lens[ARGS_MAX];
} slot_cmd;

typedef struct plan {
    cf_redis_cmd *cmds;
    slot_cmd *args;
    size_t n, cap;
} plan;

/* next returns the plan's next command slot (capacity was sized by the caller); push adds it. */
static slot_cmd *next(plan *p)
{
    return &p->args[p->n];
}

static void push(plan *p, const cf_redis_script *script, int nkeys, int argc)
{
    slot_cmd *a = &p->args[p->n];
    p->cmds[p->n] = (cf_redis_cmd){script, nkeys, argc, a->argv, a->lens};
    p->n++;
}

static void set_arg(slot_cmd *a, int i, const void *s, size_t len)
{
    a->argv[i] = s;
    a->lens[i] = len;
}

/* first_publish_queue / first_remove_queue: whether item i is the first of its queue (the
 * group of that queue's commands starts there). */
static bool first_publish_queue(const cf_delivery_publish *v, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (strcmp(v[j].queue, v[i].queue) == 0)
            return false;
    return true;
}

static bool first_remove_queue(const cf_delivery_remove *v, size_t i)
{
    for (size_t j = 0; j < i; j++)
        if (strcmp(v[j].queue, v[i].queue) == 0)
            return false;
    return true;
}

static cf_status build(plan *p, const cf_delivery_end *d)
{
    slot_cmd *a;
    char lock[CF_KEY_MAX], queues[CF_KEY_MAX];
    int ll = cf_key_lock(lock, sizeof lock, d->prefix, d->wf_class, d->wf_key);
    int ql = cf_key_queues(queues, sizeof queues, d->prefix);
    if (ll < 0 || ql < 0)
        return CF_ERR_INVALID;
    /* the lock, then the held set */
    a = next(p);
    memcpy(a->key, lock, (size_t)ll + 1);
    set_arg(a, 0, a->key, (size_t)ll);
    set_arg(a, 1, d->token, strlen(d->token));
    push(p, &cf_script_lock_release, 1, 2);
    a = next(p);
    int hl = cf_key_held(a->key, sizeof a->key, d->prefix, d->worker_id);
    if (hl < 0)
        return CF_ERR_INVALID;
    set_arg(a, 0, "SREM", 4);
    set_arg(a, 1, a->key, (size_t)hl);
    set_arg(a, 2, p->args[0].key, (size_t)ll);
    push(p, NULL, 0, 3);
    /* publishes, grouped by destination queue ({Q}) */
    for (size_t i = 0; i < d->npublish; i++) {
        if (!first_publish_queue(d->publish, i))
            continue;
        const char *q = d->publish[i].queue;
        a = next(p);
        memcpy(a->key, queues, (size_t)ql + 1);
        set_arg(a, 0, "SADD", 4);
        set_arg(a, 1, a->key, (size_t)ql);
        set_arg(a, 2, q, strlen(q));
        push(p, NULL, 0, 3);
        for (size_t j = i; j < d->npublish; j++) {
            const cf_delivery_publish *x = &d->publish[j];
            if (strcmp(x->queue, q) != 0)
                continue;
            a = next(p);
            int sl = cf_key_scheduled(a->key, sizeof a->key, d->prefix, q);
            if (sl < 0)
                return CF_ERR_INVALID;
            snprintf(a->due, sizeof a->due, "%lld", (long long)x->due_unix_ms);
            set_arg(a, 0, "ZADD", 4);
            set_arg(a, 1, a->key, (size_t)sl);
            set_arg(a, 2, x->continuation ? "LT" : "NX", 2);
            set_arg(a, 3, a->due, strlen(a->due));
            set_arg(a, 4, x->member, x->member_len);
            push(p, NULL, 0, 5);
        }
    }
    /* removes, grouped by queue */
    for (size_t i = 0; i < d->nremove; i++) {
        if (!first_remove_queue(d->remove, i))
            continue;
        for (size_t j = i; j < d->nremove; j++) {
            const cf_delivery_remove *x = &d->remove[j];
            if (strcmp(x->queue, d->remove[i].queue) != 0)
                continue;
            a = next(p);
            int sl = cf_key_scheduled(a->key, sizeof a->key, d->prefix, x->queue);
            if (sl < 0)
                return CF_ERR_INVALID;
            set_arg(a, 0, "ZREM", 4);
            set_arg(a, 1, a->key, (size_t)sl);
            set_arg(a, 2, x->member, x->member_len);
            push(p, NULL, 0, 3);
        }
    }
    /* the ack, last */
    a = next(p);
    int il = cf_key_inflight(a->key, sizeof a->key, d->prefix, d->queue, d->worker_id);
    if (il < 0)
        return CF_ERR_INVALID;
    set_arg(a, 0, "LREM", 4);
    set_arg(a, 1, a->key, (size_t)il);
    set_arg(a, 2, "1", 1);
    set_arg(a, 3, d->env, d->env_len);
    push(p, NULL, 0, 4);
    return CF_OK;
}

static bool valid(const cf_delivery_end *d)
{
    if (cf_keys_check(d->prefix, d->queue) != CF_OK || d->token == NULL || d->worker_id == NULL ||
        d->npublish + d->nremove > CF_DELIVERY_MAX_EFFECTS)
        return false;
    for (size_t i = 0; i < d->npublish; i++)
        if (cf_keys_check(d->prefix, d->publish[i].queue) != CF_OK || d->publish[i].member == NULL)
            return false;
    for (size_t i = 0; i < d->nremove; i++)
        if (cf_keys_check(d->prefix, d->remove[i].queue) != CF_OK || d->remove[i].member == NULL)
            return false;
    return true;
}

cf_status cf_delivery_finish(cf_redis *r, const cf_delivery_end *d, bool *lock_released,
                             bool *acked)
{
    if (lock_released)
        *lock_released = false;
    if (acked)
        *acked = false;
    if (!valid(d))
        return CF_ERR_INVALID;
    /* release, held, per publish SADD + ZADD, per remove ZREM, ack */
    size_t cap = 3 + 2 * d->npublish + d->nremove;
    plan p = {cf_calloc(cap, sizeof *p.cmds), cf_calloc(cap, sizeof *p.args), 0, cap};
    cf_reply **reps = cf_calloc(cap, sizeof *reps);
    cf_status st = p.cmds && p.args && reps ? build(&p, d) : CF_ERR_NOMEM;
    if (st == CF_OK)
        st = cf_redis_pipeline(r, p.cmds, p.n, reps);
    if (st == CF_OK) {
        const cf_reply *rel = reps[0], *ack = reps[p.n - 1];
        if (rel->type != CF_REPLY_INTEGER || ack->type != CF_REPLY_INTEGER)
            st = CF_ERR_PROTOCOL;
        if (lock_released && rel->type == CF_REPLY_INTEGER)
            *lock_released = rel->integer == 1;
        if (acked && ack->type == CF_REPLY_INTEGER)
            *acked = ack->integer == 1;
    }
    for (size_t i = 0; reps && i < p.n; i++)
        cf_reply_free(reps[i]);
    cf_free(reps);
    cf_free(p.cmds);
    cf_free(p.args);
    return st;
}
