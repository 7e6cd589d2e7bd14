// SPDX-License-Identifier: MIT
/* queue/delivery.h: the end of a delivery in one round trip: release the run's lock (only if
 * still held by its token), publish or drop the workflow's continuation, and ack the envelope,
 * pipelined in that order. Each command is idempotent, so the whole call can be repeated after
 * a transient error. The pieces exist on their own in lock.h, schedule.h and fetch.h. */
#ifndef CF_QUEUE_DELIVERY_H
#define CF_QUEUE_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "queue/queue.h"

typedef enum cf_delivery_next {
    CF_DELIVERY_NOTHING,           /* leave the scheduled set alone */
    CF_DELIVERY_CONTINUE_AT,       /* publish the continuation (ZADD LT) due at due_unix_ms */
    CF_DELIVERY_DROP_CONTINUATION, /* the workflow ended: remove any pending continuation */
} cf_delivery_next;

/* cf_delivery_end describes one delivery's end; every pointer is borrowed. */
typedef struct cf_delivery_end {
    const char *queue; /* the queue the envelope was fetched from (its in-flight list) */
    const void *env;   /* the fetched envelope bytes, to ack */
    size_t env_len;
    const char *wf_class, *wf_key; /* the lock to release ... */
    const char *token;             /* ... if its value is still this "<worker-id>/<run-id>" */
    cf_delivery_next next;
    const char *wf_queue; /* the workflow's queue, for its continuation */
    const void *member; /* the canonical continuation envelope (cf_envelope_encode_continuation) */
    size_t member_len;
    int64_t due_unix_ms;
} cf_delivery_end;

/* cf_delivery_finish runs d in one pipelined round trip on q (which needs a worker id: the
 * in-flight list and P:held set are its worker's). *lock_released (may be NULL) says
 * whether the lock was still held by d->token (false: it had expired or been taken over);
 * *acked (may be NULL) whether the envelope was still in flight (false: recovered by another
 * worker meanwhile). Returns CF_OK, CF_ERR_INVALID for bad names, or redis_conn's statuses. */
CF_MUST_CHECK cf_status cf_delivery_finish(cf_queue *q, const cf_delivery_end *d,
                                           bool *lock_released, bool *acked);

#endif
