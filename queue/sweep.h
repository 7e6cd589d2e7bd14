// SPDX-License-Identifier: MIT
/* queue/sweep.h: the Redis side of self-healing (worker/sweeper.c drives it): the fleet-wide
 * pass lease P:sweeper (one healing pass at a time across all workers), the liveness of one
 * worker in P:workers, and P:sweeper:suspects, the locks a pass saw disagreeing with the store,
 * kept between passes so a lock is removed only when a later pass, at least a grace period
 * after the first sighting, finds it unchanged. Single-key commands only (cluster-safe). */
#ifndef CF_QUEUE_SWEEP_H
#define CF_QUEUE_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "queue/queue.h"

/* cf_sweep_claim takes the pass lease P:sweeper for q's worker id for ttl_ms
 * (> 0) with SET NX PX; it is not released: it expires, so the fleet runs at most one pass per
 * ttl_ms. *won says whether this caller got it. */
CF_MUST_CHECK cf_status cf_sweep_claim(cf_queue *q, int64_t ttl_ms, bool *won);

typedef enum cf_worker_liveness {
    CF_WORKER_LIVE,   /* in P:workers, last heartbeat within the lease */
    CF_WORKER_DEAD,   /* in P:workers, silent for longer than the lease */
    CF_WORKER_ABSENT, /* not in P:workers (recovered, gone, or Redis lost the entry) */
} cf_worker_liveness;

/* cf_sweep_worker_liveness reads worker_id's heartbeat score and the server's TIME in one round
 * trip and classifies it against lease_ms. */
CF_MUST_CHECK cf_status cf_sweep_worker_liveness(cf_queue *q, const char *worker_id,
                                                 int64_t lease_ms, cf_worker_liveness *out);

/* cf_sweep_suspect: one lock under watch. lock_id is "<class>/<key>", value the lock value
 * seen, first_seen_ms (Unix ms, the sweeper's clock) when that value was first seen; touched is
 * set by cf_sweep_suspects_note (not stored in Redis). Strings owned. */
typedef struct cf_sweep_suspect {
    char *lock_id;
    char *value;
    int64_t first_seen_ms;
    bool touched;
} cf_sweep_suspect;

typedef struct cf_sweep_suspects {
    cf_sweep_suspect *items;
    size_t n, cap;
} cf_sweep_suspects;

/* cf_sweep_suspects_deinit frees every item (NULL-safe, idempotent; leaves an empty list). */
void cf_sweep_suspects_deinit(cf_sweep_suspects *s);

/* cf_sweep_suspects_load replaces *s with the contents of P:sweeper:suspects (HGETALL).
 * Malformed entries are skipped. */
CF_MUST_CHECK cf_status cf_sweep_suspects_load(cf_queue *q, cf_sweep_suspects *s);

/* cf_sweep_suspects_save replaces P:sweeper:suspects with *s (borrowed) and makes it expire
 * after ttl_ms, atomically (MULTI: DEL, HSET, PEXPIRE); an empty list just deletes the key. */
CF_MUST_CHECK cf_status cf_sweep_suspects_save(cf_queue *q, const cf_sweep_suspects *s,
                                               int64_t ttl_ms);

/* cf_sweep_suspects_note records that lock_id holds value now (Unix ms): an entry with the same
 * value keeps its first sighting, any other entry is replaced. Returns the entry's
 * first_seen_ms, or -1 when out of memory (nothing recorded). Arguments are copied. */
int64_t cf_sweep_suspects_note(cf_sweep_suspects *s, const char *lock_id, const char *value,
                               int64_t now_ms);

/* cf_sweep_suspects_drop removes lock_id's entry, if any. */
void cf_sweep_suspects_drop(cf_sweep_suspects *s, const char *lock_id);

/* cf_sweep_suspects_expire removes entries not touched since they were loaded and first seen
 * before oldest_ms (locks no pass has looked at for long: their workflow moved on). */
void cf_sweep_suspects_expire(cf_sweep_suspects *s, int64_t oldest_ms);

#endif
