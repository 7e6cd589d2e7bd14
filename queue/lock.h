// SPDX-License-Identifier: MIT
/* queue/lock.h: the per-workflow execution lock P:lock:<class>/<key> (SET NX PX, value
 * "<worker-id>/<run-id>"), released only by its holder (compare-and-delete Lua), plus the set
 * P:held:<worker-id> of lock keys a worker holds, kept in the same round trips, so recovery can
 * free a dead worker's locks without scanning. Only single-key commands and scripts
 * (cluster-safe). The Postgres fence, not this lock, is what finally refuses a stale writer. */
#ifndef CF_QUEUE_LOCK_H
#define CF_QUEUE_LOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "queue/queue.h"

/* cf_lock_holder describes a lock as read from Redis. */
typedef struct cf_lock_holder {
    char value[512]; /* "<worker-id>/<run-id>", truncated to fit; "" when free */
    int64_t pttl_ms; /* remaining time; -1 no expiry, -2 no such lock */
    bool crashed;    /* cf_lock_acquire: taken over from a crash tombstone (below) */
} cf_lock_holder;

/* A crash tombstone: the value recovery (queue/recovery.c) leaves at a dead worker's lock key,
 * "!crashed/<dead-worker-id>", for a few leases, instead of deleting it. The run that died may
 * have been in its lazy window (docs/healing.md), which Postgres never saw; the next acquirer
 * takes the lock over from the tombstone and is told so (holder->crashed), and its run takes
 * the durable begin and counts the crash. A worker of a release without tombstones sees a
 * foreign holder: busy, retried until the tombstone expires. */
#define CF_LOCK_TOMBSTONE_PREFIX "!crashed/"

/* cf_lock_is_tombstone: value is a crash tombstone. */
bool cf_lock_is_tombstone(const char *value);

/* cf_lock_acquire takes the lock of wf_class/wf_key for token ("<worker-id>/<run-id>", see
 * cf_lock_token_make; its worker-id part must equal q's worker id) for ttl_ms (> 0), and records
 * it in P:held:<worker-id>, in one round trip (SADD, SET NX PX GET, PTTL). Returns CF_OK when
 * taken, or when the lock already holds token (a retry after a lost reply: the first attempt
 * took it, and its TTL counts from then; also when the lock held a crash tombstone, which is
 * then taken over by compare-and-set and holder->crashed set), CF_ERR_BUSY when someone else
 * holds it (then *holder,
 * which may be NULL, gets the holder and its remaining time, and the stray P:held entry is
 * removed unless this worker holds the lock under another run), CF_ERR_INVALID for bad
 * arguments. */
CF_MUST_CHECK cf_status cf_lock_acquire(cf_queue *q, const char *wf_class, const char *wf_key,
                                        const char *token, int64_t ttl_ms, cf_lock_holder *holder);

/* cf_lock_release deletes the lock only if its value is token (Lua compare-and-delete) and
 * removes it from the P:held set of the token's worker (the part before its last '/'; any
 * worker's: the sweeper frees stale locks of others, so q needs no worker id), in one round
 * trip. CF_OK when deleted; CF_ERR_CONFLICT
 * when the lock is held by another token or has expired (nothing deleted). */
CF_MUST_CHECK cf_status cf_lock_release(cf_queue *q, const char *wf_class, const char *wf_key,
                                        const char *token);

/* cf_lock_set_ttl sets the remaining time of the lock of wf_class/wf_key to ttl_ms (> 0) only
 * if its value is still token (Lua compare-and-PEXPIRE, one round trip): a run that learns its
 * workflow's stored max_duration after taking the lock gives the lock that lifetime. CF_OK when
 * set; CF_ERR_CONFLICT when the lock is held by another token or has expired (nothing
 * changed); CF_ERR_INVALID for bad arguments. Idempotent, so safe to retry. */
CF_MUST_CHECK cf_status cf_lock_set_ttl(cf_queue *q, const char *wf_class, const char *wf_key,
                                        const char *token, int64_t ttl_ms);

/* cf_lock_inspect reads the holder's value and remaining time (GET + PTTL, one round trip).
 * CF_ERR_NOT_FOUND when the lock is free (holder->value "" and pttl_ms -2). */
CF_MUST_CHECK cf_status cf_lock_inspect(cf_queue *q, const char *wf_class, const char *wf_key,
                                        cf_lock_holder *holder);

#endif
