// SPDX-License-Identifier: MIT
/* queue/recovery.h: recovery of dead workers (silent in P:workers for longer than the lease):
 * their in-flight envelopes go back to ready and their locks are freed, each dead worker
 * exactly once even when several live workers recover at the same time, and a recoverer that
 * dies half-way leaves the dead worker recoverable by someone else. The design is explained at
 * the top of queue/recovery.c. */
#ifndef CF_QUEUE_RECOVERY_H
#define CF_QUEUE_RECOVERY_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "queue/queue.h"

/* How many leases a crash tombstone lives: long enough for the recovered envelope (at the
 * front of ready) to be taken again, short enough not to delay a workflow nobody redelivers. */
#define CF_RECOVERY_TOMBSTONE_LEASES 3

/* cf_recovery_stats adds up what a pass did. */
typedef struct cf_recovery_stats {
    int64_t workers;       /* dead workers this caller claimed and finished */
    int64_t envelopes;     /* in-flight envelopes moved back to ready */
    int64_t locks;         /* locks freed (still held by the dead worker): tombstoned */
    int64_t skipped_locks; /* lock keys in P:held whose lock is free or held by someone else */
} cf_recovery_stats;

/* cf_recovery_run finds workers whose last heartbeat is older than lease_ms by the server's
 * clock, claims each one atomically (only one caller wins a given worker), and recovers it:
 * replaces its locks whose value still starts with "<dead-id>/" by a crash tombstone
 * (queue/lock.h) living CF_RECOVERY_TOMBSTONE_LEASES * lease_ms, moves every envelope of
 * P:{Q}:inflight:<dead-id> (for every Q in P:queues) back to the front of P:{Q}:ready, deletes
 * P:held:<dead-id> and removes it from P:workers. q's own worker id (if any) is never
 * recovered. A claim lasts lease_ms: if this caller dies half-way, another one recovers the
 * rest after that. *stats (may be NULL) is zeroed and filled. Stops at the first Redis error
 * (what was done stays done; the rest is recovered by a later pass). */
CF_MUST_CHECK cf_status cf_recovery_run(cf_queue *q, int64_t lease_ms, cf_recovery_stats *stats);

/* cf_recovery_leave is the worker's own recovery (q's worker id) when it leaves gracefully, called
 * after its executors have stopped and before cf_heartbeat_deregister: it frees the locks in its
 * P:held set still valued "<its id>/..." and moves what is left in its in-flight lists back to the
 * front of ready. Normally there is nothing; after Redis lost acks and releases (a restart from an
 * AOF older than the last writes) there is, and a deregistered worker's lists would otherwise never
 * be recovered. *stats (may be NULL) is zeroed and filled (workers stays 0). */
CF_MUST_CHECK cf_status cf_recovery_leave(cf_queue *q, cf_recovery_stats *stats);

/* cf_recovery_dead_workers lists ids in P:workers older than lease_ms (no claim; for the CLI
 * and tests). *ids is an owned array of *n owned strings: free with cf_recovery_ids_free. */
CF_MUST_CHECK cf_status cf_recovery_dead_workers(cf_queue *q, int64_t lease_ms, char ***ids,
                                                 size_t *n);
void cf_recovery_ids_free(char **ids, size_t n);

/* cf_recovery_live_workers counts workers in P:workers with a heartbeat within lease_ms. */
CF_MUST_CHECK cf_status cf_recovery_live_workers(cf_queue *q, int64_t lease_ms, int64_t *n);

#endif
