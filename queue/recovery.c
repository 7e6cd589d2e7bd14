// SPDX-License-Identifier: MIT
/* queue/recovery.c: recovering dead workers (SPEC §2: silent in P:workers for longer than the
 * lease). What it owns and why it is safe:
 *
 * 1. Find: a script on P:workers lists ids whose score (last heartbeat, Redis TIME ms) is older
 *    than TIME - lease. Our own id is skipped.
 * 2. Claim: a script on P:workers re-scores the dead id to TIME, only if it is still older than
 *    the lease. Scripts are atomic, so of several recoverers racing for one worker exactly one
 *    gets the claim (the others see a fresh score and move on). The claim score is returned.
 *    The claim looks like one heartbeat, so it lasts one lease: if the recoverer dies
 *    half-way, the worker looks dead again one lease later and the next pass of any live
 *    worker claims it and finishes the job.
 * 3. Locks first: for each lock key in P:held:<dead>, a compare-prefix script replaces the
 *    lock by a crash tombstone "!crashed/<dead-id>" (queue/lock.h; it lives
 *    CF_RECOVERY_TOMBSTONE_LEASES leases) only while its value still starts with "<dead-id>/";
 *    a lock that expired and was re-taken by a live run is left alone. The next acquirer takes
 *    the tombstone over and counts a crash (a run in its lazy window left no trace in
 *    Postgres, docs/healing.md). Locks go before envelopes so the recovered
 *    envelopes do not meet their own workflow's stale lock and get delayed by max_duration.
 * 4. Envelopes: for each queue in P:queues, a script moves P:{Q}:inflight:<dead> to the front
 *    (right end) of P:{Q}:ready (and P:{Q}:control:inflight:<dead>, control requests taken
 *    and not answered, to the front of P:{Q}:control), LMOVE by LMOVE, in batches of 100. Every
 * LMOVE is atomic, so nothing is duplicated or lost whether the recoverer dies between batches or
 * two recoverers (after an expired claim) move the same list at once.
 * 5. Forget: DEL P:held:<dead>, then ZREM the id from P:workers only if its score is still the
 *    claim score (a worker that came back to life and beat again stays registered). The held
 *    set goes first: dying between the two leaves a claimed worker that the next pass finishes
 *    with nothing left to do, never a held set nobody will find.
 * Every step is idempotent, so a repeated recovery only costs round trips. Each script touches
 * one key or the keys of one queue ({Q}), as Redis Cluster requires. */
#include "queue/recovery.h"

#include <stdio.h>
#include <string.h>

#include "common/alloc.h"
#include "common/log.h"
#include "queue/argv.h"
#include "queue/keys.h"
#include "queue/lock.h"
#include "queue/queue_internal.h"
#include "queue/redis_conn.h"
#include "queue/scripts.h"

#define FIND_MAX     100
#define RETURN_BATCH 100

static cf_status string_array(cf_reply *rep, char ***ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    if (rep->type != CF_REPLY_ARRAY)
        return CF_ERR_PROTOCOL;
    if (rep->n == 0)
        return CF_OK;
    char **out = cf_calloc(rep->n, sizeof *out);
    if (out == NULL)
        return CF_ERR_NOMEM;
    for (size_t i = 0; i < rep->n; i++) {
        out[i] = cf_reply_take_str(&rep->elem[i], NULL);
        if (out[i] == NULL) {
            cf_recovery_ids_free(out, i);
            return rep->elem[i].type == CF_REPLY_STRING ? CF_ERR_NOMEM : CF_ERR_PROTOCOL;
        }
    }
    *ids = out;
    *n = rep->n;
    return CF_OK;
}

void cf_recovery_ids_free(char **ids, size_t n)
{
    if (ids == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        cf_free(ids[i]);
    cf_free(ids);
}

cf_status cf_recovery_dead_workers(cf_queue *q, int64_t lease_ms, char ***ids, size_t *n)
{
    *ids = NULL;
    *n = 0;
    cf_status bst = cf_queue_begin(q, NULL, false);
    if (bst != CF_OK)
        return bst;
    if (lease_ms <= 0)
        return cf_queue_fail(q, CF_ERR_INVALID, "a lease must be > 0");
    char key[CF_KEY_MAX];
    cf_argv a;
    cf_argv_init_script(&a, &cf_script_dead_workers, 1);
    cf_argv_key(&a, key, cf_key_workers(key, sizeof key, q->prefix));
    cf_argv_int(cf_argv_int(&a, lease_ms), FIND_MAX);
    cf_reply *rep = NULL;
    cf_status st = cf_queue_exec(q, &a, &rep);
    if (st == CF_OK)
        st = string_array(rep, ids, n);
    cf_reply_free(rep);
    return st;
}

cf_status cf_recovery_live_workers(cf_queue *q, int64_t lease_ms, int64_t *n)
{
    cf_status bst = cf_queue_begin(q, NULL, false);
    if (bst != CF_OK)
        return bst;
    if (lease_ms <= 0)
        return cf_queue_fail(q, CF_ERR_INVALID, "a lease must be > 0");
    int64_t now;
    cf_status st = cf_redis_time_ms(q->redis, &now);
    if (st != CF_OK)
        return st;
    char key[CF_KEY_MAX];
    cf_argv a;
    cf_argv_init(&a);
    cf_argv_key(cf_argv_str(&a, "ZCOUNT"), key, cf_key_workers(key, sizeof key, q->prefix));
    cf_argv_str(cf_argv_int(&a, now - lease_ms), "+inf");
    cf_reply *rep = NULL;
    st = cf_queue_exec(q, &a, &rep);
    if (st == CF_OK && rep->type != CF_REPLY_INTEGER)
        st = CF_ERR_PROTOCOL;
    if (st == CF_OK)
        *n = rep->integer;
    cf_reply_free(rep);
    return st;
}

/* claim returns CF_OK with claim_score set when this caller won the worker, CF_ERR_CONFLICT when
 * it is not (or no longer) dead. */
static cf_status claim(cf_queue *q, const char *workers_key, const char *id, int64_t lease_ms,
                       char *claim_score, size_t cap)
{
    cf_argv a;
    cf_argv_init_script(&a, &cf_script_claim_worker, 1);
    cf_argv_str(cf_argv_str(&a, workers_key), id);
    cf_argv_int(&a, lease_ms);
    cf_reply *rep = NULL;
    cf_status st = cf_queue_exec(q, &a, &rep);
    if (st == CF_OK) {
        if (rep->type == CF_REPLY_STRING)
            snprintf(claim_score, cap, "%s", rep->str);
        else
            st = rep->type == CF_REPLY_NIL ? CF_ERR_CONFLICT : CF_ERR_PROTOCOL;
    }
    cf_reply_free(rep);
    return st;
}

/* KEYS[1] lock; ARGV[1] the dead worker's value prefix "<id>/", ARGV[2] the tombstone,
 * ARGV[3] its lifetime in ms. Replaces the lock by the tombstone only while its value still
 * starts with the prefix (a lock re-taken by a live run is left alone). Returns 1/0. */
static const cf_redis_script lock_tombstone_script = {
    "lock_tombstone", "local v = redis.call('GET', KEYS[1])\n"
                      "if v and string.sub(v, 1, #ARGV[1]) == ARGV[1] then\n"
                      "  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])\n"
                      "  return 1\n"
                      "end\n"
                      "return 0\n"};

/* free_locks frees every lock of worker id: replaced by a crash tombstone (queue/lock.h) that
 * lives tomb_ms, or deleted when tomb_ms is 0 (a worker that leaves on purpose). */
static cf_status free_locks(cf_queue *q, const char *id, int64_t tomb_ms, cf_recovery_stats *stats)
{
    char hk[CF_KEY_MAX], vprefix[CF_WORKER_ID_MAX + 2], tomb[CF_WORKER_ID_MAX + 16];
    snprintf(vprefix, sizeof vprefix, "%s/", id);
    snprintf(tomb, sizeof tomb, "%s%s", CF_LOCK_TOMBSTONE_PREFIX, id);
    cf_argv a;
    cf_argv_init(&a);
    cf_argv_key(cf_argv_str(&a, "SMEMBERS"), hk, cf_key_held(hk, sizeof hk, q->prefix, id));
    cf_reply *set = NULL;
    cf_status st = cf_queue_exec(q, &a, &set);
    if (st != CF_OK)
        return st;
    for (size_t i = 0; st == CF_OK && set->type == CF_REPLY_ARRAY && i < set->n; i++) {
        if (tomb_ms > 0) {
            cf_argv_init_script(&a, &lock_tombstone_script, 1);
            cf_argv_str(cf_argv_buf(&a, set->elem[i].str, set->elem[i].len), vprefix);
            cf_argv_int(cf_argv_str(&a, tomb), tomb_ms);
        } else {
            cf_argv_init_script(&a, &cf_script_lock_release_prefix, 1);
            cf_argv_str(cf_argv_buf(&a, set->elem[i].str, set->elem[i].len), vprefix);
        }
        cf_reply *rep = NULL;
        st = cf_queue_exec(q, &a, &rep);
        if (st == CF_OK && rep->type == CF_REPLY_INTEGER && rep->integer > 0)
            stats->locks++;
        else if (st == CF_OK)
            stats->skipped_locks++;
        cf_reply_free(rep);
    }
    cf_reply_free(set);
    return st;
}

/* Control requests keep their order: the newest in flight (the left end) goes first to the
 * taking end, so the oldest ends up taken next. */
static const cf_redis_script control_return = {
    "control_return", "local moved = 0\n"
                      "for i = 1, tonumber(ARGV[1]) do\n"
                      "  local v = redis.call('LMOVE', KEYS[1], KEYS[2], 'LEFT', 'RIGHT')\n"
                      "  if not v then break end\n"
                      "  moved = moved + 1\n"
                      "end\n"
                      "return moved\n"};

/* move_list moves list ik to the taking end of list rk (same queue slot) with script (one of
 * cf_script_inflight_return or control_return), LMOVE by LMOVE in batches of RETURN_BATCH, adding
 * how many to *moved_total. */
static cf_status move_list(cf_queue *q, const cf_redis_script *script, const char *ik, int il,
                           const char *rk, int rl, int64_t *moved_total)
{
    cf_status st;
    for (;;) {
        cf_argv a;
        cf_argv_init_script(&a, script, 2);
        cf_argv_int(cf_argv_key(cf_argv_key(&a, ik, il), rk, rl), RETURN_BATCH);
        cf_reply *rep = NULL;
        st = cf_queue_exec(q, &a, &rep);
        long long moved = st == CF_OK && rep->type == CF_REPLY_INTEGER ? rep->integer : 0;
        cf_reply_free(rep);
        *moved_total += moved;
        if (st != CF_OK || moved < RETURN_BATCH)
            return st;
    }
}

static cf_status return_inflight(cf_queue *q, const char *id, cf_recovery_stats *stats)
{
    char qk[CF_KEY_MAX];
    cf_argv a;
    cf_argv_init(&a);
    cf_argv_key(cf_argv_str(&a, "SMEMBERS"), qk, cf_key_queues(qk, sizeof qk, q->prefix));
    cf_reply *set = NULL;
    cf_status st = cf_queue_exec(q, &a, &set);
    if (st != CF_OK)
        return st;
    for (size_t i = 0; st == CF_OK && set->type == CF_REPLY_ARRAY && i < set->n; i++) {
        const char *queue = set->elem[i].str;
        if (!cf_queue_name_valid(queue))
            continue;
        char ik[CF_KEY_MAX], rk[CF_KEY_MAX];
        int il = cf_key_inflight(ik, sizeof ik, q->prefix, queue, id);
        int rl = cf_key_ready(rk, sizeof rk, q->prefix, queue);
        if (il < 0 || rl < 0)
            continue;
        st = move_list(q, &cf_script_inflight_return, ik, il, rk, rl, &stats->envelopes);
        /* control requests it had taken and not answered go back to P:{Q}:control */
        il = cf_key_control_inflight(ik, sizeof ik, q->prefix, queue, id);
        rl = cf_key_control(rk, sizeof rk, q->prefix, queue);
        int64_t requests = 0;
        if (st == CF_OK && il >= 0 && rl >= 0)
            st = move_list(q, &control_return, ik, il, rk, rl, &requests);
    }
    cf_reply_free(set);
    return st;
}

static cf_status forget(cf_queue *q, const char *workers_key, const char *id,
                        const char *claim_score)
{
    char hk[CF_KEY_MAX];
    cf_argv a;
    cf_argv_init(&a);
    cf_argv_key(cf_argv_str(&a, "DEL"), hk, cf_key_held(hk, sizeof hk, q->prefix, id));
    cf_reply *rep = NULL;
    cf_status st = cf_queue_exec(q, &a, &rep);
    cf_reply_free(rep);
    if (st != CF_OK)
        return st;
    cf_argv_init_script(&a, &cf_script_forget_worker, 1);
    cf_argv_str(cf_argv_str(cf_argv_str(&a, workers_key), id), claim_score);
    rep = NULL;
    st = cf_queue_exec(q, &a, &rep);
    cf_reply_free(rep);
    return st;
}

cf_status cf_recovery_run(cf_queue *q, int64_t lease_ms, cf_recovery_stats *stats)
{
    cf_recovery_stats local;
    if (stats == NULL)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    char **ids;
    size_t n;
    cf_status st = cf_recovery_dead_workers(q, lease_ms, &ids, &n);
    if (st != CF_OK)
        return st;
    const char *self_id = cf_queue_worker(q);
    char wk[CF_KEY_MAX];
    cf_key_workers(wk, sizeof wk, q->prefix);
    for (size_t i = 0; st == CF_OK && i < n; i++) {
        const char *id = ids[i];
        if ((self_id && strcmp(id, self_id) == 0) || strlen(id) >= CF_WORKER_ID_MAX)
            continue;
        char score[64];
        st = claim(q, wk, id, lease_ms, score, sizeof score);
        if (st == CF_ERR_CONFLICT) {
            st = CF_OK; /* someone else got it, or it came back */
            continue;
        }
        int64_t locks0 = stats->locks, env0 = stats->envelopes;
        if (st == CF_OK)
            st = free_locks(q, id, CF_RECOVERY_TOMBSTONE_LEASES * lease_ms, stats);
        if (st == CF_OK)
            st = return_inflight(q, id, stats);
        if (st == CF_OK)
            st = forget(q, wk, id, score);
        if (st == CF_OK) {
            stats->workers++;
            cf_log(CF_LOG_WARN, NULL,
                   "recovered dead worker %s: %lld envelopes back to ready, %lld locks freed", id,
                   (long long)(stats->envelopes - env0), (long long)(stats->locks - locks0));
        }
    }
    cf_recovery_ids_free(ids, n);
    return st;
}

cf_status cf_recovery_leave(cf_queue *q, cf_recovery_stats *stats)
{
    cf_recovery_stats local;
    if (stats == NULL)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    cf_status bst = cf_queue_begin(q, NULL, true);
    if (bst != CF_OK)
        return bst;
    cf_status st = free_locks(q, q->worker_id, 0, stats);
    if (st == CF_OK)
        st = return_inflight(q, q->worker_id, stats);
    return st;
}
