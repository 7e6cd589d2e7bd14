// SPDX-License-Identifier: MIT
/* queue/holdings.c: scanning a worker's in-flight lists and held locks; freeing a stale lock. */
#include "queue/holdings.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "queue/keys.h"
#include "queue/queue_internal.h"
#include "queue/redis_conn.h"
#include "queue/scripts.h"

void cf_holdings_deinit(cf_holdings *h)
{
    for (size_t i = 0; i < h->nenvelopes; i++)
        cf_free(h->envelopes[i].env);
    for (size_t i = 0; i < h->nlocks; i++) {
        cf_free(h->locks[i].lock_key);
        cf_free(h->locks[i].value);
    }
    cf_free(h->envelopes);
    cf_free(h->locks);
    memset(h, 0, sizeof *h);
}

static cf_status scan_inflight(cf_redis *r, const char *prefix, const char *worker_id,
                               const char *queue, size_t qi, size_t max, cf_holdings *out)
{
    char key[CF_KEY_MAX], stop[24];
    int kl = cf_key_inflight(key, sizeof key, prefix, queue, worker_id);
    if (kl < 0)
        return CF_ERR_INVALID;
    snprintf(stop, sizeof stop, "%zu", max > 0 ? max - 1 : 0);
    const char *argv[4] = {"LRANGE", key, "0", stop};
    size_t lens[4] = {6, (size_t)kl, 1, strlen(stop)};
    cf_reply *rep = NULL;
    cf_status st = cf_redis_exec(r, 4, argv, lens, &rep);
    if (st != CF_OK)
        return st;
    if (rep->type != CF_REPLY_ARRAY) {
        cf_reply_free(rep);
        return CF_ERR_PROTOCOL;
    }
    if (rep->n > 0) {
        cf_held_envelope *p =
            cf_realloc(out->envelopes, (out->nenvelopes + rep->n) * sizeof *out->envelopes);
        if (p == NULL) {
            cf_reply_free(rep);
            return CF_ERR_NOMEM;
        }
        out->envelopes = p;
    }
    for (size_t i = 0; i < rep->n; i++) {
        cf_held_envelope *e = &out->envelopes[out->nenvelopes];
        e->queue_index = qi;
        e->env = cf_reply_take_str(&rep->elem[i], &e->len);
        if (e->env == NULL)
            continue;
        out->nenvelopes++;
    }
    cf_reply_free(rep);
    return CF_OK;
}

static cf_status scan_locks(cf_redis *r, const char *prefix, const char *worker_id,
                            cf_holdings *out)
{
    char hk[CF_KEY_MAX];
    int hl = cf_key_held(hk, sizeof hk, prefix, worker_id);
    if (hl < 0)
        return CF_ERR_INVALID;
    const char *argv[2] = {"SMEMBERS", hk};
    size_t lens[2] = {8, (size_t)hl};
    cf_reply *set = NULL;
    cf_status st = cf_redis_exec(r, 2, argv, lens, &set);
    if (st != CF_OK)
        return st;
    if (set->type != CF_REPLY_ARRAY) {
        cf_reply_free(set);
        return CF_ERR_PROTOCOL;
    }
    if (set->n > 0 && !(out->locks = cf_calloc(set->n, sizeof *out->locks))) {
        cf_reply_free(set);
        return CF_ERR_NOMEM;
    }
    for (size_t i = 0; st == CF_OK && i < set->n; i++) {
        const char *gv[2] = {"GET", set->elem[i].str};
        size_t gl[2] = {3, set->elem[i].len};
        cf_reply *v = NULL;
        st = cf_redis_exec(r, 2, gv, gl, &v);
        if (st != CF_OK)
            break;
        cf_held_lock *l = &out->locks[out->nlocks];
        l->value = v->type == CF_REPLY_STRING ? cf_reply_take_str(v, NULL) : NULL;
        l->lock_key = cf_reply_take_str(&set->elem[i], NULL);
        cf_reply_free(v);
        if (l->lock_key == NULL) {
            cf_free(l->value);
            st = CF_ERR_NOMEM;
            break;
        }
        out->nlocks++;
    }
    cf_reply_free(set);
    return st;
}

cf_status cf_holdings_scan(cf_queue *q, const char *const *queues, size_t nqueues, size_t max,
                           cf_holdings *out)
{
    memset(out, 0, sizeof *out);
    cf_status st = cf_queue_begin(q, NULL, true);
    cf_redis *r = q->redis;
    const char *prefix = q->prefix, *worker_id = q->worker_id;
    for (size_t i = 0; st == CF_OK && i < nqueues; i++)
        if ((st = cf_queue_begin(q, queues[i], true)) == CF_OK)
            st = scan_inflight(r, prefix, worker_id, queues[i], i, max, out);
    if (st == CF_OK)
        st = scan_locks(r, prefix, worker_id, out);
    if (st != CF_OK)
        cf_holdings_deinit(out);
    return st;
}

cf_status cf_holdings_free_lock(cf_queue *q, const char *lock_key, const char *value)
{
    char hk[CF_KEY_MAX];
    cf_status bst = cf_queue_begin(q, NULL, true);
    if (bst != CF_OK)
        return bst;
    if (lock_key == NULL)
        return cf_queue_fail(q, CF_ERR_INVALID, "no lock key given");
    cf_redis *r = q->redis;
    int hl = cf_key_held(hk, sizeof hk, q->prefix, q->worker_id);
    if (hl < 0)
        return cf_queue_fail(q, CF_ERR_INVALID, "a key does not fit");
    cf_redis_cmd cmds[2];
    size_t n = 0;
    const char *a0[2] = {lock_key, value};
    size_t n0[2] = {strlen(lock_key), value ? strlen(value) : 0};
    if (value)
        cmds[n++] = (cf_redis_cmd){&cf_script_lock_release, 1, 2, a0, n0};
    const char *a1[3] = {"SREM", hk, lock_key};
    size_t n1[3] = {4, (size_t)hl, strlen(lock_key)};
    cmds[n++] = (cf_redis_cmd){NULL, 0, 3, a1, n1};
    cf_reply *reps[2] = {NULL, NULL};
    cf_status st = cf_redis_pipeline(r, cmds, n, reps);
    cf_reply_free(reps[0]);
    cf_reply_free(reps[1]);
    return st;
}
