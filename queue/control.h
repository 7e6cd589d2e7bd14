// SPDX-License-Identifier: MIT
/* queue/control.h: control requests in Redis (SPEC §2, "Control requests"): a producer pushes
 * a request on P:{Q}:control and waits on its reply key P:reply:<id>; a worker takes requests
 * reliably (BLMOVE into its own P:{Q}:control:inflight:<worker-id>, which recovery returns to
 * P:{Q}:control when the worker dies, queue/recovery.c), answers on the reply key (with an
 * expiry), then acks (LREM). Also the wake a signal leaves: the workflow's continuation, due
 * now. The bytes of requests and replies: queue/control_request.h. */
#ifndef CF_QUEUE_CONTROL_H
#define CF_QUEUE_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/status.h"
#include "queue/control_request.h"
#include "queue/deadletter.h"
#include "queue/queue.h"

#define CF_CONTROL_REPLY_TTL_MS 60000 /* a reply nobody read expires */

/* cf_control_take takes the oldest request of P:{queue}:control into this worker's in-flight
 * list (q needs a worker id and its own connection), waiting up to block_ms (0: no wait).
 * CF_OK with *raw (owned, cf_free) and *len set; CF_ERR_NOT_FOUND when none came. */
CF_MUST_CHECK cf_status cf_control_take(cf_queue *q, const char *queue, int64_t block_ms,
                                        char **raw, size_t *len);

/* cf_control_ack removes raw from this worker's in-flight list (LREM 1; absent is fine). */
CF_MUST_CHECK cf_status cf_control_ack(cf_queue *q, const char *queue, const void *raw, size_t len);

/* cf_control_putback moves raw from this worker's in-flight list back to the taking end of
 * P:{queue}:control (one script), for a request that could not be applied now (Postgres
 * away): taken again later. */
CF_MUST_CHECK cf_status cf_control_putback(cf_queue *q, const char *queue, const void *raw,
                                           size_t len);

/* cf_control_dead dead-letters raw (P:{queue}:dead, SPEC §2's entry) and acks it. */
CF_MUST_CHECK cf_status cf_control_dead(cf_queue *q, const char *queue, const void *raw, size_t len,
                                        const cf_deadletter_reason *why);

/* cf_control_reply_send pushes the encoded reply r on reply_key and sets its expiry
 * (CF_CONTROL_REPLY_TTL_MS), in one script. */
CF_MUST_CHECK cf_status cf_control_reply_send(cf_queue *q, const char *reply_key,
                                              const cf_control_reply *r);

/* cf_control_push is what a producer does: LPUSH raw on P:{queue}:control. */
CF_MUST_CHECK cf_status cf_control_push(cf_queue *q, const char *queue, const void *raw,
                                        size_t len);

/* cf_control_wait_reply waits up to timeout_ms on P:reply:<request_id> (own connection):
 * CF_OK with *out, CF_ERR_NOT_FOUND when no answer came (pending), CF_ERR_INVALID when the
 * answer does not decode. */
CF_MUST_CHECK cf_status cf_control_wait_reply(cf_queue *q, const char *request_id,
                                              int64_t timeout_ms, cf_control_reply *out);

#endif
