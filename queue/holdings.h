// SPDX-License-Identifier: MIT
/* queue/holdings.h: what Redis says a live worker holds (its in-flight envelopes and the locks
 * in its P:held set, with their values), and freeing one stale lock of its own. Used by the
 * worker to reconcile Redis with the runs it really has going: after Redis lost its last
 * writes (a restart from an older AOF, a failover), acked envelopes come back into in-flight
 * lists and released locks come back to life, and nobody else would ever free them. */
#ifndef CF_QUEUE_HOLDINGS_H
#define CF_QUEUE_HOLDINGS_H

#include <stddef.h>

#include "common/status.h"
#include "queue/queue.h"

typedef struct cf_held_envelope {
    size_t queue_index; /* into the queues passed to cf_holdings_scan */
    char *env;          /* owned bytes */
    size_t len;
} cf_held_envelope;

typedef struct cf_held_lock {
    char *lock_key; /* owned: P:lock:<class>/<key> */
    char *value;    /* owned: the lock's value; NULL when the lock is gone */
} cf_held_lock;

typedef struct cf_holdings {
    cf_held_envelope *envelopes;
    size_t nenvelopes;
    cf_held_lock *locks;
    size_t nlocks;
} cf_holdings;

/* cf_holdings_scan reads q's worker's in-flight lists of queues[0..nqueues) (at most `max`
 * envelopes each) and its P:held set with each lock's value. *out is owned
 * (cf_holdings_deinit). */
CF_MUST_CHECK cf_status cf_holdings_scan(cf_queue *q, const char *const *queues, size_t nqueues,
                                         size_t max, cf_holdings *out);
void cf_holdings_deinit(cf_holdings *h);

/* cf_holdings_free_lock deletes lock_key only while its value is still exactly value (NULL:
 * only drop the P:held entry) and removes it from q's worker's P:held set, in one round trip. */
CF_MUST_CHECK cf_status cf_holdings_free_lock(cf_queue *q, const char *lock_key, const char *value);

#endif
