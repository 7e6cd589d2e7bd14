// SPDX-License-Identifier: MIT
/* worker/delivery_end.h: turns the effects a pass left (engine/effects.h) into the publishes
 * and removes of its delivery's end (queue/delivery.h): every envelope is encoded once, before
 * the first attempt, so a repeat after a lost reply sends the same bytes. */
#ifndef CF_WORKER_DELIVERY_END_H
#define CF_WORKER_DELIVERY_END_H

#include <stddef.h>

#include "common/buf.h"
#include "engine/effects.h"
#include "queue/delivery.h"
#include "queue/queue.h"

typedef struct cf_delivery_effects {
    cf_delivery_publish publish[CF_DELIVERY_MAX_EFFECTS];
    cf_delivery_remove remove[CF_DELIVERY_MAX_EFFECTS];
    size_t npublish, nremove;
    cf_buf members[CF_DELIVERY_MAX_EFFECTS]; /* the encoded envelopes (owned) */
    size_t nmembers;
} cf_delivery_effects;

/* cf_delivery_effects_build encodes fx (borrowed) into *out (overwritten; deinit it whatever
 * the result). An effect without a queue goes to default_queue. CF_ERR_INVALID for more than
 * CF_DELIVERY_MAX_EFFECTS effects or an envelope the codec refuses; CF_ERR_NOMEM. */
CF_MUST_CHECK cf_status cf_delivery_effects_build(const cf_effects *fx, const char *default_queue,
                                                  cf_delivery_effects *out);

void cf_delivery_effects_deinit(cf_delivery_effects *d);

/* cf_effects_enqueue publishes the PUBLISH effects of fx (children's first envelopes, engine/
 * branch.c) at once, in pipelined round trips of at most 1000 (queue/enqueue.h): due now onto
 * the ready list, later into the scheduled set. An effect without a queue goes to
 * default_queue. At-least-once: a transport error may leave part of them written (a duplicate
 * first envelope of an existing workflow is a plain wake). */
CF_MUST_CHECK cf_status cf_effects_enqueue(cf_queue *q, const cf_effects *fx,
                                           const char *default_queue);

#endif
