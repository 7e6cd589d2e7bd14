// SPDX-License-Identifier: MIT
/* queue/queue_internal.h: the queue handle's layout and the two helpers every queue/ call
 * begins and fails with; private to queue/. */
#ifndef CF_QUEUE_QUEUE_INTERNAL_H
#define CF_QUEUE_QUEUE_INTERNAL_H

#include <stdbool.h>

#include "queue/argv.h"
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

/* cf_queue_exec, cf_queue_exec_blocking and cf_queue_pipeline run builders on q's connection
 * (queue/argv.h's rules); a builder that is bad (a key or argument did not fit) fails with
 * CF_ERR_INVALID and a message on q, without I/O. */
CF_MUST_CHECK cf_status cf_queue_exec(cf_queue *q, const cf_argv *a, cf_reply **out);
CF_MUST_CHECK cf_status cf_queue_exec_blocking(cf_queue *q, int64_t block_ms, const cf_argv *a,
                                               cf_reply **out);
CF_MUST_CHECK cf_status cf_queue_pipeline(cf_queue *q, const cf_argv *cmds, size_t n,
                                          cf_reply **replies);

/* cf_queue_worker returns q's worker id or NULL when it has none. */
const char *cf_queue_worker(const cf_queue *q);

#endif
