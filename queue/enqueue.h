// SPDX-License-Identifier: MIT
/* queue/enqueue.h: producing jobs as SPEC §2 describes (SADD P:queues Q + LPUSH P:{Q}:ready,
 * or ZADD P:{Q}:scheduled due), one at a time or pipelined in one round trip, and registering
 * the queues a worker listens on. Envelopes are opaque bytes here. */
#ifndef CF_QUEUE_ENQUEUE_H
#define CF_QUEUE_ENQUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "queue/queue.h"

/* cf_enqueue_item is one job of a batch; all pointers borrowed. due_unix_ms <= 0 means now
 * (ready list); > 0 puts it in the scheduled set with that due time. */
typedef struct cf_enqueue_item {
    const char *queue;
    const void *env;
    size_t len;
    int64_t due_unix_ms;
} cf_enqueue_item;

/* cf_enqueue pushes env (borrowed) onto P:{queue}:ready and records the queue in P:queues, in
 * one round trip. CF_ERR_INVALID for a bad queue name or prefix; otherwise redis_conn's
 * statuses. */
CF_MUST_CHECK cf_status cf_enqueue(cf_queue *q, const char *queue, const void *env, size_t len);

/* cf_enqueue_at adds env to P:{queue}:scheduled with score due_unix_ms (and SADD P:queues). */
CF_MUST_CHECK cf_status cf_enqueue_at(cf_queue *q, const char *queue, const void *env, size_t len,
                                      int64_t due_unix_ms);

/* cf_enqueue_batch enqueues n items in one pipelined round trip (one SADD per distinct queue
 * is not deduplicated: SADD is idempotent). Not atomic: on a transport error some items may
 * have been written (at-least-once). */
CF_MUST_CHECK cf_status cf_enqueue_batch(cf_queue *q, const cf_enqueue_item *items, size_t n);

/* cf_queues_register adds the worker's queues to P:queues at start, so that recovery of a
 * dead worker visits every queue it may have taken work from (producers of delayed jobs only
 * ZADD and never SADD). */
CF_MUST_CHECK cf_status cf_queues_register(cf_queue *q, const char *const *queues, size_t n);

/* cf_queue_depths reads the sizes of P:{queue}:ready (plus :due: promoted wakes are ready to be
 * taken too), :scheduled and :dead in one round trip; any out pointer may be NULL. */
CF_MUST_CHECK cf_status cf_queue_depths(cf_queue *q, const char *queue, int64_t *ready,
                                        int64_t *scheduled, int64_t *dead);

#endif
