// SPDX-License-Identifier: MIT
/* queue/holdings.c: scanning a worker's in-flight lists and held locks; freeing a stale lock. */
#include "queue/holdings.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "queue/argv.h"
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

static cf_status scan_inflight(cf_queue *q, const char *queue, size_t qi, size_t max,
                               cf_holdings *out)
{
    char key[CF_KEY_MAX];
    cf_argv a;
    cf_argv_init(&a);
    cf_argv_str(&a, "LRANGE");
    cf_argv_key(&a, key, cf_key_inflight(key, sizeof key, q->prefix, queue, q->worker_id));
    cf_argv_int(cf_argv_str(&a, "0"), max > 0 ? (long long)max - 1 : 0);
    cf_reply *rep = NULL;
    cf_status st = cf_queue_exec(q, &a, &rep);
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

static cf_status scan_locks(cf_queue *q, cf_holdings *out)
{
    char hk[CF_KEY_MAX];
    cf_argv a;
    cf_argv_init(&a);
    cf_argv_str(&a, "SMEMBERS");
    cf_argv_key(&a, hk, cf_key_held(hk, sizeof hk, q->prefix, q->worker_id));
    cf_reply *set = NULL;
    cf_status st = cf_queue_exec(q, &a, &set);
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
        cf_argv_init(&a);
        cf_argv_buf(cf_argv_str(&a, "GET"), set->elem[i].str, set->elem[i].len);
        cf_reply *v = NULL;
        st = cf_queue_exec(q, &a, &v);
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
    for (size_t i = 0; st == CF_OK && i < nqueues; i++)
        if ((st = cf_queue_begin(q, queues[i], true)) == CF_OK)
            st = scan_inflight(q, queues[i], i, max, out);
    if (st == CF_OK)
        st = scan_locks(q, out);
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
    cf_argv cmds[2];
    size_t n = 0;
    if (value) {
        cf_argv_init_script(&cmds[n], &cf_script_lock_release, 1);
        cf_argv_str(cf_argv_str(&cmds[n++], lock_key), value);
    }
    cf_argv_init(&cmds[n]);
    cf_argv_key(cf_argv_str(&cmds[n], "SREM"), hk,
                cf_key_held(hk, sizeof hk, q->prefix, q->worker_id));
    cf_argv_str(&cmds[n++], lock_key);
    cf_reply *reps[2] = {NULL, NULL};
    cf_status st = cf_queue_pipeline(q, cmds, n, reps);
    cf_reply_free(reps[0]);
    cf_reply_free(reps[1]);
    return st;
}
