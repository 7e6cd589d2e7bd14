// SPDX-License-Identifier: MIT
/* worker/executor.h: handles one delivery from fetch to ack (docs/replay.md):
 * decode (refusals to dead letters) → class lookup (unknown: put back with backoff) → Redis lock
 * (busy: a first delivery stores its workflow, then becomes its continuation) → Postgres begin
 * (fence; a continuation never creates) → replay the workflow → complete / halt / stall / fail
 * → release the lock → the pass's effects (publishes, removes) → ack. Every Redis call retried
 * after an unknown outcome is idempotent (docs/retries.md).
 * One executor per thread: it owns that thread's Redis connection; the store is shared. */
#ifndef CF_WORKER_EXECUTOR_H
#define CF_WORKER_EXECUTOR_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "queue/queue.h"
#include "store/store.h"
#include "worker/active.h"
#include "worker/config.h"

/* Counters of a worker process (all executors add to them). */
typedef struct cf_worker_stats {
    _Atomic int64_t deliveries, completed, halted, stalled, failed, busy, dead_lettered,
        unknown_class, not_executable, conflicts, store_errors, redis_errors, cancelled;
} cf_worker_stats;

typedef struct cf_executor {
    const cf_config *cfg;
    const char *worker_id;
    cf_queue *queue; /* this executor's queue handle, with worker_id (owned by the caller) */
    cf_store *store; /* shared */
    const atomic_bool *stopping;
    cf_worker_stats *stats;
    int consecutive_errors; /* for backoff of infrastructure errors */
    cf_active *active;      /* may be NULL: where this executor records its lock token */
    int slot;
} cf_executor;

/* cf_executor_handle processes the envelope raw[0..len) taken from queue into this worker's
 * in-flight list. It always ends with the envelope acked, dead-lettered or put back, except when
 * Redis stays unreachable until *stopping: then the envelope stays in flight and is recovered
 * by another worker once this one's lease expires. Never fails; logs what happened. */
void cf_executor_handle(cf_executor *ex, const char *queue, const char *raw, size_t len);

#endif
