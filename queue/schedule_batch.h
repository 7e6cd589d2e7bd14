// SPDX-License-Identifier: MIT
/* queue/schedule_batch.h: many workflows' continuations published in one round trip (a branch's
 * children, engine/branch.c), with cf_continuation_publish's meaning for each. */
#ifndef CF_QUEUE_SCHEDULE_BATCH_H
#define CF_QUEUE_SCHEDULE_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "queue/queue.h"

/* Members per pipeline (a larger n is sent in several). */
#define CF_CONTINUATIONS_BATCH 500

/* cf_continuations_publish does cf_continuation_publish (queue/schedule.h) for members[0..n)
 * (borrowed canonical continuation envelopes, lens[i] bytes each) of queue, all due at
 * due_unix_ms: each is added to P:{queue}:scheduled if absent, or its due time lowered (never
 * raised), the queue recorded in P:queues, and a wake published when an entry becomes the
 * earliest. One pipelined round trip per CF_CONTINUATIONS_BATCH members. Not atomic: after a
 * transport error some may be in (publishing again is harmless: ZADD LT). */
CF_MUST_CHECK cf_status cf_continuations_publish(cf_queue *q, const char *queue,
                                                 const void *const *members, const size_t *lens,
                                                 size_t n, int64_t due_unix_ms);

#endif
