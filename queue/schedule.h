// SPDX-License-Identifier: MIT
/* queue/schedule.h: the scheduled set P:{Q}:scheduled. Promotion of due envelopes to the ready
 * list in bounded batches (one atomic Lua script per queue, so many promoters at once never
 * promote an envelope twice or lose one), and workflow continuations: one pending entry per
 * workflow, earliest due time wins (ZADD LT), removed when the workflow ends. */
#ifndef CF_QUEUE_SCHEDULE_H
#define CF_QUEUE_SCHEDULE_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "queue/queue.h"

#define CF_PROMOTE_BATCH_DEFAULT 100
#define CF_PROMOTE_BATCH_MAX     1000

/* cf_schedule_promote moves up to batch (1..CF_PROMOTE_BATCH_MAX; <= 0 means the default)
 * envelopes whose due time is <= now_unix_ms from P:{queue}:scheduled to P:{queue}:ready,
 * earliest first, in one atomic script. now_unix_ms <= 0 uses the Redis server's clock.
 * *moved (may be NULL) receives the count; call again while it equals batch. */
CF_MUST_CHECK cf_status cf_schedule_promote(cf_queue *q, const char *queue, int64_t now_unix_ms,
                                            int batch, int *moved);

/* cf_continuation_publish adds member (borrowed; the codec's canonical per-workflow
 * continuation envelope) to P:{queue}:scheduled due at due_unix_ms if absent, or lowers its due
 * time if the new one is earlier; it never raises it (ZADD LT). *added (may be NULL) says
 * whether a new entry was created. Also SADDs the queue to P:queues (same round trip). */
CF_MUST_CHECK cf_status cf_continuation_publish(cf_queue *q, const char *queue, const void *member,
                                                size_t len, int64_t due_unix_ms, int *added);

/* cf_continuation_remove deletes member from P:{queue}:scheduled (ZREM) when its workflow
 * completes, stalls or fails. *removed (may be NULL) is 1 when it was there. */
CF_MUST_CHECK cf_status cf_continuation_remove(cf_queue *q, const char *queue, const void *member,
                                               size_t len, int *removed);

/* cf_schedule_due_ms reads the score of member in P:{queue}:scheduled: CF_ERR_NOT_FOUND when
 * absent. */
CF_MUST_CHECK cf_status cf_schedule_due_ms(cf_queue *q, const char *queue, const void *member,
                                           size_t len, int64_t *due_unix_ms);

#endif
