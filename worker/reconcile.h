// SPDX-License-Identifier: MIT
/* worker/reconcile.h: keeps Redis's record of what this worker holds (its in-flight lists and
 * P:held set) equal to what its executors really hold (worker/active.h). After Redis lost its
 * last writes (a restart from an older AOF, a failover), acked envelopes reappear in the
 * worker's in-flight lists and released locks come back; recovery only looks at dead workers,
 * so without this they would sit there until the worker exits. An entry is acted on only when
 * it was already stale at an earlier pass at least min_age_ms before, so an envelope just
 * fetched or a lock just taken (recorded a moment later) is never touched. */
#ifndef CF_WORKER_RECONCILE_H
#define CF_WORKER_RECONCILE_H

#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "queue/queue.h"
#include "worker/active.h"

typedef struct cf_reconciler cf_reconciler;

typedef struct cf_reconcile_stats {
    int64_t requeued;     /* stale in-flight envelopes put back on ready */
    int64_t locks_freed;  /* stale locks of this worker deleted */
    int64_t held_dropped; /* P:held entries for locks gone or held by others */
} cf_reconcile_stats;

cf_reconciler *cf_reconciler_new(void); /* NULL on OOM */
void cf_reconciler_free(cf_reconciler *rc);

/* cf_reconcile_pass runs one pass over queues[0..nqueues) for q's worker id. *stats (may be NULL)
 * is zeroed and filled. Returns Redis errors (the next pass tries again). */
CF_MUST_CHECK cf_status cf_reconcile_pass(cf_reconciler *rc, cf_queue *q, const char *const *queues,
                                          size_t nqueues, cf_active *active, int64_t min_age_ms,
                                          cf_reconcile_stats *stats);

#endif
