// SPDX-License-Identifier: MIT
/* queue/lock.c: per-workflow execution locks and the P:held:<worker-id> set that mirrors them.
 * Acquire pipelines SADD held + SET NX PX GET + PTTL (one round trip; the SADD goes first so a
 * crash between the two leaves at worst a stray entry, which recovery's compare-prefix delete
 * ignores). A crash tombstone (lock.h) at the key is taken over by compare-and-set, one more
 * round trip. Release pipelines the compare-and-delete script with SREM held. */
#include "queue/lock.h"

#include <stdio.h>
#include <string.h>

#include "queue/argv.h"
#include "queue/keys.h"
#include "queue/queue_internal.h"
#include "queue/redis_conn.h"
#include "queue/scripts.h"

typedef struct lock_keys {
    char lock[CF_KEY_MAX];
    char held[CF_KEY_MAX];
    int lock_len, held_len;
} lock_keys;

/* held_cmd builds "<verb> <held set> <lock key>" (SADD or SREM). */
static void held_cmd(cf_argv *a, const char *verb, const lock_keys *k)
{
    cf_argv_init(a);
    cf_argv_str(a, verb);
    cf_argv_key(a, k->held, k->held_len);
    cf_argv_key(a, k->lock, k->lock_len);
}

/* make_keys builds the lock key and, for worker_id (NULL: none), its P:held key. */
static cf_status make_keys(cf_queue *q, lock_keys *k, const char *worker_id, const char *wf_class,
                           const char *wf_key)
{
    if (wf_class == NULL || wf_key == NULL || wf_class[0] == '\0' || wf_key[0] == '\0')
        return cf_queue_fail(q, CF_ERR_INVALID, "a lock needs a class and a key");
    int ll = cf_key_lock(k->lock, sizeof k->lock, q->prefix, wf_class, wf_key);
    int hl = worker_id ? cf_key_held(k->held, sizeof k->held, q->prefix, worker_id) : 0;
    if (ll < 0 || hl < 0)
        return cf_queue_fail(q, CF_ERR_INVALID, "lock key too long");
    k->lock_len = ll;
    k->held_len = hl;
    return CF_OK;
}

static bool token_is_workers(const char *token, const char *worker_id)
{
    size_t wl = strlen(worker_id);
    return strncmp(token, worker_id, wl) == 0 && token[wl] == '/' && token[wl + 1] != '\0';
}

bool cf_lock_is_tombstone(const char *value)
{
    return value && strncmp(value, CF_LOCK_TOMBSTONE_PREFIX, strlen(CF_LOCK_TOMBSTONE_PREFIX)) == 0;
}

/* KEYS[1] lock; ARGV[1] the tombstone seen, ARGV[2] token, ARGV[3] ttl ms. Takes the lock over
 * from that tombstone only (compare-and-set). Returns 1/0. */
static const cf_redis_script lock_take_tombstone_script = {
    "lock_take_tombstone", "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
                           "  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])\n"
                           "  return 1\n"
                           "end\n"
                           "return 0\n"};

/* take_tombstone replaces the tombstone value (len bytes) at the lock key by token. */
static cf_status take_tombstone(cf_queue *q, const lock_keys *k, const char *value, size_t len,
                                const char *token, int64_t ttl_ms, bool *taken)
{
    cf_argv a;
    cf_argv_init_script(&a, &lock_take_tombstone_script, 1);
    cf_argv_buf(cf_argv_key(&a, k->lock, k->lock_len), value, len);
    cf_argv_int(cf_argv_str(&a, token), ttl_ms);
    cf_reply *rep = NULL;
    cf_status st = cf_queue_exec(q, &a, &rep);
    if (st == CF_OK && rep->type != CF_REPLY_INTEGER)
        st = CF_ERR_PROTOCOL;
    *taken = st == CF_OK && rep->integer == 1;
    cf_reply_free(rep);
    return st;
}

static void fill_holder(cf_lock_holder *h, const cf_reply *value, const cf_reply *pttl)
{
    if (h == NULL)
        return;
    h->crashed = false;
    h->value[0] = '\0';
    if (value && value->type == CF_REPLY_STRING)
        snprintf(h->value, sizeof h->value, "%.*s", (int)value->len, value->str);
    h->pttl_ms = pttl && pttl->type == CF_REPLY_INTEGER ? pttl->integer : -2;
}

cf_status cf_lock_acquire(cf_queue *q, const char *wf_class, const char *wf_key, const char *token,
                          int64_t ttl_ms, cf_lock_holder *holder)
{
    lock_keys k;
    cf_status bst = cf_queue_begin(q, NULL, true);
    if (bst == CF_OK)
        bst = make_keys(q, &k, q->worker_id, wf_class, wf_key);
    if (bst != CF_OK)
        return bst;
    const char *worker_id = q->worker_id;
    if (token == NULL || !token_is_workers(token, worker_id) || ttl_ms <= 0)
        return cf_queue_fail(
            q, CF_ERR_INVALID,
            "a lock token must be \"<this worker's id>/<run-id>\" and its ttl > 0");
    cf_argv cmds[3];
    held_cmd(&cmds[0], "SADD", &k);
    cf_argv_init(&cmds[1]);
    cf_argv_key(cf_argv_str(&cmds[1], "SET"), k.lock, k.lock_len);
    cf_argv_str(cf_argv_str(cf_argv_str(&cmds[1], token), "NX"), "PX");
    cf_argv_str(cf_argv_int(&cmds[1], ttl_ms), "GET");
    cf_argv_init(&cmds[2]);
    cf_argv_key(cf_argv_str(&cmds[2], "PTTL"), k.lock, k.lock_len);
    cf_reply *reps[3];
    cf_status st = cf_queue_pipeline(q, cmds, 3, reps);
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
        } else if (reps[1]->type == CF_REPLY_STRING &&
                   reps[1]->len >= strlen(CF_LOCK_TOMBSTONE_PREFIX) &&
                   memcmp(reps[1]->str, CF_LOCK_TOMBSTONE_PREFIX,
                          strlen(CF_LOCK_TOMBSTONE_PREFIX)) == 0) {
            /* A dead worker's lock, freed by recovery: take it over, and say so. */
            fill_holder(holder, reps[1], reps[2]);
            bool taken = false;
            st = take_tombstone(q, &k, reps[1]->str, reps[1]->len, token, ttl_ms, &taken);
            if (st == CF_OK && !taken)
                st = CF_ERR_BUSY; /* someone else took it first: busy, as for any holder */
            if (st == CF_OK && holder) {
                snprintf(holder->value, sizeof holder->value, "%s", token);
                holder->pttl_ms = ttl_ms;
                holder->crashed = true;
            }
        } else if (reps[1]->type == CF_REPLY_STRING) {
            fill_holder(holder, reps[1], reps[2]);
            bool ours = reps[1]->len > strlen(worker_id) &&
                        strncmp(reps[1]->str, worker_id, strlen(worker_id)) == 0 &&
                        reps[1]->str[strlen(worker_id)] == '/';
            st = CF_ERR_BUSY;
            if (!ours) {
                /* Not ours: drop the SADD we just made (best effort; a stray entry is
                 * harmless to recovery, it only costs memory). */
                cf_argv srem;
                held_cmd(&srem, "SREM", &k);
                cf_reply *rep = NULL;
                if (cf_queue_exec(q, &srem, &rep) == CF_OK)
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

cf_status cf_lock_release(cf_queue *q, const char *wf_class, const char *wf_key, const char *token)
{
    lock_keys k;
    cf_status bst = cf_queue_begin(q, NULL, false);
    if (bst != CF_OK)
        return bst;
    /* the P:held set is the token's worker's: "<worker-id>/<run-id>" (a value without a run
     * part, which only a foreign writer makes, names its P:held set whole) */
    if (token == NULL || token[0] == '\0')
        return cf_queue_fail(q, CF_ERR_INVALID, "no lock token given");
    const char *slash = strrchr(token, '/');
    size_t wl = slash ? (size_t)(slash - token) : strlen(token);
    if (wl == 0 || wl >= CF_WORKER_ID_MAX)
        return cf_queue_fail(q, CF_ERR_INVALID, "a lock token must be \"<worker-id>/<run-id>\"");
    char worker_id[CF_WORKER_ID_MAX];
    snprintf(worker_id, sizeof worker_id, "%.*s", (int)wl, token);
    if ((bst = make_keys(q, &k, worker_id, wf_class, wf_key)) != CF_OK)
        return bst;
    cf_argv cmds[2];
    cf_argv_init_script(&cmds[0], &cf_script_lock_release, 1);
    cf_argv_str(cf_argv_key(&cmds[0], k.lock, k.lock_len), token);
    held_cmd(&cmds[1], "SREM", &k);
    cf_reply *reps[2];
    cf_status st = cf_queue_pipeline(q, cmds, 2, reps);
    if (st == CF_OK && reps[0]->type != CF_REPLY_INTEGER)
        st = CF_ERR_PROTOCOL;
    else if (st == CF_OK && reps[0]->integer == 0)
        st = CF_ERR_CONFLICT;
    cf_reply_free(reps[0]);
    cf_reply_free(reps[1]);
    return st;
}

cf_status cf_lock_inspect(cf_queue *q, const char *wf_class, const char *wf_key,
                          cf_lock_holder *holder)
{
    lock_keys k;
    cf_status bst = cf_queue_begin(q, NULL, false);
    if (bst == CF_OK)
        bst = make_keys(q, &k, NULL, wf_class, wf_key);
    if (bst != CF_OK)
        return bst;
    cf_argv cmds[2];
    cf_argv_init(&cmds[0]);
    cf_argv_key(cf_argv_str(&cmds[0], "GET"), k.lock, k.lock_len);
    cf_argv_init(&cmds[1]);
    cf_argv_key(cf_argv_str(&cmds[1], "PTTL"), k.lock, k.lock_len);
    cf_reply *reps[2];
    cf_status st = cf_queue_pipeline(q, cmds, 2, reps);
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

cf_status cf_lock_set_ttl(cf_queue *q, const char *wf_class, const char *wf_key, const char *token,
                          int64_t ttl_ms)
{
    lock_keys k;
    cf_status bst = cf_queue_begin(q, NULL, false);
    if (bst == CF_OK)
        bst = make_keys(q, &k, NULL, wf_class, wf_key);
    if (bst != CF_OK)
        return bst;
    if (token == NULL || token[0] == '\0' || ttl_ms <= 0)
        return cf_queue_fail(q, CF_ERR_INVALID, "a lock's ttl needs its token and a ttl > 0");
    cf_argv a;
    cf_argv_init_script(&a, &lock_set_ttl_script, 1);
    cf_argv_int(cf_argv_str(cf_argv_key(&a, k.lock, k.lock_len), token), ttl_ms);
    cf_reply *rep = NULL;
    cf_status st = cf_queue_exec(q, &a, &rep);
    if (st == CF_OK && rep->type != CF_REPLY_INTEGER)
        st = CF_ERR_PROTOCOL;
    else if (st == CF_OK && rep->integer == 0)
        st = CF_ERR_CONFLICT;
    cf_reply_free(rep);
    return st;
}
