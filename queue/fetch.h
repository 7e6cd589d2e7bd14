// SPDX-License-Identifier: MIT
/* queue/fetch.h: reliable fetch. Moves envelopes from P:{Q}:due (promoted wakes, ahead of the
 * backlog) or P:{Q}:ready into this worker's P:{Q}:inflight:<worker-id> (a take script over the
 * queues in priority order, then a short BLMOVE on ready when all are empty), and later acks it
 * (LREM), puts it back to ready, or moves it to the scheduled set, the last two atomically in Lua.
 * Recovering the lists of dead workers is recovery.h's job. */
#ifndef CF_QUEUE_FETCH_H
#define CF_QUEUE_FETCH_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "queue/queue.h"

/* cf_fetched is one taken envelope. data is owned (free with cf_fetched_deinit or cf_free);
 * queue_index is the index into the queues array passed to cf_fetch. */
typedef struct cf_fetched {
    char *data;
    size_t len;
    size_t queue_index;
} cf_fetched;

/* cf_fetched_deinit frees data and zeroes *f (NULL-safe). */
void cf_fetched_deinit(cf_fetched *f);

/* cf_fetch takes one envelope from the first non-empty queue of queues[0..nqueues) (highest
 * priority first) into the worker's in-flight list, from P:{Q}:due before P:{Q}:ready (every
 * fourth take of a thread looks at ready first: the fairness bound of cf_fetch_take for one
 * envelope). When all are empty it blocks with BLMOVE
 * (slices of at most 500 ms, 100 ms with several queues, rotating over them) for up to
 * wait_ms in total, looking at *stop (may be NULL) between slices, so a shutdown is seen
 * within a second. Returns CF_OK with *out filled, CF_ERR_NOT_FOUND when nothing came within
 * wait_ms or *stop became true, CF_ERR_INVALID for bad names, or redis_conn's statuses. The
 * connection's read timeout is raised for the blocking slices (cf_redis_exec_blocking). */
CF_MUST_CHECK cf_status cf_fetch(cf_queue *q, const char *const *queues, size_t nqueues,
                                 int64_t wait_ms, const atomic_bool *stop, cf_fetched *out);

/* cf_fetch_take takes up to max (1..CF_FETCH_TAKE_MAX) envelopes without blocking, queue by
 * queue in priority order, one script per queue: from P:{Q}:due (promoted wakes) first, but at
 * most CF_FETCH_DUE_CAP(max) of them while P:{Q}:ready has entries, then from ready, then due
 * again to fill the batch. out[0..*n) receives them (owned; queue_index set); *n may be 0.
 * After a Redis error the envelopes already taken are returned with CF_OK. */
#define CF_FETCH_TAKE_MAX     256
#define CF_FETCH_DUE_CAP(max) (((max)*3 + 3) / 4) /* ceil(3 max / 4) */
CF_MUST_CHECK cf_status cf_fetch_take(cf_queue *q, const char *const *queues, size_t nqueues,
                                      size_t max, cf_fetched *out, size_t *n);

/* cf_fetch_ack removes one copy of env from the worker's in-flight list of queue (LREM 1).
 * CF_ERR_NOT_FOUND when it was not there (e.g. recovered by another worker after this one was
 * presumed dead). */
CF_MUST_CHECK cf_status cf_fetch_ack(cf_queue *q, const char *queue, const void *env, size_t len);

/* cf_fetch_requeue atomically removes env from the in-flight list and LPUSHes it back onto
 * P:{queue}:ready (Lua). CF_ERR_NOT_FOUND (and nothing pushed) when it was not in flight. */
CF_MUST_CHECK cf_status cf_fetch_requeue(cf_queue *q, const char *queue, const void *env,
                                         size_t len);

/* cf_fetch_reschedule atomically removes env from the in-flight list and adds it to
 * P:{queue}:scheduled with score due_unix_ms (plain ZADD; for unknown classes' delayed
 * put-back). CF_ERR_NOT_FOUND (and nothing added) when it was not in flight. */
CF_MUST_CHECK cf_status cf_fetch_reschedule(cf_queue *q, const char *queue, const void *env,
                                            size_t len, int64_t due_unix_ms);

/* cf_fetch_ack_and_continue atomically removes env from the in-flight list and publishes
 * member (a workflow's canonical continuation, borrowed) into P:{queue}:scheduled with ZADD LT
 * semantics (schedule.h): for busy redelivery. The member is published even when env was not
 * in flight (a lost wake-up is worse than a spare one); returns CF_ERR_NOT_FOUND then. */
CF_MUST_CHECK cf_status cf_fetch_ack_and_continue(cf_queue *q, const char *queue, const void *env,
                                                  size_t len, const void *member, size_t member_len,
                                                  int64_t due_unix_ms);

/* cf_fetch_inflight_count returns LLEN of worker_id's in-flight list of queue (any worker's, for
 * stats; NULL: q's own). */
CF_MUST_CHECK cf_status cf_fetch_inflight_count(cf_queue *q, const char *worker_id,
                                                const char *queue, int64_t *out);

#endif
