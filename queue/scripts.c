// SPDX-License-Identifier: MIT
/* queue/scripts.c: the Lua texts of queue/'s atomic operations (contracts in scripts.h). Each
 * uses only the keys it is given, all of one queue ({Q}) or a single key. Redis 7 replicates
 * script effects, so TIME inside a script is allowed. */
#include "queue/scripts.h"

const cf_redis_script cf_script_requeue = {
    "requeue", "local n = redis.call('LREM', KEYS[1], 1, ARGV[1])\n"
               "if n > 0 then redis.call('LPUSH', KEYS[2], ARGV[1]) end\n"
               "return n\n"};

/* WAKE_IF_EARLIEST(member, due): after a ZADD into KEYS[1] (a P:{Q}:scheduled set), PUBLISH
 * "<due>" on P:{Q}:wake (the key's name with "scheduled" replaced by "wake") only when member is
 * now the set's earliest entry with exactly that due time: a promoter sleeping until a later
 * due time wakes for it (worker/promoter.h); any other add changes nothing it waits for. */
#define WAKE_IF_EARLIEST(member, due)                                                              \
    "local f = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')\n"                                \
    "if f[1] == " member " and tonumber(f[2]) == tonumber(" due ") then\n"                         \
    "  redis.call('PUBLISH', string.sub(KEYS[1], 1, -10) .. 'wake', " due ")\n"                    \
    "end\n"

const cf_redis_script cf_script_reschedule = {
    "reschedule", "local n = redis.call('LREM', KEYS[2], 1, ARGV[1])\n"
                  "if n > 0 then\n"
                  "  redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])\n" WAKE_IF_EARLIEST(
                      "ARGV[1]", "ARGV[2]") "end\n"
                                            "return n\n"};

const cf_redis_script cf_script_ack_continue = {
    "ack_continue", "local n = redis.call('LREM', KEYS[2], 1, ARGV[1])\n"
                    "redis.call('ZADD', KEYS[1], 'LT', ARGV[3], ARGV[2])\n" WAKE_IF_EARLIEST(
                        "ARGV[2]", "ARGV[3]") "return n\n"};

const cf_redis_script cf_script_schedule_add = {
    "schedule_add", "local n\n"
                    "if ARGV[1] == '' then\n"
                    "  n = redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])\n"
                    "else\n"
                    "  n = redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2], ARGV[3])\n"
                    "end\n" WAKE_IF_EARLIEST("ARGV[3]", "ARGV[2]") "return n\n"};

/* Due entries go to ready when ready and due are both empty (a fetcher blocked on ready wakes at
 * once) and to due otherwise (ahead of the backlog, behind earlier wakes): decided in the same
 * atomic script as the lists' lengths, which is what keeps an entry from waiting in due while
 * fetchers block on ready (schedule.h). */
const cf_redis_script cf_script_promote = {
    "promote", "local t = redis.call('TIME')\n"
               "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
               "if tonumber(ARGV[1]) > 0 then now = tonumber(ARGV[1]) end\n"
               "if redis.call('EXISTS', KEYS[4]) == 1 then return {0, -1, now} end\n"
               "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, "
               "tonumber(ARGV[2]))\n"
               "if #due > 0 then\n"
               "  if redis.call('LLEN', KEYS[2]) == 0 and redis.call('LLEN', KEYS[3]) == 0 then\n"
               "    redis.call('LPUSH', KEYS[2], unpack(due))\n"
               "  else\n"
               "    redis.call('LPUSH', KEYS[3], unpack(due))\n"
               "  end\n"
               "  redis.call('ZREM', KEYS[1], unpack(due))\n"
               "end\n"
               "local f = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')\n"
               "local nxt = -1\n"
               "if f[2] then nxt = tonumber(f[2]) end\n"
               "return {#due, nxt, now}\n"};

/* A paused queue (KEYS[4], P:{Q}:paused, exists) gives nothing: -1. Otherwise at most ARGV[2]
 * from due first, then ready up to max, then due again up to max: while ready
 * has entries, due gets no more than its cap of a batch (fairness); when it has none, due fills
 * the batch. */
const cf_redis_script cf_script_take = {
    "take", "if redis.call('EXISTS', KEYS[4]) == 1 then return -1 end\n"
            "local max = tonumber(ARGV[1])\n"
            "local cap = tonumber(ARGV[2])\n"
            "local out = {}\n"
            "while #out < cap and #out < max do\n"
            "  local v = redis.call('LMOVE', KEYS[1], KEYS[3], 'RIGHT', 'LEFT')\n"
            "  if not v then break end\n"
            "  out[#out + 1] = v\n"
            "end\n"
            "while #out < max do\n"
            "  local v = redis.call('LMOVE', KEYS[2], KEYS[3], 'RIGHT', 'LEFT')\n"
            "  if not v then break end\n"
            "  out[#out + 1] = v\n"
            "end\n"
            "while #out < max do\n"
            "  local v = redis.call('LMOVE', KEYS[1], KEYS[3], 'RIGHT', 'LEFT')\n"
            "  if not v then break end\n"
            "  out[#out + 1] = v\n"
            "end\n"
            "return out\n"};

const cf_redis_script cf_script_lock_release = {"lock_release",
                                                "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
                                                "  return redis.call('DEL', KEYS[1])\n"
                                                "end\n"
                                                "return 0\n"};

const cf_redis_script cf_script_lock_release_prefix = {
    "lock_release_prefix", "local v = redis.call('GET', KEYS[1])\n"
                           "if v and string.sub(v, 1, #ARGV[1]) == ARGV[1] then\n"
                           "  return redis.call('DEL', KEYS[1])\n"
                           "end\n"
                           "return 0\n"};

const cf_redis_script cf_script_deadletter_push = {
    "deadletter_push", "local n = redis.call('LREM', KEYS[1], 1, ARGV[1])\n"
                       "if n > 0 or ARGV[4] ~= '1' then\n"
                       "  redis.call('LPUSH', KEYS[2], ARGV[2])\n"
                       "  redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)\n"
                       "end\n"
                       "return n\n"};

const cf_redis_script cf_script_deadletter_retry = {
    "deadletter_retry", "local n = redis.call('LREM', KEYS[1], 1, ARGV[1])\n"
                        "if n > 0 then redis.call('LPUSH', KEYS[2], ARGV[2]) end\n"
                        "return n\n"};

const cf_redis_script cf_script_heartbeat = {
    "heartbeat", "local t = redis.call('TIME')\n"
                 "local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
                 "redis.call('ZADD', KEYS[1], ms, ARGV[1])\n"
                 "return ms\n"};

const cf_redis_script cf_script_worker_info = {
    "worker_info", "redis.call('HSET', KEYS[1], unpack(ARGV, 3))\n"
                   "if ARGV[2] == '1' then redis.call('HSET', KEYS[1], 'quiet_request', '1') end\n"
                   "local q = redis.call('HGET', KEYS[1], 'quiet_request')\n"
                   "redis.call('HSET', KEYS[1], 'quiet', q == '1' and '1' or '0')\n"
                   "redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[1]))\n"
                   "return q\n"};

const cf_redis_script cf_script_worker_quiet = {
    "worker_quiet", "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end\n"
                    "redis.call('HSET', KEYS[1], 'quiet_request', ARGV[1])\n"
                    "return 1\n"};

const cf_redis_script cf_script_dead_workers = {
    "dead_workers", "local t = redis.call('TIME')\n"
                    "local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
                    "return redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. (ms - "
                    "tonumber(ARGV[1])), 'LIMIT', 0, tonumber(ARGV[2]))\n"};

const cf_redis_script cf_script_claim_worker = {
    "claim_worker", "local s = redis.call('ZSCORE', KEYS[1], ARGV[1])\n"
                    "if not s then return false end\n"
                    "local t = redis.call('TIME')\n"
                    "local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
                    "if tonumber(s) >= ms - tonumber(ARGV[2]) then return false end\n"
                    "redis.call('ZADD', KEYS[1], ms, ARGV[1])\n"
                    "return tostring(ms)\n"};

const cf_redis_script cf_script_forget_worker = {
    "forget_worker", "local s = redis.call('ZSCORE', KEYS[1], ARGV[1])\n"
                     "if s and tonumber(s) == tonumber(ARGV[2]) then\n"
                     "  return redis.call('ZREM', KEYS[1], ARGV[1])\n"
                     "end\n"
                     "return 0\n"};

const cf_redis_script cf_script_inflight_return = {
    "inflight_return", "local moved = 0\n"
                       "for i = 1, tonumber(ARGV[1]) do\n"
                       "  local v = redis.call('LMOVE', KEYS[1], KEYS[2], 'RIGHT', 'RIGHT')\n"
                       "  if not v then break end\n"
                       "  moved = moved + 1\n"
                       "end\n"
                       "return moved\n"};
