// SPDX-License-Identifier: MIT
/* queue/lock.c: per-workflow execution locks and the P:held:<worker-id> set that mirrors them.
 * Acquire pipelines SADD held + SET NX PX GET + PTTL (one round trip; the SADD goes first so a
 * crash between the two leaves at worst a stray entry, which recovery's compare-prefix delete
 * ignores). Release pipelines the compare-and-delete script with SREM held. */
#include "queue/lock.h"

#include <stdio.h>
#include <string.h>

#include "queue/keys.h"
#include "queue/redis_conn.h"
#include "queue/scripts.h"

typedef struct lock_keys {
    char lock[CF_KEY_MAX];
    char held[CF_KEY_MAX];
    size_t lock_len, held_len;
} lock_keys;

static cf_status make_keys(lock_keys *k, const char *prefix, const char *worker_id,
                           const char *wf_class, const char *wf_key)
{
    if (cf_keys_check(prefix, NULL) != CF_OK || worker_id == NULL || wf_class == NULL ||
        wf_key == NULL || wf_class[0] == '\0' || wf_key[0] == '\0')
        return CF_ERR_INVALID;
    int ll = cf_key_lock(k->lock, sizeof k->lock, prefix, wf_class, wf_key);
    int hl = worker_id ? cf_key_held(k->held, sizeof k->held, prefix, worker_id) : 0;
    if (ll < 0 || hl < 0)
        return CF_ERR_INVALID;
    k->lock_len = (size_t)ll;
    k->held_len = (size_t)hl;
    return CF_OK;
}

static bool token_is_workers(const char *token, const char *worker_id)
{
    size_t wl = strlen(worker_id);
    return strncmp(token, worker_id, wl) == 0 && token[wl] == '/' && token[wl + 1] != '\0';
}

static void fill_holder(cf_lock_holder *h, const cf_reply *value, const cf_reply *pttl)
{
    if (h == NULL)
        return;
    h->value[0] = '\0';
    if (value && value->type == CF_REPLY_STRING)
        snprintf(h->value, sizeof h->value, "%.*s", (int)value->len, value->str);
    h->pttl_ms = pttl && pttl->type == CF_REPLY_INTEGER ? pttl->integer : -2;
}

cf_status cf_lock_acquire(cf_redis *r, const char *prefix, const char *worker_id,
                          const char *wf_class, const char *wf_key, const char *token,
                          int64_t ttl_ms, cf_lock_holder *holder)
{
    lock_keys k;
    if (make_keys(&k, prefix, worker_id, wf_class, wf_key) != CF_OK || token == NULL ||
        !token_is_workers(token, worker_id) || ttl_ms <= 0)
        return CF_ERR_INVALID;
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    const char *a0[3] = {"SADD", k.held, k.lock};
    size_t n0[3] = {4, k.held_len, k.lock_len};
    const char *a1[7] = {"SET", k.lock, token, "NX", "PX", ttl, "GET"};
    size_t n1[7] = {3, k.lock_len, strlen(token), 2, 2, strlen(ttl), 3};
    const char *a2[2] = {"PTTL", k.lock};
    size_t n2[2] = {4, k.lock_len};
    cf_redis_cmd cmds[3] = {{NULL, 0, 3, a0, n0}, {NULL, 0, 7, a1, n1}, {NULL, 0, 2, a2, n2}};
    cf_reply *reps[3];
    cf_status st = cf_redis_pipeline(r, cmds, 3, reps);
    if (st == CF_OK) {
        if (reps[1]->type == CF_REPLY_NIL) {
            fill_holder(holder, NULL, reps[2]);
            if (holder)
                snprintf(holder->value, sizeof holder->value, "%s", token);
        } else if (reps[1]->type == CF_REPLY_STRING && reps[1]->len == strlen(token) &&
                   memcmp(reps[1]->str, token, reps[1]->len) == 0) {
            /* Already ours: this is a retry of a SET whose reply was lost (the first attempt
             * ran). The TTL runs from that attempt; the SADD above is idempotent. */
            fill_holder(holder, reps[1], reps[2]);
        } else if (reps[1]->type == CF_REPLY_STRING) {
            fill_holder(holder, reps[1], reps[2]);
            bool ours = reps[1]->len > strlen(worker_id) &&
                        strncmp(reps[1]->str, worker_id, strlen(worker_id)) == 0 &&
                        reps[1]->str[strlen(worker_id)] == '/';
            st = CF_ERR_BUSY;
            if (!ours) {
                /* Not ours: drop the SADD we just made (best effort; a stray entry is
                 * harmless to recovery, it only costs memory). */
                const char *a3[3] = {"SREM", k.held, k.lock};
                cf_reply *rep = NULL;
                if (cf_redis_exec(r, 3, a3, n0, &rep) == CF_OK)
                    cf_reply_free(rep);
            }
        } else {
            st = CF_ERR_PROTOCOL;
        }
    }
    for (int i = 0; i < 3; i++)
        cf_reply_free(reps[i]);
    return st;
}

cf_status cf_lock_release(cf_redis *r, const char *prefix, const char *worker_id,
                          const char *wf_class, const char *wf_key, const char *token)
{
    lock_keys k;
    if (make_keys(&k, prefix, worker_id, wf_class, wf_key) != CF_OK || token == NULL)
        return CF_ERR_INVALID;
    const char *a0[2] = {k.lock, token};
    size_t n0[2] = {k.lock_len, strlen(token)};
    const char *a1[3] = {"SREM", k.held, k.lock};
    size_t n1[3] = {4, k.held_len, k.lock_len};
    cf_redis_cmd cmds[2] = {{&cf_script_lock_release, 1, 2, a0, n0}, {NULL, 0, 3, a1, n1}};
    cf_reply *reps[2];
    cf_status st = cf_redis_pipeline(r, cmds, 2, reps);
    if (st == CF_OK && reps[0]->type != CF_REPLY_INTEGER)
        st = CF_ERR_PROTOCOL;
    else if (st == CF_OK && reps[0]->integer == 0)
        st = CF_ERR_CONFLICT;
    cf_reply_free(reps[0]);
    cf_reply_free(reps[1]);
    return st;
}

cf_status cf_lock_inspect(cf_redis *r, const char *prefix, const char *wf_class, const char *wf_key,
                          cf_lock_holder *holder)
{
    lock_keys k;
    if (make_keys(&k, prefix, "", wf_class, wf_key) != CF_OK)
        return CF_ERR_INVALID;
    const char *a0[2] = {"GET", k.lock};
    size_t n0[2] = {3, k.lock_len};
    const char *a1[2] = {"PTTL", k.lock};
    size_t n1[2] = {4, k.lock_len};
    cf_redis_cmd cmds[2] = {{NULL, 0, 2, a0, n0}, {NULL, 0, 2, a1, n1}};
    cf_reply *reps[2];
    cf_status st = cf_redis_pipeline(r, cmds, 2, reps);
    if (st == CF_OK) {
        fill_holder(holder, reps[0], reps[1]);
        if (reps[0]->type == CF_REPLY_NIL)
            st = CF_ERR_NOT_FOUND;
    }
    cf_reply_free(reps[0]);
    cf_reply_free(reps[1]);
    return st;
}

/* KEYS[1] lock; ARGV[1] token, ARGV[2] ttl ms. PEXPIRE when the value equals token. Returns 1/0.
 * Kept here rather than in queue/scripts.c: only cf_lock_set_ttl uses it. */
static const cf_redis_script lock_set_ttl_script = {
    "lock_set_ttl", "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
                    "  return redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
                    "end\n"
                    "return 0\n"};

cf_status cf_lock_set_ttl(cf_redis *r, const char *prefix, const char *wf_class, const char *wf_key,
                          const char *token, int64_t ttl_ms)
{
    lock_keys k;
    if (make_keys(&k, prefix, "", wf_class, wf_key) != CF_OK || token == NULL || token[0] == '\0' ||
        ttl_ms <= 0)
        return CF_ERR_INVALID;
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%lld", (long long)ttl_ms);
    const char *argv[3] = {k.lock, token, ttl};
    size_t lens[3] = {k.lock_len, strlen(token), strlen(ttl)};
    cf_reply *rep = NULL;
    cf_status st = cf_redis_eval(r, &lock_set_ttl_script, 1, 3, argv, lens, &rep);
    if (st == CF_OK && rep->type != CF_REPLY_INTEGER)
        st = CF_ERR_PROTOCOL;
    else if (st == CF_OK && rep->integer == 0)
        st = CF_ERR_CONFLICT;
    cf_reply_free(rep);
    return st;
}
