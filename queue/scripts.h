// SPDX-License-Identifier: MIT
/* queue/scripts.h: every Lua script queue/ runs, in one place, so their key contracts can be
 * read together: each touches the keys of one queue ({Q} hash tag) or a single key, as SPEC §2
 * requires for Redis Cluster. redis_conn.c runs them by EVALSHA and reloads them on NOSCRIPT. */
#ifndef CF_QUEUE_SCRIPTS_H
#define CF_QUEUE_SCRIPTS_H

#include "queue/redis_conn.h"

/* KEYS[1] inflight, KEYS[2] ready; ARGV[1] env. LREM 1 then LPUSH if removed. Returns removed. */
extern const cf_redis_script cf_script_requeue;
/* The scripts that add to a scheduled set take it as KEYS[1] and PUBLISH "<due ms>" on
 * P:{Q}:wake when the entry added becomes the set's earliest (scripts.c: WAKE_IF_EARLIEST). */
/* KEYS[1] scheduled, KEYS[2] inflight; ARGV[1] env, ARGV[2] due ms. LREM 1, ZADD if removed. */
extern const cf_redis_script cf_script_reschedule;
/* KEYS[1] scheduled, KEYS[2] inflight; ARGV[1] env, ARGV[2] member, ARGV[3] due ms.
 * LREM 1 env; ZADD LT due member always. Returns removed. */
extern const cf_redis_script cf_script_ack_continue;
/* KEYS[1] scheduled; ARGV[1] "LT", "NX" or "" (plain ZADD), ARGV[2] due ms, ARGV[3] member.
 * Returns ZADD's reply (1 when a new entry was created). */
extern const cf_redis_script cf_script_schedule_add;
/* KEYS[1] scheduled, KEYS[2] ready, KEYS[3] due, KEYS[4] paused; ARGV[1] now ms (<= 0: server
 * TIME), ARGV[2] batch. Moves up to batch due entries, earliest first, to ready when ready and
 * due are both empty, else to due; nothing while the queue is paused (KEYS[4] exists).
 * Returns {moved, the earliest remaining due ms or -1 (-1 too while paused), now ms}. */
extern const cf_redis_script cf_script_promote;
/* KEYS[1] due, KEYS[2] ready, KEYS[3] inflight, KEYS[4] paused; ARGV[1] max, ARGV[2] due cap.
 * LMOVE (RIGHT to LEFT) up to cap from due, then from ready up to max, then from due up to max.
 * Returns the envelopes taken, oldest first; -1 (nothing taken) while the queue is paused. */
extern const cf_redis_script cf_script_take;
/* KEYS[1] lock; ARGV[1] token. DEL when the value equals token. Returns 1/0. */
extern const cf_redis_script cf_script_lock_release;
/* KEYS[1] lock; ARGV[1] value prefix ("<dead-id>/"). DEL when the value starts with it.
 * Returns 1 deleted, 0 not. */
extern const cf_redis_script cf_script_lock_release_prefix;
/* KEYS[1] inflight, KEYS[2] dead; ARGV[1] raw, ARGV[2] entry, ARGV[3] cap, ARGV[4] "1": only
 * if in flight. LREM 1 raw, then (if removed, or ARGV[4] is not "1") LPUSH entry, LTRIM 0
 * cap-1. Returns removed. */
extern const cf_redis_script cf_script_deadletter_push;
/* KEYS[1] dead, KEYS[2] ready; ARGV[1] entry, ARGV[2] raw. LREM 1 entry, LPUSH raw if removed. */
extern const cf_redis_script cf_script_deadletter_retry;
/* KEYS[1] workers; ARGV[1] worker id. ZADD with the server TIME in ms. Returns the score. */
extern const cf_redis_script cf_script_heartbeat;
/* KEYS[1] worker info hash; ARGV[1] ttl ms, ARGV[2] "1" to record a quiet request, ARGV[3..]
 * field/value pairs. HSET the pairs (and quiet_request=1), set quiet = quiet_request, PEXPIRE.
 * Returns quiet_request ("1" quiet, else nil or "0"). */
extern const cf_redis_script cf_script_worker_info;
/* KEYS[1] worker info hash; ARGV[1] "1" quiet or "0" resume. HSET quiet_request when the hash
 * exists (the worker is publishing). Returns 1 set, 0 no such worker. */
extern const cf_redis_script cf_script_worker_quiet;
/* KEYS[1] workers; ARGV[1] lease ms, ARGV[2] max ids. Ids with score < TIME - lease. */
extern const cf_redis_script cf_script_dead_workers;
/* KEYS[1] workers; ARGV[1] worker id, ARGV[2] lease ms. If its score < TIME - lease, re-score it
 * to TIME (a claim lasting one lease) and return that score as a string; else nil. */
extern const cf_redis_script cf_script_claim_worker;
/* KEYS[1] workers; ARGV[1] worker id, ARGV[2] claim score. ZREM if the score is unchanged. */
extern const cf_redis_script cf_script_forget_worker;
/* KEYS[1] inflight, KEYS[2] ready; ARGV[1] max. Moves up to max entries one LMOVE at a time
 * (RIGHT to RIGHT: oldest taken first, to the front of the queue). Returns the number moved. */
extern const cf_redis_script cf_script_inflight_return;

#endif
