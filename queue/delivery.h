// SPDX-License-Identifier: MIT
/* queue/delivery.h: the end of a delivery in one round trip, in this order: release the run's
 * lock (only if still held by its token), publish envelopes into scheduled sets (the
 * workflow's continuation, a child's first envelope, a parent's wake; any queues), remove
 * pending continuations, and ack the fetched envelope. Each command is idempotent, so the whole
 * call can be repeated after a transient error (docs/retries.md). The pieces exist on their own
 * in lock.h, schedule.h and fetch.h.
 *
 * Hash slots: the commands are single-key, so a Redis Cluster client can route each to its
 * slot. They are built in slot groups, in the order above: the lock key; the worker's held
 * set; per destination queue (first appearance first) P:queues then its {Q} scheduled set for
 * every publish into it (the schedule_add script: ZADD, then PUBLISH P:{Q}:wake when the entry
 * became the set's earliest); per queue the removes from its {Q} scheduled set; the ack on the
 * fetched queue's {Q} in-flight list. Today they go as one pipeline over one connection, which
 * Redis runs in order; a cluster client sends each group to its node, one group after the
 * other. */
#ifndef CF_QUEUE_DELIVERY_H
#define CF_QUEUE_DELIVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "queue/queue.h"

/* One envelope into P:{queue}:scheduled. A workflow's canonical continuation goes with ZADD LT
 * (at most one pending; the earliest due time wins); any other envelope (a child's first one,
 * with kwargs) with ZADD NX (its bytes are fixed before the first attempt, so a repeat after a
 * lost reply adds nothing). */
typedef struct cf_delivery_publish {
    const char *queue;
    const void *member; /* envelope bytes, borrowed */
    size_t member_len;
    int64_t due_unix_ms;
    bool continuation; /* true: ZADD LT; false: ZADD NX */
} cf_delivery_publish;

/* One member out of P:{queue}:scheduled (ZREM): a workflow's pending continuation. */
typedef struct cf_delivery_remove {
    const char *queue;
    const void *member;
    size_t member_len;
} cf_delivery_remove;

#define CF_DELIVERY_MAX_EFFECTS 64 /* publishes + removes of one delivery */

/* cf_delivery_end describes one delivery's end; every pointer is borrowed. */
typedef struct cf_delivery_end {
    const char *queue; /* the queue the envelope was fetched from (its in-flight list) */
    const void *env;   /* the fetched envelope bytes, to ack */
    size_t env_len;
    const char *wf_class, *wf_key; /* the lock to release ... */
    const char *token;             /* ... if its value is still this "<worker-id>/<run-id>" */
    const cf_delivery_publish *publish;
    size_t npublish;
    const cf_delivery_remove *remove;
    size_t nremove;
} cf_delivery_end;

/* cf_delivery_finish runs d in one pipelined round trip on q (which needs a worker id: the
 * in-flight list and P:held set are its worker's). *lock_released (may be NULL) says whether
 * the lock was still held by d->token (false: it had expired or been taken over, or an earlier
 * attempt whose reply was lost released it); *acked (may be NULL) whether the envelope was
 * still in flight. Returns CF_OK, CF_ERR_INVALID for bad names or more than
 * CF_DELIVERY_MAX_EFFECTS effects, CF_ERR_NOMEM, or redis_conn's statuses. */
CF_MUST_CHECK cf_status cf_delivery_finish(cf_queue *q, const cf_delivery_end *d,
                                           bool *lock_released, bool *acked);

#endif
