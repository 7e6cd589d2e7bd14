// SPDX-License-Identifier: MIT
/* queue/queue_internal.h: the queue handle's layout and the two helpers every queue/ call
 * begins and fails with; private to queue/. */
#ifndef CF_QUEUE_QUEUE_INTERNAL_H
#define CF_QUEUE_QUEUE_INTERNAL_H

#include <stdbool.h>

#include "queue/keys.h"
#include "queue/queue.h"

struct cf_queue {
    cf_redis *redis; /* owned */
    char prefix[CF_PREFIX_MAX + 1];
    char worker_id[CF_WORKER_ID_MAX]; /* "" when none */
    char errstr[256];                 /* the queue layer's own message; "": the connection's */
};

/* cf_queue_begin starts a call on q: clears q's message, then checks queue (NULL: none to
 * check) and, when need_worker, that q has a worker id. CF_ERR_INVALID with the message set
 * when not. */
CF_MUST_CHECK cf_status cf_queue_begin(cf_queue *q, const char *queue, bool need_worker);

/* cf_queue_fail sets q's message and returns st. */
cf_status cf_queue_fail(cf_queue *q, cf_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* cf_queue_worker returns q's worker id or NULL when it has none. */
const char *cf_queue_worker(const cf_queue *q);

#endif
