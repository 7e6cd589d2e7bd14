// SPDX-License-Identifier: MIT
/* queue/delivery.c: release + publishes + removes + ack of a finished delivery, pipelined in
 * slot groups (contract in delivery.h). */
#include "queue/delivery.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "queue/argv.h"
#include "queue/keys.h"
#include "queue/queue_internal.h"
#include "queue/redis_conn.h"
#include "queue/schedule.h"
#include "queue/scripts.h"

/* The commands under construction, each with a key buffer of its own (a builder borrows it). */
typedef struct plan {
    cf_argv *cmds;
    char (*keys)[CF_KEY_MAX];
    size_t n, cap;
} plan;

/* next starts the plan's next plain command (capacity was sized by the caller) and returns it;
 * *key receives that command's key buffer. */
static cf_argv *next(plan *p, char **key)
{
    cf_argv *a = &p->cmds[p->n];
    *key = p->keys[p->n];
    p->n++;
    cf_argv_init(a);
    return a;
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

/* build fills p in slot-group order (delivery.h); a key that does not fit marks its builder
 * bad, which cf_queue_pipeline refuses before any I/O. */
static void build(cf_queue *q, plan *p, const cf_delivery_end *d)
{
    const char *prefix = q->prefix;
    char *k, *lock;
    /* the lock, then the held set */
    cf_argv *a = next(p, &lock);
    cf_argv_init_script(a, &cf_script_lock_release, 1);
    int ll = cf_key_lock(lock, CF_KEY_MAX, prefix, d->wf_class, d->wf_key);
    cf_argv_str(cf_argv_key(a, lock, ll), d->token);
    a = next(p, &k);
    cf_argv_key(cf_argv_str(a, "SREM"), k, cf_key_held(k, CF_KEY_MAX, prefix, q->worker_id));
    cf_argv_key(a, lock, ll);
    /* publishes, grouped by destination queue ({Q}) */
    for (size_t i = 0; i < d->npublish; i++) {
        if (!first_publish_queue(d->publish, i))
            continue;
        const char *dq = d->publish[i].queue;
        a = next(p, &k);
        cf_argv_key(cf_argv_str(a, "SADD"), k, cf_key_queues(k, CF_KEY_MAX, prefix));
        cf_argv_str(a, dq);
        for (size_t j = i; j < d->npublish; j++) {
            const cf_delivery_publish *x = &d->publish[j];
            if (strcmp(x->queue, dq) != 0)
                continue;
            a = next(p, &k);
            cf_argv_init_script(a, &cf_script_schedule_add, 1); /* ZADD, wake if earliest */
            cf_argv_key(a, k, cf_key_scheduled(k, CF_KEY_MAX, prefix, dq));
            cf_argv_int(cf_argv_str(a, x->continuation ? "LT" : "NX"), x->due_unix_ms);
            cf_argv_buf(a, x->member, x->member_len);
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
            a = next(p, &k);
            cf_argv_key(cf_argv_str(a, "ZREM"), k,
                        cf_key_scheduled(k, CF_KEY_MAX, prefix, x->queue));
            cf_argv_buf(a, x->member, x->member_len);
        }
    }
    /* the ack, last */
    a = next(p, &k);
    cf_argv_key(cf_argv_str(a, "LREM"), k,
                cf_key_inflight(k, CF_KEY_MAX, prefix, d->queue, q->worker_id));
    cf_argv_buf(cf_argv_str(a, "1"), d->env, d->env_len);
}

/* check validates d's names and counts, with a message on q. */
static cf_status check(cf_queue *q, const cf_delivery_end *d)
{
    cf_status st = cf_queue_begin(q, d->queue, true);
    for (size_t i = 0; st == CF_OK && i < d->npublish; i++)
        st = cf_queue_begin(q, d->publish[i].queue, true);
    for (size_t i = 0; st == CF_OK && i < d->nremove; i++)
        st = cf_queue_begin(q, d->remove[i].queue, true);
    if (st != CF_OK)
        return st;
    if (d->token == NULL || d->npublish + d->nremove > CF_DELIVERY_MAX_EFFECTS)
        return cf_queue_fail(q, CF_ERR_INVALID,
                             "a delivery end needs a token and at most %d effects",
                             CF_DELIVERY_MAX_EFFECTS);
    for (size_t i = 0; i < d->npublish; i++)
        if (d->publish[i].member == NULL)
            return cf_queue_fail(q, CF_ERR_INVALID, "a publish needs its envelope");
    for (size_t i = 0; i < d->nremove; i++)
        if (d->remove[i].member == NULL)
            return cf_queue_fail(q, CF_ERR_INVALID, "a remove needs its envelope");
    return CF_OK;
}

cf_status cf_delivery_finish(cf_queue *q, const cf_delivery_end *d, bool *lock_released,
                             bool *acked)
{
    if (lock_released)
        *lock_released = false;
    if (acked)
        *acked = false;
    cf_status st = check(q, d);
    if (st != CF_OK)
        return st;
    /* release, held, per publish SADD + ZADD, per remove ZREM, ack */
    size_t cap = 3 + 2 * d->npublish + d->nremove;
    plan p = {cf_calloc(cap, sizeof *p.cmds), cf_calloc(cap, sizeof *p.keys), 0, cap};
    cf_reply **reps = cf_calloc(cap, sizeof *reps);
    if (p.cmds == NULL || p.keys == NULL || reps == NULL) {
        st = cf_queue_fail(q, CF_ERR_NOMEM, "out of memory");
    } else {
        build(q, &p, d);
        st = cf_queue_pipeline(q, p.cmds, p.n, reps);
    }
    if (st == CF_OK) {
        const cf_reply *rel = reps[0], *ack = reps[p.n - 1];
        if (rel->type != CF_REPLY_INTEGER || ack->type != CF_REPLY_INTEGER)
            st = CF_ERR_PROTOCOL;
        if (lock_released && rel->type == CF_REPLY_INTEGER)
            *lock_released = rel->integer == 1;
        if (acked && ack->type == CF_REPLY_INTEGER)
            *acked = ack->integer == 1;
        for (size_t i = 0; i < d->npublish; i++)
            cf_schedule_note(d->publish[i].queue, d->publish[i].due_unix_ms);
    }
    for (size_t i = 0; reps && i < p.n; i++)
        cf_reply_free(reps[i]);
    cf_free(reps);
    cf_free(p.cmds);
    cf_free(p.keys);
    return st;
}
